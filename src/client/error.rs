//! The client's one error type.
//!
//! It owns the classification of every failure a caller can see: could not connect, lost
//! the connection, timed out, the server said no, the server spoke nonsense, the caller
//! asked for something the protocol cannot carry. It never decides what to retry; callers
//! do, and [`Error::is_retryable`] tells them which failures left the request unapplied or
//! unknown rather than refused.

use std::io;
use std::time::Duration;

use thiserror::Error;

use crate::protocol::ProtocolError;

/// What went wrong with a request.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be opened: the address did not resolve, the TCP connect failed or
    /// took longer than `ClientOptions::connect_timeout` (`source.kind()` is `TimedOut`), or
    /// the handshake could not be exchanged. Nothing was sent.
    #[error("could not connect to {addr}: {source}")]
    Connect {
        /// The address as given to `connect`.
        addr: String,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// The connection broke while the request was queued or in flight. The request may or may
    /// not have been applied. The next request opens a new connection.
    #[error("connection lost: {reason}")]
    ConnectionLost {
        /// Why the connection ended (an I/O error, the server closing it).
        reason: String,
    },
    /// No answer within `ClientOptions::request_timeout`. The request may still be applied;
    /// its late answer is discarded. The connection stays open.
    #[error("request timed out after {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// The server answered with an error reply, e.g. `WRONGTYPE ...`, `ERR value is not an
    /// integer or out of range`, `WRONGPASS ...` (also when a handshake is rejected).
    #[error("{message}")]
    Server {
        /// The error text, code word first, as the server sent it.
        message: String,
    },
    /// The server sent bytes this client cannot understand, or an answer of a shape the
    /// request cannot have. The connection is closed.
    #[error("protocol violation: {message}")]
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The TLS options cannot be used: a file missing, unreadable or not what it should
    /// be, a certificate without its key. Nothing was sent.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A [`Cluster`](super::Cluster) request was redirected (`MOVED`, `ASK`, `TRYAGAIN`)
    /// more times than the client follows, e.g. while nodes disagree about a slot's owner
    /// for longer than the redirects' pauses add up to. The request was not applied by a
    /// node that redirected it; a retry later is safe.
    #[error("too many cluster redirects ({redirects}); the last: {last}")]
    TooManyRedirects {
        /// How many redirects were followed.
        redirects: usize,
        /// The last redirect's text, e.g. `MOVED 3999 127.0.0.1:7002`.
        last: String,
    },
    /// The request was refused before anything was sent: a key or value over the protocol's
    /// size limits, too many operations in a batch, an empty command.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What was wrong with it.
        message: String,
    },
}

impl Error {
    /// The error code word of a [`Error::Server`] error (`ERR`, `WRONGTYPE`, `NOAUTH`...),
    /// if it has one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Server { message } => {
                let code = message.split(' ').next().unwrap_or("");
                let is_code = !code.is_empty()
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                is_code.then_some(code)
            }
            _ => None,
        }
    }

    /// Whether the failure is about the link, not the request: connect failures, a lost
    /// connection and timeouts. Retrying such a request is safe when it is idempotent.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. } | Error::ConnectionLost { .. } | Error::Timeout { .. }
        )
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidInput {
            message: message.into(),
        }
    }

    pub(crate) fn lost(reason: impl Into<String>) -> Error {
        Error::ConnectionLost {
            reason: reason.into(),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::protocol(e.to_string())
    }
}

/// `Result` with the client's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_word() {
        let e = Error::Server {
            message: "WRONGTYPE Operation against a key".into(),
        };
        assert_eq!(e.code(), Some("WRONGTYPE"));
        let e = Error::Server {
            message: "no code here".into(),
        };
        assert_eq!(e.code(), None);
        assert_eq!(Error::lost("x").code(), None);
        assert!(Error::lost("x").is_retryable());
        assert!(!Error::invalid("x").is_retryable());
    }
}

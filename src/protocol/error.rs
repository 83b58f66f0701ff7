//! The protocol layer's one error type.
//!
//! Every variant means the byte stream can no longer be trusted: the caller replies with
//! the error (its `Display` is the Redis error text, code included, without the leading
//! `-`) and then closes the connection. Command-level errors (unknown command, arity,
//! syntax) are not here: they are ordinary `Reply::Error` values.

use thiserror::Error;

/// A malformed or over-limit request, reply or frame.
///
/// `Display` gives the text to send as a Redis error reply, e.g.
/// `ERR Protocol error: invalid bulk length`. After any of these the stream cannot be
/// resynchronised: reply, then close the connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A bulk length that is not a number, is negative where a value is required, or is over
    /// `Limits::max_bulk_len`.
    #[error("ERR Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An array (multibulk) length that is not a number or is over `Limits::max_array_len`.
    #[error("ERR Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A request array element that is not a bulk string.
    #[error("ERR Protocol error: expected '$', got '{}'", show_byte(*got))]
    ExpectedBulk {
        /// The byte found where `$` was expected.
        got: u8,
    },
    /// An inline command line longer than `Limits::max_inline_len`.
    #[error("ERR Protocol error: too big inline request")]
    InlineTooBig,
    /// An array length line (`*...`) longer than `Limits::max_inline_len`.
    #[error("ERR Protocol error: too big mbulk count string")]
    MultibulkCountTooBig,
    /// A bulk length line (`$...`) longer than `Limits::max_inline_len`.
    #[error("ERR Protocol error: too big bulk count string")]
    BulkCountTooBig,
    /// An inline command with an unterminated quote, or a closing quote not followed by a
    /// space or the end of the line.
    #[error("ERR Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A bulk string whose payload is not followed by `\r\n`.
    #[error("ERR Protocol error: expected '\\r\\n' after bulk data")]
    ExpectedCrlf,
    /// A reply starting with a byte that is no RESP2/RESP3 type.
    #[error("ERR Protocol error: invalid reply type '{}'", show_byte(*got))]
    InvalidReplyType {
        /// The unknown type byte.
        got: u8,
    },
    /// A reply or frame field whose content is malformed (a bad integer, double, boolean,
    /// verbatim header, value tag, handshake byte, trailing bytes...).
    #[error("ERR Protocol error: invalid {what}")]
    Invalid {
        /// Which field was malformed.
        what: &'static str,
    },
    /// Aggregates nested deeper than `Limits::max_depth`.
    #[error("ERR Protocol error: nesting deeper than {max}")]
    TooDeep {
        /// The limit that was crossed.
        max: usize,
    },
    /// A native binary frame whose length field is over `Limits::max_frame_len`.
    #[error("ERR Protocol error: frame of {len} bytes over the limit of {max}")]
    FrameTooBig {
        /// The length the frame header claimed.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A native binary frame with an opcode this side does not know (or that is not valid
    /// in this direction).
    #[error("ERR Protocol error: unknown opcode 0x{opcode:02x}")]
    UnknownOpcode {
        /// The opcode received.
        opcode: u8,
    },
    /// A native binary frame body that ends before the fields it announces.
    #[error("ERR Protocol error: truncated {what}")]
    Truncated {
        /// What was being read when the body ran out.
        what: &'static str,
    },
}

/// Redis prints the offending byte as a character; non-printable bytes are escaped here
/// so the error line itself stays printable.
fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() || b == b' ' {
        (b as char).to_string()
    } else {
        format!("\\x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_wording() {
        let cases: &[(ProtocolError, &str)] = &[
            (
                ProtocolError::InvalidBulkLength,
                "ERR Protocol error: invalid bulk length",
            ),
            (
                ProtocolError::InvalidMultibulkLength,
                "ERR Protocol error: invalid multibulk length",
            ),
            (
                ProtocolError::ExpectedBulk { got: b'x' },
                "ERR Protocol error: expected '$', got 'x'",
            ),
            (
                ProtocolError::ExpectedBulk { got: 0 },
                "ERR Protocol error: expected '$', got '\\x00'",
            ),
            (
                ProtocolError::InlineTooBig,
                "ERR Protocol error: too big inline request",
            ),
            (
                ProtocolError::MultibulkCountTooBig,
                "ERR Protocol error: too big mbulk count string",
            ),
            (
                ProtocolError::BulkCountTooBig,
                "ERR Protocol error: too big bulk count string",
            ),
            (
                ProtocolError::UnbalancedQuotes,
                "ERR Protocol error: unbalanced quotes in request",
            ),
            (
                ProtocolError::UnknownOpcode { opcode: 0xfe },
                "ERR Protocol error: unknown opcode 0xfe",
            ),
            (
                ProtocolError::FrameTooBig { len: 10, max: 5 },
                "ERR Protocol error: frame of 10 bytes over the limit of 5",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), *text);
        }
    }
}

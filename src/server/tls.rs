//! The server's side of TLS: the acceptor built from `tls-cert-file`, `tls-key-file`,
//! `tls-ca-cert-file` and `tls-auth-clients`, and the handshake, bounded by a timeout so a
//! client that stalls mid-handshake gives its slot back.
//!
//! Everything after the handshake is the connection's: a TLS stream runs the same loop,
//! protocol detection included, as a plaintext one.

use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::config::{Config, TlsAuthClients};
use crate::tls::{self, TlsError};

/// Accepts TLS connections with the configured certificate and client-certificate rule.
#[derive(Clone)]
pub(crate) struct Acceptor {
    inner: TlsAcceptor,
    timeout: Duration,
}

impl Acceptor {
    /// The acceptor `config` asks for: `None` without `tls-port`. Every file is read here,
    /// at start, so a missing, unreadable or mismatched one stops the server with one line.
    pub(crate) fn new(config: &Config) -> Result<Option<Acceptor>, TlsError> {
        if config.tls_port.is_none() {
            return Ok(None);
        }
        let missing = |what: &'static str| TlsError::Config {
            what: "server TLS",
            reason: format!("tls-port is set but {what} is not"),
        };
        let cert = config
            .tls_cert_file
            .as_deref()
            .ok_or_else(|| missing("tls-cert-file"))?;
        let key = config
            .tls_key_file
            .as_deref()
            .ok_or_else(|| missing("tls-key-file"))?;
        let rustls = |e: rustls::Error| TlsError::Config {
            what: "server TLS",
            reason: e.to_string(),
        };
        let provider = tls::provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(rustls)?;
        let builder = match config.tls_auth_clients {
            TlsAuthClients::No => builder.with_no_client_auth(),
            auth => {
                // As Redis: client certificates need a CA to check them against.
                let ca = config
                    .tls_ca_cert_file
                    .as_deref()
                    .ok_or_else(|| TlsError::Config {
                        what: "server TLS",
                        reason: "tls-auth-clients needs tls-ca-cert-file (or tls-auth-clients no)"
                            .into(),
                    })?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(tls::roots(ca)?, provider);
                let verifier = if auth == TlsAuthClients::Optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier.build().map_err(|e| TlsError::Config {
                    what: "server TLS",
                    reason: e.to_string(),
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let server = builder
            .with_single_cert(tls::certificates(cert)?, tls::private_key(key)?)
            .map_err(|e| TlsError::Config {
                what: "server TLS",
                reason: format!(
                    "{} and {} do not go together: {e}",
                    cert.display(),
                    key.display()
                ),
            })?;
        Ok(Some(Acceptor {
            inner: TlsAcceptor::from(Arc::new(server)),
            timeout: Duration::from_millis(config.tls_handshake_timeout_ms),
        }))
    }

    /// The TLS handshake on an accepted connection, or why it failed (a plaintext client,
    /// a certificate refused, garbage, or no handshake within the timeout).
    pub(crate) async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        match tokio::time::timeout(self.timeout, self.inner.accept(stream)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no handshake within {:?}", self.timeout)),
        }
    }
}

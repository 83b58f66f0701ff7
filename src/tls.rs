//! TLS material both ends read: certificate chains, private keys and CA roots from PEM
//! files, with errors that name the file and say what is wrong with it.
//!
//! The server builds its acceptor from these (`server::tls`); the client library, cairn-cli
//! and cairn-bench build their client configuration with [`client_config`] from
//! [`TlsOptions`]. This module knows files and rustls types, nothing of sockets; the crypto
//! provider is rustls's ring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A TLS file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read, or holds nothing of what it should.
    #[error("cannot read the {what} from {}: {reason}", path.display())]
    File {
        /// What the file should hold (`certificate`, `private key`, `CA certificates`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why not (the I/O error, a PEM syntax error, or no such item in it).
        reason: String,
    },
    /// The files load, but rustls refuses them together (a key that does not match the
    /// certificate, a CA that is not a certificate authority, ...).
    #[error("{what}: {reason}")]
    Config {
        /// Which configuration (`server TLS`, `client TLS`).
        what: &'static str,
        /// What rustls said.
        reason: String,
    },
}

impl TlsError {
    fn file(what: &'static str, path: &Path, reason: &dyn std::fmt::Display) -> TlsError {
        TlsError::File {
            what,
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// The certificate chain in `path`, leaf first.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let what = "certificate";
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError::file(what, path, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(what, path, &e))?;
    if certs.is_empty() {
        return Err(TlsError::file(what, path, &"no CERTIFICATE section"));
    }
    Ok(certs)
}

/// The private key in `path` (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::file("private key", path, &e))
}

/// The CA certificates in `path`, as the roots a peer's certificate must chain to.
pub fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let what = "CA certificates";
    let mut roots = RootCertStore::empty();
    for cert in certificates(path).map_err(|e| match e {
        TlsError::File { path, reason, .. } => TlsError::File { what, path, reason },
        other => other,
    })? {
        roots
            .add(cert)
            .map_err(|e| TlsError::file(what, path, &e))?;
    }
    Ok(Arc::new(roots))
}

/// rustls's ring provider, the one this crate is built with.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// How a client speaks TLS to a server: the CA its certificate must chain to, the client's
/// own certificate when the server asks for one, and the name to check (and send as SNI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM CA certificates the server's certificate must chain to (redis-cli's `--cacert`).
    pub ca_file: PathBuf,
    /// PEM certificate chain to present (`--cert`); with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file` (`--key`).
    pub key_file: Option<PathBuf>,
    /// The name the server's certificate must carry, and the SNI sent (`--sni`); by default
    /// the host of the address connected to (an IP address is checked as one).
    pub server_name: Option<String>,
}

/// The rustls client configuration `options` describe; every file is read here.
pub fn client_config(options: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let rustls = |e: rustls::Error| TlsError::Config {
        what: "client TLS",
        reason: e.to_string(),
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(rustls)?
        .with_root_certificates(roots(&options.ca_file)?);
    let config = match (&options.cert_file, &options.key_file) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(certificates(cert)?, private_key(key)?)
            .map_err(|e| TlsError::Config {
                what: "client TLS",
                reason: format!(
                    "{} and {} do not go together: {e}",
                    cert.display(),
                    key.display()
                ),
            })?,
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(TlsError::Config {
                what: "client TLS",
                reason: "a client certificate needs its key, and a key its certificate".into(),
            })
        }
    };
    Ok(Arc::new(config))
}

/// The server name to check for a connection to `addr` (`host:port`).
pub fn server_name(options: &TlsOptions, addr: &str) -> Result<ServerName<'static>, TlsError> {
    let host = match &options.server_name {
        Some(name) => name.as_str(),
        None => addr
            .rsplit_once(':')
            .map_or(addr, |(host, _)| host)
            .trim_start_matches('[')
            .trim_end_matches(']'),
    };
    ServerName::try_from(host.to_string()).map_err(|e| TlsError::Config {
        what: "client TLS",
        reason: format!("'{host}' is not a server name: {e}"),
    })
}

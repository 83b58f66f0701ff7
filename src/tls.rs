//! TLS material both ends read: certificate chains, private keys and CA roots from PEM
//! files, with errors that name the file and say what is wrong with it.
//!
//! The server builds its acceptor from these (`server::tls`), the client its connector
//! (`client::tls`). This module knows files and rustls types, nothing of sockets; the
//! crypto provider is rustls's ring.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

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
    fn file(what: &'static str, path: &Path, reason: impl ToString) -> TlsError {
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
        .map_err(|e| TlsError::file(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(what, path, e))?;
    if certs.is_empty() {
        return Err(TlsError::file(what, path, "no CERTIFICATE section"));
    }
    Ok(certs)
}

/// The private key in `path` (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::file("private key", path, e))
}

/// The CA certificates in `path`, as the roots a peer's certificate must chain to.
pub fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let what = "CA certificates";
    let mut roots = RootCertStore::empty();
    for cert in certificates(path).map_err(|e| match e {
        TlsError::File { path, reason, .. } => TlsError::File { what, path, reason },
        other => other,
    })? {
        roots.add(cert).map_err(|e| TlsError::file(what, path, e))?;
    }
    Ok(Arc::new(roots))
}

/// rustls's ring provider, the one this crate is built with.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

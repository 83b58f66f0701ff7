//! Test certificates made at test time with rcgen (never committed keys): a CA, a server
//! certificate for 127.0.0.1 and localhost, client certificates (valid, expired, from
//! another CA), written as PEM files into a temporary directory.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use rcgen::{
    date_time_ymd, BasicConstraints, Certificate, CertificateParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};

/// A certificate authority: its certificate and key.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Ca {
    let key = KeyPair::generate().expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).expect("CA certificate");
    Ca { cert, key }
}

/// Every file a TLS test needs, in one temporary directory.
pub struct Certs {
    pub dir: tempfile::TempDir,
    /// The CA everything valid chains to.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate past its validity.
    pub expired_cert: PathBuf,
    pub expired_key: PathBuf,
    /// A client certificate from another CA.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
    /// That other CA (a server certificate does not chain to it).
    pub other_ca: PathBuf,
}

impl Certs {
    /// Makes them all.
    pub fn generate() -> Certs {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write a PEM file");
            path
        };
        let (ca, other) = (authority("Cairn test CA"), authority("Another CA"));
        let leaf = |issuer: &Ca, name: &str, client: bool, expired: bool| {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
            params
                .subject_alt_names
                .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![if client {
                ExtendedKeyUsagePurpose::ClientAuth
            } else {
                ExtendedKeyUsagePurpose::ServerAuth
            }];
            if expired {
                params.not_before = date_time_ymd(2020, 1, 1);
                params.not_after = date_time_ymd(2021, 1, 1);
            }
            let cert = params
                .signed_by(&key, &issuer.cert, &issuer.key)
                .expect("sign");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(&ca, "cairn-server", false, false);
        let (client_cert, client_key) = leaf(&ca, "client", true, false);
        let (expired_cert, expired_key) = leaf(&ca, "old client", true, true);
        let (stranger_cert, stranger_key) = leaf(&other, "stranger", true, false);
        Certs {
            ca: write("ca.crt", ca.cert.pem()),
            other_ca: write("other-ca.crt", other.cert.pem()),
            server_cert: write("server.crt", server_cert),
            server_key: write("server.key", server_key),
            client_cert: write("client.crt", client_cert),
            client_key: write("client.key", client_key),
            expired_cert: write("expired.crt", expired_cert),
            expired_key: write("expired.key", expired_key),
            stranger_cert: write("stranger.crt", stranger_cert),
            stranger_key: write("stranger.key", stranger_key),
            dir,
        }
    }

    /// The server flags for TLS on a free port, plaintext off, client certificates as
    /// `auth` (yes, optional, no).
    pub fn server_args(&self, auth: &str) -> Vec<String> {
        let path = |p: &PathBuf| p.display().to_string();
        vec![
            "--tls-port".into(),
            "0".into(),
            "--tls-cert-file".into(),
            path(&self.server_cert),
            "--tls-key-file".into(),
            path(&self.server_key),
            "--tls-ca-cert-file".into(),
            path(&self.ca),
            "--tls-auth-clients".into(),
            auth.into(),
        ]
    }
}

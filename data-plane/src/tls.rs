//! TLS for the data plane's listener: the server configuration made from the `[tls]` PEM files
//! (rustls with the ring provider, ALPN `h2` then `http/1.1`). Startup only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsFiles;

/// ALPN protocols offered, in order of preference: HTTP/2, then HTTP/1.1.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why the TLS configuration could not be made; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {}: {}", .0.display(), .1)]
    ReadCertificate(PathBuf, std::io::Error),
    #[error("cannot read the TLS private key file {}: {}", .0.display(), .1)]
    ReadKey(PathBuf, std::io::Error),
    #[error("the TLS certificate file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", .0.display())]
    NoCertificate(PathBuf),
    #[error("the TLS certificate file {} is not valid PEM: {}", .0.display(), .1)]
    BadCertificate(PathBuf, rustls::pki_types::pem::Error),
    #[error("the TLS private key file {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", .0.display())]
    NoKey(PathBuf),
    #[error("the TLS private key file {} is not valid PEM: {}", .0.display(), .1)]
    BadKey(PathBuf, rustls::pki_types::pem::Error),
    #[error("the private key in {} does not match the certificate in {}", .key.display(), .certificate.display())]
    Mismatch { certificate: PathBuf, key: PathBuf },
    #[error("cannot use the certificate in {} with the private key in {}: {}", .certificate.display(), .key.display(), .error)]
    Refused { certificate: PathBuf, key: PathBuf, error: rustls::Error },
}

/// Reads the certificate chain and the private key and makes the server configuration: TLS 1.3
/// and 1.2, no client certificates, ALPN `h2` and `http/1.1`. The key must match the chain's
/// first certificate.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = read_chain(&files.certificate)?;
    let key = read_key(&files.private_key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let refused = |error: rustls::Error| match error {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::Mismatch { certificate: files.certificate.clone(), key: files.private_key.clone() }
        }
        error => TlsError::Refused { certificate: files.certificate.clone(), key: files.private_key.clone(), error },
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(refused)?;
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::ReadCertificate(path.to_owned(), e))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate(path.to_owned(), e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::ReadKey(path.to_owned(), e))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey(path.to_owned()),
        e => TlsError::BadKey(path.to_owned(), e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path, cert: &str, key: &str) -> TlsFiles {
        TlsFiles { certificate: dir.join(cert), private_key: dir.join(key) }
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = server_config(&files(dir.path(), "none.pem", "key.pem")).unwrap_err().to_string();
        assert!(e.contains("certificate file") && e.contains("none.pem"), "{e}");
        std::fs::write(dir.path().join("empty.pem"), "not pem at all\n").unwrap();
        let e = server_config(&files(dir.path(), "empty.pem", "key.pem")).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate") && e.contains("empty.pem"), "{e}");
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        let e = server_config(&files(dir.path(), "cert.pem", "missing-key.pem")).unwrap_err().to_string();
        assert!(e.contains("private key file") && e.contains("missing-key.pem"), "{e}");
        // A certificate given as the key: no key in it.
        let e = server_config(&files(dir.path(), "cert.pem", "cert.pem")).unwrap_err().to_string();
        assert!(e.contains("no PEM private key") && e.contains("cert.pem"), "{e}");
        std::fs::write(dir.path().join("broken.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n").unwrap();
        let e = server_config(&files(dir.path(), "cert.pem", "broken.pem")).unwrap_err().to_string();
        assert!(e.contains("broken.pem"), "{e}");
    }
}

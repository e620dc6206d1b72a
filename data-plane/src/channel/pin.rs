//! Certificate pinning for the catalog channel: the control plane's self-signed certificate is
//! trusted when, and only when, its SHA-256 fingerprint is the one in the node's configuration.
//! Pure: the TLS library calls the verifier during the handshake.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// A pinned fingerprint, written `sha256:` and 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    pub fn of(cert_der: &[u8]) -> Pin {
        Pin(Sha256::digest(cert_der).into())
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Pin {
    type Err = String;

    fn from_str(s: &str) -> Result<Pin, String> {
        let hex = s.trim().strip_prefix("sha256:").ok_or("a pin is written sha256:<64 hex digits>")?;
        if hex.len() != 64 || !hex.is_ascii() {
            return Err("a pin is written sha256:<64 hex digits>".into());
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| "a pin's digits are hexadecimal".to_owned())?;
        }
        Ok(Pin(out))
    }
}

/// Accepts exactly the pinned certificate (name and validity dates do not matter: it is
/// self-signed and identified by its hash), and checks the handshake signatures as usual.
#[derive(Debug)]
pub struct PinVerifier {
    pin: Pin,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl PinVerifier {
    pub fn new(pin: Pin, provider: Arc<rustls::crypto::CryptoProvider>) -> Self {
        PinVerifier { pin, provider }
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Pin::of(end_entity.as_ref());
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the control plane's certificate {got} does not match the pinned {}",
                self.pin
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_and_print_alike() {
        let p = Pin::of(b"certificate");
        let text = p.to_string();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64);
        assert_eq!(text.parse::<Pin>().unwrap(), p);
        for bad in ["", "sha256:", "md5:00", &text[..text.len() - 1], &text.replace("sha256:", "sha1:"), &format!("{}zz", &text[..text.len() - 2])] {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
    }
}

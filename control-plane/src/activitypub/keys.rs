//! The instance's RSA key pair, and checking a remote actor's signature, as PeerTube does it.
//!
//! PeerTube's keys are RSA-2048 with e = 65537; it stores the private key as PKCS#1 PEM
//! (`BEGIN RSA PRIVATE KEY`) and publishes the public key as SPKI PEM (`BEGIN PUBLIC KEY`).
//! Signatures are RSASSA-PKCS1-v1_5 with SHA-256, used both by HTTP Signatures and by
//! RsaSignature2017. PKCS#1 v1.5 is deterministic, so a key signs a message to the same bytes
//! whichever library does it.
//!
//! Key generation and PEM encoding use the pure-Rust `rsa` crate; signing and verification,
//! the hot paths, use `ring`. Everything here is pure except generation's randomness and the
//! blinding randomness `ring` draws when signing.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self, RsaKeyPair, UnparsedPublicKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::der::{Decode, SecretDocument};
use rsa::pkcs8::{DecodePrivateKey, Document, EncodePublicKey, LineEnding, SubjectPublicKeyInfoRef};

#[cfg(test)]
mod tests;

/// Modulus size of the keys we make, as PeerTube's (`PRIVATE_RSA_KEY_SIZE`).
pub const KEY_BITS: usize = 2048;

/// What can go wrong with a key or a signature. Messages are fit for logs and 403 reasons.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("generating an RSA key failed: {0}")]
    Generate(String),
    #[error("the private key PEM is unusable: {0}")]
    PrivatePem(String),
    #[error("a {0:?} PEM is not a private key (RSA PRIVATE KEY or PRIVATE KEY expected)")]
    PrivateLabel(String),
    #[error("the private key cannot sign: {0}")]
    Rejected(String),
    #[error("the public key PEM is unusable: {0}")]
    PublicPem(String),
    #[error("a PKCS#1 public key (BEGIN RSA PUBLIC KEY) is refused: SPKI (BEGIN PUBLIC KEY) is needed")]
    Pkcs1PublicKey,
    #[error("a {0:?} PEM is not a public key (PUBLIC KEY expected)")]
    PublicLabel(String),
    #[error("the public key is not an RSA key")]
    NotRsa,
    #[error("the signature does not verify with this key")]
    BadSignature,
}

/// The instance's key pair: the PEM texts PeerTube stores and publishes, and a `ring` key pair
/// ready to sign.
pub struct InstanceKeys {
    private_pkcs1_pem: String,
    public_spki_pem: String,
    key_pair: RsaKeyPair,
}

impl fmt::Debug for InstanceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("InstanceKeys").field("public_spki_pem", &self.public_spki_pem).finish_non_exhaustive()
    }
}

impl InstanceKeys {
    /// A new RSA-2048 key pair with e = 65537. Takes a while (tens to hundreds of milliseconds
    /// in release builds): call it off the async runtime.
    pub fn generate() -> Result<InstanceKeys, KeyError> {
        let key = rsa::PrivateKey::new(&mut OsRng, KEY_BITS).map_err(|e| KeyError::Generate(e.to_string()))?;
        InstanceKeys::from_rsa(&key)
    }

    /// Loads a private key from PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what PeerTube stores) or
    /// unencrypted PKCS#8 (`BEGIN PRIVATE KEY`). CRLF line ends and surrounding whitespace are
    /// accepted. The modulus must be 2048 to 4096 bits (what `ring` signs with).
    pub fn from_pem(private_pem: &str) -> Result<InstanceKeys, KeyError> {
        let text = normalise_pem(private_pem);
        let (label, der) = SecretDocument::from_pem(&text).map_err(|e| KeyError::PrivatePem(e.to_string()))?;
        let key = match label {
            "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_der(der.as_bytes()).map_err(|e| e.to_string()),
            "PRIVATE KEY" => rsa::PrivateKey::from_pkcs8_der(der.as_bytes()).map_err(|e| e.to_string()),
            other => return Err(KeyError::PrivateLabel(other.to_owned())),
        }
        .map_err(KeyError::PrivatePem)?;
        InstanceKeys::from_rsa(&key)
    }

    fn from_rsa(key: &rsa::PrivateKey) -> Result<InstanceKeys, KeyError> {
        let pkcs1_der = key.to_pkcs1_der().map_err(|e| KeyError::PrivatePem(e.to_string()))?;
        let key_pair = RsaKeyPair::from_der(pkcs1_der.as_bytes()).map_err(|e| KeyError::Rejected(e.to_string()))?;
        let private_pkcs1_pem =
            key.to_pkcs1_pem(LineEnding::LF).map_err(|e| KeyError::PrivatePem(e.to_string()))?.to_string();
        let public_spki_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::PublicPem(e.to_string()))?;
        Ok(InstanceKeys { private_pkcs1_pem, public_spki_pem, key_pair })
    }

    /// The private key as PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`, LF line ends, final newline).
    pub fn private_pem(&self) -> &str {
        &self.private_pkcs1_pem
    }

    /// The `ring` key pair, for Linked Data signatures.
    pub fn key_pair(&self) -> &RsaKeyPair {
        &self.key_pair
    }

    /// The public key as SPKI PEM (`BEGIN PUBLIC KEY`), as the actor document publishes it.
    pub fn public_pem(&self) -> &str {
        &self.public_spki_pem
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`: the raw signature (256 bytes for RSA-2048).
    ///
    /// # Panics
    /// Only if the operating system's random source fails (`ring` blinds the private-key
    /// operation with fresh randomness); the signature length always fits the key.
    pub fn sign_sha256(&self, data: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
            .expect("the operating system's random source failed");
        sig
    }
}

/// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature `sig` over `data` with an SPKI PEM public key
/// (`BEGIN PUBLIC KEY`), as a remote actor's `publicKeyPem` carries it.
///
/// Like PeerTube, a PKCS#1 public key (`BEGIN RSA PUBLIC KEY`) is refused. PeerTube takes any
/// RSA key its parser reads (and makes 1024-bit keys in its test mode), so moduli of 1024 to
/// 8192 bits are accepted here; keys under 1024 bits are refused.
pub fn verify_sha256(public_spki_pem: &str, data: &[u8], sig: &[u8]) -> Result<(), KeyError> {
    let pkcs1 = spki_to_pkcs1(public_spki_pem)?;
    UnparsedPublicKey::new(&signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, &pkcs1)
        .verify(data, sig)
        .map_err(|_| KeyError::BadSignature)
}

/// A `ring` signing key from a private key PEM: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what PeerTube
/// stores) or unencrypted PKCS#8 (`BEGIN PRIVATE KEY`), without the size checks of
/// [`InstanceKeys::from_pem`] (for keys of other instances, e.g. in tests and load generators).
pub fn key_pair_from_pem(pem: &str) -> Result<RsaKeyPair, KeyError> {
    let text = normalise_pem(pem);
    let (label, der) = SecretDocument::from_pem(&text).map_err(|e| KeyError::PrivatePem(e.to_string()))?;
    match label {
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(der.as_bytes()),
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(der.as_bytes()),
        other => return Err(KeyError::PrivateLabel(other.to_owned())),
    }
    .map_err(|e| KeyError::Rejected(e.to_string()))
}

/// The PKCS#1 `RSAPublicKey` DER inside an SPKI PEM public key: the one PEM public-key parser
/// (HTTP and Linked Data signatures both verify through it).
pub fn spki_to_pkcs1(public_spki_pem: &str) -> Result<Vec<u8>, KeyError> {
    let text = normalise_pem(public_spki_pem);
    if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        return Err(KeyError::Pkcs1PublicKey);
    }
    let (label, der) = Document::from_pem(&text).map_err(|e| KeyError::PublicPem(e.to_string()))?;
    if label != "PUBLIC KEY" {
        return Err(KeyError::PublicLabel(label.to_owned()));
    }
    let spki = SubjectPublicKeyInfoRef::from_der(der.as_bytes()).map_err(|e| KeyError::PublicPem(e.to_string()))?;
    if spki.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        return Err(KeyError::NotRsa);
    }
    let key = spki.subject_public_key.as_bytes();
    key.map(<[u8]>::to_vec).ok_or_else(|| KeyError::PublicPem("the key's bit string has unused bits".into()))
}

/// PEM text with CRLF turned into LF and surrounding whitespace dropped, plus a final newline.
fn normalise_pem(pem: &str) -> String {
    let mut text = pem.trim().replace("\r\n", "\n");
    text.push('\n');
    text
}

/// The operating system's random source, in the shape the `rsa` crate's key generation takes.
struct OsRng;

#[derive(Debug)]
struct OsRngError(getrandom::Error);

impl fmt::Display for OsRngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the operating system's random source failed: {}", self.0)
    }
}

impl std::error::Error for OsRngError {}

impl rsa::rand_core::TryRng for OsRng {
    type Error = OsRngError;

    fn try_next_u32(&mut self) -> Result<u32, OsRngError> {
        getrandom::u32().map_err(OsRngError)
    }

    fn try_next_u64(&mut self) -> Result<u64, OsRngError> {
        getrandom::u64().map_err(OsRngError)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), OsRngError> {
        getrandom::fill(dst).map_err(OsRngError)
    }
}

impl rsa::rand_core::TryCryptoRng for OsRng {}

use std::sync::OnceLock;

use base64::Engine as _;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::EncodePrivateKey;

use super::*;

/// The RsaSignature2017 vector: a PeerTube-made key pair and a signature over a known text.
const VECTOR: &str = include_str!("../../../tests-data/rsasig2017-cachefile.json");

struct Vector {
    private_pem: String,
    public_pem: String,
    to_sign: String,
    signature: Vec<u8>,
}

fn vector() -> Vector {
    let v: serde_json::Value = serde_json::from_str(VECTOR).unwrap();
    let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).unwrap().to_owned();
    Vector {
        private_pem: s("/privateKeyPem"),
        public_pem: s("/publicKeyPem"),
        to_sign: s("/toSign"),
        signature: base64::engine::general_purpose::STANDARD
            .decode(s("/signedActivity/signature/signatureValue"))
            .unwrap(),
    }
}

/// Key generation is slow in debug builds: one generated key for all tests.
fn generated() -> &'static InstanceKeys {
    static KEYS: OnceLock<InstanceKeys> = OnceLock::new();
    KEYS.get_or_init(|| InstanceKeys::generate().unwrap())
}

#[test]
fn generated_keys_sign_and_verify() {
    let keys = generated();
    assert!(keys.private_pem().starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
    assert!(keys.private_pem().ends_with("-----END RSA PRIVATE KEY-----\n"));
    assert!(keys.public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(keys.public_pem().ends_with("-----END PUBLIC KEY-----\n"));
    let sig = keys.sign_sha256(b"hello");
    assert_eq!(sig.len(), 256, "RSA-2048");
    assert_eq!(verify_sha256(keys.public_pem(), b"hello", &sig), Ok(()));
    assert_eq!(verify_sha256(keys.public_pem(), b"hellO", &sig), Err(KeyError::BadSignature));
    let mut bad = sig.clone();
    bad[17] ^= 1;
    assert_eq!(verify_sha256(keys.public_pem(), b"hello", &bad), Err(KeyError::BadSignature));
    assert_eq!(verify_sha256(keys.public_pem(), b"hello", &sig[..255]), Err(KeyError::BadSignature));
    // PKCS#1 v1.5 is deterministic.
    assert_eq!(keys.sign_sha256(b"hello"), sig);
}

#[test]
fn generated_key_is_2048_bits_with_e_65537() {
    use rsa::traits::PublicKeyParts;
    let key = rsa::PrivateKey::from_pkcs1_pem(generated().private_pem()).unwrap();
    assert_eq!(key.n().bit_width(), 2048);
    assert_eq!(key.e().to_be_bytes().iter().skip_while(|b| **b == 0).copied().collect::<Vec<_>>(), [1, 0, 1]);
}

#[test]
fn pem_round_trip() {
    let keys = generated();
    let again = InstanceKeys::from_pem(keys.private_pem()).unwrap();
    assert_eq!(again.private_pem(), keys.private_pem());
    assert_eq!(again.public_pem(), keys.public_pem());
    assert_eq!(again.sign_sha256(b"x"), keys.sign_sha256(b"x"));
}

#[test]
fn pkcs8_and_crlf_pems_are_read() {
    let v = vector();
    let key = rsa::PrivateKey::from_pkcs1_pem(&v.private_pem).unwrap();
    let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    assert!(pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"));
    let keys = InstanceKeys::from_pem(&pkcs8).unwrap();
    assert_eq!(keys.private_pem(), v.private_pem, "stored back as PKCS#1");
    let crlf = format!("\r\n  {}  \r\n", v.private_pem.replace('\n', "\r\n"));
    assert_eq!(InstanceKeys::from_pem(&crlf).unwrap().private_pem(), v.private_pem);
    let public_crlf = v.public_pem.replace('\n', "\r\n");
    assert_eq!(verify_sha256(&public_crlf, v.to_sign.as_bytes(), &v.signature), Ok(()));
}

#[test]
fn vector_key_pair_loads_and_reproduces_its_signature() {
    let v = vector();
    let keys = InstanceKeys::from_pem(&v.private_pem).unwrap();
    assert_eq!(keys.private_pem(), v.private_pem, "PKCS#1 PEM byte-identical to PeerTube's");
    assert_eq!(keys.public_pem(), v.public_pem, "SPKI PEM byte-identical to PeerTube's");
    assert_eq!(keys.sign_sha256(v.to_sign.as_bytes()), v.signature, "byte-identical signature");
    assert_eq!(verify_sha256(&v.public_pem, v.to_sign.as_bytes(), &v.signature), Ok(()));
    let tampered = v.to_sign.replace('a', "b");
    assert_eq!(verify_sha256(&v.public_pem, tampered.as_bytes(), &v.signature), Err(KeyError::BadSignature));
    // The generated key is not the vector's.
    assert_eq!(
        verify_sha256(generated().public_pem(), v.to_sign.as_bytes(), &v.signature),
        Err(KeyError::BadSignature)
    );
}

#[test]
fn pkcs1_public_keys_are_refused() {
    let v = vector();
    let key = rsa::PrivateKey::from_pkcs1_pem(&v.private_pem).unwrap();
    let pkcs1 = key.to_public_key().to_pkcs1_pem(LineEnding::LF).unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
    assert_eq!(verify_sha256(&pkcs1, v.to_sign.as_bytes(), &v.signature), Err(KeyError::Pkcs1PublicKey));
}

#[test]
fn unusable_public_keys_are_refused() {
    let v = vector();
    let data = v.to_sign.as_bytes();
    assert!(matches!(verify_sha256("", data, &v.signature), Err(KeyError::PublicPem(_))));
    assert!(matches!(verify_sha256("not a key", data, &v.signature), Err(KeyError::PublicPem(_))));
    let as_cert = v.public_pem.replace("PUBLIC KEY", "CERTIFICATE");
    assert_eq!(verify_sha256(&as_cert, data, &v.signature), Err(KeyError::PublicLabel("CERTIFICATE".into())));
    let truncated: String = v.public_pem.lines().filter(|l| !l.starts_with("oQ")).collect::<Vec<_>>().join("\n");
    assert!(matches!(verify_sha256(&truncated, data, &v.signature), Err(KeyError::PublicPem(_))));
    let ec = rcgen::KeyPair::generate().unwrap().public_key_pem();
    assert_eq!(verify_sha256(&ec, data, &v.signature), Err(KeyError::NotRsa));
}

#[test]
fn unusable_private_keys_are_refused() {
    let v = vector();
    assert!(matches!(InstanceKeys::from_pem(""), Err(KeyError::PrivatePem(_))));
    assert!(matches!(InstanceKeys::from_pem(&v.public_pem), Err(KeyError::PrivateLabel(l)) if l == "PUBLIC KEY"));
    // A PKCS#8 body under a PKCS#1 label is not an RSAPrivateKey.
    let key = rsa::PrivateKey::from_pkcs1_pem(&v.private_pem).unwrap();
    let mislabelled = key.to_pkcs8_pem(LineEnding::LF).unwrap().replace("PRIVATE KEY", "RSA PRIVATE KEY");
    assert!(matches!(InstanceKeys::from_pem(&mislabelled), Err(KeyError::PrivatePem(_))));
}

/// A 1024-bit key pair and a signature over [`SMALL_MESSAGE`], made by a separate RSA
/// implementation.
const SMALL_PRIVATE: &str = "\
    -----BEGIN RSA PRIVATE KEY-----\n\
    MIICXAIBAAKBgQCxfGMnNDOM7+inMe9ewBWCAxXNMOFHjB64xi5ojCQlxPA6AX9B\n\
    60hqD1ZPh2s3KleOIk2UhyxqUtzgLKUtQTnh6At4JMS8RDVyU7XGKRg3OIl6nJMN\n\
    CUMqaMTkKe/tAyN2tWw+I4ikOuFCIi3Wy9OLAHM/ZBke29kZYIWvLd1i8wIDAQAB\n\
    AoGAAyLVha3Qc18R11J0jlIKjz+KtRN2B5OcP1uRGlvPj7NJI10/aGTF5Mnclo8n\n\
    /9OJtIM6p7Mzv7UzHersCD6szR+JrLCtgMLXVt83rLMQ0bYTr/zkygz6aYAyIUrB\n\
    N0h7dwHBygR1CfEm2qJQsqWdcsqHuWMBwmNVbbRNoaMrWZECQQDZsZjoLXO0lu70\n\
    7KDDIph3vIWVqvQPlZq31RDoDTzHUwBw1Ho8HKPSBQe+npI/UJ9BlwYWEomVX5bU\n\
    l5wtkcolAkEA0LeOPzN7xfr786qoG8k79Rszrr+nZXVNrXs2iysw9qzC7jMBv9Z4\n\
    MBcUjGJmFRyyRZl6lIPXzAq+vLZgpByRNwJAcm+ElNCH2W/aT5AwdkOyaIcGpgXG\n\
    5IZdXbO4fnOu9ozwV1+qnfzkNRwF1TOgZ34nKaCNR38ZKhekvz6vj9jqrQJBAJC0\n\
    QkXlLtIjYZ0dW3HwQcZ8todYTvmTq2g0fatdJZRQUNGOwY68ZhWJWvC9o+LNQ3fn\n\
    ocnn4qyPYpA5raT6PV8CQFrWpGbDQcO6/Zp6KogYDUwgU8K0JQXF1+Z+QyBV2LH7\n\
    0nliRJeqldN8Jj5Pm3J9bCouR+kpr+qreERcgLm9L4I=\n\
    -----END RSA PRIVATE KEY-----\n";
const SMALL_PUBLIC: &str = "\
    -----BEGIN PUBLIC KEY-----\n\
    MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCxfGMnNDOM7+inMe9ewBWCAxXN\n\
    MOFHjB64xi5ojCQlxPA6AX9B60hqD1ZPh2s3KleOIk2UhyxqUtzgLKUtQTnh6At4\n\
    JMS8RDVyU7XGKRg3OIl6nJMNCUMqaMTkKe/tAyN2tWw+I4ikOuFCIi3Wy9OLAHM/\n\
    ZBke29kZYIWvLd1i8wIDAQAB\n\
    -----END PUBLIC KEY-----\n";
const SMALL_MESSAGE: &[u8] = b"signed by a 1024-bit key";
const SMALL_SIGNATURE: &str = "\
    V0bCSuFa4dhsmx9z3xKy7LjuCMrpEBBfgYmCRed+jELUGy3Sj1gvqH+Wz0HqNYzjvTyXoUQr3MBnZ10o8TUbCc/3\
    8kAFbz6/ldoFTGtA5yoV/CfHjlMPJ1SfaoJ0t+76fI10lEXxX0pO84ohFDOzRCtijSQJI18On1/9myX+Ah4=";

#[test]
fn keys_of_1024_bits_verify_but_do_not_sign() {
    // PeerTube's test mode makes 1024-bit keys: their signatures are accepted, but we never
    // sign with one (ring signs with 2048 to 4096 bits).
    assert!(matches!(InstanceKeys::from_pem(SMALL_PRIVATE), Err(KeyError::Rejected(_))));
    let sig = base64::engine::general_purpose::STANDARD.decode(SMALL_SIGNATURE).unwrap();
    assert_eq!(sig.len(), 128);
    assert_eq!(verify_sha256(SMALL_PUBLIC, SMALL_MESSAGE, &sig), Ok(()));
    assert_eq!(verify_sha256(SMALL_PUBLIC, b"something else", &sig), Err(KeyError::BadSignature));
    let sig_2048 = generated().sign_sha256(SMALL_MESSAGE);
    assert_eq!(verify_sha256(SMALL_PUBLIC, SMALL_MESSAGE, &sig_2048), Err(KeyError::BadSignature));
}

#[test]
fn debug_does_not_show_the_private_key() {
    let shown = format!("{:?}", generated());
    assert!(shown.contains("BEGIN PUBLIC KEY"));
    assert!(!shown.contains("PRIVATE"));
}

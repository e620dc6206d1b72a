//! The data nodes' credentials: random bearer tokens, kept only as SHA-256 fingerprints.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes` (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A fresh bearer token: 32 bytes from the operating system's random source, URL-safe base64
/// without padding (43 characters).
///
/// # Panics
/// If the operating system cannot provide random bytes: no credential can be made safely then.
pub fn random_token() -> String {
    // Never starting with '-' (1 in 64 would): on a command line (`--token TOKEN`) it would read
    // as an option.
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        if !token.starts_with('-') {
            return token;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_never_read_as_options() {
        // 1 in 64 URL-safe base64 strings starts with '-': 4096 draws would show it.
        for _ in 0..4096 {
            let t = super::random_token();
            assert!(!t.starts_with('-') && t.len() == 43, "{t}");
        }
    }
}

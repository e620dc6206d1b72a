//! The 20-byte BitTorrent v1 info-hash, written as 40 lowercase hex digits on the wire. Pure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A BitTorrent v1 info-hash (SHA-1 of the bencoded `info` dictionary).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoHash(pub [u8; 20]);

/// Why a string is not an info-hash.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InfoHashError {
    #[error("an info-hash is 40 hex digits, got {0} characters")]
    Length(usize),
    #[error("an info-hash is 40 hex digits, found {0:?}")]
    NotHex(char),
}

impl InfoHash {
    /// Lowercase hex, as used in magnet URIs and the admin API.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(40);
        for b in self.0 {
            out.push(DIGITS[(b >> 4) as usize] as char);
            out.push(DIGITS[(b & 15) as usize] as char);
        }
        out
    }
}

impl FromStr for InfoHash {
    type Err = InfoHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 40 {
            return Err(InfoHashError::Length(s.chars().count()));
        }
        let mut out = [0u8; 20];
        let bytes = s.as_bytes();
        for (i, slot) in out.iter_mut().enumerate() {
            let hi = hex_value(bytes[2 * i])?;
            let lo = hex_value(bytes[2 * i + 1])?;
            *slot = (hi << 4) | lo;
        }
        Ok(InfoHash(out))
    }
}

fn hex_value(b: u8) -> Result<u8, InfoHashError> {
    match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(InfoHashError::NotHex(b as char)),
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

impl Serialize for InfoHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for InfoHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = InfoHash([0xab; 20]);
        assert_eq!(h.to_hex(), "ab".repeat(20));
        assert_eq!(h.to_hex().parse::<InfoHash>().unwrap(), h);
        assert_eq!("AB".repeat(20).parse::<InfoHash>().unwrap(), h);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!("ab".parse::<InfoHash>(), Err(InfoHashError::Length(2)));
        assert_eq!(
            format!("{}zz", "0".repeat(38)).parse::<InfoHash>(),
            Err(InfoHashError::NotHex('z'))
        );
        // Multi-byte characters must not panic on slicing.
        assert!(format!("{}é", "0".repeat(38)).parse::<InfoHash>().is_err());
    }

    #[test]
    fn serde_as_hex_string() {
        let h = InfoHash([1; 20]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, format!("\"{}\"", "01".repeat(20)));
        assert_eq!(serde_json::from_str::<InfoHash>(&json).unwrap(), h);
    }
}

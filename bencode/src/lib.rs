//! BitTorrent's bencoding (BEP 3), written, for both planes: the control plane's `.torrent`
//! files (`library/torrent_file.rs`), the data plane's HTTP tracker answers
//! (`tracker/http.rs`). Pure. Byte strings are `<length>:<bytes>`, integers `i<n>e`, lists
//! `l…e`, dictionaries `d…e` with their keys in sorted order, which the caller writes them in.

use std::io::Write as _;

/// Bencode written into a buffer, value after value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    /// A writer whose buffer has room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Writer {
        Writer { out: Vec::with_capacity(capacity) }
    }

    /// Opens a dictionary: keys (byte strings, sorted) and values follow, then [`Writer::end`].
    pub fn dict(&mut self) -> &mut Writer {
        self.out.push(b'd');
        self
    }

    /// Opens a list: values follow, then [`Writer::end`].
    pub fn list(&mut self) -> &mut Writer {
        self.out.push(b'l');
        self
    }

    /// Closes the innermost open list or dictionary.
    pub fn end(&mut self) -> &mut Writer {
        self.out.push(b'e');
        self
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Writer {
        let _ = write!(self.out, "{}:", b.len());
        self.out.extend_from_slice(b);
        self
    }

    /// A text as a byte string (its UTF-8 bytes).
    pub fn str(&mut self, s: &str) -> &mut Writer {
        self.bytes(s.as_bytes())
    }

    /// An integer.
    pub fn int(&mut self, n: u64) -> &mut Writer {
        let _ = write!(self.out, "i{n}e");
        self
    }

    /// A value that is bencode already (a stored info dictionary), as it is.
    pub fn raw(&mut self, bencoded: &[u8]) -> &mut Writer {
        self.out.extend_from_slice(bencoded);
        self
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_as_bep_3_says() {
        let mut w = Writer::new();
        w.dict().str("a").int(0).str("b").list().bytes(&[0xff, b':']).int(u64::MAX).end().str("c").raw(b"de").end();
        assert_eq!(w.finish(), b"d1:ai0e1:bl2:\xff:i18446744073709551615ee1:cdee".to_vec());
        let mut w = Writer::with_capacity(8);
        w.str("");
        assert_eq!(w.finish(), b"0:");
        let mut w = Writer::new();
        w.str("é");
        assert_eq!(w.finish(), "2:é".as_bytes(), "the length counts bytes, not characters");
    }
}

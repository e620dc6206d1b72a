//! A file to import, cut into verification units, pure: BitTorrent v1 pieces (SHA-1, from the
//! file's torrent), HLS segments (SHA-256, from the origin's segments-sha256 file) with the
//! bytes no segment covers (the init section) checked by the pieces that hold them, or the whole
//! file (SHA-256, for small files such as playlists). Units cover every byte (a piece holding
//! the init section may overlap a segment: those bytes are checked twice). A unit is fetched,
//! checked and written as one: nothing unverified is ever kept as verified.

use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// The hash a unit must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digest {
    Sha1([u8; 20]),
    Sha256([u8; 32]),
}

/// Bytes `start..=end` of the file and their hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub start: u64,
    pub end: u64,
    pub digest: Digest,
}

impl Unit {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `bytes` are this unit's.
    pub fn check(&self, bytes: &[u8]) -> bool {
        self.check_parts(std::iter::once(bytes))
    }

    /// Whether these pieces of memory, one after the other, are this unit's bytes (a range's
    /// body as it arrived, without gathering it first).
    pub fn check_parts<'a>(&self, parts: impl Iterator<Item = &'a [u8]>) -> bool {
        let mut len = 0u64;
        match self.digest {
            Digest::Sha1(want) => {
                let mut h = Sha1::new();
                parts.for_each(|p| {
                    len += p.len() as u64;
                    h.update(p);
                });
                len == self.len() && h.finalize().as_slice() == want
            }
            Digest::Sha256(want) => {
                let mut h = Sha256::new();
                parts.for_each(|p| {
                    len += p.len() as u64;
                    h.update(p);
                });
                len == self.len() && h.finalize().as_slice() == want
            }
        }
    }
}

/// How a file is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// The torrent's pieces of this (single-file) torrent.
    Pieces { piece_length: u64, sha1: Vec<[u8; 20]> },
    /// HLS segments `(start, end, sha256)`, and the pieces for what they do not cover.
    Segments { segments: Vec<(u64, u64, [u8; 32])>, pieces: Option<(u64, Vec<[u8; 20]>)> },
    /// The whole file.
    Sha256([u8; 32]),
}

/// The units of a file of `size` bytes, in file order, covering every byte once; the error
/// says why the check does not fit the file.
pub fn units(size: u64, check: &Check) -> Result<Vec<Unit>, String> {
    if size == 0 {
        return Err("an empty file cannot be imported".into());
    }
    match check {
        Check::Sha256(h) => Ok(vec![Unit { start: 0, end: size - 1, digest: Digest::Sha256(*h) }]),
        Check::Pieces { piece_length, sha1 } => pieces(size, *piece_length, sha1),
        Check::Segments { segments, pieces: by_pieces } => {
            let mut sorted = segments.clone();
            sorted.sort_unstable_by_key(|s| s.0);
            let mut out = Vec::new();
            let mut gaps = Vec::new();
            let mut next = 0u64;
            for &(start, end, hash) in &sorted {
                if end < start || end >= size {
                    return Err(format!("segment {start}-{end} is outside the file's {size} bytes"));
                }
                if start < next {
                    return Err(format!("segment {start}-{end} overlaps the one before"));
                }
                if start > next {
                    gaps.push((next, start - 1));
                }
                out.push(Unit { start, end, digest: Digest::Sha256(hash) });
                next = end + 1;
            }
            if next < size {
                gaps.push((next, size - 1));
            }
            if !gaps.is_empty() {
                // Bytes in no segment (the init section): checked by the pieces that hold them,
                // which may reach into a segment (those bytes are then checked twice).
                let Some((len, hashes)) = by_pieces else {
                    let (a, b) = gaps[0];
                    return Err(format!("bytes {a}-{b} are in no segment and no piece hash was given"));
                };
                let all = pieces(size, *len, hashes)?;
                for p in all {
                    if gaps.iter().any(|&(a, b)| p.start <= b && p.end >= a) {
                        out.push(p);
                    }
                }
                out.sort_by_key(|u| (u.start, u.end));
            }
            Ok(out)
        }
    }
}

fn pieces(size: u64, piece_length: u64, sha1: &[[u8; 20]]) -> Result<Vec<Unit>, String> {
    if piece_length == 0 {
        return Err("piece length 0".into());
    }
    let count = size.div_ceil(piece_length);
    if count != sha1.len() as u64 {
        return Err(format!("{} piece hashes for {count} pieces of {piece_length} bytes", sha1.len()));
    }
    Ok(sha1
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let start = i as u64 * piece_length;
            Unit { start, end: (start + piece_length).min(size) - 1, digest: Digest::Sha1(*h) }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1(b: &[u8]) -> [u8; 20] {
        Sha1::digest(b).into()
    }

    fn sha256(b: &[u8]) -> [u8; 32] {
        Sha256::digest(b).into()
    }

    fn file(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn covers_once(size: u64, units: &[Unit]) {
        let mut next = 0;
        for u in units {
            assert_eq!(u.start, next, "{units:?}");
            next = u.end + 1;
        }
        assert_eq!(next, size);
    }

    #[test]
    fn pieces_cover_the_file_and_check_their_bytes() {
        let data = file(1000);
        let hashes: Vec<[u8; 20]> = data.chunks(256).map(sha1).collect();
        let u = units(1000, &Check::Pieces { piece_length: 256, sha1: hashes.clone() }).unwrap();
        assert_eq!(u.len(), 4);
        covers_once(1000, &u);
        assert_eq!(u[3].len(), 1000 - 768);
        for unit in &u {
            let bytes = &data[unit.start as usize..=unit.end as usize];
            assert!(unit.check(bytes));
            let mut bad = bytes.to_vec();
            bad[0] ^= 1;
            assert!(!unit.check(&bad));
            assert!(!unit.check(&bytes[1..]));
        }
        assert!(units(1000, &Check::Pieces { piece_length: 256, sha1: hashes[..3].to_vec() }).unwrap_err().contains("3 piece hashes for 4 pieces"));
        assert!(units(0, &Check::Sha256([0; 32])).is_err());
    }

    fn covers_all(size: u64, units: &[Unit]) {
        let mut covered = vec![false; size as usize];
        for u in units {
            covered[u.start as usize..=u.end as usize].iter_mut().for_each(|c| *c = true);
        }
        assert!(covered.iter().all(|c| *c), "{units:?}");
    }

    #[test]
    fn hls_segments_with_the_init_section_by_pieces() {
        // PeerTube's shape: an init section 0-1376, then segments; the torrent's pieces of 1024
        // bytes: pieces 0 and 1 hold the init section (and the start of the first segment).
        let data = file(6000);
        let segments = vec![(1377u64, 3999u64, sha256(&data[1377..4000])), (4000, 5999, sha256(&data[4000..6000]))];
        let piece_hashes: Vec<[u8; 20]> = data.chunks(1024).map(sha1).collect();
        let u = units(6000, &Check::Segments { segments: segments.clone(), pieces: Some((1024, piece_hashes.clone())) }).unwrap();
        covers_all(6000, &u);
        assert_eq!(u.len(), 4, "two pieces for the init section, two segments: {u:?}");
        assert_eq!((u[0].start, u[0].end), (0, 1023));
        assert_eq!((u[1].start, u[1].end), (1024, 2047));
        assert!(u.iter().all(|x| x.check(&data[x.start as usize..=x.end as usize])));
        // A corrupted init section fails its piece.
        let mut bad = data[0..1024].to_vec();
        bad[10] ^= 0xff;
        assert!(!u[0].check(&bad));
        // No pieces: the init section has nothing to check it.
        assert!(units(6000, &Check::Segments { segments, pieces: None }).unwrap_err().contains("no piece hash"));
    }

    #[test]
    fn bad_segment_lists_are_refused() {
        let h = [0u8; 32];
        let seg = |v: Vec<(u64, u64)>| Check::Segments { segments: v.into_iter().map(|(a, b)| (a, b, h)).collect(), pieces: None };
        assert!(units(100, &seg(vec![(0, 50), (40, 99)])).unwrap_err().contains("overlaps"));
        assert!(units(100, &seg(vec![(0, 150)])).unwrap_err().contains("outside"));
        assert!(units(100, &seg(vec![(0, 49), (60, 99)])).is_err(), "a gap with no pieces");
        let ok = units(100, &seg(vec![(50, 99), (0, 49)])).unwrap();
        covers_all(100, &ok);
        assert_eq!(ok.len(), 2);
    }
}

//! Choosing a torrent's piece length from the file size. Pure.
//!
//! PeerTube makes its torrents with create-torrent, whose piece length is the file size divided
//! by 1024, rounded to the nearest power of two, kept between 16 KiB and 4 MiB. WebTorrent in a
//! browser sends one range request and one CORS preflight per piece, so small pieces make
//! WebSeed downloads slow; vidseed therefore never goes below a floor (256 KiB by default).

/// The smallest piece create-torrent makes.
pub const MIN_PIECE: u64 = 16 * 1024;
/// The largest piece create-torrent makes.
pub const MAX_PIECE: u64 = 4 * 1024 * 1024;
/// vidseed's default floor.
pub const DEFAULT_FLOOR: u64 = 256 * 1024;

/// How piece lengths are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PiecePolicy {
    /// create-torrent's choice, but never below `floor` (a power of two).
    Auto { floor: u64 },
    /// Always this length (a power of two, at least 16 KiB).
    Fixed(u64),
}

impl Default for PiecePolicy {
    fn default() -> Self {
        PiecePolicy::Auto { floor: DEFAULT_FLOOR }
    }
}

/// Why a piece length was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("piece length {0} is not a power of two between 16 KiB and 16 MiB")]
pub struct BadPieceLength(pub u64);

/// Checks a configured piece length (or floor).
pub fn validate(len: u64) -> Result<u64, BadPieceLength> {
    if len.is_power_of_two() && (MIN_PIECE..=16 * 1024 * 1024).contains(&len) {
        Ok(len)
    } else {
        Err(BadPieceLength(len))
    }
}

/// create-torrent's piece length for a file of `size` bytes.
pub fn create_torrent_default(size: u64) -> u64 {
    let per = if size < 1024 { 1.0 } else { size as f64 / 1024.0 };
    let exp = (per.log2() + 0.5).floor().clamp(0.0, 62.0) as u32;
    (1u64 << exp).clamp(MIN_PIECE, MAX_PIECE)
}

impl PiecePolicy {
    /// The piece length for a file of `size` bytes.
    pub fn for_size(&self, size: u64) -> u64 {
        match *self {
            PiecePolicy::Auto { floor } => create_torrent_default(size).max(floor),
            PiecePolicy::Fixed(len) => len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_create_torrent_examples() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(create_torrent_default(8 * MIB), 16 * 1024);
        assert_eq!(create_torrent_default(100_000_000), 128 * 1024);
        assert_eq!(create_torrent_default(1024 * MIB), MIB);
        assert_eq!(create_torrent_default(4096 * MIB), 4 * MIB);
        assert_eq!(create_torrent_default(100 * 1024 * MIB), 4 * MIB);
        assert_eq!(create_torrent_default(0), 16 * 1024);
        // Rounded to the nearest power of two: 1.46 MiB per 1024 pieces → 2 MiB.
        assert_eq!(create_torrent_default(1500 * MIB), 2 * MIB);
        assert_eq!(create_torrent_default(1400 * MIB), MIB);
        assert_eq!(create_torrent_default(1023), 16 * 1024);
    }

    #[test]
    fn floor_and_fixed() {
        let auto = PiecePolicy::default();
        assert_eq!(auto.for_size(8 * 1024 * 1024), 256 * 1024);
        assert_eq!(auto.for_size(1 << 30), 1 << 20);
        assert_eq!(PiecePolicy::Fixed(16384).for_size(1 << 30), 16384);
        assert_eq!(validate(3000), Err(BadPieceLength(3000)));
        assert_eq!(validate(8192), Err(BadPieceLength(8192)));
        assert_eq!(validate(1 << 18), Ok(1 << 18));
    }
}

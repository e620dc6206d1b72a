//! Hashing a video into its v1 torrent's info dictionary with lava_torrent (name, piece length,
//! pieces), on several threads with progress reported (does file I/O). Trackers and WebSeeds are
//! outside the info dictionary: [`crate::library::torrent_file`] adds them when the torrent is served.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lava_torrent::torrent::v1::{Torrent, TorrentBuilder};
use vidseed_shared::InfoHash;

/// What goes into a torrent besides the file's bytes.
#[derive(Clone, Debug)]
pub struct TorrentSpec<'a> {
    pub path: &'a Path,
    /// The torrent's `name`: the file name.
    pub name: &'a str,
    pub piece_length: u64,
    /// Hashing threads.
    pub threads: usize,
}

/// A hashed file: its bencoded info dictionary and the info-hash (SHA-1 of those bytes).
#[derive(Clone, Debug)]
pub struct MadeTorrent {
    pub info: Vec<u8>,
    pub info_hash: InfoHash,
}

/// Why a torrent could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TorrentError {
    #[error("cannot make the torrent: {0}")]
    Build(String),
    #[error("hashing was cancelled")]
    Cancelled,
}

/// Hashes the file and encodes its torrent. `on_progress` is called with the bytes hashed so
/// far, about ten times a second; `cancel` stops the work.
pub fn make_torrent(
    spec: &TorrentSpec<'_>,
    cancel: &AtomicBool,
    on_progress: &mut dyn FnMut(u64),
) -> Result<MadeTorrent, TorrentError> {
    let build_err = |e: lava_torrent::LavaTorrentError| TorrentError::Build(e.to_string());
    let piece_length = i64::try_from(spec.piece_length).map_err(|_| TorrentError::Build("piece length too large".into()))?;
    let builder = TorrentBuilder::new(spec.path, piece_length)
        .set_name(spec.name.to_owned())
        .set_num_threads(spec.threads.max(1));
    let build = builder.build_non_blocking().map_err(build_err)?;
    while !build.is_finished() {
        if cancel.load(Ordering::Relaxed) {
            build.cancel();
            return Err(TorrentError::Cancelled);
        }
        on_progress(build.get_n_piece_processed() * spec.piece_length);
        std::thread::sleep(Duration::from_millis(100));
    }
    let torrent: Torrent = build.get_output().map_err(build_err)?;
    let info = torrent.construct_info().encode();
    let digest = <sha1::Sha1 as sha1::Digest>::digest(&info);
    let info_hash = InfoHash(digest.into());
    Ok(MadeTorrent { info, info_hash })
}

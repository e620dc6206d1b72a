//! Making a video's v1 torrent with lava_torrent: name, pieces, `url-list` (BEP 19 WebSeeds) and
//! `announce-list`, hashed on several threads with progress reported (does file I/O).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lava_torrent::bencode::BencodeElem;
use lava_torrent::torrent::v1::{Torrent, TorrentBuilder};
use vidseed_shared::InfoHash;

/// What goes into a torrent besides the file's bytes.
#[derive(Clone, Debug)]
pub struct TorrentSpec<'a> {
    pub path: &'a Path,
    /// The torrent's `name`: the file name.
    pub name: &'a str,
    pub piece_length: u64,
    /// WebSeed URLs, exactly as clients must request them.
    pub url_list: &'a [String],
    /// Tracker URLs, one tier each.
    pub trackers: &'a [String],
    /// Hashing threads.
    pub threads: usize,
}

/// A finished torrent.
#[derive(Clone, Debug)]
pub struct MadeTorrent {
    pub bytes: Vec<u8>,
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
    let mut builder = TorrentBuilder::new(spec.path, piece_length)
        .set_name(spec.name.to_owned())
        .set_num_threads(spec.threads.max(1))
        .add_extra_field("created by".into(), BencodeElem::String(format!("vidseed/{}", env!("CARGO_PKG_VERSION"))));
    if let Some(first) = spec.trackers.first() {
        builder = builder
            .set_announce(Some(first.clone()))
            .set_announce_list(spec.trackers.iter().map(|t| vec![t.clone()]).collect());
    }
    if !spec.url_list.is_empty() {
        let list = spec.url_list.iter().cloned().map(BencodeElem::String).collect();
        builder = builder.add_extra_field("url-list".into(), BencodeElem::List(list));
    }
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
    let hash_bytes = torrent.info_hash_bytes();
    let info_hash = InfoHash(
        hash_bytes.as_slice().try_into().map_err(|_| TorrentError::Build("info-hash is not 20 bytes".into()))?,
    );
    let bytes = torrent.encode().map_err(build_err)?;
    Ok(MadeTorrent { bytes, info_hash })
}

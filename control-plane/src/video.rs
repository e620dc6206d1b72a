//! A published video as the API shows it. Pure data.

use bytes::Bytes;
use serde::Serialize;
use vidseed_shared::{CatalogFile, InfoHash};

/// One published video file with its torrent.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    /// Stable id for URLs: the info-hash in hex.
    pub id: String,
    /// The file name (the torrent's name).
    pub name: String,
    /// Path relative to the media folder.
    pub path: String,
    pub size: u64,
    pub content_type: String,
    pub info_hash: InfoHash,
    pub piece_length: u64,
    /// Every WebSeed URL of the file (the torrent's url-list).
    pub webseeds: Vec<String>,
    pub file_url: String,
    pub torrent_url: String,
    pub magnet_uri: String,
    /// The encoded `.torrent`.
    #[serde(skip)]
    pub torrent: Bytes,
    /// What the data plane gets for this file.
    #[serde(skip)]
    pub catalog_file: CatalogFile,
}

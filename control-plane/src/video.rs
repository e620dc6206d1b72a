//! A video as the API shows it. Pure data.

use serde::Serialize;
use vidseed_shared::InfoHash;

/// One video file of the library, with where to get it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    /// Stable id for URLs: the info-hash in hex.
    pub id: String,
    /// The file name (the torrent's name).
    pub name: String,
    /// Path in the library folder.
    pub path: String,
    pub size: u64,
    pub content_type: String,
    pub info_hash: InfoHash,
    pub piece_length: u64,
    /// Every WebSeed URL of the file (the torrent's url-list): one per data node serving it,
    /// then one per checked copy another instance keeps (redundancy).
    pub webseeds: Vec<String>,
    pub file_url: String,
    pub torrent_url: String,
    /// The watch page: a player fed by WebTorrent from the WebSeeds and other viewers.
    pub watch_url: String,
    pub magnet_uri: String,
    /// The data nodes serving it.
    pub nodes: Vec<String>,
    /// The trackers its torrent and magnet name (WebSocket first, then HTTP announce).
    pub trackers: Vec<String>,
    /// The data node whose tracker that is; `None`: the instance's tracker (`--tracker-url`,
    /// or no node serves the video).
    pub tracker_node: Option<String>,
}

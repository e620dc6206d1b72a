//! A video as the API shows it (the public API, the admin API, `vidseed admin`). Pure data.

use serde::{Deserialize, Serialize};
use vidseed_shared::InfoHash;

/// One video file of the library, with where to get it. Read back (by `vidseed admin`), the
/// fields a client can do without may be missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    /// Stable id for URLs: the info-hash in hex.
    #[serde(default)]
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
    #[serde(default)]
    pub webseeds: Vec<String>,
    #[serde(default)]
    pub file_url: String,
    pub torrent_url: String,
    /// The watch page: a player fed by WebTorrent from the WebSeeds and other viewers.
    #[serde(default)]
    pub watch_url: String,
    pub magnet_uri: String,
    /// The data nodes serving it.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The trackers its torrent and magnet name (WebSocket first, then HTTP announce).
    #[serde(default)]
    pub trackers: Vec<String>,
    /// The data node whose tracker that is; `None`: the instance's tracker (`--tracker-url`,
    /// or no node serves the video).
    #[serde(default)]
    pub tracker_node: Option<String>,
    /// The video as federated (UUID, title, duration, resolution, who caches it): in the admin
    /// API's list only, once the publisher knows the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated: Option<crate::publish::wire::PublishedEntry>,
}

//! The admin API's bodies for our published videos, shared by the server and `vidseed admin`
//! (Serialize and Deserialize on both ends).

use serde::{Deserialize, Serialize};

pub use super::metadata::VideoEdit;

/// One of our videos as the admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedEntry {
    pub uuid: String,
    pub title: String,
    pub path: String,
    /// Seconds (None until the file was read).
    pub duration: Option<i64>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub fps: Option<i64>,
    /// `federated`, `waiting` (not served by a node yet), or `not federated: <reason>`.
    pub state: String,
    pub url: String,
    pub description: Option<String>,
    pub language: Option<String>,
    pub licence: Option<i64>,
    pub category: Option<i64>,
    pub tags: Vec<String>,
    /// Hosts that keep a checked copy (PeerTube's redundancy of our video).
    pub cached_at: Vec<String>,
}

/// `GET /api/v1/admin/videos/published`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedList {
    pub videos: Vec<PublishedEntry>,
}

//! Fetch orders on the catalog channel: the control plane decides which copies of other
//! instances' videos to keep (redundancy); the data nodes that hold the cache folder download,
//! verify and then serve them, reporting progress. Pure serde types of the contract.
//!
//! A node says it understands them in its hello (`capabilities: ["fetch"]`); the control plane
//! sends orders to such nodes only, so older nodes keep working unchanged.

use serde::{Deserialize, Serialize};

use crate::InfoHash;

/// The capability a node names in its hello to receive fetch orders.
pub const FETCH_CAPABILITY: &str = "fetch";

/// The capability a node names (beside [`FETCH_CAPABILITY`]) to be told, when it connects,
/// which copies the control plane keeps ([`Kept`]).
pub const KEPT_CAPABILITY: &str = "fetch-kept";

/// Make (or resume) a copy, then serve it; an order with an id the node knows replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchOrder {
    /// The copy's id (its CacheFile id).
    pub id: String,
    pub files: Vec<FetchFile>,
    /// Info-hashes the node's tracker tracks once the copy is served (the files' torrents).
    #[serde(default)]
    pub info_hashes: Vec<InfoHash>,
    /// Bytes per second for this copy's downloads together (0: no cap).
    #[serde(default)]
    pub max_bytes_per_sec: u64,
    /// Ranges fetched at once for this copy.
    pub parallel: u32,
}

/// One file of a copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchFile {
    /// Where the node keeps it, relative to its cache folder (`<name>.mp4`,
    /// `hls/<uuid>/<name>`): '/'-separated, no `..`, no leading '/'.
    pub path: String,
    /// The decoded URL path it is served at (`/static/redundancy/…`).
    pub url_path: String,
    pub size: u64,
    pub content_type: String,
    /// Where to download it from, in order of preference (the origin, other copies); a source
    /// that keeps sending bad data is dropped for the next.
    pub sources: Vec<String>,
    pub check: FileCheck,
}

/// How a file's bytes are verified before they are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FileCheck {
    /// The BitTorrent v1 pieces of the file's (single-file) torrent: SHA-1 hex per piece.
    #[serde(rename_all = "camelCase")]
    Pieces { piece_length: u64, sha1: Vec<String> },
    /// HLS: SHA-256 hex per segment `start-end` (inclusive), and the torrent's pieces for the
    /// bytes no segment covers (the init section).
    #[serde(rename_all = "camelCase")]
    Segments { segments: Vec<SegmentHash>, piece_length: Option<u64>, sha1: Vec<String> },
    /// The whole file's SHA-256 hex (playlists).
    Sha256 { sha256: String },
}

impl FileCheck {
    /// The check's name, as its `kind` field says it.
    pub fn kind(&self) -> &'static str {
        match self {
            FileCheck::Pieces { .. } => "pieces",
            FileCheck::Segments { .. } => "segments",
            FileCheck::Sha256 { .. } => "sha256",
        }
    }
}

/// One HLS segment's range and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHash {
    pub start: u64,
    pub end: u64,
    pub sha256: String,
}

/// Stop serving a copy and delete its files (and anything partial).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discard {
    pub id: String,
}

/// Every copy the control plane keeps, sent to a node that connects after the current orders:
/// the node deletes the copies it holds that are not among them (removed while it was away).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub ids: Vec<String>,
}

/// Where a copy stands on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchState {
    Downloading,
    Verifying,
    Serving,
    Failed,
}

/// A node's report on one copy (at each change of state, and every few seconds while
/// downloading).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchReport {
    pub id: String,
    pub state: FetchState,
    /// Verified bytes so far, of `total_bytes`.
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// Why it failed (disk full, the origin is gone, a source kept sending bad data, …).
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_reports_round_trip_in_their_wire_shape() {
        let order = FetchOrder {
            id: "https://cache.example/redundancy/videos/u/360-25".into(),
            files: vec![FetchFile {
                path: "a-360.mp4".into(),
                url_path: "/static/redundancy/a-360.mp4".into(),
                size: 1000,
                content_type: "video/mp4".into(),
                sources: vec!["https://origin.example/static/web-videos/a-360.mp4".into()],
                check: FileCheck::Pieces { piece_length: 512, sha1: vec!["00".repeat(20), "11".repeat(20)] },
            }],
            info_hashes: vec![],
            max_bytes_per_sec: 0,
            parallel: 4,
        };
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(json["files"][0]["check"]["kind"], "pieces");
        assert_eq!(json["files"][0]["check"]["pieceLength"], 512);
        assert_eq!(json["files"][0]["urlPath"], "/static/redundancy/a-360.mp4");
        assert_eq!(serde_json::from_value::<FetchOrder>(json).unwrap(), order);
        let report = FetchReport { id: "x".into(), state: FetchState::Failed, done_bytes: 1, total_bytes: 2, reason: Some("disk full".into()) };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["state"], "failed");
        assert_eq!(serde_json::from_value::<FetchReport>(json).unwrap(), report);
        let kept = crate::channel::ControlMessage::Kept(Kept { ids: vec!["a".into()] });
        assert_eq!(serde_json::to_value(&kept).unwrap(), serde_json::json!({ "type": "kept", "ids": ["a"] }));
        let seg = FileCheck::Segments { segments: vec![SegmentHash { start: 0, end: 9, sha256: "ab".repeat(32) }], piece_length: None, sha1: vec![] };
        assert_eq!(serde_json::from_str::<FileCheck>(&serde_json::to_string(&seg).unwrap()).unwrap(), seg);
        for check in [seg, FileCheck::Pieces { piece_length: 1, sha1: vec![] }, FileCheck::Sha256 { sha256: String::new() }] {
            assert_eq!(serde_json::to_value(&check).unwrap()["kind"], check.kind(), "kind() names the wire's tag");
        }
    }
}

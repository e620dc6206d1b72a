//! The records the store hands out, and their decoding from table rows (checked: a row that
//! does not decode is reported as [`StoreError::Corrupt`], never a panic).

use vidseed_shared::InfoHash;

use super::StoreError;

/// One published video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoRecord {
    /// Library-relative, '/'-separated; unique.
    pub path: String,
    pub name: String,
    pub size: u64,
    pub mtime_ms: i64,
    pub content_type: String,
    pub piece_length: u64,
    pub info_hash: InfoHash,
    /// The bencoded info dictionary.
    pub info: Vec<u8>,
    pub added_at_ms: i64,
}

/// What a change-log entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The video at `path` was added, changed or removed (the videos table has its current state).
    Video,
    /// A setting changed (`path` names it).
    Settings,
}

impl ChangeKind {
    /// The name kept in the `changes.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Video => "video",
            ChangeKind::Settings => "settings",
        }
    }

    fn from_column(s: &str) -> Option<ChangeKind> {
        match s {
            "video" => Some(ChangeKind::Video),
            "settings" => Some(ChangeKind::Settings),
            _ => None,
        }
    }
}

/// One entry of the change log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub seq: u64,
    pub kind: ChangeKind,
    pub path: String,
}

/// A data node and what it last reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub name: String,
    pub public_url: String,
    /// Hex SHA-256 of the node's bearer token (the token itself is never stored).
    pub token_sha256: String,
    pub revoked: bool,
    pub created_at_ms: i64,
    /// The folders the node said it serves, from its last hello.
    pub folders: Vec<String>,
    /// When the node last said hello, acknowledged or sent statistics.
    pub last_seen_ms: Option<i64>,
    /// The last change-log seq the node acknowledged.
    pub acked_seq: Option<u64>,
    /// (path, reason) of the videos the node could not serve, from its last acknowledgement.
    pub rejected: Vec<(String, String)>,
    pub stats_json: Option<String>,
    pub stats_at_ms: Option<i64>,
}

/// u64 → the signed 64-bit integer the database keeps.
pub(super) fn to_i64(what: &'static str, v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

pub(super) fn to_u64(what: &str, key: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("{what} of {key:?} is negative ({v})")))
}

/// A `videos` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct VideoRow {
    path: String,
    name: String,
    size: i64,
    mtime_ms: i64,
    content_type: String,
    piece_length: i64,
    info_hash: Vec<u8>,
    info: Vec<u8>,
    added_at_ms: i64,
}

impl VideoRow {
    pub(super) fn into_record(self) -> Result<VideoRecord, StoreError> {
        let size = to_u64("videos.size", &self.path, self.size)?;
        let piece_length = to_u64("videos.piece_length", &self.path, self.piece_length)?;
        let hash: [u8; 20] = self.info_hash.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "videos.info_hash of {:?} has {} bytes, not 20",
                self.path,
                self.info_hash.len()
            ))
        })?;
        Ok(VideoRecord {
            path: self.path,
            name: self.name,
            size,
            mtime_ms: self.mtime_ms,
            content_type: self.content_type,
            piece_length,
            info_hash: InfoHash(hash),
            info: self.info,
            added_at_ms: self.added_at_ms,
        })
    }
}

/// A `changes` row as stored.
#[derive(sqlx::FromRow)]
pub(super) struct ChangeRow {
    seq: i64,
    kind: String,
    path: String,
}

impl ChangeRow {
    pub(super) fn into_change(self) -> Result<Change, StoreError> {
        let seq = u64::try_from(self.seq)
            .map_err(|_| StoreError::Corrupt(format!("changes.seq is negative ({})", self.seq)))?;
        let kind = ChangeKind::from_column(&self.kind).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "changes.kind of seq {seq} is unknown: {:?}",
                self.kind
            ))
        })?;
        Ok(Change {
            seq,
            kind,
            path: self.path,
        })
    }
}

/// A `nodes` row as stored (lists as JSON text).
#[derive(sqlx::FromRow)]
pub(super) struct NodeRow {
    name: String,
    public_url: String,
    token_sha256: String,
    revoked: bool,
    created_at_ms: i64,
    folders: String,
    last_seen_ms: Option<i64>,
    acked_seq: Option<i64>,
    rejected: String,
    stats_json: Option<String>,
    stats_at_ms: Option<i64>,
}

impl NodeRow {
    pub(super) fn into_record(self) -> Result<NodeRecord, StoreError> {
        let folders: Vec<String> = serde_json::from_str(&self.folders).map_err(|e| {
            StoreError::Corrupt(format!(
                "nodes.folders of {:?} is not a list of strings: {e}",
                self.name
            ))
        })?;
        let rejected: Vec<(String, String)> =
            serde_json::from_str(&self.rejected).map_err(|e| {
                StoreError::Corrupt(format!(
                    "nodes.rejected of {:?} is not a list of [path, reason]: {e}",
                    self.name
                ))
            })?;
        let acked_seq = match self.acked_seq {
            Some(v) => Some(to_u64("nodes.acked_seq", &self.name, v)?),
            None => None,
        };
        Ok(NodeRecord {
            name: self.name,
            public_url: self.public_url,
            token_sha256: self.token_sha256,
            revoked: self.revoked,
            created_at_ms: self.created_at_ms,
            folders,
            last_seen_ms: self.last_seen_ms,
            acked_seq,
            rejected,
            stats_json: self.stats_json,
            stats_at_ms: self.stats_at_ms,
        })
    }
}

/// JSON text of a list of strings or string pairs, as kept in the `nodes` table.
pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    // Serializing strings and tuples of strings cannot fail.
    serde_json::to_string(items).unwrap_or_else(|_| String::from("[]"))
}

//! The catalog channel between a control plane and its data nodes: the messages both ends send
//! once QUIC has connected them, and their framing (a 4-byte big-endian length, then JSON).
//! Pure: no I/O; the planes read and write frames with their own streams.
//!
//! A session: the node sends [`NodeMessage::Hello`] (protocol version, name, token, the library
//! folders it holds, and where it stopped last time); the control plane answers
//! [`ControlMessage::Welcome`] or [`ControlMessage::Refused`], then sends numbered
//! [`ControlMessage::Update`]s — a snapshot first unless the node can resume, then deltas as the
//! library changes. The node applies each atomically and acknowledges it with
//! [`NodeMessage::Ack`]; it reports [`NodeStats`] at the interval the welcome names.

use serde::{Deserialize, Serialize};

use crate::InfoHash;

/// Bumped on every incompatible change of the messages below; checked at hello.
pub const CHANNEL_VERSION: u32 = 1;

/// The QUIC application protocol name both ends require.
pub const ALPN: &[u8] = b"vidseed-channel/1";

/// The largest frame either end accepts (a snapshot of 100 000 files is about 30 MB).
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Where a data node listens (WebSeeds and tracker) when its `[node]` section names no `listen`
/// and no `--listen` is given; the configuration `vidseed admin node add` writes says so.
pub const DEFAULT_NODE_LISTEN: std::net::SocketAddr =
    std::net::SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 9001));

/// What a data node says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeMessage {
    /// The first message of every connection.
    Hello {
        version: u32,
        node: String,
        token: String,
        /// Library folders this node holds ("" is the whole library; "movies" holds
        /// `movies/…`).
        folders: Vec<String>,
        /// Where the node stopped: it then gets only the changes after `seq`, or a snapshot if
        /// the control plane's log no longer has them (or is another log).
        resume: Option<Resume>,
        /// Where viewers reach the node, used when the admin registered it without a URL.
        #[serde(default)]
        public_url: Option<String>,
        /// What the node understands beyond the catalog (e.g. [`crate::fetch::FETCH_CAPABILITY`]:
        /// it holds a cache folder and takes fetch orders). Absent from older nodes: none.
        #[serde(default)]
        capabilities: Vec<String>,
    },
    /// Update `seq` is applied: what the node now serves.
    Ack { seq: u64, files_served: usize, rejected: Vec<RejectedFile> },
    /// The node's counters (totals since it started) and its disk.
    Stats(NodeStats),
    /// How a copy ordered by [`ControlMessage::Fetch`] is going.
    FetchReport(crate::fetch::FetchReport),
}

/// A file the node could not serve (missing, replaced or truncated on its disk, or refused), named
/// in a [`NodeMessage::Ack`]; `url_path` `*` stands for the whole update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedFile {
    pub url_path: String,
    pub reason: String,
}

/// A node's position in the control plane's change log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The log's identity (a control plane with a new database has another).
    pub log_id: String,
    pub seq: u64,
}

/// What a node reports at each interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// WebSeed body bytes sent.
    pub bytes_served: u64,
    /// HTTP requests answered.
    pub requests: u64,
    /// Requests answered with a 5xx status, and files the node could not serve.
    pub errors: u64,
    /// Tracker peers and swarms now.
    pub peers: u64,
    pub swarms: u64,
    /// Tracker messages received since the node started, and per second since the last report
    /// (absent in reports of older nodes: 0).
    #[serde(default)]
    pub tracker_messages: u64,
    #[serde(default)]
    pub tracker_messages_per_sec: u64,
    /// Free bytes on the disk of the node's first folder.
    pub disk_free_bytes: u64,
}

/// What the control plane says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    Welcome { version: u32, log_id: String, stats_interval_secs: u32 },
    /// The node is not let in; the connection closes after this.
    Refused { reason: String },
    /// One update, to be applied atomically and acknowledged.
    Update { seq: u64, update: NodeUpdate },
    /// Make (or resume) a copy and serve it (nodes that named the fetch capability only).
    Fetch { order: crate::fetch::FetchOrder },
    /// Stop serving a copy and delete its files.
    Discard(crate::fetch::Discard),
    /// The copies the control plane keeps (to nodes that named the kept capability, after the
    /// orders when they connect): the node deletes any other copy it holds.
    Kept(crate::fetch::Kept),
}

/// One atomic change of what a node serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeUpdate {
    /// Replace everything: the files this node holds, the library's other videos (tracked but
    /// not served here), info-hashes allowed beyond the library, and the tracker settings.
    Snapshot {
        files: Vec<PublishedFile>,
        tracked: Vec<TrackedVideo>,
        extra_info_hashes: Vec<InfoHash>,
        tracker: TrackerSettings,
    },
    /// Apply these changes, in order.
    Delta { changes: Vec<Change> },
}

/// One change within a delta.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A file this node holds was added or changed: serve it and track its info-hash.
    Upsert { file: PublishedFile },
    /// A library video this node does not hold was added or changed: track it only.
    Track { video: TrackedVideo },
    /// The library video at this path is gone: neither served nor tracked any more.
    Remove { path: String },
    /// Track an info-hash that is not the library's (e.g. a video cached for another instance).
    AllowInfoHash { info_hash: InfoHash },
    RevokeInfoHash { info_hash: InfoHash },
    Tracker { settings: TrackerSettings },
}

/// A library video a node tracks without serving it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedVideo {
    pub path: String,
    pub info_hash: InfoHash,
}

/// The tracker settings the control plane decides for all its nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerSettings {
    /// Track any info-hash, not only the library's.
    pub open: bool,
}

/// A file as the control plane publishes it, independent of any node's disk: each node finds it
/// under its own folder for `path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedFile {
    /// Library path: relative, '/'-separated (`movies/a.mp4`).
    pub path: String,
    /// The decoded URL path it is served at (`/static/webseed/movies/a.mp4`).
    pub url_path: String,
    pub size: u64,
    /// Strong entity tag, quotes included.
    pub etag: String,
    /// Seconds since the Unix epoch.
    pub last_modified: u64,
    pub content_type: String,
    pub info_hash: InfoHash,
}

/// Whether library path `path` lies in library folder `folder` ("" holds everything).
pub fn folder_holds(folder: &str, path: &str) -> bool {
    let folder = folder.trim_matches('/');
    folder.is_empty() || path.strip_prefix(folder).is_some_and(|rest| rest.starts_with('/'))
}

/// Why a frame cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME}")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// The 4-byte length prefix of a frame whose body is `len` bytes.
pub fn frame_header(len: usize) -> Result<[u8; 4], FrameError> {
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(u32::try_from(len).map_err(|_| FrameError::TooLarge(len))?.to_be_bytes())
}

/// The body length a frame header announces, refused above [`MAX_FRAME`].
pub fn frame_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok(len)
}

/// A message as one frame: header and JSON body.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    // Serializing these types cannot fail (string keys, no non-finite floats).
    serde_json::to_writer(&mut out, msg).unwrap_or_default();
    let len = out.len() - 4;
    let header = frame_header(len).unwrap_or([0xff; 4]);
    out[..4].copy_from_slice(&header);
    out
}

/// Decodes a frame's body.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// Splits the first complete frame off `buf`: the message and the bytes it took, or `None`
/// when more bytes are needed.
pub fn decode_frame<'a, T: Deserialize<'a>>(buf: &'a [u8]) -> Result<Option<(T, usize)>, FrameError> {
    let Some(header) = buf.get(..4) else { return Ok(None) };
    let len = frame_len([header[0], header[1], header[2], header[3]])?;
    let Some(body) = buf.get(4..4 + len) else { return Ok(None) };
    Ok(Some((decode(body)?, 4 + len)))
}

/// Fuzz entry: any bytes, as either end would read them; must never panic.
pub fn fuzz_one(data: &[u8]) {
    let _ = decode_frame::<NodeMessage>(data);
    if let Ok(Some((msg, used))) = decode_frame::<ControlMessage>(data) {
        assert!(used <= data.len());
        let again = encode(&msg);
        assert_eq!(decode_frame::<ControlMessage>(&again), Ok(Some((msg, again.len()))));
    }
}

#[cfg(test)]
mod tests;

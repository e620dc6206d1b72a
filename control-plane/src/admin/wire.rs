//! The admin API's bodies (`/api/v1/admin/…`), pure data: one type for each request
//! `vidseed admin` sends and each answer the control plane gives, written by the server
//! (`http/admin.rs`, `http/admin_redundancy.rs`) and read by the client (`admin/client.rs`,
//! the tables). Field names are the JSON's (camelCase). The videos and the hashing progress are
//! the library's own types ([`Video`], [`Progress`]), re-exported here; fetch orders are the
//! planes' contract ([`FetchOrder`]).
//!
//! Requests are read as leniently as the server always read them: a body that is not an object
//! counts as an empty one, and a field of another type than expected is kept as
//! [`Field::Wrong`], so the handler says what is wrong with it. Answers the client reads accept
//! missing optional fields. The server sends every body through [`to_json`], so its text is a
//! JSON object with keys in sorted order.

use serde::de::{DeserializeOwned, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::library::Progress;
pub use crate::video::Video;
pub use vidseed_shared::fetch::FetchOrder;

/// A body as the server sends it: the JSON value (objects' keys sorted), whose text is the body.
pub fn to_json<T: Serialize>(body: &T) -> Value {
    serde_json::to_value(body).unwrap_or_else(|e| {
        // Only a map with non-string keys fails, and no type here has one.
        tracing::error!("admin API: cannot encode an answer: {e}");
        Value::Null
    })
}

/// A request body as the server reads it: a JSON object's fields, anything else an empty
/// request.
pub fn request<T: DeserializeOwned + Default>(body: Value) -> T {
    if body.is_object() {
        serde_json::from_value(body).unwrap_or_default()
    } else {
        T::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Every error answer of the control plane's HTTP server (`http/error.rs`): what went wrong, the
/// status again, and what to do when there is something. The final error event of `add`'s
/// stream carries no status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// One field of a request: not sent, sent with the expected type, or sent with another (kept
/// as sent, `null` included, for the server to judge).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    #[default]
    Absent,
    Given(T),
    Wrong(Value),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// The value when it has the expected type.
    pub fn given(self) -> Option<T> {
        match self {
            Field::Given(v) => Some(v),
            _ => None,
        }
    }

    /// A field to send: given when there is a value, absent otherwise.
    pub fn from_option(v: Option<T>) -> Self {
        v.map_or(Field::Absent, Field::Given)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Absent => s.serialize_none(),
            Field::Given(v) => v.serialize(s),
            Field::Wrong(v) => v.serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(match T::deserialize(&v) {
            Ok(t) => Field::Given(t),
            Err(_) => Field::Wrong(v),
        })
    }
}

/// `POST videos`: a file or folder to publish (absolute on the control plane's host, or in its
/// library).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AddVideos {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub path: Field<String>,
}

/// `POST nodes`: a data node to register. No `publicUrl`: the node's hello gives it; no
/// `folders` (or `null`): the whole library.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddNode {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub name: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub public_url: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub folders: Field<Vec<String>>,
}

/// `POST following`, `POST blocklist`, `POST redundancy/hosts`: an instance, by host.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HostRequest {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub host: Field<String>,
}

/// `POST followers/accept`, `POST followers/reject`: a follower, by actor URL.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActorRequest {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub actor: Field<String>,
}

/// `POST redundancy`: a followed instance's video to copy, by its URL at its origin.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddCopy {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub video_url: Field<String>,
}

/// `PUT federation`: the settings to change (booleans), the others kept.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederationChange {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub auto_follow_back: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub manual_approval: Field<bool>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub reject_followers: Field<bool>,
}

/// `PUT redundancy/strategies`: the whole list of strategies, who may keep copies of our
/// videos, or both. The strategies are read by the redundancy engine's configuration
/// (`redundancy/config.rs`), which also takes sizes and durations as text (`"10GB"`,
/// `"25 hours"`); the client sends [`StrategyInfo`]s.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedundancyChange {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub strategies: Field<Value>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub accept_from: Field<String>,
}

// ---------------------------------------------------------------------------------------------
// Answers: the library and the data nodes
// ---------------------------------------------------------------------------------------------

/// `GET videos`: every video of the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoList {
    pub videos: Vec<Video>,
}

/// The outcome of `POST videos`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddResult {
    #[serde(default)]
    pub added: Vec<Video>,
    /// Paths already published as they are.
    #[serde(default)]
    pub unchanged: Vec<String>,
    #[serde(default)]
    pub failed: Vec<AddFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddFailure {
    pub path: String,
    pub error: String,
}

/// One line of `POST videos`' answer (ndjson): `{"progress": …}` while hashing, then one final
/// `{"result": …}` or `{"error": …, "hint": …}` (the hint `null` when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddEvent {
    Progress(Progress),
    Result(AddResult),
    Error(ErrorBody),
}

/// Why a JSON object is not an [`AddEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// None of the events (newer servers may add some).
    Unrecognized,
    /// The event named by its key, with a body that does not fit.
    Malformed { kind: &'static str, detail: String },
}

impl AddEvent {
    /// The event a decoded line stands for.
    pub fn from_json(value: Value) -> Result<AddEvent, EventError> {
        let malformed = |kind, e: serde_json::Error| EventError::Malformed { kind, detail: e.to_string() };
        let Value::Object(mut map) = value else { return Err(EventError::Unrecognized) };
        if let Some(p) = map.remove("progress") {
            return Progress::deserialize(p).map(AddEvent::Progress).map_err(|e| malformed("progress", e));
        }
        if let Some(r) = map.remove("result") {
            return AddResult::deserialize(r).map(AddEvent::Result).map_err(|e| malformed("result", e));
        }
        if map.contains_key("error") {
            return ErrorBody::deserialize(Value::Object(map)).map(AddEvent::Error).map_err(|e| malformed("error", e));
        }
        Err(EventError::Unrecognized)
    }
}

impl Serialize for AddEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match self {
            AddEvent::Progress(p) => map.serialize_entry("progress", p)?,
            AddEvent::Result(r) => map.serialize_entry("result", r)?,
            AddEvent::Error(e) => {
                map.serialize_entry("error", &e.error)?;
                map.serialize_entry("hint", &e.hint)?;
                if let Some(status) = e.status {
                    map.serialize_entry("status", &status)?;
                }
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AddEvent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AddEvent::from_json(Value::deserialize(d)?).map_err(|e| match e {
            EventError::Unrecognized => serde::de::Error::custom("not a progress, result or error event"),
            EventError::Malformed { kind, detail } => serde::de::Error::custom(format!("malformed {kind} event ({detail})")),
        })
    }
}

/// `DELETE videos?path=`: the library paths no longer published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub removed: Vec<String>,
}

/// `GET nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeList {
    pub nodes: Vec<NodeInfo>,
}

/// A data node as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    pub public_url: String,
    /// `connected`, `disconnected`, `revoked` or `never connected`.
    pub state: String,
    /// Library-relative folders the node holds; `""` is the whole library.
    #[serde(default)]
    pub folders: Vec<String>,
    /// The catalog version the node has acknowledged.
    pub catalog_seq: Option<u64>,
    /// The newest catalog version.
    pub latest_seq: u64,
    /// Unix time in milliseconds.
    pub last_seen: Option<u64>,
    /// The library's files it serves.
    pub files: u64,
    /// The files it could not serve, at its last acknowledgement.
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub stats: Option<NodeStats>,
}

/// The counters a node last reported (the channel's stats message); a counter it did not
/// report is `None` and left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_served: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swarms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracker_messages: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracker_messages_per_sec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_free_bytes: Option<u64>,
    /// Unix time in milliseconds of the report.
    pub at: Option<u64>,
}

/// The answer to `POST nodes`: the new node's credentials and its config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewNode {
    pub name: String,
    pub token: String,
    /// The channel certificate's fingerprint.
    #[serde(deserialize_with = "text_or_scalar")]
    pub pin: String,
    /// The channel's address as data nodes reach it.
    #[serde(deserialize_with = "text_or_scalar")]
    pub control: String,
    #[serde(default)]
    pub public_url: String,
    #[serde(default)]
    pub folders: Vec<String>,
    /// The TOML text of the data node's config file.
    pub config: String,
}

/// `DELETE nodes/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub revoked: String,
}

/// `GET settings`: the instance as it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub instance: InstanceSettings,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub library_folder: String,
    pub channel: ChannelSettings,
    pub tracker: TrackerSettings,
    pub videos: u64,
    pub nodes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSettings {
    pub control_url: String,
    /// The data plane's URL when the tracker is fixed; `null` when each video's is a node's.
    pub data_url: Option<String>,
    pub trackers: Vec<String>,
    /// `fixed`, or how a serving node's tracker is chosen.
    pub tracker_choice: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSettings {
    pub address: String,
    pub pin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerSettings {
    /// Whether the tracker takes swarms of any info-hash.
    pub open: bool,
}

// ---------------------------------------------------------------------------------------------
// Answers: federation
// ---------------------------------------------------------------------------------------------

/// A follow, either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowInfo {
    pub actor: String,
    pub host: String,
    /// `pending`, `accepted` or `rejected`.
    pub state: String,
    /// The remote's delivery health.
    pub score: i64,
    /// Unix time in milliseconds.
    pub since: i64,
}

/// `GET following`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Following {
    pub following: Vec<FollowInfo>,
}

/// `GET followers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followers {
    pub followers: Vec<FollowInfo>,
}

/// `POST following`: the follow as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Followed {
    pub actor: String,
    pub host: String,
    pub state: String,
}

/// `DELETE following?host=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfollowed {
    pub unfollowed: String,
}

/// `POST followers/accept` and `followers/reject`: the follower and `accepted` or `rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowerAnswered {
    pub actor: String,
    pub state: String,
}

/// `GET blocklist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockList {
    pub hosts: Vec<String>,
}

/// `POST blocklist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub blocked: String,
}

/// `DELETE blocklist?host=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unblocked {
    pub unblocked: String,
}

/// `GET` and `PUT federation`: how followers are answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FederationSettings {
    pub auto_follow_back: bool,
    pub manual_approval: bool,
    pub reject_followers: bool,
}

/// `GET deliveries[?host=]`: the activities waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryInfo {
    pub activity_id: String,
    pub inbox: String,
    pub host: String,
    pub attempts: u64,
    /// Unix time in milliseconds of the next attempt.
    pub next_at: i64,
    pub last_error: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Answers: redundancy
// ---------------------------------------------------------------------------------------------

/// A copy, as `GET redundancy` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyInfo {
    /// The CacheFile id.
    pub id: String,
    pub video_url: String,
    #[serde(default)]
    pub video_name: Option<String>,
    /// `web-video` or `hls`.
    pub kind: String,
    #[serde(default)]
    pub resolution: Option<u32>,
    #[serde(default)]
    pub fps: Option<u32>,
    pub size: u64,
    /// `manual` or the strategy's name.
    pub strategy: String,
    /// `preparing`, `downloading`, `verifying`, `serving` or `failed`.
    pub state: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// The nodes serving it.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// ISO 8601; `null`: kept until removed.
    #[serde(default)]
    pub expires: Option<String>,
    /// The same, in Unix milliseconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Whether its origin was told (Create CacheFile).
    #[serde(default)]
    pub announced: bool,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    /// Failures in a row so far.
    #[serde(default)]
    pub attempts: u32,
    /// ISO 8601: when a failed copy is tried again.
    #[serde(default)]
    pub retry_at: Option<String>,
    /// No more tries (until the admin adds it again).
    #[serde(default)]
    pub gave_up: bool,
}

/// `GET redundancy`, and `POST redundancy` (the new video's copies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyList {
    pub copies: Vec<CopyInfo>,
}

/// `DELETE redundancy?videoUrl=`: how many copies of the video were removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopiesRemoved {
    pub video_url: String,
    pub removed: u64,
}

/// A followed instance and whether its videos may be copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub host: String,
    pub allowed: bool,
    #[serde(default)]
    pub followed: bool,
}

/// `GET redundancy/hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostList {
    pub hosts: Vec<HostInfo>,
}

/// `POST redundancy/hosts` and `DELETE redundancy/hosts?host=` (which says how many copies
/// went with the permission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostPermission {
    pub host: String,
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_copies: Option<u64>,
}

/// One strategy: sizes in bytes, durations in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyInfo {
    /// `most-views`, `trending` or `recently-added`.
    pub strategy: String,
    pub size: u64,
    pub min_lifetime: u64,
    /// `recently-added` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_views: Option<u64>,
}

/// `GET` and `PUT redundancy/strategies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedundancySettings {
    pub strategies: Vec<StrategyInfo>,
    /// `nobody`, `anybody` or `followings`.
    pub accept_from: String,
    /// Seconds between two runs of the strategies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_interval: Option<u64>,
}

/// `GET redundancy/orders`: the fetch orders the data nodes get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderList {
    pub orders: Vec<FetchOrder>,
}

/// A copy another instance keeps of one of this instance's videos.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedCopy {
    /// The CacheFile id.
    pub id: String,
    /// The instance actor keeping it.
    pub actor: String,
    pub video_url: String,
    /// Hex.
    pub info_hash: String,
    /// Where it is served.
    pub href: String,
    /// ISO 8601; `null`: no end.
    pub expires: Option<String>,
    /// Whether its bytes were checked against ours (only then is it advertised).
    pub verified: bool,
}

/// `GET redundancy/received`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedList {
    pub received: Vec<ReceivedCopy>,
}

/// A followed instance's video known here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteVideoInfo {
    pub url: String,
    pub name: String,
    pub host: String,
    /// ISO 8601, as the origin wrote it.
    pub published: String,
    pub views: u64,
    /// Bytes of all its files.
    pub size: u64,
    pub web_videos: u64,
    pub hls: bool,
    /// Whether this instance keeps a copy of it.
    pub copied: bool,
}

/// `GET redundancy/videos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteVideoList {
    pub videos: Vec<RemoteVideoInfo>,
}

/// Accepts a string as it is and any other JSON value as its JSON text.
fn text_or_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

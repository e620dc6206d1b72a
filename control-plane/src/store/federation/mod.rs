//! The federation state: remote actors as last fetched, follows in both directions with their
//! health score, the blocked hosts, the inbox of received activities and the queue of
//! deliveries. Does I/O, like the rest of the store: every writing method is one transaction.
//!
//! Delivery works by leases: a worker claims due rows (which pushes their next attempt past the
//! lease), posts them, then reports success or failure. A worker that crashes mid-delivery
//! reports nothing, and its rows come back once the lease ends, so nothing is lost; a row may
//! then be sent twice, which receivers tolerate (activities carry ids).

use super::records::to_u64;
use super::{Backend, Store, StoreError};

/// A follow's score when it is created.
pub const FOLLOW_SCORE_START: i64 = 1000;
/// The highest score a follow can reach.
pub const FOLLOW_SCORE_MAX: i64 = 10_000;

/// A remote actor, as last fetched.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RemoteActor {
    /// The actor's id; unique.
    pub url: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub public_key_pem: String,
    /// The `publicKey.id` the actor advertises (HTTP signatures may name it or the actor URL).
    pub key_id: String,
    pub fetched_at_ms: i64,
}

/// Who follows whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FollowDirection {
    /// The remote actor follows us.
    Follower,
    /// We follow the remote actor.
    Following,
}

impl FollowDirection {
    /// The name kept in the `follows.direction` column.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowDirection::Follower => "follower",
            FollowDirection::Following => "following",
        }
    }

    fn from_column(s: &str) -> Option<FollowDirection> {
        match s {
            "follower" => Some(FollowDirection::Follower),
            "following" => Some(FollowDirection::Following),
            _ => None,
        }
    }
}

/// Where a follow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FollowState {
    Pending,
    Accepted,
    Rejected,
}

impl FollowState {
    /// The name kept in the `follows.state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowState::Pending => "pending",
            FollowState::Accepted => "accepted",
            FollowState::Rejected => "rejected",
        }
    }

    fn from_column(s: &str) -> Option<FollowState> {
        match s {
            "pending" => Some(FollowState::Pending),
            "accepted" => Some(FollowState::Accepted),
            "rejected" => Some(FollowState::Rejected),
            _ => None,
        }
    }
}

/// A follow, in either direction; unique by (direction, actor_url).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowRecord {
    pub direction: FollowDirection,
    /// The remote actor: the follower, or the one we follow.
    pub actor_url: String,
    /// The remote actor's host, as the caller gave it (the score is kept per host).
    pub host: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub state: FollowState,
    /// The id of the Follow activity (ours for `Following`, theirs for `Follower`).
    pub follow_activity_id: String,
    /// The remote's delivery health: starts at [`FOLLOW_SCORE_START`], at most
    /// [`FOLLOW_SCORE_MAX`]; only [`Store::add_follow_score`] changes it.
    pub score: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A received activity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxItem {
    pub id: u64,
    /// The activity's `id`, when it had one.
    pub activity_id: Option<String>,
    /// The actor whose signature the request carried.
    pub actor: String,
    /// The request body, as received.
    pub body: String,
    pub received_at_ms: i64,
    pub processed_at_ms: Option<i64>,
    /// Why processing failed, when it did (the last failure while it is retried).
    pub error: Option<String>,
    /// Tries that failed for a passing reason so far.
    pub attempts: u64,
    /// When the next try is due, while one is scheduled.
    pub next_attempt_ms: Option<i64>,
}

/// One activity to be posted to one inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: u64,
    pub activity_id: String,
    pub inbox_url: String,
    pub host: String,
    /// The request body to post.
    pub body: String,
    /// How many times the row was claimed: attempts begun, including any a crashed worker
    /// never finished.
    pub attempts: u64,
    /// When the row is next due (while claimed: when the claim's lease ends).
    pub next_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
    pub gave_up_at_ms: Option<i64>,
}

macro_rules! remote_actor_columns {
    () => {
        "url, inbox, shared_inbox, public_key_pem, key_id, fetched_at_ms"
    };
}

macro_rules! follow_columns {
    () => {
        "direction, actor_url, host, inbox, shared_inbox, state, follow_activity_id, score, \
         created_at_ms, updated_at_ms"
    };
}

macro_rules! inbox_columns {
    () => {
        "id, activity_id, actor, body, received_at_ms, processed_at_ms, error, attempts, next_attempt_ms"
    };
}

macro_rules! delivery_columns {
    () => {
        "id, activity_id, inbox_url, host, body, attempts, next_at_ms, last_error, \
         created_at_ms, delivered_at_ms, gave_up_at_ms"
    };
}

/// The rows a delivery must satisfy to be claimed at `$1`.
macro_rules! due_delivery {
    () => {
        "delivered_at_ms IS NULL AND gave_up_at_ms IS NULL AND next_at_ms <= $1"
    };
}

/// A `follows` row as stored.
#[derive(sqlx::FromRow)]
struct FollowRow {
    direction: String,
    actor_url: String,
    host: String,
    inbox: String,
    shared_inbox: Option<String>,
    state: String,
    follow_activity_id: String,
    score: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl FollowRow {
    fn into_record(self) -> Result<FollowRecord, StoreError> {
        let direction = FollowDirection::from_column(&self.direction).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "follows.direction of {:?} is unknown: {:?}",
                self.actor_url, self.direction
            ))
        })?;
        let state = FollowState::from_column(&self.state).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "follows.state of {:?} is unknown: {:?}",
                self.actor_url, self.state
            ))
        })?;
        Ok(FollowRecord {
            direction,
            actor_url: self.actor_url,
            host: self.host,
            inbox: self.inbox,
            shared_inbox: self.shared_inbox,
            state,
            follow_activity_id: self.follow_activity_id,
            score: self.score,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

/// An `inbox` row as stored.
#[derive(sqlx::FromRow)]
struct InboxRow {
    id: i64,
    activity_id: Option<String>,
    actor: String,
    body: String,
    received_at_ms: i64,
    processed_at_ms: Option<i64>,
    error: Option<String>,
    attempts: i64,
    next_attempt_ms: Option<i64>,
}

impl InboxRow {
    fn into_item(self) -> Result<InboxItem, StoreError> {
        Ok(InboxItem {
            id: row_id("inbox", self.id)?,
            activity_id: self.activity_id,
            actor: self.actor,
            body: self.body,
            received_at_ms: self.received_at_ms,
            processed_at_ms: self.processed_at_ms,
            attempts: to_u64("inbox.attempts", &self.id.to_string(), self.attempts)?,
            error: self.error,
            next_attempt_ms: self.next_attempt_ms,
        })
    }
}

/// A `deliveries` row as stored.
#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    activity_id: String,
    inbox_url: String,
    host: String,
    body: String,
    attempts: i64,
    next_at_ms: i64,
    last_error: Option<String>,
    created_at_ms: i64,
    delivered_at_ms: Option<i64>,
    gave_up_at_ms: Option<i64>,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery, StoreError> {
        let id = row_id("deliveries", self.id)?;
        let attempts = to_u64("deliveries.attempts", &id.to_string(), self.attempts)?;
        Ok(Delivery {
            id,
            activity_id: self.activity_id,
            inbox_url: self.inbox_url,
            host: self.host,
            body: self.body,
            attempts,
            next_at_ms: self.next_at_ms,
            last_error: self.last_error,
            created_at_ms: self.created_at_ms,
            delivered_at_ms: self.delivered_at_ms,
            gave_up_at_ms: self.gave_up_at_ms,
        })
    }
}

fn row_id(table: &str, id: i64) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("{table}.id is negative ({id})")))
}

/// A count, offset or limit for SQL: anything beyond i64::MAX means "all" anyway.
fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn follows_from(rows: Vec<FollowRow>) -> Result<Vec<FollowRecord>, StoreError> {
    rows.into_iter().map(FollowRow::into_record).collect()
}

fn deliveries_from(rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, StoreError> {
    rows.into_iter().map(DeliveryRow::into_delivery).collect()
}

mod actors;
mod deliveries;
mod follows;
mod inbox;

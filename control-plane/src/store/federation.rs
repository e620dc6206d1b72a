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

impl Store {
    // ---- remote actors ----

    /// Adds or replaces (by URL) a remote actor, storing every field as given.
    pub async fn put_remote_actor(&self, actor: &RemoteActor) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO remote_actors (",
                remote_actor_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (url) DO UPDATE SET inbox = excluded.inbox, \
                 shared_inbox = excluded.shared_inbox, public_key_pem = excluded.public_key_pem, \
                 key_id = excluded.key_id, fetched_at_ms = excluded.fetched_at_ms"
            ))
            .bind(&actor.url)
            .bind(&actor.inbox)
            .bind(&actor.shared_inbox)
            .bind(&actor.public_key_pem)
            .bind(&actor.key_id)
            .bind(actor.fetched_at_ms)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn remote_actor(&self, url: &str) -> Result<Option<RemoteActor>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                remote_actor_columns!(),
                " FROM remote_actors WHERE url = $1"
            ))
            .bind(url)
            .fetch_optional(db)
            .await?
        }))
    }

    /// The actor advertising this key id (the most recently fetched, should several).
    pub async fn remote_actor_by_key_id(
        &self,
        key_id: &str,
    ) -> Result<Option<RemoteActor>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                remote_actor_columns!(),
                " FROM remote_actors WHERE key_id = $1 ORDER BY fetched_at_ms DESC, url LIMIT 1"
            ))
            .bind(key_id)
            .fetch_optional(db)
            .await?
        }))
    }

    // ---- follows ----

    /// Inserts the follow, or updates the stored one (same direction and actor): its host,
    /// inboxes, state, Follow activity id and `updated_at_ms`. Returns the row now stored. The
    /// record's `score` is ignored (a new follow starts at [`FOLLOW_SCORE_START`], an existing
    /// one keeps its own), and so is `created_at_ms` when the follow already exists.
    pub async fn upsert_follow(&self, f: &FollowRecord) -> Result<FollowRecord, StoreError> {
        let row: FollowRow = write_tx!(self, |tx| {
            sqlx::query_as(concat!(
                "INSERT INTO follows (direction, actor_url, host, inbox, shared_inbox, state, \
                 follow_activity_id, score, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (direction, actor_url) DO UPDATE SET host = excluded.host, \
                 inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, \
                 state = excluded.state, follow_activity_id = excluded.follow_activity_id, \
                 updated_at_ms = excluded.updated_at_ms RETURNING ",
                follow_columns!()
            ))
            .bind(f.direction.as_str())
            .bind(&f.actor_url)
            .bind(&f.host)
            .bind(&f.inbox)
            .bind(&f.shared_inbox)
            .bind(f.state.as_str())
            .bind(&f.follow_activity_id)
            .bind(FOLLOW_SCORE_START)
            .bind(f.created_at_ms)
            .bind(f.updated_at_ms)
            .fetch_one(&mut *tx)
            .await?
        });
        row.into_record()
    }

    pub async fn follow(
        &self,
        direction: FollowDirection,
        actor_url: &str,
    ) -> Result<Option<FollowRecord>, StoreError> {
        let row: Option<FollowRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                follow_columns!(),
                " FROM follows WHERE direction = $1 AND actor_url = $2"
            ))
            .bind(direction.as_str())
            .bind(actor_url)
            .fetch_optional(db)
            .await?
        });
        row.map(FollowRow::into_record).transpose()
    }

    /// The follows in one direction (in one state, if given), oldest first (then by actor URL).
    pub async fn follows(
        &self,
        direction: FollowDirection,
        state: Option<FollowState>,
    ) -> Result<Vec<FollowRecord>, StoreError> {
        self.follows_page(direction, state, 0, u64::MAX).await
    }

    /// Like [`Store::follows`], skipping the first `offset` and keeping at most `limit`.
    pub async fn follows_page(
        &self,
        direction: FollowDirection,
        state: Option<FollowState>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<FollowRecord>, StoreError> {
        let rows: Vec<FollowRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                follow_columns!(),
                " FROM follows WHERE direction = $1 AND ($2 IS NULL OR state = $2) \
                 ORDER BY created_at_ms, actor_url LIMIT $3 OFFSET $4"
            ))
            .bind(direction.as_str())
            .bind(state.map(FollowState::as_str))
            .bind(saturating_i64(limit))
            .bind(saturating_i64(offset))
            .fetch_all(db)
            .await?
        });
        follows_from(rows)
    }

    /// How many follows [`Store::follows`] would list.
    pub async fn count_follows(
        &self,
        direction: FollowDirection,
        state: Option<FollowState>,
    ) -> Result<u64, StoreError> {
        let count: i64 = read!(self, |db| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM follows WHERE direction = $1 AND ($2 IS NULL OR state = $2)",
            )
            .bind(direction.as_str())
            .bind(state.map(FollowState::as_str))
            .fetch_one(db)
            .await?
        });
        u64::try_from(count).map_err(|_| StoreError::Corrupt(format!("COUNT(*) is {count}")))
    }

    /// Removes a follow; false if there was none.
    pub async fn remove_follow(
        &self,
        direction: FollowDirection,
        actor_url: &str,
    ) -> Result<bool, StoreError> {
        let removed = write_tx!(self, |tx| {
            sqlx::query("DELETE FROM follows WHERE direction = $1 AND actor_url = $2")
                .bind(direction.as_str())
                .bind(actor_url)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(removed > 0)
    }

    /// Adds `delta` to the score of every follow (either direction) of `host`, capping at
    /// [`FOLLOW_SCORE_MAX`], then deletes those whose score is 0 or less and returns them
    /// (oldest first), with the score that condemned them. A delta beyond ±FOLLOW_SCORE_MAX
    /// acts as ±FOLLOW_SCORE_MAX (the outcome is the same for every stored score).
    pub async fn add_follow_score(
        &self,
        host: &str,
        delta: i64,
    ) -> Result<Vec<FollowRecord>, StoreError> {
        let delta = delta.clamp(-FOLLOW_SCORE_MAX, FOLLOW_SCORE_MAX);
        let rows: Vec<FollowRow> = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE follows SET score = CASE WHEN score + $2 > $3 THEN $3 ELSE score + $2 END \
                 WHERE host = $1",
            )
            .bind(host)
            .bind(delta)
            .bind(FOLLOW_SCORE_MAX)
            .execute(&mut *tx)
            .await?;
            sqlx::query_as(concat!(
                "DELETE FROM follows WHERE host = $1 AND score <= 0 RETURNING ",
                follow_columns!()
            ))
            .bind(host)
            .fetch_all(&mut *tx)
            .await?
        });
        let mut removed = follows_from(rows)?;
        removed.sort_by(|a, b| {
            (a.created_at_ms, &a.actor_url, a.direction).cmp(&(
                b.created_at_ms,
                &b.actor_url,
                b.direction,
            ))
        });
        Ok(removed)
    }

    /// The follow whose Follow activity has this id (the first by direction, should several).
    pub async fn follow_by_activity_id(
        &self,
        activity_id: &str,
    ) -> Result<Option<FollowRecord>, StoreError> {
        let row: Option<FollowRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                follow_columns!(),
                " FROM follows WHERE follow_activity_id = $1 \
                 ORDER BY direction, actor_url LIMIT 1"
            ))
            .bind(activity_id)
            .fetch_optional(db)
            .await?
        });
        row.map(FollowRow::into_record).transpose()
    }

    // ---- blocked hosts ----

    /// Blocks a host; false if it already was (its original time is kept).
    pub async fn block_host(&self, host: &str, at_ms: i64) -> Result<bool, StoreError> {
        let inserted = write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO blocked_hosts (host, at_ms) VALUES ($1, $2) \
                 ON CONFLICT (host) DO NOTHING",
            )
            .bind(host)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(inserted > 0)
    }

    /// Unblocks a host; false if it was not blocked.
    pub async fn unblock_host(&self, host: &str) -> Result<bool, StoreError> {
        let removed = write_tx!(self, |tx| {
            sqlx::query("DELETE FROM blocked_hosts WHERE host = $1")
                .bind(host)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(removed > 0)
    }

    pub async fn is_blocked(&self, host: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = read!(self, |db| {
            sqlx::query_scalar("SELECT at_ms FROM blocked_hosts WHERE host = $1")
                .bind(host)
                .fetch_optional(db)
                .await?
        });
        Ok(found.is_some())
    }

    /// Remembers that the Follow `follow_activity_id` of `actor_url` was undone (idempotent).
    pub async fn record_undone_follow(&self, follow_activity_id: &str, actor_url: &str, at_ms: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO undone_follows (follow_activity_id, actor_url, at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (follow_activity_id) DO NOTHING",
            )
            .bind(follow_activity_id)
            .bind(actor_url)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Whether the Follow `follow_activity_id` was undone (perhaps before it arrived).
    pub async fn is_follow_undone(&self, follow_activity_id: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = read!(self, |db| {
            sqlx::query_scalar("SELECT at_ms FROM undone_follows WHERE follow_activity_id = $1")
                .bind(follow_activity_id)
                .fetch_optional(db)
                .await?
        });
        Ok(found.is_some())
    }

    /// Every blocked host, in order.
    pub async fn blocked_hosts(&self) -> Result<Vec<String>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_scalar("SELECT host FROM blocked_hosts ORDER BY host")
                .fetch_all(db)
                .await?
        }))
    }

    // ---- inbox ----

    /// Stores a received activity; returns its inbox id, or None if an activity with the same
    /// id was stored before (a duplicate delivery: nothing is stored).
    pub async fn store_inbox(
        &self,
        activity_id: Option<&str>,
        actor: &str,
        body: &str,
        at_ms: i64,
    ) -> Result<Option<u64>, StoreError> {
        let id: Option<i64> = write_tx!(self, |tx| {
            sqlx::query_scalar(
                "INSERT INTO inbox (activity_id, actor, body, received_at_ms) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (activity_id) WHERE activity_id IS NOT NULL DO NOTHING RETURNING id",
            )
            .bind(activity_id)
            .bind(actor)
            .bind(body)
            .bind(at_ms)
            .fetch_optional(&mut *tx)
            .await?
        });
        id.map(|id| row_id("inbox", id)).transpose()
    }

    pub async fn inbox_item(&self, id: u64) -> Result<Option<InboxItem>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let row: Option<InboxRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                inbox_columns!(),
                " FROM inbox WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(db)
            .await?
        });
        row.map(InboxRow::into_item).transpose()
    }

    /// At most `limit` activities not yet processed, oldest first.
    pub async fn unprocessed_inbox(&self, limit: u64) -> Result<Vec<InboxItem>, StoreError> {
        let rows: Vec<InboxRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                inbox_columns!(),
                " FROM inbox WHERE processed_at_ms IS NULL ORDER BY id LIMIT $1"
            ))
            .bind(saturating_i64(limit))
            .fetch_all(db)
            .await?
        });
        rows.into_iter().map(InboxRow::into_item).collect()
    }

    /// At most `limit` activities to process now: not processed yet, and not waiting for a
    /// retry later than `now_ms`; oldest first.
    pub async fn due_inbox(&self, limit: u64, now_ms: i64) -> Result<Vec<InboxItem>, StoreError> {
        let rows: Vec<InboxRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                inbox_columns!(),
                " FROM inbox WHERE processed_at_ms IS NULL \
                  AND (next_attempt_ms IS NULL OR next_attempt_ms <= $2) ORDER BY id LIMIT $1"
            ))
            .bind(saturating_i64(limit))
            .bind(now_ms)
            .fetch_all(db)
            .await?
        });
        rows.into_iter().map(InboxRow::into_item).collect()
    }

    /// Records a try of an activity that failed for a passing reason: counted, with its error,
    /// and due again at `next_ms`. False if there is no such unprocessed activity.
    pub async fn retry_inbox_later(&self, id: u64, error: &str, next_ms: i64) -> Result<bool, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        let updated = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE inbox SET attempts = attempts + 1, next_attempt_ms = $2, error = $3 \
                 WHERE id = $1 AND processed_at_ms IS NULL",
            )
            .bind(id)
            .bind(next_ms)
            .bind(error)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Records that an activity was processed at `at_ms` (with the error, if it failed);
    /// false if there is no such activity.
    pub async fn mark_inbox_processed(
        &self,
        id: u64,
        error: Option<&str>,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        let updated = write_tx!(self, |tx| {
            sqlx::query("UPDATE inbox SET processed_at_ms = $2, error = $3, next_attempt_ms = NULL WHERE id = $1")
                .bind(id)
                .bind(at_ms)
                .bind(error)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Deletes the activities processed before `before_ms`; returns how many. Their ids are
    /// forgotten too: a later delivery of one of them is no longer a duplicate.
    pub async fn prune_inbox(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query("DELETE FROM inbox WHERE processed_at_ms < $1")
                .bind(before_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }))
    }

    // ---- deliveries ----

    /// Queues `body` (activity `activity_id`) for each (inbox URL, host) target, due at once;
    /// returns the new rows' ids in the targets' order. All rows or none are stored (an empty
    /// inbox URL or host is refused by the database).
    pub async fn enqueue_deliveries<S: AsRef<str> + Sync>(
        &self,
        activity_id: &str,
        body: &str,
        targets: &[(S, S)],
        at_ms: i64,
    ) -> Result<Vec<u64>, StoreError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = write_tx!(self, |tx| {
            let mut ids = Vec::with_capacity(targets.len());
            for (inbox_url, host) in targets {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO deliveries (activity_id, inbox_url, host, body, attempts, \
                     next_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
                )
                .bind(activity_id)
                .bind(inbox_url.as_ref())
                .bind(host.as_ref())
                .bind(body)
                .bind(at_ms)
                .fetch_one(&mut *tx)
                .await?;
                ids.push(id);
            }
            ids
        });
        ids.into_iter().map(|id| row_id("deliveries", id)).collect()
    }

    /// Claims at most `limit` due rows (not delivered, not given up, next_at_ms ≤ now_ms),
    /// oldest first: each has its attempts counted and its next_at_ms pushed to
    /// now_ms + lease_ms, so no other claim takes it before the lease ends, and it comes back
    /// then unless [`Store::delivery_succeeded`] or [`Store::delivery_failed`] was called.
    /// Returns the claimed rows as updated. Concurrent claimers never get the same row (one of
    /// them may get fewer rows than are due).
    pub async fn claim_due_deliveries(
        &self,
        now_ms: i64,
        limit: u64,
        lease_ms: u64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let lease_end = now_ms.saturating_add(saturating_i64(lease_ms));
        let rows: Vec<DeliveryRow> = write_tx!(self, |tx| {
            // The outer condition is checked again on the locked row: a concurrent claimer's
            // committed claim makes it false.
            sqlx::query_as(concat!(
                "UPDATE deliveries SET next_at_ms = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM deliveries WHERE ",
                due_delivery!(),
                " ORDER BY id LIMIT $3) AND ",
                due_delivery!(),
                " RETURNING ",
                delivery_columns!()
            ))
            .bind(now_ms)
            .bind(lease_end)
            .bind(saturating_i64(limit))
            .fetch_all(&mut *tx)
            .await?
        });
        let mut claimed = deliveries_from(rows)?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    /// Records that a delivery was acknowledged at `at_ms`; false if the row is unknown or was
    /// already marked delivered.
    pub async fn delivery_succeeded(&self, id: u64, at_ms: i64) -> Result<bool, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        let updated = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE deliveries SET delivered_at_ms = $2 \
                 WHERE id = $1 AND delivered_at_ms IS NULL",
            )
            .bind(id)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    /// Records a failed attempt: the row is due again at `next_at_ms`, or, with None, given up
    /// at `at_ms`. False (and nothing changes) if the row is unknown, delivered or given up.
    pub async fn delivery_failed(
        &self,
        id: u64,
        error: &str,
        next_at_ms: Option<i64>,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        let updated = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE deliveries SET last_error = $2, \
                 next_at_ms = CASE WHEN $3 IS NULL THEN next_at_ms ELSE $3 END, \
                 gave_up_at_ms = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END \
                 WHERE id = $1 AND delivered_at_ms IS NULL AND gave_up_at_ms IS NULL",
            )
            .bind(id)
            .bind(error)
            .bind(next_at_ms)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(updated > 0)
    }

    pub async fn delivery(&self, id: u64) -> Result<Option<Delivery>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let row: Option<DeliveryRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM deliveries WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(db)
            .await?
        });
        row.map(DeliveryRow::into_delivery).transpose()
    }

    /// The rows neither delivered nor given up (claimed or not), for one host if given, oldest
    /// first.
    pub async fn pending_deliveries(
        &self,
        host: Option<&str>,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM deliveries WHERE delivered_at_ms IS NULL AND gave_up_at_ms IS NULL \
                 AND ($1 IS NULL OR host = $1) ORDER BY id"
            ))
            .bind(host)
            .fetch_all(db)
            .await?
        });
        deliveries_from(rows)
    }

    /// The hosts that acknowledged activity `activity_id`, in order: a new attempt at the
    /// activity skips them.
    pub async fn delivered_hosts(&self, activity_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_scalar(
                "SELECT DISTINCT host FROM deliveries \
                 WHERE activity_id = $1 AND delivered_at_ms IS NOT NULL ORDER BY host",
            )
            .bind(activity_id)
            .fetch_all(db)
            .await?
        }))
    }

    /// Whether `host` acknowledged activity `activity_id` (one indexed lookup: what a delivery
    /// asks before each attempt).
    pub async fn delivered_to(&self, activity_id: &str, host: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = read!(self, |db| {
            sqlx::query_scalar(
                "SELECT id FROM deliveries \
                 WHERE activity_id = $1 AND host = $2 AND delivered_at_ms IS NOT NULL LIMIT 1",
            )
            .bind(activity_id)
            .bind(host)
            .fetch_optional(db)
            .await?
        });
        Ok(found.is_some())
    }

    /// Deletes the rows delivered or given up before `before_ms`; returns how many. Their hosts
    /// no longer count in [`Store::delivered_hosts`].
    pub async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query("DELETE FROM deliveries WHERE delivered_at_ms < $1 OR gave_up_at_ms < $1")
                .bind(before_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }))
    }
}

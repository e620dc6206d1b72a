//! Follows in both directions and blocked hosts (does I/O): states, scores that decay with
//! failed deliveries, undone follow ids remembered, the blocklist.

use super::*;

impl Store {
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
}

//! Received activities (does I/O): stored before the answer, duplicates detected, processed
//! once, retried with backoff when they failed for a passing reason.

use super::*;

impl Store {
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
}

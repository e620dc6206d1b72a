//! The persistent delivery queue (does I/O): one row per activity and inbox, written in one
//! transaction, claimed with a lease, delivered, retried or given up.

use super::*;

impl Store {
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

    /// Whether an activity with this id was ever queued (delivered or not, until pruned).
    pub async fn activity_queued(&self, activity_id: &str) -> Result<bool, StoreError> {
        let n: i64 = read!(self, |db| {
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE activity_id = $1").bind(activity_id).fetch_one(db).await?
        });
        Ok(n > 0)
    }

    /// Claims at most `limit` due rows (not delivered, not given up, next_at_ms ≤ now_ms),
    /// the longest due first (then by id): each has its attempts counted and its next_at_ms pushed to
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
                " ORDER BY next_at_ms, id LIMIT $3) AND ",
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

    /// Whether the inbox `inbox_url` acknowledged activity `activity_id` (one indexed lookup:
    /// what a delivery asks before each attempt, so a row claimed again after a crash is not
    /// sent twice). By inbox, not by host: two actors of one host without a shared inbox each
    /// get their copy.
    pub async fn delivered_to(&self, activity_id: &str, inbox_url: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = read!(self, |db| {
            sqlx::query_scalar(
                "SELECT id FROM deliveries \
                 WHERE activity_id = $1 AND inbox_url = $2 AND delivered_at_ms IS NOT NULL LIMIT 1",
            )
            .bind(activity_id)
            .bind(inbox_url)
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

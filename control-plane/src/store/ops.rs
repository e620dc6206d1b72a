//! What the people running the control plane watch in its database (does I/O): a ping for
//! `/readyz`, the counts `/metrics` and the status page show (inbox activities, the delivery
//! queue, follows), and the database errors seen so far, by fault — every `sqlx::Error` that
//! becomes a [`StoreError`] is counted here on its way.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::faults::{fault_of, Fault};
use super::*;

/// The fault labels of [`database_errors`], `other` last.
pub const FAULT_LABELS: [&str; 10] = ["disk_full", "read_only", "moved", "io", "cant_open", "busy", "corrupt", "resources", "unreachable", "other"];

static ERRORS: [AtomicU64; 10] = [const { AtomicU64::new(0) }; 10];

fn index(fault: Option<Fault>) -> usize {
    match fault {
        Some(Fault::DiskFull) => 0,
        Some(Fault::ReadOnly) => 1,
        Some(Fault::Moved) => 2,
        Some(Fault::Io { .. }) => 3,
        Some(Fault::CantOpen) => 4,
        Some(Fault::Busy) => 5,
        Some(Fault::Corrupt) => 6,
        Some(Fault::Resources) => 7,
        Some(Fault::Unreachable) => 8,
        None => 9,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        ERRORS[index(fault_of(&e))].fetch_add(1, Relaxed);
        StoreError::Database(e)
    }
}

/// Database errors since the process started, by [`FAULT_LABELS`].
pub fn database_errors() -> [u64; 10] {
    std::array::from_fn(|i| ERRORS[i].load(Relaxed))
}

/// Counts from the federation tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpsCounts {
    /// Received activities by state: `pending`, `processed`, `failed`.
    pub inbox: Vec<(String, i64)>,
    /// Deliveries by host and state (`pending`, `delivered`, `given_up`): rows, attempts made,
    /// rows whose last attempt failed.
    pub deliveries: Vec<DeliveryCount>,
    /// Follows by direction (`follower`, `following`) and state.
    pub follows: Vec<(String, String, i64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryCount {
    pub host: String,
    pub state: String,
    pub rows: i64,
    pub attempts: i64,
    pub failing: i64,
}

impl Store {
    /// Whether the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        read!(self, |db| {
            sqlx::query("SELECT 1").execute(db).await?;
        });
        Ok(())
    }

    /// The counts of [`OpsCounts`].
    pub async fn ops_counts(&self) -> Result<OpsCounts, StoreError> {
        let inbox: Vec<(String, i64)> = read!(self, |db| {
            sqlx::query_as(
                "SELECT CASE WHEN processed_at_ms IS NULL THEN 'pending' WHEN error IS NULL THEN 'processed' ELSE 'failed' END AS state, \
                 COUNT(*) FROM inbox GROUP BY 1 ORDER BY 1",
            )
            .fetch_all(db)
            .await?
        });
        let deliveries: Vec<DeliveryCount> = read!(self, |db| {
            sqlx::query_as(
                "SELECT host, CASE WHEN delivered_at_ms IS NOT NULL THEN 'delivered' WHEN gave_up_at_ms IS NOT NULL THEN 'given_up' ELSE 'pending' END AS state, \
                 COUNT(*) AS rows, CAST(COALESCE(SUM(attempts), 0) AS BIGINT) AS attempts, \
                 CAST(COALESCE(SUM(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS failing \
                 FROM deliveries GROUP BY 1, 2 ORDER BY 1, 2",
            )
            .fetch_all(db)
            .await?
        });
        let follows: Vec<(String, String, i64)> = read!(self, |db| {
            sqlx::query_as("SELECT direction, state, COUNT(*) FROM follows GROUP BY direction, state ORDER BY 1, 2").fetch_all(db).await?
        });
        Ok(OpsCounts { inbox, deliveries, follows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fault_has_its_label() {
        assert_eq!(FAULT_LABELS[index(Some(Fault::DiskFull))], "disk_full");
        assert_eq!(FAULT_LABELS[index(Some(Fault::Io { op: None }))], "io");
        assert_eq!(FAULT_LABELS[index(Some(Fault::Unreachable))], "unreachable");
        assert_eq!(FAULT_LABELS[index(None)], "other");
        let before = database_errors()[9];
        let _ = StoreError::from(sqlx::Error::RowNotFound);
        assert!(database_errors()[9] > before);
    }
}

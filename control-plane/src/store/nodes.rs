//! The store's data-node table (does I/O): nodes added with their token's hash, revoked, seen,
//! their acknowledged catalog position, what they refused and their last stats.

use super::records::{json_list, to_i64, NodeRow};
use super::*;

impl Store {
    // ---- data nodes ----

    /// Registers a node; `NodeExists` if the name was ever taken (even by a revoked node).
    pub async fn add_node(
        &self,
        name: &str,
        public_url: &str,
        token_sha256: &str,
        at_ms: i64,
    ) -> Result<NodeRecord, StoreError> {
        let row: Option<NodeRow> = write_tx!(self, |tx| {
            sqlx::query_as(concat!(
                "INSERT INTO nodes (name, public_url, token_sha256, revoked, created_at_ms, \
                 folders, rejected) VALUES ($1, $2, $3, FALSE, $4, '[]', '[]') \
                 ON CONFLICT (name) DO NOTHING RETURNING ",
                node_columns!()
            ))
            .bind(name)
            .bind(public_url)
            .bind(token_sha256)
            .bind(at_ms)
            .fetch_optional(&mut *tx)
            .await?
        });
        match row {
            Some(row) => row.into_record(),
            None => Err(StoreError::NodeExists(name.to_owned())),
        }
    }

    /// Revokes a node; false if it is unknown or already revoked.
    pub async fn revoke_node(&self, name: &str) -> Result<bool, StoreError> {
        let revoked = write_tx!(self, |tx| {
            sqlx::query("UPDATE nodes SET revoked = TRUE WHERE name = $1 AND revoked = FALSE")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(revoked == 1)
    }

    /// Every node, revoked ones included, ordered by name.
    pub async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        let rows: Vec<NodeRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                node_columns!(),
                " FROM nodes ORDER BY name"
            ))
            .fetch_all(db)
            .await?
        });
        rows.into_iter().map(NodeRow::into_record).collect()
    }

    pub async fn node(&self, name: &str) -> Result<Option<NodeRecord>, StoreError> {
        let row: Option<NodeRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                node_columns!(),
                " FROM nodes WHERE name = $1"
            ))
            .bind(name)
            .fetch_optional(db)
            .await?
        });
        row.map(NodeRow::into_record).transpose()
    }

    /// Records a node's hello: the folders it serves; it was seen at `at_ms`.
    /// `NoSuchNode` if the name is unknown.
    pub async fn set_node_hello(
        &self,
        name: &str,
        folders: &[String],
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let folders = json_list(folders);
        let updated = write_tx!(self, |tx| {
            sqlx::query("UPDATE nodes SET folders = $2, last_seen_ms = $3 WHERE name = $1")
                .bind(name)
                .bind(&folders)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        found(updated, name)
    }

    /// Sets where viewers reach a node (from its hello, when the admin gave no URL).
    /// `NoSuchNode` if the name is unknown.
    pub async fn set_node_public_url(&self, name: &str, public_url: &str) -> Result<(), StoreError> {
        let updated = write_tx!(self, |tx| {
            sqlx::query("UPDATE nodes SET public_url = $2 WHERE name = $1")
                .bind(name)
                .bind(public_url)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        found(updated, name)
    }

    /// Records a node's acknowledgement of `seq`, with the (path, reason) of the videos it could
    /// not serve (replacing the previous list); it was seen at `at_ms`.
    /// `NoSuchNode` if the name is unknown.
    pub async fn set_node_ack(
        &self,
        name: &str,
        seq: u64,
        rejected: &[(String, String)],
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let seq = to_i64("acknowledged seq", seq)?;
        let rejected = json_list(rejected);
        let updated = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE nodes SET acked_seq = $2, rejected = $3, last_seen_ms = $4 WHERE name = $1",
            )
            .bind(name)
            .bind(seq)
            .bind(&rejected)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        found(updated, name)
    }

    /// Records a node's statistics (JSON text, kept as given); it was seen at `at_ms`.
    /// `NoSuchNode` if the name is unknown.
    pub async fn set_node_stats(
        &self,
        name: &str,
        stats_json: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let updated = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE nodes SET stats_json = $2, stats_at_ms = $3, last_seen_ms = $3 \
                 WHERE name = $1",
            )
            .bind(name)
            .bind(stats_json)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        found(updated, name)
    }
}

fn found(rows: u64, name: &str) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NoSuchNode(name.to_owned()))
    } else {
        Ok(())
    }
}

//! The store's library tables (does I/O): settings, the videos, and the change log the data
//! nodes follow (every write takes the next sequence number first, in its transaction).

use vidseed_shared::InfoHash;

use super::records::{to_i64, ChangeRow, VideoRow};
use super::*;

impl Store {
    // ---- settings ----

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(db)
                .await?
        }))
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Inserts only if absent; returns the value now stored (the existing one if there was
    /// one). Safe against two processes racing: the insert waits for a concurrent one to
    /// commit, and the read that follows sees the winner.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
            let stored: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            stored
        }))
    }

    // ---- videos ----

    /// Adds or replaces (by path) a video, storing every field as given, and logs the change;
    /// returns the change's seq.
    pub async fn put_video(&self, v: &VideoRecord) -> Result<u64, StoreError> {
        let size = to_i64("video size", v.size)?;
        let piece_length = to_i64("piece length", v.piece_length)?;
        let seq = write_tx!(self, |tx| {
            let seq = next_seq!(tx);
            sqlx::query(concat!(
                "INSERT INTO videos (",
                video_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (path) DO UPDATE SET name = excluded.name, size = excluded.size, \
                 mtime_ms = excluded.mtime_ms, content_type = excluded.content_type, \
                 piece_length = excluded.piece_length, info_hash = excluded.info_hash, \
                 info = excluded.info, added_at_ms = excluded.added_at_ms"
            ))
            .bind(&v.path)
            .bind(&v.name)
            .bind(size)
            .bind(v.mtime_ms)
            .bind(&v.content_type)
            .bind(piece_length)
            .bind(&v.info_hash.0[..])
            .bind(&v.info[..])
            .bind(v.added_at_ms)
            .execute(&mut *tx)
            .await?;
            insert_change!(tx, seq, ChangeKind::Video, &v.path);
            seq
        });
        seq_u64(seq)
    }

    /// Removes a video and logs the change; returns the change's seq, or None (and logs
    /// nothing) if there was no such video.
    pub async fn remove_video(&self, path: &str) -> Result<Option<u64>, StoreError> {
        let seq = write_tx!(self, |tx| {
            let seq = next_seq!(tx);
            let removed = sqlx::query("DELETE FROM videos WHERE path = $1")
                .bind(path)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed == 0 {
                // Gives the seq back.
                tx.rollback().await?;
                return Ok(None);
            }
            insert_change!(tx, seq, ChangeKind::Video, path);
            seq
        });
        seq_u64(seq).map(Some)
    }

    /// Every video, ordered by path.
    pub async fn videos(&self) -> Result<Vec<VideoRecord>, StoreError> {
        let rows: Vec<VideoRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                video_columns!(),
                " FROM videos ORDER BY path"
            ))
            .fetch_all(db)
            .await?
        });
        rows.into_iter().map(VideoRow::into_record).collect()
    }

    pub async fn video(&self, path: &str) -> Result<Option<VideoRecord>, StoreError> {
        let row: Option<VideoRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                video_columns!(),
                " FROM videos WHERE path = $1"
            ))
            .bind(path)
            .fetch_optional(db)
            .await?
        });
        row.map(VideoRow::into_record).transpose()
    }

    /// The video with this info-hash (the first by path, should several files share one).
    pub async fn video_by_info_hash(
        &self,
        ih: &InfoHash,
    ) -> Result<Option<VideoRecord>, StoreError> {
        let row: Option<VideoRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                video_columns!(),
                " FROM videos WHERE info_hash = $1 ORDER BY path LIMIT 1"
            ))
            .bind(&ih.0[..])
            .fetch_optional(db)
            .await?
        });
        row.map(VideoRow::into_record).transpose()
    }

    // ---- the change log ----

    /// The last seq handed out; 0 when nothing was ever logged (pruning does not lower it).
    pub async fn last_seq(&self) -> Result<u64, StoreError> {
        let seq: i64 = read!(self, |db| {
            sqlx::query_scalar("SELECT last_seq FROM change_log WHERE id = 1")
                .fetch_one(db)
                .await?
        });
        seq_u64(seq)
    }

    /// Changes with seq > after, ascending. None when some of them were pruned, or when `after`
    /// is beyond the last seq (the caller's position comes from another history): the caller
    /// then sends a snapshot.
    pub async fn changes_after(&self, after: u64) -> Result<Option<Vec<Change>>, StoreError> {
        let Ok(after_i) = i64::try_from(after) else {
            return Ok(None);
        };
        // The changes are read before the counters: pruning only grows `pruned_through`, so if
        // the later counters say nothing after `after` was pruned, the earlier read was whole.
        let (rows, (last_seq, pruned_through)): (Vec<ChangeRow>, (i64, i64)) = read!(self, |db| {
            let rows =
                sqlx::query_as("SELECT seq, kind, path FROM changes WHERE seq > $1 ORDER BY seq")
                    .bind(after_i)
                    .fetch_all(db)
                    .await?;
            let counters =
                sqlx::query_as("SELECT last_seq, pruned_through FROM change_log WHERE id = 1")
                    .fetch_one(db)
                    .await?;
            (rows, counters)
        });
        if after_i < pruned_through || after_i > last_seq {
            return Ok(None);
        }
        // Seqs are dense by construction; a hole means the tables were edited by hand.
        let mut changes = Vec::with_capacity(rows.len());
        for (expected, row) in (after + 1..).zip(rows) {
            let change = row.into_change()?;
            if change.seq != expected {
                return Err(StoreError::Corrupt(format!(
                    "the change log skips from seq {} to {}",
                    expected - 1,
                    change.seq
                )));
            }
            changes.push(change);
        }
        Ok(Some(changes))
    }

    /// Appends a change (e.g. a settings change); returns its seq.
    pub async fn log_change(&self, kind: ChangeKind, path: &str) -> Result<u64, StoreError> {
        let seq = write_tx!(self, |tx| {
            let seq = next_seq!(tx);
            insert_change!(tx, seq, kind, path);
            seq
        });
        seq_u64(seq)
    }

    /// Keeps the newest `keep` changes (never un-prunes: pruning is monotonic).
    pub async fn prune_changes(&self, keep: u64) -> Result<(), StoreError> {
        // Beyond i64::MAX there is nothing to prune anyway.
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        write_tx!(self, |tx| {
            let through: i64 = sqlx::query_scalar(
                "UPDATE change_log SET pruned_through = CASE \
                 WHEN last_seq - $1 > pruned_through THEN last_seq - $1 ELSE pruned_through END \
                 WHERE id = 1 RETURNING pruned_through",
            )
            .bind(keep)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM changes WHERE seq <= $1")
                .bind(through)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }
}

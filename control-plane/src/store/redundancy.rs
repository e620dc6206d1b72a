//! The redundancy state (does I/O, like the rest of the store; every writing method is one
//! transaction): the followed instances' videos, the copies this instance keeps of them with
//! each data node's last report, the hosts whose videos may be copied, and the copies other
//! instances keep of this instance's videos (received CacheFiles).

use vidseed_shared::InfoHash;

use super::records::{to_i64, to_u64};
use super::{Backend, Store, StoreError};

/// A followed instance's video.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteVideoRecord {
    /// The Video's ActivityPub id; unique.
    pub url: String,
    pub uuid: String,
    /// The origin's `host[:port]`.
    pub host: String,
    pub name: String,
    /// ISO 8601, as the origin wrote it.
    pub published: String,
    pub published_ms: i64,
    pub views: u64,
    /// `(at_ms, views)` samples, oldest first.
    pub views_history: Vec<(i64, u64)>,
    /// The origin video's account (where CacheFile activities are addressed).
    pub account: Option<String>,
    /// The parsed files (web videos and HLS playlist), as JSON the redundancy engine reads.
    pub files_json: String,
    pub fetched_at_ms: i64,
    pub updated_at_ms: i64,
    /// When the origin deleted it.
    pub deleted_at_ms: Option<i64>,
}

/// What a copy holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopyFileKind {
    WebVideo,
    Hls,
}

impl CopyFileKind {
    /// The name kept in the `kind` column (and shown by the API).
    pub fn as_str(self) -> &'static str {
        match self {
            CopyFileKind::WebVideo => "web-video",
            CopyFileKind::Hls => "hls",
        }
    }

    fn from_column(s: &str) -> Option<CopyFileKind> {
        match s {
            "web-video" => Some(CopyFileKind::WebVideo),
            "hls" => Some(CopyFileKind::Hls),
            _ => None,
        }
    }
}

/// Where the control plane is with a copy (the data nodes' progress is reported apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopyState {
    /// Fetching the torrents and playlists that make its fetch order.
    Preparing,
    /// The fetch order is made and handed to the nodes.
    Ordered,
    /// The order could not be made (the reason says why).
    Failed,
}

impl CopyState {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyState::Preparing => "preparing",
            CopyState::Ordered => "ordered",
            CopyState::Failed => "failed",
        }
    }

    fn from_column(s: &str) -> Option<CopyState> {
        match s {
            "preparing" => Some(CopyState::Preparing),
            "ordered" => Some(CopyState::Ordered),
            "failed" => Some(CopyState::Failed),
            _ => None,
        }
    }
}

/// The strategy name of a copy the admin asked for.
pub const MANUAL: &str = "manual";

/// A copy this instance keeps of a remote video's file(s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRecord {
    /// The CacheFile id; unique.
    pub id: String,
    pub video_url: String,
    pub kind: CopyFileKind,
    pub resolution: Option<u32>,
    pub fps: Option<u32>,
    pub media_type: String,
    /// The origin's file name (web video).
    pub file_name: Option<String>,
    pub size: u64,
    /// [`MANUAL`] or the strategy's name.
    pub strategy: String,
    pub state: CopyState,
    pub reason: Option<String>,
    pub order_json: Option<String>,
    /// The base URL it is served from, set when it is announced.
    pub serve_base: Option<String>,
    /// What follows `<id>/activity` and `<id>/undo` in its activities' ids, set when it is
    /// announced (empty the first time: PeerTube's ids).
    pub activity_suffix: Option<String>,
    pub announced_at_ms: Option<i64>,
    pub expires_at_ms: Option<i64>,
    /// Failures since it last worked (its order made and a node serving it).
    pub attempts: u32,
    /// When it is tried again after a failure (`None`: no try pending).
    pub retry_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// What a data node last reported on a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyNodeRecord {
    pub copy_id: String,
    pub node: String,
    /// `downloading`, `verifying`, `serving` or `failed`.
    pub state: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub reason: Option<String>,
    pub updated_at_ms: i64,
}

/// A copy another instance keeps of one of this instance's videos.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedCopyRecord {
    /// The CacheFile id; unique.
    pub id: String,
    /// The instance actor that sent it (only it may update or undo it).
    pub actor: String,
    /// Our video's info-hash.
    pub info_hash: InfoHash,
    pub video_url: String,
    pub href: String,
    pub resolution: Option<u32>,
    pub fps: Option<i64>,
    pub expires_at_ms: Option<i64>,
    /// When its bytes were checked against ours; advertised only once checked.
    pub verified_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

macro_rules! remote_video_columns {
    () => {
        "url, uuid, host, name, published, published_ms, views, views_history, account, \
         files_json, fetched_at_ms, updated_at_ms, deleted_at_ms"
    };
}

macro_rules! copy_columns {
    () => {
        "id, video_url, kind, resolution, fps, media_type, file_name, size, strategy, state, \
         reason, order_json, serve_base, activity_suffix, announced_at_ms, expires_at_ms, attempts, \
         retry_at_ms, created_at_ms, updated_at_ms"
    };
}

macro_rules! copy_node_columns {
    () => {
        "copy_id, node, state, done_bytes, total_bytes, reason, updated_at_ms"
    };
}

macro_rules! received_columns {
    () => {
        "id, actor, info_hash, video_url, href, resolution, fps, expires_at_ms, verified_at_ms, \
         created_at_ms, updated_at_ms"
    };
}

#[derive(sqlx::FromRow)]
struct RemoteVideoRow {
    url: String,
    uuid: String,
    host: String,
    name: String,
    published: String,
    published_ms: i64,
    views: i64,
    views_history: String,
    account: Option<String>,
    files_json: String,
    fetched_at_ms: i64,
    updated_at_ms: i64,
    deleted_at_ms: Option<i64>,
}

impl RemoteVideoRow {
    fn into_record(self) -> Result<RemoteVideoRecord, StoreError> {
        let views_history: Vec<(i64, u64)> = serde_json::from_str(&self.views_history).map_err(|e| {
            StoreError::Corrupt(format!("remote_videos.views_history of {:?} is not a list of [ms, views]: {e}", self.url))
        })?;
        Ok(RemoteVideoRecord {
            views: to_u64("remote_videos.views", &self.url, self.views)?,
            url: self.url,
            uuid: self.uuid,
            host: self.host,
            name: self.name,
            published: self.published,
            published_ms: self.published_ms,
            views_history,
            account: self.account,
            files_json: self.files_json,
            fetched_at_ms: self.fetched_at_ms,
            updated_at_ms: self.updated_at_ms,
            deleted_at_ms: self.deleted_at_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CopyRow {
    id: String,
    video_url: String,
    kind: String,
    resolution: Option<i64>,
    fps: Option<i64>,
    media_type: String,
    file_name: Option<String>,
    size: i64,
    strategy: String,
    state: String,
    reason: Option<String>,
    order_json: Option<String>,
    serve_base: Option<String>,
    activity_suffix: Option<String>,
    announced_at_ms: Option<i64>,
    expires_at_ms: Option<i64>,
    attempts: i64,
    retry_at_ms: Option<i64>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

fn small(what: &str, key: &str, v: Option<i64>) -> Result<Option<u32>, StoreError> {
    v.map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} of {key:?} is out of range ({v})"))))
        .transpose()
}

impl CopyRow {
    fn into_record(self) -> Result<CopyRecord, StoreError> {
        let kind = CopyFileKind::from_column(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("redundancy_copies.kind of {:?} is unknown: {:?}", self.id, self.kind)))?;
        let state = CopyState::from_column(&self.state)
            .ok_or_else(|| StoreError::Corrupt(format!("redundancy_copies.state of {:?} is unknown: {:?}", self.id, self.state)))?;
        Ok(CopyRecord {
            resolution: small("redundancy_copies.resolution", &self.id, self.resolution)?,
            fps: small("redundancy_copies.fps", &self.id, self.fps)?,
            size: to_u64("redundancy_copies.size", &self.id, self.size)?,
            attempts: small("redundancy_copies.attempts", &self.id, Some(self.attempts))?.unwrap_or(0),
            retry_at_ms: self.retry_at_ms,
            id: self.id,
            video_url: self.video_url,
            kind,
            media_type: self.media_type,
            file_name: self.file_name,
            strategy: self.strategy,
            state,
            reason: self.reason,
            order_json: self.order_json,
            serve_base: self.serve_base,
            activity_suffix: self.activity_suffix,
            announced_at_ms: self.announced_at_ms,
            expires_at_ms: self.expires_at_ms,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CopyNodeRow {
    copy_id: String,
    node: String,
    state: String,
    done_bytes: i64,
    total_bytes: i64,
    reason: Option<String>,
    updated_at_ms: i64,
}

impl CopyNodeRow {
    fn into_record(self) -> Result<CopyNodeRecord, StoreError> {
        let key = format!("{} on {}", self.copy_id, self.node);
        Ok(CopyNodeRecord {
            done_bytes: to_u64("redundancy_copy_nodes.done_bytes", &key, self.done_bytes)?,
            total_bytes: to_u64("redundancy_copy_nodes.total_bytes", &key, self.total_bytes)?,
            copy_id: self.copy_id,
            node: self.node,
            state: self.state,
            reason: self.reason,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ReceivedRow {
    id: String,
    actor: String,
    info_hash: Vec<u8>,
    video_url: String,
    href: String,
    resolution: Option<i64>,
    fps: Option<i64>,
    expires_at_ms: Option<i64>,
    verified_at_ms: Option<i64>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl ReceivedRow {
    fn into_record(self) -> Result<ReceivedCopyRecord, StoreError> {
        let hash: [u8; 20] = self.info_hash.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!("received_copies.info_hash of {:?} has {} bytes, not 20", self.id, self.info_hash.len()))
        })?;
        Ok(ReceivedCopyRecord {
            resolution: small("received_copies.resolution", &self.id, self.resolution)?,
            id: self.id,
            actor: self.actor,
            info_hash: InfoHash(hash),
            video_url: self.video_url,
            href: self.href,
            fps: self.fps,
            expires_at_ms: self.expires_at_ms,
            verified_at_ms: self.verified_at_ms,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
        })
    }
}

fn all<R, T>(rows: Vec<R>, f: impl Fn(R) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(f).collect()
}

impl Store {
    // ---- remote videos ----

    /// Adds or replaces (by URL) a remote video; a video marked deleted stays deleted.
    pub async fn put_remote_video(&self, v: &RemoteVideoRecord) -> Result<(), StoreError> {
        let views = to_i64("views", v.views)?;
        let history = serde_json::to_string(&v.views_history).unwrap_or_else(|_| "[]".into());
        write_tx!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO remote_videos (",
                remote_video_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (url) DO UPDATE SET uuid = excluded.uuid, host = excluded.host, \
                 name = excluded.name, published = excluded.published, published_ms = excluded.published_ms, \
                 views = excluded.views, views_history = excluded.views_history, account = excluded.account, \
                 files_json = excluded.files_json, fetched_at_ms = excluded.fetched_at_ms, \
                 updated_at_ms = excluded.updated_at_ms"
            ))
            .bind(&v.url)
            .bind(&v.uuid)
            .bind(&v.host)
            .bind(&v.name)
            .bind(&v.published)
            .bind(v.published_ms)
            .bind(views)
            .bind(&history)
            .bind(&v.account)
            .bind(&v.files_json)
            .bind(v.fetched_at_ms)
            .bind(v.updated_at_ms)
            .bind(v.deleted_at_ms)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn remote_video(&self, url: &str) -> Result<Option<RemoteVideoRecord>, StoreError> {
        let row: Option<RemoteVideoRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", remote_video_columns!(), " FROM remote_videos WHERE url = $1"))
                .bind(url)
                .fetch_optional(db)
                .await?
        });
        row.map(RemoteVideoRow::into_record).transpose()
    }

    /// Every remote video not deleted, by URL.
    pub async fn remote_videos(&self) -> Result<Vec<RemoteVideoRecord>, StoreError> {
        let rows: Vec<RemoteVideoRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                remote_video_columns!(),
                " FROM remote_videos WHERE deleted_at_ms IS NULL ORDER BY url"
            ))
            .fetch_all(db)
            .await?
        });
        all(rows, RemoteVideoRow::into_record)
    }

    /// Marks a remote video deleted by its origin; false if unknown or deleted already.
    pub async fn mark_remote_video_deleted(&self, url: &str, at_ms: i64) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("UPDATE remote_videos SET deleted_at_ms = $2, updated_at_ms = $2 WHERE url = $1 AND deleted_at_ms IS NULL")
                .bind(url)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    // ---- copies ----

    /// Adds a copy; false (and nothing changes) if one with its id exists.
    pub async fn insert_copy(&self, c: &CopyRecord) -> Result<bool, StoreError> {
        let size = to_i64("size", c.size)?;
        let n = write_tx!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO redundancy_copies (",
                copy_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .bind(&c.id)
            .bind(&c.video_url)
            .bind(c.kind.as_str())
            .bind(c.resolution.map(i64::from))
            .bind(c.fps.map(i64::from))
            .bind(&c.media_type)
            .bind(&c.file_name)
            .bind(size)
            .bind(&c.strategy)
            .bind(c.state.as_str())
            .bind(&c.reason)
            .bind(&c.order_json)
            .bind(&c.serve_base)
            .bind(&c.activity_suffix)
            .bind(c.announced_at_ms)
            .bind(c.expires_at_ms)
            .bind(i64::from(c.attempts))
            .bind(c.retry_at_ms)
            .bind(c.created_at_ms)
            .bind(c.updated_at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn copy(&self, id: &str) -> Result<Option<CopyRecord>, StoreError> {
        let row: Option<CopyRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", copy_columns!(), " FROM redundancy_copies WHERE id = $1"))
                .bind(id)
                .fetch_optional(db)
                .await?
        });
        row.map(CopyRow::into_record).transpose()
    }

    /// Every copy, oldest first.
    pub async fn copies(&self) -> Result<Vec<CopyRecord>, StoreError> {
        let rows: Vec<CopyRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", copy_columns!(), " FROM redundancy_copies ORDER BY created_at_ms, id"))
                .fetch_all(db)
                .await?
        });
        all(rows, CopyRow::into_record)
    }

    /// The copies of one video, oldest first.
    pub async fn copies_of_video(&self, video_url: &str) -> Result<Vec<CopyRecord>, StoreError> {
        let rows: Vec<CopyRow> = read!(self, |db| {
            sqlx::query_as(concat!(
                "SELECT ",
                copy_columns!(),
                " FROM redundancy_copies WHERE video_url = $1 ORDER BY created_at_ms, id"
            ))
            .bind(video_url)
            .fetch_all(db)
            .await?
        });
        all(rows, CopyRow::into_record)
    }

    /// Sets the control plane's state of a copy (with the order, once made, or the reason it
    /// failed); false if the copy is gone.
    pub async fn set_copy_state(
        &self,
        id: &str,
        state: CopyState,
        reason: Option<&str>,
        order_json: Option<&str>,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE redundancy_copies SET state = $2, reason = $3, order_json = COALESCE($4, order_json), \
                 updated_at_ms = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(reason)
            .bind(order_json)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Sets a copy's failures since it last worked and when it is tried again (`None`: no try
    /// pending); false if the copy is gone.
    pub async fn set_copy_retry(&self, id: &str, attempts: u32, retry_at_ms: Option<i64>, at_ms: i64) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("UPDATE redundancy_copies SET attempts = $2, retry_at_ms = $3, updated_at_ms = $4 WHERE id = $1")
                .bind(id)
                .bind(i64::from(attempts))
                .bind(retry_at_ms)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Marks a copy announced (its Create is being queued), served from `serve_base`, its
    /// activities' ids ending with `suffix`; false if it was announced already or is gone:
    /// exactly one caller announces it.
    pub async fn claim_copy_announcement(&self, id: &str, serve_base: &str, suffix: &str, at_ms: i64) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE redundancy_copies SET announced_at_ms = $3, serve_base = $2, activity_suffix = $4, \
                 updated_at_ms = $3 WHERE id = $1 AND announced_at_ms IS NULL",
            )
            .bind(id)
            .bind(serve_base)
            .bind(at_ms)
            .bind(suffix)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Takes an announcement back (its Create could not be queued).
    pub async fn unclaim_copy_announcement(&self, id: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE redundancy_copies SET announced_at_ms = NULL WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Sets when a copy expires (`None`: kept until removed); false if it is gone.
    pub async fn set_copy_expiry(&self, id: &str, expires_at_ms: Option<i64>, at_ms: i64) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("UPDATE redundancy_copies SET expires_at_ms = $2, updated_at_ms = $3 WHERE id = $1")
                .bind(id)
                .bind(expires_at_ms)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Sets which strategy keeps a copy (or [`MANUAL`]) and its expiry; false if it is gone.
    pub async fn set_copy_strategy(&self, id: &str, strategy: &str, expires_at_ms: Option<i64>, at_ms: i64) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("UPDATE redundancy_copies SET strategy = $2, expires_at_ms = $3, updated_at_ms = $4 WHERE id = $1")
                .bind(id)
                .bind(strategy)
                .bind(expires_at_ms)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Forgets a copy and its nodes' reports; false if it was gone.
    pub async fn remove_copy(&self, id: &str) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("DELETE FROM redundancy_copy_nodes WHERE copy_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM redundancy_copies WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected()
        });
        Ok(n == 1)
    }

    /// Records a node's report on a copy (replacing its previous one); false, and nothing kept,
    /// if the copy is unknown.
    pub async fn put_copy_report(&self, r: &CopyNodeRecord) -> Result<bool, StoreError> {
        let done = to_i64("done_bytes", r.done_bytes)?;
        let total = to_i64("total_bytes", r.total_bytes)?;
        let n = write_tx!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO redundancy_copy_nodes (",
                copy_node_columns!(),
                ") SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM redundancy_copies WHERE id = $1) \
                 ON CONFLICT (copy_id, node) DO UPDATE SET state = excluded.state, done_bytes = excluded.done_bytes, \
                 total_bytes = excluded.total_bytes, reason = excluded.reason, updated_at_ms = excluded.updated_at_ms"
            ))
            .bind(&r.copy_id)
            .bind(&r.node)
            .bind(&r.state)
            .bind(done)
            .bind(total)
            .bind(&r.reason)
            .bind(r.updated_at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Forgets the nodes' failure reports on a copy (it is being tried again); how many.
    pub async fn clear_failed_reports(&self, id: &str) -> Result<u64, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query("DELETE FROM redundancy_copy_nodes WHERE copy_id = $1 AND state = 'failed'").bind(id).execute(&mut *tx).await?.rows_affected()
        }))
    }

    /// Every node's last report on every copy, by copy then node.
    pub async fn copy_reports(&self) -> Result<Vec<CopyNodeRecord>, StoreError> {
        let rows: Vec<CopyNodeRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", copy_node_columns!(), " FROM redundancy_copy_nodes ORDER BY copy_id, node"))
                .fetch_all(db)
                .await?
        });
        all(rows, CopyNodeRow::into_record)
    }

    /// The nodes' last reports on one copy, by node.
    pub async fn reports_of_copy(&self, id: &str) -> Result<Vec<CopyNodeRecord>, StoreError> {
        let rows: Vec<CopyNodeRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", copy_node_columns!(), " FROM redundancy_copy_nodes WHERE copy_id = $1 ORDER BY node"))
                .bind(id)
                .fetch_all(db)
                .await?
        });
        all(rows, CopyNodeRow::into_record)
    }

    // ---- hosts whose videos may be copied ----

    /// Allows copies of `host`'s videos; false if they were allowed already.
    pub async fn allow_redundancy(&self, host: &str, at_ms: i64) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("INSERT INTO redundancy_hosts (host, at_ms) VALUES ($1, $2) ON CONFLICT (host) DO NOTHING")
                .bind(host)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Stops allowing copies of `host`'s videos; false if they were not allowed.
    pub async fn deny_redundancy(&self, host: &str) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("DELETE FROM redundancy_hosts WHERE host = $1").bind(host).execute(&mut *tx).await?.rows_affected()
        });
        Ok(n == 1)
    }

    /// The hosts whose videos may be copied, sorted.
    pub async fn redundancy_hosts(&self) -> Result<Vec<String>, StoreError> {
        Ok(read!(self, |db| {
            sqlx::query_scalar("SELECT host FROM redundancy_hosts ORDER BY host").fetch_all(db).await?
        }))
    }

    // ---- copies others keep of our videos ----

    /// Adds or replaces (by id) a received copy; the actor of an existing one is kept.
    pub async fn put_received_copy(&self, c: &ReceivedCopyRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(concat!(
                "INSERT INTO received_copies (",
                received_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET info_hash = excluded.info_hash, video_url = excluded.video_url, \
                 href = excluded.href, resolution = excluded.resolution, fps = excluded.fps, \
                 expires_at_ms = excluded.expires_at_ms, verified_at_ms = excluded.verified_at_ms, \
                 updated_at_ms = excluded.updated_at_ms"
            ))
            .bind(&c.id)
            .bind(&c.actor)
            .bind(&c.info_hash.0[..])
            .bind(&c.video_url)
            .bind(&c.href)
            .bind(c.resolution.map(i64::from))
            .bind(c.fps)
            .bind(c.expires_at_ms)
            .bind(c.verified_at_ms)
            .bind(c.created_at_ms)
            .bind(c.updated_at_ms)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    pub async fn received_copy(&self, id: &str) -> Result<Option<ReceivedCopyRecord>, StoreError> {
        let row: Option<ReceivedRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", received_columns!(), " FROM received_copies WHERE id = $1"))
                .bind(id)
                .fetch_optional(db)
                .await?
        });
        row.map(ReceivedRow::into_record).transpose()
    }

    /// Every received copy, oldest first.
    pub async fn received_copies(&self) -> Result<Vec<ReceivedCopyRecord>, StoreError> {
        let rows: Vec<ReceivedRow> = read!(self, |db| {
            sqlx::query_as(concat!("SELECT ", received_columns!(), " FROM received_copies ORDER BY created_at_ms, id"))
                .fetch_all(db)
                .await?
        });
        all(rows, ReceivedRow::into_record)
    }

    /// Removes a received copy if `actor` sent it; false otherwise.
    pub async fn remove_received_copy(&self, id: &str, actor: &str) -> Result<bool, StoreError> {
        let n = write_tx!(self, |tx| {
            sqlx::query("DELETE FROM received_copies WHERE id = $1 AND actor = $2")
                .bind(id)
                .bind(actor)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    /// Removes the received copies whose expiry is at or before `now_ms`; how many.
    pub async fn remove_expired_received_copies(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(write_tx!(self, |tx| {
            sqlx::query("DELETE FROM received_copies WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $1")
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }))
    }
}

//! The control plane's durable state — settings, the video library, the change log the data
//! nodes follow, the data nodes themselves, and the federation state (remote actors, follows,
//! blocked hosts, the inbox and the delivery queue) — in SQL: SQLite by default, PostgreSQL
//! optionally. Does I/O: every method talks to the database, and every method that writes does
//! so in one transaction, so a crash mid-write never keeps half of a change.
//!
//! Both backends run the same SQL text (`$n` placeholders, `ON CONFLICT`, `RETURNING`); only the
//! migrations differ per dialect. The change log's sequence numbers come from a one-row counter
//! that every writer increments first in its transaction, which serializes writers: numbers are
//! dense, commit in order, and a reader never sees seq N+1 before N.

mod faults;
mod records;
mod secrets;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::AssertSqlSafe;
use vidseed_shared::InfoHash;

pub use federation::{
    Delivery, FollowDirection, FollowRecord, FollowState, InboxItem, RemoteActor, FOLLOW_SCORE_MAX,
    FOLLOW_SCORE_START,
};
pub use faults::Fault;
pub use records::{Change, ChangeKind, NodeRecord, VideoRecord};
pub use secrets::{random_token, sha256_hex};

use records::{json_list, to_i64, ChangeRow, NodeRow, VideoRow};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long an SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 8;

/// Why the store failed. A fault the admin can act on (a full disk, a read-only database…) is
/// said as such, with what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "a data node named {0:?} already exists (names are never reused, even after revocation)"
    )]
    NodeExists(String),
    #[error("no data node named {0:?}")]
    NoSuchNode(String),
    #[error("invalid database: {0}")]
    InvalidDatabase(String),
    #[error("cannot open the database {target}: {}", faults::describe(.source, || .source.to_string()))]
    Open { target: String, source: sqlx::Error },
    #[error("{}", faults::describe(.0, || format!("database error: {}", .0)))]
    Database(#[from] sqlx::Error),
    #[error("cannot bring the database schema up to date: {}", describe_migrate(.0))]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database holds a row that cannot be decoded: {0}")]
    Corrupt(String),
    #[error("{0} is too large to store (the database keeps signed 64-bit integers)")]
    OutOfRange(&'static str),
}

impl StoreError {
    /// The fault behind this error, when it is one the admin can act on.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            StoreError::Open { source, .. } | StoreError::Database(source) => {
                faults::fault_of(source)
            }
            StoreError::Migrate(
                sqlx::migrate::MigrateError::Execute(e)
                | sqlx::migrate::MigrateError::ExecuteMigration(e, _),
            ) => faults::fault_of(e),
            _ => None,
        }
    }

    /// What the admin can do about it.
    pub fn hint(&self) -> String {
        match (self, self.fault()) {
            (_, Some(fault)) => fault.advice().to_owned(),
            (StoreError::NodeExists(_), None) => "choose another name".to_owned(),
            (StoreError::NoSuchNode(_), None) => {
                "list the data nodes with `vidseed admin nodes`".to_owned()
            }
            _ => "check that the database is reachable and writable".to_owned(),
        }
    }
}

fn describe_migrate(e: &sqlx::migrate::MigrateError) -> String {
    use sqlx::migrate::MigrateError;
    match e {
        MigrateError::Execute(source) | MigrateError::ExecuteMigration(source, _) => {
            faults::describe(source, || e.to_string())
        }
        _ => e.to_string(),
    }
}

/// Where the state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL server; with `schema`, everything lives in that schema (created if missing).
    Postgres { url: String, schema: Option<String> },
}

impl Database {
    /// "postgres://…"/"postgresql://…" → Postgres (schema None); "sqlite://PATH", "sqlite:PATH"
    /// or a plain path → Sqlite. Any other "scheme://" is refused.
    pub fn parse(s: &str) -> Result<Database, StoreError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(StoreError::InvalidDatabase(
                "the database address is empty".into(),
            ));
        }
        if let Some((scheme, rest)) = split_scheme(s) {
            return match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => {
                    s.parse::<PgConnectOptions>().map_err(|e| {
                        StoreError::InvalidDatabase(format!("{}: {e}", redact_url(s)))
                    })?;
                    Ok(Database::Postgres {
                        url: s.to_owned(),
                        schema: None,
                    })
                }
                "sqlite" => sqlite_path(rest, s),
                other => Err(StoreError::InvalidDatabase(format!(
                    "unsupported scheme {other}:// in {} (use a file path, sqlite://PATH or \
                     postgres://…)",
                    redact_url(s)
                ))),
            };
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            return sqlite_path(rest, s);
        }
        Ok(Database::Sqlite(PathBuf::from(s)))
    }

    /// The default: an SQLite file `vidseed.db` in the state directory.
    pub fn in_state_dir(dir: &Path) -> Database {
        Database::Sqlite(dir.join("vidseed.db"))
    }

    /// "sqlite" or "postgres".
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

/// Never shows a password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Database::Postgres { url, schema: None } => f.write_str(&redact_url(url)),
            Database::Postgres {
                url,
                schema: Some(schema),
            } => write!(f, "{} (schema {schema})", redact_url(url)),
        }
    }
}

/// Like `Display`: never shows a password.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Database::Postgres { url, schema } => f
                .debug_struct("Postgres")
                .field("url", &redact_url(url))
                .field("schema", schema)
                .finish(),
        }
    }
}

/// `scheme://rest` → (scheme, rest), when `scheme` looks like a URL scheme.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok).then_some((scheme, rest))
}

fn sqlite_path(path: &str, whole: &str) -> Result<Database, StoreError> {
    if path.is_empty() {
        return Err(StoreError::InvalidDatabase(format!(
            "{whole:?} names no file"
        )));
    }
    Ok(Database::Sqlite(PathBuf::from(path)))
}

/// The URL with the password (in the user info or a `password=` parameter) replaced by `***`.
fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(before_query),
    }
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// A schema name used unquoted-safe: ASCII letters, digits and '_', not starting with a digit,
/// at most 63 bytes (PostgreSQL's identifier limit).
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidDatabase(format!(
            "schema name {schema:?} must be 1 to 63 ASCII letters, digits or '_', not starting \
             with a digit"
        )))
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The control plane's state. Cheap to clone (the clones share one connection pool).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("kind", &self.kind()).finish()
    }
}

/// Runs `$body` with `$db` bound to the pool of whichever backend the store uses (the body is
/// compiled once per backend).
macro_rules! read {
    ($store:expr, |$db:ident| $body:block) => {
        match &$store.backend {
            Backend::Sqlite($db) => $body,
            Backend::Postgres($db) => $body,
        }
    };
}

/// Runs `$body` with `$tx` bound to a write transaction, then commits. An error (`?`) or an
/// early `return` inside the body rolls the transaction back.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        match &$store.backend {
            Backend::Sqlite(pool) => {
                // IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so a
                // transaction never fails half-way upgrading from reading to writing.
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Backend::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Takes the next change-log seq inside transaction `$tx` (as i64). Must be the transaction's
/// first write: the counter row's lock is what serializes writers.
macro_rules! next_seq {
    ($tx:ident) => {{
        let seq: i64 = sqlx::query_scalar(
            "UPDATE change_log SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq",
        )
        .fetch_one(&mut *$tx)
        .await?;
        seq
    }};
}

/// Appends the change `$seq` (from `next_seq!`) inside transaction `$tx`.
macro_rules! insert_change {
    ($tx:ident, $seq:expr, $kind:expr, $path:expr) => {
        sqlx::query("INSERT INTO changes (seq, kind, path) VALUES ($1, $2, $3)")
            .bind($seq)
            .bind($kind.as_str())
            .bind($path)
            .execute(&mut *$tx)
            .await?
    };
}

macro_rules! video_columns {
    () => {
        "path, name, size, mtime_ms, content_type, piece_length, info_hash, info, added_at_ms"
    };
}

macro_rules! node_columns {
    () => {
        "name, public_url, token_sha256, revoked, created_at_ms, folders, last_seen_ms, \
         acked_seq, rejected, stats_json, stats_at_ms"
    };
}

/// A seq taken from the counter, which a CHECK keeps positive.
fn seq_u64(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("change_log.last_seq is {seq}")))
}

/// PostgreSQL's "already exists" codes, which a concurrent `CREATE SCHEMA IF NOT EXISTS` in
/// another process may raise.
fn is_already_exists(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "42P06" || code == "23505")
}

/// Whether a connection going back to the pool may be used again: only outside a transaction.
///
/// A transaction whose COMMIT failed (SQLite's SQLITE_FULL or an I/O error may already have rolled
/// it back) is dropped with a ROLLBACK queued on its connection; the ping runs that ROLLBACK first.
/// When it fails too (nothing left to roll back), sqlx still counts the connection as inside a
/// transaction, and every later `begin` on it would fail ("non-zero transaction depth") or nest a
/// savepoint in a transaction that never ends: such a connection is closed, and the pool opens a
/// fresh one when it needs it. So once the fault is gone, the next write succeeds.
async fn release_clean<C: sqlx::Connection>(conn: &mut C) -> Result<bool, sqlx::Error> {
    conn.ping().await?;
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing a database connection left inside a failed transaction");
    }
    Ok(clean)
}

impl Store {
    /// Connects, creates the Postgres schema if given (every pooled connection then uses it
    /// through its search_path) and applies the migrations.
    pub async fn open(db: &Database) -> Result<Store, StoreError> {
        let opened = |source| StoreError::Open {
            target: db.to_string(),
            source,
        };
        match db {
            Database::Sqlite(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let pool = SqlitePoolOptions::new()
                    .max_connections(SQLITE_MAX_CONNECTIONS)
                    .after_release(|conn, _| Box::pin(release_clean(conn)))
                    .connect_with(options)
                    .await
                    .map_err(opened)?;
                if let Err(e) = SQLITE_MIGRATIONS.run(&pool).await {
                    pool.close().await;
                    return Err(e.into());
                }
                Ok(Store {
                    backend: Backend::Sqlite(pool),
                })
            }
            Database::Postgres { url, schema } => {
                let mut options: PgConnectOptions = url.parse().map_err(|e| {
                    StoreError::InvalidDatabase(format!("{}: {e}", redact_url(url)))
                })?;
                if let Some(schema) = schema {
                    check_schema_name(schema)?;
                    options = options.options([("search_path", format!("\"{schema}\""))]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(POSTGRES_MAX_CONNECTIONS)
                    .after_release(|conn, _| Box::pin(release_clean(conn)))
                    .connect_with(options)
                    .await
                    .map_err(opened)?;
                if let Some(schema) = schema {
                    // The name was checked above: letters, digits and '_' only.
                    let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
                    match sqlx::query(AssertSqlSafe(sql)).execute(&pool).await {
                        Ok(_) => {}
                        Err(e) if is_already_exists(&e) => {}
                        Err(e) => {
                            pool.close().await;
                            return Err(e.into());
                        }
                    }
                }
                if let Err(e) = POSTGRES_MIGRATIONS.run(&pool).await {
                    pool.close().await;
                    return Err(e.into());
                }
                Ok(Store {
                    backend: Backend::Postgres(pool),
                })
            }
        }
    }

    /// "sqlite" or "postgres".
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection (waiting for those in use); later calls on any clone fail.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }

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

// Declared after the macros above, which it uses.
mod federation;

#[cfg(test)]
mod tests;

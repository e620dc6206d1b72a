//! The control plane's durable state — settings, the video library, the change log the data
//! nodes follow, the data nodes themselves, the federation state (remote actors, follows,
//! blocked hosts, the inbox and the delivery queue) and the redundancy state (remote videos,
//! copies, received copies) — in SQL: SQLite by default, PostgreSQL
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
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::AssertSqlSafe;

pub use federation::{
    Delivery, FollowDirection, FollowRecord, FollowState, InboxItem, RemoteActor, FOLLOW_SCORE_MAX,
    FOLLOW_SCORE_START,
};
pub use database::Database;
use database::{check_schema_name, redact_url};
pub use faults::Fault;
pub use ops::{database_errors, DeliveryCount, OpsCounts, FAULT_LABELS};
pub use records::{Change, ChangeKind, NodeRecord, VideoRecord};
pub use redundancy::{
    CopyFileKind, CopyNodeRecord, CopyRecord, CopyState, ReceivedCopyRecord, RemoteVideoRecord, MANUAL,
};
pub use published::{LocalFollower, PublishedVideo, VideoImage};
pub use secrets::{random_token, sha256_hex};


static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long an SQLite writer waits for another one before giving up. Generous: every commit is
/// fsynced, and on a busy disk a few writers in line can take seconds; a give-up is an error
/// the caller sees (an inbox answers 500 and is retried), never lost data, but it should be rare.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
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
    Database(sqlx::Error),
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

}


// Declared after the macros above, which it uses.
mod database;
mod federation;
mod library;
mod nodes;
mod ops;
mod published;
mod redundancy;

#[cfg(test)]
mod tests;

//! Every store test runs twice: on a fresh SQLite file and on a fresh PostgreSQL schema (the
//! server must be reachable: these tests fail, never skip, without it).

use std::path::PathBuf;

use vidseed_shared::InfoHash;

use super::*;

const POSTGRES_ENV: &str = "VIDSEED_TEST_POSTGRES";
const POSTGRES_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

fn postgres_url() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| POSTGRES_DEFAULT.to_owned())
}

/// A fresh database for one test; removes it when dropped, even if the test failed.
struct Fixture {
    db: Database,
    _dir: Option<tempfile::TempDir>,
    _schema: Option<DropSchema>,
}

impl Fixture {
    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        Fixture {
            db: Database::in_state_dir(dir.path()),
            _dir: Some(dir),
            _schema: None,
        }
    }

    async fn postgres() -> Fixture {
        use sqlx::Connection as _;
        let url = postgres_url();
        match sqlx::PgConnection::connect(&url).await {
            Ok(conn) => {
                let _ = conn.close().await;
            }
            Err(e) => panic!(
                "these tests need PostgreSQL at {} (set {POSTGRES_ENV} to another URL): {e}",
                redact_url(&url)
            ),
        }
        let schema = format!(
            "vidseed_test_{}",
            sha256_hex(random_token().as_bytes())[..16].to_owned()
        );
        Fixture {
            db: Database::Postgres {
                url: url.clone(),
                schema: Some(schema.clone()),
            },
            _dir: None,
            _schema: Some(DropSchema { url, schema }),
        }
    }

    async fn open(&self) -> Store {
        Store::open(&self.db)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.db))
    }

    /// Runs `step(store, i)` for i in 0..16 at once, alternating between two stores that stand
    /// for two processes; returns both stores and every step's result, in order of i.
    async fn race<T, F, Fut>(&self, step: F) -> (Store, Store, Vec<T>)
    where
        T: Send + 'static,
        F: Fn(Store, i64) -> Fut,
        Fut: std::future::Future<Output = T> + Send + 'static,
    {
        let a = self.open().await;
        let b = self.open().await;
        let tasks: Vec<_> = (0..16)
            .map(|i| tokio::spawn(step(if i % 2 == 0 { a.clone() } else { b.clone() }, i)))
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("a racing step panicked"));
        }
        (a, b, results)
    }
}

/// Drops a test's PostgreSQL schema (on a thread of its own: `Drop` cannot await).
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let url = self.url.clone();
        let schema = self.schema.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                // Never hang on a connection a failed test left inside a transaction.
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut conn)
                    .await?;
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
                conn.close().await
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.schema),
            Err(_) => eprintln!(
                "could not drop test schema {}: the cleanup panicked",
                self.schema
            ),
        }
    }
}

/// Declares `sqlite` and `postgres` tests running `$body(&Fixture)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(&super::Fixture::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(&super::Fixture::postgres().await).await;
            }
        }
    )*};
}

on_both!(migrations_apply_and_reopen, settings_round_trip, setting_or_insert_races);

fn video(path: &str, fill: u8) -> VideoRecord {
    VideoRecord {
        path: path.to_owned(),
        name: path.rsplit('/').next().unwrap_or(path).to_owned(),
        size: 1_000_000 + u64::from(fill),
        mtime_ms: 1_700_000_000_000 + i64::from(fill),
        content_type: "video/mp4".to_owned(),
        piece_length: 256 * 1024,
        info_hash: InfoHash([fill; 20]),
        info: (0..=255u8).chain([0, fill, 0xff]).collect(),
        added_at_ms: 1_700_000_100_000,
    }
}

fn change(seq: u64, kind: ChangeKind, path: &str) -> Change {
    Change {
        seq,
        kind,
        path: path.to_owned(),
    }
}

/// How many migrations the store's dialect has.
fn expected_migrations(store: &Store) -> i64 {
    let migrator = match store.backend {
        Backend::Sqlite(_) => &SQLITE_MIGRATIONS,
        Backend::Postgres(_) => &POSTGRES_MIGRATIONS,
    };
    i64::try_from(migrator.iter().count()).expect("a few migrations")
}

async fn migration_count(store: &Store) -> i64 {
    read!(store, |db| {
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(db)
            .await
            .expect("migrations table")
    })
}

async fn migrations_apply_and_reopen(fx: &Fixture) {
    let store = fx.open().await;
    assert_eq!(store.kind(), fx.db.kind());
    assert_eq!(migration_count(&store).await, expected_migrations(&store));
    assert_eq!(store.last_seq().await.unwrap(), 0);
    assert_eq!(store.changes_after(0).await.unwrap(), Some(vec![]));
    assert!(store.videos().await.unwrap().is_empty());
    assert!(store.nodes().await.unwrap().is_empty());
    assert_eq!(store.setting("anything").await.unwrap(), None);

    match &store.backend {
        Backend::Sqlite(pool) => {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous = FULL");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(fk, 1);
            let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(timeout, 30_000);
        }
        Backend::Postgres(pool) => {
            // Everything lives in the test's own schema.
            let Database::Postgres {
                schema: Some(schema),
                ..
            } = &fx.db
            else {
                panic!("the Postgres fixture has a schema")
            };
            let current: String = sqlx::query_scalar("SELECT current_schema()")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(&current, schema);
            let tables: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1 \
                 AND table_name IN ('settings', 'videos', 'changes', 'change_log', 'nodes')",
            )
            .bind(schema)
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(tables, 5);
        }
    }
    store.close().await;

    // Reopening applies nothing twice and keeps the data.
    let store = fx.open().await;
    store.set_setting("k", "v").await.unwrap();
    store.close().await;
    let store = fx.open().await;
    assert_eq!(migration_count(&store).await, expected_migrations(&store));
    assert_eq!(store.setting("k").await.unwrap().as_deref(), Some("v"));
    store.close().await;
}

async fn settings_round_trip(fx: &Fixture) {
    let store = fx.open().await;
    assert_eq!(store.setting("public_url").await.unwrap(), None);
    store
        .set_setting("public_url", "https://a.example")
        .await
        .unwrap();
    assert_eq!(
        store.setting("public_url").await.unwrap().as_deref(),
        Some("https://a.example")
    );
    store
        .set_setting("public_url", "https://b.example")
        .await
        .unwrap();
    assert_eq!(
        store.setting("public_url").await.unwrap().as_deref(),
        Some("https://b.example")
    );
    store.set_setting("empty", "").await.unwrap();
    assert_eq!(store.setting("empty").await.unwrap().as_deref(), Some(""));
    store
        .set_setting("unicode ключ", "значение ✓")
        .await
        .unwrap();
    assert_eq!(
        store.setting("unicode ключ").await.unwrap().as_deref(),
        Some("значение ✓")
    );

    // Present: the stored value wins and is not overwritten.
    assert_eq!(
        store
            .setting_or_insert("public_url", "https://c.example")
            .await
            .unwrap(),
        "https://b.example"
    );
    assert_eq!(
        store.setting("public_url").await.unwrap().as_deref(),
        Some("https://b.example")
    );
    // Absent: inserted.
    assert_eq!(store.setting_or_insert("secret", "s1").await.unwrap(), "s1");
    assert_eq!(store.setting_or_insert("secret", "s2").await.unwrap(), "s1");
    assert_eq!(
        store.setting("secret").await.unwrap().as_deref(),
        Some("s1")
    );
    // Settings do not touch the change log by themselves.
    assert_eq!(store.last_seq().await.unwrap(), 0);
    store.close().await;
}

async fn setting_or_insert_races(fx: &Fixture) {
    // Two independent stores stand for two processes.
    let (a, b, results) = fx
        .race(|store, i| async move {
            store
                .setting_or_insert("instance_id", &format!("candidate-{i}"))
                .await
                .unwrap()
        })
        .await;
    let stored = a
        .setting("instance_id")
        .await
        .unwrap()
        .expect("one candidate was stored");
    assert!(stored.starts_with("candidate-"));
    assert!(
        results.iter().all(|r| *r == stored),
        "{results:?} vs {stored}"
    );
    a.close().await;
    b.close().await;
}

#[test]
fn database_parse() {
    let pg = |url: &str| Database::Postgres {
        url: url.to_owned(),
        schema: None,
    };
    let sqlite = |p: &str| Database::Sqlite(PathBuf::from(p));
    for url in [
        "postgres://postgres@127.0.0.1:5432/test",
        "postgresql://u:secret@db.example/vidseed?sslmode=require",
        "postgres://localhost",
    ] {
        assert_eq!(Database::parse(url).unwrap(), pg(url));
    }
    assert_eq!(
        Database::parse("sqlite:///var/lib/vidseed/state.db").unwrap(),
        sqlite("/var/lib/vidseed/state.db")
    );
    assert_eq!(
        Database::parse("sqlite://state.db").unwrap(),
        sqlite("state.db")
    );
    assert_eq!(
        Database::parse("sqlite:state.db").unwrap(),
        sqlite("state.db")
    );
    assert_eq!(
        Database::parse("/srv/vidseed/vidseed.db").unwrap(),
        sqlite("/srv/vidseed/vidseed.db")
    );
    assert_eq!(
        Database::parse("relative dir/v.db").unwrap(),
        sqlite("relative dir/v.db")
    );
    assert_eq!(Database::parse("  ./v.db\n").unwrap(), sqlite("./v.db"));
    for bad in [
        "",
        "   ",
        "sqlite://",
        "sqlite:",
        "mysql://u@h/db",
        "postgres://h:notaport/db",
    ] {
        assert!(
            matches!(Database::parse(bad), Err(StoreError::InvalidDatabase(_))),
            "{bad:?} should be refused"
        );
    }

    assert_eq!(
        Database::in_state_dir(std::path::Path::new("/st")),
        sqlite("/st/vidseed.db")
    );
    assert_eq!(sqlite("x").kind(), "sqlite");
    assert_eq!(pg("postgres://h").kind(), "postgres");

    // Passwords never show.
    let secret = Database::Postgres {
        url: "postgres://user:hunter2@h/db?password=hunter3&sslmode=disable".into(),
        schema: Some("s".into()),
    };
    for shown in [secret.to_string(), format!("{secret:?}")] {
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("user:***@h/db") && shown.contains("sslmode=disable"),
            "{shown}"
        );
    }
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
}

#[tokio::test]
async fn bad_schema_names_are_refused() {
    for schema in ["", "1abc", "a;b", "a\"b", "with space", &"x".repeat(64)] {
        let db = Database::Postgres {
            url: postgres_url(),
            schema: Some(schema.to_owned()),
        };
        assert!(
            matches!(Store::open(&db).await, Err(StoreError::InvalidDatabase(_))),
            "{schema:?} should be refused"
        );
    }
}

#[test]
fn secrets() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(sha256_hex(b"").len(), 64);
    let a = random_token();
    let b = random_token();
    assert_eq!(a.len(), 43);
    assert!(
        a.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{a}"
    );
    assert_ne!(a, b);
}

#[path = "library_tests.rs"]
mod library;

#[path = "federation_tests.rs"]
mod federation;

#[path = "fault_tests.rs"]
mod faults;

#[path = "redundancy_tests.rs"]
mod redundancy;

#[path = "ops_tests.rs"]
mod ops;
#[path = "published_tests.rs"]
mod published;

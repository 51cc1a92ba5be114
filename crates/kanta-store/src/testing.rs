//! Throw-away databases for tests: a SQLite file in a temporary folder, or a uniquely
//! named PostgreSQL database dropped afterwards.
//!
//! PostgreSQL is found through `KANTA_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, as `.ci/run` sets it up). Tests fail
//! when it does not answer, rather than quietly skipping half the suite.

use std::sync::atomic::{AtomicU32, Ordering};

/// A database that exists for the life of this value.
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

/// Both backends, in the order tests run them.
pub const BACKENDS: &[&str] = &["sqlite", "postgres"];

impl TestDb {
    pub fn new(backend: &str) -> TestDb {
        match backend {
            "sqlite" => TestDb::sqlite(),
            "postgres" => TestDb::postgres(),
            other => panic!("no backend {other}"),
        }
    }

    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("kanta.db").display());
        TestDb {
            url,
            admin_url: None,
            name: None,
            _dir: Some(dir),
        }
    }

    pub fn postgres() -> TestDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let admin = postgres_admin_url();
        let name = format!(
            "kanta_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros() % 1_000_000
        );
        run_admin(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            admin_url: Some(admin),
            name: Some(name),
            _dir: None,
        }
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("KANTA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn run_admin(admin: &str, sql: &str) {
    let admin = admin.to_string();
    let sql = sql.to_string();
    // Own thread and runtime: callable from sync code, async tests and Drop alike.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {admin} does not answer ({e}); start it (bash .ci/run does) \
                     or set KANTA_TEST_POSTGRES_URL"
                    )
                });
            sqlx::Executor::execute(&mut c, sqlx::AssertSqlSafe(sql))
                .await
                .expect("admin statement");
        });
    })
    .join()
    .expect("admin thread");
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let (Some(admin), Some(name)) = (&self.admin_url, &self.name) {
            run_admin(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

/// Makes deleted data unreadable the way an administrator would check it: SQLite's
/// WAL checkpointed into the file and the file vacuumed; PostgreSQL's tables rewritten
/// by `VACUUM FULL` (dead row versions gone).
pub async fn vacuum(store: &crate::Store) {
    match &store.backend {
        crate::Backend::Sqlite(pool) => {
            for sql in ["PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM"] {
                sqlx::query(sql).execute(pool).await.expect(sql);
            }
        }
        crate::Backend::Postgres(pool) => {
            sqlx::query("VACUUM FULL")
                .execute(pool)
                .await
                .expect("VACUUM FULL");
        }
    }
}

/// A PostgreSQL setting as the store's own connections see it (`None` on SQLite).
pub async fn postgres_setting(store: &crate::Store, name: &str) -> Option<String> {
    match &store.backend {
        crate::Backend::Sqlite(_) => None,
        crate::Backend::Postgres(pool) => Some(
            sqlx::query_scalar("SELECT current_setting($1)")
                .bind(name)
                .fetch_one(pool)
                .await
                .expect("current_setting"),
        ),
    }
}

/// PostgreSQL: how many connections to the store's database other sessions hold open
/// (`None` on SQLite).
pub async fn postgres_other_connections(store: &crate::Store) -> Option<i64> {
    match &store.backend {
        crate::Backend::Sqlite(_) => None,
        crate::Backend::Postgres(pool) => Some(
            sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(pool)
            .await
            .expect("pg_stat_activity"),
        ),
    }
}

/// The tables (of every table in the store) with a row whose text holds `needle`,
/// each with one such row as text.
pub async fn tables_containing(store: &crate::Store, needle: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match &store.backend {
        crate::Backend::Sqlite(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for t in tables {
                let cols: Vec<String> =
                    sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
                        .bind(&t)
                        .fetch_all(pool)
                        .await
                        .unwrap();
                let row = cols
                    .iter()
                    .map(|c| format!("coalesce(CAST(\"{c}\" AS TEXT), '')"))
                    .collect::<Vec<_>>()
                    .join(" || '|' || ");
                let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT r FROM (SELECT {row} AS r FROM \"{t}\") WHERE instr(r, $1) > 0 LIMIT 1"
                )))
                .bind(needle)
                .fetch_optional(pool)
                .await
                .unwrap();
                if let Some(r) = found {
                    out.push((t, r));
                }
            }
        }
        crate::Backend::Postgres(pool) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            for t in tables {
                let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT x::text FROM \"{t}\" x WHERE strpos(x::text, $1) > 0 LIMIT 1"
                )))
                .bind(needle)
                .fetch_optional(pool)
                .await
                .unwrap();
                if let Some(r) = found {
                    out.push((t, r));
                }
            }
        }
    }
    out
}

/// Every byte of a SQLite store's files (the database, its WAL and shared memory).
pub fn sqlite_file_bytes(url: &str) -> Vec<u8> {
    let path = url
        .strip_prefix("sqlite://")
        .unwrap_or(url)
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let mut out = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        if let Ok(b) = std::fs::read(format!("{path}{suffix}")) {
            out.extend(b);
        }
    }
    out
}

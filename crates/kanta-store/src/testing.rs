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

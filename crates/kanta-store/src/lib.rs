//! Kanta's store: one interface over SQLite (embedded, the default) and PostgreSQL.
//!
//! - [`Store::open`] picks the backend from the URL (`sqlite://PATH` or
//!   `postgres://...`), connects and applies the embedded migrations of
//!   `migrations/sqlite` or `migrations/postgres`.
//! - [`write`]: a [`Writer`] upserts [`WriteBatch`]es of rows of any entity in one
//!   database transaction, idempotently by external id (the importer streams files
//!   through it; [`Store::write`] is the one-batch form the demo and the API use).
//! - [`accounts`]: staff users, sessions, API tokens and failed sign-ins (digests and
//!   argon2id hashes only); each change of a user or token is audited in its
//!   transaction.
//! - [`audit`]: the append-only audit log (who, through what, which record, the values
//!   before and after), written in the transaction of the change it tells of.
//! - [`jobs`]: background jobs: enqueued (at most once per key), claimed with a lease
//!   by one worker at a time, completed, failed, retried.
//! - [`outbox`]: mail queued in the transaction that causes it, with its `mail.send`
//!   job; sent at most once.
//! - [`settings`]: store-wide settings as JSON, each change audited.
//! - [`purchases`]: per-customer purchase days (the models' sufficient statistics)
//!   in one grouped SQL pass.
//! - [`records`]: generic records ([`Record`]), the customer list, a customer's timeline,
//!   counts.
//! - [`subscriptions`]: the customers' subscription figures (MRR, revenue billed,
//!   next renewal, plan), kept by the writer and refreshed daily.
//! - [`scores`]: model runs and per-customer scores (`kanta score` writes them with
//!   the customers' value tiers in one transaction).
//!
//! SQL is checked at run time (`sqlx::query`, no compile-time macros) and written once
//! for both backends where the dialects agree (`$1` placeholders work on both).
//!
//! **Architecture invariant:** nothing outside this crate speaks SQL.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod cases;
pub mod churn_stages;
pub mod claims;
pub mod endings;
pub mod feedback;
pub mod feedback_stats;
pub mod goals;
pub mod health;
pub mod ideas;
pub mod jobs;
pub mod keyset;
pub mod kudos;
mod migrate;
pub mod offers;
pub mod onboarding;
pub mod outbox;
pub mod owners;
pub mod privacy;
pub mod profit;
pub mod purchases;
pub mod queue;
pub mod records;
pub mod recovery;
pub mod retention;
pub mod scores;
pub mod settings;
pub mod subscriptions;
pub mod survey_send;
pub mod surveys;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod themes;
pub mod timeline;
mod totals;
pub mod trust;
pub mod two_factor;
pub mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thiserror::Error;

pub use keyset::{Cursor, RecordPage, RecordQuery, Sort, SortKey};
pub use records::{CustomerFilter, CustomerPage, CustomerSummary, Record, TimelineEvent};
pub use write::{RunInfo, WriteBatch, WriteSummary, Writer};

/// Everything that can go wrong in the store, in words a user can act on.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("'{0}' is not a database URL: use sqlite://PATH or postgres://USER@HOST/DB")]
    BadUrl(String),
    #[error("cannot open the database {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{entity}: no {target} with id {ids}")]
    MissingRef {
        entity: &'static str,
        target: &'static str,
        ids: String,
    },
    #[error(
        "trust ledger entries are append-only: an entry with the same id but other values exists already (add a correcting entry instead)"
    )]
    AppendOnly,
    #[error("'{0}' exists already")]
    Exists(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A backup or restore that could not be made, in words.
    #[error("{0}")]
    Backup(String),
    /// A write that shares the database with other writers
    /// ([`Store::shared_writer`]) met what only a write alone may do (a row that
    /// exists, a customer another write created meanwhile, an empty table): the caller
    /// rolls it back and makes it again alone ([`StoreError::is_contention`]).
    #[error("this write needs the database alone: {0}")]
    Contended(&'static str),
}

impl StoreError {
    /// Maps a database error raised by our own triggers to its meaning.
    fn classify(e: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(d) = &e
            && d.message().contains("append-only")
        {
            return StoreError::AppendOnly;
        }
        StoreError::Db(e)
    }

    /// Whether a write shared with others ([`Store::shared_writer`]) failed only
    /// because of them, so that the same write made alone will do: it met what a
    /// shared write leaves to an exclusive one ([`StoreError::Contended`]), an id
    /// another write inserted in the same moment (unique violation), or a deadlock
    /// PostgreSQL broke by aborting it.
    pub fn is_contention(&self) -> bool {
        match self {
            StoreError::Contended(_) => true,
            StoreError::Db(sqlx::Error::Database(d)) => {
                matches!(d.code().as_deref(), Some("23505" | "40P01" | "40001"))
            }
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A connected, migrated store. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    url: String,
    /// The URL as given (with any password), for the backup tools (`pg_dump`,
    /// `pg_restore`); never printed.
    tool_url: ToolUrl,
    /// Counts the data writes this process committed through the store (writers and
    /// model runs), so a reader can cache what it derived from the data and know when
    /// it is out of date ([`Store::generation`]).
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The API tokens read lately ([`Store::token_by_digest`]).
    token_cache: std::sync::Arc<accounts::TokenCache>,
}

impl Store {
    /// How many data writes this process has committed: a cache of figures derived
    /// from the data is current while this stays the same. Writes by other processes
    /// (a `kanta import` beside a server) are not counted.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Counts a committed data write (see [`Store::generation`]).
    pub(crate) fn wrote(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Connects to `url` and applies any pending migrations. A SQLite file (and its
    /// folder) is created when missing.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with_connections(url, None).await
    }

    /// As [`Store::open`], with at most `connections` pooled connections instead of the
    /// backend's default ([`SQLITE_CONNECTIONS`], [`POSTGRES_CONNECTIONS`]). Tests open one-connection
    /// stores to prove that no write reads through the pool while its transaction
    /// holds the only connection (on SQLite, the others would all be waiting for the
    /// write lock that transaction holds).
    pub async fn open_with_connections(url: &str, connections: Option<u32>) -> Result<Store> {
        let open_err = |source| StoreError::Open {
            url: redact(url),
            source,
        };
        let backend = if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(parent) = std::path::Path::new(path).parent()
                && !parent.as_os_str().is_empty()
                && path != ":memory:"
            {
                std::fs::create_dir_all(parent).map_err(|e| open_err(sqlx::Error::Io(e)))?;
            }
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(open_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-262144")
                .pragma("temp_store", "memory")
                // Index builds (bulk loads) may sort on a second thread.
                .pragma("threads", "2")
                // Larger pages: fewer B-tree levels and splits in bulk loads and index builds.
                .page_size(8192);
            let pool = SqlitePoolOptions::new()
                .max_connections(connections.unwrap_or(SQLITE_CONNECTIONS))
                .connect_with(opts)
                .await
                .map_err(open_err)?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = PgConnectOptions::from_str(url).map_err(open_err)?;
            // No JIT compilation unless the URL asks for it (`options=-c jit=on`): its
            // cost thresholds count a write of a few thousand rows as worth compiling,
            // and the compile took longer than the statement. PostgreSQL event ingest:
            // 28,473 -> 34,615 events/s (BENCHMARKS.md, "Issue 15: the queue refresh
            // merged, PostgreSQL's JIT off").
            if !opts.get_options().is_some_and(|o| o.contains("jit")) {
                opts = opts.options([("jit", "off")]);
            }
            // Generic plans, unless the URL says otherwise (`options=-c
            // plan_cache_mode=auto`): PostgreSQL's own choice planned many of the API's
            // statements again at every execution, because a plan made for the given
            // values looked cheaper than one for any values: parse and bind took 2.1-2.2
            // s of the load test's 5.4-5.8 s of statements, 1.3-1.4 s with plans kept
            // (BENCHMARKS.md, "Issue 15: plans kept per connection"). The one statement whose plan depends on its value,
            // a search, carries its pattern as a constant (`records::search_pattern_sql`).
            if !opts
                .get_options()
                .is_some_and(|o| o.contains("plan_cache_mode"))
            {
                opts = opts.options([("plan_cache_mode", "force_generic_plan")]);
            }
            // One connection first: a server that is down or refuses us says why at
            // once ("connection refused", "password authentication failed"), where the
            // pool would wait out its acquire timeout and say only that it timed out.
            {
                use sqlx::Connection;
                let first = tokio::time::timeout(
                    Duration::from_secs(10),
                    sqlx::PgConnection::connect_with(&opts),
                )
                .await
                .map_err(|_| open_err(sqlx::Error::PoolTimedOut))?
                .map_err(open_err)?;
                let _ = first.close().await;
            }
            let pool = PgPoolOptions::new()
                .max_connections(connections.unwrap_or(POSTGRES_CONNECTIONS))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await
                .map_err(open_err)?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let store = Store {
            backend,
            url: redact(url),
            tool_url: ToolUrl(url.to_string()),
            generation: Default::default(),
            token_cache: Default::default(),
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The URL, with any password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// PostgreSQL: takes the planner's statistics of every table now (`ANALYZE`),
    /// after a write of many rows, rather than when autovacuum next comes by (within
    /// minutes). Until then the planner takes a fresh table for a few rows: a search
    /// of the demo's customers walked the whole primary key (11 ms) instead of the
    /// trigram indexes (0.5 ms). SQLite: nothing (its plans keep to the indexes).
    pub async fn analyze(&self) -> Result<()> {
        if let Backend::Postgres(p) = &self.backend {
            sqlx::query("ANALYZE").execute(p).await?;
        }
        Ok(())
    }

    /// PostgreSQL: whether the server runs with `autovacuum = off`. Then nothing takes
    /// the dead rows of the tables Kanta updates (jobs, customers, the queue's marks)
    /// or the planner's statistics as tables grow, and plans kept per connection stay
    /// as they were made on small tables. SQLite: false (it has no such process).
    pub async fn autovacuum_off(&self) -> Result<bool> {
        match &self.backend {
            Backend::Postgres(p) => {
                let on: String = sqlx::query_scalar("SELECT current_setting('autovacuum')")
                    .fetch_one(p)
                    .await?;
                Ok(on == "off")
            }
            Backend::Sqlite(_) => Ok(false),
        }
    }

    /// PostgreSQL: what autovacuum would do now, by its default rule, for the tables
    /// of this database's schema: `VACUUM (ANALYZE)` of each table with more dead rows
    /// than 50 + 20% of its live ones, or more rows changed since its last `ANALYZE`
    /// than 50 + 10%. The tables done, by name; none when another process holds the
    /// job (one advisory lock: two `kanta serve` on one database take turns), and
    /// always none on SQLite.
    ///
    /// `kanta serve` calls it every minute when [`Store::autovacuum_off`] says so.
    /// Without it, on such a server the queue page's plan, kept per connection since
    /// the audit log had three pages, read the whole log at every page, and the jobs'
    /// and the queue marks' tables only grew (BENCHMARKS.md, "Issue 15: ten minutes
    /// without autovacuum").
    pub async fn vacuum_due(&self) -> Result<Vec<String>> {
        let Backend::Postgres(p) = &self.backend else {
            return Ok(Vec::new());
        };
        let mut conn = p.acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(VACUUM_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if !got {
            return Ok(Vec::new());
        }
        let done = async {
            let due: Vec<String> = sqlx::query_scalar(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() \
                 AND (n_dead_tup > 50 + 0.2 * n_live_tup \
                   OR n_mod_since_analyze > 50 + 0.1 * n_live_tup) ORDER BY relname",
            )
            .fetch_all(&mut *conn)
            .await?;
            for t in &due {
                let sql = format!("VACUUM (ANALYZE) \"{}\"", t.replace('"', "\"\""));
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await?;
            }
            Ok::<_, StoreError>(due)
        }
        .await;
        // The lock is the connection's: released here, or when it closes.
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(VACUUM_LOCK)
            .execute(&mut *conn)
            .await;
        done
    }

    /// Closes the pool, waiting for connections to finish (SQLite checkpoints its WAL).
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}

/// The PostgreSQL advisory lock [`Store::vacuum_due`] holds while it works ("kantavac"
/// in ASCII).
pub const VACUUM_LOCK: i64 = 0x6b61_6e74_6176_6163;

/// A database URL that may hold a password: its `Debug` shows it redacted.
#[derive(Clone)]
pub(crate) struct ToolUrl(pub(crate) String);

impl std::fmt::Debug for ToolUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Hides the password of a `postgres://user:password@host/db` URL.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((auth, host)) = rest.split_once('@')
        && let Some((user, _)) = auth.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

/// Milliseconds since the Unix epoch, as the server's own tables keep times.
pub(crate) fn to_ms(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

/// A time kept as milliseconds since the Unix epoch.
pub(crate) fn from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
}

/// A stored JSON value that does not parse, as a decoding error.
pub(crate) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(Box::new(e)))
}

/// Runs the same code on whichever pool the store has; inside, `$pool` is the
/// concrete pool and the SQL may be shared between dialects.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The SQLite pool's size when `store.connections` is 0.
pub const SQLITE_CONNECTIONS: u32 = 4;

/// The PostgreSQL pool's size when `store.connections` is 0. On 2 cores, 4 per server
/// served the load test's mix no faster than 8 (1,268-1,762 requests/s against
/// 1,193-1,621 in alternated runs; BENCHMARKS.md, "Issue 15: the pool's size").
pub const POSTGRES_CONNECTIONS: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://./x.db"), "sqlite://./x.db");
    }
}

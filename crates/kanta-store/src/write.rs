//! Bulk, idempotent, all-or-nothing writes of any entity.
//!
//! A [`WriteBatch`] names the fields it carries; only those columns are written, so a
//! file with `id,email` updates emails and leaves names alone. Each row is upserted by
//! its external id: a new id inserts, a known id with changed values updates (and
//! bumps `updated_at`), a known id with the same values changes nothing.
//!
//! A [`Writer`] is one database transaction that takes batches as they come (an
//! import streams its file through it in chunks) and commits in [`Writer::finish`];
//! dropped unfinished, or killed at any moment, it leaves the store as before.
//!
//! A batch none of whose external ids the table holds (new events, an API create:
//! one probe of its ids decides) is loaded straight into the table; a write of
//! transactions sums its rows per customer as they pass and adds the sums to the
//! customers' totals when it merges. Other batches are loaded in bulk into a
//! temporary stage table (`COPY` on PostgreSQL; one JSON array per 10,000 rows,
//! expanded by `jsonb_each`, on SQLite), then merged with one `UPDATE ... FROM` for
//! changed rows and one `INSERT ... WHERE NOT EXISTS` for new ones: the same SQL on
//! both backends. A large write into an empty table skips the stage too: the table's
//! indexes are dropped, the rows loaded straight in, and the indexes rebuilt, still
//! inside the transaction.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::Utc;
use kanta_domain::Value;
use kanta_domain::schema::{self, CUSTOMERS, Entity, Field, Kind, SUBSCRIPTIONS, TRANSACTIONS};
use kanta_domain::value::{format_time, push_time};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Executor, Postgres, Sqlite};

pub use kanta_domain::batch::WriteBatch;

use crate::audit::{self, AuditEntry};
use crate::{Backend, Result, Store, StoreError, subscriptions, totals};

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteSummary {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub customers_created: u64,
}

/// Rows per JSON array when loading SQLite.
const SQLITE_CHUNK_ROWS: usize = 10_000;

/// A first batch at least this large into an empty table makes the write a bulk
/// load (indexes rebuilt at the end instead of maintained row by row).
pub const BULK_MIN_ROWS: usize = 20_000;

/// The open transaction of a [`Writer`] (and of the store's own small writes: audit
/// entries, jobs, mail, settings).
pub(crate) enum DbTx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::write::DbTx::Sqlite($c) => $body,
            $crate::write::DbTx::Postgres($c) => $body,
        }
    };
}
pub(crate) use on_tx;

/// (external id, id) of the records of `table` among the external ids bound as `$1`
/// (SQLite: a JSON array; PostgreSQL: a text array, one index probe each).
fn lookup_sql(table: &str, postgres: bool) -> String {
    if postgres {
        format!("SELECT external_id, id FROM {table} WHERE external_id = ANY($1)")
    } else {
        format!(
            "SELECT external_id, id FROM {table} WHERE external_id IN (SELECT value FROM json_each($1))"
        )
    }
}

impl DbTx {
    async fn execute(&mut self, sql: String) -> Result<u64> {
        Ok(
            on_tx!(self, tx => tx.execute(AssertSqlSafe(sql)).await.map_err(StoreError::classify)?.rows_affected()),
        )
    }

    /// Sets the totals of the customers in `sums` (after a bulk load, when they had
    /// no transactions before), or adds `sums` to them (`add`: new rows written
    /// straight into the table): chunks of JSON through `json_each` on SQLite, arrays
    /// through `UNNEST` on PostgreSQL, in customer id order.
    async fn write_totals(&mut self, sums: &totals::TotalsByCustomer, add: bool) -> Result<()> {
        self.write_totals_then(sums, add, true).await
    }

    /// [`DbTx::write_totals`]; `restore_trigger` false leaves migration 0021's trigger
    /// off (`kanta.sort_keys_set`) for the rest of the transaction: for the last
    /// statement that could fire it before the commit, which resets the setting
    /// anyway (it is local to the transaction).
    async fn write_totals_then(
        &mut self,
        sums: &totals::TotalsByCustomer,
        add: bool,
        restore_trigger: bool,
    ) -> Result<()> {
        if sums.is_empty() {
            return Ok(());
        }
        let mut rows: Vec<(&i64, &totals::CustomerTotals)> = sums.iter().collect();
        rows.sort_unstable_by_key(|(id, _)| **id);
        // A few customers (an API create): migration 0020's row trigger sets their
        // sort keys, and the statement that turns it off is not needed.
        let few = add && rows.len() <= totals::FEW_CUSTOMERS;
        let sql = match (add, self.is_postgres()) {
            (false, false) => totals::SET_FROM_JSON.to_string(),
            (true, false) => totals::add_from_json(),
            (true, true) if few => totals::add_from_arrays_by_trigger(),
            (add, true) => totals::from_arrays(add),
        };
        let keys_set = self.is_postgres() && !few;
        if keys_set {
            self.execute(totals::sort_keys_set(true)).await?;
        }
        for chunk in rows.chunks(SQLITE_CHUNK_ROWS) {
            match self {
                DbTx::Sqlite(tx) => {
                    let mut json = String::with_capacity(chunk.len() * 48);
                    json.push('[');
                    for (i, (id, s)) in chunk.iter().enumerate() {
                        if i > 0 {
                            json.push(',');
                        }
                        let _ = write!(
                            json,
                            "[{id},{},{},{},{}",
                            s.count, s.revenue, s.refunds, s.refunds_minor
                        );
                        for at in [&s.first_order, &s.last_order] {
                            match at {
                                Some(t) => {
                                    json.push_str(",\"");
                                    push_time(&mut json, t);
                                    json.push('"');
                                }
                                None => json.push_str(",null"),
                            }
                        }
                        json.push(']');
                    }
                    json.push(']');
                    sqlx::query::<Sqlite>(AssertSqlSafe(sql.to_string()))
                        .bind(json)
                        .execute(&mut **tx)
                        .await?;
                }
                DbTx::Postgres(tx) if few && chunk.len() == 1 => {
                    // One customer (an API create) as scalars: arrays are planned again
                    // at every execution, scalars once per connection.
                    let (id, s) = chunk[0];
                    sqlx::query::<Postgres>(AssertSqlSafe(totals::add_one()))
                        .bind(*id)
                        .bind(s.count)
                        .bind(s.revenue)
                        .bind(s.refunds)
                        .bind(s.refunds_minor)
                        .bind(s.first_order)
                        .bind(s.last_order)
                        .execute(&mut **tx)
                        .await?;
                }
                DbTx::Postgres(tx) => {
                    let ids: Vec<i64> = chunk.iter().map(|(id, _)| **id).collect();
                    let counts: Vec<i64> = chunk.iter().map(|(_, s)| s.count).collect();
                    let revenue: Vec<i64> = chunk.iter().map(|(_, s)| s.revenue).collect();
                    let refunds: Vec<i64> = chunk.iter().map(|(_, s)| s.refunds).collect();
                    let refunds_minor: Vec<i64> =
                        chunk.iter().map(|(_, s)| s.refunds_minor).collect();
                    let first: Vec<Option<chrono::DateTime<chrono::Utc>>> =
                        chunk.iter().map(|(_, s)| s.first_order).collect();
                    let last: Vec<Option<chrono::DateTime<chrono::Utc>>> =
                        chunk.iter().map(|(_, s)| s.last_order).collect();
                    sqlx::query::<Postgres>(AssertSqlSafe(sql.to_string()))
                        .bind(ids)
                        .bind(counts)
                        .bind(revenue)
                        .bind(refunds)
                        .bind(refunds_minor)
                        .bind(first)
                        .bind(last)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        if keys_set && restore_trigger {
            self.execute(totals::sort_keys_set(false)).await?;
        }
        Ok(())
    }

    /// PostgreSQL: locks the customers whose totals `sums` changes, in id order (a
    /// shared writer's update of them would otherwise take the rows in whatever order
    /// its join gives, and two such writers could each wait for the other).
    async fn lock_customers(&mut self, sums: &totals::TotalsByCustomer) -> Result<()> {
        // One customer's row is locked by the update itself: there is no order to keep.
        if sums.len() < 2 {
            return Ok(());
        }
        if let DbTx::Postgres(tx) = self {
            let mut ids: Vec<i64> = sums.keys().copied().collect();
            ids.sort_unstable();
            sqlx::query(
                "SELECT id FROM customers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            )
            .bind(ids)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, DbTx::Postgres(_))
    }

    /// Appends an entry to the audit log, in this transaction.
    pub(crate) async fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        let sql = audit::insert_sql(self.is_postgres());
        let at = Utc::now().timestamp_millis();
        on_tx!(self, tx => {
            audit::bind_insert(sqlx::query(sql), e, at).execute(&mut **tx).await?;
        });
        Ok(())
    }

    pub(crate) fn now(&self) -> String {
        match self {
            // Times as SQLite stores them, computed once rather than per row.
            DbTx::Sqlite(_) => format!("'{}'", format_time(&chrono::Utc::now())),
            DbTx::Postgres(_) => "now()".into(),
        }
    }

    /// Whether `table` holds any of these external ids.
    async fn any_exists<'a>(
        &mut self,
        table: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<bool> {
        let ids: Vec<&str> = ids.collect();
        let found = match self {
            DbTx::Sqlite(tx) => {
                let sql = format!(
                    "SELECT 1 FROM {table} WHERE external_id IN (SELECT value FROM json_each($1)) LIMIT 1"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
                    .fetch_optional(&mut **tx)
                    .await?
                    .is_some()
            }
            DbTx::Postgres(tx) => {
                let sql = format!("SELECT 1 FROM {table} WHERE external_id = ANY($1) LIMIT 1");
                sqlx::query(AssertSqlSafe(sql))
                    .bind(ids)
                    .fetch_optional(&mut **tx)
                    .await?
                    .is_some()
            }
        };
        Ok(found)
    }

    async fn is_empty(&mut self, table: &str) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {table} LIMIT 1");
        let found = match self {
            DbTx::Sqlite(tx) => sqlx::query(AssertSqlSafe(sql))
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
            DbTx::Postgres(tx) => sqlx::query(AssertSqlSafe(sql))
                .fetch_optional(&mut **tx)
                .await?
                .is_some(),
        };
        Ok(!found)
    }

    /// The table's own indexes (name, CREATE statement), not those of constraints.
    async fn indexes(&mut self, table: &str) -> Result<Vec<(String, String)>> {
        Ok(match self {
            DbTx::Sqlite(tx) => {
                sqlx::query_as::<Sqlite, (String, String)>(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
                )
                .bind(table.to_string())
                .fetch_all(&mut **tx)
                .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_as::<Postgres, (String, String)>(
                    "SELECT i.indexname::text, i.indexdef FROM pg_indexes i \
                     WHERE i.schemaname = current_schema() AND i.tablename = $1 \
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                )
                .bind(table)
                .fetch_all(&mut **tx)
                .await?
            }
        })
    }

    /// (external id, id) of the records of `table` with these external ids.
    async fn lookup(&mut self, table: &str, ids: &[String]) -> Result<Vec<(String, i64)>> {
        Ok(match self {
            DbTx::Sqlite(tx) => {
                sqlx::query_as::<Sqlite, (String, i64)>(AssertSqlSafe(lookup_sql(table, false)))
                    .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
                    .fetch_all(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_as::<Postgres, (String, i64)>(AssertSqlSafe(lookup_sql(table, true)))
                    .bind(ids)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    /// Creates the customers that do not exist yet; returns (external id, id) of
    /// those it created.
    async fn create_customers(&mut self, ids: &[String]) -> Result<Vec<(String, i64)>> {
        let mut created = Vec::new();
        for chunk in ids.chunks(10_000) {
            created.extend(match self {
                DbTx::Sqlite(tx) => sqlx::query_as::<Sqlite, (String, i64)>(
                    "INSERT INTO customers (external_id) SELECT value FROM json_each($1) WHERE true \
                     ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id",
                )
                .bind(serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into()))
                .fetch_all(&mut **tx)
                .await?,
                DbTx::Postgres(tx) => sqlx::query_as::<Postgres, (String, i64)>(
                    "INSERT INTO customers (external_id) SELECT unnest($1::text[]) \
                     ON CONFLICT (external_id) DO NOTHING RETURNING external_id, id",
                )
                .bind(chunk)
                .fetch_all(&mut **tx)
                .await?,
            });
        }
        Ok(created)
    }

    /// Inserts rows given as a JSON array of objects ([`rows_json`]) into `target`
    /// (PostgreSQL).
    async fn insert_json(&mut self, target: &str, cols: &str, json: &str) -> Result<()> {
        let sql = format!(
            "INSERT INTO {target} ({cols}) SELECT {cols} \
             FROM json_populate_recordset(NULL::{target}, $1::json)"
        );
        self.execute_json(sql, json).await?;
        Ok(())
    }

    /// Runs a statement whose one parameter, `$1`, is JSON text (PostgreSQL); the
    /// rows it changed.
    async fn execute_json(&mut self, sql: String, json: &str) -> Result<u64> {
        match self {
            DbTx::Sqlite(_) => unreachable!("SQLite merges through its stage"),
            DbTx::Postgres(tx) => Ok(sqlx::query::<Postgres>(AssertSqlSafe(sql))
                .bind(json)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::classify)?
                .rows_affected()),
        }
    }

    /// Loads rows into `target` with COPY (PostgreSQL; SQLite loads through
    /// [`Writer::load_sqlite`]); a stage of at most [`SMALL_BATCH_ROWS`] rows by one
    /// `INSERT` of a JSON parameter instead.
    async fn copy_in(&mut self, target: &str, batch: &WriteBatch, refs: &RefIds) -> Result<()> {
        let stride = batch.stride();
        let cols = column_list(batch);
        match self {
            DbTx::Sqlite(_) => unreachable!("SQLite loads through Writer::load_sqlite"),
            DbTx::Postgres(_) if batch.len() <= SMALL_BATCH_ROWS => {
                // A few rows (an API write) as one JSON parameter: COPY sends its data
                // and its end in two flushes, and without TCP_NODELAY (sqlx sets none)
                // the end waits for the server's delayed ACK, 40 ms per write.
                self.insert_json(target, &cols, &rows_json(batch, refs))
                    .await?;
            }
            DbTx::Postgres(tx) => {
                // COPY cannot set constants: the table's defaults fill created_at.
                let mut copy = tx
                    .copy_in_raw(&format!("COPY {target} ({cols}) FROM STDIN"))
                    .await?;
                let mut buf = String::with_capacity(1 << 20);
                for row in batch.values.chunks(stride) {
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            buf.push('\t');
                        }
                        let field = i.checked_sub(1).map(|k| batch.fields[k]);
                        copy_text(&mut buf, &resolve(v, field, refs));
                    }
                    buf.push('\n');
                    if buf.len() > (1 << 20) - 4096 {
                        copy.send(std::mem::take(&mut buf).into_bytes()).await?;
                        buf.reserve(1 << 20);
                    }
                }
                if !buf.is_empty() {
                    copy.send(buf.into_bytes()).await?;
                }
                copy.finish().await?;
            }
        }
        Ok(())
    }

    async fn log_run(&mut self, entity: &Entity, run: &RunInfo, s: &WriteSummary) -> Result<()> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| run_insert_sql(1));
        on_tx!(self, tx => bind_run(sqlx::query(AssertSqlSafe(sql.as_str())), entity, run, s)
            .execute(&mut **tx)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// PostgreSQL: [`DbTx::log_run`] and [`DbTx::audit`] of one entry in one
    /// statement (a write's last two inserts; one round trip instead of two).
    async fn log_run_and_audit(
        &mut self,
        entity: &Entity,
        run: &RunInfo,
        s: &WriteSummary,
        e: &AuditEntry,
    ) -> Result<()> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!(
                "WITH run AS ({}) {}",
                run_insert_sql(12),
                audit::insert_sql(true)
            )
        });
        let DbTx::Postgres(tx) = self else {
            self.log_run(entity, run, s).await?;
            return self.audit(e).await;
        };
        let at = Utc::now().timestamp_millis();
        let q = audit::bind_insert(sqlx::query::<Postgres>(AssertSqlSafe(sql.as_str())), e, at);
        bind_run(q, entity, run, s).execute(&mut **tx).await?;
        Ok(())
    }

    pub(crate) async fn commit(self) -> Result<()> {
        on_tx!(self, tx => tx.commit().await?);
        Ok(())
    }
}

/// The insert of a run's row into the import log, its parameters numbered from
/// `first` (bound by [`bind_run`]).
fn run_insert_sql(first: usize) -> String {
    let params: Vec<String> = (first..first + 8).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO import_runs (entity, source, rows_read, inserted, updated, unchanged, \
         rejected, customers_created) VALUES ({})",
        params.join(", ")
    )
}

/// Binds a run's row of the import log (entity, source, the counts), in the order of
/// `import_runs`' columns, after the parameters bound before.
fn bind_run<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, DB::Arguments>,
    entity: &Entity,
    run: &RunInfo,
    s: &WriteSummary,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> &'q str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    q.bind(entity.name)
        .bind(run.source.clone())
        .bind(run.rows_read as i64)
        .bind(s.inserted as i64)
        .bind(s.updated as i64)
        .bind(s.unchanged as i64)
        .bind(run.rejected as i64)
        .bind(s.customers_created as i64)
}

/// What the import log records of a write besides its counts.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub source: String,
    pub rows_read: u64,
    pub rejected: u64,
}

/// How the rows reach their table.
enum Mode {
    /// Not decided until the first batch (its size and the table's emptiness).
    Undecided,
    /// Into the temporary stage, merged in `finish`.
    Stage,
    /// PostgreSQL: a few rows naming existing ids (an API update) held as one JSON
    /// array ([`rows_json`]) and merged in `finish` straight from it, without a
    /// temporary stage to create, fill, analyse and drop (2.5 ms of a `PATCH`, and
    /// rows in the catalogue for each). A second such batch turns it into a stage.
    Rows { json: String, rows: usize },
    /// Straight into the empty table, whose indexes are rebuilt in `finish`.
    Bulk { indexes: Vec<(String, String)> },
}

/// One open write transaction; see the module documentation.
pub struct Writer {
    pub(crate) tx: DbTx,
    entity: &'static Entity,
    fields: Vec<&'static Field>,
    mode: Mode,
    /// Internal ids of references seen so far, by field and external id.
    /// Shared with the thread rendering the next batch; changed only between batches.
    refs: std::sync::Arc<RefIds>,
    rows: u64,
    /// Of `rows`, those merged already by [`Writer::merge_written`].
    merged_rows: u64,
    /// Whether any batch was written (a writer may carry only audit entries, jobs,
    /// mail).
    wrote_batch: bool,
    summary: WriteSummary,
    /// SQLite: the statement and JSON arrays of the last batch, not yet executed
    /// (rendering the next batch overlaps with executing this one).
    pending: Option<(String, Vec<String>)>,
    /// A bulk load of transactions: each customer's totals, summed as the rows pass.
    bulk_totals: Option<totals::TotalsByCustomer>,
    /// Rows written straight into the table since the last merge (batches of new ids
    /// only), and, for transactions, their sums per customer, added to the totals at
    /// the merge (by a shared writer, just before it commits).
    direct_rows: u64,
    direct_totals: Option<totals::TotalsByCustomer>,
    /// The store, to count the write when it commits.
    store: Store,
    /// The day subscriptions' figures are computed as of (billed periods, next
    /// renewal): today in UTC unless the caller knows the store's day
    /// ([`Writer::set_today`]).
    today: chrono::NaiveDate,
    /// Whether this writer shares the database with other writers
    /// ([`Store::shared_writer`]).
    shared: bool,
    /// Whether this transaction holds a `write_context` row
    /// ([`Writer::set_context`](crate::privacy)), removed before it commits.
    pub(crate) context_set: bool,
    /// Ids of this writer's entity that [`Writer::known`] found absent in this
    /// transaction since the last batch (an API create asks before it writes): a
    /// batch of only such ids needs no second probe.
    absent: rustc_hash::FxHashSet<String>,
    /// Ids of this writer's entity known to exist ([`Writer::mark_present`]: an
    /// update read its record in its write turn): a batch of only such ids needs no
    /// probe, and its merge no insert.
    present: rustc_hash::FxHashSet<String>,
    /// Whether every batch since the last merge held only such ids.
    present_only: bool,
    /// What [`Writer::prefetch`] found, by table and external id (`None`: absent);
    /// it answers [`Writer::known`] until the next batch is written.
    prefetched: HashMap<(&'static str, String), Option<i64>>,
    /// Where the write comes from, held until a batch of customers carrying a consent
    /// field needs it in `write_context` ([`Writer::defer_context`](crate::privacy)).
    pub(crate) deferred_context: Option<crate::privacy::WriteContext>,
}

/// Stages of at most this many rows are loaded on PostgreSQL by one `INSERT` of a
/// JSON parameter rather than by COPY (see [`DbTx::copy_in`]).
const SMALL_BATCH_ROWS: usize = 200;

/// The PostgreSQL advisory lock every [`Writer`] holds for its transaction ("Kanta" in
/// ASCII).
pub const WRITE_LOCK_KEY: i64 = 0x004b_616e_7461;

/// Internal ids of referenced records, by field name and external id.
type RefIds = HashMap<&'static str, HashMap<String, i64>>;

impl Store {
    /// Opens a write transaction for rows of `entity` carrying `fields`.
    pub async fn writer(
        &self,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
    ) -> Result<Writer> {
        self.open_writer(entity, fields, false).await
    }

    /// Opens a write transaction that other shared writers may run beside (PostgreSQL;
    /// on SQLite, which has one writer at a time, it is [`Store::writer`]). It may
    /// only insert new rows: a batch naming an existing id, one that would be a bulk
    /// load, or a customer another writer created meanwhile ends it with
    /// [`StoreError::Contended`], and the caller makes the write again with
    /// [`Store::writer`]. What it adds to customers' totals it adds after locking them
    /// in id order, so that two shared writers never wait for each other in a circle.
    pub async fn shared_writer(
        &self,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
    ) -> Result<Writer> {
        self.open_writer(entity, fields, self.shares_writes()).await
    }

    /// Whether [`Store::shared_writer`] gives writers that run beside each other.
    pub fn shares_writes(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    async fn open_writer(
        &self,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
        shared: bool,
    ) -> Result<Writer> {
        let mut tx = self.begin().await?;
        if let DbTx::Postgres(c) = &mut tx {
            // One writer at a time per database, as SQLite's IMMEDIATE gives: two
            // `kanta serve` instances creating the same new id must not both find it
            // absent (READ COMMITTED would let both pass the check and then one
            // overwrite the other, or fail on the unique index). Shared writers,
            // which only insert, hold the lock shared: they wait for an exclusive
            // writer and it for them, but not for each other.
            //
            // Not sent with the BEGIN in one message: a request cancelled while its
            // BEGIN waits for the lock leaves sqlx's connection in a transaction it
            // does not know of (it rolls back only a transaction it has begun), and
            // the pool hands it on still holding the lock. Here the wait is inside a
            // begun transaction, which a cancellation rolls back.
            let lock = if shared {
                "SELECT pg_advisory_xact_lock_shared($1)"
            } else {
                "SELECT pg_advisory_xact_lock($1)"
            };
            sqlx::query(lock)
                .bind(WRITE_LOCK_KEY)
                .execute(&mut **c)
                .await?;
        }
        Ok(Writer {
            shared,
            tx,
            entity,
            fields,
            mode: Mode::Undecided,
            refs: Default::default(),
            absent: Default::default(),
            rows: 0,
            merged_rows: 0,
            wrote_batch: false,
            summary: WriteSummary::default(),
            pending: None,
            bulk_totals: None,
            direct_rows: 0,
            direct_totals: None,
            store: self.clone(),
            today: Utc::now().date_naive(),
            context_set: false,
            present: Default::default(),
            present_only: true,
            prefetched: Default::default(),
            deferred_context: None,
        })
    }

    /// Opens a write transaction (what [`Store::writer`] and the store's own small
    /// writes run in).
    pub(crate) async fn begin(&self) -> Result<DbTx> {
        Ok(match &self.backend {
            // IMMEDIATE: the write lock now, not at the first write. A deferred
            // transaction that reads (references, existing ids) before it writes fails
            // with SQLITE_BUSY_SNAPSHOT when another connection commits in between.
            Backend::Sqlite(pool) => DbTx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres(pool) => DbTx::Postgres(pool.begin().await?),
        })
    }

    /// Upserts one batch in its own transaction.
    pub async fn write(&self, batch: &WriteBatch) -> Result<WriteSummary> {
        let mut w = self.writer(batch.entity, batch.fields.clone()).await?;
        w.write(WriteBatch {
            values: batch.values.clone(),
            create_customers: batch.create_customers.clone(),
            source: batch.source.clone(),
            ..WriteBatch::new(batch.entity, batch.fields.clone())
        })
        .await?;
        w.finish(&RunInfo {
            source: batch.source.clone(),
            rows_read: batch.rows_read,
            rejected: batch.rejected,
        })
        .await
    }

    /// The internal ids of the records of `entity` with these external ids; ids that
    /// do not exist are absent from the map.
    pub async fn existing_ids(
        &self,
        entity: &Entity,
        external_ids: &[String],
    ) -> Result<HashMap<String, i64>> {
        if external_ids.len() <= 10_000 {
            // One statement needs no transaction (a page's or the API's one id).
            let pg = matches!(self.backend, Backend::Postgres(_));
            let sql = AssertSqlSafe(lookup_sql(entity.table, pg));
            return Ok(match &self.backend {
                Backend::Sqlite(pool) => sqlx::query_as::<Sqlite, (String, i64)>(sql)
                    .bind(serde_json::to_string(external_ids).unwrap_or_else(|_| "[]".into()))
                    .fetch_all(pool)
                    .await?
                    .into_iter()
                    .collect(),
                Backend::Postgres(pool) => sqlx::query_as::<Postgres, (String, i64)>(sql)
                    .bind(external_ids)
                    .fetch_all(pool)
                    .await?
                    .into_iter()
                    .collect(),
            });
        }
        let mut tx = match &self.backend {
            Backend::Sqlite(pool) => DbTx::Sqlite(pool.begin().await?),
            Backend::Postgres(pool) => DbTx::Postgres(pool.begin().await?),
        };
        let mut out = HashMap::default();
        for chunk in external_ids.chunks(10_000) {
            out.extend(tx.lookup(entity.table, chunk).await?);
        }
        Ok(out)
    }
}

impl Writer {
    /// Computes subscriptions' figures as of `today` (the store's day, which the
    /// core knows) instead of today in UTC.
    pub fn set_today(&mut self, today: chrono::NaiveDate) {
        self.today = today;
    }

    /// The external ids among `ids` that exist as records of `target` (within this
    /// transaction, so customers created by earlier batches count).
    pub async fn known(
        &mut self,
        target: &'static Entity,
        ids: &[String],
    ) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::default();
        let prefetched = !ids.is_empty()
            && ids
                .iter()
                .all(|i| self.prefetched.contains_key(&(target.table, i.clone())));
        if prefetched {
            out.extend(ids.iter().filter_map(|i| {
                self.prefetched
                    .get(&(target.table, i.clone()))
                    .copied()
                    .flatten()
                    .map(|id| (i.clone(), id))
            }));
        } else {
            for chunk in ids.chunks(10_000) {
                out.extend(self.tx.lookup(target.table, chunk).await?);
            }
        }
        // What this transaction found serves its batches: the references found need
        // no second lookup, the own ids found absent no second probe.
        for f in &self.fields {
            if matches!(f.kind, Kind::Ref(t) if t == target.name) && !out.is_empty() {
                std::sync::Arc::make_mut(&mut self.refs)
                    .entry(f.name)
                    .or_default()
                    .extend(out.iter().map(|(k, v)| (k.clone(), *v)));
            }
        }
        if target.name == self.entity.name {
            self.absent
                .extend(ids.iter().filter(|i| !out.contains_key(*i)).cloned());
        }
        Ok(out)
    }

    /// Looks up several records by external id in one statement (an API create: its
    /// own id and the records it names), so that the [`Writer::known`] calls that
    /// follow, and the lookup of the customers a batch names, are answered without
    /// asking again. What it found serves until the next batch is written.
    pub async fn prefetch(&mut self, wanted: &[(&'static Entity, String)]) -> Result<()> {
        if wanted.is_empty() {
            return Ok(());
        }
        // One branch per id, each an equality on the unique index: a plan the
        // database keeps, where `= ANY(array)` was planned again at every bind.
        let sql = wanted
            .iter()
            .enumerate()
            .map(|(k, (e, _))| {
                format!(
                    "SELECT CAST({k} AS BIGINT), id FROM {} WHERE external_id = ${}",
                    e.table,
                    k + 1
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let found: Vec<(i64, i64)> = on_tx!(&mut self.tx, tx => {
            let mut q = sqlx::query_as(AssertSqlSafe(sql));
            for (_, id) in wanted {
                q = q.bind(id.as_str());
            }
            q.fetch_all(&mut **tx).await?
        });
        for (e, id) in wanted {
            self.prefetched.insert((e.table, id.clone()), None);
        }
        for (k, id) in found {
            if let Some((e, x)) = usize::try_from(k).ok().and_then(|k| wanted.get(k)) {
                self.prefetched.insert((e.table, x.clone()), Some(id));
            }
        }
        Ok(())
    }

    /// Says that these ids of the writer's entity exist (an update that read its
    /// record in this write's turn): a batch of only these ids is merged without a
    /// probe and without an insert of new rows. Should one have gone meanwhile (another
    /// process deleted it), the update changes nothing and nothing is created.
    pub fn mark_present(&mut self, ids: impl IntoIterator<Item = String>) {
        self.present.extend(ids);
    }

    /// Whether every id of `batch` was marked present ([`Writer::mark_present`]): its
    /// write inserts no row.
    pub fn all_present(&self, batch: &WriteBatch) -> bool {
        !self.present.is_empty() && batch.ids().all(|i| self.present.contains(i))
    }

    /// Rows this writer inserted so far (counted when merged: after
    /// [`Writer::merge_written`], every batch's).
    pub fn inserted(&self) -> u64 {
        self.summary.inserted
    }

    /// The greatest id in `table` (0 when empty), within this transaction: taken
    /// before a write, the rows with a greater id afterwards are those it inserted.
    /// One index lookup.
    pub async fn max_id(&mut self, table: &str) -> Result<i64> {
        let sql = format!("SELECT CAST(COALESCE(max(id), 0) AS BIGINT) FROM {table}");
        Ok(
            on_tx!(&mut self.tx, tx => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .fetch_one(&mut **tx)
            .await?),
        )
    }

    /// Writes a batch (its fields must be the writer's).
    pub async fn write(&mut self, batch: WriteBatch) -> Result<()> {
        debug_assert_eq!(batch.fields.len(), self.fields.len());
        self.wrote_batch = true;
        let table = self.entity.table;
        // Ids this transaction found absent already (and no batch wrote since).
        let fresh = !self.absent.is_empty() && batch.ids().all(|i| self.absent.contains(i));
        self.absent.clear();
        let existing = !self.shared && self.all_present(&batch);
        self.present_only &= existing;
        if let Some(c) = self.deferred_context.take() {
            let consent = batch.entity.name == CUSTOMERS.name
                && batch.fields.iter().any(|f| {
                    matches!(
                        f.name,
                        "survey_consent" | "marketing_consent" | "do_not_contact"
                    )
                });
            if consent {
                self.set_context(&c).await?;
            } else {
                self.deferred_context = Some(c);
            }
        }
        // A shared writer probes first: a batch sent before ends it before its
        // customers are looked up.
        if self.shared {
            if self.entity.name == SUBSCRIPTIONS.name {
                return Err(StoreError::Contended("subscriptions merge through a stage"));
            }
            if !fresh && self.tx.any_exists(table, batch.ids()).await? {
                return Err(StoreError::Contended("the batch names an existing id"));
            }
        }
        // Customers met in earlier batches exist already.
        let seen = self.refs.get("customer_id");
        let mut new_customers: Vec<String> = batch
            .create_customers
            .iter()
            .filter(|id| seen.is_none_or(|m| !m.contains_key(*id)))
            .cloned()
            .collect();
        if let Some(f) = batch.entity.customer_field()
            && !new_customers.is_empty()
        {
            // Most customers a batch names exist: look them up (the lookup resolving
            // the references needs them anyway) and insert only the others, rather
            // than have every existing one found again by the insert's conflict
            // check (PostgreSQL: 14-26 ms of a 10,000-event batch naming 4,600).
            let found = self.known(&CUSTOMERS, &new_customers).await?;
            let known = std::sync::Arc::make_mut(&mut self.refs)
                .entry(f.name)
                .or_default();
            known.extend(found);
            new_customers.retain(|id| !known.contains_key(id));
        }
        let created = self.tx.create_customers(&new_customers).await?;
        // The batch may have created what was found absent.
        self.prefetched.clear();
        if self.shared && created.len() < new_customers.len() {
            // Another writer created some of them after the lookup.
            return Err(StoreError::Contended("a customer was created meanwhile"));
        }
        self.summary.customers_created += created.len() as u64;
        if let Some(f) = batch.entity.customer_field() {
            std::sync::Arc::make_mut(&mut self.refs)
                .entry(f.name)
                .or_default()
                .extend(created);
        }
        self.resolve_refs(&batch).await?;
        if matches!(self.mode, Mode::Undecided)
            && self.direct_rows == 0
            && batch.len() >= BULK_MIN_ROWS
            && self.tx.is_empty(table).await?
        {
            if self.shared {
                return Err(StoreError::Contended("a bulk load into an empty table"));
            }
            let indexes = self.tx.indexes(table).await?;
            for (name, _) in &indexes {
                self.tx.execute(format!("DROP INDEX {name}")).await?;
            }
            self.mode = Mode::Bulk { indexes };
        }
        // A batch none of whose ids the table holds (new events, an API create) goes
        // straight into the table: no stage to create, fill, analyse, probe and
        // merge. One probe of its ids decides. Subscriptions always merge through
        // the stage (their customers' figures are refreshed from it).
        let direct = !matches!(self.mode, Mode::Bulk { .. })
            && self.entity.name != SUBSCRIPTIONS.name
            && !existing
            && (self.shared || fresh || !self.tx.any_exists(table, batch.ids()).await?);
        let pg = matches!(self.tx, DbTx::Postgres(_));
        if !direct
            && pg
            && matches!(self.mode, Mode::Undecided)
            && batch.len() <= SMALL_BATCH_ROWS
            && self.entity.name != TRANSACTIONS.name
            && self.entity.name != SUBSCRIPTIONS.name
        {
            // (Transactions and subscriptions merge through the stage: their
            // customers' figures are recomputed from its rows.)
            self.rows += batch.len() as u64;
            self.mode = Mode::Rows {
                json: rows_json(&batch, &self.refs),
                rows: batch.len(),
            };
            return Ok(());
        }
        let held = match &mut self.mode {
            Mode::Rows { json, .. } if !direct => Some(std::mem::take(json)),
            _ => None,
        };
        if held.is_some() {
            self.mode = Mode::Undecided;
        }
        if !direct && matches!(self.mode, Mode::Undecided) {
            let cols = column_list(&batch);
            let create =
                format!("CREATE TEMP TABLE kanta_stage AS SELECT {cols} FROM {table} WHERE false");
            match self.tx {
                DbTx::Sqlite(_) => {
                    self.tx
                        .execute("DROP TABLE IF EXISTS temp.kanta_stage".into())
                        .await?;
                    self.tx.execute(create).await?;
                }
                DbTx::Postgres(_) => {
                    self.tx
                        .execute(create.replacen(
                            "kanta_stage AS",
                            "kanta_stage ON COMMIT DROP AS",
                            1,
                        ))
                        .await?;
                }
            }
            self.mode = Mode::Stage;
            if let Some(json) = held {
                // The rows held so far join the stage.
                self.tx.insert_json("kanta_stage", &cols, &json).await?;
            }
        }
        self.rows += batch.len() as u64;
        if direct {
            self.direct_rows += batch.len() as u64;
        }
        let bulk = matches!(self.mode, Mode::Bulk { .. });
        if (direct || bulk) && self.entity.name == TRANSACTIONS.name {
            let sums = if direct {
                &mut self.direct_totals
            } else {
                &mut self.bulk_totals
            };
            totals::add_batch(sums.get_or_insert_default(), &batch, &self.refs);
        }
        let target = if direct || bulk { table } else { "kanta_stage" };
        if let DbTx::Postgres(_) = self.tx {
            return self.tx.copy_in(target, &batch, &self.refs).await;
        }
        self.load_sqlite(target, batch).await
    }

    /// SQLite: renders the batch as JSON arrays on a blocking thread while the
    /// previous batch executes, and leaves this one pending.
    async fn load_sqlite(&mut self, target: &str, batch: WriteBatch) -> Result<()> {
        let mut extract = (0..batch.stride())
            .map(|i| format!("value->>{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut cols = column_list(&batch);
        if target != "kanta_stage" {
            // Times as SQLite stores them, computed once rather than per row.
            let now = self.tx.now();
            let _ = write!(cols, ", created_at, updated_at");
            let _ = write!(extract, ", {now}, {now}");
        }
        // jsonb_each hands each row over as JSONB, so `->>` reads it without
        // rendering and re-parsing text.
        let sql = format!("INSERT INTO {target} ({cols}) SELECT {extract} FROM jsonb_each($1)");
        let refs = std::sync::Arc::clone(&self.refs);
        let rendering = tokio::task::spawn_blocking(move || {
            let stride = batch.stride();
            batch
                .values
                .chunks(SQLITE_CHUNK_ROWS * stride)
                .map(|chunk| {
                    let mut json = String::with_capacity(chunk.len() * 16);
                    json_rows(&mut json, chunk, &batch, &refs);
                    json
                })
                .collect::<Vec<String>>()
        });
        self.flush_pending().await?;
        let jsons = rendering
            .await
            .map_err(|e| StoreError::Db(sqlx::Error::Io(std::io::Error::other(e))))?;
        self.pending = Some((sql, jsons));
        Ok(())
    }

    async fn flush_pending(&mut self) -> Result<()> {
        if let (Some((sql, jsons)), DbTx::Sqlite(tx)) = (self.pending.take(), &mut self.tx) {
            for json in jsons {
                sqlx::query::<Sqlite>(AssertSqlSafe(sql.clone()))
                    .bind(json)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// Merges what was written, records the run in the import log, and commits.
    ///
    /// A writer that was given no batch and a default [`RunInfo`] logs no run: it
    /// commits only what else it carried ([`Writer::audit`], [`Writer::enqueue`],
    /// [`Writer::queue_mail`]), so a write of those alone opens a writer on any entity
    /// with no fields and finishes it.
    pub async fn finish(mut self, run: &RunInfo) -> Result<WriteSummary> {
        let summary = self.merge(run).await?;
        self.add_shared_totals().await?;
        self.clear_context().await?;
        self.tx.commit().await?;
        if self.wrote_batch {
            self.store.wrote();
        }
        Ok(summary)
    }

    /// As [`Writer::finish`], with audit entries made from what the merge did (an
    /// import's one entry names its counts), written in the same transaction before it
    /// commits.
    pub async fn finish_audited(
        mut self,
        run: &RunInfo,
        audit: impl FnOnce(&WriteSummary) -> Vec<AuditEntry>,
    ) -> Result<WriteSummary> {
        let (summary, logged) = self.merge_unlogged(run).await?;
        let mut entries = audit(&summary).into_iter();
        match (logged, entries.next()) {
            (true, Some(first)) => {
                self.tx
                    .log_run_and_audit(self.entity, run, &summary, &first)
                    .await?
            }
            (true, None) => self.tx.log_run(self.entity, run, &summary).await?,
            (false, Some(first)) => self.tx.audit(&first).await?,
            (false, None) => {}
        }
        for e in entries {
            self.tx.audit(&e).await?;
        }
        self.add_shared_totals().await?;
        self.clear_context().await?;
        self.tx.commit().await?;
        if self.wrote_batch {
            self.store.wrote();
        }
        Ok(summary)
    }

    /// A shared writer's last statements: locks the customers whose totals its new
    /// transactions change, in id order, and adds the sums. Two shared writers of the
    /// same customers take turns only here, and never wait for each other in a
    /// circle.
    async fn add_shared_totals(&mut self) -> Result<()> {
        if self.shared
            && let Some(sums) = self.direct_totals.take()
        {
            self.tx.lock_customers(&sums).await?;
            // The write's last change of customers: the commit that follows turns the
            // trigger back on.
            self.tx.write_totals_then(&sums, true, false).await?;
        }
        Ok(())
    }

    /// Counts this writer's commit as a data write ([`Store::generation`]) though it
    /// wrote no batch (a refresh of derived figures).
    pub(crate) fn mark_written(&mut self) {
        self.wrote_batch = true;
    }

    /// Appends an entry to the audit log in this writer's transaction: it is
    /// committed with the rows it tells of, or dropped with them.
    pub async fn audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.tx.audit(e).await
    }

    /// Merges what was written so far (recording the run in the import log) and
    /// turns the writer to rows of another entity, in the same transaction: rows of
    /// several entities are then committed, or dropped, together. Returns what the
    /// merge did for the entity written so far.
    pub async fn next_entity(
        &mut self,
        entity: &'static Entity,
        fields: Vec<&'static Field>,
        run: &RunInfo,
    ) -> Result<WriteSummary> {
        let summary = self.merge(run).await?;
        // References are cached by field name: kept where the name means the same
        // table in the next entity (the customers of an events write's transactions,
        // interactions and usage, looked up once).
        let target = |fields: &[&Field], name: &str| {
            fields
                .iter()
                .find(|f| f.name == name)
                .and_then(|f| match f.kind {
                    Kind::Ref(t) => Some(t),
                    _ => None,
                })
        };
        let old = &self.fields;
        std::sync::Arc::make_mut(&mut self.refs)
            .retain(|name, _| target(old, name).is_some_and(|t| target(&fields, name) == Some(t)));
        self.entity = entity;
        self.fields = fields;
        Ok(summary)
    }

    /// Merges the rows written so far into their table, in this transaction, so that
    /// what runs next in it sees them (the core's rules after a write of cases,
    /// claims, interactions or feedback). The counts add up into the write's summary;
    /// the run is logged once, when the write finishes or turns to another entity.
    pub async fn merge_written(&mut self) -> Result<()> {
        self.merge_rows().await?;
        self.merged_rows = self.rows;
        Ok(())
    }

    /// Merges the rows written since the last merge into their table and logs the run.
    async fn merge(&mut self, run: &RunInfo) -> Result<WriteSummary> {
        let (summary, log) = self.merge_unlogged(run).await?;
        if log {
            self.tx.log_run(self.entity, run, &summary).await?;
        }
        Ok(summary)
    }

    /// [`Writer::merge`] but for the import log's row: returns the summary and
    /// whether the run is to be logged (the caller logs it with its audit entry).
    async fn merge_unlogged(&mut self, run: &RunInfo) -> Result<(WriteSummary, bool)> {
        self.merge_rows().await?;
        self.summary.unchanged = self
            .rows
            .saturating_sub(self.summary.inserted + self.summary.updated);
        let nothing = self.rows == 0
            && self.summary == WriteSummary::default()
            && run.source.is_empty()
            && run.rows_read == 0
            && run.rejected == 0;
        self.rows = 0;
        self.merged_rows = 0;
        Ok((std::mem::take(&mut self.summary), !nothing))
    }

    /// Moves the rows written since the last merge from the stage (or the bulk load)
    /// into their table, adding to the summary's counts.
    async fn merge_rows(&mut self) -> Result<()> {
        self.flush_pending().await?;
        // Rows written straight into the table first: a stage merged next recomputes
        // the customers its changed rows touch from all their rows, these included.
        if self.direct_rows > 0 {
            self.summary.inserted += self.direct_rows;
            self.direct_rows = 0;
            // A shared writer keeps its sums until just before the commit
            // ([`Writer::add_shared_totals`]): other shared writers wait for these
            // customers' rows only that long.
            if !self.shared
                && let Some(sums) = self.direct_totals.take()
            {
                self.tx.write_totals(&sums, true).await?;
            }
        }
        // Every row since the last merge names a record known to exist: no insert.
        let present_only = std::mem::replace(&mut self.present_only, true);
        match std::mem::replace(&mut self.mode, Mode::Undecided) {
            Mode::Undecided => {}
            Mode::Bulk { indexes } => {
                for (_, sql) in indexes {
                    self.tx.execute(sql).await?;
                }
                if self.entity.name == TRANSACTIONS.name {
                    let sums = self.bulk_totals.take().unwrap_or_default();
                    self.tx.write_totals(&sums, false).await?;
                }
                if self.entity.name == SUBSCRIPTIONS.name {
                    // The table was empty: every subscriber is new.
                    subscriptions::refresh(
                        &mut self.tx,
                        Some("SELECT customer_id FROM subscriptions"),
                        self.today,
                    )
                    .await?;
                }
                self.summary.inserted += self.rows - self.merged_rows;
            }
            Mode::Rows { json, rows } => {
                let now = self.tx.now();
                // The LIMIT (the rows' own count) tells the planner how many rows the
                // function gives: counted as 100, they were joined to the whole table
                // by a hash (2.7 ms on 5,000 customers) rather than by its index.
                let source = format!(
                    "(SELECT * FROM json_populate_recordset(NULL::{}, $1::json) LIMIT {rows}) s",
                    self.entity.table
                );
                let (update, insert) = merge_sql(self.entity, &self.fields, &now, &source);
                if let Some(update) = update {
                    self.summary.updated += self.tx.execute_json(update, &json).await?;
                }
                if !present_only {
                    self.summary.inserted += self.tx.execute_json(insert, &json).await?;
                }
            }
            Mode::Stage => {
                let now = self.tx.now();
                let totals = self.entity.name == TRANSACTIONS.name;
                let pg = matches!(self.tx, DbTx::Postgres(_));
                if pg {
                    // A temporary table has no statistics until analysed; without them
                    // the planner joins the stage by scanning the whole target table.
                    self.tx.execute("ANALYZE kanta_stage".into()).await?;
                }
                // Only batches holding an existing id are staged (new rows went
                // straight in, see `write`), so the merge probes for changed rows.
                let (update, insert) = merge_sql(self.entity, &self.fields, &now, "kanta_stage s");
                if totals {
                    for sql in totals::before_merge(&self.fields, pg) {
                        self.tx.execute(sql).await?;
                    }
                }
                let subs = self.entity.name == SUBSCRIPTIONS.name;
                if subs {
                    for sql in subscriptions::before_merge(&self.fields, pg) {
                        self.tx.execute(sql).await?;
                    }
                }
                if let Some(update) = update {
                    self.summary.updated += self.tx.execute(update).await?;
                }
                if !present_only {
                    self.summary.inserted += self.tx.execute(insert).await?;
                }
                if totals {
                    for sql in totals::after_merge(pg) {
                        self.tx.execute(sql).await?;
                    }
                }
                if subs {
                    // As of today: what the daily refresh keeps current.
                    let touched = format!("SELECT customer_id FROM {}", subscriptions::TOUCHED);
                    subscriptions::refresh(&mut self.tx, Some(&touched), self.today).await?;
                    self.tx
                        .execute(format!("DROP TABLE {}", subscriptions::TOUCHED))
                        .await?;
                }
                let drop = match self.tx {
                    DbTx::Sqlite(_) => "DROP TABLE temp.kanta_stage",
                    // Dropped at commit anyway; dropped now when another entity follows.
                    DbTx::Postgres(_) => "DROP TABLE kanta_stage",
                };
                self.tx.execute(drop.into()).await?;
            }
        }
        Ok(())
    }

    /// Looks up the batch's references not seen before; all must exist.
    async fn resolve_refs(&mut self, batch: &WriteBatch) -> Result<()> {
        let stride = batch.stride();
        for (k, f) in batch.fields.iter().enumerate() {
            let Kind::Ref(target) = f.kind else { continue };
            let target_entity = if target == "customers" {
                &CUSTOMERS
            } else {
                schema::entity(target).expect("references name an entity")
            };
            let known = std::sync::Arc::make_mut(&mut self.refs)
                .entry(f.name)
                .or_default();
            let mut seen = rustc_hash::FxHashSet::default();
            let ids: Vec<String> = batch
                .values
                .chunks(stride)
                .filter_map(|row| row[k + 1].as_text())
                .filter(|id| !known.contains_key(*id) && seen.insert(*id))
                .map(str::to_string)
                .collect();
            let mut found = HashMap::default();
            for chunk in ids.chunks(10_000) {
                found.extend(self.tx.lookup(target_entity.table, chunk).await?);
            }
            let missing: Vec<&str> = ids
                .iter()
                .filter(|i| !found.contains_key(*i))
                .map(String::as_str)
                .take(5)
                .collect();
            if !missing.is_empty() {
                return Err(StoreError::MissingRef {
                    entity: batch.entity.name,
                    target: target_entity.name,
                    ids: missing.join(", "),
                });
            }
            std::sync::Arc::make_mut(&mut self.refs)
                .entry(f.name)
                .or_default()
                .extend(found);
        }
        Ok(())
    }
}

fn column_list(batch: &WriteBatch) -> String {
    std::iter::once("external_id")
        .chain(batch.fields.iter().map(|f| f.column))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The two statements that merge the stage into the table: the update of rows whose
/// values changed (None when the rows carry no field besides the id), and the insert
/// of rows whose external id is new. `now` is the current time in the dialect's
/// stored form; `source` the rows, as `s` (the stage, or held rows as JSON).
fn merge_sql(
    entity: &Entity,
    fields: &[&Field],
    now: &str,
    source: &str,
) -> (Option<String>, String) {
    let t = entity.table;
    let cols = std::iter::once("external_id")
        .chain(fields.iter().map(|f| f.column))
        .collect::<Vec<_>>()
        .join(", ");
    let update = (!fields.is_empty()).then(|| {
        let mut set = String::new();
        let mut changed = String::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                set.push_str(", ");
                changed.push_str(" OR ");
            }
            let _ = write!(set, "{c} = s.{c}", c = f.column);
            let _ = write!(changed, "{t}.{c} IS DISTINCT FROM s.{c}", c = f.column);
        }
        format!(
            "UPDATE {t} SET {set}, updated_at = {now} FROM {source} \
             WHERE {t}.external_id = s.external_id AND ({changed})"
        )
    });
    let insert = format!(
        "INSERT INTO {t} ({cols}, created_at, updated_at) SELECT {cols}, {now}, {now} FROM {source} \
         WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {t}.external_id = s.external_id)"
    );
    (update, insert)
}

/// The rows as a JSON array of objects keyed by column, references resolved (for
/// `json_populate_recordset` over the table's row type).
fn rows_json(batch: &WriteBatch, refs: &RefIds) -> String {
    let stride = batch.stride();
    let names: Vec<&str> = std::iter::once("external_id")
        .chain(batch.fields.iter().map(|f| f.column))
        .collect();
    let mut json = String::with_capacity(batch.values.len() * 24 + 2);
    json.push('[');
    for (r, row) in batch.values.chunks(stride).enumerate() {
        if r > 0 {
            json.push(',');
        }
        json.push('{');
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(&mut json, names[i]);
            json.push(':');
            let field = i.checked_sub(1).map(|k| batch.fields[k]);
            json_value(&mut json, &resolve(v, field, refs));
        }
        json.push('}');
    }
    json.push(']');
    json
}

/// Appends rows as a JSON array of arrays, references resolved.
fn json_rows(json: &mut String, chunk: &[Value], batch: &WriteBatch, refs: &RefIds) {
    let stride = batch.stride();
    json.push('[');
    for (r, row) in chunk.chunks(stride).enumerate() {
        if r > 0 {
            json.push(',');
        }
        json.push('[');
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            let field = i.checked_sub(1).map(|k| batch.fields[k]);
            json_value(json, &resolve(v, field, refs));
        }
        json.push(']');
    }
    json.push(']');
}

/// The value to write: a reference becomes the referenced record's internal id.
fn resolve<'v>(v: &'v Value, field: Option<&Field>, refs: &RefIds) -> Cow<'v, Value> {
    if let (Some(f), Value::Text(ext)) = (field, v)
        && let Kind::Ref(_) = f.kind
        && let Some(id) = refs.get(f.name).and_then(|m| m.get(ext))
    {
        return Cow::Owned(Value::Int(*id));
    }
    Cow::Borrowed(v)
}

/// Appends a value as JSON, in the form SQLite's `->>` gives back as the stored type.
fn json_value(buf: &mut String, v: &Value) {
    match v {
        Value::Null => buf.push_str("null"),
        Value::Text(s) => json_string(buf, s),
        Value::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(buf, "{f:?}");
        }
        Value::Bool(b) => buf.push(if *b { '1' } else { '0' }),
        Value::Date(d) => {
            let _ = write!(buf, "\"{}\"", d.format("%Y-%m-%d"));
        }
        Value::Time(t) => {
            buf.push('"');
            push_time(buf, t);
            buf.push('"');
        }
    }
}

fn json_string(buf: &mut String, s: &str) {
    buf.push('"');
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// Appends a value in PostgreSQL's COPY text format.
fn copy_text(buf: &mut String, v: &Value) {
    match v {
        Value::Null => buf.push_str("\\N"),
        Value::Text(s) => {
            for c in s.chars() {
                match c {
                    '\\' => buf.push_str("\\\\"),
                    '\t' => buf.push_str("\\t"),
                    '\n' => buf.push_str("\\n"),
                    '\r' => buf.push_str("\\r"),
                    c => buf.push(c),
                }
            }
        }
        Value::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(buf, "{f:?}");
        }
        Value::Bool(b) => buf.push(if *b { 't' } else { 'f' }),
        Value::Date(d) => {
            let _ = write!(buf, "{}", d.format("%Y-%m-%d"));
        }
        Value::Time(t) => push_time(buf, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_json_must() {
        let mut s = String::new();
        json_value(&mut s, &Value::Text("a\"b\\c\nd\u{1}é".into()));
        assert_eq!(s, r#""a\"b\\c\u000ad\u0001é""#);
        let parsed: String = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn copy_text_escapes_tabs_and_newlines() {
        let mut s = String::new();
        copy_text(&mut s, &Value::Text("a\tb\nc\\".into()));
        assert_eq!(s, "a\\tb\\nc\\\\");
        s.clear();
        copy_text(&mut s, &Value::Null);
        assert_eq!(s, "\\N");
    }
}

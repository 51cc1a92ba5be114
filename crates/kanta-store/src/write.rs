//! Bulk, idempotent, all-or-nothing writes of any entity.
//!
//! A [`WriteBatch`] names the fields it carries; only those columns are written, so a
//! file with `id,email` updates emails and leaves names alone. Each row is upserted by
//! its external id: a new id inserts, a known id with changed values updates (and
//! bumps `updated_at`), a known id with the same values changes nothing. The whole
//! batch is one database transaction: killed at any moment, the store holds all of
//! it or none of it.
//!
//! SQLite gets multi-row `INSERT ... ON CONFLICT DO UPDATE ... WHERE changed`
//! statements; PostgreSQL gets `COPY` into a temporary table and one
//! `INSERT ... SELECT ... ON CONFLICT`. Inserted rows are counted from the table's
//! size before and after; the rest of the affected rows were updates.

use std::collections::HashMap;
use std::fmt::Write as _;

use kanta_domain::Value;
use kanta_domain::schema::{self, Entity, Field, Kind};
use kanta_domain::value::format_time;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Executor, Postgres, Sqlite};

use crate::{Backend, Result, Store, StoreError};

/// Rows of one entity to upsert.
#[derive(Debug)]
pub struct WriteBatch {
    pub entity: &'static Entity,
    /// The fields each row carries, in order (the external id comes first and is not
    /// listed).
    pub fields: Vec<&'static Field>,
    /// Row-major values: per row the external id ([`Value::Text`]) and then one value
    /// per field. References ([`Kind::Ref`]) hold the referenced record's external id.
    pub values: Vec<Value>,
    /// Customers (by external id) to create first when missing.
    pub create_customers: Vec<String>,
    /// Where the rows came from (a file name, `demo`, `api`), for the import log.
    pub source: String,
    /// Rows read and rejected before this batch, for the import log.
    pub rows_read: u64,
    pub rejected: u64,
}

impl WriteBatch {
    pub fn new(entity: &'static Entity, fields: Vec<&'static Field>) -> WriteBatch {
        WriteBatch {
            entity,
            fields,
            values: Vec::new(),
            create_customers: Vec::new(),
            source: String::new(),
            rows_read: 0,
            rejected: 0,
        }
    }

    /// Values per row: the external id and the fields.
    pub fn stride(&self) -> usize {
        self.fields.len() + 1
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.stride()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Appends a row; `values` must follow `fields`.
    pub fn push(&mut self, external_id: String, values: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.push(Value::Text(external_id));
        self.values.extend(values);
        debug_assert_eq!(self.values.len() - before, self.stride());
    }
}

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WriteSummary {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub customers_created: u64,
}

/// Rows per multi-row statement on SQLite (kept under its 32,766 parameters).
fn sqlite_chunk_rows(stride: usize) -> usize {
    (32_000 / stride).min(500)
}

impl Store {
    /// Upserts the batch in one transaction. See the module documentation.
    pub async fn write(&self, batch: &WriteBatch) -> Result<WriteSummary> {
        let entity = batch.entity;
        let cols: Vec<&str> = std::iter::once("external_id")
            .chain(batch.fields.iter().map(|f| f.column))
            .collect();
        let rows = batch.len() as u64;
        let mut summary = WriteSummary::default();
        match &self.backend {
            Backend::Sqlite(pool) => {
                let upsert_tail = upsert_clause(entity, &batch.fields, SQLITE_NOW);
                let mut tx = pool.begin().await?;
                summary.customers_created =
                    create_customers_sqlite(&mut tx, &batch.create_customers).await?;
                let refs = resolve_refs(&mut *tx, batch).await?;
                let before = count(&mut *tx, entity.table).await?;
                let stride = batch.stride();
                let mut affected = 0;
                for chunk in batch.values.chunks(sqlite_chunk_rows(stride) * stride) {
                    let n = chunk.len() / stride;
                    let sql = insert_values_sql(entity.table, &cols, n, &upsert_tail);
                    let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql));
                    for (i, v) in chunk.iter().enumerate() {
                        let field = (i % stride).checked_sub(1).map(|k| batch.fields[k]);
                        q = bind_sqlite(q, resolve(v, field, &refs));
                    }
                    affected += q
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::classify)?
                        .rows_affected();
                }
                let after = count(&mut *tx, entity.table).await?;
                summary.inserted = after.saturating_sub(before);
                summary.updated = affected.saturating_sub(summary.inserted);
                summary.unchanged = rows.saturating_sub(affected);
                log_run(&mut *tx, batch, &summary).await?;
                tx.commit().await?;
            }
            Backend::Postgres(pool) => {
                let upsert_tail = upsert_clause(entity, &batch.fields, PG_NOW);
                let mut tx = pool.begin().await?;
                summary.customers_created =
                    create_customers_pg(&mut tx, &batch.create_customers).await?;
                let refs = resolve_refs(&mut *tx, batch).await?;
                let before = count(&mut *tx, entity.table).await?;
                let col_list = cols.join(", ");
                tx.execute(AssertSqlSafe(format!(
                    "CREATE TEMP TABLE kanta_stage ON COMMIT DROP AS SELECT {col_list} FROM {} WITH NO DATA",
                    entity.table
                )))
                .await?;
                let mut copy = tx
                    .copy_in_raw(&format!("COPY kanta_stage ({col_list}) FROM STDIN"))
                    .await?;
                let stride = batch.stride();
                let mut buf = String::with_capacity(1 << 20);
                for row in batch.values.chunks(stride) {
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            buf.push('\t');
                        }
                        let field = i.checked_sub(1).map(|k| batch.fields[k]);
                        copy_text(&mut buf, &resolve(v, field, &refs));
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
                let sql = format!(
                    "INSERT INTO {table} ({col_list}) SELECT {col_list} FROM kanta_stage {upsert_tail}",
                    table = entity.table
                );
                let affected = tx
                    .execute(AssertSqlSafe(sql))
                    .await
                    .map_err(StoreError::classify)?
                    .rows_affected();
                let after = count(&mut *tx, entity.table).await?;
                summary.inserted = after.saturating_sub(before);
                summary.updated = affected.saturating_sub(summary.inserted);
                summary.unchanged = rows.saturating_sub(affected);
                log_run(&mut *tx, batch, &summary).await?;
                tx.commit().await?;
            }
        }
        Ok(summary)
    }

    /// The internal ids of the records of `entity` with these external ids; ids that
    /// do not exist are absent from the map.
    pub async fn existing_ids(
        &self,
        entity: &Entity,
        external_ids: &[String],
    ) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::with_capacity(external_ids.len());
        for chunk in external_ids.chunks(10_000) {
            let found = match &self.backend {
                Backend::Sqlite(pool) => {
                    let mut conn = pool.acquire().await?;
                    (&mut *conn).lookup(entity.table, chunk).await?
                }
                Backend::Postgres(pool) => {
                    let mut conn = pool.acquire().await?;
                    (&mut *conn).lookup(entity.table, chunk).await?
                }
            };
            out.extend(found);
        }
        Ok(out)
    }
}

/// `ON CONFLICT (external_id) DO UPDATE SET ... WHERE <some column changed>`; `now`
/// is the dialect's expression for the current time in its stored form.
fn upsert_clause(entity: &Entity, fields: &[&Field], now: &str) -> String {
    if fields.is_empty() {
        return "ON CONFLICT (external_id) DO NOTHING".to_string();
    }
    let t = entity.table;
    let mut set = String::new();
    let mut changed = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            set.push_str(", ");
            changed.push_str(" OR ");
        }
        let _ = write!(set, "{c} = excluded.{c}", c = f.column);
        let _ = write!(
            changed,
            "{t}.{c} IS DISTINCT FROM excluded.{c}",
            c = f.column
        );
    }
    format!("ON CONFLICT (external_id) DO UPDATE SET {set}, updated_at = {now} WHERE {changed}")
}

const SQLITE_NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
const PG_NOW: &str = "now()";

fn insert_values_sql(table: &str, cols: &[&str], rows: usize, tail: &str) -> String {
    let stride = cols.len();
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
    let mut p = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..stride {
            if c > 0 {
                sql.push(',');
            }
            let _ = write!(sql, "${p}");
            p += 1;
        }
        sql.push(')');
    }
    let _ = write!(sql, " {tail}");
    sql
}

/// Looks up every referenced external id of the batch inside the transaction.
async fn resolve_refs<'c, E: RefLookup<'c>>(
    conn: E,
    batch: &WriteBatch,
) -> Result<HashMap<&'static str, HashMap<String, i64>>> {
    let mut out = HashMap::new();
    let stride = batch.stride();
    let mut conn = conn;
    for (k, f) in batch.fields.iter().enumerate() {
        let Kind::Ref(target) = f.kind else { continue };
        let target_entity = schema::entity(target).expect("references name an entity");
        let mut ids: Vec<String> = batch
            .values
            .chunks(stride)
            .filter_map(|row| row[k + 1].as_text().map(str::to_string))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut map = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(10_000) {
            map.extend(conn.lookup(target_entity.table, chunk).await?);
        }
        let missing: Vec<&str> = ids
            .iter()
            .filter(|i| !map.contains_key(*i))
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
        out.insert(f.name, map);
    }
    Ok(out)
}

/// Reference lookup on a connection of either backend.
trait RefLookup<'c>: Send {
    async fn lookup(&mut self, table: &str, ids: &[String]) -> Result<Vec<(String, i64)>>;
}

impl<'c> RefLookup<'c> for &'c mut sqlx::SqliteConnection {
    async fn lookup(&mut self, table: &str, ids: &[String]) -> Result<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT external_id, id FROM {table} WHERE external_id IN (SELECT value FROM json_each($1))"
        );
        Ok(sqlx::query_as::<Sqlite, (String, i64)>(AssertSqlSafe(sql))
            .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&mut **self)
            .await?)
    }
}

impl<'c> RefLookup<'c> for &'c mut sqlx::PgConnection {
    async fn lookup(&mut self, table: &str, ids: &[String]) -> Result<Vec<(String, i64)>> {
        let sql = format!("SELECT external_id, id FROM {table} WHERE external_id = ANY($1)");
        Ok(
            sqlx::query_as::<Postgres, (String, i64)>(AssertSqlSafe(sql))
                .bind(ids)
                .fetch_all(&mut **self)
                .await?,
        )
    }
}

/// The value to write: a reference becomes the referenced record's internal id.
fn resolve<'v>(
    v: &'v Value,
    field: Option<&Field>,
    refs: &HashMap<&'static str, HashMap<String, i64>>,
) -> std::borrow::Cow<'v, Value> {
    if let (Some(f), Value::Text(ext)) = (field, v) {
        if let Kind::Ref(_) = f.kind {
            if let Some(id) = refs.get(f.name).and_then(|m| m.get(ext)) {
                return std::borrow::Cow::Owned(Value::Int(*id));
            }
        }
    }
    std::borrow::Cow::Borrowed(v)
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind_sqlite<'q>(q: SqliteQuery<'q>, v: std::borrow::Cow<'_, Value>) -> SqliteQuery<'q> {
    match v.as_ref() {
        Value::Null => q.bind(None::<i64>),
        Value::Text(s) => q.bind(s.clone()),
        Value::Int(i) => q.bind(*i),
        Value::Float(f) => q.bind(*f),
        Value::Bool(b) => q.bind(*b),
        Value::Date(d) => q.bind(d.format("%Y-%m-%d").to_string()),
        Value::Time(t) => q.bind(format_time(t)),
    }
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
        Value::Time(t) => buf.push_str(&format_time(t)),
    }
}

async fn count<'e, E>(conn: E, table: &str) -> Result<u64>
where
    E: CountExec<'e>,
{
    conn.count(table).await
}

trait CountExec<'e> {
    async fn count(self, table: &str) -> Result<u64>;
}

impl<'e> CountExec<'e> for &'e mut sqlx::SqliteConnection {
    async fn count(self, table: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar::<Sqlite, i64>(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table}"
        )))
        .fetch_one(self)
        .await?;
        Ok(n as u64)
    }
}

impl<'e> CountExec<'e> for &'e mut sqlx::PgConnection {
    async fn count(self, table: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar::<Postgres, i64>(AssertSqlSafe(format!(
            "SELECT count(*) FROM {table}"
        )))
        .fetch_one(self)
        .await?;
        Ok(n as u64)
    }
}

async fn create_customers_sqlite(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    ids: &[String],
) -> Result<u64> {
    let mut created = 0;
    for chunk in ids.chunks(10_000) {
        let json = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
        created += sqlx::query::<Sqlite>(
            "INSERT INTO customers (external_id) SELECT value FROM json_each($1) WHERE true \
             ON CONFLICT (external_id) DO NOTHING",
        )
        .bind(json)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(created)
}

async fn create_customers_pg(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    ids: &[String],
) -> Result<u64> {
    let mut created = 0;
    for chunk in ids.chunks(10_000) {
        created += sqlx::query::<Postgres>(
            "INSERT INTO customers (external_id) SELECT unnest($1::text[]) ON CONFLICT (external_id) DO NOTHING",
        )
        .bind(chunk)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(created)
}

trait LogExec<'e> {
    async fn log(self, batch: &WriteBatch, s: &WriteSummary) -> Result<()>;
}

async fn log_run<'e, E: LogExec<'e>>(conn: E, batch: &WriteBatch, s: &WriteSummary) -> Result<()> {
    conn.log(batch, s).await
}

const LOG_SQL: &str = "INSERT INTO import_runs (entity, source, rows_read, inserted, updated, unchanged, rejected, customers_created) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

impl<'e> LogExec<'e> for &'e mut sqlx::SqliteConnection {
    async fn log(self, b: &WriteBatch, s: &WriteSummary) -> Result<()> {
        sqlx::query::<Sqlite>(LOG_SQL)
            .bind(b.entity.name)
            .bind(b.source.clone())
            .bind(b.rows_read as i64)
            .bind(s.inserted as i64)
            .bind(s.updated as i64)
            .bind(s.unchanged as i64)
            .bind(b.rejected as i64)
            .bind(s.customers_created as i64)
            .execute(self)
            .await?;
        Ok(())
    }
}

impl<'e> LogExec<'e> for &'e mut sqlx::PgConnection {
    async fn log(self, b: &WriteBatch, s: &WriteSummary) -> Result<()> {
        sqlx::query::<Postgres>(LOG_SQL)
            .bind(b.entity.name)
            .bind(b.source.clone())
            .bind(b.rows_read as i64)
            .bind(s.inserted as i64)
            .bind(s.updated as i64)
            .bind(s.unchanged as i64)
            .bind(b.rejected as i64)
            .bind(s.customers_created as i64)
            .execute(self)
            .await?;
        Ok(())
    }
}

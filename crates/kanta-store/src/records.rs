//! Reads: generic records of any entity, the customer list, a customer's timeline
//! and the count of every entity.

use chrono::{DateTime, NaiveDate, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{self, CUSTOMERS, ENTITIES, Entity, Kind};
use serde::Serialize;
use serde::ser::SerializeMap;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite};

use crate::{Backend, Result, Store};

/// One record of any entity, its fields in the schema's order. References show the
/// referenced record's external id.
#[derive(Debug, Clone)]
pub struct Record {
    pub entity: &'static Entity,
    pub id: i64,
    pub external_id: String,
    pub fields: Vec<(&'static str, Value)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Record {
    pub fn get(&self, name: &str) -> &Value {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .unwrap_or(&Value::Null)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).as_text()
    }
}

impl Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.fields.len() + 3))?;
        m.serialize_entry("id", &self.external_id)?;
        for (name, value) in &self.fields {
            m.serialize_entry(name, value)?;
        }
        m.serialize_entry("created_at", &Value::Time(self.created_at))?;
        m.serialize_entry("updated_at", &Value::Time(self.updated_at))?;
        m.end()
    }
}

/// `SELECT` list of an entity: references resolved to external ids.
pub(crate) fn select_list(e: &Entity) -> String {
    let mut cols = vec![
        "t.id".to_string(),
        "t.external_id".into(),
        "t.created_at".into(),
        "t.updated_at".into(),
    ];
    for f in e.fields {
        match f.kind {
            Kind::Ref(target) => {
                let table = schema::entity(target).map_or(target, |t| t.table);
                cols.push(format!(
                    "(SELECT r.external_id FROM {table} r WHERE r.id = t.{c}) AS {c}",
                    c = f.column
                ));
            }
            _ => cols.push(format!("t.{}", f.column)),
        }
    }
    cols.join(", ")
}

macro_rules! decode_record_fn {
    ($name:ident, $row:ty) => {
        pub(crate) fn $name(e: &'static Entity, row: &$row) -> Result<Record> {
            let mut fields = Vec::with_capacity(e.fields.len());
            for f in e.fields {
                let c = f.column;
                let v = match f.kind {
                    Kind::Int { .. } | Kind::Money => {
                        row.try_get::<Option<i64>, _>(c)?.map(Value::Int)
                    }
                    Kind::Float => row.try_get::<Option<f64>, _>(c)?.map(Value::Float),
                    Kind::Bool => row.try_get::<Option<bool>, _>(c)?.map(Value::Bool),
                    Kind::Date => row.try_get::<Option<NaiveDate>, _>(c)?.map(Value::Date),
                    Kind::Timestamp => row.try_get::<Option<DateTime<Utc>>, _>(c)?.map(Value::Time),
                    Kind::Text
                    | Kind::LongText
                    | Kind::Currency
                    | Kind::Choice(_)
                    | Kind::Email
                    | Kind::Ref(_) => row.try_get::<Option<String>, _>(c)?.map(Value::Text),
                };
                fields.push((f.name, v.unwrap_or(Value::Null)));
            }
            Ok(Record {
                entity: e,
                id: row.try_get("id")?,
                external_id: row.try_get("external_id")?,
                fields,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }
    };
}
decode_record_fn!(decode_sqlite, SqliteRow);
decode_record_fn!(decode_pg, PgRow);

/// A parameter of a generic record query.
enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

/// Filters, sort and page of the customer list.
#[derive(Debug, Clone)]
pub struct CustomerFilter {
    /// Part of the name, email or external id (case does not matter).
    pub search: Option<String>,
    pub segment: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Value tier (A-D).
    pub tier: Option<String>,
    pub sort: CustomerSort,
    pub limit: u32,
    pub offset: u64,
}

impl Default for CustomerFilter {
    fn default() -> Self {
        CustomerFilter {
            search: None,
            segment: None,
            status: None,
            kind: None,
            tier: None,
            sort: CustomerSort::Name,
            limit: 50,
            offset: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    Name,
    ExternalId,
    /// Newest first.
    Newest,
    /// Highest revenue first.
    Revenue,
    /// Most recent purchase first.
    LastPurchase,
}

impl CustomerSort {
    pub const NAMES: &[&str] = &["name", "id", "newest", "revenue", "last-purchase"];

    pub fn parse(s: &str) -> Option<CustomerSort> {
        Some(match s {
            "name" => CustomerSort::Name,
            "id" | "external_id" => CustomerSort::ExternalId,
            "newest" => CustomerSort::Newest,
            "revenue" => CustomerSort::Revenue,
            "last-purchase" | "last_purchase" => CustomerSort::LastPurchase,
            _ => return None,
        })
    }

    /// The ORDER BY of this sort, forwards or backwards, in each dialect: always a
    /// total order ending in a unique column, and the order of one of the customers
    /// table's indexes, so a page is a walk along it.
    fn order_by(self, postgres: bool, backwards: bool) -> &'static str {
        use CustomerSort::*;
        match (self, postgres, backwards) {
            // SQLite sorts NULL first; the (name IS NULL, name, id) index puts
            // nameless customers last.
            (Name, false, false) => "c.name IS NULL, c.name, c.id",
            (Name, false, true) => "c.name IS NULL DESC, c.name DESC, c.id DESC",
            // PostgreSQL sorts NULL last ascending, first descending.
            (Name, true, false) => "c.name, c.id",
            (Name, true, true) => "c.name DESC, c.id DESC",
            (ExternalId, _, false) => "c.external_id",
            (ExternalId, _, true) => "c.external_id DESC",
            (Newest, _, false) => "c.id DESC",
            (Newest, _, true) => "c.id",
            (Revenue, _, false) => "c.revenue_minor DESC, c.id",
            (Revenue, _, true) => "c.revenue_minor, c.id DESC",
            (LastPurchase, false, false) => "c.last_purchase_at DESC, c.id",
            (LastPurchase, false, true) => "c.last_purchase_at, c.id DESC",
            (LastPurchase, true, false) => "c.last_purchase_at DESC NULLS LAST, c.id",
            (LastPurchase, true, true) => "c.last_purchase_at NULLS FIRST, c.id DESC",
        }
    }
}

/// One line of the customer list.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerSummary {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub kind: String,
    pub segment: Option<String>,
    pub status: String,
    /// Value tier A-D, when scored or imported.
    pub tier: Option<String>,
    /// Orders and refunds.
    pub transactions: i64,
    /// Orders: `transactions - refunds_count`.
    pub orders_count: i64,
    /// Refunds among the transactions.
    pub refunds_count: i64,
    /// Orders' amounts plus refunds' (negative) amounts.
    pub revenue_minor: i64,
    /// The refunds' amounts summed, as stored (negative).
    pub refunds_minor: i64,
    /// The first order (the customer's first purchase).
    pub first_purchase_at: Option<DateTime<Utc>>,
    pub last_purchase_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    /// Customers matching the filters, on all pages.
    pub total: u64,
    pub customers: Vec<CustomerSummary>,
}

/// One event on a customer's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    /// The entity the event comes from (`transactions`, `cases`, ...).
    pub entity: &'static str,
    /// What happened: `order`, `refund`, `call`, `case_opened`, `case_resolved`,
    /// `feedback`, `usage`, `trust`, `subscription_started`, `subscription_ended`, ...
    pub kind: String,
    pub record: Record,
}

/// The customer list's columns.
const SUMMARY_COLUMNS: &str = "c.id, c.external_id, c.name, c.email, c.kind, c.segment, c.status, c.tier, \
     c.transactions_count, c.revenue_minor, c.refunds_count, c.refunds_minor, \
     c.first_purchase_at, c.last_purchase_at";

/// Rows of [`SUMMARY_COLUMNS`] as [`CustomerSummary`]s (either backend's rows).
macro_rules! decode_summaries {
    ($rows:expr) => {
        $rows
            .iter()
            .map(|r| {
                let transactions: i64 = r.try_get("transactions_count")?;
                let refunds_count: i64 = r.try_get("refunds_count")?;
                Ok(CustomerSummary {
                    id: r.try_get("external_id")?,
                    name: r.try_get("name")?,
                    email: r.try_get("email")?,
                    kind: r.try_get("kind")?,
                    segment: r.try_get("segment")?,
                    status: r.try_get("status")?,
                    tier: r.try_get("tier")?,
                    transactions,
                    orders_count: transactions - refunds_count,
                    refunds_count,
                    revenue_minor: r.try_get("revenue_minor")?,
                    refunds_minor: r.try_get("refunds_minor")?,
                    first_purchase_at: r.try_get("first_purchase_at")?,
                    last_purchase_at: r.try_get("last_purchase_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?
    };
}

/// A customer's record with their row of the customer list (the totals) and their
/// trust ledger's balance, read in one query.
#[derive(Debug, Clone)]
pub struct CustomerWithTotals {
    pub record: Record,
    pub summary: CustomerSummary,
    pub trust_balance: i64,
}

impl Store {
    /// A customer by external id with their totals and trust balance, in one query
    /// (what every view of one customer shows).
    pub async fn customer_with_totals(
        &self,
        external_id: &str,
    ) -> Result<Option<CustomerWithTotals>> {
        // The same text every time (built once): the statement cache finds it.
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!(
                "SELECT {}, t.transactions_count, t.revenue_minor, t.refunds_count, t.refunds_minor, \
                 t.first_purchase_at, t.last_purchase_at, \
                 (SELECT CAST(coalesce(sum(l.delta), 0) AS BIGINT) FROM {} l WHERE l.customer_id = t.id) AS trust_balance \
                 FROM customers t WHERE t.external_id = $1",
                select_list(&CUSTOMERS),
                kanta_domain::schema::TRUST_LEDGER.table,
            )
        });
        macro_rules! one {
            ($pool:expr, $decode:ident) => {{
                let Some(row) = sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(external_id)
                    .fetch_optional($pool)
                    .await?
                else {
                    return Ok(None);
                };
                let record = $decode(&CUSTOMERS, &row)?;
                // The list's row from the record's fields and the totals: no column
                // read twice.
                let text = |name: &str| record.text(name).map(str::to_string);
                let transactions: i64 = row.try_get("transactions_count")?;
                let refunds_count: i64 = row.try_get("refunds_count")?;
                let summary = CustomerSummary {
                    id: record.external_id.clone(),
                    name: text("name"),
                    email: text("email"),
                    kind: text("kind").unwrap_or_default(),
                    segment: text("segment"),
                    status: text("status").unwrap_or_default(),
                    tier: text("tier"),
                    transactions,
                    orders_count: transactions - refunds_count,
                    refunds_count,
                    revenue_minor: row.try_get("revenue_minor")?,
                    refunds_minor: row.try_get("refunds_minor")?,
                    first_purchase_at: row.try_get("first_purchase_at")?,
                    last_purchase_at: row.try_get("last_purchase_at")?,
                };
                let trust_balance: i64 = row.try_get("trust_balance")?;
                Ok(Some(CustomerWithTotals {
                    record,
                    summary,
                    trust_balance,
                }))
            }};
        }
        match &self.backend {
            Backend::Sqlite(pool) => one!(pool, decode_sqlite),
            Backend::Postgres(pool) => one!(pool, decode_pg),
        }
    }
}

/// The customer list's filters. SQLite's LIKE already ignores ASCII case (and its
/// lower() folds nothing more), so the search compares the columns as they are: a
/// third of the cost of a scan through lower(). PostgreSQL folds all of Unicode with
/// ILIKE.
fn list_where(postgres: bool) -> String {
    let like = if postgres { "ILIKE" } else { "LIKE" };
    // The id by its lower case (the pattern is lower case already): PostgreSQL's
    // trigram index for the search is on lower(external_id), where the writer's
    // `external_id = ANY(...)` lookups cannot mistake it for the unique index.
    let id = if postgres {
        "lower(c.external_id) LIKE $1"
    } else {
        "c.external_id LIKE $1"
    };
    format!(
        "($1 IS NULL OR c.name {like} $1 OR c.email {like} $1 OR {id}) \
         AND ($2 IS NULL OR c.segment = $2) AND ($3 IS NULL OR c.status = $3) \
         AND ($4 IS NULL OR c.kind = $4) AND ($5 IS NULL OR c.tier = $5)"
    )
}

impl Store {
    /// How many records each entity has, in schema order.
    pub async fn counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let sql = ENTITIES
            .iter()
            .map(|e| {
                format!(
                    "SELECT '{}' AS entity, count(*) AS n FROM {}",
                    e.name, e.table
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows: Vec<(String, i64)> = crate::with_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?);
        Ok(ENTITIES
            .iter()
            .map(|e| {
                let n = rows
                    .iter()
                    .find(|(name, _)| name == e.name)
                    .map_or(0, |(_, n)| *n);
                (e.name, n)
            })
            .collect())
    }

    async fn records(
        &self,
        e: &'static Entity,
        where_sql: &str,
        param: Param<'_>,
        order: &str,
    ) -> Result<Vec<Record>> {
        let sql = format!(
            "SELECT {} FROM {} t WHERE {where_sql} ORDER BY {order}",
            select_list(e),
            e.table
        );
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                let q = sqlx::query::<Sqlite>(AssertSqlSafe(sql));
                let q = match param {
                    Param::Int(i) => q.bind(i),
                    Param::Text(s) => q.bind(s.to_string()),
                };
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| decode_sqlite(e, r))
                    .collect::<Result<_>>()?
            }
            Backend::Postgres(pool) => {
                let q = sqlx::query::<Postgres>(AssertSqlSafe(sql));
                let q = match param {
                    Param::Int(i) => q.bind(i),
                    Param::Text(s) => q.bind(s.to_string()),
                };
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| decode_pg(e, r))
                    .collect::<Result<_>>()?
            }
        })
    }

    /// The columns of a table, as the database sees them (for schema checks).
    pub async fn columns(&self, table: &str) -> Result<Vec<String>> {
        Ok(match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar::<Sqlite, String>("SELECT name FROM pragma_table_info($1)")
                .bind(table.to_string())
                .fetch_all(pool)
                .await?,
            Backend::Postgres(pool) => sqlx::query_scalar::<Postgres, String>(
                "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
            )
            .bind(table.to_string())
            .fetch_all(pool)
            .await?,
        })
    }

    /// The record of `entity` with this external id.
    pub async fn get(&self, e: &'static Entity, external_id: &str) -> Result<Option<Record>> {
        Ok(self
            .records(e, "t.external_id = $1", Param::Text(external_id), "t.id")
            .await?
            .into_iter()
            .next())
    }

    /// The customer with this external id.
    pub async fn customer(&self, external_id: &str) -> Result<Option<Record>> {
        self.get(&CUSTOMERS, external_id).await
    }

    /// All records of `entity` that belong to the customer (by internal id).
    pub async fn records_of_customer(
        &self,
        e: &'static Entity,
        customer: i64,
    ) -> Result<Vec<Record>> {
        self.records(e, "t.customer_id = $1", Param::Int(customer), "t.id")
            .await
    }

    /// A page of the customer list with its total.
    ///
    /// Revenue, the counts of transactions and refunds, and the first and last
    /// purchase are the totals the writer keeps on each customer (`totals.rs`), and
    /// every sort is the order of an index, so a page walks LIMIT rows of one index.
    /// A page past the middle walks the index from the other end, so no page skips
    /// more than half of the matches.
    pub async fn customers(&self, f: &CustomerFilter) -> Result<CustomerPage> {
        let search = f
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| format!("%{}%", s.to_lowercase().replace(['\\', '%', '_'], "")));
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let list_where = list_where(postgres);
        let count_sql = format!("SELECT count(*) FROM customers c WHERE {list_where}");
        macro_rules! filters {
            ($q:expr) => {
                $q.bind(search.clone())
                    .bind(f.segment.clone())
                    .bind(f.status.clone())
                    .bind(f.kind.clone())
                    .bind(f.tier.clone())
            };
        }
        let total: i64 = crate::with_pool!(self, pool =>
            filters!(sqlx::query_scalar(AssertSqlSafe(count_sql))).fetch_one(pool).await?);
        let total = total as u64;
        let limit = u64::from(f.limit);
        let end = (f.offset + limit).min(total);
        // From the far end: skip what lies after this page instead of before it.
        // (A search reads every customer anyway and sorts only its matches.)
        let backwards = search.is_none() && f.offset > total / 2 && end > f.offset;
        let (skip, take) = if backwards {
            (total - end, end - f.offset)
        } else {
            (f.offset, limit)
        };
        let list_sql = if search.is_some() {
            // A search matches few customers: collect them in one sequential scan and
            // sort those, rather than walk the sort's index through every customer
            // looking for them (seconds on 100,000 customers).
            format!(
                "WITH m AS MATERIALIZED (SELECT {SUMMARY_COLUMNS} FROM customers c WHERE {list_where}) \
                 SELECT * FROM m c ORDER BY {} LIMIT $6 OFFSET $7",
                f.sort.order_by(postgres, false)
            )
        } else {
            format!(
                "SELECT {SUMMARY_COLUMNS} FROM customers c WHERE {list_where} ORDER BY {} LIMIT $6 OFFSET $7",
                f.sort.order_by(postgres, backwards)
            )
        };
        let mut customers = crate::with_pool!(self, pool => {
            let rows = filters!(sqlx::query(AssertSqlSafe(list_sql)))
                .bind(take as i64)
                .bind(skip as i64)
                .fetch_all(pool)
                .await?;
            decode_summaries!(rows)
        });
        if backwards {
            customers.reverse();
        }
        Ok(CustomerPage { total, customers })
    }
}

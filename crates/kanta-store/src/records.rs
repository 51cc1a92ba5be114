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

/// The position of an entity's first field in [`select_list`], after the id, the
/// external id and the two times.
const FIRST_FIELD: usize = 4;

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
        /// A row that starts with [`select_list`]'s columns, read by position (a
        /// lookup by name compares the name with each column's).
        pub(crate) fn $name(e: &'static Entity, row: &$row) -> Result<Record> {
            let mut fields = Vec::with_capacity(e.fields.len());
            for (i, f) in e.fields.iter().enumerate() {
                let c = FIRST_FIELD + i;
                let v = match f.kind {
                    Kind::Int { .. } | Kind::Money => match row.try_get::<Option<i64>, _>(c) {
                        Ok(v) => v,
                        // INTEGER columns (int4 on PostgreSQL: surveys.version,
                        // feedback.survey_version, ...).
                        Err(_) => row.try_get::<Option<i32>, _>(c)?.map(i64::from),
                    }
                    .map(Value::Int),
                    Kind::Float => row.try_get::<Option<f64>, _>(c)?.map(Value::Float),
                    Kind::Bool => row.try_get::<Option<bool>, _>(c)?.map(Value::Bool),
                    Kind::Date => row.try_get::<Option<NaiveDate>, _>(c)?.map(Value::Date),
                    Kind::Timestamp => row.try_get::<Option<DateTime<Utc>>, _>(c)?.map(Value::Time),
                    Kind::Text
                    | Kind::LongText
                    | Kind::Currency
                    | Kind::Choice(_)
                    | Kind::Email
                    | Kind::Phone
                    | Kind::Ref(_) => row.try_get::<Option<String>, _>(c)?.map(Value::Text),
                };
                fields.push((f.name, v.unwrap_or(Value::Null)));
            }
            Ok(Record {
                entity: e,
                id: row.try_get(0)?,
                external_id: row.try_get(1)?,
                fields,
                created_at: row.try_get(2)?,
                updated_at: row.try_get(3)?,
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
    /// The trust ledger's balance below zero (a deficit) or above it.
    pub trust: Option<TrustFilter>,
    /// With open cases (cases not resolved) or without any.
    pub open_cases: Option<bool>,
    /// CLV over 12 months (newest model run) at least this, in minor units.
    pub clv_min_minor: Option<i64>,
    /// P(alive) (newest model run) below this (0..1).
    pub p_alive_below: Option<f64>,
    /// Renewal probability (newest model run) below this (0..1).
    pub renewal_below: Option<f64>,
    /// The customer's owner (`customers.owner_id`, owners.rs).
    pub owner: Option<OwnerFilter>,
    pub sort: CustomerSort,
    pub limit: u32,
    pub offset: u64,
}

/// Customers by the sign of their trust ledger's balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustFilter {
    /// Balance below zero: we owe them trust.
    Deficit,
    /// Balance above zero.
    Credit,
}

impl TrustFilter {
    pub const NAMES: &[&str] = &["deficit", "credit"];

    pub fn parse(s: &str) -> Option<TrustFilter> {
        match s.trim() {
            "deficit" => Some(TrustFilter::Deficit),
            "credit" => Some(TrustFilter::Credit),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TrustFilter::Deficit => "deficit",
            TrustFilter::Credit => "credit",
        }
    }
}

/// Customers by their owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerFilter {
    /// Owned by the staff member with this external id (an id no staff row has, such
    /// as `""`, matches nobody: "my customers" of a user without a staff row).
    Staff(String),
    /// Owned by nobody.
    Unowned,
}

impl Default for CustomerFilter {
    fn default() -> Self {
        CustomerFilter {
            search: None,
            segment: None,
            status: None,
            kind: None,
            tier: None,
            trust: None,
            open_cases: None,
            clv_min_minor: None,
            p_alive_below: None,
            renewal_below: None,
            owner: None,
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
    /// Highest CLV over 12 months first (newest model run; unscored last).
    Clv,
    /// Lowest P(alive) first: the customers most likely lost (unscored last).
    PAlive,
    /// Lowest renewal probability first (unscored last).
    RenewalProbability,
    /// Lowest trust balance first: the deepest deficits.
    TrustBalance,
    /// Most open cases first.
    OpenCases,
    /// Highest monthly recurring revenue first.
    Mrr,
    /// Nearest renewal first (none last).
    Renewal,
    /// Lowest health score first (unscored last; `customers_health_score_idx`).
    Health,
}

impl CustomerSort {
    pub const NAMES: &[&str] = &[
        "name",
        "id",
        "newest",
        "revenue",
        "last-purchase",
        "clv",
        "p-alive",
        "renewal-probability",
        "trust",
        "open-cases",
        "mrr",
        "renewal",
        "health",
    ];

    pub fn parse(s: &str) -> Option<CustomerSort> {
        Some(match s.trim() {
            "name" => CustomerSort::Name,
            "id" | "external_id" => CustomerSort::ExternalId,
            "newest" => CustomerSort::Newest,
            "revenue" => CustomerSort::Revenue,
            "last-purchase" | "last_purchase" => CustomerSort::LastPurchase,
            "clv" => CustomerSort::Clv,
            "p-alive" | "p_alive" => CustomerSort::PAlive,
            "renewal-probability" | "renewal_probability" => CustomerSort::RenewalProbability,
            "trust" | "trust-balance" | "trust_balance" => CustomerSort::TrustBalance,
            "open-cases" | "open_cases" => CustomerSort::OpenCases,
            "mrr" => CustomerSort::Mrr,
            "renewal" | "next-renewal" | "next_renewal" => CustomerSort::Renewal,
            "health" | "health-score" | "health_score" => CustomerSort::Health,
            _ => return None,
        })
    }

    /// The name [`CustomerSort::parse`] reads (the first of [`CustomerSort::NAMES`]
    /// that means this sort).
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .copied()
            .find(|n| Self::parse(n) == Some(self))
            .unwrap_or("name")
    }

    /// Whether the sort's value is computed per customer ([`Derived`]) rather than
    /// read from an index of the customers' own columns.
    fn is_derived(self) -> bool {
        use CustomerSort::*;
        matches!(
            self,
            Clv | PAlive | RenewalProbability | TrustBalance | OpenCases
        )
    }

    /// The ORDER BY of this sort, forwards or backwards, in each dialect: always a
    /// total order ending in a unique column. The sorts of the customers' own columns
    /// are the order of one of the table's indexes, so a page is a walk along it; the
    /// sorts by scores, trust and cases compute their value per customer.
    fn order_by(self, postgres: bool, backwards: bool, d: &Derived) -> String {
        use CustomerSort::*;
        // (expression, descending) terms, all flipped when walking backwards.
        let terms: Vec<(String, bool)> = match self {
            Clv => vec![
                (format!("{} IS NULL", d.clv), false),
                (d.clv.clone(), true),
                ("c.id".into(), false),
            ],
            PAlive => vec![
                (format!("{} IS NULL", d.p_alive), false),
                (d.p_alive.clone(), false),
                ("c.id".into(), false),
            ],
            RenewalProbability => vec![
                (format!("{} IS NULL", d.renewal), false),
                (d.renewal.clone(), false),
                ("c.id".into(), false),
            ],
            TrustBalance => vec![(d.trust.clone(), false), ("c.id".into(), false)],
            OpenCases => vec![(d.open_cases.clone(), true), ("c.id".into(), false)],
            Mrr => vec![("c.mrr_minor".into(), true), ("c.id".into(), false)],
            Renewal if !postgres => vec![
                ("c.next_renewal_on IS NULL".into(), false),
                ("c.next_renewal_on".into(), false),
                ("c.id".into(), false),
            ],
            Renewal => vec![("c.next_renewal_on".into(), false), ("c.id".into(), false)],
            // SQLite puts NULL first ascending: unscored customers moved last by a term.
            Health if !postgres => vec![
                ("c.health_score IS NULL".into(), false),
                ("c.health_score".into(), false),
                ("c.id".into(), false),
            ],
            // PostgreSQL: NULL last ascending, the order of (health_score, id).
            Health => vec![("c.health_score".into(), false), ("c.id".into(), false)],
            _ => return self.indexed_order_by(postgres, backwards).to_string(),
        };
        terms
            .iter()
            .map(|(e, desc)| {
                if *desc != backwards {
                    format!("{e} DESC")
                } else {
                    e.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// PostgreSQL's ORDER BY for the revenue and last-purchase sorts, over
    /// `customer_sort_keys k` (migration 0020): the same order as
    /// [`CustomerSort::indexed_order_by`] gives over the customers' own columns, which
    /// the table's triggers copy. `None` for other sorts and on SQLite.
    fn sort_keys_order_by(self, postgres: bool, backwards: bool) -> Option<&'static str> {
        use CustomerSort::*;
        match (self, postgres, backwards) {
            (Revenue, true, false) => Some("k.revenue_key DESC, k.customer_id"),
            (Revenue, true, true) => Some("k.revenue_key, k.customer_id DESC"),
            (LastPurchase, true, false) => {
                Some("k.last_purchase_at DESC NULLS LAST, k.customer_id")
            }
            (LastPurchase, true, true) => {
                Some("k.last_purchase_at NULLS FIRST, k.customer_id DESC")
            }
            _ => None,
        }
    }

    fn indexed_order_by(self, postgres: bool, backwards: bool) -> &'static str {
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
            // Orders net of refunds plus subscriptions billed (SQLite: migration 0007's index;
            // PostgreSQL walks `customer_sort_keys` instead, see `sort_keys_order_by`).
            (Revenue, _, false) => "(c.revenue_minor + c.subscription_revenue_minor) DESC, c.id",
            (Revenue, _, true) => "(c.revenue_minor + c.subscription_revenue_minor), c.id DESC",
            (LastPurchase, false, false) => "c.last_purchase_at DESC, c.id",
            (LastPurchase, false, true) => "c.last_purchase_at, c.id DESC",
            (LastPurchase, true, false) => "c.last_purchase_at DESC NULLS LAST, c.id",
            (LastPurchase, true, true) => "c.last_purchase_at NULLS FIRST, c.id DESC",
            _ => "c.id",
        }
    }
}

/// One line of the customer list.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// The active subscriptions' amounts per month (`kanta_domain::subscription`).
    pub mrr_minor: i64,
    /// What the subscriptions billed to date (billed periods).
    pub subscription_revenue_minor: i64,
    /// The nearest renewal of a subscription that has not ended.
    pub next_renewal_on: Option<NaiveDate>,
    /// The active subscriptions' plans, comma-joined.
    pub plan: Option<String>,
    /// The trust ledger's balance (credits minus debits).
    pub trust_balance: i64,
    /// Cases not resolved.
    pub open_cases: i64,
    /// The newest model run's CLV over 12 months, in minor units of its currency.
    pub clv_12_minor: Option<i64>,
    /// The newest model run's P(alive).
    pub p_alive: Option<f64>,
    /// The newest model run's probability that the subscription renews, when the run
    /// gives one.
    pub renewal_probability: Option<f64>,
    /// The owner (a staff member's external id and name), when the customer has one
    /// (the list's rows only).
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    /// The newest health score (0-100) and its change over 30 days, in points (the
    /// list's rows only).
    pub health_score: Option<i64>,
    pub health_change_30: Option<i64>,
}

/// SQL expressions of the values the customer list derives per customer, over the
/// customers' alias `c`: the trust balance, open cases, and the CLV, P(alive) and
/// renewal probability of the newest model run that scored the customer (each a lookup through an index by customer).
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub trust: String,
    pub open_cases: String,
    pub clv: String,
    pub p_alive: String,
    pub renewal: String,
}

/// A score of the customer `alias` in the newest run that scored them (as the
/// customer page shows it), through the `(customer_id, run_id)` index.
fn newest_score(column: &str, alias: &str) -> String {
    format!(
        "(SELECT s.{column} FROM customer_scores s WHERE s.customer_id = {alias}.id \
         ORDER BY s.run_id DESC LIMIT 1)"
    )
}

impl Derived {
    /// The expressions over `alias`.
    pub(crate) fn new(alias: &str) -> Derived {
        Derived {
            trust: format!(
                "(SELECT CAST(coalesce(sum(l.delta), 0) AS BIGINT) FROM trust_entries l WHERE l.customer_id = {alias}.id)"
            ),
            open_cases: format!(
                "(SELECT CAST(count(*) AS BIGINT) FROM cases k WHERE k.customer_id = {alias}.id AND k.resolved_at IS NULL)"
            ),
            clv: newest_score("clv_12_minor", alias),
            p_alive: newest_score("p_alive", alias),
            renewal: newest_score("renewal_probability", alias),
        }
    }

    /// The derived values as columns of a SELECT list.
    fn columns(&self) -> String {
        format!(
            "{} AS trust_balance, {} AS open_cases, {} AS clv_12_minor, {} AS p_alive, \
             CAST({} AS DOUBLE PRECISION) AS renewal_probability",
            self.trust, self.open_cases, self.clv, self.p_alive, self.renewal
        )
    }
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

/// The customer list's own columns (then [`Derived::columns`]).
const SUMMARY_COLUMNS: &str = "c.id, c.external_id, c.name, c.email, c.kind, c.segment, c.status, c.tier, \
     c.transactions_count, c.revenue_minor, c.refunds_count, c.refunds_minor, \
     c.first_purchase_at, c.last_purchase_at, \
     c.mrr_minor, c.subscription_revenue_minor, c.next_renewal_on, c.plan, \
     CAST(c.health_score AS BIGINT) AS health_score, CAST(c.health_change_30 AS BIGINT) AS health_change_30, \
     (SELECT o.external_id FROM staff o WHERE o.id = c.owner_id) AS owner_ext, \
     (SELECT o.name FROM staff o WHERE o.id = c.owner_id) AS owner_name";

/// The totals a customer row carries beyond the record's fields (orders, refunds,
/// revenue, purchases, subscriptions), with the trust ledger's balance: what a
/// customer's figures are made of ([`totals_columns`] over alias `t`).
macro_rules! summary_totals {
    ($r:expr, $base:expr) => {{
        let r = $r;
        let transactions: i64 = r.try_get("transactions_count")?;
        let refunds_count: i64 = r.try_get("refunds_count")?;
        CustomerSummary {
            transactions,
            orders_count: transactions - refunds_count,
            refunds_count,
            revenue_minor: r.try_get("revenue_minor")?,
            refunds_minor: r.try_get("refunds_minor")?,
            first_purchase_at: r.try_get("first_purchase_at")?,
            last_purchase_at: r.try_get("last_purchase_at")?,
            mrr_minor: r.try_get("mrr_minor")?,
            subscription_revenue_minor: r.try_get("subscription_revenue_minor")?,
            next_renewal_on: r.try_get("next_renewal_on")?,
            plan: r.try_get("plan")?,
            trust_balance: r.try_get("trust_balance")?,
            ..$base
        }
    }};
}
pub(crate) use summary_totals;

/// The totals, then the values derived per customer (open cases, the newest scores):
/// a whole row of the customer list.
macro_rules! summary_figures {
    ($r:expr, $base:expr) => {{
        let r = $r;
        CustomerSummary {
            open_cases: r.try_get("open_cases")?,
            clv_12_minor: r.try_get("clv_12_minor")?,
            p_alive: r.try_get("p_alive")?,
            renewal_probability: r.try_get("renewal_probability")?,
            ..summary_totals!(r, $base)
        }
    }};
}

/// A customer's row of the list made from their record and the row's
/// [`totals_columns`] (either backend's row): no column read twice.
macro_rules! totals_of_record {
    ($record:expr, $row:expr) => {{
        let record: &Record = $record;
        let text = |name: &str| record.text(name).map(str::to_string);
        let base = CustomerSummary {
            id: record.external_id.clone(),
            name: text("name"),
            email: text("email"),
            kind: text("kind").unwrap_or_default(),
            segment: text("segment"),
            status: text("status").unwrap_or_default(),
            tier: text("tier"),
            ..CustomerSummary::default()
        };
        summary_totals!($row, base)
    }};
}
pub(crate) use totals_of_record;

/// A customer row's totals and trust balance over alias `t`, as extra columns after
/// the record's (read by [`summary_totals!`]). The trust balance is the one value
/// computed per customer (one index range of `trust_entries`); the list's other
/// derived values (open cases, the newest scores) are left to the pages that show
/// them.
pub(crate) fn totals_columns() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "t.transactions_count, t.revenue_minor, t.refunds_count, t.refunds_minor, \
             t.first_purchase_at, t.last_purchase_at, \
             t.mrr_minor, t.subscription_revenue_minor, t.next_renewal_on, t.plan, \
             {} AS trust_balance",
            Derived::new("t").trust
        )
    })
}

/// Rows of [`SUMMARY_COLUMNS`] as [`CustomerSummary`]s (either backend's rows).
macro_rules! decode_summaries {
    ($rows:expr) => {
        $rows
            .iter()
            .map(|r| {
                let base = CustomerSummary {
                    id: r.try_get("external_id")?,
                    name: r.try_get("name")?,
                    email: r.try_get("email")?,
                    kind: r.try_get("kind")?,
                    segment: r.try_get("segment")?,
                    status: r.try_get("status")?,
                    tier: r.try_get("tier")?,
                    owner_id: r.try_get("owner_ext")?,
                    owner_name: r.try_get("owner_name")?,
                    health_score: r.try_get("health_score")?,
                    health_change_30: r.try_get("health_change_30")?,
                    ..CustomerSummary::default()
                };
                Ok(summary_figures!(r, base))
            })
            .collect::<Result<Vec<_>>>()?
    };
}

/// A customer's record with their totals and their trust ledger's balance, read in one
/// query. The summary carries the totals and the balance only: its open cases, scores,
/// owner and health are left at their defaults (the customer page reads those apart).
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
        // The same text every time (built once per schema): the statement cache finds it.
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            format!(
                "SELECT {}, {} FROM customers t WHERE t.external_id = $1",
                select_list(&CUSTOMERS),
                totals_columns(),
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
                let summary = totals_of_record!(&record, &row);
                let trust_balance = summary.trust_balance;
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

/// A search text as a `LIKE` pattern matching it anywhere, lower case, with `%`, `_`
/// and `\` taken literally (escaped by a backslash, PostgreSQL's default escape;
/// SQLite's statements say `ESCAPE '\'`).
pub(crate) fn like_pattern(search: &str) -> String {
    let mut out = String::with_capacity(search.len() + 2);
    out.push('%');
    // NUL, which no stored text holds (and SQLite's LIKE takes for the end of the
    // pattern), is left out.
    for c in search.to_lowercase().chars().filter(|c| *c != '\0') {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A text as a PostgreSQL string constant: an escape string (`E'…'`, read the same
/// whatever `standard_conforming_strings` says) with every backslash and quote
/// doubled. NUL, which no PostgreSQL text holds, is left out.
pub(crate) fn pg_text_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("''"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Where a search's [`like_pattern`] goes in a statement: PostgreSQL gets it as a
/// constant ([`pg_text_literal`]), so that the statement is planned for this pattern
/// although the connections take generic plans (`plan_cache_mode`, see `Store::open`):
/// a plan made for any pattern walks the primary key, filtering every customer (9.6 ms
/// on 5,000), where a pattern of three characters or more takes the trigram indexes
/// (0.3 ms). SQLite gets a parameter, `param` numbering it.
pub(crate) fn search_pattern_sql(
    search: &str,
    postgres: bool,
    param: impl FnOnce(String) -> String,
) -> String {
    let pattern = like_pattern(search);
    if postgres {
        pg_text_literal(&pattern)
    } else {
        param(pattern)
    }
}

/// The condition of a search over `alias`'s name, email (when `email`) and external
/// id, `p` holding its [`like_pattern`] (lower case already): a parameter or a constant
/// ([`search_pattern_sql`]).
/// SQLite's LIKE already ignores ASCII case (and its lower() folds nothing more), so
/// it compares the columns as they are: a third of the cost of a scan through lower().
/// PostgreSQL folds all of Unicode with ILIKE, and its trigram indexes serve exactly
/// these three forms: `name` and `email` as they are, the id by its lower case (that
/// index is on lower(external_id), where the writer's `external_id = ANY(...)` lookups
/// cannot mistake it for the unique index). A condition in another form (`lower(name)
/// LIKE`) reads every customer: 15 ms on 5,000 of them against 0.5 ms.
pub(crate) fn search_condition(alias: &str, email: bool, p: &str, postgres: bool) -> String {
    let (like, esc) = if postgres {
        ("ILIKE", "")
    } else {
        // Backslash escapes in PostgreSQL's patterns by default; SQLite needs telling.
        ("LIKE", " ESCAPE '\\'")
    };
    let mut terms = vec![format!("{alias}.name {like} {p}{esc}")];
    if email {
        terms.push(format!("{alias}.email {like} {p}{esc}"));
    }
    terms.push(if postgres {
        format!("lower({alias}.external_id) LIKE {p}")
    } else {
        format!("{alias}.external_id LIKE {p}{esc}")
    });
    format!("({})", terms.join(" OR "))
}

/// A parameter of the customer list's statement.
#[derive(Debug, Clone)]
enum ListParam {
    Text(String),
    Int(i64),
    Float(f64),
}

/// The customer list's filters, as a WHERE and its parameters (numbered from 1).
/// SQLite's LIKE already ignores ASCII case (and its lower() folds nothing more), so
/// the search compares the columns as they are: a third of the cost of a scan through
/// lower(). PostgreSQL folds all of Unicode with ILIKE. Filters on derived values
/// (trust, cases, scores) compute them only when asked for.
fn list_where(
    f: &CustomerFilter,
    search: Option<String>,
    postgres: bool,
    d: &Derived,
) -> (String, Vec<ListParam>) {
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<ListParam> = Vec::new();
    let mut param = |v: ListParam| {
        params.push(v);
        format!("${}", params.len())
    };
    if let Some(text) = search {
        let p = search_pattern_sql(&text, postgres, |pattern| param(ListParam::Text(pattern)));
        conds.push(search_condition("c", true, &p, postgres));
    }
    for (col, v) in [
        ("segment", &f.segment),
        ("status", &f.status),
        ("kind", &f.kind),
        ("tier", &f.tier),
    ] {
        if let Some(v) = v {
            let p = param(ListParam::Text(v.clone()));
            conds.push(format!("c.{col} = {p}"));
        }
    }
    match f.trust {
        Some(TrustFilter::Deficit) => conds.push(format!("{} < 0", d.trust)),
        Some(TrustFilter::Credit) => conds.push(format!("{} > 0", d.trust)),
        None => {}
    }
    match f.open_cases {
        Some(true) => conds.push(format!("{} > 0", d.open_cases)),
        Some(false) => conds.push(format!("{} = 0", d.open_cases)),
        None => {}
    }
    if let Some(min) = f.clv_min_minor {
        let p = param(ListParam::Int(min));
        conds.push(format!("{} >= {p}", d.clv));
    }
    if let Some(below) = f.p_alive_below {
        let p = param(ListParam::Float(below));
        conds.push(format!("{} < {p}", d.p_alive));
    }
    if let Some(below) = f.renewal_below {
        let p = param(ListParam::Float(below));
        conds.push(format!("{} < {p}", d.renewal));
    }
    match &f.owner {
        // One staff row by its unique key, then `customers_owner_id_idx`.
        Some(OwnerFilter::Staff(id)) => {
            let p = param(ListParam::Text(id.clone()));
            conds.push(format!(
                "c.owner_id = (SELECT o.id FROM staff o WHERE o.external_id = {p})"
            ));
        }
        Some(OwnerFilter::Unowned) => conds.push("c.owner_id IS NULL".into()),
        None => {}
    }
    let sql = if conds.is_empty() {
        "true".to_string()
    } else {
        conds.join(" AND ")
    };
    (sql, params)
}

/// Binds the list's parameters in order.
macro_rules! bind_list {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                ListParam::Text(s) => q.bind(s.clone()),
                ListParam::Int(i) => q.bind(*i),
                ListParam::Float(x) => q.bind(*x),
            };
        }
        q
    }};
}

impl Store {
    /// The list's rows of the customers with these internal ids (a page of the API's
    /// customer list, to carry their figures), by internal id, in one query.
    pub async fn customer_summaries(&self, ids: &[i64]) -> Result<Vec<(i64, CustomerSummary)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let d = Derived::new("c");
        let columns = format!("{SUMMARY_COLUMNS}, {}", d.columns());
        macro_rules! rows_with_ids {
            ($rows:expr) => {{
                let rows = $rows;
                let summaries = decode_summaries!(rows);
                rows.iter()
                    .map(|r| r.try_get::<i64, _>("id"))
                    .zip(summaries)
                    .map(|(id, s)| Ok((id?, s)))
                    .collect::<Result<Vec<_>>>()?
            }};
        }
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                let sql = format!(
                    "SELECT {columns} FROM customers c WHERE c.id IN (SELECT value FROM json_each($1))"
                );
                let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
                rows_with_ids!(
                    sqlx::query::<Sqlite>(AssertSqlSafe(sql))
                        .bind(json)
                        .fetch_all(pool)
                        .await?
                )
            }
            Backend::Postgres(pool) => {
                let sql = format!("SELECT {columns} FROM customers c WHERE c.id = ANY($1)");
                rows_with_ids!(
                    sqlx::query::<Postgres>(AssertSqlSafe(sql))
                        .bind(ids)
                        .fetch_all(pool)
                        .await?
                )
            }
        })
    }
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

    /// The internal id of a customer (one index probe: for a read that needs only the
    /// key, where [`Store::customer`] reads the record and its figures).
    pub async fn customer_key(&self, external_id: &str) -> Result<Option<i64>> {
        Ok(self
            .existing_ids(&CUSTOMERS, &[external_id.to_string()])
            .await?
            .remove(external_id))
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
            .map(str::to_string);
        let has_search = search.is_some();
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let d = Derived::new("c");
        let (list_where, params) = list_where(f, search, postgres, &d);
        let count_sql = format!("SELECT count(*) FROM customers c WHERE {list_where}");
        let total: i64 = crate::with_pool!(self, pool =>
            bind_list!(sqlx::query_scalar(AssertSqlSafe(count_sql)), &params)
                .persistent(!has_search)
                .fetch_one(pool)
                .await?);
        let total = total as u64;
        let limit = u64::from(f.limit);
        let end = (f.offset + limit).min(total);
        // From the far end: skip what lies after this page instead of before it.
        // (A search reads every customer anyway and sorts only its matches.)
        let backwards = !has_search && f.offset > total / 2 && end > f.offset;
        let (skip, take) = if backwards {
            (total - end, end - f.offset)
        } else {
            (f.offset, limit)
        };
        let n = params.len();
        let (lim, off) = (format!("${}", n + 1), format!("${}", n + 2));
        let columns = format!("{SUMMARY_COLUMNS}, {}", d.columns());
        let list_sql = if has_search {
            // A search matches few customers: collect them in one sequential scan and
            // sort those, rather than walk the sort's index through every customer
            // looking for them (seconds on 100,000 customers).
            format!(
                "WITH m AS MATERIALIZED (SELECT {columns} FROM customers c WHERE {list_where}) \
                 SELECT * FROM m c ORDER BY {} LIMIT {lim} OFFSET {off}",
                f.sort.order_by(postgres, false, &d)
            )
        } else if f.sort.is_derived() {
            // Sorted by a value computed per customer (a score, the trust balance, the
            // open cases): choose the page's customers computing only that value, then
            // compute the row's other values for the page alone, not for every customer.
            let order = f.sort.order_by(postgres, backwards, &d);
            format!(
                "WITH p AS (SELECT c.id FROM customers c WHERE {list_where} \
                 ORDER BY {order} LIMIT {lim} OFFSET {off}) \
                 SELECT {columns} FROM p JOIN customers c ON c.id = p.id ORDER BY {order}"
            )
        } else if let Some(order) = f.sort.sort_keys_order_by(postgres, backwards) {
            // PostgreSQL keeps these two orders' indexes on `customer_sort_keys`
            // (migration 0020), so that updates of the totals stay HOT: walk that
            // index and fetch each customer by id.
            format!(
                "SELECT {columns} FROM customer_sort_keys k JOIN customers c ON c.id = k.customer_id \
                 WHERE {list_where} ORDER BY {order} LIMIT {lim} OFFSET {off}"
            )
        } else {
            format!(
                "SELECT {columns} FROM customers c WHERE {list_where} ORDER BY {} LIMIT {lim} OFFSET {off}",
                f.sort.order_by(postgres, backwards, &d)
            )
        };
        let mut customers = crate::with_pool!(self, pool => {
            // A search's pattern is a constant on PostgreSQL: a statement of its own,
            // not kept among the connection's prepared statements.
            let rows = bind_list!(sqlx::query(AssertSqlSafe(list_sql)), &params)
                .persistent(!has_search)
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

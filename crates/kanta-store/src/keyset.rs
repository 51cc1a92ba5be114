//! Lists of any entity's records for the API: equality filters, a time range, a
//! search, one sort, and keyset ("cursor") paging.
//!
//! A page is asked for with a [`RecordQuery`] and comes back as a [`RecordPage`]
//! whose `next_cursor` names the last record of the page by its sort value and
//! internal id. The next page starts strictly after that pair, so paging through a
//! table visits each record once, costs the same on the last page as on the first
//! (no `OFFSET`), and stays correct while records are added.
//!
//! Sorting is limited to what an index serves: insertion order (the default), the
//! external id, and the entity's time field (alone, or after a `customer_id`
//! filter). Customers also sort by their figures ([`CustomerKey`]: name, revenue,
//! last purchase, MRR, next renewal, and the values derived per customer: the newest
//! model run's CLV, P(alive) and renewal probability, the trust balance, open cases);
//! those sorts compute their value per customer, and their cursor carries it.

use chrono::{DateTime, NaiveDate, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{self, CUSTOMERS, Entity, Field, Kind};
use kanta_domain::value::format_time;
use sqlx::{AssertSqlSafe, Postgres, Sqlite};

use crate::records::{
    CustomerSummary, Derived, Record, decode_pg, decode_sqlite, search_condition,
    search_pattern_sql, select_list, summary_totals, totals_columns, totals_of_record,
};
use crate::{Backend, Result, Store};

/// The largest page a list returns.
pub const MAX_LIMIT: u32 = 1000;

/// What a list sorts by.
#[derive(Debug, Clone, Copy)]
pub enum SortKey {
    /// The order records were first written in (the internal id).
    Insertion,
    /// The record's external id (`id` in the API).
    ExternalId,
    /// A field of the entity (its time field).
    Field(&'static Field),
    /// A customer's figure (customers only).
    Customer(CustomerKey),
}

/// What customers sort by besides their id and insertion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKey {
    Name,
    /// Orders net of refunds plus subscriptions billed.
    Revenue,
    LastPurchase,
    /// The newest model run's CLV over 12 months (unscored: -1).
    Clv,
    /// The newest model run's P(alive) (unscored: -1).
    PAlive,
    /// The newest model run's renewal probability (none: -1).
    RenewalProbability,
    TrustBalance,
    OpenCases,
    Mrr,
    /// None: after every date.
    NextRenewal,
}

impl CustomerKey {
    /// Every key by its name in the API.
    pub const ALL: &[(&str, CustomerKey)] = &[
        ("name", CustomerKey::Name),
        ("revenue", CustomerKey::Revenue),
        ("last_purchase", CustomerKey::LastPurchase),
        ("clv", CustomerKey::Clv),
        ("p_alive", CustomerKey::PAlive),
        ("renewal_probability", CustomerKey::RenewalProbability),
        ("trust_balance", CustomerKey::TrustBalance),
        ("open_cases", CustomerKey::OpenCases),
        ("mrr", CustomerKey::Mrr),
        ("next_renewal", CustomerKey::NextRenewal),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("name", |(n, _)| n)
    }

    fn parse(name: &str) -> Option<CustomerKey> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// How the value is carried in a cursor and bound.
    fn value_kind(self) -> ValueKind {
        use CustomerKey::*;
        match self {
            Name | LastPurchase | NextRenewal => ValueKind::Text,
            PAlive | RenewalProbability => ValueKind::Float,
            Revenue | Clv | TrustBalance | OpenCases | Mrr => ValueKind::Int,
        }
    }

    /// The value sorted on, never NULL (missing values become a sentinel), over the
    /// customers' alias `t`.
    fn expr(self, d: &Derived, postgres: bool) -> String {
        use CustomerKey::*;
        match self {
            Name => "coalesce(t.name, '')".into(),
            Revenue => "(t.revenue_minor + t.subscription_revenue_minor)".into(),
            LastPurchase if postgres => "coalesce(to_char(t.last_purchase_at AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '')"
                .into(),
            LastPurchase => "coalesce(t.last_purchase_at, '')".into(),
            Clv => format!("coalesce({}, -1)", d.clv),
            PAlive => format!("coalesce({}, -1.0)", d.p_alive),
            RenewalProbability => format!("coalesce({}, -1.0)", d.renewal),
            TrustBalance => d.trust.clone(),
            OpenCases => d.open_cases.clone(),
            Mrr => "t.mrr_minor".into(),
            NextRenewal if postgres => {
                "coalesce(to_char(t.next_renewal_on, 'YYYY-MM-DD'), '9999-12-31')".into()
            }
            NextRenewal => "coalesce(t.next_renewal_on, '9999-12-31')".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum ValueKind {
    Text,
    Int,
    Float,
}

impl PartialEq for SortKey {
    fn eq(&self, other: &SortKey) -> bool {
        match (self, other) {
            (SortKey::Insertion, SortKey::Insertion)
            | (SortKey::ExternalId, SortKey::ExternalId) => true,
            (SortKey::Field(a), SortKey::Field(b)) => std::ptr::eq(*a, *b),
            (SortKey::Customer(a), SortKey::Customer(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for SortKey {}

/// A sort key and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Sort {
        Sort {
            key: SortKey::Insertion,
            descending: false,
        }
    }
}

impl Sort {
    /// The sort names an entity accepts, ascending; `-name` sorts descending. The
    /// default (insertion order) has no name.
    pub fn names(e: &Entity) -> Vec<&'static str> {
        let mut names = vec!["id"];
        names.extend(e.time_field);
        if e.name == schema::CUSTOMERS.name {
            names.extend(CustomerKey::ALL.iter().map(|(n, _)| *n));
        }
        names
    }

    /// Parses `field` or `-field`; the error says what is accepted.
    pub fn parse(e: &'static Entity, text: &str) -> std::result::Result<Sort, String> {
        let t = text.trim();
        let (descending, name) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let key = match name {
            "" => SortKey::Insertion,
            "id" => SortKey::ExternalId,
            n if Some(n) == e.time_field => {
                SortKey::Field(e.field(n).expect("the time field is a field"))
            }
            n if e.name == schema::CUSTOMERS.name && CustomerKey::parse(n).is_some() => {
                SortKey::Customer(CustomerKey::parse(n).expect("parsed"))
            }
            _ => {
                return Err(format!(
                    "'{t}' is not a sort of {}: use one of {} (prefix - for descending)",
                    e.name,
                    Sort::names(e).join(", ")
                ));
            }
        };
        Ok(Sort { key, descending })
    }

    /// The sort as `parse` reads it (empty for insertion order ascending).
    pub fn name(&self) -> String {
        let base = match self.key {
            SortKey::Insertion => "",
            SortKey::ExternalId => "id",
            SortKey::Field(f) => f.name,
            SortKey::Customer(k) => k.name(),
        };
        if self.descending {
            format!("-{base}")
        } else {
            base.to_string()
        }
    }

    /// The SQL expression sorted on (besides the internal id).
    fn column(&self, d: Option<&Derived>, postgres: bool) -> Option<String> {
        match self.key {
            SortKey::Insertion => None,
            SortKey::ExternalId => Some("t.external_id".into()),
            SortKey::Field(f) => Some(format!("t.{}", f.column)),
            _ if self.walks_sort_keys(postgres) => Some("k.revenue_key".into()),
            SortKey::Customer(k) => d.map(|d| k.expr(d, postgres)),
        }
    }

    /// PostgreSQL sorts customers by revenue through `customer_sort_keys k` (migration
    /// 0020), whose `revenue_key` the writer and the triggers keep equal to the
    /// customer's revenue: its index gives the order of the revenue, and the page
    /// sorts only each run of equal revenues by id (an incremental sort), where the
    /// expression over the customers' own columns sorted every customer for each page
    /// (9 ms on 5,000 customers against 0.9 ms).
    fn walks_sort_keys(&self, postgres: bool) -> bool {
        postgres && self.key == SortKey::Customer(CustomerKey::Revenue)
    }
}

/// The fields a list can be filtered on by equality: every field except free text,
/// real numbers, money and points in time (the time field has a range instead).
pub fn filterable(e: &'static Entity) -> impl Iterator<Item = &'static Field> {
    e.fields.iter().filter(|f| {
        !matches!(
            f.kind,
            Kind::LongText | Kind::Float | Kind::Money | Kind::Timestamp
        )
    })
}

/// Entities with a name can be searched by part of the name, email or id.
pub fn searchable(e: &Entity) -> bool {
    e.field("name").is_some()
}

/// Where the next page starts: after the record with this sort value and internal
/// id. Handed to clients as an opaque text ([`Cursor::encode`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The sort the cursor was made for ([`Sort::name`]).
    pub sort: String,
    pub value: Value,
    pub id: i64,
}

impl Cursor {
    fn after(sort: &Sort, r: &Record, sort_value: Option<Value>) -> Cursor {
        let value = match sort.key {
            SortKey::Insertion => Value::Null,
            SortKey::ExternalId => Value::Text(r.external_id.clone()),
            SortKey::Field(f) => r.get(f.name).clone(),
            SortKey::Customer(_) => sort_value.unwrap_or(Value::Null),
        };
        Cursor {
            sort: sort.name(),
            value,
            id: r.id,
        }
    }

    /// Opaque URL-safe text (base64url of the sort, the value and the id).
    pub fn encode(&self) -> String {
        let value = match &self.value {
            // Full precision: a cursor that rounded would repeat records.
            Value::Time(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            v => v.canonical(),
        };
        base64url_encode(format!("{}\n{}\n{}", self.sort, self.id, value).as_bytes())
    }

    /// Reads a cursor made by [`Cursor::encode`] for `sort`; the error says why not.
    pub fn decode(text: &str, sort: &Sort) -> std::result::Result<Cursor, String> {
        let bad = || "is not a cursor this API gave out (start again without one)".to_string();
        let bytes = base64url_decode(text.trim()).ok_or_else(bad)?;
        let s = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = s.splitn(3, '\n');
        let (Some(sort_name), Some(id), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if sort_name != sort.name() {
            return Err(format!(
                "was made for sort '{sort_name}', not '{}': keep the sort while paging",
                sort.name()
            ));
        }
        let id: i64 = id.parse().map_err(|_| bad())?;
        let value = match sort.key {
            SortKey::Insertion => Value::Null,
            SortKey::ExternalId => Value::Text(value.to_string()),
            SortKey::Field(f) => match f.kind {
                Kind::Timestamp => Value::Time(
                    DateTime::parse_from_rfc3339(value)
                        .map_err(|_| bad())?
                        .with_timezone(&Utc),
                ),
                Kind::Date => {
                    Value::Date(NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| bad())?)
                }
                _ => Value::Text(value.to_string()),
            },
            SortKey::Customer(k) => match k.value_kind() {
                ValueKind::Text => Value::Text(value.to_string()),
                ValueKind::Int => Value::Int(value.parse().map_err(|_| bad())?),
                ValueKind::Float => Value::Float(value.parse().map_err(|_| bad())?),
            },
        };
        Ok(Cursor {
            sort: sort_name.to_string(),
            value,
            id,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Default)]
pub struct RecordPage {
    pub items: Vec<Record>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which records of an entity to list, in which order, from where.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub entity: &'static Entity,
    /// Field equals value; a reference's value is the referenced external id.
    pub filters: Vec<(&'static Field, Value)>,
    /// The time field is at or after this.
    pub since: Option<Value>,
    /// The time field is before this.
    pub until: Option<Value>,
    /// Part of the name, email or external id, case ignored ([`searchable`]
    /// entities only).
    pub search: Option<String>,
    pub sort: Sort,
    pub after: Option<Cursor>,
    /// Records per page, 1..=[`MAX_LIMIT`].
    pub limit: u32,
    /// Conditions on values derived per customer (customers only).
    pub derived: Vec<DerivedFilter>,
}

/// A condition on a customer's derived values (see [`CustomerKey`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DerivedFilter {
    /// Trust balance below zero.
    TrustDeficit,
    /// Trust balance above zero.
    TrustCredit,
    /// With open cases (true) or without (false).
    OpenCases(bool),
    /// CLV over 12 months at least this (minor units).
    ClvMin(i64),
    /// P(alive) below this.
    PAliveBelow(f64),
    /// Renewal probability below this.
    RenewalBelow(f64),
}

impl RecordQuery {
    /// All records of `entity`, in insertion order, 100 per page.
    pub fn new(entity: &'static Entity) -> RecordQuery {
        RecordQuery {
            entity,
            filters: Vec::new(),
            since: None,
            until: None,
            search: None,
            sort: Sort::default(),
            after: None,
            limit: 100,
            derived: Vec::new(),
        }
    }

    /// The text the list searches for: the search trimmed, when it is not empty and
    /// the entity is [`searchable`].
    fn search_text(&self) -> Option<&str> {
        self.search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && searchable(self.entity))
    }

    /// The page's SQL and its parameters; `extra` columns follow the record's. Values
    /// of times are bound as each backend stores them (see [`bind_all`]).
    fn sql(&self, d: Option<&Derived>, postgres: bool, extra: &str) -> (String, Vec<Value>) {
        let e = self.entity;
        let mut params: Vec<Value> = Vec::new();
        let mut conds: Vec<String> = Vec::new();
        let param = |v: Value, params: &mut Vec<Value>| {
            params.push(v);
            format!("${}", params.len())
        };
        for (f, v) in &self.filters {
            if v.is_null() {
                conds.push(format!("t.{} IS NULL", f.column));
                continue;
            }
            let p = param(v.clone(), &mut params);
            match f.kind {
                Kind::Ref(target) => {
                    let table = schema::entity(target).map_or(target, |t| t.table);
                    conds.push(format!(
                        "t.{} = (SELECT r.id FROM {table} r WHERE r.external_id = {p})",
                        f.column
                    ));
                }
                _ => conds.push(format!("t.{} = {p}", f.column)),
            }
        }
        if let Some(tf) = e.time_field.and_then(|n| e.field(n)) {
            if let Some(v) = &self.since {
                let p = param(v.clone(), &mut params);
                conds.push(format!("t.{} >= {p}", tf.column));
            }
            if let Some(v) = &self.until {
                let p = param(v.clone(), &mut params);
                conds.push(format!("t.{} < {p}", tf.column));
            }
        }
        if let Some(s) = self.search_text() {
            // `%`, `_` and `\` are themselves (escaped by a backslash).
            let p = search_pattern_sql(s, postgres, |pattern| {
                param(Value::Text(pattern), &mut params)
            });
            conds.push(search_condition(
                "t",
                e.field("email").is_some(),
                &p,
                postgres,
            ));
        }
        if let Some(d) = d {
            for f in &self.derived {
                conds.push(match *f {
                    DerivedFilter::TrustDeficit => format!("{} < 0", d.trust),
                    DerivedFilter::TrustCredit => format!("{} > 0", d.trust),
                    DerivedFilter::OpenCases(true) => format!("{} > 0", d.open_cases),
                    DerivedFilter::OpenCases(false) => format!("{} = 0", d.open_cases),
                    DerivedFilter::ClvMin(v) => {
                        let p = param(Value::Int(v), &mut params);
                        format!("{} >= {p}", d.clv)
                    }
                    DerivedFilter::PAliveBelow(v) => {
                        let p = param(Value::Float(v), &mut params);
                        format!("{} < {p}", d.p_alive)
                    }
                    DerivedFilter::RenewalBelow(v) => {
                        let p = param(Value::Float(v), &mut params);
                        format!("{} < {p}", d.renewal)
                    }
                });
            }
        }
        let (cmp, dir) = if self.sort.descending {
            ("<", " DESC")
        } else {
            (">", "")
        };
        let column = self.sort.column(d, postgres);
        let sort_keys = self.sort.walks_sort_keys(postgres);
        if let Some(c) = &self.after {
            let id = param(Value::Int(c.id), &mut params);
            match &column {
                None => conds.push(format!("t.id {cmp} {id}")),
                Some(col) => {
                    let v = param(c.value.clone(), &mut params);
                    conds.push(format!("({col}, t.id) {cmp} ({v}, {id})"));
                    if sort_keys {
                        // The same, in a form the index on `customer_sort_keys`
                        // (revenue_key DESC, customer_id) starts its scan from.
                        conds.push(format!("{col} {cmp}= {v}"));
                    }
                }
            }
        }
        let order = match &column {
            None => format!("t.id{dir}"),
            Some(col) => format!("{col}{dir}, t.id{dir}"),
        };
        // A constant: a plan kept for any LIMIT takes it for a tenth of the table.
        let limit = i64::from(self.limit) + 1;
        let where_sql = if conds.is_empty() {
            "true".to_string()
        } else {
            conds.join(" AND ")
        };
        let sort_value = match (&self.sort.key, &column) {
            (SortKey::Customer(_), Some(col)) => format!(", {col} AS kanta_sort"),
            _ => String::new(),
        };
        let join = if sort_keys {
            " JOIN customer_sort_keys k ON k.customer_id = t.id"
        } else {
            ""
        };
        (
            format!(
                "SELECT {}{sort_value}{extra} FROM {} t{join} WHERE {where_sql} ORDER BY {order} LIMIT {limit}",
                select_list(e),
                e.table
            ),
            params,
        )
    }
}

/// Binds values in the form each backend stores them: SQLite keeps times and dates
/// as fixed-width text (so text order is time order), PostgreSQL as its own types.
macro_rules! bind_all {
    ($q:expr, $params:expr, $sqlite:expr) => {{
        let mut q = $q;
        for v in $params {
            q = match v {
                Value::Null => q.bind(None::<String>),
                Value::Text(s) => q.bind(s.clone()),
                Value::Int(i) => q.bind(*i),
                Value::Float(f) => q.bind(*f),
                Value::Bool(b) => q.bind(*b),
                Value::Date(d) if $sqlite => q.bind(d.format("%Y-%m-%d").to_string()),
                Value::Date(d) => q.bind(*d),
                Value::Time(t) if $sqlite => q.bind(format_time(t)),
                Value::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}

impl Store {
    /// One page of records of `q.entity`; see the module documentation.
    pub async fn list(&self, q: &RecordQuery) -> Result<RecordPage> {
        Ok(self.page(q, false).await?.0)
    }

    /// A page of customers with each one's totals and trust balance, in the page's
    /// order, read by the page's own statement: what the API's customer list shows of
    /// each (their figures). Totals are a customer's: a page of another entity comes
    /// with none.
    pub async fn list_with_totals(
        &self,
        q: &RecordQuery,
    ) -> Result<(RecordPage, Vec<CustomerSummary>)> {
        self.page(q, std::ptr::eq(q.entity, &CUSTOMERS)).await
    }

    async fn page(
        &self,
        q: &RecordQuery,
        totals: bool,
    ) -> Result<(RecordPage, Vec<CustomerSummary>)> {
        let postgres = matches!(self.backend, Backend::Postgres(_));
        let derived = match q.sort.key {
            SortKey::Customer(_) => Some(crate::records::Derived::new("t")),
            _ if !q.derived.is_empty() => Some(crate::records::Derived::new("t")),
            _ => None,
        };
        let extra = if totals {
            format!(", {}", totals_columns())
        } else {
            String::new()
        };
        let (sql, params) = q.sql(derived.as_ref(), postgres, &extra);
        let kind = match q.sort.key {
            SortKey::Customer(k) => Some(k.value_kind()),
            _ => None,
        };
        macro_rules! row {
            ($r:expr, $decode:ident) => {{
                use sqlx::Row;
                let r = $r;
                let record = $decode(q.entity, r)?;
                let sort = match kind {
                    None => None,
                    Some(ValueKind::Text) => Some(Value::Text(r.try_get("kanta_sort")?)),
                    Some(ValueKind::Int) => Some(Value::Int(r.try_get("kanta_sort")?)),
                    Some(ValueKind::Float) => Some(Value::Float(r.try_get("kanta_sort")?)),
                };
                let summary = if totals {
                    Some(totals_of_record!(&record, r))
                } else {
                    None
                };
                Ok((record, sort, summary))
            }};
        }
        let mut items: Vec<(Record, Option<Value>, Option<CustomerSummary>)> = match &self.backend {
            Backend::Sqlite(pool) => {
                bind_all!(sqlx::query::<Sqlite>(AssertSqlSafe(sql)), &params, true)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| row!(r, decode_sqlite))
                    .collect::<Result<_>>()?
            }
            Backend::Postgres(pool) => {
                // A search is planned for its own pattern (a constant in the
                // statement, see `search_pattern_sql`), and each pattern is a statement
                // of its own: unnamed, not kept in the connection's cache of prepared
                // statements.
                bind_all!(sqlx::query::<Postgres>(AssertSqlSafe(sql)), &params, false)
                    .persistent(q.search_text().is_none())
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| row!(r, decode_pg))
                    .collect::<Result<_>>()?
            }
        };
        let more = items.len() > q.limit as usize;
        items.truncate(q.limit as usize);
        let next_cursor = if more {
            items
                .last()
                .map(|(r, v, _)| Cursor::after(&q.sort, r, v.clone()).encode())
        } else {
            None
        };
        let mut records = Vec::with_capacity(items.len());
        let mut summaries = Vec::with_capacity(if totals { items.len() } else { 0 });
        for (r, _, summary) in items {
            records.push(r);
            summaries.extend(summary);
        }
        Ok((
            RecordPage {
                items: records,
                next_cursor,
            },
            summaries,
        ))
    }

    /// Whether a record of `entity` has this external id.
    pub async fn exists(&self, e: &'static Entity, external_id: &str) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {} WHERE external_id = $1", e.table);
        Ok(crate::with_pool!(self, pool =>
            sqlx::query(AssertSqlSafe(sql))
                .bind(external_id.to_string())
                .fetch_optional(pool)
                .await?
                .is_some()))
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = B64.iter().position(|b| b == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanta_domain::schema::{CUSTOMERS, STAFF, TRANSACTIONS};

    #[test]
    fn base64url_round_trips() {
        for s in [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "-occurred_at\n12\n2024-01-01T00:00:00Z",
        ] {
            let e = base64url_encode(s.as_bytes());
            assert!(!e.contains(['+', '/', '=']), "{e}");
            assert_eq!(base64url_decode(&e).unwrap(), s.as_bytes(), "{s}");
        }
        assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url_encode(b"fo"), "Zm8");
        assert!(base64url_decode("Zm9v!").is_none());
        assert!(base64url_decode("Z").is_none());
    }

    #[test]
    fn sorts_parse_and_name_themselves() {
        let s = Sort::parse(&TRANSACTIONS, "-occurred_at").unwrap();
        assert!(s.descending);
        assert_eq!(s.name(), "-occurred_at");
        assert_eq!(
            Sort::parse(&TRANSACTIONS, "id").unwrap().key,
            SortKey::ExternalId
        );
        assert_eq!(Sort::parse(&TRANSACTIONS, "").unwrap(), Sort::default());
        let err = Sort::parse(&TRANSACTIONS, "amount").unwrap_err();
        assert!(err.contains("id, occurred_at"), "{err}");
        assert!(Sort::parse(&STAFF, "occurred_at").is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_another_sort() {
        let sort = Sort::parse(&TRANSACTIONS, "-occurred_at").unwrap();
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
        let c = Cursor {
            sort: sort.name(),
            value: Value::Time(t),
            id: 42,
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, &sort).unwrap(), c);
        let other = Sort::parse(&TRANSACTIONS, "occurred_at").unwrap();
        assert!(Cursor::decode(&text, &other).unwrap_err().contains("sort"));
        assert!(Cursor::decode("not a cursor", &sort).is_err());
        let by_id = Sort::parse(&CUSTOMERS, "id").unwrap();
        let c = Cursor {
            sort: by_id.name(),
            value: Value::Text("a\nb".into()),
            id: 7,
        };
        assert_eq!(Cursor::decode(&c.encode(), &by_id).unwrap(), c);
    }

    #[test]
    fn keyset_sql_has_no_offset() {
        let mut q = RecordQuery::new(&TRANSACTIONS);
        q.sort = Sort::parse(&TRANSACTIONS, "-occurred_at").unwrap();
        q.after = Some(Cursor {
            sort: q.sort.name(),
            value: Value::Null,
            id: 1,
        });
        let (sql, params) = q.sql(None, false, "");
        assert!(!sql.contains("OFFSET"));
        assert!(sql.contains("(t.occurred_at, t.id) < ($2, $1)"), "{sql}");
        // The limit (100 and one more, to see whether a next page exists) is a
        // constant, so that a plan kept for the statement knows it.
        assert!(
            sql.ends_with("ORDER BY t.occurred_at DESC, t.id DESC LIMIT 101"),
            "{sql}"
        );
        assert_eq!(params.len(), 2);
    }

    use crate::testing::{BACKENDS, TestDb};
    use crate::write::{RunInfo, WriteBatch};
    use chrono::TimeZone;

    fn fields(e: &'static Entity, names: &[&str]) -> Vec<&'static Field> {
        names.iter().map(|n| e.field(n).unwrap()).collect()
    }

    /// 3 customers and 250 transactions whose times repeat (ties in the sort).
    async fn seeded(backend: &str) -> (TestDb, Store) {
        let db = TestDb::new(backend);
        let store = Store::open(&db.url).await.unwrap();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "segment"]));
        for (id, seg) in [("c1", "a"), ("c2", "b"), ("c3", "a")] {
            c.push(
                id.into(),
                [Value::Text(format!("Name {id}")), Value::Text(seg.into())],
            );
        }
        store.write(&c).await.unwrap();
        let mut t = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency", "kind"],
            ),
        );
        for i in 0..250i64 {
            // Ids not in insertion order; every 4th time shared with the next.
            let id = format!("t{:03}", (i * 37) % 250);
            let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::hours((i / 4) * 3 + (i % 3));
            t.push(
                id,
                [
                    Value::Text(format!("c{}", i % 3 + 1)),
                    Value::Time(at),
                    Value::Int(100 + i),
                    Value::Text("EUR".into()),
                    Value::Text("order".into()),
                ],
            );
        }
        store.write(&t).await.unwrap();
        (db, store)
    }

    async fn all_pages(store: &Store, mut q: RecordQuery) -> Vec<Record> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            let page = store.list(&q).await.unwrap();
            assert!(page.items.len() <= q.limit as usize);
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => q.after = Some(Cursor::decode(&c, &q.sort).unwrap()),
                None => return out,
            }
        }
        panic!("paging does not end");
    }

    #[tokio::test]
    async fn paging_visits_every_record_once_in_order_on_both_backends() {
        for backend in BACKENDS {
            let (_db, store) = seeded(backend).await;
            let everything = all_pages(
                &store,
                RecordQuery {
                    limit: 1000,
                    ..RecordQuery::new(&TRANSACTIONS)
                },
            )
            .await;
            assert_eq!(everything.len(), 250, "{backend}");
            for sort in ["", "id", "-id", "occurred_at", "-occurred_at"] {
                for (filter, since) in [(None, None), (Some("c2"), None), (Some("c1"), Some(30))] {
                    let mut q = RecordQuery::new(&TRANSACTIONS);
                    q.limit = 7;
                    q.sort = Sort::parse(&TRANSACTIONS, sort).unwrap();
                    if let Some(c) = filter {
                        q.filters.push((
                            TRANSACTIONS.field("customer_id").unwrap(),
                            Value::Text(c.into()),
                        ));
                    }
                    let since_t = since.map(|h| {
                        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
                            + chrono::Duration::hours(h)
                    });
                    q.since = since_t.map(Value::Time);
                    let got = all_pages(&store, q.clone()).await;
                    let mut want: Vec<&Record> = everything
                        .iter()
                        .filter(|r| filter.is_none_or(|c| r.text("customer_id") == Some(c)))
                        .filter(|r| {
                            since_t.is_none_or(
                                |s| matches!(r.get("occurred_at"), Value::Time(t) if *t >= s),
                            )
                        })
                        .collect();
                    let key = |r: &Record| match q.sort.key {
                        SortKey::Insertion => (String::new(), r.id),
                        SortKey::ExternalId => (r.external_id.clone(), r.id),
                        SortKey::Field(_) => (r.get("occurred_at").canonical(), r.id),
                        SortKey::Customer(_) => unreachable!("transactions"),
                    };
                    want.sort_by_key(|r| key(r));
                    if q.sort.descending {
                        want.reverse();
                    }
                    let got_ids: Vec<&str> = got.iter().map(|r| r.external_id.as_str()).collect();
                    let want_ids: Vec<&str> = want.iter().map(|r| r.external_id.as_str()).collect();
                    assert_eq!(
                        got_ids, want_ids,
                        "{backend} sort '{sort}' customer {filter:?} since {since:?}"
                    );
                }
            }
            // Until is exclusive; filters combine.
            let mut q = RecordQuery::new(&TRANSACTIONS);
            q.until = Some(Value::Time(
                Utc.with_ymd_and_hms(2024, 1, 1, 3, 0, 0).unwrap(),
            ));
            let page = store.list(&q).await.unwrap();
            assert_eq!(
                page.items.len(),
                4,
                "{backend}: the first four (hours 0, 1, 2, 0); those at hour 3 excluded"
            );
            let mut q = RecordQuery::new(&CUSTOMERS);
            q.filters
                .push((CUSTOMERS.field("segment").unwrap(), Value::Text("a".into())));
            q.search = Some("NAME C3".into());
            let page = store.list(&q).await.unwrap();
            assert_eq!(
                page.items
                    .iter()
                    .map(|r| r.external_id.as_str())
                    .collect::<Vec<_>>(),
                ["c3"]
            );
            assert!(page.next_cursor.is_none());
            assert!(store.exists(&CUSTOMERS, "c2").await.unwrap());
            assert!(!store.exists(&CUSTOMERS, "c9").await.unwrap());
            // A reference to nothing matches nothing (rather than everything).
            let mut q = RecordQuery::new(&TRANSACTIONS);
            q.filters.push((
                TRANSACTIONS.field("customer_id").unwrap(),
                Value::Text("c9".into()),
            ));
            assert!(store.list(&q).await.unwrap().items.is_empty());
            store.close().await;
        }
    }

    #[tokio::test]
    async fn a_writer_over_several_entities_commits_or_drops_them_together() {
        for backend in BACKENDS {
            let db = TestDb::new(backend);
            let store = Store::open(&db.url).await.unwrap();
            let batches = || {
                let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
                c.push("k1".into(), [Value::Text("Kalle".into())]);
                let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name"]));
                s.push("s1".into(), [Value::Text("Sanna".into())]);
                (c, s)
            };
            let run = RunInfo::default();
            // Dropped before finishing: neither entity is written.
            let (c, s) = batches();
            let mut w = store.writer(&CUSTOMERS, c.fields.clone()).await.unwrap();
            w.write(c).await.unwrap();
            let first = w.next_entity(&STAFF, s.fields.clone(), &run).await.unwrap();
            assert_eq!(first.inserted, 1);
            w.write(s).await.unwrap();
            drop(w);
            assert!(!store.exists(&CUSTOMERS, "k1").await.unwrap(), "{backend}");
            assert!(!store.exists(&STAFF, "s1").await.unwrap(), "{backend}");
            // Finished: both are; again: both unchanged.
            for round in 0..2 {
                let (c, s) = batches();
                let mut w = store.writer(&CUSTOMERS, c.fields.clone()).await.unwrap();
                w.write(c).await.unwrap();
                let first = w.next_entity(&STAFF, s.fields.clone(), &run).await.unwrap();
                w.write(s).await.unwrap();
                let second = w.finish(&run).await.unwrap();
                assert_eq!(
                    (first.inserted, second.inserted),
                    if round == 0 { (1, 1) } else { (0, 0) }
                );
                assert_eq!(
                    (first.unchanged, second.unchanged),
                    if round == 0 { (0, 0) } else { (1, 1) }
                );
            }
            assert!(store.exists(&STAFF, "s1").await.unwrap(), "{backend}");
            store.close().await;
        }
    }

    #[tokio::test]
    async fn a_writer_that_reads_first_is_not_undone_by_a_concurrent_write() {
        for backend in BACKENDS {
            let db = TestDb::new(backend);
            let store = Store::open(&db.url).await.unwrap();
            let batch = |id: &str| {
                let mut b = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
                b.push(id.into(), [Value::Text(id.to_uppercase())]);
                b
            };
            store.write(&batch("a0")).await.unwrap();
            let mut w = store
                .writer(&CUSTOMERS, fields(&CUSTOMERS, &["name"]))
                .await
                .unwrap();
            assert_eq!(w.known(&CUSTOMERS, &["a0".into()]).await.unwrap().len(), 1);
            // Another connection writes while this transaction has only read.
            let other = store.clone();
            let b2 = batch("b1");
            let task = tokio::spawn(async move { other.write(&b2).await });
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            w.write(batch("a1")).await.unwrap();
            w.finish(&RunInfo::default())
                .await
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{backend}: {e}"));
            for id in ["a0", "a1", "b1"] {
                assert!(
                    store.exists(&CUSTOMERS, id).await.unwrap(),
                    "{backend}: {id}"
                );
            }
            store.close().await;
        }
    }
}

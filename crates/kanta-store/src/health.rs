//! The health score's data: the raw figures its features are made of, for every
//! customer as of one or more days at once, and the models and daily scores it keeps.
//!
//! # Reading the features
//!
//! [`Store::health_inputs`] reads, for a list of days `D` (the day being scored and the
//! past snapshots the model learns from), every customer's raw figures as of the end of
//! each day (UTC days, as the store's other day-level figures): one grouped pass per
//! table, whatever the number of days, each day a handful of conditional aggregates
//! (`count(CASE WHEN t < cut THEN 1 END)`) in the same pass. So the orders are read
//! once, the usage events once, the trust ledger once, and so on, and nothing is asked
//! per customer: 100,000 customers with 5,000,000 usage events cost seven scans. (On
//! SQLite the usage pass instead lists each customer's `day value` pairs in one
//! `group_concat` and sums the windows in Rust: SQLite steps every aggregate for every
//! row, and 26 conditional sums over 5,000,000 events took four times the scan. The
//! values travel as SQLite's text of a REAL, 15 significant digits.) The
//! passes run at once on their own connections (SQLite reads in parallel in WAL mode).
//! The core turns the figures into the features (ratios, days, groups) and outcomes.
//!
//! What each pass gives per customer and day `D` (cut = the start of `D + 1`):
//! - orders (`transactions.kind = 'order'`): the last order's day before the cut, the
//!   orders in the 365 days before it, the orders in the 90 days after it (the outcome);
//! - usage events: the values summed over the 4 weeks (28 days) before the cut and over
//!   the 12 weeks before those;
//! - trust ledger: the balance at the cut and 90 days before it;
//! - cases: open at the cut (opened before, not resolved or closed by then), and those
//!   whose first-response or resolution target fell in the 90 days before the cut and
//!   was missed;
//! - feedback: the last NPS and the last CSAT answer before the cut;
//! - interactions: the last proactive contact that was not sales or renewal;
//! - onboarding: tasks due by `D` (of onboardings started by then, not cancelled) and
//!   those of them done before the cut;
//! - goals: goals agreed by `D`, not yet due, whose status is `at_risk` (the status as it
//!   is now: the store keeps no history of it).
//!
//! # Writing scores
//!
//! [`Writer::insert_health_model`] records a fit (or the expert weights) and
//! [`Writer::save_health_scores`] a day's scores, in the caller's write transaction (the
//! core adds the audit entry): rows upserted per `(customer, day)` (a second refresh on
//! the same day replaces the first), the previous day's factors emptied (history keeps
//! the score; the factors of the newest day are what pages explain), history older than
//! [`HISTORY_DAYS`] pruned, and `customers.health_score`, `health_probability` and
//! `health_change_30` set from the day's rows in one `UPDATE ... FROM`; each of these
//! statements rewrites only the rows whose values change (`IS DISTINCT FROM`), as a
//! rewritten `customers` row costs an entry in each of the table's indexes on
//! PostgreSQL and most scores are the same as the day before. Rows travel as
//! one JSON array per 10,000 through `json_each` on SQLite and as arrays through
//! `UNNEST` on PostgreSQL.

use std::fmt::Write as _;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite};

use crate::write::DbTx;
use crate::{Backend, Result, Store, Writer, json_err, with_pool};

/// Days of score history kept.
pub const HISTORY_DAYS: u64 = 400;

/// Rows per JSON array (SQLite) or array insert (PostgreSQL).
const CHUNK_ROWS: usize = 10_000;

/// What a customer is, whatever the day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthCustomer {
    /// Internal id.
    pub id: i64,
    /// When the customer began: `acquired_on`, else the first order's day, else the day
    /// the record was created (the earliest of those known).
    pub began: Option<NaiveDate>,
    /// The day the customer record says they ended (`status = 'ended'`).
    pub ended_on: Option<NaiveDate>,
}

/// One customer's raw figures as of one day (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HealthFigures {
    pub last_order: Option<NaiveDate>,
    pub orders_365: i64,
    pub orders_next_90: i64,
    pub usage_recent: Option<f64>,
    pub usage_baseline: Option<f64>,
    pub trust_balance: i64,
    pub trust_balance_90_ago: i64,
    pub open_cases: i64,
    pub breached_cases_90: i64,
    pub last_nps: Option<i64>,
    pub last_csat: Option<i64>,
    pub last_proactive: Option<NaiveDate>,
    pub tasks_due: i64,
    pub tasks_done: i64,
    pub goals_at_risk: i64,
}

/// Every customer's figures as of each day asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HealthInputs {
    /// The days, as asked.
    pub days: Vec<NaiveDate>,
    /// Every customer, by id.
    pub customers: Vec<HealthCustomer>,
    /// `figures[d][i]`: customer `customers[i]` as of `days[d]`.
    pub figures: Vec<Vec<HealthFigures>>,
}

/// A fit (or the expert weights) to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewHealthModel {
    pub as_of: NaiveDate,
    /// `learned` or `expert`.
    pub method: String,
    pub events: i64,
    pub rows: i64,
    /// The scorecard, its validation and why the method was chosen.
    pub details: serde_json::Value,
}

/// A recorded model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthModel {
    pub id: i64,
    pub fitted_at: DateTime<Utc>,
    pub as_of: NaiveDate,
    pub method: String,
    pub events: i64,
    pub rows: i64,
    pub details: serde_json::Value,
}

/// One customer's score on a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthScore {
    pub customer_id: i64,
    pub score: i64,
    /// Churn probability in the next 90 days.
    pub probability: f64,
    /// The health logit (the churn logit's negative).
    pub logit: f64,
    /// The factors as JSON text (an array), as pages explain them. Text, not a
    /// `serde_json::Value`: a million customers' factors as values took gigabytes.
    pub factors: String,
}

/// A customer's newest score with its day and model, and the daily history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredHealth {
    pub day: NaiveDate,
    pub model_id: i64,
    pub score: HealthScore,
    /// The change against 30 days before, as `customers.health_change_30` keeps it.
    pub change_30: Option<i64>,
    /// `(day, score)`, oldest first, the last 180 days.
    pub history: Vec<(NaiveDate, i64)>,
}

/// SQL fragments that differ between the dialects.
struct Dialect {
    pg: bool,
}

impl Dialect {
    /// A time literal.
    fn time(&self, t: DateTime<Utc>) -> String {
        let text = kanta_domain::value::format_time(&t);
        if self.pg {
            format!("TIMESTAMPTZ '{text}'")
        } else {
            format!("'{text}'")
        }
    }

    /// A date literal.
    fn date(&self, d: NaiveDate) -> String {
        if self.pg {
            format!("DATE '{}'", d.format("%Y-%m-%d"))
        } else {
            format!("'{}'", d.format("%Y-%m-%d"))
        }
    }

    /// Days since 1970-01-01 of a time expression (UTC day).
    fn time_day(&self, e: &str) -> String {
        if self.pg {
            format!("CAST(CAST(({e}) AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01' AS BIGINT)")
        } else {
            format!("CAST(julianday(substr(({e}), 1, 10)) - 2440587.5 AS INTEGER)")
        }
    }

    /// Days since 1970-01-01 of a date expression.
    fn date_day(&self, e: &str) -> String {
        if self.pg {
            format!("CAST(({e}) - DATE '1970-01-01' AS BIGINT)")
        } else {
            format!("CAST(julianday({e}) - 2440587.5 AS INTEGER)")
        }
    }

    /// Text that sorts as the time does.
    fn time_key(&self, e: &str) -> String {
        if self.pg {
            format!("to_char(({e}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
        } else {
            e.to_string()
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)
}

fn from_day_number(n: i64) -> NaiveDate {
    if n >= 0 {
        epoch().checked_add_days(Days::new(n as u64))
    } else {
        epoch().checked_sub_days(Days::new(n.unsigned_abs()))
    }
    .unwrap_or(NaiveDate::MIN)
}

/// Days since 1970-01-01 of `d`.
fn day_number(d: NaiveDate) -> i64 {
    (d - epoch()).num_days()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` text.
fn parse_day_number(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    let d = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    Some(day_number(d))
}

/// The usage sums of one customer per cut (day number of the cut, the day after the
/// day scored): the 28 days before the cut and the 84 before those, from a list of
/// `YYYY-MM-DD value` items separated by commas, in the order SQLite summed them. A
/// window without a value is `None`, as SQL's `sum` over no rows.
fn usage_windows(list: &str, cuts: &[i64]) -> Vec<(Option<f64>, Option<f64>)> {
    let mut out: Vec<(Option<f64>, Option<f64>)> = vec![(None, None); cuts.len()];
    let add = |slot: &mut Option<f64>, v: f64| *slot = Some(slot.unwrap_or(0.0) + v);
    for item in list.split(',') {
        let Some((day, value)) = item.split_once(' ') else {
            continue;
        };
        let (Some(day), Ok(value)) = (parse_day_number(day), value.trim().parse::<f64>()) else {
            continue;
        };
        for (slot, &c) in out.iter_mut().zip(cuts) {
            if day >= c - 28 && day < c {
                add(&mut slot.0, value);
            } else if day >= c - 112 && day < c - 28 {
                add(&mut slot.1, value);
            }
        }
    }
    out
}

/// The start (UTC) of the day after `d`: the cut of figures as of `d`.
fn cut_of(d: NaiveDate) -> DateTime<Utc> {
    let next = d.succ_opt().unwrap_or(d);
    Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The value after `|` of a `time|value` key (the last answer's value).
fn after_bar(s: Option<String>) -> Option<i64> {
    s.and_then(|s| s.rsplit('|').next().and_then(|v| v.trim().parse().ok()))
}

/// Runs one grouped pass: `(customer id, what $body decodes of the row)` per row.
macro_rules! fetch_pass {
    ($store:expr, $sql:expr, |$row:ident| $body:expr) => {{
        let sql: String = $sql;
        // Streamed, not fetched whole: a million customers' rows of 40 columns held
        // at once as driver values took gigabytes.
        with_pool!($store, pool => {
            use futures_util::TryStreamExt;
            let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(pool);
            let mut out = Vec::new();
            while let Some(row) = rows.try_next().await? {
                let $row = &row;
                let id: i64 = $row.try_get(0)?;
                out.push((id, $body));
            }
            out
        })
    }};
}

impl Store {
    fn dialect(&self) -> Dialect {
        Dialect {
            pg: matches!(self.backend, Backend::Postgres(_)),
        }
    }

    /// Every customer's raw health figures as of each of `days` (see the module
    /// documentation): one grouped pass per table, run at once.
    pub async fn health_inputs(&self, days: &[NaiveDate]) -> Result<HealthInputs> {
        let q = self.dialect();
        let n = days.len();
        if n == 0 {
            return Ok(HealthInputs::default());
        }
        let cuts: Vec<DateTime<Utc>> = days.iter().map(|d| cut_of(*d)).collect();
        let earliest = *cuts.iter().min().unwrap_or(&cuts[0]);
        let latest = *cuts.iter().max().unwrap_or(&cuts[0]);
        let ago = |t: DateTime<Utc>, days: i64| q.time(t - chrono::Duration::days(days));
        let at = |t: DateTime<Utc>| q.time(t);

        // Customers: when they began, when they ended.
        let customers_sql = format!(
            "SELECT id, {acq}, {first}, {created}, CASE WHEN status = 'ended' THEN {ended} END \
             FROM customers ORDER BY id",
            acq = q.date_day("acquired_on"),
            first = q.time_day("first_purchase_at"),
            created = q.time_day("created_at"),
            ended = q.date_day("ended_on"),
        );

        // Orders.
        let mut cols = String::new();
        for &c in &cuts {
            let _ = write!(
                cols,
                ", {last}, count(CASE WHEN occurred_at >= {y} AND occurred_at < {c} THEN 1 END), \
                 count(CASE WHEN occurred_at >= {c} AND occurred_at < {n90} THEN 1 END)",
                last = q.time_day(&format!(
                    "max(CASE WHEN occurred_at < {} THEN occurred_at END)",
                    at(c)
                )),
                y = ago(c, 365),
                c = at(c),
                n90 = q.time(c + chrono::Duration::days(90)),
            );
        }
        let orders_sql = format!(
            "SELECT customer_id{cols} FROM transactions WHERE kind = 'order' AND occurred_at < {} \
             GROUP BY customer_id",
            q.time(latest + chrono::Duration::days(90)),
        );

        // Usage.
        let mut cols = String::new();
        for &c in &cuts {
            let _ = write!(
                cols,
                ", CAST(sum(CASE WHEN occurred_at >= {r} AND occurred_at < {c} THEN value END) AS DOUBLE PRECISION), \
                 CAST(sum(CASE WHEN occurred_at >= {b} AND occurred_at < {r} THEN value END) AS DOUBLE PRECISION)",
                r = ago(c, 28),
                b = ago(c, 112),
                c = at(c),
            );
        }
        let usage_sql = format!(
            "SELECT customer_id{cols} FROM usage_events WHERE occurred_at >= {} AND occurred_at < {} \
             GROUP BY customer_id",
            ago(earliest, 112),
            at(latest),
        );

        // On SQLite, 26 conditional sums per event cost far more than the scan (every
        // aggregate is stepped for every row): each customer's events come instead as
        // one list of `day value` items, in one aggregate, summed into the windows here.
        let usage_list_sql = format!(
            "SELECT customer_id, group_concat(substr(occurred_at, 1, 10) || ' ' || value, ',') \
             FROM usage_events WHERE occurred_at >= {} AND occurred_at < {} GROUP BY customer_id",
            ago(earliest, 112),
            at(latest),
        );
        let usage_cuts: Vec<i64> = days.iter().map(|d| day_number(*d) + 1).collect();

        // Trust.
        let mut cols = String::new();
        for &c in &cuts {
            let _ = write!(
                cols,
                ", CAST(sum(CASE WHEN occurred_at < {c} THEN delta ELSE 0 END) AS BIGINT), \
                 CAST(sum(CASE WHEN occurred_at < {a} THEN delta ELSE 0 END) AS BIGINT)",
                a = ago(c, 90),
                c = at(c),
            );
        }
        let trust_sql = format!(
            "SELECT customer_id{cols} FROM trust_entries WHERE occurred_at < {} GROUP BY customer_id",
            at(latest)
        );

        // Cases.
        let mut cols = String::new();
        for &c in &cuts {
            let _ = write!(
                cols,
                ", count(CASE WHEN opened_at < {c} AND coalesce(resolved_at, closed_at, {c}) >= {c} THEN 1 END), \
                 count(CASE WHEN (resolution_due_at >= {a} AND resolution_due_at < {c} \
                     AND coalesce(resolved_at, closed_at, {c}) > resolution_due_at) \
                   OR (first_response_due_at >= {a} AND first_response_due_at < {c} \
                     AND coalesce(first_response_at, resolved_at, closed_at, {c}) > first_response_due_at) \
                   THEN 1 END)",
                a = ago(c, 90),
                c = at(c),
            );
        }
        let cases_sql = format!(
            "SELECT customer_id{cols} FROM cases WHERE opened_at < {} GROUP BY customer_id",
            at(latest)
        );

        // Feedback: the last answer's value after its time.
        let key = q.time_key("answered_at");
        let mut cols = String::new();
        for &c in &cuts {
            let _ = write!(
                cols,
                ", max(CASE WHEN answered_at < {c} AND nps IS NOT NULL THEN {key} || '|' || CAST(nps AS TEXT) END), \
                 max(CASE WHEN answered_at < {c} AND csat IS NOT NULL THEN {key} || '|' || CAST(csat AS TEXT) END)",
                c = at(c),
            );
        }
        let feedback_sql = format!(
            "SELECT customer_id{cols} FROM feedback WHERE customer_id IS NOT NULL AND answered_at < {} \
             GROUP BY customer_id",
            at(latest)
        );

        // Proactive contacts that are not sales.
        let mut cols = String::new();
        for &c in &cuts {
            let _ = write!(
                cols,
                ", {}",
                q.time_day(&format!(
                    "max(CASE WHEN occurred_at < {} THEN occurred_at END)",
                    at(c)
                ))
            );
        }
        let contacts_sql = format!(
            "SELECT customer_id{cols} FROM interactions WHERE proactive = true \
             AND (purpose IS NULL OR purpose NOT IN ('sales', 'renewal')) AND occurred_at < {} \
             GROUP BY customer_id",
            at(latest)
        );

        // Onboarding tasks.
        let mut cols = String::new();
        for (&d, &c) in days.iter().zip(&cuts) {
            let _ = write!(
                cols,
                ", count(CASE WHEN o.started_on <= {d} AND t.due_on <= {d} THEN 1 END), \
                 count(CASE WHEN o.started_on <= {d} AND t.due_on <= {d} AND t.done_at < {c} THEN 1 END)",
                d = q.date(d),
                c = at(c),
            );
        }
        let onboarding_sql = format!(
            "SELECT o.customer_id{cols} FROM onboarding_tasks t JOIN onboardings o ON o.id = t.onboarding_id \
             WHERE o.status <> 'cancelled' GROUP BY o.customer_id"
        );

        // Goals at risk.
        let mut cols = String::new();
        for &d in days {
            let _ = write!(
                cols,
                ", count(CASE WHEN agreed_on <= {d} AND (due_on IS NULL OR due_on >= {d}) THEN 1 END)",
                d = q.date(d),
            );
        }
        let goals_sql = format!(
            "SELECT customer_id{cols} FROM goals WHERE status = 'at_risk' GROUP BY customer_id"
        );

        let customers = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, customers_sql, |r| {
                let days: [Option<i64>; 3] = [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?];
                let ended: Option<i64> = r.try_get(4)?;
                (days.into_iter().flatten().min(), ended)
            }))
        };
        let orders = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, orders_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let last: Option<i64> = r.try_get(1 + 3 * k)?;
                    let f: i64 = r.try_get(2 + 3 * k)?;
                    let o: i64 = r.try_get(3 + 3 * k)?;
                    v.push((last, f, o));
                }
                v
            }))
        };
        let usage = async {
            if q.pg {
                Ok::<_, crate::StoreError>(fetch_pass!(self, usage_sql, |r| {
                    let mut v = Vec::with_capacity(n);
                    for k in 0..n {
                        let a: Option<f64> = r.try_get(1 + 2 * k)?;
                        let b: Option<f64> = r.try_get(2 + 2 * k)?;
                        v.push((a, b));
                    }
                    v
                }))
            } else {
                Ok(fetch_pass!(self, usage_list_sql, |r| {
                    let list: Option<String> = r.try_get(1)?;
                    usage_windows(list.as_deref().unwrap_or(""), &usage_cuts)
                }))
            }
        };
        let trust = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, trust_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let a: Option<i64> = r.try_get(1 + 2 * k)?;
                    let b: Option<i64> = r.try_get(2 + 2 * k)?;
                    v.push((a.unwrap_or(0), b.unwrap_or(0)));
                }
                v
            }))
        };
        let cases = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, cases_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let a: i64 = r.try_get(1 + 2 * k)?;
                    let b: i64 = r.try_get(2 + 2 * k)?;
                    v.push((a, b));
                }
                v
            }))
        };
        let feedback = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, feedback_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let a: Option<String> = r.try_get(1 + 2 * k)?;
                    let b: Option<String> = r.try_get(2 + 2 * k)?;
                    v.push((after_bar(a), after_bar(b)));
                }
                v
            }))
        };
        let contacts = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, contacts_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let a: Option<i64> = r.try_get(1 + k)?;
                    v.push(a);
                }
                v
            }))
        };
        let onboarding = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, onboarding_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let a: i64 = r.try_get(1 + 2 * k)?;
                    let b: i64 = r.try_get(2 + 2 * k)?;
                    v.push((a, b));
                }
                v
            }))
        };
        let goals = async {
            Ok::<_, crate::StoreError>(fetch_pass!(self, goals_sql, |r| {
                let mut v = Vec::with_capacity(n);
                for k in 0..n {
                    let a: i64 = r.try_get(1 + k)?;
                    v.push(a);
                }
                v
            }))
        };
        // The three large passes first and together; the small ones after.
        let (customers, orders, usage) = tokio::try_join!(customers, orders, usage)?;
        let (trust, cases, feedback, contacts, onboarding, goals) =
            tokio::try_join!(trust, cases, feedback, contacts, onboarding, goals)?;

        let customers: Vec<HealthCustomer> = customers
            .into_iter()
            .map(|(id, (began, ended))| HealthCustomer {
                id,
                began: began.map(from_day_number),
                ended_on: ended.map(from_day_number),
            })
            .collect();
        let index: HashMap<i64, usize> = customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i))
            .collect();
        let mut figures = vec![vec![HealthFigures::default(); customers.len()]; n];
        let mut each = |id: i64, f: &mut dyn FnMut(usize, &mut HealthFigures)| {
            if let Some(&i) = index.get(&id) {
                for (k, day) in figures.iter_mut().enumerate() {
                    f(k, &mut day[i]);
                }
            }
        };
        for (id, v) in orders {
            each(id, &mut |k, f| {
                f.last_order = v[k].0.map(from_day_number);
                f.orders_365 = v[k].1;
                f.orders_next_90 = v[k].2;
            });
        }
        for (id, v) in usage {
            each(id, &mut |k, f| {
                f.usage_recent = v[k].0;
                f.usage_baseline = v[k].1;
            });
        }
        for (id, v) in trust {
            each(id, &mut |k, f| {
                f.trust_balance = v[k].0;
                f.trust_balance_90_ago = v[k].1;
            });
        }
        for (id, v) in cases {
            each(id, &mut |k, f| {
                f.open_cases = v[k].0;
                f.breached_cases_90 = v[k].1;
            });
        }
        for (id, v) in feedback {
            each(id, &mut |k, f| {
                f.last_nps = v[k].0;
                f.last_csat = v[k].1;
            });
        }
        for (id, v) in contacts {
            each(id, &mut |k, f| f.last_proactive = v[k].map(from_day_number));
        }
        for (id, v) in onboarding {
            each(id, &mut |k, f| {
                f.tasks_due = v[k].0;
                f.tasks_done = v[k].1;
            });
        }
        for (id, v) in goals {
            each(id, &mut |k, f| f.goals_at_risk = v[k]);
        }
        Ok(HealthInputs {
            days: days.to_vec(),
            customers,
            figures,
        })
    }

    /// `(customer id, p_alive, tier)` of every score of a model run.
    pub async fn run_p_alive(&self, run_id: i64) -> Result<Vec<(i64, f64, String)>> {
        with_pool!(self, pool => {
            Ok(sqlx::query_as(
                "SELECT customer_id, p_alive, tier FROM customer_scores WHERE run_id = $1",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// The newest health model's id, without its details: one step of the primary
    /// key.
    pub async fn latest_health_model_id(&self) -> Result<Option<i64>> {
        let id: Option<i64> = with_pool!(self, pool =>
            sqlx::query_scalar("SELECT max(id) FROM health_models").fetch_one(pool).await?);
        Ok(id)
    }

    /// The newest health model.
    pub async fn latest_health_model(&self) -> Result<Option<HealthModel>> {
        Ok(self.health_models(1).await?.into_iter().next())
    }

    /// One health model by id.
    pub async fn health_model(&self, id: i64) -> Result<Option<HealthModel>> {
        let sql = "SELECT id, fitted_at, as_of, method, events, rows, CAST(details AS TEXT) \
                   FROM health_models WHERE id = $1";
        let row = with_pool!(self, pool => {
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            match row {
                Some(r) => Some(model_of(&r)?),
                None => None,
            }
        });
        Ok(row)
    }

    /// Health models, newest first, at most `limit`.
    pub async fn health_models(&self, limit: u32) -> Result<Vec<HealthModel>> {
        let sql = "SELECT id, fitted_at, as_of, method, events, rows, CAST(details AS TEXT) \
                   FROM health_models ORDER BY id DESC LIMIT $1";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(i64::from(limit)).fetch_all(pool).await?;
            rows.iter().map(model_of).collect()
        })
    }

    /// [`Store::customer_health`] of the customer with this external id: `None` when
    /// there is no such customer, `Some(None)` when they have no score yet. On
    /// PostgreSQL the customer, the newest score and the 180 days of history are one
    /// statement (three before).
    pub async fn customer_health_of(
        &self,
        external_id: &str,
    ) -> Result<Option<Option<StoredHealth>>> {
        let pool = match &self.backend {
            Backend::Postgres(pool) => pool,
            Backend::Sqlite(_) => {
                let ids = self
                    .existing_ids(&kanta_domain::schema::CUSTOMERS, &[external_id.to_string()])
                    .await?;
                return match ids.get(external_id) {
                    Some(&id) => Ok(Some(self.customer_health(id).await?)),
                    None => Ok(None),
                };
            }
        };
        let sql = "SELECT c.id, h.day, h.model_id, CAST(h.score AS BIGINT), h.probability, h.logit, \
                   CAST(h.factors AS TEXT), CAST(c.health_change_30 AS BIGINT), y.days, y.scores \
                   FROM customers c \
                   LEFT JOIN LATERAL (SELECT * FROM health_scores h WHERE h.customer_id = c.id \
                     ORDER BY h.day DESC LIMIT 1) h ON true \
                   LEFT JOIN LATERAL (SELECT array_agg(y.day ORDER BY y.day) AS days, \
                     array_agg(CAST(y.score AS BIGINT) ORDER BY y.day) AS scores FROM health_scores y \
                     WHERE y.customer_id = c.id AND y.day >= h.day - 180) y ON true \
                   WHERE c.external_id = $1";
        let Some(r) = sqlx::query(sql)
            .bind(external_id)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(None);
        };
        let customer_id: i64 = r.try_get(0)?;
        let Some(day) = r.try_get::<Option<NaiveDate>, _>(1)? else {
            return Ok(Some(None));
        };
        let days: Vec<NaiveDate> = r
            .try_get::<Option<Vec<NaiveDate>>, _>(8)?
            .unwrap_or_default();
        let scores: Vec<i64> = r.try_get::<Option<Vec<i64>>, _>(9)?.unwrap_or_default();
        Ok(Some(Some(StoredHealth {
            day,
            model_id: r.try_get(2)?,
            score: HealthScore {
                customer_id,
                score: r.try_get(3)?,
                probability: r.try_get(4)?,
                logit: r.try_get(5)?,
                factors: r.try_get(6)?,
            },
            change_30: r.try_get(7)?,
            history: days.into_iter().zip(scores).collect(),
        })))
    }

    /// A customer's newest health score and their history of the last 180 days (by
    /// the `(customer_id, day)` key).
    pub async fn customer_health(&self, customer_id: i64) -> Result<Option<StoredHealth>> {
        let newest = "SELECT h.day, h.model_id, CAST(h.score AS BIGINT), h.probability, h.logit, \
                      CAST(h.factors AS TEXT), CAST(c.health_change_30 AS BIGINT) FROM health_scores h \
                      JOIN customers c ON c.id = h.customer_id \
                      WHERE h.customer_id = $1 ORDER BY h.day DESC LIMIT 1";
        let history = "SELECT day, CAST(score AS BIGINT) FROM health_scores WHERE customer_id = $1 AND day >= $2 \
                       ORDER BY day";
        with_pool!(self, pool => {
            let Some(r) = sqlx::query(newest).bind(customer_id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let day: NaiveDate = r.try_get(0)?;
            let factors: String = r.try_get(5)?;
            let since = day.checked_sub_days(Days::new(180)).unwrap_or(day);
            let hist: Vec<(NaiveDate, i64)> = sqlx::query_as(history)
                .bind(customer_id)
                .bind(since)
                .fetch_all(pool)
                .await?;
            Ok(Some(StoredHealth {
                day,
                model_id: r.try_get(1)?,
                score: HealthScore {
                    customer_id,
                    score: r.try_get(2)?,
                    probability: r.try_get(3)?,
                    logit: r.try_get(4)?,
                    factors,
                },
                change_30: r.try_get(6)?,
                history: hist,
            }))
        })
    }
}

fn model_of<R: Row>(r: &R) -> Result<HealthModel>
where
    usize: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> NaiveDate: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> DateTime<Utc>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let details: String = r.try_get(6)?;
    Ok(HealthModel {
        id: r.try_get(0)?,
        fitted_at: r.try_get(1)?,
        as_of: r.try_get(2)?,
        method: r.try_get(3)?,
        events: r.try_get(4)?,
        rows: r.try_get(5)?,
        details: serde_json::from_str(&details).map_err(json_err)?,
    })
}

impl Writer {
    /// Records a health model in this writer's transaction; returns its id.
    pub async fn insert_health_model(&mut self, m: &NewHealthModel) -> Result<i64> {
        let details = m.details.to_string();
        let now = Utc::now();
        let id =
            match &mut self.tx {
                DbTx::Sqlite(tx) => sqlx::query_scalar::<Sqlite, i64>(
                    "INSERT INTO health_models (fitted_at, as_of, method, events, rows, details) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(kanta_domain::value::format_time(&now))
                .bind(m.as_of)
                .bind(&m.method)
                .bind(m.events)
                .bind(m.rows)
                .bind(details)
                .fetch_one(&mut **tx)
                .await?,
                DbTx::Postgres(tx) => sqlx::query_scalar::<Postgres, i64>(
                    "INSERT INTO health_models (fitted_at, as_of, method, events, rows, details) \
                 VALUES ($1, $2, $3, $4, $5, CAST($6 AS JSONB)) RETURNING id",
                )
                .bind(now)
                .bind(m.as_of)
                .bind(&m.method)
                .bind(m.events)
                .bind(m.rows)
                .bind(details)
                .fetch_one(&mut **tx)
                .await?,
            };
        self.mark_written();
        Ok(id)
    }

    /// Saves the scores of `day` by model `model_id` (see the module documentation):
    /// upserted per customer and day, the previous day's factors emptied, history older
    /// than [`HISTORY_DAYS`] pruned, and the customers' health columns set. Returns the
    /// rows written.
    pub async fn save_health_scores(
        &mut self,
        model_id: i64,
        day: NaiveDate,
        scores: &[HealthScore],
    ) -> Result<u64> {
        let mut written = 0;
        for chunk in scores.chunks(CHUNK_ROWS) {
            written += match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let mut json = String::with_capacity(chunk.len() * 400);
                    json.push('[');
                    for (i, s) in chunk.iter().enumerate() {
                        if i > 0 {
                            json.push(',');
                        }
                        let _ = write!(
                            json,
                            "[{},{},{},{},{}]",
                            s.customer_id,
                            s.score,
                            finite(s.probability),
                            finite(s.logit),
                            s.factors
                        );
                    }
                    json.push(']');
                    sqlx::query::<Sqlite>(
                        "INSERT INTO health_scores (customer_id, day, model_id, score, probability, logit, factors) \
                         SELECT value->>0, $2, $3, value->>1, value->>2, value->>3, value->>4 \
                         FROM json_each($1) WHERE true \
                         ON CONFLICT (customer_id, day) DO UPDATE SET model_id = excluded.model_id, \
                         score = excluded.score, probability = excluded.probability, \
                         logit = excluded.logit, factors = excluded.factors \
                         WHERE health_scores.model_id IS NOT excluded.model_id \
                         OR health_scores.score IS NOT excluded.score \
                         OR health_scores.probability IS NOT excluded.probability \
                         OR health_scores.logit IS NOT excluded.logit \
                         OR health_scores.factors IS NOT excluded.factors",
                    )
                    .bind(json)
                    .bind(day)
                    .bind(model_id)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                }
                DbTx::Postgres(tx) => sqlx::query::<Postgres>(
                    "INSERT INTO health_scores (customer_id, day, model_id, score, probability, logit, factors) \
                     SELECT c, $6, $7, s, p, l, CAST(f AS JSONB) \
                     FROM UNNEST($1::int8[], $2::int4[], $3::float8[], $4::float8[], $5::text[]) AS a(c, s, p, l, f) \
                     ON CONFLICT (customer_id, day) DO UPDATE SET model_id = excluded.model_id, \
                     score = excluded.score, probability = excluded.probability, \
                     logit = excluded.logit, factors = excluded.factors \
                     WHERE (health_scores.model_id, health_scores.score, health_scores.probability, \
                     health_scores.logit, health_scores.factors) IS DISTINCT FROM \
                     (excluded.model_id, excluded.score, excluded.probability, excluded.logit, excluded.factors)",
                )
                .bind(chunk.iter().map(|s| s.customer_id).collect::<Vec<i64>>())
                .bind(chunk.iter().map(|s| s.score as i32).collect::<Vec<i32>>())
                .bind(chunk.iter().map(|s| finite(s.probability)).collect::<Vec<f64>>())
                .bind(chunk.iter().map(|s| finite(s.logit)).collect::<Vec<f64>>())
                .bind(chunk.iter().map(|s| s.factors.as_str()).collect::<Vec<&str>>())
                .bind(day)
                .bind(model_id)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            };
        }
        let keep_from = day.checked_sub_days(Days::new(HISTORY_DAYS)).unwrap_or(day);
        let d30 = day.checked_sub_days(Days::new(30)).unwrap_or(day);
        let d45 = day.checked_sub_days(Days::new(45)).unwrap_or(day);
        // History keeps scores; only the newest day's factors are explained. Rows are
        // only rewritten when their values change: on PostgreSQL every rewritten
        // `customers` row touches all of the table's indexes, and most customers' scores
        // stay the same from one day to the next.
        let strip = "UPDATE health_scores SET factors = '[]' WHERE day = \
                     (SELECT max(day) FROM health_scores WHERE day < $1) AND factors <> '[]'";
        let prune = "DELETE FROM health_scores WHERE day < $1";
        let distinct = if matches!(self.tx, DbTx::Postgres(_)) {
            "IS DISTINCT FROM"
        } else {
            "IS NOT"
        };
        let customers = format!(
            "UPDATE customers SET health_score = n.score, health_probability = n.probability, \
             health_change_30 = n.change FROM (SELECT t.customer_id, t.score, t.probability, \
                 t.score - (SELECT o.score FROM health_scores o \
                 WHERE o.customer_id = t.customer_id AND o.day <= $2 AND o.day >= $3 \
                 ORDER BY o.day DESC LIMIT 1) AS change \
             FROM health_scores t WHERE t.day = $1) n WHERE customers.id = n.customer_id \
             AND (customers.health_score {distinct} n.score \
             OR customers.health_probability {distinct} n.probability \
             OR customers.health_change_30 {distinct} n.change)"
        );
        match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query::<Sqlite>(strip)
                    .bind(day)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query::<Sqlite>(prune)
                    .bind(keep_from)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query::<Sqlite>(AssertSqlSafe(customers))
                    .bind(day)
                    .bind(d30)
                    .bind(d45)
                    .execute(&mut **tx)
                    .await?;
            }
            DbTx::Postgres(tx) => {
                sqlx::query::<Postgres>(strip)
                    .bind(day)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query::<Postgres>(prune)
                    .bind(keep_from)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query::<Postgres>(AssertSqlSafe(customers))
                    .bind(day)
                    .bind(d30)
                    .bind(d45)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        self.mark_written();
        Ok(written)
    }
}

/// A number JSON and the columns can hold.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

impl Store {
    /// Whether any customer is stored (the daily health job has nothing to score
    /// without).
    pub async fn has_customers(&self) -> Result<bool> {
        Ok(
            with_pool!(self, pool => sqlx::query("SELECT 1 FROM customers LIMIT 1")
            .fetch_optional(pool)
            .await?
            .is_some()),
        )
    }
}

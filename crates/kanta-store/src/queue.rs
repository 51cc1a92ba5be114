//! The daily contact queue's data (migration 0012): what each customer's reasons to be
//! contacted are made of, the queue rows the core computes from them, the actions
//! taken from a row (contacted, snoozed, dismissed), and the queue as pages read it.
//!
//! # Reading the facts
//!
//! [`Store::queue_facts`] reads, for every active customer (or a given set of internal
//! ids) as of one day, the raw facts of every reason in one grouped pass per table,
//! the passes run at once: the customer row (tier, owner, when they began, the health
//! columns, the newest model run's score), the nearest renewal of a contract (a
//! quarterly or yearly subscription not ended, by the one renewal rule of
//! `kanta_domain::subscription`; monthly and weekly ones are left out), the last proactive
//! contact that is not sales (index `(customer_id, proactive, occurred_at)`), the
//! detractor answers of the last 30 days with no interaction since (with what the
//! customer wrote), the trust balance
//! when in deficit, open cases escalated or past (or near) an SLA target, stalled
//! onboarding tasks (the partial index of open tasks by due day), goals at risk or
//! due soon, the usage per customer and metric summed by week over the last 16 weeks
//! (week 0 the newest; a grouped inner pass by week, then one row per customer and
//! metric with the recent and baseline sums and the baseline's sum of squares, which
//! the core's rate test needs), and the recent queue actions (snoozes, dismissals,
//! contacts). Nothing is asked per customer.
//!
//! # Writing the queue
//!
//! [`Writer::replace_queue`] brings the rows of a set of customers (or all) to the
//! computed ones in the caller's write transaction, writing only what changed, so that
//! refreshing an unchanged queue leaves no dead rows behind on PostgreSQL: customers
//! acted on since the facts were read are left out (a contact logged meanwhile is not
//! undone by a refresh that read before it); the set's customers who left the queue
//! are deleted (by id, 10,000 a statement); then one upsert per 10,000 rows (JSON
//! through `json_each` on SQLite, arrays through `UNNEST` on PostgreSQL) inserts new
//! rows and updates rows whose values differ (`ON CONFLICT (customer_id) DO UPDATE ...
//! WHERE` a column is distinct; unchanged rows are skipped before the insert, and are
//! not written: their `computed_at` stays the moment their values were last computed
//! as different). When the whole queue was last refreshed is its audit entry's time
//! ([`Store::last_queue_refresh`]), not a column rewritten on every row.
//! [`Writer::insert_queue_action`] records an action and removes the customer's row.
//!
//! # Customers waiting for a refresh
//!
//! A write that may change a customer's reasons adds a mark for them to
//! `queue_pending` (migration 0024, [`Writer::mark_queue_pending`]) and enqueues a
//! `queue.refresh` job unless one is waiting. The job reads the marks
//! ([`Store::queue_pending_marks`]) before the facts and deletes exactly those in its
//! write ([`Writer::clear_queue_pending`]); marks are only inserted, so writes never
//! wait for each other there, and a customer marked again meanwhile stays marked.
//!
//! # Reading the queue
//!
//! [`Store::queue_page`] walks `contact_queue` in the order of its indexes
//! (`value_at_risk_minor DESC, customer_id`, or with the owner first), a keyset page
//! at a time, joined to the customer and the owner's name; the page's two counts (rows
//! matching the filters, rows in the whole queue) are one statement, run alongside.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kanta_domain::subscription::{Period, Subscription, next_renewal};
use kanta_domain::value::format_time;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite};

use crate::jobs::NewJob;
use crate::write::DbTx;
use crate::{Backend, Result, Store, Writer, json_err, with_pool};

/// Rows per statement when writing the queue.
const CHUNK: usize = 10_000;

/// When the queue was last computed: its newest `refresh` audit entry.
///
/// Ordered by the whole of `audit_log_record_idx` (entity, record_id, id), so that the
/// plan walks that index backwards and stops at the first `refresh`, whatever the
/// planner believes of the table. Ordered by `id` alone, PostgreSQL with stale
/// statistics (autovacuum off, or not come by yet) fetched every `refresh` entry ever
/// written and sorted them: one more per refresh, every 2 s under writes. After ten
/// minutes of load that subquery took 17.8 ms, and the servers served 40% less in the
/// last minute than in the first (BENCHMARKS.md, "Issue 15: ten minutes without
/// autovacuum").
const NEWEST_REFRESH: &str = "SELECT a.at_ms FROM audit_log a WHERE a.entity = 'contact_queue' \
     AND a.record_id IS NULL AND a.action = 'refresh' \
     ORDER BY a.entity DESC, a.record_id DESC, a.id DESC LIMIT 1";

/// Weeks of usage read: the recent ones and the baseline before them.
pub const USAGE_WEEKS: i64 = 16;

/// What the facts are read as of, and the thresholds the SQL needs.
#[derive(Debug, Clone, PartialEq)]
pub struct FactsQuery {
    /// The day (the store's): facts up to its end.
    pub as_of: NaiveDate,
    /// The moment cases' SLA targets are compared with (now, for today).
    pub now: DateTime<Utc>,
    /// Minutes before a target that count as "due soon" (`sla_warn_hours`).
    pub sla_warn_minutes: i64,
    /// Days a task may be overdue before it is stalled (`onboarding_stall_days`).
    pub stall_days: i64,
    /// Goals on track due within this many days (14).
    pub goal_days: i64,
    /// Detractor answers of the last this many days (30).
    pub detractor_days: i64,
    /// The highest NPS answer that is a detractor's (`detractor_nps_max`, 6), and the
    /// highest CSAT answer that is one when there is no NPS (`detractor_csat_max`, 2).
    pub detractor_nps_max: i64,
    pub detractor_csat_max: i64,
    /// Queue actions of the last this many days are read (90).
    pub action_days: i64,
    /// Only these customers (internal ids); `None`: every customer.
    pub customers: Option<Vec<i64>>,
}

/// One customer's usage of one metric: weekly sums over the last [`USAGE_WEEKS`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageFacts {
    pub metric: String,
    /// The sum over weeks 0..4 (the 4 newest).
    pub recent: f64,
    /// The sum over weeks 4..16 (the 12 before).
    pub baseline: f64,
    /// The sum of the squares of the baseline's weekly sums.
    pub baseline_sq: f64,
}

/// A detractor's answer with no interaction since.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetractorFacts {
    pub answered_on: NaiveDate,
    pub nps: Option<i64>,
    pub csat: Option<i64>,
    /// What the customer wrote: the answer's `do_better`, else its `comment`, else
    /// its `did_well` (the first not blank), whole; the core shortens it.
    pub text: Option<String>,
}

/// An open case that raises the `case` reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseFacts {
    /// The case's external id.
    pub id: String,
    pub category: String,
    /// Opened by an escalation of a mistake.
    pub escalation: bool,
    /// Its next target (first response while none was given, else resolution).
    pub due_at: Option<DateTime<Utc>>,
}

/// A stalled onboarding task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskFacts {
    pub title: String,
    pub due_on: NaiveDate,
}

/// A goal at risk or due soon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalFacts {
    pub id: String,
    pub title: String,
    pub status: String,
    pub due_on: Option<NaiveDate>,
}

/// An action taken from the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionFacts {
    pub action: String,
    pub until_on: Option<NaiveDate>,
    /// The reasons' keys when it was taken, comma-joined.
    pub reason_keys: String,
    pub acted_on: NaiveDate,
}

/// Everything the queue's reasons of one customer are made of.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueFacts {
    /// Internal id.
    pub id: i64,
    pub tier: Option<String>,
    /// The owner's internal staff id.
    pub owner_id: Option<i64>,
    /// `acquired_on`, else the first purchase's day, else the day the record was made.
    pub began: Option<NaiveDate>,
    /// The nearest renewal of a contract: a quarterly or yearly subscription not
    /// ended (a monthly or weekly one renews all the time and is no reason to call).
    pub next_renewal_on: Option<NaiveDate>,
    pub health_probability: Option<f64>,
    pub health_change_30: Option<i64>,
    /// The newest model run's score of the customer.
    pub p_alive: Option<f64>,
    pub repeat_purchases: Option<i64>,
    pub clv_12_minor: Option<i64>,
    /// The day of the last proactive contact that is not sales or renewal.
    pub last_proactive: Option<NaiveDate>,
    pub detractor: Option<DetractorFacts>,
    /// The trust balance, when below zero.
    pub trust_deficit: Option<i64>,
    pub cases: Vec<CaseFacts>,
    pub stalled: Vec<TaskFacts>,
    pub goals: Vec<GoalFacts>,
    pub usage: Vec<UsageFacts>,
    pub actions: Vec<ActionFacts>,
    /// "Let lapse" (`customers.let_lapse`): no cadence and no proactive reminders.
    pub let_lapse: bool,
}

/// Every customer's facts, and the newest model run's currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AllFacts {
    pub customers: Vec<QueueFacts>,
    /// The newest model run's currency (its CLVs are in it).
    pub run_currency: Option<String>,
}

/// One row of the queue as the core computed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRow {
    /// Internal ids.
    pub customer_id: i64,
    pub owner_id: Option<i64>,
    pub tier: Option<String>,
    pub value_at_risk_minor: i64,
    pub currency: Option<String>,
    pub churn_probability: f64,
    /// `[{"key": .., "args": {..}}, ..]`.
    pub reasons: serde_json::Value,
    pub reason_keys: String,
}

/// What [`Writer::replace_queue`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueWrite {
    /// Rows of the scope in the queue afterwards.
    pub queued: u64,
    /// Rows inserted or changed (unchanged rows are not written).
    pub changed: u64,
    /// Rows deleted: customers of the scope who left the queue.
    pub removed: u64,
}

/// An action to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewQueueAction {
    /// Internal id.
    pub customer_id: i64,
    /// `contacted`, `snoozed` or `dismissed`.
    pub action: String,
    pub until_on: Option<NaiveDate>,
    pub reason: Option<String>,
    pub reason_keys: String,
    /// The interaction logged (its external id), for a contact.
    pub interaction: Option<String>,
    pub user_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// Which rows of the queue a page shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueQuery {
    /// Only customers of this owner (internal staff id).
    pub owner_id: Option<i64>,
    /// Only rows with this reason key.
    pub reason: Option<String>,
    pub tier: Option<String>,
    /// After this row (value at risk, internal customer id).
    pub after: Option<(i64, i64)>,
    pub limit: u32,
}

/// One row of the queue as pages show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItem {
    /// Internal id (the keyset's).
    #[serde(skip)]
    pub key: i64,
    /// The customer's external id.
    pub customer_id: String,
    pub name: Option<String>,
    pub segment: Option<String>,
    pub tier: Option<String>,
    /// The owner's external staff id and name.
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub value_at_risk_minor: i64,
    pub currency: Option<String>,
    pub churn_probability: f64,
    pub health_score: Option<i64>,
    pub reasons: serde_json::Value,
    pub reason_keys: String,
    pub computed_at: DateTime<Utc>,
}

/// A queue row as the page and the one-customer read select it: internal id, external
/// id, name, segment, tier, owner id and name, value at risk, currency, churn
/// probability, health score, reasons (JSON text), reason keys, computed at (text).
fn queue_item_of<R: Row>(r: &R) -> Result<QueueItem>
where
    usize: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> f64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
{
    let reasons: String = r.try_get(11)?;
    let computed: String = r.try_get(13)?;
    Ok(QueueItem {
        key: r.try_get(0)?,
        customer_id: r.try_get(1)?,
        name: r.try_get(2)?,
        segment: r.try_get(3)?,
        tier: r.try_get(4)?,
        owner_id: r.try_get(5)?,
        owner_name: r.try_get(6)?,
        value_at_risk_minor: r.try_get(7)?,
        currency: r.try_get(8)?,
        churn_probability: r.try_get(9)?,
        health_score: r.try_get(10)?,
        reasons: serde_json::from_str(&reasons).map_err(json_err)?,
        reason_keys: r.try_get(12)?,
        computed_at: DateTime::parse_from_rfc3339(&computed)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    })
}

/// A page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueItems {
    pub items: Vec<QueueItem>,
    /// Rows matching the filters, on all pages.
    pub total: i64,
    /// Rows in the whole queue.
    pub queue_total: i64,
    /// Whether another page follows.
    pub more: bool,
    /// When the whole queue was last computed ([`Store::last_queue_refresh`]).
    pub refreshed_at: Option<DateTime<Utc>>,
}

fn day(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

fn day_opt(s: Option<String>) -> Option<NaiveDate> {
    s.as_deref().and_then(day)
}

/// The start (UTC) of the day after `d`: the cut of facts as of `d`.
pub fn cut_of(d: NaiveDate) -> DateTime<Utc> {
    let next = d.succ_opt().unwrap_or(d);
    Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// SQL fragments that differ between the dialects.
#[derive(Clone, Copy)]
struct Dialect {
    pg: bool,
}

impl Dialect {
    fn time(self, t: DateTime<Utc>) -> String {
        let text = format_time(&t);
        if self.pg {
            format!("TIMESTAMPTZ '{text}'")
        } else {
            format!("'{text}'")
        }
    }

    fn date(self, d: NaiveDate) -> String {
        if self.pg {
            format!("DATE '{}'", d.format("%Y-%m-%d"))
        } else {
            format!("'{}'", d.format("%Y-%m-%d"))
        }
    }

    /// The UTC day of a time expression as `YYYY-MM-DD` text.
    fn time_day(self, e: &str) -> String {
        if self.pg {
            format!("CAST(CAST(({e}) AT TIME ZONE 'UTC' AS DATE) AS TEXT)")
        } else {
            format!("substr(({e}), 1, 10)")
        }
    }

    /// A date expression as `YYYY-MM-DD` text.
    fn date_text(self, e: &str) -> String {
        if self.pg {
            format!("CAST(({e}) AS TEXT)")
        } else {
            e.to_string()
        }
    }

    /// A time expression as RFC 3339 text (UTC).
    fn time_text(self, e: &str) -> String {
        if self.pg {
            format!("to_char(({e}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
        } else {
            e.to_string()
        }
    }

    /// Whole weeks from a time expression to the moment `cut` (0: the last 7 days).
    fn week(self, e: &str, cut: DateTime<Utc>) -> String {
        if self.pg {
            format!(
                "CAST(floor(EXTRACT(EPOCH FROM ({} - ({e}))) / 604800.0) AS BIGINT)",
                self.time(cut)
            )
        } else {
            format!(
                "CAST((julianday({}) - julianday({e})) / 7.0 AS INTEGER)",
                self.time(cut)
            )
        }
    }
}

/// `AND <column> IN (ids)`, or nothing for every customer. Ids are integers, so the
/// list is written into the statement.
fn scope(column: &str, ids: &Option<Vec<i64>>) -> String {
    match ids {
        None => String::new(),
        Some(ids) if ids.is_empty() => " AND 1 = 0".into(),
        Some(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            format!(" AND {column} IN ({})", list.join(","))
        }
    }
}

/// Runs one pass: what `$body` decodes of each row.
macro_rules! fetch_rows {
    ($store:expr, $sql:expr, |$row:ident| $body:expr) => {{
        let sql: String = $sql;
        with_pool!($store, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for $row in &rows {
                out.push($body);
            }
            out
        })
    }};
}

impl Store {
    fn queue_dialect(&self) -> Dialect {
        Dialect {
            pg: matches!(self.backend, Backend::Postgres(_)),
        }
    }

    /// Every active customer's queue facts as of a day (see the module documentation).
    pub async fn queue_facts(&self, q: &FactsQuery) -> Result<AllFacts> {
        let d = self.queue_dialect();
        let cut = cut_of(q.as_of);
        let run: Option<(i64, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, currency FROM model_runs ORDER BY id DESC LIMIT 1")
                .fetch_optional(pool)
                .await?
        });
        let run_id = run.as_ref().map_or(-1, |r| r.0);

        let customers_sql = format!(
            "SELECT c.id, c.tier, c.owner_id, {acq}, {first}, {created}, \
             CAST(c.health_probability AS DOUBLE PRECISION), CAST(c.health_change_30 AS BIGINT), \
             CAST(s.p_alive AS DOUBLE PRECISION), CAST(s.repeat_purchases AS BIGINT), \
             CAST(s.clv_12_minor AS BIGINT), c.let_lapse \
             FROM customers c LEFT JOIN customer_scores s ON s.customer_id = c.id AND s.run_id = {run_id} \
             WHERE c.status = 'active'{scope} ORDER BY c.id",
            acq = d.date_text("c.acquired_on"),
            first = d.time_day("c.first_purchase_at"),
            created = d.time_day("c.created_at"),
            scope = scope("c.id", &q.customers),
        );
        // Contract renewals only: a monthly or weekly subscription renews all the time.
        let renewals_sql = format!(
            "SELECT customer_id, period, {started}, {ended}, {renews} FROM subscriptions \
             WHERE period IN ('quarter', 'year') AND (ended_on IS NULL OR ended_on > {day}){scope}",
            started = d.date_text("started_on"),
            ended = d.date_text("ended_on"),
            renews = d.date_text("renews_on"),
            day = d.date(q.as_of),
            scope = scope("customer_id", &q.customers),
        );
        let contacts_sql = format!(
            "SELECT customer_id, {last} FROM interactions WHERE proactive = true \
             AND (purpose IS NULL OR purpose NOT IN ('sales', 'renewal')) AND occurred_at < {cut}{scope} \
             GROUP BY customer_id",
            last = d.time_day("max(occurred_at)"),
            cut = d.time(cut),
            scope = scope("customer_id", &q.customers),
        );
        let detractors_sql = format!(
            "SELECT f.customer_id, {answered}, CAST(f.nps AS BIGINT), CAST(f.csat AS BIGINT), \
             COALESCE(NULLIF(TRIM(f.do_better), ''), NULLIF(TRIM(f.comment), ''), NULLIF(TRIM(f.did_well), '')) \
             FROM feedback f \
             WHERE f.customer_id IS NOT NULL AND f.answered_at >= {from} AND f.answered_at < {cut} \
             AND (f.nps <= {nps_max} OR (f.nps IS NULL AND f.csat <= {csat_max})){scope} \
             AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.customer_id = f.customer_id \
                 AND i.occurred_at > f.answered_at AND i.occurred_at < {cut}) \
             ORDER BY f.answered_at",
            answered = d.time_day("f.answered_at"),
            from = d.time(cut - Duration::days(q.detractor_days)),
            nps_max = q.detractor_nps_max,
            csat_max = q.detractor_csat_max,
            cut = d.time(cut),
            scope = scope("f.customer_id", &q.customers),
        );
        let trust_sql = format!(
            "SELECT customer_id, CAST(sum(delta) AS BIGINT) FROM trust_entries \
             WHERE occurred_at < {cut}{scope} GROUP BY customer_id HAVING sum(delta) < 0",
            cut = d.time(cut),
            scope = scope("customer_id", &q.customers),
        );
        let warn = q.now + Duration::minutes(q.sla_warn_minutes);
        let next_due = "CASE WHEN first_response_at IS NULL AND first_response_due_at IS NOT NULL \
                        THEN first_response_due_at ELSE resolution_due_at END";
        let cases_sql = format!(
            "SELECT customer_id, external_id, category, \
             CAST(CASE WHEN escalation_of IS NULL THEN 0 ELSE 1 END AS BIGINT), {due} FROM cases \
             WHERE status IN ('open', 'in_progress', 'waiting') AND opened_at < {cut}{scope} \
             AND (escalation_of IS NOT NULL OR ({next_due}) <= {warn}) ORDER BY opened_at",
            due = d.time_text(next_due),
            cut = d.time(cut),
            warn = d.time(warn),
            scope = scope("customer_id", &q.customers),
        );
        let stalled_before = q.as_of - Duration::days(q.stall_days);
        let tasks_sql = format!(
            "SELECT o.customer_id, s.title, {due} FROM onboarding_tasks t \
             JOIN onboardings o ON o.id = t.onboarding_id JOIN onboarding_steps s ON s.id = t.step_id \
             WHERE t.done_at IS NULL AND t.due_on < {before} AND o.status = 'active'{scope} \
             ORDER BY t.due_on",
            due = d.date_text("t.due_on"),
            before = d.date(stalled_before),
            scope = scope("o.customer_id", &q.customers),
        );
        let goals_sql = format!(
            "SELECT customer_id, external_id, title, status, {due} FROM goals \
             WHERE (status = 'at_risk' OR (status = 'on_track' AND due_on <= {soon})){scope} \
             ORDER BY due_on",
            due = d.date_text("due_on"),
            soon = d.date(q.as_of + Duration::days(q.goal_days)),
            scope = scope("customer_id", &q.customers),
        );
        let week = d.week("occurred_at", cut);
        let usage_sql = format!(
            "SELECT customer_id, metric, \
             CAST(sum(CASE WHEN wk < 4 THEN s ELSE 0 END) AS DOUBLE PRECISION), \
             CAST(sum(CASE WHEN wk >= 4 THEN s ELSE 0 END) AS DOUBLE PRECISION), \
             CAST(sum(CASE WHEN wk >= 4 THEN s * s ELSE 0 END) AS DOUBLE PRECISION) \
             FROM (SELECT customer_id, metric, {week} AS wk, sum(value) AS s FROM usage_events \
                   WHERE occurred_at >= {from} AND occurred_at < {cut}{scope} \
                   GROUP BY customer_id, metric, {week}) w \
             GROUP BY customer_id, metric",
            from = d.time(cut - Duration::days(7 * USAGE_WEEKS)),
            cut = d.time(cut),
            scope = scope("customer_id", &q.customers),
        );
        let actions_sql = format!(
            "SELECT customer_id, action, {until}, reason_keys, {acted} FROM queue_actions \
             WHERE acted_at >= {from}{scope} ORDER BY acted_at",
            until = d.date_text("until_on"),
            acted = d.time_day("acted_at"),
            from = d.time(cut - Duration::days(q.action_days + 1)),
            scope = scope("customer_id", &q.customers),
        );

        let customers = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, customers_sql, |r| {
                let began = [
                    day_opt(r.try_get(3)?),
                    day_opt(r.try_get(4)?),
                    day_opt(r.try_get(5)?),
                ]
                .into_iter()
                .flatten()
                .min();
                QueueFacts {
                    id: r.try_get(0)?,
                    tier: r.try_get(1)?,
                    owner_id: r.try_get(2)?,
                    began,
                    health_probability: r.try_get(6)?,
                    health_change_30: r.try_get(7)?,
                    p_alive: r.try_get(8)?,
                    repeat_purchases: r.try_get(9)?,
                    clv_12_minor: r.try_get(10)?,
                    let_lapse: r.try_get(11)?,
                    ..QueueFacts::default()
                }
            }))
        };
        let renewals = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, renewals_sql, |r| {
                let id: i64 = r.try_get(0)?;
                let period: String = r.try_get(1)?;
                let started: Option<String> = r.try_get(2)?;
                let sub = match (Period::parse(&period), day_opt(started)) {
                    (Some(period), Some(started_on)) => Some(Subscription {
                        plan: String::new(),
                        amount_minor: 0,
                        period,
                        started_on,
                        ended_on: day_opt(r.try_get(3)?),
                        renews_on: day_opt(r.try_get(4)?),
                    }),
                    _ => None,
                };
                (id, sub.and_then(|s| next_renewal(&s, q.as_of)))
            }))
        };
        let contacts = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, contacts_sql, |r| {
                let id: i64 = r.try_get(0)?;
                (id, day_opt(r.try_get(1)?))
            }))
        };
        let detractors = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, detractors_sql, |r| {
                let id: i64 = r.try_get(0)?;
                let answered: Option<String> = r.try_get(1)?;
                (
                    id,
                    DetractorFacts {
                        answered_on: day_opt(answered).unwrap_or(q.as_of),
                        nps: r.try_get(2)?,
                        csat: r.try_get(3)?,
                        text: r.try_get(4)?,
                    },
                )
            }))
        };
        let trust = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, trust_sql, |r| {
                let id: i64 = r.try_get(0)?;
                let b: i64 = r.try_get(1)?;
                (id, b)
            }))
        };
        let cases = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, cases_sql, |r| {
                let id: i64 = r.try_get(0)?;
                let esc: i64 = r.try_get(3)?;
                let due: Option<String> = r.try_get(4)?;
                (
                    id,
                    CaseFacts {
                        id: r.try_get(1)?,
                        category: r.try_get(2)?,
                        escalation: esc != 0,
                        due_at: due.and_then(|s| {
                            DateTime::parse_from_rfc3339(&s)
                                .ok()
                                .map(|t| t.with_timezone(&Utc))
                        }),
                    },
                )
            }))
        };
        let tasks = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, tasks_sql, |r| {
                let id: i64 = r.try_get(0)?;
                let due: Option<String> = r.try_get(2)?;
                (
                    id,
                    TaskFacts {
                        title: r.try_get(1)?,
                        due_on: day_opt(due).unwrap_or(q.as_of),
                    },
                )
            }))
        };
        let goals = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, goals_sql, |r| {
                let id: i64 = r.try_get(0)?;
                (
                    id,
                    GoalFacts {
                        id: r.try_get(1)?,
                        title: r.try_get(2)?,
                        status: r.try_get(3)?,
                        due_on: day_opt(r.try_get(4)?),
                    },
                )
            }))
        };
        let usage = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, usage_sql, |r| {
                let id: i64 = r.try_get(0)?;
                (
                    id,
                    UsageFacts {
                        metric: r.try_get(1)?,
                        recent: r.try_get::<Option<f64>, _>(2)?.unwrap_or(0.0),
                        baseline: r.try_get::<Option<f64>, _>(3)?.unwrap_or(0.0),
                        baseline_sq: r.try_get::<Option<f64>, _>(4)?.unwrap_or(0.0),
                    },
                )
            }))
        };
        let actions = async {
            Ok::<_, crate::StoreError>(fetch_rows!(self, actions_sql, |r| {
                let id: i64 = r.try_get(0)?;
                let acted: Option<String> = r.try_get(4)?;
                (
                    id,
                    ActionFacts {
                        action: r.try_get(1)?,
                        until_on: day_opt(r.try_get(2)?),
                        reason_keys: r.try_get(3)?,
                        acted_on: day_opt(acted).unwrap_or(q.as_of),
                    },
                )
            }))
        };
        let (customers, usage, contacts, renewals) =
            tokio::try_join!(customers, usage, contacts, renewals)?;
        let (detractors, trust, cases, tasks, goals, actions) =
            tokio::try_join!(detractors, trust, cases, tasks, goals, actions)?;

        let mut out = customers;
        let index: HashMap<i64, usize> = out.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let at = |id: i64| index.get(&id).copied();
        for (id, next) in renewals {
            if let (Some(i), Some(next)) = (at(id), next) {
                let r = &mut out[i].next_renewal_on;
                *r = Some(r.map_or(next, |m| m.min(next)));
            }
        }
        for (id, last) in contacts {
            if let Some(i) = at(id) {
                out[i].last_proactive = last;
            }
        }
        for (id, f) in detractors {
            if let Some(i) = at(id) {
                // Ordered by time: the newest wins.
                out[i].detractor = Some(f);
            }
        }
        for (id, b) in trust {
            if let Some(i) = at(id) {
                out[i].trust_deficit = Some(b);
            }
        }
        for (id, c) in cases {
            if let Some(i) = at(id) {
                out[i].cases.push(c);
            }
        }
        for (id, t) in tasks {
            if let Some(i) = at(id) {
                out[i].stalled.push(t);
            }
        }
        for (id, g) in goals {
            if let Some(i) = at(id) {
                out[i].goals.push(g);
            }
        }
        for (id, u) in usage {
            if let Some(i) = at(id) {
                out[i].usage.push(u);
            }
        }
        for (id, a) in actions {
            if let Some(i) = at(id) {
                out[i].actions.push(a);
            }
        }
        Ok(AllFacts {
            customers: out,
            run_currency: run.and_then(|r| r.1),
        })
    }

    /// The internal ids of customers by external id (those that exist).
    pub async fn customer_keys(&self, external_ids: &[String]) -> Result<Vec<(String, i64)>> {
        let mut out = Vec::new();
        for chunk in external_ids.chunks(CHUNK) {
            out.extend(
                self.existing_ids(&kanta_domain::schema::CUSTOMERS, chunk)
                    .await?,
            );
        }
        Ok(out)
    }

    /// A page of the queue (see the module documentation).
    pub async fn queue_page(&self, q: &QueueQuery) -> Result<QueueItems> {
        let d = self.queue_dialect();
        let mut cond = Vec::new();
        if let Some(o) = q.owner_id {
            cond.push(format!("q.owner_id = {o}"));
        }
        // Tiers and reason keys are plain words (the core checks them against its
        // lists); anything else matches nothing.
        let word =
            |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if let Some(t) = &q.tier {
            if word(t) {
                cond.push(format!("q.tier = '{t}'"));
            } else {
                cond.push("1 = 0".into());
            }
        }
        if let Some(r) = &q.reason {
            if word(r) {
                cond.push(format!("(',' || q.reason_keys || ',') LIKE '%,{r},%'"));
            } else {
                cond.push("1 = 0".into());
            }
        }
        let mut page_cond = cond.clone();
        if let Some((v, id)) = q.after {
            page_cond.push(format!(
                "(q.value_at_risk_minor < {v} OR (q.value_at_risk_minor = {v} AND q.customer_id > {id}))"
            ));
        }
        let page_filter = if page_cond.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", page_cond.join(" AND "))
        };
        let limit = q.limit.clamp(1, 500);
        // Both counts, and when the queue was last computed (its newest `refresh` audit
        // entry): one row, joined to each of the page's rows, so that a page is one
        // statement. PostgreSQL keeps the queue's size (`contact_queue_size`, migration
        // 0023) and counts only a filter's matches; SQLite counts both in one pass over
        // the table.
        let refreshed = format!("({NEWEST_REFRESH}) AS refreshed_ms");
        let filter = cond.join(" AND ");
        let (total, queue_n, from) = match (d.pg, cond.is_empty()) {
            (true, true) => ("s.n".into(), "s.n", "contact_queue_size s"),
            (true, false) => (
                format!("(SELECT count(*) FROM contact_queue q WHERE {filter})"),
                "s.n",
                "contact_queue_size s",
            ),
            (false, true) => ("count(*)".into(), "count(*)", "contact_queue q"),
            (false, false) => (
                format!("count(CASE WHEN {filter} THEN 1 END)"),
                "count(*)",
                "contact_queue q",
            ),
        };
        let counts =
            format!("SELECT {total} AS total_n, {queue_n} AS queue_n, {refreshed} FROM {from}");
        let sql = format!(
            "SELECT q.customer_id, c.external_id, c.name, c.segment, q.tier, s.external_id, s.name, \
             q.value_at_risk_minor, q.currency, q.churn_probability, CAST(c.health_score AS BIGINT), \
             {reasons}, q.reason_keys, {computed}, n.total_n, n.queue_n, n.refreshed_ms \
             FROM ({counts}) n CROSS JOIN contact_queue q JOIN customers c ON c.id = q.customer_id \
             LEFT JOIN staff s ON s.id = q.owner_id{page_filter} \
             ORDER BY q.value_at_risk_minor DESC, q.customer_id LIMIT {n}",
            reasons = if d.pg {
                "CAST(q.reasons AS TEXT)"
            } else {
                "q.reasons"
            },
            computed = d.time_text("q.computed_at"),
            n = limit + 1,
        );
        let (items, total, queue_total, refreshed) = with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
            let mut items = Vec::with_capacity(rows.len());
            for r in &rows {
                items.push(queue_item_of(r)?);
            }
            let (total, queue_total, refreshed): (i64, i64, Option<i64>) = match rows.first() {
                Some(r) => (r.try_get(14)?, r.try_get(15)?, r.try_get(16)?),
                // A page past the end (or of an empty queue) has no row to carry them.
                None => sqlx::query_as(AssertSqlSafe(counts)).fetch_one(pool).await?,
            };
            (items, total, queue_total, refreshed)
        });
        let mut items = items;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        Ok(QueueItems {
            items,
            total,
            queue_total,
            more,
            refreshed_at: refreshed.map(crate::from_ms),
        })
    }

    /// One customer's queue row (by external id), if they are in the queue.
    pub async fn queue_item(&self, customer: &str) -> Result<Option<QueueItem>> {
        let d = self.queue_dialect();
        let sql = format!(
            "SELECT q.customer_id, c.external_id, c.name, c.segment, q.tier, s.external_id, s.name, \
             q.value_at_risk_minor, q.currency, q.churn_probability, CAST(c.health_score AS BIGINT), \
             {reasons}, q.reason_keys, {computed} \
             FROM contact_queue q JOIN customers c ON c.id = q.customer_id \
             LEFT JOIN staff s ON s.id = q.owner_id WHERE c.external_id = $1",
            reasons = if d.pg {
                "CAST(q.reasons AS TEXT)"
            } else {
                "q.reasons"
            },
            computed = d.time_text("q.computed_at"),
        );
        with_pool!(self, pool => {
            let Some(r) = sqlx::query(AssertSqlSafe(sql)).bind(customer).fetch_optional(pool).await? else {
                return Ok(None);
            };
            Ok(Some(queue_item_of(&r)?))
        })
    }

    /// The internal id of a staff member by external id.
    pub async fn queue_staff_key(&self, external_id: &str) -> Result<Option<i64>> {
        with_pool!(self, pool => {
            Ok(sqlx::query_scalar("SELECT id FROM staff WHERE external_id = $1")
                .bind(external_id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Every mark in `queue_pending`, oldest first.
    pub async fn queue_pending_marks(&self) -> Result<Vec<PendingMark>> {
        let sql = "SELECT customer_id, mark FROM queue_pending ORDER BY mark";
        with_pool!(self, pool => {
            let rows: Vec<(i64, i64)> = sqlx::query_as(sql).fetch_all(pool).await?;
            Ok(rows
                .into_iter()
                .map(|(customer_id, mark)| PendingMark { customer_id, mark })
                .collect())
        })
    }

    /// When the whole queue was last computed (its newest `refresh` audit entry).
    pub async fn last_queue_refresh(&self) -> Result<Option<DateTime<Utc>>> {
        let ms: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(NEWEST_REFRESH).fetch_optional(pool).await?
        });
        Ok(ms.map(crate::from_ms))
    }

    /// Whether the staff member (internal id) owns any customer.
    pub async fn owns_any_customer(&self, staff: i64) -> Result<bool> {
        let sql = "SELECT id FROM customers WHERE owner_id = $1 LIMIT 1";
        let id: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(sql).bind(staff).fetch_optional(pool).await?
        });
        Ok(id.is_some())
    }

    /// The actions taken from the queue for a customer (by external id), newest first.
    pub async fn queue_actions_of(&self, customer: &str) -> Result<Vec<ActionFacts>> {
        let d = self.queue_dialect();
        let sql = format!(
            "SELECT a.action, {until}, a.reason_keys, {acted} FROM queue_actions a \
             JOIN customers c ON c.id = a.customer_id WHERE c.external_id = $1 \
             ORDER BY a.acted_at DESC, a.id DESC",
            until = d.date_text("a.until_on"),
            acted = d.time_day("a.acted_at"),
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(customer).fetch_all(pool).await?;
            let mut out = Vec::new();
            for r in &rows {
                let acted: Option<String> = r.try_get(3)?;
                out.push(ActionFacts {
                    action: r.try_get(0)?,
                    until_on: day_opt(r.try_get(1)?),
                    reason_keys: r.try_get(2)?,
                    acted_on: day_opt(acted).unwrap_or_default(),
                });
            }
            Ok(out)
        })
    }
}

/// The statement that selects the customer of each record of `table` (alias `r`; a
/// `WHERE` on `r.external_id` follows), for the tables whose records have one, and
/// the selected column.
fn customers_select(table: &str) -> Option<(String, &'static str)> {
    Some(match table {
        "cases" | "interactions" | "feedback" | "trust_entries" | "goals" => (
            format!("SELECT DISTINCT r.customer_id FROM {table} r"),
            "r.customer_id",
        ),
        "customers" => ("SELECT r.id FROM customers r".to_string(), "r.id"),
        "onboarding_tasks" => (
            "SELECT DISTINCT o.customer_id FROM onboarding_tasks r \
             JOIN onboardings o ON o.id = r.onboarding_id"
                .to_string(),
            "o.customer_id",
        ),
        _ => return None,
    })
}

/// A mark in `queue_pending` (migration 0024): a customer whose queue rows wait to be
/// recomputed, and the mark's own id (never given twice). A customer written again
/// gets another mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingMark {
    pub customer_id: i64,
    pub mark: i64,
}

impl Writer {
    /// Marks the customers of the records of `table` with these external ids as
    /// waiting for their queue rows to be recomputed (a new row of `queue_pending`
    /// each), and enqueues `job` when a customer was marked and no job of its kind
    /// without a unique key is queued yet ([`Writer::enqueue_unless_queued`]).
    /// PostgreSQL: one statement per 10,000 ids (one id, an API write's, by equality);
    /// SQLite: one per 10,000 ids and the job's. Returns how many marks were made (0
    /// when the table's records have no customer).
    ///
    /// Marks are only inserted: writes never wait for each other here, and no list
    /// grows with the writes of a window.
    pub async fn mark_queue_pending(
        &mut self,
        table: &str,
        external_ids: &[String],
        job: &NewJob,
    ) -> Result<u64> {
        let Some((from, col)) = customers_select(table) else {
            return Ok(0);
        };
        let mut marked = 0;
        match &mut self.tx {
            DbTx::Postgres(tx) => {
                for chunk in external_ids.chunks(CHUNK) {
                    // `= ANY(array)` is planned again at every execution, an equality
                    // once per connection.
                    let one = chunk.len() == 1;
                    let ids = if one {
                        "r.external_id = $1"
                    } else {
                        "r.external_id = ANY($1)"
                    };
                    let sql = format!(
                        "WITH p AS (INSERT INTO queue_pending (customer_id) \
                           {from} WHERE {ids} AND {col} IS NOT NULL RETURNING 1), \
                         j AS (INSERT INTO jobs (kind, status, payload, unique_key, run_at_ms, \
                             attempts, max_attempts, created_ms, updated_ms) \
                           SELECT $2, 'queued', CAST($3 AS JSONB), NULL, $4, 0, $5, $6, $6 \
                           WHERE EXISTS (SELECT 1 FROM p) AND NOT EXISTS (SELECT 1 FROM jobs \
                             WHERE status = 'queued' AND kind = $2 AND unique_key IS NULL)) \
                         SELECT count(*) FROM p"
                    );
                    let q = sqlx::query_scalar::<Postgres, i64>(AssertSqlSafe(sql));
                    let q = match one {
                        true => q.bind(&chunk[0]),
                        false => q.bind(chunk),
                    };
                    let n = q
                        .bind(&job.kind)
                        .bind(job.payload.to_string())
                        .bind(job.run_at.timestamp_millis())
                        .bind(job.max_attempts.max(1))
                        .bind(Utc::now().timestamp_millis())
                        .fetch_one(&mut **tx)
                        .await?;
                    marked += u64::try_from(n).unwrap_or(0);
                }
            }
            DbTx::Sqlite(tx) => {
                for chunk in external_ids.chunks(CHUNK) {
                    let json = serde_json::to_string(chunk).map_err(json_err)?;
                    marked += sqlx::query::<Sqlite>(AssertSqlSafe(format!(
                        "INSERT INTO queue_pending (customer_id) {from} \
                         WHERE r.external_id IN (SELECT value FROM json_each($1)) \
                         AND {col} IS NOT NULL"
                    )))
                    .bind(json)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                }
                if marked > 0 {
                    self.enqueue_unless_queued(job).await?;
                }
            }
        }
        Ok(marked)
    }

    /// Deletes these marks from `queue_pending` (marks made since stay); true when
    /// marks are left.
    pub async fn clear_queue_pending(&mut self, marks: &[PendingMark]) -> Result<bool> {
        for chunk in marks.chunks(CHUNK) {
            let marks: Vec<i64> = chunk.iter().map(|m| m.mark).collect();
            match &mut self.tx {
                DbTx::Postgres(tx) => {
                    sqlx::query::<Postgres>("DELETE FROM queue_pending WHERE mark = ANY($1)")
                        .bind(&marks)
                        .execute(&mut **tx)
                        .await?;
                }
                DbTx::Sqlite(tx) => {
                    sqlx::query::<Sqlite>(
                        "DELETE FROM queue_pending WHERE mark IN (SELECT value FROM json_each($1))",
                    )
                    .bind(serde_json::to_string(&marks).map_err(json_err)?)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        let left = on_tx_ids(
            &mut self.tx,
            "SELECT mark FROM queue_pending LIMIT 1".to_string(),
        )
        .await?;
        Ok(!left.is_empty())
    }

    /// Brings the queue rows of `scope` (internal customer ids; `None`: the whole
    /// queue) to `rows`, writing only what changed (see the module documentation):
    /// customers with a queue action at or after `read_at` get no row, rows whose
    /// values are the same are left alone (their `computed_at` too), changed and new
    /// ones are upserted, and the scope's customers without a row now lose theirs.
    pub async fn replace_queue(
        &mut self,
        scope: Option<&[i64]>,
        rows: &[QueueRow],
        read_at: DateTime<Utc>,
    ) -> Result<QueueWrite> {
        let now = Utc::now();
        let d = Dialect {
            pg: matches!(self.tx, DbTx::Postgres(_)),
        };
        // A contact logged (or a snooze) after the facts were read is not undone.
        let acted: HashSet<i64> = on_tx_ids(
            &mut self.tx,
            format!(
                "SELECT DISTINCT customer_id FROM queue_actions WHERE acted_at >= {}",
                d.time(read_at)
            ),
        )
        .await?
        .into_iter()
        .collect();
        let kept: Vec<&QueueRow> = rows
            .iter()
            .filter(|r| !acted.contains(&r.customer_id))
            .collect();
        let kept_ids: HashSet<i64> = kept.iter().map(|r| r.customer_id).collect();
        let candidates = match scope {
            None => on_tx_ids(&mut self.tx, "SELECT customer_id FROM contact_queue".into()).await?,
            Some(ids) => ids.to_vec(),
        };
        let stale: Vec<i64> = candidates
            .into_iter()
            .filter(|id| !kept_ids.contains(id))
            .collect();
        let mut removed = 0;
        for chunk in stale.chunks(CHUNK) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            removed += on_tx_exec(
                &mut self.tx,
                format!(
                    "DELETE FROM contact_queue WHERE customer_id IN ({})",
                    list.join(",")
                ),
            )
            .await?;
        }
        let mut changed = 0;
        for chunk in kept.chunks(CHUNK) {
            changed += match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let json: Vec<serde_json::Value> = chunk
                        .iter()
                        .map(|r| {
                            serde_json::json!([
                                r.customer_id,
                                r.owner_id,
                                r.tier,
                                r.value_at_risk_minor,
                                r.currency,
                                r.churn_probability,
                                r.reasons.to_string(),
                                r.reason_keys,
                            ])
                        })
                        .collect();
                    // `IS` / `IS NOT` are SQLite's NULL-safe comparisons. The SELECT
                    // has a WHERE, as SQLite's upsert after a SELECT needs.
                    sqlx::query::<Sqlite>(
                        "INSERT INTO contact_queue (customer_id, owner_id, tier, value_at_risk_minor, \
                         currency, churn_probability, reasons, reason_keys, computed_at) \
                         SELECT n.c, n.o, n.t, n.v, n.cur, n.p, n.r, n.k, $2 \
                         FROM (SELECT value->>0 AS c, value->>1 AS o, value->>2 AS t, value->>3 AS v, \
                               value->>4 AS cur, value->>5 AS p, value->>6 AS r, value->>7 AS k \
                               FROM json_each($1)) n \
                         WHERE NOT EXISTS (SELECT 1 FROM contact_queue q WHERE q.customer_id = n.c \
                             AND q.owner_id IS n.o AND q.tier IS n.t AND q.value_at_risk_minor IS n.v \
                             AND q.currency IS n.cur AND q.churn_probability IS n.p \
                             AND q.reasons IS n.r AND q.reason_keys IS n.k) \
                         ON CONFLICT (customer_id) DO UPDATE SET owner_id = excluded.owner_id, \
                         tier = excluded.tier, value_at_risk_minor = excluded.value_at_risk_minor, \
                         currency = excluded.currency, churn_probability = excluded.churn_probability, \
                         reasons = excluded.reasons, reason_keys = excluded.reason_keys, \
                         computed_at = excluded.computed_at \
                         WHERE contact_queue.owner_id IS NOT excluded.owner_id \
                         OR contact_queue.tier IS NOT excluded.tier \
                         OR contact_queue.value_at_risk_minor IS NOT excluded.value_at_risk_minor \
                         OR contact_queue.currency IS NOT excluded.currency \
                         OR contact_queue.churn_probability IS NOT excluded.churn_probability \
                         OR contact_queue.reasons IS NOT excluded.reasons \
                         OR contact_queue.reason_keys IS NOT excluded.reason_keys",
                    )
                    .bind(serde_json::Value::Array(json).to_string())
                    .bind(format_time(&now))
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                }
                DbTx::Postgres(tx) => {
                    let c: Vec<i64> = chunk.iter().map(|r| r.customer_id).collect();
                    let o: Vec<Option<i64>> = chunk.iter().map(|r| r.owner_id).collect();
                    let t: Vec<Option<String>> = chunk.iter().map(|r| r.tier.clone()).collect();
                    let v: Vec<i64> = chunk.iter().map(|r| r.value_at_risk_minor).collect();
                    let cur: Vec<Option<String>> =
                        chunk.iter().map(|r| r.currency.clone()).collect();
                    let p: Vec<f64> = chunk.iter().map(|r| r.churn_probability).collect();
                    let reasons: Vec<String> =
                        chunk.iter().map(|r| r.reasons.to_string()).collect();
                    let keys: Vec<String> = chunk.iter().map(|r| r.reason_keys.clone()).collect();
                    sqlx::query::<Postgres>(
                        "INSERT INTO contact_queue (customer_id, owner_id, tier, value_at_risk_minor, \
                         currency, churn_probability, reasons, reason_keys, computed_at) \
                         SELECT a.c, a.o, a.t, a.v, a.cur, a.p, a.r, a.k, $9 \
                         FROM (SELECT u.c, u.o, u.t, u.v, u.cur, u.p, CAST(u.r AS JSONB) AS r, u.k \
                               FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], \
                               $5::text[], $6::float8[], $7::text[], $8::text[]) \
                               AS u(c, o, t, v, cur, p, r, k)) a \
                         WHERE NOT EXISTS (SELECT 1 FROM contact_queue q WHERE q.customer_id = a.c \
                             AND (q.owner_id, q.tier, q.value_at_risk_minor, q.currency, \
                                  q.churn_probability, q.reasons, q.reason_keys) \
                             IS NOT DISTINCT FROM (a.o, a.t, a.v, a.cur, a.p, a.r, a.k)) \
                         ON CONFLICT (customer_id) DO UPDATE SET owner_id = EXCLUDED.owner_id, \
                         tier = EXCLUDED.tier, value_at_risk_minor = EXCLUDED.value_at_risk_minor, \
                         currency = EXCLUDED.currency, churn_probability = EXCLUDED.churn_probability, \
                         reasons = EXCLUDED.reasons, reason_keys = EXCLUDED.reason_keys, \
                         computed_at = EXCLUDED.computed_at \
                         WHERE (contact_queue.owner_id, contact_queue.tier, \
                                contact_queue.value_at_risk_minor, contact_queue.currency, \
                                contact_queue.churn_probability, contact_queue.reasons, \
                                contact_queue.reason_keys) \
                         IS DISTINCT FROM (EXCLUDED.owner_id, EXCLUDED.tier, \
                                EXCLUDED.value_at_risk_minor, EXCLUDED.currency, \
                                EXCLUDED.churn_probability, EXCLUDED.reasons, EXCLUDED.reason_keys)",
                    )
                    .bind(c)
                    .bind(o)
                    .bind(t)
                    .bind(v)
                    .bind(cur)
                    .bind(p)
                    .bind(reasons)
                    .bind(keys)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                }
            };
        }
        Ok(QueueWrite {
            queued: kept.len() as u64,
            changed,
            removed,
        })
    }

    /// Records an action taken from the queue and takes the customer's row out of it.
    /// Returns the action's id.
    pub async fn insert_queue_action(&mut self, a: &NewQueueAction) -> Result<i64> {
        let interaction = "(SELECT id FROM interactions WHERE external_id = $7)";
        let id: i64 = match &mut self.tx {
            DbTx::Sqlite(tx) => {
                let id = sqlx::query_scalar::<Sqlite, i64>(AssertSqlSafe(format!(
                    "INSERT INTO queue_actions (customer_id, action, until_on, reason, reason_keys, \
                     interaction_id, user_id, acted_at) VALUES ($1, $2, $3, $4, $5, {interaction}, $6, $8) \
                     RETURNING id"
                )))
                .bind(a.customer_id)
                .bind(&a.action)
                .bind(a.until_on.map(|d| d.format("%Y-%m-%d").to_string()))
                .bind(&a.reason)
                .bind(&a.reason_keys)
                .bind(a.user_id)
                .bind(&a.interaction)
                .bind(format_time(&a.at))
                .fetch_one(&mut **tx)
                .await?;
                sqlx::query::<Sqlite>("DELETE FROM contact_queue WHERE customer_id = $1")
                    .bind(a.customer_id)
                    .execute(&mut **tx)
                    .await?;
                id
            }
            DbTx::Postgres(tx) => {
                let id = sqlx::query_scalar::<Postgres, i64>(AssertSqlSafe(format!(
                    "INSERT INTO queue_actions (customer_id, action, until_on, reason, reason_keys, \
                     interaction_id, user_id, acted_at) VALUES ($1, $2, $3, $4, $5, {interaction}, $6, $8) \
                     RETURNING id"
                )))
                .bind(a.customer_id)
                .bind(&a.action)
                .bind(a.until_on)
                .bind(&a.reason)
                .bind(&a.reason_keys)
                .bind(a.user_id)
                .bind(&a.interaction)
                .bind(a.at)
                .fetch_one(&mut **tx)
                .await?;
                sqlx::query::<Postgres>("DELETE FROM contact_queue WHERE customer_id = $1")
                    .bind(a.customer_id)
                    .execute(&mut **tx)
                    .await?;
                id
            }
        };
        Ok(id)
    }
}

async fn on_tx_ids(tx: &mut DbTx, sql: String) -> Result<Vec<i64>> {
    Ok(match tx {
        DbTx::Sqlite(tx) => {
            sqlx::query_scalar::<Sqlite, i64>(AssertSqlSafe(sql))
                .fetch_all(&mut **tx)
                .await?
        }
        DbTx::Postgres(tx) => {
            sqlx::query_scalar::<Postgres, i64>(AssertSqlSafe(sql))
                .fetch_all(&mut **tx)
                .await?
        }
    })
}

async fn on_tx_exec(tx: &mut DbTx, sql: String) -> Result<u64> {
    Ok(match tx {
        DbTx::Sqlite(tx) => sqlx::query::<Sqlite>(AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await?
            .rows_affected(),
        DbTx::Postgres(tx) => sqlx::query::<Postgres>(AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_days() {
        assert_eq!(scope("c.id", &None), "");
        assert_eq!(scope("c.id", &Some(vec![])), " AND 1 = 0");
        assert_eq!(scope("c.id", &Some(vec![1, 2])), " AND c.id IN (1,2)");
        assert_eq!(
            day("2026-12-05T10:00:00.000Z"),
            NaiveDate::from_ymd_opt(2026, 12, 5)
        );
        assert_eq!(
            cut_of(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()).to_rfc3339(),
            "2026-12-06T00:00:00+00:00"
        );
    }
}

//! Cases (migration 0011): the cases list with its filters and keyset paging, one case
//! with its own timeline (`case_events`), what the core's rules write in a write's
//! transaction (due times, events, SLA alerts), the SLA job's scan and the SLA
//! attainment figures.
//!
//! **The list's order.** Open cases (open, in progress, waiting) are listed by their
//! next due time (the first response while none was given, then the resolution),
//! then id: what needs doing first comes first. Lists that include resolved or closed
//! cases are listed newest first (`opened_at`, id; the index `cases_opened_at_idx`).
//! The open set is read through the `(status, due, id)` indexes and its few rows
//! sorted; a page is a keyset walk either way (no `OFFSET`).
//!
//! Times are compared as stored: RFC 3339 text with milliseconds on SQLite (bound as
//! such), `timestamptz` on PostgreSQL.

use chrono::{DateTime, Utc};
use kanta_domain::value::format_time;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite};

use crate::write::DbTx;
use crate::{Result, Store, Writer, with_pool};

/// The statuses of a case not yet resolved.
pub const OPEN_STATUSES: &str = "('open','in_progress','waiting')";

/// One case as the list and the case page show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRow {
    /// The case's external id.
    pub id: String,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub category: String,
    pub severity: String,
    pub status: String,
    pub channel: Option<String>,
    pub our_fault: Option<bool>,
    /// The owner: the staff member's external id.
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub summary: Option<String>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The next target not yet met; `None` once resolved.
    pub sla_due_at: Option<DateTime<Utc>>,
    /// A target missed: met late, or passed and not met.
    pub breached: bool,
    pub escalation_of: Option<i64>,
    #[serde(skip)]
    pub resolution: Option<String>,
    #[serde(skip)]
    pub apology: Option<bool>,
    #[serde(skip)]
    pub fixed_in_presence: Option<bool>,
    /// The internal id.
    #[serde(skip)]
    pub key: i64,
}

impl CaseRow {
    /// Whether the case is open (open, in progress or waiting).
    pub fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "open" | "in_progress" | "waiting")
    }

    /// Sets `sla_due_at` and `breached` as of `now`.
    fn derive(&mut self, now: DateTime<Utc>) {
        let open = self.is_open();
        self.sla_due_at = if !open {
            None
        } else if self.first_response_at.is_none() {
            self.first_response_due_at.or(self.resolution_due_at)
        } else {
            self.resolution_due_at
        };
        let done = self.resolved_at.or(self.closed_at);
        let first_met = self.first_response_at.or(done);
        let late = |due: Option<DateTime<Utc>>, met: Option<DateTime<Utc>>| match (due, met) {
            (Some(d), Some(m)) => m > d,
            (Some(d), None) => open && now > d,
            _ => false,
        };
        self.breached =
            late(self.first_response_due_at, first_met) || late(self.resolution_due_at, done);
    }
}

/// One step of a case's own timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseEvent {
    pub at: DateTime<Utc>,
    /// opened, status, reopened, owner, note, responded, resolved, closed, claim,
    /// claim_approved, claim_refused, claim_paid, sla_warning, sla_breach, escalated,
    /// edited.
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
    /// Who, as the audit log names them.
    pub actor: String,
}

/// A step to add to a case's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCaseEvent {
    /// The case's internal id.
    pub case_id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
    pub actor: String,
    pub user_id: Option<i64>,
}

/// What the list is filtered by (the core checks the values).
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// `open` (not resolved or closed), `all`, or one status.
    pub status: String,
    /// Open and past a target, or resolved late.
    pub breaching: bool,
    /// Open, the next target due within this many hours from now (not passed).
    pub due_within_hours: Option<f64>,
    /// The owner whose staff email is this (any case).
    pub mine_email: Option<String>,
    /// The owner's staff external id.
    pub owner: Option<String>,
    /// The customer's external id.
    pub customer: Option<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    /// Escalation cases only.
    pub escalations: bool,
    /// The cursor of the previous page's last row.
    pub after: Option<String>,
    pub limit: u32,
    /// Now, for the SLA filters and figures.
    pub now: DateTime<Utc>,
}

/// One page of the list.
#[derive(Debug, Clone, Serialize)]
pub struct CaseListPage {
    pub rows: Vec<CaseRow>,
    pub next: Option<String>,
}

/// A case as the write rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseState {
    pub id: i64,
    pub external_id: String,
    pub customer_id: i64,
    pub opened_at: DateTime<Utc>,
    pub severity: String,
    pub status: String,
    pub our_fault: Option<bool>,
    pub staff_id: Option<i64>,
    /// The owner's external id.
    pub staff_ext: Option<String>,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub escalation_of: Option<i64>,
    /// Whether its `opened` event exists (else the case is new to the store).
    pub has_opened_event: bool,
}

/// A target the SLA job has to tell of.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaDue {
    pub case_id: i64,
    pub case_external_id: String,
    /// `first_response` or `resolution`.
    pub step: String,
    pub due_at: DateTime<Utc>,
    pub customer_id: String,
    pub customer_name: Option<String>,
    pub category: String,
    pub severity: String,
    pub owner_email: Option<String>,
    pub owner_name: Option<String>,
    /// No warning was recorded yet.
    pub needs_warning: bool,
    /// No breach was recorded yet.
    pub needs_breach: bool,
}

/// One group of the SLA attainment figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttainmentGroup {
    /// The month (`2026-11`) of the resolution in the store's zone; open breaching
    /// cases count in the current month.
    pub month: String,
    pub category: String,
    /// The owner's name; `None` when the case has none.
    pub owner: Option<String>,
    pub resolved: u64,
    pub within: u64,
    pub late: u64,
    pub open_breaching: u64,
}

/// A parameter of the SQL below: times bound as each backend stores them.
#[derive(Debug, Clone)]
enum P {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

macro_rules! bind_params {
    ($q:expr, $params:expr, sqlite) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                P::Text(s) => q.bind(s.clone()),
                P::Int(i) => q.bind(*i),
                P::Time(t) => q.bind(format_time(t)),
            };
        }
        q
    }};
    ($q:expr, $params:expr, postgres) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                P::Text(s) => q.bind(s.clone()),
                P::Int(i) => q.bind(*i),
                P::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}

const SELECT_ROW: &str = "SELECT c.id, c.external_id, cu.external_id AS customer_ext, \
    cu.name AS customer_name, c.opened_at, c.category, c.severity, c.status, c.channel, \
    c.our_fault, s.external_id AS owner_ext, s.name AS owner_name, c.summary, \
    c.first_response_at, c.first_response_due_at, c.resolved_at, c.resolution_due_at, \
    c.closed_at, c.escalation_of, c.resolution, c.apology, c.fixed_in_presence";

const FROM_ROW: &str = "FROM cases c JOIN customers cu ON cu.id = c.customer_id LEFT JOIN staff s ON s.id = c.staff_id";

macro_rules! case_row {
    ($r:expr) => {{
        let r = $r;
        CaseRow {
            key: r.try_get("id")?,
            id: r.try_get("external_id")?,
            customer_id: r.try_get("customer_ext")?,
            customer_name: r.try_get("customer_name")?,
            opened_at: r.try_get("opened_at")?,
            category: r.try_get("category")?,
            severity: r.try_get("severity")?,
            status: r.try_get("status")?,
            channel: r.try_get("channel")?,
            our_fault: r.try_get("our_fault")?,
            owner_id: r.try_get("owner_ext")?,
            owner_name: r.try_get("owner_name")?,
            summary: r.try_get("summary")?,
            first_response_at: r.try_get("first_response_at")?,
            first_response_due_at: r.try_get("first_response_due_at")?,
            resolved_at: r.try_get("resolved_at")?,
            resolution_due_at: r.try_get("resolution_due_at")?,
            closed_at: r.try_get("closed_at")?,
            escalation_of: r.try_get("escalation_of")?,
            resolution: r.try_get("resolution")?,
            apology: r.try_get("apology")?,
            fixed_in_presence: r.try_get("fixed_in_presence")?,
            sla_due_at: None,
            breached: false,
        }
    }};
}

/// The far future, for ordering cases without a due time last.
fn far_future() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-12-31T00:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Whether `s` is a cursor of the cases list.
pub fn is_cursor(s: &str) -> bool {
    parse_cursor(s).is_some()
}

/// A cursor: `d` (due order) or `o` (newest first), the time, the id.
fn parse_cursor(s: &str) -> Option<(char, DateTime<Utc>, i64)> {
    let mut parts = s.splitn(3, '~');
    let mode = parts.next()?.chars().next()?;
    let t = DateTime::parse_from_rfc3339(parts.next()?)
        .ok()?
        .with_timezone(&Utc);
    let id = parts.next()?.parse().ok()?;
    Some((mode, t, id))
}

/// The breaching condition of a case as of `$now` (parameter `now`).
fn breaching_sql(now: &str) -> String {
    format!(
        "((c.first_response_due_at IS NOT NULL AND COALESCE(c.first_response_at, c.resolved_at, c.closed_at, {now}) > c.first_response_due_at) \
         OR (c.resolution_due_at IS NOT NULL AND COALESCE(c.resolved_at, c.closed_at, {now}) > c.resolution_due_at))"
    )
}

impl Store {
    /// A page of the cases list.
    pub async fn cases_page(&self, q: &CaseQuery) -> Result<CaseListPage> {
        let (sql, params, open_only, limit) = build_list_sql(q);
        let mut rows: Vec<CaseRow> = match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let rows = bind_params!(sqlx::query::<Sqlite>(AssertSqlSafe(sql)), &params, sqlite)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok(case_row!(r)))
                    .collect::<Result<Vec<_>>>()?
            }
            crate::Backend::Postgres(pool) => {
                let rows = bind_params!(
                    sqlx::query::<Postgres>(AssertSqlSafe(sql)),
                    &params,
                    postgres
                )
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| Ok(case_row!(r)))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        Ok(page_of(&mut rows, q.now, open_only, limit))
    }

    /// The query plan of the list's statement (for tests and benchmarks).
    pub async fn cases_page_plan(&self, q: &CaseQuery) -> Result<String> {
        let (sql, params, _, _) = build_list_sql(q);
        Ok(match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let rows = bind_params!(
                    sqlx::query::<Sqlite>(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))),
                    &params,
                    sqlite
                )
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<String, _>(3))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .join("\n")
            }
            crate::Backend::Postgres(pool) => {
                let rows = bind_params!(
                    sqlx::query::<Postgres>(AssertSqlSafe(format!("EXPLAIN {sql}"))),
                    &params,
                    postgres
                )
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<std::result::Result<Vec<_>, _>>()?
                    .join("\n")
            }
        })
    }

    /// One case by external id, as of `now`.
    pub async fn case_row(&self, id: &str, now: DateTime<Utc>) -> Result<Option<CaseRow>> {
        let sql = format!("{SELECT_ROW} {FROM_ROW} WHERE c.external_id = $1");
        let row = with_pool!(self, pool => {
            let r = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            match r {
                Some(r) => Some(case_row!(&r)),
                None => None,
            }
        });
        Ok(row.map(|mut r| {
            r.derive(now);
            r
        }))
    }

    /// A case's own timeline, oldest first.
    pub async fn case_events(&self, case_key: i64) -> Result<Vec<CaseEvent>> {
        let sql = "SELECT at, kind, from_value, to_value, note, actor FROM case_events \
                   WHERE case_id = $1 ORDER BY at, id";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).bind(case_key).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(CaseEvent {
                        at: r.try_get("at")?,
                        kind: r.try_get("kind")?,
                        from: r.try_get("from_value")?,
                        to: r.try_get("to_value")?,
                        note: r.try_get("note")?,
                        actor: r.try_get("actor")?,
                    })
                })
                .collect()
        })
    }

    /// The categories cases have (at most 500), sorted: the cases list's filter.
    pub async fn case_categories(&self) -> Result<Vec<String>> {
        // A loose index scan of `cases_category_idx`: one index seek per distinct
        // category, however many cases share it (a DISTINCT would read them all).
        let sql = "WITH RECURSIVE c(category) AS ( \
                       SELECT MIN(category) FROM cases \
                       UNION ALL \
                       SELECT (SELECT MIN(k.category) FROM cases k WHERE k.category > c.category) \
                       FROM c WHERE c.category IS NOT NULL) \
                   SELECT category FROM c WHERE category IS NOT NULL LIMIT 500";
        with_pool!(self, pool => {
            let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await?;
            Ok(rows)
        })
    }

    /// Whether any case is open (the SLA job is scheduled only then).
    pub async fn has_open_cases(&self) -> Result<bool> {
        let sql = format!("SELECT 1 FROM cases WHERE status IN {OPEN_STATUSES} LIMIT 1");
        with_pool!(self, pool => {
            let r: Option<i32> = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_optional(pool).await?;
            Ok(r.is_some())
        })
    }

    /// The SLA attainment figures: cases resolved from `since` on, grouped by the
    /// month of their resolution (`months`: each month's key and its first instant,
    /// oldest first), category and owner; and the open cases past a target as of
    /// `now`, in the month `current`. Two index walks (the resolved ones by
    /// `cases_resolved_at_idx`, the open ones by status), the owners joined per group.
    pub async fn sla_attainment(
        &self,
        months: &[(String, DateTime<Utc>)],
        current: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<AttainmentGroup>> {
        let Some((_, since)) = months.first() else {
            return Ok(Vec::new());
        };
        let mut params: Vec<P> = vec![P::Time(*since), P::Time(now), P::Text(current.into())];
        let mut month = String::from("CASE");
        for (key, start) in months.iter().rev() {
            params.push(P::Time(*start));
            let t = params.len();
            params.push(P::Text(key.clone()));
            let k = params.len();
            month.push_str(&format!(" WHEN c.resolved_at >= ${t} THEN ${k}"));
        }
        month.push_str(" END");
        let breaching = breaching_sql("$2");
        let within = "(c.resolution_due_at IS NULL OR c.resolved_at <= c.resolution_due_at)";
        // Two parts, each served by its index (an OR of the two defeats them): the
        // resolved cases by `cases_resolved_at_idx`, the open ones by their status;
        // each grouped by the owner's id, the staff joined only to the groups.
        let sql = format!(
            "SELECT g.month AS month, g.category AS category, s.name AS owner, \
             CAST(SUM(g.resolved) AS BIGINT) AS resolved, CAST(SUM(g.within) AS BIGINT) AS within, \
             CAST(SUM(g.late) AS BIGINT) AS late, CAST(SUM(g.open_breaching) AS BIGINT) AS open_breaching \
             FROM (\
             SELECT {month} AS month, c.category AS category, c.staff_id AS staff_id, \
             COUNT(*) AS resolved, \
             SUM(CASE WHEN {within} THEN 1 ELSE 0 END) AS within, \
             SUM(CASE WHEN {within} THEN 0 ELSE 1 END) AS late, \
             0 AS open_breaching \
             FROM cases c WHERE c.resolved_at >= $1 GROUP BY 1, 2, 3 \
             UNION ALL \
             SELECT $3 AS month, c.category AS category, c.staff_id AS staff_id, \
             0 AS resolved, 0 AS within, 0 AS late, COUNT(*) AS open_breaching \
             FROM cases c WHERE c.status IN {OPEN_STATUSES} AND c.resolved_at IS NULL AND {breaching} \
             GROUP BY c.category, c.staff_id\
             ) g LEFT JOIN staff s ON s.id = g.staff_id \
             GROUP BY g.month, g.category, s.name"
        );
        macro_rules! groups {
            ($rows:expr) => {
                $rows
                    .iter()
                    .map(|r| {
                        Ok(AttainmentGroup {
                            month: r.try_get::<Option<String>, _>("month")?.unwrap_or_default(),
                            category: r.try_get("category")?,
                            owner: r.try_get("owner")?,
                            resolved: r.try_get::<i64, _>("resolved")?.max(0) as u64,
                            within: r.try_get::<i64, _>("within")?.max(0) as u64,
                            late: r.try_get::<i64, _>("late")?.max(0) as u64,
                            open_breaching: r.try_get::<i64, _>("open_breaching")?.max(0) as u64,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            };
        }
        match &self.backend {
            crate::Backend::Sqlite(pool) => {
                let rows = bind_params!(sqlx::query::<Sqlite>(AssertSqlSafe(sql)), &params, sqlite)
                    .fetch_all(pool)
                    .await?;
                groups!(rows)
            }
            crate::Backend::Postgres(pool) => {
                let rows = bind_params!(
                    sqlx::query::<Postgres>(AssertSqlSafe(sql)),
                    &params,
                    postgres
                )
                .fetch_all(pool)
                .await?;
                groups!(rows)
            }
        }
    }
}

/// The list's statement and parameters (the same for both backends).
///
/// Open cases are read as streams, one per open status and step (the first response
/// while none was given, else the resolution), each an ordered walk of its
/// `(status, due, id)` index from the cursor on, at most a page long; the streams are
/// merged by due time. Other lists walk `cases_opened_at_idx` backwards (the status is
/// compared as `status || ''` so that no planner prefers the status index and sorts).
fn build_list_sql(q: &CaseQuery) -> (String, Vec<P>, bool, u32) {
    let mut params: Vec<P> = Vec::new();
    let mut arg = |p: P| {
        params.push(p);
        format!("${}", params.len())
    };
    let open_statuses: &[&str] = &["open", "in_progress", "waiting"];
    let status = if q.status.is_empty() {
        "open"
    } else {
        q.status.as_str()
    };
    let streams: Option<Vec<&str>> = match status {
        "open" => Some(open_statuses.to_vec()),
        s if open_statuses.contains(&s) => Some(vec![s]),
        _ if q.due_within_hours.is_some() => Some(open_statuses.to_vec()),
        _ => None,
    };
    let mut wh: Vec<String> = Vec::new();
    let now = arg(P::Time(q.now));
    if q.breaching {
        wh.push(breaching_sql(&now));
    }
    if let Some(e) = &q.mine_email {
        let e = arg(P::Text(e.trim().to_lowercase()));
        wh.push(format!(
            "c.staff_id IN (SELECT id FROM staff WHERE lower(email) = {e})"
        ));
    }
    if let Some(o) = &q.owner {
        let o = arg(P::Text(o.clone()));
        wh.push(format!(
            "c.staff_id = (SELECT id FROM staff WHERE external_id = {o})"
        ));
    }
    if let Some(cu) = &q.customer {
        let cu = arg(P::Text(cu.clone()));
        wh.push(format!(
            "c.customer_id = (SELECT id FROM customers WHERE external_id = {cu})"
        ));
    }
    if let Some(cat) = &q.category {
        wh.push(format!("c.category = {}", arg(P::Text(cat.clone()))));
    }
    if let Some(sev) = &q.severity {
        wh.push(format!("c.severity = {}", arg(P::Text(sev.clone()))));
    }
    if q.escalations {
        wh.push("c.escalation_of IS NOT NULL".into());
    }
    let cursor = q.after.as_deref().and_then(parse_cursor);
    let limit = q.limit.clamp(1, 500);
    let lim = arg(P::Int(i64::from(limit) + 1));
    let Some(streams) = streams else {
        if status != "all" {
            wh.push(format!(
                "(c.status || '') = {}",
                arg(P::Text(status.to_string()))
            ));
        }
        if let Some((_, t, id)) = cursor {
            let (t, id) = (arg(P::Time(t)), arg(P::Int(id)));
            wh.push(format!("(c.opened_at, c.id) < ({t}, {id})"));
        }
        let where_sql = if wh.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wh.join(" AND "))
        };
        return (
            format!(
                "{SELECT_ROW} {FROM_ROW} {where_sql} ORDER BY c.opened_at DESC, c.id DESC LIMIT {lim}"
            ),
            params,
            false,
            limit,
        );
    };
    let until = q.due_within_hours.map(|h| {
        arg(P::Time(
            q.now + chrono::Duration::seconds((h * 3600.0) as i64),
        ))
    });
    let after = cursor.map(|(_, t, id)| (arg(P::Time(t)), arg(P::Int(id))));
    let selective = q.mine_email.is_some() || q.owner.is_some() || q.customer.is_some();
    let mut parts = Vec::new();
    for st in streams {
        for (col, cond) in [
            ("c.first_response_due_at", "c.first_response_at IS NULL"),
            ("c.resolution_due_at", "c.first_response_at IS NOT NULL"),
        ] {
            // A filter by owner or customer is more selective than the status: its own
            // index finds the few rows (sorted after), where a walk by due time would
            // pass every open case.
            let status = if selective {
                format!("(c.status || '') = '{st}'")
            } else {
                format!("c.status = '{st}'")
            };
            let mut w = vec![status, cond.to_string()];
            w.extend(wh.iter().cloned());
            if let Some(until) = &until {
                w.push(format!("{col} >= {now} AND {col} <= {until}"));
            }
            if let Some((t, id)) = &after {
                w.push(format!("({col}, c.id) > ({t}, {id})"));
            }
            parts.push(format!(
                "SELECT * FROM ({SELECT_ROW}, {col} AS sort_due {FROM_ROW} WHERE {} \
                 ORDER BY {col}, c.id LIMIT {lim}) AS s{}",
                w.join(" AND "),
                parts.len()
            ));
        }
    }
    (
        format!(
            "SELECT * FROM ({}) AS u ORDER BY sort_due, id LIMIT {lim}",
            parts.join(" UNION ALL ")
        ),
        params,
        true,
        limit,
    )
}

fn page_of(
    rows: &mut Vec<CaseRow>,
    now: DateTime<Utc>,
    open_only: bool,
    limit: u32,
) -> CaseListPage {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    for r in rows.iter_mut() {
        r.derive(now);
    }
    let next = if more {
        rows.last().map(|r| {
            if open_only {
                let t = r.sla_due_at.unwrap_or_else(far_future);
                format!("d~{}~{}", t.to_rfc3339(), r.key)
            } else {
                format!("o~{}~{}", r.opened_at.to_rfc3339(), r.key)
            }
        })
    } else {
        None
    };
    CaseListPage {
        rows: std::mem::take(rows),
        next,
    }
}

const STATE_COLUMNS: &str = "c.id, c.external_id, c.customer_id, c.opened_at, c.severity, c.status, \
    c.our_fault, c.staff_id, c.first_response_at, c.resolved_at, c.closed_at, \
    c.first_response_due_at, c.resolution_due_at, c.escalation_of, \
    (SELECT st.external_id FROM staff st WHERE st.id = c.staff_id) AS staff_ext, \
    EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.kind = 'opened') AS has_opened";

macro_rules! case_state {
    ($r:expr) => {{
        let r = $r;
        CaseState {
            id: r.try_get("id")?,
            external_id: r.try_get("external_id")?,
            customer_id: r.try_get("customer_id")?,
            opened_at: r.try_get("opened_at")?,
            severity: r.try_get("severity")?,
            status: r.try_get("status")?,
            our_fault: r.try_get("our_fault")?,
            staff_id: r.try_get("staff_id")?,
            staff_ext: r.try_get("staff_ext")?,
            first_response_at: r.try_get("first_response_at")?,
            resolved_at: r.try_get("resolved_at")?,
            closed_at: r.try_get("closed_at")?,
            first_response_due_at: r.try_get("first_response_due_at")?,
            resolution_due_at: r.try_get("resolution_due_at")?,
            escalation_of: r.try_get("escalation_of")?,
            has_opened_event: r.try_get("has_opened")?,
        }
    }};
}

/// A case's due times to set: internal id, first response, resolution.
pub type CaseDues = (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Rows per statement of the writer's set-based reads and writes.
const CHUNK: usize = 10_000;

fn json_times(t: &Option<DateTime<Utc>>) -> serde_json::Value {
    t.map_or(serde_json::Value::Null, |t| format_time(&t).into())
}

impl DbTx {
    async fn cases_by_external_ids(&mut self, ids: &[String]) -> Result<Vec<CaseState>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            match self {
                DbTx::Sqlite(tx) => {
                    let sql = format!(
                        "SELECT {STATE_COLUMNS} FROM cases c \
                         WHERE c.external_id IN (SELECT value FROM json_each($1)) ORDER BY c.id"
                    );
                    let rows = sqlx::query::<Sqlite>(AssertSqlSafe(sql))
                        .bind(serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into()))
                        .fetch_all(&mut **tx)
                        .await?;
                    for r in &rows {
                        out.push(case_state!(r));
                    }
                }
                DbTx::Postgres(tx) => {
                    let sql = format!(
                        "SELECT {STATE_COLUMNS} FROM cases c WHERE c.external_id = ANY($1) ORDER BY c.id"
                    );
                    let rows = sqlx::query::<Postgres>(AssertSqlSafe(sql))
                        .bind(chunk)
                        .fetch_all(&mut **tx)
                        .await?;
                    for r in &rows {
                        out.push(case_state!(r));
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Writer {
    /// The cases with these external ids, as they are in this transaction.
    pub async fn cases_by_external_ids(&mut self, ids: &[String]) -> Result<Vec<CaseState>> {
        self.tx.cases_by_external_ids(ids).await
    }

    /// Up to `limit` cases without due times (written before the SLA rules existed),
    /// by external id.
    pub async fn cases_without_dues(&mut self, limit: u32) -> Result<Vec<String>> {
        let sql = "SELECT external_id FROM cases \
                   WHERE status IN ('open','in_progress','waiting','resolved','closed') \
                   AND first_response_due_at IS NULL ORDER BY id LIMIT $1";
        Ok(match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query_scalar::<Sqlite, String>(sql)
                    .bind(i64::from(limit))
                    .fetch_all(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_scalar::<Postgres, String>(sql)
                    .bind(i64::from(limit))
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    /// Sets cases' due times (internal id, first response, resolution); only rows
    /// whose values differ are written. Returns how many changed.
    pub async fn set_case_dues(&mut self, dues: &[CaseDues]) -> Result<u64> {
        let mut changed = 0;
        for chunk in dues.chunks(CHUNK) {
            changed += match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let json: Vec<serde_json::Value> = chunk
                        .iter()
                        .map(|(id, f, r)| serde_json::json!([id, json_times(f), json_times(r)]))
                        .collect();
                    sqlx::query::<Sqlite>(
                        "UPDATE cases SET first_response_due_at = j.value->>1, resolution_due_at = j.value->>2 \
                         FROM json_each($1) j WHERE cases.id = j.value->>0 \
                         AND (cases.first_response_due_at IS NOT j.value->>1 OR cases.resolution_due_at IS NOT j.value->>2)",
                    )
                    .bind(serde_json::Value::Array(json).to_string())
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                }
                DbTx::Postgres(tx) => {
                    let ids: Vec<i64> = chunk.iter().map(|d| d.0).collect();
                    let f: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|d| d.1).collect();
                    let r: Vec<Option<DateTime<Utc>>> = chunk.iter().map(|d| d.2).collect();
                    sqlx::query::<Postgres>(
                        "UPDATE cases c SET first_response_due_at = a.f, resolution_due_at = a.r \
                         FROM UNNEST($1::bigint[], $2::timestamptz[], $3::timestamptz[]) AS a(id, f, r) \
                         WHERE c.id = a.id AND (c.first_response_due_at IS DISTINCT FROM a.f \
                         OR c.resolution_due_at IS DISTINCT FROM a.r)",
                    )
                    .bind(ids)
                    .bind(f)
                    .bind(r)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
                }
            };
        }
        Ok(changed)
    }

    /// Adds steps to cases' timelines.
    pub async fn insert_case_events(&mut self, events: &[NewCaseEvent]) -> Result<()> {
        for chunk in events.chunks(CHUNK) {
            match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let json: Vec<serde_json::Value> = chunk
                        .iter()
                        .map(|e| {
                            serde_json::json!([
                                e.case_id,
                                format_time(&e.at),
                                e.kind,
                                e.from,
                                e.to,
                                e.note,
                                e.actor,
                                e.user_id
                            ])
                        })
                        .collect();
                    sqlx::query::<Sqlite>(
                        "INSERT INTO case_events (case_id, at, kind, from_value, to_value, note, actor, user_id) \
                         SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7 \
                         FROM json_each($1)",
                    )
                    .bind(serde_json::Value::Array(json).to_string())
                    .execute(&mut **tx)
                    .await?;
                }
                DbTx::Postgres(tx) => {
                    let case: Vec<i64> = chunk.iter().map(|e| e.case_id).collect();
                    let at: Vec<DateTime<Utc>> = chunk.iter().map(|e| e.at).collect();
                    let kind: Vec<String> = chunk.iter().map(|e| e.kind.clone()).collect();
                    let from: Vec<Option<String>> = chunk.iter().map(|e| e.from.clone()).collect();
                    let to: Vec<Option<String>> = chunk.iter().map(|e| e.to.clone()).collect();
                    let note: Vec<Option<String>> = chunk.iter().map(|e| e.note.clone()).collect();
                    let actor: Vec<String> = chunk.iter().map(|e| e.actor.clone()).collect();
                    let user: Vec<Option<i64>> = chunk.iter().map(|e| e.user_id).collect();
                    sqlx::query::<Postgres>(
                        "INSERT INTO case_events (case_id, at, kind, from_value, to_value, note, actor, user_id) \
                         SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], \
                         $5::text[], $6::text[], $7::text[], $8::bigint[])",
                    )
                    .bind(case)
                    .bind(at)
                    .bind(kind)
                    .bind(from)
                    .bind(to)
                    .bind(note)
                    .bind(actor)
                    .bind(user)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Records SLA alerts (case's internal id, step, kind: `warning` or `breach`) not
    /// recorded before; returns those that are new.
    pub async fn insert_sla_alerts(
        &mut self,
        alerts: &[(i64, String, String)],
        at: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, String)>> {
        let mut out = Vec::new();
        for chunk in alerts.chunks(CHUNK) {
            let rows: Vec<(i64, String, String)> = match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let json: Vec<serde_json::Value> = chunk
                        .iter()
                        .map(|(c, s, k)| serde_json::json!([c, s, k]))
                        .collect();
                    sqlx::query_as::<Sqlite, (i64, String, String)>(
                        "INSERT INTO sla_alerts (case_id, step, kind, at) \
                         SELECT value->>0, value->>1, value->>2, $2 FROM json_each($1) WHERE true \
                         ON CONFLICT (case_id, step, kind) DO NOTHING RETURNING case_id, step, kind",
                    )
                    .bind(serde_json::Value::Array(json).to_string())
                    .bind(format_time(&at))
                    .fetch_all(&mut **tx)
                    .await?
                }
                DbTx::Postgres(tx) => {
                    let c: Vec<i64> = chunk.iter().map(|a| a.0).collect();
                    let s: Vec<String> = chunk.iter().map(|a| a.1.clone()).collect();
                    let k: Vec<String> = chunk.iter().map(|a| a.2.clone()).collect();
                    sqlx::query_as::<Postgres, (i64, String, String)>(
                        "INSERT INTO sla_alerts (case_id, step, kind, at) \
                         SELECT a.c, a.s, a.k, $4 FROM UNNEST($1::bigint[], $2::text[], $3::text[]) AS a(c, s, k) \
                         ON CONFLICT (case_id, step, kind) DO NOTHING RETURNING case_id, step, kind",
                    )
                    .bind(c)
                    .bind(s)
                    .bind(k)
                    .bind(at)
                    .fetch_all(&mut **tx)
                    .await?
                }
            };
            out.extend(rows);
        }
        Ok(out)
    }

    /// The SLA job's scan: open cases whose target (first response not given yet,
    /// resolution) falls due by `warn_until` without a warning recorded, or has
    /// passed by `now` without a breach recorded; at most `limit` targets, soonest
    /// first. Set-based: the `(status, due, id)` indexes, alerts looked up by case.
    pub async fn sla_scan(
        &mut self,
        now: DateTime<Utc>,
        warn_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SlaDue>> {
        let part = |step: &str, due: &str, met: &str| {
            let alert = |kind: &str| {
                format!(
                    "NOT EXISTS (SELECT 1 FROM sla_alerts a WHERE a.case_id = c.id AND a.step = '{step}' AND a.kind = '{kind}')"
                )
            };
            format!(
                "SELECT c.id AS case_id, c.external_id, '{step}' AS step, c.{due} AS due_at, \
                 cu.external_id AS customer_ext, cu.name AS customer_name, c.category, c.severity, \
                 s.email AS owner_email, s.name AS owner_name, \
                 {w} AS needs_warning, {b} AS needs_breach \
                 FROM cases c JOIN customers cu ON cu.id = c.customer_id LEFT JOIN staff s ON s.id = c.staff_id \
                 WHERE c.status IN {OPEN_STATUSES} AND c.{due} <= $2 AND {met} \
                 AND ({w} OR (c.{due} <= $1 AND {b}))",
                w = alert("warning"),
                b = alert("breach"),
            )
        };
        let sql = format!(
            "{} UNION ALL {} ORDER BY due_at, case_id LIMIT $3",
            part(
                "first_response",
                "first_response_due_at",
                "c.first_response_at IS NULL AND c.resolved_at IS NULL"
            ),
            part("resolution", "resolution_due_at", "c.resolved_at IS NULL"),
        );
        macro_rules! dues {
            ($rows:expr) => {
                $rows
                    .iter()
                    .map(|r| {
                        Ok(SlaDue {
                            case_id: r.try_get("case_id")?,
                            case_external_id: r.try_get("external_id")?,
                            step: r.try_get("step")?,
                            due_at: r.try_get("due_at")?,
                            customer_id: r.try_get("customer_ext")?,
                            customer_name: r.try_get("customer_name")?,
                            category: r.try_get("category")?,
                            severity: r.try_get("severity")?,
                            owner_email: r.try_get("owner_email")?,
                            owner_name: r.try_get("owner_name")?,
                            needs_warning: r.try_get("needs_warning")?,
                            needs_breach: r.try_get("needs_breach")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
            };
        }
        let params = [P::Time(now), P::Time(warn_until), P::Int(i64::from(limit))];
        match &mut self.tx {
            DbTx::Sqlite(tx) => {
                let rows = bind_params!(sqlx::query::<Sqlite>(AssertSqlSafe(sql)), &params, sqlite)
                    .fetch_all(&mut **tx)
                    .await?;
                dues!(rows)
            }
            DbTx::Postgres(tx) => {
                let rows = bind_params!(
                    sqlx::query::<Postgres>(AssertSqlSafe(sql)),
                    &params,
                    postgres
                )
                .fetch_all(&mut **tx)
                .await?;
                dues!(rows)
            }
        }
    }
}

impl Writer {
    /// The display name of user `id` (the users table's `name`), read through the
    /// write's transaction; `None` when no such user or the name is blank.
    pub async fn user_display_name(&mut self, id: i64) -> Result<Option<String>> {
        let sql = "SELECT name FROM users WHERE id = $1";
        let name: Option<String> = match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query_scalar::<Sqlite, String>(sql)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_scalar::<Postgres, String>(sql)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        };
        Ok(name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()))
    }
}

impl Store {
    /// The display names and emails of the users `ids` (the actors named on a page of
    /// the audit log), in one query: id → (name, email).
    pub async fn user_labels(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, (String, String)>> {
        let mut out = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(i64, String, String)> = match &self.backend {
            crate::Backend::Sqlite(pool) => sqlx::query_as::<Sqlite, (i64, String, String)>(
                "SELECT id, name, email FROM users WHERE id IN (SELECT value FROM json_each($1))",
            )
            .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
            .fetch_all(pool)
            .await?,
            crate::Backend::Postgres(pool) => {
                sqlx::query_as::<Postgres, (i64, String, String)>(
                    "SELECT id::BIGINT, name, email FROM users WHERE id = ANY($1::BIGINT[])",
                )
                .bind(ids)
                .fetch_all(pool)
                .await?
            }
        };
        for (id, name, email) in rows {
            out.insert(id, (name, email));
        }
        Ok(out)
    }
}

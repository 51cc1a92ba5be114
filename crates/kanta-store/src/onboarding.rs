//! Onboarding checklists in SQL: starting the matching auto-start template for the
//! customers a write brings in (set-based, one statement per step over up to 10,000
//! ids), completing onboardings whose tasks are all done, and the reads of the
//! onboarding page and the customer page (templates with their steps, a customer's
//! checklist, the report's counts, durations and stalls).
//!
//! Dates are `DATE` on PostgreSQL and `YYYY-MM-DD` text on SQLite; reads turn both
//! into text (`::text`) and times into the SQLite form (`to_char`), so one row type
//! serves both backends.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{AssertSqlSafe, Postgres, Sqlite};

use crate::write::DbTx;
use crate::{Result, Store, Writer, with_pool};

/// Ids per statement.
const CHUNK: usize = 10_000;

/// A date column read as `YYYY-MM-DD` text on both backends.
pub(crate) fn date_col(pg: bool, col: &str) -> String {
    if pg {
        format!("{col}::text")
    } else {
        col.to_string()
    }
}

/// A time column read as SQLite keeps it (`2024-12-31T10:00:00.000Z`) on both backends.
pub(crate) fn time_col(pg: bool, col: &str) -> String {
    if pg {
        format!("to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
    } else {
        col.to_string()
    }
}

/// `(external ids)` of parameter `$n`: a JSON array on SQLite, a text array on PostgreSQL.
pub(crate) fn id_list(pg: bool, n: u32) -> String {
    if pg {
        format!("(SELECT unnest(${n}::text[]))")
    } else {
        format!("(SELECT value FROM json_each(${n}))")
    }
}

/// A date as text.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
}

/// A time as read by [`time_col`].
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A step of a template.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    pub id: String,
    pub position: i64,
    pub title: String,
    pub due_days: i64,
    pub owner_role: Option<String>,
    pub customer_text: Option<String>,
}

/// A checklist template with its steps, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub segment: Option<String>,
    pub plan: Option<String>,
    pub auto_start: bool,
    pub active: bool,
    pub steps: Vec<StepRow>,
}

/// A customer's onboarding (the newest).
#[derive(Debug, Clone, PartialEq)]
pub struct OnboardingRow {
    pub id: String,
    pub template_id: String,
    pub template_name: String,
    pub started_on: NaiveDate,
    pub status: String,
    pub completed_on: Option<NaiveDate>,
    pub tasks: Vec<TaskRow>,
}

/// One task of an onboarding, with its step.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: String,
    pub step_title: String,
    pub position: i64,
    pub owner_role: Option<String>,
    pub customer_text: Option<String>,
    pub due_on: NaiveDate,
    pub done_at: Option<DateTime<Utc>>,
    /// The staff member who did it (name).
    pub staff_name: Option<String>,
    pub note: Option<String>,
}

/// A task and where it belongs.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRef {
    pub id: String,
    pub onboarding_id: String,
    pub customer_id: String,
    pub done: bool,
    pub onboarding_status: String,
}

/// One template's figures for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateCounts {
    pub template_id: String,
    pub started: u64,
    pub completed: u64,
    /// Active onboardings with a stalled task now.
    pub stalled_now: u64,
}

/// One step's stalls for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStalls {
    pub template_id: String,
    pub step_id: String,
    pub title: String,
    pub position: i64,
    /// Tasks of the step.
    pub tasks: u64,
    /// Of them, those stalled now or done more than the stall days late.
    pub stalled: u64,
    /// Of them, those stalled now.
    pub stalled_now: u64,
}

type TemplateTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
    bool,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

type TaskTuple = (
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Writer {
    /// Whether an active auto-start template exists (else a write starts nothing).
    pub async fn has_auto_start_templates(&mut self) -> Result<bool> {
        let sql =
            "SELECT COUNT(*) FROM onboarding_templates WHERE auto_start = TRUE AND active = TRUE";
        let n: i64 = match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query_scalar::<Sqlite, i64>(sql)
                    .fetch_one(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_scalar::<Postgres, i64>(sql)
                    .fetch_one(&mut **tx)
                    .await?
            }
        };
        Ok(n > 0)
    }

    /// A store setting's stored text, read in this transaction (`None` when unset).
    pub async fn setting_text(&mut self, key: &str) -> Result<Option<String>> {
        let sql = "SELECT value FROM settings WHERE key = $1";
        let v: Option<String> = match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query_scalar::<Sqlite, String>(sql)
                    .bind(key)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_scalar::<Postgres, String>(sql)
                    .bind(key)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        };
        Ok(
            v.map(|t| match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(serde_json::Value::String(s)) => s,
                _ => t,
            }),
        )
    }

    /// Starts the best matching active auto-start template, on `started_on`, for the
    /// customers (`subscriptions` false: `ids` are customers' external ids) or the
    /// subscribers (`subscriptions` true: `ids` are subscriptions' external ids) that
    /// this write inserted (an id above `new_after_id`, the table's greatest id before
    /// the write) and have no onboarding: one `onboardings` row
    /// each and one `onboarding_tasks` row per step, due `started_on + due_days`. A
    /// template matches when its segment is empty or the customer's, and its plan empty
    /// or the customer's (the new subscription's); the most specific wins (segment and
    /// plan, then segment, then plan, then neither; then the oldest). Returns how many
    /// onboardings were started.
    pub async fn start_onboardings(
        &mut self,
        ids: &[String],
        subscriptions: bool,
        started_on: NaiveDate,
        new_after_id: i64,
    ) -> Result<u64> {
        let pg = self.tx.is_postgres();
        let now = self.tx.now();
        let list = id_list(pg, 1);
        let source = if subscriptions {
            format!(
                "SELECT c.id AS cid, c.external_id AS cext, c.segment AS seg, MIN(s.plan) AS plan \
                 FROM subscriptions s JOIN customers c ON c.id = s.customer_id \
                 WHERE s.external_id IN {list} AND s.id > $3 \
                 GROUP BY c.id, c.external_id, c.segment"
            )
        } else {
            format!(
                "SELECT c.id AS cid, c.external_id AS cext, c.segment AS seg, c.plan AS plan \
                 FROM customers c WHERE c.external_id IN {list} AND c.id > $3"
            )
        };
        let insert = format!(
            "INSERT INTO onboardings (external_id, customer_id, template_id, started_on, status, created_at, updated_at) \
             SELECT 'onb:' || src.cext || ':' || t.external_id, src.cid, t.id, $2, 'active', {now}, {now} \
             FROM ({source}) src \
             JOIN onboarding_templates t ON t.id = ( \
                SELECT t2.id FROM onboarding_templates t2 \
                WHERE t2.auto_start = TRUE AND t2.active = TRUE \
                  AND (COALESCE(t2.segment, '') = '' OR t2.segment = src.seg) \
                  AND (COALESCE(t2.plan, '') = '' OR t2.plan = src.plan) \
                ORDER BY (CASE WHEN COALESCE(t2.segment, '') = '' THEN 0 ELSE 2 END) \
                       + (CASE WHEN COALESCE(t2.plan, '') = '' THEN 0 ELSE 1 END) DESC, t2.id \
                LIMIT 1) \
             WHERE NOT EXISTS (SELECT 1 FROM onboardings o WHERE o.customer_id = src.cid)"
        );
        let due = if pg {
            "o.started_on + s.due_days"
        } else {
            "date(o.started_on, '+' || s.due_days || ' days')"
        };
        let customers = if subscriptions {
            format!("SELECT customer_id FROM subscriptions WHERE external_id IN {list}")
        } else {
            format!("SELECT id FROM customers WHERE external_id IN {list}")
        };
        let tasks = format!(
            "INSERT INTO onboarding_tasks (external_id, onboarding_id, step_id, due_on, created_at, updated_at) \
             SELECT o.external_id || ':' || s.external_id, o.id, s.id, {due}, {now}, {now} \
             FROM onboardings o JOIN onboarding_steps s ON s.template_id = o.template_id \
             WHERE o.customer_id IN ({customers}) AND o.status = 'active' \
               AND NOT EXISTS (SELECT 1 FROM onboarding_tasks k WHERE k.onboarding_id = o.id)"
        );
        let mut started = 0;
        for chunk in ids.chunks(CHUNK) {
            match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let json = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
                    started += sqlx::query::<Sqlite>(AssertSqlSafe(insert.clone()))
                        .bind(&json)
                        .bind(started_on)
                        .bind(new_after_id)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                    sqlx::query::<Sqlite>(AssertSqlSafe(tasks.clone()))
                        .bind(&json)
                        .execute(&mut **tx)
                        .await?;
                }
                DbTx::Postgres(tx) => {
                    started += sqlx::query::<Postgres>(AssertSqlSafe(insert.clone()))
                        .bind(chunk)
                        .bind(started_on)
                        .bind(new_after_id)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                    sqlx::query::<Postgres>(AssertSqlSafe(tasks.clone()))
                        .bind(chunk)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(started)
    }

    /// Marks completed, on `today`, the active onboardings among `ids` (external ids)
    /// whose tasks are all done; returns the external ids it completed.
    pub async fn complete_done_onboardings(
        &mut self,
        ids: &[String],
        today: NaiveDate,
    ) -> Result<Vec<String>> {
        let pg = self.tx.is_postgres();
        let now = self.tx.now();
        let sql = format!(
            "UPDATE onboardings SET status = 'completed', completed_on = $2, updated_at = {now} \
             WHERE external_id IN {list} AND status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM onboarding_tasks k WHERE k.onboarding_id = onboardings.id AND k.done_at IS NULL) \
             RETURNING external_id",
            list = id_list(pg, 1)
        );
        Ok(match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query_scalar::<Sqlite, String>(AssertSqlSafe(sql))
                    .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
                    .bind(today)
                    .fetch_all(&mut **tx)
                    .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query_scalar::<Postgres, String>(AssertSqlSafe(sql))
                    .bind(ids)
                    .bind(today)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }
}

impl Store {
    /// Every template with its steps, by name.
    pub async fn onboarding_templates(&self) -> Result<Vec<TemplateRow>> {
        self.templates_where("").await
    }

    /// One template with its steps.
    pub async fn onboarding_template(&self, id: &str) -> Result<Option<TemplateRow>> {
        let id = id.to_string();
        Ok(self.templates_where_id(&id).await?.into_iter().next())
    }

    async fn templates_where_id(&self, id: &str) -> Result<Vec<TemplateRow>> {
        let sql = template_sql("WHERE t.external_id = $1");
        let rows: Vec<TemplateTuple> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_all(pool)
            .await?);
        Ok(group_templates(rows))
    }

    async fn templates_where(&self, filter: &str) -> Result<Vec<TemplateRow>> {
        let sql = template_sql(filter);
        let rows: Vec<TemplateTuple> =
            with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?);
        Ok(group_templates(rows))
    }

    /// The customer's newest onboarding with its tasks in order (due day, position).
    pub async fn customer_onboarding(&self, customer: &str) -> Result<Option<OnboardingRow>> {
        let pg = is_pg(self);
        let head = format!(
            "SELECT o.external_id, t.external_id, t.name, {started}, o.status, {completed} \
             FROM onboardings o JOIN customers c ON c.id = o.customer_id \
             JOIN onboarding_templates t ON t.id = o.template_id \
             WHERE c.external_id = $1 ORDER BY o.started_on DESC, o.id DESC LIMIT 1",
            started = date_col(pg, "o.started_on"),
            completed = date_col(pg, "o.completed_on"),
        );
        type Head = (String, String, String, String, String, Option<String>);
        let head: Option<Head> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(head))
            .bind(customer)
            .fetch_optional(pool)
            .await?);
        let Some((id, template_id, template_name, started, status, completed)) = head else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT k.external_id, s.title, CAST(s.position AS BIGINT), s.owner_role, s.customer_text, \
                    {due}, {done}, st.name, k.note \
             FROM onboarding_tasks k JOIN onboardings o ON o.id = k.onboarding_id \
             JOIN onboarding_steps s ON s.id = k.step_id \
             LEFT JOIN staff st ON st.id = k.staff_id \
             WHERE o.external_id = $1 ORDER BY k.due_on, s.position, k.id",
            due = date_col(pg, "k.due_on"),
            done = time_col(pg, "k.done_at"),
        );
        let rows: Vec<TaskTuple> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
            .bind(&id)
            .fetch_all(pool)
            .await?);
        let tasks = rows
            .into_iter()
            .map(
                |(id, title, position, owner_role, customer_text, due, done, staff, note)| {
                    TaskRow {
                        id,
                        step_title: title,
                        position,
                        owner_role,
                        customer_text,
                        due_on: parse_date(&due).unwrap_or_default(),
                        done_at: done.as_deref().and_then(parse_time),
                        staff_name: staff,
                        note,
                    }
                },
            )
            .collect();
        Ok(Some(OnboardingRow {
            id,
            template_id,
            template_name,
            started_on: parse_date(&started).unwrap_or_default(),
            status,
            completed_on: completed.as_deref().and_then(parse_date),
            tasks,
        }))
    }

    /// A task, its onboarding and customer.
    pub async fn onboarding_task(&self, id: &str) -> Result<Option<TaskRef>> {
        let sql = "SELECT k.external_id, o.external_id, c.external_id, \
                   CASE WHEN k.done_at IS NULL THEN 0 ELSE 1 END, o.status \
                   FROM onboarding_tasks k JOIN onboardings o ON o.id = k.onboarding_id \
                   JOIN customers c ON c.id = o.customer_id WHERE k.external_id = $1";
        let row: Option<(String, String, String, i32, String)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(id)
            .fetch_optional(pool)
            .await?);
        Ok(
            row.map(|(id, onboarding_id, customer_id, done, status)| TaskRef {
                id,
                onboarding_id,
                customer_id,
                done: done != 0,
                onboarding_status: status,
            }),
        )
    }

    /// Per template: onboardings started and completed, and the active ones with a task
    /// due before `stall_before` and not done (stalled now).
    pub async fn onboarding_counts(&self, stall_before: NaiveDate) -> Result<Vec<TemplateCounts>> {
        let sql = "SELECT t.external_id, \
                   (SELECT COUNT(*) FROM onboardings o WHERE o.template_id = t.id), \
                   (SELECT COUNT(*) FROM onboardings o WHERE o.template_id = t.id AND o.status = 'completed'), \
                   (SELECT COUNT(*) FROM onboardings o WHERE o.template_id = t.id AND o.status = 'active' \
                      AND EXISTS (SELECT 1 FROM onboarding_tasks k WHERE k.onboarding_id = o.id \
                                  AND k.done_at IS NULL AND k.due_on < $1)) \
                   FROM onboarding_templates t ORDER BY t.name, t.id";
        let rows: Vec<(String, i64, i64, i64)> = with_pool!(self, pool => sqlx::query_as(sql)
            .bind(stall_before)
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(template_id, s, c, st)| TemplateCounts {
                template_id,
                started: s.max(0) as u64,
                completed: c.max(0) as u64,
                stalled_now: st.max(0) as u64,
            })
            .collect())
    }

    /// Days from start to completion of every completed onboarding, by template
    /// (external id), each template's days sorted.
    pub async fn onboarding_durations(&self) -> Result<Vec<(String, Vec<i64>)>> {
        let days = if is_pg(self) {
            "CAST(o.completed_on - o.started_on AS BIGINT)"
        } else {
            "CAST(julianday(o.completed_on) - julianday(o.started_on) AS INTEGER)"
        };
        let sql = format!(
            "SELECT t.external_id, {days} FROM onboardings o \
             JOIN onboarding_templates t ON t.id = o.template_id \
             WHERE o.status = 'completed' AND o.completed_on IS NOT NULL \
             ORDER BY t.external_id, 2"
        );
        let rows: Vec<(String, i64)> =
            with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await?);
        let mut out: Vec<(String, Vec<i64>)> = Vec::new();
        for (t, d) in rows {
            match out.last_mut() {
                Some((last, v)) if *last == t => v.push(d),
                _ => out.push((t, vec![d])),
            }
        }
        for (_, v) in &mut out {
            v.sort_unstable();
        }
        Ok(out)
    }

    /// Per step: its tasks (of active and completed onboardings), those that stalled
    /// (not done and due before `stall_before`, or done more than `stall_days` after
    /// their due day) and those stalled now.
    pub async fn onboarding_step_stalls(
        &self,
        stall_before: NaiveDate,
        stall_days: u32,
    ) -> Result<Vec<StepStalls>> {
        let late = if is_pg(self) {
            format!("CAST(k.done_at AT TIME ZONE 'UTC' AS DATE) > k.due_on + {stall_days}")
        } else {
            format!("date(k.done_at) > date(k.due_on, '+{stall_days} days')")
        };
        let sql = format!(
            "SELECT t.external_id, s.external_id, s.title, CAST(s.position AS BIGINT), COUNT(k.id), \
             SUM(CASE WHEN (k.done_at IS NULL AND o.status = 'active' AND k.due_on < $1) \
                   OR (k.done_at IS NOT NULL AND {late}) THEN 1 ELSE 0 END), \
             SUM(CASE WHEN k.done_at IS NULL AND o.status = 'active' AND k.due_on < $1 THEN 1 ELSE 0 END) \
             FROM onboarding_steps s JOIN onboarding_templates t ON t.id = s.template_id \
             LEFT JOIN onboarding_tasks k ON k.step_id = s.id \
             LEFT JOIN onboardings o ON o.id = k.onboarding_id AND o.status <> 'cancelled' \
             GROUP BY t.external_id, s.external_id, s.title, s.position \
             ORDER BY t.external_id, s.position, s.external_id"
        );
        type Row = (String, String, String, i64, i64, Option<i64>, Option<i64>);
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(AssertSqlSafe(sql))
                .bind(stall_before)
                .fetch_all(pool)
                .await?);
        Ok(rows
            .into_iter()
            .map(
                |(template_id, step_id, title, position, tasks, stalled, now)| StepStalls {
                    template_id,
                    step_id,
                    title,
                    position,
                    tasks: tasks.max(0) as u64,
                    stalled: stalled.unwrap_or(0).max(0) as u64,
                    stalled_now: now.unwrap_or(0).max(0) as u64,
                },
            )
            .collect())
    }
}

/// Whether the store is PostgreSQL.
pub(crate) fn is_pg(store: &Store) -> bool {
    matches!(store.backend, crate::Backend::Postgres(_))
}

fn template_sql(filter: &str) -> String {
    format!(
        "SELECT t.external_id, t.name, t.segment, t.plan, t.auto_start, t.active, \
                s.external_id, CAST(s.position AS BIGINT), s.title, CAST(s.due_days AS BIGINT), s.owner_role, s.customer_text \
         FROM onboarding_templates t LEFT JOIN onboarding_steps s ON s.template_id = t.id \
         {filter} ORDER BY t.name, t.id, s.position, s.id"
    )
}

fn group_templates(rows: Vec<TemplateTuple>) -> Vec<TemplateRow> {
    let mut out: Vec<TemplateRow> = Vec::new();
    for (id, name, segment, plan, auto_start, active, sid, pos, title, due, role, text) in rows {
        if out.last().is_none_or(|t| t.id != id) {
            out.push(TemplateRow {
                id,
                name,
                segment,
                plan,
                auto_start,
                active,
                steps: Vec::new(),
            });
        }
        if let (Some(sid), Some(title)) = (sid, title) {
            out.last_mut().expect("pushed").steps.push(StepRow {
                id: sid,
                position: pos.unwrap_or(0),
                title,
                due_days: due.unwrap_or(0),
                owner_role: role,
                customer_text: text,
            });
        }
    }
    out
}

//! The audit log: who did what, through what (the pages, the API, the command line,
//! an import, a job), to which record, with the fields' values before and after.
//!
//! Entries are written in the transaction of the change they tell of
//! ([`Writer::audit`](crate::Writer::audit), and the `audit` argument of the user,
//! token, settings and model-run writes), so the log never shows a change that was
//! rolled back nor misses one that was committed. Events with no other write (a failed
//! sign-in) go through [`Store::record_audit`]. The table (migration 0006) is
//! append-only: triggers on both backends refuse `UPDATE` and `DELETE`.
//!
//! GDPR: erasing a person will have to anonymise their entries (actor names, addresses,
//! values in `changes`); that needs a migration that replaces the append-only triggers
//! with ones that let exactly that anonymisation through. Not done yet.
//!
//! Times are milliseconds since the Unix epoch, UTC, as in [`auth`](crate::accounts).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, from_ms, json_err, with_pool};

/// An event to record. `actor_kind` is `user`, `token`, `cli`, `job`, `import` or
/// `system`; `channel` is `ui`, `api`, `cli`, `import` or `job` (the database refuses
/// others).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub actor_kind: String,
    /// A user's or token's id, the operating-system user, a job's kind.
    pub actor_id: Option<String>,
    /// An email, a token's name, a file, ...
    pub actor_name: String,
    pub channel: String,
    /// The entity or table concerned: `customers`, `users`, `api_tokens`, `settings`, ...
    pub entity: String,
    /// The record's external id (a user's or token's id), when one record.
    pub record_id: Option<String>,
    /// `create`, `update`, `import`, `sign_in`, `sign_in_failed`, `sign_out`,
    /// `role_change`, `token_create`, `token_revoke`, `setting_change`, `score`, ...
    pub action: String,
    /// `{"field": {"before": v, "after": v}, ...}` (see [`change`]); may be `{}`.
    pub changes: serde_json::Value,
    /// Anything else worth keeping (an import's file and counts, ...); may be `{}`.
    pub details: serde_json::Value,
    /// The peer's address, for web requests.
    pub ip: Option<String>,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Filters and page of [`Store::audit_page`]; every filter is optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Matches `actor_name` or `actor_id` exactly.
    pub actor: Option<String>,
    pub entity: Option<String>,
    pub record_id: Option<String>,
    /// Entries at or after this moment.
    pub since: Option<DateTime<Utc>>,
    /// Entries before this moment.
    pub until: Option<DateTime<Utc>>,
    /// The cursor: entries older (lower id) than this one; pages go newest first.
    pub before_id: Option<i64>,
    /// Entries per page: 0 means [`AUDIT_PAGE`], at most [`AUDIT_PAGE_MAX`].
    pub limit: u32,
}

impl Default for AuditQuery {
    fn default() -> Self {
        AuditQuery {
            actor: None,
            entity: None,
            record_id: None,
            since: None,
            until: None,
            before_id: None,
            limit: AUDIT_PAGE,
        }
    }
}

/// Entries per page when a query names no limit.
pub const AUDIT_PAGE: u32 = 50;
/// The most entries one page holds.
pub const AUDIT_PAGE_MAX: u32 = 1000;

/// One field's change, as `changes` keeps it: `{"before": before, "after": after}`.
pub fn change(before: serde_json::Value, after: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "before": before, "after": after })
}

/// Adds the keys of `add` (an object) that `target` lacks; a null target becomes `add`.
fn fill(target: &mut serde_json::Value, add: serde_json::Value) {
    match (target, add) {
        (serde_json::Value::Object(t), serde_json::Value::Object(a)) => {
            for (k, v) in a {
                t.entry(k).or_insert(v);
            }
        }
        (t @ serde_json::Value::Null, a) => *t = a,
        _ => {}
    }
}

impl AuditEntry {
    /// The entry as a store write records it: `record_id` set to the record written
    /// when the caller left it out (a new user's id is known only once inserted), and
    /// the store's own account of the change added to `changes` and `details` (keys
    /// the caller gave win).
    pub(crate) fn completed(
        &self,
        record_id: impl ToString,
        changes: serde_json::Value,
        details: serde_json::Value,
    ) -> AuditEntry {
        let mut e = self.clone();
        if e.record_id.is_none() {
            e.record_id = Some(record_id.to_string());
        }
        fill(&mut e.changes, changes);
        fill(&mut e.details, details);
        e
    }
}

/// The insert of one entry, JSON cast for the dialect; bound by [`bind_insert`].
pub(crate) fn insert_sql(postgres: bool) -> &'static str {
    if postgres {
        "INSERT INTO audit_log (at_ms, actor_kind, actor_id, actor_name, channel, entity, \
         record_id, action, changes, details, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS JSONB), CAST($10 AS JSONB), $11)"
    } else {
        "INSERT INTO audit_log (at_ms, actor_kind, actor_id, actor_name, channel, entity, \
         record_id, action, changes, details, ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    }
}

/// Binds an entry to [`insert_sql`]; a null `changes` or `details` is stored as `{}`.
pub(crate) fn bind_insert<'q, DB: sqlx::Database>(
    q: sqlx::query::Query<'q, DB, DB::Arguments>,
    e: &AuditEntry,
    at_ms: i64,
) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<String>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let json = |v: &serde_json::Value| {
        if v.is_null() {
            "{}".to_string()
        } else {
            v.to_string()
        }
    };
    q.bind(at_ms)
        .bind(e.actor_kind.clone())
        .bind(e.actor_id.clone())
        .bind(e.actor_name.clone())
        .bind(e.channel.clone())
        .bind(e.entity.clone())
        .bind(e.record_id.clone())
        .bind(e.action.clone())
        .bind(json(&e.changes))
        .bind(json(&e.details))
        .bind(e.ip.clone())
}

const COLUMNS: &str = "id, at_ms, actor_kind, actor_id, actor_name, channel, entity, record_id, \
    action, CAST(changes AS TEXT) AS changes, CAST(details AS TEXT) AS details, ip";

fn record_of<R: Row>(r: &R) -> Result<AuditRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
{
    let changes: String = r.try_get("changes")?;
    let details: String = r.try_get("details")?;
    Ok(AuditRecord {
        id: r.try_get("id")?,
        at: from_ms(r.try_get("at_ms")?),
        entry: AuditEntry {
            actor_kind: r.try_get("actor_kind")?,
            actor_id: r.try_get("actor_id")?,
            actor_name: r.try_get("actor_name")?,
            channel: r.try_get("channel")?,
            entity: r.try_get("entity")?,
            record_id: r.try_get("record_id")?,
            action: r.try_get("action")?,
            changes: serde_json::from_str(&changes).map_err(json_err)?,
            details: serde_json::from_str(&details).map_err(json_err)?,
            ip: r.try_get("ip")?,
        },
    })
}

/// A parameter of the page's query.
enum Param {
    Text(String),
    Int(i64),
}

impl Store {
    /// A page of the log, newest first, and the cursor of the next page (`before_id`
    /// for the next query) when there are older entries.
    pub async fn audit_page(&self, q: &AuditQuery) -> Result<(Vec<AuditRecord>, Option<i64>)> {
        let limit = match q.limit {
            0 => AUDIT_PAGE,
            n => n.min(AUDIT_PAGE_MAX),
        };
        let mut params = Vec::new();
        let mut conds = Vec::new();
        let mut param = |p: Param| {
            params.push(p);
            params.len()
        };
        if let Some(a) = &q.actor {
            let n = param(Param::Text(a.clone()));
            conds.push(format!("(actor_name = ${n} OR actor_id = ${n})"));
        }
        if let Some(e) = &q.entity {
            conds.push(format!("entity = ${}", param(Param::Text(e.clone()))));
        }
        if let Some(r) = &q.record_id {
            conds.push(format!("record_id = ${}", param(Param::Text(r.clone()))));
        }
        if let Some(t) = q.since {
            let n = param(Param::Int(t.timestamp_millis()));
            conds.push(format!("at_ms >= ${n}"));
        }
        if let Some(t) = q.until {
            let n = param(Param::Int(t.timestamp_millis()));
            conds.push(format!("at_ms < ${n}"));
        }
        if let Some(id) = q.before_id {
            conds.push(format!("id < ${}", param(Param::Int(id))));
        }
        let n = param(Param::Int(i64::from(limit) + 1));
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        let sql =
            format!("SELECT {COLUMNS} FROM audit_log {where_sql} ORDER BY id DESC LIMIT ${n}");
        let mut records: Vec<AuditRecord> = with_pool!(self, pool => {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for p in &params {
                query = match p {
                    Param::Text(s) => query.bind(s.clone()),
                    Param::Int(i) => query.bind(*i),
                };
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(record_of).collect::<Result<_>>()?
        });
        let next = if records.len() > limit as usize {
            records.truncate(limit as usize);
            records.last().map(|r| r.id)
        } else {
            None
        };
        Ok((records, next))
    }

    /// Records an event that comes with no other write (a failed sign-in), in its own
    /// transaction.
    pub async fn record_audit(&self, e: &AuditEntry) -> Result<()> {
        let sql = insert_sql(matches!(self.backend, crate::Backend::Postgres(_)));
        let at = Utc::now().timestamp_millis();
        with_pool!(self, pool => {
            bind_insert(sqlx::query(sql), e, at).execute(pool).await?;
        });
        Ok(())
    }
}

//! A customer's timeline a page at a time, newest first: the customer page shows a
//! bounded window, so an account with 100,000 usage events costs what one with ten
//! does.
//!
//! Each entity's events are read from its `(customer_id, time)` index, newest first,
//! at most a page plus what the cursor skips; the pages of all entities are merged.
//! An entity's newest events before the cursor are among its own newest rows by the
//! same column, so the merge is exact. Cases and subscriptions have a second event
//! each (resolved, ended), read the same way by their own column.

use chrono::{DateTime, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{ENTITIES, Entity};
use kanta_domain::value::format_time;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Postgres, Sqlite};

use crate::records::{Record, TimelineEvent, decode_pg, decode_sqlite, select_list};
use crate::{Backend, Result, Store};

/// Where a timeline page starts: at this time and older, skipping the first `skip`
/// events at exactly this time (shown on the page before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineCursor {
    pub at: DateTime<Utc>,
    pub skip: u32,
}

impl TimelineCursor {
    /// The cursor as text for a link: `RFC3339~skip`.
    pub fn encode(&self) -> String {
        format!("{}~{}", format_time(&self.at), self.skip)
    }

    pub fn decode(s: &str) -> Option<TimelineCursor> {
        let (at, skip) = s.split_once('~')?;
        Some(TimelineCursor {
            at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
            skip: skip.parse().ok()?,
        })
    }
}

/// A page of a customer's timeline, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct TimelinePage {
    pub events: Vec<TimelineEvent>,
    /// Where the next (older) page starts; `None` on the last page.
    pub next: Option<TimelineCursor>,
}

/// The event kinds of a record: its own (at its time field) and, for cases and
/// subscriptions, the end (at the end field).
fn kind_of(e: &Entity, r: &Record) -> String {
    match e.name {
        "transactions" | "interactions" => r.text("kind").unwrap_or(e.name).to_string(),
        "cases" => "case_opened".into(),
        "subscriptions" => "subscription_started".into(),
        other => other.to_string(),
    }
}

fn end_of(e: &Entity) -> Option<(&'static str, &'static str)> {
    match e.name {
        "cases" => Some(("resolved_at", "case_resolved")),
        "subscriptions" => Some(("ended_on", "subscription_ended")),
        _ => None,
    }
}

pub(crate) fn as_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Time(t) => Some(*t),
        Value::Date(d) => Some(d.and_time(chrono::NaiveTime::MIN).and_utc()),
        _ => None,
    }
}

impl Store {
    /// Up to `limit` events of the customer's timeline, newest first, from `cursor`
    /// (the newest when `None`).
    pub async fn timeline_page(
        &self,
        customer: &Record,
        cursor: Option<TimelineCursor>,
        limit: u32,
    ) -> Result<TimelinePage> {
        let limit = limit.max(1);
        let want = i64::from(limit) + i64::from(cursor.map_or(0, |c| c.skip)) + 1;
        let mut events: Vec<(usize, TimelineEvent)> = Vec::new();
        for (order, e) in ENTITIES.iter().copied().enumerate() {
            let (Some(_), Some(time_field)) = (e.customer_field(), e.time_field) else {
                continue;
            };
            let mut columns = vec![(time_field, None)];
            if let Some((end, kind)) = end_of(e) {
                columns.push((end, Some(kind)));
            }
            for (column, end_kind) in columns {
                for r in self
                    .newest_of_customer(e, customer.id, column, cursor.map(|c| c.at), want)
                    .await?
                {
                    let at = match end_kind {
                        None => as_time(r.get(column)).unwrap_or(r.created_at),
                        Some(_) => match as_time(r.get(column)) {
                            Some(t) => t,
                            None => continue,
                        },
                    };
                    let kind = end_kind.map_or_else(|| kind_of(e, &r), str::to_string);
                    events.push((
                        order * 2 + usize::from(end_kind.is_some()),
                        TimelineEvent {
                            at,
                            entity: e.name,
                            kind,
                            record: r,
                        },
                    ));
                }
            }
        }
        // Newest first; at one moment, a fixed order (entity, end events, id).
        events.sort_by(|(oa, a), (ob, b)| {
            b.at.cmp(&a.at)
                .then(oa.cmp(ob))
                .then(b.record.id.cmp(&a.record.id))
        });
        let mut events: Vec<TimelineEvent> = events.into_iter().map(|(_, e)| e).collect();
        if let Some(c) = cursor {
            events.retain(|e| e.at <= c.at);
            let skip = events
                .iter()
                .take(c.skip as usize)
                .take_while(|e| e.at == c.at)
                .count();
            events.drain(..skip);
        }
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let next = match (more, events.last()) {
            (true, Some(last)) => {
                let same = events.iter().filter(|e| e.at == last.at).count() as u32;
                let skip = match cursor {
                    Some(c) if c.at == last.at => c.skip + same,
                    _ => same,
                };
                Some(TimelineCursor { at: last.at, skip })
            }
            _ => None,
        };
        Ok(TimelinePage { events, next })
    }

    /// The customer's `limit` newest records of `e` by `column` (at or before
    /// `before`), newest first; rows without a value in `column` are left out.
    async fn newest_of_customer(
        &self,
        e: &'static Entity,
        customer: i64,
        column: &str,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<Record>> {
        let col = e.field(column).map_or(column, |f| f.column);
        let bound = match before {
            Some(_) => format!(" AND t.{col} <= $2"),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {} FROM {} t WHERE t.customer_id = $1 AND t.{col} IS NOT NULL{bound} \
             ORDER BY t.{col} DESC, t.id DESC LIMIT {limit}",
            select_list(e),
            e.table
        );
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql)).bind(customer);
                if let Some(t) = before {
                    // Times and dates as SQLite keeps them: ISO text, which sorts.
                    q = q.bind(format_time(&t));
                }
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| decode_sqlite(e, r))
                    .collect::<Result<_>>()?
            }
            Backend::Postgres(pool) => {
                let date = e
                    .field(column)
                    .is_some_and(|f| f.kind == kanta_domain::Kind::Date);
                let sql = if date {
                    sql.replace("<= $2", "<= CAST($2 AS DATE)")
                } else {
                    sql
                };
                let mut q = sqlx::query::<Postgres>(AssertSqlSafe(sql)).bind(customer);
                if let Some(t) = before {
                    q = q.bind(t);
                }
                q.fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| decode_pg(e, r))
                    .collect::<Result<_>>()?
            }
        })
    }
}

//! A customer's timeline a page at a time, newest first: the customer page shows a
//! bounded window, so an account with 100,000 usage events costs what one with ten
//! does.
//!
//! Each entity's events are read from its `(customer_id, time)` index, newest first,
//! at most a page plus what the cursor skips; the pages of all entities are merged.
//! An entity's newest events before the cursor are among its own newest rows by the
//! same column, so the merge is exact. Cases and subscriptions have a second event
//! each (resolved, ended), read the same way by their own column.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{ENTITIES, Entity, STAFF, USAGE_EVENTS};
use kanta_domain::value::format_time;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite};

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
    /// The names of the staff members the page's events name (`staff_id`, an
    /// external id, to the staff member's name), read in one query.
    pub staff: BTreeMap<String, String>,
}

/// One measured metric of a customer's usage, week by week (weeks start on Monday,
/// UTC), up to the week of the customer's newest reading of any metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageWeeks {
    pub metric: String,
    /// The Mondays of the weeks shown, oldest first.
    pub weeks: Vec<NaiveDate>,
    /// The mean of the week's readings, per week of `weeks`; `None` without one.
    pub values: Vec<Option<f64>>,
    /// The customer's own baseline: the mean of the weekly values in the
    /// `weeks.len()` weeks before the last one shown; `None` without readings there.
    pub baseline: Option<f64>,
}

impl UsageWeeks {
    /// The last week's value.
    pub fn latest(&self) -> Option<f64> {
        self.values.last().copied().flatten()
    }

    /// The last week's value against the baseline, as a share (`0.12` = 12% more);
    /// `None` without either or with a baseline of zero.
    pub fn change(&self) -> Option<f64> {
        match (self.latest(), self.baseline) {
            (Some(v), Some(b)) if b != 0.0 => Some((v - b) / b.abs()),
            _ => None,
        }
    }
}

/// The entities whose records are events of the timeline. Goals and onboardings
/// (dated, of a customer) are not: the customer page shows them in cards of their
/// own, and a timeline page that counted them would not add up to the pages its
/// filter pages through.
pub const TIMELINE_ENTITIES: &[&str] = &[
    "transactions",
    "subscriptions",
    "interactions",
    "cases",
    "feedback",
    "usage",
    "trust",
];

/// The Monday of the week of `t` (UTC).
fn monday(t: DateTime<Utc>) -> NaiveDate {
    let d = t.date_naive();
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

/// Weekly means per metric from `(metric, time, value)` readings: the `weeks` weeks
/// up to the week of `last`, and the baseline from the `weeks` weeks before the last.
pub fn usage_weeks_of(
    readings: impl IntoIterator<Item = (String, DateTime<Utc>, f64)>,
    last: DateTime<Utc>,
    weeks: u32,
) -> Vec<UsageWeeks> {
    let sums = readings
        .into_iter()
        .filter(|(_, _, value)| value.is_finite())
        .map(|(metric, at, value)| (metric, monday(at), value, 1));
    usage_weeks_of_sums(sums, last, weeks)
}

/// [`usage_weeks_of`] from readings already summed per metric and week:
/// `(metric, Monday of the week, sum, count)`; a metric and week may come more than
/// once (their sums and counts add up).
pub fn usage_weeks_of_sums(
    sums: impl IntoIterator<Item = (String, NaiveDate, f64, u64)>,
    last: DateTime<Utc>,
    weeks: u32,
) -> Vec<UsageWeeks> {
    let weeks = weeks.max(1) as i64;
    let last_week = monday(last);
    // Week k (0 = the last week) of each metric: (sum, count).
    let mut by_metric: BTreeMap<String, BTreeMap<i64, (f64, u64)>> = BTreeMap::new();
    for (metric, week, sum, count) in sums {
        if !sum.is_finite() {
            continue;
        }
        let k = (last_week - week).num_days().div_euclid(7);
        if !(0..2 * weeks).contains(&k) {
            continue;
        }
        let w = by_metric.entry(metric).or_default().entry(k).or_default();
        w.0 += sum;
        w.1 += count;
    }
    let mean = |w: Option<&(f64, u64)>| w.filter(|w| w.1 > 0).map(|w| w.0 / w.1 as f64);
    by_metric
        .into_iter()
        .map(|(metric, w)| {
            let shown: Vec<i64> = (0..weeks).rev().collect();
            let before: Vec<f64> = (1..=weeks).filter_map(|k| mean(w.get(&k))).collect();
            UsageWeeks {
                metric,
                weeks: shown
                    .iter()
                    .map(|k| last_week - TimeDelta::days(7 * k))
                    .collect(),
                values: shown.iter().map(|k| mean(w.get(k))).collect(),
                baseline: (!before.is_empty())
                    .then(|| before.iter().sum::<f64>() / before.len() as f64),
            }
        })
        .collect()
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

/// A source of timeline events: (the entity's place in the timeline's order, the
/// entity, its time column, the kind of its end event when the column is an end).
type Source = (usize, &'static Entity, &'static str, Option<&'static str>);

/// Every (entity, time column) the timeline reads, in the timeline's order.
fn timeline_sources(only: Option<&[&str]>) -> Vec<Source> {
    let mut sources = Vec::new();
    for (order, e) in ENTITIES.iter().copied().enumerate() {
        let (Some(_), Some(time_field)) = (e.customer_field(), e.time_field) else {
            continue;
        };
        if !TIMELINE_ENTITIES.contains(&e.name) || only.is_some_and(|only| !only.contains(&e.name))
        {
            continue;
        }
        sources.push((order, e, time_field, None));
        if let Some((end, kind)) = end_of(e) {
            sources.push((order, e, end, Some(kind)));
        }
    }
    sources
}

/// The sources whose `held` is true.
fn held_only(sources: Vec<Source>, held: Vec<bool>) -> Vec<Source> {
    sources
        .into_iter()
        .zip(held)
        .filter_map(|(source, held)| held.then_some(source))
        .collect()
}

/// A customer by internal or external id.
#[derive(Clone, Copy)]
enum CustomerKey<'a> {
    Id(i64),
    External(&'a str),
}

impl Store {
    /// Up to `limit` events of the customer's timeline (by internal id), newest
    /// first, from `cursor` (the newest when `None`).
    pub async fn timeline_page(
        &self,
        customer: i64,
        cursor: Option<TimelineCursor>,
        limit: u32,
    ) -> Result<TimelinePage> {
        self.timeline_page_of(customer, None, cursor, limit).await
    }

    /// [`Store::timeline_page`] of only the events of the entities named in `only`
    /// (`transactions`, `usage`, ...; every entity when `None`). A cursor belongs to
    /// the filter it was made with.
    pub async fn timeline_page_of(
        &self,
        customer: i64,
        only: Option<&[&str]>,
        cursor: Option<TimelineCursor>,
        limit: u32,
    ) -> Result<TimelinePage> {
        let mut sources = timeline_sources(only);
        // One statement first says which sources hold any of the customer's events, so
        // that only those are read (in the demo, 3,426 of the 5,008 café customers have
        // events in one of the nine, the others in two to six).
        if sources.len() > 2 {
            let held = self
                .sources_held(CustomerKey::Id(customer), &sources, cursor.map(|c| c.at))
                .await?
                .map(|(_, held)| held)
                .unwrap_or_default();
            sources = held_only(sources, held);
        }
        self.timeline_of_sources(customer, sources, cursor, limit)
            .await
    }

    /// [`Store::timeline_page`] of the customer with this external id (`None` when
    /// there is none): the customer is found by the statement that says which sources
    /// hold their events, not by a lookup of its own.
    pub async fn timeline_page_by_external_id(
        &self,
        external_id: &str,
        cursor: Option<TimelineCursor>,
        limit: u32,
    ) -> Result<Option<TimelinePage>> {
        let sources = timeline_sources(None);
        let Some((customer, held)) = self
            .sources_held(
                CustomerKey::External(external_id),
                &sources,
                cursor.map(|c| c.at),
            )
            .await?
        else {
            return Ok(None);
        };
        let sources = held_only(sources, held);
        Ok(Some(
            self.timeline_of_sources(customer, sources, cursor, limit)
                .await?,
        ))
    }

    /// A timeline page read from these sources.
    async fn timeline_of_sources(
        &self,
        customer: i64,
        sources: Vec<Source>,
        cursor: Option<TimelineCursor>,
        limit: u32,
    ) -> Result<TimelinePage> {
        let limit = limit.max(1);
        let want = i64::from(limit) + i64::from(cursor.map_or(0, |c| c.skip)) + 1;
        let before = cursor.map(|c| c.at);
        let mut events: Vec<(usize, TimelineEvent)> = Vec::new();
        for (order, e, column, end_kind) in sources {
            for r in self
                .newest_of_customer(e, customer, column, before, want)
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
        let staff = self.staff_names(&events).await?;
        Ok(TimelinePage {
            events,
            next,
            staff,
        })
    }

    /// The names of the staff members `events` name, by external id.
    async fn staff_names(&self, events: &[TimelineEvent]) -> Result<BTreeMap<String, String>> {
        let mut ids: Vec<&str> = events
            .iter()
            .filter_map(|e| e.record.text("staff_id"))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT external_id, name FROM {} WHERE external_id IN ({})",
            STAFF.table,
            marks.join(", ")
        );
        let rows: Vec<(String, Option<String>)> = match &self.backend {
            Backend::Sqlite(pool) => {
                let mut q = sqlx::query_as::<Sqlite, (String, Option<String>)>(AssertSqlSafe(sql));
                for id in &ids {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            }
            Backend::Postgres(pool) => {
                let mut q =
                    sqlx::query_as::<Postgres, (String, Option<String>)>(AssertSqlSafe(sql));
                for id in &ids {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(|(id, name)| {
                name.map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .map(|n| (id, n))
            })
            .collect())
    }

    /// The customer's usage, metric by metric, week by week: the `weeks` weeks up to
    /// the week of their newest reading, with each metric's own baseline (see
    /// [`UsageWeeks`]). The newest reading comes from the `(customer_id, occurred_at,
    /// id)` index; the database sums and counts the readings per metric and UTC week
    /// of the `2 × weeks` weeks it needs, so at most that many rows per metric come
    /// back however many readings the customer has.
    pub async fn usage_weeks(&self, customer: &Record, weeks: u32) -> Result<Vec<UsageWeeks>> {
        let e = &USAGE_EVENTS;
        let Some(newest) = self
            .newest_of_customer(e, customer.id, "occurred_at", None, 1)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Vec::new());
        };
        let Some(last) = as_time(newest.get("occurred_at")) else {
            return Ok(Vec::new());
        };
        let since = monday(last) - TimeDelta::days(7 * (2 * i64::from(weeks.max(1)) - 1));
        let since = since.and_time(chrono::NaiveTime::MIN).and_utc();
        let sums: Vec<(String, NaiveDate, f64, u64)> = match &self.backend {
            Backend::Sqlite(pool) => {
                // Times are RFC 3339 UTC text: the first 10 characters are the UTC
                // day; back 6 days, then on to the next Monday (or the day itself),
                // is the Monday of its week. SQLite keeps no NaN or infinity in REAL.
                let rows: Vec<(String, String, f64, i64)> = sqlx::query_as(
                    "SELECT metric, date(substr(occurred_at, 1, 10), '-6 days', 'weekday 1') AS week, \
                     SUM(value), COUNT(*) FROM usage_events \
                     WHERE customer_id = $1 AND occurred_at >= $2 \
                     GROUP BY metric, week",
                )
                .bind(customer.id)
                .bind(format_time(&since))
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .filter_map(|(metric, week, sum, count)| {
                        let week = NaiveDate::parse_from_str(&week, "%Y-%m-%d").ok()?;
                        Some((metric, week, sum, u64::try_from(count).ok()?))
                    })
                    .collect()
            }
            Backend::Postgres(pool) => {
                // A NaN or infinite reading is left out (as `usage_weeks_of` does).
                let rows: Vec<(String, NaiveDate, f64, i64)> = sqlx::query_as(
                    "SELECT metric, CAST(date_trunc('week', occurred_at AT TIME ZONE 'UTC') AS DATE) AS week, \
                     SUM(value), COUNT(*) FROM usage_events \
                     WHERE customer_id = $1 AND occurred_at >= $2 \
                     AND value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) \
                     GROUP BY metric, week",
                )
                .bind(customer.id)
                .bind(since)
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .filter_map(|(metric, week, sum, count)| {
                        Some((metric, week, sum, u64::try_from(count).ok()?))
                    })
                    .collect()
            }
        };
        Ok(usage_weeks_of_sums(sums, last, weeks))
    }

    /// The customer's internal id and, for each source (entity, time column) of
    /// [`Store::timeline_page_of`], whether they have a record with that time set (at
    /// or before `before`); `None` when there is no such customer. One statement of
    /// one `EXISTS` per source, each an index probe.
    async fn sources_held(
        &self,
        customer: CustomerKey<'_>,
        sources: &[Source],
        before: Option<DateTime<Utc>>,
    ) -> Result<Option<(i64, Vec<bool>)>> {
        let pg = matches!(self.backend, Backend::Postgres(_));
        let exists: Vec<String> = sources
            .iter()
            .enumerate()
            .map(|(i, (_, e, column, _))| {
                let field = e.field(column);
                let col = field.map_or(*column, |f| f.column);
                let bound = match before {
                    None => String::new(),
                    Some(_) if pg && field.is_some_and(|f| f.kind == kanta_domain::Kind::Date) => {
                        format!(" AND t.{col} <= CAST($2 AS DATE)")
                    }
                    Some(_) => format!(" AND t.{col} <= $2"),
                };
                format!(
                    "EXISTS (SELECT 1 FROM {} t WHERE t.customer_id = c.id AND t.{col} IS NOT NULL{bound}) AS s{i}",
                    e.table
                )
            })
            .collect();
        let key = match customer {
            CustomerKey::Id(_) => "c.id",
            CustomerKey::External(_) => "c.external_id",
        };
        let sql = format!(
            "SELECT c.id, {} FROM customers c WHERE {key} = $1",
            exists.join(", ")
        );
        let n = sources.len();
        macro_rules! held {
            ($db:ty, $pool:expr, $before:expr) => {{
                let mut q = sqlx::query::<$db>(AssertSqlSafe(sql));
                q = match customer {
                    CustomerKey::Id(id) => q.bind(id),
                    CustomerKey::External(x) => q.bind(x),
                };
                if let Some(t) = $before {
                    q = q.bind(t);
                }
                match q.fetch_optional($pool).await? {
                    None => None,
                    Some(row) => Some((
                        row.try_get::<i64, _>(0)?,
                        (1..=n).map(|i| row.try_get(i)).collect::<Result<_, _>>()?,
                    )),
                }
            }};
        }
        Ok(match &self.backend {
            Backend::Sqlite(pool) => held!(Sqlite, pool, before.map(|t| format_time(&t))),
            Backend::Postgres(pool) => held!(Postgres, pool, before),
        })
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
        self.newest_between(e, customer, column, None, before, limit)
            .await
    }

    /// The customer's `limit` newest records of `e` by `column`, at or after `since`
    /// and at or before `before`, newest first.
    async fn newest_between(
        &self,
        e: &'static Entity,
        customer: i64,
        column: &str,
        since: Option<DateTime<Utc>>,
        before: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<Record>> {
        let col = e.field(column).map_or(column, |f| f.column);
        let mut bound = String::new();
        let mut n = 1;
        for (t, op) in [(since, ">="), (before, "<=")] {
            if t.is_some() {
                n += 1;
                bound.push_str(&format!(" AND t.{col} {op} ${n}"));
            }
        }
        let sql = format!(
            "SELECT {} FROM {} t WHERE t.customer_id = $1 AND t.{col} IS NOT NULL{bound} \
             ORDER BY t.{col} DESC, t.id DESC LIMIT {limit}",
            select_list(e),
            e.table
        );
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                let mut q = sqlx::query::<Sqlite>(AssertSqlSafe(sql)).bind(customer);
                // Times and dates as SQLite keeps them: ISO text, which sorts.
                for t in [since, before].into_iter().flatten() {
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
                    (2..=n).fold(sql, |sql, i| {
                        sql.replace(&format!(" ${i}"), &format!(" CAST(${i} AS DATE)"))
                    })
                } else {
                    sql
                };
                let mut q = sqlx::query::<Postgres>(AssertSqlSafe(sql)).bind(customer);
                for t in [since, before].into_iter().flatten() {
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

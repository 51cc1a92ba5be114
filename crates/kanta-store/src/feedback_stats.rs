//! Feedback analytics: the grouped SQL behind kanta-core's `feedback_stats` (issue 13).
//!
//! - [`Store::feedback_cube`]: one pass over the answers of a period (a range of the
//!   `answered_at` index), grouped by month (store time zone: the months' first
//!   instants come in as parameters and a `CASE` names each answer's month), the
//!   customer's segment and tier, the survey and the answer's channel, with the
//!   sufficient statistics of every figure (counts, sums and sums of squares of NPS,
//!   CSAT and CES, and the detractors and promoters by the settings' rule, with and
//!   without free text). The core adds cells up into months, quarters, segments,
//!   tiers, surveys and channels. The month is a `CASE` halving the months at each
//!   step.
//! - [`Store::invitation_rates`]: invitations per wave (or trigger), survey and
//!   channel: invited (sent, answered or not), answered, skipped.
//! - [`Store::theme_groups`]: per theme, the distinct detractors and promoters among
//!   its answers (the cube counts the detractors and promoters with any free text:
//!   the detractor drivers' denominators).
//! - [`Store::feedback_answers`]: the answers behind a figure, newest first, a page at
//!   a time, with their customer and survey.
//!
//! An answer's **group** (the settings' rule, `kanta_core::feedback_settings`): a
//! detractor when its NPS is at most `detractor_nps_max`, or, with no NPS, its CSAT at
//! most `detractor_csat_max`; a promoter when its NPS is 9-10, or, with no NPS, its
//! CSAT is 5; passive otherwise; none with neither score.

use chrono::{DateTime, Utc};
use kanta_domain::value::format_time;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Result, Store};

/// The settings an answer's group depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRule {
    pub detractor_nps_max: i64,
    pub detractor_csat_max: i64,
}

/// The sufficient statistics of a set of answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    pub answers: i64,
    pub nps_n: i64,
    /// NPS 9-10.
    pub nps_promoters: i64,
    /// NPS 0-6 (the standard split, whatever the settings).
    pub nps_detractors: i64,
    pub csat_n: i64,
    /// CSAT 4-5.
    pub csat_top: i64,
    pub csat_sum: i64,
    pub csat_sumsq: i64,
    pub ces_n: i64,
    pub ces_sum: i64,
    pub ces_sumsq: i64,
    /// Promoters and detractors by the settings' rule (see the module documentation).
    pub promoters: i64,
    pub detractors: i64,
    /// Of those, the answers with any free text (the detractor drivers' denominators).
    pub promoters_text: i64,
    pub detractors_text: i64,
}

impl Sums {
    pub fn add(&mut self, o: &Sums) {
        self.answers += o.answers;
        self.nps_n += o.nps_n;
        self.nps_promoters += o.nps_promoters;
        self.nps_detractors += o.nps_detractors;
        self.csat_n += o.csat_n;
        self.csat_top += o.csat_top;
        self.csat_sum += o.csat_sum;
        self.csat_sumsq += o.csat_sumsq;
        self.ces_n += o.ces_n;
        self.ces_sum += o.ces_sum;
        self.ces_sumsq += o.ces_sumsq;
        self.promoters += o.promoters;
        self.detractors += o.detractors;
        self.promoters_text += o.promoters_text;
        self.detractors_text += o.detractors_text;
    }
}

/// The answers of one month, segment, tier, survey and channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CubeCell {
    /// `YYYY-MM` in the store's time zone.
    pub month: String,
    pub segment: Option<String>,
    pub tier: Option<String>,
    /// The survey's external id and name.
    pub survey: Option<(String, String)>,
    pub channel: Option<String>,
    pub sums: Sums,
}

/// Invitations of one wave (or of the triggers: no wave), survey and channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationCount {
    pub wave_id: Option<i64>,
    /// When the wave was sent (ms); the first invitation's time without a wave.
    pub created_ms: i64,
    pub survey: String,
    pub survey_name: String,
    pub channel: String,
    /// Sent (answered or not).
    pub invited: i64,
    pub answered: i64,
    pub skipped: i64,
}

/// The answers of one theme (as the caller mapped merged themes): the detractors
/// and promoters in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ThemeGroup {
    pub theme_id: i64,
    pub detractors: i64,
    pub promoters: i64,
}

/// Which answers [`Store::feedback_answers`] lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerFilter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `detractor`, `promoter`, `passive` by the settings' rule.
    pub group: Option<String>,
    pub segment: Option<String>,
    pub tier: Option<String>,
    /// A survey's external id. Empty (here and in `segment`, `tier`, `channel`): the
    /// answers without one.
    pub survey: Option<String>,
    pub channel: Option<String>,
    /// Answers in any of these themes (a theme with the themes merged into it).
    pub themes: Option<Vec<i64>>,
    /// Only answers with a score of this measure (`nps`, `csat`, `ces`).
    pub measure: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// One answer, as the drill-down lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRow {
    pub id: i64,
    pub external_id: String,
    pub answered_at: DateTime<Utc>,
    /// The customer's external id and name.
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub survey: Option<String>,
    pub nps: Option<i64>,
    pub csat: Option<i64>,
    pub ces: Option<i64>,
    pub did_well: Option<String>,
    pub do_better: Option<String>,
    pub comment: Option<String>,
    pub language: Option<String>,
    pub channel: Option<String>,
}

/// The SQL of an answer's group (`'d'`, `'p'`, `'n'` or NULL); `$a`/`$b` are the
/// placeholders of the NPS and CSAT detractor limits.
fn group_sql(a: usize, b: usize) -> String {
    format!(
        "CASE WHEN f.nps IS NOT NULL THEN \
            (CASE WHEN f.nps <= ${a} THEN 'd' WHEN f.nps >= 9 THEN 'p' ELSE 'n' END) \
         WHEN f.csat IS NOT NULL THEN \
            (CASE WHEN f.csat <= ${b} THEN 'd' WHEN f.csat >= 5 THEN 'p' ELSE 'n' END) END"
    )
}

/// The same rule as two conditions, cheaper to count with than [`group_sql`]: an
/// answer is a detractor (promoter) when its NPS says so, or with no NPS its CSAT
/// (NULL, not counted, with neither).
fn detractor_sql(a: usize, b: usize) -> String {
    format!("coalesce(f.nps <= ${a}, f.csat <= ${b})")
}
const PROMOTER: &str = "coalesce(f.nps >= 9, f.csat >= 5)";

/// The month of `f.answered_at` as a `CASE` that halves the months at each step
/// (about log2(months) comparisons an answer instead of one a month): `starts[i]`
/// and `keys[i]` are the placeholders of month `i`'s first instant and key, oldest
/// first. Answers before the first month get its key (the caller's `WHERE` leaves
/// none out there).
fn month_sql(starts: &[usize], keys: &[usize]) -> String {
    if keys.len() == 1 {
        return format!("${}", keys[0]);
    }
    let mid = keys.len() / 2;
    format!(
        "CASE WHEN f.answered_at >= ${} THEN {} ELSE {} END",
        starts[mid],
        month_sql(&starts[mid..], &keys[mid..]),
        month_sql(&starts[..mid], &keys[..mid])
    )
}

const HAS_TEXT: &str = "((f.did_well IS NOT NULL AND f.did_well <> '') \
     OR (f.do_better IS NOT NULL AND f.do_better <> '') \
     OR (f.comment IS NOT NULL AND f.comment <> ''))";

/// A bound time as the backend compares it.
enum T {
    Text(String),
    Time(DateTime<Utc>),
}

impl Store {
    fn t(&self, t: &DateTime<Utc>) -> T {
        match &self.backend {
            Backend::Sqlite(_) => T::Text(format_time(t)),
            Backend::Postgres(_) => T::Time(*t),
        }
    }

    /// The answers from the first of `months` (each month's key and first instant in
    /// the store's zone, oldest first) up to `until`, grouped by month, segment, tier,
    /// survey and channel, with their sufficient statistics.
    pub async fn feedback_cube(
        &self,
        months: &[(String, DateTime<Utc>)],
        until: DateTime<Utc>,
        rule: GroupRule,
    ) -> Result<Vec<CubeCell>> {
        let Some((_, since)) = months.first() else {
            return Ok(Vec::new());
        };
        // $1, $2: the rule; $3, $4: since, until; then (start, key) per month, oldest
        // first.
        let starts: Vec<usize> = (0..months.len()).map(|i| 5 + 2 * i).collect();
        let keys: Vec<usize> = starts.iter().map(|s| s + 1).collect();
        let month = month_sql(&starts, &keys);
        let detractor = detractor_sql(1, 2);
        let sql = format!(
            "SELECT g.month, g.segment, g.tier, s.external_id AS survey, s.name AS survey_name, \
                g.channel, g.answers, g.nps_n, g.nps_p, g.nps_d, g.csat_n, g.csat_top, g.csat_sum, \
                g.csat_sumsq, g.ces_n, g.ces_sum, g.ces_sumsq, g.promoters, g.detractors, \
                g.promoters_text, g.detractors_text \
             FROM (SELECT {month} AS month, c.segment AS segment, c.tier AS tier, \
                f.survey_id AS survey_id, f.channel AS channel, \
                CAST(count(*) AS BIGINT) AS answers, \
                CAST(count(f.nps) AS BIGINT) AS nps_n, \
                CAST(coalesce(sum(CASE WHEN f.nps >= 9 THEN 1 ELSE 0 END), 0) AS BIGINT) AS nps_p, \
                CAST(coalesce(sum(CASE WHEN f.nps <= 6 THEN 1 ELSE 0 END), 0) AS BIGINT) AS nps_d, \
                CAST(count(f.csat) AS BIGINT) AS csat_n, \
                CAST(coalesce(sum(CASE WHEN f.csat >= 4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS csat_top, \
                CAST(coalesce(sum(f.csat), 0) AS BIGINT) AS csat_sum, \
                CAST(coalesce(sum(f.csat * f.csat), 0) AS BIGINT) AS csat_sumsq, \
                CAST(count(f.ces) AS BIGINT) AS ces_n, \
                CAST(coalesce(sum(f.ces), 0) AS BIGINT) AS ces_sum, \
                CAST(coalesce(sum(f.ces * f.ces), 0) AS BIGINT) AS ces_sumsq, \
                CAST(coalesce(sum(CASE WHEN {PROMOTER} THEN 1 ELSE 0 END), 0) AS BIGINT) AS promoters, \
                CAST(coalesce(sum(CASE WHEN {detractor} THEN 1 ELSE 0 END), 0) AS BIGINT) AS detractors, \
                CAST(coalesce(sum(CASE WHEN {PROMOTER} AND {HAS_TEXT} THEN 1 ELSE 0 END), 0) AS BIGINT) \
                    AS promoters_text, \
                CAST(coalesce(sum(CASE WHEN {detractor} AND {HAS_TEXT} THEN 1 ELSE 0 END), 0) AS BIGINT) \
                    AS detractors_text \
               FROM feedback f LEFT JOIN customers c ON c.id = f.customer_id \
               WHERE f.answered_at >= $3 AND f.answered_at < $4 \
               GROUP BY 1, 2, 3, 4, 5) g \
             LEFT JOIN surveys s ON s.id = g.survey_id"
        );
        type Key = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let mut out: rustc_hash::FxHashMap<Key, CubeCell> = rustc_hash::FxHashMap::default();
        macro_rules! run {
            ($pool:expr, $t:expr) => {{
                let mut q = sqlx::query(AssertSqlSafe(sql))
                    .bind(rule.detractor_nps_max)
                    .bind(rule.detractor_csat_max)
                    .bind($t(since))
                    .bind($t(&until));
                for (key, start) in months {
                    q = q.bind($t(start)).bind(key.clone());
                }
                for r in &q.fetch_all($pool).await? {
                    let get = |name: &str| r.try_get::<i64, _>(name);
                    let month: Option<String> = r.try_get(0)?;
                    let Some(month) = month else { continue };
                    let segment: Option<String> = r.try_get(1)?;
                    let tier: Option<String> = r.try_get(2)?;
                    let survey: Option<String> = r.try_get(3)?;
                    let survey_name: Option<String> = r.try_get(4)?;
                    let channel: Option<String> = r.try_get(5)?;
                    let sums = Sums {
                        answers: get("answers")?,
                        nps_n: get("nps_n")?,
                        nps_promoters: get("nps_p")?,
                        nps_detractors: get("nps_d")?,
                        csat_n: get("csat_n")?,
                        csat_top: get("csat_top")?,
                        csat_sum: get("csat_sum")?,
                        csat_sumsq: get("csat_sumsq")?,
                        ces_n: get("ces_n")?,
                        ces_sum: get("ces_sum")?,
                        ces_sumsq: get("ces_sumsq")?,
                        promoters: get("promoters")?,
                        detractors: get("detractors")?,
                        promoters_text: get("promoters_text")?,
                        detractors_text: get("detractors_text")?,
                    };
                    let key = (
                        month.clone(),
                        segment.clone(),
                        tier.clone(),
                        survey.clone(),
                        channel.clone(),
                    );
                    out.entry(key)
                        .or_insert_with(|| CubeCell {
                            month,
                            segment,
                            tier,
                            survey: survey.map(|s| (s, survey_name.unwrap_or_default())),
                            channel,
                            sums: Sums::default(),
                        })
                        .sums
                        .add(&sums);
                }
            }};
        }
        match &self.backend {
            Backend::Sqlite(pool) => run!(pool, |t: &DateTime<Utc>| format_time(t)),
            Backend::Postgres(pool) => run!(pool, |t: &DateTime<Utc>| *t),
        }
        let mut cells: Vec<CubeCell> = out.into_values().collect();
        cells.sort_by(|a, b| {
            (&a.month, &a.segment, &a.tier, &a.survey, &a.channel)
                .cmp(&(&b.month, &b.segment, &b.tier, &b.survey, &b.channel))
        });
        Ok(cells)
    }

    /// Each merged theme's id and the id of the theme it was merged into.
    pub async fn theme_merges(&self) -> Result<Vec<(i64, i64)>> {
        let sql = "SELECT id, merged_into FROM feedback_themes WHERE merged_into IS NOT NULL";
        crate::with_pool!(self, pool => Ok(sqlx::query_as(sql).fetch_all(pool).await?))
    }

    /// Whether a theme with this id exists (merged or not).
    pub async fn theme_exists(&self, id: i64) -> Result<bool> {
        let sql = "SELECT CAST(count(*) AS BIGINT) FROM feedback_themes WHERE id = $1";
        let n: i64 = crate::with_pool!(self, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await?);
        Ok(n > 0)
    }

    /// The first and last answer's time, `None` without answers.
    pub async fn feedback_span(&self) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        let sql = "SELECT min(answered_at), max(answered_at) FROM feedback";
        Ok(match &self.backend {
            Backend::Sqlite(pool) => {
                let (a, b): (Option<String>, Option<String>) =
                    sqlx::query_as(sql).fetch_one(pool).await?;
                let p = |s: Option<String>| {
                    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                        .map(|t| t.with_timezone(&Utc))
                };
                p(a).zip(p(b))
            }
            Backend::Postgres(pool) => {
                let (a, b): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
                    sqlx::query_as(sql).fetch_one(pool).await?;
                a.zip(b)
            }
        })
    }

    /// Invitations per wave (triggered ones: per survey and channel with no wave),
    /// newest wave first.
    pub async fn invitation_rates(&self) -> Result<Vec<InvitationCount>> {
        let sql = "SELECT i.wave_id, coalesce(w.created_ms, min(i.created_ms)) AS created_ms, \
                s.external_id, s.name, i.channel, \
                CAST(sum(CASE WHEN i.status IN ('invited','answered') THEN 1 ELSE 0 END) AS BIGINT) AS invited, \
                CAST(sum(CASE WHEN i.status = 'answered' THEN 1 ELSE 0 END) AS BIGINT) AS answered, \
                CAST(sum(CASE WHEN i.status = 'skipped' THEN 1 ELSE 0 END) AS BIGINT) AS skipped \
             FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id \
             LEFT JOIN survey_waves w ON w.id = i.wave_id \
             GROUP BY i.wave_id, w.created_ms, s.external_id, s.name, i.channel \
             ORDER BY 2 DESC, 1 DESC";
        crate::with_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(InvitationCount {
                        wave_id: r.try_get(0)?,
                        created_ms: r.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                        survey: r.try_get(2)?,
                        survey_name: r.try_get(3)?,
                        channel: r.try_get(4)?,
                        invited: r.try_get(5)?,
                        answered: r.try_get(6)?,
                        skipped: r.try_get(7)?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
    }

    /// Per theme (`roots`: each merged theme's id and the theme it now belongs to),
    /// the distinct detractors and promoters among its answers of `[from, until)`.
    /// The members drive the join (each answer found by its key): a period of most
    /// answers is read far faster so than through the `answered_at` index.
    pub async fn theme_groups(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        rule: GroupRule,
        roots: &[(i64, i64)],
    ) -> Result<Vec<ThemeGroup>> {
        let group = group_sql(1, 2);
        let mut theme = String::from("m.theme_id");
        if !roots.is_empty() {
            theme = String::from("CASE m.theme_id");
            for (from, to) in roots {
                theme.push_str(&format!(" WHEN {from} THEN {to}"));
            }
            theme.push_str(" ELSE m.theme_id END");
        }
        // `CROSS JOIN` keeps SQLite's join order (members outside); PostgreSQL plans
        // it as the inner join it is.
        let sql = format!(
            "SELECT t.theme, CAST(sum(CASE WHEN t.grp = 'd' THEN 1 ELSE 0 END) AS BIGINT), \
                CAST(sum(CASE WHEN t.grp = 'p' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM (SELECT DISTINCT {theme} AS theme, f.id AS id, {group} AS grp \
                FROM feedback_theme_members m CROSS JOIN feedback f \
                WHERE f.id = m.feedback_id AND f.answered_at >= $3 AND f.answered_at < $4) t \
             GROUP BY t.theme ORDER BY t.theme"
        );
        macro_rules! run {
            ($pool:expr, $t:expr) => {{
                let rows: Vec<(i64, i64, i64)> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(rule.detractor_nps_max)
                    .bind(rule.detractor_csat_max)
                    .bind($t(&from))
                    .bind($t(&until))
                    .fetch_all($pool)
                    .await?;
                rows
            }};
        }
        let rows = match &self.backend {
            Backend::Sqlite(pool) => run!(pool, |t: &DateTime<Utc>| format_time(t)),
            Backend::Postgres(pool) => run!(pool, |t: &DateTime<Utc>| *t),
        };
        Ok(rows
            .into_iter()
            .map(|(theme_id, detractors, promoters)| ThemeGroup {
                theme_id,
                detractors,
                promoters,
            })
            .collect())
    }

    /// The answers `filter` picks, newest first (`limit`, `offset`), and how many
    /// there are in all.
    pub async fn feedback_answers(
        &self,
        filter: &AnswerFilter,
        rule: GroupRule,
    ) -> Result<(Vec<AnswerRow>, i64)> {
        let mut wh: Vec<String> = Vec::new();
        let mut binds: Vec<B> = vec![
            B::Int(rule.detractor_nps_max),
            B::Int(rule.detractor_csat_max),
        ];
        enum B {
            Int(i64),
            Text(String),
            Time(T),
        }
        let next = |b: B, binds: &mut Vec<B>| {
            binds.push(b);
            format!("${}", binds.len())
        };
        if let Some(t) = &filter.from {
            let p = next(B::Time(self.t(t)), &mut binds);
            wh.push(format!("f.answered_at >= {p}"));
        }
        if let Some(t) = &filter.until {
            let p = next(B::Time(self.t(t)), &mut binds);
            wh.push(format!("f.answered_at < {p}"));
        }
        let group = group_sql(1, 2);
        if let Some(g) = &filter.group {
            let code = match g.as_str() {
                "detractor" => "d",
                "promoter" => "p",
                _ => "n",
            };
            wh.push(format!("({group}) = '{code}'"));
        }
        for (col, v) in [
            ("c.segment", &filter.segment),
            ("c.tier", &filter.tier),
            ("s.external_id", &filter.survey),
            ("f.channel", &filter.channel),
        ] {
            match v.as_deref() {
                None => {}
                // Empty: the answers without one (no segment, no survey, ...).
                Some("") => wh.push(format!("{col} IS NULL")),
                Some(v) => {
                    let p = next(B::Text(v.to_string()), &mut binds);
                    wh.push(format!("{col} = {p}"));
                }
            }
        }
        if let Some(m) = &filter.measure {
            match m.as_str() {
                "nps" => wh.push("f.nps IS NOT NULL".into()),
                "csat" => wh.push("f.csat IS NOT NULL".into()),
                "ces" => wh.push("f.ces IS NOT NULL".into()),
                _ => {}
            }
        }
        if let Some(ids) = &filter.themes {
            let list = if ids.is_empty() {
                "NULL".to_string()
            } else {
                ids.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            wh.push(format!(
                "f.id IN (SELECT m.feedback_id FROM feedback_theme_members m WHERE m.theme_id IN ({list}))"
            ));
        }
        // The group's placeholders are used whether or not the group is asked for:
        // PostgreSQL wants every parameter's type, so refer to them once.
        wh.push("$1 >= 0 AND $2 >= 0".into());
        let where_sql = wh.join(" AND ");
        let from = "FROM feedback f LEFT JOIN customers c ON c.id = f.customer_id \
                    LEFT JOIN surveys s ON s.id = f.survey_id";
        let (lim, off) = (binds.len() + 1, binds.len() + 2);
        let list_sql = format!(
            "SELECT f.id, f.external_id, f.answered_at, c.external_id, c.name, s.name, f.nps, f.csat, \
                f.ces, f.did_well, f.do_better, f.comment, f.language, f.channel \
             {from} WHERE {where_sql} ORDER BY f.answered_at DESC, f.id DESC LIMIT ${lim} OFFSET ${off}"
        );
        let count_sql = format!("SELECT CAST(count(*) AS BIGINT) {from} WHERE {where_sql}");
        macro_rules! bind_all {
            ($q:expr) => {{
                let mut q = $q;
                for b in &binds {
                    q = match b {
                        B::Int(i) => q.bind(*i),
                        B::Text(s) => q.bind(s.clone()),
                        B::Time(T::Text(s)) => q.bind(s.clone()),
                        B::Time(T::Time(t)) => q.bind(*t),
                    };
                }
                q
            }};
        }
        macro_rules! run {
            ($pool:expr, $time:expr) => {{
                let rows = bind_all!(sqlx::query(AssertSqlSafe(list_sql.clone())))
                    .bind(filter.limit)
                    .bind(filter.offset)
                    .fetch_all($pool)
                    .await?;
                let total: i64 = bind_all!(sqlx::query_scalar(AssertSqlSafe(count_sql.clone())))
                    .fetch_one($pool)
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push(AnswerRow {
                        id: r.try_get(0)?,
                        external_id: r.try_get(1)?,
                        answered_at: $time(r)?,
                        customer_id: r.try_get(3)?,
                        customer_name: r.try_get(4)?,
                        survey: r.try_get(5)?,
                        nps: r.try_get(6)?,
                        csat: r.try_get(7)?,
                        ces: r.try_get(8)?,
                        did_well: r.try_get(9)?,
                        do_better: r.try_get(10)?,
                        comment: r.try_get(11)?,
                        language: r.try_get(12)?,
                        channel: r.try_get(13)?,
                    });
                }
                (out, total)
            }};
        }
        Ok(match &self.backend {
            Backend::Sqlite(pool) => run!(pool, |r: &sqlx::sqlite::SqliteRow| {
                let s: String = r.try_get(2)?;
                Ok::<_, crate::StoreError>(
                    DateTime::parse_from_rfc3339(&s)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_default(),
                )
            }),
            Backend::Postgres(pool) => run!(pool, |r: &sqlx::postgres::PgRow| {
                Ok::<_, crate::StoreError>(r.try_get::<DateTime<Utc>, _>(2)?)
            }),
        })
    }
}

#[cfg(any(test, feature = "testing"))]
impl Store {
    /// Tests only: runs `sql` (statements separated by `;`, SQL both backends read)
    /// as it is, to lay out answers, themes and invitations of known figures.
    pub async fn feedback_stats_test_sql(&self, sql: &str) -> Result<()> {
        crate::with_pool!(self, pool => {
            sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(pool).await?;
        });
        Ok(())
    }
}

//! Compensation claims (migration 0011): the reads the small-claim rule and its pages
//! need, and the derived columns the core keeps inside a write's transaction.
//!
//! - [`Writer::claims_after_write`]: after a write of claims (a form, the API, an
//!   import), fills `customer_id` (the case's customer), `claimed_by` (the actor, when
//!   empty) and `auto_approved` (approved, within the limit in its currency, and no one
//!   decided it), in sets over the written external ids, never row by row.
//! - [`Writer::claim`], [`Writer::stamp_claim`]: one claim read, and who decided or
//!   paid it, in the write's transaction (the case's timeline steps are written by
//!   `Writer::insert_case_events`, `cases.rs`).
//! - [`Store::pending_claims`]: the managers' approval queue, oldest first, by keyset
//!   on `claims (status, claimed_at, id)`; [`Store::claims_of_case`]: one case's claims.
//! - [`Store::claim_tallies`], [`Store::claim_effect_figures`]: the figures of the
//!   repeat-claim view and of the small-claim rule's effect, grouped in SQL (medians
//!   by window functions); [`Store::claim_decision_hours`]: the effect's claims one by one.
//!
//! Times are bound as text: SQLite keeps them as [`format_time`]'s text (which sorts
//! as time does), PostgreSQL reads the same text as `timestamptz`.

use chrono::{DateTime, Utc};
use kanta_domain::value::format_time;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::write::on_tx;
use crate::{Result, Store, Writer, with_pool};

/// One claim as the pages and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimRow {
    /// The claim's internal id (the approval queue's keyset tiebreak).
    pub key: i64,
    pub id: String,
    pub case_id: String,
    /// The case's internal id (for its timeline's steps).
    pub case_key: i64,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub claimed_at: DateTime<Utc>,
    pub amount_minor: i64,
    pub currency: Option<String>,
    pub kind: String,
    pub status: String,
    pub auto_approved: bool,
    pub claimed_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub paid_by: Option<String>,
}

const SELECT: &str = "SELECT cl.id, cl.external_id, ca.external_id AS case_ext, cl.case_id AS case_key, \
    cu.external_id AS customer_ext, cu.name AS customer_name, cl.claimed_at, cl.amount_minor, \
    cl.currency, cl.kind, cl.status, cl.auto_approved, cl.claimed_by, cl.decided_at, \
    cl.decided_by, cl.decision_reason, cl.paid_at, cl.paid_by \
    FROM claims cl JOIN cases ca ON ca.id = cl.case_id \
    LEFT JOIN customers cu ON cu.id = cl.customer_id";

fn claim_of<R: Row>(r: &R) -> Result<ClaimRow>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> bool: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
    for<'q> DateTime<Utc>: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<DateTime<Utc>>: sqlx::Decode<'q, R::Database>,
{
    Ok(ClaimRow {
        key: r.try_get("id")?,
        id: r.try_get("external_id")?,
        case_id: r.try_get("case_ext")?,
        case_key: r.try_get("case_key")?,
        customer_id: r.try_get("customer_ext")?,
        customer_name: r.try_get("customer_name")?,
        claimed_at: r.try_get("claimed_at")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        auto_approved: r.try_get("auto_approved")?,
        claimed_by: r.try_get("claimed_by")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by")?,
        decision_reason: r.try_get("decision_reason")?,
        paid_at: r.try_get("paid_at")?,
        paid_by: r.try_get("paid_by")?,
    })
}

/// `$n` as a time: text on SQLite, cast on PostgreSQL.
fn ts(postgres: bool, n: u32) -> String {
    if postgres {
        format!("${n}::timestamptz")
    } else {
        format!("${n}")
    }
}

/// The column as hours since `from` (a time column) to `to`.
fn hours_between(postgres: bool, from: &str, to: &str) -> String {
    if postgres {
        format!("CAST(EXTRACT(EPOCH FROM ({to} - {from})) / 3600.0 AS DOUBLE PRECISION)")
    } else {
        format!("(julianday({to}) - julianday({from})) * 24.0")
    }
}

/// A page of the approval queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimsPage {
    pub rows: Vec<ClaimRow>,
    /// Where the next page starts (the last row's claimed_at and key); `None` when
    /// this is the last page.
    pub next: Option<(DateTime<Utc>, i64)>,
}

/// One customer's claims in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimTally {
    pub customer_id: String,
    pub name: Option<String>,
    pub claims: i64,
    /// The sum of the claims in the currency asked for (others count, not add).
    pub sum_minor: i64,
    /// The sum of their approved claims (in the currency asked for).
    pub approved_minor: i64,
    /// The customer's revenue: purchases plus subscriptions billed.
    pub revenue_minor: i64,
}

/// All claims in a window, and the customers with the most.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimTallies {
    pub total_claims: i64,
    pub total_minor: i64,
    /// The sum of the approved claims.
    pub total_approved_minor: i64,
    pub rows: Vec<ClaimTally>,
}

/// One decided (or pending) claim for the small-claim rule's effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimDecision {
    pub auto_approved: bool,
    pub status: String,
    pub amount_minor: i64,
    /// Hours from claim to decision; `None` while pending.
    pub hours: Option<f64>,
}

/// Claims in a window with the same (auto-approved, status): the small-claim
/// rule's effect, grouped in SQL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimEffectGroup {
    pub auto_approved: bool,
    pub status: String,
    pub claims: i64,
    /// The sum of their amounts (whatever their currency, as the claims are).
    pub amount_minor: i64,
}

/// The small-claim rule's effect in a window (see [`Store::claim_effect_figures`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimEffectFigures {
    pub groups: Vec<ClaimEffectGroup>,
    /// Median hours from claim to decision of the auto-approved claims.
    pub median_hours_small: Option<f64>,
    /// Median hours from claim to decision of the others (decided ones only).
    pub median_hours_large: Option<f64>,
}

impl Store {
    /// One claim by its external id.
    pub async fn claim(&self, id: &str) -> Result<Option<ClaimRow>> {
        let sql = format!("{SELECT} WHERE cl.external_id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.map(|r| claim_of(&r)).transpose()
        })
    }

    /// One case's claims (by the case's external id), oldest first.
    pub async fn claims_of_case(&self, case_id: &str) -> Result<Vec<ClaimRow>> {
        let sql = format!(
            "{SELECT} WHERE cl.case_id = (SELECT id FROM cases WHERE external_id = $1) \
             ORDER BY cl.claimed_at, cl.id"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(case_id).fetch_all(pool).await?;
            rows.iter().map(claim_of).collect()
        })
    }

    /// The pending claims, oldest first, `limit` a page, after `after` (the previous
    /// page's last claimed_at and key).
    pub async fn pending_claims(
        &self,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u32,
    ) -> Result<ClaimsPage> {
        let pg = matches!(self.backend, crate::Backend::Postgres(_));
        let limit = limit.clamp(1, 1000);
        let fetch = i64::from(limit) + 1;
        let rows: Vec<ClaimRow> = match after {
            Some((t, k)) => {
                let sql = format!(
                    "{SELECT} WHERE cl.status = 'pending' AND (cl.claimed_at, cl.id) > ({}, $2) \
                     ORDER BY cl.claimed_at, cl.id LIMIT $3",
                    ts(pg, 1)
                );
                with_pool!(self, pool => {
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(format_time(&t))
                        .bind(k)
                        .bind(fetch)
                        .fetch_all(pool)
                        .await?;
                    rows.iter().map(claim_of).collect::<Result<Vec<_>>>()?
                })
            }
            None => {
                let sql = format!(
                    "{SELECT} WHERE cl.status = 'pending' ORDER BY cl.claimed_at, cl.id LIMIT $1"
                );
                with_pool!(self, pool => {
                    let rows = sqlx::query(AssertSqlSafe(sql)).bind(fetch).fetch_all(pool).await?;
                    rows.iter().map(claim_of).collect::<Result<Vec<_>>>()?
                })
            }
        };
        let mut rows = rows;
        let next = if rows.len() > limit as usize {
            rows.truncate(limit as usize);
            rows.last().map(|r| (r.claimed_at, r.key))
        } else {
            None
        };
        Ok(ClaimsPage { rows, next })
    }

    /// The claims made in `[from, to)`: their count and sum (of those in `currency`,
    /// or without one), and the `top` customers by count, then sum, with their
    /// revenue.
    pub async fn claim_tallies(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        currency: &str,
        top: u32,
    ) -> Result<ClaimTallies> {
        let pg = matches!(self.backend, crate::Backend::Postgres(_));
        let window = format!(
            "cl.claimed_at >= {} AND cl.claimed_at < {}",
            ts(pg, 1),
            ts(pg, 2)
        );
        let in_currency =
            "CASE WHEN cl.currency IS NULL OR cl.currency = $3 THEN cl.amount_minor ELSE 0 END";
        let approved = "CASE WHEN cl.status = 'approved' AND (cl.currency IS NULL OR cl.currency = $3) THEN cl.amount_minor ELSE 0 END";
        let totals_sql = format!(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM({in_currency}), 0) AS BIGINT) AS s, \
             CAST(COALESCE(SUM({approved}), 0) AS BIGINT) AS a FROM claims cl WHERE {window}"
        );
        let top_sql = format!(
            "SELECT cu.external_id AS customer_ext, cu.name AS name, t.n AS n, t.s AS s, t.a AS a, \
             CAST(COALESCE(cu.revenue_minor, 0) + COALESCE(cu.subscription_revenue_minor, 0) AS BIGINT) AS revenue \
             FROM (SELECT cl.customer_id AS customer_id, COUNT(*) AS n, \
                   CAST(COALESCE(SUM({in_currency}), 0) AS BIGINT) AS s, \
                   CAST(COALESCE(SUM({approved}), 0) AS BIGINT) AS a \
                   FROM claims cl WHERE {window} AND cl.customer_id IS NOT NULL \
                   GROUP BY cl.customer_id ORDER BY n DESC, s DESC, cl.customer_id LIMIT $4) t \
             JOIN customers cu ON cu.id = t.customer_id \
             ORDER BY t.n DESC, t.s DESC, cu.external_id"
        );
        let (from, to) = (format_time(&from), format_time(&to));
        with_pool!(self, pool => {
            let tot = sqlx::query(AssertSqlSafe(totals_sql))
                .bind(&from)
                .bind(&to)
                .bind(currency)
                .fetch_one(pool)
                .await?;
            let rows = sqlx::query(AssertSqlSafe(top_sql))
                .bind(&from)
                .bind(&to)
                .bind(currency)
                .bind(i64::from(top))
                .fetch_all(pool)
                .await?;
            Ok(ClaimTallies {
                total_claims: tot.try_get("n")?,
                total_minor: tot.try_get("s")?,
                total_approved_minor: tot.try_get("a")?,
                rows: rows
                    .iter()
                    .map(|r| {
                        Ok(ClaimTally {
                            customer_id: r.try_get("customer_ext")?,
                            name: r.try_get("name")?,
                            claims: r.try_get("n")?,
                            sum_minor: r.try_get("s")?,
                            approved_minor: r.try_get("a")?,
                            revenue_minor: r.try_get("revenue")?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            })
        })
    }

    /// Every claim made since `since`: whether the small-claim rule approved it, its
    /// status, amount and the hours from claim to decision.
    pub async fn claim_decision_hours(&self, since: DateTime<Utc>) -> Result<Vec<ClaimDecision>> {
        let pg = matches!(self.backend, crate::Backend::Postgres(_));
        let sql = format!(
            "SELECT cl.auto_approved AS auto, cl.status AS status, cl.amount_minor AS amount, \
             CASE WHEN cl.decided_at IS NULL THEN NULL ELSE {} END AS hours \
             FROM claims cl WHERE cl.claimed_at >= {}",
            hours_between(pg, "cl.claimed_at", "cl.decided_at"),
            ts(pg, 1)
        );
        let since = format_time(&since);
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).bind(since).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok(ClaimDecision {
                        auto_approved: r.try_get("auto")?,
                        status: r.try_get("status")?,
                        amount_minor: r.try_get("amount")?,
                        hours: r.try_get("hours")?,
                    })
                })
                .collect()
        })
    }
}

impl Store {
    /// The small-claim rule's effect on the claims made since `since`, grouped in
    /// SQL: the claims and their sum per (auto-approved, status), and the median
    /// hours from claim to decision of the decided claims, auto-approved or not
    /// (negative spans count as 0; the mean of the two middle values when even).
    /// Reads only the window's rows, by `claims_claimed_at_idx`.
    pub async fn claim_effect_figures(&self, since: DateTime<Utc>) -> Result<ClaimEffectFigures> {
        let pg = matches!(self.backend, crate::Backend::Postgres(_));
        let window = format!("cl.claimed_at >= {}", ts(pg, 1));
        let groups_sql = format!(
            "SELECT cl.auto_approved AS auto, cl.status AS status, COUNT(*) AS n, \
             CAST(COALESCE(SUM(cl.amount_minor), 0) AS BIGINT) AS amount \
             FROM claims cl WHERE {window} GROUP BY cl.auto_approved, cl.status"
        );
        let medians_sql = format!(
            "WITH d AS (SELECT cl.auto_approved AS auto, {h} AS h FROM claims cl \
             WHERE {window} AND cl.decided_at IS NOT NULL), \
             r AS (SELECT auto, CASE WHEN h < 0 THEN 0.0 ELSE h END AS h, \
             ROW_NUMBER() OVER (PARTITION BY auto ORDER BY CASE WHEN h < 0 THEN 0.0 ELSE h END) AS rn, \
             COUNT(*) OVER (PARTITION BY auto) AS n FROM d) \
             SELECT auto, CAST(AVG(h) AS DOUBLE PRECISION) AS median FROM r \
             WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 GROUP BY auto",
            h = hours_between(pg, "cl.claimed_at", "cl.decided_at"),
        );
        let since = format_time(&since);
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(groups_sql)).bind(&since).fetch_all(pool).await?;
            let groups = rows
                .iter()
                .map(|r| {
                    Ok(ClaimEffectGroup {
                        auto_approved: r.try_get("auto")?,
                        status: r.try_get("status")?,
                        claims: r.try_get("n")?,
                        amount_minor: r.try_get("amount")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut figures = ClaimEffectFigures {
                groups,
                median_hours_small: None,
                median_hours_large: None,
            };
            let rows = sqlx::query(AssertSqlSafe(medians_sql)).bind(&since).fetch_all(pool).await?;
            for r in &rows {
                let auto: bool = r.try_get("auto")?;
                let median: Option<f64> = r.try_get("median")?;
                if auto {
                    figures.median_hours_small = median;
                } else {
                    figures.median_hours_large = median;
                }
            }
            Ok(figures)
        })
    }
}

/// Who did what to a claim, in the write's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStamp<'a> {
    /// Decided by this actor; whether the small-claim rule approved it.
    Decided { by: &'a str, auto_approved: bool },
    /// Paid by this actor.
    Paid { by: &'a str },
}

impl Writer {
    /// One claim, read in this writer's transaction.
    pub async fn claim(&mut self, id: &str) -> Result<Option<ClaimRow>> {
        let sql = format!("{SELECT} WHERE cl.external_id = $1");
        on_tx!(&mut self.tx, tx => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut **tx).await?;
            row.map(|r| claim_of(&r)).transpose()
        })
    }

    /// Fills the derived columns of the claims with these external ids: the case's
    /// customer, `claimed_by` (`actor` when empty) and `auto_approved` (approved,
    /// `amount <= limit_minor` in `currency` (a claim without one is in it), and no
    /// one named as its decider; a decided claim keeps its flag). Set-based, in chunks
    /// of 10,000 ids. Returns how many claims it updated.
    pub async fn claims_after_write(
        &mut self,
        ids: &[String],
        limit_minor: i64,
        currency: &str,
        actor: &str,
    ) -> Result<u64> {
        let pg = self.tx.is_postgres();
        let rule = "claimed_by = COALESCE(claims.claimed_by, $2), \
             auto_approved = CASE WHEN claims.decided_by IS NOT NULL THEN claims.auto_approved \
                 WHEN claims.status = 'approved' AND claims.amount_minor <= $3 \
                      AND COALESCE(claims.currency, $4) = $4 THEN true ELSE false END";
        // PostgreSQL joins the ids (an `= ANY` over a fresh table's scan would compare
        // every row with every id); SQLite looks each id up by the unique index.
        let sql = if pg {
            format!(
                "UPDATE claims SET customer_id = ca.customer_id, {rule} \
                 FROM unnest($1::text[]) AS w(id), cases ca \
                 WHERE claims.external_id = w.id AND ca.id = claims.case_id"
            )
        } else {
            format!(
                "UPDATE claims SET customer_id = (SELECT ca.customer_id FROM cases ca WHERE ca.id = claims.case_id), \
                 {rule} WHERE external_id IN (SELECT value FROM json_each($1))"
            )
        };
        let mut n = 0;
        // PostgreSQL: one join over every id (each chunk would scan the table again).
        let chunk_len = if pg { ids.len().max(1) } else { 10_000 };
        for chunk in ids.chunks(chunk_len) {
            n += match &mut self.tx {
                crate::write::DbTx::Sqlite(tx) => {
                    let json = serde_json::to_string(chunk).map_err(crate::json_err)?;
                    sqlx::query(AssertSqlSafe(sql.clone()))
                        .bind(json)
                        .bind(actor)
                        .bind(limit_minor)
                        .bind(currency)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected()
                }
                crate::write::DbTx::Postgres(tx) => sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(chunk)
                    .bind(actor)
                    .bind(limit_minor)
                    .bind(currency)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected(),
            };
        }
        Ok(n)
    }

    /// Of the claims with these external ids, those decided (approved or refused)
    /// with no one named as their decider that the small-claim rule does not approve
    /// (above `limit_minor`, or in another currency than `currency`): a decision only
    /// a manager may write. At most 5, by external id.
    pub async fn claims_decided_unnamed(
        &mut self,
        ids: &[String],
        limit_minor: i64,
        currency: &str,
    ) -> Result<Vec<String>> {
        let pg = self.tx.is_postgres();
        let cond = "status IN ('approved', 'refused') AND decided_by IS NULL \
             AND NOT (status = 'approved' AND amount_minor <= $2 AND COALESCE(currency, $3) = $3)";
        let sql = if pg {
            format!(
                "SELECT external_id FROM claims JOIN unnest($1::text[]) AS w(id) ON w.id = claims.external_id \
                 WHERE {cond} ORDER BY external_id LIMIT 5"
            )
        } else {
            format!(
                "SELECT external_id FROM claims WHERE external_id IN (SELECT value FROM json_each($1)) \
                 AND {cond} ORDER BY external_id LIMIT 5"
            )
        };
        let mut out = Vec::new();
        for chunk in ids.chunks(10_000) {
            let found: Vec<String> = match &mut self.tx {
                crate::write::DbTx::Sqlite(tx) => {
                    let json = serde_json::to_string(chunk).map_err(crate::json_err)?;
                    sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                        .bind(json)
                        .bind(limit_minor)
                        .bind(currency)
                        .fetch_all(&mut **tx)
                        .await?
                }
                crate::write::DbTx::Postgres(tx) => {
                    sqlx::query_scalar(AssertSqlSafe(sql.clone()))
                        .bind(chunk)
                        .bind(limit_minor)
                        .bind(currency)
                        .fetch_all(&mut **tx)
                        .await?
                }
            };
            out.extend(found);
            if out.len() >= 5 {
                out.truncate(5);
                break;
            }
        }
        Ok(out)
    }

    /// Records who decided or paid a claim (by its external id).
    pub async fn stamp_claim(&mut self, id: &str, stamp: ClaimStamp<'_>) -> Result<()> {
        match stamp {
            ClaimStamp::Decided { by, auto_approved } => {
                let sql =
                    "UPDATE claims SET decided_by = $2, auto_approved = $3 WHERE external_id = $1";
                on_tx!(&mut self.tx, tx => {
                    sqlx::query(sql).bind(id).bind(by).bind(auto_approved).execute(&mut **tx).await?;
                });
            }
            ClaimStamp::Paid { by } => {
                let sql = "UPDATE claims SET paid_by = $2 WHERE external_id = $1";
                on_tx!(&mut self.tx, tx => {
                    sqlx::query(sql).bind(id).bind(by).execute(&mut **tx).await?;
                });
            }
        }
        Ok(())
    }
}

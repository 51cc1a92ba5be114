//! Retention economics in SQL (issue 14; the figures are the core's,
//! `kanta_core::economics`):
//!
//! - [`Store::churn_stages`]: ended customers (status `ended`) by journey stage and
//!   reason code, and the cases they had in the 90 days before the end by stage and
//!   category, each one grouped query. A customer's **stage** when the relationship
//!   ended, first rule that holds:
//!   1. `onboarding`: an onboarding (not cancelled) had started and was not completed
//!      by the end day, or the end came within 30 days of the start;
//!   2. `first_90_days`: the end came within 90 days of the start;
//!   3. `around_renewal`: one of the customer's subscriptions renews, or ended, within
//!      30 days of the end day (a renewal not made);
//!   4. `established`: otherwise.
//!
//!   The start is `acquired_on`, else the first purchase's day (UTC), else the first
//!   subscription's start; the end day is `ended_on`, else the day the row last changed.
//! - [`Store::acquisition_costs`]: customers with a recorded acquisition cost, and its
//!   sum, by currency.
//! - [`Store::serve_costs`]: the newest profitability pass's cost to serve summed over
//!   the customers it served (revenue or a cost in its window).

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Result, Store, with_pool};

/// The journey stages, in the order their rules are tried.
pub const STAGES: [&str; 4] = [
    "onboarding",
    "first_90_days",
    "around_renewal",
    "established",
];

/// Ended customers of one stage with one reason code (`unknown` when none was given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageReason {
    pub stage: String,
    pub reason: String,
    pub customers: i64,
}

/// Cases of one category opened in the 90 days before the end by ended customers
/// of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageCases {
    pub stage: String,
    pub category: String,
    pub cases: i64,
    /// Distinct customers behind those cases.
    pub customers: i64,
}

/// What [`Store::churn_stages`] finds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChurnStages {
    pub reasons: Vec<StageReason>,
    pub cases: Vec<StageCases>,
}

/// Recorded acquisition costs in one currency (`None`: the customer row names none,
/// so the store's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcquisitionCosts {
    pub currency: Option<String>,
    pub customers: i64,
    pub total_minor: i64,
}

/// The newest profitability pass's cost to serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServeCosts {
    pub run_id: i64,
    pub as_of: NaiveDate,
    pub currency: String,
    /// Customers in the pass.
    pub customers: i64,
    /// Of those, the customers it served: revenue or a cost to serve in its window.
    pub served: i64,
    /// Their cost to serve summed over the pass's 12 months.
    pub cost_to_serve_minor: i64,
}

/// The ended customers with their stage, as a CTE `staged (id, reason, end_day, stage)`.
fn staged_cte(backend: &Backend) -> String {
    let (first_purchase, updated, days, abs_days) = match backend {
        Backend::Sqlite(_) => (
            "substr(c.first_purchase_at, 1, 10)",
            "substr(c.updated_at, 1, 10)",
            "(julianday(e.end_day) - julianday(e.start_day))",
            "abs(julianday({a}) - julianday(e.end_day))",
        ),
        Backend::Postgres(_) => (
            "(c.first_purchase_at AT TIME ZONE 'UTC')::date",
            "(c.updated_at AT TIME ZONE 'UTC')::date",
            "(e.end_day - e.start_day)",
            "abs({a} - e.end_day)",
        ),
    };
    let near = |col: &str| abs_days.replace("{a}", col);
    format!(
        "WITH ended AS ( \
            SELECT c.id, COALESCE(c.end_reason_code, 'unknown') AS reason, \
                   COALESCE(c.ended_on, {updated}) AS end_day, \
                   COALESCE(c.acquired_on, {first_purchase}, \
                       (SELECT MIN(s.started_on) FROM subscriptions s WHERE s.customer_id = c.id)) \
                       AS start_day \
            FROM customers c WHERE c.status = 'ended' \
         ), staged AS ( \
            SELECT e.id, e.reason, e.end_day, CASE \
              WHEN EXISTS (SELECT 1 FROM onboardings o WHERE o.customer_id = e.id \
                     AND o.status <> 'cancelled' AND o.started_on <= e.end_day \
                     AND (o.completed_on IS NULL OR o.completed_on > e.end_day)) \
                OR {days} <= 30 THEN 'onboarding' \
              WHEN {days} <= 90 THEN 'first_90_days' \
              WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = e.id AND ( \
                     (s.renews_on IS NOT NULL AND {renews} <= 30) \
                     OR (s.ended_on IS NOT NULL AND {ends} <= 30))) THEN 'around_renewal' \
              ELSE 'established' END AS stage \
            FROM ended e \
         ) ",
        renews = near("s.renews_on"),
        ends = near("s.ended_on"),
    )
}

impl Store {
    /// Ended customers by journey stage and reason code, and their cases of the 90
    /// days before the end by stage and category (see the module documentation).
    pub async fn churn_stages(&self) -> Result<ChurnStages> {
        let cte = staged_cte(&self.backend);
        let window = match self.backend {
            Backend::Sqlite(_) => {
                "ca.opened_at >= date(st.end_day, '-90 days') \
                 AND ca.opened_at < date(st.end_day, '+1 day')"
            }
            Backend::Postgres(_) => {
                "ca.opened_at >= ((st.end_day - 90)::timestamp AT TIME ZONE 'UTC') \
                 AND ca.opened_at < ((st.end_day + 1)::timestamp AT TIME ZONE 'UTC')"
            }
        };
        let reasons_sql = format!(
            "{cte} SELECT stage, reason, COUNT(*) AS n FROM staged \
             GROUP BY stage, reason ORDER BY stage, reason"
        );
        let cases_sql = format!(
            "{cte} SELECT st.stage, ca.category, COUNT(*) AS n, \
                    COUNT(DISTINCT ca.customer_id) AS customers \
             FROM staged st JOIN cases ca ON ca.customer_id = st.id AND {window} \
             GROUP BY st.stage, ca.category ORDER BY st.stage, ca.category"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(reasons_sql)).fetch_all(pool).await?;
            let reasons = rows
                .iter()
                .map(|r| {
                    Ok(StageReason {
                        stage: r.try_get(0)?,
                        reason: r.try_get(1)?,
                        customers: r.try_get(2)?,
                    })
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            let rows = sqlx::query(AssertSqlSafe(cases_sql)).fetch_all(pool).await?;
            let cases = rows
                .iter()
                .map(|r| {
                    Ok(StageCases {
                        stage: r.try_get(0)?,
                        category: r.try_get(1)?,
                        cases: r.try_get(2)?,
                        customers: r.try_get(3)?,
                    })
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?;
            Ok(ChurnStages { reasons, cases })
        })
    }

    /// Customers with a recorded acquisition cost and its sum, by currency.
    pub async fn acquisition_costs(&self) -> Result<Vec<AcquisitionCosts>> {
        let sql = "SELECT currency, COUNT(*) AS n, \
                   CAST(COALESCE(SUM(acquisition_cost_minor), 0) AS BIGINT) AS total \
                   FROM customers WHERE acquisition_cost_minor IS NOT NULL \
                   GROUP BY currency ORDER BY currency";
        with_pool!(self, pool => {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            Ok(rows
                .iter()
                .map(|r| {
                    Ok(AcquisitionCosts {
                        currency: r.try_get(0)?,
                        customers: r.try_get(1)?,
                        total_minor: r.try_get(2)?,
                    })
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()?)
        })
    }

    /// The newest profitability pass's cost to serve over the customers it served;
    /// `None` before the first pass.
    pub async fn serve_costs(&self) -> Result<Option<ServeCosts>> {
        let sql = "SELECT r.id, CAST(r.as_of AS TEXT), r.currency, \
                   (SELECT COUNT(*) FROM customer_profit p WHERE p.run_id = r.id), \
                   (SELECT COUNT(*) FROM customer_profit p WHERE p.run_id = r.id \
                      AND (p.revenue_minor <> 0 OR p.cost_to_serve_minor > 0)), \
                   (SELECT CAST(COALESCE(SUM(p.cost_to_serve_minor), 0) AS BIGINT) \
                      FROM customer_profit p WHERE p.run_id = r.id) \
                   FROM profit_runs r ORDER BY r.id DESC LIMIT 1";
        with_pool!(self, pool => {
            let Some(r) = sqlx::query(sql).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let as_of: String = r.try_get(1)?;
            let as_of = NaiveDate::parse_from_str(&as_of[..as_of.len().min(10)], "%Y-%m-%d")
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok(Some(ServeCosts {
                run_id: r.try_get(0)?,
                as_of,
                currency: r.try_get(2)?,
                customers: r.try_get(3)?,
                served: r.try_get(4)?,
                cost_to_serve_minor: r.try_get(5)?,
            }))
        })
    }
}

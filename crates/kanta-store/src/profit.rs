//! Profitability (issue 14): what the pass reads per customer, one grouped query per
//! component over a window of time, and the newest pass's stored rows.
//!
//! [`Store::profit_inputs`] reads, for the 12 months up to a day (a UTC half-open
//! window the core computes from the store's zone), per customer: the orders' revenue
//! net of refunds, the cost where orders carry one and the revenue of those that do
//! not (`transactions`, in the store's currency); interactions per kind; cases opened
//! per severity; claims paid (compensations actually paid); and the newest model run's
//! CLV, P(alive) and renewal probability. The passes run at once, each one grouped
//! statement. [`Store::offer_redemptions`] counts one offer's redeemed orders.
//!
//! [`Writer::save_profit_run`] replaces `customer_profit` with a pass's rows (one JSON
//! array per 10,000 rows through `json_each` on SQLite, arrays through `UNNEST` on
//! PostgreSQL) and records the `profit_runs` row, in the caller's write transaction.
//! The reads ([`Store::profit_totals`], [`Store::profit_customers`], ...) read only
//! the stored pass: the value page's first view is a few aggregates over one table.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite};

use crate::write::DbTx;
use crate::{Backend, Result, Store, Writer, json_err, with_pool};

/// Rows per insert statement.
const CHUNK: usize = 10_000;

/// The pass's window: `from <= t < until` (UTC), amounts in `currency`.
#[derive(Debug, Clone)]
pub struct ProfitWindow {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub currency: String,
}

/// A customer's transactions in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderSums {
    pub customer_id: i64,
    /// Orders net of refunds.
    pub revenue_minor: i64,
    /// The cost of the transactions that carry one.
    pub cost_minor: i64,
    /// Revenue (net) of the transactions without a cost.
    pub uncosted_minor: i64,
    /// Orders (refunds not counted).
    pub orders: i64,
}

/// A customer's newest scores.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScoreFacts {
    pub customer_id: i64,
    pub clv_12_minor: Option<i64>,
    pub p_alive: f64,
    pub renewal_probability: Option<f64>,
}

/// What the pass reads, per component.
#[derive(Debug, Clone, Default)]
pub struct ProfitInputs {
    /// Every customer's internal id.
    pub customers: Vec<i64>,
    pub orders: Vec<OrderSums>,
    /// (customer, kind, count).
    pub interactions: Vec<(i64, String, i64)>,
    /// (customer, severity, count).
    pub cases: Vec<(i64, String, i64)>,
    /// (customer, claims paid, amount paid).
    pub compensations: Vec<(i64, i64, i64)>,
    pub scores: Vec<ScoreFacts>,
}

/// A sent offer with a cost per redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostedOffer {
    pub id: i64,
    pub external_id: String,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub code: Option<String>,
    pub cost_per_redemption_minor: i64,
    pub currency: Option<String>,
}

/// One customer's row of a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerProfit {
    pub customer_id: i64,
    pub revenue_minor: i64,
    pub goods_cost_minor: i64,
    pub gross_margin_minor: i64,
    pub interactions: i64,
    pub cost_interactions_minor: i64,
    pub cases: i64,
    pub cost_cases_minor: i64,
    pub cost_compensations_minor: i64,
    pub redemptions: i64,
    pub cost_offers_minor: i64,
    pub cost_to_serve_minor: i64,
    pub margin_after_minor: i64,
    pub expected_margin_minor: Option<i64>,
    pub unprofitable: bool,
}

/// A stored pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfitRun {
    pub id: i64,
    pub as_of: NaiveDate,
    pub ran_at: DateTime<Utc>,
    pub millis: i64,
    pub customers: i64,
    pub currency: String,
    pub details: serde_json::Value,
}

/// A pass to record.
#[derive(Debug, Clone)]
pub struct NewProfitRun {
    pub as_of: NaiveDate,
    pub ran_at: DateTime<Utc>,
    pub millis: i64,
    pub currency: String,
    pub details: serde_json::Value,
}

/// The stored pass summed over every customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProfitTotals {
    pub customers: i64,
    pub revenue_minor: i64,
    pub goods_cost_minor: i64,
    pub gross_margin_minor: i64,
    pub interactions: i64,
    pub cost_interactions_minor: i64,
    pub cases: i64,
    pub cost_cases_minor: i64,
    pub cost_compensations_minor: i64,
    pub redemptions: i64,
    pub cost_offers_minor: i64,
    pub cost_to_serve_minor: i64,
    pub margin_after_minor: i64,
    pub expected_margin_minor: i64,
    /// Customers with an expected margin.
    pub expected_customers: i64,
    pub unprofitable: i64,
    /// Customers with a negative margin after cost to serve.
    pub negative_margin: i64,
    /// Customers with each component above zero: interactions, cases, compensations,
    /// offers.
    pub with_interactions: i64,
    pub with_cases: i64,
    pub with_compensations: i64,
    pub with_offers: i64,
}

/// Which customers of the stored pass a list shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProfitFilter {
    #[default]
    All,
    Unprofitable,
    /// `lo <= margin after cost to serve < hi` (either end open).
    MarginBetween(Option<i64>, Option<i64>),
    /// A component's cost above zero: `interactions`, `cases`, `compensations`,
    /// `offers`, or `goods` (goods cost).
    Component(&'static str),
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfitSort {
    /// Lowest margin after cost to serve first.
    #[default]
    Margin,
    /// Highest cost to serve first.
    CostToServe,
    /// Highest revenue first.
    Revenue,
}

/// A customer's stored row with who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfitListRow {
    pub external_id: String,
    pub name: Option<String>,
    #[serde(flatten)]
    pub profit: CustomerProfit,
}

/// The facts behind a customer's reasons: counts per severity and kind, claims paid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReasonFacts {
    /// (severity, cases).
    pub cases: Vec<(String, i64)>,
    /// (kind, interactions).
    pub interactions: Vec<(String, i64)>,
    pub claims_paid: i64,
}

struct Lit {
    pg: bool,
}

impl Lit {
    fn time(&self, t: DateTime<Utc>) -> String {
        let text = kanta_domain::value::format_time(&t);
        if self.pg {
            format!("TIMESTAMPTZ '{text}'")
        } else {
            format!("'{text}'")
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

const PROFIT_COLUMNS: &str = "customer_id, revenue_minor, goods_cost_minor, gross_margin_minor, \
    interactions, cost_interactions_minor, cases, cost_cases_minor, cost_compensations_minor, \
    redemptions, cost_offers_minor, cost_to_serve_minor, margin_after_minor, \
    expected_margin_minor, unprofitable";

/// The stored columns as [`profit_of`] reads them (the counts as BIGINT on both backends).
fn select_columns() -> String {
    PROFIT_COLUMNS
        .split(", ")
        .map(|c| match c.trim() {
            c @ ("interactions" | "cases" | "redemptions") => format!("CAST(p.{c} AS BIGINT)"),
            c => format!("p.{c}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn profit_of<R: Row>(r: &R, at: usize) -> Result<CustomerProfit>
where
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    let i = |k: usize| r.try_get::<i64, _>(at + k);
    Ok(CustomerProfit {
        customer_id: i(0)?,
        revenue_minor: i(1)?,
        goods_cost_minor: i(2)?,
        gross_margin_minor: i(3)?,
        interactions: i(4)?,
        cost_interactions_minor: i(5)?,
        cases: i(6)?,
        cost_cases_minor: i(7)?,
        cost_compensations_minor: i(8)?,
        redemptions: i(9)?,
        cost_offers_minor: i(10)?,
        cost_to_serve_minor: i(11)?,
        margin_after_minor: i(12)?,
        expected_margin_minor: r.try_get::<Option<i64>, _>(at + 13)?,
        unprofitable: r.try_get::<bool, _>(at + 14)?,
    })
}

impl Store {
    fn lit(&self) -> Lit {
        Lit {
            pg: matches!(self.backend, Backend::Postgres(_)),
        }
    }

    /// Every component of the pass, per customer, over `w` (see the module
    /// documentation): one grouped statement per table, run at once.
    pub async fn profit_inputs(&self, w: &ProfitWindow) -> Result<ProfitInputs> {
        let q = self.lit();
        let (from, until, cur) = (q.time(w.from), q.time(w.until), quote(&w.currency));
        let orders_sql = format!(
            "SELECT customer_id, CAST(sum(amount_minor) AS BIGINT), \
             CAST(coalesce(sum(cost_minor), 0) AS BIGINT), \
             CAST(coalesce(sum(CASE WHEN cost_minor IS NULL THEN amount_minor END), 0) AS BIGINT), \
             count(CASE WHEN kind = 'order' THEN 1 END) \
             FROM transactions WHERE occurred_at >= {from} AND occurred_at < {until} \
             AND currency = {cur} GROUP BY customer_id"
        );
        let interactions_sql = format!(
            "SELECT customer_id, kind, count(*) FROM interactions \
             WHERE occurred_at >= {from} AND occurred_at < {until} GROUP BY customer_id, kind"
        );
        let cases_sql = format!(
            "SELECT customer_id, severity, count(*) FROM cases \
             WHERE opened_at >= {from} AND opened_at < {until} GROUP BY customer_id, severity"
        );
        let claims_sql = format!(
            "SELECT coalesce(cl.customer_id, k.customer_id), count(*), CAST(sum(cl.amount_minor) AS BIGINT) \
             FROM claims cl JOIN cases k ON k.id = cl.case_id \
             WHERE cl.paid_at >= {from} AND cl.paid_at < {until} AND cl.status = 'approved' \
             AND (cl.currency IS NULL OR cl.currency = {cur}) \
             GROUP BY coalesce(cl.customer_id, k.customer_id)"
        );
        let scores_sql = "SELECT customer_id, clv_12_minor, p_alive, renewal_probability \
             FROM customer_scores WHERE run_id = (SELECT max(id) FROM model_runs)"
            .to_string();
        let customers_sql = "SELECT id FROM customers ORDER BY id".to_string();

        macro_rules! rows {
            ($sql:expr, $r:ident => $body:expr) => {{
                let sql: String = $sql;
                async {
                    let out: Result<Vec<_>> = with_pool!(self, pool => {
                        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
                        let mut out = Vec::with_capacity(rows.len());
                        for $r in &rows {
                            out.push($body);
                        }
                        Ok(out)
                    });
                    out
                }
            }};
        }
        let (customers, orders, interactions, cases, compensations, scores) = tokio::try_join!(
            rows!(customers_sql, r => r.try_get::<i64, _>(0)?),
            rows!(orders_sql, r => OrderSums {
                customer_id: r.try_get(0)?,
                revenue_minor: r.try_get(1)?,
                cost_minor: r.try_get(2)?,
                uncosted_minor: r.try_get(3)?,
                orders: r.try_get(4)?,
            }),
            rows!(interactions_sql, r => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<i64, _>(2)?)),
            rows!(cases_sql, r => (r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<i64, _>(2)?)),
            rows!(claims_sql, r => (r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?)),
            rows!(scores_sql, r => ScoreFacts {
                customer_id: r.try_get(0)?,
                clv_12_minor: r.try_get(1)?,
                p_alive: r.try_get(2)?,
                renewal_probability: r.try_get(3)?,
            }),
        )?;
        Ok(ProfitInputs {
            customers,
            orders,
            interactions,
            cases,
            compensations,
            scores,
        })
    }

    /// Sent (or closed) offers with a cost per redemption.
    pub async fn costed_offers(&self) -> Result<Vec<CostedOffer>> {
        let sql = "SELECT id, external_id, valid_from, valid_until, code, \
                   cost_per_redemption_minor, currency FROM offers \
                   WHERE status IN ('sent', 'closed') AND cost_per_redemption_minor > 0 ORDER BY id";
        type T = (
            i64,
            String,
            NaiveDate,
            NaiveDate,
            Option<String>,
            i64,
            Option<String>,
        );
        let rows: Vec<T> = with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, external_id, valid_from, valid_until, code, c, currency)| CostedOffer {
                    id,
                    external_id,
                    valid_from,
                    valid_until,
                    code,
                    cost_per_redemption_minor: c,
                    currency,
                },
            )
            .collect())
    }

    /// One offer's redemptions per offer-arm member: their orders in `from <= t <
    /// until` carrying `code` (any order when the offer has none). (customer, orders).
    pub async fn offer_redemptions(
        &self,
        offer_id: i64,
        code: Option<&str>,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(i64, i64)>> {
        if from >= until {
            return Ok(Vec::new());
        }
        let q = self.lit();
        let code_cond = match code {
            Some(c) => format!(" AND t.offer_code = {}", quote(c)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT m.customer_id, count(*) FROM offer_members m \
             JOIN transactions t ON t.customer_id = m.customer_id \
             WHERE m.offer_id = {offer_id} AND m.arm = 'offer' AND t.kind = 'order' \
             AND t.occurred_at >= {} AND t.occurred_at < {}{code_cond} GROUP BY m.customer_id",
            q.time(from),
            q.time(until)
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql)).fetch_all(pool).await?
        }))
    }

    /// The newest pass, if any.
    pub async fn latest_profit_run(&self) -> Result<Option<ProfitRun>> {
        let sql = "SELECT id, as_of, ran_ms, millis, customers, currency, details \
                   FROM profit_runs ORDER BY id DESC LIMIT 1";
        type T = (i64, NaiveDate, i64, i64, i64, String, String);
        let row: Option<T> = with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, NaiveDate, i64, i32, i32, String, String)>(sql)
                .fetch_optional(pool)
                .await?
                .map(|(a, b, c, d, e, f, g)| (a, b, c, i64::from(d), i64::from(e), f, g))
        });
        row.map(
            |(id, as_of, ran_ms, millis, customers, currency, details)| {
                Ok(ProfitRun {
                    id,
                    as_of,
                    ran_at: crate::from_ms(ran_ms),
                    millis,
                    customers,
                    currency,
                    details: serde_json::from_str(&details).map_err(json_err)?,
                })
            },
        )
        .transpose()
    }

    /// The stored pass summed over every customer, in one aggregate.
    pub async fn profit_totals(&self) -> Result<ProfitTotals> {
        let t = if matches!(self.backend, Backend::Postgres(_)) {
            "unprofitable"
        } else {
            "unprofitable = 1"
        };
        let s = |c: &str| format!("CAST(coalesce(sum({c}), 0) AS BIGINT)");
        let sql = format!(
            "SELECT count(*), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, \
             count(expected_margin_minor), count(CASE WHEN {t} THEN 1 END), \
             count(CASE WHEN margin_after_minor < 0 THEN 1 END), \
             count(CASE WHEN cost_interactions_minor > 0 THEN 1 END), \
             count(CASE WHEN cost_cases_minor > 0 THEN 1 END), \
             count(CASE WHEN cost_compensations_minor > 0 THEN 1 END), \
             count(CASE WHEN cost_offers_minor > 0 THEN 1 END) FROM customer_profit",
            s("revenue_minor"),
            s("goods_cost_minor"),
            s("gross_margin_minor"),
            s("interactions"),
            s("cost_interactions_minor"),
            s("cases"),
            s("cost_cases_minor"),
            s("cost_compensations_minor"),
            s("redemptions"),
            s("cost_offers_minor"),
            s("cost_to_serve_minor"),
            s("margin_after_minor"),
            s("expected_margin_minor"),
        );
        with_pool!(self, pool => {
            let r = sqlx::query(AssertSqlSafe(sql)).fetch_one(pool).await?;
            let i = |k: usize| r.try_get::<i64, _>(k);
            Ok(ProfitTotals {
                customers: i(0)?,
                revenue_minor: i(1)?,
                goods_cost_minor: i(2)?,
                gross_margin_minor: i(3)?,
                interactions: i(4)?,
                cost_interactions_minor: i(5)?,
                cases: i(6)?,
                cost_cases_minor: i(7)?,
                cost_compensations_minor: i(8)?,
                redemptions: i(9)?,
                cost_offers_minor: i(10)?,
                cost_to_serve_minor: i(11)?,
                margin_after_minor: i(12)?,
                expected_margin_minor: i(13)?,
                expected_customers: i(14)?,
                unprofitable: i(15)?,
                negative_margin: i(16)?,
                with_interactions: i(17)?,
                with_cases: i(18)?,
                with_compensations: i(19)?,
                with_offers: i(20)?,
            })
        })
    }

    /// Customers per margin bin: bin `k` holds `edges[k-1] <= margin < edges[k]`
    /// (bin 0 below the first edge, the last at or above the last edge).
    pub async fn profit_bins(&self, edges: &[i64]) -> Result<Vec<i64>> {
        let mut case = String::from("CASE");
        for (k, e) in edges.iter().enumerate() {
            let _ = write!(case, " WHEN margin_after_minor < {e} THEN {k}");
        }
        let _ = write!(case, " ELSE {} END", edges.len());
        let sql =
            format!("SELECT CAST({case} AS BIGINT), count(*) FROM customer_profit GROUP BY 1");
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        let mut out = vec![0; edges.len() + 1];
        for (k, n) in rows {
            if let Some(slot) = out.get_mut(k as usize) {
                *slot = n;
            }
        }
        Ok(out)
    }

    /// A page of the stored pass's customers (`limit` from `offset`) and how many match.
    pub async fn profit_customers(
        &self,
        filter: &ProfitFilter,
        sort: ProfitSort,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ProfitListRow>, i64)> {
        let pg = matches!(self.backend, Backend::Postgres(_));
        let cond = match filter {
            ProfitFilter::All => "true".to_string(),
            ProfitFilter::Unprofitable => {
                if pg {
                    "p.unprofitable".into()
                } else {
                    "p.unprofitable = 1".into()
                }
            }
            ProfitFilter::MarginBetween(lo, hi) => {
                let mut c = vec!["true".to_string()];
                if let Some(lo) = lo {
                    c.push(format!("p.margin_after_minor >= {lo}"));
                }
                if let Some(hi) = hi {
                    c.push(format!("p.margin_after_minor < {hi}"));
                }
                c.join(" AND ")
            }
            ProfitFilter::Component(c) => {
                let col = match *c {
                    "interactions" => "cost_interactions_minor",
                    "cases" => "cost_cases_minor",
                    "compensations" => "cost_compensations_minor",
                    "offers" => "cost_offers_minor",
                    _ => "goods_cost_minor",
                };
                format!("p.{col} > 0")
            }
        };
        let order = match sort {
            ProfitSort::Margin => "p.margin_after_minor, p.customer_id",
            ProfitSort::CostToServe => "p.cost_to_serve_minor DESC, p.customer_id",
            ProfitSort::Revenue => "p.revenue_minor DESC, p.customer_id",
        };
        let cols = select_columns();
        let sql = format!(
            "SELECT c.external_id, c.name, {cols} FROM customer_profit p \
             JOIN customers c ON c.id = p.customer_id WHERE {cond} ORDER BY {order} \
             LIMIT {} OFFSET {}",
            limit.clamp(0, 10_000),
            offset.max(0)
        );
        let count_sql = format!("SELECT count(*) FROM customer_profit p WHERE {cond}");
        with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(ProfitListRow {
                    external_id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    profit: profit_of(r, 2)?,
                });
            }
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(count_sql)).fetch_one(pool).await?;
            Ok((out, n))
        })
    }

    /// The stored row of one customer (by external id), if the pass has one.
    pub async fn customer_profit(&self, external_id: &str) -> Result<Option<ProfitListRow>> {
        let cols = select_columns();
        let sql = format!(
            "SELECT c.external_id, c.name, {cols} FROM customer_profit p \
             JOIN customers c ON c.id = p.customer_id WHERE c.external_id = $1"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(AssertSqlSafe(sql)).bind(external_id).fetch_optional(pool).await?;
            match row {
                Some(r) => Ok(Some(ProfitListRow {
                    external_id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    profit: profit_of(&r, 2)?,
                })),
                None => Ok(None),
            }
        })
    }

    /// The counts behind the reasons of `customers` (internal ids) over `w`: cases per
    /// severity, interactions per kind, claims paid.
    pub async fn reason_facts(
        &self,
        customers: &[i64],
        w: &ProfitWindow,
    ) -> Result<Vec<(i64, ReasonFacts)>> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let q = self.lit();
        let ids = customers
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let (from, until, cur) = (q.time(w.from), q.time(w.until), quote(&w.currency));
        let cases = format!(
            "SELECT customer_id, severity, count(*) FROM cases WHERE customer_id IN ({ids}) \
             AND opened_at >= {from} AND opened_at < {until} GROUP BY customer_id, severity"
        );
        let inter = format!(
            "SELECT customer_id, kind, count(*) FROM interactions WHERE customer_id IN ({ids}) \
             AND occurred_at >= {from} AND occurred_at < {until} GROUP BY customer_id, kind"
        );
        let claims = format!(
            "SELECT k.customer_id, 'paid', count(*) FROM claims cl JOIN cases k ON k.id = cl.case_id \
             WHERE k.customer_id IN ({ids}) AND cl.paid_at >= {from} AND cl.paid_at < {until} \
             AND cl.status = 'approved' AND (cl.currency IS NULL OR cl.currency = {cur}) \
             GROUP BY k.customer_id"
        );
        let mut out: Vec<(i64, ReasonFacts)> = customers
            .iter()
            .map(|c| (*c, ReasonFacts::default()))
            .collect();
        for (which, sql) in [(0, cases), (1, inter), (2, claims)] {
            let rows: Vec<(i64, String, i64)> = with_pool!(self, pool => {
                sqlx::query_as::<_, (i64, String, i64)>(AssertSqlSafe(sql)).fetch_all(pool).await?
            });
            for (c, what, n) in rows {
                if let Some((_, f)) = out.iter_mut().find(|(id, _)| *id == c) {
                    match which {
                        0 => f.cases.push((what, n)),
                        1 => f.interactions.push((what, n)),
                        _ => f.claims_paid += n,
                    }
                }
            }
        }
        Ok(out)
    }
}

impl Writer {
    /// Records a pass and replaces every customer's stored row with `rows`, in this
    /// writer's transaction. Returns the run's id.
    pub async fn save_profit_run(
        &mut self,
        run: &NewProfitRun,
        rows: &[CustomerProfit],
    ) -> Result<i64> {
        let details = run.details.to_string();
        let ran_ms = crate::to_ms(run.ran_at);
        let n = rows.len() as i64;
        let millis = run.millis.clamp(0, i64::from(i32::MAX));
        let run_id: i64 = match &mut self.tx {
            DbTx::Sqlite(tx) => {
                sqlx::query::<Sqlite>("DELETE FROM customer_profit")
                    .execute(&mut **tx)
                    .await?;
                sqlx::query_scalar::<Sqlite, i64>(
                    "INSERT INTO profit_runs (as_of, ran_ms, millis, customers, currency, details) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(run.as_of)
                .bind(ran_ms)
                .bind(millis)
                .bind(n)
                .bind(&run.currency)
                .bind(&details)
                .fetch_one(&mut **tx)
                .await?
            }
            DbTx::Postgres(tx) => {
                sqlx::query::<Postgres>("DELETE FROM customer_profit")
                    .execute(&mut **tx)
                    .await?;
                sqlx::query_scalar::<Postgres, i64>(
                    "INSERT INTO profit_runs (as_of, ran_ms, millis, customers, currency, details) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(run.as_of)
                .bind(ran_ms)
                .bind(millis as i32)
                .bind(n as i32)
                .bind(&run.currency)
                .bind(&details)
                .fetch_one(&mut **tx)
                .await?
            }
        };
        for chunk in rows.chunks(CHUNK) {
            match &mut self.tx {
                DbTx::Sqlite(tx) => {
                    let mut json = String::with_capacity(chunk.len() * 96);
                    json.push('[');
                    for (i, p) in chunk.iter().enumerate() {
                        if i > 0 {
                            json.push(',');
                        }
                        let _ = write!(
                            json,
                            "[{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}]",
                            p.customer_id,
                            p.revenue_minor,
                            p.goods_cost_minor,
                            p.gross_margin_minor,
                            p.interactions,
                            p.cost_interactions_minor,
                            p.cases,
                            p.cost_cases_minor,
                            p.cost_compensations_minor,
                            p.redemptions,
                            p.cost_offers_minor,
                            p.cost_to_serve_minor,
                            p.margin_after_minor,
                            p.expected_margin_minor
                                .map_or_else(|| "null".to_string(), |v| v.to_string()),
                            u8::from(p.unprofitable),
                        );
                    }
                    json.push(']');
                    let cols = (0..15)
                        .map(|k| format!("value->>{k}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    sqlx::query::<Sqlite>(AssertSqlSafe(format!(
                        "INSERT INTO customer_profit ({PROFIT_COLUMNS}, run_id) \
                         SELECT {cols}, $2 FROM json_each($1)"
                    )))
                    .bind(json)
                    .bind(run_id)
                    .execute(&mut **tx)
                    .await?;
                }
                DbTx::Postgres(tx) => {
                    let col = |f: fn(&CustomerProfit) -> i64| -> Vec<i64> {
                        chunk.iter().map(f).collect()
                    };
                    let int = |f: fn(&CustomerProfit) -> i64| -> Vec<i32> {
                        chunk
                            .iter()
                            .map(|p| f(p).clamp(0, i64::from(i32::MAX)) as i32)
                            .collect()
                    };
                    sqlx::query::<Postgres>(AssertSqlSafe(format!(
                        "INSERT INTO customer_profit ({PROFIT_COLUMNS}, run_id) \
                         SELECT *, $16 FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], \
                         $5::int4[], $6::int8[], $7::int4[], $8::int8[], $9::int8[], $10::int4[], \
                         $11::int8[], $12::int8[], $13::int8[], $14::int8[], $15::bool[])"
                    )))
                    .bind(col(|p| p.customer_id))
                    .bind(col(|p| p.revenue_minor))
                    .bind(col(|p| p.goods_cost_minor))
                    .bind(col(|p| p.gross_margin_minor))
                    .bind(int(|p| p.interactions))
                    .bind(col(|p| p.cost_interactions_minor))
                    .bind(int(|p| p.cases))
                    .bind(col(|p| p.cost_cases_minor))
                    .bind(col(|p| p.cost_compensations_minor))
                    .bind(int(|p| p.redemptions))
                    .bind(col(|p| p.cost_offers_minor))
                    .bind(col(|p| p.cost_to_serve_minor))
                    .bind(col(|p| p.margin_after_minor))
                    .bind(
                        chunk
                            .iter()
                            .map(|p| p.expected_margin_minor)
                            .collect::<Vec<Option<i64>>>(),
                    )
                    .bind(chunk.iter().map(|p| p.unprofitable).collect::<Vec<bool>>())
                    .bind(run_id)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(run_id)
    }
}

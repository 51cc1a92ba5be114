//! Model runs and per-customer scores: what `kanta score` writes and the API, the
//! customer page and the retention dashboard read.
//!
//! A run ([`NewModelRun`]) and its scores ([`CustomerScore`]) are written in one
//! transaction by [`Store::save_model_run`], which also sets each scored customer's
//! `customers.tier`; so readers see either the previous run or the whole new one.
//! Scores of runs older than the newest [`KEEP_SCORED_RUNS`] are pruned; the runs
//! themselves stay, as the record of what was fitted when. The run's audit entry is
//! written in the same transaction.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit::AuditEntry;
use crate::write::DbTx;
use crate::{Backend, Result, Store, StoreError, with_pool};

/// Runs whose scores are kept (older runs keep their figures, not their scores).
pub const KEEP_SCORED_RUNS: i64 = 12;

/// Revenue expected from the existing customers over the next `months`, with a
/// 90% interval, in minor units of the run's currency (`lower_minor` and
/// `upper_minor` equal `expected_minor` when the fit gave no covariance to draw from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueForecast {
    pub months: u32,
    pub expected_minor: i64,
    pub lower_minor: i64,
    pub upper_minor: i64,
}

/// A run to store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewModelRun {
    /// The chosen transaction model: `bgnbd`, `mbgnbd` or `pnbd`; `none` when the
    /// store has subscriptions and no orders (sBG alone).
    pub model: String,
    /// `gg` when spend was modelled.
    pub spend_model: Option<String>,
    /// The last day of the data the scores are computed at.
    pub as_of: NaiveDate,
    /// The end of the calibration period of the model choice, when there was a holdout.
    pub calibration_end: Option<NaiveDate>,
    /// The first purchase day in the data.
    pub first_purchase_on: Option<NaiveDate>,
    /// ISO 4217 code of the money figures.
    pub currency: Option<String>,
    /// Parameters, standard errors, fit and holdout figures of every candidate.
    pub details: serde_json::Value,
    pub forecast: Vec<RevenueForecast>,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRun {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub model: String,
    pub spend_model: Option<String>,
    pub as_of: NaiveDate,
    pub calibration_end: Option<NaiveDate>,
    pub first_purchase_on: Option<NaiveDate>,
    /// Customers scored.
    pub customers: i64,
    pub currency: Option<String>,
    pub details: serde_json::Value,
    pub forecast: Vec<RevenueForecast>,
}

/// A customer's newest scores as the API shows them ([`Store::customer_score_shown`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreShown {
    pub run_id: i64,
    pub model: String,
    pub currency: Option<String>,
    pub as_of: NaiveDate,
    pub score: CustomerScore,
}

/// One customer's scores in a run. Horizons are days (30, 90, 365) and months (12,
/// 36); money is minor units of the run's currency.
///
/// A customer's value has two parts: what their purchases are expected to bring (the
/// transaction model with Gamma-Gamma) and what their subscriptions are (sBG per
/// plan); `clv_12_minor` and `clv_36_minor` are the parts summed, and the tier is
/// the ABC rule over the summed 12-month value. A customer without orders has
/// `p_alive` 1 while a subscription runs and 0 otherwise, and no expected purchases;
/// a customer with neither orders nor subscriptions has CLV 0 and tier D.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct CustomerScore {
    /// The customer's internal id.
    pub customer_id: i64,
    /// Repeat purchase days the scores are based on (`lifetimes`' frequency).
    pub repeat_purchases: i64,
    pub p_alive: f64,
    pub expected_purchases_30: f64,
    pub expected_purchases_90: f64,
    pub expected_purchases_365: f64,
    /// Expected mean spend of a purchase.
    pub expected_spend_minor: Option<i64>,
    pub clv_12_minor: Option<i64>,
    pub clv_36_minor: Option<i64>,
    /// Value tier, `A` (most valuable) to `D`.
    pub tier: char,
    /// The purchase part of `clv_12_minor` (none without orders).
    pub purchase_clv_12_minor: Option<i64>,
    /// The purchase part of `clv_36_minor`.
    pub purchase_clv_36_minor: Option<i64>,
    /// Probability of making the next renewal (active subscribers; with several
    /// subscriptions, the one with the most value).
    pub renewal_probability: Option<f64>,
    /// Expected further payments, discounted at the run's rate (DERL, Fader & Hardie
    /// 2010), summed over the active subscriptions.
    pub expected_remaining_periods: Option<f64>,
    /// The subscription part of `clv_12_minor` (none without an active subscription).
    pub subscription_clv_12_minor: Option<i64>,
    /// The subscription part of `clv_36_minor`.
    pub subscription_clv_36_minor: Option<i64>,
}

/// A score with the customer's external id, as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreRow {
    pub customer: String,
    #[serde(flatten)]
    pub score: CustomerScore,
}

const RUN_COLUMNS: &str = "id, created_ms, model, spend_model, as_of, calibration_end, \
    first_purchase_on, customers, currency, CAST(details AS TEXT) AS details, \
    CAST(forecast AS TEXT) AS forecast";

const SCORE_COLUMNS: &str = "s.customer_id, s.repeat_purchases, s.p_alive, \
    s.expected_purchases_30, s.expected_purchases_90, s.expected_purchases_365, \
    s.expected_spend_minor, s.clv_12_minor, s.clv_36_minor, s.tier, \
    s.purchase_clv_12_minor, s.purchase_clv_36_minor, s.renewal_probability, \
    s.expected_remaining_periods, s.subscription_clv_12_minor, s.subscription_clv_36_minor";

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(Box::new(e)))
}

fn run_of<R: Row>(r: &R) -> Result<ModelRun>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<String>: sqlx::Decode<'q, R::Database>,
    for<'q> NaiveDate: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<NaiveDate>: sqlx::Decode<'q, R::Database>,
{
    let details: String = r.try_get("details")?;
    let forecast: String = r.try_get("forecast")?;
    Ok(ModelRun {
        id: r.try_get("id")?,
        created_at: Utc
            .timestamp_millis_opt(r.try_get("created_ms")?)
            .single()
            .unwrap_or_default(),
        model: r.try_get("model")?,
        spend_model: r.try_get("spend_model")?,
        as_of: r.try_get("as_of")?,
        calibration_end: r.try_get("calibration_end")?,
        first_purchase_on: r.try_get("first_purchase_on")?,
        customers: r.try_get("customers")?,
        currency: r.try_get("currency")?,
        details: serde_json::from_str(&details).map_err(json_err)?,
        forecast: serde_json::from_str(&forecast).map_err(json_err)?,
    })
}

fn score_of<R: Row>(r: &R) -> Result<CustomerScore>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<i64>: sqlx::Decode<'q, R::Database>,
    for<'q> f64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> Option<f64>: sqlx::Decode<'q, R::Database>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let tier: String = r.try_get("tier")?;
    Ok(CustomerScore {
        customer_id: r.try_get("customer_id")?,
        repeat_purchases: r.try_get("repeat_purchases")?,
        p_alive: r.try_get("p_alive")?,
        expected_purchases_30: r.try_get("expected_purchases_30")?,
        expected_purchases_90: r.try_get("expected_purchases_90")?,
        expected_purchases_365: r.try_get("expected_purchases_365")?,
        expected_spend_minor: r.try_get("expected_spend_minor")?,
        clv_12_minor: r.try_get("clv_12_minor")?,
        clv_36_minor: r.try_get("clv_36_minor")?,
        tier: tier.chars().next().unwrap_or('D'),
        purchase_clv_12_minor: r.try_get("purchase_clv_12_minor")?,
        purchase_clv_36_minor: r.try_get("purchase_clv_36_minor")?,
        renewal_probability: r.try_get("renewal_probability")?,
        expected_remaining_periods: r.try_get("expected_remaining_periods")?,
        subscription_clv_12_minor: r.try_get("subscription_clv_12_minor")?,
        subscription_clv_36_minor: r.try_get("subscription_clv_36_minor")?,
    })
}

/// Score rows per SQLite INSERT statement (17 parameters each, under SQLite's
/// 32,766).
const SQLITE_ROWS_PER_INSERT: usize = 1_900;
/// Score rows per PostgreSQL `UNNEST` insert.
const PG_ROWS_PER_INSERT: usize = 50_000;

impl Store {
    /// Stores a run and its scores in one transaction, sets `customers.tier` of every
    /// scored customer to its score's tier, and prunes the scores of runs older than
    /// the newest [`KEEP_SCORED_RUNS`]. Returns the run's id.
    ///
    /// `audit` is recorded in the same transaction; its `record_id` defaults to the
    /// run's id, and its `details` gain the run's `model`, `spend_model`, `as_of` and
    /// `customers` (keys the caller gave win).
    pub async fn save_model_run(
        &self,
        run: &NewModelRun,
        scores: &[CustomerScore],
        audit: &AuditEntry,
    ) -> Result<i64> {
        if let Some(s) = scores.iter().find(|s| !matches!(s.tier, 'A'..='D')) {
            return Err(StoreError::Db(sqlx::Error::Protocol(format!(
                "customer {} has tier '{}', not A-D",
                s.customer_id, s.tier
            ))));
        }
        let details = run.details.to_string();
        let forecast = serde_json::to_string(&run.forecast).map_err(json_err)?;
        let now = Utc::now().timestamp_millis();
        let customers = scores.len() as i64;
        let json = match self.backend {
            Backend::Postgres(_) => "CAST($9 AS JSONB), CAST($10 AS JSONB)",
            Backend::Sqlite(_) => "$9, $10",
        };
        let insert_run = format!(
            "INSERT INTO model_runs (created_ms, model, spend_model, as_of, calibration_end, \
             first_purchase_on, customers, currency, details, forecast) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {json}) RETURNING id"
        );
        let set_tiers = "UPDATE customers SET tier = s.tier FROM customer_scores s \
             WHERE s.run_id = $1 AND customers.id = s.customer_id \
             AND (customers.tier IS NULL OR customers.tier <> s.tier)";
        let prune = "DELETE FROM customer_scores WHERE run_id IN \
             (SELECT id FROM model_runs WHERE id <= $1 - $2)";
        let entry = |id: i64| {
            let details = serde_json::json!({
                "model": run.model,
                "spend_model": run.spend_model,
                "as_of": run.as_of,
                "customers": customers,
            });
            audit.completed(id, serde_json::Value::Null, details)
        };
        macro_rules! run_query {
            ($tx:expr) => {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(insert_run.clone()))
                    .bind(now)
                    .bind(&run.model)
                    .bind(&run.spend_model)
                    .bind(run.as_of)
                    .bind(run.calibration_end)
                    .bind(run.first_purchase_on)
                    .bind(customers)
                    .bind(&run.currency)
                    .bind(&details)
                    .bind(&forecast)
                    .fetch_one(&mut *$tx)
                    .await?
            };
        }
        let id = match &self.backend {
            Backend::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let id = run_query!(tx);
                for chunk in scores.chunks(SQLITE_ROWS_PER_INSERT) {
                    let mut sql = String::with_capacity(64 + chunk.len() * 40);
                    sql.push_str(
                        "INSERT INTO customer_scores (run_id, customer_id, repeat_purchases, \
                         p_alive, expected_purchases_30, expected_purchases_90, \
                         expected_purchases_365, expected_spend_minor, clv_12_minor, \
                         clv_36_minor, tier, purchase_clv_12_minor, purchase_clv_36_minor, \
                         renewal_probability, expected_remaining_periods, \
                         subscription_clv_12_minor, subscription_clv_36_minor) VALUES ",
                    );
                    // Anonymous `?` parameters: SQLite looks numbered ones up in a
                    // list, which makes a statement with thousands of them quadratic.
                    for i in 0..chunk.len() {
                        if i > 0 {
                            sql.push(',');
                        }
                        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
                    }
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for s in chunk {
                        q = q
                            .bind(id)
                            .bind(s.customer_id)
                            .bind(s.repeat_purchases)
                            .bind(s.p_alive)
                            .bind(s.expected_purchases_30)
                            .bind(s.expected_purchases_90)
                            .bind(s.expected_purchases_365)
                            .bind(s.expected_spend_minor)
                            .bind(s.clv_12_minor)
                            .bind(s.clv_36_minor)
                            .bind(s.tier.to_string())
                            .bind(s.purchase_clv_12_minor)
                            .bind(s.purchase_clv_36_minor)
                            .bind(s.renewal_probability)
                            .bind(s.expected_remaining_periods)
                            .bind(s.subscription_clv_12_minor)
                            .bind(s.subscription_clv_36_minor);
                    }
                    q.execute(&mut *tx).await?;
                }
                sqlx::query(set_tiers).bind(id).execute(&mut *tx).await?;
                sqlx::query(prune)
                    .bind(id)
                    .bind(KEEP_SCORED_RUNS)
                    .execute(&mut *tx)
                    .await?;
                let mut tx = DbTx::Sqlite(tx);
                tx.audit(&entry(id)).await?;
                tx.commit().await?;
                id
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let id = run_query!(tx);
                for chunk in scores.chunks(PG_ROWS_PER_INSERT) {
                    let col =
                        |f: fn(&CustomerScore) -> i64| chunk.iter().map(f).collect::<Vec<_>>();
                    let colf =
                        |f: fn(&CustomerScore) -> f64| chunk.iter().map(f).collect::<Vec<_>>();
                    let colo = |f: fn(&CustomerScore) -> Option<i64>| {
                        chunk.iter().map(f).collect::<Vec<_>>()
                    };
                    let colof = |f: fn(&CustomerScore) -> Option<f64>| {
                        chunk.iter().map(f).collect::<Vec<_>>()
                    };
                    sqlx::query(
                        "INSERT INTO customer_scores (run_id, customer_id, repeat_purchases, \
                         p_alive, expected_purchases_30, expected_purchases_90, \
                         expected_purchases_365, expected_spend_minor, clv_12_minor, \
                         clv_36_minor, tier, purchase_clv_12_minor, purchase_clv_36_minor, \
                         renewal_probability, expected_remaining_periods, \
                         subscription_clv_12_minor, subscription_clv_36_minor) \
                         SELECT $1, * FROM UNNEST($2::int8[], $3::int8[], $4::float8[], \
                         $5::float8[], $6::float8[], $7::float8[], $8::int8[], $9::int8[], \
                         $10::int8[], $11::text[], $12::int8[], $13::int8[], $14::float8[], \
                         $15::float8[], $16::int8[], $17::int8[])",
                    )
                    .bind(id)
                    .bind(col(|s| s.customer_id))
                    .bind(col(|s| s.repeat_purchases))
                    .bind(colf(|s| s.p_alive))
                    .bind(colf(|s| s.expected_purchases_30))
                    .bind(colf(|s| s.expected_purchases_90))
                    .bind(colf(|s| s.expected_purchases_365))
                    .bind(colo(|s| s.expected_spend_minor))
                    .bind(colo(|s| s.clv_12_minor))
                    .bind(colo(|s| s.clv_36_minor))
                    .bind(chunk.iter().map(|s| s.tier.to_string()).collect::<Vec<_>>())
                    .bind(colo(|s| s.purchase_clv_12_minor))
                    .bind(colo(|s| s.purchase_clv_36_minor))
                    .bind(colof(|s| s.renewal_probability))
                    .bind(colof(|s| s.expected_remaining_periods))
                    .bind(colo(|s| s.subscription_clv_12_minor))
                    .bind(colo(|s| s.subscription_clv_36_minor))
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(set_tiers).bind(id).execute(&mut *tx).await?;
                sqlx::query(prune)
                    .bind(id)
                    .bind(KEEP_SCORED_RUNS)
                    .execute(&mut *tx)
                    .await?;
                let mut tx = DbTx::Postgres(tx);
                tx.audit(&entry(id)).await?;
                tx.commit().await?;
                id
            }
        };
        self.wrote();
        Ok(id)
    }

    /// Sets the member `key` of run `id`'s details to `value` (a figure derived from the
    /// run alone and kept with it, such as the retention economics' "+5 points").
    pub async fn set_model_run_detail(
        &self,
        id: i64,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()> {
        let text = value.to_string();
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query(
                    "UPDATE model_runs SET details = json_set(details, '$.' || $1, json($2)) WHERE id = $3",
                )
                .bind(key)
                .bind(text)
                .bind(id)
                .execute(pool)
                .await?;
            }
            Backend::Postgres(pool) => {
                sqlx::query(
                    "UPDATE model_runs SET details = jsonb_set(details, ARRAY[$1::text], $2::jsonb) WHERE id = $3",
                )
                .bind(key)
                .bind(text)
                .bind(id)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }

    /// The newest run, if any.
    pub async fn latest_model_run(&self) -> Result<Option<ModelRun>> {
        Ok(self.model_runs(None, 1).await?.into_iter().next())
    }

    /// The run the figures of `as_of` rest on: the newest of the runs whose data end
    /// on or before `as_of` (by their `as_of`, then the newest of a day).
    pub async fn model_run_as_of(&self, as_of: NaiveDate) -> Result<Option<ModelRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM model_runs WHERE as_of <= $1 ORDER BY as_of DESC, id DESC LIMIT 1"
        );
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(as_of).fetch_optional(pool).await?;
            row.as_ref().map(run_of).transpose()
        })
    }

    /// One run by id.
    pub async fn model_run(&self, id: i64) -> Result<Option<ModelRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM model_runs WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(run_of).transpose()
        })
    }

    /// Runs newest first, `limit` of them, those older than run `before` when given
    /// (keyset paging by id).
    pub async fn model_runs(&self, before: Option<i64>, limit: u32) -> Result<Vec<ModelRun>> {
        let sql =
            format!("SELECT {RUN_COLUMNS} FROM model_runs WHERE id < $1 ORDER BY id DESC LIMIT $2");
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(before.unwrap_or(i64::MAX))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter().map(run_of).collect()
        })
    }

    /// What the API shows of a customer's newest scores, found by the customer's
    /// external id in one statement: the scores with their run's id, model, currency
    /// and day (not the run's details, which the answer does not show). `None` when
    /// there is no such customer; `Some(None)` when no run scored them.
    pub async fn customer_score_shown(
        &self,
        external_id: &str,
    ) -> Result<Option<Option<ScoreShown>>> {
        let sql = format!(
            "SELECT c.id AS cid, {SCORE_COLUMNS}, s.run_id, m.model, m.currency, m.as_of \
             FROM customers c \
             LEFT JOIN customer_scores s ON s.customer_id = c.id AND s.run_id = \
               (SELECT max(x.run_id) FROM customer_scores x WHERE x.customer_id = c.id) \
             LEFT JOIN model_runs m ON m.id = s.run_id \
             WHERE c.external_id = $1"
        );
        with_pool!(self, pool => {
            let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(external_id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let model: Option<String> = r.try_get("model")?;
            let (Some(run_id), Some(model)) = (r.try_get::<Option<i64>, _>("run_id")?, model) else {
                return Ok(Some(None));
            };
            Ok(Some(Some(ScoreShown {
                run_id,
                model,
                currency: r.try_get("currency")?,
                as_of: r.try_get("as_of")?,
                score: score_of(&r)?,
            })))
        })
    }

    /// A customer's scores in the newest run that scored them, with that run.
    pub async fn customer_score(
        &self,
        customer_id: i64,
    ) -> Result<Option<(ModelRun, CustomerScore)>> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS}, s.run_id FROM customer_scores s \
             WHERE s.customer_id = $1 ORDER BY s.run_id DESC LIMIT 1"
        );
        let found = with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(customer_id).fetch_optional(pool).await?;
            match row {
                Some(r) => Some((score_of(&r)?, r.try_get::<i64, _>("run_id")?)),
                None => None,
            }
        });
        let Some((score, run_id)) = found else {
            return Ok(None);
        };
        Ok(self.model_run(run_id).await?.map(|run| (run, score)))
    }

    /// A run's scores by customer external id, `limit` of them after the customer
    /// `after` (keyset paging), with an optional tier filter. `None` when the run's
    /// scores were pruned or the run does not exist.
    pub async fn run_scores(
        &self,
        run_id: i64,
        tier: Option<char>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ScoreRow>> {
        let sql = format!(
            "SELECT {SCORE_COLUMNS}, c.external_id FROM customer_scores s \
             JOIN customers c ON c.id = s.customer_id \
             WHERE s.run_id = $1 AND ($2 IS NULL OR s.tier = $2) AND c.external_id > $3 \
             ORDER BY c.external_id LIMIT $4"
        );
        let tier = tier.map(|t| t.to_string());
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run_id)
                .bind(tier.as_deref())
                .bind(after.unwrap_or(""))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(ScoreRow {
                        customer: r.try_get("external_id")?,
                        score: score_of(r)?,
                    })
                })
                .collect()
        })
    }
}

//! Retention economics for this business (issue 14; seed 003's leaky bucket, computed
//! rather than quoted): [`Core::retention_economics`].
//!
//! - **Five more points of 12-month retention**: from the newest model run (its fitted
//!   parameters in `model_runs.details`), today's base valued as the scores value it
//!   (CLV over 12 and 36 months at the run's margin and discount rate), and again with
//!   the dropout lowered so that the base's 12-month retention is five points higher;
//!   the difference with a 95 % interval. The mathematics is
//!   [`kanta_models::economics`]: buyers' dropout hazard from today on multiplied by
//!   one factor (BG/NBD, MBG/NBD or Pareto/NBD, whichever the run chose), subscribers'
//!   sBG β multiplied by one factor (per plan's fit). The per-customer data are read
//!   again as the run read them (purchase days up to its `as_of` in the store's zone,
//!   subscriptions as of then), so the figure describes the run's base.
//! - **The interval**: a parametric bootstrap of [`DRAWS`] draws of every fit's
//!   parameters from their asymptotic normal distribution on the log scale (the
//!   covariance from the likelihood's Hessian at the stored estimates, recomputed on
//!   the same data, since a run stores standard errors but not the covariance), each
//!   draw evaluated on an even spread of up to [`SAMPLE`] customers (and
//!   subscriptions) and applied to the whole base as a ratio, as the forecast's
//!   interval is; the 2.5th to 97.5th percentile.
//! - **The cost of winning a customer** (`customers.acquisition_cost` where recorded:
//!   mean and count) and **of keeping one** (the newest profitability pass's cost to
//!   serve per served customer over its 12 months; said plainly when no pass ran).
//! - **Churn reasons by journey stage** ([`kanta_store::churn_stages`]): ended
//!   customers by stage and reason code, with their cases of the 90 days before.
//!
//! Who may read it: viewers (analysts), managers and admins; staff are refused, as for
//! the value page.

use chrono::{DateTime, NaiveDate, Utc};
use kanta_domain::subscription::{Period, Subscription, billed_periods};
use kanta_models::economics::{
    BuyerBase, HORIZONS, PartGain, RETENTION_POINTS, SubscriptionTerm, Valuation, buyer_gain,
    percentile_interval, sbg_log_covariance, spend_log_covariance, subscriber_gain,
    transaction_log_covariance,
};
use kanta_models::fit::{Params, log_normal_draw};
use kanta_models::sbg::{History, SurvivorData};
use kanta_models::summary::{TimeUnit, day_number};
use kanta_models::{
    GammaGammaParams, ModelKind, RfmData, RfmRow, SbgParams, SpendData, SpendRow, TransactionModel,
    TransactionParams,
};
use kanta_store::churn_stages::STAGES;
use kanta_store::purchases::{PurchaseDays, SubscriptionRow};
use kanta_store::scores::ModelRun;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::{Core, CoreError, Result};

/// The member of a model run's details that keeps its "+5 points" figure.
pub const FIVE_POINTS_DETAIL: &str = "five_points";

/// Parameter draws behind the interval.
pub const DRAWS: usize = 100;
/// Customers (an even spread) and subscriptions each draw is evaluated on.
pub const SAMPLE: usize = 400;
/// The interval's level.
pub const LEVEL: f64 = 0.95;
const DAYS_PER_WEEK: f64 = 7.0;
const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

/// The model run the figure rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRef {
    pub id: i64,
    pub as_of: NaiveDate,
    pub created_at: DateTime<Utc>,
    /// The buyers' model code (`bgnbd`, `mbgnbd`, `pnbd`; `none`: subscribers only).
    pub model: String,
}

/// One part of the base (buyers or subscribers) under the scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartFigures {
    /// The model: `bgnbd`, `mbgnbd`, `pnbd` or `sbg`.
    pub model: String,
    /// Customers (buyers) or active subscriptions (subscribers) valued.
    pub units: usize,
    /// Expected living customers today (Σ P(alive)); active subscriptions.
    pub alive: f64,
    /// 12-month retention today and with the scenario, 0-1.
    pub retention: f64,
    pub retention_after: f64,
    /// Buyers: the dropout hazard's multiplier (< 1); subscribers: β's multiplier (> 1).
    pub factor: f64,
    /// Value today over 12 and 36 months (minor units).
    pub value_minor: [i64; 2],
    /// What the points add over 12 and 36 months.
    pub gain_minor: [i64; 2],
}

/// The "+5 points" figure of one model run (its id), or why there is none.
pub(crate) type FivePointsCache =
    std::sync::Arc<std::sync::Mutex<Option<(i64, std::result::Result<FivePoints, String>)>>>;

/// What five more points of 12-month retention are worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FivePoints {
    /// The points (0.05).
    pub points: f64,
    /// The horizons of the value arrays, in months (12, 36).
    pub horizons: [u32; 2],
    /// The base's value today (both parts) over 12 and 36 months (minor units).
    pub value_minor: [i64; 2],
    /// What the points add (both parts).
    pub gain_minor: [i64; 2],
    /// The 95 % interval of the gain per horizon; `None` when no fit gave a covariance.
    pub interval_minor: [Option<(i64, i64)>; 2],
    /// The gain as a share of today's value.
    pub gain_share: [f64; 2],
    /// Draws that gave finite figures.
    pub draws: usize,
    pub buyers: Option<PartFigures>,
    /// Why buyers are not in the figure, when they are not.
    pub buyers_note: Option<String>,
    pub subscribers: Option<PartFigures>,
    pub subscribers_note: Option<String>,
    /// How it was computed, in one paragraph (English, for the API and the record).
    pub method: String,
}

/// The business's cost of winning a customer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Acquisition {
    /// Customers whose acquisition cost is recorded (in the store's currency).
    pub customers: i64,
    pub total_minor: i64,
    /// `total / customers`.
    pub mean_minor: Option<i64>,
    /// Customers whose cost is recorded in another currency (left out).
    pub other_currency: i64,
}

/// The business's cost of keeping a customer, from the newest profitability pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Keeping {
    /// The pass (none before the first).
    pub run_id: Option<i64>,
    pub as_of: Option<NaiveDate>,
    /// Customers the pass served (revenue or a cost in its 12 months).
    pub served: i64,
    /// Their cost to serve summed.
    pub cost_to_serve_minor: i64,
    /// Cost to serve per served customer-year.
    pub per_customer_year_minor: Option<i64>,
    /// Why there is no figure, when there is none.
    pub note: Option<String>,
}

/// Ended customers of one journey stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageFigures {
    /// `onboarding`, `first_90_days`, `around_renewal` or `established`.
    pub stage: String,
    pub customers: i64,
    /// (reason code, customers), most first; `unknown` when none was recorded.
    pub reasons: Vec<(String, i64)>,
    /// (case category, cases, customers) of the 90 days before the end, most first.
    pub cases: Vec<(String, i64, i64)>,
}

/// Churn reasons by journey stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChurnByStage {
    /// Ended customers in all.
    pub ended: i64,
    /// Every stage in [`STAGES`] order (empty ones too).
    pub stages: Vec<StageFigures>,
    /// The stage rule in one sentence.
    pub rule: String,
}

/// Retention economics for this business (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionEconomics {
    /// The store's currency (ISO 4217).
    pub currency: String,
    pub run: Option<RunRef>,
    pub five_points: Option<FivePoints>,
    /// Why there is no five-points figure, when there is none.
    pub five_points_note: Option<String>,
    pub acquisition: Acquisition,
    pub keeping: Keeping,
    /// Winning a customer costs this many times a year of keeping one.
    pub acquisition_to_keeping: Option<f64>,
    pub churn: ChurnByStage,
}

/// The stage rule, for people.
pub const STAGE_RULE: &str = "the stage when the relationship ended: onboarding (an onboarding still open, or within 30 days of the start), first 90 days (within 90 days of the start), around renewal (a subscription renewing or ending within 30 days of the end), established (otherwise); the start is acquired_on, else the first purchase, else the first subscription";

impl Core {
    /// Retention economics: what five more points of 12-month retention are worth
    /// (from the newest model run), the costs of winning and keeping a customer, and
    /// churn reasons by journey stage. Viewers, managers and admins.
    pub async fn retention_economics(&self, acting: &Acting) -> Result<RetentionEconomics> {
        if acting.role() == Role::Staff {
            return Err(CoreError::Forbidden(
                "retention economics are for managers, admins and viewers (analysts); staff see their customers' pages".into(),
            ));
        }
        require(acting, Role::Viewer)?;
        let currency = self.currency().await?;
        let store = self.store();
        let run = store.latest_model_run().await?;
        let (five_points, five_points_note) = match &run {
            None => (
                None,
                Some("no model run yet: score the customers first (kanta score)".to_string()),
            ),
            Some(run) => match self.five_points_of(run, None).await {
                Ok(f) => (Some(f), None),
                Err(why) => (None, Some(why)),
            },
        };
        let acquisition = {
            let rows = store.acquisition_costs().await?;
            let mine = |c: &Option<String>| c.as_deref().is_none_or(|c| c == currency.code());
            let (customers, total_minor) = rows
                .iter()
                .filter(|r| mine(&r.currency))
                .fold((0, 0i64), |(n, t), r| {
                    (n + r.customers, t.saturating_add(r.total_minor))
                });
            Acquisition {
                customers,
                total_minor,
                mean_minor: (customers > 0)
                    .then(|| (total_minor as f64 / customers as f64).round() as i64),
                other_currency: rows
                    .iter()
                    .filter(|r| !mine(&r.currency))
                    .map(|r| r.customers)
                    .sum(),
            }
        };
        let keeping = match store.serve_costs().await? {
            None => Keeping {
                run_id: None,
                as_of: None,
                served: 0,
                cost_to_serve_minor: 0,
                per_customer_year_minor: None,
                note: Some("no profitability pass yet: the cost to serve is computed by the value page's refresh (kanta report value --refresh)".into()),
            },
            Some(s) => Keeping {
                run_id: Some(s.run_id),
                as_of: Some(s.as_of),
                served: s.served,
                cost_to_serve_minor: s.cost_to_serve_minor,
                per_customer_year_minor: (s.served > 0)
                    .then(|| (s.cost_to_serve_minor as f64 / s.served as f64).round() as i64),
                note: (s.served == 0).then(|| {
                    format!(
                        "the profitability pass as of {} served no customers",
                        s.as_of
                    )
                }),
            },
        };
        let acquisition_to_keeping = match (acquisition.mean_minor, keeping.per_customer_year_minor)
        {
            (Some(a), Some(k)) if k > 0 => Some(a as f64 / k as f64),
            _ => None,
        };
        let churn = {
            let data = store.churn_stages().await?;
            let stages: Vec<StageFigures> = STAGES
                .iter()
                .map(|stage| {
                    let mut reasons: Vec<(String, i64)> = data
                        .reasons
                        .iter()
                        .filter(|r| r.stage == *stage)
                        .map(|r| (r.reason.clone(), r.customers))
                        .collect();
                    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                    let mut cases: Vec<(String, i64, i64)> = data
                        .cases
                        .iter()
                        .filter(|c| c.stage == *stage)
                        .map(|c| (c.category.clone(), c.cases, c.customers))
                        .collect();
                    cases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                    StageFigures {
                        stage: (*stage).to_string(),
                        customers: reasons.iter().map(|r| r.1).sum(),
                        reasons,
                        cases,
                    }
                })
                .collect();
            ChurnByStage {
                ended: stages.iter().map(|s| s.customers).sum(),
                stages,
                rule: STAGE_RULE.to_string(),
            }
        };
        Ok(RetentionEconomics {
            currency: currency.code().to_string(),
            run: run.as_ref().map(|r| RunRef {
                id: r.id,
                as_of: r.as_of,
                created_at: r.created_at,
                model: r.model.clone(),
            }),
            five_points,
            five_points_note,
            acquisition,
            keeping,
            acquisition_to_keeping,
            churn,
        })
    }

    /// The five-points figure of a run; `Err` says why there is none.
    /// [`Core::five_points`] of `run`, computed once per run (the figure rests on the
    /// run's parameters and scores alone) and kept in its details: whoever scores asks
    /// for it first ([`Core::warm_retention_economics`]), so a page reads it back.
    async fn five_points_of(
        &self,
        run: &ModelRun,
        days: Option<Vec<PurchaseDays>>,
    ) -> std::result::Result<FivePoints, String> {
        if let Some((id, f)) = self.five_points_cache.lock().expect("cache lock").as_ref()
            && *id == run.id
        {
            return f.clone();
        }
        // Kept with the run once computed: a restarted server reads it back at once.
        let kept = run
            .details
            .get(FIVE_POINTS_DETAIL)
            .and_then(|v| serde_json::from_value::<FivePoints>(v.clone()).ok());
        let f = match kept {
            Some(f) => Ok(f),
            None => {
                let f = self.five_points(run, days).await;
                if let Ok(figure) = &f {
                    let kept = match serde_json::to_value(figure) {
                        Ok(v) => self
                            .store()
                            .set_model_run_detail(run.id, FIVE_POINTS_DETAIL, &v)
                            .await
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    if let Err(e) = kept {
                        tracing::warn!("cannot keep the +5 points figure with run {}: {e}", run.id);
                    }
                }
                f
            }
        };
        *self.five_points_cache.lock().expect("cache lock") = Some((run.id, f.clone()));
        f
    }

    /// Computes the newest run's figure ahead of a page asking for it (after scoring:
    /// the score job, `kanta score`, the demo) and keeps it with the run; problems are
    /// only logged. `days`: the run's purchase days when the caller has them (the
    /// score it just ran, [`crate::scoring::ScoreReport::purchase_days`]), else they
    /// are read from the store again.
    pub async fn warm_retention_economics(&self, days: Option<Vec<PurchaseDays>>) {
        match self.store().latest_model_run().await {
            Ok(Some(run)) => {
                let _ = self.five_points_of(&run, days).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot read the newest model run: {e}"),
        }
    }

    async fn five_points(
        &self,
        run: &ModelRun,
        days: Option<Vec<PurchaseDays>>,
    ) -> std::result::Result<FivePoints, String> {
        let store = self.store();
        let d = &run.details;
        let margin = d["clv"]["margin"].as_f64().unwrap_or(1.0);
        let rate = d["clv"]["monthly_discount_rate"].as_f64().unwrap_or(0.01);
        let minor_per_unit = run
            .currency
            .as_deref()
            .and_then(|c| c.parse::<kanta_domain::Currency>().ok())
            .map_or(100.0, |c| 10f64.powi(c.minor_digits() as i32));
        let val = Valuation {
            units_per_month: TimeUnit::Week.lifetimes_units_per_month(),
            margin,
            monthly_discount_rate: rate,
        };
        // Buyers: the run's purchase days again.
        let buyers_input = if run.model == "none" {
            Err("the run has no orders to model (subscriptions only)".to_string())
        } else {
            let days = match days.filter(|d| !d.is_empty()) {
                Some(d) => d,
                None => {
                    let zone = self.time_zone().await.map_err(|e| e.to_string())?;
                    let day = day_number(run.as_of);
                    let windows = store
                        .purchase_windows_in(zone, day, day)
                        .await
                        .map_err(|e| e.to_string())?;
                    windows.iter().map(|w| w.whole).collect()
                }
            };
            buyer_input(run, days, minor_per_unit)
        };
        let subs = if d["subscriptions"].is_null() {
            Vec::new()
        } else {
            store
                .scoring_subscriptions(run.as_of)
                .await
                .map_err(|e| e.to_string())?
        };
        let as_of = run.as_of;
        let details = d.clone();
        tokio::task::spawn_blocking(move || {
            let buyers = buyers_input.and_then(|b| buyer_part(&b, &val, minor_per_unit));
            let subscribers =
                subscriber_input(&details, &subs, as_of).and_then(|s| subscriber_part(&s, &val));
            combine(buyers, subscribers)
        })
        .await
        .map_err(|e| format!("the computation failed: {e}"))?
    }
}

/// The buyers' model, spend and per-customer data of a run.
struct BuyerInput {
    model: TransactionParams,
    spend: GammaGammaParams,
    rows: Vec<RfmRow>,
    /// Mean repeat spend in major units.
    monetary: Vec<f64>,
}

fn param_values(v: &Value, names: &[&str]) -> Option<Vec<f64>> {
    names
        .iter()
        .map(|n| v.get(*n).and_then(Value::as_f64))
        .collect()
}

fn buyer_input(
    run: &ModelRun,
    days: Vec<PurchaseDays>,
    minor_per_unit: f64,
) -> std::result::Result<BuyerInput, String> {
    let kind: ModelKind = run
        .model
        .parse()
        .map_err(|e| format!("the run's model {:?}: {e}", run.model))?;
    let values = param_values(&run.details["fit"]["params"], kind.param_names())
        .ok_or("the run stores no parameters of its purchase model")?;
    let model = TransactionParams::from_values(kind, &values).map_err(|e| e.to_string())?;
    let spend = param_values(&run.details["spend"]["params"], &["p", "q", "gamma"])
        .map(|v| GammaGammaParams::from_slice(&v))
        .filter(|s| s.q > 1.0)
        .ok_or("the run has no spend model (Gamma-Gamma), so its buyers have no money value")?;
    if days.is_empty() {
        return Err("no customer bought on or before the run's day".into());
    }
    let end = day_number(run.as_of);
    let rows = days
        .iter()
        .map(|p| {
            RfmRow::new(
                p.frequency() as f64,
                f64::from(p.last_day - p.first_day) / DAYS_PER_WEEK,
                f64::from(end - p.first_day) / DAYS_PER_WEEK,
            )
        })
        .collect();
    let monetary = days
        .iter()
        .map(|p| p.monetary_value_minor() / minor_per_unit)
        .collect();
    Ok(BuyerInput {
        model,
        spend,
        rows,
        monetary,
    })
}

/// A part's figures and its draws of the gain (whole base, per horizon).
struct Part {
    figures: PartFigures,
    gain: [f64; 2],
    value: [f64; 2],
    /// Per draw, the gain per horizon (minor units); `None`: no covariance.
    draws: Option<Vec<[f64; 2]>>,
}

fn minor(v: [f64; 2], per_unit: f64) -> [i64; 2] {
    [
        (v[0] * per_unit).round() as i64,
        (v[1] * per_unit).round() as i64,
    ]
}

fn figures(model: &str, g: &PartGain, per_unit: f64) -> PartFigures {
    PartFigures {
        model: model.to_string(),
        units: g.units,
        alive: g.alive,
        retention: g.retention,
        retention_after: g.retention_after,
        factor: g.factor,
        value_minor: minor(g.value, per_unit),
        gain_minor: minor(g.gain, per_unit),
    }
}

/// An even spread of up to [`SAMPLE`] indices of `n`.
fn spread(n: usize) -> Vec<usize> {
    let step = n.div_ceil(SAMPLE).max(1);
    (0..n).step_by(step).collect()
}

fn normals(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(rng)).collect()
}

/// Each draw's gain as a ratio to the sample's own, applied to the whole base's.
fn ratio_draws(point: [f64; 2], sample: [f64; 2], draws: Vec<Option<[f64; 2]>>) -> Vec<[f64; 2]> {
    draws
        .into_iter()
        .flatten()
        .filter(|g| g.iter().all(|v| v.is_finite()))
        .map(|g| {
            let mut out = [0.0; 2];
            for h in 0..2 {
                out[h] = if sample[h] != 0.0 {
                    point[h] * g[h] / sample[h]
                } else {
                    point[h]
                };
            }
            out
        })
        .collect()
}

fn buyer_part(b: &BuyerInput, val: &Valuation, per_unit: f64) -> std::result::Result<Part, String> {
    let base = BuyerBase {
        model: b.model,
        spend: b.spend,
        rows: &b.rows,
        monetary: &b.monetary,
    };
    let g = buyer_gain(&base, val, RETENTION_POINTS).map_err(|e| format!("buyers: {e}"))?;
    let model_code = ModelKind::code(TransactionModel::kind(&b.model)).to_string();
    // The covariance at the stored estimates, on the same data.
    let cov = RfmData::from_rows(&b.rows)
        .ok()
        .and_then(|d| transaction_log_covariance(&b.model, &d));
    let spend_rows: Vec<SpendRow> = b
        .rows
        .iter()
        .zip(&b.monetary)
        .filter(|(r, m)| r.frequency > 0.0 && **m > 0.0)
        .map(|(r, m)| SpendRow::new(r.frequency, *m))
        .collect();
    let spend_cov = SpendData::from_rows(&spend_rows)
        .ok()
        .and_then(|d| spend_log_covariance(&b.spend, &d));
    let draws = cov.map(|cov| {
        let ix = spread(b.rows.len());
        let rows: Vec<RfmRow> = ix.iter().map(|&i| b.rows[i]).collect();
        let monetary: Vec<f64> = ix.iter().map(|&i| b.monetary[i]).collect();
        let sample = BuyerBase {
            rows: &rows,
            monetary: &monetary,
            ..base
        };
        let own = buyer_gain(&sample, val, RETENTION_POINTS)
            .map(|s| s.gain)
            .unwrap_or([f64::NAN; 2]);
        let values = b.model.values();
        let spend_values = b.spend.to_vec();
        let drawn: Vec<Option<[f64; 2]>> = (0..DRAWS)
            .into_par_iter()
            .map(|k| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(14_000 + k as u64);
                let z = normals(&mut rng, values.len());
                let model = TransactionParams::from_values(
                    TransactionModel::kind(&b.model),
                    &log_normal_draw(&values, &cov, &z)?,
                )
                .ok()?;
                let z = normals(&mut rng, 3);
                let spend = match &spend_cov {
                    Some(c) => {
                        GammaGammaParams::from_slice(&log_normal_draw(&spend_values, c, &z)?)
                    }
                    None => b.spend,
                };
                if spend.q <= 1.0 {
                    return None;
                }
                let base = BuyerBase {
                    model,
                    spend,
                    ..sample
                };
                buyer_gain(&base, val, RETENTION_POINTS)
                    .ok()
                    .map(|g| g.gain)
            })
            .collect();
        ratio_draws(g.gain, own, drawn)
            .into_iter()
            .map(|v| [v[0] * per_unit, v[1] * per_unit])
            .collect()
    });
    Ok(Part {
        figures: figures(&model_code, &g, per_unit),
        gain: [g.gain[0] * per_unit, g.gain[1] * per_unit],
        value: [g.value[0] * per_unit, g.value[1] * per_unit],
        draws,
    })
}

/// The subscribers' fits (with their histories, for the covariance) and terms.
struct SubscriberInput {
    fits: Vec<SbgParams>,
    histories: Vec<Vec<History>>,
    terms: Vec<SubscriptionTerm>,
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Week => "week",
        Period::Month => "month",
        Period::Quarter => "quarter",
        Period::Year => "year",
    }
}

/// The future payments of an active subscription within `months` (as scoring counts
/// them): (month index, payment number j >= 1); a known end stops them.
fn payments(s: &Subscription, as_of: NaiveDate, months: u32, stop_at_end: bool) -> Vec<(u32, u32)> {
    let billed = billed_periods(s, as_of);
    let mut out = Vec::new();
    for j in 1u32.. {
        let Some(day) = s.period.start(s.started_on, billed + u64::from(j) - 1) else {
            break;
        };
        if stop_at_end && s.ended_on.is_some_and(|e| day >= e) {
            break;
        }
        let days = (day - as_of).num_days().max(1) as f64;
        let month = (days / DAYS_PER_MONTH).ceil() as u32;
        if month > months {
            break;
        }
        out.push((month.max(1), j));
    }
    out
}

fn subscriber_input(
    details: &Value,
    rows: &[SubscriptionRow],
    as_of: NaiveDate,
) -> std::result::Result<SubscriberInput, String> {
    if rows.is_empty() {
        return Err("no subscriptions".into());
    }
    let sub = &details["subscriptions"];
    let sbg = |v: &Value| -> Option<SbgParams> {
        SbgParams::new(v["alpha"].as_f64()?, v["beta"].as_f64()?).ok()
    };
    // The fits: each plan's own, and each period's pool.
    let mut fits: Vec<SbgParams> = Vec::new();
    let mut pool_of: std::collections::HashMap<String, usize> = Default::default();
    for pool in sub["pools"].as_array().into_iter().flatten() {
        if let (Some(p), Some(period)) = (sbg(&pool["params"]), pool["period"].as_str()) {
            fits.push(p);
            pool_of.insert(period.to_string(), fits.len() - 1);
        }
    }
    let mut plan_fit: std::collections::HashMap<(String, String), usize> = Default::default();
    for plan in sub["plans"].as_array().into_iter().flatten() {
        let (Some(name), Some(period)) = (plan["plan"].as_str(), plan["period"].as_str()) else {
            continue;
        };
        let key = (name.to_string(), period.to_string());
        if plan["pooled"] == Value::Bool(false) {
            if let Some(p) = sbg(&plan["params"]) {
                fits.push(p);
                plan_fit.insert(key, fits.len() - 1);
            }
        } else if let Some(&k) = pool_of.get(period) {
            plan_fit.insert(key, k);
        }
    }
    if fits.is_empty() {
        return Err("the run has no sBG fit of the subscriptions".into());
    }
    let mut histories: Vec<Vec<History>> = vec![Vec::new(); fits.len()];
    let mut terms = Vec::new();
    let year_end = as_of + chrono::Days::new(365);
    for r in rows.iter().filter(|r| r.started_on <= as_of) {
        let period = Period::parse(&r.period).unwrap_or(Period::Month);
        let s = Subscription {
            plan: r.plan.clone(),
            amount_minor: r.amount_minor,
            period,
            started_on: r.started_on,
            ended_on: r.ended_on,
            renews_on: r.renews_on,
        };
        let billed = billed_periods(&s, as_of);
        let key = (r.plan.clone(), period_name(period).to_string());
        let Some(&fit) = plan_fit.get(&key) else {
            continue;
        };
        if billed == 0 {
            continue;
        }
        let renewals = u32::try_from(billed - 1).unwrap_or(u32::MAX);
        let churned = s.ended_on.is_some_and(|e| e <= as_of);
        histories[fit].push(History { renewals, churned });
        // A pool's histories are every subscription of its period: the plan's go to
        // the pool too when the plan has its own fit (harmless for the covariance of
        // the plan's own fit, which takes only its own).
        if !s.is_active(as_of) {
            continue;
        }
        let renews = s
            .period
            .start(s.started_on, billed)
            .is_some_and(|day| s.ended_on.is_none_or(|e| day < e));
        if !renews {
            continue;
        }
        let renewals_in_year = if s.ended_on.is_some_and(|e| e <= year_end) {
            None
        } else {
            Some(payments(&s, as_of, 12, false).len() as u32)
        };
        terms.push(SubscriptionTerm {
            fit,
            renewals,
            amount: r.amount_minor as f64,
            payments: payments(&s, as_of, HORIZONS[1], true),
            renewals_in_year,
        });
    }
    // A pool's covariance comes from every subscription of its period.
    for (period, &k) in &pool_of {
        let all: Vec<History> = rows
            .iter()
            .filter(|r| r.started_on <= as_of && r.period == *period)
            .filter_map(|r| {
                let s = Subscription {
                    plan: r.plan.clone(),
                    amount_minor: r.amount_minor,
                    period: Period::parse(&r.period).unwrap_or(Period::Month),
                    started_on: r.started_on,
                    ended_on: r.ended_on,
                    renews_on: r.renews_on,
                };
                let billed = billed_periods(&s, as_of);
                (billed > 0).then(|| History {
                    renewals: u32::try_from(billed - 1).unwrap_or(u32::MAX),
                    churned: s.ended_on.is_some_and(|e| e <= as_of),
                })
            })
            .collect();
        histories[k] = all;
    }
    if terms.is_empty() {
        return Err("no active subscription renews".into());
    }
    Ok(SubscriberInput {
        fits,
        histories,
        terms,
    })
}

fn subscriber_part(s: &SubscriberInput, val: &Valuation) -> std::result::Result<Part, String> {
    let g = subscriber_gain(&s.fits, &s.terms, val, RETENTION_POINTS)
        .map_err(|e| format!("subscribers: {e}"))?;
    let covs: Option<Vec<Vec<Vec<f64>>>> = s
        .fits
        .iter()
        .zip(&s.histories)
        .map(|(p, h)| {
            SurvivorData::from_histories(h)
                .ok()
                .and_then(|d| sbg_log_covariance(p, &d))
        })
        .collect();
    let draws = covs.map(|covs| {
        let ix = spread(s.terms.len());
        let terms: Vec<SubscriptionTerm> = ix.iter().map(|&i| s.terms[i].clone()).collect();
        let own = subscriber_gain(&s.fits, &terms, val, RETENTION_POINTS)
            .map(|g| g.gain)
            .unwrap_or([f64::NAN; 2]);
        let drawn: Vec<Option<[f64; 2]>> = (0..DRAWS)
            .into_par_iter()
            .map(|k| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(28_000 + k as u64);
                let mut fits = Vec::with_capacity(s.fits.len());
                for (p, c) in s.fits.iter().zip(&covs) {
                    let z = normals(&mut rng, 2);
                    let v = log_normal_draw(&p.to_vec(), c, &z)?;
                    fits.push(SbgParams::new(v[0], v[1]).ok()?);
                }
                subscriber_gain(&fits, &terms, val, RETENTION_POINTS)
                    .ok()
                    .map(|g| g.gain)
            })
            .collect();
        ratio_draws(g.gain, own, drawn)
    });
    Ok(Part {
        figures: figures("sbg", &g, 1.0),
        gain: g.gain,
        value: g.value,
        draws,
    })
}

fn combine(
    buyers: std::result::Result<Part, String>,
    subscribers: std::result::Result<Part, String>,
) -> std::result::Result<FivePoints, String> {
    let parts: Vec<&Part> = [&buyers, &subscribers]
        .into_iter()
        .filter_map(|p| p.as_ref().ok())
        .collect();
    if parts.is_empty() {
        return Err(format!(
            "no part of the base can be valued ({}; {})",
            buyers.as_ref().err().map_or("", |s| s),
            subscribers.as_ref().err().map_or("", |s| s)
        ));
    }
    let mut gain = [0.0; 2];
    let mut value = [0.0; 2];
    for p in &parts {
        for h in 0..2 {
            gain[h] += p.gain[h];
            value[h] += p.value[h];
        }
    }
    // Draws summed part by part (independent fits); a part without a covariance adds
    // its point figure.
    let with_draws: Vec<&Vec<[f64; 2]>> = parts.iter().filter_map(|p| p.draws.as_ref()).collect();
    let n = with_draws.iter().map(|d| d.len()).min().unwrap_or(0);
    let mut interval = [None; 2];
    if !with_draws.is_empty() && n > 0 {
        for (h, slot) in interval.iter_mut().enumerate() {
            let totals: Vec<f64> = (0..n)
                .map(|i| {
                    parts
                        .iter()
                        .map(|p| p.draws.as_ref().map_or(p.gain[h], |d| d[i][h]))
                        .sum()
                })
                .collect();
            *slot = percentile_interval(&totals, LEVEL).map(|(lo, hi)| {
                // The interval holds the estimate (a skewed draw set can sit beside it).
                (
                    lo.min(gain[h]).round() as i64,
                    hi.max(gain[h]).round() as i64,
                )
            });
        }
    }
    let note = |p: &std::result::Result<Part, String>| p.as_ref().err().cloned();
    Ok(FivePoints {
        points: RETENTION_POINTS,
        horizons: HORIZONS,
        value_minor: [value[0].round() as i64, value[1].round() as i64],
        gain_minor: [gain[0].round() as i64, gain[1].round() as i64],
        interval_minor: interval,
        gain_share: [
            if value[0] > 0.0 {
                gain[0] / value[0]
            } else {
                0.0
            },
            if value[1] > 0.0 {
                gain[1] / value[1]
            } else {
                0.0
            },
        ],
        draws: if interval[0].is_some() { n } else { 0 },
        buyers_note: note(&buyers),
        subscribers_note: note(&subscribers),
        buyers: buyers.ok().map(|p| p.figures),
        subscribers: subscribers.ok().map(|p| p.figures),
        method: format!(
            "Today's customers valued as the newest model run values them (CLV over 12 and 36 months at its margin and discount rate), and again with the dropout lowered so that 12-month retention is {pts} points higher: buyers' dropout rate from today on multiplied by one factor, subscribers' sBG churn distribution shifted by multiplying its beta by one factor, each found by a root finder (regula falsi). The interval is a parametric bootstrap: {DRAWS} draws of the fitted parameters from their estimates' asymptotic normal distribution (log scale, the covariance from the likelihood's Hessian), each evaluated on up to {SAMPLE} customers and subscriptions and applied to the whole base as a ratio; the 2.5th to 97.5th percentile.",
            pts = (RETENTION_POINTS * 100.0).round()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payments_stop_at_a_known_end_and_count_months() {
        let s = Subscription {
            plan: "Pro".into(),
            amount_minor: 1000,
            period: Period::Month,
            started_on: NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(),
            ended_on: None,
            renews_on: None,
        };
        let as_of = NaiveDate::from_ymd_opt(2024, 6, 20).unwrap();
        let p = payments(&s, as_of, 12, true);
        assert_eq!(p.len(), 12);
        assert_eq!(p[0], (1, 1));
        let ending = Subscription {
            ended_on: Some(NaiveDate::from_ymd_opt(2024, 9, 1).unwrap()),
            ..s
        };
        assert_eq!(payments(&ending, as_of, 12, true).len(), 2);
        assert_eq!(payments(&ending, as_of, 12, false).len(), 12);
    }

    #[test]
    fn draws_scale_to_the_whole_base() {
        let d = ratio_draws([100.0, 300.0], [10.0, 30.0], vec![Some([11.0, 33.0]), None]);
        assert_eq!(d, vec![[110.0, 330.0]]);
    }
}

//! What the continuous-time transaction models (BG/NBD, MBG/NBD, Pareto/NBD) have
//! in common: the prediction interface used by CLV, scoring and validation, a
//! tagged parameter enum for callers that pick the model at run time, and the
//! time-rescaling around each fit.

use serde::{Deserialize, Serialize};

use crate::bgnbd::{self, BgNbdParams};
use crate::data::{RfmData, RfmRow};
use crate::error::{Result, invalid_param};
use crate::fit::{FitOptions, Fitted, ModelKind, Params, Rescaled};
use crate::mbgnbd::{self, MbgNbdParams};
use crate::paretonbd::{self, ParetoNbdParams};
use crate::prec;

/// Predictions every continuous-time transaction model gives. Times are in the
/// data's unit (the unit of `recency` and `T` at fit time).
pub trait TransactionModel: Sync {
    /// The model.
    fn kind(&self) -> ModelKind;
    /// Probability that a customer with this history is still alive at `T`.
    fn p_alive(&self, row: &RfmRow) -> f64;
    /// Expected repeat purchases in `(T, T + t]` given the history.
    fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64;
    /// Expected repeat purchases in `(0, t]` of a new, randomly chosen customer.
    fn expected_purchases(&self, t: f64) -> f64;
    /// `P(X(t) = n)` for a new customer, where the model gives it in closed form.
    fn prob_purchases(&self, _t: f64, _n: u32) -> Option<f64> {
        None
    }
    /// Where the model allows it, the conditional expectation factorises as
    /// `age_factor(t, x, T) * history_factor(x, t_x, T)`; scoring then evaluates the
    /// expensive first factor once per distinct `(x, T)` instead of per customer.
    fn age_factor(&self, _t: f64, _frequency: f64, _age: f64) -> Option<f64> {
        None
    }
    /// The second factor of [`TransactionModel::age_factor`].
    fn history_factor(&self, _row: &RfmRow) -> Option<f64> {
        None
    }
}

/// Implement [`TransactionModel`] for a parameter record by its inherent methods of
/// the same names (`kind` from [`Params::KIND`], `history_factor` = P(alive)),
/// with `prob_purchases` where the model has it in closed form:
/// `transaction_model!(BgNbdParams, prob_purchases);`.
macro_rules! transaction_model {
    ($name:ident $(, $prob_purchases:ident)?) => {
        impl $crate::transaction::TransactionModel for $name {
            fn kind(&self) -> $crate::fit::ModelKind {
                <$name as $crate::fit::Params>::KIND
            }
            fn p_alive(&self, row: &RfmRow) -> f64 {
                $name::p_alive(self, row)
            }
            fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64 {
                $name::conditional_expected_purchases(self, t, row)
            }
            fn expected_purchases(&self, t: f64) -> f64 {
                $name::expected_purchases(self, t)
            }
            $(
                fn $prob_purchases(&self, t: f64, n: u32) -> Option<f64> {
                    Some($name::$prob_purchases(self, t, n))
                }
            )?
            fn age_factor(&self, t: f64, frequency: f64, age: f64) -> Option<f64> {
                Some($name::age_factor(self, t, frequency, age))
            }
            fn history_factor(&self, row: &RfmRow) -> Option<f64> {
                Some($name::p_alive(self, row))
            }
        }
    };
}
pub(crate) use transaction_model;

/// Parameters of any transaction model, tagged by `"model"` when serialised:
/// `{"model": "bgnbd", "r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum TransactionParams {
    /// BG/NBD.
    BgNbd(BgNbdParams),
    /// MBG/NBD.
    MbgNbd(MbgNbdParams),
    /// Pareto/NBD.
    ParetoNbd(ParetoNbdParams),
}

impl TransactionParams {
    fn inner(&self) -> &dyn TransactionModel {
        match self {
            TransactionParams::BgNbd(p) => p,
            TransactionParams::MbgNbd(p) => p,
            TransactionParams::ParetoNbd(p) => p,
        }
    }

    /// Build from a kind and values in the model's parameter order.
    ///
    /// # Errors
    ///
    /// Not a transaction model, wrong count, or a non-positive value.
    pub fn from_values(kind: ModelKind, values: &[f64]) -> Result<Self> {
        let names = kind.param_names();
        if values.len() != names.len() {
            return Err(invalid_param(
                "params",
                format!(
                    "{kind} needs {} values ({}), got {}",
                    names.len(),
                    names.join(", "),
                    values.len()
                ),
            ));
        }
        crate::fit::check_positive(kind, values)?;
        match kind {
            ModelKind::BgNbd => Ok(TransactionParams::BgNbd(BgNbdParams::from_slice(values))),
            ModelKind::MbgNbd => Ok(TransactionParams::MbgNbd(MbgNbdParams::from_slice(values))),
            ModelKind::ParetoNbd => Ok(TransactionParams::ParetoNbd(ParetoNbdParams::from_slice(
                values,
            ))),
            other => Err(not_a_transaction_model(other)),
        }
    }

    /// The values in the model's parameter order (the inverse of
    /// [`TransactionParams::from_values`]).
    pub fn values(&self) -> Vec<f64> {
        match self {
            TransactionParams::BgNbd(p) => p.to_vec(),
            TransactionParams::MbgNbd(p) => p.to_vec(),
            TransactionParams::ParetoNbd(p) => p.to_vec(),
        }
    }

    /// The log-likelihood of weighted data under these parameters.
    pub fn log_likelihood(&self, data: &RfmData) -> f64 {
        match self {
            TransactionParams::BgNbd(p) => p.log_likelihood(data),
            TransactionParams::MbgNbd(p) => p.log_likelihood(data),
            TransactionParams::ParetoNbd(p) => p.log_likelihood(data),
        }
    }
}

fn not_a_transaction_model(kind: ModelKind) -> crate::ModelError {
    invalid_param(
        "model",
        format!(
            "{kind} is not a continuous-time transaction model (use bgnbd, mbgnbd or paretonbd)"
        ),
    )
}

impl TransactionModel for TransactionParams {
    fn kind(&self) -> ModelKind {
        self.inner().kind()
    }
    fn p_alive(&self, row: &RfmRow) -> f64 {
        self.inner().p_alive(row)
    }
    fn conditional_expected_purchases(&self, t: f64, row: &RfmRow) -> f64 {
        self.inner().conditional_expected_purchases(t, row)
    }
    fn expected_purchases(&self, t: f64) -> f64 {
        self.inner().expected_purchases(t)
    }
    fn prob_purchases(&self, t: f64, n: u32) -> Option<f64> {
        self.inner().prob_purchases(t, n)
    }
    fn age_factor(&self, t: f64, frequency: f64, age: f64) -> Option<f64> {
        self.inner().age_factor(t, frequency, age)
    }
    fn history_factor(&self, row: &RfmRow) -> Option<f64> {
        self.inner().history_factor(row)
    }
}

impl<P> Fitted<P> {
    /// The same fit with its parameter records converted.
    pub fn map_params<Q>(self, f: impl Fn(P) -> Q) -> Fitted<Q> {
        Fitted {
            model: self.model,
            params: f(self.params),
            std_errors: self.std_errors.map(&f),
            log_likelihood: self.log_likelihood,
            n: self.n,
            rows: self.rows,
            converged: self.converged,
            iterations: self.iterations,
            log_covariance: self.log_covariance,
        }
    }
}

/// Fit the transaction model `kind` (BG/NBD, MBG/NBD or Pareto/NBD).
///
/// # Errors
///
/// `kind` is not a transaction model; otherwise as the model's `fit`.
pub fn fit_transaction_model(
    kind: ModelKind,
    data: &RfmData,
    options: &FitOptions,
) -> Result<Fitted<TransactionParams>> {
    match kind {
        ModelKind::BgNbd => Ok(bgnbd::fit(data, options)?.map_params(TransactionParams::BgNbd)),
        ModelKind::MbgNbd => Ok(mbgnbd::fit(data, options)?.map_params(TransactionParams::MbgNbd)),
        ModelKind::ParetoNbd => {
            Ok(paretonbd::fit(data, options)?.map_params(TransactionParams::ParetoNbd))
        }
        other => Err(not_a_transaction_model(other)),
    }
}

/// Data in lifetimes' internal time scale, `T / max T` (`_scale_time`), so the
/// default start (all parameters 1) is sensible whatever the time unit.
pub(crate) struct TimeScaled {
    /// Internal time = data time / scale.
    pub scale: f64,
    /// The data in internal time.
    pub data: RfmData,
}

impl TimeScaled {
    pub(crate) fn new(data: &RfmData) -> Self {
        let max_t = data.max_t();
        let scale = if max_t > 0.0 { max_t } else { 1.0 };
        TimeScaled {
            scale,
            data: data.scaled(1.0 / scale),
        }
    }

    /// The data with recency and T rounded to a grid of
    /// [`prec::WARM_START_GRID`] steps per largest T, if it has more than
    /// [`prec::WARM_START_MIN_ROWS`] distinct rows and the fit starts from the default
    /// (`options` give no initial values): a cheap stand-in whose optimum is close to
    /// the data's (see [`crate::fit::fit_problem_warm`]).
    pub(crate) fn coarsened(&self, options: &FitOptions) -> Option<RfmData> {
        if options.initial_params.is_some() || self.data.len() <= prec::WARM_START_MIN_ROWS {
            return None;
        }
        // Internal time runs to 1. Rounding is monotone, so recency <= T holds.
        let g = prec::WARM_START_GRID;
        if let Some(d) = self.data.on_grid(g) {
            return Some(d);
        }
        let round = |v: f64| (v * g).round() / g;
        let rows: Vec<RfmRow> = self
            .data
            .rows()
            .iter()
            .map(|r| RfmRow::new(r.frequency, round(r.recency), round(r.t)))
            .collect();
        RfmData::from_weighted_rows(&rows, self.data.weights()).ok()
    }

    /// The parameters at `indices` are rates per unit of time.
    pub(crate) fn rates<'i>(&self, indices: &'i [usize]) -> Rescaled<'i> {
        Rescaled {
            indices,
            scale: self.scale,
        }
    }
}

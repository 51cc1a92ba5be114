//! Maximum-likelihood fitting shared by every model: options, the fitted-model
//! record, and the optimiser driver.
//!
//! Each model defines a problem struct that borrows its data and implements
//! argmin's [`CostFunction`] and [`Gradient`]: the mean negative log-likelihood and
//! its analytic gradient, as functions of the *log* parameters (so positivity needs
//! no constraints). The driver runs argmin's L-BFGS with a More-Thuente line
//! search; if that stops early it restarts from the best point with Nelder-Mead and
//! L-BFGS again. A few Newton steps with the numerical Hessian (central differences
//! of the analytic gradient) then polish the optimum to the rounding floor, and the
//! same Hessian gives the standard errors.
//!
//! A model with the Hessian in closed form as well (BG/NBD,
//! [`Objective::value_grad_hess`]) that starts warm (from the optimum of a cheaper
//! stand-in, such as its data on a coarse time grid) skips all that: plain Newton
//! steps, each one pass over the data that gives value, gradient and Hessian
//! together, reach the optimum in two or three passes, and the last Hessian gives
//! the standard errors. On a million distinct rows that is what makes the fit fast.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result, invalid_param};
use crate::prec;

/// Which model a parameter set or fit belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    BgNbd,
    /// MBG/NBD (Batislam, Denizel & Filiztekin 2007).
    MbgNbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    ParetoNbd,
    /// BG/BB (Fader, Hardie & Shang 2010).
    BgBb,
    /// Gamma-Gamma spend (Fader, Hardie & Lee 2005b).
    GammaGamma,
    /// Shifted-beta-geometric (Fader & Hardie 2007).
    Sbg,
}

impl ModelKind {
    /// All kinds, in documentation order.
    pub const ALL: [ModelKind; 6] = [
        ModelKind::BgNbd,
        ModelKind::MbgNbd,
        ModelKind::ParetoNbd,
        ModelKind::BgBb,
        ModelKind::GammaGamma,
        ModelKind::Sbg,
    ];

    /// The short name used in files and on the command line (`bgnbd`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::BgNbd => "bgnbd",
            ModelKind::MbgNbd => "mbgnbd",
            ModelKind::ParetoNbd => "paretonbd",
            ModelKind::BgBb => "bgbb",
            ModelKind::GammaGamma => "gammagamma",
            ModelKind::Sbg => "sbg",
        }
    }

    /// The short code Kanta's command line, files and stored model runs use (`bgnbd`,
    /// `mbgnbd`, `pnbd`, `bgbb`, `gg`, `sbg`), as `lifetimes` users write them.
    pub fn code(self) -> &'static str {
        match self {
            ModelKind::BgNbd => "bgnbd",
            ModelKind::MbgNbd => "mbgnbd",
            ModelKind::ParetoNbd => "pnbd",
            ModelKind::BgBb => "bgbb",
            ModelKind::GammaGamma => "gg",
            ModelKind::Sbg => "sbg",
        }
    }

    /// The name as the literature writes it: `BG/NBD`, `Pareto/NBD`, `Gamma-Gamma`, ...
    pub fn label(self) -> &'static str {
        match self {
            ModelKind::BgNbd => "BG/NBD",
            ModelKind::MbgNbd => "MBG/NBD",
            ModelKind::ParetoNbd => "Pareto/NBD",
            ModelKind::BgBb => "BG/BB",
            ModelKind::GammaGamma => "Gamma-Gamma",
            ModelKind::Sbg => "sBG",
        }
    }

    /// The parameter names in the literature's notation.
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            ModelKind::BgNbd | ModelKind::MbgNbd => &["r", "alpha", "a", "b"],
            ModelKind::ParetoNbd => &["r", "alpha", "s", "beta"],
            ModelKind::BgBb => &["alpha", "beta", "gamma", "delta"],
            ModelKind::GammaGamma => &["p", "q", "gamma"],
            ModelKind::Sbg => &["alpha", "beta"],
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = ModelError;

    /// Accepts the short names and the usual spellings: `bgnbd`, `BG/NBD`, `bg-nbd`,
    /// `pareto_nbd`, `gamma-gamma`, `sBG`, ... (case, `/`, `-`, `_` and spaces ignored).
    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '/' | '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == key || k.code() == key)
            .ok_or_else(|| {
                invalid_param(
                    "model",
                    format!(
                        "'{s}' is not a model; use one of {}",
                        ModelKind::ALL.map(ModelKind::code).join(", ")
                    ),
                )
            })
    }
}

/// A model's parameter record (named fields in the literature's notation).
pub trait Params: Copy + fmt::Debug + Serialize {
    /// The model.
    const KIND: ModelKind;
    /// Build from values in [`ModelKind::param_names`] order.
    fn from_slice(v: &[f64]) -> Self;
    /// Values in [`ModelKind::param_names`] order.
    fn to_vec(&self) -> Vec<f64>;
}

/// Check that every parameter is finite and positive.
pub(crate) fn check_positive(kind: ModelKind, v: &[f64]) -> Result<()> {
    for (name, x) in kind.param_names().iter().zip(v) {
        if !x.is_finite() || *x <= 0.0 {
            return Err(ModelError::InvalidParameter {
                name: "parameter",
                reason: format!("{kind} {name} must be finite and > 0, got {x}"),
            });
        }
    }
    Ok(())
}

/// Implement [`Params`] for a model's parameter record and give it its checked
/// constructor `new`. The fields are listed in [`ModelKind::param_names`] order:
/// `params_record!(BgNbdParams, ModelKind::BgNbd, [r, alpha, a, b]);`.
macro_rules! params_record {
    ($name:ident, $kind:expr, [$($field:ident),+ $(,)?]) => {
        impl $crate::fit::Params for $name {
            const KIND: $crate::fit::ModelKind = $kind;
            fn from_slice(v: &[f64]) -> Self {
                let mut values = v.iter().copied();
                $name {
                    $($field: values.next().expect("one value per parameter")),+
                }
            }
            fn to_vec(&self) -> Vec<f64> {
                vec![$(self.$field),+]
            }
        }

        impl $name {
            /// Checked constructor: every parameter finite and positive.
            ///
            /// # Errors
            ///
            /// [`crate::ModelError::InvalidParameter`].
            pub fn new($($field: f64),+) -> $crate::error::Result<Self> {
                $crate::fit::check_positive($kind, &[$($field),+])?;
                Ok($name { $($field),+ })
            }
        }
    };
}
pub(crate) use params_record;

/// Fitting options (the hyperparameters), checked once by [`FitOptions::check`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitOptions {
    /// L2 penalty `c * Σ θ_i²` added to the mean negative log-likelihood, with the
    /// parameters θ in lifetimes' internal time scale (T divided by its maximum) for
    /// the transaction models; 0 (the default) is plain maximum likelihood, as in
    /// lifetimes. For Pareto/NBD lifetimes adds its penalty to the *total* negative
    /// log-likelihood, so lifetimes' coefficient `c` corresponds to `c / n` here.
    pub penalizer_coef: f64,
    /// Iteration cap for each optimiser run.
    pub max_iters: u64,
    /// Starting values in the model's parameter order and the data's time unit;
    /// `None` starts from 1 for every parameter in the internal time scale.
    pub initial_params: Option<Vec<f64>>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            penalizer_coef: 0.0,
            max_iters: prec::MAX_ITERS,
            initial_params: None,
        }
    }
}

/// [`FitOptions`] that passed [`FitOptions::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct ValidFitOptions {
    pub(crate) penalizer_coef: f64,
    pub(crate) max_iters: u64,
    pub(crate) initial_params: Option<Vec<f64>>,
}

impl FitOptions {
    /// Validate for a model.
    ///
    /// # Errors
    ///
    /// [`ModelError::InvalidParameter`] for a negative or non-finite penalty, a zero
    /// iteration cap, or initial parameters of the wrong length or sign.
    pub fn check(&self, kind: ModelKind) -> Result<ValidFitOptions> {
        if !self.penalizer_coef.is_finite() || self.penalizer_coef < 0.0 {
            return Err(invalid_param(
                "penalizer_coef",
                format!("must be >= 0, got {}", self.penalizer_coef),
            ));
        }
        if self.max_iters == 0 {
            return Err(invalid_param("max_iters", "must be at least 1"));
        }
        if let Some(p) = &self.initial_params {
            let names = kind.param_names();
            if p.len() != names.len() {
                return Err(invalid_param(
                    "initial_params",
                    format!(
                        "{kind} has {} parameters ({}), got {}",
                        names.len(),
                        names.join(", "),
                        p.len()
                    ),
                ));
            }
            check_positive(kind, p)?;
        }
        Ok(ValidFitOptions {
            penalizer_coef: self.penalizer_coef,
            max_iters: self.max_iters,
            initial_params: self.initial_params.clone(),
        })
    }
}

/// A fitted model: parameters with standard errors and fit diagnostics.
///
/// Serialises as
/// ```text
/// {"model": "bgnbd", "params": {"r": .., "alpha": .., "a": .., "b": ..},
///  "std_errors": {..}, "log_likelihood": .., "n": .., "rows": .., "converged": ..,
///  "iterations": ..}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fitted<P> {
    /// The model.
    pub model: ModelKind,
    /// Maximum-likelihood estimates.
    pub params: P,
    /// Asymptotic standard errors on the parameters' natural scale (delta method
    /// from the Hessian of the log-parameter likelihood); `None` if the Hessian is
    /// not positive definite.
    pub std_errors: Option<P>,
    /// Log-likelihood at the estimates (without the penalty), in the data's units.
    pub log_likelihood: f64,
    /// Number of customers (sum of weights).
    pub n: f64,
    /// Number of distinct rows the likelihood was evaluated on.
    pub rows: usize,
    /// Whether the gradient vanished to [`prec::CONVERGED_GRAD_TOL`] at a point with
    /// a positive definite Hessian.
    pub converged: bool,
    /// Optimiser iterations (L-BFGS, any Nelder-Mead restart, Newton polishing).
    pub iterations: u64,
    /// Asymptotic covariance of the natural logarithms of the parameters (inverse
    /// Hessian of the total negative log-likelihood), in the parameters' order;
    /// `None` where the standard errors are. Time rescaling shifts a log rate by a
    /// constant, so this is the covariance in the data's own units. Parameter draws
    /// for prediction intervals come from it. Not serialised.
    #[serde(skip)]
    pub log_covariance: Option<Vec<Vec<f64>>>,
}

impl<P: Params> Fitted<P> {
    /// 95% Wald intervals `estimate ± 1.96 SE` per parameter (as lifetimes'
    /// `confidence_intervals_`), `None` without standard errors.
    pub fn confidence_intervals(&self) -> Option<Vec<(&'static str, f64, f64)>> {
        let se = self.std_errors?.to_vec();
        Some(
            P::KIND
                .param_names()
                .iter()
                .zip(self.params.to_vec())
                .zip(se)
                .map(|((n, v), s)| (*n, v - 1.96 * s, v + 1.96 * s))
                .collect(),
        )
    }
}

/// A parameter above this is at the likelihood's boundary: the model's limit of no
/// heterogeneity (a Beta or Gamma mixing distribution concentrated on its mean, e.g.
/// Pareto/NBD's β on data that stopped long ago, or Gamma-Gamma's q when every
/// customer spends alike).
pub const ABSURD_PARAM: f64 = 1e6;
/// A parameter below this is at the other boundary (e.g. sBG's α and β both towards
/// 0 when a handful of subscriptions all churn at once).
pub const TINY_PARAM: f64 = 1e-6;
/// A standard error above this multiple of its estimate means the data do not
/// determine the parameter.
pub const MAX_RELATIVE_SE: f64 = 50.0;

/// Why a fit with these parameter `values` (named by `names`) and standard errors is
/// degenerate, or `None` when it is not: a non-finite or non-positive parameter, or
/// a standard error over [`MAX_RELATIVE_SE`] times its estimate. A fit without
/// standard errors is not refused for that alone; see also [`at_boundary`].
pub fn degeneracy(names: &[&str], values: &[f64], std_errors: Option<&[f64]>) -> Option<String> {
    for (k, v) in values.iter().enumerate() {
        let name = names.get(k).copied().unwrap_or("?");
        if !(v.is_finite() && *v > 0.0) {
            return Some(format!("{name} = {v} is not a positive number"));
        }
        // At a boundary the likelihood is flat along that parameter and the one it
        // pairs with (only their ratio matters there): standard errors say nothing
        // ([`at_boundary`] reports the fit instead).
        let inside = values
            .iter()
            .all(|v| (TINY_PARAM..=ABSURD_PARAM).contains(v));
        if let Some(se) = std_errors.and_then(|s| s.get(k))
            && inside
            && !(se.is_finite() && *se <= MAX_RELATIVE_SE * v)
        {
            return Some(format!(
                "{name} = {v:.4} ± {se:.3e}: the data do not determine it (standard error over {MAX_RELATIVE_SE} times the estimate)"
            ));
        }
    }
    None
}

/// Which parameter ran off to the likelihood's boundary (above [`ABSURD_PARAM`] or
/// below [`TINY_PARAM`]), if one did. Such a fit may still predict soundly (the
/// model's no-heterogeneity limit); callers prefer fits that are not at a boundary.
pub fn at_boundary(names: &[&str], values: &[f64]) -> Option<String> {
    for (k, v) in values.iter().enumerate() {
        let name = names.get(k).copied().unwrap_or("?");
        if *v > ABSURD_PARAM {
            return Some(format!(
                "{name} = {v:.3e} is at the boundary (over {ABSURD_PARAM:e})"
            ));
        }
        if *v < TINY_PARAM {
            return Some(format!(
                "{name} = {v:.3e} is at the boundary (under {TINY_PARAM:e})"
            ));
        }
    }
    None
}

/// A draw of parameters from the asymptotic distribution of a fit: `exp(ln θ̂ + L z)`
/// with `L` the Cholesky factor of [`Fitted::log_covariance`] and `z` standard
/// normal draws, one per parameter. For prediction intervals by simulation. `None`
/// when the covariance is not positive definite or the sizes differ.
pub fn log_normal_draw(
    estimate: &[f64],
    log_covariance: &[Vec<f64>],
    z: &[f64],
) -> Option<Vec<f64>> {
    if estimate.len() != log_covariance.len() || z.len() != estimate.len() {
        return None;
    }
    let l = cholesky(log_covariance)?;
    Some(
        estimate
            .iter()
            .enumerate()
            .map(|(i, e)| (e.ln() + (0..=i).map(|k| l[i][k] * z[k]).sum::<f64>()).exp())
            .collect(),
    )
}

/// A negative log-likelihood on log parameters, with its analytic gradient.
pub trait Objective: Sync {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// Mean negative log-likelihood (plus penalty) and its gradient with respect to
    /// the log parameters. May return a non-finite value where the model is not
    /// defined.
    fn value_grad(&self, log_params: &[f64]) -> (f64, Vec<f64>);
    /// The value, gradient and Hessian with respect to the log parameters in one
    /// pass, where the model has the Hessian in closed form (BG/NBD); `None` (the
    /// default) where it does not, and the driver differentiates the gradient
    /// numerically instead.
    fn value_grad_hess(&self, _log_params: &[f64]) -> Option<(f64, Vec<f64>, Vec<Vec<f64>>)> {
        None
    }
}

/// A point, the value there and the gradient there.
type Evaluation = (Vec<f64>, f64, Vec<f64>);

/// Remembers the last evaluation (argmin asks for the cost and then the gradient at
/// the same point, and both come from one pass over the data) and the best point
/// seen (the restart point if the line search gives up).
#[derive(Debug, Default)]
pub struct EvalCache {
    last: Mutex<Option<Evaluation>>,
    best: Mutex<Option<(Vec<f64>, f64)>>,
}

impl EvalCache {
    /// The value and gradient at `x`, computed with `eval` unless just computed.
    pub fn get(&self, x: &[f64], eval: impl FnOnce() -> (f64, Vec<f64>)) -> (f64, Vec<f64>) {
        {
            let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((lx, v, g)) = last.as_ref()
                && lx.as_slice() == x
            {
                return (*v, g.clone());
            }
        }
        let (v, g) = eval();
        if v.is_finite() {
            let mut best = self.best.lock().unwrap_or_else(|e| e.into_inner());
            if best.as_ref().is_none_or(|(_, b)| v < *b) {
                *best = Some((x.to_vec(), v));
            }
        }
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((x.to_vec(), v, g.clone()));
        (v, g)
    }

    fn best(&self) -> Option<(Vec<f64>, f64)> {
        self.best.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Something that evaluates through an [`EvalCache`].
pub trait Cached: Objective {
    /// The cache.
    fn cache(&self) -> &EvalCache;

    /// Cached value and gradient.
    fn cached(&self, x: &[f64]) -> (f64, Vec<f64>) {
        self.cache().get(x, || self.value_grad(x))
    }
}

fn non_finite(x: &[f64]) -> argmin::core::Error {
    argmin::core::Error::msg(format!(
        "the likelihood is not finite at log-parameters {x:?}"
    ))
}

/// Implement argmin's `CostFunction` and `Gradient` for a model problem struct
/// with a lifetime parameter and an `EvalCache` (via [`Cached`]).
macro_rules! argmin_problem {
    ($name:ident) => {
        impl argmin::core::CostFunction for $name<'_> {
            type Param = Vec<f64>;
            type Output = f64;
            fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
                $crate::fit::cost_of(self, p)
            }
        }
        impl argmin::core::Gradient for $name<'_> {
            type Param = Vec<f64>;
            type Gradient = Vec<f64>;
            fn gradient(&self, p: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
                $crate::fit::gradient_of(self, p)
            }
        }
    };
}
pub(crate) use argmin_problem;

/// The plumbing every model's problem struct shares: [`Cached`] through its
/// `cache` field and argmin's traits via [`argmin_problem!`]. With a data type,
/// `model_problem!(BgNbdProblem, RfmData)`, also the constructor `new` for a
/// struct whose fields are exactly `data: &'a RfmData`, `penalizer: f64` and
/// `cache: EvalCache`.
macro_rules! model_problem {
    ($name:ident, $data:ty) => {
        impl<'a> $name<'a> {
            /// The problem over `data` with L2 penalty coefficient `penalizer_coef`.
            pub fn new(data: &'a $data, penalizer_coef: f64) -> Self {
                $name {
                    data,
                    penalizer: penalizer_coef,
                    cache: $crate::fit::EvalCache::default(),
                }
            }
        }
        $crate::fit::model_problem!($name);
    };
    ($name:ident) => {
        impl $crate::fit::Cached for $name<'_> {
            fn cache(&self) -> &$crate::fit::EvalCache {
                &self.cache
            }
        }
        $crate::fit::argmin_problem!($name);
    };
}
pub(crate) use model_problem;

/// Log parameters beyond `±LOG_PARAM_BOUND` mean the likelihood has no interior
/// maximum (the estimate runs off to 0 or infinity); the optimiser is stopped
/// there instead of creeping on.
fn out_of_bounds(x: &[f64]) -> bool {
    x.iter().any(|v| v.abs() > prec::LOG_PARAM_BOUND)
}

fn diverged(x: &[f64]) -> argmin::core::Error {
    argmin::core::Error::msg(format!(
        "a parameter runs off to 0 or infinity (log-parameters {x:?}): the likelihood has no interior maximum"
    ))
}

#[doc(hidden)]
pub fn cost_of<P: Cached>(p: &P, x: &[f64]) -> std::result::Result<f64, argmin::core::Error> {
    if out_of_bounds(x) {
        return Err(diverged(x));
    }
    let (v, _) = p.cached(x);
    if v.is_finite() {
        Ok(v)
    } else {
        Err(non_finite(x))
    }
}

#[doc(hidden)]
pub fn gradient_of<P: Cached>(
    p: &P,
    x: &[f64],
) -> std::result::Result<Vec<f64>, argmin::core::Error> {
    if out_of_bounds(x) {
        return Err(diverged(x));
    }
    let (v, g) = p.cached(x);
    if v.is_finite() && g.iter().all(|g| g.is_finite()) {
        Ok(g)
    } else {
        Err(non_finite(x))
    }
}

/// Borrowing adapter so a problem survives a failed argmin run (argmin takes the
/// problem by value and returns only the error).
struct ByRef<'p, P>(&'p P);

impl<P: Cached> CostFunction for ByRef<'_, P> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        cost_of(self.0, p)
    }
}

impl<P: Cached> Gradient for ByRef<'_, P> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        gradient_of(self.0, p)
    }
}

/// Nelder-Mead sees `+inf` instead of an error where the model is undefined.
struct Infinite<'p, P>(&'p P);

impl<P: Cached> CostFunction for Infinite<'_, P> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        if out_of_bounds(p) {
            return Ok(f64::INFINITY);
        }
        let (v, _) = self.0.cached(p);
        Ok(if v.is_finite() { v } else { f64::INFINITY })
    }
}

/// Result of [`minimize`], on the log-parameter scale.
#[derive(Clone, Debug)]
pub(crate) struct Optimum {
    pub x: Vec<f64>,
    pub iterations: u64,
    pub converged: bool,
    /// Covariance of the log parameters: inverse Hessian of the *total* negative
    /// log-likelihood.
    pub cov: Option<Vec<Vec<f64>>>,
    /// The objective at `x`, where the optimiser knows it without another pass
    /// over the data ([`newton`]).
    pub value: Option<f64>,
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn run_lbfgs<P: Cached>(problem: &P, x0: Vec<f64>, max_iters: u64) -> (Option<Vec<f64>>, u64) {
    let linesearch: MoreThuenteLineSearch<Vec<f64>, Vec<f64>, f64> = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, prec::LBFGS_MEMORY)
        .with_tolerance_grad(prec::LBFGS_GRAD_TOL)
        .and_then(|s| s.with_tolerance_cost(prec::LBFGS_COST_TOL))
        .expect("tolerances are valid");
    let res = Executor::new(ByRef(problem), solver)
        .configure(|state| state.param(x0).max_iters(max_iters))
        .ctrlc(false)
        .timer(false)
        .run();
    match res {
        Ok(r) => {
            let it = r.state.get_iter();
            (r.state.get_best_param().cloned(), it)
        }
        Err(_) => (None, 0),
    }
}

fn run_nelder_mead<P: Cached>(problem: &P, x0: &[f64], max_iters: u64) -> (Option<Vec<f64>>, u64) {
    let mut simplex = vec![x0.to_vec()];
    for i in 0..x0.len() {
        let mut v = x0.to_vec();
        v[i] += 0.5;
        simplex.push(v);
    }
    let solver = match NelderMead::new(simplex).with_sd_tolerance(1e-12) {
        Ok(s) => s,
        Err(_) => return (None, 0),
    };
    match Executor::new(Infinite(problem), solver)
        .configure(|state| state.max_iters(max_iters.min(prec::NELDER_MEAD_MAX_ITERS)))
        .ctrlc(false)
        .timer(false)
        .run()
    {
        Ok(r) => {
            let it = r.state.get_iter();
            (r.state.get_best_param().cloned(), it)
        }
        Err(_) => (None, 0),
    }
}

/// Hessian of the objective at `x` by central differences of the analytic gradient.
pub(crate) fn numerical_hessian<P: Objective>(problem: &P, x: &[f64]) -> Option<Vec<Vec<f64>>> {
    let n = x.len();
    let h = prec::HESSIAN_STEP;
    let mut hess = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[j] += h;
        xm[j] -= h;
        let (fp, gp) = problem.value_grad(&xp);
        let (fm, gm) = problem.value_grad(&xm);
        if !fp.is_finite() || !fm.is_finite() {
            return None;
        }
        for i in 0..n {
            hess[i][j] = (gp[i] - gm[i]) / (2.0 * h);
        }
    }
    // symmetrise
    Some(
        (0..n)
            .map(|i| (0..n).map(|j| 0.5 * (hess[i][j] + hess[j][i])).collect())
            .collect(),
    )
}

/// Cholesky factor `L` (lower) of a symmetric positive definite matrix.
pub(crate) fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d.is_nan() || d <= 0.0 || d.is_infinite() {
                    return None;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

fn cholesky_solve(l: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let n = l.len();
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (y[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

/// Inverse of a symmetric positive definite matrix from its Cholesky factor.
pub(crate) fn cholesky_inverse(l: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = l.len();
    let mut inv = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = cholesky_solve(l, &e);
        for i in 0..n {
            inv[i][j] = col[i];
        }
    }
    inv
}

/// A starting point from a stand-in objective: where L-BFGS ends on it from `x0`,
/// and its Hessian there, if both are finite and inside the parameter bounds.
fn warm_start<P: Cached>(problem: &P, x0: Vec<f64>, opts: &ValidFitOptions) -> Option<WarmStart> {
    let (x, _) = run_lbfgs(problem, x0, opts.max_iters);
    let x = x.or_else(|| problem.cache().best().map(|b| b.0))?;
    if !problem.cached(&x).0.is_finite() || out_of_bounds(&x) {
        return None;
    }
    let hess = match problem.value_grad_hess(&x) {
        Some((_, _, h)) => Some(h),
        None => numerical_hessian(problem, &x),
    };
    let chol = hess.and_then(|h| cholesky(&h))?;
    Some(WarmStart { x, chol })
}

/// A starting point and the Cholesky factor of a Hessian close to the one there.
pub(crate) struct WarmStart {
    x: Vec<f64>,
    chol: Vec<Vec<f64>>,
}

/// Chord-Newton steps `x - H⁻¹ g(x)` with a fixed Hessian guess (its Cholesky
/// factor `l`) from `x0`, while each lowers the objective, until the gradient's
/// Euclidean norm is below [`prec::LBFGS_GRAD_TOL`], where L-BFGS would stop.
/// Returns the last point and the steps taken, and whether it got there.
fn chord_newton<P: Cached>(problem: &P, x0: Vec<f64>, l: &[Vec<f64>]) -> (Vec<f64>, u64, bool) {
    let norm = |g: &[f64]| g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut x = x0;
    let mut steps = 0;
    for _ in 0..prec::WARM_START_MAX_STEPS {
        let (f, g) = problem.cached(&x);
        if !f.is_finite() {
            break;
        }
        if norm(&g) < prec::LBFGS_GRAD_TOL {
            return (x, steps, true);
        }
        let step = cholesky_solve(l, &g);
        let xn: Vec<f64> = x.iter().zip(&step).map(|(xi, si)| xi - si).collect();
        let (fn_, gn) = problem.cached(&xn);
        if out_of_bounds(&xn) || !fn_.is_finite() || fn_ > f || norm(&gn) >= norm(&g) {
            break;
        }
        x = xn;
        steps += 1;
    }
    (x, steps, false)
}

/// Cap on [`newton`]'s steps: from a warm start it needs three or four.
const ANALYTIC_NEWTON_MAX_STEPS: usize = 20;

/// A [`newton`] step shorter than this (max-norm, log parameters) is the last: the
/// error after it is of the order of its square.
const NEWTON_LAST_STEP: f64 = 1e-5;

/// The point, iterations, value, gradient and Hessian where [`newton`] stopped
/// (after a last step below [`NEWTON_LAST_STEP`], the value of the quadratic model
/// there, and the gradient and Hessian from before it).
type NewtonEnd = (Vec<f64>, u64, f64, Vec<f64>, Vec<Vec<f64>>);

/// Newton's method with the problem's analytic Hessian
/// ([`Objective::value_grad_hess`]) from `x0`, a good start (a warm start): each
/// step is one pass over the data, halved while it does not lower the objective
/// (or, within rounding noise, halve the gradient), until the gradient's max-norm
/// is below [`prec::NEWTON_GRAD_TOL`] or no step is accepted. `None` where the
/// problem has no analytic Hessian, or it is not positive definite on the way.
fn newton<P: Cached>(problem: &P, x0: Vec<f64>) -> Option<NewtonEnd> {
    let (mut f, mut g, mut h) = problem.value_grad_hess(&x0)?;
    let mut x = x0;
    let mut iterations = 0;
    if !f.is_finite() {
        return None;
    }
    for _ in 0..ANALYTIC_NEWTON_MAX_STEPS {
        if max_abs(&g) < prec::NEWTON_GRAD_TOL {
            break;
        }
        let l = cholesky(&h)?;
        let step = cholesky_solve(&l, &g);
        if max_abs(&step) < NEWTON_LAST_STEP {
            // Within Newton's quadratic convergence, the point after this step is
            // at the optimum to about the step squared: take it without another
            // pass (gradient and Hessian stay those a step before, the value is
            // that of the quadratic model, exact to the step cubed).
            x = x.iter().zip(&step).map(|(xi, si)| xi - si).collect();
            f -= 0.5 * g.iter().zip(&step).map(|(gi, si)| gi * si).sum::<f64>();
            iterations += 1;
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..prec::NEWTON_MAX_HALVINGS {
            let xn: Vec<f64> = x.iter().zip(&step).map(|(xi, si)| xi - t * si).collect();
            t *= 0.5;
            if out_of_bounds(&xn) {
                continue;
            }
            let (fn_, gn, hn) = problem.value_grad_hess(&xn)?;
            if fn_.is_finite()
                && (fn_ < f
                    || (fn_ - f <= prec::NEWTON_VALUE_NOISE * f.abs().max(1.0)
                        && max_abs(&gn) < 0.5 * max_abs(&g)))
            {
                (x, f, g, h) = (xn, fn_, gn, hn);
                accepted = true;
                break;
            }
        }
        iterations += 1;
        if !accepted {
            break;
        }
    }
    Some((x, iterations, f, g, h))
}

/// The covariance of the log parameters from the Hessian of the mean objective
/// (its Cholesky factor): the inverse Hessian of the total.
fn covariance(l: &[Vec<f64>], total_weight: f64) -> Vec<Vec<f64>> {
    cholesky_inverse(l)
        .into_iter()
        .map(|row| row.into_iter().map(|v| v / total_weight).collect())
        .collect()
}

/// Minimise a model's mean negative log-likelihood over log parameters from `x0`.
///
/// `total_weight` (the number of customers) turns the Hessian of the mean into
/// that of the total for the covariance.
///
/// With a [`WarmStart`], its point replaces `x0`, and chord-Newton steps with its
/// Hessian take the place of L-BFGS as long as they make progress (from close to
/// the optimum they need a few evaluations where L-BFGS, without curvature to start
/// with, needs a dozen or more); L-BFGS continues from wherever they stop.
pub(crate) fn minimize<P: Cached>(
    problem: &P,
    x0: Vec<f64>,
    warm: Option<WarmStart>,
    opts: &ValidFitOptions,
    total_weight: f64,
) -> Result<Optimum> {
    // From a warm start, where the model has an analytic Hessian, Newton's method
    // alone: a handful of passes over the data, ending with the Hessian for the
    // covariance. Anything else takes the general path below.
    if let Some(w) = &warm
        && let Some((x, iterations, f, g, h)) = newton(problem, w.x.clone())
        && f.is_finite()
        && max_abs(&g) < prec::CONVERGED_GRAD_TOL
        && let Some(l) = cholesky(&h)
    {
        return Ok(Optimum {
            x,
            iterations,
            converged: true,
            cov: Some(covariance(&l, total_weight)),
            value: Some(f),
        });
    }
    let (x0, mut warm) = match warm {
        Some(w) if problem.cached(&w.x).0.is_finite() => (w.x, Some(w.chol)),
        _ => (x0, None),
    };
    let (f0, _) = problem.cached(&x0);
    if !f0.is_finite() {
        return Err(ModelError::FitFailed(format!(
            "the likelihood is not finite at the starting point {:?}",
            x0.iter().map(|v| v.exp()).collect::<Vec<_>>()
        )));
    }
    let (mut x, mut iterations) = match warm.take() {
        Some(l) => match chord_newton(problem, x0.clone(), &l) {
            (x, steps, true) => (Some(x), steps),
            (x, steps, false) => {
                let (x, it) = run_lbfgs(problem, x, opts.max_iters);
                (x, steps + it)
            }
        },
        None => run_lbfgs(problem, x0.clone(), opts.max_iters),
    };
    let grad_ok = |x: &Option<Vec<f64>>| {
        x.as_ref().is_some_and(|x| {
            let (v, g) = problem.cached(x);
            v.is_finite() && max_abs(&g) < prec::CONVERGED_GRAD_TOL
        })
    };
    if !grad_ok(&x) {
        // L-BFGS gave up (line search failure, non-finite region, iteration cap):
        // restart from the best point seen with the derivative-free simplex, then
        // let L-BFGS finish.
        let start = problem.cache().best().map(|b| b.0).unwrap_or(x0);
        let (nm, it) = run_nelder_mead(problem, &start, opts.max_iters);
        iterations += it;
        let from = nm
            .or_else(|| problem.cache().best().map(|b| b.0))
            .unwrap_or(start);
        let (lb, it) = run_lbfgs(problem, from.clone(), opts.max_iters);
        iterations += it;
        x = lb.or(Some(from));
    }
    let mut x = x.expect("a point is always available");
    // Keep the best point seen, in case the last iterate is not it.
    if let Some((bx, bv)) = problem.cache().best()
        && bv < problem.cached(&x).0
    {
        x = bx;
    }

    // Newton polishing. The Hessian (central differences of the analytic gradient,
    // 2n gradient evaluations) is computed once and reused for every step (a chord
    // method: near the optimum it converges about as fast as Newton's), and it also
    // gives the standard errors. It is recomputed only if the point moves.
    let mut hess = numerical_hessian(problem, &x);
    let mut hess_at = x.clone();
    let moved = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()))
    };
    for _ in 0..prec::NEWTON_MAX_STEPS {
        let (f, g) = problem.cached(&x);
        if max_abs(&g) < prec::NEWTON_GRAD_TOL {
            break;
        }
        let Some(l) = hess.as_deref().and_then(cholesky) else {
            break;
        };
        let step = cholesky_solve(&l, &g);
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..prec::NEWTON_MAX_HALVINGS {
            let xn: Vec<f64> = x.iter().zip(&step).map(|(xi, si)| xi - t * si).collect();
            let (fn_, gn) = problem.cached(&xn);
            // Accept a decrease, or a step that halves the gradient while the value
            // stays within rounding noise: at the optimum the true change of the
            // value (~|g|^2 / h) is far below the noise of a sum over many rows.
            if fn_.is_finite()
                && (fn_ < f
                    || (fn_ - f <= prec::NEWTON_VALUE_NOISE * f.abs().max(1.0)
                        && max_abs(&gn) < 0.5 * max_abs(&g)))
            {
                x = xn;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        iterations += 1;
        if !accepted {
            break;
        }
        if moved(&x, &hess_at) > prec::HESSIAN_REUSE_DISTANCE {
            hess = numerical_hessian(problem, &x);
            hess_at = x.clone();
        }
    }
    let (fx, gx) = problem.cached(&x);
    if !fx.is_finite() {
        return Err(ModelError::FitFailed(
            "the optimiser ended where the likelihood is not finite".into(),
        ));
    }
    if moved(&x, &hess_at) > prec::HESSIAN_REUSE_DISTANCE {
        hess = numerical_hessian(problem, &x);
    }
    let chol = hess.as_deref().and_then(cholesky);
    let converged = chol.is_some() && max_abs(&gx) < prec::CONVERGED_GRAD_TOL;
    let cov = chol.map(|l| covariance(&l, total_weight));
    Ok(Optimum {
        x,
        iterations,
        converged,
        cov,
        value: None,
    })
}

/// Natural-scale standard errors `θ_i * sqrt(cov_ii)` from a log-parameter covariance.
pub(crate) fn std_errors(theta: &[f64], cov: &Option<Vec<Vec<f64>>>) -> Option<Vec<f64>> {
    let cov = cov.as_ref()?;
    let se: Vec<f64> = theta
        .iter()
        .enumerate()
        .map(|(i, t)| t * cov[i][i].sqrt())
        .collect();
    se.iter().all(|s| s.is_finite()).then_some(se)
}

/// The penalised mean objective and its gradient on log parameters, from the
/// weighted sums over rows `sums = [Σ w ln L, Σ w ∂ln L/∂θ_1, ..., Σ w ∂ln L/∂θ_K]`
/// at the natural parameters `theta`:
///
/// ```text
/// f(ln θ) = -S_0 / W + c Σ_k θ_k²,    ∂f/∂ln θ_k = -S_k θ_k / W + 2 c θ_k²
/// ```
///
/// with `W` the total weight and `c` the L2 penalty coefficient.
pub(crate) fn penalized(sums: &[f64], theta: &[f64], total_weight: f64, c: f64) -> (f64, Vec<f64>) {
    let value = -sums[0] / total_weight + c * theta.iter().map(|t| t * t).sum::<f64>();
    let grad = (0..theta.len())
        .map(|k| -sums[k + 1] * theta[k] / total_weight + 2.0 * c * theta[k] * theta[k])
        .collect();
    (value, grad)
}

/// The log-likelihood of a problem's data at `params`: minus the objective (built
/// without penalty) at `ln θ`, times the total weight.
pub(crate) fn log_likelihood_at<P: Params>(
    problem: &impl Objective,
    params: &P,
    total_weight: f64,
) -> f64 {
    let x: Vec<f64> = params.to_vec().iter().map(|v| v.ln()).collect();
    -problem.value_grad(&x).0 * total_weight
}

/// Parameters that the problem sees divided by `scale` because its data were
/// rescaled (time to `T / max T` for the transaction models, money to the mean
/// spend for Gamma-Gamma): initial values are divided by it, estimates and
/// standard errors multiplied back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rescaled<'i> {
    /// Indices of the rescaled parameters.
    pub indices: &'i [usize],
    /// Data unit = `scale` internal units.
    pub scale: f64,
}

impl Rescaled<'_> {
    /// No parameter is rescaled.
    pub const NONE: Rescaled<'static> = Rescaled {
        indices: &[],
        scale: 1.0,
    };
}

/// Fit a model by maximum likelihood and assemble the fit record: check the
/// options for `P`'s model, build the objective with `problem(penalizer_coef)`,
/// start from the options' initial values (all parameters 1 without them),
/// [`minimize`], undo `rescaled`, and report `n` customers (the total weight) over
/// `rows` distinct rows with the log-likelihood that `log_likelihood` gives the
/// estimates on the original data.
pub(crate) fn fit_problem<P: Params, O: Cached>(
    options: &FitOptions,
    problem: impl FnOnce(f64) -> O,
    rescaled: Rescaled<'_>,
    n: f64,
    rows: usize,
    log_likelihood: impl FnOnce(&P) -> f64,
) -> Result<Fitted<P>> {
    let no_stand_in: Option<fn(f64) -> O> = None;
    fit_problem_warm(
        options,
        problem,
        no_stand_in,
        rescaled,
        n,
        rows,
        |p: &P, _| log_likelihood(p),
    )
}

/// [`fit_problem`], where `stand_in(penalizer_coef)`, if given, builds a cheaper
/// objective with nearly the same optimum (the data coarsened, for instance):
/// without initial values in the options, L-BFGS runs on it first from the default
/// start, and the full fit starts where it ended, with the stand-in's Hessian there
/// (see [`minimize`]). The full fit then needs a few evaluations instead of a few
/// dozen, and ends at the same optimum: Newton polishing takes either path to the
/// rounding floor, and the standard errors come from the full objective's Hessian.
///
/// `log_likelihood(estimates, mean)` gives the log-likelihood on the original
/// data; `mean`, where the optimiser knows it, is the objective at the optimum
/// without the penalty (the mean negative log-likelihood in the problem's units),
/// which spares a pass over the data.
pub(crate) fn fit_problem_warm<P: Params, O: Cached>(
    options: &FitOptions,
    problem: impl FnOnce(f64) -> O,
    stand_in: Option<impl FnOnce(f64) -> O>,
    rescaled: Rescaled<'_>,
    n: f64,
    rows: usize,
    log_likelihood: impl FnOnce(&P, Option<f64>) -> f64,
) -> Result<Fitted<P>> {
    let opts = options.check(P::KIND)?;
    let default_start = vec![0.0; P::KIND.param_names().len()];
    let mut warm = None;
    let x0 = match &opts.initial_params {
        Some(p) => p
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if rescaled.indices.contains(&i) {
                    (v / rescaled.scale).ln()
                } else {
                    v.ln()
                }
            })
            .collect(),
        None => {
            warm = stand_in
                .and_then(|s| warm_start(&s(opts.penalizer_coef), default_start.clone(), &opts));
            default_start
        }
    };
    let problem = problem(opts.penalizer_coef);
    let opt = minimize(&problem, x0, warm, &opts, n)?;
    let mut theta: Vec<f64> = opt.x.iter().map(|v| v.exp()).collect();
    // The mean negative log-likelihood at the optimum without the penalty, in the
    // problem's units, where the optimiser has it.
    let c = opts.penalizer_coef;
    let mean_nll = opt
        .value
        .map(|v| v - c * theta.iter().map(|t| t * t).sum::<f64>());
    for &i in rescaled.indices {
        theta[i] *= rescaled.scale;
    }
    let params = P::from_slice(&theta);
    Ok(Fitted {
        model: P::KIND,
        params,
        std_errors: std_errors(&theta, &opt.cov).map(|s| P::from_slice(&s)),
        log_likelihood: log_likelihood(&params, mean_nll),
        n,
        rows,
        converged: opt.converged,
        iterations: opt.iterations,
        log_covariance: opt.cov,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(x) = Σ (e^{x_i} - c_i)^2 / 2, minimum at x = ln c.
    struct Quad<'a> {
        c: &'a [f64],
        cache: EvalCache,
    }

    impl Objective for Quad<'_> {
        fn dim(&self) -> usize {
            self.c.len()
        }
        fn value_grad(&self, x: &[f64]) -> (f64, Vec<f64>) {
            let mut v = 0.0;
            let mut g = vec![0.0; x.len()];
            for i in 0..x.len() {
                let e = x[i].exp();
                v += 0.5 * (e - self.c[i]).powi(2);
                g[i] = (e - self.c[i]) * e;
            }
            (v, g)
        }
    }

    impl Cached for Quad<'_> {
        fn cache(&self) -> &EvalCache {
            &self.cache
        }
    }

    argmin_problem!(Quad);

    #[test]
    fn minimize_finds_a_tight_optimum_and_covariance() {
        let c = [0.25, 4.0, 30.0];
        let q = Quad {
            c: &c,
            cache: EvalCache::default(),
        };
        let opts = FitOptions::default().check(ModelKind::Sbg).unwrap();
        let opt = minimize(&q, vec![0.0; 3], None, &opts, 1.0).unwrap();
        assert!(opt.converged);
        for (xi, ci) in opt.x.iter().zip(c) {
            assert!((xi.exp() / ci - 1.0).abs() < 1e-12, "{} vs {ci}", xi.exp());
        }
        // Hessian at the optimum is diag(c_i^2); covariance diag(1 / c_i^2)
        let cov = opt.cov.unwrap();
        for i in 0..3 {
            assert!((cov[i][i] * c[i] * c[i] - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn options_are_checked_once() {
        let bad = FitOptions {
            penalizer_coef: -1.0,
            ..FitOptions::default()
        };
        assert!(bad.check(ModelKind::BgNbd).is_err());
        let bad = FitOptions {
            initial_params: Some(vec![1.0, 2.0]),
            ..FitOptions::default()
        };
        assert!(bad.check(ModelKind::BgNbd).is_err());
        let bad = FitOptions {
            initial_params: Some(vec![1.0, -2.0]),
            ..FitOptions::default()
        };
        assert!(bad.check(ModelKind::Sbg).is_err());
    }

    #[test]
    fn model_names_parse() {
        assert_eq!("BG/NBD".parse::<ModelKind>().unwrap(), ModelKind::BgNbd);
        assert_eq!(
            "pareto_nbd".parse::<ModelKind>().unwrap(),
            ModelKind::ParetoNbd
        );
        assert_eq!(
            "Gamma-Gamma".parse::<ModelKind>().unwrap(),
            ModelKind::GammaGamma
        );
        assert_eq!("sBG".parse::<ModelKind>().unwrap(), ModelKind::Sbg);
        assert!("nbd".parse::<ModelKind>().is_err());
        assert_eq!(
            serde_json::to_string(&ModelKind::MbgNbd).unwrap(),
            "\"mbgnbd\""
        );
    }
}

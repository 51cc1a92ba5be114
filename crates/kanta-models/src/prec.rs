//! Every numerical tolerance of the crate, in one place.
//!
//! The values are chosen so that fitted parameters agree with an exact optimum to
//! far more than the 4 significant figures the tests demand, while special functions
//! stop as soon as the next term cannot change a double.

/// Relative size below which a series term is treated as negligible.
///
/// Half an ulp of 1.0: once a term is this small relative to the partial sum, adding
/// it does not change the double.
pub const SERIES_REL_TOL: f64 = f64::EPSILON / 2.0;

/// Upper bound on terms in one power series (2F1 near `z = 0.5` with parameters in
/// the thousands needs a few thousand).
pub const SERIES_MAX_TERMS: usize = 200_000;

/// Largest `z` at which the Gauss series for 2F1 is summed directly; above it the
/// function is continued along the real axis by Taylor steps of the ODE.
pub const HYP2F1_SERIES_MAX_Z: f64 = 0.5;

/// The ODE continuation of 2F1 starts at `z0 = max(1/2, 1 - HYP2F1_ODE_START / (1 + |a| + |b| + |c|))`
/// (the Gauss series is summed up to `z0`); see `special::hyp2f1_unit`.
pub const HYP2F1_ODE_START: f64 = 8.0;

/// Fraction of the distance to the singularity at `z = 1` covered by one Taylor
/// step of the hypergeometric ODE; the step's series then converges like
/// `HYP2F1_ODE_STEP^n`.
pub const HYP2F1_ODE_STEP: f64 = 0.6;

/// Convergence threshold of the Gauss continued fraction used for
/// `2F1(a, b; a + 1; z)` (modified Lentz algorithm).
pub const CF_REL_TOL: f64 = 1e-15;

/// Upper bound on continued-fraction levels. The fraction needs about
/// `30 / sqrt(1 - z)` levels, so this admits `1 - z` down to about 1e-9.
pub const CF_MAX_ITERS: usize = 1_000_000;

/// L-BFGS stops when the Euclidean norm of the gradient of the mean negative
/// log-likelihood (with respect to the log parameters) falls below this; Newton
/// polishing takes it from there to the rounding floor in a step or two.
pub const LBFGS_GRAD_TOL: f64 = 1e-8;

/// L-BFGS stops when an iteration changes the mean negative log-likelihood by less
/// than this (absolute): progress has hit the rounding floor.
pub const LBFGS_COST_TOL: f64 = 4.0 * f64::EPSILON;

/// L-BFGS history length.
pub const LBFGS_MEMORY: usize = 7;

/// Distinct rows above which a BG/NBD, MBG/NBD or Pareto/NBD fit first fits a
/// coarsened copy of the data (recency and T on a grid) and starts from its optimum
/// and Hessian (`fit::fit_problem_warm`).
pub const WARM_START_MIN_ROWS: usize = 20_000;

/// Grid steps per largest T of that coarsened copy.
pub const WARM_START_GRID: f64 = 100.0;

/// Chord-Newton steps from a warm start before L-BFGS takes over.
pub const WARM_START_MAX_STEPS: usize = 8;

/// Bound on every log parameter (in the internal scale) during optimisation:
/// `e^±30` is about 1e±13. Beyond it the estimate is running off to 0 or
/// infinity, and the fit stops and reports that it did not converge.
pub const LOG_PARAM_BOUND: f64 = 30.0;

/// Iteration cap of the Nelder-Mead rescue run (used only when L-BFGS stops early).
pub const NELDER_MEAD_MAX_ITERS: u64 = 400;

/// Default cap on optimiser iterations.
pub const MAX_ITERS: u64 = 2_000;

/// Newton polishing steps after L-BFGS (each costs `2 * n_params` gradients).
pub const NEWTON_MAX_STEPS: usize = 6;

/// The Hessian used for Newton polishing and standard errors is recomputed when
/// the point has moved further than this (max-norm, log parameters) from where it
/// was computed; below it the change in the standard errors is negligible.
pub const HESSIAN_REUSE_DISTANCE: f64 = 1e-3;

/// A Newton step is halved at most this many times before polishing gives up.
pub const NEWTON_MAX_HALVINGS: usize = 5;

/// Relative increase of the objective that a Newton step may cause and still be
/// accepted if it halves the gradient: rounding noise of a long sum.
pub const NEWTON_VALUE_NOISE: f64 = 1e-12;

/// Newton polishing stops once the gradient max-norm is below this.
pub const NEWTON_GRAD_TOL: f64 = 1e-13;

/// A fit is reported as converged when the final gradient max-norm of the mean
/// negative log-likelihood (log parameters) is below this and the Hessian is
/// positive definite.
pub const CONVERGED_GRAD_TOL: f64 = 1e-6;

/// Central-difference step (on the log-parameter scale) for the Hessian, which is
/// the numerical derivative of the analytic gradient: truncation error `~h^2`,
/// rounding error `~1e-16 / h`, both about 1e-10.
pub const HESSIAN_STEP: f64 = 1e-5;

/// Row count above which likelihood sums and scoring run in parallel with rayon.
pub const PARALLEL_MIN_ROWS: usize = 8_192;

/// Rows per parallel chunk. Chunk sums are added in a fixed order, so results do
/// not depend on the number of threads.
pub const PARALLEL_CHUNK: usize = 4_096;

//! The health scorecard: a regularised additive logistic model of a binary outcome
//! (churn within a window), in the GAM / credit-scorecard style.
//!
//! # Why this shape
//!
//! A person must be able to read the score: "usage down 45% against the customer's
//! own baseline: -12 points". So every feature is cut into bins and each bin gets one
//! weight; a row's logit is the intercept plus one weight per feature, and each
//! feature's contribution is that one number. Bins catch non-monotone effects (two
//! products churning least, three or four most) that a single slope per feature
//! would miss, while the model stays additive and its parts add up exactly.
//!
//! # The model
//!
//! - **Numeric** columns are cut at quantiles into at most [`FitOptions::max_bins`]
//!   bins (ties never split: a bin is `lo < x <= hi` on values seen in the data; a
//!   column with few distinct values gets one bin per value); bins with fewer than
//!   the minimum count ([`FitOptions::min_bin_share`] of the rows, at least 5) are
//!   merged into their smaller neighbour. Missing values are a bin of their own.
//! - **Categorical** columns keep each level that has the minimum count, up to
//!   [`FitOptions::max_levels`]; the rest is one `other` bin, missing or blank cells
//!   one `missing` bin. A column left with a single bin (constant, or an identifier
//!   whose every value is rare) is dropped.
//! - The churn logit is `intercept + Σ_f w[f, bin_f(row)]`, fitted by penalised
//!   maximum likelihood: minimise the negative log-likelihood plus
//!   `λ/2 · (Σ w² + s · Σ (w_b - w_{b+1})²)`, the second sum over adjacent range
//!   bins of each numeric feature (a smoothness penalty: neighbouring bins differ only
//!   where the data insist). The intercept is not penalised.
//! - The strength `λ` and the smoothness ratio `s` are chosen by stratified k-fold
//!   cross-validation on the training rows (held-out log-loss over a small grid,
//!   folds deterministic by [`FitOptions::seed`]) unless [`FitOptions::l2`] is given.
//! - Fitting is Newton's method (IRLS) with step halving: the design is one-hot and
//!   sparse, so the Hessian is small (one row and column per bin) and is solved by
//!   a dense Cholesky factorisation written here.
//! - After the fit each feature's weights are centred (their count-weighted mean over
//!   the training rows moved into the intercept), so a weight reads "against an
//!   average row", and the features are ordered by importance: the count-weighted
//!   standard deviation of their contribution.
//!
//! `intercept + Σ contributions == logit` holds exactly (to the last bit):
//! [`Scorecard::logit`] adds the parts of [`Scorecard::contributions`] in order to
//! the intercept.
//!
//! [`validate`] computes holdout metrics: ROC AUC by average ranks (ties count
//! one half), Brier score, log-loss and a calibration table by deciles of the
//! predicted probability. [`stratified_split`] is a seeded random split that keeps
//! the event rate in both parts; a caller with dates (the health job) makes its own
//! time-based split and calls [`fit_and_validate`] with the rows.

use std::cmp::Ordering;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The cells of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cells {
    /// Numbers; `None` (or NaN) is missing.
    Numeric(Vec<Option<f64>>),
    /// Levels; `None` or a blank string is missing.
    Categorical(Vec<Option<String>>),
}

impl Cells {
    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            Cells::Numeric(v) => v.len(),
            Cells::Categorical(v) => v.len(),
        }
    }

    /// No cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn subset(&self, rows: &[usize]) -> Cells {
        match self {
            Cells::Numeric(v) => Cells::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Cells::Categorical(v) => {
                Cells::Categorical(rows.iter().map(|&r| v[r].clone()).collect())
            }
        }
    }
}

/// One named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name (the feature's name).
    pub name: String,
    /// Its cells, one per row.
    pub cells: Cells,
}

/// Columns of equal length and the binary outcome per row.
///
/// For prediction the target may be empty: only the columns are read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    /// The feature columns.
    pub columns: Vec<Column>,
    /// The outcome per row (true = the event, e.g. churned).
    pub target: Vec<bool>,
}

impl Dataset {
    /// Rows: the target's length, or the first column's when there is no target.
    pub fn rows(&self) -> usize {
        if self.target.is_empty() {
            self.columns.first().map_or(0, |c| c.cells.len())
        } else {
            self.target.len()
        }
    }

    /// The rows given, in that order.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        Dataset {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    cells: c.cells.subset(rows),
                })
                .collect(),
            target: if self.target.is_empty() {
                Vec::new()
            } else {
                rows.iter().map(|&r| self.target[r]).collect()
            },
        }
    }

    /// The column of that name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Options of [`Scorecard::fit`] and the split helpers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FitOptions {
    /// At most this many bins per numeric feature (besides the missing bin).
    pub max_bins: usize,
    /// The L2 penalty strength `λ`; `None` chooses it by cross-validation.
    pub l2: Option<f64>,
    /// The smoothness ratio `s` (difference penalty between adjacent numeric bins,
    /// relative to `λ`); `None` chooses it by cross-validation (or 10 when `l2` is
    /// given).
    pub smoothness: Option<f64>,
    /// Share of rows held out by [`stratified_split`].
    pub holdout: f64,
    /// Seed of the splits and the cross-validation folds.
    pub seed: u64,
    /// Folds of the cross-validation.
    pub cv_folds: usize,
    /// A bin or level needs at least this share of the rows (and at least 5 rows).
    pub min_bin_share: f64,
    /// At most this many levels of a categorical feature keep their own bin.
    pub max_levels: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_bins: 10,
            l2: None,
            smoothness: None,
            holdout: 0.3,
            seed: 1,
            cv_folds: 5,
            min_bin_share: 0.01,
            max_levels: 30,
        }
    }
}

impl FitOptions {
    fn check(&self) -> Result<(), ScorecardError> {
        let bad = |m: String| Err(ScorecardError::Option(m));
        if self.max_bins < 2 {
            return bad(format!(
                "max_bins must be at least 2, not {}",
                self.max_bins
            ));
        }
        if let Some(l) = self.l2
            && !(l.is_finite() && l >= 0.0)
        {
            return bad(format!("l2 must be a number >= 0, not {l}"));
        }
        if let Some(s) = self.smoothness
            && !(s.is_finite() && s >= 0.0)
        {
            return bad(format!("smoothness must be a number >= 0, not {s}"));
        }
        if !(self.holdout > 0.0 && self.holdout < 1.0) {
            return bad(format!(
                "holdout must be a share between 0 and 1, not {}",
                self.holdout
            ));
        }
        if self.cv_folds < 2 {
            return bad(format!(
                "cv_folds must be at least 2, not {}",
                self.cv_folds
            ));
        }
        if !(0.0..0.5).contains(&self.min_bin_share) {
            return bad(format!(
                "min_bin_share must be between 0 and 0.5, not {}",
                self.min_bin_share
            ));
        }
        if self.max_levels < 1 {
            return bad("max_levels must be at least 1".to_string());
        }
        Ok(())
    }
}

/// Which rows a bin takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BinRule {
    /// Missing values.
    Missing,
    /// Numbers `lo < x <= hi` (an absent bound is unbounded).
    Range {
        /// Lower bound (exclusive).
        lo: Option<f64>,
        /// Upper bound (inclusive).
        hi: Option<f64>,
    },
    /// These levels.
    Levels {
        /// The levels.
        levels: Vec<String>,
    },
    /// Levels not named by another bin (rare in training, or unseen).
    Other,
}

/// One bin of a feature and its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Readable label: `≤ 2`, `(2, 8]`, `> 60`, `3` (one value), a level, `other`,
    /// `missing`.
    pub label: String,
    /// Which rows it takes.
    pub rule: BinRule,
    /// The bin's contribution to the event's logit (against an average row).
    pub weight: f64,
    /// Training rows in the bin.
    pub count: usize,
    /// Training events in the bin.
    pub events: usize,
}

/// Numeric or categorical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Binned numbers.
    Numeric,
    /// Levels.
    Categorical,
}

/// One feature: its bins and weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    /// The column's name.
    pub name: String,
    /// Numeric or categorical.
    pub kind: FeatureKind,
    /// The bins: numeric ranges in ascending order then `missing`; categorical levels
    /// by count then `other` then `missing`.
    pub bins: Vec<Bin>,
    /// Count-weighted standard deviation of the feature's contribution over the
    /// training rows (logit units).
    pub importance: f64,
}

/// One point of the cross-validation grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvPoint {
    /// `λ`.
    pub l2: f64,
    /// `s`.
    pub smoothness: f64,
    /// Mean held-out log-loss over the folds.
    pub log_loss: f64,
}

/// A fitted scorecard: the event's logit is `intercept` plus one bin weight per
/// feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// The logit of an average row.
    pub intercept: f64,
    /// The features, most important first.
    pub features: Vec<Feature>,
    /// The L2 strength used.
    #[serde(default)]
    pub l2: f64,
    /// The smoothness ratio used.
    #[serde(default)]
    pub smoothness: f64,
    /// Training rows.
    #[serde(default)]
    pub rows: usize,
    /// Training events.
    #[serde(default)]
    pub events: usize,
    /// The cross-validation grid (empty when `l2` was given).
    #[serde(default)]
    pub cv: Vec<CvPoint>,
}

/// Why a scorecard cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScorecardError {
    /// No rows.
    #[error("there are no rows to fit")]
    NoRows,
    /// Only one outcome class.
    #[error("the outcome has only one class ({events} events in {rows} rows); both are needed")]
    OneClass {
        /// Events.
        events: usize,
        /// Rows.
        rows: usize,
    },
    /// A column's length differs from the target's.
    #[error("column {column} has {len} values but there are {rows} outcomes")]
    Length {
        /// Column name.
        column: String,
        /// Its length.
        len: usize,
        /// The target's length.
        rows: usize,
    },
    /// An option is out of range.
    #[error("{0}")]
    Option(String),
    /// The optimisation failed (not finite).
    #[error("the fit failed: {0}")]
    Failed(String),
}

/// One decile of the calibration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lowest predicted probability in the group.
    pub min_predicted: f64,
    /// Highest predicted probability in the group.
    pub max_predicted: f64,
    /// Mean predicted probability.
    pub mean_predicted: f64,
    /// Observed event rate.
    pub observed_rate: f64,
    /// Rows.
    pub count: usize,
    /// Events.
    pub events: usize,
}

/// Metrics of predicted probabilities against outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// ROC AUC (Mann-Whitney, ties one half); NaN (JSON null) with one class only.
    pub auc: f64,
    /// Brier score: mean squared error of the probability.
    pub brier: f64,
    /// Mean log-loss (probabilities clamped to [1e-15, 1 - 1e-15]).
    pub log_loss: f64,
    /// Rows.
    pub n: usize,
    /// Events.
    pub events: usize,
    /// Ten groups of equal size by predicted probability (fewer below 10 rows).
    pub calibration: Vec<CalibrationBin>,
}

// ---------------------------------------------------------------------------
// Cells to bins

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// A level as text: numbers as written by Rust's shortest form (`2`, `2.5`).
fn level_of_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn number_of_text(s: &str) -> Option<f64> {
    let t = s.trim();
    let v = t
        .parse::<f64>()
        .ok()
        .or_else(|| t.replace(',', ".").parse::<f64>().ok())?;
    v.is_finite().then_some(v)
}

enum CellRef<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
}

fn cell(cells: &Cells, row: usize) -> CellRef<'_> {
    match cells {
        Cells::Numeric(v) => match v.get(row).copied().flatten() {
            Some(x) if !x.is_nan() => CellRef::Number(x),
            _ => CellRef::Missing,
        },
        Cells::Categorical(v) => match v.get(row).and_then(|c| c.as_deref()) {
            Some(s) if !is_blank(s) => CellRef::Text(s.trim()),
            _ => CellRef::Missing,
        },
    }
}

impl Feature {
    /// The bin a cell falls in (`cells` `None`: the column is absent, so missing).
    /// `None` when the feature has no bin for it (missing or an unseen level where
    /// training had no `missing` or `other` bin): its contribution is then 0.
    pub fn bin_of(&self, cells: Option<&Cells>, row: usize) -> Option<usize> {
        let c = cells.map_or(CellRef::Missing, |c| cell(c, row));
        let missing = || self.bins.iter().position(|b| b.rule == BinRule::Missing);
        match self.kind {
            FeatureKind::Numeric => {
                let x = match c {
                    CellRef::Missing => return missing(),
                    CellRef::Number(x) => x,
                    CellRef::Text(s) => match number_of_text(s) {
                        Some(x) => x,
                        None => return missing(),
                    },
                };
                self.bins.iter().position(|b| match b.rule {
                    BinRule::Range { hi, .. } => hi.is_none_or(|h| x <= h),
                    _ => false,
                })
            }
            FeatureKind::Categorical => {
                let owned;
                let level: &str = match c {
                    CellRef::Missing => return missing(),
                    CellRef::Number(x) => {
                        owned = level_of_number(x);
                        &owned
                    }
                    CellRef::Text(s) => s,
                };
                self.bins
                    .iter()
                    .position(|b| match &b.rule {
                        BinRule::Levels { levels } => levels.iter().any(|l| l == level),
                        _ => false,
                    })
                    .or_else(|| self.bins.iter().position(|b| b.rule == BinRule::Other))
            }
        }
    }
}

fn fmt_bound(v: f64) -> String {
    let s = format!("{v}");
    if s.len() <= 10 {
        s
    } else {
        let r = format!("{v:.4}");
        r.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A numeric bin's label from its bounds: `≤ 5`, `(5, 12]`, `> 12`, or `all`.
pub fn range_label(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (None, Some(h)) => format!("≤ {}", fmt_bound(h)),
        (Some(l), None) => format!("> {}", fmt_bound(l)),
        (Some(l), Some(h)) => format!("({}, {}]", fmt_bound(l), fmt_bound(h)),
        (None, None) => "all".to_string(),
    }
}

/// Quantile bins of the non-missing values: (hi, min, max, count, events) per bin.
fn numeric_bins(
    values: &[Option<f64>],
    target: &[bool],
    max_bins: usize,
    min_count: usize,
) -> Vec<Bin> {
    let mut pairs: Vec<(f64, bool)> = values
        .iter()
        .zip(target)
        .filter_map(|(v, &y)| v.filter(|x| !x.is_nan()).map(|x| (x, y)))
        .collect();
    let missing = values.len() - pairs.len();
    let missing_events = values
        .iter()
        .zip(target)
        .filter(|(v, y)| v.is_none_or(f64::is_nan) && **y)
        .count();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let m = pairs.len();
    // distinct values with counts and events
    let mut distinct: Vec<(f64, usize, usize)> = Vec::new();
    for &(x, y) in &pairs {
        match distinct.last_mut() {
            Some(d) if d.0 == x => {
                d.1 += 1;
                d.2 += usize::from(y);
            }
            _ => distinct.push((x, 1, usize::from(y))),
        }
    }
    // (min, max, count, events)
    let mut groups: Vec<(f64, f64, usize, usize)> = Vec::new();
    if m > 0 {
        let per = m as f64 / max_bins as f64;
        let mut next = per;
        let mut cum = 0usize;
        let mut open: Option<(f64, f64, usize, usize)> = None;
        for &(x, c, e) in &distinct {
            cum += c;
            let g = open.get_or_insert((x, x, 0, 0));
            g.1 = x;
            g.2 += c;
            g.3 += e;
            if cum as f64 >= next - 1e-9 {
                groups.push(open.take().expect("open group"));
                next = ((cum as f64 / per).floor() + 1.0) * per;
            }
        }
        if let Some(g) = open {
            groups.push(g);
        }
        // merge small groups into their smaller neighbour
        while groups.len() > 1 {
            let Some((i, _)) = groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.2 < min_count)
                .min_by_key(|(_, g)| g.2)
            else {
                break;
            };
            let j = if i == 0 {
                1
            } else if i == groups.len() - 1 || groups[i - 1].2 <= groups[i + 1].2 {
                i - 1
            } else {
                i + 1
            };
            let (a, b) = (i.min(j), i.max(j));
            let gb = groups.remove(b);
            let ga = &mut groups[a];
            ga.1 = gb.1;
            ga.2 += gb.2;
            ga.3 += gb.3;
        }
    }
    let k = groups.len();
    let mut bins: Vec<Bin> = groups
        .iter()
        .enumerate()
        .map(|(i, &(min, max, count, events))| {
            let lo = (i > 0).then(|| groups[i - 1].1);
            let hi = (i + 1 < k).then_some(max);
            let label = if min == max {
                fmt_bound(min)
            } else {
                range_label(lo, hi)
            };
            Bin {
                label,
                rule: BinRule::Range { lo, hi },
                weight: 0.0,
                count,
                events,
            }
        })
        .collect();
    if missing > 0 {
        bins.push(Bin {
            label: "missing".to_string(),
            rule: BinRule::Missing,
            weight: 0.0,
            count: missing,
            events: missing_events,
        });
    }
    bins
}

fn categorical_bins(
    values: &[Option<String>],
    target: &[bool],
    min_count: usize,
    max_levels: usize,
) -> Vec<Bin> {
    let mut counts: std::collections::HashMap<&str, (usize, usize)> =
        std::collections::HashMap::new();
    let (mut missing, mut missing_events) = (0usize, 0usize);
    for (v, &y) in values.iter().zip(target) {
        match v.as_deref() {
            Some(s) if !is_blank(s) => {
                let e = counts.entry(s.trim()).or_default();
                e.0 += 1;
                e.1 += usize::from(y);
            }
            _ => {
                missing += 1;
                missing_events += usize::from(y);
            }
        }
    }
    let mut levels: Vec<(&str, usize, usize)> =
        counts.into_iter().map(|(k, (c, e))| (k, c, e)).collect();
    levels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut bins = Vec::new();
    let (mut other, mut other_events, mut other_levels) = (0usize, 0usize, 0usize);
    for &(name, c, e) in &levels {
        if c >= min_count && bins.len() < max_levels {
            bins.push(Bin {
                label: name.to_string(),
                rule: BinRule::Levels {
                    levels: vec![name.to_string()],
                },
                weight: 0.0,
                count: c,
                events: e,
            });
        } else {
            other += c;
            other_events += e;
            other_levels += 1;
        }
    }
    if other_levels > 0 {
        bins.push(Bin {
            label: "other".to_string(),
            rule: BinRule::Other,
            weight: 0.0,
            count: other,
            events: other_events,
        });
    }
    if missing > 0 {
        bins.push(Bin {
            label: "missing".to_string(),
            rule: BinRule::Missing,
            weight: 0.0,
            count: missing,
            events: missing_events,
        });
    }
    bins
}

// ---------------------------------------------------------------------------
// Penalised Newton fit on the one-hot design

/// The one-hot design: per row, the global parameter index of each feature's bin
/// (parameter 0 is the intercept; `u32::MAX` = no bin).
struct Design {
    params: usize,
    features: usize,
    idx: Vec<u32>,
    /// Adjacent numeric range bins (global indices) for the difference penalty.
    chains: Vec<(usize, usize)>,
}

const NONE: u32 = u32::MAX;

/// The logistic function, 1 / (1 + e^-x), stable for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// -log P(y | logit eta), stable.
fn nll(eta: f64, y: bool) -> f64 {
    // log(1 + exp(-|eta|)) + max(eta, 0) - y*eta
    let softplus = eta.max(0.0) + (-eta.abs()).exp().ln_1p();
    softplus - if y { eta } else { 0.0 }
}

struct Penalty {
    /// Dense `params × params` matrix of the penalty's quadratic form (without λ/2).
    matrix: Vec<f64>,
}

impl Penalty {
    fn new(design: &Design, l2: f64, smoothness: f64) -> Penalty {
        let p = design.params;
        let mut m = vec![0.0; p * p];
        for j in 1..p {
            m[j * p + j] += l2;
        }
        let d = l2 * smoothness;
        for &(a, b) in &design.chains {
            m[a * p + a] += d;
            m[b * p + b] += d;
            m[a * p + b] -= d;
            m[b * p + a] -= d;
        }
        Penalty { matrix: m }
    }

    fn apply(&self, w: &[f64]) -> Vec<f64> {
        let p = w.len();
        (0..p)
            .map(|i| {
                self.matrix[i * p..(i + 1) * p]
                    .iter()
                    .zip(w)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    }
}

/// In-place Cholesky of a dense symmetric positive definite matrix (lower triangle),
/// then solves `A x = b`. `None` if not positive definite.
fn cholesky_solve(a: &mut [f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut x = b.to_vec();
    for i in 0..n {
        let mut s = x[i];
        for k in 0..i {
            s -= a[i * n + k] * x[k];
        }
        x[i] = s / a[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = x[i];
        for k in i + 1..n {
            s -= a[k * n + i] * x[k];
        }
        x[i] = s / a[i * n + i];
    }
    Some(x)
}

impl Design {
    fn eta(&self, w: &[f64], row: usize) -> f64 {
        let mut s = w[0];
        for &j in &self.idx[row * self.features..(row + 1) * self.features] {
            if j != NONE {
                s += w[j as usize];
            }
        }
        s
    }

    /// The log-likelihood's gradient and Hessian (dense, `params × params`) over
    /// `rows`, accumulated in parallel chunks.
    fn gradient_hessian(&self, w: &[f64], rows: &[usize], y: &[bool]) -> (Vec<f64>, Vec<f64>) {
        let p = self.params;
        let part = |chunk: &[usize]| {
            let mut grad = vec![0.0; p];
            let mut hess = vec![0.0; p * p];
            let mut active: Vec<usize> = Vec::with_capacity(self.features + 1);
            for &r in chunk {
                let mu = sigmoid(self.eta(w, r));
                let resid = mu - if y[r] { 1.0 } else { 0.0 };
                let wt = (mu * (1.0 - mu)).max(1e-12);
                active.clear();
                active.push(0);
                active.extend(
                    self.idx[r * self.features..(r + 1) * self.features]
                        .iter()
                        .filter(|&&j| j != NONE)
                        .map(|&j| j as usize),
                );
                for &a in &active {
                    grad[a] += resid;
                    let row = &mut hess[a * p..(a + 1) * p];
                    for &b in &active {
                        row[b] += wt;
                    }
                }
            }
            (grad, hess)
        };
        if rows.len() < 8192 {
            return part(rows);
        }
        rows.par_chunks(4096).map(part).reduce(
            || (vec![0.0; p], vec![0.0; p * p]),
            |(mut g, mut h), (g2, h2)| {
                for (a, b) in g.iter_mut().zip(&g2) {
                    *a += b;
                }
                for (a, b) in h.iter_mut().zip(&h2) {
                    *a += b;
                }
                (g, h)
            },
        )
    }

    fn objective(&self, w: &[f64], rows: &[usize], y: &[bool], pen: &Penalty) -> f64 {
        let loss: f64 = if rows.len() < 8192 {
            rows.iter().map(|&r| nll(self.eta(w, r), y[r])).sum()
        } else {
            rows.par_chunks(4096)
                .map(|c| c.iter().map(|&r| nll(self.eta(w, r), y[r])).sum::<f64>())
                .sum()
        };
        let pw = pen.apply(w);
        loss + 0.5 * w.iter().zip(&pw).map(|(a, b)| a * b).sum::<f64>()
    }

    /// Penalised maximum likelihood on `rows` from `start`.
    fn fit(
        &self,
        rows: &[usize],
        y: &[bool],
        pen: &Penalty,
        start: &[f64],
    ) -> Result<Vec<f64>, ScorecardError> {
        let p = self.params;
        let mut w = start.to_vec();
        let mut obj = self.objective(&w, rows, y, pen);
        for _ in 0..100 {
            let (g, mut hess) = self.gradient_hessian(&w, rows, y);
            let pw = pen.apply(&w);
            let grad: Vec<f64> = g.iter().zip(&pw).map(|(a, b)| a + b).collect();
            for (h, q) in hess.iter_mut().zip(&pen.matrix) {
                *h += q;
            }
            // tiny ridge keeps an unpenalised, empty parameter solvable
            for j in 0..p {
                hess[j * p + j] += 1e-9;
            }
            let step = cholesky_solve(&mut hess, p, &grad).ok_or_else(|| {
                ScorecardError::Failed("the Hessian is not positive definite".into())
            })?;
            let mut t = 1.0;
            let mut improved = false;
            let mut next = w.clone();
            for _ in 0..30 {
                for j in 0..p {
                    next[j] = w[j] - t * step[j];
                }
                let o = self.objective(&next, rows, y, pen);
                if o.is_finite() && o <= obj + 1e-12 * obj.abs().max(1.0) {
                    let done = (obj - o).abs() <= 1e-10 * obj.abs().max(1.0)
                        || step.iter().all(|s| (t * s).abs() < 1e-9);
                    w.clone_from(&next);
                    obj = o;
                    improved = true;
                    if done {
                        return Ok(w);
                    }
                    break;
                }
                t *= 0.5;
            }
            if !improved {
                break;
            }
        }
        if w.iter().all(|v| v.is_finite()) {
            Ok(w)
        } else {
            Err(ScorecardError::Failed("weights are not finite".into()))
        }
    }
}

// ---------------------------------------------------------------------------
// Seeded randomness (SplitMix64: deterministic on every platform)

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias is negligible (< n / 2^64)
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// A seeded random split that keeps the event rate: `(train, holdout)` row
/// indices, each ascending. Of each class, `round(holdout × count)` rows are held
/// out.
pub fn stratified_split(target: &[bool], holdout: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix(seed ^ 0x5EED_0F5C_08EC_A7A7_u64);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..target.len()).filter(|&i| target[i] == class).collect();
        rng.shuffle(&mut idx);
        let k = ((idx.len() as f64) * holdout.clamp(0.0, 1.0)).round() as usize;
        test.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

/// Stratified fold number per position of `rows`.
fn folds(rows: &[usize], y: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xF01D);
    let mut fold = vec![0; rows.len()];
    for class in [true, false] {
        let mut pos: Vec<usize> = (0..rows.len()).filter(|&i| y[rows[i]] == class).collect();
        rng.shuffle(&mut pos);
        for (n, &i) in pos.iter().enumerate() {
            fold[i] = n % k;
        }
    }
    fold
}

const L2_GRID: [f64; 6] = [0.3, 1.0, 3.0, 10.0, 30.0, 100.0];
/// The smoothness ratios tried (the first is the one λ is chosen at).
const SMOOTH_GRID: [f64; 4] = [10.0, 0.0, 2.0, 50.0];
const DEFAULT_SMOOTHNESS: f64 = 10.0;

impl Scorecard {
    /// Bins the columns and fits the weights on all rows of `data` (choosing `λ` and
    /// `s` by cross-validation on them unless `opts.l2` is given).
    ///
    /// # Errors
    ///
    /// No rows, one class only, a column of another length, a bad option, or a
    /// numerical failure.
    pub fn fit(data: &Dataset, opts: &FitOptions) -> Result<Scorecard, ScorecardError> {
        opts.check()?;
        let n = data.target.len();
        if n == 0 {
            return Err(ScorecardError::NoRows);
        }
        for c in &data.columns {
            if c.cells.len() != n {
                return Err(ScorecardError::Length {
                    column: c.name.clone(),
                    len: c.cells.len(),
                    rows: n,
                });
            }
        }
        let events = data.target.iter().filter(|t| **t).count();
        if events == 0 || events == n {
            return Err(ScorecardError::OneClass { events, rows: n });
        }
        let min_count = ((opts.min_bin_share * n as f64).ceil() as usize).max(5);
        let mut features: Vec<Feature> = Vec::new();
        let mut column_of: Vec<usize> = Vec::new();
        for (ci, c) in data.columns.iter().enumerate() {
            let (kind, bins) = match &c.cells {
                Cells::Numeric(v) => (
                    FeatureKind::Numeric,
                    numeric_bins(v, &data.target, opts.max_bins, min_count),
                ),
                Cells::Categorical(v) => (
                    FeatureKind::Categorical,
                    categorical_bins(v, &data.target, min_count, opts.max_levels),
                ),
            };
            if bins.len() < 2 {
                continue;
            }
            features.push(Feature {
                name: c.name.clone(),
                kind,
                bins,
                importance: 0.0,
            });
            column_of.push(ci);
        }
        // the design
        let nf = features.len();
        let mut offsets = Vec::with_capacity(nf);
        let mut params = 1usize;
        let mut chains = Vec::new();
        for f in &features {
            offsets.push(params);
            if f.kind == FeatureKind::Numeric {
                let ranges = f
                    .bins
                    .iter()
                    .filter(|b| matches!(b.rule, BinRule::Range { .. }))
                    .count();
                for b in 1..ranges {
                    chains.push((params + b - 1, params + b));
                }
            }
            params += f.bins.len();
        }
        let mut idx = vec![NONE; n * nf];
        for (fi, f) in features.iter().enumerate() {
            let cells = &data.columns[column_of[fi]].cells;
            for r in 0..n {
                if let Some(b) = f.bin_of(Some(cells), r) {
                    idx[r * nf + fi] = (offsets[fi] + b) as u32;
                }
            }
        }
        let design = Design {
            params,
            features: nf,
            idx,
            chains,
        };
        let y = &data.target;
        let all: Vec<usize> = (0..n).collect();
        let base = (events as f64 / (n - events) as f64).ln();
        let mut start = vec![0.0; params];
        start[0] = base;

        // choose λ and s
        let mut cv = Vec::new();
        let (l2, smoothness) = match opts.l2 {
            Some(l) => (l, opts.smoothness.unwrap_or(DEFAULT_SMOOTHNESS)),
            None => {
                let k = opts.cv_folds;
                let minority = events.min(n - events);
                if minority < k || nf == 0 {
                    (1.0, opts.smoothness.unwrap_or(DEFAULT_SMOOTHNESS))
                } else {
                    let fold = folds(&all, y, k, opts.seed);
                    let smooths: Vec<f64> = match opts.smoothness {
                        Some(s) => vec![s],
                        None => SMOOTH_GRID.to_vec(),
                    };
                    let parts: Vec<(Vec<usize>, Vec<usize>)> = (0..k)
                        .map(|f| {
                            let (mut tr, mut te) = (Vec::new(), Vec::new());
                            for (r, &fr) in fold.iter().enumerate() {
                                if fr == f {
                                    te.push(r);
                                } else {
                                    tr.push(r);
                                }
                            }
                            (tr, te)
                        })
                        .collect();
                    // held-out log-loss of (λ, s) over the folds, each fold warm-started
                    let score = |l: f64, s: f64, warm: &mut Vec<Vec<f64>>| {
                        let pen = Penalty::new(&design, l, s);
                        let fits: Vec<Result<(f64, Vec<f64>), ScorecardError>> = parts
                            .par_iter()
                            .zip(warm.par_iter())
                            .map(|((tr, te), w0)| {
                                let w = design.fit(tr, y, &pen, w0)?;
                                let loss = te
                                    .iter()
                                    .map(|&r| nll(design.eta(&w, r), y[r]))
                                    .sum::<f64>();
                                Ok((loss, w))
                            })
                            .collect();
                        let mut loss = 0.0;
                        for (f, r) in fits.into_iter().enumerate() {
                            let (l, w) = r?;
                            loss += l;
                            warm[f] = w;
                        }
                        Ok::<f64, ScorecardError>(loss / n as f64)
                    };
                    // λ along the grid (strong to weak, warm starts) at the first s,
                    // then s at the best λ
                    let s0 = smooths[0];
                    let mut best = (f64::INFINITY, 1.0, s0);
                    let mut warm: Vec<Vec<f64>> = vec![start.clone(); k];
                    for &l in L2_GRID.iter().rev() {
                        let mean = score(l, s0, &mut warm)?;
                        cv.push(CvPoint {
                            l2: l,
                            smoothness: s0,
                            log_loss: mean,
                        });
                        if mean < best.0 - 1e-12 {
                            best = (mean, l, s0);
                        }
                    }
                    let l = best.1;
                    for &s in &smooths[1..] {
                        let mut warm: Vec<Vec<f64>> = vec![start.clone(); k];
                        let mean = score(l, s, &mut warm)?;
                        cv.push(CvPoint {
                            l2: l,
                            smoothness: s,
                            log_loss: mean,
                        });
                        if mean < best.0 - 1e-12 {
                            best = (mean, l, s);
                        }
                    }
                    (best.1, best.2)
                }
            }
        };
        let pen = Penalty::new(&design, l2.max(0.0), smoothness);
        let w = design.fit(&all, y, &pen, &start)?;

        // centre each feature on its count-weighted mean; importance
        let mut intercept = w[0];
        for (fi, f) in features.iter_mut().enumerate() {
            let o = offsets[fi];
            let mean: f64 = f
                .bins
                .iter()
                .enumerate()
                .map(|(b, bin)| bin.count as f64 * w[o + b])
                .sum::<f64>()
                / n as f64;
            intercept += mean;
            let mut var = 0.0;
            for (b, bin) in f.bins.iter_mut().enumerate() {
                bin.weight = w[o + b] - mean;
                var += bin.count as f64 * bin.weight * bin.weight;
            }
            f.importance = (var / n as f64).sqrt();
        }
        features.sort_by(|a, b| {
            b.importance
                .partial_cmp(&a.importance)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(Scorecard {
            intercept,
            features,
            l2,
            smoothness,
            rows: n,
            events,
            cv,
        })
    }

    /// Each feature's (feature index, bin index, contribution to the event's logit)
    /// for a row, in feature order; a feature with no bin for the row (see
    /// [`Feature::bin_of`]) is left out (it contributes 0). Columns are found by
    /// name; an absent column counts as missing.
    pub fn contributions(&self, data: &Dataset, row: usize) -> Vec<(usize, usize, f64)> {
        self.features
            .iter()
            .enumerate()
            .filter_map(|(fi, f)| {
                let cells = data.column(&f.name).map(|c| &c.cells);
                f.bin_of(cells, row).map(|b| (fi, b, f.bins[b].weight))
            })
            .collect()
    }

    /// The event's logit of a row: the intercept plus the contributions, added in
    /// their order (so `contributions` sum to it exactly).
    pub fn logit(&self, data: &Dataset, row: usize) -> f64 {
        self.contributions(data, row)
            .iter()
            .fold(self.intercept, |s, c| s + c.2)
    }

    /// The event's probability for every row of `data`.
    pub fn predict(&self, data: &Dataset) -> Vec<f64> {
        let cols: Vec<Option<&Cells>> = self
            .features
            .iter()
            .map(|f| data.column(&f.name).map(|c| &c.cells))
            .collect();
        (0..data.rows())
            .map(|r| {
                let eta = self
                    .features
                    .iter()
                    .zip(&cols)
                    .filter_map(|(f, c)| f.bin_of(*c, r).map(|b| f.bins[b].weight))
                    .fold(self.intercept, |s, w| s + w);
                sigmoid(eta)
            })
            .collect()
    }
}

/// Bins and fits on `train` rows of `data`, then validates on `test` rows.
///
/// # Errors
///
/// As [`Scorecard::fit`] on the training rows.
pub fn fit_and_validate(
    data: &Dataset,
    train: &[usize],
    test: &[usize],
    opts: &FitOptions,
) -> Result<(Scorecard, Validation), ScorecardError> {
    let card = Scorecard::fit(&data.subset(train), opts)?;
    let holdout = data.subset(test);
    let probs = card.predict(&holdout);
    Ok((card, validate(&probs, &holdout.target)))
}

/// ROC AUC by average ranks: the probability that a random event row has a higher
/// prediction than a random non-event row, ties counted one half. NaN with one class.
pub fn auc(probabilities: &[f64], outcomes: &[bool]) -> f64 {
    let n = probabilities.len().min(outcomes.len());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let (mut rank_sum, mut pos) = (0.0, 0usize);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && probabilities[order[j + 1]] == probabilities[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if outcomes[k] {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = n - pos;
    if pos == 0 || neg == 0 {
        return f64::NAN;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

/// Metrics of probabilities against outcomes (see [`Validation`]).
pub fn validate(probabilities: &[f64], outcomes: &[bool]) -> Validation {
    let n = probabilities.len().min(outcomes.len());
    let events = outcomes[..n].iter().filter(|o| **o).count();
    let (mut brier, mut ll) = (0.0, 0.0);
    for i in 0..n {
        let p = probabilities[i];
        let y = if outcomes[i] { 1.0 } else { 0.0 };
        brier += (p - y) * (p - y);
        let pc = p.clamp(1e-15, 1.0 - 1e-15);
        ll -= if outcomes[i] {
            pc.ln()
        } else {
            (1.0 - pc).ln()
        };
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let groups = n.min(10);
    let calibration = (0..groups)
        .filter_map(|g| {
            let (a, b) = (g * n / groups, (g + 1) * n / groups);
            if a == b {
                return None;
            }
            let part = &order[a..b];
            let count = part.len();
            let ev = part.iter().filter(|&&i| outcomes[i]).count();
            Some(CalibrationBin {
                min_predicted: probabilities[part[0]],
                max_predicted: probabilities[part[count - 1]],
                mean_predicted: part.iter().map(|&i| probabilities[i]).sum::<f64>() / count as f64,
                observed_rate: ev as f64 / count as f64,
                count,
                events: ev,
            })
        })
        .collect();
    let nf = n.max(1) as f64;
    Validation {
        auc: auc(&probabilities[..n], &outcomes[..n]),
        brier: brier / nf,
        log_loss: ll / nf,
        n,
        events,
        calibration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        // events at 0.8 and 0.4; non-events at 0.6, 0.2: pairs (0.8>0.6, 0.8>0.2,
        // 0.4<0.6, 0.4>0.2) = 3 of 4
        let p = [0.8, 0.4, 0.6, 0.2];
        let y = [true, true, false, false];
        assert!((auc(&p, &y) - 0.75).abs() < 1e-15);
        // ties count one half: event 0.5 vs non-event 0.5 and 0.1 -> (0.5 + 1) / 2
        let p = [0.5, 0.5, 0.1];
        let y = [true, false, false];
        assert!((auc(&p, &y) - 0.75).abs() < 1e-15);
        // all tied
        assert!((auc(&[0.3; 4], &[true, false, true, false]) - 0.5).abs() < 1e-15);
        assert!(auc(&[0.1, 0.2], &[true, true]).is_nan());
    }

    #[test]
    fn brier_logloss_calibration_by_hand() {
        let p = [0.9, 0.2, 0.6, 0.1];
        let y = [true, false, false, false];
        let v = validate(&p, &y);
        // (0.01 + 0.04 + 0.36 + 0.01) / 4
        assert!((v.brier - 0.105).abs() < 1e-12);
        let ll = -(0.9f64.ln() + 0.8f64.ln() + 0.4f64.ln() + 0.9f64.ln()) / 4.0;
        assert!((v.log_loss - ll).abs() < 1e-12);
        assert_eq!((v.n, v.events), (4, 1));
        assert_eq!(v.calibration.len(), 4);
        assert_eq!(v.calibration[3].events, 1);
        assert!((v.calibration[0].mean_predicted - 0.1).abs() < 1e-15);
        assert_eq!(v.auc, 1.0);
    }

    /// A U-shaped effect of a count (products: 2 churns least, 3-4 most) plus a
    /// categorical effect and a noise column, with missing values.
    fn synthetic(n: usize, seed: u64) -> Dataset {
        let mut rng = SplitMix(seed);
        let mut unif = move || (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        let mut products = Vec::new();
        let mut plan = Vec::new();
        let mut noise = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let k = 1 + (unif() * 5.0) as usize; // 1..=5
            let pl = if unif() < 0.5 { "basic" } else { "pro" };
            let effect = match k {
                1 => 0.0,
                2 => -1.5,
                3 => 0.8,
                4 => 1.2,
                _ => 0.5,
            } + if pl == "pro" { -0.7 } else { 0.0 };
            let p = sigmoid(-0.5 + effect);
            y.push(unif() < p);
            products.push(if unif() < 0.05 { None } else { Some(k as f64) });
            plan.push(Some(pl.to_string()));
            noise.push(Some(unif() * 100.0));
        }
        Dataset {
            columns: vec![
                Column {
                    name: "products".into(),
                    cells: Cells::Numeric(products),
                },
                Column {
                    name: "plan".into(),
                    cells: Cells::Categorical(plan),
                },
                Column {
                    name: "noise".into(),
                    cells: Cells::Numeric(noise),
                },
            ],
            target: y,
        }
    }

    #[test]
    fn recovers_a_u_shape() {
        let data = synthetic(6000, 7);
        let card = Scorecard::fit(&data, &FitOptions::default()).unwrap();
        let products = card.features.iter().find(|f| f.name == "products").unwrap();
        let w = |label: &str| {
            products
                .bins
                .iter()
                .find(|b| b.label == label)
                .unwrap_or_else(|| panic!("no bin {label} in {:?}", products.bins))
                .weight
        };
        assert!(products.bins.iter().any(|b| b.label == "missing"));
        // two products lowest, three and four highest
        for other in ["1", "3", "4", "5"] {
            assert!(w("2") < w(other), "{products:?}");
        }
        assert!(w("3") > w("1") && w("4") > w("1"));
        assert_eq!(card.features[0].name, "products");
        let plan = card.features.iter().find(|f| f.name == "plan").unwrap();
        let pro = plan.bins.iter().find(|b| b.label == "pro").unwrap().weight;
        let basic = plan
            .bins
            .iter()
            .find(|b| b.label == "basic")
            .unwrap()
            .weight;
        assert!(pro < basic);
        // the noise matters least
        assert_eq!(card.features.last().unwrap().name, "noise");
        // the holdout sees it too
        let (tr, te) = stratified_split(&data.target, 0.3, 3);
        let (_, v) = fit_and_validate(&data, &tr, &te, &FitOptions::default()).unwrap();
        assert!(v.auc > 0.65, "{v:?}");
    }

    #[test]
    fn contributions_add_up_exactly() {
        let data = synthetic(800, 11);
        let card = Scorecard::fit(&data, &FitOptions::default()).unwrap();
        let probs = card.predict(&data);
        for (r, p) in probs.iter().enumerate() {
            let parts = card.contributions(&data, r);
            let sum = parts.iter().fold(card.intercept, |s, c| s + c.2);
            assert_eq!(sum, card.logit(&data, r));
            assert!((sigmoid(sum) - p).abs() < 1e-15);
            for (f, b, c) in parts {
                assert_eq!(card.features[f].bins[b].weight, c);
            }
        }
        // JSON round trip keeps the scores
        let json = serde_json::to_string(&card).unwrap();
        let back: Scorecard = serde_json::from_str(&json).unwrap();
        // (serde_json reads floats to within an ulp or so, without `float_roundtrip`)
        for (a, b) in back.predict(&data).iter().zip(&probs) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn unseen_and_absent_values() {
        let data = synthetic(500, 5);
        let card = Scorecard::fit(&data, &FitOptions::default()).unwrap();
        let odd = Dataset {
            columns: vec![Column {
                name: "plan".into(),
                cells: Cells::Categorical(vec![Some("enterprise".into()), None]),
            }],
            target: Vec::new(),
        };
        // an unseen level has no bin (no `other` in training), the absent columns
        // count as missing
        assert_eq!(card.predict(&odd).len(), 2);
        let parts = card.contributions(&odd, 0);
        assert!(
            parts
                .iter()
                .all(|(f, _, _)| card.features[*f].name != "plan")
        );
    }

    #[test]
    fn one_class_and_bad_lengths_are_refused() {
        let mut data = synthetic(50, 1);
        data.target = vec![false; 50];
        assert!(matches!(
            Scorecard::fit(&data, &FitOptions::default()),
            Err(ScorecardError::OneClass {
                events: 0,
                rows: 50
            })
        ));
        data.target = vec![true; 49];
        assert!(matches!(
            Scorecard::fit(&data, &FitOptions::default()),
            Err(ScorecardError::Length { .. })
        ));
    }

    #[test]
    fn split_is_stratified_and_seeded() {
        let y: Vec<bool> = (0..1000).map(|i| i % 4 == 0).collect();
        let (tr, te) = stratified_split(&y, 0.3, 9);
        assert_eq!(te.len(), 300);
        assert_eq!(te.iter().filter(|&&i| y[i]).count(), 75);
        assert_eq!(tr.len() + te.len(), 1000);
        assert_eq!(stratified_split(&y, 0.3, 9), (tr.clone(), te.clone()));
        assert_ne!(stratified_split(&y, 0.3, 10).1, te);
    }
}

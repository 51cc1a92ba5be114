//! Kaplan-Meier survival curves with Greenwood confidence intervals, and the log-rank
//! test of two curves ([`log_rank`]).
//!
//! `S(t) = Π_{t_i <= t} (1 - d_i / n_i)` over the distinct times `t_i` with `d_i`
//! events among `n_i` at risk (Kaplan & Meier 1958). Greenwood's formula gives
//! `Var[ln S(t)] ≈ V(t) = Σ_{t_i <= t} d_i / (n_i (n_i - d_i))`.
//!
//! Two interval constructions are offered:
//!
//! * [`IntervalMethod::LogLog`] (the default, lifelines' "exponential Greenwood"):
//!   a normal interval for `ln(-ln S)` with standard error `sqrt(V) / |ln S|`,
//!   mapped back: `S^{exp(±z sqrt(V) / ln S)}`. It always lies in [0, 1].
//! * [`IntervalMethod::Plain`]: `S ± z S sqrt(V)`, clipped to [0, 1].
//!
//! As in lifelines, a time at which everyone at risk has the event contributes 0
//! to `V` (its term is undefined), and at `S = 1` the interval is [1, 1].

use serde::{Deserialize, Serialize};
use statrs::function::erf::erf_inv;

use crate::error::{ModelError, Result, invalid_param, invalid_row};

/// How confidence intervals are built (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// Exponential Greenwood on the log(-log) scale (lifelines' default).
    #[default]
    LogLog,
    /// Greenwood on the plain scale, clipped to [0, 1].
    Plain,
}

/// Options for [`kaplan_meier`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KmOptions {
    /// Confidence level of the intervals, in (0, 1); default 0.95.
    pub confidence: f64,
    /// Interval construction; default log-log.
    pub method: IntervalMethod,
}

impl Default for KmOptions {
    fn default() -> Self {
        KmOptions {
            confidence: 0.95,
            method: IntervalMethod::LogLog,
        }
    }
}

/// The curve at one distinct time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KmPoint {
    /// Time (duration).
    pub time: f64,
    /// Weight at risk just before `time`.
    pub at_risk: f64,
    /// Events at `time`.
    pub events: f64,
    /// Censored at `time`.
    pub censored: f64,
    /// `S(time)`.
    pub survival: f64,
    /// Greenwood's `V(time)`, the variance of `ln S(time)`.
    pub greenwood: f64,
    /// Lower confidence bound.
    pub lower: f64,
    /// Upper confidence bound.
    pub upper: f64,
}

/// A Kaplan-Meier curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KaplanMeier {
    /// One point per distinct time, starting at time 0.
    pub points: Vec<KmPoint>,
    /// First time at which `S <= 0.5`; `None` if the curve never gets there.
    pub median: Option<f64>,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Interval construction.
    pub method: IntervalMethod,
}

impl KaplanMeier {
    /// `S(t)` (a right-continuous step function; 1 before the first time).
    pub fn survival_at(&self, t: f64) -> f64 {
        match self.points.iter().rposition(|p| p.time <= t) {
            Some(i) => self.points[i].survival,
            None => 1.0,
        }
    }
}

/// Kaplan-Meier estimate from durations, event flags (`true` = the event, e.g.
/// churn, was observed; `false` = censored) and optional weights (e.g. counts of
/// identical rows).
///
/// # Errors
///
/// Mismatched lengths, a negative or non-finite duration, a non-positive weight, a
/// confidence level outside (0, 1), or no rows.
pub fn kaplan_meier(
    durations: &[f64],
    events: &[bool],
    weights: Option<&[f64]>,
    options: &KmOptions,
) -> Result<KaplanMeier> {
    if durations.len() != events.len() {
        return Err(invalid_param(
            "events",
            format!(
                "has {} entries for {} durations",
                events.len(),
                durations.len()
            ),
        ));
    }
    if let Some(w) = weights
        && w.len() != durations.len()
    {
        return Err(invalid_param(
            "weights",
            format!("has {} entries for {} durations", w.len(), durations.len()),
        ));
    }
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(invalid_param(
            "confidence",
            format!("must be between 0 and 1, got {}", options.confidence),
        ));
    }
    if durations.is_empty() {
        return Err(ModelError::Empty("no durations"));
    }
    let mut obs: Vec<(f64, bool, f64)> = Vec::with_capacity(durations.len());
    for (i, (&t, &e)) in durations.iter().zip(events).enumerate() {
        if !t.is_finite() || t < 0.0 {
            return Err(invalid_row(i, "duration", format!("must be >= 0, got {t}")));
        }
        let w = weights.map_or(1.0, |w| w[i]);
        if !w.is_finite() || w <= 0.0 {
            return Err(invalid_row(i, "weight", format!("must be > 0, got {w}")));
        }
        obs.push((t, e, w));
    }
    obs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let z = std::f64::consts::SQRT_2 * erf_inv(options.confidence);
    let mut at_risk: f64 = obs.iter().map(|o| o.2).sum();
    let mut points = Vec::new();
    if obs[0].0 > 0.0 {
        points.push(KmPoint {
            time: 0.0,
            at_risk,
            events: 0.0,
            censored: 0.0,
            survival: 1.0,
            greenwood: 0.0,
            lower: 1.0,
            upper: 1.0,
        });
    }
    let (mut s, mut v) = (1.0, 0.0);
    let mut i = 0;
    while i < obs.len() {
        let t = obs[i].0;
        let (mut d, mut c) = (0.0, 0.0);
        while i < obs.len() && obs[i].0 == t {
            if obs[i].1 {
                d += obs[i].2;
            } else {
                c += obs[i].2;
            }
            i += 1;
        }
        let n = at_risk;
        if d > 0.0 {
            s *= 1.0 - d / n;
            if n > d {
                v += d / (n * (n - d));
            }
        }
        let (lower, upper) = interval(s, v, z, options.method);
        points.push(KmPoint {
            time: t,
            at_risk: n,
            events: d,
            censored: c,
            survival: s,
            greenwood: v,
            lower,
            upper,
        });
        at_risk -= d + c;
    }
    let median = points.iter().find(|p| p.survival <= 0.5).map(|p| p.time);
    Ok(KaplanMeier {
        points,
        median,
        confidence: options.confidence,
        method: options.method,
    })
}

/// The log-rank test of two survival curves (Mantel 1966; Peto & Peto 1972): at
/// each distinct event time, the events of group A against those expected were both
/// groups one, `E_A = d n_A / n`, with the hypergeometric variance
/// `V = d (n_A / n) (1 - n_A / n) (n - d) / (n - 1)`; `χ² = (O_A - E_A)² / ΣV` on
/// one degree of freedom.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRank {
    /// Events observed in group A.
    pub observed_a: f64,
    /// Events expected in group A if both groups had the same survival.
    pub expected_a: f64,
    /// Events observed in group B.
    pub observed_b: f64,
    /// Events expected in group B.
    pub expected_b: f64,
    /// The test statistic.
    pub chi2: f64,
    /// Its p-value (χ² with one degree of freedom); 1 when there is no variance
    /// (no events, or no one at risk in one group at any event).
    pub p: f64,
}

/// The log-rank test of group A (`durations_a`, `events_a`) against group B.
///
/// # Errors
///
/// Mismatched lengths, or a negative or non-finite duration.
pub fn log_rank(
    durations_a: &[f64],
    events_a: &[bool],
    durations_b: &[f64],
    events_b: &[bool],
) -> Result<LogRank> {
    if durations_a.len() != events_a.len() || durations_b.len() != events_b.len() {
        return Err(invalid_param(
            "events",
            "must have one entry per duration in each group",
        ));
    }
    // (time, group A?, event?)
    let mut obs: Vec<(f64, bool, bool)> = Vec::with_capacity(durations_a.len() + durations_b.len());
    for (group_a, durations, events) in [
        (true, durations_a, events_a),
        (false, durations_b, events_b),
    ] {
        for (i, (&t, &e)) in durations.iter().zip(events).enumerate() {
            if !t.is_finite() || t < 0.0 {
                return Err(invalid_row(i, "duration", format!("must be >= 0, got {t}")));
            }
            obs.push((t, group_a, e));
        }
    }
    obs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut n_a = durations_a.len() as f64;
    let mut n_b = durations_b.len() as f64;
    let (mut o_a, mut e_a, mut o_b, mut v) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < obs.len() {
        let t = obs[i].0;
        let (mut d_a, mut d_b, mut left_a, mut left_b) = (0.0, 0.0, 0.0, 0.0);
        while i < obs.len() && obs[i].0 == t {
            let (_, a, e) = obs[i];
            match (a, e) {
                (true, true) => d_a += 1.0,
                (false, true) => d_b += 1.0,
                _ => {}
            }
            if a {
                left_a += 1.0;
            } else {
                left_b += 1.0;
            }
            i += 1;
        }
        let (n, d) = (n_a + n_b, d_a + d_b);
        if d > 0.0 && n > 0.0 {
            e_a += d * n_a / n;
            o_a += d_a;
            o_b += d_b;
            if n > 1.0 {
                v += d * (n_a / n) * (1.0 - n_a / n) * (n - d) / (n - 1.0);
            }
        }
        n_a -= left_a;
        n_b -= left_b;
    }
    let expected_b = o_a + o_b - e_a;
    let (chi2, p) = if v > 0.0 {
        let chi2 = (o_a - e_a).powi(2) / v;
        (chi2, statrs::function::erf::erfc((chi2 / 2.0).sqrt()))
    } else {
        (0.0, 1.0)
    };
    Ok(LogRank {
        observed_a: o_a,
        expected_a: e_a,
        observed_b: o_b,
        expected_b,
        chi2,
        p,
    })
}

fn interval(s: f64, v: f64, z: f64, method: IntervalMethod) -> (f64, f64) {
    if s >= 1.0 {
        return (1.0, 1.0);
    }
    if s <= 0.0 {
        return (0.0, 0.0);
    }
    match method {
        IntervalMethod::LogLog => {
            let ls = s.ln();
            let c = (-ls).ln();
            let h = z * v.sqrt() / ls; // negative
            ((-(c - h).exp()).exp(), (-(c + h).exp()).exp())
        }
        IntervalMethod::Plain => {
            let h = z * s * v.sqrt();
            ((s - h).max(0.0), (s + h).min(1.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn textbook_example() {
        // times 1, 2, 2, 3+, 4, 5+: S(1) = 5/6, S(2) = 5/6 * 3/5 = 1/2, S(4) = 1/2 * 1/2
        let t = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0];
        let e = [true, true, true, false, true, false];
        let km = kaplan_meier(&t, &e, None, &KmOptions::default()).unwrap();
        let s: Vec<f64> = km.points.iter().map(|p| p.survival).collect();
        let want = [1.0, 5.0 / 6.0, 0.5, 0.5, 0.25, 0.25];
        for (a, b) in s.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
        // Greenwood at t = 2: 1/(6*5) + 2/(5*3)
        assert!((km.points[2].greenwood - (1.0 / 30.0 + 2.0 / 15.0)).abs() < 1e-15);
        assert_eq!(km.median, Some(2.0));
        assert_eq!(km.survival_at(2.5), km.points[2].survival);
        assert_eq!(km.survival_at(-1.0), 1.0);
        for p in &km.points {
            assert!(p.lower <= p.survival && p.survival <= p.upper);
        }
    }

    #[test]
    fn weights_equal_repetition() {
        let km1 = kaplan_meier(
            &[1.0, 1.0, 2.0, 3.0, 3.0, 3.0],
            &[true, true, false, true, true, false],
            None,
            &KmOptions::default(),
        )
        .unwrap();
        let km2 = kaplan_meier(
            &[1.0, 2.0, 3.0, 3.0],
            &[true, false, true, false],
            Some(&[2.0, 1.0, 2.0, 1.0]),
            &KmOptions::default(),
        )
        .unwrap();
        assert_eq!(km1.points.len(), km2.points.len());
        for (a, b) in km1.points.iter().zip(&km2.points) {
            assert!((a.survival - b.survival).abs() < 1e-15 && (a.lower - b.lower).abs() < 1e-15);
        }
    }

    #[test]
    fn log_rank_of_the_leukaemia_trial() {
        // Freireich et al. (1963), remission weeks of 6-MP against placebo (MASS's
        // `gehan`; Kleinbaum & Klein, Survival Analysis, ch. 2): R's survdiff gives
        // observed 9 and 21, expected 19.25 and 10.75, chi-square 16.79, p = 4.17e-5.
        let mp = [
            6.0, 6.0, 6.0, 7.0, 10.0, 13.0, 16.0, 22.0, 23.0, 6.0, 9.0, 10.0, 11.0, 17.0, 19.0,
            20.0, 25.0, 32.0, 32.0, 34.0, 35.0,
        ];
        let mp_e: Vec<bool> = (0..21).map(|i| i < 9).collect();
        let placebo = [
            1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 5.0, 8.0, 8.0, 8.0, 8.0, 11.0, 11.0, 12.0,
            12.0, 15.0, 17.0, 22.0, 23.0,
        ];
        let placebo_e = [true; 21];
        let lr = log_rank(&mp, &mp_e, &placebo, &placebo_e).unwrap();
        assert_eq!((lr.observed_a, lr.observed_b), (9.0, 21.0));
        assert!((lr.expected_a - 19.25).abs() < 0.01, "{lr:?}");
        assert!((lr.expected_b - 10.75).abs() < 0.01, "{lr:?}");
        assert!((lr.chi2 - 16.79).abs() < 0.01, "{lr:?}");
        assert!((lr.p - 4.17e-5).abs() < 0.01e-5, "{lr:?}");
        // Symmetric, and no difference between a group and itself.
        let back = log_rank(&placebo, &placebo_e, &mp, &mp_e).unwrap();
        assert!((back.chi2 - lr.chi2).abs() < 1e-12);
        let same = log_rank(&mp, &mp_e, &mp, &mp_e).unwrap();
        assert!(same.chi2.abs() < 1e-12 && (same.p - 1.0).abs() < 1e-12);
    }
}

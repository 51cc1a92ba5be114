//! Retention economics: the closed forms of P(alive later) against direct numerical
//! integration of the posterior, the scaled-hazard expectation against the same, the
//! +5 points scenario against a brute-force simulation of customers and
//! subscriptions, the sBG retention against `B(α, β+12)/B(α, β)`, and the value at
//! today's hazard against the CLV of `clv.rs`.

use kanta_models::clv::{ClvOptions, customer_lifetime_value};
use kanta_models::economics::{
    BuyerBase, NoGain, RETENTION_POINTS, SubscriptionTerm, Valuation, buyer_gain,
    expected_purchases_scaled, p_alive_after, subscriber_gain, transaction_log_covariance,
};
use kanta_models::special::{ln_beta, ln_gamma};
use kanta_models::summary::TimeUnit;
use kanta_models::{
    BgNbdParams, FitOptions, GammaGammaParams, MbgNbdParams, ParetoNbdParams, RfmData, RfmRow,
    SbgParams, TransactionModel, TransactionParams, fit_transaction_model,
};

/// SplitMix64 with the draws a simulation needs (no dependency on a random crate).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform on (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// Gamma(shape, rate) by Marsaglia and Tsang (with the boost for shape < 1).
    fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0, rate) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }
    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        let y = self.gamma(b, 1.0);
        x / (x + y)
    }
    fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }
}

/// Simpson's rule on [0, 1] with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, n: usize) -> f64 {
    let h = 1.0 / n as f64;
    let mut s = f(0.0) + f(1.0);
    for i in 1..n {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        s += w * f(i as f64 * h);
    }
    s * h / 3.0
}

/// `∫_0^1 p^{a-1} (1-p)^{e} h(p) dp / B(a, b)` through `p = u^{1/a}` (no singularity
/// at 0 whatever `a`).
fn beta_integral(a: f64, b: f64, e: f64, h: impl Fn(f64) -> f64) -> f64 {
    let g = |u: f64| {
        let p = u.powf(1.0 / a);
        (1.0 - p).powf(e) * h(p)
    };
    simpson(g, 200_000) / a / ln_beta(a, b).exp()
}

const CDNOW: BgNbdParams = BgNbdParams {
    r: 0.243,
    alpha: 4.414,
    a: 0.793,
    b: 2.426,
};

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1e-12),
        "{what}: {got} vs {want} (relative tolerance {tol})"
    );
}

/// BG/NBD: `P(alive at T+t)` in closed form against the posterior integrated
/// directly: `∫∫ (1-p)^x λ^x e^{-λ(T + p t)} g(λ) f(p) / L`, λ integrated by hand,
/// p numerically.
#[test]
fn bgnbd_alive_later_matches_the_integrated_posterior() {
    let m = TransactionParams::BgNbd(CDNOW);
    let BgNbdParams { r, alpha, a, b } = CDNOW;
    for row in [
        RfmRow::new(2.0, 30.43, 38.86),
        RfmRow::new(0.0, 0.0, 38.86),
        RfmRow::new(7.0, 35.0, 36.0),
    ] {
        let x = row.frequency;
        let l = CDNOW.row_log_likelihood(&row).exp();
        for t in [0.0, 13.0, 52.14, 200.0] {
            let lam = |p: f64| {
                (ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln()
                    - (r + x) * (alpha + row.t + p * t).ln())
                .exp()
            };
            let direct = beta_integral(a, b, b + x - 1.0, lam) / l;
            close(
                &format!("x {x}, t {t}"),
                p_alive_after(&m, t, &row),
                direct,
                1e-6,
            );
        }
        close("t 0", p_alive_after(&m, 0.0, &row), m.p_alive(&row), 1e-12);
    }
}

/// MBG/NBD: the alive part of the likelihood is `(1-p)^{x+1} λ^x e^{-λT}`.
#[test]
fn mbgnbd_alive_later_matches_the_integrated_posterior() {
    let p = MbgNbdParams {
        r: 0.5,
        alpha: 6.0,
        a: 1.2,
        b: 3.5,
    };
    let m = TransactionParams::MbgNbd(p);
    for row in [RfmRow::new(3.0, 20.0, 40.0), RfmRow::new(0.0, 0.0, 10.0)] {
        let x = row.frequency;
        let l = p.row_log_likelihood(&row).exp();
        let t = 52.14;
        let lam = |q: f64| {
            (ln_gamma(p.r + x) - ln_gamma(p.r) + p.r * p.alpha.ln()
                - (p.r + x) * (p.alpha + row.t + q * t).ln())
            .exp()
        };
        let direct = beta_integral(p.a, p.b, p.b + x, lam) / l;
        close("MBG/NBD", p_alive_after(&m, t, &row), direct, 1e-6);
    }
}

/// Pareto/NBD: `P(alive at T+t) = Γ(r+x) α^r β^s / (Γ(r) (α+T)^{r+x} (β+T+t)^s) / L`.
#[test]
fn pareto_alive_later_is_its_closed_form() {
    let p = ParetoNbdParams {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    };
    let m = TransactionParams::ParetoNbd(p);
    let row = RfmRow::new(4.0, 25.0, 39.0);
    let x = row.frequency;
    let t = 52.14;
    let l = p.row_log_likelihood(&row).exp();
    let direct = (ln_gamma(p.r + x) - ln_gamma(p.r) + p.r * p.alpha.ln() + p.s * p.beta.ln()
        - (p.r + x) * (p.alpha + row.t).ln()
        - p.s * (p.beta + row.t + t).ln())
    .exp()
        / l;
    close("Pareto/NBD", p_alive_after(&m, t, &row), direct, 1e-9);
}

/// The expectation with the hazard scaled by k, `E[X(k t)]/k`, against the posterior
/// integrated directly: `E[1{alive} (1 - e^{-λ k p t}) / (k p)]`.
#[test]
fn scaled_expectation_matches_the_integrated_posterior() {
    let m = TransactionParams::BgNbd(CDNOW);
    let BgNbdParams { r, alpha, a, b } = CDNOW;
    let row = RfmRow::new(2.0, 30.43, 38.86);
    let x = row.frequency;
    let l = CDNOW.row_log_likelihood(&row).exp();
    let t = 52.14;
    for k in [1.0, 0.7, 0.3] {
        let c = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let h = |p: f64| {
            if p == 0.0 {
                // the limit: (r+x) k t (α+T)^{-(r+x)-1} / k
                return (c - (r + x + 1.0) * (alpha + row.t).ln()).exp() * (r + x) * t;
            }
            ((c - (r + x) * (alpha + row.t).ln()).exp()
                - (c - (r + x) * (alpha + row.t + k * p * t).ln()).exp())
                / (k * p)
        };
        let direct = beta_integral(a, b, b + x - 1.0, h) / l;
        close(
            &format!("k {k}"),
            expected_purchases_scaled(&m, k, t, &row),
            direct,
            1e-5,
        );
    }
    close(
        "k 1",
        expected_purchases_scaled(&m, 1.0, t, &row),
        m.conditional_expected_purchases(t, &row),
        1e-12,
    );
}

/// Simulated BG/NBD customers: their histories up to T, then a year with every
/// dropout chance multiplied by k.
struct Simulated {
    rows: Vec<RfmRow>,
    /// Alive at T.
    alive: Vec<bool>,
    /// Alive a year after T, and purchases in that year.
    alive_later: Vec<bool>,
    later_purchases: Vec<u32>,
}

fn simulate_bgnbd(p: &BgNbdParams, n: usize, k: f64, year: f64, seed: u64) -> Simulated {
    let mut rng = Rng(seed);
    let mut s = Simulated {
        rows: Vec::with_capacity(n),
        alive: Vec::with_capacity(n),
        alive_later: Vec::with_capacity(n),
        later_purchases: Vec::with_capacity(n),
    };
    for i in 0..n {
        let lambda = rng.gamma(p.r, p.alpha);
        let drop = rng.beta(p.a, p.b);
        let age = 20.0 + 80.0 * (i as f64 + 0.5) / n as f64;
        // history: repeat purchases while alive, dropout after each with `drop`
        let (mut t, mut x, mut tx, mut alive) = (0.0, 0.0, 0.0, true);
        loop {
            t += rng.exponential(lambda);
            if t > age {
                break;
            }
            x += 1.0;
            tx = t;
            if rng.uniform() < drop {
                alive = false;
                break;
            }
        }
        s.rows.push(RfmRow::new(x, tx, age));
        s.alive.push(alive);
        // the year after: the dropout chance scaled by k
        let (mut later, mut kept) = (0u32, alive);
        if alive {
            let mut t = age;
            loop {
                t += rng.exponential(lambda);
                if t > age + year {
                    break;
                }
                later += 1;
                if rng.uniform() < k * drop {
                    kept = false;
                    break;
                }
            }
        }
        s.alive_later.push(kept);
        s.later_purchases.push(later);
    }
    s
}

/// The closed forms predict what simulated customers do: how many are alive a year
/// later and how many purchases they make, at today's hazard and at 0.6 of it.
#[test]
fn buyers_scenario_matches_a_brute_force_simulation() {
    let truth = BgNbdParams {
        r: 2.0,
        alpha: 8.0,
        a: 1.5,
        b: 6.0,
    };
    let m = TransactionParams::BgNbd(truth);
    let year = 12.0 * TimeUnit::Week.lifetimes_units_per_month();
    for (k, seed) in [(1.0, 7), (0.6, 11)] {
        let s = simulate_bgnbd(&truth, 40_000, k, year, seed);
        let alive_now: f64 = s.rows.iter().map(|r| m.p_alive(r)).sum();
        let sim_now = s.alive.iter().filter(|a| **a).count() as f64;
        close("alive now", alive_now, sim_now, 0.03);
        let later: f64 = s.rows.iter().map(|r| p_alive_after(&m, k * year, r)).sum();
        let sim_later = s.alive_later.iter().filter(|a| **a).count() as f64;
        close(
            &format!("alive a year later, k {k}"),
            later,
            sim_later,
            0.03,
        );
        let purchases: f64 = s
            .rows
            .iter()
            .map(|r| expected_purchases_scaled(&m, k, year, r))
            .sum();
        let sim_purchases: f64 = s.later_purchases.iter().map(|v| f64::from(*v)).sum();
        close(
            &format!("purchases in the year, k {k}"),
            purchases,
            sim_purchases,
            0.03,
        );
    }
    // The scenario: k from the bisection gives retention + 5 points, and the
    // simulation at that k agrees.
    let s = simulate_bgnbd(&truth, 40_000, 1.0, year, 5);
    let spend = GammaGammaParams {
        p: 6.0,
        q: 4.0,
        gamma: 15.0,
    };
    let monetary: Vec<f64> = s.rows.iter().map(|r| 10.0 + r.frequency).collect();
    let val = Valuation {
        units_per_month: TimeUnit::Week.lifetimes_units_per_month(),
        margin: 0.4,
        monthly_discount_rate: 0.01,
    };
    let base = BuyerBase {
        model: m,
        spend,
        rows: &s.rows,
        monetary: &monetary,
    };
    let g = buyer_gain(&base, &val, RETENTION_POINTS).unwrap();
    close(
        "retention after",
        g.retention_after,
        g.retention + RETENTION_POINTS,
        1e-9,
    );
    assert!(g.factor > 0.0 && g.factor < 1.0, "{g:?}");
    assert!(g.gain[0] > 0.0 && g.gain[1] > g.gain[0], "{g:?}");
    let sim = simulate_bgnbd(&truth, 40_000, g.factor, year, 5);
    let alive_now = sim.alive.iter().filter(|a| **a).count() as f64;
    let kept = sim.alive_later.iter().filter(|a| **a).count() as f64;
    let sim_base = simulate_bgnbd(&truth, 40_000, 1.0, year, 5);
    let kept_base = sim_base.alive_later.iter().filter(|a| **a).count() as f64;
    let points = (kept - kept_base) / alive_now;
    assert!(
        (points - RETENTION_POINTS).abs() < 0.01,
        "simulated retention rises {points} with k {}",
        g.factor
    );
    // Today's value is the CLV of clv.rs summed.
    for (h, months) in [12u32, 36].iter().enumerate() {
        let opts = ClvOptions::new(*months, 0.01, 0.4, TimeUnit::Week).unwrap();
        let clv: f64 = s
            .rows
            .iter()
            .zip(&monetary)
            .map(|(r, mv)| customer_lifetime_value(&truth, &spend, r, *mv, &opts))
            .sum();
        close(&format!("value {months}"), g.value[h], clv, 1e-9);
    }
}

/// sBG: the retention of new subscribers is `B(α, β+12)/B(α, β)`; the scenario's β'
/// gives five points more, which a simulation of churn draws confirms; the value is
/// the payments' probabilities discounted.
#[test]
fn subscribers_scenario_matches_closed_forms_and_simulation() {
    let fit = SbgParams {
        alpha: 0.9,
        beta: 3.0,
    };
    let terms: Vec<SubscriptionTerm> = (0..4)
        .map(|_| SubscriptionTerm {
            fit: 0,
            renewals: 0,
            amount: 100.0,
            payments: (1..=36).map(|j| (j, j)).collect(),
            renewals_in_year: Some(12),
        })
        .collect();
    let val = Valuation {
        units_per_month: 1.0,
        margin: 1.0,
        monthly_discount_rate: 0.01,
    };
    let g = subscriber_gain(&[fit], &terms, &val, RETENTION_POINTS).unwrap();
    let closed = (ln_beta(fit.alpha, fit.beta + 12.0) - ln_beta(fit.alpha, fit.beta)).exp();
    close("retention", g.retention, closed, 1e-12);
    let beta2 = fit.beta * g.factor;
    let after = (ln_beta(fit.alpha, beta2 + 12.0) - ln_beta(fit.alpha, beta2)).exp();
    close("retention after", after, closed + RETENTION_POINTS, 1e-9);
    close("retention after (reported)", g.retention_after, after, 1e-9);
    let value = |b: f64| -> f64 {
        4.0 * (1..=36u32)
            .map(|j| {
                100.0 * (ln_beta(fit.alpha, b + f64::from(j)) - ln_beta(fit.alpha, b)).exp()
                    / 1.01f64.powi(j as i32)
            })
            .sum::<f64>()
    };
    close("value 36", g.value[1], value(fit.beta), 1e-12);
    close("value after 36", g.value_after[1], value(beta2), 1e-12);
    assert!(g.gain[1] > g.gain[0] && g.gain[0] > 0.0, "{g:?}");
    // Simulation: churn probabilities drawn from Beta(α, β'), twelve renewals.
    let mut rng = Rng(3);
    let n = 200_000;
    let kept = (0..n)
        .filter(|_| {
            let theta = rng.beta(fit.alpha, beta2);
            (0..12).all(|_| rng.uniform() >= theta)
        })
        .count() as f64
        / n as f64;
    assert!(
        (kept - after).abs() < 0.005,
        "simulated {kept}, closed {after}"
    );
    // A known end within the year: never retained; too high a retention: no figure.
    let ending = vec![SubscriptionTerm {
        renewals_in_year: None,
        ..terms[0].clone()
    }];
    assert_eq!(
        subscriber_gain(&[fit], &ending, &val, RETENTION_POINTS),
        Err(NoGain::AlreadyRetained)
    );
}

/// The covariance recomputed at a fit's estimates is the fit's own.
#[test]
fn covariance_at_the_estimates_is_the_fits() {
    let truth = BgNbdParams {
        r: 2.0,
        alpha: 8.0,
        a: 1.5,
        b: 6.0,
    };
    let s = simulate_bgnbd(&truth, 5_000, 1.0, 52.0, 21);
    let data = RfmData::from_rows(&s.rows).unwrap();
    let fit = fit_transaction_model(
        kanta_models::ModelKind::BgNbd,
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let mine = transaction_log_covariance(&fit.params, &data).unwrap();
    let theirs = fit.log_covariance.unwrap();
    for i in 0..4 {
        close(&format!("var {i}"), mine[i][i], theirs[i][i], 1e-3);
    }
}

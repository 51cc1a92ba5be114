//! Rough timings of the hot paths on simulated data (run with `--release`):
//! collapse + BG/NBD fit on 1,000,000 customers, Pareto/NBD fit on 100,000,
//! scoring 1,000,000, and summarising 10,000,000 transactions.
//!
//! `cargo run --release -p kanta-models --example timings`

use std::time::Instant;

use kanta_models::clv::ClvOptions;
use kanta_models::score::{ScoreOptions, score_customers};
use kanta_models::summary::{TimeUnit, Transaction, summarize};
use kanta_models::{FitOptions, RfmData, RfmRow, bgnbd, paretonbd};

/// xorshift64* with Box-Muller normals and Marsaglia-Tsang gammas: enough for
/// simulated data, without a dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    /// Gamma(shape, rate).
    fn gamma(&mut self, shape: f64, rate: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0, rate) * self.uniform().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v > 0.0 && self.uniform().ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v / rate;
            }
        }
    }
    fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        x / (x + self.gamma(b, 1.0))
    }
    fn exp(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }
}

/// BG/NBD customers with whole-day times, acquired uniformly over two years.
fn bgnbd_customers(n: usize, rng: &mut Rng) -> Vec<RfmRow> {
    let (r, alpha, a, b) = (0.25, 30.0, 0.8, 2.5);
    (0..n)
        .map(|_| {
            let t = (rng.uniform() * 730.0).floor() + 1.0;
            let lambda = rng.gamma(r, alpha);
            let p = rng.beta(a, b);
            let (mut now, mut x, mut tx) = (0.0, 0.0, 0.0);
            loop {
                now += rng.exp(lambda);
                if now > t {
                    break;
                }
                x += 1.0;
                tx = now;
                if rng.uniform() < p {
                    break;
                }
            }
            let tx = if x > 0.0 { tx.ceil().min(t) } else { 0.0 };
            RfmRow::new(x, tx, t)
        })
        .collect()
}

/// Pareto/NBD customers with whole-day times (CDNOW-like parameters in days).
fn pareto_customers(n: usize, rng: &mut Rng) -> Vec<RfmRow> {
    let (r, alpha, s, beta) = (0.55, 74.0, 0.61, 82.0);
    (0..n)
        .map(|_| {
            let t = (rng.uniform() * 730.0).floor() + 1.0;
            let lambda = rng.gamma(r, alpha);
            let mu = rng.gamma(s, beta);
            let end = rng.exp(mu).min(t);
            let (mut now, mut x, mut tx) = (0.0, 0.0, 0.0);
            loop {
                now += rng.exp(lambda);
                if now > end {
                    break;
                }
                x += 1.0;
                tx = now;
            }
            let tx = if x > 0.0 { tx.ceil().min(t) } else { 0.0 };
            RfmRow::new(x, tx, t)
        })
        .collect()
}

fn main() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let rows = bgnbd_customers(1_000_000, &mut rng);
    let t0 = Instant::now();
    let data = RfmData::from_rows(&rows).unwrap();
    let t1 = Instant::now();
    let fit = bgnbd::fit(&data, &FitOptions::default()).unwrap();
    let t2 = Instant::now();
    println!(
        "BG/NBD, 1,000,000 customers -> {} distinct rows: collapse {:.3} s, fit {:.3} s ({} iterations, converged {}) {:?}",
        data.len(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        fit.iterations,
        fit.converged,
        fit.params
    );

    let rows100k = pareto_customers(100_000, &mut rng);
    let t0 = Instant::now();
    let data100k = RfmData::from_rows(&rows100k).unwrap();
    let fit_p = paretonbd::fit(&data100k, &FitOptions::default()).unwrap();
    println!(
        "Pareto/NBD, 100,000 customers -> {} distinct rows: {:.3} s ({} iterations, converged {}) {:?}",
        data100k.len(),
        t0.elapsed().as_secs_f64(),
        fit_p.iterations,
        fit_p.converged,
        fit_p.params
    );

    let model = fit.params;
    let t0 = Instant::now();
    let scores = score_customers(
        &model,
        None,
        &rows,
        None,
        &ScoreOptions {
            horizon: 90.0,
            clv: None,
        },
    )
    .unwrap();
    println!(
        "scoring 1,000,000 customers (P(alive), E[X(90)]): {:.3} s ({} scores)",
        t0.elapsed().as_secs_f64(),
        scores.len()
    );
    let spend = kanta_models::GammaGammaParams::new(6.25, 3.74, 15.44).unwrap();
    let money: Vec<f64> = rows
        .iter()
        .map(|r| if r.frequency > 0.0 { 35.0 } else { 0.0 })
        .collect();
    let clv = ClvOptions::new(12, 0.01, 1.0, TimeUnit::Day).unwrap();
    let t0 = Instant::now();
    let scores = score_customers(
        &model,
        Some(&spend),
        &rows,
        Some(&money),
        &ScoreOptions {
            horizon: 90.0,
            clv: Some(clv),
        },
    )
    .unwrap();
    println!(
        "scoring 1,000,000 customers with 12-month CLV: {:.3} s ({} scores)",
        t0.elapsed().as_secs_f64(),
        scores.len()
    );

    let mut tx: Vec<Transaction> = (0..10_000_000u64)
        .map(|_| Transaction {
            customer: (rng.uniform() * 1_000_000.0) as u64,
            day: 9_000 + (rng.uniform() * 730.0) as i32,
            amount: (rng.uniform() * 100.0).round(),
        })
        .collect();
    let t0 = Instant::now();
    let s = summarize(&mut tx, TimeUnit::Day, 9_730).unwrap();
    println!(
        "summarising 10,000,000 transactions (unsorted): {:.3} s ({} customers)",
        t0.elapsed().as_secs_f64(),
        s.len()
    );
    let t0 = Instant::now();
    let s = summarize(&mut tx, TimeUnit::Day, 9_730).unwrap();
    println!(
        "summarising 10,000,000 transactions (sorted): {:.3} s ({} customers)",
        t0.elapsed().as_secs_f64(),
        s.len()
    );
}

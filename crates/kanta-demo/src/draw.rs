//! Small sampling helpers over one seeded generator.
//!
//! Every draw goes through a [`ChaCha8Rng`] seeded from the configuration, never the
//! thread's generator or the clock, so the same seed always gives the same data.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Gamma, StandardNormal};

/// The generator of one independent part of the data (`stream`), so that the model
/// draws of the café do not shift when, say, the wording of a note changes.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The streams (see [`stream`]).
pub(crate) const CAFE_PROCESS: u64 = 1;
pub(crate) const CAFE_DETAIL: u64 = 2;
pub(crate) const B2B_PROCESS: u64 = 3;
pub(crate) const B2B_DETAIL: u64 = 4;
pub(crate) const CLAIMS: u64 = 5;
pub(crate) const CAFE_CLAIMANTS: u64 = 6;
pub(crate) const B2B_FACTORS: u64 = 7;
pub(crate) const CAFE_OWNERS: u64 = 8;
pub(crate) const B2B_SUCCESS: u64 = 9;

pub(crate) fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// One of `items` with probability proportional to its weight.
pub(crate) fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

pub(crate) fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// An exponential waiting time with the given rate (events per unit of time);
/// infinite when the rate is not positive.
pub(crate) fn exponential(rng: &mut impl Rng, rate: f64) -> f64 {
    if rate > 0.0 {
        // 1 - U lies in (0, 1], so the logarithm is finite.
        -(1.0 - rng.random::<f64>()).ln() / rate
    } else {
        f64::INFINITY
    }
}

pub(crate) fn normal(rng: &mut impl Rng, mean: f64, sd: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    mean + sd * z
}

/// A log-normal value given its median and the standard deviation of its logarithm.
pub(crate) fn lognormal(rng: &mut impl Rng, median: f64, sigma: f64) -> f64 {
    median * normal(rng, 0.0, sigma).exp()
}

/// Gamma with shape `shape` and **rate** `rate` (mean shape/rate).
pub(crate) fn gamma(rng: &mut impl Rng, shape: f64, rate: f64) -> f64 {
    Gamma::new(shape, 1.0 / rate)
        .expect("positive gamma parameters")
        .sample(rng)
}

pub(crate) fn beta(rng: &mut impl Rng, a: f64, b: f64) -> f64 {
    Beta::new(a, b)
        .expect("positive beta parameters")
        .sample(rng)
}

/// A Poisson count (Knuth's product method; the means used here are small).
pub(crate) fn poisson(rng: &mut impl Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut k = 0;
    let mut prod = rng.random::<f64>();
    while prod > limit && k < 1000 {
        k += 1;
        prod *= rng.random::<f64>();
    }
    k
}

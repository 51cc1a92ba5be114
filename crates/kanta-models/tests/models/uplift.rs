//! Offers' uplift: Welch's interval against Wikipedia's published example and hand
//! computations, the delta method by hand, the sample size of ANCHORS.md, the draw,
//! and A/A simulations whose intervals cover zero about 95 % of the time.

use kanta_domain::draw::draw_control;
use kanta_models::uplift::{
    MemberOutcome, Moments, NotYet, UpliftInputs, analyse, compare, sample_size_per_arm, welch,
};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b} (tolerance {tol})");
}

/// Wikipedia, "Welch's t-test", example 1: t = −2.46, ν ≈ 24.99 (reported 25.0),
/// two-sided p = 0.021. The mean difference, standard error and degrees of freedom
/// are also computed by hand (Python's `statistics`: −2.16667, 0.882425, 24.9885).
#[test]
fn welch_matches_the_published_example() {
    let a = [
        27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
    ];
    let b = [
        27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
    ];
    let w = welch(&Moments::of(&a), &Moments::of(&b)).unwrap();
    close(w.t, -2.46, 0.005);
    close(w.df, 24.9885, 1e-3);
    close(w.p_value, 0.021, 0.0005);
    close(w.diff.estimate, -2.166_667, 1e-5);
    close(w.se, 0.882_424_5, 1e-6);
    // t(0.975, 24.9885) = 2.05955 (tables: 2.0595 at 25 df)
    close(w.diff.low, -2.166_667 - 2.059_55 * 0.882_424_5, 2e-4);
    close(w.diff.high, -2.166_667 + 2.059_55 * 0.882_424_5, 2e-4);
}

/// Offer [1, 0, 1, 1] against control [0, 0, 1, 0], by hand: means 0.75 and 0.25,
/// variances 0.25 each, se = √0.125 = 0.353553, df = 0.125² / (2 × 0.0625² / 3) = 6,
/// t(0.975, 6) = 2.446912, so 0.5 ± 0.865114. Relative lift 0.75 / 0.25 − 1 = 2,
/// variance 0.0625/0.0625 + 0.5625 × 0.0625/0.00390625 = 10, so 2 ± 1.959964 × √10.
#[test]
fn hand_computed_comparison() {
    let c = compare(&[1.0, 0.0, 1.0, 1.0], &[0.0, 0.0, 1.0, 0.0]);
    let w = c.absolute.unwrap();
    close(w.diff.estimate, 0.5, 1e-12);
    close(w.se, 0.125f64.sqrt(), 1e-12);
    close(w.df, 6.0, 1e-9);
    close(w.diff.low, 0.5 - 0.865_114, 1e-5);
    close(w.diff.high, 0.5 + 0.865_114, 1e-5);
    let r = c.relative.unwrap();
    close(r.estimate, 2.0, 1e-12);
    close(r.high - r.estimate, 1.959_964 * 10f64.sqrt(), 1e-5);
    // no control mean, no relative lift; one value per arm, no interval
    assert!(compare(&[1.0, 1.0], &[0.0, 0.0]).relative.is_none());
    assert!(compare(&[1.0], &[0.0, 1.0]).absolute.is_none());
}

/// ANCHORS.md: 25 % → 20 % at 80 % power and alpha 0.05 needs about 1,090 per arm
/// (7.84887 × (0.1875 + 0.16) / 0.0025 = 1,091.0, rounded up).
#[test]
fn sample_size_of_the_anchor() {
    let n = sample_size_per_arm(0.20, 5.0).unwrap();
    assert!((1085..=1095).contains(&n), "{n}");
    assert_eq!(n, 1091);
    assert_eq!(sample_size_per_arm(0.2, 0.0), None);
    // a smaller hoped effect needs more
    assert!(sample_size_per_arm(0.2, 2.0).unwrap() > 5 * n);
}

/// A seeded generator for the simulations (SplitMix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const TIERS: [(&str, f64); 4] = [("A", 0.55), ("B", 0.35), ("C", 0.22), ("D", 0.12)];

/// One simulated offer: `n` customers over four tiers with the tiers' purchase
/// rates (offer arm `+lift` points), orders 1-4 for buyers, revenue 5-60 € per
/// order; the arms drawn by `draw_control` with 20 % control.
fn simulate(rng: &mut Rng, n: usize, lift: f64, seed: u64) -> Vec<MemberOutcome> {
    let ids: Vec<String> = (0..n).map(|i| format!("cust-{i:05}")).collect();
    let tiers: Vec<usize> = (0..n).map(|i| i % 4).collect();
    let members: Vec<(&str, &str)> = ids
        .iter()
        .zip(&tiers)
        .map(|(id, t)| (id.as_str(), TIERS[*t].0))
        .collect();
    let control = draw_control(&members, 20, seed);
    control
        .iter()
        .zip(&tiers)
        .map(|(c, t)| {
            let p = TIERS[*t].1 + if *c { 0.0 } else { lift };
            let orders = if rng.unit() < p {
                1 + (rng.unit() * 4.0) as u32
            } else {
                0
            };
            let revenue: i64 = (0..orders)
                .map(|_| 500 + (rng.unit() * 5500.0) as i64)
                .sum();
            MemberOutcome {
                control: *c,
                orders,
                revenue_minor: revenue,
            }
        })
        .collect()
}

fn inputs() -> UpliftInputs {
    UpliftInputs {
        redemptions: 0,
        cost_per_redemption_minor: 0,
        hoped_points: 5.0,
        window_ended: true,
    }
}

/// The acceptance: 200 A/A offers (seeded), the purchase rate's interval
/// covers zero 93-97 % of the time; the orders' and revenue's too.
#[test]
fn two_hundred_aa_offers_cover_zero() {
    let mut rng = Rng(20_261_205);
    let (mut purchase, mut orders, mut revenue, mut relative) = (0, 0, 0, 0);
    let runs = 200;
    for k in 0..runs {
        let members = simulate(&mut rng, 2_000, 0.0, 1_000 + k);
        let u = analyse(&members, &inputs());
        assert_eq!((u.n_offer, u.n_control), (1_600, 400));
        purchase += usize::from(u.purchase.absolute.unwrap().diff.covers(0.0));
        orders += usize::from(u.orders.absolute.unwrap().diff.covers(0.0));
        revenue += usize::from(u.revenue.absolute.unwrap().diff.covers(0.0));
        relative += usize::from(u.purchase.relative.unwrap().covers(0.0));
    }
    for (what, covered) in [
        ("purchase", purchase),
        ("orders", orders),
        ("revenue", revenue),
        ("relative", relative),
    ] {
        let share = covered as f64 / runs as f64;
        assert!(
            (0.93..=0.97).contains(&share),
            "{what}: {covered} of {runs} cover zero"
        );
    }
}

/// With a true rise of 10 points the purchase rate's interval covers 0.10 about
/// 95 % of the time (400 offers).
#[test]
fn intervals_cover_a_true_uplift() {
    let mut rng = Rng(77);
    let runs = 400;
    let mut covered = 0;
    let mut relative = 0;
    for k in 0..runs {
        let members = simulate(&mut rng, 2_000, 0.10, 5_000 + k);
        let u = analyse(&members, &inputs());
        covered += usize::from(u.purchase.absolute.unwrap().diff.covers(0.10));
        // true relative lift: mean rate 0.31 → 0.41
        relative += usize::from(u.purchase.relative.unwrap().covers(0.41 / 0.31 - 1.0));
    }
    let share = covered as f64 / runs as f64;
    assert!((0.93..=0.97).contains(&share), "{covered} of {runs}");
    let share = relative as f64 / runs as f64;
    assert!(
        (0.92..=0.98).contains(&share),
        "relative: {relative} of {runs}"
    );
}

/// The draw: stratified by tier, deterministic, 20 % of each tier.
#[test]
fn draw_is_stratified_and_deterministic() {
    let ids: Vec<String> = (0..1000).map(|i| format!("x{i}")).collect();
    let members: Vec<(&str, &str)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), ["A", "B", "C"][i % 3]))
        .collect();
    let c = draw_control(&members, 20, 42);
    for (t, n) in [("A", 334), ("B", 333), ("C", 333)] {
        let k = members
            .iter()
            .zip(&c)
            .filter(|((_, tier), ctl)| *tier == t && **ctl)
            .count();
        assert_eq!(k, ((n as f64) * 0.2).round() as usize, "tier {t}");
    }
    assert_eq!(c, draw_control(&members, 20, 42));
    assert!(draw_control(&members, 0, 42).iter().all(|c| !c));
}

/// Not enough data: an open window, or arms below the needed size; net revenue
/// takes the offer's cost off.
#[test]
fn not_enough_data_and_net_revenue() {
    let mut rng = Rng(5);
    let members = simulate(&mut rng, 500, 0.0, 1);
    let mut i = inputs();
    i.window_ended = false;
    assert_eq!(analyse(&members, &i).not_yet, Some(NotYet::WindowOpen));
    i.window_ended = true;
    let u = analyse(&members, &i);
    assert_eq!(u.not_yet, Some(NotYet::TooFew));
    assert!(u.needed_per_arm.unwrap() > 100);
    i.hoped_points = 60.0;
    let u = analyse(&members, &i);
    assert_eq!(u.not_yet, None, "{u:?}");
    i.redemptions = 40;
    i.cost_per_redemption_minor = 500;
    let u = analyse(&members, &i);
    close(u.cost_per_member_minor, 40.0 * 500.0 / 400.0, 1e-9);
    let net = u.net_revenue.unwrap();
    let gross = u.revenue.absolute.unwrap().diff;
    close(net.estimate, gross.estimate - 50.0, 1e-9);
    close(net.high - net.low, gross.high - gross.low, 1e-9);
}

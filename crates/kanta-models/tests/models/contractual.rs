//! sBG against Fader & Hardie (2007); Kaplan-Meier against lifelines on the Telco
//! churn data; cohort matrices.

use crate::common::*;
use kanta_models::FitOptions;
use kanta_models::SbgParams;
use kanta_models::cohort::cohort_matrix;
use kanta_models::sbg::{self, History, SurvivorData};
use kanta_models::survival::{IntervalMethod, KmOptions, kaplan_meier};
use serde_json::Value;

#[test]
fn sbg_reproduces_fader_hardie_2007() {
    let fx = fixture("sbg.json");
    for name in ["regular", "highend"] {
        let case = &fx["cases"][name];
        let alive = fs(&case["alive"]);
        let data = SurvivorData::from_survivors(&alive).unwrap();
        let fit = sbg::fit(&data, &FitOptions::default()).unwrap();
        println!("{name}: {}", serde_json::to_string(&fit).unwrap());
        assert!(fit.converged, "{name}");
        assert_rounds_to(
            &format!("{name} alpha"),
            fit.params.alpha,
            f(&case["published"]["alpha"]),
            3,
        );
        assert_rounds_to(
            &format!("{name} beta"),
            fit.params.beta,
            f(&case["published"]["beta"]),
            3,
        );
        assert_rel("alpha", fit.params.alpha, f(&case["params"]["alpha"]), 1e-6);
        assert_rel("beta", fit.params.beta, f(&case["params"]["beta"]), 1e-6);
        assert_rel(
            "log-likelihood",
            fit.log_likelihood,
            f(&case["log_likelihood"]),
            1e-10,
        );
        let proj = fit.params.project(alive[0], 12);
        for (i, p) in proj.iter().enumerate() {
            assert_rel(
                "survivors",
                p.survivors,
                f(&case["survivors_1_to_12"][i]),
                1e-5,
            );
            assert_rel(
                "retention",
                p.retention_rate,
                f(&case["retention_1_to_12"][i]),
                1e-6,
            );
        }
        // the fitted curve reproduces the observed years closely
        for (t, obs) in alive.iter().enumerate().skip(1) {
            assert!(
                (proj[t - 1].survivors - obs).abs() / obs < 0.05,
                "{name} year {t}"
            );
        }
    }
}

/// Each customer of a cohort's survivor counts as one history: churned at the
/// renewal they did not make, or still active after the last year observed.
fn histories(alive: &[f64]) -> Vec<History> {
    let mut out = Vec::new();
    for t in 1..alive.len() {
        for _ in 0..(alive[t - 1] - alive[t]) as usize {
            out.push(History {
                renewals: t as u32 - 1,
                churned: true,
            });
        }
    }
    for _ in 0..alive[alive.len() - 1] as usize {
        out.push(History {
            renewals: alive.len() as u32 - 1,
            churned: false,
        });
    }
    out
}

#[test]
fn sbg_on_individual_histories_with_censoring_reproduces_fader_hardie_2007() {
    // Fader & Hardie (2007), Table 1: the 1,000 customers of each cohort as
    // individual histories, those active after year 7 right-censored there; the
    // likelihood is the same, so the published estimates come back.
    let fx = fixture("sbg.json");
    for (name, alpha, beta) in [("regular", 0.704, 1.182), ("highend", 0.668, 3.806)] {
        let alive = fs(&fx["cases"][name]["alive"]);
        let h = histories(&alive);
        assert_eq!(h.len(), 1000);
        let fit = sbg::fit(
            &SurvivorData::from_histories(&h).unwrap(),
            &FitOptions::default(),
        )
        .unwrap();
        assert!(fit.converged, "{name}");
        assert_rounds_to(&format!("{name} alpha"), fit.params.alpha, alpha, 3);
        assert_rounds_to(&format!("{name} beta"), fit.params.beta, beta, 3);
        let cohort = sbg::fit(
            &SurvivorData::from_survivors(&alive).unwrap(),
            &FitOptions::default(),
        )
        .unwrap();
        assert_rel("alpha", fit.params.alpha, cohort.params.alpha, 1e-6);
        assert_rel(
            "log-likelihood",
            fit.log_likelihood,
            cohort.log_likelihood,
            1e-9,
        );
        // Kaplan-Meier on the same histories is the observed survivor share.
        let km = SurvivorData::from_histories(&h).unwrap().kaplan_meier(7);
        for t in 0..=7 {
            assert!((km[t] - alive[t] / 1000.0).abs() < 1e-12, "{name} KM({t})");
        }
    }

    // Censoring at different lengths: the regular cohort's first 1,000 observed 7
    // years and a second cohort of the same customers' first 3 years: histories
    // give the same fit as the two cohorts' survivor counts.
    let alive = fs(&fx["cases"]["regular"]["alive"]);
    let mut h = histories(&alive);
    h.extend(histories(&alive[..4]));
    let cohorts = SurvivorData::from_cohorts(&[alive.clone(), alive[..4].to_vec()]).unwrap();
    let a = sbg::fit(
        &SurvivorData::from_histories(&h).unwrap(),
        &FitOptions::default(),
    )
    .unwrap();
    let b = sbg::fit(&cohorts, &FitOptions::default()).unwrap();
    assert_rel("alpha", a.params.alpha, b.params.alpha, 1e-6);
    assert_rel("beta", a.params.beta, b.params.beta, 1e-6);
    // Nobody churned: no estimate.
    let none = [History {
        renewals: 3,
        churned: false,
    }];
    assert!(SurvivorData::from_histories(&none).is_err());
}

#[test]
fn renewal_probability_follows_the_published_retention_rates() {
    // r_t = (β + t − 1)/(α + β + t − 1) at the paper's estimates: a customer who
    // made k renewals makes the next with r_{k+1}; the first renewal of a
    // "regular" customer is 1.182 / 1.886 = 0.627, of a "high end" one 0.851.
    let fx = fixture("sbg.json");
    for name in ["regular", "highend"] {
        let case = &fx["cases"][name];
        let p = SbgParams::new(f(&case["params"]["alpha"]), f(&case["params"]["beta"])).unwrap();
        for k in 0..12u32 {
            assert_rel(
                &format!("{name} r after {k} renewals"),
                p.renewal_probability(k),
                f(&case["retention_1_to_12"][k as usize]),
                1e-9,
            );
        }
    }
    let regular = SbgParams::new(0.704, 1.182).unwrap();
    assert!((regular.renewal_probability(0) - 0.627).abs() < 5e-4);
    let high = SbgParams::new(0.668, 3.806).unwrap();
    assert!((high.renewal_probability(0) - 0.851).abs() < 5e-4);
    // S(k+j)/S(k) is the product of the next j renewal probabilities.
    let prod: f64 = (4..9).map(|k| high.renewal_probability(k)).product();
    assert_rel("S(9)/S(4)", high.survival_given(4, 5), prod, 1e-12);
}

#[test]
fn derl_is_fader_hardie_2010_expected_discounted_renewals() {
    // DERL(d | α, β, k renewals) = Σ_{j≥1} S(k+j)/S(k) / (1+d)^{j-1}
    //   = (β+k)/(α+β+k) 2F1(1, β+k+1; α+β+k+1; 1/(1+d)) (Fader & Hardie 2010, eq. 6):
    // checked against the sum taken directly to 200,000 terms and against 2F1.
    for (alpha, beta) in [(0.704, 1.182), (0.668, 3.806)] {
        let p = SbgParams::new(alpha, beta).unwrap();
        for k in [0u32, 1, 4, 12] {
            for d in [0.1f64, 0.01] {
                let direct: f64 = (1..=200_000u32)
                    .map(|j| p.survival_given(k, j) / (1.0 + d).powi(j as i32 - 1))
                    .sum();
                assert_rel("DERL direct", p.derl(k, d), direct, 1e-9);
                let kf = f64::from(k);
                let hyp = (beta + kf) / (alpha + beta + kf)
                    * kanta_models::special::hyp2f1(
                        1.0,
                        beta + kf + 1.0,
                        alpha + beta + kf + 1.0,
                        1.0 / (1.0 + d),
                    )
                    .unwrap();
                assert_rel("DERL 2F1", p.derl(k, d), hyp, 1e-8);
            }
        }
        // More renewals made, more expected: the survivors are the loyal ones.
        assert!(p.derl(5, 0.1) > p.derl(0, 0.1));
        // α < 1 and no discounting: the expected lifetime is infinite.
        assert!(p.derl(0, 0.0).is_infinite());
    }
    // Without heterogeneity (α, β large, θ = α/(α+β) = 0.2) DERL is the geometric
    // (1 − θ)(1 + d)/(d + θ).
    let p = SbgParams::new(2e5, 8e5).unwrap();
    let want = 0.8 * 1.1 / (0.1 + 0.2);
    assert_rel("homogeneous DERL", p.derl(3, 0.1), want, 1e-4);
}

fn telco() -> (Vec<f64>, Vec<bool>, Vec<bool>) {
    let text = dataset("Telco-Customer-Churn.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (ti, ci, ki) = (col("tenure"), col("Churn"), col("Contract"));
    let (mut d, mut e, mut m) = (Vec::new(), Vec::new(), Vec::new());
    for l in lines.filter(|l| !l.is_empty()) {
        let c: Vec<&str> = l.split(',').collect();
        d.push(c[ti].parse().unwrap());
        e.push(c[ci] == "Yes");
        m.push(c[ki] == "Month-to-month");
    }
    (d, e, m)
}

fn check_km(label: &str, durations: &[f64], events: &[bool], want: &Value) {
    let km = kaplan_meier(durations, events, None, &KmOptions::default()).unwrap();
    let times = fs(&want["timeline"]);
    assert_eq!(km.points.len(), times.len(), "{label} timeline");
    for (i, p) in km.points.iter().enumerate() {
        assert_eq!(p.time, times[i]);
        assert_rel(
            &format!("{label} S({})", p.time),
            p.survival,
            f(&want["survival"][i]),
            1e-12,
        );
        assert_rel(
            &format!("{label} lower({})", p.time),
            p.lower,
            f(&want["ci_lower"][i]),
            1e-10,
        );
        assert_rel(
            &format!("{label} upper({})", p.time),
            p.upper,
            f(&want["ci_upper"][i]),
            1e-10,
        );
    }
    assert_eq!(km.median, want["median"].as_f64(), "{label} median");
}

#[test]
fn kaplan_meier_matches_lifelines_on_telco_churn() {
    let fx = fixture("telco_km.json");
    let (d, e, m2m) = telco();
    assert_eq!(d.len(), 7043);
    check_km("all", &d, &e, &fx["all"]);
    let (dm, em): (Vec<f64>, Vec<bool>) = d
        .iter()
        .zip(&e)
        .zip(&m2m)
        .filter(|(_, m)| **m)
        .map(|((d, e), _)| (*d, *e))
        .unzip();
    check_km("month-to-month", &dm, &em, &fx["month_to_month"]);

    // plain Greenwood intervals are symmetric around S and contain it
    let plain = kaplan_meier(
        &d,
        &e,
        None,
        &KmOptions {
            confidence: 0.95,
            method: IntervalMethod::Plain,
        },
    )
    .unwrap();
    for p in &plain.points[1..] {
        assert!(p.lower < p.survival && p.survival < p.upper);
        assert!(((p.upper - p.survival) - (p.survival - p.lower)).abs() < 1e-12);
    }
    // a 99% interval is wider than a 95% one
    let wide = kaplan_meier(
        &d,
        &e,
        None,
        &KmOptions {
            confidence: 0.99,
            method: IntervalMethod::LogLog,
        },
    )
    .unwrap();
    let narrow = kaplan_meier(&d, &e, None, &KmOptions::default()).unwrap();
    assert!(wide.points[30].lower < narrow.points[30].lower);
}

#[test]
fn cohort_matrix_from_transactions() {
    // monthly cohorts of the CDNOW sample: every customer is in its first month's
    // cohort (January-March 1997) and the matrix has 18 months
    use std::collections::BTreeSet;
    let tx = cdnow_transactions();
    let month = |day: i32| {
        let d = kanta_models::summary::date_of_day(day);
        use chrono::Datelike;
        ((d.year() - 1997) * 12 + d.month0() as i32) as u32
    };
    let mut first = std::collections::HashMap::new();
    for t in &tx {
        let e = first.entry(t.customer).or_insert(t.day);
        *e = (*e).min(t.day);
    }
    let pairs: BTreeSet<(u64, u32, u32)> = tx
        .iter()
        .map(|t| (t.customer, month(first[&t.customer]), month(t.day)))
        .collect();
    let pairs: Vec<(u32, u32)> = pairs.into_iter().map(|(_, c, p)| (c, p)).collect();
    let m = cohort_matrix(&pairs, 17).unwrap();
    assert_eq!(m.cohorts.len(), 3);
    assert_eq!(m.cohorts.iter().map(|c| c.size).sum::<u64>(), 2357);
    for c in &m.cohorts {
        assert_eq!(c.active.len() as u32, 18 - c.cohort);
        assert_eq!(c.retention[0], 1.0);
        assert!(c.retention[1..].iter().all(|r| *r < 0.5));
    }
}

#[test]
fn degenerate_and_boundary_fits_are_named() {
    use kanta_models::fit::{at_boundary, degeneracy};
    let names = ["r", "alpha", "s", "beta"];
    // The issue's CDNOW-as-of-today case: Pareto/NBD β = 6.9e8 ± 1.3e9 is at the
    // boundary (no heterogeneity in dropout), its standard error meaningless there.
    let cdnow = [0.55, 10.6, 0.6, 6.9e8];
    assert!(at_boundary(&names, &cdnow).unwrap().contains("beta"));
    assert!(degeneracy(&names, &cdnow, Some(&[0.05, 0.8, 40.0, 1.3e9])).is_none());
    // Not a number, or not positive: degenerate.
    let nan = [0.55, 10.6, 0.6, f64::NAN];
    assert!(degeneracy(&names, &nan, None).unwrap().contains("beta"));
    assert!(degeneracy(&names, &[0.55, 0.0, 0.6, 11.7], None).is_some());
    // Inside the bounds, a standard error 66 times its estimate: undetermined.
    let sound = [0.55, 10.6, 0.6, 11.7];
    let why = degeneracy(&names, &sound, Some(&[0.05, 0.8, 40.0, 0.9])).unwrap();
    assert!(why.starts_with("s = 0.6000"), "{why}");
    assert!(degeneracy(&names, &sound, Some(&[0.05, 0.8, 0.2, 0.9])).is_none());
    assert!(at_boundary(&names, &sound).is_none());
    assert!(
        at_boundary(&["alpha", "beta"], &[3e-8, 2e-7])
            .unwrap()
            .contains("alpha")
    );
}

//! sBG against Fader & Hardie (2007); Kaplan-Meier against lifelines on the Telco
//! churn data; cohort matrices.

use crate::common::*;
use kanta_models::FitOptions;
use kanta_models::cohort::cohort_matrix;
use kanta_models::sbg::{self, SurvivorData};
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

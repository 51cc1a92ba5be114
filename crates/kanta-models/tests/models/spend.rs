//! Gamma-Gamma on the 946 CDNOW repeat customers (FHL 2005b) and CLV against
//! lifetimes' `customer_lifetime_value`.

use crate::common::*;
use kanta_models::clv::{ClvOptions, customer_lifetime_value};
use kanta_models::gammagamma::{self, GammaGammaParams};
use kanta_models::summary::TimeUnit;
use kanta_models::{BgNbdParams, FitOptions, RfmRow, SpendData, SpendRow};

fn repeat_customers() -> Vec<SpendRow> {
    dataset("cdnow_customers_summary_with_transactions.csv")
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let c: Vec<f64> = l.split(',').map(|v| v.trim().parse().unwrap()).collect();
            (c[1] > 0.0).then(|| SpendRow::new(c[1], c[4]))
        })
        .collect()
}

#[test]
fn gamma_gamma_reproduces_published_values_and_lifetimes() {
    let rows = repeat_customers();
    assert_eq!(rows.len(), 946);
    let data = SpendData::from_rows(&rows).unwrap();
    let fit = gammagamma::fit(&data, &FitOptions::default()).unwrap();
    println!("{}", serde_json::to_string_pretty(&fit).unwrap());
    assert!(fit.converged);
    let fx = fixture("cdnow_gammagamma.json");
    // Published (FHL 2005b / Fader-Hardie note 025): p = 6.25, q = 3.74, gamma = 15.44
    assert_rounds_to("p", fit.params.p, 6.25, 2);
    assert_rounds_to("q", fit.params.q, 3.74, 2);
    // gamma: the maximum of the likelihood on this file is 15.4478 (lifetimes finds
    // the same, see the fixture), which rounds to 15.45; the published 15.44 is
    // within one unit of its last place.
    assert!(
        (fit.params.gamma - 15.44).abs() < 0.01,
        "gamma {}",
        fit.params.gamma
    );
    for (name, got) in [
        ("p", fit.params.p),
        ("q", fit.params.q),
        ("gamma", fit.params.gamma),
    ] {
        assert_sig(name, got, f(&fx["params"][name]), 4);
        assert_rel(name, got, f(&fx["params"][name]), 1e-4);
        let se = match name {
            "p" => fit.std_errors.unwrap().p,
            "q" => fit.std_errors.unwrap().q,
            _ => fit.std_errors.unwrap().gamma,
        };
        assert_rel(&format!("SE {name}"), se, f(&fx["std_errors"][name]), 2e-3);
    }
    assert_rel(
        "log-likelihood",
        fit.log_likelihood,
        f(&fx["log_likelihood"]),
        1e-9,
    );

    // conditional expected average spend, at lifetimes' and at our parameters
    let theirs = GammaGammaParams::new(
        f(&fx["params"]["p"]),
        f(&fx["params"]["q"]),
        f(&fx["params"]["gamma"]),
    )
    .unwrap();
    for (i, r) in fx["rows"].as_array().unwrap().iter().enumerate() {
        let v = fs(r);
        let want = f(&fx["expected_average_spend"][i]);
        assert_sig(
            "E[spend]",
            theirs.expected_average_spend(v[0], v[3]),
            want,
            10,
        );
        assert_sig(
            "E[spend] (our fit)",
            fit.params.expected_average_spend(v[0], v[3]),
            want,
            4,
        );
    }
}

#[test]
fn clv_matches_lifetimes() {
    let gg = fixture("cdnow_gammagamma.json");
    let bg = fixture("cdnow_bgnbd.json");
    let spend = GammaGammaParams::new(
        f(&gg["params"]["p"]),
        f(&gg["params"]["q"]),
        f(&gg["params"]["gamma"]),
    )
    .unwrap();
    let model = BgNbdParams::new(
        f(&bg["params"]["r"]),
        f(&bg["params"]["alpha"]),
        f(&bg["params"]["a"]),
        f(&bg["params"]["b"]),
    )
    .unwrap();
    let twelve = ClvOptions::new(12, 0.01, 1.0, TimeUnit::Week).unwrap();
    let six = ClvOptions::new(6, 0.02, 1.0, TimeUnit::Week).unwrap();
    for (i, r) in gg["rows"].as_array().unwrap().iter().enumerate() {
        let v = fs(r);
        let row = RfmRow::new(v[0], v[1], v[2]);
        let got = customer_lifetime_value(&model, &spend, &row, v[3], &twelve);
        assert_sig("CLV 12 months", got, f(&gg["clv_12_months_1pct"][i]), 9);
        let got = customer_lifetime_value(&model, &spend, &row, v[3], &six);
        assert_sig("CLV 6 months", got, f(&gg["clv_6_months_2pct"][i]), 9);
        // margin scales linearly
        let half = ClvOptions {
            margin: 0.5,
            ..twelve
        };
        let m = customer_lifetime_value(&model, &spend, &row, v[3], &half);
        assert_rel("margin", m, 0.5 * f(&gg["clv_12_months_1pct"][i]), 1e-12);
    }
    assert!(ClvOptions::new(12, 0.01, 1.5, TimeUnit::Week).is_err());
    assert!(ClvOptions::new(0, 0.01, 1.0, TimeUnit::Week).is_err());
}

//! BG/BB on the donation data of Fader, Hardie & Shang (2010) (lifetimes'
//! donations.csv): published parameters and lifetimes' predictions.

use crate::common::*;
use kanta_models::bgbb::{self, BgBbParams};
use kanta_models::{DiscreteData, DiscreteRow, FitOptions, ModelKind, Params};

#[test]
fn bgbb_reproduces_fader_hardie_shang_2010_and_lifetimes() {
    let fx = fixture("donations_bgbb.json");
    let (mut rows, mut weights) = (Vec::new(), Vec::new());
    for r in fx["data"].as_array().unwrap() {
        let v = fs(r);
        rows.push(DiscreteRow::new(v[0] as u32, v[1] as u32, v[2] as u32));
        weights.push(v[3]);
    }
    let data = DiscreteData::from_weighted_rows(&rows, &weights).unwrap();
    assert_eq!(data.total_weight(), 11104.0);
    let fit = bgbb::fit(&data, &FitOptions::default()).unwrap();
    println!("{}", serde_json::to_string_pretty(&fit).unwrap());
    assert!(fit.converged);
    // Published (FHS 2010, Table 2): alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6
    let p = fit.params;
    let pubd = &fx["published"];
    assert_rounds_to("alpha", p.alpha, f(&pubd["alpha"]), 3);
    assert_rounds_to("beta", p.beta, f(&pubd["beta"]), 3);
    assert_rounds_to("gamma", p.gamma, f(&pubd["gamma"]), 3);
    assert_rounds_to("delta", p.delta, f(&pubd["delta"]), 3);
    assert_rounds_to(
        "log-likelihood",
        fit.log_likelihood,
        f(&pubd["log_likelihood"]),
        1,
    );

    let names = ModelKind::BgBb.param_names();
    let want: Vec<f64> = names.iter().map(|n| f(&fx["params"][n])).collect();
    for ((n, got), w) in names.iter().zip(p.to_vec()).zip(&want) {
        assert_sig(n, got, *w, 4);
        assert_rel(n, got, *w, 2e-5);
    }
    // lifetimes adds 1e-15 inside its sum; irrelevant at this precision
    assert_rel(
        "log-likelihood",
        fit.log_likelihood,
        f(&fx["log_likelihood"]),
        1e-9,
    );
    let se = fit.std_errors.unwrap().to_vec();
    for (got, n) in se.iter().zip(names) {
        assert_rel(&format!("SE {n}"), *got, f(&fx["std_errors"][n]), 1e-3);
    }

    let theirs = BgBbParams::from_slice(&want);
    for (model, digits) in [(theirs, 9), (p, 4)] {
        for (i, row) in rows.iter().enumerate() {
            assert_sig(
                "P(alive)",
                model.p_alive(0, row),
                f(&fx["p_alive_m0"][i]),
                digits,
            );
            assert_sig(
                "P(alive in 5)",
                model.p_alive(5, row),
                f(&fx["p_alive_m5"][i]),
                digits,
            );
            assert_sig(
                "E[X(5)|...]",
                model.conditional_expected_purchases(5, row),
                f(&fx["conditional_m5"][i]),
                digits,
            );
            assert_sig(
                "E[X(1)|...]",
                model.conditional_expected_purchases(1, row),
                f(&fx["conditional_m1"][i]),
                digits,
            );
        }
        let xs = fs(&fx["expected_counts_first_6"]["x"]);
        let counts = fs(&fx["expected_counts_first_6"]["values"]);
        for (x, want) in xs.iter().zip(counts) {
            let got = model.prob_purchases(6, *x as u32) * data.total_weight();
            assert_sig(
                &format!("expected customers with {x} of 6"),
                got,
                want,
                digits,
            );
        }
    }
}

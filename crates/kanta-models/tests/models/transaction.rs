//! BG/NBD, MBG/NBD and Pareto/NBD on the CDNOW 1/10 sample (weeks) against
//! Fader, Hardie & Lee (2005) and lifetimes 0.11.3.

use crate::common::*;
use kanta_models::{
    BgNbdParams, FitOptions, MbgNbdParams, ModelKind, Params, ParetoNbdParams, RfmData, RfmRow,
    TransactionModel, TransactionParams, bgnbd, mbgnbd, paretonbd,
};
use serde_json::Value;

fn cdnow() -> RfmData {
    let rows: Vec<RfmRow> = cdnow_summary()
        .into_iter()
        .map(|(x, tx, t)| RfmRow::new(x, tx, t))
        .collect();
    assert_eq!(rows.len(), 2357);
    RfmData::from_rows(&rows).unwrap()
}

fn fixture_params(fx: &Value, names: &[&str]) -> Vec<f64> {
    names.iter().map(|n| f(&fx["params"][n])).collect()
}

fn rows_of(fx: &Value) -> Vec<RfmRow> {
    fx["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let v = fs(r);
            RfmRow::new(v[0], v[1], v[2])
        })
        .collect()
}

/// Compare the predictions of `model` with lifetimes' at `digits` significant figures.
fn check_predictions(label: &str, model: &dyn TransactionModel, fx: &Value, digits: i32) {
    let rows = rows_of(fx);
    for (row, want) in rows.iter().zip(fs(&fx["p_alive"])) {
        assert_sig(
            &format!("{label} P(alive) {row:?}"),
            model.p_alive(row),
            want,
            digits,
        );
    }
    let ts = fs(&fx["conditional"]["t"]);
    for (t, values) in ts
        .iter()
        .zip(fx["conditional"]["values"].as_array().unwrap())
    {
        for (row, want) in rows.iter().zip(fs(values)) {
            let got = model.conditional_expected_purchases(*t, row);
            assert_sig(&format!("{label} E[X({t}) | {row:?}]"), got, want, digits);
        }
    }
    for (t, want) in fs(&fx["unconditional"]["t"])
        .iter()
        .zip(fs(&fx["unconditional"]["values"]))
    {
        assert_sig(
            &format!("{label} E[X({t})]"),
            model.expected_purchases(*t),
            want,
            digits,
        );
    }
    if let Some(pn) = fx.get("prob_n") {
        let ns: Vec<u32> = fs(&pn["n"]).iter().map(|n| *n as u32).collect();
        for (t, values) in fs(&pn["t"]).iter().zip(pn["values"].as_array().unwrap()) {
            for (n, want) in ns.iter().zip(fs(values)) {
                let got = model.prob_purchases(*t, *n).unwrap();
                assert_sig(&format!("{label} P(X({t}) = {n})"), got, want, digits);
            }
        }
    }
}

#[test]
fn bgnbd_reproduces_fader_hardie_lee_2005_and_lifetimes() {
    let data = cdnow();
    let fit = bgnbd::fit(&data, &FitOptions::default()).unwrap();
    println!("{}", serde_json::to_string_pretty(&fit).unwrap());
    assert!(fit.converged);
    assert_eq!(fit.n, 2357.0);
    // Published (FHL 2005, section 5): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    let p = fit.params;
    assert_rounds_to("r", p.r, 0.243, 3);
    assert_rounds_to("alpha", p.alpha, 4.414, 3);
    assert_rounds_to("a", p.a, 0.793, 3);
    assert_rounds_to("b", p.b, 2.426, 3);
    assert_rounds_to("log-likelihood", fit.log_likelihood, -9582.4, 1);

    let fx = fixture("cdnow_bgnbd.json");
    let names = ModelKind::BgNbd.param_names();
    let want = fixture_params(&fx, names);
    for ((name, got), want) in names.iter().zip(p.to_vec()).zip(&want) {
        // lifetimes stops at gradient 1e-7 of the mean NLL; both optima agree far beyond 4 digits
        assert_rel(name, got, *want, 2e-5);
    }
    assert_rel(
        "log-likelihood",
        fit.log_likelihood,
        f(&fx["log_likelihood"]),
        1e-10,
    );
    let se = fit.std_errors.unwrap().to_vec();
    for ((name, got), n) in names.iter().zip(se).zip(names) {
        assert_rel(&format!("SE {name}"), got, f(&fx["std_errors"][n]), 1e-3);
    }
    // our optimum is at least as good as lifetimes'
    let theirs = BgNbdParams::from_slice(&want);
    assert!(fit.log_likelihood >= theirs.log_likelihood(&data) - 1e-9);

    // formulas: at lifetimes' parameters, predictions agree to rounding
    check_predictions("BG/NBD (lifetimes params)", &theirs, &fx, 9);
    // and with our own fit, to 4 significant figures
    check_predictions("BG/NBD (our fit)", &p, &fx, 4);
}

#[test]
fn mbgnbd_agrees_with_lifetimes() {
    let data = cdnow();
    let fit = mbgnbd::fit(&data, &FitOptions::default()).unwrap();
    println!("{}", serde_json::to_string_pretty(&fit).unwrap());
    assert!(fit.converged);
    let fx = fixture("cdnow_mbgnbd.json");
    let names = ModelKind::MbgNbd.param_names();
    let want = fixture_params(&fx, names);
    for ((name, got), want) in names.iter().zip(fit.params.to_vec()).zip(&want) {
        assert_sig(name, got, *want, 4);
        assert_rel(name, got, *want, 2e-5);
    }
    assert_rel(
        "log-likelihood",
        fit.log_likelihood,
        f(&fx["log_likelihood"]),
        1e-10,
    );
    let se = fit.std_errors.unwrap().to_vec();
    for (got, n) in se.iter().zip(names) {
        assert_rel(&format!("SE {n}"), *got, f(&fx["std_errors"][n]), 1e-3);
    }
    let theirs = MbgNbdParams::from_slice(&want);
    check_predictions("MBG/NBD (lifetimes params)", &theirs, &fx, 9);
    check_predictions("MBG/NBD (our fit)", &fit.params, &fx, 4);
}

#[test]
fn paretonbd_agrees_with_lifetimes() {
    let data = cdnow();
    let fit = paretonbd::fit(&data, &FitOptions::default()).unwrap();
    println!("{}", serde_json::to_string_pretty(&fit).unwrap());
    assert!(fit.converged);
    let fx = fixture("cdnow_paretonbd.json");
    let names = ModelKind::ParetoNbd.param_names();
    let want = fixture_params(&fx, names);
    for ((name, got), want) in names.iter().zip(fit.params.to_vec()).zip(&want) {
        assert_sig(name, got, *want, 4);
    }
    // lifetimes' default Nelder-Mead run (tol 1e-4) also agrees to 4 figures
    for (name, got) in names.iter().zip(fit.params.to_vec()) {
        assert_sig(name, got, f(&fx["params_lifetimes_default"][name]), 4);
    }
    assert_rel(
        "log-likelihood",
        fit.log_likelihood,
        f(&fx["log_likelihood"]),
        1e-9,
    );
    assert!(fit.log_likelihood >= f(&fx["log_likelihood"]) - 1e-8);
    let theirs = ParetoNbdParams::from_slice(&want);
    for (row, want) in rows_of(&fx).iter().zip(fs(&fx["row_log_likelihood"])) {
        assert_rel(
            &format!("row log-likelihood {row:?}"),
            theirs.row_log_likelihood(row),
            want,
            1e-11,
        );
    }
    check_predictions("Pareto/NBD (lifetimes params)", &theirs, &fx, 9);
    check_predictions("Pareto/NBD (our fit)", &fit.params, &fx, 4);
}

#[test]
fn collapsing_rows_does_not_change_the_fit() {
    // Every customer twice: same optimum, same log-likelihood per customer.
    let rows: Vec<RfmRow> = cdnow_summary()
        .into_iter()
        .map(|(x, tx, t)| RfmRow::new(x, tx, t))
        .collect();
    let doubled: Vec<RfmRow> = rows.iter().chain(rows.iter()).copied().collect();
    let once = RfmData::from_rows(&rows).unwrap();
    let twice = RfmData::from_rows(&doubled).unwrap();
    assert_eq!(once.len(), twice.len());
    assert!(once.len() < rows.len(), "CDNOW has repeated rows");
    let a = bgnbd::fit(&once, &FitOptions::default()).unwrap();
    let b = bgnbd::fit(&twice, &FitOptions::default()).unwrap();
    for (x, y) in a.params.to_vec().iter().zip(b.params.to_vec()) {
        assert_rel("param", *x, y, 1e-8);
    }
    assert_rel(
        "log-likelihood",
        2.0 * a.log_likelihood,
        b.log_likelihood,
        1e-10,
    );
    // standard errors shrink by sqrt(2)
    let (sa, sb) = (
        a.std_errors.unwrap().to_vec(),
        b.std_errors.unwrap().to_vec(),
    );
    for (x, y) in sa.iter().zip(sb) {
        assert_rel("SE", x / y, std::f64::consts::SQRT_2, 1e-5);
    }
}

#[test]
fn the_warm_start_from_coarsened_data_reaches_the_same_fit() {
    // CDNOW 24 times, each copy shifted in time a little, so that there are more
    // distinct rows than the warm start's threshold.
    let rows: Vec<RfmRow> = (0..24)
        .flat_map(|k| {
            let shift = f64::from(k) * 0.003;
            cdnow_summary().into_iter().map(move |(x, tx, t)| {
                let tx = if x > 0.0 { tx + shift } else { 0.0 };
                RfmRow::new(x, tx, t + shift)
            })
        })
        .collect();
    let data = RfmData::from_rows(&rows).unwrap();
    assert!(data.len() > kanta_models::prec::WARM_START_MIN_ROWS);
    let warm = bgnbd::fit(&data, &FitOptions::default()).unwrap();
    // Initial values turn the warm start off; these are the default start (every
    // parameter 1 in time scaled to the largest T).
    let cold_start = FitOptions {
        initial_params: Some(vec![1.0, data.max_t(), 1.0, 1.0]),
        ..FitOptions::default()
    };
    let cold = bgnbd::fit(&data, &cold_start).unwrap();
    assert!(warm.converged && cold.converged);
    assert!(warm.iterations < cold.iterations, "{warm:?} {cold:?}");
    for (x, y) in warm.params.to_vec().iter().zip(cold.params.to_vec()) {
        assert_rel("param", *x, y, 1e-9);
    }
    assert_rel(
        "log-likelihood",
        warm.log_likelihood,
        cold.log_likelihood,
        1e-12,
    );
    let (sw, sc) = (
        warm.std_errors.unwrap().to_vec(),
        cold.std_errors.unwrap().to_vec(),
    );
    for (x, y) in sw.iter().zip(sc) {
        assert_rel("SE", *x, y, 1e-5);
    }
}

#[test]
fn fit_by_name_and_serialised_names() {
    let data = cdnow();
    let fit = kanta_models::fit_transaction_model(
        "BG/NBD".parse().unwrap(),
        &data,
        &FitOptions::default(),
    )
    .unwrap();
    let json = serde_json::to_value(&fit).unwrap();
    assert_eq!(json["model"], "bgnbd");
    assert_eq!(json["params"]["model"], "bgnbd");
    for k in ["r", "alpha", "a", "b"] {
        assert!(json["params"][k].is_f64(), "{k} in {json}");
    }
    for k in ["log_likelihood", "n", "converged", "iterations"] {
        assert!(!json[k].is_null(), "{k}");
    }
    let back: TransactionParams = serde_json::from_value(json["params"].clone()).unwrap();
    assert_eq!(back, fit.params);
    let err = kanta_models::fit_transaction_model(ModelKind::Sbg, &data, &FitOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("not a continuous-time transaction model")
    );
}

#[test]
fn degenerate_data_ends_quickly_and_says_so() {
    // Nobody ever came back: the likelihood grows without bound as r -> 0, so there
    // is no maximum. The fit must stop by itself and report that it did not converge.
    let rows: Vec<RfmRow> = (1..200).map(|t| RfmRow::new(0.0, 0.0, t as f64)).collect();
    let data = RfmData::from_rows(&rows).unwrap();
    let start = std::time::Instant::now();
    match bgnbd::fit(&data, &FitOptions::default()) {
        Ok(fit) => {
            println!("{fit:?}");
            assert!(!fit.converged, "{fit:?}")
        }
        Err(e) => assert!(e.to_string().contains("fit"), "{e}"),
    }
    assert!(
        start.elapsed().as_secs_f64() < 20.0,
        "took {:?}",
        start.elapsed()
    );
}

//! Transaction-log summaries, the calibration/holdout split, the CDNOW holdout
//! forecast and the cumulative tracking series, against lifetimes.

use crate::common::*;
use kanta_models::summary::{TimeUnit, calibration_and_holdout, summarize};
use kanta_models::validation::{cumulative_tracking, holdout_metrics, predict_holdout};
use kanta_models::{BgNbdParams, FitOptions, RfmData, RfmRow, bgnbd};

#[test]
fn calibration_and_holdout_matches_lifetimes_on_cdnow() {
    let fx = fixture("cdnow_summaries.json");
    let want = &fx["calibration"];
    let mut tx = cdnow_transactions();
    assert_eq!(tx.len(), 6919);
    let got = calibration_and_holdout(
        &mut tx,
        TimeUnit::Week,
        day("1997-09-30"),
        day("1998-06-30"),
    )
    .unwrap();
    let ids = fs(&want["id"]);
    assert_eq!(got.len(), ids.len());
    let cols = [
        "frequency_cal",
        "recency_cal",
        "T_cal",
        "monetary_value_cal",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
    ];
    let columns: Vec<Vec<f64>> = cols.iter().map(|c| fs(&want[c])).collect();
    for (i, h) in got.iter().enumerate() {
        assert_eq!(h.customer as f64, ids[i]);
        let ours = [
            h.frequency_cal,
            h.recency_cal,
            h.t_cal,
            h.monetary_value_cal,
            h.frequency_holdout,
            h.monetary_value_holdout,
            h.duration_holdout,
        ];
        for ((c, o), w) in cols.iter().zip(ours).zip(&columns) {
            assert!(
                (o - w[i]).abs() <= 1e-12 * w[i].abs().max(1.0),
                "customer {}: {c} {o} vs {}",
                h.customer,
                w[i]
            );
        }
    }
    // the published summary file agrees too (recency/T rounded to 2 decimals there)
    let published = cdnow_summary();
    for (h, (x, tx, t)) in got.iter().zip(published) {
        assert_eq!(h.frequency_cal, x);
        assert!((h.recency_cal - tx).abs() < 0.005 && (h.t_cal - t).abs() < 0.005);
    }
}

#[test]
fn daily_summary_matches_lifetimes() {
    let fx = fixture("cdnow_summaries.json");
    let want = &fx["full_days"];
    let mut tx = cdnow_transactions();
    let got = summarize(&mut tx, TimeUnit::Day, day("1998-06-30")).unwrap();
    let cols: Vec<Vec<f64>> = ["frequency", "recency", "T", "monetary_value"]
        .iter()
        .map(|c| fs(&want[c]))
        .collect();
    assert_eq!(got.len(), cols[0].len());
    for (i, s) in got.iter().enumerate() {
        for (o, w) in [s.frequency, s.recency, s.t, s.monetary_value]
            .iter()
            .zip(&cols)
        {
            assert!(
                (o - w[i]).abs() <= 1e-12 * w[i].abs().max(1.0),
                "customer {}: {o} vs {}",
                s.customer,
                w[i]
            );
        }
    }
}

#[test]
fn cdnow_holdout_forecast_and_tracking_match_lifetimes() {
    let fx = fixture("cdnow_holdout.json");
    let mut tx = cdnow_transactions();
    let cal = calibration_and_holdout(
        &mut tx,
        TimeUnit::Week,
        day("1997-09-30"),
        day("1998-06-30"),
    )
    .unwrap();
    let rows: Vec<RfmRow> = cal.iter().map(|h| h.rfm_row()).collect();
    let fit = bgnbd::fit(&RfmData::from_rows(&rows).unwrap(), &FitOptions::default()).unwrap();
    assert!(fit.converged);
    let p = fit.params;
    for (name, got) in [("r", p.r), ("alpha", p.alpha), ("a", p.a), ("b", p.b)] {
        assert_rel(name, got, f(&fx["params"][name]), 2e-5);
    }
    let theirs = BgNbdParams::new(
        f(&fx["params"]["r"]),
        f(&fx["params"]["alpha"]),
        f(&fx["params"]["a"]),
        f(&fx["params"]["b"]),
    )
    .unwrap();

    // per-customer expected holdout purchases (39 weeks)
    let want = fs(&fx["predicted_holdout"]);
    let ours = predict_holdout(&p, &cal);
    let at_theirs = predict_holdout(&theirs, &cal);
    for i in 0..want.len() {
        assert_rel(
            "holdout prediction at lifetimes' parameters",
            at_theirs[i],
            want[i],
            1e-9,
        );
        assert_sig("holdout prediction", ours[i], want[i], 4);
    }
    let actual: Vec<f64> = cal.iter().map(|h| h.frequency_holdout).collect();
    let m = holdout_metrics(&ours, &actual).unwrap();
    println!("{m:?}");
    assert_eq!(m.actual_total, f(&fx["actual_total"]));
    assert_rel(
        "holdout total",
        m.predicted_total,
        f(&fx["predicted_total"]),
        1e-5,
    );
    assert!(m.correlation > 0.5 && m.mae > 0.0 && m.rmse >= m.mae);

    // cumulative tracking, weeks 1-78 (FHL 2005 Figure 2)
    let track = cumulative_tracking(&mut tx, TimeUnit::Week, 78, &p).unwrap();
    let at_theirs = cumulative_tracking(&mut tx, TimeUnit::Week, 78, &theirs).unwrap();
    let (wa, wp) = (
        fs(&fx["tracking"]["actual"]),
        fs(&fx["tracking"]["predicted"]),
    );
    assert_eq!(track.len(), 78);
    for (i, t) in track.iter().enumerate() {
        assert_eq!(
            t.actual, wa[i],
            "actual cumulative repeat purchases, week {}",
            t.period
        );
        assert_rel(
            "expected cumulative at lifetimes' parameters",
            at_theirs[i].expected,
            wp[i],
            1e-9,
        );
        if t.period >= 40 {
            // the holdout weeks: within 0.5% of lifetimes' forecast (in fact ~1e-6)
            assert_rel(&format!("week {}", t.period), t.expected, wp[i], 5e-3);
            assert_rel(
                &format!("week {} (tight)", t.period),
                t.expected,
                wp[i],
                1e-5,
            );
        }
    }
}

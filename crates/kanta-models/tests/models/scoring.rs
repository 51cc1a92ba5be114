//! Scoring many customers and RFM scores.

use crate::common::*;
use kanta_models::clv::{ClvOptions, customer_lifetime_value};
use kanta_models::rfm::{RfmInput, rfm_scores};
use kanta_models::score::{ScoreOptions, score_customers};
use kanta_models::summary::{TimeUnit, summarize};
use kanta_models::{BgNbdParams, GammaGammaParams};

#[test]
fn scores_equal_the_per_customer_predictions() {
    let mut tx = cdnow_transactions();
    let summaries = summarize(&mut tx, TimeUnit::Week, day("1997-09-30")).unwrap();
    let rows: Vec<_> = summaries.iter().map(|s| s.rfm_row()).collect();
    let money: Vec<f64> = summaries.iter().map(|s| s.monetary_value).collect();
    let model = BgNbdParams::new(0.2426, 4.4135, 0.7929, 2.4258).unwrap();
    let spend = GammaGammaParams::new(6.2488, 3.7446, 15.4477).unwrap();
    let clv = ClvOptions::new(12, 0.01, 0.3, TimeUnit::Week).unwrap();
    let opts = ScoreOptions {
        horizon: 13.0,
        clv: Some(clv),
    };
    let scores = score_customers(&model, Some(&spend), &rows, Some(&money), &opts).unwrap();
    assert_eq!(scores.len(), rows.len());
    for (i, s) in scores.iter().enumerate() {
        assert_eq!(s.p_alive, model.p_alive(&rows[i]));
        assert_eq!(
            s.expected_purchases,
            model.conditional_expected_purchases(13.0, &rows[i])
        );
        let c = customer_lifetime_value(&model, &spend, &rows[i], money[i], &clv);
        assert_rel("clv", s.clv.unwrap(), c, 1e-12);
        assert_rel(
            "revenue",
            s.expected_revenue.unwrap(),
            s.expected_purchases * s.expected_average_spend.unwrap(),
            1e-15,
        );
    }
    // without a spend model only the transaction predictions
    let plain = score_customers(
        &model,
        None,
        &rows,
        None,
        &ScoreOptions {
            horizon: 13.0,
            clv: None,
        },
    )
    .unwrap();
    assert!(
        plain
            .iter()
            .all(|s| s.clv.is_none() && s.expected_average_spend.is_none())
    );
    assert!(score_customers(&model, Some(&spend), &rows, None, &opts).is_err());
}

#[test]
fn rfm_scores_of_cdnow_are_quintiles() {
    let mut tx = cdnow_transactions();
    let summaries = summarize(&mut tx, TimeUnit::Day, day("1998-06-30")).unwrap();
    let inputs: Vec<RfmInput> = summaries
        .iter()
        .map(|s| RfmInput::from_summary(&s.rfm_row(), s.monetary_value))
        .collect();
    let scores = rfm_scores(&inputs).unwrap();
    // one-time buyers (monetary value 0) tie and all get monetary score 1 ...
    for (i, s) in scores.iter().enumerate() {
        if inputs[i].frequency == 0.0 {
            assert_eq!(s.monetary, 1);
        }
    }
    // ... while among repeat buyers, whose mean spends are nearly all distinct, each
    // score holds about a fifth
    let repeat: Vec<RfmInput> = inputs
        .iter()
        .filter(|r| r.frequency > 0.0)
        .copied()
        .collect();
    let rs = rfm_scores(&repeat).unwrap();
    for k in 1..=5u8 {
        let share = rs.iter().filter(|s| s.monetary == k).count() as f64 / rs.len() as f64;
        assert!((share - 0.2).abs() < 0.01, "monetary score {k}: {share}");
    }
    // the most frequent buyer has frequency score 5, a one-time buyer 1
    let (imax, _) = inputs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.frequency.total_cmp(&b.1.frequency))
        .unwrap();
    assert_eq!(scores[imax].frequency, 5);
    let once = inputs.iter().position(|r| r.frequency == 0.0).unwrap();
    assert_eq!(scores[once].frequency, 1);
}

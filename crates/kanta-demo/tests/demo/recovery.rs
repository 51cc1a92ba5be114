//! Fitting Kanta's own models on the demo data recovers the stated parameters.
//!
//! Each estimate must lie within three of its standard errors of the truth. The
//! café's summaries are exact: frequency counts every repeat purchase, and recency
//! and T come from [`CafeClock`]. The day-level summaries `lifetimes` would compute
//! (distinct days, whole days) are fitted too and printed, for `docs/demo.md`.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use kanta_demo::{B2B, CAFE, CafeClock, DemoConfig, WriteBatch, generate};
use kanta_models::data::{RfmData, RfmRow, SpendData, SpendRow};
use kanta_models::sbg::SurvivorData;
use kanta_models::{FitOptions, bgnbd, gammagamma, sbg};
use kanta_models::{Fitted, SbgParams};

use crate::common::{batch, default_data, rows};

fn within(name: &str, estimate: f64, se: f64, truth: f64) {
    eprintln!("  {name}: {estimate:.4} ± {se:.4} (stated {truth})");
    assert!(
        (estimate - truth).abs() < 3.0 * se,
        "{name}: {estimate} is more than 3 SE ({se}) from {truth}"
    );
}

/// Per café customer, in id order: (process weeks, date, euros) of each purchase.
fn purchases() -> Vec<Vec<(f64, NaiveDate, f64)>> {
    let clock = CafeClock::new(&DemoConfig::default());
    let mut by: BTreeMap<&str, Vec<(f64, NaiveDate, f64)>> = BTreeMap::new();
    for r in rows(batch(default_data(), "transactions")) {
        let t = r.time("occurred_at").unwrap();
        by.entry(r.text("customer_id").unwrap()).or_default().push((
            clock.weeks(t).unwrap(),
            t.date_naive(),
            r.int("amount").unwrap() as f64 / 100.0,
        ));
    }
    by.into_values()
        .map(|mut v| {
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v
        })
        .collect()
}

#[test]
fn bgnbd_fit_recovers_the_stated_parameters() {
    let cfg = DemoConfig::default();
    let horizon = CafeClock::new(&cfg).horizon_weeks();
    let customers = purchases();
    let exact: Vec<RfmRow> = customers
        .iter()
        .map(|v| {
            let first = v[0].0;
            RfmRow::new(
                (v.len() - 1) as f64,
                v[v.len() - 1].0 - first,
                horizon - first,
            )
        })
        .collect();
    let fit = bgnbd::fit(&RfmData::from_rows(&exact).unwrap(), &FitOptions::default()).unwrap();
    let se = fit.std_errors.expect("standard errors");
    let m = CAFE.purchases;
    eprintln!("BG/NBD on exact summaries (converged {}):", fit.converged);
    within("r", fit.params.r, se.r, m.r);
    within("alpha", fit.params.alpha, se.alpha, m.alpha);
    within("a", fit.params.a, se.a, m.a);
    within("b", fit.params.b, se.b, m.b);

    // What lifetimes' summary_data_from_transaction_data(freq="D") would give.
    let daily: Vec<RfmRow> = customers
        .iter()
        .map(|v| {
            let first = v[0].1;
            let mut days: Vec<NaiveDate> = v.iter().map(|p| p.1).collect();
            days.dedup();
            let weeks = |d: NaiveDate| (d - first).num_days() as f64 / 7.0;
            RfmRow::new(
                (days.len() - 1) as f64,
                weeks(*days.last().unwrap()),
                weeks(cfg.as_of),
            )
        })
        .collect();
    let day = bgnbd::fit(&RfmData::from_rows(&daily).unwrap(), &FitOptions::default()).unwrap();
    eprintln!(
        "BG/NBD on day-level summaries: r {:.4}, alpha {:.4}, a {:.4}, b {:.4}",
        day.params.r, day.params.alpha, day.params.a, day.params.b
    );
}

#[test]
fn gamma_gamma_fit_recovers_the_stated_parameters() {
    let spend: Vec<SpendRow> = purchases()
        .iter()
        .filter(|v| v.len() >= 2)
        .map(|v| {
            let repeats = &v[1..];
            let mean = repeats.iter().map(|p| p.2).sum::<f64>() / repeats.len() as f64;
            SpendRow::new(repeats.len() as f64, mean)
        })
        .collect();
    let fit = gammagamma::fit(
        &SpendData::from_rows(&spend).unwrap(),
        &FitOptions::default(),
    )
    .unwrap();
    let se = fit.std_errors.expect("standard errors");
    let g = CAFE.spend;
    eprintln!(
        "Gamma-Gamma on {} repeat customers (converged {}):",
        spend.len(),
        fit.converged
    );
    within("p", fit.params.p, se.p, g.p);
    within("q", fit.params.q, se.q, g.q);
    within("gamma", fit.params.gamma, se.gamma, g.gamma);
}

/// Accounts that could renew n times by as_of form a cohort of their own:
/// `survivors[t]` = accounts of the cohort still there after t renewals.
fn survivor_cohorts(data: &[WriteBatch], as_of: NaiveDate, period: &str) -> Vec<Vec<f64>> {
    let months = if period == "year" { 12 } else { 1 };
    let mut cohorts: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    // The planted accounts are set by hand, not drawn from the sBG.
    let planted = |id: &str| kanta_demo::PLANTED.iter().any(|(p, _)| id.starts_with(p));
    for s in rows(batch(data, "subscriptions"))
        .filter(|s| s.text("period") == Some(period) && !planted(s.id()))
    {
        let start = s.date("started_on").unwrap();
        let renewal = |k: u32| start.checked_add_months(Months::new(k * months)).unwrap();
        let n = (1..).take_while(|k| renewal(*k) <= as_of).count() as u32;
        if n == 0 {
            continue;
        }
        let churned_at = (1..=n).find(|k| s.date("ended_on") == Some(renewal(*k)));
        let c = cohorts
            .entry(n)
            .or_insert_with(|| vec![0.0; n as usize + 1]);
        for (t, alive) in c.iter_mut().enumerate() {
            *alive += f64::from(u8::from(churned_at.is_none_or(|k| t < k as usize)));
        }
    }
    cohorts.into_values().collect()
}

fn fit_sbg(data: &[WriteBatch], as_of: NaiveDate, period: &str) -> Fitted<SbgParams> {
    let cohorts = survivor_cohorts(data, as_of, period);
    sbg::fit(
        &SurvivorData::from_cohorts(&cohorts).unwrap(),
        &FitOptions::default(),
    )
    .unwrap()
}

/// Ten times the default number of accounts: 300 accounts (about 110 churn events)
/// pin the mean churn but hardly its spread. The default data are printed.
#[test]
fn sbg_fit_recovers_the_stated_parameters() {
    let cfg = DemoConfig::default();
    for period in ["month", "year"] {
        let f = fit_sbg(default_data(), cfg.as_of, period);
        eprintln!(
            "sBG {period}ly on the default data: alpha {:.3}, beta {:.3}",
            f.params.alpha, f.params.beta
        );
    }
    let big = DemoConfig {
        cafe_customers: 0,
        b2b_accounts: 3_000,
        ..cfg
    };
    let data = generate(&big);
    let fit = fit_sbg(&data, big.as_of, "month");
    let se = fit.std_errors.expect("standard errors");
    eprintln!(
        "sBG monthly on 3,000 accounts (converged {}):",
        fit.converged
    );
    within("alpha", fit.params.alpha, se.alpha, B2B.monthly.alpha);
    within("beta", fit.params.beta, se.beta, B2B.monthly.beta);

    // Yearly plans renew at most twice in three years: the spread of θ is not
    // identified (the fit wanders along a ridge), but its mean is, through the
    // first renewal.
    let fit = fit_sbg(&data, big.as_of, "year");
    let cohorts = survivor_cohorts(&data, big.as_of, "year");
    let at_risk: f64 = cohorts.iter().map(|c| c[0]).sum();
    let churn = fit.params.alpha / (fit.params.alpha + fit.params.beta);
    let truth = B2B.yearly.churn(1);
    eprintln!(
        "sBG yearly on 3,000 accounts: alpha {:.3}, beta {:.3}, first-renewal churn {churn:.3} \
         ({at_risk} accounts)",
        fit.params.alpha, fit.params.beta
    );
    within(
        "yearly churn at the first renewal",
        churn,
        (truth * (1.0 - truth) / at_risk).sqrt(),
        truth,
    );
}

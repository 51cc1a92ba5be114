//! `kanta report economics [--json]`: retention economics for this business
//! (`kanta_core::economics`): what five more points of 12-month retention are worth,
//! with its 95 % interval and per part of the base, the costs of winning and of
//! keeping a customer, and churn reasons by journey stage; as text and tables, or as
//! JSON (the API's `GET /api/v1/value/economics`).

use std::process::ExitCode;

use clap::Args;
use kanta_core::Acting;
use kanta_core::economics::RetentionEconomics;
use kanta_domain::{Currency, Money};

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Args)]
pub struct EconomicsArgs {
    /// Print the figures as JSON instead of text and tables.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: &Cli, a: &EconomicsArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let e = core.retention_economics(&Acting::cli()).await;
    core.store().close().await;
    let e = e?;
    if a.json {
        output::print_json(&e)?;
    } else {
        print_report(&e);
    }
    Ok(ExitCode::SUCCESS)
}

/// The figures for people (English, money in the store's currency).
pub fn print_report(e: &RetentionEconomics) {
    let currency: Currency = e.currency.parse().unwrap_or(Currency::EUR);
    let money = |m: i64| Money::new(m, currency).display(false);
    match (&e.five_points, &e.run) {
        (Some(f), run) => {
            let interval = |h: usize| {
                f.interval_minor[h].map_or_else(
                    || "no interval: the fits gave no covariance".to_string(),
                    |(lo, hi)| format!("95% interval {} to {}", money(lo), money(hi)),
                )
            };
            println!(
                "Five more points of 12-month retention are worth {} over the next 36 months ({}), {} over 12 months ({}); {:.1}% of today's base value of {} over 36 months.",
                money(f.gain_minor[1]),
                interval(1),
                money(f.gain_minor[0]),
                interval(0),
                f.gain_share[1] * 100.0,
                money(f.value_minor[1]),
            );
            if let Some(r) = run {
                println!(
                    "From model run {} as of {} ({} draws in the interval).",
                    r.id, r.as_of, f.draws
                );
            }
            let rows: Vec<Vec<String>> = [("buyers", &f.buyers), ("subscriptions", &f.subscribers)]
                .iter()
                .filter_map(|(label, p)| p.as_ref().map(|p| (label, p)))
                .map(|(label, p)| {
                    vec![
                        (*label).to_string(),
                        p.model.clone(),
                        p.units.to_string(),
                        format!("{:.1} %", p.retention * 100.0),
                        format!("{:.1} %", p.retention_after * 100.0),
                        format!("{:.3}", p.factor),
                        money(p.value_minor[1]),
                        money(p.gain_minor[1]),
                    ]
                })
                .collect();
            output::table(
                &[
                    "part",
                    "model",
                    "valued",
                    "retention",
                    "+5 points",
                    "factor",
                    "value 36 mo",
                    "gain 36 mo",
                ],
                &rows,
                &[false, false, true, true, true, true, true, true],
            );
            for n in [&f.buyers_note, &f.subscribers_note].into_iter().flatten() {
                println!("Not in the figure: {n}.");
            }
        }
        (None, _) => println!(
            "No five-points figure: {}.",
            e.five_points_note.as_deref().unwrap_or("no model run")
        ),
    }
    match e.acquisition.mean_minor {
        Some(m) => println!(
            "Winning a customer: {} on average ({} customers with a recorded acquisition cost).",
            money(m),
            e.acquisition.customers
        ),
        None => println!("Winning a customer: no acquisition costs recorded."),
    }
    match (e.keeping.per_customer_year_minor, &e.keeping.note) {
        (Some(k), _) => println!(
            "Keeping a customer: {} per customer-year (cost to serve, {} customers served in the profitability pass as of {}).",
            money(k),
            e.keeping.served,
            e.keeping.as_of.map(|d| d.to_string()).unwrap_or_default()
        ),
        (None, note) => println!(
            "Keeping a customer: {}.",
            note.as_deref().unwrap_or("no figure")
        ),
    }
    if let Some(r) = e.acquisition_to_keeping {
        println!("Winning a customer costs {r:.1} times a year of keeping one.");
    }
    println!(
        "Churn by journey stage ({} ended customers; {}):",
        e.churn.ended, e.churn.rule
    );
    let rows: Vec<Vec<String>> = e
        .churn
        .stages
        .iter()
        .map(|s| {
            vec![
                s.stage.clone(),
                s.customers.to_string(),
                s.reasons
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s.cases
                    .iter()
                    .take(5)
                    .map(|(c, n, _)| format!("{c} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    output::table(
        &["stage", "ended", "reasons", "cases in the last 90 days"],
        &rows,
        &[false, true, false, false],
    );
}

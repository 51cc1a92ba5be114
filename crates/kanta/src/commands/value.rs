//! `kanta report value [--json] [--refresh] [--as-of DATE] [--show WHAT] [--lang fi|en]`:
//! profitability from the newest stored pass (`kanta_core::profit`): totals, cost to
//! serve by component, the margin distribution and the unprofitable customers with
//! what makes each one unprofitable, in words; `--refresh` runs the pass first;
//! `--show` lists the customers behind a figure instead. As text and tables, or as
//! JSON (the API's `GET /api/v1/value` and `/api/v1/value/customers`).

use std::process::ExitCode;

use clap::Args;
use kanta_core::Acting;
use kanta_core::profit::{ProfitCustomer, ProfitQuery, ValueSummary, parse_filter, parse_sort};
use kanta_domain::{Currency, Money};
use serde_json::json;

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Args)]
pub struct ValueArgs {
    /// Print the figures as JSON instead of text and tables.
    #[arg(long)]
    pub json: bool,
    /// Run the profitability pass first (as of --as-of, default yesterday).
    #[arg(long)]
    pub refresh: bool,
    /// The last day of the pass's 12 months (YYYY-MM-DD or 31.12.2026), with --refresh.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// List the customers behind a figure: all, unprofitable, negative, interactions,
    /// cases, compensations, offers, goods or bin-K.
    #[arg(long, value_name = "WHAT")]
    pub show: Option<String>,
    /// With --show: margin (lowest first), cost or revenue.
    #[arg(long, default_value = "margin")]
    pub sort: String,
    /// With --show: the page, from 0 (50 customers a page).
    #[arg(long, default_value_t = 0)]
    pub page: i64,
    /// The language of the reasons: en or fi.
    #[arg(long, default_value = "en")]
    pub lang: String,
}

pub async fn run(cli: &Cli, a: &ValueArgs) -> anyhow::Result<ExitCode> {
    let fi = match a.lang.trim() {
        "fi" => true,
        "en" => false,
        o => anyhow::bail!("--lang: '{o}' is not a language: en or fi"),
    };
    let as_of = match a.as_of.as_deref() {
        None => None,
        Some(t) => Some(
            kanta_domain::time::parse_date(t.trim(), None)
                .map_err(|e| anyhow::anyhow!("--as-of: {e}"))?,
        ),
    };
    if as_of.is_some() && !a.refresh {
        anyhow::bail!("--as-of goes with --refresh: the report reads the newest stored pass");
    }
    let core = cli.open_core().await?;
    let acting = Acting::cli();
    let result = async {
        if a.refresh {
            let r = core.run_profitability(&acting, as_of).await?;
            if !a.json {
                println!(
                    "Profitability computed as of {} for {} customers ({} unprofitable) in {} ms.",
                    r.as_of, r.customers, r.unprofitable, r.millis
                );
            }
        }
        match &a.show {
            Some(show) => {
                let currency = core.currency().await?;
                let q = ProfitQuery {
                    filter: parse_filter(show, currency)?,
                    sort: parse_sort(&a.sort)?,
                    page: a.page.max(0),
                };
                let p = core.profit_customers(&acting, &q).await?;
                let cur: Currency = p.currency.parse().unwrap_or(currency);
                if a.json {
                    output::print_json(&json!({
                        "as_of": p.as_of, "currency": p.currency, "total": p.total,
                        "page": p.page, "per_page": p.per_page,
                        "customers": with_words(&p.rows, fi, cur),
                    }))?;
                } else {
                    println!(
                        "{} customers ({show}), page {} of {}:",
                        p.total,
                        p.page + 1,
                        ((p.total + p.per_page - 1) / p.per_page).max(1)
                    );
                    customers_table(&p.rows, fi, cur);
                }
            }
            None => {
                let v = core.value_summary(&acting).await?;
                if a.json {
                    let cur: Currency = v.currency.parse().unwrap_or(Currency::EUR);
                    let mut out = serde_json::to_value(&v)?;
                    if let Some(o) = out.as_object_mut() {
                        o.insert("unprofitable".into(), with_words(&v.unprofitable, fi, cur));
                    }
                    output::print_json(&out)?;
                } else {
                    print_summary(&v, fi);
                }
            }
        }
        anyhow::Ok(())
    }
    .await;
    core.store().close().await;
    result?;
    Ok(ExitCode::SUCCESS)
}

fn with_words(rows: &[ProfitCustomer], fi: bool, cur: Currency) -> serde_json::Value {
    serde_json::Value::Array(
        rows.iter()
            .map(|c| {
                let mut v = serde_json::to_value(c).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.remove("customer_id");
                    o.insert("id".into(), json!(c.row.external_id));
                    o.remove("external_id");
                    o.insert(
                        "reason_words".into(),
                        json!(
                            c.reasons
                                .iter()
                                .map(|r| r.words(fi, cur))
                                .collect::<Vec<_>>()
                        ),
                    );
                }
                v
            })
            .collect(),
    )
}

fn customers_table(rows: &[ProfitCustomer], fi: bool, cur: Currency) {
    let money = |m: i64| Money::new(m, cur).display(fi);
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|c| {
            let p = &c.row.profit;
            vec![
                c.row.external_id.clone(),
                c.row.name.clone().unwrap_or_default(),
                money(p.revenue_minor),
                money(p.gross_margin_minor),
                money(p.cost_to_serve_minor),
                money(p.margin_after_minor),
                p.expected_margin_minor.map_or_else(|| "-".into(), money),
                c.reasons
                    .iter()
                    .map(|r| r.words(fi, cur))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    output::table(
        &[
            "id",
            "name",
            "revenue",
            "gross margin",
            "cost to serve",
            "margin after",
            "expected",
            "why",
        ],
        &table,
        &[false, false, true, true, true, true, true, false],
    );
}

/// The figures for people (money in the pass's currency).
pub fn print_summary(v: &ValueSummary, fi: bool) {
    let cur: Currency = v.currency.parse().unwrap_or(Currency::EUR);
    let money = |m: i64| Money::new(m, cur).display(fi);
    let Some(run) = &v.run else {
        println!(
            "No profitability pass yet: run `kanta report value --refresh` (the daily job also runs it)."
        );
        return;
    };
    let t = &v.totals;
    println!(
        "Profitability over the 12 months up to {} ({} customers, computed {}):",
        run.as_of,
        t.customers,
        run.ran_at.format("%Y-%m-%d %H:%M UTC")
    );
    output::table(
        &["figure", "amount"],
        &[
            vec!["revenue".into(), money(t.revenue_minor)],
            vec!["goods cost".into(), money(t.goods_cost_minor)],
            vec!["gross margin".into(), money(t.gross_margin_minor)],
            vec!["cost to serve".into(), money(t.cost_to_serve_minor)],
            vec![
                "margin after cost to serve".into(),
                money(t.margin_after_minor),
            ],
            vec![
                format!(
                    "expected future margin ({} customers)",
                    t.expected_customers
                ),
                money(t.expected_margin_minor),
            ],
            vec![
                "customers with a negative margin".into(),
                t.negative_margin.to_string(),
            ],
            vec!["unprofitable customers".into(), t.unprofitable.to_string()],
        ],
        &[false, true],
    );
    println!();
    println!("Cost to serve by component:");
    let rows: Vec<Vec<String>> = v
        .components
        .iter()
        .map(|c| {
            vec![
                c.key.to_string(),
                money(c.cost_minor),
                c.customers.to_string(),
            ]
        })
        .collect();
    output::table(
        &["component", "cost", "customers"],
        &rows,
        &[false, true, true],
    );
    println!();
    println!("Margin after cost to serve (customers per bin; --show bin-K lists them):");
    let rows: Vec<Vec<String>> = v
        .bins
        .iter()
        .map(|b| {
            let range = match (b.lo_minor, b.hi_minor) {
                (None, Some(h)) => format!("below {}", money(h)),
                (Some(l), None) => format!("{} or more", money(l)),
                (Some(l), Some(h)) => format!("{} to {}", money(l), money(h)),
                (None, None) => String::new(),
            };
            vec![format!("bin-{}", b.index), range, b.customers.to_string()]
        })
        .collect();
    output::table(
        &["bin", "margin", "customers"],
        &rows,
        &[false, false, true],
    );
    println!();
    if v.unprofitable.is_empty() {
        println!("No customer is unprofitable.");
    } else {
        println!(
            "Unprofitable customers ({}; the {} lowest margins; --show unprofitable lists all):",
            t.unprofitable,
            v.unprofitable.len()
        );
        customers_table(&v.unprofitable, fi, cur);
    }
}

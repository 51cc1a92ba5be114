//! `kanta report recovery`: customers who had a case, by outcome, against customers
//! who never had one (`kanta_core::recovery`), as tables or as JSON.
//! `kanta report contacts`: contacts per staff member and month and the proactive,
//! non-sales share (`kanta_core::owners`).

use std::process::ExitCode;

use anyhow::anyhow;
use kanta_core::Acting;
use kanta_core::recovery::{Comparison, Interval, Rate, RecoveryReport, Segment};
use kanta_domain::{Currency, Money};

use crate::cli::{Cli, ContactsArgs, RecoveryArgs, ReportCommand};
use crate::output;

pub async fn run(cli: &Cli, c: &ReportCommand) -> anyhow::Result<ExitCode> {
    match c {
        ReportCommand::Recovery(a) => recovery(cli, a).await,
        ReportCommand::Contacts(a) => contacts(cli, a).await,
        ReportCommand::Feedback(a) => crate::commands::feedback_report::run(cli, a).await,
        ReportCommand::Economics(a) => crate::commands::economics::run(cli, a).await,
        ReportCommand::Value(a) => crate::commands::value::run(cli, a).await,
        ReportCommand::Offer(a) => crate::commands::offer::report(cli, a).await,
    }
}

async fn contacts(cli: &Cli, a: &ContactsArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let report = core.proactive_share(&Acting::cli(), a.months).await;
    core.store().close().await;
    let report = report.map_err(|e| anyhow!("--months: {e}"))?;
    if a.json {
        output::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Contacts per staff member and month ({}), and the proactive ones not about sales or renewal: share (95% interval) proactive/all.",
        report.time_zone
    );
    println!();
    let mut rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            vec![
                r.month.clone(),
                r.name.clone(),
                r.staff_id.clone(),
                r.contacts.to_string(),
                rate(&r.share),
            ]
        })
        .collect();
    for t in &report.totals {
        rows.push(vec![
            "all months".into(),
            t.name.clone(),
            t.staff_id.clone(),
            t.contacts.to_string(),
            rate(&t.share),
        ]);
    }
    if rows.is_empty() {
        println!("No contacts recorded by staff in these months.");
    } else {
        output::table(
            &["month", "staff member", "id", "contacts", "proactive share"],
            &rows,
            &[false, false, false, true, false],
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn recovery(cli: &Cli, a: &RecoveryArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    // A date is the store's day (as `kanta score --as-of` reads it).
    let zone = core.time_zone().await?;
    let as_of = match &a.as_of {
        Some(d) => Some(
            kanta_domain::time::parse_date_in(d, None, zone)
                .map_err(|e| anyhow!("--as-of: {e}"))?,
        ),
        None => None,
    };
    if let Some(d) = as_of {
        let today = core.today().await?;
        if d > today {
            anyhow::bail!(
                "--as-of: {d} is after today ({today} in the store's time zone): the report can only look back"
            );
        }
    }
    let chosen = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let segment = Segment {
        segment: chosen(&a.segment),
        kind: chosen(&a.kind),
    };
    if let Some(k) = segment
        .kind
        .as_deref()
        .filter(|k| !kanta_domain::schema::CUSTOMER_KINDS.contains(k))
    {
        core.store().close().await;
        return Err(anyhow!(
            "--kind: '{k}' is not a customer kind; use one of: {}",
            kanta_domain::schema::CUSTOMER_KINDS.join(", ")
        ));
    }
    if let Some(v) = segment.segment.as_deref() {
        let values = core.store().segment_values().await;
        let known = values
            .as_ref()
            .is_ok_and(|s| s.segments.iter().any(|s| s == v));
        if !known {
            core.store().close().await;
            let listed = values.map(|s| s.segments.join(", ")).unwrap_or_default();
            return Err(anyhow!(
                "--segment: no customer has segment '{v}'; the segments are: {}",
                if listed.is_empty() {
                    "none yet"
                } else {
                    &listed
                }
            ));
        }
    }
    let report = core.recovery_report(&Acting::cli(), as_of, &segment).await;
    core.store().close().await;
    let report = report?;
    if a.json {
        output::print_json(&report)?;
    } else {
        print_tables(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The group's name in the table.
fn group_name(key: &str) -> &str {
    match key {
        "never" => "never had a case",
        "within_sla" => "resolved within SLA",
        "late" => "resolved late",
        "unresolved" => "not resolved",
        "our_fault" => "our fault",
        "not_our_fault" => "not our fault",
        other => other,
    }
}

fn measure_name(key: &str) -> &str {
    match key {
        "retention" => "retained at 365 days",
        "repurchase_90" => "repurchase in 90 days",
        "repurchase_180" => "repurchase in 180 days",
        "revenue_12m" => "revenue in 12 months",
        other => other,
    }
}

/// `45.0 % (38.2-51.9 %), 40/89`.
fn rate(r: &Rate) -> String {
    match (r.p, r.lo, r.hi) {
        (Some(p), Some(lo), Some(hi)) => format!(
            "{:.1} % ({:.1}-{:.1} %) {}/{}",
            p * 100.0,
            lo * 100.0,
            hi * 100.0,
            r.k,
            r.n
        ),
        _ => "-".to_string(),
    }
}

fn share(i: &Option<Interval>) -> String {
    match i {
        Some(Interval {
            value: Some(v),
            lo: Some(lo),
            hi: Some(hi),
            ..
        }) => format!("{:.1} % ({:.1}-{:.1} %)", v * 100.0, lo * 100.0, hi * 100.0),
        _ => "-".to_string(),
    }
}

fn money(v: f64, currency: Currency) -> String {
    Money::new(v.round() as i64, currency).plain()
}

fn revenue(i: &Interval, currency: Option<Currency>) -> String {
    let show = |v: f64| match currency {
        Some(c) => money(v, c),
        None => format!("{:.0}", v / 100.0),
    };
    match (i.value, i.lo, i.hi) {
        (Some(v), Some(lo), Some(hi)) => {
            format!("{} ({} to {}) n={}", show(v), show(lo), show(hi), i.n)
        }
        (Some(v), _, _) => format!("{} n={}", show(v), i.n),
        _ => "-".to_string(),
    }
}

fn difference(c: &Comparison, currency: Option<Currency>) -> String {
    let Some(d) = c.difference else {
        return "-".to_string();
    };
    let show = |v: f64| {
        if c.measure == "revenue_12m" {
            match currency {
                Some(cur) => money(v, cur),
                None => format!("{v:.0}"),
            }
        } else {
            format!("{:+.1} pp", v * 100.0)
        }
    };
    match (c.lo, c.hi) {
        (Some(lo), Some(hi)) => format!("{} ({} to {})", show(d), show(lo), show(hi)),
        _ => show(d),
    }
}

fn print_tables(r: &RecoveryReport) {
    let currency = r.currency.parse::<Currency>().ok();
    println!(
        "Recovery as of {}: customers who had a case, by how their first case ended, against customers who never had one (95% intervals).",
        r.as_of
    );
    let filter: Vec<String> = [("segment", &r.segment), ("kind", &r.kind)]
        .into_iter()
        .filter_map(|(name, v)| v.as_ref().map(|v| format!("{name} {v}")))
        .collect();
    if !filter.is_empty() {
        println!("Only customers of {}.", filter.join(", "));
    }
    println!();
    let rows: Vec<Vec<String>> = r
        .groups
        .iter()
        .map(|g| {
            vec![
                group_name(g.key).to_string(),
                g.customers.to_string(),
                share(&g.retained_365),
                rate(&g.repurchase_90),
                rate(&g.repurchase_180),
                revenue(&g.revenue_12m, currency),
            ]
        })
        .collect();
    output::table(
        &[
            "group",
            "customers",
            "retained at 365 days",
            "repurchase in 90 days",
            "repurchase in 180 days",
            &format!("revenue per customer, 12 months ({})", r.currency),
        ],
        &rows,
        &[false, true, true, true, true, true],
    );
    println!();
    println!("Against customers who never had a case:");
    let rows: Vec<Vec<String>> = r
        .comparisons
        .iter()
        .map(|c| {
            vec![
                group_name(c.group).to_string(),
                measure_name(c.measure).to_string(),
                difference(c, currency),
                c.p.map(|p| {
                    if p < 0.001 {
                        "<0.001".to_string()
                    } else {
                        format!("{p:.3}")
                    }
                })
                .unwrap_or_default(),
                c.verdict.to_string(),
            ]
        })
        .collect();
    output::table(
        &["group", "measure", "difference", "log-rank p", "verdict"],
        &rows,
        &[false, false, true, true, false],
    );
    if let Some(n) = &r.note {
        println!();
        println!("{n}");
    }
}

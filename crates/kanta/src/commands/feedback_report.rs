//! `kanta report feedback [--json] [--by month|quarter] [--months N]`: the feedback
//! analytics of `kanta_core::feedback_stats` (NPS, CSAT and CES per period and by
//! segment, tier, survey and channel with 95% intervals, response rates, exposure,
//! detractor drivers and themes) as tables, or as JSON (the API's
//! `GET /api/v1/feedback/report`), where each theme lists the ids of its answers.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use kanta_core::Acting;
use kanta_core::feedback_stats::{Cell, FeedbackReport, MAX_MONTHS, MONTHS, Period};
use kanta_core::recovery::Rate;

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Args)]
pub struct FeedbackReportArgs {
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Periods of a month or of a quarter (store time zone).
    #[arg(long, default_value = "month")]
    pub by: String,
    /// Months back, this one included (1-120).
    #[arg(long, default_value_t = MONTHS)]
    pub months: u32,
}

pub async fn run(cli: &Cli, a: &FeedbackReportArgs) -> anyhow::Result<ExitCode> {
    let by =
        Period::parse(&a.by).ok_or_else(|| anyhow!("--by: '{}' is not month or quarter", a.by))?;
    if !(1..=MAX_MONTHS).contains(&a.months) {
        anyhow::bail!("--months: '{}' is not within 1..{MAX_MONTHS}", a.months);
    }
    let core = cli.open_core().await?;
    let report = core.feedback_report(&Acting::cli(), by, a.months).await;
    core.store().close().await;
    let report = report?;
    if a.json {
        output::print_json(&report)?;
    } else {
        print_tables(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// `+20 (−30 … +61)` or `not enough answers`.
fn nps(c: &Cell) -> String {
    match (c.nps.score, c.nps.lo, c.nps.hi) {
        (Some(s), Some(lo), Some(hi)) => format!("{s:+.0} ({lo:+.0} … {hi:+.0})"),
        _ if c.nps.n > 0 => "not enough answers".into(),
        _ => "-".into(),
    }
}

fn csat(c: &Cell) -> String {
    match (c.csat.share, c.csat.lo, c.csat.hi) {
        (Some(p), Some(lo), Some(hi)) => {
            format!("{:.0} % ({:.0}-{:.0} %)", p * 100.0, lo * 100.0, hi * 100.0)
        }
        _ if c.csat.n > 0 => "not enough answers".into(),
        _ => "-".into(),
    }
}

fn mean(m: Option<f64>, lo: Option<f64>, hi: Option<f64>, n: u64) -> String {
    match (m, lo, hi) {
        (Some(m), Some(lo), Some(hi)) => format!("{m:.2} ({lo:.2}-{hi:.2})"),
        (Some(m), _, _) => format!("{m:.2}"),
        _ if n > 0 => "not enough answers".into(),
        _ => "-".into(),
    }
}

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
        _ => "-".into(),
    }
}

fn cells(title: &str, column: &str, cells: &[Cell]) {
    println!("{title}");
    if cells.is_empty() {
        println!("  no answers");
        println!();
        return;
    }
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|c| {
            vec![
                match (&c.label, c.key.is_empty()) {
                    (Some(l), _) => l.clone(),
                    (None, true) => "(none)".into(),
                    (None, false) => c.key.clone(),
                },
                c.answers.to_string(),
                c.nps.n.to_string(),
                nps(c),
                c.detractors.to_string(),
                csat(c),
                mean(c.csat.mean, c.csat.mean_lo, c.csat.mean_hi, c.csat.n),
                mean(c.ces.mean, c.ces.lo, c.ces.hi, c.ces.n),
            ]
        })
        .collect();
    output::table(
        &[
            column,
            "answers",
            "NPS n",
            "NPS (95%)",
            "detractors",
            "CSAT 4-5 (95%)",
            "CSAT mean",
            "CES mean",
        ],
        &rows,
        &[false, true, true, true, true, true, true, true],
    );
    println!();
}

fn print_tables(r: &FeedbackReport) {
    println!(
        "Feedback {} to {} ({}), by {}. NPS with its adjusted Wald 95% interval; a figure with fewer than {} answers reads \"not enough answers\".",
        r.from,
        r.to,
        r.time_zone,
        r.by.name(),
        r.min_answers
    );
    println!();
    let mut all = vec![Cell {
        key: "all".into(),
        ..r.total.clone()
    }];
    all.extend(r.periods.iter().cloned());
    cells(
        match r.by {
            Period::Month => "Per month",
            Period::Quarter => "Per quarter",
        },
        r.by.name(),
        &all,
    );
    cells("By segment", "segment", &r.segments);
    cells("By tier", "tier", &r.tiers);
    cells("By survey", "survey", &r.surveys);
    cells("By channel", "channel", &r.channels);

    println!("Response rates (answered of invited)");
    if r.waves.is_empty() {
        println!("  no invitations sent");
    } else {
        let mut rows: Vec<Vec<String>> = r
            .invitation_channels
            .iter()
            .map(|c| {
                vec![
                    "all".into(),
                    String::new(),
                    c.channel.clone(),
                    rate(&c.rate),
                    String::new(),
                ]
            })
            .collect();
        for w in &r.waves {
            rows.push(vec![
                w.wave_id
                    .map_or("triggers".into(), |id| format!("wave {id}")),
                w.survey_name.clone(),
                w.channel.clone(),
                rate(&w.rate),
                w.skipped.to_string(),
            ]);
        }
        output::table(
            &[
                "wave",
                "survey",
                "channel",
                "response rate (95%)",
                "skipped",
            ],
            &rows,
            &[false, false, false, false, true],
        );
    }
    println!();

    println!(
        "Reputation exposure: promoters × {} told of good service, detractors × {} told of bad",
        r.exposure_promoter, r.exposure_detractor
    );
    let rows: Vec<Vec<String>> = r
        .exposure
        .iter()
        .map(|e| {
            vec![
                e.key.clone(),
                e.promoters.to_string(),
                e.told_good.to_string(),
                e.detractors.to_string(),
                e.told_bad.to_string(),
            ]
        })
        .collect();
    output::table(
        &[
            r.by.name(),
            "promoters",
            "told of good",
            "detractors",
            "told of bad",
        ],
        &rows,
        &[false, true, true, true, true],
    );
    println!();

    println!("Themes");
    if r.themes.is_empty() {
        println!("  no themes found yet (kanta themes run)");
    } else {
        let rows: Vec<Vec<String>> = r
            .themes
            .iter()
            .map(|t| {
                vec![
                    t.id.to_string(),
                    t.label.clone(),
                    t.words.join(", "),
                    t.count.to_string(),
                ]
            })
            .collect();
        output::table(
            &["id", "theme", "key words", "answers"],
            &rows,
            &[true, false, false, true],
        );
    }
    println!();

    println!(
        "What drives detractors: the share of the {} detractors and {} promoters who wrote something whose answer is on the theme; the difference in points with Newcombe's 95% interval",
        r.detractors_with_text, r.promoters_with_text
    );
    if !r.drivers.is_empty() {
        let rows: Vec<Vec<String>> = r
            .drivers
            .iter()
            .map(|d| {
                vec![
                    d.label.clone(),
                    rate(&d.detractors),
                    rate(&d.promoters),
                    match (d.difference, d.lo, d.hi) {
                        (Some(v), Some(lo), Some(hi)) => format!(
                            "{:+.1} ({:+.1} … {:+.1}){}",
                            v * 100.0,
                            lo * 100.0,
                            hi * 100.0,
                            if d.clear { " clear" } else { "" }
                        ),
                        _ => "-".into(),
                    },
                ]
            })
            .collect();
        output::table(
            &["theme", "of detractors", "of promoters", "difference"],
            &rows,
            &[false, false, false, false],
        );
    }
}

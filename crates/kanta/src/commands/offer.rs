//! `kanta offer list|send` and `kanta report offer ID [--json]`: offers with a
//! control group (`kanta_core::offers`). Offers are made like any record (`kanta
//! import` of an offers file, the API, the `/offers` page); `send` draws the groups and
//! tells the offer arm; the report compares the arms with 95% intervals.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use kanta_core::Acting;
use kanta_core::offers::{OfferReport, OfferSent};
use kanta_models::uplift::{MetricComparison, NotYet};

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum OfferCommand {
    /// Every offer, newest first, with its status, window and arms' sizes.
    List(ListArgs),
    /// Send a draft offer: draw the control group (stratified by tier, the seed
    /// recorded) and tell the offer group by its channel. `--preview` shows the groups'
    /// sizes and keeps nothing. An offer is sent once.
    Send(SendArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The offer's id.
    pub id: String,
    /// Show the groups' sizes without sending.
    #[arg(long)]
    pub preview: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportOfferArgs {
    /// The offer's id.
    pub id: String,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: &Cli, c: &OfferCommand) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let acting = Acting::cli();
    let done = match c {
        OfferCommand::List(a) => {
            let rows = core.offers_list(&acting).await;
            rows.map(|rows| {
                if a.json {
                    output::print_json(&rows)
                } else {
                    let table: Vec<Vec<String>> = rows
                        .iter()
                        .map(|r| {
                            vec![
                                r.external_id.clone(),
                                r.name.clone(),
                                r.status.clone(),
                                r.channel.clone(),
                                match &r.audience_value {
                                    Some(v) => format!("{}: {v}", r.audience),
                                    None => r.audience.clone(),
                                },
                                format!("{} – {}", r.valid_from, r.valid_until),
                                format!("{} %", r.control_percent),
                                r.offer_members.to_string(),
                                r.control_members.to_string(),
                            ]
                        })
                        .collect();
                    output::table(
                        &[
                            "id",
                            "name",
                            "status",
                            "channel",
                            "audience",
                            "valid",
                            "control",
                            "offer arm",
                            "control arm",
                        ],
                        &table,
                        &[false, false, false, false, false, false, true, true, true],
                    );
                    Ok(())
                }
            })
        }
        OfferCommand::Send(a) => {
            let r = if a.preview {
                core.preview_offer(&acting, &a.id).await
            } else {
                core.send_offer(&acting, &a.id, None).await
            };
            r.map(|s| {
                if a.json {
                    output::print_json(&s)
                } else {
                    print_sent(&s);
                    Ok(())
                }
            })
        }
    };
    core.store().close().await;
    done??;
    Ok(ExitCode::SUCCESS)
}

fn print_sent(s: &OfferSent) {
    println!(
        "{} offer '{}' ({}, {}): {} customers considered, {} in the offer group, {} in the control group (seed {}).",
        if s.preview { "Would send" } else { "Sent" },
        s.offer,
        s.channel,
        s.audience,
        s.considered,
        s.offer_arm,
        s.control_arm,
        s.seed
    );
    for (r, n) in &s.excluded {
        println!("  left out of both groups, {}: {n}", reason_words(r));
    }
    let rows: Vec<Vec<String>> = s
        .tiers
        .iter()
        .map(|t| vec![t.tier.clone(), t.offer.to_string(), t.control.to_string()])
        .collect();
    output::table(&["tier", "offer", "control"], &rows, &[false, true, true]);
    if s.channel == "email" && !s.preview {
        println!("{} mails queued.", s.mails);
    }
}

fn reason_words(r: &str) -> &str {
    match r {
        "ended" => "relationship ended",
        "let_lapse" => "let lapse",
        "no_consent" => "no marketing consent",
        "no_email" => "no email address",
        other => other,
    }
}

/// `kanta report offer ID [--json]`.
pub async fn report(cli: &Cli, a: &ReportOfferArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let r = core.offer_report(&Acting::cli(), &a.id).await;
    core.store().close().await;
    let r = r?;
    if a.json {
        output::print_json(&r)?;
    } else {
        print_report(&r);
    }
    Ok(ExitCode::SUCCESS)
}

fn money(minor: f64, currency: &str) -> String {
    format!("{:.2} {currency}", minor / 100.0)
}

fn metric(
    name: &str,
    m: &MetricComparison,
    scale: f64,
    fmt: &dyn Fn(f64) -> String,
) -> Vec<String> {
    let abs = m.absolute.map_or("-".into(), |w| {
        format!(
            "{} ({} … {})",
            fmt(w.diff.estimate * scale),
            fmt(w.diff.low * scale),
            fmt(w.diff.high * scale)
        )
    });
    let rel = m.relative.map_or("-".into(), |r| {
        format!(
            "{:+.1} % ({:+.1} … {:+.1} %)",
            r.estimate * 100.0,
            r.low * 100.0,
            r.high * 100.0
        )
    });
    vec![
        name.to_string(),
        fmt(m.offer.mean * scale),
        fmt(m.control.mean * scale),
        abs,
        rel,
    ]
}

fn print_report(r: &OfferReport) {
    let o = &r.offer;
    println!(
        "Offer '{}' ({}): {}, channel {}, valid {} – {}{}.",
        o.id,
        o.name,
        o.status,
        o.channel,
        o.valid_from,
        o.valid_until,
        o.code
            .as_deref()
            .map(|c| format!(", code {c}"))
            .unwrap_or_default()
    );
    let Some(u) = &r.uplift else {
        println!("Not sent yet: no groups, no uplift.");
        return;
    };
    println!(
        "Offer group {} (told {}), control group {}; redemptions {}.",
        u.n_offer, r.told, u.n_control, r.redemptions
    );
    for (reason, n) in &r.excluded {
        println!("  left out of both groups, {}: {n}", reason_words(reason));
    }
    let tiers: Vec<Vec<String>> = r
        .tiers
        .iter()
        .map(|t| vec![t.tier.clone(), t.offer.to_string(), t.control.to_string()])
        .collect();
    output::table(&["tier", "offer", "control"], &tiers, &[false, true, true]);
    println!();
    match u.not_yet {
        Some(NotYet::WindowOpen) => println!(
            "Not enough data yet: the offer's window ends {} (store time).",
            o.valid_until
        ),
        Some(NotYet::TooFew) => println!(
            "Not enough data yet: a rise of {} points in the purchase rate needs about {} customers per group.",
            o.hoped_points,
            u.needed_per_arm.unwrap_or(0)
        ),
        None => {}
    }
    let cur = o.currency.as_str();
    let points = |x: f64| format!("{x:+.1} pp");
    let plain = |x: f64| format!("{x:.3}");
    let rows = vec![
        {
            let mut row = metric("purchase rate", &u.purchase, 100.0, &points);
            row[1] = format!("{:.1} %", u.purchase.offer.mean * 100.0);
            row[2] = format!("{:.1} %", u.purchase.control.mean * 100.0);
            row
        },
        metric("orders per customer", &u.orders, 1.0, &plain),
        metric("revenue per customer", &u.revenue, 1.0, &|x| money(x, cur)),
    ];
    output::table(
        &[
            "metric",
            "offer",
            "control",
            "difference (95% Welch)",
            "relative (95% delta method)",
        ],
        &rows,
        &[false, true, true, true, true],
    );
    if let Some(n) = u.net_revenue {
        println!(
            "Net revenue per customer after the offer's cost ({} per offer-group customer): {} ({} … {}).",
            money(u.cost_per_member_minor, cur),
            money(n.estimate, cur),
            money(n.low, cur),
            money(n.high, cur)
        );
    }
}

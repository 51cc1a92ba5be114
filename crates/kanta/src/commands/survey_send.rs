//! `kanta survey send` and `kanta survey invitations` (`kanta_core::survey_send`).
//!
//! `kanta survey send ID [--segment S | --tier T | --customers a,b | --queue]
//! [--channel email|link] [--dry-run] [--json]`: a wave to everyone (default) or the
//! audience named, as the command line (manager rights); prints the counts, the
//! skipped per reason and, for links, one `customer,link` line each. The mails go out
//! through the outbox when `kanta serve` runs (or `kanta jobs run`).
//! `kanta survey invitations ID [--status S] [--reason R] [--wave N] [--limit N]
//! [--json]`: the invitation log.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use kanta_core::Acting;
use kanta_core::survey_send::{Audience, REASONS, SendChannel};

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The survey's id.
    pub survey: String,
    /// Only the customers of this segment.
    #[arg(long, value_name = "S", conflicts_with_all = ["tier", "customers", "queue"])]
    pub segment: Option<String>,
    /// Only the customers of this value tier (A-D).
    #[arg(long, value_name = "T", conflicts_with_all = ["customers", "queue"])]
    pub tier: Option<String>,
    /// Only these customers (ids, comma-separated).
    #[arg(
        long,
        value_name = "IDS",
        value_delimiter = ',',
        conflicts_with = "queue"
    )]
    pub customers: Option<Vec<String>>,
    /// The customers on the contact queue.
    #[arg(long)]
    pub queue: bool,
    /// email (default: mails through the outbox) or link (personal links printed).
    #[arg(long, default_value = "email")]
    pub channel: String,
    /// Count only: nothing is kept or sent.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InvitationsArgs {
    /// The survey's id.
    pub survey: String,
    /// Only this status: invited, skipped or answered.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this skip reason: ended, no_consent, no_email, already_invited, cooldown,
    /// open_critical_case.
    #[arg(long)]
    pub reason: Option<String>,
    /// Only this wave.
    #[arg(long)]
    pub wave: Option<i64>,
    /// At most this many rows (1-100000).
    #[arg(long, default_value_t = 1000)]
    pub limit: i64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn send(cli: &Cli, a: &SendArgs) -> anyhow::Result<ExitCode> {
    let audience = if let Some(s) = &a.segment {
        if s.trim().is_empty() {
            anyhow::bail!("--segment: name the segment");
        }
        Audience::Segment(s.trim().to_string())
    } else if let Some(t) = &a.tier {
        if t.trim().is_empty() {
            anyhow::bail!("--tier: name the tier (A, B, C or D)");
        }
        Audience::Tier(t.trim().to_string())
    } else if let Some(c) = &a.customers {
        let ids: Vec<String> = c
            .iter()
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect();
        if ids.is_empty() {
            anyhow::bail!("--customers: list at least one customer id");
        }
        Audience::Customers(ids)
    } else if a.queue {
        Audience::Queue
    } else {
        Audience::All
    };
    let channel = SendChannel::parse(&a.channel)
        .ok_or_else(|| anyhow!("--channel: '{}' is not email or link", a.channel))?;
    let core = cli.open_core().await?;
    let started = std::time::Instant::now();
    let r = core
        .send_wave(&Acting::cli(), &a.survey, audience, channel, a.dry_run)
        .await;
    let took = started.elapsed().as_secs_f64();
    core.store().close().await;
    let r = r?;
    if a.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let head = if r.dry_run {
        "Dry run (nothing kept or sent)".to_string()
    } else {
        format!(
            "Wave {} of survey {}",
            r.wave_id.unwrap_or_default(),
            r.survey
        )
    };
    println!(
        "{head}: {} customers considered, {} invited, {} skipped ({took:.2} s).",
        r.considered, r.invited, r.skipped
    );
    for (k, n) in &r.reasons {
        println!("  skipped, {k}: {n}");
    }
    match r.channel {
        SendChannel::Email if !r.dry_run => println!(
            "{} mails queued, sent from {} by the mail job (kanta serve).",
            r.mails,
            r.send_at.format("%Y-%m-%d %H:%M UTC")
        ),
        SendChannel::Link => {
            println!("customer,link");
            for (c, u) in &r.links {
                println!("{c},{u}");
            }
        }
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn invitations(cli: &Cli, a: &InvitationsArgs) -> anyhow::Result<ExitCode> {
    if let Some(r) = &a.reason
        && !REASONS.contains(&r.as_str())
    {
        anyhow::bail!("--reason: '{r}' is not one of {}", REASONS.join(", "));
    }
    if !(1..=100_000).contains(&a.limit) {
        anyhow::bail!("--limit: {} is not from 1 to 100000", a.limit);
    }
    let core = cli.open_core().await?;
    let rows = core
        .survey_invitations(
            &Acting::cli(),
            &a.survey,
            a.status.as_deref(),
            a.reason.as_deref(),
            a.wave,
            a.limit,
            0,
        )
        .await;
    core.store().close().await;
    let rows = rows?;
    if a.json {
        output::print_json(&serde_json::json!({ "items": rows }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No invitations.");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<9} {:<19} {:<6} {:<8} {:<7}",
        "customer", "status", "reason", "lang", "channel", "mail"
    );
    for i in &rows {
        println!(
            "{:<16} {:<9} {:<19} {:<6} {:<8} {:<7}",
            i.customer,
            i.status,
            i.reason.as_deref().unwrap_or("-"),
            i.language.as_deref().unwrap_or("-"),
            i.channel,
            i.mail_status.as_deref().unwrap_or("-"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

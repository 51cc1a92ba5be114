//! `kanta queue`: whom to contact today, and why (`kanta_core::queue`). The list by
//! value at risk with each customer's reasons (in the store's language), filtered by
//! owner, reason and tier; `--json` prints the rows as the API gives them.
//! `kanta queue refresh [--as-of DATE]` recomputes the whole queue now (what the daily
//! health job does after scoring).

use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use kanta_core::Acting;
use kanta_core::mail::Lang;
use kanta_core::queue::{OwnerFilter, QueueFilter};

use crate::cli::Cli;
use crate::output;

/// `kanta queue [...]` or `kanta queue refresh`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct QueueArgs {
    #[command(subcommand)]
    pub command: Option<QueueCommand>,
    #[command(flatten)]
    pub list: QueueListArgs,
}

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Recompute every customer's reasons and the queue now.
    Refresh(QueueRefreshArgs),
}

#[derive(Debug, Args)]
pub struct QueueListArgs {
    /// Only the customers of the staff member with this email (or `all`).
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
    /// Only customers with this reason (cadence, detractor, usage_drop, trust_deficit,
    /// case, onboarding_stalled, goal, renewal, p_alive, health_drop).
    #[arg(long, value_name = "KEY")]
    pub reason: Option<String>,
    /// Only this value tier (A-D).
    #[arg(long, value_name = "T")]
    pub tier: Option<String>,
    /// At most this many rows (1-500).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueueRefreshArgs {
    /// The day (YYYY-MM-DD or 31.12.2026). Default: today in the store's time zone.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: &Cli, a: &QueueArgs) -> anyhow::Result<ExitCode> {
    match &a.command {
        Some(QueueCommand::Refresh(r)) => refresh(cli, r).await,
        None => list(cli, &a.list).await,
    }
}

async fn refresh(cli: &Cli, a: &QueueRefreshArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let zone = core.time_zone().await?;
    let as_of = match &a.as_of {
        Some(d) => {
            kanta_domain::time::parse_date_in(d, None, zone).map_err(|e| anyhow!("--as-of: {e}"))?
        }
        None => core.today().await?,
    };
    let started = std::time::Instant::now();
    let r = core.refresh_queue(&Acting::cli(), as_of).await;
    core.store().close().await;
    let r = r?;
    if a.json {
        output::print_json(&r)?;
    } else {
        println!(
            "Queue computed as of {as_of}: {} customers, {} to contact, {} held back by a snooze, dismissal or recent contact ({:.1} s).",
            r.customers,
            r.queued,
            r.held_back,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(cli: &Cli, a: &QueueListArgs) -> anyhow::Result<ExitCode> {
    if !(1..=500).contains(&a.limit) {
        anyhow::bail!("--limit: {} is not from 1 to 500", a.limit);
    }
    let owner = match &a.owner {
        Some(o) => match OwnerFilter::parse(o).map_err(|e| anyhow!("--owner: {e}"))? {
            OwnerFilter::Me => {
                anyhow::bail!("--owner: the command line is nobody's: give an email or all")
            }
            f => f,
        },
        None => OwnerFilter::All,
    };
    let core = cli.open_core().await?;
    let page = core
        .queue_page(
            &Acting::cli(),
            &QueueFilter {
                owner,
                reason: a.reason.clone(),
                tier: a.tier.clone(),
                cursor: None,
                limit: a.limit,
            },
        )
        .await;
    let lang = core
        .store_settings()
        .await
        .ok()
        .and_then(|s| Lang::parse(&s.language))
        .unwrap_or(Lang::En);
    core.store().close().await;
    let page = page.map_err(|e| match e {
        kanta_core::CoreError::Invalid(p) => anyhow!(
            "{}",
            p.iter()
                .map(|p| format!("--{}: {}", p.field, p.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        e => e.into(),
    })?;
    if a.json {
        output::print_json(&serde_json::json!({
            "items": page.items,
            "total": page.total,
            "queue_total": page.queue_total,
            "refreshed_at": page.refreshed_at,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if page.items.is_empty() {
        println!(
            "{}",
            if page.refreshed_at.is_none() && page.queue_total == 0 {
                "The queue has not been computed yet: run kanta queue refresh (kanta serve's daily health job does too)."
            } else if page.queue_total == 0 {
                "Nobody to contact: no customer has a reason in the queue."
            } else {
                "No customer in the queue matches these filters."
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|e| {
            let currency = e.currency.parse().unwrap_or(kanta_domain::Currency::EUR);
            vec![
                e.customer_id.clone(),
                e.name.clone().unwrap_or_default(),
                e.tier.clone().unwrap_or_default(),
                e.owner_name.clone().unwrap_or_default(),
                kanta_domain::Money::new(e.value_at_risk_minor, currency).display(lang == Lang::Fi),
                e.health_score.map(|h| h.to_string()).unwrap_or_default(),
                e.reasons
                    .iter()
                    .map(|r| {
                        kanta_core::queue_words::reason_sentence(
                            &r.key,
                            &serde_json::Value::Object(r.args.clone()),
                            lang,
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    output::table(
        &[
            "id",
            "name",
            "tier",
            "owner",
            "value at risk",
            "health",
            "reasons",
        ],
        &rows,
        &[false, false, false, false, true, true, false],
    );
    println!("{} of {} in the queue.", page.items.len(), page.total);
    Ok(ExitCode::SUCCESS)
}

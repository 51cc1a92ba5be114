//! `kanta ending ...`: ending customer relationships cleanly (`kanta_core::endings`):
//! `propose CUSTOMER --reason R [--end-on DATE] [--note N] [--notify]`, `approve ID
//! [--note N]`, `refuse ID --note N`, `cancel ID [--note N]`, `list [--status S]
//! [--customer C] [--json]`, and `due` (the daily job `endings.due` run once). The
//! command line acts as the operator (an admin).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use kanta_core::Acting;
use kanta_core::endings::{Ending, EndingInput, EndingQuery, reason_words};
use kanta_core::mail::Lang;

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum EndingCommand {
    /// Propose ending a customer relationship (a manager approves it).
    Propose(ProposeArgs),
    /// Approve a proposed ending (the notice is queued; a date today or past ends the customer now).
    Approve(DecideArgs),
    /// Refuse a proposed ending, with its reason (--note).
    Refuse(DecideArgs),
    /// Cancel a proposed or approved ending before it ends.
    Cancel(DecideArgs),
    /// The endings, newest first.
    List(ListArgs),
    /// End the customers whose approved end date has come (the daily job, once).
    Due,
}

#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The customer's id.
    pub customer: String,
    /// Why: unprofitable, breaks_agreements, abusive, moved_away or other.
    #[arg(long)]
    pub reason: String,
    /// The end date (2026-12-31 or 31.12.2026); default today.
    #[arg(long, value_name = "DATE")]
    pub end_on: Option<String>,
    /// A note: what happened, in words.
    #[arg(long)]
    pub note: Option<String>,
    /// Mail the customer a notice in their language when approved.
    #[arg(long)]
    pub notify: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The ending's id (see `kanta ending list`).
    pub id: i64,
    /// A note (required to refuse: the reason).
    #[arg(long)]
    pub note: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these statuses (comma-separated): proposed, approved, refused, ended, cancelled.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this customer's.
    #[arg(long)]
    pub customer: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: &Cli, c: &EndingCommand) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let acting = Acting::cli();
    let (e, json) = match c {
        EndingCommand::Propose(a) => (
            core.propose_ending(
                &acting,
                &a.customer,
                EndingInput {
                    reason: a.reason.clone(),
                    note: a.note.clone(),
                    end_on: a.end_on.clone(),
                    notify: a.notify,
                },
            )
            .await?,
            a.json,
        ),
        EndingCommand::Approve(a) => (
            core.decide_ending(&acting, a.id, true, a.note.clone())
                .await?,
            a.json,
        ),
        EndingCommand::Refuse(a) => (
            core.decide_ending(&acting, a.id, false, a.note.clone())
                .await?,
            a.json,
        ),
        EndingCommand::Cancel(a) => (
            core.cancel_ending(&acting, a.id, a.note.clone()).await?,
            a.json,
        ),
        EndingCommand::List(a) => return list(&core, a).await,
        EndingCommand::Due => {
            let r = core.run_due_endings(&acting).await?;
            println!("{} customers ended.", r.ended);
            return Ok(ExitCode::SUCCESS);
        }
    };
    if json {
        output::print_json(&e)?;
    } else {
        println!("{}", sentence(&e));
    }
    Ok(ExitCode::SUCCESS)
}

/// One ending in a sentence: "Ending 3 of customer c1 (Name): unprofitable, ends
/// 2026-12-31, approved; notice queued."
fn sentence(e: &Ending) -> String {
    let who = match &e.customer_name {
        Some(n) => format!("{} ({n})", e.customer_id),
        None => e.customer_id.clone(),
    };
    let mut s = format!(
        "Ending {} of customer {who}: {}, ends {}, {}",
        e.id,
        reason_words(&e.reason, Lang::En),
        e.end_on,
        e.status
    );
    if e.mail_id.is_some() {
        s.push_str("; notice queued");
    } else if e.notify {
        s.push_str("; a notice is mailed on approval");
    }
    if e.status == "ended" {
        s.push_str("; the customer has ended");
    }
    s.push('.');
    s
}

async fn list(core: &kanta_core::Core, a: &ListArgs) -> anyhow::Result<ExitCode> {
    let q = EndingQuery {
        statuses: a
            .status
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        customer: a.customer.clone(),
        oldest_first: false,
        limit: 1000,
    };
    let rows = core.endings(&Acting::cli(), &q).await?;
    if a.json {
        output::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No endings (kanta ending propose CUSTOMER --reason ...).");
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.customer_id.clone(),
                e.customer_name.clone().unwrap_or_default(),
                reason_words(&e.reason, Lang::En).to_string(),
                e.end_on.to_string(),
                e.status.clone(),
                if e.mail_id.is_some() {
                    "queued".into()
                } else if e.notify {
                    "on approval".into()
                } else {
                    "none".into()
                },
            ]
        })
        .collect();
    output::table(
        &[
            "id", "customer", "name", "reason", "end on", "status", "notice",
        ],
        &table,
        &[true, false, false, false, false, false, false],
    );
    Ok(ExitCode::SUCCESS)
}

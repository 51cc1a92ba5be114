//! The GDPR's commands (`kanta_core::privacy`): `export-customer ID [--out FILE]`
//! (JSON on standard output, or a file: `.zip` for the zip of CSVs with the JSON and
//! the summary, anything else for the JSON), `erase-customer ID --reason TEXT`, and
//! `consent ID` (the customer's consent ledger). The command line acts as the operator
//! (an admin); each export and erasure is audited.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use kanta_core::Acting;

use crate::cli::Cli;
use crate::output;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The customer's id.
    pub id: String,
    /// Write to this file instead of standard output: a name ending in .zip gets the
    /// zip (export.json, summary.txt, one CSV per table), any other the JSON.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The customer's id.
    pub id: String,
    /// Why (kept in the audit log with who and when; write no personal data here).
    #[arg(long)]
    pub reason: String,
    /// Print what was changed as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConsentArgs {
    /// The customer's id.
    pub id: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn export(cli: &Cli, a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let e = core.export_customer(&Acting::cli(), &a.id).await?;
    match &a.out {
        None => output::print_json(&e.to_json())?,
        Some(path) => {
            let zip = path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("zip"));
            let bytes = if zip {
                e.to_zip()?
            } else {
                serde_json::to_vec_pretty(&e.to_json())?
            };
            // Written whole or not at all: a temporary file renamed into place.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("cannot write into {}", dir.display()))?;
            std::io::Write::write_all(&mut tmp, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let rows: usize = e.tables.iter().map(|t| t.rows.len()).sum();
            eprintln!(
                "Wrote {} ({} tables, {rows} rows) about customer {}.",
                path.display(),
                e.tables.len(),
                e.customer_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn erase(cli: &Cli, a: &EraseArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let postgres = core.store().url().starts_with("postgres");
    let e = core
        .erase_customer(&Acting::cli(), &a.id, &a.reason)
        .await?;
    if a.json {
        output::print_json(&e)?;
        return Ok(ExitCode::SUCCESS);
    }
    let list = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "Erased customer {}: their figures stay under the random id {}.",
        a.id, e.new_id
    );
    println!("Deleted: {}.", or_none(list(&e.counts.deleted)));
    println!("Anonymised: {}.", or_none(list(&e.counts.anonymised)));
    println!("Audit entries blanked: {}.", e.counts.audit_entries);
    if postgres {
        println!(
            "PostgreSQL keeps the old row versions on disk until they are vacuumed: run \
             VACUUM FULL (or wait for autovacuum to reuse the space) to remove them now."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn or_none(s: String) -> String {
    if s.is_empty() { "nothing".into() } else { s }
}

pub async fn consent(cli: &Cli, a: &ConsentArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let entries = core.consent_history(&Acting::cli(), &a.id).await?;
    if a.json {
        output::print_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        println!("No consent recorded for customer {}.", a.id);
        return Ok(ExitCode::SUCCESS);
    }
    let zone = core.display_zone(None).await?;
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                zone.date_time(e.at),
                e.purpose.clone(),
                match e.value {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                },
                e.source.clone(),
                e.wording.clone().unwrap_or_default(),
                e.address.clone().unwrap_or_default(),
                e.actor.clone().unwrap_or_default(),
            ]
        })
        .collect();
    println!("Times in {}.", zone.name());
    output::table(
        &[
            "time", "purpose", "value", "source", "wording", "address", "by",
        ],
        &rows,
        &[],
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (SQLite: a database file; PostgreSQL: a pg_dump archive).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file `kanta backup` wrote, of the same backend. The store's contents are
    /// replaced; stop `kanta serve` first.
    pub file: PathBuf,
}

/// `kanta backup FILE`: a consistent copy while the store keeps serving.
pub async fn backup(cli: &Cli, a: &BackupArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let started = std::time::Instant::now();
    let f = core.backup(&Acting::cli(), &a.file).await?;
    println!(
        "Backup written: {} ({} bytes, {}, {:.1} s).",
        f.path.display(),
        f.bytes,
        f.format,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `kanta restore FILE`: the store replaced by a backup.
pub async fn restore(cli: &Cli, a: &RestoreArgs) -> anyhow::Result<ExitCode> {
    let url = cli.url()?;
    let store = kanta_core::backup::restore(&url, &a.file, &Acting::cli()).await?;
    let counts = store.counts().await?;
    let summary: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(e, n)| format!("{e} {n}"))
        .collect();
    println!(
        "Restored {} from {}: {}.",
        kanta_store::redact(&url),
        a.file.display(),
        if summary.is_empty() {
            "empty".to_string()
        } else {
            summary.join(", ")
        }
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Only report what the schedules would remove.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `kanta retention [--dry-run]`: the retention schedules now (what the daily job does).
pub async fn retention(cli: &Cli, a: &RetentionArgs) -> anyhow::Result<ExitCode> {
    let core = cli.open_core().await?;
    let r = core
        .run_retention(&Acting::cli(), chrono::Utc::now(), a.dry_run)
        .await?;
    if a.json {
        output::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let zone = core.display_zone(None).await?;
    let rows: Vec<Vec<String>> = r
        .items
        .iter()
        .map(|i| {
            vec![
                i.kind.replace('_', " "),
                if i.years == 0 {
                    "kept forever".into()
                } else {
                    format!("{} years", i.years)
                },
                i.before.map(|b| zone.date(b)).unwrap_or_default(),
                i.count.to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        if a.dry_run {
            "What the retention schedules would remove now (nothing was changed):"
        } else {
            "Removed by the retention schedules (recorded in the audit log):"
        }
    );
    output::table(
        &["data", "kept", "older than", "rows"],
        &rows,
        &[false, false, false, true],
    );
    if r.items.iter().all(|i| i.years == 0) {
        println!(
            "No schedule is set: the store settings retention_*_years set them (the settings page /admin/settings, or PUT /api/v1/settings/KEY)."
        );
    }
    Ok(ExitCode::SUCCESS)
}

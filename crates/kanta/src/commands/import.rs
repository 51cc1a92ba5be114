//! `kanta import ENTITY FILE`: the command line of [`kanta_core::import`] (every row
//! validated, then all valid rows written in one transaction, or nothing).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail};
use kanta_core::Acting;
use kanta_core::import::{ImportOutcome, ImportRequest, ImportSummary};
use kanta_domain::Currency;
use kanta_domain::schema;
use kanta_import::{Delimiter, Format, ImportOptions, Mapping};
use serde::Serialize;

use crate::cli::{Cli, ImportArgs};

/// Invalid rows printed before "... and N more".
const SHOWN_ERRORS: usize = 50;

/// What the command prints: the core's summary and the time it took.
#[derive(Debug, Serialize)]
struct Summary {
    #[serde(flatten)]
    summary: ImportSummary,
    seconds: f64,
}

impl std::ops::Deref for Summary {
    type Target = ImportSummary;
    fn deref(&self) -> &ImportSummary {
        &self.summary
    }
}

pub async fn run(cli: &Cli, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let entity = schema::entity(&args.entity).ok_or_else(|| {
        anyhow!(
            "there is no entity '{}' to import; choose one of: {}",
            args.entity,
            schema::entity_names().join(", ")
        )
    })?;
    let mut mapping = Mapping::default();
    for m in &args.map {
        mapping.add(m)?;
    }
    if !args.file.is_file() {
        bail!("{} is not a file", args.file.display());
    }
    if let Some(f) = &args.date_format {
        kanta_import::check_date_format(f)?;
    }
    let core = cli.open_core().await?;
    let opts = ImportOptions {
        entity,
        format: match &args.format {
            Some(f) => Some(
                Format::parse(f)
                    .ok_or_else(|| anyhow!("--format {f} is not one of csv, jsonl, whitespace"))?,
            ),
            None => None,
        },
        delimiter: match &args.delimiter {
            Some(d) => {
                Some(Delimiter::parse(d).ok_or_else(|| {
                    anyhow!("--delimiter {d} is not one character or 'whitespace'")
                })?)
            }
            None => None,
        },
        has_header: !args.no_header,
        mapping,
        date_format: args.date_format.clone(),
        currency: match &args.currency {
            Some(c) => c
                .parse::<Currency>()
                .map_err(|e| anyhow!("--currency: {e}"))?,
            None => core.currency().await?,
        },
        zone: core.time_zone().await?,
    };
    let show_progress = std::io::stderr().is_terminal() && !args.json;
    let bar = show_progress.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message("importing");
        bar
    });
    let progress_bar = bar.clone();
    let request = ImportRequest {
        file: args.file.clone(),
        options: opts,
        skip_invalid: args.skip_invalid,
        rejects_file: args.rejects.clone(),
        dry_run: args.dry_run,
    };
    let outcome = core
        .import_file(
            &Acting::import(&args.file.display().to_string()),
            &request,
            Box::new(move |done, total| {
                if let Some(b) = &progress_bar {
                    b.set_length(total);
                    b.set_position(done);
                }
            }),
        )
        .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    core.store().close().await;
    let ImportOutcome { summary, parsed } = outcome;
    let rejected = summary.rejected;
    if !parsed.ignored_columns.is_empty() && !args.json {
        eprintln!(
            "note: columns not imported (no field of {} by that name; use --map to take them): {}",
            entity.name,
            kanta_import::column_list(&parsed.ignored_columns)
        );
    }
    for e in parsed.errors.iter().take(SHOWN_ERRORS) {
        eprintln!("{}", parsed.describe(e));
    }
    if parsed.errors.len() > SHOWN_ERRORS {
        eprintln!(
            "... and {} more invalid rows",
            parsed.errors.len() - SHOWN_ERRORS
        );
    }
    let mut code = ExitCode::SUCCESS;
    if rejected > 0 && !args.skip_invalid {
        eprintln!(
            "{rejected} of {} rows are invalid, so nothing was written. Fix them, or use --skip-invalid to import the valid rows and write the rejected ones to a reject file.",
            parsed.rows_read
        );
        code = ExitCode::from(crate::EXIT_INVALID);
    }
    let summary = Summary {
        summary,
        seconds: started.elapsed().as_secs_f64(),
    };
    if args.json {
        crate::output::print_json(&summary)?;
    } else {
        let verb = if summary.written {
            ""
        } else if args.dry_run {
            " (dry run: nothing written)"
        } else {
            " (nothing written)"
        };
        let mut line = format!(
            "{}: read {} rows into {} {} records: {} inserted, {} updated, {} unchanged, {} rejected",
            summary.file,
            summary.rows_read,
            summary.records,
            entity.name,
            summary.inserted,
            summary.updated,
            summary.unchanged,
            summary.rejected
        );
        if summary.customers_created > 0 {
            line.push_str(&format!("; {} new customers", summary.customers_created));
        }
        line.push_str(&format!(" in {:.2} s{verb}.", summary.seconds));
        println!("{line}");
        if let Some(r) = &summary.rejects_file {
            println!("Rejected rows, with reasons: {r}");
        }
    }
    Ok(code)
}

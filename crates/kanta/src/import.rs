//! `kanta import ENTITY FILE`: validate every row, then write all valid rows in one
//! transaction (or nothing).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use kanta_domain::Currency;
use kanta_domain::schema::{self, Kind};
use kanta_import::{Chunk, Delimiter, Format, ImportOptions, Mapping, Parsed, parse_file};
use kanta_store::{RunInfo, Writer};
use serde::Serialize;

use crate::cli::{Cli, ImportArgs};

/// Rows per chunk streamed from the reader to the writer.
const CHUNK_ROWS: usize = kanta_store::write::BULK_MIN_ROWS;

/// Invalid rows printed before "... and N more".
const SHOWN_ERRORS: usize = 50;

#[derive(Debug, Serialize)]
struct Summary<'a> {
    entity: &'a str,
    file: String,
    rows_read: u64,
    records: u64,
    inserted: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
    customers_created: u64,
    dry_run: bool,
    written: bool,
    rejects_file: Option<String>,
    seconds: f64,
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
        currency: args
            .currency
            .parse::<Currency>()
            .map_err(|e| anyhow!("--currency: {e}"))?,
    };
    if !args.file.is_file() {
        bail!("{} is not a file", args.file.display());
    }
    let show_progress = std::io::stderr().is_terminal() && !args.json;
    let store = cli.open_store().await?;
    let file = args.file.clone();
    let opts_for_parse = opts.clone();
    // The file is read on its own thread and its valid rows stream, in chunks, into
    // one write transaction; it commits only if the whole file was acceptable.
    let (chunks_tx, mut chunks) = tokio::sync::mpsc::channel::<Chunk>(2);
    let reading = tokio::task::spawn_blocking(move || {
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
        let result = parse_file(
            &file,
            &opts_for_parse,
            CHUNK_ROWS,
            &mut |done, total| {
                if let Some(b) = &bar {
                    b.set_length(total);
                    b.set_position(done);
                }
            },
            &mut |chunk| chunks_tx.blocking_send(chunk).is_ok(),
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        result
    });

    let mut writer: Option<Writer> = None;
    let mut ref_errors = Vec::new();
    let mut valid_so_far = true;
    let write_enabled = !args.dry_run;
    while let Some(mut chunk) = chunks.recv().await {
        // References: customers are created for transactions; others must exist.
        for k in 0..chunk.batch.fields.len() {
            let f = chunk.batch.fields[k];
            let Kind::Ref(target) = f.kind else { continue };
            if target == "customers" && entity.creates_customers {
                if !chunk.customers_listed {
                    chunk.batch.create_customers = chunk.referenced(k);
                }
                continue;
            }
            let ids = chunk.referenced(k);
            let target_entity = schema::entity(target).context("a reference names an entity")?;
            let known = match &mut writer {
                Some(w) => w.known(target_entity, &ids).await?,
                None => store.existing_ids(target_entity, &ids).await?,
            };
            chunk.reject_missing_refs(k, &|id| known.contains_key(id), &mut ref_errors);
        }
        valid_so_far &= chunk.rejected_so_far == 0 && ref_errors.is_empty();
        if !write_enabled || !(valid_so_far || args.skip_invalid) {
            continue; // keep reading: every invalid row is reported
        }
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(store.writer(entity, chunk.batch.fields.clone()).await?),
        };
        w.write(chunk.batch).await?;
    }
    let mut parsed: Parsed = reading.await??;
    let records = parsed.records - ref_errors.len() as u64;
    parsed.errors.extend(ref_errors);
    parsed.errors.sort_by_key(|e| e.line);

    let rejected = parsed.rejected();
    if !parsed.ignored_columns.is_empty() && !args.json {
        eprintln!(
            "note: columns not imported (no field of {} by that name; use --map to take them): {}",
            entity.name,
            parsed.ignored_columns.join(", ")
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
    let mut summary = Summary {
        entity: entity.name,
        file: args.file.display().to_string(),
        rows_read: parsed.rows_read,
        records,
        inserted: 0,
        updated: 0,
        unchanged: 0,
        rejected,
        customers_created: 0,
        dry_run: args.dry_run,
        written: false,
        rejects_file: None,
        seconds: 0.0,
    };
    let mut code = ExitCode::SUCCESS;
    if rejected > 0 && !args.skip_invalid {
        // Dropping the writer rolls its transaction back.
        drop(writer);
        eprintln!(
            "{rejected} of {} rows are invalid, so nothing was written. Fix them, or use --skip-invalid to import the valid rows and write the rejected ones to a reject file.",
            parsed.rows_read
        );
        code = ExitCode::from(crate::EXIT_INVALID);
    } else if args.dry_run {
        // Validated only.
    } else {
        if rejected > 0 {
            let path = args.rejects.clone().unwrap_or_else(|| {
                let mut p = args.file.clone().into_os_string();
                p.push(".rejects.csv");
                PathBuf::from(p)
            });
            parsed
                .write_rejects(&path)
                .with_context(|| format!("cannot write the reject file {}", path.display()))?;
            summary.rejects_file = Some(path.display().to_string());
        }
        let run = RunInfo {
            source: args.file.display().to_string(),
            rows_read: parsed.rows_read,
            rejected,
        };
        let written = match writer {
            Some(w) => w.finish(&run).await?,
            None => Default::default(),
        };
        summary.inserted = written.inserted;
        summary.updated = written.updated;
        summary.unchanged = written.unchanged;
        summary.customers_created = written.customers_created;
        summary.written = true;
    }
    store.close().await;
    summary.seconds = started.elapsed().as_secs_f64();
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

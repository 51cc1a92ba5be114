//! Importing a file: every row validated, then all valid rows written in one
//! transaction through the one write path (or nothing), audited as one entry naming
//! the file and the rows inserted, updated and rejected.
//!
//! The file is read on its own thread (`kanta_import::parse_file`) and its valid rows
//! stream, in chunks, into one [`WriteTx`]; references are checked by the reference
//! policy ([`check_refs`]) inside that transaction, so customers created by earlier
//! chunks count. The write commits only when the whole file was acceptable, or, with
//! `skip_invalid`, with the valid rows.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use kanta_domain::schema::Entity;
use kanta_import::{Chunk, ImportOptions, Parsed, RowError, parse_file};
use kanta_store::write::{RunInfo, WriteSummary};
use serde::Serialize;
use serde_json::json;

use crate::actor::Acting;
use crate::write::{RefLookup, WriteTx, check_refs, row_problem};
use crate::{Core, CoreError, Result};

/// Rows per chunk streamed from the reader to the writer.
pub const CHUNK_ROWS: usize = kanta_store::write::BULK_MIN_ROWS;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub file: PathBuf,
    pub options: ImportOptions,
    /// Write the valid rows even when some are invalid (their reasons go to
    /// `rejects_file`).
    pub skip_invalid: bool,
    /// Where rejected rows are written with `skip_invalid` (default `FILE.rejects.csv`).
    pub rejects_file: Option<PathBuf>,
    /// Validate only; write nothing.
    pub dry_run: bool,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub entity: &'static str,
    pub file: String,
    pub rows_read: u64,
    pub records: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub customers_created: u64,
    pub dry_run: bool,
    pub written: bool,
    pub rejects_file: Option<String>,
}

/// An import's summary with its parse (the rejected rows and their reasons, the
/// columns ignored).
#[derive(Debug)]
pub struct ImportOutcome {
    pub summary: ImportSummary,
    pub parsed: Parsed,
}

/// The open write, or the store when validating only.
enum Target {
    Write(Box<WriteTx>),
    Validate(kanta_store::Store),
}

impl RefLookup for Target {
    async fn known(
        &mut self,
        target: &'static Entity,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, i64>> {
        match self {
            Target::Write(tx) => RefLookup::known(tx.as_mut(), target, ids).await,
            Target::Validate(store) => RefLookup::known(store, target, ids).await,
        }
    }
}

impl Core {
    /// Imports a file of one entity as `acting` (see the module documentation).
    /// `progress` is told the bytes read and the file's size.
    pub async fn import_file(
        &self,
        acting: &Acting,
        req: &ImportRequest,
        progress: Box<dyn FnMut(u64, u64) + Send>,
    ) -> Result<ImportOutcome> {
        let entity = req.options.entity;
        if !req.file.is_file() {
            return Err(CoreError::invalid(
                "file",
                format!("{} is not a file", req.file.display()),
            ));
        }
        // The write opens at the first chunk, whose columns decide the fields written.
        let mut target: Option<Target> = req.dry_run.then(|| Target::Validate(self.store.clone()));
        let (chunks_tx, mut chunks) = tokio::sync::mpsc::channel::<Chunk>(2);
        let file = req.file.clone();
        let opts = req.options.clone();
        let reading = tokio::task::spawn_blocking(move || {
            let mut progress = progress;
            parse_file(
                &file,
                &opts,
                CHUNK_ROWS,
                &mut |done, total| progress(done, total),
                &mut |chunk| chunks_tx.blocking_send(chunk).is_ok(),
            )
        });
        let mut ref_errors: Vec<RowError> = Vec::new();
        let mut late_rejected_records = 0u64;
        let mut valid_so_far = true;
        let none = HashSet::new();
        while let Some(mut chunk) = chunks.recv().await {
            let target = match &mut target {
                Some(t) => t,
                None => {
                    let fields = chunk.batch.fields.clone();
                    let tx = self.begin_write(acting, entity, fields).await?;
                    target.insert(Target::Write(Box::new(tx)))
                }
            };
            let listed = chunk.customers_listed;
            let rows_before = chunk.batch.len() as u64;
            let missing = check_refs(target, &mut chunk.batch, listed, &none).await?;
            for m in missing {
                chunk.reject_missing_refs(
                    m.field_index,
                    &|id| !m.missing.contains(id),
                    &mut ref_errors,
                );
            }
            // Values no write takes (a time far ahead of now, an amount beyond the
            // bound), rejected by line like any invalid row.
            let (latest, max_future) = (self.latest_time(), self.max_future);
            let fields = chunk.batch.fields.clone();
            chunk.reject_rows(
                &|row| {
                    row_problem(&fields, row, latest, max_future)
                        .map(|(f, reason)| (f.to_string(), reason))
                },
                &mut ref_errors,
            );
            // Records (an order of several lines is one) taken out of the chunk.
            late_rejected_records += rows_before - chunk.batch.len() as u64;
            valid_so_far &= chunk.rejected_so_far == 0 && ref_errors.is_empty();
            if !(valid_so_far || req.skip_invalid) {
                continue; // keep reading: every invalid row is reported
            }
            if let Target::Write(tx) = target {
                tx.write(chunk.batch).await?;
            }
        }
        let mut parsed: Parsed = reading
            .await
            .map_err(|e| CoreError::Other(anyhow::anyhow!("the file reader stopped: {e}")))?
            .map_err(|e| CoreError::Other(anyhow::anyhow!(e)))?;
        let records = parsed.records.saturating_sub(late_rejected_records);
        parsed.errors.extend(ref_errors);
        parsed.errors.sort_by_key(|e| e.line);
        let rejected = parsed.rejected();
        let mut summary = ImportSummary {
            entity: entity.name,
            file: req.file.display().to_string(),
            rows_read: parsed.rows_read,
            records,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            rejected,
            customers_created: 0,
            dry_run: req.dry_run,
            written: false,
            rejects_file: None,
        };
        if req.dry_run {
            return Ok(ImportOutcome { summary, parsed });
        }
        let tx = match target {
            Some(Target::Write(tx)) => Some(tx),
            _ => None,
        };
        if rejected > 0 && !req.skip_invalid {
            // Dropping the write rolls its transaction back: nothing, and no audit entry.
            drop(tx);
            return Ok(ImportOutcome { summary, parsed });
        }
        if rejected > 0 {
            let path = req
                .rejects_file
                .clone()
                .unwrap_or_else(|| rejects_path(&req.file));
            parsed.write_rejects(&path).map_err(|e| {
                CoreError::Other(anyhow::anyhow!(
                    "cannot write the reject file {}: {e}",
                    path.display()
                ))
            })?;
            summary.rejects_file = Some(path.display().to_string());
        }
        let run = RunInfo {
            source: req.file.display().to_string(),
            rows_read: parsed.rows_read,
            rejected,
        };
        let base = summary.clone();
        let entry_of = |w: &WriteSummary| {
            let mut e = acting.audit(entity.name, None, "import");
            e.details = json!({
                "file": base.file,
                "rows_read": base.rows_read,
                "inserted": w.inserted,
                "updated": w.updated,
                "unchanged": w.unchanged,
                "rejected": base.rejected,
                "customers_created": w.customers_created,
                "rejects_file": base.rejects_file,
            });
            vec![e]
        };
        let written = match tx {
            Some(tx) => tx.finish_with(&run, entry_of).await?,
            // An empty file: nothing to write, but the import is still recorded.
            None => {
                let tx = self.begin_write(acting, entity, Vec::new()).await?;
                tx.finish_with(&run, entry_of).await?
            }
        };
        summary.inserted = written.inserted;
        summary.updated = written.updated;
        summary.unchanged = written.unchanged;
        summary.customers_created = written.customers_created;
        summary.written = true;
        Ok(ImportOutcome { summary, parsed })
    }
}

/// `FILE.rejects.csv`.
pub fn rejects_path(file: &Path) -> PathBuf {
    let mut p = file.to_path_buf().into_os_string();
    p.push(".rejects.csv");
    PathBuf::from(p)
}

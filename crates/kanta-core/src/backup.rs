//! Backups: `kanta backup FILE` (admins; audited), the scheduled `store.backup` job
//! (setting `backup.dir`, every `backup.every_hours`, the newest `backup.keep` copies
//! kept), and `kanta restore FILE` (the store replaced by a backup, then audited in
//! it). How each backend copies is [`kanta_store::backup`]'s.

use std::path::{Path, PathBuf};

use chrono::Utc;
use kanta_store::Store;
use kanta_store::backup::BackupFile;
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::jobs::{Outcome, Services};
use crate::{Core, Result};

/// The scheduled backup's job kind.
pub const JOB: &str = "store.backup";

/// Names of the scheduled copies start with this (only they are pruned).
const PREFIX: &str = "kanta-backup-";

impl Core {
    /// Writes a consistent copy of the whole store to `path` while the store keeps
    /// serving (admins and the operator only); audited as `backup`.
    pub async fn backup(&self, acting: &Acting, path: &Path) -> Result<BackupFile> {
        require(acting, Role::Admin)?;
        let started = std::time::Instant::now();
        let file = self.store().backup_to(path).await?;
        let mut entry = acting.audit("store", None, "backup");
        entry.details = json!({
            "file": file.path.display().to_string(),
            "bytes": file.bytes,
            "format": file.format,
            "millis": started.elapsed().as_millis() as u64,
        });
        self.store().record_audit(&entry).await?;
        Ok(file)
    }
}

/// Replaces the store at `url` by the backup `file` and records the restore in the
/// restored store's audit log.
pub async fn restore(url: &str, file: &Path, acting: &Acting) -> Result<Store> {
    require(acting, Role::Admin)?;
    let store = kanta_store::backup::restore(url, file).await?;
    let mut entry = acting.audit("store", None, "restore");
    entry.details = json!({ "file": file.display().to_string() });
    store.record_audit(&entry).await?;
    Ok(store)
}

/// The scheduled copy's file name: the time (UTC) sorts them.
fn scheduled_name(format: &str) -> String {
    let ext = if format == "postgres" { "dump" } else { "db" };
    format!("{PREFIX}{}.{ext}", Utc::now().format("%Y%m%dT%H%M%SZ"))
}

/// Deletes the oldest scheduled copies in `dir` beyond the newest `keep`; returns
/// those deleted.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut copies: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(PREFIX) && (n.ends_with(".db") || n.ends_with(".dump"))
            })
        })
        .collect();
    copies.sort();
    let excess = copies.len().saturating_sub(keep.max(1));
    let old: Vec<PathBuf> = copies.into_iter().take(excess).collect();
    for p in &old {
        std::fs::remove_file(p)?;
    }
    Ok(old)
}

/// The `store.backup` job: a copy into `backup.dir`, then the old ones pruned.
pub async fn run_job(s: &Services) -> Outcome {
    let Some(dir) = s.settings.backup_dir.clone() else {
        return Outcome::Done;
    };
    let format = s.core.store().backend_name();
    let path = dir.join(scheduled_name(format));
    match s.core.backup(&Acting::job(JOB), &path).await {
        Ok(f) => {
            tracing::info!("backup written: {} ({} bytes)", f.path.display(), f.bytes);
            match prune(&dir, s.settings.backup_keep as usize) {
                Ok(old) if !old.is_empty() => {
                    tracing::info!("{} old backups deleted", old.len());
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cannot prune old backups in {}: {e}", dir.display()),
            }
            Outcome::Done
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

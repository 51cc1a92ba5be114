//! Backups and restores of the whole store.
//!
//! - SQLite: `VACUUM INTO` writes a consistent, compacted copy of the database as of
//!   one moment while other connections (a running `kanta serve`, an import) keep
//!   writing; the copy goes to a temporary file beside the target and is renamed into
//!   place, so a backup is whole or absent. A restore checks that the file is a Kanta
//!   store (`PRAGMA quick_check`, its migrations no newer than this program's), copies
//!   it beside the database and renames it over it, removing the old WAL.
//! - PostgreSQL: `pg_dump --format=custom` (one consistent snapshot, taken while the
//!   server keeps writing) to a temporary file renamed into place, and `pg_restore
//!   --clean --if-exists --no-owner --single-transaction` into the store's database.
//!   Both must be on the PATH (Debian: `postgresql-client`) and get the store's URL as
//!   `--dbname`: on a machine shared with others, keep the password in `~/.pgpass`
//!   rather than in the URL, which a process list shows.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::{Backend, Result, Store, StoreError};

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupFile {
    pub path: PathBuf,
    pub bytes: u64,
    /// `sqlite` (a database file) or `postgres` (a `pg_dump` custom-format archive).
    pub format: &'static str,
}

fn io_err(what: &str, e: std::io::Error) -> StoreError {
    StoreError::Backup(format!("{what}: {e}"))
}

fn tool_err(msg: String) -> StoreError {
    StoreError::Backup(msg)
}

/// A temporary path beside `target` (same folder, so the rename is atomic).
fn temp_beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "backup".into());
    target.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

impl Store {
    /// The backend's name: `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Writes a consistent copy of the whole store to `target` (see the module
    /// documentation); an existing file there is replaced only when the copy is whole.
    pub async fn backup_to(&self, target: &Path) -> Result<BackupFile> {
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| io_err(&format!("cannot make {}", dir.display()), e))?;
        }
        let tmp = temp_beside(target);
        let _ = std::fs::remove_file(&tmp);
        let format = match &self.backend {
            Backend::Sqlite(pool) => {
                let r = sqlx::query("VACUUM INTO $1")
                    .bind(tmp.to_string_lossy().to_string())
                    .execute(pool)
                    .await;
                if let Err(e) = r {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
                "sqlite"
            }
            Backend::Postgres(_) => {
                let mut cmd = std::process::Command::new("pg_dump");
                cmd.arg("--format=custom")
                    .arg("--no-owner")
                    .arg(format!("--file={}", tmp.display()))
                    .arg(format!("--dbname={}", self.tool_url.0))
                    .stdin(Stdio::null());
                let out = run_tool(cmd).await.map_err(|e| {
                    tool_err(format!(
                        "cannot run pg_dump ({e}): install the PostgreSQL client tools \
                             (Debian: apt-get install postgresql-client) or put pg_dump on the PATH"
                    ))
                })?;
                if !out.status.success() {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(tool_err(format!(
                        "pg_dump failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
                "postgres"
            }
        };
        let sync = std::fs::File::open(&tmp).and_then(|f| f.sync_all());
        if let Err(e) = sync.and_then(|_| std::fs::rename(&tmp, target)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&format!("cannot write {}", target.display()), e));
        }
        let bytes = std::fs::metadata(target).map(|m| m.len()).unwrap_or(0);
        Ok(BackupFile {
            path: target.to_path_buf(),
            bytes,
            format,
        })
    }
}

/// Restores the store at `url` from `file` (a backup of the same backend): the store's
/// contents are replaced. Nothing may be using a SQLite store meanwhile (stop
/// `kanta serve` first). The restored store is then opened, which applies any
/// migrations newer than the backup.
pub async fn restore(url: &str, file: &Path) -> Result<Store> {
    if !file.is_file() {
        return Err(tool_err(format!("{}: no such backup file", file.display())));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let db = PathBuf::from(path.split('?').next().unwrap_or(path));
        check_sqlite_backup(file).await?;
        if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| io_err(&format!("cannot make {}", dir.display()), e))?;
        }
        let tmp = temp_beside(&db);
        std::fs::copy(file, &tmp)
            .and_then(|_| std::fs::File::open(&tmp).and_then(|f| f.sync_all()))
            .map_err(|e| io_err(&format!("cannot copy {}", file.display()), e))?;
        // The old WAL belongs to the old file: gone with it.
        for suffix in ["-wal", "-shm"] {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        std::fs::rename(&tmp, &db)
            .map_err(|e| io_err(&format!("cannot replace {}", db.display()), e))?;
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut cmd = std::process::Command::new("pg_restore");
        cmd.args([
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
        ])
        .arg("--exit-on-error")
        .arg(format!("--dbname={url}"))
        .arg(file)
        .stdin(Stdio::null());
        let out = run_tool(cmd).await.map_err(|e| {
            tool_err(format!(
                "cannot run pg_restore ({e}): install the PostgreSQL client tools \
                     (Debian: apt-get install postgresql-client) or put pg_restore on the PATH"
            ))
        })?;
        if !out.status.success() {
            return Err(tool_err(format!(
                "pg_restore failed (the store is as before): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    } else {
        return Err(StoreError::BadUrl(url.to_string()));
    }
    Store::open(url).await
}

/// Runs a command to its end on the blocking pool, with its output.
async fn run_tool(mut cmd: std::process::Command) -> std::io::Result<std::process::Output> {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

/// A SQLite backup must be a sound database with Kanta's migration table.
async fn check_sqlite_backup(file: &Path) -> Result<()> {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let bad = |why: String| tool_err(format!("{}: not a Kanta backup ({why})", file.display()));
    let mut c =
        sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
            .map_err(|e| bad(e.to_string()))?
            .read_only(true)
            .connect()
            .await
            .map_err(|e| bad(e.to_string()))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut c)
        .await
        .map_err(|e| bad(e.to_string()))?;
    if check != "ok" {
        return Err(bad(check));
    }
    let newest: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut c)
        .await
        .map_err(|_| bad("it has no Kanta schema".into()))?;
    let ours = crate::migrate::newest_version();
    if newest.unwrap_or(0) > ours {
        return Err(bad(format!(
            "it was made by a newer Kanta (schema {}, this one knows {ours})",
            newest.unwrap_or(0)
        )));
    }
    Ok(())
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kanta_store::testing::TestDb;

/// A store (SQLite in a temp folder, or a fresh PostgreSQL database) and a place
/// for input files.
pub struct Env {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(backend: &str) -> Env {
        Env {
            db: TestDb::new(backend),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write input");
        p
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kanta"));
        c.env("KANTA_DATABASE_URL", &self.db.url)
            .env_remove("KANTA_DATA")
            .current_dir(self.dir.path());
        c
    }

    /// Runs kanta with `args`; returns the output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run kanta")
    }

    /// Runs kanta and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kanta {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).expect("JSON output")
    }

    pub fn count(&self, entity: &str) -> i64 {
        self.json(&["stats"])[entity].as_i64().expect("count")
    }
}

pub fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub const BACKENDS: &[&str] = kanta_store::testing::BACKENDS;

/// `kanta customers show --json` with its timeline turned oldest first (the command
/// shows the newest first).
pub fn oldest_first(mut show: serde_json::Value) -> serde_json::Value {
    if let Some(t) = show["timeline"].as_array_mut() {
        t.reverse();
    }
    show
}

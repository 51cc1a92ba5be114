//! The dependency rule, checked so it cannot rot:
//! `domain ← {models, store, import, demo} ← core ← {web, kanta}`.
//!
//! Each Kanta crate may depend (normally, not only for tests) on the crates listed for
//! it and no other Kanta crate; and of the command line's modules only `cli.rs` (which
//! hands `kanta serve` to the server) names `kanta_web`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each crate and the Kanta crates it may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("kanta-domain", &[]),
    ("kanta-models", &[]),
    ("kanta-store", &["kanta-domain"]),
    ("kanta-import", &["kanta-domain"]),
    ("kanta-demo", &["kanta-domain"]),
    (
        "kanta-core",
        &[
            "kanta-domain",
            "kanta-models",
            "kanta-store",
            "kanta-import",
            "kanta-demo",
        ],
    ),
    (
        "kanta-web",
        &["kanta-domain", "kanta-models", "kanta-store", "kanta-core"],
    ),
    (
        "kanta",
        &[
            "kanta-domain",
            "kanta-models",
            "kanta-store",
            "kanta-import",
            "kanta-demo",
            "kanta-core",
            "kanta-web",
        ],
    ),
];

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("crates/kanta-core is two levels below the workspace")
}

#[test]
fn crates_depend_only_downwards() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            // Normal and build dependencies; tests may use any crate (the store's
            // test helpers, say).
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|d| d.starts_with("kanta"))
            .map(str::to_string)
            .collect();
        found.insert(name, deps);
    }
    for (name, deps) in &found {
        let allowed = ALLOWED
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| {
                panic!("{name} is a new crate: add it to the rule in ARCHITECTURE.md and here")
            })
            .1;
        for d in deps {
            assert!(
                allowed.contains(&d.as_str()),
                "{name} depends on {d}, against the rule domain <- {{models, store, import, demo}} <- core <- {{web, kanta}}"
            );
        }
    }
    assert_eq!(found.len(), ALLOWED.len(), "crates: {:?}", found.keys());
}

#[test]
fn only_kanta_serve_reaches_the_web_crate() {
    let mut folders = vec![workspace_root().join("crates/kanta/src")];
    let mut offenders = Vec::new();
    let mut seen = 0;
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("a source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                seen += 1;
                if path.file_name().is_some_and(|n| n != "cli.rs")
                    && std::fs::read_to_string(&path)
                        .expect("source")
                        .contains("kanta_web")
                {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(seen > 5, "found only {seen} source files");
    assert!(
        offenders.is_empty(),
        "only cli.rs (kanta serve) may call kanta_web: {offenders:?}"
    );
}

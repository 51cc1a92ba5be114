//! Layered settings as an operator meets them: the environment beats kanta.toml, a flag
//! beats both, `kanta config show` names where each value came from, a password never
//! shows (not in `config show`, not in the server's debug log), the example file is
//! valid, and a bad value is refused by name.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Serve, bare_kanta, free_port, http, listening, output_within, wait_for};
use crate::smtp::closed_port;

const PASSWORD: &str = "SeCrEt-4711";

/// `config show --json`'s settings as (key, entry) pairs: `settings` is an object by
/// key (or a list of entries with a `key`).
fn settings(show: &Value) -> Vec<(String, Value)> {
    match &show["settings"] {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(a) => a
            .iter()
            .map(|v| (v["key"].as_str().expect("a key").to_string(), v.clone()))
            .collect(),
        other => panic!("no settings in {other}"),
    }
}

/// `config show --json`'s entry for `key`.
fn setting(show: &Value, key: &str) -> Value {
    settings(show)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {show}"))
        .1
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_ok(c: &mut std::process::Command) -> String {
    let out = output_within(c, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn data_cmd(dir: &Path, data: &Path) -> std::process::Command {
    let mut c = bare_kanta(dir);
    c.arg("--data").arg(data);
    c
}

#[test]
fn the_environment_beats_the_file_a_flag_beats_both_and_secrets_stay_hidden() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    run_ok(data_cmd(tmp.path(), &data).arg("init"));
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let smtp_port = closed_port();
    let file = data.join("kanta.toml");
    std::fs::write(
        &file,
        format!(
            "[serve]\nbind = \"127.0.0.1:{p2}\"\n\n[jobs]\nretry_seconds = 1\n\n[mail]\n\
             smtp_url = \"smtp://kanta:{PASSWORD}@127.0.0.1:{smtp_port}\"\n"
        ),
    )
    .unwrap();
    let env_bind = format!("127.0.0.1:{p1}");
    let with_env = || {
        let mut c = data_cmd(tmp.path(), &data);
        c.env("KANTA_SERVE__BIND", &env_bind);
        c
    };

    // config show --json: serve.bind from the environment, the file's keys from the file.
    let json = run_ok(with_env().args(["config", "show", "--json"]));
    assert!(!json.contains(PASSWORD), "config show --json: {json}");
    let show: Value = serde_json::from_str(&json).unwrap();
    let bind = setting(&show, "serve.bind");
    assert_eq!(bind["value"], env_bind.as_str(), "{bind}");
    assert_eq!(bind["source"], "env:KANTA_SERVE__BIND", "{bind}");
    let from_file = format!("file:{}", file.display());
    for key in ["mail.smtp_url", "jobs.retry_seconds"] {
        assert_eq!(setting(&show, key)["source"], from_file.as_str(), "{key}");
    }
    assert_eq!(setting(&show, "mail.smtp_url")["value"], "***");
    assert_eq!(setting(&show, "jobs.retry_seconds")["value"], 1);
    assert_eq!(setting(&show, "serve.workers")["source"], "default");
    if let Some(f) = show.get("file") {
        assert_eq!(f, &Value::from(file.display().to_string()), "{show}");
    }

    // The same as a table.
    let table = run_ok(with_env().args(["config", "show"]));
    assert!(!table.contains(PASSWORD), "config show: {table}");
    let line = |key: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {table}"))
            .to_string()
    };
    let l = line("serve.bind");
    assert!(
        l.contains(&env_bind) && l.contains("env:KANTA_SERVE__BIND"),
        "{l}"
    );
    let l = line("mail.smtp_url");
    assert!(l.contains("***") && l.contains(&from_file), "{l}");

    // A test message through the file's mail server (nobody listens there): it fails,
    // stays queued, and its error does not show the password either.
    let out = output_within(
        with_env().args(["mail", "test", "someone@example.fi"]),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("stays in the outbox"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");

    // kanta serve with no --bind listens where the environment says, not the file.
    let mut serve = Serve::start(
        with_env()
            .env("KANTA_LOG", "debug")
            .arg("serve")
            .env("KANTA_MAIL__TIMEOUT_SECONDS", "5"),
    );
    assert_eq!(serve.addr(), env_bind);
    let a = http(&env_bind, "GET", "/healthz", None, None);
    assert_eq!((a.status, a.body.as_str()), (200, "ok"));
    assert!(
        !listening(&format!("127.0.0.1:{p2}")),
        "the file's port is not used"
    );
    // Let its worker try the queued message (with the password) once more under the
    // debug log.
    wait_for(
        "the server's retry of the message",
        Duration::from_secs(30),
        || {
            let out = output_within(
                data_cmd(tmp.path(), &data).args(["jobs", "--json"]),
                Duration::from_secs(60),
            );
            let jobs: Value = serde_json::from_slice(&out.stdout).ok()?;
            (jobs["outbox"][0]["attempts"].as_i64()? >= 2).then_some(())
        },
    );
    let log = serve.log();
    assert!(
        log.contains("DEBUG"),
        "KANTA_LOG=debug logs at debug level: {log}"
    );
    assert!(
        !log.contains(PASSWORD),
        "the server's log shows the password"
    );
    serve.kill();

    // A flag beats the environment and the file.
    let p3_addr = format!("127.0.0.1:{p3}");
    let serve = Serve::start(with_env().args(["serve", "--bind", &p3_addr]));
    assert_eq!(serve.addr(), p3_addr);
    assert_eq!(http(&p3_addr, "GET", "/healthz", None, None).status, 200);
    assert!(!listening(&env_bind), "the environment's port is not used");
    assert!(!serve.log().contains(PASSWORD));
    drop(serve);
}

#[test]
fn the_example_is_valid_toml_with_every_setting_commented_out() {
    let tmp = tempfile::tempdir().unwrap();
    let example = run_ok(bare_kanta(tmp.path()).args(["config", "example"]));
    let doc: toml::Table = toml::from_str(&example).expect("the example is TOML");
    for (section, table) in &doc {
        let table = table.as_table().expect("only sections");
        assert!(table.is_empty(), "[{section}] sets {table:?}");
    }
    for line in example.lines() {
        let l = line.trim();
        assert!(
            l.is_empty() || l.starts_with('#') || (l.starts_with('[') && l.ends_with(']')),
            "a line that is neither a comment nor a section: {line}"
        );
    }

    // Uncommented, it is accepted and sets every setting to its default.
    let lines: Vec<String> = example
        .lines()
        .filter_map(|l| {
            let s = l.strip_prefix("# ")?;
            let (key, _) = s.split_once(" = ")?;
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c == '_')
                .then(|| s.to_string())
        })
        .collect();
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(s) if lines.iter().any(|x| x == s) => s,
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let file = tmp.path().join("example.toml");
    std::fs::write(&file, &uncommented).unwrap();
    let show: Value = serde_json::from_str(&run_ok(
        bare_kanta(tmp.path())
            .arg("--config")
            .arg(&file)
            .args(["config", "show", "--json"]),
    ))
    .unwrap();
    let defaults: Value = serde_json::from_str(&run_ok(
        bare_kanta(tmp.path()).args(["config", "show", "--json"]),
    ))
    .unwrap();
    let all = settings(&show);
    assert_eq!(all.len(), lines.len(), "{lines:?}");
    for (key, s) in &all {
        assert_eq!(
            s["source"],
            format!("file:{}", file.display()).as_str(),
            "{key}"
        );
        assert_eq!(s["value"], setting(&defaults, key)["value"], "{key}");
        assert_eq!(setting(&defaults, key)["source"], "default", "{key}");
    }
}

#[test]
fn a_bad_value_is_refused_in_one_sentence_naming_the_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    for args in [
        &["config", "show"][..],
        &["serve", "--bind", "127.0.0.1:0"][..],
    ] {
        let out = output_within(
            data_cmd(tmp.path(), &data)
                .env("KANTA_SERVE__WORKERS", "x")
                .args(args),
            Duration::from_secs(60),
        );
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            err.contains("KANTA_SERVE__WORKERS") && err.contains("'x'"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_bad_value_in_the_file_is_refused_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("kanta.toml"),
        "# settings\n[serve]\nbind = \"abc\"\n",
    )
    .unwrap();
    let out = output_within(
        data_cmd(tmp.path(), &data).args(["config", "show"]),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("kanta.toml line 3: serve.bind: 'abc' is not an address like 127.0.0.1:8080"),
        "{err}"
    );
}

#[test]
fn the_database_password_is_hidden_in_config_show_and_the_servers_log() {
    let db = kanta_store::testing::TestDb::postgres();
    // The test database's URL with a password (PostgreSQL with trust authentication
    // ignores it; one that asks for a password has it in the URL already).
    let (url, password) = match db.url.split_once("://").and_then(|(_, rest)| {
        let (auth, _) = rest.split_once('@')?;
        auth.split_once(':').map(|(_, pw)| pw.to_string())
    }) {
        Some(pw) => (db.url.clone(), pw),
        None => (
            db.url.replacen("@", ":DbPw-0815@", 1),
            "DbPw-0815".to_string(),
        ),
    };
    assert!(url.contains(&format!(":{password}@")), "{url}");
    let tmp = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut c = bare_kanta(tmp.path());
        c.env("KANTA_DATABASE_URL", &url);
        c
    };
    for args in [&["config", "show"][..], &["config", "show", "--json"][..]] {
        let out = run_ok(cmd().args(args));
        assert!(!out.contains(&password), "{args:?}: {out}");
        assert!(out.contains(":***@"), "{args:?}: {out}");
    }
    let serve =
        Serve::start(
            cmd()
                .env("KANTA_LOG", "debug")
                .args(["serve", "--bind", "127.0.0.1:0"]),
        );
    assert_eq!(
        http(serve.addr(), "GET", "/healthz", None, None).status,
        200
    );
    let log = serve.log();
    assert!(log.contains(":***@"), "the log names the store: {log}");
    assert!(
        !log.contains(&password),
        "the log shows the password: {log}"
    );
    drop(serve);

    // Nor does an error about the database (one that does not exist: refused at once).
    let (base, _) = url.rsplit_once('/').unwrap();
    let closed = format!("{base}/kanta_no_such_database");
    let out = output_within(
        bare_kanta(tmp.path())
            .env("KANTA_DATABASE_URL", &closed)
            .arg("stats"),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("kanta_no_such_database") && err.contains(":***@"),
        "{err}"
    );
    assert!(!err.contains(&password), "{err}");
}

#[test]
fn json_into_a_reader_that_stopped_is_no_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let mut child = data_cmd(tmp.path(), &data)
        .args(["config", "show", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes before kanta writes (it starts up first): `kanta ... | true`.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn a_log_written_to_a_file_has_no_colour_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let serve = Serve::start(data_cmd(tmp.path(), &data).env("KANTA_LOG", "debug").args([
        "serve",
        "--bind",
        "127.0.0.1:0",
    ]));
    assert_eq!(
        http(serve.addr(), "GET", "/healthz", None, None).status,
        200
    );
    let log = serve.log();
    // What `grep ' DEBUG '` on the file finds: the level between plain spaces.
    assert!(log.contains(" DEBUG "), "no plain DEBUG line: {log}");
    assert!(!log.contains('\u{1b}'), "colour codes in the log: {log}");
}

#[test]
fn a_server_keeps_to_the_database_connections_set() {
    // Set, and left to the default.
    most_connections_held("2", 2);
    most_connections_held("0", i64::from(kanta_store::POSTGRES_CONNECTIONS));
}

/// Starts `kanta serve` on PostgreSQL with `store.connections` = `setting`, sends it
/// twelve callers at once, and checks that it held between 1 and `most` connections.
fn most_connections_held(setting: &str, most_allowed: i64) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let env = crate::helpers::Env::new("postgres");
    let token = env.ok(&["token", "create", "pool", "--role", "admin"]);
    let token = token.trim().to_string();
    let serve = Serve::start(env.cmd().env("KANTA_STORE__CONNECTIONS", setting).args([
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--score-every-hours",
        "0",
    ]));
    let addr = serve.addr().to_string();
    let rt = crate::helpers::runtime();
    let watcher = rt
        .block_on(kanta_store::Store::open_with_connections(
            &env.db.url,
            Some(1),
        ))
        .expect("the test's own connection");
    let done = Arc::new(AtomicBool::new(false));
    // Twelve callers at once, reading and writing: more than either pool, so that a
    // server ignoring the setting opens more connections than it allows.
    let callers: Vec<_> = (0..12)
        .map(|i| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                for j in 0..15 {
                    let a = if j % 3 == 0 {
                        let body = format!(r#"{{"id":"pool-{i}-{j}","name":"Pool {i} {j}"}}"#);
                        http(
                            &addr,
                            "POST",
                            "/api/v1/customers",
                            Some(&token),
                            Some(&body),
                        )
                    } else {
                        http(
                            &addr,
                            "GET",
                            "/api/v1/customers?limit=50",
                            Some(&token),
                            None,
                        )
                    };
                    assert!(matches!(a.status, 200 | 201), "{} {}", a.status, a.body);
                }
            })
        })
        .collect();
    let watching = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(Ordering::Acquire) {
                let n = rt
                    .block_on(kanta_store::testing::postgres_other_connections(&watcher))
                    .expect("PostgreSQL");
                most = most.max(n);
                std::thread::sleep(Duration::from_millis(5));
            }
            most
        })
    };
    for c in callers {
        c.join().expect("a caller");
    }
    done.store(true, Ordering::Release);
    let most = watching.join().expect("the watcher");
    assert!(
        (1..=most_allowed).contains(&most),
        "the server held {most} connections at once; store.connections is {setting}, so at most {most_allowed}"
    );
    let list = http(
        &addr,
        "GET",
        "/api/v1/customers?limit=100",
        Some(&token),
        None,
    )
    .json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(60), "{list}");
}

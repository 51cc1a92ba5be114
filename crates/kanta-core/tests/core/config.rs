//! Layered settings: defaults < file < environment < flags, origins, secrets, errors
//! and the example file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kanta_core::config::{
    Config, ConfigError, EXAMPLE, Language, LoadOptions, Origin, SETTINGS, Secret,
};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A data folder holding `kanta.toml` with `text`.
fn data_folder(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kanta.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

fn in_folder(dir: &Path) -> LoadOptions {
    LoadOptions {
        data_dir_hint: Some(dir.to_path_buf()),
        ..LoadOptions::default()
    }
}

fn load_err(o: &LoadOptions) -> String {
    match Config::load(o) {
        Ok(_) => panic!("loaded, expected an error"),
        Err(e) => e.to_string(),
    }
}

/// The example with every `# key = value` line uncommented.
fn uncommented_example() -> String {
    EXAMPLE
        .lines()
        .map(|l| match setting_line(l) {
            Some(_) => l.trim_start_matches("# ").to_string(),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The key of a commented-out `# key = value` line.
fn setting_line(line: &str) -> Option<&str> {
    let (key, _) = line.strip_prefix("# ")?.split_once(" = ")?;
    key.chars()
        .all(|c| c.is_ascii_lowercase() || c == '_')
        .then_some(key)
}

fn assert_defaults(c: &Config) {
    let d = Config::default();
    assert_eq!(c.store, d.store);
    assert_eq!(c.serve, d.serve);
    assert_eq!(c.scoring, d.scoring);
    assert_eq!(c.jobs, d.jobs);
    assert_eq!(c.mail, d.mail);
    assert_eq!(c.security, d.security);
    assert_eq!(c.store_defaults, d.store_defaults);
}

#[test]
fn defaults_without_file_environment_or_flags() {
    let empty = tempfile::tempdir().unwrap();
    let c = Config::load(&in_folder(empty.path())).unwrap();
    assert_defaults(&c);
    assert_eq!(c.store.data, PathBuf::from("./kanta-data"));
    assert_eq!(c.serve.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.serve.workers, 2);
    assert_eq!(c.serve.score_every_hours, 24.0);
    assert_eq!(
        (
            c.scoring.holdout_days,
            c.scoring.margin,
            c.scoring.discount_rate
        ),
        (91, 1.0, 0.01)
    );
    assert_eq!(
        (c.jobs.lease_seconds, c.jobs.poll_ms, c.jobs.max_attempts),
        (300, 500, 8)
    );
    assert_eq!(c.mail.smtp_url, None);
    assert_eq!(c.mail.from, "Kanta <kanta@localhost>");
    assert_eq!(c.mail.timeout_seconds, 10);
    assert_eq!(c.security.secret_key, None);
    assert_eq!(c.store_defaults.currency.code(), "EUR");
    assert_eq!(c.store_defaults.time_zone, "Europe/Helsinki");
    assert_eq!(c.store_defaults.language, Language::Fi);
    assert_eq!(c.database_url(), "sqlite://./kanta-data/kanta.db");
    assert_eq!(c.file(), None);
    for s in SETTINGS {
        assert_eq!(c.origin(s.key), Some(&Origin::Default), "{}", s.key);
    }
    assert_eq!(c.origin("serve.nothing"), None);
}

#[test]
fn each_layer_beats_the_one_below_and_is_recorded() {
    let (dir, file) = data_folder(
        "[serve]\nbind = \"127.0.0.1:9000\"\nworkers = 3\nscore_every_hours = 6\n\n\
         [scoring]\nmargin = 0.4\n",
    );
    let o = LoadOptions {
        env: pairs(&[
            ("KANTA_SERVE__WORKERS", "4"),
            ("KANTA_SERVE__SCORE_EVERY_HOURS", "12"),
            ("PATH", "/usr/bin"),
        ]),
        overrides: pairs(&[("serve.score_every_hours", "0")]),
        ..in_folder(dir.path())
    };
    let c = Config::load(&o).unwrap();
    assert_eq!(c.file(), Some(file.as_path()));

    // The file beats the defaults.
    assert_eq!(c.serve.bind.to_string(), "127.0.0.1:9000");
    assert_eq!(c.origin("serve.bind"), Some(&Origin::File(file.clone())));
    assert_eq!(c.scoring.margin, 0.4);
    assert_eq!(
        c.origin("scoring.margin"),
        Some(&Origin::File(file.clone()))
    );
    // The environment beats the file.
    assert_eq!(c.serve.workers, 4);
    assert_eq!(
        c.origin("serve.workers"),
        Some(&Origin::Env("KANTA_SERVE__WORKERS".into()))
    );
    // A flag beats the environment.
    assert_eq!(c.serve.score_every_hours, 0.0);
    assert_eq!(
        c.origin("serve.score_every_hours"),
        Some(&Origin::Flag("--score-every-hours".into()))
    );
    // Untouched settings keep their defaults.
    assert_eq!(c.jobs.poll_ms, 500);
    assert_eq!(c.origin("jobs.poll_ms"), Some(&Origin::Default));

    let sources: HashMap<String, String> = c.show_json()["settings"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, s)| (key.clone(), s["source"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(sources["serve.bind"], format!("file:{}", file.display()));
    assert_eq!(sources["serve.workers"], "env:KANTA_SERVE__WORKERS");
    assert_eq!(
        sources["serve.score_every_hours"],
        "flag:--score-every-hours"
    );
    assert_eq!(sources["jobs.poll_ms"], "default");
}

#[test]
fn the_data_folder_comes_from_flags_or_environment_and_holds_the_file() {
    let (dir, file) = data_folder("[mail]\ntimeout_seconds = 30\n");
    let data = dir.path().to_str().unwrap();
    // --data (the CLI passes it as the override store.data), and KANTA_STORE__DATA.
    for o in [
        LoadOptions {
            overrides: pairs(&[("store.data", data)]),
            ..LoadOptions::default()
        },
        LoadOptions {
            env: pairs(&[("KANTA_STORE__DATA", data)]),
            ..LoadOptions::default()
        },
    ] {
        let c = Config::load(&o).unwrap();
        assert_eq!(c.mail.timeout_seconds, 30);
        assert_eq!(c.store.data, dir.path());
        assert_eq!(c.file(), Some(file.as_path()));
        assert_eq!(
            c.database_url(),
            format!("sqlite://{}", dir.path().join("kanta.db").display())
        );
    }
    assert_eq!(
        Config::load(&LoadOptions {
            overrides: pairs(&[("store.data", data)]),
            ..LoadOptions::default()
        })
        .unwrap()
        .origin("store.data"),
        Some(&Origin::Flag("--data".into()))
    );

    // The file in the data folder cannot move the folder.
    let (dir, _) = data_folder("[store]\ndata = \"/elsewhere\"\n");
    let e = load_err(&in_folder(dir.path()));
    assert!(e.contains("line 2: store.data: cannot be set"), "{e}");
}

#[test]
fn legacy_variables_are_not_settings_and_flags_keep_working() {
    let empty = tempfile::tempdir().unwrap();
    let o = LoadOptions {
        // What clap reads from KANTA_DATA / KANTA_DATABASE_URL arrives as flags.
        env: pairs(&[
            ("KANTA_DATA", "/ignored"),
            ("KANTA_DATABASE_URL", "postgres://ignored"),
            ("KANTA_LOG", "debug"),
            ("KANTA_TEST_PG_URL", "x"),
            ("KANTA_TEST_SOMETHING__ODD", "x"),
        ]),
        overrides: pairs(&[
            ("store.data", empty.path().to_str().unwrap()),
            ("store.database_url", "postgres://kanta:pw@localhost/kanta"),
        ]),
        ..LoadOptions::default()
    };
    let c = Config::load(&o).unwrap();
    assert_eq!(c.store.data, empty.path());
    assert_eq!(c.database_url(), "postgres://kanta:pw@localhost/kanta");
    assert_eq!(
        c.origin("store.database_url"),
        Some(&Origin::Flag("--database-url".into()))
    );
    let shown = c.show();
    let url = shown
        .iter()
        .find(|s| s.key == "store.database_url")
        .unwrap();
    assert_eq!(url.value, "postgres://kanta:***@localhost/kanta");
    assert!(url.secret);
}

#[test]
fn an_explicit_file_must_exist_and_may_set_the_data_folder() {
    let (dir, file) = data_folder("[store]\ndata = \"/srv/kanta\"\n");
    for o in [
        LoadOptions {
            file: Some(file.clone()),
            ..LoadOptions::default()
        },
        LoadOptions {
            env: pairs(&[("KANTA_CONFIG", file.to_str().unwrap())]),
            ..LoadOptions::default()
        },
    ] {
        let c = Config::load(&o).unwrap();
        assert_eq!(c.store.data, PathBuf::from("/srv/kanta"));
        assert_eq!(c.origin("store.data"), Some(&Origin::File(file.clone())));
    }
    let missing = dir.path().join("nope.toml");
    let e = Config::load(&LoadOptions {
        file: Some(missing.clone()),
        ..LoadOptions::default()
    })
    .unwrap_err();
    assert!(matches!(&e, ConfigError::Missing { path } if *path == missing));
    assert_eq!(
        e.to_string(),
        format!("the settings file {} does not exist", missing.display())
    );
}

#[test]
fn secrets_from_the_file_never_show() {
    let (dir, _) = data_folder(
        "[mail]\nsmtp_url = \"smtps://kanta:smtp-hunter2@mail.example.com:465\"\n\n\
         [security]\nsecret_key = \"key-hunter2-0123456789abcdef0123456789\"\n\n\
         [store]\ndatabase_url = \"postgres://kanta:db-hunter2@db.example.com/kanta\"\n",
    );
    let c = Config::load(&in_folder(dir.path())).unwrap();
    let smtp = c.mail.smtp_url.as_ref().unwrap();
    assert_eq!(
        smtp.expose(),
        "smtps://kanta:smtp-hunter2@mail.example.com:465"
    );
    assert!(c.security.secret_key.is_some());

    let shown = format!("{:?}", c.show());
    let json = c.show_json().to_string();
    let debug = format!("{c:?} {c:#?}");
    let display = format!("{smtp} {smtp:?}");
    for text in [&shown, &json, &debug, &display] {
        assert!(!text.contains("hunter2"), "a secret leaked: {text}");
    }
    assert_eq!(display, "*** ***");

    let value = |key: &str| c.show().into_iter().find(|s| s.key == key).unwrap();
    assert_eq!(value("mail.smtp_url").value, "***");
    assert_eq!(value("security.secret_key").value, "***");
    assert_eq!(
        value("store.database_url").value,
        "postgres://kanta:***@db.example.com/kanta"
    );
    assert!(value("mail.smtp_url").secret && !value("serve.bind").secret);

    // Unset secrets say so.
    let empty = tempfile::tempdir().unwrap();
    let d = Config::load(&in_folder(empty.path())).unwrap();
    let shown = d.show();
    let smtp = shown.iter().find(|s| s.key == "mail.smtp_url").unwrap();
    assert_eq!(smtp.value, "(not set)");
    let json = d.show_json();
    let smtp = &json["settings"]["mail.smtp_url"];
    assert_eq!(smtp["value"], serde_json::Value::Null);
    assert_eq!(smtp["secret"], true);

    // An empty value in the environment turns mail off again.
    let c = Config::load(&LoadOptions {
        env: pairs(&[("KANTA_MAIL__SMTP_URL", "")]),
        ..in_folder(dir.path())
    })
    .unwrap();
    assert_eq!(c.mail.smtp_url, None);

    // Serialize hides, Deserialize reads.
    let s: Secret = serde_json::from_str("\"x-hunter2\"").unwrap();
    assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
}

#[test]
fn bad_values_name_their_source_and_key() {
    let (dir, file) = data_folder("# Kanta\n[serve]\nbind = \"abc\"\n");
    assert_eq!(
        load_err(&in_folder(dir.path())),
        format!(
            "{} line 3: serve.bind: 'abc' is not an address like 127.0.0.1:8080",
            file.display()
        )
    );

    let (dir, file) = data_folder("[serve]\nworkers = \"two\"\n");
    assert_eq!(
        load_err(&in_folder(dir.path())),
        format!(
            "{} line 2: serve.workers: 'two' is not a whole number",
            file.display()
        )
    );

    let (dir, file) = data_folder("[store_defaults]\ncurrency = 978\n");
    let e = load_err(&in_folder(dir.path()));
    assert!(
        e.starts_with(&format!(
            "{} line 2: store_defaults.currency:",
            file.display()
        )),
        "{e}"
    );

    let empty = tempfile::tempdir().unwrap();
    let with_env = |name: &str, value: &str| {
        load_err(&LoadOptions {
            env: pairs(&[(name, value)]),
            ..in_folder(empty.path())
        })
    };
    assert_eq!(
        with_env("KANTA_SERVE__WORKERS", "x"),
        "environment KANTA_SERVE__WORKERS: 'x' is not a whole number"
    );
    assert_eq!(
        with_env("KANTA_SCORING__MARGIN", "1.5"),
        "environment KANTA_SCORING__MARGIN: '1.5' is not a share of revenue: more than 0, at most 1"
    );
    assert_eq!(
        with_env("KANTA_STORE_DEFAULTS__LANGUAGE", "sv"),
        "environment KANTA_STORE_DEFAULTS__LANGUAGE: 'sv' is not a language: use fi or en"
    );
    let e = with_env("KANTA_MAIL__SMTP_URL", "http://kanta:hunter2@mail");
    assert!(e.starts_with("environment KANTA_MAIL__SMTP_URL: "), "{e}");
    assert!(!e.contains("hunter2"), "{e}");

    let e = load_err(&LoadOptions {
        overrides: pairs(&[("serve.bind", "localhost")]),
        ..in_folder(empty.path())
    });
    assert_eq!(
        e,
        "flag --bind: 'localhost' is not an address like 127.0.0.1:8080"
    );
    assert!(matches!(
        Config::load(&LoadOptions {
            overrides: pairs(&[("serve.bind", "x")]),
            ..in_folder(empty.path())
        }),
        Err(ConfigError::Invalid {
            key: "serve.bind",
            ..
        })
    ));
}

#[test]
fn unknown_keys_are_errors_with_the_nearest_known_one() {
    let (dir, file) = data_folder("[serve]\nbind = \"127.0.0.1:9000\"\nbnid = 1\n");
    assert_eq!(
        load_err(&in_folder(dir.path())),
        format!(
            "{} line 3: unknown setting serve.bnid; did you mean serve.bind?",
            file.display()
        )
    );

    let (dir, file) = data_folder("[mail]\nsmtp = \"\"\n");
    assert_eq!(
        load_err(&in_folder(dir.path())),
        format!(
            "{} line 2: unknown setting mail.smtp; did you mean mail.smtp_url?",
            file.display()
        )
    );

    let (dir, file) = data_folder("\n[serv]\nbind = \"127.0.0.1:9000\"\n");
    assert_eq!(
        load_err(&in_folder(dir.path())),
        format!(
            "{} line 2: unknown setting [serv]; did you mean [serve]?",
            file.display()
        )
    );

    let (dir, file) = data_folder("bind = \"127.0.0.1:9000\"\n");
    assert_eq!(
        load_err(&in_folder(dir.path())),
        format!(
            "{} line 1: unknown setting bind; did you mean serve.bind?",
            file.display()
        )
    );

    let empty = tempfile::tempdir().unwrap();
    let e = Config::load(&LoadOptions {
        env: pairs(&[("KANTA_SERVE__BNID", "127.0.0.1:9000")]),
        ..in_folder(empty.path())
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "environment KANTA_SERVE__BNID: unknown setting serve.bnid; did you mean KANTA_SERVE__BIND?"
    );
    assert!(matches!(e, ConfigError::Unknown { key, .. } if key == "serve.bnid"));

    assert_eq!(
        load_err(&LoadOptions {
            env: pairs(&[("KANTA_NOTHING__LIKE_IT_AT_ALL", "1")]),
            ..in_folder(empty.path())
        }),
        "environment KANTA_NOTHING__LIKE_IT_AT_ALL: unknown setting nothing.like_it_at_all"
    );

    assert_eq!(
        load_err(&LoadOptions {
            overrides: pairs(&[("serve.workres", "3")]),
            ..in_folder(empty.path())
        }),
        "flag --workres: unknown setting serve.workres; did you mean serve.workers?"
    );
}

#[test]
fn toml_syntax_errors_give_line_and_column() {
    let (dir, file) = data_folder("[serve]\nbind = \"127.0.0.1:9000\"\nworkers = = 3\n");
    let e = Config::load(&in_folder(dir.path())).unwrap_err();
    let ConfigError::Syntax { line, column, .. } = &e else {
        panic!("not a syntax error: {e}");
    };
    assert_eq!((*line, column.is_some()), (Some(3), true));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{} line 3, column ", file.display())),
        "{text}"
    );
    assert!(text.contains("not valid TOML: "), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");

    let (dir, _) = data_folder("[serve]\nworkers = 3\nworkers = 4\n");
    let e = load_err(&in_folder(dir.path()));
    assert!(e.contains("line 3, column 1: not valid TOML"), "{e}");
}

#[test]
fn the_example_names_every_key_once_and_parses_to_the_defaults() {
    // Every `# key = value` line, with its section and the comment above it.
    let mut section = "";
    let mut comment = String::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in EXAMPLE.lines() {
        if let Some(name) = line.strip_prefix('[') {
            section = name.trim_end_matches(']');
            comment.clear();
        } else if let Some(key) = setting_line(line) {
            let full = format!("{section}.{key}");
            let info = SETTINGS
                .iter()
                .find(|s| s.key == full)
                .unwrap_or_else(|| panic!("the example names {full}, no setting"));
            assert!(
                comment.contains(info.description),
                "the comment above {full} lacks its description: {comment}"
            );
            *seen.entry(full).or_default() += 1;
            comment.clear();
        } else if let Some(text) = line.strip_prefix('#') {
            comment.push_str(text.trim());
            comment.push(' ');
        } else {
            comment.clear();
        }
    }
    for s in SETTINGS {
        assert_eq!(seen.get(s.key), Some(&1), "{} in the example", s.key);
    }
    assert_eq!(seen.len(), SETTINGS.len());

    // As shipped (all commented out) and with every line uncommented, it gives the
    // defaults.
    for (text, from_file) in [(EXAMPLE.to_string(), false), (uncommented_example(), true)] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("example.toml");
        std::fs::write(&file, &text).unwrap();
        let c = Config::load(&LoadOptions {
            file: Some(file.clone()),
            ..LoadOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_defaults(&c);
        for s in SETTINGS {
            let expected = if from_file {
                Origin::File(file.clone())
            } else {
                Origin::Default
            };
            assert_eq!(c.origin(s.key), Some(&expected), "{}", s.key);
        }
    }
}

#[test]
fn show_lists_every_setting_with_its_description() {
    let empty = tempfile::tempdir().unwrap();
    let c = Config::load(&in_folder(empty.path())).unwrap();
    let shown = c.show();
    assert_eq!(shown.len(), SETTINGS.len());
    for (s, info) in shown.iter().zip(SETTINGS) {
        assert_eq!(s.key, info.key);
        assert_eq!(s.description, info.description);
        assert_eq!(s.origin, Origin::Default);
    }
    let bind = shown.iter().find(|s| s.key == "serve.bind").unwrap();
    assert_eq!(bind.value, "127.0.0.1:8080");

    let json = c.show_json();
    let settings = json["settings"].as_object().unwrap();
    assert_eq!(settings.len(), SETTINGS.len());
    let workers = &settings["serve.workers"];
    assert_eq!(workers["value"], 2);
    assert_eq!(workers["source"], "default");
    assert_eq!(workers["secret"], false);
    assert_eq!(workers["description"], "Background job workers");
}

//! `kanta score` on the demo's café: the parameters it fits on the store's own
//! transactions recover the ones the demo generated the data with, and SQLite and
//! PostgreSQL give the same run.

use kanta_demo::CAFE;
use serde_json::Value;

use crate::helpers::{Env, stderr};

const AS_OF: &str = "2026-11-01";

fn param(v: &Value, part: &str, name: &str) -> f64 {
    v[part][name]
        .as_f64()
        .unwrap_or_else(|| panic!("{part}.{name} in {v}"))
}

/// Each estimate within three of its standard errors of the stated value (the rule
/// of the demo's own recovery tests); the distance is printed.
fn recovers(fit: &Value, stated: &[(&str, f64)]) {
    for (name, truth) in stated {
        let (est, se) = (param(fit, "params", name), param(fit, "std_errors", name));
        let z = (est - truth) / se;
        eprintln!("  {name}: {est:.4} ± {se:.4}, stated {truth} (z = {z:+.2})");
        assert!(
            z.abs() < 3.0,
            "{name}: {est} ± {se} is {z:.2} SE from {truth}"
        );
    }
}

fn demo(env: &Env) {
    env.ok(&["demo", "--no-serve", "--as-of", AS_OF]);
}

#[test]
fn scores_of_the_demo_cafe_recover_its_generating_parameters() {
    let env = Env::new("sqlite");
    demo(&env);
    let run = env.json(&["score", "--as-of", AS_OF, "--model", "bgnbd"]);
    assert_eq!(run["model"], "bgnbd");
    // Every customer is scored: the café's by their purchases, the B2B accounts by
    // their subscriptions (sBG per plan), the 11 planted ones too (docs/demo.md).
    assert_eq!(run["customers"], 5311);
    assert_eq!(run["currency"], "EUR");
    eprintln!("BG/NBD on the store's day-level purchase summaries:");
    let m = CAFE.purchases;
    recovers(
        &run["fit"],
        &[("r", m.r), ("alpha", m.alpha), ("a", m.a), ("b", m.b)],
    );
    eprintln!("Gamma-Gamma on the repeat customers' mean spend per purchase day:");
    let g = CAFE.spend;
    recovers(&run["spend"], &[("p", g.p), ("q", g.q), ("gamma", g.gamma)]);

    // Tiers cover everyone, the most valuable tier is the smallest.
    let tiers: Vec<u64> = run["tiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert_eq!(tiers.iter().sum::<u64>(), 5311);
    assert!(tiers[0] > 0 && tiers[0] < tiers[1], "{tiers:?}");

    // The forecast grows with the horizon and its interval holds the estimate.
    let f = run["forecast"].as_array().unwrap();
    assert_eq!(
        f.iter()
            .map(|x| x["months"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 3, 12]
    );
    let mut last = 0;
    for x in f {
        let (e, lo, hi) = (
            x["expected_minor"].as_i64().unwrap(),
            x["lower_minor"].as_i64().unwrap(),
            x["upper_minor"].as_i64().unwrap(),
        );
        assert!(lo < e && e < hi && e > last, "{x}");
        last = e;
    }
    // The café's customers spend about 8 € a visit and visit about every third week
    // while active: a month of the existing customers is worth thousands of euros.
    let month = f[0]["expected_minor"].as_i64().unwrap() as f64 / 100.0;
    assert!((5_000.0..50_000.0).contains(&month), "{month}");
}

#[test]
fn the_model_choice_keeps_the_smallest_holdout_error_and_both_stores_agree() {
    let sqlite = Env::new("sqlite");
    let postgres = Env::new("postgres");
    let mut runs = Vec::new();
    for env in [&sqlite, &postgres] {
        demo(env);
        runs.push(env.json(&["score", "--as-of", AS_OF, "--holdout-days", "120"]));
    }
    let run = &runs[0];
    let candidates = run["candidates"].as_array().unwrap();
    let names: Vec<&str> = candidates
        .iter()
        .map(|c| c["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bgnbd", "mbgnbd", "pnbd"]);
    let best = candidates
        .iter()
        .min_by(|a, b| {
            let mae = |c: &Value| c["holdout"]["mae"].as_f64().unwrap();
            mae(a).total_cmp(&mae(b))
        })
        .unwrap();
    assert_eq!(run["model"], best["model"]);
    assert_eq!(run["calibration_end"], "2026-07-04");
    for c in candidates {
        let h = &c["holdout"];
        // the holdout's actual purchases are the same for every candidate
        assert_eq!(h["actual_total"], candidates[0]["holdout"]["actual_total"]);
        assert!(h["correlation"].as_f64().unwrap() > 0.3, "{c}");
    }

    // The same data on PostgreSQL: the same summaries, so the same fit.
    let other = &runs[1];
    assert_eq!(other["model"], run["model"]);
    assert_eq!(other["customers"], run["customers"]);
    for (name, v) in run["fit"]["params"].as_object().unwrap() {
        let (a, b) = (
            v.as_f64().unwrap(),
            other["fit"]["params"][name].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-6 * a.abs(),
            "{name}: SQLite {a}, PostgreSQL {b}"
        );
    }
    assert_eq!(other["tiers"], run["tiers"]);
    assert_eq!(other["forecast"], run["forecast"]);
}

#[test]
fn scoring_refuses_what_it_cannot_score() {
    let env = Env::new("sqlite");
    let out = env.run(&["score", "--as-of", AS_OF]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no orders or subscriptions on or before 2026-11-01"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["score", "--model", "bgbb"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a transaction model"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["score", "--margin", "1.5"]);
    assert!(
        stderr(&out).contains("--margin must be in (0, 1]"),
        "{}",
        stderr(&out)
    );

    // Orders in two currencies are not summed together.
    let tx = env.file(
        "tx.csv",
        "id,customer_id,occurred_at,amount,currency\n\
         t1,c1,2026-01-05,10,EUR\nt2,c1,2026-02-05,12,EUR\nt3,c2,2026-01-07,9,SEK\n",
    );
    env.ok(&["import", "transactions", tx.to_str().unwrap()]);
    let out = env.run(&["score", "--as-of", AS_OF]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("several currencies (EUR (2 orders), SEK (1 orders))"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn kanta_serve_scores_a_store_that_has_no_scores() {
    use rand::{Rng, SeedableRng};
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use crate::users::{Server, http};

    // 300 customers with purchases over the last two years.
    let env = Env::new("sqlite");
    let now = chrono::Utc::now();
    let today = now.date_naive();
    // The job scores as of the store's day (Helsinki), a day ahead of UTC's late at night.
    let store_today = now
        .with_timezone(&kanta_domain::time::DEFAULT_ZONE)
        .date_naive();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut csv = String::from("id,customer_id,occurred_at,amount,currency\n");
    let mut n = 0;
    for c in 0..300 {
        let first = rng.random_range(0..730);
        for _ in 0..rng.random_range(1..12) {
            let day = today - chrono::Duration::days(rng.random_range(0..=first));
            // Noon UTC: on its UTC day whatever the store's time zone.
            csv.push_str(&format!(
                "t{n},c{c},{day}T12:00:00Z,{},EUR\n",
                rng.random_range(3..30)
            ));
            n += 1;
        }
    }
    let tx = env.file("tx.csv", &csv);
    env.ok(&["import", "transactions", tx.to_str().unwrap()]);
    let token = env.ok(&["token", "create", "raportit", "--role", "viewer"]);
    let token = token.trim();

    let mut child = env
        .cmd()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("KANTA_LOG", "kanta=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let _server = Server(child);
    let addr = lines
        .find_map(|l| {
            l.unwrap()
                .split_once(" on http://")
                .map(|(_, rest)| rest.split('/').next().unwrap().to_string())
        })
        .expect("an address");
    let runs = || {
        let a = http(
            &addr,
            &format!(
                "GET /api/v1/model-runs HTTP/1.0\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            ),
        );
        let body = a.split_once("\r\n\r\n").unwrap().1.to_string();
        serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)
    };
    let mut found = Value::Null;
    // The job fits every candidate on a debug build: allow it two minutes.
    for _ in 0..480 {
        let r = runs();
        if r["items"].as_array().is_some_and(|a| !a.is_empty()) {
            found = r["items"][0].clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    if found.is_null() {
        drop(_server);
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        panic!("no run appeared; the server said:\n{}", rest.join("\n"));
    }
    assert_eq!(found["customers"], 300, "{found}");
    assert_eq!(found["as_of"], store_today.to_string());
    // one run: the next is due in 24 hours
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(runs()["items"].as_array().unwrap().len(), 1);
}

//! `kanta score` values subscribers (sBG per plan) and refuses nonsense: data that
//! stopped long before `--as-of`, with nothing written; the analyst's file commands
//! refuse the store's flags.

use crate::helpers::{Env, datasets, stderr};

fn import_cdnow(env: &Env) {
    let file = datasets().join("CDNOW_sample.txt");
    env.ok(&[
        "import",
        "transactions",
        file.to_str().unwrap(),
        "--delimiter",
        "whitespace",
        "--no-header",
        "--map",
        "2=customer_id",
        "--map",
        "3=occurred_at",
        "--map",
        "5=amount",
        "--date-format",
        "%Y%m%d",
        "--currency",
        "USD",
    ]);
}

fn tier_a(env: &Env) -> u64 {
    env.json(&["customers", "list", "--tier", "A"])["total"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn scoring_data_that_ended_in_1998_as_of_today_is_refused_and_writes_nothing() {
    let env = Env::new("sqlite");
    import_cdnow(&env);
    let out = env.run(&["score"]);
    assert!(!out.status.success(), "scored stale data");
    let err = stderr(&out);
    // The newest order's date (1998-06-30, or the day before where the store's zone
    // is ahead of UTC) and the way out.
    assert!(err.contains("the newest order is from 1998-06-"), "{err}");
    assert!(err.contains("91-day holdout"), "{err}");
    assert!(err.contains("--as-of 1998-06-"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(tier_a(&env), 0, "tiers were stored from a refused run");
    // Half a year later, still refused; with no holdout too.
    let out = env.run(&["score", "--as-of", "1998-12-31", "--holdout-days", "0"]);
    assert!(
        stderr(&out).contains("91-day holdout before 1998-12-31"),
        "{}",
        stderr(&out)
    );

    // As of the last order it scores, with a sound model chosen on the holdout.
    let run = env.json(&["score", "--as-of", "1998-06-30"]);
    assert_eq!(run["customers"], 2357);
    assert!(
        ["bgnbd", "mbgnbd", "pnbd"].contains(&run["model"].as_str().unwrap()),
        "{run}"
    );
    for c in run["candidates"].as_array().unwrap() {
        assert!(c["holdout"]["actual_total"].as_f64().unwrap() > 0.0, "{c}");
    }
    for (name, v) in run["fit"]["params"].as_object().unwrap() {
        let v = v.as_f64().unwrap();
        assert!(v.is_finite() && v < 1e6, "{name} = {v}");
    }
    assert!(run["forecast"][2]["expected_minor"].as_i64().unwrap() > 0);
    assert!(tier_a(&env) > 0);
}

/// 60 monthly "Pro" subscriptions started over 2025, every third ended after three
/// or four months, 6 monthly "Tiny" ones (pooled with every monthly one), and 4
/// customers with nothing.
fn subscribers(env: &Env) {
    let mut customers = String::from("id,name,kind,segment\n");
    let mut subs = String::from("id,customer_id,plan,amount,currency,period,started_on,ended_on\n");
    for i in 0..70 {
        customers.push_str(&format!("b{i},Firm {i},company,b2b\n"));
    }
    for i in 0..60u32 {
        let start = chrono::NaiveDate::from_ymd_opt(2025, 1 + i % 12, 1 + i % 27).unwrap();
        let end = if i % 3 == 0 {
            let months = chrono::Months::new(3 + i % 2);
            (start + months).to_string()
        } else {
            String::new()
        };
        subs.push_str(&format!("s{i},b{i},Pro,49.00,EUR,month,{start},{end}\n"));
    }
    for i in 60..66u32 {
        let end = if i == 60 { "2026-02-01" } else { "" };
        subs.push_str(&format!(
            "s{i},b{i},Tiny,12.00,EUR,month,2025-02-01,{end}\n"
        ));
    }
    let c = env.file("customers.csv", &customers);
    let s = env.file("subscriptions.csv", &subs);
    env.ok(&["import", "customers", c.to_str().unwrap()]);
    env.ok(&["import", "subscriptions", s.to_str().unwrap()]);
}

#[test]
fn a_store_of_subscribers_without_orders_is_scored_by_sbg_per_plan() {
    for backend in ["sqlite", "postgres"] {
        let env = Env::new(backend);
        subscribers(&env);
        let run = env.json(&["score", "--as-of", "2026-06-30"]);
        assert_eq!(run["model"], "none", "{backend}");
        // Everyone is valued, those with nothing at 0 in tier D.
        assert_eq!(run["customers"], 70, "{backend}");
        let tiers: u64 = run["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .sum();
        assert_eq!(tiers, 70);
        assert!(run["tiers"][0].as_u64().unwrap() > 0, "{run}");
        let plans = run["subscriptions"]["plans"].as_array().unwrap();
        let pro = plans.iter().find(|p| p["plan"] == "Pro").unwrap();
        assert_eq!(pro["pooled"], false, "{pro}");
        assert_eq!(pro["subscriptions"], 60);
        assert_eq!(pro["churned"], 20);
        // The fitted curve beside Kaplan-Meier on the same histories.
        let (sbg, km) = (
            pro["survival_sbg"].as_array().unwrap(),
            pro["survival_km"].as_array().unwrap(),
        );
        assert_eq!(sbg.len(), km.len());
        assert!(pro["max_gap"].as_f64().unwrap() < 0.15, "{pro}");
        let tiny = plans.iter().find(|p| p["plan"] == "Tiny").unwrap();
        assert_eq!(tiny["pooled"], true, "{tiny}");
        assert!(
            tiny["note"].as_str().unwrap().contains("fewer than 10"),
            "{tiny}"
        );
        // Subscription revenue in the forecast: 40 active Pro at 49.00 a month and
        // 5 Tiny at 12.00, each renewing with some probability.
        let f1 = run["forecast"][0]["expected_minor"].as_i64().unwrap();
        assert!((150_000..=40 * 4_900 + 5 * 1_200).contains(&f1), "{f1}");
        let text = env.ok(&["score", "--as-of", "2026-06-30"]);
        assert!(text.contains("no orders: subscriptions only"), "{text}");
        assert!(
            text.contains("plan Tiny by the month (6): pooled with every month subscription"),
            "{text}"
        );
    }
}

#[test]
fn fit_and_predict_refuse_the_stores_flags() {
    let env = Env::new("sqlite");
    let f = env.file("s.csv", "customer_id,frequency,recency,T\n1,2,30,40\n");
    let params = r#"{"r":0.24,"alpha":4.4,"a":0.79,"b":2.4}"#;
    for cmd in ["fit", "predict"] {
        let mut base = vec![cmd, "--model", "bgnbd", "--input", f.to_str().unwrap()];
        if cmd == "predict" {
            base.extend(["--params", params, "--horizon", "10"]);
        }
        for flag in [["--data", "somewhere"], ["--database-url", "sqlite://x.db"]] {
            let mut c = env.cmd();
            c.args(&base).args(flag);
            let out = c.output().unwrap();
            assert!(!out.status.success(), "{cmd} {flag:?} was accepted");
            let err = stderr(&out);
            assert!(
                err.contains(flag[0]) && err.contains("uses no store"),
                "{cmd}: {err}"
            );
        }
        // `--data=DIR` too.
        let out = env
            .cmd()
            .args(&base)
            .arg("--data=elsewhere")
            .output()
            .unwrap();
        assert!(stderr(&out).contains("uses no store"), "{}", stderr(&out));
    }
}

//! `kanta health fit` and `kanta health predict`: the health scorecard on files, as
//! an analyst runs it (the real binary, the real Telco file).

use std::process::{Command, Output};

use crate::helpers::datasets;

fn kanta(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kanta"))
        .args(args)
        .env_remove("KANTA_DATA")
        .env_remove("KANTA_DATABASE_URL")
        .current_dir(dir)
        .output()
        .expect("run kanta")
}

fn ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = kanta(dir, args);
    assert!(
        out.status.success(),
        "kanta {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn failure(dir: &std::path::Path, args: &[&str]) -> String {
    let out = kanta(dir, args);
    assert!(!out.status.success(), "kanta {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn telco_holdout_auc_and_a_readable_scorecard() {
    let dir = tempfile::tempdir().unwrap();
    let telco = datasets().join("Telco-Customer-Churn.csv");
    let telco = telco.to_str().unwrap();
    let text = ok(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            telco,
            "--target",
            "Churn",
            "--id",
            "customerID",
            "--json",
        ],
    );
    // the acceptance check reads the first number under "auc": it must be the first key
    assert!(
        text.trim_start().starts_with("{\n  \"auc\": 0."),
        "{text:.80}"
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let auc = v["auc"].as_f64().unwrap();
    let brier = v["brier"].as_f64().unwrap();
    // the default is the measure: the mean over 10 stratified 30% holdouts
    // (seeds 1..10; one split's AUC varies by about ±0.01)
    assert_eq!(v["repeats"], 10);
    assert!(auc >= 0.84, "mean holdout AUC {auc}");
    assert!(brier <= 0.14, "mean holdout Brier {brier}");
    let splits = v["splits"].as_array().unwrap();
    let seeds: Vec<u64> = splits.iter().map(|s| s["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, (1..=10).collect::<Vec<u64>>());
    let aucs: Vec<f64> = splits.iter().map(|s| s["auc"].as_f64().unwrap()).collect();
    let mean = aucs.iter().sum::<f64>() / 10.0;
    assert!((mean - auc).abs() < 1e-12, "{mean} vs {auc}");
    let mean_brier = splits
        .iter()
        .map(|s| s["brier"].as_f64().unwrap())
        .sum::<f64>()
        / 10.0;
    assert!((mean_brier - brier).abs() < 1e-12);
    let (lo, hi) = (
        v["auc_min"].as_f64().unwrap(),
        v["auc_max"].as_f64().unwrap(),
    );
    assert!(lo <= auc && auc <= hi && lo < hi, "{lo} {auc} {hi}");
    assert!(aucs.contains(&lo) && aucs.contains(&hi));
    let sd = v["auc_sd"].as_f64().unwrap();
    assert!(sd > 0.0 && sd < 0.03, "sd {sd}");
    // the scorecard shown is the one fitted on all rows
    assert_eq!(v["model_fitted_on"], "all rows");
    assert_eq!(v["model_rows"], 7043);
    assert_eq!(
        v["n_train"].as_u64().unwrap() + v["n_holdout"].as_u64().unwrap(),
        7043
    );
    assert_eq!(v["n_holdout"], 2113);
    assert_eq!(v["events"], 1869);
    assert_eq!(v["calibration"].as_array().unwrap().len(), 10);
    // calibration: all holdout predictions pooled; the top tenth churns far more than
    // the bottom one
    let cal = v["calibration"].as_array().unwrap();
    let pooled: u64 = cal.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(pooled, 10 * 2113);
    assert!(cal[9]["observed_rate"].as_f64().unwrap() > 0.5);
    assert!(cal[0]["observed_rate"].as_f64().unwrap() < 0.05);
    let features = v["features"].as_array().unwrap();
    let names: Vec<&str> = features
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"customerID") && !names.contains(&"Churn"));
    // month-to-month contracts churn more than two-year ones
    let contract = features.iter().find(|f| f["name"] == "Contract").unwrap();
    let weight = |label: &str| {
        contract["bins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["label"] == label)
            .unwrap()["weight"]
            .as_f64()
            .unwrap()
    };
    assert!(weight("Month-to-month") > 0.0 && weight("Two year") < 0.0);
    // TotalCharges' blank cells are missing values: a bin of their own
    let total = features
        .iter()
        .find(|f| f["name"] == "TotalCharges")
        .unwrap();
    assert_eq!(total["kind"], "numeric");
    let missing = total["bins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["label"] == "missing")
        .unwrap();
    // all 11 blank cells: the scorecard is fitted on every row
    assert_eq!(missing["count"], 11, "{missing}");

    // the readable report says the same
    let table = ok(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            telco,
            "--target",
            "Churn",
            "--id",
            "customerID",
        ],
    );
    assert!(table.contains(&format!("AUC {auc:.4}")), "{table}");
    assert!(
        table.contains("mean of 10 holdouts (30% each") && table.contains(&format!("sd {sd:.4}")),
        "{table}"
    );
    assert!(table.contains("Month-to-month"));
    assert!(table.contains("Calibration on the 10 holdouts pooled"));
    assert!(table.contains("fitted on all 7043 rows"), "{table}");
}

#[test]
fn repeats_one_is_a_single_split_and_ten_repeats_are_its_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let telco = datasets().join("Telco-Customer-Churn.csv");
    let telco = telco.to_str().unwrap();
    let fit = |seed: &str, repeats: &str, split: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&ok(
            dir.path(),
            &[
                "health",
                "fit",
                "--input",
                telco,
                "--target",
                "Churn",
                "--id",
                "customerID",
                "--seed",
                seed,
                "--repeats",
                repeats,
                "--split-out",
                split.to_str().unwrap(),
                "--json",
            ],
        ))
        .unwrap()
    };
    // --repeats 1: one split (seed 2), its own figures, no sd
    let one = dir.path().join("one.txt");
    let single = fit("2", "1", &one);
    assert_eq!(single["repeats"], 1);
    assert_eq!(single["splits"].as_array().unwrap().len(), 1);
    assert_eq!(single["splits"][0]["seed"], 2);
    assert_eq!(single["auc"], single["splits"][0]["auc"]);
    assert_eq!(single["auc"], single["auc_min"]);
    assert!(single["auc_sd"].is_null());
    assert_eq!(single["n_holdout"], 2113);
    let pooled: u64 = single["calibration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["count"].as_u64().unwrap())
        .sum();
    assert_eq!(pooled, 2113);
    let auc = single["auc"].as_f64().unwrap();
    assert!((0.8..0.9).contains(&auc), "{auc}");
    // three repeats from seed 1: splits 1, 2, 3; --split-out is the first split's
    let three = dir.path().join("three.txt");
    let v = fit("1", "3", &three);
    let seeds: Vec<u64> = v["splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [1, 2, 3]);
    let first = dir.path().join("first.txt");
    fit("1", "1", &first);
    let split_of = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(split_of(&three), split_of(&first));
    assert_ne!(split_of(&one), split_of(&first), "each seed its own split");
    assert_eq!(split_of(&first).lines().count(), 2114);
    // the penalty chosen on split 1 is reused, so split 2 in the repeats may differ
    // from split 2 alone only by the penalty: close, not necessarily equal
    let again = v["splits"][1]["auc"].as_f64().unwrap();
    assert!((again - auc).abs() < 0.01, "{again} vs {auc}");

    // a bad --repeats names the option
    let err = failure(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            telco,
            "--target",
            "Churn",
            "--repeats",
            "0",
        ],
    );
    assert!(err.contains("--repeats"), "{err}");
}

#[test]
fn a_bad_target_value_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("churn.csv");
    std::fs::write(
        &file,
        "id,plan,usage,churned\n1,basic,\"12,5\",yes\n2,pro,3,no\n3,pro,,maybe\n4,basic,7,no\n",
    )
    .unwrap();
    let err = failure(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            "churn.csv",
            "--target",
            "churned",
            "--id",
            "id",
        ],
    );
    assert!(err.contains("churn.csv:4"), "{err}");
    assert!(err.contains("column churned"), "{err}");
    assert!(err.contains("'maybe'"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // a missing target column lists the columns
    let err = failure(
        dir.path(),
        &["health", "fit", "--input", "churn.csv", "--target", "Churn"],
    );
    assert!(
        err.contains("no column 'Churn'") && err.contains("id, plan, usage, churned"),
        "{err}"
    );
    // one class only
    std::fs::write(&file, "plan,churned\nbasic,no\npro,0\n").unwrap();
    let err = failure(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            "churn.csv",
            "--target",
            "churned",
        ],
    );
    assert!(err.contains("both classes"), "{err}");
    // a missing file
    let err = failure(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            "nothere.csv",
            "--target",
            "churned",
        ],
    );
    assert!(err.contains("nothere.csv"), "{err}");
}

/// A small file with a U-shaped effect of a count and Finnish decimals.
fn synthetic_file(path: &std::path::Path, rows: usize) {
    let mut s = String::from("asiakas;tuotteita;kulutus;paketti;poistui\n");
    let mut x: u64 = 12345;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..rows {
        let k = 1 + (next() * 4.0) as usize;
        let pro = next() < 0.5;
        let spend = next() * 100.0;
        let logit: f64 = match k {
            1 => 0.0,
            2 => -1.5,
            _ => 1.2,
        } + if pro { -0.8 } else { 0.0 }
            - 0.5;
        let churn = next() < 1.0 / (1.0 + (-logit).exp());
        let spend = if i % 20 == 0 {
            String::new()
        } else {
            format!("{spend:.2}").replace('.', ",")
        };
        s.push_str(&format!(
            "A{i};{k};{spend};{};{}\n",
            if pro { "pro" } else { "perus" },
            if churn { "kyllä" } else { "ei" }
        ));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn predict_with_a_saved_scorecard() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_file(&dir.path().join("asiakkaat.csv"), 3000);
    let fit: serde_json::Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            "health",
            "fit",
            "--input",
            "asiakkaat.csv",
            "--target",
            "poistui",
            "--id",
            "asiakas",
            "--save",
            "malli.json",
            "--split-out",
            "holdout.txt",
            "--json",
        ],
    ))
    .unwrap();
    // the U shape: two products churn least
    let products = fit["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "tuotteita")
        .unwrap();
    let w = |l: &str| {
        products["bins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["label"] == l)
            .unwrap()["weight"]
            .as_f64()
            .unwrap()
    };
    assert!(
        w("2") < w("1") && w("1") < w("3") && w("2") < w("4"),
        "{products}"
    );
    // Finnish decimals read as numbers
    let spend = fit["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "kulutus");
    if let Some(spend) = spend {
        assert_eq!(spend["kind"], "numeric");
    }
    let holdout = std::fs::read_to_string(dir.path().join("holdout.txt")).unwrap();
    assert_eq!(holdout.lines().next(), Some("asiakas"));
    assert_eq!(holdout.lines().count() - 1, 900);

    std::fs::write(
        dir.path().join("uudet.csv"),
        "asiakas;tuotteita;kulutus;paketti\nX1;2;10,5;pro\nX2;4;;perus\nX3;1;50;tuntematon\n",
    )
    .unwrap();
    let rows: serde_json::Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            "health",
            "predict",
            "--model",
            "malli.json",
            "--input",
            "uudet.csv",
            "--json",
        ],
    ))
    .unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["id"], "X1");
    let p0 = rows[0]["probability"].as_f64().unwrap();
    let p1 = rows[1]["probability"].as_f64().unwrap();
    // two products on pro: healthy; four on perus: at risk
    assert!(p0 < p1, "{rows:?}");
    assert_eq!(
        rows[0]["health_score"].as_i64().unwrap(),
        (100.0 * (1.0 - p0)).round() as i64
    );
    let f0 = rows[0]["factors"].as_array().unwrap();
    assert!(!f0.is_empty() && f0.len() <= 3);
    // contributions in the target's logit; points are health points
    for f in f0 {
        let c = f["contribution"].as_f64().unwrap();
        assert_eq!(f["points"].as_i64().unwrap(), (-10.0 * c).round() as i64);
    }
    // CSV without --json
    let csv = ok(
        dir.path(),
        &[
            "health",
            "predict",
            "--model",
            "malli.json",
            "--input",
            "uudet.csv",
        ],
    );
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("asiakas,probability,health_score,factors")
    );
    assert!(lines.next().unwrap().starts_with("X1,"));
    // a bad number in a numeric column names the line and column
    std::fs::write(
        dir.path().join("huono.csv"),
        "asiakas;tuotteita;kulutus;paketti\nX1;2;10,5;pro\nX2;kaksi;1;pro\n",
    )
    .unwrap();
    let err = failure(
        dir.path(),
        &[
            "health",
            "predict",
            "--model",
            "malli.json",
            "--input",
            "huono.csv",
        ],
    );
    assert!(
        err.contains("huono.csv:3") && err.contains("tuotteita") && err.contains("'kaksi'"),
        "{err}"
    );
}

//! `kanta report recovery` on the demo: the tables in English and the same report as
//! valid JSON, on both backends; for the café's customers (`--segment kahvila`) the
//! demo's built-in effect as docs/demo.md states it; a bad date, kind or segment is
//! refused with the flag named.

use crate::helpers::{BACKENDS, Env, stderr};

const AS_OF: &str = "2026-11-01";

#[test]
fn recovery_report_prints_tables_and_json_on_the_demo() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.ok(&["demo", "--no-serve", "--as-of", AS_OF]);

        let r = env.json(&["report", "recovery", "--as-of", AS_OF]);
        assert_eq!(r["as_of"], AS_OF, "{backend}: {r}");
        let groups = r["groups"].as_array().expect("groups");
        let keys: Vec<&str> = groups.iter().map(|g| g["key"].as_str().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "never",
                "within_sla",
                "late",
                "unresolved",
                "our_fault",
                "not_our_fault"
            ],
            "{backend}"
        );
        let customers = |k: &str| {
            groups.iter().find(|g| g["key"] == k).unwrap()["customers"]
                .as_u64()
                .unwrap()
        };
        assert!(customers("never") > 100, "{backend}: {r}");
        // The outcome groups and the fault groups each split all case customers.
        assert_eq!(
            customers("within_sla") + customers("late") + customers("unresolved"),
            customers("our_fault") + customers("not_our_fault"),
            "{backend}"
        );
        for g in groups {
            for p in g["survival"].as_array().unwrap() {
                let (s, lo, hi) = (
                    p["s"].as_f64().unwrap(),
                    p["lo"].as_f64().unwrap(),
                    p["hi"].as_f64().unwrap(),
                );
                assert!(
                    lo <= s && s <= hi && (0.0..=1.0).contains(&s),
                    "{backend}: {p}"
                );
            }
            let rate = &g["repurchase_90"];
            if let Some(p) = rate["p"].as_f64() {
                assert!(rate["lo"].as_f64().unwrap() <= p && p <= rate["hi"].as_f64().unwrap());
            }
        }
        let comparisons = r["comparisons"].as_array().unwrap();
        assert_eq!(comparisons.len(), 5 * 4, "{backend}");
        for c in comparisons {
            assert_eq!(c["against"], "never");
            assert!(
                ["better", "worse", "cannot tell", "too few"]
                    .contains(&c["verdict"].as_str().unwrap()),
                "{backend}: {c}"
            );
        }
        assert!(r["note"].as_str().unwrap().len() > 20, "{backend}: {r}");
        assert_eq!(r["currency"], "EUR", "{backend}");

        // The café's customers: the demo's built-in effect as docs/demo.md states it,
        // each stated figure inside its group's 95% interval, and "worse" for never
        // put right against never had a case.
        let cafe = env.json(&[
            "report",
            "recovery",
            "--as-of",
            AS_OF,
            "--segment",
            "kahvila",
        ]);
        assert_eq!(cafe["segment"], "kahvila", "{backend}");
        let cafe_groups = cafe["groups"].as_array().unwrap();
        let all_customers: u64 = ["never", "within_sla", "late", "unresolved"]
            .iter()
            .map(|k| {
                cafe_groups.iter().find(|g| g["key"] == *k).unwrap()["customers"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        // 5,000 generated and 8 planted (docs/demo.md: costs and endings).
        assert_eq!(all_customers, 5_008, "{backend}: the café's customers only");
        for (key, stated) in stated_repurchase_180() {
            let g = cafe_groups.iter().find(|g| g["key"] == key).unwrap();
            let rate = &g["repurchase_180"];
            let (lo, hi) = (rate["lo"].as_f64().unwrap(), rate["hi"].as_f64().unwrap());
            assert!(
                rate["n"].as_u64().unwrap() >= 80 && lo <= stated && stated <= hi,
                "{backend}: {key}: stated {stated}, measured {rate}"
            );
        }
        let verdict = |group: &str| {
            cafe["comparisons"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["group"] == group && c["measure"] == "repurchase_180")
                .unwrap()["verdict"]
                .clone()
        };
        assert_eq!(verdict("unresolved"), "worse", "{backend}: {cafe}");
        // Companies only: no café customer among them.
        let b2b = env.json(&["report", "recovery", "--as-of", AS_OF, "--kind", "company"]);
        let never = &b2b["groups"][0];
        assert!(
            never["customers"].as_u64().unwrap() <= 300,
            "{backend}: {never}"
        );
        let text = env.ok(&[
            "report",
            "recovery",
            "--as-of",
            AS_OF,
            "--segment",
            "kahvila",
        ]);
        assert!(
            text.contains("Only customers of segment kahvila."),
            "{text}"
        );

        // Finnish dates too; table headers are printed in capitals.
        let text = env
            .ok(&["report", "recovery", "--as-of", "1.11.2026"])
            .to_lowercase();
        for words in [
            "recovery as of 2026-11-01",
            "never had a case",
            "resolved within sla",
            "not resolved",
            "repurchase in 90 days",
            "against customers who never had a case:",
            "verdict",
        ] {
            assert!(text.contains(words), "{backend}: no '{words}' in\n{text}");
        }
    }
}

/// The 180-day repurchase docs/demo.md states per group for the café (its table in
/// "The built-in recovery effect"), as shares, by the report's group keys.
fn stated_repurchase_180() -> Vec<(&'static str, f64)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/demo.md");
    let docs = std::fs::read_to_string(path).expect("docs/demo.md");
    let section = &docs[docs
        .find("### The built-in recovery effect (café)")
        .expect("the recovery section")..];
    [
        ("never", "| never had a case |"),
        ("within_sla", "| resolved within SLA |"),
        ("late", "| resolved late |"),
        ("unresolved", "| never put right |"),
    ]
    .into_iter()
    .map(|(key, row)| {
        let line = section
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row '{row}' in docs/demo.md"));
        // | group | q | stated | ... : the third cell, "50 %".
        let stated = line.split('|').nth(3).unwrap().trim();
        let pct: f64 = stated
            .trim_end_matches('%')
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("'{stated}' in '{line}'"));
        (key, pct / 100.0)
    })
    .collect()
}

#[test]
fn recovery_report_refuses_a_bad_date() {
    let env = Env::new(BACKENDS[0]);
    env.ok(&["init"]);
    let out = env.run(&["report", "recovery", "--as-of", "31.13.2024"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--as-of") && err.contains("31.13.2024"),
        "{err}"
    );
    // A day after today is refused, the flag named, not computed silently.
    let out = env.run(&["report", "recovery", "--as-of", "2099-01-01"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--as-of") && err.contains("2099-01-01") && err.contains("after today"),
        "{err}"
    );
    // A kind or a segment no customer can have is refused, the flag named.
    let out = env.run(&["report", "recovery", "--kind", "robot"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--kind") && err.contains("person"), "{err}");
    let out = env.run(&["report", "recovery", "--segment", "nobody"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--segment") && err.contains("nobody"), "{err}");
    // An empty store says there is nothing to compare.
    let text = env.ok(&["report", "recovery", "--as-of", "2024-12-31"]);
    assert!(text.contains("nothing to compare"), "{text}");
}

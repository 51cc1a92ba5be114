//! `kanta report recovery` on the demo: the tables in English and the same report as
//! valid JSON, on both backends; a bad date is refused with the flag named.

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
    // An empty store says there is nothing to compare.
    let text = env.ok(&["report", "recovery", "--as-of", "2024-12-31"]);
    assert!(text.contains("nothing to compare"), "{text}");
}

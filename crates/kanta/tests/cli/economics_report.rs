//! `kanta report economics [--json]`: on a store with ended customers and acquisition
//! costs but no model run (both backends), the churn stages, the mean acquisition
//! cost and what is missing said in words; on the demo (SQLite), what five more
//! points of 12-month retention are worth, with an interval that holds it.

use crate::helpers::{BACKENDS, Env};

#[test]
fn economics_without_a_model_run_says_what_is_missing() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let customers = env.file(
            "customers.csv",
            "id,name,acquired_on,status,ended_on,end_reason_code,acquisition_cost\n\
             c1,Kahvila Uusi,2026-01-01,ended,2026-01-20,moved_away,30\n\
             c2,Paja Oy,2024-01-01,ended,2026-06-01,unprofitable,\n\
             c3,Aktiivinen,2025-01-01,active,,,50\n",
        );
        env.ok(&["import", "customers", customers.to_str().unwrap()]);
        let r = env.json(&["report", "economics"]);
        assert_eq!(r["churn"]["ended"], 2, "{backend}: {r}");
        let stage = |name: &str| {
            r["churn"]["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["stage"] == name)
                .cloned()
                .unwrap()
        };
        assert_eq!(stage("onboarding")["reasons"][0][0], "moved_away", "{r}");
        assert_eq!(stage("established")["reasons"][0][0], "unprofitable", "{r}");
        assert_eq!(r["acquisition"]["customers"], 2, "{r}");
        assert_eq!(r["acquisition"]["mean_minor"], 4000, "{r}");
        assert!(r["five_points"].is_null(), "{r}");
        assert!(
            r["five_points_note"]
                .as_str()
                .unwrap()
                .contains("kanta score"),
            "{r}"
        );
        let text = env.ok(&["report", "economics"]);
        for want in [
            "No five-points figure",
            "Winning a customer: €40.00 on average (2 customers",
            "Keeping a customer: no profitability pass yet",
            "Churn by journey stage (2 ended customers",
            "moved_away 1",
        ] {
            assert!(text.contains(want), "{backend}: no {want:?} in {text}");
        }
    }
}

#[test]
fn economics_of_the_demo_prices_five_points_of_retention() {
    let env = Env::new("sqlite");
    env.ok(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
    let r = env.json(&["report", "economics"]);
    let f = &r["five_points"];
    assert!(f.is_object(), "{r}");
    for h in 0..2 {
        let gain = f["gain_minor"][h].as_i64().unwrap();
        let lo = f["interval_minor"][h][0].as_i64().unwrap();
        let hi = f["interval_minor"][h][1].as_i64().unwrap();
        assert!(gain > 0 && lo <= gain && gain <= hi, "{f}");
    }
    assert!(
        f["buyers"].is_object() && f["subscribers"].is_object(),
        "{f}"
    );
    let text = env.ok(&["report", "economics"]);
    assert!(
        text.contains("Five more points of 12-month retention are worth €"),
        "{text}"
    );
    assert!(text.contains("95% interval"), "{text}");
}

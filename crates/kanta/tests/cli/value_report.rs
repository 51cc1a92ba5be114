//! `kanta report value` with the real binary: after `kanta demo` (which runs the
//! profitability pass) the unprofitable list names the demo's planted unprofitable
//! customers (docs/demo.md), each with its reasons in words, in English and Finnish;
//! `--refresh` runs the pass again; `--show` lists the customers behind a figure and a
//! bad one is refused naming the flag's value.

use crate::helpers::Env;

/// Every unprofitable customer, through `--show unprofitable`'s pages.
fn unprofitable(env: &Env) -> Vec<serde_json::Value> {
    let mut ids = Vec::new();
    for page in 0..40 {
        let p = page.to_string();
        let j = env.json(&["report", "value", "--show", "unprofitable", "--page", &p]);
        let rows = j["customers"].as_array().unwrap().clone();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert_eq!(r["unprofitable"], true, "{r}");
            ids.push(r);
        }
    }
    ids
}

#[test]
fn the_demos_unprofitable_customers_are_named_with_their_reasons() {
    let env = Env::new("sqlite");
    env.ok(&["demo", "--no-serve", "--as-of", "2026-11-01"]);
    let v = env.json(&["report", "value"]);
    assert_eq!(v["run"]["as_of"], "2026-11-01", "{}", v["run"]);
    assert!(
        v["totals"]["unprofitable"].as_i64().unwrap() >= 6,
        "{}",
        v["totals"]
    );

    let rows = unprofitable(&env);
    for c in kanta_demo::UNPROFITABLE.iter() {
        let row = rows
            .iter()
            .find(|r| r["id"] == c.id)
            .unwrap_or_else(|| panic!("{} is not on the unprofitable list", c.id));
        // Five high-severity cases at 2 h of 40,00 €/h.
        assert_eq!(row["cost_cases_minor"], 40_000, "{row}");
        assert_eq!(
            row["reason_words"][0], "5 high-severity cases cost €400.00",
            "{row}"
        );
    }

    // The tables in words, in English and Finnish.
    let text = env.ok(&["report", "value"]);
    assert!(text.contains("Unprofitable customers ("), "{text}");
    assert!(text.contains("high-severity cases cost"), "{text}");
    let fi = env.ok(&["report", "value", "--lang", "fi", "--show", "unprofitable"]);
    assert!(fi.contains("Vaativa Oy"), "{fi}");
    assert!(
        fi.contains("vakavuudeltaan korkeaa tapausta maksoi"),
        "{fi}"
    );

    // --refresh runs the pass as of a given day.
    let again = env.ok(&["report", "value", "--refresh", "--as-of", "2026-10-31"]);
    assert!(
        again.contains("Profitability computed as of 2026-10-31"),
        "{again}"
    );

    let bad = env.run(&["report", "value", "--show", "everything"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("show") && err.contains("everything"), "{err}");
}

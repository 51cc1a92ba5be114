//! Ended relationships in the demo (issue 14): every ended customer has a reason code,
//! the B2B firms that left on their own `other`, and the café customers the business
//! ended ([`ENDED_BY_US`]) with their own codes, notes and end dates, at each stage.

use std::collections::HashMap;

use kanta_demo::endings::ENDED_BY_US;
use kanta_demo::{DemoConfig, generate};
use kanta_domain::Value;

#[test]
fn every_ended_customer_has_a_reason_code() {
    let cfg = DemoConfig {
        cafe_customers: 400,
        b2b_accounts: 120,
        ..DemoConfig::default()
    };
    let batches = generate(&cfg);
    let customers = batches
        .iter()
        .find(|b| b.entity.name == "customers")
        .expect("customers");
    let names: Vec<&str> = customers.fields.iter().map(|f| f.name).collect();
    let at = |n: &str| 1 + names.iter().position(|x| *x == n).unwrap();
    let mut codes: HashMap<String, usize> = HashMap::new();
    let mut ended = 0;
    for row in customers.values.chunks(customers.stride()) {
        if row[at("status")] != Value::Text("ended".into()) {
            assert!(row[at("end_reason_code")].is_null(), "{:?}", row[0]);
            continue;
        }
        ended += 1;
        assert!(!row[at("ended_on")].is_null(), "{:?}", row[0]);
        let code = row[at("end_reason_code")]
            .as_text()
            .expect("a code")
            .to_string();
        *codes.entry(code).or_default() += 1;
        if let Some(e) = ENDED_BY_US.iter().find(|e| Some(e.id) == row[0].as_text()) {
            assert_eq!(row[at("end_reason_code")].as_text(), Some(e.reason_code));
            assert_eq!(row[at("end_reason")].as_text(), Some(e.note));
        }
    }
    assert!(ended > ENDED_BY_US.len(), "{ended}");
    for code in [
        "unprofitable",
        "breaks_agreements",
        "abusive",
        "moved_away",
        "other",
    ] {
        assert!(codes.get(code).is_some_and(|n| *n > 0), "{code}: {codes:?}");
    }
    let stages: std::collections::BTreeSet<&str> = ENDED_BY_US.iter().map(|e| e.stage).collect();
    assert_eq!(stages.len(), 3);
}

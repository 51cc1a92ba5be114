//! Local time on the command line: times typed without an offset are read in the
//! store's time zone (Europe/Helsinki unless set), shown there with the zone named
//! once; JSON keeps UTC.

use crate::helpers::{Env, stderr};

const ORDERS: &str = "customer_id;occurred_at;amount\n\
                      c1;31.12.2024 klo 10.00;12,50\n\
                      c1;2024-06-01 08:30;4,50\n\
                      c1;2024-06-02T08:30:00Z;3,00\n";

#[test]
fn finnish_times_are_read_and_shown_in_helsinki_time() {
    let env = Env::new("sqlite");
    let f = env.file("orders.csv", ORDERS);
    let s = env.json(&["import", "transactions", f.to_str().unwrap()]);
    assert_eq!(s["inserted"], 3, "{s}");
    let show = env.json(&["customers", "show", "c1"]);
    let at: Vec<&str> = show["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    // Winter UTC+2, summer UTC+3; an explicit Z keeps its instant.
    assert_eq!(
        at,
        [
            "2024-12-31T08:00:00Z",
            "2024-06-02T08:30:00Z",
            "2024-06-01T05:30:00Z"
        ]
    );
    let text = env.ok(&["customers", "show", "c1"]);
    for part in [
        "2024-12-31 10:00",
        "2024-06-02 11:30",
        "2024-06-01 08:30",
        "Europe/Helsinki",
    ] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
}

#[test]
fn a_time_the_clocks_skip_is_refused_by_line_and_field() {
    let env = Env::new("sqlite");
    let f = env.file(
        "spring.csv",
        "customer_id;occurred_at;amount\nc1;30.3.2025 klo 3.30;1\n",
    );
    let out = env.run(&["import", "transactions", f.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("2: occurred_at: '30.3.2025 klo 3.30' does not exist in Europe/Helsinki"),
        "{err}"
    );
    assert_eq!(env.count("transactions"), 0);
}

#[test]
fn the_store_zone_is_a_setting_checked_against_the_database() {
    let env = Env::new("sqlite");
    let out = env
        .cmd()
        .env("KANTA_STORE_DEFAULTS__TIME_ZONE", "Europe/Helsingfors")
        .args(["stats"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("KANTA_STORE_DEFAULTS__TIME_ZONE") && err.contains("like Europe/Helsinki"),
        "{err}"
    );
    // Another zone reads the same text elsewhere.
    let f = env.file("orders.csv", ORDERS);
    let out = env
        .cmd()
        .env("KANTA_STORE_DEFAULTS__TIME_ZONE", "America/New_York")
        .args(["import", "transactions", f.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let show = env.json(&["customers", "show", "c1"]);
    assert_eq!(show["timeline"][0]["at"], "2024-12-31T15:00:00Z", "{show}");
}

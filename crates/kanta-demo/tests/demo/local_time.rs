//! The demo in local time: café orders at café hours in Helsinki, B2B meetings and
//! calls in office hours, and nothing dated after the demo's own "now".

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Europe::Helsinki;
use kanta_demo::{DemoConfig, WriteBatch, generate};
use kanta_domain::Value;

use crate::common::{batch, default_data, rows};

/// Every timestamp of the data: (entity, field, record id, time).
fn timestamps(data: &[WriteBatch]) -> Vec<(&'static str, &'static str, String, DateTime<Utc>)> {
    let mut out = Vec::new();
    for b in data {
        for r in rows(b) {
            for f in &b.fields {
                if let Value::Time(t) = r.get(f.name) {
                    out.push((b.entity.name, f.name, r.id().to_string(), *t));
                }
            }
        }
    }
    out
}

#[test]
fn cafe_orders_happen_at_cafe_hours_in_helsinki() {
    let data = default_data();
    let mut n = 0;
    for r in rows(batch(data, "transactions")) {
        if !r.text("customer_id").unwrap().starts_with("cafe-") {
            continue;
        }
        let local = r.time("occurred_at").unwrap().with_timezone(&Helsinki);
        // Open 7.00-19.00 every day, summer time and winter time alike.
        assert!(
            (7..19).contains(&local.hour()),
            "{} at {local} (Helsinki)",
            r.id()
        );
        n += 1;
    }
    assert!(n > 10_000, "{n} café orders");
}

#[test]
fn b2b_meetings_and_calls_happen_in_office_hours() {
    let data = default_data();
    let mut n = 0;
    for r in rows(batch(data, "interactions")) {
        if !r.text("customer_id").unwrap().starts_with("b2b-") {
            continue;
        }
        let local = r.time("occurred_at").unwrap().with_timezone(&Helsinki);
        assert!(
            (8..17).contains(&local.hour())
                && !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
            "{} at {local} (Helsinki)",
            r.id()
        );
        n += 1;
    }
    assert!(n > 1_000, "{n} B2B interactions");
}

#[test]
fn b2b_cases_are_put_right_in_office_hours_but_outages_when_they_end() {
    let data = default_data();
    let (mut office, mut outages) = (0, 0);
    for r in rows(batch(data, "cases")) {
        let Some(done) = r.time("resolved_at") else {
            continue;
        };
        if !r.text("customer_id").unwrap().starts_with("b2b-") {
            continue;
        }
        if r.text("category") == Some("outage") {
            outages += 1;
            continue;
        }
        // Critical cases run on calendar hours, around the clock.
        if r.text("severity") == Some("critical") {
            continue;
        }
        let local = done.with_timezone(&Helsinki);
        assert!(
            (8..17).contains(&local.hour())
                && !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
            "{} resolved at {local} (Helsinki)",
            r.id()
        );
        office += 1;
    }
    assert!(office > 100, "{office} cases resolved in office hours");
    assert!(outages > 0, "no outage in the demo");
}

#[test]
fn nothing_is_dated_after_the_demos_now() {
    // The default (winter), a summer day, and a Saturday (accounts won that weekend
    // sign on their day, not on the Monday after "now").
    let summer = DemoConfig {
        as_of: NaiveDate::from_ymd_opt(2025, 7, 19).unwrap(),
        cafe_customers: 500,
        b2b_accounts: 300,
        ..DemoConfig::default()
    };
    let summer_data = generate(&summer);
    for (cfg, data) in [
        (DemoConfig::default(), default_data()),
        (summer, summer_data.as_slice()),
    ] {
        let now = cfg.now();
        // Midnight in Helsinki after as_of.
        let local_now = now.with_timezone(&Helsinki);
        assert_eq!(
            (local_now.date_naive(), local_now.hour(), local_now.minute()),
            (cfg.as_of.succ_opt().unwrap(), 0, 0)
        );
        let all = timestamps(data);
        let latest = all.iter().max_by_key(|(.., t)| *t).unwrap();
        assert!(latest.3 <= now, "{latest:?} after the demo's now {now}");
        // Data run up to the end: the café sold on the last day.
        let last_order = all
            .iter()
            .filter(|(e, ..)| *e == "transactions")
            .map(|(.., t)| *t)
            .max()
            .unwrap();
        assert!(
            now - last_order < chrono::TimeDelta::days(2),
            "{last_order}"
        );
        // Dates too, but a running subscription's next renewal and the due dates of
        // onboarding steps and goals, future dates by nature.
        for b in data {
            for r in rows(b) {
                for f in &b.fields {
                    if let Value::Date(d) = r.get(f.name)
                        && !(b.entity.name == "subscriptions" && f.name == "renews_on")
                        && f.name != "due_on"
                    {
                        assert!(
                            *d <= cfg.as_of,
                            "{} {} {}: {d}",
                            b.entity.name,
                            r.id(),
                            f.name
                        );
                    }
                }
            }
        }
    }
}

//! A customer's timeline filtered by kind and paged, with the staff members it names,
//! and their usage week by week, on both backends.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, INTERACTIONS, STAFF, TRANSACTIONS, USAGE_EVENTS};
use kanta_store::WriteBatch;
use kanta_store::timeline::usage_weeks_of;

use crate::{each_backend, fields, text};

fn at(days_after: i64) -> Value {
    // Monday 1 January 2024, noon.
    Value::Time(Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap() + Duration::days(days_after))
}

#[tokio::test]
async fn the_timeline_filters_by_kind_pages_and_names_staff() {
    each_backend(|store| async move {
        let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name"]));
        s.push("st-1".into(), [text("Sari Saarinen")]);
        s.push("st-2".into(), [text("  ")]);
        store.write(&s).await.unwrap();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("k".into(), [text("Kauko")]);
        store.write(&c).await.unwrap();
        let mut t = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency"],
            ),
        );
        for i in 0..5 {
            t.push(
                format!("o{i}"),
                [text("k"), at(i * 10), Value::Int(500), text("EUR")],
            );
        }
        store.write(&t).await.unwrap();
        let mut n = WriteBatch::new(
            &INTERACTIONS,
            fields(
                &INTERACTIONS,
                &["customer_id", "occurred_at", "kind", "staff_id"],
            ),
        );
        for i in 0..7 {
            let staff = match i % 3 {
                0 => text("st-1"),
                1 => text("st-2"),
                _ => Value::Null,
            };
            n.push(
                format!("i{i}"),
                [text("k"), at(i * 7 + 1), text("call"), staff],
            );
        }
        store.write(&n).await.unwrap();
        let mut u = WriteBatch::new(
            &USAGE_EVENTS,
            fields(
                &USAGE_EVENTS,
                &["customer_id", "occurred_at", "metric", "value"],
            ),
        );
        for i in 0..40 {
            u.push(
                format!("u{i}"),
                [text("k"), at(i * 2), text("logins"), Value::Float(i as f64)],
            );
        }
        store.write(&u).await.unwrap();
        // A subscription started and ended: two events on date columns.
        let b = crate::subscriptions::sub_batch(&[(
            "s1",
            "k",
            "basic",
            900,
            "month",
            NaiveDate::from_ymd_opt(2024, 1, 15).unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 20),
        )]);
        store.write(&b).await.unwrap();
        let k = store.customer("k").await.unwrap().unwrap();

        // Everything: 5 + 7 + 40 + 2.
        let all = store.timeline_page(k.id, None, 1000).await.unwrap();
        assert_eq!(all.events.len(), 54);
        let ids = |events: &[kanta_store::TimelineEvent]| -> Vec<(String, String)> {
            events
                .iter()
                .map(|e| (e.record.external_id.clone(), e.kind.clone()))
                .collect()
        };
        // Paged, five at a time across every source (the sources holding events
        // before each cursor probed first): the same events in the same order.
        let mut cursor = None;
        let mut paged = Vec::new();
        loop {
            let page = store.timeline_page(k.id, cursor, 5).await.unwrap();
            paged.extend(ids(&page.events));
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(paged, ids(&all.events));
        assert!(paged.contains(&("s1".to_string(), "subscription_ended".to_string())));
        // By the customer's external id (the API's route), paged the same way: the
        // same events; an id nobody has: none.
        let mut cursor = None;
        let mut by_external = Vec::new();
        loop {
            let page = store
                .timeline_page_by_external_id("k", cursor, 7)
                .await
                .unwrap()
                .expect("customer k");
            by_external.extend(ids(&page.events));
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(by_external, ids(&all.events));
        assert!(
            store
                .timeline_page_by_external_id("nobody", None, 7)
                .await
                .unwrap()
                .is_none()
        );
        // Only interactions, three a page, newest first, with staff names.
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let page = store
                .timeline_page_of(k.id, Some(&["interactions"]), cursor, 3)
                .await
                .unwrap();
            assert!(page.events.iter().all(|e| e.entity == "interactions"));
            for e in &page.events {
                if e.record.text("staff_id") == Some("st-1") {
                    assert_eq!(
                        page.staff.get("st-1").map(String::as_str),
                        Some("Sari Saarinen")
                    );
                }
            }
            assert!(!page.staff.contains_key("st-2"), "a blank name is no name");
            seen.extend(page.events.iter().map(|e| e.record.external_id.clone()));
            match page.next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, ["i6", "i5", "i4", "i3", "i2", "i1", "i0"]);
        // Two kinds at once; none of the rest.
        let page = store
            .timeline_page_of(k.id, Some(&["transactions", "usage"]), None, 100)
            .await
            .unwrap();
        assert_eq!(page.events.len(), 45);
        assert!(page.staff.is_empty());
        let none = store
            .timeline_page_of(k.id, Some(&[]), None, 100)
            .await
            .unwrap();
        assert!(none.events.is_empty() && none.next.is_none());
    })
    .await;
}

#[tokio::test]
async fn usage_is_summed_up_week_by_week_with_the_customers_own_baseline() {
    each_backend(|store| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("k".into(), [text("Kauko")]);
        c.push("none".into(), [text("Ei käyttöä")]);
        store.write(&c).await.unwrap();
        let mut u = WriteBatch::new(
            &USAGE_EVENTS,
            fields(
                &USAGE_EVENTS,
                &["customer_id", "occurred_at", "metric", "value"],
            ),
        );
        // 30 weeks of seats: 10 a week, then 20 in the last week, read twice
        // (Monday and Friday); logins only in some weeks.
        for w in 0..30 {
            let v = if w == 29 { 20.0 } else { 10.0 };
            for (d, x) in [(0, v - 1.0), (4, v + 1.0)] {
                u.push(
                    format!("s{w}-{d}"),
                    [text("k"), at(w * 7 + d), text("seats"), Value::Float(x)],
                );
            }
            if w % 10 == 0 {
                u.push(
                    format!("l{w}"),
                    [text("k"), at(w * 7 + 2), text("logins"), Value::Float(5.0)],
                );
            }
        }
        store.write(&u).await.unwrap();
        let k = store.customer("k").await.unwrap().unwrap();
        let weeks = store.usage_weeks(&k, 12).await.unwrap();
        assert_eq!(weeks.len(), 2);
        let (logins, seats) = (&weeks[0], &weeks[1]);
        assert_eq!(seats.metric, "seats");
        assert_eq!(seats.weeks.len(), 12);
        // The last week is the newest reading's: Monday 29 weeks after 1.1.2024.
        let last = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::weeks(29);
        assert_eq!(seats.weeks[11], last);
        assert_eq!(seats.weeks[0], last - Duration::weeks(11));
        assert_eq!(
            seats.latest(),
            Some(20.0),
            "the mean of the week's readings"
        );
        assert_eq!(seats.values[10], Some(10.0));
        assert_eq!(seats.baseline, Some(10.0));
        assert_eq!(seats.change(), Some(1.0));
        // Logins: in week 20 only of the last 24 (shown, and the baseline), none in
        // the last week.
        assert_eq!(logins.metric, "logins");
        assert_eq!(logins.values.iter().flatten().count(), 1);
        assert_eq!(logins.latest(), None);
        assert_eq!(logins.change(), None);
        assert_eq!(logins.baseline, Some(5.0));

        let none = store.customer("none").await.unwrap().unwrap();
        assert!(store.usage_weeks(&none, 12).await.unwrap().is_empty());
    })
    .await;
}

#[test]
fn weeks_start_on_monday_and_old_readings_are_left_out() {
    let t = |s: &str| s.parse::<chrono::DateTime<Utc>>().unwrap();
    let readings = vec![
        ("m".to_string(), t("2024-03-03T23:59:00Z"), 1.0), // Sunday: week of 26.2.
        ("m".to_string(), t("2024-03-04T00:00:00Z"), 3.0), // Monday: week of 4.3.
        ("m".to_string(), t("2023-01-01T00:00:00Z"), 99.0), // long before: left out
        ("m".to_string(), t("2024-03-05T00:00:00Z"), f64::NAN),
    ];
    let w = usage_weeks_of(readings, t("2024-03-05T10:00:00Z"), 2);
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].weeks,
        [
            NaiveDate::from_ymd_opt(2024, 2, 26).unwrap(),
            NaiveDate::from_ymd_opt(2024, 3, 4).unwrap()
        ]
    );
    assert_eq!(w[0].values, [Some(1.0), Some(3.0)]);
    assert_eq!(w[0].baseline, Some(1.0));
    assert_eq!(w[0].change(), Some(2.0));
}

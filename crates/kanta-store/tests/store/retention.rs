//! Retention figures from a small hand-computed story, on both backends: orders keep a
//! customer active for 90 days, subscriptions while they run, refunds and anything
//! after `as_of` do not count, days are UTC days.

use chrono::{NaiveDate, TimeZone, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CUSTOMERS, SUBSCRIPTIONS, TRANSACTIONS};
use kanta_models::retention::{self, Duration, Span};
use kanta_models::survival::{KmOptions, kaplan_meier};
use kanta_store::retention::LAPSE_DAYS;
use kanta_store::{Store, WriteBatch};

use crate::{each_backend, fields, text};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(y: i32, m: u32, day: u32, h: u32, min: u32, s: u32) -> Value {
    Value::Time(Utc.with_ymd_and_hms(y, m, day, h, min, s).unwrap())
}

fn date(s: &str) -> Value {
    Value::Date(d(s))
}

/// - o1: orders 10.1. (23.59) and 8.4. (89 days later: no lapse) → active on 30.6.
/// - o2: order 5.1. just after midnight, a refund 1.3. (no activity) → stops 4.4.
/// - o3: orders 1.2. and 15.6. (lapsed 1.5., back in June) → kept through the gap.
/// - s1: subscription 1.3.–1.5. → stops 1.5.
/// - s2: open subscription from 15.12.2023, and an order → active.
/// - m1: one order 31.3. at 23.30 UTC → stops 29.6.
/// - f1: an order after `as_of` only; z1: a subscription that ended the day it began.
async fn story(store: &Store) {
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "tier"]));
    for (id, tier) in [
        ("o1", Some("A")),
        ("o2", Some("A")),
        ("o3", Some("C")),
        ("s1", None),
        ("s2", None),
        ("m1", None),
        ("f1", None),
        ("z1", None),
    ] {
        c.push(id.into(), [text(id), tier.map_or(Value::Null, text)]);
    }
    store.write(&c).await.unwrap();

    let mut t = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        ),
    );
    for (n, (who, when, amount, kind)) in [
        ("o1", at(2024, 1, 10, 23, 59, 0), 500, "order"),
        ("o1", at(2024, 4, 8, 12, 0, 0), 500, "order"),
        ("o2", at(2024, 1, 5, 0, 0, 1), 700, "order"),
        ("o2", at(2024, 3, 1, 9, 0, 0), -700, "refund"),
        ("o3", at(2024, 2, 1, 8, 0, 0), 300, "order"),
        ("o3", at(2024, 6, 15, 8, 0, 0), 300, "order"),
        ("s2", at(2024, 2, 2, 8, 0, 0), 900, "order"),
        ("m1", at(2024, 3, 31, 23, 30, 0), 100, "order"),
        ("f1", at(2024, 7, 5, 8, 0, 0), 100, "order"),
    ]
    .into_iter()
    .enumerate()
    {
        t.push(
            format!("t{n}"),
            [text(who), when, Value::Int(amount), text("EUR"), text(kind)],
        );
    }
    store.write(&t).await.unwrap();

    let mut s = WriteBatch::new(
        &SUBSCRIPTIONS,
        fields(
            &SUBSCRIPTIONS,
            &[
                "customer_id",
                "plan",
                "amount",
                "currency",
                "started_on",
                "ended_on",
            ],
        ),
    );
    for (n, (who, start, end)) in [
        ("s1", "2024-03-01", Some("2024-05-01")),
        ("s2", "2023-12-15", None),
        ("z1", "2024-02-10", Some("2024-02-10")),
    ]
    .into_iter()
    .enumerate()
    {
        s.push(
            format!("sub{n}"),
            [
                text(who),
                text("perus"),
                Value::Int(2000),
                text("EUR"),
                date(start),
                end.map_or(Value::Null, date),
            ],
        );
    }
    store.write(&s).await.unwrap();
}

/// (first active day, stop day) of every customer, sorted.
async fn spans(store: &Store, as_of: &str) -> Vec<(NaiveDate, Option<NaiveDate>)> {
    let mut v: Vec<_> = store
        .activity(d(as_of))
        .await
        .unwrap()
        .iter()
        .map(|a| (a.first, a.stopped))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn activity_spans_follow_orders_subscriptions_and_the_lapse_window() {
    assert_eq!(LAPSE_DAYS, 90);
    each_backend(|store| async move {
        story(&store).await;
        assert_eq!(
            spans(&store, "2024-06-30").await,
            [
                (d("2023-12-15"), None),                  // s2
                (d("2024-01-05"), Some(d("2024-04-04"))), // o2
                (d("2024-01-10"), None),                  // o1
                (d("2024-02-01"), None),                  // o3
                (d("2024-03-01"), Some(d("2024-05-01"))), // s1
                (d("2024-03-31"), Some(d("2024-06-29"))), // m1
            ]
        );
        // Earlier, o1's second order has not happened: 10.1. + 90 days is 9.4., after
        // 31.3.; nobody has stopped yet.
        let early = spans(&store, "2024-03-31").await;
        assert_eq!(early.len(), 6);
        assert!(early.iter().all(|(_, s)| s.is_none()));
        assert_eq!(
            spans(&store, "2024-01-09").await,
            [(d("2023-12-15"), None), (d("2024-01-05"), None)]
        );
        // Before o3's return in June, o3 had stopped on 1.5.: its last order as of
        // 31.5. is the one of 1.2., not its newest.
        assert!(
            spans(&store, "2024-05-31")
                .await
                .contains(&(d("2024-02-01"), Some(d("2024-05-01"))))
        );
        // Stopping is only known once the day has come.
        let on_the_day = spans(&store, "2024-04-04").await;
        assert!(on_the_day.contains(&(d("2024-01-05"), Some(d("2024-04-04")))));
        let day_before = spans(&store, "2024-04-03").await;
        assert!(day_before.contains(&(d("2024-01-05"), None)));
    })
    .await;
}

#[tokio::test]
async fn leaky_bucket_cohorts_and_survival_from_the_story() {
    each_backend(|store| async move {
        story(&store).await;
        let as_of = d("2024-06-30");
        let act: Vec<Span> = store
            .activity(as_of)
            .await
            .unwrap()
            .iter()
            .map(|a| Span {
                first: a.first,
                stopped: a.stopped,
            })
            .collect();

        let flows = retention::monthly_flows(&act, as_of, 6);
        let got: Vec<_> = flows
            .iter()
            .map(|m| (m.month, m.start, m.won, m.kept, m.lost, m.end))
            .collect();
        assert_eq!(
            got,
            [
                (d("2024-01-01"), 1, 2, 1, 0, 3),
                (d("2024-02-01"), 3, 1, 3, 0, 4),
                (d("2024-03-01"), 4, 2, 4, 0, 6),
                (d("2024-04-01"), 6, 0, 5, 1, 5),
                (d("2024-05-01"), 5, 0, 4, 1, 4),
                (d("2024-06-01"), 4, 0, 3, 1, 3),
            ]
        );
        for m in &flows {
            assert_eq!(m.won as i64 - m.lost as i64, m.end as i64 - m.start as i64);
        }
        for w in flows.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }

        let c = retention::cohorts(&act, as_of, 6);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.month, c.size, c.active.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (d("2024-01-01"), 2, vec![2, 2, 2, 2, 1, 1]),
                (d("2024-02-01"), 1, vec![1, 1, 1, 1, 1]),
                (d("2024-03-01"), 2, vec![2, 2, 1, 1]),
            ]
        );

        let dur = retention::durations(&act, as_of);
        let obs = |days, stopped, customers| Duration {
            days,
            stopped,
            customers,
        };
        assert_eq!(
            dur,
            [
                obs(61, true, 1),
                obs(90, true, 2),
                obs(151, false, 1),
                obs(173, false, 1),
                obs(199, false, 1),
            ]
        );
        let km = kaplan_meier(
            &dur.iter().map(|o| o.days as f64).collect::<Vec<_>>(),
            &dur.iter().map(|o| o.stopped).collect::<Vec<_>>(),
            Some(&dur.iter().map(|o| o.customers as f64).collect::<Vec<_>>()),
            &KmOptions::default(),
        )
        .unwrap();
        assert!((km.survival_at(61.0) - 5.0 / 6.0).abs() < 1e-12);
        assert!((km.survival_at(90.0) - 0.5).abs() < 1e-12);

        let tiers = store.tier_counts().await.unwrap();
        let got: Vec<_> = tiers.tiers.iter().map(|(t, n)| (t.as_str(), *n)).collect();
        assert_eq!(got, [("A", 2), ("B", 0), ("C", 1), ("D", 0)]);
        assert_eq!(tiers.none, 5);
    })
    .await;
}

//! Purchase days as the store computes them (read from either backend, grouped in
//! Rust) agree with `kanta_models::summary`, which reproduces `lifetimes`, on the same
//! transactions: same-day orders once, refunds left out, days in UTC, a calibration
//! and a holdout split.

use chrono::{Duration, TimeZone, Utc};
use kanta_domain::Value;
use kanta_domain::schema::TRANSACTIONS;
use kanta_domain::time::Tz;
use kanta_models::summary::{TimeUnit, Transaction, calibration_and_holdout, day_number};
use kanta_store::WriteBatch;
use rand::{Rng, SeedableRng};

use crate::{each_backend, fields, text};

#[tokio::test]
async fn purchase_days_in_sql_match_the_models_summary() {
    // 300 customers, up to 30 orders each over 2024, some on the same day, some just
    // before or after midnight UTC, and some refunds.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let mut b = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        ),
    );
    b.create_customers = (0..300).map(|c| format!("c{c}")).collect();
    let mut reference = Vec::new();
    let mut n = 0;
    for c in 0..300u64 {
        let first = rng.random_range(0..300i64);
        for _ in 0..rng.random_range(1..30) {
            let at = start
                + Duration::days(first + rng.random_range(0..365 - first.min(364)))
                + Duration::seconds(rng.random_range(0..86_400));
            let refund = rng.random_bool(0.05);
            let amount = if refund {
                -rng.random_range(100..2000i64)
            } else {
                rng.random_range(100..5000i64)
            };
            b.push(
                format!("t{n}"),
                [
                    text(&format!("c{c}")),
                    Value::Time(at),
                    Value::Int(amount),
                    text("EUR"),
                    text(if refund { "refund" } else { "order" }),
                ],
            );
            n += 1;
            if !refund {
                reference.push(Transaction {
                    customer: c,
                    day: day_number(at.date_naive()),
                    amount: amount as f64,
                });
            }
        }
    }
    let cal_end = day_number(chrono::NaiveDate::from_ymd_opt(2024, 9, 30).unwrap());
    let hold_end = day_number(chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
    let want = calibration_and_holdout(&mut reference, TimeUnit::Day, cal_end, hold_end).unwrap();
    let (b, want) = (&b, &want);
    each_backend(|store| {
        async move {
            store.write(b).await.unwrap();
            let got = store.purchase_days(cal_end, Some(hold_end)).await.unwrap();
            assert_eq!(
                got.len(),
                want.len(),
                "customers with a purchase by the calibration end"
            );
            // Internal ids follow the order customers were created: c0, c1, ...
            let ids = {
                let mut v: Vec<i64> = got.iter().map(|g| g.customer_id).collect();
                v.dedup();
                v
            };
            assert_eq!(ids.len(), got.len());
            for (g, w) in got.iter().zip(want) {
                let who = format!("customer {} / c{}", g.customer_id, w.customer);
                assert_eq!(g.frequency() as f64, w.frequency_cal, "{who}");
                assert_eq!(f64::from(g.last_day - g.first_day), w.recency_cal, "{who}");
                assert_eq!(f64::from(cal_end - g.first_day), w.t_cal, "{who}");
                assert!(
                    (g.monetary_value_minor() - w.monetary_value_cal).abs() < 1e-9,
                    "{who}"
                );
                assert_eq!(g.holdout_days as f64, w.frequency_holdout, "{who}");
            }
            // Without a holdout, nothing is counted after the calibration end.
            let plain = store.purchase_days(cal_end, None).await.unwrap();
            assert!(plain.iter().all(|p| p.holdout_days == 0));
            assert_eq!(plain.len(), got.len());
            // Both windows in one pass: the calibration part is the split above, the
            // whole part is the summary up to the holdout end.
            let both = store.purchase_windows(cal_end, hold_end).await.unwrap();
            let calibration: Vec<_> = both.iter().filter_map(|w| w.calibration).collect();
            assert_eq!(calibration, got);
            let whole: Vec<_> = both.iter().map(|w| w.whole).collect();
            assert_eq!(whole, store.purchase_days(hold_end, None).await.unwrap());
            assert!(
                whole.len() > got.len(),
                "customers first seen in the holdout"
            );
        }
    })
    .await;
}

/// The purchase day in the store's zone, computed in SQL (SQLite: epoch seconds plus
/// the zone's offsets written into the expression; PostgreSQL: `AT TIME ZONE`), is
/// the local calendar day chrono-tz gives: a second before and at local midnight, on
/// both sides of the spring and autumn changes, before 1970, at the domain's ends, and
/// in a zone west of UTC.
#[tokio::test]
async fn purchase_days_are_local_calendar_days_in_the_stores_zone() {
    let instants = [
        "2024-03-30T21:59:59Z",
        "2024-03-30T22:00:00Z",
        "2024-03-31T00:59:59Z",
        "2024-03-31T01:00:00Z",
        "2024-03-31T20:59:59Z",
        "2024-03-31T21:00:00Z",
        "2024-10-26T20:59:59Z",
        "2024-10-26T21:00:00Z",
        "2024-10-27T00:59:59Z",
        "2024-10-27T01:00:00Z",
        "2024-10-27T21:59:59Z",
        "2024-10-27T22:00:00Z",
        "1965-06-15T21:30:00Z",
        "1965-06-15T22:30:00Z",
        "1900-01-01T00:30:00Z",
        "1900-01-01T12:00:00Z",
        "2199-12-31T21:30:00Z",
        "2199-12-31T22:30:00Z",
    ];
    let times: Vec<chrono::DateTime<Utc>> = instants.iter().map(|s| s.parse().unwrap()).collect();
    let mut b = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        ),
    );
    // One order per customer, so the customer's first and last day are that order's.
    b.create_customers = (0..times.len()).map(|c| format!("z{c:02}")).collect();
    for (i, at) in times.iter().enumerate() {
        b.push(
            format!("z{i}"),
            [
                text(&format!("z{i:02}")),
                Value::Time(*at),
                Value::Int(1000),
                text("EUR"),
                text("order"),
            ],
        );
    }
    let end = day_number(chrono::NaiveDate::from_ymd_opt(2200, 12, 31).unwrap());
    let (b, times) = (&b, &times);
    each_backend(|store| async move {
        store.write(b).await.unwrap();
        for zone in [Tz::Europe__Helsinki, Tz::America__New_York] {
            let got = store.purchase_windows_in(zone, end, end).await.unwrap();
            assert_eq!(got.len(), times.len(), "{zone}: one row per customer");
            // Internal ids follow the order customers were created.
            let mut got: Vec<_> = got.iter().map(|w| w.whole).collect();
            got.sort_by_key(|w| w.customer_id);
            for (w, at) in got.iter().zip(times) {
                let want = day_number(at.with_timezone(&zone).date_naive());
                assert_eq!(
                    (w.first_day, w.last_day),
                    (want, want),
                    "{zone}: the order at {at} is on local day {}",
                    at.with_timezone(&zone)
                );
            }
            // An end day keeps exactly the orders on or before it, local day by day.
            for cut in ["2024-03-30", "2024-03-31", "2024-10-26", "2024-10-27"] {
                let cut = day_number(cut.parse().unwrap());
                let kept = store
                    .purchase_windows_in(zone, cut, cut)
                    .await
                    .unwrap()
                    .len();
                let want = times
                    .iter()
                    .filter(|at| day_number(at.with_timezone(&zone).date_naive()) <= cut)
                    .count();
                assert_eq!(kept, want, "{zone}: customers with an order by day {cut}");
            }
        }
    })
    .await;
}

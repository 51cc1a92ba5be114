//! Claims: the derived columns kept in a write's transaction, the approval queue's
//! pages (and their speed at 300,000 cases), the repeat-claim tallies, the small-claim
//! effect's figures grouped in SQL.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CASES, CLAIMS, CUSTOMERS};
use kanta_store::claims::ClaimStamp;
use kanta_store::{RunInfo, Store, WriteBatch};

use crate::{each_backend, fields, raw_execute, t, text};

const CLAIM_FIELDS: &[&str] = &[
    "case_id",
    "claimed_at",
    "amount",
    "currency",
    "kind",
    "status",
];

async fn customers_and_cases(store: &Store, customers: usize, cases: usize) {
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    for i in 0..customers {
        c.push(format!("c{i}"), [text(&format!("Asiakas {i}"))]);
    }
    store.write(&c).await.unwrap();
    let mut k = WriteBatch::new(
        &CASES,
        fields(&CASES, &["customer_id", "opened_at", "category"]),
    );
    for i in 0..cases {
        k.push(
            format!("k{i}"),
            [text(&format!("c{}", i % customers)), t(1), text("quality")],
        );
    }
    store.write(&k).await.unwrap();
}

fn claim(case: &str, day: u32, amount: i64, currency: &str, status: &str) -> Vec<Value> {
    vec![
        text(case),
        t(day),
        Value::Int(amount),
        text(currency),
        text("refund"),
        text(status),
    ]
}

#[tokio::test]
async fn derived_columns_are_filled_in_sets() {
    each_backend(|store| async move {
        customers_and_cases(&store, 2, 2).await;
        let mut w = store
            .writer(&CLAIMS, fields(&CLAIMS, CLAIM_FIELDS))
            .await
            .unwrap();
        let mut b = WriteBatch::new(&CLAIMS, fields(&CLAIMS, CLAIM_FIELDS));
        b.push("small".into(), claim("k0", 2, 3000, "EUR", "approved"));
        b.push("limit".into(), claim("k0", 2, 5000, "EUR", "approved"));
        b.push("large".into(), claim("k1", 3, 12000, "EUR", "approved"));
        b.push("sek".into(), claim("k1", 3, 3000, "SEK", "approved"));
        b.push("waits".into(), claim("k1", 4, 12000, "EUR", "pending"));
        w.write(b).await.unwrap();
        w.merge_written().await.unwrap();
        let ids: Vec<String> = ["small", "limit", "large", "sek", "waits"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let n = w
            .claims_after_write(&ids, 5000, "EUR", "claims.csv")
            .await
            .unwrap();
        assert_eq!(n, 5);
        w.stamp_claim(
            "large",
            ClaimStamp::Decided {
                by: "maija@example.fi",
                auto_approved: false,
            },
        )
        .await
        .unwrap();
        let in_tx = w.claim("small").await.unwrap().unwrap();
        assert!(in_tx.auto_approved, "read in the transaction");
        w.finish(&RunInfo::default()).await.unwrap();

        let small = store.claim("small").await.unwrap().unwrap();
        assert_eq!(small.customer_id.as_deref(), Some("c0"));
        assert_eq!(small.customer_name.as_deref(), Some("Asiakas 0"));
        assert_eq!(small.claimed_by.as_deref(), Some("claims.csv"));
        assert!(
            small.auto_approved,
            "approved, within the limit, no decider"
        );
        assert!(
            store.claim("limit").await.unwrap().unwrap().auto_approved,
            "up to and including the limit"
        );
        let large = store.claim("large").await.unwrap().unwrap();
        assert!(!large.auto_approved);
        assert_eq!(large.decided_by.as_deref(), Some("maija@example.fi"));
        assert!(
            !store.claim("sek").await.unwrap().unwrap().auto_approved,
            "another currency than the limit's"
        );
        assert!(!store.claim("waits").await.unwrap().unwrap().auto_approved);

        let of_case: Vec<String> = store
            .claims_of_case("k1")
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(of_case, ["large", "sek", "waits"]);
        // A rewrite keeps what someone decided.
        let mut w = store
            .writer(&CLAIMS, fields(&CLAIMS, &["status"]))
            .await
            .unwrap();
        w.claims_after_write(&ids, 5000, "EUR", "other.csv")
            .await
            .unwrap();
        w.finish(&RunInfo::default()).await.unwrap();
        let large = store.claim("large").await.unwrap().unwrap();
        assert_eq!(large.decided_by.as_deref(), Some("maija@example.fi"));
        assert_eq!(
            store
                .claim("small")
                .await
                .unwrap()
                .unwrap()
                .claimed_by
                .as_deref(),
            Some("claims.csv"),
            "who claimed is kept"
        );
    })
    .await;
}

#[tokio::test]
async fn the_queue_pages_oldest_first_and_tallies_group_by_customer() {
    each_backend(|store| async move {
        customers_and_cases(&store, 3, 3).await;
        let mut b = WriteBatch::new(&CLAIMS, fields(&CLAIMS, CLAIM_FIELDS));
        for i in 0..7u32 {
            // Two claims at the same time: the keyset's tiebreak.
            let day = 2 + i.min(5);
            b.push(format!("p{i}"), claim("k0", day, 10000 + i64::from(i), "EUR", "pending"));
        }
        b.push("a1".into(), claim("k1", 2, 2000, "EUR", "approved"));
        b.push("a2".into(), claim("k1", 3, 2500, "SEK", "approved"));
        b.push("old".into(), claim("k2", 1, 700, "EUR", "approved"));
        store.write(&b).await.unwrap();
        raw_execute(
            &store,
            "UPDATE claims SET customer_id = (SELECT customer_id FROM cases WHERE cases.id = claims.case_id)",
        )
        .await
        .unwrap();

        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.pending_claims(after, 3).await.unwrap();
            assert!(page.rows.len() <= 3);
            seen.extend(page.rows.iter().map(|r| r.id.clone()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);

        // The window [Jan 2, Jan 31): `old` (Jan 1) is outside.
        let from = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2024, 1, 31, 0, 0, 0).unwrap();
        let tallies = store.claim_tallies(from, to, "EUR", 100).await.unwrap();
        assert_eq!(tallies.total_claims, 9);
        let pending_sum: i64 = (0..7).map(|i| 10000 + i).sum();
        assert_eq!(tallies.total_minor, pending_sum + 2000, "SEK counts, not adds");
        let rows: Vec<(String, i64, i64)> = tallies
            .rows
            .iter()
            .map(|r| (r.customer_id.clone(), r.claims, r.sum_minor))
            .collect();
        assert_eq!(
            rows,
            [("c0".to_string(), 7, pending_sum), ("c1".to_string(), 2, 2000)]
        );
        let top1 = store.claim_tallies(from, to, "EUR", 1).await.unwrap();
        assert_eq!(top1.rows.len(), 1);
        assert_eq!(top1.total_claims, 9, "totals count every claim");

        let decisions = store.claim_decision_hours(from).await.unwrap();
        assert_eq!(decisions.len(), 9);
        assert!(decisions.iter().all(|d| d.hours.is_none()), "no decided_at written");
    })
    .await;
}

/// The median of `v` as the one-by-one effect computes it (negatives as 0).
fn median_of(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.iter_mut().for_each(|h| *h = h.max(0.0));
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The small-claim effect grouped in SQL (counts, sums, medians by window
/// functions) gives what the window's claims one by one give: odd and even counts,
/// a decision before its claim (counts as 0 hours), pending ones, one outside the
/// window.
#[tokio::test]
async fn the_effect_figures_match_the_claims_one_by_one() {
    each_backend(|store| async move {
        customers_and_cases(&store, 2, 2).await;
        let mut f = CLAIM_FIELDS.to_vec();
        f.push("decided_at");
        let mut b = WriteBatch::new(&CLAIMS, fields(&CLAIMS, &f));
        let hour = |day: u32, h: i64| {
            Value::Time(
                Utc.with_ymd_and_hms(2024, 1, day, 12, 0, 0).unwrap() + chrono::Duration::hours(h),
            )
        };
        // (id, day, amount, status, decided hours after the claim)
        let rows: &[(&str, u32, i64, &str, Option<i64>)] = &[
            ("s1", 3, 1000, "approved", Some(0)),
            ("s2", 4, 1500, "approved", Some(5)),
            ("s3", 5, 2000, "approved", Some(2)),
            ("s4", 6, 2500, "approved", Some(-3)),
            ("l1", 3, 9000, "approved", Some(30)),
            ("l2", 4, 9500, "refused", Some(7)),
            ("l3", 5, 8000, "refused", Some(50)),
            ("l4", 6, 7000, "pending", None),
            ("l5", 7, 7500, "pending", None),
            ("old", 1, 1000, "approved", Some(1000)),
        ];
        for (id, day, amount, status, h) in rows {
            let mut v = claim("k0", *day, *amount, "EUR", status);
            v.push(h.map_or(Value::Null, |h| hour(*day, h)));
            b.push((*id).into(), v);
        }
        store.write(&b).await.unwrap();
        raw_execute(
            &store,
            "UPDATE claims SET auto_approved = (amount_minor < 5000 AND status = 'approved')",
        )
        .await
        .unwrap();
        let from = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        let one_by_one = store.claim_decision_hours(from).await.unwrap();
        let figures = store.claim_effect_figures(from).await.unwrap();
        let mut groups: Vec<(bool, String, i64, i64)> = figures
            .groups
            .iter()
            .map(|g| (g.auto_approved, g.status.clone(), g.claims, g.amount_minor))
            .collect();
        groups.sort();
        let mut expected: Vec<(bool, String, i64, i64)> = Vec::new();
        for d in &one_by_one {
            match expected
                .iter_mut()
                .find(|e| e.0 == d.auto_approved && e.1 == d.status)
            {
                Some(e) => {
                    e.2 += 1;
                    e.3 += d.amount_minor;
                }
                None => expected.push((d.auto_approved, d.status.clone(), 1, d.amount_minor)),
            }
        }
        expected.sort();
        assert_eq!(groups, expected);
        assert_eq!(
            groups,
            [
                (false, "approved".to_string(), 1, 9000),
                (false, "pending".to_string(), 2, 14500),
                (false, "refused".to_string(), 2, 17500),
                (true, "approved".to_string(), 4, 7000),
            ]
        );
        let hours = |auto: bool| -> Vec<f64> {
            one_by_one
                .iter()
                .filter(|d| d.auto_approved == auto)
                .filter_map(|d| d.hours)
                .collect()
        };
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-6,
            (a, b) => a == b,
        };
        // Small: 0, 5, 2, -3 (as 0): the mean of 0 and 2. Large: 30, 7, 50: 30.
        assert!(close(figures.median_hours_small, Some(1.0)), "{figures:?}");
        assert!(close(figures.median_hours_small, median_of(hours(true))));
        assert!(close(figures.median_hours_large, Some(30.0)), "{figures:?}");
        assert!(close(figures.median_hours_large, median_of(hours(false))));

        let later = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let none = store.claim_effect_figures(later).await.unwrap();
        assert!(none.groups.is_empty());
        assert_eq!(
            (none.median_hours_small, none.median_hours_large),
            (None, None)
        );
    })
    .await;
}

/// The approval queue with 100,000 customers, 300,000 cases and a claim on each (one
/// in ten pending): every page well under 100 ms on both backends; and the small-claim
/// effect's figures over 60,000 of them under 300 ms.
#[tokio::test]
async fn the_queue_is_fast_at_300_000_cases() {
    each_backend(|store| async move {
        const CASES_N: usize = 300_000;
        customers_and_cases(&store, 100_000, CASES_N).await;
        let mut b = WriteBatch::new(&CLAIMS, fields(&CLAIMS, CLAIM_FIELDS));
        for i in 0..CASES_N {
            let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
                + chrono::Duration::minutes(i as i64);
            b.push(
                format!("cl{i}"),
                vec![
                    text(&format!("k{i}")),
                    Value::Time(at),
                    Value::Int(1000 + (i as i64 % 20_000)),
                    text("EUR"),
                    text("refund"),
                    text(if i % 10 == 0 { "pending" } else { "approved" }),
                ],
            );
        }
        store.write(&b).await.unwrap();
        raw_execute(
            &store,
            "UPDATE claims SET customer_id = (SELECT customer_id FROM cases WHERE cases.id = claims.case_id)",
        )
        .await
        .unwrap();
        if store.url().starts_with("postgres") {
            raw_execute(&store, "ANALYZE").await.unwrap();
        }
        let mut after = None;
        let mut worst = Duration::ZERO;
        let mut pages = 0;
        // The first pages and one deep in the queue.
        for _ in 0..5 {
            let start = Instant::now();
            let page = store.pending_claims(after, 50).await.unwrap();
            worst = worst.max(start.elapsed());
            assert_eq!(page.rows.len(), 50);
            after = page.next;
            pages += 1;
        }
        let deep = Some((
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(250_000),
            0,
        ));
        let start = Instant::now();
        let page = store.pending_claims(deep, 50).await.unwrap();
        worst = worst.max(start.elapsed());
        assert_eq!(page.rows.len(), 50);
        assert_eq!(page.rows[0].id, "cl250000");
        eprintln!("{}: approval queue, worst of {} pages: {worst:?}", store.url(), pages + 1);
        // A guard against a scan per page (which takes seconds here), loose enough for
        // a busy 2-core machine; BENCHMARKS.md holds the measured figures.
        assert!(worst < Duration::from_secs(1), "{worst:?}");

        // The small-claim effect over the last 60,000 claims (the service bench's
        // ~59,000, of which ~5,000 in its 12 months), decided 0 to 49 hours after:
        // grouped in SQL, under 300 ms (a shared machine; ~100 ms alone).
        let decided = if store.url().starts_with("postgres") {
            "UPDATE claims SET decided_at = claimed_at + (id % 50) * interval '1 hour', \
             auto_approved = (amount_minor < 5000 AND status = 'approved') \
             WHERE status <> 'pending'"
        } else {
            "UPDATE claims SET decided_at = strftime('%Y-%m-%dT%H:%M:%fZ', claimed_at, \
             '+' || (id % 50) || ' hours'), \
             auto_approved = (amount_minor < 5000 AND status = 'approved') \
             WHERE status <> 'pending'"
        };
        raw_execute(&store, decided).await.unwrap();
        if store.url().starts_with("postgres") {
            raw_execute(&store, "ANALYZE claims").await.unwrap();
        }
        let since =
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(240_000);
        // Warmed once, then timed; the one-by-one read printed for comparison.
        store.claim_decision_hours(since).await.unwrap();
        store.claim_effect_figures(since).await.unwrap();
        let start = Instant::now();
        let f = store.claim_effect_figures(since).await.unwrap();
        let took = start.elapsed();
        eprintln!("{}: small-claim effect over 60,000 claims: {took:?}", store.url());
        assert_eq!(f.groups.iter().map(|g| g.claims).sum::<i64>(), 60_000);
        assert!(f.median_hours_small.is_some() && f.median_hours_large.is_some());
        let start = Instant::now();
        let one_by_one = store.claim_decision_hours(since).await.unwrap();
        eprintln!(
            "{}: the same claims one by one ({}): {:?}",
            store.url(),
            one_by_one.len(),
            start.elapsed()
        );
        // A guard against a query per claim (seconds at 60,000), as above.
        assert!(took < Duration::from_secs(3), "{took:?}");
    })
    .await;
}

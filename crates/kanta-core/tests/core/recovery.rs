//! Recovery measured: a store where the effect is known (customers whose first case
//! was never resolved mostly stop buying; recovered ones keep buying like customers
//! who never had a case) and the report finds it; a tiny store is "too few".

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kanta_core::Acting;
use kanta_core::recovery::{Comparison, Rate, RecoveryReport, Segment, rate_difference};
use kanta_domain::schema::{CASES, CUSTOMERS, TRANSACTIONS};
use kanta_domain::{Value, WriteBatch};

use crate::support::{each_core, fields, text};

/// A small deterministic generator (xorshift64*).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const AS_OF: (i32, u32, u32) = (2025, 12, 31);

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).unwrap()
}

/// Customers `never` without a case, `recovered` whose case was resolved the next
/// day, `unresolved` whose case stays open. Everyone orders 10.00 every 30 days from
/// their first day until day 100 (the case's day for case customers); afterwards a
/// customer keeps ordering (from day 110, every 30 days, to the end) with
/// probability `keep`: 0.8 for never-case and recovered customers, 0.2 for the
/// unresolved. Half of the case customers' cases are our fault.
async fn generate(core: &kanta_core::Core, never: usize, recovered: usize, unresolved: usize) {
    let mut draw = Draw(0x5eed_1234_abcd);
    let start = Utc.with_ymd_and_hms(2024, 1, 5, 12, 0, 0).unwrap();
    let end = Utc
        .with_ymd_and_hms(AS_OF.0, AS_OF.1, AS_OF.2, 12, 0, 0)
        .unwrap();
    let mut orders = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        ),
    );
    let mut cases = WriteBatch::new(
        &CASES,
        fields(
            &CASES,
            &[
                "customer_id",
                "opened_at",
                "category",
                "status",
                "our_fault",
                "resolved_at",
            ],
        ),
    );
    let total = never + recovered + unresolved;
    for i in 0..total {
        let id = format!("c{i:04}");
        let first = start + Duration::days((draw.next() * 60.0) as i64);
        let kind = if i < never {
            0
        } else if i < never + recovered {
            1
        } else {
            2
        };
        let keep = draw.next() < if kind == 2 { 0.2 } else { 0.8 };
        let mut n = 0;
        let mut order = |at: chrono::DateTime<Utc>| {
            orders.push(
                format!("{id}-o{n}"),
                [
                    text(&id),
                    Value::Time(at),
                    Value::Int(1000),
                    text("EUR"),
                    text("order"),
                ],
            );
            n += 1;
        };
        for k in 0..4 {
            order(first + Duration::days(30 * k));
        }
        if keep {
            let mut t = first + Duration::days(110);
            while t <= end {
                order(t);
                t += Duration::days(30);
            }
        }
        if kind > 0 {
            // Opened on day 100 at 09:00 (the customer's order days are at 12:00).
            let opened = first + Duration::days(100) - Duration::hours(3);
            cases.push(
                format!("{id}-case"),
                [
                    text(&id),
                    Value::Time(opened),
                    text("quality"),
                    text(if kind == 1 { "resolved" } else { "open" }),
                    Value::Bool(i % 2 == 0),
                    if kind == 1 {
                        Value::Time(opened + Duration::hours(20))
                    } else {
                        Value::Null
                    },
                ],
            );
        }
    }
    core.write_batch(&Acting::cli(), orders).await.unwrap();
    core.write_batch(&Acting::cli(), cases).await.unwrap();
}

fn comparison<'a>(r: &'a RecoveryReport, group: &str, measure: &str) -> &'a Comparison {
    r.comparisons
        .iter()
        .find(|c| c.group == group && c.measure == measure)
        .unwrap_or_else(|| panic!("no comparison {group} {measure}"))
}

#[tokio::test]
async fn unresolved_customers_are_worse_and_the_interval_holds_the_truth() {
    each_core(|backend, core| async move {
        generate(&core, 200, 100, 100).await;
        let viewer = Acting::user(
            1,
            "viewer@example.com",
            kanta_core::access::Role::Viewer,
            kanta_core::Channel::Ui,
        );
        let r = core
            .recovery_report(&viewer, Some(as_of()), &Default::default())
            .await
            .unwrap();
        let group = |k: &str| r.groups.iter().find(|g| g.key == k).unwrap();
        assert_eq!(group("never").customers, 200, "{backend}");
        assert_eq!(group("within_sla").customers, 100, "{backend}");
        assert_eq!(group("unresolved").customers, 100, "{backend}");
        assert_eq!(group("late").customers, 0, "{backend}");
        assert_eq!(
            group("our_fault").customers + group("not_our_fault").customers,
            200,
            "{backend}"
        );
        // Never-case customers are followed from day 100 too (the median delay).
        assert_eq!(r.index_delay_days, Some(100), "{backend}");

        // Repurchase within 90 days: truly 0.2 against 0.8, a difference of -0.6.
        let c = comparison(&r, "unresolved", "repurchase_90");
        assert_eq!(c.verdict, "worse", "{backend}: {c:?}");
        let (lo, hi) = (c.lo.unwrap(), c.hi.unwrap());
        assert!(lo < -0.6 && -0.6 < hi, "{backend}: {c:?}");
        let c = comparison(&r, "unresolved", "repurchase_180");
        assert_eq!(c.verdict, "worse", "{backend}: {c:?}");
        assert!(
            c.lo.unwrap() < -0.6 && -0.6 < c.hi.unwrap(),
            "{backend}: {c:?}"
        );
        // Retention: the log-rank test sees it.
        let c = comparison(&r, "unresolved", "retention");
        assert_eq!(c.verdict, "worse", "{backend}: {c:?}");
        assert!(c.p.unwrap() < 0.001, "{backend}: {c:?}");
        // True S(365) = 0.2 against 0.8.
        assert!(
            c.lo.unwrap() < -0.6 && -0.6 < c.hi.unwrap(),
            "{backend}: {c:?}"
        );
        // Revenue in the year after: 12 orders of 10.00 for those who keep buying:
        // truly 2,400 against 9,600 (minor units) per customer.
        let c = comparison(&r, "unresolved", "revenue_12m");
        assert_eq!(c.verdict, "worse", "{backend}: {c:?}");
        assert!(
            c.lo.unwrap() < -7200.0 && -7200.0 < c.hi.unwrap(),
            "{backend}: {c:?}"
        );

        // Recovered customers are like those who never had a case.
        for m in [
            "repurchase_90",
            "repurchase_180",
            "revenue_12m",
            "retention",
        ] {
            let c = comparison(&r, "within_sla", m);
            assert_eq!(c.verdict, "cannot tell", "{backend}: {c:?}");
        }
        let c = comparison(&r, "within_sla", "repurchase_90");
        assert!(
            c.lo.unwrap() < 0.0 && 0.0 < c.hi.unwrap(),
            "{backend}: {c:?}"
        );
        // No case was resolved late: too few, said in words.
        assert!(
            r.comparisons
                .iter()
                .filter(|c| c.group == "late")
                .all(|c| c.verdict == "too few"),
            "{backend}"
        );
        let note = r.note.clone().unwrap();
        assert!(
            note.contains("Too few") && note.contains("resolved late"),
            "{backend}: {note}"
        );

        // Curves start on the index day, never rise, bands hold the curve.
        let never = group("never");
        assert_eq!(never.survival[0].day, 0.0);
        assert!(never.survival.windows(2).all(|w| w[1].s <= w[0].s));
        // A customer who never came back stops where they were last seen: at day 0,
        // in both groups alike, not 90 days later when the dashboard calls them gone.
        // Truly 20 % of the unresolved and 80 % of the others keep buying.
        for (key, kept) in [("unresolved", 0.2), ("never", 0.8), ("within_sla", 0.8)] {
            let first = group(key).survival[0];
            assert_eq!(first.day, 0.0, "{backend}: {key}");
            assert!(
                first.lo < kept && kept < first.hi,
                "{backend}: {key} at day 0: {first:?}"
            );
            // ... and nobody else stops at the end of the 90 days' wait.
            let before = group(key)
                .survival
                .iter()
                .rev()
                .find(|p| p.day < 85.0)
                .unwrap()
                .s;
            let after = group(key)
                .survival
                .iter()
                .rev()
                .find(|p| p.day <= 95.0)
                .unwrap()
                .s;
            assert!(
                before - after < 0.05,
                "{backend}: {key}: {before} → {after}"
            );
        }
        assert!(never.survival.iter().all(|p| p.lo <= p.s && p.s <= p.hi));
        let kept = group("unresolved").retained_365.unwrap();
        assert!(
            kept.lo.unwrap() < 0.2 && 0.2 < kept.hi.unwrap(),
            "{backend}: {kept:?}"
        );
        assert_eq!(group("never").repurchase_90.n, 200, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_segment_or_kind_compares_only_its_customers() {
    each_core(|backend, core| async move {
        generate(&core, 200, 100, 100).await;
        // Half of each group in segment "a" as persons, the other half in "b" as
        // companies.
        let mut customers = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["segment", "kind"]));
        for i in 0..400 {
            let first_half = i < 100 || (200..250).contains(&i) || (300..350).contains(&i);
            customers.push(
                format!("c{i:04}"),
                [
                    text(if first_half { "a" } else { "b" }),
                    text(if first_half { "person" } else { "company" }),
                ],
            );
        }
        core.write_batch(&Acting::cli(), customers).await.unwrap();
        let report = |segment: Option<&str>, kind: Option<&str>| {
            let core = &core;
            let segment = Segment {
                segment: segment.map(str::to_string),
                kind: kind.map(str::to_string),
            };
            async move {
                core.recovery_report(&Acting::cli(), Some(as_of()), &segment)
                    .await
                    .unwrap()
            }
        };
        let counts =
            |r: &RecoveryReport| -> Vec<u64> { r.groups.iter().map(|g| g.customers).collect() };
        for (segment, kind) in [
            (Some("a"), None),
            (None, Some("person")),
            (Some("a"), Some("person")),
        ] {
            let r = report(segment, kind).await;
            assert_eq!(
                counts(&r),
                [100, 50, 0, 50, 50, 50],
                "{backend}: {segment:?} {kind:?}"
            );
            assert_eq!(r.segment.as_deref(), segment, "{backend}");
            assert_eq!(r.kind.as_deref(), kind, "{backend}");
            assert_eq!(r.index_delay_days, Some(100), "{backend}");
            assert_eq!(
                comparison(&r, "unresolved", "repurchase_180").verdict,
                "worse",
                "{backend}"
            );
        }
        let r = report(Some("b"), Some("company")).await;
        assert_eq!(counts(&r), [100, 50, 0, 50, 50, 50], "{backend}");
        // Nobody is in "a" as a company: nothing to compare, said so.
        let r = report(Some("a"), Some("company")).await;
        assert!(r.groups.iter().all(|g| g.customers == 0), "{backend}");
        assert!(r.note.unwrap().contains("nothing to compare"), "{backend}");
        // Every customer, as before.
        let r = report(None, None).await;
        assert_eq!(counts(&r), [200, 100, 0, 100, 100, 100], "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_tiny_store_is_too_few_to_tell() {
    each_core(|backend, core| async move {
        generate(&core, 6, 3, 3).await;
        let r = core
            .recovery_report(&Acting::cli(), Some(as_of()), &Default::default())
            .await
            .unwrap();
        assert!(
            r.comparisons.iter().all(|c| c.verdict == "too few"),
            "{backend}: {:?}",
            r.comparisons
        );
        let note = r.note.unwrap();
        assert!(note.contains("cannot be told apart"), "{backend}: {note}");
        // An empty store: nothing to compare, said so.
        let db = kanta_store::testing::TestDb::new(backend);
        let empty = kanta_core::Core::new(kanta_store::Store::open(&db.url).await.unwrap());
        let r = empty
            .recovery_report(&Acting::cli(), Some(as_of()), &Default::default())
            .await
            .unwrap();
        assert!(r.groups.iter().all(|g| g.customers == 0), "{backend}");
        assert!(r.note.unwrap().contains("nothing to compare"), "{backend}");
    })
    .await;
}

#[test]
fn wilson_and_newcombe_match_published_values() {
    // Wilson's score interval of 6 of 10: 0.313 to 0.832 (Newcombe 1998, Table I).
    let r = Rate::wilson(6, 10);
    assert!((r.lo.unwrap() - 0.3127).abs() < 5e-4, "{r:?}");
    assert!((r.hi.unwrap() - 0.8318).abs() < 5e-4, "{r:?}");
    // 0 of 10: 0 to 0.2775.
    let r = Rate::wilson(0, 10);
    assert_eq!(r.lo, Some(0.0));
    assert!((r.hi.unwrap() - 0.2775).abs() < 5e-4, "{r:?}");
    // Newcombe (1998, Statistics in Medicine 17:873), method 10 for 56/70 - 48/80:
    // 0.0524 to 0.3339.
    let (d, lo, hi) = rate_difference(&Rate::wilson(56, 70), &Rate::wilson(48, 80));
    assert!((d.unwrap() - 0.2).abs() < 1e-12);
    assert!((lo.unwrap() - 0.0524).abs() < 5e-4, "{lo:?}");
    assert!((hi.unwrap() - 0.3339).abs() < 5e-4, "{hi:?}");
}

/// The speed target: 100,000 customers (five orders each) and 300,000 cases, the
/// report in under a second on both backends, for every customer and for a segment
/// of half of them. Run with `--ignored` (building the
/// store takes a while).
#[tokio::test]
#[ignore]
async fn recovery_report_is_fast_on_a_large_store() {
    each_core(|backend, core| async move {
        let mut draw = Draw(42);
        let start = Utc.with_ymd_and_hms(2023, 1, 1, 12, 0, 0).unwrap();
        let customers = 100_000;
        for chunk in 0..10 {
            let mut orders = WriteBatch::new(
                &TRANSACTIONS,
                fields(
                    &TRANSACTIONS,
                    &["customer_id", "occurred_at", "amount", "currency", "kind"],
                ),
            );
            for i in chunk * customers / 10..(chunk + 1) * customers / 10 {
                let first = start + Duration::days((draw.next() * 700.0) as i64);
                for k in 0..5 {
                    orders.push(
                        format!("o{i}-{k}"),
                        [
                            text(&format!("c{i}")),
                            Value::Time(
                                first + Duration::days(k * (20 + (draw.next() * 100.0) as i64)),
                            ),
                            Value::Int(1000),
                            text("EUR"),
                            text("order"),
                        ],
                    );
                }
            }
            core.write_batch(&Acting::cli(), orders).await.unwrap();
        }
        for chunk in 0..10 {
            let mut cases = WriteBatch::new(
                &CASES,
                fields(
                    &CASES,
                    &[
                        "customer_id",
                        "opened_at",
                        "category",
                        "status",
                        "our_fault",
                        "resolved_at",
                    ],
                ),
            );
            for j in chunk * 30_000..(chunk + 1) * 30_000 {
                let i = (draw.next() * customers as f64) as usize;
                let opened = start + Duration::days((draw.next() * 1000.0) as i64);
                let resolved = draw.next() < 0.7;
                cases.push(
                    format!("k{j}"),
                    [
                        text(&format!("c{i}")),
                        Value::Time(opened),
                        text("quality"),
                        text(if resolved { "resolved" } else { "open" }),
                        Value::Bool(draw.next() < 0.3),
                        if resolved {
                            Value::Time(opened + Duration::hours((draw.next() * 100.0) as i64))
                        } else {
                            Value::Null
                        },
                    ],
                );
            }
            core.write_batch(&Acting::cli(), cases).await.unwrap();
        }
        // Half the customers in a segment, for the filtered report.
        let mut segments = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["segment"]));
        for i in (0..customers).step_by(2) {
            segments.push(format!("c{i}"), [text("kahvila")]);
        }
        core.write_batch(&Acting::cli(), segments).await.unwrap();
        let as_of = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
        if let Ok(keep) = std::env::var("KANTA_RECOVERY_KEEP") {
            let url = core.store().url().to_string();
            if let Some(path) = url.strip_prefix("sqlite://") {
                let path = path.split('?').next().unwrap();
                std::fs::copy(path, &keep).unwrap();
                let _ = std::fs::copy(format!("{path}-wal"), format!("{keep}-wal"));
            }
        }
        let cafe = Segment {
            segment: Some("kahvila".into()),
            kind: None,
        };
        for round in 0..4 {
            // Every customer, then the segment's half, twice each.
            let segment = if round % 2 == 0 {
                Segment::default()
            } else {
                cafe.clone()
            };
            let t = std::time::Instant::now();
            let r = core
                .recovery_report(&Acting::cli(), Some(as_of), &segment)
                .await
                .unwrap();
            let took = t.elapsed();
            eprintln!(
                "{backend}: recovery report {round} ({segment:?}) in {took:?} ({} customers)",
                r.groups.iter().take(4).map(|g| g.customers).sum::<u64>()
            );
            if round >= 2 && std::env::var("KANTA_RECOVERY_KEEP").is_err() {
                assert!(
                    took < std::time::Duration::from_secs(1),
                    "{backend}: {took:?}"
                );
            }
        }
    })
    .await;
}

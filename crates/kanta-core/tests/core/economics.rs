//! Retention economics (issue 14): the five-points figure on the demo (written
//! through the core and scored as `kanta demo` does), and, on a hand-made store,
//! churn reasons by journey stage, the cost of winning a customer, and what is said
//! when there is no model run or profitability pass yet. Both backends.

use std::time::Instant;

use chrono::NaiveDate;
use kanta_core::access::Role;
use kanta_core::scoring::{ScoreSettings, score_store};
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_demo::DemoConfig;
use kanta_domain::schema::{CASES, CUSTOMERS, SUBSCRIPTIONS};
use kanta_domain::{Value, WriteBatch};

use crate::support::{each_core, fields, text, time};

fn day(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
}

async fn load_demo(core: &Core, cfg: &DemoConfig) {
    let acting = Acting::cli();
    for b in kanta_demo::generate(cfg) {
        let name = b.entity.name;
        core.write_batch(&acting, b)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    score_store(
        core.store(),
        &acting,
        &ScoreSettings {
            as_of: cfg.as_of,
            holdout_days: 91,
            model: None,
            margin: 1.0,
            monthly_discount_rate: 0.01,
            zone: core.time_zone().await.unwrap(),
        },
    )
    .await
    .expect("scores");
}

/// The demo business: five more points of 12-month retention are worth a positive,
/// finite amount with an interval that holds it, from both its café buyers and its
/// B2B subscribers; each part's retention rises by five points.
#[tokio::test]
async fn five_points_on_the_demo() {
    each_core(|backend, core| async move {
        let cfg = DemoConfig {
            cafe_customers: 1_500,
            ..DemoConfig::default()
        };
        load_demo(&core, &cfg).await;
        let started = Instant::now();
        let e = core
            .retention_economics(&Acting::cli())
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let seconds = started.elapsed().as_secs_f64();
        let f = e
            .five_points
            .as_ref()
            .unwrap_or_else(|| panic!("{backend}: {:?}", e.five_points_note));
        eprintln!(
            "{backend}: +5 points worth {:?} (12, 36 months) of {:?}, interval {:?}, {} draws, {seconds:.2} s",
            f.gain_minor, f.value_minor, f.interval_minor, f.draws
        );
        for h in 0..2 {
            assert!(f.gain_minor[h] > 0, "{backend}: {f:?}");
            assert!(f.value_minor[h] > f.gain_minor[h], "{backend}: {f:?}");
            let (lo, hi) = f.interval_minor[h].unwrap_or_else(|| panic!("{backend}: {f:?}"));
            assert!(
                lo <= f.gain_minor[h] && f.gain_minor[h] <= hi && lo < hi,
                "{backend}: {f:?}"
            );
            assert!(f.gain_share[h] > 0.0 && f.gain_share[h] < 1.0, "{backend}: {f:?}");
        }
        assert!(f.gain_minor[1] > f.gain_minor[0], "{backend}: {f:?}");
        assert!(f.draws >= 50, "{backend}: {f:?}");
        let b = f.buyers.as_ref().unwrap_or_else(|| panic!("{backend}: {f:?}"));
        let s = f
            .subscribers
            .as_ref()
            .unwrap_or_else(|| panic!("{backend}: {f:?}"));
        for p in [b, s] {
            assert!(
                (p.retention_after - p.retention - 0.05).abs() < 1e-6,
                "{backend}: {p:?}"
            );
            assert!(p.gain_minor[1] > 0, "{backend}: {p:?}");
        }
        assert!(b.factor < 1.0 && s.factor > 1.0, "{backend}: {f:?}");
        assert_eq!(
            f.gain_minor[1],
            b.gain_minor[1] + s.gain_minor[1],
            "{backend}"
        );
        assert!(seconds < 30.0, "{backend}: {seconds} s");
        // The run's base: the stored scores' 36-month CLV agrees with today's value.
        assert_eq!(e.run.as_ref().map(|r| r.as_of), Some(cfg.as_of));
        // The figure is kept with its run, so a restarted server shows it at once: a
        // new core over the same store reads it back, value for value.
        let run = core.store().latest_model_run().await.unwrap().unwrap();
        let kept = &run.details[kanta_core::economics::FIVE_POINTS_DETAIL];
        assert_eq!(kept["gain_minor"][1], f.gain_minor[1], "{backend}: {kept}");
        let again = Core::new(core.store().clone())
            .retention_economics(&Acting::cli())
            .await
            .unwrap();
        assert_eq!(again.five_points.as_ref(), Some(f), "{backend}");
    })
    .await;
}

/// Ended customers land in their journey stage with their reason; their cases of
/// the 90 days before the end are counted by category (older ones are not); the
/// acquisition cost is the recorded ones' mean; without a model run or a
/// profitability pass, the figures say so; staff may not read it.
#[tokio::test]
async fn churn_by_stage_and_costs_by_hand() {
    each_core(|backend, core| async move {
        let mut customers = WriteBatch::new(
            &CUSTOMERS,
            fields(
                &CUSTOMERS,
                &[
                    "acquired_on",
                    "status",
                    "ended_on",
                    "end_reason_code",
                    "acquisition_cost",
                ],
            ),
        );
        let ended = |a: Value, e: Value, r: &str, cost: Value| [a, text("ended"), e, text(r), cost];
        // within 30 days of the start: onboarding
        customers.push(
            "e1".into(),
            ended(
                day(2026, 1, 1),
                day(2026, 1, 20),
                "moved_away",
                Value::Int(3_000),
            ),
        );
        // 73 days: first 90 days
        customers.push(
            "e2".into(),
            ended(
                day(2026, 1, 1),
                day(2026, 3, 15),
                "unprofitable",
                Value::Null,
            ),
        );
        // a subscription that ended on the customer's end day: around renewal
        customers.push(
            "e3".into(),
            ended(day(2024, 1, 1), day(2026, 5, 10), "other", Value::Null),
        );
        // long-standing, no subscription: established, with cases
        customers.push(
            "e4".into(),
            ended(day(2024, 1, 1), day(2026, 6, 1), "abusive", Value::Null),
        );
        customers.push(
            "e5".into(),
            ended(day(2024, 3, 1), day(2026, 7, 1), "abusive", Value::Null),
        );
        customers.push(
            "a1".into(),
            [
                day(2025, 1, 1),
                text("active"),
                Value::Null,
                Value::Null,
                Value::Int(5_000),
            ],
        );
        let acting = Acting::cli();
        core.write_batch(&acting, customers)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let mut subs = WriteBatch::new(
            &SUBSCRIPTIONS,
            fields(
                &SUBSCRIPTIONS,
                &[
                    "customer_id",
                    "plan",
                    "amount",
                    "currency",
                    "period",
                    "started_on",
                    "ended_on",
                ],
            ),
        );
        subs.push(
            "s3".into(),
            [
                text("e3"),
                text("Pro"),
                Value::Int(10_000),
                text("EUR"),
                text("month"),
                day(2024, 1, 10),
                day(2026, 5, 10),
            ],
        );
        core.write_batch(&acting, subs)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let mut cases = WriteBatch::new(
            &CASES,
            fields(&CASES, &["customer_id", "opened_at", "category"]),
        );
        cases.push("k1".into(), [text("e4"), time(2026, 4, 1), text("billing")]);
        cases.push(
            "k2".into(),
            [text("e4"), time(2026, 5, 20), text("billing")],
        );
        cases.push(
            "k3".into(),
            [text("e5"), time(2026, 6, 20), text("billing")],
        );
        cases.push(
            "k4".into(),
            [text("e4"), time(2025, 9, 1), text("delivery")],
        );
        core.write_batch(&acting, cases)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));

        let e = core
            .retention_economics(&acting)
            .await
            .unwrap_or_else(|e| panic!("{backend}: {e}"));
        let stage = |name: &str| {
            e.churn
                .stages
                .iter()
                .find(|s| s.stage == name)
                .unwrap_or_else(|| panic!("{backend}: no stage {name}"))
                .clone()
        };
        assert_eq!(e.churn.ended, 5, "{backend}: {:?}", e.churn);
        assert_eq!(stage("onboarding").reasons, vec![("moved_away".into(), 1)]);
        assert_eq!(
            stage("first_90_days").reasons,
            vec![("unprofitable".into(), 1)]
        );
        assert_eq!(stage("around_renewal").reasons, vec![("other".into(), 1)]);
        let est = stage("established");
        assert_eq!(est.reasons, vec![("abusive".into(), 2)], "{backend}");
        // three billing cases of two customers in their last 90 days; the delivery
        // case of 2025 is older
        assert_eq!(est.cases, vec![("billing".into(), 3, 2)], "{backend}");
        assert!(stage("onboarding").cases.is_empty());

        assert_eq!(e.acquisition.customers, 2, "{backend}");
        assert_eq!(e.acquisition.mean_minor, Some(4_000), "{backend}");
        assert!(e.five_points.is_none());
        assert!(
            e.five_points_note
                .as_deref()
                .unwrap()
                .contains("kanta score"),
            "{backend}: {:?}",
            e.five_points_note
        );
        assert!(e.keeping.per_customer_year_minor.is_none());
        assert!(
            e.keeping.note.as_deref().unwrap().contains("profitability"),
            "{backend}"
        );
        assert_eq!(e.acquisition_to_keeping, None);

        let staff = Acting::user(7, "staff@example.com", Role::Staff, Channel::Ui);
        assert!(matches!(
            core.retention_economics(&staff).await,
            Err(CoreError::Forbidden(_))
        ));
        let viewer = Acting::user(8, "viewer@example.com", Role::Viewer, Channel::Ui);
        assert!(core.retention_economics(&viewer).await.is_ok(), "{backend}");
    })
    .await;
}

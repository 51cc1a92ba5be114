//! Model runs and scores: a run and its scores are stored together with the
//! customers' tiers, read back by run and by customer, paged, and pruned.

use chrono::NaiveDate;
use kanta_domain::Value;
use kanta_domain::schema::TRANSACTIONS;
use kanta_store::audit::AuditQuery;
use kanta_store::records::CustomerFilter;
use kanta_store::scores::{CustomerScore, KEEP_SCORED_RUNS, NewModelRun, RevenueForecast};
use kanta_store::{Store, WriteBatch};

use crate::{each_backend, entry, fields, t, text};

fn run(day: u32) -> NewModelRun {
    NewModelRun {
        model: "bgnbd".into(),
        spend_model: Some("gg".into()),
        as_of: NaiveDate::from_ymd_opt(2024, 2, day).unwrap(),
        calibration_end: Some(NaiveDate::from_ymd_opt(2024, 1, day).unwrap()),
        first_purchase_on: Some(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
        currency: Some("EUR".into()),
        details: serde_json::json!({"fit": {"params": {"r": 0.25, "alpha": 4.4}}, "note": "<b>&</b>"}),
        forecast: vec![RevenueForecast {
            months: 1,
            expected_minor: 12_345,
            lower_minor: 12_000,
            upper_minor: 12_700,
        }],
    }
}

fn score(customer_id: i64, p_alive: f64, tier: char) -> CustomerScore {
    CustomerScore {
        customer_id,
        repeat_purchases: 3,
        p_alive,
        expected_purchases_30: 0.5,
        expected_purchases_90: 1.25,
        expected_purchases_365: 4.0,
        expected_spend_minor: Some(850),
        clv_12_minor: (tier != 'D').then_some(4_000),
        clv_36_minor: Some(9_000),
        tier,
        ..Default::default()
    }
}

/// Three customers c0, c1, c2 with one order each; their internal ids.
async fn customers(store: &Store) -> Vec<i64> {
    let mut b = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency"],
        ),
    );
    b.create_customers = (0..3).map(|c| format!("c{c}")).collect();
    for c in 0..3 {
        b.push(
            format!("t{c}"),
            [text(&format!("c{c}")), t(2), Value::Int(500), text("EUR")],
        );
    }
    store.write(&b).await.unwrap();
    let days = store.purchase_days(20_000, None).await.unwrap();
    days.iter().map(|d| d.customer_id).collect()
}

async fn tier_count(store: &Store, tier: &str) -> usize {
    let f = CustomerFilter {
        tier: Some(tier.into()),
        ..Default::default()
    };
    store.customers(&f).await.unwrap().total as usize
}

#[tokio::test]
async fn a_run_is_stored_with_its_scores_and_the_customers_tiers() {
    each_backend(|store| async move {
        let ids = customers(&store).await;
        assert_eq!(ids.len(), 3);
        assert!(store.latest_model_run().await.unwrap().is_none());
        assert_eq!(
            store.order_currencies().await.unwrap(),
            vec![("EUR".to_string(), 3)]
        );

        let scores = [
            score(ids[0], 0.9, 'A'),
            score(ids[1], 0.4, 'B'),
            score(ids[2], 0.1, 'D'),
        ];
        let id = store
            .save_model_run(&run(1), &scores, &entry("model_runs", "score"))
            .await
            .unwrap();
        let got = store.latest_model_run().await.unwrap().unwrap();
        assert_eq!(got.id, id);
        assert_eq!(got.customers, 3);
        assert_eq!(got.as_of, NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
        assert_eq!(got.calibration_end, run(1).calibration_end);
        assert_eq!(got.details, run(1).details, "details come back as stored");
        assert_eq!(got.forecast, run(1).forecast);
        assert_eq!(store.model_run(id).await.unwrap().unwrap(), got);
        assert!(store.model_run(id + 100).await.unwrap().is_none());

        // by customer
        let (r, s) = store.customer_score(ids[1]).await.unwrap().unwrap();
        assert_eq!((r.id, s), (id, scores[1]));
        // the customers' tiers
        assert_eq!(tier_count(&store, "A").await, 1);
        assert_eq!(tier_count(&store, "B").await, 1);
        assert_eq!(tier_count(&store, "D").await, 1);
        assert_eq!(tier_count(&store, "C").await, 0);

        // a run's scores by external id, paged, and by tier
        let page = store.run_scores(id, None, None, 2).await.unwrap();
        let names: Vec<&str> = page.iter().map(|s| s.customer.as_str()).collect();
        assert_eq!(names, ["c0", "c1"]);
        let rest = store.run_scores(id, None, Some("c1"), 2).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(
            (rest[0].customer.as_str(), rest[0].score),
            ("c2", scores[2])
        );
        let d = store.run_scores(id, Some('D'), None, 10).await.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].customer, "c2");

        // A new run moves the tiers; a bad tier writes nothing.
        let bad = [score(ids[0], 0.5, 'E')];
        assert!(
            store
                .save_model_run(&run(2), &bad, &entry("model_runs", "score"))
                .await
                .is_err()
        );
        assert_eq!(store.latest_model_run().await.unwrap().unwrap().id, id);
        // the run's audit entry, written with it; the refused run left none
        let (log, _) = store
            .audit_page(&AuditQuery {
                entity: Some("model_runs".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].entry.record_id, Some(id.to_string()));
        assert_eq!(log[0].entry.action, "score");
        assert_eq!(log[0].entry.details["model"], "bgnbd");
        assert_eq!(log[0].entry.details["customers"], 3);
        let second = [score(ids[0], 0.2, 'C'), score(ids[1], 0.95, 'A')];
        let id2 = store
            .save_model_run(&run(2), &second, &entry("model_runs", "score"))
            .await
            .unwrap();
        assert!(id2 > id);
        assert_eq!(tier_count(&store, "A").await, 1);
        assert_eq!(tier_count(&store, "C").await, 1);
        // c2 was not scored again: it keeps its tier and its latest score
        assert_eq!(tier_count(&store, "D").await, 1);
        let (r, s) = store.customer_score(ids[2]).await.unwrap().unwrap();
        assert_eq!((r.id, s.p_alive), (id, 0.1));
        let (r, s) = store.customer_score(ids[0]).await.unwrap().unwrap();
        assert_eq!((r.id, s.tier), (id2, 'C'));
    })
    .await;
}

#[tokio::test]
async fn old_runs_keep_their_figures_but_not_their_scores() {
    each_backend(|store| async move {
        let ids = customers(&store).await;
        let mut runs = Vec::new();
        for day in 1..=(KEEP_SCORED_RUNS as u32 + 2) {
            let s = [score(ids[0], f64::from(day) / 100.0, 'A')];
            runs.push(
                store
                    .save_model_run(&run(day), &s, &entry("model_runs", "score"))
                    .await
                    .unwrap(),
            );
        }
        let all = store.model_runs(None, 100).await.unwrap();
        assert_eq!(all.len(), runs.len(), "every run is kept");
        let listed: Vec<i64> = all.iter().map(|r| r.id).collect();
        let mut newest_first = runs.clone();
        newest_first.reverse();
        assert_eq!(listed, newest_first);
        // keyset paging
        let older = store.model_runs(Some(runs[5]), 2).await.unwrap();
        assert_eq!(
            older.iter().map(|r| r.id).collect::<Vec<_>>(),
            [runs[4], runs[3]]
        );
        // the two oldest runs lost their scores, the newest twelve have them
        for (i, id) in runs.iter().enumerate() {
            let n = store.run_scores(*id, None, None, 10).await.unwrap().len();
            assert_eq!(n, usize::from(i >= 2), "run {i}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_subscribers_run_keeps_both_parts_of_the_value_and_is_found_by_day() {
    each_backend(|store| async move {
        let ids = customers(&store).await;
        // c0 buys and subscribes, c1 only subscribes, c2 has neither.
        let both = CustomerScore {
            purchase_clv_12_minor: Some(4_000),
            purchase_clv_36_minor: Some(9_000),
            renewal_probability: Some(0.875),
            expected_remaining_periods: Some(12.5),
            subscription_clv_12_minor: Some(30_000),
            subscription_clv_36_minor: Some(70_000),
            clv_12_minor: Some(34_000),
            clv_36_minor: Some(79_000),
            ..score(ids[0], 0.9, 'A')
        };
        let sub_only = CustomerScore {
            customer_id: ids[1],
            p_alive: 1.0,
            renewal_probability: Some(0.5),
            expected_remaining_periods: Some(3.25),
            subscription_clv_12_minor: Some(10_000),
            subscription_clv_36_minor: Some(20_000),
            clv_12_minor: Some(10_000),
            clv_36_minor: Some(20_000),
            tier: 'B',
            ..CustomerScore::default()
        };
        let neither = CustomerScore {
            customer_id: ids[2],
            clv_12_minor: Some(0),
            clv_36_minor: Some(0),
            tier: 'D',
            ..CustomerScore::default()
        };
        let mut r = run(10);
        r.model = "none".into(); // a subscribers-only run (migration 0010)
        store
            .save_model_run(&run(1), &[], &entry("model_runs", "score"))
            .await
            .unwrap();
        let id = store
            .save_model_run(
                &r,
                &[both, sub_only, neither],
                &entry("model_runs", "score"),
            )
            .await
            .unwrap();
        for want in [both, sub_only, neither] {
            let (run, got) = store
                .customer_score(want.customer_id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(run.id, id);
            assert_eq!(run.model, "none");
            assert_eq!(got, want);
        }
        // The run a day's figures rest on: the newest whose data end by that day.
        let day = |d| NaiveDate::from_ymd_opt(2024, 2, d).unwrap();
        let on = |d| {
            let store = store.clone();
            async move {
                store
                    .model_run_as_of(day(d))
                    .await
                    .unwrap()
                    .map(|r| r.as_of)
            }
        };
        assert_eq!(on(5).await, Some(day(1)));
        assert_eq!(on(10).await, Some(day(10)));
        assert_eq!(on(29).await, Some(day(10)));
        assert_eq!(
            store
                .model_run_as_of(NaiveDate::from_ymd_opt(2024, 1, 31).unwrap())
                .await
                .unwrap(),
            None
        );
    })
    .await;
}

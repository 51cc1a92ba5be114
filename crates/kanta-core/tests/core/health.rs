//! The health score: learned from a store whose churn is driven by a known factor
//! (usage falling before a customer stops ordering), validated on the newest
//! snapshot, expert weights while outcomes are few, contributions that add up to the
//! logit, and one history row a day.

use chrono::{Days, NaiveDate, TimeZone, Utc};
use kanta_core::health::FEATURES;
use kanta_core::{Acting, Core};
use kanta_domain::schema::{CUSTOMERS, TRANSACTIONS, USAGE_EVENTS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;

use crate::support::{audit_of, each_core, fields, text};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn noon(day: NaiveDate) -> Value {
    Value::Time(Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap()))
}

/// A small deterministic generator.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64) / ((1u64 << 53) as f64)
    }
}

const AS_OF: (i32, u32, u32) = (2026, 6, 30);

/// `n` customers ordering every 7-21 days from 1.1.2025 and using the product weekly
/// (10 logins a week). A share `churn` of them stops ordering on a day spread over the
/// data; eight weeks before it their usage falls to a fifth and stays there.
async fn seed(core: &Core, n: usize, churn: f64, seed: u64) {
    let cli = Acting::cli();
    let as_of = d(AS_OF.0, AS_OF.1, AS_OF.2);
    let start = d(2025, 1, 1);
    let mut rng = Lcg(seed);
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "acquired_on"]));
    let mut t = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency"],
        ),
    );
    let mut u = WriteBatch::new(
        &USAGE_EVENTS,
        fields(
            &USAGE_EVENTS,
            &["customer_id", "occurred_at", "metric", "value"],
        ),
    );
    let span = (as_of - start).num_days() as f64;
    for i in 0..n {
        let id = format!("c{i:04}");
        c.push(
            id.clone(),
            [text(&format!("Asiakas {i}")), Value::Date(start)],
        );
        let stops = (rng.next() < churn).then(|| {
            let day = 120.0 + rng.next() * (span - 150.0);
            start + Days::new(day as u64)
        });
        let mut day = start + Days::new((rng.next() * 14.0) as u64);
        let mut k = 0;
        while day <= as_of && stops.is_none_or(|s| day <= s) {
            t.push(
                format!("{id}-o{k}"),
                [text(&id), noon(day), Value::Int(2_000), text("EUR")],
            );
            k += 1;
            day = day + Days::new(7 + (rng.next() * 14.0) as u64);
        }
        let mut week = start;
        let mut w = 0;
        while week <= as_of {
            let low = stops.is_some_and(|s| week + Days::new(56) >= s);
            let value = if low { 2.0 } else { 10.0 } + (rng.next() * 2.0).round();
            u.push(
                format!("{id}-u{w}"),
                [text(&id), noon(week), text("logins"), Value::Float(value)],
            );
            w += 1;
            week = week + Days::new(7);
        }
    }
    core.write_batch(&cli, c).await.unwrap();
    core.write_batch(&cli, t).await.unwrap();
    core.write_batch(&cli, u).await.unwrap();
}

fn manager() -> Acting {
    Acting::user(
        1,
        "manager@example.com",
        Role::Manager,
        kanta_core::Channel::Ui,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_whose_churn_follows_usage_learns_that_usage_matters() {
    each_core(|backend, core| async move {
        seed(&core, 500, 0.5, 7).await;
        let as_of = d(AS_OF.0, AS_OF.1, AS_OF.2);
        let run = core.refresh_health(&manager(), as_of).await.unwrap();
        assert_eq!(run.method, "learned", "{backend}: {:?}", run.why);
        assert!(run.events >= 50, "{backend}: {run:?}");
        assert_eq!(run.customers, 500, "{backend}");
        let v = run
            .validation
            .clone()
            .expect("a holdout with both outcomes");
        assert!(v.auc > 0.7, "{backend}: holdout AUC {}", v.auc);
        assert!(v.brier < 0.25, "{backend}: Brier {}", v.brier);
        assert!(!v.calibration.is_empty(), "{backend}");

        // The model page's view: learned, with the usage feature's bins; a fall in
        // usage weighs against health (negative health weight) and steady usage not.
        let view = core.health_model(&manager()).await.unwrap().unwrap();
        assert_eq!(view.method, "learned");
        assert_eq!(view.why.key, "learned");
        let usage = view
            .features
            .iter()
            .find(|f| f.name == "usage_trend")
            .expect("usage_trend in the model");
        let card: kanta_models::scorecard::Scorecard = {
            let m = core.store().latest_health_model().await.unwrap().unwrap();
            serde_json::from_value(m.details["scorecard"].clone()).unwrap()
        };
        let feature = card
            .features
            .iter()
            .find(|f| f.name == "usage_trend")
            .unwrap();
        let weight_at = |x: f64| {
            let cells = kanta_models::scorecard::Cells::Numeric(vec![Some(x)]);
            feature
                .bin_of(Some(&cells), 0)
                .map_or(0.0, |b| -feature.bins[b].weight)
        };
        assert!(
            weight_at(0.25) < weight_at(1.0),
            "{backend}: usage down to a quarter must weigh against health: {:?}",
            usage.bins
        );
        assert!(weight_at(0.25) < 0.0, "{backend}: {:?}", usage.bins);

        // A customer's factors add up to the logit, and the score is the probability's.
        let h = core
            .customer_health(&manager(), "c0001")
            .await
            .unwrap()
            .unwrap();
        let sum = h
            .factors
            .iter()
            .fold(h.intercept, |s, f| s + f.contribution);
        assert!(
            (sum - h.logit).abs() < 1e-9,
            "{backend}: {sum} vs {}",
            h.logit
        );
        assert_eq!(h.score, (100.0 * (1.0 - h.probability)).round() as i64);
        assert!(
            (h.probability - 1.0 / (1.0 + h.logit.exp())).abs() < 1e-12,
            "{backend}"
        );
        assert!(FEATURES.iter().any(|(k, _)| h.factors[0].feature == *k));
        for w in h.factors.windows(2) {
            assert!(w[0].contribution.abs() >= w[1].contribution.abs());
        }
        assert_eq!(h.history.len(), 1, "{backend}");

        // Refreshing again the same day keeps one history row per customer, and each
        // refresh is audited.
        core.refresh_health(&manager(), as_of).await.unwrap();
        let h2 = core
            .customer_health(&manager(), "c0001")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h2.history.len(), 1, "{backend}");
        // The refit wrote a new model: the model shown and the intercept a customer's
        // factors add up from are the new row's, not the view read before it.
        let newest = core.store().latest_health_model().await.unwrap().unwrap();
        assert_ne!(newest.id, view.id, "{backend}: a refit writes a new model");
        let again = core.health_model(&manager()).await.unwrap().unwrap();
        assert_eq!(again.id, newest.id, "{backend}");
        assert_eq!(h2.model_id, newest.id, "{backend}");
        assert_eq!(
            h2.intercept,
            -newest.details["scorecard"]["intercept"].as_f64().unwrap(),
            "{backend}"
        );
        assert_eq!(
            audit_of(core.store(), "refresh").await.len(),
            2,
            "{backend}"
        );
        // The next day adds one.
        core.refresh_health(&manager(), as_of.succ_opt().unwrap())
            .await
            .unwrap();
        let h3 = core
            .customer_health(&manager(), "c0001")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h3.history.len(), 2, "{backend}");

        // The daily job reuses the week-old weights: no new model, one more day.
        let models = core.store().health_models(100).await.unwrap();
        let day3 = as_of.succ_opt().unwrap().succ_opt().unwrap();
        let daily = core
            .refresh_health_daily(&Acting::job("health.daily"), day3)
            .await
            .unwrap();
        assert_eq!(daily.model_id, models[0].id, "{backend}");
        assert_eq!(
            core.store().health_models(100).await.unwrap().len(),
            models.len(),
            "{backend}"
        );
        let h4 = core
            .customer_health(&manager(), "c0001")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h4.history.len(), 3, "{backend}");
        assert_eq!(h4.day, day3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_few_outcomes_the_expert_weights_are_used_and_said() {
    each_core(|backend, core| async move {
        seed(&core, 30, 0.1, 3).await;
        let as_of = d(AS_OF.0, AS_OF.1, AS_OF.2);
        let run = core.refresh_health(&manager(), as_of).await.unwrap();
        assert_eq!(run.method, "expert", "{backend}: {run:?}");
        assert_eq!(run.why.key, "too_few_events");
        assert!(run.events < 50);
        let view = core.health_model(&manager()).await.unwrap().unwrap();
        assert_eq!(view.method, "expert");
        assert!(
            view.why
                .sentence()
                .contains("fewer than 50, expert weights in use"),
            "{}",
            view.why.sentence()
        );
        assert!(view.features.iter().any(|f| f.name == "usage_trend"));
        // Every customer is scored, and the factors still add up.
        let h = core
            .customer_health(&manager(), "c0002")
            .await
            .unwrap()
            .unwrap();
        let sum = h
            .factors
            .iter()
            .fold(h.intercept, |s, f| s + f.contribution);
        assert!((sum - h.logit).abs() < 1e-9, "{backend}");
        assert!((0..=100).contains(&h.score));

        // Staff may read, not refresh.
        let staff = Acting::user(2, "staff@example.com", Role::Staff, kanta_core::Channel::Ui);
        assert!(core.refresh_health(&staff, as_of).await.is_err());
        assert!(core.health_model(&staff).await.unwrap().is_some());
    })
    .await;
}

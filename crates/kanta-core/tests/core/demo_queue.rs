//! Whom to contact today, on the demo: the demo written through the core, scored, its
//! health computed and its queue filled, as `kanta demo` does. The learned health
//! weights recover the signs of the churn factors the demo states (`docs/demo.md`,
//! "Whom to contact today"), the planted accounts are in the queue with their reasons
//! (the healthy one is not), and the top of the queue is the accounts the demo put at
//! risk.

use std::collections::{HashMap, HashSet};

use kanta_core::queue::{OwnerFilter, QueueEntry, QueueFilter};
use kanta_core::scoring::{ScoreSettings, score_store};
use kanta_core::{Acting, Core};
use kanta_demo::{ACCOUNT_MANAGER, DemoConfig, PLANTED};
use kanta_models::scorecard::{Cells, Scorecard};

use crate::support::each_core;

/// The B2B firm at its default size, whose churn the stated factors drive, without
/// the café: its customers answer surveys as often as they visit, so among them a
/// detractor's answer marks a frequent (staying) visitor, which would blur the firm's
/// factor in a model fitted on both.
fn config() -> DemoConfig {
    DemoConfig {
        cafe_customers: 0,
        ..DemoConfig::default()
    }
}

async fn load(core: &Core, cfg: &DemoConfig) {
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

/// The churn-logit weight the scorecard gives a value of a numeric feature.
fn numeric_weight(card: &Scorecard, feature: &str, x: f64) -> f64 {
    let f = card
        .features
        .iter()
        .find(|f| f.name == feature)
        .unwrap_or_else(|| panic!("no feature {feature}"));
    f.bin_of(Some(&Cells::Numeric(vec![Some(x)])), 0)
        .map_or(0.0, |b| f.bins[b].weight)
}

fn level_weight(card: &Scorecard, feature: &str, level: &str) -> f64 {
    let f = card
        .features
        .iter()
        .find(|f| f.name == feature)
        .unwrap_or_else(|| panic!("no feature {feature}"));
    f.bin_of(Some(&Cells::Categorical(vec![Some(level.to_string())])), 0)
        .map_or(0.0, |b| f.bins[b].weight)
}

async fn whole_queue(core: &Core, owner: OwnerFilter) -> Vec<QueueEntry> {
    let acting = Acting::cli();
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = core
            .queue_page(
                &acting,
                &QueueFilter {
                    owner: owner.clone(),
                    cursor,
                    limit: 500,
                    ..Default::default()
                },
            )
            .await
            .expect("queue page");
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_queue_names_its_planted_accounts_and_ranks_the_at_risk_first() {
    each_core(|backend, core| async move {
        let cfg = config();
        load(&core, &cfg).await;
        let acting = Acting::cli();
        // Learn from the demo's own outcomes even if they were few.
        core.set_store_setting(&acting, "health_min_events", "10")
            .await
            .expect("setting");
        let run = core
            .refresh_health(&acting, cfg.as_of)
            .await
            .expect("health");
        eprintln!(
            "{backend}: {} model on {} rows, {} events, validation {:?}",
            run.method, run.rows, run.events, run.validation
        );
        assert_eq!(run.method, "learned", "{backend}");

        // The learned weights (churn logit: higher = less healthy) recover the signs
        // of the stated factors.
        let model = core
            .store()
            .latest_health_model()
            .await
            .unwrap()
            .expect("a model");
        let card: Scorecard =
            serde_json::from_value(model.details["scorecard"].clone()).expect("a scorecard");
        let w = |f: &str, x: f64| numeric_weight(&card, f, x);
        eprintln!(
            "{backend}: usage_trend 0.3 {:.2} / 1.0 {:.2}; trust -30 {:.2} / 10 {:.2}; \
             days_since_proactive 250 {:.2} / 10 {:.2}; detractor {:.2} / promoter {:.2}",
            w("usage_trend", 0.3),
            w("usage_trend", 1.0),
            w("trust_balance", -30.0),
            w("trust_balance", 10.0),
            w("days_since_proactive", 250.0),
            w("days_since_proactive", 10.0),
            level_weight(&card, "last_nps_group", "detractor"),
            level_weight(&card, "last_nps_group", "promoter"),
        );
        for f in &card.features {
            eprintln!(
                "  {}: {:?}",
                f.name,
                f.bins
                    .iter()
                    .map(|b| format!("{} {:+.2} ({}/{})", b.label, b.weight, b.events, b.count))
                    .collect::<Vec<_>>()
            );
        }
        assert!(
            w("usage_trend", 0.3) > w("usage_trend", 1.0),
            "{backend}: falling usage lowers health"
        );
        assert!(
            level_weight(&card, "last_nps_group", "detractor")
                > level_weight(&card, "last_nps_group", "promoter"),
            "{backend}: a detractor's answer lowers health"
        );
        assert!(
            w("trust_balance", -30.0) > w("trust_balance", 10.0),
            "{backend}: a trust deficit lowers health"
        );
        assert!(
            w("days_since_proactive", 250.0) > w("days_since_proactive", 10.0),
            "{backend}: a long time without a proactive contact lowers health"
        );

        let refreshed = core.refresh_queue(&acting, cfg.as_of).await.expect("queue");
        eprintln!("{backend}: {refreshed:?}");
        let queue = whole_queue(&core, OwnerFilter::All).await;
        let keys: HashMap<&str, HashSet<&str>> = queue
            .iter()
            .map(|e| {
                (
                    e.customer_id.as_str(),
                    e.reasons.iter().map(|r| r.key.as_str()).collect(),
                )
            })
            .collect();
        // The planted accounts: each with its reason, the healthy one not at all.
        for (id, shows) in PLANTED {
            match shows {
                "healthy" => assert!(
                    !keys.contains_key(id),
                    "{backend}: the healthy {id} is queued: {:?}",
                    keys.get(id)
                ),
                reason => assert!(
                    keys.get(id).is_some_and(|k| k.contains(reason)),
                    "{backend}: {id} lacks {reason}: {:?}",
                    keys.get(id)
                ),
            }
        }
        // And they are the account manager's.
        let mine = whole_queue(&core, OwnerFilter::Email(ACCOUNT_MANAGER.email.into())).await;
        for (id, shows) in PLANTED.iter().filter(|p| p.1 != "healthy") {
            assert!(
                mine.iter().any(|e| e.customer_id == *id),
                "{backend}: {id} ({shows}) not in {}'s queue",
                ACCOUNT_MANAGER.email
            );
        }

        // Ordered by value at risk; the top rows are the accounts the demo put at risk.
        assert!(
            queue
                .windows(2)
                .all(|p| p[0].value_at_risk_minor >= p[1].value_at_risk_minor)
        );
        let at_risk: HashSet<String> = kanta_demo::accounts_at_risk(&cfg).into_iter().collect();
        let top: Vec<&QueueEntry> = queue.iter().take(20).collect();
        let hits = top
            .iter()
            .filter(|e| at_risk.contains(&e.customer_id))
            .count();
        let b2b_queued = queue
            .iter()
            .filter(|e| e.customer_id.starts_with("b2b-"))
            .count();
        let base_rate = queue
            .iter()
            .filter(|e| at_risk.contains(&e.customer_id))
            .count() as f64
            / queue.len() as f64;
        eprintln!(
            "{backend}: {} queued ({b2b_queued} accounts), {} accounts at risk by \
             construction; {hits} of the top 20 are (base rate in the queue {base_rate:.2}): {:?}",
            queue.len(),
            at_risk.len(),
            top.iter()
                .map(|e| (
                    e.customer_id.as_str(),
                    e.value_at_risk_minor,
                    at_risk.contains(&e.customer_id)
                ))
                .collect::<Vec<_>>()
        );
        assert!(
            hits > 10,
            "{backend}: only {hits} of the top 20 are at risk"
        );
    })
    .await;
}

//! The trust ledger's rules as set-based SQL, on both backends: entries once per
//! record and rule, corrections when a rule stops holding, breaches once per case and
//! step, escalation cases once per mistake, the ledger read with running balances;
//! and a writer that merges mid-write counts its rows once.

use chrono::{DateTime, Duration, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CASES, CUSTOMERS, FEEDBACK, INTERACTIONS, STAFF};
use kanta_store::trust::{Credits, Detractor};
use kanta_store::{RunInfo, Store, WriteBatch};

use crate::{each_backend, fields, text};

const CREDITS: Credits = Credits {
    good_job: 1,
    mistake: -10,
};

fn ago(hours: i64) -> DateTime<Utc> {
    Utc::now() - Duration::hours(hours)
}

async fn customers(store: &Store) {
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push("s1".into(), [text("Sanna"), text("sanna@example.fi")]);
    store.write(&s).await.unwrap();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "owner_id"]));
    c.push("c1".into(), [text("Aino"), text("s1")]);
    c.push("c2".into(), [text("Bertil"), Value::Null]);
    store.write(&c).await.unwrap();
}

/// Writes interactions (id, customer, outcome) and applies the rules in the same
/// transaction; returns the entries written.
async fn interactions(store: &Store, rows: &[(&str, &str, &str)]) -> u64 {
    let f = fields(
        &INTERACTIONS,
        &["customer_id", "occurred_at", "kind", "outcome"],
    );
    let mut w = store.writer(&INTERACTIONS, f.clone()).await.unwrap();
    let mut b = WriteBatch::new(&INTERACTIONS, f);
    for (id, c, outcome) in rows {
        b.push(
            (*id).into(),
            [text(c), Value::Time(ago(5)), text("call"), text(outcome)],
        );
    }
    w.write(b).await.unwrap();
    w.merge_written().await.unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r.0.to_string()).collect();
    let applied = w
        .apply_trust_rules("interactions", &ids, CREDITS, false, Detractor::default())
        .await
        .unwrap();
    assert!(applied.mistakes.is_empty(), "good jobs are no mistakes");
    w.finish(&RunInfo::default()).await.unwrap();
    applied.entries
}

#[tokio::test]
async fn rules_write_each_entry_once_and_correct_what_no_longer_holds() {
    each_backend(|store| async move {
        customers(&store).await;
        let rows = [
            ("i1", "c1", "positive"),
            ("i2", "c1", "neutral"),
            ("i3", "c2", "positive"),
        ];
        assert_eq!(interactions(&store, &rows).await, 2);
        assert_eq!(
            interactions(&store, &rows).await,
            0,
            "written again: nothing"
        );
        let l = store.trust_ledger("c1", 10).await.unwrap().unwrap();
        assert_eq!((l.balance, l.count), (1, 1));
        assert_eq!(l.entries[0].external_id, "auto:interaction:i1:positive");
        assert_eq!(l.entries[0].source, "interaction");
        assert_eq!(l.entries[0].source_id.as_deref(), Some("i1"));

        // i1 no longer positive, i2 now positive: a correction and a credit.
        let rows = [("i1", "c1", "negative"), ("i2", "c1", "positive")];
        assert_eq!(interactions(&store, &rows).await, 2);
        // i1 positive again: a third entry of its rule, numbered.
        assert_eq!(interactions(&store, &[("i1", "c1", "positive")]).await, 1);
        let l = store.trust_ledger("c1", 10).await.unwrap().unwrap();
        assert_eq!((l.balance, l.count), (2, 4));
        let mut ids: Vec<&str> = l.entries.iter().map(|e| e.external_id.as_str()).collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "auto:interaction:i1:positive",
                "auto:interaction:i1:positive:2",
                "auto:interaction:i1:positive:3",
                "auto:interaction:i2:positive",
            ]
        );
        assert!(store.trust_ledger("nobody", 10).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn answers_without_a_customer_earn_nothing() {
    each_backend(|store| async move {
        customers(&store).await;
        let f = fields(&FEEDBACK, &["customer_id", "answered_at", "nps"]);
        let mut w = store.writer(&FEEDBACK, f.clone()).await.unwrap();
        let mut b = WriteBatch::new(&FEEDBACK, f);
        b.push(
            "f1".into(),
            [text("c2"), Value::Time(ago(3)), Value::Int(6)],
        );
        b.push(
            "f2".into(),
            [Value::Null, Value::Time(ago(3)), Value::Int(0)],
        );
        b.push(
            "f3".into(),
            [text("c2"), Value::Time(ago(3)), Value::Int(9)],
        );
        w.write(b).await.unwrap();
        w.merge_written().await.unwrap();
        let ids = ["f1", "f2", "f3"].map(String::from);
        let applied = w
            .apply_trust_rules("feedback", &ids, CREDITS, false, Detractor::default())
            .await
            .unwrap();
        assert_eq!(applied.entries, 2);
        assert_eq!(applied.mistakes.len(), 1, "the detractor");
        w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!(
            store.trust_ledger("c2", 10).await.unwrap().unwrap().balance,
            -9
        );
    })
    .await;
}

#[tokio::test]
async fn the_detractor_rule_follows_the_thresholds_and_counts_csat_without_nps() {
    each_backend(|store| async move {
        customers(&store).await;
        let f = fields(&FEEDBACK, &["customer_id", "answered_at", "nps", "csat"]);
        let mut w = store.writer(&FEEDBACK, f.clone()).await.unwrap();
        let mut b = WriteBatch::new(&FEEDBACK, f);
        // NPS 5: a detractor by the default (0-6), not with nps_max 4.
        b.push(
            "g1".into(),
            [text("c2"), Value::Time(ago(3)), Value::Int(5), Value::Null],
        );
        // No NPS, CSAT 2: a detractor by the default (1-2), and by csat_max 2.
        b.push(
            "g2".into(),
            [text("c2"), Value::Time(ago(3)), Value::Null, Value::Int(2)],
        );
        // NPS 8 and CSAT 1: the NPS decides, not a detractor.
        b.push(
            "g3".into(),
            [
                text("c2"),
                Value::Time(ago(3)),
                Value::Int(8),
                Value::Int(1),
            ],
        );
        w.write(b).await.unwrap();
        w.merge_written().await.unwrap();
        let ids = ["g1", "g2", "g3"].map(String::from);
        let strict = Detractor {
            nps_max: 4,
            csat_max: 2,
        };
        let applied = w
            .apply_trust_rules("feedback", &ids, CREDITS, false, strict)
            .await
            .unwrap();
        assert_eq!(applied.mistakes.len(), 1, "only the CSAT answer");
        w.finish(&RunInfo::default()).await.unwrap();
        let ledger = store.trust_ledger("c2", 10).await.unwrap().unwrap();
        assert_eq!(ledger.balance, CREDITS.mistake, "one mistake, no good job");
        assert!(
            ledger
                .entries
                .iter()
                .any(|e| e.reason.contains("satisfaction 2/5")),
            "{:?}",
            ledger.entries
        );
    })
    .await;
}

#[tokio::test]
async fn breaches_once_per_case_and_step_and_escalations_once_per_mistake() {
    each_backend(|store| async move {
        customers(&store).await;
        let f = fields(&CASES, &["customer_id", "opened_at", "category"]);
        let mut b = WriteBatch::new(&CASES, f);
        b.push(
            "k1".into(),
            [text("c1"), Value::Time(ago(30)), text("delivery")],
        );
        store.write(&b).await.unwrap();

        let breaches = vec![
            ("k1".to_string(), "first_response".to_string(), ago(29)),
            ("k1".to_string(), "resolution".to_string(), ago(22)),
            ("k1".to_string(), "lunch".to_string(), ago(22)),
            ("ghost".to_string(), "resolution".to_string(), ago(22)),
        ];
        let mut w = store.writer(&CASES, Vec::new()).await.unwrap();
        let applied = w.trust_breaches(&breaches, -10, false).await.unwrap();
        assert_eq!(applied.entries, 2, "unknown steps and cases skipped");
        assert_eq!(applied.mistakes.len(), 2);
        assert_eq!(
            w.trust_breaches(&breaches, -10, false)
                .await
                .unwrap()
                .entries,
            0
        );
        // The first breach landed on a customer with no entries, the second on -10:
        // only the second escalates, and only once.
        let esc = w
            .escalate_mistakes(&applied.mistakes, ago(24 * 14), "cases.sla", false)
            .await
            .unwrap();
        assert_eq!(esc.len(), 1, "{esc:?}");
        let e = &esc[0];
        assert_eq!(
            Some(&e.entry_id),
            applied.mistakes.iter().max(),
            "the later one"
        );
        assert_eq!(e.case_external_id, format!("escalation-{}", e.entry_id));
        assert_eq!(
            (e.customer_id.as_str(), e.customer_name.as_deref()),
            ("c1", Some("Aino"))
        );
        assert_eq!(e.balance, -20);
        assert_eq!(e.owner_email.as_deref(), Some("sanna@example.fi"));
        assert!(
            e.reason.contains("k1") && e.reason.contains("target"),
            "{e:?}"
        );
        let again = w
            .escalate_mistakes(&applied.mistakes, ago(24 * 14), "cases.sla", false)
            .await
            .unwrap();
        assert!(again.is_empty());
        // Mistakes older than the window do not escalate.
        let old = w
            .trust_breaches(
                &[("k1".to_string(), "resolution".to_string(), ago(24 * 20))],
                -10,
                false,
            )
            .await
            .unwrap();
        assert_eq!(old.entries, 0, "once per case and step, whatever the time");
        assert!(w.managers().await.unwrap().is_empty());
        w.finish(&RunInfo::default()).await.unwrap();

        let k = store
            .get(&CASES, &e.case_external_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(k.text("category"), Some("escalation"));
        assert_eq!(k.text("severity"), Some("high"));
        assert_eq!(k.text("staff_id"), Some("s1"));
        let l = store.trust_ledger("c1", 10).await.unwrap().unwrap();
        assert_eq!((l.balance, l.count), (-20, 2));
        // Entries newest first by their event time, with the balance after each.
        assert_eq!(l.entries[0].external_id, "auto:case:k1:breach_resolution");
        assert_eq!(
            (l.entries[0].balance_after, l.entries[1].balance_after),
            (-20, -10)
        );
        assert_eq!(l.points.len(), 2);
        let one = store
            .trust_entry("auto:case:k1:breach_first_response")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.balance_after, -10);
    })
    .await;
}

#[tokio::test]
async fn a_write_merged_midway_counts_its_rows_once() {
    each_backend(|store| async move {
        customers(&store).await;
        let f = fields(&INTERACTIONS, &["customer_id", "occurred_at", "kind"]);
        let mut w = store.writer(&INTERACTIONS, f.clone()).await.unwrap();
        for chunk in 0..3 {
            let mut b = WriteBatch::new(&INTERACTIONS, f.clone());
            for i in 0..10 {
                b.push(
                    format!("i{}", chunk * 10 + i),
                    [text("c1"), Value::Time(ago(5)), text("call")],
                );
            }
            // The second chunk repeats the first's rows: unchanged.
            if chunk == 1 {
                b = WriteBatch::new(&INTERACTIONS, f.clone());
                for i in 0..10 {
                    b.push(
                        format!("i{i}"),
                        [text("c1"), Value::Time(ago(5)), text("call")],
                    );
                }
            }
            w.write(b).await.unwrap();
            w.merge_written().await.unwrap();
        }
        let s = w
            .finish(&RunInfo {
                source: "chunks.csv".into(),
                rows_read: 30,
                rejected: 0,
            })
            .await
            .unwrap();
        // Values at 5 h ago are written anew each chunk: i0..i9 changed times.
        assert_eq!(s.inserted, 20, "{s:?}");
        assert_eq!(s.inserted + s.updated + s.unchanged, 30, "{s:?}");
        let counts = store.counts().await.unwrap();
        assert!(counts.contains(&("interactions", 20)), "{counts:?}");
    })
    .await;
}

//! The trust ledger's rules through the core's writes, on both backends: a mistake
//! costs ten good jobs, each entry names its record and reason, writing a record again
//! adds nothing, a flag that flips back is corrected, a mistake on a customer in
//! deficit escalates once (case and mail), old mistakes do not, managers add manual
//! entries with a reason, and the settings change the credits.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kanta_core::jobs::{JobSettings, Services, work_once};
use kanta_core::mail::{Mailer, SmtpMailer};
use kanta_core::trust::TrustHistory;
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CASES, CUSTOMERS, FEEDBACK, INTERACTIONS, STAFF, TRUST_LEDGER};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::{NewUser, Role};
use kanta_store::records::{CustomerFilter, CustomerSort, TrustFilter};

use crate::smtp::{SmtpServer, parse};
use crate::support::{all_fields, audit_of, each_core, fields, text};

fn staff() -> Acting {
    Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui)
}

fn manager() -> Acting {
    Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui)
}

fn ago(hours: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::hours(hours)
}

/// Staff member `s1` (Sanna, with an email), customer `c1` owned by her, and
/// customers `c2` and `c3` with no owner.
async fn setup(core: &Core) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push(
        "s1".into(),
        [text("Sanna Virtanen"), text("sanna@example.fi")],
    );
    core.write_batch(&cli, s).await.unwrap();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "owner_id"]));
    c.push("c1".into(), [text("Kahvila Åkerlund"), text("s1")]);
    c.push("c2".into(), [text("Bertil"), Value::Null]);
    c.push("c3".into(), [text("Cecilia"), Value::Null]);
    core.write_batch(&cli, c).await.unwrap();
}

fn case(customer: &str, opened: DateTime<Utc>, our_fault: Option<bool>) -> Vec<Value> {
    all_fields(
        &CASES,
        &[
            ("customer_id", text(customer)),
            ("opened_at", Value::Time(opened)),
            ("category", text("delivery")),
            ("severity", text("normal")),
            ("status", text("open")),
            ("our_fault", our_fault.map_or(Value::Null, Value::Bool)),
            ("summary", text("the cake came a day late")),
        ],
    )
}

fn interaction(customer: &str, at: DateTime<Utc>, outcome: &str) -> Vec<Value> {
    all_fields(
        &INTERACTIONS,
        &[
            ("customer_id", text(customer)),
            ("occurred_at", Value::Time(at)),
            ("kind", text("call")),
            ("outcome", text(outcome)),
        ],
    )
}

fn answer(customer: &str, at: DateTime<Utc>, nps: i64) -> Vec<Value> {
    all_fields(
        &FEEDBACK,
        &[
            ("customer_id", text(customer)),
            ("answered_at", Value::Time(at)),
            ("nps", Value::Int(nps)),
        ],
    )
}

/// Writes one record again through a batch (a re-import of the same row).
async fn rewrite(core: &Core, e: &'static kanta_domain::Entity, id: &str, values: Vec<Value>) {
    let mut b = WriteBatch::new(e, e.fields.iter().collect());
    b.push(id.into(), values);
    core.write_batch(&Acting::import("again.csv"), b)
        .await
        .unwrap();
}

async fn history(core: &Core, customer: &str) -> TrustHistory {
    core.trust_history(&staff(), customer).await.unwrap()
}

/// The escalation cases of the store (by their category), with the outbox.
async fn escalations(core: &Core) -> Vec<kanta_store::Record> {
    let mut q = kanta_store::RecordQuery::new(&CASES);
    q.filters = vec![(CASES.field("category").unwrap(), text("escalation"))];
    let page = core.store().list(&q).await.unwrap();
    page.items
        .into_iter()
        .filter(|r| r.text("category") == Some("escalation"))
        .collect()
}

#[tokio::test]
async fn a_case_that_was_our_fault_costs_ten_good_jobs_once_and_a_flip_back_is_corrected() {
    each_core(|backend, core| async move {
        setup(&core).await;
        // Opened a month ago: recorded, and too old to escalate.
        let opened = ago(24 * 30);
        core.create_record(&staff(), &CASES, "k1", case("c2", opened, Some(true)))
            .await
            .unwrap();
        let h = history(&core, "c2").await;
        assert_eq!(
            (h.balance, h.total, h.in_deficit),
            (-10, 1, true),
            "{backend}"
        );
        let e = &h.entries[0];
        assert_eq!(
            (e.delta, e.source.as_str(), e.source_id.as_deref(), e.kind),
            (-10, "case", Some("k1"), "mistake"),
            "{backend}"
        );
        // In the store's language (Finnish by default).
        assert!(
            e.reason.contains("k1") && e.reason.contains("meidän vikamme"),
            "{e:?}"
        );
        assert_eq!(
            e.at.timestamp_millis(),
            opened.timestamp_millis(),
            "the event's time"
        );
        assert_eq!(e.balance_after, -10);
        assert_eq!(e.rule.as_deref(), Some("our_fault"));

        // The same row again, as a re-import: nothing more.
        rewrite(&core, &CASES, "k1", case("c2", opened, Some(true))).await;
        assert_eq!(history(&core, "c2").await.total, 1, "{backend}");

        // Not our fault after all: a correcting entry, never a change.
        core.update_record(
            &staff(),
            &CASES,
            "k1",
            fields(&CASES, &["our_fault"]),
            vec![Value::Bool(false)],
        )
        .await
        .unwrap();
        let h = history(&core, "c2").await;
        assert_eq!(
            (h.balance, h.total, h.in_deficit),
            (0, 2, true),
            "{backend}"
        );
        assert_eq!((h.entries[0].delta, h.entries[0].kind), (10, "correction"));
        assert!(
            h.entries[0].reason.starts_with("Korjaus: tapausta k1"),
            "{:?}",
            h.entries[0]
        );
        assert_eq!(h.entries[0].source_id.as_deref(), Some("k1"));
        assert_eq!(h.entries[1].delta, -10, "the first entry stands");
        rewrite(&core, &CASES, "k1", case("c2", opened, Some(false))).await;
        assert_eq!(history(&core, "c2").await.total, 2, "{backend}");

        // Our fault again: debited again, once.
        rewrite(&core, &CASES, "k1", case("c2", opened, Some(true))).await;
        rewrite(&core, &CASES, "k1", case("c2", opened, Some(true))).await;
        let h = history(&core, "c2").await;
        assert_eq!((h.balance, h.total), (-10, 3), "{backend}");
        // Unknown (empty) is not a mistake.
        core.create_record(&staff(), &CASES, "k2", case("c3", ago(5), None))
            .await
            .unwrap();
        assert_eq!(history(&core, "c3").await.total, 0, "{backend}");
        assert!(
            escalations(&core).await.is_empty(),
            "{backend}: a month-old mistake"
        );
    })
    .await;
}

#[tokio::test]
async fn good_jobs_and_survey_answers_move_the_balance() {
    each_core(|backend, core| async move {
        setup(&core).await;
        core.create_record(
            &staff(),
            &INTERACTIONS,
            "i1",
            interaction("c2", ago(3), "positive"),
        )
        .await
        .unwrap();
        core.create_record(
            &staff(),
            &INTERACTIONS,
            "i2",
            interaction("c2", ago(2), "neutral"),
        )
        .await
        .unwrap();
        let h = history(&core, "c2").await;
        assert_eq!(
            (h.balance, h.total, h.in_deficit),
            (1, 1, false),
            "{backend}"
        );
        assert_eq!(
            (
                h.entries[0].source.as_str(),
                h.entries[0].source_id.as_deref(),
                h.entries[0].kind
            ),
            ("interaction", Some("i1"), "good_job")
        );
        rewrite(
            &core,
            &INTERACTIONS,
            "i1",
            interaction("c2", ago(3), "positive"),
        )
        .await;
        assert_eq!(history(&core, "c2").await.total, 1, "{backend}");

        // A detractor costs a mistake; the same answer changed to a promoter's takes it
        // back and earns a good job.
        let at = ago(1);
        core.create_record(&staff(), &FEEDBACK, "f1", answer("c3", at, 3))
            .await
            .unwrap();
        let h = history(&core, "c3").await;
        assert_eq!(h.balance, -10, "{backend}");
        assert_eq!(
            (
                h.entries[0].source.as_str(),
                h.entries[0].source_id.as_deref(),
                h.entries[0].kind
            ),
            ("feedback", Some("f1"), "mistake")
        );
        assert!(
            h.entries[0].reason.contains("arvostelijan vastaus"),
            "{:?}",
            h.entries[0]
        );
        core.update_record(
            &staff(),
            &FEEDBACK,
            "f1",
            fields(&FEEDBACK, &["nps"]),
            vec![Value::Int(10)],
        )
        .await
        .unwrap();
        let h = history(&core, "c3").await;
        assert_eq!((h.balance, h.total), (1, 3), "{backend}: -10 +10 +1");
        // A passive (7-8) earns nothing.
        core.create_record(&staff(), &FEEDBACK, "f2", answer("c3", at, 8))
            .await
            .unwrap();
        assert_eq!(history(&core, "c3").await.total, 3, "{backend}");
        // The points of the chart end at the balance, oldest first.
        assert_eq!(h.points.len(), 3);
        assert_eq!(h.points.last().unwrap().1, 1);
    })
    .await;
}

#[tokio::test]
async fn a_mistake_on_a_customer_in_deficit_escalates_once_with_one_mail_to_the_owner() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let store = core.store();
        // The first mistake on a new customer: in deficit now, but no escalation (the
        // customer was not in deficit before it).
        core.create_record(&staff(), &CASES, "k1", case("c1", ago(30), Some(true)))
            .await
            .unwrap();
        assert!(escalations(&core).await.is_empty(), "{backend}");
        assert!(store.outbox(10).await.unwrap().is_empty(), "{backend}");

        // The second, a detractor's answer: lands on -10.
        core.create_record(&staff(), &FEEDBACK, "f1", answer("c1", ago(2), 2))
            .await
            .unwrap();
        let esc = escalations(&core).await;
        assert_eq!(esc.len(), 1, "{backend}: {esc:?}");
        let k = &esc[0];
        assert_eq!(k.text("customer_id"), Some("c1"));
        assert_eq!(k.text("severity"), Some("high"));
        assert_eq!(k.text("status"), Some("open"));
        assert_eq!(
            k.text("staff_id"),
            Some("s1"),
            "owned by the customer's owner"
        );
        assert!(
            k.text("summary").is_some_and(|s| s
                == "Virhe asiakkaalle, jonka luottamussaldo on jo miinuksella: \
                    arvostelijan vastaus (suosittelisi meitä 2/10)"),
            "names the mistake: {k:?}"
        );
        let h = history(&core, "c1").await;
        assert_eq!(h.balance, -20);
        let mails = store.outbox(10).await.unwrap();
        assert_eq!(mails.len(), 1, "{backend}: {mails:?}");
        let m = &mails[0];
        assert_eq!(m.to, "sanna@example.fi");
        assert!(m.key.starts_with("escalation:"), "{}", m.key);
        let entry_id = m.key.trim_start_matches("escalation:");
        assert_eq!(k.external_id, format!("escalation-{entry_id}"));
        assert!(
            m.text.contains("Kahvila Åkerlund") && m.text.contains("-20"),
            "{}",
            m.text
        );
        assert!(m.text.contains(&k.external_id), "{}", m.text);
        // The mail names the mistake in its own language, from the rule, and the
        // case's page.
        assert!(
            m.text.contains("Virhe: arvostelijan vastaus (f1)")
                && !m.text.contains("Mistake")
                && m.text.contains(&format!("/cases/{}", k.external_id)),
            "{}",
            m.text
        );
        let audited = audit_of(store, "escalate").await;
        assert_eq!(audited.len(), 1, "{backend}");
        assert_eq!(
            audited[0].entry.record_id.as_deref(),
            Some(k.external_id.as_str())
        );
        assert_eq!(audited[0].entry.actor_name, "sanna@example.fi");

        // The same answer written again adds no entry, case or mail.
        rewrite(&core, &FEEDBACK, "f1", answer("c1", ago(2), 2)).await;
        rewrite(&core, &CASES, "k1", case("c1", ago(30), Some(true))).await;
        assert_eq!(history(&core, "c1").await.total, 2, "{backend}");
        assert_eq!(escalations(&core).await.len(), 1, "{backend}");
        assert_eq!(store.outbox(10).await.unwrap().len(), 1, "{backend}");

        // A third mistake is another escalation, with its own mail.
        core.create_record(&staff(), &FEEDBACK, "f2", answer("c1", ago(1), 0))
            .await
            .unwrap();
        assert_eq!(escalations(&core).await.len(), 2, "{backend}");
        assert_eq!(store.outbox(10).await.unwrap().len(), 2, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn without_an_owner_the_managers_hear_of_it() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let store = core.store();
        let audit = Acting::cli().audit("users", None, "create");
        for (email, role) in [
            ("maija@example.fi", Role::Manager),
            ("aapo@example.fi", Role::Admin),
            ("sanna@example.fi", Role::Staff),
        ] {
            store
                .create_user(
                    &NewUser {
                        email,
                        name: email,
                        role,
                        password_hash: "x",
                    },
                    &audit,
                )
                .await
                .unwrap();
        }
        core.create_record(&staff(), &FEEDBACK, "f1", answer("c2", ago(3), 1))
            .await
            .unwrap();
        core.create_record(&staff(), &FEEDBACK, "f2", answer("c2", ago(2), 1))
            .await
            .unwrap();
        assert_eq!(escalations(&core).await.len(), 1, "{backend}");
        let mut to: Vec<String> = store
            .outbox(10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.to)
            .collect();
        to.sort();
        assert_eq!(to, ["aapo@example.fi", "maija@example.fi"], "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_positive_balance_forgives_and_old_mistakes_do_not_escalate() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let store = core.store();
        // Eleven good jobs: +11.
        let mut b = WriteBatch::new(&INTERACTIONS, INTERACTIONS.fields.iter().collect());
        for i in 0..11 {
            b.push(format!("i{i}"), interaction("c1", ago(100 - i), "positive"));
        }
        core.write_batch(&staff(), b).await.unwrap();
        assert_eq!(history(&core, "c1").await.balance, 11, "{backend}");
        // Two mistakes land on +11 and +1: forgiven.
        for (id, h) in [("k1", 50), ("k2", 40)] {
            core.create_record(&staff(), &CASES, id, case("c1", ago(h), Some(true)))
                .await
                .unwrap();
        }
        assert_eq!(history(&core, "c1").await.balance, -9, "{backend}");
        assert!(escalations(&core).await.is_empty(), "{backend}");
        // The third lands on -9.
        core.create_record(&staff(), &CASES, "k3", case("c1", ago(30), Some(true)))
            .await
            .unwrap();
        assert_eq!(escalations(&core).await.len(), 1, "{backend}");

        // An import of old history: recorded, not escalated.
        let mut b = WriteBatch::new(&CASES, CASES.fields.iter().collect());
        for i in 0..5 {
            b.push(
                format!("old{i}"),
                case("c2", ago(24 * (60 + i)), Some(true)),
            );
        }
        core.write_batch(&Acting::import("cases.csv"), b)
            .await
            .unwrap();
        let h = history(&core, "c2").await;
        assert_eq!((h.balance, h.total), (-50, 5), "{backend}");
        assert_eq!(escalations(&core).await.len(), 1, "{backend}");
        assert_eq!(store.outbox(10).await.unwrap().len(), 1, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn manual_entries_need_a_manager_and_a_reason() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let r = core
            .add_trust_entry(&staff(), "c2", 5, "kind words".into())
            .await;
        assert!(
            matches!(r, Err(CoreError::Forbidden(_))),
            "{backend}: {r:?}"
        );
        let r = core.add_trust_entry(&manager(), "c2", 5, "  ".into()).await;
        match r {
            Err(CoreError::Invalid(p)) => {
                assert_eq!(p[0].field, "reason", "{p:?}");
                assert!(p[0].reason.contains("reason"), "{p:?}");
            }
            other => panic!("{backend}: {other:?}"),
        }
        let r = core
            .add_trust_entry(&manager(), "c2", 0, "nothing".into())
            .await;
        assert!(
            matches!(&r, Err(CoreError::Invalid(p)) if p[0].field == "delta"),
            "{r:?}"
        );
        let r = core
            .add_trust_entry(&manager(), "c2", 2_000_000, "too much".into())
            .await;
        assert!(
            matches!(&r, Err(CoreError::Invalid(p)) if p[0].field == "delta"),
            "{r:?}"
        );
        let r = core
            .add_trust_entry(&manager(), "nobody", 5, "who?".into())
            .await;
        assert!(matches!(r, Err(CoreError::NotFound(_))), "{r:?}");
        assert_eq!(
            history(&core, "c2").await.total,
            0,
            "refused entries wrote nothing"
        );

        let e = core
            .add_trust_entry(&manager(), "c2", 3, " Flowers for the wait ".into())
            .await
            .unwrap();
        assert_eq!(
            (
                e.delta,
                e.reason.as_str(),
                e.source.as_str(),
                e.kind,
                e.balance_after
            ),
            (3, "Flowers for the wait", "manual", "manual", 3),
            "{backend}"
        );
        let e = core
            .add_trust_entry(&manager(), "c2", -1, "Forgot the order".into())
            .await
            .unwrap();
        assert_eq!(e.balance_after, 2);
        let h = history(&core, "c2").await;
        assert_eq!((h.balance, h.total), (2, 2));
        let log = audit_of(core.store(), "manual_entry").await;
        assert_eq!(log.len(), 2, "{backend}");
        assert_eq!(log[0].entry.entity, "trust");
        assert_eq!(log[0].entry.actor_name, "maija@example.fi");
        assert_eq!(log[0].entry.changes["delta"]["after"], 3);
        // Viewers read the ledger.
        let viewer = Acting::token(1, "dashboard", Role::Viewer);
        assert_eq!(core.trust_history(&viewer, "c2").await.unwrap().balance, 2);
        assert!(matches!(
            core.trust_history(&viewer, "nobody").await,
            Err(CoreError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn the_settings_change_the_credits() {
    each_core(|backend, core| async move {
        setup(&core).await;
        for (key, bad) in [
            ("trust_mistake", "10"),
            ("trust_mistake", "kymmenen"),
            ("trust_good_job", "0"),
            ("trust_good_job", "-1"),
        ] {
            let r = core.set_store_setting(&manager(), key, bad).await;
            assert!(
                matches!(&r, Err(CoreError::Invalid(p)) if p[0].field == key),
                "{backend}: {key} = {bad}: {r:?}"
            );
        }
        assert!(matches!(
            core.set_store_setting(&staff(), "trust_mistake", "-5")
                .await,
            Err(CoreError::Forbidden(_))
        ));
        assert_eq!(
            core.set_store_setting(&manager(), "trust_mistake", "−5")
                .await
                .unwrap(),
            "-5",
            "the typographic minus reads"
        );
        assert_eq!(
            core.set_store_setting(&manager(), "trust_good_job", "+1")
                .await
                .unwrap(),
            "1"
        );
        let rules = core.rules().await.unwrap().trust;
        assert_eq!((rules.good_job, rules.mistake, rules.ratio()), (1, -5, 5.0));
        core.create_record(&staff(), &CASES, "k1", case("c2", ago(24 * 30), Some(true)))
            .await
            .unwrap();
        core.create_record(
            &staff(),
            &INTERACTIONS,
            "i1",
            interaction("c2", ago(3), "positive"),
        )
        .await
        .unwrap();
        let h = history(&core, "c2").await;
        assert_eq!(h.balance, -4, "{backend}: -5 + 1");
        assert_eq!((h.good_job, h.mistake), (1, -5));
    })
    .await;
}

#[tokio::test]
async fn the_customer_list_filters_and_sorts_by_the_new_entries() {
    each_core(|backend, core| async move {
        setup(&core).await;
        core.create_record(&staff(), &CASES, "k1", case("c2", ago(24 * 30), Some(true)))
            .await
            .unwrap();
        core.create_record(
            &staff(),
            &INTERACTIONS,
            "i1",
            interaction("c3", ago(3), "positive"),
        )
        .await
        .unwrap();
        let store = core.store();
        let deficit = store
            .customers(&CustomerFilter {
                trust: Some(TrustFilter::Deficit),
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<&str> = deficit.customers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c2"], "{backend}");
        assert_eq!(deficit.customers[0].trust_balance, -10);
        let sorted = store
            .customers(&CustomerFilter {
                sort: CustomerSort::TrustBalance,
                ..Default::default()
            })
            .await
            .unwrap();
        let order: Vec<(&str, i64)> = sorted
            .customers
            .iter()
            .map(|c| (c.id.as_str(), c.trust_balance))
            .collect();
        assert_eq!(order, [("c2", -10), ("c1", 0), ("c3", 1)], "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_long_history_reads_newest_first_with_a_thinned_chart() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let f = fields(
            &TRUST_LEDGER,
            &["customer_id", "occurred_at", "delta", "reason"],
        );
        let mut b = WriteBatch::new(&TRUST_LEDGER, f);
        let start = ago(24 * 400);
        for i in 0..1200i64 {
            let delta = if i % 11 == 10 { -10 } else { 1 };
            b.push(
                format!("e{i:04}"),
                [
                    text("c2"),
                    Value::Time(start + chrono::Duration::hours(i)),
                    Value::Int(delta),
                    text("history"),
                ],
            );
        }
        core.write_batch(&Acting::import("ledger.csv"), b)
            .await
            .unwrap();
        let h = history(&core, "c2").await;
        // 1200 entries: 109 mistakes (every 11th) and 1091 good jobs.
        assert_eq!((h.total, h.balance), (1200, 1091 - 1090), "{backend}");
        assert_eq!(h.entries.len(), 100);
        assert_eq!(h.entries[0].id, "e1199", "newest first");
        assert_eq!(h.entries[0].balance_after, h.balance);
        assert_eq!(h.entries[0].kind, "imported");
        for w in h.entries.windows(2) {
            assert_eq!(w[0].balance_after - w[0].delta, w[1].balance_after);
        }
        assert!(
            h.points.len() <= 501 && h.points.len() >= 400,
            "{}",
            h.points.len()
        );
        assert!(h.points.windows(2).all(|w| w[0].0 < w[1].0), "oldest first");
        assert_eq!(h.points.first().unwrap().1, 1);
        assert_eq!(h.points.last().unwrap().1, h.balance, "ends at the balance");
    })
    .await;
}

#[tokio::test]
async fn the_escalation_mail_reaches_a_real_smtp_server_once() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let server = SmtpServer::start().await;
        let mailer: Arc<dyn Mailer> = Arc::new(
            SmtpMailer::from_url(
                &server.url(),
                "Kanta <kanta@example.fi>",
                Duration::from_secs(10),
            )
            .unwrap(),
        );
        let services = Services {
            core: core.clone(),
            settings: JobSettings {
                score_every: None,
                ..JobSettings::default()
            },
            mailer: Some(mailer),
        };
        core.create_record(&staff(), &FEEDBACK, "f1", answer("c1", ago(5), 4))
            .await
            .unwrap();
        core.create_record(&staff(), &CASES, "k1", case("c1", ago(3), Some(true)))
            .await
            .unwrap();
        // Written again: still one mail.
        rewrite(&core, &CASES, "k1", case("c1", ago(3), Some(true))).await;
        while work_once(&services, "w1").await.unwrap() {}
        while work_once(&services, "w2").await.unwrap() {}
        let received = server.received();
        assert_eq!(received.len(), 1, "{backend}: {received:?}");
        assert_eq!(received[0].to, ["sanna@example.fi"]);
        let mail = parse(&received[0].data);
        assert!(
            mail.subject().contains("Kahvila Åkerlund"),
            "{}",
            mail.subject()
        );
        let text = mail.body("text/plain").unwrap();
        assert!(text.contains("k1") && text.contains("-20"), "{text}");
        let html = mail.body("text/html").unwrap();
        assert!(html.contains("Kahvila Åkerlund"), "{html}");
        let sent = core.store().outbox(10).await.unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].status, "sent", "{backend}");
    })
    .await;
}

/// A case of severity `critical` (1 h first response, 8 h resolution, calendar hours).
fn critical(customer: &str, opened: DateTime<Utc>) -> Vec<Value> {
    let mut v = case(customer, opened, Some(false));
    let i = CASES
        .fields
        .iter()
        .position(|f| f.name == "severity")
        .unwrap();
    v[i] = text("critical");
    v
}

async fn set_case(core: &Core, id: &str, names: &[&str], values: Vec<Value>) {
    core.update_record(&staff(), &CASES, id, fields(&CASES, names), values)
        .await
        .unwrap();
}

#[tokio::test]
async fn sla_outcomes_move_the_balance() {
    each_core(|backend, core| async move {
        setup(&core).await;
        // Resolved within its 8 hours: a good job, at the time it was resolved.
        core.create_record(&staff(), &CASES, "k1", critical("c2", ago(3)))
            .await
            .unwrap();
        let resolved = ago(1);
        set_case(
            &core,
            "k1",
            &["first_response_at", "status", "resolved_at"],
            vec![
                Value::Time(ago(3) + chrono::Duration::minutes(30)),
                text("resolved"),
                Value::Time(resolved),
            ],
        )
        .await;
        let h = history(&core, "c2").await;
        assert_eq!((h.balance, h.total), (1, 1), "{backend}: {:?}", h.entries);
        let e = &h.entries[0];
        assert_eq!(
            (e.kind, e.rule.as_deref(), e.source_id.as_deref()),
            ("good_job", Some("within_sla"), Some("k1"))
        );
        assert_eq!(e.at.timestamp_millis(), resolved.timestamp_millis());
        assert!(e.reason.contains("ratkaistiin tavoiteajassa"), "{e:?}");
        // Reopened: taken back.
        set_case(
            &core,
            "k1",
            &["status", "resolved_at"],
            vec![text("open"), Value::Null],
        )
        .await;
        let h = history(&core, "c2").await;
        assert_eq!(
            (h.balance, h.total, h.entries[0].kind),
            (0, 2, "correction"),
            "{backend}"
        );

        // Resolved after its 8 hours (and answered late): two breaches, no good job.
        core.create_record(&staff(), &CASES, "k2", critical("c3", ago(30)))
            .await
            .unwrap();
        set_case(
            &core,
            "k2",
            &["first_response_at", "status", "resolved_at"],
            vec![Value::Time(ago(20)), text("resolved"), Value::Time(ago(1))],
        )
        .await;
        let h = history(&core, "c3").await;
        let mut rules: Vec<&str> = h.entries.iter().filter_map(|e| e.rule.as_deref()).collect();
        rules.sort();
        assert_eq!(
            rules,
            ["breach_first_response", "breach_resolution"],
            "{backend}: {:?}",
            h.entries
        );
        assert_eq!(h.balance, -20);
        // The SLA job sees the same breaches: nothing twice.
        core.run_sla_check(Utc::now()).await.unwrap();
        assert_eq!(history(&core, "c3").await.total, 2, "{backend}");

        // An open case past its targets: the SLA job writes the mistakes of both steps,
        // once, and the second lands on the customer's deficit: escalated.
        core.create_record(&staff(), &CASES, "k3", critical("c1", ago(12)))
            .await
            .unwrap();
        core.run_sla_check(Utc::now()).await.unwrap();
        core.run_sla_check(Utc::now()).await.unwrap();
        let h = history(&core, "c1").await;
        assert_eq!((h.balance, h.total), (-20, 2), "{backend}: {:?}", h.entries);
        assert!(
            h.entries
                .iter()
                .all(|e| e.source_id.as_deref() == Some("k3"))
        );
        // (k2's second breach landed on c3's deficit too.)
        let esc: Vec<String> = escalations(&core)
            .await
            .iter()
            .filter_map(|k| k.text("customer_id").map(str::to_string))
            .collect();
        assert_eq!(esc, ["c3", "c1"], "{backend}");
        // Resolving it late adds no third breach.
        set_case(
            &core,
            "k3",
            &["status", "resolved_at"],
            vec![text("resolved"), Value::Time(ago(0))],
        )
        .await;
        assert_eq!(history(&core, "c1").await.total, 2, "{backend}");
    })
    .await;
}

/// The new user's import: `x1,k1,2024-02-01 09:00,billing,high,true,2024-02-01 15:00`
/// (id, customer, opened, category, severity, our fault, resolved at; no first
/// response). High is 4 h / 16 h in business hours (Mon-Fri 8-16): resolved 6
/// business hours after opening, the first response counts as given at the
/// resolution, 2 h past its target; the resolution is within its own.
#[tokio::test]
async fn a_resolved_import_without_a_first_response_breached_it_at_resolution() {
    each_core(|backend, core| async move {
        setup(&core).await;
        let zone = kanta_domain::time::DEFAULT_ZONE;
        let local = |s: &str| {
            use chrono::TimeZone;
            let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
            zone.from_local_datetime(&t).unwrap().with_timezone(&Utc)
        };
        let names = [
            "customer_id",
            "opened_at",
            "category",
            "severity",
            "status",
            "our_fault",
            "resolved_at",
        ];
        let mut b = WriteBatch::new(&CASES, fields(&CASES, &names));
        b.push(
            "x1".into(),
            [
                text("c2"),
                Value::Time(local("2024-02-01 09:00")),
                text("billing"),
                text("high"),
                text("resolved"),
                Value::Bool(false),
                Value::Time(local("2024-02-01 15:00")),
            ],
        );
        core.write_batch(&Acting::import("/tmp/cases.csv"), b)
            .await
            .unwrap();
        let h = history(&core, "c2").await;
        let got: Vec<(Option<&str>, i64)> = h
            .entries
            .iter()
            .map(|e| (e.rule.as_deref(), e.delta))
            .collect();
        assert_eq!(
            got,
            [(Some("breach_first_response"), -10)],
            "{backend}: one first-response breach, no good job"
        );
        assert_eq!(
            h.entries[0].at.timestamp_millis(),
            local("2024-02-01 13:00").timestamp_millis(),
            "at the target that passed"
        );
        assert!(
            h.entries[0]
                .reason
                .contains("ensivastauksen tavoiteaika ylittyi"),
            "{:?}",
            h.entries[0]
        );
        // The case shows it breached, as the ledger says; the timeline names the file.
        let d = core.case_detail(&staff(), "x1").await.unwrap();
        assert!(d.case.breached, "{backend}");
        assert!(
            d.events.iter().all(|e| e.actor == "cases.csv"),
            "{:?}",
            d.events
        );
        // The SLA job sees nothing more to write.
        core.run_sla_check(Utc::now()).await.unwrap();
        assert_eq!(history(&core, "c2").await.total, 1, "{backend}");

        // Answered in time (first response at 10:00): a good job, no breach.
        let mut b = WriteBatch::new(
            &CASES,
            fields(&CASES, &[&names[..], &["first_response_at"]].concat()),
        );
        b.push(
            "x2".into(),
            [
                text("c3"),
                Value::Time(local("2024-02-01 09:00")),
                text("billing"),
                text("high"),
                text("resolved"),
                Value::Bool(false),
                Value::Time(local("2024-02-01 15:00")),
                Value::Time(local("2024-02-01 10:00")),
            ],
        );
        core.write_batch(&Acting::import("/tmp/cases.csv"), b)
            .await
            .unwrap();
        let h = history(&core, "c3").await;
        let got: Vec<(Option<&str>, i64)> = h
            .entries
            .iter()
            .map(|e| (e.rule.as_deref(), e.delta))
            .collect();
        assert_eq!(got, [(Some("within_sla"), 1)], "{backend}");
    })
    .await;
}

#[tokio::test]
async fn an_english_store_writes_its_reasons_in_english() {
    each_core(|backend, core| async move {
        setup(&core).await;
        core.set_store_setting(&Acting::cli(), "language", "en")
            .await
            .unwrap();
        core.create_record(&staff(), &CASES, "k1", case("c1", ago(30), Some(true)))
            .await
            .unwrap();
        core.create_record(&staff(), &FEEDBACK, "f1", answer("c1", ago(2), 2))
            .await
            .unwrap();
        let h = history(&core, "c1").await;
        let reasons: Vec<&str> = h.entries.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "Mistake: a detractor's answer (would recommend us 2/10)",
                "Mistake: case k1 (delivery) was our fault",
            ],
            "{backend}"
        );
        let esc = escalations(&core).await;
        assert_eq!(
            esc[0].text("summary"),
            Some(
                "A mistake on a customer already in trust deficit: \
                 a detractor's answer (would recommend us 2/10)"
            ),
            "{backend}"
        );
        let mails = core.store().outbox(10).await.unwrap();
        assert!(
            mails[0].text.contains("Mistake: a detractor's answer (f1)")
                && mails[0].text.contains("/cases/escalation-"),
            "{}",
            mails[0].text
        );
    })
    .await;
}

//! Ending a relationship cleanly, on both backends: the acceptance (an unprofitable
//! customer ended through the workflow leaves the contact queue and a survey wave skips
//! them as ended), the roles (staff propose for their own customers, managers decide),
//! the notice queued in the outbox in the customer's language from the template, the
//! audit entries, a refusal's required reason, cancelling, the daily job ending an
//! approved ending whose day has come, and "let lapse" stopping the cadence.

use chrono::{Duration, NaiveDate};
use kanta_core::endings::{EndingInput, EndingQuery};
use kanta_core::queue::{OwnerFilter, QueueFilter};
use kanta_core::survey_send::{Audience, SendChannel};
use kanta_core::surveys::SurveyInput;
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, STAFF};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;

use crate::support::{audit_of, each_core, fields, text};

fn sanna() -> Acting {
    Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui)
}

fn maija() -> Acting {
    Acting::user(4, "maija@example.fi", Role::Manager, Channel::Ui)
}

/// Staff member Sanna (`s1`); customers `u1` (Sanna's, English, an unprofitable café
/// regular), `k2` (nobody's, Finnish) and `n3` (Sanna's, no email), all won two years
/// ago and never contacted (the cadence puts them in the queue), consenting to
/// surveys.
async fn setup(core: &Core, today: NaiveDate) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push(
        "s1".into(),
        [text("Sanna Virtanen"), text("sanna@example.fi")],
    );
    core.write_batch(&cli, s).await.unwrap();
    let won = Value::Date(today - Duration::days(730));
    let mut c = WriteBatch::new(
        &CUSTOMERS,
        fields(
            &CUSTOMERS,
            &[
                "name",
                "email",
                "locale",
                "owner_id",
                "acquired_on",
                "survey_consent",
            ],
        ),
    );
    c.push(
        "u1".into(),
        [
            text("Uma <Unprofitable>"),
            text("uma@example.com"),
            text("en"),
            text("s1"),
            won.clone(),
            Value::Bool(true),
        ],
    );
    c.push(
        "k2".into(),
        [
            text("Kalle Kanta-asiakas"),
            text("kalle@example.fi"),
            text("fi"),
            Value::Null,
            won.clone(),
            Value::Bool(true),
        ],
    );
    c.push(
        "n3".into(),
        [
            text("Niko Ilman Osoitetta"),
            Value::Null,
            text("fi"),
            text("s1"),
            won,
            Value::Bool(true),
        ],
    );
    core.write_batch(&cli, c).await.unwrap();
}

async fn queued(core: &Core) -> Vec<(String, Vec<String>)> {
    let page = core
        .queue_page(
            &maija(),
            &QueueFilter {
                owner: OwnerFilter::All,
                limit: 100,
                ..QueueFilter::default()
            },
        )
        .await
        .unwrap();
    let mut out: Vec<(String, Vec<String>)> = page
        .items
        .into_iter()
        .map(|i| {
            let keys = i.reasons.iter().map(|r| r.key.clone()).collect();
            (i.customer_id, keys)
        })
        .collect();
    out.sort();
    out
}

fn input(reason: &str, end_on: Option<NaiveDate>, notify: bool) -> EndingInput {
    EndingInput {
        reason: reason.into(),
        note: Some("Neljä korkean vakavuuden tapausta kuukaudessa, kate pieni".into()),
        end_on: end_on.map(|d| d.format("%d.%m.%Y").to_string()),
        notify,
    }
}

#[tokio::test]
async fn ending_an_unprofitable_customer_takes_them_off_the_queue_and_surveys() {
    each_core(|backend, core| async move {
        let today = core.today().await.unwrap();
        setup(&core, today).await;
        core.refresh_queue(&Acting::cli(), today).await.unwrap();
        let before = queued(&core).await;
        assert!(
            before
                .iter()
                .any(|(c, k)| c == "u1" && k.contains(&"cadence".to_string())),
            "{backend}: {before:?}"
        );

        // Staff propose for their own customers only; a notice needs an email.
        let e = core
            .propose_ending(&sanna(), "k2", input("unprofitable", None, true))
            .await;
        assert!(
            matches!(e, Err(CoreError::Forbidden(_))),
            "{backend}: {e:?}"
        );
        let e = core
            .propose_ending(&sanna(), "n3", input("moved_away", None, true))
            .await;
        assert!(
            matches!(&e, Err(CoreError::Invalid(p)) if p[0].field == "notify"),
            "{backend}: {e:?}"
        );
        let e = core
            .propose_ending(&sanna(), "u1", input("bored", None, true))
            .await;
        assert!(
            matches!(&e, Err(CoreError::Invalid(p)) if p[0].field == "reason"),
            "{backend}: {e:?}"
        );
        let yesterday = today - Duration::days(1);
        let e = core
            .propose_ending(&sanna(), "u1", input("unprofitable", Some(yesterday), true))
            .await;
        assert!(
            matches!(&e, Err(CoreError::Invalid(p)) if p[0].field == "end_on"),
            "{backend}: {e:?}"
        );

        let p = core
            .propose_ending(&sanna(), "u1", input("Unprofitable", Some(today), true))
            .await
            .unwrap();
        assert_eq!(
            (p.status.as_str(), p.reason.as_str(), p.end_on, p.notify),
            ("proposed", "unprofitable", today, true),
            "{backend}"
        );
        // One ending in progress per customer.
        let again = core
            .propose_ending(&maija(), "u1", input("other", None, false))
            .await;
        assert!(
            matches!(again, Err(CoreError::Conflict { .. })),
            "{backend}: {again:?}"
        );

        // The approval queue shows it to managers; staff cannot decide.
        let pending = core
            .endings(
                &maija(),
                &EndingQuery {
                    statuses: vec!["proposed".into()],
                    oldest_first: true,
                    ..EndingQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(pending.len(), 1, "{backend}");
        assert_eq!(pending[0].customer_id, "u1");
        let e = core.decide_ending(&sanna(), p.id, true, None).await;
        assert!(
            matches!(e, Err(CoreError::Forbidden(_))),
            "{backend}: {e:?}"
        );
        let e = core
            .decide_ending(&maija(), p.id, false, Some("  ".into()))
            .await;
        assert!(
            matches!(&e, Err(CoreError::Invalid(p)) if p[0].field == "note"),
            "{backend}: {e:?}"
        );

        // Approved with today's date: the notice is queued and the customer ends now.
        let d = core
            .decide_ending(&maija(), p.id, true, Some("Agreed.".into()))
            .await
            .unwrap();
        assert_eq!(d.status, "ended", "{backend}");
        assert!(
            d.mail_id.is_some() && d.ended_at.is_some(),
            "{backend}: {d:?}"
        );
        let rec = core.store().get(&CUSTOMERS, "u1").await.unwrap().unwrap();
        assert_eq!(rec.get("status"), &text("ended"), "{backend}");
        assert_eq!(rec.get("end_reason_code"), &text("unprofitable"));
        assert_eq!(rec.get("ended_on"), &Value::Date(today));
        assert_eq!(
            rec.get("end_reason"),
            &text("Neljä korkean vakavuuden tapausta kuukaudessa, kate pieni")
        );

        // The notice: in the outbox, in English, to the customer, from the template.
        let outbox = core.store().outbox(50).await.unwrap();
        assert_eq!(outbox.len(), 1, "{backend}: {outbox:?}");
        let m = &outbox[0];
        assert_eq!(m.to, "uma@example.com");
        assert_eq!(m.key, format!("ending:{}", p.id));
        assert!(
            m.subject
                .starts_with("Your customer relationship with us ends on"),
            "{}",
            m.subject
        );
        assert!(
            m.text.starts_with("Hello Uma <Unprofitable>,"),
            "{}",
            m.text
        );
        assert!(
            m.text.ends_with("Kind regards\nCustomer service"),
            "{}",
            m.text
        );
        let html = m.html.as_deref().unwrap();
        assert!(html.contains("Uma &lt;Unprofitable&gt;") && !html.contains("<Unprofitable>"));

        // Out of the queue at once, and after a full refresh.
        assert!(
            !queued(&core).await.iter().any(|(c, _)| c == "u1"),
            "{backend}"
        );
        core.refresh_queue(&Acting::cli(), today).await.unwrap();
        let after = queued(&core).await;
        assert!(
            !after.iter().any(|(c, _)| c == "u1"),
            "{backend}: {after:?}"
        );
        assert!(after.iter().any(|(c, _)| c == "k2"), "{backend}: {after:?}");

        // A survey wave skips them as ended.
        core.create_survey(
            &maija(),
            Some("kysely"),
            SurveyInput {
                name: Some("Kysely".into()),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
        core.set_survey_status(&maija(), "kysely", "active")
            .await
            .unwrap();
        let w = core
            .send_wave(&maija(), "kysely", Audience::All, SendChannel::Link, false)
            .await
            .unwrap();
        assert_eq!(w.invited, 2, "{backend}: {w:?}");
        assert!(
            w.reasons.contains(&("ended".to_string(), 1)),
            "{backend}: {:?}",
            w.reasons
        );

        // Every step audited.
        let store = core.store();
        assert_eq!(audit_of(store, "propose").await.len(), 1, "{backend}");
        let approve = audit_of(store, "approve").await;
        assert_eq!(approve.len(), 1, "{backend}");
        assert_eq!(approve[0].entry.entity, "customer_endings");
        assert_eq!(approve[0].entry.actor_name, "maija@example.fi");
        let end = audit_of(store, "end").await;
        assert_eq!(end.len(), 1, "{backend}");
        assert_eq!(end[0].entry.record_id.as_deref(), Some("u1"));
        assert_eq!(
            end[0].entry.changes["status"]["after"], "ended",
            "{:?}",
            end[0].entry.changes
        );
        assert!(
            audit_of(store, "mail_queued")
                .await
                .iter()
                .any(|r| r.entry.record_id.as_deref() == Some(&format!("ending:{}", p.id))),
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn refusals_cancels_and_the_daily_job() {
    each_core(|backend, core| async move {
        // In the zone furthest behind, "tomorrow" is today or past in the one furthest
        // ahead: the job then finds the ending due.
        core.set_store_setting(&maija(), "time_zone", "Pacific/Pago_Pago")
            .await
            .unwrap();
        core.set_store_setting(&maija(), "business_name", "Kahvila Kanta")
            .await
            .unwrap();
        let today = core.today().await.unwrap();
        setup(&core, today).await;
        let tomorrow = today + Duration::days(1);

        // A refusal with its reason leaves the customer as they were.
        let p = core
            .propose_ending(
                &maija(),
                "k2",
                input("breaks_agreements", Some(tomorrow), true),
            )
            .await
            .unwrap();
        let r = core
            .decide_ending(
                &maija(),
                p.id,
                false,
                Some("Maksoi viimein, jatketaan.".into()),
            )
            .await
            .unwrap();
        assert_eq!(r.status, "refused", "{backend}");
        assert_eq!(
            r.decision_note.as_deref(),
            Some("Maksoi viimein, jatketaan.")
        );
        assert!(
            core.store().outbox(10).await.unwrap().is_empty(),
            "{backend}"
        );
        let e = core.decide_ending(&maija(), p.id, true, None).await;
        assert!(
            matches!(e, Err(CoreError::Conflict { .. })),
            "{backend}: {e:?}"
        );

        // Approved for tomorrow: the notice goes now (in Finnish), the customer stays.
        let p = core
            .propose_ending(
                &maija(),
                "k2",
                input("breaks_agreements", Some(tomorrow), true),
            )
            .await
            .unwrap();
        let a = core
            .decide_ending(&maija(), p.id, true, None)
            .await
            .unwrap();
        assert_eq!(a.status, "approved", "{backend}");
        let outbox = core.store().outbox(10).await.unwrap();
        assert_eq!(outbox.len(), 1, "{backend}");
        assert!(
            outbox[0].subject.starts_with("Asiakkuutesi päättyy"),
            "{}",
            outbox[0].subject
        );
        assert!(
            outbox[0]
                .text
                .ends_with("Ystävällisin terveisin\nKahvila Kanta")
        );
        assert_eq!(
            core.run_due_endings(&Acting::cli()).await.unwrap().ended,
            0,
            "{backend}"
        );
        let rec = core.store().get(&CUSTOMERS, "k2").await.unwrap().unwrap();
        assert_eq!(rec.get("status"), &text("active"), "{backend}");

        // Staff propose, withdraw their own proposal; an approved one only a manager
        // cancels.
        let s = core
            .propose_ending(&sanna(), "n3", input("moved_away", Some(tomorrow), false))
            .await
            .unwrap();
        let c = core.cancel_ending(&sanna(), s.id, None).await.unwrap();
        assert_eq!(c.status, "cancelled", "{backend}");
        let s = core
            .propose_ending(&sanna(), "n3", input("moved_away", Some(tomorrow), false))
            .await
            .unwrap();
        core.decide_ending(&maija(), s.id, true, None)
            .await
            .unwrap();
        let e = core.cancel_ending(&sanna(), s.id, None).await;
        assert!(
            matches!(e, Err(CoreError::Forbidden(_))),
            "{backend}: {e:?}"
        );
        let c = core
            .cancel_ending(&maija(), s.id, Some("Jäikin asumaan tänne".into()))
            .await
            .unwrap();
        assert_eq!(c.status, "cancelled", "{backend}");

        // The next day (the zone furthest ahead): the job ends k2, not n3.
        core.set_store_setting(&maija(), "time_zone", "Pacific/Kiritimati")
            .await
            .unwrap();
        let due = core
            .run_due_endings(&Acting::job(kanta_core::endings::DUE_JOB))
            .await
            .unwrap();
        assert_eq!(due.ended, 1, "{backend}");
        let rec = core.store().get(&CUSTOMERS, "k2").await.unwrap().unwrap();
        assert_eq!(rec.get("status"), &text("ended"), "{backend}");
        assert_eq!(rec.get("ended_on"), &Value::Date(tomorrow));
        assert_eq!(rec.get("end_reason_code"), &text("breaks_agreements"));
        let rec = core.store().get(&CUSTOMERS, "n3").await.unwrap().unwrap();
        assert_eq!(rec.get("status"), &text("active"), "{backend}");
        let end = audit_of(core.store(), "end").await;
        assert_eq!(end.len(), 1, "{backend}");
        assert_eq!(end[0].entry.actor_kind, "job");
        assert_eq!(
            core.run_due_endings(&Acting::cli()).await.unwrap().ended,
            0,
            "{backend}"
        );
        let all = core
            .endings(&maija(), &EndingQuery::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 4, "{backend}");
        assert!(
            core.endings(
                &maija(),
                &EndingQuery {
                    statuses: vec!["nonsense".into()],
                    ..EndingQuery::default()
                }
            )
            .await
            .is_err()
        );
    })
    .await;
}

#[tokio::test]
async fn let_lapse_stops_the_cadence_without_notice() {
    each_core(|backend, core| async move {
        let today = core.today().await.unwrap();
        setup(&core, today).await;
        core.refresh_queue(&Acting::cli(), today).await.unwrap();
        assert!(
            queued(&core).await.iter().any(|(c, _)| c == "k2"),
            "{backend}"
        );
        core.set_let_lapse(&Acting::cli(), "k2", true)
            .await
            .unwrap();
        let q = queued(&core).await;
        assert!(!q.iter().any(|(c, _)| c == "k2"), "{backend}: {q:?}");
        core.refresh_queue(&Acting::cli(), today).await.unwrap();
        let q = queued(&core).await;
        assert!(!q.iter().any(|(c, _)| c == "k2"), "{backend}: {q:?}");
        assert!(q.iter().any(|(c, _)| c == "u1"), "{backend}: {q:?}");
        let rec = core.store().get(&CUSTOMERS, "k2").await.unwrap().unwrap();
        assert_eq!(rec.get("let_lapse"), &Value::Bool(true), "{backend}");
        assert_eq!(rec.get("status"), &text("active"), "{backend}");
        assert!(
            core.store().outbox(10).await.unwrap().is_empty(),
            "{backend}"
        );
        // Back on: the cadence returns.
        core.set_let_lapse(&Acting::cli(), "k2", false)
            .await
            .unwrap();
        assert!(
            queued(&core).await.iter().any(|(c, _)| c == "k2"),
            "{backend}"
        );
    })
    .await;
}

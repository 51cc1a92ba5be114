//! Sending surveys on both backends with a real SMTP server: a wave reaches the
//! consenting customers once each in their language, the invitation log says why the
//! others were skipped, 10,000 invitations queue in one set-based transaction, the
//! mail job sends at most once (a message claimed by a sender that died is never sent
//! again; a failure before the hand-over is retried), one reminder per invitation,
//! triggers after recent orders but never after old ones, quiet hours.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use kanta_core::access::Role;
use kanta_core::feedback_settings::FeedbackRules;
use kanta_core::jobs::{JobSettings, MAIL_SEND, Services, Workers, work_once};
use kanta_core::mail::{Mailer, Message, SmtpMailer};
use kanta_core::survey_send::{Audience, SendChannel, after_quiet_hours};
use kanta_core::surveys::SurveyInput;
use kanta_core::{Acting, Channel, Core};
use kanta_domain::schema::{CASES, CUSTOMERS, TRANSACTIONS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;
use kanta_store::jobs::JobStatus;
use kanta_store::outbox::{MAY_HAVE_BEEN_SENT, MailClaim};

use crate::smtp::{SmtpServer, parse};
use crate::support::{audit_of, each_backend, eventually, fields, text};

fn manager() -> Acting {
    Acting::user(3, "maija.manager@cafe.example", Role::Manager, Channel::Ui)
}

fn staff() -> Acting {
    Acting::user(4, "sami.staff@cafe.example", Role::Staff, Channel::Ui)
}

fn settings() -> JobSettings {
    JobSettings {
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        retry_base: Duration::from_millis(200),
        score_every: None,
        ..JobSettings::default()
    }
}

fn mailer(server: &SmtpServer) -> Arc<dyn Mailer> {
    Arc::new(
        SmtpMailer::from_url(
            &server.url(),
            "Kahvila Kanta <kahvila@example.fi>",
            Duration::from_secs(10),
        )
        .unwrap(),
    )
}

fn core_of(store: Store) -> Core {
    Core::new(store).with_links("https://kahvila.example.fi", None)
}

/// (id, name, email, locale, consent, status)
type Cust<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<bool>,
    &'a str,
);

async fn customers(core: &Core, rows: &[Cust<'_>]) {
    let f = fields(
        &CUSTOMERS,
        &["name", "email", "locale", "survey_consent", "status"],
    );
    let mut b = WriteBatch::new(&CUSTOMERS, f);
    for (id, name, email, locale, consent, status) in rows {
        b.push(
            id.to_string(),
            vec![
                text(name),
                email.map_or(Value::Null, text),
                locale.map_or(Value::Null, text),
                consent.map_or(Value::Null, Value::Bool),
                text(status),
            ],
        );
    }
    core.write_batch(&Acting::cli(), b).await.unwrap();
}

async fn active_survey(core: &Core, id: &str, name: &str) {
    core.create_survey(
        &manager(),
        Some(id),
        SurveyInput {
            name: Some(name.into()),
            ..SurveyInput::default()
        },
    )
    .await
    .unwrap();
    core.set_survey_status(&manager(), id, "active")
        .await
        .unwrap();
}

async fn no_quiet_hours(core: &Core) {
    core.set_store_setting(&manager(), "survey_quiet_hours", "none")
        .await
        .unwrap();
}

/// Runs the workers until no mail job is queued or running.
async fn send_all(core: &Core, server: &SmtpServer) {
    let s = Services {
        core: core.clone(),
        settings: settings(),
        mailer: Some(mailer(server)),
    };
    let store = core.store().clone();
    let workers = Workers::start(s, 2);
    eventually(Duration::from_secs(60), "every mail job settled", || {
        let store = store.clone();
        async move {
            crate::support::mail_jobs(&store)
                .await
                .iter()
                .all(|j| !matches!(j.status, JobStatus::Queued | JobStatus::Running))
                .then_some(())
        }
    })
    .await;
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_reaches_consenting_customers_once_in_their_language() {
    each_backend(|backend, store| async move {
        let core = core_of(store.clone());
        no_quiet_hours(&core).await;
        let server = SmtpServer::start().await;
        customers(
            &core,
            &[
                (
                    "c1",
                    "Aino Asiakas",
                    Some("aino@example.fi"),
                    Some("fi"),
                    Some(true),
                    "active",
                ),
                (
                    "c2",
                    "Ben Customer",
                    Some("ben@example.com"),
                    Some("en"),
                    Some(true),
                    "active",
                ),
                (
                    "c3",
                    "Cecilia <b>",
                    Some("cecilia@example.fi"),
                    None,
                    Some(true),
                    "active",
                ),
                (
                    "c4",
                    "Ei Suostumusta",
                    Some("ei@example.fi"),
                    Some("fi"),
                    Some(false),
                    "active",
                ),
                (
                    "c5",
                    "Tuntematon",
                    Some("tuntematon@example.fi"),
                    Some("fi"),
                    None,
                    "active",
                ),
                (
                    "c6",
                    "Päättynyt",
                    Some("paattynyt@example.fi"),
                    Some("fi"),
                    Some(true),
                    "ended",
                ),
                (
                    "c7",
                    "Ilman Osoitetta",
                    None,
                    Some("fi"),
                    Some(true),
                    "active",
                ),
                (
                    "c8",
                    "Äskettäin Kysytty",
                    Some("askettain@example.fi"),
                    Some("fi"),
                    Some(true),
                    "active",
                ),
                (
                    "c9",
                    "Kriittinen Tapaus",
                    Some("kriittinen@example.fi"),
                    Some("en"),
                    Some(true),
                    "active",
                ),
            ],
        )
        .await;
        // c9 has an open critical case.
        let mut cases = WriteBatch::new(
            &CASES,
            fields(
                &CASES,
                &["customer_id", "opened_at", "category", "severity"],
            ),
        );
        cases.push(
            "k1".into(),
            vec![
                text("c9"),
                Value::Time(Utc::now() - chrono::Duration::days(1)),
                text("quality"),
                text("critical"),
            ],
        );
        core.write_batch(&Acting::cli(), cases).await.unwrap();
        active_survey(&core, "cafe-a", "Kahvila A").await;
        active_survey(&core, "cafe-b", "Kahvila B").await;

        // c8 was invited to another survey last week: in cooldown now.
        let first = core
            .send_wave(
                &manager(),
                "cafe-a",
                Audience::Customers(vec!["c8".into()]),
                SendChannel::Email,
                false,
            )
            .await
            .unwrap();
        assert_eq!((first.invited, first.skipped), (1, 0), "{backend}");
        send_all(&core, &server).await;
        assert_eq!(server.received().len(), 1, "{backend}");

        // Staff may not send; a draft survey cannot be sent.
        assert!(
            core.send_wave(&staff(), "cafe-b", Audience::All, SendChannel::Email, false)
                .await
                .is_err()
        );

        // The wave to everyone.
        let wave = core
            .send_wave(
                &manager(),
                "cafe-b",
                Audience::All,
                SendChannel::Email,
                false,
            )
            .await
            .unwrap();
        assert_eq!(
            (wave.considered, wave.invited, wave.skipped, wave.mails),
            (9, 3, 6, 3),
            "{backend}: {wave:?}"
        );
        let reasons: HashMap<String, i64> = wave.reasons.iter().cloned().collect();
        assert_eq!(reasons["no_consent"], 2, "{backend}: {reasons:?}");
        assert_eq!(reasons["ended"], 1);
        assert_eq!(reasons["no_email"], 1);
        assert_eq!(reasons["cooldown"], 1);
        assert_eq!(reasons["open_critical_case"], 1);
        send_all(&core, &server).await;

        // One mail each, to the consenting customers, in their language.
        let wave_mails: Vec<_> = server.received().into_iter().skip(1).collect();
        let mut to: Vec<String> = wave_mails.iter().map(|r| r.to[0].clone()).collect();
        to.sort();
        assert_eq!(
            to,
            ["aino@example.fi", "ben@example.com", "cecilia@example.fi"],
            "{backend}"
        );
        for r in &wave_mails {
            let m = parse(&r.data);
            let body = m.body("text/plain").unwrap();
            let html = m.body("text/html").unwrap();
            let unsubscribe = m
                .header("List-Unsubscribe")
                .expect("List-Unsubscribe")
                .to_string();
            assert!(
                unsubscribe.starts_with("<https://kahvila.example.fi/s/")
                    && unsubscribe.ends_with("/unsubscribe>"),
                "{backend}: {unsubscribe}"
            );
            assert_eq!(
                m.header("List-Unsubscribe-Post"),
                Some("List-Unsubscribe=One-Click")
            );
            let link = unsubscribe
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim_end_matches("/unsubscribe")
                .to_string();
            assert!(
                body.contains(&link),
                "{backend}: the personal link in {body}"
            );
            assert!(body.contains(&format!("{link}/unsubscribe")));
            if r.to[0] == "ben@example.com" {
                assert!(
                    m.subject().contains("would you tell us how we did"),
                    "{}",
                    m.subject()
                );
                assert!(body.contains("Hello Ben Customer"));
            } else {
                assert!(m.subject().contains("kerrotko meille"), "{}", m.subject());
                assert!(body.starts_with("Hei "), "{body}");
            }
            if r.to[0] == "cecilia@example.fi" {
                // The store's language; the name escaped in the HTML.
                assert!(html.contains("Cecilia &lt;b&gt;"), "{html}");
                assert!(!html.contains("Cecilia <b>"));
            }
        }

        // The invitation log says why for each.
        let log = core
            .survey_invitations(&manager(), "cafe-b", None, None, None, 100, 0)
            .await
            .unwrap();
        let why: HashMap<&str, (&str, Option<&str>)> = log
            .iter()
            .map(|i| {
                (
                    i.customer.as_str(),
                    (i.status.as_str(), i.reason.as_deref()),
                )
            })
            .collect();
        assert_eq!(why["c1"], ("invited", None), "{backend}");
        assert_eq!(why["c4"], ("skipped", Some("no_consent")));
        assert_eq!(why["c5"], ("skipped", Some("no_consent")));
        assert_eq!(why["c6"], ("skipped", Some("ended")));
        assert_eq!(why["c7"], ("skipped", Some("no_email")));
        assert_eq!(why["c8"], ("skipped", Some("cooldown")));
        assert_eq!(why["c9"], ("skipped", Some("open_critical_case")));
        assert!(
            log.iter()
                .filter(|i| i.status == "invited")
                .all(|i| i.mail_status.as_deref() == Some("sent"))
        );
        let only = core
            .survey_invitations(
                &manager(),
                "cafe-b",
                Some("skipped"),
                Some("no_consent"),
                None,
                100,
                0,
            )
            .await
            .unwrap();
        assert_eq!(only.len(), 2);

        // A second wave of the same survey: the invited are still open.
        let again = core
            .send_wave(
                &manager(),
                "cafe-b",
                Audience::All,
                SendChannel::Email,
                false,
            )
            .await
            .unwrap();
        assert_eq!(again.invited, 0, "{backend}: {again:?}");
        let reasons: HashMap<String, i64> = again.reasons.iter().cloned().collect();
        assert_eq!(reasons["already_invited"], 3);
        assert_eq!(again.mails, 0);

        // Audited: one entry per wave with its counts.
        let audit = audit_of(&store, "survey_wave").await;
        assert_eq!(audit.len(), 3, "{backend}");
        assert_eq!(audit[1].entry.details["invited"], 3);
        assert_eq!(audit[1].entry.details["reasons"]["cooldown"], 1);

        // The waves list with counts.
        let waves = core.survey_waves(&manager(), "cafe-b").await.unwrap();
        assert_eq!(waves.len(), 2);
        assert_eq!((waves[1].invited, waves[1].mails_sent), (3, 3));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_wave_and_a_dry_run_send_no_mail() {
    each_backend(|backend, store| async move {
        let core = core_of(store.clone());
        customers(
            &core,
            &[
                (
                    "c1",
                    "Aino",
                    Some("aino@example.fi"),
                    Some("fi"),
                    Some(true),
                    "active",
                ),
                ("c2", "Ben", None, Some("en"), Some(true), "active"),
            ],
        )
        .await;
        active_survey(&core, "s", "S").await;
        let dry = core
            .send_wave(&manager(), "s", Audience::All, SendChannel::Email, true)
            .await
            .unwrap();
        assert_eq!(
            (dry.invited, dry.skipped, dry.wave_id),
            (1, 1, None),
            "{backend}"
        );
        assert!(core.survey_waves(&manager(), "s").await.unwrap().is_empty());
        let links = core
            .send_wave(&manager(), "s", Audience::All, SendChannel::Link, false)
            .await
            .unwrap();
        // No email needed for a link.
        assert_eq!((links.invited, links.mails), (2, 0), "{backend}");
        assert_eq!(links.links.len(), 2);
        assert!(
            links
                .links
                .iter()
                .all(|(_, u)| u.starts_with("https://kahvila.example.fi/s/"))
        );
        assert!(store.outbox(10).await.unwrap().is_empty());
        // Bad input names its field.
        let e = core
            .send_wave(
                &manager(),
                "s",
                Audience::Customers(vec![]),
                SendChannel::Email,
                false,
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("customers"), "{e}");
        let e = core
            .send_wave(&manager(), "nope", Audience::All, SendChannel::Email, false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_invitations_queue_in_one_transaction() {
    each_backend(|backend, store| async move {
        let core = core_of(store.clone());
        no_quiet_hours(&core).await;
        let f = fields(&CUSTOMERS, &["name", "email", "locale", "survey_consent"]);
        let mut b = WriteBatch::new(&CUSTOMERS, f);
        for i in 0..10_000 {
            b.push(
                format!("c{i}"),
                vec![
                    text(&format!("Asiakas {i}")),
                    text(&format!("asiakas{i}@example.fi")),
                    text(if i % 3 == 0 { "en" } else { "fi" }),
                    Value::Bool(true),
                ],
            );
        }
        core.write_batch(&Acting::cli(), b).await.unwrap();
        active_survey(&core, "big", "Iso").await;
        let t = Instant::now();
        let wave = core
            .send_wave(&manager(), "big", Audience::All, SendChannel::Email, false)
            .await
            .unwrap();
        let took = t.elapsed();
        eprintln!("{backend}: 10,000 invitations queued in {took:?} (debug build)");
        assert_eq!((wave.invited, wave.mails), (10_000, 10_000));
        // Debug build; the release figure is benches/survey_wave.sh's.
        assert!(took < Duration::from_secs(20), "{backend}: {took:?}");
        let jobs = store.job_counts().await.unwrap();
        let queued: i64 = jobs
            .iter()
            .filter(|(s, _)| *s == JobStatus::Queued)
            .map(|(_, n)| *n)
            .sum();
        assert_eq!(queued, 10_000, "{backend}");
    })
    .await;
}

fn message() -> Message {
    Message {
        to: "someone@example.fi".into(),
        subject: "Yksi kerta".into(),
        text: "Hei".into(),
        html: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_begun_by_a_sender_that_died_is_never_sent_again() {
    each_backend(|backend, store| async move {
        let core = core_of(store.clone());
        let server = SmtpServer::start().await;
        let s = Services {
            core: core.clone(),
            settings: settings(),
            mailer: Some(mailer(&server)),
        };
        let id = core
            .queue_mail(&Acting::cli(), "once", &message())
            .await
            .unwrap()
            .unwrap();
        // A sender claims it and dies before recording anything.
        assert!(matches!(
            store.claim_mail(id).await.unwrap(),
            MailClaim::Claimed(_)
        ));
        // A second claim gets nothing to send.
        assert!(matches!(
            store.claim_mail(id).await.unwrap(),
            MailClaim::InDoubt(_)
        ));
        // The job (its worker gone) runs again: the message is not sent.
        while work_once(&s, "w").await.unwrap() {}
        assert_eq!(server.received().len(), 0, "{backend}");
        let m = store.mail(id).await.unwrap().unwrap();
        assert_eq!(m.status, "failed", "{backend}");
        assert_eq!(m.last_error.as_deref(), Some(MAY_HAVE_BEEN_SENT));
        let job = store
            .job_by_key(MAIL_SEND, &format!("mail-{id}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.status, JobStatus::Failed);

        // A failure before the hand-over (451 to MAIL FROM) releases the claim: the
        // retry sends it, once.
        let id2 = core
            .queue_mail(&Acting::cli(), "twice-tried", &message())
            .await
            .unwrap()
            .unwrap();
        server.answer_mail_from(Some(451));
        while work_once(&s, "w").await.unwrap() {}
        let m = store.mail(id2).await.unwrap().unwrap();
        assert_eq!(
            (m.status.as_str(), m.sending_at),
            ("queued", None),
            "{backend}: {m:?}"
        );
        server.answer_mail_from(None);
        eventually(Duration::from_secs(20), "the retry sent", || {
            let s = s.clone();
            let store = store.clone();
            async move {
                let _ = work_once(&s, "w").await;
                let m = store.mail(id2).await.unwrap().unwrap();
                (m.status == "sent").then_some(())
            }
        })
        .await;
        let to_us = server
            .received()
            .iter()
            .filter(|r| parse(&r.data).subject() == "Yksi kerta")
            .count();
        assert_eq!(to_us, 1, "{backend}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reminder_per_invitation_and_none_after_consent_is_withdrawn() {
    each_backend(|backend, store| async move {
        let core = core_of(store.clone());
        no_quiet_hours(&core).await;
        customers(
            &core,
            &[
                (
                    "c1",
                    "Aino",
                    Some("aino@example.fi"),
                    Some("fi"),
                    Some(true),
                    "active",
                ),
                (
                    "c2",
                    "Ben",
                    Some("ben@example.com"),
                    Some("en"),
                    Some(true),
                    "active",
                ),
            ],
        )
        .await;
        active_survey(&core, "s", "Kysely").await;
        core.send_wave(&manager(), "s", Audience::All, SendChannel::Email, false)
            .await
            .unwrap();
        // Not yet due.
        assert_eq!(core.run_survey_reminders(Utc::now()).await.unwrap(), 0);
        // c2 withdraws consent.
        customers(
            &core,
            &[(
                "c2",
                "Ben",
                Some("ben@example.com"),
                Some("en"),
                Some(false),
                "active",
            )],
        )
        .await;
        let later = Utc::now() + chrono::Duration::days(8);
        assert_eq!(
            core.run_survey_reminders(later).await.unwrap(),
            1,
            "{backend}"
        );
        assert_eq!(
            core.run_survey_reminders(later).await.unwrap(),
            0,
            "{backend}"
        );
        // Expired links get none.
        let much_later = Utc::now() + chrono::Duration::days(40);
        assert_eq!(core.run_survey_reminders(much_later).await.unwrap(), 0);
        let outbox = store.outbox(10).await.unwrap();
        let reminders: Vec<_> = outbox
            .iter()
            .filter(|m| m.key.starts_with("survey-reminder:"))
            .collect();
        assert_eq!(reminders.len(), 1, "{backend}");
        assert_eq!(reminders[0].to, "aino@example.fi");
        assert!(reminders[0].subject.starts_with("Muistutus"));
        let log = core
            .survey_invitations(&manager(), "s", None, None, None, 10, 0)
            .await
            .unwrap();
        assert_eq!(log.iter().filter(|i| i.reminded_ms.is_some()).count(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_invite_after_recent_orders_never_after_old_ones() {
    each_backend(|backend, store| async move {
        let core = core_of(store.clone());
        no_quiet_hours(&core).await;
        customers(
            &core,
            &[
                (
                    "c1",
                    "Aino",
                    Some("aino@example.fi"),
                    Some("fi"),
                    Some(true),
                    "active",
                ),
                (
                    "c2",
                    "Ben",
                    Some("ben@example.com"),
                    Some("en"),
                    Some(true),
                    "active",
                ),
                (
                    "c3",
                    "Cilla",
                    Some("cilla@example.fi"),
                    Some("fi"),
                    Some(false),
                    "active",
                ),
            ],
        )
        .await;
        let now = Utc::now();
        let f = fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency", "kind"],
        );
        let mut b = WriteBatch::new(&TRANSACTIONS, f);
        // c1: an order 3 days ago (and another the same day); c2: an imported order of
        // last year; c3: recent, but no consent.
        for (id, c, days) in [
            ("o1", "c1", 3),
            ("o1b", "c1", 3),
            ("o2", "c2", 400),
            ("o3", "c3", 3),
        ] {
            b.push(
                id.into(),
                vec![
                    text(c),
                    Value::Time(now - chrono::Duration::days(days) - chrono::Duration::hours(1)),
                    Value::Int(1250),
                    text("EUR"),
                    text("order"),
                ],
            );
        }
        core.write_batch(&Acting::cli(), b).await.unwrap();
        core.create_survey(
            &manager(),
            Some("after-order"),
            SurveyInput {
                name: Some("Tilauksen jälkeen".into()),
                send_after: Some("order".into()),
                send_after_days: Some(3),
                ..SurveyInput::default()
            },
        )
        .await
        .unwrap();
        core.set_survey_status(&manager(), "after-order", "active")
            .await
            .unwrap();
        assert_eq!(core.run_survey_triggers(now).await.unwrap(), 1, "{backend}");
        assert_eq!(core.run_survey_triggers(now).await.unwrap(), 0, "{backend}");
        let log = core
            .survey_invitations(&manager(), "after-order", None, None, None, 10, 0)
            .await
            .unwrap();
        let mut seen: Vec<(String, String, Option<String>)> = log
            .iter()
            .map(|i| (i.customer.clone(), i.status.clone(), i.reason.clone()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("c1".to_string(), "invited".to_string(), None),
                (
                    "c3".to_string(),
                    "skipped".to_string(),
                    Some("no_consent".to_string())
                ),
            ],
            "{backend}"
        );
        assert!(
            log.iter()
                .all(|i| i.trigger_key.as_deref().unwrap().starts_with("order:"))
        );
        let outbox = store.outbox(10).await.unwrap();
        assert_eq!(outbox.len(), 1);
        assert_eq!(outbox[0].to, "aino@example.fi");
    })
    .await;
}

#[test]
fn mail_waits_for_the_end_of_the_quiet_hours() {
    let rules = FeedbackRules::default();
    assert_eq!(rules.quiet_hours, Some((21, 8)));
    let zone: kanta_domain::time::Tz = "Europe/Helsinki".parse().unwrap();
    // 22:30 in Helsinki (UTC+2 in December) → 08:00 the next morning.
    let late = Utc.with_ymd_and_hms(2026, 12, 5, 20, 30, 0).unwrap();
    assert_eq!(
        after_quiet_hours(&rules, &zone, late),
        Utc.with_ymd_and_hms(2026, 12, 6, 6, 0, 0).unwrap()
    );
    // 03:00 → 08:00 the same morning.
    let night = Utc.with_ymd_and_hms(2026, 12, 6, 1, 0, 0).unwrap();
    assert_eq!(
        after_quiet_hours(&rules, &zone, night),
        Utc.with_ymd_and_hms(2026, 12, 6, 6, 0, 0).unwrap()
    );
    // 12:00 → now.
    let noon = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
    assert_eq!(after_quiet_hours(&rules, &zone, noon), noon);
}

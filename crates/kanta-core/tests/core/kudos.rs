//! Kudos and the ideas box on both backends: answers that name a staff member (in
//! Finnish forms) become kudos in the write of the answer, follow a rewritten answer
//! and reach the person's thanks; a shared first name needs the full name; the weekly
//! thanks mail goes once per person and week in their language through a real SMTP
//! server; ideas are handed in by any user, given a status and reply by managers only,
//! and every write is audited.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};
use kanta_core::ideas::{IdeaFilter, IdeaInput};
use kanta_core::jobs::{JobSettings, Services, schedule_recurring, work_once};
use kanta_core::mail::{Mailer, SmtpMailer};
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, FEEDBACK, STAFF};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::{NewUser, Role};

use crate::smtp::{SmtpServer, parse};
use crate::support::{audit_of, each_core, fields, text};

/// Staff: s1 Mika Virtanen (a staff user, Finnish), s2 Anna Korhonen (a viewer user),
/// s3 Mika Korhonen (no user, English store default), s4 Jussi Lahti (no email),
/// s5 Päivi Old (inactive). Users: Mika (staff), Anna (viewer), Bea (manager).
/// Returns the users' ids: (mika, anna, bea).
async fn people(core: &Core) -> (i64, i64, i64) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email", "active"]));
    for (id, name, email, active) in [
        ("s1", "Mika Virtanen", Some("mika@example.fi"), true),
        ("s2", "Anna Korhonen", Some("Anna@Example.fi"), true),
        ("s3", "Mika Korhonen", Some("mika.k@example.fi"), true),
        ("s4", "Jussi Lahti", None, true),
        ("s5", "Päivi Old", Some("paivi@example.fi"), false),
    ] {
        s.push(
            id.into(),
            [
                text(name),
                email.map_or(Value::Null, text),
                Value::Bool(active),
            ],
        );
    }
    core.write_batch(&cli, s).await.unwrap();
    let audit = cli.audit("users", None, "create");
    let mut ids = Vec::new();
    for (email, role) in [
        ("mika@example.fi", Role::Staff),
        ("anna@example.fi", Role::Viewer),
        ("bea@example.fi", Role::Manager),
    ] {
        let u = core
            .store()
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
        ids.push(u.id);
    }
    core.set_user_language(&cli, ids[0], Some("fi"))
        .await
        .unwrap();
    core.set_user_language(&cli, ids[1], Some("en"))
        .await
        .unwrap();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    c.push("c1".into(), [text("Kahvila <Åkerlund>")]);
    c.push("c2".into(), [text("Toimisto Oy")]);
    core.write_batch(&cli, c).await.unwrap();
    (ids[0], ids[1], ids[2])
}

fn user(id: i64, email: &str, role: Role) -> Acting {
    Acting::user(id, email, role, Channel::Ui)
}

/// Writes answers `(id, customer, day of November 2026, did_well, comment)`.
/// An answer to write: id, customer, day, and two of its free texts.
type AnswerRow<'a> = (&'a str, &'a str, u32, Option<&'a str>, Option<&'a str>);

async fn answers(core: &Core, rows: &[AnswerRow<'_>]) {
    let mut b = WriteBatch::new(
        &FEEDBACK,
        fields(
            &FEEDBACK,
            &["customer_id", "answered_at", "nps", "did_well", "comment"],
        ),
    );
    for (id, customer, day, did_well, comment) in rows {
        b.push(
            id.to_string(),
            [
                text(customer),
                Value::Time(Utc.with_ymd_and_hms(2026, 11, *day, 10, 0, 0).unwrap()),
                Value::Int(9),
                did_well.map_or(Value::Null, text),
                comment.map_or(Value::Null, text),
            ],
        );
    }
    core.write_batch(&Acting::cli(), b).await.unwrap();
}

/// (staff id, answer id, matched) of a person's kudos, as a manager reads them.
async fn kudos_of(core: &Core, staff: &str) -> Vec<(String, String)> {
    let bea = user(3, "bea@example.fi", Role::Manager);
    let (items, total) = core.kudos_of_staff(&bea, staff, 100).await.unwrap();
    assert_eq!(total as usize, items.len());
    let mut v: Vec<(String, String)> = items
        .into_iter()
        .map(|k| (k.feedback_id, k.matched))
        .collect();
    v.sort();
    v
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn answers_naming_staff_become_their_thanks_and_follow_rewrites() {
    each_core(|backend, core| async move {
        let (mika, anna, _bea) = people(&core).await;
        answers(
            &core,
            &[
                (
                    "f1",
                    "c1",
                    24,
                    Some("Kiitos Mika Virtaselle ja Annalle!"),
                    None,
                ),
                ("f2", "c2", 25, None, Some("Anna's advice was great")),
                // A shared first name alone names nobody; a full name does.
                (
                    "f3",
                    "c1",
                    26,
                    Some("Mikalle kiitos"),
                    Some("myös Mika Korhoselle"),
                ),
                // Mikael is not Mika, a lowercase verb is not Anna, inactive Päivi
                // gets nothing, Jussi without an email still gets his kudos.
                (
                    "f4",
                    "c2",
                    27,
                    Some("Mikael ja Päiville, anna palaa"),
                    Some("Jussin ansiosta"),
                ),
                ("f5", "c2", 27, None, None),
            ],
        )
        .await;
        assert_eq!(
            kudos_of(&core, "s1").await,
            pairs(&[("f1", "Mika Virtaselle")]),
            "{backend}"
        );
        assert_eq!(
            kudos_of(&core, "s2").await,
            pairs(&[("f1", "Annalle"), ("f2", "Anna")]),
            "{backend}"
        );
        assert_eq!(
            kudos_of(&core, "s3").await,
            pairs(&[("f3", "Mika Korhoselle")])
        );
        assert_eq!(kudos_of(&core, "s4").await, pairs(&[("f4", "Jussin")]));
        assert!(kudos_of(&core, "s5").await.is_empty());

        // Writing the same answers again changes nothing; a rewritten answer's kudos
        // follow its text, and an answer emptied of text loses them.
        answers(
            &core,
            &[(
                "f1",
                "c1",
                24,
                Some("Kiitos Mika Virtaselle ja Annalle!"),
                None,
            )],
        )
        .await;
        assert_eq!(kudos_of(&core, "s1").await.len(), 1, "{backend}");
        answers(
            &core,
            &[("f1", "c1", 24, Some("Kiitos Mika Virtaselle!"), None)],
        )
        .await;
        assert_eq!(
            kudos_of(&core, "s2").await,
            pairs(&[("f2", "Anna")]),
            "{backend}"
        );
        answers(&core, &[("f2", "c2", 25, None, None)]).await;
        assert!(kudos_of(&core, "s2").await.is_empty(), "{backend}");

        // Mika's thanks page: his own, the customer shown to staff.
        let me = core
            .my_thanks(&user(mika, "MIKA@example.fi", Role::Staff))
            .await
            .unwrap();
        assert_eq!(me.staff_id.as_deref(), Some("s1"));
        assert_eq!(me.total, 1);
        assert_eq!(me.items[0].customer_id.as_deref(), Some("c1"));
        assert_eq!(me.items[0].quote(), "Kiitos Mika Virtaselle!");
        // Anna is a viewer: her thanks come without the customer.
        answers(&core, &[("f6", "c2", 28, Some("Annalle kiitos"), None)]).await;
        let her = core
            .my_thanks(&user(anna, "anna@example.fi", Role::Viewer))
            .await
            .unwrap();
        assert_eq!(her.total, 1);
        assert!(her.items[0].customer_id.is_none() && her.items[0].customer_name.is_none());
        // A user no staff row has has no thanks; a token neither.
        let none = core
            .my_thanks(&user(99, "nobody@example.fi", Role::Staff))
            .await
            .unwrap();
        assert!(none.staff_id.is_none() && none.items.is_empty());
        // Another's kudos: a manager's to read, or the person's own.
        assert!(matches!(
            core.kudos_of_staff(&user(anna, "anna@example.fi", Role::Viewer), "s1", 10)
                .await,
            Err(CoreError::Forbidden(_))
        ));
        assert!(
            core.kudos_of_staff(&user(anna, "anna@example.fi", Role::Viewer), "s2", 10)
                .await
                .is_ok()
        );
        // Per person and month, managers only.
        assert!(matches!(
            core.kudos_overview(&user(mika, "mika@example.fi", Role::Staff), 12)
                .await,
            Err(CoreError::Forbidden(_))
        ));
        let o = core
            .kudos_overview(&user(3, "bea@example.fi", Role::Manager), 12)
            .await
            .unwrap();
        let nov = o.months.iter().position(|m| m == "2026-11").unwrap();
        let row = |id: &str| o.people.iter().find(|p| p.staff_id == id).unwrap().clone();
        assert_eq!(row("s1").months[nov], 1, "{backend}: {o:?}");
        assert_eq!(row("s2").total, 1, "{backend}: {o:?}");
        assert_eq!(row("s4").total, 1, "{backend}: {o:?}");
    })
    .await;
}

#[tokio::test]
async fn the_weekly_thanks_mail_goes_once_per_person_and_week_in_their_language() {
    each_core(|backend, core| async move {
        let (_mika, _anna, _bea) = people(&core).await;
        // Week 48 of 2026: Monday 23 Nov - Sunday 29 Nov (Helsinki).
        answers(
            &core,
            &[
                (
                    "f1",
                    "c1",
                    24,
                    Some("Kiitos Mika Virtaselle, <b>loistavaa</b>!"),
                    None,
                ),
                ("f2", "c2", 25, Some("Mika Virtanen auttoi"), None),
                ("f3", "c2", 26, None, Some("Annalle kiitos")),
                ("f4", "c2", 27, Some("Jussille kiitos"), None),
                // The week before: not in this mail.
                ("f5", "c1", 20, Some("Mika Virtaselle"), None),
            ],
        )
        .await;
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
        // A Monday schedules the week's thanks at 08:00 store time, once.
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 4, 0, 0).unwrap();
        assert_eq!(monday.weekday(), chrono::Weekday::Mon);
        schedule_recurring(&services, monday).await.unwrap();
        schedule_recurring(&services, monday + chrono::Duration::hours(2))
            .await
            .unwrap();
        let store = core.store();
        let jobs: Vec<_> = store
            .jobs(None, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == "kudos.weekly")
            .collect();
        assert_eq!(jobs.len(), 1, "{backend}: {jobs:?}");
        assert_eq!(jobs[0].unique_key.as_deref(), Some("kudos:2026-W49"));
        assert_eq!(
            jobs[0].run_at,
            Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()
        );

        let run = core.run_kudos_weekly(monday).await.unwrap();
        assert_eq!(run.week, "2026-W48");
        // Mika and Anna; Jussi has no email.
        assert_eq!((run.recipients, run.mails), (2, 2), "{backend}: {run:?}");
        while work_once(&services, "w1").await.unwrap() {}
        let mut received = server.received();
        received.sort_by(|a, b| a.to.cmp(&b.to));
        assert_eq!(received.len(), 2, "{backend}: {received:?}");
        assert_eq!(received[0].to, ["Anna@Example.fi"]);
        assert_eq!(received[1].to, ["mika@example.fi"]);
        let anna = parse(&received[0].data);
        assert!(
            anna.subject().contains("Customers thanked you"),
            "{}",
            anna.subject()
        );
        assert!(
            anna.body("text/plain")
                .unwrap()
                .contains("\"Annalle kiitos\"")
        );
        let mika = parse(&received[1].data);
        assert!(mika.subject().contains("2 mainintaa"), "{}", mika.subject());
        let body = mika.body("text/plain").unwrap();
        assert!(
            body.contains("Mika Virtanen auttoi") && body.contains("/thanks"),
            "{body}"
        );
        assert!(
            !body.contains("20.11.2026"),
            "last week's kudos is not this week's: {body}"
        );
        let html = mika.body("text/html").unwrap();
        assert!(html.contains("&lt;b&gt;loistavaa&lt;/b&gt;"), "{html}");
        // The week's mail again: nothing more; one audit entry.
        let again = core
            .run_kudos_weekly(monday + chrono::Duration::hours(5))
            .await
            .unwrap();
        assert_eq!(again.mails, 0, "{backend}");
        while work_once(&services, "w1").await.unwrap() {}
        assert_eq!(server.received().len(), 2);
        assert_eq!(audit_of(store, "weekly_mail").await.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn ideas_are_handed_in_by_anyone_and_decided_by_managers() {
    each_core(|backend, core| async move {
        let (mika, anna, bea) = people(&core).await;
        let anna_a = user(anna, "anna@example.fi", Role::Viewer);
        let mika_a = user(mika, "mika@example.fi", Role::Staff);
        let bea_a = user(bea, "bea@example.fi", Role::Manager);
        // A viewer hands in an idea about a customer.
        let idea = core
            .submit_idea(
                &anna_a,
                IdeaInput {
                    body: "  Tarjotaan <script>alert(1)</script> kahvia jonossa  ".into(),
                    customer: Some("c1".into()),
                    theme: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(idea.status, "new");
        assert_eq!(
            idea.body,
            "Tarjotaan <script>alert(1)</script> kahvia jonossa"
        );
        assert_eq!(idea.customer_id.as_deref(), Some("c1"));
        assert_eq!(idea.customer_name.as_deref(), Some("Kahvila <Åkerlund>"));
        // Bad input names the field; nothing is written.
        let bad = |input: IdeaInput| {
            let core = core.clone();
            let a = anna_a.clone();
            async move { core.submit_idea(&a, input).await }
        };
        match bad(IdeaInput {
            body: "   ".into(),
            ..Default::default()
        })
        .await
        {
            Err(CoreError::Invalid(p)) => assert_eq!(p[0].field, "body"),
            other => panic!("{other:?}"),
        }
        match bad(IdeaInput {
            body: "x".into(),
            customer: Some("nope".into()),
            theme: Some(12345),
        })
        .await
        {
            Err(CoreError::Invalid(p)) => {
                let f: Vec<_> = p.iter().map(|p| p.field.as_str()).collect();
                assert_eq!(f, ["customer_id", "theme_id"], "{p:?}");
            }
            other => panic!("{other:?}"),
        }
        match bad(IdeaInput {
            body: "x".repeat(4001),
            ..Default::default()
        })
        .await
        {
            Err(CoreError::Invalid(p)) => assert_eq!(p[0].field, "body"),
            other => panic!("{other:?}"),
        }
        // A token is no person.
        assert!(matches!(
            core.submit_idea(
                &Acting::token(1, "shop", Role::Admin),
                IdeaInput {
                    body: "x".into(),
                    ..Default::default()
                }
            )
            .await,
            Err(CoreError::Forbidden(_))
        ));
        let second = core
            .submit_idea(
                &mika_a,
                IdeaInput {
                    body: "Mika's idea".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        // Each sees their own; the manager sees all.
        let list = |a: Acting, f: IdeaFilter| {
            let core = core.clone();
            async move {
                core.ideas(&a, &f)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|i| i.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(list(anna_a.clone(), IdeaFilter::default()).await, [idea.id]);
        assert_eq!(
            list(mika_a.clone(), IdeaFilter::default()).await,
            [second.id]
        );
        assert_eq!(
            list(bea_a.clone(), IdeaFilter::default()).await,
            [second.id, idea.id]
        );
        assert!(
            list(
                bea_a.clone(),
                IdeaFilter {
                    mine: true,
                    ..Default::default()
                }
            )
            .await
            .is_empty()
        );
        // Only a manager sets the status, with a reply.
        assert!(matches!(
            core.set_idea_status(&mika_a, idea.id, "doing", Some("ok"))
                .await,
            Err(CoreError::Forbidden(_))
        ));
        match core.set_idea_status(&bea_a, idea.id, "maybe", None).await {
            Err(CoreError::Invalid(p)) => assert_eq!(p[0].field, "status"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            core.set_idea_status(&bea_a, 999_999, "done", None).await,
            Err(CoreError::NotFound(_))
        ));
        let decided = core
            .set_idea_status(
                &bea_a,
                idea.id,
                "Considered",
                Some("Kokeillaan joulukuussa"),
            )
            .await
            .unwrap();
        assert_eq!(decided.status, "considered");
        assert_eq!(decided.reply.as_deref(), Some("Kokeillaan joulukuussa"));
        assert_eq!(decided.replier_name.as_deref(), Some("bea@example.fi"));
        // The submitter sees it; the status filter works; a status without a reply
        // keeps the reply.
        let mine = core.idea(&anna_a, idea.id).await.unwrap();
        assert_eq!(mine.reply.as_deref(), Some("Kokeillaan joulukuussa"));
        assert!(matches!(
            core.idea(&mika_a, idea.id).await,
            Err(CoreError::NotFound(_))
        ));
        let done = core
            .set_idea_status(&bea_a, idea.id, "done", None)
            .await
            .unwrap();
        assert_eq!(done.reply.as_deref(), Some("Kokeillaan joulukuussa"));
        assert_eq!(
            list(
                bea_a.clone(),
                IdeaFilter {
                    status: Some("done".into()),
                    ..Default::default()
                }
            )
            .await,
            [idea.id]
        );
        // Every write audited: two ideas, two status changes with before and after.
        let store = core.store();
        let created: Vec<_> = audit_of(store, "create")
            .await
            .into_iter()
            .filter(|e| e.entry.entity == "ideas")
            .collect();
        assert_eq!(created.len(), 2, "{backend}");
        assert_eq!(created[0].entry.actor_name, "anna@example.fi");
        let status = audit_of(store, "status").await;
        assert_eq!(status.len(), 2, "{backend}");
        assert_eq!(status[0].entry.changes["status"]["before"], "new");
        assert_eq!(status[0].entry.changes["status"]["after"], "considered");
        assert_eq!(status[1].entry.changes["status"]["after"], "done");
        assert!(status[1].entry.changes.get("reply").is_none());
    })
    .await;
}

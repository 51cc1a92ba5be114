//! Owners on both backends: the `owner_rule` gives imported new customers an owner
//! (round robin in turn, least value to the one who owns least), bulk assignment is
//! a manager's and audited, "my customers" filters the list, the proactive share
//! counts sales and renewal contacts as not proactive, and the weekly digest mails
//! each owner their queue once, respecting the opt-out, through a real SMTP server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};
use kanta_core::import::ImportRequest;
use kanta_core::jobs::{JobSettings, Services, schedule_recurring, work_once};
use kanta_core::mail::{Mailer, SmtpMailer};
use kanta_core::owners::Selector;
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{CUSTOMERS, INTERACTIONS, STAFF, TRANSACTIONS};
use kanta_domain::{Currency, Value, WriteBatch};
use kanta_import::{ImportOptions, Mapping};
use kanta_store::accounts::{NewUser, Role};
use kanta_store::records::{CustomerFilter, OwnerFilter};

use crate::smtp::{SmtpServer, parse};
use crate::support::{audit_of, each_core, fields, text};

fn manager() -> Acting {
    Acting::user(2, "bea@example.fi", Role::Manager, Channel::Ui)
}

fn staff_user() -> Acting {
    Acting::user(1, "anna@example.fi", Role::Staff, Channel::Ui)
}

/// Staff rows s1 (Anna, a staff user), s2 (Bea, a manager), s3 (Cid, a viewer: may not
/// own) and s4 (Dan, no user: may not own). Returns the users' ids by staff id.
async fn people(core: &Core) -> Vec<(String, i64)> {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    for (id, name, email) in [
        ("s1", "Anna Aalto", "anna@example.fi"),
        ("s2", "Bea Berg", "Bea@Example.fi"),
        ("s3", "Cid Carlsson", "cid@example.fi"),
        ("s4", "Dan Dahl", "dan@example.fi"),
    ] {
        s.push(id.into(), [text(name), text(email)]);
    }
    core.write_batch(&cli, s).await.unwrap();
    let audit = cli.audit("users", None, "create");
    let mut out = Vec::new();
    for (staff, email, role) in [
        ("s1", "anna@example.fi", Role::Staff),
        ("s2", "bea@example.fi", Role::Manager),
        ("s3", "cid@example.fi", Role::Viewer),
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
        out.push((staff.to_string(), u.id));
    }
    out
}

fn csv(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("id,name,segment\n{body}")).unwrap();
    p
}

async fn import_customers(core: &Core, file: &Path) {
    let req = ImportRequest {
        file: file.to_path_buf(),
        options: ImportOptions {
            entity: &CUSTOMERS,
            format: None,
            delimiter: None,
            has_header: true,
            mapping: Mapping::default(),
            date_format: None,
            currency: Currency::EUR,
            zone: kanta_domain::time::Tz::UTC,
        },
        skip_invalid: false,
        rejects_file: None,
        dry_run: false,
    };
    core.import_file(
        &Acting::import(&file.display().to_string()),
        &req,
        Box::new(|_, _| {}),
    )
    .await
    .unwrap();
}

/// Each customer's owner (staff external id), by customer id.
async fn owners(core: &Core) -> Vec<(String, Option<String>)> {
    let page = core
        .store()
        .customers(&CustomerFilter {
            sort: kanta_store::records::CustomerSort::ExternalId,
            limit: 1000,
            ..CustomerFilter::default()
        })
        .await
        .unwrap();
    page.customers
        .into_iter()
        .map(|c| (c.id, c.owner_id))
        .collect()
}

fn owned(pairs: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    pairs
        .iter()
        .map(|(c, o)| (c.to_string(), o.map(str::to_string)))
        .collect()
}

#[tokio::test]
async fn round_robin_deals_imported_new_customers_out_to_staff_who_sign_in() {
    each_core(|backend, core| async move {
        people(&core).await;
        let dir = tempfile::tempdir().unwrap();
        // Rule none (the default): nobody gets an owner.
        import_customers(&core, &csv(dir.path(), "a.csv", "c0,Zero,kahvila\n")).await;
        assert_eq!(owners(&core).await, owned(&[("c0", None)]), "{backend}");
        core.set_store_setting(&manager(), "owner_rule", "round-robin")
            .await
            .unwrap();
        import_customers(
            &core,
            &csv(
                dir.path(),
                "b.csv",
                "c1,One,kahvila\nc2,Two,kahvila\nc3,Three,kahvila\nc4,Four,kahvila\nc5,Five,kahvila\n",
            ),
        )
        .await;
        // The staff user and the manager in turn; the viewer and the staff row
        // without a user never. c0 was not new: it stays without an owner.
        let expected = owned(&[
            ("c0", None),
            ("c1", Some("s1")),
            ("c2", Some("s2")),
            ("c3", Some("s1")),
            ("c4", Some("s2")),
            ("c5", Some("s1")),
        ]);
        assert_eq!(owners(&core).await, expected, "{backend}");
        // The turn goes on from the last one; customers written again keep theirs.
        import_customers(
            &core,
            &csv(dir.path(), "c.csv", "c1,One renamed,kahvila\nc6,Six,toimisto\n"),
        )
        .await;
        let mut expected = expected;
        expected.push(("c6".into(), Some("s2".into())));
        assert_eq!(owners(&core).await, expected, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn least_value_gives_new_customers_to_the_owner_with_least_value() {
    each_core(|backend, core| async move {
        people(&core).await;
        let cli = Acting::cli();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "owner_id"]));
        c.push("x1".into(), [text("Big"), text("s1")]);
        c.push("x2".into(), [text("Small"), text("s2")]);
        core.write_batch(&cli, c).await.unwrap();
        let mut t = WriteBatch::new(
            &TRANSACTIONS,
            fields(
                &TRANSACTIONS,
                &["customer_id", "occurred_at", "amount", "currency"],
            ),
        );
        let when = Value::Time(Utc::now() - chrono::Duration::days(3));
        t.push(
            "o1".into(),
            [text("x1"), when.clone(), Value::Int(100_000), text("EUR")],
        );
        t.push(
            "o2".into(),
            [text("x2"), when, Value::Int(5_000), text("EUR")],
        );
        core.write_batch(&cli, t).await.unwrap();
        core.set_store_setting(&manager(), "owner_rule", "least_value")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        import_customers(
            &core,
            &csv(dir.path(), "n.csv", "n1,New one,\nn2,New two,\n"),
        )
        .await;
        let all = owners(&core).await;
        for n in ["n1", "n2"] {
            let o = all.iter().find(|(c, _)| c == n).unwrap();
            assert_eq!(o.1.as_deref(), Some("s2"), "{backend}: {all:?}");
        }
        let overview = core.owners_overview(&staff_user()).await.unwrap();
        let bea = overview.owners.iter().find(|o| o.staff_id == "s2").unwrap();
        assert_eq!((bea.customers, bea.value_minor), (3, 5_000), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn bulk_assignment_is_a_managers_and_audited() {
    each_core(|backend, core| async move {
        people(&core).await;
        let cli = Acting::cli();
        let mut c = WriteBatch::new(
            &CUSTOMERS,
            fields(&CUSTOMERS, &["name", "segment", "owner_id"]),
        );
        c.push(
            "k1".into(),
            [text("Kahvila 1"), text("kahvila"), Value::Null],
        );
        c.push(
            "k2".into(),
            [text("Kahvila 2"), text("kahvila"), text("s2")],
        );
        c.push(
            "k3".into(),
            [text("Kahvila 3"), text("kahvila"), Value::Null],
        );
        c.push(
            "t1".into(),
            [text("Toimisto"), text("toimisto"), Value::Null],
        );
        core.write_batch(&cli, c).await.unwrap();
        let by_segment = Selector::Segment("kahvila".into());
        let refused = core
            .assign_owners(&staff_user(), &by_segment, Some("s1"), false)
            .await;
        assert!(
            matches!(refused, Err(CoreError::Forbidden(_))),
            "{backend}: {refused:?}"
        );
        assert!(audit_of(core.store(), "assign_owner").await.is_empty());
        // Only those without an owner: k2 stays Bea's.
        let n = core
            .assign_owners(&manager(), &by_segment, Some("s1"), true)
            .await
            .unwrap();
        assert_eq!(n, 2, "{backend}");
        let all = owners(&core).await;
        assert_eq!(
            all,
            owned(&[
                ("k1", Some("s1")),
                ("k2", Some("s2")),
                ("k3", Some("s1")),
                ("t1", None)
            ]),
            "{backend}"
        );
        let entries = audit_of(core.store(), "assign_owner").await;
        assert_eq!(entries.len(), 1, "{backend}");
        let d = &entries[0].entry.details;
        assert_eq!(d["selector"]["segment"], "kahvila", "{d}");
        assert_eq!(d["customers"], 2, "{d}");
        assert_eq!(d["owner"], "s1", "{d}");
        // A list naming unknown customers is refused whole, naming them.
        let e = core
            .assign_owners(
                &manager(),
                &Selector::Ids(vec!["t1".into(), "nope".into(), "ghost".into()]),
                Some("s2"),
                false,
            )
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("nope") && msg.contains("ghost") && !msg.contains("t1"),
            "{msg}"
        );
        let n = core
            .assign_owners(&manager(), &Selector::Tier("A".into()), None, false)
            .await
            .unwrap();
        assert_eq!(n, 0);
        let n = core
            .assign_owners(
                &manager(),
                &Selector::Ids(vec!["t1".into()]),
                Some("s2"),
                false,
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        // "My customers": Bea's are k2 and t1.
        let mine = core
            .store()
            .customers(&CustomerFilter {
                owner: Some(OwnerFilter::Staff("s2".into())),
                ..CustomerFilter::default()
            })
            .await
            .unwrap();
        let ids: Vec<&str> = mine.customers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["k2", "t1"], "{backend}");
        assert_eq!(mine.customers[0].owner_name.as_deref(), Some("Bea Berg"));
        // An unknown owner is refused by name.
        let e = core
            .assign_owners(&manager(), &by_segment, Some("s9"), false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("s9"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn the_proactive_share_counts_sales_and_renewal_contacts_as_not_proactive() {
    each_core(|backend, core| async move {
        people(&core).await;
        let cli = Acting::cli();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("c1".into(), [text("Asiakas")]);
        core.write_batch(&cli, c).await.unwrap();
        let mut i = WriteBatch::new(
            &INTERACTIONS,
            fields(
                &INTERACTIONS,
                &[
                    "customer_id",
                    "occurred_at",
                    "kind",
                    "staff_id",
                    "proactive",
                    "purpose",
                ],
            ),
        );
        let now = Value::Time(Utc::now() - chrono::Duration::minutes(5));
        let rows: [(&str, &str, Value, Value); 6] = [
            ("i1", "s1", Value::Bool(true), text("check_in")),
            ("i2", "s1", Value::Bool(true), text("sales")),
            ("i3", "s1", Value::Bool(true), text("renewal")),
            ("i4", "s1", Value::Bool(false), text("service")),
            ("i5", "s1", Value::Bool(true), Value::Null),
            ("i6", "s2", Value::Bool(true), text("renewal")),
        ];
        for (id, staff, proactive, purpose) in rows {
            i.push(
                id.into(),
                [
                    text("c1"),
                    now.clone(),
                    text("call"),
                    text(staff),
                    proactive,
                    purpose,
                ],
            );
        }
        core.write_batch(&cli, i).await.unwrap();
        let r = core.proactive_share(&staff_user(), 12).await.unwrap();
        assert_eq!(r.months.len(), 12, "{backend}");
        let anna = r.totals.iter().find(|t| t.staff_id == "s1").unwrap();
        assert_eq!((anna.share.k, anna.share.n), (2, 5), "{backend}");
        let (lo, hi) = (anna.share.lo.unwrap(), anna.share.hi.unwrap());
        assert!(lo < 0.4 && 0.4 < hi && lo > 0.05 && hi < 0.9, "{lo} {hi}");
        let bea = r.totals.iter().find(|t| t.staff_id == "s2").unwrap();
        assert_eq!((bea.share.k, bea.share.n), (0, 1), "{backend}");
        let this_month = r.months.last().unwrap();
        let row = r
            .rows
            .iter()
            .find(|x| x.staff_id == "s1" && &x.month == this_month)
            .unwrap();
        assert_eq!(row.contacts, 5);
        let all = r.by_month.last().unwrap();
        assert_eq!((all.share.k, all.share.n), (2, 6));
        assert!(core.proactive_share(&staff_user(), 0).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn the_weekly_digest_mails_each_owner_their_queue_once_with_the_opt_out_respected() {
    each_core(|backend, core| async move {
        let users = people(&core).await;
        let cli = Acting::cli();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "owner_id"]));
        c.push("c1".into(), [text("Kahvila <Åkerlund>"), text("s1")]);
        c.push("c2".into(), [text("Toimisto Oy"), text("s1")]);
        c.push("c3".into(), [text("Bean Ltd"), text("s2")]);
        c.push("c4".into(), [text("Nobody's"), Value::Null]);
        core.write_batch(&cli, c).await.unwrap();
        let store = core.store();
        // Bea turns the digest off herself (audited); Anna's language is Finnish.
        let bea = users.iter().find(|(s, _)| s == "s2").unwrap().1;
        let bea_acting = Acting::user(bea, "bea@example.fi", Role::Manager, Channel::Ui);
        let anna = users.iter().find(|(s, _)| s == "s1").unwrap().1;
        assert!(matches!(
            core.set_weekly_digest(&staff_user(), bea, false).await,
            Err(CoreError::Forbidden(_))
        ));
        core.set_weekly_digest(&bea_acting, bea, false).await.unwrap();
        assert!(!core.weekly_digest(bea).await.unwrap());
        assert!(core.weekly_digest(anna).await.unwrap());
        let opt_out = audit_of(store, "update")
            .await
            .into_iter()
            .filter(|e| e.entry.entity == "users")
            .count();
        assert_eq!(opt_out, 1, "{backend}");
        core.set_user_language(&cli, anna, Some("fi")).await.unwrap();

        let server = SmtpServer::start().await;
        let mailer: Arc<dyn Mailer> = Arc::new(
            SmtpMailer::from_url(&server.url(), "Kanta <kanta@example.fi>", Duration::from_secs(10))
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
        // A Monday in the store's zone schedules the week's digest at 07:00, once.
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 4, 0, 0).unwrap();
        assert_eq!(monday.weekday(), chrono::Weekday::Mon);
        schedule_recurring(&services, monday).await.unwrap();
        schedule_recurring(&services, monday + chrono::Duration::hours(3)).await.unwrap();
        let tuesday = monday + chrono::Duration::days(1);
        schedule_recurring(&services, tuesday).await.unwrap();
        let all_jobs = store.jobs(None, 1000).await.unwrap();
        let jobs: Vec<_> = all_jobs
            .iter()
            .filter(|j| j.kind == "queue.digest")
            .collect();
        assert_eq!(jobs.len(), 1, "{backend}: {all_jobs:?}");
        assert_eq!(jobs[0].unique_key.as_deref(), Some("digest:2026-W49"));
        // 07:00 in Helsinki (UTC+2 in winter).
        assert_eq!(jobs[0].run_at, Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap());
        // The jobs run (the daily health job first, which recomputes the queue: empty
        // here, so the digest has nothing to send).
        while work_once(&services, "w1").await.unwrap() {}
        let done = store.jobs(None, 1000).await.unwrap();
        let digest = done.iter().find(|j| j.kind == "queue.digest").unwrap();
        assert_eq!(digest.status, kanta_store::jobs::JobStatus::Done, "{backend}: {done:?}");
        assert!(server.received().is_empty());
        // With rows in the queue the week's digest goes out.
        store
            .put_queue_row_for_tests(
                "c1",
                Some("s1"),
                50_000,
                r#"[{"key":"usage_drop","args":{"metric":"logins","drop_pct":45}},{"key":"trust_deficit","args":{"balance":-10}}]"#,
            )
            .await
            .unwrap();
        store
            .put_queue_row_for_tests("c2", Some("s1"), 120_000, r#"[{"key":"cadence","args":{"days_overdue":12}}]"#)
            .await
            .unwrap();
        store
            .put_queue_row_for_tests("c3", Some("s2"), 9_000, r#"[{"key":"renewal","args":{}}]"#)
            .await
            .unwrap();
        store
            .put_queue_row_for_tests("c4", None, 9_000, r#"[{"key":"renewal","args":{}}]"#)
            .await
            .unwrap();
        let run = core.run_digest(Utc::now()).await.unwrap();
        assert_eq!((run.recipients, run.mails), (1, 1), "{backend}");
        while work_once(&services, "w1").await.unwrap() {}
        let received = server.received();
        assert_eq!(received.len(), 1, "{backend}: {received:?}");
        assert_eq!(received[0].to, ["anna@example.fi"]);
        let mail = parse(&received[0].data);
        assert!(mail.subject().contains("jonossasi 2"), "{}", mail.subject());
        let body = mail.body("text/plain").unwrap();
        // Most value at risk first, reasons in Finnish.
        let first = body.find("Toimisto Oy").unwrap();
        let second = body.find("Kahvila <Åkerlund>").unwrap();
        assert!(first < second, "{body}");
        assert!(body.contains("käyttö (kirjautumiset) laski 45 %"), "{body}");
        assert!(body.contains("luottamustili miinuksella (-10)"), "{body}");
        assert!(body.contains("/today"), "{body}");
        let html = mail.body("text/html").unwrap();
        assert!(html.contains("Kahvila &lt;Åkerlund&gt;"), "{html}");
        // The week's digest again: nothing more.
        let again = core.run_digest(Utc::now()).await.unwrap();
        assert_eq!(again.mails, 0, "{backend}");
        while work_once(&services, "w1").await.unwrap() {}
        assert_eq!(server.received().len(), 1);
        assert_eq!(audit_of(store, "digest").await.len(), 1);
    })
    .await;
}

/// Only customers a write inserts get an owner and an onboarding: an existing customer
/// without either, written again unchanged right after its creation (which the old
/// guesses by creation time took for new), gets neither; a new one in the same file
/// gets both. A second import of the same file starts nothing more.
#[tokio::test]
async fn a_customer_written_again_right_after_creation_is_not_new() {
    use kanta_core::onboarding::{StepInput, TemplateInput};
    use kanta_domain::schema::ONBOARDINGS;
    each_core(|backend, core| async move {
        people(&core).await;
        let dir = tempfile::tempdir().unwrap();
        // Created with no owner rule and no auto-start template.
        import_customers(&core, &csv(dir.path(), "a.csv", "c0,Zero,kahvila\n")).await;
        core.set_store_setting(&manager(), "owner_rule", "round_robin")
            .await
            .unwrap();
        core.save_template(
            &manager(),
            TemplateInput {
                id: None,
                name: "Start".into(),
                segment: None,
                plan: None,
                auto_start: true,
                active: true,
                steps: vec![StepInput {
                    id: None,
                    title: "Call".into(),
                    due_days: 2,
                    owner_role: None,
                    customer_text: None,
                }],
            },
        )
        .await
        .unwrap();
        let both = csv(dir.path(), "b.csv", "c0,Zero,kahvila\nc1,One,kahvila\n");
        import_customers(&core, &both).await;
        assert_eq!(
            owners(&core).await,
            owned(&[("c0", None), ("c1", Some("s1"))]),
            "{backend}"
        );
        let viewer = Acting::user(3, "cid@example.fi", Role::Viewer, Channel::Ui);
        let c0 = core.customer_onboarding(&viewer, "c0").await.unwrap();
        assert!(c0.is_none(), "{backend}: c0 was not new: {c0:?}");
        let c1 = core
            .customer_onboarding(&viewer, "c1")
            .await
            .unwrap()
            .expect("c1 is new and starts the auto-start template");
        assert_eq!(c1.tasks.len(), 1, "{backend}");
        // The same file again, the same day: nobody is new.
        import_customers(&core, &both).await;
        assert_eq!(
            owners(&core).await,
            owned(&[("c0", None), ("c1", Some("s1"))]),
            "{backend}"
        );
        assert_eq!(
            crate::support::count(core.store(), &ONBOARDINGS).await,
            1,
            "{backend}"
        );
    })
    .await;
}

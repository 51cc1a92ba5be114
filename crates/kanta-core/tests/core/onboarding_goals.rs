//! Onboarding checklists and goals agreed with the customer, through the core on both
//! backends: templates and steps imported from files start for customers imported
//! afterwards (by segment, due days from the start), ticking every task completes the
//! onboarding, a task overdue by the stall days is stalled, the report's medians, a
//! goal note moves the goal's current value, and the customer's goals link: works
//! without an actor, in the customer's language, stops after expiry and revocation,
//! and its token is kept only as a digest.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use kanta_core::goals::{GoalInput, GoalUpdate};
use kanta_core::import::ImportRequest;
use kanta_core::onboarding::{StepInput, TemplateInput};
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{
    CUSTOMERS, GOALS, ONBOARDING_STEPS, ONBOARDING_TASKS, ONBOARDING_TEMPLATES, ONBOARDINGS, STAFF,
};
use kanta_domain::{Currency, Value, WriteBatch};
use kanta_import::{ImportOptions, Mapping};
use kanta_store::accounts::Role;

use crate::support::{audit_of, count, each_core, fields, text};

fn staff() -> Acting {
    Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui)
}

fn manager() -> Acting {
    Acting::user(2, "maija@example.fi", Role::Manager, Channel::Ui)
}

fn viewer() -> Acting {
    Acting::user(4, "ville@example.fi", Role::Viewer, Channel::Ui)
}

fn file(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

async fn import(core: &Core, entity: &'static kanta_domain::Entity, path: &Path) {
    let req = ImportRequest {
        file: path.to_path_buf(),
        options: ImportOptions {
            entity,
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
    let acting = Acting::import(&path.display().to_string());
    let out = core
        .import_file(&acting, &req, Box::new(|_, _| {}))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(out.summary.written, "{:?}", out.summary);
}

/// Staff member Sanna (the `staff()` user's email).
async fn sanna(core: &Core) {
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push(
        "s1".into(),
        [text("Sanna Virtanen"), text("sanna@example.fi")],
    );
    core.write_batch(&Acting::cli(), s).await.unwrap();
}

#[tokio::test]
async fn imported_customers_start_the_checklist_of_their_segment() {
    each_core(|backend, core| async move {
        let dir = tempfile::tempdir().unwrap();
        let t = file(
            dir.path(),
            "templates.csv",
            "id,name,segment,plan,auto_start,active\n\
             b2b,B2B start,b2b,,true,true\n\
             all,Everyone,,,true,true\n\
             manual,By hand only,b2b,,false,true\n",
        );
        let s = file(
            dir.path(),
            "steps.csv",
            "id,template_id,position,title,due_days,owner_role,customer_text\n\
             b2b-1,b2b,0,Kick-off call,3,account manager,We call you to agree the goals\n\
             b2b-2,b2b,1,Training,14,support,\n\
             all-1,all,0,Welcome mail,1,,\n",
        );
        import(&core, &ONBOARDING_TEMPLATES, &t).await;
        import(&core, &ONBOARDING_STEPS, &s).await;
        let c = file(
            dir.path(),
            "customers.csv",
            "id,name,segment\nc1,Kahvila Åkerlund,b2b\nc2,Bertil,consumer\nc3,Cecilia,\n",
        );
        import(&core, &CUSTOMERS, &c).await;
        let store = core.store();
        assert_eq!(count(store, &ONBOARDINGS).await, 3, "{backend}");
        assert_eq!(
            count(store, &ONBOARDING_TASKS).await,
            2 + 1 + 1,
            "{backend}"
        );
        let today = core.today().await.unwrap();
        let o1 = core
            .customer_onboarding(&viewer(), "c1")
            .await
            .unwrap()
            .expect("c1 onboarding");
        assert_eq!(
            o1.template_id, "b2b",
            "{backend}: the segment's template wins"
        );
        assert_eq!(o1.started_on, today);
        let dues: Vec<_> = o1
            .tasks
            .iter()
            .map(|k| (k.title.as_str(), k.due_on))
            .collect();
        assert_eq!(
            dues,
            vec![
                ("Kick-off call", today + Duration::days(3)),
                ("Training", today + Duration::days(14)),
            ],
            "{backend}"
        );
        for c in ["c2", "c3"] {
            let o = core
                .customer_onboarding(&viewer(), c)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(o.template_id, "all", "{backend}: {c}");
        }
        // Importing the customers again starts nothing new.
        import(&core, &CUSTOMERS, &c).await;
        assert_eq!(count(store, &ONBOARDINGS).await, 3, "{backend}");
        assert!(
            !audit_of(store, "auto_start").await.is_empty(),
            "{backend}: the start is audited"
        );
    })
    .await;
}

#[tokio::test]
async fn without_auto_start_templates_customers_start_nothing() {
    each_core(|backend, core| async move {
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for i in 0..100 {
            c.push(format!("c{i}"), [text("X")]);
        }
        core.write_batch(&Acting::cli(), c).await.unwrap();
        assert_eq!(count(core.store(), &ONBOARDINGS).await, 0, "{backend}");
    })
    .await;
}

fn template(name: &str, segment: Option<&str>, steps: &[(&str, i64)]) -> TemplateInput {
    TemplateInput {
        id: None,
        name: name.into(),
        segment: segment.map(str::to_string),
        plan: None,
        auto_start: true,
        active: true,
        steps: steps
            .iter()
            .map(|(t, d)| StepInput {
                id: None,
                title: (*t).into(),
                due_days: *d,
                owner_role: Some("account manager".into()),
                customer_text: None,
            })
            .collect(),
    }
}

#[tokio::test]
async fn ticking_every_task_completes_the_onboarding() {
    each_core(|backend, core| async move {
        sanna(&core).await;
        // Staff may not write templates; managers may.
        let t = template("Start", None, &[("Call", 2), ("Visit", 10)]);
        assert!(matches!(
            core.save_template(&staff(), t.clone()).await,
            Err(CoreError::Forbidden(_))
        ));
        let id = core.save_template(&manager(), t).await.unwrap();
        let tpl = core.onboarding_template(&viewer(), &id).await.unwrap();
        assert_eq!(tpl.steps.len(), 2, "{backend}");
        // A customer written after the template starts it.
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("c1".into(), [text("Kahvila")]);
        core.write_batch(&staff(), c).await.unwrap();
        let o = core
            .customer_onboarding(&viewer(), "c1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((o.done, o.total, o.status.as_str()), (0, 2, "active"));
        // Viewers cannot tick.
        assert!(matches!(
            core.complete_task(&viewer(), &o.tasks[0].id, None).await,
            Err(CoreError::Forbidden(_))
        ));
        let first = core
            .complete_task(&staff(), &o.tasks[0].id, Some("went well".into()))
            .await
            .unwrap();
        assert!(!first, "{backend}");
        let again = core.complete_task(&staff(), &o.tasks[0].id, None).await;
        assert!(
            matches!(again, Err(CoreError::Conflict { .. })),
            "{again:?}"
        );
        let last = core
            .complete_task(&staff(), &o.tasks[1].id, None)
            .await
            .unwrap();
        assert!(last, "{backend}: the last task completes it");
        let o = core
            .customer_onboarding(&viewer(), "c1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.status, "completed", "{backend}");
        assert_eq!(o.completed_on, Some(core.today().await.unwrap()));
        assert_eq!(o.tasks[0].done_by.as_deref(), Some("Sanna Virtanen"));
        assert_eq!(o.tasks[0].note.as_deref(), Some("went well"));
        // A second onboarding may start by hand once the first is done.
        let again = core.start_onboarding(&staff(), "c1", &id).await.unwrap();
        assert!(again.starts_with("onb:c1:"), "{again}");
        let dup = core.start_onboarding(&staff(), "c1", &id).await;
        assert!(matches!(dup, Err(CoreError::Conflict { .. })), "{dup:?}");
    })
    .await;
}

#[tokio::test]
async fn a_task_overdue_by_the_stall_days_is_stalled() {
    each_core(|backend, core| async move {
        let id = core
            .save_template(
                &manager(),
                template("Start", None, &[("Call", 0), ("Visit", 30)]),
            )
            .await
            .unwrap();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        c.push("c1".into(), [text("Kahvila")]);
        core.write_batch(&staff(), c).await.unwrap();
        let o = core
            .customer_onboarding(&viewer(), "c1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o.stalled, 0, "{backend}");
        // Move the call's due day 8 days into the past (the default stall is 7 days).
        let today = core.today().await.unwrap();
        let due = ONBOARDING_TASKS.field("due_on").unwrap();
        core.update_record(
            &staff(),
            &ONBOARDING_TASKS,
            &o.tasks[0].id,
            vec![due],
            vec![Value::Date(today - Duration::days(8))],
        )
        .await
        .unwrap();
        let o = core
            .customer_onboarding(&viewer(), "c1")
            .await
            .unwrap()
            .unwrap();
        let call = o.tasks.iter().find(|k| k.title == "Call").unwrap();
        assert!(call.stalled && call.overdue, "{backend}: {call:?}");
        assert_eq!(o.stalled, 1);
        let report = core.onboarding_report(&viewer()).await.unwrap();
        let r = report.templates.iter().find(|t| t.id == id).unwrap();
        assert_eq!(r.stalled_now, 1, "{backend}");
        let step = r.steps.iter().find(|s| s.title == "Call").unwrap();
        assert_eq!((step.tasks, step.stalled, step.stalled_now), (1, 1, 1));
        // With 10 stall days it is overdue, not stalled.
        let entry = manager().audit("settings", Some("onboarding_stall_days"), "update");
        core.store()
            .set_setting("onboarding_stall_days", &serde_json::json!("10"), &entry)
            .await
            .unwrap();
        let core2 = Core::new(core.store().clone());
        let o = core2
            .customer_onboarding(&viewer(), "c1")
            .await
            .unwrap()
            .unwrap();
        let call = o.tasks.iter().find(|k| k.title == "Call").unwrap();
        assert!(!call.stalled && call.overdue, "{backend}: {call:?}");
    })
    .await;
}

#[tokio::test]
async fn the_report_gives_median_and_80th_percentile_days() {
    each_core(|backend, core| async move {
        let id = core
            .save_template(
                &manager(),
                TemplateInput {
                    auto_start: false,
                    ..template("Start", None, &[("Call", 1)])
                },
            )
            .await
            .unwrap();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for i in 0..5 {
            c.push(format!("c{i}"), [text("X")]);
        }
        core.write_batch(&staff(), c).await.unwrap();
        let f = fields(
            &ONBOARDINGS,
            &[
                "customer_id",
                "template_id",
                "started_on",
                "status",
                "completed_on",
            ],
        );
        let mut b = WriteBatch::new(&ONBOARDINGS, f);
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        for (i, d) in [10, 20, 30, 40].iter().enumerate() {
            b.push(
                format!("o{i}"),
                [
                    text(&format!("c{i}")),
                    text(&id),
                    Value::Date(start),
                    text("completed"),
                    Value::Date(start + Duration::days(*d)),
                ],
            );
        }
        b.push(
            "o4".into(),
            [
                text("c4"),
                text(&id),
                Value::Date(start),
                text("active"),
                Value::Null,
            ],
        );
        core.write_batch(&staff(), b).await.unwrap();
        let report = core.onboarding_report(&viewer()).await.unwrap();
        let r = report.templates.iter().find(|t| t.id == id).unwrap();
        assert_eq!((r.started, r.completed), (5, 4), "{backend}");
        assert_eq!(r.median_days, Some(25.0), "{backend}");
        assert_eq!(r.p80_days, Some(34.0), "{backend}");
    })
    .await;
}

async fn customer(core: &Core, id: &str, name: &str, locale: Option<&str>) {
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "kind", "locale"]));
    c.push(
        id.into(),
        [text(name), text("person"), locale.map_or(Value::Null, text)],
    );
    core.write_batch(&Acting::cli(), c).await.unwrap();
}

#[tokio::test]
async fn a_goal_note_with_a_value_moves_the_goal() {
    each_core(|backend, core| async move {
        sanna(&core).await;
        customer(&core, "c1", "Aino Laine", Some("fi")).await;
        let g = GoalInput {
            title: "Orders a month".into(),
            measure: Some("orders".into()),
            baseline: Some(10.0),
            target: Some(20.0),
            due_on: Some(core.today().await.unwrap() + Duration::days(60)),
            ..GoalInput::default()
        };
        assert!(matches!(
            core.add_goal(&viewer(), "c1", g.clone()).await,
            Err(CoreError::Forbidden(_))
        ));
        let id = core.add_goal(&staff(), "c1", g).await.unwrap();
        let today = core.today().await.unwrap();
        core.add_goal_note(&staff(), &id, today, Some(15.5), "Half way there")
            .await
            .unwrap();
        let goals = core.customer_goals(&viewer(), "c1").await.unwrap();
        assert_eq!(goals.len(), 1, "{backend}");
        assert_eq!(goals[0].current, Some(15.5), "{backend}");
        assert_eq!(goals[0].staff_name.as_deref(), Some("Sanna Virtanen"));
        assert_eq!(goals[0].notes.len(), 1);
        assert_eq!(goals[0].notes[0].note, "Half way there");
        // A note without a value leaves the current value.
        core.add_goal_note(&staff(), &id, today, None, "Talked again")
            .await
            .unwrap();
        let goals = core.customer_goals(&viewer(), "c1").await.unwrap();
        assert_eq!(goals[0].current, Some(15.5));
        core.update_goal(
            &staff(),
            &id,
            GoalUpdate {
                status: Some("at_risk".into()),
                ..GoalUpdate::default()
            },
        )
        .await
        .unwrap();
        let g = core.store().get(&GOALS, &id).await.unwrap().unwrap();
        assert_eq!(g.text("status"), Some("at_risk"), "{backend}");
        let bad = core
            .update_goal(
                &staff(),
                &id,
                GoalUpdate {
                    status: Some("great".into()),
                    ..GoalUpdate::default()
                },
            )
            .await;
        assert!(matches!(bad, Err(CoreError::Invalid(_))), "{bad:?}");
    })
    .await;
}

#[tokio::test]
async fn the_goals_link_works_until_it_expires_or_is_revoked() {
    each_core(|backend, core| async move {
        sanna(&core).await;
        customer(&core, "c1", "Aino Laine", Some("fi")).await;
        let id = core
            .add_goal(
                &staff(),
                "c1",
                GoalInput {
                    title: "Tilaukset kasvuun".into(),
                    baseline: Some(10.0),
                    target: Some(20.0),
                    current: Some(15.0),
                    ..GoalInput::default()
                },
            )
            .await
            .unwrap();
        core.add_goal_note(
            &staff(),
            &id,
            core.today().await.unwrap(),
            None,
            "Hyvä alku",
        )
        .await
        .unwrap();
        assert!(matches!(
            core.create_goal_link(&viewer(), "c1", None).await,
            Err(CoreError::Forbidden(_))
        ));
        assert!(matches!(
            core.create_goal_link(&staff(), "c1", Some(400)).await,
            Err(CoreError::Invalid(_))
        ));
        let link = core.create_goal_link(&staff(), "c1", None).await.unwrap();
        let token = link.path.strip_prefix("/g/").unwrap().to_string();
        assert_eq!(token.len(), 64);
        let days = (link.expires_at - Utc::now()).num_days();
        assert!((29..=30).contains(&days), "{days}");
        let p = core
            .public_goals(&token)
            .await
            .unwrap()
            .expect("valid link");
        assert_eq!(
            p.name.as_deref(),
            Some("Aino"),
            "{backend}: first name only"
        );
        assert_eq!(p.locale.as_deref(), Some("fi"));
        assert_eq!(p.goals.len(), 1);
        assert_eq!(p.goals[0].progress, Some(0.5));
        assert_eq!(p.goals[0].contact.as_deref(), Some("Sanna"));
        assert_eq!(p.goals[0].notes[0].by.as_deref(), Some("Sanna"));
        // Only the digest is stored.
        let digests = core.store().goal_link_digests().await.unwrap();
        assert_eq!(
            digests,
            vec![kanta_core::secrets::digest(&token)],
            "{backend}"
        );
        assert!(!digests.iter().any(|d| d.contains(&token)));
        // Unknown and malformed tokens open nothing.
        assert!(core.public_goals(&"0".repeat(64)).await.unwrap().is_none());
        assert!(core.public_goals("x").await.unwrap().is_none());
        // After the expiry it opens nothing.
        assert!(
            core.public_goals_at(&token, link.expires_at + Duration::seconds(1))
                .await
                .unwrap()
                .is_none()
        );
        let old = core
            .create_goal_link_at(&staff(), "c1", Utc::now() - Duration::days(31), Some(30))
            .await
            .unwrap();
        let old_token = old.path.strip_prefix("/g/").unwrap();
        assert!(
            core.public_goals(old_token).await.unwrap().is_none(),
            "{backend}"
        );
        // Active links list the valid one only; revoking it ends it.
        let links = core.goal_links(&viewer(), "c1").await.unwrap();
        assert_eq!(
            links.iter().map(|l| l.id).collect::<Vec<_>>(),
            vec![link.id]
        );
        assert!(matches!(
            core.revoke_goal_link(&staff(), "c2", link.id).await,
            Err(CoreError::NotFound(_))
        ));
        core.revoke_goal_link(&staff(), "c1", link.id)
            .await
            .unwrap();
        assert!(
            core.public_goals(&token).await.unwrap().is_none(),
            "{backend}"
        );
        assert!(core.goal_links(&viewer(), "c1").await.unwrap().is_empty());
        let log = audit_of(core.store(), "revoke").await;
        assert_eq!(log.len(), 1, "{backend}");
        assert!(
            !format!("{:?}", audit_of(core.store(), "create").await).contains(&token),
            "the audit log keeps no token"
        );
    })
    .await;
}

/// How long an import of 100,000 new customers takes with and without an auto-start
/// template (run by hand: `cargo test -p kanta-core --test core -- --ignored
/// onboarding_start_cost --nocapture`).
#[tokio::test]
#[ignore]
async fn onboarding_start_cost() {
    each_core(|backend, core| async move {
        let batch = |from: usize| {
            let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name", "segment"]));
            for i in from..from + 100_000 {
                c.push(format!("c{i}"), [text("X"), text("b2b")]);
            }
            c
        };
        let t = std::time::Instant::now();
        core.write_batch(&Acting::cli(), batch(0)).await.unwrap();
        let without = t.elapsed();
        core.save_template(&manager(), template("Start", Some("b2b"), &[("Call", 2), ("Visit", 10)]))
            .await
            .unwrap();
        let t = std::time::Instant::now();
        core.write_batch(&Acting::cli(), batch(100_000)).await.unwrap();
        let with = t.elapsed();
        assert_eq!(count(core.store(), &ONBOARDINGS).await, 100_000);
        assert_eq!(count(core.store(), &ONBOARDING_TASKS).await, 200_000);
        println!("{backend}: 100,000 customers without a template {without:?}, with (100,000 onboardings, 200,000 tasks) {with:?}");
    })
    .await;
}

//! Cases as the people using them see them: SLA due times in business hours (the
//! acceptance case: Friday 15:00 + 8 h = Monday 15:00, with a holiday, across a
//! daylight-saving change), the life cycle and its refusals, the first response
//! recorded, the list's filters, the SLA job that warns once and tells of a breach
//! once, and the viewer who can change nothing. Both backends.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kanta_core::CoreError;
use kanta_core::actor::{Acting, Channel};
use kanta_core::cases::{CaseFilter, NewCase, Resolution, SlaFilter};
use kanta_core::{Core, Problem};
use kanta_domain::WriteBatch;
use kanta_domain::schema::{CUSTOMERS, STAFF};
use kanta_store::accounts::{NewUser, Role};

use crate::support::{audit_of, fields, text};

fn staff() -> Acting {
    Acting::user(2, "sari.staff@cafe.example", Role::Staff, Channel::Ui)
}

fn manager() -> Acting {
    Acting::user(3, "maija.manager@cafe.example", Role::Manager, Channel::Ui)
}

fn viewer() -> Acting {
    Acting::user(4, "ville.viewer@cafe.example", Role::Viewer, Channel::Ui)
}

fn helsinki(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    kanta_domain::time::DEFAULT_ZONE
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// Customers c1, c2 and staff s1 (Sari, the staff user's email) and s2.
async fn setup(core: &Core) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    c.push("c1".into(), [text("Kahvila Oy")]);
    c.push("c2".into(), [text("Matti <b>Meikäläinen</b>")]);
    core.write_batch(&cli, c).await.unwrap();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push("s1".into(), [text("Sari"), text("Sari.Staff@cafe.example")]);
    s.push("s2".into(), [text("Pekka"), text("pekka@cafe.example")]);
    core.write_batch(&cli, s).await.unwrap();
}

fn case(customer: &str, opened_at: DateTime<Utc>) -> NewCase {
    NewCase {
        customer_id: customer.into(),
        category: "quality".into(),
        opened_at: Some(opened_at),
        ..NewCase::default()
    }
}

fn refused<T: std::fmt::Debug>(r: Result<T, CoreError>, what: &str) -> String {
    match r {
        Err(CoreError::Conflict { message, .. }) => message,
        Err(CoreError::Invalid(p)) => p
            .iter()
            .map(|p: &Problem| format!("{}: {}", p.field, p.reason))
            .collect(),
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

async fn resolution_due(core: &Core, id: &str) -> DateTime<Utc> {
    let d = core.case_detail(&staff(), id).await.unwrap();
    d.timers
        .iter()
        .find(|t| t.step == "resolution")
        .unwrap()
        .due_at
}

#[tokio::test]
async fn friday_afternoon_plus_eight_business_hours_is_due_monday_afternoon() {
    crate::support::each_core(|backend, core| async move {
        setup(&core).await;
        core.set_store_setting(&manager(), "sla_normal", "2h/8h työaika")
            .await
            .unwrap();
        // Friday 7 November 2025 15:00 in Helsinki: Monday 10 November 15:00.
        let id = core
            .open_case(&staff(), case("c1", helsinki(2025, 11, 7, 15)))
            .await
            .unwrap();
        assert_eq!(
            resolution_due(&core, &id).await,
            helsinki(2025, 11, 10, 15),
            "{backend}"
        );
        let d = core.case_detail(&staff(), &id).await.unwrap();
        assert_eq!(d.timers[0].step, "first_response");
        // Friday 15:00 + 2 h: Monday 09:00.
        assert_eq!(d.timers[0].due_at, helsinki(2025, 11, 10, 9), "{backend}");
        assert!(d.case.breached, "{backend}: long past, never answered");
        assert_eq!(d.events[0].kind, "opened", "{backend}");
        // With Monday a holiday: Tuesday 15:00.
        core.set_store_setting(&manager(), "holidays", "fi, 10.11.2025")
            .await
            .unwrap();
        let id = core
            .open_case(&staff(), case("c1", helsinki(2025, 11, 7, 15)))
            .await
            .unwrap();
        assert_eq!(
            resolution_due(&core, &id).await,
            helsinki(2025, 11, 11, 15),
            "{backend}"
        );
        // Across the change to summer time (Sunday 29 March 2026): still 15:00.
        let id = core
            .open_case(&staff(), case("c1", helsinki(2026, 3, 27, 15)))
            .await
            .unwrap();
        let due = resolution_due(&core, &id).await;
        assert_eq!(due, helsinki(2026, 3, 30, 15), "{backend}");
        assert_eq!((due - helsinki(2026, 3, 27, 15)).num_hours(), 71);
        // Calendar hours count the night: critical is 1h/8h calendar by default.
        let mut c = case("c1", helsinki(2025, 11, 7, 15));
        c.severity = Some("critical".into());
        let id = core.open_case(&staff(), c).await.unwrap();
        assert_eq!(
            resolution_due(&core, &id).await,
            helsinki(2025, 11, 7, 23),
            "{backend}"
        );
        // A case written by an import (or the generic API) gets its due times and its
        // timeline's first steps from its own times, in the same write.
        let mut b = WriteBatch::new(
            &kanta_domain::schema::CASES,
            fields(
                &kanta_domain::schema::CASES,
                &["customer_id", "opened_at", "category", "first_response_at"],
            ),
        );
        b.push(
            "imported-1".into(),
            [
                text("c2"),
                kanta_domain::Value::Time(helsinki(2025, 11, 7, 15)),
                text("billing"),
                kanta_domain::Value::Time(helsinki(2025, 11, 7, 16)),
            ],
        );
        core.write_batch(&Acting::import("cases.csv"), b)
            .await
            .unwrap();
        assert_eq!(
            resolution_due(&core, "imported-1").await,
            helsinki(2025, 11, 11, 15),
            "{backend}: the holiday setting applies to imports too"
        );
        let d = core.case_detail(&viewer(), "imported-1").await.unwrap();
        let kinds: Vec<&str> = d.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["opened", "responded"], "{backend}");
        assert_eq!(d.events[0].actor, "cases.csv");
        // Bad settings are refused with the reason.
        let e = core
            .set_store_setting(&manager(), "sla_high", "4h/2h business")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("resolution target comes before"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_case_moves_through_its_life_cycle_and_refuses_other_moves() {
    crate::support::each_core(|backend, core| async move {
        setup(&core).await;
        let id = core
            .open_case(
                &staff(),
                NewCase {
                    customer_id: "c2".into(),
                    category: "delivery".into(),
                    severity: Some("high".into()),
                    channel: Some("phone".into()),
                    summary: Some("Tilaus <script>myöhässä</script>".into()),
                    owner_id: Some("s1".into()),
                    ..NewCase::default()
                },
            )
            .await
            .unwrap();
        assert!(id.starts_with("case-"), "{id}");
        let d = core.case_detail(&viewer(), &id).await.unwrap();
        assert_eq!(d.case.status, "open");
        assert_eq!(d.case.owner_name.as_deref(), Some("Sari"));
        assert!(d.case.first_response_at.is_none());
        assert!(d.case.sla_due_at.is_some() && !d.case.breached, "{backend}");

        // Closing an open case, resolving by transition, staying put: refused.
        let m = refused(
            core.case_transition(&staff(), &id, "closed", None).await,
            "close",
        );
        assert!(m.contains("resolved before it is closed"), "{m}");
        let m = refused(
            core.case_transition(&staff(), &id, "resolved", None).await,
            "resolve",
        );
        assert!(m.contains("use resolve"), "{m}");
        let m = refused(
            core.case_transition(&staff(), &id, "open", None).await,
            "open",
        );
        assert!(m.contains("open already"), "{m}");
        let m = refused(
            core.case_transition(&staff(), &id, "done", None).await,
            "done",
        );
        assert!(m.contains("'done' is not one of"), "{m}");
        match core
            .case_transition(&staff(), "nope", "waiting", None)
            .await
        {
            Err(CoreError::NotFound(m)) => assert!(m.contains("no case"), "{m}"),
            other => panic!("{other:?}"),
        }

        // The first move off open records the first response.
        core.case_transition(
            &staff(),
            &id,
            "in_progress",
            Some("Soitin asiakkaalle".into()),
        )
        .await
        .unwrap();
        let d = core.case_detail(&staff(), &id).await.unwrap();
        assert_eq!(d.case.status, "in_progress");
        let first = d.case.first_response_at.expect("first response recorded");
        assert!(d.timers[0].met_at == Some(first) && !d.timers[0].breached);
        core.case_transition(&staff(), &id, "waiting", None)
            .await
            .unwrap();
        core.case_transition(&staff(), &id, "in_progress", None)
            .await
            .unwrap();
        let d = core.case_detail(&staff(), &id).await.unwrap();
        assert_eq!(d.case.first_response_at, Some(first), "recorded once");

        core.add_case_note(&staff(), &id, "Uusi toimitus huomenna".into())
            .await
            .unwrap();
        let m = refused(core.add_case_note(&staff(), &id, "  ".into()).await, "note");
        assert!(m.contains("note"), "{m}");
        core.assign_case(&staff(), &id, Some("s2".into()))
            .await
            .unwrap();
        let m = refused(
            core.assign_case(&staff(), &id, Some("s9".into())).await,
            "assign",
        );
        assert!(m.contains("no staff member with id 's9'"), "{m}");

        let m = refused(
            core.resolve_case(&staff(), &id, Resolution::default())
                .await,
            "empty resolution",
        );
        assert!(m.contains("resolution: is required"), "{m}");
        core.resolve_case(
            &staff(),
            &id,
            Resolution {
                resolution: "Toimitettiin uusi tuote".into(),
                apology: true,
                fixed_in_presence: true,
                our_fault: Some(true),
                note: None,
            },
        )
        .await
        .unwrap();
        let d = core.case_detail(&staff(), &id).await.unwrap();
        assert_eq!(d.case.status, "resolved");
        assert!(d.case.resolved_at.is_some() && d.case.sla_due_at.is_none());
        assert_eq!(d.resolution.as_deref(), Some("Toimitettiin uusi tuote"));
        assert_eq!(
            (d.apology, d.fixed_in_presence, d.case.our_fault),
            (Some(true), Some(true), Some(true))
        );
        assert!(!d.case.breached, "{backend}: resolved within its targets");
        let m = refused(
            core.case_transition(&staff(), &id, "waiting", None).await,
            "waiting",
        );
        assert!(m.contains("reopen it first"), "{m}");
        let m = refused(
            core.resolve_case(
                &staff(),
                &id,
                Resolution {
                    resolution: "again".into(),
                    ..Resolution::default()
                },
            )
            .await,
            "resolve twice",
        );
        assert!(m.contains("resolved already"), "{m}");

        core.case_transition(&staff(), &id, "closed", None)
            .await
            .unwrap();
        core.case_transition(
            &manager(),
            &id,
            "open",
            Some("Asiakas soitti uudelleen".into()),
        )
        .await
        .unwrap();
        let d = core.case_detail(&staff(), &id).await.unwrap();
        assert_eq!(d.case.status, "open");
        assert!(d.case.resolved_at.is_none() && d.case.closed_at.is_none());
        assert_eq!(d.case.first_response_at, Some(first));

        let kinds: Vec<&str> = d.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "opened",
                "status",
                "responded",
                "status",
                "status",
                "note",
                "owner",
                "resolved",
                "closed",
                "reopened"
            ],
            "{backend}"
        );
        assert_eq!(d.events[1].note.as_deref(), Some("Soitin asiakkaalle"));
        assert_eq!(d.events[6].from.as_deref(), Some("s1"));
        assert_eq!(d.events[6].to.as_deref(), Some("s2"));
        assert_eq!(d.events[9].actor, "maija.manager@cafe.example");
        assert_eq!(d.events[0].actor, "sari.staff@cafe.example");

        // Each step is in the audit log, with the user's name.
        let store = core.store();
        for (action, n) in [
            ("open", 1),
            ("status", 5),
            ("resolve", 1),
            ("assign", 1),
            ("note", 1),
        ] {
            let entries = audit_of(store, action).await;
            let entries: Vec<_> = entries
                .iter()
                .filter(|e| e.entry.entity == "cases")
                .collect();
            assert_eq!(entries.len(), n, "{backend}: {action}");
            assert_eq!(entries[0].entry.record_id.as_deref(), Some(id.as_str()));
        }
    })
    .await;
}

#[tokio::test]
async fn the_list_filters_breaching_due_soon_and_mine() {
    crate::support::each_core(|backend, core| async move {
        setup(&core).await;
        core.set_store_setting(&manager(), "sla_normal", "1h/2h calendar")
            .await
            .unwrap();
        core.set_store_setting(&manager(), "sla_low", "100h/200h kalenteri")
            .await
            .unwrap();
        let now = Utc::now();
        // Overdue: first response was due two hours ago.
        let late = core
            .open_case(&staff(), case("c1", now - Duration::hours(3)))
            .await
            .unwrap();
        // Due in half an hour.
        let soon = core
            .open_case(&staff(), case("c2", now - Duration::minutes(30)))
            .await
            .unwrap();
        // Due in 100 hours, owned by Sari.
        let mut c = case("c2", now);
        c.severity = Some("low".into());
        c.owner_id = Some("s1".into());
        let mine = core.open_case(&staff(), c).await.unwrap();
        // Resolved late: not open, but breaching with status all.
        let done = core
            .open_case(&staff(), case("c1", now - Duration::hours(5)))
            .await
            .unwrap();
        core.resolve_case(
            &staff(),
            &done,
            Resolution {
                resolution: "Korjattu".into(),
                ..Resolution::default()
            },
        )
        .await
        .unwrap();

        let ids = |f: CaseFilter| {
            let core = core.clone();
            async move {
                let p = core.cases_page(&viewer(), &f).await.unwrap();
                // A case resolved late is a mistake on the trust ledger, and a mistake
                // on a customer not in credit opens an escalation case: not ours here.
                p.rows
                    .into_iter()
                    .filter(|r| r.escalation_of.is_none())
                    .map(|r| r.id)
                    .collect::<Vec<_>>()
            }
        };
        // Open cases by their next due time.
        assert_eq!(
            ids(CaseFilter::default()).await,
            [late.clone(), soon.clone(), mine.clone()],
            "{backend}"
        );
        assert_eq!(
            ids(CaseFilter {
                sla: Some(SlaFilter::Breaching),
                ..CaseFilter::default()
            })
            .await,
            vec![late.clone()],
            "{backend}"
        );
        assert_eq!(
            ids(CaseFilter {
                sla: Some(SlaFilter::Breaching),
                status: Some("all".into()),
                ..CaseFilter::default()
            })
            .await,
            [late.clone(), done.clone()],
            "{backend}: newest first"
        );
        assert_eq!(
            ids(CaseFilter {
                sla: Some(SlaFilter::DueSoon),
                ..CaseFilter::default()
            })
            .await,
            vec![soon.clone()],
            "{backend}"
        );
        let p = core
            .cases_page(
                &staff(),
                &CaseFilter {
                    mine: true,
                    ..CaseFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(p.rows.len(), 1, "{backend}");
        assert_eq!(p.rows[0].id, mine);
        assert_eq!(p.rows[0].owner_id.as_deref(), Some("s1"));
        assert_eq!(
            ids(CaseFilter {
                owner: Some("s1".into()),
                ..CaseFilter::default()
            })
            .await,
            vec![mine.clone()]
        );
        assert_eq!(
            ids(CaseFilter {
                customer: Some("c1".into()),
                status: Some("all".into()),
                ..CaseFilter::default()
            })
            .await,
            [late.clone(), done.clone()]
        );
        assert_eq!(
            ids(CaseFilter {
                severity: Some("LOW".into()),
                ..CaseFilter::default()
            })
            .await,
            vec![mine.clone()]
        );
        assert_eq!(
            ids(CaseFilter {
                status: Some("resolved".into()),
                ..CaseFilter::default()
            })
            .await,
            vec![done.clone()]
        );
        // Escalations only.
        let p = core
            .cases_page(
                &viewer(),
                &CaseFilter {
                    escalations: true,
                    status: Some("all".into()),
                    ..CaseFilter::default()
                },
            )
            .await
            .unwrap();
        assert!(
            p.rows.iter().all(|r| r.escalation_of.is_some()),
            "{backend}"
        );
        // Row flags as the API shows them.
        let p = core
            .cases_page(
                &viewer(),
                &CaseFilter {
                    category: Some("quality".into()),
                    ..CaseFilter::default()
                },
            )
            .await
            .unwrap();
        assert!(p.rows[0].breached && !p.rows[1].breached && !p.rows[2].breached);
        assert!(p.rows[0].sla_due_at.unwrap() < now);
        assert_eq!(
            p.rows[1].customer_name.as_deref(),
            Some("Matti <b>Meikäläinen</b>")
        );

        // Paging, one row at a time, visits each open case once, in order.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = core
                .cases_page(
                    &viewer(),
                    &CaseFilter {
                        limit: 1,
                        after: after.clone(),
                        ..CaseFilter::default()
                    },
                )
                .await
                .unwrap();
            seen.extend(
                p.rows
                    .into_iter()
                    .filter(|r| r.escalation_of.is_none())
                    .map(|r| r.id),
            );
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(
            seen,
            [late.clone(), soon.clone(), mine.clone()],
            "{backend}"
        );
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = core
                .cases_page(
                    &viewer(),
                    &CaseFilter {
                        limit: 3,
                        status: Some("all".into()),
                        after: after.clone(),
                        ..CaseFilter::default()
                    },
                )
                .await
                .unwrap();
            seen.extend(
                p.rows
                    .into_iter()
                    .filter(|r| r.escalation_of.is_none())
                    .map(|r| r.id),
            );
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen.len(), 4, "{backend}");

        // Clear refusals.
        let e = core
            .cases_page(
                &viewer(),
                &CaseFilter {
                    status: Some("pending".into()),
                    ..CaseFilter::default()
                },
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("status: 'pending' is not open"), "{e}");
        let e = core
            .cases_page(
                &Acting::cli(),
                &CaseFilter {
                    mine: true,
                    ..CaseFilter::default()
                },
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("mine: only a signed-in user"), "{e}");
        let e = core
            .cases_page(
                &viewer(),
                &CaseFilter {
                    after: Some("garbage".into()),
                    ..CaseFilter::default()
                },
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("after:"), "{e}");

        // Attainment: one case resolved late, in this month.
        let a = core.sla_attainment(&viewer(), 3).await.unwrap();
        assert_eq!(a.by_month.len(), 3);
        assert_eq!(a.total.resolved, 1, "{backend}");
        assert_eq!(a.total.late, 1);
        assert_eq!(a.total.within, 0);
        assert_eq!(
            a.total.open_breaching, 1,
            "{backend}: the overdue open case"
        );
        assert_eq!(a.total.percent, Some(0.0));
        assert_eq!(a.by_month[2].resolved, 1);
        assert!(
            a.by_category
                .iter()
                .any(|r| r.key == "quality" && r.late == 1)
        );
    })
    .await;
}

#[tokio::test]
async fn the_sla_job_warns_once_and_tells_managers_of_a_breach_once() {
    crate::support::each_core(|backend, core| async move {
        setup(&core).await;
        let audit = Acting::cli().audit("users", None, "create");
        for (email, role) in [
            ("maija.manager@cafe.example", Role::Manager),
            ("ville.viewer@cafe.example", Role::Viewer),
        ] {
            core.store()
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
        core.set_store_setting(&manager(), "sla_normal", "1h/3h calendar")
            .await
            .unwrap();
        // The escalation c2's second breach opens (high severity) is due long after
        // this test's checks, whatever the day and hour it runs.
        core.set_store_setting(&manager(), "sla_high", "100h/200h calendar")
            .await
            .unwrap();
        let now = Utc::now();
        // Owned by Sari: its first response is due in 30 minutes (warn Sari).
        let mut c = case("c1", now - Duration::minutes(30));
        c.owner_id = Some("s1".into());
        let warned = core.open_case(&staff(), c).await.unwrap();
        // No owner: first response breached 1 hour ago (tell the manager), and its
        // resolution is due within the warning time (warn the managers).
        let breached = core
            .open_case(&staff(), case("c2", now - Duration::hours(2)))
            .await
            .unwrap();
        let r = core.run_sla_check(now).await.unwrap();
        assert_eq!((r.warned, r.breached), (3, 1), "{backend}: {r:?}");
        let mail = core.store().outbox(100).await.unwrap();
        let mail: Vec<_> = mail
            .into_iter()
            .filter(|m| m.key.starts_with("sla_"))
            .collect();
        let to_sari: Vec<_> = mail
            .iter()
            .filter(|m| m.to == "Sari.Staff@cafe.example")
            .collect();
        assert_eq!(to_sari.len(), 2, "{backend}: first response and resolution");
        assert!(to_sari.iter().all(|m| m.subject.contains(&warned)));
        let to_manager: Vec<_> = mail
            .iter()
            .filter(|m| m.to == "maija.manager@cafe.example")
            .collect();
        assert_eq!(to_manager.len(), 2, "{backend}: {to_manager:?}");
        assert!(to_manager.iter().all(|m| m.subject.contains(&breached)));
        assert!(
            to_manager
                .iter()
                .any(|m| m.subject.contains("ylittyi") && m.subject.contains("ensivastaus")),
            "{to_manager:?}"
        );
        assert!(mail.iter().all(|m| m.to != "ville.viewer@cafe.example"));
        let d = core.case_detail(&staff(), &breached).await.unwrap();
        let kinds: Vec<&str> = d.events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["opened", "sla_breach", "sla_warning"], "{backend}");

        // Run again: nothing new, no more mail.
        let r = core
            .run_sla_check(now + Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!((r.warned, r.breached, r.mails), (0, 0, 0), "{backend}");
        let sla_mail = |core: Core| async move {
            let all = core.store().outbox(1000).await.unwrap();
            all.into_iter()
                .filter(|m| m.key.starts_with("sla_"))
                .count()
        };
        assert_eq!(sla_mail(core.clone()).await, mail.len());
        // Later both first responses and the second case's resolution have passed:
        // each breach is told once, to the manager.
        let r = core.run_sla_check(now + Duration::hours(2)).await.unwrap();
        assert_eq!(
            (r.warned, r.breached, r.mails),
            (0, 2, 2),
            "{backend}: {r:?}"
        );
        assert_eq!(sla_mail(core.clone()).await, mail.len() + 2);
        // The trust ledger took a mistake for each of c2's breaches; the second landed
        // in deficit and opened an escalation.
        let all = core
            .cases_page(
                &staff(),
                &kanta_core::cases::CaseFilter {
                    status: Some("all".into()),
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let escalations: Vec<_> = all
            .rows
            .iter()
            .filter(|c| c.category == "escalation")
            .collect();
        assert_eq!(escalations.len(), 1, "{backend}: {:?}", all.rows);
        assert_eq!(escalations[0].customer_id, "c2");
        let r = core.run_sla_check(now + Duration::hours(2)).await.unwrap();
        assert_eq!((r.warned, r.breached, r.mails), (0, 0, 0), "{backend}");
        // A resolved case is not warned of.
        core.resolve_case(
            &staff(),
            &warned,
            Resolution {
                resolution: "ok".into(),
                ..Resolution::default()
            },
        )
        .await
        .unwrap();
        let r = core.run_sla_check(now + Duration::hours(10)).await.unwrap();
        assert_eq!((r.warned, r.breached), (0, 0), "{backend}: {r:?}");
    })
    .await;
}

#[tokio::test]
async fn the_viewer_changes_nothing() {
    crate::support::each_core(|backend, core| async move {
        setup(&core).await;
        let id = core
            .open_case(&staff(), case("c1", Utc::now()))
            .await
            .unwrap();
        let v = viewer();
        let results = [
            core.open_case(&v, case("c1", Utc::now())).await.map(|_| ()),
            core.case_transition(&v, &id, "in_progress", None).await,
            core.resolve_case(
                &v,
                &id,
                Resolution {
                    resolution: "x".into(),
                    ..Resolution::default()
                },
            )
            .await,
            core.assign_case(&v, &id, Some("s1".into())).await,
            core.add_case_note(&v, &id, "x".into()).await,
        ];
        for (i, r) in results.into_iter().enumerate() {
            assert!(
                matches!(r, Err(CoreError::Forbidden(_))),
                "{backend}: write {i}: {r:?}"
            );
        }
        // ... and reads all of it.
        core.case_detail(&v, &id).await.unwrap();
        core.cases_page(&v, &CaseFilter::default()).await.unwrap();
        core.sla_attainment(&v, 12).await.unwrap();
        let d = core.case_detail(&v, &id).await.unwrap();
        assert_eq!(d.case.status, "open");
        assert_eq!(d.events.len(), 1);
    })
    .await;
}

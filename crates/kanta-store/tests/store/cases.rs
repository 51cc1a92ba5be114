//! The cases list, its filters and paging, the SLA job's scan and alerts, a case's
//! timeline and the SLA attainment figures, on both backends; and (ignored, run by
//! hand: `cargo test -p kanta-store --test store cases::at_scale -- --ignored
//! --nocapture`) the same at 300,000 cases with their timings and query plans.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use kanta_domain::Value;
use kanta_domain::schema::{CASES, CUSTOMERS, STAFF};
use kanta_store::cases::{CaseQuery, NewCaseEvent};
use kanta_store::testing::{BACKENDS, TestDb};
use kanta_store::{RunInfo, Store, WriteBatch};

use crate::{fields, text};

fn run() -> RunInfo {
    RunInfo {
        source: "test".into(),
        rows_read: 0,
        rejected: 0,
    }
}

/// `customers` customers, staff s0..s9, and `n` cases: case i opened i*37 minutes
/// before `now` (wrapping at 60 days), every tenth owned by s(i%10)... 9 in 10
/// resolved (within or after 40 hours), the rest open; targets 8 h / 40 h
/// calendar. Returns the cases' external ids.
async fn load(store: &Store, customers: usize, n: usize, now: DateTime<Utc>) -> Vec<String> {
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    for i in 0..customers {
        c.push(format!("c{i}"), [text(&format!("Asiakas {i}"))]);
    }
    store.write(&c).await.unwrap();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    for i in 0..10 {
        s.push(
            format!("s{i}"),
            [
                text(&format!("Staff {i}")),
                text(&format!("S{i}@Example.com")),
            ],
        );
    }
    store.write(&s).await.unwrap();
    let f = fields(
        &CASES,
        &[
            "customer_id",
            "opened_at",
            "category",
            "severity",
            "status",
            "first_response_at",
            "resolved_at",
            "staff_id",
        ],
    );
    let mut w = store.writer(&CASES, f.clone()).await.unwrap();
    let mut b = WriteBatch::new(&CASES, f);
    let mut ids = Vec::with_capacity(n);
    let mut opened = Vec::with_capacity(n);
    for i in 0..n {
        let at = now - Duration::minutes((i as i64 * 37) % (60 * 24 * 60));
        let resolved = i % 10 != 0;
        let hours = (i % 60) as i64;
        let id = format!("k{i}");
        b.push(
            id.clone(),
            [
                text(&format!("c{}", i % customers)),
                Value::Time(at),
                text(["quality", "delivery", "billing"][i % 3]),
                text("normal"),
                text(if resolved {
                    "resolved"
                } else {
                    ["open", "in_progress", "waiting"][i % 3]
                }),
                if i % 20 == 0 {
                    Value::Null
                } else {
                    Value::Time(at + Duration::hours(1))
                },
                if resolved && at + Duration::hours(hours) < now {
                    Value::Time(at + Duration::hours(hours))
                } else {
                    Value::Null
                },
                if i % 7 == 0 {
                    text(&format!("s{}", i % 10))
                } else {
                    Value::Null
                },
            ],
        );
        ids.push(id);
        opened.push(at);
    }
    w.write(b).await.unwrap();
    w.merge_written().await.unwrap();
    let states = w.cases_by_external_ids(&ids).await.unwrap();
    assert_eq!(states.len(), n);
    let dues: Vec<_> = states
        .iter()
        .map(|s| {
            (
                s.id,
                Some(s.opened_at + Duration::hours(8)),
                Some(s.opened_at + Duration::hours(40)),
            )
        })
        .collect();
    assert_eq!(w.set_case_dues(&dues).await.unwrap(), n as u64);
    assert_eq!(
        w.set_case_dues(&dues).await.unwrap(),
        0,
        "unchanged rows are not written"
    );
    w.finish(&run()).await.unwrap();
    ids
}

fn query(now: DateTime<Utc>) -> CaseQuery {
    CaseQuery {
        status: "open".into(),
        limit: 50,
        now,
        ..CaseQuery::default()
    }
}

/// Every row of a list, page by page.
async fn all_rows(store: &Store, q: &CaseQuery) -> Vec<kanta_store::cases::CaseRow> {
    let mut out = Vec::new();
    let mut q = q.clone();
    loop {
        let p = store.cases_page(&q).await.unwrap();
        out.extend(p.rows);
        match p.next {
            Some(n) => q.after = Some(n),
            None => return out,
        }
    }
}

#[tokio::test]
async fn the_cases_list_filters_pages_and_scans() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = Store::open(&db.url).await.unwrap();
        let now = Utc::now();
        let ids = load(&store, 50, 400, now).await;

        // Open cases, by next due time then id, each once.
        let open = all_rows(&store, &query(now)).await;
        assert_eq!(open.len(), 40, "{backend}");
        assert!(open.iter().all(|r| r.is_open()));
        assert!(
            open.windows(2)
                .all(|w| (w[0].sla_due_at, w[0].key) < (w[1].sla_due_at, w[1].key)),
            "{backend}: ordered by due time"
        );
        // All: newest first.
        let all = all_rows(
            &store,
            &CaseQuery {
                status: "all".into(),
                limit: 77,
                ..query(now)
            },
        )
        .await;
        assert_eq!(all.len(), ids.len(), "{backend}");
        assert!(all.windows(2).all(|w| w[0].opened_at >= w[1].opened_at));

        // Breaching: exactly the rows flagged.
        let breaching = all_rows(
            &store,
            &CaseQuery {
                status: "all".into(),
                breaching: true,
                ..query(now)
            },
        )
        .await;
        let flagged = all.iter().filter(|r| r.breached).count();
        assert!(flagged > 0);
        assert_eq!(breaching.len(), flagged, "{backend}");
        // Due soon: open, next target within 4 hours, not passed.
        let soon = all_rows(
            &store,
            &CaseQuery {
                due_within_hours: Some(4.0),
                ..query(now)
            },
        )
        .await;
        let expected = open
            .iter()
            .filter(|r| {
                r.sla_due_at
                    .is_some_and(|d| d >= now && d <= now + Duration::hours(4))
            })
            .count();
        assert_eq!(soon.len(), expected, "{backend}");
        // Mine: the staff member with the email, any case.
        let mine = all_rows(
            &store,
            &CaseQuery {
                status: "all".into(),
                mine_email: Some("s3@example.COM".into()),
                ..query(now)
            },
        )
        .await;
        assert!(!mine.is_empty());
        assert!(
            mine.iter().all(|r| r.owner_id.as_deref() == Some("s3")),
            "{backend}"
        );
        let cust = all_rows(
            &store,
            &CaseQuery {
                status: "all".into(),
                customer: Some("c7".into()),
                category: Some("billing".into()),
                ..query(now)
            },
        )
        .await;
        assert!(
            cust.iter()
                .all(|r| r.customer_id == "c7" && r.category == "billing")
        );
        assert_eq!(
            cust.len(),
            all.iter()
                .filter(|r| r.customer_id == "c7" && r.category == "billing")
                .count()
        );

        // The SLA scan: open targets due by the warning time without alerts.
        let mut w = store.writer(&CASES, Vec::new()).await.unwrap();
        let until = now + Duration::hours(4);
        let due = w.sla_scan(now, until, 10_000).await.unwrap();
        assert!(!due.is_empty());
        assert!(
            due.iter()
                .all(|d| d.due_at <= until && d.needs_warning && d.needs_breach)
        );
        let alerts: Vec<_> = due
            .iter()
            .map(|d| (d.case_id, d.step.clone(), "warning".to_string()))
            .collect();
        let new = w.insert_sla_alerts(&alerts, now).await.unwrap();
        assert_eq!(new.len(), alerts.len(), "{backend}");
        assert!(w.insert_sla_alerts(&alerts, now).await.unwrap().is_empty());
        // Warned: only the passed targets remain, for their breach.
        let again = w.sla_scan(now, until, 10_000).await.unwrap();
        assert!(
            again
                .iter()
                .all(|d| d.due_at <= now && !d.needs_warning && d.needs_breach)
        );
        let breaches: Vec<_> = again
            .iter()
            .map(|d| (d.case_id, d.step.clone(), "breach".to_string()))
            .collect();
        w.insert_sla_alerts(&breaches, now).await.unwrap();
        assert!(
            w.sla_scan(now, until, 10_000).await.unwrap().is_empty(),
            "{backend}"
        );
        // A case's timeline.
        let key = open[0].key;
        w.insert_case_events(&[
            NewCaseEvent {
                case_id: key,
                at: now - Duration::minutes(1),
                kind: "note".into(),
                from: None,
                to: None,
                note: Some("Soitettu <b>asiakkaalle</b>".into()),
                actor: "sari@example.com".into(),
                user_id: Some(2),
            },
            NewCaseEvent {
                case_id: key,
                at: now,
                kind: "status".into(),
                from: Some("open".into()),
                to: Some("in_progress".into()),
                note: None,
                actor: "sari@example.com".into(),
                user_id: None,
            },
        ])
        .await
        .unwrap();
        w.finish(&RunInfo {
            source: String::new(),
            rows_read: 0,
            rejected: 0,
        })
        .await
        .unwrap();
        let ev = store.case_events(key).await.unwrap();
        assert_eq!(ev.len(), 2, "{backend}");
        assert_eq!(ev[0].note.as_deref(), Some("Soitettu <b>asiakkaalle</b>"));
        assert_eq!(ev[1].to.as_deref(), Some("in_progress"));
        let one = store.case_row(&open[0].id, now).await.unwrap().unwrap();
        assert_eq!(one, open[0]);

        // Attainment over everything: within + late = resolved, open breaching counted.
        let since = now - Duration::days(400);
        let groups = store
            .sla_attainment(&[("all".into(), since)], "now", now)
            .await
            .unwrap();
        let resolved: u64 = groups.iter().map(|g| g.resolved).sum();
        let within: u64 = groups.iter().map(|g| g.within).sum();
        let late: u64 = groups.iter().map(|g| g.late).sum();
        let open_breaching: u64 = groups.iter().map(|g| g.open_breaching).sum();
        assert_eq!(
            resolved,
            all.iter().filter(|r| r.resolved_at.is_some()).count() as u64,
            "{backend}"
        );
        assert_eq!(within + late, resolved);
        assert_eq!(
            late,
            all.iter()
                .filter(|r| r.resolved_at.is_some_and(|t| Some(t) > r.resolution_due_at))
                .count() as u64,
            "{backend}"
        );
        assert_eq!(
            open_breaching,
            all.iter()
                .filter(|r| r.resolved_at.is_none() && r.breached && r.is_open())
                .count() as u64,
            "{backend}"
        );
        assert!(store.has_open_cases().await.unwrap());

        // The open list is read through the (status, due, id) indexes.
        if *backend == "sqlite" {
            let plan = store.cases_page_plan(&query(now)).await.unwrap();
            assert!(plan.contains("cases_status_"), "{plan}");
        }
        store.close().await;
    }
}

#[tokio::test]
#[ignore = "a benchmark: 300,000 cases per backend"]
async fn at_scale() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let store = Store::open(&db.url).await.unwrap();
        let now = Utc::now();
        let t = Instant::now();
        load(&store, 100_000, 300_000, now).await;
        println!(
            "{backend}: loaded 300,000 cases in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let cases = [
            ("open", query(now)),
            (
                "all",
                CaseQuery {
                    status: "all".into(),
                    ..query(now)
                },
            ),
            (
                "breaching",
                CaseQuery {
                    breaching: true,
                    ..query(now)
                },
            ),
            (
                "breaching, all",
                CaseQuery {
                    status: "all".into(),
                    breaching: true,
                    ..query(now)
                },
            ),
            (
                "due soon",
                CaseQuery {
                    due_within_hours: Some(4.0),
                    ..query(now)
                },
            ),
            (
                "mine",
                CaseQuery {
                    mine_email: Some("s3@example.com".into()),
                    ..query(now)
                },
            ),
            (
                "customer",
                CaseQuery {
                    status: "all".into(),
                    customer: Some("c77".into()),
                    ..query(now)
                },
            ),
            (
                "open, customer",
                CaseQuery {
                    customer: Some("c70".into()),
                    ..query(now)
                },
            ),
            (
                "open, owner",
                CaseQuery {
                    owner: Some("s0".into()),
                    ..query(now)
                },
            ),
            (
                "resolved",
                CaseQuery {
                    status: "resolved".into(),
                    ..query(now)
                },
            ),
        ];
        for (name, q) in &cases {
            store.cases_page(q).await.unwrap();
            let t = Instant::now();
            let p = store.cases_page(q).await.unwrap();
            let first = t.elapsed();
            let mut q2 = q.clone();
            q2.after = p.next.clone();
            let t = Instant::now();
            store.cases_page(&q2).await.unwrap();
            println!(
                "{backend}: list {name}: {} rows, first page {:.1} ms, next page {:.1} ms",
                p.rows.len(),
                first.as_secs_f64() * 1000.0,
                t.elapsed().as_secs_f64() * 1000.0
            );
            if std::env::var("PLANS").is_ok() {
                println!("{}", store.cases_page_plan(q).await.unwrap());
            }
        }
        let mut w = store.writer(&CASES, Vec::new()).await.unwrap();
        let t = Instant::now();
        let due = w
            .sla_scan(now, now + Duration::hours(4), 5000)
            .await
            .unwrap();
        println!(
            "{backend}: SLA scan, first run: {} targets in {:.1} ms",
            due.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
        let mut alerts = Vec::new();
        for d in &due {
            alerts.push((d.case_id, d.step.clone(), "warning".to_string()));
            alerts.push((d.case_id, d.step.clone(), "breach".to_string()));
        }
        w.insert_sla_alerts(&alerts, now).await.unwrap();
        let t = Instant::now();
        let due = w
            .sla_scan(now, now + Duration::hours(4), 5000)
            .await
            .unwrap();
        println!(
            "{backend}: SLA scan, next run: {} targets in {:.1} ms",
            due.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
        drop(w);
        let t = Instant::now();
        let months: Vec<(String, DateTime<Utc>)> = (0..12)
            .rev()
            .map(|m| (format!("m{m}"), now - Duration::days(30 * (m + 1))))
            .collect();
        let g = store.sla_attainment(&months, "m0", now).await.unwrap();
        println!(
            "{backend}: attainment: {} groups in {:.1} ms",
            g.len(),
            t.elapsed().as_secs_f64() * 1000.0
        );
        store.close().await;
    }
}

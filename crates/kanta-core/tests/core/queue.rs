//! The daily contact queue through the core, on both backends: an account whose usage
//! was halved four weeks ago, one with a detractor's answer yesterday and one in trust
//! deficit are queued with that reason, a healthy account contacted lately is not, a
//! small customer's quiet weeks are no usage drop, rows come by value at risk, and a
//! contact logged, a snooze and a dismissal each take the row out at once, audited (the
//! contact an interaction on the customer's timeline); a snooze ends on its date.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kanta_core::queue::{ContactInput, OwnerFilter, QueueEntry, QueueFilter};
use kanta_core::{Acting, Channel, Core, CoreError};
use kanta_domain::schema::{
    CUSTOMERS, FEEDBACK, INTERACTIONS, STAFF, SUBSCRIPTIONS, TRUST_LEDGER, USAGE_EVENTS,
};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::audit::AuditEntry;
use kanta_store::jobs::JobStatus;
use kanta_store::scores::{CustomerScore, NewModelRun};

use crate::support::{audit_of, each_core, fields, text};

fn sanna() -> Acting {
    Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui)
}

fn viewer() -> Acting {
    Acting::user(4, "ville@example.fi", Role::Viewer, Channel::Ui)
}

/// The moment `days` days (and some hours) before the end of `as_of`.
fn before(as_of: NaiveDate, days: f64) -> DateTime<Utc> {
    kanta_store::queue::cut_of(as_of) - Duration::minutes((days * 24.0 * 60.0) as i64)
}

/// The store of the tests: staff member Sanna; customers
/// - `u1` (Sanna's): logins 100 a week for 12 weeks, 50 a week for the last 4;
/// - `d1` (Sanna's): a detractor's answer yesterday;
/// - `t1`: a trust deficit of -20;
/// - `h1`: won two years ago, called five days ago (proactive, check-in);
/// - `n1`: won two years ago, never contacted (tier A: the cadence is 30 days);
/// - `s1`: logins 2 a week, then 2 in 4 weeks (a quiet month of a small customer);
///
/// and a model run giving each a 12-month CLV and P(alive) 0.5, all tier A.
async fn setup(core: &Core, as_of: NaiveDate) {
    let cli = Acting::cli();
    let mut s = WriteBatch::new(&STAFF, fields(&STAFF, &["name", "email"]));
    s.push(
        "s1".into(),
        [text("Sanna Virtanen"), text("sanna@example.fi")],
    );
    core.write_batch(&cli, s).await.unwrap();
    let won = Value::Date(as_of - Duration::days(730));
    let mut c = WriteBatch::new(
        &CUSTOMERS,
        fields(&CUSTOMERS, &["name", "owner_id", "acquired_on"]),
    );
    c.push("u1".into(), [text("Usva Oy"), text("s1"), Value::Null]);
    c.push("d1".into(), [text("Dora Oy"), text("s1"), Value::Null]);
    c.push("t1".into(), [text("Tiina Oy"), Value::Null, Value::Null]);
    c.push("h1".into(), [text("Helena Oy"), Value::Null, won.clone()]);
    c.push("n1".into(), [text("Niilo Oy"), Value::Null, won]);
    c.push("s1".into(), [text("Pieni Oy"), Value::Null, Value::Null]);
    core.write_batch(&cli, c).await.unwrap();

    let mut u = WriteBatch::new(
        &USAGE_EVENTS,
        fields(
            &USAGE_EVENTS,
            &["customer_id", "occurred_at", "metric", "value"],
        ),
    );
    for w in 0..16 {
        let at = Value::Time(before(as_of, 7.0 * w as f64 + 3.5));
        let big = if w < 4 { 50.0 } else { 100.0 };
        u.push(
            format!("u1-{w}"),
            [text("u1"), at.clone(), text("logins"), Value::Float(big)],
        );
        if w >= 4 || w == 2 {
            u.push(
                format!("s1-{w}"),
                [text("s1"), at, text("logins"), Value::Float(2.0)],
            );
        }
    }
    core.write_batch(&cli, u).await.unwrap();

    let mut f = WriteBatch::new(
        &FEEDBACK,
        fields(&FEEDBACK, &["customer_id", "answered_at", "nps"]),
    );
    f.push(
        "f1".into(),
        [text("d1"), Value::Time(before(as_of, 1.5)), Value::Int(3)],
    );
    core.write_batch(&cli, f).await.unwrap();

    let mut t = WriteBatch::new(
        &TRUST_LEDGER,
        fields(
            &TRUST_LEDGER,
            &["customer_id", "occurred_at", "delta", "reason"],
        ),
    );
    t.push(
        "m1".into(),
        [
            text("t1"),
            Value::Time(before(as_of, 10.0)),
            Value::Int(-20),
            text("wrong delivery twice"),
        ],
    );
    core.write_batch(&cli, t).await.unwrap();

    let mut i = WriteBatch::new(
        &INTERACTIONS,
        fields(
            &INTERACTIONS,
            &["customer_id", "occurred_at", "kind", "proactive", "purpose"],
        ),
    );
    i.push(
        "i1".into(),
        [
            text("h1"),
            Value::Time(before(as_of, 5.0)),
            text("call"),
            Value::Bool(true),
            text("check_in"),
        ],
    );
    core.write_batch(&cli, i).await.unwrap();

    let store = core.store();
    let keys = store
        .customer_keys(&["u1", "d1", "t1", "h1", "n1", "s1"].map(String::from))
        .await
        .unwrap();
    let clv = |id: &str| match id {
        "t1" => 200_000,
        "u1" => 100_000,
        "d1" => 50_000,
        "n1" => 10,
        _ => 1_000,
    };
    let scores: Vec<CustomerScore> = keys
        .iter()
        .map(|(id, k)| CustomerScore {
            customer_id: *k,
            p_alive: 0.5,
            clv_12_minor: Some(clv(id)),
            tier: 'A',
            ..CustomerScore::default()
        })
        .collect();
    let entry = AuditEntry {
        ..Acting::cli().audit("model_runs", None, "score")
    };
    store
        .save_model_run(
            &NewModelRun {
                model: "bgnbd".into(),
                spend_model: None,
                as_of,
                calibration_end: None,
                first_purchase_on: None,
                currency: Some("EUR".into()),
                details: serde_json::json!({}),
                forecast: Vec::new(),
            },
            &scores,
            &entry,
        )
        .await
        .unwrap();
}

async fn page(core: &Core, acting: &Acting, f: QueueFilter) -> Vec<QueueEntry> {
    core.queue_page(acting, &f).await.expect("queue page").items
}

async fn all(core: &Core) -> Vec<QueueEntry> {
    page(core, &Acting::cli(), QueueFilter::default()).await
}

/// A page's counts of the whole queue against the rows it lists (one page holds
/// the whole queue here), after each kind of write that adds or takes rows: the
/// refresh, an action from the queue, an erasure.
async fn assert_counted(core: &Core, backend: &str, expected: usize) {
    let p = core
        .queue_page(&Acting::cli(), &QueueFilter::default())
        .await
        .expect("queue page");
    assert!(p.next_cursor.is_none(), "{backend}");
    assert_eq!(p.items.len(), expected, "{backend}: {:?}", ids(&p.items));
    let n = expected as i64;
    assert_eq!((p.total, p.queue_total), (n, n), "{backend}");
}

fn ids(q: &[QueueEntry]) -> Vec<&str> {
    q.iter().map(|e| e.customer_id.as_str()).collect()
}

fn keys(q: &[QueueEntry], id: &str) -> Vec<String> {
    q.iter()
        .find(|e| e.customer_id == id)
        .map(|e| e.reasons.iter().map(|r| r.key.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn reasons_order_and_actions() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        setup(&core, as_of).await;
        // Every write of feedback, trust, interactions enqueued a refresh of its customers.
        let jobs = waiting_refreshes(&core).await;
        assert!(!jobs.is_empty(), "{backend}: {jobs:?}");

        let r = core.refresh_queue(&Acting::cli(), as_of).await.unwrap();
        assert_eq!(r.customers, 6, "{backend}");
        let q = all(&core).await;
        // By value at risk: CLV × (1 - P(alive)).
        assert_eq!(ids(&q), ["t1", "u1", "d1", "n1"], "{backend}: {q:#?}");
        assert_eq!(q[0].value_at_risk_minor, 100_000, "{backend}");
        assert_eq!(q[0].currency, "EUR");
        assert!(
            keys(&q, "u1").contains(&"usage_drop".to_string()),
            "{backend}: {q:#?}"
        );
        let drop = q[1].reasons.iter().find(|r| r.key == "usage_drop").unwrap();
        assert_eq!(drop.arg("metric"), "logins");
        assert_eq!(drop.arg("drop_pct"), "50", "{backend}");
        assert!(
            keys(&q, "d1").contains(&"detractor".to_string()),
            "{backend}"
        );
        let det = q.iter().find(|e| e.customer_id == "d1").unwrap();
        assert_eq!(
            det.reasons
                .iter()
                .find(|r| r.key == "detractor")
                .unwrap()
                .arg("nps"),
            "3"
        );
        assert_eq!(keys(&q, "t1"), ["trust_deficit"], "{backend}");
        let bal = &q[0].reasons[0];
        assert_eq!(bal.arg("balance"), "-20");
        assert_eq!(keys(&q, "n1"), ["cadence"], "{backend}");
        assert!(q[3].reasons[0].args["never"].as_bool().unwrap());
        // The healthy one contacted lately, and the small customer's quiet month: not queued.
        assert!(!ids(&q).contains(&"h1"), "{backend}");
        assert!(!ids(&q).contains(&"s1"), "{backend}");

        // Filters: Sanna's own customers, by reason, by tier; paging.
        let mine = page(
            &core,
            &sanna(),
            QueueFilter {
                owner: OwnerFilter::Me,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(ids(&mine), ["u1", "d1"], "{backend}");
        let by = page(
            &core,
            &sanna(),
            QueueFilter {
                reason: Some("cadence".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(ids(&by), ["n1"], "{backend}");
        let b = page(
            &core,
            &sanna(),
            QueueFilter {
                tier: Some("b".into()),
                ..Default::default()
            },
        )
        .await;
        assert!(b.is_empty());
        let p1 = core
            .queue_page(
                &viewer(),
                &QueueFilter {
                    limit: 2,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(ids(&p1.items), ["t1", "u1"]);
        assert_eq!(p1.total, 4);
        let p2 = core
            .queue_page(
                &viewer(),
                &QueueFilter {
                    limit: 2,
                    cursor: p1.next_cursor.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(ids(&p2.items), ["d1", "n1"]);
        assert!(p2.next_cursor.is_none());
        // The counts and the last refresh come with a page, and with one that holds no
        // row (a filter nobody matches) as well.
        assert_eq!((p2.total, p2.queue_total), (4, 4), "{backend}");
        let refreshed = core.store().last_queue_refresh().await.unwrap();
        assert!(refreshed.is_some(), "{backend}");
        assert_eq!(p1.refreshed_at, refreshed, "{backend}");
        let none = core
            .queue_page(
                &viewer(),
                &QueueFilter {
                    tier: Some("b".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(none.items.is_empty(), "{backend}");
        assert_eq!((none.total, none.queue_total), (0, 4), "{backend}");
        assert_eq!(none.refreshed_at, refreshed, "{backend}");
        let bad = core
            .queue_page(
                &viewer(),
                &QueueFilter {
                    reason: Some("vibes".into()),
                    ..Default::default()
                },
            )
            .await;
        assert!(
            matches!(bad, Err(CoreError::Invalid(ref p)) if p[0].field == "reason"),
            "{bad:?}"
        );
        // A viewer reads but does not act.
        let refused = core.queue_dismiss(&viewer(), "t1", "no").await;
        assert!(
            matches!(refused, Err(CoreError::Forbidden(_))),
            "{refused:?}"
        );

        // A call logged from the row: gone at once, an interaction by Sanna on the timeline.
        let done = core
            .queue_contacted(
                &sanna(),
                "u1",
                ContactInput {
                    kind: "call".into(),
                    outcome: Some("positive".into()),
                    note: Some("asked about the logins".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(done.reason_keys, "usage_drop");
        assert!(!ids(&all(&core).await).contains(&"u1"), "{backend}");
        let customer = core.store().get(&CUSTOMERS, "u1").await.unwrap().unwrap();
        let tl = core
            .store()
            .timeline_page(customer.id, None, 20)
            .await
            .unwrap();
        let call = tl
            .events
            .iter()
            .find(|e| e.entity == "interactions")
            .expect("the call on the timeline");
        assert_eq!(call.record.get("staff_id"), &text("s1"));
        assert_eq!(call.record.get("proactive"), &Value::Bool(true));
        assert_eq!(call.record.get("purpose"), &text("check_in"));
        assert_eq!(call.record.get("note"), &text("asked about the logins"));
        let bad = core
            .queue_contacted(
                &sanna(),
                "u1",
                ContactInput {
                    kind: "pigeon".into(),
                    ..Default::default()
                },
            )
            .await;
        assert!(
            matches!(bad, Err(CoreError::Invalid(ref p)) if p[0].field == "kind"),
            "{bad:?}"
        );

        // Snoozed until three days from now, dismissed with a reason (one is required).
        let until = as_of + Duration::days(3);
        core.queue_snooze(&sanna(), "d1", until, None)
            .await
            .unwrap();
        let e = core.queue_dismiss(&sanna(), "t1", "  ").await;
        assert!(
            matches!(e, Err(CoreError::Invalid(ref p)) if p[0].field == "reason"),
            "{e:?}"
        );
        core.queue_dismiss(&sanna(), "t1", "agreed with their CFO")
            .await
            .unwrap();
        let e = core.queue_snooze(&sanna(), "n1", as_of, None).await;
        assert!(
            matches!(e, Err(CoreError::Invalid(ref p)) if p[0].field == "until"),
            "{e:?}"
        );
        assert_eq!(ids(&all(&core).await), ["n1"], "{backend}");
        assert_counted(&core, backend, 1).await;
        for (action, record) in [("contacted", "u1"), ("snoozed", "d1"), ("dismissed", "t1")] {
            let a = audit_of(core.store(), action).await;
            assert_eq!(a.len(), 1, "{backend}: {action}");
            assert_eq!(a[0].entry.record_id.as_deref(), Some(record));
            assert_eq!(a[0].entry.actor_name, "sanna@example.fi");
        }

        // A refresh keeps them out; the snooze ends on its date.
        core.refresh_queue(&Acting::cli(), as_of).await.unwrap();
        assert_eq!(ids(&all(&core).await), ["n1"], "{backend}");
        core.refresh_queue(&Acting::cli(), until).await.unwrap();
        let later = all(&core).await;
        assert!(ids(&later).contains(&"d1"), "{backend}: {later:#?}");
        assert!(!ids(&later).contains(&"t1"), "{backend}");
        assert!(!ids(&later).contains(&"u1"), "{backend}");
        assert_counted(&core, backend, later.len()).await;

        // The customer page's view.
        let cq = core.customer_queue_reasons(&viewer(), "d1").await.unwrap();
        assert!(
            cq.entry
                .is_some_and(|e| e.reasons.iter().any(|r| r.key == "detractor"))
        );
        let cq = core.customer_queue_reasons(&viewer(), "t1").await.unwrap();
        assert!(cq.entry.is_none());
        assert_eq!(cq.last_action.map(|a| a.0), Some("dismissed".to_string()));

        // An erased customer leaves the queue, and its count.
        core.erase_customer(&Acting::cli(), "d1", "asked to be forgotten")
            .await
            .unwrap();
        assert!(!ids(&all(&core).await).contains(&"d1"), "{backend}");
        assert_counted(&core, backend, later.len() - 1).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_of_some_customers_leaves_the_others() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        setup(&core, as_of).await;
        core.refresh_queue(&Acting::cli(), as_of).await.unwrap();
        let before = all(&core).await.len();
        let r = core
            .refresh_queue_for(&Acting::cli(), as_of, &["t1".to_string()])
            .await
            .unwrap();
        assert_eq!((r.customers, r.queued), (1, 1), "{backend}");
        assert_eq!(all(&core).await.len(), before, "{backend}");
        // The job of a write: a new detractor answer from n1 reaches the queue.
        let mut f = WriteBatch::new(
            &FEEDBACK,
            fields(&FEEDBACK, &["customer_id", "answered_at", "nps"]),
        );
        f.push(
            "f2".into(),
            [text("n1"), Value::Time(before_now()), Value::Int(2)],
        );
        core.write_batch(&Acting::cli(), f).await.unwrap();
        let job = waiting_refreshes(&core)
            .await
            .into_iter()
            .next()
            .expect("a refresh job");
        refresh_done(&core, &job, backend).await;
        assert!(
            keys(&all(&core).await, "n1").contains(&"detractor".to_string()),
            "{backend}"
        );
    })
    .await;
}

/// The waiting `queue.refresh` jobs, newest first.
async fn waiting_refreshes(core: &Core) -> Vec<kanta_store::jobs::Job> {
    let jobs = core
        .store()
        .jobs(Some(JobStatus::Queued), 100)
        .await
        .unwrap();
    jobs.into_iter()
        .filter(|j| j.kind == "queue.refresh")
        .collect()
}

/// Runs a `queue.refresh` job, which must end done.
async fn refresh_done(core: &Core, job: &kanta_store::jobs::Job, backend: &str) {
    match kanta_core::queue::run_refresh_job(core, job).await {
        kanta_core::jobs::Outcome::Done => {}
        other => panic!("{backend}: {other:?}"),
    }
}

/// The customers waiting in `queue_pending` (internal ids, sorted, each once).
async fn marked(core: &Core) -> Vec<i64> {
    let marks = core.store().queue_pending_marks().await.unwrap();
    let mut ids: Vec<i64> = marks.iter().map(|m| m.customer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Writes in quick succession mark their customers and share one waiting refresh
/// job, which waits its window; once a worker has taken it, the next write starts a
/// new one. The job recomputes every customer marked when it runs and clears their
/// marks.
#[tokio::test(flavor = "multi_thread")]
async fn writes_in_quick_succession_share_one_refresh_job() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        setup(&core, as_of).await;
        let keys = core
            .store()
            .customer_keys(&["d1", "t1", "h1", "n1"].map(String::from))
            .await
            .unwrap();
        let key = |id: &str| keys.iter().find(|(k, _)| k == id).unwrap().1;
        // The answer (d1), the trust entry (t1) and the call (h1): three writes, one job.
        let jobs = waiting_refreshes(&core).await;
        assert_eq!(jobs.len(), 1, "{backend}: {jobs:?}");
        assert_eq!(jobs[0].payload, serde_json::json!({"pending": true}));
        let mut want = vec![key("d1"), key("t1"), key("h1")];
        want.sort_unstable();
        assert_eq!(marked(&core).await, want, "{backend}");
        let window = kanta_core::queue::REFRESH_WINDOW;
        assert!(
            // (the store stamps created_at a moment after the core's clock read)
            jobs[0].run_at - jobs[0].created_at >= window - Duration::milliseconds(500),
            "{backend}: it waits its window: {:?}",
            jobs[0]
        );
        // One more write marks its customer and joins it.
        let answer = |id: &'static str, customer: &'static str| {
            let mut f = WriteBatch::new(
                &FEEDBACK,
                fields(&FEEDBACK, &["customer_id", "answered_at", "nps"]),
            );
            f.push(
                id.into(),
                [text(customer), Value::Time(before_now()), Value::Int(2)],
            );
            f
        };
        core.write_batch(&Acting::cli(), answer("f2", "n1"))
            .await
            .unwrap();
        let jobs = waiting_refreshes(&core).await;
        assert_eq!(jobs.len(), 1, "{backend}: {jobs:?}");
        want.push(key("n1"));
        want.sort_unstable();
        assert_eq!(marked(&core).await, want, "{backend}");
        // A worker takes it: the next write enqueues a new one.
        let taken = core
            .store()
            .claim_job(
                "test-worker",
                &["queue.refresh"],
                std::time::Duration::from_secs(60),
                Utc::now() + window,
            )
            .await
            .unwrap()
            .expect("the refresh job is due after its window");
        assert_eq!(taken.id, jobs[0].id);
        let before = core.store().queue_pending_marks().await.unwrap();
        core.write_batch(&Acting::cli(), answer("f3", "d1"))
            .await
            .unwrap();
        let jobs = waiting_refreshes(&core).await;
        assert_eq!(jobs.len(), 1, "{backend}: {jobs:?}");
        assert_ne!(jobs[0].id, taken.id);
        let after = core.store().queue_pending_marks().await.unwrap();
        assert_eq!(after[..before.len()], before[..], "{backend}");
        let new = &after[before.len()..];
        assert_eq!(new.len(), 1, "{backend}: {after:?}");
        assert_eq!(new[0].customer_id, key("d1"), "{backend}: marked again");
        assert!(before.iter().all(|m| m.mark < new[0].mark), "{backend}");
        // The taken job, run, queues everyone marked and clears the marks.
        refresh_done(&core, &taken, backend).await;
        let q = all(&core).await;
        for id in ["d1", "t1", "n1"] {
            assert!(
                q.iter().any(|e| e.customer_id == id),
                "{backend}: {id} in {q:#?}"
            );
        }
        assert_eq!(marked(&core).await, Vec::<i64>::new(), "{backend}");
        // The job waiting finds nothing left and writes nothing.
        let done = refreshes(&core).await.len();
        refresh_done(&core, &jobs[0], backend).await;
        assert_eq!(refreshes(&core).await.len(), done, "{backend}");
    })
    .await;
}

/// A customer marked again after a refresh read the marks (a write that came in
/// while the job read the customer's facts) keeps the newer mark when the job
/// clears what it read.
#[tokio::test(flavor = "multi_thread")]
async fn a_customer_marked_during_a_refresh_stays_marked_for_the_next() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        setup(&core, as_of).await;
        let read = core.store().queue_pending_marks().await.unwrap();
        assert!(read.len() >= 3, "{backend}: {read:?}");
        let h1 = core
            .store()
            .customer_keys(&["h1".to_string()])
            .await
            .unwrap()[0]
            .1;
        // A worker takes the waiting job; then a call to h1 comes in.
        let taken = core
            .store()
            .claim_job(
                "test-worker",
                &["queue.refresh"],
                std::time::Duration::from_secs(60),
                Utc::now() + kanta_core::queue::REFRESH_WINDOW,
            )
            .await
            .unwrap()
            .expect("a refresh job");
        let mut call = WriteBatch::new(
            &INTERACTIONS,
            fields(&INTERACTIONS, &["customer_id", "occurred_at", "kind"]),
        );
        call.push(
            "call-again".into(),
            [text("h1"), Value::Time(before_now()), text("call")],
        );
        core.write_batch(&Acting::cli(), call).await.unwrap();
        // The marks read before the call are cleared; h1's newer one is not.
        let mut w = core.store().writer(&CUSTOMERS, vec![]).await.unwrap();
        assert!(w.clear_queue_pending(&read).await.unwrap(), "{backend}");
        w.finish(&kanta_store::write::RunInfo::default())
            .await
            .unwrap();
        assert_eq!(marked(&core).await, [h1], "{backend}");
        // And the job run with the newer mark clears it.
        refresh_done(&core, &taken, backend).await;
        assert_eq!(marked(&core).await, Vec::<i64>::new(), "{backend}");
    })
    .await;
}

fn before_now() -> DateTime<Utc> {
    Utc::now() - Duration::hours(2)
}

/// `r1` pays monthly and renews in 10 days; `r2` pays yearly and renews in 30 days.
/// Neither has another reason (both were made today, without scores).
async fn renewals(core: &Core, as_of: NaiveDate) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    c.push("r1".into(), [text("Kuukausi Oy")]);
    c.push("r2".into(), [text("Vuosi Oy")]);
    core.write_batch(&cli, c).await.unwrap();
    let mut s = WriteBatch::new(
        &SUBSCRIPTIONS,
        fields(
            &SUBSCRIPTIONS,
            &[
                "customer_id",
                "plan",
                "amount",
                "currency",
                "period",
                "started_on",
                "renews_on",
            ],
        ),
    );
    s.push(
        "sub-r1".into(),
        [
            text("r1"),
            text("Pro"),
            Value::Int(9_900),
            text("EUR"),
            text("month"),
            Value::Date(as_of - Duration::days(20)),
            Value::Date(as_of + Duration::days(10)),
        ],
    );
    s.push(
        "sub-r2".into(),
        [
            text("r2"),
            text("Pro"),
            Value::Int(99_000),
            text("EUR"),
            text("year"),
            Value::Date(as_of - Duration::days(335)),
            Value::Date(as_of + Duration::days(30)),
        ],
    );
    core.write_batch(&cli, s).await.unwrap();
}

/// The queue refreshes' audit details, oldest first.
async fn refreshes(core: &Core) -> Vec<serde_json::Value> {
    audit_of(core.store(), "refresh")
        .await
        .into_iter()
        .filter(|r| r.entry.entity == "contact_queue")
        .map(|r| r.entry.details)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contract_renewal_is_a_reason_a_monthly_one_is_not() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        renewals(&core, as_of).await;
        core.refresh_queue(&Acting::cli(), as_of).await.unwrap();
        let q = all(&core).await;
        assert!(!ids(&q).contains(&"r1"), "{backend}: {q:#?}");
        assert_eq!(keys(&q, "r2"), ["renewal"], "{backend}: {q:#?}");
        let r = &q.iter().find(|e| e.customer_id == "r2").unwrap().reasons[0];
        assert_eq!(r.arg("days"), "30", "{backend}");
        let renews = (as_of + Duration::days(30)).format("%Y-%m-%d").to_string();
        assert_eq!(r.arg("renews_on"), renews, "{backend}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_writes_only_what_changed() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        setup(&core, as_of).await;
        renewals(&core, as_of).await;
        let first = core.refresh_queue(&Acting::cli(), as_of).await.unwrap();
        let q1 = all(&core).await;
        assert_eq!(ids(&q1), ["t1", "u1", "d1", "n1", "r2"], "{backend}");
        assert_eq!(first.queued, 5, "{backend}");

        // The same facts again: the same rows, none written (the rows' times stay).
        let again = core.refresh_queue(&Acting::cli(), as_of).await.unwrap();
        assert_eq!(again.queued, 5, "{backend}");
        let q2 = all(&core).await;
        assert_eq!(q1, q2, "{backend}");
        let a = refreshes(&core).await;
        let last = a.last().unwrap();
        assert_eq!(
            (
                last["queued"].as_i64(),
                last["changed"].as_i64(),
                last["removed"].as_i64()
            ),
            (Some(5), Some(0), Some(0)),
            "{backend}: {a:#?}"
        );

        // A day later r2's renewal is a day nearer, d1's answer a day older and n1 a
        // day more overdue: those three rows are rewritten, t1's and u1's are not.
        let next = as_of + Duration::days(1);
        core.refresh_queue(&Acting::cli(), next).await.unwrap();
        let q3 = all(&core).await;
        let a = refreshes(&core).await;
        assert_eq!(
            a.last().unwrap()["changed"].as_i64(),
            Some(3),
            "{backend}: {a:#?}"
        );
        let at = |q: &[QueueEntry], id: &str| {
            q.iter().find(|e| e.customer_id == id).unwrap().computed_at
        };
        for id in ["t1", "u1"] {
            assert_eq!(at(&q3, id), at(&q1, id), "{backend}: {id}");
        }
        for id in ["d1", "n1", "r2"] {
            assert!(at(&q3, id) > at(&q1, id), "{backend}: {id}");
        }
        let r2 = q3.iter().find(|e| e.customer_id == "r2").unwrap();
        assert_eq!(r2.reasons[0].arg("days"), "29", "{backend}");

        // Renewals within 20 days only: r2 leaves the queue, deleted; no other row moves.
        core.set_store_setting(
            &Acting::user(1, "admin@example.fi", Role::Admin, Channel::Ui),
            "renewal_days",
            "20",
        )
        .await
        .unwrap();
        core.refresh_queue(&Acting::cli(), next).await.unwrap();
        let q4 = all(&core).await;
        assert_eq!(ids(&q4), ["t1", "u1", "d1", "n1"], "{backend}");
        let a = refreshes(&core).await;
        let last = a.last().unwrap();
        assert_eq!(
            (
                last["queued"].as_i64(),
                last["changed"].as_i64(),
                last["removed"].as_i64()
            ),
            (Some(4), Some(0), Some(1)),
            "{backend}: {a:#?}"
        );
    })
    .await;
}

/// A detractor's reason carries what the customer wrote: "what should we do better?",
/// else the comment, else "what did we do well?", on one line and at most 80
/// characters cut after a word; a CSAT answer is the reason when there was no NPS.
#[tokio::test(flavor = "multi_thread")]
async fn a_detractor_reason_quotes_what_the_customer_wrote() {
    each_core(|backend, core| async move {
        let as_of = core.today().await.unwrap();
        let cli = Acting::cli();
        let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
        for id in ["q1", "q2", "q3", "q4"] {
            c.push(id.into(), [text(id)]);
        }
        core.write_batch(&cli, c).await.unwrap();
        let mut f = WriteBatch::new(
            &FEEDBACK,
            fields(
                &FEEDBACK,
                &[
                    "customer_id",
                    "answered_at",
                    "nps",
                    "csat",
                    "did_well",
                    "do_better",
                    "comment",
                ],
            ),
        );
        let at = Value::Time(before(as_of, 1.5));
        let long = "Jono   oli\npitkä ja kahvi oli kylmää, eikä kukaan pahoitellut mitään vaikka \
                    odotin kaksikymmentä minuuttia tiskillä";
        f.push(
            "qa1".into(),
            [
                text("q1"),
                at.clone(),
                Value::Int(2),
                Value::Null,
                text("Leipä oli hyvää"),
                text(long),
                text("kommentti"),
            ],
        );
        f.push(
            "qa2".into(),
            [
                text("q2"),
                at.clone(),
                Value::Null,
                Value::Int(1),
                Value::Null,
                text("   "),
                text("<script>alert(1)</script>"),
            ],
        );
        f.push(
            "qa3".into(),
            [
                text("q3"),
                at.clone(),
                Value::Int(0),
                Value::Null,
                text("Vain tämä"),
                Value::Null,
                Value::Null,
            ],
        );
        f.push(
            "qa4".into(),
            [
                text("q4"),
                at,
                Value::Int(1),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        );
        core.write_batch(&cli, f).await.unwrap();
        core.refresh_queue(&cli, as_of).await.unwrap();
        let q = all(&core).await;
        let det = |id: &str| {
            q.iter()
                .find(|e| e.customer_id == id)
                .and_then(|e| e.reasons.iter().find(|r| r.key == "detractor"))
                .cloned()
                .unwrap_or_else(|| panic!("{backend}: no detractor reason of {id}: {q:#?}"))
        };
        let d1 = det("q1");
        assert_eq!(d1.arg("nps"), "2", "{backend}");
        let t = d1.arg("text");
        assert_eq!(
            t, "Jono oli pitkä ja kahvi oli kylmää, eikä kukaan pahoitellut mitään vaikka…",
            "{backend}"
        );
        assert!(t.chars().count() <= 80, "{backend}: {t}");
        let d2 = det("q2");
        assert_eq!(d2.arg("nps"), "", "{backend}");
        assert_eq!(d2.arg("csat"), "1", "{backend}");
        assert_eq!(d2.arg("text"), "<script>alert(1)</script>", "{backend}");
        assert_eq!(det("q3").arg("text"), "Vain tämä", "{backend}");
        assert!(!det("q4").args.contains_key("text"), "{backend}");
        // The digest's sentences quote it.
        assert_eq!(
            kanta_core::queue_words::reason_sentence(
                "detractor",
                &serde_json::Value::Object(det("q3").args),
                kanta_core::mail::Lang::Fi
            ),
            "arvosteli suositteluhalukkuuden 0/10 eikä ole kuultu sen jälkeen: ”Vain tämä”"
        );
    })
    .await;
}

#[test]
fn answer_words_cut_after_a_word() {
    use kanta_core::queue::answer_words;
    assert_eq!(answer_words("  lyhyt\n teksti "), "lyhyt teksti");
    let s = "a".repeat(100);
    let cut = answer_words(&s);
    assert_eq!(cut.chars().count(), 80);
    assert!(cut.ends_with('…'));
    let words = "sana ".repeat(30);
    let cut = answer_words(&words);
    assert!(cut.chars().count() <= 80, "{cut}");
    assert!(cut.ends_with("sana…"), "{cut}");
    assert_eq!(answer_words(&"x".repeat(80)), "x".repeat(80));
}

//! Subscriptions' figures as the days pass: the daily `subscriptions.refresh` job
//! recomputes every subscriber's MRR, revenue billed and next renewal through the write
//! path, as a job, with one audit entry; the figures count the subscription in the
//! customer's revenue (billed periods).

use chrono::{NaiveDate, Utc};
use kanta_core::jobs::{
    JobSettings, SUBSCRIPTIONS_REFRESH, Services, schedule_recurring, work_once,
};
use kanta_core::{Acting, Core};
use kanta_domain::schema::{CUSTOMERS, SUBSCRIPTIONS, TRANSACTIONS};
use kanta_domain::{Value, WriteBatch};
use kanta_store::jobs::JobStatus;

use crate::support::{audit_of, each_core, fields, text, time};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn seed(core: &Core) {
    let cli = Acting::cli();
    let mut c = WriteBatch::new(&CUSTOMERS, fields(&CUSTOMERS, &["name"]));
    c.push("a".into(), [text("Asiakas Oy")]);
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
            ],
        ),
    );
    // Quarterly from 30.11.2024: billed 30.11., 28.2.2025, 30.5.2025, ...
    s.push(
        "s1".into(),
        [
            text("a"),
            text("Pro"),
            Value::Int(30_000),
            text("EUR"),
            text("quarter"),
            Value::Date(d(2024, 11, 30)),
        ],
    );
    core.write_batch(&cli, s).await.unwrap();
    let mut t = WriteBatch::new(
        &TRANSACTIONS,
        fields(
            &TRANSACTIONS,
            &["customer_id", "occurred_at", "amount", "currency"],
        ),
    );
    t.push(
        "o1".into(),
        [text("a"), time(2025, 1, 10), Value::Int(5_000), text("EUR")],
    );
    core.write_batch(&cli, t).await.unwrap();
}

#[tokio::test]
async fn the_refresh_recomputes_subscription_figures_as_a_job_with_one_audit_entry() {
    each_core(|backend, core| async move {
        seed(&core).await;
        let job = Acting::job(SUBSCRIPTIONS_REFRESH);
        let changed = core
            .refresh_subscriptions(&job, d(2025, 3, 1))
            .await
            .unwrap();
        assert_eq!(changed, 1, "{backend}");
        let (_, f) = core.customer_with_figures("a").await.unwrap().unwrap();
        assert_eq!(
            f.subscription_revenue_minor, 60_000,
            "{backend}: two quarters"
        );
        assert_eq!(f.order_revenue_minor, 5_000);
        assert_eq!(f.revenue_minor, 65_000, "revenue counts the billed periods");
        assert_eq!(f.mrr_minor, 10_000);
        assert_eq!(f.next_renewal_on, Some(d(2025, 5, 30)));
        assert_eq!(f.plan.as_deref(), Some("Pro"));
        let entries = audit_of(core.store(), "refresh").await;
        assert_eq!(entries.len(), 1, "{backend}: {entries:?}");
        let e = &entries[0].entry;
        assert_eq!((e.actor_kind.as_str(), e.channel.as_str()), ("job", "job"));
        assert_eq!(e.entity, "subscriptions");
        assert_eq!(e.details["as_of"], "2025-03-01");
        assert_eq!(e.details["customers_changed"], 1);

        // The daily job: scheduled once a day, run by a worker, as of today.
        let s = Services {
            core: core.clone(),
            settings: JobSettings {
                score_every: None,
                ..JobSettings::default()
            },
            mailer: None,
        };
        schedule_recurring(&s, Utc::now()).await.unwrap();
        schedule_recurring(&s, Utc::now()).await.unwrap();
        let jobs: Vec<_> = core
            .store()
            .jobs(None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == SUBSCRIPTIONS_REFRESH)
            .collect();
        assert_eq!(jobs.len(), 1, "{backend}: once a day");
        assert!(work_once(&s, "w").await.unwrap());
        let job = core
            .store()
            .jobs(None, 100)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.kind == SUBSCRIPTIONS_REFRESH)
            .unwrap();
        assert_eq!(job.status, JobStatus::Done, "{backend}: {job:?}");
        let (_, f) = core.customer_with_figures("a").await.unwrap().unwrap();
        let today = Utc::now().date_naive();
        let want = kanta_domain::subscription::figures(
            &[kanta_domain::subscription::Subscription {
                plan: "Pro".into(),
                amount_minor: 30_000,
                period: kanta_domain::subscription::Period::Quarter,
                started_on: d(2024, 11, 30),
                ended_on: None,
                renews_on: None,
            }],
            today,
        );
        assert_eq!(
            f.subscription_revenue_minor, want.revenue_minor,
            "{backend}"
        );
        assert_eq!(f.next_renewal_on, want.next_renewal_on);
        // Two subscription refreshes (the health and queue jobs audit their own).
        let refreshes = audit_of(core.store(), "refresh").await;
        let subscriptions = refreshes
            .iter()
            .filter(|r| r.entry.entity == "subscriptions")
            .count();
        assert_eq!(subscriptions, 2, "{refreshes:?}");
    })
    .await;
}

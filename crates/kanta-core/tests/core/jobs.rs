//! Background jobs with real workers, a real database and a real SMTP server:
//! recurring jobs scheduled once per period, every message sent exactly once by
//! several instances, a dead worker's job taken over after its lease, transient mail
//! failures retried with backoff and permanent ones failed, and the score job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use kanta_core::jobs::{
    JobSettings, KINDS, MAIL_SEND, SCORE, Services, Workers, run_now, schedule_recurring, work_once,
};
use kanta_core::mail::{Mailer, Message, SmtpMailer};
use kanta_core::{Acting, Core};
use kanta_domain::schema::TRANSACTIONS;
use kanta_domain::{Value, WriteBatch};
use kanta_store::Store;
use kanta_store::jobs::{Job, JobStatus};
use kanta_store::outbox::Mail;
use kanta_store::testing::TestDb;

use crate::smtp::{SmtpServer, parse};
use crate::support::{each_backend, eventually, fields, text};

fn settings() -> JobSettings {
    JobSettings {
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        retry_base: Duration::from_secs(1),
        score_every: None,
        ..JobSettings::default()
    }
}

fn mailer(server: &SmtpServer) -> Arc<dyn Mailer> {
    Arc::new(
        SmtpMailer::from_url(
            &server.url(),
            "Kanta <kanta@example.fi>",
            Duration::from_secs(10),
        )
        .unwrap(),
    )
}

fn services(store: Store, mailer: Option<Arc<dyn Mailer>>) -> Services {
    Services {
        core: Core::new(store),
        settings: settings(),
        mailer,
    }
}

fn message(n: usize) -> Message {
    Message {
        to: format!("asiakas{n}@example.fi"),
        subject: format!("Viesti {n}"),
        text: format!("Hei, tämä on viesti {n}."),
        html: None,
    }
}

/// Queues message `n` as the command line; its outbox id.
async fn queue(s: &Services, n: usize) -> i64 {
    s.core
        .queue_mail(&Acting::cli(), &format!("message-{n}"), &message(n))
        .await
        .unwrap()
        .expect("a new message")
}

async fn mail_job(store: &Store, mail_id: i64) -> Job {
    store
        .job_by_key(MAIL_SEND, &format!("mail-{mail_id}"))
        .await
        .unwrap()
        .expect("the message's job")
}

async fn mail(store: &Store, id: i64) -> Mail {
    store.mail(id).await.unwrap().expect("the message")
}

/// How many received messages have each subject.
fn subjects(server: &SmtpServer) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in server.received() {
        *out.entry(parse(&r.data).subject()).or_default() += 1;
    }
    out
}

fn arrived(server: &SmtpServer, n: usize) -> usize {
    subjects(server)
        .get(&format!("Viesti {n}"))
        .copied()
        .unwrap_or(0)
}

async fn jobs_of(store: &Store, kind: &str) -> Vec<Job> {
    let all = store.jobs(None, 1000).await.unwrap();
    all.into_iter().filter(|j| j.kind == kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_jobs_are_enqueued_once_per_period() {
    each_backend(|backend, store| async move {
        let daily = |store: Store| Services {
            settings: JobSettings {
                score_every: Some(Duration::from_secs(24 * 3600)),
                ..settings()
            },
            ..services(store, None)
        };
        let a = daily(store.clone());
        let b = daily(Store::open(store.url()).await.unwrap());
        let now = Utc::now();
        schedule_recurring(&a, now).await.unwrap();
        schedule_recurring(&a, now).await.unwrap();
        // Two instances at the same moment, several times over.
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                schedule_recurring(&s, now + Span::seconds(i)).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let jobs = jobs_of(&store, SCORE).await;
        // Eight seconds on may cross into the next day's period: then that period's.
        let periods: std::collections::HashSet<i64> = (0..8)
            .map(|i| (now + Span::seconds(i)).timestamp().div_euclid(24 * 3600))
            .collect();
        assert_eq!(jobs.len(), periods.len(), "{backend}: {jobs:?}");
        let period = now.timestamp().div_euclid(24 * 3600);
        let key = format!("86400s:{period}");
        let job = store.job_by_key(SCORE, &key).await.unwrap().expect(&key);
        assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0));
        assert!(job.run_at <= Utc::now());

        // The next period gets its own job.
        schedule_recurring(&b, now + Span::days(1)).await.unwrap();
        assert_eq!(
            jobs_of(&store, SCORE).await.len(),
            periods.len().max(2),
            "{backend}"
        );
        // No scoring interval: nothing is scheduled.
        let never = services(store.clone(), None);
        schedule_recurring(&never, now + Span::days(5))
            .await
            .unwrap();
        assert_eq!(jobs_of(&store, SCORE).await.len(), periods.len().max(2));
        b.core.store().close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_every_message_exactly_once() {
    const MESSAGES: usize = 200;
    let db = TestDb::new("postgres");
    let server = SmtpServer::start().await;
    let store_a = Store::open(&db.url).await.unwrap();
    let store_b = Store::open(&db.url).await.unwrap();
    let a = services(store_a.clone(), Some(mailer(&server)));
    let b = services(store_b.clone(), Some(mailer(&server)));
    let workers_a = Workers::start(a.clone(), 2);
    let workers_b = Workers::start(b.clone(), 2);
    // Queued while the workers run, half through each instance.
    for n in 0..MESSAGES {
        queue(if n % 2 == 0 { &a } else { &b }, n).await;
    }
    eventually(Duration::from_secs(90), "every mail job done", || {
        let store = store_a.clone();
        async move {
            let jobs = crate::support::mail_jobs(&store).await;
            (jobs.len() == MESSAGES && jobs.iter().all(|j| j.status == JobStatus::Done))
                .then_some(())
        }
    })
    .await;
    workers_a.stop().await;
    workers_b.stop().await;

    let received = subjects(&server);
    assert_eq!(server.received().len(), MESSAGES, "sent once each");
    for n in 0..MESSAGES {
        assert_eq!(
            received.get(&format!("Viesti {n}")),
            Some(&1),
            "message {n}"
        );
    }
    for r in server.received() {
        let n: usize = parse(&r.data)
            .subject()
            .trim_start_matches("Viesti ")
            .parse()
            .unwrap();
        assert_eq!(r.to, [format!("asiakas{n}@example.fi")]);
    }
    let jobs = crate::support::mail_jobs(&store_a).await;
    assert_eq!(jobs.len(), MESSAGES);
    for j in &jobs {
        assert_eq!(
            (j.kind.as_str(), j.status, j.attempts),
            (MAIL_SEND, JobStatus::Done, 1),
            "no job ran twice: {j:?}"
        );
        assert!(j.locked_by.is_none() && j.finished_at.is_some());
    }
    let outbox = store_b.outbox(1000).await.unwrap();
    assert_eq!(outbox.len(), MESSAGES);
    for m in &outbox {
        assert_eq!((m.status.as_str(), m.attempts), ("sent", 1), "{m:?}");
        assert!(m.sent_at.is_some() && m.last_error.is_none());
    }
    store_a.close().await;
    store_b.close().await;
}

#[tokio::test]
async fn a_dead_workers_job_is_taken_over_when_its_lease_ends() {
    each_backend(|backend, store| async move {
        let server = SmtpServer::start().await;
        let s = services(store.clone(), Some(mailer(&server)));
        let id = queue(&s, 1).await;
        let claimed_at = Utc::now();
        let lease = Duration::from_secs(1);
        let job = store
            .claim_job("dead-worker", &KINDS, lease, claimed_at)
            .await
            .unwrap()
            .expect("the mail's job");
        assert_eq!(job.id, mail_job(&store, id).await.id);
        assert_eq!(
            (job.attempts, job.locked_by.as_deref()),
            (1, Some("dead-worker"))
        );
        // The dead worker never completes it. While its lease lasts, nobody takes it.
        assert!(!work_once(&s, "survivor").await.unwrap(), "{backend}");
        let taken_at = eventually(Duration::from_secs(10), "the job taken over", || {
            let s = s.clone();
            async move { work_once(&s, "survivor").await.unwrap().then(Utc::now) }
        })
        .await;
        assert!(
            taken_at >= claimed_at + Span::from_std(lease).unwrap(),
            "{backend}: taken at {taken_at}, the lease ran from {claimed_at}"
        );
        let job = store.job(job.id).await.unwrap().unwrap();
        assert_eq!(
            (job.status, job.attempts, job.locked_by.as_deref()),
            (JobStatus::Done, 2, None),
            "{backend}"
        );
        assert_eq!(arrived(&server, 1), 1, "{backend}");
        assert_eq!(mail(&store, id).await.status, "sent");
        // The dead worker, back, can neither complete nor fail it.
        assert!(!store.complete_job(job.id, "dead-worker").await.unwrap());
        assert!(
            !store
                .fail_job(job.id, "dead-worker", "late", None)
                .await
                .unwrap()
        );
        assert_eq!(
            store.job(job.id).await.unwrap().unwrap().status,
            JobStatus::Done
        );
        assert!(!work_once(&s, "survivor").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_deferred_message_is_retried_with_backoff_and_a_refused_one_fails() {
    each_backend(|backend, store| async move {
        let server = SmtpServer::start().await;
        let s = services(store.clone(), Some(mailer(&server)));
        server.answer_mail_from(Some(451));
        let id = queue(&s, 1).await;
        let before = Utc::now();
        assert!(work_once(&s, "w1").await.unwrap());
        let after = Utc::now();
        let job = mail_job(&store, id).await;
        assert_eq!(
            (job.status, job.attempts, job.locked_by.as_deref()),
            (JobStatus::Queued, 1, None),
            "{backend}: {job:?}"
        );
        assert!(
            job.run_at > before + Span::milliseconds(990) && job.run_at <= after + Span::seconds(1),
            "{backend}: retried after retry_base: {job:?}"
        );
        assert!(
            job.last_error.as_deref().unwrap_or("").contains("451"),
            "{job:?}"
        );
        let m = mail(&store, id).await;
        assert_eq!((m.status.as_str(), m.attempts), ("queued", 1), "{backend}");
        assert!(
            m.last_error.as_deref().unwrap_or("").contains("451"),
            "{m:?}"
        );
        assert!(server.received().is_empty());
        // Not before its time.
        assert!(!work_once(&s, "w1").await.unwrap(), "{backend}");

        server.answer_mail_from(None);
        let sent_at = eventually(Duration::from_secs(10), "the retry", || {
            let s = s.clone();
            async move { work_once(&s, "w2").await.unwrap().then(Utc::now) }
        })
        .await;
        assert!(sent_at >= job.run_at);
        let job = mail_job(&store, id).await;
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Done, 2),
            "{backend}"
        );
        let m = mail(&store, id).await;
        assert_eq!((m.status.as_str(), m.attempts), ("sent", 2), "{backend}");
        assert_eq!(arrived(&server, 1), 1);
        assert_eq!(server.received().len(), 1);

        // A refusal is final: the job and the message fail, nothing is retried.
        server.answer_mail_from(Some(550));
        let id = queue(&s, 2).await;
        assert!(work_once(&s, "w1").await.unwrap());
        let job = mail_job(&store, id).await;
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Failed, 1),
            "{backend}"
        );
        assert!(job.finished_at.is_some());
        assert!(
            job.last_error.as_deref().unwrap_or("").contains("550"),
            "{job:?}"
        );
        let m = mail(&store, id).await;
        assert_eq!((m.status.as_str(), m.attempts), ("failed", 1), "{backend}");
        assert!(
            m.last_error.as_deref().unwrap_or("").contains("550"),
            "{m:?}"
        );
        assert_eq!(arrived(&server, 2), 0);
        assert!(!work_once(&s, "w1").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_retried_ever_later() {
    each_backend(|backend, store| async move {
        let mut server = SmtpServer::start().await;
        let s = services(store.clone(), Some(mailer(&server)));
        server.stop().await;
        let id = queue(&s, 1).await;
        assert!(work_once(&s, "w").await.unwrap());
        let first = mail_job(&store, id).await;
        assert_eq!(
            (first.status, first.attempts),
            (JobStatus::Queued, 1),
            "{backend}"
        );
        let error = first.last_error.clone().unwrap_or_default();
        assert!(error.contains("could not talk"), "{backend}: {error}");
        assert_eq!(
            mail(&store, id).await.last_error.as_deref(),
            Some(error.as_str())
        );

        // The second failure waits twice as long.
        eventually(Duration::from_secs(10), "the first retry", || {
            let s = s.clone();
            async move { work_once(&s, "w").await.unwrap().then_some(()) }
        })
        .await;
        let failed_at = Utc::now();
        let second = mail_job(&store, id).await;
        assert_eq!(
            (second.status, second.attempts),
            (JobStatus::Queued, 2),
            "{backend}"
        );
        let wait = second.run_at - first.run_at;
        assert!(
            wait >= Span::milliseconds(2000) && second.run_at <= failed_at + Span::seconds(2),
            "{backend}: {first:?} then {second:?}"
        );
        assert_eq!(mail(&store, id).await.attempts, 2);

        server.restart().await;
        eventually(Duration::from_secs(10), "the second retry", || {
            let s = s.clone();
            async move { work_once(&s, "w").await.unwrap().then_some(()) }
        })
        .await;
        let job = mail_job(&store, id).await;
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Done, 3),
            "{backend}"
        );
        assert_eq!(arrived(&server, 1), 1);
        assert_eq!(mail(&store, id).await.status, "sent");
    })
    .await;
}

#[tokio::test]
async fn with_mail_off_the_job_waits_and_says_why() {
    each_backend(|backend, store| async move {
        let s = services(store.clone(), None);
        let id = queue(&s, 1).await;
        let before = Utc::now();
        assert!(work_once(&s, "w").await.unwrap());
        let job = mail_job(&store, id).await;
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Queued, 1),
            "{backend}"
        );
        assert!(job.run_at > before, "{job:?}");
        assert!(
            job.last_error
                .as_deref()
                .unwrap_or("")
                .contains("mail is off"),
            "{job:?}"
        );
        let m = mail(&store, id).await;
        assert_eq!((m.status.as_str(), m.attempts), ("queued", 1), "{backend}");
        assert!(
            m.last_error
                .as_deref()
                .unwrap_or("")
                .contains("mail is off"),
            "{m:?}"
        );
        assert!(!work_once(&s, "w").await.unwrap(), "not before its retry");

        // Once mail is on, the waiting message goes.
        let server = SmtpServer::start().await;
        let on = Services {
            mailer: Some(mailer(&server)),
            ..s.clone()
        };
        // `kanta mail test` does not wait for the retry: run_now takes it at once.
        let ended = run_now(&on, job.id, "cli").await.unwrap().expect("queued");
        assert_eq!(
            (ended.status, ended.attempts),
            (JobStatus::Done, 2),
            "{backend}"
        );
        assert_eq!(arrived(&server, 1), 1, "{backend}");
        assert_eq!(mail(&store, id).await.status, "sent");
    })
    .await;
}

#[tokio::test]
async fn run_now_sends_a_queued_message_at_once() {
    each_backend(|backend, store| async move {
        let server = SmtpServer::start().await;
        let s = services(store.clone(), Some(mailer(&server)));
        let id = queue(&s, 1).await;
        let job_id = mail_job(&store, id).await.id;
        let ended = run_now(&s, job_id, "cli")
            .await
            .unwrap()
            .expect("it was queued");
        assert_eq!(
            (ended.status, ended.attempts),
            (JobStatus::Done, 1),
            "{backend}"
        );
        assert_eq!(arrived(&server, 1), 1);
        assert!(
            run_now(&s, job_id, "cli").await.unwrap().is_none(),
            "done already"
        );
        assert_eq!(server.received().len(), 1, "{backend}");
    })
    .await;
}

/// A few hundred orders of 100 customers over the two years before today.
fn orders() -> WriteBatch {
    let f = fields(
        &TRANSACTIONS,
        &["customer_id", "occurred_at", "amount", "currency", "kind"],
    );
    let mut b = WriteBatch::new(&TRANSACTIONS, f);
    let today = Utc::now();
    let mut seed: u64 = 0x004b_414e_5441;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    for c in 0..100 {
        let orders = 1 + next(7);
        let first = 30 + next(700) as i64;
        for o in 0..orders {
            let days_ago = first - (first * o as i64) / orders as i64;
            let at = today - Span::days(days_ago) - Span::minutes(next(600) as i64);
            b.push(
                format!("o{c}-{o}"),
                [
                    text(&format!("c{c}")),
                    Value::Time(at),
                    Value::Int(1000 + 100 * next(80) as i64),
                    text("EUR"),
                    text("order"),
                ],
            );
        }
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_score_job_scores_once_per_period() {
    each_backend(|backend, store| async move {
        let scoring = |store: Store| Services {
            settings: JobSettings {
                score_every: Some(Duration::from_secs(24 * 3600)),
                ..settings()
            },
            ..services(store, None)
        };
        let a = scoring(store.clone());
        let b = scoring(Store::open(store.url()).await.unwrap());
        let batch = orders();
        assert!(batch.len() > 250, "{}", batch.len());
        a.core.write_batch(&Acting::cli(), batch).await.unwrap();

        // Each instance's workers schedule the period's job on start.
        let workers_a = Workers::start(a.clone(), 1);
        let workers_b = Workers::start(b.clone(), 1);
        let job = eventually(Duration::from_secs(120), "the score job done", || {
            let store = store.clone();
            async move {
                let jobs = jobs_of(&store, SCORE).await;
                jobs.iter()
                    .all(|j| j.status == JobStatus::Done)
                    .then(|| jobs.into_iter().next())
                    .flatten()
            }
        })
        .await;
        workers_a.stop().await;
        workers_b.stop().await;
        assert_eq!(job.attempts, 1, "{backend}: {job:?}");
        let jobs = jobs_of(&store, SCORE).await;
        assert!(!jobs.is_empty() && jobs.len() <= 2, "{backend}: {jobs:?}");
        let runs = store.model_runs(None, 10).await.unwrap();
        assert_eq!(runs.len(), 1, "{backend}: one run: {runs:?}");
        assert_eq!(runs[0].customers, 100, "{backend}");

        // Scheduling again in the same period runs nothing more.
        schedule_recurring(&a, Utc::now()).await.unwrap();
        while work_once(&b, "again").await.unwrap() {}
        assert_eq!(
            store.model_runs(None, 10).await.unwrap().len(),
            1,
            "{backend}"
        );
        b.core.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn the_score_job_without_orders_completes_without_a_run() {
    each_backend(|backend, store| async move {
        let s = Services {
            settings: JobSettings {
                score_every: Some(Duration::from_secs(3600)),
                ..settings()
            },
            ..services(store.clone(), None)
        };
        schedule_recurring(&s, Utc::now()).await.unwrap();
        assert!(work_once(&s, "w").await.unwrap());
        let jobs = jobs_of(&store, SCORE).await;
        assert_eq!(jobs.len(), 1);
        assert_eq!(
            (jobs[0].status, jobs[0].attempts),
            (JobStatus::Done, 1),
            "{backend}"
        );
        assert!(
            store.model_runs(None, 10).await.unwrap().is_empty(),
            "{backend}"
        );
        assert!(!work_once(&s, "w").await.unwrap());
    })
    .await;
}

/// A job that fails for good is mailed to every active admin, in the admin's language,
/// once; staff and inactive admins get nothing; a failed mail job tells nobody.
#[tokio::test]
async fn a_job_that_failed_for_good_is_mailed_to_the_admins_once() {
    use kanta_store::accounts::Role;
    each_backend(|backend, store| async move {
        let core = Core::new(store.clone());
        let cli = Acting::cli();
        let (fi, _) = core
            .add_user(&cli, "paakayttaja@example.fi", None, Role::Admin, None)
            .await
            .unwrap();
        let (en, _) = core
            .add_user(&cli, "admin@example.com", None, Role::Admin, None)
            .await
            .unwrap();
        core.set_user_language(&cli, en.id, Some("en"))
            .await
            .unwrap();
        core.add_user(&cli, "staff@example.fi", None, Role::Staff, None)
            .await
            .unwrap();
        let (gone, _) = core
            .add_user(&cli, "gone@example.fi", None, Role::Admin, None)
            .await
            .unwrap();
        core.change_user(&cli, gone.id, Role::Admin, false)
            .await
            .unwrap();
        let s = services(store.clone(), None);
        let id = store
            .enqueue(&kanta_store::jobs::NewJob {
                kind: kanta_core::jobs::SCORE.into(),
                payload: serde_json::json!({}),
                unique_key: None,
                run_at: Utc::now(),
                max_attempts: 1,
            })
            .await
            .unwrap()
            .unwrap();
        let job = store.job(id).await.unwrap().unwrap();
        kanta_core::jobs::tell_admins(&s, &job, "the <store> was away").await;
        kanta_core::jobs::tell_admins(&s, &job, "the <store> was away").await;
        let outbox = store.outbox(100).await.unwrap();
        let mut to: Vec<(&str, &str)> = outbox
            .iter()
            .map(|m| (m.to.as_str(), m.subject.as_str()))
            .collect();
        to.sort();
        assert_eq!(to.len(), 2, "{backend}: once to each active admin: {to:?}");
        assert_eq!(to[0].0, "admin@example.com");
        assert!(to[0].1.contains("Background job failed: score"), "{to:?}");
        assert_eq!(to[1].0, fi.email);
        assert!(
            !to[1].1.contains("Background job failed"),
            "Finnish: {to:?}"
        );
        let html = outbox[0].html.as_deref().unwrap_or_default();
        assert!(
            html.contains("&lt;store&gt;") && !html.contains("<store>"),
            "the error is escaped in HTML: {html}"
        );
        // A mail job's failure tells nobody (mail that fails would only queue more).
        let mail_job = Job {
            kind: kanta_core::jobs::MAIL_SEND.into(),
            id: id + 1000,
            ..job
        };
        kanta_core::jobs::tell_admins(&s, &mail_job, "refused").await;
        assert_eq!(store.outbox(100).await.unwrap().len(), 2, "{backend}");
    })
    .await;
}

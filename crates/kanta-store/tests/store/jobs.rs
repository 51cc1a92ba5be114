//! Background jobs: enqueued once per key, claimed by one worker at a time in order,
//! taken again when a worker's lease runs out, failed, retried and completed only by
//! the worker holding them. Times are passed in: no test waits for a clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kanta_domain::schema::CUSTOMERS;
use kanta_store::Store;
use kanta_store::jobs::{JobStatus, NewJob};
use kanta_store::write::RunInfo;
use serde_json::json;

use crate::each_backend;

fn job(kind: &str, key: Option<&str>, run_at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: kind.into(),
        payload: json!({"n": 1}),
        unique_key: key.map(str::to_string),
        run_at,
        max_attempts: 3,
    }
}

fn secs(s: i64) -> chrono::Duration {
    chrono::Duration::seconds(s)
}

const LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_unique_key_enqueues_a_job_once() {
    each_backend(|store| async move {
        let now = Utc::now();
        let first = store.enqueue(&job("score", Some("2024-01-02"), now)).await;
        let id = first.unwrap().expect("a new job");
        assert_eq!(
            store
                .enqueue(&job("score", Some("2024-01-02"), now))
                .await
                .unwrap(),
            None
        );
        assert!(
            store
                .enqueue(&job("mail.send", Some("2024-01-02"), now))
                .await
                .unwrap()
                .is_some(),
            "the key is per kind"
        );
        for _ in 0..2 {
            assert!(
                store
                    .enqueue(&job("score", None, now))
                    .await
                    .unwrap()
                    .is_some(),
                "no key, no dedup"
            );
        }
        let j = store.job(id).await.unwrap().unwrap();
        assert_eq!(j.kind, "score");
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(j.payload, json!({"n": 1}));
        assert_eq!(j.unique_key.as_deref(), Some("2024-01-02"));
        assert_eq!(j.run_at.timestamp_millis(), now.timestamp_millis());
        assert_eq!((j.attempts, j.max_attempts), (0, 3));
        assert_eq!(
            (j.locked_by, j.lease_until, j.finished_at),
            (None, None, None)
        );
        // newest first, by status, and counted
        let all = store.jobs(None, 10).await.unwrap();
        assert_eq!(all.len(), 4);
        assert!(all.windows(2).all(|w| w[0].id > w[1].id));
        assert_eq!(
            store.jobs(Some(JobStatus::Done), 10).await.unwrap().len(),
            0
        );
        assert_eq!(store.jobs(None, 2).await.unwrap().len(), 2);
        assert_eq!(
            store.job_counts().await.unwrap(),
            [
                (JobStatus::Queued, 4),
                (JobStatus::Running, 0),
                (JobStatus::Done, 0),
                (JobStatus::Failed, 0)
            ]
        );
        assert!(store.job(id + 100).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn jobs_are_claimed_in_order_when_due() {
    each_backend(|store| async move {
        let t = Utc::now();
        let mut ids = Vec::new();
        for (kind, at) in [("a", 3), ("a", 1), ("b", 0), ("a", 2), ("a", 100)] {
            ids.push(
                store
                    .enqueue(&job(kind, None, t + secs(at)))
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let now = t + secs(10);
        let mut order = Vec::new();
        while let Some(j) = store.claim_job("w1", &["a"], LEASE, now).await.unwrap() {
            assert_eq!(j.status, JobStatus::Running);
            assert_eq!(j.locked_by.as_deref(), Some("w1"));
            assert_eq!(j.attempts, 1);
            assert_eq!(
                j.lease_until.map(|l| l.timestamp_millis()),
                Some((now + secs(60)).timestamp_millis())
            );
            order.push(j.id);
        }
        assert_eq!(
            order,
            [ids[1], ids[3], ids[0]],
            "by run_at; b's kind and the future job stay"
        );
        assert!(
            store
                .claim_job("w1", &[], LEASE, now)
                .await
                .unwrap()
                .is_none()
        );
        let b = store
            .claim_job("w2", &["a", "b"], LEASE, t + secs(200))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.id, ids[2], "b, due earlier than the last a");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_claim_each_job_once() {
    each_backend(|store| async move {
        let now = Utc::now();
        let mut ids = Vec::new();
        for _ in 0..50 {
            ids.push(
                store
                    .enqueue(&job("work", None, now))
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store: Store = store.clone();
                tokio::spawn(async move {
                    let worker = format!("worker-{w}");
                    let mut claimed = Vec::new();
                    while let Some(j) = store
                        .claim_job(&worker, &["work"], LEASE, now)
                        .await
                        .unwrap()
                    {
                        assert_eq!(j.attempts, 1, "claimed before");
                        assert!(store.complete_job(j.id, &worker).await.unwrap());
                        claimed.push(j.id);
                    }
                    claimed
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for w in workers {
            claimed.extend(w.await.unwrap());
        }
        claimed.sort();
        assert_eq!(claimed, ids, "every job claimed exactly once");
        let counts = store.job_counts().await.unwrap();
        assert!(counts.contains(&(JobStatus::Done, 50)), "{counts:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_claiming_batches_take_each_job_once_in_order() {
    each_backend(|store| async move {
        let now = Utc::now();
        let mut ids = Vec::new();
        for i in 0..100 {
            ids.push(
                store
                    .enqueue(&job("work", None, now - secs(100 - i)))
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        // One batch: the earliest, in order, all running and held.
        let first = store
            .claim_jobs("w0", &["work"], LEASE, now, 7)
            .await
            .unwrap();
        let got: Vec<i64> = first.iter().map(|j| j.id).collect();
        assert_eq!(got, ids[..7], "the seven earliest, earliest first");
        assert!(
            first
                .iter()
                .all(|j| j.status == JobStatus::Running && j.attempts == 1)
        );
        // Another worker cannot complete them; their own worker does, in one statement.
        assert_eq!(store.complete_jobs(&got, "someone-else").await.unwrap(), 0);
        assert_eq!(store.complete_jobs(&got, "w0").await.unwrap(), 7);
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store: Store = store.clone();
                tokio::spawn(async move {
                    let worker = format!("worker-{w}");
                    let mut claimed = Vec::new();
                    loop {
                        let batch = store
                            .claim_jobs(&worker, &["work"], LEASE, now, 5)
                            .await
                            .unwrap();
                        if batch.is_empty() {
                            return claimed;
                        }
                        assert!(batch.len() <= 5);
                        let ids: Vec<i64> = batch.iter().map(|j| j.id).collect();
                        assert!(batch.iter().all(|j| j.attempts == 1), "claimed before");
                        assert_eq!(
                            store.complete_jobs(&ids, &worker).await.unwrap(),
                            ids.len() as u64
                        );
                        claimed.extend(ids);
                    }
                })
            })
            .collect();
        let mut claimed = got;
        for w in workers {
            claimed.extend(w.await.unwrap());
        }
        claimed.sort();
        assert_eq!(claimed, ids, "every job claimed exactly once");
        let counts = store.job_counts().await.unwrap();
        assert!(counts.contains(&(JobStatus::Done, 100)), "{counts:?}");
    })
    .await;
}

#[tokio::test]
async fn a_job_whose_lease_ran_out_is_claimed_again() {
    each_backend(|store| async move {
        let t = Utc::now();
        let id = store.enqueue(&job("k", None, t)).await.unwrap().unwrap();
        let lease = Duration::from_secs(1);
        let a = store
            .claim_job("a", &["k"], lease, t)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((a.id, a.attempts), (id, 1));
        assert!(
            store
                .claim_job("b", &["k"], lease, t + chrono::Duration::milliseconds(500))
                .await
                .unwrap()
                .is_none(),
            "still leased"
        );
        // a extends its lease; then dies
        assert!(store.extend_lease(id, "a", t + secs(2)).await.unwrap());
        assert!(
            store
                .claim_job("b", &["k"], lease, t + secs(1) + secs(1) / 2)
                .await
                .unwrap()
                .is_none(),
            "the extended lease holds"
        );
        let b = store
            .claim_job("b", &["k"], lease, t + secs(3))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((b.id, b.attempts), (id, 2));
        assert_eq!(b.locked_by.as_deref(), Some("b"));
        // a's late calls are refused: the job is b's now
        assert!(!store.extend_lease(id, "a", t + secs(10)).await.unwrap());
        assert!(!store.complete_job(id, "a").await.unwrap());
        assert!(!store.fail_job(id, "a", "late", None).await.unwrap());
        assert!(store.complete_job(id, "b").await.unwrap());
        let done = store.job(id).await.unwrap().unwrap();
        assert_eq!(done.status, JobStatus::Done);
        assert!(done.finished_at.is_some());
        assert!(!store.complete_job(id, "b").await.unwrap(), "once");

        // a job whose worker dies on its last allowed attempt fails for good
        let mut last = job("k", None, t);
        last.max_attempts = 1;
        let id = store.enqueue(&last).await.unwrap().unwrap();
        let j = store
            .claim_job("a", &["k"], lease, t)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(j.id, id);
        assert!(
            store
                .claim_job("b", &["k"], lease, t + secs(5))
                .await
                .unwrap()
                .is_none()
        );
        let failed = store.job(id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.last_error.unwrap().contains("lease"));
        assert!(failed.finished_at.is_some());
    })
    .await;
}

#[tokio::test]
async fn failed_attempts_are_retried_then_fail_for_good_and_an_admin_retries() {
    each_backend(|store| async move {
        let t = Utc::now();
        let mut j = job("k", None, t);
        j.max_attempts = 2;
        let id = store.enqueue(&j).await.unwrap().unwrap();
        store
            .claim_job("w", &["k"], LEASE, t)
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .fail_job(id, "w", "timeout", Some(t + secs(60)))
                .await
                .unwrap()
        );
        let queued = store.job(id).await.unwrap().unwrap();
        assert_eq!(queued.status, JobStatus::Queued);
        assert_eq!(queued.attempts, 1, "attempts kept");
        assert_eq!(queued.last_error.as_deref(), Some("timeout"));
        assert_eq!(queued.locked_by, None);
        assert_eq!(
            queued.run_at.timestamp_millis(),
            (t + secs(60)).timestamp_millis()
        );
        assert!(
            store
                .claim_job("w", &["k"], LEASE, t + secs(30))
                .await
                .unwrap()
                .is_none(),
            "not before retry_at"
        );
        let again = store
            .claim_job("w", &["k"], LEASE, t + secs(61))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id, again.attempts), (id, 2));
        // the last allowed attempt: a retry asked for is not granted
        assert!(
            store
                .fail_job(id, "w", "timeout again", Some(t + secs(120)))
                .await
                .unwrap()
        );
        let failed = store.job(id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.finished_at.is_some());
        assert_eq!(
            store.jobs(Some(JobStatus::Failed), 10).await.unwrap().len(),
            1
        );

        // an admin's retry: queued now, attempts from 0
        assert!(
            store
                .retry_job(id, &crate::entry("jobs", "job_retry"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .retry_job(id, &crate::entry("jobs", "job_retry"))
                .await
                .unwrap(),
            "only a failed job"
        );
        let retried = store.job(id).await.unwrap().unwrap();
        assert_eq!(retried.status, JobStatus::Queued);
        assert_eq!(retried.attempts, 0);
        assert_eq!(retried.finished_at, None);
        let j = store
            .claim_job("w", &["k"], LEASE, Utc::now() + secs(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((j.id, j.attempts), (id, 1));
        // no retry asked: failed at once
        assert!(store.fail_job(id, "w", "bad payload", None).await.unwrap());
        assert_eq!(
            store.job(id).await.unwrap().unwrap().status,
            JobStatus::Failed
        );
        assert!(!store.fail_job(id, "w", "twice", None).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_writer_enqueues_in_its_transaction() {
    each_backend(|store| async move {
        let now = Utc::now();
        let mut w = store.writer(&CUSTOMERS, vec![]).await.unwrap();
        assert!(
            w.enqueue(&job("k", Some("x"), now))
                .await
                .unwrap()
                .is_some()
        );
        drop(w);
        assert!(
            store.jobs(None, 10).await.unwrap().is_empty(),
            "rolled back"
        );
        let mut w = store.writer(&CUSTOMERS, vec![]).await.unwrap();
        let id = w.enqueue(&job("k", Some("x"), now)).await.unwrap().unwrap();
        assert_eq!(w.enqueue(&job("k", Some("x"), now)).await.unwrap(), None);
        w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!(store.job(id).await.unwrap().unwrap().kind, "k");
    })
    .await;
}

#[test]
fn statuses_read_and_write_as_lowercase_words() {
    for s in JobStatus::ALL {
        assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()), "{s:?}");
    }
    assert_eq!(JobStatus::parse("Failed"), Some(JobStatus::Failed));
    assert_eq!(JobStatus::parse("lost"), None);
}

/// The scheduler's hourly prune deletes done jobs without a key finished before its
/// cut-off, and keeps keyed, failed, queued and newer done ones.
#[tokio::test]
async fn old_done_jobs_without_a_key_are_pruned() {
    each_backend(|store| async move {
        let start = Utc::now();
        let mut ids = Vec::new();
        for (kind, key) in [
            ("queue.refresh", None),
            ("queue.refresh", None),
            ("score", Some("day:1")),
            ("mail.send", None),
            ("queue.refresh", None),
        ] {
            ids.push(
                store
                    .enqueue(&job(kind, key, start))
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        // The first four are claimed, in order: three done, the mail failed for good.
        for (i, id) in ids.iter().take(4).enumerate() {
            let j = store
                .claim_job("w", &["queue.refresh", "score", "mail.send"], LEASE, start)
                .await
                .unwrap()
                .expect("a due job");
            assert_eq!(j.id, *id);
            if i == 3 {
                assert!(store.fail_job(j.id, "w", "refused", None).await.unwrap());
            } else {
                assert!(store.complete_job(j.id, "w").await.unwrap());
            }
        }
        // Nothing finished before the jobs ran.
        assert_eq!(store.prune_done_jobs(start - secs(1)).await.unwrap(), 0);
        assert_eq!(
            store.prune_done_jobs(Utc::now() + secs(1)).await.unwrap(),
            2
        );
        let left: Vec<(i64, JobStatus)> = store
            .jobs(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|j| (j.id, j.status))
            .collect();
        assert_eq!(
            left,
            vec![
                (ids[4], JobStatus::Queued),
                (ids[3], JobStatus::Failed),
                (ids[2], JobStatus::Done),
            ]
        );
    })
    .await;
}

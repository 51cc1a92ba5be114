//! The mail outbox: a message is queued once per key, with its `mail.send` job in the
//! same transaction, and marked sent once.

use kanta_domain::schema::CUSTOMERS;
use kanta_store::jobs::JobStatus;
use kanta_store::outbox::{MAIL_JOB, MAIL_MAX_ATTEMPTS, NewMail};
use kanta_store::write::RunInfo;
use serde_json::json;

use crate::{each_backend, raw_count};

fn mail(key: &str) -> NewMail {
    NewMail {
        key: key.into(),
        to: "aino@example.fi".into(),
        subject: "Salasanan vaihto".into(),
        text: "Hei!\nVaihda salasanasi.".into(),
        html: Some("<p>Hei!</p>".into()),
    }
}

#[tokio::test]
async fn a_message_is_queued_once_with_its_job_and_sent_once() {
    each_backend(|store| async move {
        let id = store.queue_mail(&mail("reset-1")).await.unwrap().unwrap();
        assert_eq!(store.queue_mail(&mail("reset-1")).await.unwrap(), None);
        let m = store.mail(id).await.unwrap().unwrap();
        assert_eq!(m.key, "reset-1");
        assert_eq!(m.to, "aino@example.fi");
        assert_eq!(m.text, "Hei!\nVaihda salasanasi.");
        assert_eq!(m.html.as_deref(), Some("<p>Hei!</p>"));
        assert_eq!((m.status.as_str(), m.attempts), ("queued", 0));
        assert_eq!((m.last_error, m.sent_at), (None, None));
        // its job
        let jobs = store.jobs(None, 10).await.unwrap();
        assert_eq!(jobs.len(), 1, "one job for the message queued twice");
        let j = &jobs[0];
        assert_eq!(j.kind, MAIL_JOB);
        assert_eq!(j.payload, json!({"mail_id": id}));
        assert_eq!(j.unique_key, Some(format!("mail-{id}")));
        assert_eq!(j.max_attempts, MAIL_MAX_ATTEMPTS);
        assert_eq!(j.status, JobStatus::Queued);

        // a failed attempt, then sent, once
        store
            .mark_mail_attempt_failed(id, "connection refused", false)
            .await
            .unwrap();
        let m = store.mail(id).await.unwrap().unwrap();
        assert_eq!((m.status.as_str(), m.attempts), ("queued", 1));
        assert_eq!(m.last_error.as_deref(), Some("connection refused"));
        assert!(store.mark_mail_sent(id).await.unwrap());
        assert!(!store.mark_mail_sent(id).await.unwrap(), "sent already");
        store
            .mark_mail_attempt_failed(id, "late", true)
            .await
            .unwrap();
        let m = store.mail(id).await.unwrap().unwrap();
        assert_eq!((m.status.as_str(), m.attempts), ("sent", 2));
        assert!(m.sent_at.is_some());

        // a final failure
        let other = store.queue_mail(&mail("reset-2")).await.unwrap().unwrap();
        store
            .mark_mail_attempt_failed(other, "no such mailbox", true)
            .await
            .unwrap();
        let m = store.mail(other).await.unwrap().unwrap();
        assert_eq!(m.status, "failed");
        assert!(store.mail(other + 100).await.unwrap().is_none());
        // newest first
        let list = store.outbox(10).await.unwrap();
        assert_eq!(list.iter().map(|m| m.id).collect::<Vec<_>>(), [other, id]);
        assert_eq!(store.outbox(1).await.unwrap().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_writer_queues_mail_and_its_job_together_or_not_at_all() {
    each_backend(|store| async move {
        let mut w = store.writer(&CUSTOMERS, vec![]).await.unwrap();
        assert!(w.queue_mail(&mail("k")).await.unwrap().is_some());
        drop(w);
        assert!(store.outbox(10).await.unwrap().is_empty());
        assert!(store.jobs(None, 10).await.unwrap().is_empty());

        let runs = raw_count(&store, "SELECT count(*) FROM import_runs").await;
        let mut w = store.writer(&CUSTOMERS, vec![]).await.unwrap();
        let id = w.queue_mail(&mail("k")).await.unwrap().unwrap();
        assert_eq!(w.queue_mail(&mail("k")).await.unwrap(), None);
        w.finish(&RunInfo::default()).await.unwrap();
        assert_eq!(store.outbox(10).await.unwrap()[0].id, id);
        assert_eq!(store.jobs(None, 10).await.unwrap().len(), 1);
        assert_eq!(
            raw_count(&store, "SELECT count(*) FROM import_runs").await,
            runs
        );
    })
    .await;
}

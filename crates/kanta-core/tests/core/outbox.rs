//! Queueing mail: once per key, audited once, with its job.

use kanta_core::mail::Message;
use kanta_core::{Acting, Channel, CoreError};
use kanta_store::accounts::Role;
use kanta_store::jobs::JobStatus;

use crate::support::{audit_of, each_core};

fn message(subject: &str) -> Message {
    Message {
        to: "aino@example.fi".into(),
        subject: subject.into(),
        text: "Hei!".into(),
        html: Some("<p>Hei!</p>".into()),
    }
}

#[tokio::test]
async fn a_key_queues_a_message_once_audited_once() {
    each_core(|backend, core| async move {
        let store = core.store();
        let acting = Acting::user(3, "sanna@example.fi", Role::Staff, Channel::Ui);
        let id = core
            .queue_mail(&acting, "welcome-c1", &message("Tervetuloa"))
            .await
            .unwrap()
            .expect("queued");
        let again = core
            .queue_mail(&acting, "welcome-c1", &message("Tervetuloa taas"))
            .await
            .unwrap();
        assert_eq!(again, None, "{backend}");

        let outbox = store.outbox(10).await.unwrap();
        assert_eq!(outbox.len(), 1, "{backend}");
        let m = &outbox[0];
        assert_eq!(
            (m.id, m.key.as_str(), m.subject.as_str(), m.status.as_str()),
            (id, "welcome-c1", "Tervetuloa", "queued")
        );
        assert_eq!(m.html.as_deref(), Some("<p>Hei!</p>"));

        let jobs = store.jobs(None, 10).await.unwrap();
        assert_eq!(jobs.len(), 1, "{backend}: one job: {jobs:?}");
        assert_eq!(
            (jobs[0].kind.as_str(), jobs[0].status),
            ("mail.send", JobStatus::Queued)
        );
        assert_eq!(jobs[0].payload["mail_id"], serde_json::json!(id));

        let log = audit_of(store, "mail_queued").await;
        assert_eq!(log.len(), 1, "{backend}: audited once: {log:?}");
        let e = &log[0].entry;
        assert_eq!(
            (
                e.entity.as_str(),
                e.record_id.as_deref(),
                e.actor_name.as_str()
            ),
            ("outbox", Some("welcome-c1"), "sanna@example.fi")
        );
        assert_eq!(e.details["subject"], "Tervetuloa");
        assert_eq!(e.details["to"], "aino@example.fi");
        assert_eq!(e.details["mail_id"], serde_json::json!(id));

        // Another key is another message.
        let other = core
            .queue_mail(&acting, "welcome-c2", &message("Tervetuloa"))
            .await
            .unwrap();
        assert!(other.is_some_and(|o| o != id));
        assert_eq!(audit_of(store, "mail_queued").await.len(), 2);

        // A viewer queues nothing.
        let viewer = Acting::token(1, "t", Role::Viewer);
        let r = core.queue_mail(&viewer, "welcome-c3", &message("x")).await;
        assert!(matches!(r, Err(CoreError::Forbidden(_))), "{r:?}");
        assert_eq!(store.outbox(10).await.unwrap().len(), 2);
    })
    .await;
}

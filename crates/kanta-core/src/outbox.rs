//! Queueing mail: a message is written to the outbox in the same transaction as
//! whatever caused it, with the job that sends it (`kanta_store::outbox`), and audited.
//! Its unique key makes it queued, and so sent, at most once, even when two instances
//! cause it at the same moment. The `mail.send` job ([`crate::jobs`]) sends it through
//! the [`crate::mail::Mailer`], retrying transient failures with backoff.

use kanta_domain::schema::CUSTOMERS;
use kanta_store::outbox::NewMail;
use serde_json::json;

use crate::actor::Acting;
use crate::mail::Message;
use crate::{Core, Result};

impl Core {
    /// Queues a message under `key` (a second message with the same key is not
    /// queued: `None`). Audited as `mail_queued` with the recipient and subject.
    pub async fn queue_mail(&self, acting: &Acting, key: &str, m: &Message) -> Result<Option<i64>> {
        let mut tx = self.begin_write(acting, &CUSTOMERS, Vec::new()).await?;
        let id = tx
            .writer_mut()
            .queue_mail(&NewMail {
                key: key.to_string(),
                to: m.to.clone(),
                subject: m.subject.clone(),
                text: m.text.clone(),
                html: m.html.clone(),
            })
            .await?;
        // A message queued before under this key was audited then.
        let entries = id.map(|id| {
            let mut entry = acting.audit("outbox", Some(key), "mail_queued");
            entry.details = json!({ "to": m.to, "subject": m.subject, "mail_id": id });
            entry
        });
        tx.finish(&Default::default(), entries.into_iter().collect())
            .await?;
        Ok(id)
    }

    /// Queues a batch of messages, each under its key, in one transaction with one
    /// audit entry: `audit(queued)` (none when it gives `None`, e.g. when nothing was
    /// queued because every key had been used). Messages whose key was used before are
    /// not queued again. Returns how many were queued. The weekly mails (the queue
    /// digest, the thanks) go this way.
    pub async fn queue_mail_batch(
        &self,
        acting: &Acting,
        mails: Vec<(String, Message)>,
        audit: impl FnOnce(u64) -> Option<kanta_store::audit::AuditEntry>,
    ) -> Result<u64> {
        let mut tx = self.begin_write(acting, &CUSTOMERS, Vec::new()).await?;
        let mut queued = 0u64;
        for (key, m) in mails {
            let id = tx
                .writer_mut()
                .queue_mail(&NewMail {
                    key,
                    to: m.to,
                    subject: m.subject,
                    text: m.text,
                    html: m.html,
                })
                .await?;
            queued += u64::from(id.is_some());
        }
        tx.finish(&Default::default(), audit(queued).into_iter().collect())
            .await?;
        Ok(queued)
    }
}

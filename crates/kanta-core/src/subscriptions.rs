//! Subscriptions' figures as the days pass: the daily `subscriptions.refresh` job.
//!
//! The store's writer keeps each customer's subscription figures (MRR, revenue billed
//! to date, next renewal, active plans; `kanta_domain::subscription`) when their
//! subscriptions are written. Billed periods and renewals also move with the calendar
//! alone, so [`Core::refresh_subscriptions`] recomputes every subscriber's figures as
//! of a day, through the one write path (the actor's role checked, the write turn, one
//! audit entry in the same transaction). It is also how a store made before the
//! figures existed (migration 0007) gets them: on its first refresh, which `kanta
//! serve` schedules at start and then daily.

use chrono::NaiveDate;
use kanta_domain::schema::SUBSCRIPTIONS;
use kanta_store::write::RunInfo;

use crate::actor::Acting;
use crate::{Core, Result};

/// The job's kind.
pub const REFRESH: &str = "subscriptions.refresh";

impl Core {
    /// Recomputes every subscriber's subscription figures as of `as_of`, audited as one
    /// `refresh` of subscriptions with the day and the count of customers whose figures
    /// changed. Returns that count.
    pub async fn refresh_subscriptions(&self, acting: &Acting, as_of: NaiveDate) -> Result<u64> {
        let mut tx = self.begin_write(acting, &SUBSCRIPTIONS, Vec::new()).await?;
        let changed = tx.writer_mut().refresh_subscription_figures(as_of).await?;
        let mut entry = acting.audit(SUBSCRIPTIONS.name, None, "refresh");
        entry.details = serde_json::json!({
            "as_of": as_of.format("%Y-%m-%d").to_string(),
            "customers_changed": changed,
        });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok(changed)
    }
}

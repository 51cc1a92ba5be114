//! Retention schedules: how long each kind of personal data is kept, as store
//! settings in whole years (0, the default, keeps it):
//!
//! - `retention_answer_text_years`: the free text of answers (the scores stay);
//! - `retention_inactive_customer_years`: customers with no order, contact, answer or
//!   case for that long, and no running subscription, are erased
//!   ([`kanta_store::privacy`]: anonymised, their figures kept);
//! - `retention_audit_years`: audit log entries are deleted;
//! - `retention_closed_case_years`: closed cases lose their summary and resolution.
//!
//! The daily `privacy.retention` job applies them (one transaction, one audit entry
//! with the counts); `kanta retention --dry-run` reports what would go.

use chrono::{DateTime, Months, Utc};
use kanta_domain::schema::CUSTOMERS;
use kanta_store::privacy::RetentionCutoffs;
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, require};
use crate::actor::Acting;
use crate::jobs::Outcome;
use crate::write::run_info;
use crate::{Core, Result};

/// The daily job's kind.
pub const JOB: &str = "privacy.retention";

/// The settings: (key, kind of data it keeps).
pub const SETTINGS: [(&str, &str); 4] = [
    ("retention_answer_text_years", "answer_text"),
    ("retention_inactive_customer_years", "inactive_customers"),
    ("retention_audit_years", "audit_entries"),
    ("retention_closed_case_years", "closed_cases"),
];

/// A retention setting: whole years, 0 = kept forever.
pub fn parse_years(s: &str) -> std::result::Result<String, String> {
    let t = s.trim();
    let t = t
        .trim_end_matches("years")
        .trim_end_matches("vuotta")
        .trim();
    match t.parse::<u32>() {
        Ok(n) if n <= 100 => Ok(n.to_string()),
        _ => Err(format!(
            "'{}' is not a number of years from 0 (keep forever) to 100",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// One schedule in a report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RetentionItem {
    /// `answer_text`, `inactive_customers`, `audit_entries`, `closed_cases`.
    pub kind: String,
    /// 0: kept forever.
    pub years: u32,
    /// Data older than this goes.
    pub before: Option<DateTime<Utc>>,
    /// Rows that go (or went).
    pub count: u64,
}

/// What a run of the schedules removed, or would remove.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub items: Vec<RetentionItem>,
}

impl Core {
    /// The schedules in force: years per kind.
    pub async fn retention_years(&self) -> Result<Vec<(&'static str, u32)>> {
        let s = self.store_settings().await?;
        Ok(SETTINGS
            .iter()
            .map(|(key, kind)| {
                let years = s
                    .value(key)
                    .and_then(|v| parse_years(v.trim_matches('"')).ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                (*kind, years)
            })
            .collect())
    }

    /// Applies the retention schedules (admins, the operator and the job), or with
    /// `dry_run` only counts what they would remove. A real run is one transaction
    /// with one `retention` audit entry naming the counts.
    pub async fn run_retention(
        &self,
        acting: &Acting,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<RetentionReport> {
        require(acting, Role::Admin)?;
        let years = self.retention_years().await?;
        let before = |kind: &str| {
            years
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, y)| *y)
                .filter(|y| *y > 0)
                .and_then(|y| now.checked_sub_months(Months::new(12 * y)))
        };
        let cut = RetentionCutoffs {
            answer_text: before("answer_text"),
            inactive_customers: before("inactive_customers"),
            audit: before("audit_entries"),
            closed_cases: before("closed_cases"),
        };
        let mut tx = self
            .begin_plain_write(acting, Role::Admin, &CUSTOMERS)
            .await?;
        let w = tx.writer_mut();
        let mut ctx = crate::privacy::context_of(acting);
        ctx.unlock = !dry_run;
        ctx.source = "retention".into();
        w.set_context(&ctx).await?;
        let counts = w.retention(&cut, !dry_run).await?;
        let items: Vec<RetentionItem> = years
            .iter()
            .map(|(kind, y)| RetentionItem {
                kind: kind.to_string(),
                years: *y,
                before: before(kind),
                count: counts.get(*kind).copied().unwrap_or(0),
            })
            .collect();
        if dry_run {
            // Nothing written: the transaction is dropped.
            drop(tx);
        } else {
            let mut entry = tx.acting().audit("store", None, "retention");
            entry.details = json!({ "removed": counts, "years": years
                .iter().map(|(k, y)| (k.to_string(), *y)).collect::<std::collections::BTreeMap<_, _>>() });
            tx.finish(&run_info("", 0), vec![entry]).await?;
        }
        Ok(RetentionReport { dry_run, items })
    }

    /// Whether any schedule is set (the daily job runs only then).
    pub async fn retention_set(&self) -> Result<bool> {
        Ok(self.retention_years().await?.iter().any(|(_, y)| *y > 0))
    }
}

/// The daily `privacy.retention` job.
pub async fn run_job(core: &Core) -> Outcome {
    match core
        .run_retention(&Acting::job(JOB), Utc::now(), false)
        .await
    {
        Ok(r) => {
            let gone: u64 = r.items.iter().map(|i| i.count).sum();
            tracing::info!("retention: {gone} rows removed or anonymised");
            Outcome::Done
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

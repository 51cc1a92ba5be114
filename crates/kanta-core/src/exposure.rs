//! Reputation exposure for the home page (seed 000: good service is told to about 3
//! people, bad to about 11): [`Core::feedback_exposure`] gives, for each of the last
//! months of the store's time zone (oldest first, every month, answers or not), the
//! promoters × `exposure_promoter` against the detractors × `exposure_detractor`.
//!
//! The figures are the ones `/feedback` shows ([`crate::feedback_stats`]'s
//! exposure): the same store query (`kanta_store::feedback_stats`' grouped pass over
//! the months' answers) and the same rule of who is a promoter and a detractor
//! ([`FeedbackRules`]: NPS 9-10 a promoter, NPS up to `detractor_nps_max` or with no
//! NPS a CSAT up to `detractor_csat_max` a detractor), without the report's themes,
//! rates and intervals, so the home page stays light.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use kanta_store::feedback_stats::GroupRule;
use serde::Serialize;

use crate::access::{Role, require};
use crate::feedback_settings::FeedbackRules;
pub use crate::feedback_stats::Exposure;
use crate::feedback_stats::period_range;
use crate::{Acting, Core, CoreError, Result};

/// Months the home page shows.
pub const HOME_MONTHS: u32 = 6;
/// Months one call covers at most.
pub const MAX_MONTHS: u32 = 120;

/// People reached by word of mouth per month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureSummary {
    /// People a satisfied and a dissatisfied customer tell (the settings).
    pub exposure_promoter: i64,
    pub exposure_detractor: i64,
    /// Per month (`YYYY-MM`), oldest first.
    pub months: Vec<Exposure>,
    /// Over all the months.
    pub told_good: u64,
    pub told_bad: u64,
    pub promoters: u64,
    pub detractors: u64,
}

/// The first days of the `months` months ending with `today`'s, oldest first.
fn month_starts(today: NaiveDate, months: u32) -> Vec<NaiveDate> {
    let mut first = today.with_day(1).unwrap_or(today);
    let mut out = vec![first];
    for _ in 1..months {
        let prev = first - Duration::days(1);
        first = prev.with_day(1).unwrap_or(prev);
        out.push(first);
    }
    out.reverse();
    out
}

impl Core {
    /// The reputation exposure of the last `months` months (1-120), this month
    /// included (see the module). Any signed-in role.
    pub async fn feedback_exposure(&self, acting: &Acting, months: u32) -> Result<ExposureSummary> {
        require(acting, Role::Viewer)?;
        if !(1..=MAX_MONTHS).contains(&months) {
            return Err(CoreError::invalid(
                "months",
                format!("'{months}' is not within 1..{MAX_MONTHS}"),
            ));
        }
        let rules = FeedbackRules::from_settings(&self.store_settings().await?);
        let zone = self.time_zone().await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        let mut bounds = Vec::new();
        let mut until = Utc::now();
        for m in month_starts(today, months) {
            let key = m.format("%Y-%m").to_string();
            if let Some((from, to)) = period_range(&zone, &key) {
                bounds.push((key, from));
                until = to;
            }
        }
        let rule = GroupRule {
            detractor_nps_max: rules.detractor_nps_max,
            detractor_csat_max: rules.detractor_csat_max,
        };
        let cube = self.store().feedback_cube(&bounds, until, rule).await?;
        let u = |v: i64| v.max(0) as u64;
        let (good, bad) = (
            rules.exposure_promoter.max(0) as u64,
            rules.exposure_detractor.max(0) as u64,
        );
        let mut out: Vec<Exposure> = bounds
            .iter()
            .map(|(k, _)| Exposure {
                key: k.clone(),
                promoters: 0,
                detractors: 0,
                told_good: 0,
                told_bad: 0,
            })
            .collect();
        for c in &cube {
            if let Some(e) = out.iter_mut().find(|e| e.key == c.month) {
                e.promoters += u(c.sums.promoters);
                e.detractors += u(c.sums.detractors);
            }
        }
        for e in &mut out {
            e.told_good = e.promoters.saturating_mul(good);
            e.told_bad = e.detractors.saturating_mul(bad);
        }
        Ok(ExposureSummary {
            exposure_promoter: rules.exposure_promoter,
            exposure_detractor: rules.exposure_detractor,
            told_good: out.iter().map(|e| e.told_good).sum(),
            told_bad: out.iter().map(|e| e.told_bad).sum(),
            promoters: out.iter().map(|e| e.promoters).sum(),
            detractors: out.iter().map(|e| e.detractors).sum(),
            months: out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_months_end_with_this_one() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let m = month_starts(d("2026-03-31"), 6);
        assert_eq!(m.first(), Some(&d("2025-10-01")));
        assert_eq!(m.last(), Some(&d("2026-03-01")));
        assert_eq!(m.len(), 6);
        assert_eq!(month_starts(d("2026-01-15"), 1), vec![d("2026-01-01")]);
    }
}

//! Acting on an answer at once (issue 13): when the setting `detractor_opens_case` is
//! yes, a detractor's answer opens a case.
//!
//! [`after_write`] runs in the transaction of every write of feedback, after the trust
//! entries (a detractor's debit) and before the contact queue (which lists the
//! customer with the answer as the reason). A customer's answer counts as a
//! detractor's by the settings `detractor_nps_max` (default 6) and
//! `detractor_csat_max` (default 2), as [`crate::feedback_settings::FeedbackRules::is_detractor`]
//! reads them. Only answers given within the last [`DETRACTOR_CASE_DAYS`] days open a
//! case (history from an import is recorded, not acted on). The case: external id
//! `feedback-<answer's external id>` (so one per answer, however often the answer is
//! written again), category `feedback`, severity normal, channel `survey`, opened now,
//! owner = the customer's owner, its summary quoting the answer (in the store's
//! language); it gets its due times and the first step of its timeline from
//! [`crate::cases::apply_sla`] and an audit entry `open` naming the answer.

use chrono::{Duration, Utc};
use kanta_store::feedback::DetractorAnswer;
use kanta_store::trust::Detractor;
use serde_json::json;

use crate::Result;
use crate::feedback_settings::{default_setting, parse_setting};
use crate::write::WriteTx;

/// Answers given longer ago than this open no case.
pub const DETRACTOR_CASE_DAYS: i64 = 3;

/// The external id of the case an answer opens is this and the answer's external id.
pub const CASE_PREFIX: &str = "feedback-";

/// The longest quote of the answer in the case's summary, in characters.
const QUOTE_CHARS: usize = 400;

/// Runs in the transaction of every write of feedback, after the trust entries.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let opens = setting(tx, "detractor_opens_case").await? == "yes";
    if !opens {
        return Ok(());
    }
    let Detractor { nps_max, csat_max } = detractor_rule(tx).await?;
    let since = Utc::now() - Duration::days(DETRACTOR_CASE_DAYS);
    let answers = tx
        .writer_mut()
        .detractor_answers(ids, nps_max, csat_max, since, CASE_PREFIX)
        .await?;
    if answers.is_empty() {
        return Ok(());
    }
    let fi = tx.rules().trust.finnish();
    let mut opened = Vec::new();
    for a in &answers {
        let case_id = format!("{CASE_PREFIX}{}", a.external_id);
        let summary = summary(a, fi);
        if tx
            .writer_mut()
            .open_feedback_case(&case_id, &a.external_id, &summary)
            .await?
        {
            let mut entry = tx.acting().audit("cases", Some(&case_id), "open");
            entry.details = json!({
                "reason": "detractor",
                "feedback_id": a.external_id,
                "customer_id": a.customer_id,
                "nps": a.nps,
                "csat": a.csat,
            });
            tx.writer_mut().audit(&entry).await?;
            opened.push(case_id);
        }
    }
    if !opened.is_empty() {
        crate::cases::apply_sla(tx, &opened).await?;
    }
    Ok(())
}

/// A setting's stored value when it reads, else its default.
/// What makes an answer a detractor's, from the settings `detractor_nps_max` and
/// `detractor_csat_max` as this write sees them (the trust ledger and the case agree).
pub(crate) async fn detractor_rule(tx: &mut WriteTx) -> Result<Detractor> {
    let d = Detractor::default();
    Ok(Detractor {
        nps_max: setting(tx, "detractor_nps_max")
            .await?
            .parse()
            .unwrap_or(d.nps_max),
        csat_max: setting(tx, "detractor_csat_max")
            .await?
            .parse()
            .unwrap_or(d.csat_max),
    })
}

async fn setting(tx: &mut WriteTx, key: &str) -> Result<String> {
    let stored = tx.writer_mut().setting_text(key).await?;
    Ok(stored
        .and_then(|v| parse_setting(key, &v).ok())
        .or_else(|| default_setting(key).map(str::to_string))
        .unwrap_or_default())
}

/// The case's summary: the score, the survey and the answer's words.
pub fn summary(a: &DetractorAnswer, fi: bool) -> String {
    let score = match (a.nps, a.csat) {
        (Some(n), _) => format!("NPS {n}/10"),
        (None, Some(c)) => format!("CSAT {c}/5"),
        _ => String::new(),
    };
    let text = [&a.do_better, &a.comment, &a.did_well]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" / ");
    let quote = if text.is_empty() {
        if fi {
            "(ei vapaata tekstiä)".to_string()
        } else {
            "(no free text)".to_string()
        }
    } else if text.chars().count() > QUOTE_CHARS {
        let cut: String = text.chars().take(QUOTE_CHARS).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{text}\"")
    };
    match (&a.survey, fi) {
        (Some(s), true) => format!("Arvostelijan vastaus ({score}) kyselyyn {s}: {quote}"),
        (None, true) => format!("Arvostelijan vastaus ({score}): {quote}"),
        (Some(s), false) => format!("A detractor's answer ({score}) to {s}: {quote}"),
        (None, false) => format!("A detractor's answer ({score}): {quote}"),
    }
}

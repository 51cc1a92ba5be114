//! The claims a manager decides (`/claims`) and the repeat claimants
//! (`/claims/repeat`).
//!
//! - The approval queue: claims above the small-claim limit waiting for a decision,
//!   oldest first, a page at a time. Everyone signed in can read it (staff see the
//!   claim they filed waiting); only managers get the approve and refuse forms, and a
//!   decision from anyone else is refused with the 403 page. A decision needs a
//!   reason (the core keeps it with the claim and in the audit log).
//! - Repeat claimants: every signed-in role reads it. It informs; it never blocks the small-claim
//!   rule, and the page says so.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use kanta_core::CoreError;
use kanta_core::claims::Claim;
use kanta_domain::Currency;
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::retention::{count, percent};
use super::{PageError, core_error, form_allowed, render, render_status, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Claims a page of the queue holds.
const PAGE: u32 = 50;

/// The least role that decides a claim above the limit.
pub(crate) const DECIDES: Role = Role::Manager;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct QueueParams {
    after: Option<String>,
    /// After a decision: `approved` or `refused`, and the claim.
    done: Option<String>,
    claim: Option<String>,
}

/// One waiting claim, formatted.
pub(crate) struct QueueRow {
    id: String,
    customer_id: Option<String>,
    customer: String,
    case_id: String,
    case_href: String,
    amount: String,
    kind: String,
    claimed_by: String,
    claimed_at: String,
    waiting: String,
    /// The reason typed in a form sent back, and what was wrong with it.
    reason: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "claims.html")]
pub(crate) struct QueuePage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    /// Shows the approve and refuse forms.
    can_decide: bool,
    rows: Vec<QueueRow>,
    next: Option<String>,
    first_page: bool,
    notice: Option<String>,
    /// An error not tied to a row (the claim is no longer waiting).
    error: Option<String>,
}

/// The form of a decision.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// How long a claim has waited: `45 min`, `5 h`, `3 pv 4 h` / `3 d 4 h`.
pub(crate) fn waited(tr: &Tr, since: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    let (d, h, m) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    let day = tr.t("claims.unit.day");
    if d > 0 {
        format!("{d} {day} {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

fn queue_row(
    tr: &Tr,
    c: &Claim,
    store: Currency,
    now: DateTime<Utc>,
    users: &super::cases::Users,
) -> QueueRow {
    let currency = c.currency.parse::<Currency>().unwrap_or(store);
    QueueRow {
        id: c.id.clone(),
        customer_id: c.customer_id.clone(),
        customer: c
            .customer_name
            .clone()
            .or_else(|| c.customer_id.clone())
            .unwrap_or_default(),
        case_id: c.case_id.clone(),
        case_href: format!("/cases/{}", urlencode(&c.case_id)),
        amount: tr.money(c.amount_minor, currency),
        kind: tr.text_or(&format!("claims.kind.{}", c.kind), &c.kind),
        claimed_by: c
            .claimed_by
            .as_deref()
            .map_or_else(|| "–".into(), |a| super::cases::actor_words(tr, a, users)),
        claimed_at: tr.date_time(&c.claimed_at),
        waiting: waited(tr, c.claimed_at, now),
        reason: String::new(),
        error: None,
    }
}

/// The queue's page, with a form sent back on `sent` (claim id, reason, error).
async fn queue(
    s: &AppState,
    signed: &SignedIn,
    after: Option<String>,
    notice: Option<String>,
    sent: Option<(String, String, String)>,
) -> Result<QueuePage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let (page, currency, users) = tokio::join!(
        s.core.pending_claims(&acting, after.clone(), PAGE),
        s.core.currency(),
        super::cases::users(s)
    );
    let page = page.map_err(core_error(signed))?;
    let users = users?;
    let store = currency?;
    let now = Utc::now();
    let mut rows: Vec<QueueRow> = page
        .rows
        .iter()
        .map(|c| queue_row(&tr, c, store, now, &users))
        .collect();
    let mut error = None;
    if let Some((id, reason, message)) = sent {
        match rows.iter_mut().find(|r| r.id == id) {
            Some(r) => {
                r.reason = reason;
                r.error = Some(message);
            }
            None => error = Some(message),
        }
    }
    Ok(QueuePage {
        tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_decide: signed.user.role >= DECIDES,
        rows,
        next: page
            .next
            .map(|n| format!("/claims?after={}", urlencode(&n))),
        first_page: after.is_none(),
        notice,
        error,
    })
}

/// `GET /claims`: the approval queue.
pub(crate) async fn list(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<QueueParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let notice = match q.done.as_deref() {
        Some(d @ ("approved" | "refused")) => Some(
            tr.t(if d == "approved" {
                "claims.done.approved"
            } else {
                "claims.done.refused"
            })
            .replace("{claim}", q.claim.as_deref().unwrap_or("")),
        ),
        _ => None,
    };
    let after = q.after.filter(|a| !a.trim().is_empty());
    let view = queue(&s, &signed, after, notice, None).await?;
    Ok(render(&view))
}

/// `POST /claims/{id}/decision`: a manager approves or refuses, with a reason.
pub(crate) async fn decide(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<DecisionForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, DECIDES, &f.csrf)?;
    let tr = signed.tr;
    let reason = f.reason.trim().to_string();
    let send_back = async |message: String| -> Result<Response, PageError> {
        let view = queue(
            &s,
            &signed,
            None,
            None,
            Some((id.clone(), reason.clone(), message)),
        )
        .await?;
        Ok(render_status(&view, StatusCode::UNPROCESSABLE_ENTITY))
    };
    let approve = match f.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => return send_back(tr.t("claims.error.decision").to_string()).await,
    };
    if reason.is_empty() {
        return send_back(
            tr.t(if approve {
                "claims.error.reason-approve"
            } else {
                "claims.error.reason-refuse"
            })
            .to_string(),
        )
        .await;
    }
    match s
        .core
        .decide_claim(&signed.acting(), &id, approve, reason.clone())
        .await
    {
        Ok(_) => Ok(see_other(format!(
            "/claims?done={}&claim={}",
            if approve { "approved" } else { "refused" },
            urlencode(&id)
        ))),
        Err(CoreError::Invalid(problems)) => {
            let message = problems
                .iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        tr.field(&p.field),
                        super::cases::refusal(&tr, &p.reason)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            send_back(message).await
        }
        Err(CoreError::Conflict { message, .. }) => {
            send_back(super::cases::refusal(&tr, &message)).await
        }
        Err(CoreError::NotFound(_)) => {
            let message = tr.t("claims.error.not-found").replace("{claim}", &id);
            Err(PageError::Page(Box::new(crate::render::error_page(
                tr,
                Some(signed.me()),
                StatusCode::NOT_FOUND,
                &message,
            ))))
        }
        Err(e) => Err(core_error(&signed)(e)),
    }
}

/// One repeat claimant, formatted.
pub(crate) struct RepeatRowView {
    customer_id: String,
    name: String,
    claims: String,
    sum: String,
    approved: String,
    share_of_claims: String,
    share_of_sum: String,
    revenue: String,
    flagged: bool,
}

#[derive(Template)]
#[template(path = "claims_repeat.html")]
pub(crate) struct RepeatPage {
    tr: Tr,
    me: Option<Me>,
    flag_at: String,
    total_claims: String,
    total_sum: String,
    total_approved: String,
    rows: Vec<RepeatRowView>,
    flagged: String,
}

/// `GET /claims/repeat`: customers by claims in the last 12 months (every signed-in
/// role reads it; it changes nothing).
pub(crate) async fn repeat(
    State(s): State<AppState>,
    signed: SignedIn,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let (r, currency) = tokio::join!(
        s.core.repeat_claimants(&acting, Utc::now()),
        s.core.currency()
    );
    let r = r.map_err(core_error(&signed))?;
    let currency = r.currency.parse::<Currency>().unwrap_or(currency?);
    let rows: Vec<RepeatRowView> = r
        .rows
        .iter()
        .map(|row| RepeatRowView {
            customer_id: row.customer_id.clone(),
            name: row.name.clone().unwrap_or_else(|| row.customer_id.clone()),
            claims: count(&tr, row.claims),
            sum: tr.money(row.sum_minor, currency),
            approved: tr.money(row.approved_minor, currency),
            share_of_claims: percent(&tr, row.share_of_claims, 1),
            share_of_sum: percent(&tr, row.share_of_sum, 1),
            revenue: tr.money(row.revenue_minor, currency),
            flagged: row.flagged,
        })
        .collect();
    let flagged = r.rows.iter().filter(|row| row.flagged).count() as u64;
    let view = RepeatPage {
        tr,
        me: Some(signed.me()),
        flag_at: count(&tr, u64::from(r.flag_at)),
        total_claims: count(&tr, r.total_claims),
        total_sum: tr.money(r.total_minor, currency),
        total_approved: tr.money(r.total_approved_minor, currency),
        rows,
        flagged: count(&tr, flagged),
    };
    Ok(render(&view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use chrono::Duration;

    #[test]
    fn waiting_reads_in_minutes_hours_and_days() {
        let now = Utc::now();
        let en = Tr::new(Lang::En);
        let fi = Tr::new(Lang::Fi);
        assert_eq!(waited(&en, now - Duration::minutes(45), now), "45 min");
        assert_eq!(waited(&en, now - Duration::minutes(125), now), "2 h 5 min");
        assert_eq!(waited(&en, now - Duration::hours(76), now), "3 d 4 h");
        assert_eq!(waited(&fi, now - Duration::hours(76), now), "3 pv 4 h");
        // A claim dated ahead of the clock has waited for nothing.
        assert_eq!(waited(&en, now + Duration::minutes(5), now), "0 min");
    }
}

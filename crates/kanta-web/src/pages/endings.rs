//! Ending a relationship cleanly (`kanta_core::endings`):
//!
//! - `GET /endings` (staff and above): the managers' approval queue (proposals, oldest
//!   first, with approve / refuse forms for managers; a refusal needs its reason), the
//!   approved endings waiting for their date (a manager may cancel), and the recent
//!   endings.
//! - `POST /endings/{id}/decide`, `POST /endings/{id}/cancel`: 303 back with a notice, or
//!   the page again (422) with the problem named.
//! - `GET /customers/{id}/end`: the "End the relationship" form (reason, note, end date,
//!   notice yes/no) and the customer's endings; `POST` proposes (staff for their own
//!   customers, managers for anyone).
//! - `POST /customers/{id}/let-lapse`: "let lapse" on or off (no notice).
//!
//! The customer page shows [`EndingCard`]: the link to the form and the let-lapse
//! button.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use kanta_core::CoreError;
use kanta_core::endings::{DECIDES, Ending, EndingInput, EndingQuery};
use kanta_domain::schema::END_REASONS;
use kanta_store::Record;
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::{PageError, core_error, form_allowed, render, render_status, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::{Lang, Tr};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/endings", get(page))
        .route("/endings/{id}/decide", post(decide))
        .route("/endings/{id}/cancel", post(cancel))
        .route("/customers/{id}/end", get(form_page).post(propose))
        .route("/customers/{id}/let-lapse", post(let_lapse))
}

/// The customer page's part: the link to the form and the let-lapse button.
pub(crate) struct EndingCard {
    pub id: String,
    pub ended: bool,
    pub let_lapse: bool,
}

/// The card of a customer's record.
pub(crate) fn card(c: &Record) -> EndingCard {
    EndingCard {
        id: c.external_id.clone(),
        ended: c.get("status").as_text() == Some("ended"),
        let_lapse: matches!(c.get("let_lapse"), kanta_domain::Value::Bool(true)),
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    saved: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct ProposeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    end_on: String,
    #[serde(default)]
    notify: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct LapseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lapse: String,
}

pub(crate) struct Line {
    id: i64,
    customer_id: String,
    customer: String,
    customer_href: String,
    reason: String,
    note: Option<String>,
    end_on: String,
    notify: bool,
    status: String,
    status_key: String,
    proposer: String,
    proposed: String,
    decider: Option<String>,
    decided: Option<String>,
    decision_note: Option<String>,
    notice_queued: bool,
}

#[derive(Template)]
#[template(path = "endings.html")]
pub(crate) struct EndingsPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    can_decide: bool,
    notice: Option<String>,
    error: Option<String>,
    proposed: Vec<Line>,
    approved: Vec<Line>,
    recent: Vec<Line>,
}

#[derive(Template)]
#[template(path = "ending_form.html")]
pub(crate) struct EndingFormPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    id: String,
    name: String,
    ended: bool,
    let_lapse: bool,
    notice: Option<String>,
    error: Option<String>,
    reasons: Vec<(&'static str, String, bool)>,
    note: String,
    end_on: String,
    notify: bool,
    today: String,
    history: Vec<Line>,
}

fn reason_label(tr: &Tr, code: &str) -> String {
    tr.text_or(&format!("endings.reason.{code}"), code)
}

fn line(tr: &Tr, e: Ending) -> Line {
    Line {
        id: e.id,
        customer_href: format!("/customers/{}", urlencode(&e.customer_id)),
        customer: e
            .customer_name
            .clone()
            .unwrap_or_else(|| e.customer_id.clone()),
        customer_id: e.customer_id,
        reason: reason_label(tr, &e.reason),
        note: e.note,
        end_on: tr.day(&e.end_on),
        notify: e.notify,
        status: tr.text_or(&format!("endings.status.{}", e.status), &e.status),
        status_key: e.status,
        proposer: e
            .proposer_name
            .unwrap_or_else(|| tr.t("endings.by-system").to_string()),
        proposed: tr.date(&e.proposed_at),
        decider: e.decider_name,
        decided: e.decided_at.map(|t| tr.date(&t)),
        decision_note: e.decision_note,
        notice_queued: e.mail_id.is_some(),
    }
}

/// A core refusal in words for the page's language: each problem by its field
/// (`endings.field.*`); in Finnish the field's explanation (`endings.error.*`), in
/// English the core's own sentence.
fn problem_text(tr: &Tr, e: &CoreError) -> Option<String> {
    match e {
        CoreError::Invalid(p) => Some(
            p.iter()
                .map(|p| {
                    let reason = match tr.lang {
                        Lang::Fi => tr.text_or(&format!("endings.error.{}", p.field), &p.reason),
                        Lang::En => p.reason.clone(),
                    };
                    format!(
                        "{}: {}",
                        tr.text_or(&format!("endings.field.{}", p.field), &p.field),
                        reason
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        CoreError::Conflict { message, .. } => Some(match tr.lang {
            Lang::Fi => tr.t("endings.error.conflict").to_string(),
            Lang::En => message.clone(),
        }),
        CoreError::NotFound(m) => Some(match tr.lang {
            Lang::Fi => tr.t("endings.error.not-found").to_string(),
            Lang::En => m.clone(),
        }),
        _ => None,
    }
}

async fn view(
    s: &AppState,
    signed: &SignedIn,
    notice: Option<String>,
    error: Option<String>,
) -> Result<EndingsPage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let q = |statuses: &[&str], oldest_first: bool, limit: u32| EndingQuery {
        statuses: statuses.iter().map(|s| s.to_string()).collect(),
        customer: None,
        oldest_first,
        limit,
    };
    let (qp, qa, qr) = (
        q(&["proposed"], true, 200),
        q(&["approved"], true, 200),
        q(&["ended", "refused", "cancelled"], false, 50),
    );
    let (proposed, approved, recent) = tokio::try_join!(
        s.core.endings(&acting, &qp),
        s.core.endings(&acting, &qa),
        s.core.endings(&acting, &qr),
    )
    .map_err(core_error(signed))?;
    Ok(EndingsPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_decide: signed.user.role >= DECIDES,
        notice,
        error,
        proposed: proposed.into_iter().map(|e| line(&tr, e)).collect(),
        approved: approved.into_iter().map(|e| line(&tr, e)).collect(),
        recent: recent.into_iter().map(|e| line(&tr, e)).collect(),
        tr,
    })
}

fn saved_text(tr: &Tr, saved: Option<&str>) -> Option<String> {
    let key = match saved? {
        "proposed" => "endings.saved.proposed",
        "approved" => "endings.saved.approved",
        "refused" => "endings.saved.refused",
        "cancelled" => "endings.saved.cancelled",
        "lapse-on" => "endings.saved.lapse-on",
        "lapse-off" => "endings.saved.lapse-off",
        _ => return None,
    };
    Some(tr.t(key).to_string())
}

/// `GET /endings`.
async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    signed.require(Role::Staff)?;
    let notice = saved_text(&signed.tr, q.saved.as_deref());
    Ok(render(&view(&s, &signed, notice, None).await?))
}

/// `POST /endings/{id}/decide`.
async fn decide(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<DecideForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, DECIDES, &f.csrf)?;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "refuse" => false,
        _ => {
            let msg = signed.tr.t("endings.error.decision").to_string();
            let v = view(&s, &signed, None, Some(msg)).await?;
            return Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    match s
        .core
        .decide_ending(&signed.acting(), id, approve, Some(f.note.clone()))
        .await
    {
        Ok(e) => Ok(see_other(format!(
            "/endings?saved={}",
            if e.status == "refused" {
                "refused"
            } else {
                "approved"
            }
        ))),
        Err(e) => match problem_text(&signed.tr, &e) {
            Some(msg) => {
                let v = view(&s, &signed, None, Some(msg)).await?;
                Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

/// `POST /endings/{id}/cancel`.
async fn cancel(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<DecideForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    match s
        .core
        .cancel_ending(&signed.acting(), id, Some(f.note.clone()))
        .await
    {
        Ok(_) => Ok(see_other("/endings?saved=cancelled".into())),
        Err(e) => match problem_text(&signed.tr, &e) {
            Some(msg) => {
                let v = view(&s, &signed, None, Some(msg)).await?;
                Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

async fn form_view(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
    notice: Option<String>,
    sent: Option<(ProposeForm, String)>,
) -> Result<EndingFormPage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let rec = s
        .store
        .get(&kanta_domain::schema::CUSTOMERS, id)
        .await?
        .ok_or_else(|| super::not_found(tr, Some(signed.me())))?;
    let history = s
        .core
        .endings(
            &acting,
            &EndingQuery {
                customer: Some(id.to_string()),
                limit: 50,
                ..EndingQuery::default()
            },
        )
        .await
        .map_err(core_error(signed))?;
    let today = s.core.today().await?;
    let (form, error) = match sent {
        Some((f, e)) => (f, Some(e)),
        None => (
            ProposeForm {
                notify: Some("yes".into()),
                ..ProposeForm::default()
            },
            None,
        ),
    };
    let c = card(&rec);
    Ok(EndingFormPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        id: id.to_string(),
        name: rec
            .get("name")
            .as_text()
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string()),
        ended: c.ended,
        let_lapse: c.let_lapse,
        notice,
        error,
        reasons: END_REASONS
            .iter()
            .map(|r| (*r, reason_label(&tr, r), form.reason == *r))
            .collect(),
        note: form.note.clone(),
        end_on: form.end_on.clone(),
        notify: form.notify.is_some(),
        today: today.format("%Y-%m-%d").to_string(),
        history: history.into_iter().map(|e| line(&tr, e)).collect(),
        tr,
    })
}

/// `GET /customers/{id}/end`.
async fn form_page(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    signed.require(Role::Staff)?;
    let notice = saved_text(&signed.tr, q.saved.as_deref());
    Ok(render(&form_view(&s, &signed, &id, notice, None).await?))
}

/// `POST /customers/{id}/end`.
async fn propose(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<ProposeForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    let input = EndingInput {
        reason: f.reason.clone(),
        note: Some(f.note.clone()),
        end_on: Some(f.end_on.clone()),
        notify: f.notify.is_some(),
    };
    match s.core.propose_ending(&signed.acting(), &id, input).await {
        Ok(_) => Ok(see_other(format!(
            "/customers/{}/end?saved=proposed",
            urlencode(&id)
        ))),
        Err(e) => match problem_text(&signed.tr, &e) {
            Some(msg) => {
                let v = form_view(&s, &signed, &id, None, Some((f.clone(), msg))).await?;
                Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

/// `POST /customers/{id}/let-lapse`.
async fn let_lapse(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<LapseForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    let on = f.lapse == "yes";
    match s.core.set_let_lapse(&signed.acting(), &id, on).await {
        Ok(_) => Ok(see_other(format!(
            "/customers/{}/end?saved={}",
            urlencode(&id),
            if on { "lapse-on" } else { "lapse-off" }
        ))),
        Err(CoreError::NotFound(_)) => Err(super::not_found(signed.tr, Some(signed.me()))),
        Err(e) => Err(core_error(&signed)(e)),
    }
}

//! A customer's privacy: the consent card on the customer page (current consent and
//! its ledger, for every role), and for admins `/customers/{id}/privacy`: the export
//! (`export.zip`, `export.json`, each audited by the core) and the erasure, which asks
//! for the reason and for the customer's id typed again before anything happens.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kanta_core::CoreError;
use kanta_store::accounts::Role;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;
use crate::pages::{PageError, core_error, form_allowed, not_found, render_status, urlencode};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers/{id}/privacy", get(page))
        .route("/customers/{id}/export.zip", get(export_zip))
        .route("/customers/{id}/export.json", get(export_json))
        .route("/customers/{id}/erase", post(erase))
        .route("/customers/{id}/consent-request", post(consent_request))
}

/// Entries of the consent ledger the customer page lists, newest first.
const CARD_ENTRIES: usize = 8;

/// One entry of the ledger as a line.
pub(crate) struct ConsentLine {
    pub at: String,
    pub what: String,
    pub source: String,
    /// The wording version and the address, when known.
    pub detail: String,
}

/// The customer page's consent card.
pub(crate) struct ConsentCard {
    pub id: String,
    pub lines: Vec<ConsentLine>,
    /// More entries than the card lists.
    pub total: usize,
    /// "Do not contact" is on.
    pub do_not_contact: bool,
    /// The customer's data was erased (on this day).
    pub erased: Option<String>,
    /// The user may open the privacy page (admins).
    pub admin: bool,
    /// The user may mail a double opt-in request (staff and above), and the
    /// customer can get one (an email, no consent yet, not "do not contact").
    pub can_request: bool,
    pub csrf: String,
    /// After a request was mailed.
    pub requested: bool,
}

fn line(tr: &Tr, e: &kanta_store::privacy::ConsentEntry) -> ConsentLine {
    let value = match (e.purpose.as_str(), e.value) {
        ("do_not_contact", Some(true)) => tr.t("privacy.consent.dnc-on"),
        ("do_not_contact", _) => tr.t("privacy.consent.dnc-off"),
        (_, Some(true)) => tr.t("privacy.consent.given"),
        (_, Some(false)) => tr.t("privacy.consent.withdrawn"),
        (_, None) => tr.t("privacy.consent.unknown"),
    };
    let purpose = tr.text_or(&format!("privacy.purpose.{}", e.purpose), &e.purpose);
    let mut detail = Vec::new();
    if let Some(w) = &e.wording {
        detail.push(format!("{} {w}", tr.t("privacy.consent.wording")));
    }
    if let Some(a) = &e.address {
        detail.push(format!("{} {a}", tr.t("privacy.consent.address")));
    }
    ConsentLine {
        at: tr.date_time(&e.at),
        what: format!("{purpose}: {value}"),
        source: tr.text_or(&format!("privacy.source.{}", e.source), &e.source),
        detail: detail.join(" · "),
    }
}

/// The card of customer `c` (its ledger read through the core).
pub(crate) async fn card(
    s: &AppState,
    signed: &SignedIn,
    c: &kanta_store::Record,
) -> Result<ConsentCard, PageError> {
    let tr = signed.tr;
    let history = s
        .core
        .consent_history(&signed.acting(), &c.external_id)
        .await?;
    let total = history.len();
    let lines = history
        .iter()
        .rev()
        .take(CARD_ENTRIES)
        .map(|e| line(&tr, e))
        .collect();
    Ok(ConsentCard {
        id: c.external_id.clone(),
        lines,
        total,
        do_not_contact: matches!(c.get("do_not_contact"), kanta_domain::Value::Bool(true)),
        erased: match c.get("erased_at") {
            kanta_domain::Value::Time(t) => Some(tr.date(t)),
            _ => None,
        },
        admin: signed.me().role >= Role::Admin,
        can_request: signed.me().role >= Role::Staff
            && c.text("email").is_some_and(|e| !e.trim().is_empty())
            && !matches!(c.get("do_not_contact"), kanta_domain::Value::Bool(true))
            && !matches!(c.get("marketing_consent"), kanta_domain::Value::Bool(true)),
        csrf: signed.csrf.clone(),
        requested: false,
    })
}

#[derive(Template)]
#[template(path = "privacy.html")]
pub(crate) struct PrivacyPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    id: String,
    name: String,
    lines: Vec<ConsentLine>,
    reason: String,
    confirm: String,
    errors: Vec<(&'static str, String)>,
}

impl PrivacyPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| e.as_str())
    }
}

async fn view(s: &AppState, signed: &SignedIn, id: &str) -> Result<PrivacyPage, PageError> {
    signed.require(Role::Admin)?;
    let tr = signed.tr;
    let c = s
        .store
        .get(&kanta_domain::schema::CUSTOMERS, id)
        .await?
        .ok_or_else(|| not_found(tr, Some(signed.me())))?;
    let history = s
        .core
        .consent_history(&signed.acting(), id)
        .await
        .map_err(core_error(signed))?;
    Ok(PrivacyPage {
        tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        id: c.external_id.clone(),
        name: c.text("name").unwrap_or(&c.external_id).to_string(),
        lines: history.iter().rev().map(|e| line(&tr, e)).collect(),
        reason: String::new(),
        confirm: String::new(),
        errors: Vec::new(),
    })
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let v = view(&s, &signed, &id).await?;
    Ok(render_status(&v, StatusCode::OK))
}

async fn export(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
) -> Result<kanta_core::privacy::CustomerExport, PageError> {
    signed.require(Role::Admin)?;
    match s.core.export_customer(&signed.acting(), id).await {
        Err(CoreError::NotFound(_)) => Err(not_found(signed.tr, Some(signed.me()))),
        r => r.map_err(core_error(signed)),
    }
}

/// A download's headers: its type and a file name made of the customer's id.
fn download(id: &str, ext: &str, mime: &str, body: Vec<u8>) -> Response {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"customer-{safe}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn export_zip(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let e = export(&s, &signed, &id).await?;
    let zip = e.to_zip().map_err(core_error(&signed))?;
    Ok(download(&id, "zip", "application/zip", zip))
}

pub(crate) async fn export_json(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let e = export(&s, &signed, &id).await?;
    let body = serde_json::to_vec_pretty(&e.to_json()).unwrap_or_default();
    Ok(download(&id, "json", "application/json", body))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct EraseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
}

/// The erasure: the reason and the id typed again are checked first (422 with the
/// form kept otherwise); then the core erases and the page says what stays.
pub(crate) async fn erase(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(f): Form<EraseForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Admin, &f.csrf)?;
    let mut v = view(&s, &signed, &id).await?;
    let tr = signed.tr;
    v.reason = f.reason.clone();
    v.confirm = f.confirm.clone();
    if f.reason.trim().is_empty() {
        v.errors
            .push(("reason", tr.t("privacy.erase.reason-required").into()));
    }
    if f.confirm.trim() != v.id {
        v.errors
            .push(("confirm", tr.t("privacy.erase.confirm-mismatch").into()));
    }
    if !v.errors.is_empty() {
        return Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let erased = match s
        .core
        .erase_customer(&signed.acting(), &id, &f.reason)
        .await
    {
        Ok(e) => e,
        Err(CoreError::Invalid(p)) => {
            v.errors.extend(p.into_iter().map(|p| ("reason", p.reason)));
            return Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY));
        }
        Err(e) => return Err(core_error(&signed)(e)),
    };
    let page = ErasedPage {
        tr,
        me: Some(signed.me()),
        href: format!("/customers/{}", urlencode(&erased.new_id)),
        new_id: erased.new_id,
    };
    Ok(render_status(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "privacy_erased.html")]
pub(crate) struct ErasedPage {
    tr: Tr,
    me: Option<Me>,
    new_id: String,
    href: String,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RequestForm {
    #[serde(default)]
    csrf: String,
}

/// Mails the customer a double opt-in link for marketing, then 303 back to their page.
pub(crate) async fn consent_request(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Form(f): Form<RequestForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    match s
        .core
        .request_marketing_consent(&signed.acting(), &id)
        .await
    {
        Ok(_) => Ok(crate::pages::see_other(format!(
            "/customers/{}?saved=consent-request#consent-card",
            urlencode(&id)
        ))),
        Err(CoreError::NotFound(_)) => Err(not_found(signed.tr, Some(signed.me()))),
        Err(e) => Err(core_error(&signed)(e)),
    }
}

//! The public survey pages, for customers who are not signed in (issue 13):
//!
//! - `/s/{token}`: a personal link's answer page (GET the form, POST the answer, then
//!   303 to `/s/{token}/thanks`); a link that is expired, altered, used or whose
//!   survey is closed gets a clear page of its own (410 or 400), never an error.
//! - `/s/{token}/unsubscribe`: one click from surveys (GET shows the button, POST
//!   records it through the core; also the mail's RFC 8058 `List-Unsubscribe`, so a
//!   POST with `List-Unsubscribe=One-Click` is enough).
//! - `/o/{token}/unsubscribe`: one click from offers by email (marketing consent off;
//!   GET shows the button in the customer's language, POST records it through the
//!   core, also as RFC 8058's one-click POST); an altered link is a 400 page.
//! - `/q/{survey}`: the QR code's anonymous page, asking for a loyalty number or an
//!   email when the survey says so.
//!
//! Server-rendered, no JavaScript, mobile first (fits 375 px), every input labelled,
//! Finnish or English by the customer's language with a switch (`?lang=`). Every
//! answer carries `Cache-Control: no-store`, `Referrer-Policy: no-referrer` and
//! `X-Robots-Tag: noindex`. Requests are limited by the setting `survey_rate_limit` a
//! minute (a small fixed-window counter in this process; over it, a 429 page): an
//! answer sent, to the setting per address and per link and ten times it per survey;
//! opening a page, ten times the setting per address (customers of a café share one)
//! and the setting per link; unsubscribing counts apart (ten times the setting per
//! address), so answering never blocks it.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use kanta_core::feedback_settings::FeedbackRules;
use kanta_core::offers::OfferUnsubscribe;
use kanta_core::privacy::OptIn;
use kanta_core::surveys::{AnswerInput, Gate, PublicSurvey, PublicView, Question};
use kanta_core::{Channel, CoreError};
use serde::Deserialize;

use crate::AppState;
use crate::i18n::{Lang, Tr};
use crate::render::render;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/s/{token}", get(link_page).post(link_answer))
        .route("/s/{token}/thanks", get(link_thanks))
        .route(
            "/s/{token}/unsubscribe",
            get(unsubscribe_page).post(unsubscribe),
        )
        .route(
            "/o/{token}/unsubscribe",
            get(offer_unsubscribe_page).post(offer_unsubscribe),
        )
        .route("/c/{token}", get(opt_in_page).post(opt_in_confirm))
        .route("/q/{survey}", get(qr_page).post(qr_answer))
        .route("/q/{survey}/thanks", get(qr_thanks))
}

/// `?lang=` on every public page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LangQuery {
    lang: Option<String>,
}

/// What a request does, for the rate limit: each kind counts in buckets of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Opening an answer page (`GET /s/`, `/q/`): ten times the setting per address
    /// (a café's customers share one), the setting per link.
    View,
    /// Sending an answer (`POST /s/`, `/q/`): the setting per address and per link,
    /// ten times the setting per survey.
    Answer,
    /// The unsubscribe page and its button: ten times the setting per address, never
    /// blocked by answering.
    Unsubscribe,
}

/// Whether this request is within the limits of `survey_rate_limit` a minute (see
/// [`Use`]): per address, per link (`token`) and per survey (the QR page's).
async fn rate_ok(
    s: &AppState,
    what: Use,
    ip: Option<&str>,
    token: Option<&str>,
    survey: Option<&str>,
) -> bool {
    let limit = match s.core.store_settings().await {
        Ok(st) => FeedbackRules::from_settings(&st).rate_limit,
        Err(_) => FeedbackRules::default().rate_limit,
    };
    let many = limit.saturating_mul(10);
    // Keyed by the store too: apps over different stores in one process (tests)
    // count apart.
    let store = s.store.url();
    let kind = match what {
        Use::View => "v",
        Use::Answer => "p",
        Use::Unsubscribe => "u",
    };
    let mut keys = Vec::with_capacity(3);
    if let Some(ip) = ip {
        let per_address = if what == Use::Answer { limit } else { many };
        keys.push((format!("{store} {kind}a:{ip}"), per_address));
    }
    if let Some(t) = token {
        // The signature part identifies the link; no need to keep the whole token.
        let sig = t.rsplit('.').next().unwrap_or(t);
        let sig = sig.get(..sig.len().min(24)).unwrap_or(sig);
        let per_link = if what == Use::Unsubscribe {
            many
        } else {
            limit
        };
        keys.push((format!("{store} {kind}t:{sig}"), per_link));
    }
    if let Some(id) = survey
        && what == Use::Answer
    {
        keys.push((format!("{store} {kind}s:{id}"), many));
    }
    crate::limits::allowed(&keys)
}

/// The headers of every public survey page.
fn private(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    r
}

fn with_status(mut r: Response, status: StatusCode) -> Response {
    *r.status_mut() = status;
    private(r)
}

/// One question as the form shows it.
pub(crate) struct QuestionView {
    pub field: String,
    pub text: String,
    /// `scale`, `yes_no` or `text`.
    pub kind: &'static str,
    /// (value, label) of each choice of a scale or yes/no.
    pub options: Vec<(String, String)>,
    /// What the ends of a scale mean.
    pub low: String,
    pub high: String,
    /// What the customer gave (kept when the form comes back).
    pub value: String,
    pub error: Option<String>,
}

/// The answer form (a personal link's, the QR code's, a manager's preview).
#[derive(Template)]
#[template(path = "public_survey.html")]
pub(crate) struct FormPage {
    pub tr: Tr,
    /// Where the form posts ("" for a preview: no form).
    pub action: String,
    pub greeting: String,
    pub questions: Vec<QuestionView>,
    /// What the QR page asks (`loyalty`, `email`), else empty.
    pub asks: String,
    pub who: String,
    pub who_error: Option<String>,
    pub error: Option<String>,
    /// The same page in the other language.
    pub switch_url: String,
    pub switch_label: &'static str,
    /// Where a personal link's customer unsubscribes ("" on the QR page).
    pub unsubscribe_url: String,
}

/// A page of one message: a link's state, thanks, unsubscribe, too many requests.
#[derive(Template)]
#[template(path = "public_survey_message.html")]
pub(crate) struct MessagePage {
    pub tr: Tr,
    pub title: &'static str,
    pub text: &'static str,
    /// A form with one button (unsubscribe), when given: (action, label).
    pub button: Option<(String, &'static str)>,
    pub switch_url: String,
    pub switch_label: &'static str,
}

fn scale(tr: &Tr, lo: i64, hi: i64) -> Vec<(String, String)> {
    let _ = tr;
    (lo..=hi).map(|n| (n.to_string(), n.to_string())).collect()
}

/// The form's view of the questions in `tr`'s language, with what was given and
/// the problems by field.
pub(crate) fn question_views(
    tr: &Tr,
    questions: &[Question],
    given: &AnswerInput,
    problems: &[kanta_core::Problem],
) -> Vec<QuestionView> {
    questions
        .iter()
        .map(|q| {
            let (kind, options, low, high) = match q.field.as_str() {
                "nps" => (
                    "scale",
                    scale(tr, 0, 10),
                    tr.t("surveys.public.nps-low"),
                    tr.t("surveys.public.nps-high"),
                ),
                "csat" => (
                    "scale",
                    scale(tr, 1, 5),
                    tr.t("surveys.public.csat-low"),
                    tr.t("surveys.public.csat-high"),
                ),
                "ces" => (
                    "scale",
                    scale(tr, 1, 7),
                    tr.t("surveys.public.ces-low"),
                    tr.t("surveys.public.ces-high"),
                ),
                "yes_no" => (
                    "yes_no",
                    vec![
                        ("yes".into(), tr.t("surveys.public.yes").into()),
                        ("no".into(), tr.t("surveys.public.no").into()),
                    ],
                    "",
                    "",
                ),
                _ => ("text", Vec::new(), "", ""),
            };
            let error = problems.iter().find(|p| p.field == q.field).map(|p| {
                if p.reason.contains("at least one") {
                    tr.t("surveys.public.empty").to_string()
                } else if kind == "text" {
                    tr.t("surveys.public.too-long").to_string()
                } else {
                    tr.t("surveys.public.pick").to_string()
                }
            });
            QuestionView {
                field: q.field.clone(),
                text: q.text(tr.code()).to_string(),
                kind,
                options,
                low: low.to_string(),
                high: high.to_string(),
                value: given.get(&q.field).cloned().unwrap_or_default(),
                error,
            }
        })
        .collect()
}

fn switch(path: &str, lang: Lang) -> (String, &'static str) {
    let other = lang.other();
    let label = match other {
        Lang::Fi => "Suomeksi",
        Lang::En => "In English",
    };
    (format!("{path}?lang={}", other.code()), label)
}

/// The page language: `?lang=`, else the customer's, else the store's.
async fn lang_of(s: &AppState, q: &LangQuery, survey: Option<&PublicSurvey>) -> Lang {
    if let Some(l) = q.lang.as_deref().and_then(Lang::parse) {
        return l;
    }
    if let Some(l) = survey
        .and_then(|s| s.locale.as_deref())
        .and_then(Lang::parse)
    {
        return l;
    }
    s.core
        .store_settings()
        .await
        .ok()
        .and_then(|st| Lang::parse(&st.language))
        .unwrap_or(Lang::Fi)
}

/// The language of a page that knows no customer: `?lang=`, else the browser's.
fn request_lang(q: &LangQuery, headers: &HeaderMap) -> Lang {
    Lang::of_request(q.lang.as_deref(), headers)
}

fn message(
    lang: Lang,
    path: &str,
    title: &'static str,
    text: &'static str,
    status: StatusCode,
) -> Response {
    let tr = Tr::new(lang);
    let (switch_url, switch_label) = switch(path, lang);
    with_status(
        render(&MessagePage {
            title: tr.t(title),
            text: tr.t(text),
            button: None,
            switch_url,
            switch_label,
            tr,
        }),
        status,
    )
}

/// The page of a gate that is not open.
fn gate_page(lang: Lang, path: &str, gate: Gate) -> Response {
    let (title, text, status) = match gate {
        Gate::Expired => (
            "surveys.public.expired-title",
            "surveys.public.expired",
            StatusCode::GONE,
        ),
        Gate::Used => (
            "surveys.public.used-title",
            "surveys.public.used",
            StatusCode::GONE,
        ),
        Gate::Altered | Gate::Malformed => (
            "surveys.public.altered-title",
            "surveys.public.altered",
            StatusCode::BAD_REQUEST,
        ),
        Gate::Closed => (
            "surveys.public.closed-title",
            "surveys.public.closed",
            StatusCode::GONE,
        ),
        Gate::Unknown => (
            "surveys.public.unknown-title",
            "surveys.public.unknown",
            StatusCode::NOT_FOUND,
        ),
        Gate::Open | Gate::Answered => (
            "surveys.public.thanks-title",
            "surveys.public.thanks",
            StatusCode::OK,
        ),
    };
    message(lang, path, title, text, status)
}

fn too_many(lang: Lang, path: &str) -> Response {
    let mut r = message(
        lang,
        path,
        "surveys.public.busy-title",
        "surveys.public.busy",
        StatusCode::TOO_MANY_REQUESTS,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    r
}

fn unavailable(lang: Lang, path: &str, e: &CoreError) -> Response {
    tracing::error!(error = %e, "public survey page failed");
    message(
        lang,
        path,
        "surveys.public.down-title",
        "surveys.public.down",
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    lang: Lang,
    path: &str,
    survey: &PublicSurvey,
    given: &AnswerInput,
    problems: &[kanta_core::Problem],
    who: &str,
    unsubscribe_url: String,
    asks: &str,
) -> Response {
    let tr = Tr::new(lang);
    let greeting = match &survey.name {
        Some(n) => tr.t("surveys.public.hello").replace("{name}", n),
        None => tr.t("surveys.public.hello-anon").to_string(),
    };
    let (switch_url, switch_label) = switch(path, lang);
    let error = (!problems.is_empty()).then(|| tr.t("surveys.public.check").to_string());
    let page = FormPage {
        action: format!("{path}?lang={}", lang.code()),
        greeting,
        questions: question_views(&tr, &survey.questions, given, problems),
        asks: asks.to_string(),
        who: who.to_string(),
        who_error: problems
            .iter()
            .any(|p| p.field == "who")
            .then(|| tr.t("surveys.public.who-bad").to_string()),
        error,
        switch_url,
        switch_label,
        unsubscribe_url,
        tr,
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    with_status(render(&page), status)
}

fn ip_of(s: &AppState, headers: &HeaderMap, ext: &axum::http::Extensions) -> Option<String> {
    crate::auth::client_ip(&s.core, headers, ext)
}

/// The form's fields as the core takes them (unknown names are ignored by it).
fn answers_of(form: &HashMap<String, String>) -> AnswerInput {
    form.iter()
        .filter(|(k, _)| kanta_domain::schema::SURVEY_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn link_path(token: &str) -> String {
    format!("/s/{token}")
}

/// `GET /s/{token}`: the answer form of a personal link.
async fn link_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = link_path(&token);
    let ip = ip_of(&s, &headers, &ext);
    if !rate_ok(&s, Use::View, ip.as_deref(), Some(&token), None).await {
        return too_many(request_lang(&q, &headers), &path);
    }
    match s.core.open_survey_link(&token).await {
        Ok(PublicView {
            gate: Gate::Open,
            survey: Some(survey),
            ..
        }) => {
            let lang = lang_of(&s, &q, Some(&survey)).await;
            form_page(
                lang,
                &path,
                &survey,
                &AnswerInput::new(),
                &[],
                "",
                format!("{path}/unsubscribe?lang={}", lang.code()),
                "",
            )
        }
        Ok(v) => {
            let lang = lang_of(&s, &q, v.survey.as_ref()).await;
            gate_page(lang, &path, v.gate)
        }
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

/// `POST /s/{token}`: the answer; 303 to the thanks page, the form again (422) with
/// what is wrong, or the link's own page.
async fn link_answer(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let path = link_path(&token);
    let ip = ip_of(&s, &headers, &ext);
    if !rate_ok(&s, Use::Answer, ip.as_deref(), Some(&token), None).await {
        return too_many(request_lang(&q, &headers), &path);
    }
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(Lang::Fi);
    let given = answers_of(&form);
    match s
        .core
        .answer_survey_link(&token, &given, lang.code(), Channel::Ui, ip)
        .await
    {
        Ok(v) if v.gate == Gate::Answered => private(super::see_other(format!(
            "{path}/thanks?lang={}",
            lang.code()
        ))),
        Ok(v) => gate_page(lang, &path, v.gate),
        Err(CoreError::Invalid(problems)) => match s.core.open_survey_link(&token).await {
            Ok(PublicView {
                survey: Some(survey),
                ..
            }) => form_page(
                lang,
                &path,
                &survey,
                &given,
                &problems,
                "",
                format!("{path}/unsubscribe?lang={}", lang.code()),
                "",
            ),
            Ok(v) => gate_page(lang, &path, v.gate),
            Err(e) => unavailable(lang, &path, &e),
        },
        Err(e) => unavailable(lang, &path, &e),
    }
}

/// `GET /s/{token}/thanks`.
async fn link_thanks(
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = request_lang(&q, &headers);
    message(
        lang,
        &format!("/s/{token}/thanks"),
        "surveys.public.thanks-title",
        "surveys.public.thanks",
        StatusCode::OK,
    )
}

/// `GET /s/{token}/unsubscribe`: a button that unsubscribes (a GET changes nothing:
/// mail scanners open links).
async fn unsubscribe_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = format!("/s/{token}/unsubscribe");
    if let Err(r) = link_gate(&s, &q, &headers, &ext, &token, &path).await {
        return r;
    }
    match s.core.open_survey_unsubscribe(&token).await {
        Ok(v) if v.gate == Gate::Open => {
            let lang = lang_of(&s, &q, v.survey.as_ref()).await;
            let done = v.survey.as_ref().is_some_and(|s| s.unsubscribed);
            let keys = [
                "surveys.public.unsubscribe-title",
                "surveys.public.unsubscribe",
                "surveys.public.unsubscribed",
                "surveys.public.unsubscribe-button",
            ];
            unsubscribe_confirmation(lang, &path, keys, done)
        }
        Ok(v) => {
            let lang = lang_of(&s, &q, v.survey.as_ref()).await;
            gate_page(lang, &path, v.gate)
        }
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

/// The confirmation page of an unsubscribe link: the one button that does it (its
/// form posts back to `path`), or, once `done`, that it is done. `keys` are the
/// texts' keys: title, the question, "done", the button.
fn unsubscribe_confirmation(
    lang: Lang,
    path: &str,
    keys: [&'static str; 4],
    done: bool,
) -> Response {
    let tr = Tr::new(lang);
    let [title, text, done_text, button] = keys;
    let (switch_url, switch_label) = switch(path, lang);
    let page = MessagePage {
        title: tr.t(title),
        text: tr.t(if done { done_text } else { text }),
        button: (!done).then(|| (format!("{path}?lang={}", lang.code()), tr.t(button))),
        switch_url,
        switch_label,
        tr,
    };
    private(render(&page))
}

/// `POST /s/{token}/unsubscribe`: records it (also RFC 8058's one-click POST).
async fn unsubscribe(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = format!("/s/{token}/unsubscribe");
    let ip = match link_gate(&s, &q, &headers, &ext, &token, &path).await {
        Ok(ip) => ip,
        Err(r) => return r,
    };
    match s
        .core
        .unsubscribe_survey_link(&token, Channel::Ui, ip)
        .await
    {
        Ok(v) if v.gate == Gate::Answered => {
            let lang = lang_of(&s, &q, v.survey.as_ref()).await;
            message(
                lang,
                &path,
                "surveys.public.unsubscribe-title",
                "surveys.public.unsubscribed",
                StatusCode::OK,
            )
        }
        Ok(v) => {
            let lang = lang_of(&s, &q, v.survey.as_ref()).await;
            gate_page(lang, &path, v.gate)
        }
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

/// The page language of an offer mail's link: `?lang=`, else the customer's, else
/// the store's.
async fn offer_lang(s: &AppState, q: &LangQuery, locale: Option<&str>) -> Lang {
    if let Some(l) = q.lang.as_deref().or(locale).and_then(Lang::parse) {
        return l;
    }
    lang_of(s, q, None).await
}

/// The answer of an offer link: the button, "done", or the altered link's page.
async fn offer_unsubscribe_answer(
    s: &AppState,
    q: &LangQuery,
    token: &str,
    v: OfferUnsubscribe,
) -> Response {
    let path = format!("/o/{token}/unsubscribe");
    match v {
        OfferUnsubscribe::Valid { locale, done } => {
            let lang = offer_lang(s, q, locale.as_deref()).await;
            let keys = [
                "offers.unsubscribe.title",
                "offers.unsubscribe.text",
                "offers.unsubscribe.done",
                "offers.unsubscribe.button",
            ];
            unsubscribe_confirmation(lang, &path, keys, done)
        }
        OfferUnsubscribe::Invalid => message(
            offer_lang(s, q, None).await,
            &path,
            "offers.unsubscribe.invalid-title",
            "offers.unsubscribe.invalid",
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// `GET /o/{token}/unsubscribe`: the button that unsubscribes from offers (a GET
/// changes nothing: mail scanners open links).
async fn offer_unsubscribe_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = format!("/o/{token}/unsubscribe");
    if let Err(r) = link_gate(&s, &q, &headers, &ext, &token, &path).await {
        return r;
    }
    match s.core.open_offer_unsubscribe(&token).await {
        Ok(v) => offer_unsubscribe_answer(&s, &q, &token, v).await,
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

/// `POST /o/{token}/unsubscribe`: marketing consent off (also RFC 8058's one-click
/// POST).
async fn offer_unsubscribe(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = format!("/o/{token}/unsubscribe");
    let ip = match link_gate(&s, &q, &headers, &ext, &token, &path).await {
        Ok(ip) => ip,
        Err(r) => return r,
    };
    match s.core.unsubscribe_offer_link(&token, Channel::Ui, ip).await {
        Ok(v) => offer_unsubscribe_answer(&s, &q, &token, v).await,
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

/// The start of a mail link's handler (unsubscribe, double opt-in): the client's
/// address, or the 429 page when it or the link went over the limit.
async fn link_gate(
    s: &AppState,
    q: &LangQuery,
    headers: &HeaderMap,
    ext: &axum::http::Extensions,
    token: &str,
    path: &str,
) -> Result<Option<String>, Response> {
    let ip = ip_of(s, headers, ext);
    if !rate_ok(s, Use::Unsubscribe, ip.as_deref(), Some(token), None).await {
        return Err(too_many(request_lang(q, headers), path));
    }
    Ok(ip)
}

/// The answer of a double opt-in link: the button, "done", expired, or unknown.
async fn opt_in_answer(s: &AppState, q: &LangQuery, token: &str, v: OptIn) -> Response {
    let path = format!("/c/{token}");
    match v {
        OptIn::Open { locale, done } => {
            let lang = offer_lang(s, q, locale.as_deref()).await;
            let keys = [
                "privacy.optin.title",
                "privacy.optin.text",
                "privacy.optin.done",
                "privacy.optin.button",
            ];
            unsubscribe_confirmation(lang, &path, keys, done)
        }
        OptIn::Expired { locale } => message(
            offer_lang(s, q, locale.as_deref()).await,
            &path,
            "privacy.optin.title",
            "privacy.optin.expired",
            StatusCode::GONE,
        ),
        OptIn::Invalid => message(
            offer_lang(s, q, None).await,
            &path,
            "privacy.optin.title",
            "privacy.optin.invalid",
            StatusCode::BAD_REQUEST,
        ),
    }
}

/// `GET /c/{token}`: the button that gives marketing consent (a GET changes nothing:
/// mail scanners open links).
async fn opt_in_page(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = format!("/c/{token}");
    if let Err(r) = link_gate(&s, &q, &headers, &ext, &token, &path).await {
        return r;
    }
    match s.core.open_opt_in(&token).await {
        Ok(v) => opt_in_answer(&s, &q, &token, v).await,
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

/// `POST /c/{token}`: marketing consent given (double opt-in), recorded in the
/// consent ledger with the address and the wording version.
async fn opt_in_confirm(
    State(s): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = format!("/c/{token}");
    let ip = match link_gate(&s, &q, &headers, &ext, &token, &path).await {
        Ok(ip) => ip,
        Err(r) => return r,
    };
    match s.core.confirm_opt_in(&token, Channel::Ui, ip).await {
        Ok(v) => opt_in_answer(&s, &q, &token, v).await,
        Err(e) => unavailable(request_lang(&q, &headers), &path, &e),
    }
}

fn qr_path(survey: &str) -> String {
    format!("/q/{}", kanta_core::surveys::path_segment(survey))
}

/// `GET /q/{survey}`: the QR code's anonymous answer form.
async fn qr_page(
    State(s): State<AppState>,
    Path(survey): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
) -> Response {
    let path = qr_path(&survey);
    let lang = request_lang(&q, &headers);
    let ip = ip_of(&s, &headers, &ext);
    if !rate_ok(&s, Use::View, ip.as_deref(), None, None).await {
        return too_many(lang, &path);
    }
    match s.core.open_survey_qr(&survey).await {
        Ok(PublicView {
            gate: Gate::Open,
            survey: Some(sv),
            ..
        }) => {
            let asks = sv.asks.clone();
            form_page(
                lang,
                &path,
                &sv,
                &AnswerInput::new(),
                &[],
                "",
                String::new(),
                if asks == "none" { "" } else { &asks },
            )
        }
        Ok(v) => gate_page(lang, &path, v.gate),
        Err(e) => unavailable(lang, &path, &e),
    }
}

/// `POST /q/{survey}`: an anonymous answer (tied to a customer when the loyalty number
/// or email asked for is found).
async fn qr_answer(
    State(s): State<AppState>,
    Path(survey): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let path = qr_path(&survey);
    let lang = request_lang(&q, &headers);
    let ip = ip_of(&s, &headers, &ext);
    if !rate_ok(&s, Use::Answer, ip.as_deref(), None, Some(&survey)).await {
        return too_many(lang, &path);
    }
    let given = answers_of(&form);
    let who = form.get("who").map(String::as_str).unwrap_or("");
    match s
        .core
        .answer_survey_qr(&survey, &given, Some(who), lang.code(), ip)
        .await
    {
        Ok(v) if v.gate == Gate::Answered => private(super::see_other(format!(
            "{path}/thanks?lang={}",
            lang.code()
        ))),
        Ok(v) => gate_page(lang, &path, v.gate),
        Err(CoreError::Invalid(problems)) => match s.core.open_survey_qr(&survey).await {
            Ok(PublicView {
                survey: Some(sv), ..
            }) => {
                let asks = sv.asks.clone();
                form_page(
                    lang,
                    &path,
                    &sv,
                    &given,
                    &problems,
                    who,
                    String::new(),
                    if asks == "none" { "" } else { &asks },
                )
            }
            Ok(v) => gate_page(lang, &path, v.gate),
            Err(e) => unavailable(lang, &path, &e),
        },
        Err(e) => unavailable(lang, &path, &e),
    }
}

/// `GET /q/{survey}/thanks`.
async fn qr_thanks(
    Path(survey): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    message(
        request_lang(&q, &headers),
        &format!("{}/thanks", qr_path(&survey)),
        "surveys.public.thanks-title",
        "surveys.public.thanks",
        StatusCode::OK,
    )
}

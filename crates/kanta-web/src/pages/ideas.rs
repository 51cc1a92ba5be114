//! The ideas box (`kanta_core::ideas`):
//!
//! - `GET /ideas` (anyone signed in): the form to hand in an idea (its text, an
//!   optional customer id and theme) and the user's own ideas with their status and
//!   reply; managers also see every idea (`?status=` filters) with a form per idea to
//!   set its status and reply.
//! - `POST /ideas`: hand in an idea (any signed-in user); 303 back with a notice, or
//!   422 with the form kept and the problem named.
//! - `POST /ideas/{id}/status` (managers): the status and reply; 303 back.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use kanta_core::CoreError;
use kanta_core::ideas::{DECIDES, IDEA_STATUSES, IdeaFilter, IdeaInput, IdeaRow, MAX_TEXT};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::{PageError, core_error, form_allowed, render, render_status, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ideas", get(page).post(submit))
        .route("/ideas/{id}/status", post(set_status))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    status: Option<String>,
    saved: Option<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct IdeaForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    theme_id: String,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reply: String,
}

pub(crate) struct Opt {
    value: String,
    label: String,
    selected: bool,
}

pub(crate) struct IdeaLine {
    id: i64,
    body: String,
    status: String,
    status_key: String,
    reply: Option<String>,
    replier: Option<String>,
    submitter: String,
    date: String,
    customer_id: Option<String>,
    customer: Option<String>,
    theme: Option<String>,
    /// The status form's choices (managers).
    statuses: Vec<Opt>,
}

#[derive(Template)]
#[template(path = "ideas.html")]
pub(crate) struct IdeasPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    manager: bool,
    notice: Option<String>,
    error: Option<String>,
    body: String,
    customer_id: String,
    themes: Vec<Opt>,
    mine: Vec<IdeaLine>,
    all: Vec<IdeaLine>,
    filter: Vec<Opt>,
}

fn status_label(tr: &Tr, s: &str) -> String {
    tr.text_or(&format!("ideas.status.{s}"), s)
}

fn line(tr: &Tr, i: IdeaRow) -> IdeaLine {
    IdeaLine {
        id: i.id,
        status: status_label(tr, &i.status),
        statuses: IDEA_STATUSES
            .iter()
            .map(|s| Opt {
                value: s.to_string(),
                label: status_label(tr, s),
                selected: *s == i.status,
            })
            .collect(),
        status_key: i.status,
        body: i.body,
        reply: i.reply,
        replier: i.replier_name,
        submitter: i
            .submitter_name
            .unwrap_or_else(|| format!("#{}", i.submitted_by)),
        date: tr.date(&i.created_at),
        customer: i.customer_name.or_else(|| i.customer_id.clone()),
        customer_id: i.customer_id,
        theme: i.theme_label,
    }
}

async fn view(
    s: &AppState,
    signed: &SignedIn,
    status: Option<String>,
    notice: Option<String>,
    sent: Option<(IdeaForm, String)>,
) -> Result<IdeasPage, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let manager = signed.user.role >= DECIDES;
    let mine = s
        .core
        .ideas(
            &acting,
            &IdeaFilter {
                mine: true,
                ..Default::default()
            },
        )
        .await
        .map_err(core_error(signed))?;
    let status = status.filter(|s| IDEA_STATUSES.contains(&s.as_str()));
    let all = if manager {
        s.core
            .ideas(
                &acting,
                &IdeaFilter {
                    status: status.clone(),
                    ..Default::default()
                },
            )
            .await
            .map_err(core_error(signed))?
    } else {
        Vec::new()
    };
    let (form, error) = match sent {
        Some((f, e)) => (f, Some(e)),
        None => (IdeaForm::default(), None),
    };
    let themes = s
        .core
        .feedback_themes(&acting)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|t| Opt {
            selected: form.theme_id == t.id.to_string(),
            value: t.id.to_string(),
            label: t.label,
        })
        .collect();
    let filter = IDEA_STATUSES
        .iter()
        .map(|x| Opt {
            value: x.to_string(),
            label: status_label(&tr, x),
            selected: status.as_deref() == Some(*x),
        })
        .collect();
    Ok(IdeasPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        manager,
        notice,
        error,
        body: form.body.clone(),
        customer_id: form.customer_id.clone(),
        themes,
        mine: mine.into_iter().map(|i| line(&tr, i)).collect(),
        all: all.into_iter().map(|i| line(&tr, i)).collect(),
        filter,
        tr,
    })
}

/// `GET /ideas`.
async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let notice = match q.saved.as_deref() {
        Some("idea") => Some(tr.t("ideas.saved").to_string()),
        Some("status") => Some(tr.t("ideas.status-saved").to_string()),
        _ => None,
    };
    let v = view(&s, &signed, q.status, notice, None).await?;
    Ok(render(&v))
}

/// What the user typed that a refusal may be about: the idea form's fields or the
/// status form's.
#[derive(Default)]
struct Typed<'a> {
    body: &'a str,
    customer_id: &'a str,
    status: &'a str,
    reply: &'a str,
}

/// A core refusal of bad input in words for the form, in the page's language: each
/// problem as "field: reason" (`ideas.field.*`, `ideas.error.*`), the core's words
/// only for a problem this page does not know.
fn problems_text(tr: &Tr, e: &CoreError, typed: &Typed<'_>) -> Option<String> {
    let too_long = |s: &str| {
        tr.t("ideas.error.too-long")
            .replace("{max}", &MAX_TEXT.to_string())
            .replace("{n}", &s.trim().chars().count().to_string())
    };
    match e {
        CoreError::Invalid(p) => Some(
            p.iter()
                .map(|p| {
                    let reason = match p.field.as_str() {
                        "body" if typed.body.trim().is_empty() => {
                            tr.t("ideas.error.body-empty").to_string()
                        }
                        "body" => too_long(typed.body),
                        "reply" => too_long(typed.reply),
                        "customer_id" => tr.t("ideas.error.customer").replace(
                            "{id}",
                            &kanta_domain::value::excerpt(typed.customer_id.trim()),
                        ),
                        "theme_id" => tr.t("ideas.error.theme-missing").to_string(),
                        "status" => tr
                            .t("ideas.error.status")
                            .replace(
                                "{value}",
                                &kanta_domain::value::excerpt(typed.status.trim()),
                            )
                            .replace(
                                "{list}",
                                &IDEA_STATUSES
                                    .iter()
                                    .map(|s| status_label(tr, s))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ),
                        _ => p.reason.clone(),
                    };
                    format!(
                        "{}: {}",
                        tr.text_or(&format!("ideas.field.{}", p.field), &p.field),
                        reason
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

/// `POST /ideas`.
async fn submit(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(f): axum::Form<IdeaForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Viewer, &f.csrf)?;
    let tr = signed.tr;
    let theme = match f.theme_id.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                let msg = format!(
                    "{}: {}",
                    tr.t("ideas.field.theme_id"),
                    tr.t("ideas.error.theme")
                );
                let v = view(&s, &signed, None, None, Some((f.clone(), msg))).await?;
                return Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY));
            }
        },
    };
    let input = IdeaInput {
        body: f.body.clone(),
        customer: Some(f.customer_id.clone()),
        theme,
    };
    match s.core.submit_idea(&signed.acting(), input).await {
        Ok(_) => Ok(see_other("/ideas?saved=idea".into())),
        Err(e) => match problems_text(
            &tr,
            &e,
            &Typed {
                body: &f.body,
                customer_id: &f.customer_id,
                ..Default::default()
            },
        ) {
            Some(msg) => {
                let v = view(&s, &signed, None, None, Some((f.clone(), msg))).await?;
                Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

/// `POST /ideas/{id}/status`.
async fn set_status(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<StatusForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, DECIDES, &f.csrf)?;
    let tr = signed.tr;
    match s
        .core
        .set_idea_status(&signed.acting(), id, &f.status, Some(&f.reply))
        .await
    {
        Ok(_) => Ok(see_other("/ideas?saved=status".into())),
        Err(e) => match problems_text(
            &tr,
            &e,
            &Typed {
                status: &f.status,
                reply: &f.reply,
                ..Default::default()
            },
        ) {
            Some(msg) => {
                let v = view(&s, &signed, None, None, Some((IdeaForm::default(), msg))).await?;
                Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
            }
            None => Err(core_error(&signed)(e)),
        },
    }
}

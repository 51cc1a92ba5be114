//! The surveys pages (issue 13): `/surveys` (every survey with its status, version and
//! answers; everyone signed in), `/surveys/new` and `/surveys/{id}` (managers change:
//! name, what the QR page asks, up to three questions in Finnish and English, a new
//! version on every change of them; activate and close; a preview of the answer form
//! in both languages; the versions), and the QR code of the anonymous answer page as
//! `/surveys/{id}/qr.svg`, `/surveys/{id}/qr.png` (the code's matrix written into a PNG
//! here) and a printable A5 page `/surveys/{id}/print`.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kanta_core::CoreError;
use kanta_core::surveys::{
    AnswerInput, Question, QuestionError, SurveyInput, SurveyView, checked_questions,
};
use kanta_domain::schema::{SURVEY_ANONYMOUS_ASKS, SURVEY_FIELDS};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::survey_public::{QuestionView, question_views};
use super::{PageError, core_error, form_allowed, render, render_status, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::{Lang, Tr};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/surveys", get(list).post(create))
        .route("/surveys/new", get(new))
        .route("/surveys/{id}", get(page).post(save))
        .route("/surveys/{id}/status", post(set_status))
        .route("/surveys/{id}/qr.svg", get(qr_svg))
        .route("/surveys/{id}/qr.png", get(qr_png))
        .route("/surveys/{id}/print", get(print))
}

#[derive(Template)]
#[template(path = "surveys.html")]
pub(crate) struct ListPage {
    tr: Tr,
    me: Option<Me>,
    can_manage: bool,
    surveys: Vec<SurveyView>,
}

/// One question row of the form.
pub(crate) struct QuestionForm {
    field: String,
    fi: String,
    en: String,
}

/// The form of a survey (new or existing), with a preview in both languages.
#[derive(Template)]
#[template(path = "survey.html")]
pub(crate) struct SurveyPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    can_manage: bool,
    /// Empty for a new survey.
    id: String,
    name: String,
    status: String,
    status_label: String,
    version: i64,
    answers: i64,
    asks: String,
    rows: Vec<QuestionForm>,
    errors: Vec<String>,
    notice: Option<&'static str>,
    fields: &'static [&'static str],
    asks_choices: &'static [&'static str],
    preview_fi: Vec<QuestionView>,
    preview_en: Vec<QuestionView>,
    qr_url: String,
    /// (version, date, questions' fields) newest first.
    versions: Vec<(i64, String, String)>,
}

#[derive(Template)]
#[template(path = "survey_print.html")]
pub(crate) struct PrintPage {
    fi: Tr,
    en: Tr,
    name: String,
    id: String,
    url: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    saved: Option<String>,
}

fn not_found(signed: &SignedIn) -> PageError {
    PageError::Page(Box::new(crate::render::error_page(
        signed.tr,
        Some(signed.me()),
        StatusCode::NOT_FOUND,
        signed.tr.t("surveys.not-found"),
    )))
}

/// `GET /surveys`: every survey (everyone signed in).
async fn list(State(s): State<AppState>, signed: SignedIn) -> Result<Response, PageError> {
    let surveys = s
        .core
        .surveys(&signed.acting())
        .await
        .map_err(core_error(&signed))?;
    Ok(render(&ListPage {
        tr: signed.tr,
        me: Some(signed.me()),
        can_manage: signed.me().role >= Role::Manager,
        surveys,
    }))
}

fn rows_of(questions: &[Question]) -> Vec<QuestionForm> {
    let mut rows: Vec<QuestionForm> = questions
        .iter()
        .map(|q| QuestionForm {
            field: q.field.clone(),
            fi: q.fi.clone(),
            en: q.en.clone(),
        })
        .collect();
    while rows.len() < 3 {
        rows.push(QuestionForm {
            field: String::new(),
            fi: String::new(),
            en: String::new(),
        });
    }
    rows
}

#[allow(clippy::too_many_arguments)]
fn survey_page(
    signed: &SignedIn,
    view: Option<&SurveyView>,
    name: String,
    asks: String,
    rows: Vec<QuestionForm>,
    errors: Vec<String>,
    notice: Option<&'static str>,
    versions: Vec<(i64, String, String)>,
    core: &kanta_core::Core,
) -> SurveyPage {
    let questions: Vec<Question> = rows
        .iter()
        .filter(|r| !r.field.is_empty())
        .map(|r| Question {
            field: r.field.clone(),
            fi: r.fi.clone(),
            en: r.en.clone(),
        })
        .collect();
    let (fi, en) = (Tr::new(Lang::Fi), Tr::new(Lang::En));
    let empty = AnswerInput::new();
    SurveyPage {
        tr: signed.tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_manage: signed.me().role >= Role::Manager,
        id: view.map(|v| v.id.clone()).unwrap_or_default(),
        name,
        status: view.map_or_else(|| "draft".into(), |v| v.status.clone()),
        status_label: {
            let st = view.map_or("draft", |v| v.status.as_str());
            signed.tr.text_or(&format!("surveys.status.{st}"), st)
        },
        version: view.map_or(0, |v| v.version),
        answers: view.map_or(0, |v| v.answers),
        asks,
        rows,
        errors,
        notice,
        fields: SURVEY_FIELDS,
        asks_choices: SURVEY_ANONYMOUS_ASKS,
        preview_fi: question_views(&fi, &questions, &empty, &[]),
        preview_en: question_views(&en, &questions, &empty, &[]),
        qr_url: view.map(|v| core.survey_qr_url(&v.id)).unwrap_or_default(),
        versions,
    }
}

/// `GET /surveys/new` (managers): the form with seed 001's questions.
async fn new(State(s): State<AppState>, signed: SignedIn) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let rows = rows_of(&kanta_core::surveys::default_questions());
    Ok(render(&survey_page(
        &signed,
        None,
        String::new(),
        "none".into(),
        rows,
        Vec::new(),
        None,
        Vec::new(),
        &s.core,
    )))
}

async fn load(
    s: &AppState,
    signed: &SignedIn,
    id: &str,
) -> Result<(SurveyView, Vec<(i64, String, String)>), PageError> {
    let view = match s.core.survey(&signed.acting(), id).await {
        Ok(v) => v,
        Err(CoreError::NotFound(_)) => return Err(not_found(signed)),
        Err(e) => return Err(core_error(signed)(e)),
    };
    let versions = s
        .core
        .survey_versions(&signed.acting(), id)
        .await
        .map_err(core_error(signed))?
        .into_iter()
        .map(|v| {
            (
                v.version,
                signed.tr.date(&v.created_at),
                v.questions
                    .iter()
                    .map(|q| q.field.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
        .collect();
    Ok((view, versions))
}

/// `GET /surveys/{id}` (everyone signed in; the form for managers).
async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (view, versions) = load(&s, &signed, &id).await?;
    let notice = match q.saved.as_deref() {
        Some("created") => Some("surveys.saved.created"),
        Some("saved") => Some("surveys.saved.saved"),
        Some("active") => Some("surveys.saved.active"),
        Some("closed") => Some("surveys.saved.closed"),
        _ => None,
    };
    Ok(render(&survey_page(
        &signed,
        Some(&view),
        view.name.clone(),
        view.anonymous_asks.clone(),
        rows_of(&view.questions),
        Vec::new(),
        notice,
        versions,
        &s.core,
    )))
}

fn get_field<'a>(form: &'a [(String, String)], k: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == k)
        .map_or("", |(_, v)| v.as_str())
}

/// The form's questions: the rows with a field chosen.
fn form_rows(form: &[(String, String)]) -> Vec<QuestionForm> {
    (0..3)
        .map(|i| QuestionForm {
            field: get_field(form, &format!("q{i}_field")).trim().to_string(),
            fi: get_field(form, &format!("q{i}_fi")).trim().to_string(),
            en: get_field(form, &format!("q{i}_en")).trim().to_string(),
        })
        .collect()
}

fn input_of(form: &[(String, String)], rows: &[QuestionForm]) -> SurveyInput {
    SurveyInput {
        name: Some(get_field(form, "name").to_string()),
        // A row whose kind is left empty is a row not needed.
        questions: Some(
            rows.iter()
                .filter(|r| !r.field.is_empty())
                .map(|r| Question {
                    field: r.field.clone(),
                    fi: r.fi.clone(),
                    en: r.en.clone(),
                })
                .collect(),
        ),
        anonymous_asks: Some(get_field(form, "anonymous_asks").to_string())
            .filter(|a| !a.is_empty()),
        ..SurveyInput::default()
    }
}

/// A refusal of the questions in the page's language.
pub(crate) fn question_error(tr: &Tr, e: &QuestionError) -> String {
    let mut text = tr.t(e.key()).to_string();
    for (k, v) in e.args() {
        text = text.replace(&format!("{{{k}}}"), &v);
    }
    text
}

/// The problems of a refused save in the page's language (the questions' from
/// [`checked_questions`] on what the form gave; the core's text where no key fits).
fn problems_of(tr: &Tr, e: CoreError, input: &SurveyInput) -> Result<Vec<String>, CoreError> {
    match e {
        CoreError::Invalid(p) => Ok(p
            .into_iter()
            .map(|p| {
                let reason = match p.field.as_str() {
                    "questions" => input
                        .questions
                        .clone()
                        .and_then(|q| checked_questions(q).err())
                        .map_or(p.reason, |qe| question_error(tr, &qe)),
                    "name" => tr.t("surveys.error.name").to_string(),
                    _ => p.reason,
                };
                format!(
                    "{}: {reason}",
                    tr.text_or(&format!("surveys.field.{}", p.field), &p.field),
                )
            })
            .collect()),
        CoreError::Conflict { message, .. } => Ok(vec![message]),
        e => Err(e),
    }
}

/// `POST /surveys` (managers): creates a draft, then its page.
async fn create(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Manager, get_field(&form, "csrf"))?;
    let rows = form_rows(&form);
    let input = input_of(&form, &rows);
    let id = get_field(&form, "id").trim().to_string();
    match s
        .core
        .create_survey(
            &signed.acting(),
            Some(&id).filter(|i| !i.is_empty()).map(|x| x.as_str()),
            input.clone(),
        )
        .await
    {
        Ok(id) => Ok(see_other(format!(
            "/surveys/{}?saved=created",
            urlencode(&id)
        ))),
        Err(e) => {
            let errors = problems_of(&signed.tr, e, &input).map_err(core_error(&signed))?;
            let page = survey_page(
                &signed,
                None,
                get_field(&form, "name").to_string(),
                get_field(&form, "anonymous_asks").to_string(),
                rows,
                errors,
                None,
                Vec::new(),
                &s.core,
            );
            Ok(render_status(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

/// `POST /surveys/{id}` (managers): saves the name, what the QR page asks and the
/// questions (a new version when they changed).
async fn save(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Manager, get_field(&form, "csrf"))?;
    let rows = form_rows(&form);
    let input = input_of(&form, &rows);
    match s
        .core
        .update_survey(&signed.acting(), &id, input.clone())
        .await
    {
        Ok(()) => Ok(see_other(format!(
            "/surveys/{}?saved=saved",
            urlencode(&id)
        ))),
        Err(CoreError::NotFound(_)) => Err(not_found(&signed)),
        Err(e) => {
            let errors = problems_of(&signed.tr, e, &input).map_err(core_error(&signed))?;
            let (view, versions) = load(&s, &signed, &id).await?;
            let page = survey_page(
                &signed,
                Some(&view),
                get_field(&form, "name").to_string(),
                get_field(&form, "anonymous_asks").to_string(),
                rows,
                errors,
                None,
                versions,
                &s.core,
            );
            Ok(render_status(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusForm {
    csrf: String,
    status: String,
}

/// `POST /surveys/{id}/status` (managers): activate or close.
async fn set_status(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<StatusForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Manager, &f.csrf)?;
    match s
        .core
        .set_survey_status(&signed.acting(), &id, &f.status)
        .await
    {
        Ok(()) => Ok(see_other(format!(
            "/surveys/{}?saved={}",
            urlencode(&id),
            if f.status == "active" {
                "active"
            } else {
                "closed"
            }
        ))),
        Err(CoreError::NotFound(_)) => Err(not_found(&signed)),
        Err(e) => Err(core_error(&signed)(e)),
    }
}

/// The QR code of the survey's anonymous page (everyone signed in).
async fn qr_of(s: &AppState, signed: &SignedIn, id: &str) -> Result<qrcode::QrCode, PageError> {
    let (view, _) = load(s, signed, id).await?;
    let url = s.core.survey_qr_url(&view.id);
    qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| failed(&format!("the QR code could not be made: {e}")))
}

fn failed(why: &str) -> PageError {
    tracing::error!(error = why, "survey QR code");
    PageError::Page(Box::new(
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the image could not be made",
        )
            .into_response(),
    ))
}

/// `GET /surveys/{id}/qr.svg`.
async fn qr_svg(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let code = qr_of(&s, &signed, &id).await?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        svg,
    )
        .into_response())
}

/// The code's modules as an 8-bit greyscale PNG: `scale` pixels a module and a quiet
/// zone of 4 modules.
pub(crate) fn qr_png_bytes(
    code: &qrcode::QrCode,
    scale: usize,
) -> Result<Vec<u8>, png::EncodingError> {
    let n = code.width();
    let quiet = 4;
    let side = (n + 2 * quiet) * scale;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = (i % n + quiet, i / n + quiet);
            for dy in 0..scale {
                let row = (y * scale + dy) * side;
                pixels[row + x * scale..row + (x + 1) * scale].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&pixels)?;
    }
    Ok(out)
}

/// `GET /surveys/{id}/qr.png` (12 pixels a module: about 5 cm at 300 dpi).
async fn qr_png(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let code = qr_of(&s, &signed, &id).await?;
    let png = qr_png_bytes(&code, 12).map_err(|e| failed(&format!("PNG: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        png,
    )
        .into_response())
}

/// `GET /surveys/{id}/print`: an A5 page for the counter, in both languages.
async fn print(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (view, _) = load(&s, &signed, &id).await?;
    Ok(render(&PrintPage {
        fi: Tr::new(Lang::Fi),
        en: Tr::new(Lang::En),
        url: s.core.survey_qr_url(&view.id),
        name: view.name,
        id: view.id,
    }))
}

//! The themes in the free-text answers and "you said, we did" (`kanta_core::themes`).
//!
//! - `GET /feedback/themes` (anyone signed in): every current theme, largest first:
//!   its label, key words, answers, a monthly trend (sparkline), up to three example
//!   answers (shown as text; staff and up get a link to the customer) and the themes
//!   merged into it. Managers also get, per theme, the forms to rename it, merge it
//!   into another theme, split the answers with a word off it and record a change,
//!   and a "run now" button.
//! - `GET /feedback/themes/{id}?page=N`: one theme: its monthly answers as a chart, the
//!   changes recorded for it with the theme's answers per month before and after each
//!   (`Core::theme_changes`), and its answers, 50 a page. A theme merged into another
//!   leads to that one.
//! - `POST /feedback/themes/run`, `/feedback/themes/{id}/rename` (`label`), `/merge`
//!   (`into`: this theme goes into that one), `/split` (`word`), `/changes` (`title`,
//!   `description`, `changed_on` as 31.12.2026 or 2026-12-31, `notify`): managers only
//!   (anyone else gets the 403 page); 303 back with a notice, or the page again (422)
//!   with the form kept and its problem named. The form's hidden `back` (`list`) says
//!   which page sent it.
//!
//! Reads of every stored theme (merged and split ones) and of the example answers'
//! customers go to the store directly; every write goes through the core.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::NaiveDate;
use kanta_core::CoreError;
use kanta_core::feedback_stats::AnswersQuery;
use kanta_core::themes::{ChangeView, NewChange, ThemeView, parse_day};
use kanta_store::accounts::Role;
use kanta_store::themes::ThemeRow;
use serde::Deserialize;

use super::retention::count;
use super::{PageError, core_error, form_allowed, render, render_status, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::charts::{BarChart, BarMode, BarSeries, ChartOptions, Sparkline};
use crate::i18n::{Lang, Tr};
use crate::render::urlencode;

/// Who edits themes and records changes.
const EDITS: Role = Role::Manager;
/// Who follows an example answer to its customer.
const SEES_CUSTOMERS: Role = Role::Staff;
/// Answers per page of a theme.
const PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feedback/themes", get(list))
        .route("/feedback/themes/run", post(run))
        .route("/feedback/themes/{id}", get(detail))
        .route(
            "/feedback/themes/{id}/rename",
            post(|s, signed, Path(id): Path<String>, f| edit(s, signed, id, "rename", f)),
        )
        .route(
            "/feedback/themes/{id}/merge",
            post(|s, signed, Path(id): Path<String>, f| edit(s, signed, id, "merge", f)),
        )
        .route(
            "/feedback/themes/{id}/split",
            post(|s, signed, Path(id): Path<String>, f| edit(s, signed, id, "split", f)),
        )
        .route(
            "/feedback/themes/{id}/changes",
            post(|s, signed, Path(id): Path<String>, f| edit(s, signed, id, "change", f)),
        )
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    saved: Option<String>,
    page: Option<String>,
}

/// Every theme form's fields (each form sends its own).
#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    into: String,
    #[serde(default)]
    word: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    changed_on: String,
    notify: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RunForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) struct Opt {
    value: String,
    label: String,
    selected: bool,
}

pub(crate) struct Example {
    text: String,
    customer: Option<(String, String)>,
}

pub(crate) struct Link {
    id: i64,
    label: String,
}

/// A manager's forms of one theme, with what was sent and its problem.
pub(crate) struct Forms {
    label: String,
    into: Vec<Opt>,
    word: String,
    title: String,
    description: String,
    changed_on: String,
    notify: bool,
    /// The form that failed (`rename`, `merge`, `split`, `change`) and why.
    failed: String,
    error: Option<String>,
}

pub(crate) struct Card {
    id: i64,
    label: String,
    words: String,
    count: String,
    manual: bool,
    trend_svg: String,
    examples: Vec<Example>,
    merged: Vec<Link>,
    /// "Split off THEME by WORD".
    split_note: Option<String>,
    forms: Forms,
}

#[derive(Template)]
#[template(path = "themes.html")]
pub(crate) struct ThemesPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    manager: bool,
    back: &'static str,
    notice: Option<String>,
    error: Option<String>,
    cards: Vec<Card>,
}

pub(crate) struct MonthLine {
    month: String,
    answers: String,
    after: bool,
}

pub(crate) struct ChangeCard {
    id: i64,
    title: String,
    description: Option<String>,
    date: String,
    notified: bool,
    before_avg: String,
    after_avg: String,
    months: Vec<MonthLine>,
    chart_svg: String,
}

pub(crate) struct AnswerLine {
    id: String,
    at: String,
    customer: String,
    customer_href: Option<String>,
    scores: String,
    texts: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "themes_theme.html")]
pub(crate) struct ThemePage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    manager: bool,
    back: &'static str,
    notice: Option<String>,
    card: Card,
    active: bool,
    chart_svg: String,
    changes: Vec<ChangeCard>,
    answers: Vec<AnswerLine>,
    total: String,
    prev: Option<String>,
    next: Option<String>,
}

fn words_of(r: &ThemeRow) -> Vec<String> {
    r.words
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

/// The theme a merged theme now belongs to (following merges).
fn root_of(id: i64, rows: &HashMap<i64, &ThemeRow>) -> i64 {
    let mut t = id;
    for _ in 0..100 {
        match rows.get(&t).and_then(|r| r.merged_into) {
            Some(m) if rows.contains_key(&m) => t = m,
            _ => break,
        }
    }
    t
}

/// `YYYY-MM` as the page writes a month.
fn month_label(tr: &Tr, key: &str) -> String {
    NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d")
        .map_or_else(|_| key.to_string(), |d| super::retention::month(tr, d))
}

/// The months from `first` to `last` (`YYYY-MM`), both included.
fn months_between(first: &str, last: &str) -> Vec<String> {
    let parse = |k: &str| NaiveDate::parse_from_str(&format!("{k}-01"), "%Y-%m-%d").ok();
    let (Some(mut d), Some(end)) = (parse(first), parse(last)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d <= end && out.len() < 600 {
        out.push(d.format("%Y-%m").to_string());
        d = d
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(end + chrono::Days::new(1));
    }
    out
}

/// Answers per month from the first month with answers to `now`, zeros filled in.
fn filled(trend: &[(String, u64)], now: &str) -> Vec<(String, u64)> {
    let Some(first) = trend.first().map(|t| t.0.clone()) else {
        return Vec::new();
    };
    let last = trend
        .last()
        .map(|t| t.0.clone())
        .filter(|l| l.as_str() > now)
        .unwrap_or_else(|| now.to_string());
    let have: HashMap<&str, u64> = trend.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    months_between(&first, &last)
        .into_iter()
        .map(|m| {
            let n = have.get(m.as_str()).copied().unwrap_or(0);
            (m, n)
        })
        .collect()
}

fn average(tr: &Tr, xs: &[(String, u64)]) -> String {
    if xs.is_empty() {
        return "–".into();
    }
    let mean = xs.iter().map(|x| x.1 as f64).sum::<f64>() / xs.len() as f64;
    super::retention::decimal(tr, mean, 1)
}

fn options(tr: &Tr, id: &str, title: &str) -> ChartOptions {
    ChartOptions::new(id, title)
        .decimal_comma(tr.lang == Lang::Fi)
        .empty_text(tr.t("themes.no-answers"))
}

/// The forms of a theme, empty, with every other theme to merge into.
fn forms(id: i64, label: &str, others: &[(i64, String)], today: &str) -> Forms {
    Forms {
        label: label.to_string(),
        into: others
            .iter()
            .filter(|(o, _)| *o != id)
            .map(|(o, l)| Opt {
                value: o.to_string(),
                label: l.clone(),
                selected: false,
            })
            .collect(),
        word: String::new(),
        title: String::new(),
        description: String::new(),
        changed_on: today.to_string(),
        notify: false,
        failed: String::new(),
        error: None,
    }
}

/// What a form sent back, with its problem, kept in the theme's forms.
struct Sent {
    theme: i64,
    form: &'static str,
    input: EditForm,
    error: String,
}

fn keep(f: &mut Forms, sent: &Sent) {
    let i = &sent.input;
    match sent.form {
        "rename" => f.label = i.label.clone(),
        "merge" => {
            for o in &mut f.into {
                o.selected = o.value == i.into.trim();
            }
        }
        "split" => f.word = i.word.clone(),
        _ => {
            f.title = i.title.clone();
            f.description = i.description.clone();
            f.changed_on = i.changed_on.clone();
            f.notify = i.notify.is_some();
        }
    }
    f.failed = sent.form.to_string();
    f.error = Some(sent.error.clone());
}

/// Everything both pages need: the themes, all stored rows, the examples' customers.
struct Data {
    views: Vec<ThemeView>,
    rows: Vec<ThemeRow>,
    /// Feedback id → (customer external id, name).
    customers: HashMap<i64, (String, String)>,
    today: NaiveDate,
}

async fn data(s: &AppState, signed: &SignedIn) -> Result<Data, PageError> {
    let acting = signed.acting();
    let views = s
        .core
        .feedback_themes(&acting)
        .await
        .map_err(core_error(signed))?;
    let rows = s.core.store().feedback_theme_rows().await?;
    let today = s.core.today().await?;
    let mut customers = HashMap::new();
    if signed.user.role >= SEES_CUSTOMERS {
        let wanted: std::collections::HashSet<i64> = views
            .iter()
            .flat_map(|v| v.examples.iter().map(|e| e.0))
            .collect();
        if !wanted.is_empty() {
            let members = s.core.store().theme_members(None).await?;
            let by_answer: HashMap<i64, i64> = members
                .iter()
                .filter(|m| wanted.contains(&m.feedback_id))
                .filter_map(|m| m.customer_id.map(|c| (m.feedback_id, c)))
                .collect();
            let mut ids: Vec<i64> = by_answer.values().copied().collect();
            ids.sort_unstable();
            ids.dedup();
            let summaries: HashMap<i64, (String, String)> = s
                .core
                .store()
                .customer_summaries(&ids)
                .await?
                .into_iter()
                .map(|(i, c)| (i, (c.id.clone(), c.name.unwrap_or(c.id))))
                .collect();
            for (f, c) in by_answer {
                if let Some(x) = summaries.get(&c) {
                    customers.insert(f, x.clone());
                }
            }
        }
    }
    Ok(Data {
        views,
        rows,
        customers,
        today,
    })
}

fn card(tr: &Tr, d: &Data, v: &ThemeView, others: &[(i64, String)]) -> Card {
    let by: HashMap<i64, &ThemeRow> = d.rows.iter().map(|r| (r.id, r)).collect();
    let mut merged: Vec<Link> = d
        .rows
        .iter()
        .filter(|r| r.merged_into.is_some() && r.id != v.id && root_of(r.id, &by) == v.id)
        .map(|r| Link {
            id: r.id,
            label: r.label.clone(),
        })
        .collect();
    merged.sort_by_key(|l| l.id);
    let split_note = by.get(&v.id).and_then(|r| {
        let parent = by.get(&r.split_from?)?;
        Some(
            tr.t("themes.split-from")
                .replace("{theme}", &parent.label)
                .replace("{word}", r.split_words.as_deref().unwrap_or("")),
        )
    });
    let now = d.today.format("%Y-%m").to_string();
    let trend = filled(&v.trend, &now);
    let today = tr.day(&d.today);
    Card {
        id: v.id,
        label: v.label.clone(),
        words: v.words.join(", "),
        count: count(tr, v.count),
        manual: v.manual,
        trend_svg: Sparkline::new(
            &format!("theme-{}-trend", v.id),
            &tr.t("themes.trend").replace("{theme}", &v.label),
            trend.iter().map(|(_, n)| Some(*n as f64)).collect(),
        )
        .render(),
        examples: v
            .examples
            .iter()
            .map(|(f, text)| Example {
                text: text.clone(),
                customer: d
                    .customers
                    .get(f)
                    .map(|(id, name)| (format!("/customers/{}", urlencode(id)), name.clone())),
            })
            .collect(),
        merged,
        split_note,
        forms: forms(v.id, &v.label, others, &today),
    }
}

fn others(d: &Data) -> Vec<(i64, String)> {
    d.views.iter().map(|v| (v.id, v.label.clone())).collect()
}

fn notice_of(tr: &Tr, saved: Option<&str>) -> Option<String> {
    let key = match saved? {
        "run" => "themes.saved.run",
        "rename" => "themes.saved.rename",
        "merge" => "themes.saved.merge",
        "split" => "themes.saved.split",
        "change" => "themes.saved.change",
        _ => return None,
    };
    Some(tr.t(key).to_string())
}

async fn list_view(
    s: &AppState,
    signed: &SignedIn,
    notice: Option<String>,
    error: Option<String>,
    sent: Option<&Sent>,
) -> Result<ThemesPage, PageError> {
    let tr = signed.tr;
    let d = data(s, signed).await?;
    let others = others(&d);
    let cards = d
        .views
        .iter()
        .map(|v| {
            let mut c = card(&tr, &d, v, &others);
            if let Some(x) = sent.filter(|x| x.theme == v.id) {
                keep(&mut c.forms, x);
            }
            c
        })
        .collect();
    Ok(ThemesPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        manager: signed.user.role >= EDITS,
        back: "list",
        notice,
        error,
        cards,
        tr,
    })
}

/// `GET /feedback/themes`.
async fn list(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let notice = notice_of(&signed.tr, q.saved.as_deref());
    Ok(render(&list_view(&s, &signed, notice, None, None).await?))
}

fn not_found(signed: &SignedIn, id: &str) -> PageError {
    PageError::Page(Box::new(crate::render::error_page(
        signed.tr,
        Some(signed.me()),
        StatusCode::NOT_FOUND,
        &signed
            .tr
            .t("themes.not-found")
            .replace("{id}", &crate::errors::short(id, 40)),
    )))
}

fn change_card(tr: &Tr, c: &ChangeView, now: &str) -> ChangeCard {
    let mut all: Vec<(String, u64)> = c.before.iter().chain(c.after.iter()).cloned().collect();
    all.sort();
    let month = c.changed_on.get(..7).unwrap_or("").to_string();
    let trend = filled(&all, now);
    let (before, after): (Vec<_>, Vec<_>) = trend.iter().cloned().partition(|(k, _)| *k < month);
    let labels: Vec<String> = trend.iter().map(|(k, _)| month_label(tr, k)).collect();
    let chart_svg = BarChart::new(
        options(
            tr,
            &format!("change-{}-chart", c.id),
            &tr.t("themes.change.chart").replace("{title}", &c.title),
        )
        .size(640.0, 220.0)
        .y_label(tr.t("themes.answers")),
        labels,
    )
    .mode(BarMode::Stacked)
    .series(BarSeries::new(
        tr.t("themes.change.before"),
        trend
            .iter()
            .map(|(k, n)| if *k < month { *n as f64 } else { f64::NAN }),
    ))
    .series(BarSeries::new(
        tr.t("themes.change.after"),
        trend
            .iter()
            .map(|(k, n)| if *k >= month { *n as f64 } else { f64::NAN }),
    ))
    .render();
    let date = NaiveDate::parse_from_str(&c.changed_on, "%Y-%m-%d")
        .map_or_else(|_| c.changed_on.clone(), |d| tr.day(&d));
    ChangeCard {
        id: c.id,
        title: c.title.clone(),
        description: c.description.clone(),
        date,
        notified: c.notified,
        before_avg: average(tr, &before),
        after_avg: average(tr, &after),
        months: trend
            .iter()
            .rev()
            .map(|(k, n)| MonthLine {
                month: month_label(tr, k),
                answers: count(tr, *n),
                after: *k >= month,
            })
            .collect(),
        chart_svg,
    }
}

async fn theme_view(
    s: &AppState,
    signed: &SignedIn,
    id: i64,
    page_no: i64,
    notice: Option<String>,
    sent: Option<&Sent>,
) -> Result<Result<ThemePage, Response>, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let d = data(s, signed).await?;
    let by: HashMap<i64, &ThemeRow> = d.rows.iter().map(|r| (r.id, r)).collect();
    let Some(row) = by.get(&id) else {
        return Err(not_found(signed, &id.to_string()));
    };
    if row.merged_into.is_some() {
        let root = root_of(id, &by);
        if root != id {
            return Ok(Err(see_other(format!("/feedback/themes/{root}"))));
        }
    }
    let others = others(&d);
    let view = d.views.iter().find(|v| v.id == id).cloned();
    let active = view.is_some();
    let view = view.unwrap_or_else(|| ThemeView {
        id,
        key: row.theme_key.clone(),
        label: row.label.clone(),
        words: words_of(row),
        count: 0,
        examples: Vec::new(),
        answer_ids: Vec::new(),
        trend: Vec::new(),
        manual: row.manual_label,
    });
    let mut card = card(&tr, &d, &view, &others);
    if let Some(x) = sent.filter(|x| x.theme == id) {
        keep(&mut card.forms, x);
    }
    let now = d.today.format("%Y-%m").to_string();
    let trend = filled(&view.trend, &now);
    let chart_svg = BarChart::new(
        options(
            &tr,
            "theme-chart",
            &tr.t("themes.trend").replace("{theme}", &view.label),
        )
        .size(640.0, 220.0)
        .y_label(tr.t("themes.answers")),
        trend.iter().map(|(k, _)| month_label(&tr, k)),
    )
    .series(
        BarSeries::new(tr.t("themes.answers"), trend.iter().map(|(_, n)| *n as f64)).links(
            trend.iter().map(|(k, _)| {
                Some(format!(
                    "/feedback/answers?theme={id}&period={}",
                    urlencode(k)
                ))
            }),
        ),
    )
    .render();
    let changes = s
        .core
        .theme_changes(&acting, Some(id))
        .await
        .map_err(core_error(signed))?
        .iter()
        .map(|c| change_card(&tr, c, &now))
        .collect();
    let page = s
        .core
        .feedback_answers(
            &acting,
            &AnswersQuery {
                theme: Some(id),
                limit: PAGE,
                offset: (page_no - 1) * PAGE,
                ..AnswersQuery::default()
            },
        )
        .await
        .map_err(core_error(signed))?;
    let links = signed.user.role >= SEES_CUSTOMERS;
    let answers = page
        .items
        .iter()
        .map(|a| {
            let mut scores = Vec::new();
            if let Some(n) = a.nps {
                scores.push(format!("NPS {n}"));
            }
            if let Some(n) = a.csat {
                scores.push(format!("CSAT {n}"));
            }
            if let Some(n) = a.ces {
                scores.push(format!("CES {n}"));
            }
            AnswerLine {
                id: a.external_id.clone(),
                at: tr.date_time(&a.answered_at),
                customer: a
                    .customer_name
                    .clone()
                    .or_else(|| a.customer_id.clone())
                    .unwrap_or_else(|| tr.t("themes.anonymous").to_string()),
                customer_href: a
                    .customer_id
                    .as_deref()
                    .filter(|_| links)
                    .map(|c| format!("/customers/{}", urlencode(c))),
                scores: scores.join(" · "),
                texts: [
                    ("did_well", &a.did_well),
                    ("do_better", &a.do_better),
                    ("comment", &a.comment),
                ]
                .into_iter()
                .filter_map(|(f, t)| {
                    t.as_deref()
                        .filter(|t| !t.trim().is_empty())
                        .map(|t| (tr.field(f), t.to_string()))
                })
                .collect(),
            }
        })
        .collect();
    let link = |n: i64| format!("/feedback/themes/{id}?page={n}");
    Ok(Ok(ThemePage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        manager: signed.user.role >= EDITS,
        back: "theme",
        notice,
        card,
        active,
        chart_svg,
        changes,
        answers,
        total: count(&tr, page.total.max(0) as u64),
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page.offset + PAGE < page.total).then(|| link(page_no + 1)),
        tr,
    }))
}

fn parse_id(signed: &SignedIn, id: &str) -> Result<i64, PageError> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| not_found(signed, id))
}

/// `GET /feedback/themes/{id}`.
async fn detail(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let id = parse_id(&signed, &id)?;
    let page_no = match q.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => p.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            PageError::Page(Box::new(crate::render::error_page(
                tr,
                Some(signed.me()),
                StatusCode::BAD_REQUEST,
                &tr.t("themes.bad-page")
                    .replace("{value}", &crate::errors::short(p, 40)),
            )))
        })?,
    };
    let notice = notice_of(&tr, q.saved.as_deref());
    match theme_view(&s, &signed, id, page_no, notice, None).await? {
        Ok(v) => Ok(render(&v)),
        Err(r) => Ok(r),
    }
}

/// `POST /feedback/themes/run`.
async fn run(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(f): axum::Form<RunForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, EDITS, &f.csrf)?;
    let tr = signed.tr;
    match s.core.run_themes(&signed.acting()).await {
        Ok(_) => Ok(see_other("/feedback/themes?saved=run".into())),
        Err(CoreError::Forbidden(m)) => Err(core_error(&signed)(CoreError::Forbidden(m))),
        Err(e) => {
            let msg = tr.t("themes.run.failed").replace("{error}", &e.to_string());
            let v = list_view(&s, &signed, None, Some(msg), None).await?;
            Ok(render_status(&v, StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// A core refusal in words for the form: the field's name and the reason.
fn problem_text(tr: &Tr, e: &CoreError) -> Option<String> {
    let field = |f: &str| tr.text_or(&format!("themes.field.{f}"), f);
    match e {
        CoreError::Invalid(p) => Some(
            p.iter()
                .map(|p| format!("{}: {}", field(&p.field), p.reason))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        CoreError::Conflict { field: f, message } => Some(match f {
            Some(f) => format!("{}: {message}", field(f)),
            None => message.clone(),
        }),
        CoreError::NotFound(m) => Some(m.clone()),
        _ => None,
    }
}

/// The page's own check of a form, in the page's language: `Some(problem)`.
fn precheck(tr: &Tr, form: &str, f: &EditForm) -> Option<String> {
    let empty = |field: &str| {
        Some(format!(
            "{}: {}",
            tr.t(&format!("themes.field.{field}")),
            tr.t("themes.error.empty")
        ))
    };
    let long = |field: &str, s: &str| {
        (s.trim().chars().count() > 80).then(|| {
            format!(
                "{}: {}",
                tr.t(&format!("themes.field.{field}")),
                tr.t("themes.error.long")
            )
        })
    };
    match form {
        "rename" if f.label.trim().is_empty() => empty("label"),
        "rename" => long("label", &f.label),
        "merge" if f.into.trim().parse::<i64>().is_err() => Some(format!(
            "{}: {}",
            tr.t("themes.field.into"),
            tr.t("themes.error.into")
        )),
        "split" if f.word.trim().is_empty() => empty("word"),
        "split" if f.word.split_whitespace().count() > 1 => Some(format!(
            "{}: {}",
            tr.t("themes.field.word"),
            tr.t("themes.error.one-word")
        )),
        "change" if f.title.trim().is_empty() => empty("title"),
        "change" if f.changed_on.trim().is_empty() => empty("changed_on"),
        "change" if parse_day(&f.changed_on).is_err() => Some(format!(
            "{}: {}",
            tr.t("themes.field.changed_on"),
            tr.t("themes.error.date")
                .replace("{value}", &crate::errors::short(f.changed_on.trim(), 40))
        )),
        "change" => long("title", &f.title),
        _ => None,
    }
}

/// `POST /feedback/themes/{id}/rename|merge|split|changes`: one edit of a theme: the
/// gate, the page's checks, the core's write; 303 back, or
/// the sending page again with the problem (422).
async fn edit(
    State(s): State<AppState>,
    signed: SignedIn,
    id: String,
    form: &'static str,
    axum::Form(f): axum::Form<EditForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, EDITS, &f.csrf)?;
    let tr = signed.tr;
    let id = parse_id(&signed, &id)?;
    let acting = signed.acting();
    let result = match precheck(&tr, form, &f) {
        Some(problem) => Err(problem),
        None => {
            let r = match form {
                "rename" => s.core.rename_theme(&acting, id, &f.label).await,
                "merge" => {
                    let into = f.into.trim().parse::<i64>().unwrap_or_default();
                    s.core.merge_themes(&acting, into, id).await
                }
                "split" => s.core.split_theme(&acting, id, &f.word).await.map(|_| ()),
                _ => s
                    .core
                    .record_change(
                        &acting,
                        &NewChange {
                            theme_id: id,
                            title: f.title.clone(),
                            description: Some(f.description.clone()),
                            changed_on: f.changed_on.clone(),
                            notify: f.notify.is_some(),
                        },
                    )
                    .await
                    .map(|_| ()),
            };
            match r {
                Ok(()) => Ok(()),
                Err(e) => match problem_text(&tr, &e) {
                    Some(p) => Err(p),
                    None => return Err(core_error(&signed)(e)),
                },
            }
        }
    };
    let to_list = f.back == "list";
    match result {
        Ok(()) => {
            let target = match form {
                "merge" => f.into.trim().parse::<i64>().unwrap_or(id),
                _ => id,
            };
            Ok(see_other(if to_list {
                format!("/feedback/themes?saved={form}#theme-{target}")
            } else {
                format!("/feedback/themes/{target}?saved={form}")
            }))
        }
        Err(error) => {
            let sent = Sent {
                theme: id,
                form,
                input: f,
                error,
            };
            if to_list {
                let v = list_view(&s, &signed, None, None, Some(&sent)).await?;
                Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY))
            } else {
                match theme_view(&s, &signed, id, 1, None, Some(&sent)).await? {
                    Ok(v) => Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY)),
                    Err(r) => Ok(r),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_filled_with_zeros_to_now() {
        let t = vec![("2026-10".to_string(), 2), ("2026-12".to_string(), 1)];
        assert_eq!(
            filled(&t, "2027-02"),
            vec![
                ("2026-10".to_string(), 2),
                ("2026-11".to_string(), 0),
                ("2026-12".to_string(), 1),
                ("2027-01".to_string(), 0),
                ("2027-02".to_string(), 0),
            ]
        );
        assert!(filled(&[], "2026-01").is_empty());
    }
}

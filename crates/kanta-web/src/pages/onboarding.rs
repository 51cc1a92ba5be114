//! Onboarding: the checklists page (`/onboarding`), the template form, and the
//! customer page's onboarding card with its forms.
//!
//! - `/onboarding` (everyone signed in): each template with its steps, time to complete
//!   (median and 80th percentile days), onboardings started, completed and stalled now,
//!   and the steps that stall most. Managers get the links to create and edit templates.
//! - `/onboarding/templates/new`, `/onboarding/templates/{id}` (managers): the form of a
//!   template and its steps (title, due days, owner role, customer-facing text), with
//!   empty rows to add steps; no JavaScript. `POST /onboarding/templates` saves it.
//! - The customer page's card ([`OnboardingCard`], `parts/onboarding_card.html`): the
//!   checklist with a tick form per open task (staff and up), or "start onboarding"
//!   with a template select. Its forms post to `/customers/{id}/onboarding/...` and
//!   redirect back to the customer page with `?saved=` ([`saved_notice`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use kanta_core::CoreError;
use kanta_core::onboarding::{
    CustomerOnboarding, OnboardingReport, StepInput, TemplateInput, TemplateRow,
};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::{PageError, core_error, form_allowed, render, render_status, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Empty step rows the template form offers for new steps.
const NEW_STEP_ROWS: usize = 3;

/// The customer page's notice for `?saved=` of this card's forms.
pub(crate) fn saved_notice(saved: &str) -> Option<&'static str> {
    match saved {
        "onboarding-started" => Some("onboarding.saved.started"),
        "onboarding-task" => Some("onboarding.saved.task"),
        "onboarding-completed" => Some("onboarding.saved.completed"),
        _ => None,
    }
}

/// A number of days as the page shows it: `12` or `12,5` / `12.5`.
fn days(tr: &Tr, d: Option<f64>) -> String {
    match d {
        None => "–".into(),
        Some(d) if (d - d.round()).abs() < 1e-9 => format!("{}", d.round() as i64),
        Some(d) => {
            let s = format!("{d:.1}");
            if tr.code() == "fi" {
                s.replace('.', ",")
            } else {
                s
            }
        }
    }
}

fn percent(tr: &Tr, share: Option<f64>) -> String {
    match share {
        None => "–".into(),
        Some(s) => format!(
            "{}{}%",
            (s * 100.0).round() as i64,
            if tr.code() == "fi" { " " } else { "" }
        ),
    }
}

/// One template in the page.
pub(crate) struct TemplateView {
    id: String,
    name: String,
    /// Whom it starts for: "segment X, plan Y" or "everyone".
    applies: String,
    auto_start: bool,
    active: bool,
    steps: Vec<StepView>,
    started: u64,
    completed: u64,
    median: String,
    p80: String,
    stalled_now: u64,
}

pub(crate) struct StepView {
    title: String,
    due_days: i64,
    owner_role: String,
    customer_text: String,
    tasks: u64,
    stalled_now: u64,
    share: String,
}

#[derive(Template)]
#[template(path = "onboarding.html")]
pub(crate) struct OnboardingPage {
    tr: Tr,
    me: Option<Me>,
    can_manage: bool,
    stall_days: u32,
    templates: Vec<TemplateView>,
    /// The steps that stall most, over all templates: (template, step, share, count).
    stalls: Vec<(String, String, String, u64)>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct PageQuery {
    saved: Option<String>,
}

fn applies(tr: &Tr, t: &TemplateRow) -> String {
    let mut parts = Vec::new();
    if let Some(s) = t.segment.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("{} {s}", tr.t("onboarding.segment")));
    }
    if let Some(p) = t.plan.as_deref().filter(|s| !s.is_empty()) {
        parts.push(format!("{} {p}", tr.t("onboarding.plan")));
    }
    if parts.is_empty() {
        tr.t("onboarding.everyone").to_string()
    } else {
        parts.join(", ")
    }
}

fn page_view(
    tr: Tr,
    signed: &SignedIn,
    report: OnboardingReport,
    templates: Vec<TemplateRow>,
    notice: Option<String>,
) -> OnboardingPage {
    let mut stalls = Vec::new();
    let views = report
        .templates
        .iter()
        .map(|r| {
            let t = templates.iter().find(|t| t.id == r.id);
            let steps = t
                .map(|t| {
                    t.steps
                        .iter()
                        .map(|s| {
                            let st = r.steps.iter().find(|x| x.id == s.id);
                            if let Some(st) = st
                                && st.stalled > 0
                            {
                                stalls.push((
                                    r.name.clone(),
                                    s.title.clone(),
                                    st.share.unwrap_or(0.0),
                                    st.stalled,
                                ));
                            }
                            StepView {
                                title: s.title.clone(),
                                due_days: s.due_days,
                                owner_role: s.owner_role.clone().unwrap_or_default(),
                                customer_text: s.customer_text.clone().unwrap_or_default(),
                                tasks: st.map_or(0, |x| x.tasks),
                                stalled_now: st.map_or(0, |x| x.stalled_now),
                                share: percent(&tr, st.and_then(|x| x.share)),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            TemplateView {
                id: r.id.clone(),
                name: r.name.clone(),
                applies: t.map_or_else(String::new, |t| applies(&tr, t)),
                auto_start: r.auto_start,
                active: r.active,
                steps,
                started: r.started,
                completed: r.completed,
                median: days(&tr, r.median_days),
                p80: days(&tr, r.p80_days),
                stalled_now: r.stalled_now,
            }
        })
        .collect();
    stalls.sort_by(|a, b| b.2.total_cmp(&a.2).then(b.3.cmp(&a.3)));
    stalls.truncate(10);
    OnboardingPage {
        tr,
        me: Some(signed.me()),
        can_manage: signed.user.role >= Role::Manager,
        stall_days: report.stall_days,
        templates: views,
        stalls: stalls
            .into_iter()
            .map(|(t, s, share, n)| (t, s, percent(&tr, Some(share)), n))
            .collect(),
        notice,
    }
}

/// `GET /onboarding`.
pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let acting = signed.acting();
    let (report, templates) = tokio::join!(
        s.core.onboarding_report(&acting),
        s.core.onboarding_templates(&acting)
    );
    let report = report.map_err(core_error(&signed))?;
    let templates = templates.map_err(core_error(&signed))?;
    let notice = q
        .saved
        .is_some()
        .then(|| signed.tr.t("onboarding.saved.template").to_string());
    Ok(render(&page_view(
        signed.tr, &signed, report, templates, notice,
    )))
}

/// One step row of the template form.
pub(crate) struct StepForm {
    id: String,
    title: String,
    due_days: String,
    owner_role: String,
    customer_text: String,
}

#[derive(Template)]
#[template(path = "onboarding_template.html")]
pub(crate) struct TemplateFormPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    /// Empty for a new template.
    id: String,
    name: String,
    segment: String,
    plan: String,
    auto_start: bool,
    active: bool,
    steps: Vec<StepForm>,
    errors: Vec<String>,
}

fn blank_steps(n: usize) -> Vec<StepForm> {
    (0..n)
        .map(|_| StepForm {
            id: String::new(),
            title: String::new(),
            due_days: String::new(),
            owner_role: String::new(),
            customer_text: String::new(),
        })
        .collect()
}

/// `GET /onboarding/templates/new` (managers).
pub(crate) async fn new_template(signed: SignedIn) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let view = TemplateFormPage {
        tr: signed.tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        id: String::new(),
        name: String::new(),
        segment: String::new(),
        plan: String::new(),
        auto_start: true,
        active: true,
        steps: blank_steps(NEW_STEP_ROWS + 2),
        errors: Vec::new(),
    };
    Ok(render(&view))
}

/// `GET /onboarding/templates/{id}` (managers).
pub(crate) async fn edit_template(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let t = match s.core.onboarding_template(&signed.acting(), &id).await {
        Ok(t) => t,
        Err(CoreError::NotFound(_)) => {
            return Err(PageError::Page(Box::new(crate::render::error_page(
                signed.tr,
                Some(signed.me()),
                StatusCode::NOT_FOUND,
                signed.tr.t("onboarding.template-not-found"),
            ))));
        }
        Err(e) => return Err(core_error(&signed)(e)),
    };
    let mut steps: Vec<StepForm> = t
        .steps
        .iter()
        .map(|s| StepForm {
            id: s.id.clone(),
            title: s.title.clone(),
            due_days: s.due_days.to_string(),
            owner_role: s.owner_role.clone().unwrap_or_default(),
            customer_text: s.customer_text.clone().unwrap_or_default(),
        })
        .collect();
    steps.extend(blank_steps(NEW_STEP_ROWS));
    let view = TemplateFormPage {
        tr: signed.tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        id: t.id,
        name: t.name,
        segment: t.segment.unwrap_or_default(),
        plan: t.plan.unwrap_or_default(),
        auto_start: t.auto_start,
        active: t.active,
        steps,
        errors: Vec::new(),
    };
    Ok(render(&view))
}

fn get<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// `POST /onboarding/templates` (managers): the template form; steps come as
/// `step_N_title`, `step_N_due`, `step_N_role`, `step_N_text`, `step_N_id`, and rows
/// with neither a title nor an id are left out.
pub(crate) async fn save_template(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Manager, get(&form, "csrf"))?;
    let tr = signed.tr;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut n = 0;
    while form.iter().any(|(k, _)| k == &format!("step_{n}_title")) {
        let title = get(&form, &format!("step_{n}_title")).trim().to_string();
        let id = get(&form, &format!("step_{n}_id")).trim().to_string();
        let due = get(&form, &format!("step_{n}_due")).trim().to_string();
        let role = get(&form, &format!("step_{n}_role")).trim().to_string();
        let text = get(&form, &format!("step_{n}_text")).trim().to_string();
        n += 1;
        if title.is_empty() && id.is_empty() && due.is_empty() && text.is_empty() {
            continue;
        }
        rows.push(StepForm {
            id,
            title,
            due_days: due,
            owner_role: role,
            customer_text: text,
        });
    }
    let mut steps = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let due_days = if r.due_days.is_empty() {
            Ok(0)
        } else {
            r.due_days.parse::<i64>()
        };
        match due_days {
            Ok(d) => steps.push(StepInput {
                id: (!r.id.is_empty()).then(|| r.id.clone()),
                title: r.title.clone(),
                due_days: d,
                owner_role: Some(r.owner_role.clone()),
                customer_text: Some(r.customer_text.clone()),
            }),
            Err(_) => errors.push(
                tr.t("onboarding.error.due-days")
                    .replace("{n}", &(i + 1).to_string()),
            ),
        }
    }
    let checked = |k: &str| !get(&form, k).is_empty();
    let input = TemplateInput {
        id: Some(get(&form, "id").trim().to_string()).filter(|s| !s.is_empty()),
        name: get(&form, "name").to_string(),
        segment: Some(get(&form, "segment").to_string()),
        plan: Some(get(&form, "plan").to_string()),
        auto_start: checked("auto_start"),
        active: checked("active"),
        steps,
    };
    let back = |errors: Vec<String>, rows: Vec<StepForm>| {
        let mut steps = rows;
        steps.extend(blank_steps(NEW_STEP_ROWS));
        let view = TemplateFormPage {
            tr,
            me: Some(signed.me()),
            csrf: signed.csrf.clone(),
            id: input.id.clone().unwrap_or_default(),
            name: input.name.clone(),
            segment: get(&form, "segment").to_string(),
            plan: get(&form, "plan").to_string(),
            auto_start: input.auto_start,
            active: input.active,
            steps,
            errors,
        };
        render_status(&view, StatusCode::UNPROCESSABLE_ENTITY)
    };
    if !errors.is_empty() {
        return Ok(back(errors, rows));
    }
    match s.core.save_template(&signed.acting(), input.clone()).await {
        Ok(_) => Ok(see_other("/onboarding?saved=template".into())),
        Err(CoreError::Invalid(problems)) => Ok(back(
            problems
                .iter()
                .map(|p| problem_text(&tr, &p.field, &p.reason))
                .collect(),
            rows,
        )),
        Err(e) => Err(core_error(&signed)(e)),
    }
}

/// A refusal in the user's language: the field's name and the core's reason.
fn problem_text(tr: &Tr, field: &str, reason: &str) -> String {
    format!("{}: {}", tr.field(field), reason)
}

/// A form's refusal as the error page (422), naming the field and reason.
pub(crate) fn form_refused(signed: &SignedIn, e: CoreError) -> PageError {
    let tr = signed.tr;
    let message = match &e {
        CoreError::Invalid(p) => p
            .iter()
            .map(|p| problem_text(&tr, &p.field, &p.reason))
            .collect::<Vec<_>>()
            .join("; "),
        CoreError::Conflict { message, .. } => message.clone(),
        CoreError::NotFound(m) => m.clone(),
        _ => return core_error(signed)(e),
    };
    let status = if matches!(e, CoreError::NotFound(_)) {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    PageError::Page(Box::new(crate::render::error_page(
        tr,
        Some(signed.me()),
        status,
        &message,
    )))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    template: String,
}

/// `POST /customers/{id}/onboarding/start` (staff): starts the chosen template.
pub(crate) async fn start(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<StartForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    s.core
        .start_onboarding(&signed.acting(), &id, f.template.trim())
        .await
        .map_err(|e| form_refused(&signed, e))?;
    Ok(see_other(format!(
        "/customers/{}?saved=onboarding-started",
        urlencode(&id)
    )))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct TaskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

/// `POST /customers/{id}/onboarding/tasks/{task}/done` (staff): ticks a task off.
pub(crate) async fn task_done(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, task)): Path<(String, String)>,
    axum::Form(f): axum::Form<TaskForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    let done = s
        .core
        .complete_task(&signed.acting(), &task, Some(f.note))
        .await
        .map_err(|e| form_refused(&signed, e))?;
    Ok(see_other(format!(
        "/customers/{}?saved={}",
        urlencode(&id),
        if done {
            "onboarding-completed"
        } else {
            "onboarding-task"
        }
    )))
}

/// One task on the card.
pub(crate) struct TaskView {
    pub id: String,
    pub title: String,
    pub owner_role: String,
    pub customer_text: String,
    pub due: String,
    pub done: bool,
    /// "done 31.12.2024 by Maija" when done.
    pub done_text: String,
    pub note: String,
    pub overdue: bool,
    pub stalled: bool,
}

/// The customer page's onboarding card (`parts/onboarding_card.html`).
pub(crate) struct OnboardingCard {
    pub customer_id: String,
    pub csrf: String,
    /// Staff and up: the tick and start forms.
    pub can_write: bool,
    pub onboarding: Option<OnboardingView>,
    /// The templates in use, for "start onboarding": (id, name).
    pub templates: Vec<(String, String)>,
    /// An onboarding is active (no "start onboarding" form then).
    pub under_way: bool,
}

pub(crate) struct OnboardingView {
    pub template_name: String,
    pub status: String,
    pub status_label: String,
    pub started: String,
    pub completed: String,
    pub done: usize,
    pub total: usize,
    /// Done share in percent, for the bar.
    pub percent: u32,
    pub stalled: usize,
    pub tasks: Vec<TaskView>,
}

fn card_view(
    tr: &Tr,
    customer: &str,
    signed: &SignedIn,
    o: Option<CustomerOnboarding>,
    templates: Vec<TemplateRow>,
) -> OnboardingCard {
    let onboarding = o.map(|o| OnboardingView {
        status_label: tr.t(&format!("onboarding.status.{}", o.status)).to_string(),
        template_name: o.template_name,
        status: o.status,
        started: tr.day(&o.started_on),
        completed: o.completed_on.map(|d| tr.day(&d)).unwrap_or_default(),
        percent: (o.done * 100).checked_div(o.total).unwrap_or(0) as u32,
        done: o.done,
        total: o.total,
        stalled: o.stalled,
        tasks: o
            .tasks
            .into_iter()
            .map(|k| TaskView {
                done: k.done_at.is_some(),
                done_text: match (&k.done_at, &k.done_by) {
                    (Some(at), Some(by)) => tr
                        .t("onboarding.done-by")
                        .replace("{date}", &tr.date(at))
                        .replace("{name}", by),
                    (Some(at), None) => tr.t("onboarding.done-on").replace("{date}", &tr.date(at)),
                    _ => String::new(),
                },
                id: k.id,
                title: k.title,
                owner_role: k.owner_role.unwrap_or_default(),
                customer_text: k.customer_text.unwrap_or_default(),
                due: tr.day(&k.due_on),
                note: k.note.unwrap_or_default(),
                overdue: k.overdue,
                stalled: k.stalled,
            })
            .collect(),
    });
    OnboardingCard {
        under_way: onboarding.as_ref().is_some_and(|o| o.status == "active"),
        customer_id: customer.to_string(),
        csrf: signed.csrf.clone(),
        can_write: signed.user.role >= Role::Staff,
        onboarding,
        templates: templates
            .into_iter()
            .filter(|t| t.active)
            .map(|t| (t.id, t.name))
            .collect(),
    }
}

/// The onboarding card of customer `customer` for the signed-in user (the customer
/// page's part).
pub(crate) async fn onboarding_card(
    s: &AppState,
    signed: &SignedIn,
    customer: &str,
) -> Result<OnboardingCard, PageError> {
    let acting = signed.acting();
    let (o, templates) = tokio::join!(
        s.core.customer_onboarding(&acting, customer),
        s.core.onboarding_templates(&acting)
    );
    let o = o.map_err(core_error(signed))?;
    let templates = templates.map_err(core_error(signed))?;
    Ok(card_view(&signed.tr, customer, signed, o, templates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// The part as the customer page includes it.
    #[derive(Template)]
    #[template(source = "{% include \"parts/onboarding_card.html\" %}", ext = "html")]
    struct Wrap {
        tr: Tr,
        onboarding_card: OnboardingCard,
    }

    #[test]
    fn the_card_renders_tasks_and_forms() {
        let card = OnboardingCard {
            customer_id: "c/1".into(),
            csrf: "tok".into(),
            can_write: true,
            onboarding: Some(OnboardingView {
                template_name: "B2B <start>".into(),
                status: "active".into(),
                status_label: "Under way".into(),
                started: "1.12.2026".into(),
                completed: String::new(),
                done: 1,
                total: 2,
                percent: 50,
                stalled: 1,
                tasks: vec![TaskView {
                    id: "t1".into(),
                    title: "Kick-off call".into(),
                    owner_role: "account manager".into(),
                    customer_text: String::new(),
                    due: "3.12.2026".into(),
                    done: false,
                    done_text: String::new(),
                    note: String::new(),
                    overdue: true,
                    stalled: true,
                }],
            }),
            templates: vec![("tpl".into(), "B2B".into())],
            under_way: true,
        };
        let html = Wrap {
            tr: Tr::new(Lang::En),
            onboarding_card: card,
        }
        .render()
        .unwrap();
        assert!(html.contains("B2B &#60;start&#62;"), "{html}");
        assert!(
            html.contains("/customers/c%2F1/onboarding/tasks/t1/done"),
            "{html}"
        );
        assert!(html.contains("Kick-off call"));
    }

    #[test]
    fn days_read_in_each_language() {
        assert_eq!(days(&Tr::new(Lang::Fi), Some(12.5)), "12,5");
        assert_eq!(days(&Tr::new(Lang::En), Some(12.0)), "12");
        assert_eq!(days(&Tr::new(Lang::En), None), "–");
    }
}

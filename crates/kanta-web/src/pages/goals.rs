//! Goals agreed with the customer: the customer page's goals card with its forms, and
//! the public page a customer opens from a signed link (`/g/{token}`).
//!
//! - The card ([`GoalsCard`], `parts/goals_card.html`): each goal with its status,
//!   baseline → current → target as a bar, due day and notes; forms (staff and up) to
//!   add a goal, a note (a note with a value moves the goal's current value) and to
//!   change the status; "share with the customer" makes a link (the page that answers
//!   shows its URL once, to copy, and its expiry) and lists the active links with a
//!   revoke button. The forms redirect back to the customer page with `?saved=`
//!   ([`saved_notice`]).
//! - `/g/{token}` needs no sign-in: mobile-first, no JavaScript, in the customer's
//!   language (their locale, else the store's). A token unknown, expired or revoked
//!   gets a 404 page that says, in Finnish and English, that the link is no longer
//!   valid, and nothing else. Both answers carry `Cache-Control: no-store`,
//!   `Referrer-Policy: no-referrer` and `X-Robots-Tag: noindex`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use kanta_core::goals::{GoalInput, GoalRow, GoalUpdate, PublicGoals};
use kanta_domain::schema::GOAL_STATUSES;
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::onboarding::form_refused;
use super::{PageError, core_error, form_allowed, render, see_other, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::{Lang, Tr};

/// The customer page's notice for `?saved=` of this card's forms.
pub(crate) fn saved_notice(saved: &str) -> Option<&'static str> {
    match saved {
        "goal" => Some("goals.saved.goal"),
        "goal-note" => Some("goals.saved.note"),
        "goal-status" => Some("goals.saved.status"),
        "goal-link-revoked" => Some("goals.saved.revoked"),
        _ => None,
    }
}

/// A measure's value as the page shows it (`12,5` in Finnish).
fn number(tr: &Tr, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) => {
            let s = if (x - x.round()).abs() < 1e-9 {
                format!("{}", x.round() as i64)
            } else {
                let s = format!("{x:.2}");
                s.trim_end_matches('0').to_string()
            };
            if tr.code() == "fi" {
                s.replace('.', ",")
            } else {
                s
            }
        }
    }
}

/// A number typed in a form (`12,5`, `1 200`); `None` when blank.
fn parse_number(field: &str, s: &str) -> Result<Option<f64>, (String, String)> {
    let t: String = s.trim().chars().filter(|c| !c.is_whitespace()).collect();
    if t.is_empty() {
        return Ok(None);
    }
    kanta_domain::value::parse_float(&t)
        .map(Some)
        .map_err(|e| (field.to_string(), e.to_string()))
}

/// A date typed in a form (`31.12.2026`, `2026-12-31`); `None` when blank.
fn parse_day(field: &str, s: &str) -> Result<Option<NaiveDate>, (String, String)> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    kanta_domain::time::parse_date(s, None)
        .map(Some)
        .map_err(|e| (field.to_string(), e.to_string()))
}

/// One note on the card.
pub(crate) struct NoteView {
    pub noted_on: String,
    pub value: Option<String>,
    pub note: String,
    pub by: String,
}

/// One goal on the card (and the public page).
pub(crate) struct GoalView {
    pub id: String,
    pub title: String,
    pub measure: String,
    pub status: String,
    pub status_label: String,
    pub baseline: String,
    pub current: String,
    pub target: String,
    /// Percent of the way from baseline to target, for the bar.
    pub percent: Option<u32>,
    pub due: String,
    pub agreed: String,
    pub by: String,
    pub notes: Vec<NoteView>,
}

/// One active link on the card.
pub(crate) struct LinkView {
    pub id: i64,
    pub created: String,
    pub expires: String,
}

/// The customer page's goals card (`parts/goals_card.html`).
pub(crate) struct GoalsCard {
    pub customer_id: String,
    pub csrf: String,
    /// Staff and up: the forms.
    pub can_write: bool,
    pub goals: Vec<GoalView>,
    pub links: Vec<LinkView>,
    /// (status, label) for the selects.
    pub statuses: Vec<(&'static str, String)>,
    /// Today, as the note form's default date.
    pub today: String,
}

fn goal_view(tr: &Tr, g: GoalRow) -> GoalView {
    GoalView {
        percent: kanta_core::goals::progress(g.baseline, g.current, g.target)
            .map(|p| (p * 100.0).round() as u32),
        status_label: tr.t(&format!("goals.status.{}", g.status)).to_string(),
        baseline: number(tr, g.baseline),
        current: number(tr, g.current),
        target: number(tr, g.target),
        due: g.due_on.map(|d| tr.day(&d)).unwrap_or_default(),
        agreed: tr.day(&g.agreed_on),
        by: g.staff_name.unwrap_or_default(),
        notes: g
            .notes
            .into_iter()
            .map(|n| NoteView {
                noted_on: tr.day(&n.noted_on),
                value: n.value.map(|v| number(tr, Some(v))),
                note: n.note,
                by: n.staff_name.unwrap_or_default(),
            })
            .collect(),
        id: g.id,
        title: g.title,
        measure: g.measure.unwrap_or_default(),
        status: g.status,
    }
}

fn statuses(tr: &Tr) -> Vec<(&'static str, String)> {
    GOAL_STATUSES
        .iter()
        .map(|s| (*s, tr.t(&format!("goals.status.{s}")).to_string()))
        .collect()
}

/// The goals card of customer `customer` for the signed-in user (the customer page's
/// part).
pub(crate) async fn goals_card(
    s: &AppState,
    signed: &SignedIn,
    customer: &str,
) -> Result<GoalsCard, PageError> {
    let tr = signed.tr;
    let acting = signed.acting();
    let (goals, links, today) = tokio::join!(
        s.core.customer_goals(&acting, customer),
        s.core.goal_links(&acting, customer),
        s.core.today()
    );
    let goals = goals.map_err(core_error(signed))?;
    let links = links.map_err(core_error(signed))?;
    Ok(GoalsCard {
        customer_id: customer.to_string(),
        csrf: signed.csrf.clone(),
        can_write: signed.user.role >= Role::Staff,
        goals: goals.into_iter().map(|g| goal_view(&tr, g)).collect(),
        links: links
            .into_iter()
            .map(|l| LinkView {
                id: l.id,
                created: tr.date(&l.created_at),
                expires: tr.date_time(&l.expires_at),
            })
            .collect(),
        statuses: statuses(&tr),
        today: today.map(|d| tr.day(&d)).unwrap_or_default(),
    })
}

fn bad_input(signed: &SignedIn, (field, reason): (String, String)) -> PageError {
    form_refused(signed, kanta_core::CoreError::invalid(&field, reason))
}

fn back(id: &str, saved: &str) -> Response {
    see_other(format!("/customers/{}?saved={saved}#goals", urlencode(id)))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct GoalForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    measure: String,
    #[serde(default)]
    baseline: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    due_on: String,
    #[serde(default)]
    agreed_on: String,
}

/// `POST /customers/{id}/goals` (staff): adds a goal.
pub(crate) async fn add(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<GoalForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    let parsed = (|| {
        Ok::<_, (String, String)>(GoalInput {
            title: f.title.clone(),
            measure: Some(f.measure.clone()),
            baseline: parse_number("baseline", &f.baseline)?,
            target: parse_number("target", &f.target)?,
            current: None,
            agreed_on: parse_day("agreed_on", &f.agreed_on)?,
            due_on: parse_day("due_on", &f.due_on)?,
            status: None,
        })
    })();
    let input = parsed.map_err(|e| bad_input(&signed, e))?;
    s.core
        .add_goal(&signed.acting(), &id, input)
        .await
        .map_err(|e| form_refused(&signed, e))?;
    Ok(back(&id, "goal"))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    noted_on: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    note: String,
}

/// The goal must be the customer's (a form of another customer's page names it).
async fn goal_of(s: &AppState, signed: &SignedIn, id: &str, goal: &str) -> Result<(), PageError> {
    let owner = s
        .core
        .goal_customer(&signed.acting(), goal)
        .await
        .map_err(|e| form_refused(signed, e))?;
    if owner != id {
        return Err(form_refused(
            signed,
            kanta_core::CoreError::NotFound(format!("no goal with id '{goal}'")),
        ));
    }
    Ok(())
}

/// `POST /customers/{id}/goals/{goal}/notes` (staff): a dated progress note.
pub(crate) async fn note(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, goal)): Path<(String, String)>,
    axum::Form(f): axum::Form<NoteForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    goal_of(&s, &signed, &id, &goal).await?;
    let value = parse_number("value", &f.value).map_err(|e| bad_input(&signed, e))?;
    let noted_on = match parse_day("noted_on", &f.noted_on).map_err(|e| bad_input(&signed, e))? {
        Some(d) => d,
        None => s.core.today().await?,
    };
    s.core
        .add_goal_note(&signed.acting(), &goal, noted_on, value, &f.note)
        .await
        .map_err(|e| form_refused(&signed, e))?;
    Ok(back(&id, "goal-note"))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    current: String,
}

/// `POST /customers/{id}/goals/{goal}/status` (staff): status and current value.
pub(crate) async fn status(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, goal)): Path<(String, String)>,
    axum::Form(f): axum::Form<StatusForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    goal_of(&s, &signed, &id, &goal).await?;
    let current = parse_number("current", &f.current).map_err(|e| bad_input(&signed, e))?;
    let update = GoalUpdate {
        status: Some(f.status.trim().to_string()).filter(|s| !s.is_empty()),
        current,
        ..GoalUpdate::default()
    };
    s.core
        .update_goal(&signed.acting(), &goal, update)
        .await
        .map_err(|e| form_refused(&signed, e))?;
    Ok(back(&id, "goal-status"))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    days: String,
}

/// The page after a link was made: its URL, once, to copy.
#[derive(Template)]
#[template(path = "goals_link.html")]
pub(crate) struct LinkPage {
    tr: Tr,
    me: Option<Me>,
    url: String,
    expires: String,
    customer_href: String,
}

/// The site's address as the request names it (`https://kanta.example.fi`).
fn origin(headers: &axum::http::HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if crate::auth::is_https(headers, uri) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// `POST /customers/{id}/goal-links` (staff): makes a link and shows it once.
pub(crate) async fn create_link(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    axum::Form(f): axum::Form<LinkForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    let days = match f.days.trim() {
        "" => None,
        d => Some(d.parse::<u32>().map_err(|_| {
            bad_input(
                &signed,
                (
                    "expires_in_days".into(),
                    signed.tr.t("goals.error.days").to_string(),
                ),
            )
        })?),
    };
    let link = s
        .core
        .create_goal_link(&signed.acting(), &id, days)
        .await
        .map_err(|e| form_refused(&signed, e))?;
    let tr = signed.tr;
    let page = LinkPage {
        tr,
        me: Some(signed.me()),
        url: format!("{}{}", origin(&headers, &uri), link.path),
        expires: tr.date_time(&link.expires_at),
        customer_href: format!("/customers/{}#goals", urlencode(&id)),
    };
    let mut r = render(&page);
    private(r.headers_mut());
    Ok(r)
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /customers/{id}/goal-links/{link}/revoke` (staff).
pub(crate) async fn revoke_link(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, link)): Path<(String, i64)>,
    axum::Form(f): axum::Form<RevokeForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Staff, &f.csrf)?;
    s.core
        .revoke_goal_link(&signed.acting(), &id, link)
        .await
        .map_err(|e| form_refused(&signed, e))?;
    Ok(back(&id, "goal-link-revoked"))
}

/// The headers of a page that holds a secret or is shown by one.
fn private(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
}

/// The public goals page.
#[derive(Template)]
#[template(path = "public_goals.html")]
pub(crate) struct PublicPage {
    tr: Tr,
    greeting: String,
    goals: Vec<GoalView>,
    steps: Vec<PublicStepView>,
    expires: String,
}

pub(crate) struct PublicStepView {
    title: String,
    text: String,
    due: String,
    done: bool,
}

/// The page of a link that is no longer valid, in both languages.
#[derive(Template)]
#[template(path = "public_goals_gone.html")]
pub(crate) struct GonePage {
    fi: Tr,
    en: Tr,
}

fn public_view(tr: Tr, p: PublicGoals) -> PublicPage {
    let greeting = match &p.name {
        Some(n) => tr.t("goals.public.hello").replace("{name}", n),
        None => tr.t("goals.public.hello-anon").to_string(),
    };
    PublicPage {
        greeting,
        goals: p
            .goals
            .into_iter()
            .map(|g| {
                goal_view(
                    &tr,
                    GoalRow {
                        id: String::new(),
                        agreed_on: g.agreed_on,
                        title: g.title,
                        measure: g.measure,
                        baseline: g.baseline,
                        target: g.target,
                        current: g.current,
                        due_on: g.due_on,
                        status: g.status,
                        staff_name: g.contact,
                        notes: g
                            .notes
                            .into_iter()
                            .map(|n| kanta_core::goals::GoalNoteRow {
                                id: String::new(),
                                noted_on: n.noted_on,
                                value: n.value,
                                note: n.note,
                                staff_name: n.by,
                            })
                            .collect(),
                    },
                )
            })
            .collect(),
        steps: p
            .steps
            .into_iter()
            .map(|s| PublicStepView {
                title: s.title,
                text: s.customer_text.unwrap_or_default(),
                due: tr.day(&s.due_on),
                done: s.done,
            })
            .collect(),
        expires: tr.date(&p.expires_at),
        tr,
    }
}

/// `GET /g/{token}`: the customer's goals, without signing in.
pub(crate) async fn public(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let found = s.core.public_goals(&token).await;
    let mut r = match found {
        Ok(Some(p)) => {
            let lang = match p.locale.as_deref().and_then(Lang::parse) {
                Some(l) => l,
                None => s
                    .core
                    .store_settings()
                    .await
                    .ok()
                    .and_then(|st| Lang::parse(&st.language))
                    .unwrap_or(Lang::Fi),
            };
            let zone = s
                .core
                .time_zone()
                .await
                .unwrap_or(kanta_domain::time::DEFAULT_ZONE);
            render(&public_view(Tr::in_zone(lang, zone), p))
        }
        Ok(None) => {
            let mut r = render(&GonePage {
                fi: Tr::new(Lang::Fi),
                en: Tr::new(Lang::En),
            });
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "public goals page failed");
            let mut r = render(&GonePage {
                fi: Tr::new(Lang::Fi),
                en: Tr::new(Lang::En),
            });
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    };
    private(r.headers_mut());
    r.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The part as the customer page includes it.
    #[derive(Template)]
    #[template(source = "{% include \"parts/goals_card.html\" %}", ext = "html")]
    struct Wrap {
        tr: Tr,
        goals_card: GoalsCard,
    }

    #[test]
    fn the_card_renders_goals_links_and_forms() {
        let tr = Tr::new(Lang::Fi);
        let card = GoalsCard {
            customer_id: "c1".into(),
            csrf: "tok".into(),
            can_write: true,
            goals: vec![GoalView {
                id: "g1".into(),
                title: "Tilaukset <kasvuun>".into(),
                measure: "tilauksia/kk".into(),
                status: "at_risk".into(),
                status_label: tr.t("goals.status.at_risk").into(),
                baseline: "10".into(),
                current: "15".into(),
                target: "20".into(),
                percent: Some(50),
                due: "31.12.2026".into(),
                agreed: "1.12.2026".into(),
                by: "Maija".into(),
                notes: vec![],
            }],
            links: vec![LinkView {
                id: 7,
                created: "1.12.2026".into(),
                expires: "31.12.2026 klo 12.00".into(),
            }],
            statuses: statuses(&tr),
            today: "5.12.2026".into(),
        };
        let html = Wrap {
            tr,
            goals_card: card,
        }
        .render()
        .unwrap();
        assert!(html.contains("Tilaukset &#60;kasvuun&#62;"), "{html}");
        assert!(html.contains("/customers/c1/goal-links/7/revoke"), "{html}");
        assert!(html.contains("/customers/c1/goals/g1/notes"), "{html}");
    }

    #[test]
    fn numbers_read_in_each_language() {
        assert_eq!(number(&Tr::new(Lang::Fi), Some(12.5)), "12,5");
        assert_eq!(number(&Tr::new(Lang::En), Some(1200.0)), "1200");
        assert_eq!(parse_number("x", "12,5").unwrap(), Some(12.5));
        assert_eq!(parse_number("x", " ").unwrap(), None);
        assert!(parse_number("x", "abc").is_err());
    }
}

//! Sending surveys (`kanta_core::survey_send`):
//!
//! - `GET /surveys/{id}/waves` (anyone signed in): the send form (managers: audience
//!   all, segment, tier, listed customers or the contact queue; channel email or link;
//!   a dry run that only counts) and the survey's waves with their counts, mails sent,
//!   answers and response rate.
//! - `POST /surveys/{id}/waves` (managers): sends; an email wave goes back with 303
//!   and a notice, a link wave or a dry run shows its result (the links, with a CSV
//!   download); bad input is 422 with the form kept and the field named.
//! - `GET /surveys/{id}/waves/{wave}/links.csv` (managers): a link wave's personal
//!   links.
//! - `GET /surveys/{id}/invitations?status=&reason=&wave=&page=` (anyone signed in):
//!   the invitation log: customer, status, the reason in words, times in the store's
//!   zone.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{TimeZone, Utc};
use kanta_core::CoreError;
use kanta_core::survey_send::{
    Audience, REASONS, SendChannel, WaveResult, no_customers_message, parse_tier,
};
use kanta_store::accounts::Role;
use serde::Deserialize;

use super::{PageError, core_error, form_allowed, render, render_status, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// Invitations per page of the log.
const PAGE: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/surveys/{id}/waves", get(waves).post(send))
        .route("/surveys/{id}/waves/{wave}/links.csv", get(links_csv))
        .route("/surveys/{id}/invitations", get(invitations))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct WavesParams {
    sent: Option<i64>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub(crate) struct SendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    dry_run: Option<String>,
}

pub(crate) struct Opt {
    value: String,
    label: String,
    selected: bool,
}

pub(crate) struct WaveLine {
    id: i64,
    date: String,
    channel: String,
    audience: String,
    considered: i64,
    invited: i64,
    skipped: i64,
    mails_sent: i64,
    answered: i64,
    rate: String,
}

/// What the last sending did, shown above the form.
pub(crate) struct Outcome {
    text: String,
    reasons: Vec<(String, i64)>,
    links: Vec<(String, String)>,
    csv: Option<String>,
}

#[derive(Template)]
#[template(path = "survey_waves.html")]
pub(crate) struct WavesPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    manager: bool,
    survey: String,
    survey_name: String,
    status: String,
    notice: Option<String>,
    error: Option<String>,
    outcome: Option<Outcome>,
    audiences: Vec<Opt>,
    channels: Vec<Opt>,
    value: String,
    waves: Vec<WaveLine>,
}

fn reason_label(tr: &Tr, r: &str) -> String {
    tr.text_or(&format!("waves.reason.{r}"), r)
}

fn audience_label(tr: &Tr, a: &str) -> String {
    match a.split_once(':') {
        Some((k, v)) => format!("{}: {v}", tr.text_or(&format!("waves.audience.{k}"), k)),
        None => tr.text_or(&format!("waves.audience.{a}"), a),
    }
}

fn when(tr: &Tr, ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| tr.date_time(&t))
        .unwrap_or_default()
}

async fn survey_row(s: &AppState, id: &str) -> Result<Option<(i64, String, String)>, PageError> {
    Ok(s.store.survey_by_external_id(id).await?)
}

#[allow(clippy::too_many_arguments)]
async fn view(
    s: &AppState,
    signed: &SignedIn,
    survey: &str,
    notice: Option<String>,
    error: Option<String>,
    outcome: Option<Outcome>,
    form: &SendForm,
) -> Result<Option<WavesPage>, PageError> {
    let tr = signed.tr;
    let Some((_, status, name)) = survey_row(s, survey).await? else {
        return Ok(None);
    };
    let waves = s
        .core
        .survey_waves(&signed.acting(), survey)
        .await
        .map_err(core_error(signed))?;
    let audiences = ["all", "segment", "tier", "customers", "queue"]
        .iter()
        .map(|a| Opt {
            value: a.to_string(),
            label: tr.text_or(&format!("waves.audience.{a}"), a),
            selected: form.audience == *a,
        })
        .collect();
    let channels = ["email", "link"]
        .iter()
        .map(|c| Opt {
            value: c.to_string(),
            label: tr.text_or(&format!("waves.channel.{c}"), c),
            selected: form.channel == *c,
        })
        .collect();
    let waves = waves
        .into_iter()
        .map(|w| WaveLine {
            id: w.id,
            date: when(&tr, w.created_ms),
            channel: tr.text_or(&format!("waves.channel.{}", w.channel), &w.channel),
            audience: audience_label(&tr, &w.audience),
            considered: w.considered,
            invited: w.invited,
            skipped: w.skipped,
            mails_sent: w.mails_sent,
            answered: w.answered,
            rate: if w.invited > 0 {
                format!("{:.0} %", 100.0 * w.answered as f64 / w.invited as f64)
            } else {
                "–".into()
            },
        })
        .collect();
    Ok(Some(WavesPage {
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        manager: signed.user.role >= Role::Manager,
        survey: survey.to_string(),
        survey_name: name,
        status: tr.text_or(&format!("waves.survey-status.{status}"), &status),
        notice,
        error,
        outcome,
        audiences,
        channels,
        value: form.value.clone(),
        waves,
        tr,
    }))
}

fn missing(signed: &SignedIn) -> PageError {
    core_error(signed)(CoreError::NotFound("no such survey".into()))
}

/// `GET /surveys/{id}/waves`.
async fn waves(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<WavesParams>,
) -> Result<Response, PageError> {
    let notice = q
        .sent
        .map(|w| format!("{} #{w}", signed.tr.t("waves.sent")));
    let form = SendForm {
        audience: "all".into(),
        channel: "email".into(),
        ..SendForm::default()
    };
    match view(&s, &signed, &id, notice, None, None, &form).await? {
        Some(v) => Ok(render(&v)),
        None => Err(missing(&signed)),
    }
}

/// The audience of the form, or the message (field and reason, in the page's
/// language) saying what is wrong with it.
fn audience_of(tr: &Tr, f: &SendForm) -> Result<Audience, String> {
    let v = f.value.trim().to_string();
    let problem = |field: &str, key: &str| {
        format!("{}: {}", tr.t(&format!("waves.field.{field}")), tr.t(key))
    };
    match f.audience.as_str() {
        "all" | "" => Ok(Audience::All),
        "queue" => Ok(Audience::Queue),
        "segment" if v.is_empty() => Err(problem("value", "waves.error.segment")),
        "segment" => Ok(Audience::Segment(v)),
        "tier" if v.is_empty() => Err(problem("value", "waves.error.tier")),
        "tier" => match parse_tier(&v) {
            Some(t) => Ok(Audience::Tier(t.to_string())),
            None => Err(format!(
                "{}: {}",
                tr.t("waves.field.tier"),
                tr.t("waves.error.tier-unknown")
                    .replace("{value}", &format!("'{v}'"))
            )),
        },
        "customers" => {
            let ids: Vec<String> = v
                .split([',', ' ', '\n', '\r', ';'])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect();
            if ids.is_empty() {
                Err(problem("value", "waves.error.customers"))
            } else {
                Ok(Audience::Customers(ids))
            }
        }
        _ => Err(problem("audience", "waves.error.audience")),
    }
}

/// "No customers match ..." in the page's language.
fn no_customers(tr: &Tr, a: &Audience) -> String {
    let (key, value) = match a {
        Audience::All => ("waves.error.nobody.all", String::new()),
        Audience::Segment(s) => ("waves.error.nobody.segment", format!("'{s}'")),
        Audience::Tier(t) => ("waves.error.nobody.tier", format!("'{t}'")),
        Audience::Customers(c) => (
            "waves.error.nobody.customers",
            c.iter()
                .take(5)
                .map(|x| format!("'{x}'"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Audience::Queue => ("waves.error.nobody.queue", String::new()),
    };
    format!(
        "{}: {}",
        tr.t("waves.field.audience"),
        tr.t(key).replace("{value}", &value)
    )
}

fn outcome_of(tr: &Tr, survey: &str, r: &WaveResult) -> Outcome {
    let text = format!(
        "{}: {} {}, {} {}, {} {}",
        if r.dry_run {
            tr.t("waves.dry-run-result")
        } else {
            tr.t("waves.result")
        },
        r.considered,
        tr.t("waves.col.considered"),
        r.invited,
        tr.t("waves.col.invited"),
        r.skipped,
        tr.t("waves.col.skipped"),
    );
    Outcome {
        text,
        reasons: r
            .reasons
            .iter()
            .map(|(k, n)| (reason_label(tr, k), *n))
            .collect(),
        links: r.links.iter().take(500).cloned().collect(),
        csv: match (r.wave_id, r.channel) {
            (Some(w), SendChannel::Link) => Some(format!(
                "/surveys/{}/waves/{w}/links.csv",
                kanta_core::surveys::path_segment(survey)
            )),
            _ => None,
        },
    }
}

/// `POST /surveys/{id}/waves`.
async fn send(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<SendForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, Role::Manager, &f.csrf)?;
    let tr = signed.tr;
    let back = |msg: String| {
        let s = s.clone();
        let signed = &signed;
        let f = f.clone();
        let id = id.clone();
        async move {
            match view(&s, signed, &id, None, Some(msg), None, &f).await? {
                Some(v) => Ok(render_status(&v, StatusCode::UNPROCESSABLE_ENTITY)),
                None => Err(missing(signed)),
            }
        }
    };
    let audience = match audience_of(&tr, &f) {
        Ok(a) => a,
        Err(msg) => return back(msg).await,
    };
    let nobody = no_customers_message(&audience);
    let nobody_text = no_customers(&tr, &audience);
    let Some(channel) = SendChannel::parse(if f.channel.is_empty() {
        "email"
    } else {
        &f.channel
    }) else {
        return back(format!(
            "{}: {}",
            tr.t("waves.field.channel"),
            tr.t("waves.error.channel")
        ))
        .await;
    };
    let dry = f.dry_run.is_some();
    match s
        .core
        .send_wave(&signed.acting(), &id, audience, channel, dry)
        .await
    {
        Ok(r) if !dry && channel == SendChannel::Email => Ok(see_other(format!(
            "/surveys/{}/waves?sent={}",
            kanta_core::surveys::path_segment(&id),
            r.wave_id.unwrap_or_default()
        ))),
        Ok(r) => {
            let outcome = outcome_of(&tr, &id, &r);
            match view(&s, &signed, &id, None, None, Some(outcome), &f).await? {
                Some(v) => Ok(render(&v)),
                None => Err(missing(&signed)),
            }
        }
        Err(CoreError::Invalid(p))
            if p.len() == 1 && p[0].field == "audience" && p[0].reason == nobody =>
        {
            back(nobody_text).await
        }
        Err(CoreError::Invalid(p)) => {
            let msg = p
                .iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        tr.text_or(&format!("waves.field.{}", p.field), &p.field),
                        p.reason
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            back(msg).await
        }
        Err(e) => Err(core_error(&signed)(e)),
    }
}

/// `GET /surveys/{id}/waves/{wave}/links.csv`.
async fn links_csv(
    State(s): State<AppState>,
    signed: SignedIn,
    Path((id, wave)): Path<(String, i64)>,
) -> Result<Response, PageError> {
    signed.require(Role::Manager)?;
    let links = s
        .core
        .wave_links(&signed.acting(), &id, wave)
        .await
        .map_err(core_error(&signed))?;
    let mut csv = String::from("customer,link\n");
    for (c, u) in links {
        let c = if c.contains([',', '"', '\n']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c
        };
        csv.push_str(&format!("{c},{u}\n"));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"survey-links-{wave}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct LogParams {
    status: Option<String>,
    reason: Option<String>,
    wave: Option<String>,
    page: Option<i64>,
}

pub(crate) struct LogLine {
    customer_id: String,
    customer: String,
    status: String,
    status_key: String,
    reason: String,
    channel: String,
    language: String,
    wave: String,
    created: String,
    expires: String,
    reminded: String,
    answered: String,
    mail: String,
}

#[derive(Template)]
#[template(path = "survey_invitations.html")]
pub(crate) struct LogPage {
    tr: Tr,
    me: Option<Me>,
    survey: String,
    survey_name: String,
    statuses: Vec<Opt>,
    reasons: Vec<Opt>,
    wave: String,
    lines: Vec<LogLine>,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// `GET /surveys/{id}/invitations`.
async fn invitations(
    State(s): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<LogParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let Some((_, _, name)) = survey_row(&s, &id).await? else {
        return Err(missing(&signed));
    };
    let status = q.status.filter(|x| !x.is_empty());
    let reason = q.reason.filter(|x| !x.is_empty());
    let wave_text = q.wave.clone().unwrap_or_default();
    let mut error = None;
    let wave = match wave_text.trim() {
        "" => None,
        w => match w.trim_start_matches('#').parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                error = Some(format!(
                    "{}: {}",
                    tr.t("waves.field.wave"),
                    tr.t("waves.error.wave")
                ));
                None
            }
        },
    };
    let page = q.page.unwrap_or(1).max(1);
    let rows = match s
        .core
        .survey_invitations(
            &signed.acting(),
            &id,
            status.as_deref(),
            reason.as_deref(),
            wave,
            PAGE + 1,
            (page - 1) * PAGE,
        )
        .await
    {
        Ok(r) => r,
        Err(CoreError::Invalid(p)) => {
            error = Some(
                p.iter()
                    .map(|p| {
                        format!(
                            "{}: {}",
                            tr.text_or(&format!("waves.field.{}", p.field), &p.field),
                            p.reason
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            Vec::new()
        }
        Err(e) => return Err(core_error(&signed)(e)),
    };
    let more = rows.len() as i64 > PAGE;
    let lines = rows
        .into_iter()
        .take(PAGE as usize)
        .map(|i| LogLine {
            customer: i
                .customer_name
                .clone()
                .unwrap_or_else(|| i.customer.clone()),
            customer_id: i.customer,
            status: tr.text_or(&format!("waves.status.{}", i.status), &i.status),
            status_key: i.status,
            reason: i
                .reason
                .as_deref()
                .map(|r| reason_label(&tr, r))
                .unwrap_or_default(),
            channel: tr.text_or(&format!("waves.channel.{}", i.channel), &i.channel),
            language: i.language.unwrap_or_default(),
            wave: match (i.wave_id, i.trigger_key) {
                (Some(w), _) => format!("#{w}"),
                (None, Some(t)) => tr.text_or(
                    &format!("waves.trigger.{}", t.split(':').next().unwrap_or("")),
                    &t,
                ),
                _ => String::new(),
            },
            created: when(&tr, i.created_ms),
            expires: i.expires_ms.map(|t| when(&tr, t)).unwrap_or_default(),
            reminded: i.reminded_ms.map(|t| when(&tr, t)).unwrap_or_default(),
            answered: i.answered_ms.map(|t| when(&tr, t)).unwrap_or_default(),
            mail: i
                .mail_status
                .map(|m| tr.text_or(&format!("waves.mail.{m}"), &m))
                .unwrap_or_default(),
        })
        .collect();
    let link = |p: i64| {
        let mut u = format!(
            "/surveys/{}/invitations?page={p}",
            kanta_core::surveys::path_segment(&id)
        );
        for (k, v) in [("status", &status), ("reason", &reason)] {
            if let Some(v) = v {
                u.push_str(&format!("&{k}={}", kanta_core::surveys::path_segment(v)));
            }
        }
        if let Some(w) = wave {
            u.push_str(&format!("&wave={w}"));
        }
        u
    };
    let view = LogPage {
        me: Some(signed.me()),
        survey: id.clone(),
        survey_name: name,
        statuses: ["invited", "skipped", "answered"]
            .iter()
            .map(|x| Opt {
                value: x.to_string(),
                label: tr.text_or(&format!("waves.status.{x}"), x),
                selected: status.as_deref() == Some(*x),
            })
            .collect(),
        reasons: REASONS
            .iter()
            .map(|x| Opt {
                value: x.to_string(),
                label: reason_label(&tr, x),
                selected: reason.as_deref() == Some(*x),
            })
            .collect(),
        wave: wave_text,
        lines,
        page,
        prev: (page > 1).then(|| link(page - 1)),
        next: more.then(|| link(page + 1)),
        error: error.clone(),
        tr,
    };
    Ok(if error.is_some() {
        render_status(&view, StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        render(&view)
    })
}

//! The feedback page (`/feedback`, every signed-in role) and the answers behind its
//! figures (`/feedback/answers`).
//!
//! - `/feedback?by=month|quarter&months=N`: NPS per month or quarter with its
//!   adjusted Wald 95% interval as a chart and a table (CSAT's share 4-5 and mean, CES
//!   beside it), the same by segment, tier, survey and channel; a figure with fewer
//!   answers than the setting `feedback_min_answers` reads "not enough answers" with
//!   its n; response rates per wave and invitation channel; reputation exposure (the
//!   promoters × 3 told of good service against the detractors × 11 told of bad, the
//!   factors being settings) as a chart; the themes (label, key words, answers, trend;
//!   `/feedback/themes` edits them) and the detractor drivers, ranked. Every count
//!   links to the answers behind it. The core computes it all once
//!   (`Core::feedback_report`); this page formats and draws.
//! - `/feedback/answers?period=&group=&segment=&tier=&survey=&channel=&theme=&measure=&page=`:
//!   the answers a figure counts, newest first, 50 a page, each with its customer's
//!   link; everything the customer wrote shown as text (escaped).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::NaiveDate;
use kanta_core::feedback_stats::{AnswersQuery, Cell, FeedbackReport, MAX_MONTHS, MONTHS, Period};
use kanta_core::recovery::Rate;
use serde::Deserialize;

use super::retention::{count, decimal, month, percent};
use super::{PageError, core_error, render};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::charts::{BarChart, BarSeries, ChartOptions, LineChart, LineSeries, Sparkline};
use crate::i18n::{Lang, Tr};
use crate::render::urlencode;

/// Answers per page of the drill-down.
const PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/feedback", get(page))
        .route("/feedback/answers", get(answers))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    by: Option<String>,
    months: Option<String>,
}

/// A choice of a select.
pub(crate) struct Opt {
    value: String,
    label: String,
    selected: bool,
}

/// One row of a figures table, formatted.
pub(crate) struct Row {
    key: String,
    label: String,
    answers: String,
    /// The answers behind the row.
    href: String,
    detractors: String,
    detractors_href: String,
    /// NPS, CSAT's share, CSAT's mean, CES.
    figures: [Figure; 4],
}

/// A figure with its interval, or "not enough answers (n)".
pub(crate) struct Figure {
    value: String,
    interval: String,
    /// Fewer answers than the setting: the value says so.
    short: bool,
    href: String,
}

pub(crate) struct Table {
    id: &'static str,
    heading: String,
    column: String,
    rows: Vec<Row>,
}

pub(crate) struct WaveRow {
    sent: String,
    survey: String,
    channel: String,
    invited: String,
    answered: String,
    rate: String,
    interval: String,
    skipped: String,
}

pub(crate) struct ExposureRow {
    period: String,
    promoters: String,
    detractors: String,
    told_good: String,
    told_bad: String,
}

pub(crate) struct ThemeRow {
    id: i64,
    label: String,
    words: String,
    count: String,
    trend_svg: String,
    href: String,
}

pub(crate) struct DriverRow {
    label: String,
    detractors: String,
    promoters: String,
    difference: String,
    interval: String,
    clear: bool,
    href: String,
}

#[derive(Template)]
#[template(path = "feedback.html")]
pub(crate) struct FeedbackPage {
    tr: Tr,
    me: Option<Me>,
    by: Vec<Opt>,
    month_choices: Vec<Opt>,
    from: String,
    to: String,
    min_answers: String,
    total: Row,
    nps_svg: String,
    periods: Table,
    breakdowns: Vec<Table>,
    waves: Vec<WaveRow>,
    channels: Vec<WaveRow>,
    exposure_svg: String,
    exposure: Vec<ExposureRow>,
    exposure_text: String,
    themes: Vec<ThemeRow>,
    drivers: Vec<DriverRow>,
    drivers_text: String,
    drivers_short: bool,
}

fn bad(signed: &SignedIn, message: String) -> PageError {
    PageError::Page(Box::new(crate::render::error_page(
        signed.tr,
        Some(signed.me()),
        StatusCode::BAD_REQUEST,
        &message,
    )))
}

/// The `by` and `months` of a query, or the page's refusal naming the field.
fn period_params(signed: &SignedIn, q: &Params) -> Result<(Period, u32), PageError> {
    let tr = signed.tr;
    let by = match q.by.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        None => Period::Month,
        Some(b) => Period::parse(b).ok_or_else(|| {
            bad(
                signed,
                tr.t("feedback.bad-by")
                    .replace("{value}", &crate::errors::short(b, 40)),
            )
        })?,
    };
    let months = match q.months.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => MONTHS,
        Some(m) => m
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_MONTHS).contains(n))
            .ok_or_else(|| {
                bad(
                    signed,
                    tr.t("feedback.bad-months")
                        .replace("{value}", &crate::errors::short(m, 40))
                        .replace("{max}", &MAX_MONTHS.to_string()),
                )
            })?,
    };
    Ok((by, months))
}

/// A period key as the page writes it: `10/2026`, `2026-10`; `Q4/2026`, `2026-Q4`.
pub(crate) fn period_label(tr: &Tr, key: &str) -> String {
    if let Some((y, q)) = key.split_once("-Q") {
        return match tr.lang {
            Lang::Fi => format!("Q{q}/{y}"),
            Lang::En => key.to_string(),
        };
    }
    NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d")
        .map_or_else(|_| key.to_string(), |d| month(tr, d))
}

/// NPS points with a sign: `+20`, `−31`.
fn points(tr: &Tr, v: f64) -> String {
    let r = v.round();
    let s = decimal(tr, r.abs(), 0);
    if r > 0.0 {
        format!("+{s}")
    } else if r < 0.0 {
        format!("−{s}")
    } else {
        s
    }
}

fn not_enough(tr: &Tr, n: u64, href: String) -> Figure {
    Figure {
        value: if n == 0 {
            "–".into()
        } else {
            tr.t("feedback.not-enough").replace("{n}", &count(tr, n))
        },
        interval: String::new(),
        short: n > 0,
        href,
    }
}

/// The query string of a drill-down: `key=value` pairs, values encoded.
fn answers_href(pairs: &[(&str, &str)]) -> String {
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    format!("/feedback/answers?{}", q.join("&"))
}

/// One table row; `dim` is the drill-down's parameter (`period`, `segment`, ...).
fn row(tr: &Tr, c: &Cell, dim: &str, label: String) -> Row {
    let base: Vec<(&str, &str)> = if dim.is_empty() {
        Vec::new()
    } else {
        vec![(dim, c.key.as_str())]
    };
    let with = |extra: &[(&str, &str)]| {
        let mut p = base.clone();
        p.extend_from_slice(extra);
        answers_href(&p)
    };
    let nps_href = with(&[("measure", "nps")]);
    let nps = match (c.nps.score, c.nps.lo, c.nps.hi) {
        (Some(s), Some(lo), Some(hi)) => Figure {
            value: format!("{} (n {})", points(tr, s), count(tr, c.nps.n)),
            interval: format!("{} … {}", points(tr, lo), points(tr, hi)),
            short: false,
            href: nps_href,
        },
        _ => not_enough(tr, c.nps.n, nps_href),
    };
    let csat_href = with(&[("measure", "csat")]);
    let csat = match (c.csat.share, c.csat.lo, c.csat.hi) {
        (Some(p), Some(lo), Some(hi)) => Figure {
            value: format!("{} (n {})", percent(tr, p, 0), count(tr, c.csat.n)),
            interval: format!("{} – {}", percent(tr, lo, 0), percent(tr, hi, 0)),
            short: false,
            href: csat_href.clone(),
        },
        _ => not_enough(tr, c.csat.n, csat_href.clone()),
    };
    let mean = |m: Option<f64>, lo: Option<f64>, hi: Option<f64>, n: u64, href: String| match m {
        Some(m) => Figure {
            value: format!("{} (n {})", decimal(tr, m, 2), count(tr, n)),
            interval: match (lo, hi) {
                (Some(lo), Some(hi)) => format!("{} – {}", decimal(tr, lo, 2), decimal(tr, hi, 2)),
                _ => String::new(),
            },
            short: false,
            href,
        },
        None => not_enough(tr, n, href),
    };
    Row {
        key: c.key.clone(),
        label,
        answers: count(tr, c.answers),
        href: with(&[]),
        detractors: count(tr, c.detractors),
        detractors_href: with(&[("group", "detractor")]),
        figures: [
            nps,
            csat,
            mean(
                c.csat.mean,
                c.csat.mean_lo,
                c.csat.mean_hi,
                c.csat.n,
                csat_href,
            ),
            mean(
                c.ces.mean,
                c.ces.lo,
                c.ces.hi,
                c.ces.n,
                with(&[("measure", "ces")]),
            ),
        ],
    }
}

fn options(tr: &Tr, id: &str, title: &str) -> ChartOptions {
    ChartOptions::new(id, title)
        .decimal_comma(tr.lang == Lang::Fi)
        .empty_text(tr.t("feedback.no-answers"))
}

/// NPS per period with its interval band; periods with too few answers are gaps.
fn nps_chart(tr: &Tr, r: &FeedbackReport) -> String {
    let labels: Vec<String> = r.periods.iter().map(|c| period_label(tr, &c.key)).collect();
    let points =
        r.periods
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match (c.nps.score, c.nps.lo, c.nps.hi) {
                (Some(s), Some(lo), Some(hi)) => Some((i as f64, s, lo, hi)),
                _ => None,
            });
    LineChart::new(
        options(tr, "nps-chart", tr.t("feedback.nps.chart"))
            .size(640.0, 280.0)
            .y_label(tr.t("feedback.nps"))
            .description(tr.t("feedback.nps.chart-desc")),
    )
    .categories(labels)
    .include_zero(true)
    .series(LineSeries::with_band(tr.t("feedback.nps"), points))
    .render()
}

/// People told per period: promoters × the good factor against detractors × the bad.
fn exposure_chart(tr: &Tr, r: &FeedbackReport) -> String {
    let labels: Vec<String> = r
        .exposure
        .iter()
        .map(|e| period_label(tr, &e.key))
        .collect();
    let good = tr
        .t("feedback.exposure.good")
        .replace("{k}", &r.exposure_promoter.to_string());
    let bad = tr
        .t("feedback.exposure.bad")
        .replace("{k}", &r.exposure_detractor.to_string());
    BarChart::new(
        options(tr, "exposure-chart", tr.t("feedback.exposure.title"))
            .size(640.0, 260.0)
            .y_label(tr.t("feedback.exposure.people")),
        labels,
    )
    .series(
        BarSeries::new(&good, r.exposure.iter().map(|e| e.told_good as f64)).links(
            r.exposure
                .iter()
                .map(|e| Some(answers_href(&[("period", &e.key), ("group", "promoter")]))),
        ),
    )
    .series(
        BarSeries::new(&bad, r.exposure.iter().map(|e| e.told_bad as f64)).links(
            r.exposure
                .iter()
                .map(|e| Some(answers_href(&[("period", &e.key), ("group", "detractor")]))),
        ),
    )
    .render()
}

fn rate_text(tr: &Tr, r: &Rate) -> (String, String) {
    match (r.p, r.lo, r.hi) {
        (Some(p), Some(lo), Some(hi)) => (
            percent(tr, p, 0),
            format!("{} – {}", percent(tr, lo, 0), percent(tr, hi, 0)),
        ),
        _ => ("–".into(), String::new()),
    }
}

fn channel_label(tr: &Tr, key: &str) -> String {
    if key.is_empty() {
        tr.t("feedback.channel.none").to_string()
    } else {
        tr.text_or(&format!("feedback.channel.{key}"), key)
    }
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let (by, months) = period_params(&signed, &q)?;
    let acting = signed.acting();
    let r = s
        .core
        .feedback_report(&acting, by, months)
        .await
        .map_err(core_error(&signed))?;

    let none = tr.t("feedback.none").to_string();
    let or_none = |k: &str| {
        if k.is_empty() {
            none.clone()
        } else {
            k.to_string()
        }
    };
    let period_rows: Vec<Row> = r
        .periods
        .iter()
        .rev()
        .map(|c| row(&tr, c, "period", period_label(&tr, &c.key)))
        .collect();
    let breakdowns = vec![
        Table {
            id: "by-segment",
            heading: tr.t("feedback.by-segment").into(),
            column: tr.t("feedback.segment").into(),
            rows: r
                .segments
                .iter()
                .map(|c| row(&tr, c, "segment", or_none(&c.key)))
                .collect(),
        },
        Table {
            id: "by-tier",
            heading: tr.t("feedback.by-tier").into(),
            column: tr.t("feedback.tier").into(),
            rows: r
                .tiers
                .iter()
                .map(|c| row(&tr, c, "tier", or_none(&c.key)))
                .collect(),
        },
        Table {
            id: "by-survey",
            heading: tr.t("feedback.by-survey").into(),
            column: tr.t("feedback.survey").into(),
            rows: r
                .surveys
                .iter()
                .map(|c| {
                    let label = c.label.clone().unwrap_or_else(|| or_none(&c.key));
                    row(&tr, c, "survey", label)
                })
                .collect(),
        },
        Table {
            id: "by-channel",
            heading: tr.t("feedback.by-channel").into(),
            column: tr.t("feedback.channel").into(),
            rows: r
                .channels
                .iter()
                .map(|c| row(&tr, c, "channel", channel_label(&tr, &c.key)))
                .collect(),
        },
    ];
    let waves = r
        .waves
        .iter()
        .map(|w| {
            let (rate, interval) = rate_text(&tr, &w.rate);
            WaveRow {
                sent: if w.wave_id.is_some() {
                    tr.date_time(&w.sent_at)
                } else {
                    tr.t("feedback.response.triggered").to_string()
                },
                survey: w.survey_name.clone(),
                channel: channel_label(&tr, &w.channel),
                invited: count(&tr, w.rate.n),
                answered: count(&tr, w.rate.k),
                rate,
                interval,
                skipped: count(&tr, w.skipped),
            }
        })
        .collect();
    let channels = r
        .invitation_channels
        .iter()
        .map(|c| {
            let (rate, interval) = rate_text(&tr, &c.rate);
            WaveRow {
                sent: String::new(),
                survey: String::new(),
                channel: channel_label(&tr, &c.channel),
                invited: count(&tr, c.rate.n),
                answered: count(&tr, c.rate.k),
                rate,
                interval,
                skipped: String::new(),
            }
        })
        .collect();
    let exposure = r
        .exposure
        .iter()
        .rev()
        .map(|e| ExposureRow {
            period: period_label(&tr, &e.key),
            promoters: count(&tr, e.promoters),
            detractors: count(&tr, e.detractors),
            told_good: count(&tr, e.told_good),
            told_bad: count(&tr, e.told_bad),
        })
        .collect();
    let themes = r
        .themes
        .iter()
        .map(|t| ThemeRow {
            id: t.id,
            label: t.label.clone(),
            words: t.words.join(", "),
            count: count(&tr, t.count),
            trend_svg: Sparkline::new(
                &format!("theme-{}-trend", t.id),
                &tr.t("feedback.themes.trend").replace("{theme}", &t.label),
                t.trend.iter().map(|(_, n)| Some(*n as f64)).collect(),
            )
            .render(),
            href: answers_href(&[("theme", &t.id.to_string())]),
        })
        .collect();
    let drivers = r
        .drivers
        .iter()
        .map(|d| {
            let share = |x: &Rate| match x.p {
                Some(p) => format!(
                    "{} ({}/{})",
                    percent(&tr, p, 0),
                    count(&tr, x.k),
                    count(&tr, x.n)
                ),
                None => "–".into(),
            };
            DriverRow {
                label: d.label.clone(),
                detractors: share(&d.detractors),
                promoters: share(&d.promoters),
                difference: d.difference.map_or_else(
                    || "–".into(),
                    |v| format!("{} {}", points(&tr, v * 100.0), tr.t("feedback.points")),
                ),
                interval: match (d.lo, d.hi) {
                    (Some(lo), Some(hi)) => {
                        format!("{} … {}", points(&tr, lo * 100.0), points(&tr, hi * 100.0))
                    }
                    _ => String::new(),
                },
                clear: d.clear,
                href: answers_href(&[("theme", &d.theme_id.to_string()), ("group", "detractor")]),
            }
        })
        .collect();
    let view = FeedbackPage {
        tr,
        me: Some(signed.me()),
        by: [Period::Month, Period::Quarter]
            .into_iter()
            .map(|p| Opt {
                value: p.name().into(),
                label: tr.t(&format!("feedback.by.{}", p.name())).into(),
                selected: p == by,
            })
            .collect(),
        month_choices: [6, 12, 24, 36, 60]
            .into_iter()
            .chain((![6, 12, 24, 36, 60].contains(&months)).then_some(months))
            .map(|m| Opt {
                value: m.to_string(),
                label: super::retention::months(&tr, m),
                selected: m == months,
            })
            .collect(),
        from: tr.day(&r.from),
        to: tr.day(&r.to),
        min_answers: count(&tr, r.min_answers),
        total: row(&tr, &r.total, "", tr.t("feedback.all").into()),
        nps_svg: nps_chart(&tr, &r),
        periods: Table {
            id: "by-period",
            heading: tr.t(&format!("feedback.by-period.{}", by.name())).into(),
            column: tr.t(&format!("feedback.period.{}", by.name())).into(),
            rows: period_rows,
        },
        breakdowns,
        waves,
        channels,
        exposure_svg: exposure_chart(&tr, &r),
        exposure,
        exposure_text: tr
            .t("feedback.exposure.definition")
            .replace("{good}", &r.exposure_promoter.to_string())
            .replace("{bad}", &r.exposure_detractor.to_string()),
        themes,
        drivers,
        drivers_text: tr
            .t("feedback.drivers.definition")
            .replace("{detractors}", &count(&tr, r.detractors_with_text))
            .replace("{promoters}", &count(&tr, r.promoters_with_text)),
        drivers_short: r.drivers.iter().any(|d| !d.enough),
    };
    Ok(render(&view))
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct AnswerParams {
    period: Option<String>,
    group: Option<String>,
    segment: Option<String>,
    tier: Option<String>,
    survey: Option<String>,
    channel: Option<String>,
    theme: Option<String>,
    measure: Option<String>,
    page: Option<String>,
}

pub(crate) struct AnswerLine {
    id: String,
    at: String,
    customer: String,
    customer_href: Option<String>,
    survey: String,
    scores: String,
    texts: Vec<(String, String)>,
    channel: String,
}

#[derive(Template)]
#[template(path = "feedback_answers.html")]
pub(crate) struct AnswersPage {
    tr: Tr,
    me: Option<Me>,
    /// What the list is: `label: value` pairs.
    filters: Vec<(String, String)>,
    total: String,
    lines: Vec<AnswerLine>,
    prev: Option<String>,
    next: Option<String>,
    shown: String,
}

pub(crate) async fn answers(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<AnswerParams>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let trim = |v: &Option<String>| v.as_deref().map(str::trim).map(str::to_string);
    let set = |v: &Option<String>| trim(v).filter(|v| !v.is_empty());
    let page_no = match set(&q.page) {
        None => 1,
        Some(p) => p.parse::<i64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
            bad(
                &signed,
                tr.t("feedback.bad-page")
                    .replace("{value}", &crate::errors::short(&p, 40)),
            )
        })?,
    };
    let theme = match set(&q.theme) {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            bad(
                &signed,
                tr.t("feedback.bad-theme")
                    .replace("{value}", &crate::errors::short(&t, 40)),
            )
        })?),
    };
    let query = AnswersQuery {
        period: set(&q.period),
        group: set(&q.group),
        // Present but empty: the answers without one.
        segment: trim(&q.segment),
        tier: trim(&q.tier),
        survey: trim(&q.survey),
        channel: trim(&q.channel),
        theme,
        measure: set(&q.measure),
        limit: PAGE,
        offset: (page_no - 1) * PAGE,
    };
    let acting = signed.acting();
    let page = match s.core.feedback_answers(&acting, &query).await {
        Ok(p) => p,
        Err(kanta_core::CoreError::Invalid(problems)) => {
            let p = &problems[0];
            return Err(bad(
                &signed,
                format!(
                    "{}: {}",
                    tr.text_or(&format!("feedback.param.{}", p.field), &p.field),
                    p.reason
                ),
            ));
        }
        Err(e) => return Err(core_error(&signed)(e)),
    };
    let none = tr.t("feedback.none").to_string();
    let mut filters: Vec<(String, String)> = Vec::new();
    let mut keep: Vec<(&str, String)> = Vec::new();
    let mut add = |name: &'static str, value: &Option<String>, shown: String| {
        if let Some(v) = value {
            filters.push((tr.t(&format!("feedback.param.{name}")).to_string(), shown));
            keep.push((name, v.clone()));
        }
    };
    add(
        "period",
        &query.period,
        query
            .period
            .as_deref()
            .map(|p| period_label(&tr, p))
            .unwrap_or_default(),
    );
    add(
        "group",
        &query.group,
        query
            .group
            .as_deref()
            .map(|g| tr.text_or(&format!("feedback.group.{g}"), g))
            .unwrap_or_default(),
    );
    for (name, v) in [
        ("segment", &query.segment),
        ("tier", &query.tier),
        ("survey", &query.survey),
    ] {
        let shown = match v.as_deref() {
            Some("") => none.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        add(name, v, shown);
    }
    add(
        "channel",
        &query.channel,
        query
            .channel
            .as_deref()
            .map(|c| channel_label(&tr, c))
            .unwrap_or_default(),
    );
    let theme_label = match theme {
        Some(id) => s
            .core
            .feedback_themes(&acting)
            .await
            .ok()
            .and_then(|t| t.into_iter().find(|t| t.id == id).map(|t| t.label))
            .unwrap_or_else(|| id.to_string()),
        None => String::new(),
    };
    add("theme", &theme.map(|t| t.to_string()), theme_label);
    add(
        "measure",
        &query.measure,
        query.measure.clone().unwrap_or_default().to_uppercase(),
    );
    let lines = page
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
            let texts = [
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
            .collect();
            AnswerLine {
                id: a.external_id.clone(),
                at: tr.date_time(&a.answered_at),
                customer: a
                    .customer_name
                    .clone()
                    .or_else(|| a.customer_id.clone())
                    .unwrap_or_else(|| tr.t("feedback.anonymous").to_string()),
                customer_href: a
                    .customer_id
                    .as_deref()
                    .map(|c| format!("/customers/{}", urlencode(c))),
                survey: a.survey.clone().unwrap_or_default(),
                scores: scores.join(" · "),
                texts,
                channel: a
                    .channel
                    .as_deref()
                    .map(|c| channel_label(&tr, c))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let link = |n: i64| {
        let mut p: Vec<(&str, &str)> = keep.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let n = n.to_string();
        p.push(("page", &n));
        answers_href(&p)
    };
    let shown_to = (page.offset + page.items.len() as i64).min(page.total);
    let view = AnswersPage {
        tr,
        me: Some(signed.me()),
        filters,
        total: count(&tr, page.total.max(0) as u64),
        lines,
        prev: (page_no > 1).then(|| link(page_no - 1)),
        next: (page.offset + PAGE < page.total).then(|| link(page_no + 1)),
        shown: tr
            .t("feedback.answers.shown")
            .replace(
                "{from}",
                &count(&tr, (page.offset + 1).min(shown_to).max(0) as u64),
            )
            .replace("{to}", &count(&tr, shown_to.max(0) as u64))
            .replace("{total}", &count(&tr, page.total.max(0) as u64)),
    };
    Ok(render(&view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_points_read_in_both_languages() {
        let fi = Tr::new(Lang::Fi);
        let en = Tr::new(Lang::En);
        assert_eq!(period_label(&fi, "2026-10"), "10/2026");
        assert_eq!(period_label(&en, "2026-10"), "2026-10");
        assert_eq!(period_label(&fi, "2026-Q4"), "Q4/2026");
        assert_eq!(points(&en, 20.4), "+20");
        assert_eq!(points(&en, -30.6), "−31");
        assert_eq!(points(&en, 0.2), "0");
        assert_eq!(
            answers_href(&[("period", "2026-10"), ("segment", "a&b")]),
            "/feedback/answers?period=2026-10&segment=a%26b"
        );
    }
}

//! The service page (`/service`): SLA attainment per month, category and owner, the
//! small-claim rule's effect, and recovery measured: customers who had a case, by its
//! outcome, against customers who never had one (Kaplan-Meier retention with its 95%
//! band, repurchase within 90 and 180 days, revenue in the 12 months after), with the
//! core's verdicts in plain words.
//!
//! The core computes every figure once (`sla_attainment`, `small_claim_effect`,
//! `recovery_report`, asked at the same time); this page only formats and draws them.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use kanta_core::cases::AttainmentRow;
use kanta_core::claims::ClaimEffect;
use kanta_core::recovery::{Comparison, Interval, Rate, RecoveryGroup, RecoveryReport, Segment};
use kanta_domain::Currency;
use serde::Deserialize;

use super::retention::{count, decimal, month, percent};
use super::{PageError, core_error, render};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::charts::{BarChart, BarSeries, ChartOptions, LineChart, LineSeries, NumberFormat};
use crate::i18n::{Lang, Tr};

/// Months the attainment and the small-claim figures cover, by default and at most.
pub(crate) const MONTHS: u32 = 12;
const MAX_MONTHS: u32 = 36;

/// Days in an average month, for survival times in months.
const MONTH_DAYS: f64 = 365.25 / 12.0;

/// The outcome groups drawn in the first survival chart, and the fault groups in the
/// second; `never` (no case) is in both, as the baseline.
const OUTCOME_GROUPS: [&str; 4] = ["never", "within_sla", "late", "unresolved"];
const FAULT_GROUPS: [&str; 3] = ["never", "our_fault", "not_our_fault"];

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    months: Option<String>,
    as_of: Option<String>,
    /// The recovery comparison's customers: customer `segment` and/or `kind` (the
    /// retention dashboard's filter).
    segment: Option<String>,
    kind: Option<String>,
}

/// One value of the segment or kind filter's select.
pub(crate) struct FilterChoice {
    value: String,
    label: String,
    selected: bool,
}

/// One choice of the period's select.
pub(crate) struct MonthChoice {
    value: u32,
    selected: bool,
}

/// One row of an attainment table, formatted.
pub(crate) struct AttRow {
    key: String,
    resolved: String,
    within: String,
    late: String,
    open_breaching: String,
    percent: String,
}

/// One attainment table: its id, heading, first column and rows.
pub(crate) struct AttTable {
    id: &'static str,
    heading: &'static str,
    column: &'static str,
    rows: Vec<AttRow>,
    /// Shown folded (the months: the chart above says it at a glance).
    folded: bool,
}

/// The small-claim rule's effect, formatted.
pub(crate) struct Effect {
    limit: String,
    at_once: String,
    at_once_sum: String,
    large: String,
    large_approved: String,
    large_refused: String,
    pending: String,
    median_small: String,
    median_large: String,
}

/// One group of the recovery comparison, formatted.
pub(crate) struct GroupRow {
    key: &'static str,
    label: String,
    customers: String,
    retained: String,
    retained_interval: String,
    repurchase_90: String,
    repurchase_90_interval: String,
    repurchase_180: String,
    repurchase_180_interval: String,
    revenue: String,
    revenue_interval: String,
}

/// One verdict in words.
pub(crate) struct Verdict {
    /// `better`, `worse`, `cannot-tell`, `too-few` (a CSS class).
    class: &'static str,
    text: String,
    /// The case group and the measure (empty: every measure), for scripts and tests.
    group: &'static str,
    measure: &'static str,
}

#[derive(Template)]
#[template(path = "service.html")]
pub(crate) struct ServicePage {
    tr: Tr,
    me: Option<Me>,
    month_choices: Vec<MonthChoice>,
    as_of: String,
    as_of_text: String,
    total: AttRow,
    attainment_svg: String,
    /// Per month, per category, per owner.
    tables: Vec<AttTable>,
    /// Managers get links to the approval queue and the repeat claimants.
    manager: bool,
    effect: Effect,
    groups: Vec<GroupRow>,
    outcome_svg: String,
    fault_svg: String,
    verdicts: Vec<Verdict>,
    /// Said plainly when the groups are too small to tell apart: all of them, or
    /// the groups named.
    too_small: bool,
    too_few_groups: Option<String>,
    /// No customer had a case yet.
    no_cases: bool,
    /// How the customers without a case are followed.
    index_text: String,
    /// The recovery filter: the values offered and those chosen (empty: all).
    segments: Vec<FilterChoice>,
    kinds: Vec<FilterChoice>,
    filtered: bool,
    segment: String,
    kind: String,
    kind_label: String,
    /// The period's value, kept by the recovery filter's form.
    months: u32,
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let bad = |key: &str, value: &str, reason: String| {
        let message = tr
            .t(key)
            .replace("{value}", &crate::errors::short(value, 40))
            .replace("{reason}", &reason);
        PageError::Page(Box::new(crate::render::error_page(
            tr,
            Some(signed.me()),
            StatusCode::BAD_REQUEST,
            &message,
        )))
    };
    let months = match q.months.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => MONTHS,
        Some(m) => match m.parse::<u32>() {
            Ok(n) if (1..=MAX_MONTHS).contains(&n) => n,
            _ => {
                return Err(bad("service.bad-months", m, format!("1–{MAX_MONTHS}")));
            }
        },
    };
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => match kanta_domain::time::parse_date_in(d, None, tr.zone) {
            Ok(day) => Some(day),
            Err(_) => return Err(bad("service.bad-as-of", d, String::new())),
        },
    };
    if let Some(day) = as_of {
        let today = s.core.today().await.map_err(core_error(&signed))?;
        if day > today {
            let message = tr
                .t("service.future-as-of")
                .replace("{value}", &tr.day(&day))
                .replace("{today}", &tr.day(&today));
            return Err(PageError::Page(Box::new(crate::render::error_page(
                tr,
                Some(signed.me()),
                StatusCode::BAD_REQUEST,
                &message,
            ))));
        }
    }
    let chosen = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let segment = Segment {
        segment: chosen(&q.segment),
        kind: chosen(&q.kind),
    };
    let kind_text = |k: &str| tr.text_or(&format!("value.{k}"), k);
    // A filter value the store's customers cannot have is refused, as /retention
    // does.
    let values = s.store.segment_values().await?;
    super::retention::refuse_unknown_segment(tr, &signed, &segment, &values)?;
    let choices = |all: &[String], picked: &Option<String>, translate: bool| -> Vec<FilterChoice> {
        all.iter()
            .map(|v| FilterChoice {
                value: v.clone(),
                label: if translate { kind_text(v) } else { v.clone() },
                selected: picked.as_deref() == Some(v.as_str()),
            })
            .collect()
    };
    let segments = choices(&values.segments, &segment.segment, false);
    let kinds = choices(&values.kinds, &segment.kind, true);
    let acting = signed.acting();
    // The three figures are independent: asked at once, each computed once.
    let (attainment, effect, report, currency) = tokio::join!(
        s.core.sla_attainment(&acting, months),
        s.core.small_claim_effect(&acting, months),
        s.core.recovery_report(&acting, as_of, &segment),
        s.core.currency(),
    );
    let attainment = attainment.map_err(core_error(&signed))?;
    let effect = effect.map_err(core_error(&signed))?;
    let report = report.map_err(core_error(&signed))?;
    let store_currency = currency?;

    let by_month: Vec<AttRow> = attainment
        .by_month
        .iter()
        .map(|r| att_row(&tr, r, month_label(&tr, &r.key)))
        .collect();
    let attainment_svg = attainment_chart(&tr, &attainment.by_month);
    let by_category: Vec<AttRow> = attainment
        .by_category
        .iter()
        .map(|r| att_row(&tr, r, r.key.clone()))
        .collect();
    let by_owner: Vec<AttRow> = attainment
        .by_owner
        .iter()
        .map(|r| {
            let key = if r.key.is_empty() {
                tr.t("service.no-owner").to_string()
            } else {
                r.key.clone()
            };
            att_row(&tr, r, key)
        })
        .collect();
    let total = att_row(&tr, &attainment.total, tr.t("service.total").to_string());
    let revenue_currency = report
        .currency
        .parse::<Currency>()
        .unwrap_or(store_currency);
    let no_cases = report
        .groups
        .iter()
        .filter(|g| g.key != "never")
        .all(|g| g.customers == 0);
    let view = ServicePage {
        tr,
        me: Some(signed.me()),
        month_choices: [3, 6, 12, 24, 36]
            .into_iter()
            .chain((![3, 6, 12, 24, 36].contains(&months)).then_some(months))
            .map(|m| MonthChoice {
                value: m,
                selected: m == months,
            })
            .collect(),
        as_of: report.as_of.format("%Y-%m-%d").to_string(),
        as_of_text: tr.day(&report.as_of),
        total,
        attainment_svg,
        tables: vec![
            AttTable {
                id: "attainment-month",
                heading: tr.t("service.attainment.by-month"),
                column: tr.t("service.attainment.month"),
                rows: by_month,
                folded: true,
            },
            AttTable {
                id: "attainment-category",
                heading: tr.t("service.attainment.by-category"),
                column: tr.t("service.attainment.category"),
                rows: by_category,
                folded: false,
            },
            AttTable {
                id: "attainment-owner",
                heading: tr.t("service.attainment.by-owner"),
                column: tr.t("service.attainment.owner"),
                rows: by_owner,
                folded: false,
            },
        ],
        manager: signed.user.role >= kanta_store::accounts::Role::Manager,
        effect: effect_view(&tr, &effect, store_currency),
        groups: report
            .groups
            .iter()
            .map(|g| group_row(&tr, g, revenue_currency))
            .collect(),
        outcome_svg: survival_chart(
            &tr,
            &report,
            &OUTCOME_GROUPS,
            "recovery-outcome",
            tr.t("recovery.chart.outcome"),
        ),
        fault_svg: survival_chart(
            &tr,
            &report,
            &FAULT_GROUPS,
            "recovery-fault",
            tr.t("recovery.chart.fault"),
        ),
        verdicts: verdicts(&tr, &report, revenue_currency),
        too_small: !no_cases && too_small(&report),
        too_few_groups: too_few_groups(&tr, &report),
        no_cases,
        index_text: match report.index_delay_days {
            Some(d) => tr.t("recovery.index").replace("{days}", &d.to_string()),
            None => tr.t("recovery.index-plain").to_string(),
        },
        segments,
        kinds,
        filtered: segment.is_set(),
        kind_label: segment.kind.as_deref().map(kind_text).unwrap_or_default(),
        segment: segment.segment.clone().unwrap_or_default(),
        kind: segment.kind.clone().unwrap_or_default(),
        months,
    };
    Ok(render(&view))
}

/// `2026-11` as the page writes a month (`11/2026`, `2026-11`); another key as it is.
fn month_label(tr: &Tr, key: &str) -> String {
    NaiveDate::parse_from_str(&format!("{key}-01"), "%Y-%m-%d")
        .map_or_else(|_| key.to_string(), |d| month(tr, d))
}

fn att_row(tr: &Tr, r: &AttainmentRow, key: String) -> AttRow {
    AttRow {
        key,
        resolved: count(tr, r.resolved),
        within: count(tr, r.within),
        late: count(tr, r.late),
        open_breaching: count(tr, r.open_breaching),
        percent: r.percent.map_or_else(|| "–".into(), |p| pct(tr, p)),
    }
}

/// The core gives attainment in percent (0..=100); the charts and `percent` take a
/// share (0..=1).
fn share(p: f64) -> f64 {
    p / 100.0
}

fn pct(tr: &Tr, p: f64) -> String {
    percent(tr, share(p), 1)
}

fn options(tr: &Tr, id: &str, title: &str) -> ChartOptions {
    ChartOptions::new(id, title)
        .decimal_comma(tr.lang == Lang::Fi)
        .empty_text(tr.t("service.no-data"))
}

/// Attainment per month as bars (the share resolved within target).
fn attainment_chart(tr: &Tr, rows: &[AttainmentRow]) -> String {
    let labels: Vec<String> = rows.iter().map(|r| month_label(tr, &r.key)).collect();
    BarChart::new(
        options(tr, "attainment", tr.t("service.attainment.title"))
            .size(640.0, 260.0)
            .y_format(NumberFormat::Percent)
            .y_label(tr.t("service.attainment.within-share")),
        labels,
    )
    .series(BarSeries::new(
        tr.t("service.attainment.within-share"),
        rows.iter().map(|r| r.percent.map_or(f64::NAN, share)),
    ))
    .render()
}

/// `3,5 h` / `3.5 h`; a day and more as days.
fn hours(tr: &Tr, h: Option<f64>) -> String {
    match h {
        None => "–".into(),
        Some(h) if h >= 48.0 => format!("{} {}", decimal(tr, h / 24.0, 1), tr.t("service.days")),
        Some(h) if h < 1.0 => format!("{} min", (h * 60.0).round()),
        Some(h) => format!("{} h", decimal(tr, h, 1)),
    }
}

fn effect_view(tr: &Tr, e: &ClaimEffect, store: Currency) -> Effect {
    let currency = e.currency.parse::<Currency>().unwrap_or(store);
    Effect {
        limit: tr.money(e.limit_minor, currency),
        at_once: count(tr, e.approved_at_once),
        at_once_sum: tr.money(e.approved_at_once_minor, currency),
        large: count(tr, e.large),
        large_approved: count(tr, e.large_approved),
        large_refused: count(tr, e.large_refused),
        pending: count(tr, e.pending),
        median_small: hours(tr, e.median_hours_small),
        median_large: hours(tr, e.median_hours_large),
    }
}

/// A group's name in the page's language.
pub(crate) fn group_label(tr: &Tr, key: &str) -> String {
    tr.text_or(&format!("recovery.group.{key}"), key)
}

fn rate(tr: &Tr, r: &Rate) -> (String, String) {
    let value = match r.p {
        Some(p) => format!(
            "{} ({}/{})",
            percent(tr, p, 1),
            count(tr, r.k),
            count(tr, r.n)
        ),
        None => "–".into(),
    };
    let interval = match (r.lo, r.hi) {
        (Some(lo), Some(hi)) => format!("{} – {}", percent(tr, lo, 1), percent(tr, hi, 1)),
        _ => "–".into(),
    };
    (value, interval)
}

fn interval_share(tr: &Tr, i: &Option<Interval>) -> (String, String) {
    let Some(i) = i else {
        return ("–".into(), "–".into());
    };
    let value = i.value.map_or_else(|| "–".into(), |v| percent(tr, v, 1));
    let interval = match (i.lo, i.hi) {
        (Some(lo), Some(hi)) => format!("{} – {}", percent(tr, lo, 1), percent(tr, hi, 1)),
        _ => "–".into(),
    };
    (value, interval)
}

fn money_f(tr: &Tr, v: f64, currency: Currency) -> String {
    tr.money(v.round() as i64, currency)
}

fn interval_money(tr: &Tr, i: &Interval, currency: Currency) -> (String, String) {
    let value = i
        .value
        .map_or_else(|| "–".into(), |v| money_f(tr, v, currency));
    let interval = match (i.lo, i.hi) {
        (Some(lo), Some(hi)) => format!(
            "{} – {}",
            money_f(tr, lo, currency),
            money_f(tr, hi, currency)
        ),
        _ => "–".into(),
    };
    (value, interval)
}

fn group_row(tr: &Tr, g: &RecoveryGroup, currency: Currency) -> GroupRow {
    let (retained, retained_interval) = interval_share(tr, &g.retained_365);
    let (repurchase_90, repurchase_90_interval) = rate(tr, &g.repurchase_90);
    let (repurchase_180, repurchase_180_interval) = rate(tr, &g.repurchase_180);
    let (revenue, revenue_interval) = interval_money(tr, &g.revenue_12m, currency);
    GroupRow {
        key: g.key,
        label: group_label(tr, g.key),
        customers: count(tr, g.customers),
        retained,
        retained_interval,
        repurchase_90,
        repurchase_90_interval,
        repurchase_180,
        repurchase_180_interval,
        revenue,
        revenue_interval,
    }
}

/// The step curve sampled once a week (its value at each week is the last point at
/// or before it), in months: enough for the eye, and the page stays small on 100,000
/// customers.
fn weekly(points: &[kanta_core::recovery::SurvivalPoint]) -> Vec<(f64, f64, f64, f64)> {
    let Some(last) = points.last().map(|p| p.day) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Everyone is still a customer on the day of the case: the curve starts at 100 %,
    // and those who never came back drop at once (a step at day 0).
    if points[0].day > 0.0 || points[0].s < 1.0 {
        out.push((0.0, 1.0, 1.0, 1.0));
    }
    let mut i = 0;
    let mut t: f64 = 0.0;
    loop {
        let now = t.min(last);
        while i + 1 < points.len() && points[i + 1].day <= now {
            i += 1;
        }
        if points[i].day <= now {
            let p = &points[i];
            out.push((now / MONTH_DAYS, p.s, p.lo, p.hi));
        }
        if t >= last {
            break;
        }
        t += 7.0;
    }
    out
}

/// Kaplan-Meier retention of `keys`' groups with their 95% bands, drawn by the same
/// chart as the retention dashboard's survival curve.
fn survival_chart(
    tr: &Tr,
    report: &RecoveryReport,
    keys: &[&str],
    id: &str,
    title: &str,
) -> String {
    let mut chart = LineChart::new(
        options(tr, id, title)
            .size(640.0, 300.0)
            .y_format(NumberFormat::Percent)
            .x_label(tr.t("recovery.chart.x")),
    )
    .step(true)
    .markers(false)
    .y_domain(0.0, 1.0);
    for key in keys {
        if let Some(g) = report.groups.iter().find(|g| g.key == *key) {
            let points = weekly(&g.survival);
            if !points.is_empty() {
                let name = format!("{} ({})", group_label(tr, key), count(tr, g.customers));
                chart = chart.series(LineSeries::with_band(&name, points));
            }
        }
    }
    chart.render()
}

/// What a comparison measures, in words.
fn measure_label(tr: &Tr, measure: &str) -> String {
    tr.text_or(
        &format!("recovery.measure.{measure}"),
        &measure.replace('_', " "),
    )
}

/// A difference in the measure's unit: points for shares, money for revenue.
fn difference(tr: &Tr, measure: &str, v: f64, currency: Currency) -> String {
    if measure.starts_with("revenue") {
        money_f(tr, v, currency)
    } else {
        format!("{} {}", decimal(tr, v * 100.0, 1), tr.t("recovery.points"))
    }
}

/// A p-value in a shop owner's words: how often a gap this large would turn up by
/// chance alone ("about 33 times in 100" for p = 0.33).
pub(crate) fn chance(tr: &Tr, p: f64) -> String {
    let per_100 = (p * 100.0).round();
    if p >= 0.01 {
        tr.t("recovery.chance.per-100")
            .replace("{k}", &format!("{per_100:.0}"))
    } else if p >= 0.001 {
        tr.t("recovery.chance.per-1000")
            .replace("{k}", &format!("{:.0}", (p * 1000.0).round()))
    } else {
        tr.t("recovery.chance.rare").to_string()
    }
}

fn verdict(tr: &Tr, c: &Comparison, report: &RecoveryReport, currency: Currency) -> Verdict {
    let n = |key: &str| {
        report
            .groups
            .iter()
            .find(|g| g.key == key)
            .map_or(0, |g| g.customers)
    };
    // Retention's verdict is the log-rank test's (its p in words); the difference at
    // a year keeps its own reading. Every other verdict is its interval's.
    let retention = c.measure == "retention" && c.verdict != "too few";
    let (class, key) = match (c.verdict, retention) {
        ("better", false) => ("better", "recovery.verdict.better"),
        ("worse", false) => ("worse", "recovery.verdict.worse"),
        ("too few", _) => ("too-few", "recovery.verdict.too-few"),
        (_, false) => ("cannot-tell", "recovery.verdict.cannot-tell"),
        ("better", true) => ("better", "recovery.verdict.retention.better"),
        ("worse", true) => ("worse", "recovery.verdict.retention.worse"),
        (_, true) => ("cannot-tell", "recovery.verdict.retention.cannot-tell"),
    };
    let at_365 = match c.at_365 {
        Some("better") => tr.t("recovery.at-365.better").to_string(),
        Some("worse") => tr.t("recovery.at-365.worse").to_string(),
        Some(_) => tr.t("recovery.at-365.cannot-tell").to_string(),
        None => String::new(),
    };
    let diff = c
        .difference
        .map_or_else(|| "–".into(), |d| difference(tr, c.measure, d, currency));
    let interval = match (c.lo, c.hi) {
        (Some(lo), Some(hi)) => format!(
            "{} … {}",
            difference(tr, c.measure, lo, currency),
            difference(tr, c.measure, hi, currency)
        ),
        _ => "–".into(),
    };
    let text = tr
        .t(key)
        .replace("{group}", &group_label(tr, c.group))
        .replace("{against}", &group_label(tr, c.against))
        .replace("{measure}", &measure_label(tr, c.measure))
        .replace("{difference}", &diff)
        .replace("{interval}", &interval)
        .replace("{at365}", &at_365)
        .replace(
            "{chance}",
            &c.p.map_or_else(|| "–".into(), |p| chance(tr, p)),
        )
        .replace(
            "{p}",
            &c.p.map_or_else(
                || "–".into(),
                |p| match p {
                    p if p < 0.001 => format!("p < {}", decimal(tr, 0.001, 3)),
                    p if p < 0.01 => format!("p = {}", decimal(tr, p, 3)),
                    p => format!("p = {}", decimal(tr, p, 2)),
                },
            ),
        )
        .replace("{n}", &count(tr, n(c.group)))
        .replace("{m}", &count(tr, n(c.against)));
    Verdict {
        class,
        text,
        group: c.group,
        measure: c.measure,
    }
}

/// The comparisons in words: per case group with customers, one sentence per
/// measure, or one sentence for the group when every measure is "too few".
fn verdicts(tr: &Tr, report: &RecoveryReport, currency: Currency) -> Vec<Verdict> {
    let mut out = Vec::new();
    for g in report.groups.iter().filter(|g| g.key != "never") {
        let mine: Vec<&Comparison> = report
            .comparisons
            .iter()
            .filter(|c| c.group == g.key)
            .collect();
        if g.customers == 0 || mine.is_empty() {
            continue;
        }
        if mine.iter().all(|c| c.verdict == "too few") {
            let against = mine[0].against;
            let m = report
                .groups
                .iter()
                .find(|x| x.key == against)
                .map_or(0, |x| x.customers);
            out.push(Verdict {
                class: "too-few",
                text: tr
                    .t("recovery.verdict.too-few-all")
                    .replace("{group}", &group_label(tr, g.key))
                    .replace("{against}", &group_label(tr, against))
                    .replace("{n}", &count(tr, g.customers))
                    .replace("{m}", &count(tr, m)),
                group: g.key,
                measure: "",
            });
            continue;
        }
        out.extend(mine.into_iter().map(|c| verdict(tr, c, report, currency)));
    }
    out
}

/// True when no comparison could be made for want of customers: every verdict is
/// "too few", or the customers without a case are too few to compare with.
fn too_small(report: &RecoveryReport) -> bool {
    let never = report
        .groups
        .iter()
        .find(|g| g.key == "never")
        .map_or(0, |g| g.customers);
    never < kanta_core::recovery::MIN_CUSTOMERS
        || report.comparisons.iter().all(|c| c.verdict == "too few")
}

/// The case groups (with customers) whose every comparison is "too few", named in
/// the page's language; `None` when there are none, or when all are (the page then
/// says so for every group).
fn too_few_groups(tr: &Tr, report: &RecoveryReport) -> Option<String> {
    let names: Vec<String> = report
        .groups
        .iter()
        .filter(|g| g.key != "never" && g.customers > 0)
        .filter(|g| {
            report
                .comparisons
                .iter()
                .filter(|c| c.group == g.key)
                .all(|c| c.verdict == "too few")
        })
        .map(|g| {
            let (open, close) = match tr.lang {
                Lang::Fi => ("”", "”"),
                Lang::En => ("“", "”"),
            };
            format!(
                "{open}{}{close} ({})",
                group_label(tr, g.key),
                count(tr, g.customers)
            )
        })
        .collect();
    (!names.is_empty() && !too_small(report)).then(|| names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanta_core::recovery::SurvivalPoint;

    fn p(day: f64, s: f64) -> SurvivalPoint {
        SurvivalPoint {
            day,
            s,
            lo: s - 0.1,
            hi: s + 0.05,
            at_risk: 10,
        }
    }

    #[test]
    fn the_curve_is_sampled_weekly_as_a_step_function() {
        let pts = [p(0.0, 1.0), p(3.0, 0.9), p(10.0, 0.8), p(20.0, 0.7)];
        let w = weekly(&pts);
        let at = |i: usize| (w[i].0 * MONTH_DAYS).round();
        // Days 0, 7, 14 and the last day, 20.
        assert_eq!(w.len(), 4, "{w:?}");
        assert_eq!((at(0), w[0].1), (0.0, 1.0));
        assert_eq!((at(1), w[1].1), (7.0, 0.9));
        assert_eq!((at(2), w[2].1), (14.0, 0.8));
        assert_eq!((at(3), w[3].1), (20.0, 0.7));
        assert!(weekly(&[]).is_empty());
        // A curve whose first point is later starts at 100 % on day 0.
        let w = weekly(&[p(10.0, 0.8)]);
        assert_eq!(w[0], (0.0, 1.0, 1.0, 1.0));
        assert_eq!(w.last().unwrap().1, 0.8);
    }

    #[test]
    fn a_p_value_reads_as_how_often_chance_would_do_it() {
        let en = Tr::new(Lang::En);
        let fi = Tr::new(Lang::Fi);
        assert_eq!(chance(&en, 0.33), "about 33 times in 100");
        assert_eq!(chance(&fi, 0.33), "noin 33 kertaa sadasta");
        assert_eq!(chance(&en, 0.004), "about 4 times in 1,000");
        assert_eq!(chance(&en, 0.0001), "less than once in 1,000");
    }

    /// The retention sentence states the log-rank verdict and, separately, what the
    /// interval at a year says: "cannot tell" with an interval excluding zero does
    /// not say the interval includes zero.
    #[test]
    fn a_retention_sentence_states_each_measure_s_own_verdict() {
        let en = Tr::new(Lang::En);
        let report = RecoveryReport {
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            groups: Vec::new(),
            comparisons: Vec::new(),
            note: None,
            index_delay_days: None,
            currency: "EUR".into(),
            segment: None,
            kind: None,
        };
        let c = Comparison {
            group: "unresolved",
            against: "never",
            measure: "retention",
            difference: Some(-0.143),
            lo: Some(-0.217),
            hi: Some(-0.068),
            p: Some(0.33),
            verdict: "cannot tell",
            at_365: Some("worse"),
        };
        let v = verdict(&en, &c, &report, Currency::EUR);
        assert_eq!(v.class, "cannot-tell");
        assert!(v.text.contains("about 33 times in 100"), "{}", v.text);
        assert!(v.text.contains("p = 0.33"), "{}", v.text);
        assert!(
            v.text
                .contains("fewer of them are still customers than chance"),
            "{}",
            v.text
        );
        assert!(!v.text.contains("includes zero"), "{}", v.text);
        // A rate's sentence is its interval's.
        let c = Comparison {
            measure: "repurchase_180",
            p: None,
            verdict: "worse",
            at_365: None,
            ..c
        };
        let v = verdict(&en, &c, &report, Currency::EUR);
        assert_eq!(v.class, "worse");
        assert!(
            v.text.contains("−21.7") || v.text.contains("-21.7"),
            "{}",
            v.text
        );
    }

    #[test]
    fn hours_read_as_hours_then_days() {
        let en = Tr::new(Lang::En);
        let fi = Tr::new(Lang::Fi);
        assert_eq!(hours(&en, Some(3.25)), "3.2 h");
        assert_eq!(hours(&fi, Some(3.5)), "3,5 h");
        assert_eq!(hours(&en, Some(72.0)), "3.0 days");
        assert_eq!(hours(&fi, Some(72.0)), "3,0 pv");
        assert_eq!(hours(&en, None), "–");
        assert_eq!(hours(&en, Some(0.0)), "0 min");
        assert_eq!(hours(&fi, Some(0.25)), "15 min");
    }
}

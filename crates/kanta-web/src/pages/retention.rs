//! The retention dashboard: the leaky bucket (customers won, kept and lost per month),
//! retention by acquisition cohort as a heatmap, the survival curve (Kaplan-Meier with
//! its 95% Greenwood interval), the customers of each value tier, each count
//! linking to the customer list behind it, and the revenue the latest `kanta score`
//! run expects from the existing customers. Every chart has its figures in a table.
//!
//! The definitions (when a customer is active, won, kept, lost; cohorts; survival)
//! are `kanta_store::retention`'s, stated on the page in one sentence per chart. The
//! store gives one row per customer; the months, cohorts and the curve are computed
//! here from those rows.

use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use kanta_domain::Currency;
use kanta_models::retention::{self, Cohort, Duration, MonthFlow, Span};
use kanta_models::survival::{KaplanMeier, KmOptions, KmPoint, kaplan_meier};
use kanta_store::retention::{LAPSE_DAYS, TierCounts};
use kanta_store::scores::{ModelRun, RevenueForecast};
use serde::Deserialize;

use super::{PageError, render, urlencode};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::charts::{
    BarChart, BarMode, BarSeries, ChartOptions, Heatmap, LineChart, LineSeries, NumberFormat,
};
use crate::i18n::{Lang, Tr};

/// Months the leaky bucket and the cohorts cover, the current one included.
pub(crate) const MONTHS: u32 = 24;

/// Days in an average month, for survival times in months.
const MONTH_DAYS: f64 = 365.25 / 12.0;

/// The survival table's rows, in months.
const SURVIVAL_MONTHS: [u32; 6] = [1, 3, 6, 12, 24, 36];

/// The page's query string: the day the figures are for (default today, UTC), and
/// the customers they cover (a `segment` and/or a `kind`, from the store's values).
#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    as_of: Option<String>,
    segment: Option<String>,
    kind: Option<String>,
}

/// One value of the segment filter's select.
pub(crate) struct FilterChoice {
    value: String,
    label: String,
    selected: bool,
}

/// One month of subscription revenue retention, formatted.
pub(crate) struct RevenueRow {
    month: String,
    starting: String,
    expansion: String,
    contraction: String,
    churned: String,
    new: String,
    ending: String,
    grr: String,
    nrr: String,
}

/// One month of the leaky bucket, formatted.
pub(crate) struct FlowRow {
    month: String,
    start: String,
    won: String,
    kept: String,
    lost: String,
    end: String,
    retention: String,
}

/// One cohort of the heatmap, formatted: `cells[k]` is the share still active `k`
/// months later.
pub(crate) struct CohortRow {
    month: String,
    size: String,
    cells: Vec<String>,
}

/// The survival curve at a number of months.
pub(crate) struct SurvivalRow {
    /// `3 kk`, `3 months`.
    after: String,
    share: String,
    interval: String,
    at_risk: String,
}

/// One value tier: its customers and the link to them.
pub(crate) struct TierRow {
    tier: String,
    count: String,
    share: String,
    href: String,
}

/// Revenue expected over some months, formatted.
pub(crate) struct ForecastRow {
    /// `3 kk`, `3 months`.
    next: String,
    expected: String,
    lower: String,
    upper: String,
    /// The subscriptions' part (billed revenue expected), with its interval.
    subscriptions: String,
    subscriptions_interval: String,
}

/// One sBG fit of the run (a plan, or a pool of plans by period), checked against
/// Kaplan-Meier.
pub(crate) struct SbgRow {
    /// The plan and its period, or the pool.
    name: String,
    subscriptions: String,
    /// `α 0,54 · β 14,92`, or why the plan was pooled or not valued.
    fit: String,
    /// Largest gap between the fitted survival and Kaplan-Meier, in points.
    gap: String,
}

/// The latest model run's revenue forecast.
pub(crate) struct Forecast {
    /// `BG/NBD + Gamma-Gamma`.
    model: String,
    /// The last day of the data the run used.
    as_of: String,
    customers: String,
    svg: String,
    rows: Vec<ForecastRow>,
    /// The run's subscription models.
    sbg: Vec<SbgRow>,
    /// The figures are the filtered customers' share of the run's forecast.
    split: bool,
    /// The filtered customers the run scored.
    segment_customers: String,
}

/// (expected, lower, upper) in minor units.
type Part = (i64, i64, i64);

/// The horizons of a run's forecast (months) and the stored per-customer expected
/// purchases (days) that stand for them.
const FORECAST_HORIZONS: [(u32, usize); 3] = [(1, 0), (3, 1), (12, 2)];

/// The share of a run's forecast that falls to a segment, per horizon: (purchases,
/// subscriptions), from the run's stored scores summed over the segment and over
/// every customer.
fn segment_shares(
    seg: &kanta_store::retention::ForecastSums,
    all: &kanta_store::retention::ForecastSums,
    months: u32,
) -> Option<(f64, f64)> {
    let (_, h) = FORECAST_HORIZONS.iter().find(|(m, _)| *m == months)?;
    let share = |a: f64, b: f64| {
        if b > 0.0 {
            (a / b).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    Some((
        share(seg.purchases[*h], all.purchases[*h]),
        share(seg.subscription_clv_12, all.subscription_clv_12),
    ))
}

#[derive(Template)]
#[template(path = "retention.html")]
pub(crate) struct RetentionPage {
    tr: Tr,
    me: Option<Me>,
    /// `YYYY-MM-DD`, for the form.
    as_of: String,
    /// In the page's language.
    as_of_text: String,
    /// The definitions with their numbers filled in.
    active_text: String,
    /// Customers active on `as_of` (by activity, not by status), won and lost in
    /// the last 12 months.
    now: String,
    /// The segment filter: the chosen values and the store's.
    segment: String,
    kind: String,
    segments: Vec<FilterChoice>,
    kinds: Vec<FilterChoice>,
    filtered: bool,
    /// Subscription revenue retention per month, and its chart.
    revenue: RevenueRetention,
    /// The kind filter's value in the page's language.
    kind_label: String,
    /// What "(so far)" on the current month means.
    so_far_note: String,
    won_12: String,
    lost_12: String,
    bucket_svg: String,
    flows: Vec<FlowRow>,
    cohort_svg: String,
    cohort_columns: Vec<u32>,
    cohorts: Vec<CohortRow>,
    survival_svg: String,
    survival: Vec<SurvivalRow>,
    median: Option<String>,
    tier_svg: String,
    tiers: Vec<TierRow>,
    untiered: String,
    /// `None` until the analyst runs `kanta score`.
    forecast: Option<Forecast>,
}

/// `12 345` in Finnish (a narrow no-break space, as the charts write it), `12,345` in
/// English.
pub(crate) fn count(tr: &Tr, n: u64) -> String {
    crate::charts::localize(n.to_string(), tr.lang == Lang::Fi)
}

/// `12,5` in Finnish, `12.5` in English.
pub(crate) fn decimal(tr: &Tr, v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    match tr.lang {
        Lang::Fi => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A share as `12,5 %` in Finnish, `12.5%` in English.
pub(crate) fn percent(tr: &Tr, share: f64, decimals: usize) -> String {
    let n = decimal(tr, share * 100.0, decimals);
    match tr.lang {
        Lang::Fi => format!("{n}\u{a0}%"),
        Lang::En => format!("{n}%"),
    }
}

/// A number of months: `1 kk`, `3 kk`; `1 month`, `3 months`.
pub(crate) fn months(tr: &Tr, n: u32) -> String {
    let unit = if n == 1 {
        "retention.month-one"
    } else {
        "retention.months"
    };
    format!("{n} {}", tr.t(unit))
}

/// A month: `1/2024` in Finnish, `2024-01` in English.
pub(crate) fn month(tr: &Tr, d: NaiveDate) -> String {
    match tr.lang {
        Lang::Fi => d.format("%-m/%Y").to_string(),
        Lang::En => d.format("%Y-%m").to_string(),
    }
}

/// A month's label in the tables and charts: the month holding `as_of` is not over
/// unless `as_of` is its last day, and says so: `12/2026 (kesken)`, `2026-12 (so far)`.
pub(crate) fn month_of(tr: &Tr, d: NaiveDate, as_of: NaiveDate) -> String {
    use chrono::Datelike;
    let partial = d.year() == as_of.year()
        && d.month() == as_of.month()
        && as_of.succ_opt().is_some_and(|n| n.month() == as_of.month());
    if partial {
        format!("{} {}", month(tr, d), tr.t("retention.so-far"))
    } else {
        month(tr, d)
    }
}

/// A day: `31.12.2024` in Finnish, `2024-12-31` in English.
pub(crate) fn day(tr: &Tr, d: NaiveDate) -> String {
    tr.day(&d)
}

fn options(tr: &Tr, id: &str, title: &str) -> ChartOptions {
    ChartOptions::new(id, title)
        .decimal_comma(tr.lang == Lang::Fi)
        .empty_text(tr.t("retention.no-data"))
}

fn bucket(tr: &Tr, flows: &[MonthFlow], as_of: NaiveDate) -> (String, Vec<FlowRow>) {
    let labels: Vec<String> = flows.iter().map(|f| month_of(tr, f.month, as_of)).collect();
    let svg = BarChart::new(
        options(tr, "bucket", tr.t("retention.bucket.title"))
            .size(760.0, 340.0)
            .y_label(tr.t("retention.customers")),
        labels.clone(),
    )
    .mode(BarMode::Stacked)
    .series(BarSeries::new(
        tr.t("retention.kept"),
        flows.iter().map(|f| f.kept as f64),
    ))
    // Series order picks the palette's colours: kept blue, lost orange, won green.
    .series(BarSeries::new(
        tr.t("retention.lost"),
        flows.iter().map(|f| -(f.lost as f64)),
    ))
    .series(BarSeries::new(
        tr.t("retention.won"),
        flows.iter().map(|f| f.won as f64),
    ))
    .render();
    let rows = flows
        .iter()
        .zip(labels)
        .map(|(f, label)| FlowRow {
            month: label,
            start: count(tr, f.start),
            won: count(tr, f.won),
            kept: count(tr, f.kept),
            lost: count(tr, f.lost),
            end: count(tr, f.end),
            retention: f
                .retention()
                .map_or_else(|| "–".into(), |r| percent(tr, r, 1)),
        })
        .collect();
    (svg, rows)
}

fn cohort_heatmap(
    tr: &Tr,
    cohorts: &[Cohort],
    as_of: NaiveDate,
) -> (String, Vec<u32>, Vec<CohortRow>) {
    let ages = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(0);
    let columns: Vec<u32> = (0..ages as u32).collect();
    let labels: Vec<String> = cohorts
        .iter()
        .map(|c| month_of(tr, c.month, as_of))
        .collect();
    let values: Vec<Vec<Option<f64>>> = cohorts
        .iter()
        .map(|c| (0..c.active.len()).map(|k| c.share(k)).collect())
        .collect();
    let height = 110.0 + 22.0 * cohorts.len() as f64;
    let svg = Heatmap::new(
        options(tr, "cohorts", tr.t("retention.cohorts.title"))
            .size(760.0, height.max(160.0))
            .x_label(tr.t("retention.cohorts.age")),
        labels.clone(),
        columns.iter().map(u32::to_string),
        values,
    )
    .cell_text(NumberFormat::Percent)
    .render();
    let rows = cohorts
        .iter()
        .zip(labels)
        .map(|(c, label)| CohortRow {
            month: label,
            size: count(tr, c.size),
            cells: (0..c.active.len())
                .map(|k| c.share(k).map_or_else(String::new, |s| percent(tr, s, 0)))
                .collect(),
        })
        .collect();
    (svg, columns, rows)
}

/// The curve's last point at or before `t` days.
fn km_at(km: &KaplanMeier, t: f64) -> Option<&KmPoint> {
    km.points.iter().rev().find(|p| p.time <= t)
}

fn survival(tr: &Tr, durations: &[Duration]) -> (String, Vec<SurvivalRow>, Option<String>) {
    let title = tr.t("retention.survival.title");
    let opts = options(tr, "survival", title)
        .size(760.0, 340.0)
        .y_format(NumberFormat::Percent)
        .x_label(tr.t("retention.survival.x"));
    let km = kaplan_meier(
        &durations.iter().map(|d| d.days as f64).collect::<Vec<_>>(),
        &durations.iter().map(|d| d.stopped).collect::<Vec<_>>(),
        Some(
            &durations
                .iter()
                .map(|d| d.customers as f64)
                .collect::<Vec<_>>(),
        ),
        &KmOptions::default(),
    );
    let Ok(km) = km else {
        return (LineChart::new(opts).render(), Vec::new(), None);
    };
    let last = km.points.last().map_or(0.0, |p| p.time);
    // One point a week is plenty for the eye and keeps the page small; the steps of
    // the curve stay steps.
    let mut points = Vec::new();
    let mut t: f64 = 0.0;
    loop {
        let t_now = t.min(last);
        if let Some(p) = km_at(&km, t_now) {
            points.push((t_now / MONTH_DAYS, p.survival, p.lower, p.upper));
        }
        if t >= last {
            break;
        }
        t += 7.0;
    }
    let svg = LineChart::new(opts)
        .step(true)
        .markers(false)
        .y_domain(0.0, 1.0)
        .series(LineSeries::with_band(
            tr.t("retention.survival.series"),
            points,
        ))
        .render();
    let rows = SURVIVAL_MONTHS
        .iter()
        .map(|&m| (m, (f64::from(m) * MONTH_DAYS).round()))
        .filter(|&(_, t)| t <= last)
        .filter_map(|(m, t)| {
            let p = km_at(&km, t)?;
            let at_risk: u64 = durations
                .iter()
                .filter(|d| d.days as f64 >= t)
                .map(|d| d.customers)
                .sum();
            Some(SurvivalRow {
                after: months(tr, m),
                share: percent(tr, p.survival, 1),
                interval: format!("{} – {}", percent(tr, p.lower, 1), percent(tr, p.upper, 1)),
                at_risk: count(tr, at_risk),
            })
        })
        .collect();
    let median = km.median.map(|d| decimal(tr, d / MONTH_DAYS, 1));
    (svg, rows, median)
}

/// `suffix` (`&segment=…`) keeps the dashboard's filter in the links.
fn tiers(tr: &Tr, counts: &TierCounts, suffix: &str) -> (String, Vec<TierRow>) {
    let total: u64 = counts.tiers.iter().map(|(_, n)| n).sum::<u64>() + counts.none;
    let hrefs: Vec<String> = counts
        .tiers
        .iter()
        .map(|(t, _)| format!("/customers?tier={}{suffix}", urlencode(t)))
        .collect();
    let svg = BarChart::new(
        options(tr, "tiers", tr.t("retention.tiers.title"))
            .size(420.0, 260.0)
            .y_label(tr.t("retention.customers")),
        counts.tiers.iter().map(|(t, _)| t.clone()),
    )
    .series(
        BarSeries::new(
            tr.t("retention.customers"),
            counts.tiers.iter().map(|(_, n)| *n as f64),
        )
        .links(hrefs.iter().map(|h| Some(h.as_str()))),
    )
    .render();
    let rows = counts
        .tiers
        .iter()
        .zip(hrefs)
        .map(|((t, n), href)| TierRow {
            tier: t.clone(),
            count: count(tr, *n),
            share: if total > 0 {
                percent(tr, *n as f64 / total as f64, 1)
            } else {
                "–".into()
            },
            href,
        })
        .collect();
    (svg, rows)
}

/// The latest run's forecast, in the run's currency (else the store's); with `split`
/// (the run's scores summed over the filtered customers and over all), the filtered
/// customers' part of it: the purchase part times their share of the expected
/// purchases times spend at that horizon, plus the subscription part times their
/// share of the subscriptions' 12-month value. The interval is scaled the same way
/// (the run's relative interval; the run computes it as a ratio over all customers).
fn forecast(
    tr: &Tr,
    run: &ModelRun,
    store: Currency,
    split: Option<(
        kanta_store::retention::ForecastSums,
        kanta_store::retention::ForecastSums,
    )>,
) -> Forecast {
    let currency = run
        .currency
        .as_deref()
        .and_then(|c| c.parse::<Currency>().ok())
        .unwrap_or(store);
    let unit = 10f64.powi(currency.minor_digits() as i32);
    let major = |minor: i64| minor as f64 / unit;
    let mut forecast = run.forecast.clone();
    forecast.sort_by_key(|f| f.months);
    // (the figure, its subscriptions' part), split when asked.
    let forecast: Vec<(RevenueForecast, Option<Part>)> = forecast
        .into_iter()
        .filter_map(|f| {
            let sub = forecast_part(run, "subscriptions", f.months);
            let Some((seg, all)) = &split else {
                return Some((f, sub));
            };
            let (ps, ss) = segment_shares(seg, all, f.months)?;
            let (se, sl, su) = sub.unwrap_or((0, 0, 0));
            let (pe, pl, pu) = forecast_part(run, "purchases", f.months).unwrap_or((
                f.expected_minor - se,
                f.lower_minor - sl,
                f.upper_minor - su,
            ));
            let mix = |p: i64, s: i64| (p as f64 * ps + s as f64 * ss).round() as i64;
            let scale = |s: i64| (s as f64 * ss).round() as i64;
            Some((
                RevenueForecast {
                    months: f.months,
                    expected_minor: mix(pe, se),
                    lower_minor: mix(pl, sl),
                    upper_minor: mix(pu, su),
                },
                sub.map(|(e, l, u)| (scale(e), scale(l), scale(u))),
            ))
        })
        .collect();
    let labels: Vec<String> = forecast.iter().map(|(f, _)| months(tr, f.months)).collect();
    let svg = BarChart::new(
        options(tr, "forecast", tr.t("retention.forecast.title"))
            .size(420.0, 260.0)
            // The unit in the axis title, not on the ticks.
            .y_label(&format!(
                "{} ({})",
                tr.t("retention.forecast.axis"),
                currency.symbol()
            )),
        labels,
    )
    .series(
        BarSeries::new(
            tr.t("retention.forecast.expected"),
            forecast.iter().map(|(f, _)| major(f.expected_minor)),
        )
        .intervals(
            forecast
                .iter()
                .map(|(f, _)| Some((major(f.lower_minor), major(f.upper_minor)))),
        ),
    )
    .render();
    let mut model = crate::pages::model_label(&run.model).to_string();
    if let Some(spend) = &run.spend_model {
        model = format!("{model} + {}", crate::pages::model_label(spend));
    }
    Forecast {
        split: split.is_some(),
        segment_customers: count(tr, split.map_or(0, |(seg, _)| seg.customers.max(0) as u64)),
        sbg: sbg_rows(tr, run),
        model,
        as_of: day(tr, run.as_of),
        customers: count(tr, run.customers.max(0) as u64),
        svg,
        rows: forecast
            .iter()
            .map(|(f, sub)| {
                let sub = *sub;
                ForecastRow {
                    next: months(tr, f.months),
                    expected: tr.money(f.expected_minor, currency),
                    lower: tr.money(f.lower_minor, currency),
                    upper: tr.money(f.upper_minor, currency),
                    subscriptions: tr.money(sub.map_or(0, |s| s.0), currency),
                    subscriptions_interval: sub.map_or_else(
                        || "–".into(),
                        |s| format!("{} – {}", tr.money(s.1, currency), tr.money(s.2, currency)),
                    ),
                }
            })
            .collect(),
    }
}

/// The run's sBG fits per plan and pool (its details' `subscriptions`).
fn sbg_rows(tr: &Tr, run: &ModelRun) -> Vec<SbgRow> {
    use serde_json::Value;
    let Some(sub) = run.details.get("subscriptions") else {
        return Vec::new();
    };
    let fit_text = |v: &Value| -> (String, String) {
        if let Some(note) = v.get("note").and_then(Value::as_str) {
            // The run's note is the analyst's English; the page says which case.
            let key = if note.starts_with("pooled") {
                "retention.sbg.pooled"
            } else {
                "retention.sbg.not-valued"
            };
            return (tr.t(key).to_string(), "–".into());
        }
        let p = |k: &str| v["params"][k].as_f64().unwrap_or(f64::NAN);
        (
            format!(
                "α {} · β {}",
                decimal(tr, p("alpha"), 3),
                decimal(tr, p("beta"), 3)
            ),
            v.get("max_gap")
                .and_then(Value::as_f64)
                .map_or_else(|| "–".into(), |g| percent(tr, g, 1)),
        )
    };
    let mut rows = Vec::new();
    for v in sub["plans"].as_array().into_iter().flatten() {
        let (fit, gap) = fit_text(v);
        rows.push(SbgRow {
            name: format!(
                "{} ({})",
                v["plan"].as_str().unwrap_or("?"),
                tr.t(&format!(
                    "retention.sbg.period.{}",
                    v["period"].as_str().unwrap_or("month")
                ))
            ),
            subscriptions: count(tr, v["subscriptions"].as_u64().unwrap_or(0)),
            fit,
            gap,
        });
    }
    for v in sub["pools"].as_array().into_iter().flatten() {
        let (fit, gap) = fit_text(v);
        rows.push(SbgRow {
            name: format!(
                "{} ({})",
                tr.t("retention.sbg.pool"),
                tr.t(&format!(
                    "retention.sbg.period.{}",
                    v["period"].as_str().unwrap_or("month")
                ))
            ),
            subscriptions: count(tr, v["subscriptions"].as_u64().unwrap_or(0)),
            fit,
            gap,
        });
    }
    rows
}

/// A part (`purchases`, `subscriptions`) of the run's forecast over `months`:
/// (expected, lower, upper) in minor units, from the run's details
/// (`forecast_parts`).
fn forecast_part(run: &ModelRun, part: &str, months: u32) -> Option<(i64, i64, i64)> {
    let parts = run.details.get("forecast_parts")?.get(part)?.as_array()?;
    let f = parts
        .iter()
        .find(|f| f.get("months").and_then(serde_json::Value::as_u64) == Some(u64::from(months)))?;
    let get = |k: &str| f.get(k).and_then(serde_json::Value::as_i64);
    Some((
        get("expected_minor")?,
        get("lower_minor")?,
        get("upper_minor")?,
    ))
}

/// Subscription revenue retention per month: the chart, the table's rows, and how
/// the chart tells GRR from NRR.
pub(crate) struct RevenueRetention {
    svg: String,
    rows: Vec<RevenueRow>,
    /// The customers had subscription revenue in some month shown.
    any: bool,
    /// The chart's legend: which line is which, and whether they coincide.
    legend: String,
}

/// Subscription revenue retention: GRR and NRR per month as a chart, and the table.
/// GRR is a solid line with wide markers, NRR a dashed line with small ones drawn
/// over it, so both show when they coincide (no expansion).
fn revenue_retention(
    tr: &Tr,
    months_data: &[kanta_store::retention::RevenueMonth],
    currency: Currency,
    as_of: NaiveDate,
) -> RevenueRetention {
    let any = months_data
        .iter()
        .any(|m| m.starting != 0 || m.ending != 0 || m.new != 0 || m.churned != 0);
    let labels: Vec<String> = months_data
        .iter()
        .map(|m| month_of(tr, m.month, as_of))
        .collect();
    let points = |f: fn(&kanta_store::retention::RevenueMonth) -> Option<f64>| {
        months_data
            .iter()
            .enumerate()
            .filter_map(move |(i, m)| f(m).map(|v| (i as f64, v)))
            .collect::<Vec<_>>()
    };
    let svg = LineChart::new(
        options(tr, "revenue-retention", tr.t("retention.revenue.title"))
            .size(760.0, 300.0)
            .y_format(NumberFormat::Percent),
    )
    .categories(labels.clone())
    .series(LineSeries::new(
        &format!(
            "{} ({})",
            tr.t("retention.revenue.grr"),
            tr.t("retention.revenue.grr-style")
        ),
        points(|m| m.grr),
    ))
    .series(LineSeries::new(
        &format!(
            "{} ({})",
            tr.t("retention.revenue.nrr"),
            tr.t("retention.revenue.nrr-style")
        ),
        points(|m| m.nrr),
    ))
    .render();
    let svg = crate::charts::restyle_line_series(&svg, 0, None, 6.0);
    let svg = crate::charts::restyle_line_series(&svg, 1, Some("7 5"), 2.5);
    let rated: Vec<(f64, f64)> = months_data
        .iter()
        .filter_map(|m| Some((m.grr?, m.nrr?)))
        .collect();
    let coincide = !rated.is_empty() && rated.iter().all(|(g, n)| (g - n).abs() < 1e-12);
    let legend = format!(
        "{} {}",
        tr.t("retention.revenue.legend"),
        if coincide {
            tr.t("retention.revenue.coincide")
        } else {
            ""
        }
    )
    .trim()
    .to_string();
    let money = |v: i64| tr.money(v, currency);
    let rate = |v: Option<f64>| v.map_or_else(|| "–".into(), |r| percent(tr, r, 1));
    let rows = months_data
        .iter()
        .zip(labels)
        .map(|(m, label)| RevenueRow {
            month: label,
            starting: money(m.starting),
            expansion: money(m.expansion),
            contraction: money(m.contraction),
            churned: money(m.churned),
            new: money(m.new),
            ending: money(m.ending),
            grr: rate(m.grr),
            nrr: rate(m.nrr),
        })
        .collect();
    RevenueRetention {
        svg,
        rows,
        any,
        legend,
    }
}

/// How long the dashboard reuses its per-customer activity when nothing was written
/// through this server; writes by other processes (a `kanta import` beside the
/// server) show after at most this long.
pub const ACTIVITY_REUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// The newest per-customer activity the dashboard computed: for which day, at which
/// [`Store::generation`](kanta_store::Store::generation), and when. One store query
/// (the dashboard's whole cost) serves every view until the data change.
#[derive(Clone, Default)]
pub struct ActivityCache(Arc<Mutex<Option<CachedActivity>>>);

struct CachedActivity {
    as_of: NaiveDate,
    generation: u64,
    at: std::time::Instant,
    activity: Arc<Vec<kanta_store::retention::Activity>>,
}

impl ActivityCache {
    async fn get(
        &self,
        store: &kanta_store::Store,
        as_of: NaiveDate,
    ) -> kanta_store::Result<Arc<Vec<kanta_store::retention::Activity>>> {
        let generation = store.generation();
        if let Some(c) = self.0.lock().expect("not poisoned").as_ref()
            && c.as_of == as_of
            && c.generation == generation
            && c.at.elapsed() < ACTIVITY_REUSE
        {
            return Ok(c.activity.clone());
        }
        let at = std::time::Instant::now();
        let activity = Arc::new(store.activity(as_of).await?);
        *self.0.lock().expect("not poisoned") = Some(CachedActivity {
            as_of,
            generation,
            at,
            activity: activity.clone(),
        });
        Ok(activity)
    }
}

/// Refuses a segment filter the store's customers cannot have (an unknown `kind`, a
/// `segment` no customer has) with a 400 page naming the parameter and the values it
/// takes: /retention's and /service's filters alike.
pub(crate) fn refuse_unknown_segment(
    tr: Tr,
    signed: &SignedIn,
    segment: &kanta_store::retention::Segment,
    values: &kanta_store::retention::SegmentValues,
) -> Result<(), PageError> {
    let kind_text = |k: &str| tr.text_or(&format!("value.{k}"), k);
    let refused = if let Some(k) = segment
        .kind
        .as_deref()
        .filter(|k| !kanta_domain::schema::CUSTOMER_KINDS.contains(k))
    {
        let allowed: Vec<String> = kanta_domain::schema::CUSTOMER_KINDS
            .iter()
            .map(|k| match kind_text(k) {
                t if t == *k => t,
                t => format!("{k} ({t})"),
            })
            .collect();
        Some(("kind", k, allowed.join(", ")))
    } else if let Some(v) = segment
        .segment
        .as_deref()
        .filter(|v| !values.segments.iter().any(|s| s == v))
    {
        let allowed = if values.segments.is_empty() {
            tr.t("retention.filter.no-segments").to_string()
        } else {
            values.segments.join(", ")
        };
        Some(("segment", v, allowed))
    } else {
        None
    };
    if let Some((param, value, allowed)) = refused {
        let detail = format!(
            "{param}: '{}'. {}: {allowed}",
            crate::errors::short(value, 60),
            tr.t("customers.bad-filter.allowed"),
        );
        return Err(PageError::Page(Box::new(crate::render::error_page_with(
            tr,
            Some(signed.me()),
            axum::http::StatusCode::BAD_REQUEST,
            tr.t("retention.bad-filter"),
            Some(&detail),
        ))));
    }
    Ok(())
}

pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let given = q.as_of.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let as_of = match given {
        // Today and a typed date are days of the page's time zone.
        None => Utc::now().with_timezone(&tr.zone).date_naive(),
        Some(d) => match kanta_domain::time::parse_date_in(d, None, tr.zone) {
            Ok(day) => day,
            Err(e) => {
                let message = tr
                    .t("retention.bad-as-of")
                    .replace("{value}", &crate::errors::short(d, 40))
                    .replace("{reason}", &e.to_string());
                return Err(PageError::Page(Box::new(crate::render::error_page(
                    tr,
                    Some(signed.me()),
                    axum::http::StatusCode::BAD_REQUEST,
                    &message,
                ))));
            }
        },
    };
    let chosen = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let segment = kanta_store::retention::Segment {
        segment: chosen(&q.segment),
        kind: chosen(&q.kind),
    };
    // A filter value the store's customers cannot have is refused, as the customer
    // list does, naming the parameter and the values it takes.
    let values = s.store.segment_values().await?;
    let kind_text = |k: &str| tr.text_or(&format!("value.{k}"), k);
    refuse_unknown_segment(tr, &signed, &segment, &values)?;
    let (all_activity, tier_counts, run, revenue_months) = tokio::try_join!(
        s.retention.get(&s.store, as_of),
        s.store.tier_counts_in(&segment),
        s.store.model_run_as_of(as_of),
        s.store.subscription_revenue_retention(as_of, 12, &segment),
    )?;
    // The filtered customers' part of the forecast, from the run's stored scores.
    let split = match &run {
        Some(r) if segment.is_set() => {
            let everyone = kanta_store::retention::Segment::default();
            let (seg, all) = tokio::try_join!(
                s.store.forecast_sums(r.id, &segment),
                s.store.forecast_sums(r.id, &everyone),
            )?;
            seg.zip(all)
        }
        _ => None,
    };
    let in_segment: Option<std::collections::HashSet<i64>> = if segment.is_set() {
        Some(
            s.store
                .segment_customer_ids(&segment)
                .await?
                .into_iter()
                .collect(),
        )
    } else {
        None
    };
    let activity: Vec<Span> = all_activity
        .iter()
        .filter(|a| {
            in_segment
                .as_ref()
                .is_none_or(|ids| ids.contains(&a.customer_id))
        })
        .map(|a| Span {
            first: a.first,
            stopped: a.stopped,
        })
        .collect();
    let currency = super::store_currency(&s).await?;
    let choices = |all: &[String], picked: &Option<String>, translate: bool| -> Vec<FilterChoice> {
        all.iter()
            .map(|v| {
                let key = format!("value.{v}");
                let label = match tr.t(&key) {
                    l if translate && l != key => l.to_string(),
                    _ => v.clone(),
                };
                FilterChoice {
                    value: v.clone(),
                    label,
                    selected: picked.as_deref() == Some(v.as_str()),
                }
            })
            .collect()
    };
    let revenue = revenue_retention(&tr, &revenue_months, currency, as_of);

    let flows = retention::monthly_flows(&activity, as_of, MONTHS);
    let last_12 = &flows[flows.len().saturating_sub(12)..];
    let (bucket_svg, flow_rows) = bucket(&tr, &flows, as_of);
    let (cohort_svg, cohort_columns, cohort_rows) =
        cohort_heatmap(&tr, &retention::cohorts(&activity, as_of, MONTHS), as_of);
    let (survival_svg, survival_rows, median) =
        survival(&tr, &retention::durations(&activity, as_of));
    // The tiers' links keep the filter.
    let mut suffix = String::new();
    if let Some(v) = &segment.segment {
        suffix.push_str(&format!("&segment={}", urlencode(v)));
    }
    if let Some(v) = &segment.kind {
        suffix.push_str(&format!("&kind={}", urlencode(v)));
    }
    let (tier_svg, tier_rows) = tiers(&tr, &tier_counts, &suffix);

    let view = RetentionPage {
        me: Some(signed.me()),
        as_of: as_of.format("%Y-%m-%d").to_string(),
        as_of_text: day(&tr, as_of),
        active_text: format!(
            "{} {}",
            tr.t("retention.active.definition"),
            tr.t("retention.active.status-note")
        )
        .replace("{days}", &LAPSE_DAYS.to_string()),
        now: count(&tr, flows.last().map_or(0, |f| f.end)),
        segments: choices(&values.segments, &segment.segment, false),
        kinds: choices(&values.kinds, &segment.kind, true),
        filtered: segment.is_set(),
        segment: segment.segment.clone().unwrap_or_default(),
        kind: segment.kind.clone().unwrap_or_default(),
        kind_label: segment.kind.as_deref().map(kind_text).unwrap_or_default(),
        so_far_note: tr
            .t("retention.so-far.note")
            .replace("{so_far}", tr.t("retention.so-far"))
            .replace("{day}", &day(&tr, as_of)),
        revenue,
        won_12: count(&tr, last_12.iter().map(|f| f.won).sum()),
        lost_12: count(&tr, last_12.iter().map(|f| f.lost).sum()),
        bucket_svg,
        flows: flow_rows,
        cohort_svg,
        cohort_columns,
        cohorts: cohort_rows,
        survival_svg,
        survival: survival_rows,
        median,
        tier_svg,
        tiers: tier_rows,
        untiered: count(&tr, tier_counts.none),
        forecast: run.as_ref().map(|r| forecast(&tr, r, currency, split)),
        tr,
    };
    Ok(render(&view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_each_language() {
        let (fi, en) = (Tr::new(Lang::Fi), Tr::new(Lang::En));
        assert_eq!(count(&fi, 1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(count(&en, 1234567), "1,234,567");
        assert_eq!(count(&en, 123), "123");
        assert_eq!(count(&en, 0), "0");
        assert_eq!(percent(&fi, 0.125, 1), "12,5\u{a0}%");
        assert_eq!(percent(&en, 0.125, 1), "12.5%");
        let d = NaiveDate::from_ymd_opt(2024, 12, 31).unwrap();
        assert_eq!(day(&fi, d), "31.12.2024");
        assert_eq!(month(&fi, d), "12/2024");
        assert_eq!(month(&en, d), "2024-12");
        assert_eq!(months(&fi, 1), "1 kk");
        assert_eq!(months(&en, 1), "1 month");
        assert_eq!(months(&en, 12), "12 months");
    }
}

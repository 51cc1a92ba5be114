//! The health score: the model page (`/health`) and the customer page's health card.
//!
//! - `/health` (every signed-in role): the model in use, learned from the store's own
//!   history or expert weights, and why ("32 churn events: fewer than 50, expert
//!   weights in use"); when it was scored; the training rows and churn events; the
//!   holdout's AUC, Brier score and log-loss with the calibration deciles; each
//!   feature's bins with their points (10 × the weight in health-logit units),
//!   features by importance or by name (`?sort=name`). A manager's "Refresh now"
//!   (`POST /health/refresh`, CSRF-checked) runs `Core::refresh_health` as of today.
//! - [`health_card`]: the customer page's part (`templates/parts/health_card.html`):
//!   the score in its colour band (0-50 red, 51-75 yellow, 76-100 green), 180 days of
//!   history as a sparkline, and the top factors in words with signed points that add
//!   up, with the starting point, to the score's logit in points.
//!
//! Every sentence comes from `health.*` texts in the page's language; factor sentences
//! are `health.factor.<feature>` with the customer's value put in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Days;
#[cfg(test)]
use chrono::NaiveDate;
use kanta_core::health::{CustomerHealth, Factor, HealthModelView, Why};
use kanta_store::accounts::Role;
use serde::Deserialize;
use serde_json::Value as Json;

use super::retention::{count, decimal, percent};
use super::{PageError, core_error, form_allowed, render, render_status, see_other};
use crate::AppState;
use crate::auth::{Me, SignedIn};
use crate::i18n::Tr;

/// The least role that refreshes the scores from the page.
pub(crate) const REFRESHES: Role = Role::Manager;

/// Factors the card names one by one; the rest are summed in one line.
const CARD_FACTORS: usize = 6;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Params {
    sort: Option<String>,
    /// After a refresh: customers scored and seconds taken.
    refreshed: Option<usize>,
    seconds: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RefreshForm {
    #[serde(default)]
    csrf: String,
}

/// One row of the calibration table.
pub(crate) struct CalibrationRow {
    group: String,
    predicted: String,
    observed: String,
    rows: String,
    events: String,
}

/// The holdout's figures.
pub(crate) struct ValidationView {
    day: String,
    auc: String,
    brier: String,
    log_loss: String,
    rows: String,
    events: String,
    calibration: Vec<CalibrationRow>,
}

/// One bin of a feature.
pub(crate) struct BinRow {
    label: String,
    points: String,
    tone: &'static str,
    rows: String,
    rate: String,
}

/// One feature with its bins.
pub(crate) struct FeatureView {
    id: String,
    key: String,
    label: String,
    importance: String,
    /// Lowest to highest points, as `-12 … +3`.
    span: String,
    bins: Vec<BinRow>,
}

/// The model, formatted.
pub(crate) struct ModelView {
    method: String,
    learned: bool,
    why: String,
    as_of: String,
    fitted_at: String,
    rows: String,
    events: String,
    snapshots: String,
    intercept: String,
    validation: Option<ValidationView>,
    features: Vec<FeatureView>,
}

#[derive(Template)]
#[template(path = "health.html")]
pub(crate) struct HealthPage {
    tr: Tr,
    me: Option<Me>,
    csrf: String,
    can_refresh: bool,
    by_name: bool,
    notice: Option<String>,
    error: Option<String>,
    model: Option<ModelView>,
}

/// Points as people read them: `+3`, `-12`, `0`.
pub(crate) fn signed(points: i64) -> String {
    if points > 0 {
        format!("+{points}")
    } else {
        points.to_string()
    }
}

fn tone(points: i64) -> &'static str {
    match points {
        p if p > 0 => "good",
        p if p < 0 => "bad",
        _ => "",
    }
}

/// Why the model in use is what it is, in the page's language.
pub(crate) fn why_text(tr: &Tr, why: &Why) -> String {
    let key = match why.key.as_str() {
        "learned" => "health.why.learned",
        "too_few_events" => "health.why.too_few_events",
        "no_history" => "health.why.no_history",
        _ => "health.why.fit_failed",
    };
    tr.t(key)
        .replace("{events}", &count(tr, why.events))
        .replace("{min}", &count(tr, why.min_events))
        .replace("{error}", why.error.as_deref().unwrap_or(""))
}

/// A feature's name in the page's language.
pub(crate) fn feature_label(tr: &Tr, key: &str) -> String {
    tr.text_or(&format!("health.feature.{key}"), key)
}

fn metric(tr: &Tr, v: f64) -> String {
    if v.is_finite() {
        decimal(tr, v, 3)
    } else {
        "–".into()
    }
}

fn model_view(tr: &Tr, m: &HealthModelView, by_name: bool) -> ModelView {
    let validation = m.validation.as_ref().map(|v| ValidationView {
        day: m.holdout_day.map(|d| tr.day(&d)).unwrap_or_default(),
        auc: metric(tr, v.auc),
        brier: metric(tr, v.brier),
        log_loss: metric(tr, v.log_loss),
        rows: count(tr, v.n as u64),
        events: count(tr, v.events as u64),
        calibration: v
            .calibration
            .iter()
            .enumerate()
            .map(|(i, c)| CalibrationRow {
                group: (i + 1).to_string(),
                predicted: percent(tr, c.mean_predicted, 1),
                observed: percent(tr, c.observed_rate, 1),
                rows: count(tr, c.count as u64),
                events: count(tr, c.events as u64),
            })
            .collect(),
    });
    let mut features: Vec<FeatureView> = m
        .features
        .iter()
        .map(|f| {
            let lo = f.bins.iter().map(|b| b.points).min().unwrap_or(0);
            let hi = f.bins.iter().map(|b| b.points).max().unwrap_or(0);
            FeatureView {
                id: format!("feature-{}", f.name),
                key: f.name.clone(),
                label: feature_label(tr, &f.name),
                importance: decimal(tr, f.importance * 10.0, 1),
                span: format!("{} … {}", signed(lo), signed(hi)),
                bins: f
                    .bins
                    .iter()
                    .map(|b| BinRow {
                        label: match b.label.as_str() {
                            "missing" | "other" | "yes" | "no" | "none" | "promoter"
                            | "passive" | "detractor" => tr.value(&b.label),
                            l => l.to_string(),
                        },
                        points: signed(b.points),
                        tone: tone(b.points),
                        rows: count(tr, b.count as u64),
                        rate: if b.count > 0 {
                            percent(tr, b.events as f64 / b.count as f64, 1)
                        } else {
                            "–".into()
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    if by_name {
        features.sort_by(|a, b| a.label.cmp(&b.label));
    }
    ModelView {
        method: tr
            .t(if m.method == "learned" {
                "health.method.learned"
            } else {
                "health.method.expert"
            })
            .to_string(),
        learned: m.method == "learned",
        why: why_text(tr, &m.why),
        as_of: tr.day(&m.as_of),
        fitted_at: tr.date_time(&m.fitted_at),
        rows: count(tr, m.rows.max(0) as u64),
        events: count(tr, m.events.max(0) as u64),
        snapshots: count(tr, m.snapshots.len() as u64),
        intercept: signed((10.0 * m.intercept).round() as i64),
        validation,
        features,
    }
}

async fn page_view(
    s: &AppState,
    signed: &SignedIn,
    by_name: bool,
    notice: Option<String>,
    error: Option<String>,
) -> Result<HealthPage, PageError> {
    let tr = signed.tr;
    let model = s
        .core
        .health_model(&signed.acting())
        .await
        .map_err(core_error(signed))?;
    Ok(HealthPage {
        tr,
        me: Some(signed.me()),
        csrf: signed.csrf.clone(),
        can_refresh: signed.user.role >= REFRESHES,
        by_name,
        notice,
        error,
        model: model.as_ref().map(|m| model_view(&tr, m, by_name)),
    })
}

/// `GET /health`: the model page.
pub(crate) async fn page(
    State(s): State<AppState>,
    signed: SignedIn,
    Query(q): Query<Params>,
) -> Result<Response, PageError> {
    let tr = signed.tr;
    let by_name = q.sort.as_deref() == Some("name");
    let mut view = page_view(&s, &signed, by_name, None, None).await?;
    if let Some(n) = q.refreshed {
        let method = view
            .model
            .as_ref()
            .map(|m| m.method.clone())
            .unwrap_or_default();
        let seconds = q
            .seconds
            .as_deref()
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| decimal(&tr, v, 1))
            .unwrap_or_default();
        view.notice = Some(
            tr.t("health.refreshed")
                .replace("{customers}", &count(&tr, n as u64))
                .replace("{method}", &method)
                .replace("{seconds}", &seconds),
        );
    }
    Ok(render(&view))
}

/// `POST /health/refresh`: a manager refreshes the scores as of today.
pub(crate) async fn refresh(
    State(s): State<AppState>,
    signed: SignedIn,
    axum::Form(f): axum::Form<RefreshForm>,
) -> Result<Response, PageError> {
    form_allowed(&signed, REFRESHES, &f.csrf)?;
    let tr = signed.tr;
    let today = s.core.today().await?;
    match s.core.refresh_health(&signed.acting(), today).await {
        Ok(run) => Ok(see_other(format!(
            "/health?refreshed={}&seconds={:.1}",
            run.customers, run.seconds
        ))),
        Err(kanta_core::CoreError::Forbidden(m)) => {
            Err(core_error(&signed)(kanta_core::CoreError::Forbidden(m)))
        }
        Err(e) => {
            let message = tr
                .t("health.refresh.failed")
                .replace("{error}", &e.to_string());
            let view = page_view(&s, &signed, false, None, Some(message)).await?;
            Ok(render_status(&view, StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

// ---------------------------------------------------------------------------------------
// The customer page's card
// ---------------------------------------------------------------------------------------

/// A factor's sentence in the page's language, from its feature key and value:
/// "usage down 45% against own 12-week baseline".
pub(crate) fn factor_text(tr: &Tr, f: &Factor) -> String {
    let key = format!("health.factor.{}", f.feature);
    let num = f.value.as_f64();
    let missing = || tr.text_or(&format!("{key}.missing"), &f.feature);
    let whole = |v: f64| count(tr, v.abs().round() as u64);
    let int = |v: f64| {
        let n = v.round() as i64;
        if n < 0 {
            format!("-{}", count(tr, n.unsigned_abs()))
        } else {
            count(tr, n as u64)
        }
    };
    match f.feature.as_str() {
        "usage_trend" => match num {
            Some(r) => {
                let pct = percent(tr, (1.0 - r).abs(), 0);
                let k = if r < 1.0 { ".down" } else { ".up" };
                tr.text_or(&format!("{key}{k}"), &f.feature)
                    .replace("{pct}", &pct)
            }
            None => missing(),
        },
        "recency_days" | "tenure_days" | "days_since_proactive" | "days_to_renewal" => match num {
            Some(v) => tr.text_or(&key, &f.feature).replace("{days}", &whole(v)),
            None => missing(),
        },
        "p_alive" | "onboarding_progress" => match num {
            Some(v) => tr
                .text_or(&key, &f.feature)
                .replace("{pct}", &percent(tr, v, 0)),
            None => missing(),
        },
        "trust_trend_90" => match num {
            Some(v) => {
                let n = v.round() as i64;
                let shown = if n > 0 {
                    format!("+{}", count(tr, n as u64))
                } else {
                    int(v)
                };
                tr.text_or(&key, &f.feature).replace("{n}", &shown)
            }
            None => missing(),
        },
        "tier" => match f.value.as_str() {
            Some(l) => tr.text_or(&key, &f.feature).replace("{level}", l),
            None => missing(),
        },
        "last_nps_group" => match f.value.as_str() {
            Some(g @ ("promoter" | "passive" | "detractor")) => tr
                .text_or(&key, &f.feature)
                .replace("{level}", &tr.text_or(&format!("health.nps.{g}"), g)),
            _ => tr.text_or(&format!("{key}.none"), &f.feature),
        },
        "contractual" => match f.value.as_str() {
            Some("yes") => tr.text_or(&format!("{key}.yes"), &f.feature),
            _ => tr.text_or(&format!("{key}.no"), &f.feature),
        },
        _ => match (&f.value, num) {
            (_, Some(v)) => tr.text_or(&key, &f.feature).replace("{n}", &int(v)),
            (Json::Null, _) => missing(),
            (v, _) => format!("{}: {}", feature_label(tr, &f.feature), v),
        },
    }
}

/// Whole points for parts that add up to `total` exactly (largest remainders): what a
/// card shows sums visibly.
pub(crate) fn whole_points(parts: &[f64], total: i64) -> Vec<i64> {
    let mut out: Vec<i64> = parts.iter().map(|p| p.floor() as i64).collect();
    let mut rest: Vec<(usize, f64)> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p - p.floor()))
        .collect();
    rest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut missing = total - out.iter().sum::<i64>();
    let mut k = 0;
    while missing > 0 && !rest.is_empty() {
        out[rest[k % rest.len()].0] += 1;
        missing -= 1;
        k += 1;
    }
    let mut k = rest.len();
    while missing < 0 && !rest.is_empty() {
        k = if k == 0 { rest.len() - 1 } else { k - 1 };
        out[rest[k].0] -= 1;
        missing += 1;
    }
    out
}

/// One line of the card: a factor in words and its points.
pub(crate) struct FactorLine {
    pub(crate) text: String,
    pub(crate) points: String,
    pub(crate) tone: &'static str,
}

/// The customer page's health card (`templates/parts/health_card.html`).
pub(crate) struct HealthCardView {
    pub(crate) score: i64,
    /// `red` (0-50), `yellow` (51-75), `green` (76-100).
    pub(crate) band: &'static str,
    pub(crate) band_label: String,
    pub(crate) churn: String,
    pub(crate) change: Option<String>,
    pub(crate) change_tone: &'static str,
    pub(crate) day: String,
    pub(crate) svg: String,
    pub(crate) start: String,
    pub(crate) factors: Vec<FactorLine>,
    pub(crate) sum: String,
    pub(crate) method: String,
}

/// The card alone (the customer page includes the part in its own template; this
/// renders it by itself, so it is compiled and checked here too).
#[derive(Template)]
#[template(path = "parts/health_card.html")]
pub(crate) struct HealthCardPart {
    pub(crate) tr: Tr,
    pub(crate) health: HealthCardView,
}

/// The card of a customer's health.
pub(crate) fn health_card(tr: &Tr, h: &CustomerHealth) -> HealthCardView {
    let band = match h.score {
        s if s <= 50 => "red",
        s if s <= 75 => "yellow",
        _ => "green",
    };
    // Start, the named factors, then the rest summed, in points that add up.
    let named = h.factors.len().min(CARD_FACTORS);
    let mut parts = vec![10.0 * h.intercept];
    parts.extend(h.factors[..named].iter().map(|f| 10.0 * f.contribution));
    let others: f64 = h.factors[named..].iter().map(|f| f.contribution).sum();
    if h.factors.len() > named {
        parts.push(10.0 * others);
    }
    let total = (10.0 * h.logit).round() as i64;
    let points = whole_points(&parts, total);
    let mut factors: Vec<FactorLine> = h.factors[..named]
        .iter()
        .zip(&points[1..])
        .map(|(f, &p)| FactorLine {
            text: super::customer::capitalize(&factor_text(tr, f)),
            points: signed(p),
            tone: tone(p),
        })
        .collect();
    if h.factors.len() > named {
        let p = *points.last().unwrap_or(&0);
        factors.push(FactorLine {
            text: super::customer::capitalize(
                &tr.text_or("health.card.others", "other factors")
                    .replace("{n}", &count(tr, (h.factors.len() - named) as u64)),
            ),
            points: signed(p),
            tone: tone(p),
        });
    }
    // One value per day of the last 180, gaps where no score was kept.
    let first = h.day.checked_sub_days(Days::new(179)).unwrap_or(h.day);
    let mut values: Vec<Option<f64>> = vec![None; 180];
    for p in &h.history {
        let i = (p.day - first).num_days();
        if (0..180).contains(&i) {
            values[i as usize] = Some(p.score as f64);
        }
    }
    let mut spark = crate::charts::Sparkline::new(
        &format!("health-{}", h.customer),
        tr.t("health.card.trend"),
        values,
    );
    spark.width = 180.0;
    HealthCardView {
        score: h.score,
        band,
        band_label: tr.t(&format!("health.card.band.{band}")).to_string(),
        churn: tr
            .t("health.card.churn")
            .replace("{pct}", &percent(tr, h.probability, 0)),
        change: h
            .change_30
            .map(|c| tr.t("health.card.change").replace("{points}", &signed(c))),
        change_tone: match h.change_30 {
            Some(c) if c > 0 => "good",
            Some(c) if c < 0 => "bad",
            _ => "",
        },
        day: tr.day(&h.day),
        svg: spark.render(),
        start: signed(points[0]),
        factors,
        sum: tr
            .t("health.card.sum")
            .replace("{points}", &signed(total))
            .replace("{score}", &h.score.to_string()),
        method: tr
            .t(if h.method == "learned" {
                "health.method.learned"
            } else {
                "health.method.expert"
            })
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(feature: &str, value: Json, contribution: f64) -> Factor {
        Factor {
            feature: feature.into(),
            bin: "b".into(),
            value,
            contribution,
        }
    }

    #[test]
    fn the_card_says_each_factor_in_words_and_the_points_add_up() {
        use crate::i18n::Lang;
        let factors = vec![
            factor("usage_trend", serde_json::json!(0.55), -1.2),
            factor("last_nps_group", serde_json::json!("detractor"), -0.61),
            factor("recency_days", serde_json::json!(12.0), 0.33),
            factor("contractual", serde_json::json!("yes"), 0.2),
            factor("days_since_proactive", Json::Null, -0.14),
            factor("tier", serde_json::json!("A"), 0.12),
            factor("open_cases", serde_json::json!(1.0), -0.04),
            factor("goals_at_risk", serde_json::json!(0.0), 0.01),
        ];
        let intercept = 1.7346;
        let logit = factors.iter().fold(intercept, |s, f| s + f.contribution);
        let p = 1.0 / (1.0 + f64::exp(logit));
        let h = CustomerHealth {
            customer: "c1".into(),
            day: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
            score: (100.0 * (1.0 - p)).round() as i64,
            probability: p,
            logit,
            intercept,
            factors,
            change_30: Some(-15),
            history: vec![kanta_core::health::HistoryPoint {
                day: NaiveDate::from_ymd_opt(2026, 6, 29).unwrap(),
                score: 60,
            }],
            model_id: 1,
            method: "learned".into(),
        };
        let en = Tr::new(Lang::En);
        let card = health_card(&en, &h);
        assert_eq!(card.band, "yellow", "score {}", card.score);
        assert_eq!(
            card.factors[0].text,
            "Usage down 45% against own 12-week baseline"
        );
        assert_eq!(card.factors[0].points, "-12");
        assert_eq!(card.factors[1].text, "Last NPS answer: detractor");
        assert_eq!(card.factors.len(), CARD_FACTORS + 1, "the rest in one line");
        let shown: i64 = std::iter::once(&card.start)
            .chain(card.factors.iter().map(|f| &f.points))
            .map(|p| p.trim_start_matches('+').parse::<i64>().unwrap())
            .sum();
        assert_eq!(shown, (10.0 * logit).round() as i64);
        let html = HealthCardPart {
            tr: en,
            health: card,
        }
        .render()
        .unwrap();
        assert!(html.contains("health-yellow"), "{html}");
        assert!(html.contains("<svg"), "{html}");
        let fi = health_card(&Tr::new(Lang::Fi), &h);
        assert_eq!(
            fi.factors[0].text,
            "Käyttö laskenut 45\u{a0}% omasta 12 viikon tasostaan"
        );
        assert_eq!(
            fi.factors[4].text,
            "Häneen ei ole koskaan otettu yhteyttä oma-aloitteisesti"
        );
    }

    #[test]
    fn whole_points_add_up_to_the_total() {
        let parts = [17.4, -12.4, 3.3, -0.4, 2.4];
        let total = (parts.iter().sum::<f64>()).round() as i64;
        let p = whole_points(&parts, total);
        assert_eq!(p.iter().sum::<i64>(), total);
        for (a, b) in p.iter().zip(parts) {
            assert!((*a as f64 - b).abs() < 1.0 + 1e-9, "{p:?}");
        }
        assert_eq!(signed(3), "+3");
        assert_eq!(signed(-12), "-12");
    }
}

//! The value page's retention-economics section (issue 14; the lead places it on
//! `/value`): what five more points of 12-month retention are worth to this business
//! with its 95 % interval, per part (buyers, subscribers); the cost of winning a
//! customer beside the cost of keeping one; churn reasons by journey stage with the
//! cases before the end. The core computes everything
//! (`Core::retention_economics`); this formats it in the page's language.
//!
//! [`section`] renders the section's HTML through its own askama template
//! (`templates/parts/value_economics.html`, which escapes every value, case categories
//! included), for the value page to embed with `|safe`.

use askama::Template;
use kanta_core::economics::{PartFigures, RetentionEconomics};
use kanta_domain::Currency;

use super::retention::{count, decimal, percent};
use crate::i18n::Tr;

/// One part's row (buyers or subscribers).
pub(crate) struct PartRow {
    label: String,
    model: String,
    units: String,
    retention: String,
    retention_after: String,
    factor: String,
    value: String,
    gain: String,
}

/// One journey stage's row.
pub(crate) struct StageRow {
    id: String,
    label: String,
    customers: String,
    href: String,
    reasons: String,
    cases: String,
}

/// The five-points figure, formatted.
pub(crate) struct Headline {
    gain_36: String,
    gain_12: String,
    interval_36: Option<String>,
    interval_12: Option<String>,
    value_36: String,
    share_36: String,
}

#[derive(Template)]
#[template(path = "parts/value_economics.html")]
pub(crate) struct EconomicsPart<'a> {
    tr: &'a Tr,
    headline: Option<Headline>,
    note: Option<String>,
    run: Option<String>,
    parts: Vec<PartRow>,
    part_notes: Vec<String>,
    acquisition: Option<String>,
    acquisition_n: String,
    keeping: Option<String>,
    keeping_note: Option<String>,
    ratio: Option<String>,
    ended: String,
    stages: Vec<StageRow>,
}

fn part_row(tr: &Tr, label: &str, p: &PartFigures, money: &dyn Fn(i64) -> String) -> PartRow {
    PartRow {
        label: tr.t(label).to_string(),
        model: tr
            .text_or(&format!("economics.model.{}", p.model), &p.model)
            .to_string(),
        units: count(tr, p.units as u64),
        retention: percent(tr, p.retention, 1),
        retention_after: percent(tr, p.retention_after, 1),
        factor: decimal(tr, p.factor, 3),
        value: money(p.value_minor[1]),
        gain: money(p.gain_minor[1]),
    }
}

/// The section's HTML in the page's language (escaped by its template).
// Used once the lead places the section on /value (pages/value.rs).
pub fn section(tr: &Tr, e: &RetentionEconomics) -> String {
    let currency: Currency = e.currency.parse().unwrap_or(Currency::EUR);
    let money = |m: i64| tr.money(m, currency);
    let interval =
        |i: Option<(i64, i64)>| i.map(|(lo, hi)| format!("{} – {}", money(lo), money(hi)));
    let headline = e.five_points.as_ref().map(|f| Headline {
        gain_36: money(f.gain_minor[1]),
        gain_12: money(f.gain_minor[0]),
        interval_36: interval(f.interval_minor[1]),
        interval_12: interval(f.interval_minor[0]),
        value_36: money(f.value_minor[1]),
        share_36: percent(tr, f.gain_share[1], 1),
    });
    let note = match (&e.five_points, &e.run) {
        (Some(_), _) => None,
        (None, None) => Some(tr.t("economics.no-run").to_string()),
        (None, Some(_)) => Some(format!(
            "{} {}",
            tr.t("economics.no-figure"),
            e.five_points_note.as_deref().unwrap_or("")
        )),
    };
    let mut parts = Vec::new();
    let mut part_notes = Vec::new();
    if let Some(f) = &e.five_points {
        if let Some(b) = &f.buyers {
            parts.push(part_row(tr, "economics.buyers", b, &money));
        }
        if let Some(s) = &f.subscribers {
            parts.push(part_row(tr, "economics.subscribers", s, &money));
        }
        for (label, n) in [
            ("economics.buyers", &f.buyers_note),
            ("economics.subscribers", &f.subscribers_note),
        ] {
            if let Some(n) = n
                && !n.contains("no subscriptions")
            {
                part_notes.push(format!("{}: {n}", tr.t(label)));
            }
        }
    }
    let run = e.run.as_ref().map(|r| {
        tr.t("economics.run")
            .replace("{id}", &r.id.to_string())
            .replace("{date}", &tr.day(&r.as_of))
    });
    let acquisition = e.acquisition.mean_minor.map(money);
    let keeping = e.keeping.per_customer_year_minor.map(money);
    let keeping_note = if keeping.is_none() {
        Some(if e.keeping.run_id.is_none() {
            tr.t("economics.keeping.none").to_string()
        } else {
            tr.t("economics.keeping.empty").to_string()
        })
    } else {
        None
    };
    let ratio = e
        .acquisition_to_keeping
        .map(|r| tr.t("economics.ratio").replace("{x}", &decimal(tr, r, 1)));
    let stages = e
        .churn
        .stages
        .iter()
        .map(|s| {
            let reasons = s
                .reasons
                .iter()
                .map(|(r, n)| {
                    format!(
                        "{} {}",
                        tr.text_or(&format!("economics.reason.{r}"), r),
                        count(tr, *n as u64)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let cases = s
                .cases
                .iter()
                .take(5)
                .map(|(c, n, _)| format!("{c} {}", count(tr, *n as u64)))
                .collect::<Vec<_>>()
                .join(", ");
            StageRow {
                id: s.stage.clone(),
                label: tr
                    .text_or(&format!("economics.stage.{}", s.stage), &s.stage)
                    .to_string(),
                customers: count(tr, s.customers as u64),
                href: "/customers?status=ended".into(),
                reasons: if reasons.is_empty() {
                    "–".into()
                } else {
                    reasons
                },
                cases: if cases.is_empty() {
                    "–".into()
                } else {
                    cases
                },
            }
        })
        .collect();
    EconomicsPart {
        tr,
        headline,
        note,
        run,
        parts,
        part_notes,
        acquisition,
        acquisition_n: count(tr, e.acquisition.customers as u64),
        keeping,
        keeping_note,
        ratio,
        ended: count(tr, e.churn.ended as u64),
        stages,
    }
    .render()
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use kanta_core::economics::{
        Acquisition, ChurnByStage, FivePoints, Keeping, RunRef, STAGE_RULE, StageFigures,
    };

    use super::*;
    use crate::i18n::Lang;

    fn economics() -> RetentionEconomics {
        let part = |model: &str, f: f64| PartFigures {
            model: model.into(),
            units: 1200,
            alive: 800.0,
            retention: 0.62,
            retention_after: 0.67,
            factor: f,
            value_minor: [1_000_000, 2_500_000],
            gain_minor: [40_000, 180_000],
        };
        RetentionEconomics {
            currency: "EUR".into(),
            run: Some(RunRef {
                id: 3,
                as_of: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                created_at: Utc.with_ymd_and_hms(2026, 11, 2, 6, 0, 0).unwrap(),
                model: "bgnbd".into(),
            }),
            five_points: Some(FivePoints {
                points: 0.05,
                horizons: [12, 36],
                value_minor: [2_000_000, 5_000_000],
                gain_minor: [80_000, 360_000],
                interval_minor: [Some((60_000, 95_000)), Some((300_000, 420_000))],
                gain_share: [0.04, 0.072],
                draws: 100,
                buyers: Some(part("bgnbd", 0.81)),
                buyers_note: None,
                subscribers: Some(part("sbg", 1.7)),
                subscribers_note: None,
                method: String::new(),
            }),
            five_points_note: None,
            acquisition: Acquisition {
                customers: 40,
                total_minor: 480_000,
                mean_minor: Some(12_000),
                other_currency: 0,
            },
            keeping: Keeping {
                run_id: None,
                as_of: None,
                served: 0,
                cost_to_serve_minor: 0,
                per_customer_year_minor: None,
                note: Some("none".into()),
            },
            acquisition_to_keeping: None,
            churn: ChurnByStage {
                ended: 3,
                stages: vec![StageFigures {
                    stage: "around_renewal".into(),
                    customers: 3,
                    reasons: vec![("unprofitable".into(), 2), ("unknown".into(), 1)],
                    cases: vec![("<script>laskutus</script>".into(), 4, 2)],
                }],
                rule: STAGE_RULE.into(),
            },
        }
    }

    #[test]
    fn the_section_speaks_english_and_finnish_and_escapes() {
        let e = economics();
        let en = section(&Tr::new(Lang::En), &e);
        for want in [
            "Retention economics",
            "Five more points of 12-month retention would be worth",
            "€3,600.00",
            "€3,000.00 – €4,200.00",
            "Around renewal",
            "unprofitable 2",
            "No profitability pass yet",
            "€120.00",
            "href=\"/customers?status=ended\"",
        ] {
            assert!(en.contains(want), "no {want:?} in {en}");
        }
        assert!(!en.contains("<script>"), "{en}");
        assert!(en.contains("&#60;script&#62;laskutus"), "{en}");
        let fi = section(&Tr::new(Lang::Fi), &e);
        for want in [
            "Asiakaspysyvyyden talous",
            "Uusinnan aikaan",
            "kannattamaton 2",
            "syytä ei kirjattu 1",
            "Ostajat",
            "Tilaukset",
        ] {
            assert!(fi.contains(want), "no {want:?} in {fi}");
        }
        let none = RetentionEconomics {
            five_points: None,
            run: None,
            five_points_note: Some("no model run yet".into()),
            ..economics()
        };
        let en = section(&Tr::new(Lang::En), &none);
        assert!(en.contains("No model run yet"), "{en}");
    }
}

//! Feedback analytics (issue 13): NPS, CSAT and CES over time and by segment, tier,
//! survey and channel, each with its 95% interval and its n; response rates per wave
//! and channel; reputation exposure per period; the themes and what drives
//! detractors. The `/feedback` page, `GET /api/v1/feedback/report` and
//! `kanta report feedback` show [`Core::feedback_report`]; the answers behind a
//! figure are [`Core::feedback_answers`].
//!
//! # Figures
//!
//! - **NPS**: answers 9-10 are promoters, 0-6 detractors (the standard split, so the
//!   figure compares with published ones), `NPS = 100 × (P − D) / n`. Its interval is
//!   the **adjusted Wald** (Rocks 2016; ANCHORS): `n' = n + 3`, `p' = (P + ¾)/n'`,
//!   `d' = (D + ¾)/n'`, `NPS' = p' − d'`, `Var = (p' + d' − NPS'²)/n'`,
//!   `NPS' ± 1.96 √Var`, clipped to ±100 points.
//! - **CSAT**: the share of answers 4-5 with Wilson's score interval, and the mean
//!   with a t interval.
//! - **CES**: the mean (1-7) with a t interval (Student's t, n − 1 degrees of freedom).
//! - A cell (period, segment, ...) with fewer answers to a measure than the setting
//!   `feedback_min_answers` gives that measure as **not enough answers**: its counts
//!   and n, no figure (`enough: false`, the values `None`).
//! - **Periods** are months or quarters of the store's time zone, the last `months`
//!   months (a quarter report starts at the first month of its quarter).
//! - **Response rates**: per wave (triggered invitations: per survey and channel)
//!   and per invitation channel, answered / invited (skipped customers were not
//!   invited), with Wilson intervals.
//! - **Reputation exposure** (seed 000): per period, the promoters × the setting
//!   `exposure_promoter` (3) people told of good service against the detractors ×
//!   `exposure_detractor` (11) told of bad. Promoters and detractors here follow the
//!   settings' rule ([`crate::feedback_settings::FeedbackRules::is_detractor`]): NPS
//!   at most `detractor_nps_max`, or with no NPS a CSAT at most `detractor_csat_max`.
//! - **Detractor drivers**: per theme, the share of the detractors who wrote anything
//!   whose answer is in the theme, against the same share among promoters, the
//!   difference with Newcombe's hybrid score interval, ranked by the difference
//!   (largest first). A driver whose interval lies above zero is `clear`.
//!
//! The store gives every sum in one grouped pass ([`kanta_store::feedback_stats`]);
//! here they are added up per dimension and the intervals computed.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use kanta_store::feedback_stats::{AnswerFilter, AnswerRow, CubeCell, GroupRule, Sums};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::access::{Role, require};
use crate::feedback_settings::FeedbackRules;
use crate::recovery::{Rate, rate_difference};
use crate::themes::ThemeView;
use crate::{Acting, Core, CoreError, Result};

/// The normal quantile of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;
/// Months a report covers by default, and at most.
pub const MONTHS: u32 = 24;
pub const MAX_MONTHS: u32 = 120;
/// Answers the drill-down lists per page, at most.
pub const MAX_PAGE: i64 = 500;

/// Months or quarters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[default]
    Month,
    Quarter,
}

impl Period {
    /// `month`/`quarter` (also Finnish `kuukausi`, `neljännes`).
    pub fn parse(s: &str) -> Option<Period> {
        match s.trim().to_lowercase().as_str() {
            "month" | "months" | "kuukausi" | "kk" => Some(Period::Month),
            "quarter" | "quarters" | "neljännes" | "q" => Some(Period::Quarter),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Month => "month",
            Period::Quarter => "quarter",
        }
    }
}

/// An NPS figure over `n` answers, in points (−100…100).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Nps {
    pub n: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    /// At least `feedback_min_answers` answers: the figures are given.
    pub enough: bool,
    pub score: Option<f64>,
    /// The adjusted Wald 95% interval.
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// A CSAT figure: the share 4-5 (Wilson) and the mean (t).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Csat {
    pub n: u64,
    pub satisfied: u64,
    pub enough: bool,
    pub share: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub mean: Option<f64>,
    pub mean_lo: Option<f64>,
    pub mean_hi: Option<f64>,
}

/// A CES figure: the mean (1-7) with its t interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ces {
    pub n: u64,
    pub enough: bool,
    pub mean: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// The figures of one period, segment, tier, survey or channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// `2026-10`, `2026-Q4`, the segment, the tier, the survey's external id, the
    /// channel; empty for answers without one (no segment, no survey ...).
    pub key: String,
    /// The survey's name (surveys only).
    pub label: Option<String>,
    pub answers: u64,
    pub nps: Nps,
    pub csat: Csat,
    pub ces: Ces,
    /// Promoters and detractors by the settings' rule.
    pub promoters: u64,
    pub detractors: u64,
}

/// Invitations and answers of one wave (or of a survey's triggers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaveRate {
    /// `None`: the survey's triggered invitations on this channel.
    pub wave_id: Option<i64>,
    pub sent_at: DateTime<Utc>,
    pub survey: String,
    pub survey_name: String,
    pub channel: String,
    pub skipped: u64,
    /// Answered of invited, with its Wilson interval.
    pub rate: Rate,
}

/// Answered of invited on one invitation channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelRate {
    pub channel: String,
    pub rate: Rate,
}

/// People reached by word of mouth in one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    pub key: String,
    pub promoters: u64,
    pub detractors: u64,
    /// promoters × `exposure_promoter`.
    pub told_good: u64,
    /// detractors × `exposure_detractor`.
    pub told_bad: u64,
}

/// One theme's share among detractors against promoters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    pub theme_id: i64,
    pub label: String,
    /// Detractors (who wrote anything) with an answer in the theme, of all of them.
    pub detractors: Rate,
    pub promoters: Rate,
    /// Detractors' share minus promoters', with Newcombe's hybrid score interval.
    pub difference: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// The interval lies above zero: the theme comes up more among detractors.
    pub clear: bool,
    /// Both groups have at least `feedback_min_answers` answers with text.
    pub enough: bool,
}

/// The whole analytics report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackReport {
    pub by: Period,
    pub months: u32,
    pub time_zone: String,
    /// The first day covered and today (store time zone).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub min_answers: u64,
    pub exposure_promoter: i64,
    pub exposure_detractor: i64,
    pub detractor_nps_max: i64,
    pub detractor_csat_max: i64,
    /// Every answer of the time covered.
    pub total: Cell,
    /// Per month or quarter, oldest first (every period, answers or not).
    pub periods: Vec<Cell>,
    /// By the customer's segment and tier, the survey and the answer's channel, over
    /// the whole time covered, most answers first (tiers A-D).
    pub segments: Vec<Cell>,
    pub tiers: Vec<Cell>,
    pub surveys: Vec<Cell>,
    pub channels: Vec<Cell>,
    /// Newest wave first.
    pub waves: Vec<WaveRate>,
    pub invitation_channels: Vec<ChannelRate>,
    pub exposure: Vec<Exposure>,
    /// Largest difference first.
    pub drivers: Vec<Driver>,
    /// The detractors and promoters who wrote anything (the drivers' denominators).
    pub detractors_with_text: u64,
    pub promoters_with_text: u64,
    /// The themes (kanta-core's `themes`), largest first, with their answers' ids.
    pub themes: Vec<ThemeView>,
}

/// The NPS of `p` promoters and `d` detractors of `n`, with its adjusted Wald 95%
/// interval, in points: `(score, lo, hi)`; `None` without answers.
pub fn nps_interval(n: u64, p: u64, d: u64) -> Option<(f64, f64, f64)> {
    if n == 0 {
        return None;
    }
    let (nf, pf, df) = (n as f64, p as f64, d as f64);
    let score = (pf - df) / nf;
    let n2 = nf + 3.0;
    let p2 = (pf + 0.75) / n2;
    let d2 = (df + 0.75) / n2;
    let adj = p2 - d2;
    let var = ((p2 + d2 - adj * adj) / n2).max(0.0);
    let half = Z95 * var.sqrt();
    Some((
        100.0 * score,
        (100.0 * (adj - half)).max(-100.0),
        (100.0 * (adj + half)).min(100.0),
    ))
}

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom.
pub fn t95(df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(Z95)
}

/// The mean of `n` values with sum `s` and sum of squares `ss`, with its t 95%
/// interval: `(mean, lo, hi)`; the interval `None` below two values.
pub fn mean_interval(n: u64, s: i64, ss: i64) -> Option<(f64, Option<(f64, f64)>)> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = s as f64 / nf;
    if n < 2 {
        return Some((mean, None));
    }
    let var = ((ss as f64 - nf * mean * mean) / (nf - 1.0)).max(0.0);
    let half = t95(nf - 1.0) * (var / nf).sqrt();
    Some((mean, Some((mean - half, mean + half))))
}

/// The figures of a set of answers, each measure given only with `min` answers.
pub fn cell(key: String, label: Option<String>, s: &Sums, min: u64) -> Cell {
    let u = |v: i64| v.max(0) as u64;
    let nps_n = u(s.nps_n);
    let nps_enough = nps_n >= min && nps_n > 0;
    let nps = nps_interval(nps_n, u(s.nps_promoters), u(s.nps_detractors)).filter(|_| nps_enough);
    let csat_n = u(s.csat_n);
    let csat_enough = csat_n >= min && csat_n > 0;
    let share = Rate::wilson(u(s.csat_top), csat_n);
    let csat_mean = mean_interval(csat_n, s.csat_sum, s.csat_sumsq).filter(|_| csat_enough);
    let ces_n = u(s.ces_n);
    let ces_enough = ces_n >= min && ces_n > 0;
    let ces_mean = mean_interval(ces_n, s.ces_sum, s.ces_sumsq).filter(|_| ces_enough);
    Cell {
        key,
        label,
        answers: u(s.answers),
        nps: Nps {
            n: nps_n,
            promoters: u(s.nps_promoters),
            passives: nps_n.saturating_sub(u(s.nps_promoters) + u(s.nps_detractors)),
            detractors: u(s.nps_detractors),
            enough: nps_enough,
            score: nps.map(|x| x.0),
            lo: nps.map(|x| x.1),
            hi: nps.map(|x| x.2),
        },
        csat: Csat {
            n: csat_n,
            satisfied: u(s.csat_top),
            enough: csat_enough,
            share: share.p.filter(|_| csat_enough),
            lo: share.lo.filter(|_| csat_enough),
            hi: share.hi.filter(|_| csat_enough),
            mean: csat_mean.map(|m| m.0),
            mean_lo: csat_mean.and_then(|m| m.1).map(|i| i.0),
            mean_hi: csat_mean.and_then(|m| m.1).map(|i| i.1),
        },
        ces: Ces {
            n: ces_n,
            enough: ces_enough,
            mean: ces_mean.map(|m| m.0),
            lo: ces_mean.and_then(|m| m.1).map(|i| i.0),
            hi: ces_mean.and_then(|m| m.1).map(|i| i.1),
        },
        promoters: u(s.promoters),
        detractors: u(s.detractors),
    }
}

/// `2026-10` → `2026-Q4`.
pub fn quarter_of(month: &str) -> String {
    let (y, m) = month.split_once('-').unwrap_or((month, "1"));
    let m: u32 = m.parse().unwrap_or(1);
    format!("{y}-Q{}", (m.clamp(1, 12) - 1) / 3 + 1)
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d)
}

fn next_month(d: NaiveDate) -> NaiveDate {
    first_of_month(first_of_month(d) + Duration::days(32))
}

/// The first instant of `day` in `zone`.
fn start_in<Z: TimeZone>(zone: &Z, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    zone.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
}

/// The months from `first` to the month of `today` (each key and first instant in
/// `zone`), and the first instant after the last.
fn months_from<Z: TimeZone>(
    zone: &Z,
    first: NaiveDate,
    today: NaiveDate,
) -> (Vec<(String, DateTime<Utc>)>, DateTime<Utc>) {
    let mut out = Vec::new();
    let mut m = first_of_month(first);
    while m <= today {
        out.push((m.format("%Y-%m").to_string(), start_in(zone, m)));
        m = next_month(m);
    }
    (out, start_in(zone, m))
}

/// The first month of a report of `months` months ending in `today`'s month.
fn first_month(today: NaiveDate, months: u32, by: Period) -> NaiveDate {
    let mut first = first_of_month(today);
    for _ in 1..months {
        first = first_of_month(first - Duration::days(1));
    }
    if by == Period::Quarter {
        while !(first.month() - 1).is_multiple_of(3) {
            first = first_of_month(first - Duration::days(1));
        }
    }
    first
}

/// The `[from, until)` of a period key (`2026-10`, `2026-Q4`, `2026`) in `zone`.
pub fn period_range<Z: TimeZone>(zone: &Z, key: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let key = key.trim();
    let (first, last_exclusive) = if let Some((y, q)) = key.split_once("-Q") {
        let y: i32 = y.parse().ok()?;
        let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
        let first = NaiveDate::from_ymd_opt(y, (q - 1) * 3 + 1, 1)?;
        (first, next_month(next_month(next_month(first))))
    } else if let Some((y, m)) = key.split_once('-') {
        let first = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
        (first, next_month(first))
    } else {
        let y: i32 = key.parse().ok()?;
        (
            NaiveDate::from_ymd_opt(y, 1, 1)?,
            NaiveDate::from_ymd_opt(y + 1, 1, 1)?,
        )
    };
    Some((start_in(zone, first), start_in(zone, last_exclusive)))
}

/// Adds `cells` up by `key`, in first-seen order.
fn sum_by<'a>(
    cells: impl Iterator<Item = &'a CubeCell>,
    key: impl Fn(&CubeCell) -> (String, Option<String>),
) -> Vec<(String, Option<String>, Sums)> {
    let mut out: Vec<(String, Option<String>, Sums)> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = Default::default();
    for c in cells {
        let (k, label) = key(c);
        let i = *at.entry(k.clone()).or_insert_with(|| {
            out.push((k, label, Sums::default()));
            out.len() - 1
        });
        out[i].2.add(&c.sums);
    }
    out
}

/// Which answers the drill-down lists (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswersQuery {
    /// `2026-10`, `2026-Q4` or `2026`.
    pub period: Option<String>,
    /// `detractor`, `promoter`, `passive`.
    pub group: Option<String>,
    /// Empty: answers without one.
    pub segment: Option<String>,
    pub tier: Option<String>,
    pub survey: Option<String>,
    pub channel: Option<String>,
    pub theme: Option<i64>,
    /// `nps`, `csat`, `ces`: only answers with that score.
    pub measure: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A page of answers behind a figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswersPage {
    pub items: Vec<AnswerRow>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl Core {
    fn group_rule(rules: &FeedbackRules) -> GroupRule {
        GroupRule {
            detractor_nps_max: rules.detractor_nps_max,
            detractor_csat_max: rules.detractor_csat_max,
        }
    }

    /// The feedback analytics of the last `months` months (1-120) by month or
    /// quarter (see the module documentation). Any signed-in role.
    pub async fn feedback_report(
        &self,
        acting: &Acting,
        by: Period,
        months: u32,
    ) -> Result<FeedbackReport> {
        require(acting, Role::Viewer)?;
        if !(1..=MAX_MONTHS).contains(&months) {
            return Err(CoreError::invalid(
                "months",
                format!("'{months}' is not within 1..{MAX_MONTHS}"),
            ));
        }
        let settings = self.store_settings().await?;
        let rules = FeedbackRules::from_settings(&settings);
        let zone = self.time_zone().await?;
        let today = Utc::now().with_timezone(&zone).date_naive();
        let first = first_month(today, months, by);
        let (bounds, until) = months_from(&zone, first, today);
        let since = bounds.first().map_or(until, |b| b.1);
        let rule = Core::group_rule(&rules);
        let min = rules.min_answers.max(1) as u64;

        let store = self.store();
        // Merged themes count in the theme they were merged into.
        let merges = store.theme_merges().await?;
        let parent: std::collections::HashMap<i64, i64> = merges.into_iter().collect();
        let root = |mut id: i64| {
            for _ in 0..64 {
                match parent.get(&id) {
                    Some(p) if *p != id => id = *p,
                    _ => break,
                }
            }
            id
        };
        let roots: Vec<(i64, i64)> = parent.keys().map(|id| (*id, root(*id))).collect();
        // The queries at once (a pool of connections: on two cores they overlap).
        let (cube, invitations, themes, groups) = tokio::join!(
            store.feedback_cube(&bounds, until, rule),
            store.invitation_rates(),
            self.feedback_themes(acting),
            store.theme_groups(since, until, rule, &roots),
        );
        let (cube, invitations, themes, groups) = (cube?, invitations?, themes?, groups?);

        let mut total = Sums::default();
        for c in &cube {
            total.add(&c.sums);
        }
        let period_key = |m: &str| match by {
            Period::Month => m.to_string(),
            Period::Quarter => quarter_of(m),
        };
        // Every period, answers or not.
        let mut periods: Vec<(String, Sums)> = Vec::new();
        for (m, _) in &bounds {
            let k = period_key(m);
            if periods.last().is_none_or(|p| p.0 != k) {
                periods.push((k, Sums::default()));
            }
        }
        for c in &cube {
            let k = period_key(&c.month);
            if let Some(p) = periods.iter_mut().find(|p| p.0 == k) {
                p.1.add(&c.sums);
            }
        }
        let by_answers = |mut v: Vec<(String, Option<String>, Sums)>| {
            v.sort_by(|a, b| b.2.answers.cmp(&a.2.answers).then(a.0.cmp(&b.0)));
            v.into_iter()
                .map(|(k, l, s)| cell(k, l, &s, min))
                .collect::<Vec<_>>()
        };
        let segments = by_answers(sum_by(cube.iter(), |c| {
            (c.segment.clone().unwrap_or_default(), None)
        }));
        let mut tiers = sum_by(cube.iter(), |c| (c.tier.clone().unwrap_or_default(), None));
        tiers.sort_by(|a, b| (a.0.is_empty(), &a.0).cmp(&(b.0.is_empty(), &b.0)));
        let tiers = tiers
            .into_iter()
            .map(|(k, l, s)| cell(k, l, &s, min))
            .collect();
        let surveys = by_answers(sum_by(cube.iter(), |c| match &c.survey {
            Some((id, name)) => (id.clone(), Some(name.clone())),
            None => (String::new(), None),
        }));
        let channels = by_answers(sum_by(cube.iter(), |c| {
            (c.channel.clone().unwrap_or_default(), None)
        }));

        let u = |v: i64| v.max(0) as u64;
        let waves: Vec<WaveRate> = invitations
            .iter()
            .map(|i| WaveRate {
                wave_id: i.wave_id,
                sent_at: kanta_store_time(i.created_ms),
                survey: i.survey.clone(),
                survey_name: i.survey_name.clone(),
                channel: i.channel.clone(),
                skipped: u(i.skipped),
                rate: Rate::wilson(u(i.answered), u(i.invited)),
            })
            .collect();
        let mut invitation_channels: Vec<ChannelRate> = Vec::new();
        for ch in ["email", "link"] {
            let (k, n) = invitations
                .iter()
                .filter(|i| i.channel == ch)
                .fold((0, 0), |(k, n), i| (k + u(i.answered), n + u(i.invited)));
            if n > 0 {
                invitation_channels.push(ChannelRate {
                    channel: ch.to_string(),
                    rate: Rate::wilson(k, n),
                });
            }
        }

        let exposure = periods
            .iter()
            .map(|(k, s)| Exposure {
                key: k.clone(),
                promoters: u(s.promoters),
                detractors: u(s.detractors),
                told_good: u(s.promoters).saturating_mul(rules.exposure_promoter.max(0) as u64),
                told_bad: u(s.detractors).saturating_mul(rules.exposure_detractor.max(0) as u64),
            })
            .collect();

        let (dn, pn) = (u(total.detractors_text), u(total.promoters_text));
        let mut drivers: Vec<Driver> = themes
            .iter()
            .map(|t| {
                let (d, p) = groups
                    .iter()
                    .find(|g| g.theme_id == t.id)
                    .map_or((0, 0), |g| (u(g.detractors), u(g.promoters)));
                let dr = Rate::wilson(d.min(dn), dn);
                let pr = Rate::wilson(p.min(pn), pn);
                let (difference, lo, hi) = rate_difference(&dr, &pr);
                Driver {
                    theme_id: t.id,
                    label: t.label.clone(),
                    detractors: dr,
                    promoters: pr,
                    difference,
                    lo,
                    hi,
                    clear: lo.is_some_and(|lo| lo > 0.0),
                    enough: dn >= min && pn >= min,
                }
            })
            .collect();
        drivers.sort_by(|a, b| {
            b.difference
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.difference.unwrap_or(f64::NEG_INFINITY))
                .then(a.theme_id.cmp(&b.theme_id))
        });

        Ok(FeedbackReport {
            by,
            months,
            time_zone: zone.name().to_string(),
            from: first,
            to: today,
            min_answers: min,
            exposure_promoter: rules.exposure_promoter,
            exposure_detractor: rules.exposure_detractor,
            detractor_nps_max: rules.detractor_nps_max,
            detractor_csat_max: rules.detractor_csat_max,
            total: cell(String::new(), None, &total, min),
            periods: periods
                .iter()
                .map(|(k, s)| cell(k.clone(), None, s, min))
                .collect(),
            segments,
            tiers,
            surveys,
            channels,
            waves,
            invitation_channels,
            exposure,
            drivers,
            detractors_with_text: dn,
            promoters_with_text: pn,
            themes,
        })
    }

    /// The answers behind a figure (see [`AnswersQuery`]), newest first. Any
    /// signed-in role; a period that does not read is refused naming `period`.
    pub async fn feedback_answers(&self, acting: &Acting, q: &AnswersQuery) -> Result<AnswersPage> {
        require(acting, Role::Viewer)?;
        let rules = FeedbackRules::from_settings(&self.store_settings().await?);
        let zone = self.time_zone().await?;
        let (from, until) = match q.period.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            None => (None, None),
            Some(p) => {
                let (a, b) = period_range(&zone, p).ok_or_else(|| {
                    CoreError::invalid(
                        "period",
                        format!("'{p}' is not a period: write a month 2026-10, a quarter 2026-Q4 or a year 2026"),
                    )
                })?;
                (Some(a), Some(b))
            }
        };
        if let Some(g) = q
            .group
            .as_deref()
            .filter(|g| !["detractor", "promoter", "passive"].contains(g))
        {
            return Err(CoreError::invalid(
                "group",
                format!("'{g}' is not a group: detractor, promoter or passive"),
            ));
        }
        if let Some(m) = q
            .measure
            .as_deref()
            .filter(|m| !["nps", "csat", "ces"].contains(m))
        {
            return Err(CoreError::invalid(
                "measure",
                format!("'{m}' is not a measure: nps, csat or ces"),
            ));
        }
        let themes = match q.theme {
            None => None,
            Some(id) => {
                let merges = self.store().theme_merges().await?;
                if !self.store().theme_exists(id).await? {
                    return Err(CoreError::invalid(
                        "theme",
                        format!("there is no theme {id}"),
                    ));
                }
                // The theme and every theme merged into it (at any depth).
                let mut ids = vec![id];
                loop {
                    let more: Vec<i64> = merges
                        .iter()
                        .filter(|(id, into)| ids.contains(into) && !ids.contains(id))
                        .map(|(id, _)| *id)
                        .collect();
                    if more.is_empty() {
                        break;
                    }
                    ids.extend(more);
                }
                Some(ids)
            }
        };
        let limit = q.limit.clamp(1, MAX_PAGE);
        let offset = q.offset.max(0);
        let filter = AnswerFilter {
            from,
            until,
            group: q.group.clone(),
            segment: q.segment.clone(),
            tier: q.tier.clone(),
            survey: q.survey.clone(),
            channel: q.channel.clone(),
            themes,
            measure: q.measure.clone(),
            limit,
            offset,
        };
        let (items, total) = self
            .store()
            .feedback_answers(&filter, Core::group_rule(&rules))
            .await?;
        Ok(AnswersPage {
            items,
            total,
            limit,
            offset,
        })
    }
}

fn kanta_store_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ANCHORS: n = 400, 50% promoters, 20% detractors gives about ±7.7 points.
    #[test]
    fn the_adjusted_wald_interval_of_the_anchor() {
        let (score, lo, hi) = nps_interval(400, 200, 80).unwrap();
        assert!((score - 30.0).abs() < 1e-9);
        // n' = 403, p' = 200.75/403, d' = 80.75/403: NPS' = 29.78, half-width 7.62.
        let centre = (lo + hi) / 2.0;
        let half = (hi - lo) / 2.0;
        assert!((centre - 29.777).abs() < 0.01, "{centre}");
        assert!((half - 7.62).abs() < 0.01, "{half}");
        assert!((7.5..7.8).contains(&half));
    }

    /// MeasuringU's worked example (Sauro, "Confidence intervals for Net Promoter
    /// Scores"): 36 answers, 15 promoters, 9 detractors: NPS 17 %, adjusted Wald
    /// NPS' ≈ 15.4 % with a 95% interval of about −10 % to +41 %.
    #[test]
    fn a_small_sample_s_interval() {
        let (score, lo, hi) = nps_interval(36, 15, 9).unwrap();
        assert!((score - 16.667).abs() < 0.01);
        // n' = 39, p' = 15.75/39 = .4038, d' = 9.75/39 = .25, NPS' = .1538,
        // var = (.6538 − .02367)/39 = .016157, half = 1.96 × .12711 = .2491.
        assert!((lo - (15.385 - 24.91)).abs() < 0.05, "{lo}");
        assert!((hi - (15.385 + 24.91)).abs() < 0.05, "{hi}");
        assert!(nps_interval(0, 0, 0).is_none());
        // All promoters: the interval stays within 100.
        let (_, _, hi) = nps_interval(5, 5, 0).unwrap();
        assert!(hi <= 100.0);
    }

    #[test]
    fn t_quantiles_and_means() {
        assert!((t95(1.0) - 12.706).abs() < 0.001);
        assert!((t95(9.0) - 2.262).abs() < 0.001);
        assert!((t95(1000.0) - 1.962).abs() < 0.001);
        // 1, 2, 3, 4, 5: mean 3, sd 1.5811, half 2.776 × 0.7071 = 1.963.
        let (m, i) = mean_interval(5, 15, 55).unwrap();
        let (lo, hi) = i.unwrap();
        assert!((m - 3.0).abs() < 1e-12);
        assert!(
            (lo - 1.0368).abs() < 0.001 && (hi - 4.9632).abs() < 0.001,
            "{lo} {hi}"
        );
    }

    #[test]
    fn periods_read_as_ranges() {
        let z = kanta_domain::time::DEFAULT_ZONE;
        let (a, b) = period_range(&z, "2026-10").unwrap();
        assert_eq!(a.to_rfc3339(), "2026-09-30T21:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-10-31T22:00:00+00:00");
        let (a, b) = period_range(&z, "2026-Q1").unwrap();
        assert_eq!(a.to_rfc3339(), "2025-12-31T22:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2026-03-31T21:00:00+00:00");
        assert!(period_range(&z, "2026-Q5").is_none());
        assert!(period_range(&z, "lokakuu").is_none());
        assert_eq!(quarter_of("2026-10"), "2026-Q4");
        assert_eq!(quarter_of("2026-03"), "2026-Q1");
        let today = NaiveDate::from_ymd_opt(2026, 11, 15).unwrap();
        assert_eq!(
            first_month(today, 12, Period::Month),
            NaiveDate::from_ymd_opt(2025, 12, 1).unwrap()
        );
        assert_eq!(
            first_month(today, 12, Period::Quarter),
            NaiveDate::from_ymd_opt(2025, 10, 1).unwrap()
        );
    }
}

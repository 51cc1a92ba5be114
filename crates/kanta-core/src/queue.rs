//! The daily contact queue: whom to contact today, and why. Reasons (overdue cadence,
//! detractor answer, usage drop, trust deficit, escalated or breaching case, stalled
//! onboarding, goal due or at risk, renewal ahead, P(alive) low, health dropped),
//! ordered by value at risk; contacts logged, snoozes and dismissals from a row.
//!
//! **Computing.** [`Core::refresh_queue`] (the daily `health.daily` job, `kanta queue
//! refresh`) and [`Core::refresh_queue_for`] (the `queue.refresh` job that
//! [`after_write`] enqueues in the transaction of every write of cases, interactions,
//! feedback, trust entries, goals and onboarding tasks) read every reason's facts in
//! one grouped pass per table (`kanta_store::queue`), make the reasons here
//! ([`reasons_of`]), and bring the customers' rows of `contact_queue` up to date in one
//! write transaction with one audit entry, writing only the rows that changed (a
//! daily refresh of an unchanged queue writes nothing but its audit entry, so the
//! table does not bloat on PostgreSQL). Thresholds are store settings ([`QueueRules`]).
//!
//! **Renewal.** A renewal worth a call is a contract's: the `renewal` reason is raised
//! by the nearest renewal of a quarterly or yearly subscription that has not ended,
//! within `renewal_days` (default 60). Monthly and weekly subscriptions renew all the
//! time and raise no reason (else nearly every subscriber would be queued).
//!
//! **Usage drop.** Per customer and metric, the last 4 weeks' sum against the 12
//! weeks before: the weekly sums are treated as counts, and given their total, the
//! recent share is binomial with p = 4/16 when the rate did not change (the
//! conditional test of two Poisson rates). Weeks that vary more than a Poisson count
//! would (the baseline's variance over its mean, `φ > 1`) shrink the counts by `φ`
//! (quasi-Poisson), so a customer whose usage swings anyway is not flagged by a
//! swing. A drop is a reason when the one-sided p < 0.01 and the fall is at least
//! `usage_drop_min` % (default 30): a small customer's quiet week is neither.
//!
//! **Detractor.** A detractor's answer of the last [`DETRACTOR_DAYS`] days with no
//! interaction since (NPS up to `detractor_nps_max`, else CSAT up to
//! `detractor_csat_max`) is a reason with the score and what the customer wrote
//! (`text`: the answer's "what should we do better?", else its comment, else "what did
//! we do well?", shortened by [`answer_words`]).
//!
//! **Value at risk** = the newest model run's 12-month CLV × the churn probability
//! (the health score's, else 1 − P(alive), else 0.5).
//!
//! **Actions.** From a row: [`Core::queue_contacted`] logs the contact as an
//! interaction through the one write path (proactive, purpose `check_in` unless given,
//! the user's staff row), with a `queue_actions` row and the audit entries in the same
//! transaction; [`Core::queue_snooze`] keeps the customer out until a date;
//! [`Core::queue_dismiss`] (reason required) keeps them out while no reason appears
//! that was not dismissed, for at most [`DISMISS_DAYS`]. A contact covers the reasons
//! it answered the same way for [`CONTACT_COVERS_DAYS`] (cadence and detractor
//! reasons end with it anyway). Each takes the row out of the queue at once.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kanta_domain::schema::{
    CUSTOMERS, INTERACTION_KINDS, INTERACTION_PURPOSES, INTERACTIONS, OUTCOMES,
};
use kanta_domain::{Value, WriteBatch};
use kanta_store::accounts::Role;
use kanta_store::jobs::{Job, NewJob};
use kanta_store::queue::{
    FactsQuery, NewQueueAction, PendingMark, QueueFacts, QueueQuery, QueueRow,
};
use kanta_store::write::RunInfo;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::access::require;
use crate::actor::Actor;
use crate::jobs::Outcome;
use crate::settings::StoreSettings;
use crate::write::{WriteTx, check_refs, missing_ref_problems};
use crate::{Acting, Core, CoreError, Problem, Result};

/// The job that recomputes the queue rows of customers (payload `{"pending": true}`:
/// those marked in `queue_pending`; `{"all": true}`: every customer).
pub const REFRESH_JOB: &str = "queue.refresh";
/// Every reason's key, in the order a row lists them.
pub const REASON_KEYS: [&str; 10] = [
    "case",
    "detractor",
    "usage_drop",
    "trust_deficit",
    "onboarding_stalled",
    "goal",
    "renewal",
    "health_drop",
    "p_alive",
    "cadence",
];
/// A write touching more customers than this enqueues a refresh of the whole queue.
pub const FULL_REFRESH_OVER: usize = 5_000;
/// A write's refresh job waits this long, and the customers marked by the writes of
/// that time wait for it, so a stream of small writes pays one refresh per window
/// rather than one per write.
pub const REFRESH_WINDOW: Duration = Duration::seconds(2);
/// How long a dismissal keeps a customer out at most.
pub const DISMISS_DAYS: i64 = 90;
/// How long a logged contact covers the reasons it answered.
pub const CONTACT_COVERS_DAYS: i64 = 30;
/// Goals on track due within this many days are a reason.
pub const GOAL_DAYS: i64 = 14;
/// Detractor answers of this many days are a reason.
pub const DETRACTOR_DAYS: i64 = 30;
/// The usage test's level: one-sided p below this.
pub const USAGE_P: f64 = 0.01;
/// Weeks of recent usage and of the baseline before them.
pub const RECENT_WEEKS: f64 = 4.0;
pub const BASELINE_WEEKS: f64 = 12.0;
/// At most this many reasons of one key per row (cases, goals, metrics).
const PER_KEY: usize = 3;
/// The most characters of a detractor's own words a reason quotes.
pub const ANSWER_CHARS: usize = 80;

/// A customer's words for a reason: on one line, at most [`ANSWER_CHARS`] characters,
/// cut after a whole word (mid-word only when the first word alone is longer) with
/// "…".
pub fn answer_words(text: &str) -> String {
    let one = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= ANSWER_CHARS {
        return one;
    }
    // The room for the words, leaving one character for the ellipsis.
    let room = ANSWER_CHARS - 1;
    let end = one.char_indices().nth(room).map_or(one.len(), |(at, _)| at);
    let head = &one[..end];
    // Cut at the last space when the cut falls inside a word.
    let cut = if one[end..].starts_with(' ') {
        head
    } else {
        match head.rfind(' ') {
            Some(sp) if sp > 0 => &head[..sp],
            _ => head,
        }
    };
    format!("{}…", cut.trim_end_matches([' ', ',', '.', ';', ':', '-']))
}

/// The store settings of the queue with their defaults, as typed.
pub const SETTINGS: [(&str, &str); 9] = [
    ("cadence_a", "30"),
    ("cadence_b", "60"),
    ("cadence_c", "120"),
    ("cadence_d", "none"),
    ("p_alive_floor", "0.3"),
    ("health_drop_points", "15"),
    ("onboarding_stall_days", "7"),
    ("renewal_days", "60"),
    ("usage_drop_min", "30"),
];

/// A queue setting's default (as the settings page shows it), if `key` is one.
pub fn default_setting(key: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// `cadence_<tier>`: days (1 to 3650) or `none` (`ei`, `-`, `0`): no cadence.
pub fn parse_cadence(s: &str) -> std::result::Result<String, String> {
    let t = s.trim().to_lowercase();
    if matches!(
        t.as_str(),
        "none" | "ei" | "ei mitään" | "-" | "0" | "never" | "ei koskaan"
    ) {
        return Ok("none".into());
    }
    let n = t
        .split_whitespace()
        .next()
        .and_then(|w| w.parse::<i64>().ok());
    match n {
        Some(n) if (1..=3650).contains(&n) => Ok(n.to_string()),
        _ => Err(format!(
            "'{}' is not a number of days from 1 to 3650, or none (ei)",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// `p_alive_floor`: a probability from 0 to 1 (`0.3`, `0,3`, `30 %`).
pub fn parse_p_alive_floor(s: &str) -> std::result::Result<String, String> {
    let t = s.trim().replace(',', ".");
    let (t, pct) = match t.strip_suffix('%') {
        Some(x) => (x.trim().to_string(), true),
        None => (t, false),
    };
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => {
            let v = if pct { v / 100.0 } else { v };
            if (0.0..=1.0).contains(&v) {
                Ok(format!("{}", (v * 1000.0).round() / 1000.0))
            } else {
                Err(format!(
                    "{} is not a probability: give one from 0 to 1 such as 0,3 (default 0.3)",
                    s.trim()
                ))
            }
        }
        _ => Err(format!(
            "'{}' is not a probability like 0,3 (default 0.3)",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// A whole number from `lo` to `hi` typed for a setting (a `%` after it is allowed),
/// or the reason it is not, naming `what` and the `default`.
pub(crate) fn whole_in(
    s: &str,
    lo: i64,
    hi: i64,
    what: &str,
    default: &str,
) -> std::result::Result<String, String> {
    let t = s.trim().trim_end_matches('%').trim();
    let first = t.split_whitespace().next().unwrap_or("");
    match first.parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n.to_string()),
        _ => Err(format!(
            "'{}' is not {what}: a whole number from {lo} to {hi} (default {default})",
            kanta_domain::value::excerpt(s.trim())
        )),
    }
}

/// `health_drop_points`: 1 to 100 points.
pub fn parse_health_drop_points(s: &str) -> std::result::Result<String, String> {
    whole_in(s, 1, 100, "a number of points", "15")
}

/// `onboarding_stall_days`: 0 to 365 days.
pub fn parse_stall_days(s: &str) -> std::result::Result<String, String> {
    whole_in(s, 0, 365, "a number of days", "7")
}

/// `renewal_days`: 0 to 365 days.
pub fn parse_renewal_days(s: &str) -> std::result::Result<String, String> {
    whole_in(s, 0, 365, "a number of days", "60")
}

/// `usage_drop_min`: 1 to 100 (%).
pub fn parse_usage_drop_min(s: &str) -> std::result::Result<String, String> {
    whole_in(s, 1, 100, "a percentage", "30")
}

/// The queue's thresholds in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueRules {
    /// Days between proactive contacts per tier A, B, C, D (`None`: no cadence).
    pub cadence: [Option<i64>; 4],
    pub p_alive_floor: f64,
    pub health_drop_points: i64,
    pub stall_days: i64,
    pub renewal_days: i64,
    /// The least drop in usage that counts, in % (30).
    pub usage_drop_min: f64,
    /// Hours before an SLA target that count as due soon.
    pub sla_warn_hours: f64,
}

impl Default for QueueRules {
    fn default() -> Self {
        QueueRules::from_settings_map(|_| None, crate::cases::DEFAULT_WARN_HOURS)
    }
}

impl QueueRules {
    fn from_settings_map(get: impl Fn(&str) -> Option<String>, warn: f64) -> QueueRules {
        let value = |k: &str| get(k).unwrap_or_else(|| default_setting(k).unwrap_or("").into());
        let cadence = |k: &str| value(k).parse::<i64>().ok().filter(|d| *d > 0);
        let num = |k: &str| value(k).parse::<f64>().ok();
        QueueRules {
            cadence: [
                cadence("cadence_a"),
                cadence("cadence_b"),
                cadence("cadence_c"),
                cadence("cadence_d"),
            ],
            p_alive_floor: num("p_alive_floor").unwrap_or(0.3),
            health_drop_points: num("health_drop_points").map_or(15, |v| v as i64),
            stall_days: num("onboarding_stall_days").map_or(7, |v| v as i64),
            renewal_days: num("renewal_days").map_or(60, |v| v as i64),
            usage_drop_min: num("usage_drop_min").unwrap_or(30.0),
            sla_warn_hours: warn,
        }
    }

    /// The rules the store's settings give (a stored value that does not read falls
    /// back to its default).
    pub fn from_settings(s: &StoreSettings) -> QueueRules {
        let warn = crate::cases::SlaRules::from_settings(s).warn_hours;
        QueueRules::from_settings_map(
            |k| {
                s.value(k).and_then(|v| {
                    let parsed = match k {
                        "cadence_a" | "cadence_b" | "cadence_c" | "cadence_d" => parse_cadence(v),
                        "p_alive_floor" => parse_p_alive_floor(v),
                        _ => whole_in(v, 0, 100_000, "", ""),
                    };
                    parsed.ok()
                })
            },
            warn,
        )
    }

    /// The cadence of a tier (a customer without one is C's).
    pub fn cadence_of(&self, tier: Option<&str>) -> Option<i64> {
        match tier {
            Some("A") => self.cadence[0],
            Some("B") => self.cadence[1],
            Some("D") => self.cadence[3],
            _ => self.cadence[2],
        }
    }
}

/// One reason a customer is in the queue: its key and what a sentence needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub key: String,
    #[serde(default)]
    pub args: Map<String, Json>,
}

impl Reason {
    fn new(key: &str, args: Json) -> Reason {
        Reason {
            key: key.to_string(),
            args: match args {
                Json::Object(m) => m,
                _ => Map::new(),
            },
        }
    }

    /// An argument as text (numbers as written).
    pub fn arg(&self, name: &str) -> String {
        match self.args.get(name) {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }
}

/// A usage test's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsageTest {
    /// The fall of the weekly mean, in % (negative: a rise).
    pub drop_pct: f64,
    /// One-sided p of a fall this large or larger when the rate did not change.
    pub p: f64,
    pub recent_per_week: f64,
    pub baseline_per_week: f64,
}

/// The rate test of a metric's recent weeks against its baseline (see the module
/// documentation). `None` without a baseline.
pub fn usage_test(recent: f64, baseline: f64, baseline_sq: f64) -> Option<UsageTest> {
    if baseline.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        || !recent.is_finite()
        || recent < 0.0
    {
        return None;
    }
    let rw = recent / RECENT_WEEKS;
    let bw = baseline / BASELINE_WEEKS;
    let drop_pct = 100.0 * (1.0 - rw / bw);
    // Dispersion of the baseline's weekly sums against a Poisson count's.
    let var = ((baseline_sq - BASELINE_WEEKS * bw * bw) / (BASELINE_WEEKS - 1.0)).max(0.0);
    let phi = if bw > 0.0 { (var / bw).max(1.0) } else { 1.0 };
    let k = recent / phi;
    let n = (recent + baseline) / phi;
    let p0 = RECENT_WEEKS / (RECENT_WEEKS + BASELINE_WEEKS);
    Some(UsageTest {
        drop_pct,
        p: binomial_cdf(k, n, p0),
        recent_per_week: rw,
        baseline_per_week: bw,
    })
}

/// P(X ≤ k) for X ~ Binomial(n, p), continued to real k and n through the regularized
/// incomplete beta function: I_{1-p}(n - k, k + 1).
pub fn binomial_cdf(k: f64, n: f64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    if k < 0.0 {
        return 0.0;
    }
    inc_beta(n - k, k + 1.0, 1.0 - p)
}

/// The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = kanta_models::special::ln_gamma(a + b)
        - kanta_models::special::ln_gamma(a)
        - kanta_models::special::ln_gamma(b)
        + a * x.ln()
        + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() * beta_cf(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// One customer's reasons as of a day, in [`REASON_KEYS`] order.
pub fn reasons_of(
    f: &QueueFacts,
    rules: &QueueRules,
    as_of: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<Reason> {
    let mut out = Vec::new();
    for c in f.cases.iter().take(PER_KEY) {
        let state = if c.escalation {
            "escalation"
        } else if c.due_at.is_some_and(|d| d <= now) {
            "breached"
        } else {
            "due_soon"
        };
        out.push(Reason::new(
            "case",
            json!({ "case_id": c.id, "case": c.id, "breached": state == "breached",
                    "category": c.category, "state": state,
                    "due_at": c.due_at.map(|t| t.to_rfc3339()) }),
        ));
    }
    if let Some(d) = &f.detractor {
        let mut r = Reason::new(
            "detractor",
            json!({ "nps": d.nps, "csat": d.csat, "answered_on": ymd(d.answered_on),
                    "days_ago": (as_of - d.answered_on).num_days() }),
        );
        if let Some(t) = d
            .text
            .as_deref()
            .map(answer_words)
            .filter(|t| !t.is_empty())
        {
            r.args.insert("text".into(), Json::String(t));
        }
        out.push(r);
    }
    let mut drops: Vec<(f64, &str, UsageTest)> = f
        .usage
        .iter()
        .filter_map(|u| {
            let t = usage_test(u.recent, u.baseline, u.baseline_sq)?;
            (t.p < USAGE_P && t.drop_pct >= rules.usage_drop_min).then_some((
                t.drop_pct,
                u.metric.as_str(),
                t,
            ))
        })
        .collect();
    drops.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    // "Let lapse": the cadence and the proactive reminders (usage, renewal, health,
    // P(alive)) stop; what the customer raised themselves (cases, answers) stays.
    let lapse = f.let_lapse;
    if lapse {
        drops.clear();
    }
    for (_, metric, t) in drops.into_iter().take(PER_KEY) {
        out.push(Reason::new(
            "usage_drop",
            json!({ "metric": metric, "drop_pct": t.drop_pct.round() as i64,
                    "recent_per_week": (t.recent_per_week * 10.0).round() / 10.0,
                    "baseline_per_week": (t.baseline_per_week * 10.0).round() / 10.0,
                    "weeks": BASELINE_WEEKS as i64, "p": t.p }),
        ));
    }
    if let Some(b) = f.trust_deficit {
        out.push(Reason::new("trust_deficit", json!({ "balance": b })));
    }
    if let Some(t) = f.stalled.first() {
        out.push(Reason::new(
            "onboarding_stalled",
            json!({ "step": t.title, "due_on": ymd(t.due_on),
                    "days_late": (as_of - t.due_on).num_days(),
                    "days_overdue": (as_of - t.due_on).num_days(), "tasks": f.stalled.len() }),
        ));
    }
    for g in f.goals.iter().take(PER_KEY) {
        out.push(Reason::new(
            "goal",
            json!({ "goal_id": g.id, "title": g.title, "status": g.status,
                    "due_on": g.due_on.map(ymd), "due": g.due_on.map(ymd),
                    "days_left": g.due_on.map(|d| (d - as_of).num_days()) }),
        ));
    }
    if let Some(r) = f.next_renewal_on.filter(|_| !lapse) {
        let days = (r - as_of).num_days();
        if (0..=rules.renewal_days).contains(&days) {
            out.push(Reason::new(
                "renewal",
                json!({ "renews_on": ymd(r), "date": ymd(r), "days": days }),
            ));
        }
    }
    if let Some(c) = f.health_change_30
        && !lapse
        && c <= -rules.health_drop_points
    {
        out.push(Reason::new("health_drop", json!({ "points": -c })));
    }
    if let (Some(p), Some(n)) = (f.p_alive, f.repeat_purchases)
        && n > 0
        && !lapse
        && p < rules.p_alive_floor
    {
        out.push(Reason::new(
            "p_alive",
            json!({ "p_alive_pct": (p * 100.0).round() as i64, "p_alive": p,
                    "floor_pct": (rules.p_alive_floor * 100.0).round() as i64 }),
        ));
    }
    if let Some(days) = rules.cadence_of(f.tier.as_deref()).filter(|_| !lapse)
        && let Some(last) = f.last_proactive.or(f.began)
    {
        let since = (as_of - last).num_days();
        if since > days {
            out.push(Reason::new(
                "cadence",
                json!({ "days_since": since, "cadence_days": days, "days_overdue": since - days,
                        "last_contact": f.last_proactive.map(ymd),
                        "never": f.last_proactive.is_none(), "tier": f.tier }),
            ));
        }
    }
    out
}

/// The reasons' keys, each once, comma-joined.
pub fn keys_of(reasons: &[Reason]) -> String {
    let mut seen = BTreeSet::new();
    reasons
        .iter()
        .filter(|r| seen.insert(r.key.as_str()))
        .map(|r| r.key.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether the customer's recent queue actions keep them out with these reasons.
pub fn held_back(f: &QueueFacts, keys: &str, as_of: NaiveDate) -> bool {
    let now: BTreeSet<&str> = keys.split(',').filter(|k| !k.is_empty()).collect();
    f.actions.iter().any(|a| {
        let covered = || {
            let then: BTreeSet<&str> = a.reason_keys.split(',').filter(|k| !k.is_empty()).collect();
            now.is_subset(&then)
        };
        match a.action.as_str() {
            "snoozed" => a.until_on.is_some_and(|u| as_of < u),
            "dismissed" => (as_of - a.acted_on).num_days() < DISMISS_DAYS && covered(),
            "contacted" => (as_of - a.acted_on).num_days() < CONTACT_COVERS_DAYS && covered(),
            _ => false,
        }
    })
}

/// What a refresh of the queue did: counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct QueueRefresh {
    /// Customers whose reasons were computed.
    pub customers: u64,
    /// Rows in the queue for them afterwards.
    pub queued: u64,
    /// Customers with reasons kept out by a snooze, a dismissal or a recent contact.
    pub held_back: u64,
}

/// Which owner's rows a page shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OwnerFilter {
    /// The signed-in user's customers (their staff row by email).
    Me,
    /// The customers of the staff member with this email.
    Email(String),
    /// Every customer (the team).
    #[default]
    All,
}

impl OwnerFilter {
    /// `me`, `all` (`team`), or an email.
    pub fn parse(s: &str) -> std::result::Result<OwnerFilter, String> {
        let t = s.trim();
        match t.to_lowercase().as_str() {
            "me" | "mine" | "minä" | "omat" => Ok(OwnerFilter::Me),
            "all" | "team" | "kaikki" | "tiimi" | "" => Ok(OwnerFilter::All),
            e if e.contains('@') => Ok(OwnerFilter::Email(e.to_string())),
            _ => Err(format!(
                "'{}' is not me, all or a staff member's email",
                kanta_domain::value::excerpt(t)
            )),
        }
    }
}

/// The queue page's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueFilter {
    pub owner: OwnerFilter,
    /// A reason key ([`REASON_KEYS`]).
    pub reason: Option<String>,
    /// A tier, A-D.
    pub tier: Option<String>,
    /// The cursor of the page after the last one.
    pub cursor: Option<String>,
    /// Rows per page (1-500; 0: 50).
    pub limit: u32,
}

/// One row of the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueEntry {
    /// The customer's external id.
    pub customer_id: String,
    pub name: Option<String>,
    pub segment: Option<String>,
    pub tier: Option<String>,
    /// The owner's external staff id and name.
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub value_at_risk_minor: i64,
    pub currency: String,
    pub churn_probability: f64,
    pub health_score: Option<i64>,
    pub reasons: Vec<Reason>,
    pub computed_at: DateTime<Utc>,
}

/// A page of the queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueuePage {
    pub items: Vec<QueueEntry>,
    /// The cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
    /// Rows matching the filters, on all pages.
    pub total: i64,
    /// Rows in the whole queue (the team's).
    pub queue_total: i64,
    /// The owner filter's staff member (external id), when it names one.
    pub owner_staff: Option<String>,
    /// "Mine" was asked and the user has no staff row: they own nobody.
    pub no_staff_row: bool,
    /// When the whole queue was last computed.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// A contact logged from the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInput {
    /// call, meeting, email, visit, chat, note, other.
    pub kind: String,
    /// positive, neutral, negative.
    pub outcome: Option<String>,
    /// check_in (default), service, sales, renewal, onboarding, other.
    pub purpose: Option<String>,
    pub note: Option<String>,
    /// When (default now).
    pub at: Option<DateTime<Utc>>,
}

/// What an action from the queue did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueActionDone {
    pub customer_id: String,
    pub action: String,
    /// The interaction logged (its id), for a contact.
    pub interaction_id: Option<String>,
    pub until: Option<NaiveDate>,
    /// The reasons' keys the action answered.
    pub reason_keys: String,
}

/// A customer's place in the queue, for their page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerQueue {
    /// Their row, when they are in the queue.
    pub entry: Option<QueueEntry>,
    /// The newest action taken from the queue for them: `(action, until, day)`.
    pub last_action: Option<(String, Option<NaiveDate>, NaiveDate)>,
}

fn to_entry(i: kanta_store::queue::QueueItem, currency: &str) -> QueueEntry {
    QueueEntry {
        customer_id: i.customer_id,
        name: i.name,
        segment: i.segment,
        tier: i.tier,
        owner_id: i.owner_id,
        owner_name: i.owner_name,
        value_at_risk_minor: i.value_at_risk_minor,
        currency: i.currency.unwrap_or_else(|| currency.to_string()),
        churn_probability: i.churn_probability,
        health_score: i.health_score,
        reasons: serde_json::from_value(i.reasons).unwrap_or_default(),
        computed_at: i.computed_at,
    }
}

fn parse_cursor(s: &str) -> Option<(i64, i64)> {
    let (v, id) = s.trim().split_once('.')?;
    Some((v.parse().ok()?, id.parse().ok()?))
}

impl Core {
    /// The queue's thresholds in force.
    pub async fn queue_rules(&self) -> Result<QueueRules> {
        Ok(QueueRules::from_settings(&self.store_settings().await?))
    }

    /// Recomputes every customer's queue row as of a day (staff and above; jobs and
    /// the command line), in one write transaction with one audit entry.
    pub async fn refresh_queue(&self, acting: &Acting, as_of: NaiveDate) -> Result<QueueRefresh> {
        self.refresh_queue_keys(acting, as_of, None).await
    }

    /// Recomputes the queue rows of these customers (external ids) as of a day.
    pub async fn refresh_queue_for(
        &self,
        acting: &Acting,
        as_of: NaiveDate,
        customers: &[String],
    ) -> Result<QueueRefresh> {
        let keys: Vec<i64> = self
            .store
            .customer_keys(customers)
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        self.refresh_queue_keys(acting, as_of, Some(keys)).await
    }

    /// Recomputes the rows of `keys` (internal ids; `None`: every customer).
    pub async fn refresh_queue_keys(
        &self,
        acting: &Acting,
        as_of: NaiveDate,
        keys: Option<Vec<i64>>,
    ) -> Result<QueueRefresh> {
        self.refresh_queue_marked(acting, as_of, keys, &[]).await
    }

    /// As [`Core::refresh_queue_keys`], and deletes these marks of `queue_pending` in
    /// the same write (read before the facts, so a customer marked again meanwhile
    /// keeps the newer mark); when marks are left, a `queue.refresh` job is waiting
    /// for them afterwards.
    async fn refresh_queue_marked(
        &self,
        acting: &Acting,
        as_of: NaiveDate,
        keys: Option<Vec<i64>>,
        marks: &[PendingMark],
    ) -> Result<QueueRefresh> {
        require(acting, Role::Staff)?;
        let rules = self.queue_rules().await?;
        let answers =
            crate::feedback_settings::FeedbackRules::from_settings(&self.store_settings().await?);
        let currency = self.currency().await?.to_string();
        let read_at = Utc::now();
        let today = self.today().await?;
        let now = if as_of >= today {
            read_at
        } else {
            kanta_store::queue::cut_of(as_of)
        };
        let facts = self
            .store
            .queue_facts(&FactsQuery {
                as_of,
                now,
                sla_warn_minutes: (rules.sla_warn_hours * 60.0).round() as i64,
                stall_days: rules.stall_days,
                goal_days: GOAL_DAYS,
                detractor_days: DETRACTOR_DAYS,
                detractor_nps_max: answers.detractor_nps_max,
                detractor_csat_max: answers.detractor_csat_max,
                action_days: DISMISS_DAYS.max(CONTACT_COVERS_DAYS),
                customers: keys.clone(),
            })
            .await?;
        let run_currency = facts.run_currency.clone().unwrap_or(currency);
        let mut rows = Vec::new();
        let mut held = 0;
        for f in &facts.customers {
            let reasons = reasons_of(f, &rules, as_of, now);
            if reasons.is_empty() {
                continue;
            }
            let keys = keys_of(&reasons);
            if held_back(f, &keys, as_of) {
                held += 1;
                continue;
            }
            let churn = f
                .health_probability
                .or(f.p_alive.map(|p| 1.0 - p))
                .unwrap_or(0.5)
                .clamp(0.0, 1.0);
            let clv = f.clv_12_minor.unwrap_or(0).max(0) as f64;
            rows.push(QueueRow {
                customer_id: f.id,
                owner_id: f.owner_id,
                tier: f.tier.clone(),
                value_at_risk_minor: (clv * churn).round() as i64,
                currency: Some(run_currency.clone()),
                churn_probability: churn,
                reasons: serde_json::to_value(&reasons).unwrap_or(Json::Null),
                reason_keys: keys,
            });
        }
        let mut tx = self.begin_write(acting, &CUSTOMERS, Vec::new()).await?;
        let written = tx
            .writer_mut()
            .replace_queue(keys.as_deref(), &rows, read_at)
            .await?;
        if !marks.is_empty() && tx.writer_mut().clear_queue_pending(marks).await? {
            tx.writer_mut()
                .enqueue_unless_queued(&pending_job(Utc::now()))
                .await?;
        }
        let mut entry = acting.audit("contact_queue", None, "refresh");
        entry.details = json!({
            "as_of": ymd(as_of),
            "scope": if keys.is_some() { "customers" } else { "all" },
            "customers": facts.customers.len(),
            "queued": written.queued,
            "changed": written.changed,
            "removed": written.removed,
            "held_back": held,
        });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok(QueueRefresh {
            customers: facts.customers.len() as u64,
            queued: written.queued,
            held_back: held,
        })
    }

    /// The staff row (external id) of the acting user, by email.
    async fn acting_staff(&self, acting: &Acting) -> Result<Option<String>> {
        match &acting.actor {
            Actor::User { email, .. } => Ok(self.store.staff_for_email(email).await?),
            _ => Ok(None),
        }
    }

    /// A page of the queue, ordered by value at risk (any signed-in role).
    pub async fn queue_page(&self, acting: &Acting, f: &QueueFilter) -> Result<QueuePage> {
        require(acting, Role::Viewer)?;
        let mut problems = Vec::new();
        if let Some(r) = &f.reason
            && !REASON_KEYS.contains(&r.as_str())
        {
            problems.push(Problem::new(
                "reason",
                format!(
                    "'{}' is not a reason; the reasons are {}",
                    kanta_domain::value::excerpt(r),
                    REASON_KEYS.join(", ")
                ),
            ));
        }
        let tier = f.tier.as_ref().map(|t| t.trim().to_uppercase());
        if let Some(t) = &tier
            && !kanta_domain::schema::TIERS.contains(&t.as_str())
        {
            problems.push(Problem::new(
                "tier",
                format!(
                    "'{}' is not a tier: A, B, C or D",
                    kanta_domain::value::excerpt(t)
                ),
            ));
        }
        let after = match &f.cursor {
            Some(c) if !c.trim().is_empty() => match parse_cursor(c) {
                Some(a) => Some(a),
                None => {
                    problems.push(Problem::new("cursor", "not a cursor this list gave"));
                    None
                }
            },
            _ => None,
        };
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let mut no_staff_row = false;
        let owner_staff = match &f.owner {
            OwnerFilter::All => None,
            OwnerFilter::Me => {
                let s = self.acting_staff(acting).await?;
                no_staff_row = s.is_none();
                s
            }
            OwnerFilter::Email(e) => {
                Some(self.store.staff_for_email(e).await?.ok_or_else(|| {
                    CoreError::invalid(
                        "owner",
                        format!(
                            "no active staff member has the email '{}'",
                            kanta_domain::value::excerpt(e)
                        ),
                    )
                })?)
            }
        };
        let owner_id = match (&f.owner, &owner_staff) {
            (OwnerFilter::All, _) => None,
            (_, Some(s)) => Some(self.store.queue_staff_key(s).await?.unwrap_or(-1)),
            (_, None) => Some(-1),
        };
        let limit = if f.limit == 0 { 50 } else { f.limit.min(500) };
        let page = self
            .store
            .queue_page(&QueueQuery {
                owner_id,
                reason: f.reason.clone(),
                tier,
                after,
                limit,
            })
            .await?;
        let currency = self.currency().await?.to_string();
        let next_cursor = if page.more {
            page.items
                .last()
                .map(|i| format!("{}.{}", i.value_at_risk_minor, i.key))
        } else {
            None
        };
        Ok(QueuePage {
            items: page
                .items
                .into_iter()
                .map(|i| to_entry(i, &currency))
                .collect(),
            next_cursor,
            total: page.total,
            queue_total: page.queue_total,
            owner_staff,
            no_staff_row,
            refreshed_at: page.refreshed_at,
        })
    }

    /// Whether the acting user owns any customer (the page's default filter).
    pub async fn owns_customers(&self, acting: &Acting) -> Result<bool> {
        let Some(s) = self.acting_staff(acting).await? else {
            return Ok(false);
        };
        let Some(k) = self.store.queue_staff_key(&s).await? else {
            return Ok(false);
        };
        Ok(self.store.owns_any_customer(k).await?)
    }

    /// One customer's reasons in the queue (empty when not in it) and the newest
    /// action taken for them.
    pub async fn customer_queue_reasons(
        &self,
        acting: &Acting,
        customer: &str,
    ) -> Result<CustomerQueue> {
        require(acting, Role::Viewer)?;
        let currency = self.currency().await?.to_string();
        let entry = self
            .store
            .queue_item(customer)
            .await?
            .map(|i| to_entry(i, &currency));
        let last_action = self
            .store
            .queue_actions_of(customer)
            .await?
            .into_iter()
            .next()
            .map(|a| (a.action, a.until_on, a.acted_on));
        Ok(CustomerQueue { entry, last_action })
    }

    /// The customer's internal id and their reasons' keys now (empty when not in the
    /// queue); `NotFound` for no such customer.
    async fn queue_target(&self, customer: &str) -> Result<(i64, String)> {
        let key = self
            .store
            .customer_keys(&[customer.to_string()])
            .await?
            .into_iter()
            .next()
            .map(|(_, k)| k)
            .ok_or_else(|| CoreError::NotFound(format!("no customer with id '{customer}'")))?;
        let keys = self
            .store
            .queue_item(customer)
            .await?
            .map(|i| i.reason_keys)
            .unwrap_or_default();
        Ok((key, keys))
    }

    /// Logs a contact with the customer from the queue (staff and above): an
    /// interaction through the one write path (proactive, `check_in` unless another
    /// purpose is given, the user's staff row), the queue action and the audit entries
    /// in one transaction; the customer leaves the queue at once.
    pub async fn queue_contacted(
        &self,
        acting: &Acting,
        customer: &str,
        input: ContactInput,
    ) -> Result<QueueActionDone> {
        require(acting, Role::Staff)?;
        let mut problems = Vec::new();
        let kind = input.kind.trim().to_lowercase();
        if !INTERACTION_KINDS.contains(&kind.as_str()) {
            problems.push(Problem::new(
                "kind",
                if kind.is_empty() {
                    format!("required: one of {}", INTERACTION_KINDS.join(", "))
                } else {
                    format!(
                        "'{}' is not one of {}",
                        kanta_domain::value::excerpt(&kind),
                        INTERACTION_KINDS.join(", ")
                    )
                },
            ));
        }
        let outcome = input
            .outcome
            .as_deref()
            .map(|o| o.trim().to_lowercase())
            .filter(|o| !o.is_empty());
        if let Some(o) = &outcome
            && !OUTCOMES.contains(&o.as_str())
        {
            problems.push(Problem::new(
                "outcome",
                format!(
                    "'{}' is not one of {}",
                    kanta_domain::value::excerpt(o),
                    OUTCOMES.join(", ")
                ),
            ));
        }
        let purpose = input
            .purpose
            .as_deref()
            .map(|o| o.trim().to_lowercase())
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "check_in".into());
        if !INTERACTION_PURPOSES.contains(&purpose.as_str()) {
            problems.push(Problem::new(
                "purpose",
                format!(
                    "'{}' is not one of {}",
                    kanta_domain::value::excerpt(&purpose),
                    INTERACTION_PURPOSES.join(", ")
                ),
            ));
        }
        let note = input
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        if note.as_ref().is_some_and(|n| n.chars().count() > 10_000) {
            problems.push(Problem::new("note", "too long: at most 10,000 characters"));
        }
        let at = input.at.unwrap_or_else(Utc::now);
        if at > Utc::now() + self.max_future {
            problems.push(Problem::new(
                "at",
                "in the future: a contact logged has happened",
            ));
        }
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let (key, reason_keys) = self.queue_target(customer).await?;
        let staff = self
            .acting_staff(acting)
            .await?
            .map_or(Value::Null, Value::Text);
        let given: Vec<(&'static str, Value)> = vec![
            ("kind", Value::Text(kind.clone())),
            ("direction", Value::Text("outbound".into())),
            ("outcome", outcome.clone().map_or(Value::Null, Value::Text)),
            ("proactive", Value::Bool(true)),
            ("purpose", Value::Text(purpose.clone())),
            ("note", note.clone().map_or(Value::Null, Value::Text)),
        ];
        let values =
            crate::customer_records::record_values(&INTERACTIONS, customer, at, staff, &given);
        let id = crate::customer_records::derived_id(
            &INTERACTIONS,
            customer,
            &at,
            &given.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>(),
        );
        let fields: Vec<_> = INTERACTIONS.fields.iter().collect();
        let mut changes = Map::new();
        for (f, v) in fields.iter().zip(&values) {
            if !v.is_null() {
                changes.insert(f.name.into(), crate::write::change(&Value::Null, v));
            }
        }
        let mut tx = self
            .begin_write(acting, &INTERACTIONS, fields.clone())
            .await?;
        let mut batch = WriteBatch::new(&INTERACTIONS, fields);
        batch.push(id.clone(), values);
        let missing = check_refs(&mut tx, &mut batch, false, &Default::default()).await?;
        if !missing.is_empty() {
            let mut p = missing_ref_problems(&batch, &missing);
            for x in &mut p {
                x.index = None;
            }
            return Err(CoreError::Invalid(p));
        }
        tx.write(batch).await?;
        tx.writer_mut()
            .insert_queue_action(&NewQueueAction {
                customer_id: key,
                action: "contacted".into(),
                until_on: None,
                reason: note.clone(),
                reason_keys: reason_keys.clone(),
                interaction: Some(id.clone()),
                user_id: acting.user_id(),
                at: Utc::now(),
            })
            .await?;
        let mut created = acting.audit(INTERACTIONS.name, Some(&id), "create");
        created.changes = Json::Object(changes);
        let mut entry = acting.audit("contact_queue", Some(customer), "contacted");
        entry.details = json!({ "interaction_id": id, "kind": kind, "outcome": outcome,
                                "purpose": purpose, "reason_keys": reason_keys });
        tx.finish(
            &crate::write::run_info(acting.channel.as_str(), 1),
            vec![created, entry],
        )
        .await?;
        Ok(QueueActionDone {
            customer_id: customer.to_string(),
            action: "contacted".into(),
            interaction_id: Some(id),
            until: None,
            reason_keys,
        })
    }

    /// Keeps a customer out of the queue until a day (staff and above; the day must
    /// be after today and within a year), audited.
    pub async fn queue_snooze(
        &self,
        acting: &Acting,
        customer: &str,
        until: NaiveDate,
        reason: Option<&str>,
    ) -> Result<QueueActionDone> {
        require(acting, Role::Staff)?;
        let today = self.today().await?;
        if until <= today {
            return Err(CoreError::invalid(
                "until",
                "a snooze ends on a day after today",
            ));
        }
        if until > today + Duration::days(366) {
            return Err(CoreError::invalid("until", "at most a year ahead"));
        }
        let reason = reason
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        self.queue_hold(acting, customer, "snoozed", Some(until), reason)
            .await
    }

    /// Dismisses a customer's reasons (staff and above; a reason is required): out of
    /// the queue while no other reason appears, for at most [`DISMISS_DAYS`], audited.
    pub async fn queue_dismiss(
        &self,
        acting: &Acting,
        customer: &str,
        reason: &str,
    ) -> Result<QueueActionDone> {
        require(acting, Role::Staff)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(CoreError::invalid(
                "reason",
                "required: say why the customer needs no contact",
            ));
        }
        if reason.chars().count() > 1000 {
            return Err(CoreError::invalid(
                "reason",
                "too long: at most 1,000 characters",
            ));
        }
        self.queue_hold(
            acting,
            customer,
            "dismissed",
            None,
            Some(reason.to_string()),
        )
        .await
    }

    async fn queue_hold(
        &self,
        acting: &Acting,
        customer: &str,
        action: &str,
        until: Option<NaiveDate>,
        reason: Option<String>,
    ) -> Result<QueueActionDone> {
        let (key, reason_keys) = self.queue_target(customer).await?;
        let mut tx = self.begin_write(acting, &CUSTOMERS, Vec::new()).await?;
        tx.writer_mut()
            .insert_queue_action(&NewQueueAction {
                customer_id: key,
                action: action.into(),
                until_on: until,
                reason: reason.clone(),
                reason_keys: reason_keys.clone(),
                interaction: None,
                user_id: acting.user_id(),
                at: Utc::now(),
            })
            .await?;
        let mut entry = acting.audit("contact_queue", Some(customer), action);
        entry.details =
            json!({ "until": until.map(ymd), "reason": reason, "reason_keys": reason_keys });
        tx.finish(&RunInfo::default(), vec![entry]).await?;
        Ok(QueueActionDone {
            customer_id: customer.to_string(),
            action: action.into(),
            interaction_id: None,
            until,
            reason_keys,
        })
    }
}

/// Runs in the transaction of every write of the entities that raise a reason
/// (feedback, cases, trust, interactions, goals, onboarding tasks): the customers
/// touched are marked in `queue_pending` in the same transaction, and a
/// `queue.refresh` job is enqueued unless one is waiting already, so a detractor's
/// answer reaches the queue without waiting for the daily run. The job waits
/// [`REFRESH_WINDOW`], and recomputes every customer marked by then: a stream of
/// small writes pays one refresh per window rather than one per write. A big write
/// (over [`FULL_REFRESH_OVER`] records) enqueues a refresh of the whole queue instead,
/// at most one per 10 minutes.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    if ids.len() <= FULL_REFRESH_OVER {
        let table = tx.entity().table;
        tx.writer_mut()
            .mark_queue_pending(table, ids, &pending_job(now))
            .await?;
        return Ok(());
    }
    let all = NewJob {
        kind: REFRESH_JOB.into(),
        payload: json!({ "all": true }),
        unique_key: Some(format!("all:{}", now.timestamp().div_euclid(600))),
        run_at: now,
        max_attempts: 5,
    };
    tx.writer_mut().enqueue(&all).await?;
    Ok(())
}

/// The job that recomputes the customers marked in `queue_pending`, after
/// [`REFRESH_WINDOW`].
fn pending_job(now: DateTime<Utc>) -> NewJob {
    NewJob {
        kind: REFRESH_JOB.into(),
        payload: json!({ "pending": true }),
        unique_key: None,
        run_at: now + REFRESH_WINDOW,
        max_attempts: 5,
    }
}

/// The `queue.refresh` job: the customers marked in `queue_pending` (payload
/// `{"pending": true}`; all of them when more than [`FULL_REFRESH_OVER`]), or every
/// customer (`{"all": true}`), as of today; the marks it read are deleted in its
/// write. A job of an earlier version naming its customers (`{"customers": [ids]}`)
/// refreshes them and the marked ones.
pub async fn run_refresh_job(core: &Core, job: &Job) -> Outcome {
    let acting = Acting::job(REFRESH_JOB);
    let today = match core.today().await {
        Ok(d) => d,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let marks = match core.store.queue_pending_marks().await {
        Ok(m) => m,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let all = job.payload.get("all").and_then(Json::as_bool) == Some(true);
    let named = job.payload.get("customers").and_then(Json::as_array);
    if !all && named.is_none() && job.payload.get("pending").is_none() {
        return Outcome::Fail("the job names no customers".into());
    }
    let mut keys: BTreeSet<i64> = marks.iter().map(|m| m.customer_id).collect();
    keys.extend(named.into_iter().flatten().filter_map(Json::as_i64));
    let keys = if all || keys.len() > FULL_REFRESH_OVER {
        None
    } else if keys.is_empty() {
        // Another job recomputed them first.
        return Outcome::Done;
    } else {
        Some(keys.into_iter().collect())
    };
    match core
        .refresh_queue_marked(&acting, today, keys, &marks)
        .await
    {
        Ok(r) => {
            tracing::debug!(
                "queue refreshed: {} customers, {} queued",
                r.customers,
                r.queued
            );
            Outcome::Done
        }
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_customers_halved_usage_is_a_drop() {
        // 100 a week for 12 weeks, then 50 a week.
        let t = usage_test(200.0, 1200.0, 12.0 * 100.0 * 100.0).unwrap();
        assert!((t.drop_pct - 50.0).abs() < 1e-9, "{t:?}");
        assert!(t.p < 1e-10, "{t:?}");
    }

    #[test]
    fn a_small_customers_quiet_week_is_no_drop() {
        // 2 a week for 12 weeks, then 2 in 4 weeks: a 75% fall, but 2 events.
        let t = usage_test(2.0, 24.0, 12.0 * 4.0).unwrap();
        assert!(t.drop_pct > 70.0, "{t:?}");
        assert!(t.p > USAGE_P, "{t:?}");
        // Exact: P(X <= 2 | n = 26, p = 1/4).
        let exact: f64 = (0..=2)
            .map(|k| {
                let c = (0..k).fold(1.0, |c, i| c * (26 - i) as f64 / (i + 1) as f64);
                c * 0.25f64.powi(k) * 0.75f64.powi(26 - k)
            })
            .sum();
        assert!((t.p - exact).abs() < 1e-9, "{} vs {exact}", t.p);
    }

    #[test]
    fn swinging_usage_needs_a_bigger_fall() {
        // Weekly sums alternate 0 and 200 (mean 100): a 40% fall is no signal.
        let sq = 6.0 * 200.0 * 200.0;
        let t = usage_test(240.0, 1200.0, sq).unwrap();
        assert!((t.drop_pct - 40.0).abs() < 1e-9);
        assert!(t.p > USAGE_P, "{t:?}");
        // The same fall on steady weeks is one.
        let t = usage_test(240.0, 1200.0, 12.0 * 100.0 * 100.0).unwrap();
        assert!(t.p < USAGE_P, "{t:?}");
        assert!(usage_test(5.0, 0.0, 0.0).is_none());
    }

    #[test]
    fn binomial_cdf_matches_sums() {
        for (k, n, p) in [
            (3.0f64, 10.0f64, 0.25f64),
            (0.0, 5.0, 0.5),
            (7.0, 40.0, 0.25),
        ] {
            let exact: f64 = (0..=k as u64)
                .map(|j| {
                    let c = (0..j).fold(1.0, |c, i| c * (n - i as f64) / (i + 1) as f64);
                    c * p.powi(j as i32) * (1.0 - p).powi((n as u64 - j) as i32)
                })
                .sum();
            assert!((binomial_cdf(k, n, p) - exact).abs() < 1e-10, "{k} {n} {p}");
        }
    }

    #[test]
    fn settings_read_as_typed() {
        assert_eq!(parse_cadence("30").unwrap(), "30");
        assert_eq!(parse_cadence("ei").unwrap(), "none");
        assert_eq!(parse_cadence("None").unwrap(), "none");
        assert!(parse_cadence("-5").is_err());
        assert_eq!(parse_p_alive_floor("0,3").unwrap(), "0.3");
        assert_eq!(parse_p_alive_floor("25 %").unwrap(), "0.25");
        assert!(parse_p_alive_floor("1,5").is_err());
        assert_eq!(parse_usage_drop_min("30 %").unwrap(), "30");
        assert!(parse_usage_drop_min("0").is_err());
        let r = QueueRules::default();
        assert_eq!(r.cadence, [Some(30), Some(60), Some(120), None]);
        assert_eq!(r.cadence_of(None), Some(120));
        assert_eq!(r.cadence_of(Some("D")), None);
    }
}

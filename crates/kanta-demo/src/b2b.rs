//! The B2B service firm: company accounts on subscriptions that renew or churn
//! (shifted-beta-geometric), weekly usage, account managers' contacts, support cases,
//! surveys and the trust ledger.

use chrono::{Datelike, NaiveDate, TimeDelta};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::DemoConfig;
use crate::clock::{Window, add_months, helsinki, midnight, office_time, prev_weekday};
use crate::draw::{self, beta, exponential, lognormal, normal, poisson, uniform, weighted};
use crate::names::{self, Emails};
use crate::params::{B2B, CHURN_FACTORS, ONBOARDING, PLANS, PLANTED, SLA_POLICIES, Sbg, TIERS};
use crate::service::{self, Outcome};
use crate::success;
use crate::tables::Tables;
use crate::texts::{self, B2B_CATEGORIES, B2bCategory, CHURN_REASONS, fill, pick_say, say};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Lead,
    Manager,
    Support,
}

/// First name, last name, title, role, and the share of the window when they started
/// and stopped (1.0: still there).
const STAFF: &[(&str, &str, &str, Role, f64, f64)] = &[
    (
        "Päivi",
        "Mattila",
        "Head of Customer Success",
        Role::Lead,
        0.0,
        1.0,
    ),
    (
        "Jari",
        "Koivisto",
        "Account Manager",
        Role::Manager,
        0.0,
        1.0,
    ),
    (
        "Laura",
        "Salonen",
        "Account Manager",
        Role::Manager,
        0.0,
        1.0,
    ),
    (
        "Tuomas",
        "Peltonen",
        "Account Manager",
        Role::Manager,
        0.0,
        0.62,
    ),
    (
        "Riikka",
        "Kallio",
        "Account Manager",
        Role::Manager,
        0.0,
        1.0,
    ),
    (
        "Eero",
        "Lindholm",
        "Account Manager",
        Role::Manager,
        0.4,
        1.0,
    ),
    ("Satu", "Ojala", "Account Manager", Role::Manager, 0.7, 1.0),
    (
        "Ville",
        "Turunen",
        "Support Engineer",
        Role::Support,
        0.0,
        1.0,
    ),
    (
        "Noora",
        "Heinonen",
        "Support Engineer",
        Role::Support,
        0.0,
        1.0,
    ),
    (
        "Antti",
        "Kettunen",
        "Support Engineer",
        Role::Support,
        0.0,
        0.5,
    ),
    (
        "Elias",
        "Nyström",
        "Support Engineer",
        Role::Support,
        0.5,
        1.0,
    ),
];

const STAFF_DOMAIN: &str = "pilvitaito.example";

/// Company-wide incidents: share of the window, start (minutes after local
/// midnight), duration in minutes.
const INCIDENTS: &[(f64, i64, i64)] = &[(0.22, 580, 210), (0.58, 785, 420), (0.86, 615, 150)];

/// Everyday cases per week by tier; onboarding cases in the first six weeks (mean).
const CASES_PER_WEEK: [f64; 3] = [0.012, 0.025, 0.05];
const ONBOARDING_CASES: f64 = 0.4;
/// Share of active accounts that open a case in an incident, by tier.
const INCIDENT_CASE_SHARE: [f64; 3] = [0.15, 0.35, 0.7];
/// Offers of more users or a higher plan (purpose `sales`), per day, by tier.
const SALES_PER_DAY: [f64; 3] = [1.0 / 365.0, 1.0 / 180.0, 1.0 / 120.0];
/// The account manager who signs in to the demo ([`crate::ACCOUNT_MANAGER`]), by
/// index in [`STAFF`].
const ACCOUNT_MANAGER_INDEX: usize = 2;
/// Account managers' own contacts and the customers' contacts, per day, by tier.
const PROACTIVE_PER_DAY: [f64; 3] = [1.0 / 90.0, 1.0 / 35.0, 1.0 / 14.0];
const REACTIVE_PER_DAY: [f64; 3] = [1.0 / 120.0, 1.0 / 60.0, 1.0 / 30.0];

fn staff_id(i: usize) -> String {
    format!("b2b-staff-{:02}", i + 1)
}

/// The first name of the staff member with external id `id`, if one of this business.
pub(crate) fn staff_first_name(id: &str) -> Option<&'static str> {
    let i: usize = id.strip_prefix("b2b-staff-")?.parse().ok()?;
    STAFF.get(i.checked_sub(1)?).map(|s| s.0)
}

pub(crate) fn account_id(i: usize) -> String {
    format!("b2b-{:03}", i + 1)
}

/// One account's draws from the churn model.
#[derive(Debug, Clone)]
pub(crate) struct Draw {
    pub start_day: i64,
    pub tier: usize,
    pub yearly: bool,
    pub theta: f64,
    /// The renewal at which the account leaves, when that falls before the end of
    /// the window plus [`LOOKAHEAD_DAYS`] (later churn is never decided).
    pub churn_at: Option<u32>,
    /// Every renewal decided (up to the departure or the end of the lookahead), with
    /// the warning signs drawn for it ([`CHURN_FACTORS`]).
    pub renewals: Vec<Renewal>,
    /// For an account won in the last [`ONBOARDING`]`.recent_days`: whether every due
    /// onboarding step is done on time.
    pub on_time: Option<bool>,
    /// Index in [`PLANTED`] of a planted account.
    pub plant: Option<usize>,
}

/// A renewal and the warning signs before it (stream 7, drawn given whether the
/// account leaves there; see [`CHURN_FACTORS`]).
#[derive(Debug, Clone)]
pub(crate) struct Renewal {
    pub on: NaiveDate,
    pub leaves: bool,
    /// Which of [`CHURN_FACTORS`] show before it.
    pub signs: [bool; 4],
    /// Usage: the fall starts this many days before the renewal ...
    pub usage_lead_days: f64,
    /// ... and reaches `1 - depth` of the level at the renewal.
    pub usage_depth: f64,
    /// Detractor: days before the renewal of the answer, and its score (0-6).
    pub nps_days: f64,
    pub nps: i64,
    /// Mistakes: days before the renewal of the two our-fault cases.
    pub mistake_days: [f64; 2],
}

/// Churn after the window is drawn this far ahead, so that accounts about to leave
/// already show it (falling usage, unhappy contacts) before `as_of`.
pub(crate) const LOOKAHEAD_DAYS: i64 = 180;

/// How long before a renewal no proactive contact happens when the sign shows.
pub(crate) const NEGLECT_DAYS: f64 = 150.0;

impl Draw {
    pub(crate) fn model(&self) -> Sbg {
        if self.yearly { B2B.yearly } else { B2B.monthly }
    }

    pub(crate) fn period_months(&self) -> u32 {
        if self.yearly { 12 } else { 1 }
    }

    pub(crate) fn renewal(&self, w: &Window, k: u32) -> NaiveDate {
        add_months(w.date(self.start_day), k * self.period_months())
    }
}

/// Where the planted accounts start (days before `as_of`), their tier and period.
const PLANTED_DRAWS: [(i64, usize, bool); 4] = [
    (600, 1, false),
    (500, 2, false),
    (700, 1, false),
    (610, 1, true),
];

pub(crate) fn draws(cfg: &DemoConfig, w: &Window) -> Vec<Draw> {
    let mut rng = draw::stream(cfg.seed, draw::B2B_PROCESS);
    let mut signs_rng = draw::stream(cfg.seed, draw::B2B_FACTORS);
    let horizon = w.as_of + TimeDelta::days(LOOKAHEAD_DAYS);
    (0..cfg.b2b_accounts)
        .map(|i| {
            let start_day = rng.random_range(0..w.days);
            let tier = weighted(
                &mut rng,
                &[
                    (0, B2B.tier_shares[0]),
                    (1, B2B.tier_shares[1]),
                    (2, B2B.tier_shares[2]),
                ],
            );
            let yearly = rng.random_bool(B2B.yearly_share[tier]);
            let mut d = Draw {
                start_day,
                tier,
                yearly,
                theta: 0.0,
                churn_at: None,
                renewals: Vec::new(),
                on_time: None,
                plant: None,
            };
            let m = d.model();
            d.theta = beta(&mut rng, m.alpha, m.beta);
            let mut k = 1;
            while d.renewal(w, k) <= horizon {
                if rng.random::<f64>() < d.theta {
                    d.churn_at = Some(k);
                    break;
                }
                k += 1;
            }
            if i < PLANTED.len() {
                // Planted: the same draws are spent (later accounts do not move),
                // then replaced by a fixed account that stays.
                let (before, tier, yearly) = PLANTED_DRAWS[i];
                d = Draw {
                    start_day: (w.days - 1 - before).max(0),
                    tier,
                    yearly,
                    theta: 0.0,
                    churn_at: None,
                    renewals: Vec::new(),
                    on_time: None,
                    plant: Some(i),
                };
                return d;
            }
            // The warning signs before each decided renewal, given its outcome.
            let mut k = 1;
            while d.renewal(w, k) <= horizon {
                let leaves = d.churn_at == Some(k);
                let mut signs = [false; 4];
                for (s, f) in signs.iter_mut().zip(CHURN_FACTORS) {
                    let p = match (leaves, d.yearly) {
                        (true, _) => f.leave,
                        (false, false) => f.stay_monthly,
                        (false, true) => f.stay_yearly,
                    };
                    *s = signs_rng.random_bool(p);
                }
                d.renewals.push(Renewal {
                    on: d.renewal(w, k),
                    leaves,
                    signs,
                    usage_lead_days: 7.0 * uniform(&mut signs_rng, 4.0, 12.0),
                    usage_depth: uniform(&mut signs_rng, 0.5, 0.85),
                    nps_days: uniform(&mut signs_rng, 15.0, 90.0),
                    nps: signs_rng.random_range(0..=6),
                    mistake_days: [
                        uniform(&mut signs_rng, 15.0, 75.0),
                        uniform(&mut signs_rng, 15.0, 75.0),
                    ],
                });
                if leaves {
                    break;
                }
                k += 1;
            }
            if d.start_day >= w.days - ONBOARDING.recent_days {
                let start = w.date(d.start_day);
                let early = d
                    .churn_at
                    .is_some_and(|k| d.renewal(w, k) <= start + TimeDelta::days(180));
                let p = if early {
                    ONBOARDING.on_time_leave
                } else {
                    ONBOARDING.on_time_stay
                };
                d.on_time = Some(signs_rng.random_bool(p));
            }
            d
        })
        .collect()
}

/// The accounts at risk at `as_of` by construction: still served, and either leaving
/// within [`LOOKAHEAD_DAYS`] or showing a churn factor's sign now (usage falling or
/// not yet recovered, a pulse detractor's answer in the last 30 days, one of our
/// mistakes in the last 90, no proactive contact in a neglect window), plus the
/// planted accounts but the healthy one.
pub(crate) fn at_risk(cfg: &DemoConfig, w: &Window) -> Vec<String> {
    let today = w.as_of;
    draws(cfg, w)
        .iter()
        .enumerate()
        .filter(|(_, d)| match d.plant {
            Some(k) => PLANTED[k].1 != "healthy",
            None => {
                let leave = d.churn_at.map(|k| d.renewal(w, k));
                let served = leave.is_none_or(|e| e > today);
                let shows = d.renewals.iter().any(|r| {
                    let days = |n: f64| TimeDelta::days(n as i64);
                    let usage = r.signs[0]
                        && today >= r.on - days(r.usage_lead_days)
                        && (r.leaves || today < r.on + days(42.0));
                    let nps = r.signs[1] && {
                        let at = r.on - days(r.nps_days);
                        at <= today && today - at <= TimeDelta::days(30)
                    };
                    let mistake = r.signs[2]
                        && r.mistake_days.iter().any(|m| {
                            let at = r.on - days(*m);
                            at <= today && today - at <= TimeDelta::days(90)
                        });
                    let neglect = r.signs[3] && today >= r.on - days(NEGLECT_DAYS) && today < r.on;
                    usage || nps || mistake || neglect
                });
                served && (leave.is_some() || shows)
            }
        })
        .map(|(i, _)| account_id(i))
        .collect()
}

/// Share of accounts with one entry a manager wrote by hand in the trust ledger.
const MANUAL_TRUST_SHARE: f64 = 0.05;

struct Counters {
    case: u32,
    claim: u32,
    interaction: u32,
    feedback: u32,
    trust: u32,
}

fn next(n: &mut u32, prefix: &str) -> String {
    *n += 1;
    format!("{prefix}-{:06}", *n)
}

/// Staff of `role` at work on window day `day`.
fn at_work(role: Role, day: f64, horizon: f64) -> Vec<usize> {
    let x = day / horizon;
    (0..STAFF.len())
        .filter(|&k| STAFF[k].3 == role && STAFF[k].4 <= x && (x < STAFF[k].5 || STAFF[k].5 >= 1.0))
        .collect()
}

pub(crate) fn generate(cfg: &DemoConfig, w: &Window, t: &mut Tables) {
    let mut rng = draw::stream(cfg.seed, draw::B2B_DETAIL);
    let horizon = w.days as f64;
    for (i, (first, last, title, _, _, to)) in STAFF.iter().enumerate() {
        t.staff
            .row(staff_id(i))
            .set("name", format!("{first} {last}"))
            .set(
                "email",
                format!(
                    "{}.{}@{STAFF_DOMAIN}",
                    names::ascii_slug(first),
                    names::ascii_slug(last)
                ),
            )
            .set("title", *title)
            .set("active", *to >= 1.0)
            .push();
    }
    let mut emails = Emails::default();
    let mut companies = std::collections::HashSet::new();
    let mut n = Counters {
        case: 0,
        claim: 0,
        interaction: 0,
        feedback: 0,
        trust: 0,
    };
    let mut success_rng = draw::stream(cfg.seed, draw::B2B_SUCCESS);
    if cfg.b2b_accounts > 0 {
        success::templates(t);
    }
    for (i, d) in draws(cfg, w).iter().enumerate() {
        let served = account(
            &mut rng,
            w,
            horizon,
            i,
            d,
            &mut emails,
            &mut companies,
            &mut n,
            t,
        );
        success::account(&mut success_rng, w, &served, t);
    }
}

/// What the onboarding and the goals of an account need to know about it.
pub(crate) struct Served {
    pub id: String,
    pub tier: usize,
    pub english: bool,
    pub started_on: NaiveDate,
    /// The day it left, on or before `as_of`.
    pub ended_on: Option<NaiveDate>,
    /// The day it leaves, also after `as_of` (within the lookahead).
    pub leave_on: Option<NaiveDate>,
    /// Its account manager at the start and now (or at its end).
    pub manager_at_start: String,
    pub manager_now: String,
    /// A support engineer at work when it started.
    pub support: String,
    pub on_time: Option<bool>,
    pub plant: Option<&'static str>,
}

#[allow(clippy::too_many_arguments)]
fn account(
    rng: &mut ChaCha8Rng,
    w: &Window,
    horizon: f64,
    i: usize,
    d: &Draw,
    emails: &mut Emails,
    companies: &mut std::collections::HashSet<String>,
    n: &mut Counters,
    t: &mut Tables,
) -> Served {
    let plant = d.plant.map(|k| PLANTED[k].1);
    let aid = account_id(i);
    let tier = d.tier;
    let english = rng.random_bool(B2B.english_share);
    let locale = if english { "en" } else { "fi" };
    let (name, domain) = names::company(rng, english, companies);
    let started_on = w.date(d.start_day);
    let leave_on = d.churn_at.map(|k| d.renewal(w, k));
    let ended_on = leave_on.filter(|e| *e <= w.as_of);
    // The first day the account is no longer served (or the day after the window).
    let stop = ended_on.unwrap_or(w.as_of + TimeDelta::days(1));
    let stop_day = w.day(stop);
    let renews_on = if ended_on.is_some() {
        None
    } else {
        (1..).map(|k| d.renewal(w, k)).find(|r| *r > w.as_of)
    };
    let reason = d.churn_at.map(|_| {
        weighted(
            rng,
            &CHURN_REASONS
                .iter()
                .map(|(key, text, weight)| ((*key, *text), *weight))
                .collect::<Vec<_>>(),
        )
    });
    // Reasons come from the firm's own list, in English whatever the customer's
    // language, so that reports can group them.
    let end_reason = ended_on.and(reason).map(|(_, text)| say(text, true));
    let plan = match tier {
        0 => weighted(rng, &[(0, 0.85), (1, 0.15)]),
        1 => weighted(rng, &[(0, 0.15), (1, 0.75), (2, 0.10)]),
        _ => weighted(rng, &[(1, 0.2), (2, 0.8)]),
    };
    let discount = if plan == 2 {
        draw::pick(rng, &[0.0, 0.1, 0.15, 0.2])
    } else {
        0.0
    };
    // Planted accounts: Pro, or Enterprise at list price.
    let (plan, discount) = if plant.is_some() {
        (tier.max(1), 0.0)
    } else {
        (plan, discount)
    };
    let months_charged = if d.yearly { B2B.yearly_price_months } else { 1 };
    let amount = ((B2B.plan_prices[plan] * months_charged) as f64 * (1.0 - discount) / 100.0)
        .round() as i64
        * 100;
    let monthly_fee = if d.yearly { amount / 12 } else { amount };
    let channel = weighted(
        rng,
        &[
            ("inbound", 0.35),
            ("outbound", 0.25),
            ("partner", 0.15),
            ("event", 0.10),
            ("referral", 0.15),
        ],
    );
    let cac_median = [600.0, 3000.0, 12000.0][tier];
    let acquisition_cost = (lognormal(rng, cac_median, 0.5) * 100.0).round() as i64;
    let survey_consent = rng.random_bool(0.9) || plant.is_some();
    let marketing_consent = rng.random_bool(0.5);
    // Signed in office hours; an account won on the last weekend signed on its day,
    // in the afternoon, rather than after the demo's "now".
    let signed_at = office_time(rng, started_on);
    let signed_at = if signed_at < w.end {
        signed_at
    } else {
        helsinki(started_on, 15 * 3600)
    };
    // Who looks after the account: a manager at work when it was won, and after they
    // leave, a successor.
    let managers = at_work(Role::Manager, d.start_day as f64, horizon);
    let manager = draw::pick(rng, &managers);
    let manager_until = if STAFF[manager].5 >= 1.0 {
        f64::INFINITY
    } else {
        STAFF[manager].5 * horizon
    };
    let successors = at_work(Role::Manager, manager_until.min(horizon - 1.0), horizon);
    let successor = draw::pick(rng, &successors);
    // The planted accounts are the signed-in account manager's, from the start.
    let (manager, manager_until, successor) = if plant.is_some() {
        (ACCOUNT_MANAGER_INDEX, f64::INFINITY, ACCOUNT_MANAGER_INDEX)
    } else {
        (manager, manager_until, successor)
    };
    let manager_on = |day: f64| {
        if day < manager_until {
            manager
        } else {
            successor
        }
    };
    t.customers
        .row(aid.clone())
        .set("kind", "company")
        .set("name", name)
        .set(
            "email",
            emails.at(if english { "office" } else { "info" }, &domain),
        )
        .set("phone", names::landline(rng))
        .set("segment", format!("b2b-{}", TIERS[tier]))
        .set("locale", locale)
        .set("survey_consent", survey_consent)
        .set("survey_consent_at", signed_at)
        .set("marketing_consent", marketing_consent)
        .set("marketing_consent_at", signed_at)
        .set("acquired_on", started_on)
        .set("acquisition_channel", channel)
        .set("acquisition_cost", acquisition_cost)
        .set("currency", "EUR")
        .set(
            "status",
            if ended_on.is_some() {
                "ended"
            } else {
                "active"
            },
        )
        .set("ended_on", ended_on)
        .set("end_reason", end_reason)
        .set("owner_id", staff_id(manager_on(stop_day as f64 - 1.0)))
        .push();

    let contacts = match tier {
        0 => rng.random_range(1..=2),
        1 => rng.random_range(2..=3),
        _ => 3,
    };
    for c in 0..contacts {
        let english_name = english && rng.random_bool(0.7);
        let (first, last) = names::person(rng, english_name);
        let title = if c == 0 && tier == 0 {
            0
        } else {
            rng.random_range(0..CONTACT_TITLES.len())
        };
        let local = format!("{}.{}", names::ascii_slug(first), names::ascii_slug(last));
        t.contacts
            .row(format!("{aid}-c{}", c + 1))
            .set("customer_id", aid.as_str())
            .set("name", format!("{first} {last}"))
            .set("email", emails.at(&local, &domain))
            .set("phone", rng.random_bool(0.7).then(|| names::mobile(rng)))
            .set("title", say(CONTACT_TITLES[title], english))
            .set("is_primary", c == 0)
            .push();
    }

    t.subscriptions
        .row(format!("{aid}-s1"))
        .set("customer_id", aid.as_str())
        .set("plan", PLANS[plan])
        .set("amount", amount)
        .set("currency", "EUR")
        .set("period", if d.yearly { "year" } else { "month" })
        .set("started_on", started_on)
        .set("ended_on", ended_on)
        .set("renews_on", renews_on)
        .set("end_reason", end_reason)
        .push();

    let support_on = |rng: &mut ChaCha8Rng, day: f64| {
        let here = at_work(Role::Support, day, horizon);
        draw::pick(rng, &here)
    };

    // Unhappy before leaving: usage falls (the first of the churn factors, drawn with
    // the renewal), contacts turn sour.
    let departure = d.renewals.last().filter(|r| r.leaves);
    let drops = departure.is_some_and(|r| r.signs[0]);
    let leave_day = leave_on.map(|e| w.day(e));
    let souring = |day: i64| drops && leave_day.is_some_and(|e| day >= e - 90 && day < e);

    // Weekly usage, reported on Mondays for the week before.
    let baseline = lognormal(rng, B2B.active_users_median[tier], 0.5).max(1.0);
    let ramp_weeks = if rng.random_bool(0.1) {
        uniform(rng, 10.0, 20.0)
    } else {
        uniform(rng, 1.5, 4.0)
    };
    let growth = normal(rng, 0.002, 0.004);
    let logins_per_user = uniform(rng, 2.5, 6.0);
    let mut monday =
        started_on + TimeDelta::days(7 - i64::from(started_on.weekday().num_days_from_monday()));
    while monday <= w.as_of && monday - TimeDelta::days(7) < stop {
        let age = (monday - started_on).num_days() as f64 / 7.0;
        let ramp = 1.0 - (-age / ramp_weeks).exp();
        let trend = (growth * age).exp();
        let week = monday.iso_week().week();
        let season = match week {
            _ if plant == Some("healthy") => 1.0,
            28..=31 => 0.6,
            52 | 53 | 1 => 0.55,
            _ => 1.0,
        };
        let mut fall = 1.0;
        for r in d.renewals.iter().filter(|r| r.signs[0]) {
            // Falls linearly from `lead` days before the renewal to `1 - depth` at
            // it; an account that renews recovers over the six weeks after.
            let since = (monday - r.on).num_days() as f64;
            let down = if since <= 0.0 {
                ((since + r.usage_lead_days) / r.usage_lead_days).clamp(0.0, 1.0)
            } else if r.leaves {
                1.0
            } else {
                (1.0 - since / 42.0).clamp(0.0, 1.0)
            };
            fall *= 1.0 - r.usage_depth * down;
        }
        if plant == Some("usage_drop") && monday > w.as_of - TimeDelta::days(28) {
            fall = 0.5;
        }
        let users = (baseline * ramp * trend * season * fall * lognormal(rng, 1.0, 0.12)).round();
        let logins = (users * logins_per_user * lognormal(rng, 1.0, 0.15)).round();
        let at = midnight(monday) + TimeDelta::hours(4);
        for (metric, value) in [("active_users", users), ("logins", logins)] {
            t.usage
                .row(format!("{aid}-{metric}-{monday}"))
                .set("customer_id", aid.as_str())
                .set("occurred_at", at)
                .set("metric", metric)
                .set("value", value)
                .push();
        }
        monday += TimeDelta::days(7);
    }

    let in_service = |at: chrono::DateTime<chrono::Utc>| at < w.end && at < midnight(stop);

    // Contacts: kick-off, managers' own check-ins, customers' questions, yearly
    // renewal talks, and warnings and notice before leaving.
    let mut contacts: Vec<(f64, &str, &str, bool, &str, &str)> = Vec::new();
    let kickoff = d.start_day as f64 + uniform(rng, 1.0, 7.0);
    contacts.push((
        kickoff,
        "meeting",
        "outbound",
        true,
        "onboarding",
        say(texts::B2B_KICKOFF, english),
    ));
    for (rate, proactive) in [
        (PROACTIVE_PER_DAY[tier], true),
        (REACTIVE_PER_DAY[tier], false),
    ] {
        let mut x = d.start_day as f64 + exponential(rng, rate);
        while x < stop_day as f64 {
            let (kind, direction, note) = if proactive {
                (
                    weighted(rng, &[("meeting", 0.35), ("call", 0.35), ("email", 0.3)]),
                    "outbound",
                    pick_say(rng, texts::B2B_PROACTIVE_NOTES, english),
                )
            } else {
                (
                    weighted(rng, &[("email", 0.5), ("call", 0.4), ("meeting", 0.1)]),
                    "inbound",
                    pick_say(rng, texts::B2B_REACTIVE_NOTES, english),
                )
            };
            let purpose = if proactive { "check_in" } else { "service" };
            contacts.push((x, kind, direction, proactive, purpose, note));
            x += exponential(rng, rate);
        }
    }
    // Selling: an offer of more users or a higher plan now and then (proactive, but
    // not a check-in: it does not count for the contact cadence).
    let mut x = d.start_day as f64 + 60.0 + exponential(rng, SALES_PER_DAY[tier]);
    while x < stop_day as f64 {
        let kind = weighted(rng, &[("call", 0.5), ("email", 0.3), ("meeting", 0.2)]);
        let note = pick_say(rng, texts::B2B_SALES_NOTES, english);
        contacts.push((x, kind, "outbound", true, "sales", note));
        x += exponential(rng, SALES_PER_DAY[tier]);
    }
    if plant == Some("healthy") {
        let day = w.day(prev_weekday(w.as_of - TimeDelta::days(3))) as f64;
        let note = say(texts::B2B_PROACTIVE_NOTES[1], english);
        contacts.push((day, "call", "outbound", true, "check_in", note));
    }
    if d.yearly {
        let mut k = 1;
        while d.renewal(w, k) <= w.as_of + TimeDelta::days(28) {
            let day = w.day(d.renewal(w, k)) as f64 - uniform(rng, 14.0, 28.0);
            if day > d.start_day as f64 {
                let kind = weighted(rng, &[("meeting", 0.6), ("call", 0.4)]);
                contacts.push((
                    day,
                    kind,
                    "outbound",
                    true,
                    "renewal",
                    say(texts::B2B_RENEWAL, english),
                ));
            }
            k += 1;
        }
    }
    let mut notice_text = String::new();
    if let (Some(leave), Some((_, why))) = (leave_day, reason) {
        if drops && rng.random_bool(0.6) {
            let day = leave as f64 - uniform(rng, 25.0, 60.0);
            let kind = weighted(rng, &[("call", 0.5), ("meeting", 0.2), ("email", 0.3)]);
            contacts.push((
                day,
                kind,
                "inbound",
                false,
                "service",
                pick_say(rng, texts::B2B_WARNING, english),
            ));
        }
        if rng.random_bool(0.8) {
            notice_text = fill(say(texts::B2B_NOTICE, english), say(why, english));
            let day = leave as f64 - uniform(rng, 7.0, 30.0);
            contacts.push((day, "call", "inbound", false, "other", ""));
        }
    }
    contacts.sort_by(|a, b| a.0.total_cmp(&b.0));
    // No proactive contact before a renewal whose "neglect" sign shows.
    let neglected = |day: f64| {
        d.renewals.iter().any(|r| {
            let on = w.day(r.on) as f64;
            r.signs[3] && day >= on - NEGLECT_DAYS && day < on
        })
    };
    // The planted detractor's answer (yesterday) is the last word: nothing since.
    let quiet_from = (plant == Some("detractor")).then(|| (w.days - 2) as f64);
    for (day, kind, direction, proactive, purpose, note) in contacts {
        if day < d.start_day as f64 || day >= stop_day as f64 {
            continue;
        }
        let cadence = proactive && purpose != "sales" && purpose != "renewal";
        if (cadence && neglected(day)) || quiet_from.is_some_and(|q| day >= q) {
            continue;
        }
        let at = office_time(rng, w.date(day as i64));
        let notice = note.is_empty();
        let outcome = if notice {
            "negative"
        } else if souring(day as i64) {
            weighted(
                rng,
                &[("positive", 0.2), ("neutral", 0.45), ("negative", 0.35)],
            )
        } else {
            weighted(
                rng,
                &[("positive", 0.45), ("neutral", 0.47), ("negative", 0.08)],
            )
        };
        if !in_service(at) {
            continue;
        }
        t.interactions
            .row(next(&mut n.interaction, "b2b-int"))
            .set("customer_id", aid.as_str())
            .set("occurred_at", at)
            .set("kind", kind)
            .set("direction", direction)
            .set("staff_id", staff_id(manager_on(day)))
            .set("outcome", outcome)
            .set("proactive", proactive)
            .set("purpose", purpose)
            .set("note", if notice { notice_text.as_str() } else { note })
            .push();
    }

    // Cases: everyday problems (more of them before leaving for bad support),
    // onboarding trouble, and company-wide incidents.
    struct NewCase {
        at: chrono::DateTime<chrono::Utc>,
        category: &'static B2bCategory,
        incident_end: Option<chrono::DateTime<chrono::Utc>>,
        /// One of our mistakes before a renewal (a churn factor): a high-severity
        /// bug, our fault, put right late.
        mistake: bool,
    }
    let mut new_cases: Vec<NewCase> = Vec::new();
    let bad_support = matches!(reason, Some(("support", _)));
    let base = CASES_PER_WEEK[tier] / 7.0;
    let max_rate = if bad_support { 3.0 * base } else { base };
    let categories: Vec<(usize, f64)> = B2B_CATEGORIES
        .iter()
        .enumerate()
        .map(|(k, c)| (k, c.weight))
        .collect();
    let mut x = d.start_day as f64 + exponential(rng, max_rate);
    while x < stop_day as f64 {
        let rate = if bad_support && leave_day.is_some_and(|e| x >= (e - 180) as f64) {
            3.0 * base
        } else {
            base
        };
        if rng.random::<f64>() < rate / max_rate {
            let c = weighted(rng, &categories);
            let at = office_time(rng, w.date(x as i64));
            new_cases.push(NewCase {
                at,
                category: &B2B_CATEGORIES[c],
                incident_end: None,
                mistake: false,
            });
        }
        x += exponential(rng, max_rate);
    }
    for _ in 0..poisson(rng, ONBOARDING_CASES) {
        let day = d.start_day + rng.random_range(0..42);
        let at = office_time(rng, w.date(day));
        new_cases.push(NewCase {
            at,
            category: &texts::ONBOARDING,
            incident_end: None,
            mistake: false,
        });
    }
    for (share, start_min, minutes) in INCIDENTS {
        let day = (share * horizon) as i64;
        let begins = helsinki(w.date(day), start_min * 60);
        let hit = rng.random_bool(INCIDENT_CASE_SHARE[tier]);
        let at = begins + TimeDelta::minutes(rng.random_range(5..150).min(*minutes));
        if hit && day >= d.start_day && day < stop_day {
            new_cases.push(NewCase {
                at,
                category: &texts::OUTAGE,
                incident_end: Some(begins + TimeDelta::minutes(*minutes)),
                mistake: false,
            });
        }
    }
    let bug = B2B_CATEGORIES
        .iter()
        .find(|c| c.code == "bug")
        .expect("a bug category");
    for r in d.renewals.iter().filter(|r| r.signs[2]) {
        for before in r.mistake_days {
            let day = w.day(r.on) - before as i64;
            if day < d.start_day {
                continue;
            }
            new_cases.push(NewCase {
                at: office_time(rng, w.date(day)),
                category: bug,
                incident_end: None,
                mistake: true,
            });
        }
    }
    match plant {
        // The planted trust deficit: three mistakes in the last two months.
        Some("trust_deficit") => {
            for before in [50, 30, 12] {
                let day = prev_weekday(w.as_of - TimeDelta::days(before));
                new_cases.push(NewCase {
                    at: office_time(rng, day),
                    category: bug,
                    incident_end: None,
                    mistake: true,
                });
            }
        }
        // The planted healthy account has had no problems at all.
        Some("healthy") => new_cases.clear(),
        _ => {}
    }
    new_cases.sort_by_key(|c| c.at);
    let mut our_faults: Vec<chrono::DateTime<chrono::Utc>> = Vec::new();
    let mut claims_in_last_year = 0;
    for c in new_cases {
        if !in_service(c.at) {
            continue;
        }
        let cat = c.category;
        let sev = weighted(
            rng,
            &[
                (0, cat.severity[0]),
                (1, cat.severity[1]),
                (2, cat.severity[2]),
                (3, cat.severity[3]),
            ],
        );
        let sev = if c.incident_end.is_some() && tier == 2 {
            3
        } else if c.mistake {
            2
        } else {
            sev
        };
        let our_fault = if c.mistake {
            Some(true)
        } else if cat.our_fault <= 0.0 || cat.our_fault >= 1.0 {
            Some(cat.our_fault >= 1.0)
        } else if rng.random_bool(0.1) {
            None
        } else {
            Some(rng.random_bool(cat.our_fault))
        };
        let channel = if c.incident_end.is_some() {
            weighted(rng, &[("phone", 0.5), ("web", 0.3), ("email", 0.2)])
        } else {
            weighted(
                rng,
                &[
                    ("email", 0.45),
                    ("phone", 0.25),
                    ("web", 0.2),
                    ("chat", 0.1),
                ],
            )
        };
        let life = match c.incident_end {
            // Outages are put right when the incident ends, at any hour.
            Some(e) => {
                let first = c.at + TimeDelta::minutes(rng.random_range(5..30));
                let fixed = e.max(c.at) + TimeDelta::minutes(rng.random_range(10..120));
                service::life_at(rng, c.at, sev, Some(first), Some(fixed), w.end)
            }
            None => {
                let recent = w.end - c.at < TimeDelta::days(30);
                let shares = if recent {
                    [0.5, 0.1, 0.4]
                } else {
                    [0.7, 0.2, 0.1]
                };
                let outcome = weighted(
                    rng,
                    &[
                        (Outcome::Within, shares[0]),
                        (Outcome::Late, shares[1]),
                        (Outcome::Unresolved, shares[2]),
                    ],
                );
                let outcome = if c.mistake { Outcome::Late } else { outcome };
                service::life(rng, c.at, sev, outcome, None, w.end)
            }
        };
        let day = w.day(c.at.date_naive()) as f64;
        let handler = match cat.code {
            "billing" | "onboarding" => manager_on(day),
            _ => support_on(rng, day),
        };
        let resolved = life.resolved_at.is_some();
        let apology =
            resolved.then(|| rng.random_bool(if our_fault == Some(true) { 0.8 } else { 0.2 }));
        let resolution = resolved.then(|| pick_say(rng, texts::resolutions(cat.code), english));
        let in_presence = resolved.then(|| cat.code == "onboarding" && rng.random_bool(0.5));
        let case_id = next(&mut n.case, "b2b-case");
        t.cases
            .row(case_id.clone())
            .set("customer_id", aid.as_str())
            .set("opened_at", c.at)
            .set("category", cat.code)
            .set("severity", SLA_POLICIES[sev].severity)
            .set("status", life.status)
            .set("channel", channel)
            .set("our_fault", our_fault)
            .set("summary", pick_say(rng, cat.summaries, english))
            .set("first_response_at", life.first_response_at)
            .set("resolved_at", life.resolved_at)
            .set("closed_at", life.closed_at)
            .set("resolution", resolution)
            .set("apology", apology)
            .set("fixed_in_presence", in_presence)
            .set("staff_id", staff_id(handler))
            .push();
        let mine = our_fault == Some(true);
        if mine {
            our_faults.push(c.at);
        }
        // Compensation claimed: service credits for outages, billing errors and
        // critical bugs; an enterprise account asks for more after a late fix.
        let claim = match cat.code {
            "outage" if tier == 2 || sev == 3 => Some((monthly_fee / 10, "refund")),
            "billing" if mine && rng.random_bool(0.5) => Some((monthly_fee / 5, "refund")),
            "bug" if mine && sev == 3 => Some((monthly_fee / 20, "refund")),
            _ if mine && tier == 2 && life.outcome == Outcome::Late => {
                Some((monthly_fee / 4, "voucher"))
            }
            _ => None,
        }
        .filter(|(m, _)| *m > 0);
        // At most two claims in the last 12 months (only the café's repeat claimants
        // have more).
        let this_year = w.end - c.at < TimeDelta::days(365);
        if let Some((amount, kind)) = claim.filter(|_| !this_year || claims_in_last_year < 2) {
            let claimed_at = c.at + TimeDelta::minutes(rng.random_range(30..2880));
            if claimed_at < w.end {
                claims_in_last_year += usize::from(this_year);
                let id = next(&mut n.claim, "b2b-claim");
                let cl = service::claim(rng, id, case_id, claimed_at, amount, kind, english);
                t.claim_drafts.push(cl);
            }
        }
        let Some(r) = life.resolved_at else { continue };
        let fast = life.outcome == Outcome::Within;
        // A short satisfaction survey after the case is closed.
        let answered = r + TimeDelta::minutes(rng.random_range(60..2880));
        if survey_consent && rng.random_bool(0.35) && answered < w.end {
            let mean = 4.3 - if fast { 0.0 } else { 1.2 } - if mine { 0.4 } else { 0.0 };
            let csat = normal(rng, mean, 0.8).round().clamp(1.0, 5.0) as i64;
            let ces = rng.random_bool(0.5).then(|| {
                normal(rng, if fast { 5.6 } else { 4.1 }, 1.0)
                    .round()
                    .clamp(1.0, 7.0) as i64
            });
            let mut kudos = None;
            let comment = if csat >= 4 {
                if rng.random_bool(0.3) {
                    kudos = Some(handler);
                    Some(fill(
                        pick_say(rng, texts::B2B_KUDOS, english),
                        STAFF[handler].0,
                    ))
                } else {
                    rng.random_bool(0.5)
                        .then(|| pick_say(rng, texts::CSAT_GOOD, english).to_string())
                }
            } else {
                rng.random_bool(0.7)
                    .then(|| pick_say(rng, texts::CSAT_BAD, english).to_string())
            };
            t.feedback
                .row(next(&mut n.feedback, "b2b-fb"))
                .set("customer_id", aid.as_str())
                .set("answered_at", answered)
                .set("survey_ref", "case-csat")
                .set("csat", csat)
                .set("ces", ces)
                .set("comment", comment)
                .set("language", locale)
                .set("staff_id", kudos.map(staff_id))
                .push();
        }
    }

    // Relationship NPS twice a year (February and September).
    let account_mood = normal(rng, 0.0, 1.0);
    let account_mood = if plant == Some("healthy") {
        2.0
    } else {
        account_mood
    };
    for year in w.start.year()..=w.as_of.year() {
        for (month, day, half) in [(2, 12, "h1"), (9, 10, "h2")] {
            let Some(sent) = NaiveDate::from_ymd_opt(year, month, day) else {
                continue;
            };
            let sent_day = w.day(sent);
            // The wave's audience: the accounts served for 30 days or more.
            let considered = sent >= w.start
                && sent <= w.as_of
                && sent_day >= d.start_day + 30
                && sent_day < stop_day;
            let eligible = considered && survey_consent;
            let answers = rng.random_bool([0.4, 0.5, 0.6][tier]);
            let delay = exponential(rng, 1.0 / 3.0).floor() as i64;
            let answered = office_time(rng, sent + TimeDelta::days(delay));
            let wave = format!("nps-{year}-{half}");
            if !(eligible && answers && in_service(answered)) {
                if considered {
                    // Invited and not answered, or skipped without survey consent.
                    crate::surveys::invitation(
                        t,
                        &wave,
                        sent,
                        &aid,
                        locale,
                        (!survey_consent).then_some("no_consent"),
                        None,
                    );
                }
                continue;
            }
            let recent_mistakes = our_faults
                .iter()
                .filter(|m| **m < answered && answered - **m < TimeDelta::days(90))
                .count();
            let mut mean = 7.6 + account_mood;
            if souring(w.day(answered.date_naive())) {
                mean -= 2.5;
            } else if leave_day.is_some_and(|e| e - sent_day < 120) {
                mean -= 1.2;
            }
            mean -= match recent_mistakes {
                0 => 0.0,
                1 => 0.6,
                _ => 1.5,
            };
            let nps = normal(rng, mean, 1.5).round().clamp(0.0, 10.0) as i64;
            let (p_well, p_better) = match nps {
                9.. => (0.65, 0.2),
                7 | 8 => (0.4, 0.5),
                _ => (0.15, 0.8),
            };
            let manager_now = manager_on(w.day(answered.date_naive()) as f64);
            let mut kudos = None;
            let did_well = if rng.random_bool(p_well) {
                if rng.random_bool(0.25) {
                    kudos = Some(manager_now);
                    Some(fill(
                        pick_say(rng, texts::B2B_KUDOS, english),
                        STAFF[manager_now].0,
                    ))
                } else {
                    Some(pick_say(rng, texts::B2B_DID_WELL, english).to_string())
                }
            } else {
                None
            };
            let do_better = rng.random_bool(p_better).then(|| match reason {
                Some((why, _)) if nps <= 6 && why == "support" => {
                    say(texts::B2B_DO_BETTER[1], english)
                }
                Some((why, _)) if nps <= 6 && why == "price" => {
                    say(texts::B2B_DO_BETTER[0], english)
                }
                _ => pick_say(rng, texts::B2B_DO_BETTER, english),
            });
            let fid = next(&mut n.feedback, "b2b-fb");
            crate::surveys::invitation(
                t,
                &wave,
                sent,
                &aid,
                locale,
                None,
                Some((fid.clone(), answered)),
            );
            t.feedback
                .row(fid)
                .set("customer_id", aid.as_str())
                .set("answered_at", answered)
                .set("survey_ref", wave)
                .set("nps", nps)
                .set("did_well", did_well)
                .set("do_better", do_better)
                .set("language", locale)
                .set("staff_id", kudos.map(staff_id))
                .push();
        }
    }

    // A detractor's answer to a pulse survey before a renewal (a churn factor), and
    // the planted detractor's answer yesterday.
    let mut pulses: Vec<(chrono::DateTime<chrono::Utc>, i64)> = d
        .renewals
        .iter()
        .filter(|r| r.signs[1])
        .map(|r| {
            let day = w.day(r.on) - r.nps_days as i64;
            (office_time(rng, w.date(day)), r.nps)
        })
        .collect();
    if plant == Some("detractor") {
        pulses.push((helsinki(w.as_of - TimeDelta::days(1), 10 * 3600 + 900), 3));
    }
    for (answered, nps) in pulses {
        if !(survey_consent && in_service(answered) && answered >= signed_at) {
            continue;
        }
        let do_better = match reason {
            Some(("support", _)) => say(texts::B2B_DO_BETTER[1], english),
            Some(("price", _)) => say(texts::B2B_DO_BETTER[0], english),
            _ => pick_say(rng, texts::B2B_DO_BETTER, english),
        };
        t.feedback
            .row(next(&mut n.feedback, "b2b-fb"))
            .set("customer_id", aid.as_str())
            .set("answered_at", answered)
            .set("survey_ref", "nps-pulse")
            .set("nps", nps)
            .set("did_well", None::<String>)
            .set("do_better", do_better)
            .set("language", locale)
            .set("staff_id", None::<String>)
            .push();
    }

    // Now and then a manager's own entry in the trust ledger.
    if rng.random_bool(MANUAL_TRUST_SHARE) && plant.is_none() {
        let day = uniform(rng, d.start_day as f64, stop_day as f64);
        let at = office_time(rng, w.date(day as i64));
        if in_service(at) {
            let id = next(&mut n.trust, "b2b-trust");
            service::manual_trust(rng, t, id, &aid, at, english);
        }
    }
    let first_support = at_work(Role::Support, d.start_day as f64, horizon);
    Served {
        id: aid,
        tier,
        english,
        started_on,
        ended_on,
        leave_on,
        manager_at_start: staff_id(manager),
        manager_now: staff_id(manager_on(stop_day as f64 - 1.0)),
        support: staff_id(first_support[0]),
        on_time: d.on_time,
        plant,
    }
}

const CONTACT_TITLES: &[texts::Text] = &[
    ("toimitusjohtaja", "CEO"),
    ("talousjohtaja", "CFO"),
    ("IT-päällikkö", "IT Manager"),
    ("operatiivinen johtaja", "COO"),
    ("HR-päällikkö", "HR Manager"),
    ("myyntijohtaja", "Head of Sales"),
    ("hankintapäällikkö", "Procurement Manager"),
];

//! The café: customers, purchases (BG/NBD), spend (Gamma-Gamma), complaints,
//! conversations at the counter, survey answers and the trust ledger.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::DemoConfig;
use crate::clock::{Window, cafe_wall, midnight};
use crate::draw::{self, beta, exponential, gamma, lognormal, normal, uniform, weighted};
use crate::names::{self, Emails};
use crate::params::{CAFE, CafeParams, TRUST};
use crate::tables::Tables;
use crate::texts::{self, CAFE_CATEGORIES, fill, pick_say, say};

/// The café's staff: first name, last name, title, and the share of the window when
/// they started and stopped working (1.0: still there).
const STAFF: &[(&str, &str, &str, f64, f64)] = &[
    ("Sanna", "Laaksonen", "omistaja", 0.0, 1.0),
    ("Aino", "Heikkinen", "vuoropäällikkö", 0.0, 1.0),
    ("Joonas", "Lehtonen", "barista", 0.0, 0.45),
    ("Emilia", "Koskinen", "barista", 0.0, 1.0),
    ("Mikko", "Saarinen", "barista", 0.3, 1.0),
    ("Venla", "Rantanen", "barista", 0.0, 0.7),
    ("Leo", "Ahonen", "barista", 0.55, 1.0),
    ("Oona", "Virtanen", "barista", 0.75, 1.0),
];

const STAFF_DOMAIN: &str = "kahvilakulma.example";

fn staff_id(i: usize) -> String {
    format!("cafe-staff-{:02}", i + 1)
}

/// One purchase: process time in days since the window starts, and its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Visit {
    pub u: f64,
    pub cents: i64,
}

/// One customer's draws from the models (the latent ones are read by the tests).
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct Draw {
    /// Purchases per week while alive.
    pub lambda: f64,
    /// Dropout probability after each repeat purchase.
    pub p: f64,
    /// Gamma-Gamma scale of the customer's spend.
    pub nu: f64,
    /// The first purchase and the repeat purchases, in time order.
    pub visits: Vec<Visit>,
    /// Dropped out before the end of the window.
    pub dropped: bool,
}

/// Draws one customer: first purchase uniform on `[0, horizon)` days, then the
/// BG/NBD process until dropout or the horizon, each purchase valued by the
/// Gamma-Gamma model.
pub(crate) fn draw_customer(rng: &mut impl Rng, params: &CafeParams, horizon: f64) -> Draw {
    let m = params.purchases;
    let g = params.spend;
    let u0 = uniform(rng, 0.0, horizon);
    let lambda = gamma(rng, m.r, m.alpha);
    let p = beta(rng, m.a, m.b);
    let nu = gamma(rng, g.q, g.gamma);
    let spend = |rng: &mut _| -> i64 {
        let euros = gamma(rng, g.p, nu);
        ((euros * 100.0).round() as i64).max(1)
    };
    let mut visits = vec![Visit {
        u: u0,
        cents: spend(rng),
    }];
    let mut t = u0;
    let mut dropped = false;
    loop {
        t += 7.0 * exponential(rng, lambda);
        if t >= horizon {
            break;
        }
        visits.push(Visit {
            u: t,
            cents: spend(rng),
        });
        if rng.random::<f64>() < p {
            dropped = true;
            break;
        }
    }
    Draw {
        lambda,
        p,
        nu,
        visits,
        dropped,
    }
}

/// The model draws of every café customer, in id order.
pub(crate) fn draws(cfg: &DemoConfig, w: &Window) -> Vec<Draw> {
    let mut rng = draw::stream(cfg.seed, draw::CAFE_PROCESS);
    (0..cfg.cafe_customers)
        .map(|_| draw_customer(&mut rng, &CAFE, w.days as f64))
        .collect()
}

pub(crate) fn customer_id(i: usize) -> String {
    format!("cafe-{:05}", i + 1)
}

struct Ids {
    case: u32,
    interaction: u32,
    feedback: u32,
    trust: u32,
}

impl Ids {
    fn next(n: &mut u32, prefix: &str) -> String {
        *n += 1;
        format!("{prefix}-{:06}", *n)
    }
}

/// A complaint the customer made, remembered for their next survey answer.
struct LastCase {
    at: DateTime<Utc>,
    category: usize,
    handled_fast: bool,
}

pub(crate) fn generate(cfg: &DemoConfig, w: &Window, t: &mut Tables) {
    let mut rng = draw::stream(cfg.seed, draw::CAFE_DETAIL);
    let horizon = w.days as f64;
    for (i, (first, last, title, from, to)) in STAFF.iter().enumerate() {
        t.staff
            .row(staff_id(i))
            .set("name", format!("{first} {last}"))
            .set(
                "email",
                format!("{}@{STAFF_DOMAIN}", names::ascii_slug(first)),
            )
            .set("title", *title)
            .set("active", *to >= 1.0)
            .push();
        debug_assert!(from < to);
    }
    let on_shift = |rng: &mut ChaCha8Rng, u: f64| -> usize {
        let x = u / horizon;
        let here: Vec<usize> = (0..STAFF.len())
            .filter(|&k| STAFF[k].3 <= x && (x < STAFF[k].4 || STAFF[k].4 >= 1.0))
            .collect();
        draw::pick(rng, &here)
    };

    let mut emails = Emails::default();
    let mut ids = Ids {
        case: 0,
        interaction: 0,
        feedback: 0,
        trust: 0,
    };
    let p = &CAFE;
    let sla = TimeDelta::hours(p.sla_hours);
    for (i, d) in draws(cfg, w).into_iter().enumerate() {
        let cid = customer_id(i);
        let english = rng.random_bool(p.english_share);
        let locale = if english { "en" } else { "fi" };
        let (first, last) = names::person(&mut rng, english);
        let email = rng
            .random_bool(p.email_share)
            .then(|| emails.person(&mut rng, first, last));
        let phone = rng
            .random_bool(p.phone_share)
            .then(|| names::mobile(&mut rng));
        let first_at = cafe_wall(w, d.visits[0].u);
        let survey = rng.random_bool(p.survey_consent_share);
        let mut marketing = email.is_some() && rng.random_bool(p.marketing_consent_share);
        let mut marketing_at = marketing.then_some(first_at);
        if marketing && d.visits.len() > 1 && rng.random_bool(0.05) {
            let k = rng.random_range(1..d.visits.len());
            marketing = false;
            marketing_at = Some(cafe_wall(w, d.visits[k].u));
        }
        let channel = weighted(
            &mut rng,
            &[
                ("walk-in", 55.0),
                ("friend", 15.0),
                ("instagram", 15.0),
                ("google-maps", 10.0),
                ("student-event", 5.0),
            ],
        );
        let acquisition_cost = match channel {
            "instagram" => Some(rng.random_range(250..=600_i64)),
            "friend" | "student-event" => Some(350),
            _ => None,
        };
        let claimant = rng.random_bool(p.claimant_share);
        let mobile_share = if email.is_some() {
            beta(&mut rng, 1.0, 4.0)
        } else {
            0.03
        };
        let mood = normal(&mut rng, 0.0, 0.8);
        t.customers
            .row(cid.clone())
            .set("kind", "person")
            .set("name", format!("{first} {last}"))
            .set("email", email.clone())
            .set("phone", phone)
            .set("segment", p.segment)
            .set("locale", locale)
            .set("survey_consent", survey)
            .set("survey_consent_at", first_at)
            .set("marketing_consent", marketing)
            .set("marketing_consent_at", marketing_at)
            .set("acquired_on", first_at.date_naive())
            .set("acquisition_channel", channel)
            .set("acquisition_cost", acquisition_cost)
            .set("currency", "EUR")
            .set("status", "active")
            .push();

        let mut trust = |t: &mut Tables, at: DateTime<Utc>, delta: i64, reason: String, src| {
            t.trust
                .row(Ids::next(&mut ids.trust, "cafe-trust"))
                .set("customer_id", cid.as_str())
                .set("occurred_at", at)
                .set("delta", delta)
                .set("reason", reason)
                .set("source", src)
                .push();
        };
        let mut last_case: Option<LastCase> = None;
        let mut last_survey = f64::NEG_INFINITY;
        // Visits per calendar month without a complaint: (year, month, count).
        let mut good_months: Vec<(i32, u32, i64)> = Vec::new();
        for (k, v) in d.visits.iter().enumerate() {
            let at = cafe_wall(w, v.u);
            t.transactions
                .row(format!("{cid}-t{:04}", k + 1))
                .set("customer_id", cid.as_str())
                .set("occurred_at", at)
                .set("amount", v.cents)
                .set("currency", "EUR")
                .set(
                    "cost",
                    (v.cents as f64 * uniform(&mut rng, 0.26, 0.36)).round() as i64,
                )
                .set(
                    "channel",
                    if rng.random_bool(mobile_share) {
                        "mobile"
                    } else {
                        "counter"
                    },
                )
                .set("quantity", 1 + v.cents / 550)
                .set("kind", "order")
                .push();
            let barista = on_shift(&mut rng, v.u);
            let mut complained = false;

            let complaint_rate = if claimant {
                p.claimant_complaint_per_visit
            } else {
                p.complaint_per_visit
            };
            if rng.random_bool(complaint_rate) {
                let opened = at + TimeDelta::seconds(rng.random_range(60..1200));
                let c = weighted(
                    &mut rng,
                    &CAFE_CATEGORIES
                        .iter()
                        .enumerate()
                        .map(|(n, c)| (n, c.weight))
                        .collect::<Vec<_>>(),
                );
                let cat = &CAFE_CATEGORIES[c];
                let our_fault = rng.random_bool(if claimant { 0.3 } else { cat.our_fault });
                let severity =
                    weighted(&mut rng, &[("low", 0.72), ("medium", 0.24), ("high", 0.04)]);
                let x = rng.random::<f64>();
                let minutes = if x < 0.75 {
                    Some(lognormal(&mut rng, 8.0, 0.6))
                } else if x < 0.95 {
                    Some(lognormal(&mut rng, 240.0, 1.0))
                } else {
                    None
                };
                let resolved = minutes
                    .map(|m| opened + TimeDelta::seconds((m * 60.0).round() as i64 + 30))
                    .filter(|r| *r < w.end);
                let compensation = if our_fault {
                    weighted(
                        &mut rng,
                        &[
                            (Some(350), 0.55),
                            (Some(420), 0.15),
                            (Some(v.cents), 0.15),
                            (None, 0.15),
                        ],
                    )
                } else if rng.random_bool(if claimant { 0.8 } else { 0.3 }) {
                    Some(350)
                } else {
                    None
                };
                if opened < w.end {
                    complained = true;
                    t.cases
                        .row(Ids::next(&mut ids.case, "cafe-case"))
                        .set("customer_id", cid.as_str())
                        .set("opened_at", opened)
                        .set("category", cat.code)
                        .set("severity", severity)
                        .set("our_fault", our_fault)
                        .set("summary", pick_say(&mut rng, cat.summaries, english))
                        .set("resolved_at", resolved)
                        .set("compensation", compensation)
                        .set("currency", "EUR")
                        .set("staff_id", staff_id(barista))
                        .push();
                    let label = say(cat.label, english);
                    if our_fault {
                        trust(
                            t,
                            opened,
                            TRUST.debit,
                            fill(say(texts::TRUST_MISTAKE, english), label),
                            "case",
                        );
                    }
                    let fast = resolved.is_some_and(|r| r - opened <= sla);
                    if let (true, Some(r)) = (fast, resolved) {
                        trust(
                            t,
                            r,
                            TRUST.credit,
                            fill(say(texts::TRUST_RECOVERED, english), label),
                            "case",
                        );
                    }
                    if let (true, true, Some(r)) = (our_fault, email.is_some(), resolved) {
                        let sent = r + TimeDelta::minutes(rng.random_range(60..1200));
                        if rng.random_bool(0.25) && sent < w.end {
                            t.interactions
                                .row(Ids::next(&mut ids.interaction, "cafe-int"))
                                .set("customer_id", cid.as_str())
                                .set("occurred_at", sent)
                                .set("kind", "email")
                                .set("direction", "outbound")
                                .set("staff_id", staff_id(0))
                                .set("outcome", "positive")
                                .set("proactive", false)
                                .set("note", say(texts::CAFE_APOLOGY, english))
                                .push();
                        }
                    }
                    last_case = Some(LastCase {
                        at: opened,
                        category: c,
                        handled_fast: fast,
                    });
                }
            }

            if rng.random_bool(0.012) {
                let kind = if email.is_some() {
                    weighted(&mut rng, &[("visit", 0.5), ("chat", 0.3), ("email", 0.2)])
                } else {
                    weighted(&mut rng, &[("visit", 0.65), ("chat", 0.35)])
                };
                let when = if kind == "visit" {
                    at + TimeDelta::seconds(rng.random_range(0..300))
                } else {
                    at + TimeDelta::minutes(rng.random_range(10..300))
                };
                let outcome = weighted(
                    &mut rng,
                    &[("positive", 0.55), ("neutral", 0.40), ("negative", 0.05)],
                );
                let note = pick_say(&mut rng, texts::CAFE_INBOUND_NOTES, english);
                if when < w.end {
                    t.interactions
                        .row(Ids::next(&mut ids.interaction, "cafe-int"))
                        .set("customer_id", cid.as_str())
                        .set("occurred_at", when)
                        .set("kind", kind)
                        .set("direction", "inbound")
                        .set("staff_id", staff_id(barista))
                        .set("outcome", outcome)
                        .set("proactive", false)
                        .set("note", note)
                        .push();
                    if outcome == "positive" {
                        let reason = say(texts::TRUST_CONTACT, english).to_string();
                        trust(t, when, TRUST.credit, reason, "interaction");
                    }
                }
            }
            if k >= 10 && rng.random_bool(0.015) {
                let when = at + TimeDelta::seconds(rng.random_range(0..300));
                let outcome = if rng.random_bool(0.8) {
                    "positive"
                } else {
                    "neutral"
                };
                let note = pick_say(&mut rng, texts::CAFE_PROACTIVE_NOTES, english);
                if when < w.end {
                    t.interactions
                        .row(Ids::next(&mut ids.interaction, "cafe-int"))
                        .set("customer_id", cid.as_str())
                        .set("occurred_at", when)
                        .set("kind", "visit")
                        .set("direction", "outbound")
                        .set("staff_id", staff_id(barista))
                        .set("outcome", outcome)
                        .set("proactive", true)
                        .set("note", note)
                        .push();
                    if outcome == "positive" {
                        let reason = say(texts::TRUST_CONTACT, english).to_string();
                        trust(t, when, TRUST.credit, reason, "interaction");
                    }
                }
            }

            if survey
                && v.u - last_survey >= p.survey_min_gap_days as f64
                && rng.random_bool(p.survey_answer_per_visit)
            {
                let answered = at + TimeDelta::minutes(rng.random_range(2..90));
                let survey_ref = if email.is_some() && rng.random_bool(0.3) {
                    "email-after-visit"
                } else {
                    "counter-qr"
                };
                let recent = last_case
                    .as_ref()
                    .filter(|c| at - c.at < TimeDelta::days(14));
                let penalty = match recent {
                    Some(c) if c.handled_fast => 0.8,
                    Some(_) => 2.5,
                    None => 0.0,
                };
                let nps = normal(&mut rng, 8.6 + mood - penalty, 1.5)
                    .round()
                    .clamp(0.0, 10.0) as i64;
                let (p_well, p_better) = match nps {
                    9.. => (0.6, 0.15),
                    7 | 8 => (0.35, 0.45),
                    _ => (0.12, 0.75),
                };
                let mut kudos = None;
                let did_well = if rng.random_bool(p_well) {
                    if rng.random_bool(0.25) {
                        kudos = Some(barista);
                        let tpl = texts::pick_say(&mut rng, texts::CAFE_KUDOS, english);
                        Some(fill(tpl, STAFF[barista].0))
                    } else {
                        Some(pick_say(&mut rng, texts::CAFE_DID_WELL, english).to_string())
                    }
                } else {
                    None
                };
                let do_better = if rng.random_bool(p_better) {
                    match recent {
                        Some(c) if nps <= 6 => {
                            Some(say(CAFE_CATEGORIES[c.category].do_better, english))
                        }
                        _ => Some(pick_say(&mut rng, texts::CAFE_DO_BETTER, english)),
                    }
                } else {
                    None
                };
                if answered < w.end {
                    last_survey = v.u;
                    t.feedback
                        .row(Ids::next(&mut ids.feedback, "cafe-fb"))
                        .set("customer_id", cid.as_str())
                        .set("answered_at", answered)
                        .set("survey_ref", survey_ref)
                        .set("nps", nps)
                        .set("did_well", did_well)
                        .set("do_better", do_better)
                        .set("language", locale)
                        .set("staff_id", kudos.map(staff_id))
                        .push();
                    if nps >= 9 {
                        let reason = fill(say(texts::TRUST_PROMOTER, english), &nps.to_string());
                        trust(t, answered, TRUST.credit, reason, "survey");
                    }
                }
            }

            let date = at.date_naive();
            let key = (date.year(), date.month());
            match good_months.last_mut() {
                Some((y, m, n)) if (*y, *m) == key => *n += i64::from(!complained),
                _ => good_months.push((key.0, key.1, i64::from(!complained))),
            }
        }

        // A nightly job credits last month's visits that went without a complaint.
        for (y, m, n) in good_months {
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let Some(first_of_next) = chrono::NaiveDate::from_ymd_opt(next.0, next.1, 1) else {
                continue;
            };
            let at = midnight(first_of_next) + TimeDelta::hours(1);
            if n > 0 && at < w.end {
                let template = if n == 1 {
                    texts::TRUST_VISIT
                } else {
                    texts::TRUST_VISITS
                };
                let reason = say(template, english)
                    .replace("{n}", &n.to_string())
                    .replace("{m}", &format!("{y}-{m:02}"));
                trust(t, at, n * TRUST.credit, reason, "visits");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The latent draws have the stated means, and the BG/NBD mechanics hold: no
    /// customer drops out without a repeat purchase.
    #[test]
    fn latent_draws_follow_the_parameters() {
        let cfg = DemoConfig {
            cafe_customers: 20_000,
            ..DemoConfig::default()
        };
        let w = Window::new(cfg.as_of, cfg.years);
        let d = draws(&cfg, &w);
        let n = d.len() as f64;
        let mean = |f: &dyn Fn(&Draw) -> f64| d.iter().map(f).sum::<f64>() / n;
        let m = CAFE.purchases;
        let g = CAFE.spend;
        // sd of the mean: sqrt(r)/alpha/sqrt(n) = 0.0027; of p: 0.0025; of nu: 0.0035.
        assert!((mean(&|c| c.lambda) - m.r / m.alpha).abs() < 0.012);
        assert!((mean(&|c| c.p) - m.a / (m.a + m.b)).abs() < 0.012);
        assert!((mean(&|c| c.nu) - g.q / g.gamma).abs() < 0.016);
        for c in &d {
            assert!(!c.dropped || c.visits.len() >= 2);
            assert!(c.visits.windows(2).all(|v| v[0].u < v[1].u));
            assert!(c.visits.iter().all(|v| v.u < w.days as f64 && v.cents > 0));
        }
    }
}

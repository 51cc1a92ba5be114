//! The café: customers, purchases (BG/NBD), spend (Gamma-Gamma), complaints,
//! conversations at the counter, survey answers and the trust ledger.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::DemoConfig;
use crate::clock::{Window, cafe_wall};
use crate::draw::{self, beta, exponential, gamma, lognormal, normal, uniform, weighted};
use crate::names::{self, Emails};
use crate::params::{CAFE, CafeParams, RECOVERY, SLA_POLICIES, SMALL_CLAIM_LIMIT};
use crate::service::{self, Outcome};
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

/// The first name of the staff member with external id `id`, if one of this business.
pub(crate) fn staff_first_name(id: &str) -> Option<&'static str> {
    let i: usize = id.strip_prefix("cafe-staff-")?.parse().ok()?;
    STAFF.get(i.checked_sub(1)?).map(|s| s.0)
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

/// A regular buys at least this often in the last 365 days ...
const REGULAR_VISITS: usize = 12;
/// ... and has an owner with this probability.
const OWNED_REGULAR_SHARE: f64 = 0.5;

/// Cases opened in the last this many days are more often still open.
const RECENT_DAYS: i64 = 30;
/// The window of the built-in repurchase effect, days.
const RECOVERY_DAYS: f64 = 180.0;
/// Share of customers with one entry a manager wrote by hand in the trust ledger.
const MANUAL_TRUST_SHARE: f64 = 0.004;

struct Ids {
    case: u32,
    claim: u32,
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
        claim: 0,
        interaction: 0,
        feedback: 0,
        trust: 0,
    };
    let p = &CAFE;
    let draws = draws(cfg, w);
    let claimants = repeat_claimants(cfg, &draws, horizon);
    // Purchases in the last 365 days, per customer (for the owners below).
    let mut last_year = vec![0usize; draws.len()];
    for (i, d) in draws.into_iter().enumerate() {
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

        if rng.random_bool(MANUAL_TRUST_SHARE) {
            let k = rng.random_range(0..d.visits.len());
            let at = cafe_wall(w, d.visits[k].u) + TimeDelta::hours(rng.random_range(2..72));
            if at < w.end {
                let id = Ids::next(&mut ids.trust, "cafe-trust");
                service::manual_trust(&mut rng, t, id, &cid, at, english);
            }
        }
        let mut last_case: Option<LastCase> = None;
        let mut last_survey = f64::NEG_INFINITY;
        let repeat_claims = claimants.get(&i);
        let mut first_case = true;
        let mut claims_in_last_year = 0;
        let mut visits = d.visits.clone();
        let mut k = 0;
        while k < visits.len() {
            let v = visits[k];
            let at = cafe_wall(w, v.u);
            last_year[i] += usize::from(v.u >= horizon - 365.0);
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
            let complaint = match repeat_claims {
                Some(at_visits) => at_visits.contains(&k),
                None => rng.random_bool(p.complaint_per_visit),
            };
            let opened = at + TimeDelta::seconds(rng.random_range(60..1200));
            if complaint && opened < w.end {
                let claimant = repeat_claims.is_some();
                let c = weighted(
                    &mut rng,
                    &CAFE_CATEGORIES
                        .iter()
                        .enumerate()
                        .map(|(n, c)| (n, c.weight))
                        .collect::<Vec<_>>(),
                );
                let cat = &CAFE_CATEGORIES[c];
                let our_fault = if claimant {
                    weighted(
                        &mut rng,
                        &[(Some(false), 0.4), (None, 0.5), (Some(true), 0.1)],
                    )
                } else if rng.random_bool(0.08) {
                    None
                } else {
                    Some(rng.random_bool(cat.our_fault))
                };
                let severity = if claimant {
                    0
                } else {
                    weighted(&mut rng, &[(0, 0.6), (1, 0.3), (2, 0.08), (3, 0.02)])
                };
                let channel = if claimant {
                    "visit"
                } else if email.is_some() {
                    weighted(
                        &mut rng,
                        &[
                            ("visit", 0.7),
                            ("email", 0.15),
                            ("web", 0.1),
                            ("phone", 0.05),
                        ],
                    )
                } else {
                    weighted(&mut rng, &[("visit", 0.85), ("web", 0.1), ("phone", 0.05)])
                };
                let recent = w.end - opened < TimeDelta::days(RECENT_DAYS);
                let outcome = if claimant {
                    Outcome::Within
                } else if recent {
                    weighted(
                        &mut rng,
                        &[
                            (Outcome::Within, 0.45),
                            (Outcome::Late, 0.1),
                            (Outcome::Unresolved, 0.45),
                        ],
                    )
                } else {
                    let s = RECOVERY.outcome_shares;
                    weighted(
                        &mut rng,
                        &[
                            (Outcome::Within, s[0]),
                            (Outcome::Late, s[1]),
                            (Outcome::Unresolved, s[2]),
                        ],
                    )
                };
                let on_spot = (outcome == Outcome::Within && (claimant || rng.random_bool(0.7)))
                    .then(|| {
                        TimeDelta::seconds(
                            (lognormal(&mut rng, 8.0, 0.6) * 60.0).round() as i64 + 30,
                        )
                    });
                let life = service::life(&mut rng, opened, severity, outcome, on_spot, w.end);
                let resolved = life.resolved_at.is_some();
                let apology = resolved
                    .then(|| rng.random_bool(if our_fault == Some(true) { 0.9 } else { 0.4 }));
                let resolution =
                    resolved.then(|| pick_say(&mut rng, texts::resolutions(cat.code), english));
                let owner = if severity >= 2 {
                    rng.random_range(0..2)
                } else {
                    barista
                };
                let case_id = Ids::next(&mut ids.case, "cafe-case");
                t.cases
                    .row(case_id.clone())
                    .set("customer_id", cid.as_str())
                    .set("opened_at", opened)
                    .set("category", cat.code)
                    .set("severity", SLA_POLICIES[severity].severity)
                    .set("status", life.status)
                    .set("channel", channel)
                    .set("our_fault", our_fault)
                    .set("summary", pick_say(&mut rng, cat.summaries, english))
                    .set("first_response_at", life.first_response_at)
                    .set("resolved_at", life.resolved_at)
                    .set("closed_at", life.closed_at)
                    .set("resolution", resolution)
                    .set("apology", apology)
                    .set("fixed_in_presence", resolved.then_some(on_spot.is_some()))
                    .set("staff_id", staff_id(owner))
                    .push();

                // A claim: small money, the customer is right; at most two a year for
                // everybody but the repeat claimants.
                let claim_p = match (claimant, our_fault) {
                    (true, _) => 1.0,
                    (false, Some(true)) => 0.7,
                    (false, None) => 0.4,
                    (false, Some(false)) => 0.2,
                };
                let this_year = w.end - opened < TimeDelta::days(365);
                let capped = !claimant && this_year && claims_in_last_year >= 2;
                if rng.random_bool(claim_p) && !capped {
                    let (amount, kind) = if claimant {
                        weighted(
                            &mut rng,
                            &[
                                ((350, "replacement"), 0.5),
                                ((420, "replacement"), 0.2),
                                ((v.cents.min(SMALL_CLAIM_LIMIT), "refund"), 0.3),
                            ],
                        )
                    } else {
                        // Now and then a catering order gone wrong: above the limit.
                        let catering = rng.random_range(60..160) * 100;
                        weighted(
                            &mut rng,
                            &[
                                ((350, "replacement"), 0.45),
                                ((420, "replacement"), 0.15),
                                ((v.cents, "refund"), 0.2),
                                ((1_000, "voucher"), 0.15),
                                ((catering, "refund"), 0.05),
                            ],
                        )
                    };
                    let claimed_at = opened + TimeDelta::seconds(rng.random_range(60..600));
                    if claimed_at < w.end {
                        claims_in_last_year += usize::from(this_year);
                        let id = Ids::next(&mut ids.claim, "cafe-claim");
                        let c = service::claim(
                            &mut rng, id, case_id, claimed_at, amount, kind, english,
                        );
                        t.claim_drafts.push(c);
                    }
                }
                if let (Some(true), true, Some(r)) = (our_fault, email.is_some(), life.resolved_at)
                {
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
                            .set("purpose", "service")
                            .set("note", say(texts::CAFE_APOLOGY, english))
                            .push();
                    }
                }
                last_case = Some(LastCase {
                    at: opened,
                    category: c,
                    handled_fast: life.outcome == Outcome::Within,
                });
                // The built-in recovery effect: how the first case ends decides whether
                // the customer comes back within 180 days (repeat claimants always do).
                if first_case && !claimant {
                    let q = RECOVERY.repurchase_180[life.outcome as usize];
                    let natural = visits.split_off(k + 1);
                    visits.extend(after_case(&mut rng, &d, &natural, v.u, horizon, q));
                }
                first_case = false;
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
                        .set("purpose", "other")
                        .set("note", note)
                        .push();
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
                        .set("purpose", "check_in")
                        .set("note", note)
                        .push();
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
                }
            }

            k += 1;
        }
    }
    set_owners(cfg, &last_year, t);
}

/// Regulars (at least [`REGULAR_VISITS`] purchases in the last 365 days) have an owner
/// with probability [`OWNED_REGULAR_SHARE`]: the café's owner or its shift lead, half
/// and half (stream 8, so nothing else moves).
fn set_owners(cfg: &DemoConfig, last_year: &[usize], t: &mut Tables) {
    let mut rng = draw::stream(cfg.seed, draw::CAFE_OWNERS);
    let owners: HashMap<String, String> = last_year
        .iter()
        .enumerate()
        .filter(|(_, n)| **n >= REGULAR_VISITS)
        .filter_map(|(i, _)| {
            let owned = rng.random_bool(OWNED_REGULAR_SHARE);
            let who = staff_id(rng.random_range(0..2));
            owned.then(|| (customer_id(i), who))
        })
        .collect();
    t.customers.set_where("owner_id", |id| {
        owners.get(id).map(|s| kanta_domain::Value::Text(s.clone()))
    });
}

/// The purchases after a customer's first case: with probability `q` the customer
/// comes back within 180 days (their own next purchase when it falls within them, else
/// one drawn from their purchase rate truncated to 180 days, and BG/NBD from there);
/// otherwise they never buy again.
fn after_case(
    rng: &mut ChaCha8Rng,
    d: &Draw,
    natural: &[Visit],
    u: f64,
    horizon: f64,
    q: f64,
) -> Vec<Visit> {
    if !rng.random_bool(q) {
        return Vec::new();
    }
    if natural.first().is_some_and(|n| n.u - u <= RECOVERY_DAYS) {
        return natural.to_vec();
    }
    let per_day = d.lambda / 7.0;
    let reach = -(-per_day * RECOVERY_DAYS).exp_m1();
    let x = rng.random::<f64>();
    let mut t = u - (-x * reach).ln_1p() / per_day;
    let mut out = Vec::new();
    let g = CAFE.spend;
    while t < horizon {
        let euros = gamma(rng, g.p, d.nu);
        out.push(Visit {
            u: t,
            cents: ((euros * 100.0).round() as i64).max(1),
        });
        if rng.random::<f64>() < d.p {
            break;
        }
        t += 7.0 * exponential(rng, d.lambda);
    }
    out
}

/// Repeat claimants: among customers with at least 12 purchases in the last 365 days,
/// `CAFE.repeat_claimants` chosen at random, each with 4 to 6 of those purchases (not in
/// the last three days) leading to a small claim. Keyed by customer index: the visits.
fn repeat_claimants(cfg: &DemoConfig, draws: &[Draw], horizon: f64) -> HashMap<usize, Vec<usize>> {
    let mut rng = draw::stream(cfg.seed, draw::CAFE_CLAIMANTS);
    let in_year = |d: &Draw| -> Vec<usize> {
        (0..d.visits.len())
            .filter(|&k| (horizon - 365.0..horizon - 3.0).contains(&d.visits[k].u))
            .collect()
    };
    let eligible: Vec<usize> = (0..draws.len())
        .filter(|&i| in_year(&draws[i]).len() >= 12)
        .collect();
    let n = CAFE.repeat_claimants.min(eligible.len());
    let mut out = HashMap::new();
    for pick in rand::seq::index::sample(&mut rng, eligible.len(), n) {
        let i = eligible[pick];
        let visits = in_year(&draws[i]);
        let claims = rng.random_range(4..=6);
        let mut at: Vec<usize> = rand::seq::index::sample(&mut rng, visits.len(), claims)
            .into_iter()
            .map(|j| visits[j])
            .collect();
        at.sort_unstable();
        out.insert(i, at);
    }
    out
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

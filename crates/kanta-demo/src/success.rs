//! Customer success at the B2B firm: onboarding checklists (templates per segment,
//! an onboarding for every account won in the last [`crate::ONBOARDING`]`.recent_days`, its
//! tasks done on time, late or not at all) and the goals agreed with each active
//! account, with progress notes in the account's language.
//!
//! Everything here draws from its own stream ([`draw::B2B_SUCCESS`]), so adding it
//! moves none of the firm's other rows. Whether an account's onboarding runs on time
//! is drawn with its churn ([`crate::b2b::Draw::on_time`]): a completed onboarding is
//! one of the stated churn factors.

use chrono::{NaiveDate, TimeDelta};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::b2b::Served;
use crate::clock::{Window, office_time, prev_weekday};
use crate::draw::{self, uniform, weighted};
use crate::tables::Tables;
use crate::texts::{Text, fill, say};

/// A step of a checklist: key, title, due days after the start, owner role, and
/// what the customer is told (Finnish, English).
type Step = (&'static str, &'static str, i64, &'static str, Text);

const KICKOFF: Step = (
    "kickoff",
    "Kick-off meeting",
    0,
    "account manager",
    (
        "Tapaamme ja sovimme yhdessä tavoitteet ja aikataulun.",
        "We meet and agree the goals and the schedule together.",
    ),
);
const ADMIN_USERS: Step = (
    "admin-users",
    "Admin users set up",
    7,
    "customer",
    (
        "Nimeätte pääkäyttäjät, ja he kutsuvat muut käyttäjänne palveluun.",
        "You name your admin users, who invite your other users.",
    ),
);
const INTEGRATION: Step = (
    "integration",
    "Integration live",
    21,
    "support",
    (
        "Kytkemme palvelun järjestelmiinne ja testaamme sen kanssanne.",
        "We connect the service to your systems and test it with you.",
    ),
);
const TRAINING: Step = (
    "training",
    "User training",
    30,
    "account manager",
    (
        "Koulutamme käyttäjänne etänä tai paikan päällä.",
        "We train your users, remotely or on site.",
    ),
);
const FIRST_REVIEW: Step = (
    "first-review",
    "First review",
    60,
    "account manager",
    (
        "Käymme yhdessä läpi käytön ja tavoitteiden edistymisen.",
        "We go through usage and the progress on your goals together.",
    ),
);
const MIGRATION: Step = (
    "migration",
    "Data migrated",
    30,
    "support",
    (
        "Siirrämme vanhat tietonne palveluun ja tarkistamme ne kanssanne.",
        "We move your old data into the service and check it with you.",
    ),
);
const SUCCESS_PLAN: Step = (
    "success-plan",
    "Success plan and goals agreed",
    45,
    "account manager",
    (
        "Kirjaamme yhdessä mitattavat tavoitteet ja niiden aikataulun.",
        "We write down measurable goals and their schedule together.",
    ),
);
const BUSINESS_REVIEW: Step = (
    "business-review",
    "First business review",
    90,
    "account manager",
    (
        "Arvioimme johdon kanssa, mitä palvelu on tuonut ja mitä seuraavaksi.",
        "We review with your management what the service has brought and what is next.",
    ),
);

/// The checklists: id, name, segment, steps.
pub(crate) const TEMPLATES: [(&str, &str, &str, &[Step]); 3] = [
    (
        "onb-b2b-start",
        "B2B start",
        "b2b-small",
        &[KICKOFF, ADMIN_USERS, INTEGRATION, TRAINING, FIRST_REVIEW],
    ),
    (
        "onb-b2b-start-mid",
        "B2B start (mid)",
        "b2b-mid",
        &[KICKOFF, ADMIN_USERS, INTEGRATION, TRAINING, FIRST_REVIEW],
    ),
    (
        "onb-enterprise",
        "Enterprise start",
        "b2b-enterprise",
        &[
            KICKOFF,
            ADMIN_USERS,
            INTEGRATION,
            MIGRATION,
            TRAINING,
            SUCCESS_PLAN,
            BUSINESS_REVIEW,
        ],
    ),
];

fn step_id(template: &str, position: usize) -> String {
    format!("{template}-{}", position + 1)
}

/// Writes the templates and their steps.
pub(crate) fn templates(t: &mut Tables) {
    for (id, name, segment, steps) in TEMPLATES {
        t.onboarding_templates
            .row(id)
            .set("name", name)
            .set("segment", segment)
            .set("plan", None::<String>)
            // Started automatically for customers added later. The demo's own
            // customers are written before the templates and get the onboardings the
            // demo writes itself; a second `kanta demo` run re-writes existing
            // customers, which start nothing (the core acts only on inserted rows).
            .set("auto_start", true)
            .set("active", true)
            .push();
        for (k, (_, title, due_days, role, text)) in steps.iter().enumerate() {
            t.onboarding_steps
                .row(step_id(id, k))
                .set("template_id", id)
                .set("position", k as i64 + 1)
                .set("title", *title)
                .set("due_days", *due_days)
                .set("owner_role", *role)
                .set("customer_text", format!("{}\n\n{}", text.0, text.1))
                .push();
        }
    }
}

const STALLED_NOTE: Text = (
    "Odottaa asiakkaan IT-osastoa.",
    "Waiting for the customer's IT department.",
);
const LATE_NOTE: Text = (
    "Viivästyi asiakkaan lomien vuoksi.",
    "Delayed by the customer's holidays.",
);

/// A goal's measure: title, measure (Finnish, English), baseline range, the target
/// as a function of the baseline.
struct Measure {
    title: Text,
    measure: Text,
    baseline: (f64, f64),
    target: fn(f64) -> f64,
}

const MEASURES: [Measure; 5] = [
    Measure {
        title: ("Nopeampi tilausten käsittely", "Faster order handling"),
        measure: ("tilausten käsittelyaika (h)", "order handling time (h)"),
        baseline: (24.0, 72.0),
        target: |b| (b * 0.5).round(),
    },
    Measure {
        title: ("Kaikki käyttäjät mukaan", "Everyone on board"),
        measure: (
            "aktiivisten käyttäjien osuus (%)",
            "share of active users (%)",
        ),
        baseline: (30.0, 60.0),
        target: |_| 85.0,
    },
    Measure {
        title: ("Vähemmän käsityötä", "Less manual work"),
        measure: (
            "käsin tehdyt työtunnit viikossa (h)",
            "manual work hours a week (h)",
        ),
        baseline: (20.0, 60.0),
        target: |b| (b * 0.6).round(),
    },
    Measure {
        title: ("Nopeampi laskutus", "Faster invoicing"),
        measure: (
            "laskutuksen läpimenoaika (pv)",
            "invoicing lead time (days)",
        ),
        baseline: (8.0, 20.0),
        target: |b| (b * 0.5).round(),
    },
    Measure {
        title: ("Parempi asiakaskokemus", "Better customer experience"),
        measure: ("asiakkaidenne NPS", "your customers' NPS"),
        baseline: (5.0, 30.0),
        target: |b| b + 20.0,
    },
];

const NOTE_ON_TRACK: Text = (
    "Edistytään suunnitellusti, mittari nyt {}.",
    "On track, the measure is now {}.",
);
const NOTE_BEHIND: Text = (
    "Edistys on hidastunut, mittari nyt {}. Sovitaan seuraavat askeleet.",
    "Progress has slowed, the measure is now {}. Agreeing the next steps.",
);

/// One account's onboarding and goals.
pub(crate) fn account(rng: &mut ChaCha8Rng, w: &Window, a: &Served, t: &mut Tables) {
    if let Some(on_time) = a.on_time {
        onboarding(rng, w, a, on_time, t);
    }
    if a.ended_on.is_none() {
        goals(rng, w, a, t);
    }
}

fn onboarding(rng: &mut ChaCha8Rng, w: &Window, a: &Served, on_time: bool, t: &mut Tables) {
    let (template, _, _, steps) = TEMPLATES[a.tier];
    let id = format!("{}-onb", a.id);
    let start = a.started_on;
    let due = |k: usize| start + TimeDelta::days(steps[k].2);
    // The step that stalls (never done) when the onboarding is not on time: one of
    // those already due after the kick-off, else none.
    let due_now: Vec<usize> = (1..steps.len()).filter(|&k| due(k) <= w.as_of).collect();
    let stalls = (!on_time && !due_now.is_empty()).then(|| draw::pick(rng, &due_now));
    let mut last_done: Option<NaiveDate> = None;
    let mut all_done = true;
    for (k, (_, _, _, role, _)) in steps.iter().enumerate() {
        let due_on = due(k);
        let late = !on_time && rng.random_bool(0.4);
        let day = if late {
            due_on + TimeDelta::days(rng.random_range(3..=15))
        } else {
            due_on - TimeDelta::days(rng.random_range(0..=3).min(steps[k].2))
        };
        let done = stalls.is_none_or(|s| k < s);
        let day = prev_weekday(day);
        let at = office_time(rng, day.max(start));
        let in_time = at < w.end && a.ended_on.is_none_or(|e| at.date_naive() < e);
        let done_at = (done && in_time).then_some(at);
        all_done &= done_at.is_some();
        if let Some(at) = done_at {
            last_done = Some(last_done.map_or(at.date_naive(), |d| d.max(at.date_naive())));
        }
        let staff = match *role {
            "support" => a.support.as_str(),
            _ => a.manager_at_start.as_str(),
        };
        let note = if stalls == Some(k) {
            Some(say(STALLED_NOTE, a.english))
        } else if late && done_at.is_some() {
            Some(say(LATE_NOTE, a.english))
        } else {
            None
        };
        t.onboarding_tasks
            .row(format!("{id}-{}", k + 1))
            .set("onboarding_id", id.as_str())
            .set("step_id", step_id(template, k))
            .set("due_on", due_on)
            .set("done_at", done_at)
            .set("staff_id", done_at.map(|_| staff))
            .set("note", note)
            .push();
    }
    let (status, completed_on) = if a.ended_on.is_some() {
        ("cancelled", None)
    } else if all_done {
        ("completed", last_done)
    } else {
        ("active", None)
    };
    t.onboardings
        .row(id.as_str())
        .set("customer_id", a.id.as_str())
        .set("template_id", template)
        .set("started_on", start)
        .set("status", status)
        .set("completed_on", completed_on)
        .push();
}

fn goals(rng: &mut ChaCha8Rng, w: &Window, a: &Served, t: &mut Tables) {
    let healthy = a.plant == Some("healthy");
    let count = if healthy {
        1
    } else {
        match a.tier {
            0 => weighted(rng, &[(1, 0.6), (2, 0.3), (3, 0.1)]),
            1 => weighted(rng, &[(1, 0.3), (2, 0.5), (3, 0.2)]),
            _ => weighted(rng, &[(1, 0.1), (2, 0.4), (3, 0.5)]),
        }
    };
    // Agreed at least a week after the start, at most 330 days before as_of, at the
    // latest two weeks before it.
    let first = (a.started_on + TimeDelta::days(7)).max(w.as_of - TimeDelta::days(330));
    let last = w.as_of - TimeDelta::days(14);
    if first > last {
        return;
    }
    // Accounts about to leave or with a stalled onboarding fall behind.
    let behind = a.leave_on.is_some() || a.on_time == Some(false);
    let picked = rand::seq::index::sample(rng, MEASURES.len(), count);
    for (g, m) in picked.into_iter().enumerate() {
        let m = &MEASURES[m];
        let span = (last - first).num_days();
        let agreed_on = if healthy {
            last.max(first) - TimeDelta::days(46.min(span))
        } else {
            first + TimeDelta::days(rng.random_range(0..=span))
        };
        let days = if healthy {
            180
        } else {
            draw::pick(rng, &[90, 120, 180, 270, 365])
        };
        let due_on = agreed_on + TimeDelta::days(days);
        let baseline = uniform(rng, m.baseline.0, m.baseline.1).round();
        let target = (m.target)(baseline);
        let elapsed = (w.as_of - agreed_on).num_days() as f64;
        let expected = (elapsed / days as f64).clamp(0.0, 1.0);
        let pace = if behind {
            uniform(rng, 0.1, 0.5)
        } else if healthy {
            1.0
        } else {
            uniform(rng, 0.8, 1.15)
        };
        let progress = (expected * pace).min(1.0);
        let value_at = |p: f64| ((baseline + p * (target - baseline)) * 10.0).round() / 10.0;
        let current = value_at(progress);
        let status = if due_on <= w.as_of {
            if progress >= 0.95 {
                "achieved"
            } else {
                "missed"
            }
        } else if expected - progress > 0.25 {
            "at_risk"
        } else {
            "on_track"
        };
        let goal_id = format!("{}-g{}", a.id, g + 1);
        t.goals
            .row(goal_id.as_str())
            .set("customer_id", a.id.as_str())
            .set("agreed_on", agreed_on)
            .set("title", say(m.title, a.english))
            .set("measure", say(m.measure, a.english))
            .set("baseline", baseline)
            .set("target", target)
            .set("current", current)
            .set("due_on", due_on)
            .set("status", status)
            .set("staff_id", a.manager_now.as_str())
            .push();
        // A progress note about once a month up to today (or the due date).
        let until = due_on.min(w.as_of);
        let mut day = agreed_on + TimeDelta::days(rng.random_range(25..=40));
        let mut k = 0;
        while day <= until {
            k += 1;
            let share = ((day - agreed_on).num_days() as f64 / days as f64).clamp(0.0, 1.0);
            let p = (share * pace * uniform(rng, 0.9, 1.1)).min(1.0);
            let value = value_at(p);
            let text = if share - p > 0.25 {
                NOTE_BEHIND
            } else {
                NOTE_ON_TRACK
            };
            let shown = if value.fract() == 0.0 {
                format!("{value:.0}")
            } else if a.english {
                format!("{value:.1}")
            } else {
                format!("{value:.1}").replace('.', ",")
            };
            t.goal_notes
                .row(format!("{goal_id}-n{k}"))
                .set("goal_id", goal_id.as_str())
                .set("noted_on", day)
                .set("value", value)
                .set("note", fill(say(text, a.english), &shown))
                .set("staff_id", a.manager_now.as_str())
                .push();
            day += TimeDelta::days(rng.random_range(25..=40));
        }
    }
}

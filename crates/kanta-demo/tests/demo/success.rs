//! Whom to contact today (issue 12) in the demo's rows: owners, the planted accounts,
//! the purposes of contacts, the stated churn factors, onboarding and goals, as
//! `docs/demo.md` states them.

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;
use kanta_demo::{ACCOUNT_MANAGER, CHURN_FACTORS, ChurnFactor, DemoConfig, PLANTED};

use crate::common::{batch, default_data, end_of, rows};

#[test]
fn the_account_manager_signs_in_and_owns_the_planted_accounts() {
    let data = default_data();
    let staff = rows(batch(data, "staff"))
        .find(|r| r.id() == ACCOUNT_MANAGER.staff_id)
        .expect("the account manager's staff row");
    assert_eq!(staff.text("email"), Some(ACCOUNT_MANAGER.email));
    assert_eq!(staff.text("name"), Some(ACCOUNT_MANAGER.name));
    assert_eq!(staff.bool("active"), Some(true));
    let customers: HashMap<&str, _> = rows(batch(data, "customers"))
        .map(|r| (r.id(), r))
        .collect();
    for (id, _) in PLANTED {
        let c = customers[id];
        assert_eq!(c.text("owner_id"), Some(ACCOUNT_MANAGER.staff_id), "{id}");
        assert_eq!(c.text("status"), Some("active"), "{id}");
    }
    let subs: HashMap<&str, _> = rows(batch(data, "subscriptions"))
        .map(|r| (r.text("customer_id").unwrap(), r))
        .collect();
    for (id, _) in PLANTED {
        let s = subs[id];
        assert!(
            s.int("amount").unwrap() >= 19_900,
            "{id}: a meaningful value"
        );
        assert!(s.date("ended_on").is_none());
    }
    let monthly = subs
        .values()
        .filter(|s| s.text("period") == Some("month"))
        .count();
    let ended = customers
        .values()
        .filter(|c| c.text("status") == Some("ended"))
        .count();
    eprintln!(
        "subscriptions: {monthly} monthly of {}; {ended} accounts ended",
        subs.len()
    );
    // The healthy one renews more than 60 days ahead (no renewal reason).
    let healthy = subs[PLANTED[3].0];
    assert!(healthy.date("renews_on").unwrap() > DemoConfig::default().as_of + TimeDelta::days(60));
    // Every account has an owner; some café regulars do too.
    let owned_cafe = customers
        .values()
        .filter(|c| c.text("kind") == Some("person") && c.text("owner_id").is_some())
        .count();
    eprintln!("café customers with an owner: {owned_cafe}");
    assert!((50..=1000).contains(&owned_cafe), "{owned_cafe}");
}

#[test]
fn the_planted_accounts_show_what_they_should() {
    let data = default_data();
    let cfg = DemoConfig::default();
    let end = end_of(&cfg);
    let [usage, detractor, trust, healthy] = PLANTED.map(|p| p.0);

    // Usage cut by half four weeks ago: the last four readings against the twelve
    // before.
    let mut weekly: Vec<(chrono::DateTime<chrono::Utc>, f64)> = rows(batch(data, "usage"))
        .filter(|u| {
            u.text("customer_id") == Some(usage) && u.text("metric") == Some("active_users")
        })
        .map(|u| (u.time("occurred_at").unwrap(), u.float("value").unwrap()))
        .collect();
    weekly.sort_by_key(|w| w.0);
    let n = weekly.len();
    let mean = |s: &[(chrono::DateTime<chrono::Utc>, f64)]| {
        s.iter().map(|w| w.1).sum::<f64>() / s.len() as f64
    };
    let recent = mean(&weekly[n - 4..]);
    let before = mean(&weekly[n - 16..n - 4]);
    eprintln!("{usage}: {recent:.1} users a week against {before:.1}");
    assert!(recent < 0.6 * before && recent > 0.4 * before);

    // A detractor's answer yesterday and no contact since.
    let answer = rows(batch(data, "feedback"))
        .filter(|f| f.text("customer_id") == Some(detractor))
        .max_by_key(|f| f.time("answered_at"))
        .unwrap();
    assert!(answer.int("nps").unwrap() <= 6);
    let day = answer
        .time("answered_at")
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Helsinki);
    assert_eq!(day.date_naive(), cfg.as_of - TimeDelta::days(1));
    let last_contact = rows(batch(data, "interactions"))
        .filter(|i| i.text("customer_id") == Some(detractor))
        .filter_map(|i| i.time("occurred_at"))
        .max()
        .unwrap();
    assert!(last_contact < answer.time("answered_at").unwrap());

    // Our mistakes: three our-fault cases in the last two months.
    let mistakes = rows(batch(data, "cases"))
        .filter(|c| c.text("customer_id") == Some(trust) && c.bool("our_fault") == Some(true))
        .filter(|c| end - c.time("opened_at").unwrap() < TimeDelta::days(60))
        .count();
    assert!(mistakes >= 3, "{mistakes}");

    // Healthy: a proactive check-in in the last 7 days, no case, no detractor.
    assert!(
        rows(batch(data, "interactions")).any(|i| i.text("customer_id") == Some(healthy)
            && i.bool("proactive") == Some(true)
            && i.text("purpose") == Some("check_in")
            && end - i.time("occurred_at").unwrap() < TimeDelta::days(7))
    );
    assert!(!rows(batch(data, "cases")).any(|c| c.text("customer_id") == Some(healthy)));
    assert!(
        !rows(batch(data, "feedback"))
            .any(|f| f.text("customer_id") == Some(healthy) && f.int("nps").is_some_and(|n| n <= 6))
    );
    let goals: Vec<_> = rows(batch(data, "goals"))
        .filter(|g| g.text("customer_id") == Some(healthy))
        .collect();
    assert!(goals.iter().all(|g| g.text("status") == Some("on_track")
        && g.date("due_on").unwrap() > cfg.as_of + TimeDelta::days(14)));
}

#[test]
fn contacts_say_what_they_were_about() {
    let data = default_data();
    let mut by: HashMap<(&str, bool), usize> = HashMap::new();
    for i in rows(batch(data, "interactions")) {
        let purpose = i.text("purpose").expect("every contact has a purpose");
        *by.entry((purpose, i.bool("proactive").unwrap()))
            .or_default() += 1;
    }
    eprintln!("contacts by (purpose, proactive): {by:?}");
    for key in [
        ("check_in", true),
        ("onboarding", true),
        ("sales", true),
        ("renewal", true),
        ("service", false),
    ] {
        assert!(by.get(&key).is_some_and(|n| *n >= 10), "{key:?}");
    }
}

#[test]
fn the_stated_factors_raise_and_lower_the_odds() {
    // The odds ratios docs/demo.md states.
    for f in CHURN_FACTORS {
        assert!(f.odds_ratio(true, false) > 10.0, "{}", f.key);
        assert!(f.odds_ratio(true, true) > 3.0, "{}", f.key);
        assert!(f.odds_ratio(false, false) < 1.0, "{}", f.key);
    }
    let theta = 1.0 / 16.0;
    let none = ChurnFactor::leave_probability(theta, false, &CHURN_FACTORS.map(|f| (f, false)));
    let usage = ChurnFactor::leave_probability(
        theta,
        false,
        &CHURN_FACTORS.map(|f| (f, f.key == "usage_trend")),
    );
    eprintln!("monthly θ = 1/16: no sign {none:.4}, falling usage alone {usage:.4}");
    assert!(none < 0.01 && usage > 0.2);

    // In the rows: a pulse detractor answer falls in the 60 days before a departure
    // far more often than in any 60 days of an account that stays.
    let data = default_data();
    let cfg = DemoConfig::default();
    let mut pulses: HashMap<&str, Vec<chrono::NaiveDate>> = HashMap::new();
    for f in rows(batch(data, "feedback")).filter(|f| f.text("survey_ref") == Some("nps-pulse")) {
        pulses
            .entry(f.text("customer_id").unwrap())
            .or_default()
            .push(f.time("answered_at").unwrap().date_naive());
    }
    let (mut left, mut left_with) = (0.0, 0.0);
    let (mut stay_days, mut stay_pulses) = (0.0, 0.0);
    for c in rows(batch(data, "customers")).filter(|c| c.text("kind") == Some("company")) {
        let mine = pulses.get(c.id()).cloned().unwrap_or_default();
        match c.date("ended_on") {
            Some(end) => {
                left += 1.0;
                let hit = mine
                    .iter()
                    .any(|d| *d > end - TimeDelta::days(60) && *d <= end);
                left_with += f64::from(u8::from(hit));
            }
            None => {
                stay_days += (cfg.as_of - c.date("acquired_on").unwrap()).num_days() as f64;
                stay_pulses += mine.len() as f64;
            }
        }
    }
    let before_leaving = left_with / left;
    let per_60_days = stay_pulses / stay_days * 60.0;
    eprintln!(
        "pulse detractor answers: in the 60 days before leaving {before_leaving:.3}, \
         per 60 days of staying {per_60_days:.3}"
    );
    assert!(before_leaving > 4.0 * per_60_days);
}

#[test]
fn onboarding_and_goals() {
    let data = default_data();
    let cfg = DemoConfig::default();
    let templates: Vec<_> = rows(batch(data, "onboarding_templates")).collect();
    assert_eq!(templates.len(), 3);
    assert!(
        templates
            .iter()
            .any(|t| t.text("name") == Some("B2B start"))
    );
    assert!(
        templates
            .iter()
            .any(|t| t.text("name") == Some("Enterprise start"))
    );
    let steps: Vec<_> = rows(batch(data, "onboarding_steps"))
        .filter(|s| s.text("template_id") == Some("onb-b2b-start"))
        .map(|s| (s.int("due_days").unwrap(), s.text("owner_role").unwrap()))
        .collect();
    assert_eq!(
        steps.iter().map(|s| s.0).collect::<Vec<_>>(),
        [0, 7, 21, 30, 60]
    );
    let mut status: HashMap<&str, usize> = HashMap::new();
    for o in rows(batch(data, "onboardings")) {
        *status.entry(o.text("status").unwrap()).or_default() += 1;
        assert!(o.date("started_on").unwrap() >= cfg.as_of - TimeDelta::days(270));
    }
    eprintln!("onboardings by status: {status:?}");
    assert!(status.get("active").is_some_and(|n| *n >= 10));
    assert!(status.get("completed").is_some_and(|n| *n >= 3));
    // Stalled: a step not done 7 days after it was due, in an active onboarding.
    let active: HashSet<&str> = rows(batch(data, "onboardings"))
        .filter(|o| o.text("status") == Some("active"))
        .map(|o| o.id())
        .collect();
    let stalled: HashSet<&str> = rows(batch(data, "onboarding_tasks"))
        .filter(|t| active.contains(t.text("onboarding_id").unwrap()))
        .filter(|t| t.time("done_at").is_none())
        .filter(|t| t.date("due_on").unwrap() + TimeDelta::days(7) < cfg.as_of)
        .map(|t| t.text("onboarding_id").unwrap())
        .collect();
    eprintln!("stalled onboardings: {}", stalled.len());
    assert!(stalled.len() >= 3);

    let mut status: HashMap<&str, usize> = HashMap::new();
    let mut due_soon = 0;
    let mut per: HashMap<&str, usize> = HashMap::new();
    for g in rows(batch(data, "goals")) {
        *status.entry(g.text("status").unwrap()).or_default() += 1;
        *per.entry(g.text("customer_id").unwrap()).or_default() += 1;
        let due = g.date("due_on").unwrap();
        due_soon += usize::from(due > cfg.as_of && due <= cfg.as_of + TimeDelta::days(14));
    }
    eprintln!("goals by status: {status:?}, {due_soon} due within 14 days");
    assert!(per.values().all(|n| (1..=3).contains(n)));
    assert!(status.get("at_risk").is_some_and(|n| *n >= 10));
    assert!(status.get("on_track").is_some_and(|n| *n >= 50));
    assert!(due_soon >= 1);
    let notes = batch(data, "goal_notes").len();
    eprintln!("goal notes: {notes}");
    assert!(notes >= 100);
    // In the account's language.
    let english: HashSet<&str> = rows(batch(data, "customers"))
        .filter(|c| c.text("locale") == Some("en"))
        .map(|c| c.id())
        .collect();
    for g in rows(batch(data, "goals")) {
        let m = g.text("measure").unwrap();
        let finnish = m.contains("käsittely")
            || m.contains("osuus")
            || m.contains("työtunnit")
            || m.contains("läpimenoaika")
            || m.contains("asiakkaidenne");
        assert_eq!(
            english.contains(g.text("customer_id").unwrap()),
            !finnish,
            "{m}"
        );
    }
}

//! Every row fits its entity, refers to rows written before it, and lies in the window.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use kanta_demo::{CafeClock, DemoConfig, PLANS, TRUST, WriteBatch, generate};
use kanta_domain::schema::{ENTITIES, Kind};
use kanta_domain::value::{Email, ParseContext, parse_field};
use kanta_domain::{Currency, Money, Value};

use crate::common::{batch, default_data, end_of, rows};

/// Columns that are `NOT NULL` with a default in the migrations: writing a null there
/// fails, so the demo must always fill them.
const NOT_NULL_WITH_DEFAULT: &[(&str, &str)] = &[
    ("staff", "active"),
    ("customers", "kind"),
    ("customers", "status"),
    ("contacts", "is_primary"),
    ("transactions", "kind"),
    ("subscriptions", "period"),
    ("cases", "severity"),
    ("trust", "source"),
];

fn check_shape(data: &[WriteBatch]) {
    assert_eq!(data.len(), ENTITIES.len());
    let eur: Currency = "EUR".parse().unwrap();
    let cx = ParseContext {
        currency: eur,
        date_format: None,
        zone: kanta_domain::time::Tz::UTC,
    };
    for (b, e) in data.iter().zip(ENTITIES) {
        assert_eq!(b.entity.name, e.name, "batches follow the schema order");
        assert_eq!(b.source, "demo");
        assert_eq!(b.rows_read, b.len() as u64);
        assert!(b.create_customers.is_empty());
        let names: HashSet<&str> = b.fields.iter().map(|f| f.name).collect();
        assert_eq!(names.len(), b.fields.len(), "{}: a field twice", e.name);
        for f in e.fields {
            let needed = f.required || NOT_NULL_WITH_DEFAULT.contains(&(e.name, f.name));
            assert!(
                !needed || names.contains(f.name),
                "{} lacks {}",
                e.name,
                f.name
            );
        }
        for f in &b.fields {
            assert!(
                std::ptr::eq(e.field(f.name).unwrap(), *f),
                "{}.{}",
                e.name,
                f.name
            );
        }
        assert_eq!(b.values.len() % b.stride(), 0, "{}: whole rows", e.name);
        for row in b.values.chunks(b.stride()) {
            let id = row[0]
                .as_text()
                .unwrap_or_else(|| panic!("{}: id {:?}", e.name, row[0]));
            assert!(!id.is_empty() && id.trim() == id);
            for (f, v) in b.fields.iter().zip(&row[1..]) {
                let what = format!("{} {id} {}", e.name, f.name);
                if f.required || NOT_NULL_WITH_DEFAULT.contains(&(e.name, f.name)) {
                    assert!(!v.is_null(), "{what} is required");
                }
                if v.is_null() {
                    continue;
                }
                match (f.kind, v) {
                    (Kind::Text | Kind::LongText | Kind::Ref(_), Value::Text(s)) => {
                        assert!(!s.is_empty() && s.trim() == s, "{what}: {s:?}")
                    }
                    (Kind::Currency, Value::Text(s)) => assert_eq!(s, "EUR", "{what}"),
                    (Kind::Choice(allowed), Value::Text(s)) => {
                        assert!(allowed.contains(&s.as_str()), "{what}: {s}")
                    }
                    (Kind::Phone, Value::Text(s)) => assert_eq!(
                        kanta_domain::value::Phone::parse(s).unwrap().as_str(),
                        s,
                        "{what}"
                    ),
                    (Kind::Email, Value::Text(s)) => {
                        assert_eq!(Email::parse(s).unwrap().as_str(), s, "{what}")
                    }
                    (Kind::Int { min, max }, Value::Int(i)) => {
                        assert!((min..=max).contains(i), "{what}: {i}")
                    }
                    (Kind::Money, Value::Int(_)) => {}
                    (Kind::Float, Value::Float(x)) => assert!(x.is_finite(), "{what}"),
                    (Kind::Bool, Value::Bool(_)) => {}
                    (Kind::Date, Value::Date(_)) => {}
                    (Kind::Timestamp, Value::Time(_)) => {}
                    (k, v) => panic!("{what}: {v:?} does not fit {k:?}"),
                }
                // What an export would write reads back as the same value.
                let text = match (f.kind, v) {
                    (Kind::Money, Value::Int(minor)) => Money::new(*minor, eur).plain(),
                    _ => v.canonical(),
                };
                assert_eq!(&parse_field(f.kind, &text, &cx).unwrap(), v, "{what}");
            }
        }
    }
}

#[test]
fn rows_fit_their_entities() {
    check_shape(default_data());
}

#[test]
fn small_and_odd_configurations_fit_too() {
    for cfg in [
        DemoConfig {
            seed: 1,
            as_of: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            cafe_customers: 40,
            b2b_accounts: 12,
            years: 1,
        },
        DemoConfig {
            seed: 2,
            cafe_customers: 0,
            b2b_accounts: 0,
            ..DemoConfig::default()
        },
        DemoConfig {
            seed: 3,
            as_of: NaiveDate::from_ymd_opt(2031, 1, 4).unwrap(),
            cafe_customers: 200,
            b2b_accounts: 40,
            years: 0,
        },
    ] {
        let data = generate(&cfg);
        check_shape(&data);
        check_refs(&data);
        check_window(&cfg, &data);
    }
}

#[test]
fn external_ids_are_unique() {
    for b in default_data() {
        let mut seen = HashSet::new();
        for r in rows(b) {
            assert!(seen.insert(r.id()), "{} {} twice", b.entity.name, r.id());
        }
    }
}

fn check_refs(data: &[WriteBatch]) {
    let mut written: HashMap<&str, HashSet<&str>> = HashMap::new();
    for b in data {
        for f in b.fields.iter() {
            let Kind::Ref(target) = f.kind else { continue };
            let known = written
                .get(target)
                .unwrap_or_else(|| panic!("{} refers to {target}, not written yet", b.entity.name));
            for r in rows(b) {
                if let Some(id) = r.text(f.name) {
                    assert!(
                        known.contains(id),
                        "{} {}: no {target} {id}",
                        b.entity.name,
                        r.id()
                    );
                }
            }
        }
        written.insert(b.entity.name, rows(b).map(|r| r.id()).collect());
    }
}

#[test]
fn references_point_to_rows_written_before() {
    check_refs(default_data());
}

fn check_window(cfg: &DemoConfig, data: &[WriteBatch]) {
    let end = end_of(cfg);
    let years = cfg.years.max(1) as i32;
    let first_day = NaiveDate::from_ymd_opt(cfg.as_of.year() - years, 1, 1).unwrap();
    for b in data {
        for r in rows(b) {
            for f in b.fields.iter() {
                match r.get(f.name) {
                    Value::Time(t) => {
                        assert!(
                            *t < end,
                            "{} {} {}: {t} after as_of",
                            b.entity.name,
                            r.id(),
                            f.name
                        );
                        assert!(
                            t.date_naive() >= first_day,
                            "{} {}: {t}",
                            b.entity.name,
                            r.id()
                        );
                    }
                    Value::Date(d) if f.name == "renews_on" => assert!(*d > cfg.as_of),
                    // Onboarding steps and goals may be due after as_of.
                    Value::Date(_) if f.name == "due_on" => {}
                    Value::Date(d) => {
                        assert!(
                            *d <= cfg.as_of && *d >= first_day,
                            "{} {}: {d}",
                            b.entity.name,
                            r.id()
                        )
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn nothing_happens_after_as_of() {
    check_window(&DemoConfig::default(), default_data());
}

#[test]
fn sizes_are_near_the_targets() {
    let data = default_data();
    let n = |e: &str| batch(data, e).len();
    let customers = batch(data, "customers");
    let cafe = rows(customers)
        .filter(|r| r.text("segment") == Some("kahvila"))
        .count();
    let companies = rows(customers)
        .filter(|r| r.text("kind") == Some("company"))
        .count();
    // The generated populations and the planted customers (docs/demo.md): three
    // costly café regulars, five café customers the business ended, three costly firms.
    let planted = |kind: &str| {
        rows(customers)
            .filter(|r| kanta_demo::is_planted(r.id()) && r.text("kind") == Some(kind))
            .count()
    };
    assert_eq!((planted("person"), planted("company")), (8, 3));
    assert_eq!(cafe, 5_000 + 8);
    assert_eq!(companies, 300 + 3);
    assert_eq!(n("customers"), 5_311);
    assert_eq!(n("subscriptions"), 303);
    assert_eq!(n("staff"), 19);
    assert!((300..=900).contains(&n("contacts")), "{}", n("contacts"));
    assert!(
        (35_000..=75_000).contains(&n("transactions")),
        "{}",
        n("transactions")
    );
    assert!((15_000..=80_000).contains(&n("usage")), "{}", n("usage"));
    for e in ["interactions", "cases", "feedback"] {
        assert!((500..=20_000).contains(&n(e)), "{e}: {}", n(e));
    }
    assert!((10..=100).contains(&n("trust")), "{}", n("trust"));
    assert!((200..=2_000).contains(&n("claims")), "{}", n("claims"));
    let total: usize = data.iter().map(|b| b.len()).sum();
    for b in data {
        eprintln!("{}: {}", b.entity.name, b.len());
    }
    eprintln!("total: {total}");
    assert!((80_000..=300_000).contains(&total), "{total} rows");
    for prefix in ["cafe-", "b2b-"] {
        for e in ["cases", "interactions", "feedback"] {
            let k = rows(batch(data, e))
                .filter(|r| r.id().starts_with(prefix))
                .count();
            assert!(k >= 100, "{prefix} {e}: {k}");
        }
        for e in ["claims", "trust"] {
            let k = rows(batch(data, e))
                .filter(|r| r.id().starts_with(prefix))
                .count();
            assert!(k >= 5, "{prefix} {e}: {k}");
        }
    }
}

#[test]
fn emails_are_unique_and_never_real() {
    let data = default_data();
    let mut seen = HashSet::new();
    for e in ["staff", "customers", "contacts"] {
        for r in rows(batch(data, e)) {
            let Some(email) = r.text("email") else {
                continue;
            };
            assert!(seen.insert(email), "{email} twice");
            let domain = email.rsplit_once('@').unwrap().1;
            assert!(
                ["example.com", "example.net", "example.org"].contains(&domain)
                    || domain.ends_with(".example"),
                "{email}"
            );
        }
    }
    let with_email = rows(batch(data, "customers"))
        .filter(|r| r.text("segment") == Some("kahvila") && r.text("email").is_some())
        .count();
    assert!((4_000..4_500).contains(&with_email), "{with_email}");
}

#[test]
fn cafe_purchases_are_in_euros_within_opening_hours() {
    let data = default_data();
    let clock = CafeClock::new(&DemoConfig::default());
    for r in rows(batch(data, "transactions")) {
        assert!(r.id().starts_with("cafe-"));
        assert!(r.int("amount").unwrap() > 0);
        assert!(r.int("cost").unwrap() < r.int("amount").unwrap() || r.int("amount") == Some(1));
        assert_eq!(r.text("kind"), Some("order"));
        let t = r.time("occurred_at").unwrap();
        let weeks = clock
            .weeks(t)
            .unwrap_or_else(|| panic!("{t} is outside opening hours"));
        assert!((0.0..clock.horizon_weeks()).contains(&weeks));
    }
}

#[test]
fn accounts_end_when_their_subscription_ends() {
    let data = default_data();
    let cfg = DemoConfig::default();
    let subs: HashMap<&str, _> = rows(batch(data, "subscriptions"))
        .map(|r| (r.text("customer_id").unwrap(), r))
        .collect();
    let mut ended = 0;
    for c in rows(batch(data, "customers")).filter(|r| r.text("kind") == Some("company")) {
        let s = subs[c.id()];
        assert_eq!(c.date("acquired_on"), s.date("started_on"));
        assert_eq!(c.date("ended_on"), s.date("ended_on"));
        assert_eq!(c.text("end_reason"), s.text("end_reason"));
        assert!(PLANS.contains(&s.text("plan").unwrap()));
        assert!(s.int("amount").unwrap() > 0);
        match c.text("status") {
            Some("ended") => {
                ended += 1;
                assert!(s.date("ended_on").is_some() && s.text("end_reason").is_some());
                assert!(s.date("renews_on").is_none());
            }
            Some("active") => {
                assert!(s.date("ended_on").is_none());
                assert!(s.date("renews_on").unwrap() > cfg.as_of);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!((60..=200).contains(&ended), "{ended} of 300 accounts ended");
}

/// The core writes the trust ledger's automatic entries (a mistake −10, a job done
/// well +1) when the demo's cases, interactions and answers are written; the demo
/// itself writes only a few entries a manager made by hand.
#[test]
fn the_demo_leaves_the_automatic_trust_entries_to_the_core() {
    let data = default_data();
    for r in rows(batch(data, "trust")) {
        assert_eq!(r.text("source"), Some("manual"), "{}", r.id());
        assert!(r.int("delta").unwrap() != 0);
    }
    assert_eq!(TRUST.debit, -10 * TRUST.credit);
}

#[test]
fn answers_speak_the_customers_language() {
    let data = default_data();
    let locale: HashMap<&str, &str> = rows(batch(data, "customers"))
        .map(|r| (r.id(), r.text("locale").unwrap()))
        .collect();
    let (mut fi, mut en, mut kudos) = (0, 0, 0);
    for r in rows(batch(data, "feedback")) {
        let lang = r.text("language").unwrap();
        // Anonymous answers at the café's counter have no customer.
        let Some(customer) = r.text("customer_id") else {
            assert!(r.id().starts_with("cafe-qr-"), "{}", r.id());
            continue;
        };
        assert_eq!(lang, locale[customer]);
        match lang {
            "fi" => fi += 1,
            _ => en += 1,
        }
        kudos += usize::from(r.text("staff_id").is_some());
        assert!(r.int("nps").is_some() || r.int("csat").is_some());
    }
    assert!(fi > 3 * en && en > 50, "fi {fi}, en {en}");
    assert!(kudos > 30, "{kudos} kudos");
}

//! The same seed and date give the same data; the two businesses draw independently.

use chrono::NaiveDate;
use kanta_demo::{DemoConfig, WriteBatch, generate};
use kanta_domain::Value;

use crate::common::{batch, default_data, rows};

/// Every batch as comparable text: entity, fields, source and each value's canonical
/// form (so `-0.0` and `0.0` or two NaNs could not hide a difference).
fn fingerprint(data: &[WriteBatch]) -> Vec<String> {
    data.iter()
        .flat_map(|b| {
            let head = format!(
                "{} {} {:?}",
                b.entity.name,
                b.source,
                b.fields.iter().map(|f| f.name).collect::<Vec<_>>()
            );
            std::iter::once(head).chain(b.values.chunks(b.stride()).map(|row| {
                row.iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join("|")
            }))
        })
        .collect()
}

#[test]
fn same_seed_same_data() {
    let again = generate(&DemoConfig::default());
    let (a, b) = (fingerprint(default_data()), fingerprint(&again));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
}

#[test]
fn another_seed_other_data() {
    let other = generate(&DemoConfig {
        seed: 7,
        ..DemoConfig::default()
    });
    let names = |d: &[WriteBatch]| -> Vec<String> {
        rows(batch(d, "customers"))
            .map(|r| r.text("name").unwrap().to_string())
            .collect()
    };
    let same = names(default_data())
        .iter()
        .zip(names(&other))
        .filter(|(a, b)| **a == *b)
        .count();
    assert!(same < 100, "{same} of 5311 names equal");
    assert_ne!(
        batch(default_data(), "transactions").len(),
        batch(&other, "transactions").len()
    );
}

/// Rows of `entity` whose id starts with `prefix`, as text.
fn part(data: &[WriteBatch], entity: &str, prefix: &str) -> Vec<String> {
    rows(batch(data, entity))
        .filter(|r| r.id().starts_with(prefix))
        .map(|r| {
            (0..batch(data, entity).fields.len())
                .map(|k| format!("{:?}", r.get(batch(data, entity).fields[k].name)))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

#[test]
fn the_businesses_draw_independently() {
    let fewer_accounts = generate(&DemoConfig {
        b2b_accounts: 10,
        ..DemoConfig::default()
    });
    for e in ["customers", "transactions", "cases", "feedback", "trust"] {
        assert_eq!(
            part(default_data(), e, "cafe-"),
            part(&fewer_accounts, e, "cafe-"),
            "{e}"
        );
    }
    let fewer_customers = generate(&DemoConfig {
        cafe_customers: 10,
        ..DemoConfig::default()
    });
    for e in ["customers", "subscriptions", "usage", "cases", "feedback"] {
        assert_eq!(
            part(default_data(), e, "b2b-"),
            part(&fewer_customers, e, "b2b-"),
            "{e}"
        );
    }
}

#[test]
fn a_later_date_moves_the_window() {
    let cfg = DemoConfig {
        as_of: NaiveDate::from_ymd_opt(2027, 3, 15).unwrap(),
        cafe_customers: 300,
        b2b_accounts: 30,
        ..DemoConfig::default()
    };
    let data = generate(&cfg);
    let latest = rows(batch(&data, "transactions"))
        .filter_map(|r| r.time("occurred_at"))
        .max()
        .unwrap();
    assert!(latest.date_naive() <= cfg.as_of);
    assert!(
        (cfg.as_of - latest.date_naive()).num_days() < 30,
        "{latest}"
    );
    assert!(matches!(
        batch(&data, "usage").values.last(),
        Some(Value::Float(_))
    ));
}

#[test]
fn generation_is_quick_and_sized() {
    let started = std::time::Instant::now();
    let data = generate(&DemoConfig::default());
    let took = started.elapsed();
    let total: usize = data.iter().map(|b| b.len()).sum();
    let counts: Vec<String> = data
        .iter()
        .map(|b| format!("{} {}", b.entity.name, b.len()))
        .collect();
    eprintln!("{total} rows in {took:?}: {}", counts.join(", "));
    // Generous bounds: the machines that run the tests are shared.
    let limit = if cfg!(debug_assertions) { 60.0 } else { 3.0 };
    assert!(took.as_secs_f64() < limit, "{took:?}");
}

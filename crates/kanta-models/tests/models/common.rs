//! Fixture and dataset loading, and tolerance assertions.

use serde_json::Value;
use std::path::PathBuf;

/// A committed fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file of `shared/datasets/` beside the repository.
pub fn dataset(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn f(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        _ => v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")),
    }
}

pub fn fs(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

/// Relative difference, with an absolute floor for values near zero.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

#[track_caller]
pub fn assert_rel(what: &str, got: f64, want: f64, tol: f64) {
    let r = rel(got, want);
    assert!(
        r <= tol,
        "{what}: got {got}, want {want} (relative error {r:.3e} > {tol:.1e})"
    );
}

/// Agreement to `digits` significant figures: |got - want| <= 0.5 * 10^(e - digits + 1)
/// where e is the decimal exponent of `want`.
#[track_caller]
pub fn assert_sig(what: &str, got: f64, want: f64, digits: i32) {
    let e = want.abs().log10().floor() as i32;
    let half_unit = 0.5 * 10f64.powi(e - digits + 1);
    assert!(
        (got - want).abs() <= half_unit,
        "{what}: got {got}, want {want} (not equal to {digits} significant figures)"
    );
}

/// The published value, rounded as published: `got` rounds to `published` at
/// `decimals` decimals.
#[track_caller]
pub fn assert_rounds_to(what: &str, got: f64, published: f64, decimals: i32) {
    let s = 10f64.powi(decimals);
    let rounded = (got * s).round() / s;
    assert!(
        (rounded - published).abs() < 0.5 / s,
        "{what}: {got} rounds to {rounded}, published {published}"
    );
}

/// Parse `cdnow_customers_summary.csv` into (frequency, recency, T) triples.
pub fn cdnow_summary() -> Vec<(f64, f64, f64)> {
    let text = dataset("cdnow_customers_summary.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<f64> = l.split(',').map(|v| v.trim().parse().unwrap()).collect();
            (c[1], c[2], c[3])
        })
        .collect()
}

/// `CDNOW_sample.txt` as transactions (customer = the sample id).
pub fn cdnow_transactions() -> Vec<kanta_models::summary::Transaction> {
    use kanta_models::summary::{Transaction, day_number};
    dataset("CDNOW_sample.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            let date = chrono::NaiveDate::parse_from_str(c[2], "%Y%m%d").unwrap();
            Transaction {
                customer: c[1].parse().unwrap(),
                day: day_number(date),
                amount: c[4].parse().unwrap(),
            }
        })
        .collect()
}

pub fn day(s: &str) -> i32 {
    kanta_models::summary::day_number(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

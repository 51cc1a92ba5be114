//! The demo offer (issue 14): one café offer to its active regulars with a 20 %
//! control group and a stated **true uplift**, so the offer's report can be checked
//! against a known effect.
//!
//! - [`OFFER_ID`]: audience `list` (the regulars' external ids), channel `manual`,
//!   `control_percent` 20, the preset seed [`OFFER_SEED`], code [`OFFER_CODE`], valid
//!   the 30 days ending [`ENDS_DAYS_BEFORE`] days before `as_of`.
//! - Regulars: café customers (`cafe-NNNNN`) with at least [`REGULAR_ORDERS`] orders
//!   in the 365 days before the window, still active and not let lapse (the offer
//!   leaves ended and let-lapse customers out of both arms).
//! - The groups are known in advance: `kanta demo` sends the offer before scoring,
//!   so every member's tier is `-` (none yet), and [`kanta_domain::draw::draw_control`]
//!   over the same ids, tiers, percent and seed gives the same draw as the send.
//! - True effect ([`TRUE_UPLIFT_POINTS`]): of the offer arm, `round(10 % × n)`
//!   members who would not have bought in the window buy once (an extra order
//!   carrying the code, on a day in the window); the control arm gets nothing extra.
//!   The purchase rate of the offer arm is thus 10 points above what it would have
//!   been. Deterministic: no random draws.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, TimeDelta};
use kanta_domain::Value;
use kanta_domain::draw::draw_control;

use crate::clock::{Window, helsinki};
use crate::tables::Tables;

/// The demo offer's external id.
pub const OFFER_ID: &str = "cafe-offer-1";
/// Its code, carried by the extra orders.
pub const OFFER_CODE: &str = "KAHVI10";
/// The preset seed of the control-group draw.
pub const OFFER_SEED: i64 = 14_006;
/// Percent of the members in the control group.
pub const CONTROL_PERCENT: u32 = 20;
/// The stated true uplift of the purchase rate in the window, percentage points.
pub const TRUE_UPLIFT_POINTS: f64 = 10.0;
/// The window ends this many days before `as_of` (and lasts 30 days).
pub const ENDS_DAYS_BEFORE: i64 = 60;
/// A regular has at least this many orders in the 365 days before the window.
pub const REGULAR_ORDERS: usize = 12;

/// The offer's validity window `(valid_from, valid_until)` for `as_of`.
pub fn window(as_of: NaiveDate) -> (NaiveDate, NaiveDate) {
    let until = as_of - TimeDelta::days(ENDS_DAYS_BEFORE);
    (until - TimeDelta::days(29), until)
}

/// FNV-1a: a fixed order of the members who take the offer up.
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn is_cafe_customer(id: &str) -> bool {
    id.strip_prefix("cafe-")
        .is_some_and(|n| n.len() == 5 && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Adds the offer and the offer arm's extra orders to `t` (after every customer
/// and order, endings included).
pub(crate) fn generate(w: &Window, t: &mut Tables) {
    let (from, until) = window(w.as_of);
    let before = from - TimeDelta::days(365);
    if before < w.start {
        return;
    }
    let start = helsinki(from, 0);
    let end = helsinki(until + TimeDelta::days(1), 0);
    let year_start = helsinki(before, 0);
    // Active café customers (the demo lets no one lapse).
    let mut active: BTreeSet<String> = BTreeSet::new();
    t.customers.update(|r| {
        let id = r.id().to_string();
        if is_cafe_customer(&id) && r.get("status").as_text() == Some("active") {
            active.insert(id);
        }
    });
    // Orders in the year before the window, and who bought in the window.
    let mut year: BTreeMap<String, usize> = BTreeMap::new();
    let mut bought: BTreeSet<String> = BTreeSet::new();
    let mut amounts: BTreeMap<String, i64> = BTreeMap::new();
    t.transactions.update(|r| {
        let Some(c) = r.get("customer_id").as_text() else {
            return;
        };
        if !active.contains(c) {
            return;
        }
        if let Value::Time(at) = r.get("occurred_at") {
            if *at >= year_start && *at < start {
                *year.entry(c.to_string()).or_default() += 1;
                if let Some(a) = r.get("amount").as_int() {
                    amounts.insert(c.to_string(), a);
                }
            } else if *at >= start && *at < end {
                bought.insert(c.to_string());
            }
        }
    });
    let regulars: Vec<String> = year
        .into_iter()
        .filter(|(_, n)| *n >= REGULAR_ORDERS)
        .map(|(id, _)| id)
        .collect();
    if regulars.is_empty() {
        return;
    }
    let (offer_arm, _) = arms(&regulars);
    // The true effect: round(10 % × n) of the offer arm's non-buyers buy once.
    let take = (offer_arm.len() as f64 * TRUE_UPLIFT_POINTS / 100.0).round() as usize;
    let mut non_buyers: Vec<&String> = offer_arm.iter().filter(|c| !bought.contains(*c)).collect();
    non_buyers.sort_by_key(|c| (fnv(c), (*c).clone()));
    for (k, c) in non_buyers.into_iter().take(take).enumerate() {
        let day = from + TimeDelta::days((fnv(c) % 30) as i64);
        let at = helsinki(day, (8 + (k as i64 % 9)) * 3600 + 600);
        let cents = amounts.get(c).copied().unwrap_or(450);
        t.transactions
            .row(format!("{c}-offer"))
            .set("customer_id", c.as_str())
            .set("occurred_at", at)
            .set("amount", cents)
            .set("currency", "EUR")
            .set("cost", (cents as f64 * 0.3).round() as i64)
            .set("channel", "counter")
            .set("quantity", 1i64)
            .set("offer_code", OFFER_CODE)
            .set("kind", "order")
            .push();
    }
    t.offers
        .row(OFFER_ID)
        .set("name", "Kanta-asiakkaiden kahvietu")
        .set(
            "text_fi",
            "Kiitos, että olet kanta-asiakkaamme: kahvi ja pulla -10 % koodilla KAHVI10.",
        )
        .set(
            "text_en",
            "Thank you for being a regular: coffee and a bun -10 % with the code KAHVI10.",
        )
        .set("channel", "manual")
        .set("audience", "list")
        .set("audience_value", regulars.join(","))
        .set("valid_from", from)
        .set("valid_until", until)
        .set("cost_per_redemption", 50i64)
        .set("currency", "EUR")
        .set("code", OFFER_CODE)
        .set("control_percent", i64::from(CONTROL_PERCENT))
        .set("hoped_points", 10.0)
        .set("seed", OFFER_SEED)
        .set("status", "draft")
        .push();
}

/// The regulars split into (offer arm, control arm) as the send draws them: every
/// tier `-` (sent before scoring), the preset seed, 20 % control.
pub fn arms(regulars: &[String]) -> (Vec<String>, Vec<String>) {
    let pairs: Vec<(&str, &str)> = regulars.iter().map(|id| (id.as_str(), "-")).collect();
    let control = draw_control(&pairs, CONTROL_PERCENT, OFFER_SEED as u64);
    let mut offer = Vec::new();
    let mut ctrl = Vec::new();
    for (id, k) in regulars.iter().zip(control) {
        if k {
            ctrl.push(id.clone());
        } else {
            offer.push(id.clone());
        }
    }
    (offer, ctrl)
}

/// When `kanta demo` sends the offer: 08:00 Helsinki time on `valid_from`.
pub fn send_at(as_of: NaiveDate) -> chrono::DateTime<chrono::Utc> {
    helsinki(window(as_of).0, 8 * 3600)
}

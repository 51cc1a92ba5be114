//! Relationships ended cleanly (issue 14): reason codes on every ended customer, and
//! a few café customers the business itself ended, across the journey's stages, so
//! the churn reasons by stage have something in each.
//!
//! - The B2B firms that left on their own (`crate::b2b`: status ended, the words of
//!   their own reason in `end_reason`) get the code `other`: they ended it, not us.
//! - [`ENDED_BY_US`]: café customers the business ended, each with its reason code,
//!   its note in `end_reason` and its end date, at a stated stage: onboarding (ended
//!   within 30 days of being won), the first 90 days, and established (years).
//!
//! Deterministic: no random draws; days counted back from `as_of`.

use chrono::{NaiveDate, TimeDelta};

use crate::clock::{Window, helsinki, prev_weekday};
use crate::tables::Tables;

/// A café customer the business ended: external id, name, reason code, the note,
/// days before `as_of` they were won, days before `as_of` they ended, and the journey
/// stage that makes (documented in docs/demo.md).
pub struct EndedByUs {
    pub id: &'static str,
    pub name: &'static str,
    pub reason_code: &'static str,
    pub note: &'static str,
    pub won_days_ago: i64,
    pub ended_days_ago: i64,
    pub stage: &'static str,
}

/// The café customers the business ended.
pub const ENDED_BY_US: [EndedByUs; 5] = [
    EndedByUs {
        id: "cafe-ended-1",
        name: "Pertti Pahapuhe",
        reason_code: "abusive",
        note: "Huusi henkilökunnalle toistuvasti",
        won_days_ago: 200,
        ended_days_ago: 185,
        stage: "onboarding",
    },
    EndedByUs {
        id: "cafe-ended-2",
        name: "Laura Laskuton",
        reason_code: "breaks_agreements",
        note: "Laskut maksamatta kolmatta kuukautta",
        won_days_ago: 260,
        ended_days_ago: 190,
        stage: "first_90_days",
    },
    EndedByUs {
        id: "cafe-ended-3",
        name: "Matti Muuttaja",
        reason_code: "moved_away",
        note: "Muutti Ouluun",
        won_days_ago: 700,
        ended_days_ago: 120,
        stage: "established",
    },
    EndedByUs {
        id: "cafe-ended-4",
        name: "Kaarina Kallis",
        reason_code: "unprofitable",
        note: "Tilaukset pieniä, reklamaatioita joka viikko",
        won_days_ago: 650,
        ended_days_ago: 60,
        stage: "established",
    },
    EndedByUs {
        id: "cafe-ended-5",
        name: "Olavi Omapää",
        reason_code: "other",
        note: "Ei hyväksy uusia ehtoja",
        won_days_ago: 500,
        ended_days_ago: 30,
        stage: "established",
    },
];

/// Sets the reason codes and adds [`ENDED_BY_US`] with their orders.
pub(crate) fn generate(w: &Window, t: &mut Tables) {
    // The firms that left on their own: their words stay, the code says "not us".
    t.customers.update(|r| {
        if r.get("status").as_text() == Some("ended") && r.get("end_reason_code").is_null() {
            r.set("end_reason_code", "other");
        }
    });
    let day = |n: i64| -> NaiveDate { prev_weekday(w.as_of - TimeDelta::days(n)) };
    for (k, e) in ENDED_BY_US.iter().enumerate() {
        let won = day(e.won_days_ago);
        let ended = day(e.ended_days_ago);
        if won < w.start {
            continue;
        }
        t.customers
            .row(e.id)
            .set("kind", "person")
            .set("name", e.name)
            .set("segment", "kahvila")
            .set("locale", "fi")
            .set("acquired_on", won)
            .set("acquisition_channel", "walk-in")
            .set("currency", "EUR")
            .set("status", "ended")
            .set("ended_on", ended)
            .set("end_reason", e.note)
            .set("end_reason_code", e.reason_code)
            .push();
        // Orders every week from the day they were won until a week before the end.
        let mut n = e.won_days_ago;
        let mut i = 0;
        while n > e.ended_days_ago + 7 {
            i += 1;
            t.transactions
                .row(format!("{}-t{i}", e.id))
                .set("customer_id", e.id)
                .set("occurred_at", helsinki(day(n), (8 + k as i64) * 3600))
                .set("amount", 480_i64)
                .set("currency", "EUR")
                .set("cost", 150_i64)
                .set("quantity", 1_i64)
                .set("channel", "counter")
                .set("kind", "order")
                .push();
            n -= 7;
        }
    }
}

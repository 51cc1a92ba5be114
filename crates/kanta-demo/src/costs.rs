//! Costs to serve (issue 14): a few customers who cost far more to serve than they
//! bring in, so the value page's unprofitable list has clear cases to name.
//!
//! [`UNPROFITABLE`]: three café regulars, each with four small orders through the last
//! year (the latest a few weeks before `as_of`, so the models keep them alive), and
//! three B2B firms on the cheapest plan (Perus, 49,00 € a month, owned by
//! `b2b-staff-01`, one primary contact each). Each has five high-severity cases
//! (resolved the same day with a resolution and no apology, as none was our fault, so
//! no SLA is breached), eight calls and three meetings, and two small compensations
//! paid. At the default costs (40,00 €/h; a call 10 min, a meeting 60 min, a
//! high-severity case 120 min) each costs about 620 € a year to serve against a
//! margin of at most a few tens of euros: negative now and in expectation.
//! Deterministic: no random draws, days counted back from `as_of`.

use chrono::{Months, NaiveDate, TimeDelta};

use crate::clock::{Window, helsinki, prev_weekday};
use crate::params::PLANS;
use crate::tables::Tables;

/// A planted unprofitable customer: external id, name, kind, segment, and the amount
/// (cents) of each order (a café regular's) or of each month's subscription (a firm's).
pub struct Costly {
    pub id: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub segment: &'static str,
    pub cents: i64,
}

/// The planted unprofitable customers (documented in docs/demo.md).
pub const UNPROFITABLE: [Costly; 6] = [
    Costly {
        id: "cafe-costly-1",
        name: "Raimo Reklamoija",
        kind: "person",
        segment: "kahvila",
        cents: 450,
    },
    Costly {
        id: "cafe-costly-2",
        name: "Kerttu Kantelija",
        kind: "person",
        segment: "kahvila",
        cents: 520,
    },
    Costly {
        id: "cafe-costly-3",
        name: "Olli Odottaja",
        kind: "person",
        segment: "kahvila",
        cents: 380,
    },
    Costly {
        id: "b2b-costly-1",
        name: "Vaativa Oy",
        kind: "company",
        segment: "b2b-small",
        cents: 4_900,
    },
    Costly {
        id: "b2b-costly-2",
        name: "Hankala Ky",
        kind: "company",
        segment: "b2b-small",
        cents: 4_900,
    },
    Costly {
        id: "b2b-costly-3",
        name: "Kiireinen Tmi",
        kind: "company",
        segment: "b2b-small",
        cents: 4_900,
    },
];

/// The firms' primary contacts: name and email, in the order of [`UNPROFITABLE`]'s firms.
const CONTACTS: [(&str, &str); 3] = [
    ("Veikko Vaara", "veikko.vaara@vaativa.example"),
    ("Hanna Hankala", "hanna.hankala@hankala.example"),
    ("Kimmo Kiire", "kimmo.kiire@kiireinen.example"),
];

/// Days before `as_of` of the orders, cases, calls, meetings and paid claims.
const ORDERS: [i64; 4] = [320, 230, 130, 25];
const CASES: [i64; 5] = [300, 240, 170, 100, 40];
const CALLS: [i64; 8] = [310, 280, 220, 160, 120, 90, 50, 15];
const MEETINGS: [i64; 3] = [250, 140, 60];
/// Paid compensations: (days before `as_of`, cents).
const CLAIMS: [(i64, i64); 2] = [(240, 2_500), (100, 2_000)];

/// Adds the planted customers and their history to `t`.
pub(crate) fn generate(w: &Window, t: &mut Tables) {
    let day = |n: i64| -> NaiveDate { prev_weekday(w.as_of - TimeDelta::days(n)) };
    let at = |n: i64, hour: i64| helsinki(day(n), hour * 3600);
    let first = day(ORDERS[0] + 10);
    if first < w.start {
        return;
    }
    for (k, c) in UNPROFITABLE.iter().enumerate() {
        let cafe = c.kind == "person";
        let staff = if cafe {
            "cafe-staff-01"
        } else {
            "b2b-staff-01"
        };
        t.customers
            .row(c.id)
            .set("kind", c.kind)
            .set("name", c.name)
            .set("segment", c.segment)
            .set("locale", "fi")
            .set("acquired_on", first)
            .set(
                "acquisition_channel",
                if cafe { "walk-in" } else { "referral" },
            )
            .set("currency", "EUR")
            .set("status", "active")
            .set("owner_id", (!cafe).then_some(staff))
            .push();
        if cafe {
            for (i, n) in ORDERS.iter().enumerate() {
                t.transactions
                    .row(format!("{}-t{}", c.id, i + 1))
                    .set("customer_id", c.id)
                    .set("occurred_at", at(*n, 9 + k as i64))
                    .set("amount", c.cents)
                    .set("currency", "EUR")
                    .set("cost", c.cents * 31 / 100)
                    .set("channel", "counter")
                    .set("quantity", 1_i64)
                    .set("kind", "order")
                    .push();
            }
        } else {
            let (name, email) = CONTACTS[k - 3];
            t.contacts
                .row(format!("{}-c1", c.id))
                .set("customer_id", c.id)
                .set("name", name)
                .set("email", email)
                .set("title", "Toimitusjohtaja")
                .set("is_primary", true)
                .push();
            // Monthly from the day they were won; the next renewal is after `as_of`.
            let renews_on = (1..)
                .filter_map(|m| first.checked_add_months(Months::new(m)))
                .find(|d| *d > w.as_of);
            t.subscriptions
                .row(format!("{}-s1", c.id))
                .set("customer_id", c.id)
                .set("plan", PLANS[0])
                .set("amount", c.cents)
                .set("currency", "EUR")
                .set("period", "month")
                .set("started_on", first)
                .set("renews_on", renews_on)
                .push();
        }
        for (i, n) in CASES.iter().enumerate() {
            let opened = at(*n, 10);
            let case_id = format!("{}-case{}", c.id, i + 1);
            t.cases
                .row(case_id.clone())
                .set("customer_id", c.id)
                .set("opened_at", opened)
                .set("category", if cafe { "quality" } else { "delivery" })
                .set("severity", "high")
                .set("status", "closed")
                .set("channel", "phone")
                .set("our_fault", false)
                .set("summary", "Asiakas vaatii erityiskohtelua jälleen")
                .set("first_response_at", opened + TimeDelta::minutes(30))
                .set("resolved_at", opened + TimeDelta::hours(3))
                .set("closed_at", opened + TimeDelta::days(1))
                .set("resolution", "Käyty läpi asiakkaan kanssa")
                .set("apology", false)
                .set("staff_id", staff)
                .push();
            if let Some((j, (_, cents))) = CLAIMS.iter().enumerate().find(|(_, (d, _))| d == n) {
                let claimed = opened + TimeDelta::hours(1);
                t.claims
                    .row(format!("{}-claim{}", c.id, j + 1))
                    .set("case_id", case_id.as_str())
                    .set("claimed_at", claimed)
                    .set("amount", *cents)
                    .set("currency", "EUR")
                    .set("kind", "voucher")
                    .set("status", "approved")
                    .set("decided_at", claimed)
                    .set("paid_at", claimed + TimeDelta::hours(2))
                    .push();
            }
        }
        for (kind, days, hour) in [("call", &CALLS[..], 13), ("meeting", &MEETINGS[..], 14)] {
            for (i, n) in days.iter().enumerate() {
                t.interactions
                    .row(format!("{}-{kind}{}", c.id, i + 1))
                    .set("customer_id", c.id)
                    .set("occurred_at", at(*n, hour))
                    .set("kind", kind)
                    .set("direction", "inbound")
                    .set("staff_id", staff)
                    .set("outcome", "neutral")
                    .set("proactive", false)
                    .set("purpose", "service")
                    .push();
            }
        }
    }
}

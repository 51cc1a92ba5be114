//! Service recovery in the demo: the store's default SLA policies (business hours Mon-Fri
//! 08-16 Helsinki with Finnish public holidays, or calendar hours), a case's life cycle
//! from its outcome, and compensation claims under the small-claim rule.

use chrono::{DateTime, TimeDelta, Utc};
use kanta_domain::sla::BusinessCalendar;
use rand::Rng;

use crate::draw::{uniform, weighted};
use crate::params::{SLA_POLICIES, SMALL_CLAIM_LIMIT, SlaPolicy};
use crate::tables::Tables;
use crate::texts::{self, Text, say};

/// Index of a severity in [`SLA_POLICIES`] (low, normal, high, critical).
pub(crate) fn policy(severity: usize) -> SlaPolicy {
    SLA_POLICIES[severity]
}

/// The moment `hours` of the policy's clock after `start`, on the store's default
/// calendar (Mon-Fri 08-16 Helsinki, Finnish public holidays): the core's own rule.
pub(crate) fn due(start: DateTime<Utc>, hours: f64, business: bool) -> DateTime<Utc> {
    kanta_domain::sla::due(&BusinessCalendar::default(), start, hours, business)
}

/// How a case ends up, as the recovery comparison groups it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Put right within the resolution target (and the first response within its own).
    Within,
    /// Put right after the resolution target.
    Late,
    /// Never put right (closed without a fix, or still open).
    Unresolved,
}

/// A case's life cycle: status and the times the SLA is measured by.
#[derive(Debug, Clone)]
pub(crate) struct Life {
    pub status: &'static str,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The outcome as seen at the demo's "now" (a late fix still ahead is unresolved).
    pub outcome: Outcome,
}

/// Draws a case's life cycle for the intended `outcome`: within the targets, late, or
/// never put right. `on_spot` is how long an on-the-spot fix took (the café), which is
/// always within the targets. Everything happens before `end`; what would happen after
/// it has not happened yet, and the case is still open, in progress or waiting.
pub(crate) fn life(
    rng: &mut impl Rng,
    opened: DateTime<Utc>,
    severity: usize,
    outcome: Outcome,
    on_spot: Option<TimeDelta>,
    end: DateTime<Utc>,
) -> Life {
    let p = policy(severity);
    let first_due = due(opened, p.first_response_hours, p.business);
    let resolution_due = due(opened, p.resolution_hours, p.business);
    let at = |rng: &mut _, hours: f64, lo: f64, hi: f64| {
        due(opened, hours * uniform(rng, lo, hi), p.business)
    };
    let (first, resolved) = match (outcome, on_spot) {
        (Outcome::Within, Some(spent)) => {
            let fixed = opened + spent;
            let first = opened + TimeDelta::seconds(rng.random_range(30..120));
            (Some(first.min(fixed)), Some(fixed))
        }
        (Outcome::Within, None) => {
            let fixed = at(rng, p.resolution_hours, 0.05, 0.85);
            let first = at(rng, p.first_response_hours, 0.05, 0.85);
            (Some(first.min(fixed)), Some(fixed))
        }
        (Outcome::Late, _) => {
            let fixed = at(rng, p.resolution_hours, 1.25, 3.0);
            let first = if rng.random_bool(0.5) {
                at(rng, p.first_response_hours, 0.1, 0.9)
            } else {
                at(rng, p.first_response_hours, 1.3, 3.0)
            };
            (Some(first.min(fixed)), Some(fixed))
        }
        (Outcome::Unresolved, _) => {
            let first = weighted(rng, &[(0, 0.6), (1, 0.3), (2, 0.1)]);
            let first = match first {
                0 => Some(at(rng, p.first_response_hours, 0.1, 0.9)),
                1 => Some(at(rng, p.first_response_hours, 1.3, 3.0)),
                _ => None,
            };
            (first, None)
        }
    };
    debug_assert!(outcome != Outcome::Within || resolved.is_some_and(|r| r <= resolution_due));
    debug_assert!(outcome != Outcome::Within || first.is_some_and(|f| f <= first_due));
    life_at(rng, opened, severity, first, resolved, end)
}

/// The life cycle of a case first answered at `first` and put right at `resolved`
/// (either may be `None`; times at or after `end` have not happened yet).
pub(crate) fn life_at(
    rng: &mut impl Rng,
    opened: DateTime<Utc>,
    severity: usize,
    first: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
) -> Life {
    let p = policy(severity);
    let first = first.filter(|f| *f < end);
    let resolved = resolved.filter(|r| *r < end);
    let outcome = match resolved {
        None => Outcome::Unresolved,
        Some(r) if r <= due(opened, p.resolution_hours, p.business) => Outcome::Within,
        Some(_) => Outcome::Late,
    };
    let (status, closed_at) = match resolved {
        Some(r) => {
            let closed = r + TimeDelta::hours(rng.random_range(24..240));
            if closed < end {
                ("closed", Some(closed))
            } else {
                ("resolved", None)
            }
        }
        None => {
            // Given up on after a month or two: closed without a fix.
            let closed = opened + TimeDelta::days(rng.random_range(30..75));
            if closed < end {
                ("closed", Some(closed))
            } else if first.is_none() {
                ("open", None)
            } else if rng.random_bool(0.6) {
                ("in_progress", None)
            } else {
                ("waiting", None)
            }
        }
    };
    Life {
        status,
        first_response_at: first,
        resolved_at: resolved,
        closed_at,
        outcome,
    }
}

/// A compensation claim, written once every claim of the demo is known (the most recent
/// large ones still wait on a manager).
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub id: String,
    pub case_id: String,
    pub claimed_at: DateTime<Utc>,
    pub amount: i64,
    pub kind: &'static str,
    pub english: bool,
    /// For a large claim: the manager approves it (else refuses).
    pub approve: bool,
    /// Hours after the claim that the manager decides a large claim.
    pub decide_after_hours: f64,
    /// Hours after approval that it is paid; `None`: not paid (yet).
    pub pay_after_hours: Option<f64>,
}

/// Draws how a claim is decided and paid (not its amount or kind).
pub(crate) fn claim(
    rng: &mut impl Rng,
    id: String,
    case_id: String,
    claimed_at: DateTime<Utc>,
    amount: i64,
    kind: &'static str,
    english: bool,
) -> Claim {
    let large = amount > SMALL_CLAIM_LIMIT;
    let approve = !large || rng.random_bool(0.7);
    let pay_after_hours = rng.random_bool(0.9).then(|| {
        if kind == "replacement" {
            uniform(rng, 0.0, 0.2)
        } else {
            uniform(rng, 2.0, 96.0)
        }
    });
    Claim {
        id,
        case_id,
        claimed_at,
        amount,
        kind,
        english,
        approve,
        decide_after_hours: uniform(rng, 2.0, 60.0),
        pay_after_hours,
    }
}

/// How many of the most recent large claims still wait on a manager.
pub(crate) const PENDING_LARGE_CLAIMS: usize = 3;

/// Writes the claims: small ones approved at once, large ones decided by a manager
/// with a reason in business hours, except the [`PENDING_LARGE_CLAIMS`] most recent
/// large ones, which are pending; approved claims are paid when that falls before `end`.
pub(crate) fn write_claims(
    rng: &mut impl Rng,
    mut claims: Vec<Claim>,
    end: DateTime<Utc>,
    t: &mut Tables,
) {
    claims.sort_by(|a, b| a.claimed_at.cmp(&b.claimed_at).then(a.id.cmp(&b.id)));
    let mut large: Vec<usize> = (0..claims.len())
        .filter(|&k| claims[k].amount > SMALL_CLAIM_LIMIT)
        .collect();
    large.reverse();
    let pending: Vec<usize> = large.into_iter().take(PENDING_LARGE_CLAIMS).collect();
    for (k, c) in claims.iter().enumerate() {
        let small = c.amount <= SMALL_CLAIM_LIMIT;
        let decided = if small {
            Some(c.claimed_at)
        } else if pending.contains(&k) {
            None
        } else {
            Some(due(c.claimed_at, c.decide_after_hours, true)).filter(|d| *d < end)
        };
        let (status, reason) = match decided {
            None => ("pending", None),
            Some(_) if small => ("approved", None),
            Some(_) if c.approve => (
                "approved",
                Some(texts::pick_say(rng, texts::CLAIM_APPROVED, c.english)),
            ),
            Some(_) => (
                "refused",
                Some(texts::pick_say(rng, texts::CLAIM_REFUSED, c.english)),
            ),
        };
        let paid = match (status, decided, c.pay_after_hours) {
            ("approved", Some(d), Some(h)) => {
                Some(d + TimeDelta::seconds((h * 3600.0) as i64)).filter(|p| *p < end)
            }
            _ => None,
        };
        t.claims
            .row(c.id.clone())
            .set("case_id", c.case_id.as_str())
            .set("claimed_at", c.claimed_at)
            .set("amount", c.amount)
            .set("currency", "EUR")
            .set("kind", c.kind)
            .set("status", status)
            .set("decided_at", decided)
            .set("decision_reason", reason)
            .set("paid_at", paid)
            .push();
    }
}

/// A few entries a manager wrote by hand (source `manual`): the automatic ones (a
/// mistake, a case put right in time, a good contact, a promoter's or a detractor's
/// answer) are the core's to write when the demo's records are written.
pub(crate) fn manual_trust(
    rng: &mut impl Rng,
    t: &mut Tables,
    id: String,
    customer_id: &str,
    at: DateTime<Utc>,
    english: bool,
) {
    let (delta, reason): (i64, Text) = crate::draw::pick(rng, texts::TRUST_MANUAL);
    t.trust
        .row(id)
        .set("customer_id", customer_id)
        .set("occurred_at", at)
        .set("delta", delta)
        .set("reason", say(reason, english))
        .set("source", "manual")
        .push();
}

//! Compensation claims and the small-claim rule: "when the money is small, the
//! customer is right". A claim up to and including the limit (setting
//! `small_claim_limit`, default 50,00 in the store's currency) is approved at once by
//! whichever staff member records it, with nothing to justify; a larger one (or one in
//! another currency than the limit's) waits for a manager, who approves or refuses it
//! with a reason. Payment is recorded once. Every step writes the claim through the one
//! write path, a step on the case's timeline (`case_events`) and an audit entry naming
//! the decision, in one transaction.
//!
//! The rare abuser is seen, not blocked: [`Core::repeat_claimants`] lists customers by
//! their claims in the last 12 months, flagged from `repeat_claims` (default 3) on; the
//! flag never changes the small-claim rule. [`Core::small_claim_effect`] shows what the
//! rule does (claims approved at once and their total, large claims' outcomes, median
//! hours from claim to decision).
//!
//! Claims written by imports or the generic API get the same derived columns through
//! [`after_write`] (the case's customer, who claimed, whether the rule approved it).
//!
//! For the case page: [`Core::claims_of_case`] (the store's
//! `kanta_store::Store::claims_of_case`) gives one case's claims, oldest first.

use chrono::{DateTime, Duration, Utc};
use kanta_domain::schema::{CASES, CLAIM_KINDS, CLAIMS, Field};
use kanta_domain::{Currency, Money, Value, WriteBatch};
use kanta_store::cases::NewCaseEvent;
use kanta_store::claims::{ClaimRow, ClaimStamp};
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, access, require};
use crate::actor::Acting;
use crate::settings::StoreSettings;
use crate::write::{WriteTx, change, run_info};
use crate::{Core, CoreError, Result};

/// The small-claim limit before a manager sets one: 50.00 in the store's currency.
pub const DEFAULT_SMALL_CLAIM_LIMIT: &str = "50.00";
/// Claims in 12 months that flag a customer before a manager sets another number.
pub const DEFAULT_REPEAT_CLAIMS: u32 = 3;
/// Customers the repeat-claim view lists.
pub const REPEAT_TOP: u32 = 100;

/// The small-claim threshold and the repeat-claim flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// Claims up to and including this many minor units of `currency` are approved
    /// at once.
    pub limit_minor: i64,
    /// The limit's currency: the store's.
    pub currency: Currency,
    /// Claims in 12 months from which a customer is flagged.
    pub repeat_claims: u32,
}

impl Default for ClaimRules {
    fn default() -> ClaimRules {
        ClaimRules {
            limit_minor: 5000,
            currency: Currency::EUR,
            repeat_claims: DEFAULT_REPEAT_CLAIMS,
        }
    }
}

impl ClaimRules {
    /// The rules the settings give: `small_claim_limit` in the store's currency (a
    /// stored value that does not read falls back to the default), `repeat_claims`.
    pub fn from_settings(s: &StoreSettings) -> ClaimRules {
        let currency = s.currency;
        let limit = |text: &str| Money::parse(text, currency).ok().map(|m| m.minor);
        let limit_minor = s
            .value("small_claim_limit")
            .and_then(limit)
            .filter(|m| *m >= 0)
            .or_else(|| limit(DEFAULT_SMALL_CLAIM_LIMIT))
            .unwrap_or(5000);
        let repeat_claims = s
            .value("repeat_claims")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n >= 1)
            .unwrap_or(DEFAULT_REPEAT_CLAIMS);
        ClaimRules {
            limit_minor,
            currency,
            repeat_claims,
        }
    }

    /// Whether the small-claim rule approves a claim of this amount at once.
    pub fn approves_at_once(&self, amount_minor: i64, currency: Currency) -> bool {
        currency == self.currency && amount_minor <= self.limit_minor
    }
}

/// A claim to record on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NewClaim {
    pub amount_minor: i64,
    pub currency: Currency,
    /// refund, replacement, voucher or other.
    pub kind: String,
}

/// A claim as the pages and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub id: String,
    pub case_id: String,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub claimed_at: DateTime<Utc>,
    pub amount_minor: i64,
    pub currency: String,
    pub kind: String,
    /// pending, approved or refused.
    pub status: String,
    /// The small-claim rule approved it at once.
    pub auto_approved: bool,
    pub claimed_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub paid_by: Option<String>,
}

/// A page of claims; `next` is the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimPage {
    pub rows: Vec<Claim>,
    pub next: Option<String>,
}

/// The repeat-claim view: customers by their claims in the 12 months before `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatClaimants {
    /// Claims in 12 months from which a customer is flagged.
    pub flag_at: u32,
    pub total_claims: u64,
    /// The sum of all claims in the window (those in the store's currency).
    pub total_minor: i64,
    /// The sum of the approved claims among them.
    pub total_approved_minor: i64,
    pub currency: String,
    /// The top customers, by number of claims, then sum.
    pub rows: Vec<RepeatRow>,
}

/// One customer on the repeat-claim view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepeatRow {
    pub customer_id: String,
    pub name: Option<String>,
    pub claims: u64,
    /// The sum of all their claims (refused and pending too).
    pub sum_minor: i64,
    /// The sum of their approved claims: what they were actually granted.
    pub approved_minor: i64,
    /// Their share of all claims in the window (0..=1).
    pub share_of_claims: f64,
    /// Their share of the sum of all claims (0..=1).
    pub share_of_sum: f64,
    /// Purchases plus subscriptions billed.
    pub revenue_minor: i64,
    pub flagged: bool,
}

/// What the small-claim rule does, over the last months.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimEffect {
    pub limit_minor: i64,
    pub currency: String,
    /// Claims the rule approved at once, and their total.
    pub approved_at_once: u64,
    pub approved_at_once_minor: i64,
    /// Claims the rule did not approve (above the limit, or in another currency).
    pub large: u64,
    pub large_approved: u64,
    pub large_refused: u64,
    /// Large claims still waiting for a manager.
    pub pending: u64,
    /// Median hours from claim to decision.
    pub median_hours_small: Option<f64>,
    pub median_hours_large: Option<f64>,
}

fn claim_of(r: ClaimRow, currency: Currency) -> Claim {
    Claim {
        id: r.id,
        case_id: r.case_id,
        customer_id: r.customer_id,
        customer_name: r.customer_name,
        claimed_at: r.claimed_at,
        amount_minor: r.amount_minor,
        currency: r.currency.unwrap_or_else(|| currency.to_string()),
        kind: r.kind,
        status: r.status,
        auto_approved: r.auto_approved,
        claimed_by: r.claimed_by,
        decided_at: r.decided_at,
        decided_by: r.decided_by,
        decision_reason: r.decision_reason,
        paid_at: r.paid_at,
        paid_by: r.paid_by,
    }
}

fn fields(names: &[&str]) -> Vec<&'static Field> {
    names
        .iter()
        .map(|n| CLAIMS.field(n).expect("claims have the field"))
        .collect()
}

/// A new claim's id: `claim-<yyyymmdd>-<6 random hex digits>`.
fn new_claim_id(now: DateTime<Utc>) -> String {
    let mut bytes = [0u8; 3];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!(
        "claim-{}-{:02x}{:02x}{:02x}",
        now.format("%Y%m%d"),
        bytes[0],
        bytes[1],
        bytes[2]
    )
}

/// The amount as the audit log and the timeline show it: `120.00 EUR`.
fn amount_text(minor: i64, currency: Currency) -> String {
    format!("{} {currency}", Money::new(minor, currency).plain())
}

/// The decision's words in the audit log.
pub const AT_ONCE: &str = "approved at once by the small-claim rule";
pub const WAITS: &str = "waits for a manager";

/// Runs in the transaction of every write of claims (forms, the API, imports), after
/// the rows are merged: fills the derived columns of the written claims in sets
/// (see `kanta_store::Writer::claims_after_write`). A claim written as approved, within
/// the limit and with no one named as its decider counts as approved by the
/// small-claim rule.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let rules = tx.rules().claims.clone();
    let acting = tx.acting().clone();
    if acting.role() < Role::Manager {
        // Deciding a claim the small-claim rule does not approve is a manager's, on
        // every path (the generic API's writes too).
        let decided = tx
            .writer_mut()
            .claims_decided_unnamed(ids, rules.limit_minor, rules.currency.code())
            .await?;
        if !decided.is_empty() {
            return Err(CoreError::Forbidden(format!(
                "approving or refusing a claim above the small-claim limit ({}) needs the role 'manager' or above; the caller has '{}' (claims: {})",
                amount_text(rules.limit_minor, rules.currency),
                acting.role(),
                decided.join(", ")
            )));
        }
    }
    let actor = crate::cases::who(tx).await?.name;
    tx.writer_mut()
        .claims_after_write(ids, rules.limit_minor, rules.currency.code(), &actor)
        .await?;
    Ok(())
}

/// Refuses a claim that is not there.
fn found(row: Option<ClaimRow>, id: &str) -> Result<ClaimRow> {
    row.ok_or_else(|| CoreError::NotFound(format!("no claim with id '{id}'")))
}

impl Core {
    /// Records a claim on a case (staff or above). Up to and including the small-claim
    /// limit (in its currency) it is approved at once, by the actor, with no reason
    /// asked; above it, it waits for a manager.
    pub async fn add_claim(&self, acting: &Acting, case_id: &str, c: NewClaim) -> Result<Claim> {
        require(acting, access(Some(&CLAIMS), true))?;
        if c.amount_minor <= 0 {
            return Err(CoreError::invalid(
                "amount",
                "a claim is an amount above zero",
            ));
        }
        Money::bounded(c.amount_minor, c.currency)
            .map_err(|e| CoreError::invalid("amount", e.to_string()))?;
        let kind = c.kind.trim().to_ascii_lowercase();
        let kind = if kind.is_empty() {
            "refund".into()
        } else {
            kind
        };
        if !CLAIM_KINDS.contains(&kind.as_str()) {
            return Err(CoreError::invalid(
                "kind",
                format!(
                    "'{}' is not a kind of claim: {}",
                    c.kind.trim(),
                    CLAIM_KINDS.join(", ")
                ),
            ));
        }
        let names = [
            "case_id",
            "claimed_at",
            "amount",
            "currency",
            "kind",
            "status",
            "decided_at",
        ];
        let mut tx = self.begin_write(acting, &CLAIMS, fields(&names)).await?;
        let Some(case_key) = tx
            .known(&CASES, &[case_id.to_string()])
            .await?
            .get(case_id)
            .copied()
        else {
            return Err(CoreError::NotFound(format!("no case with id '{case_id}'")));
        };
        // A closed case takes no new claims (a resolved one still does: the
        // compensation often follows the fix).
        let closed = tx
            .writer_mut()
            .cases_by_external_ids(&[case_id.to_string()])
            .await?
            .iter()
            .any(|c| c.status == "closed");
        if closed {
            return Err(CoreError::Conflict {
                field: Some("case_id".into()),
                message: format!(
                    "case '{case_id}' is closed: reopen the case first to add a claim"
                ),
            });
        }
        let rules = tx.rules().claims.clone();
        let at_once = rules.approves_at_once(c.amount_minor, c.currency);
        let now = Utc::now();
        let id = new_claim_id(now);
        let status = if at_once { "approved" } else { "pending" };
        let values = vec![
            Value::Text(case_id.to_string()),
            Value::Time(now),
            Value::Int(c.amount_minor),
            Value::Text(c.currency.to_string()),
            Value::Text(kind.clone()),
            Value::Text(status.into()),
            if at_once {
                Value::Time(now)
            } else {
                Value::Null
            },
        ];
        let mut changes = serde_json::Map::new();
        for (n, v) in names.iter().zip(&values) {
            if !v.is_null() {
                changes.insert((*n).into(), change(&Value::Null, v));
            }
        }
        let mut batch = WriteBatch::new(&CLAIMS, fields(&names));
        batch.push(id.clone(), values);
        tx.write(batch).await?;
        let actor = crate::cases::who(&mut tx).await?.name;
        let user_id = acting.user_id();
        let amount = amount_text(c.amount_minor, c.currency);
        let w = tx.writer_mut();
        if at_once {
            w.stamp_claim(
                &id,
                ClaimStamp::Decided {
                    by: &actor,
                    auto_approved: true,
                },
            )
            .await?;
        }
        let step = |kind: &str, from: Option<&str>, to: &str, note: &str| NewCaseEvent {
            case_id: case_key,
            at: now,
            kind: kind.to_string(),
            from: from.map(str::to_string),
            to: Some(to.to_string()),
            note: Some(note.to_string()),
            actor: actor.clone(),
            user_id,
        };
        let mut steps = vec![step("claim", None, &amount, &kind)];
        if at_once {
            steps.push(step("claim_approved", Some("pending"), "approved", AT_ONCE));
        }
        w.insert_case_events(&steps).await?;
        let row = found(w.claim(&id).await?, &id)?;
        let mut entry = acting.audit(CLAIMS.name, Some(&id), "create");
        entry.changes = serde_json::Value::Object(changes);
        entry.details = json!({
            "case_id": case_id,
            "amount": amount,
            "limit": amount_text(rules.limit_minor, rules.currency),
            "decision": if at_once { AT_ONCE } else { WAITS },
        });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(claim_of(row, rules.currency))
    }

    /// A manager approves or refuses a pending claim, with a reason (required).
    pub async fn decide_claim(
        &self,
        acting: &Acting,
        claim_id: &str,
        approve: bool,
        reason: String,
    ) -> Result<Claim> {
        require(acting, Role::Manager)?;
        let reason = reason.trim().to_string();
        if reason.is_empty() {
            return Err(CoreError::invalid(
                "reason",
                format!(
                    "a reason is required to {} a claim",
                    if approve { "approve" } else { "refuse" }
                ),
            ));
        }
        let names = ["status", "decided_at", "decision_reason"];
        let mut tx = self.begin_write(acting, &CLAIMS, fields(&names)).await?;
        let before = found(tx.writer_mut().claim(claim_id).await?, claim_id)?;
        if before.status != "pending" {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!(
                    "claim '{claim_id}' is {} already: only pending claims are decided",
                    before.status
                ),
            });
        }
        let rules = tx.rules().claims.clone();
        let now = Utc::now();
        let status = if approve { "approved" } else { "refused" };
        let values = vec![
            Value::Text(status.into()),
            Value::Time(now),
            Value::Text(reason.clone()),
        ];
        let mut changes = serde_json::Map::new();
        changes.insert(
            "status".into(),
            change(&Value::Text(before.status.clone()), &values[0]),
        );
        changes.insert("decided_at".into(), change(&Value::Null, &values[1]));
        changes.insert(
            "decision_reason".into(),
            change(
                &before
                    .decision_reason
                    .clone()
                    .map_or(Value::Null, Value::Text),
                &values[2],
            ),
        );
        let mut batch = WriteBatch::new(&CLAIMS, fields(&names));
        batch.push(claim_id.to_string(), values);
        tx.write(batch).await?;
        let actor = crate::cases::who(&mut tx).await?.name;
        let w = tx.writer_mut();
        w.stamp_claim(
            claim_id,
            ClaimStamp::Decided {
                by: &actor,
                auto_approved: false,
            },
        )
        .await?;
        w.insert_case_events(&[NewCaseEvent {
            case_id: before.case_key,
            at: now,
            kind: if approve {
                "claim_approved"
            } else {
                "claim_refused"
            }
            .to_string(),
            from: Some("pending".into()),
            to: Some(status.into()),
            note: Some(reason.clone()),
            actor: actor.clone(),
            user_id: acting.user_id(),
        }])
        .await?;
        let row = found(w.claim(claim_id).await?, claim_id)?;
        let currency = before
            .currency
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(rules.currency);
        let mut entry = acting.audit(
            CLAIMS.name,
            Some(claim_id),
            if approve { "approve" } else { "refuse" },
        );
        entry.changes = serde_json::Value::Object(changes);
        entry.details = json!({
            "case_id": before.case_id,
            "amount": amount_text(before.amount_minor, currency),
            "decision": if approve { "approved by a manager" } else { "refused by a manager" },
            "reason": reason,
        });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(claim_of(row, rules.currency))
    }

    /// Records the payment of an approved claim (staff or above), once.
    pub async fn pay_claim(&self, acting: &Acting, claim_id: &str) -> Result<Claim> {
        require(acting, access(Some(&CLAIMS), true))?;
        let names = ["paid_at"];
        let mut tx = self.begin_write(acting, &CLAIMS, fields(&names)).await?;
        let before = found(tx.writer_mut().claim(claim_id).await?, claim_id)?;
        if before.status != "approved" {
            return Err(CoreError::Conflict {
                field: Some("status".into()),
                message: format!(
                    "claim '{claim_id}' is {}: only approved claims are paid",
                    before.status
                ),
            });
        }
        if let Some(paid) = before.paid_at {
            return Err(CoreError::Conflict {
                field: Some("paid_at".into()),
                message: format!(
                    "claim '{claim_id}' was paid already, at {}",
                    kanta_domain::value::format_time(&paid)
                ),
            });
        }
        let rules = tx.rules().claims.clone();
        let now = Utc::now();
        let mut batch = WriteBatch::new(&CLAIMS, fields(&names));
        batch.push(claim_id.to_string(), vec![Value::Time(now)]);
        tx.write(batch).await?;
        let actor = crate::cases::who(&mut tx).await?.name;
        let currency = before
            .currency
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(rules.currency);
        let amount = amount_text(before.amount_minor, currency);
        let w = tx.writer_mut();
        w.stamp_claim(claim_id, ClaimStamp::Paid { by: &actor })
            .await?;
        w.insert_case_events(&[NewCaseEvent {
            case_id: before.case_key,
            at: now,
            kind: "claim_paid".into(),
            from: None,
            to: Some(amount.clone()),
            note: None,
            actor: actor.clone(),
            user_id: acting.user_id(),
        }])
        .await?;
        let row = found(w.claim(claim_id).await?, claim_id)?;
        let mut entry = acting.audit(CLAIMS.name, Some(claim_id), "pay");
        entry.changes = json!({ "paid_at": change(&Value::Null, &Value::Time(now)) });
        entry.details = json!({ "case_id": before.case_id, "amount": amount });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(claim_of(row, rules.currency))
    }

    /// One claim (any role that reads).
    pub async fn claim(&self, acting: &Acting, claim_id: &str) -> Result<Claim> {
        require(acting, access(Some(&CLAIMS), false))?;
        let rules = self.rules().await?.claims;
        let row = found(self.store().claim(claim_id).await?, claim_id)?;
        Ok(claim_of(row, rules.currency))
    }

    /// One case's claims, oldest first (for the case page; any role that reads).
    pub async fn claims_of_case(&self, acting: &Acting, case_id: &str) -> Result<Vec<Claim>> {
        require(acting, access(Some(&CLAIMS), false))?;
        let rules = self.rules().await?.claims;
        Ok(self
            .store()
            .claims_of_case(case_id)
            .await?
            .into_iter()
            .map(|r| claim_of(r, rules.currency))
            .collect())
    }

    /// The managers' approval queue: pending claims, oldest first, `limit` a page
    /// (1..=200), after the cursor of the page before.
    pub async fn pending_claims(
        &self,
        acting: &Acting,
        after: Option<String>,
        limit: u32,
    ) -> Result<ClaimPage> {
        require(acting, access(Some(&CLAIMS), false))?;
        let after = match after.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(decode_cursor(s).ok_or_else(|| {
                CoreError::invalid(
                    "after",
                    format!("'{s}' is not a cursor of this list: use the link of the page before"),
                )
            })?),
        };
        let rules = self.rules().await?.claims;
        let page = self
            .store()
            .pending_claims(after, limit.clamp(1, 200))
            .await?;
        Ok(ClaimPage {
            rows: page
                .rows
                .into_iter()
                .map(|r| claim_of(r, rules.currency))
                .collect(),
            next: page.next.map(|(at, key)| encode_cursor(at, key)),
        })
    }

    /// The repeat-claim view (managers): customers by number and sum of claims in the
    /// 12 months before `as_of`, their share of all claims, their revenue, flagged
    /// from `repeat_claims` on. It informs; the small-claim rule ignores it.
    pub async fn repeat_claimants(
        &self,
        acting: &Acting,
        as_of: DateTime<Utc>,
    ) -> Result<RepeatClaimants> {
        // Every signed-in role reads it (it informs; it changes nothing).
        require(acting, access(Some(&CLAIMS), false))?;
        let rules = self.rules().await?.claims;
        let from = as_of - Duration::days(365);
        let t = self
            .store()
            .claim_tallies(from, as_of, rules.currency.code(), REPEAT_TOP)
            .await?;
        let total_claims = u64::try_from(t.total_claims).unwrap_or(0);
        let share = |part: i64, whole: i64| {
            if whole > 0 {
                part as f64 / whole as f64
            } else {
                0.0
            }
        };
        let rows = t
            .rows
            .into_iter()
            .map(|r| {
                let claims = u64::try_from(r.claims).unwrap_or(0);
                RepeatRow {
                    share_of_claims: share(r.claims, t.total_claims),
                    share_of_sum: share(r.sum_minor, t.total_minor),
                    flagged: claims >= u64::from(rules.repeat_claims),
                    customer_id: r.customer_id,
                    name: r.name,
                    claims,
                    sum_minor: r.sum_minor,
                    approved_minor: r.approved_minor,
                    revenue_minor: r.revenue_minor,
                }
            })
            .collect();
        Ok(RepeatClaimants {
            flag_at: rules.repeat_claims,
            total_claims,
            total_minor: t.total_minor,
            total_approved_minor: t.total_approved_minor,
            currency: rules.currency.to_string(),
            rows,
        })
    }

    /// What the small-claim rule did with the claims of the last `months` months
    /// (1..=120; counted as 30.44-day months back from now).
    pub async fn small_claim_effect(&self, acting: &Acting, months: u32) -> Result<ClaimEffect> {
        require(acting, access(Some(&CLAIMS), false))?;
        let rules = self.rules().await?.claims;
        let months = months.clamp(1, 120);
        let since = Utc::now() - Duration::hours(i64::from(months) * 730);
        let figures = self.store().claim_effect_figures(since).await?;
        Ok(effect_of_figures(&rules, &figures))
    }
}

/// The effect figures of the groups and medians the store computed.
pub fn effect_of_figures(
    rules: &ClaimRules,
    f: &kanta_store::claims::ClaimEffectFigures,
) -> ClaimEffect {
    let mut e = ClaimEffect {
        limit_minor: rules.limit_minor,
        currency: rules.currency.to_string(),
        approved_at_once: 0,
        approved_at_once_minor: 0,
        large: 0,
        large_approved: 0,
        large_refused: 0,
        pending: 0,
        median_hours_small: f.median_hours_small,
        median_hours_large: f.median_hours_large,
    };
    for g in &f.groups {
        let n = u64::try_from(g.claims).unwrap_or(0);
        if g.auto_approved {
            e.approved_at_once += n;
            e.approved_at_once_minor = e.approved_at_once_minor.saturating_add(g.amount_minor);
            continue;
        }
        e.large += n;
        match g.status.as_str() {
            "approved" => e.large_approved += n,
            "refused" => e.large_refused += n,
            _ => e.pending += n,
        }
    }
    e
}

/// The approval queue's cursor: `<claimed_at>~<key>`.
fn encode_cursor(at: DateTime<Utc>, key: i64) -> String {
    format!("{}~{key}", kanta_domain::value::format_time(&at))
}

fn decode_cursor(s: &str) -> Option<(DateTime<Utc>, i64)> {
    let (at, key) = s.split_once('~')?;
    Some((
        DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        key.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back() {
        let t = Utc::now();
        let (at, key) = decode_cursor(&encode_cursor(t, 42)).unwrap();
        assert_eq!(key, 42);
        assert!((at - t).num_milliseconds().abs() <= 1);
        assert!(decode_cursor("nonsense").is_none());
    }
}

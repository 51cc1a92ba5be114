//! Goals agreed with the customer: measure, baseline, target, due date, status and
//! dated progress notes; a signed, expiring link that shows them to the customer
//! without signing in.
//!
//! - Goals and notes are entities (`goals`, `goal_notes`) written through the one write
//!   path by staff: [`Core::add_goal`], [`Core::update_goal`] (status, current value,
//!   target, due day), [`Core::add_goal_note`] (a note that carries a value sets the
//!   goal's current value in the same transaction). The contact queue's `goal` reason
//!   reads them (at risk, or on track and due within 14 days).
//! - The customer's link ([`Core::create_goal_link`]) is a random 32-byte token in the
//!   path `/g/<token>`; the store keeps only its SHA-256 digest (`goal_links`), with an
//!   expiry (default 30 days, at most 365) and a revocation
//!   ([`Core::revoke_goal_link`]), each audited. The token is shown once, to the staff
//!   member who made it.
//! - [`Core::public_goals`] answers the public page with no actor: `None` for a token
//!   unknown, expired or revoked (the page then says only that the link is no longer
//!   valid). What it returns is what the customer may read: their first name or
//!   company name, the goals and notes, staff by first name only, no ids, and the
//!   customer's language.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kanta_domain::schema::{CUSTOMERS, GOAL_NOTES, GOAL_STATUSES, GOALS};
use kanta_domain::{Value, WriteBatch};
pub use kanta_store::goals::{GoalLinkRow, GoalNoteRow, GoalRow};
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, access, require};
use crate::actor::Acting;
use crate::onboarding::short_id;
use crate::write::{change, run_info};
use crate::{Core, CoreError, Problem, Result};

/// Days a customer's link lasts unless told otherwise.
pub const DEFAULT_LINK_DAYS: u32 = 30;
/// The longest a link may last.
pub const MAX_LINK_DAYS: u32 = 365;

/// A goal as staff add it.
#[derive(Debug, Clone, Default)]
pub struct GoalInput {
    pub title: String,
    pub measure: Option<String>,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    /// The measure now; the baseline when not given.
    pub current: Option<f64>,
    /// The day it was agreed; today when not given.
    pub agreed_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    /// on_track (default), at_risk, achieved or missed.
    pub status: Option<String>,
}

/// What an update changes (`None`: as it is).
#[derive(Debug, Clone, Default)]
pub struct GoalUpdate {
    pub status: Option<String>,
    pub current: Option<f64>,
    pub target: Option<f64>,
    pub due_on: Option<NaiveDate>,
}

/// A link just made: the path to give the customer (holding the token, shown once).
#[derive(Debug, Clone, Serialize)]
pub struct NewGoalLink {
    pub id: i64,
    /// `/g/<token>`.
    pub path: String,
    pub expires_at: DateTime<Utc>,
}

/// One note as the customer reads it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicNote {
    pub noted_on: NaiveDate,
    pub value: Option<f64>,
    pub note: String,
    /// The staff member's first name.
    pub by: Option<String>,
}

/// One goal as the customer reads it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicGoal {
    pub title: String,
    pub measure: Option<String>,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    pub current: Option<f64>,
    pub agreed_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub status: String,
    /// Share of the way from baseline to target, 0..=1 ([`progress`]).
    pub progress: Option<f64>,
    /// Who looks after it (first name).
    pub contact: Option<String>,
    pub notes: Vec<PublicNote>,
}

/// One onboarding step the customer is told about.
#[derive(Debug, Clone, Serialize)]
pub struct PublicStep {
    pub title: String,
    pub customer_text: Option<String>,
    pub due_on: NaiveDate,
    pub done: bool,
}

/// What the public goals page shows.
#[derive(Debug, Clone, Serialize)]
pub struct PublicGoals {
    /// The customer's first name (a person) or company name; `None` when unknown.
    pub name: Option<String>,
    /// The customer's language (`fi`, `en`), when set.
    pub locale: Option<String>,
    pub goals: Vec<PublicGoal>,
    /// The onboarding's steps that carry text for the customer.
    pub steps: Vec<PublicStep>,
    /// When the link expires.
    pub expires_at: DateTime<Utc>,
}

/// The share of the way from baseline to target that current has come, clamped to
/// 0..=1; `None` without target, or when baseline equals target.
pub fn progress(baseline: Option<f64>, current: Option<f64>, target: Option<f64>) -> Option<f64> {
    let target = target?;
    let baseline = baseline.unwrap_or(0.0);
    let current = current.unwrap_or(baseline);
    let span = target - baseline;
    if span.abs() < f64::EPSILON {
        return None;
    }
    Some(((current - baseline) / span).clamp(0.0, 1.0))
}

/// The first word of a name (`Maija Virtanen` → `Maija`).
pub fn first_name(name: &str) -> Option<String> {
    name.split_whitespace().next().map(str::to_string)
}

fn status_value(status: &str) -> Result<Value> {
    let s = status.trim();
    if GOAL_STATUSES.contains(&s) {
        Ok(Value::Text(s.to_string()))
    } else {
        Err(CoreError::invalid(
            "status",
            format!(
                "'{}' is not a goal status: {}",
                kanta_domain::value::excerpt(s),
                GOAL_STATUSES.join(", ")
            ),
        ))
    }
}

fn finite(field: &str, v: Option<f64>) -> Result<Value> {
    match v {
        None => Ok(Value::Null),
        Some(x) if x.is_finite() => Ok(Value::Float(x)),
        Some(_) => Err(CoreError::invalid(field, "must be a number")),
    }
}

fn opt_text(s: &Option<String>) -> Value {
    match s.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Value::Text(t.to_string()),
        _ => Value::Null,
    }
}

impl Core {
    /// Adds a goal agreed with `customer` (staff), looked after by the acting user's
    /// staff member. Returns its id.
    pub async fn add_goal(&self, acting: &Acting, customer: &str, g: GoalInput) -> Result<String> {
        require(acting, access(Some(&GOALS), true))?;
        let title = g.title.trim();
        if title.is_empty() {
            return Err(CoreError::invalid("title", "a goal needs a title"));
        }
        let status = status_value(g.status.as_deref().unwrap_or("on_track"))?;
        let baseline = finite("baseline", g.baseline)?;
        let target = finite("target", g.target)?;
        let current = finite("current", g.current.or(g.baseline))?;
        let agreed_on = match g.agreed_on {
            Some(d) => d,
            None => self.today().await?,
        };
        if let Some(due) = g.due_on
            && due < agreed_on
        {
            return Err(CoreError::invalid(
                "due_on",
                "the due day is before the day the goal was agreed",
            ));
        }
        let staff = self.staff_of_acting(acting).await?;
        let id = format!("goal-{}", short_id());
        let values: Vec<Value> = GOALS
            .fields
            .iter()
            .map(|f| match f.name {
                "customer_id" => Value::Text(customer.to_string()),
                "agreed_on" => Value::Date(agreed_on),
                "title" => Value::Text(title.to_string()),
                "measure" => opt_text(&g.measure),
                "baseline" => baseline.clone(),
                "target" => target.clone(),
                "current" => current.clone(),
                "due_on" => g.due_on.map_or(Value::Null, Value::Date),
                "status" => status.clone(),
                "staff_id" => staff.clone().map_or(Value::Null, Value::Text),
                _ => Value::Null,
            })
            .collect();
        self.create_record(acting, &GOALS, &id, values).await?;
        Ok(id)
    }

    /// Changes a goal's status, current value, target or due day (staff).
    pub async fn update_goal(&self, acting: &Acting, goal: &str, u: GoalUpdate) -> Result<()> {
        require(acting, access(Some(&GOALS), true))?;
        let mut fields = Vec::new();
        let mut values = Vec::new();
        if let Some(s) = &u.status {
            fields.push(GOALS.field("status").expect("schema"));
            values.push(status_value(s)?);
        }
        if u.current.is_some() {
            fields.push(GOALS.field("current").expect("schema"));
            values.push(finite("current", u.current)?);
        }
        if u.target.is_some() {
            fields.push(GOALS.field("target").expect("schema"));
            values.push(finite("target", u.target)?);
        }
        if let Some(d) = u.due_on {
            fields.push(GOALS.field("due_on").expect("schema"));
            values.push(Value::Date(d));
        }
        if fields.is_empty() {
            return Err(CoreError::invalid("status", "nothing to change"));
        }
        self.update_record(acting, &GOALS, goal, fields, values)
            .await?;
        Ok(())
    }

    /// Adds a dated progress note to a goal (staff); a note with a value sets the
    /// goal's current value in the same transaction. Returns the note's id.
    pub async fn add_goal_note(
        &self,
        acting: &Acting,
        goal: &str,
        noted_on: NaiveDate,
        value: Option<f64>,
        note: &str,
    ) -> Result<String> {
        require(acting, access(Some(&GOAL_NOTES), true))?;
        let note = note.trim();
        if note.is_empty() {
            return Err(CoreError::invalid("note", "a progress note needs its text"));
        }
        let value_v = finite("value", value)?;
        let before = self
            .store
            .get(&GOALS, goal)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no goal with id '{goal}'")))?;
        let staff = self.staff_of_acting(acting).await?;
        let id = format!("note-{}", short_id());
        let nfields: Vec<_> = GOAL_NOTES.fields.iter().collect();
        let nvalues: Vec<Value> = GOAL_NOTES
            .fields
            .iter()
            .map(|f| match f.name {
                "goal_id" => Value::Text(goal.to_string()),
                "noted_on" => Value::Date(noted_on),
                "value" => value_v.clone(),
                "note" => Value::Text(note.to_string()),
                "staff_id" => staff.clone().map_or(Value::Null, Value::Text),
                _ => Value::Null,
            })
            .collect();
        let mut tx = self
            .begin_write(acting, &GOAL_NOTES, nfields.clone())
            .await?;
        let mut batch = WriteBatch::new(&GOAL_NOTES, nfields.clone());
        batch.push(id.clone(), nvalues.clone());
        tx.write(batch).await?;
        let mut entry = acting.audit(GOAL_NOTES.name, Some(&id), "create");
        let mut changes = serde_json::Map::new();
        for (f, v) in nfields.iter().zip(&nvalues) {
            if !v.is_null() {
                changes.insert(f.name.into(), change(&Value::Null, v));
            }
        }
        entry.changes = serde_json::Value::Object(changes);
        let mut entries = vec![entry];
        if let Some(x) = value {
            let old = before.get("current").clone();
            if old != Value::Float(x) {
                let f = GOALS.field("current").expect("schema");
                tx.next_entity(&GOALS, vec![f], &run_info("", 0)).await?;
                let mut g = WriteBatch::new(&GOALS, vec![f]);
                g.push(goal.to_string(), [Value::Float(x)]);
                tx.write(g).await?;
                let mut e = acting.audit(GOALS.name, Some(goal), "update");
                e.changes = json!({ "current": change(&old, &Value::Float(x)) });
                entries.push(e);
            }
        }
        tx.finish(&run_info(acting.channel.as_str(), 1), entries)
            .await?;
        Ok(id)
    }

    /// The customer's goals with their notes (everyone signed in).
    pub async fn customer_goals(&self, acting: &Acting, customer: &str) -> Result<Vec<GoalRow>> {
        require(acting, Role::Viewer)?;
        Ok(self.store.customer_goals(customer).await?)
    }

    /// The customer of a goal.
    pub async fn goal_customer(&self, acting: &Acting, goal: &str) -> Result<String> {
        require(acting, Role::Viewer)?;
        self.store
            .goal_customer(goal)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no goal with id '{goal}'")))
    }

    /// Makes a link that shows the customer's goals without signing in (staff), valid
    /// for `expires_in_days` (default 30, 1-365). The token is in the returned path
    /// only; the store keeps its digest. Audited.
    pub async fn create_goal_link(
        &self,
        acting: &Acting,
        customer: &str,
        expires_in_days: Option<u32>,
    ) -> Result<NewGoalLink> {
        self.create_goal_link_at(acting, customer, Utc::now(), expires_in_days)
            .await
    }

    /// [`Core::create_goal_link`] as if made at `now` (a link made in the past has
    /// expired in the past: for tests and tools that move time).
    pub async fn create_goal_link_at(
        &self,
        acting: &Acting,
        customer: &str,
        now: DateTime<Utc>,
        expires_in_days: Option<u32>,
    ) -> Result<NewGoalLink> {
        require(acting, access(Some(&GOALS), true))?;
        let days = expires_in_days.unwrap_or(DEFAULT_LINK_DAYS);
        if !(1..=MAX_LINK_DAYS).contains(&days) {
            return Err(CoreError::Invalid(vec![Problem::new(
                "expires_in_days",
                format!("a link lasts 1 to {MAX_LINK_DAYS} days, not {days}"),
            )]));
        }
        let expires_at = now + Duration::days(i64::from(days));
        let mut tx = self.begin_write(acting, &GOALS, Vec::new()).await?;
        let known = tx.known(&CUSTOMERS, &[customer.to_string()]).await?;
        let Some(&customer_id) = known.get(customer) else {
            return Err(CoreError::NotFound(format!(
                "no customer with id '{customer}'"
            )));
        };
        let token = crate::secrets::new_secret();
        let digest = crate::secrets::digest(&token);
        let id = tx
            .writer_mut()
            .insert_goal_link(customer_id, &digest, now, expires_at, acting.user_id())
            .await?;
        let mut entry = acting.audit("goal_links", Some(&id.to_string()), "create");
        entry.details = json!({
            "customer_id": customer,
            "expires_at": expires_at.to_rfc3339(),
            "days": days,
        });
        tx.finish(&run_info("", 0), vec![entry]).await?;
        Ok(NewGoalLink {
            id,
            path: format!("/g/{token}"),
            expires_at,
        })
    }

    /// Revokes a link of the customer (staff), audited; refused when the customer has
    /// no such active link.
    pub async fn revoke_goal_link(&self, acting: &Acting, customer: &str, link: i64) -> Result<()> {
        require(acting, access(Some(&GOALS), true))?;
        let mut tx = self.begin_write(acting, &GOALS, Vec::new()).await?;
        if !tx
            .writer_mut()
            .revoke_goal_link(link, customer, Utc::now())
            .await?
        {
            return Err(CoreError::NotFound(format!(
                "the customer has no active goals link {link}"
            )));
        }
        let mut entry = acting.audit("goal_links", Some(&link.to_string()), "revoke");
        entry.details = json!({ "customer_id": customer });
        tx.finish(&run_info("", 0), vec![entry]).await?;
        Ok(())
    }

    /// The customer's links neither expired nor revoked, newest first (everyone
    /// signed in).
    pub async fn goal_links(&self, acting: &Acting, customer: &str) -> Result<Vec<GoalLinkRow>> {
        require(acting, Role::Viewer)?;
        Ok(self.store.active_goal_links(customer, Utc::now()).await?)
    }

    /// What the public page `/g/<token>` shows, for no actor: `None` when the token is
    /// unknown, expired or revoked.
    pub async fn public_goals(&self, token: &str) -> Result<Option<PublicGoals>> {
        self.public_goals_at(token, Utc::now()).await
    }

    /// [`Core::public_goals`] as of `now`.
    pub async fn public_goals_at(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PublicGoals>> {
        let token = token.trim();
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let digest = crate::secrets::digest(token);
        let Some(c) = self.store.goal_link_customer(&digest, now).await? else {
            return Ok(None);
        };
        let (goals, onboarding) = tokio::try_join!(
            self.store.customer_goals(&c.customer_id),
            self.store.customer_onboarding(&c.customer_id),
        )?;
        let name = c.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let name = match c.kind.as_deref() {
            Some("company") => name.map(str::to_string),
            _ => name.and_then(first_name),
        };
        let goals = goals
            .into_iter()
            .map(|g| PublicGoal {
                progress: progress(g.baseline, g.current, g.target),
                contact: g.staff_name.as_deref().and_then(first_name),
                notes: g
                    .notes
                    .into_iter()
                    .map(|n| PublicNote {
                        noted_on: n.noted_on,
                        value: n.value,
                        note: n.note,
                        by: n.staff_name.as_deref().and_then(first_name),
                    })
                    .collect(),
                title: g.title,
                measure: g.measure,
                baseline: g.baseline,
                target: g.target,
                current: g.current,
                agreed_on: g.agreed_on,
                due_on: g.due_on,
                status: g.status,
            })
            .collect();
        let steps = onboarding
            .filter(|o| o.status != "cancelled")
            .map(|o| {
                o.tasks
                    .into_iter()
                    .filter(|k| {
                        k.customer_text
                            .as_deref()
                            .is_some_and(|t| !t.trim().is_empty())
                    })
                    .map(|k| PublicStep {
                        title: k.step_title,
                        customer_text: k.customer_text,
                        due_on: k.due_on,
                        done: k.done_at.is_some(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(PublicGoals {
            name,
            locale: c.locale,
            goals,
            steps,
            expires_at: c.expires_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_runs_from_baseline_to_target() {
        assert_eq!(progress(Some(10.0), Some(15.0), Some(20.0)), Some(0.5));
        assert_eq!(progress(Some(10.0), Some(25.0), Some(20.0)), Some(1.0));
        // A goal to bring a figure down.
        assert_eq!(progress(Some(100.0), Some(75.0), Some(50.0)), Some(0.5));
        assert_eq!(progress(Some(1.0), Some(1.0), None), None);
        assert_eq!(first_name("Maija Virtanen").as_deref(), Some("Maija"));
    }
}

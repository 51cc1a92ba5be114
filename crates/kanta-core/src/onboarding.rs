//! Onboarding checklists: templates per segment or plan, started for new customers
//! automatically or by hand, steps with due days, stalled steps, time to complete.
//!
//! - A template (`onboarding_templates`) has steps (`onboarding_steps`): a title, a due
//!   offset in days from the start, an owner role and optional text for the customer.
//!   Managers write templates ([`Core::save_template`]); everyone signed in reads them.
//! - [`after_write`] runs in the transaction of every write of customers and
//!   subscriptions: customers this write inserted (and the subscribers of
//!   subscriptions it inserted) without an onboarding start the active auto-start template that matches them best (segment and plan,
//!   then segment, then plan, then a template for everyone), with one task per step due
//!   `started_on + due_days`. It is set-based (one statement per step for up to 10,000
//!   ids) and costs one query when no auto-start template exists, so an import of a
//!   million customers pays nothing for it.
//! - Staff start a template by hand ([`Core::start_onboarding`]) and tick tasks off
//!   ([`Core::complete_task`]); the last task done completes the onboarding.
//! - A task not done whose due day lies more than the setting `onboarding_stall_days`
//!   (default 7) in the past is **stalled**: the contact queue's `onboarding_stalled`
//!   reason reads the same tables with the same rule. [`Core::onboarding_report`] gives
//!   per template the onboardings started and completed, the median and 80th
//!   percentile of days to complete, those stalled now, and how often each step stalls.

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kanta_domain::schema::{
    self, ONBOARDING_STEPS, ONBOARDING_TASKS, ONBOARDING_TEMPLATES, ONBOARDINGS,
};
use kanta_domain::{Value, WriteBatch};
pub use kanta_store::onboarding::{StepRow, TemplateRow};
use serde::Serialize;
use serde_json::json;

use crate::access::{Role, access, require};
use crate::actor::{Acting, Actor};
use crate::write::{WriteTx, change, check_refs, missing_ref_problems, run_info};
use crate::{Core, CoreError, Problem, Result};

/// Days past its due day after which an open task is stalled, while the store has no
/// `onboarding_stall_days` setting.
pub const DEFAULT_STALL_DAYS: u32 = 7;

/// Runs in the transaction of every write of customers and subscriptions: starts the
/// matching auto-start template for the customers this write inserted (customers: a
/// customer id above `new_after_id`; subscriptions: a subscription id above it, the
/// greatest id before the write, see [`WriteTx::write`]) that have no onboarding yet.
/// Existing customers and subscriptions written again start nothing.
pub(crate) async fn after_write(tx: &mut WriteTx, ids: &[String], new_after_id: i64) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let subscriptions = tx.entity().name == schema::SUBSCRIPTIONS.name;
    let acting = tx.acting().clone();
    let w = tx.writer_mut();
    if !w.has_auto_start_templates().await? {
        return Ok(());
    }
    let zone = w
        .setting_text("time_zone")
        .await?
        .map_or(kanta_domain::time::DEFAULT_ZONE, |z| {
            crate::settings::zone_or_default(&z)
        });
    let now = Utc::now();
    let today = now.with_timezone(&zone).date_naive();
    let started = w
        .start_onboardings(ids, subscriptions, today, new_after_id)
        .await?;
    if started > 0 {
        let mut entry = acting.audit(ONBOARDINGS.name, None, "auto_start");
        entry.details = json!({ "started": started, "started_on": today.to_string() });
        w.audit(&entry).await?;
    }
    Ok(())
}

/// A template as a manager saves it.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    /// The template's id when editing one; a new id when `None`.
    pub id: Option<String>,
    pub name: String,
    pub segment: Option<String>,
    pub plan: Option<String>,
    pub auto_start: bool,
    pub active: bool,
    /// The steps in order (their position is their place here).
    pub steps: Vec<StepInput>,
}

/// One step as saved.
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    /// The step's id when editing one.
    pub id: Option<String>,
    pub title: String,
    pub due_days: i64,
    pub owner_role: Option<String>,
    pub customer_text: Option<String>,
}

/// One task of a customer's onboarding, as the customer page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskProgress {
    pub id: String,
    pub title: String,
    pub owner_role: Option<String>,
    pub customer_text: Option<String>,
    pub due_on: NaiveDate,
    pub done_at: Option<DateTime<Utc>>,
    /// Who did it (the staff member's name).
    pub done_by: Option<String>,
    pub note: Option<String>,
    /// Not done, past its due day.
    pub overdue: bool,
    /// Not done, more than the stall days past its due day (the onboarding active).
    pub stalled: bool,
}

/// A customer's onboarding and its progress.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerOnboarding {
    pub id: String,
    pub template_id: String,
    pub template_name: String,
    pub started_on: NaiveDate,
    /// active, completed or cancelled.
    pub status: String,
    pub completed_on: Option<NaiveDate>,
    pub tasks: Vec<TaskProgress>,
    pub done: usize,
    pub total: usize,
    pub stalled: usize,
    pub stall_days: u32,
}

/// One step's stalls in the report.
#[derive(Debug, Clone, Serialize)]
pub struct StepStallReport {
    pub id: String,
    pub title: String,
    pub tasks: u64,
    /// Tasks that stalled (now, or were done more than the stall days late).
    pub stalled: u64,
    pub stalled_now: u64,
    /// `stalled / tasks`, `None` without tasks.
    pub share: Option<f64>,
}

/// One template in the report.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateReport {
    pub id: String,
    pub name: String,
    pub segment: Option<String>,
    pub plan: Option<String>,
    pub auto_start: bool,
    pub active: bool,
    pub started: u64,
    pub completed: u64,
    /// Median days from start to completion of the completed onboardings.
    pub median_days: Option<f64>,
    /// 80th percentile of the same.
    pub p80_days: Option<f64>,
    /// Active onboardings with a stalled task now.
    pub stalled_now: u64,
    pub steps: Vec<StepStallReport>,
}

/// Time to complete onboarding and stalls, by template.
#[derive(Debug, Clone, Serialize)]
pub struct OnboardingReport {
    pub stall_days: u32,
    pub today: NaiveDate,
    pub templates: Vec<TemplateReport>,
}

/// The `q` quantile (0..=1) of sorted values, linearly interpolated between the
/// nearest ranks (R's type 7); `None` for no values.
pub fn quantile(sorted: &[i64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
    Some(a + (b - a) * (h - lo as f64))
}

fn opt_text(s: &Option<String>) -> Value {
    match s.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Value::Text(t.to_string()),
        _ => Value::Null,
    }
}

/// A short random suffix for new ids.
pub(crate) fn short_id() -> String {
    crate::secrets::new_secret()[..10].to_string()
}

impl Core {
    /// Days past its due day after which an open task is stalled (setting
    /// `onboarding_stall_days`, default [`DEFAULT_STALL_DAYS`]).
    pub async fn onboarding_stall_days(&self) -> Result<u32> {
        Ok(self
            .store_settings()
            .await?
            .value("onboarding_stall_days")
            .and_then(|v| v.trim().trim_matches('"').parse::<u32>().ok())
            .unwrap_or(DEFAULT_STALL_DAYS))
    }

    /// The staff member (external id) of the acting user, by email; `None` for
    /// actors that are no user or users with no staff row.
    pub(crate) async fn staff_of_acting(&self, acting: &Acting) -> Result<Option<String>> {
        match &acting.actor {
            Actor::User { email, .. } => Ok(self.store.staff_for_email(email).await?),
            _ => Ok(None),
        }
    }

    /// Every checklist template with its steps (everyone signed in).
    pub async fn onboarding_templates(&self, acting: &Acting) -> Result<Vec<TemplateRow>> {
        require(acting, Role::Viewer)?;
        Ok(self.store.onboarding_templates().await?)
    }

    /// One template with its steps.
    pub async fn onboarding_template(&self, acting: &Acting, id: &str) -> Result<TemplateRow> {
        require(acting, Role::Viewer)?;
        self.store
            .onboarding_template(id)
            .await?
            .ok_or_else(|| CoreError::NotFound(format!("no onboarding template with id '{id}'")))
    }

    /// Creates or changes a template and its steps (managers): the name is needed,
    /// each step a title and due days 0-3650. Steps are numbered in the order given;
    /// steps of the template not given stay as they are. Returns the template's id.
    pub async fn save_template(&self, acting: &Acting, input: TemplateInput) -> Result<String> {
        require(acting, access(Some(&ONBOARDING_TEMPLATES), true))?;
        let mut problems = Vec::new();
        let name = input.name.trim().to_string();
        if name.is_empty() {
            problems.push(Problem::new("name", "a template needs a name"));
        }
        for (i, s) in input.steps.iter().enumerate() {
            if s.title.trim().is_empty() {
                problems.push(Problem {
                    index: Some(i),
                    field: "title".into(),
                    reason: format!("step {} needs a title", i + 1),
                });
            }
            if !(0..=3650).contains(&s.due_days) {
                problems.push(Problem {
                    index: Some(i),
                    field: "due_days".into(),
                    reason: format!(
                        "step {}: due days must be a whole number from 0 to 3650",
                        i + 1
                    ),
                });
            }
        }
        if !problems.is_empty() {
            return Err(CoreError::Invalid(problems));
        }
        let (id, before) = match input.id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => {
                let before = self.store.onboarding_template(id).await?.ok_or_else(|| {
                    CoreError::NotFound(format!("no onboarding template with id '{id}'"))
                })?;
                (id.to_string(), Some(before))
            }
            None => (format!("tpl-{}", short_id()), None),
        };
        let known_steps: HashSet<&str> = before
            .iter()
            .flat_map(|t| t.steps.iter().map(|s| s.id.as_str()))
            .collect();
        let tfields: Vec<_> = ["name", "segment", "plan", "auto_start", "active"]
            .iter()
            .map(|n| ONBOARDING_TEMPLATES.field(n).expect("schema"))
            .collect();
        let tvalues = vec![
            Value::Text(name.clone()),
            opt_text(&input.segment),
            opt_text(&input.plan),
            Value::Bool(input.auto_start),
            Value::Bool(input.active),
        ];
        let mut tx = self
            .begin_write(acting, &ONBOARDING_TEMPLATES, tfields.clone())
            .await?;
        let mut batch = WriteBatch::new(&ONBOARDING_TEMPLATES, tfields.clone());
        batch.push(id.clone(), tvalues.clone());
        tx.write(batch).await?;
        let sfields: Vec<_> = [
            "template_id",
            "position",
            "title",
            "due_days",
            "owner_role",
            "customer_text",
        ]
        .iter()
        .map(|n| ONBOARDING_STEPS.field(n).expect("schema"))
        .collect();
        tx.next_entity(&ONBOARDING_STEPS, sfields.clone(), &run_info("", 0))
            .await?;
        let mut steps = WriteBatch::new(&ONBOARDING_STEPS, sfields);
        for (i, s) in input.steps.iter().enumerate() {
            let sid = match s.id.as_deref().map(str::trim) {
                Some(sid) if known_steps.contains(sid) => sid.to_string(),
                _ => format!("{id}-{}", short_id()),
            };
            steps.push(
                sid,
                [
                    Value::Text(id.clone()),
                    Value::Int(i as i64),
                    Value::Text(s.title.trim().to_string()),
                    Value::Int(s.due_days),
                    opt_text(&s.owner_role),
                    opt_text(&s.customer_text),
                ],
            );
        }
        if !steps.is_empty() {
            tx.write(steps).await?;
        }
        let mut entry = acting.audit(
            ONBOARDING_TEMPLATES.name,
            Some(&id),
            if before.is_some() { "update" } else { "create" },
        );
        let mut changes = serde_json::Map::new();
        let old = before.as_ref();
        let olds = [
            old.map(|t| Value::Text(t.name.clone())),
            old.map(|t| opt_text(&t.segment)),
            old.map(|t| opt_text(&t.plan)),
            old.map(|t| Value::Bool(t.auto_start)),
            old.map(|t| Value::Bool(t.active)),
        ];
        for ((f, new), old) in tfields.iter().zip(&tvalues).zip(olds) {
            let old = old.unwrap_or(Value::Null);
            if old != *new {
                changes.insert(f.name.into(), change(&old, new));
            }
        }
        entry.changes = serde_json::Value::Object(changes);
        entry.details = json!({
            "steps": input.steps.iter().map(|s| json!({
                "title": s.title.trim(),
                "due_days": s.due_days,
                "owner_role": s.owner_role,
            })).collect::<Vec<_>>()
        });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(id)
    }

    /// Starts `template` for `customer` by hand (staff), today, with one task per step.
    /// Refused when the customer's onboarding is under way or the template is not in
    /// use. Returns the onboarding's id.
    pub async fn start_onboarding(
        &self,
        acting: &Acting,
        customer: &str,
        template: &str,
    ) -> Result<String> {
        require(acting, access(Some(&ONBOARDINGS), true))?;
        let t = self
            .store
            .onboarding_template(template)
            .await?
            .ok_or_else(|| {
                CoreError::invalid(
                    "template_id",
                    format!("no onboarding template with id '{template}'"),
                )
            })?;
        if !t.active {
            return Err(CoreError::invalid(
                "template_id",
                format!("the template '{}' is not in use", t.name),
            ));
        }
        if let Some(o) = self.store.customer_onboarding(customer).await?
            && o.status == "active"
        {
            return Err(CoreError::Conflict {
                field: Some("customer_id".into()),
                message: format!(
                    "the customer's onboarding '{}' is under way already",
                    o.template_name
                ),
            });
        }
        let today = self.today().await?;
        let id = format!("onb:{customer}:{}:{}", t.id, short_id());
        let ofields: Vec<_> = ["customer_id", "template_id", "started_on", "status"]
            .iter()
            .map(|n| ONBOARDINGS.field(n).expect("schema"))
            .collect();
        let mut tx = self
            .begin_write(acting, &ONBOARDINGS, ofields.clone())
            .await?;
        let mut batch = WriteBatch::new(&ONBOARDINGS, ofields);
        batch.push(
            id.clone(),
            [
                Value::Text(customer.to_string()),
                Value::Text(t.id.clone()),
                Value::Date(today),
                Value::Text("active".into()),
            ],
        );
        let missing = check_refs(&mut tx, &mut batch, false, &HashSet::new()).await?;
        if !missing.is_empty() {
            let mut p = missing_ref_problems(&batch, &missing);
            p.iter_mut().for_each(|p| p.index = None);
            return Err(CoreError::Invalid(p));
        }
        tx.write(batch).await?;
        let kfields: Vec<_> = ["onboarding_id", "step_id", "due_on"]
            .iter()
            .map(|n| ONBOARDING_TASKS.field(n).expect("schema"))
            .collect();
        tx.next_entity(&ONBOARDING_TASKS, kfields.clone(), &run_info("", 0))
            .await?;
        let mut tasks = WriteBatch::new(&ONBOARDING_TASKS, kfields);
        for s in &t.steps {
            tasks.push(
                format!("{id}:{}", s.id),
                [
                    Value::Text(id.clone()),
                    Value::Text(s.id.clone()),
                    Value::Date(today + Duration::days(s.due_days)),
                ],
            );
        }
        if !tasks.is_empty() {
            tx.write(tasks).await?;
        }
        let mut entry = acting.audit(ONBOARDINGS.name, Some(&id), "create");
        entry.changes = json!({
            "customer_id": change(&Value::Null, &Value::Text(customer.into())),
            "template_id": change(&Value::Null, &Value::Text(t.id.clone())),
            "started_on": change(&Value::Null, &Value::Date(today)),
        });
        entry.details = json!({ "tasks": t.steps.len() });
        tx.finish(&run_info(acting.channel.as_str(), 1), vec![entry])
            .await?;
        Ok(id)
    }

    /// Ticks a task off (staff): done now, by the acting user's staff member, with an
    /// optional note. When it was the onboarding's last open task, the onboarding is
    /// completed today. Returns whether the onboarding completed.
    pub async fn complete_task(
        &self,
        acting: &Acting,
        task: &str,
        note: Option<String>,
    ) -> Result<bool> {
        require(acting, access(Some(&ONBOARDING_TASKS), true))?;
        let t =
            self.store.onboarding_task(task).await?.ok_or_else(|| {
                CoreError::NotFound(format!("no onboarding task with id '{task}'"))
            })?;
        if t.done {
            return Err(CoreError::Conflict {
                field: Some("task".into()),
                message: "the task is done already".into(),
            });
        }
        let staff = self.staff_of_acting(acting).await?;
        let today = self.today().await?;
        let now = Utc::now();
        let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
        let fields: Vec<_> = ["done_at", "staff_id", "note"]
            .iter()
            .map(|n| ONBOARDING_TASKS.field(n).expect("schema"))
            .collect();
        let values = vec![
            Value::Time(now),
            staff.clone().map_or(Value::Null, Value::Text),
            note.clone().map_or(Value::Null, Value::Text),
        ];
        let mut tx = self
            .begin_write(acting, &ONBOARDING_TASKS, fields.clone())
            .await?;
        let mut batch = WriteBatch::new(&ONBOARDING_TASKS, fields.clone());
        batch.push(t.id.clone(), values.clone());
        tx.write(batch).await?;
        let completed = tx
            .writer_mut()
            .complete_done_onboardings(std::slice::from_ref(&t.onboarding_id), today)
            .await?;
        let mut entry = acting.audit(ONBOARDING_TASKS.name, Some(&t.id), "update");
        let mut changes = serde_json::Map::new();
        for (f, v) in fields.iter().zip(&values) {
            if !v.is_null() {
                changes.insert(f.name.into(), change(&Value::Null, v));
            }
        }
        entry.changes = serde_json::Value::Object(changes);
        let mut entries = vec![entry];
        let done = !completed.is_empty();
        if done {
            let mut e = acting.audit(ONBOARDINGS.name, Some(&t.onboarding_id), "update");
            e.changes = json!({
                "status": change(&Value::Text("active".into()), &Value::Text("completed".into())),
                "completed_on": change(&Value::Null, &Value::Date(today)),
            });
            entries.push(e);
        }
        tx.finish(&run_info(acting.channel.as_str(), 1), entries)
            .await?;
        Ok(done)
    }

    /// The customer's newest onboarding with each task's state (everyone signed in);
    /// `None` when the customer has none.
    pub async fn customer_onboarding(
        &self,
        acting: &Acting,
        customer: &str,
    ) -> Result<Option<CustomerOnboarding>> {
        require(acting, Role::Viewer)?;
        let (row, stall_days, today) = tokio::try_join!(
            async { Ok::<_, CoreError>(self.store.customer_onboarding(customer).await?) },
            self.onboarding_stall_days(),
            self.today()
        )?;
        Ok(row.map(|o| progress(o, stall_days, today)))
    }

    /// Per template: started, completed, median and 80th percentile days to complete,
    /// stalled now, and per step how often it stalls (everyone signed in).
    pub async fn onboarding_report(&self, acting: &Acting) -> Result<OnboardingReport> {
        require(acting, Role::Viewer)?;
        let stall_days = self.onboarding_stall_days().await?;
        let today = self.today().await?;
        let stall_before = today - Duration::days(i64::from(stall_days));
        let (templates, counts, durations, stalls) = tokio::try_join!(
            self.store.onboarding_templates(),
            self.store.onboarding_counts(stall_before),
            self.store.onboarding_durations(),
            self.store.onboarding_step_stalls(stall_before, stall_days),
        )?;
        let templates = templates
            .into_iter()
            .map(|t| {
                let c = counts.iter().find(|c| c.template_id == t.id);
                let d = durations
                    .iter()
                    .find(|(id, _)| *id == t.id)
                    .map_or(&[][..], |(_, v)| v.as_slice());
                TemplateReport {
                    started: c.map_or(0, |c| c.started),
                    completed: c.map_or(0, |c| c.completed),
                    stalled_now: c.map_or(0, |c| c.stalled_now),
                    median_days: quantile(d, 0.5),
                    p80_days: quantile(d, 0.8),
                    steps: stalls
                        .iter()
                        .filter(|s| s.template_id == t.id)
                        .map(|s| StepStallReport {
                            id: s.step_id.clone(),
                            title: s.title.clone(),
                            tasks: s.tasks,
                            stalled: s.stalled,
                            stalled_now: s.stalled_now,
                            share: (s.tasks > 0).then(|| s.stalled as f64 / s.tasks as f64),
                        })
                        .collect(),
                    id: t.id,
                    name: t.name,
                    segment: t.segment,
                    plan: t.plan,
                    auto_start: t.auto_start,
                    active: t.active,
                }
            })
            .collect();
        Ok(OnboardingReport {
            stall_days,
            today,
            templates,
        })
    }
}

/// A stored onboarding with each task's state as of `today`.
fn progress(
    o: kanta_store::onboarding::OnboardingRow,
    stall_days: u32,
    today: NaiveDate,
) -> CustomerOnboarding {
    let active = o.status == "active";
    let tasks: Vec<TaskProgress> = o
        .tasks
        .into_iter()
        .map(|k| {
            let open = k.done_at.is_none();
            TaskProgress {
                overdue: open && k.due_on < today,
                stalled: open && active && k.due_on + Duration::days(i64::from(stall_days)) < today,
                id: k.id,
                title: k.step_title,
                owner_role: k.owner_role,
                customer_text: k.customer_text,
                due_on: k.due_on,
                done_at: k.done_at,
                done_by: k.staff_name,
                note: k.note,
            }
        })
        .collect();
    CustomerOnboarding {
        done: tasks.iter().filter(|t| t.done_at.is_some()).count(),
        total: tasks.len(),
        stalled: tasks.iter().filter(|t| t.stalled).count(),
        tasks,
        id: o.id,
        template_id: o.template_id,
        template_name: o.template_name,
        started_on: o.started_on,
        status: o.status,
        completed_on: o.completed_on,
        stall_days,
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[4], 0.8), Some(4.0));
        assert_eq!(quantile(&[1, 2, 3, 4], 0.5), Some(2.5));
        assert_eq!(quantile(&[10, 20, 30, 40, 50], 0.8), Some(42.0));
    }
}

//! One [`WriteBatch`] per entity, filled a row at a time by field name.

use chrono::{DateTime, NaiveDate, Utc};
use kanta_domain::Value;
use kanta_domain::WriteBatch;
use kanta_domain::schema::{self, Entity};

/// What the demo writes into each batch: every row names its source.
pub(crate) const SOURCE: &str = "demo";

/// A value for [`Row::set`].
pub(crate) trait IntoValue {
    fn into_value(self) -> Value;
}

impl IntoValue for Value {
    fn into_value(self) -> Value {
        self
    }
}
impl IntoValue for &str {
    fn into_value(self) -> Value {
        Value::Text(self.to_string())
    }
}
impl IntoValue for String {
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}
impl IntoValue for i64 {
    fn into_value(self) -> Value {
        Value::Int(self)
    }
}
impl IntoValue for f64 {
    fn into_value(self) -> Value {
        Value::Float(self)
    }
}
impl IntoValue for bool {
    fn into_value(self) -> Value {
        Value::Bool(self)
    }
}
impl IntoValue for NaiveDate {
    fn into_value(self) -> Value {
        Value::Date(self)
    }
}
impl IntoValue for DateTime<Utc> {
    fn into_value(self) -> Value {
        Value::Time(self)
    }
}
impl<T: IntoValue> IntoValue for Option<T> {
    fn into_value(self) -> Value {
        self.map_or(Value::Null, IntoValue::into_value)
    }
}

/// The rows of one entity, carrying the fields the demo fills. Fields it never fills
/// (and fields added to the schema later) are left out, so the database's defaults
/// apply to them.
pub(crate) struct Table {
    batch: WriteBatch,
}

impl Table {
    fn new(entity: &'static Entity, fields: &[&str]) -> Table {
        let fields = fields
            .iter()
            .map(|name| {
                entity
                    .field(name)
                    .unwrap_or_else(|| panic!("{} has no field {name}", entity.name))
            })
            .collect();
        let mut batch = WriteBatch::new(entity, fields);
        batch.source = SOURCE.to_string();
        Table { batch }
    }

    /// Sets `field` of the rows already pushed whose external id `pick` returns a
    /// value for (the café's owners, decided once every purchase is known).
    pub(crate) fn set_where(&mut self, field: &str, mut pick: impl FnMut(&str) -> Option<Value>) {
        let stride = self.batch.stride();
        let k = 1 + self
            .batch
            .fields
            .iter()
            .position(|f| f.name == field)
            .unwrap_or_else(|| panic!("{} has no field {field}", self.batch.entity.name));
        for row in self.batch.values.chunks_mut(stride) {
            let Some(id) = row[0].as_text() else { continue };
            if let Some(v) = pick(id) {
                row[k] = v;
            }
        }
    }

    /// Calls `f` on every row pushed so far, to read and change its fields by name
    /// (the surveys' links and the wording of the answers, decided after the rows).
    pub(crate) fn update(&mut self, mut f: impl FnMut(&mut RowMut<'_>)) {
        let stride = self.batch.stride();
        let fields: Vec<&'static str> = self.batch.fields.iter().map(|f| f.name).collect();
        for values in self.batch.values.chunks_mut(stride) {
            f(&mut RowMut {
                fields: &fields,
                values,
            });
        }
    }

    /// Starts a row; unset fields stay null. Finish it with [`Row::push`].
    pub(crate) fn row(&mut self, external_id: impl Into<String>) -> Row<'_> {
        let mut values = Vec::with_capacity(self.batch.stride());
        values.push(Value::Text(external_id.into()));
        values.resize(self.batch.stride(), Value::Null);
        Row {
            batch: &mut self.batch,
            values,
        }
    }
}

/// A row already pushed, seen by [`Table::update`].
pub(crate) struct RowMut<'a> {
    fields: &'a [&'static str],
    values: &'a mut [Value],
}

impl RowMut<'_> {
    fn index(&self, field: &str) -> usize {
        1 + self
            .fields
            .iter()
            .position(|f| *f == field)
            .unwrap_or_else(|| panic!("no field {field}"))
    }

    pub(crate) fn id(&self) -> &str {
        self.values[0].as_text().unwrap_or("")
    }

    pub(crate) fn get(&self, field: &str) -> &Value {
        &self.values[self.index(field)]
    }

    pub(crate) fn set(&mut self, field: &str, value: impl IntoValue) {
        let k = self.index(field);
        self.values[k] = value.into_value();
    }
}

#[must_use = "a row is written by push()"]
pub(crate) struct Row<'a> {
    batch: &'a mut WriteBatch,
    values: Vec<Value>,
}

impl Row<'_> {
    /// Sets a field by its name in the schema; a name the entity lacks is a bug.
    pub(crate) fn set(mut self, field: &str, value: impl IntoValue) -> Self {
        let k = self
            .batch
            .fields
            .iter()
            .position(|f| f.name == field)
            .unwrap_or_else(|| panic!("{} has no field {field}", self.batch.entity.name));
        self.values[k + 1] = value.into_value();
        self
    }

    pub(crate) fn push(self) {
        self.batch.values.extend(self.values);
    }
}

/// A table per entity, in the order they are written.
pub(crate) struct Tables {
    pub staff: Table,
    pub customers: Table,
    pub contacts: Table,
    pub transactions: Table,
    pub subscriptions: Table,
    pub interactions: Table,
    pub cases: Table,
    pub claims: Table,
    /// Claims of both businesses, written last by [`crate::service::write_claims`].
    pub claim_drafts: Vec<crate::service::Claim>,
    pub surveys: Table,
    /// Offers (issue 14; `crate::offers` fills it).
    pub offers: Table,
    pub feedback: Table,
    pub usage: Table,
    pub onboarding_templates: Table,
    pub onboarding_steps: Table,
    pub onboardings: Table,
    pub onboarding_tasks: Table,
    pub goals: Table,
    pub goal_notes: Table,
    pub trust: Table,
    /// The relationship survey's waves with their invitation logs, by the answers'
    /// `survey_ref` (`nps-2025-h1`, ...): plain tables, not batches.
    pub waves: std::collections::BTreeMap<String, crate::surveys::DemoWave>,
}

impl Tables {
    pub(crate) fn new() -> Tables {
        use schema::*;
        Tables {
            staff: Table::new(&STAFF, &["name", "email", "title", "active"]),
            customers: Table::new(
                &CUSTOMERS,
                &[
                    "kind",
                    "name",
                    "email",
                    "phone",
                    "segment",
                    "locale",
                    "survey_consent",
                    "survey_consent_at",
                    "marketing_consent",
                    "marketing_consent_at",
                    "acquired_on",
                    "acquisition_channel",
                    "acquisition_cost",
                    "currency",
                    "status",
                    "ended_on",
                    "end_reason",
                    "end_reason_code",
                    "owner_id",
                ],
            ),
            contacts: Table::new(
                &CONTACTS,
                &[
                    "customer_id",
                    "name",
                    "email",
                    "phone",
                    "title",
                    "is_primary",
                ],
            ),
            transactions: Table::new(
                &TRANSACTIONS,
                &[
                    "customer_id",
                    "occurred_at",
                    "amount",
                    "currency",
                    "cost",
                    "channel",
                    "offer_code",
                    "quantity",
                    "kind",
                ],
            ),
            subscriptions: Table::new(
                &SUBSCRIPTIONS,
                &[
                    "customer_id",
                    "plan",
                    "amount",
                    "currency",
                    "period",
                    "started_on",
                    "ended_on",
                    "renews_on",
                    "end_reason",
                ],
            ),
            interactions: Table::new(
                &INTERACTIONS,
                &[
                    "customer_id",
                    "occurred_at",
                    "kind",
                    "direction",
                    "staff_id",
                    "outcome",
                    "proactive",
                    "purpose",
                    "note",
                ],
            ),
            cases: Table::new(
                &CASES,
                &[
                    "customer_id",
                    "opened_at",
                    "category",
                    "severity",
                    "status",
                    "channel",
                    "our_fault",
                    "summary",
                    "first_response_at",
                    "resolved_at",
                    "closed_at",
                    "resolution",
                    "apology",
                    "fixed_in_presence",
                    "staff_id",
                ],
            ),
            claims: Table::new(
                &CLAIMS,
                &[
                    "case_id",
                    "claimed_at",
                    "amount",
                    "currency",
                    "kind",
                    "status",
                    "decided_at",
                    "decision_reason",
                    "paid_at",
                ],
            ),
            claim_drafts: Vec::new(),
            surveys: Table::new(
                &SURVEYS,
                &[
                    "name",
                    "status",
                    "questions",
                    "send_after",
                    "send_after_days",
                    "anonymous_asks",
                ],
            ),
            offers: Table::new(
                &OFFERS,
                &[
                    "name",
                    "text_fi",
                    "text_en",
                    "channel",
                    "audience",
                    "audience_value",
                    "valid_from",
                    "valid_until",
                    "cost_per_redemption",
                    "currency",
                    "code",
                    "control_percent",
                    "hoped_points",
                    "seed",
                    "status",
                ],
            ),
            feedback: Table::new(
                &FEEDBACK,
                &[
                    "customer_id",
                    "answered_at",
                    "survey_ref",
                    "nps",
                    "csat",
                    "ces",
                    "did_well",
                    "do_better",
                    "comment",
                    "language",
                    "staff_id",
                    "survey_id",
                    "survey_version",
                    "channel",
                ],
            ),
            usage: Table::new(
                &USAGE_EVENTS,
                &["customer_id", "occurred_at", "metric", "value"],
            ),
            onboarding_templates: Table::new(
                &ONBOARDING_TEMPLATES,
                &["name", "segment", "plan", "auto_start", "active"],
            ),
            onboarding_steps: Table::new(
                &ONBOARDING_STEPS,
                &[
                    "template_id",
                    "position",
                    "title",
                    "due_days",
                    "owner_role",
                    "customer_text",
                ],
            ),
            onboardings: Table::new(
                &ONBOARDINGS,
                &[
                    "customer_id",
                    "template_id",
                    "started_on",
                    "status",
                    "completed_on",
                ],
            ),
            onboarding_tasks: Table::new(
                &ONBOARDING_TASKS,
                &[
                    "onboarding_id",
                    "step_id",
                    "due_on",
                    "done_at",
                    "staff_id",
                    "note",
                ],
            ),
            goals: Table::new(
                &GOALS,
                &[
                    "customer_id",
                    "agreed_on",
                    "title",
                    "measure",
                    "baseline",
                    "target",
                    "current",
                    "due_on",
                    "status",
                    "staff_id",
                ],
            ),
            goal_notes: Table::new(
                &GOAL_NOTES,
                &["goal_id", "noted_on", "value", "note", "staff_id"],
            ),
            trust: Table::new(
                &TRUST_LEDGER,
                &["customer_id", "occurred_at", "delta", "reason", "source"],
            ),
            waves: Default::default(),
        }
    }

    /// The batches in the order of [`schema::ENTITIES`], each with `rows_read` set to
    /// its number of rows, and the survey waves, oldest first.
    pub(crate) fn into_parts(self) -> (Vec<WriteBatch>, Vec<crate::surveys::DemoWave>) {
        let mut waves: Vec<crate::surveys::DemoWave> = self.waves.into_values().collect();
        waves.sort_by_key(|w| w.sent_at);
        let mut out: Vec<WriteBatch> = [
            self.staff,
            self.customers,
            self.contacts,
            self.transactions,
            self.subscriptions,
            self.interactions,
            self.cases,
            self.claims,
            self.surveys,
            self.offers,
            self.feedback,
            self.usage,
            self.onboarding_templates,
            self.onboarding_steps,
            self.onboardings,
            self.onboarding_tasks,
            self.goals,
            self.goal_notes,
            self.trust,
        ]
        .into_iter()
        .map(|t| t.batch)
        .collect();
        for b in &mut out {
            b.rows_read = b.len() as u64;
        }
        debug_assert!(
            out.len() == schema::ENTITIES.len()
                && out
                    .iter()
                    .zip(schema::ENTITIES)
                    .all(|(b, e)| std::ptr::eq(b.entity, *e))
        );
        (out, waves)
    }
}

//! Reading generated batches back: rows by field name.

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use kanta_demo::{DemoConfig, WriteBatch, generate};
use kanta_domain::Value;

/// The default data, generated once per test binary.
pub fn default_data() -> &'static [WriteBatch] {
    static DATA: OnceLock<Vec<WriteBatch>> = OnceLock::new();
    DATA.get_or_init(|| generate(&DemoConfig::default()))
}

pub fn batch<'a>(data: &'a [WriteBatch], entity: &str) -> &'a WriteBatch {
    data.iter()
        .find(|b| b.entity.name == entity)
        .unwrap_or_else(|| panic!("no batch of {entity}"))
}

#[derive(Clone, Copy)]
pub struct Row<'a> {
    batch: &'a WriteBatch,
    values: &'a [Value],
}

impl<'a> Row<'a> {
    pub fn id(&self) -> &'a str {
        self.values[0].as_text().expect("external id is text")
    }

    pub fn get(&self, field: &str) -> &'a Value {
        let k = self
            .batch
            .fields
            .iter()
            .position(|f| f.name == field)
            .unwrap_or_else(|| panic!("{} has no field {field}", self.batch.entity.name));
        &self.values[k + 1]
    }

    pub fn text(&self, field: &str) -> Option<&'a str> {
        self.get(field).as_text()
    }

    pub fn int(&self, field: &str) -> Option<i64> {
        self.get(field).as_int()
    }

    pub fn float(&self, field: &str) -> Option<f64> {
        match self.get(field) {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn bool(&self, field: &str) -> Option<bool> {
        match self.get(field) {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn time(&self, field: &str) -> Option<DateTime<Utc>> {
        match self.get(field) {
            Value::Time(t) => Some(*t),
            _ => None,
        }
    }

    pub fn date(&self, field: &str) -> Option<NaiveDate> {
        match self.get(field) {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }
}

pub fn rows(batch: &WriteBatch) -> impl Iterator<Item = Row<'_>> {
    batch
        .values
        .chunks(batch.stride())
        .map(move |values| Row { batch, values })
}

/// The end of the data, the demo's "now": midnight in Helsinki after `as_of`.
pub fn end_of(cfg: &DemoConfig) -> DateTime<Utc> {
    cfg.now()
}

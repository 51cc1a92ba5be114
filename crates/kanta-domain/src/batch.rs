//! A batch of rows of one entity to upsert: what the importer, the demo and the API
//! hand to the store's writer. Plain data, so that producers of rows need no
//! database driver.

use crate::schema::{Entity, Field};
use crate::value::Value;

/// Rows of one entity to upsert.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    pub entity: &'static Entity,
    /// The fields each row carries, in order (the external id comes first and is not
    /// listed).
    pub fields: Vec<&'static Field>,
    /// Row-major values: per row the external id ([`Value::Text`]) and then one value
    /// per field. References ([`Kind::Ref`]) hold the referenced record's external id.
    pub values: Vec<Value>,
    /// Customers (by external id) to create first when missing.
    pub create_customers: Vec<String>,
    /// Where the rows came from (a file name, `demo`, `api`), for the import log.
    pub source: String,
    /// Rows read and rejected before this batch, for the import log.
    pub rows_read: u64,
    pub rejected: u64,
}

impl WriteBatch {
    pub fn new(entity: &'static Entity, fields: Vec<&'static Field>) -> WriteBatch {
        WriteBatch {
            entity,
            fields,
            values: Vec::new(),
            create_customers: Vec::new(),
            source: String::new(),
            rows_read: 0,
            rejected: 0,
        }
    }

    /// Values per row: the external id and the fields.
    pub fn stride(&self) -> usize {
        self.fields.len() + 1
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.stride()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rows' external ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.values
            .chunks(self.stride())
            .filter_map(|row| row[0].as_text())
    }

    /// Appends a row; `values` must follow `fields`.
    pub fn push(&mut self, external_id: String, values: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.push(Value::Text(external_id));
        self.values.extend(values);
        debug_assert_eq!(self.values.len() - before, self.stride());
    }
}

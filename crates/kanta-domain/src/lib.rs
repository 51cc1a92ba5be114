//! Kanta's domain: what a customer-retention store holds, independent of storage.
//!
//! - [`schema`] describes every entity (customers, transactions, cases, ...) as data:
//!   its table, fields, field kinds and references. Migrations, the importer, the
//!   store's generic reads and writes and the API all follow this one description.
//! - [`value`] is the typed value of one field, and [`value::parse_field`] turns the
//!   text a user pasted (`12,50`, `31.12.2024`) into it.
//! - [`subscription`] is the one rule of what a subscription bills (billed periods),
//!   its monthly recurring revenue and its next renewal.
//! - [`money`] and [`time`] parse money and dates in English and Finnish formats;
//!   [`ids`] derives stable ids for rows that carry none.
//!
//! **Architecture invariant:** this crate does no I/O.

pub mod batch;
pub mod draw;
pub mod ids;
pub mod money;
pub mod schema;
pub mod sla;
pub mod subscription;
pub mod time;
pub mod value;

pub use batch::WriteBatch;
pub use money::{Currency, Decimal, Money};
pub use schema::{Entity, Field, Kind};
pub use value::Value;

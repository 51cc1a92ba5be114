//! One module per command (or family of commands): each parses what clap gave it,
//! calls the core (or, for the analyst's file commands, `kanta-models`), and prints.
//!
//! - `import`, `customers`, `demo`, `score`, `users` (users and tokens), `admin`
//!   (config, audit, jobs, mail), `report` (recovery), `cases` (the SLA check),
//!   `health_store` (`kanta health refresh|model`: the store's health score): the
//!   store's commands, through `kanta-core`.
//! - `fit` (fit, predict, validate), `summary` and `health` (the health scorecard
//!   on a CSV: fit, predict): the analyst's commands on files, which need no store.

pub mod admin;
pub mod cases;
pub mod customers;
pub mod demo;
pub mod economics;
pub mod ending;
pub mod feedback_report;
pub mod fit;
pub mod health;
pub mod health_store;
pub mod import;
pub mod offer;
pub mod privacy;
pub mod queue;
pub mod report;
pub mod score;
pub mod summary;
pub mod survey;
pub mod survey_send;
pub mod themes;
pub mod users;
pub mod value;

//! One module per command (or family of commands): each parses what clap gave it,
//! calls the core (or, for the analyst's file commands, `kanta-models`), and prints.
//!
//! - `import`, `customers`, `demo`, `score`, `users` (users and tokens), `admin`
//!   (config, audit, jobs, mail), `report` (recovery), `cases` (the SLA check): the
//!   store's commands, through `kanta-core`.
//! - `fit` (fit, predict, validate) and `summary`: the analyst's commands on files,
//!   which need no store.

pub mod admin;
pub mod cases;
pub mod customers;
pub mod demo;
pub mod fit;
pub mod import;
pub mod report;
pub mod score;
pub mod summary;
pub mod users;

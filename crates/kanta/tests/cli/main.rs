//! The real `kanta` binary on temporary folders and databases, as a user runs it.

mod audit;
mod config;
mod customers;
mod helpers;
mod import;
mod jobs;
mod kill;
mod mail;
mod models;
mod score;
#[path = "../../../kanta-core/tests/core/smtp.rs"]
mod smtp;
mod users;

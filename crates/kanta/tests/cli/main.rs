//! The real `kanta` binary on temporary folders and databases, as a user runs it.

mod audit;
mod bad_input;
mod config;
mod contacts_report;
mod customer_figures;
mod customers;
mod economics_report;
mod ending;
mod feedback_report;
mod health;
mod helpers;
mod import;
mod jobs;
mod kill;
mod local_time;
mod mail;
mod models;
mod offer;
mod queue;
mod report;
mod score;
#[path = "../../../kanta-core/tests/core/smtp.rs"]
mod smtp;
mod subscribers;
mod survey;
mod survey_send;
mod themes;
mod users;
mod value_report;

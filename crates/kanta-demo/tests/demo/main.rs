//! The demo data: its shape, determinism, the stated model parameters, and a write
//! into a real SQLite store.

mod common;
mod determinism;
mod endings;
mod local_time;
mod models;
mod recovery;
mod service;
mod shape;
mod store;
mod success;
mod surveys;

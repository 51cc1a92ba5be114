//! The real `kanta` binary on temporary folders and databases, as a user runs it.

mod customers;
mod helpers;
mod import;
mod kill;
mod models;
mod score;
mod users;

mod config;
mod mail;
mod smtp;
mod deps;

//! Themes in short free-text answers, offline: tokens, a language guess, stop words,
//! Snowball stems, clustering, key words and labels. Pure computation: no I/O.
pub mod themes;
pub mod words;

pub use themes::{Document, Theme, ThemeOptions, Themes, find_themes, purity};
pub use words::{Analyzer, Lang, Term, tokenize};
#[cfg(test)]
mod tests;

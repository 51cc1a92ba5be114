//! Customer-value and retention models: pure computation, no I/O.
pub mod dual;
pub mod error;
pub mod prec;
pub mod special;

//! The importer on real files: what it says about bad input, once and to the point.

mod bad_input;

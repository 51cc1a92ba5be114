//! kanta-import

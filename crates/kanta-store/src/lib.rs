//! kanta-store

//! kanta-web

//! kanta-demo

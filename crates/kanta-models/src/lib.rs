//! Customer-value and retention models: pure computation, no I/O.

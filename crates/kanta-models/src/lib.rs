//! Customer-value and retention models: pure computation, no I/O.
pub mod bgnbd;
pub mod data;
pub mod dual;
pub mod error;
pub mod fit;
pub mod mbgnbd;
pub mod paretonbd;
pub mod prec;
pub mod special;
pub mod transaction;

pub use bgnbd::BgNbdParams;
pub use data::{DiscreteData, DiscreteRow, RfmData, RfmRow, SpendData, SpendRow};
pub use error::{ModelError, Result};
pub use fit::{FitOptions, Fitted, ModelKind, Params};
pub use mbgnbd::MbgNbdParams;
pub use paretonbd::ParetoNbdParams;
pub use transaction::{fit_transaction_model, TransactionModel, TransactionParams};

//! The one error type of the crate.

/// What went wrong in a model computation.
///
/// Input errors name the row (0-based position in the caller's slice) and the field,
/// so a caller can map them back to a file line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// A row of input data is not valid for the model.
    #[error("row {row}: {field} {reason}")]
    InvalidRow {
        /// 0-based position of the row in the input slice.
        row: usize,
        /// Column name in lifetimes' vocabulary (`frequency`, `recency`, `T`, ...).
        field: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// A parameter or option is out of its domain.
    #[error("{name} {reason}")]
    InvalidParameter {
        /// Name of the parameter or option.
        name: &'static str,
        /// Why the value is rejected.
        reason: String,
    },
    /// The input has no usable rows.
    #[error("no data: {0}")]
    Empty(&'static str),
    /// The optimiser could not find a finite optimum.
    #[error("the fit failed: {0}")]
    FitFailed(String),
    /// A special function could not be evaluated to the required accuracy.
    #[error("{function} did not converge for {args}")]
    NoConvergence {
        /// Function name, e.g. `hyp2f1`.
        function: &'static str,
        /// The arguments, formatted.
        args: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ModelError>;

pub(crate) fn invalid_row(
    row: usize,
    field: &'static str,
    reason: impl Into<String>,
) -> ModelError {
    ModelError::InvalidRow {
        row,
        field,
        reason: reason.into(),
    }
}

pub(crate) fn invalid_param(name: &'static str, reason: impl Into<String>) -> ModelError {
    ModelError::InvalidParameter {
        name,
        reason: reason.into(),
    }
}

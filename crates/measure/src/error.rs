//! The errors of the measurement protocol.

/// Why a task, a report or an aggregation step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    /// The metric's parameters are out of range.
    #[error("invalid metric: {0}")]
    InvalidMetric(&'static str),
    /// The task names too few or too many facilitators.
    #[error("a task needs 2 to {max} facilitators, not {got}")]
    FacilitatorCount {
        /// The number named.
        got: usize,
        /// The most allowed.
        max: usize,
    },
    /// The measurement does not fit the metric.
    #[error("the measurement does not fit the metric: {0}")]
    InvalidMeasurement(String),
    /// A report, share or message could not be decoded.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A sealed share could not be opened (wrong key, tampered, or for another report).
    #[error("the sealed share does not open")]
    Unseal,
    /// Sealing failed.
    #[error("sealing failed")]
    Seal,
    /// The report's id was already seen in this task.
    #[error("report {0} was already submitted")]
    Replay(String),
    /// The facilitators' joint check rejected the report: its proof does not verify.
    #[error("the report's validity proof does not verify")]
    InvalidProof,
    /// A step names a report this facilitator is not verifying.
    #[error("report {0} is not pending")]
    NotPending(String),
    /// Aggregate shares do not combine (wrong count, length or report count).
    #[error("aggregate shares do not combine: {0}")]
    Unshard(String),
}

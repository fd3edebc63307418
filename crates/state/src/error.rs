//! Errors of the consensus state machine.
//!
//! Two kinds, kept apart on purpose:
//! - [`TxError`]: a transaction is invalid or fails. This is deterministic:
//!   every validator reaches the same verdict. It is reported to the client
//!   with a module name and a stable numeric code, and the transaction
//!   changes nothing but its fee (when it got far enough to owe one).
//! - [`FatalError`]: the node cannot compute the block's result at all (its
//!   storage failed, its own state is corrupt). The block is not committed and
//!   the node stops rather than diverge from its peers.

use std::fmt;

/// A deterministic transaction failure, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxError {
    /// The module that refused the transaction (`"staking"`, `"consensus"`, ...).
    pub module: String,
    /// A code stable across releases, unique within the module.
    pub code: u32,
    /// A human-readable explanation.
    pub message: String,
}

impl TxError {
    /// Builds an error.
    pub fn new(module: &str, code: u32, message: impl Into<String>) -> Self {
        Self {
            module: module.to_owned(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error {}: {}", self.module, self.code, self.message)
    }
}

impl std::error::Error for TxError {}

/// A service error type that maps onto [`TxError`]: every service declares
/// its module name and a stable code per variant.
pub trait ModuleError: fmt::Display {
    /// The module name.
    const MODULE: &'static str;
    /// The stable numeric code of this error.
    fn code(&self) -> u32;

    /// The client-facing form.
    fn to_tx_error(&self) -> TxError {
        TxError::new(Self::MODULE, self.code(), self.to_string())
    }
}

/// Why a block could not be processed at all.
#[derive(Debug, thiserror::Error)]
pub enum FatalError {
    /// The state store failed.
    #[error("state store failure: {0}")]
    Store(String),
    /// A value stored in the state does not decode: the state is corrupt.
    #[error("corrupt state at key {key}: {reason}")]
    CorruptState {
        /// Hex of the key.
        key: String,
        /// What failed.
        reason: String,
    },
    /// An invariant that the state machine maintains was found broken.
    #[error("invariant violated: {0}")]
    Invariant(String),
}

/// The outcome of running one transaction's logic: either a deterministic
/// failure for the client, or a fatal condition for the node.
#[derive(Debug)]
pub enum Failure {
    /// Reported to the client; the block goes on.
    Tx(TxError),
    /// Stops block processing.
    Fatal(FatalError),
}

impl From<FatalError> for Failure {
    fn from(e: FatalError) -> Self {
        Self::Fatal(e)
    }
}

impl From<TxError> for Failure {
    fn from(e: TxError) -> Self {
        Self::Tx(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tx(e) => e.fmt(f),
            Self::Fatal(e) => e.fmt(f),
        }
    }
}

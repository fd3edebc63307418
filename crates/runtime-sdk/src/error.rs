//! Errors: deterministic call failures versus node-fatal conditions.
//!
//! A [`TxError`] (module name, stable code, message) is what a client sees
//! when a transaction, query or check fails; every node reaches the same
//! verdict. A [`FatalError`] means this node cannot compute the result at
//! all (its store failed or its state is corrupt): the host must not commit
//! anything. Both are the consensus layer's types, so errors look the same
//! on both layers.

pub use atoll_state::error::{FatalError, TxError};

/// A failure inside the SDK: either for the client, or fatal for the node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Deterministic; reported to the client.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The node cannot go on.
    #[error(transparent)]
    Fatal(#[from] FatalError),
}

impl Error {
    /// The client-facing error, if this is one.
    pub fn as_tx(&self) -> Option<&TxError> {
        match self {
            Self::Tx(e) => Some(e),
            Self::Fatal(_) => None,
        }
    }

    /// Whether this is a client error from `module` with `code`.
    pub fn is(&self, module: &str, code: u32) -> bool {
        self.as_tx()
            .is_some_and(|e| e.module == module && e.code == code)
    }
}

/// A module's error enum: a module name and a stable code per variant.
pub trait ModuleError: std::fmt::Display {
    /// The module that raises it.
    const MODULE: &'static str;
    /// The variant's stable code.
    fn code(&self) -> u32;

    /// The client-facing form.
    fn to_tx_error(&self) -> TxError {
        TxError::new(Self::MODULE, self.code(), self.to_string())
    }
}

/// Implements `From<$ty> for Error` through [`ModuleError`].
macro_rules! module_error {
    ($ty:ty) => {
        impl From<$ty> for $crate::error::Error {
            fn from(e: $ty) -> Self {
                $crate::error::Error::Tx($crate::error::ModuleError::to_tx_error(&e))
            }
        }
    };
}
pub(crate) use module_error;

/// Which error a query or call that got a body it cannot decode returns.
pub(crate) fn invalid_argument(what: impl std::fmt::Display) -> Error {
    crate::modules::core::CoreError::InvalidArgument(what.to_string()).into()
}

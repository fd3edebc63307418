//! Where the roothash keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x20 ‖ runtime id` | [`RuntimeState`] |
//! | `0x21` | [`Parameters`] |

use atoll_types::Namespace;

use super::types::{Parameters, RuntimeState};
use crate::error::{Failure, FatalError};
use crate::state::{Store, StoreExt, key};

const RUNTIMES: u8 = 0x20;
const PARAMETERS: u8 = 0x21;

/// Typed access to the roothash's state.
pub struct RoothashState<'a> {
    store: &'a mut dyn Store,
}

impl<'a> RoothashState<'a> {
    /// The roothash's state in `store`.
    pub fn new(store: &'a mut dyn Store) -> Self {
        Self { store }
    }

    /// Parameters.
    pub fn parameters(&self) -> Result<Parameters, FatalError> {
        self.store
            .get_typed(&[PARAMETERS])?
            .ok_or_else(|| FatalError::Invariant("roothash parameters missing".into()))
    }

    /// Sets the parameters.
    pub fn set_parameters(&mut self, p: &Parameters) -> Result<(), Failure> {
        Ok(self.store.put_typed(&[PARAMETERS], p)?)
    }

    /// A runtime's state.
    pub fn runtime(&self, id: &Namespace) -> Result<Option<RuntimeState>, FatalError> {
        self.store.get_typed(&key(RUNTIMES, &[id.as_bytes()]))
    }

    /// Every runtime's state, by id.
    pub fn runtimes(&self) -> Result<Vec<RuntimeState>, FatalError> {
        Ok(self
            .store
            .scan_typed(&[RUNTIMES])?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Stores a runtime's state.
    pub fn set_runtime(&mut self, rs: &RuntimeState) -> Result<(), Failure> {
        Ok(self
            .store
            .put_typed(&key(RUNTIMES, &[rs.last_block.namespace.as_bytes()]), rs)?)
    }
}

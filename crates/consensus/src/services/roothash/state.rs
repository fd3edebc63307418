//! Where the roothash keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x20 ‖ runtime id` | [`RuntimeState`] |
//! | `0x21` | [`Parameters`] |

use atoll_types::Namespace;

use super::types::{Parameters, RuntimeState};
use crate::error::{Failure, FatalError};
use crate::state::{StoreExt, key};

const RUNTIMES: u8 = 0x20;
const PARAMETERS: u8 = 0x21;

crate::state::service_state!(
    /// Typed access to the roothash's state.
    RoothashState,
    PARAMETERS,
    Parameters,
    "roothash"
);

impl RoothashState<'_> {
    /// A runtime's state.
    pub fn runtime(&self, id: &Namespace) -> Result<Option<RuntimeState>, FatalError> {
        self.store.get_typed(&key(RUNTIMES, &[id.as_bytes()]))
    }

    /// Every runtime's state, by id.
    pub fn runtimes(&self) -> Result<Vec<RuntimeState>, FatalError> {
        self.store.scan_values(&[RUNTIMES])
    }

    /// Stores a runtime's state.
    pub fn set_runtime(&mut self, rs: &RuntimeState) -> Result<(), Failure> {
        Ok(self
            .store
            .put_typed(&key(RUNTIMES, &[rs.last_block.namespace.as_bytes()]), rs)?)
    }
}

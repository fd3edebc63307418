//! Where the scheduler keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x60 ‖ runtime id` | the runtime's current [`Committee`] |
//! | `0x61` | the current validator set (`Vec<Validator>`) |
//! | `0x62` | [`Parameters`] |

use atoll_types::Namespace;

use atoll_consensus_types::scheduler::{Committee, Parameters, Validator};
use atoll_state::{Failure, FatalError, StoreExt, key};

const COMMITTEES: u8 = 0x60;
const VALIDATORS: u8 = 0x61;
const PARAMETERS: u8 = 0x62;

crate::services::service_state!(
    /// Typed access to the scheduler's state.
    SchedulerState,
    PARAMETERS,
    Parameters,
    "scheduler"
);

impl SchedulerState<'_> {
    /// The current validator set.
    pub fn validators(&self) -> Result<Vec<Validator>, FatalError> {
        Ok(self.store.get_typed(&[VALIDATORS])?.unwrap_or_default())
    }

    /// Sets the validator set.
    pub fn set_validators(&mut self, v: &[Validator]) -> Result<(), Failure> {
        Ok(self.store.put_typed(&[VALIDATORS], &v)?)
    }

    /// A runtime's current committee.
    pub fn committee(&self, runtime: &Namespace) -> Result<Option<Committee>, FatalError> {
        self.store
            .get_typed(&key(COMMITTEES, &[runtime.as_bytes()]))
    }

    /// Every current committee, by runtime.
    pub fn committees(&self) -> Result<Vec<Committee>, FatalError> {
        self.store.scan_values(&[COMMITTEES])
    }

    /// Stores a committee.
    pub fn set_committee(&mut self, c: &Committee) -> Result<(), Failure> {
        Ok(self
            .store
            .put_typed(&key(COMMITTEES, &[c.runtime.as_bytes()]), c)?)
    }

    /// Removes a runtime's committee (too few nodes this epoch).
    pub fn remove_committee(&mut self, runtime: &Namespace) -> Result<(), Failure> {
        Ok(self.store.remove(&key(COMMITTEES, &[runtime.as_bytes()]))?)
    }
}

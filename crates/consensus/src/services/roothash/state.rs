//! Where the roothash keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x20 ‖ runtime id` | [`RuntimeState`] |
//! | `0x21` | [`Parameters`] |
//! | `0x22 ‖ runtime id ‖ u64be round` | [`PastRoot`] of one of the runtime's last `max_past_roots_stored` rounds |

use atoll_types::Namespace;

use super::types::{Parameters, PastRoot, RuntimeState};
use crate::error::{Failure, FatalError};
use crate::state::{StoreExt, key};

const RUNTIMES: u8 = 0x20;
const PARAMETERS: u8 = 0x21;
const PAST_ROOTS: u8 = 0x22;

fn past_root_key(id: &Namespace, round: u64) -> Vec<u8> {
    key(PAST_ROOTS, &[id.as_bytes(), &round.to_be_bytes()])
}

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

    /// The past root of a runtime's round, if it is among the rounds kept.
    pub fn past_root(&self, id: &Namespace, round: u64) -> Result<Option<PastRoot>, FatalError> {
        self.store.get_typed(&past_root_key(id, round))
    }

    /// Records the past root of a runtime's round.
    pub fn set_past_root(
        &mut self,
        id: &Namespace,
        round: u64,
        root: &PastRoot,
    ) -> Result<(), Failure> {
        Ok(self.store.put_typed(&past_root_key(id, round), root)?)
    }

    /// Deletes the past roots of a runtime's rounds below `keep_from`. The
    /// kept rounds are consecutive, so this walks down from `keep_from - 1`
    /// and stops at the first round not stored: O(rounds deleted), with no
    /// scan of the rounds kept.
    pub fn prune_past_roots(&mut self, id: &Namespace, keep_from: u64) -> Result<(), Failure> {
        let mut round = keep_from;
        while let Some(r) = round.checked_sub(1) {
            let k = past_root_key(id, r);
            if self.store.get(&k)?.is_none() {
                break;
            }
            self.store.remove(&k)?;
            round = r;
        }
        Ok(())
    }
}

//! Where the roothash keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x20 ‖ runtime id` | [`RuntimeState`] |
//! | `0x21` | [`Parameters`] |
//! | `0x22 ‖ runtime id ‖ u64be round` | [`PastRoot`] of one of the runtime's last `max_past_roots_stored` rounds |
//! | `0x23 ‖ runtime id ‖ u64be round ‖ evidence hash` | consensus height at which `roothash.Evidence` about that round was accepted (kept while the round is within `max_evidence_age`) |

use atoll_crypto::Hash;
use atoll_types::Namespace;

use atoll_consensus_types::roothash::{Parameters, PastRoot, RuntimeState};
use atoll_state::{Failure, FatalError, StoreExt, key};

const RUNTIMES: u8 = 0x20;
const PARAMETERS: u8 = 0x21;
const PAST_ROOTS: u8 = 0x22;
const EVIDENCE: u8 = 0x23;

fn evidence_key(id: &Namespace, round: u64, hash: &Hash) -> Vec<u8> {
    key(
        EVIDENCE,
        &[id.as_bytes(), &round.to_be_bytes(), hash.as_bytes()],
    )
}

fn past_root_key(id: &Namespace, round: u64) -> Vec<u8> {
    key(PAST_ROOTS, &[id.as_bytes(), &round.to_be_bytes()])
}

crate::services::service_state!(
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

    /// Whether evidence with hash `hash` about a runtime's round was
    /// accepted (and not yet forgotten).
    pub fn evidence_seen(
        &self,
        id: &Namespace,
        round: u64,
        hash: &Hash,
    ) -> Result<bool, FatalError> {
        Ok(self.store.get(&evidence_key(id, round, hash))?.is_some())
    }

    /// Records that evidence with hash `hash` about a runtime's round was
    /// accepted at consensus height `height`.
    pub fn set_evidence_seen(
        &mut self,
        id: &Namespace,
        round: u64,
        hash: &Hash,
        height: u64,
    ) -> Result<(), Failure> {
        Ok(self
            .store
            .put_typed(&evidence_key(id, round, hash), &height)?)
    }

    /// Forgets the evidence recorded about a runtime's rounds below
    /// `keep_from`: one ordered range walk over exactly the entries deleted.
    pub fn prune_evidence(&mut self, id: &Namespace, keep_from: u64) -> Result<(), Failure> {
        if keep_from == 0 {
            return Ok(());
        }
        let start = key(EVIDENCE, &[id.as_bytes(), &0u64.to_be_bytes()]);
        let end = key(EVIDENCE, &[id.as_bytes(), &keep_from.to_be_bytes()]);
        for (k, _) in self.store.range(&start, Some(&end))? {
            self.store.remove(&k)?;
        }
        Ok(())
    }

    /// How many evidence hashes are kept for a runtime (tests, queries).
    pub fn evidence_count(&self, id: &Namespace) -> Result<usize, FatalError> {
        Ok(self
            .store
            .scan_prefix(&key(EVIDENCE, &[id.as_bytes()]))?
            .len())
    }
}

//! Where the roothash keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x20 ‖ runtime id` | [`RuntimeState`] |
//! | `0x21` | [`Parameters`] |
//! | `0x22 ‖ runtime id ‖ u64be round` | [`PastRoot`] of one of the runtime's last `max_past_roots_stored` rounds |
//! | `0x23 ‖ runtime id ‖ u64be round ‖ evidence hash` | consensus height at which `roothash.Evidence` about that round was accepted (kept while the round is within `max_evidence_age`) |
//! | `0x24 ‖ runtime id` | the epoch's [`LivenessStatistics`] |
//! | `0x25 ‖ runtime id ‖ node id` | the node's liveness faults (`u64`, net of live epochs; absent: 0) |
//! | `0x26 ‖ runtime id` | [`RoundResults`] of the last normal round |

use atoll_crypto::Hash;
use atoll_types::Namespace;

use atoll_consensus_types::roothash::{
    LivenessStatistics, Parameters, PastRoot, RoundResults, RuntimeState, round_results_key,
};
use atoll_crypto::ed25519::PublicKey;
use atoll_state::{Failure, FatalError, StoreExt, key};

const RUNTIMES: u8 = 0x20;
const PARAMETERS: u8 = 0x21;
const PAST_ROOTS: u8 = 0x22;
const EVIDENCE: u8 = 0x23;
const LIVENESS: u8 = 0x24;
const FAULTS: u8 = 0x25;

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

    /// A runtime's liveness statistics for the current epoch.
    pub fn liveness(&self, id: &Namespace) -> Result<LivenessStatistics, FatalError> {
        Ok(self
            .store
            .get_typed(&key(LIVENESS, &[id.as_bytes()]))?
            .unwrap_or_default())
    }

    /// Stores a runtime's liveness statistics; the empty ones delete the entry.
    pub fn set_liveness(&mut self, id: &Namespace, s: &LivenessStatistics) -> Result<(), Failure> {
        let k = key(LIVENESS, &[id.as_bytes()]);
        if *s == LivenessStatistics::default() {
            self.store.remove(&k)?;
            return Ok(());
        }
        Ok(self.store.put_typed(&k, s)?)
    }

    /// A node's liveness faults in a runtime.
    pub fn faults(&self, id: &Namespace, node: &PublicKey) -> Result<u64, FatalError> {
        Ok(self
            .store
            .get_typed(&key(FAULTS, &[id.as_bytes(), node.as_bytes()]))?
            .unwrap_or(0))
    }

    /// Stores a node's liveness faults in a runtime (0 deletes the entry).
    pub fn set_faults(&mut self, id: &Namespace, node: &PublicKey, n: u64) -> Result<(), Failure> {
        let k = key(FAULTS, &[id.as_bytes(), node.as_bytes()]);
        if n == 0 {
            self.store.remove(&k)?;
            return Ok(());
        }
        Ok(self.store.put_typed(&k, &n)?)
    }

    /// What the runtime's last normal round did.
    pub fn round_results(&self, id: &Namespace) -> Result<Option<RoundResults>, FatalError> {
        self.store.get_typed(&round_results_key(id))
    }

    /// Records what the runtime's last normal round did.
    pub fn set_round_results(&mut self, id: &Namespace, r: &RoundResults) -> Result<(), Failure> {
        Ok(self.store.put_typed(&round_results_key(id), r)?)
    }
}

//! The [`ConsensusView`] of a node that holds the consensus state: reads
//! the versioned MKVS of the consensus application at the height asked.
//! Also the runtime's genesis header, read once when the node starts.

use atoll_consensus::services::registry::Registry;
use atoll_consensus::services::roothash::state::RoothashState;
use atoll_consensus::services::scheduler::state::SchedulerState;
use atoll_consensus_types::registry::Runtime;
use atoll_consensus_types::roothash::{BlockHeader, PastRoot, RuntimeState};
use atoll_consensus_types::scheduler::Committee;
use atoll_crypto::ed25519::PublicKey;
use atoll_mkvs::Mkvs;
use atoll_mkvs::state_store::MkvsView;
use atoll_types::Namespace;

use super::worker::WorkerError;
use crate::ports::ConsensusView;

/// Consensus read from its state database.
#[derive(Clone)]
pub struct MkvsConsensus(Mkvs);

impl MkvsConsensus {
    /// A view of the consensus state database `db`.
    pub fn new(db: Mkvs) -> Self {
        Self(db)
    }

    fn at(&self, height: u64) -> Option<MkvsView> {
        MkvsView::at(&self.0, height).ok()
    }
}

impl ConsensusView for MkvsConsensus {
    fn runtime_state(&self, height: u64, runtime: &Namespace) -> Option<RuntimeState> {
        let mut v = self.at(height)?;
        RoothashState::new(&mut v).runtime(runtime).ok().flatten()
    }

    fn past_root(&self, height: u64, runtime: &Namespace, round: u64) -> Option<PastRoot> {
        let mut v = self.at(height)?;
        RoothashState::new(&mut v)
            .past_root(runtime, round)
            .ok()
            .flatten()
    }

    fn committee(&self, height: u64, runtime: &Namespace) -> Option<Committee> {
        let mut v = self.at(height)?;
        SchedulerState::new(&mut v)
            .committee(runtime)
            .ok()
            .flatten()
    }

    fn runtime(&self, height: u64, runtime: &Namespace) -> Option<Runtime> {
        let mut v = self.at(height)?;
        Registry::new(&mut v)
            .state()
            .runtime(runtime)
            .ok()
            .flatten()
    }

    fn is_node(&self, height: u64, node: &PublicKey) -> Option<bool> {
        let mut v = self.at(height)?;
        Registry::new(&mut v)
            .state()
            .node(node)
            .ok()
            .map(|n| n.is_some())
    }
}

/// The runtime's genesis block header, as consensus recorded it at genesis.
pub fn genesis_header(
    consensus: &Mkvs,
    genesis_height: u64,
    runtime: &Namespace,
) -> Result<BlockHeader, WorkerError> {
    let mut view = MkvsView::at(consensus, genesis_height)
        .map_err(|e| WorkerError::Consensus(e.to_string()))?;
    RoothashState::new(&mut view)
        .runtime(runtime)
        .map_err(|e| WorkerError::Consensus(e.to_string()))?
        .map(|rs| rs.last_block)
        .ok_or(WorkerError::NotRegistered(*runtime))
}

/// The runtime's first block header and the consensus height it was
/// recorded at, for a runtime registered at genesis or later: `None` while
/// the state after `latest` does not have it. A runtime's chain is never
/// removed once started, so the height it appeared at is found by bisecting
/// the versions from `genesis_height` to `latest` (a few dozen reads).
pub fn first_header(
    consensus: &Mkvs,
    genesis_height: u64,
    latest: u64,
    runtime: &Namespace,
) -> Result<Option<(u64, BlockHeader)>, WorkerError> {
    let state_at = |h: u64| -> Result<Option<RuntimeState>, WorkerError> {
        let mut view =
            MkvsView::at(consensus, h).map_err(|e| WorkerError::Consensus(e.to_string()))?;
        RoothashState::new(&mut view)
            .runtime(runtime)
            .map_err(|e| WorkerError::Consensus(e.to_string()))
    };
    if let Some(rs) = state_at(genesis_height)? {
        return Ok(Some((genesis_height, rs.last_block)));
    }
    if latest <= genesis_height || state_at(latest)?.is_none() {
        return Ok(None);
    }
    // Absent at `lo`, present at `hi`.
    let (mut lo, mut hi) = (genesis_height, latest);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if state_at(mid)?.is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let rs = state_at(hi)?.ok_or(WorkerError::NotRegistered(*runtime))?;
    Ok(Some((hi, rs.last_block)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use atoll_consensus_types::roothash::HeaderType;
    use atoll_crypto::Hash;
    use atoll_mkvs::state_store::MkvsStore;
    use atoll_state::Store as _;

    fn header(id: Namespace, round: u64, timestamp: u64) -> BlockHeader {
        BlockHeader {
            namespace: id,
            round,
            timestamp,
            header_type: HeaderType::Normal,
            previous_hash: Hash::empty(),
            io_root: Hash::empty(),
            state_root: Hash::empty(),
            messages_hash: Hash::empty(),
        }
    }

    /// Heights 0..=`last` of a consensus state in which runtime `id`'s chain
    /// starts at `registered` and advances one round per height after.
    fn chain(id: Namespace, registered: Option<u64>, last: u64) -> Mkvs {
        let db = Mkvs::in_memory();
        for h in 0..=last {
            let mut s = MkvsStore::open(&db).unwrap();
            // Something changes at every height, runtime or not.
            s.insert(b"height", h.to_be_bytes().to_vec()).unwrap();
            if let Some(r) = registered.filter(|r| h >= *r) {
                RoothashState::new(&mut s)
                    .set_runtime(&RuntimeState {
                        last_block: header(id, h - r, 1_000 + r),
                        last_block_height: h,
                        round: None,
                        last_message_results: Vec::new(),
                    })
                    .unwrap();
            }
            s.commit(h).unwrap();
        }
        db
    }

    #[test]
    fn a_runtime_is_found_where_its_chain_began() {
        let id = Namespace([7; 32]);
        for (registered, last, want) in [
            (Some(0), 9, Some(0)),
            (Some(1), 9, Some(1)),
            (Some(5), 9, Some(5)),
            (Some(9), 9, Some(9)),
            (Some(4), 40, Some(4)),
            (None, 9, None),
        ] {
            let db = chain(id, registered, last);
            let found = first_header(&db, 0, last, &id).unwrap();
            assert_eq!(
                found.as_ref().map(|(h, _)| *h),
                want,
                "registered at {registered:?}"
            );
            if let (Some((_, hdr)), Some(r)) = (found, registered) {
                // The chain's first block, not its latest.
                assert_eq!(hdr, header(id, 0, 1_000 + r));
            }
            assert_eq!(
                first_header(&db, 0, last, &Namespace([8; 32])).unwrap(),
                None
            );
        }
    }
}

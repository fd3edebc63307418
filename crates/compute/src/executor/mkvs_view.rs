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

//! The worker's ports: how it writes to consensus ([`ConsensusPort`]),
//! reads it ([`ConsensusView`]) and
//! reaches the other compute nodes ([`PeerPort`]). The node implements
//! them; tests give doubles.

use std::future::Future;
use std::pin::Pin;

use atoll_consensus_types::registry::Runtime;
use atoll_consensus_types::roothash::{PastRoot, RuntimeState};
use atoll_consensus_types::scheduler::Committee;
use atoll_crypto::ed25519::PublicKey;
use atoll_types::Namespace;
use atoll_types::cbor::Value;

use crate::checkpoint::CheckpointInfo;
use crate::storage::RoundRecord;

/// How the worker reaches consensus.
pub trait ConsensusPort: Send + Sync + 'static {
    /// Signs (with the node key) and submits a consensus transaction calling
    /// `method` with `body`.
    fn submit(&self, method: &str, body: Value) -> Result<(), String>;
}

/// A boxed future of a [`PeerPort`] call.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the worker reaches the other compute nodes.
pub trait PeerPort: Send + Sync + 'static {
    /// Gossips a [`crate::executor::ComputeMessage`] (CBOR) to the other compute nodes.
    fn publish(&self, message: Vec<u8>);
    /// Asks peers for the record of a finalized round (storage sync).
    fn fetch_round(
        &self,
        runtime: Namespace,
        round: u64,
    ) -> Pin<Box<dyn Future<Output = Option<RoundRecord>> + Send + '_>>;
    /// Asks every storage peer which checkpoints of `runtime` it keeps:
    /// `(peer, checkpoint)` pairs, as the peers say (unchecked).
    fn fetch_checkpoints(&self, runtime: Namespace) -> BoxFuture<'_, Vec<(usize, CheckpointInfo)>> {
        let _ = runtime;
        Box::pin(async { Vec::new() })
    }
    /// Asks storage peer `peer` for chunk `index` of its checkpoint of
    /// `round` (unchecked).
    fn fetch_checkpoint_chunk(
        &self,
        runtime: Namespace,
        peer: usize,
        round: u64,
        index: u32,
    ) -> BoxFuture<'_, Option<Vec<u8>>> {
        let _ = (runtime, peer, round, index);
        Box::pin(async { None })
    }
}

/// How the worker reads consensus: the facts of the state consensus had
/// after block `height`. `None` where the state cannot be read or holds
/// nothing.
pub trait ConsensusView: Send + Sync + 'static {
    /// The roothash's state of `runtime` (last block, open round,
    /// message results).
    fn runtime_state(&self, height: u64, runtime: &Namespace) -> Option<RuntimeState>;
    /// The roothash's past roots of `runtime`'s finalized `round`.
    fn past_root(&self, height: u64, runtime: &Namespace, round: u64) -> Option<PastRoot>;
    /// The scheduler's committee of `runtime` for the epoch.
    fn committee(&self, height: u64, runtime: &Namespace) -> Option<Committee>;
    /// The registry's descriptor of `runtime`.
    fn runtime(&self, height: u64, runtime: &Namespace) -> Option<Runtime>;
    /// Whether `node` is a registered node (`None`: cannot tell).
    fn is_node(&self, height: u64, node: &PublicKey) -> Option<bool>;
}

//! The node as the API sees it: [`NodeApi`], the port the node implements
//! (and tests implement in-process), and the views it answers with.

use std::sync::Arc;

use atoll_consensus::app::{BlockResult, TxResult};
use atoll_crypto::Hash;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::runtime::RuntimeApi;

/// The node's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Software version.
    pub version: String,
    /// The network's chain id.
    pub chain_id: String,
    /// The network's chain context (hex of the genesis hash).
    pub chain_context: String,
    /// Latest committed height (none before the first block).
    pub latest_height: Option<u64>,
    /// Latest committed block's time.
    pub latest_time: Option<u64>,
    /// Whether the node is still catching up.
    pub syncing: bool,
    /// Transactions waiting in the mempool.
    pub mempool_size: usize,
}

/// A committed block as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    /// Height.
    pub height: u64,
    /// Block time (seconds since the Unix epoch).
    pub time: u64,
    /// The block's hash.
    pub hash: Hash,
    /// The state root after the block.
    pub state_root: Hash,
    /// The proposer's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer: Option<atoll_crypto::Address>,
    /// Hashes of its transactions, in order.
    pub transactions: Vec<Hash>,
}

/// A transaction with its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxView {
    /// Its hash.
    pub hash: Hash,
    /// The block it is in.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// Its outcome.
    pub result: TxResult,
}

/// What subscribers to `consensus_subscribeBlocks` receive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockNotification {
    /// The block.
    pub block: BlockView,
    /// Its results.
    pub results: BlockResult,
}

/// What the node offers its API.
pub trait NodeApi: Send + Sync + 'static {
    /// The node's status.
    fn status(&self) -> NodeStatus;
    /// Admits a signed transaction to the mempool (and gossips it).
    fn submit_tx(&self, raw: Vec<u8>) -> Result<Hash, ApiError>;
    /// Admits many transactions: the outcome of each, in order. A node can
    /// check them together (one signature batch).
    fn submit_txs(&self, raws: Vec<Vec<u8>>) -> Vec<Result<Hash, ApiError>> {
        raws.into_iter().map(|raw| self.submit_tx(raw)).collect()
    }
    /// A committed block (`None` height: the latest).
    fn block(&self, height: Option<u64>) -> Result<Option<BlockView>, ApiError>;
    /// A committed block's results.
    fn block_results(&self, height: u64) -> Result<Option<BlockResult>, ApiError>;
    /// A committed transaction.
    fn transaction(&self, hash: &Hash) -> Result<Option<TxView>, ApiError>;
    /// A state query at `height` (`None`: the latest).
    fn query(&self, method: &str, args: &Value, height: Option<u64>) -> Result<Value, ApiError>;
    /// Notifications of committed blocks.
    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockNotification>>;
    /// Metrics in the Prometheus text format, served at `GET /metrics`.
    fn metrics(&self) -> String {
        String::new()
    }
    /// The runtime client API, on a compute node (`None`: the `runtime_*`
    /// methods answer that no runtime is served here).
    fn runtimes(&self) -> Option<Arc<dyn RuntimeApi>> {
        None
    }
    /// A committed block's raw transactions and signers (`None`: no such
    /// block). A node that does not keep block bodies says so.
    fn block_body(&self, height: u64) -> Result<Option<crate::details::BlockBody>, ApiError> {
        let _ = height;
        Err(ApiError::NotFound(
            "block bodies (not kept by this node)".into(),
        ))
    }
}

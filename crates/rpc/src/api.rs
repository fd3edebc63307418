//! The API's interface: one `#[rpc(server, client)]` trait per namespace
//! (`SystemRpc`: `system_`/`node_`, `ConsensusRpc`: `consensus_`,
//! `RuntimeRpc`: `runtime_`) and the answers they carry. The server
//! implements the `*Server` traits (see `server`); any jsonrpsee client
//! gets the `*Client` traits, so the CLI, the node's storage sync and the
//! tests call the same methods the server serves.
//!
//! Parameters are positional (a JSON array); a trailing `Option` may be left
//! out.

use atoll_consensus::app::{BlockResult, TxResult};
use atoll_consensus::event::Event;
use atoll_crypto::Hash;
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::node::{BlockNotification, BlockView, NodeStatus, TxView};
use crate::runtime_types::CheckpointSummary;

/// The answer to `consensus_submitTx`: the hash, and with `wait` where the
/// transaction landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitAnswer {
    /// The transaction's hash.
    pub hash: Hash,
    /// The height of the block that included it (with `wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// Its outcome (with `wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<TxResult>,
}

/// One transaction's outcome in a bulk submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BulkOutcome {
    /// Checked and pooled.
    Accepted {
        /// Its hash.
        hash: Hash,
    },
    /// Refused, or not decodable.
    Refused {
        /// Why, as a JSON-RPC error object.
        error: ErrorBody,
    },
}

/// A JSON-RPC error object inside an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The code (see [`crate::error`]).
    pub code: i32,
    /// The message.
    pub message: String,
    /// The data (`null` when none).
    pub data: Option<Value>,
}

/// What subscribers to `consensus_subscribeEvents` receive: one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventNotification {
    /// The block's height.
    pub height: u64,
    /// The transaction that emitted it (none for block events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<Hash>,
    /// The event.
    pub event: Event,
}

/// The answer to `runtime_query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryAnswer {
    /// The answer as JSON (byte strings as `0x` hex).
    pub result: Value,
    /// The answer's CBOR, base64.
    pub cbor: String,
}

/// The answer to `runtime_getRound`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundAnswer {
    /// The round record's CBOR, base64.
    pub record: String,
}

/// The answer to `runtime_getCheckpointChunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkAnswer {
    /// The chunk, base64.
    pub chunk: String,
}

/// `system_` and `node_`: is the node up, and how is it.
#[rpc(server, client)]
pub trait SystemRpc {
    /// `"ok"` while the node serves (also `GET /health`).
    #[method(name = "system_health")]
    fn health(&self) -> RpcResult<String>;

    /// The node's status.
    #[method(name = "node_status")]
    fn status(&self) -> RpcResult<NodeStatus>;
}

/// `consensus_`: transactions, blocks, state queries and subscriptions of
/// the consensus layer.
#[rpc(server, client)]
pub trait ConsensusRpc {
    /// Submits a signed transaction (base64 or `0x` hex CBOR); with `wait`,
    /// answers once a block includes it.
    #[method(name = "consensus_submitTx")]
    async fn submit_tx(&self, tx: String, wait: Option<bool>) -> RpcResult<SubmitAnswer>;

    /// Submits many transactions: the outcome of each, in order.
    #[method(name = "consensus_submitTxs")]
    fn submit_txs(&self, txs: Vec<String>) -> RpcResult<Vec<BulkOutcome>>;

    /// A committed block (the latest when `height` is absent).
    #[method(name = "consensus_getBlock")]
    fn get_block(&self, height: Option<u64>) -> RpcResult<BlockView>;

    /// A committed block's transaction results and events.
    #[method(name = "consensus_getBlockResults")]
    fn get_block_results(&self, height: u64) -> RpcResult<BlockResult>;

    /// A committed transaction, by hash.
    #[method(name = "consensus_getTransaction")]
    fn get_transaction(&self, hash: String) -> RpcResult<TxView>;

    /// A state query (see `atoll_consensus::query`) at `height` (the latest
    /// when absent).
    #[method(name = "consensus_query")]
    fn query(&self, method: String, args: Option<Value>, height: Option<u64>) -> RpcResult<Value>;

    /// A staking account.
    #[method(name = "consensus_getAccount")]
    fn get_account(&self, address: String, height: Option<u64>) -> RpcResult<Value>;

    /// The validator set.
    #[method(name = "consensus_getValidators")]
    fn get_validators(&self, height: Option<u64>) -> RpcResult<Value>;

    /// Committed blocks with their results, as they come.
    #[subscription(
        name = "consensus_subscribeBlocks" => "consensus_block",
        unsubscribe = "consensus_unsubscribeBlocks",
        item = BlockNotification
    )]
    async fn subscribe_blocks(&self) -> SubscriptionResult;

    /// Committed events, one notification each, as they come.
    #[subscription(
        name = "consensus_subscribeEvents" => "consensus_event",
        unsubscribe = "consensus_unsubscribeEvents",
        item = EventNotification
    )]
    async fn subscribe_events(&self) -> SubscriptionResult;

    /// A committed block's transactions decoded (signer, nonce, fee,
    /// method, body) with their results, and who certified the previous
    /// block.
    #[method(name = "consensus_getBlockDetails")]
    fn get_block_details(&self, height: u64) -> RpcResult<crate::details::BlockDetails>;

    /// The validators whose signatures certified the block before `height`
    /// (what `consensus_getBlockDetails` says, without the transactions):
    /// cheap enough to ask of many blocks, for uptime.
    #[method(name = "consensus_getBlockSigners")]
    fn get_block_signers(&self, height: u64) -> RpcResult<Vec<crate::details::BlockSigner>>;
}

/// `runtime_`: the runtime client API of compute nodes (see
/// [`crate::runtime`] for the table).
#[rpc(server, client)]
pub trait RuntimeRpc {
    /// The ids of the runtimes served here.
    #[method(name = "runtime_list")]
    fn list(&self) -> RpcResult<Vec<String>>;

    /// Checks and pools a runtime transaction; with `wait`, answers once a
    /// finalized round includes it.
    #[method(name = "runtime_submitTx")]
    async fn submit_tx(&self, runtime: String, tx: String, wait: Option<bool>) -> RpcResult<Value>;

    /// Checks and pools many runtime transactions: the outcome of each.
    #[method(name = "runtime_submitTxs")]
    async fn submit_txs(&self, runtime: String, txs: Vec<String>) -> RpcResult<Vec<BulkOutcome>>;

    /// Runs a query (`args`: CBOR, base64 or `0x` hex) on the state of a
    /// finalized round (the latest when absent).
    #[method(name = "runtime_query")]
    async fn query(
        &self,
        runtime: String,
        method: String,
        args: Option<String>,
        round: Option<u64>,
    ) -> RpcResult<QueryAnswer>;

    /// A finalized block (the latest when `round` is absent).
    #[method(name = "runtime_getBlock")]
    fn get_block(&self, runtime: String, round: Option<u64>) -> RpcResult<Value>;

    /// A round's transactions with their results.
    #[method(name = "runtime_getTransactions")]
    fn get_transactions(&self, runtime: String, round: u64) -> RpcResult<Value>;

    /// Where a transaction is, with its result.
    #[method(name = "runtime_getTransaction")]
    fn get_transaction(&self, runtime: String, hash: String) -> RpcResult<Value>;

    /// A round's events: block events, then each transaction's.
    #[method(name = "runtime_getEvents")]
    fn get_events(&self, runtime: String, round: u64) -> RpcResult<Value>;

    /// A round's whole record (storage sync between compute nodes).
    #[method(name = "runtime_getRound")]
    fn get_round(&self, runtime: String, round: u64) -> RpcResult<RoundAnswer>;

    /// The checkpoints of the runtime's state kept here, oldest first.
    #[method(name = "runtime_getCheckpoints")]
    fn get_checkpoints(&self, runtime: String) -> RpcResult<Vec<CheckpointSummary>>;

    /// One chunk of the checkpoint of `round`.
    #[method(name = "runtime_getCheckpointChunk")]
    fn get_checkpoint_chunk(
        &self,
        runtime: String,
        round: u64,
        index: u32,
    ) -> RpcResult<ChunkAnswer>;

    /// Finalized blocks of a runtime, as they come.
    #[subscription(
        name = "runtime_subscribeBlocks" => "runtime_block",
        unsubscribe = "runtime_unsubscribeBlocks",
        item = Value
    )]
    async fn subscribe_blocks(&self, runtime: String) -> SubscriptionResult;
}

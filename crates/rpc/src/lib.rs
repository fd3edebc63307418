//! The node's JSON-RPC 2.0 API, over HTTP and WebSocket on one port.
//!
//! The server is written against [`NodeApi`], which the node implements (and
//! tests implement in-process), so the API is tested over real sockets
//! without a network of validators.
//!
//! | method | params | result |
//! |---|---|---|
//! | `node_status` | — | [`NodeStatus`] |
//! | `system_health` (also `GET /health`) | — | `"ok"` |
//! | `consensus_submitTx` | `[tx, wait?]`: base64 (or `0x` hex) CBOR of a signed transaction | `{hash, height?, result?}` |
//! | `consensus_submitTxs` | `[[tx, ...]]` (at most [`MAX_BULK_TXS`]) | per transaction, in order: `{hash}` or `{error: {code, message, data?}}` |
//! | `consensus_getBlock` | `[height?]` (latest when absent) | [`BlockView`] |
//! | `consensus_getBlockResults` | `[height]` | the block's transaction results and events |
//! | `consensus_getTransaction` | `[hash]` | [`TxView`] |
//! | `consensus_query` | `[method, args?, height?]` | state query (see `atoll_consensus::query`) |
//! | `consensus_getAccount` | `[address, height?]` | the staking account |
//! | `consensus_getValidators` | `[height?]` | the validator set |
//! | `consensus_subscribeBlocks` | — | notifications `consensus_block`: [`BlockNotification`] |
//! | `consensus_subscribeEvents` | — | notifications `consensus_event`: one per event |
//! | `consensus_getBlockDetails` | `[height]` | [`BlockDetails`]: the transactions decoded with their results, the signers of the previous block |
//! | `consensus_getBlockSigners` | `[height]` | the signers of the previous block ([`BlockSigner`]s), without the transactions |
//! | `runtime_*` | | the runtime client API of compute nodes: see [`runtime`] |
//!
//! Batches: at most [`RpcConfig::max_batch_calls`] calls (more: one error,
//! `-32010`, and none of them runs); answers, and a batch's answers
//! together, at most [`RpcConfig::max_response_bytes`] (past it: `-32008`).
//!
//! Errors: a transaction the node refuses gives code `-32000` with
//! `data: {module, code, message}` (the module's stable code); unknown
//! heights and hashes give `-32004`; bad parameters `-32602`. Params are
//! positional: named (object) params are refused, and the methods taking
//! a fixed list (`consensus_getBlockResults`, `consensus_getTransaction`,
//! `runtime_get*` but `runtime_getBlock`) refuse extra ones; see
//! `server::positional` for the table.

use std::time::Duration;

pub mod api;
pub mod details;
pub mod error;
pub mod metrics;
pub mod node;
pub mod pages;
pub mod runtime;
pub mod runtime_types;
mod server;

pub use api::{
    ConsensusRpcClient, ConsensusRpcServer, RuntimeRpcClient, RuntimeRpcServer, SystemRpcClient,
    SystemRpcServer,
};
pub use details::{BlockBody, BlockDetails, BlockSigner, DecodedTx};
pub use error::{ApiError, CODE_NOT_FOUND, CODE_TIMEOUT, CODE_TX_REFUSED};
pub use metrics::MetricsLayer;
pub use node::{BlockNotification, BlockView, NodeApi, NodeStatus, TxView};
pub use pages::{Pages, PagesLayer};
pub use runtime::{RuntimeApi, Submitted, cbor_to_json};
pub use runtime_types::{CheckpointSummary, RuntimeBlock, RuntimeTx, SubmitResult, TxLocation};
pub use server::params::MAX_BULK_TXS;
pub use server::{RpcServer, ServeError, serve};

/// Server settings.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Largest request body.
    pub max_request_bytes: u32,
    /// Longest `consensus_submitTx` wait for inclusion.
    pub max_wait: Duration,
    /// Most calls in one batch (geth's `BatchRequestLimit`, 1000): a larger
    /// batch runs none of its calls and is answered with one error,
    /// `-32010`.
    pub max_batch_calls: u32,
    /// Largest answer, and largest batch of answers, in bytes (10 MB,
    /// below geth's `BatchResponseMaxSize` of 25 MB): past it the answer is
    /// an error, `-32008`.
    pub max_response_bytes: u32,
    /// Web pages answered on the same port before the JSON-RPC server
    /// (the node's explorer); none by default.
    pub pages: Option<Pages>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: 1 << 20,
            max_wait: Duration::from_secs(60),
            max_batch_calls: 1_000,
            max_response_bytes: 10_000_000,
            pages: None,
        }
    }
}

//! The Ethereum JSON-RPC of an EVM ParaTime, served by the node over its
//! own index of finalized rounds: what wallets, ethers, viem and hardhat
//! talk to.
//!
//! [`serve`] starts, for one runtime, an HTTP and WebSocket server on one
//! address (the node does this for each `[[runtime]]` with `web3 = "..."`)
//! and an indexer task that follows the runtime's finalized rounds into a
//! `redb` database ([`index`]). Everything about blocks, transactions,
//! receipts and logs is answered from the index; balances, nonces, code,
//! storage, calls and gas estimates are runtime queries on the state of the
//! block asked for ([`backend`] lists them); transactions are submitted to
//! the node's pool for the runtime.
//!
//! # Methods
//!
//! `web3_clientVersion`, `web3_sha3`, `net_version`, `net_listening`,
//! `net_peerCount`, `eth_chainId`, `eth_blockNumber`, `eth_syncing`,
//! `eth_accounts` (empty), `eth_mining`, `eth_hashrate`, `eth_gasPrice`,
//! `eth_maxPriorityFeePerGas`, `eth_feeHistory`, `eth_getBalance`,
//! `eth_getTransactionCount`, `eth_getCode`, `eth_getStorageAt`, `eth_call`,
//! `eth_estimateGas`, `eth_sendRawTransaction`, `eth_getBlockByNumber`,
//! `eth_getBlockByHash`, `eth_getBlockTransactionCountByNumber`,
//! `eth_getBlockTransactionCountByHash`, `eth_getUncleCountByBlock*` (0),
//! `eth_getTransactionByHash`, `eth_getTransactionByBlockNumberAndIndex`,
//! `eth_getTransactionByBlockHashAndIndex`, `eth_getTransactionReceipt`,
//! `eth_getBlockReceipts`, `eth_getLogs`, `eth_newFilter`,
//! `eth_newBlockFilter`, `eth_newPendingTransactionFilter` (always empty),
//! `eth_getFilterChanges`, `eth_getFilterLogs`, `eth_uninstallFilter`, and
//! over WebSocket `eth_subscribe`/`eth_unsubscribe` with `newHeads` and
//! `logs` (`{address?, topics?}`).
//!
//! # Semantics
//!
//! - One runtime round is one block (see [`model`] for every field);
//!   `eth_blockNumber` is the last indexed round, so a client never sees a
//!   block number it cannot fetch. `latest`, `pending`, `safe` and
//!   `finalized` all name it (rounds are final); `earliest` is the first
//!   indexed round (the runtime's genesis round has no record, so it is
//!   not a block).
//! - **State queries** (`eth_getBalance`, `eth_getTransactionCount`,
//!   `eth_getCode`, `eth_getStorageAt`, `eth_call`, `eth_estimateGas`) run
//!   on the state of the block they name: a number, `earliest`, a hash, or
//!   an EIP-1898 object (`{blockNumber}` or `{blockHash,
//!   requireCanonical}`; every indexed block is canonical) is the runtime
//!   query at that round's state root (the node keeps every round's state
//!   version); `latest`, `pending`, `safe`, `finalized` or no block is the
//!   latest state. A block after the last indexed one, or a hash not
//!   indexed, is "header not found" (as geth); a round whose state the node
//!   does not hold (a node that restored a checkpoint has none before it)
//!   is `"historical state is not available for block N: <why>"`.
//!   `eth_getTransactionCount(addr, "pending")` also counts transactions
//!   this gateway submitted that are not yet executed.
//! - `eth_call` and `eth_estimateGas` map to `evm.SimulateCall` and the
//!   gas estimation query; the gas of `eth_call` is capped at
//!   [`Web3Config::gas_cap`] and the block gas limit. An `accessList` in
//!   the call object is given to the EVM (charged and pre-warmed as in a
//!   transaction). A state override argument is accepted and ignored. A revert is error code 3, message
//!   `execution reverted[: reason]`, `data` the revert data.
//!   `eth_estimateGas` searches at most up to the same cap (and the
//!   call's own `gas`, if lower). Queries run on a runtime process of
//!   their own, one at a time, each within the node's `rpc_evm_timeout_ms`
//!   (geth's `rpc.evmtimeout`): an overrun is -32000 `execution aborted
//!   (timeout = 5s)`; too many waiting is -32000 `too many queries in
//!   flight ...`. Rounds never wait for queries.
//! - **Batches** (see [`batch`]): at most [`Web3Config::max_batch_calls`]
//!   calls (more: geth's -32600 `batch too large`), answers of at most
//!   [`Web3Config::max_response_bytes`] together (past it: geth's -32003
//!   `response too large`).
//! - **Replay protection**: a pre-EIP-155 transaction (legacy, no chain id)
//!   is refused with geth's `only replay-protected (EIP-155) transactions
//!   allowed over RPC` unless [`Web3Config::allow_unprotected_txs`].
//! - `eth_sendRawTransaction` decodes and checks the transaction first
//!   (with the runtime's decoder, `atoll_evm::tx`: signature values, chain
//!   id, gas limit, fee cap), then submits
//!   `UnverifiedTransaction(raw, [{"module": "evm.ethereum.v0"}])` without
//!   waiting, and answers the Keccak-256 hash. The sender is recovered
//!   once on the node, by the runtime's check, which hands it back; the
//!   gateway recovers it only to word a refusal. Refusals use geth's
//!   wording (see [`error`]).
//! - **Gas price oracle**: `eth_gasPrice` is the minimum gas price (the
//!   base fee); `eth_maxPriorityFeePerGas` is 0 (the runtime orders by gas
//!   price, and blocks are not contended enough for a tip to matter);
//!   `eth_feeHistory` reads the indexed blocks (at most 1024).
//! - `eth_getLogs` spans at most [`Web3Config::max_log_rounds`] blocks and
//!   answers at most [`Web3Config::max_logs`] logs.
//! - Installed filters: at most [`Web3Config::max_filters`], each dropped
//!   after [`Web3Config::filter_timeout`] without a poll.
//!
//! - **CORS**: with [`Web3Config::cors`] set (`web3_cors` in `node.toml`;
//!   `atoll localnet` sets `["*"]`), the HTTP endpoint answers preflight
//!   `OPTIONS` requests (methods `POST`, `GET`; any request headers; cached
//!   600 s) and adds `Access-Control-Allow-Origin` to answers for allowed
//!   origins, so browser dApps can call it. Unset: no CORS headers.
//!
//! - **Metrics**: `GET /metrics` on the same port serves the gateway's
//!   Prometheus metrics (calls by method and outcome, durations, index
//!   height, installed filters, subscriptions; see [`metrics`]).
//!
//! Not served: `eth_sign*`, `eth_sendTransaction` (no keys here),
//! `debug_*`, `trace_*`, `txpool_*`, pending blocks.

pub mod backend;
pub mod batch;
pub mod bloom;
pub mod error;
pub mod eth;
pub mod filter;
pub mod index;
pub mod indexer;
pub mod installed;
pub mod metrics;
pub mod model;
mod rpc;
pub mod types;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use atoll_rpc::RuntimeApi;
use atoll_types::Namespace;
use http::{HeaderValue, Method};
use jsonrpsee::server::{Server, ServerHandle};
use tokio::sync::{broadcast, watch};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::backend::Backend;
use crate::index::Index;
use crate::indexer::Indexer;

/// Most transactions accepted by `eth_sendRawTransaction` kept decoded for
/// the indexer (see [`eth::RecentTxs`]).
const RECENT_TXS: usize = 65_536;

/// Settings of the gateway.
#[derive(Debug, Clone)]
pub struct Web3Config {
    /// Most blocks one `eth_getLogs` may span (the Oasis gateway's default
    /// is 100).
    pub max_log_rounds: u64,
    /// Most logs one `eth_getLogs` may answer.
    pub max_logs: usize,
    /// Most gas an `eth_call` or `eth_estimateGas` runs with (geth's
    /// `rpc.gascap`, 50 000 000); the block gas limit caps it too.
    pub gas_cap: u64,
    /// Most calls in one JSON-RPC batch (geth's `BatchRequestLimit`, 1000).
    pub max_batch_calls: usize,
    /// Most bytes of one answer, and of all the answers of one batch
    /// (geth's `BatchResponseMaxSize`, 25 MB).
    pub max_response_bytes: u32,
    /// Whether `eth_sendRawTransaction` takes pre-EIP-155 transactions
    /// (geth's `rpc.allow-unprotected-txs`; off).
    pub allow_unprotected_txs: bool,
    /// Most installed filters.
    pub max_filters: usize,
    /// How long an installed filter lives without a poll.
    pub filter_timeout: Duration,
    /// Largest request body, in bytes.
    pub max_request_bytes: u32,
    /// Most WebSocket connections.
    pub max_connections: u32,
    /// What `web3_clientVersion` answers.
    pub client_version: String,
    /// Origins whose browser pages may call the HTTP endpoint (CORS):
    /// `"*"` for any, or origins as browsers send them
    /// (`"https://app.example"`, `"http://localhost:3000"`). Empty (the
    /// default, as geth): no CORS headers, so browsers refuse cross-origin
    /// calls. See [`check_cors_origin`].
    pub cors: Vec<String>,
}

impl Default for Web3Config {
    fn default() -> Self {
        Self {
            max_log_rounds: 100,
            max_logs: 10_000,
            gas_cap: 50_000_000,
            max_batch_calls: 1_000,
            max_response_bytes: 25_000_000,
            allow_unprotected_txs: false,
            max_filters: 1_024,
            filter_timeout: Duration::from_secs(300),
            max_request_bytes: 5 << 20,
            max_connections: 1_000,
            client_version: format!("atoll/v{}", env!("CARGO_PKG_VERSION")),
            cors: Vec::new(),
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the address failed.
    #[error("web3: cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The index could not be opened.
    #[error(transparent)]
    Index(#[from] index::IndexError),
    /// The method table could not be built (a programming error).
    #[error("web3 rpc setup: {0}")]
    Setup(String),
    /// A CORS origin is not one.
    #[error("web3 cors: {0}")]
    Cors(String),
}

/// How long a browser may cache a preflight answer.
const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// Checks an entry of [`Web3Config::cors`]: `"*"`, or `http://` or
/// `https://` followed by a host (and port), with no path, as the
/// `Origin` header carries it.
pub fn check_cors_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(|| format!("{origin:?}: an origin is \"*\" or http(s)://host[:port]"))?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
    {
        return Err(format!(
            "{origin:?}: an origin is \"*\" or http(s)://host[:port], without a path"
        ));
    }
    Ok(())
}

/// The CORS layer for `origins` (none when empty): preflight `OPTIONS`
/// answered for `POST` and `GET` with any request headers, and
/// `Access-Control-Allow-Origin` on answers to allowed origins. Origins are
/// compared as browsers send them (scheme and host in lower case).
fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, ServeError> {
    if origins.is_empty() {
        return Ok(None);
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::POST, Method::GET])
        .allow_headers(Any)
        .max_age(CORS_MAX_AGE);
    if origins.iter().any(|o| o == "*") {
        return Ok(Some(layer.allow_origin(Any)));
    }
    let list = origins
        .iter()
        .map(|o| {
            check_cors_origin(o).map_err(ServeError::Cors)?;
            HeaderValue::from_str(&o.to_ascii_lowercase())
                .map_err(|e| ServeError::Cors(format!("{o:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(layer.allow_origin(AllowOrigin::list(list))))
}

/// A running gateway: server and indexer.
pub struct Web3Server {
    handle: ServerHandle,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    indexer: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Web3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web3Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Web3Server {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and the indexer, and waits for both.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.stop();
        self.handle.stopped().await;
        let _ = self.indexer.await;
    }
}

/// Starts the gateway of `runtime` (served by `api`) on `addr` (port 0
/// picks a free port), with its index in `index_dir`.
pub async fn serve(
    api: Arc<dyn RuntimeApi>,
    runtime: Namespace,
    index_dir: &Path,
    addr: SocketAddr,
    config: Web3Config,
) -> Result<Web3Server, ServeError> {
    let cors = cors_layer(&config.cors)?;
    let index = Arc::new(Index::open(index_dir)?);
    let backend = Backend::new(api, runtime);
    let recent = Arc::new(eth::RecentTxs::new(RECENT_TXS));
    let (blocks, _) = broadcast::channel(256);
    let server_config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_connections(config.max_connections)
        .set_id_provider(rpc::HexIds)
        .build();
    let max_response_bytes = usize::try_from(config.max_response_bytes).unwrap_or(usize::MAX);
    let max_batch_calls = config.max_batch_calls;
    let metrics = Arc::new(metrics::Web3Metrics::new());
    let ctx = Arc::new(rpc::Ctx {
        backend: backend.clone(),
        index: index.clone(),
        blocks: blocks.clone(),
        filters: Mutex::new(installed::Filters::new(
            config.max_filters,
            config.filter_timeout,
        )),
        config,
        pending: Mutex::new(HashMap::new()),
        recent: recent.clone(),
        fee_cache: Mutex::new(None),
        metrics: metrics.clone(),
    });
    let metered = metrics.clone();
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .option_layer(cors)
                .layer(metrics::metrics_layer(metrics, ctx.clone())),
        )
        .set_rpc_middleware(
            jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new()
                .layer_fn(move |s| {
                    batch::ConcurrentBatches::new(s, max_batch_calls, max_response_bytes)
                })
                // Inside the batches, so that each call of a batch is
                // counted and checked; counted outside the check, so that
                // refused parameters are counted too.
                .layer_fn(move |s| metrics::Metered::new(s, metered.clone()))
                .layer_fn(rpc::params::GethParams::new),
        )
        .build(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let local = server.local_addr().map_err(|e| ServeError::Bind(addr, e))?;
    let module = rpc::methods(ctx).map_err(ServeError::Setup)?;
    let (stop, stop_rx) = watch::channel(false);
    let indexer = tokio::spawn(Indexer::new(backend, index, blocks, recent).run(stop_rx));
    Ok(Web3Server {
        handle: server.start(module),
        addr: local,
        stop,
        indexer,
    })
}

/// The EVM chain id a runtime genesis sets: `evm.parameters.chain_id` of
/// the CBOR `RuntimeGenesis` given to a ParaTime with `--genesis` (`None`:
/// not a runtime genesis, or no `evm` module in it).
pub fn evm_chain_id(runtime_genesis: &[u8]) -> Option<u64> {
    let g: atoll_runtime_sdk::RuntimeGenesis =
        atoll_types::cbor::from_slice(runtime_genesis).ok()?;
    let evm = g.modules.get(atoll_evm::MODULE_NAME)?;
    let evm: atoll_evm::types::Genesis = atoll_types::cbor::from_value(evm.clone()).ok()?;
    Some(evm.parameters.chain_id)
}

/// Each EVM chain id that more than one of `geneses` (a name and a runtime
/// genesis each) sets, explained: every EVM ParaTime needs a chain id of
/// its own, or a transaction signed for one can be replayed on the other.
pub fn duplicate_evm_chain_ids<'a>(
    geneses: impl IntoIterator<Item = (String, &'a [u8])>,
) -> Vec<String> {
    let mut by_id: std::collections::BTreeMap<u64, Vec<String>> = std::collections::BTreeMap::new();
    for (name, g) in geneses {
        if let Some(id) = evm_chain_id(g) {
            by_id.entry(id).or_default().push(name);
        }
    }
    by_id
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(id, names)| {
            format!(
                "EVM chain id {id} is set by {}: each EVM ParaTime needs its own chain id, or transactions signed for one can be replayed on another",
                names.join(", ")
            )
        })
        .collect()
}

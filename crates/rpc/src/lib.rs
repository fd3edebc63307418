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
//! | `runtime_*` | | the runtime client API of compute nodes: see [`runtime`] |
//!
//! Batches: at most [`RpcConfig::max_batch_calls`] calls (more: one error,
//! `-32010`, and none of them runs); answers, and a batch's answers
//! together, at most [`RpcConfig::max_response_bytes`] (past it: `-32008`).
//!
//! Errors: a transaction the node refuses gives code `-32000` with
//! `data: {module, code, message}` (the module's stable code); unknown
//! heights and hashes give `-32004`; bad parameters `-32602`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use atoll_consensus::app::{BlockResult, TxResult};
mod metrics;
pub mod runtime;

pub use runtime::{RuntimeApi, Submitted, cbor_to_json};

use atoll_consensus::error::TxError;
use atoll_crypto::Hash;
use atoll_types::Namespace;
use base64::Engine as _;
use jsonrpsee::server::middleware::http::ProxyGetRequestLayer;
use jsonrpsee::server::{
    PendingSubscriptionSink, RpcModule, Server, ServerHandle, SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

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

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The node refused a transaction (deterministic, with module and code).
    #[error("{0}")]
    Tx(TxError),
    /// No such height, transaction or object.
    #[error("not found: {0}")]
    NotFound(String),
    /// Bad parameters.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The node could not serve the call.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Most transactions in one `consensus_submitTxs` call.
pub const MAX_BULK_TXS: usize = 10_000;

/// Code of a refused transaction.
pub const CODE_TX_REFUSED: i32 = -32000;
/// Code of something not found.
pub const CODE_NOT_FOUND: i32 = -32004;
/// Code of a wait that timed out.
pub const CODE_TIMEOUT: i32 = -32008;

impl From<ApiError> for ErrorObjectOwned {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Tx(t) => ErrorObjectOwned::owned(
                CODE_TX_REFUSED,
                format!("transaction refused: {t}"),
                Some(json!({ "module": t.module, "code": t.code, "message": t.message })),
            ),
            ApiError::NotFound(what) => {
                ErrorObjectOwned::owned(CODE_NOT_FOUND, format!("not found: {what}"), None::<()>)
            }
            ApiError::InvalidParams(why) => {
                ErrorObjectOwned::owned(-32602, format!("invalid params: {why}"), None::<()>)
            }
            ApiError::Internal(why) => {
                ErrorObjectOwned::owned(-32603, format!("internal error: {why}"), None::<()>)
            }
        }
    }
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
}

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
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: 1 << 20,
            max_wait: Duration::from_secs(60),
            max_batch_calls: 1_000,
            max_response_bytes: 10_000_000,
        }
    }
}

/// A running API server.
pub struct RpcServer {
    handle: ServerHandle,
    addr: SocketAddr,
}

impl RpcServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it and waits until it has stopped.
    pub async fn stop(self) {
        let _ = self.handle.stop();
        self.handle.stopped().await;
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the address failed.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The method table could not be built (a programming error).
    #[error("rpc setup: {0}")]
    Setup(String),
}

struct Ctx {
    api: Arc<dyn NodeApi>,
    config: RpcConfig,
}

fn decode_tx(s: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = match s.strip_prefix("0x") {
        Some(h) => hex::decode(h)
            .map_err(|_| ApiError::InvalidParams("transaction: invalid hex".into()))?,
        None => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| {
                ApiError::InvalidParams("transaction: expected base64 or 0x-prefixed hex".into())
            })?,
    };
    Ok(bytes)
}

fn parse_hash(s: &str) -> Result<Hash, ApiError> {
    s.strip_prefix("0x")
        .unwrap_or(s)
        .parse()
        .map_err(|e| ApiError::InvalidParams(format!("hash: {e}")))
}

fn to_json<T: Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}

/// `v` as JSON, or "not found" naming `what`.
fn found<T: Serialize>(
    v: Option<T>,
    what: impl FnOnce() -> String,
) -> Result<Value, ErrorObjectOwned> {
    match v {
        Some(v) => Ok(to_json(&v)?),
        None => Err(ApiError::NotFound(what()).into()),
    }
}

fn params<T: for<'de> Deserialize<'de>>(p: &Params<'_>) -> Result<T, ErrorObjectOwned> {
    p.parse()
}

/// Starts the API on `addr` (port 0 picks a free port).
pub async fn serve(
    api: Arc<dyn NodeApi>,
    addr: SocketAddr,
    config: RpcConfig,
) -> Result<RpcServer, ServeError> {
    let middleware = tower::ServiceBuilder::new()
        .layer(metrics::MetricsLayer::new(api.clone()))
        .layer(
            ProxyGetRequestLayer::new([("/health", "system_health")])
                .map_err(|e| ServeError::Setup(e.to_string()))?,
        );
    let server_config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
            config.max_batch_calls,
        ))
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(middleware)
        .build(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let local = server.local_addr().map_err(|e| ServeError::Bind(addr, e))?;
    let module = methods(Ctx { api, config }).map_err(|e| ServeError::Setup(e.to_string()))?;
    Ok(RpcServer {
        handle: server.start(module),
        addr: local,
    })
}

fn methods(ctx: Ctx) -> Result<RpcModule<Ctx>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    m.register_method("system_health", |_, _, _| "ok")?;
    m.register_method("node_status", |_, ctx, _| {
        to_json(&ctx.api.status()).map_err(ErrorObjectOwned::from)
    })?;
    m.register_async_method("consensus_submitTx", |p, ctx, _| async move {
        let mut seq = p.sequence();
        let tx: String = seq.next()?;
        let wait: Option<bool> = seq.optional_next()?;
        let raw = decode_tx(&tx)?;
        if !wait.unwrap_or(false) {
            let hash = ctx.api.submit_tx(raw)?;
            return Ok::<Value, ErrorObjectOwned>(json!({ "hash": hash }));
        }
        // Subscribe before submitting, so the including block cannot be missed.
        let mut blocks = ctx.api.subscribe();
        let hash = ctx.api.submit_tx(raw)?;
        let found = tokio::time::timeout(ctx.config.max_wait, async {
            loop {
                match blocks.recv().await {
                    Ok(n) => {
                        if let Some(r) = n.results.tx_results.iter().find(|r| r.hash == hash) {
                            return Ok((n.block.height, r.clone()));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(t) = ctx.api.transaction(&hash)? {
                            return Ok((t.height, t.result));
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(ApiError::Internal("the node is shutting down".into()));
                    }
                }
            }
        })
        .await;
        match found {
            Ok(Ok((height, result))) => {
                Ok(json!({ "hash": hash, "height": height, "result": result }))
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(ErrorObjectOwned::owned(
                CODE_TIMEOUT,
                format!(
                    "transaction {hash} was admitted but not included within {:?}",
                    ctx.config.max_wait
                ),
                Some(json!({ "hash": hash })),
            )),
        }
    })?;
    m.register_method("consensus_submitTxs", |p, ctx, _| {
        let txs: Vec<String> = p.sequence().next()?;
        let bulk = Bulk::decode(&txs)?;
        let outcomes = ctx.api.submit_txs(bulk.raws());
        Ok::<Value, ErrorObjectOwned>(bulk.answer(outcomes))
    })?;
    m.register_method("consensus_getBlock", |p, ctx, _| {
        let height: Option<u64> = p.sequence().optional_next()?;
        found(ctx.api.block(height)?, || match height {
            Some(h) => format!("block {h}"),
            None => "any block (none committed yet)".into(),
        })
    })?;
    m.register_method("consensus_getBlockResults", |p, ctx, _| {
        let (height,): (u64,) = params(&p)?;
        found(ctx.api.block_results(height)?, || format!("block {height}"))
    })?;
    m.register_method("consensus_getTransaction", |p, ctx, _| {
        let (hash,): (String,) = params(&p)?;
        let hash = parse_hash(&hash)?;
        found(ctx.api.transaction(&hash)?, || {
            format!("transaction {hash}")
        })
    })?;
    m.register_method("consensus_query", |p, ctx, _| {
        let mut seq = p.sequence();
        let method: String = seq.next()?;
        let args: Option<Value> = seq.optional_next()?;
        let height: Option<u64> = seq.optional_next()?;
        ctx.api
            .query(&method, &args.unwrap_or(Value::Null), height)
            .map_err(ErrorObjectOwned::from)
    })?;
    m.register_method("consensus_getAccount", |p, ctx, _| {
        let mut seq = p.sequence();
        let address: String = seq.next()?;
        let height: Option<u64> = seq.optional_next()?;
        ctx.api
            .query("staking.Account", &json!({ "address": address }), height)
            .map_err(ErrorObjectOwned::from)
    })?;
    m.register_method("consensus_getValidators", |p, ctx, _| {
        let height: Option<u64> = p.sequence().optional_next()?;
        ctx.api
            .query("scheduler.Validators", &Value::Null, height)
            .map_err(ErrorObjectOwned::from)
    })?;
    m.register_subscription(
        "consensus_subscribeBlocks",
        "consensus_block",
        "consensus_unsubscribeBlocks",
        |_, pending, ctx, _| async move { forward(pending, ctx, |n| vec![to_json(n.as_ref())]).await },
    )?;
    m.register_subscription(
        "consensus_subscribeEvents",
        "consensus_event",
        "consensus_unsubscribeEvents",
        |_, pending, ctx, _| async move {
            forward(pending, ctx, |n| {
                let h = n.block.height;
                let mut out: Vec<Result<Value, ApiError>> = n
                    .results
                    .events
                    .iter()
                    .map(|e| to_json(&json!({ "height": h, "event": e })))
                    .collect();
                for r in &n.results.tx_results {
                    out.extend(
                        r.events.iter().map(|e| {
                            to_json(&json!({ "height": h, "tx_hash": r.hash, "event": e }))
                        }),
                    );
                }
                out
            })
            .await
        },
    )?;
    runtime_methods(&mut m)?;
    Ok(m)
}

/// A bulk submission: each entry decoded (undecodable ones are answered in
/// place; the rest are submitted together).
struct Bulk {
    decoded: Vec<Result<Vec<u8>, ApiError>>,
}

impl Bulk {
    fn decode(txs: &[String]) -> Result<Self, ErrorObjectOwned> {
        if txs.len() > MAX_BULK_TXS {
            return Err(ErrorObjectOwned::from(ApiError::InvalidParams(format!(
                "{} transactions; at most {MAX_BULK_TXS} per call",
                txs.len()
            ))));
        }
        Ok(Self {
            decoded: txs.iter().map(|t| decode_tx(t)).collect(),
        })
    }

    /// The decodable transactions, in order.
    fn raws(&self) -> Vec<Vec<u8>> {
        self.decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect()
    }

    /// Per entry, in order: its outcome, or why it did not decode.
    fn answer<T: Into<Hash>>(self, outcomes: Vec<Result<T, ApiError>>) -> Value {
        let mut outcomes = outcomes.into_iter().map(|r| r.map(Into::into));
        Value::Array(
            self.decoded
                .into_iter()
                .map(|d| {
                    outcome_json(match d {
                        Ok(_) => outcomes
                            .next()
                            .unwrap_or_else(|| Err(ApiError::Internal("missing outcome".into()))),
                        Err(e) => Err(e),
                    })
                })
                .collect(),
        )
    }
}

impl From<Submitted> for Hash {
    fn from(s: Submitted) -> Self {
        s.hash
    }
}

/// One bulk submission's outcome: `{hash}` or `{error}`.
fn outcome_json(r: Result<Hash, ApiError>) -> Value {
    match r {
        Ok(hash) => json!({ "hash": hash }),
        Err(e) => {
            let obj = ErrorObjectOwned::from(e);
            json!({ "error": { "code": obj.code(), "message": obj.message(), "data": obj.data() } })
        }
    }
}

fn runtime_api(ctx: &Ctx, id: &str) -> Result<(Arc<dyn RuntimeApi>, Namespace), ApiError> {
    let id = runtime::parse_runtime(id)?;
    let api = ctx
        .api
        .runtimes()
        .filter(|r| r.runtimes().contains(&id))
        .ok_or_else(|| ApiError::NotFound(format!("runtime {id} (not served by this node)")))?;
    Ok((api, id))
}

fn runtime_methods(m: &mut RpcModule<Ctx>) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_method("runtime_list", |_, ctx, _| {
        let ids: Vec<String> = ctx
            .api
            .runtimes()
            .map(|r| r.runtimes().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        Ok::<Value, ErrorObjectOwned>(json!(ids))
    })?;
    m.register_async_method("runtime_submitTx", |p, ctx, _| async move {
        let mut seq = p.sequence();
        let id: String = seq.next()?;
        let tx: String = seq.next()?;
        let wait: Option<bool> = seq.optional_next()?;
        let (api, id) = runtime_api(&ctx, &id)?;
        let raw = decode_tx(&tx)?;
        let wait = wait.unwrap_or(false);
        let hash = Hash::digest(&raw);
        match tokio::time::timeout(ctx.config.max_wait, api.submit(id, raw, wait)).await {
            Ok(r) => r.map_err(ErrorObjectOwned::from),
            Err(_) => Err(ErrorObjectOwned::owned(
                CODE_TIMEOUT,
                format!(
                    "transaction {hash} was admitted but not included within {:?}",
                    ctx.config.max_wait
                ),
                Some(json!({ "hash": hash })),
            )),
        }
    })?;
    m.register_async_method("runtime_submitTxs", |p, ctx, _| async move {
        let mut seq = p.sequence();
        let id: String = seq.next()?;
        let txs: Vec<String> = seq.next()?;
        let (api, id) = runtime_api(&ctx, &id)?;
        let bulk = Bulk::decode(&txs)?;
        let outcomes = api.submit_many(id, bulk.raws()).await;
        Ok::<Value, ErrorObjectOwned>(bulk.answer(outcomes))
    })?;
    m.register_async_method("runtime_query", |p, ctx, _| async move {
        let mut seq = p.sequence();
        let id: String = seq.next()?;
        let method: String = seq.next()?;
        let args: Option<String> = seq.optional_next()?;
        let round: Option<u64> = seq.optional_next()?;
        let (api, id) = runtime_api(&ctx, &id)?;
        let args = match args {
            Some(a) => atoll_types::cbor::from_slice::<atoll_types::cbor::Value>(&decode_tx(&a)?)
                .map_err(|e| ApiError::InvalidParams(format!("args: not CBOR: {e}")))?,
            None => atoll_types::cbor::Value::Null,
        };
        let result = api.query(id, round, method, args).await?;
        let cbor =
            atoll_types::cbor::to_vec(&result).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok::<Value, ErrorObjectOwned>(json!({
            "result": cbor_to_json(&result),
            "cbor": base64::engine::general_purpose::STANDARD.encode(cbor),
        }))
    })?;
    m.register_method("runtime_getBlock", |p, ctx, _| {
        let mut seq = p.sequence();
        let id: String = seq.next()?;
        let round: Option<u64> = seq.optional_next()?;
        let (api, id) = runtime_api(ctx, &id)?;
        found(api.block(id, round)?, || match round {
            Some(r) => format!("round {r} of runtime {id}"),
            None => format!("any round of runtime {id}"),
        })
    })?;
    m.register_method("runtime_getTransactions", |p, ctx, _| {
        let (id, round): (String, u64) = params(&p)?;
        let (api, id) = runtime_api(ctx, &id)?;
        found(api.transactions(id, round)?, || {
            format!("round {round} of runtime {id}")
        })
    })?;
    m.register_method("runtime_getTransaction", |p, ctx, _| {
        let (id, hash): (String, String) = params(&p)?;
        let (api, id) = runtime_api(ctx, &id)?;
        let hash = parse_hash(&hash)?;
        found(api.transaction(id, hash)?, || {
            format!("transaction {hash} of runtime {id}")
        })
    })?;
    m.register_method("runtime_getEvents", |p, ctx, _| {
        let (id, round): (String, u64) = params(&p)?;
        let (api, id) = runtime_api(ctx, &id)?;
        found(api.events(id, round)?, || {
            format!("round {round} of runtime {id}")
        })
    })?;
    m.register_method("runtime_getRound", |p, ctx, _| {
        let (id, round): (String, u64) = params(&p)?;
        let (api, id) = runtime_api(ctx, &id)?;
        found(
            api.round_record(id, round)?
                .map(|r| json!({ "record": base64::engine::general_purpose::STANDARD.encode(r) })),
            || format!("round {round} of runtime {id}"),
        )
    })?;
    m.register_method("runtime_getCheckpoints", |p, ctx, _| {
        let (id,): (String,) = params(&p)?;
        let (api, id) = runtime_api(ctx, &id)?;
        api.checkpoints(id).map_err(ErrorObjectOwned::from)
    })?;
    m.register_method("runtime_getCheckpointChunk", |p, ctx, _| {
        let (id, round, index): (String, u64, u32) = params(&p)?;
        let (api, id) = runtime_api(ctx, &id)?;
        found(
            api.checkpoint_chunk(id, round, index)?
                .map(|c| json!({ "chunk": base64::engine::general_purpose::STANDARD.encode(c) })),
            || format!("chunk {index} of the checkpoint of round {round} of runtime {id}"),
        )
    })?;
    m.register_subscription(
        "runtime_subscribeBlocks",
        "runtime_block",
        "runtime_unsubscribeBlocks",
        |p, pending, ctx, _| async move {
            let id: Result<String, _> = p.sequence().next();
            let sub = match id {
                Ok(id) => runtime_api(&ctx, &id).and_then(|(api, id)| api.subscribe(id)),
                Err(e) => Err(ApiError::InvalidParams(e.message().to_string())),
            };
            let mut rx = match sub {
                Ok(rx) => rx,
                Err(e) => {
                    pending.reject(ErrorObjectOwned::from(e)).await;
                    return;
                }
            };
            let Ok(sink) = pending.accept().await else {
                return;
            };
            loop {
                tokio::select! {
                    _ = sink.closed() => return,
                    next = rx.recv() => {
                        let Some(v) = next else { return };
                        let Ok(raw) = serde_json::value::to_raw_value(&v) else { continue };
                        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        },
    )?;
    Ok(())
}

/// Streams block notifications to a subscriber, mapped by `f`, until it leaves.
async fn forward(
    pending: PendingSubscriptionSink,
    ctx: Arc<Ctx>,
    f: impl Fn(&Arc<BlockNotification>) -> Vec<Result<Value, ApiError>>,
) {
    let mut blocks = ctx.api.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            next = blocks.recv() => match next {
                Ok(n) => {
                    for v in f(&n).into_iter().flatten() {
                        let Ok(raw) = serde_json::value::to_raw_value(&v) else { continue };
                        if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                            return;
                        }
                    }
                }
                // A slow subscriber skips what it missed rather than stall the node.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

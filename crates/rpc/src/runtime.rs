//! The runtime client API: ParaTime transactions, queries, blocks, events
//! and subscriptions, served by compute nodes (`runtime_*` methods).
//!
//! | method | params | result |
//! |---|---|---|
//! | `runtime_list` | — | ids of the runtimes this node serves |
//! | `runtime_submitTx` | `[runtime_id, tx, wait?]`: the runtime transaction's CBOR, base64 or `0x` hex | `{hash}`, or with `wait`: `{hash, round, index, result}` once a finalized round holds it |
//! | `runtime_submitTxs` | `[runtime_id, [tx, ...]]` (at most [`crate::MAX_BULK_TXS`]) | per transaction, in order: `{hash}` or `{error: {code, message, data?}}` |
//! | `runtime_query` | `[runtime_id, method, args?, round?]`: `args` is CBOR (base64 or `0x` hex; CBOR `null` when absent); `round` a finalized round whose state to query (the latest when absent) | `{result, cbor}`: the answer as JSON and as base64 CBOR; `-32004` (not found) for a round after the latest or one whose state this node does not hold |
//! | `runtime_getBlock` | `[runtime_id, round?]` (latest when absent) | the finalized block: header, consensus height, transaction hashes |
//! | `runtime_getTransactions` | `[runtime_id, round]` | the round's transactions with their results |
//! | `runtime_getTransaction` | `[runtime_id, hash]` | `{round, index, result}` |
//! | `runtime_getEvents` | `[runtime_id, round]` | the round's events: block events, then each transaction's |
//! | `runtime_getRound` | `[runtime_id, round]` | `{record}`: base64 CBOR of the whole round record (storage sync between compute nodes) |
//! | `runtime_getCheckpoints` | `[runtime_id]` | the checkpoints of the runtime's state this node keeps, oldest first: `[{round, root, header, chunks}]` (`chunks`: the SHA-512/256 digest of each chunk, in order) |
//! | `runtime_getCheckpointChunk` | `[runtime_id, round, index]` | `{chunk}`: base64 of chunk `index` of the checkpoint of `round` |
//! | `runtime_subscribeBlocks` | `[runtime_id]` | notifications `runtime_block`, one per finalized round |
//!
//! CBOR answers are shown as JSON with byte strings as `0x` hex. A node
//! that restored a runtime from a checkpoint has no records of the rounds
//! before it: `runtime_getBlock`, `runtime_getTransactions`,
//! `runtime_getEvents` and `runtime_getRound` answer `-32004` (not found)
//! for them.

use std::future::Future;
use std::pin::Pin;

use atoll_crypto::Hash;
use atoll_types::Namespace;
use atoll_types::cbor::Value as Cbor;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::ApiError;
use crate::runtime_types::{CheckpointSummary, RuntimeBlock, RuntimeTx, SubmitResult, TxLocation};

/// A boxed future (the API is called through `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A transaction the runtime's check accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Its hash.
    pub hash: Hash,
    /// The runtime's own data about it, as its check reported it (the
    /// check outcome's `extra` of the runtime ABI; for the EVM runtime the
    /// caller's 20-byte Ethereum address, so that an Ethereum gateway need
    /// not recover the sender a second time). Only the runtime's clients
    /// interpret it.
    pub extra: Option<Vec<u8>>,
}

/// What a compute node offers the runtime client API.
pub trait RuntimeApi: Send + Sync + 'static {
    /// The runtimes served here.
    fn runtimes(&self) -> Vec<Namespace>;
    /// Checks and pools a transaction; with `wait`, resolves once a
    /// finalized round includes it (the server bounds the wait).
    fn submit(
        &self,
        runtime: Namespace,
        raw: Vec<u8>,
        wait: bool,
    ) -> BoxFuture<'_, Result<SubmitResult, ApiError>>;
    /// Checks and pools many transactions at once: the outcome of each, in
    /// order.
    fn submit_many(
        &self,
        runtime: Namespace,
        raws: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Vec<Result<Submitted, ApiError>>>;
    /// The extra the runtime's check reported for transaction `hash`
    /// (SHA-512/256 of its bytes) on this node (see [`Submitted::extra`]),
    /// if still remembered; forgotten once asked. None by default.
    fn take_check_extra(&self, runtime: Namespace, hash: Hash) -> Option<Vec<u8>> {
        let _ = (runtime, hash);
        None
    }
    /// Runs a query on the state of finalized round `round`, or on the
    /// latest finalized state when `round` is `None`. A round after the
    /// latest, or one whose state this node does not hold (before a
    /// checkpoint it restored), is [`ApiError::NotFound`] with the reason.
    fn query(
        &self,
        runtime: Namespace,
        round: Option<u64>,
        method: String,
        args: Cbor,
    ) -> BoxFuture<'_, Result<Cbor, ApiError>>;
    /// A finalized block (the latest when `round` is `None`).
    fn block(
        &self,
        runtime: Namespace,
        round: Option<u64>,
    ) -> Result<Option<RuntimeBlock>, ApiError>;
    /// A round's transactions with results.
    fn transactions(
        &self,
        runtime: Namespace,
        round: u64,
    ) -> Result<Option<Vec<RuntimeTx>>, ApiError>;
    /// Where a transaction is, with its result.
    fn transaction(&self, runtime: Namespace, hash: Hash) -> Result<Option<TxLocation>, ApiError>;
    /// A round's events (CBOR): block events, then each transaction's.
    fn events(&self, runtime: Namespace, round: u64) -> Result<Option<Vec<Cbor>>, ApiError>;
    /// A round's whole record, CBOR.
    fn round_record(&self, runtime: Namespace, round: u64) -> Result<Option<Vec<u8>>, ApiError>;
    /// Finalized blocks as they come.
    fn subscribe(&self, runtime: Namespace) -> Result<mpsc::Receiver<RuntimeBlock>, ApiError>;
    /// The checkpoints of the runtime's state kept here, oldest first.
    fn checkpoints(&self, runtime: Namespace) -> Result<Vec<CheckpointSummary>, ApiError> {
        let _ = runtime;
        Ok(Vec::new())
    }
    /// One chunk of the checkpoint of `round`.
    fn checkpoint_chunk(
        &self,
        runtime: Namespace,
        round: u64,
        index: u32,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let _ = (runtime, round, index);
        Ok(None)
    }
}

/// CBOR as JSON: byte strings as `0x` hex, negative integers below
/// `i64::MIN` as decimal strings, map keys that are not text by their JSON
/// text.
pub fn cbor_to_json(v: &Cbor) -> Value {
    match v {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(*b),
        Cbor::Unsigned(u) => Value::from(*u),
        Cbor::Negative(n) => match i64::try_from(*n) {
            Ok(n) => Value::from(-1 - n),
            Err(_) => Value::String(format!("-{}", u128::from(*n) + 1)),
        },
        Cbor::Bytes(b) => Value::String(format!("0x{}", hex::encode(b))),
        Cbor::Text(t) => Value::String(t.clone()),
        Cbor::Array(a) => Value::Array(a.iter().map(cbor_to_json).collect()),
        Cbor::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Cbor::Text(t) => t.clone(),
                        other => cbor_to_json(other).to_string(),
                    };
                    (key, cbor_to_json(v))
                })
                .collect(),
        ),
    }
}

/// Parses a runtime id (64 hex digits, `0x` optional).
pub fn parse_runtime(s: &str) -> Result<Namespace, ApiError> {
    s.strip_prefix("0x")
        .unwrap_or(s)
        .parse()
        .map_err(|e| ApiError::InvalidParams(format!("runtime id: {e}")))
}

//! Serves an SDK [`Runtime`] over the runtime host protocol: the runtime
//! side of a ParaTime process ([`atoll_runtime_host::runtime`]) with the
//! payloads of the runtime ABI ([`atoll_runtime_host::abi`]).
//!
//! A ParaTime binary is a module list and its parameters: it builds a
//! [`Runtime`], wraps it in a [`HostedRuntime`] and serves it from `main`
//! with [`cli::run`]. The node starts the binary with
//!
//! ```text
//! <binary> --runtime-id <64 hex digits> [--genesis <path>]
//! ```
//!
//! - `--runtime-id`: the runtime's id (it reports it in the handshake, and
//!   refuses calls whose [`BatchContext::runtime_id`] differs). Required.
//! - `--genesis`: a file holding the canonical CBOR of a
//!   [`RuntimeGenesis`] (CBOR, not JSON: module genesis values are CBOR
//!   values whose byte strings, such as addresses and amounts, do not survive
//!   a trip through JSON). Optional once the state holds a genesis.
//!
//! **Genesis.** The first `ExecuteBatch` whose state has no genesis marker
//! ([`GENESIS_MARKER_KEY`]) applies the genesis file
//! ([`Runtime::init_genesis`]) and writes the marker (the SHA-512/256 hash
//! of the genesis file's CBOR) in the same batch, before the batch's
//! message results and transactions. The genesis state is thus part of that
//! batch's write log, which the node applies and commits like any other
//! round. If the state has no marker and no genesis was given, the batch
//! fails with [`HostedError::NoGenesis`]. Checks and queries before genesis
//! fail (the SDK refuses a state with no genesis).
//!
//! **Context.** Every call's [`BatchContext::extra`] must be the ABI's
//! [`RuntimeContext`]: the consensus chain context that transactions are
//! signed under (the hex of the consensus genesis document's hash). The node
//! fills it from its consensus genesis. `round`, `consensus_height` and
//! `epoch`, `timestamp` and `previous_hash` come from the [`BatchContext`]
//! itself. For an executed batch, the adapter also reads the runtime's
//! last normal round's `RoundResults` from the consensus state at
//! `consensus_height` (`ConsensusGet` of
//! [`round_results_key`](atoll_consensus_types::roothash::round_results_key))
//! into [`BatchContext::round_results`](crate::BatchContext::round_results):
//! fees and rewards go to the entities that did that round's work.
//!
//! **Calls.**
//!
//! - `ExecuteBatch`: `message_results` are CBOR [`MessageResult`]s of the
//!   messages this runtime emitted in the previous round (every one of
//!   them, exactly once: [`Runtime::process_message_results`]); then the
//!   transactions run ([`Runtime::execute_batch`]). The answer holds one
//!   CBOR [`TxOutcome`] per transaction, the CBOR
//!   [`roothash::Message`](crate::Message)s to put in the commitment (their
//!   position is the index their results must carry), and as events the
//!   CBOR [`Event`](crate::Event)s of the message results and of the block
//!   hooks (the transactions' own events are in their [`TxOutcome`]s).
//! - `CheckBatch`: one CBOR [`CheckOutcome`] per transaction, each checked
//!   alone on the latest state; the nonces and balances they read are
//!   fetched from the host in one `StorageGetMany` ([`Runtime::check_batch`]).
//!   The outcome's `extra` is the caller's Ethereum address, for a caller
//!   signing with a `secp256k1eth` key.
//! - `Query`: `method` and CBOR `args` go to [`Runtime::query`]; the answer
//!   is its CBOR result. A client error is answered as a
//!   [`RuntimeError`] with the SDK module's name and code (for example
//!   `core` 3 for an unknown method).
//!
//! Errors of the node itself (a storage failure, a corrupt state, a context
//! that does not decode) are answered as [`RuntimeError`]s of module
//! [`ERROR_MODULE`] ([`HostedError::code`]); the host must not commit
//! anything for that call.

pub mod cli;

use std::sync::Arc;

use crate::state::Store;
use crate::{FatalError, MessageResult, Runtime, RuntimeGenesis};
use atoll_consensus_types::roothash::RoundResults;
use atoll_crypto::Hash;
use atoll_crypto::context::ChainContext;
use atoll_runtime_host::protocol::{
    BatchContext, CheckBatchRequest, ExecuteBatchRequest, QueryRequest, RuntimeError, Version,
};
use atoll_runtime_host::runtime::{
    BatchOutput, Checker, HostStorage, RuntimeHandler, RuntimeInfo, StorageError,
};
use atoll_types::Namespace;
use atoll_types::cbor::{self, Value};
use serde::Serialize;
use serde_bytes::ByteBuf;

/// The module name of the adapter's own errors (as opposed to the SDK
/// modules' client errors). It is `plain` for every ParaTime: the plain
/// runtime was the first one served this way, and clients match on it.
pub const ERROR_MODULE: &str = "plain";

/// The state key of the genesis marker: its value is the SHA-512/256 hash of
/// the genesis that was applied. It lies outside every SDK module's keys
/// (`module name || sub-prefix`), as no module is called `plain`.
pub const GENESIS_MARKER_KEY: &[u8] = b"plain\x00genesis";

/// The runtime version reported in the handshake unless
/// [`HostedRuntime::with_version`] sets another: the workspace's version.
pub fn runtime_version() -> Version {
    let part = |s: &str| s.parse().unwrap_or(0);
    Version::new(
        part(env!("CARGO_PKG_VERSION_MAJOR")),
        part(env!("CARGO_PKG_VERSION_MINOR")),
        part(env!("CARGO_PKG_VERSION_PATCH")),
    )
}

use atoll_runtime_host::abi::{CheckOutcome, RuntimeContext, TxOutcome};

/// Why a call failed on the node's side (not a client error). Sent to the
/// host as a [`RuntimeError`] of module [`ERROR_MODULE`].
#[derive(Debug, thiserror::Error)]
pub enum HostedError {
    /// [`BatchContext::extra`] is not a [`RuntimeContext`], or its chain
    /// context is malformed.
    #[error("bad runtime context: {0}")]
    BadContext(String),
    /// The call is for another runtime.
    #[error("the call is for runtime {got}, this is runtime {expected}")]
    WrongRuntime {
        /// This runtime's id.
        expected: Namespace,
        /// The id in the call's context.
        got: Namespace,
    },
    /// A message result is not a CBOR `MessageResult`.
    #[error("bad message result: {0}")]
    BadMessageResult(String),
    /// The state has no genesis and none was configured.
    #[error("the state has no genesis and no genesis file was given")]
    NoGenesis,
    /// Applying the genesis failed.
    #[error("genesis failed: {0}")]
    Genesis(String),
    /// The node cannot compute the result (storage failure, corrupt state,
    /// a broken invariant).
    #[error(transparent)]
    Fatal(#[from] FatalError),
    /// A result does not encode.
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl HostedError {
    /// The error code within [`ERROR_MODULE`].
    pub const fn code(&self) -> u32 {
        match self {
            Self::BadContext(_) => 1,
            Self::WrongRuntime { .. } => 2,
            Self::BadMessageResult(_) => 3,
            Self::NoGenesis => 4,
            Self::Genesis(_) => 5,
            Self::Fatal(_) => 6,
            Self::Encode(_) => 7,
        }
    }
}

impl From<HostedError> for RuntimeError {
    fn from(e: HostedError) -> Self {
        RuntimeError::new(ERROR_MODULE, e.code(), e.to_string())
    }
}

fn storage_fatal(e: StorageError) -> FatalError {
    FatalError::Store(e.to_string())
}

/// The SDK's [`Store`] over a call's [`HostStorage`]: reads go to the host,
/// writes are buffered into the call's write log. A storage failure (the
/// host's, or an abort) is a [`FatalError::Store`].
pub struct HostStore<'a>(pub &'a mut dyn HostStorage);

impl std::fmt::Debug for HostStore<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostStore")
    }
}

impl Store for HostStore<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        self.0.get(key).map_err(storage_fatal)
    }

    fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), FatalError> {
        self.0.insert(key, &value);
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), FatalError> {
        self.0.remove(key);
        Ok(())
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<crate::state::Entries, FatalError> {
        self.0.range(start, end, usize::MAX).map_err(storage_fatal)
    }
}

fn encode<T: Serialize>(v: &T) -> Result<Value, HostedError> {
    cbor::to_value(v).map_err(|e| HostedError::Encode(e.to_string()))
}

/// An SDK [`Runtime`] behind the host protocol (see the module
/// documentation).
pub struct HostedRuntime {
    runtime_id: Namespace,
    /// Shared with the checker thread ([`RuntimeHandler::checker`]).
    runtime: Arc<Runtime>,
    genesis: Option<RuntimeGenesis>,
    version: Version,
}

impl std::fmt::Debug for HostedRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedRuntime")
            .field("runtime_id", &self.runtime_id)
            .field("runtime", &self.runtime)
            .field("has_genesis", &self.genesis.is_some())
            .finish()
    }
}

impl HostedRuntime {
    /// The SDK `runtime` as runtime `runtime_id`, applying `genesis` to a
    /// state that has none; it reports [`runtime_version`] until
    /// [`HostedRuntime::with_version`] sets another.
    pub fn new(runtime_id: Namespace, runtime: Runtime, genesis: Option<RuntimeGenesis>) -> Self {
        Self {
            runtime_id,
            runtime: Arc::new(runtime),
            genesis,
            version: runtime_version(),
        }
    }

    /// The same runtime reporting `version` in the handshake.
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The SDK runtime it serves.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The SDK's context for a call.
    fn sdk_context(&self, ctx: &BatchContext) -> Result<crate::BatchContext, HostedError> {
        sdk_context(self.runtime_id, ctx)
    }

    /// Applies the genesis if the state has none yet.
    fn ensure_genesis(&self, store: &mut HostStore<'_>) -> Result<(), HostedError> {
        if store.get(GENESIS_MARKER_KEY)?.is_some() {
            return Ok(());
        }
        let genesis = self.genesis.as_ref().ok_or(HostedError::NoGenesis)?;
        let bytes = cbor::to_vec(genesis).map_err(|e| HostedError::Encode(e.to_string()))?;
        self.runtime
            .init_genesis(store, genesis)
            .map_err(|e| HostedError::Genesis(e.to_string()))?;
        store.insert(GENESIS_MARKER_KEY, Hash::digest(&bytes).0.to_vec())?;
        Ok(())
    }

    fn execute(
        &self,
        storage: &mut dyn HostStorage,
        req: ExecuteBatchRequest,
    ) -> Result<BatchOutput, HostedError> {
        let ctx = self
            .sdk_context(&req.ctx)?
            .with_round_results(round_results(storage, &req.ctx)?);
        let results = req
            .message_results
            .into_iter()
            .map(cbor::from_value::<MessageResult>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HostedError::BadMessageResult(e.to_string()))?;
        let mut store = HostStore(storage);
        self.ensure_genesis(&mut store)?;
        let mut events = self
            .runtime
            .process_message_results(&ctx, &mut store, &results)?;
        let batch = self.runtime.execute_batch(&ctx, &mut store, &req.txs)?;
        events.extend(batch.block_events);
        Ok(BatchOutput {
            results: batch
                .results
                .into_iter()
                .map(|r| {
                    encode(&TxOutcome {
                        hash: r.hash,
                        result: r.result,
                        gas_used: r.gas_used,
                        events: r.events,
                    })
                })
                .collect::<Result<_, _>>()?,
            messages: batch
                .messages
                .iter()
                .map(encode)
                .collect::<Result<_, _>>()?,
            events: events.iter().map(encode).collect::<Result<_, _>>()?,
        })
    }

    fn run_query(
        &self,
        storage: &mut dyn HostStorage,
        req: QueryRequest,
    ) -> Result<Value, RuntimeError> {
        let ctx = self.sdk_context(&req.ctx)?;
        let store = HostStore(storage);
        let args = match &req.args {
            Value::Null => Vec::new(),
            v => cbor::encode_value(v).map_err(|e| HostedError::Encode(e.to_string()))?,
        };
        match self.runtime.query(&ctx, &store, &req.method, &args) {
            Ok(bytes) => {
                cbor::decode_value(&bytes).map_err(|e| HostedError::Encode(e.to_string()).into())
            }
            Err(crate::Error::Tx(e)) => Err(RuntimeError::new(e.module, e.code, e.message)),
            Err(crate::Error::Fatal(f)) => Err(HostedError::Fatal(f).into()),
        }
    }
}

/// The SDK's context for a call to runtime `runtime_id`.
fn sdk_context(
    runtime_id: Namespace,
    ctx: &BatchContext,
) -> Result<crate::BatchContext, HostedError> {
    if ctx.runtime_id != runtime_id {
        return Err(HostedError::WrongRuntime {
            expected: runtime_id,
            got: ctx.runtime_id,
        });
    }
    let extra = RuntimeContext::from_value(ctx.extra.clone())
        .map_err(|e| HostedError::BadContext(e.to_string()))?;
    let chain = ChainContext::new(&extra.consensus_chain_context)
        .map_err(|e| HostedError::BadContext(e.to_string()))?;
    crate::BatchContext::new(
        ctx.runtime_id,
        chain,
        ctx.round.0,
        ctx.consensus_height.0,
        ctx.epoch.0,
    )
    .map(|c| {
        c.with_timestamp(ctx.timestamp)
            .with_previous_hash(ctx.previous_hash)
    })
    .map_err(|e| HostedError::BadContext(e.to_string()))
}

/// What consensus recorded of the runtime's last normal round, read from
/// the consensus state at the batch's consensus height (`None` before the
/// first). Every committee member reads the same height, so they agree; a
/// node that cannot read it cannot compute the batch.
fn round_results(
    storage: &dyn HostStorage,
    ctx: &BatchContext,
) -> Result<Option<RoundResults>, HostedError> {
    let key = atoll_consensus_types::roothash::round_results_key(&ctx.runtime_id);
    let Some(bytes) = storage
        .consensus_get(ctx.consensus_height, &key)
        .map_err(storage_fatal)?
    else {
        return Ok(None);
    };
    cbor::from_slice(&bytes)
        .map(Some)
        .map_err(|e| HostedError::BadContext(format!("round results: {e}")))
}

/// Checks a batch for the pool (the handler's and the checker's calls).
fn check(
    runtime_id: Namespace,
    runtime: &Runtime,
    storage: &mut dyn HostStorage,
    req: CheckBatchRequest,
) -> Result<Vec<Value>, HostedError> {
    let ctx = sdk_context(runtime_id, &req.ctx)?;
    let store = HostStore(storage);
    // The keys the checks read come from the host in one request, and
    // stay in the call's read cache.
    let mut prefetch = |keys: &[Vec<u8>]| -> Result<(), FatalError> {
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        store.0.get_many(&keys).map(|_| ()).map_err(storage_fatal)
    };
    let checked = runtime.check_batch(&ctx, &store, &req.txs, &mut prefetch)?;
    let mut out = Vec::with_capacity(checked.len());
    for c in checked {
        let outcome = match c {
            Ok(c) => CheckOutcome::Ok {
                hash: c.hash,
                signer: c.signer,
                nonce: c.nonce,
                fee: encode(&c.fee)?,
                gas: c.gas,
                priority: c.priority,
                size: u64::try_from(c.size).unwrap_or(u64::MAX),
                extra: c.eth_address.map(|a| ByteBuf::from(a.0.to_vec())),
            },
            Err(e) => CheckOutcome::Failed {
                module: e.module,
                code: e.code,
                message: e.message,
            },
        };
        out.push(encode(&outcome)?);
    }
    Ok(out)
}

/// The runtime's checks on the serve loop's checker thread, beside the
/// batch being executed (the SDK runtime is shared: its caches of verified
/// signatures and recovered senders serve both).
struct SdkChecker {
    runtime_id: Namespace,
    runtime: Arc<Runtime>,
}

impl Checker for SdkChecker {
    fn check_batch(
        &self,
        storage: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError> {
        check(self.runtime_id, &self.runtime, storage, req).map_err(Into::into)
    }
}

impl RuntimeHandler for HostedRuntime {
    fn info(&self) -> RuntimeInfo {
        RuntimeInfo::new(self.runtime_id, self.version)
    }

    fn execute_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: ExecuteBatchRequest,
    ) -> Result<BatchOutput, RuntimeError> {
        self.execute(storage, req).map_err(Into::into)
    }

    fn check_batch(
        &mut self,
        storage: &mut dyn HostStorage,
        req: CheckBatchRequest,
    ) -> Result<Vec<Value>, RuntimeError> {
        check(self.runtime_id, &self.runtime, storage, req).map_err(Into::into)
    }

    fn checker(&self) -> Option<Arc<dyn Checker>> {
        Some(Arc::new(SdkChecker {
            runtime_id: self.runtime_id,
            runtime: Arc::clone(&self.runtime),
        }))
    }

    fn query(
        &mut self,
        storage: &mut dyn HostStorage,
        req: QueryRequest,
    ) -> Result<Value, RuntimeError> {
        self.run_query(storage, req)
    }
}

//! The executor committee protocol, as one compute node runs it for one
//! runtime.
//!
//! Consensus says who does what: the runtime's committee for the epoch
//! (workers and backup workers), the rank order of workers for each round,
//! the last finalized runtime block, and whether the current round is in
//! discrepancy. After every consensus block the worker looks at that state
//! and acts:
//!
//! 1. **Storage.** If consensus finalized a round this node has not applied,
//!    the storage worker applies it: from this node's own execution when it
//!    computed the same roots, otherwise from a peer's record, which is
//!    checked against the finalized header (see [`crate::storage`]).
//! 2. **Proposing.** The worker of rank 0 for the next round takes a batch
//!    from the pool (at most `max_batch_size` transactions and
//!    `max_batch_size_bytes` bytes, gas limits adding up to at most
//!    [`OFFER_GAS_FACTOR`] × the runtime's `max_batch_gas`), signs a
//!    [`Proposal`] and gossips it. The runtime packs the batch by gas used:
//!    the block is the prefix of the proposal up to the first transaction
//!    that no longer fits, and the rest stay pooled for the next round. It
//!    proposes when it has work: transactions, results of messages the
//!    runtime emitted last round, or a runtime that has never run a normal
//!    round (its genesis runs in the first one). A worker of rank `k` proposes only
//!    when no better-ranked proposal came within `k` ×
//!    `propose_batch_timeout_ms` of the round opening: the next rank takes
//!    over from a silent proposer.
//! 3. **Executing.** Every worker executes the best-ranked proposal it has,
//!    on the state of the last finalized round and the consensus height that
//!    finalized it (so every worker runs the same inputs), and submits a
//!    signed executor commitment in a `roothash.ExecutorCommit` transaction.
//!    The scheduler's commitment carries the round's messages.
//! 4. **Discrepancy.** Backup workers do nothing until consensus declares a
//!    discrepancy; then each executes the proposal of the best-ranked
//!    scheduler that committed and votes.
//!
//! Nothing here decides anything: consensus (the roothash) tallies the
//! votes, finalizes or fails the round, and slashes workers whose results
//! disagreed with the outcome.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atoll_consensus::mkvs_store::MkvsView;
use atoll_consensus::services::registry::{Registry, Runtime};
use atoll_consensus::services::roothash::commitment_context;
use atoll_consensus::services::roothash::state::RoothashState;
use atoll_consensus::services::roothash::types::{
    BlockHeader, ComputeResults, ExecutorCommit, HeaderType, Message, RuntimeState, Vote,
    messages_hash,
};
use atoll_consensus::services::scheduler::{Committee, Role, state::SchedulerState};
use atoll_crypto::Hash;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_mkvs::Mkvs;
use atoll_runtime_host::abi::CheckOutcome;
use atoll_runtime_host::host::{HostError, RuntimeHost};
use atoll_runtime_host::protocol::{
    BatchContext, CheckBatchRequest, ExecuteBatchRequest, QueryRequest, RuntimeError, StateRoot,
};
use atoll_types::cbor::{self, Value};
use atoll_types::signed::Signed;
use atoll_types::{Epoch, Height, Namespace, Round};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info, warn};

use crate::catchup::Vouched;
use crate::checkpoint::{self, CheckpointInfo};
pub use crate::client::{Included, QueryError, QueryLimits, TxWait};
use crate::client::{MAX_WAITERS, QueryLane, Waiters};
use crate::signed::RoundSigner;
use crate::storage::{RoundRecord, RuntimeStorage, StateAtError, StorageError, io_root};
use crate::txpool::{PoolLimits, PoolTx, TxPool};

/// Signature context of batch proposals (bound to the chain).
pub const PROPOSAL_SIGNATURE_CONTEXT: &str = "atoll/compute: batch proposal";

/// How often the worker looks again without news (rank takeover timers).
const TICK: Duration = Duration::from_millis(50);

/// How long a scheduler waits before sending its open round's proposal
/// again.
const REPUBLISH: Duration = Duration::from_millis(500);

/// Rounds between two re-checks of the whole pool.
const RECHECK_EVERY: u64 = 16;

/// A proposal offers transactions whose gas limits add up to at most this
/// many times the batch gas limit; the runtime keeps those that fit by the
/// gas they actually use.
pub const OFFER_GAS_FACTOR: u64 = 3;

/// A batch the scheduler of a round proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The runtime.
    pub runtime: Namespace,
    /// The round it is for.
    pub round: u64,
    /// The hash of the last finalized block it builds on.
    pub previous_hash: Hash,
    /// The transactions, in execution order.
    pub txs: Vec<ByteBuf>,
}

/// What compute nodes gossip to each other (canonical CBOR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeMessage {
    /// Transactions a node checked and pooled, for the other nodes' pools.
    Txs {
        /// The runtime.
        runtime: Namespace,
        /// The transactions.
        txs: Vec<ByteBuf>,
    },
    /// A signed batch proposal (the signer is the scheduler). The scheduler
    /// sends it again while the round is open, with a higher `attempt` (so
    /// gossip does not drop it as a duplicate), for nodes that missed it.
    Proposal {
        /// The proposal.
        signed: Signed<Proposal>,
        /// 0 for the first sending.
        attempt: u32,
    },
}

impl ComputeMessage {
    /// The runtime the message is about.
    pub fn runtime(&self) -> Option<Namespace> {
        match self {
            Self::Txs { runtime, .. } => Some(*runtime),
            Self::Proposal { signed: p, .. } => {
                cbor::from_slice::<Proposal>(&p.untrusted_raw_value)
                    .ok()
                    .map(|p| p.runtime)
            }
        }
    }
}

/// What a gossiped message deserves ([`Worker::on_message`]); the gossip
/// layer forwards, drops, or drops and penalises the peer accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Valid: forward it.
    Accept,
    /// Not forwarded; the sender is not at fault (a duplicate, a stale
    /// round, something this node cannot judge now).
    Ignore,
    /// Invalid whatever the state (undecodable, badly signed, signed by no
    /// node at all): not forwarded, and the peer that sent it is penalised.
    Reject,
}

/// Most transactions in one gossiped batch (a node's own batches are split
/// to fit; a peer's larger batch is rejected).
pub const MAX_GOSSIP_TXS: usize = 1024;

/// Most gossiped proposals waiting for the worker's loop (beyond, they are
/// ignored until it catches up).
pub const MAX_QUEUED_PROPOSALS: usize = 64;

/// `core` error codes of a transaction that no state can make valid
/// (undecodable, non-canonical, bad signature, unknown method, too many
/// signers, bad call format, oversized): whoever gossips one is at fault.
const PERMANENT_TX_ERRORS: [u32; 6] = [1, 2, 3, 15, 18, 23];

/// The verdict on a gossiped batch from the runtime's check of each
/// transaction: a transaction invalid whatever the state rejects the batch;
/// otherwise one the runtime accepted forwards it; otherwise (stale nonces,
/// fees, a full pool) it is ignored.
pub fn batch_verdict(outcomes: &[Result<Admitted, SubmitError>]) -> GossipVerdict {
    let permanent = outcomes.iter().any(|o| {
        matches!(o, Err(SubmitError::Invalid { module, code, .. })
            if module == "core" && PERMANENT_TX_ERRORS.contains(code))
    });
    if permanent {
        GossipVerdict::Reject
    } else if outcomes.iter().any(Result::is_ok) {
        GossipVerdict::Accept
    } else {
        GossipVerdict::Ignore
    }
}

/// Most transaction bytes in one gossiped batch.
pub const MAX_GOSSIP_BATCH_BYTES: usize = 8 << 20;

/// Splits transactions into gossip batches of at most [`MAX_GOSSIP_TXS`]
/// transactions and [`MAX_GOSSIP_BATCH_BYTES`] bytes (a larger single
/// transaction goes alone).
fn gossip_batches(txs: Vec<ByteBuf>) -> Vec<Vec<ByteBuf>> {
    let mut out = Vec::new();
    let mut batch: Vec<ByteBuf> = Vec::new();
    let mut bytes = 0usize;
    for tx in txs {
        if !batch.is_empty()
            && (batch.len() >= MAX_GOSSIP_TXS
                || bytes.saturating_add(tx.len()) > MAX_GOSSIP_BATCH_BYTES)
        {
            out.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes = bytes.saturating_add(tx.len());
        batch.push(tx);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

/// A proposal's place in the bounded queue to the worker's loop, freed when
/// the loop has taken it.
struct QueueSlot(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// A test-only misbehaviour (refused unless the network is a debug one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Commit a wrong state root for every batch this node did not propose
    /// itself (a worker that lies about someone else's batch).
    WrongResults,
    /// Never propose a batch (a scheduler that is down or withholding), so
    /// the next rank has to take over.
    SilentProposer,
}

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
    /// Gossips a [`ComputeMessage`] (CBOR) to the other compute nodes.
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

/// Configuration of a runtime's worker.
pub struct WorkerConfig {
    /// The runtime.
    pub runtime: Namespace,
    /// This node's identity key (commitments, proposals).
    pub node_key: SigningKey,
    /// The consensus chain context.
    pub chain: ChainContext,
    /// The consensus state database.
    pub consensus: Mkvs,
    /// The consensus height of the genesis state (version of the consensus
    /// namespace holding it).
    pub genesis_height: u64,
    /// First height of the chain and blocks per epoch.
    pub epoch_schedule: (u64, u64),
    /// What goes in [`BatchContext::extra`] for this runtime.
    pub extra: Value,
    /// Pool bounds.
    pub pool: PoolLimits,
    /// A misbehaviour for tests.
    pub fault: Option<Fault>,
    /// When set, the proposer also proposes an empty batch once a round
    /// has been open this long with no work, so that the runtime makes
    /// blocks at a steady pace when idle (Ethereum tooling waits for new
    /// blocks). `None`: rounds only when there is work.
    pub idle_round: Option<Duration>,
    /// A runtime process of the same runtime that serves only queries (see
    /// [`crate::client`]); `None`: queries go to the batch process.
    pub query_host: Option<RuntimeHost>,
    /// Bounds of the query queue.
    pub query_limits: QueryLimits,
}

/// A transaction the runtime accepted (pooled now, or already pooled or
/// included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Its hash.
    pub hash: Hash,
    /// The runtime's own data about it, as its check reported it (opaque
    /// here; for the EVM runtime the 20-byte Ethereum sender). See
    /// [`atoll_runtime_host::abi::CheckOutcome`].
    pub extra: Option<ByteBuf>,
}

/// Why a transaction was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The runtime refused it (bad signature, nonce, fee, unknown method…).
    #[error("{module} error {code}: {message}")]
    Invalid {
        /// Error module.
        module: String,
        /// Error code.
        code: u32,
        /// Message.
        message: String,
    },
    /// The pool refused it.
    #[error("txpool: {0}")]
    Pool(#[from] crate::txpool::PoolError),
    /// The runtime could not be asked (not started yet, crashed).
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
    /// Too many clients wait for transactions on this runtime.
    #[error(transparent)]
    TooManyWaiters(#[from] crate::client::TooManyWaiters),
}

impl SubmitError {
    /// (module, code) of the error, for APIs.
    pub fn code(&self) -> (String, u32) {
        match self {
            Self::Invalid { module, code, .. } => (module.clone(), *code),
            Self::Pool(e) => ("txpool".into(), e.code()),
            Self::Unavailable(_) => ("compute".into(), 1),
            Self::TooManyWaiters(_) => ("compute".into(), 2),
        }
    }
}

/// The worker of one runtime on one node.
pub struct Worker {
    inner: Arc<Inner>,
    inputs: mpsc::UnboundedSender<Input>,
    /// Gossiped proposals sent to the loop and not yet taken.
    queued_proposals: Arc<std::sync::atomic::AtomicUsize>,
}

struct Inner {
    cfg: WorkerConfig,
    node_id: PublicKey,
    proposal_ctx: Context,
    host: RuntimeHost,
    /// Signs commitments and keeps what was signed (and proposed) for an
    /// open round durable, so that a restart sends the same again.
    signer: RoundSigner,
    storage: RuntimeStorage,
    pool: Mutex<TxPool>,
    consensus: Arc<dyn ConsensusPort>,
    peers: Arc<dyn PeerPort>,
    /// Clients waiting for inclusions (bounded; a wait dropped is gone).
    waiters: Arc<Waiters>,
    /// Queries, on their own runtime process when the node gave one.
    queries: QueryLane,
    rounds: broadcast::Sender<Arc<RoundRecord>>,
    latest: Mutex<Option<(u64, RuntimeState)>>,
    /// The extras the runtime's checks reported, by transaction hash
    /// (bounded; see [`Worker::take_check_extra`]).
    check_extras: Mutex<CheckExtras>,
}

/// Most check extras remembered (each at most
/// [`atoll_runtime_host::abi::MAX_CHECK_EXTRA_LEN`] bytes).
const CHECK_EXTRAS: usize = 65_536;

/// The per-runtime extras reported by checks, oldest forgotten first.
#[derive(Default)]
struct CheckExtras {
    by_hash: BTreeMap<Hash, ByteBuf>,
    order: std::collections::VecDeque<Hash>,
}

impl CheckExtras {
    fn insert(&mut self, hash: Hash, extra: ByteBuf) {
        if self.by_hash.insert(hash, extra).is_none() {
            self.order.push_back(hash);
            while self.order.len() > CHECK_EXTRAS {
                if let Some(old) = self.order.pop_front() {
                    self.by_hash.remove(&old);
                }
            }
        }
    }
}

enum Input {
    Height(u64),
    Proposal(Box<Proposal>, PublicKey, QueueSlot),
}

/// Errors starting a worker.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A signature context is invalid.
    #[error("context: {0}")]
    Context(String),
    /// The runtime is not registered in consensus.
    #[error("runtime {0} is not registered")]
    NotRegistered(Namespace),
    /// Consensus state could not be read.
    #[error("consensus state: {0}")]
    Consensus(String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

impl Worker {
    /// Starts the worker of `cfg.runtime`, on a started runtime host and its
    /// storage.
    pub fn start(
        cfg: WorkerConfig,
        host: RuntimeHost,
        storage: RuntimeStorage,
        consensus: Arc<dyn ConsensusPort>,
        peers: Arc<dyn PeerPort>,
    ) -> Result<Self, WorkerError> {
        let ctx = |base: &str| {
            Context::for_chain(base, &cfg.chain).map_err(|e| WorkerError::Context(e.to_string()))
        };
        let proposal_ctx = ctx(PROPOSAL_SIGNATURE_CONTEXT)?;
        let queries = QueryLane::new(
            cfg.query_host.clone().unwrap_or_else(|| host.clone()),
            cfg.query_limits,
        );
        let commit_ctx =
            commitment_context(&cfg.chain).map_err(|e| WorkerError::Context(e.to_string()))?;
        let signer = RoundSigner::new(cfg.node_key.clone(), commit_ctx, storage.clone());
        let inner = Arc::new(Inner {
            node_id: cfg.node_key.public_key(),
            pool: Mutex::new(TxPool::new(cfg.pool)),
            cfg,
            proposal_ctx,
            signer,
            host,
            storage,
            consensus,
            peers,
            waiters: Waiters::new(MAX_WAITERS),
            queries,
            rounds: broadcast::channel(256).0,
            latest: Mutex::new(None),
            check_extras: Mutex::new(CheckExtras::default()),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(inner.clone(), rx));
        Ok(Self {
            inner,
            inputs: tx,
            queued_proposals: Arc::default(),
        })
    }

    /// The runtime.
    pub fn runtime(&self) -> Namespace {
        self.inner.cfg.runtime
    }

    /// The runtime's storage (rounds, transactions, state).
    pub fn storage(&self) -> &RuntimeStorage {
        &self.inner.storage
    }

    /// The runtime host.
    pub fn host(&self) -> &RuntimeHost {
        &self.inner.host
    }

    /// Transactions in the pool.
    pub fn pool_len(&self) -> usize {
        lock(&self.inner.pool).len()
    }

    /// Finalized rounds as they are applied.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RoundRecord>> {
        self.inner.rounds.subscribe()
    }

    /// Consensus applied block `height`.
    pub fn on_consensus_block(&self, height: u64) {
        let _ = self.inputs.send(Input::Height(height));
    }

    /// Judges a gossiped message for this runtime before anyone forwards
    /// it. Transactions are checked by the runtime (and pooled when it
    /// accepts them); a proposal must be signed by a worker of the runtime's
    /// committee, for the next round or the one after.
    pub async fn on_message(&self, message: ComputeMessage) -> GossipVerdict {
        match message {
            ComputeMessage::Txs { runtime, txs } => {
                if runtime != self.inner.cfg.runtime || txs.is_empty() || txs.len() > MAX_GOSSIP_TXS
                {
                    return GossipVerdict::Reject;
                }
                let raws: Vec<Vec<u8>> = txs.into_iter().map(ByteBuf::into_vec).collect();
                match self.inner.admit(raws, false).await {
                    Ok(outcomes) => batch_verdict(&outcomes),
                    // The runtime cannot be asked now: not the sender's fault.
                    Err(_) => GossipVerdict::Ignore,
                }
            }
            ComputeMessage::Proposal { signed, .. } => self.on_proposal_message(&signed),
        }
    }

    /// Judges a gossiped proposal (see [`Worker::on_message`]) and hands it
    /// to the worker when valid; quick, it needs no runtime.
    pub fn on_proposal_message(&self, signed: &Signed<Proposal>) -> GossipVerdict {
        let Ok(p) = signed.open(&self.inner.proposal_ctx) else {
            return GossipVerdict::Reject;
        };
        if p.runtime != self.inner.cfg.runtime {
            return GossipVerdict::Reject;
        }
        let from = *signed.public_key();
        match self.inner.standing(&from) {
            Some(Standing::Worker) => {}
            // A node, but not a worker as this node sees the committee (an
            // epoch may have just turned): dropped, not punished.
            Some(Standing::Node) | None => return GossipVerdict::Ignore,
            Some(Standing::Outsider) => return GossipVerdict::Reject,
        }
        let next = self.inner.storage.last_header().round + 1;
        if p.round < next || p.round > next + 1 {
            return GossipVerdict::Ignore;
        }
        let queued = self
            .queued_proposals
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let slot = QueueSlot(self.queued_proposals.clone());
        if queued >= MAX_QUEUED_PROPOSALS {
            return GossipVerdict::Ignore;
        }
        if self
            .inputs
            .send(Input::Proposal(Box::new(p), from, slot))
            .is_err()
        {
            return GossipVerdict::Ignore;
        }
        GossipVerdict::Accept
    }

    /// Checks a transaction with the runtime, pools it and gossips it.
    pub async fn submit_tx(&self, raw: Vec<u8>) -> Result<Hash, SubmitError> {
        let mut out = self.inner.admit(vec![raw], true).await?;
        out.pop()
            .unwrap_or_else(|| Err(SubmitError::Unavailable("no answer".into())))
            .map(|a| a.hash)
    }

    /// Checks many transactions with the runtime at once (one call), pools
    /// and gossips those it accepts: the outcome of each, in order.
    pub async fn submit_txs(
        &self,
        raws: Vec<Vec<u8>>,
    ) -> Result<Vec<Result<Admitted, SubmitError>>, SubmitError> {
        self.inner.admit(raws, true).await
    }

    /// The extra this node's runtime reported when it checked the
    /// transaction `hash` (submitted here or gossiped), if it still
    /// remembers it; forgotten once taken. Only the runtime's clients know
    /// what it means (an Ethereum gateway indexing the transaction reads
    /// its sender there instead of recovering it again).
    pub fn take_check_extra(&self, hash: &Hash) -> Option<ByteBuf> {
        lock(&self.inner.check_extras).by_hash.remove(hash)
    }

    /// Resolves when `hash` is in a finalized round (at once if it already
    /// is). Dropping the wait unregisters it; at most
    /// [`crate::client::MAX_WAITERS`] waits at a time.
    pub fn wait_tx(&self, hash: Hash) -> Result<TxWait, SubmitError> {
        if let Ok(Some(found)) = self.inner.find_tx(&hash) {
            return Ok(Waiters::resolved(found));
        }
        let wait = self.inner.waiters.register(hash)?;
        // It may have been applied between the look and the registration.
        if let Ok(Some(found)) = self.inner.find_tx(&hash) {
            self.inner.waiters.resolve(&hash, &found);
        }
        Ok(wait)
    }

    /// Clients waiting for transactions to be included.
    pub fn waiting(&self) -> usize {
        self.inner.waiters.len()
    }

    /// Queries admitted and not yet answered.
    pub fn queries_in_flight(&self) -> usize {
        self.inner.queries.in_flight()
    }

    /// The runtime process that serves queries.
    pub fn query_host(&self) -> &RuntimeHost {
        self.inner.queries.host()
    }

    /// Where a transaction was included, with its result.
    pub fn find_tx(&self, hash: &Hash) -> Result<Option<Included>, StorageError> {
        self.inner.find_tx(hash)
    }

    /// Runs a runtime query on the state of finalized round `round` (its
    /// header's round, timestamp and previous hash, its state root; see
    /// [`RuntimeStorage::state_at`]), or on the latest state when `round`
    /// is `None`.
    pub async fn query(
        &self,
        round: Option<u64>,
        method: &str,
        args: Value,
    ) -> Result<Value, QueryError> {
        let ctx = match round {
            Some(r) => self.inner.context_at(r)?,
            None => self.inner.context_latest(),
        };
        self.inner
            .queries
            .query(QueryRequest {
                ctx,
                method: method.to_string(),
                args,
            })
            .await
    }
}

/// Who signed a gossiped proposal, as the latest consensus state says.
enum Standing {
    /// A worker of the runtime's committee.
    Worker,
    /// A registered node, not a worker of the committee.
    Node,
    /// No registered node.
    Outsider,
}

impl Inner {
    /// Where `node` stands at the latest consensus height this node applied
    /// (`None` before it has applied any).
    fn standing(&self, node: &PublicKey) -> Option<Standing> {
        let (height, _) = lock(&self.latest).clone()?;
        let mut v = MkvsView::at(&self.cfg.consensus, height).ok()?;
        let worker = SchedulerState::new(&mut v)
            .committee(&self.cfg.runtime)
            .ok()
            .flatten()
            .is_some_and(|c| c.has(node, Role::Worker));
        if worker {
            return Some(Standing::Worker);
        }
        match Registry::new(&mut v).state().node(node) {
            Ok(Some(_)) => Some(Standing::Node),
            Ok(None) => Some(Standing::Outsider),
            Err(_) => None,
        }
    }

    fn epoch_at(&self, height: u64) -> Epoch {
        let (initial, interval) = self.cfg.epoch_schedule;
        atoll_consensus::genesis::epoch_at(initial, interval, height)
    }

    /// The most gas the runtime lets a batch use (`core.Parameters`
    /// `max_batch_gas`; no limit if the runtime does not say).
    async fn batch_gas_limit(&self) -> u64 {
        #[derive(Deserialize)]
        struct CoreParameters {
            max_batch_gas: u64,
        }
        let q = self
            .host
            .query(QueryRequest {
                ctx: self.context_latest(),
                method: "core.Parameters".into(),
                args: Value::Null,
            })
            .await;
        q.ok()
            .and_then(|v| cbor::from_value::<CoreParameters>(v).ok())
            .map_or(u64::MAX, |p| p.max_batch_gas)
    }

    fn find_tx(&self, hash: &Hash) -> Result<Option<Included>, StorageError> {
        let Some((round, index)) = self.storage.tx_location(hash)? else {
            return Ok(None);
        };
        let Some(rec) = self.storage.round(round)? else {
            return Ok(None);
        };
        Ok(rec
            .results
            .get(index as usize)
            .cloned()
            .map(|result| Included {
                round,
                index,
                result,
            }))
    }

    /// The context of a query at finalized round `round`: its header's
    /// round, timestamp and previous hash, its state root, and the consensus
    /// height it executed at (the latest known height when its record does
    /// not say). The latest round gets [`Self::context_latest`], so a query
    /// naming it is the same as one naming none.
    fn context_at(&self, round: u64) -> Result<BatchContext, StateAtError> {
        if round == self.storage.last_header().round {
            return Ok(self.context_latest());
        }
        let at = self.storage.state_at(round)?;
        let height = match at.consensus_height {
            0 => self.latest_height(),
            h => h,
        };
        Ok(self.query_context(&at.header, height, at.root))
    }

    /// The latest consensus height this node applied (genesis before any).
    fn latest_height(&self) -> u64 {
        lock(&self.latest)
            .as_ref()
            .map_or(self.cfg.genesis_height, |(h, _)| *h)
    }

    /// The context a query runs in on the state `root` after the round of
    /// `header` (queries read a round's own state, so the header's
    /// `previous_hash` is its predecessor's hash), at consensus `height`.
    fn query_context(&self, header: &BlockHeader, height: u64, root: StateRoot) -> BatchContext {
        BatchContext {
            runtime_id: self.cfg.runtime,
            round: Round(header.round),
            consensus_height: Height(height),
            epoch: self.epoch_at(height),
            timestamp: header.timestamp,
            previous_hash: header.previous_hash,
            state_root: root,
            extra: self.cfg.extra.clone(),
        }
    }

    /// The context of checks and queries: the latest applied round.
    fn context_latest(&self) -> BatchContext {
        let last = self.storage.last_header();
        self.query_context(&last, self.latest_height(), self.storage.state_root())
    }

    async fn check(&self, raws: &[Vec<u8>]) -> Result<Vec<CheckOutcome>, SubmitError> {
        let out = self
            .host
            .check_batch(CheckBatchRequest {
                ctx: self.context_latest(),
                txs: raws.to_vec(),
            })
            .await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        if out.results.len() != raws.len() {
            return Err(SubmitError::Unavailable(format!(
                "the runtime checked {} of {} transactions",
                out.results.len(),
                raws.len()
            )));
        }
        out.results
            .into_iter()
            .map(|v| {
                CheckOutcome::from_value(v)
                    .map_err(|e| SubmitError::Unavailable(format!("bad check result: {e}")))
            })
            .collect()
    }

    async fn admit(
        &self,
        raws: Vec<Vec<u8>>,
        gossip: bool,
    ) -> Result<Vec<Result<Admitted, SubmitError>>, SubmitError> {
        let verdicts = self.check(&raws).await?;
        let mut out = Vec::with_capacity(raws.len());
        let mut admitted = Vec::new();
        {
            let mut pool = lock(&self.pool);
            for (raw, v) in raws.into_iter().zip(verdicts) {
                match v {
                    CheckOutcome::Ok {
                        hash,
                        signer,
                        nonce,
                        priority,
                        gas,
                        extra,
                        ..
                    } => {
                        if let Some(e) = &extra {
                            lock(&self.check_extras).insert(hash, e.clone());
                        }
                        let ok = Admitted { hash, extra };
                        if self.storage.tx_location(&hash).ok().flatten().is_some() {
                            out.push(Ok(ok));
                            continue;
                        }
                        let tx = PoolTx {
                            hash,
                            raw: raw.clone(),
                            sender: signer,
                            nonce,
                            priority,
                            gas,
                        };
                        match pool.insert(tx, 0) {
                            Ok(()) => {
                                admitted.push(ByteBuf::from(raw));
                                out.push(Ok(ok));
                            }
                            Err(crate::txpool::PoolError::Duplicate) => out.push(Ok(ok)),
                            Err(e) => out.push(Err(e.into())),
                        }
                    }
                    CheckOutcome::Failed {
                        module,
                        code,
                        message,
                    } => out.push(Err(SubmitError::Invalid {
                        module,
                        code,
                        message,
                    })),
                }
            }
        }
        if gossip {
            for txs in gossip_batches(admitted) {
                let msg = ComputeMessage::Txs {
                    runtime: self.cfg.runtime,
                    txs,
                };
                if let Ok(bytes) = cbor::to_vec(&msg) {
                    self.peers.publish(bytes);
                }
            }
        }
        Ok(out)
    }
}

/// A batch this node executed, waiting for its round to finalize.
struct Executed {
    results: ComputeResults,
    txs: Vec<ByteBuf>,
    outputs: Vec<Value>,
    events: Vec<Value>,
    messages: Vec<Value>,
    decoded_messages: Vec<Message>,
    write_log: Vec<atoll_runtime_host::protocol::WriteLogEntry>,
    consensus_height: u64,
}

#[derive(Default)]
struct RoundWork {
    /// Proposals received for the round, by scheduler.
    proposals: BTreeMap<PublicKey, Proposal>,
    /// Batches executed, by scheduler.
    executed: BTreeMap<PublicKey, Executed>,
    /// Whether this node committed as a worker / as a backup.
    committed: bool,
    backup_committed: bool,
    proposed: bool,
    /// This node's own proposal for the round: when and how often sent.
    sent: Option<(Signed<Proposal>, u32, Instant)>,
    /// When this node first saw work for the round (rank takeover counts
    /// from there).
    work_since: Option<Instant>,
    /// When this node first looked at the round (idle rounds count from
    /// there).
    opened: Option<Instant>,
}

struct Loop {
    inner: Arc<Inner>,
    seen_height: u64,
    work: BTreeMap<u64, RoundWork>,
    rounds_applied: u64,
    catch_up: CatchUp,
    vouched: Vouched,
}

/// Longest a runtime with nothing applied waits for consensus to catch up
/// before deciding how to catch up itself (checkpoint or replay).
const DEFER_RESTORE: Duration = Duration::from_secs(30);

/// How often a runtime with nothing applied asks its storage peers for
/// checkpoints while it waits for consensus.
const ASK_EVERY: Duration = Duration::from_secs(1);

/// State of catching up from checkpoints.
#[derive(Default)]
struct CatchUp {
    /// Since when a runtime with nothing applied has waited for consensus.
    deferred_since: Option<Instant>,
    /// When the storage peers were last asked, while waiting.
    asked: Option<Instant>,
    /// Whether a runtime with nothing applied has decided (checkpoint or
    /// replay); it no longer waits then.
    decided: bool,
    /// The target round of the last attempt to restore a checkpoint.
    tried_at: Option<u64>,
}

async fn run(inner: Arc<Inner>, mut inputs: mpsc::UnboundedReceiver<Input>) {
    let mut me = Loop {
        seen_height: inner.cfg.genesis_height,
        inner,
        work: BTreeMap::new(),
        rounds_applied: 0,
        catch_up: CatchUp::default(),
        vouched: Vouched::default(),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            input = inputs.recv() => {
                let Some(input) = input else { return };
                match input {
                    Input::Height(h) => {
                        if h > me.seen_height {
                            me.follow(h).await;
                        }
                    }
                    Input::Proposal(p, from, _slot) => me.on_proposal(*p, from),
                }
            }
            _ = tick.tick() => {}
        }
        me.act().await;
    }
}

impl Loop {
    fn view(&self, height: u64) -> Option<MkvsView> {
        MkvsView::at(&self.inner.cfg.consensus, height).ok()
    }

    fn runtime_state(&self, height: u64) -> Option<RuntimeState> {
        let mut v = self.view(height)?;
        RoothashState::new(&mut v)
            .runtime(&self.inner.cfg.runtime)
            .ok()
            .flatten()
    }

    /// Applies every round consensus finalized up to `height`.
    async fn follow(&mut self, height: u64) {
        if !self.restore_if_far_behind(height).await {
            return; // consensus is still catching up: decide later
        }
        while self.seen_height < height {
            let h = self.seen_height + 1;
            let Some(rs) = self.runtime_state(h) else {
                self.seen_height = h;
                continue;
            };
            let applied = self.inner.storage.last_header().round;
            if rs.last_block.round > applied && !self.sync_to(&rs.last_block, h).await {
                // A peer will have it later: try again on the next block.
                return;
            }
            self.seen_height = h;
            *lock(&self.inner.latest) = Some((h, rs));
        }
    }

    /// Brings storage to `target` (a finalized header, the runtime's last
    /// block at consensus height `height`). Every round fetched from a
    /// storage peer must be the one consensus vouches for (its past root,
    /// or the hash its vouched successor links to) before it is applied and
    /// made durable.
    async fn sync_to(&mut self, target: &BlockHeader, height: u64) -> bool {
        loop {
            let last = self.inner.storage.last_header();
            if last.round >= target.round {
                return true;
            }
            let round = last.round + 1;
            let record = if round == target.round {
                self.local_record(target)
            } else {
                None
            };
            let record = match record {
                Some(r) => r,
                None => match self
                    .inner
                    .peers
                    .fetch_round(self.inner.cfg.runtime, round)
                    .await
                {
                    Some(r) => r,
                    None => {
                        debug!(runtime = %self.inner.cfg.runtime, round, "no peer has the round yet");
                        return false;
                    }
                },
            };
            if round == target.round && record.header != *target {
                warn!(
                    round,
                    "a peer's round record does not match the finalized header"
                );
                return false;
            }
            if round != target.round {
                let inner = &self.inner;
                let runtime = inner.cfg.runtime;
                let past_root = |r: u64| {
                    let mut v = MkvsView::at(&inner.cfg.consensus, height).ok()?;
                    RoothashState::new(&mut v)
                        .past_root(&runtime, r)
                        .ok()
                        .flatten()
                };
                let vouched = self
                    .vouched
                    .hash_of(
                        runtime,
                        round,
                        target.round,
                        past_root,
                        inner.peers.as_ref(),
                    )
                    .await;
                match vouched {
                    Ok(h) if h == record.header.hash() => {}
                    Ok(_) => {
                        warn!(%runtime, round, "a storage peer's round is not the finalized one: not applied");
                        return false;
                    }
                    Err(e) => {
                        warn!(%runtime, round, error = %e, "cannot check a fetched round: not applied");
                        return false;
                    }
                }
            }
            // Storage work off the async threads: other runtimes' workers
            // and the API keep running while a large round is applied.
            let storage = self.inner.storage.clone();
            let applied =
                tokio::task::spawn_blocking(move || storage.apply_round(&record).map(|()| record))
                    .await;
            let record = match applied {
                Ok(Ok(record)) => record,
                Ok(Err(e)) => {
                    warn!(round, error = %e, "cannot apply the round");
                    return false;
                }
                Err(e) => {
                    warn!(round, error = %e, "the storage task failed");
                    return false;
                }
            };
            self.vouched.applied(round);
            self.finished(record).await;
        }
    }

    /// The runtime's `checkpoint_interval` at `height` (`None`: none).
    fn checkpoint_interval(&self, height: u64) -> Option<u64> {
        let mut v = self.view(height)?;
        Registry::new(&mut v)
            .state()
            .runtime(&self.inner.cfg.runtime)
            .ok()
            .flatten()
            .map(|r| r.storage.checkpoint_interval)
            .filter(|i| *i > 0)
    }

    /// Before replaying rounds: when storage is more than
    /// `checkpoint_interval` rounds behind the round consensus finalized at
    /// `height` (a node that joins late, or was down long), restores the
    /// newest usable checkpoint from the storage peers, so that only the
    /// rounds after it are replayed. Without one, rounds are replayed as
    /// usual. Returns `false` to wait: a runtime with nothing applied whose
    /// storage peers offer checkpoints more than an interval past what
    /// consensus here has finalized (its consensus is still syncing) waits,
    /// asking again every [`ASK_EVERY`] and at most [`DEFER_RESTORE`] in
    /// all, so that it decides from where the chain really is.
    async fn restore_if_far_behind(&mut self, height: u64) -> bool {
        let Some(target) = self.runtime_state(height).map(|rs| rs.last_block) else {
            return true;
        };
        let Some(interval) = self.checkpoint_interval(height) else {
            return true;
        };
        let last = self.inner.storage.last_header();
        let behind = target.round.saturating_sub(last.round);
        let fresh = last.round == self.inner.storage.genesis().round && !self.catch_up.decided;
        if !fresh {
            // After an attempt, ask again only once the chain has moved on
            // by another interval.
            if behind <= interval
                || self
                    .catch_up
                    .tried_at
                    .is_some_and(|t| target.round < t.saturating_add(interval))
            {
                return true;
            }
            self.catch_up.tried_at = Some(target.round);
            let (usable, _) = self.checkpoint_offers(height, &target, last.round).await;
            self.restore_checkpoint(usable, behind).await;
            return true;
        }
        if self.catch_up.asked.is_some_and(|t| t.elapsed() < ASK_EVERY) {
            return false;
        }
        self.catch_up.asked = Some(Instant::now());
        let since = *self
            .catch_up
            .deferred_since
            .get_or_insert_with(Instant::now);
        let (usable, ahead) = self.checkpoint_offers(height, &target, last.round).await;
        if ahead && since.elapsed() < DEFER_RESTORE {
            debug!(runtime = %self.inner.cfg.runtime, round = target.round, "storage peers have checkpoints past what consensus here finalized: waiting for consensus");
            return false;
        }
        self.catch_up.decided = true;
        if behind > interval {
            self.catch_up.tried_at = Some(target.round);
            self.restore_checkpoint(usable, behind).await;
        }
        true
    }

    /// The checkpoints the storage peers offer that are newer than round
    /// `applied`, not past `target`, and match the past root consensus
    /// recorded (at `height`) for their round, newest first, each with the
    /// peers offering it; and whether some peer offers one more than an
    /// interval past `target` (consensus here is behind).
    async fn checkpoint_offers(
        &self,
        height: u64,
        target: &BlockHeader,
        applied: u64,
    ) -> (Vec<(CheckpointInfo, Vec<usize>)>, bool) {
        let runtime = self.inner.cfg.runtime;
        let offers = self.inner.peers.fetch_checkpoints(runtime).await;
        let interval = self.checkpoint_interval(height).unwrap_or(0);
        let ahead = offers
            .iter()
            .any(|(_, c)| c.round > target.round.saturating_add(interval));
        let Some(mut view) = self.view(height) else {
            return (Vec::new(), ahead);
        };
        let usable = checkpoint::usable(&runtime, offers, applied, target.round, |round| {
            RoothashState::new(&mut view)
                .past_root(&runtime, round)
                .ok()
                .flatten()
        });
        (usable, ahead)
    }

    /// Restores the first of `usable` (newest first) whose chunks the peers
    /// offering it deliver intact ([`checkpoint::fetch_chunks`]) and whose
    /// rebuilt state has the header's root. Returns whether storage was
    /// restored; `behind` is for the log.
    async fn restore_checkpoint(
        &mut self,
        usable: Vec<(CheckpointInfo, Vec<usize>)>,
        behind: u64,
    ) -> bool {
        let runtime = self.inner.cfg.runtime;
        if usable.is_empty() {
            info!(%runtime, behind, "no usable checkpoint from the storage peers: replaying rounds");
            return false;
        }
        for (info, peers) in usable {
            let round = info.round;
            let n = info.chunks.len();
            // Chunks go to the restore as they arrive (two in flight), so
            // they are never all held at once.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
            let storage = self.inner.storage.clone();
            let target = info.clone();
            let restore = tokio::task::spawn_blocking(move || {
                storage.restore_streamed(&target, std::iter::from_fn(|| rx.blocking_recv()))
            });
            if !checkpoint::stream_chunks(self.inner.peers.as_ref(), runtime, &info, &peers, tx)
                .await
            {
                // The restore sees the chunks end early and changes nothing.
                let _ = restore.await;
                continue;
            }
            match restore.await {
                Ok(Ok(())) => {
                    info!(%runtime, round, chunks = n, behind, "storage restored from a checkpoint");
                    self.work.retain(|r, _| *r > round);
                    self.recheck_pool().await;
                    return true;
                }
                Ok(Err(e)) => warn!(%runtime, round, error = %e, "cannot restore the checkpoint"),
                Err(e) => warn!(%runtime, round, error = %e, "the storage task failed"),
            }
        }
        info!(%runtime, behind, "no checkpoint could be restored: replaying rounds");
        false
    }

    /// This node's own execution of the finalized round, if it computed the
    /// same roots.
    fn local_record(&mut self, target: &BlockHeader) -> Option<RoundRecord> {
        if target.header_type != HeaderType::Normal {
            return Some(RoundRecord::empty(target.clone()));
        }
        let work = self.work.get_mut(&target.round)?;
        let key = work.executed.iter().find_map(|(k, e)| {
            (e.results.state_root == target.state_root
                && e.results.io_root == target.io_root
                && e.results.messages_hash == target.messages_hash)
                .then_some(*k)
        })?;
        let e = work.executed.remove(&key)?;
        Some(RoundRecord {
            header: target.clone(),
            consensus_height: e.consensus_height,
            txs: e.txs,
            results: e.outputs,
            events: e.events,
            messages: e.messages,
            write_log: e.write_log,
        })
    }

    async fn finished(&mut self, record: RoundRecord) {
        let round = record.header.round;
        self.work.retain(|r, _| *r > round);
        let hashes: Vec<Hash> = record.txs.iter().map(|t| Hash::digest(t)).collect();
        lock(&self.inner.pool).remove(&hashes);
        for (i, h) in hashes.iter().enumerate() {
            if self.inner.waiters.waits_for(h) {
                let inc = Included {
                    round,
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    result: record.results.get(i).cloned().unwrap_or(Value::Null),
                };
                self.inner.waiters.resolve(h, &inc);
            }
        }
        if record.header.header_type == HeaderType::Normal {
            info!(runtime = %self.inner.cfg.runtime, round, txs = record.txs.len(), "round finalized");
        } else {
            info!(runtime = %self.inner.cfg.runtime, round, kind = ?record.header.header_type, "round closed");
        }
        let _ = self.inner.rounds.send(Arc::new(record));
        self.rounds_applied += 1;
        if self.rounds_applied.is_multiple_of(RECHECK_EVERY) {
            self.recheck_pool().await;
        }
    }

    /// Drops pooled transactions the runtime no longer accepts (used
    /// nonces, spent balances).
    async fn recheck_pool(&self) {
        let all = lock(&self.inner.pool).all();
        if all.is_empty() {
            return;
        }
        let raws: Vec<Vec<u8>> = all.iter().map(|t| t.raw.clone()).collect();
        let Ok(verdicts) = self.inner.check(&raws).await else {
            return;
        };
        let stale: Vec<Hash> = all
            .iter()
            .zip(verdicts)
            .filter(|(_, v)| matches!(v, CheckOutcome::Failed { .. }))
            .map(|(t, _)| t.hash)
            .collect();
        if !stale.is_empty() {
            debug!(
                count = stale.len(),
                "dropping transactions the runtime now refuses"
            );
            lock(&self.inner.pool).remove(&stale);
        }
    }

    fn on_proposal(&mut self, p: Proposal, from: PublicKey) {
        let next = self.inner.storage.last_header().round + 1;
        // Keep proposals for the next round and the one after (a node may
        // see a proposal before it applies the previous round).
        if p.round < next || p.round > next + 1 {
            return;
        }
        let work = self.work.entry(p.round).or_default();
        work.proposals.entry(from).or_insert(p);
    }

    /// Consensus facts for the current round.
    fn situation(&self) -> Option<(u64, RuntimeState, Committee, Runtime)> {
        let (height, rs) = lock(&self.inner.latest).clone()?;
        let mut v = self.view(height)?;
        let committee = SchedulerState::new(&mut v)
            .committee(&self.inner.cfg.runtime)
            .ok()
            .flatten()?;
        let runtime = Registry::new(&mut v)
            .state()
            .runtime(&self.inner.cfg.runtime)
            .ok()
            .flatten()?;
        Some((height, rs, committee, runtime))
    }

    async fn act(&mut self) {
        let Some((_height, rs, committee, runtime)) = self.situation() else {
            return;
        };
        let last = self.inner.storage.last_header();
        if last != rs.last_block {
            return; // storage is catching up
        }
        let next = last.round + 1;
        let me = self.inner.node_id;
        let is_worker = committee.has(&me, Role::Worker);
        let is_backup = committee.has(&me, Role::BackupWorker);
        if !is_worker && !is_backup {
            return;
        }
        let order = committee.proposer_order(next);
        let work = self.work.entry(next).or_default();
        // What consensus already holds from this node needs no sending
        // (after a restart, the in-memory record of it is gone).
        if let Some(round) = rs.round.as_ref() {
            if round.commitments.iter().any(|c| c.node_id == me) {
                work.committed = true;
            }
            if round.backup_commitments.iter().any(|c| c.node_id == me) {
                work.backup_committed = true;
            }
        }
        // A batch this node proposed for the round before a restart is the
        // one it proposes (and sends) again.
        if !work.proposed
            && let Ok(Some(p)) = self.inner.signer.proposal(next)
            && p.previous_hash == last.hash()
            && let Ok(signed) = Signed::sign(&self.inner.cfg.node_key, &self.inner.proposal_ctx, &p)
        {
            info!(runtime = %self.inner.cfg.runtime, round = next, "proposing the batch proposed before again");
            work.proposed = true;
            work.proposals.insert(me, p);
            work.sent = Some((
                signed,
                0,
                Instant::now()
                    .checked_sub(REPUBLISH)
                    .unwrap_or_else(Instant::now),
            ));
        }

        // A scheduler whose round is still open sends its proposal again
        // (nodes that were not yet connected, or backups, may lack it).
        if let Some((signed, attempt, at)) = work.sent.as_mut()
            && at.elapsed() >= REPUBLISH
        {
            *attempt += 1;
            *at = Instant::now();
            if let Ok(bytes) = cbor::to_vec(&ComputeMessage::Proposal {
                signed: signed.clone(),
                attempt: *attempt,
            }) {
                self.inner.peers.publish(bytes);
            }
        }
        if let Some(round) = rs.round.as_ref().filter(|r| r.discrepancy) {
            if !is_backup || work.backup_committed {
                return;
            }
            // The best-ranked scheduler that committed its own batch.
            let Some(scheduler) = order
                .iter()
                .find(|s| {
                    round
                        .commitments
                        .iter()
                        .any(|c| c.node_id == **s && c.header.scheduler_id == **s)
                })
                .copied()
            else {
                return;
            };
            let Some(proposal) = work.proposals.get(&scheduler).cloned() else {
                return;
            };
            info!(runtime = %self.inner.cfg.runtime, round = next, "discrepancy: executing as a backup");
            if self.commit(next, &rs, scheduler, &proposal).await {
                self.work.entry(next).or_default().backup_committed = true;
            }
            return;
        }
        if !is_worker || work.committed {
            return;
        }
        // Follow the best-ranked proposal received.
        let best = order
            .iter()
            .find_map(|s| work.proposals.get(s).map(|p| (*s, p.clone())));
        if let Some((scheduler, proposal)) = best {
            if proposal.previous_hash != last.hash() {
                return;
            }
            if self.commit(next, &rs, scheduler, &proposal).await {
                self.work.entry(next).or_default().committed = true;
            }
            return;
        }
        if work.proposed || self.inner.cfg.fault == Some(Fault::SilentProposer) {
            return;
        }
        let Some(rank) = order.iter().position(|n| *n == me) else {
            return;
        };
        let opened = *self
            .work
            .entry(next)
            .or_default()
            .opened
            .get_or_insert_with(Instant::now);
        let has_work = !lock(&self.inner.pool).is_empty()
            || !rs.last_message_results.is_empty()
            || !self.inner.storage.has_run()
            || self
                .inner
                .cfg
                .idle_round
                .is_some_and(|idle| opened.elapsed() >= idle);
        if !has_work {
            return;
        }
        let since = *self
            .work
            .entry(next)
            .or_default()
            .work_since
            .get_or_insert_with(Instant::now);
        let wait = Duration::from_millis(runtime.txn_scheduler.propose_batch_timeout_ms)
            .saturating_mul(u32::try_from(rank).unwrap_or(u32::MAX));
        if since.elapsed() < wait {
            return;
        }
        let max_gas = self.inner.batch_gas_limit().await;
        let candidates = lock(&self.inner.pool).batch(
            usize::try_from(runtime.txn_scheduler.max_batch_size).unwrap_or(usize::MAX),
            usize::try_from(runtime.txn_scheduler.max_batch_size_bytes).unwrap_or(usize::MAX),
        );
        // The runtime packs the batch by the gas its transactions use and
        // leaves out those that no longer fit (they stay pooled), so offer
        // more than the declared limits allow, since limits are usually set
        // well above the gas used, but not without bound.
        let offer = max_gas.saturating_mul(OFFER_GAS_FACTOR);
        let mut gas = 0u64;
        let txs: Vec<ByteBuf> = candidates
            .into_iter()
            .take_while(|t| {
                gas = gas.saturating_add(t.gas);
                gas <= offer
            })
            .map(|t| ByteBuf::from(t.raw))
            .collect();
        let proposal = Proposal {
            runtime: self.inner.cfg.runtime,
            round: next,
            previous_hash: last.hash(),
            txs,
        };
        // Durable before it is sent: a restart proposes the same batch.
        let proposal = match self.inner.signer.propose(next, proposal) {
            Ok(p) => p,
            Err(e) => {
                warn!(round = next, error = %e, "cannot record the proposal: not proposing");
                return;
            }
        };
        let Ok(signed) = Signed::sign(
            &self.inner.cfg.node_key,
            &self.inner.proposal_ctx,
            &proposal,
        ) else {
            return;
        };
        if rank > 0 {
            info!(runtime = %self.inner.cfg.runtime, round = next, rank, "taking over from a silent proposer");
        }
        if let Ok(bytes) = cbor::to_vec(&ComputeMessage::Proposal {
            signed: signed.clone(),
            attempt: 0,
        }) {
            self.inner.peers.publish(bytes);
        }
        let work = self.work.entry(next).or_default();
        work.proposed = true;
        work.sent = Some((signed, 0, Instant::now()));
        work.proposals.insert(me, proposal.clone());
        if self.commit(next, &rs, me, &proposal).await {
            self.work.entry(next).or_default().committed = true;
        }
    }

    /// Executes `proposal` (once) and submits this node's commitment. A
    /// commitment this node signed for the round and batch before (before a
    /// restart) is sent again as it is, without executing: signing another
    /// would be equivocation. A new one is recorded durably before it is
    /// sent ([`RoundSigner`]). A worker whose runtime cannot execute the
    /// batch (crashed, timed out, returned an error) votes failure, which
    /// consensus counts as a straggler and does not slash; the scheduler
    /// itself may not vote failure on its own batch, so it sends nothing
    /// and tries again (its runtime is restarted on the next call).
    async fn commit(
        &mut self,
        round: u64,
        rs: &RuntimeState,
        scheduler: PublicKey,
        proposal: &Proposal,
    ) -> bool {
        let me = self.inner.node_id;
        let runtime = self.inner.cfg.runtime;
        let commitment = match self.inner.signer.signed(round, &scheduler) {
            Ok(Some(c)) => {
                info!(%runtime, round, "sending the commitment signed before again");
                c
            }
            Ok(None) => {
                let vote = match self.execute(round, rs, scheduler, proposal).await {
                    Ok(results) => {
                        let mut results = results;
                        if self.inner.cfg.fault == Some(Fault::WrongResults) && scheduler != me {
                            warn!(round, "fault injection: committing a wrong state root");
                            results.state_root = Hash::digest(results.state_root.as_bytes());
                        }
                        Vote::Results(results)
                    }
                    Err(e) if scheduler == me => {
                        warn!(round, error = %e, "cannot execute this node's own batch: trying again");
                        return false;
                    }
                    Err(e) => {
                        warn!(round, error = %e, "batch execution failed: voting failure");
                        Vote::Failure { round }
                    }
                };
                let messages = match &vote {
                    Vote::Results(_) if scheduler == me => self
                        .work
                        .get(&round)
                        .and_then(|w| w.executed.get(&scheduler))
                        .map(|e| e.decoded_messages.clone())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                match self
                    .inner
                    .signer
                    .commit(runtime, round, scheduler, vote, messages)
                {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(round, error = %e, "cannot record the commitment: not sending it");
                        return false;
                    }
                }
            }
            Err(e) => {
                warn!(round, error = %e, "cannot read what this node signed");
                return false;
            }
        };
        let body = ExecutorCommit {
            id: runtime,
            commits: vec![commitment],
        };
        let Ok(body) = cbor::to_value(&body) else {
            return false;
        };
        match self.inner.consensus.submit(
            atoll_consensus::services::roothash::methods::EXECUTOR_COMMIT,
            body,
        ) {
            Ok(()) => {
                debug!(round, "commitment submitted");
                true
            }
            Err(e) => {
                warn!(round, error = %e, "cannot submit the commitment");
                false
            }
        }
    }

    async fn execute(
        &mut self,
        round: u64,
        rs: &RuntimeState,
        scheduler: PublicKey,
        proposal: &Proposal,
    ) -> Result<ComputeResults, String> {
        if let Some(e) = self
            .work
            .get(&round)
            .and_then(|w| w.executed.get(&scheduler))
        {
            return Ok(e.results.clone());
        }
        let last = &rs.last_block;
        let height = rs.last_block_height;
        let ctx = BatchContext {
            runtime_id: self.inner.cfg.runtime,
            round: Round(round),
            consensus_height: Height(height),
            epoch: self.inner.epoch_at(height),
            timestamp: last.timestamp,
            previous_hash: last.hash(),
            state_root: self.inner.storage.state_root(),
            extra: self.inner.cfg.extra.clone(),
        };
        let message_results = rs
            .last_message_results
            .iter()
            .map(cbor::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let out = self
            .inner
            .host
            .execute_batch(ExecuteBatchRequest {
                ctx,
                txs: proposal.txs.iter().map(|t| t.to_vec()).collect(),
                message_results,
            })
            .await
            .map_err(|e| match e {
                HostError::Runtime(RuntimeError {
                    module,
                    code,
                    message,
                }) => {
                    format!("{module} error {code}: {message}")
                }
                other => other.to_string(),
            })?;
        // The runtime ends a batch at the first transaction that does not
        // fit in its gas: the block is the prefix that has results.
        if out.results.len() > proposal.txs.len()
            || (out.results.is_empty() && !proposal.txs.is_empty())
        {
            return Err(format!(
                "{} results for {} transactions",
                out.results.len(),
                proposal.txs.len()
            ));
        }
        let txs = proposal.txs[..out.results.len()].to_vec();
        let decoded_messages = out
            .messages
            .iter()
            .map(|m| cbor::from_value::<Message>(m.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("a message does not decode: {e}"))?;
        let executed = started.elapsed();
        let storage = self.inner.storage.clone();
        let (state_root, write_log) = tokio::task::spawn_blocking(move || {
            storage
                .root_after(&out.write_log)
                .map(|root| (root, out.write_log))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        info!(
            runtime = %self.inner.cfg.runtime,
            round,
            txs = txs.len(),
            offered = proposal.txs.len(),
            writes = write_log.len(),
            exec_ms = executed.as_millis(),
            root_ms = started.elapsed().saturating_sub(executed).as_millis(),
            "batch executed"
        );
        let results = ComputeResults {
            round,
            previous_hash: last.hash(),
            io_root: io_root(&txs, &out.results),
            state_root,
            messages_hash: messages_hash(&decoded_messages),
        };
        self.work.entry(round).or_default().executed.insert(
            scheduler,
            Executed {
                results: results.clone(),
                txs,
                outputs: out.results,
                events: out.events,
                messages: out.messages,
                decoded_messages,
                write_log,
                consensus_height: height,
            },
        );
        Ok(results)
    }
}

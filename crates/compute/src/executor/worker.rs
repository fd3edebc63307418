//! The handle a node holds on a runtime's worker ([`Worker`]), its
//! configuration and errors, and the state the handle shares with the
//! worker's loop (the pool, the latest consensus facts, the query lane).

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use atoll_consensus_types::roothash::{BlockHeader, RuntimeState, commitment_context};
use atoll_consensus_types::scheduler::Role;
use atoll_crypto::Hash;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_mkvs::Mkvs;
use atoll_runtime_host::host::RuntimeHost;
use atoll_runtime_host::protocol::{BatchContext, QueryRequest, StateRoot};
use atoll_types::cbor::{self, Value};
use atoll_types::signed::Signed;
use atoll_types::{Epoch, Height, Namespace, Round};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use tokio::sync::{broadcast, mpsc};

use super::admission::{Admitted, CheckExtras, SubmitError, batch_verdict};
use super::messages::{ComputeMessage, GossipVerdict, MAX_GOSSIP_TXS, MAX_QUEUED_PROPOSALS};
use super::mkvs_view::MkvsConsensus;
use super::round::run;
use crate::client::{Included, QueryError, QueryLimits, TxWait};
use crate::client::{MAX_WAITERS, QueryLane, Waiters};
use crate::metrics::WorkerMetrics;
use crate::ports::{ConsensusPort, ConsensusView, PeerPort};
use crate::proposal::{PROPOSAL_SIGNATURE_CONTEXT, Proposal};
use crate::signed::RoundSigner;
use crate::storage::{RoundRecord, RuntimeStorage, StateAtError, StorageError};
use crate::txpool::{PoolLimits, TxPool};

/// A proposal's place in the bounded queue to the worker's loop, freed when
/// the loop has taken it.
pub(super) struct QueueSlot(Arc<std::sync::atomic::AtomicUsize>);

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
    /// Where the worker counts its rounds, checks and pool (see
    /// [`crate::metrics`]).
    pub metrics: WorkerMetrics,
}

/// The worker of one runtime on one node.
pub struct Worker {
    pub(super) inner: Arc<Inner>,
    pub(super) inputs: mpsc::UnboundedSender<Input>,
    /// Gossiped proposals sent to the loop and not yet taken.
    pub(super) queued_proposals: Arc<std::sync::atomic::AtomicUsize>,
}

pub(super) struct Inner {
    pub(super) cfg: WorkerConfig,
    pub(super) node_id: PublicKey,
    pub(super) proposal_ctx: Context,
    pub(super) host: RuntimeHost,
    /// Signs commitments and keeps what was signed (and proposed) for an
    /// open round durable, so that a restart sends the same again.
    pub(super) signer: RoundSigner,
    pub(super) storage: RuntimeStorage,
    pub(super) pool: Mutex<TxPool>,
    pub(super) consensus: Arc<dyn ConsensusPort>,
    /// How it reads consensus.
    pub(super) view: Arc<dyn ConsensusView>,
    pub(super) peers: Arc<dyn PeerPort>,
    /// Clients waiting for inclusions (bounded; a wait dropped is gone).
    pub(super) waiters: Arc<Waiters>,
    /// Queries, on their own runtime process when the node gave one.
    pub(super) queries: QueryLane,
    pub(super) rounds: broadcast::Sender<Arc<RoundRecord>>,
    pub(super) latest: Mutex<Option<(u64, RuntimeState)>>,
    /// The extras the runtime's checks reported, by transaction hash
    /// (bounded; see [`Worker::take_check_extra`]).
    pub(super) check_extras: Mutex<CheckExtras>,
}

pub(super) enum Input {
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
        let view: Arc<dyn ConsensusView> = Arc::new(MkvsConsensus::new(cfg.consensus.clone()));
        let inner = Arc::new(Inner {
            view,
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
        self.inner.pool.lock().len()
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
        self.inner.check_extras.lock().by_hash.remove(hash)
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
pub(super) enum Standing {
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
    pub(super) fn standing(&self, node: &PublicKey) -> Option<Standing> {
        let (height, _) = self.latest.lock().clone()?;
        let worker = self
            .view
            .committee(height, &self.cfg.runtime)
            .is_some_and(|c| c.has(node, Role::Worker));
        if worker {
            return Some(Standing::Worker);
        }
        match self.view.is_node(height, node)? {
            true => Some(Standing::Node),
            false => Some(Standing::Outsider),
        }
    }

    pub(super) fn epoch_at(&self, height: u64) -> Epoch {
        let (initial, interval) = self.cfg.epoch_schedule;
        atoll_consensus_types::epoch_at(initial, interval, height)
    }

    /// The most gas the runtime lets a batch use (`core.Parameters`
    /// `max_batch_gas`; no limit if the runtime does not say).
    pub(super) async fn batch_gas_limit(&self) -> u64 {
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

    pub(super) fn find_tx(&self, hash: &Hash) -> Result<Option<Included>, StorageError> {
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
    pub(super) fn context_at(&self, round: u64) -> Result<BatchContext, StateAtError> {
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
    pub(super) fn latest_height(&self) -> u64 {
        self.latest
            .lock()
            .as_ref()
            .map_or(self.cfg.genesis_height, |(h, _)| *h)
    }

    /// The context a query runs in on the state `root` after the round of
    /// `header` (queries read a round's own state, so the header's
    /// `previous_hash` is its predecessor's hash), at consensus `height`.
    pub(super) fn query_context(
        &self,
        header: &BlockHeader,
        height: u64,
        root: StateRoot,
    ) -> BatchContext {
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
    pub(super) fn context_latest(&self) -> BatchContext {
        let last = self.storage.last_header();
        self.query_context(&last, self.latest_height(), self.storage.state_root())
    }
}

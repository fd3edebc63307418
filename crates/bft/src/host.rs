//! The application side of Malachite: answers every [`AppMsg`] by building,
//! checking, streaming and applying blocks of the atoll state machine.
//!
//! Message flow for one height `h` (app-channel API):
//! 1. `ConsensusReady` (once): reply `(h, HeightParams)` with the validator set
//!    of `h`, computed from committed state.
//! 2. `StartedRound(h, r)`: reply the values already seen for `(h, r)`;
//!    proposal parts that arrived early for `h` are checked now.
//! 3. `GetValue(h, r)` (proposer only): build a block from the
//!    [`TxSource`], reply its hash, and stream it as `Init`, `Data`..., `Fin`
//!    proposal parts. In round 0 a proposer with nothing to propose waits,
//!    up to [`HostConfig::block_time`] from the start of the round, for the
//!    source to report arrivals ([`TxSource::arrivals`]): an idle network
//!    makes one empty block per block time, and a transaction reaching an
//!    idle network is proposed at once instead of at the next paced height.
//! 4. `ReceivedProposalPart`: reassemble a stream; when complete, check the
//!    proposer and its signature, then the block (the same rules the proposer
//!    used), and reply `ProposedValue` with `Valid` or `Invalid`: an invalid
//!    block gets a nil prevote.
//! 5. `Decided(cert)`: apply the block to the store (`App::apply_block`),
//!    compute the validator set of `h + 1` from the scheduler's state, and
//!    keep the block and certificate for sync.
//! 6. `Finalized(cert)`: remember the (possibly larger) certificate, which
//!    the next block carries as `last_commit`, and reply
//!    `Next::Start(h + 1, HeightParams)`.
//!
//! Sync: `GetHistoryMinHeight` and `GetDecidedValues` serve stored blocks;
//! `ProcessSyncedValue` accepts a block whose certificate Malachite checked.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use tokio::sync::watch;

use atoll_consensus::app::{App, BlockResult};
use atoll_consensus::genesis::Genesis;
use atoll_crypto::Hash;
use bytes::Bytes;
use malachitebft_app_channel::app::consensus::VoteExtensionError;
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature, LinearTimeouts, Round,
    Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use tracing::{debug, info, warn};

use crate::block::{
    BftBlock, DoubleProposal, DoubleSign, EvidenceVote, Judge, Limits, Parent, TxRules, block_hash,
    equivocators, not_too_far_ahead, proposer_of, verify_commit,
};
use crate::chain::{Chain, StoredBlock};
use crate::codec::WireCommit;
use crate::context::{
    AtollContext, BlockCommitment, BlockHash, Height, PartInit, ProposalPart, ValidatorAddress,
    ValidatorSet,
};
use crate::error::BftError;
use crate::signing::AtollSigner;
use malachitebft_app_channel::app::types::MisbehaviorEvidence;
use malachitebft_app_channel::app::types::core::{NilOrVal, SignedVote, VoteType};

/// Where the proposer takes transactions from: the mempool implements this.
pub trait TxSource: Send {
    /// Pending transactions, in the order the proposer should try them (at
    /// most `max`).
    fn pending(&mut self, max: usize) -> Vec<Vec<u8>>;
    /// These transactions are in a committed block, or can never be: drop
    /// them.
    fn remove(&mut self, hashes: &[Hash]);
    /// A value that changes whenever transactions arrive (any change, not
    /// its value, is the news): a proposer with nothing to propose waits on
    /// it. `None` (the default): the source cannot tell, and such a proposer
    /// waits out the whole block time.
    fn arrivals(&self) -> Option<watch::Receiver<u64>> {
        None
    }
}

/// A first-in first-out in-memory [`TxSource`], shared by clones.
#[derive(Debug, Clone)]
pub struct MemQueue {
    inner: std::sync::Arc<std::sync::Mutex<VecDeque<Vec<u8>>>>,
    arrived: std::sync::Arc<watch::Sender<u64>>,
}

impl Default for MemQueue {
    fn default() -> Self {
        Self {
            inner: std::sync::Arc::default(),
            arrived: std::sync::Arc::new(watch::Sender::new(0)),
        }
    }
}

impl MemQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a raw signed transaction.
    pub fn push(&self, raw: Vec<u8>) {
        if let Ok(mut q) = self.inner.lock() {
            q.push_back(raw);
        }
        self.arrived.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|q| q.len()).unwrap_or(0)
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TxSource for MemQueue {
    fn pending(&mut self, max: usize) -> Vec<Vec<u8>> {
        self.inner
            .lock()
            .map(|q| q.iter().take(max).cloned().collect())
            .unwrap_or_default()
    }

    fn remove(&mut self, hashes: &[Hash]) {
        if let Ok(mut q) = self.inner.lock() {
            q.retain(|raw| !hashes.contains(&Hash::digest(raw)));
        }
    }

    fn arrivals(&self) -> Option<watch::Receiver<u64>> {
        Some(self.arrived.subscribe())
    }
}

/// Tuning of the host that is not agreed by consensus.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Consensus timeouts.
    pub timeouts: LinearTimeouts,
    /// The shortest time from the start of one height to the start of the
    /// next: Malachite's target time, which holds a decided height until it
    /// has passed (`None`: no floor). A node paces only the heights where it
    /// is a validator. Busy heights are at least this long, which bounds how
    /// fast heights (and height-counted timeouts such as a runtime round's)
    /// go under load.
    pub min_block_time: Option<Duration>,
    /// The longest a round-0 proposer with nothing to propose waits, from
    /// the start of the round, for transactions before it proposes an empty
    /// block (`None`: it proposes at once). An idle network thus makes a
    /// block about this often; a busy one as fast as `min_block_time` and
    /// the work allow. Capped at half the propose timeout.
    pub block_time: Option<Duration>,
    /// Bytes per streamed data part.
    pub part_size: usize,
    /// Most transactions a proposer tries per block.
    pub max_txs_tried: usize,
    /// How far ahead of this validator's clock a proposed block's time may
    /// be for it to vote for the block (the only place the local clock is
    /// read when judging). A proposer cannot push block time (and with it
    /// the EVM `block.timestamp`) further into the future than this.
    pub max_time_drift: Duration,
    /// A proposer that misbehaves on purpose, for end-to-end tests of the
    /// defences only (the node refuses it unless the genesis is a debug
    /// one). `None` in every real deployment.
    pub byzantine: Option<ByzantineProposer>,
}

/// Test-only misbehaviour of a proposer (`[consensus]
/// debug_byzantine_proposer` in `node.toml`, refused unless the genesis is a
/// debug one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByzantineProposer {
    /// Dates every block it proposes this many seconds ahead of its clock.
    pub future_s: u64,
    /// Besides its proposal, streams this many other blocks (each dated one
    /// second later than the last) for the same height and round, each
    /// signed as its proposal.
    pub extra_proposals: u32,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            timeouts: LinearTimeouts::default(),
            min_block_time: None,
            block_time: None,
            part_size: 64 * 1024,
            max_txs_tried: 10_000,
            max_time_drift: DEFAULT_MAX_TIME_DRIFT,
            byzantine: None,
        }
    }
}

/// What [`Host::on_commit`] hooks see of each applied block.
#[derive(Debug)]
pub struct Committed<'a> {
    /// The block, with its hash and certificate.
    pub block: &'a StoredBlock,
    /// Its results.
    pub result: &'a BlockResult,
    /// The state root after it.
    pub state_root: Hash,
    /// The chain (state and block store).
    pub chain: &'a Chain,
    /// Whether the block came by sync (the node is catching up) rather than
    /// from a proposal it saw.
    pub synced: bool,
}

/// Called after each applied block.
pub type CommitHook = Box<dyn FnMut(&Committed<'_>) + Send>;

/// A block this node has (built, received or synced) but not yet decided.
#[derive(Debug, Clone)]
struct Candidate {
    bytes: Vec<u8>,
    parts: Vec<ProposalPart>,
}

/// Parts of one stream, by sequence.
#[derive(Debug, Default)]
struct PartialStream {
    parts: BTreeMap<u64, ProposalPart>,
    fin: Option<u64>,
    bytes: usize,
}

/// The default of [`HostConfig::max_time_drift`].
pub const DEFAULT_MAX_TIME_DRIFT: Duration = Duration::from_secs(10);

/// Most incomplete streams kept in all (beyond, the peer holding the most
/// loses its oldest).
pub const MAX_STREAMS: usize = 64;

/// Most incomplete streams one peer may hold open (beyond, its own oldest
/// is dropped): a peer that opens streams without end only evicts its own,
/// never the proposer's.
pub const MAX_STREAMS_PER_PEER: usize = 4;

/// Streams are accepted for the current height and this many after it (a
/// peer slightly ahead); anything further is dropped as its `Init` arrives.
pub const FUTURE_HEIGHTS: u64 = 2;

/// Complete streams for future heights kept per peer until their height
/// starts.
pub const MAX_PENDING_PER_PEER: usize = 2;

/// Blocks kept per height from value sync (unchecked until consensus checks
/// their certificate, so a lying peer may send some).
pub const MAX_SYNCED_PER_HEIGHT: usize = 4;

/// The consensus application of one validator.
pub struct Host<T: TxSource> {
    app: App,
    ctx: AtollContext,
    signer: AtollSigner,
    address: ValidatorAddress,
    chain: Chain,
    /// The state root after the parent.
    state_root: Hash,
    txs: T,
    config: HostConfig,
    limits: Limits,
    initial_height: u64,
    height: u64,
    round: Round,
    /// When the current round started (`StartedRound`).
    round_started: tokio::time::Instant,
    parent: Option<Parent>,
    sets: BTreeMap<u64, ValidatorSet>,
    last_commit: Option<WireCommit>,
    /// Our own blocks, by (height, round).
    built: BTreeMap<(u64, i64), BlockHash>,
    /// Blocks known for a height, by hash.
    candidates: BTreeMap<(u64, BlockHash), Candidate>,
    /// Values to hand back on `StartedRound`, by (height, round).
    undecided: BTreeMap<(u64, i64), Vec<ProposedValue<AtollContext>>>,
    /// Complete streams for future heights, checked when the height starts,
    /// with the peer that sent each.
    pending: Vec<(PeerId, Vec<ProposalPart>)>,
    streams: BTreeMap<(PeerId, StreamId), PartialStream>,
    stream_order: VecDeque<(PeerId, StreamId)>,
    stream_nonce: u64,
    /// Double votes seen at the last decided height, for the next block.
    evidence: Vec<DoubleSign>,
    /// Double proposals seen at the last decided height, likewise.
    double_proposals: Vec<DoubleProposal>,
    on_commit: Option<CommitHook>,
}

impl<T: TxSource> Host<T> {
    /// A host for `chain`: at its genesis for a new chain, or after its last
    /// applied block for a restarted node (the engine's WAL then replays the
    /// height in progress).
    pub fn new(
        genesis: &Genesis,
        chain: Chain,
        signer: AtollSigner,
        txs: T,
        config: HostConfig,
    ) -> Result<Self, BftError> {
        Self::with_app(App::new(genesis)?, genesis, chain, signer, txs, config)
    }

    /// Like [`Host::new`] with the state machine given: a clone of the
    /// mempool's `App` shares its cache of verified signatures.
    pub fn with_app(
        app: App,
        genesis: &Genesis,
        chain: Chain,
        signer: AtollSigner,
        txs: T,
        config: HostConfig,
    ) -> Result<Self, BftError> {
        let ctx = AtollContext::new(app.chain_context())?;
        chain.recover(&app)?;
        let mut sets = BTreeMap::new();
        let (height, parent, last_commit, state_root) = match chain.last_height()? {
            Some(last) => {
                let stored = chain.block(last)?.ok_or_else(|| {
                    BftError::Storage(format!("state at {last} but no block {last}"))
                })?;
                sets.insert(last, chain.validator_set(last)?);
                let parent = Parent {
                    height: last,
                    hash: stored.hash,
                    time: stored.block.block.time,
                };
                (
                    last.saturating_add(1),
                    Some(parent),
                    Some(stored.commit),
                    chain.state_root(last)?,
                )
            }
            None => (
                chain.initial_height(),
                None,
                None,
                chain.state_root(chain.genesis_version())?,
            ),
        };
        sets.insert(height, chain.validator_set(height)?);
        let mut candidates = BTreeMap::new();
        for (h, bytes) in chain.candidates()? {
            if h >= height {
                candidates.insert(
                    (h, block_hash(&bytes)),
                    Candidate {
                        bytes,
                        parts: Vec::new(),
                    },
                );
            }
        }
        if let Some(p) = &parent {
            info!(height = p.height, hash = %p.hash, "resuming after the last applied block");
        }
        Ok(Self {
            address: signer.address(),
            app,
            ctx,
            signer,
            chain,
            state_root,
            txs,
            config,
            limits: Limits {
                max_block_size: genesis.consensus.max_block_size,
                max_block_gas: genesis.consensus.max_block_gas,
            },
            initial_height: genesis.initial_height,
            height,
            round: Round::Nil,
            round_started: tokio::time::Instant::now(),
            parent,
            sets,
            last_commit,
            built: BTreeMap::new(),
            candidates,
            undecided: BTreeMap::new(),
            pending: Vec::new(),
            streams: BTreeMap::new(),
            stream_order: VecDeque::new(),
            stream_nonce: 0,
            evidence: Vec::new(),
            double_proposals: Vec::new(),
            on_commit: None,
        })
    }

    /// The Malachite context of this chain.
    pub fn context(&self) -> &AtollContext {
        &self.ctx
    }

    /// The validator set of the height consensus starts at.
    pub fn start_validator_set(&self) -> Option<&ValidatorSet> {
        self.sets.get(&self.height)
    }

    /// Calls `hook` after every applied block.
    pub fn on_commit(&mut self, hook: CommitHook) {
        self.on_commit = Some(hook);
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The height of the last applied block.
    pub fn last_height(&self) -> Option<u64> {
        self.parent.as_ref().map(|p| p.height)
    }

    fn params(&self, height: u64) -> Result<HeightParams<AtollContext>, BftError> {
        let set =
            self.sets.get(&height).cloned().ok_or_else(|| {
                BftError::OutOfStep(format!("no validator set for height {height}"))
            })?;
        let target_time = paced(self.config.min_block_time, &set, &self.address);
        Ok(HeightParams::new(set, self.config.timeouts, target_time))
    }

    /// Answers consensus until its channel closes (an error) or a fatal
    /// error occurs.
    pub async fn run(&mut self, channels: &mut Channels<AtollContext>) -> Result<(), BftError> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, channels).await?;
        }
        Err(BftError::ChannelClosed)
    }

    async fn handle(
        &mut self,
        msg: AppMsg<AtollContext>,
        channels: &mut Channels<AtollContext>,
    ) -> Result<(), BftError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let params = self.params(self.height)?;
                info!(height = self.height, "consensus ready");
                let _ = reply.send((Height(self.height), params));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                self.height = height.0;
                self.round = round;
                self.round_started = tokio::time::Instant::now();
                let pending = std::mem::take(&mut self.pending);
                for (peer, parts) in pending {
                    match parts_height(&parts) {
                        Some(h) if h == height.0 => {
                            let _ = self.accept_stream(parts);
                        }
                        Some(h) if h > height.0 => self.pending.push((peer, parts)),
                        _ => {}
                    }
                }
                let values = self
                    .undecided
                    .get(&(height.0, round.as_i64()))
                    .cloned()
                    .unwrap_or_default();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let hash = match self.built.get(&(height.0, round.as_i64())) {
                    Some(h) => *h,
                    None => self.propose(height.0, round, timeout).await?,
                };
                let _ = reply.send(LocallyProposedValue::new(height, round, hash));
                if let Some(c) = self.candidates.get(&(height.0, hash)) {
                    let parts = c.parts.clone();
                    self.publish(channels, height.0, round, parts).await?;
                }
                self.equivocate(channels, height.0, round, hash).await?;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // Extensions are disabled (`VoteExtensionPolicy::Disabled`):
                // none is acceptable.
                let verdicts = extensions
                    .into_iter()
                    .map(|(address, _)| (address, Err(VoteExtensionError::InvalidVoteExtension)))
                    .collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                value_id,
                ..
            } => {
                if let Some(c) = self.candidates.get(&(height.0, value_id)) {
                    let parts = c.parts.clone();
                    self.publish(channels, height.0, round, parts).await?;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let min = self
                    .chain
                    .block_range()?
                    .map_or(self.initial_height, |(first, _)| first);
                let _ = reply.send(Height(min));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let value =
                    crate::blocking(|| self.receive_part(published_by.unwrap_or(from), part));
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate,
                extensions: _,
                reply,
            } => {
                crate::blocking(|| self.commit(&certificate))?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                extensions: _,
                evidence,
                reply,
            } => {
                if !evidence.is_empty() {
                    warn!(height = %certificate.height, ?evidence, "misbehaviour observed");
                    self.evidence = self.double_signs(&certificate, &evidence);
                    self.double_proposals = self.double_proposals_in(&certificate, &evidence);
                }
                if self.last_height() != Some(certificate.height.0) {
                    return Err(BftError::OutOfStep(format!(
                        "finalized {} but last applied is {:?}",
                        certificate.height,
                        self.last_height()
                    )));
                }
                let commit = WireCommit::from_certificate(&certificate);
                if self.last_commit.as_ref() != Some(&commit) {
                    self.chain.update_commit(certificate.height.0, &commit)?;
                }
                self.last_commit = Some(commit);
                let next = certificate.height.0.saturating_add(1);
                let params = self.params(next)?;
                let _ = reply.send(Next::Start(Height(next), params));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let (start, end) = (range.start().0, range.end().0);
                let mut values = Vec::new();
                for h in start..=end.max(start) {
                    match self.chain.block(h)? {
                        Some(b) => values.push(raw_decided(&b)?),
                        None => break,
                    }
                }
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                // Consensus checked the certificate before asking, but not yet
                // that these bytes are the certified value (it compares our
                // answer's hash next): kept in memory only (never stored),
                // for heights in the window, a few per height.
                let h = height.0;
                let in_window = h >= self.height && h <= self.height.saturating_add(FUTURE_HEIGHTS);
                let outcome = match BftBlock::from_bytes(&value_bytes) {
                    Ok(b) if b.block.height == h && in_window => {
                        info!(%height, %round, "synced block received");
                        let hash = block_hash(&value_bytes);
                        if !self.candidates.contains_key(&(h, hash)) {
                            let synced = self
                                .candidates
                                .iter()
                                .filter(|((ch, _), c)| *ch == h && c.parts.is_empty())
                                .map(|(k, _)| *k)
                                .collect::<Vec<_>>();
                            if synced.len() >= MAX_SYNCED_PER_HEIGHT
                                && let Some(old) = synced.first()
                            {
                                self.candidates.remove(old);
                            }
                            self.candidates.insert(
                                (h, hash),
                                Candidate {
                                    bytes: value_bytes.to_vec(),
                                    parts: Vec::new(),
                                },
                            );
                        }
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: hash,
                            validity: Validity::Valid,
                        })
                    }
                    _ => SyncedValueOutcome::PeerFault,
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// Builds and records the block for `(height, round)`. In round 0, while
    /// the block would be empty, it waits for arrivals and builds again, until
    /// `block_time` after the round started (at most half of `timeout`, the
    /// propose timeout, so the others never give up on it first). The wait
    /// holds this loop, so other engine messages queue for at most that long.
    async fn propose(
        &mut self,
        height: u64,
        round: Round,
        timeout: Duration,
    ) -> Result<BlockHash, BftError> {
        let wait = match self.config.block_time {
            Some(t) if round.as_i64() == 0 => t.min(timeout / 2),
            _ => Duration::ZERO,
        };
        let deadline = self.round_started + wait;
        let mut arrivals = self.txs.arrivals();
        loop {
            if let Some(rx) = arrivals.as_mut() {
                rx.borrow_and_update();
            }
            let started = std::time::Instant::now();
            let block = crate::blocking(|| self.build(height))?;
            if worth_proposing(&block) || tokio::time::Instant::now() >= deadline {
                return crate::blocking(|| self.record(height, round, &block, started));
            }
            match arrivals.as_mut() {
                Some(rx) => {
                    if let Ok(Err(_)) = tokio::time::timeout_at(deadline, rx.changed()).await {
                        // The source is gone: only the deadline is left.
                        arrivals = None;
                    }
                }
                None => tokio::time::sleep_until(deadline).await,
            }
        }
    }

    /// Test-only ([`ByzantineProposer::extra_proposals`]): streams other
    /// blocks for the round this node proposed `hash` in.
    async fn equivocate(
        &mut self,
        channels: &mut Channels<AtollContext>,
        height: u64,
        round: Round,
        hash: BlockHash,
    ) -> Result<(), BftError> {
        let Some(extra) = self
            .config
            .byzantine
            .map(|b| b.extra_proposals)
            .filter(|n| *n > 0)
        else {
            return Ok(());
        };
        let Some(block) = self
            .candidates
            .get(&(height, hash))
            .and_then(|c| BftBlock::from_bytes(&c.bytes).ok())
        else {
            return Ok(());
        };
        warn!(height, %round, extra, "test fault: streaming other blocks for this round");
        for i in 1..=u64::from(extra) {
            let mut other = block.clone();
            other.block.time = other.block.time.saturating_add(i);
            let bytes = other.to_bytes()?;
            let parts = self.parts_for(height, round, &bytes, block_hash(&bytes))?;
            self.publish(channels, height, round, parts).await?;
        }
        Ok(())
    }

    /// Builds a block for `height` from the transactions the source has.
    fn build(&mut self, height: u64) -> Result<BftBlock, BftError> {
        let set = self
            .sets
            .get(&height)
            .ok_or_else(|| BftError::OutOfStep(format!("no validator set for {height}")))?;
        let entity = set.get(&self.address).map(|v| v.entity);
        let (prev_hash, prev_time, signers) = match (&self.parent, &self.last_commit) {
            (Some(p), Some(c)) => {
                let parent_set = self
                    .sets
                    .get(&p.height)
                    .ok_or_else(|| BftError::OutOfStep("no parent validator set".into()))?;
                let signers = verify_commit(self.ctx.contexts(), c, p, parent_set)
                    .map_err(|e| BftError::OutOfStep(format!("own last commit: {e}")))?;
                (p.hash.0, p.time, signers)
            }
            _ => (Hash::default(), 0, Vec::new()),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_add(self.config.byzantine.map_or(0, |b| b.future_s));
        let mut block = BftBlock {
            state_root: self.state_root,
            block: atoll_consensus::app::Block {
                height,
                time: now.max(prev_time),
                proposer: entity,
                signers,
                prev_hash,
                txs: Vec::new(),
                equivocators: Vec::new(),
            },
            last_commit: self.last_commit.clone().filter(|_| self.parent.is_some()),
            evidence: Vec::new(),
            double_proposals: Vec::new(),
        };
        // Evidence about the parent height that checks out goes in.
        if let Some(p) = &self.parent {
            let parent_set = self.sets.get(&p.height);
            for ev in &self.evidence {
                if ev.height.0 == p.height
                    && parent_set.is_some_and(|s| ev.verify(self.ctx.contexts(), s).is_ok())
                    && !block.evidence.contains(ev)
                {
                    block.evidence.push(ev.clone());
                }
            }
            for ev in &self.double_proposals {
                if ev.first.height.0 == p.height
                    && parent_set.is_some_and(|s| ev.verify(self.ctx.contexts(), s).is_ok())
                    && !block.double_proposals.contains(ev)
                {
                    block.double_proposals.push(ev.clone());
                }
            }
            block.block.equivocators = equivocators(
                self.ctx.contexts(),
                &block.evidence,
                &block.double_proposals,
                Some(p),
                parent_set,
            )
            .map_err(|e| BftError::OutOfStep(format!("own evidence: {e}")))?;
        }
        let base = block.to_bytes()?.len() as u64;
        let mut size = base;
        let view = self.chain.latest_view()?;
        let mut rules = TxRules::new(&self.app, self.limits);
        let mut dropped = Vec::new();
        for raw in self.txs.pending(self.config.max_txs_tried) {
            // Each tx costs its bytes plus a few of CBOR framing.
            let cost = raw.len() as u64 + 9;
            if size.saturating_add(cost) > self.limits.max_block_size {
                break;
            }
            match rules.admit(&view, &raw) {
                Ok(()) => {
                    size += cost;
                    block.block.txs.push(serde_bytes::ByteBuf::from(raw));
                }
                Err(reason) => {
                    debug!(%reason, "transaction left out of the block");
                    if self
                        .app
                        .check_tx(&view, &raw, atoll_consensus::app::NonceCheck::AtLeast)
                        .is_err()
                    {
                        dropped.push(Hash::digest(&raw));
                    }
                }
            }
        }
        if !dropped.is_empty() {
            self.txs.remove(&dropped);
        }
        Ok(block)
    }

    /// Signs and records `block` as this node's proposal for
    /// `(height, round)`.
    fn record(
        &mut self,
        height: u64,
        round: Round,
        block: &BftBlock,
        started: std::time::Instant,
    ) -> Result<BlockHash, BftError> {
        let bytes = block.to_bytes()?;
        let hash = block_hash(&bytes);
        let parts = self.parts_for(height, round, &bytes, hash)?;
        info!(
            height,
            %round,
            txs = block.block.txs.len(),
            %hash,
            ms = started.elapsed().as_millis(),
            "proposing block"
        );
        self.chain.save_candidate(height, &bytes)?;
        self.built.insert((height, round.as_i64()), hash);
        self.candidates
            .insert((height, hash), Candidate { bytes, parts });
        Ok(hash)
    }

    fn parts_for(
        &self,
        height: u64,
        round: Round,
        bytes: &[u8],
        hash: BlockHash,
    ) -> Result<Vec<ProposalPart>, BftError> {
        let commitment = BlockCommitment {
            height: Height(height),
            round: round.as_i64(),
            proposer: self.address,
            block: hash,
        };
        let signature = self.signer.sign(
            &self.ctx.contexts().block,
            &atoll_types::cbor::to_vec(&commitment)?,
        );
        let mut parts = vec![ProposalPart::Init(PartInit {
            height: Height(height),
            round: round.as_i64(),
            pol_round: -1,
            proposer: self.address,
        })];
        parts.extend(
            bytes
                .chunks(self.config.part_size.max(1))
                .map(|c| ProposalPart::Data(c.to_vec())),
        );
        parts.push(ProposalPart::Fin(signature));
        Ok(parts)
    }

    async fn publish(
        &mut self,
        channels: &mut Channels<AtollContext>,
        height: u64,
        round: Round,
        parts: Vec<ProposalPart>,
    ) -> Result<(), BftError> {
        self.stream_nonce = self.stream_nonce.wrapping_add(1);
        let mut id = Vec::with_capacity(20);
        id.extend_from_slice(&height.to_be_bytes());
        id.extend_from_slice(&round.as_u32().unwrap_or(0).to_be_bytes());
        id.extend_from_slice(&self.stream_nonce.to_be_bytes());
        let stream_id = StreamId::new(Bytes::from(id));
        let mut seq = 0u64;
        for part in parts {
            let msg = StreamMessage::new(stream_id.clone(), seq, StreamContent::Data(part));
            channels
                .network
                .send(NetworkMsg::PublishProposalPart(msg))
                .await
                .map_err(|_| BftError::ChannelClosed)?;
            seq += 1;
        }
        let fin = StreamMessage::new(stream_id, seq, StreamContent::Fin);
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(fin))
            .await
            .map_err(|_| BftError::ChannelClosed)
    }

    /// Adds a part; when its stream completes, judges the block.
    ///
    /// Bounds: a peer holds at most [`MAX_STREAMS_PER_PEER`] incomplete
    /// streams and at most twice the largest block in them (beyond, its own
    /// oldest streams go); all peers together at most [`MAX_STREAMS`] (beyond,
    /// the peer holding the most loses its oldest). A stream whose `Init` is
    /// for a past height or more than [`FUTURE_HEIGHTS`] ahead is dropped.
    fn receive_part(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<AtollContext>> {
        let key = (publisher, msg.stream_id.clone());
        let max_parts = (self.limits.max_block_size as usize / self.config.part_size.max(1)) + 4;
        let max_bytes = self.limits.max_block_size as usize + 4096;
        if let StreamContent::Data(ProposalPart::Init(init)) = &msg.content {
            let h = init.height.0;
            if h < self.height || h > self.height.saturating_add(FUTURE_HEIGHTS) {
                debug!(
                    height = h,
                    current = self.height,
                    "stream outside the height window dropped"
                );
                self.drop_stream(&key);
                return None;
            }
        }
        if !self.streams.contains_key(&key) {
            self.make_room_for(&publisher);
            self.stream_order.push_back(key.clone());
        }
        let stream = self.streams.entry(key.clone()).or_default();
        match msg.content {
            StreamContent::Fin => stream.fin = Some(msg.sequence),
            StreamContent::Data(part) => {
                let size = match &part {
                    ProposalPart::Data(d) => d.len(),
                    _ => 0,
                };
                if let Some(old) = stream.parts.insert(msg.sequence, part)
                    && let ProposalPart::Data(d) = old
                {
                    stream.bytes = stream.bytes.saturating_sub(d.len());
                }
                stream.bytes = stream.bytes.saturating_add(size);
            }
        }
        if stream.parts.len() > max_parts || stream.bytes > max_bytes {
            self.drop_stream(&key);
            return None;
        }
        self.bound_peer_bytes(&key, 2 * max_bytes);
        let stream = self.streams.get(&key)?;
        let fin = stream.fin?;
        let complete = u64::try_from(stream.parts.len()).ok() == Some(fin)
            && stream.parts.keys().next_back().is_none_or(|k| *k < fin);
        if !complete {
            return None;
        }
        let parts: Vec<ProposalPart> = self
            .streams
            .remove(&key)
            .map(|s| s.parts.into_values().collect())
            .unwrap_or_default();
        self.stream_order.retain(|k| k != &key);
        match parts_height(&parts) {
            Some(h) if h == self.height => self.accept_stream(parts),
            Some(h) if h > self.height && h <= self.height.saturating_add(FUTURE_HEIGHTS) => {
                let held = self.pending.iter().filter(|(p, _)| *p == publisher).count();
                if held >= MAX_PENDING_PER_PEER
                    && let Some(i) = self.pending.iter().position(|(p, _)| *p == publisher)
                {
                    self.pending.remove(i);
                }
                self.pending.push((publisher, parts));
                None
            }
            _ => None,
        }
    }

    fn drop_stream(&mut self, key: &(PeerId, StreamId)) {
        self.streams.remove(key);
        self.stream_order.retain(|k| k != key);
    }

    /// Before `peer` opens a stream: drops its own oldest if it holds
    /// [`MAX_STREAMS_PER_PEER`], and the oldest stream among the peers
    /// holding the most if all together hold [`MAX_STREAMS`].
    fn make_room_for(&mut self, peer: &PeerId) {
        let held = self.stream_order.iter().filter(|(p, _)| p == peer).count();
        if held >= MAX_STREAMS_PER_PEER {
            if let Some(old) = self.stream_order.iter().find(|(p, _)| p == peer).cloned() {
                self.drop_stream(&old);
            }
            return;
        }
        if self.streams.len() < MAX_STREAMS {
            return;
        }
        let mut counts: BTreeMap<PeerId, usize> = BTreeMap::new();
        for (p, _) in &self.stream_order {
            *counts.entry(*p).or_default() += 1;
        }
        let most = counts.values().copied().max().unwrap_or(0);
        if let Some(old) = self
            .stream_order
            .iter()
            .find(|(p, _)| counts.get(p) == Some(&most))
            .cloned()
        {
            self.drop_stream(&old);
        }
    }

    /// Drops the oldest other streams of the peer of `key` while its streams
    /// hold more than `max` bytes.
    fn bound_peer_bytes(&mut self, key: &(PeerId, StreamId), max: usize) {
        let peer = key.0;
        loop {
            let total: usize = self
                .streams
                .iter()
                .filter(|((p, _), _)| *p == peer)
                .map(|(_, s)| s.bytes)
                .sum();
            if total <= max {
                return;
            }
            let Some(old) = self
                .stream_order
                .iter()
                .find(|k| k.0 == peer && *k != key)
                .cloned()
            else {
                return;
            };
            self.drop_stream(&old);
        }
    }

    /// Checks a complete stream for the current height: `None` if it is not
    /// authentically from the round's proposer, otherwise the value with its
    /// validity.
    fn accept_stream(&mut self, parts: Vec<ProposalPart>) -> Option<ProposedValue<AtollContext>> {
        let (init, fin) = match (parts.first(), parts.last()) {
            (Some(ProposalPart::Init(i)), Some(ProposalPart::Fin(s))) => (i.clone(), *s),
            _ => return None,
        };
        let mut bytes = Vec::new();
        for p in parts.iter().skip(1).take(parts.len().saturating_sub(2)) {
            match p {
                ProposalPart::Data(d) => bytes.extend_from_slice(d),
                _ => return None,
            }
        }
        if init.round < 0 || init.round > i64::from(u32::MAX) || init.pol_round < -1 {
            return None;
        }
        let round = Round::from(init.round);
        let height = init.height.0;
        let set = self.sets.get(&height)?;
        if proposer_of(&self.ctx, set, height, round) != init.proposer {
            debug!(height, %round, "proposal parts from a validator that is not the proposer");
            return None;
        }
        let validator = set.get(&init.proposer)?;
        let hash = block_hash(&bytes);
        // One proposal per proposer and round: the first one seen stands. A
        // second, different one is the proposer's equivocation (Malachite
        // keeps the two signed proposals as evidence for the next block); it
        // is dropped here, neither judged nor kept.
        if let Some(first) = self
            .undecided
            .get(&(height, init.round))
            .and_then(|l| l.iter().find(|v| v.proposer == init.proposer))
        {
            if first.value == hash {
                return Some(first.clone());
            }
            warn!(
                height,
                %round,
                proposer = %init.proposer,
                first = %first.value,
                second = %hash,
                "second proposal from one proposer for one round dropped"
            );
            return None;
        }
        let commitment = BlockCommitment {
            height: init.height,
            round: init.round,
            proposer: init.proposer,
            block: hash,
        };
        let signed = atoll_types::cbor::to_vec(&commitment).ok()?;
        if validator
            .consensus_key
            .verify(&self.ctx.contexts().block, &signed, &fin)
            .is_err()
        {
            debug!(height, %round, "proposal parts with a bad signature");
            return None;
        }
        let judge = Judge {
            app: &self.app,
            contexts: self.ctx.contexts(),
            limits: self.limits,
            height,
            parent: self.parent.as_ref(),
            parent_set: self.parent.as_ref().and_then(|p| self.sets.get(&p.height)),
            set,
            state_root: self.state_root,
        };
        let view = match self.chain.latest_view() {
            Ok(v) => v,
            Err(e) => {
                warn!(height, error = %e, "cannot read the state to judge a block");
                return None;
            }
        };
        let judging = std::time::Instant::now();
        // The local clock is read here only, at vote time: whether this
        // validator votes for the block, never how a decided block applies.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let checked = judge.check(&view, &bytes, &init.proposer).and_then(|b| {
            not_too_far_ahead(b.block.time, now, self.config.max_time_drift.as_secs())
        });
        let validity = match checked {
            Ok(()) => {
                // Timing for operators only: nothing decided depends on it.
                info!(
                    height,
                    %round,
                    bytes = bytes.len(),
                    ms = judging.elapsed().as_millis(),
                    "proposal checked"
                );
                Validity::Valid
            }
            Err(e) => {
                warn!(height, %round, error = %e, "invalid block proposed");
                Validity::Invalid
            }
        };
        let value = ProposedValue {
            height: init.height,
            round,
            valid_round: Round::from(init.pol_round),
            proposer: init.proposer,
            value: hash,
            validity,
        };
        // An invalid block is neither stored nor kept: this node never
        // decides it (Tendermint decides only valid values); should the
        // others decide it, value sync brings it with its certificate.
        if validity == Validity::Valid {
            if let Err(e) = self.chain.save_candidate(height, &bytes) {
                warn!(height, error = %e, "cannot keep a proposed block");
                return None;
            }
            self.candidates
                .insert((height, hash), Candidate { bytes, parts });
        }
        self.undecided
            .entry((height, init.round))
            .or_default()
            .push(value.clone());
        Some(value)
    }

    /// The double votes in Malachite's evidence for the decided height.
    fn double_signs(
        &self,
        cert: &CommitCertificate<AtollContext>,
        evidence: &MisbehaviorEvidence<AtollContext>,
    ) -> Vec<DoubleSign> {
        let Some(set) = self.sets.get(&cert.height.0) else {
            return Vec::new();
        };
        let as_evidence = |v: &SignedVote<AtollContext>| EvidenceVote {
            value: match &v.message.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(h) => Some(*h),
            },
            signature: v.signature,
        };
        let mut out = Vec::new();
        for validator in set.validators() {
            for (a, b) in evidence.votes.get(&validator.address).into_iter().flatten() {
                if a.message.height != cert.height {
                    continue;
                }
                out.push(DoubleSign {
                    height: a.message.height,
                    round: a.message.round.as_i64(),
                    precommit: a.message.vote_type == VoteType::Precommit,
                    validator: validator.address,
                    first: as_evidence(a),
                    second: as_evidence(b),
                });
            }
        }
        out
    }

    /// The double proposals in Malachite's evidence for the decided height.
    fn double_proposals_in(
        &self,
        cert: &CommitCertificate<AtollContext>,
        evidence: &MisbehaviorEvidence<AtollContext>,
    ) -> Vec<DoubleProposal> {
        let Some(set) = self.sets.get(&cert.height.0) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for validator in set.validators() {
            for (a, b) in evidence
                .proposals
                .get(&validator.address)
                .into_iter()
                .flatten()
            {
                if a.message.height != cert.height {
                    continue;
                }
                out.push(DoubleProposal {
                    first: a.message.clone(),
                    first_signature: a.signature,
                    second: b.message.clone(),
                    second_signature: b.signature,
                });
            }
        }
        out
    }

    /// Applies the decided block.
    fn commit(&mut self, cert: &CommitCertificate<AtollContext>) -> Result<(), BftError> {
        let started = std::time::Instant::now();
        let height = cert.height.0;
        let expected = self
            .parent
            .as_ref()
            .map_or(self.initial_height, |p| p.height.saturating_add(1));
        if height != expected {
            return Err(BftError::OutOfStep(format!(
                "decided height {height}, expected {expected}"
            )));
        }
        let candidate = self
            .candidates
            .get(&(height, cert.value_id))
            .ok_or_else(|| BftError::UnknownDecidedBlock(cert.value_id.to_string(), height))?;
        let bytes = candidate.bytes.clone();
        let synced = candidate.parts.is_empty();
        let block = BftBlock::from_bytes(&bytes)
            .map_err(|e| BftError::OutOfStep(format!("decided block does not decode: {e}")))?;
        // More than two thirds of the voting power certified that this block
        // builds on `block.state_root`, the root after the parent. Ours
        // differing means this node's state diverged (a synced block applied
        // differently here, a bug, a corrupt store): going on would fork.
        if block.state_root != self.state_root {
            return Err(BftError::StateDiverged {
                height: expected.saturating_sub(1),
                ours: self.state_root.to_string(),
                certified: block.state_root.to_string(),
            });
        }
        let commit = WireCommit::from_certificate(cert);
        self.chain.save_decided(height, &bytes, &commit)?;
        let stored = StoredBlock {
            bytes,
            block,
            hash: cert.value_id,
            commit: commit.clone(),
        };
        let (stored, result, root) = self.chain.apply_stored(&self.app, height, stored)?;
        let hashes: Vec<Hash> = result.tx_results.iter().map(|r| r.hash).collect();
        self.txs.remove(&hashes);
        info!(
            height,
            txs = hashes.len(),
            hash = %cert.value_id,
            state_root = %root,
            ms = started.elapsed().as_millis(),
            "applied block"
        );
        self.parent = Some(Parent {
            height,
            hash: cert.value_id,
            time: stored.block.block.time,
        });
        self.state_root = root;
        let next_set = self.chain.validator_set(height.saturating_add(1))?;
        self.sets.insert(height.saturating_add(1), next_set);
        // Keep the sets the next block needs: its own and its parent's.
        self.sets = self.sets.split_off(&height);
        self.last_commit = Some(commit);
        self.evidence.retain(|e| e.height.0 >= height);
        self.double_proposals.retain(|e| e.first.height.0 >= height);
        self.built.retain(|(h, _), _| *h > height);
        self.candidates.retain(|(h, _), _| *h > height);
        self.undecided.retain(|(h, _), _| *h > height);
        if let Some(hook) = self.on_commit.as_mut() {
            hook(&Committed {
                block: &stored,
                result: &result,
                state_root: root,
                chain: &self.chain,
                synced,
            });
        }
        Ok(())
    }
}

fn parts_height(parts: &[ProposalPart]) -> Option<u64> {
    match parts.first() {
        Some(ProposalPart::Init(i)) => Some(i.height.0),
        _ => None,
    }
}

fn raw_decided(d: &StoredBlock) -> Result<RawDecidedValue<AtollContext>, BftError> {
    let cert = d.commit.to_certificate()?;
    Ok(RawDecidedValue::new(
        Bytes::from(d.bytes.clone()),
        ExtendedCommitCertificate {
            height: cert.height,
            round: cert.round,
            value_id: cert.value_id,
            commit_signatures: cert
                .commit_signatures
                .into_iter()
                .map(|s| ExtendedCommitSignature::new(s.address, s.signature, None))
                .collect(),
        },
    ))
}

/// Whether a block carries anything (transactions or evidence): a proposer
/// in round 0 waits for arrivals rather than propose one that does not.
fn worth_proposing(block: &BftBlock) -> bool {
    !block.block.txs.is_empty() || !block.evidence.is_empty() || !block.double_proposals.is_empty()
}

/// The target time of a height for the node at `me`. Only validators pace
/// their heights. A node outside the set only follows: pacing it too would
/// hold every height it is behind for a whole block time, so a full node
/// that fell behind (a compute node busy with a large batch) would trail by
/// that much for good.
fn paced(
    target_time: Option<Duration>,
    set: &ValidatorSet,
    me: &ValidatorAddress,
) -> Option<Duration> {
    target_time.filter(|_| set.get(me).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Validator;
    use atoll_crypto::Address;
    use atoll_crypto::ed25519::{PublicKey, SigningKey};

    fn key(i: u8) -> PublicKey {
        SigningKey::from_seed(&[i; 32]).public_key()
    }

    mod proposing {
        use super::super::*;
        use crate::chain::Chain;
        use crate::context::AtollContext;
        use atoll_consensus::genesis::StakedNode;
        use atoll_consensus::services::registry::Roles;
        use atoll_consensus::services::staking::{Transfer, methods};
        use atoll_crypto::Address;
        use atoll_crypto::ed25519::SigningKey;
        use atoll_types::signed::Signed;
        use atoll_types::transaction::{Fee, Transaction};
        use atoll_types::{Quantity, cbor};

        const BLOCK_TIME: Duration = Duration::from_secs(10);
        const PROPOSE_TIMEOUT: Duration = Duration::from_secs(60);

        fn key(i: u8) -> SigningKey {
            SigningKey::from_seed(&[i; 32])
        }

        /// One validator (keys 1-4) and a funded user (key 9).
        fn genesis() -> Genesis {
            let mut g = Genesis {
                chain_id: "atoll-bft-propose".into(),
                initial_height: 1,
                debug: true,
                ..Genesis::default()
            };
            g.add_staked_node(StakedNode {
                entity: key(1).public_key(),
                stake: Quantity(1_000),
                node: key(2).public_key(),
                consensus: key(3).public_key(),
                p2p: key(4).public_key(),
                vrf: None,
                roles: Roles::VALIDATOR,
                runtimes: vec![],
                expiration: 1_000,
            });
            g.fund(Address::from_ed25519(&key(9).public_key()), Quantity(1_000));
            g
        }

        fn host(dir: &std::path::Path, queue: MemQueue) -> Host<MemQueue> {
            let g = genesis();
            let app = App::new(&g).unwrap();
            let chain = Chain::open(dir, &app, &g).unwrap();
            let ctx = AtollContext::new(app.chain_context()).unwrap();
            let signer = AtollSigner::new(&ctx, key(3));
            let config = HostConfig {
                block_time: Some(BLOCK_TIME),
                ..HostConfig::default()
            };
            Host::with_app(app, &g, chain, signer, queue, config).unwrap()
        }

        fn transfer(host: &Host<MemQueue>) -> Vec<u8> {
            let tx = Transaction {
                nonce: 0,
                fee: Some(Fee {
                    amount: Quantity(0),
                    gas: 10_000,
                }),
                method: methods::TRANSFER.into(),
                body: Some(
                    cbor::to_value(&Transfer {
                        to: Address::from_ed25519(&key(1).public_key()),
                        amount: Quantity(1),
                    })
                    .unwrap(),
                ),
            };
            cbor::to_vec(&Signed::sign(&key(9), host.app.tx_context(), &tx).unwrap()).unwrap()
        }

        fn proposed(host: &Host<MemQueue>, hash: &BlockHash) -> BftBlock {
            let c = host.candidates.get(&(1, *hash)).unwrap();
            BftBlock::from_bytes(&c.bytes).unwrap()
        }

        // The clock is tokio's paused clock: it moves only when every task
        // waits, straight to the next timer, so these durations are exact.

        #[tokio::test(start_paused = true)]
        async fn an_idle_proposer_proposes_what_arrives_at_once() {
            let dir = tempfile::tempdir().unwrap();
            let queue = MemQueue::new();
            let mut host = host(dir.path(), queue.clone());
            let raw = transfer(&host);
            let start = tokio::time::Instant::now();
            host.round_started = start;
            let late = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                queue.push(raw);
            });
            let hash = host
                .propose(1, Round::new(0), PROPOSE_TIMEOUT)
                .await
                .unwrap();
            late.await.unwrap();
            assert_eq!(proposed(&host, &hash).block.txs.len(), 1);
            // Woken by the arrival, not by the end of the block time.
            assert_eq!(start.elapsed(), Duration::from_secs(3));
            assert_eq!(host.built.get(&(1, 0)), Some(&hash));
        }

        #[tokio::test(start_paused = true)]
        async fn with_nothing_to_propose_it_waits_one_block_time_then_proposes_empty() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path(), MemQueue::new());
            let start = tokio::time::Instant::now();
            host.round_started = start;
            let hash = host
                .propose(1, Round::new(0), PROPOSE_TIMEOUT)
                .await
                .unwrap();
            assert!(proposed(&host, &hash).block.txs.is_empty());
            assert_eq!(start.elapsed(), BLOCK_TIME);
        }

        #[tokio::test(start_paused = true)]
        async fn the_wait_is_bounded_by_the_propose_timeout_and_skipped_after_round_0() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path(), MemQueue::new());
            let start = tokio::time::Instant::now();
            host.round_started = start;
            host.propose(1, Round::new(0), Duration::from_secs(4))
                .await
                .unwrap();
            assert_eq!(start.elapsed(), Duration::from_secs(2));
            let start = tokio::time::Instant::now();
            host.round_started = start;
            host.propose(1, Round::new(1), PROPOSE_TIMEOUT)
                .await
                .unwrap();
            assert_eq!(start.elapsed(), Duration::ZERO);
        }
    }

    /// Proposal streams as hostile peers send them, into a real host.
    mod streams {
        use super::super::*;
        use crate::chain::Chain;
        use crate::context::AtollContext;
        use atoll_consensus::genesis::StakedNode;
        use atoll_consensus::services::registry::Roles;
        use atoll_crypto::ed25519::SigningKey;
        use atoll_types::Quantity;
        use malachitebft_app_channel::app::types::core::CommitCertificate;

        fn key(i: u8) -> SigningKey {
            SigningKey::from_seed(&[i; 32])
        }

        fn genesis() -> Genesis {
            let mut g = Genesis {
                chain_id: "atoll-bft-streams".into(),
                initial_height: 1,
                debug: true,
                ..Genesis::default()
            };
            g.add_staked_node(StakedNode {
                entity: key(1).public_key(),
                stake: Quantity(1_000),
                node: key(2).public_key(),
                consensus: key(3).public_key(),
                p2p: key(4).public_key(),
                vrf: None,
                roles: Roles::VALIDATOR,
                runtimes: vec![],
                expiration: 1_000,
            });
            g
        }

        /// The host of the only validator; the blocks it judges are signed
        /// with that validator's key, as if streamed by its other self.
        fn host(dir: &std::path::Path) -> Host<MemQueue> {
            let g = genesis();
            let app = App::new(&g).unwrap();
            let chain = Chain::open(dir, &app, &g).unwrap();
            let ctx = AtollContext::new(app.chain_context()).unwrap();
            let signer = AtollSigner::new(&ctx, key(3));
            let config = HostConfig {
                part_size: 1024,
                ..HostConfig::default()
            };
            let mut host = Host::with_app(app, &g, chain, signer, MemQueue::new(), config).unwrap();
            host.height = 1;
            host
        }

        fn peer(i: u8) -> PeerId {
            PeerId::from_bytes(&[0, 4, i, i, i, i]).unwrap()
        }

        fn now() -> u64 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        }

        /// The signed parts of `block` for `(1, round)`.
        fn parts(host: &Host<MemQueue>, round: u32, block: &BftBlock) -> Vec<ProposalPart> {
            let bytes = block.to_bytes().unwrap();
            host.parts_for(1, Round::new(round), &bytes, block_hash(&bytes))
                .unwrap()
        }

        fn messages(stream: u8, parts: Vec<ProposalPart>) -> Vec<StreamMessage<ProposalPart>> {
            let id = StreamId::new(Bytes::from(vec![stream]));
            let n = parts.len() as u64;
            let mut out: Vec<_> = parts
                .into_iter()
                .enumerate()
                .map(|(i, p)| StreamMessage::new(id.clone(), i as u64, StreamContent::Data(p)))
                .collect();
            out.push(StreamMessage::new(id, n, StreamContent::Fin));
            out
        }

        /// Sends a whole stream; the value it yields at the end, if any.
        fn send(
            host: &mut Host<MemQueue>,
            from: PeerId,
            msgs: Vec<StreamMessage<ProposalPart>>,
        ) -> Option<ProposedValue<AtollContext>> {
            let mut last = None;
            for m in msgs {
                last = host.receive_part(from, m);
            }
            last
        }

        /// Streams `block`, signed for `(1, round)`, as stream `stream`.
        fn send_block(
            host: &mut Host<MemQueue>,
            from: PeerId,
            stream: u8,
            round: u32,
            block: &BftBlock,
        ) -> Option<ProposedValue<AtollContext>> {
            let ps = parts(host, round, block);
            send(host, from, messages(stream, ps))
        }

        fn block(host: &mut Host<MemQueue>, time: u64) -> BftBlock {
            let mut b = host.build(1).unwrap();
            b.block.time = time;
            b
        }

        #[test]
        fn a_second_different_proposal_for_a_round_is_dropped() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path());
            let t = now();
            let first = block(&mut host, t);
            let second = block(&mut host, t + 1);
            let first_parts = parts(&host, 0, &first);
            let v = send(&mut host, peer(1), messages(1, first_parts.clone())).unwrap();
            assert_eq!(v.validity, Validity::Valid);
            assert_eq!(v.value, block_hash(&first.to_bytes().unwrap()));
            // The equivocating second block: not judged, not kept.
            let second_parts = parts(&host, 0, &second);
            assert!(send(&mut host, peer(1), messages(2, second_parts.clone())).is_none());
            assert!(send(&mut host, peer(2), messages(3, second_parts)).is_none());
            assert_eq!(host.candidates.len(), 1);
            assert_eq!(host.undecided.get(&(1, 0)).map(Vec::len), Some(1));
            // The same proposal again (restreamed) is the same value.
            let again = send(&mut host, peer(3), messages(4, first_parts)).unwrap();
            assert_eq!(again, v);
            // Another round is another slot.
            let r1 = send_block(&mut host, peer(1), 5, 1, &second).unwrap();
            assert_eq!(r1.validity, Validity::Valid);
            assert_eq!(host.candidates.len(), 2);
        }

        #[test]
        fn an_invalid_block_is_neither_stored_nor_kept() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path());
            let mut bad = block(&mut host, now());
            bad.state_root = Hash::digest(b"another state");
            let v = send_block(&mut host, peer(1), 1, 0, &bad).unwrap();
            assert_eq!(v.validity, Validity::Invalid);
            assert!(host.candidates.is_empty());
            assert!(host.chain.candidates().unwrap().is_empty());
            // Its verdict is remembered (a restarted round needs it), and a
            // valid second block from the same proposer is still dropped.
            assert_eq!(host.undecided.get(&(1, 0)).map(Vec::len), Some(1));
            let good = block(&mut host, now());
            assert!(send_block(&mut host, peer(1), 2, 0, &good).is_none());
        }

        #[test]
        fn a_block_dated_beyond_the_drift_bound_gets_a_nil_vote() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path());
            let drift = host.config.max_time_drift.as_secs();
            let far = block(&mut host, now() + 100 * 365 * 24 * 3600);
            let v = send_block(&mut host, peer(1), 1, 0, &far).unwrap();
            assert_eq!(v.validity, Validity::Invalid);
            assert!(host.candidates.is_empty());
            let beyond = block(&mut host, now() + drift + 60);
            let v = send_block(&mut host, peer(1), 2, 1, &beyond).unwrap();
            assert_eq!(v.validity, Validity::Invalid);
            // Within the bound (the clock may move on meanwhile: only later).
            let near = block(&mut host, now() + drift / 2);
            let v = send_block(&mut host, peer(1), 3, 2, &near).unwrap();
            assert_eq!(v.validity, Validity::Valid);
            assert_eq!(
                not_too_far_ahead(100 + drift + 1, 100, drift),
                Err(crate::block::InvalidBlock::FutureTime {
                    got: 100 + drift + 1,
                    now: 100,
                    max_drift: drift
                })
            );
            assert_eq!(not_too_far_ahead(100 + drift, 100, drift), Ok(()));
        }

        #[test]
        fn a_flooding_peer_cannot_evict_the_proposers_stream() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path());
            // A block of several parts, so its stream stays open a while.
            let b = block(&mut host, now());
            let honest = messages(1, parts(&host, 0, &b));
            let (head, tail) = honest.split_at(2);
            for m in head.iter().cloned() {
                assert!(host.receive_part(peer(1), m).is_none());
            }
            // One peer opens many streams, each with an Init and a big part.
            let garbage = ProposalPart::Data(vec![7; 60_000]);
            let init = ProposalPart::Init(PartInit {
                height: Height(1),
                round: 0,
                pol_round: -1,
                proposer: host.address,
            });
            for i in 0..2_000u32 {
                let id = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
                host.receive_part(
                    peer(9),
                    StreamMessage::new(id.clone(), 0, StreamContent::Data(init.clone())),
                );
                host.receive_part(
                    peer(9),
                    StreamMessage::new(id, 1, StreamContent::Data(garbage.clone())),
                );
                let held = host.streams.keys().filter(|(p, _)| *p == peer(9)).count();
                assert!(held <= MAX_STREAMS_PER_PEER, "{held} streams held");
            }
            // Many peers (fewer than the global cap), a few streams each:
            // the global cap evicts from the biggest holders, never the
            // one stream of the proposer's peer.
            for p in 10..(10 + MAX_STREAMS as u8 - 4) {
                for i in 0..MAX_STREAMS_PER_PEER as u8 {
                    let id = StreamId::new(Bytes::from(vec![p, i]));
                    host.receive_part(
                        peer(p),
                        StreamMessage::new(id, 0, StreamContent::Data(init.clone())),
                    );
                }
            }
            assert!(host.streams.len() <= MAX_STREAMS);
            let mut last = None;
            for m in tail.iter().cloned() {
                last = host.receive_part(peer(1), m);
            }
            let v = last.expect("the proposer's stream completed");
            assert_eq!(v.validity, Validity::Valid);
        }

        #[test]
        fn streams_outside_the_height_window_are_dropped() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path());
            for (i, h) in [0u64, 1 + FUTURE_HEIGHTS + 1, u64::MAX]
                .into_iter()
                .enumerate()
            {
                let init = ProposalPart::Init(PartInit {
                    height: Height(h),
                    round: 0,
                    pol_round: -1,
                    proposer: host.address,
                });
                let id = StreamId::new(Bytes::from(vec![i as u8]));
                host.receive_part(
                    peer(1),
                    StreamMessage::new(id, 0, StreamContent::Data(init)),
                );
            }
            assert!(host.streams.is_empty());
            // A near-future height is held until it starts, a few per peer.
            for i in 0..10u8 {
                let mut b = block(&mut host, now());
                b.block.height = 2;
                let bytes = b.to_bytes().unwrap();
                let mut ps = host
                    .parts_for(2, Round::new(u32::from(i)), &bytes, block_hash(&bytes))
                    .unwrap();
                if let Some(ProposalPart::Init(init)) = ps.first_mut() {
                    init.height = Height(2);
                }
                assert!(send(&mut host, peer(1), messages(i, ps)).is_none());
            }
            assert_eq!(host.pending.len(), MAX_PENDING_PER_PEER);
        }

        #[test]
        fn a_certified_block_on_another_state_root_stops_the_node() {
            let dir = tempfile::tempdir().unwrap();
            let mut host = host(dir.path());
            let mut b = block(&mut host, now());
            b.state_root = Hash::digest(b"the network's root");
            let bytes = b.to_bytes().unwrap();
            let hash = block_hash(&bytes);
            // As value sync hands it over (its certificate checked by the
            // engine): kept in memory, not stored.
            host.candidates.insert(
                (1, hash),
                Candidate {
                    bytes,
                    parts: Vec::new(),
                },
            );
            let cert = CommitCertificate::new(Height(1), Round::new(0), hash, Vec::new());
            let err = host.commit(&cert).unwrap_err();
            assert!(
                matches!(err, BftError::StateDiverged { height: 0, .. }),
                "{err}"
            );
            assert!(err.to_string().contains("state diverged"));
            assert_eq!(host.chain.last_height().unwrap(), None);
            // The block on the node's own root applies.
            let good = block(&mut host, now());
            let bytes = good.to_bytes().unwrap();
            let hash = block_hash(&bytes);
            host.candidates.insert(
                (1, hash),
                Candidate {
                    bytes,
                    parts: Vec::new(),
                },
            );
            let cert = CommitCertificate::new(Height(1), Round::new(0), hash, Vec::new());
            host.commit(&cert).unwrap();
            assert_eq!(host.chain.last_height().unwrap(), Some(1));
        }
    }

    #[test]
    fn only_validators_pace_their_heights() {
        let validator = key(1);
        let set = ValidatorSet::new(vec![Validator {
            address: ValidatorAddress::from_key(&validator),
            consensus_key: validator,
            node_id: key(2),
            entity: Address::from_ed25519(&key(3)),
            voting_power: 10,
        }])
        .unwrap();
        let target = Some(Duration::from_millis(100));
        let me = ValidatorAddress::from_key(&validator);
        let follower = ValidatorAddress::from_key(&key(4));
        assert_eq!(paced(target, &set, &me), target);
        assert_eq!(paced(target, &set, &follower), None);
        assert_eq!(paced(None, &set, &me), None);
    }
}

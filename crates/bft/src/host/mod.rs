//! The application side of Malachite: answers every `AppMsg` by building,
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
//!
//! The parts: `dispatch` answers each message; `propose` builds, paces and
//! streams this node's block; `stream` reassembles and judges the others'
//! streams within their bounds; `evidence` turns Malachite's misbehaviour
//! reports into the next block's evidence; `commit` applies a decided block
//! ([`Committed`]); `source` and `config` hold the [`TxSource`] and the
//! [`HostConfig`].

use std::collections::{BTreeMap, VecDeque};

use atoll_consensus::app::App;
use atoll_consensus::genesis::Genesis;
use atoll_crypto::Hash;
use malachitebft_app_channel::app::engine::host::HeightParams;
use malachitebft_app_channel::app::streaming::StreamId;
use malachitebft_app_channel::app::types::core::Round;
use malachitebft_app_channel::app::types::{PeerId, ProposedValue};
use tracing::info;

use crate::block::{DoubleProposal, DoubleSign, Limits, Parent, block_hash};
use crate::chain::Chain;
use crate::codec::WireCommit;
use crate::context::{AtollContext, BlockHash, ProposalPart, ValidatorAddress, ValidatorSet};
use crate::error::BftError;
use crate::signing::AtollSigner;

mod commit;
mod config;
mod dispatch;
mod evidence;
mod propose;
mod source;
mod stream;
#[cfg(test)]
mod tests;

pub use commit::{CommitHook, Committed};
pub use config::{ByzantineProposer, DEFAULT_MAX_TIME_DRIFT, HostConfig};
use propose::paced;
pub use source::{MemQueue, TxSource};
use stream::PartialStream;
pub use stream::{
    FUTURE_HEIGHTS, MAX_PENDING_PER_PEER, MAX_STREAMS, MAX_STREAMS_PER_PEER, MAX_SYNCED_PER_HEIGHT,
};

/// A block this node has (built, received or synced) but not yet decided.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) bytes: Vec<u8>,
    pub(super) parts: Vec<ProposalPart>,
}

/// The consensus application of one validator.
pub struct Host<T: TxSource> {
    pub(super) app: App,
    pub(super) ctx: AtollContext,
    pub(super) signer: AtollSigner,
    pub(super) address: ValidatorAddress,
    pub(super) chain: Chain,
    /// The state root after the parent.
    pub(super) state_root: Hash,
    pub(super) txs: T,
    pub(super) config: HostConfig,
    pub(super) limits: Limits,
    pub(super) initial_height: u64,
    pub(super) height: u64,
    pub(super) round: Round,
    /// When the current round started (`StartedRound`).
    pub(super) round_started: tokio::time::Instant,
    pub(super) parent: Option<Parent>,
    pub(super) sets: BTreeMap<u64, ValidatorSet>,
    pub(super) last_commit: Option<WireCommit>,
    /// Our own blocks, by (height, round).
    pub(super) built: BTreeMap<(u64, i64), BlockHash>,
    /// Blocks known for a height, by hash.
    pub(super) candidates: BTreeMap<(u64, BlockHash), Candidate>,
    /// Values to hand back on `StartedRound`, by (height, round).
    pub(super) undecided: BTreeMap<(u64, i64), Vec<ProposedValue<AtollContext>>>,
    /// Complete streams for future heights, checked when the height starts,
    /// with the peer that sent each.
    pub(super) pending: Vec<(PeerId, Vec<ProposalPart>)>,
    pub(super) streams: BTreeMap<(PeerId, StreamId), PartialStream>,
    pub(super) stream_order: VecDeque<(PeerId, StreamId)>,
    pub(super) stream_nonce: u64,
    /// Double votes seen at the last decided height, for the next block.
    pub(super) evidence: Vec<DoubleSign>,
    /// Double proposals seen at the last decided height, likewise.
    pub(super) double_proposals: Vec<DoubleProposal>,
    pub(super) on_commit: Option<CommitHook>,
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

    pub(super) fn params(&self, height: u64) -> Result<HeightParams<AtollContext>, BftError> {
        let set =
            self.sets.get(&height).cloned().ok_or_else(|| {
                BftError::OutOfStep(format!("no validator set for height {height}"))
            })?;
        let target_time = paced(self.config.min_block_time, &set, &self.address);
        Ok(HeightParams::new(set, self.config.timeouts, target_time))
    }
}

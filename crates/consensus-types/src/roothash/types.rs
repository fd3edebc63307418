//! Roothash types: runtime blocks, executor commitments, runtime messages.

use std::collections::BTreeMap;

use atoll_crypto::ed25519::{PublicKey, Signature};
use atoll_crypto::{Address, Hash};
use atoll_types::Namespace;
use serde::{Deserialize, Serialize};

use crate::staking;

/// Kinds of runtime block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderType {
    /// A round the committee agreed on.
    Normal,
    /// A round that failed (no agreement, or timed out): state unchanged.
    RoundFailed,
    /// The committee changed at an epoch boundary; a pending round was dropped.
    EpochTransition,
}

/// A runtime block header: one per runtime round, recorded by consensus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// The runtime.
    pub namespace: Namespace,
    /// The round.
    pub round: u64,
    /// Consensus block time when it was recorded (seconds).
    pub timestamp: u64,
    /// Kind.
    pub header_type: HeaderType,
    /// Hash of the previous runtime block header.
    pub previous_hash: Hash,
    /// Root of the round's inputs, outputs and events.
    pub io_root: Hash,
    /// Root of the runtime's state after the round.
    pub state_root: Hash,
    /// Hash of the messages the round emitted to consensus.
    pub messages_hash: Hash,
}

impl BlockHeader {
    /// The header's hash (SHA-512/256 of its canonical CBOR).
    pub fn hash(&self) -> Hash {
        // A header of fixed-size fields always encodes.
        atoll_types::cbor::to_vec(self)
            .map(|b| Hash::digest(&b))
            .unwrap_or_default()
    }
}

/// What a worker computed for a round.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComputeResults {
    /// The round computed.
    pub round: u64,
    /// The block it builds on.
    pub previous_hash: Hash,
    /// Resulting I/O root.
    pub io_root: Hash,
    /// Resulting state root.
    pub state_root: Hash,
    /// Hash of the messages emitted.
    pub messages_hash: Hash,
}

/// A worker's vote: results, or a declared failure to compute them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    /// The results.
    Results(ComputeResults),
    /// The worker could not execute the batch (e.g. it was invalid).
    Failure {
        /// The round.
        round: u64,
    },
}

impl Vote {
    /// The round voted on.
    pub fn round(&self) -> u64 {
        match self {
            Self::Results(r) => r.round,
            Self::Failure { round } => *round,
        }
    }
}

/// The signed part of an executor commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitmentHeader {
    /// The runtime.
    pub runtime: Namespace,
    /// The worker that proposed the batch executed (the round's scheduler).
    pub scheduler_id: PublicKey,
    /// The vote.
    pub vote: Vote,
}

/// An executor commitment: a committee member's signed vote for a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorCommitment {
    /// The committing node.
    pub node_id: PublicKey,
    /// What it commits to.
    pub header: CommitmentHeader,
    /// The node's signature over the canonical CBOR of `header`.
    pub signature: Signature,
    /// Messages to consensus; only the scheduler's commitment may carry them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
}

/// A message a runtime sends to the consensus layer, executed as the
/// runtime's own staking account when its round finalizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// `staking.Transfer` from the runtime's account.
    Transfer(staking::Transfer),
    /// `staking.Withdraw` into the runtime's account (uses an allowance).
    Withdraw(staking::Withdraw),
    /// `staking.AddEscrow` from the runtime's account.
    AddEscrow(staking::Escrow),
    /// `staking.ReclaimEscrow` to the runtime's account.
    ReclaimEscrow(staking::ReclaimEscrow),
}

/// The hash of a list of messages, as committed in `messages_hash`.
pub fn messages_hash(messages: &[Message]) -> Hash {
    if messages.is_empty() {
        return Hash::empty();
    }
    atoll_types::cbor::to_vec(messages)
        .map(|b| Hash::digest(&b))
        .unwrap_or_default()
}

/// What became of one runtime message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageResult {
    /// Its position in the round's messages.
    pub index: u32,
    /// Empty on success, else the failing module.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module: String,
    /// 0 on success, else the error code.
    #[serde(default)]
    pub code: u32,
    /// What a successful escrow message produced (the runtime needs it to
    /// account for its users' shares); absent for other messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<MessageOutcome>,
}

/// What a successful escrow message produced on the consensus layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageOutcome {
    /// `AddEscrow`: the shares the runtime's account received.
    AddEscrow {
        /// Shares minted for the amount.
        new_shares: atoll_types::Quantity,
    },
    /// `ReclaimEscrow`: the debonding the runtime's account started.
    ReclaimEscrow {
        /// Tokens now debonding.
        amount: atoll_types::Quantity,
        /// Shares of the escrow's debonding pool.
        debonding_shares: atoll_types::Quantity,
        /// The epoch at which the tokens return to the runtime's account.
        debond_end: atoll_types::Epoch,
    },
}

/// Body of `roothash.ExecutorCommit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorCommit {
    /// The runtime.
    pub id: Namespace,
    /// Commitments (from one or more members).
    pub commits: Vec<ExecutorCommitment>,
}

/// Body of `roothash.Evidence`: two different commitments one node signed
/// for the same round and the same scheduler's batch (runtime
/// equivocation). The commitments go without their messages (only the
/// signed headers matter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The runtime.
    pub id: Namespace,
    /// First commitment.
    pub commit_a: ExecutorCommitment,
    /// Second commitment.
    pub commit_b: ExecutorCommitment,
}

/// A round in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundState {
    /// Commitments of workers, in node-key order.
    pub commitments: Vec<ExecutorCommitment>,
    /// Commitments of backup workers after a discrepancy, in node-key
    /// order. Kept apart because a node may hold both roles (when there are
    /// too few nodes for disjoint groups) and then votes once in each phase.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup_commitments: Vec<ExecutorCommitment>,
    /// Whether the workers disagreed (backups now decide).
    pub discrepancy: bool,
    /// The consensus height at which the current phase times out.
    pub timeout_height: u64,
}

/// A runtime's state in the roothash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeState {
    /// The latest runtime block.
    pub last_block: BlockHeader,
    /// The consensus height it was recorded at.
    pub last_block_height: u64,
    /// The round in progress, if any commitment arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<RoundState>,
    /// Results of the messages of the last normal round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub last_message_results: Vec<MessageResult>,
}

/// What consensus remembers of a past runtime round: enough to check state
/// (a storage checkpoint, a round record) handed over by an untrusted peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastRoot {
    /// Hash of the round's block header.
    pub header_hash: Hash,
    /// The runtime's state root after the round.
    pub state_root: Hash,
    /// The round's I/O root.
    pub io_root: Hash,
}

impl PastRoot {
    /// The past root of a header.
    pub fn of(header: &BlockHeader) -> Self {
        Self {
            header_hash: header.hash(),
            state_root: header.state_root,
            io_root: header.io_root,
        }
    }
}

/// Default of [`Parameters::max_past_roots_stored`] (Oasis's default).
pub const DEFAULT_MAX_PAST_ROOTS_STORED: u64 = 1200;

fn default_max_past_roots_stored() -> u64 {
    DEFAULT_MAX_PAST_ROOTS_STORED
}

/// Default of [`Parameters::max_evidence_age`], in runtime rounds (the value
/// Oasis Mainnet runs with).
pub const DEFAULT_MAX_EVIDENCE_AGE: u64 = 100;

fn default_max_evidence_age() -> u64 {
    DEFAULT_MAX_EVIDENCE_AGE
}

/// Roothash parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Gas of `roothash.ExecutorCommit` per commitment.
    pub gas_per_commitment: u64,
    /// Gas of `roothash.Evidence`.
    pub gas_evidence: u64,
    /// How many of each runtime's most recent rounds keep a [`PastRoot`]
    /// (0: none).
    #[serde(default = "default_max_past_roots_stored")]
    pub max_past_roots_stored: u64,
    /// How many runtime rounds back `roothash.Evidence` may reach: evidence
    /// about round `r` is refused once the runtime's latest round is past
    /// `r + max_evidence_age`, and what is kept to refuse a replay is
    /// forgotten then (as oasis-core's `max_evidence_age`).
    #[serde(default = "default_max_evidence_age")]
    pub max_evidence_age: u64,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            gas_per_commitment: 1000,
            gas_evidence: 5000,
            max_past_roots_stored: DEFAULT_MAX_PAST_ROOTS_STORED,
            max_evidence_age: DEFAULT_MAX_EVIDENCE_AGE,
        }
    }
}

/// One worker's record in a runtime's committee during the current epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLiveness {
    /// Rounds decided (finalized or failed) while it was a worker.
    pub rounds: u64,
    /// Rounds whose finalized results it had committed to.
    pub live_rounds: u64,
    /// Rounds it was the scheduler of the finalized batch.
    pub finalized_proposals: u64,
    /// Rounds it was to propose (ranked ahead of the scheduler that won,
    /// or the first-ranked of a failed round) and did not.
    pub missed_proposals: u64,
}

/// A runtime's liveness statistics for the current epoch (reset at each
/// epoch change, after they are judged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LivenessStatistics {
    /// Rounds decided in the epoch (normal and failed).
    pub total_rounds: u64,
    /// Each worker's record, by node.
    #[serde(default)]
    pub nodes: BTreeMap<PublicKey, NodeLiveness>,
}

/// What the last normal round of a runtime did, for operators and for the
/// runtime's fee disbursement: the entities whose nodes committed the
/// finalized results and those whose nodes committed other results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundResults {
    /// The round.
    pub round: u64,
    /// Entities of the workers that committed the finalized results, in
    /// address order.
    #[serde(default)]
    pub good_compute_entities: Vec<Address>,
    /// Entities of the members that committed results that differed.
    #[serde(default)]
    pub bad_compute_entities: Vec<Address>,
    /// The nodes behind `good_compute_entities`, in key order.
    #[serde(default)]
    pub good_compute_nodes: Vec<PublicKey>,
    /// The nodes behind `bad_compute_entities`, in key order.
    #[serde(default)]
    pub bad_compute_nodes: Vec<PublicKey>,
    /// Results of the round's messages.
    #[serde(default)]
    pub messages: Vec<MessageResult>,
}

/// Roothash events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A runtime block was recorded.
    Finalized {
        /// The runtime.
        runtime: Namespace,
        /// The new block's round.
        round: u64,
        /// Its kind.
        header_type: HeaderType,
    },
    /// Workers disagreed; backups will decide.
    DiscrepancyDetected {
        /// The runtime.
        runtime: Namespace,
        /// The round.
        round: u64,
    },
    /// A worker failed the epoch's liveness check: frozen until
    /// `frozen_until`, and slashed once its failures reached the runtime's
    /// `max_liveness_fails`.
    LivenessFailure {
        /// The runtime.
        runtime: Namespace,
        /// The node.
        node: PublicKey,
        /// Its liveness failures so far (net of live epochs).
        faults: u64,
        /// The epoch from which it may be elected again.
        frozen_until: u64,
        /// Whether it was slashed for `runtime-liveness`.
        slashed: bool,
    },
    /// A runtime message was executed.
    Message {
        /// The runtime.
        runtime: Namespace,
        /// The result.
        result: MessageResult,
    },
}

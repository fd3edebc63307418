//! The module's call bodies, query arguments, records and events.

use atoll_crypto::Address;
use atoll_measure::{Metric, TaskId};
use atoll_types::Quantity;
use serde::{Deserialize, Serialize};

/// A facilitator of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facilitator {
    /// The runtime account it signs its commitments with.
    pub address: Address,
    /// The HPKE public key clients seal its shares to.
    #[serde(with = "serde_bytes")]
    pub hpke_key: [u8; 32],
    /// Where input parties reach it (`host:port`), for the record.
    pub endpoint: String,
}

/// Optional differential-privacy noise: the binomial mechanism's number of
/// fair coins per released value (added inside the computation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noise {
    /// Coins per released value; the noise is `Binomial(n, 1/2) - n/2`.
    pub binomial_trials: u32,
}

/// The body of `measurement.CreateTask`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTask {
    /// A short human label.
    pub label: String,
    /// What is measured.
    pub metric: Metric,
    /// The facilitators, in share order.
    pub facilitators: Vec<Facilitator>,
    /// The input parties allowed to commit batches.
    pub input_parties: Vec<Address>,
    /// Groups (or buckets) with fewer reports are suppressed from the result.
    pub min_group_size: u64,
    /// Optional noise.
    #[serde(default)]
    pub noise: Option<Noise>,
    /// The last round in which batches are accepted.
    pub deadline_round: u64,
    /// Rounds after the deadline the facilitators have to commit and reveal.
    pub grace_rounds: u64,
}

/// An input party's commitment to one batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCommitment {
    /// The input party.
    pub party: Address,
    /// [`atoll_measure::commitment::batch_digest`] of its report ids.
    #[serde(with = "serde_bytes")]
    pub digest: [u8; 32],
    /// How many reports.
    pub report_count: u64,
    /// The round it was committed in.
    pub round: u64,
}

/// The body of `measurement.CommitBatch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitBatch {
    /// The task.
    pub task: TaskId,
    /// The batch digest.
    #[serde(with = "serde_bytes")]
    pub digest: [u8; 32],
    /// How many reports.
    pub report_count: u64,
}

/// A facilitator's commitment to its aggregate share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareCommitment {
    /// The digest of the report ids it aggregated (and refused).
    #[serde(with = "serde_bytes")]
    pub batch_digest: [u8; 32],
    /// How many reports its share sums.
    pub report_count: u64,
    /// [`atoll_measure::commitment::share_commitment`] of its share.
    #[serde(with = "serde_bytes")]
    pub commitment: [u8; 32],
    /// The round it was committed in.
    pub round: u64,
    /// Whether the share was revealed and matched.
    pub revealed: bool,
}

/// The body of `measurement.CommitShare`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitShare {
    /// The task.
    pub task: TaskId,
    /// The batch digest.
    #[serde(with = "serde_bytes")]
    pub batch_digest: [u8; 32],
    /// How many reports its share sums.
    pub report_count: u64,
    /// The share commitment.
    #[serde(with = "serde_bytes")]
    pub commitment: [u8; 32],
}

/// The body of `measurement.RevealShare`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealShare {
    /// The task.
    pub task: TaskId,
    /// The encoded aggregate share.
    #[serde(with = "serde_bytes")]
    pub share: Vec<u8>,
}

/// The body of `measurement.Close` and the argument of `measurement.Task`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    /// The task.
    pub task: TaskId,
}

/// Where a task stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepting batches, then commitments and reveals.
    Open,
    /// The result, combined from every facilitator's revealed share.
    Published {
        /// One entry per bucket or vector entry; suppressed entries are absent from `suppressed`'s complement.
        result: Vec<Quantity>,
        /// Indices of entries below the minimum group size, reported as zero.
        suppressed: Vec<u32>,
        /// Reports aggregated.
        report_count: u64,
        /// [`atoll_measure::commitment::result_digest`] of the unsuppressed result.
        #[serde(with = "serde_bytes")]
        digest: [u8; 32],
        /// The round it was published in.
        round: u64,
    },
    /// The measurement failed; `culprits` are the facilitators to blame.
    Failed {
        /// Why.
        reason: String,
        /// The facilitators named.
        culprits: Vec<Address>,
        /// The round it failed in.
        round: u64,
    },
}

/// A task as the chain records it (the answer of `measurement.Task`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// Who registered it.
    pub creator: Address,
    /// The round it was registered in.
    pub created_round: u64,
    /// What it was registered with.
    pub spec: CreateTask,
    /// The input parties' batch commitments, in order of arrival.
    pub batches: Vec<BatchCommitment>,
    /// Each facilitator's share commitment, in facilitator order.
    pub commitments: Vec<Option<ShareCommitment>>,
    /// Where it stands.
    pub status: Status,
}

/// Event codes of `measurement`.
pub mod events {
    /// A task was registered: [`TaskEvent`](super::TaskEvent).
    pub const TASK_CREATED: u32 = 1;
    /// An input party committed a batch.
    pub const BATCH_COMMITTED: u32 = 2;
    /// A facilitator committed its share.
    pub const SHARE_COMMITTED: u32 = 3;
    /// A facilitator revealed its share.
    pub const SHARE_REVEALED: u32 = 4;
    /// The result was published.
    pub const PUBLISHED: u32 = 5;
    /// The task failed, naming the culprits.
    pub const FAILED: u32 = 6;
}

/// The body of every `measurement` event: the task and who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The task.
    pub task: TaskId,
    /// The sender of the transaction.
    pub by: Address,
}

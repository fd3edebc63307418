//! The module's decisions: pure functions of a task record, the sender and
//! the round. No state access; the module stores what they return.

use std::collections::BTreeMap;

use atoll_crypto::Address;
use atoll_measure::{AggregateShare, TaskId, commitment};
use atoll_types::Quantity;
use sha2::{Digest, Sha256};

use crate::types::{
    BatchCommitment, CommitBatch, CommitShare, CreateTask, ShareCommitment, Status, Task,
};

/// The longest task label, in bytes.
pub const MAX_LABEL_LEN: usize = 64;
/// The longest facilitator endpoint, in bytes.
pub const MAX_ENDPOINT_LEN: usize = 128;
/// The most input parties a task may name.
pub const MAX_INPUT_PARTIES: usize = 16;
/// The most batch commitments a task holds.
pub const MAX_BATCHES: usize = 256;
/// The longest grace period, in rounds.
pub const MAX_GRACE_ROUNDS: u64 = 1_000_000;
/// The furthest a deadline may lie ahead, in rounds.
pub const MAX_DEADLINE_AHEAD: u64 = 10_000_000;

/// Why a `measurement` call is refused (nothing changes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasurementError {
    /// An argument is out of range or inconsistent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No task has this id.
    #[error("no such task")]
    NotFound,
    /// The sender has no role in the task that allows the call.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The task is not in the phase the call belongs to.
    #[error("wrong phase: {0}")]
    WrongPhase(&'static str),
    /// The sender already did this.
    #[error("already done: {0}")]
    AlreadyDone(&'static str),
    /// The task holds as many batches as it may.
    #[error("too many batches")]
    TooManyBatches,
}

/// The id of the `counter`-th task.
pub fn task_id(counter: u64) -> TaskId {
    let mut h = Sha256::new();
    h.update(b"atoll-measure/v1 task");
    h.update(counter.to_be_bytes());
    TaskId(h.finalize().into())
}

fn invalid(why: impl Into<String>) -> MeasurementError {
    MeasurementError::InvalidArgument(why.into())
}

/// Checks a task registration sent in `round`.
pub fn validate_create(spec: &CreateTask, round: u64) -> Result<(), MeasurementError> {
    if spec.label.len() > MAX_LABEL_LEN {
        return Err(invalid("label longer than 64 bytes"));
    }
    spec.metric.validate().map_err(|e| invalid(e.to_string()))?;
    let n = spec.facilitators.len();
    if !(2..=atoll_measure::MAX_FACILITATORS).contains(&n) {
        return Err(invalid("a task needs 2 to 8 facilitators"));
    }
    let mut addresses = std::collections::BTreeSet::new();
    let mut keys = std::collections::BTreeSet::new();
    for f in &spec.facilitators {
        if f.endpoint.len() > MAX_ENDPOINT_LEN {
            return Err(invalid("endpoint longer than 128 bytes"));
        }
        if !addresses.insert(f.address) || !keys.insert(f.hpke_key) {
            return Err(invalid(
                "facilitators must have distinct addresses and keys",
            ));
        }
    }
    if spec.input_parties.is_empty() || spec.input_parties.len() > MAX_INPUT_PARTIES {
        return Err(invalid("a task needs 1 to 16 input parties"));
    }
    let parties: std::collections::BTreeSet<_> = spec.input_parties.iter().collect();
    if parties.len() != spec.input_parties.len() {
        return Err(invalid("input parties repeat"));
    }
    if spec.noise.is_some() {
        return Err(invalid("noise is not offered for Prio3 metrics"));
    }
    if spec.deadline_round < round || spec.deadline_round - round > MAX_DEADLINE_AHEAD {
        return Err(invalid(
            "the deadline must lie within 10,000,000 rounds ahead",
        ));
    }
    if spec.grace_rounds == 0 || spec.grace_rounds > MAX_GRACE_ROUNDS {
        return Err(invalid("grace_rounds must be in 1..=1,000,000"));
    }
    Ok(())
}

/// A freshly registered task.
pub fn new_task(id: TaskId, creator: Address, round: u64, spec: CreateTask) -> Task {
    let n = spec.facilitators.len();
    Task {
        id,
        creator,
        created_round: round,
        spec,
        batches: Vec::new(),
        commitments: vec![None; n],
        status: Status::Open,
    }
}

fn open(task: &Task) -> Result<(), MeasurementError> {
    match task.status {
        Status::Open => Ok(()),
        _ => Err(MeasurementError::WrongPhase("the task is closed")),
    }
}

fn last_round(task: &Task) -> u64 {
    task.spec
        .deadline_round
        .saturating_add(task.spec.grace_rounds)
}

/// The index of `who` among the task's facilitators.
pub fn facilitator_index(task: &Task, who: &Address) -> Option<usize> {
    task.spec
        .facilitators
        .iter()
        .position(|f| f.address == *who)
}

/// An input party commits a batch.
pub fn commit_batch(
    task: &mut Task,
    party: Address,
    body: &CommitBatch,
    round: u64,
) -> Result<(), MeasurementError> {
    open(task)?;
    if round > task.spec.deadline_round {
        return Err(MeasurementError::WrongPhase("the deadline has passed"));
    }
    if !task.spec.input_parties.contains(&party) {
        return Err(MeasurementError::Forbidden(
            "not an input party of the task",
        ));
    }
    if body.report_count == 0 {
        return Err(invalid("an empty batch"));
    }
    if task.batches.len() >= MAX_BATCHES {
        return Err(MeasurementError::TooManyBatches);
    }
    task.batches.push(BatchCommitment {
        party,
        digest: body.digest,
        report_count: body.report_count,
        round,
    });
    Ok(())
}

fn fail(task: &mut Task, reason: &str, culprits: Vec<Address>, round: u64) {
    task.status = Status::Failed {
        reason: reason.to_owned(),
        culprits,
        round,
    };
}

/// A facilitator commits to its share. With the last commitment the batches
/// are compared: facilitators that disagree with the majority, or claim more
/// reports than the input parties committed, are named and the task fails.
pub fn commit_share(
    task: &mut Task,
    facilitator: Address,
    body: &CommitShare,
    round: u64,
) -> Result<(), MeasurementError> {
    open(task)?;
    if round <= task.spec.deadline_round {
        return Err(MeasurementError::WrongPhase("batches are still accepted"));
    }
    if round > last_round(task) {
        return Err(MeasurementError::WrongPhase("the grace period has ended"));
    }
    let i = facilitator_index(task, &facilitator)
        .ok_or(MeasurementError::Forbidden("not a facilitator of the task"))?;
    let slot = task
        .commitments
        .get_mut(i)
        .ok_or(MeasurementError::NotFound)?;
    if slot.is_some() {
        return Err(MeasurementError::AlreadyDone("share committed"));
    }
    *slot = Some(ShareCommitment {
        batch_digest: body.batch_digest,
        report_count: body.report_count,
        commitment: body.commitment,
        round,
        revealed: false,
    });
    if task.commitments.iter().all(Option::is_some) {
        check_agreement(task, round);
    }
    Ok(())
}

fn check_agreement(task: &mut Task, round: u64) {
    let submitted: u64 = task
        .batches
        .iter()
        .map(|b| b.report_count)
        .fold(0, u64::saturating_add);
    let mut votes: BTreeMap<([u8; 32], u64), usize> = BTreeMap::new();
    for c in task.commitments.iter().flatten() {
        *votes.entry((c.batch_digest, c.report_count)).or_default() += 1;
    }
    let n = task.commitments.len();
    let majority = votes
        .iter()
        .find(|(_, count)| **count * 2 > n)
        .map(|(k, _)| *k);
    let mut culprits = Vec::new();
    for (c, f) in task.commitments.iter().zip(&task.spec.facilitators) {
        let Some(c) = c else { continue };
        let disagrees = majority.is_none_or(|m| m != (c.batch_digest, c.report_count));
        if disagrees || c.report_count > submitted {
            culprits.push(f.address);
        }
    }
    if !culprits.is_empty() {
        fail(
            task,
            "facilitators disagree on the batch or overcount it",
            culprits,
            round,
        );
    }
}

/// What a reveal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revealed {
    /// The share matches; store it. `last` when every share is now in.
    Stored {
        /// The facilitator's index.
        index: usize,
        /// Whether it was the last share.
        last: bool,
    },
    /// The share does not match the commitment: the task failed naming the sender.
    Lied,
}

/// A facilitator reveals its share. A share that does not match its
/// commitment, or is not a share of the metric at all (wrong length, a field
/// element out of range), fails the task naming its sender.
pub fn reveal_share(
    task: &mut Task,
    facilitator: Address,
    share: &[u8],
    round: u64,
) -> Result<Revealed, MeasurementError> {
    open(task)?;
    if round > last_round(task) {
        return Err(MeasurementError::WrongPhase("the grace period has ended"));
    }
    let i = facilitator_index(task, &facilitator)
        .ok_or(MeasurementError::Forbidden("not a facilitator of the task"))?;
    if task.commitments.iter().any(Option::is_none) {
        return Err(MeasurementError::WrongPhase(
            "not every facilitator has committed",
        ));
    }
    let expected_len = task.spec.metric.aggregate_share_len();
    let decodes = atoll_measure::aggregate_share_decodes(
        &task.spec.metric,
        task.spec.facilitators.len(),
        share,
    );
    let task_id = task.id;
    let c = task
        .commitments
        .get_mut(i)
        .and_then(Option::as_mut)
        .ok_or(MeasurementError::NotFound)?;
    if c.revealed {
        return Err(MeasurementError::AlreadyDone("share revealed"));
    }
    let revealed = AggregateShare {
        report_count: c.report_count,
        bytes: share.to_vec(),
    };
    let matches = commitment::share_commitment(&task_id, i as u8, &revealed) == c.commitment
        && share.len() == expected_len
        && decodes;
    if !matches {
        fail(
            task,
            "a revealed share does not match its commitment",
            vec![facilitator],
            round,
        );
        return Ok(Revealed::Lied);
    }
    c.revealed = true;
    let last = task.commitments.iter().flatten().all(|c| c.revealed);
    Ok(Revealed::Stored { index: i, last })
}

/// With every share revealed (in facilitator order): combines them, suppresses
/// entries below the minimum group size, and publishes.
pub fn publish(task: &mut Task, shares: &[AggregateShare], round: u64) {
    let result = match atoll_measure::unshard(&task.spec.metric, shares) {
        Ok(r) => r,
        Err(_) => {
            let all = task.spec.facilitators.iter().map(|f| f.address).collect();
            fail(task, "the revealed shares do not combine", all, round);
            return;
        }
    };
    let report_count = shares.first().map_or(0, |s| s.report_count);
    let min = u128::from(task.spec.min_group_size);
    let per_bucket = matches!(task.spec.metric, atoll_measure::Metric::Histogram { .. });
    let mut suppressed = Vec::new();
    let mut released = Vec::with_capacity(result.len());
    for (i, x) in result.iter().enumerate() {
        let group = if per_bucket {
            *x
        } else {
            u128::from(report_count)
        };
        if group < min {
            suppressed.push(i as u32);
            released.push(0);
        } else {
            released.push(*x);
        }
    }
    let digest = commitment::result_digest(&task.id, report_count, &released);
    task.status = Status::Published {
        result: released.into_iter().map(Quantity).collect(),
        suppressed,
        report_count,
        digest,
        round,
    };
}

/// After the grace period: the task fails naming every facilitator that
/// has not committed or, when all had committed (so reveals were open), not
/// revealed.
pub fn close(task: &mut Task, round: u64) -> Result<(), MeasurementError> {
    open(task)?;
    if round <= last_round(task) {
        return Err(MeasurementError::WrongPhase(
            "the grace period has not ended",
        ));
    }
    let all_committed = task.commitments.iter().all(Option::is_some);
    let culprits = task
        .commitments
        .iter()
        .zip(&task.spec.facilitators)
        .filter(|(c, _)| match c {
            None => true,
            Some(c) => all_committed && !c.revealed,
        })
        .map(|(_, f)| f.address)
        .collect();
    fail(task, "facilitators withheld their shares", culprits, round);
    Ok(())
}

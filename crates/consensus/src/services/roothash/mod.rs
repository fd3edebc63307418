//! The roothash: each runtime's chain of blocks, advanced only by its
//! elected executor committee.
//!
//! Consensus never runs runtime transactions. Committee members submit
//! signed [`ExecutorCommitment`]s (`roothash.ExecutorCommit`); at the end of
//! each consensus block the pool of a round is evaluated:
//!
//! 1. **Workers.** Commitments are grouped by the scheduler (proposer) whose
//!    batch they executed; the best-ranked scheduler that committed to its
//!    own batch wins (a scheduler may not commit a failure for its own
//!    batch). A worker whose runtime could not execute the batch (crashed,
//!    timed out, refused it) declares a failure: up to `allowed_stragglers`
//!    failures change nothing, and the round finalizes once
//!    `workers - allowed_stragglers` workers voted the scheduler's results.
//!    Two different results, or more failures than stragglers allowed, is a
//!    **discrepancy** (a backup scheduler's batch waits for the round
//!    timeout first); so is a round whose `round_timeout` expires without
//!    enough votes. A round that times out with no scheduler's own
//!    commitment fails.
//! 2. **Backups.** After a discrepancy only backup workers vote, on the
//!    disputed scheduler's batch, and a simple majority (`backups / 2 + 1`)
//!    of equal results decides. If it agrees with the scheduler, the round
//!    finalizes with that result; members whose results differed are
//!    slashed (`runtime-incorrect-results`) and frozen. Declared failures
//!    are never slashed. If no majority can form, or the backups time out
//!    (1.5 × `round_timeout`), the round fails.
//! 3. A failed round records a `RoundFailed` block: the state root does not
//!    change and the next round starts from it.
//!
//! A commitment carrying more messages than the runtime's `max_messages` is
//! refused. Two different commitments one node signed for the same round
//! and batch are evidence of equivocation (`roothash.Evidence`), punished
//! once per node and round while the round is within `max_evidence_age`.
//!
//! A finalized round's messages (staking operations from the runtime's own
//! account) run at once; their results are kept for the runtime to read.
//!
//! Every new runtime block (normal, failed, epoch transition, and the
//! genesis block) also leaves a [`PastRoot`] (header hash, state root, I/O
//! root) under its round; the last `max_past_roots_stored` rounds are kept.
//! Storage checks what untrusted peers hand over (checkpoints) against them.

pub mod liveness;
pub mod state;

use atoll_consensus_types::roothash::*;

use std::collections::BTreeMap;

use atoll_crypto::context::Context;
use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::{Address, Hash};
use atoll_types::Namespace;

use self::liveness::{RoundOutcome, Verdict};
use self::state::RoothashState;
use crate::services::registry::Registry;
use crate::services::scheduler::state::SchedulerState;
use crate::services::staking::Staking;
use atoll_consensus_types::registry::Runtime;
use atoll_consensus_types::scheduler::{Committee, Role};
use atoll_consensus_types::staking::{SlashReason, StakingError};
use atoll_state::{Failure, FatalError, ModuleError, Overlay, Store};

/// Roothash errors, with stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoothashError {
    /// No such runtime, or it has no committee this epoch.
    #[error("runtime {0} has no committee")]
    NoCommittee(String),
    /// The commitment is for another round or another previous block.
    #[error("commitment for round {got} does not extend the latest block (next round {expected})")]
    WrongRound {
        /// The round expected.
        expected: u64,
        /// The round committed to.
        got: u64,
    },
    /// The committer is not in the committee (or not in the phase's role).
    #[error("node is not an eligible committee member for this phase")]
    NotMember,
    /// The scheduler named is not a worker.
    #[error("scheduler is not a worker of the committee")]
    BadScheduler,
    /// The signature does not verify.
    #[error("commitment signature does not verify")]
    BadSignature,
    /// The messages do not match the committed hash, or come from a non-scheduler.
    #[error("invalid messages: {0}")]
    BadMessages(&'static str),
    /// The node already committed this round.
    #[error("node already committed for this round")]
    AlreadyCommitted,
    /// Evidence that proves nothing.
    #[error("invalid evidence: {0}")]
    BadEvidence(&'static str),
    /// The runtime id in the commitment does not match.
    #[error("commitment is for another runtime")]
    WrongRuntime,
    /// Evidence of this node's equivocation in this round was already
    /// accepted (the node was slashed for it once).
    #[error("duplicate evidence: this node's equivocation in round {round} was already punished")]
    DuplicateEvidence {
        /// The round of the evidence.
        round: u64,
    },
    /// The evidence is about a round older than `max_evidence_age` allows.
    #[error("evidence expired: round {round} is more than {max_age} rounds behind round {latest}")]
    EvidenceExpired {
        /// The round of the evidence.
        round: u64,
        /// The runtime's latest round.
        latest: u64,
        /// `max_evidence_age`.
        max_age: u64,
    },
    /// The network does not punish runtime equivocation, so evidence of it
    /// is not collected.
    #[error("the network does not slash for runtime equivocation")]
    EquivocationNotSlashed,
    /// A commitment carries more messages than the runtime's `max_messages`.
    #[error("commitment carries {got} messages, the runtime allows {max}")]
    TooManyMessages {
        /// Messages carried.
        got: usize,
        /// The runtime's `max_messages`.
        max: u32,
    },
    /// The scheduler's own commitment may not declare a failure (it
    /// proposed the batch; if it cannot run it, it does not commit).
    #[error("a scheduler may not commit a failure for its own batch")]
    SchedulerFailure,
}

impl ModuleError for RoothashError {
    const MODULE: &'static str = MODULE;

    fn code(&self) -> u32 {
        match self {
            Self::NoCommittee(_) => 1,
            Self::WrongRound { .. } => 2,
            Self::NotMember => 3,
            Self::BadScheduler => 4,
            Self::BadSignature => 5,
            Self::BadMessages(_) => 6,
            Self::AlreadyCommitted => 7,
            Self::BadEvidence(_) => 8,
            Self::WrongRuntime => 9,
            Self::DuplicateEvidence { .. } => 10,
            Self::EvidenceExpired { .. } => 11,
            Self::EquivocationNotSlashed => 12,
            Self::TooManyMessages { .. } => 13,
            Self::SchedulerFailure => 14,
        }
    }
}

impl From<RoothashError> for Failure {
    fn from(e: RoothashError) -> Self {
        Failure::Tx(e.to_tx_error())
    }
}

/// The consensus block the roothash is working in.
#[derive(Debug, Clone, Copy)]
pub struct BlockInfo {
    /// Height.
    pub height: u64,
    /// Block time (seconds).
    pub time: u64,
    /// Epoch of the block.
    pub epoch: atoll_types::Epoch,
}

/// The roothash on one store.
pub struct Roothash<'a> {
    store: &'a mut dyn Store,
    commit_ctx: &'a Context,
}

impl<'a> Roothash<'a> {
    /// The roothash on `store`, checking commitments in `commit_ctx`.
    pub fn new(store: &'a mut dyn Store, commit_ctx: &'a Context) -> Self {
        Self { store, commit_ctx }
    }

    fn state(&mut self) -> RoothashState<'_> {
        RoothashState::new(&mut *self.store)
    }

    /// Starts a runtime's chain from its genesis (at registration).
    pub fn init_runtime(&mut self, runtime: &Runtime, block: BlockInfo) -> Result<(), Failure> {
        if self.state().runtime(&runtime.id)?.is_some() {
            return Ok(());
        }
        let header = BlockHeader {
            namespace: runtime.id,
            round: runtime.genesis.round,
            timestamp: block.time,
            header_type: HeaderType::Normal,
            previous_hash: Hash::empty(),
            io_root: Hash::empty(),
            state_root: runtime.genesis.state_root,
            messages_hash: Hash::empty(),
        };
        self.record_past_root(&header)?;
        self.state().set_runtime(&RuntimeState {
            last_block: header,
            last_block_height: block.height,
            round: None,
            last_message_results: Vec::new(),
        })
    }

    /// Remembers a new runtime block's roots ([`PastRoot`]) and forgets those
    /// of rounds older than the last `max_past_roots_stored`, and the
    /// evidence kept about rounds now past `max_evidence_age` (no evidence
    /// about them is accepted any more, so none needs refusing as a replay).
    fn record_past_root(&mut self, header: &BlockHeader) -> Result<(), Failure> {
        let params = self.state().parameters()?;
        let keep = params.max_past_roots_stored;
        let id = header.namespace;
        if keep > 0 {
            self.state()
                .set_past_root(&id, header.round, &PastRoot::of(header))?;
        }
        let keep_from = header.round.saturating_add(1).saturating_sub(keep);
        self.state().prune_past_roots(&id, keep_from)?;
        let evidence_from = header.round.saturating_sub(params.max_evidence_age);
        self.state().prune_evidence(&id, evidence_from)
    }

    /// Makes `header` the runtime's latest block (recorded at `height`).
    fn advance(
        &mut self,
        rs: &mut RuntimeState,
        header: BlockHeader,
        height: u64,
    ) -> Result<(), Failure> {
        self.record_past_root(&header)?;
        rs.last_block = header;
        rs.last_block_height = height;
        self.state().set_runtime(rs)
    }

    /// `roothash.ExecutorCommit`: adds commitments to the runtime's round.
    pub fn executor_commit(
        &mut self,
        body: &ExecutorCommit,
        block: BlockInfo,
    ) -> Result<Vec<Event>, Failure> {
        let committee = SchedulerState::new(&mut *self.store)
            .committee(&body.id)?
            .ok_or_else(|| RoothashError::NoCommittee(body.id.to_string()))?;
        let runtime = Registry::new(&mut *self.store)
            .state()
            .runtime(&body.id)?
            .ok_or_else(|| RoothashError::NoCommittee(body.id.to_string()))?;
        let mut rs = self
            .state()
            .runtime(&body.id)?
            .ok_or_else(|| RoothashError::NoCommittee(body.id.to_string()))?;
        let mut round = rs.round.take().unwrap_or(RoundState {
            commitments: Vec::new(),
            backup_commitments: Vec::new(),
            discrepancy: false,
            timeout_height: block.height.saturating_add(runtime.executor.round_timeout),
        });
        let mut events = Vec::new();
        let next_round = rs.last_block.round.saturating_add(1);
        // During a discrepancy the backups vote on the batch of the
        // scheduler whose results the workers disputed, and on no other.
        let disputed = round
            .discrepancy
            .then(|| round_scheduler(&committee, &round.commitments, next_round))
            .flatten();
        for c in &body.commits {
            self.check_commitment(&rs, &committee, &runtime, &round, disputed.as_ref(), c)?;
            if round.discrepancy {
                round.backup_commitments.push(c.clone());
            } else {
                round.commitments.push(c.clone());
            }
        }
        round.commitments.sort_by_key(|c| c.node_id);
        round.backup_commitments.sort_by_key(|c| c.node_id);
        rs.round = Some(round);
        self.state().set_runtime(&rs)?;
        events.extend(self.try_finalize(&body.id, block, false)?);
        Ok(events)
    }

    fn check_commitment(
        &self,
        rs: &RuntimeState,
        committee: &Committee,
        runtime: &Runtime,
        round: &RoundState,
        disputed: Option<&PublicKey>,
        c: &ExecutorCommitment,
    ) -> Result<(), Failure> {
        if c.header.runtime != rs.last_block.namespace {
            return Err(RoothashError::WrongRuntime.into());
        }
        let expected = rs.last_block.round.saturating_add(1);
        let extends = match &c.header.vote {
            Vote::Results(r) => r.previous_hash == rs.last_block.hash(),
            Vote::Failure { .. } => true,
        };
        if c.header.vote.round() != expected || !extends {
            return Err(RoothashError::WrongRound {
                expected,
                got: c.header.vote.round(),
            }
            .into());
        }
        let role = if round.discrepancy {
            Role::BackupWorker
        } else {
            Role::Worker
        };
        if !committee.has(&c.node_id, role) {
            return Err(RoothashError::NotMember.into());
        }
        if !committee.has(&c.header.scheduler_id, Role::Worker) {
            return Err(RoothashError::BadScheduler.into());
        }
        if round.discrepancy && disputed != Some(&c.header.scheduler_id) {
            return Err(RoothashError::BadScheduler.into());
        }
        if c.node_id == c.header.scheduler_id && matches!(c.header.vote, Vote::Failure { .. }) {
            return Err(RoothashError::SchedulerFailure.into());
        }
        if c.messages.len() > usize::try_from(runtime.executor.max_messages).unwrap_or(usize::MAX) {
            return Err(RoothashError::TooManyMessages {
                got: c.messages.len(),
                max: runtime.executor.max_messages,
            }
            .into());
        }
        let phase = if round.discrepancy {
            &round.backup_commitments
        } else {
            &round.commitments
        };
        if phase.iter().any(|x| x.node_id == c.node_id) {
            return Err(RoothashError::AlreadyCommitted.into());
        }
        let bytes = commitment_signing_bytes(&c.header)?;
        c.node_id
            .verify(self.commit_ctx, &bytes, &c.signature)
            .map_err(|_| RoothashError::BadSignature)?;
        if !c.messages.is_empty() && c.node_id != c.header.scheduler_id {
            return Err(RoothashError::BadMessages(
                "only the scheduler's commitment carries messages",
            )
            .into());
        }
        if let Vote::Results(r) = &c.header.vote
            && c.node_id == c.header.scheduler_id
            && messages_hash(&c.messages) != r.messages_hash
        {
            return Err(RoothashError::BadMessages("messages do not match messages_hash").into());
        }
        Ok(())
    }

    /// Evaluates every runtime's round at the end of a block: finalizes what
    /// can be, declares discrepancies and failures on timeout.
    pub fn end_block(&mut self, block: BlockInfo) -> Result<Vec<Event>, Failure> {
        let mut events = Vec::new();
        for rs in self.state().runtimes()? {
            if rs.round.is_some() {
                events.extend(self.try_finalize(&rs.last_block.namespace, block, true)?);
            }
        }
        Ok(events)
    }

    /// At an epoch change: committees change, so pending rounds are dropped
    /// and every runtime records an epoch-transition block.
    pub fn on_epoch(&mut self, block: BlockInfo) -> Result<Vec<Event>, Failure> {
        let mut events = Vec::new();
        for mut rs in self.state().runtimes()? {
            rs.round = None;
            let header = next_header(&rs.last_block, HeaderType::EpochTransition, block, None);
            events.push(finalized_event(&header));
            self.advance(&mut rs, header, block.height)?;
        }
        Ok(events)
    }

    fn try_finalize(
        &mut self,
        id: &Namespace,
        block: BlockInfo,
        at_end: bool,
    ) -> Result<Vec<Event>, Failure> {
        let Some(mut rs) = self.state().runtime(id)? else {
            return Ok(Vec::new());
        };
        let Some(mut round) = rs.round.take() else {
            return Ok(Vec::new());
        };
        let Some(committee) = SchedulerState::new(&mut *self.store).committee(id)? else {
            return Ok(Vec::new());
        };
        let runtime = Registry::new(&mut *self.store)
            .state()
            .runtime(id)?
            .ok_or_else(|| {
                FatalError::Invariant(format!("roothash runtime {id} not in registry"))
            })?;
        let next_round = rs.last_block.round.saturating_add(1);
        let mut events = Vec::new();

        let timed_out = at_end && block.height >= round.timeout_height;
        let mut decision = None;
        if !round.discrepancy {
            match evaluate_workers(&committee, &runtime, &round, next_round, timed_out) {
                WorkerOutcome::Agreed(vote, scheduler) => decision = Some(Ok((vote, scheduler))),
                WorkerOutcome::Discrepancy => {
                    declare_discrepancy(&mut round, &runtime, block, id, next_round, &mut events);
                }
                // The round timed out and no scheduler committed to its own
                // batch: there is nothing for backups to check.
                WorkerOutcome::NoScheduler => decision = Some(Err(())),
                WorkerOutcome::Pending => {}
            }
        }
        if decision.is_none() && round.discrepancy {
            // A discrepancy declared just now has a fresh timeout, so this
            // only fires once the backups have had their time.
            let timed_out = at_end && block.height >= round.timeout_height;
            decision = match round_scheduler(&committee, &round.commitments, next_round) {
                Some(scheduler) => evaluate_backups(&committee, &round, &scheduler, timed_out)
                    .map(|d| d.map(|vote| (vote, scheduler))),
                None => timed_out.then_some(Err(())),
            };
        }

        match decision {
            None => {
                rs.round = Some(round);
                self.state().set_runtime(&rs)?;
            }
            Some(Err(())) => {
                self.record_liveness(
                    id,
                    &committee,
                    &round.commitments,
                    next_round,
                    RoundOutcome::Failed,
                )?;
                let header = next_header(&rs.last_block, HeaderType::RoundFailed, block, None);
                events.push(finalized_event(&header));
                self.advance(&mut rs, header, block.height)?;
            }
            Some(Ok((vote, scheduler))) => {
                // Slash every member whose results disagreed with the
                // outcome. A declared failure (a runtime that crashed, timed
                // out or refused the batch) is no lie: it is not slashed.
                let mut liars: Vec<PublicKey> = round
                    .commitments
                    .iter()
                    .filter(|c| committee.has(&c.node_id, Role::Worker))
                    .chain(
                        round
                            .backup_commitments
                            .iter()
                            .filter(|c| committee.has(&c.node_id, Role::BackupWorker)),
                    )
                    .filter(|c| {
                        c.header.scheduler_id == scheduler
                            && matches!(c.header.vote, Vote::Results(_))
                            && c.header.vote != vote
                    })
                    .map(|c| c.node_id)
                    .collect();
                liars.sort();
                liars.dedup();
                // The scheduler's own commitment carries the messages.
                let scheduler_commit = round
                    .commitments
                    .iter()
                    .find(|c| {
                        c.node_id == scheduler
                            && c.header.scheduler_id == scheduler
                            && c.header.vote == vote
                    })
                    .cloned();
                let header = match (&vote, scheduler_commit) {
                    (Vote::Results(results), Some(sc)) => {
                        let header =
                            next_header(&rs.last_block, HeaderType::Normal, block, Some(results));
                        let results = self.run_messages(id, &sc.messages, block)?;
                        for r in &results {
                            events.push(Event::Message {
                                runtime: *id,
                                result: r.clone(),
                            });
                        }
                        self.record_round_results(
                            id,
                            &committee,
                            &round.commitments,
                            (&vote, &scheduler),
                            &liars,
                            next_round,
                            &results,
                        )?;
                        rs.last_message_results = results;
                        header
                    }
                    // The backups' majority is not the scheduler's own
                    // result: the round fails.
                    _ => next_header(&rs.last_block, HeaderType::RoundFailed, block, None),
                };
                let outcome = if header.header_type == HeaderType::Normal {
                    RoundOutcome::Finalized {
                        vote: &vote,
                        scheduler: &scheduler,
                    }
                } else {
                    RoundOutcome::Failed
                };
                self.record_liveness(id, &committee, &round.commitments, next_round, outcome)?;
                events.push(finalized_event(&header));
                self.advance(&mut rs, header, block.height)?;
                for node in liars {
                    self.slash_node(&node, SlashReason::RuntimeIncorrectResults, block)?;
                }
            }
        }
        Ok(events)
    }
}

impl Roothash<'_> {
    /// Adds a decided round to the runtime's liveness statistics.
    fn record_liveness(
        &mut self,
        id: &Namespace,
        committee: &Committee,
        commitments: &[ExecutorCommitment],
        round: u64,
        outcome: RoundOutcome<'_>,
    ) -> Result<(), Failure> {
        let mut stats = self.state().liveness(id)?;
        liveness::record_round(&mut stats, committee, commitments, round, outcome);
        self.state().set_liveness(id, &stats)
    }

    /// Records what a normal round did: the nodes (and their entities)
    /// whose commitments carried the finalized results, those that
    /// committed other results, and the messages' results.
    #[allow(clippy::too_many_arguments, reason = "one record of one round's parts")]
    fn record_round_results(
        &mut self,
        id: &Namespace,
        committee: &Committee,
        commitments: &[ExecutorCommitment],
        (vote, scheduler): (&Vote, &PublicKey),
        liars: &[PublicKey],
        round: u64,
        messages: &[MessageResult],
    ) -> Result<(), Failure> {
        let mut good_nodes: Vec<PublicKey> = commitments
            .iter()
            .filter(|c| {
                committee.has(&c.node_id, Role::Worker)
                    && &c.header.scheduler_id == scheduler
                    && &c.header.vote == vote
            })
            .map(|c| c.node_id)
            .collect();
        good_nodes.sort();
        good_nodes.dedup();
        let mut bad_nodes = liars.to_vec();
        bad_nodes.sort();
        bad_nodes.dedup();
        let good_compute_entities = self.entities_of(&good_nodes)?;
        let bad_compute_entities = self.entities_of(&bad_nodes)?;
        self.state().set_round_results(
            id,
            &RoundResults {
                round,
                good_compute_entities,
                bad_compute_entities,
                good_compute_nodes: good_nodes,
                bad_compute_nodes: bad_nodes,
                messages: messages.to_vec(),
            },
        )
    }

    /// The staking accounts of the entities of `nodes` (registered ones),
    /// each once, in address order.
    fn entities_of(&mut self, nodes: &[PublicKey]) -> Result<Vec<Address>, Failure> {
        let mut out = std::collections::BTreeSet::new();
        let mut reg = Registry::new(&mut *self.store);
        for n in nodes {
            if let Some(desc) = reg.state().node(n)? {
                out.insert(Address::from_ed25519(&desc.entity_id));
            }
        }
        Ok(out.into_iter().collect())
    }

    /// At the end of epoch `block.epoch - 1` (before the next election):
    /// judges each runtime's workers on the epoch's liveness statistics
    /// ([`liveness::judge`]), then resets the statistics. A failing worker
    /// gains a fault and is frozen until `block.epoch + 2^(faults-1)`
    /// (at most 64 epochs), so the coming elections skip it; once its
    /// faults reach the runtime's `max_liveness_fails` it is also slashed
    /// for `runtime-liveness` (the staking parameters' amount and freeze).
    /// A live worker loses a fault.
    pub fn process_liveness(&mut self, block: BlockInfo) -> Result<Vec<Event>, Failure> {
        let mut events = Vec::new();
        for rs in self.state().runtimes()? {
            let id = rs.last_block.namespace;
            let stats = self.state().liveness(&id)?;
            self.state()
                .set_liveness(&id, &LivenessStatistics::default())?;
            let Some(runtime) = Registry::new(&mut *self.store).state().runtime(&id)? else {
                continue;
            };
            for (node, verdict) in liveness::judge(&stats, &runtime.executor) {
                let faults = self.state().faults(&id, &node)?;
                match verdict {
                    Verdict::Live => {
                        self.state()
                            .set_faults(&id, &node, faults.saturating_sub(1))?;
                    }
                    Verdict::Failed => {
                        let faults = faults.saturating_add(1);
                        self.state().set_faults(&id, &node, faults)?;
                        let until = block
                            .epoch
                            .0
                            .saturating_add(liveness::freeze_epochs(faults));
                        Registry::new(&mut *self.store)
                            .freeze_node(&node, atoll_types::Epoch(until))?;
                        let max = u64::from(runtime.executor.max_liveness_fails);
                        let slashed = max > 0 && faults >= max;
                        if slashed {
                            self.slash_node(&node, SlashReason::RuntimeLiveness, block)?;
                        }
                        events.push(Event::LivenessFailure {
                            runtime: id,
                            node,
                            faults,
                            frozen_until: until,
                            slashed,
                        });
                    }
                }
            }
        }
        Ok(events)
    }
}

/// What an escrow message's staking event tells the runtime.
fn message_outcome(e: atoll_consensus_types::staking::Event) -> Option<MessageOutcome> {
    use atoll_consensus_types::staking::Event as S;
    match e {
        S::AddEscrow { new_shares, .. } => Some(MessageOutcome::AddEscrow { new_shares }),
        S::DebondingStart {
            amount,
            debonding_shares,
            debond_end,
            ..
        } => Some(MessageOutcome::ReclaimEscrow {
            amount,
            debonding_shares,
            debond_end,
        }),
        _ => None,
    }
}

fn declare_discrepancy(
    round: &mut RoundState,
    runtime: &Runtime,
    block: BlockInfo,
    id: &Namespace,
    next_round: u64,
    events: &mut Vec<Event>,
) {
    round.discrepancy = true;
    let backup_timeout = runtime.executor.round_timeout.saturating_mul(3) / 2;
    round.timeout_height = block.height.saturating_add(backup_timeout.max(1));
    events.push(Event::DiscrepancyDetected {
        runtime: *id,
        round: next_round,
    });
}

impl Roothash<'_> {
    /// Runs the round's messages as the runtime's account, each in its own
    /// overlay: a failing message changes nothing and reports its error.
    fn run_messages(
        &mut self,
        id: &Namespace,
        messages: &[Message],
        block: BlockInfo,
    ) -> Result<Vec<MessageResult>, Failure> {
        let account = Address::from_runtime_id(id.as_bytes());
        let mut results = Vec::with_capacity(messages.len());
        for (i, msg) in messages.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let mut overlay = Overlay::new(&mut *self.store);
            let mut staking = Staking::new(&mut overlay);
            let escrow_allowed = staking.state().parameters()?.allow_escrow_messages;
            let outcome = match msg {
                Message::AddEscrow(_) | Message::ReclaimEscrow(_) if !escrow_allowed => {
                    Err(StakingError::Forbidden(
                        "runtimes may not escrow (allow_escrow_messages is off)",
                    )
                    .into())
                }
                Message::Transfer(t) => staking.transfer(&account, t).map(|_| None),
                Message::Withdraw(w) => staking.withdraw(&account, w).map(|_| None),
                Message::AddEscrow(e) => staking.add_escrow(&account, e).map(message_outcome),
                Message::ReclaimEscrow(r) => staking
                    .reclaim_escrow(&account, r, block.epoch)
                    .map(message_outcome),
            };
            match outcome {
                Ok(result) => {
                    overlay.commit()?;
                    results.push(MessageResult {
                        index,
                        module: String::new(),
                        code: 0,
                        result,
                    });
                }
                Err(Failure::Tx(e)) => results.push(MessageResult {
                    index,
                    module: e.module,
                    code: e.code,
                    result: None,
                }),
                Err(Failure::Fatal(e)) => return Err(e.into()),
            }
        }
        Ok(results)
    }

    /// Slashes a node's entity and freezes the node, per the staking
    /// parameters for `reason`.
    pub fn slash_node(
        &mut self,
        node: &PublicKey,
        reason: SlashReason,
        block: BlockInfo,
    ) -> Result<(), Failure> {
        let Some(desc) = Registry::new(&mut *self.store).state().node(node)? else {
            return Ok(());
        };
        let params = Staking::new(&mut *self.store).state().parameters()?;
        let Some(slash) = params.slashing.get(&reason).cloned() else {
            return Ok(());
        };
        Staking::new(&mut *self.store).slash(
            &Address::from_ed25519(&desc.entity_id),
            slash.amount,
            reason,
        )?;
        if slash.freeze_interval > 0 {
            Registry::new(&mut *self.store).freeze_node(
                node,
                atoll_types::Epoch(block.epoch.0.saturating_add(slash.freeze_interval)),
            )?;
        }
        Ok(())
    }

    /// `roothash.Evidence`: two different commitments one node signed for
    /// the same round and the same scheduler's batch slash the node for
    /// equivocation, once per round.
    ///
    /// As in oasis-core, the evidence is refused when it proves nothing
    /// ([`check_equivocation`]), when the node is not registered, when the
    /// network does not slash for equivocation, when its round is more than
    /// `max_evidence_age` rounds behind the runtime's latest round (or not
    /// open yet), and when evidence of the same node's equivocation in the
    /// same round was already accepted: the evidence hash (of the kind and
    /// the node, so a different pair of commitments is the same offence) is
    /// kept under the round until the round is too old for evidence.
    pub fn evidence(&mut self, body: &Evidence, block: BlockInfo) -> Result<(), Failure> {
        check_equivocation(body, self.commit_ctx)?;
        let node = body.commit_a.node_id;
        let round = body.commit_a.header.vote.round();
        let rs = self
            .state()
            .runtime(&body.id)?
            .ok_or_else(|| RoothashError::NoCommittee(body.id.to_string()))?;
        if Registry::new(&mut *self.store)
            .state()
            .node(&node)?
            .is_none()
        {
            return Err(RoothashError::BadEvidence("the node is not registered").into());
        }
        let slashes = Staking::new(&mut *self.store)
            .state()
            .parameters()?
            .slashing
            .get(&SlashReason::RuntimeEquivocation)
            .is_some_and(|s| s.amount.0 > 0 || s.freeze_interval > 0);
        if !slashes {
            return Err(RoothashError::EquivocationNotSlashed.into());
        }
        let max_age = self.state().parameters()?.max_evidence_age;
        let latest = rs.last_block.round;
        if round.saturating_add(max_age) < latest {
            return Err(RoothashError::EvidenceExpired {
                round,
                latest,
                max_age,
            }
            .into());
        }
        if round > latest.saturating_add(1) {
            return Err(RoothashError::BadEvidence("the round is not open yet").into());
        }
        let hash = evidence_hash(&node);
        if self.state().evidence_seen(&body.id, round, &hash)? {
            return Err(RoothashError::DuplicateEvidence { round }.into());
        }
        self.state()
            .set_evidence_seen(&body.id, round, &hash, block.height)?;
        self.slash_node(&node, SlashReason::RuntimeEquivocation, block)
    }
}

/// Evidence kind of executor commitment equivocation (oasis-core's
/// `EvidenceKindEquivocation`).
const EVIDENCE_KIND_EQUIVOCATION: u8 = 1;

/// The hash under which accepted equivocation evidence against `node` is
/// kept (per runtime and round): the evidence kind and the node, so any
/// pair of its commitments for a round is one offence.
pub fn evidence_hash(node: &PublicKey) -> Hash {
    Hash::digest_parts(&[&[EVIDENCE_KIND_EQUIVOCATION], node.as_bytes()])
}

/// Whether `body` proves equivocation, with no state: both commitments
/// signed (in `ctx`) by one node, for `body.id`, for the same round and the
/// same scheduler's batch (the role a commitment has: a node that is both
/// worker and backup signs one commitment per batch and sends the same one
/// in both phases), without their messages, with different votes (two
/// different results, or a result and a declared failure). Identical
/// commitments, commitments for different rounds or different schedulers'
/// batches prove nothing.
pub fn check_equivocation(body: &Evidence, ctx: &Context) -> Result<(), RoothashError> {
    let (a, b) = (&body.commit_a, &body.commit_b);
    if a.node_id != b.node_id {
        return Err(RoothashError::BadEvidence("commitments by different nodes"));
    }
    if a.header.runtime != body.id || b.header.runtime != body.id {
        return Err(RoothashError::BadEvidence(
            "commitments for another runtime",
        ));
    }
    if a.header.scheduler_id != b.header.scheduler_id {
        return Err(RoothashError::BadEvidence(
            "commitments for different schedulers' batches",
        ));
    }
    if a.header.vote.round() != b.header.vote.round() {
        return Err(RoothashError::BadEvidence(
            "commitments for different rounds",
        ));
    }
    if !a.messages.is_empty() || !b.messages.is_empty() {
        return Err(RoothashError::BadEvidence(
            "evidence commitments go without messages",
        ));
    }
    let same = match (&a.header.vote, &b.header.vote) {
        (Vote::Results(x), Vote::Results(y)) => {
            x.previous_hash == y.previous_hash
                && x.io_root == y.io_root
                && x.state_root == y.state_root
                && x.messages_hash == y.messages_hash
        }
        (Vote::Failure { .. }, Vote::Failure { .. }) => true,
        _ => false,
    };
    if same {
        return Err(RoothashError::BadEvidence("the commitments are the same"));
    }
    for c in [a, b] {
        let bytes = atoll_types::cbor::to_vec(&c.header)
            .map_err(|_| RoothashError::BadEvidence("a commitment does not encode"))?;
        c.node_id
            .verify(ctx, &bytes, &c.signature)
            .map_err(|_| RoothashError::BadEvidence("a signature does not verify"))?;
    }
    Ok(())
}

enum WorkerOutcome {
    Agreed(Vote, PublicKey),
    Discrepancy,
    Pending,
    /// The round timed out with no scheduler's own commitment.
    NoScheduler,
}

/// The best-ranked scheduler (in the round's proposer order) that committed
/// to its own batch among `commitments`, with its rank.
fn ranked_scheduler(
    committee: &Committee,
    commitments: &[ExecutorCommitment],
    next_round: u64,
) -> Option<(usize, PublicKey)> {
    committee
        .proposer_order(next_round)
        .into_iter()
        .enumerate()
        .find(|(_, s)| {
            commitments
                .iter()
                .any(|c| &c.node_id == s && &c.header.scheduler_id == s)
        })
}

/// The best-ranked scheduler that committed to its own batch.
fn round_scheduler(
    committee: &Committee,
    commitments: &[ExecutorCommitment],
    next_round: u64,
) -> Option<PublicKey> {
    ranked_scheduler(committee, commitments, next_round).map(|(_, s)| s)
}

/// Discrepancy detection, as oasis-core's commitment pool does it, over the
/// workers' votes for the best-ranked scheduler that committed:
///
/// - a declared failure is a straggler: up to `allowed_stragglers` of them
///   change nothing; more is a discrepancy;
/// - two different results is a discrepancy;
/// - otherwise the round is agreed once `workers - allowed_stragglers`
///   workers voted the scheduler's results, and is a discrepancy if the
///   round times out before that;
/// - a backup scheduler (rank > 0) waits for the round timeout before a
///   discrepancy is declared on its batch, so that a few colluding workers
///   cannot hand it the round early.
fn evaluate_workers(
    committee: &Committee,
    runtime: &Runtime,
    round: &RoundState,
    next_round: u64,
    timed_out: bool,
) -> WorkerOutcome {
    let Some((rank, scheduler)) = ranked_scheduler(committee, &round.commitments, next_round)
    else {
        return if timed_out {
            WorkerOutcome::NoScheduler
        } else {
            WorkerOutcome::Pending
        };
    };
    let Some(sched_vote) = round
        .commitments
        .iter()
        .find(|c| c.node_id == scheduler && c.header.scheduler_id == scheduler)
        .map(|c| &c.header.vote)
    else {
        return WorkerOutcome::Pending;
    };
    let (mut matching, mut failures, mut differing) = (0usize, 0usize, false);
    for c in round
        .commitments
        .iter()
        .filter(|c| c.header.scheduler_id == scheduler && committee.has(&c.node_id, Role::Worker))
    {
        match &c.header.vote {
            Vote::Failure { .. } => failures += 1,
            v if v == sched_vote => matching += 1,
            _ => differing = true,
        }
    }
    let stragglers = usize::from(runtime.executor.allowed_stragglers);
    if differing || failures > stragglers {
        if rank > 0 && !timed_out {
            return WorkerOutcome::Pending;
        }
        return WorkerOutcome::Discrepancy;
    }
    let needed = committee.workers().count().saturating_sub(stragglers);
    if matching >= needed {
        WorkerOutcome::Agreed(sched_vote.clone(), scheduler)
    } else if timed_out {
        WorkerOutcome::Discrepancy
    } else {
        WorkerOutcome::Pending
    }
}

/// Discrepancy resolution over the backups' votes for `scheduler`'s batch:
/// `Some(Ok(vote))` when a simple majority of the backups agrees on one
/// result, `Some(Err)` when none can form any more (declared failures count
/// as votes cast for no result) or the backups timed out, `None` while
/// waiting.
fn evaluate_backups(
    committee: &Committee,
    round: &RoundState,
    scheduler: &PublicKey,
    timed_out: bool,
) -> Option<Result<Vote, ()>> {
    let total = committee.backups().count();
    if total == 0 {
        return Some(Err(()));
    }
    let majority = total / 2 + 1;
    let mut tally: BTreeMap<&Vote, usize> = BTreeMap::new();
    let mut voted = 0usize;
    for c in &round.backup_commitments {
        if committee.has(&c.node_id, Role::BackupWorker) && &c.header.scheduler_id == scheduler {
            voted += 1;
            if matches!(c.header.vote, Vote::Results(_)) {
                *tally.entry(&c.header.vote).or_insert(0) += 1;
            }
        }
    }
    if let Some((vote, _)) = tally.iter().find(|(_, n)| **n >= majority) {
        return Some(Ok((*vote).clone()));
    }
    let best = tally.values().copied().max().unwrap_or(0);
    if best + total.saturating_sub(voted) < majority || timed_out {
        return Some(Err(()));
    }
    None
}

fn next_header(
    prev: &BlockHeader,
    header_type: HeaderType,
    block: BlockInfo,
    results: Option<&ComputeResults>,
) -> BlockHeader {
    let (io_root, state_root, messages_hash) = match results {
        Some(r) => (r.io_root, r.state_root, r.messages_hash),
        None => (Hash::empty(), prev.state_root, Hash::empty()),
    };
    BlockHeader {
        namespace: prev.namespace,
        round: prev.round.saturating_add(1),
        timestamp: block.time,
        header_type,
        previous_hash: prev.hash(),
        io_root,
        state_root,
        messages_hash,
    }
}

fn finalized_event(h: &BlockHeader) -> Event {
    Event::Finalized {
        runtime: h.namespace,
        round: h.round,
        header_type: h.header_type,
    }
}

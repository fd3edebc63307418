//! The worker's loop: it follows consensus blocks and gossiped proposals
//! and, on each, acts on the open round (propose, execute, commit, back
//! up in a discrepancy).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use atoll_consensus_types::registry::Runtime;
use atoll_consensus_types::roothash::{
    BlockHeader, ComputeResults, ExecutorCommit, HeaderType, Message, RuntimeState, Vote,
    messages_hash,
};
use atoll_consensus_types::scheduler::{Committee, Role};
use atoll_crypto::Hash;
use atoll_crypto::ed25519::PublicKey;
use atoll_runtime_host::host::HostError;
use atoll_runtime_host::protocol::{BatchContext, ExecuteBatchRequest, RuntimeError};
use atoll_types::cbor::{self, Value};
use atoll_types::signed::Signed;
use atoll_types::{Height, Round};
use serde_bytes::ByteBuf;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::catch_up::CatchUp;
use super::decide::{RoundAction, RoundSituation, decide};
use super::messages::ComputeMessage;
use super::worker::{Fault, Inner, Input};
use crate::catchup::Vouched;
use crate::client::Included;
use crate::proposal::Proposal;
use crate::storage::{RoundRecord, io_root};
use atoll_runtime_host::abi::CheckOutcome;

/// How often the worker looks again without news (rank takeover timers).
pub(super) const TICK: Duration = Duration::from_millis(50);

/// How long a scheduler waits before sending its open round's proposal
/// again.
pub(super) const REPUBLISH: Duration = Duration::from_millis(500);

/// Rounds between two re-checks of the whole pool.
pub(super) const RECHECK_EVERY: u64 = 16;

/// A proposal offers transactions whose gas limits add up to at most this
/// many times the batch gas limit; the runtime keeps those that fit by the
/// gas they actually use.
pub const OFFER_GAS_FACTOR: u64 = 3;

/// A batch this node executed, waiting for its round to finalize.
pub(super) struct Executed {
    pub(super) results: ComputeResults,
    pub(super) txs: Vec<ByteBuf>,
    pub(super) outputs: Vec<Value>,
    pub(super) events: Vec<Value>,
    pub(super) messages: Vec<Value>,
    pub(super) decoded_messages: Vec<Message>,
    pub(super) write_log: Vec<atoll_runtime_host::protocol::WriteLogEntry>,
    pub(super) consensus_height: u64,
}

#[derive(Default)]
pub(super) struct RoundWork {
    /// Proposals received for the round, by scheduler.
    pub(super) proposals: BTreeMap<PublicKey, Proposal>,
    /// Batches executed, by scheduler.
    pub(super) executed: BTreeMap<PublicKey, Executed>,
    /// Whether this node committed as a worker / as a backup.
    pub(super) committed: bool,
    pub(super) backup_committed: bool,
    pub(super) proposed: bool,
    /// Whether this node already counted the round's discrepancy.
    pub(super) discrepancy_counted: bool,
    /// This node's own proposal for the round: when and how often sent.
    pub(super) sent: Option<(Signed<Proposal>, u32, Instant)>,
    /// When this node first saw work for the round (rank takeover counts
    /// from there).
    pub(super) work_since: Option<Instant>,
    /// When this node first looked at the round (idle rounds count from
    /// there).
    pub(super) opened: Option<Instant>,
}

pub(super) struct Loop {
    pub(super) inner: Arc<Inner>,
    pub(super) seen_height: u64,
    pub(super) work: BTreeMap<u64, RoundWork>,
    pub(super) rounds_applied: u64,
    pub(super) catch_up: CatchUp,
    pub(super) vouched: Vouched,
}

pub(super) async fn run(inner: Arc<Inner>, mut inputs: mpsc::UnboundedReceiver<Input>) {
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
    pub(super) async fn finished(&mut self, record: RoundRecord) {
        let round = record.header.round;
        self.work.retain(|r, _| *r > round);
        let hashes: Vec<Hash> = record.txs.iter().map(|t| Hash::digest(t)).collect();
        {
            let mut pool = self.inner.pool.lock();
            pool.remove(&hashes);
            self.inner.cfg.metrics.pool(pool.len());
        }
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
            self.inner.cfg.metrics.committed();
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
    pub(super) async fn recheck_pool(&self) {
        let all = self.inner.pool.lock().all();
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
            let mut pool = self.inner.pool.lock();
            pool.remove(&stale);
            self.inner.cfg.metrics.pool(pool.len());
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
        let (height, rs) = self.inner.latest.lock().clone()?;
        let view = &self.inner.view;
        let committee = view.committee(height, &self.inner.cfg.runtime)?;
        let runtime = view.runtime(height, &self.inner.cfg.runtime)?;
        Some((height, rs, committee, runtime))
    }

    /// Acts on the open round: gathers the situation, lets [`decide`]
    /// choose, and performs its choice.
    async fn act(&mut self) {
        let Some((_height, rs, committee, runtime)) = self.situation() else {
            return;
        };
        let last = self.inner.storage.last_header();
        let in_sync = last == rs.last_block;
        let next = last.round + 1;
        let me = self.inner.node_id;
        let is_worker = committee.has(&me, Role::Worker);
        let is_backup = committee.has(&me, Role::BackupWorker);
        if in_sync && (is_worker || is_backup) {
            self.refresh(next, &rs, &last);
        }
        let order = committee.proposer_order(next);
        let open = Instant::now();
        let situation = {
            let work = self.work.get(&next);
            RoundSituation {
                in_sync,
                last_hash: last.hash(),
                me,
                is_worker,
                is_backup,
                order,
                proposals: work
                    .map(|w| {
                        w.proposals
                            .iter()
                            .map(|(k, p)| (*k, p.previous_hash))
                            .collect()
                    })
                    .unwrap_or_default(),
                discrepancy: rs.round.as_ref().filter(|r| r.discrepancy).map(|r| {
                    r.commitments
                        .iter()
                        .filter(|c| c.header.scheduler_id == c.node_id)
                        .map(|c| c.node_id)
                        .collect()
                }),
                committed: work.is_some_and(|w| w.committed),
                backup_committed: work.is_some_and(|w| w.backup_committed),
                proposed: work.is_some_and(|w| w.proposed),
                silent: self.inner.cfg.fault == Some(Fault::SilentProposer),
                pool_has_txs: !self.inner.pool.lock().is_empty(),
                message_results_pending: !rs.last_message_results.is_empty(),
                never_run: !self.inner.storage.has_run(),
                idle_round: self.inner.cfg.idle_round,
                open_for: work.and_then(|w| w.opened).map(|t| open.duration_since(t)),
                work_for: work
                    .and_then(|w| w.work_since)
                    .map(|t| open.duration_since(t)),
                propose_batch_timeout: Duration::from_millis(
                    runtime.txn_scheduler.propose_batch_timeout_ms,
                ),
            }
        };
        if in_sync && situation.discrepancy.is_some() {
            let work = self.work.entry(next).or_default();
            if !work.discrepancy_counted {
                work.discrepancy_counted = true;
                self.inner.cfg.metrics.discrepancy();
            }
        }
        let action = decide(&situation);
        if action.opens_round() {
            let work = self.work.entry(next).or_default();
            work.opened.get_or_insert(open);
            if action.has_work() {
                work.work_since.get_or_insert(open);
            }
        }
        let rank = match action {
            RoundAction::Wait(_) => return,
            RoundAction::Backup { scheduler } => {
                let Some(proposal) = self.proposal(next, &scheduler) else {
                    return;
                };
                info!(runtime = %self.inner.cfg.runtime, round = next, "discrepancy: executing as a backup");
                if self.commit(next, &rs, scheduler, &proposal).await {
                    self.work.entry(next).or_default().backup_committed = true;
                    self.inner.cfg.metrics.backup();
                }
                return;
            }
            RoundAction::Execute { scheduler } => {
                let Some(proposal) = self.proposal(next, &scheduler) else {
                    return;
                };
                if self.commit(next, &rs, scheduler, &proposal).await {
                    self.work.entry(next).or_default().committed = true;
                }
                return;
            }
            RoundAction::Propose { rank, .. } => rank,
        };
        let max_gas = self.inner.batch_gas_limit().await;
        let candidates = self.inner.pool.lock().batch(
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
            self.inner.cfg.metrics.takeover();
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

    /// Brings this node's record of round `next` up to date before a
    /// decision: what consensus already holds from it needs no sending
    /// (after a restart, the in-memory record of it is gone); a batch it
    /// proposed before a restart is the one it proposes (and sends) again;
    /// a scheduler whose round is still open sends its proposal again
    /// (nodes that were not yet connected, or backups, may lack it).
    fn refresh(&mut self, next: u64, rs: &RuntimeState, last: &BlockHeader) {
        let me = self.inner.node_id;
        let work = self.work.entry(next).or_default();
        if let Some(round) = rs.round.as_ref() {
            if round.commitments.iter().any(|c| c.node_id == me) {
                work.committed = true;
            }
            if round.backup_commitments.iter().any(|c| c.node_id == me) {
                work.backup_committed = true;
            }
        }
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
    }

    /// The proposal of `scheduler` received for `round`.
    fn proposal(&self, round: u64, scheduler: &PublicKey) -> Option<Proposal> {
        self.work.get(&round)?.proposals.get(scheduler).cloned()
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
            atoll_consensus_types::roothash::methods::EXECUTOR_COMMIT,
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
        self.inner.cfg.metrics.executed(txs.len());
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

//! Following consensus: every round consensus finalizes is applied to
//! storage, from this node's own execution or from a peer's record checked
//! against what consensus vouches for ([`crate::catchup`]); a node far
//! behind restores a checkpoint first.

use std::time::{Duration, Instant};

use atoll_consensus_types::roothash::{BlockHeader, HeaderType, RuntimeState};
use tracing::{debug, info, warn};

use super::round::Loop;
use crate::checkpoint::{self, CheckpointInfo};
use crate::storage::RoundRecord;

/// Longest a runtime with nothing applied waits for consensus to catch up
/// before deciding how to catch up itself (checkpoint or replay).
const DEFER_RESTORE: Duration = Duration::from_secs(30);

/// How often a runtime with nothing applied asks its storage peers for
/// checkpoints while it waits for consensus.
const ASK_EVERY: Duration = Duration::from_secs(1);

/// State of catching up from checkpoints.
#[derive(Default)]
pub(super) struct CatchUp {
    /// Since when a runtime with nothing applied has waited for consensus.
    pub(super) deferred_since: Option<Instant>,
    /// When the storage peers were last asked, while waiting.
    pub(super) asked: Option<Instant>,
    /// Whether a runtime with nothing applied has decided (checkpoint or
    /// replay); it no longer waits then.
    pub(super) decided: bool,
    /// The target round of the last attempt to restore a checkpoint.
    pub(super) tried_at: Option<u64>,
}

impl Loop {
    fn runtime_state(&self, height: u64) -> Option<RuntimeState> {
        self.inner
            .view
            .runtime_state(height, &self.inner.cfg.runtime)
    }

    /// Applies every round consensus finalized up to `height`.
    pub(super) async fn follow(&mut self, height: u64) {
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
            *self.inner.latest.lock() = Some((h, rs));
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
                let past_root = |r: u64| inner.view.past_root(height, &runtime, r);
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
        self.inner
            .view
            .runtime(height, &self.inner.cfg.runtime)
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
        let view = &self.inner.view;
        let usable = checkpoint::usable(&runtime, offers, applied, target.round, |round| {
            view.past_root(height, &runtime, round)
        });
        (usable, ahead)
    }

    /// Restores the first of `usable` (newest first) whose chunks the peers
    /// offering it deliver intact ([`crate::catchup::fetch_chunks`]) and whose
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
            if !crate::catchup::stream_chunks(self.inner.peers.as_ref(), runtime, &info, &peers, tx)
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
}

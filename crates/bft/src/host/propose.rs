//! Proposing: building a block from the transaction source, the pace of
//! an idle proposer, and streaming the signed block as proposal parts.

use std::time::Duration;

use atoll_crypto::Hash;
use bytes::Bytes;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::Round;
use malachitebft_app_channel::{Channels, NetworkMsg};
use tracing::{debug, info, warn};

use crate::block::{BftBlock, TxRules, block_hash, equivocators, verify_commit};
use crate::context::{
    AtollContext, BlockCommitment, BlockHash, Height, PartInit, ProposalPart, ValidatorAddress,
    ValidatorSet,
};
use crate::error::BftError;

use super::{Candidate, Host, TxSource};

impl<T: TxSource> Host<T> {
    /// Builds and records the block for `(height, round)`. In round 0, while
    /// the block would be empty, it waits for arrivals and builds again, until
    /// `block_time` after the round started (at most half of `timeout`, the
    /// propose timeout, so the others never give up on it first). The wait
    /// holds this loop, so other engine messages queue for at most that long.
    pub(super) async fn propose(
        &mut self,
        height: u64,
        round: Round,
        timeout: Duration,
    ) -> Result<BlockHash, BftError> {
        let deadline = self.round_started + idle_wait(self.config.block_time, round, timeout);
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
    pub(super) async fn equivocate(
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
    pub(super) fn build(&mut self, height: u64) -> Result<BftBlock, BftError> {
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
    pub(super) fn record(
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

    pub(super) fn parts_for(
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

    pub(super) async fn publish(
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
}
/// How long a proposer with nothing to propose in `round` waits for
/// transactions from the start of the round: `block_time` in round 0, at
/// most half the propose `timeout` (so the others never give up on it
/// first); not at all in later rounds or without a block time.
pub(super) fn idle_wait(block_time: Option<Duration>, round: Round, timeout: Duration) -> Duration {
    match block_time {
        Some(t) if round.as_i64() == 0 => t.min(timeout / 2),
        _ => Duration::ZERO,
    }
}

/// Whether a block carries anything (transactions or evidence): a proposer
/// in round 0 waits for arrivals rather than propose one that does not.
pub(super) fn worth_proposing(block: &BftBlock) -> bool {
    !block.block.txs.is_empty() || !block.evidence.is_empty() || !block.double_proposals.is_empty()
}

/// The target time of a height for the node at `me`. Only validators pace
/// their heights. A node outside the set only follows: pacing it too would
/// hold every height it is behind for a whole block time, so a full node
/// that fell behind (a compute node busy with a large batch) would trail by
/// that much for good.
pub(super) fn paced(
    target_time: Option<Duration>,
    set: &ValidatorSet,
    me: &ValidatorAddress,
) -> Option<Duration> {
    target_time.filter(|_| set.get(me).is_some())
}

//! Receiving proposals: reassembling proposal-part streams within their
//! bounds, and judging a complete stream from the round's proposer.

use std::collections::{BTreeMap, VecDeque};

use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{Round, Validity};
use malachitebft_app_channel::app::types::{PeerId, ProposedValue};
use tracing::{debug, info, warn};

use crate::block::{Judge, block_hash, not_too_far_ahead, proposer_of};
use crate::context::{AtollContext, BlockCommitment, ProposalPart};

use super::{Candidate, Host, TxSource};

/// Parts of one stream, by sequence.
#[derive(Debug, Default)]
pub(crate) struct PartialStream {
    pub(super) parts: BTreeMap<u64, ProposalPart>,
    pub(super) fin: Option<u64>,
    pub(super) bytes: usize,
}

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

impl<T: TxSource> Host<T> {
    /// Adds a part; when its stream completes, judges the block.
    ///
    /// Bounds: a peer holds at most [`MAX_STREAMS_PER_PEER`] incomplete
    /// streams and at most twice the largest block in them (beyond, its own
    /// oldest streams go); all peers together at most [`MAX_STREAMS`] (beyond,
    /// the peer holding the most loses its oldest). A stream whose `Init` is
    /// for a past height or more than [`FUTURE_HEIGHTS`] ahead is dropped.
    pub(super) fn receive_part(
        &mut self,
        publisher: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<AtollContext>> {
        let key = (publisher, msg.stream_id.clone());
        let (max_parts, max_bytes) =
            stream_bounds(self.limits.max_block_size, self.config.part_size);
        if let StreamContent::Data(ProposalPart::Init(init)) = &msg.content {
            let h = init.height.0;
            if !height_window(h, self.height).kept() {
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
        if !complete(
            stream.parts.len(),
            stream.parts.keys().next_back().copied(),
            fin,
        ) {
            return None;
        }
        let parts: Vec<ProposalPart> = self
            .streams
            .remove(&key)
            .map(|s| s.parts.into_values().collect())
            .unwrap_or_default();
        self.stream_order.retain(|k| k != &key);
        match parts_height(&parts).map(|h| height_window(h, self.height)) {
            Some(Window::Current) => self.accept_stream(parts),
            Some(Window::Ahead) => {
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

    pub(super) fn drop_stream(&mut self, key: &(PeerId, StreamId)) {
        self.streams.remove(key);
        self.stream_order.retain(|k| k != key);
    }

    /// Before `peer` opens a stream: drops its own oldest if it holds
    /// [`MAX_STREAMS_PER_PEER`], and the oldest stream among the peers
    /// holding the most if all together hold [`MAX_STREAMS`].
    pub(super) fn make_room_for(&mut self, peer: &PeerId) {
        if let Some(old) = to_evict(&self.stream_order, self.streams.len(), peer) {
            self.drop_stream(&old);
        }
    }

    /// Drops the oldest other streams of the peer of `key` while its streams
    /// hold more than `max` bytes.
    pub(super) fn bound_peer_bytes(&mut self, key: &(PeerId, StreamId), max: usize) {
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
    pub(super) fn accept_stream(
        &mut self,
        parts: Vec<ProposalPart>,
    ) -> Option<ProposedValue<AtollContext>> {
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
}
pub(super) fn parts_height(parts: &[ProposalPart]) -> Option<u64> {
    match parts.first() {
        Some(ProposalPart::Init(i)) => Some(i.height.0),
        _ => None,
    }
}

/// Where a stream's height stands against the current height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Window {
    /// A height already decided: dropped.
    Past,
    /// The current height: judged at once.
    Current,
    /// At most [`FUTURE_HEIGHTS`] ahead: kept until its height starts.
    Ahead,
    /// Further ahead: dropped.
    TooFar,
}

impl Window {
    /// Whether a stream for the height is kept.
    pub(super) fn kept(self) -> bool {
        matches!(self, Self::Current | Self::Ahead)
    }
}

/// Where height `h` stands when the current height is `current`.
pub(super) fn height_window(h: u64, current: u64) -> Window {
    if h < current {
        Window::Past
    } else if h == current {
        Window::Current
    } else if h <= current.saturating_add(FUTURE_HEIGHTS) {
        Window::Ahead
    } else {
        Window::TooFar
    }
}

/// The most parts and data bytes one stream may hold: a largest block cut
/// in `part_size` parts, with room for `Init`, `Fin` and framing.
pub(super) fn stream_bounds(max_block_size: u64, part_size: usize) -> (usize, usize) {
    let max_block = usize::try_from(max_block_size).unwrap_or(usize::MAX);
    (
        (max_block / part_size.max(1)).saturating_add(4),
        max_block.saturating_add(4096),
    )
}

/// Whether a stream holding `parts` parts, the highest at sequence `last`,
/// whose `Fin` came at sequence `fin`, has every part (sequences `0..fin`).
pub(super) fn complete(parts: usize, last: Option<u64>, fin: u64) -> bool {
    u64::try_from(parts).ok() == Some(fin) && last.is_none_or(|k| k < fin)
}

/// The stream to drop before `peer` opens one, the streams open being
/// `order` (oldest first, `open` of them): its own oldest if it holds
/// [`MAX_STREAMS_PER_PEER`]; otherwise, if all together hold
/// [`MAX_STREAMS`], the oldest stream of the peers holding the most.
pub(super) fn to_evict<P: Ord + Copy, S: Clone>(
    order: &VecDeque<(P, S)>,
    open: usize,
    peer: &P,
) -> Option<(P, S)> {
    let held = order.iter().filter(|(p, _)| p == peer).count();
    if held >= MAX_STREAMS_PER_PEER {
        return order.iter().find(|(p, _)| p == peer).cloned();
    }
    if open < MAX_STREAMS {
        return None;
    }
    let mut counts: BTreeMap<P, usize> = BTreeMap::new();
    for (p, _) in order {
        *counts.entry(*p).or_default() += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    order
        .iter()
        .find(|(p, _)| counts.get(p) == Some(&most))
        .cloned()
}

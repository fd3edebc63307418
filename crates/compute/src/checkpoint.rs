//! Storage checkpoints of a runtime's state, so that a node that joins late
//! (or fell far behind) restores a recent round instead of replaying every
//! round from the runtime's genesis.
//!
//! - **Creating.** After round `R` is applied, if the runtime's descriptor
//!   sets `storage.checkpoint_interval` and `R` is a multiple of it, version
//!   `R` of the state is exported ([`atoll_mkvs::Mkvs::export_checkpoint`],
//!   chunks of about `checkpoint_chunk_size` bytes) on a thread of its own,
//!   so the worker does not wait for it. The chunks and their
//!   [`CheckpointInfo`] are written to `checkpoints.redb` in one durable
//!   transaction, which also deletes all but the newest
//!   `checkpoint_num_kept`: a checkpoint is visible whole or not at all.
//! - **Serving.** `runtime_getCheckpoints` lists the [`CheckpointInfo`]s,
//!   `runtime_getCheckpointChunk` serves one chunk.
//! - **Restoring** is [`crate::storage::RuntimeStorage::restore`]: the
//!   checkpoint's header must hash to the past root consensus recorded for
//!   its round, every chunk must match its digest, and the rebuilt state
//!   must have the header's state root.

use std::sync::Arc;

use parking_lot::Mutex;

use atoll_consensus_types::registry::StorageParameters;
use atoll_consensus_types::roothash::{BlockHeader, PastRoot};
use atoll_crypto::Hash;
use atoll_mkvs::{CheckpointMetadata as Metadata, Mkvs};
use atoll_types::Namespace;
use atoll_types::cbor;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

/// round → CBOR [`CheckpointInfo`].
const INFOS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("checkpoints");
/// (round, chunk index) → chunk.
const CHUNKS: TableDefinition<'_, (u64, u32), &[u8]> = TableDefinition::new("chunks");

/// Chunk size when the descriptor says 0.
pub const DEFAULT_CHUNK_SIZE: usize = 1 << 20;
/// Largest chunk size used, whatever the descriptor says: a chunk travels
/// base64-encoded in one JSON-RPC answer (10 MiB at most).
pub const MAX_CHUNK_SIZE: usize = 4 << 20;

/// When and how a node checkpoints a runtime's state (from the runtime's
/// registry descriptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// Rounds between checkpoints (checkpoints of rounds that are
    /// multiples of it).
    pub interval: u64,
    /// How many checkpoints are kept (at least one).
    pub num_kept: u64,
    /// Target chunk size in bytes.
    pub chunk_size: usize,
    /// Export on a thread of its own (a node) or before `apply_round`
    /// returns (tests).
    pub background: bool,
}

impl CheckpointPolicy {
    /// The policy of a descriptor's storage parameters; `None` when it
    /// takes no checkpoints (`checkpoint_interval` 0).
    pub fn from_descriptor(p: &StorageParameters, background: bool) -> Option<Self> {
        if p.checkpoint_interval == 0 {
            return None;
        }
        let chunk_size = match usize::try_from(p.checkpoint_chunk_size) {
            Ok(0) => DEFAULT_CHUNK_SIZE,
            Ok(n) => n.min(MAX_CHUNK_SIZE),
            Err(_) => MAX_CHUNK_SIZE,
        };
        Some(Self {
            interval: p.checkpoint_interval,
            num_kept: p.checkpoint_num_kept.max(1),
            chunk_size,
            background,
        })
    }

    /// Whether round `round` gets a checkpoint.
    pub fn due(&self, round: u64) -> bool {
        self.interval > 0 && round > 0 && round.is_multiple_of(self.interval)
    }
}

/// What a node offers of one checkpoint: the round, its header, and the
/// digest of every chunk (`runtime_getCheckpoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// The round whose state it holds.
    pub round: u64,
    /// That state's root.
    pub root: Hash,
    /// The round's header (consensus recorded its hash as the past root).
    pub header: BlockHeader,
    /// SHA-512/256 of each chunk, in order.
    pub chunks: Vec<Hash>,
}

/// Why a checkpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The checkpoint does not agree with itself or with consensus.
    #[error("checkpoint of round {round}: {why}")]
    Invalid {
        /// The round it claims.
        round: u64,
        /// What is wrong.
        why: &'static str,
    },
}

impl CheckpointInfo {
    /// The MKVS metadata to restore it with.
    pub fn metadata(&self) -> Metadata {
        Metadata {
            namespace: self.header.namespace,
            version: self.round,
            root: self.root,
            chunks: self.chunks.clone(),
        }
    }

    /// Checks the checkpoint against itself and the past root consensus
    /// recorded for its round: header of `runtime` and of this round, with
    /// this state root, hashing to the recorded header hash.
    pub fn verify(&self, runtime: &Namespace, past: &PastRoot) -> Result<(), CheckpointError> {
        let bad = |why| CheckpointError::Invalid {
            round: self.round,
            why,
        };
        if self.header.namespace != *runtime {
            return Err(bad("header of another runtime"));
        }
        if self.header.round != self.round {
            return Err(bad("header of another round"));
        }
        if self.header.state_root != self.root {
            return Err(bad("root differs from the header's state root"));
        }
        if self.root != past.state_root {
            return Err(bad("root differs from the past root consensus recorded"));
        }
        if self.header.hash() != past.header_hash {
            return Err(bad("header differs from the one consensus recorded"));
        }
        if self.chunks.len() > atoll_mkvs::checkpoint::MAX_CHUNKS {
            return Err(bad("too many chunks"));
        }
        Ok(())
    }
}

/// Of the checkpoints peers offer (`(peer, checkpoint)`), those a node
/// whose storage is at round `applied` can restore to catch up to round
/// `target`: newer than `applied`, not past `target`, and matching the past
/// root consensus recorded for their round (`past_root`). Newest first
/// (ties in the order offered), each with the peers offering exactly it.
pub fn usable(
    runtime: &Namespace,
    offers: Vec<(usize, CheckpointInfo)>,
    applied: u64,
    target: u64,
    mut past_root: impl FnMut(u64) -> Option<PastRoot>,
) -> Vec<(CheckpointInfo, Vec<usize>)> {
    let mut out: Vec<(CheckpointInfo, Vec<usize>)> = Vec::new();
    for (peer, info) in offers {
        if info.round <= applied || info.round > target {
            continue;
        }
        let Some(past) = past_root(info.round) else {
            debug!(%runtime, round = info.round, "no past root for the checkpoint's round");
            continue;
        };
        if let Err(e) = info.verify(runtime, &past) {
            warn!(%runtime, peer, error = %e, "a storage peer offers a checkpoint that does not match consensus: ignored");
            continue;
        }
        match out.iter_mut().find(|(i, _)| *i == info) {
            Some((_, peers)) => peers.push(peer),
            None => out.push((info, vec![peer])),
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.0.round));
    out
}

fn db_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A runtime's checkpoints on disk (`checkpoints.redb`), and the exporter.
pub(crate) struct Checkpoints {
    db: redb::Database,
    state: Mkvs,
    policy: Mutex<Option<CheckpointPolicy>>,
    job: Mutex<Job>,
}

/// The background exporter: whether it runs, and the newest round waiting.
#[derive(Default)]
struct Job {
    running: bool,
    pending: Option<BlockHeader>,
}

impl Checkpoints {
    pub(crate) fn new(db: redb::Database, state: Mkvs) -> Result<Self, String> {
        let tx = db.begin_write().map_err(db_err)?;
        tx.open_table(INFOS).map_err(db_err)?;
        tx.open_table(CHUNKS).map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(Self {
            db,
            state,
            policy: Mutex::new(None),
            job: Mutex::new(Job::default()),
        })
    }

    pub(crate) fn set_policy(&self, policy: Option<CheckpointPolicy>) {
        *self.policy.lock() = policy;
    }

    pub(crate) fn policy(&self) -> Option<CheckpointPolicy> {
        *self.policy.lock()
    }

    /// Every checkpoint kept, oldest first.
    pub(crate) fn list(&self) -> Result<Vec<CheckpointInfo>, String> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(INFOS).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(db_err)? {
            let (_, v) = item.map_err(db_err)?;
            out.push(cbor::from_slice(v.value()).map_err(db_err)?);
        }
        Ok(out)
    }

    /// One chunk of the checkpoint of `round`.
    pub(crate) fn chunk(&self, round: u64, index: u32) -> Result<Option<Vec<u8>>, String> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(CHUNKS).map_err(db_err)?;
        Ok(t.get((round, index))
            .map_err(db_err)?
            .map(|v| v.value().to_vec()))
    }

    /// Round `header.round` was applied: checkpoint it if the policy says
    /// so (now, or on the exporter thread).
    pub(crate) fn after_round(self: &Arc<Self>, header: &BlockHeader) {
        let Some(policy) = self.policy() else { return };
        if !policy.due(header.round) {
            return;
        }
        if !policy.background {
            if let Err(e) = self.create(header, &policy) {
                warn!(round = header.round, error = %e, "cannot create a checkpoint");
            }
            return;
        }
        {
            let mut job = self.job.lock();
            if job.running {
                // The exporter takes the newest waiting round when done.
                job.pending = Some(header.clone());
                return;
            }
            job.running = true;
        }
        let me = self.clone();
        let first = header.clone();
        let spawned = std::thread::Builder::new()
            .name("atoll-checkpoint".into())
            .spawn(move || me.export_loop(first));
        if let Err(e) = spawned {
            warn!(error = %e, "cannot start the checkpoint thread");
            self.job.lock().running = false;
        }
    }

    fn export_loop(&self, first: BlockHeader) {
        let mut next = first;
        loop {
            if let Some(policy) = self.policy()
                && let Err(e) = self.create(&next, &policy)
            {
                warn!(round = next.round, error = %e, "cannot create a checkpoint");
            }
            let mut job = self.job.lock();
            match job.pending.take() {
                Some(h) => next = h,
                None => {
                    job.running = false;
                    return;
                }
            }
        }
    }

    /// Exports the state of `header.round` and stores it as a checkpoint,
    /// keeping only the newest `num_kept`, in one durable transaction.
    pub(crate) fn create(
        &self,
        header: &BlockHeader,
        policy: &CheckpointPolicy,
    ) -> Result<CheckpointInfo, String> {
        let (meta, chunks) = self
            .state
            .export_checkpoint(header.namespace, header.round, policy.chunk_size)
            .map_err(db_err)?;
        if meta.root != header.state_root {
            return Err(format!(
                "state of round {} has root {}, its header says {}",
                header.round, meta.root, header.state_root
            ));
        }
        let info = CheckpointInfo {
            round: header.round,
            root: meta.root,
            header: header.clone(),
            chunks: meta.chunks,
        };
        let bytes = cbor::to_vec(&info).map_err(db_err)?;
        let tx = self.db.begin_write().map_err(db_err)?;
        {
            let mut t = tx.open_table(CHUNKS).map_err(db_err)?;
            for (i, c) in chunks.iter().enumerate() {
                let i = u32::try_from(i).map_err(db_err)?;
                t.insert((header.round, i), c.as_slice()).map_err(db_err)?;
            }
            let mut infos = tx.open_table(INFOS).map_err(db_err)?;
            infos
                .insert(header.round, bytes.as_slice())
                .map_err(db_err)?;
            let rounds: Vec<u64> = infos
                .iter()
                .map_err(db_err)?
                .map(|item| item.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            let keep = usize::try_from(policy.num_kept).unwrap_or(usize::MAX);
            let drop = rounds.len().saturating_sub(keep);
            for r in rounds.iter().take(drop) {
                infos.remove(*r).map_err(db_err)?;
                let doomed: Vec<(u64, u32)> = t
                    .range((*r, 0)..=(*r, u32::MAX))
                    .map_err(db_err)?
                    .map(|item| item.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()
                    .map_err(db_err)?;
                for k in doomed {
                    t.remove(k).map_err(db_err)?;
                }
            }
        }
        tx.commit().map_err(db_err)?;
        info!(
            runtime = %header.namespace,
            round = header.round,
            chunks = info.chunks.len(),
            "checkpoint created"
        );
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use atoll_consensus_types::roothash::HeaderType;

    use super::*;

    fn info() -> CheckpointInfo {
        let header = BlockHeader {
            namespace: Namespace([3; 32]),
            round: 10,
            timestamp: 5,
            header_type: HeaderType::Normal,
            previous_hash: Hash::digest(b"prev"),
            io_root: Hash::digest(b"io"),
            state_root: Hash::digest(b"state"),
            messages_hash: Hash::empty(),
        };
        CheckpointInfo {
            round: 10,
            root: header.state_root,
            header,
            chunks: vec![Hash::digest(b"c0")],
        }
    }

    #[test]
    fn a_checkpoint_must_match_the_past_root_consensus_recorded() {
        let good = info();
        let rt = good.header.namespace;
        let past = PastRoot::of(&good.header);
        assert_eq!(good.verify(&rt, &past), Ok(()));
        assert!(good.verify(&Namespace([4; 32]), &past).is_err());

        let mut other_round = good.clone();
        other_round.round = 11;
        assert!(other_round.verify(&rt, &past).is_err());

        // A root consistent with a forged header, but not with consensus.
        let mut forged = good.clone();
        forged.header.state_root = Hash::digest(b"forged");
        forged.root = forged.header.state_root;
        assert!(forged.verify(&rt, &past).is_err());
        // The same root with another header (e.g. a forged timestamp).
        let mut forged = good.clone();
        forged.header.timestamp = 6;
        assert!(forged.verify(&rt, &past).is_err());
        // Root and header disagree.
        let mut split = good.clone();
        split.root = Hash::digest(b"other");
        assert!(split.verify(&rt, &past).is_err());
    }

    #[test]
    fn only_checkpoints_matching_consensus_and_in_range_are_usable() {
        let good = info(); // round 10
        let rt = good.header.namespace;
        let mut newer = good.clone();
        newer.round = 15;
        newer.header.round = 15;
        let mut forged = good.clone();
        forged.header.timestamp = 99;
        let offers = vec![
            (0, forged.clone()),
            (1, good.clone()),
            (2, newer.clone()),
            (3, good.clone()),
        ];
        let past = |round: u64| match round {
            10 => Some(PastRoot::of(&good.header)),
            15 => Some(PastRoot::of(&newer.header)),
            _ => None,
        };
        // Newest first; peers offering the same checkpoint grouped; the
        // forged one left out.
        let u = usable(&rt, offers.clone(), 0, 20, past);
        assert_eq!(
            u,
            vec![(newer.clone(), vec![2]), (good.clone(), vec![1, 3])]
        );
        // Past the target, or not newer than what is applied: left out.
        assert_eq!(usable(&rt, offers.clone(), 0, 12, past).len(), 1);
        assert!(usable(&rt, offers.clone(), 15, 20, past).is_empty());
        // No past root (pruned, or not finalized here yet): left out.
        assert!(usable(&rt, offers, 0, 20, |_| None).is_empty());
    }

    #[test]
    fn policy_from_the_descriptor() {
        let p = |interval, kept, size| StorageParameters {
            checkpoint_interval: interval,
            checkpoint_num_kept: kept,
            checkpoint_chunk_size: size,
        };
        assert_eq!(
            CheckpointPolicy::from_descriptor(&p(0, 2, 1 << 20), true),
            None
        );
        let c = CheckpointPolicy::from_descriptor(&p(100, 0, 0), false).unwrap();
        assert_eq!(
            (c.interval, c.num_kept, c.chunk_size),
            (100, 1, DEFAULT_CHUNK_SIZE)
        );
        let c = CheckpointPolicy::from_descriptor(&p(5, 2, 1 << 30), false).unwrap();
        assert_eq!(c.chunk_size, MAX_CHUNK_SIZE);
        assert!(!c.due(0) && !c.due(4) && c.due(5) && c.due(10));
    }

    #[test]
    fn info_round_trips_through_json_and_cbor() {
        let i = info();
        let json = serde_json::to_value(&i).unwrap();
        assert_eq!(serde_json::from_value::<CheckpointInfo>(json).unwrap(), i);
        let bytes = cbor::to_vec(&i).unwrap();
        assert_eq!(cbor::from_slice::<CheckpointInfo>(&bytes).unwrap(), i);
    }
}

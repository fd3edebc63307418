//! The runtime storage worker's store: the runtime's state (an MKVS
//! namespace, one version per round) and the record of every finalized
//! round (header, transactions, results, events, write log).
//!
//! A round is applied only when consensus has finalized its header, and only
//! if applying its write log on the previous round's state gives exactly the
//! header's state root, and its transactions and results give exactly the
//! header's I/O root. So a record fetched from an untrusted peer is as good
//! as one computed locally: a peer can refuse to answer, not lie.
//!
//! **Crash safety.** The round record is committed (redb, durable) before the
//! state version; on open, a record whose state version is missing is applied
//! again from its write log. So a finalized round is never lost once
//! [`RuntimeStorage::apply_round`] returns.
//!
//! **What this node signed.** The executor records the commitments it signs
//! for an open round (and its own proposal) here, durably, before it sends
//! them; after a restart it sends the same ones again instead of signing
//! different ones (which would be equivocation). The entries of a round go
//! when the round is applied.
//!
//! **Checkpoints** ([`crate::checkpoint`]) are taken every
//! `checkpoint_interval` rounds. [`RuntimeStorage::restore`] replaces the
//! state with a checkpoint's (checked against the past root consensus
//! recorded): a node restored at round `R` has no round records before `R`
//! (unless it had applied them itself earlier), and serves "not found" for
//! them. The restore is crash-safe: a `restoring` marker is written before
//! the state is replaced (one atomic MKVS write), and on open the marker is
//! either completed (the state holds the restored round) or discarded (it
//! does not, and the old state is intact).

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::checkpoint::{CheckpointInfo, CheckpointPolicy, Checkpoints};

use atoll_consensus_types::roothash::{BlockHeader, HeaderType};
use atoll_crypto::Hash;
use atoll_mkvs::state_store::MkvsView;
use atoll_mkvs::{LogEntry, Mkvs, MkvsError, Options};
use atoll_runtime_host::host::{ProviderError, StorageProvider};
use atoll_runtime_host::protocol::{Entries, StateRoot, WriteLogEntry};
use atoll_types::cbor::{self, Value};
use atoll_types::{Height, Namespace};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// round → CBOR [`RoundRecord`].
const ROUNDS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("rounds");
/// transaction hash → (round, index).
const TXS: TableDefinition<'_, &[u8], (u64, u32)> = TableDefinition::new("txs");
/// round → what this node signed for the round (executor commitments and
/// its own proposal; opaque here, see [`RuntimeStorage::set_signed`]).
const SIGNED: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("signed");
/// [`RESTORING`] and [`RESTORED`] → CBOR [`BlockHeader`].
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// The header of a checkpoint restore in progress.
const RESTORING: &str = "restoring";
/// The header of the last checkpoint restored.
const RESTORED: &str = "restored";

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database failed.
    #[error("runtime storage: {0}")]
    Db(String),
    /// The state tree failed.
    #[error("runtime state: {0}")]
    Mkvs(#[from] MkvsError),
    /// A round does not follow the last applied one.
    #[error("round {got} does not follow round {last}")]
    OutOfOrder {
        /// The last applied round.
        last: u64,
        /// The round offered.
        got: u64,
    },
    /// The record does not match the finalized header.
    #[error("round {round} record does not match its header: {why}")]
    Mismatch {
        /// The round.
        round: u64,
        /// What differs.
        why: String,
    },
    /// A checkpoint cannot be restored here.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

/// Why the state of a round cannot be read here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateAtError {
    /// The round is not finalized (or not applied here) yet.
    #[error("round {round} is beyond the latest round {latest}")]
    Ahead {
        /// The round asked for.
        round: u64,
        /// The last applied round.
        latest: u64,
    },
    /// This node does not hold that round's state (it restored a later
    /// checkpoint, or the version was pruned).
    #[error("the state of round {round} is not available on this node{}",
        .earliest.map(|e| format!(" (its state starts at round {e})")).unwrap_or_default())]
    Unavailable {
        /// The round asked for.
        round: u64,
        /// The earliest round whose state is held, if any.
        earliest: Option<u64>,
    },
    /// The storage failed.
    #[error("{0}")]
    Storage(String),
}

impl From<StorageError> for StateAtError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<MkvsError> for StateAtError {
    fn from(e: MkvsError) -> Self {
        StorageError::from(e).into()
    }
}

/// A finalized round whose state can be read: what a query at that round
/// runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateAt {
    /// The round's header.
    pub header: BlockHeader,
    /// The consensus height the round executed at (0 when its record does
    /// not say: a round that ran nothing, or the genesis or restored round).
    pub consensus_height: u64,
    /// Its state root (version = round).
    pub root: StateRoot,
}

fn db(e: impl std::fmt::Display) -> StorageError {
    StorageError::Db(e.to_string())
}

/// Everything about one finalized round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// The header consensus finalized.
    pub header: BlockHeader,
    /// The consensus height the round was executed at (0 for rounds that
    /// ran nothing).
    pub consensus_height: u64,
    /// The batch, in order.
    pub txs: Vec<serde_bytes::ByteBuf>,
    /// One result per transaction (runtime-defined CBOR).
    pub results: Vec<Value>,
    /// The round's other events (runtime-defined CBOR).
    pub events: Vec<Value>,
    /// The messages the round emitted to consensus (CBOR).
    pub messages: Vec<Value>,
    /// The changes to the state.
    pub write_log: Vec<WriteLogEntry>,
}

impl RoundRecord {
    /// The record of a round that changed nothing (failed, or an epoch
    /// transition).
    pub fn empty(header: BlockHeader) -> Self {
        Self {
            header,
            consensus_height: 0,
            txs: Vec::new(),
            results: Vec::new(),
            events: Vec::new(),
            messages: Vec::new(),
            write_log: Vec::new(),
        }
    }
}

/// The I/O root of a batch: SHA-512/256 of the canonical CBOR of
/// `[transactions, results]`. It commits to what ran and what came out.
pub fn io_root(txs: &[serde_bytes::ByteBuf], results: &[Value]) -> Hash {
    if txs.is_empty() && results.is_empty() {
        return Hash::empty();
    }
    cbor::to_vec(&(txs, results))
        .map(|b| Hash::digest(&b))
        .unwrap_or_default()
}

fn to_log(entries: &[WriteLogEntry]) -> Vec<LogEntry> {
    entries
        .iter()
        .map(|e| LogEntry {
            key: e.key.clone(),
            value: e.value.clone(),
        })
        .collect()
}

/// A runtime's state and round records.
#[derive(Clone)]
pub struct RuntimeStorage {
    id: Namespace,
    genesis: BlockHeader,
    state: Mkvs,
    db: Arc<redb::Database>,
    consensus: Option<Mkvs>,
    last: Arc<Mutex<BlockHeader>>,
    ran: Arc<std::sync::atomic::AtomicBool>,
    checkpoints: Arc<Checkpoints>,
}

impl std::fmt::Debug for RuntimeStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeStorage")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl RuntimeStorage {
    /// Opens (or creates) the storage of runtime `genesis.namespace` in
    /// `dir`. `genesis` is the runtime's genesis block header (round and
    /// state root from its registry descriptor). `consensus` is the consensus
    /// state database, for the runtime's reads of consensus state.
    pub fn open(
        dir: &Path,
        genesis: BlockHeader,
        consensus: Option<Mkvs>,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir).map_err(db)?;
        let state = Mkvs::open(dir.join("state"), Options::default())?;
        let database = redb::Database::create(dir.join("rounds.redb")).map_err(db)?;
        let checkpoints = redb::Database::create(dir.join("checkpoints.redb")).map_err(db)?;
        Self::with(genesis, state, database, checkpoints, consensus)
    }

    /// Storage in memory (tests and tools).
    pub fn in_memory(genesis: BlockHeader, consensus: Option<Mkvs>) -> Result<Self, StorageError> {
        let mem = || {
            redb::Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .map_err(db)
        };
        Self::with(genesis, Mkvs::in_memory(), mem()?, mem()?, consensus)
    }

    fn with(
        genesis: BlockHeader,
        state: Mkvs,
        database: redb::Database,
        checkpoints: redb::Database,
        consensus: Option<Mkvs>,
    ) -> Result<Self, StorageError> {
        let tx = database.begin_write().map_err(db)?;
        tx.open_table(ROUNDS).map_err(db)?;
        tx.open_table(TXS).map_err(db)?;
        tx.open_table(META).map_err(db)?;
        tx.open_table(SIGNED).map_err(db)?;
        tx.commit().map_err(db)?;
        let checkpoints = Checkpoints::new(checkpoints, state.clone()).map_err(StorageError::Db)?;
        let s = Self {
            id: genesis.namespace,
            last: Arc::new(Mutex::new(genesis.clone())),
            ran: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            genesis,
            state,
            db: Arc::new(database),
            consensus,
            checkpoints: Arc::new(checkpoints),
        };
        s.recover()?;
        Ok(s)
    }

    fn meta_header(&self, key: &str) -> Result<Option<BlockHeader>, StorageError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(META).map_err(db)?;
        match t.get(key).map_err(db)? {
            Some(v) => Ok(Some(cbor::from_slice(v.value()).map_err(db)?)),
            None => Ok(None),
        }
    }

    /// Sets (`Some`) or deletes (`None`) meta entries in one durable write.
    fn write_meta(&self, entries: &[(&str, Option<&BlockHeader>)]) -> Result<(), StorageError> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(META).map_err(db)?;
            for (k, v) in entries {
                match v {
                    Some(h) => {
                        let bytes = cbor::to_vec(h).map_err(db)?;
                        t.insert(*k, bytes.as_slice()).map_err(db)?;
                    }
                    None => {
                        t.remove(*k).map_err(db)?;
                    }
                }
            }
        }
        tx.commit().map_err(db)
    }

    /// Whether the state holds round `h` with `h`'s state root.
    fn state_is_at(&self, h: &BlockHeader) -> Result<bool, StorageError> {
        if self.state.versions(self.id)?.map(|(_, l)| l) != Some(h.round) {
            return Ok(false);
        }
        Ok(self.state.root_hash(self.id, h.round)? == h.state_root)
    }

    /// Re-applies the state of recorded rounds whose state version is
    /// missing (a crash between the two writes), completes or discards a
    /// checkpoint restore a crash interrupted, and loads the last header.
    fn recover(&self) -> Result<(), StorageError> {
        if let Some(h) = self.meta_header(RESTORING)? {
            if self.state_is_at(&h)? {
                self.write_meta(&[(RESTORED, Some(&h)), (RESTORING, None)])?;
            } else {
                self.write_meta(&[(RESTORING, None)])?;
            }
        }
        let restored = self.meta_header(RESTORED)?;
        let latest_version = self.state.versions(self.id)?.map(|(_, l)| l);
        let records: Vec<RoundRecord> = {
            let tx = self.db.begin_read().map_err(db)?;
            let t = tx.open_table(ROUNDS).map_err(db)?;
            let from = latest_version.map_or(0, |v| v.saturating_add(1));
            let mut out = Vec::new();
            for item in t.range(from..).map_err(db)? {
                let (_, v) = item.map_err(db)?;
                out.push(cbor::from_slice(v.value()).map_err(db)?);
            }
            out
        };
        for r in &records {
            self.commit_state(r)?;
        }
        let last = self.last_record()?.map(|r| r.header);
        let last = match (last, restored) {
            (Some(l), Some(r)) => Some(if r.round > l.round { r } else { l }),
            (l, r) => l.or(r),
        };
        if let Some(h) = last {
            if self.restored_header_ran(&h) {
                self.ran.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            *self.last.lock() = h;
        }
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(ROUNDS).map_err(db)?;
        for item in t.iter().map_err(db)?.rev() {
            let (_, v) = item.map_err(db)?;
            let r: RoundRecord = cbor::from_slice(v.value()).map_err(db)?;
            if r.header.header_type == HeaderType::Normal {
                self.ran.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
        }
        Ok(())
    }

    /// Whether a round restored from a checkpoint (not a record) shows that
    /// the runtime has run: a normal round, or a state other than genesis.
    /// (A wrong `false` costs one empty round, which is harmless.)
    fn restored_header_ran(&self, h: &BlockHeader) -> bool {
        h.round > self.genesis.round
            && (h.header_type == HeaderType::Normal || h.state_root != self.genesis.state_root)
    }

    /// Whether any round of the runtime has run (a normal round applied):
    /// until then its genesis has not been applied.
    pub fn has_run(&self) -> bool {
        self.ran.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn last_record(&self) -> Result<Option<RoundRecord>, StorageError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(ROUNDS).map_err(db)?;
        match t.last().map_err(db)? {
            Some((_, v)) => Ok(Some(cbor::from_slice(v.value()).map_err(db)?)),
            None => Ok(None),
        }
    }

    /// The runtime's id.
    pub fn id(&self) -> Namespace {
        self.id
    }

    /// The header of the last applied round (the genesis header before any).
    pub fn last_header(&self) -> BlockHeader {
        self.last.lock().clone()
    }

    /// The state root to execute the next round on.
    pub fn state_root(&self) -> StateRoot {
        let h = self.last_header();
        StateRoot {
            version: h.round,
            hash: h.state_root,
        }
    }

    /// The state root of `log` applied on the last round's state, without
    /// storing anything.
    pub fn root_after(&self, log: &[WriteLogEntry]) -> Result<Hash, StorageError> {
        let mut ov = self.overlay_after(log)?;
        let root = ov.root_hash()?;
        ov.discard();
        Ok(root)
    }

    /// `log` applied on an overlay of the last round's state.
    fn overlay_after(&self, log: &[WriteLogEntry]) -> Result<atoll_mkvs::Overlay, StorageError> {
        let last = self.last_header();
        if self.state.versions(self.id)?.is_none() && last.state_root != Hash::empty() {
            return Err(StorageError::Mismatch {
                round: last.round,
                why: "the genesis state is not available locally".into(),
            });
        }
        let mut ov = self.state.overlay(self.id)?;
        for e in log {
            match &e.value {
                Some(v) => ov.insert(&e.key, v)?,
                None => {
                    ov.remove(&e.key)?;
                }
            }
        }
        Ok(ov)
    }

    /// Applies a finalized round after checking it against its header (see
    /// the module documentation).
    pub fn apply_round(&self, record: &RoundRecord) -> Result<(), StorageError> {
        let last = self.last_header();
        let h = &record.header;
        if h.round != last.round.saturating_add(1) {
            return Err(StorageError::OutOfOrder {
                last: last.round,
                got: h.round,
            });
        }
        let mismatch = |why: &str| StorageError::Mismatch {
            round: h.round,
            why: why.into(),
        };
        if h.namespace != self.id {
            return Err(mismatch("another runtime"));
        }
        if h.previous_hash != last.hash() {
            return Err(mismatch("previous hash"));
        }
        if h.header_type != HeaderType::Normal
            && (!record.txs.is_empty() || !record.write_log.is_empty())
        {
            return Err(mismatch("a round that ran nothing carries a batch"));
        }
        if h.header_type == HeaderType::Normal && io_root(&record.txs, &record.results) != h.io_root
        {
            return Err(mismatch("I/O root"));
        }
        // The write log is applied once: the overlay that proves the root is
        // the one committed below.
        let mut ov = self.overlay_after(&record.write_log)?;
        if ov.root_hash()? != h.state_root {
            ov.discard();
            return Err(mismatch("state root"));
        }
        // The record first: once it is durable the round is never lost.
        let bytes = cbor::to_vec(record).map_err(db)?;
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut rounds = tx.open_table(ROUNDS).map_err(db)?;
            rounds.insert(h.round, bytes.as_slice()).map_err(db)?;
            let mut txs = tx.open_table(TXS).map_err(db)?;
            for (i, raw) in record.txs.iter().enumerate() {
                let hash = Hash::digest(raw);
                txs.insert(
                    hash.as_bytes().as_slice(),
                    (h.round, u32::try_from(i).unwrap_or(u32::MAX)),
                )
                .map_err(db)?;
            }
            // What was signed for this round and earlier ones is spent.
            let mut signed = tx.open_table(SIGNED).map_err(db)?;
            signed.retain_in(..=h.round, |_, _| false).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        ov.commit(h.round)?;
        *self.last.lock() = h.clone();
        if h.header_type == HeaderType::Normal {
            self.ran.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.checkpoints.after_round(h);
        Ok(())
    }

    /// What this node recorded as signed for the open round `round`
    /// ([`Self::set_signed`]), if anything.
    pub fn signed(&self, round: u64) -> Result<Option<Vec<u8>>, StorageError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(SIGNED).map_err(db)?;
        Ok(t.get(round).map_err(db)?.map(|v| v.value().to_vec()))
    }

    /// Records, durably, what this node signed for the open round `round`
    /// (replacing what was recorded for it). Call it before sending what
    /// was signed: once it returns, a restart finds it. Rounds up to the
    /// last applied one are refused (and forgotten as rounds apply).
    pub fn set_signed(&self, round: u64, bytes: &[u8]) -> Result<(), StorageError> {
        let last = self.last_header().round;
        if round <= last {
            return Err(StorageError::OutOfOrder { last, got: round });
        }
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(SIGNED).map_err(db)?;
            t.insert(round, bytes).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// Sets how this runtime's state is checkpointed (`None`: never).
    pub fn set_checkpoint_policy(&self, policy: Option<CheckpointPolicy>) {
        self.checkpoints.set_policy(policy);
    }

    /// How this runtime's state is checkpointed.
    pub fn checkpoint_policy(&self) -> Option<CheckpointPolicy> {
        self.checkpoints.policy()
    }

    /// The checkpoints kept here, oldest first.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointInfo>, StorageError> {
        self.checkpoints.list().map_err(StorageError::Db)
    }

    /// One chunk of the checkpoint of `round`.
    pub fn checkpoint_chunk(
        &self,
        round: u64,
        index: u32,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.checkpoints
            .chunk(round, index)
            .map_err(StorageError::Db)
    }

    /// Checkpoints the state of the last applied round now, whatever the
    /// policy's interval (tools and tests).
    pub fn create_checkpoint(&self) -> Result<CheckpointInfo, StorageError> {
        let policy = self
            .checkpoints
            .policy()
            .ok_or_else(|| StorageError::Checkpoint("no checkpoint policy".into()))?;
        self.checkpoints
            .create(&self.last_header(), &policy)
            .map_err(StorageError::Checkpoint)
    }

    /// The round of the last checkpoint restored here, if any.
    pub fn restored_round(&self) -> Result<Option<u64>, StorageError> {
        Ok(self.meta_header(RESTORED)?.map(|h| h.round))
    }

    /// Replaces the state with a checkpoint's, and makes its header the last
    /// applied round. `info` must already be checked against the past root
    /// consensus recorded ([`CheckpointInfo::verify`]); here the chunks are
    /// checked against their digests and the rebuilt state against the
    /// header's state root. The round must be newer than the last applied
    /// one. On any error nothing changes.
    pub fn restore(&self, info: &CheckpointInfo, chunks: &[Vec<u8>]) -> Result<(), StorageError> {
        if chunks.len() != info.chunks.len() {
            return Err(StorageError::Checkpoint(format!(
                "round {}: wrong number of chunks",
                info.round
            )));
        }
        self.restore_streamed(info, chunks.iter().map(Vec::as_slice))
    }

    /// [`RuntimeStorage::restore`] with the chunks as they arrive: each is
    /// checked and added to the tree being rebuilt, then dropped, so the
    /// chunks are never all held at once. Fewer chunks than the checkpoint
    /// lists (a fetch that gave up) fail the restore, and nothing changes.
    pub fn restore_streamed<C: AsRef<[u8]>>(
        &self,
        info: &CheckpointInfo,
        chunks: impl IntoIterator<Item = C>,
    ) -> Result<(), StorageError> {
        let h = &info.header;
        let bad = |why: &str| StorageError::Checkpoint(format!("round {}: {why}", info.round));
        if h.namespace != self.id {
            return Err(bad("another runtime"));
        }
        if h.round != info.round || h.state_root != info.root {
            return Err(bad("header does not match the checkpoint"));
        }
        let last = self.last_header();
        if h.round <= last.round {
            return Err(StorageError::OutOfOrder {
                last: last.round,
                got: h.round,
            });
        }
        let meta = info.metadata();
        let replace = self.state.versions(self.id)?.is_some();
        // Check every chunk and rebuild the tree before anything is written.
        let mut restorer = if replace {
            self.state
                .restore_checkpoint_replacing(&meta, h.state_root)?
        } else {
            self.state.restore_checkpoint(&meta, h.state_root)?
        };
        for c in chunks {
            restorer.add_chunk(c.as_ref())?;
        }
        if restorer.next_chunk() != info.chunks.len() {
            return Err(bad("wrong number of chunks"));
        }
        self.write_meta(&[(RESTORING, Some(h))])?;
        match restorer.finish() {
            Ok(_) => {}
            Err(e) => {
                self.write_meta(&[(RESTORING, None)])?;
                return Err(e.into());
            }
        }
        self.write_meta(&[(RESTORED, Some(h)), (RESTORING, None)])?;
        if self.restored_header_ran(h) {
            self.ran.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        *self.last.lock() = h.clone();
        Ok(())
    }

    fn commit_state(&self, record: &RoundRecord) -> Result<(), StorageError> {
        let base = self.state.versions(self.id)?.map(|(_, l)| l);
        self.state.apply_write_log(
            self.id,
            base,
            record.header.round,
            &to_log(&record.write_log),
            record.header.state_root,
        )?;
        Ok(())
    }

    /// The record of a round (`None` if not applied here).
    pub fn round(&self, round: u64) -> Result<Option<RoundRecord>, StorageError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(ROUNDS).map_err(db)?;
        match t.get(round).map_err(db)? {
            Some(v) => Ok(Some(cbor::from_slice(v.value()).map_err(db)?)),
            None => Ok(None),
        }
    }

    /// The state of finalized round `round`, if this node holds it: the
    /// round's header (from its record; the genesis header for the genesis
    /// round; the restored header for a restored round without a record)
    /// and its state version, which must exist with the header's root.
    /// State versions are kept for every applied round (nothing prunes
    /// them yet); a node that restored a checkpoint at round `R` holds none
    /// before `R`.
    pub fn state_at(&self, round: u64) -> Result<StateAt, StateAtError> {
        let last = self.last_header();
        if round > last.round {
            return Err(StateAtError::Ahead {
                round,
                latest: last.round,
            });
        }
        let versions = self.state.versions(self.id)?;
        let unavailable = || StateAtError::Unavailable {
            round,
            earliest: versions.map(|(e, _)| e),
        };
        let (header, consensus_height) = match self.round(round)? {
            Some(r) => (r.header, r.consensus_height),
            None if round == last.round => (last, 0),
            None if round == self.genesis.round => (self.genesis.clone(), 0),
            None => match self.meta_header(RESTORED)? {
                Some(h) if h.round == round => (h, 0),
                _ => return Err(unavailable()),
            },
        };
        let held = match versions {
            // No state yet: only an empty root reads (as empty).
            None => header.state_root == Hash::empty(),
            Some((earliest, latest)) if (earliest..=latest).contains(&round) => {
                match self.state.root_hash(self.id, round) {
                    Ok(root) => root == header.state_root,
                    Err(MkvsError::RootNotFound { .. } | MkvsError::VersionPruned { .. }) => false,
                    Err(e) => return Err(StorageError::from(e).into()),
                }
            }
            Some(_) => false,
        };
        if !held {
            return Err(unavailable());
        }
        let root = StateRoot {
            version: round,
            hash: header.state_root,
        };
        Ok(StateAt {
            header,
            consensus_height,
            root,
        })
    }

    /// Where a transaction was included: (round, index).
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<(u64, u32)>, StorageError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(TXS).map_err(db)?;
        Ok(t.get(hash.as_bytes().as_slice())
            .map_err(db)?
            .map(|v| v.value()))
    }

    /// The genesis header.
    pub fn genesis(&self) -> &BlockHeader {
        &self.genesis
    }

    fn tree(&self, root: &StateRoot) -> Result<Option<atoll_mkvs::Tree>, ProviderError> {
        if self.state.versions(self.id).map_err(perr)?.is_none() {
            if root.hash == Hash::empty() {
                return Ok(None);
            }
            return Err(ProviderError::UnknownRoot(*root));
        }
        let t = self
            .state
            .tree(self.id, root.version)
            .map_err(|_| ProviderError::UnknownRoot(*root))?;
        if t.root_hash() != root.hash {
            return Err(ProviderError::UnknownRoot(*root));
        }
        Ok(Some(t))
    }
}

fn perr(e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Other(e.to_string())
}

impl StorageProvider for RuntimeStorage {
    fn get(&self, root: &StateRoot, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
        match self.tree(root)? {
            Some(t) => t.get(key).map_err(perr),
            None => Ok(None),
        }
    }

    fn iterate(
        &self,
        root: &StateRoot,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, ProviderError> {
        let Some(t) = self.tree(root)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for kv in t.iter_from(start).map_err(perr)? {
            let (k, v) = kv.map_err(perr)?;
            if end.is_some_and(|e| k.as_slice() >= e) || out.len() >= limit {
                break;
            }
            out.push((k, v));
        }
        Ok(out)
    }

    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
        use atoll_state::Store;
        let Some(db) = &self.consensus else {
            return Err(ProviderError::Other("no consensus state here".into()));
        };
        let view = MkvsView::at(db, height.0).map_err(|_| ProviderError::UnknownHeight(height))?;
        view.get(key).map_err(perr)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn genesis() -> BlockHeader {
        BlockHeader {
            namespace: Namespace([7; 32]),
            round: 0,
            timestamp: 0,
            header_type: HeaderType::Normal,
            previous_hash: Hash::empty(),
            io_root: Hash::empty(),
            state_root: Hash::empty(),
            messages_hash: Hash::empty(),
        }
    }

    fn entry(k: &[u8], v: Option<&[u8]>) -> WriteLogEntry {
        WriteLogEntry {
            key: k.to_vec(),
            value: v.map(<[u8]>::to_vec),
        }
    }

    fn next(s: &RuntimeStorage, log: Vec<WriteLogEntry>, txs: Vec<&[u8]>) -> RoundRecord {
        let prev = s.last_header();
        let txs: Vec<serde_bytes::ByteBuf> = txs
            .into_iter()
            .map(|t| serde_bytes::ByteBuf::from(t.to_vec()))
            .collect();
        let results: Vec<Value> = txs.iter().map(|_| Value::Bool(true)).collect();
        RoundRecord {
            header: BlockHeader {
                namespace: prev.namespace,
                round: prev.round + 1,
                timestamp: 1,
                header_type: HeaderType::Normal,
                previous_hash: prev.hash(),
                io_root: io_root(&txs, &results),
                state_root: s.root_after(&log).unwrap(),
                messages_hash: Hash::empty(),
            },
            consensus_height: 5,
            txs,
            results,
            events: vec![],
            messages: vec![],
            write_log: log,
        }
    }

    #[test]
    fn rounds_apply_serve_reads_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        let r1 = next(&s, vec![entry(b"a", Some(b"1"))], vec![b"tx1"]);
        s.apply_round(&r1).unwrap();
        let r2 = next(
            &s,
            vec![entry(b"b", Some(b"2")), entry(b"a", None)],
            vec![b"tx2"],
        );
        s.apply_round(&r2).unwrap();
        assert_eq!(s.last_header(), r2.header);
        let root1 = StateRoot {
            version: 1,
            hash: r1.header.state_root,
        };
        let root2 = s.state_root();
        assert_eq!(s.get(&root1, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get(&root2, b"a").unwrap(), None);
        assert_eq!(s.iterate(&root2, b"", None, 10).unwrap().len(), 1);
        assert!(
            s.get(
                &StateRoot {
                    version: 2,
                    hash: Hash::empty()
                },
                b"a"
            )
            .is_err()
        );
        assert_eq!(s.tx_location(&Hash::digest(b"tx2")).unwrap(), Some((2, 0)));
        drop(s);
        let s = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        assert_eq!(s.last_header(), r2.header);
        assert_eq!(s.round(1).unwrap(), Some(r1));
        assert_eq!(s.get(&root2, b"b").unwrap(), Some(b"2".to_vec()));
    }

    #[test]
    fn a_record_that_does_not_match_its_header_changes_nothing() {
        let s = RuntimeStorage::in_memory(genesis(), None).unwrap();
        let good = next(&s, vec![entry(b"a", Some(b"1"))], vec![b"tx"]);
        let mut bad = good.clone();
        bad.write_log = vec![entry(b"a", Some(b"2"))];
        assert!(matches!(
            s.apply_round(&bad),
            Err(StorageError::Mismatch { .. })
        ));
        let mut bad = good.clone();
        bad.results = vec![Value::Bool(false)];
        assert!(matches!(
            s.apply_round(&bad),
            Err(StorageError::Mismatch { .. })
        ));
        let mut bad = good.clone();
        bad.header.round = 2;
        assert!(matches!(
            s.apply_round(&bad),
            Err(StorageError::OutOfOrder { .. })
        ));
        assert_eq!(s.last_header(), genesis());
        s.apply_round(&good).unwrap();
        assert_eq!(s.last_header(), good.header);
    }

    #[test]
    fn a_failed_round_keeps_the_state() {
        let s = RuntimeStorage::in_memory(genesis(), None).unwrap();
        let r1 = next(&s, vec![entry(b"a", Some(b"1"))], vec![]);
        s.apply_round(&r1).unwrap();
        let prev = s.last_header();
        let failed = BlockHeader {
            round: 2,
            header_type: HeaderType::RoundFailed,
            previous_hash: prev.hash(),
            io_root: Hash::empty(),
            ..prev.clone()
        };
        s.apply_round(&RoundRecord::empty(failed.clone())).unwrap();
        assert_eq!(s.state_root().version, 2);
        assert_eq!(s.get(&s.state_root(), b"a").unwrap(), Some(b"1".to_vec()));
    }

    fn policy(interval: u64, kept: u64) -> CheckpointPolicy {
        CheckpointPolicy {
            interval,
            num_kept: kept,
            chunk_size: 512,
            background: false,
        }
    }

    /// Applies `n` more rounds, each writing 20 keys (and deleting one).
    fn run_rounds(s: &RuntimeStorage, n: u64) -> Vec<RoundRecord> {
        let mut out = Vec::new();
        for _ in 0..n {
            let round = s.last_header().round + 1;
            let mut log: Vec<WriteLogEntry> = (0..20u64)
                .map(|i| {
                    let k = format!("key-{round:04}-{i:02}");
                    entry(k.as_bytes(), Some(&[round as u8; 24]))
                })
                .collect();
            if round > 1 {
                let gone = format!("key-{:04}-00", round - 1);
                log.push(entry(gone.as_bytes(), None));
            }
            log.sort_by(|a, b| a.key.cmp(&b.key));
            let tx = format!("tx{round}");
            let r = next(s, log, vec![tx.as_bytes()]);
            s.apply_round(&r).unwrap();
            out.push(r);
        }
        out
    }

    fn chunks_of(s: &RuntimeStorage, info: &CheckpointInfo) -> Vec<Vec<u8>> {
        (0..info.chunks.len() as u32)
            .map(|i| s.checkpoint_chunk(info.round, i).unwrap().unwrap())
            .collect()
    }

    #[test]
    fn checkpoints_are_taken_at_the_interval_and_pruned_to_num_kept() {
        let s = RuntimeStorage::in_memory(genesis(), None).unwrap();
        s.set_checkpoint_policy(Some(policy(3, 2)));
        run_rounds(&s, 10);
        let list = s.checkpoints().unwrap();
        assert_eq!(list.iter().map(|c| c.round).collect::<Vec<_>>(), vec![6, 9]);
        for info in &list {
            let rec = s.round(info.round).unwrap().unwrap();
            assert_eq!(info.header, rec.header);
            assert_eq!(info.root, rec.header.state_root);
            assert!(info.chunks.len() > 3, "{} chunks", info.chunks.len());
            for (i, c) in chunks_of(&s, info).iter().enumerate() {
                assert_eq!(Hash::digest(c), info.chunks[i]);
            }
        }
        // The pruned checkpoint's chunks are gone too.
        assert_eq!(s.checkpoint_chunk(3, 0).unwrap(), None);
        assert!(s.checkpoint_chunk(9, 0).unwrap().is_some());
        // No policy, no checkpoints.
        let t = RuntimeStorage::in_memory(genesis(), None).unwrap();
        run_rounds(&t, 4);
        assert!(t.checkpoints().unwrap().is_empty());
    }

    #[test]
    fn a_checkpoint_restores_another_node_and_rounds_go_on_from_it() {
        let a = RuntimeStorage::in_memory(genesis(), None).unwrap();
        a.set_checkpoint_policy(Some(policy(4, 1)));
        let records = run_rounds(&a, 10);
        let info = a.checkpoints().unwrap().pop().unwrap();
        assert_eq!(info.round, 8);
        let chunks = chunks_of(&a, &info);

        let dir = tempfile::tempdir().unwrap();
        let b = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        assert!(!b.has_run());
        b.restore(&info, &chunks).unwrap();
        assert_eq!(b.last_header(), info.header);
        assert_eq!(b.state_root().hash, info.root);
        assert!(b.has_run());
        assert_eq!(b.restored_round().unwrap(), Some(8));
        // Same state as the checkpointed node at round 8.
        let root8 = StateRoot {
            version: 8,
            hash: info.root,
        };
        assert_eq!(
            b.iterate(&root8, b"", None, 10_000).unwrap(),
            a.iterate(&root8, b"", None, 10_000).unwrap()
        );
        // Rounds before the checkpoint are not here; later ones apply.
        assert_eq!(b.round(3).unwrap(), None);
        assert_eq!(b.tx_location(&Hash::digest(b"tx3")).unwrap(), None);
        b.apply_round(&records[8]).unwrap();
        // Reopen: the restored state and the round after it are there.
        drop(b);
        let b = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        assert_eq!(b.last_header(), records[8].header);
        assert!(b.has_run());
        b.apply_round(&records[9]).unwrap();
        assert_eq!(b.last_header(), a.last_header());
        assert_eq!(b.round(10).unwrap().as_ref(), Some(&records[9]));
    }

    #[test]
    fn a_tampered_chunk_or_a_wrong_root_changes_nothing() {
        let a = RuntimeStorage::in_memory(genesis(), None).unwrap();
        a.set_checkpoint_policy(Some(policy(5, 1)));
        run_rounds(&a, 5);
        let info = a.checkpoints().unwrap().pop().unwrap();
        let chunks = chunks_of(&a, &info);
        let b = RuntimeStorage::in_memory(genesis(), None).unwrap();
        let unchanged = |b: &RuntimeStorage| {
            assert_eq!(b.last_header(), genesis());
            assert_eq!(b.state.versions(b.id).unwrap(), None);
            assert_eq!(b.restored_round().unwrap(), None);
        };

        let mut bad = chunks.clone();
        bad[1][5] ^= 0x40;
        assert!(matches!(
            b.restore(&info, &bad),
            Err(StorageError::Mkvs(MkvsError::ChunkHashMismatch {
                index: 1
            }))
        ));
        unchanged(&b);

        // Consistent forged digests and chunks: caught by the root.
        let mut forged = info.clone();
        let mut forged_chunks = chunks.clone();
        forged_chunks.pop();
        forged.chunks.pop();
        assert!(matches!(
            b.restore(&forged, &forged_chunks),
            Err(StorageError::Mkvs(MkvsError::RootMismatch { .. }))
        ));
        unchanged(&b);

        let mut wrong_root = info.clone();
        wrong_root.root = Hash::digest(b"other");
        assert!(matches!(
            b.restore(&wrong_root, &chunks),
            Err(StorageError::Checkpoint(_))
        ));
        let mut missing = chunks.clone();
        missing.pop();
        assert!(matches!(
            b.restore(&info, &missing),
            Err(StorageError::Checkpoint(_))
        ));
        unchanged(&b);
        // Streamed: a stream that ends early (a fetch that gave up) or
        // carries one chunk too many changes nothing either.
        assert!(chunks.len() > 1, "the test needs several chunks");
        assert!(matches!(
            b.restore_streamed(&info, missing.iter()),
            Err(StorageError::Checkpoint(_))
        ));
        unchanged(&b);
        assert!(
            b.restore_streamed(&info, chunks.iter().chain(chunks.first()))
                .is_err()
        );
        unchanged(&b);
        b.restore(&info, &chunks).unwrap();
        // A checkpoint not newer than the last round is refused.
        assert!(matches!(
            b.restore(&info, &chunks),
            Err(StorageError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn a_node_behind_restores_over_its_old_state_and_keeps_its_old_records() {
        let a = RuntimeStorage::in_memory(genesis(), None).unwrap();
        a.set_checkpoint_policy(Some(policy(6, 1)));
        let records = run_rounds(&a, 7);
        let info = a.checkpoints().unwrap().pop().unwrap();
        let b = RuntimeStorage::in_memory(genesis(), None).unwrap();
        b.apply_round(&records[0]).unwrap();
        b.apply_round(&records[1]).unwrap();
        b.restore(&info, &chunks_of(&a, &info)).unwrap();
        assert_eq!(b.last_header().round, 6);
        assert_eq!(b.round(2).unwrap().as_ref(), Some(&records[1]));
        assert_eq!(b.state.versions(b.id).unwrap(), Some((6, 6)));
        b.apply_round(&records[6]).unwrap();
        assert_eq!(b.last_header(), a.last_header());
    }

    #[test]
    fn past_rounds_state_is_readable_until_a_restore_replaces_it() {
        let s = RuntimeStorage::in_memory(genesis(), None).unwrap();
        // Nothing applied: the genesis round's empty state reads as empty.
        let g = s.state_at(0).unwrap();
        assert_eq!((g.header, g.consensus_height), (genesis(), 0));
        assert_eq!(s.get(&g.root, b"a").unwrap(), None);
        let r1 = next(&s, vec![entry(b"a", Some(b"1"))], vec![b"tx1"]);
        s.apply_round(&r1).unwrap();
        let r2 = next(
            &s,
            vec![entry(b"a", Some(b"2")), entry(b"b", Some(b"2"))],
            vec![b"tx2"],
        );
        s.apply_round(&r2).unwrap();
        let r3 = next(&s, vec![entry(b"a", None)], vec![b"tx3"]);
        s.apply_round(&r3).unwrap();
        let read = |round: u64, key: &[u8]| {
            let at = s.state_at(round).unwrap();
            s.get(&at.root, key).unwrap()
        };
        // Each round reads its own state, not the latest.
        assert_eq!(read(1, b"a"), Some(b"1".to_vec()));
        assert_eq!(read(1, b"b"), None);
        assert_eq!(read(2, b"a"), Some(b"2".to_vec()));
        assert_eq!(read(2, b"b"), Some(b"2".to_vec()));
        assert_eq!(read(3, b"a"), None);
        let at1 = s.state_at(1).unwrap();
        assert_eq!(at1.header, r1.header);
        assert_eq!(at1.consensus_height, 5);
        assert_eq!(
            at1.root,
            StateRoot {
                version: 1,
                hash: r1.header.state_root
            }
        );
        assert_eq!(s.state_at(3).unwrap().root, s.state_root());
        assert_eq!(
            s.state_at(4).unwrap_err(),
            StateAtError::Ahead {
                round: 4,
                latest: 3
            }
        );
        // The genesis round's state was never a version here.
        assert_eq!(
            s.state_at(0).unwrap_err(),
            StateAtError::Unavailable {
                round: 0,
                earliest: Some(1)
            }
        );
    }

    #[test]
    fn a_restored_node_has_no_state_before_its_checkpoint() {
        let a = RuntimeStorage::in_memory(genesis(), None).unwrap();
        a.set_checkpoint_policy(Some(policy(6, 1)));
        let records = run_rounds(&a, 7);
        let info = a.checkpoints().unwrap().pop().unwrap();
        let b = RuntimeStorage::in_memory(genesis(), None).unwrap();
        b.apply_round(&records[0]).unwrap();
        b.apply_round(&records[1]).unwrap();
        assert!(b.state_at(2).is_ok());
        b.restore(&info, &chunks_of(&a, &info)).unwrap();
        // Round 2's record stays, its state does not.
        assert!(b.round(2).unwrap().is_some());
        let gone = b.state_at(2).unwrap_err();
        assert_eq!(
            gone,
            StateAtError::Unavailable {
                round: 2,
                earliest: Some(6)
            }
        );
        assert_eq!(
            gone.to_string(),
            "the state of round 2 is not available on this node (its state starts at round 6)"
        );
        assert!(matches!(
            b.state_at(4),
            Err(StateAtError::Unavailable { round: 4, .. })
        ));
        // The restored round has no record but its state is there.
        assert!(b.round(6).unwrap().is_none());
        let at6 = b.state_at(6).unwrap();
        assert_eq!(at6.header, info.header);
        assert_eq!(at6.root, b.state_root());
        b.apply_round(&records[6]).unwrap();
        assert_eq!(b.state_at(7).unwrap().header, records[6].header);
        assert_eq!(b.state_at(6).unwrap().root, a.state_at(6).unwrap().root,);
    }

    #[test]
    fn a_restore_cut_short_by_a_crash_is_completed_or_discarded_on_open() {
        let a = RuntimeStorage::in_memory(genesis(), None).unwrap();
        a.set_checkpoint_policy(Some(policy(4, 1)));
        run_rounds(&a, 4);
        let info = a.checkpoints().unwrap().pop().unwrap();
        let chunks = chunks_of(&a, &info);

        // Crash after the marker, before the state was replaced: discarded.
        let dir = tempfile::tempdir().unwrap();
        let b = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        b.write_meta(&[(RESTORING, Some(&info.header))]).unwrap();
        drop(b);
        let b = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        assert_eq!(b.last_header(), genesis());
        assert_eq!(b.meta_header(RESTORING).unwrap(), None);
        assert_eq!(b.restored_round().unwrap(), None);
        // And a later restore works.
        b.restore(&info, &chunks).unwrap();
        drop(b);

        // Crash after the state was replaced, before the marker was
        // completed: completed on open.
        let dir = tempfile::tempdir().unwrap();
        let b = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        b.write_meta(&[(RESTORING, Some(&info.header))]).unwrap();
        b.state
            .restore_from_chunks(
                &info.metadata(),
                info.root,
                chunks.iter().map(Vec::as_slice),
            )
            .unwrap();
        drop(b);
        let b = RuntimeStorage::open(dir.path(), genesis(), None).unwrap();
        assert_eq!(b.last_header(), info.header);
        assert_eq!(b.restored_round().unwrap(), Some(4));
        assert_eq!(b.meta_header(RESTORING).unwrap(), None);
    }

    #[test]
    fn background_checkpoints_appear_whole() {
        let s = RuntimeStorage::in_memory(genesis(), None).unwrap();
        s.set_checkpoint_policy(Some(CheckpointPolicy {
            background: true,
            ..policy(2, 3)
        }));
        run_rounds(&s, 8);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let list = s.checkpoints().unwrap();
            // Every checkpoint listed is complete.
            for info in &list {
                for (i, c) in chunks_of(&s, info).iter().enumerate() {
                    assert_eq!(Hash::digest(c), info.chunks[i]);
                }
            }
            if list.last().is_some_and(|c| c.round == 8) {
                assert!(list.len() <= 3);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint of round 8"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

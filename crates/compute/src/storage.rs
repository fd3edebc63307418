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

use std::path::Path;
use std::sync::{Arc, Mutex};

use atoll_consensus::mkvs_store::MkvsView;
use atoll_consensus::services::roothash::types::{BlockHeader, HeaderType};
use atoll_crypto::Hash;
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
        Self::with(genesis, state, database, consensus)
    }

    /// Storage in memory (tests and tools).
    pub fn in_memory(genesis: BlockHeader, consensus: Option<Mkvs>) -> Result<Self, StorageError> {
        let database = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db)?;
        Self::with(genesis, Mkvs::in_memory(), database, consensus)
    }

    fn with(
        genesis: BlockHeader,
        state: Mkvs,
        database: redb::Database,
        consensus: Option<Mkvs>,
    ) -> Result<Self, StorageError> {
        let tx = database.begin_write().map_err(db)?;
        tx.open_table(ROUNDS).map_err(db)?;
        tx.open_table(TXS).map_err(db)?;
        tx.commit().map_err(db)?;
        let s = Self {
            id: genesis.namespace,
            last: Arc::new(Mutex::new(genesis.clone())),
            ran: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            genesis,
            state,
            db: Arc::new(database),
            consensus,
        };
        s.recover()?;
        Ok(s)
    }

    /// Re-applies the state of recorded rounds whose state version is
    /// missing (a crash between the two writes), and loads the last header.
    fn recover(&self) -> Result<(), StorageError> {
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
        let last = self.last_record()?;
        if let Some(r) = last {
            *self.last.lock().map_err(db)? = r.header;
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
        self.last
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
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
        }
        tx.commit().map_err(db)?;
        ov.commit(h.round)?;
        *self.last.lock().map_err(db)? = h.clone();
        if h.header_type == HeaderType::Normal {
            self.ran.store(true, std::sync::atomic::Ordering::Relaxed);
        }
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
        use atoll_consensus::state::Store;
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
}

//! The gateway's own index of Ethereum blocks, transactions, receipts and
//! logs: one `redb` database (`index.redb` in the directory the node gives,
//! `<data>/runtimes/<id>/web3`).
//!
//! Tables: blocks by number (JSON [`BlockRecord`]), block number by hash,
//! transactions with their receipts and logs by (block, index) (JSON
//! [`TxRecord`]), and (block, index) by Ethereum transaction hash. Logs are
//! read block by block from the transactions, after the block's bloom says
//! the block may hold a match.
//!
//! **Crash safety.** A block and all its transactions are written in one
//! write transaction together with the "last indexed" marker, so after a
//! crash the index holds exactly the rounds up to the marker, and indexing
//! continues after it. Blocks are added in order; a gap is allowed only
//! where the runtime itself has no rounds ([`Index::put_block_after_gap`]:
//! a node that restored its storage from a checkpoint has no records
//! between the rounds it had and the checkpoint).
//!
//! **Recovery.** The index is a cache of the runtime's rounds, so it never
//! stops the node: a file that does not open as a database, or whose
//! tables disagree with its markers (a block of the marked range missing,
//! a record that does not decode), is set aside as `index.redb.corrupt`
//! (replacing an older one) and a new, empty index is created, which the
//! indexer fills again from the runtime's rounds ([`Index::open`]). The
//! indexer does the same ([`Index::reset`]) when writing to the index
//! fails.

use parking_lot::{RwLock, RwLockReadGuard};
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::model::{BlockRecord, TxRecord};
use crate::types::H256;

/// name → value: `first` and `last` indexed block.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
/// number → JSON block.
const BLOCKS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("blocks");
/// block hash → number.
const BLOCK_BY_HASH: TableDefinition<'_, &[u8], u64> = TableDefinition::new("block_by_hash");
/// (number, index) → JSON transaction with receipt.
const TXS: TableDefinition<'_, (u64, u32), &[u8]> = TableDefinition::new("txs");
/// Ethereum transaction hash → (number, index).
const TX_BY_HASH: TableDefinition<'_, &[u8], (u64, u32)> = TableDefinition::new("tx_by_hash");
/// first missing number → last missing number: the rounds the runtime had
/// no record of when the block after them was put.
const GAPS: TableDefinition<'_, u64, u64> = TableDefinition::new("gaps");

/// Index failures.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The database failed.
    #[error("web3 index: {0}")]
    Db(String),
    /// A stored record does not decode.
    #[error("web3 index: corrupt record: {0}")]
    Corrupt(String),
    /// A block does not follow the last indexed one.
    #[error("web3 index: block {got} does not follow block {last}")]
    OutOfOrder {
        /// The last indexed block.
        last: u64,
        /// The block offered.
        got: u64,
    },
}

fn db(e: impl std::fmt::Display) -> IndexError {
    IndexError::Db(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, IndexError> {
    serde_json::from_slice(bytes).map_err(|e| IndexError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, IndexError> {
    serde_json::to_vec(v).map_err(|e| IndexError::Corrupt(e.to_string()))
}

/// The index database.
pub struct Index {
    db: RwLock<redb::Database>,
    /// The file (`None`: in memory).
    path: Option<PathBuf>,
}

/// Why an index file could not be used.
enum Unusable {
    /// Because of something else than its content (kept, not rebuilt).
    NotTheFile(IndexError),
    /// Because of its content (set aside and rebuilt).
    Damaged(String),
}

/// The name of the index file in its directory.
pub const FILE: &str = "index.redb";
/// The name an unusable index file is moved to.
pub const SET_ASIDE: &str = "index.redb.corrupt";

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

impl Index {
    /// Opens (or creates) the index in `dir`. An index that does not open,
    /// or whose content is not consistent ([`Self::check`]), is set aside
    /// and replaced by an empty one (logged): the indexer rebuilds it from
    /// the runtime's rounds. Fails only if no index can be created at all.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(db)?;
        let path = dir.join(FILE);
        // redb's debug builds panic on some damaged files where release
        // builds return `Corrupted`: either way the file is unusable.
        let tried =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::try_open(&path)));
        let why = match tried {
            Ok(Ok(index)) => return Ok(index),
            Ok(Err(Unusable::NotTheFile(e))) => return Err(e),
            Ok(Err(Unusable::Damaged(why))) => why,
            Err(_) => "reading it panicked".to_owned(),
        };
        tracing::warn!(path = %path.display(), why, "web3 index is not usable; setting it aside and rebuilding it from the runtime's rounds");
        set_aside(&path)?;
        let database = redb::Database::create(&path).map_err(db)?;
        Self::with(database, Some(path))
    }

    /// Opens the file and checks it (the handle is closed again when it is
    /// damaged, so that it can be moved).
    fn try_open(path: &Path) -> Result<Self, Unusable> {
        let database = match redb::Database::create(path) {
            // Not the file's fault: another handle holds it, or the disk
            // refuses; nothing to rebuild.
            Err(
                e @ (redb::DatabaseError::DatabaseAlreadyOpen
                | redb::DatabaseError::LockProtocolMismatch
                | redb::DatabaseError::TransactionInProgress),
            ) => return Err(Unusable::NotTheFile(db(e))),
            Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Err(Unusable::NotTheFile(db(e)));
            }
            Err(e) => return Err(Unusable::Damaged(e.to_string())),
            Ok(d) => d,
        };
        let index = Self::with(database, Some(path.to_owned()))
            .map_err(|e| Unusable::Damaged(e.to_string()))?;
        index.check().map_err(Unusable::Damaged)?;
        Ok(index)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> Result<Self, IndexError> {
        Self::with(memory_db()?, None)
    }

    fn with(database: redb::Database, path: Option<PathBuf>) -> Result<Self, IndexError> {
        create_tables(&database)?;
        Ok(Self {
            db: RwLock::new(database),
            path,
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, redb::Database> {
        self.db.read()
    }

    /// Checks that the index is what its markers say: every block from the
    /// first to the last is there (the first and the last decode), and no
    /// block or transaction lies outside that range. Gaps are allowed
    /// only where a block was put after one ([`Self::put_block_after_gap`],
    /// remembered in the index).
    pub fn check(&self) -> Result<(), String> {
        let (first, last) = match (self.first(), self.last()) {
            (Ok(f), Ok(l)) => (f, l),
            (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
        };
        let d = self.read();
        let tx = d.begin_read().map_err(|e| e.to_string())?;
        let blocks = tx.open_table(BLOCKS).map_err(|e| e.to_string())?;
        let txs = tx.open_table(TXS).map_err(|e| e.to_string())?;
        let gaps = tx.open_table(GAPS).map_err(|e| e.to_string())?;
        let (first, last) = match (first, last) {
            (None, None) => {
                let empty = blocks.is_empty().map_err(|e| e.to_string())?
                    && txs.is_empty().map_err(|e| e.to_string())?;
                return if empty {
                    Ok(())
                } else {
                    Err("records without markers".into())
                };
            }
            (Some(f), Some(l)) if f <= l => (f, l),
            (f, l) => return Err(format!("markers first {f:?}, last {l:?}")),
        };
        let mut expected = first;
        let mut seen_last = false;
        for item in blocks.iter().map_err(|e| e.to_string())? {
            let (k, v) = item.map_err(|e| e.to_string())?;
            let n = k.value();
            if n < expected || n > last {
                return Err(format!("block {n} outside {first}..={last}"));
            }
            if n != expected {
                let gap = gaps.get(expected).map_err(|e| e.to_string())?;
                if gap.map(|g| g.value()) != Some(n - 1) {
                    return Err(format!("block {expected} is missing"));
                }
            }
            // The ends are decoded (the others only counted, to keep an
            // open quick): a torn write shows at the end.
            if n == first || n == last {
                let b: BlockRecord = decode(v.value()).map_err(|e| format!("block {n}: {e}"))?;
                if b.number != n {
                    return Err(format!("block {n} holds block {}", b.number));
                }
            }
            expected = n.saturating_add(1);
            seen_last = n == last;
        }
        if !seen_last {
            return Err(format!("block {last} (the last marked) is missing"));
        }
        if let Some(item) = txs.first().map_err(|e| e.to_string())?
            && item.0.value().0 < first
        {
            return Err(format!("transactions before block {first}"));
        }
        if let Some(item) = txs.last().map_err(|e| e.to_string())?
            && item.0.value().0 > last
        {
            return Err(format!("transactions after block {last}"));
        }
        Ok(())
    }

    /// Empties the index, because of `why` (logged). A file-backed index
    /// is set aside as [`SET_ASIDE`] and created again; the indexer then
    /// rebuilds it from the runtime's rounds.
    pub fn reset(&self, why: &str) -> Result<(), IndexError> {
        let mut d = self.db.write();
        // Close the file before moving it.
        *d = memory_db()?;
        if let Some(path) = &self.path {
            tracing::warn!(path = %path.display(), why, "web3 index is not usable; setting it aside and rebuilding it from the runtime's rounds");
            set_aside(path)?;
            *d = redb::Database::create(path).map_err(db)?;
        } else {
            tracing::warn!(why, "web3 index is not usable; rebuilding it");
        }
        create_tables(&d)
    }

    fn meta(&self, key: &str) -> Result<Option<u64>, IndexError> {
        let tx = self.read().begin_read().map_err(db)?;
        let t = tx.open_table(META).map_err(db)?;
        Ok(t.get(key).map_err(db)?.map(|v| v.value()))
    }

    /// The last indexed block.
    pub fn last(&self) -> Result<Option<u64>, IndexError> {
        self.meta("last")
    }

    /// The first indexed block.
    pub fn first(&self) -> Result<Option<u64>, IndexError> {
        self.meta("first")
    }

    /// Adds the next block with its transactions, atomically. The first
    /// block may have any number; later ones must follow the last.
    pub fn put_block(&self, block: &BlockRecord, txs: &[TxRecord]) -> Result<(), IndexError> {
        self.put(block, txs, false)
    }

    /// As [`Self::put_block`], but the block may come after a gap: for the
    /// rounds the runtime has no record of (before the checkpoint a node
    /// restored its storage from). It must still come after the last.
    pub fn put_block_after_gap(
        &self,
        block: &BlockRecord,
        txs: &[TxRecord],
    ) -> Result<(), IndexError> {
        self.put(block, txs, true)
    }

    fn put(&self, block: &BlockRecord, txs: &[TxRecord], gap: bool) -> Result<(), IndexError> {
        let d = self.read();
        let w = d.begin_write().map_err(db)?;
        {
            let mut meta = w.open_table(META).map_err(db)?;
            let last = meta.get("last").map_err(db)?.map(|v| v.value());
            let follows = |last: u64| {
                if gap {
                    block.number > last
                } else {
                    last.checked_add(1) == Some(block.number)
                }
            };
            match last {
                Some(last) if !follows(last) => {
                    return Err(IndexError::OutOfOrder {
                        last,
                        got: block.number,
                    });
                }
                Some(last) if last.checked_add(1) != Some(block.number) => {
                    let mut gaps = w.open_table(GAPS).map_err(db)?;
                    gaps.insert(last + 1, block.number - 1).map_err(db)?;
                }
                Some(_) => {}
                None => {
                    meta.insert("first", block.number).map_err(db)?;
                }
            }
            meta.insert("last", block.number).map_err(db)?;
            let mut blocks = w.open_table(BLOCKS).map_err(db)?;
            blocks
                .insert(block.number, encode(block)?.as_slice())
                .map_err(db)?;
            let mut by_hash = w.open_table(BLOCK_BY_HASH).map_err(db)?;
            by_hash
                .insert(block.hash.0.as_slice(), block.number)
                .map_err(db)?;
            let mut t = w.open_table(TXS).map_err(db)?;
            let mut tx_by_hash = w.open_table(TX_BY_HASH).map_err(db)?;
            for tx in txs {
                t.insert((block.number, tx.index), encode(tx)?.as_slice())
                    .map_err(db)?;
                // The first inclusion of a hash is the one it is found by.
                if tx_by_hash.get(tx.hash.0.as_slice()).map_err(db)?.is_none() {
                    tx_by_hash
                        .insert(tx.hash.0.as_slice(), (block.number, tx.index))
                        .map_err(db)?;
                }
            }
        }
        w.commit().map_err(db)
    }

    /// A block by number.
    pub fn block(&self, number: u64) -> Result<Option<BlockRecord>, IndexError> {
        let d = self.read();
        let tx = d.begin_read().map_err(db)?;
        let t = tx.open_table(BLOCKS).map_err(db)?;
        t.get(number)
            .map_err(db)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    /// A block's number by its hash.
    pub fn block_number(&self, hash: &H256) -> Result<Option<u64>, IndexError> {
        let d = self.read();
        let tx = d.begin_read().map_err(db)?;
        let t = tx.open_table(BLOCK_BY_HASH).map_err(db)?;
        Ok(t.get(hash.0.as_slice()).map_err(db)?.map(|v| v.value()))
    }

    /// A block's transactions, in order.
    pub fn block_txs(&self, number: u64) -> Result<Vec<TxRecord>, IndexError> {
        let d = self.read();
        let tx = d.begin_read().map_err(db)?;
        let t = tx.open_table(TXS).map_err(db)?;
        let mut out = Vec::new();
        for item in t.range((number, 0)..=(number, u32::MAX)).map_err(db)? {
            let (_, v) = item.map_err(db)?;
            out.push(decode(v.value())?);
        }
        Ok(out)
    }

    /// One transaction of a block.
    pub fn tx_at(&self, number: u64, index: u32) -> Result<Option<TxRecord>, IndexError> {
        let d = self.read();
        let tx = d.begin_read().map_err(db)?;
        let t = tx.open_table(TXS).map_err(db)?;
        t.get((number, index))
            .map_err(db)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    /// A transaction by its Ethereum hash.
    pub fn tx(&self, hash: &H256) -> Result<Option<TxRecord>, IndexError> {
        let at = {
            let d = self.read();
            let tx = d.begin_read().map_err(db)?;
            let t = tx.open_table(TX_BY_HASH).map_err(db)?;
            t.get(hash.0.as_slice()).map_err(db)?.map(|v| v.value())
        };
        match at {
            Some((n, i)) => self.tx_at(n, i),
            None => Ok(None),
        }
    }
}

fn memory_db() -> Result<redb::Database, IndexError> {
    redb::Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .map_err(db)
}

fn create_tables(database: &redb::Database) -> Result<(), IndexError> {
    let tx = database.begin_write().map_err(db)?;
    tx.open_table(META).map_err(db)?;
    tx.open_table(BLOCKS).map_err(db)?;
    tx.open_table(BLOCK_BY_HASH).map_err(db)?;
    tx.open_table(TXS).map_err(db)?;
    tx.open_table(TX_BY_HASH).map_err(db)?;
    tx.open_table(GAPS).map_err(db)?;
    tx.commit().map_err(db)
}

/// Moves an unusable index file out of the way (replacing an older one).
fn set_aside(path: &Path) -> Result<(), IndexError> {
    let aside = path.with_file_name(SET_ASIDE);
    match std::fs::rename(path, &aside) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(db(format!("cannot move {} aside: {e}", path.display()))),
    }
}

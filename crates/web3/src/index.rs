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
//! continues after it. Blocks are added only in order, without gaps.

use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

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
    db: redb::Database,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Index")
    }
}

impl Index {
    /// Opens (or creates) the index in `dir`.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(db)?;
        let database = redb::Database::create(dir.join("index.redb")).map_err(db)?;
        Self::with(database)
    }

    /// An index in memory (tests).
    pub fn in_memory() -> Result<Self, IndexError> {
        let database = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db)?;
        Self::with(database)
    }

    fn with(database: redb::Database) -> Result<Self, IndexError> {
        let tx = database.begin_write().map_err(db)?;
        tx.open_table(META).map_err(db)?;
        tx.open_table(BLOCKS).map_err(db)?;
        tx.open_table(BLOCK_BY_HASH).map_err(db)?;
        tx.open_table(TXS).map_err(db)?;
        tx.open_table(TX_BY_HASH).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Self { db: database })
    }

    fn meta(&self, key: &str) -> Result<Option<u64>, IndexError> {
        let tx = self.db.begin_read().map_err(db)?;
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
        let w = self.db.begin_write().map_err(db)?;
        {
            let mut meta = w.open_table(META).map_err(db)?;
            let last = meta.get("last").map_err(db)?.map(|v| v.value());
            match last {
                Some(last) if last.checked_add(1) != Some(block.number) => {
                    return Err(IndexError::OutOfOrder {
                        last,
                        got: block.number,
                    });
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
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(BLOCKS).map_err(db)?;
        t.get(number)
            .map_err(db)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    /// A block's number by its hash.
    pub fn block_number(&self, hash: &H256) -> Result<Option<u64>, IndexError> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(BLOCK_BY_HASH).map_err(db)?;
        Ok(t.get(hash.0.as_slice()).map_err(db)?.map(|v| v.value()))
    }

    /// A block's transactions, in order.
    pub fn block_txs(&self, number: u64) -> Result<Vec<TxRecord>, IndexError> {
        let tx = self.db.begin_read().map_err(db)?;
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
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(TXS).map_err(db)?;
        t.get((number, index))
            .map_err(db)?
            .map(|v| decode(v.value()))
            .transpose()
    }

    /// A transaction by its Ethereum hash.
    pub fn tx(&self, hash: &H256) -> Result<Option<TxRecord>, IndexError> {
        let at = {
            let tx = self.db.begin_read().map_err(db)?;
            let t = tx.open_table(TX_BY_HASH).map_err(db)?;
            t.get(hash.0.as_slice()).map_err(db)?.map(|v| v.value())
        };
        match at {
            Some((n, i)) => self.tx_at(n, i),
            None => Ok(None),
        }
    }
}

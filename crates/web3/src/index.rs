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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bloom::Bloom;
    use crate::model::LogRecord;
    use crate::types::{AccessListItem, Bytes, H160, H256, Qty, U256};

    fn h256(s: &str) -> H256 {
        s.parse().unwrap()
    }

    fn h160(s: &str) -> H160 {
        s.parse().unwrap()
    }

    fn u256(s: &str) -> U256 {
        crate::types::parse_u256(s).unwrap()
    }

    fn bytes(b: &[u8]) -> Bytes {
        serde_json::from_value(serde_json::json!(crate::types::data_hex(b))).unwrap()
    }

    /// A block with every field set, and two transactions: an EIP-1559
    /// call with logs and an access list, and a legacy creation.
    fn records() -> (BlockRecord, Vec<TxRecord>) {
        let block_hash = h256(&format!("0x{}", "11".repeat(32)));
        let call = TxRecord {
            hash: h256(&format!("0x{}", "55".repeat(32))),
            block_number: 7,
            block_hash,
            index: 0,
            batch_index: 2,
            from: h160("0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            to: Some(h160(&format!("0x{}", "aa".repeat(20)))),
            tx_type: 2,
            chain_id: Some(42),
            nonce: 3,
            gas: 100_000,
            gas_price: None,
            max_fee_per_gas: Some(Qty(1_000)),
            max_priority_fee_per_gas: Some(Qty(7)),
            value: U256::default(),
            input: bytes(&[0xab, 0xcd]),
            access_list: vec![AccessListItem {
                address: h160(&format!("0x{}", "bb".repeat(20))),
                storage_keys: vec![H256::default(), h256(&format!("0x{}01", "00".repeat(31)))],
            }],
            v: 1,
            r: u256(&format!("0x{}", "fe".repeat(32))),
            s: u256(&format!("0x00{}", "7f".repeat(31))),
            status: true,
            gas_used: 30_000,
            cumulative_gas_used: 30_000,
            effective_gas_price: Qty(107),
            contract_address: None,
            logs: vec![
                LogRecord {
                    address: h160(&format!("0x{}", "cc".repeat(20))),
                    topics: vec![h256(&format!("0x{}", "01".repeat(32)))],
                    data: bytes(b"one"),
                },
                LogRecord {
                    address: h160(&format!("0x{}", "cc".repeat(20))),
                    topics: Vec::new(),
                    data: bytes(&[]),
                },
            ],
            first_log_index: 0,
            logs_bloom: Bloom::repeat_byte(0x02),
        };
        let create = TxRecord {
            hash: h256(&format!("0x{}", "66".repeat(32))),
            index: 1,
            batch_index: 3,
            to: None,
            tx_type: 0,
            chain_id: None,
            nonce: 4,
            gas_price: Some(Qty(150)),
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            value: U256::from_u128(0x0100),
            input: bytes(&[0x60, 0x00]),
            access_list: Vec::new(),
            v: 27,
            status: false,
            gas_used: 50_000,
            cumulative_gas_used: 80_000,
            effective_gas_price: Qty(150),
            contract_address: Some(h160(&format!("0x{}", "ee".repeat(20)))),
            logs: Vec::new(),
            first_log_index: 2,
            logs_bloom: Bloom::default(),
            ..call.clone()
        };
        let block = BlockRecord {
            number: 7,
            hash: block_hash,
            parent_hash: h256(&format!("0x{}", "22".repeat(32))),
            timestamp: 1_700_000_000,
            state_root: h256(&format!("0x{}", "33".repeat(32))),
            io_root: h256(&format!("0x{}", "44".repeat(32))),
            gas_limit: 10_000_000,
            gas_used: 80_000,
            base_fee: Qty(100),
            logs_bloom: Bloom::repeat_byte(0x02),
            size: 1_234,
            transactions: vec![call.hash, create.hash],
        };
        (block, vec![call, create])
    }

    /// The bytes an index stores for these records: an index written by an
    /// older build must open and read the same (its records are JSON, its
    /// hash keys the raw 32 bytes).
    #[test]
    fn stored_records_are_byte_identical() {
        let bloom2 = format!("0x{}", "02".repeat(256));
        let bloom0 = format!("0x{}", "00".repeat(256));
        let want_block = format!(
            r#"{{"number":7,"hash":"0x1111111111111111111111111111111111111111111111111111111111111111","parent_hash":"0x2222222222222222222222222222222222222222222222222222222222222222","timestamp":1700000000,"state_root":"0x3333333333333333333333333333333333333333333333333333333333333333","io_root":"0x4444444444444444444444444444444444444444444444444444444444444444","gas_limit":10000000,"gas_used":80000,"base_fee":"0x64","logs_bloom":"{bloom2}","size":1234,"transactions":["0x5555555555555555555555555555555555555555555555555555555555555555","0x6666666666666666666666666666666666666666666666666666666666666666"]}}"#
        );
        let want_call = format!(
            r#"{{"hash":"0x5555555555555555555555555555555555555555555555555555555555555555","block_number":7,"block_hash":"0x1111111111111111111111111111111111111111111111111111111111111111","index":0,"batch_index":2,"from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","tx_type":2,"chain_id":42,"nonce":3,"gas":100000,"gas_price":null,"max_fee_per_gas":"0x3e8","max_priority_fee_per_gas":"0x7","value":"0x0","input":"0xabcd","access_list":[{{"address":"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","storageKeys":["0x0000000000000000000000000000000000000000000000000000000000000000","0x0000000000000000000000000000000000000000000000000000000000000001"]}}],"v":1,"r":"0xfefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefe","s":"0x7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f","status":true,"gas_used":30000,"cumulative_gas_used":30000,"effective_gas_price":"0x6b","contract_address":null,"logs":[{{"address":"0xcccccccccccccccccccccccccccccccccccccccc","topics":["0x0101010101010101010101010101010101010101010101010101010101010101"],"data":"0x6f6e65"}},{{"address":"0xcccccccccccccccccccccccccccccccccccccccc","topics":[],"data":"0x"}}],"first_log_index":0,"logs_bloom":"{bloom2}"}}"#
        );
        let want_create = format!(
            r#"{{"hash":"0x6666666666666666666666666666666666666666666666666666666666666666","block_number":7,"block_hash":"0x1111111111111111111111111111111111111111111111111111111111111111","index":1,"batch_index":3,"from":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","to":null,"tx_type":0,"chain_id":null,"nonce":4,"gas":100000,"gas_price":"0x96","max_fee_per_gas":null,"max_priority_fee_per_gas":null,"value":"0x100","input":"0x6000","access_list":[],"v":27,"r":"0xfefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefe","s":"0x7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f","status":false,"gas_used":50000,"cumulative_gas_used":80000,"effective_gas_price":"0x96","contract_address":"0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee","logs":[],"first_log_index":2,"logs_bloom":"{bloom0}"}}"#
        );

        let (block, txs) = records();
        let index = Index::in_memory().unwrap();
        index.put_block(&block, &txs).unwrap();
        let d = index.read();
        let r = d.begin_read().unwrap();

        // Out: the records as stored.
        let blocks = r.open_table(BLOCKS).unwrap();
        let stored = blocks.get(7).unwrap().unwrap().value().to_vec();
        assert_eq!(String::from_utf8(stored).unwrap(), want_block);
        let t = r.open_table(TXS).unwrap();
        let stored = t.get((7, 0)).unwrap().unwrap().value().to_vec();
        assert_eq!(String::from_utf8(stored).unwrap(), want_call);
        let stored = t.get((7, 1)).unwrap().unwrap().value().to_vec();
        assert_eq!(String::from_utf8(stored).unwrap(), want_create);

        // The hash keys: the raw 32 bytes.
        let by_hash = r.open_table(BLOCK_BY_HASH).unwrap();
        let keys: Vec<(Vec<u8>, u64)> = by_hash
            .iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.value().to_vec(), v.value())
            })
            .collect();
        assert_eq!(keys, vec![(vec![0x11; 32], 7)]);
        let tx_by_hash = r.open_table(TX_BY_HASH).unwrap();
        let keys: Vec<(Vec<u8>, (u64, u32))> = tx_by_hash
            .iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.value().to_vec(), v.value())
            })
            .collect();
        assert_eq!(
            keys,
            vec![(vec![0x55; 32], (7, 0)), (vec![0x66; 32], (7, 1))]
        );

        // In: what an older build stored reads as the same records.
        assert_eq!(decode::<BlockRecord>(want_block.as_bytes()).unwrap(), block);
        assert_eq!(decode::<TxRecord>(want_call.as_bytes()).unwrap(), txs[0]);
        assert_eq!(decode::<TxRecord>(want_create.as_bytes()).unwrap(), txs[1]);
        drop(r);
        drop(d);
        assert_eq!(index.block_number(&block.hash).unwrap(), Some(7));
        assert_eq!(index.tx(&txs[1].hash).unwrap().as_ref(), Some(&txs[1]));
    }
}

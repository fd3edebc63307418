//! What the index holds per block, transaction and log, and how each is
//! shown in the Ethereum JSON-RPC (geth's field names and encodings).
//!
//! Mapping from the runtime:
//!
//! - **Block** = one runtime round (empty rounds included): `number` = the
//!   round, `hash` = the runtime header's hash, `parentHash` = the header's
//!   previous hash, `timestamp` = the header's (consensus) time.
//! - `stateRoot` = the runtime state root after the round;
//!   `transactionsRoot` and `receiptsRoot` = the round's I/O root (it commits
//!   to the whole batch and all its results; there is no Ethereum trie).
//! - `gasLimit` = core `max_batch_gas`; `baseFeePerGas` = the core minimum
//!   gas price of the native denomination when the round was indexed (the
//!   runtime's EIP-1559 base fee); `miner` = the zero address; `difficulty`
//!   = 0; `nonce` = 0; no uncles; `sha3Uncles` = the hash of an empty list.
//! - **Transactions** are the round's Ethereum transactions only (native SDK
//!   transactions are left out of every Ethereum view), in batch order;
//!   `transactionIndex` counts Ethereum transactions only, and `gasUsed`,
//!   `cumulativeGasUsed` and the block's `gasUsed` add up theirs.
//! - `logIndex` counts the block's logs in order.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bloom::Bloom;
use crate::types::{AccessListItem, Bytes, H160, H256, Qty, U256, qty};

/// Keccak-256 of the RLP of an empty list: every block's `sha3Uncles`.
pub const EMPTY_UNCLES_HASH: &str =
    "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";

/// An indexed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRecord {
    /// The round.
    pub number: u64,
    /// The runtime header hash.
    pub hash: H256,
    /// The previous runtime header's hash.
    pub parent_hash: H256,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// The runtime state root after the round.
    pub state_root: H256,
    /// The round's I/O root.
    pub io_root: H256,
    /// Gas limit (core `max_batch_gas`).
    pub gas_limit: u64,
    /// Gas used by its Ethereum transactions.
    pub gas_used: u64,
    /// The base fee (minimum gas price).
    pub base_fee: Qty,
    /// The union of its logs' blooms.
    pub logs_bloom: Bloom,
    /// Bytes of its Ethereum transactions plus a fixed header size.
    pub size: u64,
    /// Its Ethereum transactions' hashes, in order.
    pub transactions: Vec<H256>,
}

/// A log as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The emitting contract.
    pub address: H160,
    /// Its topics.
    pub topics: Vec<H256>,
    /// Its data.
    pub data: Bytes,
}

/// An indexed Ethereum transaction with its receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// Keccak-256 of the raw transaction.
    pub hash: H256,
    /// The block (round).
    pub block_number: u64,
    /// The block's hash.
    pub block_hash: H256,
    /// Index among the block's Ethereum transactions.
    pub index: u32,
    /// Its place in the runtime batch.
    pub batch_index: u32,
    /// The recovered sender.
    pub from: H160,
    /// The callee (`None`: a contract creation).
    pub to: Option<H160>,
    /// 0 legacy, 1 EIP-2930, 2 EIP-1559.
    pub tx_type: u8,
    /// The chain id it signs (`None`: a pre-EIP-155 legacy transaction).
    pub chain_id: Option<u64>,
    /// The sender's nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas: u64,
    /// Legacy and EIP-2930 gas price.
    pub gas_price: Option<Qty>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<Qty>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<Qty>,
    /// Value sent.
    pub value: U256,
    /// Call data or init code.
    pub input: Bytes,
    /// EIP-2930 access list.
    pub access_list: Vec<AccessListItem>,
    /// Signature `v` (legacy: 27/28 or EIP-155; typed: the y parity).
    pub v: u64,
    /// Signature `r`.
    pub r: U256,
    /// Signature `s`.
    pub s: U256,
    /// Whether the call succeeded.
    pub status: bool,
    /// Gas it used.
    pub gas_used: u64,
    /// Gas used by the block's Ethereum transactions up to this one.
    pub cumulative_gas_used: u64,
    /// The price per gas it paid.
    pub effective_gas_price: Qty,
    /// The contract it created.
    pub contract_address: Option<H160>,
    /// Its logs.
    pub logs: Vec<LogRecord>,
    /// The block-wide index of its first log.
    pub first_log_index: u32,
    /// Its logs' bloom.
    pub logs_bloom: Bloom,
}

/// A log with its place, as `eth_getLogs` and subscriptions show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogView<'a> {
    /// The log.
    pub log: &'a LogRecord,
    /// Its block.
    pub block_number: u64,
    /// Its block's hash.
    pub block_hash: H256,
    /// Its transaction's hash.
    pub tx_hash: H256,
    /// Its transaction's index.
    pub tx_index: u32,
    /// Its block-wide index.
    pub log_index: u32,
}

impl LogView<'_> {
    /// The geth JSON form.
    pub fn to_json(&self) -> Value {
        json!({
            "address": self.log.address,
            "topics": self.log.topics,
            "data": self.log.data,
            "blockNumber": qty(self.block_number.into()),
            "blockHash": self.block_hash,
            "transactionHash": self.tx_hash,
            "transactionIndex": qty(self.tx_index.into()),
            "logIndex": qty(self.log_index.into()),
            "removed": false,
        })
    }
}

impl TxRecord {
    /// Its logs with their places.
    pub fn log_views(&self) -> impl Iterator<Item = LogView<'_>> {
        self.logs.iter().enumerate().map(|(i, log)| LogView {
            log,
            block_number: self.block_number,
            block_hash: self.block_hash,
            tx_hash: self.hash,
            tx_index: self.index,
            log_index: self
                .first_log_index
                .saturating_add(u32::try_from(i).unwrap_or(u32::MAX)),
        })
    }

    /// The geth JSON form of the (mined) transaction.
    pub fn to_json(&self) -> Value {
        let mut o = json!({
            "blockHash": self.block_hash,
            "blockNumber": qty(self.block_number.into()),
            "hash": self.hash,
            "transactionIndex": qty(self.index.into()),
            "type": qty(self.tx_type.into()),
            "from": self.from,
            "to": self.to,
            "nonce": qty(self.nonce.into()),
            "gas": qty(self.gas.into()),
            // A mined transaction shows the price it paid (geth).
            "gasPrice": self.effective_gas_price,
            "value": self.value,
            "input": self.input,
            "v": qty(self.v.into()),
            "r": self.r,
            "s": self.s,
        });
        if let Some(map) = o.as_object_mut() {
            if let Some(c) = self.chain_id {
                map.insert("chainId".into(), json!(qty(c.into())));
            }
            if self.tx_type >= 1 {
                map.insert("accessList".into(), json!(self.access_list));
                map.insert("yParity".into(), json!(qty(self.v.into())));
            }
            if self.tx_type == 2 {
                map.insert("maxFeePerGas".into(), json!(self.max_fee_per_gas));
                map.insert(
                    "maxPriorityFeePerGas".into(),
                    json!(self.max_priority_fee_per_gas),
                );
            }
        }
        o
    }

    /// The geth JSON form of its receipt.
    pub fn receipt_json(&self) -> Value {
        json!({
            "transactionHash": self.hash,
            "transactionIndex": qty(self.index.into()),
            "blockHash": self.block_hash,
            "blockNumber": qty(self.block_number.into()),
            "from": self.from,
            "to": self.to,
            "cumulativeGasUsed": qty(self.cumulative_gas_used.into()),
            "gasUsed": qty(self.gas_used.into()),
            "effectiveGasPrice": self.effective_gas_price,
            "contractAddress": self.contract_address,
            "logs": self.log_views().map(|l| l.to_json()).collect::<Vec<_>>(),
            "logsBloom": self.logs_bloom,
            "type": qty(self.tx_type.into()),
            "status": if self.status { "0x1" } else { "0x0" },
        })
    }
}

impl BlockRecord {
    /// The geth JSON form: with `txs` the full transactions, else their
    /// hashes.
    pub fn to_json(&self, txs: Option<&[TxRecord]>) -> Value {
        let transactions = match txs {
            Some(txs) => Value::Array(txs.iter().map(TxRecord::to_json).collect()),
            None => json!(self.transactions),
        };
        let mut o = self.header_json();
        if let Some(map) = o.as_object_mut() {
            map.insert("size".into(), json!(qty(self.size.into())));
            map.insert("totalDifficulty".into(), json!("0x0"));
            map.insert("transactions".into(), transactions);
            map.insert("uncles".into(), json!([]));
        }
        o
    }

    /// The header fields (what `newHeads` subscribers receive).
    pub fn header_json(&self) -> Value {
        json!({
            "number": qty(self.number.into()),
            "hash": self.hash,
            "parentHash": self.parent_hash,
            "nonce": "0x0000000000000000",
            "mixHash": H256::default(),
            "sha3Uncles": EMPTY_UNCLES_HASH,
            "logsBloom": self.logs_bloom,
            "transactionsRoot": self.io_root,
            "stateRoot": self.state_root,
            "receiptsRoot": self.io_root,
            "miner": H160::default(),
            "difficulty": "0x0",
            "extraData": "0x",
            "gasLimit": qty(self.gas_limit.into()),
            "gasUsed": qty(self.gas_used.into()),
            "timestamp": qty(self.timestamp.into()),
            "baseFeePerGas": self.base_fee,
        })
    }
}

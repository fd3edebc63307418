//! The indexer: follows the runtime's finalized rounds, in order, and turns
//! each into an Ethereum block in the [`Index`].
//!
//! It wakes on each finalized round (`RuntimeApi::subscribe`), and also
//! polls now and then in case a notification was lost; each time it reads
//! every round from the one after its last indexed round up to the
//! runtime's latest (`RuntimeApi::round_record`). So on start it catches up
//! with whatever was finalized while it was down. On an empty index it
//! starts at round 0, skipping rounds that have no record (the runtime's
//! genesis round has none, nor do the rounds before the checkpoint a node
//! restored its storage from). Rounds missing after indexed ones (a node
//! that restored a later checkpoint) leave a gap in the index. A failing
//! index is reset and rebuilt (see [`Indexer::catch_up`]).
//!
//! A round's Ethereum transactions are the batch entries that are
//! `UnverifiedTransaction(raw, [{"module": "evm.ethereum.v0"}])`; their
//! results are the runtime ABI's `TxOutcome`s, whose `evm` events of code 1 are the
//! logs. The other entries (native SDK transactions) are left out.

use std::sync::Arc;
use std::time::Duration;

use atoll_compute::storage::RoundRecord;
use atoll_runtime_host::abi::TxOutcome;
use atoll_runtime_sdk::types::{AuthProof, CallResult, UnverifiedTransaction};
use atoll_types::cbor::{self, Value as Cbor};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tracing::{debug, warn};

use crate::backend::{Backend, ETHEREUM_PROOF};
use crate::bloom::{self, Bloom};
use crate::error::Web3Error;
use crate::eth::{DecodedTx, RecentTxs, create_address};
use crate::index::{Index, IndexError};
use crate::model::{BlockRecord, LogRecord, TxRecord};
use crate::types::{Bytes, H160, H256, Qty};

/// The module and code of EVM log events.
pub const EVM_LOG_EVENT: (&str, u32) = ("evm", 1);

/// What a block adds to its transactions' size (a rough header size).
const HEADER_SIZE: u64 = 508;

/// How often the indexer looks for new rounds without a notification.
const POLL: Duration = Duration::from_secs(1);

/// A newly indexed block, for subscriptions and filters.
#[derive(Clone, Debug)]
pub struct IndexedBlock {
    /// The block.
    pub block: BlockRecord,
    /// Its transactions.
    pub txs: Vec<TxRecord>,
}

/// The value of an `evm` log event.
#[derive(Deserialize)]
struct EvmLog {
    #[serde(with = "serde_bytes")]
    address: Vec<u8>,
    topics: Vec<serde_bytes::ByteBuf>,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// The raw Ethereum transaction in a batch entry, if it is one.
pub fn ethereum_body(entry: &[u8]) -> Option<Vec<u8>> {
    let utx: UnverifiedTransaction = cbor::from_slice(entry).ok()?;
    match utx.1.as_slice() {
        [AuthProof::Module(m)] if m == ETHEREUM_PROOF => Some(utx.0),
        _ => None,
    }
}

fn logs_of(outcome: &TxOutcome) -> Vec<LogRecord> {
    outcome
        .events
        .iter()
        .filter(|e| e.module == EVM_LOG_EVENT.0 && e.code == EVM_LOG_EVENT.1)
        .filter_map(|e| {
            let l: EvmLog = e.decode().ok()?;
            Some(LogRecord {
                address: H160::from_slice(&l.address)?,
                topics: l
                    .topics
                    .iter()
                    .map(|t| H256::from_slice(t))
                    .collect::<Option<Vec<_>>>()?,
                data: Bytes::from(l.data),
            })
        })
        .collect()
}

/// The Ethereum block of a round. `gas_limit` and `base_fee` are the
/// runtime's parameters when it is indexed. `decode` gets each Ethereum
/// transaction as the round holds it (the runtime transaction wrapping it)
/// and as its raw Ethereum bytes.
pub fn build_block(
    record: &RoundRecord,
    gas_limit: u64,
    base_fee: u128,
    decode: impl Fn(&[u8], &[u8]) -> Result<DecodedTx, String>,
) -> (BlockRecord, Vec<TxRecord>) {
    let header = &record.header;
    let number = header.round;
    let hash = H256::new(header.hash().0);
    let mut txs = Vec::new();
    let mut bloom = Bloom::default();
    let mut gas_used_total = 0u64;
    let mut log_count = 0u32;
    let mut size = HEADER_SIZE;
    for (batch_index, (entry, result)) in record.txs.iter().zip(&record.results).enumerate() {
        let Some(raw) = ethereum_body(entry) else {
            continue;
        };
        let tx = match decode(entry, &raw) {
            Ok(tx) => tx,
            Err(e) => {
                warn!(round = number, batch_index, error = %e, "web3 indexer: an included Ethereum transaction does not decode; left out");
                continue;
            }
        };
        let outcome: TxOutcome = match cbor::from_value(result.clone()) {
            Ok(o) => o,
            Err(e) => {
                warn!(round = number, batch_index, error = %e, "web3 indexer: a transaction result does not decode; left out");
                continue;
            }
        };
        let status = outcome.result.is_success();
        let logs = if status {
            logs_of(&outcome)
        } else {
            Vec::new()
        };
        let mut tx_bloom = Bloom::default();
        for l in &logs {
            bloom::accrue_log(&mut tx_bloom, &l.address, &l.topics);
        }
        bloom.accrue_bloom(&tx_bloom);
        gas_used_total = gas_used_total.saturating_add(outcome.gas_used);
        let contract_address = if tx.to.is_none() {
            match &outcome.result {
                CallResult::Ok(Cbor::Bytes(b)) => H160::from_slice(b),
                _ => None,
            }
            .or_else(|| Some(create_address(&tx.from, tx.nonce)))
        } else {
            None
        };
        let n_logs = u32::try_from(logs.len()).unwrap_or(u32::MAX);
        size = size.saturating_add(raw.len() as u64);
        txs.push(TxRecord {
            hash: tx.hash,
            block_number: number,
            block_hash: hash,
            index: u32::try_from(txs.len()).unwrap_or(u32::MAX),
            batch_index: u32::try_from(batch_index).unwrap_or(u32::MAX),
            from: tx.from,
            to: tx.to,
            tx_type: tx.tx_type,
            chain_id: tx.chain_id,
            nonce: tx.nonce,
            gas: tx.gas,
            gas_price: tx.gas_price.map(Qty),
            max_fee_per_gas: tx.max_fee_per_gas.map(Qty),
            max_priority_fee_per_gas: tx.max_priority_fee_per_gas.map(Qty),
            value: tx.value,
            input: Bytes::from(tx.input.clone()),
            access_list: tx.access_list.clone(),
            v: tx.v,
            r: tx.r,
            s: tx.s,
            status,
            gas_used: outcome.gas_used,
            cumulative_gas_used: gas_used_total,
            effective_gas_price: Qty(tx.effective_gas_price(base_fee)),
            contract_address,
            logs,
            first_log_index: log_count,
            logs_bloom: tx_bloom,
        });
        log_count = log_count.saturating_add(n_logs);
    }
    let block = BlockRecord {
        number,
        hash,
        parent_hash: H256::new(header.previous_hash.0),
        timestamp: header.timestamp,
        state_root: H256::new(header.state_root.0),
        io_root: H256::new(header.io_root.0),
        gas_limit,
        gas_used: gas_used_total,
        base_fee: Qty(base_fee),
        logs_bloom: bloom,
        size,
        transactions: txs.iter().map(|t| t.hash).collect(),
    };
    (block, txs)
}

/// Why indexing stopped: the runtime could not be read (tried again
/// later), or the index failed (reset, then rebuilt).
enum Failure {
    Runtime(Web3Error),
    Index(IndexError),
}

impl From<Web3Error> for Failure {
    fn from(e: Web3Error) -> Self {
        Self::Runtime(e)
    }
}

impl From<IndexError> for Failure {
    fn from(e: IndexError) -> Self {
        Self::Index(e)
    }
}

/// Follows the runtime's rounds into the index.
pub struct Indexer {
    backend: Backend,
    index: Arc<Index>,
    blocks: broadcast::Sender<Arc<IndexedBlock>>,
    /// Transactions the gateway decoded on submission.
    recent: Arc<RecentTxs>,
    /// Runtime parameters last seen (used when a query fails).
    params: (u64, u128),
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer").finish_non_exhaustive()
    }
}

impl Indexer {
    /// An indexer of `backend`'s runtime into `index`, announcing each new
    /// block on `blocks`. Transactions found in `recent` are not decoded
    /// again; the others take their sender from the node's runtime check
    /// when it remembers one ([`Backend::take_eth_sender`]), and are
    /// recovered otherwise.
    pub fn new(
        backend: Backend,
        index: Arc<Index>,
        blocks: broadcast::Sender<Arc<IndexedBlock>>,
        recent: Arc<RecentTxs>,
    ) -> Self {
        Self {
            backend,
            index,
            blocks,
            recent,
            params: (0, 0),
        }
    }

    async fn refresh_params(&mut self) {
        let last = self.index.last().ok().flatten();
        if self.params.0 == 0
            && let Some(Ok(Some(b))) = last.map(|n| self.index.block(n))
        {
            self.params = (b.gas_limit, b.base_fee.0);
        }
        match self.backend.gas_limit().await {
            Ok(g) => self.params.0 = g,
            Err(e) => debug!(error = %e, "web3 indexer: no gas limit from the runtime"),
        }
        match self.backend.min_gas_price().await {
            Ok(p) => self.params.1 = p,
            Err(e) => debug!(error = %e, "web3 indexer: no minimum gas price from the runtime"),
        }
    }

    /// Indexes every finalized round not indexed yet; returns the last
    /// indexed block. An index that fails (it cannot be read or written,
    /// or refuses a block) is reset ([`Index::reset`]) and rebuilt from
    /// the runtime's rounds from the next call on: the index is a cache,
    /// and never stops the node.
    pub async fn catch_up(&mut self) -> Result<Option<u64>, Web3Error> {
        match self.index_rounds().await {
            Ok(last) => Ok(last),
            Err(Failure::Runtime(e)) => Err(e),
            Err(Failure::Index(e)) => {
                let why = e.to_string();
                self.index.reset(&why)?;
                Err(Web3Error::Internal(format!(
                    "{why}; the index was reset and is rebuilt from the runtime's rounds"
                )))
            }
        }
    }

    async fn index_rounds(&mut self) -> Result<Option<u64>, Failure> {
        let mut last = self.index.last()?;
        let Some(latest) = self.backend.latest_round()? else {
            return Ok(last);
        };
        let mut next = last.map_or(0, |l| l.saturating_add(1));
        if next > latest {
            return Ok(last);
        }
        self.refresh_params().await;
        // Whether rounds were skipped since the last indexed block.
        let mut gap = false;
        while next <= latest {
            let Some(bytes) = self.backend.round_record(next)? else {
                // Before the first recorded round (the genesis round), or
                // before the checkpoint storage was restored from: storage
                // writes a round's record before it counts as applied, so
                // no other round up to `latest` lacks one.
                if last.is_some() {
                    debug!(
                        round = next,
                        "web3 indexer: no record (storage restored from a later checkpoint); skipped"
                    );
                    gap = true;
                }
                next = next.saturating_add(1);
                continue;
            };
            let record: RoundRecord = cbor::from_slice(&bytes)
                .map_err(|e| Web3Error::Internal(format!("round {next} record: {e}")))?;
            let (block, txs) = build_block(&record, self.params.0, self.params.1, |entry, raw| {
                self.recent.decode(raw, |raw| {
                    let tx = crate::eth::decode_unrecovered(raw)?;
                    let from = match self
                        .backend
                        .take_eth_sender(atoll_crypto::Hash::digest(entry))
                    {
                        Some(a) => H160::new(a.0),
                        None => crate::eth::recover_sender(&tx)?,
                    };
                    Ok(crate::eth::with_sender(tx, from))
                })
            });
            if gap {
                self.index.put_block_after_gap(&block, &txs)?;
                gap = false;
            } else {
                self.index.put_block(&block, &txs)?;
            }
            debug!(block = next, txs = txs.len(), "web3 indexer: block indexed");
            // Nobody listening is fine.
            let _ = self.blocks.send(Arc::new(IndexedBlock { block, txs }));
            last = Some(next);
            next = next.saturating_add(1);
        }
        Ok(last)
    }

    /// Runs until `stop` turns true (or its sender is dropped).
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut wake = self.backend.subscribe();
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.catch_up().await {
                warn!(error = %e, "web3 indexer");
            }
            tokio::select! {
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
                got = async {
                    match wake.as_mut() {
                        Some(rx) => rx.recv().await.is_some(),
                        None => std::future::pending().await,
                    }
                } => {
                    if !got {
                        wake = self.backend.subscribe();
                    }
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

//! What the API sees of a running node: [`NodeService`] implements
//! [`NodeApi`] over the chain store, the mempool and the block feed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use atoll_bft::chain::Chain;
use atoll_bft::host::{Committed, TxSource};
use atoll_consensus::app::{App, BlockResult};
use atoll_consensus::query::QueryError;
use atoll_crypto::Hash;
use atoll_mempool::{Mempool, MempoolError};
use atoll_rpc::{ApiError, BlockNotification, BlockView, NodeApi, NodeStatus, RuntimeApi, TxView};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::metrics::{MetricsRegistry, NodeMetrics};

/// Publishes transactions this node admitted to its peers.
pub trait Broadcast: Send + Sync {
    /// Sends `raw` to peers (best effort).
    fn publish(&self, raw: Vec<u8>);
}

/// What became of a transaction a peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerTx {
    /// New and valid: in the mempool, worth forwarding.
    Admitted,
    /// Invalid whatever the state (malformed, bad signature, unknown method,
    /// oversized): the peer should not have sent it.
    Invalid,
    /// Not taken now (duplicate, pool full, underpriced, nonce used, cannot
    /// pay).
    NotNow,
}

/// The API's view of the node.
pub struct NodeService {
    app: App,
    chain_id: String,
    chain: Chain,
    mempool: Arc<Mutex<Mempool>>,
    /// Bumped after every admission that queued something: a proposer
    /// waiting for transactions wakes on it.
    arrivals: Arc<watch::Sender<u64>>,
    broadcast: Mutex<Option<Arc<dyn Broadcast>>>,
    runtimes: Mutex<Option<Arc<dyn RuntimeApi>>>,
    blocks: broadcast::Sender<Arc<BlockNotification>>,
    syncing: AtomicBool,
    last_time: AtomicU64,
    metrics: NodeMetrics,
    /// Everything `GET /metrics` serves.
    registry: Arc<MetricsRegistry>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

impl NodeService {
    /// A service over `chain` with an empty mempool.
    pub fn new(
        app: App,
        chain_id: String,
        chain: Chain,
        mempool: Mempool,
        moniker: &str,
    ) -> Arc<Self> {
        let registry = Arc::new(MetricsRegistry::new(moniker));
        Arc::new(Self {
            app,
            chain_id,
            chain,
            mempool: Arc::new(Mutex::new(mempool)),
            arrivals: Arc::new(watch::Sender::new(0)),
            broadcast: Mutex::new(None),
            runtimes: Mutex::new(None),
            blocks: broadcast::channel(256).0,
            syncing: AtomicBool::new(false),
            last_time: AtomicU64::new(0),
            metrics: registry.node().clone(),
            registry,
        })
    }

    /// Where admitted transactions go next.
    pub fn set_broadcast(&self, b: Arc<dyn Broadcast>) {
        *self.broadcast.lock() = Some(b);
    }

    /// Serves the runtime client API (a compute node).
    pub fn set_runtimes(&self, r: Arc<dyn RuntimeApi>) {
        *self.runtimes.lock() = Some(r);
    }

    /// Gossips a transaction already in the mempool again (one whose first
    /// gossip may have gone nowhere, e.g. before the mesh formed).
    pub fn rebroadcast(&self, raw: Vec<u8>) {
        if let Some(b) = self.broadcast.lock().clone() {
            b.publish(raw);
        }
    }

    /// The chain store.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The node's metrics (where the compute node registers its
    /// runtimes').
    pub fn metrics_registry(&self) -> &Arc<MetricsRegistry> {
        &self.registry
    }

    /// The consensus application.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Whether the mempool holds a transaction.
    pub fn in_mempool(&self, hash: &Hash) -> bool {
        self.mempool.lock().contains(hash)
    }

    /// Admits transactions to the mempool against the latest state: the
    /// parameters read once, the signatures batch-verified, the pool locked
    /// once. The one path for the API and for gossip. It verifies a batch of
    /// signatures, so it runs as blocking work ([`atoll_bft::blocking`]):
    /// the node's other async tasks keep their worker threads meanwhile.
    fn admit(&self, raws: &[&[u8]]) -> Result<Vec<Result<Hash, MempoolError>>, ApiError> {
        atoll_bft::blocking(|| self.admit_now(raws))
    }

    fn admit_now(&self, raws: &[&[u8]]) -> Result<Vec<Result<Hash, MempoolError>>, ApiError> {
        let view = self.chain.latest_view().map_err(internal)?;
        let params = self.app.tx_params(&view).map_err(ApiError::Tx)?;
        self.app.preverify(raws, &params);
        let mut pool = self.mempool.lock();
        let outcomes: Vec<_> = raws
            .iter()
            .map(|raw| {
                let r = pool.insert_with(&self.app, &view, &params, raw.to_vec());
                self.count_admission(&r, &pool);
                r
            })
            .collect();
        drop(pool);
        if outcomes.iter().any(Result::is_ok) {
            self.arrivals.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(outcomes)
    }

    /// Admits a batch of transactions from a peer (not re-published here:
    /// gossip forwards the batch when it is worth it).
    pub fn admit_from_peer(&self, txs: &[serde_bytes::ByteBuf]) -> Vec<PeerTx> {
        let raws: Vec<&[u8]> = txs.iter().map(|t| t.as_slice()).collect();
        let Ok(outcomes) = self.admit(&raws) else {
            return vec![PeerTx::NotNow; txs.len()];
        };
        outcomes
            .into_iter()
            .map(|r| match r {
                Ok(_) => PeerTx::Admitted,
                // Malformed, mis-signed, unknown method, oversized: invalid
                // whatever the state, so the peer should never have sent it.
                // A used nonce or an empty balance may just be news the peer
                // has not had yet.
                Err(MempoolError::Invalid(e))
                    if e.module == "consensus" && matches!(e.code, 1 | 2 | 7 | 8 | 10) =>
                {
                    PeerTx::Invalid
                }
                Err(MempoolError::TooLarge) => PeerTx::Invalid,
                Err(_) => PeerTx::NotNow,
            })
            .collect()
    }

    fn count_admission(&self, r: &Result<Hash, MempoolError>, pool: &Mempool) {
        match r {
            Ok(_) => self.metrics.submitted.inc(),
            Err(_) => self.metrics.refused.inc(),
        };
        self.metrics.mempool_txs.set(gauge(pool.len()));
        self.metrics.mempool_bytes.set(gauge(pool.bytes()));
    }

    /// The proposer's view of the mempool.
    pub fn tx_source(&self, max_bytes: u64, max_gas: u64) -> PoolSource {
        PoolSource {
            app: self.app.clone(),
            mempool: self.mempool.clone(),
            arrivals: self.arrivals.clone(),
            chain: self.chain.clone(),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
            max_gas,
        }
    }

    /// After each applied block: recheck the mempool against the new state,
    /// update metrics and notify subscribers.
    pub fn on_commit(&self, c: &Committed<'_>) {
        let height = c.block.block.block.height;
        self.syncing.store(c.synced, Ordering::Relaxed);
        self.last_time
            .store(c.block.block.block.time, Ordering::Relaxed);
        // The block's own senders were rechecked when its transactions
        // left the pool; now and then everything is, for what a block can
        // change besides its transactions (runtime messages, slashing).
        {
            let mut pool = self.mempool.lock();
            if height.is_multiple_of(FULL_RECHECK_INTERVAL)
                && let Ok(view) = c.chain.view(height)
            {
                pool.recheck(&self.app, &view);
            }
            self.metrics.mempool_txs.set(gauge(pool.len()));
            self.metrics.mempool_bytes.set(gauge(pool.bytes()));
        }
        self.metrics.height.set(gauge(height));
        let failed = c
            .result
            .tx_results
            .iter()
            .filter(|t| t.error.is_some())
            .count();
        self.metrics.txs.inc_by(c.result.tx_results.len() as u64);
        self.metrics.failed_txs.inc_by(failed as u64);
        if self.blocks.receiver_count() > 0 {
            let block = view_of(c.block, c.state_root, c.result);
            let _ = self.blocks.send(Arc::new(BlockNotification {
                block,
                results: c.result.clone(),
            }));
        }
    }
}

/// Blocks between full rechecks of the mempool.
const FULL_RECHECK_INTERVAL: u64 = 100;

fn gauge(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn view_of(b: &atoll_bft::chain::StoredBlock, state_root: Hash, result: &BlockResult) -> BlockView {
    BlockView {
        height: b.block.block.height,
        time: b.block.block.time,
        hash: b.hash.0,
        state_root,
        proposer: b.block.block.proposer,
        transactions: result.tx_results.iter().map(|t| t.hash).collect(),
    }
}

impl NodeApi for NodeService {
    fn status(&self) -> NodeStatus {
        let latest = self.chain.last_height().ok().flatten();
        let latest_time = latest
            .and_then(|h| self.chain.block(h).ok().flatten())
            .map(|b| b.block.block.time);
        NodeStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            chain_id: self.chain_id.clone(),
            chain_context: self.app.chain_context().as_str().to_owned(),
            latest_height: latest,
            latest_time,
            syncing: self.syncing.load(Ordering::Relaxed),
            mempool_size: self.mempool.lock().len(),
        }
    }

    fn submit_tx(&self, raw: Vec<u8>) -> Result<Hash, ApiError> {
        self.submit_txs(vec![raw])
            .pop()
            .unwrap_or_else(|| Err(ApiError::Internal("no outcome".into())))
    }

    fn submit_txs(&self, raws: Vec<Vec<u8>>) -> Vec<Result<Hash, ApiError>> {
        let refs: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        let outcomes = match self.admit(&refs) {
            Ok(o) => o,
            Err(e) => return raws.iter().map(|_| Err(e.clone())).collect(),
        };
        let b = self.broadcast.lock().clone();
        raws.into_iter()
            .zip(outcomes)
            .map(|(raw, r)| {
                let hash = r.map_err(|e| match e {
                    MempoolError::Invalid(t) => ApiError::Tx(t),
                    other => ApiError::InvalidParams(other.to_string()),
                })?;
                if let Some(b) = &b {
                    b.publish(raw);
                }
                Ok(hash)
            })
            .collect()
    }

    fn block(&self, height: Option<u64>) -> Result<Option<BlockView>, ApiError> {
        let h = match height {
            Some(h) => h,
            None => match self.chain.last_height().map_err(internal)? {
                Some(h) => h,
                None => return Ok(None),
            },
        };
        let Some(b) = self.chain.block(h).map_err(internal)? else {
            return Ok(None);
        };
        let Some(result) = self.chain.results(h).map_err(internal)? else {
            return Ok(None);
        };
        let root = self.chain.state_root(h).map_err(internal)?;
        Ok(Some(view_of(&b, root, &result)))
    }

    fn block_results(&self, height: u64) -> Result<Option<BlockResult>, ApiError> {
        self.chain.results(height).map_err(internal)
    }

    fn block_body(&self, height: u64) -> Result<Option<atoll_rpc::BlockBody>, ApiError> {
        Ok(self
            .chain
            .block(height)
            .map_err(internal)?
            .map(|b| atoll_rpc::BlockBody {
                txs: b.block.block.txs.iter().map(|t| t.to_vec()).collect(),
                signers: b.block.block.signers.clone(),
            }))
    }

    fn transaction(&self, hash: &Hash) -> Result<Option<TxView>, ApiError> {
        let Some((height, index)) = self.chain.tx_location(hash).map_err(internal)? else {
            return Ok(None);
        };
        let result = self
            .chain
            .results(height)
            .map_err(internal)?
            .and_then(|r| r.tx_results.into_iter().nth(index as usize))
            .ok_or_else(|| ApiError::Internal(format!("no result for {hash}")))?;
        Ok(Some(TxView {
            hash: *hash,
            height,
            index,
            result,
        }))
    }

    fn query(&self, method: &str, args: &Value, height: Option<u64>) -> Result<Value, ApiError> {
        let latest = self
            .chain
            .last_height()
            .map_err(internal)?
            .unwrap_or(self.chain.genesis_version());
        let h = height.unwrap_or(latest);
        if h > latest {
            return Err(ApiError::NotFound(format!(
                "height {h} (latest is {latest})"
            )));
        }
        let mut view = self
            .chain
            .view(h)
            .map_err(|_| ApiError::NotFound(format!("height {h}")))?;
        atoll_consensus::query::query(&mut view, method, args).map_err(|e| match e {
            QueryError::NotFound(w) => ApiError::NotFound(w),
            QueryError::State(s) => ApiError::Internal(s.to_string()),
            other => ApiError::InvalidParams(other.to_string()),
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockNotification>> {
        self.blocks.subscribe()
    }

    fn metrics(&self) -> String {
        self.registry.encode()
    }

    fn runtimes(&self) -> Option<Arc<dyn RuntimeApi>> {
        self.runtimes.lock().clone()
    }
}

/// The mempool as the proposer's [`TxSource`]: runnable transactions in
/// nonce order per sender, by fee priority, within the block limits.
pub struct PoolSource {
    app: App,
    mempool: Arc<Mutex<Mempool>>,
    arrivals: Arc<watch::Sender<u64>>,
    chain: Chain,
    max_bytes: usize,
    max_gas: u64,
}

impl TxSource for PoolSource {
    fn pending(&mut self, max: usize) -> Vec<Vec<u8>> {
        let Ok(view) = self.chain.latest_view() else {
            return Vec::new();
        };
        let pool = self.mempool.lock();
        let mut view = view;
        let mut txs = pool.select(self.max_bytes, self.max_gas, |who| {
            atoll_consensus::services::staking::state::StakingState::new(&mut view)
                .account(who)
                .map(|a| a.general.nonce)
                .unwrap_or(0)
        });
        txs.truncate(max);
        txs
    }

    /// Called with a committed block's transactions (the state is already
    /// the block's): drops them and rechecks their senders' queues.
    fn remove(&mut self, hashes: &[Hash]) {
        let Ok(view) = self.chain.latest_view() else {
            return;
        };
        self.mempool
            .lock()
            .remove_committed(&self.app, &view, hashes);
    }

    fn arrivals(&self) -> Option<watch::Receiver<u64>> {
        Some(self.arrivals.subscribe())
    }
}

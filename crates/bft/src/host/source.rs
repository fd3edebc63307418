//! Where the proposer takes transactions from ([`TxSource`]), and a
//! plain in-memory source ([`MemQueue`]).

use std::collections::VecDeque;

use tokio::sync::watch;

use atoll_crypto::Hash;

/// Where the proposer takes transactions from: the mempool implements this.
pub trait TxSource: Send {
    /// Pending transactions, in the order the proposer should try them (at
    /// most `max`).
    fn pending(&mut self, max: usize) -> Vec<Vec<u8>>;
    /// These transactions are in a committed block, or can never be: drop
    /// them.
    fn remove(&mut self, hashes: &[Hash]);
    /// A value that changes whenever transactions arrive (any change, not
    /// its value, is the news): a proposer with nothing to propose waits on
    /// it. `None` (the default): the source cannot tell, and such a proposer
    /// waits out the whole block time.
    fn arrivals(&self) -> Option<watch::Receiver<u64>> {
        None
    }
}

/// A first-in first-out in-memory [`TxSource`], shared by clones.
#[derive(Debug, Clone)]
pub struct MemQueue {
    inner: std::sync::Arc<parking_lot::Mutex<VecDeque<Vec<u8>>>>,
    arrived: std::sync::Arc<watch::Sender<u64>>,
}

impl Default for MemQueue {
    fn default() -> Self {
        Self {
            inner: std::sync::Arc::default(),
            arrived: std::sync::Arc::new(watch::Sender::new(0)),
        }
    }
}

impl MemQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a raw signed transaction.
    pub fn push(&self, raw: Vec<u8>) {
        self.inner.lock().push_back(raw);
        self.arrived.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Transactions waiting.
    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl TxSource for MemQueue {
    fn pending(&mut self, max: usize) -> Vec<Vec<u8>> {
        self.inner.lock().iter().take(max).cloned().collect()
    }

    fn remove(&mut self, hashes: &[Hash]) {
        self.inner
            .lock()
            .retain(|raw| !hashes.contains(&Hash::digest(raw)));
    }

    fn arrivals(&self) -> Option<watch::Receiver<u64>> {
        Some(self.arrived.subscribe())
    }
}

//! What clients of the runtime API hold on a worker: queries and waits for
//! inclusion, each bounded so that no client can starve rounds or grow the
//! node's memory.
//!
//! - **Queries** ([`QueryLane`]) go to a runtime process of their own (the
//!   node starts one beside each runtime's batch process; see
//!   `atoll_node::compute`), so a query never waits for a batch and a batch
//!   never waits for a query. Queries run one at a time there, each within
//!   the query host's time limit (an overrun is aborted, and the query
//!   process killed and restarted if it ignores the abort: the batch
//!   process is not touched). At most [`QueryLimits::max_waiting`] queries
//!   wait for their turn, each at most [`QueryLimits::queue_wait`]; past
//!   either, a query is refused at once with [`QueryError::Busy`].
//! - **Waits** ([`Waiters`]): a client waiting for its transaction to be
//!   included holds a [`TxWait`]; dropping it (the transaction was refused,
//!   the client's wait expired, the client went away) removes it from the
//!   map, so the map holds only live waits, at most [`MAX_WAITERS`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use atoll_crypto::Hash;
use atoll_runtime_host::host::{HostError, RuntimeHost};
use atoll_runtime_host::protocol::QueryRequest;
use atoll_types::cbor::Value;
use tokio::sync::{Semaphore, oneshot};

use crate::storage::StateAtError;

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The runtime failed it, or could not be asked (a query past the time
    /// limit is [`HostError::Timeout`]).
    #[error(transparent)]
    Host(#[from] HostError),
    /// The round asked for is not finalized yet, or its state is not held
    /// here.
    #[error(transparent)]
    State(#[from] StateAtError),
    /// Too many queries are waiting for the runtime, or this one waited
    /// too long for its turn: try again later.
    #[error("{0}")]
    Busy(String),
}

/// Bounds of the query queue of one runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Most queries waiting for their turn (beyond: refused at once).
    pub max_waiting: usize,
    /// Longest a query waits for its turn (beyond: refused).
    pub queue_wait: Duration,
}

impl Default for QueryLimits {
    /// 1024 waiting (a full JSON-RPC batch of calls fits), each at most
    /// 10 s.
    fn default() -> Self {
        Self {
            max_waiting: 1024,
            queue_wait: Duration::from_secs(10),
        }
    }
}

/// The queries of one runtime: a runtime process that serves only them,
/// one at a time, behind a bounded queue (see the module documentation).
pub struct QueryLane {
    host: RuntimeHost,
    limits: QueryLimits,
    /// One query at a time on the query process, so that each one's time
    /// limit counts its own work and the queue is ours (bounded), not the
    /// host's.
    turn: Semaphore,
    /// Queries admitted and not finished (waiting or running).
    admitted: AtomicUsize,
}

/// Decrements a counter when dropped.
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl QueryLane {
    /// Queries on `host` (a runtime process that serves nothing else, or
    /// the batch process itself when the node has no other), bounded by
    /// `limits`.
    pub fn new(host: RuntimeHost, limits: QueryLimits) -> Self {
        Self {
            host,
            limits,
            turn: Semaphore::new(1),
            admitted: AtomicUsize::new(0),
        }
    }

    /// The runtime process queries go to.
    pub fn host(&self) -> &RuntimeHost {
        &self.host
    }

    /// Queries admitted and not yet answered (waiting or running).
    pub fn in_flight(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }

    /// Runs `req` when its turn comes (see the module documentation).
    pub async fn query(&self, req: QueryRequest) -> Result<Value, QueryError> {
        // One running, `max_waiting` waiting.
        let cap = self.limits.max_waiting.saturating_add(1);
        let admitted = self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            });
        if admitted.is_err() {
            return Err(QueryError::Busy(format!(
                "too many queries in flight ({} waiting); try again later",
                self.limits.max_waiting
            )));
        }
        let _admitted = Admitted(&self.admitted);
        let turn = match tokio::time::timeout(self.limits.queue_wait, self.turn.acquire()).await {
            Ok(Ok(turn)) => turn,
            Ok(Err(_)) => {
                return Err(QueryError::Busy("the query lane is closed".into()));
            }
            Err(_) => {
                return Err(QueryError::Busy(format!(
                    "the query waited {:?} for its turn; try again later",
                    self.limits.queue_wait
                )));
            }
        };
        // The call is not cancelled from here on once it reached the
        // runtime: the host aborts it at its own time limit.
        let out = self.host.query(req).await;
        drop(turn);
        Ok(out?)
    }
}

/// Most clients waiting for transactions to be included, on one runtime.
pub const MAX_WAITERS: usize = 65_536;

/// A transaction's place and result in a finalized round.
#[derive(Debug, Clone, PartialEq)]
pub struct Included {
    /// The round.
    pub round: u64,
    /// Its index in the batch.
    pub index: u32,
    /// Its result (runtime-defined CBOR).
    pub result: Value,
}

#[derive(Default)]
struct WaitMap {
    by_hash: BTreeMap<Hash, Vec<(u64, oneshot::Sender<Included>)>>,
    count: usize,
    next_id: u64,
}

/// Clients waiting for transactions to be included (see the module
/// documentation).
pub struct Waiters {
    map: Mutex<WaitMap>,
    max: usize,
}

impl std::fmt::Debug for Waiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiters")
            .field("len", &self.len())
            .field("max", &self.max)
            .finish()
    }
}

/// The map of waits is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many clients wait for transactions ({0}); try again later")]
pub struct TooManyWaiters(pub usize);

impl Waiters {
    /// At most `max` waits at a time.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::new(WaitMap::default()),
            max,
        })
    }

    /// Waits registered and not yet resolved or dropped.
    pub fn len(&self) -> usize {
        self.map.lock().count
    }

    /// Whether no wait is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a wait for `hash`.
    pub fn register(self: &Arc<Self>, hash: Hash) -> Result<TxWait, TooManyWaiters> {
        let (tx, rx) = oneshot::channel();
        let mut m = self.map.lock();
        if m.count >= self.max {
            return Err(TooManyWaiters(self.max));
        }
        let id = m.next_id;
        m.next_id = m.next_id.wrapping_add(1);
        m.by_hash.entry(hash).or_default().push((id, tx));
        m.count += 1;
        Ok(TxWait {
            rx,
            slot: Some((Arc::clone(self), hash, id)),
        })
    }

    /// A wait already resolved with `found` (nothing registered).
    pub fn resolved(found: Included) -> TxWait {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(found);
        TxWait { rx, slot: None }
    }

    /// Resolves every wait for `hash` with `inc`.
    pub fn resolve(&self, hash: &Hash, inc: &Included) {
        let ws = {
            let mut m = self.map.lock();
            let ws = m.by_hash.remove(hash).unwrap_or_default();
            m.count -= ws.len();
            ws
        };
        for (_, w) in ws {
            let _ = w.send(inc.clone());
        }
    }

    /// Whether any wait for `hash` is registered.
    pub fn waits_for(&self, hash: &Hash) -> bool {
        self.map.lock().by_hash.contains_key(hash)
    }

    fn forget(&self, hash: &Hash, id: u64) {
        let mut m = self.map.lock();
        let Some(ws) = m.by_hash.get_mut(hash) else {
            return;
        };
        let before = ws.len();
        ws.retain(|(i, _)| *i != id);
        let removed = before - ws.len();
        if ws.is_empty() {
            m.by_hash.remove(hash);
        }
        m.count -= removed;
    }
}

/// A client's wait for a transaction's inclusion: resolves with where it
/// was included. Dropping it unregisters it.
pub struct TxWait {
    rx: oneshot::Receiver<Included>,
    slot: Option<(Arc<Waiters>, Hash, u64)>,
}

impl std::fmt::Debug for TxWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxWait")
            .field("hash", &self.slot.as_ref().map(|(_, h, _)| h))
            .finish_non_exhaustive()
    }
}

/// The worker stopped before the transaction was included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the runtime worker stopped")]
pub struct WorkerStopped;

impl Future for TxWait {
    type Output = Result<Included, WorkerStopped>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.map_err(|_| WorkerStopped))
    }
}

impl Drop for TxWait {
    fn drop(&mut self) {
        if let Some((waiters, hash, id)) = self.slot.take() {
            waiters.forget(&hash, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(round: u64) -> Included {
        Included {
            round,
            index: 0,
            result: Value::Null,
        }
    }

    /// A flood of waits for transactions that never land (the client's
    /// wait expires, or the transaction is refused after the wait was
    /// registered): every one is freed when dropped, and the map is empty
    /// again.
    #[tokio::test]
    async fn abandoned_waits_leave_nothing_behind() {
        let w = Waiters::new(MAX_WAITERS);
        for round in 0..20u64 {
            let mut held = Vec::new();
            for i in 0..5_000u64 {
                let h = Hash::digest(format!("never {round} {i}").as_bytes());
                held.push(w.register(h).unwrap());
            }
            assert_eq!(w.len(), 5_000);
            // Some expire while waiting (a caller's bounded wait), the
            // rest are dropped unpolled (a refusal, a client gone).
            for wait in held.iter_mut().take(20) {
                let r = tokio::time::timeout(Duration::from_millis(1), wait).await;
                assert!(r.is_err(), "nothing resolves them");
            }
            drop(held);
            assert!(w.is_empty(), "round {round}: {} left", w.len());
        }
        assert!(w.map.lock().by_hash.is_empty());
    }

    #[tokio::test]
    async fn waits_resolve_and_duplicates_share_the_outcome() {
        let w = Waiters::new(MAX_WAITERS);
        let h = Hash::digest(b"tx");
        let a = w.register(h).unwrap();
        let b = w.register(h).unwrap();
        let c = w.register(h).unwrap();
        drop(c);
        assert_eq!(w.len(), 2);
        w.resolve(&h, &inc(7));
        assert!(w.is_empty());
        assert_eq!(a.await.unwrap().round, 7);
        assert_eq!(b.await.unwrap().round, 7);
        assert_eq!(Waiters::resolved(inc(3)).await.unwrap().round, 3);
    }

    #[tokio::test]
    async fn the_map_is_bounded() {
        let w = Waiters::new(10);
        let held: Vec<_> = (0..10u8)
            .map(|i| w.register(Hash::digest(&[i])).unwrap())
            .collect();
        assert_eq!(
            w.register(Hash::digest(b"one more")).unwrap_err(),
            TooManyWaiters(10)
        );
        drop(held);
        assert!(w.register(Hash::digest(b"one more")).is_ok());
        assert!(w.is_empty(), "the last one was dropped at once");
    }

    #[tokio::test]
    async fn a_worker_that_stops_fails_the_wait() {
        let w = Waiters::new(4);
        let wait = w.register(Hash::digest(b"x")).unwrap();
        // The worker drops its senders (as it does when it stops).
        w.map.lock().by_hash.clear();
        assert_eq!(wait.await.unwrap_err(), WorkerStopped);
    }
}

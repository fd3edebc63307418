//! The consensus transaction pool.
//!
//! - **Admission**: every transaction passes [`App::check_tx`] (size, strict
//!   decoding, signature, method, gas, price, nonce at least the account's,
//!   fee balance) before it is kept, so a proposer never wastes block space
//!   on what validators would refuse.
//! - **Order**: per sender, transactions are kept by nonce; a block takes a
//!   sender's transactions only in nonce order without gaps, starting at the
//!   account's next nonce. Across senders, higher fee per unit of gas goes
//!   first; ties break by transaction hash, so the order is deterministic.
//! - **Bounds**: at most `max_txs` transactions, `max_bytes` bytes and
//!   `max_per_sender` per sender. When full, a better-paying transaction
//!   evicts the worst-paying one (always from the tail of a sender's queue,
//!   so no gap is left); otherwise it is refused.
//! - **Replace-by-fee**: a transaction for a nonce already queued replaces it
//!   only if it pays more per gas.
//! - **Recheck**: after each block, [`Mempool::recheck`] drops what was
//!   included or became invalid (used nonces, fees no longer covered).
//!
//! ```
//! # use atoll_mempool::{Limits, Mempool};
//! let pool = Mempool::new(Limits::default());
//! assert!(pool.is_empty());
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use atoll_consensus::app::{App, CheckedTx, NonceCheck, TxParams};
use atoll_crypto::{Address, Hash};
use atoll_state::{Store, TxError};

/// Pool bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most transactions.
    pub max_txs: usize,
    /// Most bytes of transactions.
    pub max_bytes: usize,
    /// Most transactions of one sender.
    pub max_per_sender: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_txs: 50_000,
            max_bytes: 256 << 20,
            max_per_sender: 64,
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// The transaction itself is invalid now.
    #[error("transaction refused: {0}")]
    Invalid(TxError),
    /// Already in the pool.
    #[error("transaction already in the pool")]
    Duplicate,
    /// The same sender and nonce is queued and the new one does not pay more.
    #[error("a transaction with this nonce is queued and pays at least as much per gas")]
    Underpriced,
    /// The pool is full and the transaction pays too little to evict anything.
    #[error("mempool full: the transaction pays too little to replace any queued one")]
    Full,
    /// The sender has too many queued transactions.
    #[error("too many queued transactions from this sender (at most {0})")]
    SenderLimit(usize),
    /// The transaction is larger than the whole pool.
    #[error("transaction larger than the pool")]
    TooLarge,
}

/// A queued transaction.
#[derive(Debug, Clone)]
struct Entry {
    raw: Vec<u8>,
    checked: CheckedTx,
}

impl Entry {
    /// Fee per gas, compared exactly (`fee_a * gas_b` against `fee_b * gas_a`).
    fn price_cmp(&self, other: &Entry) -> Ordering {
        let a = wide_mul(self.checked.fee.0, other.checked.gas.max(1));
        let b = wide_mul(other.checked.fee.0, self.checked.gas.max(1));
        a.cmp(&b)
    }
}

/// `a * b` as a (high, low) pair, which orders like the 192-bit product.
fn wide_mul(a: u128, b: u64) -> (u128, u128) {
    let mask = u128::from(u64::MAX);
    let lo = (a & mask) * u128::from(b);
    let hi = (a >> 64) * u128::from(b) + (lo >> 64);
    (hi >> 64, ((hi & mask) << 64) | (lo & mask))
}

/// The pool.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    limits: Limits,
    senders: BTreeMap<Address, BTreeMap<u64, Entry>>,
    by_hash: BTreeMap<Hash, (Address, u64)>,
    bytes: usize,
}

impl Mempool {
    /// An empty pool.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` is queued.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Checks `raw` against `state` and queues it.
    pub fn insert(
        &mut self,
        app: &App,
        state: &dyn Store,
        raw: Vec<u8>,
    ) -> Result<Hash, MempoolError> {
        let params = app.tx_params(state).map_err(MempoolError::Invalid)?;
        self.insert_with(app, state, &params, raw)
    }

    /// [`Mempool::insert`] with the transaction parameters already read from
    /// `state` (admitting a batch).
    pub fn insert_with(
        &mut self,
        app: &App,
        state: &dyn Store,
        params: &TxParams,
        raw: Vec<u8>,
    ) -> Result<Hash, MempoolError> {
        let checked = app
            .check_tx_with(state, &raw, NonceCheck::AtLeast, params)
            .map_err(MempoolError::Invalid)?;
        if self.by_hash.contains_key(&checked.hash) {
            return Err(MempoolError::Duplicate);
        }
        if raw.len() > self.limits.max_bytes {
            return Err(MempoolError::TooLarge);
        }
        let entry = Entry { raw, checked };
        let (sender, nonce, hash) = (
            entry.checked.signer,
            entry.checked.nonce,
            entry.checked.hash,
        );

        // Replace-by-fee.
        if let Some(old) = self.senders.get(&sender).and_then(|q| q.get(&nonce)) {
            if entry.price_cmp(old) != Ordering::Greater {
                return Err(MempoolError::Underpriced);
            }
            let old_hash = old.checked.hash;
            self.remove(&old_hash);
        } else if self.senders.get(&sender).map_or(0, BTreeMap::len) >= self.limits.max_per_sender {
            return Err(MempoolError::SenderLimit(self.limits.max_per_sender));
        }

        // Make room, evicting the worst-paying tails while the newcomer pays more.
        while self.len() >= self.limits.max_txs
            || self.bytes + entry.raw.len() > self.limits.max_bytes
        {
            let Some(victim) = self.worst_tail(&sender) else {
                return Err(MempoolError::Full);
            };
            let worse = self
                .entry(&victim)
                .is_some_and(|v| entry.price_cmp(v) == Ordering::Greater);
            if !worse {
                return Err(MempoolError::Full);
            }
            self.remove(&victim);
        }

        self.bytes += entry.raw.len();
        self.by_hash.insert(hash, (sender, nonce));
        self.senders.entry(sender).or_default().insert(nonce, entry);
        Ok(hash)
    }

    fn entry(&self, hash: &Hash) -> Option<&Entry> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders.get(sender)?.get(nonce)
    }

    /// The cheapest last-in-queue transaction of any sender but `except`
    /// (evicting from a tail never leaves a nonce gap).
    fn worst_tail(&self, except: &Address) -> Option<Hash> {
        self.senders
            .iter()
            .filter(|(s, _)| *s != except)
            .filter_map(|(_, q)| q.values().next_back())
            .min_by(|a, b| {
                a.price_cmp(b)
                    .then_with(|| b.checked.hash.cmp(&a.checked.hash))
            })
            .map(|e| e.checked.hash)
    }

    /// Removes a transaction (no-op when absent).
    pub fn remove(&mut self, hash: &Hash) {
        if let Some((sender, nonce)) = self.by_hash.remove(hash)
            && let Some(q) = self.senders.get_mut(&sender)
        {
            if let Some(e) = q.remove(&nonce) {
                self.bytes -= e.raw.len();
            }
            if q.is_empty() {
                self.senders.remove(&sender);
            }
        }
    }

    /// Transactions for the next block, in order: at most `max_bytes` and
    /// `max_gas` (0: unlimited) in total. `next_nonce` gives each sender's
    /// account nonce in the state the block will apply to.
    pub fn select(
        &self,
        max_bytes: usize,
        max_gas: u64,
        mut next_nonce: impl FnMut(&Address) -> u64,
    ) -> Vec<Vec<u8>> {
        // Each sender's runnable queue: contiguous from its account nonce.
        let mut queues: BTreeMap<Address, Vec<&Entry>> = BTreeMap::new();
        for (sender, q) in &self.senders {
            let mut expect = next_nonce(sender);
            let run: Vec<&Entry> = q
                .range(expect..)
                .take_while(|(n, _)| {
                    let ok = **n == expect;
                    expect = expect.saturating_add(1);
                    ok
                })
                .map(|(_, e)| e)
                .collect();
            if !run.is_empty() {
                queues.insert(*sender, run);
            }
        }
        let mut heads: BTreeSet<Head<'_>> = queues
            .iter()
            .filter_map(|(s, q)| {
                q.first().map(|e| Head {
                    entry: e,
                    sender: *s,
                    index: 0,
                })
            })
            .collect();
        let (mut out, mut bytes, mut gas) = (Vec::new(), 0usize, 0u64);
        while let Some(head) = heads.pop_last() {
            let e = head.entry;
            let fits_bytes = bytes + e.raw.len() <= max_bytes;
            let fits_gas = max_gas == 0 || gas.saturating_add(e.checked.gas) <= max_gas;
            if !fits_bytes || !fits_gas {
                // This sender's later nonces cannot go without this one.
                continue;
            }
            bytes += e.raw.len();
            gas = gas.saturating_add(e.checked.gas);
            out.push(e.raw.clone());
            if let Some(next) = queues.get(&head.sender).and_then(|q| q.get(head.index + 1)) {
                heads.insert(Head {
                    entry: next,
                    sender: head.sender,
                    index: head.index + 1,
                });
            }
        }
        out
    }

    /// After a block: removes the block's transactions and rechecks the
    /// queues of their senders against the new state (a used nonce, a fee
    /// the sender can no longer pay). Other senders' transactions are not
    /// affected by the block's own transactions, so this costs what the
    /// block holds, not what the pool holds; [`Mempool::recheck`] checks
    /// everything (after an epoch change, say). Returns how many were
    /// dropped besides the block's own.
    ///
    /// Between full rechecks, what can change for a queued transaction of a
    /// block's sender is only its account: the nonce the block used and the
    /// balance the block spent. So each such sender's account is read once
    /// and its queue keeps the transactions whose nonce is still unused and
    /// whose fee the balance still covers, as [`App::check_tx`] would decide
    /// (every other part of that check depends on the transaction alone or
    /// on parameters, which [`Mempool::recheck`] covers).
    pub fn remove_committed(&mut self, app: &App, state: &dyn Store, hashes: &[Hash]) -> usize {
        let mut senders = BTreeSet::new();
        for h in hashes {
            if let Some((sender, _)) = self.by_hash.get(h) {
                senders.insert(*sender);
            }
            self.remove(h);
        }
        let (mut stale, mut dropped) = (Vec::new(), 0);
        for sender in senders {
            let Some(queue) = self.senders.get(&sender) else {
                continue;
            };
            match app.account_nonce_and_balance(state, &sender) {
                Ok((nonce, balance)) => stale.extend(
                    queue
                        .values()
                        .filter(|e| e.checked.nonce < nonce || e.checked.fee > balance)
                        .map(|e| e.checked.hash),
                ),
                // The account cannot be read: check each the long way.
                Err(_) => {
                    let queued: Vec<Hash> = queue.values().map(|e| e.checked.hash).collect();
                    dropped += self.recheck_these(app, state, queued);
                }
            }
        }
        for h in &stale {
            self.remove(h);
        }
        dropped + stale.len()
    }

    /// Rechecks `hashes` against `state`, dropping the ones now invalid.
    fn recheck_these(&mut self, app: &App, state: &dyn Store, hashes: Vec<Hash>) -> usize {
        let Ok(params) = app.tx_params(state) else {
            return 0;
        };
        let mut dropped = 0;
        for hash in hashes {
            let keep = self.entry(&hash).is_some_and(|e| {
                app.check_tx_with(state, &e.raw, NonceCheck::AtLeast, &params)
                    .is_ok()
            });
            if !keep {
                self.remove(&hash);
                dropped += 1;
            }
        }
        dropped
    }

    /// Drops transactions whose nonce is used and rechecks the rest against
    /// the new state, dropping any that became invalid.
    pub fn recheck(&mut self, app: &App, state: &dyn Store) -> usize {
        let hashes: Vec<Hash> = self.by_hash.keys().copied().collect();
        self.recheck_these(app, state, hashes)
    }
}

/// A sender's next runnable transaction, ordered by price then hash.
struct Head<'a> {
    entry: &'a Entry,
    sender: Address,
    index: usize,
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head<'_> {}

impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head<'_> {
    /// Higher price is greater; at equal price the smaller hash is greater
    /// (so it is taken first by `pop_last`).
    fn cmp(&self, other: &Self) -> Ordering {
        self.entry
            .price_cmp(other.entry)
            .then_with(|| other.entry.checked.hash.cmp(&self.entry.checked.hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_products_order_correctly() {
        assert!(wide_mul(u128::MAX, 2) > wide_mul(u128::MAX, 1));
        assert!(wide_mul(1 << 100, 1 << 30) > wide_mul(u128::MAX >> 1, 1));
        assert_eq!(wide_mul(3, 4), (0, 12));
    }
}

//! The transaction pool of one runtime on a compute node.
//!
//! Transactions reach the pool already checked by the runtime (signature,
//! fee, nonce against the latest state); the pool holds them until the batch
//! proposer takes them with [`TxPool::batch`] and they are finalized
//! ([`TxPool::remove`], [`TxPool::advance`]).
//!
//! The pool is bounded three ways ([`PoolLimits`]): transactions, raw bytes
//! and transactions per sender. When it is full, a new transaction may evict
//! lower-priority ones, but only a sender's highest-nonce transaction is ever
//! evicted, so eviction never leaves a hole in a sender's nonce sequence.
//!
//! Every index is an ordered container, so what the pool returns depends only
//! on its contents, never on insertion order or hashing seeds: two nodes with
//! the same pooled transactions propose the same batch.
//!
//! Costs: `insert`, `remove` and `advance` are O(log n) per transaction
//! touched (inserted, replaced, evicted or dropped); `batch` is O(k log n) for
//! k transactions examined; `all` is O(n log n).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use atoll_crypto::{Address, Hash};

/// Bounds of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most transactions held at once.
    pub max_txs: usize,
    /// Most raw bytes held at once (the sum of [`PoolTx::size`]).
    pub max_bytes: usize,
    /// Most transactions held at once for one sender.
    pub max_per_sender: usize,
}

impl Default for PoolLimits {
    /// 100 000 transactions, 256 MiB, 1 000 per sender.
    fn default() -> Self {
        Self {
            max_txs: 100_000,
            max_bytes: 256 * 1024 * 1024,
            max_per_sender: 1_000,
        }
    }
}

/// A checked transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTx {
    /// The transaction's hash, its identity in the pool.
    pub hash: Hash,
    /// The encoded transaction, as submitted.
    pub raw: Vec<u8>,
    /// The account that pays for it and whose nonce it uses.
    pub sender: Address,
    /// The sender's nonce it uses.
    pub nonce: u64,
    /// Its priority (from its fee): higher is proposed first and evicted last.
    pub priority: u64,
    /// Its gas limit (what it may use of a batch's gas).
    pub gas: u64,
}

impl PoolTx {
    /// The size the pool accounts for it: the length of [`raw`](Self::raw).
    pub fn size(&self) -> usize {
        self.raw.len()
    }
}

/// Why a transaction was not pooled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A transaction with the same hash is already pooled.
    #[error("transaction already pooled")]
    Duplicate,
    /// The nonce is below the sender's account nonce known to the pool.
    #[error("nonce too low: expected at least {expected}, got {got}")]
    NonceTooLow {
        /// The lowest nonce the pool accepts for the sender.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The sender has a transaction with this nonce pooled at the same or a
    /// higher priority; a replacement needs a strictly higher priority.
    #[error("a transaction with this sender and nonce is pooled at the same or a higher priority")]
    Underpriced,
    /// The sender already has the most transactions a sender may have pooled.
    #[error("too many pooled transactions for this sender")]
    SenderFull,
    /// The pool is full and the transaction's priority is not higher than
    /// that of any transaction it could evict.
    #[error("transaction pool full")]
    Full,
    /// The transaction alone is larger than the pool's byte limit.
    #[error("transaction larger than the pool")]
    TooLarge,
}

impl PoolError {
    /// A stable numeric code: 1 to 6 in declaration order
    /// (`Duplicate` = 1, ..., `TooLarge` = 6).
    pub fn code(&self) -> u32 {
        match self {
            Self::Duplicate => 1,
            Self::NonceTooLow { .. } => 2,
            Self::Underpriced => 3,
            Self::SenderFull => 4,
            Self::Full => 5,
            Self::TooLarge => 6,
        }
    }
}

/// One sender's pooled transactions.
#[derive(Debug)]
struct SenderTxs {
    /// The highest account nonce the pool has been told for this sender
    /// while it had pooled transactions; every pooled nonce is at least this.
    floor: u64,
    /// The transactions by nonce (never empty while stored).
    txs: BTreeMap<u64, PoolTx>,
}

/// The transaction pool of one runtime.
///
/// Nonces are tracked per sender: the pool accepts transactions with any
/// nonce at or above the sender's account nonce (gaps included, waiting for
/// the missing ones), but a batch only takes a sender's transactions as a
/// contiguous run from its lowest pooled nonce.
///
/// What the pool remembers of a sender's account nonce it forgets once the
/// sender has nothing pooled; callers pass the nonce of the latest state to
/// [`insert`](Self::insert) anyway.
#[derive(Debug)]
pub struct TxPool {
    limits: PoolLimits,
    /// Pooled transactions by sender, then nonce.
    senders: BTreeMap<Address, SenderTxs>,
    /// Where each pooled transaction sits.
    by_hash: BTreeMap<Hash, (Address, u64)>,
    /// Each sender's lowest-nonce transaction, best first: where a batch starts.
    heads: BTreeSet<(Reverse<u64>, Hash)>,
    /// Each sender's highest-nonce transaction, lowest priority first: what
    /// may be evicted.
    tails: BTreeSet<(u64, Hash)>,
    /// The sum of the pooled transactions' sizes.
    bytes: usize,
}

impl TxPool {
    /// An empty pool with these bounds.
    pub fn new(limits: PoolLimits) -> Self {
        Self {
            limits,
            senders: BTreeMap::new(),
            by_hash: BTreeMap::new(),
            heads: BTreeSet::new(),
            tails: BTreeSet::new(),
            bytes: 0,
        }
    }

    /// The pool's bounds.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    /// How many transactions are pooled.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no transaction is pooled.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The total size of the pooled transactions, in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the transaction with this hash is pooled.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Inserts; `account_nonce` is the sender's nonce in the latest state
    /// (txs below it are refused; the pool also forgets pooled txs of that
    /// sender below it).
    ///
    /// The pooled transactions below `account_nonce` are forgotten even when
    /// the new one is refused. Checks, in order: [`PoolError::Duplicate`],
    /// [`PoolError::TooLarge`], [`PoolError::NonceTooLow`] (against the
    /// larger of `account_nonce` and the nonce the pool already knows),
    /// [`PoolError::Underpriced`] (a transaction with the same sender and
    /// nonce is replaced only by a strictly higher priority),
    /// [`PoolError::SenderFull`] (not for replacements) and
    /// [`PoolError::Full`].
    ///
    /// When the pool is full, the lowest-priority transactions that are the
    /// highest nonce of their sender (other senders than this one) are
    /// evicted, lowest priority then lowest hash first, as long as their
    /// priority is strictly below the new transaction's, until it fits;
    /// if it cannot be made to fit nothing is evicted.
    pub fn insert(&mut self, tx: PoolTx, account_nonce: u64) -> Result<(), PoolError> {
        self.advance(&tx.sender, account_nonce);
        if self.by_hash.contains_key(&tx.hash) {
            return Err(PoolError::Duplicate);
        }
        if tx.size() > self.limits.max_bytes {
            return Err(PoolError::TooLarge);
        }
        let floor = self.floor(&tx.sender, account_nonce);
        if tx.nonce < floor {
            return Err(PoolError::NonceTooLow {
                expected: floor,
                got: tx.nonce,
            });
        }
        let (replaced_size, sender_count) = match self.senders.get(&tx.sender) {
            None => (None, 0),
            Some(s) => match s.txs.get(&tx.nonce) {
                Some(old) if old.priority >= tx.priority => return Err(PoolError::Underpriced),
                Some(old) => (Some(old.size()), s.txs.len()),
                None => (None, s.txs.len()),
            },
        };
        if replaced_size.is_none() && sender_count >= self.limits.max_per_sender {
            return Err(PoolError::SenderFull);
        }
        let evict = self.plan_eviction(&tx, replaced_size)?;
        for (sender, nonce) in evict {
            if let Some(evicted) = self.detach(&sender, nonce) {
                tracing::debug!(
                    hash = %evicted.hash,
                    priority = evicted.priority,
                    by = %tx.hash,
                    "txpool: evicted"
                );
            }
        }
        if replaced_size.is_some() {
            self.detach(&tx.sender, tx.nonce);
        }
        self.attach(tx, floor);
        Ok(())
    }

    /// Up to `max_txs` transactions and `max_bytes` total, for a batch:
    /// highest priority first, but a sender's transactions strictly in nonce
    /// order and only as a contiguous run starting at the lowest pooled nonce
    /// of that sender (no gaps); ties broken by hash so the result is
    /// deterministic. Does not remove them.
    ///
    /// At each step the best of the senders' next transactions is taken
    /// (highest priority, then lowest hash). A transaction that would exceed
    /// `max_bytes` ends its sender's run; other senders continue.
    pub fn batch(&self, max_txs: usize, max_bytes: usize) -> Vec<PoolTx> {
        let mut out = Vec::new();
        let mut used = 0usize;
        let mut global = self.heads.iter().peekable();
        // Senders' next transactions, made available by taking the previous one.
        let mut revealed: BTreeSet<(Reverse<u64>, Hash)> = BTreeSet::new();
        while out.len() < max_txs {
            let key = match (global.peek(), revealed.first()) {
                (None, None) => break,
                (Some(g), Some(r)) if r < *g => revealed.pop_first(),
                (Some(_), _) => global.next().copied(),
                (None, Some(_)) => revealed.pop_first(),
            };
            let Some((_, hash)) = key else { break };
            let Some((sender, nonce)) = self.by_hash.get(&hash) else {
                continue;
            };
            let Some(txs) = self.senders.get(sender).map(|s| &s.txs) else {
                continue;
            };
            let Some(tx) = txs.get(nonce) else { continue };
            if tx.size() > max_bytes.saturating_sub(used) {
                continue;
            }
            used = used.saturating_add(tx.size());
            out.push(tx.clone());
            if let Some(next_nonce) = nonce.checked_add(1)
                && let Some(next) = txs.get(&next_nonce)
            {
                revealed.insert((Reverse(next.priority), next.hash));
            }
        }
        out
    }

    /// Removes these (e.g. included in a finalized round). Unknown hashes are
    /// ignored. Returns how many were removed.
    pub fn remove(&mut self, hashes: &[Hash]) -> usize {
        let mut removed = 0;
        for hash in hashes {
            if let Some(&(sender, nonce)) = self.by_hash.get(hash)
                && self.detach(&sender, nonce).is_some()
            {
                removed += 1;
            }
        }
        removed
    }

    /// Drops every transaction of `sender` with a nonce below `account_nonce`
    /// (the sender's nonce after a finalized round). Returns how many.
    ///
    /// While the sender still has pooled transactions the pool remembers
    /// `account_nonce` and refuses transactions below it.
    pub fn advance(&mut self, sender: &Address, account_nonce: u64) -> usize {
        let Some(entry) = self.senders.get_mut(sender) else {
            return 0;
        };
        entry.floor = entry.floor.max(account_nonce);
        let stale: Vec<u64> = entry.txs.range(..account_nonce).map(|(n, _)| *n).collect();
        let mut dropped = 0;
        for nonce in stale {
            if self.detach(sender, nonce).is_some() {
                dropped += 1;
            }
        }
        dropped
    }

    /// The next nonce a sender would use counting pooled txs:
    /// `max(account_nonce, 1 + highest contiguous pooled nonce from account_nonce)`.
    ///
    /// `account_nonce` is first raised to the nonce the pool already knows
    /// for the sender, if higher.
    pub fn next_nonce(&self, sender: &Address, account_nonce: u64) -> u64 {
        let mut next = self.floor(sender, account_nonce);
        if let Some(entry) = self.senders.get(sender) {
            for &nonce in entry.txs.range(next..).map(|(n, _)| n) {
                if nonce != next {
                    break;
                }
                match next.checked_add(1) {
                    Some(n) => next = n,
                    None => break,
                }
            }
        }
        next
    }

    /// Every pooled tx's raw bytes and hash, in insertion-independent
    /// deterministic order (by hash) — used to re-check after state changes.
    pub fn all(&self) -> Vec<PoolTx> {
        self.by_hash
            .values()
            .filter_map(|(sender, nonce)| self.senders.get(sender)?.txs.get(nonce).cloned())
            .collect()
    }

    /// The larger of `account_nonce` and the nonce the pool knows for `sender`.
    fn floor(&self, sender: &Address, account_nonce: u64) -> u64 {
        self.senders
            .get(sender)
            .map_or(account_nonce, |s| s.floor.max(account_nonce))
    }

    /// Which transactions (sender, nonce) to evict so that `tx` fits, after
    /// replacing a pooled one of `replaced_size` bytes if any; `Full` if it
    /// cannot fit by evicting only transactions of strictly lower priority.
    fn plan_eviction(
        &self,
        tx: &PoolTx,
        replaced_size: Option<usize>,
    ) -> Result<Vec<(Address, u64)>, PoolError> {
        let mut count = self.len();
        let mut bytes = self.bytes;
        if let Some(size) = replaced_size {
            count = count.saturating_sub(1);
            bytes = bytes.saturating_sub(size);
        }
        count = count.saturating_add(1);
        bytes = bytes.saturating_add(tx.size());

        let mut plan = Vec::new();
        let mut global = self
            .tails
            .iter()
            .filter(|(_, h)| self.by_hash.get(h).is_some_and(|(s, _)| *s != tx.sender))
            .peekable();
        // Senders' next-highest transactions, exposed by evicting the highest.
        let mut revealed: BTreeSet<(u64, Hash)> = BTreeSet::new();
        while count > self.limits.max_txs || bytes > self.limits.max_bytes {
            let candidate = match (global.peek(), revealed.first()) {
                (None, None) => None,
                (Some(g), Some(r)) if r < *g => revealed.pop_first(),
                (Some(_), _) => global.next().copied(),
                (None, Some(_)) => revealed.pop_first(),
            };
            let Some((priority, hash)) = candidate else {
                return Err(PoolError::Full);
            };
            if priority >= tx.priority {
                return Err(PoolError::Full);
            }
            let Some(&(sender, nonce)) = self.by_hash.get(&hash) else {
                return Err(PoolError::Full);
            };
            let Some(txs) = self.senders.get(&sender).map(|s| &s.txs) else {
                return Err(PoolError::Full);
            };
            let Some(victim) = txs.get(&nonce) else {
                return Err(PoolError::Full);
            };
            count = count.saturating_sub(1);
            bytes = bytes.saturating_sub(victim.size());
            plan.push((sender, nonce));
            if let Some((_, prev)) = txs.range(..nonce).next_back() {
                revealed.insert((prev.priority, prev.hash));
            }
        }
        Ok(plan)
    }

    /// Adds a transaction whose sender has nothing pooled at its nonce.
    fn attach(&mut self, tx: PoolTx, floor: u64) {
        let entry = self.senders.entry(tx.sender).or_insert_with(|| SenderTxs {
            floor,
            txs: BTreeMap::new(),
        });
        entry.floor = entry.floor.max(floor);
        match entry.txs.first_key_value() {
            Some((&first, _)) if first < tx.nonce => {}
            Some((_, head)) => {
                self.heads.remove(&(Reverse(head.priority), head.hash));
                self.heads.insert((Reverse(tx.priority), tx.hash));
            }
            None => {
                self.heads.insert((Reverse(tx.priority), tx.hash));
            }
        }
        match entry.txs.last_key_value() {
            Some((&last, _)) if last > tx.nonce => {}
            Some((_, tail)) => {
                self.tails.remove(&(tail.priority, tail.hash));
                self.tails.insert((tx.priority, tx.hash));
            }
            None => {
                self.tails.insert((tx.priority, tx.hash));
            }
        }
        self.by_hash.insert(tx.hash, (tx.sender, tx.nonce));
        self.bytes = self.bytes.saturating_add(tx.size());
        entry.txs.insert(tx.nonce, tx);
    }

    /// Removes a pooled transaction, keeping every index in step.
    fn detach(&mut self, sender: &Address, nonce: u64) -> Option<PoolTx> {
        let entry = self.senders.get_mut(sender)?;
        let was_head = entry.txs.first_key_value().map(|(n, _)| *n) == Some(nonce);
        let was_tail = entry.txs.last_key_value().map(|(n, _)| *n) == Some(nonce);
        let tx = entry.txs.remove(&nonce)?;
        self.by_hash.remove(&tx.hash);
        self.bytes = self.bytes.saturating_sub(tx.size());
        if was_head {
            self.heads.remove(&(Reverse(tx.priority), tx.hash));
            if let Some((_, head)) = entry.txs.first_key_value() {
                self.heads.insert((Reverse(head.priority), head.hash));
            }
        }
        if was_tail {
            self.tails.remove(&(tx.priority, tx.hash));
            if let Some((_, tail)) = entry.txs.last_key_value() {
                self.tails.insert((tail.priority, tail.hash));
            }
        }
        if entry.txs.is_empty() {
            self.senders.remove(sender);
        }
        Some(tx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;
    use proptest::prelude::*;

    fn addr(i: u8) -> Address {
        Address::derive(b"atoll txpool test", 0, &[i])
    }

    /// A transaction of `size` bytes; its hash depends on every argument.
    fn tx(sender: u8, nonce: u64, priority: u64, size: usize) -> PoolTx {
        let mut id = vec![sender];
        id.extend_from_slice(&nonce.to_le_bytes());
        id.extend_from_slice(&priority.to_le_bytes());
        id.extend_from_slice(&(size as u64).to_le_bytes());
        PoolTx {
            hash: Hash::digest(&id),
            raw: vec![sender; size],
            sender: addr(sender),
            nonce,
            priority,
            gas: 0,
        }
    }

    fn limits(max_txs: usize, max_bytes: usize, max_per_sender: usize) -> PoolLimits {
        PoolLimits {
            max_txs,
            max_bytes,
            max_per_sender,
        }
    }

    fn hashes(txs: &[PoolTx]) -> Vec<Hash> {
        txs.iter().map(|t| t.hash).collect()
    }

    /// Every index agrees with the per-sender maps, and the bounds hold.
    fn check_invariants(pool: &TxPool) {
        let mut count = 0;
        let mut bytes = 0;
        let mut heads = BTreeSet::new();
        let mut tails = BTreeSet::new();
        for (sender, s) in &pool.senders {
            assert!(!s.txs.is_empty());
            assert!(s.txs.len() <= pool.limits.max_per_sender);
            for (nonce, t) in &s.txs {
                assert_eq!(t.nonce, *nonce);
                assert_eq!(t.sender, *sender);
                assert!(*nonce >= s.floor);
                assert_eq!(pool.by_hash.get(&t.hash), Some(&(*sender, *nonce)));
                count += 1;
                bytes += t.size();
            }
            let head = s.txs.first_key_value().unwrap().1;
            heads.insert((Reverse(head.priority), head.hash));
            let tail = s.txs.last_key_value().unwrap().1;
            tails.insert((tail.priority, tail.hash));
        }
        assert_eq!(count, pool.by_hash.len());
        assert_eq!(count, pool.len());
        assert_eq!(bytes, pool.bytes());
        assert_eq!(heads, pool.heads);
        assert_eq!(tails, pool.tails);
        assert!(pool.len() <= pool.limits.max_txs);
        assert!(pool.bytes() <= pool.limits.max_bytes);
        assert_eq!(pool.is_empty(), pool.by_hash.is_empty());
    }

    /// The batch rule spelled out naively: repeatedly take the best next
    /// transaction among the senders whose run has not ended.
    fn reference_batch(pool: &TxPool, max_txs: usize, max_bytes: usize) -> Vec<PoolTx> {
        let mut by_sender: BTreeMap<Address, Vec<PoolTx>> = BTreeMap::new();
        for t in pool.all() {
            by_sender.entry(t.sender).or_default().push(t);
        }
        let mut runs: Vec<(Vec<PoolTx>, usize, bool)> = by_sender
            .into_values()
            .map(|mut v| {
                v.sort_by_key(|t| t.nonce);
                (v, 0, false)
            })
            .collect();
        let mut out: Vec<PoolTx> = Vec::new();
        let mut used = 0;
        while out.len() < max_txs {
            let mut best: Option<usize> = None;
            for (i, (v, next, ended)) in runs.iter().enumerate() {
                if *ended || *next >= v.len() {
                    continue;
                }
                if *next > 0 && v[*next].nonce != v[*next - 1].nonce + 1 {
                    continue;
                }
                let t = &v[*next];
                let better = match best {
                    None => true,
                    Some(b) => {
                        let bt = &runs[b].0[runs[b].1];
                        (t.priority, Reverse(t.hash)) > (bt.priority, Reverse(bt.hash))
                    }
                };
                if better {
                    best = Some(i);
                }
            }
            let Some(b) = best else { break };
            let (v, next, ended) = &mut runs[b];
            let t = &v[*next];
            if used + t.size() > max_bytes {
                *ended = true;
                continue;
            }
            used += t.size();
            out.push(t.clone());
            *next += 1;
        }
        out
    }

    #[test]
    fn default_limits() {
        let l = PoolLimits::default();
        assert_eq!(l, limits(100_000, 256 * 1024 * 1024, 1_000));
        let pool = TxPool::new(l);
        assert_eq!(pool.limits(), l);
        assert!(pool.is_empty());
        assert_eq!(pool.bytes(), 0);
        assert!(pool.batch(10, 1000).is_empty());
        assert!(pool.all().is_empty());
    }

    #[test]
    fn error_codes_are_stable() {
        let errors = [
            PoolError::Duplicate,
            PoolError::NonceTooLow {
                expected: 2,
                got: 1,
            },
            PoolError::Underpriced,
            PoolError::SenderFull,
            PoolError::Full,
            PoolError::TooLarge,
        ];
        let codes: Vec<u32> = errors.iter().map(PoolError::code).collect();
        assert_eq!(codes, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(
            errors[1].to_string(),
            "nonce too low: expected at least 2, got 1"
        );
    }

    #[test]
    fn duplicate_is_refused() {
        let mut pool = TxPool::new(PoolLimits::default());
        let t = tx(1, 0, 5, 10);
        pool.insert(t.clone(), 0).unwrap();
        assert_eq!(pool.insert(t.clone(), 0), Err(PoolError::Duplicate));
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.bytes(), 10);
        assert!(pool.contains(&t.hash));
        check_invariants(&pool);
    }

    #[test]
    fn nonce_too_low_is_refused() {
        let mut pool = TxPool::new(PoolLimits::default());
        assert_eq!(
            pool.insert(tx(1, 4, 5, 10), 5),
            Err(PoolError::NonceTooLow {
                expected: 5,
                got: 4
            })
        );
        assert!(pool.is_empty());
        pool.insert(tx(1, 5, 5, 10), 5).unwrap();
        // The pool remembers the sender's nonce while it has txs pooled,
        // even if a caller passes a stale one.
        assert_eq!(
            pool.insert(tx(1, 3, 5, 10), 0),
            Err(PoolError::NonceTooLow {
                expected: 5,
                got: 3
            })
        );
        // Other senders are unaffected.
        pool.insert(tx(2, 0, 5, 10), 0).unwrap();
        assert_eq!(pool.len(), 2);
        check_invariants(&pool);
    }

    #[test]
    fn insert_forgets_txs_below_the_account_nonce() {
        let mut pool = TxPool::new(PoolLimits::default());
        for n in 0..3 {
            pool.insert(tx(1, n, 5, 10), 0).unwrap();
        }
        // Even a refused insert forgets: nonce 0 and 1 are now stale.
        let dup = tx(1, 2, 5, 10);
        assert_eq!(pool.insert(dup.clone(), 2), Err(PoolError::Duplicate));
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.all(), vec![dup]);
        pool.insert(tx(1, 3, 5, 10), 2).unwrap();
        assert_eq!(pool.len(), 2);
        check_invariants(&pool);
    }

    #[test]
    fn replacement_needs_a_strictly_higher_priority() {
        let mut pool = TxPool::new(PoolLimits::default());
        let old = tx(1, 0, 5, 10);
        pool.insert(old.clone(), 0).unwrap();
        pool.insert(tx(1, 1, 5, 10), 0).unwrap();
        assert_eq!(pool.insert(tx(1, 0, 5, 11), 0), Err(PoolError::Underpriced));
        assert_eq!(pool.insert(tx(1, 0, 4, 10), 0), Err(PoolError::Underpriced));
        let new = tx(1, 0, 6, 30);
        pool.insert(new.clone(), 0).unwrap();
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.bytes(), 40);
        assert!(!pool.contains(&old.hash));
        assert!(pool.contains(&new.hash));
        assert_eq!(pool.batch(10, 1000)[0], new);
        check_invariants(&pool);
        // Replacing a sender's only tx keeps what the pool knows of its nonce.
        let mut pool = TxPool::new(PoolLimits::default());
        pool.insert(tx(2, 3, 1, 10), 3).unwrap();
        pool.insert(tx(2, 3, 2, 10), 0).unwrap();
        assert_eq!(pool.next_nonce(&addr(2), 0), 4);
        assert_eq!(
            pool.insert(tx(2, 2, 9, 10), 0),
            Err(PoolError::NonceTooLow {
                expected: 3,
                got: 2
            })
        );
        check_invariants(&pool);
    }

    #[test]
    fn per_sender_limit() {
        let mut pool = TxPool::new(limits(100, 10_000, 2));
        pool.insert(tx(1, 0, 5, 10), 0).unwrap();
        pool.insert(tx(1, 1, 5, 10), 0).unwrap();
        assert_eq!(pool.insert(tx(1, 2, 5, 10), 0), Err(PoolError::SenderFull));
        // A replacement does not add a tx, so it is allowed at the limit.
        pool.insert(tx(1, 1, 9, 10), 0).unwrap();
        // Other senders have their own allowance.
        pool.insert(tx(2, 0, 5, 10), 0).unwrap();
        pool.insert(tx(2, 1, 5, 10), 0).unwrap();
        assert_eq!(pool.len(), 4);
        // Once the sender's txs are finalized, it has room again.
        assert_eq!(pool.advance(&addr(1), 1), 1);
        pool.insert(tx(1, 2, 5, 10), 1).unwrap();
        check_invariants(&pool);
    }

    #[test]
    fn too_large_is_refused() {
        let mut pool = TxPool::new(limits(10, 10, 10));
        assert_eq!(pool.insert(tx(1, 0, 5, 11), 0), Err(PoolError::TooLarge));
        pool.insert(tx(1, 0, 5, 10), 0).unwrap();
        assert_eq!(pool.bytes(), 10);
        check_invariants(&pool);
    }

    #[test]
    fn full_pool_evicts_only_sender_tails_of_lower_priority() {
        let mut pool = TxPool::new(limits(3, 10_000, 100));
        let a0 = tx(1, 0, 1, 10);
        let a1 = tx(1, 1, 5, 10);
        let b0 = tx(2, 0, 2, 10);
        pool.insert(a0.clone(), 0).unwrap();
        pool.insert(a1.clone(), 0).unwrap();
        pool.insert(b0.clone(), 0).unwrap();
        // a0 has the lowest priority but evicting it would leave a gap before
        // a1; b0 is the lowest-priority tail.
        let c0 = tx(3, 0, 3, 10);
        pool.insert(c0.clone(), 0).unwrap();
        assert!(!pool.contains(&b0.hash));
        assert!(pool.contains(&a0.hash));
        assert_eq!(pool.len(), 3);
        check_invariants(&pool);
        // Tails are now a1 (5) and c0 (3): equal or lower priority is refused
        // and nothing is evicted.
        let before = pool.all();
        assert_eq!(pool.insert(tx(4, 0, 3, 10), 0), Err(PoolError::Full));
        assert_eq!(pool.insert(tx(4, 0, 2, 10), 0), Err(PoolError::Full));
        assert_eq!(pool.all(), before);
        check_invariants(&pool);
    }

    #[test]
    fn a_sender_never_evicts_its_own_txs() {
        let mut pool = TxPool::new(limits(2, 10_000, 100));
        let a0 = tx(1, 0, 1, 10);
        let a1 = tx(1, 1, 1, 10);
        pool.insert(a0.clone(), 0).unwrap();
        pool.insert(a1.clone(), 0).unwrap();
        // a1 is a cheaper tail, but evicting it would open a gap below a2.
        assert_eq!(pool.insert(tx(1, 2, 9, 10), 0), Err(PoolError::Full));
        assert!(pool.contains(&a0.hash) && pool.contains(&a1.hash));
        // Another sender may evict it.
        let b0 = tx(2, 0, 9, 10);
        pool.insert(b0.clone(), 0).unwrap();
        assert!(!pool.contains(&a1.hash));
        assert!(pool.contains(&a0.hash) && pool.contains(&b0.hash));
        check_invariants(&pool);
    }

    #[test]
    fn eviction_may_take_several_txs_of_a_sender_from_the_top() {
        let mut pool = TxPool::new(limits(100, 30, 100));
        let a0 = tx(1, 0, 1, 10);
        let a1 = tx(1, 1, 2, 10);
        let b0 = tx(2, 0, 9, 10);
        pool.insert(a0.clone(), 0).unwrap();
        pool.insert(a1.clone(), 0).unwrap();
        pool.insert(b0.clone(), 0).unwrap();
        // 20 bytes must go: a1 (the tail) and then a0 (the new tail).
        let c0 = tx(3, 0, 5, 20);
        pool.insert(c0.clone(), 0).unwrap();
        let mut expected = vec![b0.clone(), c0.clone()];
        expected.sort_by_key(|t| t.hash);
        assert_eq!(pool.all(), expected);
        assert_eq!(pool.bytes(), 30);
        check_invariants(&pool);
        // If the plan runs out of cheaper txs, nothing is evicted.
        let before = pool.all();
        assert_eq!(pool.insert(tx(4, 0, 6, 30), 0), Err(PoolError::Full));
        assert_eq!(pool.all(), before);
        check_invariants(&pool);
    }

    #[test]
    fn replacement_that_grows_may_evict_others() {
        let mut pool = TxPool::new(limits(100, 30, 100));
        pool.insert(tx(1, 0, 5, 10), 0).unwrap();
        let b0 = tx(2, 0, 1, 10);
        pool.insert(b0.clone(), 0).unwrap();
        pool.insert(tx(3, 0, 9, 10), 0).unwrap();
        let bigger = tx(1, 0, 6, 20);
        pool.insert(bigger.clone(), 0).unwrap();
        assert!(pool.contains(&bigger.hash));
        assert!(!pool.contains(&b0.hash));
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.bytes(), 30);
        check_invariants(&pool);
    }

    #[test]
    fn batch_orders_by_priority_and_nonce() {
        let mut pool = TxPool::new(PoolLimits::default());
        let a0 = tx(1, 0, 1, 10);
        let a1 = tx(1, 1, 10, 10);
        let b0 = tx(2, 0, 5, 10);
        let b1 = tx(2, 1, 3, 10);
        let c0 = tx(3, 0, 7, 10);
        for t in [&a1, &b1, &a0, &c0, &b0] {
            pool.insert(t.clone(), 0).unwrap();
        }
        // a1 has the highest priority but must wait for a0.
        let batch = pool.batch(100, 10_000);
        assert_eq!(
            hashes(&batch),
            hashes(&[c0.clone(), b0.clone(), b1.clone(), a0.clone(), a1])
        );
        assert_eq!(pool.len(), 5, "batch does not remove");
        // max_txs bound.
        assert_eq!(hashes(&pool.batch(2, 10_000)), hashes(&[c0.clone(), b0]));
        assert!(pool.batch(0, 10_000).is_empty());
        // max_bytes bound.
        assert_eq!(hashes(&pool.batch(100, 19)), hashes(&[c0]));
        assert!(pool.batch(100, 9).is_empty());
    }

    #[test]
    fn batch_starts_at_the_lowest_pooled_nonce_and_stops_at_a_gap() {
        let mut pool = TxPool::new(PoolLimits::default());
        let a3 = tx(1, 3, 1, 10);
        let a4 = tx(1, 4, 1, 10);
        let a6 = tx(1, 6, 99, 10);
        for t in [&a6, &a4, &a3] {
            pool.insert(t.clone(), 3).unwrap();
        }
        assert_eq!(hashes(&pool.batch(100, 10_000)), hashes(&[a3, a4]));
    }

    #[test]
    fn batch_skips_a_sender_whose_next_tx_does_not_fit() {
        let mut pool = TxPool::new(PoolLimits::default());
        let a0 = tx(1, 0, 9, 10);
        let a1 = tx(1, 1, 8, 50);
        let a2 = tx(1, 2, 8, 1);
        let b0 = tx(2, 0, 1, 10);
        for t in [&a0, &a1, &a2, &b0] {
            pool.insert(t.clone(), 0).unwrap();
        }
        // a1 does not fit in 30 bytes; a2 must not follow without it, but
        // b0 still fits.
        let batch = pool.batch(100, 30);
        assert_eq!(hashes(&batch), hashes(&[a0, b0]));
        assert!(batch.iter().map(PoolTx::size).sum::<usize>() <= 30);
    }

    #[test]
    fn batch_tie_break_is_by_hash_and_independent_of_insertion_order() {
        let txs: Vec<PoolTx> = (0..8).map(|i| tx(i, 0, 7, 10)).collect();
        let mut forward = TxPool::new(PoolLimits::default());
        let mut backward = TxPool::new(PoolLimits::default());
        for t in &txs {
            forward.insert(t.clone(), 0).unwrap();
        }
        for t in txs.iter().rev() {
            backward.insert(t.clone(), 0).unwrap();
        }
        let mut expected = txs.clone();
        expected.sort_by_key(|t| t.hash);
        assert_eq!(forward.batch(100, 10_000), expected);
        assert_eq!(backward.batch(100, 10_000), expected);
        assert_eq!(forward.all(), expected);
        assert_eq!(backward.all(), expected);
    }

    #[test]
    fn remove_advance_and_next_nonce() {
        let mut pool = TxPool::new(PoolLimits::default());
        let a = addr(1);
        let a0 = tx(1, 0, 5, 10);
        let a1 = tx(1, 1, 5, 10);
        let a3 = tx(1, 3, 5, 10);
        let b0 = tx(2, 0, 5, 10);
        for t in [&a0, &a1, &a3, &b0] {
            pool.insert(t.clone(), 0).unwrap();
        }
        assert_eq!(pool.next_nonce(&a, 0), 2);
        assert_eq!(pool.next_nonce(&a, 3), 4);
        assert_eq!(pool.next_nonce(&a, 5), 5);
        assert_eq!(pool.next_nonce(&addr(9), 7), 7);

        // Unknown and repeated hashes are ignored.
        let unknown = tx(9, 0, 0, 1).hash;
        assert_eq!(pool.remove(&[a1.hash, unknown, a1.hash]), 1);
        assert_eq!(pool.len(), 3);
        assert_eq!(pool.bytes(), 30);
        assert_eq!(pool.next_nonce(&a, 0), 1);
        check_invariants(&pool);

        assert_eq!(pool.advance(&a, 3), 1);
        assert!(!pool.contains(&a0.hash));
        assert!(pool.contains(&a3.hash));
        assert_eq!(pool.advance(&a, 3), 0);
        assert_eq!(pool.advance(&addr(9), 3), 0);
        // The pool now knows sender 1 is at nonce 3.
        assert_eq!(pool.next_nonce(&a, 0), 4);
        assert_eq!(pool.advance(&a, 10), 1);
        assert_eq!(
            pool.next_nonce(&a, 0),
            0,
            "forgotten once nothing is pooled"
        );
        assert_eq!(pool.all(), vec![b0]);
        assert_eq!(pool.bytes(), 10);
        check_invariants(&pool);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert {
            sender: u8,
            nonce: u64,
            priority: u64,
            size: usize,
            account_nonce: u64,
        },
        Remove(usize),
        Advance {
            sender: u8,
            account_nonce: u64,
        },
        Batch {
            max_txs: usize,
            max_bytes: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u8..5, 0u64..8, 0u64..6, 0usize..25, 0u64..3).prop_map(
                |(sender, nonce, priority, size, account_nonce)| Op::Insert {
                    sender,
                    nonce,
                    priority,
                    size,
                    account_nonce,
                }
            ),
            1 => (0usize..64).prop_map(Op::Remove),
            1 => (0u8..5, 0u64..5).prop_map(|(sender, account_nonce)| Op::Advance {
                sender,
                account_nonce,
            }),
            2 => (0usize..12, 0usize..150)
                .prop_map(|(max_txs, max_bytes)| Op::Batch { max_txs, max_bytes }),
        ]
    }

    /// A batch respects its bounds, takes each sender's txs as a gapless run
    /// from its lowest pooled nonce, and matches the naive rule.
    fn check_batch(pool: &TxPool, max_txs: usize, max_bytes: usize) -> Result<(), TestCaseError> {
        let batch = pool.batch(max_txs, max_bytes);
        prop_assert!(batch.len() <= max_txs);
        prop_assert!(batch.iter().map(PoolTx::size).sum::<usize>() <= max_bytes);
        let all = pool.all();
        let mut last: BTreeMap<Address, u64> = BTreeMap::new();
        for t in &batch {
            prop_assert!(pool.contains(&t.hash));
            match last.get(&t.sender) {
                Some(prev) => prop_assert_eq!(t.nonce, prev + 1),
                None => {
                    let lowest = all
                        .iter()
                        .filter(|u| u.sender == t.sender)
                        .map(|u| u.nonce)
                        .min();
                    prop_assert_eq!(Some(t.nonce), lowest);
                }
            }
            last.insert(t.sender, t.nonce);
        }
        prop_assert_eq!(batch, reference_batch(pool, max_txs, max_bytes));
        Ok(())
    }

    proptest! {
        #[test]
        fn pool_stays_consistent_and_batches_are_gapless(
            max_txs in 1usize..16,
            max_bytes in 25usize..200,
            max_per_sender in 1usize..6,
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let mut pool = TxPool::new(limits(max_txs, max_bytes, max_per_sender));
            for op in ops {
                match op {
                    Op::Insert { sender, nonce, priority, size, account_nonce } => {
                        let t = tx(sender, nonce, priority, size);
                        let was_pooled = pool.contains(&t.hash);
                        let before = pool.all();
                        let result = pool.insert(t.clone(), account_nonce);
                        match &result {
                            Ok(()) => prop_assert!(pool.contains(&t.hash)),
                            Err(PoolError::Duplicate) => prop_assert!(was_pooled),
                            Err(_) => prop_assert!(!pool.contains(&t.hash)),
                        }
                        let after = pool.all();
                        for e in before.iter().filter(|e| !pool.contains(&e.hash)) {
                            if e.sender == t.sender {
                                // Forgotten as stale, or replaced.
                                prop_assert!(
                                    e.nonce < account_nonce
                                        || (result.is_ok() && e.nonce == t.nonce)
                                );
                            } else {
                                // Evicted: only to make room, only cheaper
                                // txs, only from the top of a sender.
                                prop_assert!(result.is_ok());
                                prop_assert!(e.priority < t.priority);
                                prop_assert!(
                                    !after.iter().any(|u| u.sender == e.sender && u.nonce > e.nonce)
                                );
                            }
                        }
                    }
                    Op::Remove(i) => {
                        let all = pool.all();
                        if let Some(t) = all.get(i % all.len().max(1)) {
                            prop_assert_eq!(pool.remove(&[t.hash]), 1);
                            prop_assert!(!pool.contains(&t.hash));
                        }
                    }
                    Op::Advance { sender, account_nonce } => {
                        let before = pool.len();
                        let dropped = pool.advance(&addr(sender), account_nonce);
                        prop_assert_eq!(pool.len() + dropped, before);
                        let stale = pool
                            .all()
                            .iter()
                            .any(|t| t.sender == addr(sender) && t.nonce < account_nonce);
                        prop_assert!(!stale);
                    }
                    Op::Batch { max_txs, max_bytes } => check_batch(&pool, max_txs, max_bytes)?,
                }
                check_invariants(&pool);
                let all = pool.all();
                prop_assert_eq!(all.len(), pool.len());
                prop_assert_eq!(all.iter().map(PoolTx::size).sum::<usize>(), pool.bytes());
                prop_assert!(all.windows(2).all(|w| w[0].hash < w[1].hash));
                for t in &all {
                    prop_assert!(pool.contains(&t.hash));
                    // From a sender's lowest pooled nonce, next_nonce counts
                    // its contiguous run.
                    let nonces: BTreeSet<u64> =
                        all.iter().filter(|u| u.sender == t.sender).map(|u| u.nonce).collect();
                    let lowest = *nonces.first().unwrap();
                    let mut next = lowest;
                    while nonces.contains(&next) {
                        next += 1;
                    }
                    prop_assert_eq!(pool.next_nonce(&t.sender, lowest), next);
                }
                check_batch(&pool, usize::MAX, usize::MAX)?;
            }
        }
    }
}

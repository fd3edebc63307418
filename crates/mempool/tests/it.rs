//! The mempool against the real consensus state machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test binary"
)]

use atoll_consensus::app::{App, Block};
use atoll_consensus::genesis::Genesis;
use atoll_consensus::services::staking::state::StakingState;
use atoll_consensus_types::staking::{Account, Transfer, methods};
use atoll_crypto::Address;
use atoll_crypto::ed25519::SigningKey;
use atoll_mempool::{Limits, Mempool, MempoolError};
use atoll_state::MemStore;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use proptest::prelude::*;

struct Env {
    app: App,
    store: MemStore,
    keys: Vec<SigningKey>,
    height: u64,
}

fn addr(k: &SigningKey) -> Address {
    Address::from_ed25519(&k.public_key())
}

impl Env {
    fn new(n: u8, funds: u128) -> Self {
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| SigningKey::from_seed(&[i + 1; 32]))
            .collect();
        let mut g = Genesis {
            chain_id: "mempool".into(),
            debug: true,
            ..Genesis::default()
        };
        g.beacon.interval = 1000;
        for k in &keys {
            let mut a = Account::default();
            a.general.balance = Quantity(funds);
            g.staking.ledger.insert(addr(k), a);
        }
        g.staking.total_supply = Quantity(funds * u128::from(n));
        let app = App::new(&g).unwrap();
        let mut store = MemStore::new();
        app.init_chain(&mut store, &g).unwrap();
        Self {
            app,
            store,
            keys,
            height: 0,
        }
    }

    fn tx(&self, from: usize, nonce: u64, fee: u128, gas: u64) -> Vec<u8> {
        let to = addr(&self.keys[(from + 1) % self.keys.len()]);
        let t = Transaction::call(
            nonce,
            Fee::new(Quantity(fee), gas),
            methods::TRANSFER,
            &Transfer {
                to,
                amount: Quantity(1),
            },
        )
        .unwrap();
        cbor::to_vec(&Signed::sign(&self.keys[from], self.app.tx_context(), &t).unwrap()).unwrap()
    }

    fn nonce(&mut self, a: &Address) -> u64 {
        StakingState::new(&mut self.store)
            .account(a)
            .unwrap()
            .general
            .nonce
    }

    fn select(&mut self, pool: &Mempool, max_bytes: usize, max_gas: u64) -> Vec<Vec<u8>> {
        let mut store = self.store.clone();
        pool.select(max_bytes, max_gas, |a| {
            StakingState::new(&mut store)
                .account(a)
                .unwrap()
                .general
                .nonce
        })
    }

    fn apply(&mut self, txs: Vec<Vec<u8>>) -> Vec<Option<String>> {
        self.height += 1;
        let b = Block {
            height: self.height,
            time: self.height,
            txs: txs.into_iter().map(serde_bytes::ByteBuf::from).collect(),
            ..Block::default()
        };
        let r = self.app.apply_block(&mut self.store, &b).unwrap();
        r.tx_results
            .into_iter()
            .map(|t| t.error.map(|e| e.message))
            .collect()
    }
}

const GAS: u64 = 2000;

#[test]
fn admission_checks_and_duplicates() {
    let env = Env::new(2, 1_000_000);
    let mut pool = Mempool::new(Limits::default());
    let tx = env.tx(0, 0, 10, GAS);
    pool.insert(&env.app, &env.store, tx.clone()).unwrap();
    assert_eq!(
        pool.insert(&env.app, &env.store, tx),
        Err(MempoolError::Duplicate)
    );
    assert!(matches!(
        pool.insert(&env.app, &env.store, b"garbage".to_vec()),
        Err(MempoolError::Invalid(_))
    ));
    // Cannot pay the fee.
    assert!(
        matches!(pool.insert(&env.app, &env.store, env.tx(1, 0, 10_000_000, GAS)), Err(MempoolError::Invalid(e)) if e.code == 4)
    );
    // Too little gas.
    assert!(
        matches!(pool.insert(&env.app, &env.store, env.tx(1, 0, 1, 10)), Err(MempoolError::Invalid(e)) if e.code == 5)
    );
    assert_eq!(pool.len(), 1);
}

#[test]
fn nonce_gaps_hold_back_later_transactions() {
    let mut env = Env::new(1, 1_000_000);
    let mut pool = Mempool::new(Limits::default());
    for n in [0u64, 1, 3] {
        pool.insert(&env.app, &env.store, env.tx(0, n, 10, GAS))
            .unwrap();
    }
    assert_eq!(
        env.select(&pool, usize::MAX, 0).len(),
        2,
        "nonce 3 waits for nonce 2"
    );
    pool.insert(&env.app, &env.store, env.tx(0, 2, 10, GAS))
        .unwrap();
    let block = env.select(&pool, usize::MAX, 0);
    assert_eq!(block.len(), 4);
    assert!(
        env.apply(block).iter().all(Option::is_none),
        "in nonce order, all succeed"
    );
    let a = addr(&env.keys[0]);
    assert_eq!(env.nonce(&a), 4);
    assert_eq!(
        pool.recheck(&env.app, &env.store),
        4,
        "included transactions leave the pool"
    );
    assert!(pool.is_empty());
}

#[test]
fn higher_fee_per_gas_goes_first_and_ties_are_deterministic() {
    let mut env = Env::new(3, 1_000_000);
    let mut pool = Mempool::new(Limits::default());
    let cheap = env.tx(0, 0, 10, GAS);
    let rich = env.tx(1, 0, 1000, GAS);
    let mid = env.tx(2, 0, 100, GAS);
    for t in [&cheap, &rich, &mid] {
        pool.insert(&env.app, &env.store, t.clone()).unwrap();
    }
    assert_eq!(env.select(&pool, usize::MAX, 0), vec![rich, mid, cheap]);
}

#[test]
fn replace_by_fee() {
    let env = Env::new(1, 1_000_000);
    let mut pool = Mempool::new(Limits::default());
    pool.insert(&env.app, &env.store, env.tx(0, 0, 100, GAS))
        .unwrap();
    assert_eq!(
        pool.insert(&env.app, &env.store, env.tx(0, 0, 50, GAS)),
        Err(MempoolError::Underpriced)
    );
    let better = env.tx(0, 0, 200, GAS);
    let h = pool.insert(&env.app, &env.store, better).unwrap();
    assert_eq!(pool.len(), 1);
    assert!(pool.contains(&h));
}

#[test]
fn a_full_pool_evicts_the_worst_paying_tail() {
    let env = Env::new(4, 1_000_000);
    let mut pool = Mempool::new(Limits {
        max_txs: 3,
        max_bytes: usize::MAX,
        max_per_sender: 2,
    });
    let low = pool
        .insert(&env.app, &env.store, env.tx(0, 0, 10, GAS))
        .unwrap();
    pool.insert(&env.app, &env.store, env.tx(1, 0, 20, GAS))
        .unwrap();
    pool.insert(&env.app, &env.store, env.tx(2, 0, 30, GAS))
        .unwrap();
    assert_eq!(
        pool.insert(&env.app, &env.store, env.tx(3, 0, 5, GAS)),
        Err(MempoolError::Full)
    );
    pool.insert(&env.app, &env.store, env.tx(3, 0, 50, GAS))
        .unwrap();
    assert_eq!(pool.len(), 3);
    assert!(!pool.contains(&low), "the cheapest was evicted");
    // Per-sender limit.
    pool.insert(&env.app, &env.store, env.tx(3, 1, 60, GAS))
        .unwrap();
    assert_eq!(
        pool.insert(&env.app, &env.store, env.tx(3, 2, 70, GAS)),
        Err(MempoolError::SenderLimit(2))
    );
}

#[test]
fn block_limits_are_respected() {
    let mut env = Env::new(5, 1_000_000);
    let mut pool = Mempool::new(Limits::default());
    for i in 0..5 {
        pool.insert(&env.app, &env.store, env.tx(i, 0, 10, GAS))
            .unwrap();
    }
    let one = env.tx(0, 0, 10, GAS).len();
    assert_eq!(env.select(&pool, one * 2, 0).len(), 2);
    let gas_each = pool_gas(&env);
    assert_eq!(env.select(&pool, usize::MAX, gas_each * 3).len(), 3);
}

fn pool_gas(env: &Env) -> u64 {
    env.app
        .check_tx(
            &env.store,
            &env.tx(0, 0, 10, GAS),
            atoll_consensus::app::NonceCheck::AtLeast,
        )
        .unwrap()
        .gas
}

#[test]
fn recheck_drops_transactions_a_block_made_invalid() {
    let mut env = Env::new(2, 1_000);
    let mut pool = Mempool::new(Limits::default());
    // Two fees of 600 each from a balance of 1000: the second can no longer
    // pay once the first is included.
    pool.insert(&env.app, &env.store, env.tx(0, 1, 600, GAS))
        .unwrap();
    let first = env.tx(0, 0, 600, GAS);
    env.apply(vec![first]);
    assert_eq!(pool.recheck(&env.app, &env.store), 1);
    assert!(pool.is_empty());
}

#[test]
fn removing_a_committed_block_rechecks_only_its_senders() {
    let mut env = Env::new(3, 1_000);
    let mut pool = Mempool::new(Limits::default());
    let first = env.tx(0, 0, 600, GAS);
    pool.insert(&env.app, &env.store, first.clone()).unwrap();
    // Sender 0's second fee cannot be paid once the first is included.
    pool.insert(&env.app, &env.store, env.tx(0, 1, 600, GAS))
        .unwrap();
    // Sender 1 is untouched by the block and stays.
    pool.insert(&env.app, &env.store, env.tx(1, 0, 10, GAS))
        .unwrap();
    env.apply(vec![first.clone()]);
    let hash = atoll_crypto::Hash::digest(&first);
    assert_eq!(pool.remove_committed(&env.app, &env.store, &[hash]), 1);
    assert_eq!(pool.len(), 1);
    // The same result a full recheck gives.
    assert_eq!(pool.recheck(&env.app, &env.store), 0);
    assert_eq!(pool.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever arrives, in whatever order, the selected block applies with
    /// no refusals: every sender's run is contiguous from its account nonce.
    #[test]
    fn selected_blocks_always_apply(
        txs in proptest::collection::vec((0usize..4, 0u64..6, 1u128..500), 1..40)
    ) {
        let mut env = Env::new(4, 10_000_000);
        let mut pool = Mempool::new(Limits { max_txs: 12, max_bytes: usize::MAX, max_per_sender: 4 });
        for (from, nonce, fee) in txs {
            let _ = pool.insert(&env.app, &env.store, env.tx(from, nonce, fee, GAS));
        }
        for _ in 0..3 {
            let block = env.select(&pool, usize::MAX, 0);
            let hashes: Vec<atoll_crypto::Hash> =
                block.iter().map(|raw| atoll_crypto::Hash::digest(raw)).collect();
            let results = env.apply(block);
            prop_assert!(results.iter().all(Option::is_none), "{:?}", results);
            pool.remove_committed(&env.app, &env.store, &hashes);
            // The cheap per-sender recheck leaves nothing a full one would drop.
            prop_assert_eq!(pool.recheck(&env.app, &env.store), 0);
        }
    }
}

//! Block-by-block tests of the consensus state machine: no sockets, no
//! engine, just genesis, signed transactions and blocks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test harness: a failed setup step should abort the test loudly"
)]

mod mkvs;
mod registry;
mod roothash;
mod staking;
mod validators;

use atoll_consensus::app::{App, Block, BlockResult};
use atoll_consensus::genesis::Genesis;
use atoll_consensus::services::staking::state::StakingState;
use atoll_consensus_types::staking::{Account, Parameters};
use atoll_crypto::Address;
use atoll_crypto::ed25519::SigningKey;
use atoll_state::MemStore;
use atoll_types::Quantity;
use atoll_types::cbor;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use serde::Serialize;

/// A one-process network: genesis, the app, a store and funded keys.
pub struct Net {
    pub genesis: Genesis,
    pub app: App,
    pub store: MemStore,
    pub keys: Vec<SigningKey>,
    pub height: u64,
}

pub const FUNDS: u128 = 1_000_000_000;

pub fn key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[i.wrapping_add(1); 32])
}

pub fn addr(k: &SigningKey) -> Address {
    Address::from_ed25519(&k.public_key())
}

impl Net {
    /// A network with `n` accounts each holding [`FUNDS`], epochs of 10 blocks
    /// and a debonding interval of 2 epochs.
    pub fn new(n: u8) -> Self {
        Self::with(n, |_| {})
    }

    pub fn with(n: u8, tweak: impl FnOnce(&mut Genesis)) -> Self {
        let keys: Vec<SigningKey> = (0..n).map(key).collect();
        let mut genesis = Genesis {
            chain_id: "atoll-test".into(),
            initial_height: 1,
            debug: true,
            ..Genesis::default()
        };
        genesis.beacon.interval = 10;
        genesis.staking.parameters = Parameters {
            debonding_interval: 2,
            ..Parameters::default()
        };
        for k in &keys {
            let mut acct = Account::default();
            acct.general.balance = Quantity(FUNDS);
            genesis.staking.ledger.insert(addr(k), acct);
        }
        genesis.staking.total_supply = Quantity(FUNDS * u128::from(n));
        tweak(&mut genesis);
        let app = App::new(&genesis).expect("valid genesis");
        let mut store = MemStore::new();
        app.init_chain(&mut store, &genesis).expect("init");
        Self {
            genesis,
            app,
            store,
            keys,
            height: 0,
        }
    }

    /// A signed transaction from key `i`.
    pub fn tx<B: Serialize>(
        &self,
        i: usize,
        nonce: u64,
        method: &str,
        body: &B,
        fee: u128,
        gas: u64,
    ) -> Vec<u8> {
        let tx = Transaction {
            nonce,
            fee: Some(Fee {
                amount: Quantity(fee),
                gas,
            }),
            method: method.into(),
            body: Some(cbor::to_value(body).expect("body encodes")),
        };
        let signed = Signed::sign(&self.keys[i], self.app.tx_context(), &tx).expect("signs");
        cbor::to_vec(&signed).expect("encodes")
    }

    /// Applies a block of `txs` proposed by key 0 and signed by everyone.
    pub fn block(&mut self, txs: Vec<Vec<u8>>) -> BlockResult {
        self.height += 1;
        let block = self.make_block(self.height, txs);
        self.app
            .apply_block(&mut self.store, &block)
            .expect("block applies")
    }

    /// The block at `height` of `txs`, proposed by key 0 and signed by everyone.
    pub fn make_block(&self, height: u64, txs: Vec<Vec<u8>>) -> Block {
        Block {
            height,
            time: 1_700_000_000 + height,
            proposer: self.keys.first().map(addr),
            signers: self.keys.iter().map(|k| (addr(k), 1)).collect(),
            prev_hash: atoll_crypto::Hash::digest(&height.to_be_bytes()),
            txs: txs.into_iter().map(serde_bytes::ByteBuf::from).collect(),
            equivocators: vec![],
        }
    }

    /// Applies empty blocks until the given epoch has started.
    pub fn advance_to_epoch(&mut self, epoch: u64) {
        while self.genesis.epoch_at(self.height + 1).0 < epoch {
            self.block(vec![]);
        }
        self.block(vec![]);
    }

    pub fn account(&mut self, a: &Address) -> Account {
        StakingState::new(&mut self.store)
            .account(a)
            .expect("reads")
    }

    pub fn balance(&mut self, i: usize) -> u128 {
        let a = addr(&self.keys[i]);
        self.account(&a).general.balance.0
    }

    /// Every token: general balances, escrow pools, common pool, block fees.
    pub fn total_tokens(&mut self) -> u128 {
        let st = StakingState::new(&mut self.store);
        let mut sum = st.common_pool().unwrap().0 + st.block_fees().unwrap().0;
        for (_, a) in st.accounts().unwrap() {
            sum += a.general.balance.0 + a.escrow.active.balance.0 + a.escrow.debonding.balance.0;
        }
        sum
    }

    pub fn total_supply(&mut self) -> u128 {
        StakingState::new(&mut self.store).total_supply().unwrap().0
    }
}

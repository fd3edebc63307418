//! A runtime with the `evm` module over an in-memory store, and helpers.

use std::collections::BTreeMap;

use atoll_crypto::context::ChainContext;
use atoll_crypto::secp256k1::EthAddress;
use atoll_crypto::{Address, Hash};
use atoll_evm::asm::{Asm, op};
use atoll_evm::tx::{self, DynamicFeeTx, LegacyTx, U256};
use atoll_evm::{ETHEREUM_TX_SCHEME, Evm};
use atoll_runtime_sdk::modules::{accounts, core};
use atoll_runtime_sdk::state::MemStore;
use atoll_runtime_sdk::types::{AuthProof, Denomination, UnverifiedTransaction};
use atoll_runtime_sdk::{BatchContext, BatchResult, Runtime, RuntimeGenesis};
use atoll_types::{Namespace, Quantity, cbor};

pub const CHAIN_ID: u64 = 0x5afd;
pub const MIN_PRICE: u128 = 1_000_000_000;
pub const MAX_GAS: u64 = 30_000_000;
pub const ETH: u128 = 1_000_000_000_000_000_000;

pub const ALICE: [u8; 32] = [0xa1; 32];
pub const BOB: [u8; 32] = [0xb0; 32];

pub fn addr(secret: &[u8; 32]) -> EthAddress {
    tx::address_of(secret).unwrap()
}

pub fn runtime() -> Runtime {
    Runtime::builder().module(Evm).build().unwrap()
}

pub fn ctx(round: u64) -> BatchContext {
    BatchContext::new(
        Namespace([7; 32]),
        ChainContext::from_hash(&Hash::digest(b"evm tests")),
        round,
        100 + round,
        1,
    )
    .unwrap()
    .with_timestamp(1_700_000_000 + round)
    .with_previous_hash(Hash::digest(&round.to_be_bytes()))
}

pub fn genesis() -> RuntimeGenesis {
    let funds = 100 * ETH;
    let balances = BTreeMap::from([
        (
            Address::from_eth(&addr(&ALICE)),
            BTreeMap::from([(Denomination::NATIVE, Quantity(funds))]),
        ),
        (
            Address::from_eth(&addr(&BOB)),
            BTreeMap::from([(Denomination::NATIVE, Quantity(funds))]),
        ),
    ]);
    RuntimeGenesis::default()
        .with(
            "core",
            &core::Genesis {
                parameters: core::Parameters {
                    max_batch_gas: MAX_GAS,
                    max_tx_size: 160 * 1024,
                    max_tx_signers: 1,
                    max_messages: 16,
                    gas_costs: core::GasCosts {
                        tx_byte: 0,
                        auth_signature: 0,
                    },
                    min_gas_price: BTreeMap::from([(Denomination::NATIVE, Quantity(MIN_PRICE))]),
                },
            },
        )
        .unwrap()
        .with(
            "accounts",
            &accounts::Genesis {
                balances,
                total_supplies: BTreeMap::from([(Denomination::NATIVE, Quantity(2 * funds))]),
                ..Default::default()
            },
        )
        .unwrap()
        .with("evm", &atoll_evm::module::genesis(CHAIN_ID))
        .unwrap()
}

pub struct Net {
    pub rt: Runtime,
    pub store: MemStore,
    pub round: u64,
}

impl Net {
    pub fn new() -> Self {
        let rt = runtime();
        let mut store = MemStore::new();
        rt.init_genesis(&mut store, &genesis()).unwrap();
        Self {
            rt,
            store,
            round: 1,
        }
    }

    pub fn ctx(&self) -> BatchContext {
        ctx(self.round)
    }

    pub fn run(&mut self, raws: &[Vec<u8>]) -> BatchResult {
        let c = self.ctx();
        self.rt
            .process_message_results(&c, &mut self.store, &[])
            .unwrap();
        let r = self.rt.execute_batch(&c, &mut self.store, raws).unwrap();
        self.round += 1;
        r
    }

    pub fn balance(&self, a: &EthAddress) -> u128 {
        accounts::balance(&self.store, &Address::from_eth(a), &Denomination::NATIVE).unwrap()
    }

    pub fn nonce(&self, a: &EthAddress) -> u64 {
        accounts::nonce(&self.store, &Address::from_eth(a)).unwrap()
    }

    pub fn supply(&self) -> u128 {
        accounts::total_supply(&self.store, &Denomination::NATIVE).unwrap()
    }

    pub fn query<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        args: &impl serde::Serialize,
    ) -> Result<T, atoll_runtime_sdk::Error> {
        let args = cbor::to_vec(args).unwrap();
        let out = self
            .rt
            .query(&ctx(self.round - 1), &self.store, method, &args)?;
        Ok(cbor::from_slice(&out).unwrap())
    }
}

/// Wraps a raw Ethereum transaction for the dispatcher.
pub fn wrap(raw: &[u8]) -> Vec<u8> {
    cbor::to_vec(&UnverifiedTransaction(
        raw.to_vec(),
        vec![AuthProof::Module(ETHEREUM_TX_SCHEME.to_owned())],
    ))
    .unwrap()
}

pub fn legacy(
    secret: &[u8; 32],
    nonce: u64,
    to: Option<EthAddress>,
    value: u128,
    input: Vec<u8>,
    gas_limit: u64,
) -> Vec<u8> {
    let raw = tx::sign_legacy(
        &LegacyTx {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: U256::from(MIN_PRICE),
            gas_limit,
            to,
            value: U256::from(value),
            input,
        },
        secret,
    )
    .unwrap();
    wrap(&raw)
}

#[allow(clippy::too_many_arguments, reason = "test helper")]
pub fn eip1559(
    secret: &[u8; 32],
    nonce: u64,
    to: Option<EthAddress>,
    value: u128,
    input: Vec<u8>,
    gas_limit: u64,
    max_fee: u128,
    tip: u128,
) -> Vec<u8> {
    let raw = tx::sign_eip1559(
        &DynamicFeeTx {
            chain_id: CHAIN_ID,
            nonce,
            max_priority_fee_per_gas: U256::from(tip),
            max_fee_per_gas: U256::from(max_fee),
            gas_limit,
            to,
            value: U256::from(value),
            input,
            access_list: Vec::new(),
        },
        secret,
    )
    .unwrap();
    wrap(&raw)
}

/// `keccak256("Incremented(uint256)")`, the counter's event topic.
pub fn incremented_topic() -> [u8; 32] {
    atoll_crypto::keccak256(b"Incremented(uint256)")
}

/// A counter. Calldata byte 0 selects: 1 = increment (slot 0 += 1, emit
/// `Incremented(new)`, return new), 2 = `require(false, "nope")`, 3 = get
/// slot 0, 4 = burn all gas (INVALID).
pub fn counter_runtime() -> Vec<u8> {
    let mut nope = [0u8; 32];
    nope[..4].copy_from_slice(b"nope");
    let mut selector_word = [0u8; 32];
    selector_word[..4].copy_from_slice(&[0x08, 0xc3, 0x79, 0xa0]);
    Asm::new()
        .push_u(0)
        .op(op::CALLDATALOAD)
        .push_u(0xf8)
        .op(op::SHR)
        .op(op::DUP1)
        .push_u(1)
        .op(op::EQ)
        .push_label("inc")
        .op(op::JUMPI)
        .op(op::DUP1)
        .push_u(2)
        .op(op::EQ)
        .push_label("nope")
        .op(op::JUMPI)
        .op(op::DUP1)
        .push_u(3)
        .op(op::EQ)
        .push_label("get")
        .op(op::JUMPI)
        .op(op::INVALID)
        .label("inc")
        .push_u(0)
        .op(op::SLOAD)
        .push_u(1)
        .op(op::ADD)
        .op(op::DUP1)
        .push_u(0)
        .op(op::SSTORE)
        .op(op::DUP1)
        .push_u(0)
        .op(op::MSTORE)
        .push(&incremented_topic())
        .push_u(32)
        .push_u(0)
        .op(op::LOG1)
        .push_u(32)
        .push_u(0)
        .op(op::RETURN)
        .label("nope")
        .push(&selector_word)
        .push_u(0)
        .op(op::MSTORE)
        .push_u(0x20)
        .push_u(4)
        .op(op::MSTORE)
        .push_u(4)
        .push_u(36)
        .op(op::MSTORE)
        .push(&nope)
        .push_u(68)
        .op(op::MSTORE)
        .push_u(100)
        .push_u(0)
        .op(op::REVERT)
        .label("get")
        .push_u(0)
        .op(op::SLOAD)
        .push_u(0)
        .op(op::MSTORE)
        .push_u(32)
        .push_u(0)
        .op(op::RETURN)
        .build()
}

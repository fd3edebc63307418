//! Shared fixtures: a runtime with a test module, funded keys, tx builders.

use std::collections::BTreeMap;

use atoll_crypto::context::ChainContext;
use atoll_crypto::{Address, Hash, ed25519, secp256k1};
use atoll_runtime_sdk::context::Context;
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction};
use atoll_runtime_sdk::error::Error;
use atoll_runtime_sdk::module::{MethodInfo, Module};
use atoll_runtime_sdk::modules::consensus_accounts::{self, ConsensusAccounts};
use atoll_runtime_sdk::modules::{accounts, core};
use atoll_runtime_sdk::state::{MemStore, Store, StoreExt, module_key};
use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
use atoll_runtime_sdk::{BatchContext, BatchResult, Runtime, RuntimeGenesis, TxResult};
use atoll_types::cbor::{self, Value};
use atoll_types::{Namespace, Quantity};

pub const MIN_GAS_PRICE: u128 = 2;
pub const ALICE_FUNDS: u128 = 10_000_000;
pub const BOB_FUNDS: u128 = 50_000;
pub const CHARLIE_FUNDS: u128 = 1_000_000;

pub fn alice() -> TxSigner {
    TxSigner::Ed25519(ed25519::SigningKey::from_seed(&[1; 32]))
}
pub fn bob() -> TxSigner {
    TxSigner::Ed25519(ed25519::SigningKey::from_seed(&[2; 32]))
}
/// A secp256k1 (Ethereum) account.
pub fn charlie() -> TxSigner {
    TxSigner::Secp256k1(secp256k1::SigningKey::from_bytes(&[3; 32]).unwrap())
}
/// An account with no funds.
pub fn dave() -> TxSigner {
    TxSigner::Ed25519(ed25519::SigningKey::from_seed(&[4; 32]))
}

pub fn runtime_id() -> Namespace {
    let mut id = [0u8; 32];
    id[0] = 0x80;
    id[31] = 7;
    Namespace(id)
}

pub fn batch_ctx(round: u64) -> BatchContext {
    BatchContext::new(
        runtime_id(),
        ChainContext::from_hash(&Hash::digest(b"atoll test network")),
        round,
        100 + round,
        3,
    )
    .unwrap()
}

/// A module for testing rollback, refunds, read-only calls and hooks.
pub struct TestModule;

pub const TEST: &str = "test";

impl Module for TestModule {
    fn name(&self) -> &'static str {
        TEST
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::call("test.WriteThenFail"),
            MethodInfo::call("test.Write"),
            MethodInfo::call("test.Burn"),
            MethodInfo::call("test.RefundUnused"),
            MethodInfo::call("test.WriteKeyOfLen"),
        ]
    }

    fn dispatch_call(
        &self,
        ctx: &mut Context<'_>,
        method: &str,
        body: Value,
    ) -> Result<Value, Error> {
        match method {
            "test.Write" | "test.WriteThenFail" => {
                ctx.use_gas(100)?;
                ctx.store()
                    .insert(&module_key(TEST, 1, &[b"k"]), b"v".to_vec())?;
                ctx.emit_event(TEST, 1, &"written")?;
                let caller = ctx.caller()?;
                // A transfer inside the failing call must be rolled back too.
                accounts::transfer(ctx, &caller, &dave().address(), &BaseUnits::native(5))?;
                if method == "test.WriteThenFail" {
                    return Err(atoll_runtime_sdk::TxError::new(TEST, 42, "deliberate").into());
                }
                Ok(body)
            }
            "test.Burn" => {
                ctx.use_gas(100)?;
                let caller = ctx.caller()?;
                accounts::burn(ctx, &caller, &BaseUnits::native(1_000))?;
                Ok(Value::Null)
            }
            // A module that builds a state key from user input: a key of
            // the length the body asks for.
            "test.WriteKeyOfLen" => {
                ctx.use_gas(100)?;
                let len: u64 = cbor::from_value(body)
                    .map_err(|e| Error::from(core::CoreError::InvalidArgument(e.to_string())))?;
                let len = usize::try_from(len).unwrap_or(usize::MAX).min(1 << 20);
                ctx.store()
                    .insert(&module_key(TEST, 3, &[&vec![7u8; len]]), b"v".to_vec())?;
                let caller = ctx.caller()?;
                accounts::transfer(ctx, &caller, &dave().address(), &BaseUnits::native(5))?;
                Ok(Value::Null)
            }
            "test.RefundUnused" => {
                ctx.use_gas(100)?;
                ctx.set_refund_unused_fee();
                Ok(Value::Null)
            }
            _ => Err(core::CoreError::InvalidMethod(method.into()).into()),
        }
    }

    fn begin_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let key = module_key(TEST, 2, &[]);
        let n: u64 = ctx.store_ref().get_typed(&key)?.unwrap_or_default();
        ctx.store().put_typed(&key, &(n + 1))?;
        let round = ctx.batch().round;
        ctx.emit_event(TEST, 2, &round)
    }

    fn end_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let round = ctx.batch().round;
        ctx.emit_event(TEST, 3, &round)
    }
}

pub fn runtime() -> Runtime {
    Runtime::builder()
        .module(ConsensusAccounts)
        .module(TestModule)
        .build()
        .unwrap()
}

pub fn genesis() -> RuntimeGenesis {
    genesis_with_batch_gas(core::Parameters::default().max_batch_gas)
}

pub fn genesis_with_batch_gas(max_batch_gas: u64) -> RuntimeGenesis {
    let core_params = core::Parameters {
        min_gas_price: BTreeMap::from([
            (Denomination::NATIVE, Quantity(MIN_GAS_PRICE)),
            (Denomination::new(b"FEE").unwrap(), Quantity(0)),
        ]),
        max_tx_signers: 3,
        max_batch_gas,
        ..Default::default()
    };
    let balances = BTreeMap::from([
        (
            alice().address(),
            BTreeMap::from([(Denomination::NATIVE, Quantity(ALICE_FUNDS))]),
        ),
        (
            bob().address(),
            BTreeMap::from([(Denomination::NATIVE, Quantity(BOB_FUNDS))]),
        ),
        (
            charlie().address(),
            BTreeMap::from([(Denomination::NATIVE, Quantity(CHARLIE_FUNDS))]),
        ),
    ]);
    RuntimeGenesis::default()
        .with(
            "core",
            &core::Genesis {
                parameters: core_params,
            },
        )
        .unwrap()
        .with(
            "accounts",
            &accounts::Genesis {
                parameters: accounts::Parameters::default(),
                accounts: BTreeMap::new(),
                balances,
                total_supplies: BTreeMap::from([(
                    Denomination::NATIVE,
                    Quantity(ALICE_FUNDS + BOB_FUNDS + CHARLIE_FUNDS),
                )]),
            },
        )
        .unwrap()
        .with(
            "consensus_accounts",
            &consensus_accounts::Genesis::default(),
        )
        .unwrap()
}

pub fn setup() -> (Runtime, MemStore) {
    let rt = runtime();
    let mut store = MemStore::new();
    rt.init_genesis(&mut store, &genesis()).unwrap();
    (rt, store)
}

/// An unsigned single-signer transaction with a native fee of `gas × MIN_GAS_PRICE`.
pub fn unsigned<T: serde::Serialize>(
    signer: &TxSigner,
    nonce: u64,
    method: &str,
    body: &T,
    gas: u64,
) -> Transaction {
    let mut tx = Transaction::new(method, cbor::to_value(body).unwrap());
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: signer.address_spec(),
        nonce,
    });
    tx.auth_info.fee.gas = gas;
    tx.auth_info.fee.amount = BaseUnits::native(u128::from(gas) * MIN_GAS_PRICE);
    tx
}

pub fn sign(tx: &Transaction, signers: &[&TxSigner]) -> Vec<u8> {
    let ctx = batch_ctx(1);
    cbor::to_vec(&sign_transaction(ctx.signature_context(), tx, signers).unwrap()).unwrap()
}

/// A signed single-signer transaction.
pub fn signed<T: serde::Serialize>(
    signer: &TxSigner,
    nonce: u64,
    method: &str,
    body: &T,
    gas: u64,
) -> Vec<u8> {
    sign(&unsigned(signer, nonce, method, body, gas), &[signer])
}

pub fn transfer_body(to: Address, amount: u128) -> accounts::Transfer {
    accounts::Transfer {
        to,
        amount: BaseUnits::native(amount),
    }
}

pub fn balance(store: &dyn Store, addr: &Address) -> u128 {
    accounts::balance(store, addr, &Denomination::NATIVE).unwrap()
}

pub fn nonce(store: &dyn Store, addr: &Address) -> u64 {
    accounts::nonce(store, addr).unwrap()
}

pub fn supply(store: &dyn Store) -> u128 {
    accounts::total_supply(store, &Denomination::NATIVE).unwrap()
}

/// Executes one transaction in round 1 and returns its result.
pub fn exec_one(rt: &Runtime, store: &mut MemStore, raw: Vec<u8>) -> TxResult {
    let r: BatchResult = rt.execute_batch(&batch_ctx(1), store, &[raw]).unwrap();
    r.results.into_iter().next().unwrap()
}

/// Module and code of a failed result.
pub fn fail_code(r: &TxResult) -> (String, u32) {
    match &r.result {
        atoll_runtime_sdk::types::CallResult::Failed { module, code, .. } => {
            (module.clone(), *code)
        }
        ok => panic!("expected a failure, got {ok:?}"),
    }
}

/// The store without the test module's begin-block counter (which every
/// batch bumps), to compare states before and after.
pub fn without_block_counter(store: &MemStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let key = module_key(TEST, 2, &[]);
    store
        .entries()
        .iter()
        .filter(|(k, _)| **k != key)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

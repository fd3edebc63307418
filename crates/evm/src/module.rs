//! The `evm` runtime module: Ethereum transactions and EVM execution on
//! revm.
//!
//! # Methods
//!
//! - Calls `evm.Create` ([`Create`]) answering the new contract's 20-byte
//!   address, and `evm.Call` ([`Call`]) answering the output bytes (clamped
//!   to [`MAX_RESULT_SIZE`] bytes, as Oasis does for transactions).
//! - Queries `evm.SimulateCall` ([`SimulateCallQuery`], output bytes),
//!   `evm.Code`, `evm.Storage` (32 bytes), `evm.Balance` ([`U256`]) and
//!   `evm.Parameters`.
//! - Event `evm.Log` (code 1, [`LogEvent`]), one per EVM log in order.
//!
//! # Who calls
//!
//! The caller must be a `secp256k1eth` signer: the EVM needs its Ethereum
//! address. An Ed25519 signer gets [`EvmError::InvalidSignerType`].
//!
//! # Ethereum transactions
//!
//! Scheme `"evm.ethereum.v0"`: the body is a raw Ethereum transaction
//! (legacy, EIP-2930 or EIP-1559; see [`crate::tx`]). It becomes an SDK
//! transaction calling `evm.Call` or `evm.Create` with the sender's
//! recovered key as its only signer, nonce = the Ethereum nonce,
//! `fee.gas` = the gas limit and `fee.amount` = gas limit × effective price
//! in the native denomination. The effective price is the legacy gas
//! price, or `min(max_fee, base_fee + max_priority_fee)` with `base_fee` =
//! `core`'s minimum gas price of the native denomination (a fee cap below
//! it is `core.GasPriceTooLow`; nothing is burned: the whole paid fee goes
//! to the fee accumulator). The unused fee is refunded. Refused before any
//! state changes: malformed or non-canonical RLP, bad or high-`s`
//! signatures, blob and set-code types (`core.MalformedTransaction`), a
//! chain id other than the module's (`evm.InvalidChainId`; pre-EIP-155
//! legacy transactions carry none and are accepted), a gas limit below the
//! intrinsic gas (`evm.GasLimitTooLow`), and a fee that does not fit in 128
//! bits (`evm.FeeOverflow`); the dispatcher's own checks then refuse wrong
//! nonces, gas above `max_batch_gas`, prices below the minimum and fees
//! the sender cannot pay. A check (not execution) also refuses, as a geth
//! pool does, a sender whose balance is below gas limit × fee cap + value
//! (`evm.InsufficientBalance`).
//!
//! An EIP-2930 or EIP-1559 transaction's access list travels in the body
//! (`access_list` of [`Call`] and [`Create`], left out of the encoding when
//! empty) and is given to revm, as Ethereum does: revm charges 2400 gas per
//! listed account and 1900 per listed slot as intrinsic gas and starts with
//! them warm (a listed slot's first `SLOAD` costs 100, not 2100). The
//! intrinsic-gas check at decoding counts them the same way.
//! `evm.SimulateCall` takes an access list too (`eth_call`'s
//! `accessList`). (Oasis's EVM does not pass access lists on.)
//!
//! # Execution
//!
//! revm, spec Prague (no blobs: type-3 transactions are refused), its
//! standard precompiles, contract code up to 64 KiB and init code up to
//! 128 KiB (Oasis's limits), no transaction gas cap below
//! `max_batch_gas`. EVM gas is SDK gas: revm's limit is what is left of
//! the transaction's gas, and the SDK meter is charged what revm used
//! (after refunds). revm charges no fee (the SDK took it); `GASPRICE`
//! reports the transaction's price and `BASEFEE` the minimum gas price.
//! Block: number = round, timestamp = the consensus timestamp, gas limit =
//! `max_batch_gas`, coinbase zero, difficulty zero, `PREVRANDAO` = the
//! previous runtime block hash (public and predictable: not randomness),
//! `BLOCKHASH` the runtime block hashes of the last 256 rounds.
//!
//! The state diff is committed in address order (storage in slot order):
//! balances and nonces through `accounts` (value moves conserve the total
//! supply; a balance destroyed by a self-destruct is burned from it), code
//! of created accounts, storage (zero deletes), and the removal of
//! self-destructed accounts.
//!
//! A revert fails with [`EvmError::Reverted`] (code 8), whose message is
//! `execution reverted`, then `: <reason>` if the data is an
//! `Error(string)`, then ` (data 0x<hex>)` if there is data. Other
//! failures (out of gas, invalid opcode, ...) are
//! [`EvmError::ExecutionFailed`] (code 2). Both use the gas revm used.

use std::collections::BTreeMap;

use atoll_crypto::secp256k1::EthAddress;
use atoll_runtime_sdk::context::{BatchContext, Context, QueryContext};
use atoll_runtime_sdk::error::{Error, FatalError, ModuleError, TxError as SdkTxError};
use atoll_runtime_sdk::module::{
    DecodeContext, MethodInfo, Module, decode_body, decode_genesis, encode_result,
};
use atoll_runtime_sdk::modules::accounts;
use atoll_runtime_sdk::modules::core::{self, CoreError};
use atoll_runtime_sdk::signers::SignerCache;
use atoll_runtime_sdk::state::{self, Store};
use atoll_runtime_sdk::types::{
    AddressSpec, AuthInfo, BaseUnits, Denomination, Fee, Secp256k1Key, SignatureAddressSpec,
    SignerInfo, Transaction,
};
use atoll_types::cbor::{self, Value};
use revm::context::result::{EVMError, ExecutionResult, InvalidTransaction, Output};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::cfg::gas::calculate_initial_tx_gas;
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::primitives::hardfork::SpecId;
use revm::primitives::{Address as RAddress, B256, Bytes, TxKind, U256};
use revm::state::EvmState;
use revm::{Context as RevmContext, ExecuteEvm, MainBuilder, MainContext};
use serde_bytes::ByteBuf;

use crate::db::{self, DbError, MODULE_NAME, StoreDb};
use crate::tx;
use crate::types::{
    AccessTuple, BalanceQuery, Call, CodeQuery, Create, Genesis, LogEvent, Parameters,
    SimulateCallQuery, StorageQuery,
};

/// The scheme of raw Ethereum transactions.
pub const ETHEREUM_TX_SCHEME: &str = "evm.ethereum.v0";

/// The spec revm runs.
pub const SPEC: SpecId = SpecId::PRAGUE;

/// Largest contract code.
pub const MAX_CODE_SIZE: usize = 64 * 1024;

/// Longest output kept in a transaction's result (queries are not clamped).
pub const MAX_RESULT_SIZE: usize = 1024;

/// Event code of `evm.Log`.
pub const EVENT_LOG: u32 = 1;

/// Errors of `evm` (Oasis's codes where Oasis has them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmError {
    /// A bad argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Execution halted (out of gas, invalid opcode, stack errors, ...).
    #[error("execution failed: {0}")]
    ExecutionFailed(String),
    /// The caller is not a `secp256k1eth` signer.
    #[error("EVM calls need a secp256k1eth signer")]
    InvalidSignerType,
    /// gas limit × price does not fit in 128 bits.
    #[error("fee overflow")]
    FeeOverflow,
    /// The gas limit is below the transaction's intrinsic gas.
    #[error("gas limit too low: {needed} needed")]
    GasLimitTooLow {
        /// The intrinsic gas.
        needed: u64,
    },
    /// The sender cannot pay the value.
    #[error("insufficient balance")]
    InsufficientBalance,
    /// The execution reverted; the message is the whole text (see the
    /// module documentation).
    #[error("{0}")]
    Reverted(String),
    /// An Ethereum transaction for another chain.
    #[error("invalid chain id: expected {expected}, got {got}")]
    InvalidChainId {
        /// The module's chain id.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// A balance or value that does not fit in 128 bits.
    #[error("balance overflow")]
    BalanceOverflow,
}

impl ModuleError for EvmError {
    const MODULE: &'static str = MODULE_NAME;

    fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 1,
            Self::ExecutionFailed(_) => 2,
            Self::InvalidSignerType => 3,
            Self::FeeOverflow => 4,
            Self::GasLimitTooLow { .. } => 5,
            Self::InsufficientBalance => 6,
            Self::Reverted(_) => 8,
            Self::InvalidChainId { .. } => 9,
            Self::BalanceOverflow => 10,
        }
    }
}

impl From<EvmError> for Error {
    fn from(e: EvmError) -> Self {
        Error::Tx(e.to_tx_error())
    }
}

fn malformed(e: impl std::fmt::Display) -> Error {
    Error::Tx(SdkTxError::new(
        core::MODULE_NAME,
        1,
        format!("malformed transaction: ethereum transaction: {e}"),
    ))
}

/// The current parameters of `evm`.
pub fn params(store: &dyn Store) -> Result<Parameters, FatalError> {
    state::get_params(store, MODULE_NAME)
}

/// The `evm` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Evm;

/// What one EVM run is asked to do.
struct Run {
    caller: EthAddress,
    /// The nonce revm is shown for the caller (the transaction's).
    nonce: u64,
    /// Whether the caller's nonce must be overridden (transactions: the SDK
    /// already bumped it) or read (queries).
    override_nonce: bool,
    to: Option<EthAddress>,
    value: U256,
    data: Vec<u8>,
    /// The EIP-2930 access list (pre-warmed, charged as intrinsic gas).
    access_list: Vec<AccessTuple>,
    gas_limit: u64,
    gas_price: u128,
}

/// revm's form of an access list.
fn revm_access_list(list: &[AccessTuple]) -> AccessList {
    AccessList(
        list.iter()
            .map(|t| AccessListItem {
                address: RAddress::from(t.address.0),
                storage_keys: t.storage_keys.clone(),
            })
            .collect(),
    )
}

/// The result of one EVM run.
enum Outcome {
    Success {
        output: Vec<u8>,
        created: Option<EthAddress>,
        logs: Vec<LogEvent>,
        gas_used: u64,
        state: EvmState,
    },
    Reverted {
        data: Vec<u8>,
        gas_used: u64,
    },
    Halted {
        reason: String,
        gas_used: u64,
    },
}

fn to_u128(v: U256) -> Result<u128, EvmError> {
    u128::try_from(v).map_err(|_| EvmError::BalanceOverflow)
}

fn min_gas_price(params: &core::Parameters) -> Option<u128> {
    params.min_gas_price.get(&Denomination::NATIVE).map(|q| q.0)
}

/// Runs revm on `store` (read-only); nothing is written.
fn run_evm(
    batch: &BatchContext,
    store: &dyn Store,
    core_params: &core::Parameters,
    chain_id: u64,
    run: &Run,
) -> Result<Outcome, Error> {
    let caller = RAddress::from(run.caller.0);
    let nonce = if run.override_nonce {
        run.nonce
    } else {
        accounts::nonce(store, &db::account_of(&run.caller))?
    };
    let database = StoreDb {
        store,
        sender_nonce: run.override_nonce.then_some((caller, run.nonce)),
    };
    let block = BlockEnv {
        number: U256::from(batch.round),
        timestamp: U256::from(batch.timestamp),
        gas_limit: core_params.max_batch_gas,
        basefee: u64::try_from(min_gas_price(core_params).unwrap_or(0)).unwrap_or(u64::MAX),
        beneficiary: RAddress::ZERO,
        difficulty: U256::ZERO,
        prevrandao: Some(B256::from(batch.previous_hash.0)),
        ..Default::default()
    };
    let mut cfg = CfgEnv::new_with_spec(SPEC);
    cfg.chain_id = chain_id;
    cfg.tx_chain_id_check = false;
    cfg.tx_gas_limit_cap = Some(u64::MAX);
    cfg.limit_contract_code_size = Some(MAX_CODE_SIZE);
    cfg.disable_fee_charge = true;
    cfg.disable_base_fee = true;
    let kind = match run.to {
        Some(to) => TxKind::Call(RAddress::from(to.0)),
        None => TxKind::Create,
    };
    let tx = TxEnv::builder()
        .caller(caller)
        .kind(kind)
        .value(run.value)
        .data(Bytes::copy_from_slice(&run.data))
        .gas_limit(run.gas_limit)
        .gas_price(run.gas_price)
        .nonce(nonce)
        .chain_id(Some(chain_id))
        // A non-empty list makes revm see an EIP-2930 transaction (legacy
        // ones have no access list): it then charges and pre-warms it.
        .access_list(revm_access_list(&run.access_list))
        .build_fill();
    let mut evm = RevmContext::mainnet()
        .with_db(database)
        .with_block(block)
        .with_cfg(cfg)
        .build_mainnet();
    let out = match evm.transact(tx) {
        Ok(out) => out,
        Err(EVMError::Database(DbError(f))) => return Err(Error::Fatal(f)),
        Err(EVMError::Transaction(e)) => return Err(invalid_tx(e, run)),
        Err(e) => {
            return Err(Error::Fatal(FatalError::Invariant(format!("evm: {e}"))));
        }
    };
    Ok(match out.result {
        ExecutionResult::Success {
            gas, logs, output, ..
        } => {
            let (output, created) = match output {
                Output::Call(b) => (b.to_vec(), None),
                Output::Create(b, addr) => (b.to_vec(), addr.as_ref().map(db::eth)),
            };
            let logs = logs
                .into_iter()
                .map(|l| LogEvent {
                    address: db::eth(&l.address),
                    topics: l.data.topics().to_vec(),
                    data: l.data.data.to_vec(),
                })
                .collect();
            Outcome::Success {
                output,
                created,
                logs,
                gas_used: gas.tx_gas_used(),
                state: out.state,
            }
        }
        ExecutionResult::Revert { gas, output, .. } => Outcome::Reverted {
            data: output.to_vec(),
            gas_used: gas.tx_gas_used(),
        },
        ExecutionResult::Halt { reason, gas, .. } => Outcome::Halted {
            reason: format!("{reason:?}"),
            gas_used: gas.tx_gas_used(),
        },
    })
}

fn invalid_tx(e: InvalidTransaction, run: &Run) -> Error {
    match e {
        InvalidTransaction::LackOfFundForMaxFee { .. } => EvmError::InsufficientBalance.into(),
        InvalidTransaction::CallGasCostMoreThanGasLimit {
            initial_gas,
            gas_limit: _,
        } => EvmError::GasLimitTooLow {
            needed: initial_gas,
        }
        .into(),
        InvalidTransaction::GasFloorMoreThanGasLimit { gas_floor, .. } => {
            EvmError::GasLimitTooLow { needed: gas_floor }.into()
        }
        InvalidTransaction::NonceTooHigh { .. } | InvalidTransaction::NonceTooLow { .. } => {
            CoreError::InvalidNonce.into()
        }
        other => EvmError::InvalidArgument(format!(
            "transaction from {} refused by the EVM: {other}",
            run.caller
        ))
        .into(),
    }
}

/// `execution reverted[: reason][ (data 0x..)]`.
pub fn revert_message(data: &[u8]) -> String {
    let mut msg = String::from("execution reverted");
    if let Some(reason) = decode_error_string(data) {
        msg.push_str(": ");
        msg.push_str(&reason);
    }
    if !data.is_empty() {
        msg.push_str(" (data 0x");
        msg.push_str(&hex::encode(data));
        msg.push(')');
    }
    msg
}

/// The reason of an ABI-encoded `Error(string)`.
pub fn decode_error_string(data: &[u8]) -> Option<String> {
    const SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
    if data.get(..4)? != SELECTOR {
        return None;
    }
    let body = data.get(4..)?;
    let word = |at: usize| -> Option<usize> {
        let w = body.get(at..at.checked_add(32)?)?;
        let v = U256::from_be_slice(w);
        usize::try_from(v).ok()
    };
    let offset = word(0)?;
    let len = word(offset)?;
    let start = offset.checked_add(32)?;
    let bytes = body.get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Commits revm's state diff, in address order.
fn commit(store: &mut dyn Store, state: EvmState) -> Result<(), Error> {
    let mut accounts_diff: Vec<_> = state.into_iter().filter(|(_, a)| a.is_touched()).collect();
    accounts_diff.sort_by_key(|a| a.0);
    let (mut added, mut removed) = (0u128, 0u128);
    let native = Denomination::NATIVE;
    for (address, account) in accounts_diff {
        let eth = db::eth(&address);
        let sdk = db::account_of(&eth);
        let old = accounts::balance(store, &sdk, &native)?;
        if account.is_selfdestructed() {
            if old > 0 {
                accounts::sub_amount(store, &sdk, &BaseUnits::new(old, native.clone()))?;
                removed = removed.checked_add(old).ok_or(EvmError::BalanceOverflow)?;
            }
            accounts::set_nonce(store, &sdk, 0)?;
            db::put_code(store, &eth, &[])?;
            db::clear_storage(store, &eth)?;
            continue;
        }
        let new = to_u128(account.info.balance)?;
        if new > old {
            accounts::add_amount(store, &sdk, &BaseUnits::new(new - old, native.clone()))?;
            added = added
                .checked_add(new - old)
                .ok_or(EvmError::BalanceOverflow)?;
        } else if new < old {
            accounts::sub_amount(store, &sdk, &BaseUnits::new(old - new, native.clone()))?;
            removed = removed
                .checked_add(old - new)
                .ok_or(EvmError::BalanceOverflow)?;
        }
        if accounts::nonce(store, &sdk)? != account.info.nonce {
            accounts::set_nonce(store, &sdk, account.info.nonce)?;
        }
        if account.is_created() {
            let code = account
                .info
                .code
                .as_ref()
                .map(|c| c.original_bytes().to_vec())
                .unwrap_or_default();
            db::put_code(store, &eth, &code)?;
        }
        let mut slots: Vec<_> = account
            .storage
            .iter()
            .filter(|(_, s)| s.is_changed())
            .map(|(k, s)| (k.to_be_bytes::<32>(), s.present_value.to_be_bytes::<32>()))
            .collect();
        slots.sort();
        for (slot, value) in slots {
            db::put_storage(store, &eth, &slot, &value)?;
        }
    }
    if added != removed {
        // Value moves conserve the sum of balances; only a self-destruct
        // that sends a balance to itself destroys some.
        let supply = accounts::total_supply(store, &native)?;
        let supply = supply
            .checked_add(added)
            .and_then(|s| s.checked_sub(removed))
            .ok_or_else(|| FatalError::Invariant("evm: total supply out of range".into()))?;
        accounts::set_total_supply(store, &native, supply)?;
    }
    Ok(())
}

impl Evm {
    fn execute(
        &self,
        ctx: &mut Context<'_>,
        to: Option<EthAddress>,
        value: U256,
        data: Vec<u8>,
        access_list: Vec<AccessTuple>,
    ) -> Result<Value, Error> {
        ctx.set_refund_unused_fee();
        let env = ctx
            .tx()
            .ok_or_else(|| EvmError::InvalidArgument("no transaction".into()))?;
        let caller = env.caller_eth.ok_or(EvmError::InvalidSignerType)?;
        let nonce = env
            .auth_info
            .signer_info
            .first()
            .map(|s| s.nonce)
            .unwrap_or_default();
        let gas_price = env.auth_info.fee.gas_price();
        let core_params = core::params(ctx.store_ref())?;
        let chain_id = params(ctx.store_ref())?.chain_id;
        let run = Run {
            caller,
            nonce,
            override_nonce: true,
            to,
            value,
            data,
            access_list,
            gas_limit: ctx.gas().remaining(),
            gas_price,
        };
        let outcome = run_evm(ctx.batch(), ctx.store_ref(), &core_params, chain_id, &run)?;
        match outcome {
            Outcome::Success {
                mut output,
                created,
                logs,
                gas_used,
                state,
            } => {
                ctx.use_gas(gas_used)?;
                commit(ctx.store(), state)?;
                for log in &logs {
                    ctx.emit_event(MODULE_NAME, EVENT_LOG, log)?;
                }
                match (to, created) {
                    (None, Some(addr)) => encode_result(&ByteBuf::from(addr.0.to_vec())),
                    (None, None) => Err(FatalError::Invariant(
                        "evm: a successful create has no address".into(),
                    )
                    .into()),
                    (Some(_), _) => {
                        output.truncate(MAX_RESULT_SIZE);
                        encode_result(&ByteBuf::from(output))
                    }
                }
            }
            Outcome::Reverted { data, gas_used } => {
                ctx.use_gas(gas_used)?;
                Err(EvmError::Reverted(revert_message(&data)).into())
            }
            Outcome::Halted { reason, gas_used } => {
                ctx.use_gas(gas_used)?;
                Err(EvmError::ExecutionFailed(reason).into())
            }
        }
    }

    fn simulate_call(&self, ctx: &QueryContext<'_>, q: SimulateCallQuery) -> Result<Value, Error> {
        let core_params = core::params(ctx.store)?;
        let chain_id = params(ctx.store)?.chain_id;
        let gas_price = u128::try_from(q.gas_price)
            .map_err(|_| EvmError::InvalidArgument("gas price does not fit in 128 bits".into()))?;
        let run = Run {
            caller: q.caller,
            nonce: 0,
            override_nonce: false,
            to: q.address,
            value: q.value,
            data: q.data,
            access_list: q.access_list,
            gas_limit: q.gas_limit.min(core_params.max_batch_gas),
            gas_price,
        };
        match run_evm(ctx.batch, ctx.store, &core_params, chain_id, &run)? {
            Outcome::Success { output, .. } => encode_result(&ByteBuf::from(output)),
            Outcome::Reverted { data, .. } => Err(EvmError::Reverted(revert_message(&data)).into()),
            Outcome::Halted { reason, .. } => Err(EvmError::ExecutionFailed(reason).into()),
        }
    }

    /// Decodes a raw Ethereum transaction into the SDK transaction it
    /// stands for (see the module documentation).
    fn decode_ethereum(&self, ctx: &DecodeContext<'_>, raw: &[u8]) -> Result<Transaction, Error> {
        let unrecovered = tx::decode_unrecovered(raw).map_err(malformed)?;
        let chain_id = params(ctx.store)?.chain_id;
        if let Some(got) = unrecovered.chain_id()
            && got != chain_id
        {
            return Err(EvmError::InvalidChainId {
                expected: chain_id,
                got,
            }
            .into());
        }
        let eth = match ctx.signers.get(&unrecovered.hash()) {
            Some(pk) => unrecovered.with_sender(pk),
            None => {
                let t = unrecovered.recover().map_err(malformed)?;
                ctx.signers.insert(t.hash, t.public_key);
                t
            }
        };
        let base_fee = min_gas_price(ctx.params).ok_or(CoreError::GasPriceTooLow)?;
        let price = eth
            .effective_gas_price(U256::from(base_fee))
            .ok_or(CoreError::GasPriceTooLow)?;
        let price = u128::try_from(price).map_err(|_| EvmError::FeeOverflow)?;
        let amount = price
            .checked_mul(u128::from(eth.gas_limit))
            .ok_or(EvmError::FeeOverflow)?;
        let keys: u64 = eth
            .access_list
            .iter()
            .map(|i| i.storage_keys.len() as u64)
            .sum();
        let intrinsic = calculate_initial_tx_gas(
            SPEC,
            &eth.input,
            eth.is_create(),
            eth.access_list.len() as u64,
            keys,
            0,
            None,
        );
        let needed = intrinsic.initial_regular_gas.max(intrinsic.floor_gas);
        if eth.gas_limit < needed {
            return Err(EvmError::GasLimitTooLow { needed }.into());
        }
        let value = eth.value;
        let access_list: Vec<AccessTuple> = eth.access_list.iter().map(AccessTuple::from).collect();
        let (nonce, gas_limit, public_key) = (eth.nonce, eth.gas_limit, eth.public_key);
        let (method, body) = match eth.to {
            Some(address) => (
                "evm.Call",
                cbor::to_value(&Call {
                    address,
                    value,
                    data: eth.fields.input,
                    access_list,
                }),
            ),
            None => (
                "evm.Create",
                cbor::to_value(&Create {
                    value,
                    init_code: eth.fields.input,
                    access_list,
                }),
            ),
        };
        let body = body.map_err(|e| FatalError::Invariant(format!("evm body: {e}")))?;
        let mut sdk_tx = Transaction::new(method, body);
        sdk_tx.auth_info = AuthInfo {
            signer_info: vec![SignerInfo {
                address_spec: AddressSpec::Signature(SignatureAddressSpec::Secp256k1Eth(
                    Secp256k1Key(public_key),
                )),
                nonce,
            }],
            fee: Fee {
                amount: BaseUnits::native(amount),
                gas: gas_limit,
                consensus_messages: 0,
            },
            not_before: None,
            not_after: None,
        };
        Ok(sdk_tx)
    }
}

impl Module for Evm {
    fn name(&self) -> &'static str {
        MODULE_NAME
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::call("evm.Create"),
            MethodInfo::call("evm.Call"),
            MethodInfo::query("evm.SimulateCall"),
            MethodInfo::query("evm.Code"),
            MethodInfo::query("evm.Storage"),
            MethodInfo::query("evm.Balance"),
            MethodInfo::query("evm.Parameters"),
        ]
    }

    fn init_genesis(&self, store: &mut dyn Store, genesis: Option<&Value>) -> Result<(), Error> {
        let g: Genesis = decode_genesis(MODULE_NAME, genesis)?;
        if g.parameters.chain_id == 0 {
            return Err(EvmError::InvalidArgument("chain id must not be zero".into()).into());
        }
        state::set_params(store, MODULE_NAME, &g.parameters)?;
        let native = Denomination::NATIVE;
        let mut minted = 0u128;
        for (address, account) in &g.accounts {
            let sdk = db::account_of(address);
            if account.balance > 0 {
                accounts::add_amount(
                    store,
                    &sdk,
                    &BaseUnits::new(account.balance, native.clone()),
                )?;
                minted = minted
                    .checked_add(account.balance)
                    .ok_or(EvmError::BalanceOverflow)?;
            }
            if account.nonce > 0 {
                accounts::set_nonce(store, &sdk, account.nonce)?;
            }
            if account.code.len() > MAX_CODE_SIZE {
                return Err(EvmError::InvalidArgument("genesis code too large".into()).into());
            }
            db::put_code(store, address, &account.code)?;
            for (slot, value) in &account.storage {
                db::put_storage(store, address, &slot.0, &value.0)?;
            }
        }
        if minted > 0 {
            let supply = accounts::total_supply(store, &native)?
                .checked_add(minted)
                .ok_or(EvmError::BalanceOverflow)?;
            accounts::set_total_supply(store, &native, supply)?;
        }
        Ok(())
    }

    fn decode_tx(
        &self,
        ctx: &DecodeContext<'_>,
        scheme: &str,
        body: &[u8],
    ) -> Option<Result<Transaction, Error>> {
        (scheme == ETHEREUM_TX_SCHEME).then(|| self.decode_ethereum(ctx, body))
    }

    fn preverify_tx(&self, scheme: &str, body: &[u8], signers: &SignerCache) -> bool {
        if scheme != ETHEREUM_TX_SCHEME {
            return false;
        }
        if let Ok(u) = tx::decode_unrecovered(body)
            && signers.get(&u.hash()).is_none()
            && let Ok(t) = u.recover()
        {
            signers.insert(t.hash, t.public_key);
        }
        true
    }

    /// As a geth pool does: the sender must afford the whole gas limit at
    /// its fee cap plus the value, on the committed state (the SDK's own
    /// check covers only the fee at the effective price).
    fn check_decoded_tx(
        &self,
        store: &dyn Store,
        scheme: &str,
        body: &[u8],
        tx: &Transaction,
    ) -> Result<(), Error> {
        if scheme != ETHEREUM_TX_SCHEME {
            return Ok(());
        }
        let eth = tx::decode_unrecovered(body).map_err(malformed)?;
        let caller = tx.caller().ok_or(EvmError::InvalidSignerType)?;
        let balance = accounts::balance(store, &caller, &Denomination::NATIVE)?;
        match eth.max_cost() {
            Some(cost) if U256::from(balance) >= cost => Ok(()),
            _ => Err(EvmError::InsufficientBalance.into()),
        }
    }

    fn begin_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let round = ctx.batch().round;
        let previous = ctx.batch().previous_hash.0;
        db::record_block_hash(ctx.store(), round, &previous)?;
        Ok(())
    }

    fn dispatch_call(
        &self,
        ctx: &mut Context<'_>,
        method: &str,
        body: Value,
    ) -> Result<Value, Error> {
        match method {
            "evm.Create" => {
                let c: Create = decode_body(body)?;
                self.execute(ctx, None, c.value, c.init_code, c.access_list)
            }
            "evm.Call" => {
                let c: Call = decode_body(body)?;
                self.execute(ctx, Some(c.address), c.value, c.data, c.access_list)
            }
            _ => Err(CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }

    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, Error> {
        match method {
            "evm.SimulateCall" => self.simulate_call(ctx, decode_body(args)?),
            "evm.Code" => {
                let q: CodeQuery = decode_body(args)?;
                encode_result(&ByteBuf::from(db::code(ctx.store, &q.address)?))
            }
            "evm.Storage" => {
                let q: StorageQuery = decode_body(args)?;
                encode_result(&B256::new(db::storage(ctx.store, &q.address, &q.index.0)?))
            }
            "evm.Balance" => {
                let q: BalanceQuery = decode_body(args)?;
                // 32 big-endian bytes: alloy's binary form of a `U256`.
                encode_result(&U256::from(db::balance(ctx.store, &q.address)?))
            }
            "evm.Parameters" => encode_result(&params(ctx.store)?),
            _ => Err(CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }
}

/// Genesis helper: the `evm` genesis with `chain_id` and no accounts.
pub fn genesis(chain_id: u64) -> Genesis {
    Genesis {
        parameters: Parameters { chain_id },
        accounts: BTreeMap::new(),
    }
}

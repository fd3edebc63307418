//! The `core` module: transaction limits, gas costs, the minimum gas
//! price, gas estimation, and the bookkeeping of consensus messages awaiting
//! their results.
//!
//! State: parameters at `core || 0x00`; the hook of each message emitted in
//! the last round at `core || 0x01 || u32_be(index)`; a genesis marker at
//! `core || 0x02`.

use std::collections::BTreeMap;

use atoll_types::Quantity;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

use crate::context::QueryContext;
use crate::error::{Error, ModuleError, module_error};
use crate::module::{MethodInfo, Module, decode_genesis, encode_result};
use crate::state::{self, Store, StoreExt};
use crate::types::{Denomination, Transaction};

/// The module's name.
pub const MODULE_NAME: &str = "core";

/// Sub-prefix of pending message hooks.
pub(crate) const MESSAGE_HOOKS: u8 = 0x01;
/// Key of the genesis marker.
pub(crate) const GENESIS_DONE: u8 = 0x02;

/// Errors of the `core` module; the codes are the Oasis SDK's. (A
/// transaction that does not fit in the batch's gas gets no error: it ends
/// the batch and waits for the next one, see the crate documentation.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The transaction does not decode, is not canonical, or its signatures
    /// do not verify.
    #[error("malformed transaction: {0}")]
    MalformedTransaction(String),
    /// The transaction decodes but is not acceptable (version, signers).
    #[error("invalid transaction: {0}")]
    InvalidTransaction(String),
    /// No module serves the method.
    #[error("invalid method: {0}")]
    InvalidMethod(String),
    /// A signer's nonce is not its account's next nonce.
    #[error("invalid nonce")]
    InvalidNonce,
    /// The payer cannot pay the fee.
    #[error("insufficient balance to pay fees")]
    InsufficientFeeBalance,
    /// The call emitted more consensus messages than the fee paid for, or
    /// the fee asks for more than the batch has left.
    #[error("out of message slots")]
    OutOfMessageSlots,
    /// No module handles a message result.
    #[error("missing message handler: {0}")]
    MessageHandlerMissing(String),
    /// An argument does not decode or is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Gas arithmetic overflowed, or the gas limit is above the batch limit.
    #[error("gas overflow")]
    GasOverflow,
    /// The call needed more gas than its limit.
    #[error("out of gas (limit: {limit} wanted: {wanted})")]
    OutOfGas {
        /// The limit.
        limit: u64,
        /// What the call wanted.
        wanted: u64,
    },
    /// More signers than `max_tx_signers`.
    #[error("too many authentication slots")]
    TooManyAuth,
    /// The call format is not supported.
    #[error("invalid call format: {0}")]
    InvalidCallFormat(String),
    /// The fee's gas price is below the minimum for its denomination (or the
    /// denomination is not accepted for fees).
    #[error("gas price too low")]
    GasPriceTooLow,
    /// The transaction is larger than `max_tx_size`.
    #[error("transaction is too large")]
    OversizedTransaction,
    /// The round is outside `[not_before, not_after]`.
    #[error("transaction is expired or not yet valid")]
    ExpiredTransaction,
    /// A read-only call changed state.
    #[error("read-only transaction attempted modifications")]
    ReadOnlyTransaction,
    /// The call wrote something the state store cannot hold (a key or
    /// value over its limits). atoll's own code: the Oasis SDK has none.
    #[error("state write refused: {0}")]
    UnstorableWrite(String),
}

impl ModuleError for CoreError {
    const MODULE: &'static str = MODULE_NAME;

    fn code(&self) -> u32 {
        match self {
            Self::MalformedTransaction(_) => 1,
            Self::InvalidTransaction(_) => 2,
            Self::InvalidMethod(_) => 3,
            Self::InvalidNonce => 4,
            Self::InsufficientFeeBalance => 5,
            Self::OutOfMessageSlots => 6,
            Self::MessageHandlerMissing(_) => 9,
            Self::InvalidArgument(_) => 10,
            Self::GasOverflow => 11,
            Self::OutOfGas { .. } => 12,
            Self::TooManyAuth => 15,
            Self::InvalidCallFormat(_) => 18,
            Self::GasPriceTooLow => 20,
            Self::OversizedTransaction => 23,
            Self::ExpiredTransaction => 24,
            Self::ReadOnlyTransaction => 25,
            Self::UnstorableWrite(_) => 64,
        }
    }
}

module_error!(CoreError);

/// Event codes of `core`.
pub mod events {
    /// `core.GasUsed {amount}`, emitted for every executed transaction, even
    /// a failed one.
    pub const GAS_USED: u32 = 1;
}

/// The body of the `core.GasUsed` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasUsedEvent {
    /// Gas the transaction used.
    pub amount: u64,
}

/// Gas costs the dispatcher charges before a call runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// Per byte of the raw transaction.
    pub tx_byte: u64,
    /// Per signature.
    pub auth_signature: u64,
}

/// Parameters of `core`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Most gas a batch (and so a transaction) may use.
    pub max_batch_gas: u64,
    /// Largest raw transaction, in bytes.
    pub max_tx_size: u32,
    /// Most signers of one transaction.
    pub max_tx_signers: u32,
    /// Most consensus messages a batch may emit.
    pub max_messages: u32,
    /// Gas costs.
    pub gas_costs: GasCosts,
    /// Minimum gas price per fee denomination; a denomination missing here
    /// cannot pay fees.
    pub min_gas_price: BTreeMap<Denomination, Quantity>,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            max_batch_gas: 10_000_000,
            max_tx_size: 128 * 1024,
            max_tx_signers: 8,
            max_messages: 256,
            gas_costs: GasCosts {
                tx_byte: 1,
                auth_signature: 1_000,
            },
            min_gas_price: BTreeMap::from([(Denomination::NATIVE, Quantity(0))]),
        }
    }
}

impl Parameters {
    /// Checks the parameters make sense.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_batch_gas == 0 || self.max_tx_size == 0 || self.max_tx_signers == 0 {
            return Err(CoreError::InvalidArgument(
                "max_batch_gas, max_tx_size and max_tx_signers must be positive".into(),
            )
            .into());
        }
        Ok(())
    }
}

/// Genesis of `core`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The parameters.
    pub parameters: Parameters,
}

/// The argument of `core.EstimateGas` without a caller. As in Oasis, the
/// arguments may also carry `caller` (a [`CallerAddress`]): then they are
/// read as an [`EstimateGasForCallerQuery`] and the simulation runs as that
/// caller; a `null` caller is the same as none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimateGasQuery {
    /// The transaction to simulate; its first signer is the caller. Its fee
    /// and nonces are ignored and no signature is needed.
    pub tx: Transaction,
    /// Whether a failing call makes the query fail with the call's error
    /// (otherwise the gas used up to the failure is returned).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagate_failures: bool,
}

/// Who a `core.EstimateGasForCaller` simulation runs as (the SDK's
/// `CallerAddress`): `{"address": Address}` or `{"eth_address": bytes(20)}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallerAddress {
    /// An account address.
    #[serde(rename = "address")]
    Address(atoll_crypto::Address),
    /// An Ethereum address (its account is `Address::from_eth`).
    #[serde(rename = "eth_address")]
    EthAddress(atoll_crypto::secp256k1::EthAddress),
}

impl CallerAddress {
    /// The caller's account address.
    pub fn address(&self) -> atoll_crypto::Address {
        match self {
            Self::Address(a) => *a,
            Self::EthAddress(e) => atoll_crypto::Address::from_eth(e),
        }
    }
}

/// The argument of `core.EstimateGasForCaller`: like
/// [`EstimateGasQuery`], but the simulation runs as `caller`, who need not
/// be (and for an Ethereum address cannot be) a signer of `tx`; `tx`'s
/// signers are replaced by one placeholder signer of the caller's kind
/// (a `secp256k1eth` key for an Ethereum address, Ed25519 otherwise), which
/// sizes the transaction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EstimateGasForCallerQuery {
    /// Who the simulation runs as.
    pub caller: CallerAddress,
    /// The transaction to simulate (fee, signers and nonces are ignored).
    pub tx: Transaction,
    /// Whether a failing call makes the query fail with the call's error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagate_failures: bool,
}

/// The current parameters of `core`.
pub fn params(store: &dyn Store) -> Result<Parameters, crate::error::FatalError> {
    state::get_params(store, MODULE_NAME)
}

/// The `core` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Core;

impl Module for Core {
    fn name(&self) -> &'static str {
        MODULE_NAME
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::query("core.Parameters"),
            MethodInfo::query("core.MinGasPrice"),
            // Served by the dispatcher, which can simulate transactions.
            MethodInfo::query("core.EstimateGas"),
            MethodInfo::query("core.EstimateGasForCaller"),
        ]
    }

    fn init_genesis(&self, store: &mut dyn Store, genesis: Option<&Value>) -> Result<(), Error> {
        let g: Genesis = decode_genesis(MODULE_NAME, genesis)?;
        g.parameters.validate()?;
        state::set_params(store, MODULE_NAME, &g.parameters)?;
        Ok(())
    }

    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        _args: Value,
    ) -> Result<Value, Error> {
        match method {
            "core.Parameters" => encode_result(&params(ctx.store)?),
            "core.MinGasPrice" => encode_result(&params(ctx.store)?.min_gas_price),
            _ => Err(CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }
}

pub(crate) fn hook_key(index: u32) -> Vec<u8> {
    state::module_key(MODULE_NAME, MESSAGE_HOOKS, &[&index.to_be_bytes()])
}

pub(crate) fn genesis_done(store: &dyn Store) -> Result<bool, crate::error::FatalError> {
    Ok(store
        .get(&state::module_key(MODULE_NAME, GENESIS_DONE, &[]))?
        .is_some())
}

pub(crate) fn mark_genesis_done(store: &mut dyn Store) -> Result<(), crate::error::FatalError> {
    store.put_typed(&state::module_key(MODULE_NAME, GENESIS_DONE, &[]), &true)
}

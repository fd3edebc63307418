//! The `consensus_accounts` module: moving tokens between the consensus
//! layer and the runtime, through runtime messages and their results.
//!
//! - `consensus.Deposit {to?, amount}`: the caller has first allowed the
//!   runtime's consensus account to withdraw from theirs (`staking.Allow`).
//!   The call emits a staking `Withdraw` message from the caller into the
//!   runtime's account. Nothing changes in the runtime yet. When the result
//!   comes back (next round), the amount is minted to `to` on success; on
//!   failure only a `Deposit` event with the error is emitted.
//! - `consensus.Withdraw {to?, amount}`: the amount moves at once from the
//!   caller to the `consensus_accounts.pending-withdrawal` module account,
//!   and the call emits a staking `Transfer` from the runtime's consensus
//!   account to `to`. On success the pending amount is burned; on failure it
//!   is refunded to the caller.
//!
//! The operation in flight is kept in state as the hook of its message
//! (`core || 0x01 || u32_be(message index)`), so it survives between rounds.
//!
//! Amounts: a runtime amount of `consensus_denomination` maps to consensus
//! base units divided by `consensus_scaling_factor` (the SDK's
//! `consensus` module parameters; the factor is a power of ten, for
//! example 10^9 for 18-decimal EVM runtimes over 9-decimal consensus
//! tokens). An amount that is not a multiple of the factor is refused, so no
//! dust is ever lost. The default factor is 1: runtime and consensus units
//! are the same.
//!
//! When `to` is omitted, the call must have a single Ed25519 signer (the
//! SDK's `ensure_compatible_tx_signer`): only such a key has the same
//! address on both layers.

use atoll_consensus_types::roothash::{Message, MessageResult};
use atoll_consensus_types::staking;
use atoll_crypto::Address;
use atoll_types::Quantity;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

use crate::context::{Context, MessageHook};
use crate::error::{Error, FatalError, ModuleError, module_error};
use crate::module::{MethodInfo, Module, decode_body, decode_genesis, encode_result};
use crate::modules::accounts;
use crate::state::{self, Store};
use crate::types::{AddressSpec, BaseUnits, Denomination, SignatureAddressSpec};

/// The module's name.
pub const MODULE_NAME: &str = "consensus_accounts";

/// The message-result handler of deposits.
pub const WITHDRAW_HANDLER: &str = "consensus.WithdrawIntoRuntime";
/// The message-result handler of withdrawals.
pub const TRANSFER_HANDLER: &str = "consensus.TransferFromRuntime";

/// Where withdrawn tokens wait for their consensus transfer.
pub fn pending_withdrawal() -> Address {
    Address::from_module(MODULE_NAME, b"pending-withdrawal")
}

/// Errors of `consensus_accounts`. Codes 1 to 4 are the SDK's; 5 and 6
/// stand for errors the SDK raises from its separate `consensus` module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusAccountsError {
    /// A bad argument.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The amount is not in the consensus denomination.
    #[error("invalid denomination")]
    InvalidDenomination,
    /// Not enough tokens to withdraw.
    #[error("insufficient balance")]
    InsufficientBalance,
    /// Deposits or withdrawals are disabled.
    #[error("forbidden by policy")]
    Forbidden,
    /// The amount is not a multiple of the scaling factor.
    #[error("amount not representable on the consensus layer")]
    AmountNotRepresentable,
    /// The signer has no account on the consensus layer.
    #[error("consensus-incompatible signer: a single ed25519 signer is required")]
    IncompatibleSigner,
}

impl ModuleError for ConsensusAccountsError {
    const MODULE: &'static str = MODULE_NAME;

    fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 1,
            Self::InvalidDenomination => 2,
            Self::InsufficientBalance => 3,
            Self::Forbidden => 4,
            Self::AmountNotRepresentable => 5,
            Self::IncompatibleSigner => 6,
        }
    }
}

module_error!(ConsensusAccountsError);

/// Event codes of `consensus_accounts`.
pub mod events {
    /// A deposit finished (successfully or not).
    pub const DEPOSIT: u32 = 1;
    /// A withdrawal finished (successfully or not).
    pub const WITHDRAW: u32 = 2;
}

/// Gas costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// Gas of `consensus.Deposit`.
    pub tx_deposit: u64,
    /// Gas of `consensus.Withdraw`.
    pub tx_withdraw: u64,
}

/// Parameters of `consensus_accounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Gas costs.
    pub gas_costs: GasCosts,
    /// Whether deposits are refused.
    pub disable_deposit: bool,
    /// Whether withdrawals are refused.
    pub disable_withdraw: bool,
    /// The runtime denomination that stands for consensus tokens.
    pub consensus_denomination: Denomination,
    /// Runtime base units per consensus base unit (a power of ten).
    pub consensus_scaling_factor: u64,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            gas_costs: GasCosts {
                tx_deposit: 10_000,
                tx_withdraw: 10_000,
            },
            disable_deposit: false,
            disable_withdraw: false,
            consensus_denomination: Denomination::NATIVE,
            consensus_scaling_factor: 1,
        }
    }
}

impl Parameters {
    fn validate(&self) -> Result<(), Error> {
        let mut f = self.consensus_scaling_factor;
        while f >= 10 && f.is_multiple_of(10) {
            f /= 10;
        }
        if f != 1 {
            return Err(ConsensusAccountsError::InvalidArgument(
                "consensus_scaling_factor must be a power of ten".into(),
            )
            .into());
        }
        Ok(())
    }
}

/// Genesis of `consensus_accounts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The parameters.
    pub parameters: Parameters,
}

/// The body of `consensus.Deposit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// Runtime recipient; the caller when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Address>,
    /// Amount, in runtime units.
    pub amount: BaseUnits,
}

/// The body of `consensus.Withdraw`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    /// Consensus recipient; the caller when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Address>,
    /// Amount, in runtime units.
    pub amount: BaseUnits,
}

/// A failed consensus message, as events report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusError {
    /// The consensus module that failed it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module: String,
    /// Its error code.
    #[serde(default)]
    pub code: u32,
}

/// The `Deposit` and `Withdraw` events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationEvent {
    /// The consensus account (deposit) or runtime account (withdraw) it came from.
    pub from: Address,
    /// The nonce of the transaction that started it.
    pub nonce: u64,
    /// Where it went.
    pub to: Address,
    /// Amount, in runtime units.
    pub amount: BaseUnits,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConsensusError>,
}

/// What a pending deposit or withdrawal remembers until its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOperation {
    /// Deposit: the consensus account. Withdraw: the runtime account.
    pub from: Address,
    /// The transaction's nonce.
    pub nonce: u64,
    /// Deposit: the runtime account. Withdraw: the consensus account.
    pub to: Address,
    /// Amount, in runtime units.
    pub amount: BaseUnits,
}

/// The current parameters.
pub fn params(store: &dyn Store) -> Result<Parameters, FatalError> {
    state::get_params(store, MODULE_NAME)
}

fn to_consensus_amount(params: &Parameters, amount: &BaseUnits) -> Result<Quantity, Error> {
    if amount.denomination() != &params.consensus_denomination {
        return Err(ConsensusAccountsError::InvalidDenomination.into());
    }
    let factor = u128::from(params.consensus_scaling_factor.max(1));
    if !amount.amount().is_multiple_of(factor) {
        return Err(ConsensusAccountsError::AmountNotRepresentable.into());
    }
    let q = amount.amount() / factor;
    if q == 0 {
        return Err(ConsensusAccountsError::InvalidArgument("zero amount".into()).into());
    }
    Ok(Quantity(q))
}

fn caller_and_nonce(ctx: &Context<'_>, need_compatible: bool) -> Result<(Address, u64), Error> {
    let tx = ctx
        .tx()
        .ok_or_else(|| crate::error::invalid_argument("no transaction"))?;
    let first = tx
        .auth_info
        .signer_info
        .first()
        .ok_or_else(|| crate::error::invalid_argument("no signer"))?;
    if need_compatible {
        let single_ed25519 = tx.auth_info.signer_info.len() == 1
            && matches!(
                first.address_spec,
                AddressSpec::Signature(SignatureAddressSpec::Ed25519(_))
            );
        if !single_ed25519 {
            return Err(ConsensusAccountsError::IncompatibleSigner.into());
        }
    }
    Ok((tx.caller, first.nonce))
}

fn hook(handler: &str, op: &PendingOperation) -> Result<MessageHook, Error> {
    Ok(MessageHook {
        handler: handler.to_owned(),
        payload: encode_result(op)?,
    })
}

fn op_event(op: PendingOperation, result: &MessageResult) -> OperationEvent {
    OperationEvent {
        from: op.from,
        nonce: op.nonce,
        to: op.to,
        amount: op.amount,
        error: (result.code != 0 || !result.module.is_empty()).then(|| ConsensusError {
            module: result.module.clone(),
            code: result.code,
        }),
    }
}

/// The `consensus_accounts` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsensusAccounts;

impl ConsensusAccounts {
    fn tx_deposit(&self, ctx: &mut Context<'_>, body: Value) -> Result<Value, Error> {
        let params = params(ctx.store_ref())?;
        ctx.use_gas(params.gas_costs.tx_deposit)?;
        if params.disable_deposit {
            return Err(ConsensusAccountsError::Forbidden.into());
        }
        let body: Deposit = decode_body(body)?;
        let (from, nonce) = caller_and_nonce(ctx, true)?;
        let amount = to_consensus_amount(&params, &body.amount)?;
        let op = PendingOperation {
            from,
            nonce,
            to: body.to.unwrap_or(from),
            amount: body.amount,
        };
        ctx.emit_message(
            Message::Withdraw(staking::Withdraw { from, amount }),
            hook(WITHDRAW_HANDLER, &op)?,
        )?;
        Ok(Value::Null)
    }

    fn tx_withdraw(&self, ctx: &mut Context<'_>, body: Value) -> Result<Value, Error> {
        let params = params(ctx.store_ref())?;
        ctx.use_gas(params.gas_costs.tx_withdraw)?;
        if params.disable_withdraw {
            return Err(ConsensusAccountsError::Forbidden.into());
        }
        let body: Withdraw = decode_body(body)?;
        let (from, nonce) = caller_and_nonce(ctx, body.to.is_none())?;
        let amount = to_consensus_amount(&params, &body.amount)?;
        let to = body.to.unwrap_or(from);
        let op = PendingOperation {
            from,
            nonce,
            to,
            amount: body.amount.clone(),
        };
        ctx.emit_message(
            Message::Transfer(staking::Transfer { to, amount }),
            hook(TRANSFER_HANDLER, &op)?,
        )?;
        accounts::transfer(ctx, &from, &pending_withdrawal(), &body.amount).map_err(|e| {
            if e.is(accounts::MODULE_NAME, 2) {
                ConsensusAccountsError::InsufficientBalance.into()
            } else {
                e
            }
        })?;
        Ok(Value::Null)
    }
}

impl Module for ConsensusAccounts {
    fn name(&self) -> &'static str {
        MODULE_NAME
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::call("consensus.Deposit"),
            MethodInfo::call("consensus.Withdraw"),
            MethodInfo::message_result(WITHDRAW_HANDLER),
            MethodInfo::message_result(TRANSFER_HANDLER),
        ]
    }

    fn init_genesis(&self, store: &mut dyn Store, genesis: Option<&Value>) -> Result<(), Error> {
        let g: Genesis = decode_genesis(MODULE_NAME, genesis)?;
        g.parameters.validate()?;
        state::set_params(store, MODULE_NAME, &g.parameters)?;
        Ok(())
    }

    fn dispatch_call(
        &self,
        ctx: &mut Context<'_>,
        method: &str,
        body: Value,
    ) -> Result<Value, Error> {
        match method {
            "consensus.Deposit" => self.tx_deposit(ctx, body),
            "consensus.Withdraw" => self.tx_withdraw(ctx, body),
            _ => Err(crate::modules::core::CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }

    fn dispatch_message_result(
        &self,
        ctx: &mut Context<'_>,
        handler: &str,
        result: &MessageResult,
        payload: Value,
    ) -> Result<(), Error> {
        let op: PendingOperation = atoll_types::cbor::from_value(payload)
            .map_err(|e| FatalError::Invariant(format!("pending operation: {e}")))?;
        let ok = result.code == 0 && result.module.is_empty();
        // Failures below mean the module's own bookkeeping is broken (the
        // pending account always holds what is pending): fatal, not a
        // client error.
        let fatal = |e: Error| match e {
            Error::Tx(t) => Error::Fatal(FatalError::Invariant(format!(
                "{handler}: {t} while finishing a pending operation"
            ))),
            f => f,
        };
        match handler {
            WITHDRAW_HANDLER => {
                if ok {
                    accounts::mint(ctx, &op.to, &op.amount).map_err(fatal)?;
                }
                let ev = op_event(op, result);
                ctx.emit_event(MODULE_NAME, events::DEPOSIT, &ev)
            }
            TRANSFER_HANDLER => {
                if ok {
                    accounts::burn(ctx, &pending_withdrawal(), &op.amount).map_err(fatal)?;
                } else {
                    accounts::transfer(ctx, &pending_withdrawal(), &op.from, &op.amount)
                        .map_err(fatal)?;
                }
                let ev = op_event(op, result);
                ctx.emit_event(MODULE_NAME, events::WITHDRAW, &ev)
            }
            _ => Err(
                crate::modules::core::CoreError::MessageHandlerMissing(handler.to_owned()).into(),
            ),
        }
    }
}

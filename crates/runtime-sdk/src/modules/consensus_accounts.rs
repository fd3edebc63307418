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
//! - `consensus.Delegate {to, amount, receipt?}`: the amount moves at once
//!   from the caller to the `consensus_accounts.pending-delegation` module
//!   account, and the call emits a staking `AddEscrow` from the runtime's
//!   consensus account into escrow `to`. On success the pending amount is
//!   burned (it left the runtime's consensus account) and the shares the
//!   consensus layer minted (the message result's [`MessageOutcome`]) are
//!   added to the caller's delegation to `to` in the runtime; on failure
//!   the amount is refunded. Either way a `Delegate` event is the receipt.
//! - `consensus.Undelegate {from, shares, receipt?}`: the shares leave the
//!   caller's delegation to escrow `from` at once, and the call emits a
//!   staking `ReclaimEscrow` of them from the runtime's account. On success
//!   the debonding shares and their end epoch are recorded as the caller's
//!   undelegation; on failure the shares return to the delegation. Either
//!   way an `UndelegateStart` event is the receipt. (When the debonding
//!   ends, the tokens return to the runtime's consensus account; crediting
//!   them to the caller inside the runtime, the SDK's `UndelegateDone`, is
//!   not built yet.)
//! - Queries: `consensus.Delegation {from, to}`, `consensus.Delegations
//!   {from}`, `consensus.Undelegations {to}`.
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

use atoll_consensus_types::roothash::{Message, MessageOutcome, MessageResult};
use atoll_consensus_types::staking;
use atoll_crypto::Address;
use atoll_types::Quantity;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

use crate::context::{Context, MessageHook, QueryContext};
use crate::error::{Error, FatalError, ModuleError, module_error};
use crate::module::{MethodInfo, Module, decode_body, decode_genesis, encode_result};
use crate::modules::accounts;
use crate::state::{self, Store, StoreExt, module_key};
use crate::types::{AddressSpec, BaseUnits, Denomination, SignatureAddressSpec};

/// The module's name.
pub const MODULE_NAME: &str = "consensus_accounts";

/// The message-result handler of deposits.
pub const WITHDRAW_HANDLER: &str = "consensus.WithdrawIntoRuntime";
/// The message-result handler of withdrawals.
pub const TRANSFER_HANDLER: &str = "consensus.TransferFromRuntime";
/// The message-result handler of delegations.
pub const DELEGATE_HANDLER: &str = "consensus.Delegate";
/// The message-result handler of undelegations.
pub const UNDELEGATE_HANDLER: &str = "consensus.Undelegate";

/// State sub-prefix of delegations: `|| delegator || escrow` → [`DelegationInfo`].
const DELEGATIONS: u8 = 0x01;
/// State sub-prefix of undelegations: `|| delegator || escrow || u64_be(epoch)`
/// → [`DelegationInfo`] (debonding shares).
const UNDELEGATIONS: u8 = 0x02;

/// Where delegated tokens wait for their consensus escrow.
pub fn pending_delegation() -> Address {
    Address::from_module(MODULE_NAME, b"pending-delegation")
}

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
    /// A delegation finished (successfully or not): its receipt.
    pub const DELEGATE: u32 = 3;
    /// An undelegation started (or failed to): its receipt.
    pub const UNDELEGATE_START: u32 = 4;
}

/// Gas costs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// Gas of `consensus.Deposit`.
    pub tx_deposit: u64,
    /// Gas of `consensus.Withdraw`.
    pub tx_withdraw: u64,
    /// Gas of `consensus.Delegate`.
    #[serde(default = "default_tx_delegate")]
    pub tx_delegate: u64,
    /// Gas of `consensus.Undelegate`.
    #[serde(default = "default_tx_undelegate")]
    pub tx_undelegate: u64,
}

fn default_tx_delegate() -> u64 {
    10_000
}

fn default_tx_undelegate() -> u64 {
    20_000
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
    /// Whether delegations are refused.
    #[serde(default)]
    pub disable_delegate: bool,
    /// Whether undelegations are refused.
    #[serde(default)]
    pub disable_undelegate: bool,
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
                tx_delegate: default_tx_delegate(),
                tx_undelegate: default_tx_undelegate(),
            },
            disable_deposit: false,
            disable_withdraw: false,
            disable_delegate: false,
            disable_undelegate: false,
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

/// The body of `consensus.Delegate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegate {
    /// The consensus escrow account to delegate to.
    pub to: Address,
    /// Amount, in runtime units.
    pub amount: BaseUnits,
    /// Whether the caller wants a receipt (the event is always emitted;
    /// kept for the SDK's wire format).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub receipt: bool,
}

/// The body of `consensus.Undelegate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undelegate {
    /// The consensus escrow account to undelegate from.
    pub from: Address,
    /// Shares of the caller's delegation to reclaim.
    pub shares: Quantity,
    /// See [`Delegate::receipt`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub receipt: bool,
}

/// A delegation (or an undelegation's debonding shares) held through the
/// runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationInfo {
    /// Shares of the escrow's pool.
    pub shares: Quantity,
}

/// One of an account's delegations (`consensus.Delegations`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedDelegationInfo {
    /// The escrow account.
    pub to: Address,
    /// Shares of its active pool.
    pub shares: Quantity,
}

/// One of an account's undelegations (`consensus.Undelegations`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndelegationInfo {
    /// The escrow account.
    pub from: Address,
    /// The epoch the debonding ends.
    pub epoch: u64,
    /// Shares of the escrow's debonding pool.
    pub shares: Quantity,
}

/// Arguments of `consensus.Delegation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationQuery {
    /// The delegator (a runtime account).
    pub from: Address,
    /// The escrow account.
    pub to: Address,
}

/// Arguments of `consensus.Delegations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationsQuery {
    /// The delegator (a runtime account).
    pub from: Address,
}

/// Arguments of `consensus.Undelegations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndelegationsQuery {
    /// The undelegating account (a runtime account).
    pub to: Address,
}

/// The `Delegate` event (the receipt of `consensus.Delegate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegateEvent {
    /// The runtime account that delegated.
    pub from: Address,
    /// The nonce of its transaction.
    pub nonce: u64,
    /// The escrow account.
    pub to: Address,
    /// Amount, in runtime units.
    pub amount: BaseUnits,
    /// Shares received (zero on failure).
    pub shares: Quantity,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConsensusError>,
}

/// The `UndelegateStart` event (the receipt of `consensus.Undelegate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndelegateStartEvent {
    /// The escrow account.
    pub from: Address,
    /// The nonce of the transaction.
    pub nonce: u64,
    /// The runtime account that undelegated.
    pub to: Address,
    /// Active shares reclaimed.
    pub shares: Quantity,
    /// Tokens now debonding (zero on failure).
    pub amount: Quantity,
    /// The epoch the debonding ends (0 on failure).
    pub debond_end: u64,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConsensusError>,
}

/// What a pending delegation or undelegation remembers until its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDelegation {
    /// The runtime account (delegator).
    pub delegator: Address,
    /// The escrow account.
    pub escrow: Address,
    /// The transaction's nonce.
    pub nonce: u64,
    /// Delegate: the amount in runtime units (zero for undelegations).
    pub amount: BaseUnits,
    /// Undelegate: the shares reclaimed (zero for delegations).
    pub shares: Quantity,
}

fn delegation_key(delegator: &Address, escrow: &Address) -> Vec<u8> {
    module_key(
        MODULE_NAME,
        DELEGATIONS,
        &[delegator.as_bytes(), escrow.as_bytes()],
    )
}

fn undelegation_key(delegator: &Address, escrow: &Address, epoch: u64) -> Vec<u8> {
    module_key(
        MODULE_NAME,
        UNDELEGATIONS,
        &[
            delegator.as_bytes(),
            escrow.as_bytes(),
            &epoch.to_be_bytes(),
        ],
    )
}

/// `delegator`'s delegation to `escrow` held through the runtime.
pub fn delegation(
    store: &dyn Store,
    delegator: &Address,
    escrow: &Address,
) -> Result<DelegationInfo, FatalError> {
    Ok(store
        .get_typed(&delegation_key(delegator, escrow))?
        .unwrap_or_default())
}

fn set_delegation(
    store: &mut dyn Store,
    delegator: &Address,
    escrow: &Address,
    shares: Quantity,
) -> Result<(), FatalError> {
    let k = delegation_key(delegator, escrow);
    if shares.is_zero() {
        store.remove(&k)
    } else {
        store.put_typed(&k, &DelegationInfo { shares })
    }
}

/// Every delegation of `delegator`, by escrow address.
pub fn delegations(
    store: &dyn Store,
    delegator: &Address,
) -> Result<Vec<ExtendedDelegationInfo>, FatalError> {
    let prefix = module_key(MODULE_NAME, DELEGATIONS, &[delegator.as_bytes()]);
    store
        .scan_typed::<DelegationInfo>(&prefix)?
        .into_iter()
        .map(|(k, d)| {
            let to = k
                .get(prefix.len()..)
                .and_then(|b| Address::from_slice(b).ok())
                .ok_or_else(|| FatalError::Invariant("stored delegation key".into()))?;
            Ok(ExtendedDelegationInfo {
                to,
                shares: d.shares,
            })
        })
        .collect()
}

/// Every undelegation of `delegator`, by escrow address and end epoch.
pub fn undelegations(
    store: &dyn Store,
    delegator: &Address,
) -> Result<Vec<UndelegationInfo>, FatalError> {
    let prefix = module_key(MODULE_NAME, UNDELEGATIONS, &[delegator.as_bytes()]);
    store
        .scan_typed::<DelegationInfo>(&prefix)?
        .into_iter()
        .map(|(k, d)| {
            let rest = k.get(prefix.len()..).unwrap_or_default();
            let bad = || FatalError::Invariant("stored undelegation key".into());
            let (addr, epoch) = rest
                .split_at_checked(rest.len().saturating_sub(8))
                .ok_or_else(bad)?;
            let from = Address::from_slice(addr).map_err(|_| bad())?;
            let epoch = u64::from_be_bytes(epoch.try_into().map_err(|_| bad())?);
            Ok(UndelegationInfo {
                from,
                epoch,
                shares: d.shares,
            })
        })
        .collect()
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

impl ConsensusAccounts {
    fn tx_delegate(&self, ctx: &mut Context<'_>, body: Value) -> Result<Value, Error> {
        let params = params(ctx.store_ref())?;
        ctx.use_gas(params.gas_costs.tx_delegate)?;
        if params.disable_delegate {
            return Err(ConsensusAccountsError::Forbidden.into());
        }
        let body: Delegate = decode_body(body)?;
        let (from, nonce) = caller_and_nonce(ctx, false)?;
        let amount = to_consensus_amount(&params, &body.amount)?;
        let op = PendingDelegation {
            delegator: from,
            escrow: body.to,
            nonce,
            amount: body.amount.clone(),
            shares: Quantity(0),
        };
        ctx.emit_message(
            Message::AddEscrow(staking::Escrow {
                account: body.to,
                amount,
            }),
            MessageHook {
                handler: DELEGATE_HANDLER.to_owned(),
                payload: encode_result(&op)?,
            },
        )?;
        accounts::transfer(ctx, &from, &pending_delegation(), &body.amount).map_err(|e| {
            if e.is(accounts::MODULE_NAME, 2) {
                ConsensusAccountsError::InsufficientBalance.into()
            } else {
                e
            }
        })?;
        Ok(Value::Null)
    }

    fn tx_undelegate(&self, ctx: &mut Context<'_>, body: Value) -> Result<Value, Error> {
        let params = params(ctx.store_ref())?;
        ctx.use_gas(params.gas_costs.tx_undelegate)?;
        if params.disable_undelegate {
            return Err(ConsensusAccountsError::Forbidden.into());
        }
        let body: Undelegate = decode_body(body)?;
        if body.shares.is_zero() {
            return Err(ConsensusAccountsError::InvalidArgument("zero shares".into()).into());
        }
        let (to, nonce) = caller_and_nonce(ctx, false)?;
        let held = delegation(ctx.store_ref(), &to, &body.from)?.shares;
        let left = held
            .checked_sub(body.shares)
            .ok_or(ConsensusAccountsError::InsufficientBalance)?;
        let op = PendingDelegation {
            delegator: to,
            escrow: body.from,
            nonce,
            amount: BaseUnits::new(0, params.consensus_denomination.clone()),
            shares: body.shares,
        };
        ctx.emit_message(
            Message::ReclaimEscrow(staking::ReclaimEscrow {
                account: body.from,
                shares: body.shares,
            }),
            MessageHook {
                handler: UNDELEGATE_HANDLER.to_owned(),
                payload: encode_result(&op)?,
            },
        )?;
        set_delegation(ctx.store(), &to, &body.from, left)?;
        Ok(Value::Null)
    }

    /// Finishes a delegation or an undelegation when its message's result
    /// comes back.
    fn finish_delegation(
        &self,
        ctx: &mut Context<'_>,
        handler: &str,
        result: &MessageResult,
        op: PendingDelegation,
    ) -> Result<(), Error> {
        let error = (result.code != 0 || !result.module.is_empty()).then(|| ConsensusError {
            module: result.module.clone(),
            code: result.code,
        });
        let broken = |what: &str| {
            Error::Fatal(FatalError::Invariant(format!(
                "{handler}: {what} while finishing a pending operation"
            )))
        };
        let fatal = |e: Error| match e {
            Error::Tx(t) => broken(&t.to_string()),
            f => f,
        };
        if handler == DELEGATE_HANDLER {
            let mut shares = Quantity(0);
            if error.is_none() {
                let Some(MessageOutcome::AddEscrow { new_shares }) = result.result.clone() else {
                    return Err(broken("an escrow result without its shares"));
                };
                shares = new_shares;
                accounts::burn(ctx, &pending_delegation(), &op.amount).map_err(fatal)?;
                let held = delegation(ctx.store_ref(), &op.delegator, &op.escrow)?.shares;
                let total = held
                    .checked_add(shares)
                    .ok_or_else(|| broken("delegation shares overflow"))?;
                set_delegation(ctx.store(), &op.delegator, &op.escrow, total)?;
            } else {
                accounts::transfer(ctx, &pending_delegation(), &op.delegator, &op.amount)
                    .map_err(fatal)?;
            }
            return ctx.emit_event(
                MODULE_NAME,
                events::DELEGATE,
                &DelegateEvent {
                    from: op.delegator,
                    nonce: op.nonce,
                    to: op.escrow,
                    amount: op.amount,
                    shares,
                    error,
                },
            );
        }
        let (mut amount, mut debond_end) = (Quantity(0), 0);
        if error.is_none() {
            let Some(MessageOutcome::ReclaimEscrow {
                amount: a,
                debonding_shares,
                debond_end: end,
            }) = result.result.clone()
            else {
                return Err(broken("a reclaim result without its debonding"));
            };
            amount = a;
            debond_end = end.0;
            let k = undelegation_key(&op.delegator, &op.escrow, debond_end);
            let held: DelegationInfo = ctx.store_ref().get_typed(&k)?.unwrap_or_default();
            let total = held
                .shares
                .checked_add(debonding_shares)
                .ok_or_else(|| broken("debonding shares overflow"))?;
            ctx.store()
                .put_typed(&k, &DelegationInfo { shares: total })?;
        } else {
            let held = delegation(ctx.store_ref(), &op.delegator, &op.escrow)?.shares;
            let total = held
                .checked_add(op.shares)
                .ok_or_else(|| broken("delegation shares overflow"))?;
            set_delegation(ctx.store(), &op.delegator, &op.escrow, total)?;
        }
        ctx.emit_event(
            MODULE_NAME,
            events::UNDELEGATE_START,
            &UndelegateStartEvent {
                from: op.escrow,
                nonce: op.nonce,
                to: op.delegator,
                shares: op.shares,
                amount,
                debond_end,
                error,
            },
        )
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
            MethodInfo::call("consensus.Delegate"),
            MethodInfo::call("consensus.Undelegate"),
            MethodInfo::query("consensus.Delegation"),
            MethodInfo::query("consensus.Delegations"),
            MethodInfo::query("consensus.Undelegations"),
            MethodInfo::message_result(WITHDRAW_HANDLER),
            MethodInfo::message_result(TRANSFER_HANDLER),
            MethodInfo::message_result(DELEGATE_HANDLER),
            MethodInfo::message_result(UNDELEGATE_HANDLER),
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
            "consensus.Delegate" => self.tx_delegate(ctx, body),
            "consensus.Undelegate" => self.tx_undelegate(ctx, body),
            _ => Err(crate::modules::core::CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }

    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, Error> {
        self.query(ctx, method, args)
    }

    fn dispatch_message_result(
        &self,
        ctx: &mut Context<'_>,
        handler: &str,
        result: &MessageResult,
        payload: Value,
    ) -> Result<(), Error> {
        if handler == DELEGATE_HANDLER || handler == UNDELEGATE_HANDLER {
            let op: PendingDelegation = atoll_types::cbor::from_value(payload)
                .map_err(|e| FatalError::Invariant(format!("pending delegation: {e}")))?;
            return self.finish_delegation(ctx, handler, result, op);
        }
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

impl ConsensusAccounts {
    /// Answers the module's queries.
    fn query(&self, ctx: &QueryContext<'_>, method: &str, args: Value) -> Result<Value, Error> {
        match method {
            "consensus.Delegation" => {
                let q: DelegationQuery = decode_body(args)?;
                encode_result(&delegation(ctx.store, &q.from, &q.to)?)
            }
            "consensus.Delegations" => {
                let q: DelegationsQuery = decode_body(args)?;
                encode_result(&delegations(ctx.store, &q.from)?)
            }
            "consensus.Undelegations" => {
                let q: UndelegationsQuery = decode_body(args)?;
                encode_result(&undelegations(ctx.store, &q.to)?)
            }
            _ => Err(crate::modules::core::CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }
}

//! The `accounts` module: balances per denomination, nonces, total supply,
//! `accounts.Transfer`, and the API other modules move tokens with
//! ([`transfer`], [`mint`], [`burn`]).
//!
//! State (the SDK's layout): parameters at `accounts || 0x00`; the account
//! (nonce) at `accounts || 0x01 || address`; a balance at
//! `accounts || 0x02 || address || denomination`; a total supply at
//! `accounts || 0x03 || denomination`. Zero balances are not stored.

use std::collections::BTreeMap;

use atoll_crypto::Address;
use atoll_types::Quantity;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

use crate::context::{Context, QueryContext};
use crate::error::{Error, FatalError, ModuleError, module_error};
use crate::module::{MethodInfo, Module, decode_body, decode_genesis, encode_result};
use crate::state::{self, Store, StoreExt};
use crate::types::{BaseUnits, Denomination};

/// The module's name.
pub const MODULE_NAME: &str = "accounts";

const ACCOUNTS: u8 = 0x01;
const BALANCES: u8 = 0x02;
const TOTAL_SUPPLY: u8 = 0x03;

/// Where transaction fees go: the SDK's `core.fee-accumulator` module account.
pub fn fee_accumulator() -> Address {
    Address::from_module("core", b"fee-accumulator")
}

/// The runtime's common pool: the SDK's `accounts.common-pool` module account.
pub fn common_pool() -> Address {
    Address::from_module(MODULE_NAME, b"common-pool")
}

/// Errors of `accounts` (the SDK's codes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// A bad argument (for example an amount that would overflow).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Not enough tokens.
    #[error("insufficient balance")]
    InsufficientBalance,
    /// Transfers are disabled.
    #[error("forbidden by policy")]
    Forbidden,
}

impl ModuleError for AccountsError {
    const MODULE: &'static str = MODULE_NAME;

    fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 1,
            Self::InsufficientBalance => 2,
            Self::Forbidden => 3,
        }
    }
}

module_error!(AccountsError);

/// Event codes of `accounts`.
pub mod events {
    /// [`TransferEvent`](super::TransferEvent).
    pub const TRANSFER: u32 = 1;
    /// [`BurnEvent`](super::BurnEvent).
    pub const BURN: u32 = 2;
    /// [`MintEvent`](super::MintEvent).
    pub const MINT: u32 = 3;
}

/// Tokens moved between accounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEvent {
    /// Sender.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Amount.
    pub amount: BaseUnits,
}

/// Tokens destroyed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurnEvent {
    /// Whose tokens.
    pub owner: Address,
    /// Amount.
    pub amount: BaseUnits,
}

/// Tokens created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintEvent {
    /// Who received them.
    pub owner: Address,
    /// Amount.
    pub amount: BaseUnits,
}

/// Gas costs of `accounts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// Gas of `accounts.Transfer`.
    pub tx_transfer: u64,
}

/// Parameters of `accounts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Whether `accounts.Transfer` is refused.
    pub transfers_disabled: bool,
    /// Gas costs.
    pub gas_costs: GasCosts,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            transfers_disabled: false,
            gas_costs: GasCosts { tx_transfer: 1_000 },
        }
    }
}

/// An account's metadata.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The next nonce the account signs with.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nonce: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Genesis of `accounts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The parameters.
    pub parameters: Parameters,
    /// Initial account metadata.
    #[serde(default)]
    pub accounts: BTreeMap<Address, Account>,
    /// Initial balances.
    #[serde(default)]
    pub balances: BTreeMap<Address, BTreeMap<Denomination, Quantity>>,
    /// Total supply per denomination; must equal the sum of `balances`.
    #[serde(default)]
    pub total_supplies: BTreeMap<Denomination, Quantity>,
}

/// The body of `accounts.Transfer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Recipient.
    pub to: Address,
    /// Amount.
    pub amount: BaseUnits,
}

/// The argument of `accounts.Nonce`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceQuery {
    /// The account.
    pub address: Address,
}

/// The argument of `accounts.Balances`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalancesQuery {
    /// The account.
    pub address: Address,
}

/// The result of `accounts.Balances`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountBalances {
    /// Non-zero balances by denomination.
    pub balances: BTreeMap<Denomination, Quantity>,
}

/// The current parameters of `accounts`.
pub fn params(store: &dyn Store) -> Result<Parameters, FatalError> {
    state::get_params(store, MODULE_NAME)
}

fn account_key(addr: &Address) -> Vec<u8> {
    state::module_key(MODULE_NAME, ACCOUNTS, &[addr.as_bytes()])
}

/// The state key holding an account's nonce (what [`nonce`] reads).
pub fn nonce_key(addr: &Address) -> Vec<u8> {
    account_key(addr)
}

/// The state key holding an account's balance of one denomination (what
/// [`balance`] reads).
pub fn balance_key(addr: &Address, denom: &Denomination) -> Vec<u8> {
    state::module_key(MODULE_NAME, BALANCES, &[addr.as_bytes(), denom.as_bytes()])
}

fn supply_key(denom: &Denomination) -> Vec<u8> {
    state::module_key(MODULE_NAME, TOTAL_SUPPLY, &[denom.as_bytes()])
}

/// An account's next nonce.
pub fn nonce(store: &dyn Store, addr: &Address) -> Result<u64, FatalError> {
    Ok(store
        .get_typed::<Account>(&account_key(addr))?
        .unwrap_or_default()
        .nonce)
}

/// Sets an account's next nonce.
pub fn set_nonce(store: &mut dyn Store, addr: &Address, nonce: u64) -> Result<(), FatalError> {
    store.put_typed(&account_key(addr), &Account { nonce })
}

/// An account's balance of one denomination.
pub fn balance(
    store: &dyn Store,
    addr: &Address,
    denom: &Denomination,
) -> Result<u128, FatalError> {
    Ok(store
        .get_typed::<Quantity>(&balance_key(addr, denom))?
        .unwrap_or_default()
        .0)
}

/// All of an account's non-zero balances.
pub fn balances(store: &dyn Store, addr: &Address) -> Result<AccountBalances, FatalError> {
    let prefix = state::module_key(MODULE_NAME, BALANCES, &[addr.as_bytes()]);
    let mut out = BTreeMap::new();
    for (k, v) in store.scan_typed::<Quantity>(&prefix)? {
        let denom = Denomination::new(k.get(prefix.len()..).unwrap_or_default())
            .map_err(|e| FatalError::Invariant(format!("stored denomination: {e}")))?;
        out.insert(denom, v);
    }
    Ok(AccountBalances { balances: out })
}

/// The total supply of one denomination.
pub fn total_supply(store: &dyn Store, denom: &Denomination) -> Result<u128, FatalError> {
    Ok(store
        .get_typed::<Quantity>(&supply_key(denom))?
        .unwrap_or_default()
        .0)
}

/// Sets the total supply of one denomination (for modules that create or
/// destroy tokens outside [`mint`] and [`burn`], such as an EVM genesis
/// funding its accounts or a self-destruct that burns a balance; the caller
/// keeps it equal to the sum of balances).
pub fn set_total_supply(
    store: &mut dyn Store,
    denom: &Denomination,
    amount: u128,
) -> Result<(), FatalError> {
    put_amount(store, &supply_key(denom), amount)
}

fn put_amount(store: &mut dyn Store, key: &[u8], amount: u128) -> Result<(), FatalError> {
    if amount == 0 {
        store.remove(key)
    } else {
        store.put_typed(key, &Quantity(amount))
    }
}

/// Adds to a balance (no event, supply unchanged).
pub fn add_amount(store: &mut dyn Store, addr: &Address, amount: &BaseUnits) -> Result<(), Error> {
    let key = balance_key(addr, amount.denomination());
    let new = balance(store, addr, amount.denomination())?
        .checked_add(amount.amount())
        .ok_or_else(|| AccountsError::InvalidArgument("balance overflow".into()))?;
    put_amount(store, &key, new)?;
    Ok(())
}

/// Subtracts from a balance (no event, supply unchanged);
/// `accounts.InsufficientBalance` if it is too small.
pub fn sub_amount(store: &mut dyn Store, addr: &Address, amount: &BaseUnits) -> Result<(), Error> {
    let key = balance_key(addr, amount.denomination());
    let new = balance(store, addr, amount.denomination())?
        .checked_sub(amount.amount())
        .ok_or(AccountsError::InsufficientBalance)?;
    put_amount(store, &key, new)?;
    Ok(())
}

/// Moves tokens without an event (fee handling emits its own).
pub fn transfer_silent(
    store: &mut dyn Store,
    from: &Address,
    to: &Address,
    amount: &BaseUnits,
) -> Result<(), Error> {
    sub_amount(store, from, amount)?;
    add_amount(store, to, amount)
}

/// Moves tokens and emits `accounts.Transfer`.
pub fn transfer(
    ctx: &mut Context<'_>,
    from: &Address,
    to: &Address,
    amount: &BaseUnits,
) -> Result<(), Error> {
    transfer_silent(ctx.store(), from, to, amount)?;
    ctx.emit_event(
        MODULE_NAME,
        events::TRANSFER,
        &TransferEvent {
            from: *from,
            to: *to,
            amount: amount.clone(),
        },
    )
}

/// Creates tokens for `to`, raising the total supply; emits `accounts.Mint`.
pub fn mint(ctx: &mut Context<'_>, to: &Address, amount: &BaseUnits) -> Result<(), Error> {
    let supply = total_supply(ctx.store_ref(), amount.denomination())?
        .checked_add(amount.amount())
        .ok_or_else(|| AccountsError::InvalidArgument("total supply overflow".into()))?;
    add_amount(ctx.store(), to, amount)?;
    put_amount(ctx.store(), &supply_key(amount.denomination()), supply)?;
    ctx.emit_event(
        MODULE_NAME,
        events::MINT,
        &MintEvent {
            owner: *to,
            amount: amount.clone(),
        },
    )
}

/// Destroys tokens of `from`, lowering the total supply; emits `accounts.Burn`.
pub fn burn(ctx: &mut Context<'_>, from: &Address, amount: &BaseUnits) -> Result<(), Error> {
    sub_amount(ctx.store(), from, amount)?;
    let supply = total_supply(ctx.store_ref(), amount.denomination())?
        .checked_sub(amount.amount())
        .ok_or_else(|| FatalError::Invariant("total supply below a balance".into()))?;
    put_amount(ctx.store(), &supply_key(amount.denomination()), supply)?;
    ctx.emit_event(
        MODULE_NAME,
        events::BURN,
        &BurnEvent {
            owner: *from,
            amount: amount.clone(),
        },
    )
}

/// Pays out the fees the fee accumulator holds to the entities whose nodes
/// committed the results of the runtime's last normal round
/// ([`BatchContext::round_results`](crate::BatchContext::round_results)),
/// in equal shares per denomination; what does not divide evenly stays in
/// the accumulator for the next round. Without round results, or with no
/// good entity, the fees stay. Each payment is an `accounts.Transfer`
/// event. Runs at the start of every executed batch, so the fees of round
/// `r` go to the entities that committed round `r`.
pub fn disburse_fees(ctx: &mut Context<'_>) -> Result<(), Error> {
    let Some(entities) = ctx
        .batch()
        .round_results
        .as_ref()
        .map(|r| r.good_compute_entities.clone())
    else {
        return Ok(());
    };
    let Ok(n) = u128::try_from(entities.len()) else {
        return Ok(());
    };
    if n == 0 {
        return Ok(());
    }
    let acc = fee_accumulator();
    for (denom, amount) in balances(ctx.store_ref(), &acc)?.balances {
        let share = amount.0 / n;
        if share == 0 {
            continue;
        }
        for e in &entities {
            transfer(ctx, &acc, e, &BaseUnits::new(share, denom.clone()))?;
        }
    }
    Ok(())
}

/// The `accounts` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Accounts;

impl Module for Accounts {
    fn name(&self) -> &'static str {
        MODULE_NAME
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::call("accounts.Transfer"),
            MethodInfo::query("accounts.Nonce"),
            MethodInfo::query("accounts.Balances"),
        ]
    }

    fn init_genesis(&self, store: &mut dyn Store, genesis: Option<&Value>) -> Result<(), Error> {
        let g: Genesis = decode_genesis(MODULE_NAME, genesis)?;
        state::set_params(store, MODULE_NAME, &g.parameters)?;
        for (addr, account) in &g.accounts {
            set_nonce(store, addr, account.nonce)?;
        }
        let mut sums: BTreeMap<Denomination, u128> = BTreeMap::new();
        for (addr, bals) in &g.balances {
            for (denom, amount) in bals {
                add_amount(store, addr, &BaseUnits(*amount, denom.clone()))?;
                let sum = sums.entry(denom.clone()).or_default();
                *sum = sum.checked_add(amount.0).ok_or_else(|| {
                    AccountsError::InvalidArgument("genesis total supply overflows".into())
                })?;
            }
        }
        let declared: BTreeMap<Denomination, u128> = g
            .total_supplies
            .iter()
            .map(|(d, q)| (d.clone(), q.0))
            .filter(|(_, q)| *q != 0)
            .collect();
        if declared != sums {
            return Err(AccountsError::InvalidArgument(
                "genesis total supplies do not match the sum of balances".into(),
            )
            .into());
        }
        for (denom, supply) in sums {
            put_amount(store, &supply_key(&denom), supply)?;
        }
        Ok(())
    }

    fn dispatch_call(
        &self,
        ctx: &mut Context<'_>,
        method: &str,
        body: Value,
    ) -> Result<Value, Error> {
        match method {
            "accounts.Transfer" => {
                let params = params(ctx.store_ref())?;
                ctx.use_gas(params.gas_costs.tx_transfer)?;
                if params.transfers_disabled {
                    return Err(AccountsError::Forbidden.into());
                }
                let t: Transfer = decode_body(body)?;
                let from = ctx.caller()?;
                transfer(ctx, &from, &t.to, &t.amount)?;
                Ok(Value::Null)
            }
            _ => Err(crate::modules::core::CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }

    fn begin_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        disburse_fees(ctx)
    }

    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, Error> {
        match method {
            "accounts.Nonce" => {
                let q: NonceQuery = decode_body(args)?;
                encode_result(&nonce(ctx.store, &q.address)?)
            }
            "accounts.Balances" => {
                let q: BalancesQuery = decode_body(args)?;
                encode_result(&balances(ctx.store, &q.address)?)
            }
            _ => Err(crate::modules::core::CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }
}

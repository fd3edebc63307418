//! The EVM ParaTime of atoll: the SDK modules `core`, `accounts`,
//! `consensus_accounts` and `evm` ([`atoll_evm::Evm`]), served over the
//! runtime host protocol through the SDK's host adapter
//! ([`atoll_runtime_sdk::host`]: command line, genesis, context, calls and
//! errors are documented there), by the `atoll-runtime-evm` binary
//! ([`cli::run`]).
//!
//! Ethereum tools talk to it through raw Ethereum transactions
//! (`UnverifiedTransaction(raw, [{"module": "evm.ethereum.v0"}])`), the
//! `evm.*` queries and `core.EstimateGasForCaller`.
//!
//! [`localnet_genesis`] gives parameters suited to Ethereum tooling: no SDK
//! gas beyond the EVM's own (`tx_byte` = 0, `auth_signature` = 0: revm
//! charges 21000 plus calldata itself, so SDK gas equals Ethereum gas),
//! 30M gas per block, a 1 gwei minimum gas price, 18-decimal native token.

pub mod cli;

use std::collections::BTreeMap;

use atoll_crypto::secp256k1::EthAddress;
use atoll_evm::Evm;
use atoll_runtime_sdk::host::HostedRuntime;
use atoll_runtime_sdk::modules::consensus_accounts::ConsensusAccounts;
use atoll_runtime_sdk::modules::rewards::Rewards;
use atoll_runtime_sdk::modules::{accounts, core};
use atoll_runtime_sdk::types::Denomination;
use atoll_runtime_sdk::{BuildError, Runtime, RuntimeConfig, RuntimeGenesis};
use atoll_types::cbor::EncodeError;
use atoll_types::{Namespace, Quantity};

/// How far ahead of an account's nonce a check accepts a transaction (as
/// the plain runtime: several transactions of one sender in flight).
pub const MAX_CHECK_NONCE_FUTURE_DELTA: u64 = 64;

/// Gas per block (and most gas per transaction) in [`localnet_genesis`].
pub const MAX_BATCH_GAS: u64 = 30_000_000;

/// Minimum gas price (1 gwei) in [`localnet_genesis`].
pub const MIN_GAS_PRICE: u128 = 1_000_000_000;

/// Largest raw transaction in [`localnet_genesis`]: room for 128 KiB of
/// init code and its envelope.
pub const MAX_TX_SIZE: u32 = 160 * 1024;

/// The SDK runtime: `core`, `accounts`, `consensus_accounts`, `rewards`, `evm`.
pub fn runtime() -> Result<Runtime, BuildError> {
    Runtime::builder()
        .module(ConsensusAccounts)
        .module(Rewards)
        .module(Evm)
        .config(RuntimeConfig {
            max_check_nonce_future_delta: MAX_CHECK_NONCE_FUTURE_DELTA,
        })
        .build()
}

/// The runtime served over the host protocol, applying `genesis` to a
/// state that has none.
pub fn host_runtime(
    runtime_id: Namespace,
    genesis: Option<RuntimeGenesis>,
) -> Result<HostedRuntime, BuildError> {
    Ok(HostedRuntime::new(runtime_id, runtime()?, genesis))
}

/// `core` parameters for Ethereum tooling (see the crate documentation).
pub fn core_parameters() -> core::Parameters {
    core::Parameters {
        max_batch_gas: MAX_BATCH_GAS,
        max_tx_size: MAX_TX_SIZE,
        max_tx_signers: 1,
        max_messages: 256,
        gas_costs: core::GasCosts {
            tx_byte: 0,
            auth_signature: 0,
        },
        min_gas_price: BTreeMap::from([(Denomination::NATIVE, Quantity(MIN_GAS_PRICE))]),
    }
}

/// A genesis for a local network: `chain_id`, [`core_parameters`], and
/// each `(Ethereum address, wei)` of `funded` holding that balance (the
/// native total supply is their sum).
pub fn localnet_genesis(
    chain_id: u64,
    funded: &[([u8; 20], u128)],
) -> Result<RuntimeGenesis, EncodeError> {
    let mut balances = BTreeMap::new();
    let mut supply: u128 = 0;
    for (eth, wei) in funded {
        let addr = atoll_crypto::Address::from_eth(&EthAddress(*eth));
        let entry: &mut BTreeMap<Denomination, Quantity> = balances.entry(addr).or_default();
        let q = entry.entry(Denomination::NATIVE).or_insert(Quantity(0));
        q.0 = q.0.saturating_add(*wei);
        supply = supply.saturating_add(*wei);
    }
    let total_supplies = if supply > 0 {
        BTreeMap::from([(Denomination::NATIVE, Quantity(supply))])
    } else {
        BTreeMap::new()
    };
    RuntimeGenesis::default()
        .with(
            core::MODULE_NAME,
            &core::Genesis {
                parameters: core_parameters(),
            },
        )?
        .with(
            accounts::MODULE_NAME,
            &accounts::Genesis {
                balances,
                total_supplies,
                ..Default::default()
            },
        )?
        .with(
            atoll_evm::MODULE_NAME,
            &atoll_evm::module::genesis(chain_id),
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use atoll_crypto::Hash;
    use atoll_crypto::context::ChainContext;
    use atoll_evm::tx::{self, LegacyTx, U256};
    use atoll_runtime_sdk::state::MemStore;
    use atoll_runtime_sdk::types::{AuthProof, UnverifiedTransaction};

    #[test]
    fn localnet_genesis_funds_and_runs_an_ethereum_transfer() {
        let secret = [5u8; 32];
        let me = tx::address_of(&secret).unwrap();
        let rt = runtime().unwrap();
        let mut store = MemStore::new();
        let genesis = localnet_genesis(0x5afd, &[(me.0, 10u128.pow(21))]).unwrap();
        rt.init_genesis(&mut store, &genesis).unwrap();
        let raw = tx::sign_legacy(
            &LegacyTx {
                chain_id: Some(0x5afd),
                nonce: 0,
                gas_price: U256::from(MIN_GAS_PRICE),
                gas_limit: 21_000,
                to: Some(EthAddress([0x42; 20])),
                value: U256::from(1u64),
                input: Vec::new(),
            },
            &secret,
        )
        .unwrap();
        let wrapped = atoll_types::cbor::to_vec(&UnverifiedTransaction(
            raw,
            vec![AuthProof::Module(atoll_evm::ETHEREUM_TX_SCHEME.into())],
        ))
        .unwrap();
        let ctx = atoll_runtime_sdk::BatchContext::new(
            Namespace([1; 32]),
            ChainContext::from_hash(&Hash::digest(b"x")),
            1,
            1,
            0,
        )
        .unwrap();
        rt.check_tx(&ctx, &store, &wrapped).unwrap();
        let r = rt.execute_batch(&ctx, &mut store, &[wrapped]).unwrap();
        assert!(r.results[0].result.is_success(), "{:?}", r.results[0]);
        assert_eq!(r.results[0].gas_used, 21_000);
    }
}

//! What the ParaTime end-to-end tests (`paratime`, `checkpoint`) share on
//! top of [`crate::common`]: bounded waits, signed runtime transactions,
//! balance and round queries over a node's runtime API.

use std::net::SocketAddr;
use std::time::Duration;

use atoll_crypto::Address;
use atoll_crypto::context::ChainContext;
use atoll_rpc::api::RuntimeRpcClient as _;
use atoll_runtime_sdk::RuntimeGenesis;
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::modules::accounts::{self, BalancesQuery};
use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
use atoll_types::{Namespace, Quantity, cbor};
use base64::Engine as _;

use crate::common::node_api;

/// Lets a test's `Net` (a [`atoll_localnet::harness::Network`] in field
/// `$field`, and the test's own fields) be used as the network itself.
macro_rules! net_derefs_to_network {
    ($net:ty, $field:tt) => {
        impl std::ops::Deref for $net {
            type Target = atoll_localnet::harness::Network;
            fn deref(&self) -> &Self::Target {
                &self.$field
            }
        }

        impl std::ops::DerefMut for $net {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.$field
            }
        }
    };
}
pub(crate) use net_derefs_to_network;

/// Polls `f` every 200 ms until it answers, for at most `within`.
pub fn wait_for<T>(what: &str, within: Duration, f: impl FnMut() -> Option<T>) -> T {
    atoll_localnet::harness::wait_for(what, within, f).unwrap_or_else(|e| panic!("{e}"))
}

/// The ed25519 signer whose seed is 32 bytes of `seed`.
pub fn signer(seed: u8) -> TxSigner {
    TxSigner::Ed25519(atoll_crypto::ed25519::SigningKey::from_seed(&[seed; 32]))
}

/// A transfer of 1 native base unit from `from` to `to` in `runtime`,
/// zero fee, 100,000 gas.
pub fn transfer_tx(
    chain: &ChainContext,
    runtime: &Namespace,
    from: &TxSigner,
    to: Address,
    nonce: u64,
) -> Vec<u8> {
    let body = cbor::to_value(&accounts::Transfer {
        to,
        amount: BaseUnits::native(1),
    })
    .unwrap();
    runtime_tx(
        chain,
        runtime,
        from,
        nonce,
        "accounts.Transfer",
        body,
        0,
        100_000,
    )
}

/// A plain ParaTime genesis (CBOR) in which `holder` owns the whole supply,
/// `amount` native base units.
pub fn funded_genesis(holder: Address, amount: u128) -> Vec<u8> {
    let funds = std::collections::BTreeMap::from([(Denomination::NATIVE, Quantity(amount))]);
    let g = RuntimeGenesis::default()
        .with(
            "accounts",
            &accounts::Genesis {
                balances: std::collections::BTreeMap::from([(holder, funds.clone())]),
                total_supplies: funds,
                ..Default::default()
            },
        )
        .unwrap();
    cbor::to_vec(&g).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A runtime transaction from `signer`, with a zero fee for `gas`.
#[allow(clippy::too_many_arguments, reason = "every field of the transaction")]
pub fn runtime_tx(
    chain: &ChainContext,
    runtime: &Namespace,
    signer: &TxSigner,
    nonce: u64,
    method: &str,
    body: cbor::Value,
    messages: u32,
    gas: u64,
) -> Vec<u8> {
    let mut tx = Transaction::new(method, body);
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: signer.address_spec(),
        nonce,
    });
    tx.auth_info.fee.gas = gas;
    tx.auth_info.fee.amount = BaseUnits::native(0);
    tx.auth_info.fee.consensus_messages = messages;
    let ctx = tx_signature_context(runtime, chain).unwrap();
    cbor::to_vec(&sign_transaction(&ctx, &tx, &[signer]).unwrap()).unwrap()
}

/// `who`'s native balance in `runtime`, as the node at `rpc` answers.
pub fn balance(rpc: SocketAddr, runtime: &Namespace, who: Address) -> Result<u128, String> {
    let args = b64(&cbor::to_vec(&BalancesQuery { address: who }).unwrap());
    let id = runtime.to_string();
    let r = node_api(rpc, |c| async move {
        c.query(id, "accounts.Balances".into(), Some(args), None)
            .await
    })?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&r.cbor)
        .map_err(|e| e.to_string())?;
    let b: accounts::AccountBalances = cbor::from_slice(&raw).map_err(|e| e.to_string())?;
    Ok(b.balances.get(&Denomination::NATIVE).map_or(0, |q| q.0))
}

/// The latest round of `runtime` the node at `rpc` has applied.
pub fn latest_round(rpc: SocketAddr, runtime: &Namespace) -> Option<u64> {
    let id = runtime.to_string();
    node_api(rpc, |c| async move { c.get_block(id, None).await })
        .ok()
        .and_then(|b| b["round"].as_u64())
}

/// The pid of the runtime process (`atoll <binary> ...` for `runtime`)
/// that the node process `node_pid` runs, from `/proc`.
pub fn runtime_pid(node_pid: u32, runtime: &Namespace, binary: &str) -> Option<u32> {
    atoll_localnet::harness::runtime_pid(node_pid, runtime, binary)
}

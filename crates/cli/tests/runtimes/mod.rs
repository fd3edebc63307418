//! What the ParaTime end-to-end tests (`paratime`, `checkpoint`) share on
//! top of [`crate::common`]: bounded waits, signed runtime transactions,
//! balance and round queries over a node's runtime API, and the tails of
//! the nodes' logs for a failure message.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use atoll_crypto::Address;
use atoll_crypto::context::ChainContext;
use atoll_localnet::Layout;
use atoll_runtime_sdk::RuntimeGenesis;
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::modules::accounts::{self, BalancesQuery};
use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
use atoll_types::{Namespace, Quantity, cbor};
use base64::Engine as _;
use serde_json::json;

use crate::common::call;

/// Polls `f` every 200 ms until it answers, for at most `within`.
pub fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
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
    let args = cbor::to_vec(&BalancesQuery { address: who }).unwrap();
    let r = call(
        rpc,
        "runtime_query",
        json!([runtime.to_string(), "accounts.Balances", b64(&args)]),
    )
    .map_err(|e| e.to_string())?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(r["cbor"].as_str().ok_or("no cbor in the answer")?)
        .map_err(|e| e.to_string())?;
    let b: accounts::AccountBalances = cbor::from_slice(&raw).map_err(|e| e.to_string())?;
    Ok(b.balances.get(&Denomination::NATIVE).map_or(0, |q| q.0))
}

/// The latest round of `runtime` the node at `rpc` has applied.
pub fn latest_round(rpc: SocketAddr, runtime: &Namespace) -> Option<u64> {
    call(rpc, "runtime_getBlock", json!([runtime.to_string()]))
        .ok()
        .and_then(|b| b["round"].as_u64())
}

/// The last `lines` lines of every node's log.
pub fn logs(layout: &Layout, lines: usize) -> String {
    let mut out = String::new();
    for n in &layout.nodes {
        let text = std::fs::read_to_string(n.dir.join("node.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        out.push_str(&format!("== {} ==\n", n.name));
        out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
        out.push('\n');
    }
    out
}

/// The pid of the runtime process (`atoll <binary> ...` for `runtime`)
/// that the node process `node_pid` runs, from `/proc`.
#[allow(dead_code, reason = "not every test binary kills runtime processes")]
pub fn runtime_pid(node_pid: u32, runtime: &Namespace, binary: &str) -> Option<u32> {
    let id = runtime.to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if !cmd.contains(binary) || !cmd.contains(&id) {
            continue;
        }
        let Some(ppid) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit(')')
                    .next()?
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u32>()
                    .ok()
            })
        else {
            continue;
        };
        if ppid == node_pid {
            return Some(pid);
        }
    }
    None
}

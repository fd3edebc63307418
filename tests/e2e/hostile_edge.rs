//! Hostile clients at the edge of an EVM ParaTime, against real processes:
//! `atoll localnet --single --paratimes evm` started as a user starts it,
//! then a client that floods the node's Ethereum JSON-RPC with batches of
//! `eth_estimateGas` and `eth_call` (each burning as much gas as it may)
//! while an honest user sends EVM transfers.
//!
//! What must hold: every transfer lands (within a generous bounded wait)
//! and rounds keep advancing, since queries run in a process of their own
//! and never hold up a round; a batch past geth's 1000 calls gets geth's
//! typed error and runs nothing; pre-EIP-155 transactions are refused with
//! geth's words, over the Ethereum JSON-RPC and over `runtime_submitTx`;
//! and the node's resident memory stays bounded.
//!
//! Every wait and every loop is bounded; no assertion depends on how fast
//! this machine is.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{call, raw_call, raw_post};
use crate::process::Localnet;
use atoll_evm::tx::{self, DynamicFeeTx, LegacyTx, U256};
use serde_json::{Value, json};

/// Init code that loops until it runs out of gas (`JUMPDEST PUSH1 0
/// JUMP`): every simulation of it burns all the gas it is given.
const BURNER: &str = "0x5b600056";

/// Calls per attacking batch (each may take up to `rpc_evm_timeout_ms`
/// under the flood, so a batch answers within the client's read timeout).
const ATTACK_BATCH: usize = 2;
/// Most attacking batches per attacker (bounded even if transfers hang).
const ATTACK_ROUNDS: usize = 40;
/// Honest transfers sent during the attack.
const TRANSFERS: u64 = 12;
/// The longest one transfer may take to land (generous: a loaded 2-core
/// machine).
const LAND_WITHIN: Duration = Duration::from_secs(180);

fn evm_entry(summary: &Value) -> Value {
    summary["paratimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "evm")
        .unwrap_or_else(|| panic!("no EVM ParaTime in {summary}"))
        .clone()
}

fn web3_addr(evm: &Value) -> SocketAddr {
    let url = evm["evm"]["eth_rpc_url"].as_str().unwrap();
    url.trim_start_matches("http://").parse().unwrap()
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn secret(hex_key: &str) -> [u8; 32] {
    hex::decode(hex_key.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap()
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// The process id of the node whose log is `log` (its `node.toml` is
/// beside it): found in `/proc` by its command line.
fn node_pid(log: &Path) -> u32 {
    let config = log.with_file_name("node.toml");
    let want = config.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "node") && args.contains(&want) {
            return pid;
        }
    }
    panic!("no process runs `atoll node --config {want}`");
}

/// Resident memory of process `pid`, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in {status}"))
}

/// A JSON-RPC batch of `calls` (method, params), as one request body.
fn batch_body(calls: &[(&str, Value)]) -> String {
    Value::Array(
        calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": i + 1, "method": m, "params": p}))
            .collect(),
    )
    .to_string()
}

/// Sends a transfer of 1 wei from `key` with `nonce` and waits (bounded)
/// for its receipt; returns the block it landed in.
fn transfer(web3: SocketAddr, chain_id: u64, key: &[u8; 32], nonce: u64, to: [u8; 20]) -> u64 {
    let raw = tx::sign_eip1559(
        &DynamicFeeTx {
            chain_id,
            nonce,
            max_priority_fee_per_gas: U256::from(0u64),
            max_fee_per_gas: U256::from(2_000_000_000u64),
            gas_limit: 21_000,
            to: Some(atoll_crypto::secp256k1::EthAddress(to)),
            value: U256::from(1u64),
            input: Vec::new(),
            access_list: Vec::new(),
        },
        key,
    )
    .unwrap();
    let hash = call(web3, "eth_sendRawTransaction", json!([hex0x(&raw)]))
        .unwrap_or_else(|e| panic!("transfer {nonce} refused: {e}"));
    let deadline = Instant::now() + LAND_WITHIN;
    loop {
        if let Ok(r) = call(web3, "eth_getTransactionReceipt", json!([hash]))
            && !r.is_null()
        {
            assert_eq!(r["status"], "0x1", "transfer {nonce}: {r}");
            return quantity(&r["blockNumber"]);
        }
        assert!(
            Instant::now() < deadline,
            "transfer {nonce} did not land within {LAND_WITHIN:?} under the query flood"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One attacker: batches of gas-burning estimates and calls, until told to
/// stop or `ATTACK_ROUNDS` batches were sent. Returns (answers, typed
/// errors) seen.
fn attack(web3: SocketAddr, from: String, stop: &AtomicBool, sent: &AtomicU64) -> (u64, u64) {
    let calls: Vec<(&str, Value)> = (0..ATTACK_BATCH)
        .map(|i| {
            if i % 2 == 0 {
                ("eth_estimateGas", json!([{"from": from, "data": BURNER}]))
            } else {
                (
                    "eth_call",
                    json!([{"from": from, "data": BURNER, "gas": "0xffffffffffffff"}, "latest"]),
                )
            }
        })
        .collect();
    let body = batch_body(&calls);
    let (mut answers, mut errors) = (0u64, 0u64);
    for _ in 0..ATTACK_ROUNDS {
        if stop.load(Ordering::Acquire) {
            break;
        }
        sent.fetch_add(1, Ordering::AcqRel);
        let Ok(Value::Array(out)) = raw_post(web3, &body) else {
            continue;
        };
        for a in out {
            answers += 1;
            // Every answer is a typed error: out of gas for the burner,
            // a timeout or a full queue under the flood; never a crash.
            if let Some(code) = a["error"]["code"].as_i64() {
                assert!(
                    [-32000, 3, -32005].contains(&code),
                    "unexpected error for an attacking call: {a}"
                );
                errors += 1;
            }
        }
    }
    (answers, errors)
}

#[test]
fn a_query_flood_does_not_starve_evm_rounds_nor_grow_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dir: PathBuf = tmp.path().join("net");
    let mut net = Localnet::start(&dir, &["--single", "--paratimes", "evm"]);
    let summary = net.summary();
    let evm = evm_entry(&summary);
    let web3 = web3_addr(&evm);
    let chain_id = evm["evm"]["chain_id"].as_u64().unwrap();
    let runtime = evm["id"].as_str().unwrap().to_owned();
    let node = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| !n["paratimes"].as_array().unwrap().is_empty())
        .unwrap()
        .clone();
    let node_rpc: SocketAddr = node["rpc_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let pid = node_pid(Path::new(node["log"].as_str().unwrap()));
    let accounts = summary["ethereum_accounts"].as_array().unwrap();
    let honest = secret(accounts[0]["private_key"].as_str().unwrap());
    let attacker = accounts[1]["address"].as_str().unwrap().to_owned();
    let to = [0x42u8; 20];

    // Warm up: the first transfers, then the node's memory as it runs.
    let mut nonce = 0u64;
    for _ in 0..2 {
        transfer(web3, chain_id, &honest, nonce, to);
        nonce += 1;
    }
    let rss_before = rss_kib(pid);
    let head_before = quantity(&call(web3, "eth_blockNumber", json!([])).unwrap());

    // A batch of more calls than geth's limit: geth's typed error, one
    // object with the first call's id, and none of its calls run.
    let too_many: Vec<(&str, Value)> = (0..1_001)
        .map(|_| {
            (
                "eth_estimateGas",
                json!([{"from": attacker, "data": BURNER}]),
            )
        })
        .collect();
    let e = raw_call(web3, &batch_body(&too_many)).unwrap_err();
    assert_eq!(e["code"], -32600, "{e}");
    assert_eq!(e["message"], "batch too large", "{e}");

    // Pre-EIP-155 transactions are refused, over both APIs.
    let unprotected = tx::sign_legacy(
        &LegacyTx {
            chain_id: None,
            nonce,
            gas_price: U256::from(2_000_000_000u64),
            gas_limit: 21_000,
            to: Some(atoll_crypto::secp256k1::EthAddress(to)),
            value: U256::from(1u64),
            input: Vec::new(),
        },
        &honest,
    )
    .unwrap();
    let e = call(web3, "eth_sendRawTransaction", json!([hex0x(&unprotected)])).unwrap_err();
    assert_eq!(
        e["message"], "only replay-protected (EIP-155) transactions allowed over RPC",
        "{e}"
    );
    let wrapped = atoll_types::cbor::to_vec(&atoll_runtime_sdk::types::UnverifiedTransaction(
        unprotected.clone(),
        vec![atoll_runtime_sdk::types::AuthProof::Module(
            "evm.ethereum.v0".into(),
        )],
    ))
    .unwrap();
    let e = call(
        node_rpc,
        "runtime_submitTx",
        json!([runtime, hex0x(&wrapped), true]),
    )
    .unwrap_err();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("only replay-protected (EIP-155) transactions allowed over RPC"),
        "{e}"
    );

    // The flood: two attackers, while the honest user transfers.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let attackers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, sent, from) = (stop.clone(), sent.clone(), attacker.clone());
            std::thread::spawn(move || attack(web3, from, &stop, &sent))
        })
        .collect();
    // Wait (bounded) until the attack is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(Ordering::Acquire) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut blocks = Vec::new();
    for _ in 0..TRANSFERS {
        blocks.push(transfer(web3, chain_id, &honest, nonce, to));
        nonce += 1;
    }
    let batches_during = sent.load(Ordering::Acquire);
    stop.store(true, Ordering::Release);
    let mut answers = 0;
    for a in attackers {
        let (n, _errors) = a.join().unwrap();
        answers += n;
    }
    eprintln!(
        "{batches_during} attacking batches sent while {TRANSFERS} transfers landed in blocks {blocks:?}; {answers} attacking answers"
    );
    assert!(
        batches_during >= 2,
        "the transfers should have run under the attack"
    );
    assert!(answers > 0, "the attackers got answers");
    // Rounds kept advancing: each transfer in a later block than the last.
    assert!(blocks.windows(2).all(|w| w[0] < w[1]), "{blocks:?}");
    let head_after = quantity(&call(web3, "eth_blockNumber", json!([])).unwrap());
    assert!(head_after > head_before, "{head_before} -> {head_after}");

    // Memory stays bounded: generous, but far below unbounded growth.
    let rss_after = rss_kib(pid);
    eprintln!("node VmRSS: {rss_before} KiB before the flood, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + 256 * 1024,
        "the node grew from {rss_before} KiB to {rss_after} KiB under the flood"
    );

    // The node still answers queries normally once the flood is over.
    let bal = call(
        web3,
        "eth_getBalance",
        json!([format!("0x{}", hex::encode(to)), "latest"]),
    )
    .unwrap();
    assert_eq!(quantity(&bal), nonce, "every transfer sent 1 wei");
    assert!(net.terminate().success());
}

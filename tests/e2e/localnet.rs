//! `atoll localnet` as a user runs it: with its defaults it creates four
//! validators, three compute nodes and the plain ParaTime, writes
//! `localnet.json` once every node has finalized a block and the ParaTime a
//! round, serves funded development accounts (ed25519 on consensus and in
//! the ParaTime, Ethereum ones in the ParaTime), stops every node on SIGTERM
//! and exits 0, and restarts from the same directory where it stopped.
//! `--single` makes blocks alone with one compute node; bad flags are
//! refused with a clear message.
//!
//! Every wait is bounded; no assertion depends on how fast this machine is.

use crate::common::{atoll, call};
use crate::process::{Localnet, WAIT};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn rpc_addrs(summary: &Value) -> Vec<SocketAddr> {
    summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let url = n["rpc_url"].as_str().unwrap();
            url.strip_prefix("http://").unwrap().parse().unwrap()
        })
        .collect()
}

fn status(addr: SocketAddr) -> Value {
    call(addr, "node_status", json!([])).unwrap()
}

fn height(addr: SocketAddr) -> u64 {
    status(addr)["latest_height"].as_u64().unwrap_or(0)
}

fn wait_height(addrs: &[SocketAddr], at_least: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let heights: Vec<u64> = addrs.iter().map(|a| height(*a)).collect();
        if heights.iter().all(|h| *h >= at_least) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "heights {heights:?} did not reach {at_least}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every node's API port refuses connections (bounded wait).
fn wait_all_gone(addrs: &[SocketAddr]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alive: Vec<&SocketAddr> = addrs
            .iter()
            .filter(|a| TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok())
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nodes still listening after the localnet stopped: {alive:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn localnet_starts_serves_dev_accounts_stops_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    // The defaults: 4 validators, 3 compute nodes, the plain ParaTime.
    let mut net = Localnet::start(&dir, &[]);
    let summary = net.summary();

    let addrs = rpc_addrs(&summary);
    assert_eq!(addrs.len(), 7, "{summary}");
    let roles: Vec<&str> = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "validator",
            "validator",
            "validator",
            "validator",
            "compute",
            "compute",
            "compute"
        ]
    );
    for n in summary["nodes"].as_array().unwrap() {
        assert!(n["ws_url"].as_str().unwrap().starts_with("ws://127.0.0.1:"));
        assert!(Path::new(n["log"].as_str().unwrap()).exists());
    }
    let chain_id = summary["chain_id"].as_str().unwrap();
    assert_eq!(
        summary["mnemonic"],
        "test test test test test test test test test test test junk"
    );
    assert!(summary["time_to_first_block_ms"].is_u64(), "{summary}");
    assert!(summary["time_to_first_round_ms"].is_u64(), "{summary}");
    for addr in &addrs {
        let s = status(*addr);
        assert_eq!(s["chain_id"], chain_id);
        assert_eq!(s["chain_context"], summary["chain_context"]);
        assert!(s["latest_height"].as_u64().unwrap() >= 1, "{s}");
    }

    // The ParaTimes, plain and EVM: served by the three compute nodes, a
    // round finalized.
    let paratimes = summary["paratimes"].as_array().unwrap();
    assert_eq!(paratimes.len(), 2, "{summary}");
    let plain = &paratimes[0];
    assert_eq!(plain["name"], "plain");
    assert_eq!(plain["kind"], "plain");
    assert!(plain["evm"].is_null());
    let id = plain["id"].as_str().unwrap();
    let evm = &paratimes[1];
    assert_eq!(evm["kind"], "evm");
    assert_eq!(evm["nodes"], plain["nodes"]);
    let eth_urls = evm["evm"]["eth_rpc_urls"].as_array().unwrap();
    assert_eq!(eth_urls.len(), 3, "{evm}");
    for url in eth_urls {
        let addr: SocketAddr = url.as_str().unwrap()[7..].parse().unwrap();
        let chain = call(addr, "eth_chainId", json!([])).unwrap();
        assert_eq!(
            u64::from_str_radix(&chain.as_str().unwrap()[2..], 16).unwrap(),
            evm["evm"]["chain_id"].as_u64().unwrap()
        );
    }
    let compute: Vec<SocketAddr> = plain["rpc_urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            u.as_str()
                .unwrap()
                .strip_prefix("http://")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(compute, addrs[4..]);
    for addr in &compute {
        // A node may still be finishing its start-up under load: ask again
        // for a bounded while before judging its answer.
        let deadline = Instant::now() + Duration::from_secs(60);
        let listed = loop {
            match call(*addr, "runtime_list", json!([])) {
                Ok(v) => break v,
                Err(e) => {
                    assert!(Instant::now() < deadline, "runtime_list on {addr}: {e}");
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        let mut want = vec![id, evm["id"].as_str().unwrap()];
        want.sort_unstable();
        assert_eq!(listed, json!(want));
    }
    // The summary came once a round finalized; a node may apply it a moment
    // after another (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    let block = loop {
        match call(compute[0], "runtime_getBlock", json!([id])) {
            Ok(b) if b["round"].as_u64().is_some_and(|r| r >= 1) => break b,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no round on {}: {other:?}",
                    compute[0]
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert!(block["round"].as_u64().unwrap() >= 1, "{block}");

    // Ethereum development accounts: Hardhat's, funded in the ParaTime.
    let eth = summary["ethereum_accounts"].as_array().unwrap();
    assert_eq!(eth.len(), 5);
    assert_eq!(
        eth[0]["address"],
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    );
    assert_eq!(
        eth[0]["private_key"],
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    );

    // The development accounts are funded, and derived as documented.
    let accounts = summary["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 5);
    for a in accounts {
        let seed: [u8; 32] = hex::decode(a["private_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let key = atoll_crypto::ed25519::SigningKey::from_seed(&seed);
        let address = atoll_crypto::Address::from_ed25519(&key.public_key());
        assert_eq!(a["address"], address.to_string());
        assert_eq!(a["public_key"], key.public_key().to_string());
    }
    let index: u32 = 3;
    let expected = atoll_crypto::Hash::digest_parts(&[
        b"atoll/dev-account",
        b"test test test test test test test test test test test junk",
        &index.to_be_bytes(),
    ]);
    assert_eq!(accounts[3]["private_key"], expected.to_hex());
    let account = call(
        addrs[1],
        "consensus_getAccount",
        json!([accounts[0]["address"]]),
    )
    .unwrap();
    let balance = &account["general"]["balance"];
    let balance: u128 = balance
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| balance.as_u64().map(u128::from))
        .unwrap_or(0);
    let genesis: u128 = accounts[0]["genesis_balance"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(genesis > 0);
    assert_eq!(balance, genesis, "{account}");

    // SIGTERM: every node stops, and the command exits 0.
    let before = addrs.iter().map(|a| height(*a)).max().unwrap();
    let status = net.terminate();
    assert!(status.success(), "exit {status:?}:\n{}", net.stderr());
    wait_all_gone(&addrs);

    // The same directory again: the same network, resumed.
    let mut again = Localnet::start(&dir, &[]);
    let summary2 = again.summary();
    assert_eq!(summary2["chain_id"], summary["chain_id"]);
    assert_eq!(summary2["chain_context"], summary["chain_context"]);
    assert_eq!(rpc_addrs(&summary2), addrs);
    for addr in &addrs {
        assert!(height(*addr) >= before, "resumed below {before}");
    }
    wait_height(&addrs, before + 1);
    assert_eq!(summary2["paratimes"][0]["id"], id);
    assert!(
        call(compute[1], "runtime_getBlock", json!([id])).unwrap()["round"]
            .as_u64()
            .unwrap()
            >= 1
    );
    let status = again.terminate();
    assert!(status.success(), "exit {status:?}:\n{}", again.stderr());
    wait_all_gone(&addrs);

    // A conflicting flag on an existing network is refused.
    let out = Command::new(atoll())
        .args(["localnet", "--validators", "2", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 validator(s)"), "{err}");
}

#[test]
fn single_validator_localnet_makes_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("single");
    let mut net = Localnet::start(&dir, &["--single"]);
    let summary = net.summary();
    let addrs = rpc_addrs(&summary);
    // One validator and one compute node running the plain ParaTime.
    assert_eq!(addrs.len(), 2);
    assert_eq!(summary["nodes"][1]["role"], "compute");
    assert_eq!(summary["paratimes"][0]["nodes"], json!(["compute-0"]));
    wait_height(&addrs, 3);
    let status = net.terminate();
    assert!(status.success(), "exit {status:?}:\n{}", net.stderr());
    wait_all_gone(&addrs);
}

#[test]
fn zero_validators_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("none");
    let out = Command::new(atoll())
        .args(["localnet", "--validators", "0", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--validators must be at least 1"), "{err}");
    assert!(!dir.join("genesis.json").exists());
}

#[test]
fn unknown_paratimes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wasm");
    let out = Command::new(atoll())
        .args(["localnet", "--paratimes", "plain,wasm", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown ParaTime \"wasm\""), "{err}");
    assert!(err.contains("plain, evm"), "{err}");
    assert!(!dir.exists());
    let out = Command::new(atoll())
        .args([
            "localnet",
            "--compute-nodes",
            "0",
            "--paratimes",
            "plain",
            "--data-dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.exists());
}

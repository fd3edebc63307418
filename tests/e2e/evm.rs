//! The EVM ParaTime as a dApp developer meets it: `atoll localnet --single
//! --paratimes evm` started as a user starts it, then real Ethereum clients
//! from npm (solc-js, ethers v6, viem; `tests/web3-clients`, installed from
//! its lockfile by `npm ci`) against the node's Ethereum JSON-RPC: deploy
//! and use an ERC-20 and a contract that reverts, receipts, logs by filter,
//! revert reasons, gas estimates, `eth_subscribe`, every transaction type
//! and bad input. Then the localnet is stopped and started again: every
//! block, receipt and log the clients saw is still served, unchanged.
//!
//! Every wait is bounded; no assertion depends on how fast this machine is.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::call;
use crate::process::Localnet;
use serde_json::{Value, json};

/// The npm project of the client tests.
fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web3-clients")
}

/// The EVM ParaTime's entry of the summary.
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

/// Calls until the answer satisfies `ok` (bounded).
fn eventually(addr: SocketAddr, method: &str, params: Value, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(v) = call(addr, method, params.clone())
            && ok(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{method} {params} did not come right within 60 s: last {:?}",
            call(addr, method, params.clone())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A browser's CORS preflight for a JSON POST from `origin`: the answer's
/// status line and headers (names in lower case).
fn preflight(addr: SocketAddr, origin: &str) -> (String, Vec<(String, String)>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "OPTIONS / HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n\
         Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let head = out.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn ethers_and_viem_against_a_localnet_evm_paratime() {
    let clients = clients_dir();
    assert!(
        clients.join("node_modules/ethers").is_dir(),
        "the client tests need their npm packages: run `npm ci` in {} (`.ci/run` and \
         `cargo xtask test` do)",
        clients.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let mut net = Localnet::start(&dir, &["--single", "--paratimes", "evm"]);
    let summary = net.summary();
    let evm = evm_entry(&summary);
    let web3 = web3_addr(&evm);
    let chain_id = evm["evm"]["chain_id"].as_u64().unwrap();
    assert_eq!(
        quantity(&call(web3, "eth_chainId", json!([])).unwrap()),
        chain_id
    );
    // A localnet lets browser pages of any origin call its EVM endpoint.
    let (status, headers) = preflight(web3, "http://localhost:3000");
    assert!(status.contains(" 200 "), "{status} {headers:?}");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "access-control-allow-origin" && v == "*"),
        "{headers:?}"
    );
    let keys: Vec<String> = summary["ethereum_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .take(4)
        .map(|a| a["private_key"].as_str().unwrap().to_owned())
        .collect();

    let out = Command::new("node")
        .current_dir(&clients)
        .args([
            "--test",
            "--test-concurrency=1",
            // Bounded: no client test may hang the run, and a client that
            // leaves a socket open does not keep its file's process alive.
            "--test-timeout=180000",
            "--test-force-exit",
            "--test-reporter=spec",
            "contracts.test.mjs",
            "ethers.test.mjs",
            "viem.test.mjs",
        ])
        .env(
            "ATOLL_WEB3_HTTP",
            evm["evm"]["eth_rpc_url"].as_str().unwrap(),
        )
        .env("ATOLL_WEB3_WS", evm["evm"]["eth_ws_url"].as_str().unwrap())
        .env("ATOLL_ETH_KEYS", keys.join(","))
        .env("ATOLL_CHAIN_ID", chain_id.to_string())
        .output()
        .expect("node (Node.js 18 or later) must be installed to run the client tests");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the client tests failed:\n{report}");

    // What the clients saw, before a restart.
    let head = quantity(&call(web3, "eth_blockNumber", json!([])).unwrap());
    let block = call(
        web3,
        "eth_getBlockByNumber",
        json!([format!("{head:#x}"), false]),
    )
    .unwrap();
    let logs = call(
        web3,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": format!("{head:#x}")}]),
    )
    .unwrap();
    let log_count = logs.as_array().unwrap().len();
    assert!(log_count >= 4, "the clients' logs: {logs}");
    let some_tx = logs[0]["transactionHash"].clone();
    let receipt = call(web3, "eth_getTransactionReceipt", json!([some_tx])).unwrap();
    assert_eq!(receipt["status"], "0x1");

    // Stop everything and start again from the same directory: the index
    // and the ParaTime state are where they were.
    assert!(net.terminate().success());
    drop(net);
    let mut net = Localnet::start(&dir, &[]);
    let summary = net.summary();
    assert_eq!(summary["resumed"], true);
    let web3 = web3_addr(&evm_entry(&summary));
    eventually(web3, "eth_blockNumber", json!([]), |v| quantity(v) >= head);
    let again = call(
        web3,
        "eth_getBlockByNumber",
        json!([format!("{head:#x}"), false]),
    )
    .unwrap();
    assert_eq!(again["hash"], block["hash"]);
    assert_eq!(again["transactions"], block["transactions"]);
    let logs_again = call(
        web3,
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "toBlock": format!("{head:#x}")}]),
    )
    .unwrap();
    assert_eq!(logs_again, logs);
    assert_eq!(
        call(web3, "eth_getTransactionReceipt", json!([some_tx])).unwrap(),
        receipt
    );
    assert!(net.terminate().success());
}

//! Oasis's own clients against atoll: `atoll localnet --single --paratimes
//! plain` started as a user starts it, then `@oasisprotocol/client` and
//! `@oasisprotocol/client-rt` from npm (`tests/oasis-clients`, installed from
//! its lockfile by `npm ci`), unchanged, over gRPC-web against the compute
//! node's Oasis gRPC API: the chain context and status, an account and nonce,
//! a consensus transfer built and signed by the SDK and submitted with
//! SubmitTx, a failed transfer and garbage whose errors carry Oasis's module
//! and code; then an allowance, a deposit into the plain ParaTime, a transfer
//! there and a withdrawal, signed by the runtime SDK client, with the
//! balances it queries. atoll's own JSON-RPC then shows the balances the SDK
//! saw.
//!
//! Every wait is bounded; no assertion depends on how fast this machine is.

use std::path::PathBuf;
use std::process::Command;

use crate::common::call;
use crate::process::Localnet;
use serde_json::{Value, json};

/// The npm project of the Oasis client tests.
fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oasis-clients")
}

#[test]
fn oasis_typescript_sdk_over_grpc_web() {
    let clients = clients_dir();
    assert!(
        clients.join("node_modules/@oasisprotocol/client").is_dir(),
        "the Oasis client tests need their npm packages: run `npm ci` in {} (`.ci/run` and \
         `cargo xtask test` do)",
        clients.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let mut net = Localnet::start(&dir, &["--single", "--paratimes", "plain"]);
    let summary = net.summary();
    // The compute node serves the runtime client as well as consensus.
    let node = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "compute-0")
        .unwrap_or_else(|| panic!("no compute-0 in {summary}"));
    let grpc = node["grpc_url"].as_str().unwrap().to_owned();
    let rpc = node["rpc_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let seed = summary["accounts"][0]["private_key"].as_str().unwrap();
    let to = summary["accounts"][1]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let runtime_id = summary["paratimes"][0]["id"].as_str().unwrap().to_owned();

    let out = Command::new("node")
        .current_dir(&clients)
        .args([
            "--test",
            "--test-concurrency=1",
            "--test-timeout=180000",
            "--test-force-exit",
            "--test-reporter=spec",
            "consensus.test.mjs",
            "runtime.test.mjs",
        ])
        .env("ATOLL_GRPC_WEB", &grpc)
        .env("ATOLL_RUNTIME_ID", &runtime_id)
        .env("ATOLL_DEV_SEED", seed)
        .env("ATOLL_TO", &to)
        .output()
        .expect("node (Node.js 18 or later) must be installed to run the client tests");
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the Oasis client tests failed:\n{report}"
    );

    // The balance the SDK read after its transfer is the one atoll's own
    // JSON-RPC answers.
    let result: Value = report
        .lines()
        .find_map(|l| l.split_once("ATOLL_RESULT ").map(|(_, j)| j))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no result line in:\n{report}"));
    let account = call(
        rpc,
        "consensus_query",
        json!(["staking.Account", {"address": to}]),
    )
    .unwrap();
    assert_eq!(
        account["general"]["balance"], result["to_balance"],
        "{account}"
    );
    let rt_result: Value = report
        .lines()
        .find_map(|l| l.split_once("ATOLL_RT_RESULT ").map(|(_, j)| j))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("no runtime result line in:\n{report}"));
    assert!(rt_result["to_rt_balance"].is_string(), "{rt_result}");
    assert!(net.terminate().success());
}

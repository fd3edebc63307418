//! The gateway over real sockets (HTTP and WebSocket on one port), against
//! the in-process runtime API of [`crate::fixture`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use atoll_state::TxError;
use atoll_web3::{Web3Config, Web3Server};
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};

use crate::fixture::{self, Chain, Entry, FakeRuntime};

const CONTRACT: [u8; 20] = [0xcc; 20];
const TOPIC: [u8; 32] = [0x01; 32];

fn addr_hex(a: &[u8]) -> String {
    format!("0x{}", hex::encode(a))
}

async fn start(rt: &FakeRuntime, dir: &std::path::Path, config: Web3Config) -> Web3Server {
    atoll_web3::serve(
        Arc::new(rt.clone()),
        fixture::runtime_id(),
        dir,
        "127.0.0.1:0".parse().unwrap(),
        config,
    )
    .await
    .unwrap()
}

fn client(addr: SocketAddr) -> HttpClient {
    HttpClientBuilder::default()
        .build(format!("http://{addr}"))
        .unwrap()
}

async fn call(
    c: &HttpClient,
    method: &str,
    params: Value,
) -> Result<Value, (i32, String, Option<String>)> {
    let mut p = jsonrpsee::core::params::ArrayParams::new();
    for v in params.as_array().cloned().unwrap_or_default() {
        p.insert(v).unwrap();
    }
    match c.request::<Value, _>(method, p).await {
        Ok(v) => Ok(v),
        Err(ClientError::Call(e)) => Err((
            e.code(),
            e.message().to_owned(),
            e.data().map(|d| d.get().to_owned()),
        )),
        Err(other) => panic!("{method}: {other}"),
    }
}

async fn ok(c: &HttpClient, method: &str, params: Value) -> Value {
    call(c, method, params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e:?}"))
}

async fn err(c: &HttpClient, method: &str, params: Value) -> (i32, String, Option<String>) {
    match call(c, method, params).await {
        Ok(v) => panic!("{method}: expected an error, got {v}"),
        Err(e) => e,
    }
}

/// Waits until the gateway has indexed block `n` (bounded).
async fn wait_block(c: &HttpClient, n: u64) {
    for _ in 0..2_000 {
        let b = ok(c, "eth_blockNumber", json!([])).await;
        if b.as_str() == Some(&format!("{n:#x}")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("block {n} was never indexed");
}

/// Round 1: a native transaction, a call with two logs, a failed call, a
/// creation. Round 2: empty. Round 3: another log from another contract.
fn rounds() -> Chain {
    let mut chain = Chain::new();
    chain.push(fixture::sample_round(CONTRACT, TOPIC));
    chain.push(Vec::new());
    chain.push(vec![Entry::ok(
        fixture::wrap_eth(&fixture::eip1559(6, Some([0xdd; 20]), fixture::CHAIN_ID)),
        atoll_types::cbor::Value::Bytes(Vec::new()),
        40_000,
        vec![fixture::log_event([0xdd; 20], &[TOPIC], b"three")],
    )]);
    chain
}

/// Balances, nonces, code, storage, calls and estimates at a past block
/// are asked of that block's round, however the block is named; the
/// latest tags ask for the latest state; a block after the head or a
/// round whose state the node lacks is refused.
#[tokio::test]
async fn state_queries_at_past_blocks() {
    let rt = FakeRuntime::default();
    let chain = rounds();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let c = client(server.local_addr());
    wait_block(&c, 3).await;
    rt.take_query_rounds();
    let who = addr_hex(&fixture::sender());
    let hash2 = ok(&c, "eth_getBlockByNumber", json!(["0x2", false])).await["hash"].clone();
    let hash1 = ok(&c, "eth_getBlockByNumber", json!(["0x1", false])).await["hash"].clone();
    let qty = |v: u128| format!("{v:#x}");

    // Block 2, by number, by hash, by EIP-1898 objects.
    for at in [
        json!("0x2"),
        json!(hash2),
        json!({ "blockNumber": "0x2" }),
        json!({ "blockHash": hash2 }),
        json!({ "blockHash": hash2, "requireCanonical": true }),
    ] {
        assert_eq!(
            ok(&c, "eth_getBalance", json!([who, at])).await,
            qty(fixture::past_balance(2)),
            "{at}"
        );
    }
    assert_eq!(rt.take_query_rounds(), vec![Some(2); 5]);
    // Each block its own state; the latest differs from both.
    assert_eq!(
        ok(&c, "eth_getBalance", json!([who, "0x1"])).await,
        qty(fixture::past_balance(1))
    );
    assert_eq!(
        ok(&c, "eth_getBalance", json!([who, "earliest"])).await,
        qty(fixture::past_balance(1))
    );
    assert_eq!(
        ok(&c, "eth_getBalance", json!([who, "latest"])).await,
        "0xde0b6b3a7640000"
    );
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, hash1])).await,
        qty(fixture::past_nonce(1).into())
    );
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, "0x2"])).await,
        qty(fixture::past_nonce(2).into())
    );
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, "pending"])).await,
        qty(fixture::STATE_NONCE.into())
    );
    assert_eq!(
        ok(&c, "eth_getCode", json!([addr_hex(&CONTRACT), "0x1"])).await,
        "0x"
    );
    assert_eq!(
        ok(&c, "eth_getCode", json!([addr_hex(&CONTRACT), "latest"])).await,
        "0x6080"
    );
    assert_eq!(
        ok(
            &c,
            "eth_getStorageAt",
            json!([addr_hex(&CONTRACT), "0x5", { "blockNumber": "0x1" }])
        )
        .await,
        format!("0x{}", hex::encode(fixture::past_slot(&[5], 1)))
    );
    let call = json!({ "from": who, "to": addr_hex(&CONTRACT), "data": "0x1234" });
    assert_eq!(ok(&c, "eth_call", json!([call, "0x2"])).await, "0x123402");
    assert_eq!(ok(&c, "eth_call", json!([call, "latest"])).await, "0x1234");
    assert_eq!(
        ok(&c, "eth_estimateGas", json!([call, "0x1"])).await,
        qty(21_001)
    );
    assert_eq!(
        rt.take_query_rounds()
            .into_iter()
            .filter(|r| r.is_some())
            .collect::<Vec<_>>(),
        vec![
            Some(1),
            Some(1),
            Some(1),
            Some(2),
            Some(1),
            Some(1),
            Some(2),
            Some(1)
        ]
    );
    // The head by number is the head's round (the same state as latest).
    assert_eq!(
        ok(&c, "eth_getBalance", json!([who, "0x3"])).await,
        "0xde0b6b3a7640000"
    );
    assert_eq!(rt.take_query_rounds(), vec![Some(3)]);

    // After the head, or an unknown hash: not found, and nothing asked.
    for at in [
        json!("0x4"),
        json!({ "blockNumber": "0x9" }),
        json!({ "blockHash": addr_hex(&[7; 32]) }),
    ] {
        let (code, msg, _) = err(&c, "eth_getBalance", json!([who, at])).await;
        assert_eq!((code, msg.as_str()), (-32000, "header not found"), "{at}");
    }
    assert_eq!(rt.take_query_rounds(), Vec::<Option<u64>>::new());

    // A round whose state the node does not hold.
    rt.state_from(2);
    let (code, msg, _) = err(&c, "eth_getBalance", json!([who, "0x1"])).await;
    assert_eq!(code, -32000);
    assert_eq!(
        msg,
        "historical state is not available for block 1: the state of round 1 is not \
         available on this node (its state starts at round 2)"
    );
    let (_, msg, _) = err(&c, "eth_call", json!([call, "earliest"])).await;
    assert!(
        msg.starts_with("historical state is not available for block 1"),
        "{msg}"
    );
    assert_eq!(
        ok(&c, "eth_getBalance", json!([who, "0x2"])).await,
        qty(fixture::past_balance(2))
    );
    server.stop().await;
}

#[tokio::test]
async fn blocks_transactions_receipts_and_logs() {
    let rt = FakeRuntime::default();
    let chain = rounds();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let c = client(server.local_addr());
    wait_block(&c, 3).await;

    assert_eq!(ok(&c, "eth_chainId", json!([])).await, "0x2a");
    assert_eq!(ok(&c, "net_version", json!([])).await, "42");
    assert!(
        ok(&c, "web3_clientVersion", json!([]))
            .await
            .as_str()
            .unwrap()
            .starts_with("atoll/")
    );
    assert_eq!(ok(&c, "eth_syncing", json!([])).await, json!(false));
    assert_eq!(ok(&c, "eth_accounts", json!([])).await, json!([]));
    assert_eq!(ok(&c, "net_listening", json!([])).await, json!(true));
    assert_eq!(
        ok(&c, "web3_sha3", json!(["0x"])).await,
        "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    );

    // Blocks.
    let b1 = ok(&c, "eth_getBlockByNumber", json!(["0x1", false])).await;
    let hash1 = chain.records[0].header.hash();
    assert_eq!(b1["hash"], addr_hex(&hash1.0));
    assert_eq!(b1["number"], "0x1");
    assert_eq!(b1["transactions"].as_array().unwrap().len(), 3);
    assert_eq!(b1["baseFeePerGas"], "0x64");
    assert_eq!(b1["gasLimit"], "0x989680");
    let by_hash = ok(&c, "eth_getBlockByHash", json!([addr_hex(&hash1.0), true])).await;
    assert_eq!(by_hash["transactions"][0]["hash"], b1["transactions"][0]);
    assert_eq!(
        by_hash["transactions"][0]["from"],
        addr_hex(&fixture::sender())
    );
    let latest = ok(&c, "eth_getBlockByNumber", json!(["latest", false])).await;
    assert_eq!(latest["number"], "0x3");
    assert_eq!(
        latest["parentHash"],
        addr_hex(&chain.records[1].header.hash().0)
    );
    for tag in ["pending", "safe", "finalized"] {
        assert_eq!(
            ok(&c, "eth_getBlockByNumber", json!([tag, false])).await["number"],
            "0x3"
        );
    }
    assert_eq!(
        ok(&c, "eth_getBlockByNumber", json!(["earliest", false])).await["number"],
        "0x1"
    );
    assert_eq!(
        ok(&c, "eth_getBlockByNumber", json!(["0x9", false])).await,
        json!(null)
    );
    assert_eq!(
        ok(&c, "eth_getBlockByHash", json!([addr_hex(&[7; 32]), false])).await,
        json!(null)
    );
    assert_eq!(
        ok(&c, "eth_getBlockTransactionCountByNumber", json!(["0x1"])).await,
        "0x3"
    );
    assert_eq!(
        ok(&c, "eth_getBlockTransactionCountByNumber", json!(["0x2"])).await,
        "0x0"
    );
    assert_eq!(
        ok(
            &c,
            "eth_getBlockTransactionCountByHash",
            json!([addr_hex(&hash1.0)])
        )
        .await,
        "0x3"
    );

    // Transactions and receipts.
    let call_hash = b1["transactions"][0].clone();
    let create_hash = b1["transactions"][2].clone();
    let t = ok(&c, "eth_getTransactionByHash", json!([call_hash])).await;
    assert_eq!(t["blockHash"], b1["hash"]);
    assert_eq!(t["to"], addr_hex(&CONTRACT));
    assert_eq!(t["type"], "0x2");
    let r = ok(&c, "eth_getTransactionReceipt", json!([call_hash])).await;
    assert_eq!(r["status"], "0x1");
    assert_eq!(r["logs"].as_array().unwrap().len(), 2);
    assert_eq!(r["logs"][0]["blockHash"], b1["hash"]);
    let r = ok(&c, "eth_getTransactionReceipt", json!([create_hash])).await;
    assert_eq!(r["contractAddress"], addr_hex(&[0xee; 20]));
    assert_eq!(r["transactionIndex"], "0x2");
    assert_eq!(r["cumulativeGasUsed"], format!("{:#x}", 105_000));
    assert_eq!(
        ok(&c, "eth_getTransactionReceipt", json!([addr_hex(&[3; 32])])).await,
        json!(null)
    );
    let t = ok(
        &c,
        "eth_getTransactionByBlockNumberAndIndex",
        json!(["0x1", "0x1"]),
    )
    .await;
    assert_eq!(t["hash"], b1["transactions"][1]);
    let t = ok(
        &c,
        "eth_getTransactionByBlockHashAndIndex",
        json!([addr_hex(&hash1.0), "0x2"]),
    )
    .await;
    assert_eq!(t["hash"], create_hash);
    assert_eq!(
        ok(
            &c,
            "eth_getTransactionByBlockNumberAndIndex",
            json!(["0x1", "0x9"])
        )
        .await,
        json!(null)
    );
    let receipts = ok(&c, "eth_getBlockReceipts", json!(["0x1"])).await;
    assert_eq!(receipts.as_array().unwrap().len(), 3);
    assert_eq!(receipts[1]["status"], "0x0");

    // Logs.
    let all = ok(
        &c,
        "eth_getLogs",
        json!([{ "fromBlock": "0x1", "toBlock": "latest" }]),
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(all[2]["logIndex"], "0x0");
    assert_eq!(all[2]["blockNumber"], "0x3");
    let by_addr = ok(
        &c,
        "eth_getLogs",
        json!([{ "fromBlock": "earliest", "address": addr_hex(&[0xdd; 20]) }]),
    )
    .await;
    assert_eq!(by_addr.as_array().unwrap().len(), 1);
    let by_topic = ok(
        &c,
        "eth_getLogs",
        json!([{ "fromBlock": "0x1", "topics": [null, addr_hex(&[0x02; 32])] }]),
    )
    .await;
    assert_eq!(by_topic.as_array().unwrap().len(), 1);
    assert_eq!(by_topic[0]["logIndex"], "0x1");
    let by_block_hash = ok(
        &c,
        "eth_getLogs",
        json!([{ "blockHash": addr_hex(&hash1.0) }]),
    )
    .await;
    assert_eq!(by_block_hash.as_array().unwrap().len(), 2);
    let latest_only = ok(&c, "eth_getLogs", json!([{}])).await;
    assert_eq!(latest_only.as_array().unwrap().len(), 1);
    let (code, _, _) = err(
        &c,
        "eth_getLogs",
        json!([{ "blockHash": addr_hex(&hash1.0), "fromBlock": "0x1" }]),
    )
    .await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(
        &c,
        "eth_getLogs",
        json!([{ "fromBlock": "0x3", "toBlock": "0x1" }]),
    )
    .await;
    assert_eq!(code, -32602);

    // Fee history over the indexed blocks.
    let fh = ok(&c, "eth_feeHistory", json!(["0x3", "latest", [50]])).await;
    assert_eq!(fh["oldestBlock"], "0x1");
    assert_eq!(fh["baseFeePerGas"].as_array().unwrap().len(), 4);
    assert_eq!(fh["gasUsedRatio"].as_array().unwrap().len(), 3);
    assert_eq!(fh["reward"].as_array().unwrap().len(), 3);
    assert_eq!(fh["reward"][1], json!(["0x0"]));
    assert_eq!(fh["reward"][2], json!(["0x7"]));
    let fh = ok(&c, "eth_feeHistory", json!([2, "0x2"])).await;
    assert_eq!(fh["oldestBlock"], "0x1");
    assert!(fh.get("reward").is_none());
    assert_eq!(ok(&c, "eth_gasPrice", json!([])).await, "0x64");
    assert_eq!(ok(&c, "eth_maxPriorityFeePerGas", json!([])).await, "0x0");

    server.stop().await;
}

/// A transaction this gateway did not submit (gossiped to the node) is
/// indexed with the sender the node's runtime check found, when the node
/// remembers it, and recovered otherwise.
#[tokio::test]
async fn the_indexer_takes_senders_from_the_nodes_checks() {
    let rt = FakeRuntime::default();
    let checked = fixture::wrap_eth(&fixture::eip1559(0, Some(CONTRACT), fixture::CHAIN_ID));
    let unknown = fixture::wrap_eth(&fixture::eip1559(1, Some(CONTRACT), fixture::CHAIN_ID));
    // A sender no recovery of these bytes would give: only the check's
    // answer can put it in the index.
    let reported = [0x55; 20];
    rt.checked_sender(&checked, reported);
    let mut chain = Chain::new();
    let empty = atoll_types::cbor::Value::Bytes(Vec::new());
    chain.push(vec![
        Entry::ok(checked, empty.clone(), 21_000, vec![]),
        Entry::ok(unknown, empty, 21_000, vec![]),
    ]);
    rt.finalize(chain.records[0].clone());
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let c = client(server.local_addr());
    wait_block(&c, 1).await;
    let b1 = ok(&c, "eth_getBlockByNumber", json!(["0x1", true])).await;
    assert_eq!(b1["transactions"][0]["from"], addr_hex(&reported));
    assert_eq!(
        b1["transactions"][1]["from"],
        addr_hex(&fixture::sender()),
        "recovered when the node does not remember it"
    );
    server.stop().await;
}

#[tokio::test]
async fn state_queries_calls_and_submissions() {
    let rt = FakeRuntime::default();
    let chain = rounds();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let c = client(server.local_addr());
    wait_block(&c, 3).await;
    let who = addr_hex(&fixture::sender());

    assert_eq!(
        ok(&c, "eth_getBalance", json!([who, "latest"])).await,
        "0xde0b6b3a7640000"
    );
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, "latest"])).await,
        "0x3"
    );
    assert_eq!(ok(&c, "eth_getTransactionCount", json!([who])).await, "0x3");
    assert_eq!(
        ok(&c, "eth_getCode", json!([addr_hex(&CONTRACT), "0x3"])).await,
        "0x6080"
    );
    assert_eq!(
        ok(
            &c,
            "eth_getCode",
            json!([addr_hex(&CONTRACT), { "blockNumber": "0x3" }])
        )
        .await,
        "0x6080"
    );
    assert_eq!(
        ok(
            &c,
            "eth_getStorageAt",
            json!([addr_hex(&CONTRACT), "0x5", "latest"])
        )
        .await,
        format!("0x{}05", "00".repeat(31))
    );
    // A block after the last indexed one is not found (as geth says).
    let (_, msg, _) = err(&c, "eth_getBalance", json!([who, "0x7"])).await;
    assert_eq!(msg, "header not found");
    let (_, msg, _) = err(
        &c,
        "eth_getBalance",
        json!([who, { "blockHash": addr_hex(&[1; 32]) }]),
    )
    .await;
    assert_eq!(msg, "header not found");

    // eth_call: output, and a revert with its reason and data.
    let out = ok(
        &c,
        "eth_call",
        json!([{ "to": addr_hex(&CONTRACT), "data": "0x1234" }, "latest"]),
    )
    .await;
    assert_eq!(out, "0x1234");
    let (code, msg, data) = err(
        &c,
        "eth_call",
        json!([{ "from": who, "to": addr_hex(&CONTRACT), "input": "0xdead" }]),
    )
    .await;
    assert_eq!(code, 3);
    assert_eq!(msg, "execution reverted: nope");
    assert_eq!(
        data.unwrap(),
        format!("\"0x{}\"", hex::encode(fixture::error_string("nope")))
    );
    let (code, _, _) = err(
        &c,
        "eth_call",
        json!([{ "to": addr_hex(&CONTRACT), "data": "0x", "chainId": "0x1" }]),
    )
    .await;
    assert_eq!(code, -32000);
    assert_eq!(
        ok(
            &c,
            "eth_estimateGas",
            json!([{ "from": who, "to": addr_hex(&CONTRACT) }])
        )
        .await,
        "0x5208"
    );
    let (code, msg, _) = err(
        &c,
        "eth_estimateGas",
        json!([{ "to": addr_hex(&CONTRACT), "data": "0xdead" }]),
    )
    .await;
    assert_eq!((code, msg.as_str()), (3, "execution reverted"));

    // Submission: the wrapped raw transaction reaches the runtime; the
    // answer is the Keccak hash; pending counts include it.
    let raw = fixture::eip1559(3, Some(CONTRACT), fixture::CHAIN_ID);
    let hash = ok(&c, "eth_sendRawTransaction", json!([addr_hex(&raw)])).await;
    assert_eq!(hash, addr_hex(&atoll_crypto::keccak256(&raw)));
    assert_eq!(rt.submitted(), vec![fixture::wrap_eth(&raw)]);
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, "pending"])).await,
        "0x4"
    );
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, "latest"])).await,
        "0x3"
    );
    // The sender comes from the runtime's check when it reports one: the
    // gateway does not recover it again (a runtime reporting another
    // account shows which one the gateway used).
    let other = [0x77; 20];
    rt.report_sender(other);
    let next = fixture::eip1559(4, Some(CONTRACT), fixture::CHAIN_ID);
    ok(&c, "eth_sendRawTransaction", json!([addr_hex(&next)])).await;
    assert_eq!(
        ok(
            &c,
            "eth_getTransactionCount",
            json!([addr_hex(&other), "pending"])
        )
        .await,
        "0x5"
    );
    assert_eq!(
        ok(&c, "eth_getTransactionCount", json!([who, "pending"])).await,
        "0x4"
    );

    // Refusals in geth's words.
    let (code, msg, _) = err(&c, "eth_sendRawTransaction", json!(["0x02c0"])).await;
    assert_eq!(code, -32000);
    assert!(msg.starts_with("invalid transaction"), "{msg}");
    let (code, _, _) = err(&c, "eth_sendRawTransaction", json!(["0xzz"])).await;
    assert_eq!(code, -32602);
    let wrong_chain = fixture::eip1559(3, Some(CONTRACT), 7);
    let (_, msg, _) = err(
        &c,
        "eth_sendRawTransaction",
        json!([addr_hex(&wrong_chain)]),
    )
    .await;
    assert!(msg.starts_with("invalid chain id"), "{msg}");
    rt.refuse_next(TxError::new("core", 4, "invalid nonce"));
    let low = fixture::eip1559(1, Some(CONTRACT), fixture::CHAIN_ID);
    let (code, msg, data) = err(&c, "eth_sendRawTransaction", json!([addr_hex(&low)])).await;
    assert_eq!((code, msg.as_str()), (-32000, "nonce too low"));
    assert!(data.unwrap().contains("invalid nonce"));
    rt.refuse_next(TxError::new("core", 4, "invalid nonce"));
    let high = fixture::eip1559(90, Some(CONTRACT), fixture::CHAIN_ID);
    let (_, msg, _) = err(&c, "eth_sendRawTransaction", json!([addr_hex(&high)])).await;
    assert_eq!(msg, "nonce too high");
    rt.refuse_next(TxError::new("core", 5, "insufficient balance to pay fees"));
    let (_, msg, _) = err(&c, "eth_sendRawTransaction", json!([addr_hex(&raw)])).await;
    assert_eq!(msg, "insufficient funds for gas * price + value");
    assert_eq!(rt.submitted().len(), 2, "refused ones are not pooled");

    server.stop().await;
}

/// The calls of a JSON-RPC batch run concurrently (`batch.rs`), but the
/// answers keep the request's order, refusals included.
#[tokio::test]
async fn batched_submissions_answer_in_order() {
    let rt = FakeRuntime::default();
    rt.finalize(rounds().records[0].clone());
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let c = client(server.local_addr());
    wait_block(&c, 1).await;

    let good: Vec<Vec<u8>> = (10..14)
        .map(|n| fixture::eip1559(n, Some(CONTRACT), fixture::CHAIN_ID))
        .collect();
    let wrong_chain = fixture::eip1559(14, Some(CONTRACT), 7);
    let sent = [
        addr_hex(&good[0]),
        "0x02c0".to_owned(),
        addr_hex(&good[1]),
        addr_hex(&wrong_chain),
        addr_hex(&good[2]),
        addr_hex(&good[3]),
    ];
    let mut batch = jsonrpsee::core::params::BatchRequestBuilder::new();
    for raw in &sent {
        batch
            .insert("eth_sendRawTransaction", rpc_params![raw])
            .unwrap();
    }
    let answers: Vec<Result<String, String>> = c
        .batch_request::<String>(batch)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.map_err(|e| e.message().to_owned()))
        .collect();
    let hash = |raw: &[u8]| Ok(addr_hex(&atoll_crypto::keccak256(raw)));
    assert_eq!(answers.len(), sent.len());
    assert_eq!(answers[0], hash(&good[0]));
    assert!(
        answers[1]
            .as_ref()
            .is_err_and(|m| m.starts_with("invalid transaction")),
        "{:?}",
        answers[1]
    );
    assert_eq!(answers[2], hash(&good[1]));
    assert!(
        answers[3]
            .as_ref()
            .is_err_and(|m| m.starts_with("invalid chain id")),
        "{:?}",
        answers[3]
    );
    assert_eq!(answers[4], hash(&good[2]));
    assert_eq!(answers[5], hash(&good[3]));
    // Every accepted one reached the runtime, the refused ones did not.
    let mut submitted = rt.submitted();
    submitted.sort();
    let mut want: Vec<Vec<u8>> = good.iter().map(|r| fixture::wrap_eth(r)).collect();
    want.sort();
    assert_eq!(submitted, want);
    server.stop().await;
}

#[tokio::test]
async fn filters_subscriptions_and_restart() {
    let rt = FakeRuntime::default();
    let mut chain = rounds();
    rt.finalize(chain.records[0].clone());
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let addr = server.local_addr();
    let c = client(addr);
    wait_block(&c, 1).await;

    // Installed filters, as ethers v6 polls them.
    let blocks = ok(&c, "eth_newBlockFilter", json!([])).await;
    let logs = ok(
        &c,
        "eth_newFilter",
        json!([{ "topics": [addr_hex(&TOPIC)] }]),
    )
    .await;
    let pending = ok(&c, "eth_newPendingTransactionFilter", json!([])).await;
    assert_eq!(
        ok(&c, "eth_getFilterChanges", json!([blocks])).await,
        json!([])
    );

    // Subscriptions over WebSocket, on the same port.
    let ws = WsClientBuilder::default()
        .build(format!("ws://{addr}"))
        .await
        .unwrap();
    let mut heads = ws
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
        .await
        .unwrap();
    let mut log_sub = ws
        .subscribe::<Value, _>(
            "eth_subscribe",
            rpc_params!["logs", json!({ "address": [addr_hex(&[0xdd; 20])] })],
            "eth_unsubscribe",
        )
        .await
        .unwrap();
    let bad = ws
        .subscribe::<Value, _>("eth_subscribe", rpc_params!["bogus"], "eth_unsubscribe")
        .await;
    assert!(bad.is_err());

    rt.finalize(chain.records[1].clone());
    rt.finalize(chain.records[2].clone());
    wait_block(&c, 3).await;

    let h2 = heads.next().await.unwrap().unwrap();
    let h3 = heads.next().await.unwrap().unwrap();
    assert_eq!(h2["number"], "0x2");
    assert_eq!(h3["number"], "0x3");
    assert_eq!(h3["parentHash"], h2["hash"]);
    assert!(h3.get("transactions").is_none());
    let l = log_sub.next().await.unwrap().unwrap();
    assert_eq!(l["address"], addr_hex(&[0xdd; 20]));
    assert_eq!(l["blockNumber"], "0x3");

    let changes = ok(&c, "eth_getFilterChanges", json!([blocks])).await;
    assert_eq!(changes, json!([h2["hash"], h3["hash"]]));
    assert_eq!(
        ok(&c, "eth_getFilterChanges", json!([blocks])).await,
        json!([])
    );
    let changes = ok(&c, "eth_getFilterChanges", json!([logs])).await;
    assert_eq!(changes.as_array().unwrap().len(), 1);
    assert_eq!(changes[0]["data"], addr_hex(b"three"));
    assert_eq!(
        ok(&c, "eth_getFilterChanges", json!([pending])).await,
        json!([])
    );
    assert_eq!(
        ok(&c, "eth_uninstallFilter", json!([blocks])).await,
        json!(true)
    );
    assert_eq!(
        ok(&c, "eth_uninstallFilter", json!([blocks])).await,
        json!(false)
    );
    let (code, msg, _) = err(&c, "eth_getFilterChanges", json!([blocks])).await;
    assert_eq!((code, msg.as_str()), (-32000, "filter not found"));
    let range = ok(
        &c,
        "eth_newFilter",
        json!([{ "fromBlock": "0x1", "toBlock": "0x1" }]),
    )
    .await;
    assert_eq!(
        ok(&c, "eth_getFilterLogs", json!([range]))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Restart: the index is kept, and indexing continues after it.
    drop(heads);
    drop(log_sub);
    drop(ws);
    server.stop().await;
    let next = chain.push(Vec::new());
    rt.finalize(next);
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let c = client(server.local_addr());
    wait_block(&c, 4).await;
    let b4 = ok(&c, "eth_getBlockByNumber", json!(["0x4", false])).await;
    assert_eq!(b4["parentHash"], h3["hash"]);
    assert_eq!(
        ok(
            &c,
            "eth_getLogs",
            json!([{ "fromBlock": "0x1", "toBlock": "0x4" }])
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        3
    );
    server.stop().await;
}

// Multi-threaded: the raw HTTP requests block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_malformed_requests() {
    let rt = FakeRuntime::default();
    let chain = rounds();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Web3Config {
        max_log_rounds: 2,
        max_filters: 1,
        ..Web3Config::default()
    };
    let server = start(&rt, dir.path(), config).await;
    let addr = server.local_addr();
    let c = client(addr);
    wait_block(&c, 3).await;

    let (code, msg, _) = err(
        &c,
        "eth_getLogs",
        json!([{ "fromBlock": "0x1", "toBlock": "0x3" }]),
    )
    .await;
    assert_eq!(code, -32005);
    assert!(msg.contains("at most 2 blocks"), "{msg}");
    assert_eq!(
        ok(
            &c,
            "eth_getLogs",
            json!([{ "fromBlock": "0x2", "toBlock": "0x3" }])
        )
        .await
        .as_array()
        .unwrap()
        .len(),
        1
    );
    ok(&c, "eth_newBlockFilter", json!([])).await;
    let (code, _, _) = err(&c, "eth_newBlockFilter", json!([])).await;
    assert_eq!(code, -32005);

    // Bad parameters.
    let (code, _, _) = err(&c, "eth_getBalance", json!(["0x1234", "latest"])).await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(&c, "eth_getBlockByNumber", json!(["tomorrow", false])).await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(&c, "eth_getBlockByNumber", json!([])).await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(&c, "eth_chainId", json!([1])).await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(&c, "eth_getLogs", json!([{ "bogus": 1 }])).await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(&c, "eth_getFilterChanges", json!(["not hex"])).await;
    assert_eq!(code, -32602);
    let (code, _, _) = err(&c, "eth_nonexistent", json!([])).await;
    assert_eq!(code, -32601);

    // Malformed JSON over plain HTTP.
    let answer = raw_post(addr, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":");
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["error"]["code"], -32700);
    // A batch works.
    let answer = raw_post(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}]"#,
    );
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    server.stop().await;
}

/// POSTs `body` and returns the response body.
fn raw_post(addr: SocketAddr, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

/// An HTTP exchange on a fresh connection: (status code, headers with
/// lower-case names, body).
fn raw_http(
    addr: SocketAddr,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

const CHAIN_ID_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;

/// A browser's preflight for a JSON POST from `origin`, then the POST.
async fn preflight_and_post(
    addr: SocketAddr,
    origin: &'static str,
) -> (
    (u16, Vec<(String, String)>, String),
    (u16, Vec<(String, String)>, String),
) {
    tokio::task::spawn_blocking(move || {
        let pre = raw_http(
            addr,
            "OPTIONS",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            "",
        );
        let post = raw_http(addr, "POST", &[("Origin", origin)], CHAIN_ID_CALL);
        (pre, post)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_lets_allowed_browser_origins_call() {
    let rt = FakeRuntime::default();
    let chain_id = format!("\"result\":\"{:#x}\"", fixture::CHAIN_ID);

    // Any origin.
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &rt,
        dir.path(),
        Web3Config {
            cors: vec!["*".into()],
            ..Web3Config::default()
        },
    )
    .await;
    let ((status, h, _), (post_status, post_h, body)) =
        preflight_and_post(server.local_addr(), "https://dapp.example").await;
    assert!((200..300).contains(&status), "preflight: {status} {h:?}");
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    let methods = header(&h, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = header(&h, "access-control-allow-headers").unwrap();
    assert!(
        allowed == "*" || allowed.contains("content-type"),
        "{allowed}"
    );
    assert_eq!(header(&h, "access-control-max-age"), Some("600"));
    assert_eq!(post_status, 200);
    assert_eq!(header(&post_h, "access-control-allow-origin"), Some("*"));
    assert!(body.contains(&chain_id), "{body}");
    server.stop().await;

    // A list of origins: only those get the header.
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        &rt,
        dir.path(),
        Web3Config {
            cors: vec![
                "https://good.example".into(),
                "http://localhost:3000".into(),
            ],
            ..Web3Config::default()
        },
    )
    .await;
    let addr = server.local_addr();
    let ((status, h, _), (_, post_h, body)) =
        preflight_and_post(addr, "http://localhost:3000").await;
    assert!((200..300).contains(&status), "preflight: {status} {h:?}");
    assert_eq!(
        header(&h, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        header(&post_h, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert!(body.contains(&chain_id), "{body}");
    let ((_, h, _), (_, post_h, _)) = preflight_and_post(addr, "https://evil.example").await;
    assert_eq!(header(&h, "access-control-allow-origin"), None, "{h:?}");
    assert_eq!(header(&post_h, "access-control-allow-origin"), None);
    server.stop().await;

    // None configured (the default): no CORS headers at all, as geth.
    let dir = tempfile::tempdir().unwrap();
    let server = start(&rt, dir.path(), Web3Config::default()).await;
    let ((_, h, _), (post_status, post_h, body)) =
        preflight_and_post(server.local_addr(), "https://dapp.example").await;
    assert!(
        !h.iter().any(|(k, _)| k.starts_with("access-control-")),
        "{h:?}"
    );
    assert_eq!(post_status, 200);
    assert!(
        !post_h.iter().any(|(k, _)| k.starts_with("access-control-")),
        "{post_h:?}"
    );
    assert!(body.contains(&chain_id), "{body}");
    server.stop().await;

    // A malformed origin is refused at start.
    let dir = tempfile::tempdir().unwrap();
    let refused = atoll_web3::serve(
        Arc::new(rt.clone()),
        fixture::runtime_id(),
        dir.path(),
        "127.0.0.1:0".parse().unwrap(),
        Web3Config {
            cors: vec!["good.example".into()],
            ..Web3Config::default()
        },
    )
    .await;
    assert!(
        matches!(refused, Err(atoll_web3::ServeError::Cors(_))),
        "{refused:?}"
    );
}

#[test]
fn cors_origins_are_checked() {
    for ok in [
        "*",
        "http://localhost:3000",
        "https://app.example",
        "http://127.0.0.1:8080",
        "http://[::1]:8545",
    ] {
        assert_eq!(atoll_web3::check_cors_origin(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "app.example",
        "ftp://app.example",
        "https://",
        "https://app.example/",
        "https://app.example/path",
        "https://a b",
    ] {
        assert!(atoll_web3::check_cors_origin(bad).is_err(), "{bad}");
    }
}

/// geth's limits: a batch of more calls than the limit runs none of them
/// and gets one `batch too large` error (-32600) with the first call's id;
/// answers past the response size limit are `response too large` (-32003)
/// with their own ids, and later calls are not run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_have_geths_limits() {
    let rt = FakeRuntime::default();
    let chain = rounds();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let config = Web3Config {
        max_batch_calls: 5,
        max_response_bytes: 4_000,
        ..Web3Config::default()
    };
    let server = start(&rt, dir.path(), config).await;
    let addr = server.local_addr();
    let c = client(addr);
    wait_block(&c, 3).await;
    let batch = |n: usize, method: &str, params: &str| {
        let calls: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"jsonrpc":"2.0","id":{},"method":"{method}","params":{params}}}"#,
                    i + 10
                )
            })
            .collect();
        format!("[{}]", calls.join(","))
    };
    // At the limit: answered.
    let v: Value = serde_json::from_str(&raw_post(addr, &batch(5, "eth_chainId", "[]"))).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    // One more: one error object, the first call's id, nothing run.
    let before = rt.submitted().len();
    let raw = fixture::eip1559(9, Some([0xee; 20]), fixture::CHAIN_ID);
    let v: Value = serde_json::from_str(&raw_post(
        addr,
        &batch(
            6,
            "eth_sendRawTransaction",
            &format!(r#"["{}"]"#, addr_hex(&raw)),
        ),
    ))
    .unwrap();
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert_eq!(v["error"]["message"], "batch too large", "{v}");
    assert_eq!(v["id"], 10, "{v}");
    assert_eq!(rt.submitted().len(), before, "no call of the batch ran");
    // Full blocks of about 1.5 KB each: the answers past 4000 bytes are
    // replaced, each with its id.
    let v: Value = serde_json::from_str(&raw_post(
        addr,
        &batch(5, "eth_getBlockByNumber", r#"["0x1", true]"#),
    ))
    .unwrap();
    let answers = v.as_array().unwrap();
    assert_eq!(answers.len(), 5, "{v}");
    let too_large: Vec<&Value> = answers
        .iter()
        .filter(|a| a["error"]["code"] == -32003)
        .collect();
    assert!(!too_large.is_empty(), "{v}");
    assert!(answers[0]["result"].is_object(), "{v}");
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a["id"], 10 + i, "{a}");
        if a.get("error").is_some() {
            assert_eq!(a["error"]["message"], "response too large");
        }
    }
    // Once one is replaced, every later one is too.
    let first_bad = answers
        .iter()
        .position(|a| a.get("error").is_some())
        .unwrap();
    assert!(
        answers[first_bad..]
            .iter()
            .all(|a| a.get("error").is_some())
    );
    server.stop().await;
}

/// Pre-EIP-155 transactions (no chain id: valid on every chain) are refused
/// as geth refuses them, unless the gateway allows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprotected_transactions_are_refused_unless_allowed() {
    let unprotected = atoll_evm::tx::sign_legacy(
        &atoll_evm::tx::LegacyTx {
            chain_id: None,
            nonce: 0,
            gas_price: atoll_evm::tx::U256::from(150u64),
            gas_limit: 60_000,
            to: Some(atoll_crypto::secp256k1::EthAddress([0xee; 20])),
            value: atoll_evm::tx::U256::ZERO,
            input: Vec::new(),
        },
        &[0x11; 32],
    )
    .unwrap();
    for allow in [false, true] {
        let rt = FakeRuntime::default();
        let chain = rounds();
        for r in &chain.records {
            rt.finalize(r.clone());
        }
        let dir = tempfile::tempdir().unwrap();
        let config = Web3Config {
            allow_unprotected_txs: allow,
            ..Web3Config::default()
        };
        let server = start(&rt, dir.path(), config).await;
        let c = client(server.local_addr());
        wait_block(&c, 3).await;
        let got = call(
            &c,
            "eth_sendRawTransaction",
            json!([addr_hex(&unprotected)]),
        )
        .await;
        if allow {
            assert!(got.is_ok(), "{got:?}");
            assert_eq!(rt.submitted().len(), 1);
        } else {
            let (code, msg, _) = got.unwrap_err();
            assert_eq!(code, -32000);
            assert_eq!(
                msg,
                "only replay-protected (EIP-155) transactions allowed over RPC"
            );
            assert!(rt.submitted().is_empty(), "nothing reached the runtime");
        }
        assert!(atoll_web3::backend::is_unprotected_ethereum_tx(
            &fixture::wrap_eth(&unprotected)
        ));
        assert!(!atoll_web3::backend::is_unprotected_ethereum_tx(
            &fixture::wrap_eth(&fixture::legacy(0, None))
        ));
        server.stop().await;
    }
}

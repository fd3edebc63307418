//! The API over real loopback sockets, against an in-process node built from
//! the real parts: the consensus app, MKVS state and the mempool. Blocks are
//! produced on demand here; the BFT engine produces them in a real node.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test binary"
)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use atoll_consensus::app::{App, Block, BlockResult};
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::staking::{Account, Transfer, methods};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_mempool::{Limits, Mempool, MempoolError};
use atoll_mkvs::Mkvs;
use atoll_mkvs::state_store::{MkvsStore, MkvsView};
use atoll_rpc::{
    ApiError, BlockNotification, BlockView, NodeApi, NodeStatus, RpcConfig, TxView, serve,
};
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use base64::Engine as _;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use tokio::sync::broadcast;

struct DevNode {
    app: App,
    genesis: Genesis,
    db: Mkvs,
    inner: Mutex<Inner>,
    blocks_tx: broadcast::Sender<Arc<BlockNotification>>,
}

struct Inner {
    mempool: Mempool,
    blocks: Vec<(BlockView, BlockResult)>,
    bodies: Vec<Block>,
}

impl DevNode {
    fn new(keys: &[SigningKey]) -> Arc<Self> {
        let mut genesis = Genesis {
            chain_id: "rpc-test".into(),
            debug: true,
            ..Genesis::default()
        };
        genesis.beacon.interval = 1000;
        for k in keys {
            let mut a = Account::default();
            a.general.balance = Quantity(1_000_000);
            genesis
                .staking
                .ledger
                .insert(Address::from_ed25519(&k.public_key()), a);
        }
        genesis.staking.total_supply = Quantity(1_000_000 * keys.len() as u128);
        let app = App::new(&genesis).unwrap();
        let db = Mkvs::in_memory();
        let mut s = MkvsStore::open(&db).unwrap();
        app.init_chain(&mut s, &genesis).unwrap();
        s.commit(0).unwrap();
        Arc::new(Self {
            app,
            genesis,
            db,
            inner: Mutex::new(Inner {
                mempool: Mempool::new(Limits::default()),
                blocks: Vec::new(),
                bodies: Vec::new(),
            }),
            blocks_tx: broadcast::channel(64).0,
        })
    }

    fn latest(&self) -> u64 {
        self.inner.lock().unwrap().blocks.len() as u64
    }

    /// Proposes and commits the next block from the mempool.
    fn produce(&self) -> u64 {
        let mut inner = self.inner.lock().unwrap();
        let height = inner.blocks.len() as u64 + 1;
        let view = MkvsView::at(&self.db, height - 1).unwrap();
        let txs = inner.mempool.select(1 << 20, 0, |a| {
            let mut v = MkvsView::at(&self.db, height - 1).unwrap();
            atoll_consensus::services::staking::state::StakingState::new(&mut v)
                .account(a)
                .unwrap()
                .general
                .nonce
        });
        drop(view);
        let block = Block {
            height,
            time: 1_700_000_000 + height,
            txs: txs.into_iter().map(serde_bytes::ByteBuf::from).collect(),
            ..Block::default()
        };
        let mut state = MkvsStore::open(&self.db).unwrap();
        let results = self.app.apply_block(&mut state, &block).unwrap();
        let root = state.commit(height).unwrap();
        let view = BlockView {
            height,
            time: block.time,
            hash: Hash::digest(&cbor::to_vec(&block).unwrap()),
            state_root: root,
            proposer: None,
            transactions: results.tx_results.iter().map(|r| r.hash).collect(),
        };
        inner.blocks.push((view.clone(), results.clone()));
        inner.bodies.push(block.clone());
        let after = MkvsView::at(&self.db, height).unwrap();
        inner.mempool.recheck(&self.app, &after);
        let _ = self.blocks_tx.send(Arc::new(BlockNotification {
            block: view,
            results,
        }));
        height
    }
}

impl NodeApi for DevNode {
    fn status(&self) -> NodeStatus {
        let inner = self.inner.lock().unwrap();
        NodeStatus {
            version: "test".into(),
            chain_id: self.genesis.chain_id.clone(),
            chain_context: self.app.chain_context().as_str().to_owned(),
            latest_height: inner.blocks.last().map(|(b, _)| b.height),
            latest_time: inner.blocks.last().map(|(b, _)| b.time),
            syncing: false,
            mempool_size: inner.mempool.len(),
        }
    }

    fn submit_tx(&self, raw: Vec<u8>) -> Result<Hash, ApiError> {
        let mut inner = self.inner.lock().unwrap();
        let view = MkvsView::at(&self.db, inner.blocks.len() as u64)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        inner
            .mempool
            .insert(&self.app, &view, raw)
            .map_err(|e| match e {
                MempoolError::Invalid(t) => ApiError::Tx(t),
                other => ApiError::InvalidParams(other.to_string()),
            })
    }

    fn block(&self, height: Option<u64>) -> Result<Option<BlockView>, ApiError> {
        let inner = self.inner.lock().unwrap();
        Ok(match height {
            None => inner.blocks.last().map(|(b, _)| b.clone()),
            Some(h) => h
                .checked_sub(1)
                .and_then(|i| inner.blocks.get(i as usize))
                .map(|(b, _)| b.clone()),
        })
    }

    fn block_results(&self, height: u64) -> Result<Option<BlockResult>, ApiError> {
        let inner = self.inner.lock().unwrap();
        Ok(height
            .checked_sub(1)
            .and_then(|i| inner.blocks.get(i as usize))
            .map(|(_, r)| r.clone()))
    }

    fn transaction(&self, hash: &Hash) -> Result<Option<TxView>, ApiError> {
        let inner = self.inner.lock().unwrap();
        for (b, r) in &inner.blocks {
            if let Some((i, t)) = r
                .tx_results
                .iter()
                .enumerate()
                .find(|(_, t)| &t.hash == hash)
            {
                return Ok(Some(TxView {
                    hash: *hash,
                    height: b.height,
                    index: i as u32,
                    result: t.clone(),
                }));
            }
        }
        Ok(None)
    }

    fn query(&self, method: &str, args: &Value, height: Option<u64>) -> Result<Value, ApiError> {
        let h = height.unwrap_or_else(|| self.latest());
        let mut view =
            MkvsView::at(&self.db, h).map_err(|_| ApiError::NotFound(format!("height {h}")))?;
        atoll_consensus::query::query(&mut view, method, args).map_err(|e| match e {
            atoll_consensus::query::QueryError::NotFound(w) => ApiError::NotFound(w),
            atoll_consensus::query::QueryError::State(s) => ApiError::Internal(s.to_string()),
            other => ApiError::InvalidParams(other.to_string()),
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<BlockNotification>> {
        self.blocks_tx.subscribe()
    }

    fn block_body(&self, height: u64) -> Result<Option<atoll_rpc::BlockBody>, ApiError> {
        let inner = self.inner.lock().unwrap();
        Ok(height
            .checked_sub(1)
            .and_then(|i| inner.bodies.get(i as usize))
            .map(|b| atoll_rpc::BlockBody {
                txs: b.txs.iter().map(|t| t.to_vec()).collect(),
                signers: b.signers.clone(),
            }))
    }

    fn metrics(&self) -> String {
        format!(
            "# TYPE atoll_height gauge\natoll_height {}\n",
            self.latest()
        )
    }
}

fn keys() -> Vec<SigningKey> {
    (0..3u8)
        .map(|i| SigningKey::from_seed(&[i + 9; 32]))
        .collect()
}

fn transfer(node: &DevNode, key: &SigningKey, nonce: u64, to: &SigningKey, amount: u128) -> String {
    let t = Transaction::call(
        nonce,
        Fee::new(Quantity(0), 5000),
        methods::TRANSFER,
        &Transfer {
            to: Address::from_ed25519(&to.public_key()),
            amount: Quantity(amount),
        },
    )
    .unwrap();
    let raw = cbor::to_vec(&Signed::sign(key, node.app.tx_context(), &t).unwrap()).unwrap();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

async fn start() -> (Arc<DevNode>, atoll_rpc::RpcServer, Vec<SigningKey>) {
    let ks = keys();
    let node = DevNode::new(&ks);
    let server = serve(
        node.clone(),
        "127.0.0.1:0".parse().unwrap(),
        RpcConfig::default(),
    )
    .await
    .unwrap();
    (node, server, ks)
}

#[tokio::test]
async fn bulk_submission_answers_each_transaction_in_order() {
    let (node, server, ks) = start().await;
    let client = HttpClientBuilder::default()
        .build(format!("http://{}", server.local_addr()))
        .unwrap();
    let good0 = transfer(&node, &ks[0], 0, &ks[1], 1);
    let good1 = transfer(&node, &ks[0], 1, &ks[1], 1);
    let r: Value = client
        .request(
            "consensus_submitTxs",
            rpc_params![vec![good0, "0xzz".to_string(), "AAAA".to_string(), good1]],
        )
        .await
        .unwrap();
    let r = r.as_array().unwrap();
    assert_eq!(r.len(), 4);
    assert!(r[0]["hash"].is_string(), "{r:?}");
    assert_eq!(r[1]["error"]["code"], -32602, "{r:?}");
    assert_eq!(r[2]["error"]["code"], -32000, "{r:?}");
    assert!(r[2]["error"]["data"]["module"].is_string(), "{r:?}");
    assert!(r[3]["hash"].is_string(), "{r:?}");
    assert_eq!(node.produce(), 1);
    let block: BlockView = client
        .request("consensus_getBlock", rpc_params![])
        .await
        .unwrap();
    assert_eq!(block.transactions.len(), 2);
    // Too many in one call is refused whole.
    let many = vec!["AAAA".to_string(); atoll_rpc::MAX_BULK_TXS + 1];
    let e = client
        .request::<Value, _>("consensus_submitTxs", rpc_params![many])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most"), "{e}");
}

#[tokio::test]
async fn submit_then_read_back_over_http() {
    let (node, server, ks) = start().await;
    let url = format!("http://{}", server.local_addr());
    let client = HttpClientBuilder::default().build(&url).unwrap();
    let status: NodeStatus = client.request("node_status", rpc_params![]).await.unwrap();
    assert_eq!(status.chain_id, "rpc-test");
    assert_eq!(status.latest_height, None);

    let r: Value = client
        .request(
            "consensus_submitTx",
            rpc_params![transfer(&node, &ks[0], 0, &ks[1], 42)],
        )
        .await
        .unwrap();
    let hash = r["hash"].as_str().unwrap().to_owned();
    assert_eq!(node.produce(), 1);
    let tx: TxView = client
        .request("consensus_getTransaction", rpc_params![hash.clone()])
        .await
        .unwrap();
    assert_eq!(tx.height, 1);
    assert!(tx.result.error.is_none());
    let block: BlockView = client
        .request("consensus_getBlock", rpc_params![])
        .await
        .unwrap();
    assert_eq!(block.transactions.len(), 1);
    let a1 = Address::from_ed25519(&ks[1].public_key()).to_string();
    let acct: Value = client
        .request("consensus_getAccount", rpc_params![a1.clone()])
        .await
        .unwrap();
    assert_eq!(acct["general"]["balance"], json!("1000042"));
    let before: Value = client
        .request("consensus_getAccount", rpc_params![a1, 0])
        .await
        .unwrap();
    assert_eq!(
        before["general"]["balance"],
        json!("1000000"),
        "query at an older height"
    );
    server.stop().await;
}

#[tokio::test]
async fn submit_and_wait_for_inclusion() {
    let (node, server, ks) = start().await;
    let client = HttpClientBuilder::default()
        .build(format!("http://{}", server.local_addr()))
        .unwrap();
    let producer = {
        let node = node.clone();
        tokio::spawn(async move {
            // Produce blocks until the transaction has been included (bounded).
            for _ in 0..200 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                if node.status().mempool_size > 0 {
                    node.produce();
                    return;
                }
            }
        })
    };
    let r: Value = client
        .request(
            "consensus_submitTx",
            rpc_params![transfer(&node, &ks[0], 0, &ks[2], 7), true],
        )
        .await
        .unwrap();
    assert_eq!(r["height"], json!(1));
    assert!(r["result"].get("error").is_none());
    producer.await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn websocket_subscriptions_see_new_blocks_and_events() {
    let (node, server, ks) = start().await;
    let ws = WsClientBuilder::default()
        .build(format!("ws://{}", server.local_addr()))
        .await
        .unwrap();
    let mut blocks = ws
        .subscribe::<BlockNotification, _>(
            "consensus_subscribeBlocks",
            rpc_params![],
            "consensus_unsubscribeBlocks",
        )
        .await
        .unwrap();
    let mut events = ws
        .subscribe::<Value, _>(
            "consensus_subscribeEvents",
            rpc_params![],
            "consensus_unsubscribeEvents",
        )
        .await
        .unwrap();
    let _: Value = ws
        .request(
            "consensus_submitTx",
            rpc_params![transfer(&node, &ks[1], 0, &ks[0], 5)],
        )
        .await
        .unwrap();
    node.produce();
    let n = blocks.next().await.unwrap().unwrap();
    assert_eq!(n.block.height, 1);
    let e = events.next().await.unwrap().unwrap();
    assert_eq!(e["height"], json!(1));
    assert!(e["event"]["staking"]["transfer"].is_object(), "{e}");
    server.stop().await;
}

#[tokio::test]
async fn refusals_carry_module_and_code() {
    let (node, server, ks) = start().await;
    let client = HttpClientBuilder::default()
        .build(format!("http://{}", server.local_addr()))
        .unwrap();
    let garbage = base64::engine::general_purpose::STANDARD.encode(b"not a transaction");
    let err = client
        .request::<Value, _>("consensus_submitTx", rpc_params![garbage])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("-32000") || text.contains("transaction refused"),
        "{text}"
    );
    let e = match err {
        jsonrpsee::core::ClientError::Call(e) => e,
        other => panic!("unexpected {other}"),
    };
    assert_eq!(e.code(), atoll_rpc::CODE_TX_REFUSED);
    let data: Value = serde_json::from_str(e.data().unwrap().get()).unwrap();
    assert_eq!(data["module"], json!("consensus"));
    assert_eq!(data["code"], json!(1));
    // A valid transaction is admitted; the same bytes again are refused.
    let tx = transfer(&node, &ks[0], 0, &ks[1], 1);
    let ok: Result<Value, _> = client
        .request("consensus_submitTx", rpc_params![tx.clone()])
        .await;
    assert!(ok.is_ok());
    let dup = client
        .request::<Value, _>("consensus_submitTx", rpc_params![tx])
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("already in the pool"), "{dup}");
    // Not found, bad params, unknown method.
    let nf = client
        .request::<Value, _>("consensus_getBlock", rpc_params![99])
        .await
        .unwrap_err();
    assert!(nf.to_string().contains("not found"), "{nf}");
    let bad = client
        .request::<Value, _>("consensus_getBlock", rpc_params!["yesterday"])
        .await
        .unwrap_err();
    assert!(
        bad.to_string().contains("-32602") || bad.to_string().contains("invalid"),
        "{bad}"
    );
    let unknown = client
        .request::<Value, _>("consensus_fly", rpc_params![])
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("Method not found"),
        "{unknown}"
    );
    let status: NodeStatus = client.request("node_status", rpc_params![]).await.unwrap();
    assert_eq!(status.mempool_size, 1, "the node is still up and serving");
    server.stop().await;
}

fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // A server that refuses an oversized body may answer and close before the
    // body is fully written; the write then fails with a broken pipe or reset,
    // and whatever answer already arrived is still read.
    let write = s.write_all(request.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    if out.is_empty()
        && let Err(e) = write
    {
        return format!("CLOSED-EARLY {e}");
    }
    out
}

#[tokio::test]
async fn malformed_and_huge_requests_and_health() {
    let (_node, server, _) = start().await;
    let addr = server.local_addr();
    let bad = "{\"jsonrpc\":\"2.0\",\"method\":\"node_status\",\"id\":1";
    let resp = tokio::task::spawn_blocking(move || {
        raw_http(addr, &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{bad}",
            bad.len()
        ))
    })
    .await
    .unwrap();
    assert!(resp.contains("-32700"), "parse error expected: {resp}");
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"consensus_submitTx\",\"params\":[\"{}\"],\"id\":1}}",
        "A".repeat(2 << 20)
    );
    let resp = tokio::task::spawn_blocking(move || {
        raw_http(addr, &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{huge}",
            huge.len()
        ))
    })
    .await
    .unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 413")
            || resp.contains("-32007")
            || resp.contains("too big")
            || resp.starts_with("CLOSED-EARLY"),
        "{}",
        &resp[..resp.len().min(200)]
    );
    let resp = tokio::task::spawn_blocking(move || {
        raw_http(
            addr,
            "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let resp = tokio::task::spawn_blocking(move || {
        raw_http(
            addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("text/plain"), "{resp}");
    assert!(resp.contains("atoll_height 0"), "{resp}");
    let client = HttpClientBuilder::default()
        .build(format!("http://{addr}"))
        .unwrap();
    let _: NodeStatus = client.request("node_status", rpc_params![]).await.unwrap();
    server.stop().await;
}

/// One JSON-RPC body POSTed as is; the answer's JSON.
async fn post(addr: std::net::SocketAddr, body: &'static str) -> Value {
    let resp = tokio::task::spawn_blocking(move || {
        raw_http(addr, &format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    })
    .await
    .unwrap();
    let (_, json) = resp.split_once("\r\n\r\n").expect("an HTTP answer");
    serde_json::from_str(json).expect("a JSON-RPC answer")
}

/// The params check answers malformed positional params as the API always
/// did: named params refused, a whole-array method's count and types
/// checked by decoding the array as one tuple (serde's words, positions in
/// the array as sent), a sequence method's trailing extras ignored.
#[tokio::test]
async fn malformed_params_are_refused_as_before() {
    let (node, server, _) = start().await;
    assert_eq!(node.produce(), 1);
    let addr = server.local_addr();
    let invalid = |data: &str| json!({"code": -32602, "message": "Invalid params", "data": data});
    let cases: [(&str, Value); 9] = [
        // Extra trailing params on a whole-array method.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockResults","params":[1,2]}"#,
            invalid("trailing characters at line 1 column 4"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getTransaction","params":["00","x"]}"#,
            invalid("trailing characters at line 1 column 7"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"runtime_getCheckpointChunk","params":["r",1,2,3]}"#,
            invalid("trailing characters at line 1 column 10"),
        ),
        // Named params.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockResults","params":{"height":1}}"#,
            invalid("invalid type: map, expected a tuple of size 1 at line 1 column 0"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlock","params":{"height":1}}"#,
            invalid(
                r#"Invalid params. Expected one of '[', ']' or ',' but found "{\"height\":1}""#,
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"runtime_submitTx","params":{"runtime":"r","tx":"AA=="}}"#,
            invalid(
                r#"Invalid params. Expected one of '[', ']' or ',' but found "{\"runtime\":\"r\",\"tx\":\"AA==\"}""#,
            ),
        ),
        // Too few, none, and a wrong type, in the whole array's positions.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"runtime_getTransactions","params":["x"]}"#,
            invalid("invalid length 1, expected a tuple of size 2 at line 1 column 5"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockResults"}"#,
            invalid("invalid type: null, expected a tuple of size 1 at line 1 column 4"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"runtime_getRound","params":[1,2]}"#,
            invalid("invalid type: integer `1`, expected a string at line 1 column 2"),
        ),
    ];
    for (body, error) in cases {
        let answer = post(addr, body).await;
        assert_eq!(answer["error"], error, "{body}: {answer}");
        assert_eq!(answer["id"], 1, "{body}: {answer}");
    }
    // A sequence method still ignores trailing extras, and methods without
    // params ignore whatever they are given.
    let answer = post(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlock","params":[null,"extra"]}"#,
    )
    .await;
    assert_eq!(answer["result"]["height"], 1, "{answer}");
    let answer = post(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"node_status","params":{"any":1}}"#,
    )
    .await;
    assert!(answer["result"]["chain_id"].is_string(), "{answer}");
    // In a batch, each call is checked on its own and answered in its place.
    let answer = post(
        addr,
        r#"[{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockResults","params":[1,1]},{"jsonrpc":"2.0","id":2,"method":"consensus_getBlockResults","params":[1]}]"#,
    )
    .await;
    assert_eq!(answer[0]["id"], 1, "{answer}");
    assert_eq!(
        answer[0]["error"],
        invalid("trailing characters at line 1 column 4"),
        "{answer}"
    );
    assert_eq!(answer[1]["id"], 2, "{answer}");
    assert!(answer[1]["result"].is_object(), "{answer}");
    // Over HTTP a subscription is refused before its params are read.
    let answer = post(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"runtime_subscribeBlocks","params":[]}"#,
    )
    .await;
    assert_eq!(answer["error"]["code"], -32603, "{answer}");
    server.stop().await;
}

/// A bad `runtime_subscribeBlocks` param is refused with -32602 and our
/// message, as before (not jsonrpsee's).
#[tokio::test]
async fn bad_runtime_subscription_params_carry_our_message() {
    let (_node, server, _) = start().await;
    let ws = WsClientBuilder::default()
        .build(format!("ws://{}", server.local_addr()))
        .await
        .unwrap();
    let mut named = jsonrpsee::core::params::ObjectParams::new();
    named.insert("runtime", "00").unwrap();
    let refusals = [
        ws.subscribe::<Value, _>(
            "runtime_subscribeBlocks",
            rpc_params![],
            "runtime_unsubscribeBlocks",
        )
        .await,
        ws.subscribe::<Value, _>(
            "runtime_subscribeBlocks",
            rpc_params![7],
            "runtime_unsubscribeBlocks",
        )
        .await,
        ws.subscribe::<Value, _>(
            "runtime_subscribeBlocks",
            named,
            "runtime_unsubscribeBlocks",
        )
        .await,
    ];
    for r in refusals {
        let err = r.map(|_| ()).expect_err("a refusal");
        assert!(
            matches!(err, jsonrpsee::core::ClientError::Call(_)),
            "{err:?}"
        );
        if let jsonrpsee::core::ClientError::Call(e) = err {
            assert_eq!(e.code(), -32602, "{e:?}");
            assert_eq!(e.message(), "invalid params: Invalid params", "{e:?}");
            assert!(e.data().is_none(), "{e:?}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn block_details_decode_the_committed_transactions() {
    let (node, server, ks) = start().await;
    let addr = server.local_addr();
    let client = HttpClientBuilder::default()
        .build(format!("http://{addr}"))
        .unwrap();
    let tx = transfer(&node, &ks[0], 0, &ks[1], 42);
    let _: Value = client
        .request("consensus_submitTx", rpc_params![tx])
        .await
        .unwrap();
    let height = node.produce();
    let d: Value = client
        .request("consensus_getBlockDetails", rpc_params![height])
        .await
        .unwrap();
    assert_eq!(d["height"], height);
    let t = &d["transactions"][0];
    assert_eq!(t["method"], "staking.Transfer", "{d}");
    assert_eq!(
        t["signer"],
        Address::from_ed25519(&ks[0].public_key()).to_bech32()
    );
    assert_eq!(t["nonce"], 0);
    assert_eq!(t["body"]["amount"], "0x2a", "{d}");
    assert!(t["result"]["gas_used"].as_u64().unwrap() > 0);
    let signers: Value = client
        .request("consensus_getBlockSigners", rpc_params![height])
        .await
        .unwrap();
    assert_eq!(signers, d["signers"]);
    // Unknown heights are "not found"; garbage params are refused.
    for method in ["consensus_getBlockDetails", "consensus_getBlockSigners"] {
        let a = tokio::task::spawn_blocking(move || {
            let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":["x"]}}"#);
            raw_http(addr, &format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ))
        })
        .await
        .unwrap();
        assert!(a.contains("-32602"), "{method}: {a}");
    }
    let missing = post(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockDetails","params":[999]}"#,
    )
    .await;
    assert_eq!(missing["error"]["code"], -32004, "{missing}");
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockDetails","params":["x"]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockDetails","params":[1,2]}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockDetails","params":{"height":1}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"consensus_getBlockDetails","params":[-1]}"#,
    ] {
        let a = post(addr, body).await;
        assert_eq!(a["error"]["code"], -32602, "{body}: {a}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_explorer_is_served_beside_the_api() {
    let ks = keys();
    let node = DevNode::new(&ks);
    let explorer = atoll_explorer::Explorer::new(Vec::new());
    let server = serve(
        node.clone(),
        "127.0.0.1:0".parse().unwrap(),
        RpcConfig {
            pages: Some(atoll_rpc::Pages::new(move |m, p, h| {
                explorer.respond(m, p, h)
            })),
            ..RpcConfig::default()
        },
    )
    .await
    .unwrap();
    let addr = server.local_addr();
    let get = |path: &'static str| {
        tokio::task::spawn_blocking(move || {
            raw_http(
                addr,
                &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
            )
        })
    };
    let page = get("/explorer/").await.unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_lowercase()
            .contains("content-security-policy: default-src 'self'")
    );
    assert!(page.contains("<html"));
    let js = get("/explorer/app.js").await.unwrap();
    assert!(
        js.to_lowercase().contains("content-type: text/javascript"),
        "{js}"
    );
    let missing = get("/explorer/nope").await.unwrap();
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    // Hostile requests: traversal, other methods, a Host header that would
    // widen the policy; each gets a plain refusal and changes nothing.
    let raw = |request: String| tokio::task::spawn_blocking(move || raw_http(addr, &request));
    for path in [
        "/explorer/../Cargo.toml",
        "/explorer/%2e%2e/src/lib.rs",
        "/explorer/views/../../x",
    ] {
        let r = raw(format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        ))
        .await
        .unwrap();
        assert!(
            r.starts_with("HTTP/1.1 404") || r.starts_with("HTTP/1.1 400"),
            "{path}: {r}"
        );
        assert!(!r.contains("[package]"), "{path}: {r}");
    }
    let posted = raw(
        "POST /explorer/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".into(),
    )
    .await
    .unwrap();
    assert!(posted.starts_with("HTTP/1.1 405"), "{posted}");
    let evil =
        raw("GET /explorer/ HTTP/1.1\r\nHost: x; script-src *\r\nConnection: close\r\n\r\n".into())
            .await
            .unwrap();
    assert!(!evil.contains("script-src *"), "{evil}");
    // The API and the other GET paths are unchanged.
    let metrics = get("/metrics").await.unwrap();
    assert!(metrics.contains("atoll_height 0"), "{metrics}");
    let health = get("/health").await.unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let status = post(
        addr,
        r#"{"jsonrpc":"2.0","id":1,"method":"node_status","params":[]}"#,
    )
    .await;
    assert_eq!(status["result"]["chain_id"], "rpc-test", "{status}");
    server.stop().await;
}

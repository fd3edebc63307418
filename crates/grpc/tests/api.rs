//! Oasis's gRPC API over real loopback sockets, with tonic's client and a
//! hand-written gRPC-web request, against an in-process node built from the
//! real parts (the consensus app, MKVS state and the mempool); blocks are
//! produced here by a task, as the BFT engine produces them in a node.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "test binary"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use atoll_consensus::app::{App, Block, BlockResult};
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::staking::{Account, Transfer, methods};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_grpc::RawCodec;
use atoll_mempool::{Limits, Mempool, MempoolError};
use atoll_mkvs::Mkvs;
use atoll_mkvs::state_store::{MkvsStore, MkvsView};
use atoll_rpc::{ApiError, BlockNotification, BlockView, NodeApi, NodeStatus, TxView};
use atoll_types::Quantity;
use atoll_types::cbor::{self, Value};
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;
use tonic::Code;

const FUNDS: u128 = 1_000_000;

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
}

impl DevNode {
    fn new(keys: &[SigningKey]) -> Arc<Self> {
        let mut genesis = Genesis {
            chain_id: "grpc-test".into(),
            debug: true,
            ..Genesis::default()
        };
        genesis.beacon.interval = 1000;
        for k in keys {
            let mut a = Account::default();
            a.general.balance = Quantity(FUNDS);
            genesis
                .staking
                .ledger
                .insert(Address::from_ed25519(&k.public_key()), a);
        }
        genesis.staking.total_supply = Quantity(FUNDS * keys.len() as u128);
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
            }),
            blocks_tx: broadcast::channel(64).0,
        })
    }

    fn latest(&self) -> u64 {
        self.inner.lock().unwrap().blocks.len() as u64
    }

    /// Commits the next block from the mempool.
    fn produce(&self) {
        let mut inner = self.inner.lock().unwrap();
        let height = inner.blocks.len() as u64 + 1;
        let txs = inner.mempool.select(1 << 20, 0, |a| {
            let mut v = MkvsView::at(&self.db, height - 1).unwrap();
            atoll_consensus::services::staking::state::StakingState::new(&mut v)
                .account(a)
                .unwrap()
                .general
                .nonce
        });
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
        let after = MkvsView::at(&self.db, height).unwrap();
        inner.mempool.recheck(&self.app, &after);
        let _ = self.blocks_tx.send(Arc::new(BlockNotification {
            block: view,
            results,
        }));
    }
}

impl NodeApi for DevNode {
    fn status(&self) -> NodeStatus {
        let inner = self.inner.lock().unwrap();
        NodeStatus {
            version: "0.1.0".into(),
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

    fn query(
        &self,
        method: &str,
        args: &serde_json::Value,
        height: Option<u64>,
    ) -> Result<serde_json::Value, ApiError> {
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
}

fn keys() -> Vec<SigningKey> {
    (0..2u8)
        .map(|i| SigningKey::from_seed(&[i + 3; 32]))
        .collect()
}

fn addr(k: &SigningKey) -> Address {
    Address::from_ed25519(&k.public_key())
}

fn transfer(
    node: &DevNode,
    key: &SigningKey,
    nonce: u64,
    to: &SigningKey,
    amount: u128,
) -> Vec<u8> {
    let t = Transaction::call(
        nonce,
        Fee::new(Quantity(0), 5000),
        methods::TRANSFER,
        &Transfer {
            to: addr(to),
            amount: Quantity(amount),
        },
    )
    .unwrap();
    cbor::to_vec(&Signed::sign(key, node.app.tx_context(), &t).unwrap()).unwrap()
}

struct Harness {
    node: Arc<DevNode>,
    server: atoll_grpc::GrpcServer,
    keys: Vec<SigningKey>,
    producer: tokio::task::JoinHandle<()>,
}

/// A node with its gRPC server, and a task committing a block every few
/// milliseconds (what the BFT engine does in a node).
async fn start() -> Harness {
    let keys = keys();
    let node = DevNode::new(&keys);
    node.produce();
    let api: Arc<dyn NodeApi> = node.clone();
    let server = atoll_grpc::serve("127.0.0.1:0".parse().unwrap(), api)
        .await
        .unwrap();
    let n = node.clone();
    let producer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            n.produce();
        }
    });
    Harness {
        node,
        server,
        keys,
        producer,
    }
}

impl Harness {
    async fn stop(self) {
        self.producer.abort();
        self.server.stop().await;
    }

    async fn call_raw(&self, path: &'static str, body: Vec<u8>) -> Result<Bytes, tonic::Status> {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", self.server.local_addr()))
                .unwrap()
                .connect()
                .await
                .unwrap();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        grpc.unary(
            tonic::Request::new(Bytes::from(body)),
            http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
        .map(tonic::Response::into_inner)
    }

    async fn call<T: Serialize>(
        &self,
        path: &'static str,
        req: &T,
    ) -> Result<Value, tonic::Status> {
        let body = cbor::to_vec(req).unwrap();
        let out = self.call_raw(path, body).await?;
        Ok(cbor::decode_value(&out).unwrap())
    }

    async fn balance(&self, k: &SigningKey) -> u128 {
        let a = self
            .call(
                "/oasis-core.Staking/Account",
                &OwnerQuery {
                    height: 0,
                    owner: addr(k),
                },
            )
            .await
            .unwrap();
        let bal = a
            .get("general")
            .and_then(|g| g.get("balance"))
            .and_then(Value::as_bytes)
            .unwrap_or_default();
        Quantity::from_be_bytes(bal).unwrap().0
    }
}

#[derive(Serialize)]
struct OwnerQuery {
    height: i64,
    owner: Address,
}

#[derive(Serialize)]
struct NonceQuery {
    account_address: Address,
    height: i64,
}

/// The `{module, code}` detail of an Oasis-style status, if it has one.
fn oasis_detail(s: &tonic::Status) -> Option<(String, u64)> {
    // google.rpc.Status: find field 3 (details), then Any field 2 (value).
    fn fields(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let varint = |b: &mut &[u8]| {
            let mut v = 0u64;
            let mut shift = 0;
            loop {
                let (x, rest) = b.split_first().unwrap();
                *b = rest;
                v |= u64::from(x & 0x7f) << shift;
                shift += 7;
                if x & 0x80 == 0 {
                    return v;
                }
            }
        };
        while !b.is_empty() {
            let key = varint(&mut b);
            match key & 7 {
                0 => {
                    varint(&mut b);
                }
                2 => {
                    let n = varint(&mut b) as usize;
                    out.push(((key >> 3) as u8, b[..n].to_vec()));
                    b = &b[n..];
                }
                w => panic!("wire type {w}"),
            }
        }
        out
    }
    let details: Vec<_> = fields(s.details())
        .into_iter()
        .filter(|(f, _)| *f == 3)
        .collect();
    let [(_, any)] = details.as_slice() else {
        return None;
    };
    let any = fields(any);
    // The type URL is empty (left out), as oasis-core writes it.
    assert!(any.iter().all(|(f, _)| *f != 1));
    let (_, value) = any.iter().find(|(f, _)| *f == 2)?;
    let v = cbor::decode_value(value).unwrap();
    Some((
        v.get("module").and_then(Value::as_text)?.to_owned(),
        v.get("code").and_then(Value::as_u64)?,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_context_status_block_and_epoch() {
    let h = start().await;
    // `nil` requests are empty messages, as @oasisprotocol/client sends them.
    let ctx = h
        .call_raw("/oasis-core.Consensus/GetChainContext", vec![])
        .await
        .unwrap();
    let ctx: String = cbor::from_slice(&ctx).unwrap();
    assert_eq!(ctx, h.node.app.chain_context().as_str());
    let st = h
        .call_raw("/oasis-core.Consensus/GetStatus", vec![])
        .await
        .unwrap();
    let st = cbor::decode_value(&st).unwrap();
    assert_eq!(
        st.get("chain_context").and_then(Value::as_text),
        Some(ctx.as_str())
    );
    let latest = st.get("latest_height").and_then(Value::as_u64).unwrap();
    assert!(latest >= 1);
    let b = h
        .call("/oasis-core.Consensus/GetBlock", &1i64)
        .await
        .unwrap();
    assert_eq!(b.get("height").and_then(Value::as_u64), Some(1));
    let want = h.node.block(Some(1)).unwrap().unwrap();
    assert_eq!(
        b.get("hash").and_then(Value::as_bytes),
        Some(want.hash.0.as_slice())
    );
    let e = h.call("/oasis-core.Beacon/GetEpoch", &1i64).await.unwrap();
    assert_eq!(
        e.as_u64(),
        Some(h.node.block_results(1).unwrap().unwrap().epoch.0)
    );
    let missing = h
        .call("/oasis-core.Consensus/GetBlock", &1_000_000i64)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_tx_waits_for_the_block_and_moves_funds() {
    let h = start().await;
    let (a, b) = (&h.keys[0], &h.keys[1]);
    assert_eq!(h.balance(a).await, FUNDS);
    let nonce = h
        .call(
            "/oasis-core.Consensus/GetSignerNonce",
            &NonceQuery {
                account_address: addr(a),
                height: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(nonce.as_u64(), Some(0));
    let raw = transfer(&h.node, a, 0, b, 250);
    let out = h
        .call_raw("/oasis-core.Consensus/SubmitTx", raw.clone())
        .await
        .unwrap();
    // `nil` back, and the transfer is in a block already.
    assert_eq!(cbor::decode_value(&out).unwrap(), Value::Null);
    assert!(h.node.transaction(&Hash::digest(&raw)).unwrap().is_some());
    assert_eq!(h.balance(a).await, FUNDS - 250);
    assert_eq!(h.balance(b).await, FUNDS + 250);
    let supply = h
        .call("/oasis-core.Staking/TotalSupply", &0i64)
        .await
        .unwrap();
    assert_eq!(
        Quantity::from_be_bytes(supply.as_bytes().unwrap())
            .unwrap()
            .0,
        2 * FUNDS
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_oasis_module_and_code_and_change_nothing() {
    let h = start().await;
    let (a, b) = (&h.keys[0], &h.keys[1]);
    // More than the balance: refused at admission by staking, as oasis-node
    // answers SubmitTx, with {module, code} in the status details.
    let too_much = transfer(&h.node, a, 0, b, FUNDS * 10);
    let e = h
        .call_raw("/oasis-core.Consensus/SubmitTx", too_much)
        .await
        .unwrap_err();
    let (module, _code) = oasis_detail(&e).expect("an Oasis-coded status");
    assert_eq!(module, "staking");
    // Garbage as the transaction: consensus, code 1 (malformed), as Oasis's
    // ErrMalformedTransaction.
    let e = h
        .call_raw("/oasis-core.Consensus/SubmitTx", vec![0xff, 0x00, 0x13])
        .await
        .unwrap_err();
    assert_eq!(oasis_detail(&e), Some(("consensus".into(), 1)));
    // A request that is not CBOR of the method's type: the codec's error,
    // no module (as grpc-go's codec answers).
    for garbage in [
        vec![0xff],
        vec![0xa1, 0x61],
        b"hello".to_vec(),
        vec![0x1b; 3],
    ] {
        let e = h
            .call_raw("/oasis-core.Staking/Account", garbage)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::Internal, "{e:?}");
        assert_eq!(oasis_detail(&e), None);
    }
    // An unknown method of a known service, and an unknown service.
    let e = h
        .call_raw("/oasis-core.Consensus/Nope", vec![])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    let e = h
        .call_raw("/oasis-core.Nope/GetStatus", vec![])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented);
    // An oversized message never reaches a method.
    let e = h
        .call_raw(
            "/oasis-core.Consensus/SubmitTx",
            vec![0; atoll_grpc::MAX_REQUEST_BYTES + 1],
        )
        .await
        .unwrap_err();
    assert_ne!(e.code(), Code::Ok);
    // Nothing moved.
    assert_eq!(h.balance(a).await, FUNDS);
    assert_eq!(h.balance(b).await, FUNDS);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_over_http1() {
    let h = start().await;
    // One gRPC-web call by hand: HTTP/1.1 POST, a framed empty message.
    let mut s = tokio::net::TcpStream::connect(h.server.local_addr())
        .await
        .unwrap();
    let req = format!(
        "POST /oasis-core.Consensus/GetChainContext HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Content-Length: 5\r\nConnection: close\r\n\r\n",
        h.server.local_addr()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(&[0, 0, 0, 0, 0]).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let want = cbor::to_vec(h.node.app.chain_context().as_str()).unwrap();
    // The data frame carries the CBOR text; a trailer frame says grpc-status 0.
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(want.len() as u32).to_be_bytes());
    frame.extend_from_slice(&want);
    assert!(
        resp.windows(frame.len()).any(|w| w == frame.as_slice()),
        "{text}"
    );
    assert!(text.contains("grpc-status:0"), "{text}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_client_on_a_node_without_runtimes_answers_no_hosted_runtime() {
    let h = start().await;
    #[derive(Serialize)]
    struct Submit {
        runtime_id: atoll_types::Namespace,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    }
    let e = h
        .call(
            "/oasis-core.RuntimeClient/SubmitTx",
            &Submit {
                runtime_id: atoll_types::Namespace([7; 32]),
                data: vec![0x80],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(oasis_detail(&e), Some(("runtime/client".into(), 6)));
    // A request that is not a SubmitTxRequest: the codec's error.
    let e = h
        .call_raw("/oasis-core.RuntimeClient/Query", vec![0xa1, 0x01, 0x02])
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal);
    h.stop().await;
}

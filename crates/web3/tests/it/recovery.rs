//! The index is a cache of the runtime's rounds: a corrupt or gapped index
//! file is set aside and rebuilt instead of stopping the gateway, and the
//! indexer follows a runtime whose storage starts at a restored
//! checkpoint. Each test damages a real index file between two runs of the
//! whole server.

use std::sync::Arc;
use std::time::Duration;

use atoll_web3::index::SET_ASIDE;
use atoll_web3::{Web3Config, Web3Server};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;

use crate::fixture::{self, Chain, FakeRuntime};

/// Starts a gateway on `dir`; the previous one's index may take a moment
/// to close after it stopped (its connections end on their own tasks),
/// so an index still open is waited for (bounded).
async fn start(rt: &FakeRuntime, dir: &std::path::Path) -> Web3Server {
    for _ in 0..500 {
        match atoll_web3::serve(
            Arc::new(rt.clone()),
            fixture::runtime_id(),
            dir,
            "127.0.0.1:0".parse().unwrap(),
            Web3Config::default(),
        )
        .await
        {
            Ok(s) => return s,
            Err(e) if e.to_string().contains("already open") => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the index stayed open");
}

/// Opens the index file with redb itself (bounded wait, as [`start`]).
async fn open_raw(dir: &std::path::Path) -> redb::Database {
    for _ in 0..500 {
        match redb::Database::open(dir.join("index.redb")) {
            Ok(d) => return d,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the index stayed open");
}

fn client(server: &Web3Server) -> HttpClient {
    HttpClientBuilder::default()
        .build(format!("http://{}", server.local_addr()))
        .unwrap()
}

async fn head(c: &HttpClient) -> String {
    c.request::<String, _>("eth_blockNumber", rpc_params![])
        .await
        .unwrap()
}

async fn block(c: &HttpClient, n: u64) -> Value {
    c.request("eth_getBlockByNumber", rpc_params![format!("{n:#x}"), true])
        .await
        .unwrap()
}

/// Waits (bounded) until block `n` is the last indexed.
async fn wait_head(c: &HttpClient, n: u64) {
    for _ in 0..2_000 {
        if head(c).await == format!("{n:#x}") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("block {n} was never indexed (head {})", head(c).await);
}

/// Seven rounds: a busy one, empty ones, another busy one.
fn chain() -> Chain {
    let mut chain = Chain::new();
    chain.push(fixture::sample_round([0xcc; 20], [0x01; 32]));
    for _ in 0..5 {
        chain.push(Vec::new());
    }
    chain.push(fixture::sample_round([0xdd; 20], [0x02; 32]));
    chain
}

/// Indexes every round of `chain` into `dir` and answers its blocks.
async fn index_all(chain: &Chain, dir: &std::path::Path) -> Vec<Value> {
    let rt = FakeRuntime::default();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let server = start(&rt, dir).await;
    let c = client(&server);
    wait_head(&c, 7).await;
    let mut blocks = Vec::new();
    for n in 1..=7 {
        blocks.push(block(&c, n).await);
    }
    drop(c);
    server.stop().await;
    blocks
}

/// Serves `chain` again from `dir` and checks the blocks are `expected`.
async fn serves_again(chain: &Chain, dir: &std::path::Path, expected: &[Value]) {
    let rt = FakeRuntime::default();
    for r in &chain.records {
        rt.finalize(r.clone());
    }
    let server = start(&rt, dir).await;
    let c = client(&server);
    wait_head(&c, 7).await;
    for (n, want) in (1..=7).zip(expected) {
        assert_eq!(&block(&c, n).await, want, "block {n}");
    }
    drop(c);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_file_that_is_not_a_database_is_rebuilt() {
    let chain = chain();
    let dir = tempfile::tempdir().unwrap();
    let blocks = index_all(&chain, dir.path()).await;
    let file = dir.path().join("index.redb");
    // Garbage over the whole file.
    let len = std::fs::metadata(&file).unwrap().len();
    let len = usize::try_from(len).unwrap();
    std::fs::write(
        &file,
        (0..len)
            .map(|i| u8::try_from(i * 7919 % 251).unwrap())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    serves_again(&chain, dir.path(), &blocks).await;
    assert!(
        dir.path().join(SET_ASIDE).exists(),
        "the bad file is kept aside"
    );
    // A truncated file too.
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    serves_again(&chain, dir.path(), &blocks).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_with_rounds_deleted_is_rebuilt() {
    let chain = chain();
    let dir = tempfile::tempdir().unwrap();
    let blocks = index_all(&chain, dir.path()).await;
    // Delete two blocks from the middle, and damage the last one's record,
    // behind the index's back.
    {
        let db = open_raw(dir.path()).await;
        let w = db.begin_write().unwrap();
        {
            let mut t = w
                .open_table(redb::TableDefinition::<u64, &[u8]>::new("blocks"))
                .unwrap();
            t.remove(3).unwrap();
            t.remove(4).unwrap();
        }
        w.commit().unwrap();
    }
    // Opens (with no rounds to index): the damaged file is set aside.
    start(&FakeRuntime::default(), dir.path())
        .await
        .stop()
        .await;
    assert!(dir.path().join(SET_ASIDE).exists());
    std::fs::remove_file(dir.path().join(SET_ASIDE)).unwrap();
    let _ = index_all(&chain, dir.path()).await;
    {
        let db = open_raw(dir.path()).await;
        let w = db.begin_write().unwrap();
        {
            let mut t = w
                .open_table(redb::TableDefinition::<u64, &[u8]>::new("blocks"))
                .unwrap();
            t.insert(7, b"{not json".as_slice()).unwrap();
        }
        w.commit().unwrap();
    }
    serves_again(&chain, dir.path(), &blocks).await;
    assert!(dir.path().join(SET_ASIDE).exists());
}

/// A node that restored its runtime storage from a checkpoint has no
/// records before it: the indexer starts there; and one that had indexed
/// earlier rounds bridges the gap, which a restart accepts as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexer_follows_storage_restored_from_a_checkpoint() {
    let chain = chain();
    // Storage restored at round 5: rounds 5 to 7 only.
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::default();
    for r in &chain.records[4..] {
        rt.finalize(r.clone());
    }
    let server = start(&rt, dir.path()).await;
    let c = client(&server);
    wait_head(&c, 7).await;
    assert_eq!(block(&c, 4).await, Value::Null);
    assert_eq!(block(&c, 5).await["number"], "0x5");
    let earliest: Value = c
        .request("eth_getBlockByNumber", rpc_params!["earliest", false])
        .await
        .unwrap();
    assert_eq!(earliest["number"], "0x5");
    server.stop().await;

    // Rounds 1 and 2 indexed, then the node restored a checkpoint at 5.
    let dir = tempfile::tempdir().unwrap();
    let rt = FakeRuntime::default();
    for r in &chain.records[..2] {
        rt.finalize(r.clone());
    }
    let server = start(&rt, dir.path()).await;
    let c = client(&server);
    wait_head(&c, 2).await;
    server.stop().await;
    let rt = FakeRuntime::default();
    for r in chain.records[..2].iter().chain(&chain.records[4..]) {
        rt.finalize(r.clone());
    }
    for _ in 0..2 {
        let server = start(&rt, dir.path()).await;
        let c = client(&server);
        wait_head(&c, 7).await;
        assert_eq!(block(&c, 2).await["number"], "0x2");
        assert_eq!(block(&c, 3).await, Value::Null);
        assert_eq!(block(&c, 5).await["number"], "0x5");
        server.stop().await;
        assert!(
            !dir.path().join(SET_ASIDE).exists(),
            "a gap the runtime has is no corruption"
        );
    }
}

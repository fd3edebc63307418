//! Consensus benchmark: a 4-validator network of `atoll node` processes on
//! 127.0.0.1, fed signed `staking.Transfer` transactions over the JSON-RPC
//! API.
//!
//! Prints, from one run on this machine:
//! - the ed25519 limits: single and batch (1024) verifications per second;
//! - saturated throughput: finalized transfers per second while a bounded
//!   backlog (submitted with `consensus_submitTxs`, 500 per call) is drained, beside the goal of half the batch-verify limit
//!   divided by the number of validators sharing the machine;
//! - finality latency p50/p99 under a light, paced load (submit to the block
//!   notification of the block holding it, at a validator).
//!
//! `cargo bench -p atoll-bench --bench consensus` (options after `--`:
//! `--txs N`, `--senders K`, `--validators V`, `--paced N`, `--block-time MS`). Every load loop is
//! bounded and all traffic stays on loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss,
    missing_docs,
    reason = "benchmark harness"
)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atoll_consensus::app::App;
use atoll_consensus_types::staking::{Transfer, methods};
use atoll_crypto::ed25519::{BatchVerifier, SigningKey};
use atoll_crypto::{Address, Hash};
use atoll_localnet::harness::Network;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::Value;

struct Options {
    txs: usize,
    senders: usize,
    validators: usize,
    paced: usize,
    block_time_ms: u64,
}

fn options() -> Options {
    let mut o = Options {
        txs: 20_000,
        senders: 200,
        validators: 4,
        paced: 200,
        block_time_ms: 200,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse().ok());
        match (args[i].as_str(), value) {
            ("--txs", Some(v)) => o.txs = v,
            ("--senders", Some(v)) => o.senders = v,
            ("--validators", Some(v)) => o.validators = v,
            ("--paced", Some(v)) => o.paced = v,
            ("--block-time", Some(v)) => o.block_time_ms = v as u64,
            _ => {}
        }
        i += 1;
    }
    o
}

fn sender(i: usize) -> SigningKey {
    SigningKey::from_seed(
        &Hash::digest_parts(&[b"atoll/bench sender", &(i as u64).to_be_bytes()]).0,
    )
}

/// Verifications per second: (single, batch of 1024).
fn ed25519_limits() -> (f64, f64) {
    let ctx = atoll_crypto::context::Context::new("atoll/bench: limit").unwrap();
    let keys: Vec<SigningKey> = (0..1024).map(sender).collect();
    let msgs: Vec<Vec<u8>> = (0..1024u32).map(|i| i.to_be_bytes().repeat(40)).collect();
    let sigs: Vec<_> = keys
        .iter()
        .zip(&msgs)
        .map(|(k, m)| k.sign(&ctx, m))
        .collect();
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(2) {
        for ((k, m), s) in keys.iter().zip(&msgs).zip(&sigs).take(256) {
            k.public_key().verify(&ctx, m, s).unwrap();
            n += 1;
        }
    }
    let single = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(2) {
        let mut b = BatchVerifier::with_capacity(1024);
        for ((k, m), s) in keys.iter().zip(&msgs).zip(&sigs) {
            b.queue(&k.public_key(), &ctx, m, s);
        }
        b.verify().unwrap();
        n += 1024;
    }
    (single, n as f64 / start.elapsed().as_secs_f64())
}

fn transfer(app: &App, from: &SigningKey, nonce: u64, to: Address) -> (Hash, String) {
    let tx = Transaction::call(
        nonce,
        Fee::new(Quantity(0), 10_000),
        methods::TRANSFER,
        &Transfer {
            to,
            amount: Quantity(1),
        },
    )
    .unwrap();
    let raw = cbor::to_vec(&Signed::sign(from, app.tx_context(), &tx).unwrap()).unwrap();
    (Hash::digest(&raw), format!("0x{}", hex::encode(raw)))
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// When each transaction was seen in a block at the watched node.
type Seen = Arc<Mutex<BTreeMap<Hash, Instant>>>;

async fn watch(url: String, seen: Seen, blocks: Arc<Mutex<Vec<(u64, usize, Instant)>>>) {
    let client = WsClientBuilder::default()
        .max_response_size(64 << 20)
        .build(&url)
        .await
        .unwrap();
    let mut sub: Subscription<Value> = client
        .subscribe(
            "consensus_subscribeBlocks",
            rpc_params![],
            "consensus_unsubscribeBlocks",
        )
        .await
        .unwrap();
    while let Some(Ok(n)) = sub.next().await {
        let now = Instant::now();
        let txs = n["block"]["transactions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let height = n["block"]["height"].as_u64().unwrap_or(0);
        blocks.lock().unwrap().push((height, txs.len(), now));
        let mut s = seen.lock().unwrap();
        for t in txs {
            if let Ok(h) = serde_json::from_value::<Hash>(t) {
                s.entry(h).or_insert(now);
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    println!("== ed25519 limits on this machine ==");
    let (single, batch) = ed25519_limits();
    println!("single verify: {single:.0}/s, batch verify (1024): {batch:.0}/s");
    println!(
        "network: {} validators, block time {} ms, {} senders",
        o.validators, o.block_time_ms, o.senders
    );

    let tmp = tempfile::tempdir().unwrap();
    // ATOLL_BENCH_KEEP=1 keeps the network's directory (node logs) for
    // inspection and prints its path.
    let keep = std::env::var_os("ATOLL_BENCH_KEEP").is_some();
    let keys: Vec<SigningKey> = (0..o.senders).map(sender).collect();
    let mut builder = Network::builder(common::atoll())
        .validators(o.validators)
        .plan(|p| {
            p.chain_id = "atoll-bench".into();
            p.mempool = atoll_node::config::MempoolSection {
                max_txs: o.txs * 2 + 1_000,
                max_bytes: 256 << 20,
                max_per_sender: o.txs / o.senders.max(1) + o.paced + 16,
            };
            p.block_time_ms = o.block_time_ms;
        });
    for k in &keys {
        builder = builder.funded(Address::from_ed25519(&k.public_key()), 1 << 60);
    }
    let mut net = builder.start(tmp.path()).unwrap();
    let layout = &net.layout;
    let app = App::new(&layout.genesis).unwrap();
    let http: Vec<_> = layout
        .nodes
        .iter()
        .map(|n| {
            HttpClientBuilder::default()
                .max_request_size(64 << 20)
                .max_response_size(64 << 20)
                .request_timeout(Duration::from_secs(120))
                .build(format!("http://{}", n.rpc))
                .unwrap()
        })
        .collect();
    // Wait (bounded) until every validator has finalized a few blocks.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut ready = 0;
        for c in &http {
            let s: Result<Value, _> = c.request("node_status", rpc_params![]).await;
            if s.ok()
                .and_then(|s| s["latest_height"].as_u64())
                .unwrap_or(0)
                >= 3
            {
                ready += 1;
            }
        }
        if ready == http.len() {
            break;
        }
        assert!(Instant::now() < deadline, "the network did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let seen: Seen = Arc::default();
    let blocks = Arc::new(Mutex::new(Vec::new()));
    let watcher = tokio::spawn(watch(
        format!("ws://{}", layout.nodes[0].rpc),
        seen.clone(),
        blocks.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to = Address::from_ed25519(&sender(usize::MAX / 2).public_key());

    // 1. Paced load: one transfer every 50 ms, each to a rotating node.
    println!(
        "== finality latency: {} transfers, one per 50 ms ==",
        o.paced
    );
    let mut paced: Vec<(Hash, Instant)> = Vec::new();
    // The last funded sender: the saturated run below does not use it.
    let k = &keys[o.senders - 1];
    for nonce in 0..o.paced {
        let (hash, tx) = transfer(&app, k, nonce as u64, to);
        let c = &http[nonce % http.len()];
        let at = Instant::now();
        let _: Value = c
            .request("consensus_submitTx", rpc_params![tx])
            .await
            .unwrap();
        paced.push((hash, at));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while paced
        .iter()
        .any(|(h, _)| !seen.lock().unwrap().contains_key(h))
    {
        assert!(
            Instant::now() < deadline,
            "paced transfers not all finalized"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat: Vec<Duration> = {
        let s = seen.lock().unwrap();
        paced
            .iter()
            .map(|(h, at)| s[h].saturating_duration_since(*at))
            .collect()
    };
    lat.sort();
    let (p50, p99) = (percentile(&lat, 50), percentile(&lat, 99));
    println!(
        "finality p50 {:?}, p99 {:?} (goal: p50 under 300 ms)",
        p50, p99
    );

    // 2. Saturated: every sender's transfers, signed in advance, submitted in
    // JSON-RPC batches spread over the validators.
    let senders = o.senders - 1;
    let per_sender = o.txs / senders.max(1);
    println!(
        "== throughput: {} transfers from {} senders ==",
        per_sender * senders,
        senders
    );
    let mut all: Vec<(Hash, String)> = Vec::with_capacity(per_sender * senders);
    for nonce in 0..per_sender {
        for k in &keys[..senders] {
            all.push(transfer(&app, k, nonce as u64, to));
        }
    }
    let hashes: Vec<Hash> = all.iter().map(|(h, _)| *h).collect();
    let start = Instant::now();
    let chunks: Vec<Vec<String>> = all
        .chunks(500)
        .map(|c| c.iter().map(|(_, t)| t.clone()).collect())
        .collect();
    let mut tasks = Vec::new();
    let http = Arc::new(http);
    for (i, chunk) in chunks.into_iter().enumerate() {
        let http = http.clone();
        tasks.push(tokio::spawn(async move {
            let c = &http[i % http.len()];
            let r: Value = c
                .request("consensus_submitTxs", rpc_params![chunk])
                .await
                .unwrap();
            r.as_array()
                .map_or(0, |a| a.iter().filter(|o| o.get("error").is_some()).count())
        }));
        if tasks.len() >= 4 {
            let failed = tasks.remove(0).await.unwrap();
            if failed > 0 {
                eprintln!("{failed} submissions refused");
            }
        }
    }
    for t in tasks {
        let failed = t.await.unwrap();
        if failed > 0 {
            eprintln!("{failed} submissions refused");
        }
    }
    let submitted = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = {
            let s = seen.lock().unwrap();
            hashes.iter().filter(|h| s.contains_key(h)).count()
        };
        if done == hashes.len() {
            break;
        }
        if Instant::now() > deadline {
            println!("only {done} of {} finalized within 600 s", hashes.len());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (first_at, last_at) = {
        let s = seen.lock().unwrap();
        let times: Vec<Instant> = hashes.iter().filter_map(|h| s.get(h).copied()).collect();
        (
            times.iter().min().copied().unwrap_or(start),
            times.iter().max().copied().unwrap_or(start),
        )
    };
    let finalized = {
        let s = seen.lock().unwrap();
        hashes.iter().filter(|h| s.contains_key(h)).count()
    };
    let elapsed = last_at.saturating_duration_since(start);
    let tps = finalized as f64 / elapsed.as_secs_f64();
    let goal = batch / 2.0 / o.validators as f64;
    let bs = blocks.lock().unwrap();
    let in_run: Vec<&(u64, usize, Instant)> = bs
        .iter()
        .filter(|(_, _, t)| *t >= first_at && *t <= last_at)
        .collect();
    let max_block = in_run.iter().map(|(_, n, _)| *n).max().unwrap_or(0);
    println!(
        "submitted in {:.2?}; {} finalized in {:.2?} over {} blocks (largest {} txs)",
        submitted,
        finalized,
        elapsed,
        in_run.len(),
        max_block
    );
    println!(
        "throughput {tps:.0} transfers/s; goal (batch limit / 2 / {} validators) {goal:.0}/s; ratio {:.2}",
        o.validators,
        tps / goal
    );
    println!(
        "ratio to the single-verify limit per validator ({:.0}/s): {:.2}",
        single / o.validators as f64,
        tps / (single / o.validators as f64)
    );
    println!("blocks during the run (height: transfers at +ms since the first submission):");
    let timeline: Vec<String> = in_run
        .iter()
        .map(|(h, n, t)| {
            format!(
                "{h}: {n} at +{}",
                t.saturating_duration_since(start).as_millis()
            )
        })
        .collect();
    println!("  {}", timeline.join(", "));
    watcher.abort();
    net.stop_all();
    if keep {
        println!("network directory kept: {}", tmp.keep().display());
    }
}

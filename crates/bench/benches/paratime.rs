//! ParaTime benchmark: a validator and compute nodes as `atoll node`
//! processes on 127.0.0.1, each compute node running two plain ParaTimes
//! (A and B) as separate runtime processes, fed signed `accounts.Transfer`
//! transactions over the runtime client API.
//!
//! Prints, from one run on this machine:
//! - the limit: transfers per second the runtime SDK executes in-process on
//!   a memory store (one core, no network, no storage, no consensus);
//! - ParaTime A saturated: finalized transfers per second while a bounded
//!   backlog (`runtime_submitTxs`, 2,000 per call) drains, its ratio to the
//!   limit, and A's round interval;
//! - isolation: ParaTime B's latency (submit to the finalized round holding
//!   it) p50/p99 under a fixed, moderate paced load, first alone, then while
//!   A is saturated, and their ratio (goal: at most 1.5).
//!
//! `cargo bench -p atoll-bench --bench paratime` (options after `--`:
//! `--txs N`, `--senders K`, `--probes P`, `--probe-ms MS`, `--compute C`,
//! `--block-time MS`). Every load loop is bounded; all traffic stays on
//! loopback.

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

use atoll_crypto::Hash;
use atoll_crypto::context::ChainContext;
use atoll_crypto::ed25519::SigningKey;
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::modules::accounts::{self, Transfer};
use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
use atoll_runtime_sdk::{BatchContext, Runtime, RuntimeGenesis};
use atoll_types::{Namespace, Quantity, cbor};
use base64::Engine as _;
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::Value;

const FUNDS: u128 = 1_000_000_000_000;

struct Options {
    txs: usize,
    senders: usize,
    probes: usize,
    probe_ms: u64,
    compute: usize,
    block_time_ms: u64,
}

fn options() -> Options {
    let mut o = Options {
        txs: 20_000,
        senders: 400,
        probes: 60,
        probe_ms: 250,
        compute: 3,
        block_time_ms: 100,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--txs", Some(v)) => o.txs = v as usize,
            ("--senders", Some(v)) => o.senders = v as usize,
            ("--probes", Some(v)) => o.probes = v as usize,
            ("--probe-ms", Some(v)) => o.probe_ms = v,
            ("--compute", Some(v)) => o.compute = v as usize,
            ("--block-time", Some(v)) => o.block_time_ms = v,
            _ => {}
        }
        i += 1;
    }
    // Checks accept nonces up to 64 ahead: keep each sender's backlog below.
    let per_sender = o.txs.div_ceil(o.senders.max(1));
    assert!(per_sender <= 64, "--txs / --senders must be at most 64");
    o
}

fn key(domain: u8, i: usize) -> TxSigner {
    let mut seed = [domain; 32];
    seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
    TxSigner::Ed25519(SigningKey::from_seed(&seed))
}

fn genesis(accounts: &[TxSigner]) -> RuntimeGenesis {
    let each = BTreeMap::from([(Denomination::NATIVE, Quantity(FUNDS))]);
    let total = BTreeMap::from([(
        Denomination::NATIVE,
        Quantity(FUNDS * accounts.len() as u128),
    )]);
    RuntimeGenesis::default()
        .with(
            "accounts",
            &accounts::Genesis {
                balances: accounts
                    .iter()
                    .map(|a| (a.address(), each.clone()))
                    .collect(),
                total_supplies: total,
                ..Default::default()
            },
        )
        .unwrap()
}

fn transfer(runtime: &Namespace, chain: &ChainContext, from: &TxSigner, nonce: u64) -> Vec<u8> {
    let body = cbor::to_value(&Transfer {
        to: key(9, 0).address(),
        amount: BaseUnits::native(1),
    })
    .unwrap();
    let mut tx = Transaction::new("accounts.Transfer", body);
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: from.address_spec(),
        nonce,
    });
    tx.auth_info.fee.gas = 3_000;
    let ctx = tx_signature_context(runtime, chain).unwrap();
    cbor::to_vec(&sign_transaction(&ctx, &tx, &[from]).unwrap()).unwrap()
}

/// Transfers per second the SDK executes in-process on a memory store.
fn sdk_limit() -> f64 {
    let runtime_id = Namespace([1; 32]);
    let chain = ChainContext::from_hash(&Hash::digest(b"bench"));
    let senders: Vec<TxSigner> = (0..200).map(|i| key(7, i)).collect();
    let rt = Runtime::standard().unwrap();
    let mut store = atoll_runtime_sdk::state::MemStore::default();
    rt.init_genesis(&mut store, &genesis(&senders)).unwrap();
    let mut best = 0f64;
    for round in 0..3u64 {
        let txs: Vec<Vec<u8>> = (0..20u64)
            .flat_map(|n| {
                senders
                    .iter()
                    .map(move |s| (s, round * 20 + n))
                    .collect::<Vec<_>>()
            })
            .map(|(s, n)| transfer(&runtime_id, &chain, s, n))
            .collect();
        let ctx = BatchContext::new(runtime_id, chain.clone(), round + 1, 1, 1).unwrap();
        let t = Instant::now();
        let out = rt.execute_batch(&ctx, &mut store, &txs).unwrap();
        let rate = txs.len() as f64 / t.elapsed().as_secs_f64();
        if let Some(bad) = out.results.iter().find(|r| !r.result.is_success()) {
            panic!("in-process transfer failed: {:?}", bad.result);
        }
        best = best.max(rate);
    }
    best
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// (round, tx hashes, when seen) of each finalized round.
type Rounds = Arc<Mutex<Vec<(u64, Vec<String>, Instant)>>>;

async fn watch(url: String, runtime: Namespace, rounds: Rounds) {
    let client = WsClientBuilder::default().build(&url).await.unwrap();
    let mut sub: Subscription<Value> = client
        .subscribe(
            "runtime_subscribeBlocks",
            rpc_params![runtime.to_string()],
            "runtime_unsubscribeBlocks",
        )
        .await
        .unwrap();
    while let Some(Ok(b)) = sub.next().await {
        let hashes = b["transactions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        rounds
            .lock()
            .unwrap()
            .push((b["round"].as_u64().unwrap_or(0), hashes, Instant::now()));
    }
}

fn included(rounds: &Rounds) -> BTreeMap<String, Instant> {
    rounds
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, hs, t)| hs.iter().map(move |h| (h.clone(), *t)))
        .collect()
}

/// Paced B probes: one every `every`, each from its own sender; returns the
/// submit times by hash.
async fn probes(
    url: String,
    runtime: Namespace,
    chain: ChainContext,
    count: usize,
    every: Duration,
    nonce_base: u64,
) -> Vec<(String, Instant)> {
    let client = HttpClientBuilder::default().build(&url).unwrap();
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(every);
    for i in 0..count {
        tick.tick().await;
        let raw = transfer(
            &runtime,
            &chain,
            &key(8, i % 16),
            nonce_base + (i / 16) as u64,
        );
        let hash = Hash::digest(&raw).to_string();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        let sent = Instant::now();
        let r: Result<Value, _> = client
            .request(
                "runtime_submitTx",
                rpc_params![runtime.to_string(), b64, false],
            )
            .await;
        if let Err(e) = r {
            eprintln!("probe {i} refused: {e}");
            continue;
        }
        out.push((hash, sent));
    }
    out
}

async fn wait_included(rounds: &Rounds, hashes: &[String], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let inc = included(rounds);
        if hashes.iter().all(|h| inc.contains_key(h)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn latencies(rounds: &Rounds, sent: &[(String, Instant)]) -> Vec<Duration> {
    let inc = included(rounds);
    let mut l: Vec<Duration> = sent
        .iter()
        .filter_map(|(h, t)| inc.get(h).map(|i| i.saturating_duration_since(*t)))
        .collect();
    l.sort();
    l
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    println!("measuring the limit (SDK transfers in-process)...");
    let limit = sdk_limit();
    println!("limit: {limit:.0} transfers/s executed in-process (one core)");

    let dir = tempfile::tempdir().unwrap();
    let senders: Vec<TxSigner> = (0..o.senders).map(|i| key(1, i)).collect();
    let probers: Vec<TxSigner> = (0..16).map(|i| key(8, i)).collect();
    let nodes: Vec<usize> = (0..o.compute).collect();
    let mut a = RuntimePlan::plain("bench-a", nodes.clone());
    a.genesis = Some(cbor::to_vec(&genesis(&senders)).unwrap());
    let mut b = RuntimePlan::plain("bench-b", nodes);
    b.genesis = Some(cbor::to_vec(&genesis(&probers)).unwrap());
    let (ida, idb) = (a.id, b.id);
    let mut net = Network::builder(common::atoll())
        .one_validator(o.compute)
        .epoch_interval(100_000)
        .plan(|p| p.block_time_ms = o.block_time_ms)
        .runtime(a)
        .runtime(b)
        .start(dir.path())
        .unwrap();
    let layout = &net.layout;
    let chain = net.chain.clone();
    let computes: Vec<String> = layout
        .nodes
        .iter()
        .filter(|n| n.name.starts_with("compute"))
        .map(|n| format!("http://{}", n.rpc))
        .collect();
    let ws = computes[0].replace("http://", "ws://");

    // Live: both runtimes ran their genesis round.
    let http = HttpClientBuilder::default().build(&computes[0]).unwrap();
    let start = Instant::now();
    'live: loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "network did not start"
        );
        let mut ok = 0;
        for id in [ida, idb] {
            let b: Result<Value, _> = http
                .request("runtime_getBlock", rpc_params![id.to_string()])
                .await;
            if b.is_ok_and(|b| b["round"].as_u64().unwrap_or(0) >= 1) {
                ok += 1;
            }
        }
        if ok == 2 {
            break 'live;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("network live after {:.1} s", start.elapsed().as_secs_f64());

    let rounds_a: Rounds = Arc::default();
    let rounds_b: Rounds = Arc::default();
    tokio::spawn(watch(ws.clone(), ida, rounds_a.clone()));
    tokio::spawn(watch(ws.clone(), idb, rounds_b.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Warm-up (not measured): one B transfer per prober, so that gossip
    // meshes, connections and caches are settled before measuring.
    let per_phase = o.probes;
    let every = Duration::from_millis(o.probe_ms);
    let warm = probes(
        computes[1 % computes.len()].clone(),
        idb,
        chain.clone(),
        16,
        every,
        0,
    )
    .await;
    let hashes: Vec<String> = warm.iter().map(|(h, _)| h.clone()).collect();
    assert!(
        wait_included(&rounds_b, &hashes, Duration::from_secs(60)).await,
        "B warm-up not all included"
    );

    // Phase 1: B alone.
    let alone = probes(
        computes[1 % computes.len()].clone(),
        idb,
        chain.clone(),
        per_phase,
        every,
        1,
    )
    .await;
    let hashes: Vec<String> = alone.iter().map(|(h, _)| h.clone()).collect();
    assert!(
        wait_included(&rounds_b, &hashes, Duration::from_secs(60)).await,
        "B probes (alone) not all included"
    );
    let lat_alone = latencies(&rounds_b, &alone);

    // Phase 2: A saturated, B paced as before.
    println!(
        "signing {} A transfers from {} senders...",
        o.txs, o.senders
    );
    let per_sender = o.txs.div_ceil(o.senders);
    let mut a_txs: Vec<(String, String)> = Vec::with_capacity(o.txs);
    for n in 0..per_sender {
        for s in &senders {
            if a_txs.len() < o.txs {
                let raw = transfer(&ida, &chain, s, n as u64);
                a_txs.push((
                    Hash::digest(&raw).to_string(),
                    base64::engine::general_purpose::STANDARD.encode(&raw),
                ));
            }
        }
    }
    let a_hashes: Vec<String> = a_txs.iter().map(|(h, _)| h.clone()).collect();
    let flood_start = Instant::now();
    let flood = {
        let computes = computes.clone();
        tokio::spawn(async move {
            let clients: Vec<_> = computes
                .iter()
                .map(|u| {
                    HttpClientBuilder::default()
                        .max_request_size(64 << 20)
                        .request_timeout(Duration::from_secs(120))
                        .build(u)
                        .unwrap()
                })
                .collect();
            let mut refused = 0usize;
            for (i, chunk) in a_txs.chunks(2_000).enumerate() {
                let batch: Vec<String> = chunk.iter().map(|(_, b)| b.clone()).collect();
                let r: Value = clients[i % clients.len()]
                    .request("runtime_submitTxs", rpc_params![ida.to_string(), batch])
                    .await
                    .unwrap();
                refused += r
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| x.get("error").is_some())
                    .count();
            }
            refused
        })
    };
    let loaded = probes(
        computes[1 % computes.len()].clone(),
        idb,
        chain.clone(),
        per_phase,
        every,
        (1 + per_phase / 16 + 1) as u64,
    )
    .await;
    let refused = flood.await.unwrap();
    let hashes: Vec<String> = loaded.iter().map(|(h, _)| h.clone()).collect();
    let b_done = wait_included(&rounds_b, &hashes, Duration::from_secs(120)).await;
    let a_done = wait_included(&rounds_a, &a_hashes, Duration::from_secs(300)).await;
    let lat_loaded = latencies(&rounds_b, &loaded);

    let inc_a = included(&rounds_a);
    let last_a = a_hashes.iter().filter_map(|h| inc_a.get(h)).max().copied();
    let finalized_a = a_hashes.iter().filter(|h| inc_a.contains_key(*h)).count();
    let span = last_a.map_or(Duration::ZERO, |t| t.saturating_duration_since(flood_start));
    let tps = finalized_a as f64 / span.as_secs_f64().max(1e-9);
    let a_rounds: Vec<(u64, usize, Instant)> = rounds_a
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, hs, t)| !hs.is_empty() && *t >= flood_start)
        .map(|(r, hs, t)| (*r, hs.len(), *t))
        .collect();
    let interval = if a_rounds.len() > 1 {
        a_rounds[a_rounds.len() - 1]
            .2
            .saturating_duration_since(a_rounds[0].2)
            / (a_rounds.len() as u32 - 1)
    } else {
        Duration::ZERO
    };
    let biggest = a_rounds.iter().map(|r| r.1).max().unwrap_or(0);

    net.stop_all();

    let (p50a, p99a) = (percentile(&lat_alone, 50), percentile(&lat_alone, 99));
    let (p50l, p99l) = (percentile(&lat_loaded, 50), percentile(&lat_loaded, 99));
    println!();
    println!(
        "== ParaTime benchmark: 1 validator, {} compute nodes, 2 ParaTimes, {} ms blocks ==",
        o.compute, o.block_time_ms
    );
    println!("limit (SDK in-process)      : {limit:.0} transfers/s");
    println!(
        "A saturated                 : {finalized_a}/{} finalized in {:.2} s = {tps:.0} transfers/s ({:.3} of the limit); {refused} refused at submission",
        o.txs,
        span.as_secs_f64(),
        tps / limit
    );
    println!(
        "A rounds under load         : {} rounds with transactions, one every {} ms, up to {biggest} transactions each",
        a_rounds.len(),
        interval.as_millis()
    );
    println!(
        "B alone     ({} probes, 1 per {} ms): p50 {} ms, p99 {} ms",
        lat_alone.len(),
        o.probe_ms,
        p50a.as_millis(),
        p99a.as_millis()
    );
    println!(
        "B with A saturated ({} probes): p50 {} ms, p99 {} ms",
        lat_loaded.len(),
        p50l.as_millis(),
        p99l.as_millis()
    );
    let ratio = p99l.as_secs_f64() / p99a.as_secs_f64().max(1e-9);
    println!(
        "isolation: B p99 loaded / alone = {ratio:.2} (goal <= 1.5: {})",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
    if !a_done || !b_done {
        println!("WARNING: not every transaction was finalized in time (A: {a_done}, B: {b_done})");
    }
}

//! EVM ParaTime benchmark: a validator and compute nodes as `atoll node`
//! processes on 127.0.0.1 running the built-in EVM ParaTime, fed signed
//! ERC-20 `transfer` transactions with `eth_sendRawTransaction` (JSON-RPC
//! batches of 100 over 8 concurrent connections) on the first compute
//! node's Ethereum JSON-RPC.
//!
//! Prints, from one run on this machine:
//! - the limit: the same transactions (sender recovery included) executed
//!   by plain revm in memory, one core, no network, storage or consensus;
//! - end to end: transfers finalized per second and Mgas/s, from the first
//!   submission to the last transaction in an indexed block, and the ratio
//!   to the limit (goal: at least 0.25);
//! - with more than one compute node, that ratio times the compute nodes:
//!   each of them checks, recovers and executes every transaction on the
//!   same cores, while the limit executes it once.
//!
//! `cargo bench -p atoll-bench --bench evm` (options after `--`: `--txs N`,
//! `--senders K`, `--compute C`, `--block-time MS`, `--gas-limit G` of
//! each transfer (80,000), `--verbose`: every block and its timing, node
//! logs kept). Every load loop is
//! bounded; all traffic stays on loopback.

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

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use atoll_evm::bench::RawRevm;
use atoll_evm::tx::{DynamicFeeTx, U256, address_of, create_address, sign_eip1559};
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_types::cbor;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;

const CHAIN_ID: u64 = 0xa70c;
/// Native balance of every account (gas).
const FUNDS: u128 = 1_000_000 * 1_000_000_000_000_000_000;
/// The gas price offered (the localnet minimum is 1 gwei).
const GAS_PRICE: u64 = 1_000_000_000;
/// Gas limit of a transfer by default (it uses about 35k-52k); the
/// proposer packs a block by gas limits, so this caps a block at 375
/// transfers (`--gas-limit` to change it).
const TRANSFER_GAS: u64 = 80_000;
/// Concurrent JSON-RPC connections sending the load (as many clients
/// would).
const CONNECTIONS: usize = 8;
/// Checks accept nonces up to this far ahead of an account's.
const NONCE_AHEAD: usize = 64;

struct Options {
    txs: usize,
    senders: usize,
    compute: usize,
    block_time_ms: u64,
    /// `--verbose`: print every block and keep the nodes' directory.
    verbose: bool,
    /// `--gas-limit G`: the gas limit of each measured transfer.
    gas_limit: u64,
}

fn options() -> Options {
    let mut o = Options {
        txs: 10_000,
        senders: 250,
        compute: 3,
        block_time_ms: 100,
        verbose: false,
        gas_limit: TRANSFER_GAS,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match (args[i].as_str(), value) {
            ("--txs", Some(v)) => o.txs = v as usize,
            ("--senders", Some(v)) => o.senders = v as usize,
            ("--compute", Some(v)) => o.compute = v as usize,
            ("--block-time", Some(v)) => o.block_time_ms = v,
            ("--verbose", _) => o.verbose = true,
            ("--gas-limit", Some(v)) => o.gas_limit = v,
            _ => {}
        }
        i += 1;
    }
    assert!(
        o.txs.div_ceil(o.senders.max(1)) <= NONCE_AHEAD,
        "--txs / --senders must be at most {NONCE_AHEAD}"
    );
    o
}

fn secret(domain: u8, i: usize) -> [u8; 32] {
    let mut s = [domain; 32];
    s[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    s
}

/// The Token contract compiled by solc-js (`tests/web3-clients`).
fn token_bytecode() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/web3-clients/artifacts/contracts.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    hex::decode(
        v["Token"]["bytecode"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap()
}

fn word(v: U256) -> [u8; 32] {
    v.to_be_bytes::<32>()
}

fn abi_string(out: &mut Vec<u8>, s: &str) {
    assert!(s.len() <= 32);
    out.extend_from_slice(&word(U256::from(s.len())));
    let mut padded = [0u8; 32];
    padded[..s.len()].copy_from_slice(s.as_bytes());
    out.extend_from_slice(&padded);
}

/// Init code of `Token(name, symbol, supply)`.
fn token_init_code(supply: U256) -> Vec<u8> {
    let mut code = token_bytecode();
    code.extend_from_slice(&word(U256::from(0x60)));
    code.extend_from_slice(&word(U256::from(0xa0)));
    code.extend_from_slice(&word(supply));
    abi_string(&mut code, "Bench");
    abi_string(&mut code, "BNC");
    code
}

/// Calldata of `transfer(to, value)`.
fn transfer_call(to: &[u8; 20], value: u64) -> Vec<u8> {
    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
    let mut addr = [0u8; 32];
    addr[12..].copy_from_slice(to);
    data.extend_from_slice(&addr);
    data.extend_from_slice(&word(U256::from(value)));
    data
}

fn signed(
    secret: &[u8; 32],
    nonce: u64,
    to: Option<[u8; 20]>,
    gas: u64,
    input: Vec<u8>,
) -> Vec<u8> {
    let tx = DynamicFeeTx {
        chain_id: CHAIN_ID,
        nonce,
        max_priority_fee_per_gas: U256::ZERO,
        max_fee_per_gas: U256::from(GAS_PRICE),
        gas_limit: gas,
        to: to.map(atoll_crypto::secp256k1::EthAddress),
        value: U256::ZERO,
        input,
        access_list: Vec::new(),
    };
    sign_eip1559(&tx, secret).unwrap()
}

fn hex0x(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Sends raw transactions in JSON-RPC batches; panics on any refusal.
async fn send_all(client: &HttpClient, raws: &[Vec<u8>], per_batch: usize) {
    for chunk in raws.chunks(per_batch) {
        let mut batch = BatchRequestBuilder::new();
        for raw in chunk {
            batch
                .insert("eth_sendRawTransaction", rpc_params![hex0x(raw)])
                .unwrap();
        }
        let out = client.batch_request::<String>(batch).await.unwrap();
        for r in out.into_iter() {
            if let Err(e) = r {
                panic!("eth_sendRawTransaction refused: {e:?}");
            }
        }
    }
}

/// Blocks seen so far: number → (tx hashes, gas used, when first seen).
type Blocks = BTreeMap<u64, (Vec<String>, u64, Instant)>;

/// Reads every new block up to the head into `blocks`.
async fn poll_blocks(client: &HttpClient, blocks: &mut Blocks) {
    let head: Value = client
        .request("eth_blockNumber", rpc_params![])
        .await
        .unwrap();
    let head = quantity(&head);
    let from = blocks.keys().next_back().map_or(0, |n| n + 1);
    for n in from..=head {
        let b: Value = client
            .request(
                "eth_getBlockByNumber",
                rpc_params![format!("{n:#x}"), false],
            )
            .await
            .unwrap();
        if b.is_null() {
            continue;
        }
        let txs = b["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        blocks.insert(n, (txs, quantity(&b["gasUsed"]), Instant::now()));
    }
}

/// Waits (bounded) until every hash is in a block; returns when the last
/// one was seen. Each block is looked at once (the harness shares the
/// machine with the network it measures).
async fn wait_all(
    client: &HttpClient,
    blocks: &mut Blocks,
    hashes: &[String],
    limit: Duration,
) -> Instant {
    let mut want: BTreeSet<&String> = hashes.iter().collect();
    let deadline = Instant::now() + limit;
    let mut last = None;
    let mut seen = 0;
    loop {
        poll_blocks(client, blocks).await;
        for (txs, _, t) in blocks.range(seen..).map(|(_, b)| b) {
            for h in txs {
                if want.remove(h) {
                    last = Some(last.map_or(*t, |l: Instant| l.max(*t)));
                }
            }
        }
        seen = blocks.keys().next_back().map_or(0, |n| n + 1);
        if want.is_empty() {
            return last.unwrap_or_else(Instant::now);
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} transactions not finalized within {limit:?}",
            want.len(),
            hashes.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A JSON-RPC client of the gateway at `addr`, for large batches.
fn web3_client(addr: &str) -> HttpClient {
    HttpClientBuilder::default()
        .max_request_size(64 << 20)
        .max_response_size(64 << 20)
        .request_timeout(Duration::from_secs(120))
        .build(format!("http://{addr}"))
        .unwrap()
}

/// `token.balanceOf(owner)` on the latest block.
async fn token_balance(client: &HttpClient, token: &[u8; 20], owner: &[u8; 20]) -> U256 {
    let balance: Value = client
        .request(
            "eth_call",
            rpc_params![
                serde_json::json!({
                    "to": hex0x(token),
                    "data": hex0x(&atoll_evm::erc20::balance_of_calldata(owner)),
                }),
                "latest"
            ],
        )
        .await
        .unwrap();
    U256::from_str_radix(balance.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn eth_hash(raw: &[u8]) -> String {
    hex0x(&atoll_crypto::keccak256(raw))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    let deployer = secret(1, 0);
    let senders: Vec<[u8; 32]> = (0..o.senders).map(|i| secret(2, i)).collect();
    let deployer_addr = address_of(&deployer).unwrap();
    let token = create_address(&deployer_addr, 0);
    let token_bytes: [u8; 20] = *token.as_bytes();
    let recipient = *address_of(&secret(3, 0)).unwrap().as_bytes();

    // Every transaction of the run, signed up front.
    let per_sender = o.txs.div_ceil(o.senders);
    let deploy = signed(
        &deployer,
        0,
        None,
        3_000_000,
        token_init_code(U256::from(u64::MAX)),
    );
    let funding: Vec<Vec<u8>> = senders
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let to = *address_of(s).unwrap().as_bytes();
            signed(
                &deployer,
                i as u64 + 1,
                Some(token_bytes),
                TRANSFER_GAS,
                transfer_call(&to, 1_000_000),
            )
        })
        .collect();
    // Each sending connection carries its own senders, so that a sender's
    // transactions arrive in nonce order.
    let mut load = Vec::with_capacity(o.txs);
    let mut streams: Vec<Vec<Vec<u8>>> = vec![Vec::new(); CONNECTIONS];
    for n in 0..per_sender {
        for (i, s) in senders.iter().enumerate() {
            if load.len() < o.txs {
                let raw = signed(
                    s,
                    n as u64,
                    Some(token_bytes),
                    o.gas_limit,
                    transfer_call(&recipient, 1),
                );
                streams[i % CONNECTIONS].push(raw.clone());
                load.push(raw);
            }
        }
    }

    println!("measuring the limit (plain revm in memory, sender recovery included)...");
    let limit = raw_revm_limit(&deployer, &senders, &deploy, &funding, &load);
    println!(
        "limit: {:.0} transfers/s, {:.1} Mgas/s executed by revm in memory (one core)",
        limit.0, limit.1
    );

    // The network.
    let dir = tempfile::tempdir().unwrap();
    let mut funded: Vec<[u8; 20]> = vec![*deployer_addr.as_bytes()];
    funded.extend(senders.iter().map(|s| *address_of(s).unwrap().as_bytes()));
    let mut evm = RuntimePlan::evm("bench-evm", (0..o.compute).collect());
    evm.genesis = Some(genesis(&funded));
    let mut net = Network::builder(common::atoll())
        .one_validator(o.compute)
        .epoch_interval(100_000)
        .plan(|p| p.block_time_ms = o.block_time_ms)
        .runtime(evm)
        .start(dir.path())
        .unwrap();
    let compute0 = net.node("compute-0").unwrap();
    let config = atoll_node::NodeConfig::load(&compute0.config).unwrap();
    let web3 = config.runtimes[0].web3.unwrap();
    let web3 = web3.to_string();
    let client = web3_client(&web3);
    let start = Instant::now();
    loop {
        if start.elapsed() >= Duration::from_secs(120) {
            panic!(
                "network did not start (node logs kept in {})",
                dir.keep().display()
            );
        }
        let n: Result<Value, _> = client.request("eth_blockNumber", rpc_params![]).await;
        if n.is_ok_and(|n| quantity(&n) >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("network live after {:.1} s", start.elapsed().as_secs_f64());

    // Deploy the token and give every sender some (not measured).
    let mut blocks = Blocks::new();
    send_all(&client, std::slice::from_ref(&deploy), 1).await;
    wait_all(
        &client,
        &mut blocks,
        &[eth_hash(&deploy)],
        Duration::from_secs(60),
    )
    .await;
    for chunk in funding.chunks(NONCE_AHEAD) {
        send_all(&client, chunk, 100).await;
        let hashes: Vec<String> = chunk.iter().map(|r| eth_hash(r)).collect();
        wait_all(&client, &mut blocks, &hashes, Duration::from_secs(60)).await;
    }
    let first_sender = *address_of(&senders[0]).unwrap().as_bytes();
    assert_eq!(
        token_balance(&client, &token_bytes, &first_sender).await,
        U256::from(1_000_000u64),
        "a sender's token balance after funding"
    );

    // The measured load.
    println!("sending {} transfers from {} senders...", o.txs, o.senders);
    let hashes: Vec<String> = load.iter().map(|r| eth_hash(r)).collect();
    let first_block = blocks.keys().next_back().map_or(0, |n| n + 1);
    let sent_at = Instant::now();
    let senders: Vec<_> = streams
        .into_iter()
        .map(|stream| {
            let client = web3_client(&web3);
            tokio::spawn(async move {
                send_all(&client, &stream, 100).await;
                Instant::now()
            })
        })
        .collect();
    let done = wait_all(&client, &mut blocks, &hashes, Duration::from_secs(600)).await;
    let mut accepted = sent_at;
    for s in senders {
        accepted = accepted.max(s.await.unwrap());
    }
    let secs = done.duration_since(sent_at).as_secs_f64();
    let accept_secs = accepted.duration_since(sent_at).as_secs_f64();
    println!(
        "ingestion: all {} accepted by eth_sendRawTransaction after {accept_secs:.2} s ({:.0} tx/s)",
        o.txs,
        o.txs as f64 / accept_secs
    );
    if o.verbose {
        let mut prev = sent_at;
        for (n, (txs, gas, t)) in blocks.range(first_block..) {
            println!(
                "block {n}: {} txs, {gas} gas, seen {:.0} ms after the previous",
                txs.len(),
                t.duration_since(prev).as_secs_f64() * 1e3
            );
            prev = *t;
        }
        println!("node logs kept in {}", dir.keep().display());
    }
    // Every measured transfer moved 1 token to the recipient: counting a
    // transaction as done means it succeeded, not only that it was included
    // (a gas limit set too low would fail transfers and still fill blocks).
    assert_eq!(
        token_balance(&client, &token_bytes, &recipient).await,
        U256::from(o.txs as u64),
        "the recipient's tokens after the run: some transfers failed"
    );
    let gas: u64 = blocks.range(first_block..).map(|(_, (_, g, _))| g).sum();
    let rounds = blocks.range(first_block..).count();
    let rate = o.txs as f64 / secs;
    let mgas = gas as f64 / secs / 1e6;
    println!(
        "end to end: {} transfers in {secs:.2} s over {rounds} blocks: {rate:.0} transfers/s, {mgas:.1} Mgas/s",
        o.txs
    );
    println!(
        "ratio to the limit: {:.3} (goal: at least 0.25); compute nodes: {}, block time {} ms",
        rate / limit.0,
        o.compute,
        o.block_time_ms
    );
    if o.compute > 1 {
        // Every compute node checks, recovers and executes every
        // transaction, here on the same cores: the per-node figure is the
        // one comparable with the limit (one execution), as the consensus
        // bench divides its goal by the validators sharing the machine.
        println!(
            "ratio per compute node sharing the machine: {:.3} ({} x {:.3})",
            rate / limit.0 * o.compute as f64,
            o.compute,
            rate / limit.0
        );
    }
    for p in &mut net.procs {
        p.kill();
    }
}

/// The EVM ParaTime's genesis with `funded` Ethereum accounts holding
/// [`FUNDS`].
fn genesis(funded: &[[u8; 20]]) -> Vec<u8> {
    let funded: Vec<([u8; 20], u128)> = funded.iter().map(|a| (*a, FUNDS)).collect();
    cbor::to_vec(&atoll_runtime_evm::localnet_genesis(CHAIN_ID, &funded).unwrap()).unwrap()
}

/// Transfers per second and Mgas/s of plain revm executing `load` in
/// memory (sender recovery included), after the same deployment and
/// funding; the best of three runs on fresh states.
fn raw_revm_limit(
    deployer: &[u8; 32],
    senders: &[[u8; 32]],
    deploy: &[u8],
    funding: &[Vec<u8>],
    load: &[Vec<u8>],
) -> (f64, f64) {
    let mut best = (0f64, 0f64);
    for _ in 0..3 {
        let mut evm = RawRevm::new(CHAIN_ID);
        for s in std::iter::once(deployer).chain(senders) {
            evm.fund(*address_of(s).unwrap().as_bytes(), U256::from(FUNDS));
        }
        let setup = evm.execute(&[deploy.to_vec()]).unwrap();
        assert_eq!(setup.succeeded, 1, "revm deploy");
        let funded = evm.execute(funding).unwrap();
        assert_eq!(funded.succeeded, funding.len(), "revm funding");
        let r = evm.execute(load).unwrap();
        assert_eq!(r.succeeded, load.len(), "revm transfers");
        let secs = r.total_time().as_secs_f64();
        if r.tps() > best.0 {
            best = (r.tps(), r.gas_used as f64 / secs / 1e6);
        }
    }
    best
}

//! Consensus throughput: blocks of `staking.Transfer` transactions applied
//! through the whole pipeline (strict decoding, one Ed25519 batch per block,
//! nonces, fees, state writes), against the rate at which this machine
//! batch-verifies Ed25519 signatures, measured in the same run.
//!
//! Run: `cargo bench -p atoll-consensus --bench blocks`
//! (`ATOLL_BENCH_BLOCKS` sets the number of blocks, default 20;
//! `ATOLL_BENCH_TXS` the transactions per block, default 1000).

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark binary reports on stdout and only handles inputs it built"
)]

use std::time::Instant;

use atoll_consensus::app::{App, Block};
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::staking::{Account, Parameters, Transfer, methods};
use atoll_crypto::Address;
use atoll_crypto::ed25519::{BatchVerifier, SigningKey};
use atoll_mkvs::state_store::MkvsStore;
use atoll_state::MemStore;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let blocks = env("ATOLL_BENCH_BLOCKS", 20);
    let per_block = env("ATOLL_BENCH_TXS", 1000);

    let keys: Vec<SigningKey> = (0..per_block)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            SigningKey::from_seed(&seed)
        })
        .collect();
    let mut genesis = Genesis {
        chain_id: "bench".into(),
        debug: true,
        ..Genesis::default()
    };
    genesis.beacon.interval = 1_000_000;
    genesis.staking.parameters = Parameters {
        debonding_interval: 1,
        ..Parameters::default()
    };
    for k in &keys {
        let mut a = Account::default();
        a.general.balance = Quantity(1_000_000_000);
        genesis
            .staking
            .ledger
            .insert(Address::from_ed25519(&k.public_key()), a);
    }
    genesis.staking.total_supply = Quantity(1_000_000_000 * per_block as u128);
    let app = App::new(&genesis).expect("valid genesis");

    // Pre-build every block: each sender sends one transfer per block.
    let built: Vec<Block> = (0..blocks)
        .map(|b| {
            let txs = keys
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let to = Address::from_ed25519(&keys[(i + 1) % keys.len()].public_key());
                    let tx = Transaction::call(
                        b as u64,
                        Fee::new(Quantity(10), 2000),
                        methods::TRANSFER,
                        &Transfer {
                            to,
                            amount: Quantity(1),
                        },
                    )
                    .unwrap();
                    let signed = Signed::sign(k, app.tx_context(), &tx).unwrap();
                    serde_bytes::ByteBuf::from(cbor::to_vec(&signed).unwrap())
                })
                .collect();
            Block {
                height: b as u64 + 1,
                time: b as u64,
                proposer: Some(Address::from_ed25519(&keys[0].public_key())),
                signers: vec![(Address::from_ed25519(&keys[0].public_key()), 1)],
                prev_hash: atoll_crypto::Hash::digest(&(b as u64).to_be_bytes()),
                txs,
                equivocators: vec![],
            }
        })
        .collect();

    // The limit: batch verification of the same number of signatures.
    let sample: Vec<(
        atoll_crypto::ed25519::PublicKey,
        Vec<u8>,
        atoll_crypto::ed25519::Signature,
    )> = built[0]
        .txs
        .iter()
        .map(|raw| {
            let s: atoll_types::transaction::SignedTransaction = cbor::from_slice(raw).unwrap();
            (
                s.signature.public_key,
                s.untrusted_raw_value,
                s.signature.signature,
            )
        })
        .collect();
    let rounds = blocks.max(5);
    let start = Instant::now();
    for _ in 0..rounds {
        let mut batch = BatchVerifier::with_capacity(sample.len());
        for (pk, msg, sig) in &sample {
            batch.queue(pk, app.tx_context(), msg, sig);
        }
        batch.verify().expect("valid signatures");
    }
    let verify_rate = (rounds * sample.len()) as f64 / start.elapsed().as_secs_f64();

    let mut store = MemStore::new();
    app.init_chain(&mut store, &genesis).expect("init");
    let mut latencies = Vec::with_capacity(blocks);
    let start = Instant::now();
    for block in &built {
        let t = Instant::now();
        let result = app.apply_block(&mut store, block).expect("block applies");
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(
            result.tx_results.iter().all(|r| r.error.is_none()),
            "every transfer succeeds"
        );
    }
    let elapsed = start.elapsed().as_secs_f64();
    let tps = (blocks * per_block) as f64 / elapsed;
    latencies.sort_by(f64::total_cmp);
    let p50 = latencies[latencies.len() / 2];

    // The same blocks on MKVS on disk (the node's configuration): apply, then
    // commit each height as a durable version.
    let dir = tempfile::tempdir().expect("temp dir");
    let db =
        atoll_mkvs::Mkvs::open(dir.path(), atoll_mkvs::Options::default()).expect("mkvs opens");
    let mut genesis_state = MkvsStore::open(&db).expect("overlay");
    app.init_chain(&mut genesis_state, &genesis).expect("init");
    genesis_state.commit(0).expect("commit");
    let mut mkvs_latencies = Vec::with_capacity(blocks);
    let start = Instant::now();
    for block in &built {
        let t = Instant::now();
        let mut state = MkvsStore::open(&db).expect("overlay");
        app.apply_block(&mut state, block).expect("block applies");
        state.commit(block.height).expect("commit");
        mkvs_latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mkvs_tps = (blocks * per_block) as f64 / start.elapsed().as_secs_f64();
    mkvs_latencies.sort_by(f64::total_cmp);
    let mkvs_p50 = mkvs_latencies[mkvs_latencies.len() / 2];

    println!("consensus blocks: {blocks} blocks x {per_block} staking.Transfer");
    println!("  applied, MemStore:      {tps:>10.0} tx/s  (median block {p50:.1} ms)");
    println!(
        "  applied + committed, MKVS on disk: {mkvs_tps:>10.0} tx/s  (median block {mkvs_p50:.1} ms)"
    );
    println!("  ed25519 batch verify:   {verify_rate:>10.0} sig/s (same machine, same run)");
    println!(
        "  ratio, MemStore:        {:>10.2} of the batch-verify limit",
        tps / verify_rate
    );
    println!(
        "  ratio, MKVS on disk:    {:>10.2} of the batch-verify limit",
        mkvs_tps / verify_rate
    );
}

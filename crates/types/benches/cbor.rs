//! Criterion benchmarks of the codec on a transaction-shaped body: encoding,
//! strict decoding, canonical decoding (decode + re-encode + compare), and
//! opening a signed envelope (verify + canonical decode), which is the
//! per-transaction cost of ingress before any state is touched.
//!
//! Run: `cargo bench -p atoll-types --bench cbor`.

#![allow(
    clippy::expect_used,
    reason = "benchmarks only handle inputs they built themselves"
)]

use std::hint::black_box;

use atoll_crypto::Hash;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::SigningKey;
use atoll_types::{Address, Quantity, Signed, cbor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fee {
    amount: Quantity,
    gas: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Transfer {
    to: Address,
    amount: Quantity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tx {
    nonce: u64,
    fee: Fee,
    method: String,
    body: Transfer,
}

fn tx() -> Tx {
    Tx {
        nonce: 7,
        fee: Fee {
            amount: Quantity::from(2_000u64),
            gas: 1_000,
        },
        method: "staking.Transfer".into(),
        body: Transfer {
            to: Address::from_ed25519(&SigningKey::from_seed(&[2; 32]).public_key()),
            amount: Quantity::from(10_000_000_000u64),
        },
    }
}

fn bench(c: &mut Criterion) {
    let tx = tx();
    let bytes = cbor::to_vec(&tx).expect("encodes");
    let chain = ChainContext::from_hash(&Hash::digest(b"bench genesis"));
    let ctx = Context::for_chain("oasis-core/consensus: tx", &chain).expect("valid context");
    let signed = Signed::sign(&SigningKey::from_seed(&[1; 32]), &ctx, &tx).expect("signs");
    let wire = cbor::to_vec(&signed).expect("encodes");

    let mut g = c.benchmark_group("cbor");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("to_vec tx", |b| b.iter(|| cbor::to_vec(black_box(&tx))));
    g.bench_function("decode_value tx", |b| {
        b.iter(|| cbor::decode_value(black_box(&bytes)))
    });
    g.bench_function("from_slice tx", |b| {
        b.iter(|| cbor::from_slice::<Tx>(black_box(&bytes)))
    });
    g.bench_function("from_slice_canonical tx", |b| {
        b.iter(|| cbor::from_slice_canonical::<Tx>(black_box(&bytes)))
    });
    g.finish();

    let mut g = c.benchmark_group("signed");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode envelope + open", |b| {
        b.iter(|| {
            let s: Signed<Tx> = cbor::from_slice(black_box(&wire)).expect("decodes");
            s.open(&ctx)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

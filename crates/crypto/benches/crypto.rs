//! Criterion benchmarks of the primitives whose rates are the machine limits
//! that atoll's end-to-end benchmarks are compared against: Ed25519
//! verification (single and batched), secp256k1 public-key recovery (the cost
//! of admitting an Ethereum transaction) and Deoxys-II sealing/opening (the
//! cost of a confidential call).
//!
//! Run: `cargo bench -p atoll-crypto --bench crypto`.

#![allow(
    clippy::expect_used,
    reason = "benchmarks only handle inputs they built themselves"
)]

use std::hint::black_box;

use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::{BatchVerifier, SigningKey};
use atoll_crypto::{Hash, keccak256, mrae, secp256k1};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

fn signed_batch(
    n: usize,
) -> (
    Context,
    Vec<(SigningKey, Vec<u8>, atoll_crypto::ed25519::Signature)>,
) {
    let chain = ChainContext::from_hash(&Hash::digest(b"bench genesis"));
    let ctx = Context::for_chain("oasis-core/consensus: tx", &chain).expect("valid context");
    let items = (0..n)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let key = SigningKey::from_seed(&seed);
            let msg = format!("transfer number {i}").into_bytes();
            let sig = key.sign(&ctx, &msg);
            (key, msg, sig)
        })
        .collect();
    (ctx, items)
}

fn ed25519(c: &mut Criterion) {
    let (ctx, items) = signed_batch(1024);
    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(1));
    let (key, msg, sig) = &items[0];
    g.bench_function("sign", |b| b.iter(|| key.sign(&ctx, black_box(msg))));
    let pk = key.public_key();
    g.bench_function("verify", |b| {
        b.iter(|| {
            pk.verify(&ctx, black_box(msg), black_box(sig))
                .expect("valid")
        })
    });
    for n in [64usize, 1024] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("verify_batch_{n}"), |b| {
            b.iter_batched(
                || {
                    let mut batch = BatchVerifier::with_capacity(n);
                    for (k, m, s) in &items[..n] {
                        batch.queue(&k.public_key(), &ctx, m, s);
                    }
                    batch
                },
                |batch| batch.verify().expect("valid batch"),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn secp256k1_recover(c: &mut Criterion) {
    let key = secp256k1::SigningKey::from_bytes(&[0x42; 32]).expect("valid key");
    let digest = keccak256(b"an ethereum transaction");
    let sig = key.sign_prehash(&digest);
    let mut g = c.benchmark_group("secp256k1");
    g.throughput(Throughput::Elements(1));
    g.bench_function("recover", |b| {
        b.iter(|| secp256k1::recover(black_box(&digest), black_box(&sig)).expect("valid"))
    });
    g.bench_function("sign", |b| b.iter(|| key.sign_prehash(black_box(&digest))));
    g.finish();
}

fn deoxysii(c: &mut Criterion) {
    let key = [7u8; mrae::KEY_SIZE];
    let nonce = [9u8; mrae::NONCE_SIZE];
    let mut g = c.benchmark_group("deoxysii");
    for size in [64usize, 1024] {
        let plaintext = vec![0xabu8; size];
        let sealed = mrae::seal(&key, &nonce, &plaintext, b"");
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("seal_{size}B"), |b| {
            b.iter(|| mrae::seal(&key, &nonce, black_box(&plaintext), b""))
        });
        g.bench_function(format!("open_{size}B"), |b| {
            b.iter(|| mrae::open(&key, &nonce, black_box(&sealed), b"").expect("valid"))
        });
    }
    g.finish();
}

criterion_group!(benches, ed25519, secp256k1_recover, deoxysii);
criterion_main!(benches);

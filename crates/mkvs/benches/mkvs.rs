//! MKVS throughput benchmark against the raw engine, in the same run.
//!
//! Workload (issue 3): `MKVS_BENCH_KEYS` (default 1,000,000) random 32-byte
//! keys with 100-byte values, written in batches of `MKVS_BENCH_BATCH`
//! (default 1,000), one durable commit per batch; first as raw engine batch
//! writes, then through MKVS (insert + commit). Then random reads, proof
//! sizes and proof verification time. `MKVS_BENCH_ENGINES` picks engines
//! (`fjall`, `redb`, comma-separated; default `fjall`), `MKVS_BENCH_RAW_ONLY=1`
//! skips MKVS, `MKVS_BENCH_MEM=1` runs MKVS on the in-memory engine (to
//! separate the trie's CPU cost from the engine's), `MKVS_BENCH_DIR` sets where the databases go (default: a
//! temporary directory under `target/`).
//!
//! Run: `cargo bench -p atoll-mkvs --bench mkvs`

// A benchmark binary reports on stdout and gives up loudly on failure.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atoll_mkvs::engine::{FjallEngine, KvEngine, RedbEngine};
use atoll_mkvs::{EngineKind, Mkvs, Options, proof};
use atoll_types::Namespace;

/// splitmix64: a tiny deterministic generator for keys and values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for c in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn key(i: u64) -> Vec<u8> {
    let mut r = Rng(i.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xabcdef);
    let mut k = vec![0u8; 32];
    r.fill(&mut k);
    k
}

fn value(i: u64) -> Vec<u8> {
    let mut r = Rng(i ^ 0x5555);
    let mut v = vec![0u8; 100];
    r.fill(&mut v);
    v
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn open_raw(kind: EngineKind, dir: &Path) -> Box<dyn KvEngine> {
    match kind {
        EngineKind::Fjall => Box::new(FjallEngine::open(&dir.join("raw")).unwrap()),
        EngineKind::Redb => Box::new(RedbEngine::open(&dir.join("raw.redb")).unwrap()),
    }
}

fn dir_size(p: &Path) -> u64 {
    let Ok(md) = std::fs::metadata(p) else {
        return 0;
    };
    if md.is_file() {
        return md.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

fn run(kind: EngineKind, base: &Path, n: usize, batch: usize, raw_only: bool) {
    let name = format!("{kind:?}").to_lowercase();
    let dir = base.join(&name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let batches = n / batch;
    println!("== engine {name}: {n} keys, {batches} batches of {batch}");

    // Raw engine: the same pairs as plain batch writes.
    let raw = open_raw(kind, &dir);
    let t = Instant::now();
    for b in 0..batches {
        let ops = (0..batch)
            .map(|j| {
                let i = (b * batch + j) as u64;
                (key(i), Some(value(i)))
            })
            .collect();
        raw.write(ops).unwrap();
    }
    let raw_time = t.elapsed();
    let raw_rate = rate(n, raw_time);
    println!(
        "raw   write: {:>8.2} s  {:>10.0} keys/s  {:>8.1} commits/s",
        raw_time.as_secs_f64(),
        raw_rate,
        rate(batches, raw_time)
    );
    let mut rng = Rng(42);
    let reads = 100_000.min(n);
    let t = Instant::now();
    for _ in 0..reads {
        let i = rng.next() % n as u64;
        assert!(raw.get(&key(i)).unwrap().is_some());
    }
    println!("raw   reads: {:>10.0} reads/s", rate(reads, t.elapsed()));
    drop(raw);
    let raw_size = dir_size(&dir);
    if raw_only {
        println!("raw   size : {:.1} MiB", raw_size as f64 / 1048576.0);
        return;
    }

    let path: PathBuf = dir.join("mkvs");
    let mem = std::env::var("MKVS_BENCH_MEM").is_ok_and(|v| v == "1");
    let db = if mem {
        Mkvs::in_memory()
    } else {
        Mkvs::open(&path, Options { engine: kind }).unwrap()
    };
    let ns = Namespace([1; 32]);
    let t = Instant::now();
    let mut root = atoll_crypto::Hash::empty();
    for b in 0..batches {
        let mut ov = db.overlay(ns).unwrap();
        for j in 0..batch {
            let i = (b * batch + j) as u64;
            ov.insert(&key(i), &value(i)).unwrap();
        }
        root = ov.commit(b as u64).unwrap().0;
    }
    let mkvs_time = t.elapsed();
    let mkvs_rate = rate(n, mkvs_time);
    println!(
        "mkvs  write: {:>8.2} s  {:>10.0} keys/s  {:>8.1} commits/s  ratio to raw {:.1}%",
        mkvs_time.as_secs_f64(),
        mkvs_rate,
        rate(batches, mkvs_time),
        100.0 * mkvs_rate / raw_rate
    );

    let tree = db.tree(ns, batches as u64 - 1).unwrap();
    let t = Instant::now();
    for _ in 0..reads {
        let i = rng.next() % n as u64;
        assert!(tree.get(&key(i)).unwrap().is_some());
    }
    println!(
        "mkvs  reads: {:>10.0} reads/s (warm node cache)",
        rate(reads, t.elapsed())
    );
    drop(tree);
    drop(db);
    // Cold: reopen, so every node comes from the engine.
    let db = Mkvs::open(&path, Options { engine: kind }).unwrap();
    let tree = db.tree(ns, batches as u64 - 1).unwrap();
    let cold = 20_000.min(n);
    let t = Instant::now();
    for _ in 0..cold {
        let i = rng.next() % n as u64;
        assert!(tree.get(&key(i)).unwrap().is_some());
    }
    println!(
        "mkvs  reads: {:>10.0} reads/s (after reopen)",
        rate(cold, t.elapsed())
    );

    let np = 10_000.min(n);
    let mut proofs = Vec::with_capacity(np);
    let mut bytes = 0usize;
    let t = Instant::now();
    for _ in 0..np {
        let i = rng.next() % n as u64;
        let k = key(i);
        let (_, p) = tree.get_with_proof(&k).unwrap();
        bytes += p.encode().len();
        proofs.push((k, p));
    }
    let gen_rate = rate(np, t.elapsed());
    let t = Instant::now();
    for (k, p) in &proofs {
        assert!(proof::verify(&root, k, p).unwrap().is_some());
    }
    let vt = t.elapsed();
    println!(
        "proofs     : avg {:.0} bytes, avg {:.1} steps, {:.0} generated/s, verify {:.1} us each",
        bytes as f64 / np as f64,
        proofs.iter().map(|(_, p)| p.steps.len()).sum::<usize>() as f64 / np as f64,
        gen_rate,
        vt.as_secs_f64() * 1e6 / np as f64
    );
    drop(tree);
    drop(db);
    println!(
        "disk       : raw {:.1} MiB, mkvs {:.1} MiB",
        raw_size as f64 / 1048576.0,
        dir_size(&path) as f64 / 1048576.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // else. Either way run the workload, smaller under `cargo test`.
    let n = env_usize("MKVS_BENCH_KEYS", 1_000_000);
    let batch = env_usize("MKVS_BENCH_BATCH", 1_000).max(1);
    let raw_only = std::env::var("MKVS_BENCH_RAW_ONLY").is_ok_and(|v| v == "1");
    let engines = std::env::var("MKVS_BENCH_ENGINES").unwrap_or_else(|_| "fjall".into());
    let base = std::env::var("MKVS_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/mkvs-bench")
        });
    for e in engines.split(',') {
        let kind = match e.trim() {
            "redb" => EngineKind::Redb,
            _ => EngineKind::Fjall,
        };
        run(kind, &base, n, batch, raw_only);
    }
    let _ = std::fs::remove_dir_all(&base);
}

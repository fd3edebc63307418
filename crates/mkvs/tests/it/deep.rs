//! Crafted deep tries: chains of keys, each a bit-level extension of the
//! previous one, make a crit-bit trie as deep as the keys have bits. Every
//! operation must accept them and run on a small thread stack in a debug
//! build: insert, remove, reads, iteration, commit, proofs, diff, prune,
//! checkpoint export and restore, reopening from disk, and dropping.

use std::collections::BTreeMap;

use atoll_mkvs::{EngineKind, LogEntry, MAX_DEPTH, MAX_KEY_LEN, Mkvs, Options, Proof, proof};

use crate::{contents, ns};

/// The stack the walks must fit in, far below the 2 MiB of a test thread:
/// a recursive walk overflows it within a few hundred levels.
const SMALL_STACK: usize = 256 * 1024;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Runs `f` on a thread with a [`SMALL_STACK`], passing on its panic.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap();
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

/// A `len`-byte key with only bit `i` (from the most significant) set:
/// keys `0..8·len` form a chain going left (each one sorts below the
/// previous and shares every bit before `i` with all later ones). With
/// `len = 32` this is the storage-slot chain `1 << (255 - i)`.
fn chain_key(len: usize, i: usize) -> Vec<u8> {
    let mut k = vec![0u8; len];
    k[i / 8] = 0x80 >> (i % 8);
    k
}

/// The mirror image: every bit set but bit `i`, a chain going right.
fn mirror_key(len: usize, i: usize) -> Vec<u8> {
    chain_key(len, i).iter().map(|b| !b).collect()
}

fn value(i: usize) -> Vec<u8> {
    (i as u64).to_be_bytes().to_vec()
}

/// Checks a committed version against `model`: full and prefix iteration,
/// and for every `sample`-th key and both ends (the deepest and shallowest
/// keys of a chain) its read, its proof, a seek just above it and a proof
/// of absence there. Returns the deepest proof's step count.
fn check_version(db: &Mkvs, version: u64, model: &Model, sample: usize) -> usize {
    let t = db.tree(ns(1), version).unwrap();
    let root = t.root_hash();
    assert_eq!(
        contents(&t),
        model.clone().into_iter().collect::<Vec<_>>(),
        "iteration of version {version}"
    );
    let mut deepest = 0;
    for (n, (k, v)) in model.iter().enumerate() {
        // The ends of a chain are its deepest and shallowest keys.
        if n % sample != 0 && n + 1 != model.len() {
            continue;
        }
        assert_eq!(t.get(k).unwrap().as_ref(), Some(v));
        let (got, p) = t.get_with_proof(k).unwrap();
        deepest = deepest.max(p.steps.len());
        assert_eq!(got.as_ref(), Some(v));
        assert_eq!(proof::verify(&root, k, &p).unwrap().as_ref(), Some(v));
        let decoded = Proof::decode(&p.encode()).unwrap();
        assert_eq!(decoded, p);
        // The key just above `k` is absent (or the next key): seek from it.
        let mut above = k.clone();
        above.push(0);
        let from: Vec<_> = t
            .iter_from(&above)
            .unwrap()
            .take(2)
            .map(|r| r.unwrap())
            .collect();
        let want: Vec<_> = model
            .range(above.clone()..)
            .take(2)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(from, want, "iter_from above key {n}");
        let (got, p) = t.get_with_proof(&above).unwrap();
        assert_eq!(got, None);
        assert_eq!(proof::verify(&root, &above, &p).unwrap(), None);
    }
    let first = model.keys().next().unwrap();
    let prefix = &first[..first.len() / 2];
    let by_prefix: Vec<_> = t.iter_prefix(prefix).unwrap().map(|r| r.unwrap()).collect();
    let want: Vec<_> = model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(by_prefix, want);
    deepest
}

/// The write log that turns `a` into `b`, sorted by key.
fn model_diff(a: &Model, b: &Model) -> Vec<LogEntry> {
    let keys: std::collections::BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| LogEntry {
            key: k.clone(),
            value: b.get(k).cloned(),
        })
        .collect()
}

/// Builds a chain of `count` keys from `key` in versions of `per_version`
/// keys, then removes every third key; checks every version, the diffs
/// between them, checkpoint restore of each, pruning, and a reopen from
/// disk. Returns the depth reached (proof steps of the deepest key).
fn exercise_chain(
    engine: Option<EngineKind>,
    key: fn(usize) -> Vec<u8>,
    count: usize,
    per_version: usize,
    sample: usize,
) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let open = || match engine {
        Some(engine) => Mkvs::open(dir.path(), Options { engine }).unwrap(),
        None => Mkvs::in_memory(),
    };
    let db = open();
    let mut models: Vec<Model> = vec![Model::new()];
    let mut version = 0u64;
    for start in (0..count).step_by(per_version) {
        let mut model = models.last().unwrap().clone();
        let mut ov = db.overlay(ns(1)).unwrap();
        for i in start..(start + per_version).min(count) {
            ov.insert(&key(i), &value(i)).unwrap();
            model.insert(key(i), value(i));
        }
        version += 1;
        let (_, log) = ov.commit(version).unwrap();
        assert_eq!(log, model_diff(models.last().unwrap(), &model));
        models.push(model);
    }
    // Remove every third key and rewrite every fifth, in one version.
    let mut model = models.last().unwrap().clone();
    let mut ov = db.overlay(ns(1)).unwrap();
    for i in 0..count {
        if i % 3 == 0 {
            assert!(ov.remove(&key(i)).unwrap());
            model.remove(&key(i));
        } else if i % 5 == 0 {
            ov.insert(&key(i), b"rewritten").unwrap();
            model.insert(key(i), b"rewritten".to_vec());
        }
    }
    version += 1;
    ov.commit(version).unwrap();
    models.push(model);

    let mut depth = 0;
    for v in 1..=version {
        depth = depth.max(check_version(&db, v, &models[v as usize], sample));
    }
    for from in 1..=version {
        for to in [1, version / 2, version] {
            let log = db.diff(ns(1), from, to).unwrap();
            assert_eq!(
                log,
                model_diff(&models[from as usize], &models[to as usize]),
                "diff {from} -> {to}"
            );
        }
    }
    // Replaying a diff elsewhere gives the same root.
    let other = Mkvs::in_memory();
    let mut ov = other.overlay(ns(1)).unwrap();
    for (k, v) in &models[1] {
        ov.insert(k, v).unwrap();
    }
    ov.commit(1).unwrap();
    let last = db.root_hash(ns(1), version).unwrap();
    other
        .apply_write_log(
            ns(1),
            Some(1),
            2,
            &db.diff(ns(1), 1, version).unwrap(),
            last,
        )
        .unwrap();

    for v in [1, version] {
        let root = db.root_hash(ns(1), v).unwrap();
        let (meta, chunks) = db.export_checkpoint(ns(1), v, 16 * 1024).unwrap();
        let restored = Mkvs::in_memory();
        assert_eq!(
            restored
                .restore_from_chunks(&meta, root, chunks.iter().map(Vec::as_slice))
                .unwrap(),
            root
        );
        check_version(&restored, v, &models[v as usize], sample * 8);
    }

    db.finalize(ns(1), version).unwrap();
    assert_eq!(db.prune(ns(1), 1).unwrap(), version - 1);
    check_version(&db, version, &models[version as usize], sample * 8);
    if engine.is_some() {
        drop(db);
        let db = open();
        check_version(&db, version, &models[version as usize], sample);
    }
    depth
}

/// The storage-slot chain of the issue (slot i = 1 << (255 - i)) and its
/// mirror image, in memory and on both engines.
#[test]
fn slot_chains_work_on_a_small_stack() {
    on_small_stack(|| {
        for engine in [None, Some(EngineKind::Redb), Some(EngineKind::Fjall)] {
            let depth = exercise_chain(engine, |i| chain_key(32, i), 256, 64, 1);
            assert_eq!(depth, 255, "the chain is as deep as it has keys");
            let depth = exercise_chain(engine, |i| mirror_key(32, i), 256, 100, 1);
            assert_eq!(depth, 255);
        }
    });
}

/// A chain 4096 levels deep (512-byte keys), sixteen times the old depth
/// limit.
#[test]
fn a_4096_deep_chain_works_on_a_small_stack() {
    on_small_stack(|| {
        let depth = exercise_chain(
            Some(EngineKind::Redb),
            |i| chain_key(512, i),
            4096,
            1024,
            61,
        );
        assert_eq!(depth, 4095);
        let depth = exercise_chain(None, |i| mirror_key(512, i), 4096, 4096, 61);
        assert_eq!(depth, 4095);
    });
}

/// Keys of the maximum length, each one byte longer than the last and all
/// zero (so each branches on the previous one's terminator), on top of a
/// bit chain inside the longest key: a trie deeper than the longest key has
/// bytes, built, committed, proven and dropped on the small stack.
#[test]
fn max_length_keys_chain_on_a_small_stack() {
    on_small_stack(|| {
        let db = Mkvs::in_memory();
        let mut ov = db.overlay(ns(1)).unwrap();
        let mut longest = vec![0u8; MAX_KEY_LEN];
        let bits = 3000;
        for i in 0..bits {
            // Bit chain at the far end of a maximum-length key.
            let mut k = longest.clone();
            let pos = MAX_KEY_LEN * 8 - bits + i;
            k[pos / 8] = 0x80 >> (pos % 8);
            ov.insert(&k, b"x").unwrap();
        }
        for len in (MAX_KEY_LEN - 1000)..MAX_KEY_LEN {
            ov.insert(&vec![0u8; len], b"y").unwrap();
        }
        let (root, _) = ov.commit(1).unwrap();
        let t = db.tree(ns(1), 1).unwrap();
        longest[MAX_KEY_LEN - 1] = 1;
        let (v, p) = t.get_with_proof(&longest).unwrap();
        assert_eq!(v.as_deref(), Some(&b"x"[..]));
        assert!(p.steps.len() >= 3999, "depth {}", p.steps.len());
        assert!(p.steps.len() <= MAX_DEPTH);
        assert_eq!(proof::verify(&root, &longest, &p).unwrap(), v);
        assert_eq!(Proof::decode(&p.encode()).unwrap(), p);
        assert!(proof::verify(&root, &longest, &Proof::decode(&p.encode()).unwrap()).is_ok());
        let mut ov = db.overlay(ns(1)).unwrap();
        ov.remove(&longest).unwrap();
        ov.commit(2).unwrap();
        assert_eq!(db.diff(ns(1), 1, 2).unwrap().len(), 1);
        drop(t);
        drop(db);
    });
}

/// A proof is bounded by its leaf's key: a step branching past the key's
/// terminator bit is refused before any hashing.
#[test]
fn proof_steps_are_bounded_by_the_leaf_key() {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"a", b"1").unwrap();
    ov.insert(b"ab", b"2").unwrap();
    let (root, _) = ov.commit(1).unwrap();
    let (_, mut p) = db.tree(ns(1), 1).unwrap().get_with_proof(b"a").unwrap();
    assert_eq!(p.steps.len(), 1);
    assert_eq!(
        p.steps[0].bit, 9,
        "the terminator of `a` meets the marker of `ab`"
    );
    assert_eq!(
        proof::verify(&root, b"a", &p).unwrap().as_deref(),
        Some(&b"1"[..])
    );
    let mut extra = p.steps[0].clone();
    extra.bit = 10;
    p.steps.push(extra);
    assert!(matches!(
        proof::verify(&root, b"a", &p),
        Err(atoll_mkvs::ProofError::Malformed(_))
    ));
}

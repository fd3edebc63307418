//! Property tests against a `BTreeMap` model: random inserts, removes,
//! nested transactions, commits, reopen, prune; then diff-apply and
//! checkpoint-restore into second databases. Same contents, same roots.

use std::collections::BTreeMap;

use atoll_crypto::Hash;
use atoll_mkvs::{EngineKind, LogEntry, Mkvs, MkvsError, Options, proof};
use proptest::prelude::*;

use crate::{contents, ns};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Clone, Debug)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    Begin,
    Rollback,
    Release,
    Commit,
    Reopen,
    Prune(u64),
}

/// Short keys over a tiny alphabet, so prefixes and shared paths abound.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', 0x80, 0xff]), 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (key(), prop::collection::vec(any::<u8>(), 0..3)).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => key().prop_map(Op::Remove),
        1 => Just(Op::Begin),
        1 => Just(Op::Rollback),
        1 => Just(Op::Release),
        3 => Just(Op::Commit),
        1 => Just(Op::Reopen),
        1 => (1u64..4).prop_map(Op::Prune),
    ]
}

/// The root of `m` built from scratch in a fresh in-memory database, in
/// reverse key order (so history and order differ from the database under test).
fn fresh_root(m: &Model) -> Hash {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(9)).unwrap();
    for (k, v) in m.iter().rev() {
        ov.insert(k, v).unwrap();
    }
    ov.root_hash().unwrap()
}

fn model_diff(a: &Model, b: &Model) -> Vec<LogEntry> {
    let mut keys: Vec<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| LogEntry {
            key: k.clone(),
            value: b.get(k).cloned(),
        })
        .collect()
}

fn as_vec(m: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn run(ops: Vec<Op>, engine: EngineKind) {
    let open = |p: &std::path::Path| Mkvs::open(p, Options { engine }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n = ns(1);
    let mut db = open(dir.path());
    let mut ov = db.overlay(n).unwrap();
    let mut pending: Model = BTreeMap::new();
    let mut stack: Vec<Model> = Vec::new();
    // Committed versions still kept: version -> (root, contents).
    let mut versions: BTreeMap<u64, (Hash, Model)> = BTreeMap::new();
    let mut next_version = 3u64;

    for op in ops {
        match op {
            Op::Insert(k, v) => {
                ov.insert(&k, &v).unwrap();
                pending.insert(k, v);
            }
            Op::Remove(k) => {
                assert_eq!(ov.remove(&k).unwrap(), pending.remove(&k).is_some());
            }
            Op::Begin => {
                ov.checkpoint();
                stack.push(pending.clone());
            }
            Op::Rollback => {
                let had = ov.rollback();
                match stack.pop() {
                    Some(m) => pending = m,
                    None => assert!(!had),
                }
            }
            Op::Release => {
                assert_eq!(ov.commit_to_parent(), stack.pop().is_some());
            }
            Op::Commit => {
                let prev = versions
                    .values()
                    .next_back()
                    .map(|(_, m)| m.clone())
                    .unwrap_or_default();
                let (root, log) = std::mem::replace(&mut ov, db.overlay(ns(2)).unwrap())
                    .commit(next_version)
                    .unwrap();
                assert_eq!(root, fresh_root(&pending), "root depends only on contents");
                assert_eq!(log, model_diff(&prev, &pending));
                versions.insert(next_version, (root, pending.clone()));
                next_version += 1;
                stack.clear();
                ov = db.overlay(n).unwrap();
            }
            Op::Reopen => {
                drop(ov);
                drop(db);
                db = open(dir.path());
                ov = db.overlay(n).unwrap();
                pending = versions
                    .values()
                    .next_back()
                    .map(|(_, m)| m.clone())
                    .unwrap_or_default();
                stack.clear();
            }
            Op::Prune(keep) => {
                let Some(&latest) = versions.keys().next_back() else {
                    continue;
                };
                db.finalize(n, latest).unwrap();
                db.prune(n, keep).unwrap();
                let keep_from = latest + 1 - keep.min(latest + 1);
                let gone: Vec<u64> = versions.range(..keep_from).map(|(v, _)| *v).collect();
                for v in gone {
                    versions.remove(&v);
                    assert!(matches!(
                        db.tree(n, v),
                        Err(MkvsError::VersionPruned { .. })
                    ));
                }
            }
        }
        // The overlay always shows the model, through get and iteration.
        assert_eq!(
            ov.iter().collect::<Result<Vec<_>, _>>().unwrap(),
            as_vec(&pending)
        );
        for start in [
            &b""[..],
            b"\x00",
            b"\x01\x00",
            b"a",
            b"a\xff",
            b"\x80",
            b"\xff\xff\xff\xff",
        ] {
            let got: Vec<_> = ov
                .iter_from(start)
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let want: Vec<_> = pending
                .range(start.to_vec()..)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(got, want, "iter_from {start:?}");
        }
    }

    // Every kept version still reads back whole, with valid proofs.
    for (v, (root, m)) in &versions {
        let t = db.tree(n, *v).unwrap();
        assert_eq!(t.root_hash(), *root);
        assert_eq!(contents(&t), as_vec(m));
        for k in [&b""[..], b"a", b"\x00\x01", b"\xff\xff\xff"] {
            let (val, p) = t.get_with_proof(k).unwrap();
            assert_eq!(val.as_ref(), m.get(k));
            assert_eq!(proof::verify(root, k, &p).unwrap(), val);
        }
        let pre: Vec<_> = t
            .iter_prefix(b"a")
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<_> = m
            .iter()
            .filter(|(k, _)| k.starts_with(b"a"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(pre, want);
    }

    // Second database: restore the earliest kept version from a checkpoint,
    // then follow with diffs; every root must match.
    let Some((&first, (first_root, _))) = versions.iter().next() else {
        return;
    };
    let other = Mkvs::in_memory();
    let (meta, chunks) = db.export_checkpoint(n, first, 16).unwrap();
    let got = other
        .restore_from_chunks(&meta, *first_root, chunks.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(got, *first_root);
    let mut prev = first;
    for (v, (root, _)) in versions.range(first + 1..) {
        let log = db.diff(n, prev, *v).unwrap();
        assert_eq!(
            other
                .apply_write_log(n, Some(prev), *v, &log, *root)
                .unwrap(),
            *root
        );
        prev = *v;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mkvs_matches_model(ops in prop::collection::vec(op(), 1..120), redb in any::<bool>()) {
        run(ops, if redb { EngineKind::Redb } else { EngineKind::Fjall });
    }

    #[test]
    fn root_is_independent_of_insertion_order(
        m in prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..6), prop::collection::vec(any::<u8>(), 0..4), 0..64),
        seed in any::<u64>(),
    ) {
        let mut entries: Vec<_> = m.iter().collect();
        // A seeded shuffle.
        let mut s = seed | 1;
        for i in (1..entries.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            entries.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let db = Mkvs::in_memory();
        let mut ov = db.overlay(ns(1)).unwrap();
        for (k, v) in entries {
            ov.insert(k, v).unwrap();
        }
        prop_assert_eq!(ov.root_hash().unwrap(), fresh_root(&m));
    }

    #[test]
    fn proofs_encode_and_verify(
        m in prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..5), prop::collection::vec(any::<u8>(), 0..4), 0..40),
        probe in prop::collection::vec(any::<u8>(), 0..5),
    ) {
        let db = Mkvs::in_memory();
        let mut ov = db.overlay(ns(1)).unwrap();
        for (k, v) in &m {
            ov.insert(k, v).unwrap();
        }
        let (root, _) = ov.commit(1).unwrap();
        let t = db.tree(ns(1), 1).unwrap();
        let (val, p) = t.get_with_proof(&probe).unwrap();
        prop_assert_eq!(val.as_ref(), m.get(&probe));
        let bytes = p.encode();
        prop_assert_eq!(&atoll_mkvs::Proof::decode(&bytes).unwrap(), &p);
        prop_assert_eq!(atoll_mkvs::Proof::decode_and_verify(&root, &probe, &bytes).unwrap(), val);
    }

    #[test]
    fn write_log_codec_round_trips(
        m in prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..5), prop::option::of(prop::collection::vec(any::<u8>(), 0..4)), 0..20),
    ) {
        let log: Vec<LogEntry> = m.into_iter().map(|(key, value)| LogEntry { key, value }).collect();
        let bytes = atoll_mkvs::writelog::encode(&log);
        prop_assert_eq!(atoll_mkvs::writelog::decode(&bytes).unwrap(), log);
    }

    #[test]
    fn checkpoint_metadata_round_trips(
        version in any::<u64>(),
        n in 0usize..20,
        seed in any::<u8>(),
    ) {
        let meta = atoll_mkvs::CheckpointMetadata {
            namespace: ns(seed),
            version,
            root: Hash::digest(&[seed]),
            chunks: (0..n).map(|i| Hash::digest(&[seed, i as u8])).collect(),
        };
        let bytes = meta.encode();
        prop_assert_eq!(atoll_mkvs::CheckpointMetadata::decode(&bytes).unwrap(), meta);
    }

    #[test]
    fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = atoll_mkvs::Proof::decode(&bytes);
        let _ = atoll_mkvs::writelog::decode(&bytes);
        let _ = atoll_mkvs::checkpoint::decode_chunk(&bytes);
        let _ = atoll_mkvs::CheckpointMetadata::decode(&bytes);
    }
}

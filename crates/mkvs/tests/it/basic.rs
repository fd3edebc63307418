//! Direct tests of the main operations.

use std::collections::BTreeMap;

use atoll_crypto::Hash;
use atoll_mkvs::{LogEntry, Mkvs, MkvsError, proof};

use crate::{contents, ns, open};

#[test]
fn empty_namespace_and_empty_tree() {
    let db = Mkvs::in_memory();
    assert!(matches!(
        db.tree(ns(1), 0),
        Err(MkvsError::RootNotFound { version: 0 })
    ));
    let ov = db.overlay(ns(1)).unwrap();
    assert_eq!(ov.root_hash().unwrap(), Hash::empty());
    let (root, log) = ov.commit(5).unwrap();
    assert_eq!(root, Hash::empty());
    assert!(log.is_empty());
    let t = db.tree(ns(1), 5).unwrap();
    assert_eq!(t.get(b"x").unwrap(), None);
    let (v, p) = t.get_with_proof(b"x").unwrap();
    assert_eq!(v, None);
    assert_eq!(proof::verify(&root, b"x", &p).unwrap(), None);
}

#[test]
fn prefix_keys_empty_values_and_order() {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    let keys: &[&[u8]] = &[
        b"",
        b"a",
        b"ab",
        b"abc",
        b"b",
        b"\x00",
        b"\xff\xff",
        b"a\x00",
    ];
    for (i, k) in keys.iter().enumerate() {
        ov.insert(k, &vec![i as u8; i]).unwrap();
    }
    ov.commit(1).unwrap();
    let t = db.tree(ns(1), 1).unwrap();
    let got: Vec<Vec<u8>> = contents(&t).into_iter().map(|(k, _)| k).collect();
    let mut want: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
    want.sort();
    assert_eq!(got, want);
    // The empty key holds an empty value, distinct from absence.
    assert_eq!(t.get(b"").unwrap(), Some(vec![]));
    let pre: Vec<Vec<u8>> = t.iter_prefix(b"a").unwrap().map(|r| r.unwrap().0).collect();
    assert_eq!(
        pre,
        vec![
            b"a".to_vec(),
            b"a\x00".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec()
        ]
    );
    assert_eq!(t.iter_prefix(b"abcd").unwrap().count(), 0);
    assert_eq!(t.iter_prefix(b"z").unwrap().count(), 0);
    for k in keys {
        let (v, p) = t.get_with_proof(k).unwrap();
        assert_eq!(proof::verify(&t.root_hash(), k, &p).unwrap(), v);
        assert!(v.is_some());
    }
    for k in [&b"aa"[..], b"abcd", b"c", b"\x00\x00"] {
        let (v, p) = t.get_with_proof(k).unwrap();
        assert_eq!(v, None);
        assert_eq!(proof::verify(&t.root_hash(), k, &p).unwrap(), None);
    }
}

#[test]
fn insertion_order_does_not_change_root() {
    let keys: Vec<Vec<u8>> = (0u32..300)
        .map(|i| (i * 7919 % 1000).to_be_bytes()[1..].to_vec())
        .collect();
    let a = Mkvs::in_memory();
    let mut ov = a.overlay(ns(1)).unwrap();
    for k in &keys {
        ov.insert(k, k).unwrap();
    }
    let (ra, _) = ov.commit(1).unwrap();

    // Reverse order, over several commits, with churn on the way.
    let b = Mkvs::in_memory();
    let mut ov = b.overlay(ns(1)).unwrap();
    for k in keys.iter().rev().take(100) {
        ov.insert(k, b"junk").unwrap();
        ov.insert(&[k.as_slice(), b"x"].concat(), b"tmp").unwrap();
    }
    ov.commit(1).unwrap();
    let mut ov = b.overlay(ns(1)).unwrap();
    for k in keys.iter().rev() {
        ov.insert(k, k).unwrap();
        ov.remove(&[k.as_slice(), b"x"].concat()).unwrap();
    }
    let (rb, _) = ov.commit(2).unwrap();
    assert_eq!(ra, rb);
}

#[test]
fn nested_overlays_roll_back() {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"a", b"1").unwrap();
    assert_eq!(ov.checkpoint(), 1);
    ov.insert(b"b", b"2").unwrap();
    assert_eq!(ov.checkpoint(), 2);
    ov.remove(b"a").unwrap();
    ov.insert(b"c", b"3").unwrap();
    assert_eq!(ov.get(b"a").unwrap(), None);
    let merged: Vec<_> = ov.iter().map(|r| r.unwrap().0).collect();
    assert_eq!(merged, vec![b"b".to_vec(), b"c".to_vec()]);
    assert!(ov.rollback());
    assert_eq!(ov.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(ov.get(b"c").unwrap(), None);
    assert!(ov.commit_to_parent());
    assert!(!ov.rollback());
    let (_, log) = ov.commit(1).unwrap();
    assert_eq!(
        log,
        vec![
            LogEntry {
                key: b"a".to_vec(),
                value: Some(b"1".to_vec())
            },
            LogEntry {
                key: b"b".to_vec(),
                value: Some(b"2".to_vec())
            },
        ]
    );
}

#[test]
fn versions_must_follow_and_stale_overlays_are_refused() {
    let db = Mkvs::in_memory();
    db.overlay(ns(1)).unwrap().commit(10).unwrap();
    let stale = db.overlay(ns(1)).unwrap();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"k", b"v").unwrap();
    assert!(matches!(
        ov.commit(12),
        Err(MkvsError::BadVersion {
            expected: 11,
            got: 12
        })
    ));
    db.overlay(ns(1)).unwrap().commit(11).unwrap();
    assert!(matches!(stale.commit(12), Err(MkvsError::StaleBase { .. })));
}

#[test]
fn namespaces_are_independent_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let roots = {
        let db = open(dir.path());
        let mut roots = Vec::new();
        for n in 1..=3u8 {
            let mut ov = db.overlay(ns(n)).unwrap();
            ov.insert(b"shared", &[n]).unwrap();
            ov.insert(&[n], b"own").unwrap();
            roots.push(ov.commit(100 + u64::from(n)).unwrap().0);
        }
        roots
    };
    let db = open(dir.path());
    assert_eq!(db.namespaces().unwrap(), vec![ns(1), ns(2), ns(3)]);
    for n in 1..=3u8 {
        let t = db.tree(ns(n), 100 + u64::from(n)).unwrap();
        assert_eq!(t.root_hash(), roots[usize::from(n - 1)]);
        assert_eq!(t.get(b"shared").unwrap(), Some(vec![n]));
        assert_eq!(contents(&t).len(), 2);
    }
}

#[test]
fn prune_keeps_shared_nodes_and_reports_pruned_versions() {
    let db = Mkvs::in_memory();
    let mut model = BTreeMap::new();
    let mut history = Vec::new();
    for v in 0..20u64 {
        let mut ov = db.overlay(ns(1)).unwrap();
        for i in 0..10u64 {
            let k = ((v * 3 + i) % 25).to_be_bytes().to_vec();
            if (v + i) % 4 == 0 {
                ov.remove(&k).unwrap();
                model.remove(&k);
            } else {
                ov.insert(&k, &v.to_be_bytes()).unwrap();
                model.insert(k, v.to_be_bytes().to_vec());
            }
        }
        let (root, _) = ov.commit(v).unwrap();
        history.push((root, model.clone()));
    }
    // Nothing is pruned before finalization.
    assert_eq!(db.prune(ns(1), 5).unwrap(), 0);
    db.finalize(ns(1), 12).unwrap();
    assert_eq!(db.prune(ns(1), 5).unwrap(), 12);
    assert!(matches!(
        db.tree(ns(1), 3),
        Err(MkvsError::VersionPruned {
            version: 3,
            earliest: 12
        })
    ));
    for v in 12..20u64 {
        let t = db.tree(ns(1), v).unwrap();
        let (root, m) = &history[v as usize];
        assert_eq!(t.root_hash(), *root);
        let want: Vec<_> = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(contents(&t), want);
    }
    db.finalize(ns(1), 19).unwrap();
    assert_eq!(db.prune(ns(1), 1).unwrap(), 7);
    assert_eq!(db.versions(ns(1)).unwrap(), Some((19, 19)));
    // Everything not reachable from version 19 is gone from the engine.
    let nodes = db.engine().scan_prefix(b"n").unwrap().len();
    let t = db.tree(ns(1), 19).unwrap();
    let leaves = contents(&t).len();
    assert_eq!(nodes, 2 * leaves - 1);
}

#[test]
fn diff_and_apply_reach_the_same_root_elsewhere() {
    let a = Mkvs::in_memory();
    let b = Mkvs::in_memory();
    let mut prev = None;
    for v in 1..=5u64 {
        let mut ov = a.overlay(ns(1)).unwrap();
        for i in 0..50u64 {
            let k = (i * v % 37).to_le_bytes();
            if i % 3 == 0 {
                ov.remove(&k).unwrap();
            } else {
                ov.insert(&k, &[v as u8; 3]).unwrap();
            }
        }
        let (root, log) = ov.commit(v).unwrap();
        let got = b.apply_write_log(ns(1), prev, v, &log, root).unwrap();
        assert_eq!(got, root);
        if v >= 2 {
            assert_eq!(a.diff(ns(1), v - 1, v).unwrap(), log);
        }
        prev = Some(v);
    }
    // A diff over several versions, backwards too.
    let fwd = a.diff(ns(1), 2, 5).unwrap();
    let back = a.diff(ns(1), 5, 2).unwrap();
    assert!(!fwd.is_empty() && fwd.len() == back.len());
    // A wrong expected root writes nothing.
    let c = Mkvs::in_memory();
    let err = c
        .apply_write_log(ns(1), None, 1, &fwd, Hash::digest(b"no"))
        .unwrap_err();
    assert!(matches!(err, MkvsError::RootMismatch { .. }));
    assert_eq!(c.versions(ns(1)).unwrap(), None);
}

#[test]
fn checkpoint_round_trip() {
    let a = Mkvs::in_memory();
    let mut ov = a.overlay(ns(1)).unwrap();
    for i in 0..500u32 {
        ov.insert(&i.to_be_bytes(), &[i as u8; 20]).unwrap();
    }
    let (root, _) = ov.commit(7).unwrap();
    let (meta, chunks) = a.export_checkpoint(ns(1), 7, 1024).unwrap();
    assert!(chunks.len() > 5);
    assert_eq!(meta.root, root);
    let b = Mkvs::in_memory();
    let got = b
        .restore_from_chunks(&meta, root, chunks.iter().map(Vec::as_slice))
        .unwrap();
    assert_eq!(got, root);
    assert_eq!(
        contents(&b.tree(ns(1), 7).unwrap()),
        contents(&a.tree(ns(1), 7).unwrap())
    );
    // Restoring into a namespace that has data is refused.
    assert!(matches!(
        b.restore_checkpoint(&meta, root),
        Err(MkvsError::NamespaceNotEmpty)
    ));
}

#[test]
fn replacing_restore_swaps_old_versions_for_the_checkpoint_atomically() {
    let a = Mkvs::in_memory();
    let mut ov = a.overlay(ns(1)).unwrap();
    for i in 0..300u32 {
        ov.insert(&i.to_be_bytes(), &[i as u8; 16]).unwrap();
    }
    let (root, _) = ov.commit(9).unwrap();
    let (meta, chunks) = a.export_checkpoint(ns(1), 9, 512).unwrap();
    assert!(chunks.len() > 3);

    let dir = tempfile::tempdir().unwrap();
    let opts = atoll_mkvs::Options::default();
    let b = Mkvs::open(dir.path(), opts.clone()).unwrap();
    // b holds older, different versions 1..=3 of the namespace, and
    // another namespace that must not be touched.
    for v in 1..=3u64 {
        let mut ov = b.overlay(ns(1)).unwrap();
        ov.insert(b"old", &v.to_be_bytes()).unwrap();
        ov.insert(&v.to_be_bytes(), b"x").unwrap();
        ov.commit(v).unwrap();
    }
    let mut ov = b.overlay(ns(2)).unwrap();
    ov.insert(b"other", b"kept").unwrap();
    let (other_root, _) = ov.commit(1).unwrap();
    let before = contents(&b.tree(ns(1), 3).unwrap());

    // Not newer than the latest, a wrong trusted root, a forged chunk or a
    // missing chunk: refused, and nothing changes.
    let mut old = meta.clone();
    old.version = 3;
    assert!(matches!(
        b.restore_checkpoint_replacing(&old, root),
        Err(MkvsError::BadVersion { .. })
    ));
    assert!(matches!(
        b.restore_checkpoint_replacing(&meta, Hash::digest(b"wrong")),
        Err(MkvsError::RootMismatch { .. })
    ));
    let mut r = b.restore_checkpoint_replacing(&meta, root).unwrap();
    let mut bad = chunks[0].clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        r.add_chunk(&bad),
        Err(MkvsError::ChunkHashMismatch { index: 0 })
    ));
    r.add_chunk(&chunks[0]).unwrap();
    assert!(matches!(r.finish(), Err(MkvsError::BadCheckpoint(_))));
    assert_eq!(b.versions(ns(1)).unwrap(), Some((1, 3)));
    assert_eq!(contents(&b.tree(ns(1), 3).unwrap()), before);

    let got = {
        let mut r = b.restore_checkpoint_replacing(&meta, root).unwrap();
        for c in &chunks {
            r.add_chunk(c).unwrap();
        }
        r.finish().unwrap()
    };
    assert_eq!(got, root);
    assert_eq!(b.versions(ns(1)).unwrap(), Some((9, 9)));
    assert_eq!(
        contents(&b.tree(ns(1), 9).unwrap()),
        contents(&a.tree(ns(1), 9).unwrap())
    );
    assert!(b.tree(ns(1), 3).is_err());
    // Nothing of the old versions is left: the nodes stored are exactly the
    // restored tree's (2·leaves − 1).
    let mut node_prefix = vec![b'n'];
    node_prefix.extend_from_slice(&ns(1).0);
    assert_eq!(
        b.engine().scan_prefix(&node_prefix).unwrap().len(),
        2 * 300 - 1
    );
    assert_eq!(b.root_hash(ns(2), 1).unwrap(), other_root);
    // The restored version survives a reopen, and the next one commits on it.
    drop(b);
    let b = Mkvs::open(dir.path(), opts).unwrap();
    assert_eq!(b.root_hash(ns(1), 9).unwrap(), root);
    let mut ov = b.overlay(ns(1)).unwrap();
    ov.insert(b"new", b"1").unwrap();
    ov.commit(10).unwrap();
    assert_eq!(b.versions(ns(1)).unwrap(), Some((9, 10)));
}

#[test]
fn redb_engine_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let opts = atoll_mkvs::Options {
        engine: atoll_mkvs::EngineKind::Redb,
    };
    let root = {
        let db = Mkvs::open(&path, opts.clone()).unwrap();
        let mut ov = db.overlay(ns(1)).unwrap();
        ov.insert(b"k", b"v").unwrap();
        ov.commit(1).unwrap().0
    };
    let db = Mkvs::open(&path, opts).unwrap();
    assert_eq!(db.root_hash(ns(1), 1).unwrap(), root);
}

/// Regression: crit-bit nodes at the same position can cover disjoint key
/// ranges (their shared prefix bits are implicit); the diff once paired
/// their children and emitted keys out of order.
#[test]
fn diff_of_disjoint_subtrees_is_sorted() {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"\x01", b"").unwrap();
    ov.insert(b"a", b"x").unwrap();
    ov.commit(1).unwrap();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.remove(b"a").unwrap();
    ov.insert(b"\x01\x00", b"1").unwrap();
    ov.insert(b"\x01\x01", b"2").unwrap();
    let (_, log) = ov.commit(2).unwrap();
    let keys: Vec<&[u8]> = log.iter().map(|e| e.key.as_slice()).collect();
    assert_eq!(keys, vec![&b"\x01\x00"[..], b"\x01\x01", b"a"]);
    assert_eq!(db.diff(ns(1), 1, 2).unwrap(), log);
    let back = db.diff(ns(1), 2, 1).unwrap();
    let keys: Vec<&[u8]> = back.iter().map(|e| e.key.as_slice()).collect();
    assert_eq!(keys, vec![&b"\x01\x00"[..], b"\x01\x01", b"a"]);
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Mkvs>();
    check::<atoll_mkvs::Tree>();
    check::<atoll_mkvs::Overlay>();
    check::<atoll_mkvs::Restorer>();
}

#[test]
fn finalize_below_earliest_is_refused() {
    let db = Mkvs::in_memory();
    for v in 0..5 {
        db.overlay(ns(1)).unwrap().commit(v).unwrap();
    }
    db.finalize(ns(1), 4).unwrap();
    db.prune(ns(1), 2).unwrap();
    assert_eq!(db.versions(ns(1)).unwrap(), Some((3, 4)));
    assert!(matches!(
        db.finalize(ns(1), 1),
        Err(MkvsError::VersionPruned { .. })
    ));
    assert!(matches!(
        db.finalize(ns(1), 9),
        Err(MkvsError::RootNotFound { .. })
    ));
}

#[test]
fn tree_at_checks_the_root_hash() {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"k", b"v").unwrap();
    ov.commit(3).unwrap();
    let root = db.root(ns(1), 3).unwrap();
    assert_eq!(
        db.tree_at(&root).unwrap().get(b"k").unwrap(),
        Some(b"v".to_vec())
    );
    let wrong = atoll_mkvs::Root {
        hash: Hash::digest(b"x"),
        ..root
    };
    assert!(matches!(
        db.tree_at(&wrong),
        Err(MkvsError::RootMismatch { .. })
    ));
}

/// Known-answer vectors: pin the hashing format, so a change to leaf or
/// internal node hashing (which would change every root) cannot go unnoticed.
#[test]
fn known_answer_roots() {
    let db = Mkvs::in_memory();
    let ov = db.overlay(ns(1)).unwrap();
    assert_eq!(ov.root_hash().unwrap(), Hash::empty());
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"a", b"1").unwrap();
    let one = ov.root_hash().unwrap();
    // A single leaf: H(0x00 || u32 1 || "a" || "1").
    assert_eq!(one, Hash::digest(b"\x00\x00\x00\x00\x01a1"));
    ov.insert(b"ab", b"2").unwrap();
    ov.insert(b"b", b"").unwrap();
    let root = ov.root_hash().unwrap();
    // "a" vs "ab": first difference at bit 9 ("a" ends, "ab" continues);
    // {"a","ab"} vs "b": bit 7 (0x61 vs 0x62 differ in the 7th bit of byte 0).
    let la = Hash::digest(b"\x00\x00\x00\x00\x01a1");
    let lab = Hash::digest(b"\x00\x00\x00\x00\x02ab2");
    let lb = Hash::digest(b"\x00\x00\x00\x00\x01b");
    let inner = Hash::digest_parts(&[&[1], &9u32.to_be_bytes(), &la.0, &lab.0]);
    let top = Hash::digest_parts(&[&[1], &7u32.to_be_bytes(), &inner.0, &lb.0]);
    assert_eq!(root, top);
    assert_eq!(root.to_hex(), KAT_ROOT);
}

const KAT_ROOT: &str = "bc7d091397599285841a23d1506022eff95d6376c3995baefd3887e19170cc9a";

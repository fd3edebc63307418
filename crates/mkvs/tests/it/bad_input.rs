//! Hostile and damaged input: every case gives a typed error, none panics.

use atoll_crypto::Hash;
use atoll_mkvs::{DecodeError, Mkvs, MkvsError, Options, Proof, ProofError, proof};

use crate::ns;

fn sample() -> (Mkvs, Hash) {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    for i in 0..200u32 {
        ov.insert(&i.to_be_bytes(), &[i as u8; 8]).unwrap();
    }
    let root = ov.commit(1).unwrap().0;
    (db, root)
}

#[test]
fn tampered_proofs_are_rejected() {
    let (db, root) = sample();
    let t = db.tree(ns(1), 1).unwrap();
    let k = 77u32.to_be_bytes();
    let (_, p) = t.get_with_proof(&k).unwrap();
    assert!(p.steps.len() > 3);

    let mut bad = p.clone();
    bad.steps[2].sibling.0[5] ^= 1;
    assert!(matches!(
        proof::verify(&root, &k, &bad),
        Err(ProofError::RootMismatch { .. })
    ));

    let mut bad = p.clone();
    bad.leaf.as_mut().unwrap().value[0] ^= 1;
    assert!(matches!(
        proof::verify(&root, &k, &bad),
        Err(ProofError::RootMismatch { .. })
    ));

    let mut bad = p.clone();
    bad.steps.remove(1);
    assert!(proof::verify(&root, &k, &bad).is_err());

    let mut bad = p.clone();
    bad.steps.swap(0, 1);
    assert!(matches!(
        proof::verify(&root, &k, &bad),
        Err(ProofError::Malformed(_))
    ));

    // Claiming absence with a leaf that is not on the key's path.
    let (_, other) = t.get_with_proof(&150u32.to_be_bytes()).unwrap();
    assert!(proof::verify(&root, &k, &other).is_err());

    // Every single-byte flip of the encoding fails to decode or to verify.
    let bytes = p.encode();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        assert!(
            Proof::decode_and_verify(&root, &k, &b).is_err(),
            "flip at {i} accepted"
        );
    }
    // Truncations give decode errors.
    for len in [0, 1, 5, bytes.len() - 1] {
        assert!(matches!(
            Proof::decode_and_verify(&root, &k, &bytes[..len]),
            Err(ProofError::Decode(_))
        ));
    }
    // A huge step count in a tiny input is refused before allocating.
    let mut b = vec![1u8];
    b.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Proof::decode(&b),
        Err(DecodeError::TooLong { .. })
    ));
}

#[test]
fn proof_for_another_root_is_rejected() {
    let (db, root) = sample();
    let mut ov = db.overlay(ns(1)).unwrap();
    ov.insert(b"new", b"x").unwrap();
    let root2 = ov.commit(2).unwrap().0;
    let (_, p) = db.tree(ns(1), 2).unwrap().get_with_proof(b"new").unwrap();
    assert_eq!(
        proof::verify(&root2, b"new", &p).unwrap(),
        Some(b"x".to_vec())
    );
    assert!(matches!(
        proof::verify(&root, b"new", &p),
        Err(ProofError::RootMismatch { .. })
    ));
    // An empty-tree proof against a non-empty root.
    let empty = Proof {
        steps: vec![],
        leaf: None,
    };
    assert!(matches!(
        proof::verify(&root, b"new", &empty),
        Err(ProofError::RootMismatch { .. })
    ));
}

#[test]
fn corrupted_chunks_are_refused_and_leave_nothing() {
    let (db, root) = sample();
    let (meta, chunks) = db.export_checkpoint(ns(1), 1, 256).unwrap();
    assert!(chunks.len() > 3);
    let target = Mkvs::in_memory();

    // A flipped byte.
    let mut bad = chunks.clone();
    bad[2][10] ^= 1;
    let err = target
        .restore_from_chunks(&meta, root, bad.iter().map(Vec::as_slice))
        .unwrap_err();
    assert!(matches!(err, MkvsError::ChunkHashMismatch { index: 2 }));
    assert_eq!(target.versions(ns(1)).unwrap(), None);

    // Chunks out of order.
    let mut swapped = chunks.clone();
    swapped.swap(0, 1);
    let err = target
        .restore_from_chunks(&meta, root, swapped.iter().map(Vec::as_slice))
        .unwrap_err();
    assert!(matches!(err, MkvsError::ChunkHashMismatch { index: 0 }));

    // A missing chunk.
    let err = target
        .restore_from_chunks(
            &meta,
            root,
            chunks[..chunks.len() - 1].iter().map(Vec::as_slice),
        )
        .unwrap_err();
    assert!(matches!(err, MkvsError::BadCheckpoint(_)));

    // A lying peer: altered chunk with metadata digests to match. Caught by
    // the root check at the end, nothing committed.
    let mut forged = chunks.clone();
    let mut pairs = atoll_mkvs::checkpoint::decode_chunk(&forged[1]).unwrap();
    pairs[0].1 = b"stolen".to_vec();
    let mut meta2 = meta.clone();
    forged[1] = {
        // Re-encode the altered chunk in the public chunk format.
        let mut b = vec![1u8];
        b.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
        for (k, v) in &pairs {
            b.extend_from_slice(&(k.len() as u32).to_be_bytes());
            b.extend_from_slice(k);
            b.extend_from_slice(&(v.len() as u32).to_be_bytes());
            b.extend_from_slice(v);
        }
        b
    };
    meta2.chunks[1] = Hash::digest(&forged[1]);
    let err = target
        .restore_from_chunks(&meta2, root, forged.iter().map(Vec::as_slice))
        .unwrap_err();
    assert!(matches!(err, MkvsError::RootMismatch { .. }));
    assert_eq!(target.versions(ns(1)).unwrap(), None);

    // Metadata for another root.
    let err = target
        .restore_checkpoint(&meta, Hash::digest(b"other"))
        .err()
        .unwrap();
    assert!(matches!(err, MkvsError::RootMismatch { .. }));

    // The good chunks still restore afterwards.
    assert_eq!(
        target
            .restore_from_chunks(&meta, root, chunks.iter().map(Vec::as_slice))
            .unwrap(),
        root
    );
}

fn fjall() -> Options {
    Options {
        engine: atoll_mkvs::EngineKind::Fjall,
    }
}

fn populated(dir: &std::path::Path) {
    let db = Mkvs::open(dir, fjall()).unwrap();
    for v in 0..5u64 {
        let mut ov = db.overlay(ns(1)).unwrap();
        for i in 0..300u64 {
            ov.insert(&(i * 31 + v).to_be_bytes(), &[v as u8; 64])
                .unwrap();
        }
        ov.commit(v).unwrap();
    }
}

/// Opens and reads everything; returns the first error.
fn open_and_read(dir: &std::path::Path, opts: Options) -> Result<(), MkvsError> {
    let db = Mkvs::open(dir, opts)?;
    let (e, l) = db
        .versions(ns(1))?
        .ok_or(MkvsError::RootNotFound { version: 0 })?;
    for v in e..=l {
        for kv in db.tree(ns(1), v)?.iter() {
            kv?;
        }
    }
    Ok(())
}

fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn truncated_fjall_database_gives_an_error() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    assert!(open_and_read(dir.path(), fjall()).is_ok());
    // Truncate every file to a third of its length.
    for f in files(dir.path()) {
        let len = std::fs::metadata(&f).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_len(len / 3).unwrap();
    }
    assert!(open_and_read(dir.path(), fjall()).is_err());
}

#[test]
fn garbage_fjall_database_gives_an_error() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    for f in files(dir.path()) {
        let len = std::fs::metadata(&f).unwrap().len() as usize;
        let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        std::fs::write(&f, garbage).unwrap();
    }
    assert!(open_and_read(dir.path(), fjall()).is_err());
}

#[test]
fn truncated_redb_file_gives_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let opts = Options {
        engine: atoll_mkvs::EngineKind::Redb,
    };
    {
        let db = Mkvs::open(&path, opts.clone()).unwrap();
        let mut ov = db.overlay(ns(1)).unwrap();
        for i in 0..2000u32 {
            ov.insert(&i.to_be_bytes(), &[1; 50]).unwrap();
        }
        ov.commit(1).unwrap();
    }
    let file = path.join("mkvs.redb");
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    assert!(open_and_read(&path, opts).is_err());
}

#[test]
fn corrupted_node_record_gives_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    populated(dir.path());
    {
        let db = Mkvs::open(dir.path(), fjall()).unwrap();
        // Overwrite every stored node with a valid-looking but wrong leaf.
        let nodes = db.engine().scan_prefix(b"n").unwrap();
        let ops = nodes
            .into_iter()
            .map(|(k, _)| (k, Some(vec![0, 0, 0, 0, 1, b'x', 0, 0, 0, 0])))
            .collect();
        db.engine().write(ops).unwrap();
    }
    match Mkvs::open(dir.path(), fjall()) {
        Err(MkvsError::Corrupt(_)) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("corruption not detected"),
    }
    // A database that is not MKVS at all.
    let other = tempfile::tempdir().unwrap();
    {
        let raw = atoll_mkvs::engine::FjallEngine::open(other.path()).unwrap();
        atoll_mkvs::engine::KvEngine::write(&raw, vec![(b"hello".to_vec(), Some(b"x".to_vec()))])
            .unwrap();
    }
    assert!(matches!(
        Mkvs::open(other.path(), fjall()),
        Err(MkvsError::Corrupt(_))
    ));
}

#[test]
fn oversized_keys_and_values_are_refused() {
    let db = Mkvs::in_memory();
    let mut ov = db.overlay(ns(1)).unwrap();
    let big = vec![0u8; atoll_mkvs::MAX_KEY_LEN + 1];
    assert!(matches!(
        ov.insert(&big, b"v"),
        Err(MkvsError::KeyTooLong(_))
    ));
    assert!(matches!(ov.remove(&big), Err(MkvsError::KeyTooLong(_))));
}

#[test]
fn garbage_redb_file_gives_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        engine: atoll_mkvs::EngineKind::Redb,
    };
    {
        let db = Mkvs::open(dir.path(), opts.clone()).unwrap();
        let mut ov = db.overlay(ns(1)).unwrap();
        ov.insert(b"k", b"v").unwrap();
        ov.commit(1).unwrap();
    }
    let file = dir.path().join("mkvs.redb");
    let len = std::fs::metadata(&file).unwrap().len() as usize;
    std::fs::write(
        &file,
        (0..len).map(|i| (i * 13 + 7) as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    assert!(open_and_read(dir.path(), opts).is_err());
}

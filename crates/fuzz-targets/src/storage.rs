//! What storage peers and untrusted nodes hand over: checkpoint metadata
//! and chunks, and read proofs. Only a root from consensus is trusted.

use std::sync::OnceLock;

use atoll_crypto::Hash;
use atoll_mkvs::checkpoint::decode_chunk;
use atoll_mkvs::{CheckpointMetadata, Mkvs, Proof, proof};
use atoll_types::Namespace;

const NS: Namespace = Namespace([0x55; 32]);
const VERSION: u64 = 3;

/// A small committed tree: its root (the "consensus" root), its contents,
/// one checkpoint of it and proofs of its keys (present and absent).
struct Fixture {
    root: Hash,
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    absent: Vec<Vec<u8>>,
    meta: CheckpointMetadata,
    chunks: Vec<Vec<u8>>,
    proofs: Vec<Proof>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = (0u8..24)
            .map(|i| {
                (
                    vec![b'k', i, i.wrapping_mul(37)],
                    vec![i; usize::from(i % 5)],
                )
            })
            .collect();
        // Keys that are prefixes and bit-level extensions of each other.
        pairs.push((vec![], b"empty key".to_vec()));
        pairs.push((vec![0x80], b"one bit".to_vec()));
        pairs.push((vec![0x80, 0x00], b"a zero byte more".to_vec()));
        pairs.push((vec![0xc0], b"two bits".to_vec()));
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        let db = Mkvs::in_memory();
        let mut overlay = db.overlay(NS).expect("an overlay of an empty namespace");
        for (k, v) in &pairs {
            overlay.insert(k, v).expect("a small key inserts");
        }
        let (root, _) = overlay.commit(VERSION).expect("the fixture commits");
        let (meta, chunks) = db
            .export_checkpoint(NS, VERSION, 64)
            .expect("the fixture exports");
        let absent = vec![
            vec![b'k'],
            vec![0x80, 0x00, 0x00],
            vec![0x40],
            vec![0xff; 3],
        ];
        let tree = db.tree(NS, VERSION).expect("the committed version");
        let proofs = pairs
            .iter()
            .map(|(k, _)| k)
            .chain(&absent)
            .map(|k| tree.get_with_proof(k).expect("a proof").1)
            .collect();
        Fixture {
            root,
            pairs,
            absent,
            meta,
            chunks,
            proofs,
        }
    })
}

/// Checkpoint metadata and chunks: decoding never panics, metadata that
/// decodes survives a round trip, and a restore fed `data` as its only
/// chunk (its digest listed, as an untrusted peer would list it) either
/// fails or yields exactly the trusted tree.
pub fn checkpoint_chunk(data: &[u8]) {
    let f = fixture();
    let _ = decode_chunk(data);
    if let Ok(meta) = CheckpointMetadata::decode(data) {
        let again = CheckpointMetadata::decode(&meta.encode()).expect("encoded metadata decodes");
        assert_eq!(again, meta);
    }
    let meta = CheckpointMetadata {
        namespace: NS,
        version: VERSION,
        root: f.root,
        chunks: vec![Hash::digest(data)],
    };
    let db = Mkvs::in_memory();
    let Ok(mut restorer) = db.restore_checkpoint(&meta, f.root) else {
        panic!("a restore into an empty namespace must start");
    };
    if restorer.add_chunk(data).is_err() {
        return;
    }
    if let Ok(root) = restorer.finish() {
        assert_eq!(root, f.root, "a restore finished on another root");
        let tree = db.tree(NS, VERSION).expect("the restored version");
        let restored: Vec<_> = tree.iter().map(|kv| kv.expect("a restored pair")).collect();
        assert_eq!(
            restored, f.pairs,
            "a restore reproduced the root but not the contents"
        );
    }
}

/// The fixture's checkpoint chunks and metadata.
pub fn checkpoint_seeds() -> Vec<Vec<u8>> {
    let f = fixture();
    let mut seeds = f.chunks.clone();
    seeds.push(f.meta.encode());
    seeds
}

/// A read proof: decoding never panics, a decoded proof survives a round
/// trip, and no proof, however forged, makes a key verify to anything but
/// its true value (or its true absence) under the trusted root.
pub fn mkvs_proof(data: &[u8]) {
    let Ok(p) = Proof::decode(data) else {
        return;
    };
    assert_eq!(
        Proof::decode(&p.encode()).expect("an encoded proof decodes"),
        p
    );
    let f = fixture();
    let present = f.pairs.iter().map(|(k, v)| (k, Some(v)));
    let absent = f.absent.iter().map(|k| (k, None));
    for (key, truth) in present.chain(absent) {
        if let Ok(proven) = proof::verify(&f.root, key, &p) {
            assert_eq!(
                proven.as_ref(),
                truth,
                "a proof verified a false answer for key {key:02x?}"
            );
        }
    }
}

/// Real proofs of present and absent keys.
pub fn proof_seeds() -> Vec<Vec<u8>> {
    fixture().proofs.iter().map(Proof::encode).collect()
}

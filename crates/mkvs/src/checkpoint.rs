//! Checkpoints: a version exported as hashed chunks, and restored from them.
//!
//! A checkpoint of version `v` is the sorted list of its `(key, value)`
//! pairs cut into chunks of about `chunk_size` bytes. The [`Metadata`] lists
//! the root and the SHA-512/256 digest of every chunk. Restoring checks each
//! chunk against its digest as it arrives (and that keys keep increasing
//! across chunks), rebuilds the trie in memory, and commits it only if its
//! root equals the trusted root; a refused restore leaves nothing visible.
//!
//! Chunk encoding: `u8 format || u32 n || n × (bytes key || bytes value)`.

use atoll_crypto::Hash;
use atoll_types::Namespace;
use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, MAX_KEY_LEN, MAX_VALUE_LEN, Reader, Writer};
use crate::db::Mkvs;
use crate::error::{MkvsError, Result};
use crate::node::Child;
use crate::tree;

/// Format version byte of a chunk.
pub const CHUNK_FORMAT: u8 = 1;
/// Most chunks a checkpoint may list.
pub const MAX_CHUNKS: usize = 1 << 20;

/// Describes a checkpoint: what it restores to and the digest of each chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The namespace exported.
    #[serde(with = "ns_bytes")]
    pub namespace: Namespace,
    /// The version exported.
    pub version: u64,
    /// The version's root hash.
    pub root: Hash,
    /// Digest of every chunk, in order.
    pub chunks: Vec<Hash>,
}

/// Format version byte of encoded [`Metadata`].
pub const METADATA_FORMAT: u8 = 1;

impl Metadata {
    /// Encodes the metadata: `u8 format || ns || u64 version || root ||
    /// u32 n || n × digest`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(77 + 32 * self.chunks.len());
        w.u8(METADATA_FORMAT);
        w.raw(&self.namespace.0);
        w.u64(self.version);
        w.raw(&self.root.0);
        w.u32(u32::try_from(self.chunks.len()).unwrap_or(u32::MAX));
        for c in &self.chunks {
            w.raw(&c.0);
        }
        w.finish()
    }

    /// Decodes metadata, bounded by the input size and [`MAX_CHUNKS`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8("metadata format")?;
        if tag != METADATA_FORMAT {
            return Err(DecodeError::BadTag {
                what: "metadata format",
                tag,
            });
        }
        let namespace = Namespace(r.array("metadata namespace")?);
        let version = r.u64("metadata version")?;
        let root = r.hash("metadata root")?;
        let n = r.count("metadata chunks", 32, MAX_CHUNKS)?;
        let mut chunks = Vec::with_capacity(n);
        for _ in 0..n {
            chunks.push(r.hash("chunk digest")?);
        }
        r.end()?;
        Ok(Self {
            namespace,
            version,
            root,
            chunks,
        })
    }
}

/// A key and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Serde for [`Namespace`] as a 32-byte string (atoll-types has no serde yet).
pub(crate) mod ns_bytes {
    use atoll_types::Namespace;

    pub(crate) fn serialize<S: serde::Serializer>(ns: &Namespace, s: S) -> Result<S::Ok, S::Error> {
        serde_bytes::serialize(&ns.0[..], s)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Namespace, D::Error> {
        let b: serde_bytes::ByteArray<32> = serde::Deserialize::deserialize(d)?;
        Ok(Namespace(b.into_array()))
    }
}

/// Decodes one chunk into its pairs, checking bounds and key order.
pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<Pair>, DecodeError> {
    let mut r = Reader::new(bytes);
    let tag = r.u8("chunk format")?;
    if tag != CHUNK_FORMAT {
        return Err(DecodeError::BadTag {
            what: "chunk format",
            tag,
        });
    }
    let n = r.count("chunk entries", 8, usize::MAX)?;
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.bytes("chunk key", MAX_KEY_LEN)?.to_vec();
        let v = r.bytes("chunk value", MAX_VALUE_LEN)?.to_vec();
        if out.last().is_some_and(|(p, _)| *p >= k) {
            return Err(DecodeError::Invalid("chunk keys not strictly increasing"));
        }
        out.push((k, v));
    }
    r.end()?;
    Ok(out)
}

fn encode_chunk(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(CHUNK_FORMAT);
    w.u32(u32::try_from(pairs.len()).unwrap_or(u32::MAX));
    for (k, v) in pairs {
        w.bytes(k);
        w.bytes(v);
    }
    w.finish()
}

impl Mkvs {
    /// Exports version `version` of `ns` as chunks of about `chunk_size`
    /// bytes each.
    pub fn export_checkpoint(
        &self,
        ns: Namespace,
        version: u64,
        chunk_size: usize,
    ) -> Result<(Metadata, Vec<Vec<u8>>)> {
        let t = self.tree(ns, version)?;
        let mut chunks = Vec::new();
        let mut cur: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut size = 0usize;
        for kv in t.iter() {
            let (k, v) = kv?;
            size += 8 + k.len() + v.len();
            cur.push((k, v));
            if size >= chunk_size {
                chunks.push(encode_chunk(&cur));
                cur.clear();
                size = 0;
            }
        }
        if !cur.is_empty() {
            chunks.push(encode_chunk(&cur));
        }
        let digests = chunks.iter().map(|c| Hash::digest(c)).collect();
        Ok((
            Metadata {
                namespace: ns,
                version,
                root: t.root_hash(),
                chunks: digests,
            },
            chunks,
        ))
    }

    /// Starts restoring a checkpoint into `ns`, which must have no versions.
    /// `trusted_root` is the root the caller trusts (from consensus); the
    /// metadata must name it.
    pub fn restore_checkpoint(&self, meta: &Metadata, trusted_root: Hash) -> Result<Restorer> {
        check_metadata(meta, trusted_root)?;
        if self.versions(meta.namespace)?.is_some() {
            return Err(MkvsError::NamespaceNotEmpty);
        }
        self.restorer(meta, false)
    }

    /// Starts restoring a checkpoint into `ns` in place of whatever versions
    /// it holds (a node that fell far behind). The checkpoint's version must
    /// be newer than the namespace's latest. Nothing changes until
    /// [`Restorer::finish`], which deletes every older version and commits
    /// the restored one in one atomic write: after a crash the namespace is
    /// either as it was or holds only the restored version.
    pub fn restore_checkpoint_replacing(
        &self,
        meta: &Metadata,
        trusted_root: Hash,
    ) -> Result<Restorer> {
        check_metadata(meta, trusted_root)?;
        if let Some((_, latest)) = self.versions(meta.namespace)?
            && meta.version <= latest
        {
            return Err(MkvsError::BadVersion {
                expected: latest.saturating_add(1),
                got: meta.version,
            });
        }
        self.restorer(meta, true)
    }

    fn restorer(&self, meta: &Metadata, replace: bool) -> Result<Restorer> {
        Ok(Restorer {
            db: self.clone(),
            meta: meta.clone(),
            next: 0,
            root: Child::Empty,
            last_key: None,
            replace,
        })
    }

    /// Restores a whole checkpoint from its chunks in order.
    pub fn restore_from_chunks<'a>(
        &self,
        meta: &Metadata,
        trusted_root: Hash,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Hash> {
        let mut r = self.restore_checkpoint(meta, trusted_root)?;
        for c in chunks {
            r.add_chunk(c)?;
        }
        r.finish()
    }
}

/// An in-progress checkpoint restore. Nothing is visible in the database
/// until [`Restorer::finish`] succeeds.
pub struct Restorer {
    db: Mkvs,
    meta: Metadata,
    next: usize,
    root: Child,
    last_key: Option<Vec<u8>>,
    replace: bool,
}

impl Restorer {
    /// Index of the next chunk expected.
    pub fn next_chunk(&self) -> usize {
        self.next
    }

    /// Adds the next chunk, after checking it against its digest.
    pub fn add_chunk(&mut self, bytes: &[u8]) -> Result<()> {
        let index = self.next;
        let want = self
            .meta
            .chunks
            .get(index)
            .ok_or_else(|| MkvsError::BadCheckpoint(format!("unexpected chunk {index}")))?;
        if Hash::digest(bytes) != *want {
            return Err(MkvsError::ChunkHashMismatch { index });
        }
        let pairs = decode_chunk(bytes)?;
        if let (Some(last), Some((first, _))) = (&self.last_key, pairs.first())
            && first <= last
        {
            return Err(MkvsError::BadCheckpoint(format!(
                "chunk {index} overlaps the previous one"
            )));
        }
        let store = self.db.store(self.meta.namespace);
        for (k, v) in pairs {
            tree::insert(&store, &mut self.root, &k, v)?;
            self.last_key = Some(k);
        }
        self.next += 1;
        Ok(())
    }

    /// Checks that all chunks arrived and the root matches, then commits
    /// the restored version atomically.
    pub fn finish(self) -> Result<Hash> {
        if self.next != self.meta.chunks.len() {
            return Err(MkvsError::BadCheckpoint(format!(
                "{} of {} chunks received",
                self.next,
                self.meta.chunks.len()
            )));
        }
        if self.replace {
            return self.db.commit_restored_replacing(
                self.meta.namespace,
                self.root,
                self.meta.version,
                self.meta.root,
            );
        }
        self.db.commit_restored(
            self.meta.namespace,
            self.root,
            self.meta.version,
            self.meta.root,
        )
    }
}

/// What every restore checks first: the metadata names the root the caller
/// trusts, and its chunk count is within bounds.
fn check_metadata(meta: &Metadata, trusted_root: Hash) -> Result<()> {
    if meta.root != trusted_root {
        return Err(MkvsError::RootMismatch {
            expected: trusted_root,
            computed: meta.root,
        });
    }
    if meta.chunks.len() > MAX_CHUNKS {
        return Err(MkvsError::BadCheckpoint(format!(
            "{} chunks",
            meta.chunks.len()
        )));
    }
    Ok(())
}

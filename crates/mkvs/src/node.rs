//! Trie nodes: in-memory form, hashing and stored encoding.
//!
//! Hashes (SHA-512/256, domain-separated by a first byte):
//! - empty tree: `Hash::empty()` (SHA-512/256 of nothing);
//! - leaf: `H(0x00 || u32 key_len || key || value)`;
//! - internal: `H(0x01 || u32 bit || left_hash || right_hash)`.
//!
//! Stored encoding (value under the node's database key):
//! - leaf: `0x00 || u32 key_len || key || u32 value_len || value`;
//! - internal: `0x01 || u32 bit || left_id || right_id`, an id being
//!   `u64 version || hash` (40 bytes).

use std::sync::{Arc, OnceLock};

use atoll_crypto::Hash;

use crate::codec::{DecodeError, MAX_KEY_LEN, MAX_VALUE_LEN, Reader, Writer};
use crate::error::{MkvsError, Result};

pub(crate) const LEAF_TAG: u8 = 0x00;
pub(crate) const INTERNAL_TAG: u8 = 0x01;

/// Storage identity of a node: the version that wrote it and its hash.
///
/// Tagging nodes with their creating version (instead of content addressing
/// alone) means a node dropped at version `s` can never be referenced again by
/// a later version, which makes the stale-node pruning index sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NodeId {
    pub(crate) version: u64,
    pub(crate) hash: Hash,
}

impl NodeId {
    pub(crate) const ENCODED_LEN: usize = 40;
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.version);
        w.raw(&self.hash.0);
    }
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            version: r.u64("node version")?,
            hash: r.hash("node hash")?,
        })
    }
}

/// Hash of a leaf.
#[inline]
pub(crate) fn leaf_hash(key: &[u8], value: &[u8]) -> Hash {
    let klen = u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes();
    Hash::digest_parts(&[&[LEAF_TAG], &klen, key, value])
}

/// Hash of an internal node.
#[inline]
pub(crate) fn internal_hash(bit: u32, left: &Hash, right: &Hash) -> Hash {
    Hash::digest_parts(&[&[INTERNAL_TAG], &bit.to_be_bytes(), &left.0, &right.0])
}

/// A trie node.
#[derive(Clone)]
pub(crate) enum Node {
    Leaf { key: Vec<u8>, value: Vec<u8> },
    Internal { bit: u32, left: Child, right: Child },
}

/// A stored node, loaded on first use and then kept (inline, so reaching a
/// cached node costs one pointer hop).
pub(crate) struct StoredPtr {
    pub(crate) id: NodeId,
    pub(crate) cell: OnceLock<Node>,
}

/// A pointer to a subtree.
#[derive(Clone, Default)]
pub(crate) enum Child {
    /// The empty subtree (only ever the root of an empty tree).
    #[default]
    Empty,
    /// A node already in the database (possibly cached in memory).
    Stored(Arc<StoredPtr>),
    /// A node created by an overlay and not yet committed.
    Mem(Arc<Node>),
}

/// Where stored nodes come from.
pub(crate) trait NodeSource {
    /// Loads and checks one node.
    fn load(&self, id: &NodeId) -> Result<Node>;
}

impl Child {
    pub(crate) fn stored(id: NodeId, node: Option<Node>) -> Self {
        let cell = OnceLock::new();
        if let Some(n) = node {
            let _ = cell.set(n);
        }
        Child::Stored(Arc::new(StoredPtr { id, cell }))
    }

    /// The node, loading it if needed; `None` for the empty tree.
    pub(crate) fn node<'a>(&'a self, src: &dyn NodeSource) -> Result<Option<&'a Node>> {
        match self {
            Child::Empty => Ok(None),
            Child::Mem(n) => Ok(Some(n)),
            Child::Stored(p) => {
                if let Some(n) = p.cell.get() {
                    return Ok(Some(n));
                }
                let loaded = src.load(&p.id)?;
                let _ = p.cell.set(loaded);
                match p.cell.get() {
                    Some(n) => Ok(Some(n)),
                    None => Err(MkvsError::Corrupt("node cache".into())),
                }
            }
        }
    }

    /// The subtree's hash (computed for uncommitted nodes). Stored nodes
    /// carry their hash in their id, so nothing is loaded.
    pub(crate) fn hash(&self, _src: &dyn NodeSource) -> Result<Hash> {
        match self {
            Child::Empty => Ok(Hash::empty()),
            Child::Stored(p) => Ok(p.id.hash),
            Child::Mem(_) => Ok(mem_hash(self)),
        }
    }

    pub(crate) fn stored_id(&self) -> Option<NodeId> {
        match self {
            Child::Stored(p) => Some(p.id),
            _ => None,
        }
    }
}

/// The hash of a subtree, walking its uncommitted nodes post-order with an
/// explicit stack: a trie is as deep as its longest key has bits, far more
/// than a thread's stack holds frames.
fn mem_hash(root: &Child) -> Hash {
    enum Step<'a> {
        Visit(&'a Child),
        Combine(u32),
    }
    let mut work = vec![Step::Visit(root)];
    let mut done: Vec<Hash> = Vec::new();
    while let Some(step) = work.pop() {
        match step {
            Step::Visit(Child::Empty) => done.push(Hash::empty()),
            Step::Visit(Child::Stored(p)) => done.push(p.id.hash),
            Step::Visit(Child::Mem(n)) => match &**n {
                Node::Leaf { key, value } => done.push(leaf_hash(key, value)),
                Node::Internal { bit, left, right } => {
                    work.push(Step::Combine(*bit));
                    work.push(Step::Visit(right));
                    work.push(Step::Visit(left));
                }
            },
            Step::Combine(bit) => {
                // Both children were pushed just before: two results wait.
                let right = done.pop().unwrap_or_else(Hash::empty);
                let left = done.pop().unwrap_or_else(Hash::empty);
                done.push(internal_hash(bit, &left, &right));
            }
        }
    }
    done.pop().unwrap_or_else(Hash::empty)
}

/// The node a child pointer owns alone (no other pointer shares it), for
/// taking its children apart.
fn owned_node(c: &mut Child) -> Option<&mut Node> {
    match c {
        Child::Empty => None,
        Child::Mem(arc) => Arc::get_mut(arc),
        Child::Stored(p) => Arc::get_mut(p).and_then(|p| p.cell.get_mut()),
    }
}

/// Moves `c` to `pending` when dropping it would drop an internal node
/// (and so, recursively, its whole subtree).
fn detach_deep(c: &mut Child, pending: &mut Vec<Child>) {
    if matches!(owned_node(c), Some(Node::Internal { .. })) {
        pending.push(std::mem::take(c));
    }
}

impl Drop for Node {
    /// Drops a subtree without recursion: the default drop glue would go
    /// one stack frame per level, and a crafted chain of keys is as deep as
    /// its longest key has bits. Children this node alone owns are taken
    /// apart on a heap stack; shared ones only lose a reference.
    fn drop(&mut self) {
        let Node::Internal { left, right, .. } = self else {
            return;
        };
        let mut pending = Vec::new();
        detach_deep(left, &mut pending);
        detach_deep(right, &mut pending);
        while let Some(mut c) = pending.pop() {
            if let Some(Node::Internal { left, right, .. }) = owned_node(&mut c) {
                detach_deep(left, &mut pending);
                detach_deep(right, &mut pending);
            }
            // `c` now holds no deep subtree of its own: a shallow drop.
        }
    }
}

impl Node {
    /// The bit this node branches on; leaves branch "at infinity".
    pub(crate) fn bit(&self) -> u32 {
        match self {
            Node::Leaf { .. } => u32::MAX,
            Node::Internal { bit, .. } => *bit,
        }
    }
}

/// Encodes a leaf for storage.
pub(crate) fn encode_leaf(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(9 + key.len() + value.len());
    w.u8(LEAF_TAG);
    w.bytes(key);
    w.bytes(value);
    w.finish()
}

/// Encodes an internal node for storage.
pub(crate) fn encode_internal(bit: u32, left: &NodeId, right: &NodeId) -> Vec<u8> {
    let mut w = Writer::with_capacity(5 + 2 * NodeId::ENCODED_LEN);
    w.u8(INTERNAL_TAG);
    w.u32(bit);
    left.write(&mut w);
    right.write(&mut w);
    w.finish()
}

/// Decodes a stored node and checks it against its id's hash.
pub(crate) fn decode_node(id: &NodeId, bytes: &[u8]) -> Result<Node> {
    let mut r = Reader::new(bytes);
    let (node, hash) = match r.u8("node tag")? {
        LEAF_TAG => {
            let key = r.bytes("leaf key", MAX_KEY_LEN)?;
            let value = r.bytes("leaf value", MAX_VALUE_LEN)?;
            let hash = leaf_hash(key, value);
            (
                Node::Leaf {
                    key: key.to_vec(),
                    value: value.to_vec(),
                },
                hash,
            )
        }
        INTERNAL_TAG => {
            let bit = r.u32("node bit")?;
            let l = NodeId::read(&mut r)?;
            let rr = NodeId::read(&mut r)?;
            let hash = internal_hash(bit, &l.hash, &rr.hash);
            (
                Node::Internal {
                    bit,
                    left: Child::stored(l, None),
                    right: Child::stored(rr, None),
                },
                hash,
            )
        }
        tag => return Err(DecodeError::BadTag { what: "node", tag }.into()),
    };
    r.end()?;
    if hash != id.hash {
        return Err(MkvsError::Corrupt(format!(
            "node {} hashes to {}",
            id.hash, hash
        )));
    }
    Ok(node)
}

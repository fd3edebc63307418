//! Trie algorithms over [`Child`] pointers: lookup, persistent (copy-on-write)
//! insert and remove, ordered and prefix iteration, commit-time persistence,
//! stale-node detection and structural diff.
//!
//! The trie is a crit-bit (binary Patricia) trie over the prefix-free bit
//! encoding of [`crate::key`]: an internal node stores the index of the first
//! bit on which its two subtrees differ; leaves hold whole keys and values.
//! Its shape, and so its root hash, depends only on the set of keys.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::codec::MAX_DEPTH;
use crate::engine::BatchOp;
use crate::error::{MkvsError, Result};
use crate::key::{bit, crit_bit, prefix_bits};
use crate::node::{Child, Node, NodeId, NodeSource, encode_internal, encode_leaf};
use crate::proof::{Proof, ProofLeaf, ProofStep};
use crate::writelog::LogEntry;

fn child_of<'a>(left: &'a Child, right: &'a Child, key: &[u8], b: u32) -> &'a Child {
    if bit(key, b) == 0 { left } else { right }
}

/// The leaf a search for `key` ends at, if the tree is not empty.
fn search<'a>(src: &dyn NodeSource, root: &'a Child, key: &[u8]) -> Result<Option<&'a Node>> {
    Ok(search_depth(src, root, key)?.map(|(n, _)| n))
}

/// [`search`], also counting the internal nodes passed.
fn search_depth<'a>(
    src: &dyn NodeSource,
    root: &'a Child,
    key: &[u8],
) -> Result<Option<(&'a Node, usize)>> {
    let mut cur = root;
    let mut depth = 0usize;
    loop {
        match cur.node(src)? {
            None => return Ok(None),
            Some(Node::Internal {
                bit: b,
                left,
                right,
            }) => {
                cur = child_of(left, right, key, *b);
                depth += 1;
            }
            Some(leaf) => return Ok(Some((leaf, depth))),
        }
    }
}

/// Looks `key` up.
pub(crate) fn get(src: &dyn NodeSource, root: &Child, key: &[u8]) -> Result<Option<Vec<u8>>> {
    match search(src, root, key)? {
        Some(Node::Leaf { key: k, value }) if k.as_slice() == key => Ok(Some(value.clone())),
        _ => Ok(None),
    }
}

/// Looks `key` up and builds a proof of the answer.
pub(crate) fn get_with_proof(
    src: &dyn NodeSource,
    root: &Child,
    key: &[u8],
) -> Result<(Option<Vec<u8>>, Proof)> {
    let mut steps = Vec::new();
    let mut cur = root;
    loop {
        match cur.node(src)? {
            None => return Ok((None, Proof { steps, leaf: None })),
            Some(Node::Internal {
                bit: b,
                left,
                right,
            }) => {
                let (next, sibling) = if bit(key, *b) == 0 {
                    (left, right)
                } else {
                    (right, left)
                };
                steps.push(ProofStep {
                    bit: *b,
                    sibling: sibling.hash(src)?,
                });
                cur = next;
            }
            Some(Node::Leaf { key: k, value }) => {
                let found = (k.as_slice() == key).then(|| value.clone());
                let leaf = ProofLeaf {
                    key: k.clone(),
                    value: value.clone(),
                };
                return Ok((
                    found,
                    Proof {
                        steps,
                        leaf: Some(leaf),
                    },
                ));
            }
        }
    }
}

/// A uniquely owned, mutable node in place of `child` (copying a shared or
/// stored node first).
fn make_mut<'a>(src: &dyn NodeSource, child: &'a mut Child) -> Result<&'a mut Node> {
    if let Child::Stored(_) = child {
        let node = child.node(src)?.cloned();
        match node {
            Some(n) => *child = Child::Mem(Arc::new(n)),
            None => return Err(MkvsError::Corrupt("stored pointer without node".into())),
        }
    }
    match child {
        Child::Mem(arc) => Ok(Arc::make_mut(arc)),
        _ => Err(MkvsError::Corrupt("mutating the empty tree".into())),
    }
}

/// Inserts or replaces `key`.
pub(crate) fn insert(
    src: &dyn NodeSource,
    root: &mut Child,
    key: &[u8],
    value: Vec<u8>,
) -> Result<()> {
    let (crit, same_value) = match search_depth(src, root, key)? {
        None => {
            *root = Child::Mem(Arc::new(Node::Leaf {
                key: key.to_vec(),
                value,
            }));
            return Ok(());
        }
        Some((Node::Leaf { key: lk, value: lv }, depth)) => {
            let crit = crit_bit(key, lk);
            // A new key may land one level below the deepest point passed.
            if crit.is_some() && depth >= MAX_DEPTH {
                return Err(MkvsError::TreeTooDeep(MAX_DEPTH));
            }
            (crit, *lv == value)
        }
        Some((Node::Internal { .. }, _)) => {
            return Err(MkvsError::Corrupt("search ended inside".into()));
        }
    };
    match crit {
        None if same_value => Ok(()),
        None => set_value(src, root, key, value),
        Some(c) => insert_at(src, root, key, value, c),
    }
}

fn set_value(src: &dyn NodeSource, child: &mut Child, key: &[u8], value: Vec<u8>) -> Result<()> {
    match make_mut(src, child)? {
        Node::Leaf { value: v, .. } => {
            *v = value;
            Ok(())
        }
        Node::Internal {
            bit: b,
            left,
            right,
        } => {
            let next = if bit(key, *b) == 0 { left } else { right };
            set_value(src, next, key, value)
        }
    }
}

fn insert_at(
    src: &dyn NodeSource,
    child: &mut Child,
    key: &[u8],
    value: Vec<u8>,
    c: u32,
) -> Result<()> {
    let descend = matches!(child.node(src)?, Some(Node::Internal { bit: b, .. }) if *b < c);
    if descend {
        if let Node::Internal {
            bit: b,
            left,
            right,
        } = make_mut(src, child)?
        {
            let next = if bit(key, *b) == 0 { left } else { right };
            return insert_at(src, next, key, value, c);
        }
        return Err(MkvsError::Corrupt("node changed kind".into()));
    }
    let old = std::mem::replace(child, Child::Empty);
    let leaf = Child::Mem(Arc::new(Node::Leaf {
        key: key.to_vec(),
        value,
    }));
    let (left, right) = if bit(key, c) == 0 {
        (leaf, old)
    } else {
        (old, leaf)
    };
    *child = Child::Mem(Arc::new(Node::Internal {
        bit: c,
        left,
        right,
    }));
    Ok(())
}

/// Removes `key`; returns whether it was present.
pub(crate) fn remove(src: &dyn NodeSource, root: &mut Child, key: &[u8]) -> Result<bool> {
    match search(src, root, key)? {
        Some(Node::Leaf { key: k, .. }) if k.as_slice() == key => {}
        _ => return Ok(false),
    }
    if let Some(Node::Leaf { .. }) = root.node(src)? {
        *root = Child::Empty;
        return Ok(true);
    }
    remove_at(src, root, key)?;
    Ok(true)
}

/// `child` is an internal node on the path to the (present) leaf of `key`.
fn remove_at(src: &dyn NodeSource, child: &mut Child, key: &[u8]) -> Result<()> {
    let replacement = match child.node(src)? {
        Some(Node::Internal {
            bit: b,
            left,
            right,
        }) => {
            let (target, sibling) = if bit(key, *b) == 0 {
                (left, right)
            } else {
                (right, left)
            };
            match target.node(src)? {
                Some(Node::Leaf { .. }) => Some(sibling.clone()),
                _ => None,
            }
        }
        _ => return Err(MkvsError::Corrupt("remove path broken".into())),
    };
    if let Some(r) = replacement {
        *child = r;
        return Ok(());
    }
    match make_mut(src, child)? {
        Node::Internal {
            bit: b,
            left,
            right,
        } => {
            let next = if bit(key, *b) == 0 { left } else { right };
            remove_at(src, next, key)
        }
        Node::Leaf { .. } => Err(MkvsError::Corrupt("remove path broken".into())),
    }
}

/// The root of the smallest subtree holding every key that starts with
/// `prefix` (the empty tree when there is none).
pub(crate) fn prefix_root(src: &dyn NodeSource, root: &Child, prefix: &[u8]) -> Result<Child> {
    let pbits = prefix_bits(prefix);
    let mut cur = root;
    loop {
        match cur.node(src)? {
            None => return Ok(Child::Empty),
            Some(Node::Internal {
                bit: b,
                left,
                right,
            }) if *b < pbits => {
                cur = child_of(left, right, prefix, *b);
            }
            Some(_) => break,
        }
    }
    // Every key below `cur` agrees on the first `pbits` bits: check one.
    let mut probe = cur;
    loop {
        match probe.node(src)? {
            None => return Ok(Child::Empty),
            Some(Node::Internal { left, .. }) => probe = left,
            Some(Node::Leaf { key, .. }) => {
                return Ok(if key.starts_with(prefix) {
                    cur.clone()
                } else {
                    Child::Empty
                });
            }
        }
    }
}

/// The iteration stack that yields, in order, every key `>= start`.
///
/// Walks down the path of `start`; a subtree wholly above `start` is pushed
/// whole, one wholly below is skipped. Whether a subtree lies wholly on one
/// side is read from one witness key, since a crit-bit node does not store
/// the prefix its keys share.
pub(crate) fn seek_stack(src: &dyn NodeSource, root: &Child, start: &[u8]) -> Result<Vec<Child>> {
    let mut stack = Vec::new();
    let mut cur = root.clone();
    loop {
        let next = match cur.node(src)? {
            None => break,
            Some(Node::Leaf { key, .. }) => {
                if key.as_slice() >= start {
                    stack.push(cur.clone());
                }
                break;
            }
            Some(Node::Internal {
                bit: b,
                left,
                right,
            }) => {
                let witness = must_first_key(src, &cur)?;
                if let Some(c) = crit_bit(start, witness)
                    && c < *b
                {
                    if bit(start, c) == 0 {
                        stack.push(cur.clone());
                    }
                    break;
                }
                if bit(start, *b) == 0 {
                    stack.push(right.clone());
                    left.clone()
                } else {
                    right.clone()
                }
            }
        };
        cur = next;
    }
    Ok(stack)
}

/// In-order iterator over a subtree, loading nodes lazily.
pub(crate) struct RawIter<S> {
    pub(crate) src: S,
    pub(crate) stack: Vec<Child>,
    pub(crate) failed: bool,
}

impl<S: NodeSource> Iterator for RawIter<S> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        while let Some(c) = self.stack.pop() {
            match c.node(&self.src) {
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
                Ok(None) => {}
                Ok(Some(Node::Leaf { key, value })) => {
                    return Some(Ok((key.clone(), value.clone())));
                }
                Ok(Some(Node::Internal { left, right, .. })) => {
                    self.stack.push(right.clone());
                    self.stack.push(left.clone());
                }
            }
        }
        None
    }
}

/// A fast, deterministic hasher for node ids, whose bytes are already
/// uniformly distributed (SHA-512/256 output). Used for a set that is
/// only probed, never iterated.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for c in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
}

/// Set of node ids.
pub(crate) type IdSet = HashSet<NodeId, BuildHasherDefault<IdHasher>>;

/// Commit-time output of [`persist`].
pub(crate) struct Persisted {
    pub(crate) root: Child,
    pub(crate) hash: atoll_crypto::Hash,
    /// Stored nodes the new tree still points to from new nodes.
    pub(crate) frontier: IdSet,
}

/// Hashes every uncommitted node of `root`, appends its stored form under
/// `node_key(id)` to `ops`, and returns the tree with all pointers stored.
pub(crate) fn persist(
    src: &dyn NodeSource,
    root: Child,
    version: u64,
    ops: &mut Vec<BatchOp>,
    node_key: &dyn Fn(&NodeId) -> Vec<u8>,
) -> Result<Persisted> {
    let mut frontier = IdSet::default();
    let mut root = root;
    persist_rec(
        &mut root,
        &mut PersistCtx {
            version,
            ops,
            node_key,
            frontier: &mut frontier,
        },
    )?;
    let hash = root.hash(src)?;
    Ok(Persisted {
        root,
        hash,
        frontier,
    })
}

struct PersistCtx<'a> {
    version: u64,
    ops: &'a mut Vec<BatchOp>,
    node_key: &'a dyn Fn(&NodeId) -> Vec<u8>,
    frontier: &'a mut IdSet,
}

/// Post-order walk over the uncommitted nodes. Kept to a few pointers per
/// frame (the per-node work is in [`persist_node`]) so that even a
/// [`MAX_DEPTH`]-deep trie fits a thread's stack in debug builds.
fn persist_rec(child: &mut Child, ctx: &mut PersistCtx<'_>) -> Result<()> {
    match child {
        Child::Mem(arc) => {
            // Usually unique: the overlay owned it, so this mutates in place.
            if let Node::Internal { left, right, .. } = Arc::make_mut(arc) {
                persist_rec(left, ctx)?;
                persist_rec(right, ctx)?;
            }
            persist_node(child, ctx)
        }
        Child::Stored(p) => {
            ctx.frontier.insert(p.id);
            Ok(())
        }
        Child::Empty => Ok(()),
    }
}

/// Hashes and encodes one uncommitted node whose children are stored, and
/// turns its pointer into a stored one (reusing the node allocation).
#[inline(never)]
fn persist_node(child: &mut Child, ctx: &mut PersistCtx<'_>) -> Result<()> {
    let Child::Mem(arc) = std::mem::replace(child, Child::Empty) else {
        return Err(MkvsError::Corrupt("persisting a stored node".into()));
    };
    let (id, bytes) = match &*arc {
        Node::Leaf { key, value } => {
            let id = NodeId {
                version: ctx.version,
                hash: crate::node::leaf_hash(key, value),
            };
            (id, encode_leaf(key, value))
        }
        Node::Internal {
            bit: b,
            left,
            right,
        } => {
            let (lid, rid) = match (left.stored_id(), right.stored_id()) {
                (Some(a), Some(b)) => (a, b),
                _ => return Err(MkvsError::Corrupt("internal node with empty child".into())),
            };
            let id = NodeId {
                version: ctx.version,
                hash: crate::node::internal_hash(*b, &lid.hash, &rid.hash),
            };
            (id, encode_internal(*b, &lid, &rid))
        }
    };
    ctx.ops.push(((ctx.node_key)(&id), Some(bytes)));
    *child = Child::stored(id, Some(Arc::unwrap_or_clone(arc)));
    Ok(())
}

/// Stored nodes of `base` that the new tree no longer reaches: the nodes of
/// `base` not inside a subtree rooted at a frontier node.
pub(crate) fn stale_nodes(
    src: &dyn NodeSource,
    base: &Child,
    frontier: &IdSet,
    out: &mut Vec<NodeId>,
) -> Result<()> {
    let Some(id) = base.stored_id() else {
        return Ok(());
    };
    if frontier.contains(&id) {
        return Ok(());
    }
    out.push(id);
    if let Some(Node::Internal { left, right, .. }) = base.node(src)? {
        stale_nodes(src, left, frontier, out)?;
        stale_nodes(src, right, frontier, out)?;
    }
    Ok(())
}

type LeafFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// Calls `f` on every leaf of a subtree, in key order.
pub(crate) fn for_each_leaf(src: &dyn NodeSource, c: &Child, f: &mut LeafFn<'_>) -> Result<()> {
    match c.node(src)? {
        None => Ok(()),
        Some(Node::Leaf { key, value }) => f(key, value),
        Some(Node::Internal { left, right, .. }) => {
            for_each_leaf(src, left, f)?;
            for_each_leaf(src, right, f)
        }
    }
}

fn all_as(src: &dyn NodeSource, c: &Child, insert: bool, out: &mut Vec<LogEntry>) -> Result<()> {
    for_each_leaf(src, c, &mut |k, v| {
        out.push(LogEntry {
            key: k.to_vec(),
            value: insert.then(|| v.to_vec()),
        });
        Ok(())
    })
}

fn first_key<'a>(src: &dyn NodeSource, c: &'a Child) -> Result<Option<&'a [u8]>> {
    let mut cur = c;
    loop {
        match cur.node(src)? {
            None => return Ok(None),
            Some(Node::Internal { left, .. }) => cur = left,
            Some(Node::Leaf { key, .. }) => return Ok(Some(key)),
        }
    }
}

fn must_first_key<'a>(src: &dyn NodeSource, c: &'a Child) -> Result<&'a [u8]> {
    first_key(src, c)?.ok_or_else(|| MkvsError::Corrupt("empty subtree under a node".into()))
}

/// Appends to `out`, in key order, the changes that turn subtree `a` into
/// subtree `b`. Subtrees with equal hashes are skipped without loading.
pub(crate) fn diff(
    src_a: &dyn NodeSource,
    a: &Child,
    src_b: &dyn NodeSource,
    b: &Child,
    out: &mut Vec<LogEntry>,
) -> Result<()> {
    if a.hash(src_a)? == b.hash(src_b)? {
        return Ok(());
    }
    match (first_key(src_a, a)?, first_key(src_b, b)?) {
        (None, _) => all_as(src_b, b, true, out),
        (_, None) => all_as(src_a, a, false, out),
        (Some(ka), Some(kb)) => diff_rec(src_a, a, ka, src_b, b, kb, out),
    }
}

/// [`diff`] of two non-empty subtrees, given one key of each (`ka`, `kb`).
///
/// A crit-bit node does not store the bits its keys share, so two subtrees
/// at the same position may still cover disjoint key ranges: the first bit
/// where `ka` and `kb` differ tells, and it must be checked before pairing
/// children.
fn diff_rec(
    src_a: &dyn NodeSource,
    a: &Child,
    ka: &[u8],
    src_b: &dyn NodeSource,
    b: &Child,
    kb: &[u8],
    out: &mut Vec<LogEntry>,
) -> Result<()> {
    if a.hash(src_a)? == b.hash(src_b)? {
        return Ok(());
    }
    let (Some(na), Some(nb)) = (a.node(src_a)?, b.node(src_b)?) else {
        return Err(MkvsError::Corrupt("empty subtree under a node".into()));
    };
    if let Some(c) = crit_bit(ka, kb)
        && c < na.bit().min(nb.bit())
    {
        // Disjoint key ranges: everything in one precedes everything in the other.
        if bit(ka, c) == 0 {
            all_as(src_a, a, false, out)?;
            return all_as(src_b, b, true, out);
        }
        all_as(src_b, b, true, out)?;
        return all_as(src_a, a, false, out);
    }
    match (na, nb) {
        (Node::Leaf { .. }, Node::Leaf { key, value }) => {
            // Same key (the crit-bit check above), different value.
            out.push(LogEntry {
                key: key.clone(),
                value: Some(value.clone()),
            });
            Ok(())
        }
        (
            Node::Internal {
                bit: ba,
                left: la,
                right: ra,
            },
            Node::Internal {
                bit: bb,
                left: lb,
                right: rb,
            },
        ) if ba == bb => {
            diff_rec(src_a, la, ka, src_b, lb, kb, out)?;
            // Witness keys cost a descent each: only find them when needed.
            if ra.hash(src_a)? == rb.hash(src_b)? {
                return Ok(());
            }
            let (kra, krb) = (must_first_key(src_a, ra)?, must_first_key(src_b, rb)?);
            diff_rec(src_a, ra, kra, src_b, rb, krb, out)
        }
        (
            Node::Internal {
                bit: ba,
                left: la,
                right: ra,
            },
            _,
        ) if na.bit() < nb.bit() => {
            // `b` lies wholly on one side of `a`'s branch bit.
            if bit(kb, *ba) == 0 {
                diff_rec(src_a, la, ka, src_b, b, kb, out)?;
                all_as(src_a, ra, false, out)
            } else {
                all_as(src_a, la, false, out)?;
                diff_rec(src_a, ra, must_first_key(src_a, ra)?, src_b, b, kb, out)
            }
        }
        (
            _,
            Node::Internal {
                bit: bb,
                left: lb,
                right: rb,
            },
        ) => {
            if bit(ka, *bb) == 0 {
                diff_rec(src_a, a, ka, src_b, lb, kb, out)?;
                all_as(src_b, rb, true, out)
            } else {
                all_as(src_b, lb, true, out)?;
                diff_rec(src_a, a, ka, src_b, rb, must_first_key(src_b, rb)?, out)
            }
        }
        _ => Err(MkvsError::Corrupt("diff shape".into())),
    }
}

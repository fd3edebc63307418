//! Trie algorithms over [`Child`] pointers: lookup, persistent (copy-on-write)
//! insert and remove, ordered and prefix iteration, commit-time persistence,
//! stale-node detection and structural diff.
//!
//! The trie is a crit-bit (binary Patricia) trie over the prefix-free bit
//! encoding of [`crate::key`]: an internal node stores the index of the first
//! bit on which its two subtrees differ; leaves hold whole keys and values.
//! Its shape, and so its root hash, depends only on the set of keys.
//!
//! Every walk here is iterative (an explicit stack on the heap where one is
//! needed): a trie's depth is bounded only by the bit length of its longest
//! key, [`crate::MAX_DEPTH`], far more levels than a thread's stack has room
//! for frames, and anyone who chooses keys can build a chain that deep.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

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
    let mut cur = root;
    loop {
        match cur.node(src)? {
            None => return Ok(None),
            Some(Node::Internal {
                bit: b,
                left,
                right,
            }) => cur = child_of(left, right, key, *b),
            Some(leaf) => return Ok(Some(leaf)),
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
    let (crit, same_value) = match search(src, root, key)? {
        None => {
            *root = Child::Mem(Arc::new(Node::Leaf {
                key: key.to_vec(),
                value,
            }));
            return Ok(());
        }
        Some(Node::Leaf { key: lk, value: lv }) => (crit_bit(key, lk), *lv == value),
        Some(Node::Internal { .. }) => {
            return Err(MkvsError::Corrupt("search ended inside".into()));
        }
    };
    match crit {
        None if same_value => Ok(()),
        None => set_value(src, root, key, value),
        Some(c) => insert_at(src, root, key, value, c),
    }
}

/// Replaces the value of `key`, which is present, copying its path.
fn set_value(src: &dyn NodeSource, root: &mut Child, key: &[u8], value: Vec<u8>) -> Result<()> {
    let mut cur = root;
    loop {
        cur = match make_mut(src, cur)? {
            Node::Leaf { value: v, .. } => {
                *v = value;
                return Ok(());
            }
            Node::Internal {
                bit: b,
                left,
                right,
            } => side(key, *b, left, right),
        };
    }
}

/// The child of an internal node that `key` goes down to.
fn side<'a>(key: &[u8], b: u32, left: &'a mut Child, right: &'a mut Child) -> &'a mut Child {
    if bit(key, b) == 0 { left } else { right }
}

/// Copies the internal node at `cur` for writing and steps to the child
/// `key` goes down to; a leaf there is corruption (`why`).
fn step_mut<'a>(
    src: &dyn NodeSource,
    cur: &'a mut Child,
    key: &[u8],
    why: &str,
) -> Result<&'a mut Child> {
    match make_mut(src, cur)? {
        Node::Internal {
            bit: b,
            left,
            right,
        } => Ok(side(key, *b, left, right)),
        Node::Leaf { .. } => Err(MkvsError::Corrupt(why.into())),
    }
}

/// Inserts the new leaf of `key` where the path of `key` first passes a
/// node branching at or after its crit bit `c`, copying the path above.
fn insert_at(
    src: &dyn NodeSource,
    root: &mut Child,
    key: &[u8],
    value: Vec<u8>,
    c: u32,
) -> Result<()> {
    let mut cur = root;
    while matches!(cur.node(src)?, Some(Node::Internal { bit: b, .. }) if *b < c) {
        cur = step_mut(src, cur, key, "node changed kind")?;
    }
    let old = std::mem::replace(cur, Child::Empty);
    let leaf = Child::Mem(Arc::new(Node::Leaf {
        key: key.to_vec(),
        value,
    }));
    let (left, right) = if bit(key, c) == 0 {
        (leaf, old)
    } else {
        (old, leaf)
    };
    *cur = Child::Mem(Arc::new(Node::Internal {
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

/// `root` is an internal node on the path to the (present) leaf of `key`:
/// walks down to the leaf's parent, copying the path, and puts the leaf's
/// sibling in the parent's place.
fn remove_at(src: &dyn NodeSource, root: &mut Child, key: &[u8]) -> Result<()> {
    let mut cur = root;
    loop {
        let replacement = match cur.node(src)? {
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
            *cur = r;
            return Ok(());
        }
        cur = step_mut(src, cur, key, "remove path broken")?;
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
/// The classic crit-bit successor search: the leaf a search for `start`
/// ends at shares with `start` at least as many leading bits as any key of
/// the tree, so their first differing bit `c` tells where `start` would sit.
/// A second walk down `start`'s path then pushes every right subtree passed
/// while going left (wholly above `start`), and at the first node branching
/// after `c` the subtree there, whose keys all differ from `start` first at
/// `c`, lies wholly above or wholly below `start`.
pub(crate) fn seek_stack(src: &dyn NodeSource, root: &Child, start: &[u8]) -> Result<Vec<Child>> {
    let crit = match search(src, root, start)? {
        None => return Ok(Vec::new()),
        Some(Node::Leaf { key, .. }) => crit_bit(start, key),
        Some(Node::Internal { .. }) => {
            return Err(MkvsError::Corrupt("search ended inside".into()));
        }
    };
    let mut stack = Vec::new();
    let mut cur = root;
    loop {
        match cur.node(src)? {
            None => break,
            Some(Node::Internal {
                bit: b,
                left,
                right,
            }) if crit.is_none_or(|c| *b < c) => {
                if bit(start, *b) == 0 {
                    stack.push(right.clone());
                    cur = left;
                } else {
                    cur = right;
                }
            }
            Some(_) => {
                // Either the leaf of `start` itself (`crit` is `None`) or
                // a subtree whose keys all differ from `start` first at `c`.
                if crit.is_none_or(|c| bit(start, c) == 0) {
                    stack.push(cur.clone());
                }
                break;
            }
        }
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
/// `node_key(id)` to `ops` (children before parents, left before right),
/// and returns the tree with all pointers stored.
pub(crate) fn persist(
    src: &dyn NodeSource,
    root: Child,
    version: u64,
    ops: &mut Vec<BatchOp>,
    node_key: &dyn Fn(&NodeId) -> Vec<u8>,
) -> Result<Persisted> {
    enum Step {
        /// A subtree to persist.
        Visit(Child),
        /// An internal node whose two children (the last two results) are
        /// now stored.
        Build(Node),
    }
    let mut ctx = PersistCtx {
        version,
        ops,
        node_key,
    };
    let mut frontier = IdSet::default();
    let mut work = vec![Step::Visit(root)];
    let mut done: Vec<Child> = Vec::new();
    while let Some(step) = work.pop() {
        match step {
            Step::Visit(Child::Mem(arc)) => {
                // Usually unique: the overlay owned it, so no copy is made.
                let mut node = Arc::unwrap_or_clone(arc);
                if let Node::Internal { left, right, .. } = &mut node {
                    let (l, r) = (std::mem::take(left), std::mem::take(right));
                    work.push(Step::Build(node));
                    work.push(Step::Visit(r));
                    work.push(Step::Visit(l));
                } else {
                    done.push(persist_node(node, &mut ctx)?);
                }
            }
            Step::Visit(c) => {
                if let Some(id) = c.stored_id() {
                    frontier.insert(id);
                }
                done.push(c);
            }
            Step::Build(mut node) => {
                let (Some(r), Some(l)) = (done.pop(), done.pop()) else {
                    return Err(MkvsError::Corrupt("persist stack".into()));
                };
                if let Node::Internal { left, right, .. } = &mut node {
                    *left = l;
                    *right = r;
                }
                done.push(persist_node(node, &mut ctx)?);
            }
        }
    }
    let root = done
        .pop()
        .ok_or_else(|| MkvsError::Corrupt("persist stack".into()))?;
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
}

/// Hashes and encodes one uncommitted node whose children are stored, and
/// returns a stored pointer to it (keeping the node cached).
fn persist_node(node: Node, ctx: &mut PersistCtx<'_>) -> Result<Child> {
    let (id, bytes) = match &node {
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
    Ok(Child::stored(id, Some(node)))
}

/// Stored nodes of `base` that the new tree no longer reaches: the nodes of
/// `base` not inside a subtree rooted at a frontier node (in pre-order).
pub(crate) fn stale_nodes(
    src: &dyn NodeSource,
    base: &Child,
    frontier: &IdSet,
    out: &mut Vec<NodeId>,
) -> Result<()> {
    let mut work = vec![base];
    while let Some(c) = work.pop() {
        let Some(id) = c.stored_id() else {
            continue;
        };
        if frontier.contains(&id) {
            continue;
        }
        out.push(id);
        if let Some(Node::Internal { left, right, .. }) = c.node(src)? {
            work.push(right);
            work.push(left);
        }
    }
    Ok(())
}

type LeafFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// Calls `f` on every leaf of a subtree, in key order.
pub(crate) fn for_each_leaf(src: &dyn NodeSource, c: &Child, f: &mut LeafFn<'_>) -> Result<()> {
    let mut work = vec![c];
    while let Some(c) = work.pop() {
        match c.node(src)? {
            None => {}
            Some(Node::Leaf { key, value }) => f(key, value)?,
            Some(Node::Internal { left, right, .. }) => {
                work.push(right);
                work.push(left);
            }
        }
    }
    Ok(())
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

/// Some key of a subtree (`None` for the empty tree). Any key will do as a
/// witness of the bits a subtree's keys share; a leaf right beside the path
/// is taken first, so a crafted chain (a leaf beside every internal node)
/// costs one step, not a descent to its bottom.
fn witness<'a>(src: &dyn NodeSource, c: &'a Child) -> Result<Option<&'a [u8]>> {
    let mut cur = c;
    loop {
        match cur.node(src)? {
            None => return Ok(None),
            Some(Node::Leaf { key, .. }) => return Ok(Some(key)),
            Some(Node::Internal { left, right, .. }) => {
                if let Some(Node::Leaf { key, .. }) = left.node(src)? {
                    return Ok(Some(key));
                }
                if let Some(Node::Leaf { key, .. }) = right.node(src)? {
                    return Ok(Some(key));
                }
                cur = left;
            }
        }
    }
}

/// `k` when it is a key of the child on side `side` of a node branching at
/// bit `b` (the parent's witness stays a witness on its own side).
fn on_side(k: &[u8], b: u32, side: u8) -> Option<&[u8]> {
    (bit(k, b) == side).then_some(k)
}

/// One pending piece of a [`diff`]: the changes that turn subtree `a` into
/// subtree `b`, with a key of each when one is known.
struct DiffTask<'a> {
    a: &'a Child,
    ka: Option<&'a [u8]>,
    b: &'a Child,
    kb: Option<&'a [u8]>,
}

/// What a [`DiffTask`] leaves for later.
enum Pending<'a> {
    Diff(DiffTask<'a>),
    /// Every key of subtree `a` removed.
    RemoveAll(&'a Child),
    /// Every key of subtree `b` inserted.
    InsertAll(&'a Child),
}

/// Appends to `out`, in key order, the changes that turn subtree `a` into
/// subtree `b`. Subtrees with equal hashes are skipped without loading.
///
/// Pending work sits on a stack, latest key ranges pushed first, so pieces
/// come off it in key order; a piece that is the leftmost part of what is
/// left writes to `out` at once.
pub(crate) fn diff<'a>(
    src_a: &dyn NodeSource,
    a: &'a Child,
    src_b: &dyn NodeSource,
    b: &'a Child,
    out: &mut Vec<LogEntry>,
) -> Result<()> {
    let mut work = vec![Pending::Diff(DiffTask {
        a,
        ka: None,
        b,
        kb: None,
    })];
    while let Some(p) = work.pop() {
        match p {
            Pending::RemoveAll(c) => all_as(src_a, c, false, out)?,
            Pending::InsertAll(c) => all_as(src_b, c, true, out)?,
            Pending::Diff(t) => diff_step(src_a, src_b, t, out, &mut work)?,
        }
    }
    Ok(())
}

/// One [`DiffTask`].
///
/// A crit-bit node does not store the bits its keys share, so two subtrees
/// at the same position may still cover disjoint key ranges: the first bit
/// where a key of each differs tells, and it must be checked before pairing
/// children.
fn diff_step<'a>(
    src_a: &dyn NodeSource,
    src_b: &dyn NodeSource,
    t: DiffTask<'a>,
    out: &mut Vec<LogEntry>,
    work: &mut Vec<Pending<'a>>,
) -> Result<()> {
    let DiffTask { a, ka, b, kb } = t;
    if a.hash(src_a)? == b.hash(src_b)? {
        return Ok(());
    }
    let ka = match ka {
        Some(k) => Some(k),
        None => witness(src_a, a)?,
    };
    let kb = match kb {
        Some(k) => Some(k),
        None => witness(src_b, b)?,
    };
    let (ka, kb) = match (ka, kb) {
        (None, _) => return all_as(src_b, b, true, out),
        (_, None) => return all_as(src_a, a, false, out),
        (Some(ka), Some(kb)) => (ka, kb),
    };
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
            work.push(Pending::Diff(DiffTask {
                a: ra,
                ka: on_side(ka, *ba, 1),
                b: rb,
                kb: on_side(kb, *bb, 1),
            }));
            work.push(Pending::Diff(DiffTask {
                a: la,
                ka: on_side(ka, *ba, 0),
                b: lb,
                kb: on_side(kb, *bb, 0),
            }));
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
                work.push(Pending::RemoveAll(ra));
                work.push(Pending::Diff(DiffTask {
                    a: la,
                    ka: on_side(ka, *ba, 0),
                    b,
                    kb: Some(kb),
                }));
            } else {
                all_as(src_a, la, false, out)?;
                work.push(Pending::Diff(DiffTask {
                    a: ra,
                    ka: on_side(ka, *ba, 1),
                    b,
                    kb: Some(kb),
                }));
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
                work.push(Pending::InsertAll(rb));
                work.push(Pending::Diff(DiffTask {
                    a,
                    ka: Some(ka),
                    b: lb,
                    kb: on_side(kb, *bb, 0),
                }));
            } else {
                all_as(src_b, lb, true, out)?;
                work.push(Pending::Diff(DiffTask {
                    a,
                    ka: Some(ka),
                    b: rb,
                    kb: on_side(kb, *bb, 1),
                }));
            }
        }
        _ => return Err(MkvsError::Corrupt("diff shape".into())),
    }
    Ok(())
}

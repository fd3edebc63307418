//! The database: namespaces, versions, read views, overlays, commits,
//! finalization, pruning, diffs and write-log application.
//!
//! Storage layout (one engine keyspace, keys prefixed by a record type):
//! - `F` → `u32` format version;
//! - `m ‖ ns` → namespace metadata (earliest, latest and finalized version);
//! - `r ‖ ns ‖ u64 version` → the version's root pointer;
//! - `s ‖ ns ‖ u64 version` → the ids of nodes the version made stale;
//! - `n ‖ ns ‖ u64 created ‖ hash` → one node.
//!
//! A commit writes its new nodes, its root pointer, its stale list and the
//! namespace metadata in one atomic, durable engine write.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use atoll_crypto::Hash;
use atoll_types::Namespace;

use crate::codec::{MAX_KEY_LEN, MAX_VALUE_LEN, Reader, Writer};
#[cfg(feature = "fjall")]
use crate::engine::FjallEngine;
use crate::engine::{BatchOp, EngineKind, KvEngine, MemEngine, RedbEngine};
use crate::error::{MkvsError, Result};
use crate::node::{Child, Node, NodeId, NodeSource, decode_node};
use crate::proof::Proof;
use crate::tree::{self, RawIter};
use crate::writelog::{LogEntry, WriteLog};

/// Storage format written by this build.
pub const FORMAT_VERSION: u32 = 1;
const FORMAT_KEY: &[u8] = b"F";

/// Names one committed state: a namespace, a version and its root hash
/// (what consensus records for a runtime round or a block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Root {
    /// The namespace.
    #[serde(with = "crate::checkpoint::ns_bytes")]
    pub namespace: Namespace,
    /// The version.
    pub version: u64,
    /// The root hash.
    pub hash: Hash,
}

/// Options for [`Mkvs::open`].
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Which engine stores the data.
    pub engine: EngineKind,
}

/// Per-namespace state kept in memory.
struct NsState {
    earliest: u64,
    latest: u64,
    finalized: Option<u64>,
    /// The latest version's tree; nodes loaded or committed through it stay
    /// cached, so the next commit does not re-read what the last one wrote.
    latest_root: Child,
}

pub(crate) struct Inner {
    engine: Box<dyn KvEngine>,
    state: Mutex<BTreeMap<Namespace, NsState>>,
}

/// A handle to an MKVS database. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct Mkvs {
    inner: Arc<Inner>,
}

/// Node loading for one namespace.
#[derive(Clone)]
pub(crate) struct NsStore {
    inner: Arc<Inner>,
    ns: Namespace,
}

fn ns_key(tag: u8, ns: &Namespace, version: Option<u64>) -> Vec<u8> {
    let mut k = Vec::with_capacity(41);
    k.push(tag);
    k.extend_from_slice(&ns.0);
    if let Some(v) = version {
        k.extend_from_slice(&v.to_be_bytes());
    }
    k
}

fn node_key(ns: &Namespace, id: &NodeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(73);
    k.push(b'n');
    k.extend_from_slice(&ns.0);
    k.extend_from_slice(&id.version.to_be_bytes());
    k.extend_from_slice(&id.hash.0);
    k
}

impl NodeSource for NsStore {
    fn load(&self, id: &NodeId) -> Result<Node> {
        match self.inner.engine.get(&node_key(&self.ns, id))? {
            None => Err(MkvsError::MissingNode {
                version: id.version,
                hash: id.hash,
            }),
            Some(bytes) => decode_node(id, &bytes),
        }
    }
}

fn encode_meta(s: &NsState) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(1);
    w.u64(s.earliest);
    w.u64(s.latest);
    match s.finalized {
        None => w.u8(0),
        Some(f) => {
            w.u8(1);
            w.u64(f);
        }
    }
    w.finish()
}

fn decode_meta(b: &[u8]) -> Result<(u64, u64, Option<u64>)> {
    let mut r = Reader::new(b);
    let tag = r.u8("meta format")?;
    if tag != 1 {
        return Err(crate::codec::DecodeError::BadTag {
            what: "meta format",
            tag,
        }
        .into());
    }
    let earliest = r.u64("earliest")?;
    let latest = r.u64("latest")?;
    let finalized = match r.u8("finalized flag")? {
        0 => None,
        1 => Some(r.u64("finalized")?),
        tag => {
            return Err(crate::codec::DecodeError::BadTag {
                what: "finalized flag",
                tag,
            }
            .into());
        }
    };
    r.end()?;
    if earliest > latest || finalized.is_some_and(|f| f > latest) {
        return Err(MkvsError::Corrupt("namespace metadata out of range".into()));
    }
    Ok((earliest, latest, finalized))
}

fn encode_root(root: &Child) -> Vec<u8> {
    let mut w = Writer::default();
    w.u8(1);
    match root.stored_id() {
        None => w.u8(0),
        Some(id) => {
            w.u8(1);
            id.write(&mut w);
        }
    }
    w.finish()
}

fn decode_root(b: &[u8]) -> Result<Child> {
    let mut r = Reader::new(b);
    let tag = r.u8("root format")?;
    if tag != 1 {
        return Err(crate::codec::DecodeError::BadTag {
            what: "root format",
            tag,
        }
        .into());
    }
    let root = match r.u8("root kind")? {
        0 => Child::Empty,
        1 => Child::stored(NodeId::read(&mut r)?, None),
        tag => {
            return Err(crate::codec::DecodeError::BadTag {
                what: "root kind",
                tag,
            }
            .into());
        }
    };
    r.end()?;
    Ok(root)
}

fn check_kv(key: &[u8], value: Option<&[u8]>) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(MkvsError::KeyTooLong(key.len()));
    }
    if let Some(v) = value
        && v.len() > MAX_VALUE_LEN
    {
        return Err(MkvsError::ValueTooLong(v.len()));
    }
    Ok(())
}

impl Mkvs {
    /// Opens (or creates) a database in directory `dir` (created if
    /// missing): fjall (with the `fjall` feature) keeps its files there,
    /// redb its file `mkvs.redb`.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| MkvsError::Engine(e.to_string()))?;
        let engine: Box<dyn KvEngine> = match options.engine {
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => Box::new(FjallEngine::open(dir)?),
            EngineKind::Redb => Box::new(RedbEngine::open(&dir.join("mkvs.redb"))?),
        };
        Self::with_engine(engine)
    }

    /// An empty database kept in memory only.
    pub fn in_memory() -> Self {
        // An empty MemEngine cannot fail to initialise.
        let inner = Inner {
            engine: Box::new(MemEngine::default()),
            state: Mutex::new(BTreeMap::new()),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Opens a database on any engine, checking its format and loading the
    /// latest root of every namespace.
    pub fn with_engine(engine: Box<dyn KvEngine>) -> Result<Self> {
        match engine.get(FORMAT_KEY)? {
            None => {
                if !engine.scan_prefix(b"")?.is_empty() {
                    return Err(MkvsError::Corrupt(
                        "data present but no format marker".into(),
                    ));
                }
                engine.write(vec![(
                    FORMAT_KEY.to_vec(),
                    Some(FORMAT_VERSION.to_be_bytes().to_vec()),
                )])?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| MkvsError::Corrupt("format marker".into()))?;
                if found != FORMAT_VERSION {
                    return Err(MkvsError::UnsupportedFormat {
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
            }
        }
        let inner = Arc::new(Inner {
            engine,
            state: Mutex::new(BTreeMap::new()),
        });
        let mut states = BTreeMap::new();
        for (k, v) in inner.engine.scan_prefix(b"m")? {
            let ns = k
                .get(1..)
                .and_then(|b| Namespace::from_slice(b).ok())
                .ok_or_else(|| MkvsError::Corrupt("namespace metadata key".into()))?;
            let (earliest, latest, finalized) = decode_meta(&v)?;
            let rec =
                inner
                    .engine
                    .get(&ns_key(b'r', &ns, Some(latest)))?
                    .ok_or(MkvsError::Corrupt(format!(
                        "no root record for latest version {latest}"
                    )))?;
            let latest_root = decode_root(&rec)?;
            // Load the root node now, so a damaged database fails at open.
            let store = NsStore {
                inner: inner.clone(),
                ns,
            };
            latest_root.node(&store)?;
            states.insert(
                ns,
                NsState {
                    earliest,
                    latest,
                    finalized,
                    latest_root,
                },
            );
        }
        *inner
            .state
            .lock()
            .map_err(|_| MkvsError::Engine("poisoned lock".into()))? = states;
        Ok(Self { inner })
    }

    fn lock(&self) -> Result<MutexGuard<'_, BTreeMap<Namespace, NsState>>> {
        self.inner
            .state
            .lock()
            .map_err(|_| MkvsError::Engine("poisoned lock".into()))
    }

    pub(crate) fn store(&self, ns: Namespace) -> NsStore {
        NsStore {
            inner: self.inner.clone(),
            ns,
        }
    }

    /// `(earliest, latest)` versions stored for `ns`, if it has any.
    pub fn versions(&self, ns: Namespace) -> Result<Option<(u64, u64)>> {
        Ok(self.lock()?.get(&ns).map(|s| (s.earliest, s.latest)))
    }

    /// The latest finalized version of `ns`.
    pub fn finalized(&self, ns: Namespace) -> Result<Option<u64>> {
        Ok(self.lock()?.get(&ns).and_then(|s| s.finalized))
    }

    /// Namespaces with at least one version.
    pub fn namespaces(&self) -> Result<Vec<Namespace>> {
        Ok(self.lock()?.keys().copied().collect())
    }

    fn root_child(&self, ns: Namespace, version: u64) -> Result<Child> {
        let (earliest, latest, cached) = {
            let st = self.lock()?;
            let s = st.get(&ns).ok_or(MkvsError::RootNotFound { version })?;
            (
                s.earliest,
                s.latest,
                (s.latest == version).then(|| s.latest_root.clone()),
            )
        };
        if let Some(c) = cached {
            return Ok(c);
        }
        if version < earliest {
            return Err(MkvsError::VersionPruned { version, earliest });
        }
        if version > latest {
            return Err(MkvsError::RootNotFound { version });
        }
        match self.inner.engine.get(&ns_key(b'r', &ns, Some(version)))? {
            Some(b) => decode_root(&b),
            None => Err(MkvsError::VersionPruned { version, earliest }),
        }
    }

    /// A read-only view of `ns` at `version`.
    pub fn tree(&self, ns: Namespace, version: u64) -> Result<Tree> {
        let root = self.root_child(ns, version)?;
        let store = self.store(ns);
        let hash = root.hash(&store)?;
        Ok(Tree {
            store,
            version,
            root,
            hash,
        })
    }

    /// A read-only view of the version a [`Root`] names, checking that its
    /// hash is the one stored (`RootMismatch` otherwise).
    pub fn tree_at(&self, root: &Root) -> Result<Tree> {
        let t = self.tree(root.namespace, root.version)?;
        if t.root_hash() != root.hash {
            return Err(MkvsError::RootMismatch {
                expected: root.hash,
                computed: t.root_hash(),
            });
        }
        Ok(t)
    }

    /// The [`Root`] of `ns` at `version`.
    pub fn root(&self, ns: Namespace, version: u64) -> Result<Root> {
        Ok(Root {
            namespace: ns,
            version,
            hash: self.root_hash(ns, version)?,
        })
    }

    /// The root hash of `ns` at `version`.
    pub fn root_hash(&self, ns: Namespace, version: u64) -> Result<Hash> {
        Ok(self.tree(ns, version)?.root_hash())
    }

    /// A mutable overlay on the latest version of `ns` (on the empty tree if
    /// `ns` has no version yet).
    pub fn overlay(&self, ns: Namespace) -> Result<Overlay> {
        let (base_version, base) = match self.lock()?.get(&ns) {
            Some(s) => (Some(s.latest), s.latest_root.clone()),
            None => (None, Child::Empty),
        };
        Ok(Overlay {
            db: self.clone(),
            ns,
            base_version,
            root: base.clone(),
            base,
            saved: Vec::new(),
        })
    }

    /// Commits `root` (built over `base`) as `version` of `ns`.
    fn commit_tree(
        &self,
        ns: Namespace,
        base_version: Option<u64>,
        base: &Child,
        root: Child,
        version: u64,
        expected: Option<Hash>,
    ) -> Result<(Hash, WriteLog)> {
        let mut st = self.lock()?;
        let cur = st.get(&ns);
        let latest = cur.map(|s| s.latest);
        if latest != base_version {
            return Err(MkvsError::StaleBase {
                base: base_version,
                latest,
            });
        }
        if let Some(l) = latest {
            let next = l
                .checked_add(1)
                .ok_or(MkvsError::InvalidVersionOp("version overflow".into()))?;
            if version != next {
                return Err(MkvsError::BadVersion {
                    expected: next,
                    got: version,
                });
            }
        }
        let store = self.store(ns);
        let mut ops: Vec<BatchOp> = Vec::new();
        let persisted = tree::persist(&store, root, version, &mut ops, &|id| node_key(&ns, id))?;
        if let Some(e) = expected
            && e != persisted.hash
        {
            return Err(MkvsError::RootMismatch {
                expected: e,
                computed: persisted.hash,
            });
        }
        let mut stale = Vec::new();
        tree::stale_nodes(&store, base, &persisted.frontier, &mut stale)?;
        let mut log = Vec::new();
        tree::diff(&store, base, &store, &persisted.root, &mut log)?;

        let mut stale_rec = Writer::with_capacity(stale.len() * NodeId::ENCODED_LEN);
        for id in &stale {
            id.write(&mut stale_rec);
        }
        let new_state = NsState {
            earliest: cur.map_or(version, |s| s.earliest),
            latest: version,
            finalized: cur.and_then(|s| s.finalized),
            latest_root: persisted.root,
        };
        self.write_version(&mut st, ns, version, stale_rec.finish(), new_state, ops)?;
        Ok((persisted.hash, log))
    }

    /// Marks every version of `ns` up to `version` as final. Final versions
    /// can be pruned once newer ones exist; the latest final one never is.
    pub fn finalize(&self, ns: Namespace, version: u64) -> Result<()> {
        let mut st = self.lock()?;
        let s = st.get_mut(&ns).ok_or(MkvsError::RootNotFound { version })?;
        if version > s.latest {
            return Err(MkvsError::RootNotFound { version });
        }
        if version < s.earliest {
            return Err(MkvsError::VersionPruned {
                version,
                earliest: s.earliest,
            });
        }
        if s.finalized.is_some_and(|f| f >= version) {
            return Ok(());
        }
        let old = s.finalized.replace(version);
        if let Err(e) = self
            .inner
            .engine
            .write(vec![(ns_key(b'm', &ns, None), Some(encode_meta(s)))])
        {
            s.finalized = old;
            return Err(e);
        }
        Ok(())
    }

    /// Deletes the versions of `ns` older than the last `keep_last`, but
    /// only finalized ones, never the latest finalized one. Nodes still
    /// reachable from a kept version survive. Returns how many versions were
    /// pruned.
    pub fn prune(&self, ns: Namespace, keep_last: u64) -> Result<u64> {
        let keep_last = keep_last.max(1);
        let mut st = self.lock()?;
        let Some(s) = st.get_mut(&ns) else {
            return Ok(0);
        };
        let Some(fin) = s.finalized else { return Ok(0) };
        let target = (s.latest.saturating_add(1).saturating_sub(keep_last)).min(fin);
        if target <= s.earliest {
            return Ok(0);
        }
        let mut ops: Vec<BatchOp> = Vec::new();
        // Nodes made stale by versions (earliest, target] are reachable from
        // no version >= target: delete them with their lists.
        for v in s.earliest..=target {
            let key = ns_key(b's', &ns, Some(v));
            if let Some(list) = self.inner.engine.get(&key)? {
                if list.len() % NodeId::ENCODED_LEN != 0 {
                    return Err(MkvsError::Corrupt(format!("stale list of version {v}")));
                }
                let mut r = Reader::new(&list);
                while r.remaining() > 0 {
                    ops.push((node_key(&ns, &NodeId::read(&mut r)?), None));
                }
                ops.push((key, None));
            }
        }
        for v in s.earliest..target {
            ops.push((ns_key(b'r', &ns, Some(v)), None));
        }
        let old = s.earliest;
        s.earliest = target;
        ops.push((ns_key(b'm', &ns, None), Some(encode_meta(s))));
        if let Err(e) = self.inner.engine.write(ops) {
            s.earliest = old;
            return Err(e);
        }
        Ok(target - old)
    }

    /// The changes that turn version `from` of `ns` into version `to`,
    /// sorted by key. Applying them to `from` on any node gives `to`'s root.
    pub fn diff(&self, ns: Namespace, from: u64, to: u64) -> Result<WriteLog> {
        let a = self.root_child(ns, from)?;
        let b = self.root_child(ns, to)?;
        let store = self.store(ns);
        let mut out = Vec::new();
        tree::diff(&store, &a, &store, &b, &mut out)?;
        Ok(out)
    }

    /// Applies `log` on top of version `base` of `ns` (which must be its
    /// latest; `None` for an empty namespace) and commits the result as
    /// `version`, but only if its root is `expected_root`. Nothing is
    /// written when the root differs.
    pub fn apply_write_log(
        &self,
        ns: Namespace,
        base: Option<u64>,
        version: u64,
        log: &[LogEntry],
        expected_root: Hash,
    ) -> Result<Hash> {
        let mut ov = self.overlay(ns)?;
        if ov.base_version != base {
            return Err(MkvsError::StaleBase {
                base,
                latest: ov.base_version,
            });
        }
        for e in log {
            match &e.value {
                Some(v) => ov.insert(&e.key, v)?,
                None => {
                    ov.remove(&e.key)?;
                }
            }
        }
        let (root, _) = ov.commit_inner(version, Some(expected_root))?;
        Ok(root)
    }

    pub(crate) fn commit_restored(
        &self,
        ns: Namespace,
        root: Child,
        version: u64,
        expected: Hash,
    ) -> Result<Hash> {
        if self.lock()?.contains_key(&ns) {
            return Err(MkvsError::NamespaceNotEmpty);
        }
        let (h, _) = self.commit_tree(ns, None, &Child::Empty, root, version, Some(expected))?;
        Ok(h)
    }

    /// Commits a restored tree as the only version of `ns`: every older
    /// version (roots, stale lists, nodes) is deleted in the same atomic
    /// write. `version` must be newer than the latest.
    pub(crate) fn commit_restored_replacing(
        &self,
        ns: Namespace,
        root: Child,
        version: u64,
        expected: Hash,
    ) -> Result<Hash> {
        let mut st = self.lock()?;
        if let Some(s) = st.get(&ns)
            && version <= s.latest
        {
            return Err(MkvsError::BadVersion {
                expected: s.latest.saturating_add(1),
                got: version,
            });
        }
        let mut ops: Vec<BatchOp> = Vec::new();
        for tag in [b'r', b's', b'n'] {
            for (k, _) in self.inner.engine.scan_prefix(&ns_key(tag, &ns, None))? {
                ops.push((k, None));
            }
        }
        let store = self.store(ns);
        // The restored tree is all new nodes (built in memory), so its node
        // keys (created at `version`) collide with none of those deleted.
        let persisted = tree::persist(&store, root, version, &mut ops, &|id| node_key(&ns, id))?;
        if persisted.hash != expected {
            return Err(MkvsError::RootMismatch {
                expected,
                computed: persisted.hash,
            });
        }
        let new_state = NsState {
            earliest: version,
            latest: version,
            finalized: None,
            latest_root: persisted.root,
        };
        self.write_version(&mut st, ns, version, Vec::new(), new_state, ops)?;
        Ok(persisted.hash)
    }

    /// Writes `ops` with a new `version` of `ns` (its stale-node list, root
    /// and the namespace's metadata) in one atomic write, then records the
    /// namespace's new state.
    fn write_version(
        &self,
        st: &mut BTreeMap<Namespace, NsState>,
        ns: Namespace,
        version: u64,
        stale: Vec<u8>,
        new_state: NsState,
        mut ops: Vec<BatchOp>,
    ) -> Result<()> {
        ops.push((ns_key(b's', &ns, Some(version)), Some(stale)));
        ops.push((
            ns_key(b'r', &ns, Some(version)),
            Some(encode_root(&new_state.latest_root)),
        ));
        ops.push((ns_key(b'm', &ns, None), Some(encode_meta(&new_state))));
        self.inner.engine.write(ops)?;
        st.insert(ns, new_state);
        Ok(())
    }

    /// The underlying engine (for raw measurements and tools).
    pub fn engine(&self) -> &dyn KvEngine {
        self.inner.engine.as_ref()
    }
}

/// Iterator over `(key, value)` pairs in key order.
pub struct Iter {
    raw: RawIter<NsStore>,
}

impl Iterator for Iter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.raw.next()
    }
}

fn make_iter(store: &NsStore, root: &Child, prefix: &[u8]) -> Result<Iter> {
    let start = if prefix.is_empty() {
        root.clone()
    } else {
        tree::prefix_root(store, root, prefix)?
    };
    Ok(Iter {
        raw: RawIter {
            src: store.clone(),
            stack: vec![start],
            failed: false,
        },
    })
}

/// A read-only view of one committed version.
pub struct Tree {
    store: NsStore,
    version: u64,
    root: Child,
    hash: Hash,
}

impl Tree {
    /// The version this view shows.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The version's root hash.
    pub fn root_hash(&self) -> Hash {
        self.hash
    }
    /// Reads `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        tree::get(&self.store, &self.root, key)
    }
    /// Reads `key` with a proof checkable by [`crate::proof::verify`]
    /// against [`Tree::root_hash`].
    pub fn get_with_proof(&self, key: &[u8]) -> Result<(Option<Vec<u8>>, Proof)> {
        tree::get_with_proof(&self.store, &self.root, key)
    }
    /// All pairs in key order.
    pub fn iter(&self) -> Iter {
        Iter {
            raw: RawIter {
                src: self.store.clone(),
                stack: vec![self.root.clone()],
                failed: false,
            },
        }
    }
    /// Pairs whose key starts with `prefix`, in key order.
    pub fn iter_prefix(&self, prefix: &[u8]) -> Result<Iter> {
        make_iter(&self.store, &self.root, prefix)
    }
    /// Pairs with key `>= start`, in key order (stop when you have enough).
    pub fn iter_from(&self, start: &[u8]) -> Result<Iter> {
        let stack = tree::seek_stack(&self.store, &self.root, start)?;
        Ok(Iter {
            raw: RawIter {
                src: self.store.clone(),
                stack,
                failed: false,
            },
        })
    }
}

/// Uncommitted changes on top of the latest version of a namespace.
///
/// Copy-on-write: taking a [`Overlay::checkpoint`] is O(1), and
/// [`Overlay::rollback`] restores the tree as it was, which gives runtimes
/// nested transactions. Dropping an overlay discards it.
pub struct Overlay {
    db: Mkvs,
    ns: Namespace,
    base_version: Option<u64>,
    base: Child,
    root: Child,
    saved: Vec<Child>,
}

impl Overlay {
    /// The version this overlay started from (`None`: empty namespace).
    pub fn base_version(&self) -> Option<u64> {
        self.base_version
    }
    /// Reads `key`, seeing pending changes.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        tree::get(&self.db.store(self.ns), &self.root, key)
    }
    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        check_kv(key, Some(value))?;
        tree::insert(&self.db.store(self.ns), &mut self.root, key, value.to_vec())
    }
    /// Deletes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        check_kv(key, None)?;
        tree::remove(&self.db.store(self.ns), &mut self.root, key)
    }
    /// All pairs in key order, pending changes included.
    pub fn iter(&self) -> Iter {
        Iter {
            raw: RawIter {
                src: self.db.store(self.ns),
                stack: vec![self.root.clone()],
                failed: false,
            },
        }
    }
    /// Pairs whose key starts with `prefix`, pending changes included.
    pub fn iter_prefix(&self, prefix: &[u8]) -> Result<Iter> {
        make_iter(&self.db.store(self.ns), &self.root, prefix)
    }
    /// Pairs with key `>= start`, pending changes included, in key order.
    pub fn iter_from(&self, start: &[u8]) -> Result<Iter> {
        let store = self.db.store(self.ns);
        let stack = tree::seek_stack(&store, &self.root, start)?;
        Ok(Iter {
            raw: RawIter {
                src: store,
                stack,
                failed: false,
            },
        })
    }
    /// The root hash the overlay would commit to.
    pub fn root_hash(&self) -> Result<Hash> {
        self.root.hash(&self.db.store(self.ns))
    }
    /// Opens a nested transaction; returns its depth.
    pub fn checkpoint(&mut self) -> usize {
        self.saved.push(self.root.clone());
        self.saved.len()
    }
    /// Undoes everything since the innermost open checkpoint and closes it.
    /// Returns `false` when no checkpoint is open.
    pub fn rollback(&mut self) -> bool {
        match self.saved.pop() {
            Some(r) => {
                self.root = r;
                true
            }
            None => false,
        }
    }
    /// Keeps the changes since the innermost checkpoint, merging them into
    /// the enclosing transaction. Returns `false` when none is open.
    pub fn commit_to_parent(&mut self) -> bool {
        self.saved.pop().is_some()
    }
    /// Discards every pending change.
    pub fn discard(&mut self) {
        self.saved.clear();
        self.root = self.base.clone();
    }
    /// Commits the overlay as `version` (the base version + 1, or any
    /// version for a new namespace); returns the new root and the write log
    /// from the base. Open checkpoints are committed too.
    pub fn commit(self, version: u64) -> Result<(Hash, WriteLog)> {
        self.commit_inner(version, None)
    }

    fn commit_inner(self, version: u64, expected: Option<Hash>) -> Result<(Hash, WriteLog)> {
        self.db.commit_tree(
            self.ns,
            self.base_version,
            &self.base,
            self.root,
            version,
            expected,
        )
    }
}

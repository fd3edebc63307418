//! The consensus state in MKVS: the [`atoll_state::Store`] the consensus
//! application is applied to. Block height `h` is version `h` of the
//! consensus namespace, with one authenticated root per height.
//!
//! [`MkvsStore`] is the writable view a block is applied to (an MKVS
//! overlay on the last committed height); [`MkvsView`] is a read-only view of
//! any retained height, for queries.
//!
//! ```
//! use atoll_mkvs::state_store::{MkvsStore, MkvsView};
//! use atoll_state::Store;
//!
//! let db = atoll_mkvs::Mkvs::in_memory();
//! let mut state = MkvsStore::open(&db)?;
//! state.insert(b"k", b"v".to_vec())?;
//! let root = state.commit(1)?;
//! let view = MkvsView::at(&db, 1)?;
//! assert_eq!(view.get(b"k")?, Some(b"v".to_vec()));
//! assert_eq!(view.root_hash(), root);
//! # Ok::<(), atoll_state::FatalError>(())
//! ```

use atoll_crypto::Hash;
use atoll_state::{Entries, FatalError, Store};
use atoll_types::Namespace;

use crate::{Iter, MAX_KEY_LEN, MAX_VALUE_LEN, Mkvs, MkvsError, Overlay, Tree};

// The limits the state kernel promises its writers are the ones MKVS
// enforces: a transaction the kernel accepts is one MKVS can store.
const _: () = assert!(atoll_state::MAX_KEY_LEN == MAX_KEY_LEN);
const _: () = assert!(atoll_state::MAX_VALUE_LEN == MAX_VALUE_LEN);

/// The namespace of the consensus layer's own state.
pub const CONSENSUS_NAMESPACE: Namespace = Namespace([0; 32]);

fn store_err(e: MkvsError) -> FatalError {
    FatalError::Store(e.to_string())
}

fn collect(iter: Iter, end: Option<&[u8]>) -> Result<Entries, FatalError> {
    let mut out = Vec::new();
    for item in iter {
        let (k, v) = item.map_err(store_err)?;
        if end.is_some_and(|e| k.as_slice() >= e) {
            break;
        }
        out.push((k, v));
    }
    Ok(out)
}

/// The writable consensus state: pending changes on the last committed height.
pub struct MkvsStore {
    overlay: Overlay,
}

impl MkvsStore {
    /// The state after the last committed height (empty before genesis).
    pub fn open(db: &Mkvs) -> Result<Self, FatalError> {
        Ok(Self {
            overlay: db.overlay(CONSENSUS_NAMESPACE).map_err(store_err)?,
        })
    }

    /// The last committed height, if any.
    pub fn base_height(&self) -> Option<u64> {
        self.overlay.base_version()
    }

    /// The root the pending state would commit to.
    pub fn root_hash(&self) -> Result<Hash, FatalError> {
        self.overlay.root_hash().map_err(store_err)
    }

    /// Commits the pending state as `height` and returns its root.
    pub fn commit(self, height: u64) -> Result<Hash, FatalError> {
        let (root, _log) = self.overlay.commit(height).map_err(store_err)?;
        Ok(root)
    }
}

impl Store for MkvsStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        self.overlay.get(key).map_err(store_err)
    }

    fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), FatalError> {
        self.overlay.insert(key, &value).map_err(store_err)
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), FatalError> {
        self.overlay.remove(key).map(|_| ()).map_err(store_err)
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<Entries, FatalError> {
        collect(self.overlay.iter_from(start).map_err(store_err)?, end)
    }
}

/// A read-only view of the consensus state at one committed height.
pub struct MkvsView {
    tree: Tree,
}

impl MkvsView {
    /// The state as of `height`.
    pub fn at(db: &Mkvs, height: u64) -> Result<Self, FatalError> {
        Ok(Self {
            tree: db.tree(CONSENSUS_NAMESPACE, height).map_err(store_err)?,
        })
    }

    /// The root of that height.
    pub fn root_hash(&self) -> Hash {
        self.tree.root_hash()
    }
}

impl Store for MkvsView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        self.tree.get(key).map_err(store_err)
    }

    fn insert(&mut self, _key: &[u8], _value: Vec<u8>) -> Result<(), FatalError> {
        Err(FatalError::Invariant("write to a committed height".into()))
    }

    fn remove(&mut self, _key: &[u8]) -> Result<(), FatalError> {
        Err(FatalError::Invariant("write to a committed height".into()))
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<Entries, FatalError> {
        collect(self.tree.iter_from(start).map_err(store_err)?, end)
    }
}

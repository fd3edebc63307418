//! Runtime state: the consensus crate's [`Store`] trait, nested overlays,
//! and the key layout of modules.
//!
//! A module's keys are its name followed by a one-byte sub-prefix (and then
//! fixed-width fields), as the SDK's `PrefixStore(NAME)` lays them out. Its
//! parameters live at `name || 0x00`. Sub-prefixes are below `0x20`, so a
//! module whose name extends another's (`consensus` and
//! `consensus_accounts`) never shares keys with it: the byte after the
//! shorter name is a sub-prefix in one and a letter or `_` in the other.

use std::collections::BTreeMap;
use std::ops::Bound;

pub use atoll_consensus::state::{Entries, MemStore, Overlay, Store, StoreExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::FatalError;

/// The sub-prefix of a module's parameters.
pub const PARAMETERS: u8 = 0x00;

/// A module state key: `module || sub || parts...`.
pub fn module_key(module: &str, sub: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = module.len() + 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.extend_from_slice(module.as_bytes());
    k.push(sub);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// A module's parameters, or their default before genesis set them.
pub fn get_params<P: DeserializeOwned + Default>(
    store: &dyn Store,
    module: &str,
) -> Result<P, FatalError> {
    Ok(store
        .get_typed(&module_key(module, PARAMETERS, &[]))?
        .unwrap_or_default())
}

/// Stores a module's parameters.
pub fn set_params<P: Serialize>(
    store: &mut dyn Store,
    module: &str,
    params: &P,
) -> Result<(), FatalError> {
    store.put_typed(&module_key(module, PARAMETERS, &[]), params)
}

/// Pending writes over a store that is only read: what queries and gas
/// estimation run on, so that simulated calls can write without touching
/// the real state. Dropping it discards everything.
pub struct ReadOverlay<'a> {
    parent: &'a dyn Store,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> ReadOverlay<'a> {
    /// An empty overlay on `parent`.
    pub fn new(parent: &'a dyn Store) -> Self {
        Self {
            parent,
            writes: BTreeMap::new(),
        }
    }
}

impl Store for ReadOverlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        match self.writes.get(key) {
            Some(pending) => Ok(pending.clone()),
            None => self.parent.get(key),
        }
    }

    fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), FatalError> {
        self.writes.insert(key.to_vec(), Some(value));
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), FatalError> {
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<Entries, FatalError> {
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> =
            self.parent.range(start, end)?.into_iter().collect();
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        for (k, v) in self
            .writes
            .range::<[u8], _>((Bound::Included(start), upper))
        {
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged.into_iter().collect())
    }
}

//! How a state machine reads and writes state.
//!
//! The consensus app never touches a database: it works on a [`Store`], an
//! ordered byte-key map. The node backs it with MKVS (so every block has an
//! authenticated root); tests use [`MemStore`]. An [`Overlay`] buffers writes
//! on top of any store so that a failing transaction can be thrown away
//! whole, while a successful one is applied in one step.
//!
//! Values are canonical CBOR. Keys are a one-byte service prefix followed by
//! fixed-width fields, so that ordered scans (for example, the debonding queue
//! by epoch) come out in a meaningful and deterministic order.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::FatalError;

/// Key-value pairs in key order, as scans return them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// An ordered key-value view of the consensus state.
pub trait Store {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError>;
    /// Sets `key` to `value`.
    fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), FatalError>;
    /// Deletes `key` (a no-op when absent).
    fn remove(&mut self, key: &[u8]) -> Result<(), FatalError>;
    /// Every entry with `start <= key < end` (no upper bound when `end` is
    /// `None`), in ascending key order.
    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<Entries, FatalError>;

    /// Every entry whose key starts with `prefix`, in ascending key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, FatalError> {
        match prefix_end(prefix) {
            Some(end) => self.range(prefix, Some(&end)),
            None => self.range(prefix, None),
        }
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None`
/// when no such key exists (the prefix is all `0xff`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last.saturating_add(1));
            return Some(end);
        }
    }
    None
}

/// Typed access on top of any [`Store`]: values as canonical CBOR.
pub trait StoreExt: Store {
    /// Decodes the value at `key`. A value that does not decode means the
    /// state is corrupt: that is fatal, never a client error.
    fn get_typed<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, FatalError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => decode(key, &bytes).map(Some),
        }
    }

    /// Encodes and stores `value` at `key`.
    fn put_typed<T: Serialize>(&mut self, key: &[u8], value: &T) -> Result<(), FatalError> {
        let bytes = atoll_types::cbor::to_vec(value)
            .map_err(|e| FatalError::Invariant(format!("state value does not encode: {e}")))?;
        self.insert(key, bytes)
    }

    /// Decodes every value under `prefix`, in key order, without the keys.
    fn scan_values<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, FatalError> {
        Ok(self
            .scan_typed(prefix)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Decodes every value under `prefix`, with its key.
    fn scan_typed<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>, FatalError> {
        self.scan_prefix(prefix)?
            .into_iter()
            .map(|(k, v)| decode(&k, &v).map(|t| (k, t)))
            .collect()
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Decodes a value read at `key` from the state: a value that does not
/// decode means the state is corrupt ([`FatalError::CorruptState`]).
pub fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, FatalError> {
    atoll_types::cbor::from_slice(bytes).map_err(|e| FatalError::CorruptState {
        key: hex_of(key),
        reason: e.to_string(),
    })
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An in-memory [`Store`], for tests and tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemStore {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// All entries, in key order.
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.entries
    }
}

impl Store for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        Ok(self.entries.get(key).cloned())
    }

    fn insert(&mut self, key: &[u8], value: Vec<u8>) -> Result<(), FatalError> {
        self.entries.insert(key.to_vec(), value);
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), FatalError> {
        self.entries.remove(key);
        Ok(())
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<Entries, FatalError> {
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .entries
            .range::<[u8], _>((Bound::Included(start), upper))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

/// Pending writes on top of a parent store. Reads see the pending writes;
/// [`Overlay::commit`] applies them to the parent in key order, and dropping
/// the overlay discards them. Overlays nest: an overlay is itself a store.
pub struct Overlay<'a> {
    parent: &'a mut dyn Store,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    /// An empty overlay on `parent`.
    pub fn new(parent: &'a mut dyn Store) -> Self {
        Self {
            parent,
            writes: BTreeMap::new(),
        }
    }

    /// Applies the pending writes to the parent.
    pub fn commit(self) -> Result<(), FatalError> {
        for (key, value) in self.writes {
            match value {
                Some(v) => self.parent.insert(&key, v)?,
                None => self.parent.remove(&key)?,
            }
        }
        Ok(())
    }

    /// Whether anything is pending.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The first pending write (in key order) that the state store could
    /// never hold, if any. A transaction's writes are checked with this
    /// before they reach the block's state: the store would refuse them
    /// only when the block is committed, after the transaction was accepted.
    pub fn unstorable_write(&self) -> Option<Unstorable> {
        self.writes
            .iter()
            .find_map(|(k, v)| check_storable(k, v.as_deref()).err())
    }
}

/// A write the state store (MKVS) refuses whatever the state: its key or
/// its value is longer than the store's limit. Every other write of an
/// accepted transaction is one the store takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unstorable {
    /// The key is longer than [`MAX_KEY_LEN`].
    #[error("state key of {len} bytes exceeds the limit of {max}")]
    KeyTooLong {
        /// The key's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is longer than [`MAX_VALUE_LEN`].
    #[error("state value of {len} bytes exceeds the limit of {max}")]
    ValueTooLong {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The longest key a state store holds, in bytes (MKVS's limit: the MKVS
/// adapter asserts at compile time that the two agree).
pub const MAX_KEY_LEN: usize = 16 * 1024;

/// The longest value a state store holds, in bytes (MKVS's limit, as
/// [`MAX_KEY_LEN`]).
pub const MAX_VALUE_LEN: usize = 16 * 1024 * 1024;

/// Whether the state store can hold `key` set to `value` (`None`: a removal).
pub fn check_storable(key: &[u8], value: Option<&[u8]>) -> Result<(), Unstorable> {
    if key.len() > MAX_KEY_LEN {
        return Err(Unstorable::KeyTooLong {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    if let Some(v) = value
        && v.len() > MAX_VALUE_LEN
    {
        return Err(Unstorable::ValueTooLong {
            len: v.len(),
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

/// Reads through pending `writes` to `parent`: what both overlays share.
fn overlay_get(
    parent: &dyn Store,
    writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    key: &[u8],
) -> Result<Option<Vec<u8>>, FatalError> {
    match writes.get(key) {
        Some(pending) => Ok(pending.clone()),
        None => parent.get(key),
    }
}

fn overlay_range(
    parent: &dyn Store,
    writes: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    start: &[u8],
    end: Option<&[u8]>,
) -> Result<Entries, FatalError> {
    let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = parent.range(start, end)?.into_iter().collect();
    let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
    for (k, v) in writes.range::<[u8], _>((Bound::Included(start), upper)) {
        match v {
            Some(v) => merged.insert(k.clone(), v.clone()),
            None => merged.remove(k),
        };
    }
    Ok(merged.into_iter().collect())
}

impl Store for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        overlay_get(&*self.parent, &self.writes, key)
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
        overlay_range(&*self.parent, &self.writes, start, end)
    }
}

/// Pending writes over a store that is only read: simulations (queries, gas
/// estimation, check modes) write here without touching the real state.
/// Dropping it discards everything.
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
        overlay_get(self.parent, &self.writes, key)
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
        overlay_range(self.parent, &self.writes, start, end)
    }
}

/// Builds a state key: a service prefix byte followed by `parts`.
pub fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_reads_writes_and_discards() {
        let mut base = MemStore::new();
        base.insert(b"a", b"1".to_vec()).unwrap();
        base.insert(b"b", b"2".to_vec()).unwrap();
        {
            let mut o = Overlay::new(&mut base);
            o.insert(b"c", b"3".to_vec()).unwrap();
            o.remove(b"a").unwrap();
            assert_eq!(o.get(b"a").unwrap(), None);
            assert_eq!(o.get(b"b").unwrap(), Some(b"2".to_vec()));
            let all: Vec<_> = o
                .range(b"", None)
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            assert_eq!(all, vec![b"b".to_vec(), b"c".to_vec()]);
            // Dropped without commit.
        }
        assert_eq!(base.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(base.get(b"c").unwrap(), None);
    }

    #[test]
    fn nested_overlays_commit_upwards() {
        let mut base = MemStore::new();
        {
            let mut outer = Overlay::new(&mut base);
            outer.insert(b"x", b"1".to_vec()).unwrap();
            {
                let mut inner = Overlay::new(&mut outer);
                inner.insert(b"y", b"2".to_vec()).unwrap();
                inner.commit().unwrap();
            }
            {
                let mut failed = Overlay::new(&mut outer);
                failed.insert(b"z", b"3".to_vec()).unwrap();
            }
            outer.commit().unwrap();
        }
        assert_eq!(base.get(b"x").unwrap(), Some(b"1".to_vec()));
        assert_eq!(base.get(b"y").unwrap(), Some(b"2".to_vec()));
        assert_eq!(base.get(b"z").unwrap(), None);
    }

    #[test]
    fn prefix_scans() {
        let mut s = MemStore::new();
        for k in [
            &[1u8, 0][..],
            &[1, 0xff],
            &[1, 0xff, 0xff],
            &[2, 0],
            &[0xff, 0xff],
        ] {
            s.insert(k, vec![0]).unwrap();
        }
        assert_eq!(s.scan_prefix(&[1]).unwrap().len(), 3);
        assert_eq!(s.scan_prefix(&[1, 0xff]).unwrap().len(), 2);
        assert_eq!(s.scan_prefix(&[0xff, 0xff]).unwrap().len(), 1);
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }
}

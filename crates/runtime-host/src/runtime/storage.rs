//! The runtime's view of its state during a call.
//!
//! Reads go to the host (and are cached for the rest of the call); writes
//! are buffered here and become the call's write log. [`KvStore`] is the
//! plain key-value interface a ParaTime's storage layer builds on;
//! [`HostStorage`] adds consensus reads and the abort flag.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use atoll_types::Height;

use crate::protocol::{
    ConsensusGetRequest, Entries, KeyValue, MAX_ITERATE_LIMIT, Request, Response, RuntimeError,
    StateRoot, StorageGetManyRequest, StorageGetRequest, StorageIterateRequest, WriteLogEntry,
    codes,
};

/// Why a storage operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The host aborted the call; the runtime should return as soon as it
    /// can (its writes are dropped whatever it returns).
    #[error("the call was aborted by the host")]
    Aborted,
    /// The connection to the host is gone.
    #[error("the host disconnected")]
    Disconnected,
    /// The host answered the read with an error.
    #[error("host storage error: {0}")]
    Host(RuntimeError),
    /// The host answered with something that is not an answer to the read.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl From<StorageError> for RuntimeError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Aborted => RuntimeError::protocol(codes::ABORTED, "aborted"),
            StorageError::Host(e) => e,
            other => RuntimeError::protocol(codes::STORAGE, other.to_string()),
        }
    }
}

/// A plain ordered key-value store: what a ParaTime's state layer needs.
///
/// Reads take `&self` and may fail (they can go over the socket); writes
/// take `&mut self` and cannot (they are buffered).
pub trait KvStore {
    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Sets `key` to `value`.
    fn insert(&mut self, key: &[u8], value: &[u8]);

    /// Removes `key` (removing an absent key is not an error).
    fn remove(&mut self, key: &[u8]);

    /// Up to `limit` entries with `start <= key` (and `key < end` if `end`
    /// is set), in ascending key order.
    fn range(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StorageError>;
}

/// The state a [`RuntimeHandler`](super::RuntimeHandler) call works on: a
/// [`KvStore`] over the runtime's state, plus reads of the consensus state
/// and the host's abort flag.
pub trait HostStorage: KvStore {
    /// Several values at once (one round trip for the keys not yet read).
    fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StorageError>;

    /// A key of the consensus state as of `height`.
    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Whether the host has asked to abort this call. A long computation
    /// that reads no storage should poll this.
    fn abort_requested(&self) -> bool;
}

/// Where a [`CallStorage`] sends its reads.
pub(crate) trait Backend {
    /// Sends a runtime → host request and waits for its answer. A
    /// [`Response::Error`] comes back as [`StorageError::Host`].
    fn request(&self, req: Request) -> Result<Response, StorageError>;

    /// Whether the call was aborted.
    fn aborted(&self) -> bool;
}

/// The [`HostStorage`] of one call: host reads cached, writes buffered.
pub(crate) struct CallStorage<B> {
    backend: B,
    root: StateRoot,
    /// Committed values already read from the host.
    cache: RefCell<HashMap<Vec<u8>, Option<Vec<u8>>>>,
    /// This call's writes (`None` is a removal).
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<B: Backend> CallStorage<B> {
    /// A fresh view of the state at `root`.
    pub(crate) fn new(backend: B, root: StateRoot) -> Self {
        Self {
            backend,
            root,
            cache: RefCell::new(HashMap::new()),
            writes: BTreeMap::new(),
        }
    }

    /// The buffered writes, sorted by key.
    pub(crate) fn into_write_log(self) -> Vec<WriteLogEntry> {
        self.writes
            .into_iter()
            .map(|(key, value)| WriteLogEntry { key, value })
            .collect()
    }

    fn check_abort(&self) -> Result<(), StorageError> {
        if self.backend.aborted() {
            Err(StorageError::Aborted)
        } else {
            Ok(())
        }
    }

    fn committed_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if let Some(v) = self.cache.borrow().get(key) {
            return Ok(v.clone());
        }
        let resp = self
            .backend
            .request(Request::StorageGet(StorageGetRequest {
                root: self.root,
                key: key.to_vec(),
            }))?;
        let Response::StorageGet(r) = resp else {
            return Err(unexpected("storage_get", &resp));
        };
        self.cache
            .borrow_mut()
            .insert(key.to_vec(), r.value.clone());
        Ok(r.value)
    }

    /// One page of committed entries from the host.
    fn committed_page(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: u32,
    ) -> Result<Vec<KeyValue>, StorageError> {
        let resp = self
            .backend
            .request(Request::StorageIterate(StorageIterateRequest {
                root: self.root,
                start: start.to_vec(),
                end: end.map(<[u8]>::to_vec),
                limit,
            }))?;
        let Response::StorageIterate(r) = resp else {
            return Err(unexpected("storage_iterate", &resp));
        };
        if r.entries.len() > limit as usize {
            return Err(StorageError::Protocol(format!(
                "host returned {} entries for a limit of {limit}",
                r.entries.len()
            )));
        }
        let mut prev: Option<&[u8]> = None;
        for e in &r.entries {
            let in_range =
                e.key.as_slice() >= start && end.is_none_or(|end| e.key.as_slice() < end);
            let ordered = prev.is_none_or(|p| p < e.key.as_slice());
            if !in_range || !ordered {
                return Err(StorageError::Protocol(
                    "host returned entries out of range or out of order".into(),
                ));
            }
            prev = Some(&e.key);
        }
        let mut cache = self.cache.borrow_mut();
        for e in &r.entries {
            cache.insert(e.key.clone(), Some(e.value.clone()));
        }
        drop(cache);
        Ok(r.entries)
    }
}

fn unexpected(expected: &str, got: &Response) -> StorageError {
    StorageError::Protocol(format!(
        "expected a {expected} response, got {}",
        got.name()
    ))
}

impl<B: Backend> KvStore for CallStorage<B> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.check_abort()?;
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        self.committed_get(key)
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
    }

    fn remove(&mut self, key: &[u8]) {
        self.writes.insert(key.to_vec(), None);
    }

    fn range(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StorageError> {
        self.check_abort()?;
        let mut out = Vec::new();
        if limit == 0 || end.is_some_and(|end| end <= start) {
            return Ok(out);
        }
        let page_len = u32::try_from(limit)
            .unwrap_or(MAX_ITERATE_LIMIT)
            .clamp(1, MAX_ITERATE_LIMIT);
        let upper = match end {
            Some(end) => Bound::Excluded(end.to_vec()),
            None => Bound::Unbounded,
        };
        let mut local = self
            .writes
            .range((Bound::Included(start.to_vec()), upper))
            .peekable();
        let mut host: std::collections::VecDeque<KeyValue> = Default::default();
        let mut host_cursor = start.to_vec();
        let mut host_done = false;
        while out.len() < limit {
            if host.is_empty() && !host_done {
                let page = self.committed_page(&host_cursor, end, page_len)?;
                host_done = page.len() < page_len as usize;
                if let Some(last) = page.last() {
                    host_cursor = last.key.clone();
                    host_cursor.push(0);
                }
                host.extend(page);
            }
            // The smaller of the next committed key and the next written
            // key; a write shadows the committed entry with the same key.
            let take_local = match (host.front(), local.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(h), Some((k, _))) => k.as_slice() <= h.key.as_slice(),
            };
            if take_local {
                let Some((k, v)) = local.next() else { break };
                if host.front().is_some_and(|h| &h.key == k) {
                    host.pop_front();
                }
                if let Some(v) = v {
                    out.push((k.clone(), v.clone()));
                }
            } else if let Some(h) = host.pop_front() {
                out.push((h.key, h.value));
            }
        }
        Ok(out)
    }
}

impl<B: Backend> HostStorage for CallStorage<B> {
    fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        self.check_abort()?;
        let missing: Vec<Vec<u8>> = {
            let cache = self.cache.borrow();
            let mut seen = std::collections::HashSet::new();
            keys.iter()
                .filter(|k| !self.writes.contains_key(**k) && !cache.contains_key(**k))
                .filter(|k| seen.insert(**k))
                .map(|k| k.to_vec())
                .collect()
        };
        if !missing.is_empty() {
            let resp = self
                .backend
                .request(Request::StorageGetMany(StorageGetManyRequest {
                    root: self.root,
                    keys: missing.clone(),
                }))?;
            let Response::StorageGetMany(r) = resp else {
                return Err(unexpected("storage_get_many", &resp));
            };
            if r.values.len() != missing.len() {
                return Err(StorageError::Protocol(format!(
                    "host returned {} values for {} keys",
                    r.values.len(),
                    missing.len()
                )));
            }
            let mut cache = self.cache.borrow_mut();
            for (k, v) in missing.into_iter().zip(r.values) {
                cache.insert(k, v);
            }
        }
        keys.iter().map(|k| self.get(k)).collect()
    }

    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.check_abort()?;
        let resp = self
            .backend
            .request(Request::ConsensusGet(ConsensusGetRequest {
                height,
                key: key.to_vec(),
            }))?;
        let Response::ConsensusGet(r) = resp else {
            return Err(unexpected("consensus_get", &resp));
        };
        Ok(r.value)
    }

    fn abort_requested(&self) -> bool {
        self.backend.aborted()
    }
}

/// An in-memory [`HostStorage`], for testing runtime logic without a host:
/// writes apply directly, and consensus reads come from a second map.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    /// The runtime's state.
    pub state: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The consensus state, by height and key.
    pub consensus: BTreeMap<(Height, Vec<u8>), Vec<u8>>,
}

impl KvStore for MemoryStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.state.get(key).cloned())
    }

    fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.state.insert(key.to_vec(), value.to_vec());
    }

    fn remove(&mut self, key: &[u8]) {
        self.state.remove(key);
    }

    fn range(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, StorageError> {
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .state
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

impl HostStorage for MemoryStorage {
    fn get_many(&self, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.consensus.get(&(height, key.to_vec())).cloned())
    }

    fn abort_requested(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use std::cell::Cell;

    use super::*;
    use crate::protocol::{StorageGetManyResponse, StorageGetResponse, StorageIterateResponse};

    /// A backend over a map, counting round trips.
    struct MapBackend {
        state: BTreeMap<Vec<u8>, Vec<u8>>,
        trips: Cell<usize>,
        aborted: Cell<bool>,
    }

    impl Backend for &MapBackend {
        fn request(&self, req: Request) -> Result<Response, StorageError> {
            self.trips.set(self.trips.get() + 1);
            Ok(match req {
                Request::StorageGet(r) => Response::StorageGet(StorageGetResponse {
                    value: self.state.get(&r.key).cloned(),
                }),
                Request::StorageGetMany(r) => Response::StorageGetMany(StorageGetManyResponse {
                    values: r.keys.iter().map(|k| self.state.get(k).cloned()).collect(),
                }),
                Request::StorageIterate(r) => {
                    let upper = r.end.map_or(Bound::Unbounded, Bound::Excluded);
                    Response::StorageIterate(StorageIterateResponse {
                        entries: self
                            .state
                            .range((Bound::Included(r.start), upper))
                            .take(r.limit as usize)
                            .map(|(k, v)| KeyValue {
                                key: k.clone(),
                                value: v.clone(),
                            })
                            .collect(),
                    })
                }
                other => panic!("unexpected {other:?}"),
            })
        }

        fn aborted(&self) -> bool {
            self.aborted.get()
        }
    }

    fn backend(keys: &[(&str, &str)]) -> MapBackend {
        MapBackend {
            state: keys
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            trips: Cell::new(0),
            aborted: Cell::new(false),
        }
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn reads_are_cached_and_writes_shadow_them() {
        let b = backend(&[("a", "1"), ("b", "2")]);
        let mut s = CallStorage::new(&b, StateRoot::default());
        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(b.trips.get(), 1);
        s.insert(b"a", b"9");
        s.remove(b"b");
        assert_eq!(s.get(b"a").unwrap(), Some(b"9".to_vec()));
        assert_eq!(s.get(b"b").unwrap(), None);
        assert_eq!(b.trips.get(), 1);
        let many = s.get_many(&[b"a", b"c", b"c"]).unwrap();
        assert_eq!(many, vec![Some(b"9".to_vec()), None, None]);
        assert_eq!(b.trips.get(), 2);
        assert_eq!(
            s.into_write_log(),
            vec![
                WriteLogEntry {
                    key: b"a".to_vec(),
                    value: Some(b"9".to_vec())
                },
                WriteLogEntry {
                    key: b"b".to_vec(),
                    value: None
                },
            ]
        );
    }

    #[test]
    fn range_merges_writes_over_paged_host_entries() {
        let b = backend(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("e", "5")]);
        let mut s = CallStorage::new(&b, StateRoot::default());
        s.remove(b"b");
        s.insert(b"c", b"30");
        s.insert(b"cc", b"33");
        s.insert(b"z", b"26");
        // Page size 2 forces several host pages.
        assert_eq!(
            s.range(b"", None, 2).unwrap(),
            kv(&[("a", "1"), ("c", "30")])
        );
        assert_eq!(
            s.range(b"a", None, 100).unwrap(),
            kv(&[
                ("a", "1"),
                ("c", "30"),
                ("cc", "33"),
                ("d", "4"),
                ("e", "5"),
                ("z", "26")
            ])
        );
        assert_eq!(
            s.range(b"b", Some(b"d"), 100).unwrap(),
            kv(&[("c", "30"), ("cc", "33")])
        );
        assert_eq!(s.range(b"d", Some(b"b"), 100).unwrap(), vec![]);
        assert_eq!(s.range(b"a", None, 0).unwrap(), vec![]);
    }

    #[test]
    fn range_with_many_deletions_keeps_paging() {
        let entries: Vec<(String, String)> = (0..50)
            .map(|i| (format!("k{i:02}"), i.to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let b = backend(&refs);
        let mut s = CallStorage::new(&b, StateRoot::default());
        for (k, _) in entries.iter().take(45) {
            s.remove(k.as_bytes());
        }
        let got = s.range(b"k", None, 3).unwrap();
        assert_eq!(got, kv(&[("k45", "45"), ("k46", "46"), ("k47", "47")]));
    }

    #[test]
    fn aborted_call_refuses_reads() {
        let b = backend(&[("a", "1")]);
        let s = CallStorage::new(&b, StateRoot::default());
        b.aborted.set(true);
        assert_eq!(s.get(b"a"), Err(StorageError::Aborted));
        assert!(s.abort_requested());
        assert!(RuntimeError::from(StorageError::Aborted).is_aborted());
    }

    #[test]
    fn memory_storage_ranges() {
        let mut m = MemoryStorage::default();
        m.insert(b"a", b"1");
        m.insert(b"b", b"2");
        m.insert(b"c", b"3");
        m.remove(b"b");
        assert_eq!(m.range(b"a", Some(b"c"), 10).unwrap(), kv(&[("a", "1")]));
        assert_eq!(m.range(b"c", Some(b"a"), 10).unwrap(), vec![]);
    }
}

//! What the host reads on the runtime's behalf: [`StorageProvider`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{PoisonError, RwLock};

use atoll_types::Height;

use crate::protocol::{
    ConsensusGetResponse, Entries, KeyValue, MAX_ITERATE_LIMIT, Request, Response, RuntimeError,
    StateRoot, StorageGetManyResponse, StorageGetResponse, StorageIterateResponse, WriteLogEntry,
    codes,
};

/// Why a [`StorageProvider`] could not answer. The runtime receives it as a
/// [`RuntimeError`] of module [`codes::HOST_MODULE`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider does not have that state version.
    #[error("unknown state root {version} ({hash})", version = .0.version, hash = .0.hash)]
    UnknownRoot(StateRoot),
    /// The provider does not have the consensus state at that height.
    #[error("consensus state at height {0} is not available")]
    UnknownHeight(Height),
    /// Anything else (a disk error, say).
    #[error("{0}")]
    Other(String),
}

impl ProviderError {
    /// The code the runtime sees (module [`codes::HOST_MODULE`]).
    pub const fn code(&self) -> u32 {
        match self {
            Self::UnknownRoot(_) => 1,
            Self::UnknownHeight(_) => 2,
            Self::Other(_) => 3,
        }
    }
}

impl From<ProviderError> for RuntimeError {
    fn from(e: ProviderError) -> Self {
        RuntimeError::new(codes::HOST_MODULE, e.code(), e.to_string())
    }
}

/// Serves the runtime's reads: its own state at a given root, and the
/// consensus state at a given height.
///
/// Methods may block (they run on tokio's blocking pool, one request of a
/// runtime at a time).
pub trait StorageProvider: Send + Sync + 'static {
    /// The value of `key` in the runtime's state at `root`.
    fn get(&self, root: &StateRoot, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError>;

    /// Several values at once, one per key, in order.
    fn get_many(
        &self,
        root: &StateRoot,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, ProviderError> {
        keys.iter().map(|k| self.get(root, k)).collect()
    }

    /// Up to `limit` entries with `start <= key` (and `key < end` if set),
    /// in ascending key order. Returning fewer than `limit` means there are
    /// no more.
    fn iterate(
        &self,
        root: &StateRoot,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, ProviderError>;

    /// The value of `key` in the consensus state at `height`.
    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError>;
}

/// Answers one runtime → host request from a provider.
pub(crate) fn serve_request(provider: &dyn StorageProvider, req: Request) -> Response {
    let result = match req {
        Request::StorageGet(r) => provider
            .get(&r.root, &r.key)
            .map(|value| Response::StorageGet(StorageGetResponse { value })),
        Request::StorageGetMany(r) => provider.get_many(&r.root, &r.keys).and_then(|values| {
            if values.len() == r.keys.len() {
                Ok(Response::StorageGetMany(StorageGetManyResponse { values }))
            } else {
                Err(ProviderError::Other(format!(
                    "provider returned {} values for {} keys",
                    values.len(),
                    r.keys.len()
                )))
            }
        }),
        Request::StorageIterate(r) => {
            let limit = r.limit.min(MAX_ITERATE_LIMIT) as usize;
            provider
                .iterate(&r.root, &r.start, r.end.as_deref(), limit)
                .map(|entries| {
                    Response::StorageIterate(StorageIterateResponse {
                        entries: entries
                            .into_iter()
                            .take(limit)
                            .map(|(key, value)| KeyValue { key, value })
                            .collect(),
                    })
                })
        }
        Request::ConsensusGet(r) => provider
            .consensus_get(r.height, &r.key)
            .map(|value| Response::ConsensusGet(ConsensusGetResponse { value })),
        other => {
            return Response::Error(RuntimeError::protocol(
                codes::BAD_REQUEST,
                format!("{} is a request for the runtime", other.name()),
            ));
        }
    };
    result.unwrap_or_else(|e| Response::Error(e.into()))
}

type ConsensusMap = BTreeMap<(Height, Vec<u8>), Vec<u8>>;

/// An in-memory [`StorageProvider`] for tests and tools: one state map
/// (every root reads it) and one consensus map (keyed by height and key).
#[derive(Debug, Default)]
pub struct MemoryProvider {
    state: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    consensus: RwLock<ConsensusMap>,
}

impl MemoryProvider {
    /// An empty provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key of the runtime's state.
    pub fn insert(&self, key: &[u8], value: &[u8]) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_vec(), value.to_vec());
    }

    /// Sets a key of the consensus state at a height.
    pub fn insert_consensus(&self, height: Height, key: &[u8], value: &[u8]) {
        self.consensus
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((height, key.to_vec()), value.to_vec());
    }

    /// Applies a batch's write log to the state.
    pub fn apply(&self, write_log: &[WriteLogEntry]) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for e in write_log {
            match &e.value {
                Some(v) => state.insert(e.key.clone(), v.clone()),
                None => state.remove(&e.key),
            };
        }
    }
}

impl StorageProvider for MemoryProvider {
    fn get(&self, _root: &StateRoot, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
        Ok(self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned())
    }

    fn iterate(
        &self,
        _root: &StateRoot,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Entries, ProviderError> {
        if end.is_some_and(|end| end <= start) {
            return Ok(Vec::new());
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn consensus_get(&self, height: Height, key: &[u8]) -> Result<Option<Vec<u8>>, ProviderError> {
        Ok(self
            .consensus
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(height, key.to_vec()))
            .cloned())
    }
}

//! The runtime host protocol: messages and their framing.
//!
//! Everything here is plain data: the types that cross the socket between a
//! node (the host) and a ParaTime process (the runtime), and the functions
//! that put them into frames and take them out again ([`frame`]). Neither
//! side's behaviour lives here; see [`crate::host`] and [`crate::runtime`].
//!
//! Runtime-specific payloads (transactions, results, messages, events,
//! query arguments, check results, extra context) are opaque: raw bytes or a
//! CBOR [`Value`]. Any ParaTime can speak this protocol without the host
//! knowing its transaction format.

pub mod frame;

use std::fmt;

use atoll_crypto::Hash;
use atoll_types::cbor::Value;
use atoll_types::{Epoch, Height, Namespace, Round};
use serde::{Deserialize, Serialize};

pub use frame::{FrameError, MAX_FRAME_LEN, decode_frame, encode_frame, read_frame, write_frame};
#[cfg(feature = "host")]
pub use frame::{read_frame_async, write_frame_async};

/// The protocol version this crate speaks.
///
/// Two peers can talk when their major versions are equal (see
/// [`Version::is_compatible_with`]); the host checks it during the `Info`
/// handshake and the runtime checks the host's version in the `Info`
/// request.
pub const PROTOCOL_VERSION: Version = Version::new(1, 0, 0);

/// A `major.minor.patch` version: of the protocol, or of a runtime.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Version {
    /// Incompatible changes.
    pub major: u16,
    /// Compatible additions.
    pub minor: u16,
    /// Fixes.
    pub patch: u16,
}

impl Version {
    /// Builds a version.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    /// Whether a peer speaking `other` can talk to one speaking `self`: the
    /// major versions must be equal.
    pub const fn is_compatible_with(&self, other: &Version) -> bool {
        self.major == other.major
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// One protocol message: a request or the response to one.
///
/// `id` pairs a response with its request. Each side numbers the requests
/// it sends itself, so the two directions have separate id spaces: a
/// response always answers a request its receiver sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The request id (a response repeats its request's id).
    pub id: u64,
    /// What the message carries.
    pub body: Body,
}

/// A request or a response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    /// A request, to be answered with a [`Body::Response`] of the same id.
    Request(Request),
    /// The answer to a request.
    Response(Response),
}

/// Which side a request is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the host, answered by the runtime.
    HostToRuntime,
    /// Sent by the runtime while it serves a call, answered by the host.
    RuntimeToHost,
}

/// Every request of the protocol, in both directions (see
/// [`Request::direction`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Host → runtime: the handshake. Answered with [`Response::Info`].
    Info(InfoRequest),
    /// Host → runtime: execute a batch. Answered with
    /// [`Response::ExecutedBatch`].
    ExecuteBatch(ExecuteBatchRequest),
    /// Host → runtime: check transactions for admission to the pool.
    /// Answered with [`Response::CheckedBatch`].
    CheckBatch(CheckBatchRequest),
    /// Host → runtime: a read-only query. Answered with [`Response::Query`].
    Query(QueryRequest),
    /// Host → runtime: abort the call in progress. Answered with
    /// [`Response::Empty`] once the runtime is idle again (the aborted call
    /// itself is answered with an [`codes::ABORTED`] error first).
    Abort,
    /// Host → runtime: liveness. Answered with [`Response::Empty`] even while
    /// a call is in progress.
    Ping,
    /// Host → runtime: exit cleanly. Answered with [`Response::Empty`].
    Shutdown,
    /// Runtime → host: read one key of the runtime's state. Answered with
    /// [`Response::StorageGet`].
    StorageGet(StorageGetRequest),
    /// Runtime → host: read several keys. Answered with
    /// [`Response::StorageGetMany`].
    StorageGetMany(StorageGetManyRequest),
    /// Runtime → host: iterate keys in order. Answered with
    /// [`Response::StorageIterate`].
    StorageIterate(StorageIterateRequest),
    /// Runtime → host: read a key of the consensus state. Answered with
    /// [`Response::ConsensusGet`].
    ConsensusGet(ConsensusGetRequest),
}

impl Request {
    /// Which side answers this request.
    pub const fn direction(&self) -> Direction {
        match self {
            Self::Info(_)
            | Self::ExecuteBatch(_)
            | Self::CheckBatch(_)
            | Self::Query(_)
            | Self::Abort
            | Self::Ping
            | Self::Shutdown => Direction::HostToRuntime,
            Self::StorageGet(_)
            | Self::StorageGetMany(_)
            | Self::StorageIterate(_)
            | Self::ConsensusGet(_) => Direction::RuntimeToHost,
        }
    }

    /// The request's name, for logs and errors.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Info(_) => "info",
            Self::ExecuteBatch(_) => "execute_batch",
            Self::CheckBatch(_) => "check_batch",
            Self::Query(_) => "query",
            Self::Abort => "abort",
            Self::Ping => "ping",
            Self::Shutdown => "shutdown",
            Self::StorageGet(_) => "storage_get",
            Self::StorageGetMany(_) => "storage_get_many",
            Self::StorageIterate(_) => "storage_iterate",
            Self::ConsensusGet(_) => "consensus_get",
        }
    }
}

/// Every response of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The answer to [`Request::Info`].
    Info(InfoResponse),
    /// The answer to [`Request::ExecuteBatch`].
    ExecutedBatch(ExecutedBatch),
    /// The answer to [`Request::CheckBatch`].
    CheckedBatch(CheckedBatch),
    /// The answer to [`Request::Query`].
    Query(QueryResponse),
    /// The answer to [`Request::Abort`], [`Request::Ping`] and
    /// [`Request::Shutdown`].
    Empty,
    /// The answer to [`Request::StorageGet`].
    StorageGet(StorageGetResponse),
    /// The answer to [`Request::StorageGetMany`].
    StorageGetMany(StorageGetManyResponse),
    /// The answer to [`Request::StorageIterate`].
    StorageIterate(StorageIterateResponse),
    /// The answer to [`Request::ConsensusGet`].
    ConsensusGet(ConsensusGetResponse),
    /// The request failed; the answer to any request.
    Error(RuntimeError),
}

impl Response {
    /// The response's name, for logs and errors.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Info(_) => "info",
            Self::ExecutedBatch(_) => "executed_batch",
            Self::CheckedBatch(_) => "checked_batch",
            Self::Query(_) => "query",
            Self::Empty => "empty",
            Self::StorageGet(_) => "storage_get",
            Self::StorageGetMany(_) => "storage_get_many",
            Self::StorageIterate(_) => "storage_iterate",
            Self::ConsensusGet(_) => "consensus_get",
            Self::Error(_) => "error",
        }
    }
}

/// An error sent over the protocol, in either direction: the answer to a
/// request that failed.
///
/// `module` names where the error comes from (a runtime module such as
/// `"accounts"`, or [`codes::MODULE`] for the protocol itself, or
/// [`codes::HOST_MODULE`] for the host's storage), and `code` is a number
/// within that module; `message` is for humans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{module} error {code}: {message}")]
pub struct RuntimeError {
    /// The module that raised the error.
    pub module: String,
    /// The error code within `module`.
    pub code: u32,
    /// A human-readable description.
    pub message: String,
}

impl RuntimeError {
    /// Builds an error.
    pub fn new(module: impl Into<String>, code: u32, message: impl Into<String>) -> Self {
        Self {
            module: module.into(),
            code,
            message: message.into(),
        }
    }

    /// A protocol-level error ([`codes::MODULE`]).
    pub fn protocol(code: u32, message: impl Into<String>) -> Self {
        Self::new(codes::MODULE, code, message)
    }

    /// Whether this is the protocol's "call aborted" error.
    pub fn is_aborted(&self) -> bool {
        self.module == codes::MODULE && self.code == codes::ABORTED
    }
}

/// The protocol's own error module and codes.
pub mod codes {
    /// The module name of protocol-level errors.
    pub const MODULE: &str = "rhp";
    /// The module name of errors raised by the host's storage provider.
    pub const HOST_MODULE: &str = "host";
    /// The call was aborted by the host.
    pub const ABORTED: u32 = 1;
    /// The peers' protocol versions are incompatible.
    pub const VERSION_MISMATCH: u32 = 2;
    /// The request is not one this side answers.
    pub const BAD_REQUEST: u32 = 3;
    /// A storage read failed.
    pub const STORAGE: u32 = 4;
    /// The runtime failed internally (for example its answer could not be
    /// encoded).
    pub const INTERNAL: u32 = 5;
}

/// The version of the state a call reads: the root of the runtime's state
/// after a given round.
///
/// The host's storage provider decides how to resolve it (an MKVS root, or
/// anything else); the runtime only passes it back in its storage requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateRoot {
    /// The version (round) of the state.
    pub version: u64,
    /// The root hash of the state.
    pub hash: Hash,
}

/// The context of a call: which runtime, at which round and consensus
/// height, on which state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchContext {
    /// The runtime the call is for.
    pub runtime_id: Namespace,
    /// The round being executed (for a check or a query, the latest round).
    pub round: Round,
    /// The consensus height the round builds on.
    pub consensus_height: Height,
    /// The epoch at that height.
    pub epoch: Epoch,
    /// The consensus block's timestamp (seconds since the Unix epoch).
    pub timestamp: u64,
    /// The hash of the previous runtime block header (round - 1 as the
    /// consensus layer finalized it; zero when unknown). The EVM's
    /// `BLOCKHASH` reads it. Required on the wire (no serde default): a
    /// defaulted field would let a corrupted key decode to the same message.
    pub previous_hash: Hash,
    /// The state the call reads (and, for a batch, writes on top of).
    pub state_root: StateRoot,
    /// Runtime-specific context, opaque to the host (`null` when none).
    pub extra: Value,
}

/// [`Request::Info`]: the host's side of the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoRequest {
    /// The protocol version the host speaks.
    pub protocol_version: Version,
}

/// [`Response::Info`]: the runtime's side of the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// The protocol version the runtime speaks.
    pub protocol_version: Version,
    /// The runtime's identifier.
    pub runtime_id: Namespace,
    /// The runtime's own version.
    pub runtime_version: Version,
    /// Runtime-specific capabilities, opaque to the host (`null` when none).
    pub features: Value,
    /// Whether the runtime checks transactions on a thread of their own,
    /// beside a batch being executed (the host then sends `CheckBatch`
    /// without waiting for the call in progress). Absent: no.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub concurrent_checks: bool,
}

/// [`Request::ExecuteBatch`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecuteBatchRequest {
    /// The round's context.
    pub ctx: BatchContext,
    /// The transactions, in order, as raw bytes.
    #[serde(with = "bytes_seq")]
    pub txs: Vec<Vec<u8>>,
    /// Results of the messages the runtime emitted in earlier rounds, as
    /// the consensus layer reported them (opaque CBOR).
    pub message_results: Vec<Value>,
}

/// One entry of a write log: `value: None` removes the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteLogEntry {
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The new value, or `None` for a removal.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

/// [`Response::ExecutedBatch`]: what executing a batch produced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutedBatch {
    /// One result per transaction, in batch order (opaque CBOR).
    pub results: Vec<Value>,
    /// Every state change of the batch, sorted by key, one entry per key.
    pub write_log: Vec<WriteLogEntry>,
    /// Messages to the consensus layer (opaque CBOR).
    pub messages: Vec<Value>,
    /// Events (opaque CBOR).
    pub events: Vec<Value>,
}

/// [`Request::CheckBatch`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBatchRequest {
    /// The context (the latest round).
    pub ctx: BatchContext,
    /// The transactions, as raw bytes.
    #[serde(with = "bytes_seq")]
    pub txs: Vec<Vec<u8>>,
}

/// [`Response::CheckedBatch`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedBatch {
    /// One check result per transaction, in order (opaque CBOR).
    pub results: Vec<Value>,
}

/// [`Request::Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryRequest {
    /// The context (the round queried).
    pub ctx: BatchContext,
    /// The query method, such as `"accounts.Balance"`.
    pub method: String,
    /// The arguments (opaque CBOR).
    pub args: Value,
}

/// [`Response::Query`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResponse {
    /// The result (opaque CBOR).
    pub result: Value,
}

/// [`Request::StorageGet`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetRequest {
    /// The state to read (the call's [`BatchContext::state_root`]).
    pub root: StateRoot,
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
}

/// [`Response::StorageGet`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetResponse {
    /// The value, or `None` if the key is absent.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

/// [`Request::StorageGetMany`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetManyRequest {
    /// The state to read.
    pub root: StateRoot,
    /// The keys.
    #[serde(with = "bytes_seq")]
    pub keys: Vec<Vec<u8>>,
}

/// [`Response::StorageGetMany`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetManyResponse {
    /// One value per requested key, in order.
    #[serde(with = "opt_bytes_seq")]
    pub values: Vec<Option<Vec<u8>>>,
}

/// [`Request::StorageIterate`]: up to `limit` entries with `start <= key`
/// (and `key < end` when `end` is set), in ascending key order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageIterateRequest {
    /// The state to read.
    pub root: StateRoot,
    /// The first key (inclusive).
    #[serde(with = "serde_bytes")]
    pub start: Vec<u8>,
    /// The key to stop before (exclusive), if any.
    #[serde(with = "serde_bytes")]
    pub end: Option<Vec<u8>>,
    /// The most entries to return; the host may return fewer only when the
    /// range has no more (and caps it at [`MAX_ITERATE_LIMIT`]).
    pub limit: u32,
}

/// Key-value pairs, in ascending key order: what a range read returns.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The most entries one [`Request::StorageIterate`] returns.
pub const MAX_ITERATE_LIMIT: u32 = 1024;

/// A key and its value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// [`Response::StorageIterate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageIterateResponse {
    /// The entries, in ascending key order. Fewer than the request's
    /// (capped) limit means the range is exhausted.
    pub entries: Vec<KeyValue>,
}

/// [`Request::ConsensusGet`]: read a key of the consensus state as of a
/// height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusGetRequest {
    /// The consensus height (normally the call's
    /// [`BatchContext::consensus_height`]).
    pub height: Height,
    /// The key in the consensus state.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
}

/// [`Response::ConsensusGet`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusGetResponse {
    /// The value, or `None` if the key is absent.
    #[serde(with = "serde_bytes")]
    pub value: Option<Vec<u8>>,
}

/// Serde for `Vec<Vec<u8>>` as an array of byte strings.
mod bytes_seq {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub(crate) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| Bytes::new(b)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let v: Vec<ByteBuf> = Deserialize::deserialize(d)?;
        Ok(v.into_iter().map(ByteBuf::into_vec).collect())
    }
}

/// Serde for `Vec<Option<Vec<u8>>>` as an array of byte strings or nulls.
mod opt_bytes_seq {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub(crate) fn serialize<S: Serializer>(v: &[Option<Vec<u8>>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|b| b.as_deref().map(Bytes::new)))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Option<Vec<u8>>>, D::Error> {
        let v: Vec<Option<ByteBuf>> = Deserialize::deserialize(d)?;
        Ok(v.into_iter().map(|b| b.map(ByteBuf::into_vec)).collect())
    }
}

//! The crate's error type.

use atoll_crypto::Hash;

use crate::codec::DecodeError;

/// Everything that can go wrong in MKVS outside standalone proof
/// verification (which has its own [`crate::proof::ProofError`]).
#[derive(Debug, thiserror::Error)]
pub enum MkvsError {
    /// The storage engine failed (I/O error, engine-level corruption).
    #[error("storage engine: {0}")]
    Engine(String),
    /// Stored data failed validation: bad encoding, hash mismatch, broken metadata.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// A node referenced by a root is missing from the database.
    #[error("missing node {hash} of version {version}")]
    MissingNode {
        /// Version that created the node.
        version: u64,
        /// The node's hash.
        hash: Hash,
    },
    /// The database was written by an incompatible format version.
    #[error("unsupported database format {found} (this build reads {supported})")]
    UnsupportedFormat {
        /// Format found on disk.
        found: u32,
        /// Format this build supports.
        supported: u32,
    },
    /// No root is stored for this version (never committed).
    #[error("no root for version {version} of this namespace")]
    RootNotFound {
        /// The version asked for.
        version: u64,
    },
    /// The version existed but has been pruned.
    #[error("version {version} was pruned (earliest kept: {earliest})")]
    VersionPruned {
        /// The version asked for.
        version: u64,
        /// The earliest version still stored.
        earliest: u64,
    },
    /// Versions of a namespace must be committed in order, one after another.
    #[error("cannot commit version {got}: next version must be {expected}")]
    BadVersion {
        /// The version that must come next.
        expected: u64,
        /// The version given.
        got: u64,
    },
    /// The overlay's base is no longer the namespace's latest version.
    #[error("overlay based on version {base:?} but latest is {latest:?}")]
    StaleBase {
        /// The overlay's base version.
        base: Option<u64>,
        /// The namespace's latest version.
        latest: Option<u64>,
    },
    /// A key longer than [`crate::MAX_KEY_LEN`].
    #[error("key of {0} bytes exceeds the limit")]
    KeyTooLong(usize),
    /// A value longer than [`crate::MAX_VALUE_LEN`].
    #[error("value of {0} bytes exceeds the limit")]
    ValueTooLong(usize),
    /// Applying a write log or restoring a checkpoint gave another root.
    #[error("root mismatch: expected {expected}, computed {computed}")]
    RootMismatch {
        /// The root that was expected.
        expected: Hash,
        /// The root that was computed.
        computed: Hash,
    },
    /// A checkpoint chunk does not hash to the digest in the metadata.
    #[error("checkpoint chunk {index} does not match its digest")]
    ChunkHashMismatch {
        /// Index of the chunk.
        index: usize,
    },
    /// A checkpoint chunk arrived out of order or the metadata is malformed.
    #[error("checkpoint: {0}")]
    BadCheckpoint(String),
    /// Restoring requires an empty namespace.
    #[error("namespace already has versions; restore needs an empty one")]
    NamespaceNotEmpty,
    /// Finalizing or pruning past what exists.
    #[error("invalid version operation: {0}")]
    InvalidVersionOp(String),
    /// Bytes from a peer or from disk did not decode.
    #[error("decode: {0}")]
    Decode(#[from] DecodeError),
}

/// Result alias for MKVS operations.
pub type Result<T, E = MkvsError> = std::result::Result<T, E>;

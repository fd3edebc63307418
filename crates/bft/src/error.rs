//! Errors of the BFT glue.

use atoll_state::FatalError;

/// Why the BFT node cannot go on (or could not start).
#[derive(Debug, thiserror::Error)]
pub enum BftError {
    /// The validator set for a height would be empty.
    #[error("the validator set is empty")]
    EmptyValidatorSet,
    /// A signature context could not be built.
    #[error(transparent)]
    Crypto(#[from] atoll_crypto::CryptoError),
    /// A value did not encode.
    #[error("encode: {0}")]
    Encode(#[from] atoll_types::cbor::EncodeError),
    /// The application's state or storage failed: the node must stop.
    #[error("consensus state: {0}")]
    Fatal(#[from] FatalError),
    /// The consensus application could not be built from the genesis document.
    #[error(transparent)]
    App(#[from] atoll_consensus::app::AppError),
    /// Consensus decided a block this node does not have.
    #[error("decided block {0} at height {1} is unknown")]
    UnknownDecidedBlock(String, u64),
    /// The state root this node computed after a block differs from the one
    /// the next certified block builds on: the node's state diverged from the
    /// network's and it stops rather than fork.
    #[error(
        "state diverged: after height {height} this node's state root is {ours}, but the \
         certified next block builds on {certified}; stop the node and restore its data \
         from a trusted copy"
    )]
    StateDiverged {
        /// The height after which the roots differ.
        height: u64,
        /// This node's root.
        ours: String,
        /// The root the certified block carries.
        certified: String,
    },
    /// Consensus asked for something inconsistent with what was applied.
    #[error("consensus out of step: {0}")]
    OutOfStep(String),
    /// The engine failed to start or stopped.
    #[error("engine: {0}")]
    Engine(String),
    /// The engine's channels closed.
    #[error("the consensus engine's channel closed")]
    ChannelClosed,
    /// The node's block store or state database failed.
    #[error("storage: {0}")]
    Storage(String),
    /// A codec failure on our own data.
    #[error(transparent)]
    Codec(#[from] crate::codec::CodecError),
}

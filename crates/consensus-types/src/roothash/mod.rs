//! The roothash: runtime block headers, executor commitments, the messages
//! a runtime sends to consensus and their results, and the signing context
//! and bytes of commitments.

pub mod types;

use atoll_crypto::context::{ChainContext, Context};
use atoll_state::{Failure, FatalError};

pub use self::types::*;

/// The module name.
pub const MODULE: &str = "roothash";

/// Signature context of executor commitments (bound to the chain).
pub const COMMITMENT_SIGNATURE_CONTEXT: &str = "oasis-core/roothash: executor commitment";

/// Method names.
pub mod methods {
    /// `roothash.ExecutorCommit`
    pub const EXECUTOR_COMMIT: &str = "roothash.ExecutorCommit";
    /// `roothash.Evidence`
    pub const EVIDENCE: &str = "roothash.Evidence";
}

/// The consensus state key under which the roothash keeps a runtime's
/// [`RoundResults`] (those of its last normal round): `0x26 ‖ runtime id`.
/// A runtime reads it at its batch's consensus height (the runtime host
/// protocol's `ConsensusGet`) to learn which entities did the work of the
/// round whose state it builds on.
pub fn round_results_key(id: &atoll_types::Namespace) -> Vec<u8> {
    atoll_state::key(ROUND_RESULTS_PREFIX, &[id.as_bytes()])
}

/// The first byte of [`round_results_key`].
pub const ROUND_RESULTS_PREFIX: u8 = 0x26;

/// The commitment context for a chain.
pub fn commitment_context(chain: &ChainContext) -> Result<Context, atoll_crypto::CryptoError> {
    Context::for_chain(COMMITMENT_SIGNATURE_CONTEXT, chain)
}

/// The bytes a commitment's signature covers.
pub fn commitment_signing_bytes(header: &CommitmentHeader) -> Result<Vec<u8>, Failure> {
    atoll_types::cbor::to_vec(header).map_err(|e| {
        FatalError::Invariant(format!("commitment header does not encode: {e}")).into()
    })
}

//! Epoch time and randomness.
//!
//! An epoch is `interval` blocks. Each epoch's entropy seeds the elections.
//! The only backend so far is `insecure`: entropy derived from the previous
//! block's hash, which a proposer can bias. [`crate::genesis::Genesis::check`]
//! therefore accepts it only on a debug network. The VRF backend for real
//! networks (nodes submitting VRF proofs over the previous epoch's alpha) is
//! the next step for this service.

use atoll_crypto::Hash;
use atoll_crypto::context::ChainContext;
use atoll_types::Epoch;
use serde::{Deserialize, Serialize};

/// Which randomness backend a network uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Entropy from block hashes: biasable by proposers, debug networks only.
    #[default]
    Insecure,
}

/// The entropy of the first epoch, before any block exists.
pub fn genesis_entropy(chain: &ChainContext) -> Hash {
    Hash::digest_parts(&[b"atoll/beacon: genesis", chain.as_str().as_bytes()])
}

/// The insecure backend's entropy for `epoch`, from the hash of the block
/// before the epoch's first block.
pub fn insecure_entropy(chain: &ChainContext, epoch: Epoch, prev_block_hash: &Hash) -> Hash {
    Hash::digest_parts(&[
        b"atoll/beacon: insecure",
        chain.as_str().as_bytes(),
        &epoch.0.to_be_bytes(),
        prev_block_hash.as_bytes(),
    ])
}

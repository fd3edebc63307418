//! The types other layers exchange with atoll's consensus layer, apart from
//! the consensus application that acts on them.
//!
//! A ParaTime, the compute worker, the node API and the clients all speak
//! this vocabulary; only the consensus application (`atoll-consensus`)
//! decides what it does to the state. Each module is one service:
//!
//! - [`staking`]: transaction and message bodies (`Transfer`, `Withdraw`,
//!   `Escrow`...), accounts, parameters, events, errors, method names.
//! - [`registry`]: entity, node and runtime descriptors
//!   ([`registry::Runtime`], [`registry::StorageParameters`]...).
//! - [`scheduler`]: validator sets and executor committees
//!   ([`scheduler::Committee`], [`scheduler::Role`]).
//! - [`roothash`]: runtime block headers ([`roothash::BlockHeader`],
//!   [`roothash::PastRoot`]), executor commitments and their signing
//!   context and bytes, messages ([`roothash::Message`]) and their results.
//!
//! The serde (canonical CBOR) form of every type is a wire and state
//! format: it does not change with where the type is defined.

pub mod registry;
pub mod roothash;
pub mod scheduler;
pub mod staking;

use atoll_types::Epoch;

/// The epoch of block `height` on a chain starting at `initial_height` with
/// `interval` blocks per epoch.
pub fn epoch_at(initial_height: u64, interval: u64, height: u64) -> Epoch {
    Epoch(height.saturating_sub(initial_height) / interval.max(1))
}

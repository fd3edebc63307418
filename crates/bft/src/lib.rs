//! The atoll consensus application driven by the Malachite BFT engine
//! (Tendermint), through Malachite's app-channel API.
//!
//! - [`context`]: atoll's types for Malachite's `Context`: heights, validator
//!   sets from the scheduler, block hashes as values, proposals, votes and the
//!   stake-weighted proposer selection.
//! - [`signing`]: Ed25519 signing and ZIP-215 verification with chain-bound
//!   contexts (`atoll/bft: vote for chain …`, …); [`scheme`]: the signing
//!   scheme (key and signature types) the context names.
//! - [`codec`]: canonical CBOR for every network, WAL and sync message.
//! - [`block`]: the block consensus orders (the state machine's block plus the
//!   previous block's commit certificate) and the checks made before voting.
//! - [`chain`]: the durable chain: state in MKVS per height, decided blocks,
//!   certificates, results and a transaction index, with crash recovery.
//! - [`host`]: the loop that answers the engine: builds blocks from a
//!   [`host::TxSource`], checks proposals, applies decided blocks and hands
//!   the engine the validator set of the next height.
//! - [`node`]: starting the engine (consensus, WAL, libp2p network, sync).
//!
//! All Malachite-specific code lives in this crate; the state machine
//! (`atoll-consensus`) knows nothing of it.

pub mod block;
pub mod chain;
pub mod codec;
pub mod context;
pub mod error;
pub mod host;
pub mod node;
pub mod scheme;
pub mod signing;

pub use error::BftError;

/// Runs CPU-heavy work (judging a proposal, applying a block, admitting a
/// batch of transactions) from an async task without starving the engine's
/// other tasks: on a multi-threaded runtime the worker thread hands its other
/// tasks to the rest of the pool for the duration
/// (`tokio::task::block_in_place`), so timers, votes and the network keep
/// moving; elsewhere (a current-thread runtime, no runtime) it simply runs.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
pub use malachitebft_app_channel as engine;

//! The consensus layer of atoll as a pure, deterministic state machine.
//!
//! Blocks of transactions go in; new state (in a [`state::Store`], MKVS in a
//! node) and events come out. There is no networking, no clock and no
//! randomness here: the BFT engine orders blocks and this crate applies them,
//! so every validator that applies the same blocks to the same genesis gets
//! the same state, byte for byte.
//!
//! - [`genesis`]: the genesis document, its hash (the chain context) and its checks.
//! - [`app`]: the block processor: fees, nonces, signatures, dispatch, epochs.
//! - [`services`]: staking (and, as they land, registry, beacon, scheduler, roothash).
//! - [`query`]: read-only queries by method name, for the node API.
//! - [`state`]: the store abstraction and nested rollback.
//! - [`recent`]: a bounded set of recently seen hashes (verified signatures).
//! - [`mkvs_store`]: the state in MKVS, one authenticated root per height.
//! - [`error`]: client-facing [`error::TxError`] (module + code) versus node-fatal errors.

pub mod app;
pub mod error;
pub mod event;
pub mod genesis;
pub mod mkvs_store;
pub mod query;
pub mod recent;
pub mod services;
pub mod state;

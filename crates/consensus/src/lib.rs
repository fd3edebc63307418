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
//! - [`state`]: the service state views; the store abstraction and nested
//!   rollback are `atoll_state::store`, re-exported here.
//!
//! Re-exported at their old paths while the callers move to the new crates:
//! [`recent`] and [`error`] (from `atoll-state`), [`mkvs_store`] (from
//! `atoll_mkvs::state_store`), and the types other layers exchange with
//! consensus (headers, commitments, messages, staking bodies, registry
//! descriptors, committees), defined in `atoll-consensus-types` and
//! re-exported under [`services`].

pub mod app;
pub mod error;
pub mod event;
pub mod genesis;
pub mod mkvs_store;
pub mod query;
pub mod recent;
pub mod services;
pub mod state;

//! The consensus layer of atoll as a pure, deterministic state machine.
//!
//! Blocks of transactions go in; new state (in an [`atoll_state::Store`],
//! MKVS in a node) and events come out. There is no networking, no clock and
//! no randomness here: the BFT engine orders blocks and this crate applies
//! them, so every validator that applies the same blocks to the same genesis
//! gets the same state, byte for byte.
//!
//! - [`genesis`]: the genesis document, its hash (the chain context) and its checks.
//! - [`app`]: the block processor: fees, nonces, signatures, dispatch, epochs.
//! - [`services`]: staking, registry, beacon, scheduler and roothash: each
//!   service's handlers and its typed state view (`services::X::state`).
//! - [`query`]: read-only queries by method name, for the node API.
//! - [`event`]: the events a block emits, one variant per service.
//!
//! What this crate acts on is defined below it, and other layers import it
//! from there, not from here: the store, its errors and the bounded hash set
//! from `atoll-state`; the types exchanged with consensus (headers,
//! commitments, messages, staking bodies, registry descriptors, committees)
//! from `atoll-consensus-types`; the store over MKVS from
//! `atoll_mkvs::state_store`.

pub mod app;
pub mod event;
pub mod genesis;
pub mod query;
pub mod services;

//! The EVM for atoll ParaTimes.
//!
//! - [`tx`]: strict Ethereum transaction decoding (legacy, EIP-2930,
//!   EIP-1559), sender recovery and signing helpers.

mod rlp;
pub mod tx;

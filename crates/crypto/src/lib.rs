//! Cryptographic primitives for atoll.
//!
//! placeholder
#[macro_use]
mod serde_impl;

pub mod error;
pub mod hash;

pub use error::CryptoError;
pub use hash::{Hash, keccak256, sha256, sha512, sha512_256};

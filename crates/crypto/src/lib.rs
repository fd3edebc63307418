//! Cryptographic primitives for atoll.
//!
//! Everything a node, a runtime or a client signs, verifies, hashes or
//! encrypts goes through this crate, so that every part agrees on the same
//! rules and formats (which are Oasis's, so keys and addresses carry over):
//!
//! - [`hash`]: SHA-512/256 (the [`Hash`](struct@Hash) type), SHA-256, SHA-512, Keccak-256.
//! - [`context`]: signature contexts bound to a chain, the replay protection
//!   of every signed message.
//! - [`ed25519`]: signing keys, ZIP-215 verification, batch verification.
//! - [`secp256k1`]: Ethereum keys, recoverable signatures, EIP-55 addresses.
//! - [`x25519`] and [`mrae`]: key agreement and the Deoxys-II-256-128 box
//!   used by confidential ParaTimes.
//! - [`address`]: 21-byte account addresses and their `oasis1…` Bech32 form.
//! - [`vrf`]: the sr25519 VRF the beacon's entropy comes from.
//!
//! Every parser returns a typed [`CryptoError`] on bad input; nothing here
//! panics on data from outside.
//!
//! ```
//! use atoll_crypto::{address::Address, context::{ChainContext, Context}, ed25519::SigningKey, Hash};
//!
//! let chain = ChainContext::from_hash(&Hash::digest(b"my genesis"));
//! let ctx = Context::for_chain("oasis-core/consensus: tx", &chain)?;
//! let key = SigningKey::from_seed(&[42; 32]);
//! let sig = key.sign(&ctx, b"transaction body");
//! key.public_key().verify(&ctx, b"transaction body", &sig)?;
//! println!("signed by {}", Address::from_ed25519(&key.public_key()));
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

#[macro_use]
mod serde_impl;

pub mod address;
pub mod context;
pub mod ed25519;
pub mod error;
pub mod hash;
pub mod mrae;
pub mod secp256k1;
pub mod vrf;
pub mod x25519;

pub use address::Address;
pub use error::CryptoError;
pub use hash::{Hash, keccak256, sha256, sha512, sha512_256};

/// Fills `buf` from a cryptographically secure generator seeded by the
/// operating system. Only for key generation and nonces of local use; never
/// for anything a committee must agree on.
pub fn fill_random(buf: &mut [u8]) {
    use rand::Rng as _;
    rand::rng().fill_bytes(buf);
}

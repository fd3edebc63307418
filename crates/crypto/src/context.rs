//! Domain-separated signature contexts.
//!
//! Every signature in atoll is made over `SHA-512/256(context || message)`,
//! where `context` names the purpose ("oasis-core/consensus: tx") and, for
//! purposes bound to one network, ends in `" for chain " || chain_context`.
//! The chain context is the hex of the genesis document's hash, so a
//! signature made for one purpose or one network never verifies for another.
//! This is the scheme Oasis uses, so keys and signers interoperate.
//!
//! ```
//! use atoll_crypto::context::{ChainContext, Context};
//! use atoll_crypto::Hash;
//!
//! let chain = ChainContext::from_hash(&Hash::digest(b"genesis document"));
//! let ctx = Context::for_chain("oasis-core/consensus: tx", &chain)?;
//! assert!(ctx.as_bytes().starts_with(b"oasis-core/consensus: tx for chain "));
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

use std::fmt;

use crate::error::CryptoError;
use crate::hash::Hash;

/// What joins a base context to its chain context.
pub const CHAIN_SEPARATOR: &str = " for chain ";

/// The longest chain context, in bytes (the hex of a 32-byte hash).
pub const CHAIN_CONTEXT_MAX_SIZE: usize = 64;

/// The longest full context, in bytes (RFC 8032's limit on Ed25519 contexts,
/// which Oasis keeps even though it prehashes).
pub const CONTEXT_MAX_SIZE: usize = 255;

/// The identity of one network: the hex of its genesis document's hash.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainContext(String);

impl ChainContext {
    /// The chain context of the network whose genesis document hashes to `genesis`.
    pub fn from_hash(genesis: &Hash) -> Self {
        Self(genesis.to_hex())
    }

    /// A chain context given as text (e.g. read from a config file). It must be
    /// 1 to 64 bytes long and must not contain the chain separator.
    pub fn new(raw: &str) -> Result<Self, CryptoError> {
        if raw.is_empty() || raw.len() > CHAIN_CONTEXT_MAX_SIZE {
            return Err(CryptoError::MalformedContext(
                "chain context must be 1 to 64 bytes long",
            ));
        }
        if raw.contains(CHAIN_SEPARATOR) {
            return Err(CryptoError::MalformedContext(
                "chain context must not contain the chain separator",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The chain context as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainContext({})", self.0)
    }
}

/// A complete signature context: the exact bytes that are hashed in front of
/// every message signed for one purpose (and, usually, one chain).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Context(Vec<u8>);

impl Context {
    /// A context not bound to any chain (for purposes that are the same on
    /// every network, such as a node proving possession of its own key).
    pub fn new(base: &str) -> Result<Self, CryptoError> {
        check_base(base, 0)?;
        Ok(Self(base.as_bytes().to_vec()))
    }

    /// A context bound to one chain: `base || " for chain " || chain`.
    pub fn for_chain(base: &str, chain: &ChainContext) -> Result<Self, CryptoError> {
        check_base(base, CHAIN_SEPARATOR.len() + CHAIN_CONTEXT_MAX_SIZE)?;
        let mut bytes = Vec::with_capacity(base.len() + CHAIN_SEPARATOR.len() + chain.0.len());
        bytes.extend_from_slice(base.as_bytes());
        bytes.extend_from_slice(CHAIN_SEPARATOR.as_bytes());
        bytes.extend_from_slice(chain.0.as_bytes());
        Ok(Self(bytes))
    }

    /// The context bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The 32-byte digest that is actually signed: `SHA-512/256(context || message)`.
    pub fn digest(&self, message: &[u8]) -> [u8; 32] {
        Hash::digest_parts(&[&self.0, message]).0
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Context({:?})", String::from_utf8_lossy(&self.0))
    }
}

fn check_base(base: &str, reserve: usize) -> Result<(), CryptoError> {
    if base.is_empty() {
        return Err(CryptoError::MalformedContext("context must not be empty"));
    }
    if base.len().saturating_add(reserve) > CONTEXT_MAX_SIZE {
        return Err(CryptoError::MalformedContext("context is too long"));
    }
    if base.contains(CHAIN_SEPARATOR) {
        return Err(CryptoError::MalformedContext(
            "context must not contain the chain separator",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_binding_layout() {
        let chain = ChainContext::new("abcd").unwrap();
        let ctx = Context::for_chain("oasis-core/consensus: tx", &chain).unwrap();
        assert_eq!(ctx.as_bytes(), b"oasis-core/consensus: tx for chain abcd");
        assert_eq!(
            ctx.digest(b"msg"),
            Hash::digest(b"oasis-core/consensus: tx for chain abcdmsg").0
        );
    }

    #[test]
    fn malformed_contexts_are_refused() {
        let chain = ChainContext::new("ab").unwrap();
        assert!(Context::new("").is_err());
        assert!(Context::new("x for chain y").is_err());
        assert!(Context::for_chain(&"a".repeat(181), &chain).is_err());
        assert!(Context::for_chain(&"a".repeat(180), &chain).is_ok());
        assert!(Context::new(&"a".repeat(256)).is_err());
        assert!(ChainContext::new("").is_err());
        assert!(ChainContext::new(&"a".repeat(65)).is_err());
        assert!(ChainContext::new("a for chain b").is_err());
    }
}

//! A bounded cache of signers recovered from module-decoded transactions.
//!
//! Recovering a secp256k1 public key from an Ethereum signature is the
//! expensive part of decoding a raw Ethereum transaction. A module that
//! decodes such transactions remembers the recovered key under a digest of
//! the exact bytes it recovered it from (for Ethereum, the transaction hash),
//! so a transaction checked on submission, or recovered ahead of its batch
//! by [`Runtime::preverify`](crate::Runtime::preverify), is not recovered
//! again. Only successful recoveries are remembered and the key is a
//! function of the bytes alone, so no outcome depends on what the cache
//! holds.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use atoll_crypto::secp256k1::PublicKey;

/// At most `cap` recovered keys; inserting past that forgets the oldest.
#[derive(Debug)]
pub struct SignerCache {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    map: BTreeMap<[u8; 32], PublicKey>,
    order: VecDeque<[u8; 32]>,
}

impl SignerCache {
    /// An empty cache holding at most `cap` keys.
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                cap,
                map: BTreeMap::new(),
                order: VecDeque::new(),
            }),
        }
    }

    /// The key recovered earlier from the bytes with digest `digest`.
    pub fn get(&self, digest: &[u8; 32]) -> Option<PublicKey> {
        self.inner
            .lock()
            .ok()
            .and_then(|c| c.map.get(digest).copied())
    }

    /// Remembers the key recovered from the bytes with digest `digest`.
    pub fn insert(&self, digest: [u8; 32], key: PublicKey) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        if c.map.insert(digest, key).is_none() {
            c.order.push_back(digest);
            while c.order.len() > c.cap {
                if let Some(old) = c.order.pop_front() {
                    c.map.remove(&old);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atoll_crypto::secp256k1::SigningKey;

    #[test]
    fn forgets_the_oldest_beyond_its_bound() {
        let pk = SigningKey::from_bytes(&[1; 32]).unwrap().public_key();
        let c = SignerCache::new(2);
        c.insert([1; 32], pk);
        c.insert([2; 32], pk);
        c.insert([2; 32], pk);
        c.insert([3; 32], pk);
        assert_eq!(c.get(&[1; 32]), None);
        assert_eq!(c.get(&[2; 32]), Some(pk));
        assert_eq!(c.get(&[3; 32]), Some(pk));
    }
}

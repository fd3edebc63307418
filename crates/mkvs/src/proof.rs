//! Proofs of reads, and their standalone verification.
//!
//! A [`Proof`] for key `k` is the path a search for `k` takes from the root:
//! one [`ProofStep`] per internal node (its branch bit and the hash of the
//! sibling subtree not taken) and the leaf the search ends at. [`verify`]
//! rebuilds the root hash from those parts and compares it with a trusted
//! root. It needs no database and no other part of this crate, so it can run
//! inside a runtime or a light client.
//!
//! If the leaf holds `k`, the proof shows `k`'s value. If it holds another
//! key, it shows that `k` is absent: a search for a present key always ends
//! at that key's own leaf, and the path is fixed by the root hash.

use atoll_crypto::Hash;
use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, MAX_KEY_LEN, MAX_VALUE_LEN, Reader, Writer};
use crate::key::bit;
use crate::node::{internal_hash, leaf_hash};

/// Format version byte of an encoded [`Proof`].
pub const PROOF_FORMAT: u8 = 1;
/// Most steps a proof may have: the deepest a trie can be. [`verify`]
/// bounds a proof further by its leaf's key: each step branches on a
/// distinct bit of that key's encoding.
pub const MAX_PROOF_STEPS: usize = crate::codec::MAX_DEPTH;

/// One internal node on a proof path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofStep {
    /// The bit the node branches on.
    pub bit: u32,
    /// Hash of the subtree the path does not enter.
    pub sibling: Hash,
}

/// The leaf a proof path ends at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofLeaf {
    /// The leaf's key (the queried key, or a neighbour proving its absence).
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The leaf's value.
    #[serde(with = "serde_bytes")]
    pub value: Vec<u8>,
}

/// Proof of the value (or the absence) of one key under a root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Internal nodes from the root down.
    pub steps: Vec<ProofStep>,
    /// The leaf at the end; `None` only for the empty tree.
    pub leaf: Option<ProofLeaf>,
}

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof does not hash to the trusted root (tampered, or for another root).
    #[error("proof does not match the root: expected {expected}, computed {computed}")]
    RootMismatch {
        /// The trusted root.
        expected: Hash,
        /// The root the proof hashes to.
        computed: Hash,
    },
    /// The proof is structurally impossible.
    #[error("malformed proof: {0}")]
    Malformed(&'static str),
    /// The encoded proof did not decode.
    #[error("proof decode: {0}")]
    Decode(#[from] DecodeError),
}

/// Checks `proof` against the trusted `root` and returns `key`'s value
/// (`None` when the proof shows the key is absent).
pub fn verify(root: &Hash, key: &[u8], proof: &Proof) -> Result<Option<Vec<u8>>, ProofError> {
    let Some(leaf) = &proof.leaf else {
        if !proof.steps.is_empty() {
            return Err(ProofError::Malformed("steps without a leaf"));
        }
        if *root != Hash::empty() {
            return Err(ProofError::RootMismatch {
                expected: *root,
                computed: Hash::empty(),
            });
        }
        return Ok(None);
    };
    if proof.steps.len() > MAX_PROOF_STEPS {
        return Err(ProofError::Malformed("too many steps"));
    }
    if leaf.key.len() > MAX_KEY_LEN || leaf.value.len() > MAX_VALUE_LEN {
        return Err(ProofError::Malformed("leaf too large"));
    }
    // Every node on a leaf's path branches on a bit where the leaf's key and
    // a longer or different key differ: at most the leaf's terminator bit.
    // With increasing bits this bounds the steps by the leaf key's length.
    let last_bit = leaf.key.len().saturating_mul(9);
    let mut prev: Option<u32> = None;
    for step in &proof.steps {
        if prev.is_some_and(|p| p >= step.bit) {
            return Err(ProofError::Malformed("branch bits not increasing"));
        }
        if step.bit as usize > last_bit {
            return Err(ProofError::Malformed("branch bit past the leaf key's end"));
        }
        if bit(&leaf.key, step.bit) != bit(key, step.bit) {
            return Err(ProofError::Malformed("leaf is not on the key's path"));
        }
        prev = Some(step.bit);
    }
    let mut h = leaf_hash(&leaf.key, &leaf.value);
    for step in proof.steps.iter().rev() {
        h = if bit(key, step.bit) == 0 {
            internal_hash(step.bit, &h, &step.sibling)
        } else {
            internal_hash(step.bit, &step.sibling, &h)
        };
    }
    if h != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            computed: h,
        });
    }
    Ok((leaf.key == key).then(|| leaf.value.clone()))
}

impl Proof {
    /// Encodes the proof: `u8 format || u32 n || n × (u32 bit || hash) ||
    /// u8 has_leaf || [bytes key || bytes value]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(6 + self.steps.len() * 36);
        w.u8(PROOF_FORMAT);
        w.u32(u32::try_from(self.steps.len()).unwrap_or(u32::MAX));
        for s in &self.steps {
            w.u32(s.bit);
            w.raw(&s.sibling.0);
        }
        match &self.leaf {
            None => w.u8(0),
            Some(l) => {
                w.u8(1);
                w.bytes(&l.key);
                w.bytes(&l.value);
            }
        }
        w.finish()
    }

    /// Decodes a proof, bounded by the size of `bytes` and the format limits.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let tag = r.u8("proof format")?;
        if tag != PROOF_FORMAT {
            return Err(DecodeError::BadTag {
                what: "proof format",
                tag,
            });
        }
        let n = r.count("proof steps", 36, MAX_PROOF_STEPS)?;
        let mut steps = Vec::with_capacity(n);
        for _ in 0..n {
            steps.push(ProofStep {
                bit: r.u32("step bit")?,
                sibling: r.hash("step sibling")?,
            });
        }
        let leaf = match r.u8("proof leaf flag")? {
            0 => None,
            1 => Some(ProofLeaf {
                key: r.bytes("proof key", MAX_KEY_LEN)?.to_vec(),
                value: r.bytes("proof value", MAX_VALUE_LEN)?.to_vec(),
            }),
            tag => {
                return Err(DecodeError::BadTag {
                    what: "proof leaf flag",
                    tag,
                });
            }
        };
        r.end()?;
        Ok(Self { steps, leaf })
    }

    /// Decodes and verifies in one call.
    pub fn decode_and_verify(
        root: &Hash,
        key: &[u8],
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, ProofError> {
        verify(root, key, &Self::decode(bytes)?)
    }
}

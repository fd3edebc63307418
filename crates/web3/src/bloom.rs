//! The 2048-bit logs bloom of blocks and receipts (Ethereum's: three
//! 11-bit indices from the Keccak-256 of each address and topic).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::types::{H160, H256, data_hex, parse_data};

/// Bytes in a bloom.
pub const BLOOM_BYTES: usize = 256;

/// A logs bloom.
#[derive(Clone, PartialEq, Eq)]
pub struct Bloom(pub Box<[u8; BLOOM_BYTES]>);

impl Default for Bloom {
    fn default() -> Self {
        Self(Box::new([0u8; BLOOM_BYTES]))
    }
}

impl fmt::Debug for Bloom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_hex(self.0.as_slice()))
    }
}

/// The three (byte index, bit mask) pairs `input` sets.
fn positions(input: &[u8]) -> [(usize, u8); 3] {
    let h = atoll_crypto::keccak256(input);
    let mut out = [(0usize, 0u8); 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let bit = ((usize::from(h[2 * i]) << 8) | usize::from(h[2 * i + 1])) & 2047;
        *slot = (BLOOM_BYTES - 1 - bit / 8, 1u8 << (bit % 8));
    }
    out
}

impl Bloom {
    /// Adds raw bytes (an address or a topic).
    pub fn accrue(&mut self, input: &[u8]) {
        for (byte, mask) in positions(input) {
            if let Some(b) = self.0.get_mut(byte) {
                *b |= mask;
            }
        }
    }

    /// Adds a log's address and topics.
    pub fn accrue_log(&mut self, address: &H160, topics: &[H256]) {
        self.accrue(&address.0);
        for t in topics {
            self.accrue(&t.0);
        }
    }

    /// Ors another bloom into this one.
    pub fn union(&mut self, other: &Bloom) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= *b;
        }
    }

    /// Whether `input` may have been added (no false negatives).
    pub fn contains(&self, input: &[u8]) -> bool {
        positions(input)
            .iter()
            .all(|(byte, mask)| self.0.get(*byte).is_some_and(|b| b & mask == *mask))
    }
}

impl Serialize for Bloom {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_hex(self.0.as_slice()))
    }
}

impl<'de> Deserialize<'de> for Bloom {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = parse_data(&s).map_err(serde::de::Error::custom)?;
        let arr: [u8; BLOOM_BYTES] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a bloom is 256 bytes"))?;
        Ok(Self(Box::new(arr)))
    }
}

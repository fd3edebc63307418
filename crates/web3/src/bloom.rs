//! The 2048-bit logs bloom of blocks and receipts: alloy's [`Bloom`]
//! (Ethereum's: three 11-bit indices from the Keccak-256 of each address and
//! topic; `0x` hex of its 256 bytes in JSON), and how a log is added.

pub use alloy_primitives::{Bloom, BloomInput};

use crate::types::{H160, H256};

/// Bytes in a bloom.
pub const BLOOM_BYTES: usize = 256;

/// Adds a log's address and topics to `bloom`.
pub fn accrue_log(bloom: &mut Bloom, address: &H160, topics: &[H256]) {
    bloom.accrue(BloomInput::Raw(address.0.as_slice()));
    for t in topics {
        bloom.accrue(BloomInput::Raw(t.0.as_slice()));
    }
}

/// Whether `input` (an address or a topic) may have been added (no false
/// negatives).
pub fn may_contain(bloom: &Bloom, input: &[u8]) -> bool {
    bloom.contains_input(BloomInput::Raw(input))
}

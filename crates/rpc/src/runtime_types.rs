//! What a compute node's [`crate::RuntimeApi`] answers with: plain typed
//! values between two crates of one process. The `runtime_*` handlers turn
//! them into JSON (see `server::runtime`); nothing here is JSON.

use atoll_consensus_types::roothash::BlockHeader;
use atoll_crypto::Hash;
use atoll_types::cbor::Value as Cbor;
use serde::{Deserialize, Serialize};

/// A finalized runtime block.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeBlock {
    /// The header consensus finalized.
    pub header: BlockHeader,
    /// The consensus height the round executed at.
    pub consensus_height: u64,
    /// Hashes (SHA-512/256) of its transactions, in order.
    pub transactions: Vec<Hash>,
    /// The messages the round emitted to consensus (CBOR).
    pub messages: Vec<Cbor>,
}

impl RuntimeBlock {
    /// Its round.
    pub fn round(&self) -> u64 {
        self.header.round
    }
}

/// One transaction of a round, with its result.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeTx {
    /// Its hash.
    pub hash: Hash,
    /// Its index in the batch.
    pub index: u32,
    /// Its bytes.
    pub tx: Vec<u8>,
    /// Its result (runtime-defined CBOR).
    pub result: Cbor,
}

/// Where a transaction landed, with its result.
#[derive(Debug, Clone, PartialEq)]
pub struct TxLocation {
    /// Its hash.
    pub hash: Hash,
    /// The round that included it.
    pub round: u64,
    /// Its index in that round's batch.
    pub index: u32,
    /// Its result (runtime-defined CBOR).
    pub result: Cbor,
}

/// What a submission came to: its hash, and with a wait where it landed.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitResult {
    /// The transaction's hash.
    pub hash: Hash,
    /// Where it landed (when the caller waited for it).
    pub included: Option<TxLocation>,
}

/// One checkpoint of a runtime's state kept by a node (also the wire form
/// of `runtime_getCheckpoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointSummary {
    /// The round whose state it holds.
    pub round: u64,
    /// That state's root.
    pub root: Hash,
    /// The round's header.
    pub header: BlockHeader,
    /// SHA-512/256 of each chunk, in order.
    pub chunks: Vec<Hash>,
}

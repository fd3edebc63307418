//! What compute nodes gossip to each other: batch proposals and checked
//! transactions, the verdicts a gossiped message can get, and how a node's
//! own transactions are cut into gossip batches.

use atoll_types::Namespace;
use atoll_types::cbor::{self};
use atoll_types::signed::Signed;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::proposal::Proposal;

/// What compute nodes gossip to each other (canonical CBOR).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeMessage {
    /// Transactions a node checked and pooled, for the other nodes' pools.
    Txs {
        /// The runtime.
        runtime: Namespace,
        /// The transactions.
        txs: Vec<ByteBuf>,
    },
    /// A signed batch proposal (the signer is the scheduler). The scheduler
    /// sends it again while the round is open, with a higher `attempt` (so
    /// gossip does not drop it as a duplicate), for nodes that missed it.
    Proposal {
        /// The proposal.
        signed: Signed<Proposal>,
        /// 0 for the first sending.
        attempt: u32,
    },
}

impl ComputeMessage {
    /// The runtime the message is about.
    pub fn runtime(&self) -> Option<Namespace> {
        match self {
            Self::Txs { runtime, .. } => Some(*runtime),
            Self::Proposal { signed: p, .. } => {
                cbor::from_slice::<Proposal>(&p.untrusted_raw_value)
                    .ok()
                    .map(|p| p.runtime)
            }
        }
    }
}

/// What a gossiped message deserves ([`super::Worker::on_message`]); the gossip
/// layer forwards, drops, or drops and penalises the peer accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Valid: forward it.
    Accept,
    /// Not forwarded; the sender is not at fault (a duplicate, a stale
    /// round, something this node cannot judge now).
    Ignore,
    /// Invalid whatever the state (undecodable, badly signed, signed by no
    /// node at all): not forwarded, and the peer that sent it is penalised.
    Reject,
}

/// Most transactions in one gossiped batch (a node's own batches are split
/// to fit; a peer's larger batch is rejected).
pub const MAX_GOSSIP_TXS: usize = 1024;

/// Most gossiped proposals waiting for the worker's loop (beyond, they are
/// ignored until it catches up).
pub const MAX_QUEUED_PROPOSALS: usize = 64;

/// Most transaction bytes in one gossiped batch.
pub const MAX_GOSSIP_BATCH_BYTES: usize = 8 << 20;

/// Splits transactions into gossip batches of at most [`MAX_GOSSIP_TXS`]
/// transactions and [`MAX_GOSSIP_BATCH_BYTES`] bytes (a larger single
/// transaction goes alone).
pub(super) fn gossip_batches(txs: Vec<ByteBuf>) -> Vec<Vec<ByteBuf>> {
    let mut out = Vec::new();
    let mut batch: Vec<ByteBuf> = Vec::new();
    let mut bytes = 0usize;
    for tx in txs {
        if !batch.is_empty()
            && (batch.len() >= MAX_GOSSIP_TXS
                || bytes.saturating_add(tx.len()) > MAX_GOSSIP_BATCH_BYTES)
        {
            out.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes = bytes.saturating_add(tx.len());
        batch.push(tx);
    }
    if !batch.is_empty() {
        out.push(batch);
    }
    out
}

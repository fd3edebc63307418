//! A batch proposal: what the scheduler of a round proposes to its
//! committee, signed under [`PROPOSAL_SIGNATURE_CONTEXT`]. The executor
//! gossips it ([`crate::executor::ComputeMessage::Proposal`]) and
//! [`crate::signed`] remembers which one this node signed.

use atoll_crypto::Hash;
use atoll_types::Namespace;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Signature context of batch proposals (bound to the chain).
pub const PROPOSAL_SIGNATURE_CONTEXT: &str = "atoll/compute: batch proposal";

/// A batch the scheduler of a round proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The runtime.
    pub runtime: Namespace,
    /// The round it is for.
    pub round: u64,
    /// The hash of the last finalized block it builds on.
    pub previous_hash: Hash,
    /// The transactions, in execution order.
    pub txs: Vec<ByteBuf>,
}

//! The executor committee protocol, as one compute node runs it for one
//! runtime.
//!
//! Consensus says who does what: the runtime's committee for the epoch
//! (workers and backup workers), the rank order of workers for each round,
//! the last finalized runtime block, and whether the current round is in
//! discrepancy. After every consensus block the worker looks at that state
//! and acts:
//!
//! 1. **Storage.** If consensus finalized a round this node has not applied,
//!    the storage worker applies it: from this node's own execution when it
//!    computed the same roots, otherwise from a peer's record, which is
//!    checked against the finalized header (see [`crate::storage`]).
//! 2. **Proposing.** The worker of rank 0 for the next round takes a batch
//!    from the pool (at most `max_batch_size` transactions and
//!    `max_batch_size_bytes` bytes, gas limits adding up to at most
//!    [`OFFER_GAS_FACTOR`] × the runtime's `max_batch_gas`), signs a
//!    [`Proposal`](crate::proposal::Proposal) and gossips it. The runtime packs the batch by gas used:
//!    the block is the prefix of the proposal up to the first transaction
//!    that no longer fits, and the rest stay pooled for the next round. It
//!    proposes when it has work: transactions, results of messages the
//!    runtime emitted last round, or a runtime that has never run a normal
//!    round (its genesis runs in the first one). A worker of rank `k` proposes only
//!    when no better-ranked proposal came within `k` ×
//!    `propose_batch_timeout_ms` of the round opening: the next rank takes
//!    over from a silent proposer.
//! 3. **Executing.** Every worker executes the best-ranked proposal it has,
//!    on the state of the last finalized round and the consensus height that
//!    finalized it (so every worker runs the same inputs), and submits a
//!    signed executor commitment in a `roothash.ExecutorCommit` transaction.
//!    The scheduler's commitment carries the round's messages.
//! 4. **Discrepancy.** Backup workers do nothing until consensus declares a
//!    discrepancy; then each executes the proposal of the best-ranked
//!    scheduler that committed and votes.
//!
//! Nothing here decides anything: consensus (the roothash) tallies the
//! votes, finalizes or fails the round, and slashes workers whose results
//!
//! The module is split along its seams:
//!
//! - [`messages`]: what compute nodes gossip ([`ComputeMessage`], which
//!   carries a [`crate::proposal::Proposal`]), the verdicts on gossip and
//!   how batches are cut.
//! - [`mkvs_view`]: the read port ([`crate::ports::ConsensusView`]) over
//!   the consensus state database. The ports themselves (how the worker
//!   writes to and reads consensus and reaches its peers) are
//!   [`crate::ports`], below the executor, so that the modules the executor
//!   uses need not import it.
//! - [`worker`]: the handle a node holds ([`Worker`], [`WorkerConfig`]) and
//!   the state its loop shares with it.
//! - [`admission`]: checking transactions with the runtime and pooling them
//!   ([`Admitted`], [`SubmitError`]).
//! - `catch_up`: following consensus — applying finalized rounds, from this
//!   node's execution or a peer's record, and restoring checkpoints.
//! - [`decide`]: the pure decision of what to do next in the open round
//!   ([`decide::decide`]), from a [`decide::RoundSituation`].
//! - `round`: the loop that acts on each round (propose, execute, commit).

pub mod admission;
mod catch_up;
pub mod decide;
pub mod messages;
pub mod mkvs_view;
mod round;
pub mod worker;

pub use admission::{Admitted, SubmitError, batch_verdict};
pub use messages::{
    ComputeMessage, GossipVerdict, MAX_GOSSIP_BATCH_BYTES, MAX_GOSSIP_TXS, MAX_QUEUED_PROPOSALS,
};
pub use mkvs_view::{MkvsConsensus, first_header, genesis_header};
pub use round::OFFER_GAS_FACTOR;
pub use worker::{Fault, Worker, WorkerConfig, WorkerError};

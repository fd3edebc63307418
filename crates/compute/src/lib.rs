//! Compute nodes: what a node does for each ParaTime it serves.
//!
//! - [`txpool`]: the runtime's transactions waiting for a batch, checked by
//!   the runtime, ordered by fee priority and per-sender nonce, bounded.
//! - [`executor`]: the executor committee protocol (proposals, execution,
//!   commitments, backups, rank takeover) for one runtime.
//! - [`signed`]: what the node signed for an open round (commitments, its
//!   proposal), durable before it is sent, sent again after a restart.
//! - [`storage`]: the runtime's state and finalized rounds, checked against
//!   the headers consensus finalized.
//! - [`catchup`]: which fetched rounds consensus vouches for, so a node
//!   catching up from untrusted storage peers makes no forged round durable.
//! - [`checkpoint`]: checkpoints of the runtime's state every
//!   `checkpoint_interval` rounds, served to and restored by nodes that
//!   join late.
//! - [`metrics`]: what a compute node counts per runtime (rounds,
//!   discrepancies, checks, the pool, batch sizes) for `GET /metrics`.
//! - [`client`]: what runtime API clients hold on a worker: queries on a
//!   runtime process of their own behind a bounded queue, and bounded
//!   waits for inclusion that are freed when dropped.

pub mod catchup;
pub mod checkpoint;
pub mod client;
pub mod executor;
pub mod metrics;
pub mod ports;
pub mod proposal;
pub mod signed;
pub mod storage;
pub mod txpool;

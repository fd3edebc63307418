//! Compute nodes: what a node does for each ParaTime it serves.
//!
//! - [`txpool`]: the runtime's transactions waiting for a batch, checked by
//!   the runtime, ordered by fee priority and per-sender nonce, bounded.

pub mod txpool;

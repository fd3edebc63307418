//! Integration tests of `atoll-runtime-host`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

#[path = "../../src/bin/atoll-test-runtime/tx.rs"]
#[allow(dead_code, reason = "shared with the test runtime")]
mod tx;

mod frames;
mod host;
mod metrics;
mod runtime_side;

use atoll_runtime_host::protocol::{BatchContext, StateRoot};
use atoll_types::cbor::Value;
use atoll_types::{Epoch, Height, Namespace, Round};

/// A context for the default (all-zero) runtime id.
fn ctx() -> BatchContext {
    BatchContext {
        runtime_id: Namespace::default(),
        round: Round(3),
        consensus_height: Height(10),
        epoch: Epoch(1),
        timestamp: 1_700_000_000,
        previous_hash: Default::default(),
        state_root: StateRoot::default(),
        extra: Value::Null,
    }
}

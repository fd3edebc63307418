//! Integration tests for atoll-mkvs.

// Test helpers outside #[test] functions fail loudly on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod basic;
mod crash;
mod deep;
mod model;

use atoll_mkvs::{Mkvs, Options};
use atoll_types::Namespace;

/// A namespace filled with `n`.
pub fn ns(n: u8) -> Namespace {
    Namespace([n; 32])
}

/// Opens a fjall-backed database.
pub fn open(dir: &std::path::Path) -> Mkvs {
    Mkvs::open(dir, Options::default()).unwrap()
}

/// All pairs of a tree.
pub fn contents(t: &atoll_mkvs::Tree) -> Vec<(Vec<u8>, Vec<u8>)> {
    t.iter().collect::<Result<Vec<_>, _>>().unwrap()
}

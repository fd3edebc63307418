//! Integration tests of the runtime SDK.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

mod bad_input;
mod common;
mod consensus;
mod determinism;
mod encoding;
mod rewards;
mod rollback;
mod secp256k1;
mod transfers;

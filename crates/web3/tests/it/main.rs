//! Tests of the Ethereum JSON-RPC gateway: encodings, bloom, filters, error
//! mapping and the index on their own, then the whole server over real
//! sockets against an in-process runtime API serving real round records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "test binary"
)]

mod edge;
mod fixture;
mod recovery;
mod server;
mod units;

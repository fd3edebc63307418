//! atoll's end-to-end tests: whole networks of `atoll` processes on
//! 127.0.0.1, driven as a user, an Ethereum tool or an attacker would.
//!
//! One test binary, one module per scenario, so the workspace is linked
//! once; `cargo nextest run -p atoll-e2e -E 'test(/^paratime::/)'` runs one
//! scenario. The helpers the scenarios share:
//!
//! - [`common`]: the binary under test ([`common::atoll`]) and JSON-RPC
//!   over plain HTTP, raw bytes included for the hostile tests;
//! - [`process`]: an `atoll localnet` process, as a user starts it;
//! - [`runtimes`]: signed ParaTime transactions, balance and round
//!   queries, bounded waits.
//!
//! The networks themselves come from `atoll_localnet::harness`, which the
//! benchmarks (`crates/bench`) share.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    clippy::too_many_arguments,
    missing_docs,
    reason = "test harness"
)]

mod common;
mod process;
mod runtimes;

mod checkpoint;
mod cli_e2e;
mod epochs;
mod evm;
mod explorer;
mod genesis_check;
mod hostile_edge;
mod hostile_network;
mod hostile_roothash;
mod hostile_state;
mod localnet;
mod measure;
mod membership;
mod metrics;
mod network;
mod oasis_clients;
mod paratime;
mod rewards;

//! A network of atoll nodes on one machine.
//!
//! - [`layout`]: what a localnet is on disk — a [`Plan`] (validators, full
//!   and compute nodes, ParaTimes, timeouts) becomes a [`Layout`]: keys, a
//!   debug genesis and one `node.toml` per node on free loopback ports.
//! - [`process`]: a node process of a localnet ([`NodeProcess`]).
//! - [`dev`]: the funded development accounts of the well-known mnemonic,
//!   and the genesis of a ParaTime that funds them.
//! - [`command`]: the `atoll localnet` command — create or reopen a
//!   network, supervise its processes, print and record its summary.
//! - [`harness`]: what the end-to-end tests and the benchmarks share: one
//!   builder for the networks they start ([`harness::Network::builder`]),
//!   the handle to its processes, bounded waits.
//!
//! The command-line tool (`atoll localnet`), the end-to-end tests and the
//! benchmarks all build their networks here.

pub mod command;
pub mod dev;
pub mod harness;
pub mod layout;
mod probe;
pub mod process;

pub use layout::{
    Layout, LocalnetError, NODE_STAKE, NodeFiles, Plan, RuntimePlan, SLASH_AMOUNT, free_port,
    runtime_id,
};
pub use process::NodeProcess;

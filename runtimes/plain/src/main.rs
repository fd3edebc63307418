//! `atoll-runtime-plain`: the built-in plain ParaTime, run by a node
//! through the runtime host protocol.
//!
//! ```text
//! atoll-runtime-plain --runtime-id <64 hex digits> [--genesis <path to CBOR RuntimeGenesis>]
//! ```
//!
//! See the `atoll_runtime_plain` crate documentation.

use std::process::ExitCode;

fn main() -> ExitCode {
    atoll_runtime_plain::cli::run(std::env::args_os().skip(1).collect())
}

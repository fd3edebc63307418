//! `atoll-runtime-evm`: the EVM ParaTime, run by a node through the runtime
//! host protocol.
//!
//! ```text
//! atoll-runtime-evm --runtime-id <64 hex digits> [--genesis <path to CBOR RuntimeGenesis>]
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    atoll_runtime_evm::cli::run(std::env::args_os().skip(1).collect())
}

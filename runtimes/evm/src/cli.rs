//! The command line of the EVM runtime (the plain runtime's:
//! `--runtime-id HEX [--genesis PATH]`), shared by the `atoll-runtime-evm`
//! binary and `atoll runtime-evm`.

use std::process::ExitCode;

/// How to call it.
pub const USAGE: &str = "usage: atoll-runtime-evm --runtime-id HEX [--genesis PATH]";

/// Runs the runtime with command-line `args` (without the program name):
/// serves the host on the inherited socket until it closes.
pub fn run(args: Vec<std::ffi::OsString>) -> ExitCode {
    atoll_runtime_plain::cli::run_with("atoll-runtime-evm", args, |id, genesis| {
        crate::host_runtime(id, genesis).map_err(|e| e.to_string())
    })
}

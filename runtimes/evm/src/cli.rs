//! The command line of the EVM runtime (`--runtime-id HEX [--genesis
//! PATH]`, see [`atoll_runtime_sdk::host::cli`]), shared by the
//! `atoll-runtime-evm` binary and `atoll runtime-evm`.

use std::process::ExitCode;

/// The binary's name.
pub const NAME: &str = "atoll-runtime-evm";

/// Runs the runtime with command-line `args` (without the program name):
/// serves the host on the inherited socket until it closes.
pub fn run(args: Vec<std::ffi::OsString>) -> ExitCode {
    atoll_runtime_sdk::host::cli::run(NAME, args, |id, genesis| {
        crate::host_runtime(id, genesis).map_err(|e| e.to_string())
    })
}

//! `atoll runtime-plain` and `atoll runtime-evm`: the built-in ParaTimes,
//! as a compute node starts them (`binary = "atoll"`, `args =
//! ["runtime-plain"]` or `["runtime-evm"]`).

use std::process::ExitCode;

/// The ParaTime's own options, passed on to it whole.
#[derive(clap::Args)]
pub struct Args {
    /// `--runtime-id HEX [--genesis PATH]`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<std::ffi::OsString>,
}

/// Runs the plain ParaTime (core, accounts, consensus_accounts).
pub fn plain(args: Args) -> ExitCode {
    atoll_runtime_plain::cli::run(args.args)
}

/// Runs the measurement ParaTime (the plain ParaTime's modules and measurement).
pub fn measure(args: Args) -> ExitCode {
    atoll_runtime_measure::paratime::run(args.args)
}

/// Runs the EVM ParaTime (core, accounts, consensus_accounts, evm).
pub fn evm(args: Args) -> ExitCode {
    atoll_runtime_evm::cli::run(args.args)
}

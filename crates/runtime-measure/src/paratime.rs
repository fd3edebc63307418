//! The built-in measurement ParaTime: the plain ParaTime's modules (`core`,
//! `accounts`, `consensus_accounts`) and `measurement`, served over the
//! runtime host protocol by `atoll runtime-measure`. A ParaTime of its own,
//! so the plain ParaTime's state, tests and benchmarks stay as they are.

use std::process::ExitCode;

use atoll_runtime_sdk::host::HostedRuntime;
use atoll_runtime_sdk::modules::consensus_accounts::ConsensusAccounts;
use atoll_runtime_sdk::{BuildError, Runtime, RuntimeConfig, RuntimeGenesis};
use atoll_types::Namespace;

use crate::Measurement;

/// The name the host command line reports errors under.
pub const NAME: &str = "atoll-runtime-measure";

/// How far ahead of an account's nonce a check accepts a transaction (as the
/// plain ParaTime: a facilitator may have several calls in flight).
pub const MAX_CHECK_NONCE_FUTURE_DELTA: u64 = 64;

/// The SDK runtime: `core`, `accounts`, `consensus_accounts`, `measurement`.
pub fn runtime() -> Result<Runtime, BuildError> {
    Runtime::builder()
        .module(ConsensusAccounts)
        .module(Measurement)
        .config(RuntimeConfig {
            max_check_nonce_future_delta: MAX_CHECK_NONCE_FUTURE_DELTA,
        })
        .build()
}

/// The runtime served over the host protocol as runtime `runtime_id`.
pub fn host_runtime(
    runtime_id: Namespace,
    genesis: Option<RuntimeGenesis>,
) -> Result<HostedRuntime, BuildError> {
    Ok(HostedRuntime::new(runtime_id, runtime()?, genesis))
}

/// Runs the ParaTime with command-line `args` (`--runtime-id HEX [--genesis
/// PATH]`, without the program name): serves the host on the inherited
/// socket until it closes.
pub fn run(args: Vec<std::ffi::OsString>) -> ExitCode {
    atoll_runtime_sdk::host::cli::run(NAME, args, |id, genesis| {
        host_runtime(id, genesis).map_err(|e| e.to_string())
    })
}

//! The built-in plain ParaTime of atoll.
//!
//! The runtime SDK's standard modules (`core`, `accounts`, `rewards` and
//! `consensus_accounts`), served over the runtime host protocol by the
//! `atoll-runtime-plain` binary ([`cli::run`]) through the SDK's host
//! adapter ([`atoll_runtime_sdk::host`]: command line, genesis, context,
//! calls and errors are documented there). No confidentiality, no TEE:
//! every compute node runs the same binary on the same inputs.

pub mod cli;

use atoll_runtime_sdk::host::HostedRuntime;
use atoll_runtime_sdk::modules::consensus_accounts::ConsensusAccounts;
use atoll_runtime_sdk::modules::rewards::Rewards;
use atoll_runtime_sdk::{BuildError, Runtime, RuntimeConfig, RuntimeGenesis};
use atoll_types::Namespace;

/// How far ahead of an account's nonce a check accepts a transaction, so
/// that a client can have several transactions in flight (execution still
/// requires the exact nonce; the pool orders each sender's transactions).
pub const MAX_CHECK_NONCE_FUTURE_DELTA: u64 = 64;

/// The SDK runtime: `core`, `accounts`, `consensus_accounts`, `rewards`.
pub fn runtime() -> Result<Runtime, BuildError> {
    Runtime::builder()
        .module(ConsensusAccounts)
        .module(Rewards)
        .config(RuntimeConfig {
            max_check_nonce_future_delta: MAX_CHECK_NONCE_FUTURE_DELTA,
        })
        .build()
}

/// The runtime served over the host protocol as runtime `runtime_id`,
/// applying `genesis` to a state that has none.
pub fn host_runtime(
    runtime_id: Namespace,
    genesis: Option<RuntimeGenesis>,
) -> Result<HostedRuntime, BuildError> {
    Ok(HostedRuntime::new(runtime_id, runtime()?, genesis))
}

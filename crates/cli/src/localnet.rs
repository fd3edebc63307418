//! `atoll localnet`: the command lives in [`atoll_localnet::command`]; this
//! module hands it the wallet's Ethereum key derivation
//! ([`crate::keys::eth_dev_key`]) and re-exports the development accounts
//! the other commands use (`wallet import --dev`).

use std::process::ExitCode;

pub use atoll_localnet::command::Options;
pub use atoll_localnet::dev::{DEV_MNEMONIC, dev_account};

/// Runs `atoll localnet` with `options`.
pub fn run(options: &Options) -> anyhow::Result<ExitCode> {
    atoll_localnet::command::run(options, crate::keys::eth_dev_key)
}

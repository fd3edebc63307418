//! The standard modules.
//!
//! - [`core`]: limits, gas costs, minimum gas price, gas estimation.
//! - [`accounts`]: balances, nonces, total supply, transfers.
//! - [`consensus_accounts`]: deposits from and withdrawals to the consensus layer.

pub mod accounts;
pub mod consensus_accounts;
pub mod core;

//! The standard modules.
//!
//! - [`core`]: limits, gas costs, minimum gas price, gas estimation.
//! - [`accounts`]: balances, nonces, total supply, transfers.
//! - [`consensus_accounts`]: deposits from and withdrawals to the consensus layer.
//! - [`rewards`]: per-epoch rewards for the entities of good compute nodes.

pub mod accounts;
pub mod consensus_accounts;
pub mod core;
pub mod rewards;

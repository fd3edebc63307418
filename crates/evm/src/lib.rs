//! The EVM for atoll ParaTimes.
//!
//! - [`tx`]: strict Ethereum transaction decoding (legacy, EIP-2930,
//!   EIP-1559), sender recovery and signing helpers.
//! - [`module`]: the `evm` runtime module ([`Evm`]) executing on revm,
//!   with the decoding of raw Ethereum transactions
//!   (scheme `"evm.ethereum.v0"`).
//! - [`types`]: its calls, queries, events, parameters and genesis.
//! - [`erc20`] and [`asm`]: a hand-assembled ERC-20 and its calldata.
//! - [`bench`](mod@bench): the same ERC-20 transfers on plain in-memory revm, the
//!   baseline of the ParaTime's throughput.

pub mod asm;
pub mod bench;
mod db;
pub mod erc20;
pub mod module;
mod rlp;
pub mod tx;
pub mod types;

pub use db::{MODULE_NAME, account_of};
pub use module::{ETHEREUM_TX_SCHEME, Evm, EvmError};

//! The `evm` module's wire types (canonical CBOR, field names as Oasis's
//! `module_evm::types`).
//!
//! - Addresses ([`EthAddress`]) are 20-byte byte strings.
//! - [`B256`] words (storage slots and values, log topics) are 32-byte byte
//!   strings (alloy's own binary form).
//! - [`U256`] amounts are **32-byte big-endian** byte strings, leading zeros
//!   included, as Oasis's `U256` encodes them; decoding requires exactly 32
//!   bytes ([`u256_be32`], stricter than alloy's own binary form).

use std::collections::BTreeMap;

pub use alloy_primitives::{B256, U256};
use atoll_crypto::secp256k1::EthAddress;
use serde::{Deserialize, Serialize};

use crate::tx;

/// Serde for a [`U256`] as exactly 32 big-endian bytes (alloy accepts
/// shorter byte strings; the evm module's formats do not).
pub mod u256_be32 {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::U256;

    /// Writes the 32 big-endian bytes.
    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&v.to_be_bytes::<32>())
    }

    /// Reads exactly 32 big-endian bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("U256 must be 32 big-endian bytes"))?;
        Ok(U256::from_be_bytes(arr))
    }
}

/// One entry of an EIP-2930 access list: an account and storage slots of
/// it that the call pre-warms (paying 2400 gas per entry and 1900 per slot
/// up front, then 100 per access instead of the cold costs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTuple {
    /// The account.
    pub address: EthAddress,
    /// Its storage slots.
    #[serde(default)]
    pub storage_keys: Vec<B256>,
}

impl From<&tx::AccessListItem> for AccessTuple {
    fn from(item: &tx::AccessListItem) -> Self {
        Self {
            address: item.address,
            storage_keys: item.storage_keys.iter().map(|k| B256::new(*k)).collect(),
        }
    }
}

/// The body of `evm.Create`: deploy `init_code`, endowing it with `value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Create {
    /// Wei moved to the new contract.
    #[serde(with = "u256_be32")]
    pub value: U256,
    /// The init code.
    #[serde(with = "serde_bytes")]
    pub init_code: Vec<u8>,
    /// The EIP-2930 access list (absent from the encoding when empty, so a
    /// body without one encodes as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_list: Vec<AccessTuple>,
}

/// The body of `evm.Call`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The callee.
    pub address: EthAddress,
    /// Wei moved to the callee.
    #[serde(with = "u256_be32")]
    pub value: U256,
    /// The call data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// The EIP-2930 access list (absent from the encoding when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_list: Vec<AccessTuple>,
}

/// The argument of `evm.SimulateCall` (`eth_call`): runs a call on the
/// state the query is given without keeping anything; answers the output
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulateCallQuery {
    /// The gas price `GASPRICE` reports (nothing is charged).
    #[serde(with = "u256_be32")]
    pub gas_price: U256,
    /// The gas limit (capped at `core`'s `max_batch_gas`).
    pub gas_limit: u64,
    /// The caller (`msg.sender`, `tx.origin`).
    pub caller: EthAddress,
    /// The callee; `None` simulates a contract creation with `data` as init
    /// code (answering the deployed code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<EthAddress>,
    /// The value.
    #[serde(with = "u256_be32")]
    pub value: U256,
    /// The call data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// The EIP-2930 access list (absent from the encoding when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_list: Vec<AccessTuple>,
}

/// The argument of `evm.Storage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageQuery {
    /// The contract.
    pub address: EthAddress,
    /// The slot.
    pub index: B256,
}

/// The argument of `evm.Code`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeQuery {
    /// The account.
    pub address: EthAddress,
}

/// The argument of `evm.Balance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceQuery {
    /// The account.
    pub address: EthAddress,
}

/// The `evm.Log` event (code 1): one EVM log, in emission order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// The emitting contract.
    pub address: EthAddress,
    /// The topics (0 to 4).
    pub topics: Vec<B256>,
    /// The data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// Parameters of `evm`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// The EIP-155 chain id (`CHAINID`, and what Ethereum transactions must
    /// name).
    pub chain_id: u64,
}

/// The chain id when the genesis names none.
pub const DEFAULT_CHAIN_ID: u64 = 0xa7011;

impl Default for Parameters {
    fn default() -> Self {
        Self {
            chain_id: DEFAULT_CHAIN_ID,
        }
    }
}

/// An account present at genesis (for tests and local networks).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// Wei added to the account (and to the native total supply).
    #[serde(default)]
    pub balance: u128,
    /// Its nonce.
    #[serde(default)]
    pub nonce: u64,
    /// Its code (empty: none).
    #[serde(default, with = "serde_bytes")]
    pub code: Vec<u8>,
    /// Its storage (zero values are not stored).
    #[serde(default)]
    pub storage: BTreeMap<B256, B256>,
}

/// Genesis of `evm`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The parameters.
    pub parameters: Parameters,
    /// Pre-deployed accounts.
    #[serde(default)]
    pub accounts: BTreeMap<EthAddress, GenesisAccount>,
}

//! The `evm` module's wire types (canonical CBOR, field names as Oasis's
//! `module_evm::types`).
//!
//! - Addresses ([`EthAddress`]) are 20-byte byte strings.
//! - [`H256`] (storage slots and values, log topics) are 32-byte byte
//!   strings.
//! - [`U256`] amounts are **32-byte big-endian** byte strings, leading zeros
//!   included, as Oasis's `U256` encodes them; decoding requires exactly 32
//!   bytes.

use std::collections::BTreeMap;

use atoll_crypto::secp256k1::EthAddress;
use serde::{Deserialize, Serialize};

use crate::tx;

/// A 256-bit unsigned integer, encoded as 32 big-endian bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct U256(pub tx::U256);

impl U256 {
    /// The value `v`.
    pub fn from_u128(v: u128) -> Self {
        Self(tx::U256::from(v))
    }
}

impl From<tx::U256> for U256 {
    fn from(v: tx::U256) -> Self {
        Self(v)
    }
}

impl Serialize for U256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0.to_be_bytes::<32>())
    }
}

impl<'de> Deserialize<'de> for U256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("U256 must be 32 big-endian bytes"))?;
        Ok(Self(tx::U256::from_be_bytes(arr)))
    }
}

/// 32 bytes: a storage slot or value, or a log topic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct H256(pub [u8; 32]);

impl Serialize for H256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for H256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("H256 must be 32 bytes"))?;
        Ok(Self(arr))
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
    pub storage_keys: Vec<H256>,
}

impl From<&tx::AccessListItem> for AccessTuple {
    fn from(item: &tx::AccessListItem) -> Self {
        Self {
            address: item.address,
            storage_keys: item.storage_keys.iter().map(|k| H256(*k)).collect(),
        }
    }
}

/// The body of `evm.Create`: deploy `init_code`, endowing it with `value`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Create {
    /// Wei moved to the new contract.
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
    pub index: H256,
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
    pub topics: Vec<H256>,
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
    pub storage: BTreeMap<H256, H256>,
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

//! Request bodies, decoded under oasis-core's rules for client input
//! ([`cbor::from_slice_relaxed`]): `@oasisprotocol/client` sends `nil` as
//! an empty message and everything else as CBOR.

use atoll_crypto::Address;
use atoll_types::Namespace;
use atoll_types::cbor;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::status::MethodError;

/// Oasis's `HeightLatest`: height 0 means the latest block.
pub const HEIGHT_LATEST: i64 = 0;

/// Decodes a request body; an empty body is `nil`, decoded from CBOR `null`.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, MethodError> {
    if body.is_empty() {
        return cbor::from_value(cbor::Value::Null)
            .map_err(|e| MethodError::BadRequest(e.to_string()));
    }
    cbor::from_slice_relaxed(body).map_err(|e| MethodError::BadRequest(e.to_string()))
}

/// A height argument as the node API takes it: `None` for the latest.
pub fn height(h: i64) -> Result<Option<u64>, MethodError> {
    match h {
        HEIGHT_LATEST => Ok(None),
        h => u64::try_from(h)
            .map(Some)
            .map_err(|_| MethodError::BadRequest(format!("invalid height {h}"))),
    }
}

/// A height-only request (`types.longnum`; `nil` is the latest).
pub fn height_request(body: &[u8]) -> Result<Option<u64>, MethodError> {
    let h: Option<i64> = decode(body)?;
    height(h.unwrap_or(HEIGHT_LATEST))
}

/// `staking.OwnerQuery`.
#[derive(Debug, Deserialize)]
pub struct OwnerQuery {
    /// The height (0 for the latest).
    #[serde(default)]
    pub height: i64,
    /// The account.
    pub owner: Address,
}

/// `consensus.GetSignerNonceRequest`.
#[derive(Debug, Deserialize)]
pub struct SignerNonceQuery {
    /// The account.
    pub account_address: Address,
    /// The height (0 for the latest).
    #[serde(default)]
    pub height: i64,
}

/// `runtime/client.SubmitTxRequest`.
#[derive(Debug, Deserialize)]
pub struct RuntimeSubmit {
    /// The runtime.
    pub runtime_id: Namespace,
    /// The transaction's bytes, as signed.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `runtime/client.QueryRequest`.
#[derive(Debug, Deserialize)]
pub struct RuntimeQuery {
    /// The runtime.
    pub runtime_id: Namespace,
    /// The round ([`ROUND_LATEST`] for the latest).
    pub round: u64,
    /// The query method.
    pub method: String,
    /// The arguments' CBOR (empty for none).
    #[serde(default, with = "serde_bytes")]
    pub args: Vec<u8>,
}

/// Oasis's `RoundLatest` of the runtime client.
pub const ROUND_LATEST: u64 = u64::MAX;

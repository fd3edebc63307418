//! Why a call failed, and the JSON-RPC error codes the API answers with.
//!
//! Every code the API sends is one of the named constants here; the
//! handlers never write a number.

use std::time::Duration;

use atoll_crypto::Hash;
use atoll_state::TxError;
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

/// Code of a refused transaction (`data: {module, code, message}`).
pub const CODE_TX_REFUSED: i32 = -32000;
/// Code of something not found.
pub const CODE_NOT_FOUND: i32 = -32004;
/// Code of a wait that timed out (jsonrpsee answers an oversized response
/// with the same code).
pub const CODE_TIMEOUT: i32 = -32008;
/// Code of a batch with more calls than allowed (answered by jsonrpsee).
pub const CODE_BATCH_TOO_LARGE: i32 = jsonrpsee::types::error::TOO_BIG_BATCH_REQUEST_CODE;
/// Code of bad parameters (JSON-RPC 2.0).
pub const CODE_INVALID_PARAMS: i32 = jsonrpsee::types::error::INVALID_PARAMS_CODE;
/// Code of a call the node could not serve (JSON-RPC 2.0).
pub const CODE_INTERNAL: i32 = jsonrpsee::types::error::INTERNAL_ERROR_CODE;

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The node refused a transaction (deterministic, with module and code).
    #[error("{0}")]
    Tx(TxError),
    /// No such height, transaction or object.
    #[error("not found: {0}")]
    NotFound(String),
    /// Bad parameters.
    #[error("invalid parameters: {0}")]
    InvalidParams(String),
    /// The node could not serve the call.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ApiError> for ErrorObjectOwned {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Tx(t) => ErrorObjectOwned::owned(
                CODE_TX_REFUSED,
                format!("transaction refused: {t}"),
                Some(json!({ "module": t.module, "code": t.code, "message": t.message })),
            ),
            ApiError::NotFound(what) => {
                ErrorObjectOwned::owned(CODE_NOT_FOUND, format!("not found: {what}"), None::<()>)
            }
            ApiError::InvalidParams(why) => ErrorObjectOwned::owned(
                CODE_INVALID_PARAMS,
                format!("invalid params: {why}"),
                None::<()>,
            ),
            ApiError::Internal(why) => {
                ErrorObjectOwned::owned(CODE_INTERNAL, format!("internal error: {why}"), None::<()>)
            }
        }
    }
}

/// The answer to a submission whose wait for inclusion ran out.
pub(crate) fn wait_timed_out(hash: Hash, wait: Duration) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        CODE_TIMEOUT,
        format!("transaction {hash} was admitted but not included within {wait:?}"),
        Some(json!({ "hash": hash })),
    )
}

//! Decoding what callers send: transactions (base64 or `0x` hex), hashes,
//! and bulk submissions answered entry by entry.

use atoll_crypto::Hash;
use base64::Engine as _;
use jsonrpsee::types::ErrorObjectOwned;

use crate::api::{BulkOutcome, ErrorBody};
use crate::error::ApiError;
use crate::runtime::Submitted;

/// Most transactions in one `consensus_submitTxs` or `runtime_submitTxs`
/// call.
pub const MAX_BULK_TXS: usize = 10_000;

/// A transaction's bytes from base64, or hex with a `0x` prefix.
pub(crate) fn decode_tx(s: &str) -> Result<Vec<u8>, ApiError> {
    let bytes = match s.strip_prefix("0x") {
        Some(h) => hex::decode(h)
            .map_err(|_| ApiError::InvalidParams("transaction: invalid hex".into()))?,
        None => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| {
                ApiError::InvalidParams("transaction: expected base64 or 0x-prefixed hex".into())
            })?,
    };
    Ok(bytes)
}

/// A hash from hex (`0x` optional).
pub(crate) fn parse_hash(s: &str) -> Result<Hash, ApiError> {
    s.strip_prefix("0x")
        .unwrap_or(s)
        .parse()
        .map_err(|e| ApiError::InvalidParams(format!("hash: {e}")))
}

/// A bulk submission: each entry decoded (undecodable ones are answered in
/// place; the rest are submitted together).
pub(crate) struct Bulk {
    decoded: Vec<Result<Vec<u8>, ApiError>>,
}

impl Bulk {
    /// Decodes every entry; more than [`MAX_BULK_TXS`] is refused whole.
    pub(crate) fn decode(txs: &[String]) -> Result<Self, ErrorObjectOwned> {
        if txs.len() > MAX_BULK_TXS {
            return Err(ErrorObjectOwned::from(ApiError::InvalidParams(format!(
                "{} transactions; at most {MAX_BULK_TXS} per call",
                txs.len()
            ))));
        }
        Ok(Self {
            decoded: txs.iter().map(|t| decode_tx(t)).collect(),
        })
    }

    /// The decodable transactions, in order.
    pub(crate) fn raws(&self) -> Vec<Vec<u8>> {
        self.decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect()
    }

    /// Per entry, in order: its outcome, or why it did not decode.
    pub(crate) fn answer<T: Into<Hash>>(
        self,
        outcomes: Vec<Result<T, ApiError>>,
    ) -> Vec<BulkOutcome> {
        let mut outcomes = outcomes.into_iter().map(|r| r.map(Into::into));
        self.decoded
            .into_iter()
            .map(|d| {
                outcome(match d {
                    Ok(_) => outcomes
                        .next()
                        .unwrap_or_else(|| Err(ApiError::Internal("missing outcome".into()))),
                    Err(e) => Err(e),
                })
            })
            .collect()
    }
}

impl From<Submitted> for Hash {
    fn from(s: Submitted) -> Self {
        s.hash
    }
}

/// One bulk submission's outcome: `{hash}` or `{error}`.
fn outcome(r: Result<Hash, ApiError>) -> BulkOutcome {
    match r {
        Ok(hash) => BulkOutcome::Accepted { hash },
        Err(e) => {
            let obj = ErrorObjectOwned::from(e);
            BulkOutcome::Refused {
                error: ErrorBody {
                    code: obj.code(),
                    message: obj.message().to_owned(),
                    data: obj.data().and_then(|d| serde_json::from_str(d.get()).ok()),
                },
            }
        }
    }
}

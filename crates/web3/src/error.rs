//! Ethereum-style JSON-RPC errors, and how runtime errors map to them.
//!
//! | case | code | message |
//! |---|---|---|
//! | bad parameters | -32602 | `invalid argument: ...` |
//! | a refused transaction, a missing block for a state query, other server errors | -32000 | geth's wording (`nonce too low`, `header not found`, ...) |
//! | a reverted call (`eth_call`, `eth_estimateGas`) | 3 | `execution reverted[: reason]`, `data` = the revert data |
//! | a range or count above the configured limit | -32005 | `... limit exceeded ...` |
//! | the node failed | -32603 | `internal error: ...` |
//!
//! Refused transactions also carry `data: {module, code, message}`, the
//! runtime's own error.

use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

use crate::types::data_hex;

/// Generic server error (geth's code for refused transactions and more).
pub const CODE_SERVER: i32 = -32000;
/// A reverted call.
pub const CODE_REVERT: i32 = 3;
/// Bad parameters.
pub const CODE_INVALID_PARAMS: i32 = -32602;
/// A limit was exceeded.
pub const CODE_LIMIT: i32 = -32005;
/// The node failed.
pub const CODE_INTERNAL: i32 = -32603;

/// The runtime's own error codes the gateway words in geth's terms, named
/// per module (`(module, code)` as the runtime reports them).
pub mod runtime_codes {
    /// `core`.
    pub const CORE: &str = "core";
    /// `core`: the transaction is malformed (a signature or sender problem
    /// when its message says so).
    pub const CORE_MALFORMED_TRANSACTION: u32 = 1;
    /// `core`: wrong nonce.
    pub const CORE_INVALID_NONCE: u32 = 4;
    /// `core`: the fee payer cannot pay.
    pub const CORE_INSUFFICIENT_FEE_BALANCE: u32 = 5;
    /// `core`: the gas limit exceeds what a batch allows.
    pub const CORE_BATCH_GAS_LIMIT: u32 = 7;
    /// `core`: gas arithmetic overflowed.
    pub const CORE_GAS_OVERFLOW: u32 = 11;
    /// `core`: out of gas (below the intrinsic gas).
    pub const CORE_OUT_OF_GAS: u32 = 12;
    /// `core`: gas price below the minimum.
    pub const CORE_GAS_PRICE_TOO_LOW: u32 = 20;
    /// `core`: transaction too large.
    pub const CORE_OVERSIZED_TRANSACTION: u32 = 23;
    /// `accounts`.
    pub const ACCOUNTS: &str = "accounts";
    /// `accounts`: insufficient balance.
    pub const ACCOUNTS_INSUFFICIENT_BALANCE: u32 = 2;
    /// `evm`.
    pub const EVM: &str = "evm";
    /// `evm`: gas limit below the intrinsic gas.
    pub const EVM_GAS_LIMIT_TOO_LOW: u32 = 5;
    /// `evm`: the sender cannot pay gas × price + value.
    pub const EVM_INSUFFICIENT_BALANCE: u32 = 6;
    /// `evm`: wrong chain id.
    pub const EVM_INVALID_CHAIN_ID: u32 = 9;
    /// The node's transaction pool.
    pub const TXPOOL: &str = "txpool";
    /// Pool: already pooled.
    pub const TXPOOL_DUPLICATE: u32 = 1;
    /// Pool: nonce below the account's.
    pub const TXPOOL_NONCE_TOO_LOW: u32 = 2;
    /// Pool: replacement underpriced.
    pub const TXPOOL_UNDERPRICED: u32 = 3;
    /// Pool: the sender has too many pooled.
    pub const TXPOOL_SENDER_FULL: u32 = 4;
    /// Pool: full.
    pub const TXPOOL_FULL: u32 = 5;
    /// Pool: transaction too large.
    pub const TXPOOL_TOO_LARGE: u32 = 6;
}

/// geth's refusal of a pre-EIP-155 transaction (no chain id, so valid on
/// every chain) sent over RPC while `rpc.allow-unprotected-txs` is off.
pub const UNPROTECTED_TX: &str = "only replay-protected (EIP-155) transactions allowed over RPC";

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Web3Error {
    /// Bad parameters.
    #[error("invalid argument: {0}")]
    InvalidParams(String),
    /// A server-side refusal, in geth's words; optionally the runtime's
    /// error as data.
    #[error("{message}")]
    Server {
        /// The message.
        message: String,
        /// The runtime's `(module, code, message)`, if it refused.
        runtime: Option<(String, u32, String)>,
    },
    /// The call reverted.
    #[error("execution reverted")]
    Reverted {
        /// The decoded reason, if any.
        reason: Option<String>,
        /// The revert data, if any.
        data: Option<Vec<u8>>,
    },
    /// A limit was exceeded.
    #[error("{0}")]
    Limit(String),
    /// The node failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Web3Error {
    /// A server error with only a message.
    pub fn server(message: impl Into<String>) -> Self {
        Self::Server {
            message: message.into(),
            runtime: None,
        }
    }
}

impl From<Web3Error> for ErrorObjectOwned {
    fn from(e: Web3Error) -> Self {
        match e {
            Web3Error::InvalidParams(why) => ErrorObjectOwned::owned(
                CODE_INVALID_PARAMS,
                format!("invalid argument: {why}"),
                None::<()>,
            ),
            Web3Error::Server { message, runtime } => ErrorObjectOwned::owned(
                CODE_SERVER,
                message,
                runtime.map(|(module, code, message)| {
                    json!({ "module": module, "code": code, "message": message })
                }),
            ),
            Web3Error::Reverted { reason, data } => ErrorObjectOwned::owned(
                CODE_REVERT,
                match reason {
                    Some(r) if !r.is_empty() => format!("execution reverted: {r}"),
                    _ => "execution reverted".to_owned(),
                },
                data.map(|d| data_hex(&d)),
            ),
            Web3Error::Limit(why) => ErrorObjectOwned::owned(CODE_LIMIT, why, None::<()>),
            Web3Error::Internal(why) => {
                ErrorObjectOwned::owned(CODE_INTERNAL, format!("internal error: {why}"), None::<()>)
            }
        }
    }
}

impl From<crate::index::IndexError> for Web3Error {
    fn from(e: crate::index::IndexError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// The selector of Solidity's `Error(string)`.
const ERROR_STRING_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];

/// The reason string of ABI-encoded `Error(string)` revert data.
pub fn decode_error_string(data: &[u8]) -> Option<String> {
    let body = data.strip_prefix(&ERROR_STRING_SELECTOR)?;
    // The 32-byte big-endian word at byte `at`, if it fits a `usize`.
    let word = |at: usize| -> Option<usize> {
        let w = body.get(at..at.checked_add(32)?)?;
        usize::try_from(alloy_primitives::U256::try_from_be_slice(w)?).ok()
    };
    let offset = word(0)?;
    let len_at = offset.checked_add(32)?;
    let len = word(offset)?;
    let s = body.get(len_at..len_at.checked_add(len)?)?;
    String::from_utf8(s.to_vec()).ok()
}

/// The revert in a runtime error message: `execution reverted`, then
/// optionally `: <reason>`, then optionally ` (data 0x<hex>)`. `None` when
/// the message is not a revert.
pub fn parse_revert(message: &str) -> Option<Web3Error> {
    let rest = message.strip_prefix("execution reverted")?;
    let (rest, data) = match rest.rfind(" (data 0x") {
        Some(at) if rest.ends_with(')') => {
            let hex_part = rest.get(at + " (data 0x".len()..rest.len() - 1)?;
            match hex::decode(hex_part) {
                Ok(d) => (rest.get(..at)?, Some(d)),
                Err(_) => (rest, None),
            }
        }
        _ => (rest, None),
    };
    let reason = match rest.strip_prefix(": ") {
        Some(r) if !r.is_empty() => Some(r.to_owned()),
        _ if rest.is_empty() => None,
        // Something else after the prefix: not the agreed form; keep it.
        _ => Some(rest.trim_start_matches(':').trim().to_owned()).filter(|r| !r.is_empty()),
    };
    let reason = reason.or_else(|| data.as_deref().and_then(decode_error_string));
    Some(Web3Error::Reverted { reason, data })
}

/// How a refused transaction's nonce compares with its sender's account
/// nonce (to tell "too low" from "too high").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceOrder {
    /// Below the account nonce.
    Low,
    /// Above it (or equal: then it is the pool that refused).
    High,
    /// Not known.
    Unknown,
}

/// What a refused Ethereum transaction looked like, to word the error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusalContext {
    /// Its nonce against the account's.
    pub nonce: NonceOrder,
    /// Whether it is an EIP-1559 transaction whose fee cap is below the base
    /// fee.
    pub fee_cap_below_base: bool,
}

/// A transaction the runtime (or the pool) refused, in geth's words. The
/// runtime's `(module, code, message)` rides along as data.
pub fn refusal(module: &str, code: u32, message: &str, ctx: RefusalContext) -> Web3Error {
    let lower = message.to_ascii_lowercase();
    use runtime_codes::{
        ACCOUNTS, ACCOUNTS_INSUFFICIENT_BALANCE, CORE, CORE_BATCH_GAS_LIMIT, CORE_GAS_OVERFLOW,
        CORE_GAS_PRICE_TOO_LOW, CORE_INSUFFICIENT_FEE_BALANCE, CORE_INVALID_NONCE,
        CORE_MALFORMED_TRANSACTION, CORE_OUT_OF_GAS, CORE_OVERSIZED_TRANSACTION, EVM,
        EVM_GAS_LIMIT_TOO_LOW, EVM_INSUFFICIENT_BALANCE, EVM_INVALID_CHAIN_ID, TXPOOL,
        TXPOOL_DUPLICATE, TXPOOL_FULL, TXPOOL_NONCE_TOO_LOW, TXPOOL_SENDER_FULL, TXPOOL_TOO_LARGE,
        TXPOOL_UNDERPRICED,
    };
    let geth: String = match (module, code) {
        (CORE, CORE_INVALID_NONCE) | (TXPOOL, TXPOOL_NONCE_TOO_LOW) => match ctx.nonce {
            NonceOrder::Low => "nonce too low".into(),
            NonceOrder::High => "nonce too high".into(),
            NonceOrder::Unknown => {
                if lower.contains("too high") || lower.contains("future") {
                    "nonce too high".into()
                } else {
                    "nonce too low".into()
                }
            }
        },
        (CORE, CORE_INSUFFICIENT_FEE_BALANCE) | (ACCOUNTS, ACCOUNTS_INSUFFICIENT_BALANCE) => {
            "insufficient funds for gas * price + value".into()
        }
        (CORE, CORE_BATCH_GAS_LIMIT | CORE_GAS_OVERFLOW) => "exceeds block gas limit".into(),
        (CORE, CORE_OUT_OF_GAS) | (EVM, EVM_GAS_LIMIT_TOO_LOW) => "intrinsic gas too low".into(),
        (EVM, EVM_INSUFFICIENT_BALANCE) => "insufficient funds for gas * price + value".into(),
        (EVM, EVM_INVALID_CHAIN_ID) => "invalid chain id".into(),
        (CORE, CORE_GAS_PRICE_TOO_LOW) => {
            if ctx.fee_cap_below_base {
                "max fee per gas less than block base fee".into()
            } else {
                "transaction underpriced".into()
            }
        }
        (CORE, CORE_OVERSIZED_TRANSACTION) | (TXPOOL, TXPOOL_TOO_LARGE) => "oversized data".into(),
        (CORE, CORE_MALFORMED_TRANSACTION)
            if lower.contains("signature") || lower.contains("sender") =>
        {
            "invalid sender".into()
        }
        (TXPOOL, TXPOOL_DUPLICATE) => "already known".into(),
        (TXPOOL, TXPOOL_UNDERPRICED) => "replacement transaction underpriced".into(),
        (TXPOOL, TXPOOL_SENDER_FULL | TXPOOL_FULL) => "txpool is full".into(),
        _ => {
            if lower.contains("chain id") {
                "invalid chain id".into()
            } else if lower.contains("intrinsic gas") {
                "intrinsic gas too low".into()
            } else if lower.contains("insufficient") && lower.contains("balance") {
                "insufficient funds for gas * price + value".into()
            } else if lower.contains("signature") || lower.contains("sender") {
                "invalid sender".into()
            } else if lower.contains("nonce") {
                match ctx.nonce {
                    NonceOrder::High => "nonce too high".into(),
                    _ => "nonce too low".into(),
                }
            } else {
                format!("transaction refused: {message}")
            }
        }
    };
    Web3Error::Server {
        message: geth,
        runtime: Some((module.to_owned(), code, message.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Error(string)` data: selector, offset word, length word, the bytes.
    fn revert_data(offset: [u8; 32], len: [u8; 32], tail: &[u8]) -> Vec<u8> {
        let mut d = ERROR_STRING_SELECTOR.to_vec();
        d.extend_from_slice(&offset);
        d.extend_from_slice(&len);
        d.extend_from_slice(tail);
        d
    }

    fn word(v: u64) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&v.to_be_bytes());
        w
    }

    #[test]
    fn error_strings_decode_strictly() {
        let ok = revert_data(word(32), word(2), b"hi\0\0");
        assert_eq!(decode_error_string(&ok).as_deref(), Some("hi"));
        // An empty reason.
        let empty = revert_data(word(32), word(0), &[]);
        assert_eq!(decode_error_string(&empty).as_deref(), Some(""));
        // The length word may sit further on (a hostile but valid offset).
        let mut far = ERROR_STRING_SELECTOR.to_vec();
        far.extend_from_slice(&word(64));
        far.extend_from_slice(&[0xaa; 32]);
        far.extend_from_slice(&word(1));
        far.push(b'x');
        assert_eq!(decode_error_string(&far).as_deref(), Some("x"));
        // Refused: a wrong selector, words past the end, words wider than
        // 64 bits, a length past the end, bytes that are not UTF-8.
        let mut other = ok.clone();
        other[0] = 0;
        assert_eq!(decode_error_string(&other), None);
        assert_eq!(decode_error_string(&ok[..4 + 31]), None);
        assert_eq!(
            decode_error_string(&revert_data(word(64), word(2), b"hi")),
            None
        );
        let mut wide = word(32);
        wide[23] = 1;
        assert_eq!(
            decode_error_string(&revert_data(wide, word(2), b"hi")),
            None
        );
        assert_eq!(
            decode_error_string(&revert_data(word(32), wide, b"hi")),
            None
        );
        assert_eq!(
            decode_error_string(&revert_data(word(32), word(u64::MAX), b"hi")),
            None
        );
        assert_eq!(
            decode_error_string(&revert_data(word(u64::MAX), word(2), b"hi")),
            None
        );
        assert_eq!(
            decode_error_string(&revert_data(word(32), word(3), b"hi")),
            None
        );
        assert_eq!(
            decode_error_string(&revert_data(word(32), word(2), &[0xff, 0xfe])),
            None
        );
    }
}

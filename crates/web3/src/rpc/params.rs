//! geth's positional parameters, checked before a method runs.
//!
//! jsonrpsee's generated decoding is lenient where geth is not: it accepts
//! named (object) parameters, ignores extra arguments, and words every
//! failure "Invalid params". geth takes only an array (or nothing), refuses
//! more arguments than a method declares, and names the position that
//! failed. [`METHODS`] declares, once, each method's parameters (required or
//! optional, and the type each position must decode as); [`check`] is the
//! pure decision over one call's parameters, and [`GethParams`] is the RPC
//! middleware that answers a call that fails it with the
//! [`Web3Error::InvalidParams`] error geth gives (-32602, `invalid argument:
//! ...`) before the method's own decoding sees it. A method not in the table
//! (`eth_unsubscribe`, handled by jsonrpsee) and an unknown method pass
//! through unchanged.
//!
//! The types in the table are the types of the methods' arguments in
//! [`super::api`]: a call that passes the check decodes there too.

use std::future::Future;

use futures::future::Either;
use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::{ErrorObjectOwned, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Web3Error;
use crate::types::{
    BlockId, BlockNumber, Bytes, CallRequest, FilterRequest, H160, H256, Qty, U256,
};

/// Whether a value decodes as the type a position takes; the decoder's
/// message if not.
pub(crate) type Check = fn(Value) -> Result<(), String>;

/// Decodes `v` as a `T` (as the method will), keeping only the verdict.
fn is<T: DeserializeOwned>(v: Value) -> Result<(), String> {
    serde_json::from_value::<T>(v)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Any value (a position the method reads itself, or ignores).
fn anything(_: Value) -> Result<(), String> {
    Ok(())
}

/// One parameter position.
#[derive(Clone, Copy)]
pub(crate) struct Param {
    /// Whether it must be given (and not `null`).
    required: bool,
    /// What it must decode as.
    check: Check,
}

/// A required position.
const fn req(check: Check) -> Param {
    Param {
        required: true,
        check,
    }
}

/// An optional position (absent or `null`: not given).
const fn opt(check: Check) -> Param {
    Param {
        required: false,
        check,
    }
}

/// What a method takes.
#[derive(Clone, Copy)]
pub(crate) enum Arity {
    /// These positions, and no more.
    Params(&'static [Param]),
    /// Any number of arguments, none read (still an array or nothing).
    Any,
}

/// No arguments.
const NONE: Arity = Arity::Params(&[]);

/// Every method served, with its parameters, in the order of the traits in
/// [`super::api`].
pub(crate) const METHODS: &[(&str, Arity)] = &[
    // web3_, net_
    ("web3_clientVersion", NONE),
    ("web3_sha3", Arity::Params(&[req(is::<Bytes>)])),
    ("net_version", NONE),
    ("net_listening", Arity::Any),
    ("net_peerCount", Arity::Any),
    // blocks
    ("eth_chainId", NONE),
    ("eth_blockNumber", NONE),
    ("eth_syncing", NONE),
    ("eth_accounts", Arity::Any),
    ("eth_mining", Arity::Any),
    ("eth_hashrate", Arity::Any),
    (
        "eth_getBlockByNumber",
        Arity::Params(&[req(is::<BlockNumber>), opt(is::<bool>)]),
    ),
    (
        "eth_getBlockByHash",
        Arity::Params(&[req(is::<H256>), opt(is::<bool>)]),
    ),
    (
        "eth_getBlockTransactionCountByNumber",
        Arity::Params(&[req(is::<BlockNumber>)]),
    ),
    (
        "eth_getBlockTransactionCountByHash",
        Arity::Params(&[req(is::<H256>)]),
    ),
    ("eth_getUncleCountByBlockNumber", Arity::Any),
    ("eth_getUncleCountByBlockHash", Arity::Any),
    ("eth_getBlockReceipts", Arity::Params(&[req(is::<BlockId>)])),
    // state
    (
        "eth_getBalance",
        Arity::Params(&[req(is::<H160>), opt(is::<BlockId>)]),
    ),
    (
        "eth_getTransactionCount",
        Arity::Params(&[req(is::<H160>), opt(is::<BlockId>)]),
    ),
    (
        "eth_getCode",
        Arity::Params(&[req(is::<H160>), opt(is::<BlockId>)]),
    ),
    (
        "eth_getStorageAt",
        Arity::Params(&[req(is::<H160>), req(is::<U256>), opt(is::<BlockId>)]),
    ),
    (
        "eth_call",
        Arity::Params(&[req(is::<CallRequest>), opt(is::<BlockId>), opt(anything)]),
    ),
    (
        "eth_estimateGas",
        Arity::Params(&[req(is::<CallRequest>), opt(is::<BlockId>), opt(anything)]),
    ),
    // transactions
    (
        "eth_sendRawTransaction",
        Arity::Params(&[req(is::<String>)]),
    ),
    (
        "eth_getTransactionByHash",
        Arity::Params(&[req(is::<H256>)]),
    ),
    (
        "eth_getTransactionReceipt",
        Arity::Params(&[req(is::<H256>)]),
    ),
    (
        "eth_getTransactionByBlockNumberAndIndex",
        Arity::Params(&[req(is::<BlockNumber>), req(is::<Qty>)]),
    ),
    (
        "eth_getTransactionByBlockHashAndIndex",
        Arity::Params(&[req(is::<H256>), req(is::<Qty>)]),
    ),
    // fees
    ("eth_gasPrice", NONE),
    ("eth_maxPriorityFeePerGas", NONE),
    (
        "eth_feeHistory",
        Arity::Params(&[req(is::<Qty>), req(is::<BlockNumber>), opt(is::<Vec<f64>>)]),
    ),
    // filters
    ("eth_getLogs", Arity::Params(&[req(is::<FilterRequest>)])),
    ("eth_newFilter", Arity::Params(&[req(is::<FilterRequest>)])),
    ("eth_newBlockFilter", NONE),
    ("eth_newPendingTransactionFilter", Arity::Any),
    ("eth_uninstallFilter", Arity::Params(&[req(is::<String>)])),
    ("eth_getFilterChanges", Arity::Params(&[req(is::<String>)])),
    ("eth_getFilterLogs", Arity::Params(&[req(is::<String>)])),
    // subscriptions: the second argument's type depends on the first, so
    // the method reads it.
    (
        "eth_subscribe",
        Arity::Params(&[req(is::<String>), opt(anything)]),
    ),
];

/// The subscription's unsubscribe method: jsonrpsee reads its parameters
/// (a subscription id), so it has no entry in [`METHODS`].
pub(crate) const UNSUBSCRIBE: &str = "eth_unsubscribe";

/// What `method` takes (`None`: not in the table).
pub(crate) fn arity(method: &str) -> Option<Arity> {
    METHODS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, a)| *a)
}

fn invalid(why: impl Into<String>) -> Web3Error {
    Web3Error::InvalidParams(why.into())
}

/// The arguments of a call, as geth reads them: an array, or none (absent
/// or `null`); anything else is refused.
pub(crate) fn positional(raw: Option<&str>) -> Result<Vec<Value>, Web3Error> {
    match raw {
        None => Ok(Vec::new()),
        Some(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(Value::Null) => Ok(Vec::new()),
            Ok(_) => Err(invalid("parameters must be an array")),
            Err(e) => Err(invalid(e.to_string())),
        },
    }
}

/// Whether the raw parameters `raw` of a call suit `arity`: an array (or
/// none) of at most as many arguments as declared, each required one given
/// and not `null`, each given one decoding as its type. The first failure,
/// in geth's words (`too many arguments, want at most N, got M`, `I:
/// missing value for required argument`, `I: <decoder's message>`).
pub(crate) fn check(arity: Arity, raw: Option<&str>) -> Result<(), Web3Error> {
    let values = positional(raw)?;
    let Arity::Params(params) = arity else {
        return Ok(());
    };
    if values.len() > params.len() {
        return Err(invalid(format!(
            "too many arguments, want at most {}, got {}",
            params.len(),
            values.len()
        )));
    }
    for (i, p) in params.iter().enumerate() {
        match values.get(i) {
            None | Some(Value::Null) => {
                if p.required {
                    return Err(invalid(format!("{i}: missing value for required argument")));
                }
            }
            Some(v) => (p.check)(v.clone()).map_err(|e| invalid(format!("{i}: {e}")))?,
        }
    }
    Ok(())
}

/// The RPC middleware applying [`check`] to every call of a method in
/// [`METHODS`]. It sits inside [`crate::batch::ConcurrentBatches`], which
/// hands it each call of a batch one by one; its own `batch` only passes a
/// batch on.
#[derive(Clone, Debug)]
pub struct GethParams<S> {
    service: S,
}

impl<S> GethParams<S> {
    /// Wraps `service`.
    pub const fn new(service: S) -> Self {
        Self { service }
    }
}

impl<S> RpcServiceT for GethParams<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Send
        + Sync,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let verdict = match arity(request.method_name()) {
            Some(a) => check(a, request.params().as_str()),
            None => Ok(()),
        };
        match verdict {
            Ok(()) => Either::Left(self.service.call(request)),
            Err(e) => Either::Right(std::future::ready(MethodResponse::error(
                request.id(),
                ErrorObjectOwned::from(e),
            ))),
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.batch(batch)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(method: &str, raw: Option<&str>) -> Option<String> {
        let a = arity(method)?;
        check(a, raw).err().map(|e| e.to_string())
    }

    #[test]
    fn arguments_are_positional_and_counted() {
        assert_eq!(msg("eth_chainId", Some("[]")), None);
        assert_eq!(msg("eth_chainId", None), None);
        assert_eq!(msg("eth_chainId", Some("null")), None);
        assert_eq!(
            msg("eth_chainId", Some("[1]")).as_deref(),
            Some("invalid argument: too many arguments, want at most 0, got 1")
        );
        assert_eq!(
            msg("eth_getBalance", Some(r#"{"address":"0x00"}"#)).as_deref(),
            Some("invalid argument: parameters must be an array")
        );
        // Methods that read no argument take any number, still as an array.
        assert_eq!(msg("net_listening", Some("[1, 2, 3]")), None);
        assert_eq!(
            msg("net_listening", Some(r#"{"a":1}"#)).as_deref(),
            Some("invalid argument: parameters must be an array")
        );
    }

    #[test]
    fn positions_are_named_in_errors() {
        let addr = format!("\"0x{}\"", "11".repeat(20));
        assert_eq!(msg("eth_getBalance", Some(&format!("[{addr}]"))), None);
        assert_eq!(
            msg("eth_getBalance", Some(&format!("[{addr}, null]"))),
            None
        );
        assert_eq!(
            msg("eth_getBalance", Some("[]")).as_deref(),
            Some("invalid argument: 0: missing value for required argument")
        );
        assert_eq!(
            msg("eth_getBalance", Some("[null, \"latest\"]")).as_deref(),
            Some("invalid argument: 0: missing value for required argument")
        );
        assert_eq!(
            msg("eth_getBalance", Some(r#"["0x1234"]"#)).as_deref(),
            Some("invalid argument: 0: an address must be 20 bytes: \"0x1234\"")
        );
        assert_eq!(
            msg("eth_getBlockByNumber", Some(r#"["tomorrow", false]"#)).as_deref(),
            Some("invalid argument: 0: invalid block number or tag \"tomorrow\"")
        );
        assert_eq!(
            msg("eth_getBlockByNumber", Some(r#"["latest", "yes"]"#)).as_deref(),
            Some("invalid argument: 1: invalid type: string \"yes\", expected a boolean")
        );
        // An ignored third argument of eth_call is any value.
        assert_eq!(
            msg("eth_call", Some(r#"[{}, "latest", {"0x00": 1}]"#)),
            None
        );
        assert_eq!(
            msg("eth_call", Some(r#"[{}, "latest", {}, 4]"#)).as_deref(),
            Some("invalid argument: too many arguments, want at most 3, got 4")
        );
    }

    #[test]
    fn unknown_methods_pass() {
        assert!(arity(UNSUBSCRIBE).is_none());
        assert!(arity("eth_nonexistent").is_none());
    }
}

//! The module interface.
//!
//! A module is a named unit of runtime logic with its own state prefix,
//! parameters, calls, queries, events, message-result handlers and block
//! hooks. The trait is object safe, so a runtime is a list of
//! `Box<dyn Module>`; the dispatcher routes each `"module.Method"` to the one
//! module that declared it.

use atoll_consensus_types::roothash::MessageResult;
use atoll_types::cbor::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::{BatchContext, Context, QueryContext};
use crate::error::{Error, FatalError};
use crate::modules::core::{CoreError, Parameters};
use crate::signers::SignerCache;
use crate::state::Store;
use crate::types::Transaction;

/// What a module sees when it decodes a transaction of its own scheme
/// ([`Module::decode_tx`]).
pub struct DecodeContext<'a> {
    /// The round the transaction is checked or executed in.
    pub batch: &'a BatchContext,
    /// The state (read-only), for the module's parameters.
    pub store: &'a dyn Store,
    /// `core`'s parameters.
    pub params: &'a Parameters,
    /// Signers recovered earlier, by a digest of the bytes they were
    /// recovered from.
    pub signers: &'a SignerCache,
}

/// What a method name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MethodKind {
    /// A transaction call (`"accounts.Transfer"`).
    Call,
    /// A read-only query (`"accounts.Balances"`).
    Query,
    /// A handler for the result of a consensus message
    /// (`"consensus.WithdrawIntoRuntime"`).
    MessageResult,
}

/// One method a module declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodInfo {
    /// The full name, `"module.Method"`.
    pub name: &'static str,
    /// Its kind.
    pub kind: MethodKind,
}

impl MethodInfo {
    /// A call.
    pub const fn call(name: &'static str) -> Self {
        Self {
            name,
            kind: MethodKind::Call,
        }
    }

    /// A query.
    pub const fn query(name: &'static str) -> Self {
        Self {
            name,
            kind: MethodKind::Query,
        }
    }

    /// A message-result handler.
    pub const fn message_result(name: &'static str) -> Self {
        Self {
            name,
            kind: MethodKind::MessageResult,
        }
    }
}

/// A runtime module. Every method has a default that does nothing (or
/// refuses an unknown method), so a module implements only what it uses.
pub trait Module: Send + Sync {
    /// The module's name: its state prefix and its methods' prefix.
    fn name(&self) -> &'static str;

    /// The calls, queries and message-result handlers it serves.
    fn methods(&self) -> Vec<MethodInfo> {
        Vec::new()
    }

    /// Initialises the module's state (parameters first) from its genesis
    /// value, or from its defaults when the genesis has none.
    fn init_genesis(&self, store: &mut dyn Store, genesis: Option<&Value>) -> Result<(), Error> {
        let _ = (store, genesis);
        Ok(())
    }

    /// Decodes a transaction that arrived as `UnverifiedTransaction(body,
    /// [AuthProof::Module(scheme)])`: `None` when the module does not own
    /// `scheme`; otherwise the transaction, whose signers the module has
    /// authenticated itself (the dispatcher checks no signature for it), or
    /// why it is refused (a client error, before any state changes).
    /// The first module that answers `Some` decides.
    fn decode_tx(
        &self,
        ctx: &DecodeContext<'_>,
        scheme: &str,
        body: &[u8],
    ) -> Option<Result<Transaction, Error>> {
        let _ = (ctx, scheme, body);
        None
    }

    /// Does the expensive, state-independent part of decoding a transaction
    /// of the module's `scheme` ahead of its batch, remembering recovered
    /// signers in `signers`; `false` when the module does not own `scheme`.
    /// May run on several threads at once; must never change an outcome.
    fn preverify_tx(&self, scheme: &str, body: &[u8], signers: &SignerCache) -> bool {
        let _ = (scheme, body, signers);
        false
    }

    /// Checks a transaction the module decoded (`decode_tx` of `scheme` on
    /// `body`) further for the pool: what it may spend beyond the fee the
    /// dispatcher checks (for Ethereum: gas limit × fee cap + value). Runs
    /// only in checks, after the nonce and fee checks, on the committed
    /// state; it only reads. The dispatcher has fetched each signer's nonce
    /// and the caller's balance of the fee's denomination beforehand
    /// ([`Runtime::check_batch`](crate::Runtime::check_batch)), so reading
    /// those costs no round trip to the host.
    fn check_decoded_tx(
        &self,
        store: &dyn Store,
        scheme: &str,
        body: &[u8],
        tx: &Transaction,
    ) -> Result<(), Error> {
        let _ = (store, scheme, body, tx);
        Ok(())
    }

    /// Runs a call the module declared.
    fn dispatch_call(
        &self,
        ctx: &mut Context<'_>,
        method: &str,
        body: Value,
    ) -> Result<Value, Error> {
        let _ = (ctx, body);
        Err(CoreError::InvalidMethod(method.to_owned()).into())
    }

    /// Answers a query the module declared.
    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        args: Value,
    ) -> Result<Value, Error> {
        let _ = (ctx, args);
        Err(CoreError::InvalidMethod(method.to_owned()).into())
    }

    /// Finishes an operation whose consensus message has a result.
    fn dispatch_message_result(
        &self,
        ctx: &mut Context<'_>,
        handler: &str,
        result: &MessageResult,
        payload: Value,
    ) -> Result<(), Error> {
        let _ = (ctx, result, payload);
        Err(CoreError::MessageHandlerMissing(handler.to_owned()).into())
    }

    /// Runs before the batch's transactions.
    fn begin_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }

    /// Runs after the batch's transactions.
    fn end_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let _ = ctx;
        Ok(())
    }
}

/// Decodes a call body or query argument; failure is `core.InvalidArgument`.
pub fn decode_body<T: DeserializeOwned>(body: Value) -> Result<T, Error> {
    atoll_types::cbor::from_value(body).map_err(crate::error::invalid_argument)
}

/// Encodes a result value.
pub fn encode_result<T: Serialize>(value: &T) -> Result<Value, Error> {
    atoll_types::cbor::to_value(value)
        .map_err(|e| FatalError::Invariant(format!("result does not encode: {e}")).into())
}

/// Decodes a module's genesis value, or its default when absent.
pub fn decode_genesis<T: DeserializeOwned + Default>(
    module: &str,
    genesis: Option<&Value>,
) -> Result<T, Error> {
    match genesis {
        None => Ok(T::default()),
        Some(v) => atoll_types::cbor::from_value(v.clone()).map_err(|e| {
            crate::error::invalid_argument(format!("{module} genesis does not decode: {e}"))
        }),
    }
}

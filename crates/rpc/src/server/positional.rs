//! Positional params, refused the way the API always refused them.
//!
//! The `#[rpc]` traits' generated decoding also takes named (object)
//! params and ignores trailing extra ones. The API took neither: every
//! method with params read a JSON array, and the methods in
//! [`Read::Whole`] decoded that array as one fixed-size tuple, so a wrong
//! count was an error. [`POSITIONAL`] says, once per method, how its params
//! were read; [`refusal`] is the pure decision and [`PositionalLayer`] the
//! `RpcServiceT` middleware that answers a refusal before the traits run.
//! Methods without params are not in the table: they ignored their params
//! and still do.

use std::future::Future;
use std::task::{Context, Poll};

use jsonrpsee::core::middleware::{
    Batch, BatchEntry, BatchEntryErr, Notification, ResponseFuture, RpcServiceT,
};
use jsonrpsee::server::ws::is_upgrade_request;
use jsonrpsee::server::{HttpRequest, MethodResponse};
use jsonrpsee::types::{ErrorObjectOwned, Params, Request};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::ApiError;

/// How a method reads its positional params.
#[derive(Clone, Copy)]
pub(crate) enum Read {
    /// One after the other, trailing optional ones may be left out and
    /// extra ones are ignored (jsonrpsee's `ParamsSequence`, as the
    /// generated code reads an array): only named params are refused.
    Sequence,
    /// The whole array as one tuple: exactly that many params, each of its
    /// type, refused in serde's words as before (the check decodes the
    /// array the way the handler did).
    Whole(fn(&Params<'_>) -> Result<(), ErrorObjectOwned>),
    /// A subscription read as a sequence whose refusal carries our message
    /// (`invalid params: ...`), not jsonrpsee's; over WebSocket only (over
    /// HTTP a subscription is refused before its params are read).
    Subscription(fn(&Params<'_>) -> Result<(), ErrorObjectOwned>),
}

/// Decodes the params as `T` (a tuple of the method's params) and drops
/// them: the check of [`Read::Whole`].
fn whole<T: for<'de> Deserialize<'de>>(p: &Params<'_>) -> Result<(), ErrorObjectOwned> {
    p.parse::<T>().map(drop)
}

/// The first param as a runtime id (a string), as `runtime_subscribeBlocks`
/// read it.
fn runtime_id(p: &Params<'_>) -> Result<(), ErrorObjectOwned> {
    p.sequence()
        .next::<String>()
        .map(drop)
        .map_err(|e| ApiError::InvalidParams(e.message().to_owned()).into())
}

/// Every method with params, and how it reads them.
pub(crate) const POSITIONAL: &[(&str, Read)] = &[
    ("consensus_submitTx", Read::Sequence),
    ("consensus_submitTxs", Read::Sequence),
    ("consensus_getBlock", Read::Sequence),
    ("consensus_getBlockResults", Read::Whole(whole::<(u64,)>)),
    ("consensus_getTransaction", Read::Whole(whole::<(String,)>)),
    ("consensus_query", Read::Sequence),
    ("consensus_getAccount", Read::Sequence),
    ("consensus_getValidators", Read::Sequence),
    ("runtime_submitTx", Read::Sequence),
    ("runtime_submitTxs", Read::Sequence),
    ("runtime_query", Read::Sequence),
    ("runtime_getBlock", Read::Sequence),
    (
        "runtime_getTransactions",
        Read::Whole(whole::<(String, u64)>),
    ),
    (
        "runtime_getTransaction",
        Read::Whole(whole::<(String, String)>),
    ),
    ("runtime_getEvents", Read::Whole(whole::<(String, u64)>)),
    ("runtime_getRound", Read::Whole(whole::<(String, u64)>)),
    ("runtime_getCheckpoints", Read::Whole(whole::<(String,)>)),
    (
        "runtime_getCheckpointChunk",
        Read::Whole(whole::<(String, u64, u32)>),
    ),
    ("runtime_subscribeBlocks", Read::Subscription(runtime_id)),
    ("consensus_getBlockDetails", Read::Whole(whole::<(u64,)>)),
    ("consensus_getBlockSigners", Read::Whole(whole::<(u64,)>)),
];

/// Marks a request that arrived over WebSocket (set by
/// [`WebSocketMarkLayer`], read by the params check).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OverWebSocket;

/// Why `method` must be refused with these params (`None`: let it run).
pub(crate) fn refusal(
    method: &str,
    params: &Params<'_>,
    websocket: bool,
) -> Option<ErrorObjectOwned> {
    let (_, read) = POSITIONAL.iter().find(|(name, _)| *name == method)?;
    let checked = match read {
        // A sequence refuses anything that is not an array in its own
        // words; the generated code would have taken an object by name.
        Read::Sequence if params.is_object() => params.sequence().next::<IgnoredAny>().map(drop),
        Read::Sequence => Ok(()),
        Read::Whole(check) => check(params),
        Read::Subscription(check) if websocket => check(params),
        Read::Subscription(_) => Ok(()),
    };
    checked.err()
}

/// The refusal of a call, if any.
fn refuse(req: &Request<'_>) -> Option<ErrorObjectOwned> {
    let params = req.params();
    let websocket = req.extensions().get::<OverWebSocket>().is_some();
    refusal(req.method_name(), &params, websocket)
}

/// The `RpcServiceT` middleware that applies [`refusal`] to every call,
/// alone or in a batch.
#[derive(Clone)]
pub(crate) struct PositionalLayer<S> {
    inner: S,
}

impl<S> PositionalLayer<S> {
    /// Wraps the server's method dispatch.
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S> RpcServiceT for PositionalLayer<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        match refuse(&req) {
            None => ResponseFuture::future(self.inner.call(req)),
            Some(e) => ResponseFuture::ready(
                MethodResponse::error(req.id, e).with_extensions(req.extensions),
            ),
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let entries = batch
            .into_iter()
            .map(|entry| match entry {
                Ok(BatchEntry::Call(req)) => match refuse(&req) {
                    None => Ok(BatchEntry::Call(req)),
                    Some(e) => Err(BatchEntryErr::new(req.id, e)),
                },
                other => other,
            })
            .collect();
        self.inner.batch(Batch::from(entries))
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// The HTTP middleware that marks WebSocket upgrades with
/// [`OverWebSocket`] (jsonrpsee copies the upgrade request's extensions into
/// every call on that connection).
#[derive(Clone, Copy, Default)]
pub(crate) struct WebSocketMarkLayer;

impl<S> tower::Layer<S> for WebSocketMarkLayer {
    type Service = WebSocketMark<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WebSocketMark { inner }
    }
}

/// The service [`WebSocketMarkLayer`] wraps around the server.
#[derive(Clone)]
pub(crate) struct WebSocketMark<S> {
    inner: S,
}

impl<S, B> tower::Service<HttpRequest<B>> for WebSocketMark<S>
where
    S: tower::Service<HttpRequest<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest<B>) -> Self::Future {
        if is_upgrade_request(&req) {
            req.extensions_mut().insert(OverWebSocket);
        }
        self.inner.call(req)
    }
}

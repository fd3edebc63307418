//! JSON-RPC batches whose calls run concurrently, within geth's limits.
//!
//! jsonrpsee runs the calls of a batch one after another. For
//! `eth_sendRawTransaction` that means one transaction of a batch in
//! flight at a time: each waits for the runtime's check before the next is
//! even decoded, and the gateway's submission queue never sees more than
//! one transaction per connection to check together. The JSON-RPC 2.0
//! specification lets a server process a batch "as a set of concurrent
//! tasks, processing them in any order"; [`ConcurrentBatches`] does that
//! (on the connection's task, so a batch still takes one connection's
//! share of the server, at most [`CONCURRENT_CALLS`] calls at a time) and
//! answers in the order of the request, as before.
//!
//! Limits, as geth's (`BatchRequestLimit`, `BatchResponseMaxSize`): a batch
//! of more calls than the limit runs none of them and is answered with one
//! error object, code -32600, message `batch too large`, carrying the id
//! of the first call. Once the answers of a batch reach the response size
//! limit, the answer that would pass it and every later one are replaced
//! by errors with code -32003, message `response too large` (each with its
//! call's id), and the calls not yet started are not run.

use std::future::Future;

use futures::StreamExt as _;
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::{ErrorObjectOwned, Id, Request};

/// One call of a batch: its answer (`None` for a notification).
type CallFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Option<MethodResponse>> + Send + 'a>>;

/// Most calls of one batch running at a time.
pub const CONCURRENT_CALLS: usize = 100;
/// geth's code for a batch with too many calls (invalid request).
pub const CODE_BATCH_TOO_LARGE: i32 = -32600;
/// geth's message for a batch with too many calls.
pub const MSG_BATCH_TOO_LARGE: &str = "batch too large";
/// geth's code for an answer past the batch response limit.
pub const CODE_RESPONSE_TOO_LARGE: i32 = -32003;
/// geth's message for an answer past the batch response limit.
pub const MSG_RESPONSE_TOO_LARGE: &str = "response too large";

/// The RPC middleware running a batch's calls concurrently (see the module
/// documentation).
#[derive(Clone, Debug)]
pub struct ConcurrentBatches<S> {
    service: S,
    /// Most calls in a batch.
    max_calls: usize,
    /// Largest batch response, in bytes.
    max_response_bytes: usize,
}

impl<S> ConcurrentBatches<S> {
    /// Wraps `service`: batches of at most `max_calls` calls, whose answers
    /// take at most `max_response_bytes` (see the module documentation).
    pub const fn new(service: S, max_calls: usize, max_response_bytes: usize) -> Self {
        Self {
            service,
            max_calls,
            max_response_bytes,
        }
    }
}

fn too_large(id: Id<'static>) -> MethodResponse {
    MethodResponse::error(
        id,
        ErrorObjectOwned::owned(CODE_RESPONSE_TOO_LARGE, MSG_RESPONSE_TOO_LARGE, None::<()>),
    )
}

impl<S> RpcServiceT for ConcurrentBatches<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            NotificationResponse = MethodResponse,
            BatchResponse = MethodResponse,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.call(request)
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let limit = self.max_response_bytes;
        let max_calls = self.max_calls;
        async move {
            if batch.len() > max_calls {
                // As geth: one error object, with the first call's id.
                let first = batch.iter().find_map(|e| match e {
                    Ok(BatchEntry::Call(req)) => Some(req.id.clone().into_owned()),
                    _ => None,
                });
                return MethodResponse::error(
                    first.unwrap_or(Id::Null),
                    ErrorObjectOwned::owned(CODE_BATCH_TOO_LARGE, MSG_BATCH_TOO_LARGE, None::<()>),
                );
            }
            // Each entry's id (None: a notification), for the answers
            // replaced once the response limit is reached.
            let ids: Vec<Option<Id<'static>>> = batch
                .iter()
                .map(|e| match e {
                    Ok(BatchEntry::Call(req)) => Some(req.id.clone().into_owned()),
                    Ok(BatchEntry::Notification(_)) => None,
                    Err(_) => Some(Id::Null),
                })
                .collect();
            // Boxed, so that the stream below is one concrete type (and
            // `Send`) whatever the entries' lifetimes.
            let calls: Vec<CallFuture<'a>> = batch
                .into_iter()
                .map(|entry| {
                    let service = service.clone();
                    let call: CallFuture<'a> = Box::pin(async move {
                        match entry {
                            Ok(BatchEntry::Call(req)) => Some(service.call(req).await),
                            Ok(BatchEntry::Notification(n)) => {
                                service.notification(n).await;
                                None
                            }
                            Err(err) => {
                                let (err, id) = err.into_parts();
                                Some(MethodResponse::error(id, err))
                            }
                        }
                    });
                    call
                })
                .collect();
            let mut answers = futures::stream::iter(calls).buffered(CONCURRENT_CALLS);
            let mut out = BatchResponseBuilder::new_with_limit(usize::MAX);
            let mut got_notification = false;
            let mut size = 1usize;
            let mut full = false;
            let mut done = 0usize;
            while let Some(answer) = answers.next().await {
                done += 1;
                let Some(answer) = answer else {
                    got_notification = true;
                    continue;
                };
                let id = ids.get(done - 1).cloned().flatten().unwrap_or(Id::Null);
                let answer = if size.saturating_add(answer.as_json().get().len() + 1) > limit {
                    full = true;
                    too_large(id)
                } else {
                    answer
                };
                size = size.saturating_add(answer.as_json().get().len() + 1);
                let _ = out.append(answer);
                if full {
                    break;
                }
            }
            // The limit was reached: the calls not yet answered are not run.
            drop(answers);
            for id in ids.into_iter().skip(done).flatten() {
                let _ = out.append(too_large(id));
            }
            if out.is_empty() && got_notification {
                MethodResponse::notification()
            } else {
                // An empty batch is an invalid request (jsonrpsee's answer).
                MethodResponse::from_batch(out.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

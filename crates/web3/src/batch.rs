//! JSON-RPC batches whose calls run concurrently.
//!
//! jsonrpsee runs the calls of a batch one after another. For
//! `eth_sendRawTransaction` that means one transaction of a batch in
//! flight at a time: each waits for the runtime's check before the next is
//! even decoded, and the gateway's submission queue never sees more than
//! one transaction per connection to check together. The JSON-RPC 2.0
//! specification lets a server process a batch "as a set of concurrent
//! tasks, processing them in any order"; [`ConcurrentBatches`] does that
//! (on the connection's task, so a batch still takes one connection's
//! share of the server) and answers in the order of the request, as
//! before.

use std::future::Future;

use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::server::{BatchResponseBuilder, MethodResponse};
use jsonrpsee::types::Request;

/// The RPC middleware running a batch's calls concurrently (see the module
/// documentation).
#[derive(Clone, Debug)]
pub struct ConcurrentBatches<S> {
    service: S,
    /// Largest batch response, in bytes.
    max_response_bytes: usize,
}

impl<S> ConcurrentBatches<S> {
    /// Wraps `service`; a batch answer larger than `max_response_bytes` is
    /// replaced by an error, as jsonrpsee's own batches are.
    pub const fn new(service: S, max_response_bytes: usize) -> Self {
        Self {
            service,
            max_response_bytes,
        }
    }
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
        async move {
            let calls = batch.into_iter().map(|entry| {
                let service = service.clone();
                async move {
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
                }
            });
            let answers = futures::future::join_all(calls).await;
            let got_notification = answers.iter().any(Option::is_none);
            let mut out = BatchResponseBuilder::new_with_limit(limit);
            for answer in answers.into_iter().flatten() {
                if let Err(too_big) = out.append(answer) {
                    return too_big;
                }
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

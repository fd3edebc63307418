//! Which JSON-RPC method a call sent: the facade runs a generated trait
//! method without knowing its wire name, so [`NoteMethod`], a layer of the
//! client's RPC middleware, notes the name of each request into the slot
//! the running call set up ([`noting`]), for the messages that name it.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use jsonrpsee::core::middleware::{Batch, Notification, Request, RpcServiceT};

tokio::task_local! {
    /// The slot of the call running on this task.
    static SENT: Arc<OnceLock<String>>;
}

/// Runs `call` with a fresh slot; the slot holds the name of the first
/// request `call` sent (empty until it sends one).
pub fn noting<F: Future>(call: F) -> (Arc<OnceLock<String>>, impl Future<Output = F::Output>) {
    let slot = Arc::new(OnceLock::new());
    (Arc::clone(&slot), SENT.scope(slot, call))
}

/// The RPC middleware that notes each request's method name.
#[derive(Debug, Clone)]
pub struct NoteMethod<S>(pub S);

impl<S> RpcServiceT for NoteMethod<S>
where
    S: RpcServiceT + Send + Sync,
{
    type MethodResponse = S::MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(
        &self,
        request: Request<'a>,
    ) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        // Outside a noting call there is no slot, and nothing to note.
        let _ = SENT.try_with(|slot| slot.set(request.method_name().to_owned()));
        self.0.call(request)
    }

    fn batch<'a>(
        &self,
        requests: Batch<'a>,
    ) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.0.batch(requests)
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.0.notification(n)
    }
}

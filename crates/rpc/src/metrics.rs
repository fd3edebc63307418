//! `GET /metrics`: Prometheus text on a JSON-RPC port, answered before the
//! request reaches the JSON-RPC server. The node API serves
//! [`NodeApi::metrics`](crate::NodeApi::metrics) with it; the Ethereum
//! JSON-RPC serves its own registry with the same layer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// What a scrape answers: the metrics in the Prometheus text format,
/// rendered when `GET /metrics` arrives.
type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// Serves `GET /metrics` with the text `render` gives at each scrape.
#[derive(Clone)]
pub struct MetricsLayer {
    render: Render,
}

impl MetricsLayer {
    /// A layer answering `GET /metrics` with `render()`.
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self {
            render: Arc::new(render),
        }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            render: self.render.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps around a server.
#[derive(Clone)]
pub struct Metrics<S> {
    inner: S,
    render: Render,
}

impl<S, B> tower::Service<HttpRequest<B>> for Metrics<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        if req.method() == http::Method::GET && req.uri().path() == "/metrics" {
            let text = (self.render)();
            let mut response = HttpResponse::new(HttpBody::from(text));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(req))
    }
}

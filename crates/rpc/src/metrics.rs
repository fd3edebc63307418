//! `GET /metrics`: the node's Prometheus metrics on the API port, answered
//! before the request reaches the JSON-RPC server.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

use crate::NodeApi;

/// Serves `GET /metrics` from [`NodeApi::metrics`].
#[derive(Clone)]
pub(crate) struct MetricsLayer {
    api: Arc<dyn NodeApi>,
}

impl MetricsLayer {
    pub(crate) fn new(api: Arc<dyn NodeApi>) -> Self {
        Self { api }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            api: self.api.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps around the API.
#[derive(Clone)]
pub(crate) struct Metrics<S> {
    inner: S,
    api: Arc<dyn NodeApi>,
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
            let text = self.api.metrics();
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

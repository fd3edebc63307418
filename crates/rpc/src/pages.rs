//! Web pages on the API's port: a [`Pages`] function answers the GET
//! requests it recognises (the node's explorer under `/explorer`) before
//! they reach the JSON-RPC server; every other request goes on unchanged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// What answers a page request: given the method, the path and the
/// headers, the answer, or `None` when the path is not a page's.
type PageFn =
    dyn Fn(&http::Method, &str, &http::HeaderMap) -> Option<http::Response<Vec<u8>>> + Send + Sync;

/// The pages a server answers beside its JSON-RPC (see the module doc).
#[derive(Clone)]
pub struct Pages(Arc<PageFn>);

impl Pages {
    /// Pages answered by `f`.
    pub fn new(
        f: impl Fn(&http::Method, &str, &http::HeaderMap) -> Option<http::Response<Vec<u8>>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self(Arc::new(f))
    }
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pages(..)")
    }
}

/// Puts [`Pages`] (if any) in front of a server.
#[derive(Clone, Debug)]
pub struct PagesLayer {
    pages: Option<Pages>,
}

impl PagesLayer {
    /// A layer answering with `pages` (`None`: every request goes on).
    pub fn new(pages: Option<Pages>) -> Self {
        Self { pages }
    }
}

impl<S> tower::Layer<S> for PagesLayer {
    type Service = PagesService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PagesService {
            inner,
            pages: self.pages.clone(),
        }
    }
}

/// The service [`PagesLayer`] wraps around a server.
#[derive(Clone)]
pub struct PagesService<S> {
    inner: S,
    pages: Option<Pages>,
}

impl<S, B> tower::Service<HttpRequest<B>> for PagesService<S>
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
        if let Some(pages) = &self.pages
            && let Some(answer) = (pages.0)(req.method(), req.uri().path(), req.headers())
        {
            let (parts, body) = answer.into_parts();
            let response = HttpResponse::from_parts(parts, HttpBody::from(body));
            return Box::pin(async move { Ok(response) });
        }
        Box::pin(self.inner.call(req))
    }
}

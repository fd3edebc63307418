//! The server: one [`Handler`] implements the three `*Server` traits of
//! [`crate::api`] over a [`NodeApi`]; [`serve`] puts them on one port with
//! the HTTP extras (`GET /health`, `GET /metrics`), the limits, and the
//! positional-params check in front of the traits (`positional`).

mod consensus;
pub(crate) mod params;
mod positional;
mod runtime;

use std::net::SocketAddr;
use std::sync::Arc;

use jsonrpsee::server::middleware::http::ProxyGetRequestLayer;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    PendingSubscriptionSink, RpcModule, Server, ServerHandle, SubscriptionMessage,
};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast;

use crate::node::{BlockNotification, NodeApi};
use crate::{MetricsLayer, RpcConfig};

/// What every handler reaches: the node and the server's settings.
#[derive(Clone)]
pub(crate) struct Handler {
    api: Arc<dyn NodeApi>,
    config: Arc<RpcConfig>,
}

/// A running API server.
pub struct RpcServer {
    handle: ServerHandle,
    addr: SocketAddr,
}

impl RpcServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it and waits until it has stopped.
    pub async fn stop(self) {
        let _ = self.handle.stop();
        self.handle.stopped().await;
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the address failed.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// The method table could not be built (a programming error).
    #[error("rpc setup: {0}")]
    Setup(String),
}

/// Starts the API on `addr` (port 0 picks a free port).
pub async fn serve(
    api: Arc<dyn NodeApi>,
    addr: SocketAddr,
    config: RpcConfig,
) -> Result<RpcServer, ServeError> {
    let middleware = tower::ServiceBuilder::new()
        .layer(crate::PagesLayer::new(config.pages.clone()))
        .layer(metrics_layer(api.clone()))
        .layer(
            ProxyGetRequestLayer::new([("/health", "system_health")])
                .map_err(|e| ServeError::Setup(e.to_string()))?,
        )
        .layer(positional::WebSocketMarkLayer);
    let server_config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .set_batch_request_config(jsonrpsee::server::BatchRequestConfig::Limit(
            config.max_batch_calls,
        ))
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .set_http_middleware(middleware)
        .set_rpc_middleware(RpcServiceBuilder::new().layer_fn(positional::PositionalLayer::new))
        .build(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let local = server.local_addr().map_err(|e| ServeError::Bind(addr, e))?;
    let handler = Handler {
        api,
        config: Arc::new(config),
    };
    let module = methods(handler).map_err(|e| ServeError::Setup(e.to_string()))?;
    Ok(RpcServer {
        handle: server.start(module),
        addr: local,
    })
}

/// Every method of every namespace, in one table.
fn methods(h: Handler) -> Result<RpcModule<()>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(());
    m.merge(h.clone().into_system())?;
    m.merge(h.clone().into_consensus())?;
    m.merge(h.into_runtime())?;
    Ok(m)
}

impl Handler {
    fn into_system(self) -> RpcModule<Self> {
        crate::api::SystemRpcServer::into_rpc(self)
    }

    fn into_consensus(self) -> RpcModule<Self> {
        crate::api::ConsensusRpcServer::into_rpc(self)
    }

    fn into_runtime(self) -> RpcModule<Self> {
        crate::api::RuntimeRpcServer::into_rpc(self)
    }
}

#[jsonrpsee::core::async_trait]
impl crate::api::SystemRpcServer for Handler {
    fn health(&self) -> jsonrpsee::core::RpcResult<String> {
        Ok("ok".to_owned())
    }

    fn status(&self) -> jsonrpsee::core::RpcResult<crate::node::NodeStatus> {
        Ok(self.api.status())
    }
}

/// `item` as raw JSON for a subscription message (`None`: not
/// representable, skipped; the subscription goes on).
pub(crate) fn raw<T: Serialize + ?Sized>(item: &T) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(item).ok()
}

/// Streams block notifications to a subscriber, mapped by `f`, until it leaves.
async fn forward(
    pending: PendingSubscriptionSink,
    api: &Arc<dyn NodeApi>,
    f: impl Fn(&Arc<BlockNotification>) -> Vec<Box<RawValue>>,
) {
    let mut blocks = api.subscribe();
    let Ok(sink) = pending.accept().await else {
        return;
    };
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            next = blocks.recv() => match next {
                Ok(n) => {
                    for v in f(&n) {
                        if sink.send(SubscriptionMessage::from(v)).await.is_err() {
                            return;
                        }
                    }
                }
                // A slow subscriber skips what it missed rather than stall the node.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// `GET /metrics` answered from [`NodeApi::metrics`].
fn metrics_layer(api: Arc<dyn NodeApi>) -> MetricsLayer {
    MetricsLayer::new(move || api.metrics())
}

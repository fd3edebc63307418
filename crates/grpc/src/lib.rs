//! Oasis's node API: gRPC with a CBOR codec, as oasis-node serves it, and
//! gRPC-web for browsers, beside atoll's JSON-RPC.
//!
//! The Oasis CLI, `@oasisprotocol/client` and the Go SDK call
//! `/oasis-core.<Service>/<Method>` with CBOR messages. atoll serves the
//! methods in [`table::METHODS`] over the node's [`NodeApi`] port (the same
//! port the JSON-RPC serves, so there is one copy of the logic):
//!
//! - `codec`: messages as raw bytes; each method decodes its request
//!   under oasis-core's rules for client input (`request`);
//! - [`table`]: path → method (pure);
//! - `handlers`: what each method does over the port;
//! - [`status`]: errors as oasis-node returns them (`{module, code}` in the
//!   status details);
//! - `service`: the tonic services, one per Oasis service;
//! - [`serve`]: HTTP/2 gRPC and HTTP/1.1 gRPC-web (`tonic-web`) on one port, `[grpc] listen` in `node.toml`.

mod codec;
mod handlers;
mod request;
mod service;
pub mod status;
pub mod table;

use std::net::SocketAddr;
use std::sync::Arc;

use atoll_rpc::NodeApi;
pub use codec::RawCodec;
pub use service::{
    BeaconService, ConsensusService, MAX_REQUEST_BYTES, RuntimeClientService, StakingService,
};

/// Why the gRPC server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("binding the gRPC listener on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running gRPC server.
pub struct GrpcServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl GrpcServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Binds `addr` and serves Oasis's gRPC (and gRPC-web) API over `node`.
pub async fn serve(addr: SocketAddr, node: Arc<dyn NodeApi>) -> Result<GrpcServer, ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(ConsensusService::new(node.clone()))
        .add_service(StakingService::new(node.clone()))
        .add_service(BeaconService::new(node.clone()))
        .add_service(RuntimeClientService::new(node));
    let task = tokio::spawn(async move {
        let _ = router
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(GrpcServer {
        addr: bound,
        stop: Some(stop),
        task,
    })
}

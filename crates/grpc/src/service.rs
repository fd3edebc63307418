//! The glue to tonic: one tower service per Oasis service (tonic routes by
//! the service name in the path), each looking its method up in the
//! [`table`](crate::table) and running it through tonic's unary handling
//! with the raw [`RawCodec`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use atoll_rpc::NodeApi;
use bytes::Bytes;
use tonic::body::Body;
use tonic::server::{Grpc, UnaryService};
use tonic::{Request, Response, Status};

use crate::codec::RawCodec;
use crate::handlers;
use crate::table::{self, Method};

/// Largest request message accepted (after gRPC framing); larger ones get
/// tonic's `OutOfRange` before any method runs.
pub const MAX_REQUEST_BYTES: usize = 4 << 20;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One method bound to the node, as tonic's unary handler wants it.
struct Unary {
    node: Arc<dyn NodeApi>,
    method: Method,
}

impl UnaryService<Bytes> for Unary {
    type Response = Bytes;
    type Future = BoxFuture<Result<Response<Bytes>, Status>>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let node = self.node.clone();
        let method = self.method;
        Box::pin(async move {
            let body = request.into_inner();
            handlers::call(&node, method, &body)
                .await
                .map(Response::new)
                .map_err(Status::from)
        })
    }
}

/// Serves one request: the method its path names, or `Unimplemented`.
async fn dispatch<B>(node: Arc<dyn NodeApi>, req: http::Request<B>) -> http::Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    match table::method(req.uri().path()) {
        Some(method) => {
            let mut grpc = Grpc::new(RawCodec).max_decoding_message_size(MAX_REQUEST_BYTES);
            grpc.unary(Unary { node, method }, req).await
        }
        None => Status::unimplemented(format!("unknown method {}", req.uri().path())).into_http(),
    }
}

macro_rules! oasis_service {
    ($(#[$doc:meta])* $name:ident, $path:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            node: Arc<dyn NodeApi>,
        }

        impl $name {
            /// The service over `node`.
            pub fn new(node: Arc<dyn NodeApi>) -> Self {
                Self { node }
            }
        }

        impl tonic::server::NamedService for $name {
            const NAME: &'static str = $path;
        }

        impl<B> tower::Service<http::Request<B>> for $name
        where
            B: http_body::Body<Data = Bytes> + Send + 'static,
            B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
        {
            type Response = http::Response<Body>;
            type Error = Infallible;
            type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, req: http::Request<B>) -> Self::Future {
                let node = self.node.clone();
                Box::pin(async move { Ok(dispatch(node, req).await) })
            }
        }
    };
}

oasis_service!(
    /// `oasis-core.Consensus`.
    ConsensusService,
    "oasis-core.Consensus"
);
oasis_service!(
    /// `oasis-core.Staking`.
    StakingService,
    "oasis-core.Staking"
);
oasis_service!(
    /// `oasis-core.Beacon`.
    BeaconService,
    "oasis-core.Beacon"
);
oasis_service!(
    /// `oasis-core.RuntimeClient`.
    RuntimeClientService,
    "oasis-core.RuntimeClient"
);

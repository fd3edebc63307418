//! What `atoll localnet` asks its nodes while the network starts, through
//! the node API's generated client (short timeouts: the nodes are local).
//! Every probe answers `None` or `false` when the node does not answer yet.

use std::net::SocketAddr;
use std::time::Duration;

use atoll_rpc::{RuntimeRpcClient as _, SystemRpcClient as _};
use atoll_types::Namespace;
use jsonrpsee::core::client::ClientT as _;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;

/// Longest wait for one answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A client for the API at `addr`.
fn client(addr: SocketAddr) -> Option<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(TIMEOUT)
        .build(format!("http://{addr}"))
        .ok()
}

/// A node's latest height (0 before its first block).
pub(crate) async fn height(addr: SocketAddr) -> Option<u64> {
    let status = client(addr)?.status().await.ok()?;
    Some(status.latest_height.unwrap_or(0))
}

/// A ParaTime's latest round at a node serving it.
pub(crate) async fn latest_round(addr: SocketAddr, id: &Namespace) -> Option<u64> {
    let block = client(addr)?.get_block(id.to_string(), None).await.ok()?;
    block.get("round").and_then(Value::as_u64)
}

/// Whether a node serving a ParaTime answers queries on its state.
pub(crate) async fn answers_queries(addr: SocketAddr, id: &Namespace) -> bool {
    let Some(c) = client(addr) else {
        return false;
    };
    c.query(id.to_string(), "core.MinGasPrice".to_owned(), None, None)
        .await
        .is_ok()
}

/// Whether an Ethereum JSON-RPC endpoint answers.
pub(crate) async fn eth_answers(addr: SocketAddr) -> bool {
    let Some(c) = client(addr) else {
        return false;
    };
    c.request::<Value, _>("eth_chainId", rpc_params![])
        .await
        .is_ok()
}

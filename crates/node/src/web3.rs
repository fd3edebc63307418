//! The Ethereum JSON-RPC of EVM runtimes: for each `[[runtime]]` with
//! `web3 = "host:port"`, an [`atoll_web3`] gateway over this node's
//! [`Compute`] (its runtime client API), with its index in
//! `<data_dir>/runtimes/<id>/web3`. The gateways stop with the node, before
//! the runtimes.

use std::sync::Arc;

use atoll_rpc::RuntimeApi;
use atoll_types::Namespace;
use atoll_web3::{Web3Config, Web3Server};
use tracing::info;

use crate::NodeError;
use crate::compute::{Compute, runtime_dir};
use crate::config::NodeConfig;

/// Starts the gateways `config` asks for.
pub async fn start(
    config: &NodeConfig,
    compute: Option<&Arc<Compute>>,
) -> Result<Vec<(Namespace, Web3Server)>, NodeError> {
    let mut out = Vec::new();
    for r in &config.runtimes {
        let Some(addr) = r.web3 else { continue };
        let id: Namespace =
            r.id.parse()
                .map_err(|e| NodeError::Compute(format!("runtime id {}: {e}", r.id)))?;
        let Some(compute) = compute else {
            return Err(NodeError::Compute(format!(
                "runtime {id}: web3 needs the runtime to be served here"
            )));
        };
        let api: Arc<dyn RuntimeApi> = compute.clone();
        let dir = runtime_dir(&config.data_dir, &id).join("web3");
        let server = atoll_web3::serve(
            api,
            id,
            &dir,
            addr,
            Web3Config {
                max_log_rounds: r.web3_max_log_rounds,
                cors: r.web3_cors.clone(),
                gas_cap: r.rpc_gas_cap,
                max_batch_calls: usize::try_from(r.rpc_batch_request_limit).unwrap_or(usize::MAX),
                max_response_bytes: r.rpc_batch_response_max_size,
                allow_unprotected_txs: r.allow_unprotected_txs,
                ..Web3Config::default()
            },
        )
        .await?;
        info!(
            runtime = %id,
            addr = %server.local_addr(),
            cors = ?r.web3_cors,
            "web3 JSON-RPC listening"
        );
        out.push((id, server));
    }
    Ok(out)
}

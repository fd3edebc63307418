//! `web3_*` and `net_*`: the client's version, Keccak-256, the network id
//! and the (absent) peers.

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::server::RpcModule;
use serde_json::json;

use super::Ctx;
use crate::types::{Bytes, H256};

/// Registers the `web3_` and `net_` methods.
pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    method!(m, "web3_clientVersion", |a, ctx| {
        a.at_most(0)?;
        Ok(json!(ctx.config.client_version))
    });
    method!(m, "web3_sha3", |a, _ctx| {
        a.at_most(1)?;
        let data: Bytes = a.req(0)?;
        Ok(json!(H256(atoll_crypto::keccak256(&data.0))))
    });
    method!(m, "net_version", |a, ctx| {
        a.at_most(0)?;
        Ok(json!(ctx.backend.chain_id().await?.to_string()))
    });
    method!(m, "net_listening", |_a, _ctx| Ok(json!(true)));
    method!(m, "net_peerCount", |_a, _ctx| Ok(json!("0x0")));
    Ok(())
}

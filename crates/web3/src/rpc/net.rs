//! `web3_*` and `net_*`: the client's version, Keccak-256, the network id
//! and the (absent) peers.

use jsonrpsee::core::RpcResult;
use serde_json::{Value, json};

use super::api::{NetRpcServer, Web3RpcServer};
use super::{Rpc, answer};
use crate::types::{Bytes, H256};

#[jsonrpsee::core::async_trait]
impl Web3RpcServer for Rpc {
    async fn client_version(&self) -> RpcResult<Value> {
        Ok(json!(self.config.client_version))
    }

    async fn sha3(&self, data: Bytes) -> RpcResult<Value> {
        Ok(json!(H256::new(atoll_crypto::keccak256(&data.0))))
    }
}

#[jsonrpsee::core::async_trait]
impl NetRpcServer for Rpc {
    async fn version(&self) -> RpcResult<Value> {
        answer(self.backend.chain_id().await).map(|c| json!(c.to_string()))
    }

    async fn listening(&self) -> RpcResult<Value> {
        Ok(json!(true))
    }

    async fn peer_count(&self) -> RpcResult<Value> {
        Ok(json!("0x0"))
    }
}

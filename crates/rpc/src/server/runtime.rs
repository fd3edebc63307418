//! `runtime_*`: the [`RuntimeRpcServer`] handlers, over the node's
//! [`RuntimeApi`].

use std::sync::Arc;

use atoll_crypto::Hash;
use atoll_types::Namespace;
use base64::Engine as _;
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionMessage};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::Value;

use super::Handler;
use super::consensus::found;
use super::params::{Bulk, decode_tx, parse_hash};
use crate::api::{BulkOutcome, ChunkAnswer, QueryAnswer, RoundAnswer, RuntimeRpcServer};
use crate::error::{ApiError, wait_timed_out};
use crate::runtime::{RuntimeApi, cbor_to_json, parse_runtime};

impl Handler {
    /// The runtime API serving runtime `id`, or "not found".
    fn runtime_api(&self, id: &str) -> Result<(Arc<dyn RuntimeApi>, Namespace), ApiError> {
        let id = parse_runtime(id)?;
        let api = self
            .api
            .runtimes()
            .filter(|r| r.runtimes().contains(&id))
            .ok_or_else(|| ApiError::NotFound(format!("runtime {id} (not served by this node)")))?;
        Ok((api, id))
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[jsonrpsee::core::async_trait]
impl RuntimeRpcServer for Handler {
    fn list(&self) -> RpcResult<Vec<String>> {
        Ok(self
            .api
            .runtimes()
            .map(|r| r.runtimes().iter().map(ToString::to_string).collect())
            .unwrap_or_default())
    }

    async fn submit_tx(&self, runtime: String, tx: String, wait: Option<bool>) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        let raw = decode_tx(&tx)?;
        let hash = Hash::digest(&raw);
        match tokio::time::timeout(
            self.config.max_wait,
            api.submit(id, raw, wait.unwrap_or(false)),
        )
        .await
        {
            Ok(r) => r.map_err(ErrorObjectOwned::from),
            Err(_) => Err(wait_timed_out(hash, self.config.max_wait)),
        }
    }

    async fn submit_txs(&self, runtime: String, txs: Vec<String>) -> RpcResult<Vec<BulkOutcome>> {
        let (api, id) = self.runtime_api(&runtime)?;
        let bulk = Bulk::decode(&txs)?;
        let outcomes = api.submit_many(id, bulk.raws()).await;
        Ok(bulk.answer(outcomes))
    }

    async fn query(
        &self,
        runtime: String,
        method: String,
        args: Option<String>,
        round: Option<u64>,
    ) -> RpcResult<QueryAnswer> {
        let (api, id) = self.runtime_api(&runtime)?;
        let args = match args {
            Some(a) => atoll_types::cbor::from_slice::<atoll_types::cbor::Value>(&decode_tx(&a)?)
                .map_err(|e| ApiError::InvalidParams(format!("args: not CBOR: {e}")))?,
            None => atoll_types::cbor::Value::Null,
        };
        let result = api.query(id, round, method, args).await?;
        let cbor =
            atoll_types::cbor::to_vec(&result).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(QueryAnswer {
            result: cbor_to_json(&result),
            cbor: b64(&cbor),
        })
    }

    fn get_block(&self, runtime: String, round: Option<u64>) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(api.block(id, round)?, || match round {
            Some(r) => format!("round {r} of runtime {id}"),
            None => format!("any round of runtime {id}"),
        })
    }

    fn get_transactions(&self, runtime: String, round: u64) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(api.transactions(id, round)?, || {
            format!("round {round} of runtime {id}")
        })
    }

    fn get_transaction(&self, runtime: String, hash: String) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        let hash = parse_hash(&hash)?;
        found(api.transaction(id, hash)?, || {
            format!("transaction {hash} of runtime {id}")
        })
    }

    fn get_events(&self, runtime: String, round: u64) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(api.events(id, round)?, || {
            format!("round {round} of runtime {id}")
        })
    }

    fn get_round(&self, runtime: String, round: u64) -> RpcResult<RoundAnswer> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(
            api.round_record(id, round)?
                .map(|r| RoundAnswer { record: b64(&r) }),
            || format!("round {round} of runtime {id}"),
        )
    }

    fn get_checkpoints(&self, runtime: String) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        api.checkpoints(id).map_err(ErrorObjectOwned::from)
    }

    fn get_checkpoint_chunk(
        &self,
        runtime: String,
        round: u64,
        index: u32,
    ) -> RpcResult<ChunkAnswer> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(
            api.checkpoint_chunk(id, round, index)?
                .map(|c| ChunkAnswer { chunk: b64(&c) }),
            || format!("chunk {index} of the checkpoint of round {round} of runtime {id}"),
        )
    }

    async fn subscribe_blocks(
        &self,
        pending: PendingSubscriptionSink,
        runtime: String,
    ) -> SubscriptionResult {
        let mut rx = match self
            .runtime_api(&runtime)
            .and_then(|(api, id)| api.subscribe(id))
        {
            Ok(rx) => rx,
            Err(e) => {
                pending.reject(ErrorObjectOwned::from(e)).await;
                return Ok(());
            }
        };
        let Ok(sink) = pending.accept().await else {
            return Ok(());
        };
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                next = rx.recv() => {
                    let Some(v) = next else { return Ok(()) };
                    let Some(raw) = super::raw(&v) else { continue };
                    if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

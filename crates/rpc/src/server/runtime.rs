//! `runtime_*`: the [`RuntimeRpcServer`] handlers, over the node's
//! [`RuntimeApi`].

use std::sync::Arc;

use atoll_crypto::Hash;
use atoll_types::Namespace;
use base64::Engine as _;
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionMessage};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};

use super::Handler;
use super::consensus::found;
use super::params::{Bulk, decode_tx, parse_hash};
use crate::api::{BulkOutcome, ChunkAnswer, QueryAnswer, RoundAnswer, RuntimeRpcServer};
use crate::error::{ApiError, wait_timed_out};
use crate::runtime::{RuntimeApi, cbor_to_json, parse_runtime};
use crate::runtime_types::{CheckpointSummary, RuntimeBlock, RuntimeTx, SubmitResult, TxLocation};

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

/// A block as `runtime_getBlock` and `runtime_block` show it.
fn block_json(b: &RuntimeBlock) -> Value {
    json!({
        "round": b.header.round,
        "hash": b.header.hash(),
        "header": b.header,
        "consensus_height": b.consensus_height,
        "transactions": b.transactions,
        "messages": b.messages.iter().map(cbor_to_json).collect::<Vec<_>>(),
    })
}

/// A round's transactions as `runtime_getTransactions` shows them.
fn transactions_json(txs: &[RuntimeTx]) -> Value {
    Value::Array(
        txs.iter()
            .map(|t| {
                json!({
                    "hash": t.hash,
                    "index": t.index,
                    "tx": b64(&t.tx),
                    "result": cbor_to_json(&t.result),
                })
            })
            .collect(),
    )
}

/// A transaction's place as `runtime_getTransaction` shows it.
fn location_json(l: &TxLocation) -> Value {
    json!({
        "hash": l.hash,
        "round": l.round,
        "index": l.index,
        "result": cbor_to_json(&l.result),
    })
}

/// A submission's answer: `{hash}`, or where it landed.
fn submitted_json(s: &SubmitResult) -> Value {
    match &s.included {
        Some(l) => location_json(l),
        None => json!({ "hash": s.hash }),
    }
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
            Ok(r) => r
                .map(|s| submitted_json(&s))
                .map_err(ErrorObjectOwned::from),
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
        found(
            api.block(id, round)?.map(|b| block_json(&b)),
            || match round {
                Some(r) => format!("round {r} of runtime {id}"),
                None => format!("any round of runtime {id}"),
            },
        )
    }

    fn get_transactions(&self, runtime: String, round: u64) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(
            api.transactions(id, round)?.map(|t| transactions_json(&t)),
            || format!("round {round} of runtime {id}"),
        )
    }

    fn get_transaction(&self, runtime: String, hash: String) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        let hash = parse_hash(&hash)?;
        found(
            api.transaction(id, hash)?.map(|l| location_json(&l)),
            || format!("transaction {hash} of runtime {id}"),
        )
    }

    fn get_events(&self, runtime: String, round: u64) -> RpcResult<Value> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(
            api.events(id, round)?
                .map(|e| Value::Array(e.iter().map(cbor_to_json).collect())),
            || format!("round {round} of runtime {id}"),
        )
    }

    fn get_round(&self, runtime: String, round: u64) -> RpcResult<RoundAnswer> {
        let (api, id) = self.runtime_api(&runtime)?;
        found(
            api.round_record(id, round)?
                .map(|r| RoundAnswer { record: b64(&r) }),
            || format!("round {round} of runtime {id}"),
        )
    }

    fn get_checkpoints(&self, runtime: String) -> RpcResult<Vec<CheckpointSummary>> {
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
                    let Some(raw) = super::raw(&block_json(&v)) else { continue };
                    if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

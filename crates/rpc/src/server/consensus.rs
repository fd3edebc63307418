//! `consensus_*`: the [`ConsensusRpcServer`] handlers.

use atoll_consensus::app::BlockResult;
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::server::PendingSubscriptionSink;
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::Handler;
use super::params::{Bulk, decode_tx, parse_hash};
use crate::api::{BulkOutcome, ConsensusRpcServer, EventNotification, SubmitAnswer};
use crate::error::{ApiError, wait_timed_out};
use crate::node::{BlockView, TxView};

/// `v`, or "not found" naming `what`.
pub(super) fn found<T>(v: Option<T>, what: impl FnOnce() -> String) -> RpcResult<T> {
    v.ok_or_else(|| ApiError::NotFound(what()).into())
}

#[jsonrpsee::core::async_trait]
impl ConsensusRpcServer for Handler {
    async fn submit_tx(&self, tx: String, wait: Option<bool>) -> RpcResult<SubmitAnswer> {
        let raw = decode_tx(&tx)?;
        if !wait.unwrap_or(false) {
            let hash = self.api.submit_tx(raw)?;
            return Ok(SubmitAnswer {
                hash,
                height: None,
                result: None,
            });
        }
        // Subscribe before submitting, so the including block cannot be missed.
        let mut blocks = self.api.subscribe();
        let hash = self.api.submit_tx(raw)?;
        let found = tokio::time::timeout(self.config.max_wait, async {
            loop {
                match blocks.recv().await {
                    Ok(n) => {
                        if let Some(r) = n.results.tx_results.iter().find(|r| r.hash == hash) {
                            return Ok((n.block.height, r.clone()));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(t) = self.api.transaction(&hash)? {
                            return Ok((t.height, t.result));
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        return Err(ApiError::Internal("the node is shutting down".into()));
                    }
                }
            }
        })
        .await;
        match found {
            Ok(Ok((height, result))) => Ok(SubmitAnswer {
                hash,
                height: Some(height),
                result: Some(result),
            }),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(wait_timed_out(hash, self.config.max_wait)),
        }
    }

    fn submit_txs(&self, txs: Vec<String>) -> RpcResult<Vec<BulkOutcome>> {
        let bulk = Bulk::decode(&txs)?;
        let outcomes = self.api.submit_txs(bulk.raws());
        Ok(bulk.answer(outcomes))
    }

    fn get_block(&self, height: Option<u64>) -> RpcResult<BlockView> {
        found(self.api.block(height)?, || match height {
            Some(h) => format!("block {h}"),
            None => "any block (none committed yet)".into(),
        })
    }

    fn get_block_results(&self, height: u64) -> RpcResult<BlockResult> {
        found(self.api.block_results(height)?, || {
            format!("block {height}")
        })
    }

    fn get_transaction(&self, hash: String) -> RpcResult<TxView> {
        let hash = parse_hash(&hash)?;
        found(self.api.transaction(&hash)?, || {
            format!("transaction {hash}")
        })
    }

    fn query(&self, method: String, args: Option<Value>, height: Option<u64>) -> RpcResult<Value> {
        self.api
            .query(&method, &args.unwrap_or(Value::Null), height)
            .map_err(ErrorObjectOwned::from)
    }

    fn get_account(&self, address: String, height: Option<u64>) -> RpcResult<Value> {
        self.api
            .query("staking.Account", &json!({ "address": address }), height)
            .map_err(ErrorObjectOwned::from)
    }

    fn get_validators(&self, height: Option<u64>) -> RpcResult<Value> {
        self.api
            .query("scheduler.Validators", &Value::Null, height)
            .map_err(ErrorObjectOwned::from)
    }

    async fn subscribe_blocks(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        super::forward(pending, &self.api, |n| {
            super::raw(n.as_ref()).into_iter().collect()
        })
        .await;
        Ok(())
    }

    async fn subscribe_events(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        super::forward(pending, &self.api, |n| {
            let height = n.block.height;
            let mut out: Vec<_> = n
                .results
                .events
                .iter()
                .filter_map(|event| {
                    super::raw(&EventNotification {
                        height,
                        tx_hash: None,
                        event: event.clone(),
                    })
                })
                .collect();
            for r in &n.results.tx_results {
                out.extend(r.events.iter().filter_map(|event| {
                    super::raw(&EventNotification {
                        height,
                        tx_hash: Some(r.hash),
                        event: event.clone(),
                    })
                }));
            }
            out
        })
        .await;
        Ok(())
    }

    fn get_block_details(&self, height: u64) -> RpcResult<crate::details::BlockDetails> {
        let body = found(self.api.block_body(height)?, || format!("block {height}"))?;
        let results = found(self.api.block_results(height)?, || {
            format!("block {height}")
        })?;
        Ok(crate::details::details(height, &body, &results.tx_results))
    }

    fn get_block_signers(&self, height: u64) -> RpcResult<Vec<crate::details::BlockSigner>> {
        let body = found(self.api.block_body(height)?, || format!("block {height}"))?;
        Ok(crate::details::details(height, &body, &[]).signers)
    }
}

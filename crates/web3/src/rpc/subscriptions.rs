//! `eth_subscribe`: `newHeads` and `logs`, fed from the index as blocks
//! arrive.

use std::sync::Arc;

use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionMessage};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::Value;
use tokio::sync::broadcast;

use super::api::EthPubSubRpcServer;
use super::{Ctx, Rpc, invalid};
use crate::error::Web3Error;
use crate::filter::LogFilter;
use crate::types::FilterRequest;

#[jsonrpsee::core::async_trait]
impl EthPubSubRpcServer for Rpc {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<Value>,
    ) -> SubscriptionResult {
        follow(pending, self.0.clone(), kind, params).await;
        Ok(())
    }
}

/// What a subscription follows.
enum Subscription {
    Heads,
    Logs(LogFilter),
}

/// What `eth_subscribe(kind, params)` asks to follow.
fn subscription(kind: &str, params: Option<Value>) -> Result<Subscription, Web3Error> {
    match kind {
        "newHeads" => Ok(Subscription::Heads),
        "logs" => {
            let req: FilterRequest = match params {
                None => FilterRequest::default(),
                Some(v) => serde_json::from_value(v).map_err(|e| invalid(format!("1: {e}")))?,
            };
            if req.block_hash.is_some() || req.from_block.is_some() || req.to_block.is_some() {
                return Err(invalid("a logs subscription takes only address and topics"));
            }
            Ok(Subscription::Logs(
                LogFilter::from_request(&req).map_err(invalid)?,
            ))
        }
        other => Err(invalid(format!("unsupported subscription type {other:?}"))),
    }
}

/// Answers a subscription request, then sends what it follows until the
/// client goes away.
async fn follow(
    pending: PendingSubscriptionSink,
    ctx: Arc<Ctx>,
    kind: String,
    params: Option<Value>,
) {
    let parsed = subscription(&kind, params);
    let sub = match parsed {
        Ok(s) => s,
        Err(e) => {
            pending.reject(ErrorObjectOwned::from(e)).await;
            return;
        }
    };
    // Subscribe to wake-ups before reading where the index is, so that no
    // block falls in between.
    let mut wake = ctx.blocks.subscribe();
    let mut next = match ctx.index.last() {
        Ok(l) => l.map_or(0, |l| l.saturating_add(1)),
        Err(e) => {
            pending
                .reject(ErrorObjectOwned::from(Web3Error::from(e)))
                .await;
            return;
        }
    };
    let Ok(sink) = pending.accept().await else {
        return;
    };
    let _running = ctx.metrics.subscription();
    loop {
        tokio::select! {
            _ = sink.closed() => return,
            got = wake.recv() => {
                if matches!(got, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
        }
        // Whatever was indexed since the last send, in order, from the index
        // (a lagging subscriber misses nothing).
        let Ok(Some(last)) = ctx.index.last() else {
            continue;
        };
        while next <= last {
            let Ok(Some(b)) = ctx.index.block(next) else {
                break;
            };
            let items: Vec<Value> = match &sub {
                Subscription::Heads => vec![b.header_json()],
                Subscription::Logs(f) => {
                    if f.may_match(&b.logs_bloom) {
                        ctx.index
                            .block_txs(next)
                            .unwrap_or_default()
                            .iter()
                            .flat_map(|t| {
                                t.log_views()
                                    .filter(|l| f.matches(&l.log.address, &l.log.topics))
                                    .map(|l| l.to_json())
                                    .collect::<Vec<_>>()
                            })
                            .collect()
                    } else {
                        Vec::new()
                    }
                }
            };
            for v in items {
                let Ok(raw) = serde_json::value::to_raw_value(&v) else {
                    continue;
                };
                if sink.send(SubscriptionMessage::from(raw)).await.is_err() {
                    return;
                }
            }
            next = next.saturating_add(1);
        }
    }
}

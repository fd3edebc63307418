//! `eth_subscribe`: `newHeads` and `logs`, fed from the index as blocks
//! arrive.

use std::sync::Arc;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::server::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde_json::Value;
use tokio::sync::broadcast;

use super::{Args, Ctx, invalid};
use crate::error::Web3Error;
use crate::filter::LogFilter;
use crate::types::FilterRequest;

/// Registers `eth_subscribe` / `eth_unsubscribe`.
pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, ctx, _| async move { subscribe(p, pending, ctx).await },
    )?;
    Ok(())
}

/// What a subscription follows.
enum Subscription {
    Heads,
    Logs(LogFilter),
}

async fn subscribe(p: Params<'static>, pending: PendingSubscriptionSink, ctx: Arc<Ctx>) {
    let parsed = (|| -> Result<Subscription, Web3Error> {
        let a = Args::new(&p)?;
        a.at_most(2)?;
        let kind: String = a.req(0)?;
        match kind.as_str() {
            "newHeads" => Ok(Subscription::Heads),
            "logs" => {
                let req: FilterRequest = a.opt(1)?.unwrap_or_default();
                if req.block_hash.is_some() || req.from_block.is_some() || req.to_block.is_some() {
                    return Err(invalid("a logs subscription takes only address and topics"));
                }
                Ok(Subscription::Logs(
                    LogFilter::from_request(&req).map_err(invalid)?,
                ))
            }
            other => Err(invalid(format!("unsupported subscription type {other:?}"))),
        }
    })();
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

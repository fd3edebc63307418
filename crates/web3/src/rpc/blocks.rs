//! The chain and its blocks: chain id, head, sync status, blocks by number
//! or hash, transaction and uncle counts, a block's receipts (and the
//! mining answers of a node that mines nothing).

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::server::RpcModule;
use serde_json::{Value, json};

use super::Ctx;
use crate::model::TxRecord;
use crate::types::{BlockId, BlockNumber, H256, qty};

/// Registers the chain and block methods.
pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
    method!(m, "eth_chainId", |a, ctx| {
        a.at_most(0)?;
        Ok(json!(qty(ctx.backend.chain_id().await?.into())))
    });
    method!(m, "eth_blockNumber", |a, ctx| {
        a.at_most(0)?;
        Ok(json!(qty(ctx.last()?.unwrap_or(0).into())))
    });
    method!(m, "eth_syncing", |a, ctx| {
        a.at_most(0)?;
        let last = ctx.last()?;
        let latest = ctx.backend.latest_round()?;
        Ok(match (last, latest) {
            (Some(l), Some(h)) if h > l.saturating_add(1) => json!({
                "startingBlock": qty(ctx.index.first()?.unwrap_or(0).into()),
                "currentBlock": qty(l.into()),
                "highestBlock": qty(h.into()),
            }),
            (None, Some(h)) if h > 0 => json!({
                "startingBlock": "0x0",
                "currentBlock": "0x0",
                "highestBlock": qty(h.into()),
            }),
            _ => json!(false),
        })
    });
    method!(m, "eth_accounts", |_a, _ctx| Ok(json!([])));
    method!(m, "eth_mining", |_a, _ctx| Ok(json!(false)));
    method!(m, "eth_hashrate", |_a, _ctx| Ok(json!("0x0")));
    method!(m, "eth_getBlockByNumber", |a, ctx| {
        a.at_most(2)?;
        let n: BlockNumber = a.req(0)?;
        let full: bool = a.opt(1)?.unwrap_or(false);
        match ctx.resolve(n)? {
            Some(n) => ctx.block_json(n, full),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getBlockByHash", |a, ctx| {
        a.at_most(2)?;
        let h: H256 = a.req(0)?;
        let full: bool = a.opt(1)?.unwrap_or(false);
        match ctx.index.block_number(&h)? {
            Some(n) => ctx.block_json(n, full),
            None => Ok(Value::Null),
        }
    });
    method!(m, "eth_getBlockTransactionCountByNumber", |a, ctx| {
        a.at_most(1)?;
        let n: BlockNumber = a.req(0)?;
        let b = match ctx.resolve(n)? {
            Some(n) => ctx.index.block(n)?,
            None => None,
        };
        Ok(b.map_or(Value::Null, |b| json!(qty(b.transactions.len() as u128))))
    });
    method!(m, "eth_getBlockTransactionCountByHash", |a, ctx| {
        a.at_most(1)?;
        let h: H256 = a.req(0)?;
        let b = match ctx.index.block_number(&h)? {
            Some(n) => ctx.index.block(n)?,
            None => None,
        };
        Ok(b.map_or(Value::Null, |b| json!(qty(b.transactions.len() as u128))))
    });
    method!(m, "eth_getUncleCountByBlockNumber", |_a, _ctx| Ok(json!(
        "0x0"
    )));
    method!(m, "eth_getUncleCountByBlockHash", |_a, _ctx| Ok(json!(
        "0x0"
    )));
    method!(m, "eth_getBlockReceipts", |a, ctx| {
        a.at_most(1)?;
        let id: BlockId = a.req(0)?;
        Ok(match ctx.resolve_id(id)? {
            Some(n) if ctx.index.block(n)?.is_some() => Value::Array(
                ctx.index
                    .block_txs(n)?
                    .iter()
                    .map(TxRecord::receipt_json)
                    .collect(),
            ),
            _ => Value::Null,
        })
    });
    Ok(())
}

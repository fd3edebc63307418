//! The chain and its blocks: chain id, head, sync status, blocks by number
//! or hash, transaction and uncle counts, a block's receipts (and the
//! mining answers of a node that mines nothing).

use jsonrpsee::core::RpcResult;
use serde_json::{Value, json};

use super::api::EthBlocksRpcServer;
use super::{Rpc, answer};
use crate::error::Web3Error;
use crate::model::TxRecord;
use crate::types::{BlockId, BlockNumber, H256, qty};

impl Rpc {
    fn syncing_json(&self) -> Result<Value, Web3Error> {
        let last = self.last()?;
        let latest = self.backend.latest_round()?;
        Ok(match (last, latest) {
            (Some(l), Some(h)) if h > l.saturating_add(1) => json!({
                "startingBlock": qty(self.index.first()?.unwrap_or(0).into()),
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
    }

    /// The transaction count of block `n`, if there is one.
    fn tx_count(&self, n: Option<u64>) -> Result<Value, Web3Error> {
        let b = match n {
            Some(n) => self.index.block(n)?,
            None => None,
        };
        Ok(b.map_or(Value::Null, |b| json!(qty(b.transactions.len() as u128))))
    }

    fn receipts_json(&self, id: BlockId) -> Result<Value, Web3Error> {
        Ok(match self.resolve_id(id)? {
            Some(n) if self.index.block(n)?.is_some() => Value::Array(
                self.index
                    .block_txs(n)?
                    .iter()
                    .map(TxRecord::receipt_json)
                    .collect(),
            ),
            _ => Value::Null,
        })
    }
}

#[jsonrpsee::core::async_trait]
impl EthBlocksRpcServer for Rpc {
    async fn chain_id(&self) -> RpcResult<Value> {
        answer(self.backend.chain_id().await).map(|c| json!(qty(c.into())))
    }

    async fn block_number(&self) -> RpcResult<Value> {
        answer(self.last()).map(|l| json!(qty(l.unwrap_or(0).into())))
    }

    async fn syncing(&self) -> RpcResult<Value> {
        answer(self.syncing_json())
    }

    async fn accounts(&self) -> RpcResult<Value> {
        Ok(json!([]))
    }

    async fn mining(&self) -> RpcResult<Value> {
        Ok(json!(false))
    }

    async fn hashrate(&self) -> RpcResult<Value> {
        Ok(json!("0x0"))
    }

    async fn block_by_number(&self, number: BlockNumber, full: Option<bool>) -> RpcResult<Value> {
        answer(match self.resolve(number) {
            Ok(Some(n)) => self.block_json(n, full.unwrap_or(false)),
            Ok(None) => Ok(Value::Null),
            Err(e) => Err(e),
        })
    }

    async fn block_by_hash(&self, hash: H256, full: Option<bool>) -> RpcResult<Value> {
        answer(match self.index.block_number(&hash) {
            Ok(Some(n)) => self.block_json(n, full.unwrap_or(false)),
            Ok(None) => Ok(Value::Null),
            Err(e) => Err(e.into()),
        })
    }

    async fn tx_count_by_number(&self, number: BlockNumber) -> RpcResult<Value> {
        answer(self.resolve(number).and_then(|n| self.tx_count(n)))
    }

    async fn tx_count_by_hash(&self, hash: H256) -> RpcResult<Value> {
        answer(
            self.index
                .block_number(&hash)
                .map_err(Web3Error::from)
                .and_then(|n| self.tx_count(n)),
        )
    }

    async fn uncle_count_by_number(&self) -> RpcResult<Value> {
        Ok(json!("0x0"))
    }

    async fn uncle_count_by_hash(&self) -> RpcResult<Value> {
        Ok(json!("0x0"))
    }

    async fn block_receipts(&self, block: BlockId) -> RpcResult<Value> {
        answer(self.receipts_json(block))
    }
}

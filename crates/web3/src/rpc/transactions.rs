//! Transactions: submission (`eth_sendRawTransaction`, with the nonces of
//! locally submitted transactions remembered for `pending` counts), and
//! transactions and receipts by hash or position.

use std::time::Instant;

use jsonrpsee::core::RpcResult;
use serde_json::{Value, json};

use super::api::EthTransactionsRpcServer;
use super::{Ctx, Rpc, answer, invalid, lock};
use crate::error::{NonceOrder, RefusalContext, Web3Error, refusal};
use crate::eth;
use crate::types::{BlockNumber, H160, H256, Qty, parse_data};

/// How long a locally submitted nonce is remembered for `pending` counts.
const PENDING_NONCE_TTL: std::time::Duration = std::time::Duration::from_secs(120);
/// Most senders remembered for `pending` counts.
const MAX_PENDING_SENDERS: usize = 10_000;

impl Ctx {
    pub(super) fn pending_nonce(&self, who: &H160) -> Option<u64> {
        let mut p = lock(&self.pending);
        match p.get(who) {
            Some((n, at)) if at.elapsed() < PENDING_NONCE_TTL => Some(*n),
            Some(_) => {
                p.remove(who);
                None
            }
            None => None,
        }
    }

    fn note_pending(&self, who: H160, nonce: u64) {
        let mut p = lock(&self.pending);
        if p.len() >= MAX_PENDING_SENDERS {
            p.retain(|_, (_, at)| at.elapsed() < PENDING_NONCE_TTL);
            if p.len() >= MAX_PENDING_SENDERS {
                return;
            }
        }
        let next = nonce.saturating_add(1);
        let e = p.entry(who).or_insert((next, Instant::now()));
        if e.0 <= next {
            *e = (next, Instant::now());
        }
    }

    /// `eth_sendRawTransaction`. The gateway decodes the transaction and
    /// checks what needs no state; the runtime's check recovers the sender
    /// (once on this node) and tells it back. The gateway recovers it
    /// itself only to word a refusal, or if the runtime does not say.
    async fn send_raw(&self, raw: Vec<u8>) -> Result<Value, Web3Error> {
        let tx = eth::decode_unrecovered(&raw).map_err(Web3Error::server)?;
        // A refusal names the sender; a signature that recovers none is
        // refused for that first.
        let sender =
            |tx: &atoll_evm::tx::Unrecovered| eth::recover_sender(tx).map_err(Web3Error::server);
        let f = tx.fields();
        let small = eth::small;
        let (max_fee, max_tip) = (
            f.max_fee_per_gas.as_ref().map(small),
            f.max_priority_fee_per_gas.as_ref().map(small),
        );
        let fee_cap = max_fee.or(f.gas_price.as_ref().map(small)).unwrap_or(0);
        if f.chain_id.is_none() && !self.config.allow_unprotected_txs {
            // As geth with `rpc.allow-unprotected-txs = false`.
            return Err(Web3Error::server(crate::error::UNPROTECTED_TX));
        }
        let chain_id = self.backend.chain_id().await?;
        if let Some(c) = f.chain_id
            && c != chain_id
        {
            sender(&tx)?;
            return Err(Web3Error::server(format!(
                "invalid chain id: have {c}, want {chain_id}"
            )));
        }
        let (gas_limit, base_fee) = self.fee_params().await?;
        if f.gas_limit > gas_limit {
            sender(&tx)?;
            return Err(Web3Error::server("exceeds block gas limit"));
        }
        let fee_cap_below_base = max_fee.is_some_and(|cap| cap < base_fee);
        if let (Some(cap), Some(tip)) = (max_fee, max_tip)
            && tip > cap
        {
            return Err(Web3Error::server(format!(
                "max priority fee per gas higher than max fee per gas: address {}, maxPriorityFeePerGas: {tip}, maxFeePerGas: {cap}",
                sender(&tx)?
            )));
        }
        if fee_cap_below_base {
            return Err(Web3Error::server(format!(
                "max fee per gas less than block base fee: address {}, maxFeePerGas: {fee_cap}, baseFee: {base_fee}",
                sender(&tx)?
            )));
        }
        // Affordability (gas limit × fee cap + value, as a geth pool asks)
        // is the runtime's check: a refusal comes back as `evm` 6 or `core`
        // 5, "insufficient funds for gas * price + value".
        match self.backend.submit(&raw).await {
            Ok(checked) => {
                let from = match checked {
                    Some(a) => H160::new(a.0),
                    None => sender(&tx)?,
                };
                let tx = eth::with_sender(tx, from);
                self.note_pending(tx.from, tx.nonce);
                let hash = tx.hash;
                self.recent.insert(tx);
                Ok(json!(hash))
            }
            Err(atoll_rpc::ApiError::Tx(t)) => {
                let from = sender(&tx)?;
                let nonce = if t.message.to_ascii_lowercase().contains("nonce") {
                    match self.backend.nonce(&from, None).await {
                        Ok(n) if tx.fields().nonce < n => NonceOrder::Low,
                        Ok(_) => NonceOrder::High,
                        Err(_) => NonceOrder::Unknown,
                    }
                } else {
                    NonceOrder::Unknown
                };
                Err(refusal(
                    &t.module,
                    t.code,
                    &t.message,
                    RefusalContext {
                        nonce,
                        fee_cap_below_base,
                    },
                ))
            }
            Err(e) => Err(crate::backend::query_error(e)),
        }
    }
}

impl Rpc {
    /// The transaction at position `index` of block `n`, if any.
    fn tx_at_json(&self, n: Option<u64>, i: u32) -> Result<Value, Web3Error> {
        Ok(match n {
            Some(n) => self.index.tx_at(n, i)?.map_or(Value::Null, |t| t.to_json()),
            None => Value::Null,
        })
    }
}

#[jsonrpsee::core::async_trait]
impl EthTransactionsRpcServer for Rpc {
    async fn send_raw_transaction(&self, raw: String) -> RpcResult<Value> {
        answer(
            async {
                let raw = parse_data(&raw).map_err(invalid)?;
                self.send_raw(raw).await
            }
            .await,
        )
    }

    async fn transaction_by_hash(&self, hash: H256) -> RpcResult<Value> {
        answer(self.index.tx(&hash).map_err(Web3Error::from))
            .map(|t| t.map_or(Value::Null, |t| t.to_json()))
    }

    async fn transaction_receipt(&self, hash: H256) -> RpcResult<Value> {
        answer(self.index.tx(&hash).map_err(Web3Error::from))
            .map(|t| t.map_or(Value::Null, |t| t.receipt_json()))
    }

    async fn transaction_by_number_and_index(
        &self,
        number: BlockNumber,
        index: Qty,
    ) -> RpcResult<Value> {
        let Ok(i) = u32::try_from(index.0) else {
            return Ok(Value::Null);
        };
        answer(self.resolve(number).and_then(|n| self.tx_at_json(n, i)))
    }

    async fn transaction_by_hash_and_index(&self, hash: H256, index: Qty) -> RpcResult<Value> {
        let Ok(i) = u32::try_from(index.0) else {
            return Ok(Value::Null);
        };
        answer(
            self.index
                .block_number(&hash)
                .map_err(Web3Error::from)
                .and_then(|n| self.tx_at_json(n, i)),
        )
    }
}

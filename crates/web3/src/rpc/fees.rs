//! Fees: the gas price, the suggested tip and the fee history.

use jsonrpsee::core::RpcResult;
use serde_json::{Value, json};

use super::api::EthFeesRpcServer;
use super::{Ctx, Rpc, answer, invalid};
use crate::error::Web3Error;
use crate::model::{BlockRecord, TxRecord};
use crate::types::{BlockNumber, Qty, qty};

/// Most blocks `eth_feeHistory` covers.
const MAX_FEE_HISTORY: u64 = 1024;
/// Most percentiles `eth_feeHistory` takes.
const MAX_PERCENTILES: usize = 100;

impl Ctx {
    fn fee_history_json(
        &self,
        count: u64,
        newest: BlockNumber,
        percentiles: &[f64],
    ) -> Result<Value, Web3Error> {
        if percentiles.len() > MAX_PERCENTILES {
            return Err(invalid(format!("at most {MAX_PERCENTILES} percentiles")));
        }
        let mut prev = -1.0f64;
        for p in percentiles {
            if !(0.0..=100.0).contains(p) || *p < prev {
                return Err(invalid(
                    "reward percentiles must be ascending values in [0, 100]",
                ));
            }
            prev = *p;
        }
        let count = count.min(MAX_FEE_HISTORY);
        let (Some(last), Some(first)) = (self.last()?, self.index.first()?) else {
            return Ok(json!({ "oldestBlock": "0x0", "baseFeePerGas": [], "gasUsedRatio": [] }));
        };
        let newest = self.resolve(newest)?.unwrap_or(last);
        if newest > last {
            return Err(invalid(format!(
                "request beyond head block: requested {newest}, head {last}"
            )));
        }
        if count == 0 || newest < first {
            return Ok(
                json!({ "oldestBlock": qty(newest.into()), "baseFeePerGas": [], "gasUsedRatio": [] }),
            );
        }
        let oldest = newest.saturating_sub(count - 1).max(first);
        let mut base_fees = Vec::new();
        let mut ratios = Vec::new();
        let mut rewards = Vec::new();
        let mut next_base = 0u128;
        for n in oldest..=newest {
            let Some(b) = self.index.block(n)? else {
                continue;
            };
            base_fees.push(json!(b.base_fee));
            next_base = b.base_fee.0;
            ratios.push(if b.gas_limit == 0 {
                0.0
            } else {
                b.gas_used as f64 / b.gas_limit as f64
            });
            if !percentiles.is_empty() {
                let txs = if b.transactions.is_empty() {
                    Vec::new()
                } else {
                    self.index.block_txs(n)?
                };
                rewards.push(block_rewards(&b, &txs, percentiles));
            }
        }
        // The next block's base fee: the latest minimum gas price.
        if newest == last {
            base_fees.push(json!(Qty(next_base)));
        } else if let Some(b) = self.index.block(newest.saturating_add(1))? {
            base_fees.push(json!(b.base_fee));
        }
        let mut out = json!({
            "oldestBlock": qty(oldest.into()),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
        });
        if !percentiles.is_empty()
            && let Some(m) = out.as_object_mut()
        {
            m.insert("reward".into(), json!(rewards));
        }
        Ok(out)
    }
}

/// Per percentile, the tip (effective price above the base fee) of the
/// transaction at that share of the block's gas, lowest tips first (geth's
/// method). Zero for an empty block.
fn block_rewards(b: &BlockRecord, txs: &[TxRecord], percentiles: &[f64]) -> Vec<Value> {
    let mut tips: Vec<(u128, u64)> = txs
        .iter()
        .map(|t| {
            (
                t.effective_gas_price.0.saturating_sub(b.base_fee.0),
                t.gas_used,
            )
        })
        .collect();
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|(_, g)| *g).sum();
    percentiles
        .iter()
        .map(|p| {
            if tips.is_empty() {
                return json!(Qty(0));
            }
            let threshold = (total as f64) * p / 100.0;
            let mut sum = 0u64;
            for (tip, gas) in &tips {
                sum = sum.saturating_add(*gas);
                if sum as f64 >= threshold {
                    return json!(Qty(*tip));
                }
            }
            json!(Qty(tips.last().map_or(0, |t| t.0)))
        })
        .collect()
}

#[jsonrpsee::core::async_trait]
impl EthFeesRpcServer for Rpc {
    async fn gas_price(&self) -> RpcResult<Value> {
        // The minimum gas price (the base fee) plus the suggested tip (0):
        // a block is never contended enough for more to buy inclusion.
        answer(self.fee_params().await).map(|(_, base)| json!(Qty(base)))
    }

    async fn max_priority_fee_per_gas(&self) -> RpcResult<Value> {
        Ok(json!(Qty(0)))
    }

    async fn fee_history(
        &self,
        block_count: Qty,
        newest: BlockNumber,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<Value> {
        answer(
            block_count
                .to_u64("blockCount")
                .map_err(invalid)
                .and_then(|count| {
                    self.fee_history_json(count, newest, &percentiles.unwrap_or_default())
                }),
        )
    }
}

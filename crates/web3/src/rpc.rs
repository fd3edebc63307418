//! The JSON-RPC methods.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::time::Instant;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::server::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::Web3Config;
use crate::backend::{Backend, SimulateCall};
use crate::error::{NonceOrder, RefusalContext, Web3Error, refusal};
use crate::eth;
use crate::eth::RecentTxs;
use crate::filter::LogFilter;
use crate::index::Index;
use crate::indexer::IndexedBlock;
use crate::installed::{FilterKind, Filters, filter_id_json, parse_filter_id};
use crate::model::{BlockRecord, TxRecord};
use crate::types::{
    BlockId, BlockNumber, BlockTag, Bytes, CallRequest, FilterRequest, H160, H256, Qty, U256,
    parse_data, qty,
};

type RpcResult = Result<Value, ErrorObjectOwned>;

/// How long a locally submitted nonce is remembered for `pending` counts.
const PENDING_NONCE_TTL: std::time::Duration = std::time::Duration::from_secs(120);
/// Most senders remembered for `pending` counts.
const MAX_PENDING_SENDERS: usize = 10_000;
/// Most blocks `eth_feeHistory` covers.
const MAX_FEE_HISTORY: u64 = 1024;
/// Most percentiles `eth_feeHistory` takes.
const MAX_PERCENTILES: usize = 100;

/// What the methods share.
pub(crate) struct Ctx {
    pub backend: Backend,
    pub index: Arc<Index>,
    pub blocks: broadcast::Sender<Arc<IndexedBlock>>,
    pub config: Web3Config,
    pub filters: Mutex<Filters>,
    /// sender → (next nonce after its locally submitted transactions, when).
    pub pending: Mutex<HashMap<H160, (u64, Instant)>>,
    /// Transactions accepted here, for the indexer (no second recovery).
    pub recent: Arc<RecentTxs>,
    /// The latest block's number, gas limit and base fee, as
    /// `fee_params` last read them.
    pub fee_cache: Mutex<Option<(u64, u64, u128)>>,
}

fn invalid(why: impl Into<String>) -> Web3Error {
    Web3Error::InvalidParams(why.into())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
}

/// Positional parameters: each parsed with an Ethereum-style message.
struct Args {
    values: Vec<Value>,
}

impl Args {
    fn new(p: &Params<'_>) -> Result<Self, Web3Error> {
        let values = match p.as_str() {
            None => Vec::new(),
            Some(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => a,
                Ok(Value::Null) => Vec::new(),
                Ok(_) => return Err(invalid("parameters must be an array")),
                Err(e) => return Err(invalid(e.to_string())),
            },
        };
        Ok(Self { values })
    }

    fn opt<T: DeserializeOwned>(&self, i: usize) -> Result<Option<T>, Web3Error> {
        match self.values.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| invalid(format!("{i}: {e}"))),
        }
    }

    fn req<T: DeserializeOwned>(&self, i: usize) -> Result<T, Web3Error> {
        self.opt(i)?
            .ok_or_else(|| invalid(format!("{i}: missing value for required argument")))
    }

    fn at_most(&self, n: usize) -> Result<(), Web3Error> {
        if self.values.len() > n {
            return Err(invalid(format!(
                "too many arguments, want at most {n}, got {}",
                self.values.len()
            )));
        }
        Ok(())
    }
}

impl Ctx {
    fn last(&self) -> Result<Option<u64>, Web3Error> {
        Ok(self.index.last()?)
    }

    /// The block a number or tag names (`None`: nothing indexed yet).
    fn resolve(&self, n: BlockNumber) -> Result<Option<u64>, Web3Error> {
        Ok(match n {
            BlockNumber::Number(n) => Some(n),
            BlockNumber::Tag(BlockTag::Earliest) => self.index.first()?,
            BlockNumber::Tag(_) => self.last()?,
        })
    }

    fn resolve_id(&self, id: BlockId) -> Result<Option<u64>, Web3Error> {
        match id {
            BlockId::Number(n) => self.resolve(n),
            BlockId::Hash(h) => Ok(self.index.block_number(&h)?),
        }
    }

    /// The round whose state a state query at `id` reads: `None` for the
    /// latest state (`latest`, `pending`, `safe`, `finalized`, or no block
    /// given), else the indexed block's round (by number, `earliest`, hash,
    /// or EIP-1898 object; every indexed block is canonical). A block after
    /// the last indexed one, or a hash not indexed, is "header not found",
    /// as geth says.
    fn state_round(&self, id: Option<BlockId>) -> Result<Option<u64>, Web3Error> {
        let not_found = || Web3Error::server("header not found");
        let n = match id.unwrap_or_default() {
            BlockId::Number(BlockNumber::Tag(
                BlockTag::Latest | BlockTag::Pending | BlockTag::Safe | BlockTag::Finalized,
            )) => return Ok(None),
            BlockId::Number(BlockNumber::Tag(BlockTag::Earliest)) => {
                self.index.first()?.ok_or_else(not_found)?
            }
            BlockId::Number(BlockNumber::Number(n)) => n,
            BlockId::Hash(h) => self.index.block_number(&h)?.ok_or_else(not_found)?,
        };
        match self.last()? {
            Some(last) if n <= last => Ok(Some(n)),
            _ => Err(not_found()),
        }
    }

    fn block_json(&self, number: u64, full: bool) -> Result<Value, Web3Error> {
        let Some(b) = self.index.block(number)? else {
            return Ok(Value::Null);
        };
        Ok(if full {
            let txs = self.index.block_txs(number)?;
            b.to_json(Some(&txs))
        } else {
            b.to_json(None)
        })
    }

    /// The gas limit and base fee now: the latest block's, else the
    /// runtime's.
    async fn fee_params(&self) -> Result<(u64, u128), Web3Error> {
        if let Some(last) = self.last()? {
            // Every submission asks; the block record is read (and its
            // transaction list decoded) once per block.
            let cached = *lock(&self.fee_cache);
            if let Some((n, gas_limit, base_fee)) = cached
                && n == last
            {
                return Ok((gas_limit, base_fee));
            }
            if let Some(b) = self.index.block(last)?
                && b.gas_limit > 0
            {
                *lock(&self.fee_cache) = Some((last, b.gas_limit, b.base_fee.0));
                return Ok((b.gas_limit, b.base_fee.0));
            }
        }
        Ok((
            self.backend.gas_limit().await?,
            self.backend.min_gas_price().await?,
        ))
    }

    fn pending_nonce(&self, who: &H160) -> Option<u64> {
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

    fn call_of(&self, req: &CallRequest, gas_cap: u64) -> Result<SimulateCall, Web3Error> {
        let gas = match req.gas {
            Some(g) => g.to_u64("gas").map_err(invalid)?.min(gas_cap),
            None => gas_cap,
        };
        let price = req.gas_price.or(req.max_fee_per_gas).map_or(0, |q| q.0);
        Ok(SimulateCall {
            gas_price: U256::from_u128(price),
            gas_limit: gas,
            caller: req.from.unwrap_or_default(),
            address: req.to,
            value: req.value.unwrap_or_default(),
            data: req.call_data(),
            access_list: req.access_list.clone().unwrap_or_default(),
        })
    }

    async fn check_call_chain(&self, req: &CallRequest) -> Result<(), Web3Error> {
        if let Some(c) = req.chain_id {
            let want = self.backend.chain_id().await?;
            if c.0 != u128::from(want) {
                return Err(Web3Error::server(format!(
                    "invalid chain id: have {}, want {want}",
                    c.0
                )));
            }
        }
        Ok(())
    }

    /// The logs of blocks `from..=to` matching `filter`.
    fn logs(&self, from: u64, to: u64, filter: &LogFilter) -> Result<Vec<Value>, Web3Error> {
        let mut out = Vec::new();
        for n in from..=to {
            let Some(b) = self.index.block(n)? else {
                continue;
            };
            if !filter.may_match(&b.logs_bloom) {
                continue;
            }
            for tx in self.index.block_txs(n)? {
                for l in tx.log_views() {
                    if filter.matches(&l.log.address, &l.log.topics) {
                        if out.len() >= self.config.max_logs {
                            return Err(Web3Error::Limit(format!(
                                "query returned more than {} results",
                                self.config.max_logs
                            )));
                        }
                        out.push(l.to_json());
                    }
                }
            }
        }
        Ok(out)
    }

    /// The block range of a filter request, checked against the limit.
    fn filter_range(&self, req: &FilterRequest) -> Result<Option<(u64, u64)>, Web3Error> {
        if let Some(h) = req.block_hash {
            if req.from_block.is_some() || req.to_block.is_some() {
                return Err(invalid(
                    "cannot specify both blockHash and fromBlock/toBlock, choose one or the other",
                ));
            }
            let n = self
                .index
                .block_number(&h)?
                .ok_or_else(|| Web3Error::server("unknown block"))?;
            return Ok(Some((n, n)));
        }
        let Some(last) = self.last()? else {
            return Ok(None);
        };
        let from = self
            .resolve(req.from_block.unwrap_or_default())?
            .unwrap_or(last);
        let to = self
            .resolve(req.to_block.unwrap_or_default())?
            .unwrap_or(last)
            .min(last);
        if from > to {
            if from > last {
                return Ok(None);
            }
            return Err(invalid("invalid block range params"));
        }
        if to - from >= self.config.max_log_rounds {
            return Err(Web3Error::Limit(format!(
                "block range too large: at most {} blocks per query",
                self.config.max_log_rounds
            )));
        }
        Ok(Some((from, to)))
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
                    Some(a) => H160(a.0),
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

    fn fee_history(
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

fn ok(v: Result<Value, Web3Error>) -> RpcResult {
    v.map_err(ErrorObjectOwned::from)
}

/// Registers a method whose body is an async block over (args, ctx).
macro_rules! method {
    ($m:expr, $name:literal, |$args:ident, $ctx:ident| $body:expr) => {
        $m.register_async_method($name, |p, $ctx, _| async move {
            let $args = match Args::new(&p) {
                Ok(a) => a,
                Err(e) => return Err(ErrorObjectOwned::from(e)),
            };
            let r: Result<Value, Web3Error> = async { $body }.await;
            ok(r)
        })?;
    };
}

pub(crate) fn methods(ctx: Ctx) -> Result<RpcModule<Ctx>, RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    method!(m, "web3_clientVersion", |a, ctx| {
        a.at_most(0)?;
        Ok(json!(ctx.config.client_version))
    });
    method!(m, "web3_sha3", |a, _ctx| {
        a.at_most(1)?;
        let data: Bytes = a.req(0)?;
        Ok(json!(H256(atoll_crypto::keccak256(&data.0))))
    });
    method!(m, "net_version", |a, ctx| {
        a.at_most(0)?;
        Ok(json!(ctx.backend.chain_id().await?.to_string()))
    });
    method!(m, "net_listening", |_a, _ctx| Ok(json!(true)));
    method!(m, "net_peerCount", |_a, _ctx| Ok(json!("0x0")));
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
    method!(m, "eth_gasPrice", |a, ctx| {
        a.at_most(0)?;
        // The minimum gas price (the base fee) plus the suggested tip (0):
        // a block is never contended enough for more to buy inclusion.
        let (_, base) = ctx.fee_params().await?;
        Ok(json!(Qty(base)))
    });
    method!(m, "eth_maxPriorityFeePerGas", |a, _ctx| {
        a.at_most(0)?;
        Ok(json!(Qty(0)))
    });
    method!(m, "eth_feeHistory", |a, ctx| {
        a.at_most(3)?;
        let count: Qty = a.req(0)?;
        let newest: BlockNumber = a.req(1)?;
        let percentiles: Option<Vec<f64>> = a.opt(2)?;
        ctx.fee_history(
            count.to_u64("blockCount").map_err(invalid)?,
            newest,
            &percentiles.unwrap_or_default(),
        )
    });
    method!(m, "eth_getBalance", |a, ctx| {
        a.at_most(2)?;
        let who: H160 = a.req(0)?;
        let at = ctx.state_round(a.opt(1)?)?;
        Ok(json!(ctx.backend.balance(&who, at).await?))
    });
    method!(m, "eth_getTransactionCount", |a, ctx| {
        a.at_most(2)?;
        let who: H160 = a.req(0)?;
        let id: Option<BlockId> = a.opt(1)?;
        let at = ctx.state_round(id)?;
        let mut n = ctx.backend.nonce(&who, at).await?;
        if id == Some(BlockId::Number(BlockNumber::Tag(BlockTag::Pending)))
            && let Some(p) = ctx.pending_nonce(&who)
        {
            n = n.max(p);
        }
        Ok(json!(qty(n.into())))
    });
    method!(m, "eth_getCode", |a, ctx| {
        a.at_most(2)?;
        let who: H160 = a.req(0)?;
        let at = ctx.state_round(a.opt(1)?)?;
        Ok(json!(Bytes(ctx.backend.code(&who, at).await?)))
    });
    method!(m, "eth_getStorageAt", |a, ctx| {
        a.at_most(3)?;
        let who: H160 = a.req(0)?;
        let slot: U256 = a.req(1)?;
        let at = ctx.state_round(a.opt(2)?)?;
        Ok(json!(ctx.backend.storage(&who, &H256(slot.0), at).await?))
    });
    method!(m, "eth_call", |a, ctx| {
        // A third argument (state overrides) is accepted and ignored.
        a.at_most(3)?;
        let req: CallRequest = a.req(0)?;
        let at = ctx.state_round(a.opt(1)?)?;
        ctx.check_call_chain(&req).await?;
        let (gas_limit, _) = ctx.fee_params().await?;
        let cap = ctx.config.gas_cap.min(gas_limit.max(1));
        let call = ctx.call_of(&req, cap)?;
        Ok(json!(Bytes(ctx.backend.simulate_call(&call, at).await?)))
    });
    method!(m, "eth_estimateGas", |a, ctx| {
        a.at_most(3)?;
        let req: CallRequest = a.req(0)?;
        let at = ctx.state_round(a.opt(1)?)?;
        ctx.check_call_chain(&req).await?;
        let (gas_limit, _) = ctx.fee_params().await?;
        // The search is bounded by the gas cap (and the call's own gas).
        let cap = ctx.config.gas_cap.min(gas_limit.max(1));
        let call = ctx.call_of(&req, cap)?;
        Ok(json!(qty(ctx
            .backend
            .estimate_gas(&call, at)
            .await?
            .into())))
    });
    method!(m, "eth_sendRawTransaction", |a, ctx| {
        a.at_most(1)?;
        let raw: String = a.req(0)?;
        let raw = parse_data(&raw).map_err(invalid)?;
        ctx.send_raw(raw).await
    });
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
    method!(m, "eth_getTransactionByHash", |a, ctx| {
        a.at_most(1)?;
        let h: H256 = a.req(0)?;
        Ok(ctx.index.tx(&h)?.map_or(Value::Null, |t| t.to_json()))
    });
    method!(m, "eth_getTransactionReceipt", |a, ctx| {
        a.at_most(1)?;
        let h: H256 = a.req(0)?;
        Ok(ctx.index.tx(&h)?.map_or(Value::Null, |t| t.receipt_json()))
    });
    method!(m, "eth_getTransactionByBlockNumberAndIndex", |a, ctx| {
        a.at_most(2)?;
        let n: BlockNumber = a.req(0)?;
        let i: Qty = a.req(1)?;
        let Ok(i) = u32::try_from(i.0) else {
            return Ok(Value::Null);
        };
        Ok(match ctx.resolve(n)? {
            Some(n) => ctx.index.tx_at(n, i)?.map_or(Value::Null, |t| t.to_json()),
            None => Value::Null,
        })
    });
    method!(m, "eth_getTransactionByBlockHashAndIndex", |a, ctx| {
        a.at_most(2)?;
        let h: H256 = a.req(0)?;
        let i: Qty = a.req(1)?;
        let Ok(i) = u32::try_from(i.0) else {
            return Ok(Value::Null);
        };
        Ok(match ctx.index.block_number(&h)? {
            Some(n) => ctx.index.tx_at(n, i)?.map_or(Value::Null, |t| t.to_json()),
            None => Value::Null,
        })
    });
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
    method!(m, "eth_getLogs", |a, ctx| {
        a.at_most(1)?;
        let req: FilterRequest = a.req(0)?;
        let filter = LogFilter::from_request(&req).map_err(invalid)?;
        Ok(match ctx.filter_range(&req)? {
            Some((from, to)) => json!(ctx.logs(from, to, &filter)?),
            None => json!([]),
        })
    });
    method!(m, "eth_newFilter", |a, ctx| {
        a.at_most(1)?;
        let req: FilterRequest = a.req(0)?;
        if req.block_hash.is_some() {
            return Err(invalid("blockHash is not supported in installed filters"));
        }
        let filter = LogFilter::from_request(&req).map_err(invalid)?;
        let last = ctx.last()?;
        install(
            &ctx,
            FilterKind::Logs {
                filter,
                from: req.from_block,
                to: req.to_block,
            },
            last,
        )
    });
    method!(m, "eth_newBlockFilter", |a, ctx| {
        a.at_most(0)?;
        let last = ctx.last()?;
        install(&ctx, FilterKind::Blocks, last)
    });
    method!(m, "eth_newPendingTransactionFilter", |_a, ctx| {
        let last = ctx.last()?;
        install(&ctx, FilterKind::PendingTxs, last)
    });
    method!(m, "eth_uninstallFilter", |a, ctx| {
        a.at_most(1)?;
        let id: String = a.req(0)?;
        let id = parse_filter_id(&id).map_err(invalid)?;
        Ok(json!(lock(&ctx.filters).uninstall(&id)))
    });
    method!(m, "eth_getFilterChanges", |a, ctx| {
        a.at_most(1)?;
        let id: String = a.req(0)?;
        let id = parse_filter_id(&id).map_err(invalid)?;
        filter_changes(&ctx, &id)
    });
    method!(m, "eth_getFilterLogs", |a, ctx| {
        a.at_most(1)?;
        let id: String = a.req(0)?;
        let id = parse_filter_id(&id).map_err(invalid)?;
        let f = lock(&ctx.filters)
            .poll(&id)
            .ok_or_else(|| Web3Error::server("filter not found"))?;
        match f.kind {
            FilterKind::Logs { filter, from, to } => {
                let req = FilterRequest {
                    from_block: from,
                    to_block: to,
                    ..FilterRequest::default()
                };
                Ok(match ctx.filter_range(&req)? {
                    Some((from, to)) => json!(ctx.logs(from, to, &filter)?),
                    None => json!([]),
                })
            }
            _ => Err(Web3Error::server("filter not found")),
        }
    });
    m.register_subscription(
        "eth_subscribe",
        "eth_subscription",
        "eth_unsubscribe",
        |p, pending, ctx, _| async move { subscribe(p, pending, ctx).await },
    )?;
    Ok(m)
}

fn install(ctx: &Ctx, kind: FilterKind, last: Option<u64>) -> Result<Value, Web3Error> {
    let id = lock(&ctx.filters).install(kind, last).ok_or_else(|| {
        Web3Error::Limit(format!(
            "too many installed filters (at most {})",
            ctx.config.max_filters
        ))
    })?;
    Ok(json!(filter_id_json(&id)))
}

fn filter_changes(ctx: &Ctx, id: &H256) -> Result<Value, Web3Error> {
    let f = lock(&ctx.filters)
        .poll(id)
        .ok_or_else(|| Web3Error::server("filter not found"))?;
    let Some(last) = ctx.last()? else {
        return Ok(json!([]));
    };
    let from = match f.last_block {
        Some(l) => l.saturating_add(1),
        None => ctx.index.first()?.unwrap_or(0),
    };
    if from > last {
        return Ok(json!([]));
    }
    // Bounded work per poll; the rest comes with the next poll.
    let to = last.min(from.saturating_add(ctx.config.max_log_rounds.saturating_sub(1)));
    let out = match &f.kind {
        FilterKind::Blocks => {
            let mut hashes = Vec::new();
            for n in from..=to {
                if let Some(b) = ctx.index.block(n)? {
                    hashes.push(json!(b.hash));
                }
            }
            json!(hashes)
        }
        FilterKind::Logs {
            filter,
            from: f_from,
            to: f_to,
        } => {
            let lo = match f_from {
                Some(BlockNumber::Number(n)) => from.max(*n),
                _ => from,
            };
            let hi = match f_to {
                Some(BlockNumber::Number(n)) => to.min(*n),
                _ => to,
            };
            if lo > hi {
                json!([])
            } else {
                json!(ctx.logs(lo, hi, filter)?)
            }
        }
        FilterKind::PendingTxs => json!([]),
    };
    lock(&ctx.filters).advance(id, to);
    Ok(out)
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

/// Ids of subscriptions: 16 random bytes as a `0x` quantity (as geth).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HexIds;

impl jsonrpsee::server::IdProvider for HexIds {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let mut b = [0u8; 16];
        atoll_crypto::fill_random(&mut b);
        jsonrpsee::types::SubscriptionId::Str(crate::types::qty_be(&b).into())
    }
}

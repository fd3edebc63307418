//! The JSON-RPC methods, one module per concern: [`net`] (`web3_`, `net_`),
//! [`blocks`] (the chain and its blocks), [`state`] (balances, nonces, code,
//! storage, calls and estimates), [`transactions`] (submission, transactions
//! and receipts), [`fees`], [`filters`] (logs and installed filters) and
//! [`subscriptions`]. What they share is here: the context ([`Ctx`]), the
//! positional parameters ([`Args`], geth's messages and arity checks) and
//! the block resolution of state queries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use parking_lot::{Mutex, MutexGuard};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::Web3Config;
use crate::backend::Backend;
use crate::error::Web3Error;
use crate::eth::RecentTxs;
use crate::index::Index;
use crate::indexer::IndexedBlock;
use crate::installed::Filters;
use crate::types::{BlockId, BlockNumber, BlockTag, H160};

type RpcResult = Result<Value, ErrorObjectOwned>;

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
}

fn ok(v: Result<Value, Web3Error>) -> RpcResult {
    v.map_err(ErrorObjectOwned::from)
}

/// Registers a method whose body is an async block over (args, ctx).
macro_rules! method {
    ($m:expr, $name:literal, |$args:ident, $ctx:ident| $body:expr) => {
        $m.register_async_method($name, |p, $ctx, _| async move {
            let $args = match $crate::rpc::Args::new(&p) {
                Ok(a) => a,
                Err(e) => return Err(jsonrpsee::types::ErrorObjectOwned::from(e)),
            };
            let r: Result<serde_json::Value, $crate::error::Web3Error> = async { $body }.await;
            $crate::rpc::ok(r)
        })?;
    };
}

mod blocks;
mod fees;
mod filters;
mod net;
mod state;
mod subscriptions;
mod transactions;

/// Every method, registered on one module over `ctx`.
pub(crate) fn methods(ctx: Ctx) -> Result<RpcModule<Ctx>, RegisterMethodError> {
    let mut m = RpcModule::new(ctx);
    net::register(&mut m)?;
    blocks::register(&mut m)?;
    state::register(&mut m)?;
    transactions::register(&mut m)?;
    fees::register(&mut m)?;
    filters::register(&mut m)?;
    subscriptions::register(&mut m)?;
    Ok(m)
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

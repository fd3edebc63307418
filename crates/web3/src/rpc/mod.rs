//! The JSON-RPC methods, one module per concern: [`net`] (`web3_`, `net_`),
//! [`blocks`] (the chain and its blocks), [`state`] (balances, nonces, code,
//! storage, calls and estimates), [`transactions`] (submission, transactions
//! and receipts), [`fees`], [`filters`] (logs and installed filters) and
//! [`subscriptions`], each implementing its trait of [`api`]. geth's
//! positional parameters (arity, positions, messages) are checked before a
//! method runs, from one table ([`params::METHODS`]). What the methods
//! share is here: the context ([`Ctx`]) and the block resolution of state
//! queries.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::core::RpcResult;
use jsonrpsee::server::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use parking_lot::{Mutex, MutexGuard};
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
    /// The gateway's metrics.
    pub metrics: Arc<crate::metrics::Web3Metrics>,
}

impl crate::metrics::Observe for Ctx {
    fn observe(&self) -> (Option<u64>, usize) {
        // An index that cannot be read shows as empty.
        let height = self.index.last().ok().flatten();
        (height, lock(&self.filters).live())
    }
}

fn invalid(why: impl Into<String>) -> Web3Error {
    Web3Error::InvalidParams(why.into())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
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

/// The methods' receiver: the shared context, behind one `Arc` for all
/// the traits of [`api`].
#[derive(Clone)]
pub(crate) struct Rpc(Arc<Ctx>);

impl std::ops::Deref for Rpc {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.0
    }
}

/// A method's answer: a [`Web3Error`] becomes its JSON-RPC error.
fn answer<T>(r: Result<T, Web3Error>) -> RpcResult<T> {
    r.map_err(ErrorObjectOwned::from)
}

pub(crate) mod api;
mod blocks;
mod fees;
mod filters;
mod net;
pub(crate) mod params;
mod state;
mod subscriptions;
mod transactions;

/// Every method of every trait of [`api`], on one module over `ctx`.
/// Refused (a programming error) unless the module serves exactly the
/// methods of [`params::METHODS`] and the subscription's `eth_unsubscribe`.
pub(crate) fn methods(ctx: Arc<Ctx>) -> Result<RpcModule<()>, String> {
    use api::{
        EthBlocksRpcServer, EthFeesRpcServer, EthFiltersRpcServer, EthPubSubRpcServer,
        EthStateRpcServer, EthTransactionsRpcServer, NetRpcServer, Web3RpcServer,
    };
    let rpc = Rpc(ctx);
    let mut m = RpcModule::new(());
    let merge = |m: &mut RpcModule<()>, other: RpcModule<Rpc>| {
        m.merge(other)
            .map_err(|e: RegisterMethodError| e.to_string())
    };
    merge(&mut m, Web3RpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, NetRpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, EthBlocksRpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, EthStateRpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, EthTransactionsRpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, EthFeesRpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, EthFiltersRpcServer::into_rpc(rpc.clone()))?;
    merge(&mut m, EthPubSubRpcServer::into_rpc(rpc))?;
    let served: BTreeSet<&str> = m.method_names().collect();
    let declared: BTreeSet<&str> = params::METHODS
        .iter()
        .map(|(name, _)| *name)
        .chain([params::UNSUBSCRIBE])
        .collect();
    if served != declared {
        return Err(format!(
            "the parameter table and the methods differ: served only {:?}, declared only {:?}",
            served.difference(&declared).collect::<Vec<_>>(),
            declared.difference(&served).collect::<Vec<_>>()
        ));
    }
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

//! Logs and installed filters: `eth_getLogs`, `eth_newFilter`,
//! `eth_newBlockFilter`, `eth_newPendingTransactionFilter`, polling and
//! uninstalling.

use jsonrpsee::core::RpcResult;
use serde_json::{Value, json};

use super::api::EthFiltersRpcServer;
use super::{Ctx, Rpc, answer, invalid, lock};
use crate::error::Web3Error;
use crate::filter::LogFilter;
use crate::installed::{FilterKind, filter_id_json, parse_filter_id};
use crate::types::{BlockNumber, FilterRequest, H256};

impl Ctx {
    /// The logs of blocks `from..=to` matching `filter`.
    pub(super) fn matching_logs(
        &self,
        from: u64,
        to: u64,
        filter: &LogFilter,
    ) -> Result<Vec<Value>, Web3Error> {
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
}

impl Rpc {
    /// The logs a request asks for (none when nothing is indexed).
    fn logs_json(&self, req: &FilterRequest, filter: &LogFilter) -> Result<Value, Web3Error> {
        Ok(match self.filter_range(req)? {
            Some((from, to)) => json!(self.matching_logs(from, to, filter)?),
            None => json!([]),
        })
    }

    fn new_filter_json(&self, req: FilterRequest) -> Result<Value, Web3Error> {
        if req.block_hash.is_some() {
            return Err(invalid("blockHash is not supported in installed filters"));
        }
        let filter = LogFilter::from_request(&req).map_err(invalid)?;
        let last = self.last()?;
        install(
            self,
            FilterKind::Logs {
                filter,
                from: req.from_block,
                to: req.to_block,
            },
            last,
        )
    }

    fn filter_logs_json(&self, id: &H256) -> Result<Value, Web3Error> {
        let f = lock(&self.filters)
            .poll(id)
            .ok_or_else(|| Web3Error::server("filter not found"))?;
        match f.kind {
            FilterKind::Logs { filter, from, to } => {
                let req = FilterRequest {
                    from_block: from,
                    to_block: to,
                    ..FilterRequest::default()
                };
                self.logs_json(&req, &filter)
            }
            _ => Err(Web3Error::server("filter not found")),
        }
    }
}

#[jsonrpsee::core::async_trait]
impl EthFiltersRpcServer for Rpc {
    async fn logs(&self, filter: FilterRequest) -> RpcResult<Value> {
        answer(
            LogFilter::from_request(&filter)
                .map_err(invalid)
                .and_then(|f| self.logs_json(&filter, &f)),
        )
    }

    async fn new_filter(&self, filter: FilterRequest) -> RpcResult<Value> {
        answer(self.new_filter_json(filter))
    }

    async fn new_block_filter(&self) -> RpcResult<Value> {
        answer(
            self.last()
                .and_then(|last| install(self, FilterKind::Blocks, last)),
        )
    }

    async fn new_pending_transaction_filter(&self) -> RpcResult<Value> {
        answer(
            self.last()
                .and_then(|last| install(self, FilterKind::PendingTxs, last)),
        )
    }

    async fn uninstall_filter(&self, id: String) -> RpcResult<Value> {
        answer(parse_filter_id(&id).map_err(invalid))
            .map(|id| json!(lock(&self.filters).uninstall(&id)))
    }

    async fn filter_changes(&self, id: String) -> RpcResult<Value> {
        answer(
            parse_filter_id(&id)
                .map_err(invalid)
                .and_then(|id| filter_changes(self, &id)),
        )
    }

    async fn filter_logs(&self, id: String) -> RpcResult<Value> {
        answer(
            parse_filter_id(&id)
                .map_err(invalid)
                .and_then(|id| self.filter_logs_json(&id)),
        )
    }
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
                json!(ctx.matching_logs(lo, hi, filter)?)
            }
        }
        FilterKind::PendingTxs => json!([]),
    };
    lock(&ctx.filters).advance(id, to);
    Ok(out)
}

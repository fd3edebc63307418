//! State at a block: balance, nonce, code, storage, and simulated calls
//! (`eth_call`, `eth_estimateGas`).

use jsonrpsee::core::RpcResult;
use serde_json::{Value, json};

use super::api::EthStateRpcServer;
use super::{Ctx, Rpc, answer, invalid};
use crate::backend::SimulateCall;
use crate::error::Web3Error;
use crate::types::{BlockId, BlockNumber, BlockTag, Bytes, CallRequest, H160, H256, U256, qty};

impl Ctx {
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
}

impl Rpc {
    /// The call of `eth_call` or `eth_estimateGas`, with its gas capped.
    async fn checked_call(
        &self,
        request: &CallRequest,
        block: Option<BlockId>,
    ) -> Result<(SimulateCall, Option<u64>), Web3Error> {
        let at = self.state_round(block)?;
        self.check_call_chain(request).await?;
        let (gas_limit, _) = self.fee_params().await?;
        // The estimate's search is bounded by the gas cap (and the call's
        // own gas) too.
        let cap = self.config.gas_cap.min(gas_limit.max(1));
        Ok((self.call_of(request, cap)?, at))
    }

    async fn nonce_json(&self, who: H160, id: Option<BlockId>) -> Result<Value, Web3Error> {
        let at = self.state_round(id)?;
        let mut n = self.backend.nonce(&who, at).await?;
        if id == Some(BlockId::Number(BlockNumber::Tag(BlockTag::Pending)))
            && let Some(p) = self.pending_nonce(&who)
        {
            n = n.max(p);
        }
        Ok(json!(qty(n.into())))
    }
}

#[jsonrpsee::core::async_trait]
impl EthStateRpcServer for Rpc {
    async fn balance(&self, address: H160, block: Option<BlockId>) -> RpcResult<Value> {
        answer(
            async {
                let at = self.state_round(block)?;
                Ok(json!(self.backend.balance(&address, at).await?))
            }
            .await,
        )
    }

    async fn transaction_count(&self, address: H160, block: Option<BlockId>) -> RpcResult<Value> {
        answer(self.nonce_json(address, block).await)
    }

    async fn code(&self, address: H160, block: Option<BlockId>) -> RpcResult<Value> {
        answer(
            async {
                let at = self.state_round(block)?;
                Ok(json!(Bytes::from(self.backend.code(&address, at).await?)))
            }
            .await,
        )
    }

    async fn storage_at(
        &self,
        address: H160,
        slot: U256,
        block: Option<BlockId>,
    ) -> RpcResult<Value> {
        answer(
            async {
                let at = self.state_round(block)?;
                Ok(json!(
                    self.backend
                        .storage(&address, &H256(slot.0.into()), at)
                        .await?
                ))
            }
            .await,
        )
    }

    async fn call(
        &self,
        request: CallRequest,
        block: Option<BlockId>,
        _overrides: Option<Value>,
    ) -> RpcResult<Value> {
        answer(
            async {
                let (call, at) = self.checked_call(&request, block).await?;
                Ok(json!(Bytes::from(
                    self.backend.simulate_call(&call, at).await?
                )))
            }
            .await,
        )
    }

    async fn estimate_gas(
        &self,
        request: CallRequest,
        block: Option<BlockId>,
        _overrides: Option<Value>,
    ) -> RpcResult<Value> {
        answer(
            async {
                let (call, at) = self.checked_call(&request, block).await?;
                Ok(json!(qty(self
                    .backend
                    .estimate_gas(&call, at)
                    .await?
                    .into())))
            }
            .await,
        )
    }
}

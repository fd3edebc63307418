//! State at a block: balance, nonce, code, storage, and simulated calls
//! (`eth_call`, `eth_estimateGas`).

use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::server::RpcModule;
use serde_json::json;

use super::{Ctx, invalid};
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

/// Registers the state methods.
pub(super) fn register(m: &mut RpcModule<Ctx>) -> Result<(), RegisterMethodError> {
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
    Ok(())
}

//! Read-only queries over the consensus state, by method name.
//!
//! The node opens the state at the height a client asks for and calls
//! [`query`]; arguments and results are JSON in their human-readable forms
//! (Bech32 addresses, base64 keys, decimal amounts), which is what the node
//! API serves. Events are not state: the node keeps each block's
//! [`crate::app::BlockResult`] and serves them itself.

use atoll_crypto::Address;
use atoll_crypto::ed25519::PublicKey;
use atoll_types::Namespace;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::services::beacon;
use crate::services::registry::Registry;
use crate::services::roothash::state::RoothashState;
use crate::services::scheduler::state::SchedulerState;
use crate::services::staking::state::StakingState;
use atoll_state::{FatalError, Store};

/// Every query method.
pub const METHODS: &[&str] = &[
    "staking.Account",
    "staking.Delegations",
    "staking.DebondingDelegations",
    "staking.DelegationsFor",
    "staking.DebondingDelegationsFor",
    "staking.TotalSupply",
    "staking.Addresses",
    "staking.BlockFees",
    "staking.CommonPool",
    "staking.Parameters",
    "registry.Entity",
    "registry.Entities",
    "registry.Node",
    "registry.Nodes",
    "registry.NodeStatus",
    "registry.Runtime",
    "registry.Runtimes",
    "scheduler.Validators",
    "scheduler.Committee",
    "scheduler.Committees",
    "roothash.RuntimeState",
    "roothash.LatestBlock",
    "roothash.PastRoot",
    "roothash.RoundResults",
    "roothash.LivenessStatistics",
    "beacon.Epoch",
    "beacon.VrfState",
];

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No such query method.
    #[error("unknown query method `{0}`; known methods: {list}", list = METHODS.join(", "))]
    UnknownMethod(String),
    /// The arguments do not fit the method.
    #[error("invalid arguments for {method}: {reason}")]
    InvalidArguments {
        /// The method.
        method: String,
        /// What is wrong.
        reason: String,
    },
    /// The thing asked for does not exist (at this height).
    #[error("not found: {0}")]
    NotFound(String),
    /// The node's state could not be read.
    #[error(transparent)]
    State(#[from] FatalError),
}

#[derive(Deserialize)]
struct ByAddress {
    address: Address,
}

#[derive(Deserialize)]
struct ById {
    id: PublicKey,
}

#[derive(Deserialize)]
struct ByRuntime {
    runtime: Namespace,
}

#[derive(Deserialize)]
struct ByRound {
    runtime: Namespace,
    round: u64,
}

#[derive(Deserialize)]
struct Debonding {
    escrow: Address,
    delegator: Address,
}

fn args<T: DeserializeOwned>(method: &str, v: &Value) -> Result<T, QueryError> {
    serde_json::from_value(v.clone()).map_err(|e| QueryError::InvalidArguments {
        method: method.to_owned(),
        reason: e.to_string(),
    })
}

fn out<T: Serialize>(v: &T) -> Result<Value, QueryError> {
    serde_json::to_value(v).map_err(|e| QueryError::State(FatalError::Invariant(e.to_string())))
}

/// Answers `method` with `arguments` (a JSON object; `null` for none) from
/// `store`.
pub fn query(store: &mut dyn Store, method: &str, arguments: &Value) -> Result<Value, QueryError> {
    match method {
        "staking.Account" => {
            let a: ByAddress = args(method, arguments)?;
            out(&StakingState::new(store).account(&a.address)?)
        }
        "staking.Delegations" => {
            let a: ByAddress = args(method, arguments)?;
            let list: Vec<Value> = StakingState::new(store)
                .delegations_to(&a.address)?
                .into_iter()
                .map(|(d, del)| json!({ "delegator": d, "shares": del.shares }))
                .collect();
            Ok(Value::Array(list))
        }
        "staking.DebondingDelegations" => {
            let a: Debonding = args(method, arguments)?;
            out(&StakingState::new(store).debondings(&a.escrow, &a.delegator)?)
        }
        "staking.TotalSupply" => out(&StakingState::new(store).total_supply()?),
        "staking.Addresses" => {
            let list: Vec<Address> = StakingState::new(store)
                .accounts()?
                .into_iter()
                .map(|(a, _)| a)
                .collect();
            out(&list)
        }
        "staking.BlockFees" => out(&StakingState::new(store).block_fees()?),
        "staking.CommonPool" => out(&StakingState::new(store).common_pool()?),
        "staking.Parameters" => out(&StakingState::new(store).parameters()?),
        "registry.Entity" => {
            let a: ById = args(method, arguments)?;
            let e = Registry::new(store).state().entity(&a.id)?;
            out(&e.ok_or_else(|| QueryError::NotFound(format!("entity {}", a.id)))?)
        }
        "registry.Entities" => out(&Registry::new(store).state().entities()?),
        "registry.Node" => {
            let a: ById = args(method, arguments)?;
            let n = Registry::new(store).state().node(&a.id)?;
            out(&n.ok_or_else(|| QueryError::NotFound(format!("node {}", a.id)))?)
        }
        "registry.Nodes" => out(&Registry::new(store).state().nodes()?),
        "registry.Runtime" => {
            let a: ByRuntime = args(method, arguments)?;
            let r = Registry::new(store).state().runtime(&a.runtime)?;
            out(&r.ok_or_else(|| QueryError::NotFound(format!("runtime {}", a.runtime)))?)
        }
        "registry.Runtimes" => out(&Registry::new(store).state().runtimes()?),
        "scheduler.Validators" => out(&SchedulerState::new(store).validators()?),
        "scheduler.Committee" => {
            let a: ByRuntime = args(method, arguments)?;
            let c = SchedulerState::new(store).committee(&a.runtime)?;
            out(&c.ok_or_else(|| {
                QueryError::NotFound(format!("committee of runtime {}", a.runtime))
            })?)
        }
        "scheduler.Committees" => out(&SchedulerState::new(store).committees()?),
        "roothash.RuntimeState" | "roothash.LatestBlock" => {
            let a: ByRuntime = args(method, arguments)?;
            let rs = RoothashState::new(store)
                .runtime(&a.runtime)?
                .ok_or_else(|| QueryError::NotFound(format!("runtime {}", a.runtime)))?;
            if method == "roothash.LatestBlock" {
                out(&rs.last_block)
            } else {
                out(&rs)
            }
        }
        "roothash.PastRoot" => {
            let a: ByRound = args(method, arguments)?;
            let root = RoothashState::new(store).past_root(&a.runtime, a.round)?;
            out(&root.ok_or_else(|| {
                QueryError::NotFound(format!(
                    "past root of round {} of runtime {} (not kept, or not finalized yet)",
                    a.round, a.runtime
                ))
            })?)
        }
        "beacon.VrfState" => out(&beacon::vrf_state(store)?),
        "beacon.Epoch" => out(&crate::app::epoch_start(store)?
            .ok_or_else(|| QueryError::NotFound("epoch (no genesis yet)".into()))?),
        "staking.DelegationsFor" => {
            let a: ByAddress = args(method, arguments)?;
            operator::delegations_for(store, &a.address)
        }
        "staking.DebondingDelegationsFor" => {
            let a: ByAddress = args(method, arguments)?;
            operator::debonding_delegations_for(store, &a.address)
        }
        "registry.NodeStatus" => {
            let a: ById = args(method, arguments)?;
            operator::node_status(store, &a.id)
        }
        "roothash.RoundResults" => {
            let a: ByRuntime = args(method, arguments)?;
            let r = RoothashState::new(store).round_results(&a.runtime)?;
            out(&r.ok_or_else(|| {
                QueryError::NotFound(format!("a normal round of runtime {}", a.runtime))
            })?)
        }
        "roothash.LivenessStatistics" => {
            let a: ByRuntime = args(method, arguments)?;
            out(&RoothashState::new(store).liveness(&a.runtime)?)
        }
        other => Err(QueryError::UnknownMethod(other.to_owned())),
    }
}

/// The queries operators ask about their own nodes and stake.
mod operator {
    use super::*;
    use atoll_consensus_types::staking::pool;

    /// A pool's tokens for `shares` (rounded down; zero for an empty pool).
    fn value(
        balance: atoll_types::Quantity,
        shares: atoll_types::Quantity,
        total: atoll_types::Quantity,
    ) -> atoll_types::Quantity {
        if total.is_zero() {
            return atoll_types::Quantity(0);
        }
        pool::proportion(balance, shares.0, total.0).unwrap_or_default()
    }

    /// `staking.DelegationsFor`: every escrow `delegator` delegates to, with
    /// its shares and their current value.
    pub(super) fn delegations_for(
        store: &mut dyn Store,
        delegator: &Address,
    ) -> Result<Value, QueryError> {
        let st = StakingState::new(store);
        let mut list = Vec::new();
        for (escrow, d, del) in st.all_delegations()? {
            if &d != delegator {
                continue;
            }
            let pool = st.account(&escrow)?.escrow.active;
            list.push(json!({
                "escrow": escrow,
                "shares": del.shares,
                "amount": value(pool.balance, del.shares, pool.total_shares),
            }));
        }
        Ok(Value::Array(list))
    }

    /// `staking.DebondingDelegationsFor`: every debonding delegation of
    /// `delegator`, with its end epoch and current value.
    pub(super) fn debonding_delegations_for(
        store: &mut dyn Store,
        delegator: &Address,
    ) -> Result<Value, QueryError> {
        let st = StakingState::new(store);
        let mut list = Vec::new();
        for (escrow, d, deb) in st.all_debondings()? {
            if &d != delegator {
                continue;
            }
            let pool = st.account(&escrow)?.escrow.debonding;
            list.push(json!({
                "escrow": escrow,
                "shares": deb.shares,
                "debond_end": deb.debond_end,
                "amount": value(pool.balance, deb.shares, pool.total_shares),
            }));
        }
        Ok(Value::Array(list))
    }

    /// `registry.NodeStatus`: whether a node is registered, its expiry,
    /// roles and runtimes, whether it is frozen (and until when), and its
    /// liveness faults per runtime.
    pub(super) fn node_status(store: &mut dyn Store, id: &PublicKey) -> Result<Value, QueryError> {
        let epoch = crate::app::epoch_start(store)?.map(|e| e.epoch.0);
        let mut reg = Registry::new(store);
        let node = reg.state().node(id)?;
        let status = reg.state().node_status(id)?.unwrap_or_default();
        let runtimes = reg.state().runtimes()?;
        let mut faults = Vec::new();
        let rh = RoothashState::new(store);
        for rt in &runtimes {
            let n = rh.faults(&rt.id, id)?;
            if n > 0 {
                faults.push(json!({ "runtime": rt.id, "faults": n }));
            }
        }
        let frozen = epoch.is_some_and(|e| status.freeze_end > e);
        Ok(json!({
            "id": id,
            "registered": node.is_some(),
            "entity_id": node.as_ref().map(|n| n.entity_id),
            "expiration": node.as_ref().map(|n| n.expiration),
            "expired": node.as_ref().zip(epoch).map(|(n, e)| n.expiration < e),
            "roles": node.as_ref().map(|n| n.roles),
            "runtimes": node.as_ref().map(|n| n.runtimes.iter().map(|r| r.id).collect::<Vec<_>>()),
            "frozen": frozen,
            "freeze_end": status.freeze_end,
            "epoch": epoch,
            "liveness_faults": faults,
        }))
    }
}

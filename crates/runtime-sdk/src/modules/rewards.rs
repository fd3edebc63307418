//! The `rewards` module: per-epoch rewards for the entities whose compute
//! nodes did the ParaTime's work (as oasis-sdk's `rewards`).
//!
//! At the start of every executed batch it reads the runtime's last normal
//! round ([`BatchContext::round_results`](crate::BatchContext::round_results))
//! once: each good compute entity earns a tick; each bad one (its node
//! committed results the committee rejected) is barred for the epoch. At
//! the first batch of a new epoch, the finished epoch's reward
//! ([`RewardSchedule::for_epoch`]) is paid from the reward pool
//! ([`reward_pool`], funded at genesis or by anyone's transfer) to every
//! entity that is not barred and earned ticks in at least
//! `participation_threshold_numerator / participation_threshold_denominator`
//! of the epoch's rounds, in address order, while the pool lasts.
//!
//! State: parameters at `rewards || 0x00`; the epoch's tally
//! ([`EpochRewards`]) at `rewards || 0x01`.

use std::collections::BTreeMap;

use atoll_crypto::Address;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

use crate::context::{Context, QueryContext};
use crate::error::Error;
use crate::module::{MethodInfo, Module, decode_genesis, encode_result};
use crate::modules::accounts;
use crate::modules::core::CoreError;
use crate::state::{self, StoreExt, module_key};
use crate::types::BaseUnits;

/// The module's name.
pub const MODULE_NAME: &str = "rewards";

const EPOCH_REWARDS: u8 = 0x01;

/// Where rewards are paid from: the SDK's `rewards.reward-pool` module account.
pub fn reward_pool() -> Address {
    Address::from_module(MODULE_NAME, b"reward-pool")
}

/// One step of the schedule: `amount` per entity for every epoch up to
/// `until` (inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardStep {
    /// Last epoch of this step.
    pub until: u64,
    /// What each rewarded entity gets for an epoch of this step.
    pub amount: BaseUnits,
}

/// The reward schedule: steps in increasing `until` order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardSchedule {
    /// The steps.
    #[serde(default)]
    pub steps: Vec<RewardStep>,
}

impl RewardSchedule {
    /// The reward per entity for `epoch` (`None` past the last step).
    pub fn for_epoch(&self, epoch: u64) -> Option<&BaseUnits> {
        self.steps
            .iter()
            .find(|s| s.until >= epoch)
            .map(|s| &s.amount)
    }
}

/// Parameters of `rewards`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// The per-epoch reward schedule.
    #[serde(default)]
    pub schedule: RewardSchedule,
    /// An entity is rewarded if it was good in at least
    /// `numerator / denominator` of the epoch's rounds.
    pub participation_threshold_numerator: u64,
    /// See `participation_threshold_numerator`.
    pub participation_threshold_denominator: u64,
}

impl Default for Parameters {
    fn default() -> Self {
        // Sapphire's threshold: three quarters of the rounds.
        Self {
            schedule: RewardSchedule::default(),
            participation_threshold_numerator: 3,
            participation_threshold_denominator: 4,
        }
    }
}

/// The module's genesis.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Its parameters.
    #[serde(default)]
    pub parameters: Parameters,
}

/// One entity's record in an epoch.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityTicks {
    /// Rounds in which one of its nodes committed the finalized results.
    pub ticks: u64,
    /// Whether one of its nodes committed rejected results this epoch.
    #[serde(default)]
    pub forbidden: bool,
}

/// The tally of the epoch in progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRewards {
    /// The epoch.
    pub epoch: u64,
    /// Rounds counted.
    pub rounds: u64,
    /// The last round counted (so a round is never counted twice).
    pub last_round: Option<u64>,
    /// Each entity's record, by address.
    #[serde(default)]
    pub entities: BTreeMap<Address, EntityTicks>,
}

impl EpochRewards {
    /// The entities to reward: not barred, and good in at least
    /// `num / den` of the rounds (in address order). None without rounds.
    pub fn eligible(&self, num: u64, den: u64) -> Vec<Address> {
        if self.rounds == 0 {
            return Vec::new();
        }
        let (num, den) = (u128::from(num), u128::from(den.max(1)));
        self.entities
            .iter()
            .filter(|(_, t)| {
                !t.forbidden && u128::from(t.ticks) * den >= u128::from(self.rounds) * num
            })
            .map(|(a, _)| *a)
            .collect()
    }
}

/// The module's parameters.
pub fn params(store: &dyn crate::state::Store) -> Result<Parameters, crate::error::FatalError> {
    state::get_params(store, MODULE_NAME)
}

fn tally_key() -> Vec<u8> {
    module_key(MODULE_NAME, EPOCH_REWARDS, &[])
}

/// The tally of the epoch in progress.
pub fn tally(store: &dyn crate::state::Store) -> Result<EpochRewards, crate::error::FatalError> {
    Ok(store.get_typed(&tally_key())?.unwrap_or_default())
}

/// Pays the finished epoch's rewards when the batch's epoch moved on, then
/// counts the last normal round. Runs at the start of every executed batch.
pub fn on_batch(ctx: &mut Context<'_>) -> Result<(), Error> {
    let p = params(ctx.store_ref())?;
    let mut t = tally(ctx.store_ref())?;
    let epoch = ctx.batch().epoch;
    if t.epoch != epoch {
        if let Some(amount) = p.schedule.for_epoch(t.epoch).cloned()
            && amount.amount() > 0
        {
            let pool = reward_pool();
            for entity in t.eligible(
                p.participation_threshold_numerator,
                p.participation_threshold_denominator,
            ) {
                let left = accounts::balance(ctx.store_ref(), &pool, amount.denomination())?;
                if left < amount.amount() {
                    break;
                }
                accounts::transfer(ctx, &pool, &entity, &amount)?;
            }
        }
        t = EpochRewards {
            epoch,
            ..EpochRewards::default()
        };
    }
    if let Some(rr) = ctx.batch().round_results.clone()
        && t.last_round.is_none_or(|last| rr.round > last)
    {
        t.rounds = t.rounds.saturating_add(1);
        t.last_round = Some(rr.round);
        for e in &rr.good_compute_entities {
            let n = t.entities.entry(*e).or_default();
            n.ticks = n.ticks.saturating_add(1);
        }
        for e in &rr.bad_compute_entities {
            t.entities.entry(*e).or_default().forbidden = true;
        }
    }
    ctx.store().put_typed(&tally_key(), &t)?;
    Ok(())
}

/// The `rewards` module.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rewards;

impl Module for Rewards {
    fn name(&self) -> &'static str {
        MODULE_NAME
    }

    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::query("rewards.Parameters"),
            MethodInfo::query("rewards.EpochRewards"),
        ]
    }

    fn init_genesis(
        &self,
        store: &mut dyn crate::state::Store,
        genesis: Option<&Value>,
    ) -> Result<(), Error> {
        let g: Genesis = decode_genesis(MODULE_NAME, genesis)?;
        if g.parameters.participation_threshold_denominator == 0
            || g.parameters.participation_threshold_numerator
                > g.parameters.participation_threshold_denominator
        {
            return Err(crate::error::invalid_argument(
                "rewards: the participation threshold must be a fraction of at most one",
            ));
        }
        if g.parameters
            .schedule
            .steps
            .windows(2)
            .any(|w| w[0].until >= w[1].until)
        {
            return Err(crate::error::invalid_argument(
                "rewards: schedule steps must be in increasing epoch order",
            ));
        }
        state::set_params(store, MODULE_NAME, &g.parameters)?;
        Ok(())
    }

    fn begin_block(&self, ctx: &mut Context<'_>) -> Result<(), Error> {
        on_batch(ctx)
    }

    fn dispatch_query(
        &self,
        ctx: &QueryContext<'_>,
        method: &str,
        _args: Value,
    ) -> Result<Value, Error> {
        match method {
            "rewards.Parameters" => encode_result(&params(ctx.store)?),
            "rewards.EpochRewards" => encode_result(&tally(ctx.store)?),
            _ => Err(CoreError::InvalidMethod(method.to_owned()).into()),
        }
    }
}

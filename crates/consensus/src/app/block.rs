//! The block and epoch hooks: the genesis state, applying a block (epoch
//! transition, beacon, elections, transactions, fee payout) and what the
//! last applied block was.

use atoll_types::Epoch;
use serde::{Deserialize, Serialize};

use super::methods::GasTable;
use super::pipeline::BlockEnv;
use super::{
    App, BEACON_PARAMETERS, Block, BlockResult, CONSENSUS_PARAMETERS, DEBUG_NETWORK, EPOCH_START,
    LAST_BLOCK, fatal, into_fatal,
};
use crate::event::Event;
use crate::genesis::{BeaconParameters, ConsensusParameters, Genesis};
use crate::services::registry::Registry;
use crate::services::roothash::{self, BlockInfo, Roothash};
use crate::services::staking::Staking;
use crate::services::{beacon, scheduler};
use atoll_consensus_types::staking::SlashReason;
use atoll_state::{FatalError, Store, StoreExt};

/// The current epoch and where it began (the `beacon.Epoch` query).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochStart {
    /// The epoch.
    pub epoch: Epoch,
    /// The height of its first block.
    pub height: u64,
}

/// The current epoch and the height of its first block (`None` before
/// genesis was written).
pub fn epoch_start(store: &dyn Store) -> Result<Option<EpochStart>, FatalError> {
    store.get_typed(&[EPOCH_START])
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LastBlock {
    height: u64,
    epoch: Epoch,
}

impl App {
    /// Writes the genesis state into an empty store.
    pub fn init_chain(&self, store: &mut dyn Store, genesis: &Genesis) -> Result<(), FatalError> {
        store.put_typed(&[CONSENSUS_PARAMETERS], &genesis.consensus)?;
        store.put_typed(&[BEACON_PARAMETERS], &genesis.beacon)?;
        let mut staking = Staking::new(store);
        let st = staking.state();
        let g = &genesis.staking;
        fatal(st.set_parameters(&g.parameters))?;
        fatal(st.set_total_supply(g.total_supply))?;
        fatal(st.set_common_pool(g.common_pool))?;
        for (addr, acct) in &g.ledger {
            fatal(st.set_account(addr, acct))?;
        }
        for (escrow, ds) in &g.delegations {
            for (delegator, d) in ds {
                fatal(st.set_delegation(escrow, delegator, d))?;
            }
        }
        store.put_typed(&[DEBUG_NETWORK], &genesis.debug)?;
        let r = &genesis.registry;
        let mut reg = Registry::new(store);
        fatal(reg.state().set_parameters(&r.parameters))?;
        for e in &r.entities {
            fatal(reg.state().set_entity(e))?;
        }
        for rt in &r.runtimes {
            fatal(reg.state().set_runtime(rt))?;
        }
        for n in &r.nodes {
            fatal(reg.state().set_node(n))?;
        }
        fatal(scheduler::state::SchedulerState::new(store).set_parameters(&genesis.scheduler))?;
        fatal(roothash::state::RoothashState::new(store).set_parameters(&genesis.roothash))?;
        let genesis_block = BlockInfo {
            height: genesis.initial_height.saturating_sub(1),
            time: 0,
            epoch: genesis.epoch_at(genesis.initial_height),
        };
        for rt in &r.runtimes {
            fatal(Roothash::new(store, &self.commit_context).init_runtime(rt, genesis_block))?;
        }
        let entropy = beacon::genesis_entropy(&self.chain_context);
        let epoch = genesis.epoch_at(genesis.initial_height);
        store.put_typed(
            &[EPOCH_START],
            &EpochStart {
                epoch,
                height: genesis.initial_height,
            },
        )?;
        fatal(scheduler::on_epoch(
            store,
            epoch,
            &entropy,
            scheduler::Sortition::Entropy(&entropy),
        ))?;
        if genesis.beacon.backend == beacon::Backend::Vrf {
            beacon::start_vrf_epoch(
                store,
                &self.chain_context,
                epoch,
                &entropy,
                genesis.initial_height,
                &genesis.beacon.vrf,
            )?;
        }
        Ok(())
    }

    /// The height of the last applied block (`None` before the first).
    pub fn last_height(&self, store: &dyn Store) -> Result<Option<u64>, FatalError> {
        Ok(store
            .get_typed::<LastBlock>(&[LAST_BLOCK])?
            .map(|b| b.height))
    }

    /// Applies one block. Returns per-transaction results; a [`FatalError`]
    /// means the block could not be applied and the store must be discarded.
    pub fn apply_block(
        &self,
        store: &mut dyn Store,
        block: &Block,
    ) -> Result<BlockResult, FatalError> {
        let last: Option<LastBlock> = store.get_typed(&[LAST_BLOCK])?;
        let expected = last
            .as_ref()
            .map_or(Some(self.initial_height), |l| l.height.checked_add(1));
        if Some(block.height) != expected {
            return Err(FatalError::Invariant(format!(
                "block {} applied out of order (expected {expected:?})",
                block.height
            )));
        }
        let params: ConsensusParameters = store
            .get_typed(&[CONSENSUS_PARAMETERS])?
            .ok_or_else(|| FatalError::Invariant("consensus parameters missing".into()))?;
        let beacon: BeaconParameters = store
            .get_typed(&[BEACON_PARAMETERS])?
            .ok_or_else(|| FatalError::Invariant("beacon parameters missing".into()))?;
        let epoch =
            atoll_consensus_types::epoch_at(self.initial_height, beacon.interval, block.height);
        let info = BlockInfo {
            height: block.height,
            time: block.time,
            epoch,
        };
        let mut block_events = Vec::new();

        // The block's signers certified the previous block: count them
        // toward the epoch that block belonged to, before any transition.
        if last.is_some() {
            Staking::new(store)
                .record_signing(&block.signers)
                .map_err(into_fatal)?;
            block_events.extend(self.reward_proposer(store, block, epoch)?);
        }
        if let Some(prev) = last.as_ref().filter(|l| l.epoch != epoch) {
            store.put_typed(
                &[EPOCH_START],
                &EpochStart {
                    epoch,
                    height: block.height,
                },
            )?;
            let events = Staking::new(store)
                .reward_epoch(prev.epoch)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            let events = Staking::new(store)
                .process_debonding(epoch)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            let events = Registry::new(store)
                .expire_nodes(epoch)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            let events = Roothash::new(store, &self.commit_context)
                .process_liveness(info)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            self.elect(store, &beacon, epoch, block)?;
            block_events.extend(reward_election(store, epoch)?);
            let events = Roothash::new(store, &self.commit_context)
                .on_epoch(info)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
        }
        for node in &block.equivocators {
            Roothash::new(store, &self.commit_context)
                .slash_node(node, SlashReason::ConsensusEquivocation, info)
                .map_err(into_fatal)?;
        }
        let debug = store.get_typed::<bool>(&[DEBUG_NETWORK])?.unwrap_or(false);

        let checked = self.verify_signatures(block, &params);
        // Gas prices change only between blocks (by governance), so they are
        // read once per block.
        let gas_table = GasTable::load(store)?;
        let mut env = BlockEnv {
            params: &params,
            gas_table: &gas_table,
            info,
            debug,
            gas_left: (params.max_block_gas > 0).then_some(params.max_block_gas),
        };
        let mut tx_results = Vec::with_capacity(block.txs.len());
        for (raw, (decoded, sig_ok)) in block.txs.iter().zip(checked) {
            tx_results.push(self.deliver_tx(store, raw, decoded, sig_ok, &mut env)?);
        }

        let events = Roothash::new(store, &self.commit_context)
            .end_block(info)
            .map_err(into_fatal)?;
        block_events.extend(events.into_iter().map(Event::from));
        Staking::new(store)
            .distribute_fees(block.proposer.as_ref(), &block.signers)
            .map_err(into_fatal)?;
        store.put_typed(
            &[LAST_BLOCK],
            &LastBlock {
                height: block.height,
                epoch,
            },
        )?;
        Ok(BlockResult {
            height: block.height,
            epoch,
            tx_results,
            events: block_events,
        })
    }

    /// Pays the block's proposer its reward, attenuated (as Oasis does) by
    /// the share of the current validator set's entities whose signatures
    /// the block carries. Counted in entities, not power: the signatures
    /// certify the previous block, whose set (and powers) may differ.
    fn reward_proposer(
        &self,
        store: &mut dyn Store,
        block: &Block,
        epoch: Epoch,
    ) -> Result<Vec<Event>, FatalError> {
        let Some(proposer) = block.proposer.as_ref() else {
            return Ok(Vec::new());
        };
        let validators = scheduler::state::SchedulerState::new(store).validators()?;
        let set: std::collections::BTreeSet<_> = validators.iter().map(|v| v.entity).collect();
        let signing: std::collections::BTreeSet<_> = block
            .signers
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| set.contains(a))
            .collect();
        let total = u128::try_from(set.len()).unwrap_or(u128::MAX);
        let signed = u128::try_from(signing.len()).unwrap_or(u128::MAX);
        let events = Staking::new(store)
            .reward_proposer(epoch, proposer, signed, total)
            .map_err(into_fatal)?;
        Ok(events.into_iter().map(Event::from).collect())
    }

    /// Runs the epoch's elections from the beacon's output. With the VRF
    /// beacon: a strong epoch (enough proofs) elects committees from the
    /// provers' own betas; a weak one keeps the previous committees and
    /// validators ([`scheduler::keep_epoch`]). Either way the next alpha is
    /// chained from the betas that were proved.
    fn elect(
        &self,
        store: &mut dyn Store,
        beacon_params: &BeaconParameters,
        epoch: Epoch,
        block: &Block,
    ) -> Result<(), FatalError> {
        match beacon_params.backend {
            beacon::Backend::Insecure => {
                let entropy =
                    beacon::insecure_entropy(&self.chain_context, epoch, &block.prev_hash);
                scheduler::on_epoch(
                    store,
                    epoch,
                    &entropy,
                    scheduler::Sortition::Entropy(&entropy),
                )
                .map_err(into_fatal)
            }
            beacon::Backend::Vrf => {
                let Some(finished) = beacon::finish_vrf_epoch(store, &beacon_params.vrf)? else {
                    return Err(FatalError::Invariant(
                        "the VRF beacon has no state at an epoch change".into(),
                    ));
                };
                if finished.strong {
                    let order = scheduler::Sortition::Betas {
                        epoch,
                        betas: &finished.betas,
                    };
                    scheduler::on_epoch(store, epoch, &finished.entropy, order)
                        .map_err(into_fatal)?;
                } else {
                    scheduler::keep_epoch(store, epoch).map_err(into_fatal)?;
                }
                beacon::start_vrf_epoch(
                    store,
                    &self.chain_context,
                    epoch,
                    &finished.entropy,
                    block.height,
                    &beacon_params.vrf,
                )
            }
        }
    }
}

/// Pays the election reward of `epoch` to the entities of the nodes just
/// elected to a runtime's executor committee (workers and backups), each
/// entity once, in address order.
fn reward_election(store: &mut dyn Store, epoch: Epoch) -> Result<Vec<Event>, FatalError> {
    let committees = scheduler::state::SchedulerState::new(store).committees()?;
    let mut entities = std::collections::BTreeSet::new();
    let mut reg = Registry::new(store);
    for c in &committees {
        for m in &c.members {
            if let Some(node) = reg.state().node(&m.node_id)? {
                entities.insert(atoll_crypto::Address::from_ed25519(&node.entity_id));
            }
        }
    }
    let elected: Vec<_> = entities.into_iter().collect();
    let events = Staking::new(store)
        .reward_election(epoch, &elected)
        .map_err(into_fatal)?;
    Ok(events.into_iter().map(Event::from).collect())
}

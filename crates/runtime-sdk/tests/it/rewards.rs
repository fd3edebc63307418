//! Fee disbursement to the good compute entities of the last normal round,
//! and the `rewards` module's per-epoch payments.

use atoll_consensus_types::roothash::RoundResults;
use atoll_crypto::{Address, ed25519};
use atoll_runtime_sdk::modules::rewards::{
    self, EpochRewards, Parameters, RewardSchedule, RewardStep, Rewards,
};
use atoll_runtime_sdk::modules::{accounts, consensus_accounts::ConsensusAccounts};
use atoll_runtime_sdk::state::MemStore;
use atoll_runtime_sdk::types::BaseUnits;
use atoll_runtime_sdk::{BatchContext, Runtime};
use atoll_types::cbor;

use crate::common::*;

fn entity(i: u8) -> Address {
    Address::from_ed25519(&ed25519::SigningKey::from_seed(&[200 + i; 32]).public_key())
}

fn results(round: u64, good: &[u8], bad: &[u8]) -> RoundResults {
    RoundResults {
        round,
        good_compute_entities: good.iter().map(|i| entity(*i)).collect(),
        bad_compute_entities: bad.iter().map(|i| entity(*i)).collect(),
        ..RoundResults::default()
    }
}

fn ctx(round: u64, epoch: u64, rr: Option<RoundResults>) -> BatchContext {
    batch_ctx(round)
        .at_round(round, 100 + round, epoch)
        .with_round_results(rr)
}

fn transfer_events(r: &atoll_runtime_sdk::BatchResult) -> Vec<accounts::TransferEvent> {
    r.block_events
        .iter()
        .filter(|e| e.module == accounts::MODULE_NAME && e.code == accounts::events::TRANSFER)
        .map(|e| cbor::from_value(e.value.clone()).unwrap())
        .collect()
}

#[test]
fn fees_go_to_the_good_entities_of_the_last_normal_round_in_equal_shares() {
    let (rt, mut store) = setup();
    let acc = accounts::fee_accumulator();
    // Round 1 (no normal round before it): the fee stays in the accumulator.
    let tx = signed(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 1),
        3_001,
    );
    let r = rt
        .execute_batch(&ctx(1, 3, None), &mut store, &[tx])
        .unwrap();
    assert_eq!(
        r.results[0].result,
        atoll_runtime_sdk::types::CallResult::Ok(atoll_types::cbor::Value::Null)
    );
    let fee = 3_001 * MIN_GAS_PRICE;
    assert_eq!(balance(&store, &acc), fee);
    assert!(transfer_events(&r).is_empty());
    // Round 2 builds on round 1, committed by three entities (one bad one
    // gets nothing): 6,002 / 3 = 2,000 each, 2 stay for later.
    let r = rt
        .execute_batch(
            &ctx(2, 3, Some(results(1, &[1, 2, 3], &[4]))),
            &mut store,
            &[],
        )
        .unwrap();
    for i in 1..=3 {
        assert_eq!(balance(&store, &entity(i)), fee / 3);
    }
    assert_eq!(balance(&store, &entity(4)), 0);
    assert_eq!(balance(&store, &acc), fee % 3);
    let events = transfer_events(&r);
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e.from == acc && e.amount == BaseUnits::native(fee / 3))
    );
    // The supply is unchanged: fees only move.
    assert_eq!(supply(&store), ALICE_FUNDS + BOB_FUNDS + CHARLIE_FUNDS);
    // No good entity: the fees stay.
    rt.execute_batch(&ctx(3, 3, Some(results(2, &[], &[1]))), &mut store, &[])
        .unwrap();
    assert_eq!(balance(&store, &acc), fee % 3);
}

const POOL: u128 = 1_000;
const REWARD: u128 = 300;

fn rewards_runtime() -> (Runtime, MemStore) {
    let rt = Runtime::builder()
        .module(ConsensusAccounts)
        .module(Rewards)
        .build()
        .unwrap();
    let mut g = genesis()
        .with(
            rewards::MODULE_NAME,
            &rewards::Genesis {
                parameters: Parameters {
                    schedule: RewardSchedule {
                        steps: vec![RewardStep {
                            until: 10,
                            amount: BaseUnits::native(REWARD),
                        }],
                    },
                    participation_threshold_numerator: 3,
                    participation_threshold_denominator: 4,
                },
            },
        )
        .unwrap();
    // Fund the reward pool at genesis (from alice's share of the supply).
    let mut acc: accounts::Genesis =
        cbor::from_value(g.modules[accounts::MODULE_NAME].clone()).unwrap();
    acc.balances.get_mut(&alice().address()).unwrap().insert(
        atoll_runtime_sdk::types::Denomination::NATIVE,
        atoll_types::Quantity(ALICE_FUNDS - POOL),
    );
    acc.balances.insert(
        rewards::reward_pool(),
        [(
            atoll_runtime_sdk::types::Denomination::NATIVE,
            atoll_types::Quantity(POOL),
        )]
        .into(),
    );
    g = g.with(accounts::MODULE_NAME, &acc).unwrap();
    let mut store = MemStore::new();
    rt.init_genesis(&mut store, &g).unwrap();
    (rt, store)
}

#[test]
fn the_epochs_participants_are_paid_from_the_reward_pool_at_the_next_epoch() {
    let (rt, mut store) = rewards_runtime();
    // Epoch 3: four rounds. Entity 1 is good in all four, entity 2 in
    // three (3/4: enough), entity 3 in two (not enough), entity 4 is good
    // in all but once committed rejected results (barred).
    let rounds: [(&[u8], &[u8]); 4] = [
        (&[1, 2, 3, 4], &[]),
        (&[1, 2, 3, 4], &[]),
        (&[1, 2, 4], &[]),
        (&[1], &[4]),
    ];
    for (i, (good, bad)) in rounds.iter().enumerate() {
        let round = i as u64 + 2;
        rt.execute_batch(
            &ctx(round, 3, Some(results(round - 1, good, bad))),
            &mut store,
            &[],
        )
        .unwrap();
    }
    // A batch that builds on the same round again (a failed round in
    // between) counts nothing twice.
    rt.execute_batch(&ctx(6, 3, Some(results(4, &[3], &[]))), &mut store, &[])
        .unwrap();
    let t: EpochRewards = rewards::tally(&store).unwrap();
    assert_eq!(t.epoch, 3);
    assert_eq!(t.rounds, 4);
    let mut want = vec![entity(1), entity(2)];
    want.sort();
    assert_eq!(t.eligible(3, 4), want);
    // The first batch of epoch 4 pays epoch 3.
    let r = rt
        .execute_batch(&ctx(7, 4, Some(results(6, &[1], &[]))), &mut store, &[])
        .unwrap();
    assert_eq!(balance(&store, &entity(1)), REWARD);
    assert_eq!(balance(&store, &entity(2)), REWARD);
    assert_eq!(balance(&store, &entity(3)), 0);
    assert_eq!(balance(&store, &entity(4)), 0);
    assert_eq!(balance(&store, &rewards::reward_pool()), POOL - 2 * REWARD);
    assert_eq!(
        transfer_events(&r)
            .iter()
            .filter(|e| e.from == rewards::reward_pool())
            .count(),
        2
    );
    let t = rewards::tally(&store).unwrap();
    assert_eq!((t.epoch, t.rounds), (4, 1));
    // Epoch 4's one participant: the pool holds 400, enough for one more.
    rt.execute_batch(&ctx(8, 5, None), &mut store, &[]).unwrap();
    assert_eq!(balance(&store, &entity(1)), 2 * REWARD);
    assert_eq!(balance(&store, &rewards::reward_pool()), POOL - 3 * REWARD);
    assert_eq!(supply(&store), ALICE_FUNDS + BOB_FUNDS + CHARLIE_FUNDS);
}

#[test]
fn a_bad_rewards_genesis_is_refused() {
    let rt = Runtime::builder().module(Rewards).build().unwrap();
    for params in [
        Parameters {
            participation_threshold_numerator: 5,
            participation_threshold_denominator: 4,
            ..Parameters::default()
        },
        Parameters {
            participation_threshold_denominator: 0,
            ..Parameters::default()
        },
        Parameters {
            schedule: RewardSchedule {
                steps: vec![
                    RewardStep {
                        until: 5,
                        amount: BaseUnits::native(1),
                    },
                    RewardStep {
                        until: 5,
                        amount: BaseUnits::native(1),
                    },
                ],
            },
            ..Parameters::default()
        },
    ] {
        let g = atoll_runtime_sdk::RuntimeGenesis::default()
            .with(
                rewards::MODULE_NAME,
                &rewards::Genesis { parameters: params },
            )
            .unwrap();
        assert!(rt.init_genesis(&mut MemStore::new(), &g).is_err());
    }
}

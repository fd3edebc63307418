//! Staking through the transaction pipeline: every rule, and every way a
//! transaction can be refused.

use atoll_consensus::app::{Block, BlockResult, NonceCheck};
use atoll_consensus_types::staking::{
    Allow, Burn, Escrow, ReclaimEscrow, Transfer, Withdraw, methods,
};
use atoll_state::MemStore;
use atoll_types::cbor;
use atoll_types::transaction::SignedTransaction;
use atoll_types::{Epoch, Quantity};
use proptest::prelude::*;

use crate::{FUNDS, Net, addr, key};
use atoll_consensus::services::staking::state::StakingState;

const GAS: u64 = 10_000;

fn transfer(net: &Net, from: usize, nonce: u64, to: usize, amount: u128) -> Vec<u8> {
    let body = Transfer {
        to: addr(&net.keys[to]),
        amount: Quantity(amount),
    };
    net.tx(from, nonce, methods::TRANSFER, &body, 0, GAS)
}

fn error_of(r: &BlockResult, i: usize) -> Option<(String, u32)> {
    r.tx_results[i]
        .error
        .as_ref()
        .map(|e| (e.module.clone(), e.code))
}

#[test]
fn transfer_moves_funds_and_advances_nonce() {
    let mut net = Net::new(2);
    let r = net.block(vec![transfer(&net, 0, 0, 1, 500)]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(r.tx_results[0].events.len(), 1);
    assert_eq!(net.balance(0), FUNDS - 500);
    assert_eq!(net.balance(1), FUNDS + 500);
    let a0 = addr(&net.keys[0]);
    assert_eq!(net.account(&a0).general.nonce, 1);
}

#[test]
fn wrong_nonce_and_replay_change_nothing() {
    let mut net = Net::new(2);
    let tx = transfer(&net, 0, 0, 1, 10);
    net.block(vec![tx.clone()]);
    let before = net.store.clone();
    // The same bytes again: the nonce is now 1.
    let r = net.block(vec![tx, transfer(&net, 0, 5, 1, 10)]);
    assert_eq!(error_of(&r, 0), Some(("consensus".into(), 3)));
    assert_eq!(error_of(&r, 1), Some(("consensus".into(), 3)));
    assert_eq!(r.tx_results[0].gas_used, 0);
    assert_eq!(state_without_meta(&net.store), state_without_meta(&before));
}

/// The state minus per-block bookkeeping that every block rewrites: the
/// last-block marker (0x03) and the epoch's signing tally (0x58).
fn state_without_meta(s: &MemStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    s.entries()
        .iter()
        .filter(|(k, _)| k.as_slice() != [0x03] && k.as_slice() != [0x58])
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn transaction_for_another_network_is_refused() {
    let mut net = Net::new(2);
    let other = Net::with(2, |g| g.chain_id = "another-network".into());
    let foreign = transfer(&other, 0, 0, 1, 10);
    let before = state_without_meta(&net.store);
    let r = net.block(vec![foreign]);
    assert_eq!(error_of(&r, 0), Some(("consensus".into(), 2)));
    assert_eq!(state_without_meta(&net.store), before);
}

#[test]
fn failed_transaction_pays_its_fee_and_nothing_else() {
    let mut net = Net::new(3);
    // Key 2 proposes nothing here; fees go to key 0 (proposer) and the signers.
    let too_much = Transfer {
        to: addr(&net.keys[1]),
        amount: Quantity(FUNDS * 2),
    };
    let tx = net.tx(2, 0, methods::TRANSFER, &too_much, 300, GAS);
    let r = net.block(vec![tx]);
    assert_eq!(error_of(&r, 0), Some(("staking".into(), 2)));
    assert!(r.tx_results[0].gas_used > 0);
    assert_eq!(
        net.balance(2),
        FUNDS - 300 + 50,
        "paid 300, got back its signer share of 50"
    );
    // Fees: 150 to the proposer, 150 split among three signers.
    assert_eq!(net.balance(0), FUNDS + 150 + 50);
    assert_eq!(net.balance(1), FUNDS + 50);
    let a2 = addr(&net.keys[2]);
    assert_eq!(net.account(&a2).general.nonce, 1);
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn refusals_before_the_fee_change_nothing() {
    let mut net = Net::with(2, |g| g.consensus.min_gas_price = Quantity(1));
    let before = state_without_meta(&net.store);
    let body = Transfer {
        to: addr(&net.keys[1]),
        amount: Quantity(1),
    };
    let mut oversized = net.tx(0, 0, methods::TRANSFER, &body, 1_000_000, GAS);
    oversized.resize(64 * 1024, 0);
    let txs = vec![
        b"not cbor".to_vec(),
        oversized,
        net.tx(0, 0, "staking.Mint", &body, GAS.into(), GAS),
        net.tx(0, 0, methods::TRANSFER, &body, GAS.into(), 10),
        net.tx(0, 0, methods::TRANSFER, &body, 1, GAS),
        net.tx(0, 0, methods::TRANSFER, &body, FUNDS * 10, GAS * 1_000_000),
    ];
    let r = net.block(txs);
    let codes: Vec<_> = (0..6).map(|i| error_of(&r, i).map(|e| e.1)).collect();
    assert_eq!(
        codes,
        vec![Some(1), Some(8), Some(7), Some(5), Some(6), Some(4)]
    );
    assert!(r.tx_results.iter().all(|t| t.gas_used == 0));
    assert_eq!(state_without_meta(&net.store), before);
}

#[test]
fn tampered_and_non_canonical_encodings_are_refused() {
    let mut net = Net::new(2);
    let good = transfer(&net, 0, 0, 1, 10);
    // Flip a byte inside the signed body.
    let mut tampered = good.clone();
    let n = tampered.len();
    tampered[n / 2] ^= 0x01;
    // Trailing garbage.
    let mut trailing = good.clone();
    trailing.push(0);
    let r = net.block(vec![tampered, trailing]);
    assert!(error_of(&r, 0).is_some());
    assert_eq!(error_of(&r, 1), Some(("consensus".into(), 1)));
    assert_eq!(net.balance(0), FUNDS);
    // The untouched transaction still works afterwards.
    let r = net.block(vec![good]);
    assert_eq!(error_of(&r, 0), None);
}

#[test]
fn a_signature_verified_once_is_trusted_only_for_those_exact_bytes() {
    let mut net = Net::new(2);
    let good = transfer(&net, 0, 0, 1, 10);
    // Admission verifies and remembers the transaction...
    net.app
        .check_tx(&net.store, &good, NonceCheck::AtLeast)
        .unwrap();
    // ...but a copy with another signature is verified afresh, alone and
    // beside the remembered one in a block.
    let mut signed: SignedTransaction = cbor::from_slice(&good).unwrap();
    let other: SignedTransaction = cbor::from_slice(&transfer(&net, 0, 0, 1, 11)).unwrap();
    signed.signature.signature = other.signature.signature;
    let forged = cbor::to_vec(&signed).unwrap();
    let e = net
        .app
        .check_tx(&net.store, &forged, NonceCheck::AtLeast)
        .unwrap_err();
    assert_eq!((e.module.as_str(), e.code), ("consensus", 2));
    let r = net.block(vec![forged, good]);
    assert_eq!(error_of(&r, 0), Some(("consensus".into(), 2)));
    assert_eq!(error_of(&r, 1), None);
    assert_eq!(net.balance(1), FUNDS + 10);
}

#[test]
fn batch_preverification_never_vouches_for_a_bad_signature() {
    let mut net = Net::new(2);
    let good = transfer(&net, 0, 0, 1, 10);
    let mut signed: SignedTransaction = cbor::from_slice(&good).unwrap();
    let other: SignedTransaction = cbor::from_slice(&transfer(&net, 0, 0, 1, 11)).unwrap();
    signed.signature.signature = other.signature.signature;
    let forged = cbor::to_vec(&signed).unwrap();
    let params = net.app.tx_params(&net.store).unwrap();
    // A batch with one bad signature fails as a whole and proves nothing.
    net.app.preverify(&[&good, &forged], &params);
    let e = net
        .app
        .check_tx(&net.store, &forged, NonceCheck::AtLeast)
        .unwrap_err();
    assert_eq!(e.code, 2);
    // Good ones alone pass, then still check and apply normally.
    net.app.preverify(&[&good], &params);
    net.app
        .check_tx(&net.store, &good, NonceCheck::AtLeast)
        .unwrap();
    let r = net.block(vec![good, forged]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(error_of(&r, 1), Some(("consensus".into(), 2)));
}

#[test]
fn malformed_body_pays_fee() {
    let mut net = Net::new(2);
    let tx = net.tx(0, 0, methods::TRANSFER, &"not a transfer", 0, GAS);
    let r = net.block(vec![tx]);
    assert_eq!(error_of(&r, 0), Some(("consensus".into(), 10)));
    let a0 = addr(&net.keys[0]);
    assert_eq!(net.account(&a0).general.nonce, 1);
}

#[test]
fn escrow_then_debonding_matures_exactly_at_its_epoch() {
    let mut net = Net::new(2);
    let validator = addr(&net.keys[1]);
    let esc = Escrow {
        account: validator,
        amount: Quantity(1_000),
    };
    let r = net.block(vec![net.tx(0, 0, methods::ADD_ESCROW, &esc, 0, GAS)]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(net.balance(0), FUNDS - 1_000);
    assert_eq!(
        net.account(&validator).escrow.active.balance,
        Quantity(1_000)
    );

    // Reclaim 400 shares in epoch 0: debonding ends at epoch 2.
    let rec = ReclaimEscrow {
        account: validator,
        shares: Quantity(400),
    };
    let r = net.block(vec![net.tx(0, 1, methods::RECLAIM_ESCROW, &rec, 0, GAS)]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(
        net.account(&validator).escrow.debonding.balance,
        Quantity(400)
    );

    net.advance_to_epoch(1);
    assert_eq!(net.balance(0), FUNDS - 1_000, "not matured in epoch 1");
    // Last block of epoch 1.
    while net.genesis.epoch_at(net.height + 1) == Epoch(1) {
        net.block(vec![]);
        assert_eq!(net.balance(0), FUNDS - 1_000);
    }
    // First block of epoch 2: matured.
    let r = net.block(vec![]);
    assert_eq!(r.epoch, Epoch(2));
    assert_eq!(r.events.len(), 1);
    assert_eq!(net.balance(0), FUNDS - 600);
    assert_eq!(
        net.account(&validator).escrow.debonding.balance,
        Quantity(0)
    );

    // Reclaiming more shares than held fails.
    let rec = ReclaimEscrow {
        account: validator,
        shares: Quantity(601),
    };
    let r = net.block(vec![net.tx(0, 2, methods::RECLAIM_ESCROW, &rec, 0, GAS)]);
    assert_eq!(error_of(&r, 0), Some(("staking".into(), 8)));
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn allowance_and_withdraw() {
    let mut net = Net::new(2);
    let owner = addr(&net.keys[0]);
    let allow = Allow {
        beneficiary: addr(&net.keys[1]),
        negative: false,
        amount_change: Quantity(100),
    };
    let w = Withdraw {
        from: owner,
        amount: Quantity(60),
    };
    let r = net.block(vec![
        net.tx(0, 0, methods::ALLOW, &allow, 0, GAS),
        net.tx(1, 0, methods::WITHDRAW, &w, 0, GAS),
        net.tx(1, 1, methods::WITHDRAW, &w, 0, GAS),
    ]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(error_of(&r, 1), None);
    assert_eq!(error_of(&r, 2), Some(("staking".into(), 10)));
    assert_eq!(net.balance(1), FUNDS + 60);
    assert_eq!(
        net.account(&owner)
            .general
            .allowances
            .get(&addr(&net.keys[1])),
        Some(&Quantity(40))
    );
    // Self-allowance is refused.
    let selfie = Allow {
        beneficiary: owner,
        negative: false,
        amount_change: Quantity(1),
    };
    let r = net.block(vec![net.tx(0, 1, methods::ALLOW, &selfie, 0, GAS)]);
    assert_eq!(error_of(&r, 0), Some(("staking".into(), 1)));
}

#[test]
fn burn_reduces_supply() {
    let mut net = Net::new(1);
    let r = net.block(vec![net.tx(
        0,
        0,
        methods::BURN,
        &Burn {
            amount: Quantity(10),
        },
        0,
        GAS,
    )]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(net.total_supply(), FUNDS - 10);
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn blocks_out_of_order_are_fatal() {
    let mut net = Net::new(1);
    net.block(vec![]);
    let b = Block {
        height: 5,
        ..Block::default()
    };
    assert!(net.app.apply_block(&mut net.store, &b).is_err());
}

#[derive(Debug, Clone)]
enum Op {
    Transfer(usize, usize, u128),
    Escrow(usize, usize, u128),
    Reclaim(usize, usize, u128),
    Burn(usize, u128),
    Fee(usize, u128),
    Garbage,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 0..4usize, 0..2 * FUNDS).prop_map(|(a, b, x)| Op::Transfer(a, b, x)),
        (0..4usize, 0..4usize, 1..FUNDS / 2).prop_map(|(a, b, x)| Op::Escrow(a, b, x)),
        (0..4usize, 0..4usize, 1..FUNDS / 2).prop_map(|(a, b, x)| Op::Reclaim(a, b, x)),
        (0..4usize, 0..FUNDS / 10).prop_map(|(a, x)| Op::Burn(a, x)),
        (0..4usize, 0..FUNDS / 100).prop_map(|(a, x)| Op::Fee(a, x)),
        Just(Op::Garbage),
    ]
}

fn run(ops: &[Vec<Op>]) -> (Net, u128) {
    let mut net = Net::new(4);
    let mut nonces = [0u64; 4];
    let mut burned = 0u128;
    for block_ops in ops {
        let mut txs = Vec::new();
        for op in block_ops {
            let (from, raw) = match *op {
                Op::Transfer(a, b, x) => {
                    let body = Transfer {
                        to: addr(&key(b as u8)),
                        amount: Quantity(x),
                    };
                    (a, net.tx(a, nonces[a], methods::TRANSFER, &body, 0, GAS))
                }
                Op::Escrow(a, b, x) => {
                    let body = Escrow {
                        account: addr(&key(b as u8)),
                        amount: Quantity(x),
                    };
                    (a, net.tx(a, nonces[a], methods::ADD_ESCROW, &body, 0, GAS))
                }
                Op::Reclaim(a, b, x) => {
                    let body = ReclaimEscrow {
                        account: addr(&key(b as u8)),
                        shares: Quantity(x),
                    };
                    (
                        a,
                        net.tx(a, nonces[a], methods::RECLAIM_ESCROW, &body, 0, GAS),
                    )
                }
                Op::Burn(a, x) => (
                    a,
                    net.tx(
                        a,
                        nonces[a],
                        methods::BURN,
                        &Burn {
                            amount: Quantity(x),
                        },
                        0,
                        GAS,
                    ),
                ),
                Op::Fee(a, x) => {
                    let body = Transfer {
                        to: addr(&key(0)),
                        amount: Quantity(0),
                    };
                    (a, net.tx(a, nonces[a], methods::TRANSFER, &body, x, GAS))
                }
                Op::Garbage => {
                    txs.push(vec![0xa1, 0x00]);
                    continue;
                }
            };
            nonces[from] += 1;
            txs.push(raw);
        }
        let result = net.block(txs);
        // Each op produced exactly one transaction, in order.
        for (op, res) in block_ops.iter().zip(&result.tx_results) {
            if let (Op::Burn(_, x), None) = (op, &res.error) {
                burned += x;
            }
        }
    }
    (net, burned)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Tokens are conserved by everything but burning, and the same blocks
    /// from the same genesis give the same state.
    #[test]
    fn supply_is_conserved_and_replay_is_deterministic(
        ops in proptest::collection::vec(proptest::collection::vec(op(), 0..6), 1..30)
    ) {
        let (mut a, burned) = run(&ops);
        prop_assert_eq!(a.total_tokens(), a.total_supply());
        prop_assert_eq!(a.total_supply(), FUNDS * 4 - burned);
        let (b, _) = run(&ops);
        prop_assert_eq!(a.store.entries(), b.store.entries());
    }
}

#[test]
fn signing_validators_earn_rewards_and_commission() {
    use atoll_consensus_types::staking::commission::{BoundStep, RateStep};
    use atoll_consensus_types::staking::{
        Account, AmendCommissionSchedule, CommissionSchedule, Delegation, RewardStep,
    };
    let idle = addr(&key(50)); // an escrow whose validator never signs
    let mut net = Net::with(2, |g| {
        g.staking.parameters.reward_schedule = vec![RewardStep {
            until: Epoch(100),
            scale: 1_000_000,
        }];
        g.staking.common_pool = Quantity(1_000_000);
        g.staking.total_supply.0 += 1_000_000;
        for a in [addr(&key(1)), idle] {
            let acct = g.staking.ledger.entry(a).or_insert_with(Account::default);
            acct.escrow.active.balance = Quantity(100_000);
            acct.escrow.active.total_shares = Quantity(100_000);
            g.staking.delegations.entry(a).or_default().insert(
                a,
                Delegation {
                    shares: Quantity(100_000),
                },
            );
            g.staking.total_supply.0 += 100_000;
        }
    });
    let owner = addr(&net.keys[1]);
    // 10 % commission from epoch 1, within bounds of 0-20 %.
    let amend = AmendCommissionSchedule {
        amendment: CommissionSchedule {
            rates: vec![RateStep {
                start: Epoch(1),
                rate: 10_000,
            }],
            bounds: vec![BoundStep {
                start: Epoch(1),
                rate_min: 0,
                rate_max: 20_000,
            }],
        },
    };
    let r = net.block(vec![net.tx(
        1,
        0,
        methods::AMEND_COMMISSION_SCHEDULE,
        &amend,
        0,
        GAS,
    )]);
    assert_eq!(error_of(&r, 0), None);
    net.advance_to_epoch(2);
    // Epoch 1's reward: 1 % of 100,000; 10 % of it is the owner's commission.
    let acct = net.account(&owner);
    assert_eq!(
        acct.escrow.active.balance,
        Quantity(100_000 + 1_000 + 1_010)
    );
    let owner_shares = atoll_consensus::services::staking::state::StakingState::new(&mut net.store)
        .delegation(&owner, &owner)
        .unwrap()
        .shares;
    assert!(
        owner_shares > Quantity(100_000),
        "the commission was delegated to the owner"
    );
    assert_eq!(
        net.account(&idle).escrow.active.balance,
        Quantity(100_000),
        "no signatures, no reward"
    );
    assert_eq!(net.total_tokens(), net.total_supply());
    // Commission above the bounds is refused.
    let greedy = AmendCommissionSchedule {
        amendment: CommissionSchedule {
            rates: vec![RateStep {
                start: Epoch(5),
                rate: 50_000,
            }],
            bounds: vec![],
        },
    };
    let r = net.block(vec![net.tx(
        1,
        1,
        methods::AMEND_COMMISSION_SCHEDULE,
        &greedy,
        0,
        GAS,
    )]);
    assert_eq!(error_of(&r, 0), Some(("staking".into(), 1)));
}

#[test]
fn queries_answer_in_human_readable_forms() {
    use atoll_consensus::query::{QueryError, query};
    let mut net = Net::new(2);
    net.block(vec![transfer(&net, 0, 0, 1, 5)]);
    let a1 = addr(&net.keys[1]);
    let v = query(
        &mut net.store,
        "staking.Account",
        &serde_json::json!({ "address": a1.to_string() }),
    )
    .unwrap();
    assert_eq!(
        v["general"]["balance"],
        serde_json::json!((FUNDS + 5).to_string())
    );
    let supply = query(
        &mut net.store,
        "staking.TotalSupply",
        &serde_json::Value::Null,
    )
    .unwrap();
    assert_eq!(supply, serde_json::json!((FUNDS * 2).to_string()));
    let mut listed = query(
        &mut net.store,
        "staking.Addresses",
        &serde_json::Value::Null,
    )
    .unwrap();
    let listed = listed.as_array_mut().unwrap();
    listed.sort_by_key(|v| v.as_str().unwrap().to_owned());
    let mut want = vec![
        serde_json::json!(addr(&net.keys[0]).to_string()),
        serde_json::json!(a1.to_string()),
    ];
    want.sort_by_key(|v| v.as_str().unwrap().to_owned());
    assert_eq!(listed, &want);
    assert_eq!(
        query(
            &mut net.store,
            "staking.BlockFees",
            &serde_json::Value::Null
        )
        .unwrap(),
        serde_json::json!("0")
    );
    assert!(matches!(
        query(&mut net.store, "staking.Nope", &serde_json::Value::Null),
        Err(QueryError::UnknownMethod(_))
    ));
    assert!(matches!(
        query(
            &mut net.store,
            "staking.Account",
            &serde_json::json!({ "address": "oasis1bad" })
        ),
        Err(QueryError::InvalidArguments { .. })
    ));
    assert!(matches!(
        query(
            &mut net.store,
            "registry.Runtime",
            &serde_json::json!({ "runtime": "00".repeat(32) })
        ),
        Err(QueryError::NotFound(_))
    ));
}

/// A network of three signing keys whose first key (the proposer) has an
/// escrow of 200,000,000 and whose common pool holds 10^9, rewarding 1 % a
/// step (`scale` 1,000,000) until epoch 100.
fn rewarding_net(tweak: impl FnOnce(&mut atoll_consensus::genesis::Genesis)) -> Net {
    use atoll_consensus_types::staking::{Account, Delegation, RewardStep};
    Net::with(3, |g| {
        g.staking.parameters.reward_schedule = vec![RewardStep {
            until: Epoch(100),
            scale: 1_000_000,
        }];
        g.staking.common_pool = Quantity(1_000_000_000);
        g.staking.total_supply.0 += 1_000_000_000;
        let a = addr(&key(0));
        let acct = g.staking.ledger.entry(a).or_insert_with(Account::default);
        acct.escrow.active.balance = Quantity(200_000_000);
        acct.escrow.active.total_shares = Quantity(200_000_000);
        g.staking.delegations.entry(a).or_default().insert(
            a,
            Delegation {
                shares: Quantity(200_000_000),
            },
        );
        g.staking.total_supply.0 += 200_000_000;
        tweak(g);
    })
}

#[test]
fn the_proposer_earns_its_reward_attenuated_by_the_validators_that_signed() {
    use atoll_consensus::services::scheduler::state::SchedulerState;
    use atoll_consensus_types::scheduler::Validator;
    let mut net = rewarding_net(|g| {
        // Half the schedule's rate per block proposed.
        g.staking.parameters.reward_factor_block_proposed = Quantity(50_000_000);
    });
    // Four validator entities; the blocks carry the three keys' signatures
    // (powers do not matter: entities are counted).
    let validators: Vec<Validator> = (0..4u8)
        .map(|i| Validator {
            node_id: key(100 + i).public_key(),
            consensus_key: key(110 + i).public_key(),
            entity: addr(&key(i)),
            voting_power: 10 + u64::from(i),
        })
        .collect();
    SchedulerState::new(&mut net.store)
        .set_validators(&validators)
        .unwrap();
    let proposer = addr(&key(0));
    // The first block certifies nothing: no reward.
    let r = net.block(vec![]);
    assert!(r.events.is_empty());
    assert_eq!(net.account(&proposer).escrow.active.balance.0, 200_000_000);
    // 200,000,000 × 1 % × 1/2 × 3/4 = 750,000.
    let r = net.block(vec![]);
    assert_eq!(r.events.len(), 1);
    assert_eq!(net.account(&proposer).escrow.active.balance.0, 200_750_000);
    // 200,750,000 × 1 % = 2,007,500; × 1/2 = 1,003,750; × 3/4 = 752,812 (floored).
    net.block(vec![]);
    assert_eq!(
        net.account(&proposer).escrow.active.balance.0,
        200_750_000 + 752_812
    );
    assert_eq!(
        StakingState::new(&mut net.store).common_pool().unwrap().0,
        1_000_000_000 - 750_000 - 752_812
    );
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn election_rewards_pay_each_entity_once_from_the_common_pool() {
    use atoll_consensus::services::staking::Staking;
    use atoll_consensus_types::staking::{Event, RewardKind};
    let mut net = rewarding_net(|g| {
        // A quarter of the schedule's rate per election.
        g.staking.parameters.reward_factor_epoch_election_any = Quantity(25_000_000);
    });
    let a = addr(&key(0));
    let no_stake = addr(&key(1));
    let events = Staking::new(&mut net.store)
        .reward_election(Epoch(3), &[a, no_stake, a])
        .unwrap();
    // 200,000,000 × 1 % × 1/4 = 500,000, once; no stake, no reward.
    assert_eq!(
        events,
        vec![Event::Reward {
            escrow: a,
            amount: Quantity(500_000),
            commission: Quantity(0),
            kind: RewardKind::Election,
        }]
    );
    assert_eq!(net.account(&a).escrow.active.balance.0, 200_500_000);
    assert_eq!(net.total_tokens(), net.total_supply());
    // After the schedule's last step nothing is paid.
    let events = Staking::new(&mut net.store)
        .reward_election(Epoch(101), &[a])
        .unwrap();
    assert!(events.is_empty());
}

#[test]
fn the_signing_factor_scales_the_epoch_reward_and_the_pool_caps_it() {
    use atoll_consensus::services::staking::{Staking, reward_amount};
    // Half the schedule's rate for signing; a pool of only 600,000.
    let mut net = rewarding_net(|g| {
        g.staking.parameters.reward_factor_epoch_signed = Quantity(50_000_000);
        g.staking.common_pool = Quantity(600_000);
        g.staking.total_supply.0 -= 1_000_000_000 - 600_000;
    });
    net.advance_to_epoch(1);
    // Epoch 0: 200,000,000 × 1 % × 1/2 = 1,000,000, capped by the pool.
    let a = addr(&key(0));
    assert_eq!(net.account(&a).escrow.active.balance.0, 200_600_000);
    assert_eq!(
        StakingState::new(&mut net.store).common_pool().unwrap().0,
        0
    );
    assert_eq!(net.total_tokens(), net.total_supply());
    assert_eq!(
        reward_amount(
            Quantity(200_000_000),
            1_000_000,
            Quantity(50_000_000),
            (1, 1)
        )
        .unwrap(),
        Quantity(1_000_000)
    );
    // Nothing left to pay.
    let ev = Staking::new(&mut net.store).reward_epoch(Epoch(1)).unwrap();
    assert!(ev.is_empty());
}

#[test]
fn operators_query_a_delegators_delegations_and_debondings() {
    use atoll_consensus::query::query;
    let mut net = Net::new(3);
    let (d, e1, e2) = (addr(&net.keys[0]), addr(&net.keys[1]), addr(&net.keys[2]));
    let escrow = |to, amount| Escrow {
        account: to,
        amount: Quantity(amount),
    };
    let r = net.block(vec![
        net.tx(0, 0, methods::ADD_ESCROW, &escrow(e1, 1_000), 0, GAS),
        net.tx(0, 1, methods::ADD_ESCROW, &escrow(e2, 500), 0, GAS),
        net.tx(
            0,
            2,
            methods::RECLAIM_ESCROW,
            &ReclaimEscrow {
                account: e1,
                shares: Quantity(300),
            },
            0,
            GAS,
        ),
    ]);
    for i in 0..3 {
        assert_eq!(error_of(&r, i), None);
    }
    let args = serde_json::json!({ "address": d.to_string() });
    let mut got = query(&mut net.store, "staking.DelegationsFor", &args).unwrap();
    let list = got.as_array_mut().unwrap();
    list.sort_by_key(|v| v["escrow"].as_str().unwrap().to_owned());
    let mut want = vec![
        serde_json::json!({ "escrow": e1.to_string(), "shares": "700", "amount": "700" }),
        serde_json::json!({ "escrow": e2.to_string(), "shares": "500", "amount": "500" }),
    ];
    want.sort_by_key(|v| v["escrow"].as_str().unwrap().to_owned());
    assert_eq!(list, &want);
    let deb = query(&mut net.store, "staking.DebondingDelegationsFor", &args).unwrap();
    assert_eq!(
        deb,
        serde_json::json!([{
            "escrow": e1.to_string(),
            "shares": "300",
            "debond_end": 2,
            "amount": "300",
        }])
    );
    // Someone who delegates nothing has none.
    let none = query(
        &mut net.store,
        "staking.DelegationsFor",
        &serde_json::json!({ "address": e2.to_string() }),
    )
    .unwrap();
    assert_eq!(none, serde_json::json!([]));
    assert!(
        query(
            &mut net.store,
            "staking.DelegationsFor",
            &serde_json::json!({ "address": 7 })
        )
        .is_err()
    );
}

/// Signs `body` (bytes laid out by hand) with key `i` and wraps it in the
/// canonical envelope: the signature covers exactly these bytes.
fn signed_raw(net: &Net, i: usize, body: Vec<u8>) -> Vec<u8> {
    let signature = atoll_types::signed::SignatureBundle {
        public_key: net.keys[i].public_key(),
        signature: net.keys[i].sign(net.app.tx_context(), &body),
    };
    cbor::to_vec(&atoll_types::signed::Signed::<
        atoll_types::transaction::Transaction,
    >::from_parts(body, signature))
    .unwrap()
}

/// A text key or value: `0x60 + len` then the bytes (all under 24 here).
fn text(s: &str) -> Vec<u8> {
    let mut out = vec![0x60 + u8::try_from(s.len()).unwrap()];
    out.extend_from_slice(s.as_bytes());
    out
}

/// A `staking.Transfer` of 10 to key 1 from key 0 with nonce 0, laid out as
/// `entries` says: each entry is the encoded key and value, in that order.
fn transfer_body(net: &Net, entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let _ = net;
    let mut out = vec![0xa0 + u8::try_from(entries.len()).unwrap()];
    for (k, v) in entries {
        out.extend(text(k));
        out.extend_from_slice(v);
    }
    out
}

fn transfer_value(net: &Net) -> Vec<u8> {
    cbor::to_vec(&Transfer {
        to: addr(&net.keys[1]),
        amount: Quantity(10),
    })
    .unwrap()
}

fn fee_value() -> Vec<u8> {
    cbor::to_vec(&atoll_types::transaction::Fee::new(Quantity::ZERO, GAS)).unwrap()
}

#[test]
fn bodies_oasis_node_reads_are_read_with_the_same_meaning() {
    // oasis-node decodes a client's transaction with fxamacker/cbor under
    // oasis-core's untrusted-input options (go/common/cbor): longer integer
    // heads, any key order, unknown fields (ignored) and explicit null
    // bodies all decode; the signature covers the bytes as sent.
    let mut net = Net::new(2);
    let method = text(methods::TRANSFER);
    // Keys out of canonical order, the nonce as a 1-byte head (0x18 0x00), an
    // unknown field.
    let body = transfer_body(
        &net,
        &[
            ("method", method.clone()),
            ("body", transfer_value(&net)),
            ("nonce", vec![0x18, 0x00]),
            ("fee", fee_value()),
            ("memo", text("hi")),
        ],
    );
    let r = net.block(vec![signed_raw(&net, 0, body)]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(net.balance(1), FUNDS + 10);
    // The Trust Wallet layout: quantities with leading zero bytes (the fee
    // amount h'00' and the transfer amount h'000a').
    let to = cbor::to_vec(&addr(&net.keys[1])).unwrap();
    let mut transfer = vec![0xa2];
    transfer.extend(text("to"));
    transfer.extend(to);
    transfer.extend(text("amount"));
    transfer.extend([0x42, 0x00, 0x0a]);
    let mut fee = vec![0xa2];
    fee.extend(text("gas"));
    fee.extend(cbor::to_vec(&GAS).unwrap());
    fee.extend(text("amount"));
    fee.extend([0x41, 0x00]);
    let body = transfer_body(
        &net,
        &[
            ("fee", fee),
            ("body", transfer),
            ("nonce", vec![0x01]),
            ("method", method),
        ],
    );
    let r = net.block(vec![signed_raw(&net, 0, body)]);
    assert_eq!(error_of(&r, 0), None);
    assert_eq!(net.balance(1), FUNDS + 20);
}

#[test]
fn bodies_oasis_node_refuses_are_refused_and_change_nothing() {
    let mut net = Net::new(2);
    let before = state_without_meta(&net.store);
    let method = text(methods::TRANSFER);
    let good = [
        ("fee", fee_value()),
        ("body", transfer_value(&net)),
        ("nonce", vec![0x00]),
        ("method", method.clone()),
    ];
    // A duplicate key (also when written with a longer head: keys compare by
    // value), an indefinite-length map, a tag, trailing bytes.
    let mut dup = good.to_vec();
    dup.push(("nonce", vec![0x01]));
    let dup = transfer_body(&net, &dup);
    let mut dup_long = transfer_body(&net, &good);
    dup_long[0] += 1;
    dup_long.extend([0x78, 0x05]);
    dup_long.extend(b"nonce");
    dup_long.push(0x01);
    let mut indefinite = transfer_body(&net, &good);
    indefinite[0] = 0xbf;
    indefinite.push(0xff);
    let mut tagged = vec![0xc0];
    tagged.extend(transfer_body(&net, &good));
    let mut trailing = transfer_body(&net, &good);
    trailing.push(0x00);
    let txs: Vec<_> = [dup, dup_long, indefinite, tagged, trailing]
        .into_iter()
        .map(|b| signed_raw(&net, 0, b))
        .collect();
    let r = net.block(txs);
    for i in 0..5 {
        assert_eq!(error_of(&r, i), Some(("consensus".into(), 1)), "tx {i}");
    }
    assert_eq!(state_without_meta(&net.store), before);
    // The same fields once each, in any order, are fine.
    let r = net.block(vec![signed_raw(&net, 0, transfer_body(&net, &good))]);
    assert_eq!(error_of(&r, 0), None);
}

//! Deposits and withdrawals through consensus messages and their results.

use atoll_consensus_types::staking;
use atoll_runtime_sdk::modules::consensus_accounts::{
    self, ConsensusError, Deposit, OperationEvent, Withdraw, pending_withdrawal,
};
use atoll_runtime_sdk::state::MemStore;
use atoll_runtime_sdk::types::{BaseUnits, Transaction};
use atoll_runtime_sdk::{BatchResult, Message, MessageResult, Runtime};
use atoll_types::Quantity;

use crate::common::*;

fn with_slots(mut tx: Transaction, n: u32) -> Transaction {
    tx.auth_info.fee.consensus_messages = n;
    tx
}

fn deposit_tx(signer: &atoll_runtime_sdk::crypto::TxSigner, nonce: u64, amount: u128) -> Vec<u8> {
    let body = Deposit {
        to: None,
        amount: BaseUnits::native(amount),
    };
    sign(
        &with_slots(
            unsigned(signer, nonce, "consensus.Deposit", &body, 20_000),
            1,
        ),
        &[signer],
    )
}

fn withdraw_tx(
    signer: &atoll_runtime_sdk::crypto::TxSigner,
    nonce: u64,
    to: Option<atoll_crypto::Address>,
    amount: u128,
) -> Vec<u8> {
    let body = Withdraw {
        to,
        amount: BaseUnits::native(amount),
    };
    sign(
        &with_slots(
            unsigned(signer, nonce, "consensus.Withdraw", &body, 20_000),
            1,
        ),
        &[signer],
    )
}

fn ok(index: u32) -> MessageResult {
    MessageResult {
        index,
        module: String::new(),
        code: 0,
        result: None,
    }
}

fn failed(index: u32) -> MessageResult {
    MessageResult {
        index,
        module: "staking".into(),
        code: 5,
        result: None,
    }
}

fn run(rt: &Runtime, store: &mut MemStore, round: u64, txs: &[Vec<u8>]) -> BatchResult {
    rt.execute_batch(&batch_ctx(round), store, txs).unwrap()
}

const FEE: u128 = 20_000 * MIN_GAS_PRICE;

#[test]
fn deposit_mints_when_the_withdraw_message_succeeds() {
    let (rt, mut store) = setup();
    let a = alice().address();
    let res = run(&rt, &mut store, 1, &[deposit_tx(&alice(), 0, 1_000)]);
    assert!(
        res.results[0].result.is_success(),
        "{:?}",
        res.results[0].result
    );
    assert_eq!(
        res.messages,
        vec![Message::Withdraw(staking::Withdraw {
            from: a,
            amount: Quantity(1_000)
        })]
    );
    // Nothing minted yet; only the fee was paid.
    assert_eq!(balance(&store, &a), ALICE_FUNDS - FEE);
    let supply_before = supply(&store);

    // The batch of round 2 refuses to run before the results are processed.
    assert!(rt.execute_batch(&batch_ctx(2), &mut store, &[]).is_err());
    let events = rt
        .process_message_results(&batch_ctx(2), &mut store, &[ok(0)])
        .unwrap();
    assert_eq!(balance(&store, &a), ALICE_FUNDS - FEE + 1_000);
    assert_eq!(supply(&store), supply_before + 1_000);
    let keys: Vec<_> = events.iter().map(|e| (e.module.as_str(), e.code)).collect();
    assert_eq!(keys, vec![("accounts", 3), ("consensus_accounts", 1)]);
    let ev: OperationEvent = events[1].decode().unwrap();
    assert_eq!(
        ev,
        OperationEvent {
            from: a,
            nonce: 0,
            to: a,
            amount: BaseUnits::native(1_000),
            error: None
        }
    );
    // Now round 2 runs.
    run(&rt, &mut store, 2, &[]);
}

#[test]
fn failed_deposit_mints_nothing() {
    let (rt, mut store) = setup();
    let a = alice().address();
    run(&rt, &mut store, 1, &[deposit_tx(&alice(), 0, 1_000)]);
    let supply_before = supply(&store);
    let events = rt
        .process_message_results(&batch_ctx(2), &mut store, &[failed(0)])
        .unwrap();
    assert_eq!(balance(&store, &a), ALICE_FUNDS - FEE);
    assert_eq!(supply(&store), supply_before);
    assert_eq!(events.len(), 1);
    let ev: OperationEvent = events[0].decode().unwrap();
    assert_eq!(
        ev.error,
        Some(ConsensusError {
            module: "staking".into(),
            code: 5
        })
    );
}

#[test]
fn withdraw_burns_when_the_transfer_succeeds() {
    let (rt, mut store) = setup();
    let b = bob().address();
    let res = run(&rt, &mut store, 1, &[withdraw_tx(&bob(), 0, None, 1_000)]);
    assert!(
        res.results[0].result.is_success(),
        "{:?}",
        res.results[0].result
    );
    assert_eq!(
        res.messages,
        vec![Message::Transfer(staking::Transfer {
            to: b,
            amount: Quantity(1_000)
        })]
    );
    assert_eq!(balance(&store, &b), BOB_FUNDS - FEE - 1_000);
    assert_eq!(balance(&store, &pending_withdrawal()), 1_000);
    let supply_before = supply(&store);
    let events = rt
        .process_message_results(&batch_ctx(2), &mut store, &[ok(0)])
        .unwrap();
    assert_eq!(balance(&store, &pending_withdrawal()), 0);
    assert_eq!(supply(&store), supply_before - 1_000);
    assert_eq!(balance(&store, &b), BOB_FUNDS - FEE - 1_000);
    let keys: Vec<_> = events.iter().map(|e| (e.module.as_str(), e.code)).collect();
    assert_eq!(keys, vec![("accounts", 2), ("consensus_accounts", 2)]);
}

#[test]
fn failed_withdraw_is_refunded() {
    let (rt, mut store) = setup();
    let b = bob().address();
    let to = alice().address();
    run(
        &rt,
        &mut store,
        1,
        &[withdraw_tx(&bob(), 0, Some(to), 1_000)],
    );
    let supply_before = supply(&store);
    let events = rt
        .process_message_results(&batch_ctx(2), &mut store, &[failed(0)])
        .unwrap();
    assert_eq!(balance(&store, &b), BOB_FUNDS - FEE);
    assert_eq!(balance(&store, &pending_withdrawal()), 0);
    assert_eq!(supply(&store), supply_before);
    let ev: OperationEvent = events.last().unwrap().decode().unwrap();
    assert_eq!((ev.from, ev.to, ev.error.is_some()), (b, to, true));
}

#[test]
fn several_messages_in_one_batch_keep_their_indices() {
    let (rt, mut store) = setup();
    let res = run(
        &rt,
        &mut store,
        1,
        &[
            deposit_tx(&alice(), 0, 100),
            withdraw_tx(&bob(), 0, None, 200),
            deposit_tx(&alice(), 1, 300),
        ],
    );
    assert_eq!(res.messages.len(), 3);
    // Results may come in any order; each finds its operation.
    rt.process_message_results(&batch_ctx(2), &mut store, &[ok(2), failed(1), ok(0)])
        .unwrap();
    assert_eq!(
        balance(&store, &alice().address()),
        ALICE_FUNDS - 2 * FEE + 400
    );
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS - FEE);
}

#[test]
fn mismatched_results_are_fatal() {
    let (rt, mut store) = setup();
    run(&rt, &mut store, 1, &[deposit_tx(&alice(), 0, 100)]);
    assert!(
        rt.process_message_results(&batch_ctx(2), &mut store.clone(), &[ok(1)])
            .is_err()
    );
    assert!(
        rt.process_message_results(&batch_ctx(2), &mut store.clone(), &[])
            .is_err()
    );
    assert!(
        rt.process_message_results(&batch_ctx(2), &mut store, &[ok(0)])
            .is_ok()
    );
}

#[test]
fn message_slots_must_be_paid_for() {
    let (rt, mut store) = setup();
    let body = Deposit {
        to: None,
        amount: BaseUnits::native(100),
    };
    let raw = signed(&alice(), 0, "consensus.Deposit", &body, 20_000);
    let res = run(&rt, &mut store, 1, &[raw]);
    assert_eq!(fail_code(&res.results[0]), ("core".into(), 6));
    assert!(res.messages.is_empty());
    assert_eq!(nonce(&store, &alice().address()), 1);
    // No hook was left behind: the next round runs without results.
    run(&rt, &mut store, 2, &[]);
}

#[test]
fn withdraw_more_than_the_balance_fails_and_emits_nothing() {
    let (rt, mut store) = setup();
    let res = run(
        &rt,
        &mut store,
        1,
        &[withdraw_tx(&bob(), 0, None, BOB_FUNDS)],
    );
    assert_eq!(fail_code(&res.results[0]), ("consensus_accounts".into(), 3));
    assert!(res.messages.is_empty());
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS - FEE);
}

#[test]
fn secp256k1_signer_needs_an_explicit_consensus_account() {
    let (rt, mut store) = setup();
    let res = run(
        &rt,
        &mut store,
        1,
        &[
            deposit_tx(&charlie(), 0, 100),
            withdraw_tx(&charlie(), 1, None, 100),
        ],
    );
    assert_eq!(fail_code(&res.results[0]), ("consensus_accounts".into(), 6));
    assert_eq!(fail_code(&res.results[1]), ("consensus_accounts".into(), 6));
    let res = run(
        &rt,
        &mut store,
        2,
        &[withdraw_tx(&charlie(), 2, Some(alice().address()), 100)],
    );
    assert!(res.results[0].result.is_success());
}

#[test]
fn scaling_factor_converts_amounts() {
    let rt = runtime();
    let mut store = MemStore::new();
    let g = genesis()
        .with(
            "consensus_accounts",
            &consensus_accounts::Genesis {
                parameters: consensus_accounts::Parameters {
                    consensus_scaling_factor: 1_000,
                    ..Default::default()
                },
            },
        )
        .unwrap();
    rt.init_genesis(&mut store, &g).unwrap();
    let res = run(
        &rt,
        &mut store,
        1,
        &[
            deposit_tx(&alice(), 0, 1_500),
            deposit_tx(&alice(), 1, 2_000),
        ],
    );
    assert_eq!(fail_code(&res.results[0]), ("consensus_accounts".into(), 5));
    assert_eq!(
        res.messages,
        vec![Message::Withdraw(staking::Withdraw {
            from: alice().address(),
            amount: Quantity(2)
        })]
    );
    rt.process_message_results(&batch_ctx(2), &mut store, &[ok(0)])
        .unwrap();
    assert_eq!(
        balance(&store, &alice().address()),
        ALICE_FUNDS - 2 * FEE + 2_000
    );
    // A factor that is not a power of ten is refused at genesis.
    let bad = genesis()
        .with(
            "consensus_accounts",
            &consensus_accounts::Genesis {
                parameters: consensus_accounts::Parameters {
                    consensus_scaling_factor: 300,
                    ..Default::default()
                },
            },
        )
        .unwrap();
    assert!(rt.init_genesis(&mut MemStore::new(), &bad).is_err());
}

mod delegation {
    use super::*;
    use atoll_consensus_types::roothash::MessageOutcome;
    use atoll_runtime_sdk::modules::consensus_accounts::{
        Delegate, DelegateEvent, DelegationInfo, DelegationQuery, DelegationsQuery,
        ExtendedDelegationInfo, Undelegate, UndelegateStartEvent, UndelegationInfo,
        UndelegationsQuery, pending_delegation,
    };
    use atoll_types::Epoch;

    fn escrow() -> atoll_crypto::Address {
        dave().address()
    }

    fn delegate_tx(nonce: u64, amount: u128) -> Vec<u8> {
        let body = Delegate {
            to: escrow(),
            amount: BaseUnits::native(amount),
            receipt: true,
        };
        sign(
            &with_slots(
                unsigned(&charlie(), nonce, "consensus.Delegate", &body, 20_000),
                1,
            ),
            &[&charlie()],
        )
    }

    fn undelegate_tx(nonce: u64, shares: u128) -> Vec<u8> {
        let body = Undelegate {
            from: escrow(),
            shares: Quantity(shares),
            receipt: false,
        };
        sign(
            &with_slots(
                unsigned(&charlie(), nonce, "consensus.Undelegate", &body, 30_000),
                1,
            ),
            &[&charlie()],
        )
    }

    fn query<T: serde::de::DeserializeOwned>(
        rt: &Runtime,
        store: &MemStore,
        method: &str,
        args: &impl serde::Serialize,
    ) -> T {
        let out = rt
            .query(
                &batch_ctx(9),
                store,
                method,
                &atoll_types::cbor::to_vec(args).unwrap(),
            )
            .unwrap();
        atoll_types::cbor::from_slice(&out).unwrap()
    }

    fn with(result: MessageResult, outcome: MessageOutcome) -> MessageResult {
        MessageResult {
            result: Some(outcome),
            ..result
        }
    }

    #[test]
    fn a_paratime_user_delegates_and_undelegates_through_messages_with_receipts() {
        let (rt, mut store) = setup();
        // Charlie signs with secp256k1: delegating needs no consensus account.
        let c = charlie().address();
        let res = run(&rt, &mut store, 1, &[delegate_tx(0, 1_000)]);
        assert!(
            res.results[0].result.is_success(),
            "{:?}",
            res.results[0].result
        );
        assert_eq!(
            res.messages,
            vec![Message::AddEscrow(staking::Escrow {
                account: escrow(),
                amount: Quantity(1_000),
            })]
        );
        let fee = 20_000 * MIN_GAS_PRICE;
        assert_eq!(balance(&store, &c), CHARLIE_FUNDS - fee - 1_000);
        assert_eq!(balance(&store, &pending_delegation()), 1_000);
        let supply_before = supply(&store);

        // Consensus escrowed it and minted 900 shares for the runtime.
        let events = rt
            .process_message_results(
                &batch_ctx(2),
                &mut store,
                &[with(
                    ok(0),
                    MessageOutcome::AddEscrow {
                        new_shares: Quantity(900),
                    },
                )],
            )
            .unwrap();
        assert_eq!(balance(&store, &pending_delegation()), 0);
        assert_eq!(supply(&store), supply_before - 1_000);
        let receipt: DelegateEvent = events.last().unwrap().decode().unwrap();
        assert_eq!(
            receipt,
            DelegateEvent {
                from: c,
                nonce: 0,
                to: escrow(),
                amount: BaseUnits::native(1_000),
                shares: Quantity(900),
                error: None,
            }
        );
        let d: DelegationInfo = query(
            &rt,
            &store,
            "consensus.Delegation",
            &DelegationQuery {
                from: c,
                to: escrow(),
            },
        );
        assert_eq!(d.shares, Quantity(900));
        let all: Vec<ExtendedDelegationInfo> = query(
            &rt,
            &store,
            "consensus.Delegations",
            &DelegationsQuery { from: c },
        );
        assert_eq!(
            all,
            vec![ExtendedDelegationInfo {
                to: escrow(),
                shares: Quantity(900),
            }]
        );

        // More shares than held: refused, nothing emitted.
        let res = run(&rt, &mut store, 2, &[undelegate_tx(1, 901)]);
        assert_eq!(fail_code(&res.results[0]), ("consensus_accounts".into(), 3));
        assert!(res.messages.is_empty());
        // 400 of them: the shares leave the delegation at once.
        let res = run(&rt, &mut store, 3, &[undelegate_tx(2, 400)]);
        assert!(
            res.results[0].result.is_success(),
            "{:?}",
            res.results[0].result
        );
        assert_eq!(
            res.messages,
            vec![Message::ReclaimEscrow(staking::ReclaimEscrow {
                account: escrow(),
                shares: Quantity(400),
            })]
        );
        let events = rt
            .process_message_results(
                &batch_ctx(4),
                &mut store,
                &[with(
                    ok(0),
                    MessageOutcome::ReclaimEscrow {
                        amount: Quantity(444),
                        debonding_shares: Quantity(444),
                        debond_end: Epoch(7),
                    },
                )],
            )
            .unwrap();
        let receipt: UndelegateStartEvent = events.last().unwrap().decode().unwrap();
        assert_eq!(
            (receipt.amount, receipt.debond_end, receipt.error),
            (Quantity(444), 7, None)
        );
        let d: DelegationInfo = query(
            &rt,
            &store,
            "consensus.Delegation",
            &DelegationQuery {
                from: c,
                to: escrow(),
            },
        );
        assert_eq!(d.shares, Quantity(500));
        let u: Vec<UndelegationInfo> = query(
            &rt,
            &store,
            "consensus.Undelegations",
            &UndelegationsQuery { to: c },
        );
        assert_eq!(
            u,
            vec![UndelegationInfo {
                from: escrow(),
                epoch: 7,
                shares: Quantity(444),
            }]
        );
    }

    #[test]
    fn failed_escrow_messages_give_back_tokens_and_shares() {
        let (rt, mut store) = setup();
        let c = charlie().address();
        run(&rt, &mut store, 1, &[delegate_tx(0, 1_000)]);
        let before = balance(&store, &c);
        let events = rt
            .process_message_results(&batch_ctx(2), &mut store, &[failed(0)])
            .unwrap();
        assert_eq!(balance(&store, &c), before + 1_000);
        let receipt: DelegateEvent = events.last().unwrap().decode().unwrap();
        assert_eq!(receipt.shares, Quantity(0));
        assert!(receipt.error.is_some());
        // A success without the shares it must carry is a broken consensus
        // reply: the node cannot compute the round.
        run(&rt, &mut store, 2, &[delegate_tx(1, 1_000)]);
        assert!(
            rt.process_message_results(&batch_ctx(3), &mut store, &[ok(0)])
                .is_err()
        );
    }
}

//! The result of a batch is a pure function of the state and the batch.

use atoll_runtime_sdk::crypto::TxSigner;
use atoll_runtime_sdk::modules::consensus_accounts::{Deposit, Withdraw};
use atoll_runtime_sdk::types::BaseUnits;
use atoll_types::cbor::Value;
use proptest::prelude::*;

use crate::common::*;

#[derive(Debug, Clone)]
enum Op {
    Transfer { to: usize, amount: u128 },
    Deposit(u128),
    Withdraw(u128),
    Fail,
    Garbage(Vec<u8>),
}

fn op() -> impl Strategy<Value = (usize, Op, u64)> {
    let op = prop_oneof![
        4 => (0usize..4, 0u128..200_000).prop_map(|(to, amount)| Op::Transfer { to, amount }),
        1 => (0u128..5_000).prop_map(Op::Deposit),
        1 => (0u128..5_000).prop_map(Op::Withdraw),
        1 => Just(Op::Fail),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Garbage),
    ];
    // Mostly the right nonce, sometimes a wrong one.
    (
        0usize..3,
        op,
        prop_oneof![8 => Just(0u64), 1 => Just(1u64), 1 => Just(u64::MAX)],
    )
}

fn build(ops: &[(usize, Op, u64)]) -> Vec<Vec<u8>> {
    let signers: Vec<TxSigner> = vec![alice(), bob(), charlie(), dave()];
    let mut nonces = [0u64; 4];
    ops.iter()
        .map(|(who, op, skew)| {
            let s = &signers[*who];
            let n = nonces[*who].wrapping_add(*skew);
            if *skew == 0 {
                nonces[*who] += 1;
            }
            let slots = |mut tx: atoll_runtime_sdk::types::Transaction| {
                tx.auth_info.fee.consensus_messages = 1;
                sign(&tx, &[s])
            };
            match op {
                Op::Transfer { to, amount } => signed(
                    s,
                    n,
                    "accounts.Transfer",
                    &transfer_body(signers[*to].address(), *amount),
                    5_000,
                ),
                Op::Deposit(a) => slots(unsigned(
                    s,
                    n,
                    "consensus.Deposit",
                    &Deposit {
                        to: None,
                        amount: BaseUnits::native(*a),
                    },
                    20_000,
                )),
                Op::Withdraw(a) => slots(unsigned(
                    s,
                    n,
                    "consensus.Withdraw",
                    &Withdraw {
                        to: None,
                        amount: BaseUnits::native(*a),
                    },
                    20_000,
                )),
                Op::Fail => signed(s, n, "test.WriteThenFail", &Value::Null, 5_000),
                Op::Garbage(b) => b.clone(),
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn batch_result_is_deterministic(ops in proptest::collection::vec(op(), 0..16)) {
        let txs = build(&ops);
        let (rt1, mut s1) = setup();
        let (rt2, mut s2) = setup();
        let r1 = rt1.execute_batch(&batch_ctx(1), &mut s1, &txs).unwrap();
        let r2 = rt2.execute_batch(&batch_ctx(1), &mut s2, &txs).unwrap();
        prop_assert_eq!(&r1, &r2);
        prop_assert_eq!(&s1, &s2);
        prop_assert_eq!(r1.results.len(), txs.len());
        // Tokens are conserved: minting only happens on message results.
        let total: u128 = [alice(), bob(), charlie(), dave()]
            .iter()
            .map(|k| balance(&s1, &k.address()))
            .sum::<u128>()
            + balance(&s1, &atoll_runtime_sdk::modules::accounts::fee_accumulator())
            + balance(&s1, &atoll_runtime_sdk::modules::consensus_accounts::pending_withdrawal());
        prop_assert_eq!(total, supply(&s1));
        // Message results are deterministic too, whatever their outcome.
        let results: Vec<_> = (0..r1.messages.len())
            .map(|i| atoll_runtime_sdk::MessageResult {
                index: u32::try_from(i).unwrap(),
                module: if i % 2 == 0 { String::new() } else { "staking".into() },
                code: u32::try_from(i % 2).unwrap(),
                result: None,
            })
            .collect();
        let e1 = rt1.process_message_results(&batch_ctx(2), &mut s1, &results).unwrap();
        let e2 = rt2.process_message_results(&batch_ctx(2), &mut s2, &results).unwrap();
        prop_assert_eq!(e1, e2);
        prop_assert_eq!(s1, s2);
    }
}

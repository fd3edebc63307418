//! Nested state transactions: a failing call rolls back, fee and nonce stay.

use atoll_runtime_sdk::modules::accounts;
use atoll_runtime_sdk::state::{Store, StoreExt, module_key};
use atoll_runtime_sdk::types::{CallResult, Transaction};
use atoll_types::cbor::Value;

use crate::common::*;

#[test]
fn failing_call_rolls_back_but_keeps_fee_and_nonce() {
    let (rt, mut store) = setup();
    let a = alice().address();
    let gas = 5_000;
    let r = exec_one(
        &rt,
        &mut store,
        signed(&alice(), 0, "test.WriteThenFail", &Value::Null, gas),
    );
    assert_eq!(fail_code(&r), (TEST.into(), 42));
    // The write and the inner transfer are gone.
    assert!(
        store
            .get_typed::<Value>(&module_key(TEST, 1, &[b"k"]))
            .unwrap()
            .is_none()
    );
    assert_eq!(balance(&store, &dave().address()), 0);
    // The fee and the nonce stay.
    assert_eq!(
        balance(&store, &a),
        ALICE_FUNDS - u128::from(gas) * MIN_GAS_PRICE
    );
    assert_eq!(nonce(&store, &a), 1);
    // The call's events are dropped; the fee transfer and gas used stay.
    let keys: Vec<_> = r
        .events
        .iter()
        .map(|e| (e.module.as_str(), e.code))
        .collect();
    assert_eq!(keys, vec![("accounts", 1), ("core", 1)]);

    // The same call that succeeds keeps everything.
    let r = exec_one(
        &rt,
        &mut store,
        signed(&alice(), 1, "test.Write", &Value::Unsigned(9), gas),
    );
    assert_eq!(r.result, CallResult::Ok(Value::Unsigned(9)));
    assert!(store.get(&module_key(TEST, 1, &[b"k"])).unwrap().is_some());
    assert_eq!(balance(&store, &dave().address()), 5);
    let keys: Vec<_> = r
        .events
        .iter()
        .map(|e| (e.module.as_str(), e.code))
        .collect();
    assert_eq!(
        keys,
        vec![(TEST, 1), ("accounts", 1), ("accounts", 1), ("core", 1)]
    );
}

#[test]
fn failed_transaction_does_not_disturb_the_rest_of_the_batch() {
    let (rt, mut store) = setup();
    let txs = vec![
        signed(
            &alice(),
            0,
            "accounts.Transfer",
            &transfer_body(bob().address(), 1),
            5_000,
        ),
        signed(&alice(), 1, "test.WriteThenFail", &Value::Null, 5_000),
        vec![1, 2, 3],
        signed(
            &alice(),
            2,
            "accounts.Transfer",
            &transfer_body(bob().address(), 2),
            5_000,
        ),
    ];
    let res = rt.execute_batch(&batch_ctx(1), &mut store, &txs).unwrap();
    let ok: Vec<bool> = res.results.iter().map(|r| r.result.is_success()).collect();
    assert_eq!(ok, vec![true, false, false, true]);
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS + 3);
    assert_eq!(nonce(&store, &alice().address()), 3);
}

#[test]
fn refund_of_unused_fee_when_the_call_asks() {
    let (rt, mut store) = setup();
    let a = alice().address();
    let gas = 50_000;
    let r = exec_one(
        &rt,
        &mut store,
        signed(&alice(), 0, "test.RefundUnused", &Value::Null, gas),
    );
    assert!(r.result.is_success());
    let paid = u128::from(r.gas_used) * MIN_GAS_PRICE;
    assert_eq!(balance(&store, &a), ALICE_FUNDS - paid);
    assert_eq!(balance(&store, &accounts::fee_accumulator()), paid);
}

#[test]
fn read_only_call_that_writes_fails() {
    let (rt, mut store) = setup();
    let mut tx: Transaction = unsigned(&alice(), 0, "test.Write", &Value::Null, 5_000);
    tx.call.read_only = true;
    let r = exec_one(&rt, &mut store, sign(&tx, &[&alice()]));
    assert_eq!(fail_code(&r), ("core".into(), 25));
    assert!(store.get(&module_key(TEST, 1, &[b"k"])).unwrap().is_none());
    assert_eq!(nonce(&store, &alice().address()), 1);
}

#[test]
fn burn_lowers_total_supply() {
    let (rt, mut store) = setup();
    let r = exec_one(
        &rt,
        &mut store,
        signed(&alice(), 0, "test.Burn", &Value::Null, 5_000),
    );
    assert!(r.result.is_success());
    assert_eq!(
        supply(&store),
        ALICE_FUNDS + BOB_FUNDS + CHARLIE_FUNDS - 1_000
    );
}

#[test]
fn block_hooks_run_every_batch() {
    let (rt, mut store) = setup();
    for round in 1..=3 {
        let res = rt
            .execute_batch(&batch_ctx(round), &mut store, &[])
            .unwrap();
        let evs: Vec<(u32, u64)> = res
            .block_events
            .iter()
            .map(|e| (e.code, e.decode().unwrap()))
            .collect();
        assert_eq!(evs, vec![(2, round), (3, round)]);
    }
    let n: u64 = store.get_typed(&module_key(TEST, 2, &[])).unwrap().unwrap();
    assert_eq!(n, 3);
}

#[test]
fn genesis_is_checked_and_runs_once() {
    let (rt, mut store) = setup();
    assert!(rt.init_genesis(&mut store, &genesis()).is_err());
    // Supplies that do not add up are refused.
    let mut g = genesis();
    let bad = accounts::Genesis {
        total_supplies: Default::default(),
        ..atoll_types::cbor::from_value(g.modules["accounts"].clone()).unwrap()
    };
    g = g.with("accounts", &bad).unwrap();
    let mut fresh = atoll_runtime_sdk::state::MemStore::new();
    assert!(rt.init_genesis(&mut fresh, &g).is_err());
    // Without genesis nothing executes.
    let empty = atoll_runtime_sdk::state::MemStore::new();
    assert!(rt.check_tx(&batch_ctx(1), &empty, &[]).is_err());
    // Duplicate modules and methods are refused.
    assert!(
        atoll_runtime_sdk::Runtime::builder()
            .module(TestModule)
            .module(TestModule)
            .build()
            .is_err()
    );
}

/// A call whose write the compute nodes' MKVS would refuse (a key over
/// `MAX_KEY_LEN`) fails alone with `core` error 64: its fee is charged, its
/// writes are gone, and the rest of the batch runs; the batch's state holds
/// nothing MKVS would refuse, so the round's root can always be computed.
#[test]
fn unstorable_write_fails_the_call_alone() {
    let (rt, mut store) = setup();
    let a = alice().address();
    let gas = 5_000;
    let too_long = longest_test_key_part() + 1;
    let txs = vec![
        signed(&alice(), 0, "test.WriteKeyOfLen", &too_long, gas),
        signed(&alice(), 1, "test.WriteKeyOfLen", &16u64, gas),
    ];
    let before = without_block_counter(&store);
    let r = rt.execute_batch(&batch_ctx(1), &mut store, &txs).unwrap();
    assert_eq!(fail_code(&r.results[0]), ("core".into(), 64));
    assert_eq!(r.results[1].result, CallResult::Ok(Value::Null));
    // Fee and nonce of both stay; only the second call's writes are kept.
    assert_eq!(
        balance(&store, &a),
        ALICE_FUNDS - 2 * u128::from(gas) * MIN_GAS_PRICE - 5
    );
    assert_eq!(nonce(&store, &a), 2);
    assert_eq!(balance(&store, &dave().address()), 5);
    let after = without_block_counter(&store);
    let new_keys: Vec<_> = after
        .keys()
        .filter(|k| !before.contains_key(*k))
        .filter(|k| k.starts_with(TEST.as_bytes()))
        .collect();
    assert_eq!(new_keys, vec![&module_key(TEST, 3, &[&[7u8; 16]])]);
    for (k, v) in store.entries() {
        assert!(atoll_runtime_sdk::state::check_storable(k, Some(v)).is_ok());
    }
}

fn longest_test_key_part() -> u64 {
    // The key is `test || 0x03 || n bytes`: make the whole key one byte
    // over the limit.
    (atoll_runtime_sdk::state::MAX_KEY_LEN - TEST.len() - 1) as u64
}

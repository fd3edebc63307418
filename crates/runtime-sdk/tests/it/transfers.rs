//! Plain transfers, their events, and the queries that see them.

use atoll_runtime_sdk::modules::accounts::{self, AccountBalances, TransferEvent};
use atoll_runtime_sdk::modules::core::GasUsedEvent;
use atoll_runtime_sdk::state::MemStore;
use atoll_runtime_sdk::types::{BaseUnits, CallResult, Denomination};
use atoll_types::cbor;

use crate::common::*;

#[test]
fn transfer_moves_tokens_and_charges_the_whole_fee() {
    let (rt, mut store) = setup();
    let (a, b) = (alice().address(), bob().address());
    let gas = 5_000;
    let r = exec_one(
        &rt,
        &mut store,
        signed(
            &alice(),
            0,
            "accounts.Transfer",
            &transfer_body(b, 1_234),
            gas,
        ),
    );
    assert_eq!(r.result, CallResult::Ok(atoll_types::cbor::Value::Null));
    let fee = u128::from(gas) * MIN_GAS_PRICE;
    assert_eq!(balance(&store, &a), ALICE_FUNDS - 1_234 - fee);
    assert_eq!(balance(&store, &b), BOB_FUNDS + 1_234);
    assert_eq!(balance(&store, &accounts::fee_accumulator()), fee);
    assert_eq!(nonce(&store, &a), 1);
    assert_eq!(nonce(&store, &b), 0);
    // Transfers neither mint nor burn.
    assert_eq!(supply(&store), ALICE_FUNDS + BOB_FUNDS + CHARLIE_FUNDS);
    assert!(r.gas_used > 1_000 && r.gas_used < gas);
}

#[test]
fn transfer_emits_events_in_order() {
    let (rt, mut store) = setup();
    let (a, b) = (alice().address(), bob().address());
    let r = exec_one(
        &rt,
        &mut store,
        signed(
            &alice(),
            0,
            "accounts.Transfer",
            &transfer_body(b, 7),
            5_000,
        ),
    );
    let keys: Vec<(String, u32)> = r
        .events
        .iter()
        .map(|e| (e.module.clone(), e.code))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("accounts".into(), 1),
            ("accounts".into(), 1),
            ("core".into(), 1)
        ]
    );
    let t: TransferEvent = r.events[0].decode().unwrap();
    assert_eq!(
        t,
        TransferEvent {
            from: a,
            to: b,
            amount: BaseUnits::native(7)
        }
    );
    let fee: TransferEvent = r.events[1].decode().unwrap();
    assert_eq!(fee.to, accounts::fee_accumulator());
    assert_eq!(fee.amount.amount(), 10_000);
    let used: GasUsedEvent = r.events[2].decode().unwrap();
    assert_eq!(used.amount, r.gas_used);
    // Event keys are module || u32_be(code).
    assert_eq!(r.events[2].key(), b"core\x00\x00\x00\x01".to_vec());
}

#[test]
fn sequential_transfers_in_one_batch_and_queries() {
    let (rt, mut store) = setup();
    let (a, b) = (alice().address(), bob().address());
    let txs: Vec<Vec<u8>> = (0..5)
        .map(|n| {
            signed(
                &alice(),
                n,
                "accounts.Transfer",
                &transfer_body(b, 100),
                5_000,
            )
        })
        .collect();
    let res = rt.execute_batch(&batch_ctx(1), &mut store, &txs).unwrap();
    assert!(res.results.iter().all(|r| r.result.is_success()));
    assert_eq!(
        res.gas_used,
        res.results.iter().map(|r| r.gas_used).sum::<u64>()
    );
    // The test module's block hooks ran once each.
    assert_eq!(res.block_events.len(), 2);

    let ctx = batch_ctx(1);
    let q = |method: &str, args: &dyn erased::Ser| {
        rt.query(&ctx, &store, method, &args.bytes()).unwrap()
    };
    let n: u64 =
        cbor::from_slice(&q("accounts.Nonce", &accounts::NonceQuery { address: a })).unwrap();
    assert_eq!(n, 5);
    let bals: AccountBalances = cbor::from_slice(&q(
        "accounts.Balances",
        &accounts::BalancesQuery { address: b },
    ))
    .unwrap();
    assert_eq!(
        bals.balances.get(&Denomination::NATIVE).unwrap().0,
        BOB_FUNDS + 500
    );
    let params: atoll_runtime_sdk::modules::core::Parameters =
        cbor::from_slice(&rt.query(&ctx, &store, "core.Parameters", &[]).unwrap()).unwrap();
    assert_eq!(
        params.min_gas_price.get(&Denomination::NATIVE).unwrap().0,
        MIN_GAS_PRICE
    );
}

#[test]
fn transfer_of_more_than_the_balance_fails_but_pays() {
    let (rt, mut store) = setup();
    let b = bob().address();
    let gas = 5_000;
    let r = exec_one(
        &rt,
        &mut store,
        signed(
            &bob(),
            0,
            "accounts.Transfer",
            &transfer_body(alice().address(), BOB_FUNDS),
            gas,
        ),
    );
    assert_eq!(fail_code(&r), ("accounts".into(), 2));
    assert_eq!(
        balance(&store, &b),
        BOB_FUNDS - u128::from(gas) * MIN_GAS_PRICE
    );
    assert_eq!(nonce(&store, &b), 1);
}

#[test]
fn estimate_gas_matches_execution() {
    let (rt, mut store) = setup();
    let ctx = batch_ctx(1);
    let tx = unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        0,
    );
    let q = atoll_runtime_sdk::modules::core::EstimateGasQuery {
        tx,
        propagate_failures: true,
    };
    let est = rt.estimate_gas(&ctx, &store, &q).unwrap();
    let via_query: u64 = cbor::from_slice(
        &rt.query(&ctx, &store, "core.EstimateGas", &cbor::to_vec(&q).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(est, via_query);
    // Executing with exactly the estimate succeeds.
    let r = exec_one(
        &rt,
        &mut store,
        signed(
            &alice(),
            0,
            "accounts.Transfer",
            &transfer_body(bob().address(), 10),
            est,
        ),
    );
    assert!(r.result.is_success(), "{:?}", r.result);
    assert!(r.gas_used <= est);

    // A failing call reports its failure when asked to.
    let tx = unsigned(
        &dave(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        0,
    );
    let q = atoll_runtime_sdk::modules::core::EstimateGasQuery {
        tx,
        propagate_failures: true,
    };
    let err = rt.estimate_gas(&ctx, &store, &q).unwrap_err();
    assert!(err.is("accounts", 2), "{err}");
    let q = atoll_runtime_sdk::modules::core::EstimateGasQuery {
        propagate_failures: false,
        ..q
    };
    assert!(rt.estimate_gas(&ctx, &store, &q).unwrap() > 0);
}

/// A tiny helper to pass differently typed query arguments to one closure.
mod erased {
    pub trait Ser {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn bytes(&self) -> Vec<u8> {
            atoll_types::cbor::to_vec(self).unwrap()
        }
    }
}

#[test]
fn a_batch_is_packed_by_gas_used_and_ends_at_the_first_transaction_that_does_not_fit() {
    const BATCH_GAS: u64 = 12_000;
    const LIMIT: u64 = 5_000;
    let rt = runtime();
    let mut store = MemStore::new();
    rt.init_genesis(&mut store, &genesis_with_batch_gas(BATCH_GAS))
        .unwrap();
    let a = alice().address();
    let txs: Vec<Vec<u8>> = (0..10)
        .map(|n| {
            signed(
                &alice(),
                n,
                "accounts.Transfer",
                &transfer_body(bob().address(), 1),
                LIMIT,
            )
        })
        .collect();
    let first = rt.execute_batch(&batch_ctx(1), &mut store, &txs).unwrap();
    let n = first.results.len();
    // More than the declared limits allow (12,000 / 5,000 = 2): the batch
    // counts the gas used. Fewer than all: the first that no longer fits
    // ends it.
    assert!(n > 2 && n < txs.len(), "{n} transactions in the batch");
    assert!(first.results.iter().all(|r| r.result.is_success()));
    assert!(first.gas_used + LIMIT > BATCH_GAS);
    assert_eq!(nonce(&store, &a), n as u64);
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS + n as u128);
    // The rest were not touched: they go in the next batches.
    let mut done = n;
    let mut round = 2;
    while done < txs.len() {
        let r = rt
            .execute_batch(&batch_ctx(round), &mut store, &txs[done..])
            .unwrap();
        assert!(!r.results.is_empty());
        assert!(r.results.iter().all(|r| r.result.is_success()));
        done += r.results.len();
        round += 1;
    }
    assert_eq!(nonce(&store, &a), 10);
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS + 10);
}

#[test]
fn estimate_gas_takes_an_optional_caller_as_oasis_has_it() {
    let (rt, store) = setup();
    let ctx = batch_ctx(1);
    let tx = unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        0,
    );
    let plain = atoll_runtime_sdk::modules::core::EstimateGasQuery {
        tx: tx.clone(),
        propagate_failures: true,
    };
    let for_caller = atoll_runtime_sdk::modules::core::EstimateGasForCallerQuery {
        caller: atoll_runtime_sdk::modules::core::CallerAddress::Address(alice().address()),
        tx,
        propagate_failures: true,
    };
    let q = |method: &str, args: Vec<u8>| -> Result<u64, _> {
        rt.query(&ctx, &store, method, &args)
            .map(|b| cbor::from_slice::<u64>(&b).unwrap())
    };
    let by_caller = q(
        "core.EstimateGasForCaller",
        cbor::to_vec(&for_caller).unwrap(),
    )
    .unwrap();
    // `core.EstimateGas` with `caller`: the same simulation.
    assert_eq!(
        q("core.EstimateGas", cbor::to_vec(&for_caller).unwrap()).unwrap(),
        by_caller
    );
    // `caller: null` is no caller.
    let mut v = cbor::to_value(&plain).unwrap();
    if let cbor::Value::Map(entries) = &mut v {
        entries.push((cbor::Value::Text("caller".into()), cbor::Value::Null));
    }
    let with_null = cbor::encode_value(&v.canonicalize().unwrap()).unwrap();
    assert_eq!(
        q("core.EstimateGas", with_null).unwrap(),
        q("core.EstimateGas", cbor::to_vec(&plain).unwrap()).unwrap()
    );
    // A caller that is not a caller address is refused.
    let mut v = cbor::to_value(&plain).unwrap();
    if let cbor::Value::Map(entries) = &mut v {
        entries.push((cbor::Value::Text("caller".into()), cbor::Value::Unsigned(7)));
    }
    let bad = cbor::encode_value(&v.canonicalize().unwrap()).unwrap();
    assert!(q("core.EstimateGas", bad).is_err());
}

//! The `evm` module through the real dispatcher.

use atoll_crypto::secp256k1::EthAddress;
use atoll_evm::asm::deployer;
use atoll_evm::asm::{Asm, op};
use atoll_evm::tx::{self, U256};
use atoll_evm::types::{
    AccessTuple, B256 as H256, CodeQuery, LogEvent, SimulateCallQuery, StorageQuery, U256 as WU256,
};
use atoll_runtime_sdk::modules::accounts;
use atoll_runtime_sdk::modules::core::{CallerAddress, EstimateGasForCallerQuery};
use atoll_runtime_sdk::types::{CallResult, Transaction};
use atoll_types::cbor::{self, Value};

use crate::common::*;

fn ok_bytes(r: &CallResult) -> Vec<u8> {
    match r {
        CallResult::Ok(Value::Bytes(b)) => b.clone(),
        other => panic!("not ok bytes: {other:?}"),
    }
}

fn failed(r: &CallResult) -> (String, u32, String) {
    match r {
        CallResult::Failed {
            module,
            code,
            message,
        } => (module.clone(), *code, message.clone()),
        other => panic!("not failed: {other:?}"),
    }
}

fn deploy_counter(net: &mut Net) -> EthAddress {
    let alice = addr(&ALICE);
    let nonce = net.nonce(&alice);
    let r = net.run(&[legacy(
        &ALICE,
        nonce,
        None,
        0,
        deployer(&counter_runtime()),
        200_000,
    )]);
    let created = ok_bytes(&r.results[0].result);
    let expected = tx::create_address(&alice, nonce);
    assert_eq!(created, expected.0.to_vec());
    expected
}

#[test]
fn value_transfer_between_eth_accounts() {
    let mut net = Net::new();
    let (alice, bob) = (addr(&ALICE), addr(&BOB));
    let supply = net.supply();
    let r = net.run(&[legacy(&ALICE, 0, Some(bob), ETH, Vec::new(), 21_000)]);
    assert!(r.results[0].result.is_success(), "{:?}", r.results[0]);
    assert_eq!(r.results[0].gas_used, 21_000);
    assert_eq!(net.balance(&alice), 100 * ETH - ETH - 21_000 * MIN_PRICE);
    assert_eq!(net.balance(&bob), 101 * ETH);
    assert_eq!(net.nonce(&alice), 1);
    assert_eq!(net.supply(), supply);
    // An EIP-1559 transfer: effective price = min(cap, base + tip); the
    // unused gas is refunded.
    let r = net.run(&[eip1559(
        &BOB,
        0,
        Some(alice),
        5,
        Vec::new(),
        50_000,
        3 * MIN_PRICE,
        2,
    )]);
    assert!(r.results[0].result.is_success(), "{:?}", r.results[0]);
    assert_eq!(r.results[0].gas_used, 21_000);
    assert_eq!(net.balance(&bob), 101 * ETH - 5 - 21_000 * (MIN_PRICE + 2));
    assert_eq!(net.supply(), supply);
}

#[test]
fn deploy_call_logs_revert_and_queries() {
    let mut net = Net::new();
    let alice = addr(&ALICE);
    let counter = deploy_counter(&mut net);
    assert_eq!(net.nonce(&alice), 1);
    let code: serde_bytes::ByteBuf = net
        .query("evm.Code", &CodeQuery { address: counter })
        .unwrap();
    assert_eq!(code.into_vec(), counter_runtime());

    let r = net.run(&[eip1559(
        &ALICE,
        1,
        Some(counter),
        0,
        vec![1],
        100_000,
        2 * MIN_PRICE,
        1,
    )]);
    let res = &r.results[0];
    let out = ok_bytes(&res.result);
    assert_eq!(U256::from_be_slice(&out), U256::from(1u64));
    let logs: Vec<LogEvent> = res
        .events
        .iter()
        .filter(|e| e.module == "evm" && e.code == 1)
        .map(|e| e.decode().unwrap())
        .collect();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address, counter);
    assert_eq!(logs[0].topics, vec![H256::new(incremented_topic())]);
    assert_eq!(U256::from_be_slice(&logs[0].data), U256::from(1u64));
    let slot: H256 = net
        .query(
            "evm.Storage",
            &StorageQuery {
                address: counter,
                index: H256::new([0; 32]),
            },
        )
        .unwrap();
    assert_eq!(U256::from_be_bytes(slot.0), U256::from(1u64));

    // A revert: typed error with the reason, gas and fee charged, nonce
    // used, storage unchanged, no logs.
    let before = net.balance(&alice);
    let r = net.run(&[legacy(&ALICE, 2, Some(counter), 0, vec![2], 100_000)]);
    let res = &r.results[0];
    let (module, code, message) = failed(&res.result);
    assert_eq!((module.as_str(), code), ("evm", 8));
    let data = {
        let mut d = vec![0x08, 0xc3, 0x79, 0xa0];
        let mut w = [0u8; 32];
        w[31] = 0x20;
        d.extend_from_slice(&w);
        w[31] = 4;
        d.extend_from_slice(&w);
        let mut s = [0u8; 32];
        s[..4].copy_from_slice(b"nope");
        d.extend_from_slice(&s);
        d
    };
    assert_eq!(
        message,
        format!("execution reverted: nope (data 0x{})", hex::encode(&data))
    );
    assert!(res.gas_used > 21_000 && res.gas_used < 100_000);
    assert_eq!(
        before - net.balance(&alice),
        u128::from(res.gas_used) * MIN_PRICE
    );
    assert_eq!(net.nonce(&alice), 3);
    assert!(res.events.iter().all(|e| e.module != "evm"));

    // Halting (INVALID) uses the whole gas limit.
    let r = net.run(&[legacy(&ALICE, 3, Some(counter), 0, vec![9], 60_000)]);
    let (module, code, _) = failed(&r.results[0].result);
    assert_eq!((module.as_str(), code), ("evm", 2));
    assert_eq!(r.results[0].gas_used, 60_000);

    // Simulations.
    let sim = |data: Vec<u8>| SimulateCallQuery {
        gas_price: WU256::default(),
        gas_limit: 1_000_000,
        caller: alice,
        address: Some(counter),
        value: WU256::default(),
        data,
        access_list: Vec::new(),
    };
    let out: serde_bytes::ByteBuf = net.query("evm.SimulateCall", &sim(vec![3])).unwrap();
    assert_eq!(U256::from_be_slice(&out), U256::from(1u64));
    let err = net
        .query::<serde_bytes::ByteBuf>("evm.SimulateCall", &sim(vec![2]))
        .unwrap_err();
    assert!(err.is("evm", 8), "{err}");
    assert!(err.to_string().contains("execution reverted: nope"));
}

#[test]
fn estimates_suffice_and_reverts_are_reported() {
    let mut net = Net::new();
    let alice = addr(&ALICE);
    let counter = deploy_counter(&mut net);
    let body = |data: Vec<u8>| {
        cbor::to_value(&atoll_evm::types::Call {
            address: counter,
            value: WU256::default(),
            data,
            access_list: Vec::new(),
        })
        .unwrap()
    };
    let q = |data: Vec<u8>| EstimateGasForCallerQuery {
        caller: CallerAddress::EthAddress(alice),
        tx: Transaction::new("evm.Call", body(data)),
        propagate_failures: true,
    };
    let est: u64 = net.query("core.EstimateGasForCaller", &q(vec![1])).unwrap();
    assert!(est > 21_000);
    // The estimate is enough as a limit, and the state did not change.
    let r = net.run(&[legacy(&ALICE, 1, Some(counter), 0, vec![1], est)]);
    assert!(r.results[0].result.is_success(), "{:?}", r.results[0]);
    // Now the slot is non-zero: cheaper, and the new estimate suffices too.
    let est2: u64 = net.query("core.EstimateGasForCaller", &q(vec![1])).unwrap();
    assert!(est2 < est);
    let r = net.run(&[legacy(&ALICE, 2, Some(counter), 0, vec![1], est2)]);
    assert!(r.results[0].result.is_success(), "{:?}", r.results[0]);
    let err = net
        .query::<u64>("core.EstimateGasForCaller", &q(vec![2]))
        .unwrap_err();
    assert!(err.is("evm", 8));
    assert!(err.to_string().contains("nope"));
}

/// An estimate never searches past the gas the query's transaction names
/// (the RPC gas cap): a cap below what the call needs fails, one above it
/// gives the same estimate as none.
#[test]
fn estimates_stop_at_the_gas_cap() {
    let mut net = Net::new();
    let alice = addr(&ALICE);
    let counter = deploy_counter(&mut net);
    let q = |cap: u64| {
        let mut tx = Transaction::new(
            "evm.Call",
            cbor::to_value(&atoll_evm::types::Call {
                address: counter,
                value: WU256::default(),
                data: vec![1],
                access_list: Vec::new(),
            })
            .unwrap(),
        );
        tx.auth_info.fee.gas = cap;
        EstimateGasForCallerQuery {
            caller: CallerAddress::EthAddress(alice),
            tx,
            propagate_failures: true,
        }
    };
    let uncapped: u64 = net.query("core.EstimateGasForCaller", &q(0)).unwrap();
    let capped: u64 = net
        .query("core.EstimateGasForCaller", &q(uncapped + 1_000))
        .unwrap();
    assert_eq!(capped, uncapped);
    let err = net
        .query::<u64>("core.EstimateGasForCaller", &q(uncapped / 2))
        .unwrap_err();
    assert!(
        err.to_string().to_ascii_lowercase().contains("gas"),
        "out of gas below the need: {err}"
    );
}

/// Each bad transaction is refused before paying: the store after its batch
/// equals the store after an empty batch at the same round.
#[test]
fn bad_inputs_are_typed_errors_and_change_nothing() {
    let bob = addr(&BOB);
    let unfunded = [0x99; 32];
    let cases: Vec<(&str, Vec<u8>, &str, u32)> = vec![
        ("malformed rlp", wrap(&[0xf8, 0x01]), "core", 1),
        ("blob type", wrap(&[0x03, 0xc0]), "core", 1),
        (
            "wrong chain id",
            wrap(
                &tx::sign_legacy(
                    &tx::LegacyTx {
                        chain_id: Some(1),
                        nonce: 0,
                        gas_price: U256::from(MIN_PRICE),
                        gas_limit: 21_000,
                        to: Some(bob),
                        value: U256::ZERO,
                        input: Vec::new(),
                    },
                    &ALICE,
                )
                .unwrap(),
            ),
            "evm",
            9,
        ),
        (
            "nonce too high",
            legacy(&ALICE, 1, Some(bob), 1, Vec::new(), 21_000),
            "core",
            4,
        ),
        (
            "gas above the block",
            legacy(&ALICE, 0, Some(bob), 1, Vec::new(), MAX_GAS + 1),
            "core",
            11,
        ),
        (
            "gas below intrinsic",
            legacy(&ALICE, 0, Some(bob), 1, Vec::new(), 20_999),
            "evm",
            5,
        ),
        (
            "fee cap below the base fee",
            eip1559(
                &ALICE,
                0,
                Some(bob),
                1,
                Vec::new(),
                21_000,
                MIN_PRICE - 1,
                0,
            ),
            "core",
            20,
        ),
        (
            "unfunded sender",
            legacy(&unfunded, 0, Some(bob), 0, Vec::new(), 21_000),
            "core",
            5,
        ),
    ];
    for (what, raw, module, code) in cases {
        let mut bad = Net::new();
        let mut empty = Net::new();
        let r = bad.run(std::slice::from_ref(&raw));
        empty.run(&[]);
        let (m, c, msg) = failed(&r.results[0].result);
        assert_eq!((m.as_str(), c), (module, code), "{what}: {msg}");
        assert_eq!(r.results[0].gas_used, 0, "{what}");
        assert_eq!(bad.store, empty.store, "{what} changed the state");
        // check_tx refuses it with the same error.
        let err = bad.rt.check_tx(&bad.ctx(), &bad.store, &raw).unwrap_err();
        assert!(err.is(module, code), "{what}: {err}");
    }
    // A nonce too low.
    let mut net = Net::new();
    net.run(&[legacy(&ALICE, 0, Some(bob), 1, Vec::new(), 21_000)]);
    let r = net.run(&[legacy(&ALICE, 0, Some(bob), 1, Vec::new(), 21_000)]);
    assert_eq!(failed(&r.results[0].result).1, 4);
}

#[test]
fn same_batch_twice_gives_the_same_state() {
    let build = || {
        let mut net = Net::new();
        let counter = deploy_counter(&mut net);
        let r = net.run(&[
            legacy(&ALICE, 1, Some(counter), 0, vec![1], 100_000),
            legacy(&BOB, 0, Some(counter), 0, vec![1], 100_000),
            legacy(&BOB, 1, Some(addr(&ALICE)), 7, Vec::new(), 21_000),
            legacy(&ALICE, 2, Some(counter), 0, vec![2], 100_000),
        ]);
        (net.store, r)
    };
    let (s1, r1) = build();
    let (s2, r2) = build();
    assert_eq!(s1, s2);
    assert_eq!(r1, r2);
}

#[test]
fn erc20_transfers_on_the_paratime_and_on_raw_revm_agree() {
    use atoll_evm::bench::RawRevm;
    use atoll_evm::erc20;
    let mut net = Net::new();
    let alice = addr(&ALICE);
    let bob = addr(&BOB);
    let r = net.run(&[legacy(
        &ALICE,
        0,
        None,
        0,
        erc20::init_code(U256::from(1_000_000u64)),
        300_000,
    )]);
    let token = EthAddress(ok_bytes(&r.results[0].result).try_into().unwrap());
    let transfers: Vec<Vec<u8>> = (1..=5)
        .map(|n| {
            tx::sign_legacy(
                &tx::LegacyTx {
                    chain_id: Some(CHAIN_ID),
                    nonce: n,
                    gas_price: U256::from(MIN_PRICE),
                    gas_limit: 100_000,
                    to: Some(token),
                    value: U256::ZERO,
                    input: erc20::transfer_calldata(&bob.0, U256::from(10u64)),
                },
                &ALICE,
            )
            .unwrap()
        })
        .collect();
    let r = net.run(&transfers.iter().map(|t| wrap(t)).collect::<Vec<_>>());
    let mut paratime_gas = 0;
    for res in &r.results {
        assert_eq!(
            U256::from_be_slice(&ok_bytes(&res.result)),
            U256::from(1u64)
        );
        paratime_gas += res.gas_used;
        assert!(res.events.iter().any(|e| e.module == "evm"));
    }
    let bal: H256 = net
        .query(
            "evm.Storage",
            &StorageQuery {
                address: token,
                index: H256::new(U256::from_be_slice(&bob.0).to_be_bytes()),
            },
        )
        .unwrap();
    assert_eq!(U256::from_be_bytes(bal.0), U256::from(50u64));

    let mut vm = RawRevm::new(CHAIN_ID);
    vm.fund(alice.0, U256::from(10u128 * ETH));
    vm.install_erc20(token.0, &[(alice.0, U256::from(1_000_000u64))]);
    // The raw VM starts at nonce 0 for alice: re-sign from 0.
    let raw: Vec<Vec<u8>> = (0..5)
        .map(|n| {
            tx::sign_legacy(
                &tx::LegacyTx {
                    chain_id: Some(CHAIN_ID),
                    nonce: n,
                    gas_price: U256::from(MIN_PRICE),
                    gas_limit: 100_000,
                    to: Some(token),
                    value: U256::ZERO,
                    input: erc20::transfer_calldata(&bob.0, U256::from(10u64)),
                },
                &ALICE,
            )
            .unwrap()
        })
        .collect();
    let report = vm.execute(&raw).unwrap();
    assert_eq!(report.succeeded, 5);
    assert_eq!(vm.erc20_balance(token.0, bob.0), U256::from(50u64));
    assert_eq!(report.gas_used, paratime_gas);
}

/// The check refuses, as a geth pool does, what the sender cannot pay in
/// full (gas limit × fee cap + value) even when the fee at the effective
/// price fits, and changes nothing; `check_batch` answers exactly as
/// `check_tx` and hands the signers' nonce and balance keys over once.
#[test]
fn check_refuses_the_unaffordable_and_batches_agree() {
    let net = Net::new();
    let alice = addr(&ALICE);
    let bob = addr(&BOB);
    let balance = net.balance(&alice);
    let gas = 21_000u64;
    let fee = u128::from(gas) * MIN_PRICE;
    let value_too_big = eip1559(&ALICE, 0, Some(bob), balance, Vec::new(), gas, MIN_PRICE, 0);
    let cap_too_big = eip1559(
        &ALICE,
        0,
        Some(bob),
        0,
        Vec::new(),
        gas,
        balance / u128::from(gas) + 1,
        0,
    );
    let exactly = eip1559(
        &ALICE,
        0,
        Some(bob),
        balance - fee,
        Vec::new(),
        gas,
        MIN_PRICE,
        0,
    );
    let from_bob = legacy(&BOB, 0, Some(alice), 1, Vec::new(), gas);
    let before = net.store.clone();
    for (what, raw) in [("value", &value_too_big), ("fee cap", &cap_too_big)] {
        let err = net.rt.check_tx(&net.ctx(), &net.store, raw).unwrap_err();
        assert!(err.is("evm", 6), "{what}: {err}");
    }
    net.rt.check_tx(&net.ctx(), &net.store, &exactly).unwrap();

    let raws = vec![
        value_too_big,
        exactly,
        b"not a transaction".to_vec(),
        cap_too_big,
        from_bob,
    ];
    let mut fetched: Vec<Vec<Vec<u8>>> = Vec::new();
    let out = net
        .rt
        .check_batch(&net.ctx(), &net.store, &raws, &mut |keys| {
            fetched.push(keys.to_vec());
            Ok(())
        })
        .unwrap();
    assert_eq!(out.len(), raws.len());
    for (raw, got) in raws.iter().zip(&out) {
        match net.rt.check_tx(&net.ctx(), &net.store, raw) {
            Ok(c) => assert_eq!(got.as_ref(), Ok(&c)),
            Err(atoll_runtime_sdk::Error::Tx(e)) => assert_eq!(got.as_ref(), Err(&e)),
            Err(e) => panic!("fatal: {e}"),
        }
    }
    let mut want = std::collections::BTreeSet::new();
    for who in [alice, bob] {
        let a = atoll_crypto::Address::from_eth(&who);
        want.insert(accounts::nonce_key(&a));
        want.insert(accounts::balance_key(
            &a,
            &atoll_runtime_sdk::types::Denomination::NATIVE,
        ));
    }
    assert_eq!(fetched, vec![want.into_iter().collect::<Vec<_>>()]);
    assert_eq!(net.store, before, "a check changed the state");
}

/// A contract that reads slot 7 and stops: `PUSH1 7 SLOAD POP STOP`, 3 +
/// SLOAD + 2 gas.
fn slot_reader(net: &mut Net) -> EthAddress {
    let alice = addr(&ALICE);
    let nonce = net.nonce(&alice);
    let code = Asm::new()
        .push_u(7)
        .op(op::SLOAD)
        .op(op::POP)
        .op(op::STOP)
        .build();
    let r = net.run(&[legacy(&ALICE, nonce, None, 0, deployer(&code), 200_000)]);
    assert!(r.results[0].result.is_success(), "{:?}", r.results[0]);
    tx::create_address(&alice, nonce)
}

fn slot(n: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[31] = n;
    s
}

fn eip2930_call(nonce: u64, to: EthAddress, access_list: Vec<tx::AccessListItem>) -> Vec<u8> {
    wrap(
        &tx::sign_eip2930(
            &tx::AccessListTx {
                chain_id: CHAIN_ID,
                nonce,
                gas_price: U256::from(MIN_PRICE),
                gas_limit: 100_000,
                to: Some(to),
                value: U256::ZERO,
                input: Vec::new(),
                access_list,
            },
            &ALICE,
        )
        .unwrap(),
    )
}

fn eip1559_call(nonce: u64, to: EthAddress, access_list: Vec<tx::AccessListItem>) -> Vec<u8> {
    wrap(
        &tx::sign_eip1559(
            &tx::DynamicFeeTx {
                chain_id: CHAIN_ID,
                nonce,
                max_priority_fee_per_gas: U256::from(1u64),
                max_fee_per_gas: U256::from(2 * MIN_PRICE),
                gas_limit: 100_000,
                to: Some(to),
                value: U256::ZERO,
                input: Vec::new(),
                access_list,
            },
            &ALICE,
        )
        .unwrap(),
    )
}

/// EIP-2929/2930 costs, as Ethereum charges them: base 21000 (no call
/// data), `PUSH1` 3, `POP` 2, `SLOAD` 2100 cold / 100 warm; an access
/// list costs 2400 per account and 1900 per slot up front. The callee is
/// warm anyway (the transaction's `to`), so naming it costs 2400 for
/// nothing; naming the slot turns the 2100 into 1900 + 100.
#[test]
fn access_lists_are_charged_and_prewarm_as_on_ethereum() {
    let mut net = Net::new();
    let alice = addr(&ALICE);
    let bob = addr(&BOB);
    let reader = slot_reader(&mut net);
    let nonce = net.nonce(&alice);
    const COLD: u64 = 21_000 + 3 + 2_100 + 2;
    const WARM_ONE: u64 = 21_000 + 2_400 + 1_900 + 3 + 100 + 2;
    // Two accounts (the reader, bob) and two slots (7, read; 8, not).
    const WARM_TWO: u64 = 21_000 + 2 * 2_400 + 2 * 1_900 + 3 + 100 + 2;
    assert_eq!((COLD, WARM_ONE, WARM_TWO), (23_105, 25_405, 29_705));
    let one = vec![tx::AccessListItem {
        address: reader,
        storage_keys: vec![slot(7)],
    }];
    let two = vec![
        tx::AccessListItem {
            address: reader,
            storage_keys: vec![slot(7), slot(8)],
        },
        tx::AccessListItem {
            address: bob,
            storage_keys: Vec::new(),
        },
    ];
    let balance = net.balance(&alice);
    let r = net.run(&[
        eip2930_call(nonce, reader, Vec::new()),
        eip2930_call(nonce + 1, reader, one.clone()),
        eip1559_call(nonce + 2, reader, Vec::new()),
        eip1559_call(nonce + 3, reader, two),
    ]);
    let used: Vec<u64> = r
        .results
        .iter()
        .map(|t| {
            assert!(t.result.is_success(), "{t:?}");
            t.gas_used
        })
        .collect();
    assert_eq!(used, vec![COLD, WARM_ONE, COLD, WARM_TWO]);
    // What was paid is what was used (the unused gas is refunded), at the
    // legacy price for EIP-2930 and min(cap, base + tip) for EIP-1559.
    let paid =
        u128::from(COLD + WARM_ONE) * MIN_PRICE + u128::from(COLD + WARM_TWO) * (MIN_PRICE + 1);
    assert_eq!(net.balance(&alice), balance - paid);

    // A gas estimate of an `evm.Call` with an access list (what
    // `eth_estimateGas` sends for an `accessList`) counts it the same way.
    let estimate = |access_list: Vec<AccessTuple>| -> u64 {
        let body = cbor::to_value(&atoll_evm::types::Call {
            address: reader,
            value: WU256::default(),
            data: Vec::new(),
            access_list,
        })
        .unwrap();
        net.query(
            "core.EstimateGasForCaller",
            &EstimateGasForCallerQuery {
                caller: CallerAddress::EthAddress(alice),
                tx: Transaction::new("evm.Call", body),
                propagate_failures: true,
            },
        )
        .unwrap()
    };
    assert_eq!(estimate(Vec::new()), COLD);
    assert_eq!(
        estimate(one.iter().map(AccessTuple::from).collect()),
        WARM_ONE
    );

    // The body of a transaction without an access list encodes as before
    // (no `access_list` key), so old records decode and hash the same.
    let plain = cbor::to_value(&atoll_evm::types::Call {
        address: reader,
        value: WU256::default(),
        data: vec![1],
        access_list: Vec::new(),
    })
    .unwrap();
    match &plain {
        Value::Map(m) => assert!(
            !m.iter()
                .any(|(k, _)| k == &Value::Text("access_list".into())),
            "{plain:?}"
        ),
        other => panic!("not a map: {other:?}"),
    }
}

/// A contract setting each 32-byte word of its call data, as a slot, to 1.
fn slot_writer_runtime() -> Vec<u8> {
    Asm::new()
        .push_u(0)
        .label("loop")
        .op(op::DUP1)
        .op(op::CALLDATASIZE)
        .op(op::GT)
        .op(op::ISZERO)
        .push_label("end")
        .op(op::JUMPI)
        .push_u(1)
        .op(op::DUP2)
        .op(op::CALLDATALOAD)
        .op(op::SSTORE)
        .push_u(32)
        .op(op::ADD)
        .push_label("loop")
        .op(op::JUMP)
        .label("end")
        .op(op::STOP)
        .build()
}

/// Storage slots are chosen by contracts, so they are stored as oasis-sdk
/// stores public EVM storage: `evm || 0x02 || address || blake3(slot) ||
/// slot`. A contract writing the crit-bit chain of slots `1 << (255 - i)`
/// gets them all stored under hashed keys, and reads go through the same
/// hashing.
#[test]
fn storage_slots_are_stored_under_hashed_keys() {
    use atoll_runtime_sdk::state::{Store, module_key};

    let mut net = Net::new();
    let alice = addr(&ALICE);
    let r = net.run(&[legacy(
        &ALICE,
        0,
        None,
        0,
        deployer(&slot_writer_runtime()),
        300_000,
    )]);
    let contract = EthAddress::from_slice(&ok_bytes(&r.results[0].result)).unwrap();
    let chain = |i: usize| {
        let mut w = [0u8; 32];
        w[i / 8] = 0x80 >> (i % 8);
        w
    };
    let data: Vec<u8> = (0..256).flat_map(chain).collect();
    let r = net.run(&[legacy(&ALICE, 1, Some(contract), 0, data, 8_000_000)]);
    ok_bytes(&r.results[0].result);
    assert_eq!(net.nonce(&alice), 2);

    let prefix = module_key("evm", 0x02, &[contract.as_bytes()]);
    let stored = net.store.scan_prefix(&prefix).unwrap();
    assert_eq!(stored.len(), 256);
    for (k, v) in &stored {
        let rest = &k[prefix.len()..];
        assert_eq!(rest.len(), 64, "hash and slot");
        let (hash, slot) = rest.split_at(32);
        assert_eq!(hash, blake3::hash(slot).as_bytes());
        assert_eq!(U256::from_be_slice(v), U256::from(1u64));
    }
    for i in 0..256 {
        let value: H256 = net
            .query(
                "evm.Storage",
                &StorageQuery {
                    address: contract,
                    index: H256::new(chain(i)),
                },
            )
            .unwrap();
        assert_eq!(U256::from_be_bytes(value.0), U256::from(1u64), "slot {i}");
    }
}

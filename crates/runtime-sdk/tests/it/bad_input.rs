//! Bad transactions get typed errors and change no state (or, when they got
//! far enough to pay, nothing beyond the fee and the nonce).

use atoll_crypto::context::ChainContext;
use atoll_crypto::{Hash, ed25519};
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::modules::accounts;
use atoll_runtime_sdk::types::{
    AuthProof, BaseUnits, Denomination, RawSignature, SignerInfo, UnverifiedTransaction,
};
use atoll_types::cbor;

use crate::common::*;

/// Runs `raw` and asserts it failed with `(module, code)`, used no gas, and
/// left the state exactly as it was; `check_tx` agrees.
fn refused(raw: Vec<u8>, module: &str, code: u32) {
    let (rt, mut store) = setup();
    let before = without_block_counter(&store);
    let r = exec_one(&rt, &mut store, raw.clone());
    assert_eq!(fail_code(&r), (module.to_owned(), code), "{:?}", r.result);
    assert_eq!(r.gas_used, 0);
    assert!(r.events.is_empty());
    assert_eq!(without_block_counter(&store), before);
    let err = rt.check_tx(&batch_ctx(1), &store, &raw).unwrap_err();
    assert!(err.is(module, code), "check_tx: {err}");
}

/// Runs `raw` and asserts it failed with `(module, code)` after paying: only
/// the caller's balance (minus the fee), its nonce and the fee accumulator changed.
fn paid_failure(signer: &TxSigner, raw: Vec<u8>, fee: u128, module: &str, code: u32) {
    let (rt, mut store) = setup();
    let before = without_block_counter(&store);
    let addr = signer.address();
    let bal = balance(&store, &addr);
    let r = exec_one(&rt, &mut store, raw);
    assert_eq!(fail_code(&r), (module.to_owned(), code), "{:?}", r.result);
    assert_eq!(balance(&store, &addr), bal - fee);
    assert_eq!(nonce(&store, &addr), 1);
    assert_eq!(balance(&store, &accounts::fee_accumulator()), fee);
    // Nothing else moved.
    let mut after = without_block_counter(&store);
    let mut before = before;
    for k in [
        accounts_key(1, addr.as_bytes()),
        accounts_key(2, &[addr.as_bytes().as_slice(), b""].concat()),
        accounts_key(2, accounts::fee_accumulator().as_bytes()),
    ] {
        after.remove(&k);
        before.remove(&k);
    }
    assert_eq!(after, before);
    // Failed calls keep only the unconditional events.
    let keys: Vec<_> = r
        .events
        .iter()
        .map(|e| (e.module.as_str(), e.code))
        .collect();
    assert_eq!(keys, vec![("accounts", 1), ("core", 1)]);
}

fn accounts_key(sub: u8, rest: &[u8]) -> Vec<u8> {
    atoll_runtime_sdk::state::module_key(accounts::MODULE_NAME, sub, &[rest])
}

fn good_transfer() -> atoll_runtime_sdk::types::Transaction {
    unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        5_000,
    )
}

#[test]
fn garbage_bytes_are_malformed() {
    refused(vec![0xff, 0x00, 0x13], "core", 1);
    refused(Vec::new(), "core", 1);
    // Valid CBOR, wrong shape.
    refused(cbor::to_vec(&42u64).unwrap(), "core", 1);
}

#[test]
fn non_canonical_envelope_is_malformed() {
    let raw = sign(&good_transfer(), &[&alice()]);
    // Re-encode the envelope's first array head in a non-minimal form.
    let mut bad = vec![0x98, 0x02];
    bad.extend_from_slice(&raw[1..]);
    refused(bad, "core", 1);
}

/// `tx` as a CBOR value, with `edit` applied to its `ai.fee` map, encoded
/// canonically (keys sorted) unless `raw_order`, then signed by alice over
/// exactly those bytes.
fn with_fee_entries(
    edit: impl FnOnce(&mut Vec<(cbor::Value, cbor::Value)>),
    raw_order: bool,
) -> Vec<u8> {
    let tx = good_transfer();
    let mut v = cbor::to_value(&tx).unwrap();
    let mut edit = Some(edit);
    if let cbor::Value::Map(entries) = &mut v {
        for (k, val) in entries.iter_mut() {
            if *k == cbor::Value::Text("ai".into())
                && let cbor::Value::Map(ai) = val
            {
                for (k2, fee) in ai.iter_mut() {
                    if *k2 == cbor::Value::Text("fee".into())
                        && let cbor::Value::Map(f) = fee
                        && let Some(edit) = edit.take()
                    {
                        edit(f);
                    }
                }
            }
        }
    }
    let body = if raw_order {
        raw_encode(&v)
    } else {
        cbor::encode_value(&v.canonicalize().unwrap()).unwrap()
    };
    let ctx = batch_ctx(1);
    let sig = alice().sign(ctx.signature_context(), &body);
    cbor::to_vec(&UnverifiedTransaction(
        body,
        vec![AuthProof::Signature(sig)],
    ))
    .unwrap()
}

/// Encodes a value keeping its maps' entries in the order given (for the
/// out-of-order case only; texts, bytes, unsigned and maps are enough here).
fn raw_encode(v: &cbor::Value) -> Vec<u8> {
    fn head(out: &mut Vec<u8>, major: u8, n: usize) {
        let n = n as u64;
        if n < 24 {
            out.push(major << 5 | n as u8);
        } else if n < 256 {
            out.extend_from_slice(&[major << 5 | 24, n as u8]);
        } else {
            out.push(major << 5 | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    fn go(out: &mut Vec<u8>, v: &cbor::Value) {
        match v {
            cbor::Value::Map(entries) => {
                head(out, 5, entries.len());
                for (k, val) in entries {
                    go(out, k);
                    go(out, val);
                }
            }
            cbor::Value::Array(items) => {
                head(out, 4, items.len());
                for i in items {
                    go(out, i);
                }
            }
            other => out.extend_from_slice(&cbor::encode_value(other).unwrap()),
        }
    }
    let mut out = Vec::new();
    go(&mut out, v);
    out
}

#[test]
fn fee_fields_at_their_default_are_read_as_the_sdk_reads_them() {
    // `@oasisprotocol/client-rt` writes `consensus_messages: 0` in every fee;
    // the SDK (oasis-cbor) reads a present default like an absent one. This
    // test asserted a refusal before issue 27.
    let raw = with_fee_entries(
        |f| {
            f.push((
                cbor::Value::Text("consensus_messages".into()),
                cbor::Value::Unsigned(0),
            ))
        },
        false,
    );
    let (rt, mut store) = setup();
    let bob_before = balance(&store, &bob().address());
    let r = exec_one(&rt, &mut store, raw.clone());
    assert!(r.result.is_success(), "{:?}", r.result);
    assert_eq!(balance(&store, &bob().address()), bob_before + 10);
    assert_eq!(nonce(&store, &alice().address()), 1);
    rt.check_tx(&batch_ctx(1), &setup().1, &raw).unwrap();
}

#[test]
fn unknown_fee_fields_are_malformed_as_in_the_sdk() {
    // oasis-cbor refuses struct fields the type does not have.
    let raw = with_fee_entries(
        |f| f.push((cbor::Value::Text("tip".into()), cbor::Value::Unsigned(1))),
        false,
    );
    refused(raw, "core", 1);
}

#[test]
fn fee_keys_out_of_canonical_order_are_malformed_as_in_the_sdk() {
    // The SDK's reader refuses map keys out of canonical order, even signed.
    let raw = with_fee_entries(|f| f.reverse(), true);
    refused(raw, "core", 1);
}

#[test]
fn wrong_signatures_are_malformed() {
    let tx = good_transfer();
    // Signed by another key.
    refused(sign(&tx, &[&bob()]), "core", 1);
    // Signed for another runtime.
    let mut other = runtime_id();
    other.0[31] = 8;
    let ctx = tx_signature_context(
        &other,
        &ChainContext::from_hash(&Hash::digest(b"atoll test network")),
    )
    .unwrap();
    refused(
        cbor::to_vec(&sign_transaction(&ctx, &tx, &[&alice()]).unwrap()).unwrap(),
        "core",
        1,
    );
    // Signed for another network.
    let ctx = tx_signature_context(
        &runtime_id(),
        &ChainContext::from_hash(&Hash::digest(b"mainnet")),
    )
    .unwrap();
    refused(
        cbor::to_vec(&sign_transaction(&ctx, &tx, &[&alice()]).unwrap()).unwrap(),
        "core",
        1,
    );
    // A body altered after signing.
    let mut utx: UnverifiedTransaction = cbor::from_slice(&sign(&tx, &[&alice()])).unwrap();
    let mut altered = tx.clone();
    altered.auth_info.fee.gas = 5_001;
    utx.0 = cbor::to_vec(&altered).unwrap();
    refused(cbor::to_vec(&utx).unwrap(), "core", 1);
    // Truncated signature bytes.
    let mut utx: UnverifiedTransaction = cbor::from_slice(&sign(&tx, &[&alice()])).unwrap();
    utx.1 = vec![AuthProof::Signature(RawSignature(vec![0; 10]))];
    refused(cbor::to_vec(&utx).unwrap(), "core", 1);
    // Proof count differs from signer count.
    utx.1 = Vec::new();
    refused(cbor::to_vec(&utx).unwrap(), "core", 1);
    // A module-scheme proof nobody handles.
    utx.1 = vec![AuthProof::Module("evm.ethereum.v0".into())];
    refused(cbor::to_vec(&utx).unwrap(), "core", 1);
}

#[test]
fn unsupported_version_and_no_signers() {
    let mut tx = good_transfer();
    tx.v = 2;
    refused(sign(&tx, &[&alice()]), "core", 2);
    let mut tx = good_transfer();
    tx.auth_info.signer_info.clear();
    refused(sign(&tx, &[]), "core", 2);
}

#[test]
fn too_many_signers() {
    let mut tx = good_transfer();
    let keys: Vec<TxSigner> = (10..14u8)
        .map(|i| TxSigner::Ed25519(ed25519::SigningKey::from_seed(&[i; 32])))
        .collect();
    tx.auth_info.signer_info = keys
        .iter()
        .map(|k| SignerInfo {
            address_spec: k.address_spec(),
            nonce: 0,
        })
        .collect();
    let refs: Vec<&TxSigner> = keys.iter().collect();
    refused(sign(&tx, &refs), "core", 15);
}

#[test]
fn wrong_nonces() {
    let tx = unsigned(
        &alice(),
        1,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        5_000,
    );
    refused(sign(&tx, &[&alice()]), "core", 4);
    // A replay: the same transaction twice, the second is refused.
    let (rt, mut store) = setup();
    let raw = sign(&good_transfer(), &[&alice()]);
    let res = rt
        .execute_batch(&batch_ctx(1), &mut store, &[raw.clone(), raw])
        .unwrap();
    assert!(res.results[0].result.is_success());
    assert_eq!(fail_code(&res.results[1]), ("core".into(), 4));
    assert_eq!(nonce(&store, &alice().address()), 1);
}

#[test]
fn insufficient_fee_balance() {
    let tx = unsigned(
        &dave(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 0),
        5_000,
    );
    refused(sign(&tx, &[&dave()]), "core", 5);
}

#[test]
fn gas_price_too_low_or_unknown_fee_denomination() {
    let mut tx = good_transfer();
    tx.auth_info.fee.amount =
        BaseUnits::native(u128::from(tx.auth_info.fee.gas) * MIN_GAS_PRICE - 1);
    refused(sign(&tx, &[&alice()]), "core", 20);
    let mut tx = good_transfer();
    tx.auth_info.fee.amount = BaseUnits::new(1_000_000, Denomination::new(b"UNKNOWN").unwrap());
    refused(sign(&tx, &[&alice()]), "core", 20);
}

#[test]
fn gas_limit_above_the_batch_limit() {
    let mut tx = good_transfer();
    tx.auth_info.fee.gas = 10_000_001;
    tx.auth_info.fee.amount = BaseUnits::native(u128::from(tx.auth_info.fee.gas) * MIN_GAS_PRICE);
    refused(sign(&tx, &[&alice()]), "core", 11);
}

#[test]
fn expired_transaction() {
    let mut tx = good_transfer();
    tx.auth_info.not_before = Some(5);
    refused(sign(&tx, &[&alice()]), "core", 24);
    let mut tx = good_transfer();
    tx.auth_info.not_after = Some(0);
    refused(sign(&tx, &[&alice()]), "core", 24);
}

#[test]
fn encrypted_call_format_is_refused() {
    let mut tx = good_transfer();
    tx.call.format = atoll_runtime_sdk::types::CallFormat::EncryptedX25519DeoxysII;
    refused(sign(&tx, &[&alice()]), "core", 18);
}

#[test]
fn oversized_transaction() {
    let big = vec![0u8; 130 * 1024];
    let tx = unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &serde_bytes::ByteBuf::from(big),
        5_000,
    );
    refused(sign(&tx, &[&alice()]), "core", 23);
}

#[test]
fn gas_exhaustion_keeps_the_fee() {
    // Enough for the size and signature charges, not for the transfer.
    let tx = unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        1_500,
    );
    let raw = sign(&tx, &[&alice()]);
    paid_failure(&alice(), raw.clone(), 1_500 * MIN_GAS_PRICE, "core", 12);
    let (rt, mut store) = setup();
    let r = exec_one(&rt, &mut store, raw);
    assert_eq!(r.gas_used, 1_500, "running out of gas uses the whole limit");
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS);
}

#[test]
fn unknown_method_pays_but_check_tx_refuses_it() {
    let raw = signed(
        &alice(),
        0,
        "accounts.Steal",
        &transfer_body(bob().address(), 10),
        5_000,
    );
    paid_failure(&alice(), raw.clone(), 5_000 * MIN_GAS_PRICE, "core", 3);
    let (rt, store) = setup();
    assert!(
        rt.check_tx(&batch_ctx(1), &store, &raw)
            .unwrap_err()
            .is("core", 3)
    );
}

#[test]
fn malformed_call_body_pays() {
    let raw = signed(&alice(), 0, "accounts.Transfer", &"not a transfer", 5_000);
    paid_failure(&alice(), raw, 5_000 * MIN_GAS_PRICE, "core", 10);
}

#[test]
fn check_tx_accepts_good_and_changes_nothing() {
    let (rt, store) = setup();
    let before = store.clone();
    let raw = sign(&good_transfer(), &[&alice()]);
    let checked = rt.check_tx(&batch_ctx(1), &store, &raw).unwrap();
    assert_eq!(checked.signer, alice().address());
    assert_eq!(checked.nonce, 0);
    assert_eq!(checked.gas, 5_000);
    assert_eq!(checked.priority, MIN_GAS_PRICE as u64);
    assert_eq!(checked.hash, Hash::digest(&raw));
    assert_eq!(checked.eth_address, None, "an ed25519 caller has none");
    assert_eq!(store, before);
    // Not enough gas for the intrinsic cost is caught at check time.
    let tx = unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 10),
        10,
    );
    assert!(
        rt.check_tx(&batch_ctx(1), &store, &sign(&tx, &[&alice()]))
            .unwrap_err()
            .is("core", 12)
    );
}

#[test]
fn a_verified_transaction_vouches_for_no_other() {
    // The runtime remembers transactions whose signatures verified; a
    // transaction that differs in any byte (another signature, an altered
    // body) is verified afresh, and a forgery is still refused.
    let (rt, mut store) = setup();
    let tx = good_transfer();
    let good = sign(&tx, &[&alice()]);
    rt.check_tx(&batch_ctx(1), &store, &good).unwrap();
    let mut utx: UnverifiedTransaction = cbor::from_slice(&good).unwrap();
    let mut altered = tx.clone();
    altered.auth_info.fee.gas = 5_001;
    utx.0 = cbor::to_vec(&altered).unwrap();
    let forged = cbor::to_vec(&utx).unwrap();
    let err = rt.check_tx(&batch_ctx(1), &store, &forged).unwrap_err();
    assert!(err.is("core", 1), "{err}");
    let r = exec_one(&rt, &mut store, forged);
    assert_eq!(fail_code(&r), ("core".to_owned(), 1));
    // The remembered one runs.
    let r = exec_one(&rt, &mut store, good);
    assert!(r.result.is_success(), "{:?}", r.result);
}

#[test]
fn batch_preverification_never_admits_a_forgery() {
    let (rt, mut store) = setup();
    let tx = good_transfer();
    let good = sign(&tx, &[&alice()]);
    let mut utx: UnverifiedTransaction = cbor::from_slice(&good).unwrap();
    let mut altered = tx.clone();
    altered.auth_info.fee.gas = 5_001;
    utx.0 = cbor::to_vec(&altered).unwrap();
    let forged = cbor::to_vec(&utx).unwrap();
    // A batch holding a forgery fails as a whole: nothing is remembered.
    rt.preverify(
        &batch_ctx(1),
        &[good.clone(), forged.clone(), b"junk".to_vec()],
    );
    let err = rt.check_tx(&batch_ctx(1), &store, &forged).unwrap_err();
    assert!(err.is("core", 1), "{err}");
    let r = exec_one(&rt, &mut store, forged);
    assert_eq!(fail_code(&r), ("core".to_owned(), 1));
    rt.preverify(&batch_ctx(1), std::slice::from_ref(&good));
    let r = exec_one(&rt, &mut store, good);
    assert!(r.result.is_success(), "{:?}", r.result);
}

#[test]
fn a_state_without_genesis_answers_no_query() {
    // Module defaults (a default chain id, fee parameters) must never pass
    // for the runtime's own before its genesis is applied.
    let rt = runtime();
    let store = atoll_runtime_sdk::state::MemStore::default();
    let err = rt
        .query(&batch_ctx(1), &store, "core.Parameters", &[])
        .unwrap_err();
    assert!(matches!(err, atoll_runtime_sdk::Error::Fatal(_)), "{err:?}");
    let (rt, store) = setup();
    assert!(
        rt.query(&batch_ctx(1), &store, "core.Parameters", &[])
            .is_ok()
    );
}

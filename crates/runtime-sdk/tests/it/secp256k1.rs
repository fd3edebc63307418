//! secp256k1 (Ethereum-address) signers.

use atoll_crypto::Address;
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_runtime_sdk::types::{AuthProof, SignerInfo, UnverifiedTransaction};
use atoll_types::cbor;

use crate::common::*;

#[test]
fn secp256k1_signer_transfers() {
    let (rt, mut store) = setup();
    let c = charlie().address();
    let TxSigner::Secp256k1(k) = charlie() else {
        unreachable!()
    };
    assert_eq!(c, Address::from_eth(&k.public_key().to_eth_address()));
    let r = exec_one(
        &rt,
        &mut store,
        signed(
            &charlie(),
            0,
            "accounts.Transfer",
            &transfer_body(bob().address(), 77),
            5_000,
        ),
    );
    assert!(r.result.is_success(), "{:?}", r.result);
    assert_eq!(balance(&store, &bob().address()), BOB_FUNDS + 77);
    assert_eq!(nonce(&store, &c), 1);
}

#[test]
fn check_reports_a_secp256k1_callers_ethereum_address() {
    let (rt, store) = setup();
    let TxSigner::Secp256k1(k) = charlie() else {
        unreachable!()
    };
    let raw = signed(
        &charlie(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 77),
        5_000,
    );
    let checked = rt.check_tx(&batch_ctx(1), &store, &raw).unwrap();
    assert_eq!(checked.signer, charlie().address());
    assert_eq!(
        checked.eth_address,
        Some(k.public_key().to_eth_address()),
        "the caller's Ethereum address comes back with the check"
    );
}

#[test]
fn secp256k1_bad_signature_is_malformed() {
    let (rt, mut store) = setup();
    let tx = unsigned(
        &charlie(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 77),
        5_000,
    );
    // Another secp256k1 key signs in charlie's name.
    let other =
        TxSigner::Secp256k1(atoll_crypto::secp256k1::SigningKey::from_bytes(&[9; 32]).unwrap());
    let raw = sign(&tx, &[&other]);
    let before = without_block_counter(&store);
    let r = exec_one(&rt, &mut store, raw);
    assert_eq!(fail_code(&r), ("core".into(), 1));
    assert_eq!(without_block_counter(&store), before);
    // A high-s form of a valid signature is refused.
    let mut utx: UnverifiedTransaction = cbor::from_slice(&sign(&tx, &[&charlie()])).unwrap();
    let AuthProof::Signature(sig) = &utx.1[0] else {
        unreachable!()
    };
    let rs = atoll_runtime_sdk::crypto::der_to_rs(&sig.0).unwrap();
    let high_s = negate_s(&rs);
    utx.1 = vec![AuthProof::Signature(
        atoll_runtime_sdk::types::RawSignature(atoll_runtime_sdk::crypto::rs_to_der(
            rs[..32].try_into().unwrap(),
            &high_s,
        )),
    )];
    let r = exec_one(&rt, &mut store, cbor::to_vec(&utx).unwrap());
    assert_eq!(fail_code(&r), ("core".into(), 1));
}

#[test]
fn mixed_signers_both_pay_nonces() {
    let (rt, mut store) = setup();
    let mut tx = unsigned(
        &alice(),
        0,
        "accounts.Transfer",
        &transfer_body(bob().address(), 5),
        10_000,
    );
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: charlie().address_spec(),
        nonce: 0,
    });
    let r = exec_one(&rt, &mut store, sign(&tx, &[&alice(), &charlie()]));
    assert!(r.result.is_success(), "{:?}", r.result);
    assert_eq!(nonce(&store, &alice().address()), 1);
    assert_eq!(nonce(&store, &charlie().address()), 1);
    // The first signer pays and is the caller.
    assert_eq!(balance(&store, &charlie().address()), CHARLIE_FUNDS);
}

/// n - s for the secp256k1 group order n.
fn negate_s(rs: &[u8; 64]) -> [u8; 32] {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ];
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(N[i]) - i16::from(rs[32 + i]) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

//! Known-answer tests of the wire format against the Oasis SDK's encoding.

use atoll_crypto::ed25519;
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction};
use atoll_runtime_sdk::modules::accounts::Transfer;
use atoll_runtime_sdk::types::{
    AuthProof, BaseUnits, CallResult, Denomination, SignerInfo, Transaction, UnverifiedTransaction,
};
use atoll_types::cbor;

use crate::common::*;

#[test]
fn base_units_match_the_sdk_vectors() {
    // runtime-sdk/src/types/token.rs test vectors.
    let test = Denomination::new(b"test").unwrap();
    for (amount, denom, hex) in [
        (0u128, Denomination::NATIVE, "824040"),
        (1, Denomination::NATIVE, "82410140"),
        (1000, Denomination::NATIVE, "824203e840"),
        (0, test.clone(), "82404474657374"),
        (1, test.clone(), "8241014474657374"),
        (1000, test, "824203e84474657374"),
    ] {
        let bu = BaseUnits::new(amount, denom);
        assert_eq!(hex::encode(cbor::to_vec(&bu).unwrap()), hex);
        assert_eq!(
            cbor::from_slice::<BaseUnits>(&hex::decode(hex).unwrap()).unwrap(),
            bu
        );
    }
    // Denominations are at most 32 bytes.
    let long = cbor::to_vec(&serde_bytes::ByteBuf::from(vec![b'x'; 33])).unwrap();
    assert!(cbor::from_slice::<Denomination>(&long).is_err());
}

fn kat_tx(pk: ed25519::PublicKey, to: atoll_crypto::Address) -> Transaction {
    let body = Transfer {
        to,
        amount: BaseUnits::native(1000),
    };
    let mut tx = Transaction::new("accounts.Transfer", cbor::to_value(&body).unwrap());
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: atoll_runtime_sdk::types::AddressSpec::Signature(
            atoll_runtime_sdk::types::SignatureAddressSpec::Ed25519(pk),
        ),
        nonce: 7,
    });
    tx.auth_info.fee.amount = BaseUnits::native(2000);
    tx.auth_info.fee.gas = 1000;
    tx
}

#[test]
fn transaction_body_layout() {
    let TxSigner::Ed25519(key) = alice() else {
        unreachable!()
    };
    let pk = key.public_key();
    let to = bob().address();
    // Laid out by hand from the SDK's field names and its canonical order
    // (shorter keys first); optional fields at their defaults are absent
    // (format, ro, consensus_messages, not_before, not_after).
    let mut want = hex::decode("a3617601626169a2627369").unwrap();
    want.extend(hex::decode("81a2656e6f6e6365076c616464726573735f73706563a1697369676e6174757265a167656432353531395820").unwrap());
    want.extend_from_slice(pk.as_ref());
    want.extend(hex::decode("63666565a2636761731903e866616d6f756e7482").unwrap());
    want.extend(hex::decode("4207d040").unwrap());
    want.extend(hex::decode("6463616c6ca264626f6479a262746f55").unwrap());
    want.extend_from_slice(to.as_bytes());
    want.extend(hex::decode("66616d6f756e74824203e840").unwrap());
    want.extend(hex::decode("666d6574686f6471").unwrap());
    want.extend_from_slice(b"accounts.Transfer");

    let tx = kat_tx(pk, to);
    assert_eq!(hex::encode(cbor::to_vec(&tx).unwrap()), hex::encode(&want));
    assert_eq!(
        cbor::from_slice_canonical::<Transaction>(&want).unwrap(),
        tx
    );

    // The envelope: [bytes(body), [{"signature": bytes(64)}]].
    let ctx = batch_ctx(1);
    let utx = sign_transaction(ctx.signature_context(), &tx, &[&alice()]).unwrap();
    let raw = cbor::to_vec(&utx).unwrap();
    let mut env = vec![0x82, 0x58, u8::try_from(want.len()).unwrap()];
    env.extend_from_slice(&want);
    env.extend(hex::decode("81a1697369676e61747572655840").unwrap());
    let AuthProof::Signature(sig) = &utx.1[0] else {
        unreachable!()
    };
    env.extend_from_slice(&sig.0);
    assert_eq!(raw, env);
    // Ed25519 signs SHA-512/256(context || body) under the runtime's chain context.
    let sig = ed25519::Signature::from_slice(&sig.0).unwrap();
    pk.verify(ctx.signature_context(), &want, &sig).unwrap();
    assert!(
        ctx.signature_context()
            .as_bytes()
            .starts_with(b"oasis-runtime-sdk/tx: v0 for chain ")
    );
    assert_eq!(
        cbor::from_slice::<UnverifiedTransaction>(&raw).unwrap(),
        utx
    );
}

#[test]
fn call_result_layout() {
    let ok = CallResult::Ok(cbor::Value::Null);
    assert_eq!(hex::encode(cbor::to_vec(&ok).unwrap()), "a1626f6bf6");
    let fail = CallResult::Failed {
        module: "core".into(),
        code: 4,
        message: String::new(),
    };
    // {"fail": {"code": 4, "module": "core"}}
    assert_eq!(
        hex::encode(cbor::to_vec(&fail).unwrap()),
        "a1646661696ca264636f646504666d6f64756c6564636f7265"
    );
}

#[test]
fn secp256k1_address_spec_layout() {
    let TxSigner::Secp256k1(k) = charlie() else {
        unreachable!()
    };
    let spec = charlie().address_spec();
    let mut want = hex::decode("a1697369676e6174757265a16c736563703235366b31657468").unwrap();
    want.extend([0x58, 33]);
    want.extend_from_slice(k.public_key().as_bytes());
    assert_eq!(cbor::to_vec(&spec).unwrap(), want);
}

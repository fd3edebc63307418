use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::SigningKey;
use atoll_types::cbor::{self, DecodeError, Value};
use atoll_types::signed::{Signed, SignedError};
use atoll_types::transaction::{Fee, SignedTransaction, Transaction};
use atoll_types::{Hash, Quantity};

fn ctx(chain: &[u8]) -> Context {
    Context::for_chain(
        "oasis-core/consensus: tx",
        &ChainContext::from_hash(&Hash::digest(chain)),
    )
    .unwrap()
}

fn tx() -> Transaction {
    Transaction {
        nonce: 7,
        fee: Some(Fee {
            amount: Quantity(1000),
            gas: 2000,
        }),
        method: "staking.Transfer".into(),
        body: Some(Value::Map(vec![(
            Value::from("amount"),
            Value::Bytes(vec![1, 0]),
        )])),
    }
}

#[test]
fn sign_and_open() {
    let key = SigningKey::from_seed(&[9; 32]);
    let signed = SignedTransaction::sign(&key, &ctx(b"net"), &tx()).unwrap();
    let wire = cbor::to_vec(&signed).unwrap();
    let received: SignedTransaction = cbor::from_slice_canonical(&wire).unwrap();
    assert_eq!(received.open(&ctx(b"net")).unwrap(), tx());
    assert_eq!(received.signature.public_key, key.public_key());
}

#[test]
fn another_network_or_a_flipped_byte_fails() {
    let key = SigningKey::from_seed(&[9; 32]);
    let signed = SignedTransaction::sign(&key, &ctx(b"net"), &tx()).unwrap();
    assert_eq!(
        signed.open(&ctx(b"other net")),
        Err(SignedError::BadSignature)
    );
    for i in 0..signed.untrusted_raw_value.len() {
        let mut bad = signed.clone();
        bad.untrusted_raw_value[i] ^= 0x01;
        assert_eq!(
            bad.open(&ctx(b"net")),
            Err(SignedError::BadSignature),
            "byte {i}"
        );
    }
}

#[test]
fn signed_but_non_canonical_body_is_refused() {
    let key = SigningKey::from_seed(&[9; 32]);
    // The transaction with an extra, unknown field: canonical CBOR, validly
    // signed, decodes under `from_slice`, but is not the encoding of the
    // Transaction it decodes to.
    let mut value = cbor::to_value(&tx()).unwrap();
    if let Value::Map(entries) = &mut value {
        entries.push((Value::from("x"), Value::Unsigned(1)));
    }
    let raw = cbor::encode_value(&value).unwrap();
    assert!(cbor::from_slice::<Transaction>(&raw).is_ok());
    let signature = key.sign(&ctx(b"net"), &raw);
    let signed: Signed<Transaction> = Signed::from_parts(
        raw,
        atoll_types::signed::SignatureBundle {
            public_key: key.public_key(),
            signature,
        },
    );
    assert_eq!(
        signed.open(&ctx(b"net")),
        Err(SignedError::MalformedBody(DecodeError::NotCanonical))
    );
}

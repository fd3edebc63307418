//! The signed envelope: sign, open, and every way opening must fail.

use atoll_crypto::Hash;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::SigningKey;
use atoll_types::cbor::{self, DecodeError, Value};
use atoll_types::{Quantity, SignatureBundle, Signed, SignedError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Fee {
    amount: Quantity,
    gas: u64,
}

/// Shaped like a consensus transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tx {
    nonce: u64,
    fee: Fee,
    method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<Value>,
}

fn tx() -> Tx {
    Tx {
        nonce: 42,
        fee: Fee {
            amount: Quantity::from(1_000u64),
            gas: 2_000,
        },
        method: "staking.Transfer".into(),
        body: Some(Value::map([(Value::from("to"), Value::Bytes(vec![1; 21]))]).unwrap()),
    }
}

fn ctx(genesis: &[u8]) -> Context {
    let chain = ChainContext::from_hash(&Hash::digest(genesis));
    Context::for_chain("oasis-core/consensus: tx", &chain).unwrap()
}

fn key() -> SigningKey {
    SigningKey::from_seed(&[9; 32])
}

#[test]
fn sign_then_open() {
    let ctx = ctx(b"chain A");
    let signed = Signed::sign(&key(), &ctx, &tx()).unwrap();
    assert_eq!(signed.untrusted_raw_value, cbor::to_vec(&tx()).unwrap());
    assert_eq!(signed.public_key(), &key().public_key());
    assert_eq!(signed.open(&ctx).unwrap(), tx());

    // Through the wire and back.
    let wire = cbor::to_vec(&signed).unwrap();
    let received: Signed<Tx> = cbor::from_slice_canonical(&wire).unwrap();
    assert_eq!(received, signed);
    assert_eq!(received.open(&ctx).unwrap(), tx());
    // The envelope is generic: a fuzzer or a router can decode it without
    // knowing the body type.
    let opaque: Signed<Value> = cbor::from_slice(&wire).unwrap();
    assert_eq!(
        cbor::from_value::<Tx>(opaque.open(&ctx).unwrap()).unwrap(),
        tx()
    );
}

#[test]
fn other_chain_or_context_fails() {
    let signed = Signed::sign(&key(), &ctx(b"chain A"), &tx()).unwrap();
    assert!(matches!(
        signed.open(&ctx(b"chain B")),
        Err(SignedError::BadSignature(_))
    ));
    let other_purpose = Context::new("oasis-core/consensus: tx").unwrap();
    assert!(matches!(
        signed.open(&other_purpose),
        Err(SignedError::BadSignature(_))
    ));
}

#[test]
fn tampering_fails() {
    let ctx = ctx(b"chain A");
    let signed = Signed::sign(&key(), &ctx, &tx()).unwrap();
    for i in 0..signed.untrusted_raw_value.len() {
        let mut bad = signed.clone();
        bad.untrusted_raw_value[i] ^= 0x01;
        assert!(
            matches!(bad.open(&ctx), Err(SignedError::BadSignature(_))),
            "flipped byte {i}"
        );
    }
    // Another signer's key with the same signature.
    let mut bad = signed.clone();
    bad.signature.public_key = SigningKey::from_seed(&[8; 32]).public_key();
    assert!(matches!(bad.open(&ctx), Err(SignedError::BadSignature(_))));
    // A flipped signature bit.
    let mut sig = *bad.signature.signature.as_bytes();
    sig[0] ^= 0x80;
    let mut bad = signed.clone();
    bad.signature.signature = atoll_types::Signature::from_slice(&sig).unwrap();
    assert!(matches!(bad.open(&ctx), Err(SignedError::BadSignature(_))));
}

/// Signs arbitrary bytes as if they were a body.
fn sign_raw(raw: Vec<u8>, ctx: &Context) -> Signed<Tx> {
    let k = key();
    let signature = k.sign(ctx, &raw);
    Signed::from_parts(
        raw,
        SignatureBundle {
            public_key: k.public_key(),
            signature,
        },
    )
}

#[test]
fn non_canonical_signed_body_is_refused() {
    let ctx = ctx(b"chain A");
    // A valid signature over a body with an extra, unknown field: lenient
    // decoding would accept it, so one transaction would have two encodings.
    let Value::Map(mut entries) = cbor::to_value(&tx()).unwrap() else {
        panic!("a struct encodes as a map");
    };
    entries.push((Value::from("zzz"), Value::Unsigned(1)));
    let raw = cbor::encode_value(&Value::Map(entries)).unwrap();
    assert_eq!(cbor::from_slice::<Tx>(&raw).unwrap(), tx());
    assert!(matches!(
        sign_raw(raw, &ctx).open(&ctx),
        Err(SignedError::NonCanonicalBody { .. })
    ));

    // An explicit `body: null` where the canonical form omits the field.
    let mut no_body = tx();
    no_body.body = None;
    let Value::Map(mut entries) = cbor::to_value(&no_body).unwrap() else {
        panic!("a struct encodes as a map");
    };
    entries.push((Value::from("body"), Value::Null));
    let raw = cbor::encode_value(&Value::Map(entries)).unwrap();
    assert!(matches!(
        sign_raw(raw, &ctx).open(&ctx),
        Err(SignedError::NonCanonicalBody { .. })
    ));

    // Bytes that are not canonical CBOR at all (unsorted keys).
    let raw = vec![0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02];
    assert!(matches!(
        sign_raw(raw, &ctx).open(&ctx),
        Err(SignedError::MalformedBody(DecodeError::OutOfOrderKey {
            offset: 4
        }))
    ));
    // Canonical CBOR of the wrong shape.
    assert!(matches!(
        sign_raw(vec![0x01], &ctx).open(&ctx),
        Err(SignedError::MalformedBody(DecodeError::InvalidType { .. }))
    ));
}

#[test]
fn envelope_is_strict() {
    let ctx = ctx(b"chain A");
    let signed = Signed::sign(&key(), &ctx, &tx()).unwrap();
    let Value::Map(mut entries) = cbor::to_value(&signed).unwrap() else {
        panic!("the envelope encodes as a map");
    };
    entries.push((Value::from("extra"), Value::Null));
    let bytes = cbor::encode_value(&Value::Map(entries)).unwrap();
    assert_eq!(
        cbor::from_slice::<Signed<Tx>>(&bytes),
        Err(DecodeError::UnknownField {
            field: "extra".into()
        })
    );
    // A public key of the wrong length.
    let bad = Value::map([
        (Value::from("untrusted_raw_value"), Value::Bytes(vec![0])),
        (
            Value::from("signature"),
            Value::map([
                (Value::from("public_key"), Value::Bytes(vec![0; 31])),
                (Value::from("signature"), Value::Bytes(vec![0; 64])),
            ])
            .unwrap(),
        ),
    ])
    .unwrap();
    assert!(cbor::from_slice::<Signed<Tx>>(&cbor::encode_value(&bad).unwrap()).is_err());
}

/// `Signed<T>` holds only bytes: it is `Send + Sync + Clone + Eq + Debug`
/// and serializable even for a body type that is none of these.
#[test]
fn envelope_traits_do_not_depend_on_the_body_type() {
    fn assert_traits<S: Send + Sync + Clone + Eq + std::fmt::Debug + Serialize>() {}
    struct NotSendNorClone(#[allow(dead_code, reason = "only the type matters")] std::rc::Rc<()>);
    assert_traits::<Signed<NotSendNorClone>>();
    let envelope: Signed<NotSendNorClone> = Signed::from_parts(
        vec![0xf6],
        SignatureBundle {
            public_key: key().public_key(),
            signature: key().sign(&ctx(b"chain A"), &[0xf6]),
        },
    );
    let wire = cbor::to_vec(&envelope).unwrap();
    let back: Signed<NotSendNorClone> = cbor::from_slice(&wire).unwrap();
    assert_eq!(back, envelope);
    back.verify(&ctx(b"chain A")).unwrap();
}

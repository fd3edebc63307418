//! A signed Oasis consensus transaction produced by another implementation
//! (Trust Wallet's Oasis signer test vector: a `staking.Transfer` of 10 000 000
//! base units, signed for the chain context `a245…d3c4`).
//!
//! It pins the envelope layout, the key order of every map, and the signing
//! scheme byte for byte. It also pins a known difference: that signer writes
//! quantities with a leading zero byte (`h'00'` for a zero fee, `h'00989680'`
//! for the amount), which Oasis's own encoder never produces but oasis-node
//! reads (`big.Int.SetBytes`); atoll reads it the same way where it decodes
//! what clients send, and refuses it only where one encoding per value is
//! required (`Signed::open`).

use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::SigningKey;
use atoll_types::cbor::{self, Value};
use atoll_types::{Address, Quantity, Signed, SignedError};
use serde::{Deserialize, Serialize};

use crate::common::h;

const SIGNED_TX: &str = "a2697369676e6174757265a2697369676e617475726558406e51c18c9b2015c9b49414b3307336597f51ff331873d214ce2db81c9651a34d99529ccaa294a39ccd01c6b0bc2c2239d87c624e5ba4840cf99ac8f9283e240c6a7075626c69635f6b6579582093d8f8a455f50527976a8aa87ebde38d5606efa86cb985d3fb466aff37000e3b73756e747275737465645f7261775f76616c7565585ea463666565a2636761730066616d6f756e74410064626f6479a262746f5500c73cc001463434915ba3f39751beb7c0905b45eb66616d6f756e744400989680656e6f6e636500666d6574686f64707374616b696e672e5472616e73666572";

const SEED: &str = "4f8b5676990b00e23d9904a92deb8d8f428ff289c8939926358f1d20537c21a0";

fn ctx() -> Context {
    let chain =
        ChainContext::new("a245619497e580dd3bc1aa3256c07f68b8dcc13f92da115eadc3b231b083d3c4")
            .unwrap();
    Context::for_chain("oasis-core/consensus: tx", &chain).unwrap()
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Fee {
    amount: Quantity,
    gas: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Transfer {
    to: Address,
    amount: Quantity,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Tx {
    nonce: u64,
    fee: Fee,
    method: String,
    body: Transfer,
}

#[test]
fn foreign_envelope_decodes_verifies_and_re_encodes_identically() {
    let bytes = h(SIGNED_TX);
    let signed: Signed<Value> = cbor::from_slice_canonical(&bytes).unwrap();
    let key = SigningKey::from_seed(&h(SEED).try_into().unwrap());
    assert_eq!(signed.public_key(), &key.public_key());
    // The signature verifies under atoll's context scheme, and the body is
    // canonical CBOR as a generic value.
    let body = signed.open(&ctx()).unwrap();
    assert_eq!(
        body.get("method").and_then(Value::as_text),
        Some("staking.Transfer")
    );
    // Ed25519 is deterministic: re-signing the same bytes gives the same
    // signature, and the same envelope.
    let again: Signed<Value> = Signed::sign(&key, &ctx(), &body).unwrap();
    assert_eq!(again, signed);
    assert_eq!(cbor::to_vec(&again).unwrap(), bytes);
}

#[test]
fn foreign_quantities_with_leading_zeros_read_as_oasis_node_reads_them() {
    let signed: Signed<Tx> = cbor::from_slice(&h(SIGNED_TX)).unwrap();
    // Where one encoding per value is required, the leading zeros are refused.
    assert!(matches!(
        signed.open(&ctx()),
        Err(SignedError::NonCanonicalBody { .. })
    ));
    // The signature covers the bytes as sent, and the client decoding
    // (oasis-core's rules) reads the same transfer Oasis reads.
    signed.verify(&ctx()).unwrap();
    let read: Tx = cbor::from_slice_relaxed(&signed.untrusted_raw_value).unwrap();
    let tx = Tx {
        nonce: 0,
        fee: Fee {
            amount: Quantity::ZERO,
            gas: 0,
        },
        method: "staking.Transfer".into(),
        body: Transfer {
            to: "oasis1qrrnesqpgc6rfy2m50eew5d7klqfqk69avhv4ak5"
                .parse()
                .unwrap(),
            amount: Quantity::from(10_000_000u64),
        },
    };
    assert_eq!(read, tx);
    // The same transaction with canonical quantities is two bytes shorter.
    let raw = cbor::to_vec(&tx).unwrap();
    let foreign = &signed.untrusted_raw_value;
    // Only the two quantities differ: h'00' -> h'' and h'00989680' -> h'989680'.
    assert_eq!(raw.len() + 2, foreign.len());
    let key = SigningKey::from_seed(&h(SEED).try_into().unwrap());
    assert_eq!(
        Signed::sign(&key, &ctx(), &tx)
            .unwrap()
            .open(&ctx())
            .unwrap(),
        tx
    );
}

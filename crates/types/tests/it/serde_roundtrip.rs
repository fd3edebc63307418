//! serde round trips of representative structures, in CBOR and JSON, and
//! `from_slice_canonical` against lenient decoding.

use std::collections::BTreeMap;

use atoll_types::cbor::{self, DecodeError, Value};
use atoll_types::{Epoch, Hash, Namespace, Quantity, Round};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Empty,
    Amount(Quantity),
    Pair(u8, i32),
    Named {
        ns: Namespace,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        round: Option<Round>,
    },
    Nested(Box<Kind>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Body {
    nonce: u64,
    delta: i64,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memo: Option<String>,
    maybe: Option<u16>,
    amount: Quantity,
    epoch: Epoch,
    hash: Hash,
    kinds: Vec<Kind>,
    table: BTreeMap<String, u32>,
    flag: bool,
    pair: (u8, String),
    /// No byte strings here: JSON has no byte string type for `Value`.
    raw: Value,
}

fn arb_kind() -> impl Strategy<Value = Kind> {
    let leaf = prop_oneof![
        Just(Kind::Empty),
        any::<u128>().prop_map(|q| Kind::Amount(Quantity(q))),
        (any::<u8>(), any::<i32>()).prop_map(|(a, b)| Kind::Pair(a, b)),
        (any::<[u8; 32]>(), proptest::option::of(any::<u64>())).prop_map(|(ns, r)| {
            Kind::Named {
                ns: Namespace(ns),
                round: r.map(Round),
            }
        }),
    ];
    leaf.prop_recursive(3, 8, 1, |inner| {
        inner.prop_map(|k| Kind::Nested(Box::new(k)))
    })
}

prop_compose! {
    fn arb_body()(
        nonce in any::<u64>(),
        delta in any::<i64>(),
        data in proptest::collection::vec(any::<u8>(), 0..64),
        memo in proptest::option::of(".{0,16}"),
        maybe in proptest::option::of(any::<u16>()),
        amount in any::<u128>(),
        epoch in any::<u64>(),
        hash in any::<[u8; 32]>(),
        kinds in proptest::collection::vec(arb_kind(), 0..4),
        table in proptest::collection::btree_map(".{0,6}", any::<u32>(), 0..4),
        flag in any::<bool>(),
        pair in (any::<u8>(), ".{0,4}"),
        raw in prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::Text),
        ],
    ) -> Body {
        Body {
            nonce, delta, data, memo, maybe,
            amount: Quantity(amount),
            epoch: Epoch(epoch),
            hash: Hash(hash),
            kinds, table, flag, pair, raw,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn body_round_trips(body in arb_body()) {
        let bytes = cbor::to_vec(&body).unwrap();
        // The output is canonical CBOR...
        let value = cbor::decode_value(&bytes).unwrap();
        prop_assert_eq!(cbor::encode_value(&value).unwrap(), bytes.clone());
        prop_assert_eq!(cbor::to_value(&body).unwrap(), value.clone());
        // ...and decodes back, strictly and canonically.
        prop_assert_eq!(cbor::from_slice::<Body>(&bytes).unwrap(), body.clone());
        prop_assert_eq!(cbor::from_slice_canonical::<Body>(&bytes).unwrap(), body.clone());
        prop_assert_eq!(cbor::from_value::<Body>(value).unwrap(), body.clone());
        // JSON uses the human-readable forms and round-trips too.
        let json = serde_json::to_string(&body).unwrap();
        prop_assert_eq!(serde_json::from_str::<Body>(&json).unwrap(), body);
    }

    /// An unknown field added to an encoded body: `from_slice` ignores it,
    /// `from_slice_canonical` refuses it.
    #[test]
    fn canonical_decoding_refuses_unknown_fields(
        body in arb_body(),
        name in "[a-z_]{1,12}",
        extra in any::<u64>(),
    ) {
        prop_assume!(cbor::to_value(&body).unwrap().get(&name).is_none());
        let Value::Map(mut entries) = cbor::to_value(&body).unwrap() else {
            panic!("a struct encodes as a map");
        };
        entries.push((Value::Text(name), Value::Unsigned(extra)));
        let bytes = cbor::encode_value(&Value::Map(entries)).unwrap();
        prop_assert_eq!(cbor::from_slice::<Body>(&bytes).unwrap(), body);
        prop_assert!(matches!(
            cbor::from_slice_canonical::<Body>(&bytes),
            Err(DecodeError::NonCanonical { .. })
        ), "extra field accepted by from_slice_canonical");
    }
}

#[test]
fn absent_and_explicit_null_are_different_encodings() {
    // `memo` is skipped when None; an explicit null decodes to None too, so
    // only from_slice_canonical can tell the two apart.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Memo {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        memo: Option<String>,
    }
    let absent = cbor::to_vec(&Memo { memo: None }).unwrap();
    assert_eq!(absent, [0xa0]);
    let null = [0xa1, 0x64, b'm', b'e', b'm', b'o', 0xf6];
    assert_eq!(
        cbor::from_slice::<Memo>(&null).unwrap(),
        Memo { memo: None }
    );
    assert!(matches!(
        cbor::from_slice_canonical::<Memo>(&null),
        Err(DecodeError::NonCanonical { offset: 0 })
    ));
    assert_eq!(
        cbor::from_slice_canonical::<Memo>(&absent).unwrap(),
        Memo { memo: None }
    );
}

#[test]
fn human_readable_forms() {
    let mut ns = [0u8; 32];
    ns[31] = 0xab;
    let json = serde_json::to_string(&(Quantity(1u128 << 100), Namespace(ns), Epoch(3))).unwrap();
    assert_eq!(
        json,
        format!(
            "[\"1267650600228229401496703205376\",\"{}ab\",3]",
            "00".repeat(31)
        )
    );
    let back: (Quantity, Namespace, Epoch) = serde_json::from_str(&json).unwrap();
    assert_eq!(back, (Quantity(1u128 << 100), Namespace(ns), Epoch(3)));
    assert!(serde_json::from_str::<Quantity>("\"-1\"").is_err());
    assert!(
        serde_json::from_str::<Quantity>("\"340282366920938463463374607431768211456\"").is_err()
    );
    assert!(serde_json::from_str::<Namespace>("\"abcd\"").is_err());
}

#[test]
fn value_is_a_serde_type_too() {
    // `Value` fields (as in the SDK's `Call { body: cbor::Value }`) carry an
    // embedded CBOR item through unchanged.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Call {
        method: String,
        body: Value,
    }
    let call = Call {
        method: "accounts.Transfer".into(),
        body: Value::map([
            (Value::from("to"), Value::Bytes(vec![0; 21])),
            (Value::from("amount"), Value::Negative(u64::MAX)),
        ])
        .unwrap(),
    };
    let bytes = cbor::to_vec(&call).unwrap();
    assert_eq!(cbor::from_slice_canonical::<Call>(&bytes).unwrap(), call);
    // A negative below i64::MIN survives the round trip through serde.
    assert_eq!(
        cbor::from_slice::<Value>(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap(),
        Value::Negative(u64::MAX)
    );
    // And JSON maps come back sorted canonically.
    let v: Value = serde_json::from_str(r#"{"bb": 1, "a": [true, null, "x"]}"#).unwrap();
    assert_eq!(
        hex::encode(cbor::encode_value(&v).unwrap()),
        "a2616183f5f66178626262 01".replace(' ', "")
    );
}

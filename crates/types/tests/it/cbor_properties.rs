use atoll_types::cbor::{self, Value};
use atoll_types::{Hash, Namespace, Quantity};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(Value::Unsigned),
        any::<u64>().prop_map(Value::Negative),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        "\\PC{0,20}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            // Unique keys (by encoding), in arbitrary order.
            proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(|m| {
                let mut seen = std::collections::BTreeSet::new();
                Value::Map(
                    m.into_iter()
                        .filter(|(k, _)| seen.insert(cbor::encode_value(k).unwrap()))
                        .collect(),
                )
            }),
        ]
    })
}

/// The same value with every map in canonical key order.
fn canonical(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        Value::Map(entries) => {
            let mut e: Vec<(Vec<u8>, Value, Value)> = entries
                .into_iter()
                .map(|(k, v)| (cbor::encode_value(&k).unwrap(), canonical(k), canonical(v)))
                .collect();
            e.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then(a.0.cmp(&b.0)));
            Value::Map(e.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        other => other,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kind {
    A,
    B(u32),
    C { z: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    memo: Option<String>,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    amount: Quantity,
    ns: Namespace,
    root: Hash,
    kinds: Vec<Kind>,
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<u64>(),
        proptest::option::of("\\PC{0,12}"),
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<u128>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        proptest::collection::vec(
            prop_oneof![
                Just(Kind::A),
                any::<u32>().prop_map(Kind::B),
                any::<i64>().prop_map(|z| Kind::C { z })
            ],
            0..5,
        ),
    )
        .prop_map(|(id, memo, payload, amount, ns, root, kinds)| Record {
            id,
            memo,
            payload,
            amount: Quantity(amount),
            ns: Namespace(ns),
            root: Hash(root),
            kinds,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn value_round_trip(v in value()) {
        let bytes = cbor::encode_value(&v).unwrap();
        let back = cbor::decode_value(&bytes).unwrap();
        prop_assert_eq!(&back, &canonical(v));
        // Every accepted encoding is the canonical one.
        prop_assert_eq!(cbor::encode_value(&back).unwrap(), bytes);
    }

    #[test]
    fn accepted_bytes_are_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = cbor::decode_value(&bytes) {
            prop_assert_eq!(cbor::encode_value(&v).unwrap(), bytes);
        }
    }

    #[test]
    fn mutated_encodings_never_panic(r in record(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = cbor::to_vec(&r).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        if let Ok(v) = cbor::decode_value(&bytes) {
            prop_assert_eq!(cbor::encode_value(&v).unwrap(), bytes.clone());
        }
        let _ = cbor::from_slice::<Record>(&bytes);
    }

    #[test]
    fn struct_round_trip(r in record()) {
        let bytes = cbor::to_vec(&r).unwrap();
        prop_assert_eq!(cbor::from_slice::<Record>(&bytes).unwrap(), r.clone());
        prop_assert_eq!(cbor::from_slice_canonical::<Record>(&bytes).unwrap(), r);
    }
}

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

// `to_vec` writes bytes directly; `encode_value(&to_value(..))` goes through
// the value tree. They must agree byte for byte, errors included.

/// Both ways of encoding `v`, as comparable results.
fn both<T: Serialize + ?Sized>(v: &T) -> (Result<Vec<u8>, String>, Result<Vec<u8>, String>) {
    let direct = cbor::to_vec(v).map_err(|e| e.to_string());
    let tree = cbor::to_value(v)
        .and_then(|t| cbor::encode_value(&t))
        .map_err(|e| e.to_string());
    (direct, tree)
}

/// Values whose maps may repeat keys and come in any order.
fn loose_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (0u64..30).prop_map(Value::Unsigned),
        any::<u64>().prop_map(Value::Negative),
        proptest::collection::vec(any::<u8>(), 0..3).prop_map(Value::Bytes),
        "[a-c]{0,2}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((inner.clone(), inner), 0..8).prop_map(Value::Map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn direct_encoding_matches_the_value_tree(v in loose_value()) {
        let (direct, tree) = both(&v);
        prop_assert_eq!(direct, tree);
    }

    #[test]
    fn direct_encoding_of_structs_matches_the_value_tree(r in record()) {
        let (direct, tree) = both(&r);
        prop_assert!(direct.is_ok());
        prop_assert_eq!(direct, tree);
    }
}

/// Serializes as a sequence whose length hint is `hint` while it has
/// `items` elements.
struct Hinted {
    hint: Option<usize>,
    items: Vec<u32>,
}

impl Serialize for Hinted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(self.hint)?;
        for i in &self.items {
            seq.serialize_element(i)?;
        }
        seq.end()
    }
}

/// A map driven by hand: keys and values in the order given, `None` for a
/// call that is left out.
struct Manual(Vec<(Option<Value>, Option<Value>)>);

impl Serialize for Manual {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in &self.0 {
            if let Some(k) = k {
                map.serialize_key(k)?;
            }
            if let Some(v) = v {
                map.serialize_value(v)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
enum Shapes {
    Unit,
    New(Vec<u8>),
    Tuple(u8, String, Option<bool>),
    Struct { b: (), a: char, long_name: i128 },
}

#[derive(Serialize)]
struct Float {
    x: f64,
}

#[test]
fn direct_encoding_matches_the_value_tree_on_edge_cases() {
    fn same<T: Serialize + ?Sized>(v: &T) {
        let (direct, tree) = both(v);
        assert_eq!(direct, tree);
    }
    // Length hints: right, too long, too short, absent, across head sizes.
    for n in [0usize, 3, 23, 24, 300] {
        let items: Vec<u32> = (0..u32::try_from(n).unwrap()).collect();
        for hint in [
            Some(n),
            Some(n + 1),
            Some(n.saturating_sub(1)),
            Some(70_000),
            None,
        ] {
            same(&Hinted {
                hint,
                items: items.clone(),
            });
        }
    }
    // Every enum shape, integers at the range edges, floats refused.
    same(&vec![
        Shapes::Unit,
        Shapes::New(vec![1, 2]),
        Shapes::Tuple(7, "x".into(), None),
        Shapes::Struct {
            b: (),
            a: 'é',
            long_name: -(1i128 << 64),
        },
    ]);
    same(&Shapes::Struct {
        b: (),
        a: 'a',
        long_name: -(1i128 << 64) - 1,
    });
    same(&(
        u128::from(u64::MAX),
        i128::from(i64::MIN),
        i8::MIN,
        u16::MAX,
    ));
    same(&(u128::from(u64::MAX) + 1));
    same(&Float { x: 1.5 });
    // Map misuse: a value without a key, a key without a value, and
    // repeated keys.
    let one = || Some(Value::Unsigned(1));
    same(&Manual(vec![(None, one())]));
    same(&Manual(vec![(one(), None)]));
    same(&Manual(vec![(one(), None), (one(), one())]));
    same(&Manual(vec![
        (one(), one()),
        (Some(Value::Null), one()),
        (one(), one()),
    ]));
    // Nesting right at the limit and one past it, through arrays (here) and
    // through every kind of variant (below).
    for depth in [
        cbor::MAX_ENCODE_DEPTH - 1,
        cbor::MAX_ENCODE_DEPTH,
        cbor::MAX_ENCODE_DEPTH + 1,
    ] {
        let mut v = Value::Null;
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        same(&v);
    }
    #[derive(Serialize)]
    enum Deep {
        Leaf,
        In(Box<Deep>),
        Pair(Box<Deep>, u8),
        Named { d: Box<Deep> },
    }
    for depth in [
        cbor::MAX_ENCODE_DEPTH - 1,
        cbor::MAX_ENCODE_DEPTH,
        cbor::MAX_ENCODE_DEPTH + 1,
    ] {
        for kind in 0..3 {
            let mut d = Deep::Leaf;
            for _ in 0..depth {
                d = match kind {
                    0 => Deep::In(Box::new(d)),
                    1 => Deep::Pair(Box::new(d), 1),
                    _ => Deep::Named { d: Box::new(d) },
                };
            }
            same(&d);
        }
    }
}

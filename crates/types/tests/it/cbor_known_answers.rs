use std::collections::BTreeMap;

use atoll_types::cbor::{self, Value};
use atoll_types::{Epoch, Namespace, Quantity};
use serde::{Deserialize, Serialize};

fn hex_of<T: Serialize>(v: &T) -> String {
    hex::encode(cbor::to_vec(v).unwrap())
}

#[test]
fn integers_in_shortest_form() {
    for (n, expected) in [
        (0u64, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65_535, "19ffff"),
        (65_536, "1a00010000"),
        (u64::from(u32::MAX) + 1, "1b0000000100000000"),
        (u64::MAX, "1bffffffffffffffff"),
    ] {
        assert_eq!(hex_of(&n), expected, "{n}");
        assert_eq!(
            cbor::from_slice::<u64>(&hex::decode(expected).unwrap()).unwrap(),
            n
        );
    }
    assert_eq!(hex_of(&-1i64), "20");
    assert_eq!(hex_of(&-24i64), "37");
    assert_eq!(hex_of(&-25i64), "3818");
    assert_eq!(hex_of(&i64::MIN), "3b7fffffffffffffff");
}

#[test]
fn strings_bytes_and_simple_values() {
    assert_eq!(hex_of(&""), "60");
    assert_eq!(hex_of(&"a"), "6161");
    assert_eq!(hex_of(&serde_bytes::Bytes::new(&[])), "40");
    assert_eq!(hex_of(&serde_bytes::Bytes::new(&[1, 2, 3])), "43010203");
    assert_eq!(hex_of(&false), "f4");
    assert_eq!(hex_of(&true), "f5");
    assert_eq!(hex_of(&None::<u8>), "f6");
    assert_eq!(
        hex_of(&vec![1u8, 2]),
        "820102",
        "a Vec<u8> without serde_bytes is an array"
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Keys {
    bb: u8,
    a: u8,
    c: u8,
}

#[test]
fn map_keys_in_length_first_order() {
    // Encoded keys: "a" (61 61), "c" (61 63), "bb" (62 62 62): shorter first.
    let k = Keys { bb: 3, a: 1, c: 2 };
    assert_eq!(hex_of(&k), "a3616101616302626262".to_owned() + "03");
    let mut m = BTreeMap::new();
    m.insert(256u64, 0u8);
    m.insert(10u64, 0u8);
    m.insert(1000u64, 0u8);
    // 10 (0a) < 256 (190100) < 1000 (1903e8): one byte before three bytes.
    assert_eq!(hex_of(&m), "a30a001901000019 03e800".replace(' ', ""));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Spec {
    Ed25519(serde_bytes::ByteBuf),
    Unit,
    Pair(u8, u8),
    Named { x: u8 },
}

#[test]
fn enums_are_externally_tagged() {
    let e = Spec::Ed25519(serde_bytes::ByteBuf::from(vec![0xab]));
    assert_eq!(hex_of(&e), "a167656432353531394 1ab".replace(' ', ""));
    assert_eq!(hex_of(&Spec::Unit), "64756e6974");
    assert_eq!(
        hex_of(&Spec::Pair(1, 2)),
        "a164706169728201 02".replace(' ', "")
    );
    assert_eq!(hex_of(&Spec::Named { x: 7 }), "a1656e616d6564a1617807");
    for v in [e, Spec::Unit, Spec::Pair(1, 2), Spec::Named { x: 7 }] {
        let bytes = cbor::to_vec(&v).unwrap();
        assert_eq!(cbor::from_slice::<Spec>(&bytes).unwrap(), v);
    }
}

#[test]
fn common_types() {
    assert_eq!(hex_of(&Quantity(0)), "40");
    assert_eq!(hex_of(&Quantity(256)), "420100");
    assert_eq!(
        hex_of(&Quantity(u128::MAX)),
        "50ffffffffffffffffffffffffffffffff"
    );
    assert_eq!(hex_of(&Epoch(5)), "05");
    assert_eq!(
        hex_of(&Namespace([0x11; 32])),
        format!("5820{}", "11".repeat(32))
    );
    // JSON forms for people and genesis files.
    assert_eq!(
        serde_json::to_string(&Quantity(u128::MAX)).unwrap(),
        format!("\"{}\"", u128::MAX)
    );
    assert_eq!(
        serde_json::from_str::<Quantity>("\"42\"").unwrap(),
        Quantity(42)
    );
    assert_eq!(
        serde_json::from_str::<Quantity>("42").unwrap(),
        Quantity(42)
    );
    assert!(serde_json::from_str::<Quantity>("\"-1\"").is_err());
    assert!(serde_json::from_str::<Quantity>("\"1e3\"").is_err());
    let ns = Namespace([0x22; 32]);
    assert_eq!(
        serde_json::to_string(&ns).unwrap(),
        format!("\"{}\"", "22".repeat(32))
    );
}

#[test]
fn values_round_trip_through_serde() {
    let v = Value::Map(vec![
        (
            Value::from("k"),
            Value::Array(vec![Value::from(-5i64), Value::Null, Value::Bool(true)]),
        ),
        (Value::from(7u64), Value::Bytes(vec![1])),
    ]);
    let bytes = cbor::encode_value(&v).unwrap();
    let back: Value = cbor::from_slice(&bytes).unwrap();
    assert_eq!(cbor::encode_value(&back).unwrap(), bytes);
    assert_eq!(cbor::to_vec(&v).unwrap(), bytes);
}

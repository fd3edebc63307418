//! Known-answer encodings (RFC 8949 appendix A where it applies, and
//! atoll/Oasis-specific types).

use std::collections::BTreeMap;

use atoll_types::cbor::{self, Value};
use atoll_types::{Epoch, Hash, Height, Namespace, Quantity, Round};
use serde::{Deserialize, Serialize};

use crate::common::{enc, h};

/// Encodes, checks the hex, and checks the bytes decode back to `v`.
fn kat<T>(v: T, hex_out: &str)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    assert_eq!(enc(&v), hex_out.replace(' ', ""), "encoding of {v:?}");
    let back: T = cbor::from_slice(&h(hex_out)).unwrap();
    assert_eq!(back, v);
    // And the bytes are canonical for their type.
    let again: T = cbor::from_slice_canonical(&h(hex_out)).unwrap();
    assert_eq!(again, v);
}

#[test]
fn unsigned_integers() {
    kat(0u64, "00");
    kat(1u8, "01");
    kat(10u16, "0a");
    kat(23u32, "17");
    kat(24u64, "1818");
    kat(25u64, "1819");
    kat(100u64, "1864");
    kat(255u64, "18ff");
    kat(256u64, "190100");
    kat(1000u64, "1903e8");
    kat(65535u64, "19ffff");
    kat(65536u64, "1a00010000");
    kat(1_000_000u64, "1a000f4240");
    kat(u64::from(u32::MAX), "1affffffff");
    kat(1u64 << 32, "1b0000000100000000");
    kat(1_000_000_000_000u64, "1b000000e8d4a51000");
    kat(u64::MAX, "1bffffffffffffffff");
    kat(u128::from(u64::MAX), "1bffffffffffffffff");
}

#[test]
fn negative_integers() {
    kat(-1i64, "20");
    kat(-10i8, "29");
    kat(-24i64, "37");
    kat(-25i64, "3818");
    kat(-100i32, "3863");
    kat(-1000i16, "3903e7");
    kat(i64::MIN, "3b7fffffffffffffff");
    kat(-(1i128 << 64), "3bffffffffffffffff");
    kat(5i64, "05");
}

#[test]
fn strings_bytes_and_simple_values() {
    kat(serde_bytes::ByteBuf::from(vec![]), "40");
    kat(serde_bytes::ByteBuf::from(vec![1, 2, 3, 4]), "4401020304");
    kat(
        serde_bytes::ByteBuf::from(vec![0xaa; 24]),
        &format!("5818{}", "aa".repeat(24)),
    );
    kat(String::new(), "60");
    kat("a".to_string(), "6161");
    kat("IETF".to_string(), "6449455446");
    kat("\"\\".to_string(), "62225c");
    kat("\u{00fc}".to_string(), "62c3bc");
    kat("\u{6c34}".to_string(), "63e6b0b4");
    kat('z', "617a");
    kat(false, "f4");
    kat(true, "f5");
    kat((), "f6");
    kat(None::<u64>, "f6");
    kat(Some(5u64), "05");
}

#[test]
fn arrays_and_maps() {
    kat(Vec::<u64>::new(), "80");
    kat(vec![1u64, 2, 3], "83010203");
    kat(vec![vec![1u64], vec![2, 3]], "82810182 0203");
    kat((1u64, "a".to_string(), true), "83016161f5");
    let v: Vec<u64> = (1..=25).collect();
    kat(
        v,
        "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
    );
    // Without serde_bytes a Vec<u8> is an array of integers.
    kat(vec![1u8, 2], "820102");
    kat(BTreeMap::<u64, u64>::new(), "a0");
    kat(BTreeMap::from([(1u64, 2u64), (3, 4)]), "a201020304");
}

#[test]
fn map_keys_sort_length_first_then_bytewise() {
    // RFC 7049 §3.9: 10, -1, false (1 byte); 100, "z", [-1] (2 bytes);
    // "aa", [100] (3 bytes).
    let entries = vec![
        (Value::Unsigned(10), Value::Unsigned(1)),
        (Value::Unsigned(100), Value::Unsigned(2)),
        (Value::Negative(0), Value::Unsigned(3)),
        (Value::from("z"), Value::Unsigned(4)),
        (Value::from("aa"), Value::Unsigned(5)),
        (Value::Array(vec![Value::Unsigned(100)]), Value::Unsigned(6)),
        (Value::Array(vec![Value::Negative(0)]), Value::Unsigned(7)),
        (Value::Bool(false), Value::Unsigned(8)),
    ];
    let expected = "a8 0a01 2003 f408 186402 617a04 812007 62616105 81186406";
    // The encoder sorts a hand-built map given in any order.
    let bytes = cbor::encode_value(&Value::Map(entries.clone())).unwrap();
    assert_eq!(hex::encode(&bytes), expected.replace(' ', ""));
    let mut reversed = entries.clone();
    reversed.reverse();
    assert_eq!(cbor::encode_value(&Value::Map(reversed)).unwrap(), bytes);
    // Decoding gives the canonical order, which `Value::map` also gives.
    let decoded = cbor::decode_value(&bytes).unwrap();
    assert_eq!(decoded, Value::map(entries).unwrap());
    assert_eq!(decoded.as_map().unwrap()[2].0, Value::Bool(false));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Abc {
    bb: u64,
    c: u64,
    a: u64,
}

#[test]
fn struct_fields_in_canonical_order() {
    // Keys "a", "c" (2-byte encodings) before "bb" (3 bytes), whatever the
    // declaration order.
    kat(Abc { bb: 2, c: 3, a: 1 }, "a3 6161 01 6163 03 626262 02");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Inner {
    Unit,
    Newtype(u64),
    Tuple(u64, bool),
    Struct { x: i64 },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Outer {
    #[serde(rename = "inner")]
    In(Inner),
    #[serde(rename = "many")]
    Many(Vec<Inner>),
}

#[test]
fn enums_are_externally_tagged() {
    kat(Inner::Unit, "64756e6974");
    kat(Inner::Newtype(7), "a1 676e657774797065 07");
    kat(Inner::Tuple(1, true), "a1 657475706c65 8201f5");
    kat(Inner::Struct { x: -2 }, "a1 66737472756374 a1 6178 21");
    kat(
        Outer::In(Inner::Struct { x: 0 }),
        "a1 65696e6e6572 a1 66737472756374 a1 6178 00",
    );
    kat(
        Outer::Many(vec![Inner::Unit, Inner::Newtype(1)]),
        "a1 646d616e79 82 64756e6974 a1676e65777479706501",
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Wrapper(u64);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct UnitStruct;

#[test]
fn newtype_and_unit_structs() {
    kat(Wrapper(24), "1818");
    kat(UnitStruct, "f6");
}

#[test]
fn quantity_is_minimal_big_endian_bytes() {
    kat(Quantity::ZERO, "40");
    kat(Quantity::from(1u64), "4101");
    kat(Quantity::from(255u64), "41ff");
    kat(Quantity::from(256u64), "420100");
    kat(Quantity::from(1_000_000_000u64), "443b9aca00");
    kat(Quantity(1u128 << 64), "49010000000000000000");
    kat(Quantity::MAX, &format!("50{}", "ff".repeat(16)));
}

#[test]
fn counters_are_plain_integers() {
    kat(Epoch(0), "00");
    kat(Height(24), "1818");
    kat(Round(u64::MAX), "1bffffffffffffffff");
}

#[test]
fn fixed_size_byte_types_are_byte_strings() {
    let mut ns = [0u8; 32];
    ns[0] = 0x80;
    ns[31] = 1;
    kat(Namespace(ns), &format!("5820 80{} 01", "00".repeat(30)));
    kat(
        Hash::empty(),
        "5820 c672b8d1ef56ed28ab87c3622c5114069bdd3ad7b8f9737498d0c01ecef0967a",
    );
}

/// The envelope of Oasis's `signature.Signed`, field order included:
/// "signature" (10-byte key) sorts before "untrusted_raw_value" (20 bytes), and
/// in the bundle "signature" before "public_key".
#[test]
fn signed_envelope_layout() {
    use atoll_crypto::context::Context;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_types::Signed;

    let key = SigningKey::from_seed(&[1; 32]);
    let ctx = Context::new("atoll/test: kat").unwrap();
    let signed = Signed::sign(&key, &ctx, &7u64).unwrap();
    let bytes = cbor::to_vec(&signed).unwrap();
    let mut expected = h("a2 69 7369676e6174757265 a2 69 7369676e6174757265 5840");
    expected.extend_from_slice(signed.signature.signature.as_bytes());
    expected.extend_from_slice(&h("6a 7075626c69635f6b6579 5820"));
    expected.extend_from_slice(signed.public_key().as_ref());
    expected.extend_from_slice(&h("73 756e747275737465645f7261775f76616c7565 41 07"));
    assert_eq!(hex::encode(&bytes), hex::encode(&expected));
}

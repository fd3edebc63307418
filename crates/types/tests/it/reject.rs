//! Every kind of non-canonical or hostile input is refused with its own
//! error variant, without panicking or allocating for data that is absent.

use atoll_types::Quantity;
use atoll_types::cbor::{self, DecodeError, DecodeLimits, EncodeError, Value};
use serde::{Deserialize, Serialize};

use crate::common::{decode_err, h};

#[test]
fn non_minimal_integers() {
    for (input, what) in [
        ("1817", "23 in one extra byte"),
        ("1800", "0 in one extra byte"),
        ("1900ff", "255 in two bytes"),
        ("1a0000ffff", "65535 in four bytes"),
        ("1b00000000ffffffff", "u32::MAX in eight bytes"),
        ("3817", "-24 in one extra byte"),
        ("3900ff", "negative in two bytes"),
    ] {
        assert_eq!(
            decode_err(input),
            DecodeError::NonMinimalEncoding { offset: 0 },
            "{what}"
        );
    }
}

#[test]
fn non_minimal_lengths() {
    for input in [
        "5801 00",       // bytes of length 1 with a 1-byte length
        "780161",        // text of length 1
        "980100",        // array of length 1
        "b8016161 00",   // map of length 1
        "590001 00",     // two-byte length
        "5a00000001 00", // four-byte length
    ] {
        assert_eq!(
            decode_err(input),
            DecodeError::NonMinimalEncoding { offset: 0 },
            "{input}"
        );
    }
    // Nested: the offset points at the offending item.
    assert_eq!(
        decode_err("82 01 1801"),
        DecodeError::NonMinimalEncoding { offset: 2 }
    );
}

#[test]
fn indefinite_lengths() {
    for input in [
        "9fff",
        "9f01ff",
        "5fff",
        "5f4101ff",
        "7fff",
        "bfff",
        "bf616101ff",
    ] {
        assert_eq!(
            decode_err(input),
            DecodeError::IndefiniteLength { offset: 0 },
            "{input}"
        );
    }
    assert_eq!(decode_err("ff"), DecodeError::UnexpectedBreak { offset: 0 });
    assert_eq!(
        decode_err("8201ff"),
        DecodeError::UnexpectedBreak { offset: 2 }
    );
}

#[test]
fn tags() {
    for input in [
        "c074323031332d30332d32315432303a30343a30305a",
        "c11a514b67b0",
        "d82076",
        "d9d9f700",
        "c249010000000000000000",
    ] {
        assert_eq!(
            decode_err(input),
            DecodeError::TagNotAllowed { offset: 0 },
            "{input}"
        );
    }
    assert_eq!(
        decode_err("81c000"),
        DecodeError::TagNotAllowed { offset: 1 }
    );
}

#[test]
fn floats() {
    for input in [
        "f90000",             // half 0.0
        "f93c00",             // half 1.0
        "fa47c35000",         // single 100000.0
        "fb3ff199999999999a", // double 1.1
        "f97e00",             // NaN
    ] {
        assert_eq!(
            decode_err(input),
            DecodeError::FloatNotAllowed { offset: 0 },
            "{input}"
        );
    }
    assert!(matches!(
        cbor::to_vec(&1.0f64),
        Err(EncodeError::FloatNotSupported)
    ));
    assert!(matches!(
        cbor::to_vec(&0.5f32),
        Err(EncodeError::FloatNotSupported)
    ));
    assert!(matches!(
        cbor::from_slice::<f64>(&h("00")),
        Err(DecodeError::FloatNotSupported)
    ));
}

#[test]
fn simple_values_other_than_bool_and_null() {
    assert_eq!(
        decode_err("f7"),
        DecodeError::UnsupportedSimpleValue {
            offset: 0,
            value: 23
        }
    );
    assert_eq!(
        decode_err("f0"),
        DecodeError::UnsupportedSimpleValue {
            offset: 0,
            value: 16
        }
    );
    assert_eq!(
        decode_err("e0"),
        DecodeError::UnsupportedSimpleValue {
            offset: 0,
            value: 0
        }
    );
    assert_eq!(
        decode_err("f8ff"),
        DecodeError::UnsupportedSimpleValue {
            offset: 0,
            value: 255
        }
    );
    // A one-byte simple value for `true` is still not `true`.
    assert_eq!(
        decode_err("f815"),
        DecodeError::UnsupportedSimpleValue {
            offset: 0,
            value: 21
        }
    );
}

#[test]
fn reserved_additional_info() {
    for (input, info) in [
        ("1c", 28),
        ("3d", 29),
        ("5e", 30),
        ("7c", 28),
        ("9d", 29),
        ("be", 30),
        ("fc", 28),
        ("1f", 31),
        ("3f", 31),
    ] {
        assert_eq!(
            decode_err(input),
            DecodeError::ReservedAdditionalInfo { offset: 0, info },
            "{input}"
        );
    }
}

#[test]
fn unsorted_map_keys() {
    // Bytewise violation: "b" before "a".
    assert_eq!(
        decode_err("a2 6162 01 6161 02"),
        DecodeError::OutOfOrderKey { offset: 4 }
    );
    // Length-first violation: "aa" before "b" (bytewise it would be fine).
    assert_eq!(
        decode_err("a2 626161 01 6162 02"),
        DecodeError::OutOfOrderKey { offset: 5 }
    );
    // Across types: 100 (2 bytes) before -1 (1 byte).
    assert_eq!(
        decode_err("a2 1864 01 20 02"),
        DecodeError::OutOfOrderKey { offset: 4 }
    );
    // In a nested map.
    assert_eq!(
        decode_err("81 a2 02 00 01 00"),
        DecodeError::OutOfOrderKey { offset: 4 }
    );
}

#[test]
fn duplicate_map_keys() {
    assert_eq!(
        decode_err("a2 6161 01 6161 02"),
        DecodeError::DuplicateKey { offset: 4 }
    );
    assert_eq!(
        decode_err("a3 00 00 01 00 01 00"),
        DecodeError::DuplicateKey { offset: 5 }
    );
    // The encoder refuses them too.
    let dup = Value::Map(vec![
        (Value::from("a"), Value::Unsigned(1)),
        (Value::from("a"), Value::Unsigned(2)),
    ]);
    assert_eq!(
        cbor::encode_value(&dup),
        Err(EncodeError::DuplicateKey { key: h("6161") })
    );
    assert!(matches!(
        cbor::to_vec(&dup),
        Err(EncodeError::DuplicateKey { .. })
    ));
    assert!(
        Value::map(vec![
            (Value::Null, Value::Null),
            (Value::Null, Value::Bool(true))
        ])
        .is_err()
    );
}

#[test]
fn truncated_at_every_prefix() {
    let full = h(
        "a3 6161 83 01 3903e7 1b0000000100000000 6163 a1 6178 4401020304 626262 \
         82 63666f6f f6",
    );
    // The full input is valid.
    cbor::decode_value(&full).unwrap();
    for len in 0..full.len() {
        let prefix = &full[..len];
        assert!(
            matches!(
                cbor::decode_value(prefix),
                Err(DecodeError::Truncated { .. })
            ),
            "prefix of {len} bytes: {:?}",
            cbor::decode_value(prefix)
        );
    }
    assert_eq!(decode_err(""), DecodeError::Truncated { offset: 0 });
}

#[test]
fn trailing_bytes() {
    assert_eq!(decode_err("0000"), DecodeError::TrailingBytes { offset: 1 });
    assert_eq!(
        decode_err("820102 ff"),
        DecodeError::TrailingBytes { offset: 3 }
    );
}

#[test]
fn invalid_utf8() {
    assert_eq!(decode_err("62c328"), DecodeError::InvalidUtf8 { offset: 1 });
    assert_eq!(
        decode_err("63 61 ff 61"),
        DecodeError::InvalidUtf8 { offset: 2 }
    );
    // A surrogate half encoded in UTF-8 (CESU) is not UTF-8.
    assert_eq!(
        decode_err("63eda080"),
        DecodeError::InvalidUtf8 { offset: 1 }
    );
}

#[test]
fn depth_bomb_is_refused_without_recursion() {
    let mut bomb = vec![0x81u8; 10_000];
    bomb.push(0x00);
    assert_eq!(
        cbor::decode_value(&bomb),
        Err(DecodeError::DepthLimitExceeded {
            offset: 64,
            limit: 64
        })
    );
    // The same with maps: {0: {0: ...}}.
    let mut map_bomb = Vec::new();
    for _ in 0..10_000 {
        map_bomb.extend_from_slice(&[0xa1, 0x00]);
    }
    map_bomb.push(0x00);
    assert!(matches!(
        cbor::decode_value(&map_bomb),
        Err(DecodeError::DepthLimitExceeded { limit: 64, .. })
    ));
    // Exactly at the limit is fine.
    let mut ok = vec![0x81u8; 64];
    ok.push(0x00);
    cbor::decode_value(&ok).unwrap();
}

#[test]
fn depth_limit_is_configurable_and_clamped() {
    let two = DecodeLimits {
        max_depth: 2,
        ..DecodeLimits::default()
    };
    cbor::decode_value_with_limits(&h("818100"), &two).unwrap();
    assert_eq!(
        cbor::decode_value_with_limits(&h("81818100"), &two),
        Err(DecodeError::DepthLimitExceeded {
            offset: 2,
            limit: 2
        })
    );
    let huge = DecodeLimits {
        max_depth: usize::MAX,
        ..DecodeLimits::default()
    };
    let mut bomb = vec![0x81u8; 100_000];
    bomb.push(0x00);
    assert_eq!(
        cbor::decode_value_with_limits(&bomb, &huge),
        Err(DecodeError::DepthLimitExceeded {
            offset: cbor::MAX_DEPTH_CEILING,
            limit: cbor::MAX_DEPTH_CEILING
        })
    );
}

#[test]
fn the_encoder_refuses_too_deep_values() {
    let mut v = Value::Null;
    for _ in 0..=cbor::MAX_ENCODE_DEPTH {
        v = Value::Array(vec![v]);
    }
    assert_eq!(
        cbor::encode_value(&v),
        Err(EncodeError::DepthLimitExceeded {
            limit: cbor::MAX_ENCODE_DEPTH
        })
    );
    assert!(matches!(
        cbor::to_vec(&v),
        Err(EncodeError::DepthLimitExceeded { .. })
    ));
}

#[test]
fn huge_declared_lengths_fail_before_allocating() {
    // 2^64-1 bytes / characters: the input cannot hold them.
    assert_eq!(
        decode_err("5bffffffffffffffff"),
        DecodeError::Truncated { offset: 0 }
    );
    assert_eq!(
        decode_err("7bffffffffffffffff"),
        DecodeError::Truncated { offset: 0 }
    );
    // 2^64-1 items: over the collection limit.
    assert!(matches!(
        decode_err("9bffffffffffffffff"),
        DecodeError::CollectionTooLarge {
            offset: 0,
            len: u64::MAX,
            ..
        }
    ));
    assert!(matches!(
        decode_err("bbffffffffffffffff"),
        DecodeError::CollectionTooLarge {
            offset: 0,
            len: u64::MAX,
            ..
        }
    ));
    // Within the collection limit, but more items than bytes left.
    assert!(matches!(
        decode_err("9a000fffff 00"),
        DecodeError::Truncated { .. }
    ));
    // A map of n entries needs at least 2n bytes.
    assert!(matches!(
        decode_err("a2 00 00 00"),
        DecodeError::Truncated { .. }
    ));
    // One over the default collection limit.
    assert!(matches!(
        decode_err("9a00100001"),
        DecodeError::CollectionTooLarge {
            len: 1_048_577,
            limit: 1_048_576,
            ..
        }
    ));
}

#[test]
fn collection_and_input_limits() {
    let small = DecodeLimits {
        max_collection_len: 2,
        max_input_len: 8,
        ..DecodeLimits::default()
    };
    cbor::decode_value_with_limits(&h("820102"), &small).unwrap();
    assert_eq!(
        cbor::decode_value_with_limits(&h("83010203"), &small),
        Err(DecodeError::CollectionTooLarge {
            offset: 0,
            len: 3,
            limit: 2
        })
    );
    assert_eq!(
        cbor::decode_value_with_limits(&[0x40; 9], &small),
        Err(DecodeError::InputTooLarge { len: 9, limit: 8 })
    );
    assert!(matches!(
        cbor::from_slice_with_limits::<Vec<u8>>(&h("83010203"), &small),
        Err(DecodeError::CollectionTooLarge { .. })
    ));
}

#[test]
fn quantity_reads_leading_zeros_as_oasis_and_rejects_long_values() {
    // Leading zero bytes: read as Oasis's decoders read them (this asserted
    // a refusal before issue 27); signed bodies still refuse them through the
    // canonical check.
    assert_eq!(
        cbor::from_slice::<Quantity>(&h("420001")).unwrap(),
        Quantity::from(1u64)
    );
    assert_eq!(
        cbor::from_slice::<Quantity>(&h("4100")).unwrap(),
        Quantity::ZERO
    );
    assert!(matches!(
        cbor::from_slice_canonical::<Quantity>(&h("4100")),
        Err(DecodeError::NonCanonical { .. })
    ));
    let seventeen = format!("51 01{}", "00".repeat(16));
    assert!(matches!(
        cbor::from_slice::<Quantity>(&h(&seventeen)),
        Err(DecodeError::InvalidLength { len: 17, .. })
    ));
    // Not a byte string at all.
    assert!(matches!(
        cbor::from_slice::<Quantity>(&h("05")),
        Err(DecodeError::InvalidType { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<Quantity>(&h("6135")),
        Err(DecodeError::InvalidType { .. })
    ));
}

#[test]
fn integer_ranges() {
    // -1 - 2^63 does not fit an i64.
    assert_eq!(
        cbor::from_slice::<i64>(&h("3b8000000000000000")),
        Err(DecodeError::NegativeIntegerOverflow { n: 1 << 63 })
    );
    assert_eq!(
        cbor::from_slice::<i128>(&h("3b8000000000000000")).unwrap(),
        -1 - (1i128 << 63)
    );
    assert!(matches!(
        cbor::from_slice::<u8>(&h("190100")),
        Err(DecodeError::InvalidValue { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<u64>(&h("20")),
        Err(DecodeError::InvalidValue { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<i64>(&h("1b8000000000000000")),
        Err(DecodeError::InvalidValue { .. })
    ));
    assert_eq!(
        cbor::to_vec(&(u128::from(u64::MAX) + 1)),
        Err(EncodeError::UnsignedOutOfRange(u128::from(u64::MAX) + 1))
    );
    assert_eq!(
        cbor::to_vec(&(-(1i128 << 64) - 1)),
        Err(EncodeError::IntegerOutOfRange(-(1i128 << 64) - 1))
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Pair {
    a: u64,
    #[serde(with = "serde_bytes")]
    b: Vec<u8>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum E {
    Unit,
    New(u64),
}

#[test]
fn serde_types_are_strict() {
    let ok = h("a2 6161 01 6162 4102");
    assert_eq!(
        cbor::from_slice::<Pair>(&ok).unwrap(),
        Pair { a: 1, b: vec![2] }
    );
    // A struct as an array.
    assert!(matches!(
        cbor::from_slice::<Pair>(&h("82 01 4102")),
        Err(DecodeError::InvalidType { .. })
    ));
    // Fields keyed by index instead of name.
    assert!(matches!(
        cbor::from_slice::<Pair>(&h("a2 00 01 01 4102")),
        Err(DecodeError::InvalidType { .. })
    ));
    // Bytes as an array of integers, or as text.
    assert!(matches!(
        cbor::from_slice::<Pair>(&h("a2 6161 01 6162 8102")),
        Err(DecodeError::InvalidType { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<Pair>(&h("a2 6161 01 6162 6102")),
        Err(DecodeError::InvalidType { .. })
    ));
    // A missing field.
    assert_eq!(
        cbor::from_slice::<Pair>(&h("a1 6161 01")),
        Err(DecodeError::MissingField { field: "b" })
    );
    // A unit variant as `{"Unit": null}`, a newtype variant as text, an
    // unknown variant, a two-entry variant map.
    assert!(matches!(
        cbor::from_slice::<E>(&h("a1 64556e6974 f6")),
        Err(DecodeError::InvalidType { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<E>(&h("634e6577")),
        Err(DecodeError::InvalidType { .. })
    ));
    assert_eq!(
        cbor::from_slice::<E>(&h("634e6f70")),
        Err(DecodeError::UnknownVariant {
            variant: "Nop".into()
        })
    );
    assert!(matches!(
        cbor::from_slice::<E>(&h("a2 634e6577 01 64556e6974 f6")),
        Err(DecodeError::InvalidLength { len: 2, .. })
    ));
    // An array longer than the tuple.
    assert!(matches!(
        cbor::from_slice::<(u64, u64)>(&h("83010203")),
        Err(DecodeError::InvalidLength { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<(u64, u64)>(&h("8101")),
        Err(DecodeError::InvalidLength { len: 1, .. })
    ));
    // Booleans are not integers, null is not false.
    assert!(matches!(
        cbor::from_slice::<bool>(&h("01")),
        Err(DecodeError::InvalidType { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<bool>(&h("f6")),
        Err(DecodeError::InvalidType { .. })
    ));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strict {
    a: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Lenient {
    a: u64,
}

#[test]
fn unknown_fields_follow_serde() {
    let extra = h("a2 6161 01 6162 02");
    assert_eq!(
        cbor::from_slice::<Lenient>(&extra).unwrap(),
        Lenient { a: 1 }
    );
    assert_eq!(
        cbor::from_slice::<Strict>(&extra),
        Err(DecodeError::UnknownField { field: "b".into() })
    );
    // from_slice_canonical refuses what does not re-encode to itself.
    assert_eq!(
        cbor::from_slice_canonical::<Lenient>(&extra),
        Err(DecodeError::NonCanonical { offset: 0 })
    );
}

//! Property tests of the codec on arbitrary `Value` trees and arbitrary bytes.

use atoll_types::cbor::{self, Value};
use proptest::prelude::*;

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(Value::Unsigned),
        // Small numbers too, so the 1-byte forms and boundaries are common.
        (0u64..300).prop_map(Value::Unsigned),
        any::<u64>().prop_map(Value::Negative),
        (0u64..30).prop_map(Value::Negative),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ".{0,12}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            // Maps in arbitrary order, possibly with duplicate keys.
            proptest::collection::vec((inner.clone(), inner), 0..6).prop_map(Value::Map),
        ]
    })
}

/// One item head: a major type, an argument width (immediate, 1, 2, 4 or 8
/// bytes, or a raw additional-info value) and a small argument.
fn arb_head() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..8,
        0u8..7,
        prop_oneof![0u64..4, 20u64..30, 250u64..260, any::<u64>()],
    )
        .prop_map(|(major, width, arg)| {
            let m = major << 5;
            match width {
                0 => vec![m | (arg % 24) as u8],
                1 => vec![m | 24, arg as u8],
                2 => [vec![m | 25], (arg as u16).to_be_bytes().to_vec()].concat(),
                3 => [vec![m | 26], (arg as u32).to_be_bytes().to_vec()].concat(),
                4 => [vec![m | 27], arg.to_be_bytes().to_vec()].concat(),
                // Simple values, reserved and indefinite forms.
                5 => vec![m | (20 + (arg % 12) as u8)],
                _ => vec![arg as u8],
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// decode(encode(v)) is v with its maps sorted; encoding fails exactly
    /// when some map has duplicate keys.
    #[test]
    fn value_round_trip(v in arb_value()) {
        match v.clone().canonicalize() {
            Ok(canonical) => {
                let bytes = cbor::encode_value(&v).unwrap();
                prop_assert_eq!(cbor::decode_value(&bytes).unwrap(), canonical.clone());
                // Canonicalizing is idempotent and does not change the encoding.
                prop_assert_eq!(cbor::encode_value(&canonical).unwrap(), bytes.clone());
                // The serde path gives the same bytes, and back.
                prop_assert_eq!(cbor::to_vec(&v).unwrap(), bytes.clone());
                prop_assert_eq!(cbor::from_slice::<Value>(&bytes).unwrap(), canonical.clone());
                prop_assert_eq!(cbor::from_slice_canonical::<Value>(&bytes).unwrap(), canonical);
            }
            Err(_) => {
                prop_assert!(
                    matches!(
                        cbor::encode_value(&v),
                        Err(cbor::EncodeError::DuplicateKey { .. })
                    ),
                    "expected a duplicate key error for {:?}",
                    v
                );
            }
        }
    }

    /// Every input the decoder accepts is the canonical encoding of what it
    /// decodes to. Inputs are valid encodings with one byte changed,
    /// inserted or removed, so many of them are accepted.
    #[test]
    fn accepted_inputs_are_canonical(
        v in arb_value(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        op in 0u8..3,
    ) {
        let Ok(mut bytes) = cbor::encode_value(&v) else { return Ok(()) };
        let i = pos.index(bytes.len() + 1);
        match op {
            0 => if let Some(b) = bytes.get_mut(i) { *b = byte },
            1 => bytes.insert(i, byte),
            _ => if i < bytes.len() { bytes.remove(i); },
        }
        if let Ok(decoded) = cbor::decode_value(&bytes) {
            prop_assert_eq!(cbor::encode_value(&decoded).unwrap(), bytes);
        }
    }

    /// Streams of item heads with random widths (minimal or not) and small
    /// arguments: many parse, and every one that does must be canonical.
    /// This is where non-minimal forms like `18 05` get generated.
    #[test]
    fn accepted_head_streams_are_canonical(heads in proptest::collection::vec(arb_head(), 1..12)) {
        let bytes: Vec<u8> = heads.concat();
        if let Ok(decoded) = cbor::decode_value(&bytes) {
            prop_assert_eq!(cbor::encode_value(&decoded).unwrap(), bytes);
        }
    }

    /// Random bytes never panic the decoder (nor the serde layer on top).
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(v) = cbor::decode_value(&bytes) {
            prop_assert_eq!(cbor::encode_value(&v).unwrap(), bytes.clone());
        }
        let _ = cbor::from_slice::<atoll_types::Signed<Value>>(&bytes);
        let _ = cbor::from_slice::<(u8, Option<String>, Vec<i64>)>(&bytes);
    }

    /// Random bytes behind a plausible header (arrays, maps, strings) reach
    /// deeper into the decoder.
    #[test]
    fn random_bodies_never_panic(
        head in prop::sample::select(vec![0x80u8, 0x83, 0x98, 0xa1, 0xa3, 0xb8, 0x58, 0x78, 0x9a, 0xba]),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut bytes = vec![head];
        bytes.extend_from_slice(&body);
        if let Ok(v) = cbor::decode_value(&bytes) {
            prop_assert_eq!(cbor::encode_value(&v).unwrap(), bytes);
        }
    }
}

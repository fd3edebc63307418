use atoll_types::cbor::{self, DecodeError, DecodeLimits, Value};
use atoll_types::{Namespace, Quantity};

fn decode(h: &str) -> Result<Value, DecodeError> {
    cbor::decode_value(&hex::decode(h.replace(' ', "")).unwrap())
}

#[test]
fn non_minimal_encodings() {
    for h in [
        "1817",
        "190017",
        "1a00000017",
        "1b0000000000000017",
        "3817",
        "5801 00",
        "7801 61",
        "9801 00",
        "b801 0000",
    ] {
        assert!(
            matches!(
                decode(h),
                Err(DecodeError::NonMinimalEncoding { offset: 0 })
            ),
            "{h}"
        );
    }
    assert!(matches!(
        decode("81 1800"),
        Err(DecodeError::NonMinimalEncoding { offset: 1 })
    ));
}

#[test]
fn indefinite_lengths_tags_floats_and_simple_values() {
    for h in ["5f41 00ff", "7f6161ff", "9f01ff", "bf616101ff"] {
        assert!(
            matches!(decode(h), Err(DecodeError::IndefiniteLength { .. })),
            "{h}"
        );
    }
    assert!(matches!(
        decode("c1 00"),
        Err(DecodeError::TagNotAllowed { offset: 0 })
    ));
    assert!(matches!(
        decode("d8 20 00"),
        Err(DecodeError::TagNotAllowed { .. })
    ));
    for h in ["f9 3c00", "fa 3f800000", "fb 3ff0000000000000"] {
        assert!(
            matches!(decode(h), Err(DecodeError::FloatNotAllowed { offset: 0 })),
            "{h}"
        );
    }
    assert!(
        matches!(
            decode("f7"),
            Err(DecodeError::UnsupportedSimpleValue { .. })
        ),
        "undefined"
    );
    assert!(matches!(
        decode("f0"),
        Err(DecodeError::UnsupportedSimpleValue { .. })
    ));
    assert!(matches!(
        decode("f8 ff"),
        Err(DecodeError::UnsupportedSimpleValue { .. })
    ));
    for h in ["1c", "3d", "5e", "fc"] {
        assert!(
            matches!(
                decode(h),
                Err(DecodeError::ReservedAdditionalInfo { offset: 0, .. })
            ),
            "{h}"
        );
    }
}

#[test]
fn map_key_order_and_duplicates() {
    // {"b": 1, "a": 2}: bytewise order violated.
    assert!(matches!(
        decode("a2 6162 01 6161 02"),
        Err(DecodeError::OutOfOrderKey { offset: 4 })
    ));
    // {"aa": 1, "b": 2}: a longer key before a shorter one.
    assert!(matches!(
        decode("a2 626161 01 6162 02"),
        Err(DecodeError::OutOfOrderKey { .. })
    ));
    // {"a": 1, "a": 2}.
    assert!(matches!(
        decode("a2 6161 01 6161 02"),
        Err(DecodeError::DuplicateKey { offset: 4 })
    ));
    // Correct order decodes.
    assert!(decode("a2 6161 01 6162 02").is_ok());
}

#[test]
fn truncation_at_every_prefix() {
    #[derive(serde::Serialize)]
    struct S {
        name: String,
        data: serde_bytes::ByteBuf,
        n: u64,
        list: Vec<u32>,
    }
    let bytes = cbor::to_vec(&S {
        name: "atoll".into(),
        data: serde_bytes::ByteBuf::from(vec![7; 40]),
        n: 1 << 40,
        list: vec![1, 300, 70_000],
    })
    .unwrap();
    assert!(cbor::decode_value(&bytes).is_ok());
    for cut in 0..bytes.len() {
        assert!(
            matches!(
                cbor::decode_value(&bytes[..cut]),
                Err(DecodeError::Truncated { .. })
            ),
            "prefix of {cut} bytes"
        );
    }
}

#[test]
fn trailing_bytes_and_bad_utf8() {
    assert!(matches!(
        decode("01 02"),
        Err(DecodeError::TrailingBytes { offset: 1 })
    ));
    assert!(matches!(
        decode("62 c328"),
        // The offset of the first invalid byte.
        Err(DecodeError::InvalidUtf8 { offset: 1 })
    ));
}

#[test]
fn depth_bomb_is_refused_without_recursing_deeply() {
    let bomb = vec![0x81u8; 100_000];
    assert!(matches!(
        cbor::decode_value(&bomb),
        Err(DecodeError::DepthLimitExceeded { limit: 64, .. })
    ));
    let limits = DecodeLimits {
        max_depth: 3,
        ..DecodeLimits::default()
    };
    assert!(
        cbor::decode_value_with_limits(&hex::decode("818181 01").unwrap_or_default(), &limits)
            .is_err()
    );
    assert!(cbor::decode_value_with_limits(&hex::decode("81818101").unwrap(), &limits).is_ok());
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    // A byte string, an array and a map claiming 2^64-1 items, with no data.
    for h in [
        "5bffffffffffffffff",
        "9bffffffffffffffff",
        "bbffffffffffffffff",
        "7bffffffffffffffff",
    ] {
        let r = decode(h);
        assert!(
            matches!(
                r,
                Err(DecodeError::Truncated { .. } | DecodeError::CollectionTooLarge { .. })
            ),
            "{h}: {r:?}"
        );
    }
    // An array of 2^20 + 1 items is over the collection limit before reading any.
    assert!(matches!(
        decode("9a00100001"),
        Err(DecodeError::CollectionTooLarge { .. } | DecodeError::Truncated { .. })
    ));
    let limits = DecodeLimits {
        max_collection_len: 2,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        cbor::decode_value_with_limits(&[0x83, 1, 2, 3], &limits),
        Err(DecodeError::CollectionTooLarge {
            len: 3,
            limit: 2,
            ..
        })
    ));
    let limits = DecodeLimits {
        max_input_len: 4,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        cbor::decode_value_with_limits(&[0x45, 1, 2, 3, 4, 5], &limits),
        Err(DecodeError::InputTooLarge { len: 6, limit: 4 })
    ));
}

#[test]
fn wrong_types_are_type_errors() {
    assert!(matches!(
        cbor::from_slice::<u8>(&[0x19, 0x01, 0x00]),
        Err(DecodeError::InvalidValue { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<String>(&[0x01]),
        Err(DecodeError::InvalidType { .. })
    ));
    assert!(matches!(
        cbor::from_slice::<Namespace>(&[0x41, 0x00]),
        Err(DecodeError::InvalidLength { len: 1, .. })
    ));
    // A Quantity with a leading zero byte reads as Oasis's decoders read it
    // (oasis-core's big.Int.SetBytes, the SDK's u128): this assertion was
    // "refused" before issue 27. One of 17 bytes is refused, as by the SDK.
    assert_eq!(
        cbor::from_slice::<Quantity>(&[0x42, 0x00, 0x01]).unwrap(),
        Quantity::from(1u64)
    );
    let mut long = vec![0x51];
    long.extend_from_slice(&[1; 17]);
    assert!(cbor::from_slice::<Quantity>(&long).is_err());
    // A byte array where bytes are expected.
    assert!(cbor::from_slice::<Quantity>(&[0x81, 0x01]).is_err());
}

#[test]
fn floats_cannot_be_encoded() {
    assert!(matches!(
        cbor::to_vec(&1.5f64),
        Err(cbor::EncodeError::FloatNotSupported)
    ));
    assert!(matches!(
        cbor::to_vec(&u128::MAX),
        Err(cbor::EncodeError::UnsignedOutOfRange(_))
    ));
}

//! The two error types of the codec: [`EncodeError`] and [`DecodeError`].

use std::fmt;

/// Why a value could not be encoded as canonical CBOR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Floating-point numbers are not part of atoll's CBOR profile.
    #[error("floating-point numbers cannot be encoded (atoll's CBOR forbids floats)")]
    FloatNotSupported,
    /// An `i128`/`u128` outside CBOR's native integer range
    /// (`-2^64 ..= 2^64 - 1`). Use `Quantity` for big amounts.
    #[error("integer {0} is outside the CBOR integer range -2^64..2^64-1")]
    IntegerOutOfRange(i128),
    /// A `u128` above `u64::MAX`.
    #[error("integer {0} is outside the CBOR integer range -2^64..2^64-1")]
    UnsignedOutOfRange(u128),
    /// Two map entries whose keys encode to the same bytes.
    #[error("duplicate map key (encoded as {})", hex::encode(.key))]
    DuplicateKey {
        /// The canonical encoding of the repeated key.
        key: Vec<u8>,
    },
    /// The value nests arrays and maps deeper than the encoder allows.
    #[error("value nests deeper than {limit} arrays/maps")]
    DepthLimitExceeded {
        /// The maximum nesting depth.
        limit: usize,
    },
    /// A serde `SerializeMap` was given a value before its key.
    #[error("map value serialized without a key")]
    MapValueWithoutKey,
    /// A serde `SerializeMap` ended with a key that had no value.
    #[error("map key serialized without a value")]
    MapKeyWithoutValue,
    /// An error raised by a `Serialize` implementation.
    #[error("{0}")]
    Custom(String),
}

impl serde::ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// Why bytes could not be decoded (or were refused as non-canonical).
///
/// Variants with an `offset` name the byte position in the input where the
/// offending item starts.
/// The variants after [`DecodeError::NegativeIntegerOverflow`] come from
/// mapping a well-formed CBOR value onto a Rust type with serde.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than [`DecodeLimits::max_input_len`](super::DecodeLimits).
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge {
        /// The input length.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The input ended in the middle of an item (or before any item), or an
    /// item declares more content than the input has left.
    #[error("input truncated: the item at offset {offset} runs past the end")]
    Truncated {
        /// Where the innermost incomplete item starts (the input's length if
        /// the input ended where an item should have begun).
        offset: usize,
    },
    /// Bytes remain after the single top-level item.
    #[error("trailing bytes after the value at offset {offset}")]
    TrailingBytes {
        /// Where the first trailing byte is.
        offset: usize,
    },
    /// An integer, length or count not in its shortest form.
    #[error("non-minimal integer or length encoding at offset {offset}")]
    NonMinimalEncoding {
        /// Where the item starts.
        offset: usize,
    },
    /// An indefinite-length byte string, text string, array or map.
    #[error("indefinite-length item at offset {offset}")]
    IndefiniteLength {
        /// Where the item starts.
        offset: usize,
    },
    /// A "break" stop code outside any indefinite-length item.
    #[error("unexpected break code at offset {offset}")]
    UnexpectedBreak {
        /// Where the byte is.
        offset: usize,
    },
    /// A semantic tag (major type 6); atoll's CBOR has none.
    #[error("tagged item at offset {offset} (tags are not allowed)")]
    TagNotAllowed {
        /// Where the tag starts.
        offset: usize,
    },
    /// A half, single or double precision float.
    #[error("floating-point number at offset {offset} (floats are not allowed)")]
    FloatNotAllowed {
        /// Where the float starts.
        offset: usize,
    },
    /// A simple value other than `false`, `true` and `null` (e.g. `undefined`).
    #[error("unsupported simple value {value} at offset {offset}")]
    UnsupportedSimpleValue {
        /// Where the item starts.
        offset: usize,
        /// The simple value's number (23 is `undefined`).
        value: u8,
    },
    /// Additional information 28, 29 or 30 (reserved), or 31 on an integer.
    #[error("reserved additional information {info} at offset {offset}")]
    ReservedAdditionalInfo {
        /// Where the item starts.
        offset: usize,
        /// The additional information value (low 5 bits of the initial byte).
        info: u8,
    },
    /// A text string that is not valid UTF-8.
    #[error("invalid UTF-8 in text string at offset {offset}")]
    InvalidUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// A map key that sorts before the previous key (canonical order is
    /// shorter encoded key first, then bytewise).
    #[error("map key at offset {offset} is out of canonical order")]
    OutOfOrderKey {
        /// Where the key starts.
        offset: usize,
    },
    /// A map key equal to the previous one.
    #[error("duplicate map key at offset {offset}")]
    DuplicateKey {
        /// Where the repeated key starts.
        offset: usize,
    },
    /// Arrays and maps nested deeper than the limit.
    #[error("nesting deeper than {limit} arrays/maps at offset {offset}")]
    DepthLimitExceeded {
        /// Where the container that went too deep starts.
        offset: usize,
        /// The configured limit.
        limit: usize,
    },
    /// An array or map declaring more items than the limit.
    #[error("collection at offset {offset} declares {len} items, limit is {limit}")]
    CollectionTooLarge {
        /// Where the collection starts.
        offset: usize,
        /// The declared number of items (entries, for maps).
        len: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A negative CBOR integer `-1 - n` that does not fit in an `i64`.
    #[error("negative integer -1-{n} does not fit in a 64-bit signed integer")]
    NegativeIntegerOverflow {
        /// The encoded argument (the value is `-1 - n`).
        n: u64,
    },
    /// A Rust type asked for a float; atoll's CBOR has none.
    #[error("floating-point types cannot be decoded (atoll's CBOR forbids floats)")]
    FloatNotSupported,
    /// The CBOR item has the wrong type for the Rust type.
    #[error("invalid type: {unexpected}, expected {expected}")]
    InvalidType {
        /// What was found.
        unexpected: String,
        /// What the Rust type wanted.
        expected: String,
    },
    /// The CBOR item has the right type but a value the Rust type refuses.
    #[error("invalid value: {unexpected}, expected {expected}")]
    InvalidValue {
        /// What was found.
        unexpected: String,
        /// What the Rust type wanted.
        expected: String,
    },
    /// A sequence, map or byte string of the wrong length.
    #[error("invalid length {len}, expected {expected}")]
    InvalidLength {
        /// The length found.
        len: usize,
        /// What the Rust type wanted.
        expected: String,
    },
    /// An enum variant name the Rust type does not know.
    #[error("unknown variant `{variant}`")]
    UnknownVariant {
        /// The name found.
        variant: String,
    },
    /// A struct field the Rust type does not know (only for types with
    /// `#[serde(deny_unknown_fields)]`; others ignore unknown fields).
    #[error("unknown field `{field}`")]
    UnknownField {
        /// The name found.
        field: String,
    },
    /// A required struct field is absent.
    #[error("missing field `{field}`")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// A struct field given twice.
    #[error("duplicate field `{field}`")]
    DuplicateField {
        /// The field's name.
        field: &'static str,
    },
    /// [`from_slice_canonical`](super::from_slice_canonical): the decoded value
    /// re-encodes to different bytes (absent default fields, unknown fields,
    /// ...), so the input is not the one canonical encoding of its value.
    #[error(
        "input is not the canonical encoding of its value (first difference at offset {offset})"
    )]
    NonCanonical {
        /// The first offset at which input and re-encoding differ.
        offset: usize,
    },
    /// [`from_slice_canonical`](super::from_slice_canonical): the decoded value
    /// could not be encoded again.
    #[error("decoded value could not be re-encoded: {0}")]
    ReEncode(EncodeError),
    /// An error raised by a `Deserialize` implementation.
    #[error("{0}")]
    Custom(String),
}

impl serde::de::Error for DecodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }

    fn invalid_type(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        Self::InvalidType {
            unexpected: unexp.to_string(),
            expected: exp.to_string(),
        }
    }

    fn invalid_value(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        Self::InvalidValue {
            unexpected: unexp.to_string(),
            expected: exp.to_string(),
        }
    }

    fn invalid_length(len: usize, exp: &dyn serde::de::Expected) -> Self {
        Self::InvalidLength {
            len,
            expected: exp.to_string(),
        }
    }

    fn unknown_variant(variant: &str, _expected: &'static [&'static str]) -> Self {
        Self::UnknownVariant {
            variant: variant.to_owned(),
        }
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self::UnknownField {
            field: field.to_owned(),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self::MissingField { field }
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::DuplicateField { field }
    }
}

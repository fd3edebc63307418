//! Encoding and decoding errors.

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Two map entries have the same key.
    #[error("map has a duplicate key")]
    DuplicateKey,
    /// Floats are not part of atoll's data model (consensus must not depend
    /// on floating point).
    #[error("floating-point numbers cannot be encoded")]
    Float,
    /// An integer outside the 64-bit range CBOR integers cover here (use
    /// `Quantity` for token amounts).
    #[error("integer out of range: {0}")]
    IntegerOutOfRange(String),
    /// Anything else a `Serialize` implementation reported.
    #[error("{0}")]
    Custom(String),
}

impl serde::ser::Error for EncodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Custom(msg.to_string())
    }
}

/// Why bytes were refused by the decoder. Offsets are byte positions in the
/// input where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("input truncated at byte {offset}")]
    Truncated {
        /// Where more bytes were needed.
        offset: usize,
    },
    /// Bytes follow the (single) top-level value.
    #[error("{count} trailing bytes after the value at byte {offset}")]
    TrailingBytes {
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        count: usize,
    },
    /// An integer or length not in its shortest form.
    #[error("non-minimal integer or length encoding at byte {offset}")]
    NonMinimal {
        /// Where.
        offset: usize,
    },
    /// An indefinite-length item.
    #[error("indefinite-length item at byte {offset}")]
    IndefiniteLength {
        /// Where.
        offset: usize,
    },
    /// A tag (tags are not part of atoll's data model).
    #[error("tag at byte {offset}")]
    Tag {
        /// Where.
        offset: usize,
    },
    /// A floating-point number.
    #[error("floating-point number at byte {offset}")]
    Float {
        /// Where.
        offset: usize,
    },
    /// A simple value other than false, true and null (including `undefined`).
    #[error("unsupported simple value at byte {offset}")]
    UnsupportedSimple {
        /// Where.
        offset: usize,
    },
    /// Additional information 28-30, reserved by the CBOR specification.
    #[error("reserved additional information at byte {offset}")]
    Reserved {
        /// Where.
        offset: usize,
    },
    /// A text string that is not UTF-8.
    #[error("invalid UTF-8 in text string at byte {offset}")]
    InvalidUtf8 {
        /// Where the string starts.
        offset: usize,
    },
    /// Map keys out of canonical order.
    #[error("map keys out of canonical order at byte {offset}")]
    UnsortedKeys {
        /// Where the out-of-order key starts.
        offset: usize,
    },
    /// A map key that appears twice.
    #[error("duplicate map key at byte {offset}")]
    DuplicateKey {
        /// Where the repeated key starts.
        offset: usize,
    },
    /// Nesting deeper than the limit.
    #[error("nesting deeper than {limit} at byte {offset}")]
    TooDeep {
        /// Where.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A collection larger than the limit.
    #[error("collection of {len} items exceeds the limit of {limit} at byte {offset}")]
    TooLong {
        /// Where.
        offset: usize,
        /// Declared number of items.
        len: u64,
        /// The limit.
        limit: usize,
    },
    /// Input larger than the limit.
    #[error("input of {len} bytes exceeds the limit of {limit}")]
    InputTooLarge {
        /// Input size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes decode, but not to the expected type.
    #[error("{0}")]
    Type(String),
    /// The bytes decode to the type, but re-encode differently: the input was
    /// not the canonical encoding of the value (for example it carried an
    /// unknown field, or spelled out a default that the encoder omits).
    #[error("not the canonical encoding of the value")]
    NotCanonical,
}

impl serde::de::Error for DecodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self::Type(msg.to_string())
    }
}

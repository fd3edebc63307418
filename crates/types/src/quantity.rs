//! Token amounts: [`Quantity`].

use std::fmt;
use std::str::FromStr;

/// Most bytes a [`Quantity`] takes in its binary form (a `u128`).
pub const QUANTITY_MAX_BYTES: usize = 16;

/// An amount of tokens in base units.
///
/// This is Oasis's `quantity.Quantity`, also the SDK's `u128` amounts. It is
/// a non-negative integer below 2^128. All arithmetic is checked.
///
/// - In CBOR (and other binary formats) it is a byte string holding the
///   big-endian value with no leading zero bytes, so zero is the empty byte
///   string. The decoder reads leading zero bytes as Oasis's decoders do
///   (oasis-core's `big.Int.SetBytes`, the runtime SDK's `u128`), and, as
///   the SDK, refuses anything longer than 16 bytes. Where one encoding per
///   value matters (signed bodies), the canonical check refuses them.
/// - In JSON (and other human-readable formats) it is written as a decimal
///   string such as `"1000000000"`; a plain JSON number below 2^64 is also
///   read, for hand-written genesis files.
///
/// ```
/// use atoll_types::{Quantity, cbor};
///
/// let q = Quantity::from(256u64);
/// assert_eq!(cbor::to_vec(&q)?, [0x42, 0x01, 0x00]);
/// assert_eq!(q.checked_add(Quantity::from(1u64)), Some(Quantity::from(257u64)));
/// assert_eq!(Quantity::ZERO.checked_sub(q), None);
/// assert_eq!("256".parse::<Quantity>()?, q);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub u128);

/// Error parsing a [`Quantity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The binary form started with a zero byte (zero is the empty string).
    #[error("quantity has a leading zero byte")]
    LeadingZero,
    /// The binary form was longer than 16 bytes.
    #[error("quantity of {0} bytes exceeds the 16-byte maximum")]
    TooLong(usize),
    /// The text form was not a decimal number below 2^128.
    #[error("invalid decimal quantity `{0}`")]
    InvalidDecimal(String),
}

impl Quantity {
    /// Zero.
    pub const ZERO: Self = Self(0);
    /// The largest quantity, 2^128 - 1.
    pub const MAX: Self = Self(u128::MAX);

    /// The amount in base units.
    pub const fn value(self) -> u128 {
        self.0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + rhs`, or `None` on overflow.
    pub const fn checked_add(self, rhs: Self) -> Option<Self> {
        match self.0.checked_add(rhs.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` if `rhs` is larger.
    pub const fn checked_sub(self, rhs: Self) -> Option<Self> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self * n` (an amount times a scalar), or `None` on overflow.
    pub const fn checked_mul(self, n: u128) -> Option<Self> {
        match self.0.checked_mul(n) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self / n` rounded down, or `None` if `n` is zero.
    pub const fn checked_div(self, n: u128) -> Option<Self> {
        match self.0.checked_div(n) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// The binary form: big-endian, no leading zero bytes (empty for zero).
    pub fn to_be_bytes_minimal(self) -> Vec<u8> {
        let bytes = self.0.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        bytes.iter().skip(skip).copied().collect()
    }

    /// Parses the binary form, refusing leading zero bytes and more than 16
    /// bytes.
    pub fn from_be_bytes_minimal(bytes: &[u8]) -> Result<Self, QuantityError> {
        if bytes.len() > QUANTITY_MAX_BYTES {
            return Err(QuantityError::TooLong(bytes.len()));
        }
        if bytes.first() == Some(&0) {
            return Err(QuantityError::LeadingZero);
        }
        Self::from_be_bytes(bytes)
    }

    /// Parses big-endian bytes as Oasis's decoders read a quantity: leading
    /// zero bytes allowed, at most 16 bytes in all.
    pub fn from_be_bytes(bytes: &[u8]) -> Result<Self, QuantityError> {
        if bytes.len() > QUANTITY_MAX_BYTES {
            return Err(QuantityError::TooLong(bytes.len()));
        }
        Ok(Self(
            bytes
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b)),
        ))
    }
}

impl From<u64> for Quantity {
    fn from(v: u64) -> Self {
        Self(u128::from(v))
    }
}

impl From<u128> for Quantity {
    fn from(v: u128) -> Self {
        Self(v)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({})", self.0)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    /// Parses ASCII decimal digits only (no sign, no spaces, not empty).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || QuantityError::InvalidDecimal(s.to_owned());
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        s.parse::<u128>().map(Self).map_err(|_| invalid())
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_bytes(&self.to_be_bytes_minimal())
        }
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity (big-endian bytes, or a decimal string)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                v.parse().map_err(|_| {
                    E::invalid_value(
                        serde::de::Unexpected::Str(v),
                        &"a decimal number below 2^128",
                    )
                })
            }

            /// JSON numbers are accepted too (hand-written genesis files);
            /// only human-readable formats ever call this.
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity::from(v))
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Quantity, E> {
                Quantity::from_be_bytes(v).map_err(|e| match e {
                    QuantityError::TooLong(n) => E::invalid_length(n, &"at most 16 bytes"),
                    _ => E::invalid_value(serde::de::Unexpected::Bytes(v), &"big-endian bytes"),
                })
            }
        }

        if d.is_human_readable() {
            d.deserialize_any(Visitor)
        } else {
            d.deserialize_bytes(Visitor)
        }
    }
}

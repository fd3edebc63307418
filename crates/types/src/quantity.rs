//! Token amounts.

use std::fmt;
use std::str::FromStr;

/// A token amount in base units.
///
/// In CBOR it is a byte string holding the big-endian value without leading
/// zeros (zero is the empty byte string), as Oasis encodes big integers; the
/// decoder refuses leading zeros and more than 16 bytes, so each amount has
/// one encoding. In JSON it is a decimal string, since JSON numbers lose
/// precision above 2^53.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub u128);

/// Error parsing a [`Quantity`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not a decimal number, or out of range.
    #[error("invalid amount `{0}`: expected a non-negative integer below 2^128")]
    Invalid(String),
    /// A binary encoding with a leading zero byte.
    #[error("amount has a leading zero byte")]
    LeadingZero,
    /// A binary encoding longer than 16 bytes.
    #[error("amount of {0} bytes exceeds 16 bytes")]
    TooLong(usize),
}

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(0);

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// `self - other`, or `None` when `other > self`.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.0.checked_sub(other.0).map(Self)
    }

    /// `self * n`, or `None` on overflow.
    pub fn checked_mul(self, n: u128) -> Option<Self> {
        self.0.checked_mul(n).map(Self)
    }

    /// `self / n`, or `None` when `n` is zero.
    pub fn checked_div(self, n: u128) -> Option<Self> {
        self.0.checked_div(n).map(Self)
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The minimal big-endian bytes (empty for zero).
    pub fn to_be_bytes_minimal(self) -> Vec<u8> {
        let bytes = self.0.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        bytes.get(skip..).unwrap_or_default().to_vec()
    }

    /// Parses the minimal big-endian form.
    pub fn from_be_bytes_minimal(bytes: &[u8]) -> Result<Self, QuantityError> {
        if bytes.len() > 16 {
            return Err(QuantityError::TooLong(bytes.len()));
        }
        if bytes.first() == Some(&0) {
            return Err(QuantityError::LeadingZero);
        }
        let mut buf = [0u8; 16];
        buf[16 - bytes.len()..].copy_from_slice(bytes);
        Ok(Self(u128::from_be_bytes(buf)))
    }
}

impl From<u64> for Quantity {
    fn from(n: u64) -> Self {
        Self(n.into())
    }
}

impl From<u128> for Quantity {
    fn from(n: u128) -> Self {
        Self(n)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({})", self.0)
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(QuantityError::Invalid(s.to_owned()));
        }
        s.parse::<u128>()
            .map(Self)
            .map_err(|_| QuantityError::Invalid(s.to_owned()))
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.0.to_string())
        } else {
            s.serialize_bytes(&self.to_be_bytes_minimal())
        }
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token amount")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.into()))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Quantity, E> {
                Quantity::from_be_bytes_minimal(v).map_err(E::custom)
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_bytes(V)
        }
    }
}

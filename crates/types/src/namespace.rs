//! Runtime (ParaTime) identifiers.

use std::fmt;
use std::str::FromStr;

/// Size of a [`Namespace`] in bytes.
pub const NAMESPACE_SIZE: usize = 32;

/// A chain namespace: the 32-byte identifier of a runtime (ParaTime), or of
/// the consensus layer's own state in MKVS.
///
/// As in Oasis, the first 8 bytes carry flags (bit 63 set marks a test
/// runtime, bit 62 a key manager runtime) and the rest is arbitrary.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(pub [u8; NAMESPACE_SIZE]);

/// Error parsing a [`Namespace`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamespaceError {
    /// Wrong number of bytes.
    #[error("invalid namespace length: expected 32 bytes, got {0}")]
    InvalidLength(usize),
    /// Not hex.
    #[error("invalid hex in namespace")]
    InvalidHex,
}

impl Namespace {
    /// Builds a namespace from a slice, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, NamespaceError> {
        let arr: [u8; NAMESPACE_SIZE] = bytes
            .try_into()
            .map_err(|_| NamespaceError::InvalidLength(bytes.len()))?;
        Ok(Self(arr))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; NAMESPACE_SIZE] {
        &self.0
    }

    /// Lowercase hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl AsRef<[u8]> for Namespace {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({})", self.to_hex())
    }
}

impl FromStr for Namespace {
    type Err = NamespaceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|_| NamespaceError::InvalidHex)?;
        Self::from_slice(&bytes)
    }
}

/// Bytes in binary formats (CBOR), lowercase hex in human-readable ones (JSON).
impl serde::Serialize for Namespace {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Namespace {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Namespace;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 32-byte namespace")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Namespace, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Namespace, E> {
                Namespace::from_slice(v).map_err(|_| E::invalid_length(v.len(), &"32 bytes"))
            }
        }

        if d.is_human_readable() {
            d.deserialize_str(Visitor)
        } else {
            d.deserialize_bytes(Visitor)
        }
    }
}

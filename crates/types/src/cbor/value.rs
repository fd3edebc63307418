//! The CBOR data model of atoll: [`Value`].

use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap as _, SerializeSeq as _};

use super::encode::encode_value;
use super::error::EncodeError;

/// One CBOR data item, restricted to what atoll's canonical profile allows:
/// no floats, no tags, no simple values besides `false`, `true` and `null`.
///
/// [`Value::Map`] entries are in canonical order (see [`canonical_key_order`])
/// whenever the value comes from the decoder or the serde serializer. A map
/// built by hand may be in any order: the encoder sorts it, and
/// [`Value::canonicalize`] sorts it in place.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Major type 0: an unsigned integer.
    Unsigned(u64),
    /// Major type 1: the negative integer `-1 - n`.
    Negative(u64),
    /// Major type 2: a byte string.
    Bytes(Vec<u8>),
    /// Major type 3: a UTF-8 text string.
    Text(String),
    /// Major type 4: an array.
    Array(Vec<Value>),
    /// Major type 5: a map, as a list of entries.
    Map(Vec<(Value, Value)>),
    /// `false` or `true` (simple values 20 and 21).
    Bool(bool),
    /// `null` (simple value 22).
    Null,
}

/// Compares two **encoded** map keys in RFC 7049 §3.9 canonical order:
/// the shorter encoding first, then bytewise. This is the order Oasis's
/// encoder (fxamacker/cbor `SortCanonical`) writes map keys in.
pub fn canonical_key_order(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Sorts map entries into canonical key order; errors on duplicate keys.
pub(crate) fn sort_entries(
    mut entries: Vec<(Value, Value)>,
) -> Result<Vec<(Value, Value)>, EncodeError> {
    if entries.iter().all(|(k, _)| matches!(k, Value::Text(_))) {
        // The usual case (struct fields): a text key's encoding is a head
        // that grows with the length, then the UTF-8 bytes, so the canonical
        // order is (length, bytes) of the text itself. No encoding needed.
        entries.sort_by(|(a, _), (b, _)| match (a, b) {
            (Value::Text(a), Value::Text(b)) => canonical_key_order(a.as_bytes(), b.as_bytes()),
            _ => Ordering::Equal,
        });
        if let Some(pair) = entries.windows(2).find(|w| match w {
            [(a, _), (b, _)] => a == b,
            _ => false,
        }) && let Some((key, _)) = pair.first()
        {
            return Err(EncodeError::DuplicateKey {
                key: encode_value(key)?,
            });
        }
        return Ok(entries);
    }
    let mut keyed = entries
        .into_iter()
        .map(|(k, v)| Ok((encode_value(&k)?, k, v)))
        .collect::<Result<Vec<_>, EncodeError>>()?;
    keyed.sort_by(|a, b| canonical_key_order(&a.0, &b.0));
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(keyed.len());
    let mut prev: Option<Vec<u8>> = None;
    for (enc, k, v) in keyed {
        if prev.as_deref() == Some(enc.as_slice()) {
            return Err(EncodeError::DuplicateKey { key: enc });
        }
        prev = Some(enc);
        out.push((k, v));
    }
    Ok(out)
}

impl Value {
    /// Builds a map from entries in any order, sorting them canonically.
    /// Errors if two keys are equal.
    pub fn map<I: IntoIterator<Item = (Value, Value)>>(entries: I) -> Result<Self, EncodeError> {
        Ok(Self::Map(sort_entries(entries.into_iter().collect())?))
    }

    /// Returns the same value with every map (at any depth) in canonical key
    /// order. Errors if a map has two equal keys.
    pub fn canonicalize(self) -> Result<Self, EncodeError> {
        Ok(match self {
            Self::Array(items) => Self::Array(
                items
                    .into_iter()
                    .map(Self::canonicalize)
                    .collect::<Result<_, _>>()?,
            ),
            Self::Map(entries) => Self::Map(sort_entries(
                entries
                    .into_iter()
                    .map(|(k, v)| Ok((k.canonicalize()?, v.canonicalize()?)))
                    .collect::<Result<_, EncodeError>>()?,
            )?),
            other => other,
        })
    }

    /// The integer, if this is an unsigned integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Self::Unsigned(n) => Some(*n),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Unsigned(n) => i64::try_from(*n).ok(),
            Self::Negative(n) => i64::try_from(*n).ok().map(|n| -1 - n),
            _ => None,
        }
    }

    /// The integer, if this is any integer (CBOR integers always fit an `i128`).
    pub fn as_i128(&self) -> Option<i128> {
        match self {
            Self::Unsigned(n) => Some(i128::from(*n)),
            Self::Negative(n) => Some(-1 - i128::from(*n)),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text, if this is a text string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Self::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The boolean, if this is `false` or `true`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// In a map, the value under the text key `key` (struct field lookup).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of the item's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unsigned(_) => "unsigned integer",
            Self::Negative(_) => "negative integer",
            Self::Bytes(_) => "byte string",
            Self::Text(_) => "text string",
            Self::Array(_) => "array",
            Self::Map(_) => "map",
            Self::Bool(_) => "boolean",
            Self::Null => "null",
        }
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Self::Unsigned(n)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        if n < 0 {
            // -1 - n == !n for two's complement, and !n >= 0 here.
            Self::Negative((!n).unsigned_abs())
        } else {
            Self::Unsigned(n.unsigned_abs())
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Self::Bytes(b)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Self::Bytes(b.to_vec())
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Self::Array(a)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unsigned(n) => s.serialize_u64(*n),
            Self::Negative(n) => match i64::try_from(*n) {
                Ok(n) => s.serialize_i64(-1 - n),
                Err(_) => s.serialize_i128(-1 - i128::from(*n)),
            },
            Self::Bytes(b) => s.serialize_bytes(b),
            Self::Text(t) => s.serialize_str(t),
            Self::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Null => s.serialize_unit(),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CBOR value (no floats)")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(Value::Unsigned)
            .map_err(|_| E::custom(EncodeError::UnsignedOutOfRange(v)))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        let out_of_range = || E::custom(EncodeError::IntegerOutOfRange(v));
        if v >= 0 {
            u64::try_from(v)
                .map(Value::Unsigned)
                .map_err(|_| out_of_range())
        } else {
            u64::try_from(!v)
                .map(Value::Negative)
                .map_err(|_| out_of_range())
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // The size hint comes from the input; cap the preallocation.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        // Canonical already when it comes from the CBOR decoder; other
        // formats (JSON) may give any order.
        sort_entries(entries)
            .map(Value::Map)
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory bound documented on `DecodeLimits` assumes this size.
    #[test]
    fn value_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn accessors() {
        let v = Value::map([
            (Value::from("n"), Value::from(-5i64)),
            (Value::from("b"), Value::from(vec![1u8])),
        ])
        .unwrap();
        assert_eq!(v.get("n").and_then(Value::as_i64), Some(-5));
        assert_eq!(v.get("b").and_then(Value::as_bytes), Some(&[1u8][..]));
        assert_eq!(v.get("x"), None);
        assert_eq!(Value::Negative(u64::MAX).as_i64(), None);
        assert_eq!(
            Value::Negative(u64::MAX).as_i128(),
            Some(-1 - i128::from(u64::MAX))
        );
        assert_eq!(
            Value::from(i64::MIN),
            Value::Negative(i64::MAX.unsigned_abs())
        );
        assert_eq!(Value::Unsigned(u64::MAX).as_i64(), None);
        assert!(Value::Null.is_null());
        assert_eq!(Value::Bool(true).as_bool(), Some(true));
        assert_eq!(Value::Array(vec![]).kind(), "array");
    }
}

//! serde deserialization from [`Value`].
//!
//! The mapping is the inverse of the serializer's (see [`super::ser`]), and
//! strict: each serde type accepts only the CBOR type it would be encoded as.
//! A struct must be a map keyed by text (not an array, not integer keys), a
//! byte field must be a byte string (not an array of integers), a unit enum
//! variant must be its name as text, and so on. Sequences and maps must be
//! consumed entirely.
//!
//! Unknown struct fields are ignored, as serde does by default, so newer
//! encoders stay readable; types that must refuse them use
//! `#[serde(deny_unknown_fields)]`, and signed bodies are decoded with
//! [`from_slice_canonical`](super::from_slice_canonical), which refuses any
//! input that does not re-encode to itself.

use serde::de::{
    self, DeserializeSeed, Deserializer as _, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};

use super::error::DecodeError;
use super::value::Value;

/// Converts a [`Value`] into any `DeserializeOwned` type.
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T, DecodeError> {
    T::deserialize(value)
}

impl Value {
    fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Self::Unsigned(n) => Unexpected::Unsigned(*n),
            Self::Negative(n) => match i64::try_from(*n) {
                Ok(n) => Unexpected::Signed(-1 - n),
                Err(_) => Unexpected::Other("negative integer"),
            },
            Self::Bytes(b) => Unexpected::Bytes(b),
            Self::Text(s) => Unexpected::Str(s),
            Self::Array(_) => Unexpected::Seq,
            Self::Map(_) => Unexpected::Map,
            Self::Bool(b) => Unexpected::Bool(*b),
            Self::Null => Unexpected::Unit,
        }
    }

    fn invalid_type(&self, exp: &dyn Expected) -> DecodeError {
        de::Error::invalid_type(self.unexpected(), exp)
    }
}

fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    visitor: V,
) -> Result<V::Value, DecodeError> {
    let len = items.len();
    let mut seq = SeqDeserializer {
        iter: items.into_iter(),
    };
    let out = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements in array"))
    }
}

fn visit_map<'de, V: Visitor<'de>>(
    entries: Vec<(Value, Value)>,
    visitor: V,
) -> Result<V::Value, DecodeError> {
    let len = entries.len();
    let mut map = MapDeserializer {
        iter: entries.into_iter(),
        value: None,
    };
    let out = visitor.visit_map(&mut map)?;
    if map.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer entries in map"))
    }
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = DecodeError;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Unsigned(n) => visitor.visit_u64(n),
            Value::Negative(n) => match i64::try_from(n) {
                Ok(n) => visitor.visit_i64(-1 - n),
                // Below i64::MIN: only an i128 can hold it.
                Err(_) => visitor.visit_i128(-1 - i128::from(n)),
            },
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Text(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, visitor),
            Value::Map(entries) => visit_map(entries, visitor),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Null => visitor.visit_unit(),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Unsigned(n) => visitor.visit_i128(i128::from(n)),
            Value::Negative(n) => visitor.visit_i128(-1 - i128::from(n)),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_integer(visitor)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Unsigned(n) => visitor.visit_u128(u128::from(n)),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DecodeError> {
        Err(DecodeError::FloatNotSupported)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DecodeError> {
        Err(DecodeError::FloatNotSupported)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Text(s) => visitor.visit_string(s),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Array(items) => visit_array(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Value::Map(entries) => visit_map(entries, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self {
            Value::Text(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Map(entries) => {
                let len = entries.len();
                let mut iter = entries.into_iter();
                match (iter.next(), iter.next()) {
                    (Some((Value::Text(variant), content)), None) => {
                        visitor.visit_enum(EnumDeserializer {
                            variant,
                            content: Some(content),
                        })
                    }
                    (Some((key, _)), None) => Err(key.invalid_type(&"a variant name")),
                    _ => Err(de::Error::invalid_length(len, &"a map with one entry")),
                }
            }
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        // Field and variant names only: serde's derive would also take
        // integers as field indices, which would give one struct two
        // encodings.
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        drop(self);
        visitor.visit_unit()
    }
}

impl Value {
    fn deserialize_integer<'de, V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self {
            Value::Unsigned(n) => visitor.visit_u64(n),
            Value::Negative(n) => match i64::try_from(n) {
                Ok(n) => visitor.visit_i64(-1 - n),
                Err(_) => Err(DecodeError::NegativeIntegerOverflow { n }),
            },
            other => Err(other.invalid_type(&visitor)),
        }
    }
}

struct SeqDeserializer {
    iter: std::vec::IntoIter<Value>,
}

impl<'de> SeqAccess<'de> for SeqDeserializer {
    type Error = DecodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        self.iter.next().map(|v| seed.deserialize(v)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDeserializer {
    iter: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for MapDeserializer {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let value = self.value.take().ok_or_else(|| {
            <DecodeError as de::Error>::custom("map value requested before its key")
        })?;
        seed.deserialize(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumDeserializer {
    variant: String,
    content: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = DecodeError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeserializer), DecodeError> {
        let variant = seed.deserialize(IntoDeserializer::<DecodeError>::into_deserializer(
            self.variant,
        ))?;
        Ok((
            variant,
            VariantDeserializer {
                content: self.content,
            },
        ))
    }
}

/// The content of an enum variant: `None` for the text (unit) form, `Some`
/// for the `{ "variant": content }` form.
struct VariantDeserializer {
    content: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        match self.content {
            None => Ok(()),
            // `{ "variant": null }` is not the encoding of a unit variant.
            Some(content) => Err(content.invalid_type(&"a unit variant as a text string")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        match self.content {
            Some(content) => seed.deserialize(content),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.content {
            Some(content) => content.deserialize_seq(visitor),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.content {
            Some(content) => content.deserialize_map(visitor),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a struct variant",
            )),
        }
    }
}

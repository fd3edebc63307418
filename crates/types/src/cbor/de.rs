//! serde deserializer reading from a [`Value`].

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use super::error::DecodeError;
use super::value::Value;

/// Converts a [`Value`] into any `DeserializeOwned` type.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, DecodeError> {
    T::deserialize(ValueDeserializer(value))
}

/// The deserializer. Binary (not human-readable), like the serializer.
pub struct ValueDeserializer(pub Value);

impl<'de> IntoDeserializer<'de, DecodeError> for ValueDeserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = DecodeError;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Unsigned(n) => visitor.visit_u64(n),
            Value::Negative(n) => match i64::try_from(n) {
                // -1 - n, which fits an i64 whenever n does.
                Ok(m) => visitor.visit_i64(-1 - m),
                Err(_) => visitor.visit_i128(-1 - i128::from(n)),
            },
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Text(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(SeqAccess(items.into_iter())),
            Value::Map(entries) => visitor.visit_map(MapAccess {
                iter: entries.into_iter(),
                value: None,
            }),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Null => visitor.visit_unit(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(ValueDeserializer(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Value::Text(variant) => visitor.visit_enum(EnumAccess {
                variant,
                content: None,
            }),
            Value::Map(entries) if entries.len() == 1 => {
                let mut it = entries.into_iter();
                match it.next() {
                    Some((Value::Text(variant), content)) => visitor.visit_enum(EnumAccess {
                        variant,
                        content: Some(content),
                    }),
                    _ => Err(DecodeError::Type(
                        "enum variant must be named by a text key".into(),
                    )),
                }
            }
            other => Err(DecodeError::Type(format!(
                "expected an enum (text or single-entry map), found {}",
                other.kind()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct SeqAccess(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for SeqAccess {
    type Error = DecodeError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DecodeError> {
        match self.0.next() {
            Some(v) => seed.deserialize(ValueDeserializer(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapAccess {
    iter: std::vec::IntoIter<(Value, Value)>,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for MapAccess {
    type Error = DecodeError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(ValueDeserializer(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DecodeError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| DecodeError::Type("map value requested before its key".into()))?;
        seed.deserialize(ValueDeserializer(v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumAccess {
    variant: String,
    content: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = DecodeError;
    type Variant = VariantAccess;

    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantAccess), DecodeError> {
        let v = seed.deserialize(ValueDeserializer(Value::Text(self.variant)))?;
        Ok((v, VariantAccess(self.content)))
    }
}

struct VariantAccess(Option<Value>);

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = DecodeError;

    fn unit_variant(self) -> Result<(), DecodeError> {
        match self.0 {
            None => Ok(()),
            Some(_) => Err(DecodeError::Type(
                "unit variant written with content".into(),
            )),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DecodeError> {
        match self.0 {
            Some(v) => seed.deserialize(ValueDeserializer(v)),
            None => Err(DecodeError::Type(
                "newtype variant written without content".into(),
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Some(Value::Array(items)) => visitor.visit_seq(SeqAccess(items.into_iter())),
            _ => Err(DecodeError::Type("tuple variant must hold an array".into())),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            Some(Value::Map(entries)) => visitor.visit_map(MapAccess {
                iter: entries.into_iter(),
                value: None,
            }),
            _ => Err(DecodeError::Type("struct variant must hold a map".into())),
        }
    }
}

//! serde serialization into [`Value`].
//!
//! The serde data model maps onto CBOR as follows:
//!
//! | serde | CBOR |
//! |---|---|
//! | `bool` | `false` / `true` |
//! | integers (`i128`/`u128` only within `-2^64 ..= 2^64-1`) | major type 0 or 1 |
//! | `f32`, `f64` | refused ([`EncodeError::FloatNotSupported`]) |
//! | `char`, `str` | text string |
//! | bytes (`serde_bytes`, the crypto types) | byte string |
//! | `None`, `()`, unit struct | `null` |
//! | `Some(v)`, newtype struct | `v` itself |
//! | seq, tuple, tuple struct | array |
//! | map | map (keys sorted canonically, duplicates refused) |
//! | struct | map keyed by field names |
//! | unit variant | the variant name as text |
//! | newtype/tuple/struct variant | `{ "variant": content }` |

use serde::ser::{self, Serialize};

use super::encode::MAX_ENCODE_DEPTH;
use super::error::EncodeError;
use super::value::{Value, sort_entries};

/// Converts any `Serialize` value into a [`Value`], with every map in
/// canonical key order.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, EncodeError> {
    value.serialize(Serializer { depth: 0 })
}

/// A serde serializer whose output is a [`Value`]. Reports
/// `is_human_readable() == false`, so types with a binary form (hashes, keys,
/// [`Quantity`](crate::Quantity)) use it.
#[derive(Debug, Clone, Copy)]
pub struct Serializer {
    depth: usize,
}

impl Serializer {
    /// A serializer for a top-level value.
    pub const fn new() -> Self {
        Self { depth: 0 }
    }

    /// The serializer for an item inside a container at this serializer's
    /// level; fails when that would nest too deep.
    fn child(self) -> Result<Self, EncodeError> {
        if self.depth >= MAX_ENCODE_DEPTH {
            Err(EncodeError::DepthLimitExceeded {
                limit: MAX_ENCODE_DEPTH,
            })
        } else {
            Ok(Self {
                depth: self.depth + 1,
            })
        }
    }
}

impl Default for Serializer {
    fn default() -> Self {
        Self::new()
    }
}

fn variant_map(variant: &str, content: Value) -> Value {
    Value::Map(vec![(Value::Text(variant.to_owned()), content)])
}

impl ser::Serializer for Serializer {
    type Ok = Value;
    type Error = EncodeError;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = SeqSerializer;
    type SerializeMap = MapSerializer;
    type SerializeStruct = MapSerializer;
    type SerializeStructVariant = MapSerializer;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<Value, EncodeError> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, EncodeError> {
        Ok(Value::from(i64::from(v)))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, EncodeError> {
        Ok(Value::from(i64::from(v)))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, EncodeError> {
        Ok(Value::from(i64::from(v)))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, EncodeError> {
        Ok(Value::from(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, EncodeError> {
        let out_of_range = |_| EncodeError::IntegerOutOfRange(v);
        if v >= 0 {
            u64::try_from(v).map(Value::Unsigned).map_err(out_of_range)
        } else {
            // -1 - v == !v, which is >= 0 here.
            u64::try_from(!v).map(Value::Negative).map_err(out_of_range)
        }
    }

    fn serialize_u8(self, v: u8) -> Result<Value, EncodeError> {
        Ok(Value::Unsigned(u64::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, EncodeError> {
        Ok(Value::Unsigned(u64::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, EncodeError> {
        Ok(Value::Unsigned(u64::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, EncodeError> {
        Ok(Value::Unsigned(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, EncodeError> {
        u64::try_from(v)
            .map(Value::Unsigned)
            .map_err(|_| EncodeError::UnsignedOutOfRange(v))
    }

    fn serialize_f32(self, _v: f32) -> Result<Value, EncodeError> {
        Err(EncodeError::FloatNotSupported)
    }

    fn serialize_f64(self, _v: f64) -> Result<Value, EncodeError> {
        Err(EncodeError::FloatNotSupported)
    }

    fn serialize_char(self, v: char) -> Result<Value, EncodeError> {
        Ok(Value::Text(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, EncodeError> {
        Ok(Value::Text(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, EncodeError> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, EncodeError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, EncodeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, EncodeError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, EncodeError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, EncodeError> {
        Ok(Value::Text(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, EncodeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, EncodeError> {
        let content = value.serialize(self.child()?)?;
        Ok(variant_map(variant, content))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer, EncodeError> {
        Ok(SeqSerializer {
            child: self.child()?,
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer, EncodeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, EncodeError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSerializer, EncodeError> {
        // The array sits inside the one-entry variant map.
        let mut seq = self.child()?.serialize_seq(Some(len))?;
        seq.variant = Some(variant);
        Ok(seq)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapSerializer, EncodeError> {
        Ok(MapSerializer {
            child: self.child()?,
            entries: Vec::with_capacity(len.unwrap_or(0)),
            pending_key: None,
            variant: None,
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<MapSerializer, EncodeError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapSerializer, EncodeError> {
        let mut map = self.child()?.serialize_map(Some(len))?;
        map.variant = Some(variant);
        Ok(map)
    }
}

/// Builds an array (for sequences, tuples and tuple variants).
#[derive(Debug)]
pub struct SeqSerializer {
    child: Serializer,
    items: Vec<Value>,
    variant: Option<&'static str>,
}

impl SeqSerializer {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.items.push(value.serialize(self.child)?);
        Ok(())
    }

    fn finish(self) -> Result<Value, EncodeError> {
        let array = Value::Array(self.items);
        Ok(match self.variant {
            Some(variant) => variant_map(variant, array),
            None => array,
        })
    }
}

seq_traits!(SeqSerializer, Value);

/// Builds a map (for maps, structs and struct variants), sorting its keys
/// canonically at the end.
#[derive(Debug)]
pub struct MapSerializer {
    child: Serializer,
    entries: Vec<(Value, Value)>,
    pending_key: Option<Value>,
    variant: Option<&'static str>,
}

impl MapSerializer {
    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        let value = value.serialize(self.child)?;
        self.entries.push((Value::Text(key.to_owned()), value));
        Ok(())
    }

    fn finish(self) -> Result<Value, EncodeError> {
        if self.pending_key.is_some() {
            return Err(EncodeError::MapKeyWithoutValue);
        }
        let map = Value::Map(sort_entries(self.entries)?);
        Ok(match self.variant {
            Some(variant) => variant_map(variant, map),
            None => map,
        })
    }
}

impl ser::SerializeMap for MapSerializer {
    type Ok = Value;
    type Error = EncodeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        if self.pending_key.is_some() {
            return Err(EncodeError::MapKeyWithoutValue);
        }
        self.pending_key = Some(key.serialize(self.child)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let key = self
            .pending_key
            .take()
            .ok_or(EncodeError::MapValueWithoutKey)?;
        let value = value.serialize(self.child)?;
        self.entries.push((key, value));
        Ok(())
    }

    fn end(self) -> Result<Value, EncodeError> {
        self.finish()
    }
}

struct_traits!(MapSerializer, Value);

//! serde serialization straight to canonical CBOR bytes.
//!
//! [`to_vec`](super::to_vec) uses this writer: it produces exactly the bytes
//! of `encode_value(&to_value(v)?)` (the serde mapping of [`ser`](super::ser)
//! written by the canonical encoder), with the same errors, but without
//! building a [`Value`](super::Value) tree first. Scalars, strings and byte
//! strings are written in place. An array is written in place when serde
//! gives its length (and patched if the length was wrong); otherwise its items
//! are gathered first. A map's entries are written to a buffer of their own
//! and copied out in canonical key order (shorter encoding first, then
//! bytewise), a repeated key being an error, as in the encoder.

use serde::ser::{self, Serialize};

use super::encode::{
    FALSE, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NEGATIVE, MAJOR_TEXT, MAJOR_UNSIGNED,
    MAX_ENCODE_DEPTH, NULL, TRUE, write_head,
};
use super::error::EncodeError;
use super::value::canonical_key_order;

/// Encodes `value` as canonical CBOR into `out`.
pub(crate) fn write<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), EncodeError> {
    value.serialize(Writer { out, depth: 0 })
}

/// `usize` to `u64`; lossless on every platform Rust supports (≤ 64 bits).
fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

fn text(out: &mut Vec<u8>, s: &str) {
    write_head(out, MAJOR_TEXT, len_u64(s.len()));
    out.extend_from_slice(s.as_bytes());
}

/// Fails when a container would sit inside `depth` others and that is at
/// the limit (the encoder's rule).
fn enter(depth: usize) -> Result<usize, EncodeError> {
    if depth >= MAX_ENCODE_DEPTH {
        Err(EncodeError::DepthLimitExceeded {
            limit: MAX_ENCODE_DEPTH,
        })
    } else {
        Ok(depth + 1)
    }
}

/// Writes one value into `out`; `depth` containers enclose it.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
}

impl<'a> Writer<'a> {
    /// Opens the one-entry map `{variant: ...}` of an externally tagged
    /// variant and returns the depth of its content.
    fn variant(&mut self, variant: &str) -> Result<usize, EncodeError> {
        let inner = enter(self.depth)?;
        write_head(self.out, MAJOR_MAP, 1);
        text(self.out, variant);
        Ok(inner)
    }

    fn seq(self, len: Option<usize>) -> Result<SeqWriter<'a>, EncodeError> {
        let inner = enter(self.depth)?;
        Ok(SeqWriter::new(self.out, inner, len))
    }

    fn map(self, len: Option<usize>) -> Result<MapWriter<'a>, EncodeError> {
        let inner = enter(self.depth)?;
        Ok(MapWriter {
            out: self.out,
            depth: inner,
            buf: Vec::new(),
            entries: Vec::with_capacity(len.unwrap_or(0)),
            pending_key: None,
        })
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = SeqWriter<'a>;
    type SerializeTuple = SeqWriter<'a>;
    type SerializeTupleStruct = SeqWriter<'a>;
    type SerializeTupleVariant = SeqWriter<'a>;
    type SerializeMap = MapWriter<'a>;
    type SerializeStruct = MapWriter<'a>;
    type SerializeStructVariant = MapWriter<'a>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), EncodeError> {
        self.out.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), EncodeError> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), EncodeError> {
        match u64::try_from(v) {
            Ok(u) => write_head(self.out, MAJOR_UNSIGNED, u),
            // -1 - v == !v, which is >= 0 here.
            Err(_) => write_head(self.out, MAJOR_NEGATIVE, (!v).unsigned_abs()),
        }
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), EncodeError> {
        let out_of_range = |_| EncodeError::IntegerOutOfRange(v);
        if v >= 0 {
            let u = u64::try_from(v).map_err(out_of_range)?;
            write_head(self.out, MAJOR_UNSIGNED, u);
        } else {
            let n = u64::try_from(!v).map_err(out_of_range)?;
            write_head(self.out, MAJOR_NEGATIVE, n);
        }
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), EncodeError> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), EncodeError> {
        write_head(self.out, MAJOR_UNSIGNED, v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), EncodeError> {
        let u = u64::try_from(v).map_err(|_| EncodeError::UnsignedOutOfRange(v))?;
        self.serialize_u64(u)
    }

    fn serialize_f32(self, _v: f32) -> Result<(), EncodeError> {
        Err(EncodeError::FloatNotSupported)
    }

    fn serialize_f64(self, _v: f64) -> Result<(), EncodeError> {
        Err(EncodeError::FloatNotSupported)
    }

    fn serialize_char(self, v: char) -> Result<(), EncodeError> {
        text(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), EncodeError> {
        text(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), EncodeError> {
        write_head(self.out, MAJOR_BYTES, len_u64(v.len()));
        self.out.extend_from_slice(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), EncodeError> {
        self.out.push(NULL);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), EncodeError> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), EncodeError> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), EncodeError> {
        text(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        let depth = self.variant(variant)?;
        value.serialize(Writer {
            out: self.out,
            depth,
        })
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqWriter<'a>, EncodeError> {
        self.seq(len)
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqWriter<'a>, EncodeError> {
        self.seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'a>, EncodeError> {
        self.seq(Some(len))
    }

    fn serialize_tuple_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'a>, EncodeError> {
        let depth = self.variant(variant)?;
        Writer {
            out: self.out,
            depth,
        }
        .seq(Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapWriter<'a>, EncodeError> {
        self.map(len)
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<MapWriter<'a>, EncodeError> {
        self.map(Some(len))
    }

    fn serialize_struct_variant(
        mut self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapWriter<'a>, EncodeError> {
        let depth = self.variant(variant)?;
        Writer {
            out: self.out,
            depth,
        }
        .map(Some(len))
    }
}

/// An array. With a known length its head is written first and the items
/// after it in place; the head is corrected at the end if the count differs.
/// With an unknown length the items are gathered and written after the head.
pub(crate) struct SeqWriter<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    /// Known length: where the head starts in `out`, and the count it says.
    head: Option<(usize, usize)>,
    /// Unknown length: the items so far.
    items: Vec<u8>,
    count: usize,
}

impl<'a> SeqWriter<'a> {
    fn new(out: &'a mut Vec<u8>, depth: usize, len: Option<usize>) -> Self {
        let head = len.map(|n| {
            let at = out.len();
            write_head(out, MAJOR_ARRAY, len_u64(n));
            (at, n)
        });
        Self {
            out,
            depth,
            head,
            items: Vec::new(),
            count: 0,
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let out = if self.head.is_some() {
            &mut *self.out
        } else {
            &mut self.items
        };
        value.serialize(Writer {
            out,
            depth: self.depth,
        })?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), EncodeError> {
        match self.head {
            Some((_, n)) if n == self.count => {}
            Some((at, _)) => {
                // serde's length hint was wrong: rewrite the head.
                let mut head = Vec::with_capacity(9);
                write_head(&mut head, MAJOR_ARRAY, len_u64(self.count));
                let old_end = at + head_len(self.out.get(at).copied().unwrap_or(0));
                self.out.splice(at..old_end, head);
            }
            None => {
                write_head(self.out, MAJOR_ARRAY, len_u64(self.count));
                self.out.extend_from_slice(&self.items);
            }
        }
        Ok(())
    }
}

/// The length of an item head from its initial byte (only heads this
/// module wrote are measured).
fn head_len(initial: u8) -> usize {
    match initial & 0x1f {
        24 => 2,
        25 => 3,
        26 => 5,
        27 => 9,
        _ => 1,
    }
}

seq_traits!(SeqWriter<'_>, ());

/// A map: entries are written to `buf` as they come (each a key then its
/// value, at `entries[i] = (key start, value start, end)`), then copied to
/// `out` sorted by key.
pub(crate) struct MapWriter<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    buf: Vec<u8>,
    entries: Vec<(usize, usize, usize)>,
    /// A key written by `serialize_key` whose value has not come yet.
    pending_key: Option<usize>,
}

impl MapWriter<'_> {
    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        if self.pending_key.is_some() {
            return Err(EncodeError::MapKeyWithoutValue);
        }
        let start = self.buf.len();
        key.serialize(Writer {
            out: &mut self.buf,
            depth: self.depth,
        })?;
        self.pending_key = Some(start);
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        let key_start = self
            .pending_key
            .take()
            .ok_or(EncodeError::MapValueWithoutKey)?;
        let value_start = self.buf.len();
        value.serialize(Writer {
            out: &mut self.buf,
            depth: self.depth,
        })?;
        self.entries.push((key_start, value_start, self.buf.len()));
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), EncodeError> {
        let key_start = self.buf.len();
        text(&mut self.buf, key);
        let value_start = self.buf.len();
        value.serialize(Writer {
            out: &mut self.buf,
            depth: self.depth,
        })?;
        self.entries.push((key_start, value_start, self.buf.len()));
        Ok(())
    }

    fn finish(mut self) -> Result<(), EncodeError> {
        if self.pending_key.is_some() {
            return Err(EncodeError::MapKeyWithoutValue);
        }
        let buf = &self.buf;
        let key = |e: &(usize, usize, usize)| buf.get(e.0..e.1).unwrap_or_default();
        let in_order = self
            .entries
            .windows(2)
            .all(|w| matches!(w, [a, b] if canonical_key_order(key(a), key(b)).is_lt()));
        if !in_order {
            self.entries
                .sort_by(|a, b| canonical_key_order(key(a), key(b)));
            if let Some(dup) = self.entries.windows(2).find_map(|w| match w {
                [a, b] if key(a) == key(b) => Some(key(a)),
                _ => None,
            }) {
                return Err(EncodeError::DuplicateKey { key: dup.to_vec() });
            }
        }
        write_head(self.out, MAJOR_MAP, len_u64(self.entries.len()));
        for e in &self.entries {
            self.out
                .extend_from_slice(buf.get(e.0..e.2).unwrap_or_default());
        }
        Ok(())
    }
}

impl ser::SerializeMap for MapWriter<'_> {
    type Ok = ();
    type Error = EncodeError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), EncodeError> {
        self.key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), EncodeError> {
        self.value(value)
    }

    fn end(self) -> Result<(), EncodeError> {
        self.finish()
    }
}

struct_traits!(MapWriter<'_>, ());

//! The strict decoder. Everything it accepts is the canonical encoding of
//! what it returns; everything else is a typed [`DecodeError`].

use super::encode::canonical_key_order;
use super::error::DecodeError;
use super::value::Value;

/// Bounds on what the decoder accepts. Every length is checked against these
/// and against the bytes actually remaining before anything is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Deepest nesting of arrays and maps.
    pub max_depth: usize,
    /// Most items in one array or entries in one map.
    pub max_collection_len: usize,
    /// Largest input, in bytes.
    pub max_input_len: usize,
}

impl Default for DecodeLimits {
    /// Depth 64, 1,048,576 items per collection, 16 MiB of input: far above
    /// any legitimate message, far below what would exhaust a node.
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_collection_len: 1 << 20,
            max_input_len: 16 << 20,
        }
    }
}

/// Decodes exactly one value filling all of `bytes`, under default limits.
pub fn decode_value(bytes: &[u8]) -> Result<Value, DecodeError> {
    decode_value_with_limits(bytes, &DecodeLimits::default())
}

/// Decodes exactly one value filling all of `bytes`, under `limits`.
pub fn decode_value_with_limits(bytes: &[u8], limits: &DecodeLimits) -> Result<Value, DecodeError> {
    if bytes.len() > limits.max_input_len {
        return Err(DecodeError::InputTooLarge {
            len: bytes.len(),
            limit: limits.max_input_len,
        });
    }
    let mut r = Reader {
        bytes,
        pos: 0,
        limits,
    };
    let v = r.value(0)?;
    if r.pos != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            offset: r.pos,
            count: bytes.len() - r.pos,
        });
    }
    Ok(v)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    limits: &'a DecodeLimits,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(DecodeError::Truncated {
                offset: self.bytes.len(),
            })?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated { offset: self.pos })?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(DecodeError::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads the argument of a head whose initial byte had additional info
    /// `info`, insisting on the shortest form.
    fn argument(&mut self, info: u8, start: usize) -> Result<u64, DecodeError> {
        let (value, min) = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => (u64::from(self.byte()?), 24),
            25 => (u64::from(u16::from_be_bytes(self.array::<2>()?)), 0x100),
            26 => (u64::from(u32::from_be_bytes(self.array::<4>()?)), 0x1_0000),
            27 => (u64::from_be_bytes(self.array::<8>()?), 0x1_0000_0000),
            28..=30 => return Err(DecodeError::Reserved { offset: start }),
            _ => return Err(DecodeError::IndefiniteLength { offset: start }),
        };
        if value < min {
            return Err(DecodeError::NonMinimal { offset: start });
        }
        Ok(value)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// A declared length, checked against the limit and (with `min_item_size`
    /// bytes per item) against the input that is left.
    fn length(
        &mut self,
        info: u8,
        start: usize,
        min_item_size: usize,
        limit: usize,
    ) -> Result<usize, DecodeError> {
        let len = self.argument(info, start)?;
        let n = usize::try_from(len).map_err(|_| DecodeError::TooLong {
            offset: start,
            len,
            limit,
        })?;
        if n > limit {
            return Err(DecodeError::TooLong {
                offset: start,
                len,
                limit,
            });
        }
        if n.saturating_mul(min_item_size) > self.remaining() {
            return Err(DecodeError::Truncated {
                offset: self.bytes.len(),
            });
        }
        Ok(n)
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let start = self.pos;
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        match major {
            0 => Ok(Value::Unsigned(self.argument(info, start)?)),
            1 => Ok(Value::Negative(self.argument(info, start)?)),
            2 => {
                let n = self.length(info, start, 1, usize::MAX)?;
                Ok(Value::Bytes(self.take(n)?.to_vec()))
            }
            3 => {
                let n = self.length(info, start, 1, usize::MAX)?;
                let s = std::str::from_utf8(self.take(n)?)
                    .map_err(|_| DecodeError::InvalidUtf8 { offset: start })?;
                Ok(Value::Text(s.to_owned()))
            }
            4 => {
                let n = self.length(info, start, 1, self.limits.max_collection_len)?;
                let depth = self.enter(depth, start)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(depth)?);
                }
                Ok(Value::Array(items))
            }
            5 => {
                let n = self.length(info, start, 2, self.limits.max_collection_len)?;
                let depth = self.enter(depth, start)?;
                let mut entries = Vec::with_capacity(n);
                let mut prev_key: Option<&'a [u8]> = None;
                for _ in 0..n {
                    let key_start = self.pos;
                    let k = self.value(depth)?;
                    let key_bytes = self.bytes.get(key_start..self.pos).unwrap_or_default();
                    if let Some(prev) = prev_key {
                        match canonical_key_order(prev, key_bytes) {
                            std::cmp::Ordering::Less => {}
                            std::cmp::Ordering::Equal => {
                                return Err(DecodeError::DuplicateKey { offset: key_start });
                            }
                            std::cmp::Ordering::Greater => {
                                return Err(DecodeError::UnsortedKeys { offset: key_start });
                            }
                        }
                    }
                    prev_key = Some(key_bytes);
                    let v = self.value(depth)?;
                    entries.push((k, v));
                }
                Ok(Value::Map(entries))
            }
            6 => Err(DecodeError::Tag { offset: start }),
            _ => match info {
                20 => Ok(Value::Bool(false)),
                21 => Ok(Value::Bool(true)),
                22 => Ok(Value::Null),
                25..=27 => Err(DecodeError::Float { offset: start }),
                28..=30 => Err(DecodeError::Reserved { offset: start }),
                31 => Err(DecodeError::IndefiniteLength { offset: start }),
                _ => Err(DecodeError::UnsupportedSimple { offset: start }),
            },
        }
    }

    fn enter(&self, depth: usize, start: usize) -> Result<usize, DecodeError> {
        let d = depth + 1;
        if d > self.limits.max_depth {
            return Err(DecodeError::TooDeep {
                offset: start,
                limit: self.limits.max_depth,
            });
        }
        Ok(d)
    }
}

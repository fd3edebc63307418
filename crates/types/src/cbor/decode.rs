//! The strict decoder: bytes to [`Value`].
//!
//! Only the canonical encoding of a value is accepted, so that one value has
//! exactly one accepted encoding. Every length read from the input is checked
//! against the bytes that remain and against [`DecodeLimits`] before anything
//! is allocated, and nothing here can panic on any input.

use std::cmp::Ordering;

use super::error::{DecodeError, EncodeError};
use super::value::{Value, canonical_key_order, sort_entries};

/// The most nested arrays/maps any [`DecodeLimits`] may allow; larger
/// `max_depth` values are clamped to it, so recursion can never exhaust the
/// stack whatever the configuration.
pub const MAX_DEPTH_CEILING: usize = 256;

/// Preallocation cap for arrays and maps: a declared length only reserves
/// this many slots up front; the rest grows as items actually parse. Nested
/// collections can therefore not multiply one input byte into many
/// preallocated slots.
const PREALLOC_CAP: usize = 256;

/// Bounds on what the decoder accepts, checked before any allocation.
///
/// The defaults ([`DecodeLimits::DEFAULT`]) are:
/// - `max_depth`: 64 nested arrays/maps (Oasis structures nest fewer than 10
///   deep); clamped to [`MAX_DEPTH_CEILING`];
/// - `max_collection_len`: 1 048 576 (`1 << 20`) items per array or entries
///   per map;
/// - `max_input_len`: 16 MiB, the largest frame of Oasis's runtime host
///   protocol. Callers that know tighter bounds (a transaction size limit,
///   say) should pass them.
///
/// Memory: the decoded tree takes at most about 32 bytes per input byte (one
/// 32-byte [`Value`] per item, each item at least one byte; string contents
/// are copied once), so `max_input_len` bounds memory too. Declared lengths
/// never reserve more than a small fixed number of slots ahead of the items
/// that actually parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most arrays/maps nested inside one another (a top-level array is 1).
    pub max_depth: usize,
    /// Most items in one array, or entries in one map.
    pub max_collection_len: usize,
    /// Longest input, in bytes.
    pub max_input_len: usize,
}

impl DecodeLimits {
    /// The default limits (see the type's documentation).
    pub const DEFAULT: Self = Self {
        max_depth: 64,
        max_collection_len: 1 << 20,
        max_input_len: 16 << 20,
    };
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Decodes exactly one canonical CBOR item from `input` with the default
/// limits. Trailing bytes are an error.
pub fn decode_value(input: &[u8]) -> Result<Value, DecodeError> {
    decode_value_with_limits(input, &DecodeLimits::DEFAULT)
}

/// Decodes exactly one canonical CBOR item from `input` with the given
/// limits. Trailing bytes are an error.
pub fn decode_value_with_limits(input: &[u8], limits: &DecodeLimits) -> Result<Value, DecodeError> {
    decode_with_rules(input, limits, false)
}

/// Decodes exactly one CBOR item from `input` under the rules oasis-core's
/// node applies to what clients send (its `cbor.Unmarshal`: fxamacker/cbor
/// with duplicate map keys, indefinite lengths and tags forbidden).
///
/// Compared with [`decode_value_with_limits`], integers, lengths and counts
/// may use a longer form than needed and map keys may come in any order;
/// duplicate keys (compared by value), indefinite lengths, tags, floats,
/// simple values other than `false`/`true`/`null`, and trailing bytes are
/// still refused, and the same [`DecodeLimits`] apply. The returned tree is
/// normalized (every map in canonical key order), so encoding it again gives
/// the canonical bytes of the same value. Signatures must be checked over the
/// bytes as received, never over that re-encoding.
pub fn decode_value_relaxed_with_limits(
    input: &[u8],
    limits: &DecodeLimits,
) -> Result<Value, DecodeError> {
    decode_with_rules(input, limits, true)
}

fn decode_with_rules(
    input: &[u8],
    limits: &DecodeLimits,
    relaxed: bool,
) -> Result<Value, DecodeError> {
    if input.len() > limits.max_input_len {
        return Err(DecodeError::InputTooLarge {
            len: input.len(),
            limit: limits.max_input_len,
        });
    }
    let mut d = Decoder {
        input,
        pos: 0,
        max_depth: limits.max_depth.min(MAX_DEPTH_CEILING),
        max_collection_len: limits.max_collection_len,
        relaxed,
    };
    let value = d.value(0)?;
    if d.pos != input.len() {
        return Err(DecodeError::TrailingBytes { offset: d.pos });
    }
    Ok(value)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    max_depth: usize,
    max_collection_len: usize,
    /// oasis-core's node rules: non-minimal heads and any key order allowed.
    relaxed: bool,
}

impl<'a> Decoder<'a> {
    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// Takes the next `n` bytes of the item starting at `start`; if the input
    /// ends first, that item is reported as truncated.
    fn take(&mut self, n: usize, start: usize) -> Result<&'a [u8], DecodeError> {
        // Errors are built only when they happen: this is the hot path.
        let truncated = || DecodeError::Truncated { offset: start };
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        let bytes = self.input.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self, start: usize) -> Result<u8, DecodeError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(DecodeError::Truncated { offset: start })?;
        self.pos += 1;
        Ok(b)
    }

    fn array<const N: usize>(&mut self, start: usize) -> Result<[u8; N], DecodeError> {
        self.take(N, start)?
            .try_into()
            .map_err(|_| DecodeError::Truncated { offset: start })
    }

    /// Reads the argument of an integer, length or count whose initial byte
    /// (at `start`) had additional information `info`, enforcing the
    /// shortest form.
    fn argument(&mut self, info: u8, start: usize, major: u8) -> Result<u64, DecodeError> {
        let relaxed = self.relaxed;
        let non_minimal = || DecodeError::NonMinimalEncoding { offset: start };
        match info {
            0..=23 => Ok(u64::from(info)),
            24 => {
                let v = self.byte(start)?;
                if !relaxed && v < 24 {
                    Err(non_minimal())
                } else {
                    Ok(u64::from(v))
                }
            }
            25 => {
                let v = u16::from_be_bytes(self.array(start)?);
                if !relaxed && v <= 0xff {
                    Err(non_minimal())
                } else {
                    Ok(u64::from(v))
                }
            }
            26 => {
                let v = u32::from_be_bytes(self.array(start)?);
                if !relaxed && v <= 0xffff {
                    Err(non_minimal())
                } else {
                    Ok(u64::from(v))
                }
            }
            27 => {
                let v = u64::from_be_bytes(self.array(start)?);
                if !relaxed && v <= 0xffff_ffff {
                    Err(non_minimal())
                } else {
                    Ok(v)
                }
            }
            31 if (2..=5).contains(&major) => Err(DecodeError::IndefiniteLength { offset: start }),
            _ => Err(DecodeError::ReservedAdditionalInfo {
                offset: start,
                info,
            }),
        }
    }

    /// The payload of the byte or text string starting at `start`, of
    /// declared length `len`: it must be present in full, so nothing is
    /// allocated for data that is not there.
    fn payload(&mut self, len: u64, start: usize) -> Result<&'a [u8], DecodeError> {
        let truncated = || DecodeError::Truncated { offset: start };
        let n = usize::try_from(len).map_err(|_| truncated())?;
        if n > self.remaining() {
            return Err(truncated());
        }
        self.take(n, start)
    }

    /// Checks a declared collection length against the limit and the input:
    /// each item takes at least one byte (`min_bytes` per entry).
    fn collection_len(
        &self,
        len: u64,
        start: usize,
        min_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let too_large = || DecodeError::CollectionTooLarge {
            offset: start,
            len,
            limit: self.max_collection_len,
        };
        let n = usize::try_from(len).map_err(|_| too_large())?;
        if n > self.max_collection_len {
            return Err(too_large());
        }
        let truncated = || DecodeError::Truncated { offset: start };
        let needed = n.checked_mul(min_bytes).ok_or_else(truncated)?;
        if needed > self.remaining() {
            return Err(truncated());
        }
        Ok(n)
    }

    fn enter(&self, depth: usize, start: usize) -> Result<usize, DecodeError> {
        if depth >= self.max_depth {
            Err(DecodeError::DepthLimitExceeded {
                offset: start,
                limit: self.max_depth,
            })
        } else {
            Ok(depth + 1)
        }
    }

    /// Decodes one item. `depth` is the number of arrays/maps enclosing it.
    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let start = self.pos;
        let initial = self.byte(start)?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        match major {
            6 => return Err(DecodeError::TagNotAllowed { offset: start }),
            7 => return self.simple(info, start),
            _ => {}
        }
        let arg = self.argument(info, start, major)?;
        match major {
            0 => Ok(Value::Unsigned(arg)),
            1 => Ok(Value::Negative(arg)),
            2 => Ok(Value::Bytes(self.payload(arg, start)?.to_vec())),
            3 => {
                let payload_start = self.pos;
                let bytes = self.payload(arg, start)?;
                let text = std::str::from_utf8(bytes).map_err(|e| DecodeError::InvalidUtf8 {
                    offset: payload_start.saturating_add(e.valid_up_to()),
                })?;
                Ok(Value::Text(text.to_owned()))
            }
            4 => {
                let inner = self.enter(depth, start)?;
                let n = self.collection_len(arg, start, 1)?;
                let mut items = Vec::with_capacity(n.min(PREALLOC_CAP));
                for _ in 0..n {
                    items.push(self.value(inner)?);
                }
                Ok(Value::Array(items))
            }
            _ => {
                // Major type 5, the only one left (0..=7 from a 3-bit field).
                let inner = self.enter(depth, start)?;
                let n = self.collection_len(arg, start, 2)?;
                let mut entries = Vec::with_capacity(n.min(PREALLOC_CAP));
                let mut prev_key: Option<&'a [u8]> = None;
                for _ in 0..n {
                    let key_start = self.pos;
                    let key = self.value(inner)?;
                    let key_bytes = self
                        .input
                        .get(key_start..self.pos)
                        .ok_or(DecodeError::Truncated { offset: key_start })?;
                    // The key decoded strictly, so its bytes are its canonical
                    // encoding and can be compared directly.
                    if self.relaxed {
                        // Order is free; duplicates are found after the loop.
                    } else if let Some(prev) = prev_key {
                        match canonical_key_order(prev, key_bytes) {
                            Ordering::Less => {}
                            Ordering::Equal => {
                                return Err(DecodeError::DuplicateKey { offset: key_start });
                            }
                            Ordering::Greater => {
                                return Err(DecodeError::OutOfOrderKey { offset: key_start });
                            }
                        }
                    }
                    prev_key = Some(key_bytes);
                    let val = self.value(inner)?;
                    entries.push((key, val));
                }
                if self.relaxed {
                    // Keys compared by value: sorting finds equal neighbours.
                    return sort_entries(entries).map(Value::Map).map_err(|e| match e {
                        EncodeError::DuplicateKey { .. } => {
                            DecodeError::DuplicateKey { offset: start }
                        }
                        other => DecodeError::ReEncode(other),
                    });
                }
                Ok(Value::Map(entries))
            }
        }
    }

    /// Major type 7: only `false`, `true` and `null` are accepted.
    fn simple(&mut self, info: u8, start: usize) -> Result<Value, DecodeError> {
        match info {
            20 => Ok(Value::Bool(false)),
            21 => Ok(Value::Bool(true)),
            22 => Ok(Value::Null),
            0..=19 | 23 => Err(DecodeError::UnsupportedSimpleValue {
                offset: start,
                value: info,
            }),
            24 => {
                let value = self.byte(start)?;
                Err(DecodeError::UnsupportedSimpleValue {
                    offset: start,
                    value,
                })
            }
            25..=27 => Err(DecodeError::FloatNotAllowed { offset: start }),
            31 => Err(DecodeError::UnexpectedBreak { offset: start }),
            _ => Err(DecodeError::ReservedAdditionalInfo {
                offset: start,
                info,
            }),
        }
    }
}

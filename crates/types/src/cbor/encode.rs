//! The canonical encoder: [`Value`] to bytes.

use super::error::EncodeError;
use super::value::{Value, canonical_key_order};

/// The deepest nesting of arrays and maps the encoder (and the serde
/// serializer) will produce. It matches the ceiling on
/// [`DecodeLimits::max_depth`](super::DecodeLimits), so the encoder never
/// writes what no decoder configuration could read back, and recursion stays
/// far from the stack's end.
pub const MAX_ENCODE_DEPTH: usize = super::MAX_DEPTH_CEILING;

pub(crate) const MAJOR_UNSIGNED: u8 = 0;
pub(crate) const MAJOR_NEGATIVE: u8 = 1;
pub(crate) const MAJOR_BYTES: u8 = 2;
pub(crate) const MAJOR_TEXT: u8 = 3;
pub(crate) const MAJOR_ARRAY: u8 = 4;
pub(crate) const MAJOR_MAP: u8 = 5;
pub(crate) const FALSE: u8 = 0xf4;
pub(crate) const TRUE: u8 = 0xf5;
pub(crate) const NULL: u8 = 0xf6;

/// Encodes `value` as canonical CBOR: shortest-form integers and lengths,
/// definite lengths, map keys sorted shorter-encoding-first then bytewise.
///
/// Errors on duplicate map keys and on nesting deeper than
/// [`MAX_ENCODE_DEPTH`].
pub fn encode_value(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    write_value(&mut out, value, 0)?;
    Ok(out)
}

/// Writes an item head (major type and argument) in its shortest form.
pub(crate) fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        // arg < 24 so the cast is lossless.
        out.push(m | arg as u8);
    } else if let Ok(a) = u8::try_from(arg) {
        out.push(m | 24);
        out.push(a);
    } else if let Ok(a) = u16::try_from(arg) {
        out.push(m | 25);
        out.extend_from_slice(&a.to_be_bytes());
    } else if let Ok(a) = u32::try_from(arg) {
        out.push(m | 26);
        out.extend_from_slice(&a.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

/// `usize` to `u64`; lossless on every platform Rust supports (≤ 64 bits).
fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), EncodeError> {
    match value {
        Value::Unsigned(n) => write_head(out, MAJOR_UNSIGNED, *n),
        Value::Negative(n) => write_head(out, MAJOR_NEGATIVE, *n),
        Value::Bytes(b) => {
            write_head(out, MAJOR_BYTES, len_u64(b.len()));
            out.extend_from_slice(b);
        }
        Value::Text(t) => {
            write_head(out, MAJOR_TEXT, len_u64(t.len()));
            out.extend_from_slice(t.as_bytes());
        }
        Value::Array(items) => {
            check_depth(depth)?;
            write_head(out, MAJOR_ARRAY, len_u64(items.len()));
            for item in items {
                write_value(out, item, depth + 1)?;
            }
        }
        Value::Map(entries) => {
            check_depth(depth)?;
            write_map(out, entries, depth)?;
        }
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Null => out.push(NULL),
    }
    Ok(())
}

/// Writes a map with its keys in canonical order. Each key is encoded once,
/// into one scratch buffer; entries already in order (everything that came
/// from the decoder or the serializer) are written without sorting, and no
/// value is ever encoded twice.
fn write_map(
    out: &mut Vec<u8>,
    entries: &[(Value, Value)],
    depth: usize,
) -> Result<(), EncodeError> {
    let mut scratch = Vec::new();
    let mut spans = Vec::with_capacity(entries.len());
    for (k, _) in entries {
        let start = scratch.len();
        write_value(&mut scratch, k, depth + 1)?;
        spans.push(start..scratch.len());
    }
    let key = |i: usize| -> &[u8] {
        spans
            .get(i)
            .and_then(|r| scratch.get(r.clone()))
            .unwrap_or_default()
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    let in_order = order
        .windows(2)
        .all(|w| matches!(w, [a, b] if canonical_key_order(key(*a), key(*b)).is_lt()));
    if !in_order {
        order.sort_by(|a, b| canonical_key_order(key(*a), key(*b)));
        if let Some(dup) = order.windows(2).find_map(|w| match w {
            [a, b] if key(*a) == key(*b) => Some(*a),
            _ => None,
        }) {
            return Err(EncodeError::DuplicateKey {
                key: key(dup).to_vec(),
            });
        }
    }
    write_head(out, MAJOR_MAP, len_u64(entries.len()));
    for i in order {
        out.extend_from_slice(key(i));
        if let Some((_, v)) = entries.get(i) {
            write_value(out, v, depth + 1)?;
        }
    }
    Ok(())
}

fn check_depth(depth: usize) -> Result<(), EncodeError> {
    if depth >= MAX_ENCODE_DEPTH {
        Err(EncodeError::DepthLimitExceeded {
            limit: MAX_ENCODE_DEPTH,
        })
    } else {
        Ok(())
    }
}

//! The canonical encoder.

use super::error::EncodeError;
use super::value::Value;

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;

/// Encodes `value` canonically: shortest integer and length forms, definite
/// lengths, map keys in RFC 7049 canonical order (shorter encoded key first,
/// then bytewise). Two maps entries with equal keys are refused.
pub fn encode_value(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// Writes a major type and argument in shortest form.
pub(crate) fn write_head(major: u8, arg: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match arg {
        0..=23 => out.push(m | arg as u8),
        24..=0xff => {
            out.push(m | 24);
            out.push(arg as u8);
        }
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

fn len_arg(len: usize) -> u64 {
    // usize is at most 64 bits on every supported target.
    len as u64
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match value {
        Value::Unsigned(n) => write_head(MAJOR_UNSIGNED, *n, out),
        Value::Negative(n) => write_head(MAJOR_NEGATIVE, *n, out),
        Value::Bytes(b) => {
            write_head(MAJOR_BYTES, len_arg(b.len()), out);
            out.extend_from_slice(b);
        }
        Value::Text(s) => {
            write_head(MAJOR_TEXT, len_arg(s.len()), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Array(items) => {
            write_head(MAJOR_ARRAY, len_arg(items.len()), out);
            for item in items {
                write_value(item, out)?;
            }
        }
        Value::Map(entries) => {
            let mut encoded: Vec<(Vec<u8>, &Value)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let mut kb = Vec::new();
                write_value(k, &mut kb)?;
                encoded.push((kb, v));
            }
            encoded.sort_by(|a, b| canonical_key_order(&a.0, &b.0));
            if encoded.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(EncodeError::DuplicateKey);
            }
            write_head(MAJOR_MAP, len_arg(encoded.len()), out);
            for (kb, v) in encoded {
                out.extend_from_slice(&kb);
                write_value(v, out)?;
            }
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
    }
    Ok(())
}

/// RFC 7049 §3.9 canonical order of encoded keys: shorter first, then bytewise.
pub(crate) fn canonical_key_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

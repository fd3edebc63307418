//! Canonical CBOR: atoll's encoding for everything signed, hashed or stored.
//!
//! Encoding is canonical and byte-compatible with Oasis's encoder for the same
//! data model: shortest integers and lengths, definite lengths, map keys in
//! RFC 7049 canonical order (shorter encoded key first, then bytewise), no
//! tags. atoll additionally has no floats, since nothing consensus computes
//! may depend on floating point.
//!
//! Decoding is strict and bounded ([`DecodeLimits`]): it accepts only the
//! canonical encoding of a value and refuses everything else with a typed
//! [`DecodeError`], without panicking and without allocating more than the
//! input justifies. [`from_slice_canonical`] additionally refuses input that
//! decodes to a value whose own encoding differs (an unknown field, a default
//! spelled out): what signed bodies need, so that one signature stands for
//! exactly one message.
//!
//! Types go through serde: structs are maps keyed by field name, enums are
//! externally tagged (`{"variant": content}`, or the variant name alone), and
//! byte fields must serialize as bytes (`serde_bytes`, or a type whose
//! `Serialize` calls `serialize_bytes`). The serializer and deserializer
//! report `is_human_readable() == false`. Unknown struct fields are ignored
//! by [`from_slice`] (forward compatibility), as serde does by default.
//!
//! ```
//! use atoll_types::cbor;
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Transfer { to: String, amount: u64 }
//!
//! let t = Transfer { to: "bob".into(), amount: 5 };
//! let bytes = cbor::to_vec(&t)?;
//! assert_eq!(hex::encode(&bytes), "a262746f63626f6266616d6f756e7405");
//! assert_eq!(cbor::from_slice::<Transfer>(&bytes)?, t);
//! assert!(cbor::from_slice::<Transfer>(&[0xa2, 0x66]).is_err()); // truncated
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod de;
mod decode;
mod encode;
mod error;
mod ser;
mod value;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use de::{ValueDeserializer, from_value};
pub use decode::{DecodeLimits, decode_value, decode_value_with_limits};
pub use encode::encode_value;
pub use error::{DecodeError, EncodeError};
pub use ser::{ValueSerializer, to_value};
pub use value::Value;

/// Encodes `value` as canonical CBOR.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    encode_value(&to_value(value)?)
}

/// Decodes canonical CBOR into `T` under default limits.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    from_value(decode_value(bytes)?)
}

/// Decodes canonical CBOR into `T` under `limits`.
pub fn from_slice_with_limits<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<T, DecodeError> {
    from_value(decode_value_with_limits(bytes, limits)?)
}

/// Decodes into `T` and refuses the input unless it is exactly the encoding
/// of the decoded value. Use it for anything signed.
pub fn from_slice_canonical<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let value: T = from_slice(bytes)?;
    let again = to_vec(&value).map_err(|e| DecodeError::Type(e.to_string()))?;
    if again != bytes {
        return Err(DecodeError::NotCanonical);
    }
    Ok(value)
}

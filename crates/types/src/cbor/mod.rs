//! Canonical CBOR, the encoding of everything atoll signs and sends.
//!
//! The format is Oasis's: RFC 7049 §3.9 canonical CBOR as written by
//! fxamacker/cbor's `SortCanonical` mode, further restricted for consensus
//! determinism.
//!
//! - Integers, lengths and counts use their shortest form; lengths are
//!   definite.
//! - Map keys are sorted by the length of their encoding, then bytewise, and
//!   never repeat.
//! - There are no tags, no floats, and no simple values besides `false`,
//!   `true` and `null`.
//!
//! The encoder only writes that form. The decoder accepts only that form, so
//! one value has exactly one accepted encoding. It is bounded by
//! [`DecodeLimits`] before it allocates, and it never panics.
//!
//! What a client sends is decoded by the rules of the Oasis component that
//! receives it, no stricter: runtime transactions by the runtime SDK's
//! (canonical bytes as above, unknown struct fields refused, fields holding
//! their default present or absent), consensus transactions by oasis-core's
//! node ([`from_slice_relaxed`]: also non-minimal heads and any key order,
//! duplicate keys still refused). Signatures are always checked over the
//! bytes as received.
//!
//! Rust types go through serde. Structs become maps keyed by field name, and
//! byte fields need `serde_bytes` or a type whose `Serialize` calls
//! `serialize_bytes`. Enums are externally tagged: `"unit"` or
//! `{"variant": content}`. The mapping is laid out in [`ser`] and [`de`].
//! Unknown struct fields are ignored when decoding, as serde does by default,
//! unless the type says `#[serde(deny_unknown_fields)]`. Signed bodies use
//! [`from_slice_canonical`], which refuses any input that does not re-encode
//! to itself.
//!
//! ```
//! use atoll_types::cbor;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Transfer {
//!     #[serde(with = "serde_bytes")]
//!     to: Vec<u8>,
//!     amount: u64,
//! }
//!
//! let t = Transfer { to: vec![1, 2], amount: 10 };
//! let bytes = cbor::to_vec(&t)?;
//! // {"to": h'0102', "amount": 10}: the shorter key "to" sorts first.
//! assert_eq!(bytes, [0xa2, 0x62, b't', b'o', 0x42, 1, 2, 0x66, b'a', b'm', b'o', b'u', b'n', b't', 0x0a]);
//! assert_eq!(cbor::from_slice::<Transfer>(&bytes)?, t);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// Implements serde's sequence-like compound traits (`SerializeSeq`,
/// `SerializeTuple`, `SerializeTupleStruct`, `SerializeTupleVariant`) for a
/// builder with `push(&mut self, &T) -> Result<(), EncodeError>` and
/// `finish(self) -> Result<$ok, EncodeError>`: the four only name their
/// methods differently.
macro_rules! seq_traits {
    ($ty:ty, $ok:ty) => {
        seq_traits!(@one $ty, $ok, SerializeSeq, serialize_element);
        seq_traits!(@one $ty, $ok, SerializeTuple, serialize_element);
        seq_traits!(@one $ty, $ok, SerializeTupleStruct, serialize_field);
        seq_traits!(@one $ty, $ok, SerializeTupleVariant, serialize_field);
    };
    (@one $ty:ty, $ok:ty, $trait:ident, $method:ident) => {
        impl serde::ser::$trait for $ty {
            type Ok = $ok;
            type Error = EncodeError;

            fn $method<T: serde::Serialize + ?Sized>(
                &mut self,
                value: &T,
            ) -> Result<(), EncodeError> {
                self.push(value)
            }

            fn end(self) -> Result<$ok, EncodeError> {
                self.finish()
            }
        }
    };
}

/// Implements `SerializeStruct` and `SerializeStructVariant` for a map
/// builder with `field(&mut self, &'static str, &T)` and `finish`.
macro_rules! struct_traits {
    ($ty:ty, $ok:ty) => {
        struct_traits!(@one $ty, $ok, SerializeStruct);
        struct_traits!(@one $ty, $ok, SerializeStructVariant);
    };
    (@one $ty:ty, $ok:ty, $trait:ident) => {
        impl serde::ser::$trait for $ty {
            type Ok = $ok;
            type Error = EncodeError;

            fn serialize_field<T: serde::Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), EncodeError> {
                self.field(key, value)
            }

            fn end(self) -> Result<$ok, EncodeError> {
                self.finish()
            }
        }
    };
}

pub mod de;
mod decode;
mod encode;
mod error;
pub mod ser;
mod value;
mod write;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use de::from_value;
pub use decode::{
    DecodeLimits, MAX_DEPTH_CEILING, decode_value, decode_value_relaxed_with_limits,
    decode_value_with_limits,
};
pub use encode::{MAX_ENCODE_DEPTH, encode_value};
pub use error::{DecodeError, EncodeError};
pub use ser::to_value;
pub use value::{Value, canonical_key_order};

/// Encodes any `Serialize` value as canonical CBOR: the bytes (and errors)
/// of `encode_value(&to_value(value)?)`, written directly without the
/// intermediate [`Value`].
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    write::write(&mut out, value)?;
    Ok(out)
}

/// Decodes a `T` from canonical CBOR with the default [`DecodeLimits`].
///
/// The bytes must be canonical CBOR (anything else is refused); struct
/// fields unknown to `T` are ignored unless `T` denies them. Use
/// [`from_slice_canonical`] for signed bytes.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    from_slice_with_limits(bytes, &DecodeLimits::DEFAULT)
}

/// Decodes a `T` from canonical CBOR with the given limits.
pub fn from_slice_with_limits<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<T, DecodeError> {
    from_value(decode_value_with_limits(bytes, limits)?)
}

/// Decodes a `T` under oasis-core's rules for what a client sends to a node
/// (see [`decode_value_relaxed_with_limits`]): longer-than-needed integer and
/// length heads and any map key order are accepted, duplicate keys are not.
/// Struct fields unknown to `T` are ignored unless `T` denies them, and
/// fields that hold their default may be present or absent, as oasis-core's
/// decoder allows. Used for consensus transactions, whose signature covers
/// the bytes as sent.
pub fn from_slice_relaxed_with_limits<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<T, DecodeError> {
    from_value(decode_value_relaxed_with_limits(bytes, limits)?)
}

/// [`from_slice_relaxed_with_limits`] with the default limits.
pub fn from_slice_relaxed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    from_slice_relaxed_with_limits(bytes, &DecodeLimits::DEFAULT)
}

/// Decodes a `T` and refuses the input unless encoding that `T` again gives
/// back exactly `bytes`.
///
/// The strict decoder already ensures the bytes are canonical CBOR. This
/// also ensures they are the one encoding of a `T`. Without it, an absent
/// field that decodes to its default, a present field the type skips when
/// serializing, or an unknown field that is ignored would let two byte
/// strings (and so two signatures or two hashes) stand for the same value.
/// It is what [`Signed::open`](crate::signed::Signed::open) uses.
pub fn from_slice_canonical<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
) -> Result<T, DecodeError> {
    from_slice_canonical_with_limits(bytes, &DecodeLimits::DEFAULT)
}

/// [`from_slice_canonical`] with the given limits.
pub fn from_slice_canonical_with_limits<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<T, DecodeError> {
    let value: T = from_slice_with_limits(bytes, limits)?;
    let again = to_vec(&value).map_err(DecodeError::ReEncode)?;
    if again != bytes {
        let offset = again
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| again.len().min(bytes.len()));
        return Err(DecodeError::NonCanonical { offset });
    }
    Ok(value)
}

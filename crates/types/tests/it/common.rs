//! Helpers shared by the test modules.

use atoll_types::cbor::{self, DecodeError};

/// Hex-decodes a test vector (spaces allowed).
pub fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

/// Encodes `v` and returns lowercase hex.
pub fn enc<T: serde::Serialize + ?Sized>(v: &T) -> String {
    hex::encode(cbor::to_vec(v).unwrap())
}

/// Decodes hex as a `Value`, returning the error (panics if it decodes).
pub fn decode_err(hex_input: &str) -> DecodeError {
    match cbor::decode_value(&h(hex_input)) {
        Ok(v) => panic!("{hex_input} decoded to {v:?}, expected an error"),
        Err(e) => e,
    }
}

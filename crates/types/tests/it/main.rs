//! Integration tests of `atoll-types`: known-answer encodings, rejections of
//! non-canonical and hostile input, property tests, and signed envelopes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test \
              (clippy.toml allows these in #[test] functions, not in the helpers \
              and proptest bodies of an integration test binary)"
)]

mod cbor_bad_input;
mod cbor_known_answers;
mod cbor_properties;
mod common;
mod interop;
mod kat;
mod props;
mod reject;
mod serde_roundtrip;
mod signed;
mod types;

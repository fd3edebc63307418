//! Tests of the canonical CBOR codec and the common types: known answers,
//! every class of bad input, and round-trip properties.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test binary: a failed step should abort the test loudly"
)]

mod cbor_bad_input;
mod cbor_known_answers;
mod cbor_properties;
mod signed;

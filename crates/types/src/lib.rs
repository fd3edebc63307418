//! Canonical CBOR and the common types of atoll.
//!
//! placeholder
pub mod namespace;

pub use namespace::Namespace;

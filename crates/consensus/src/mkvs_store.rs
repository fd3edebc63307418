//! The consensus state in MKVS: defined in [`atoll_mkvs::state_store`], next
//! to the chain store, and re-exported here at its old path.

pub use atoll_mkvs::state_store::*;

//! Errors of the consensus state machine: defined in [`atoll_state::error`]
//! (shared with the ParaTimes) and re-exported here at their old path.

pub use atoll_state::error::*;

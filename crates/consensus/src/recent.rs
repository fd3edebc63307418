//! The bounded set of recently seen hashes: defined in
//! [`atoll_state::recent`] and re-exported here at its old path.

pub use atoll_state::recent::*;

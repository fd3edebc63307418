//! The consensus services. Each keeps its own state under its own key
//! prefix and talks to the others only through the app (never through
//! another service's keys).

pub mod beacon;
pub mod registry;
pub mod roothash;
pub mod scheduler;
pub mod staking;

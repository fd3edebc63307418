//! Events: what clients watch to learn what a block did.

use serde::{Deserialize, Serialize};

use atoll_consensus_types::{registry, roothash, staking};

/// An event, tagged by the service that emitted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// From staking.
    Staking(staking::Event),
    /// From the registry.
    Registry(registry::Event),
    /// From the roothash.
    Roothash(roothash::Event),
}

impl From<roothash::Event> for Event {
    fn from(e: roothash::Event) -> Self {
        Self::Roothash(e)
    }
}

impl From<registry::Event> for Event {
    fn from(e: registry::Event) -> Self {
        Self::Registry(e)
    }
}

impl From<staking::Event> for Event {
    fn from(e: staking::Event) -> Self {
        Self::Staking(e)
    }
}

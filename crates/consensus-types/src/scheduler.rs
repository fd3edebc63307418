//! The scheduler's outputs: the validator set and each runtime's executor
//! committee for an epoch, and the rank order within a committee that says
//! who proposes each round.

use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::{Address, Hash};
use atoll_types::{Epoch, Namespace, Quantity};
use serde::{Deserialize, Serialize};

/// Scheduler parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Most validators.
    pub max_validators: u16,
    /// Most validator nodes per entity.
    pub max_validators_per_entity: u16,
    /// Stake per unit of voting power (voting power = escrow / this).
    pub stake_per_vote: Quantity,
    /// How voting power follows stake (Oasis's `voting_power_distribution`):
    /// linear by default; absent from documents that use the default.
    #[serde(default, skip_serializing_if = "VotingPowerDistribution::is_linear")]
    pub voting_power_distribution: VotingPowerDistribution,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            max_validators: 100,
            max_validators_per_entity: 1,
            stake_per_vote: Quantity(1),
            voting_power_distribution: VotingPowerDistribution::Linear,
        }
    }
}

/// How a validator's voting power follows its entity's escrow, counted in
/// units of [`Parameters::stake_per_vote`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VotingPowerDistribution {
    /// Power = units of stake.
    #[default]
    Linear,
    /// Power = the integer square root of the units of stake: large stakers
    /// weigh less than in proportion.
    Sqrt,
}

impl VotingPowerDistribution {
    /// Whether this is the default, [`VotingPowerDistribution::Linear`].
    pub fn is_linear(&self) -> bool {
        *self == Self::Linear
    }

    /// The voting power of `units` units of stake (integer arithmetic only).
    pub fn power(&self, units: u128) -> u128 {
        match self {
            Self::Linear => units,
            Self::Sqrt => units.isqrt(),
        }
    }
}

/// A validator for an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// The node.
    pub node_id: PublicKey,
    /// Its consensus (vote-signing) key.
    pub consensus_key: PublicKey,
    /// The entity account its fees and rewards go to.
    pub entity: Address,
    /// Voting power.
    pub voting_power: u64,
}

/// A committee member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Executes every round.
    Worker,
    /// Executes only to resolve a discrepancy.
    BackupWorker,
}

/// A committee member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The node.
    pub node_id: PublicKey,
    /// Its role.
    pub role: Role,
}

/// A runtime's executor committee for one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Committee {
    /// The runtime.
    pub runtime: Namespace,
    /// The epoch it serves.
    pub epoch: Epoch,
    /// Workers first, then backup workers, each in draw order.
    pub members: Vec<Member>,
    /// The entropy it was drawn with (also orders proposers per round).
    pub entropy: Hash,
}

impl Committee {
    /// The workers, in draw order.
    pub fn workers(&self) -> impl Iterator<Item = &PublicKey> {
        self.members
            .iter()
            .filter(|m| m.role == Role::Worker)
            .map(|m| &m.node_id)
    }

    /// The backup workers, in draw order.
    pub fn backups(&self) -> impl Iterator<Item = &PublicKey> {
        self.members
            .iter()
            .filter(|m| m.role == Role::BackupWorker)
            .map(|m| &m.node_id)
    }

    /// Whether `node` holds `role`.
    pub fn has(&self, node: &PublicKey, role: Role) -> bool {
        self.members
            .iter()
            .any(|m| &m.node_id == node && m.role == role)
    }

    /// The workers in proposing order for `round`: rank 0 proposes, rank 1
    /// takes over if rank 0 is silent, and so on.
    pub fn proposer_order(&self, round: u64) -> Vec<PublicKey> {
        let mut w: Vec<(Hash, PublicKey)> = self
            .workers()
            .map(|id| {
                let k = Hash::digest_parts(&[
                    b"atoll/scheduler: rank",
                    self.entropy.as_bytes(),
                    &round.to_be_bytes(),
                    id.as_bytes(),
                ]);
                (k, *id)
            })
            .collect();
        w.sort();
        w.into_iter().map(|(_, id)| id).collect()
    }

    /// `node`'s scheduler rank in `round`, if it is a worker.
    pub fn scheduler_rank(&self, round: u64, node: &PublicKey) -> Option<usize> {
        self.proposer_order(round).iter().position(|id| id == node)
    }
}

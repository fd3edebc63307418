//! The validator election as a pure function: from each entity's escrow
//! and validator nodes (gathered from state by
//! [`super::elect_validators`]) to the validator set and its voting powers.
//!
//! Entities are taken by stake, most first (an entropy-derived key breaks
//! ties), at most [`Parameters::max_validators_per_entity`] nodes each, up
//! to [`Parameters::max_validators`] validators. An entity's voting power is
//! its escrow in units of [`Parameters::stake_per_vote`], linear or its
//! integer square root ([`VotingPowerDistribution`]), split evenly between
//! its elected nodes. Powers are scaled down together when their total
//! would pass [`MAX_TOTAL_POWER`], so the engine's quorum arithmetic
//! (sums and multiples of powers in `u64`) cannot overflow.

use atoll_consensus_types::scheduler::{Parameters, Validator, VotingPowerDistribution};
use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::{Address, Hash};
use atoll_types::Quantity;

/// The largest total voting power of a validator set: 2^60, so that three
/// times the total still fits in a `u64`.
pub const MAX_TOTAL_POWER: u128 = 1 << 60;

/// One entity standing for election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The entity.
    pub entity: PublicKey,
    /// Its active escrow (own stake and delegations).
    pub stake: Quantity,
    /// Breaks ties between equal stakes (derived from the epoch's entropy).
    pub tie: Hash,
    /// Its eligible validator nodes, in draw order: `(node id, consensus key)`.
    pub nodes: Vec<(PublicKey, PublicKey)>,
}

/// An entity's elected nodes `(node id, consensus key)` and the power of
/// each before scaling.
type Seats = (PublicKey, Vec<(PublicKey, PublicKey)>, u128);

/// The validator set `params` elects from `candidates` (in any order),
/// most voting power first among entities as ordered by stake.
pub fn choose_validators(params: &Parameters, mut candidates: Vec<Candidate>) -> Vec<Validator> {
    candidates.sort_by(|a, b| b.stake.cmp(&a.stake).then(a.tie.cmp(&b.tie)));
    let per_entity = usize::from(params.max_validators_per_entity.max(1));
    let seats = usize::from(params.max_validators.max(1));
    let unit = params.stake_per_vote.0.max(1);
    // (entity, elected nodes, power per node) before scaling.
    let mut chosen: Vec<Seats> = Vec::new();
    let mut taken = 0usize;
    for c in candidates {
        if taken >= seats {
            break;
        }
        let power = power_of(params.voting_power_distribution, c.stake, unit);
        let nodes: Vec<_> = c
            .nodes
            .into_iter()
            .take(per_entity.min(seats - taken))
            .collect();
        if nodes.is_empty() {
            continue;
        }
        let per_node = power / nodes.len() as u128;
        if per_node == 0 {
            continue;
        }
        taken += nodes.len();
        chosen.push((c.entity, nodes, per_node));
    }
    let total: u128 = chosen
        .iter()
        .map(|(_, nodes, p)| p.saturating_mul(nodes.len() as u128))
        .fold(0u128, u128::saturating_add);
    let scale = total.div_ceil(MAX_TOTAL_POWER).max(1);
    let mut out = Vec::with_capacity(taken);
    for (entity, nodes, per_node) in chosen {
        // At most 2^60 after scaling, so the conversion cannot fail.
        let power = u64::try_from((per_node / scale).max(1)).unwrap_or(u64::MAX);
        for (node_id, consensus_key) in nodes {
            out.push(Validator {
                node_id,
                consensus_key,
                entity: Address::from_ed25519(&entity),
                voting_power: power,
            });
        }
    }
    out
}

/// The voting power of `stake` counted in units of `unit` base units.
pub fn power_of(distribution: VotingPowerDistribution, stake: Quantity, unit: u128) -> u128 {
    distribution.power(stake.0 / unit.max(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use atoll_crypto::ed25519::SigningKey;

    fn key(i: u8) -> PublicKey {
        SigningKey::from_seed(&[i; 32]).public_key()
    }

    /// Entity `e` with `stake` and `nodes` validator nodes; ties by `tie`.
    fn cand(e: u8, stake: u128, nodes: u8, tie: u8) -> Candidate {
        Candidate {
            entity: key(e),
            stake: Quantity(stake),
            tie: Hash::digest(&[tie]),
            nodes: (0..nodes)
                .map(|n| (key(100 + e * 10 + n), key(200 - e * 10 - n)))
                .collect(),
        }
    }

    fn params(max: u16, per_entity: u16, unit: u128, d: VotingPowerDistribution) -> Parameters {
        Parameters {
            max_validators: max,
            max_validators_per_entity: per_entity,
            stake_per_vote: Quantity(unit),
            voting_power_distribution: d,
        }
    }

    /// The elected set as (entity index, node index, power).
    fn elected(p: &Parameters, c: Vec<Candidate>) -> Vec<(u8, u8, u64)> {
        choose_validators(p, c)
            .into_iter()
            .map(|v| {
                let e = (1..=9u8)
                    .find(|e| Address::from_ed25519(&key(*e)) == v.entity)
                    .unwrap();
                let n = (0..10u8)
                    .find(|n| key(100 + e * 10 + n) == v.node_id)
                    .unwrap();
                assert_eq!(v.consensus_key, key(200 - e * 10 - n));
                (e, n, v.voting_power)
            })
            .collect()
    }

    use VotingPowerDistribution::{Linear, Sqrt};

    #[test]
    fn election_table() {
        #[allow(clippy::type_complexity, reason = "a table")]
        let table: Vec<(&str, Parameters, Vec<Candidate>, Vec<(u8, u8, u64)>)> = vec![
            (
                "linear power follows stake, most stake first",
                params(100, 1, 1, Linear),
                vec![cand(1, 100, 1, 0), cand(2, 400, 1, 0), cand(3, 900, 1, 0)],
                vec![(3, 0, 900), (2, 0, 400), (1, 0, 100)],
            ),
            (
                "square root flattens large stakes",
                params(100, 1, 1, Sqrt),
                vec![cand(1, 100, 1, 0), cand(2, 400, 1, 0), cand(3, 900, 1, 0)],
                vec![(3, 0, 30), (2, 0, 20), (1, 0, 10)],
            ),
            (
                "square root rounds down",
                params(100, 1, 1, Sqrt),
                vec![cand(1, 99, 1, 0), cand(2, 3, 1, 0)],
                vec![(1, 0, 9), (2, 0, 1)],
            ),
            (
                "stake counted in units of stake_per_vote",
                params(100, 1, 1_000, Linear),
                vec![cand(1, 5_999, 1, 0), cand(2, 2_000, 1, 0)],
                vec![(1, 0, 5), (2, 0, 2)],
            ),
            (
                "below one unit of power: not elected",
                params(100, 1, 1_000, Linear),
                vec![cand(1, 999, 1, 0), cand(2, 1_000, 1, 0)],
                vec![(2, 0, 1)],
            ),
            (
                "max_validators keeps the largest stakes",
                params(2, 1, 1, Linear),
                vec![cand(1, 10, 1, 0), cand(2, 30, 1, 0), cand(3, 20, 1, 0)],
                vec![(2, 0, 30), (3, 0, 20)],
            ),
            (
                "one node per entity by default; the rest are not elected",
                params(100, 1, 1, Linear),
                vec![cand(1, 10, 3, 0)],
                vec![(1, 0, 10)],
            ),
            (
                "per-entity limit: power split between the entity's nodes",
                params(100, 2, 1, Linear),
                vec![cand(1, 10, 3, 0), cand(2, 7, 1, 0)],
                vec![(1, 0, 5), (1, 1, 5), (2, 0, 7)],
            ),
            (
                "per-entity limit meets max_validators",
                params(3, 2, 1, Linear),
                vec![cand(1, 10, 2, 0), cand(2, 8, 2, 0)],
                vec![(1, 0, 5), (1, 1, 5), (2, 0, 8)],
            ),
            (
                "equal stakes: the entropy key decides",
                params(1, 1, 1, Linear),
                vec![cand(1, 50, 1, 9), cand(2, 50, 1, 3)],
                vec![(2, 0, 50)],
            ),
            (
                "an entity without nodes takes no seat",
                params(1, 1, 1, Linear),
                vec![cand(1, 90, 0, 0), cand(2, 50, 1, 0)],
                vec![(2, 0, 50)],
            ),
            (
                "no candidates, no validators",
                params(100, 1, 1, Linear),
                vec![],
                vec![],
            ),
        ];
        for (name, p, candidates, want) in table {
            // The result never depends on the order candidates come in.
            let mut reversed = candidates.clone();
            reversed.reverse();
            assert_eq!(elected(&p, candidates), want, "{name}");
            assert_eq!(elected(&p, reversed), want, "{name} (reversed input)");
        }
    }

    #[test]
    fn huge_stakes_are_scaled_together_below_the_limit() {
        let p = params(100, 1, 1, Linear);
        let big = u128::MAX / 4;
        let set = elected(
            &p,
            vec![cand(1, big, 1, 0), cand(2, big / 2, 1, 0), cand(3, 1, 1, 0)],
        );
        let total: u128 = set.iter().map(|(_, _, p)| u128::from(*p)).sum();
        assert!(total <= MAX_TOTAL_POWER, "{set:?}");
        // Proportions survive the scaling (within rounding); a tiny stake
        // keeps a power of one rather than leaving the set.
        let (a, b, c) = (set[0].2, set[1].2, set[2].2);
        assert!(a.abs_diff(b * 2) <= 2, "{set:?}");
        assert_eq!(c, 1);
    }

    #[test]
    fn integer_square_root_is_exact() {
        for (n, root) in [
            (0u128, 0u128),
            (1, 1),
            (2, 1),
            (3, 1),
            (4, 2),
            (15, 3),
            (16, 4),
            (1 << 64, 1 << 32),
            ((1 << 64) - 1, (1 << 32) - 1),
            (u128::MAX, u128::from(u64::MAX)),
        ] {
            assert_eq!(Sqrt.power(n), root, "sqrt {n}");
            assert_eq!(Linear.power(n), n);
        }
    }
}

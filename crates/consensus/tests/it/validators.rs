//! Validator set changes, block by block: entities that escrow and register
//! validator nodes join the set at the next epoch with power following
//! their stake (linear or square root); one whose node lapses and one that
//! reclaims its stake below one unit of voting power leave it.

use atoll_consensus::services::scheduler::state::SchedulerState;
use atoll_consensus_types::registry::{self, KeyAddresses, MultiSigned, Node, Roles};
use atoll_consensus_types::scheduler::VotingPowerDistribution;
use atoll_consensus_types::staking::{Escrow, ReclaimEscrow, ThresholdKind, methods as staking};
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_types::signed::SignatureBundle;
use atoll_types::{Quantity, cbor};

use crate::registry::entity;
use crate::{Net, addr};

const GAS: u64 = 100_000;
/// Base units of stake per unit of voting power.
const UNIT: u128 = 1_000;

/// Node keys (identity, p2p, consensus) of entity `i`'s validator node.
fn node_keys(i: u8) -> [SigningKey; 3] {
    [0u8, 1, 2].map(|k| SigningKey::from_seed(&[150 + i * 3 + k; 32]))
}

/// Entity `i`'s validator node descriptor, expiring after `expiration`.
fn validator_node(entity: &SigningKey, i: u8, expiration: u64) -> MultiSigned {
    let keys = node_keys(i);
    let desc = Node {
        v: 1,
        id: keys[0].public_key(),
        entity_id: entity.public_key(),
        expiration,
        p2p: KeyAddresses {
            id: keys[1].public_key(),
            addresses: vec!["127.0.0.1:9000".into()],
        },
        consensus: KeyAddresses {
            id: keys[2].public_key(),
            addresses: vec!["127.0.0.1:9001".into()],
        },
        vrf: None,
        runtimes: vec![],
        roles: Roles::VALIDATOR,
        software_version: "test".into(),
    };
    let raw = cbor::to_vec(&desc).unwrap();
    let ctx = Context::new(registry::NODE_SIGNATURE_CONTEXT).unwrap();
    MultiSigned {
        signatures: keys
            .iter()
            .map(|k| SignatureBundle {
                public_key: k.public_key(),
                signature: k.sign(&ctx, &raw),
            })
            .collect(),
        untrusted_raw_value: raw,
    }
}

/// Entity `i` escrows `stake` with itself and registers its validator node,
/// in one block (nonces 0..=2).
fn join(net: &mut Net, i: usize, stake: u128, expiration: u64) {
    let k = net.keys[i].clone();
    let node_id = node_keys(i as u8)[0].public_key();
    let escrow = Escrow {
        account: addr(&k),
        amount: Quantity(stake),
    };
    let txs = vec![
        net.tx(i, 0, staking::ADD_ESCROW, &escrow, 0, GAS),
        net.tx(
            i,
            1,
            registry::methods::REGISTER_ENTITY,
            &entity(&k, vec![node_id]),
            0,
            GAS,
        ),
        net.tx(
            i,
            2,
            registry::methods::REGISTER_NODE,
            &validator_node(&k, i as u8, expiration),
            0,
            GAS,
        ),
    ];
    let r = net.block(txs);
    for t in &r.tx_results {
        assert!(t.error.is_none(), "{:?}", t.error);
    }
}

/// The current validator set as (node id, power).
fn set(net: &mut Net) -> Vec<(PublicKey, u64)> {
    SchedulerState::new(&mut net.store)
        .validators()
        .unwrap()
        .into_iter()
        .map(|v| (v.node_id, v.voting_power))
        .collect()
}

fn node(i: usize) -> PublicKey {
    node_keys(i as u8)[0].public_key()
}

/// Keys 0, 1, 2 are funded; thresholds: entity 100, validator node 200;
/// one unit of power per 1,000 base units.
fn net(distribution: VotingPowerDistribution) -> Net {
    Net::with(3, |g| {
        let t = &mut g.staking.parameters.thresholds;
        t.insert(ThresholdKind::Entity, Quantity(100));
        t.insert(ThresholdKind::NodeValidator, Quantity(200));
        g.scheduler.stake_per_vote = Quantity(UNIT);
        g.scheduler.voting_power_distribution = distribution;
    })
}

fn joins_and_leaves(distribution: VotingPowerDistribution, power: impl Fn(u128) -> u64) {
    let mut net = net(distribution);
    assert_eq!(set(&mut net), vec![]);
    // Entity 0 stays; entity 1's node lapses after epoch 2; entity 2 will
    // reclaim most of its stake.
    join(&mut net, 0, 4_000, 5);
    join(&mut net, 1, 9_000, 2);
    join(&mut net, 2, 16_000, 5);
    // Registered in epoch 0: nothing changes before the next epoch.
    assert_eq!(set(&mut net), vec![]);

    net.advance_to_epoch(1);
    assert_eq!(
        set(&mut net),
        vec![
            (node(2), power(16)),
            (node(1), power(9)),
            (node(0), power(4)),
        ]
    );

    // Entity 2 reclaims all but 900 base units: its claims (300) are still
    // covered, but it holds less than one unit of voting power.
    let reclaim = ReclaimEscrow {
        account: addr(&net.keys[2]),
        shares: Quantity(15_100),
    };
    let tx = net.tx(2, 3, staking::RECLAIM_ESCROW, &reclaim, 0, GAS);
    let r = net.block(vec![tx]);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    // The set of the running epoch does not change mid-epoch.
    assert_eq!(set(&mut net).len(), 3);

    net.advance_to_epoch(2);
    assert_eq!(
        set(&mut net),
        vec![(node(1), power(9)), (node(0), power(4))]
    );

    // Entity 1's node expired with epoch 2: it leaves at epoch 3.
    net.advance_to_epoch(3);
    assert_eq!(set(&mut net), vec![(node(0), power(4))]);
}

#[test]
fn validators_join_and_leave_with_linear_power() {
    joins_and_leaves(VotingPowerDistribution::Linear, |units| units as u64);
}

#[test]
fn validators_join_and_leave_with_square_root_power() {
    joins_and_leaves(VotingPowerDistribution::Sqrt, |units| units.isqrt() as u64);
}

#[test]
fn reclaiming_below_the_claims_is_refused_and_keeps_the_seat() {
    let mut net = net(VotingPowerDistribution::Linear);
    join(&mut net, 0, 4_000, 5);
    net.advance_to_epoch(1);
    let before = set(&mut net);
    assert_eq!(before, vec![(node(0), 4)]);
    // 100 entity + 200 validator node must stay escrowed.
    let reclaim = ReclaimEscrow {
        account: addr(&net.keys[0]),
        shares: Quantity(3_800),
    };
    let tx = net.tx(0, 3, staking::RECLAIM_ESCROW, &reclaim, 0, GAS);
    let r = net.block(vec![tx]);
    assert!(r.tx_results[0].error.is_some());
    assert_eq!(
        net.account(&addr(&net.keys[0])).escrow.active.balance.0,
        4_000
    );
    net.advance_to_epoch(2);
    assert_eq!(set(&mut net), before);
}

#[test]
fn the_power_function_is_a_genesis_parameter_absent_when_linear() {
    let mut g = net(VotingPowerDistribution::Linear).genesis;
    let json = g.to_json().unwrap();
    assert!(!json.contains("voting_power_distribution"), "{json}");
    g.scheduler.voting_power_distribution = VotingPowerDistribution::Sqrt;
    let json = g.to_json().unwrap();
    assert!(
        json.contains("\"voting_power_distribution\": \"sqrt\""),
        "{json}"
    );
    let back = atoll_consensus::genesis::Genesis::from_json(&json).unwrap();
    assert_eq!(back.scheduler, g.scheduler);
    // An unknown function is refused, not read as the default.
    let bad = json.replace("\"sqrt\"", "\"cubic\"");
    assert!(atoll_consensus::genesis::Genesis::from_json(&bad).is_err());
}

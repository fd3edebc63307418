//! Registering entities, nodes and runtimes by transaction: signatures,
//! stake claims, admission policies and expiry.

use std::collections::BTreeMap;

use atoll_consensus::services::registry::state::RegistryState;
use atoll_consensus_types::registry::{
    self, AdmissionPolicy, Entity, ExecutorParameters, KeyAddresses, MultiSigned, Node,
    NodeRuntime, Roles, Runtime, RuntimeGenesis, RuntimeKind, StorageParameters, TeeHardware,
    TxnSchedulerParameters, Version,
};
use atoll_consensus_types::staking::{Escrow, ThresholdKind, methods as staking_methods};
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_types::signed::{SignatureBundle, Signed};
use atoll_types::{Namespace, Quantity, cbor};

use crate::{Net, addr};

const GAS: u64 = 100_000;

fn err(r: &atoll_consensus::app::BlockResult) -> Option<(String, u32)> {
    r.tx_results[0]
        .error
        .as_ref()
        .map(|e| (e.module.clone(), e.code))
}

/// Keys 0 and 1 are funded entities; thresholds: entity 100, compute node
/// 200, compute runtime 300.
fn net() -> Net {
    Net::with(2, |g| {
        g.beacon.interval = 100;
        let t = &mut g.staking.parameters.thresholds;
        t.insert(ThresholdKind::Entity, Quantity(100));
        t.insert(ThresholdKind::NodeCompute, Quantity(200));
        t.insert(ThresholdKind::RuntimeCompute, Quantity(300));
    })
}

fn node_keys(i: u8) -> [SigningKey; 3] {
    [0u8, 1, 2].map(|k| SigningKey::from_seed(&[60 + i * 3 + k; 32]))
}

fn node(
    entity: &SigningKey,
    i: u8,
    runtimes: Vec<Namespace>,
    expiration: u64,
) -> (MultiSigned, [SigningKey; 3]) {
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
            addresses: vec![],
        },
        vrf: None,
        runtimes: runtimes
            .into_iter()
            .map(|id| NodeRuntime {
                id,
                version: Version::default(),
                tee: None,
            })
            .collect(),
        roles: Roles::COMPUTE,
        software_version: "test".into(),
    };
    let raw = cbor::to_vec(&desc).unwrap();
    let ctx = Context::new(registry::NODE_SIGNATURE_CONTEXT).unwrap();
    let signatures = keys
        .iter()
        .map(|k| SignatureBundle {
            public_key: k.public_key(),
            signature: k.sign(&ctx, &raw),
        })
        .collect();
    (
        MultiSigned {
            untrusted_raw_value: raw,
            signatures,
        },
        keys,
    )
}

fn runtime(entity: &SigningKey, id: u8, policy: AdmissionPolicy) -> Signed<Runtime> {
    runtime_with_id(entity, Namespace([id; 32]), policy)
}

/// A signed descriptor of runtime `id`, owned by `entity`.
pub(crate) fn runtime_with_id(
    entity: &SigningKey,
    id: Namespace,
    policy: AdmissionPolicy,
) -> Signed<Runtime> {
    let rt = Runtime {
        v: 1,
        id,
        entity_id: entity.public_key(),
        kind: RuntimeKind::Compute,
        tee_hardware: TeeHardware::None,
        key_manager: None,
        executor: ExecutorParameters {
            group_size: 1,
            group_backup_size: 0,
            allowed_stragglers: 0,
            round_timeout: 5,
            max_messages: 8,
            max_nodes_per_entity: 0,
            min_live_rounds_percent: 0,
            max_missed_proposals_percent: 0,
            min_live_rounds_eval: 0,
            max_liveness_fails: 0,
        },
        txn_scheduler: TxnSchedulerParameters {
            max_batch_size: 100,
            max_batch_size_bytes: 1 << 20,
            batch_flush_timeout_ms: 100,
            propose_batch_timeout_ms: 100,
        },
        storage: StorageParameters {
            checkpoint_interval: 0,
            checkpoint_num_kept: 0,
            checkpoint_chunk_size: 0,
        },
        admission_policy: policy,
        genesis: RuntimeGenesis {
            state_root: Hash::empty(),
            round: 0,
        },
    };
    Signed::sign(
        entity,
        &Context::new(registry::RUNTIME_SIGNATURE_CONTEXT).unwrap(),
        &rt,
    )
    .unwrap()
}

pub(crate) fn entity(
    key: &SigningKey,
    nodes: Vec<atoll_crypto::ed25519::PublicKey>,
) -> Signed<Entity> {
    let e = Entity {
        v: 1,
        id: key.public_key(),
        nodes,
    };
    Signed::sign(
        key,
        &Context::new(registry::ENTITY_SIGNATURE_CONTEXT).unwrap(),
        &e,
    )
    .unwrap()
}

fn escrow_self(net: &mut Net, i: usize, nonce: u64, amount: u128) {
    let body = Escrow {
        account: addr(&net.keys[i]),
        amount: Quantity(amount),
    };
    let tx = net.tx(i, nonce, staking_methods::ADD_ESCROW, &body, 0, GAS);
    assert_eq!(err(&net.block(vec![tx])), None);
}

#[test]
fn entity_needs_its_stake_threshold() {
    let mut net = net();
    let k = net.keys[0].clone();
    let tx = net.tx(
        0,
        0,
        registry::methods::REGISTER_ENTITY,
        &entity(&k, vec![]),
        0,
        GAS,
    );
    assert_eq!(err(&net.block(vec![tx])), Some(("staking".into(), 3)));
    escrow_self(&mut net, 0, 1, 100);
    let tx = net.tx(
        0,
        2,
        registry::methods::REGISTER_ENTITY,
        &entity(&k, vec![]),
        0,
        GAS,
    );
    assert_eq!(err(&net.block(vec![tx])), None);
    assert!(
        RegistryState::new(&mut net.store)
            .entity(&k.public_key())
            .unwrap()
            .is_some()
    );
    // Someone else cannot register this entity, even with its signed descriptor.
    let tx = net.tx(
        1,
        0,
        registry::methods::REGISTER_ENTITY,
        &entity(&k, vec![]),
        0,
        GAS,
    );
    assert_eq!(err(&net.block(vec![tx])), Some(("registry".into(), 3)));
}

#[test]
fn node_and_runtime_registration() {
    let mut net = net();
    let k = net.keys[0].clone();
    escrow_self(&mut net, 0, 0, 100 + 300 + 200);
    let (ms, nkeys) = node(&k, 0, vec![Namespace([7; 32])], 3);
    let txs = vec![
        net.tx(
            0,
            1,
            registry::methods::REGISTER_ENTITY,
            &entity(&k, vec![nkeys[0].public_key()]),
            0,
            GAS,
        ),
        net.tx(
            0,
            2,
            registry::methods::REGISTER_RUNTIME,
            &runtime(&k, 7, AdmissionPolicy::AnyNode {}),
            0,
            GAS,
        ),
        net.tx(0, 3, registry::methods::REGISTER_NODE, &ms, 0, GAS),
    ];
    let r = net.block(txs);
    for (i, t) in r.tx_results.iter().enumerate() {
        assert!(t.error.is_none(), "tx {i}: {:?}", t.error);
    }
    let acct = net.account(&Address::from_ed25519(&k.public_key()));
    assert_eq!(acct.escrow.stake_accumulator.claims.len(), 3);
    // The stake now backs three claims: reclaiming any of it is refused.
    let rec = atoll_consensus_types::staking::ReclaimEscrow {
        account: addr(&k),
        shares: Quantity(1),
    };
    let tx = net.tx(0, 4, staking_methods::RECLAIM_ESCROW, &rec, 0, GAS);
    assert_eq!(err(&net.block(vec![tx])), Some(("staking".into(), 3)));
}

#[test]
fn node_descriptor_needs_every_key() {
    let mut net = net();
    let k = net.keys[0].clone();
    escrow_self(&mut net, 0, 0, 600);
    let (mut ms, nkeys) = node(&k, 0, vec![], 3);
    let tx = net.tx(
        0,
        1,
        registry::methods::REGISTER_ENTITY,
        &entity(&k, vec![nkeys[0].public_key()]),
        0,
        GAS,
    );
    net.block(vec![tx]);
    ms.signatures.pop();
    let tx = net.tx(0, 2, registry::methods::REGISTER_NODE, &ms, 0, GAS);
    assert_eq!(err(&net.block(vec![tx])), Some(("registry".into(), 2)));
    // A node the entity does not list.
    let (other, _) = node(&k, 1, vec![], 3);
    let tx = net.tx(0, 3, registry::methods::REGISTER_NODE, &other, 0, GAS);
    assert_eq!(err(&net.block(vec![tx])), Some(("registry".into(), 3)));
    // An expiration beyond max_node_expiration (5 epochs).
    let (far, _) = node(&k, 0, vec![], 99);
    let tx = net.tx(0, 4, registry::methods::REGISTER_NODE, &far, 0, GAS);
    assert_eq!(err(&net.block(vec![tx])), Some(("registry".into(), 1)));
}

#[test]
fn whitelist_refuses_other_entities_nodes() {
    let mut net = net();
    let (owner, outsider) = (net.keys[0].clone(), net.keys[1].clone());
    let mut list = BTreeMap::new();
    list.insert(owner.public_key(), BTreeMap::from([(Roles::COMPUTE, 1u16)]));
    escrow_self(&mut net, 0, 0, 1000);
    escrow_self(&mut net, 1, 0, 1000);
    let (own_node, own_keys) = node(&owner, 0, vec![Namespace([9; 32])], 3);
    let (out_node, out_keys) = node(&outsider, 1, vec![Namespace([9; 32])], 3);
    let txs = vec![
        net.tx(
            0,
            1,
            registry::methods::REGISTER_ENTITY,
            &entity(&owner, vec![own_keys[0].public_key()]),
            0,
            GAS,
        ),
        net.tx(
            1,
            1,
            registry::methods::REGISTER_ENTITY,
            &entity(&outsider, vec![out_keys[0].public_key()]),
            0,
            GAS,
        ),
        net.tx(
            0,
            2,
            registry::methods::REGISTER_RUNTIME,
            &runtime(
                &owner,
                9,
                AdmissionPolicy::EntityWhitelist { entities: list },
            ),
            0,
            GAS,
        ),
        net.tx(0, 3, registry::methods::REGISTER_NODE, &own_node, 0, GAS),
        net.tx(1, 2, registry::methods::REGISTER_NODE, &out_node, 0, GAS),
    ];
    let r = net.block(txs);
    let errs: Vec<_> = r
        .tx_results
        .iter()
        .map(|t| t.error.as_ref().map(|e| (e.module.clone(), e.code)))
        .collect();
    assert_eq!(errs[..4], [None, None, None, None]);
    assert_eq!(errs[4], Some(("registry".into(), 8)));
}

#[test]
fn expired_nodes_lapse_and_release_their_claim() {
    let mut net = net();
    let k = net.keys[0].clone();
    escrow_self(&mut net, 0, 0, 300);
    let (ms, nkeys) = node(&k, 0, vec![], 1);
    let txs = vec![
        net.tx(
            0,
            1,
            registry::methods::REGISTER_ENTITY,
            &entity(&k, vec![nkeys[0].public_key()]),
            0,
            GAS,
        ),
        net.tx(0, 2, registry::methods::REGISTER_NODE, &ms, 0, GAS),
    ];
    assert!(net.block(txs).tx_results.iter().all(|t| t.error.is_none()));
    let a = Address::from_ed25519(&k.public_key());
    assert_eq!(net.account(&a).escrow.stake_accumulator.claims.len(), 2);
    let debonding = net.genesis.staking.parameters.debonding_interval;
    assert!(debonding >= 1);
    net.advance_to_epoch(2);
    // Lapsed: the claim is released at once, but the descriptor stays (the
    // node is still slashable) until the debonding interval has passed.
    assert_eq!(net.account(&a).escrow.stake_accumulator.claims.len(), 1);
    let node = |net: &mut crate::Net| {
        RegistryState::new(&mut net.store)
            .node(&nkeys[0].public_key())
            .unwrap()
    };
    assert!(node(&mut net).is_some(), "still slashable");
    net.advance_to_epoch(1 + debonding);
    assert!(node(&mut net).is_some(), "still slashable");
    net.advance_to_epoch(2 + debonding);
    assert!(
        node(&mut net).is_none(),
        "gone after the debonding interval"
    );
    assert_eq!(net.account(&a).escrow.stake_accumulator.claims.len(), 1);
}

#[test]
fn lapse_follows_expiration_and_debonding() {
    use atoll_consensus::services::registry::{Lapse, lapse};
    use atoll_types::Epoch;
    let table = [
        (5, 2, 4, Lapse::Live),
        (5, 2, 5, Lapse::Live),
        (5, 2, 6, Lapse::Slashable),
        (5, 2, 7, Lapse::Slashable),
        (5, 2, 8, Lapse::Gone),
        (5, 0, 6, Lapse::Gone),
        (u64::MAX, 2, u64::MAX, Lapse::Live),
        (u64::MAX - 1, 5, u64::MAX, Lapse::Slashable),
    ];
    for (expiration, debonding, epoch, want) in table {
        assert_eq!(
            lapse(expiration, debonding, Epoch(epoch)),
            want,
            "expiration {expiration}, debonding {debonding}, epoch {epoch}"
        );
    }
}

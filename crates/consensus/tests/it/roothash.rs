//! Executor committees end to end in the state machine: genesis with
//! entities, compute nodes and a runtime; commitments signed by node keys;
//! discrepancy, backup resolution, slashing, timeouts, permissioned runtimes.

use std::collections::BTreeMap;

use atoll_consensus::genesis::{Genesis, StakedNode};
use atoll_consensus::services::beacon::{self, VrfProve};
use atoll_consensus::services::roothash::state::RoothashState;
use atoll_consensus::services::scheduler::state::SchedulerState;
use atoll_consensus_types::registry::{
    AdmissionPolicy, ExecutorParameters, Roles, Runtime, RuntimeGenesis, RuntimeKind,
    StorageParameters, TeeHardware, TxnSchedulerParameters,
};
use atoll_consensus_types::roothash::{
    self, CommitmentHeader, ComputeResults, Evidence, ExecutorCommit, ExecutorCommitment,
    HeaderType, Message, RuntimeState, Vote,
};
use atoll_consensus_types::scheduler::{Committee, Role};
use atoll_consensus_types::staking::{Slash, SlashReason, Transfer};
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_crypto::vrf::VrfSigningKey;
use atoll_crypto::{Address, Hash};
use atoll_types::{Namespace, Quantity, cbor};

use crate::{Net, addr, key};

const RT: Namespace = Namespace([0x80; 32]);
const STAKE: u128 = 1_000;
const SLASH: u128 = 100;
const GAS: u64 = 100_000;

struct Nodes {
    /// Node identity keys, one per entity.
    nodes: Vec<SigningKey>,
}

fn node_key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[100 + i; 32])
}

fn entity_key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[150 + i; 32])
}

fn runtime(policy: AdmissionPolicy) -> Runtime {
    Runtime {
        v: 1,
        id: RT,
        entity_id: entity_key(0).public_key(),
        kind: RuntimeKind::Compute,
        tee_hardware: TeeHardware::None,
        key_manager: None,
        executor: ExecutorParameters {
            group_size: 3,
            group_backup_size: 2,
            allowed_stragglers: 0,
            round_timeout: 4,
            max_messages: 16,
            max_nodes_per_entity: 1,
            min_live_rounds_percent: 0,
            max_missed_proposals_percent: 0,
            min_live_rounds_eval: 0,
            max_liveness_fails: 0,
        },
        txn_scheduler: TxnSchedulerParameters {
            max_batch_size: 1000,
            max_batch_size_bytes: 1 << 20,
            batch_flush_timeout_ms: 100,
            propose_batch_timeout_ms: 200,
        },
        storage: StorageParameters {
            checkpoint_interval: 0,
            checkpoint_num_kept: 0,
            checkpoint_chunk_size: 0,
        },
        admission_policy: policy,
        genesis: RuntimeGenesis {
            state_root: Hash::digest(b"runtime genesis"),
            round: 0,
        },
    }
}

/// A network with `n` entities, each staking [`STAKE`] and running one
/// compute node that serves the runtime, plus one funded user (key 0).
fn network(n: u8, policy: AdmissionPolicy) -> (Net, Nodes) {
    network_with(n, policy, |_| {})
}

fn vrf_key(i: u8) -> VrfSigningKey {
    VrfSigningKey::from_seed(&[240 + i; 32])
}

fn network_with(n: u8, policy: AdmissionPolicy, tweak: impl FnOnce(&mut Genesis)) -> (Net, Nodes) {
    let nodes: Vec<SigningKey> = (0..n).map(node_key).collect();
    let net = Net::with(1, |g: &mut Genesis| {
        // Long enough that no epoch change drops a round under test.
        g.beacon.interval = 50;
        g.staking.parameters.slashing.insert(
            SlashReason::RuntimeIncorrectResults,
            Slash {
                amount: Quantity(SLASH),
                freeze_interval: 2,
            },
        );
        g.staking.parameters.slashing.insert(
            SlashReason::RuntimeEquivocation,
            Slash {
                amount: Quantity(SLASH * 2),
                freeze_interval: 2,
            },
        );
        for i in 0..n {
            g.add_staked_node(StakedNode {
                entity: entity_key(i).public_key(),
                stake: Quantity(STAKE),
                node: node_key(i).public_key(),
                consensus: SigningKey::from_seed(&[220 + i; 32]).public_key(),
                p2p: SigningKey::from_seed(&[200 + i; 32]).public_key(),
                vrf: Some(vrf_key(i).public_key()),
                roles: Roles::COMPUTE,
                runtimes: vec![RT],
                expiration: 1_000,
            });
        }
        // The runtime's own account holds funds its messages can move.
        g.fund(Address::from_runtime_id(RT.as_bytes()), Quantity(5_000));
        g.registry.runtimes.push(runtime(policy));
        tweak(g);
    });
    (net, Nodes { nodes })
}

fn committee(net: &mut Net) -> Committee {
    SchedulerState::new(&mut net.store)
        .committee(&RT)
        .unwrap()
        .expect("a committee was elected")
}

fn rt_state(net: &mut Net) -> RuntimeState {
    RoothashState::new(&mut net.store)
        .runtime(&RT)
        .unwrap()
        .expect("runtime state")
}

impl Nodes {
    fn key_of(&self, pk: &PublicKey) -> &SigningKey {
        self.nodes
            .iter()
            .find(|k| &k.public_key() == pk)
            .expect("a known node")
    }
}

fn results(net: &mut Net, root: &[u8], messages: &[Message]) -> Vote {
    let rs = rt_state(net);
    Vote::Results(ComputeResults {
        round: rs.last_block.round + 1,
        previous_hash: rs.last_block.hash(),
        io_root: Hash::digest(b"io"),
        state_root: Hash::digest(root),
        messages_hash: roothash::messages_hash(messages),
    })
}

fn commit(
    net: &Net,
    nodes: &Nodes,
    node: &PublicKey,
    scheduler: &PublicKey,
    vote: &Vote,
    messages: Vec<Message>,
) -> ExecutorCommitment {
    let header = CommitmentHeader {
        runtime: RT,
        scheduler_id: *scheduler,
        vote: vote.clone(),
    };
    let bytes = cbor::to_vec(&header).unwrap();
    let signature = nodes
        .key_of(node)
        .sign(net.app.commitment_context(), &bytes);
    ExecutorCommitment {
        node_id: *node,
        header,
        signature,
        messages,
    }
}

/// Every worker votes `vote` for `scheduler`'s batch; the scheduler carries `msgs`.
fn all_workers_commit(
    net: &Net,
    nodes: &Nodes,
    c: &Committee,
    scheduler: &PublicKey,
    vote: &Vote,
    msgs: &[Message],
) -> Vec<ExecutorCommitment> {
    c.workers()
        .map(|w| {
            let carried = if w == scheduler {
                msgs.to_vec()
            } else {
                vec![]
            };
            commit(net, nodes, w, scheduler, vote, carried)
        })
        .collect()
}

/// Submits commitments in one transaction from the user account (key 0).
fn submit(
    net: &mut Net,
    nonce: u64,
    commits: Vec<ExecutorCommitment>,
) -> atoll_consensus::app::BlockResult {
    let body = ExecutorCommit { id: RT, commits };
    let tx = net.tx(0, nonce, roothash::methods::EXECUTOR_COMMIT, &body, 0, GAS);
    net.block(vec![tx])
}

fn escrow_of(net: &mut Net, node: u8) -> u128 {
    let a = Address::from_ed25519(&entity_key(node).public_key());
    net.account(&a).escrow.active.balance.0
}

fn index_of(nodes: &Nodes, pk: &PublicKey) -> u8 {
    nodes
        .nodes
        .iter()
        .position(|k| &k.public_key() == pk)
        .unwrap() as u8
}

#[test]
fn honest_round_finalizes_and_runs_messages() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    assert_eq!(c.workers().count(), 3);
    assert_eq!(c.backups().count(), 2);
    let scheduler = c.proposer_order(1)[0];
    let msgs = vec![Message::Transfer(Transfer {
        to: addr(&key(0)),
        amount: Quantity(700),
    })];
    let vote = results(&mut net, b"state 1", &msgs);
    let commits = all_workers_commit(&net, &nodes, &c, &scheduler, &vote, &msgs);
    let before = net.balance(0);
    let r = submit(&mut net, 0, commits);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.round, 1);
    assert_eq!(rs.last_block.header_type, HeaderType::Normal);
    assert_eq!(rs.last_block.state_root, Hash::digest(b"state 1"));
    assert_eq!(rs.last_message_results.len(), 1);
    assert_eq!(rs.last_message_results[0].code, 0);
    assert_eq!(net.balance(0), before + 700);
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn wrong_root_is_resolved_by_backups_and_the_liar_is_slashed() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let order = c.proposer_order(1);
    let (scheduler, honest, liar) = (order[0], order[1], order[2]);
    let good = results(&mut net, b"honest", &[]);
    let bad = results(&mut net, b"lie", &[]);
    let commits = vec![
        commit(&net, &nodes, &scheduler, &scheduler, &good, vec![]),
        commit(&net, &nodes, &honest, &scheduler, &good, vec![]),
        commit(&net, &nodes, &liar, &scheduler, &bad, vec![]),
    ];
    let r = submit(&mut net, 0, commits);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.round, 0, "not finalized during a discrepancy");
    assert!(rs.round.as_ref().unwrap().discrepancy);

    // A worker may not vote again once backups decide.
    let again = commit(&net, &nodes, &honest, &scheduler, &good, vec![]);
    let r = submit(&mut net, 1, vec![again]);
    assert_eq!(
        r.tx_results[0]
            .error
            .as_ref()
            .map(|e| (e.module.as_str(), e.code)),
        Some(("roothash", 3))
    );

    let backups: Vec<PublicKey> = c.backups().copied().collect();
    let liar_escrow = escrow_of(&mut net, index_of(&nodes, &liar));
    let commits = backups
        .iter()
        .map(|b| commit(&net, &nodes, b, &scheduler, &good, vec![]))
        .collect();
    let r = submit(&mut net, 2, commits);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.round, 1);
    assert_eq!(rs.last_block.header_type, HeaderType::Normal);
    assert_eq!(rs.last_block.state_root, Hash::digest(b"honest"));
    assert_eq!(
        escrow_of(&mut net, index_of(&nodes, &liar)),
        liar_escrow - SLASH
    );
    assert_eq!(escrow_of(&mut net, index_of(&nodes, &honest)), STAKE);
    assert_eq!(
        net.total_tokens(),
        net.total_supply(),
        "slashed stake went to the common pool"
    );
}

#[test]
fn too_few_commitments_time_out_into_round_failed() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let scheduler = c.proposer_order(1)[0];
    let vote = results(&mut net, b"alone", &[]);
    let genesis_root = rt_state(&mut net).last_block.state_root;
    let alone = commit(&net, &nodes, &scheduler, &scheduler, &vote, vec![]);
    submit(&mut net, 0, vec![alone]);
    // Worker timeout (4 blocks), then backup timeout (6 blocks): nobody else votes.
    let mut failed_at = None;
    for i in 0..12 {
        net.block(vec![]);
        let rs = rt_state(&mut net);
        if rs.last_block.header_type == HeaderType::RoundFailed {
            failed_at = Some(i);
            break;
        }
        assert!(rs.round.is_some());
    }
    let failed_at = failed_at.expect("the round failed");
    assert!(
        failed_at >= 8,
        "worker and backup timeouts both elapse first, failed after {failed_at}"
    );
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.round, 1);
    assert_eq!(
        rs.last_block.state_root, genesis_root,
        "a failed round changes no state"
    );
    assert!(rs.round.is_none());
}

#[test]
fn permissioned_runtime_never_elects_outsiders() {
    let mut entities = BTreeMap::new();
    for i in 0..3 {
        let mut per_role = BTreeMap::new();
        per_role.insert(Roles::COMPUTE, 1u16);
        entities.insert(entity_key(i).public_key(), per_role);
    }
    let (mut net, nodes) = network(8, AdmissionPolicy::EntityWhitelist { entities });
    let allowed: Vec<PublicKey> = (0..3).map(|i| nodes.nodes[i].public_key()).collect();
    let mut elected = 0;
    for epoch in 0..6 {
        if epoch > 0 {
            net.advance_to_epoch(epoch);
        }
        let c = SchedulerState::new(&mut net.store)
            .committee(&RT)
            .unwrap()
            .expect("three whitelisted nodes fill the committee (backups may overlap workers)");
        assert_eq!(c.epoch.0, epoch);
        for m in &c.members {
            assert!(
                allowed.contains(&m.node_id),
                "epoch {epoch}: outsider elected"
            );
        }
        elected += c.members.len();
    }
    assert_eq!(elected, 6 * 5);
}

#[test]
fn equivocation_evidence_slashes() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let scheduler = c.proposer_order(1)[0];
    let (vote_a, vote_b) = (results(&mut net, b"a", &[]), results(&mut net, b"b", &[]));
    let a = commit(&net, &nodes, &scheduler, &scheduler, &vote_a, vec![]);
    let b = commit(&net, &nodes, &scheduler, &scheduler, &vote_b, vec![]);
    let before = escrow_of(&mut net, index_of(&nodes, &scheduler));
    let ev = Evidence {
        id: RT,
        commit_a: a.clone(),
        commit_b: a.clone(),
    };
    let r = net.block(vec![net.tx(0, 0, roothash::methods::EVIDENCE, &ev, 0, GAS)]);
    assert_eq!(
        r.tx_results[0].error.as_ref().map(|e| e.code),
        Some(8),
        "identical commitments prove nothing"
    );
    let ev = Evidence {
        id: RT,
        commit_a: a,
        commit_b: b,
    };
    let r = net.block(vec![net.tx(0, 1, roothash::methods::EVIDENCE, &ev, 0, GAS)]);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    assert_eq!(
        escrow_of(&mut net, index_of(&nodes, &scheduler)),
        before - 2 * SLASH
    );
}

#[test]
fn forged_and_misplaced_commitments_are_refused() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let scheduler = c.proposer_order(1)[0];
    let vote = results(&mut net, b"x", &[]);
    // Signed by another key.
    let mut forged = commit(&net, &nodes, &scheduler, &scheduler, &vote, vec![]);
    forged.signature = node_key(99).sign(net.app.commitment_context(), b"whatever");
    // A backup voting before any discrepancy.
    let backup = *c.backups().next().unwrap();
    let early = commit(&net, &nodes, &backup, &scheduler, &vote, vec![]);
    // The wrong round.
    let stale = {
        let mut v = vote.clone();
        if let Vote::Results(r) = &mut v {
            r.round = 5;
        }
        commit(&net, &nodes, &scheduler, &scheduler, &v, vec![])
    };
    // Messages that do not match the committed hash.
    let msgs = vec![Message::Transfer(Transfer {
        to: addr(&key(0)),
        amount: Quantity(1),
    })];
    let lying_msgs = commit(&net, &nodes, &scheduler, &scheduler, &vote, msgs);
    for (i, (bad, code)) in [(forged, 5), (early, 3), (stale, 2), (lying_msgs, 6)]
        .into_iter()
        .enumerate()
    {
        let r = submit(&mut net, i as u64, vec![bad]);
        assert_eq!(
            r.tx_results[0]
                .error
                .as_ref()
                .map(|e| (e.module.as_str(), e.code)),
            Some(("roothash", code))
        );
    }
    assert_eq!(
        rt_state(&mut net).round,
        None,
        "refused commitments left no trace"
    );
}

fn node_tx(
    net: &mut Net,
    signer: &SigningKey,
    method: &str,
    body: &impl serde::Serialize,
) -> Vec<u8> {
    let acct = net.account(&Address::from_ed25519(&signer.public_key()));
    let t = atoll_types::transaction::Transaction {
        nonce: acct.general.nonce,
        fee: Some(atoll_types::transaction::Fee {
            amount: Quantity(0),
            gas: GAS,
        }),
        method: method.into(),
        body: Some(cbor::to_value(body).unwrap()),
    };
    cbor::to_vec(&atoll_types::signed::Signed::sign(signer, net.app.tx_context(), &t).unwrap())
        .unwrap()
}

/// Node `i` proves for `epoch` with its own VRF key, in a block of its own.
fn prove(net: &mut Net, nodes: &Nodes, i: u8, epoch: u64) -> Option<(String, u32)> {
    let state = beacon::vrf_state(&net.store).unwrap().expect("vrf state");
    let (proof, _) = vrf_key(i).prove(beacon::VRF_CONTEXT, state.alpha.as_bytes());
    let body = VrfProve {
        epoch: atoll_types::Epoch(epoch),
        proof,
    };
    let tx = node_tx(
        net,
        &nodes.nodes[usize::from(i)],
        beacon::methods::VRF_PROVE,
        &body,
    );
    let r = net.block(vec![tx]);
    r.tx_results[0]
        .error
        .as_ref()
        .map(|e| (e.module.clone(), e.code))
}

#[test]
fn vrf_beacon_elects_only_provers_and_keeps_committees_in_weak_epochs() {
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.debug = false;
        g.beacon.backend = beacon::Backend::Vrf;
        g.beacon.vrf = beacon::VrfParameters {
            proof_delay: 3,
            alpha_hq_threshold: 3,
            gas_vrf_prove: 1000,
        };
    });
    assert_eq!(
        committee(&mut net).members.len(),
        5,
        "genesis elects from every node"
    );
    // Too early in the epoch.
    assert_eq!(prove(&mut net, &nodes, 0, 0), Some(("beacon".into(), 2)));
    while net.height < 4 {
        net.block(vec![]);
    }
    // The wrong epoch, then four good proofs, then a duplicate.
    assert_eq!(prove(&mut net, &nodes, 0, 1), Some(("beacon".into(), 2)));
    for i in 0..4 {
        assert_eq!(prove(&mut net, &nodes, i, 0), None, "node {i}");
    }
    assert_eq!(prove(&mut net, &nodes, 1, 0), Some(("beacon".into(), 4)));
    // Node 5 submits node 0's proof: it does not verify under node 5's key.
    let state = beacon::vrf_state(&net.store).unwrap().unwrap();
    let (forged, _) = vrf_key(0).prove(beacon::VRF_CONTEXT, state.alpha.as_bytes());
    let body = VrfProve {
        epoch: atoll_types::Epoch(0),
        proof: forged,
    };
    let tx = node_tx(&mut net, &nodes.nodes[5], beacon::methods::VRF_PROVE, &body);
    let r = net.block(vec![tx]);
    assert_eq!(
        r.tx_results[0]
            .error
            .as_ref()
            .map(|e| (e.module.as_str(), e.code)),
        Some(("beacon", 5))
    );
    // A user account is not a node.
    let tx = net.tx(0, 0, beacon::methods::VRF_PROVE, &body, 0, GAS);
    assert_eq!(
        net.block(vec![tx]).tx_results[0]
            .error
            .as_ref()
            .map(|e| e.code),
        Some(3)
    );

    net.advance_to_epoch(1);
    let provers: Vec<PublicKey> = (0..4).map(|i| nodes.nodes[i].public_key()).collect();
    let c = committee(&mut net);
    assert_eq!(c.epoch.0, 1);
    assert!(
        c.members.iter().all(|m| provers.contains(&m.node_id)),
        "only provers serve"
    );

    // Epoch 1: only two proofs, below the threshold of three.
    while net.height < 51 + 4 {
        net.block(vec![]);
    }
    for i in 0..2 {
        assert_eq!(prove(&mut net, &nodes, i, 1), None);
    }
    let before = committee(&mut net);
    net.advance_to_epoch(2);
    let kept = committee(&mut net);
    assert_eq!(kept.epoch.0, 2, "the kept committee serves the new epoch");
    assert_eq!(
        (kept.members, kept.entropy),
        (before.members, before.entropy),
        "weak entropy: the previous committee is kept as it was"
    );
}

#[test]
fn escrow_messages_need_permission() {
    use atoll_consensus_types::staking::Escrow;
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let scheduler = c.proposer_order(1)[0];
    let msgs = vec![
        Message::AddEscrow(Escrow {
            account: addr(&key(0)),
            amount: Quantity(10),
        }),
        Message::Transfer(Transfer {
            to: addr(&key(0)),
            amount: Quantity(10),
        }),
    ];
    let vote = results(&mut net, b"s", &msgs);
    let commits = all_workers_commit(&net, &nodes, &c, &scheduler, &vote, &msgs);
    submit(&mut net, 0, commits);
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.header_type, HeaderType::Normal);
    let codes: Vec<_> = rs
        .last_message_results
        .iter()
        .map(|r| (r.module.as_str(), r.code))
        .collect();
    assert_eq!(
        codes,
        vec![("staking", 4), ("", 0)],
        "the escrow is refused, the transfer goes through"
    );
}

#[test]
fn a_node_that_is_worker_and_backup_votes_once_in_each_phase() {
    // Three nodes for three workers and two backups: the backups are also
    // workers, and must still be able to resolve a discrepancy.
    let (mut net, nodes) = network(3, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let order = c.proposer_order(1);
    let scheduler = order[0];
    let backups: Vec<PublicKey> = c.backups().copied().collect();
    assert!(backups.iter().all(|b| c.has(b, Role::Worker)));
    let liar = order[2];
    let good = results(&mut net, b"honest", &[]);
    let bad = results(&mut net, b"lie", &[]);
    let commits = order
        .iter()
        .map(|n| {
            let vote = if *n == liar { &bad } else { &good };
            commit(&net, &nodes, n, &scheduler, vote, vec![])
        })
        .collect();
    submit(&mut net, 0, commits);
    assert!(rt_state(&mut net).round.unwrap().discrepancy);
    // Every backup (each of them also a worker that already voted) votes
    // again, for the scheduler's result.
    let commits = backups
        .iter()
        .map(|b| commit(&net, &nodes, b, &scheduler, &good, vec![]))
        .collect();
    let r = submit(&mut net, 1, commits);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.round, 1);
    assert_eq!(rs.last_block.state_root, Hash::digest(b"honest"));
    assert!(escrow_of(&mut net, index_of(&nodes, &liar)) < STAKE);
}

#[test]
fn past_roots_are_kept_for_the_last_rounds_only() {
    const KEEP: u64 = 3;
    let (mut net, nodes) = network_with(4, AdmissionPolicy::AnyNode {}, |g| {
        g.roothash.max_past_roots_stored = KEEP;
    });
    let c = committee(&mut net);
    let genesis = rt_state(&mut net).last_block;
    // The genesis block has its past root from the start.
    let mut view = net.store.clone();
    assert_eq!(
        RoothashState::new(&mut view).past_root(&RT, 0).unwrap(),
        Some(roothash::PastRoot::of(&genesis))
    );
    let mut headers = vec![genesis];
    for i in 0..6u64 {
        let round = rt_state(&mut net).last_block.round + 1;
        let scheduler = c.proposer_order(round)[0];
        let vote = results(&mut net, format!("state {i}").as_bytes(), &[]);
        let commits = all_workers_commit(&net, &nodes, &c, &scheduler, &vote, &[]);
        let r = submit(&mut net, i, commits);
        assert!(r.tx_results[0].error.is_none(), "{:?}", r.tx_results);
        let rs = rt_state(&mut net);
        assert_eq!(rs.last_block.round, round);
        headers.push(rs.last_block);
    }
    let last = headers.last().unwrap().round;
    assert_eq!(last, 6);
    let mut st = net.store.clone();
    let state = RoothashState::new(&mut st);
    for h in &headers {
        let got = state.past_root(&RT, h.round).unwrap();
        if h.round + KEEP > last {
            let want = roothash::PastRoot::of(h);
            assert_eq!(got.as_ref(), Some(&want), "round {}", h.round);
            assert_eq!(want.header_hash, h.hash());
            assert_eq!(want.state_root, h.state_root);
            assert_eq!(want.io_root, h.io_root);
        } else {
            assert_eq!(got, None, "round {} should be pruned", h.round);
        }
    }
    // Exactly KEEP entries remain under the runtime's prefix.
    let prefix = [&[0x22u8][..], RT.as_bytes()].concat();
    let kept = atoll_state::Store::scan_prefix(&net.store, &prefix).unwrap();
    assert_eq!(kept.len() as u64, KEEP);
    // And the query method serves them.
    let q = atoll_consensus::query::query(
        &mut net.store,
        "roothash.PastRoot",
        &serde_json::json!({ "runtime": RT.to_string(), "round": last }),
    )
    .unwrap();
    assert_eq!(
        q,
        serde_json::to_value(roothash::PastRoot::of(headers.last().unwrap())).unwrap()
    );
    assert!(matches!(
        atoll_consensus::query::query(
            &mut net.store,
            "roothash.PastRoot",
            &serde_json::json!({ "runtime": RT.to_string(), "round": 1 }),
        ),
        Err(atoll_consensus::query::QueryError::NotFound(_))
    ));
}

#[test]
fn epoch_transition_blocks_leave_past_roots_too() {
    let (mut net, _nodes) = network(4, AdmissionPolicy::AnyNode {});
    let before = rt_state(&mut net).last_block.round;
    net.advance_to_epoch(2);
    let rs = rt_state(&mut net);
    assert!(rs.last_block.round > before);
    assert_eq!(rs.last_block.header_type, HeaderType::EpochTransition);
    let mut st = net.store.clone();
    assert_eq!(
        RoothashState::new(&mut st)
            .past_root(&RT, rs.last_block.round)
            .unwrap(),
        Some(roothash::PastRoot::of(&rs.last_block))
    );
}

// ---- Evidence: what counts as equivocation, replays, age --------------------

/// The error `(module, code)` of the first transaction of a block, if any.
fn err_of(r: &atoll_consensus::app::BlockResult) -> Option<(String, u32)> {
    r.tx_results[0]
        .error
        .as_ref()
        .map(|e| (e.module.clone(), e.code))
}

fn evidence_tx(net: &Net, nonce: u64, a: &ExecutorCommitment, b: &ExecutorCommitment) -> Vec<u8> {
    let ev = Evidence {
        id: RT,
        commit_a: a.clone(),
        commit_b: b.clone(),
    };
    net.tx(0, nonce, roothash::methods::EVIDENCE, &ev, 10, GAS)
}

fn failure(net: &mut Net) -> Vote {
    Vote::Failure {
        round: rt_state(net).last_block.round + 1,
    }
}

#[test]
fn only_different_results_for_one_round_and_batch_are_equivocation() {
    // (case, build the pair from (net, nodes, committee), expected roothash code)
    type Pair = fn(&mut Net, &Nodes, &Committee) -> (ExecutorCommitment, ExecutorCommitment);
    let cases: Vec<(&str, Pair, Option<u32>)> = vec![
        (
            "the same commitment twice",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let v = results(net, b"a", &[]);
                let a = commit(net, nodes, &s, &s, &v, vec![]);
                (a.clone(), a)
            },
            Some(8),
        ),
        (
            "the same header signed again",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let w = c.proposer_order(1)[1];
                let v = results(net, b"a", &[]);
                (
                    commit(net, nodes, &w, &s, &v, vec![]),
                    commit(net, nodes, &w, &s, &v, vec![]),
                )
            },
            Some(8),
        ),
        (
            "two declared failures",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let w = c.proposer_order(1)[1];
                let f = failure(net);
                (
                    commit(net, nodes, &w, &s, &f, vec![]),
                    commit(net, nodes, &w, &s, &f, vec![]),
                )
            },
            Some(8),
        ),
        (
            "different results for different rounds",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let a = results(net, b"a", &[]);
                let mut b = results(net, b"b", &[]);
                if let Vote::Results(r) = &mut b {
                    r.round += 1;
                }
                (
                    commit(net, nodes, &s, &s, &a, vec![]),
                    commit(net, nodes, &s, &s, &b, vec![]),
                )
            },
            Some(8),
        ),
        (
            "different results for different schedulers' batches",
            |net, nodes, c| {
                let order = c.proposer_order(1);
                let w = order[2];
                let a = results(net, b"a", &[]);
                let b = results(net, b"b", &[]);
                (
                    commit(net, nodes, &w, &order[0], &a, vec![]),
                    commit(net, nodes, &w, &order[1], &b, vec![]),
                )
            },
            Some(8),
        ),
        (
            "commitments of two different nodes",
            |net, nodes, c| {
                let order = c.proposer_order(1);
                let a = results(net, b"a", &[]);
                let b = results(net, b"b", &[]);
                (
                    commit(net, nodes, &order[1], &order[0], &a, vec![]),
                    commit(net, nodes, &order[2], &order[0], &b, vec![]),
                )
            },
            Some(8),
        ),
        (
            "a forged signature",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let a = results(net, b"a", &[]);
                let b = results(net, b"b", &[]);
                let mut forged = commit(net, nodes, &s, &s, &b, vec![]);
                forged.signature = node_key(99).sign(net.app.commitment_context(), b"x");
                (commit(net, nodes, &s, &s, &a, vec![]), forged)
            },
            Some(8),
        ),
        (
            "commitments that carry messages",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let msgs = vec![Message::Transfer(Transfer {
                    to: addr(&key(0)),
                    amount: Quantity(1),
                })];
                let a = results(net, b"a", &msgs);
                let b = results(net, b"b", &[]);
                (
                    commit(net, nodes, &s, &s, &a, msgs),
                    commit(net, nodes, &s, &s, &b, vec![]),
                )
            },
            Some(8),
        ),
        (
            "a round not open yet",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let mut a = results(net, b"a", &[]);
                let mut b = results(net, b"b", &[]);
                for v in [&mut a, &mut b] {
                    if let Vote::Results(r) = v {
                        r.round += 5;
                    }
                }
                (
                    commit(net, nodes, &s, &s, &a, vec![]),
                    commit(net, nodes, &s, &s, &b, vec![]),
                )
            },
            Some(8),
        ),
        (
            "two different results for one round and batch",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let a = results(net, b"a", &[]);
                let b = results(net, b"b", &[]);
                (
                    commit(net, nodes, &s, &s, &a, vec![]),
                    commit(net, nodes, &s, &s, &b, vec![]),
                )
            },
            None,
        ),
        (
            "a result and a declared failure for one round and batch",
            |net, nodes, c| {
                let s = c.proposer_order(1)[0];
                let w = c.proposer_order(1)[1];
                let a = results(net, b"a", &[]);
                let f = failure(net);
                (
                    commit(net, nodes, &w, &s, &a, vec![]),
                    commit(net, nodes, &w, &s, &f, vec![]),
                )
            },
            None,
        ),
    ];
    for (case, pair, want) in cases {
        let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
        let c = committee(&mut net);
        let (a, b) = pair(&mut net, &nodes, &c);
        let accused = index_of(&nodes, &a.node_id);
        let before: Vec<u128> = (0..6).map(|i| escrow_of(&mut net, i)).collect();
        let tx = evidence_tx(&net, 0, &a, &b);
        let r = net.block(vec![tx]);
        assert_eq!(
            err_of(&r),
            want.map(|code| ("roothash".to_string(), code)),
            "{case}: {:?}",
            r.tx_results[0].error
        );
        for i in 0..6u8 {
            let expected = if want.is_none() && i == accused {
                before[usize::from(i)] - 2 * SLASH
            } else {
                before[usize::from(i)]
            };
            assert_eq!(escrow_of(&mut net, i), expected, "{case}: entity {i}");
        }
        assert_eq!(net.total_tokens(), net.total_supply(), "{case}");
    }
}

#[test]
fn evidence_is_punished_once_and_not_past_max_evidence_age() {
    const AGE: u64 = 2;
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.roothash.max_evidence_age = AGE;
    });
    let c = committee(&mut net);
    let order = c.proposer_order(1);
    let (s, w) = (order[0], order[1]);
    let (va, vb, vc) = (
        results(&mut net, b"a", &[]),
        results(&mut net, b"b", &[]),
        results(&mut net, b"c", &[]),
    );
    let a = commit(&net, &nodes, &w, &s, &va, vec![]);
    let b = commit(&net, &nodes, &w, &s, &vb, vec![]);
    let c3 = commit(&net, &nodes, &w, &s, &vc, vec![]);
    let accused = index_of(&nodes, &w);
    let before = escrow_of(&mut net, accused);

    let tx = evidence_tx(&net, 0, &a, &b);
    assert_eq!(err_of(&net.block(vec![tx])), None);
    assert_eq!(escrow_of(&mut net, accused), before - 2 * SLASH);
    let mut st = net.store.clone();
    assert_eq!(RoothashState::new(&mut st).evidence_count(&RT).unwrap(), 1);

    // The same evidence, the pair swapped, another pair for the same round:
    // one offence, refused as a duplicate, charged, and nobody slashed again.
    let mut nonce = 1;
    for (x, y) in [(&a, &b), (&b, &a), (&a, &c3)] {
        let tx = evidence_tx(&net, nonce, x, y);
        let r = net.block(vec![tx]);
        nonce += 1;
        assert_eq!(err_of(&r), Some(("roothash".into(), 10)));
        // Charged: its gas is used and its nonce spent (the fee itself goes
        // to this test's only proposer, the submitter).
        assert!(r.tx_results[0].gas_used > 0, "the replay paid for its gas");
        assert_eq!(net.account(&addr(&key(0))).general.nonce, nonce);
        assert_eq!(escrow_of(&mut net, accused), before - 2 * SLASH);
    }

    // Finalize rounds 1..=AGE+2: round 1 is then more than AGE rounds behind.
    let mut submit_nonce = nonce;
    for i in 0..AGE + 2 {
        let round = rt_state(&mut net).last_block.round + 1;
        let sch = c.proposer_order(round)[0];
        let vote = results(&mut net, format!("state {i}").as_bytes(), &[]);
        let commits = all_workers_commit(&net, &nodes, &c, &sch, &vote, &[]);
        let r = submit(&mut net, submit_nonce, commits);
        submit_nonce += 1;
        assert_eq!(err_of(&r), None);
        assert_eq!(rt_state(&mut net).last_block.round, round);
    }
    assert_eq!(rt_state(&mut net).last_block.round, AGE + 2);
    // Kept evidence of round 1 is forgotten with the round: state stays bounded.
    let mut st = net.store.clone();
    assert_eq!(RoothashState::new(&mut st).evidence_count(&RT).unwrap(), 0);

    // Old evidence (another node's equivocation in round 1) is refused as expired.
    let w2 = order[2];
    let old_a = commit(&net, &nodes, &w2, &s, &va, vec![]);
    let old_b = commit(&net, &nodes, &w2, &s, &vb, vec![]);
    let before2 = escrow_of(&mut net, index_of(&nodes, &w2));
    let tx = evidence_tx(&net, submit_nonce, &old_a, &old_b);
    submit_nonce += 1;
    assert_eq!(err_of(&net.block(vec![tx])), Some(("roothash".into(), 11)));
    assert_eq!(escrow_of(&mut net, index_of(&nodes, &w2)), before2);

    // Evidence about a round within the age is still taken.
    let round = rt_state(&mut net).last_block.round;
    let fresh = |net: &mut Net, root: &[u8]| {
        let rs = rt_state(net);
        Vote::Results(ComputeResults {
            round,
            previous_hash: rs.last_block.previous_hash,
            io_root: Hash::digest(b"io"),
            state_root: Hash::digest(root),
            messages_hash: Hash::empty(),
        })
    };
    let (fa, fb) = (fresh(&mut net, b"x"), fresh(&mut net, b"y"));
    let sch = c.proposer_order(round)[0];
    let tx = evidence_tx(
        &net,
        submit_nonce,
        &commit(&net, &nodes, &w2, &sch, &fa, vec![]),
        &commit(&net, &nodes, &w2, &sch, &fb, vec![]),
    );
    assert_eq!(err_of(&net.block(vec![tx])), None);
    assert_eq!(
        escrow_of(&mut net, index_of(&nodes, &w2)),
        before2 - 2 * SLASH
    );
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn evidence_is_refused_where_equivocation_is_not_slashed() {
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.staking
            .parameters
            .slashing
            .remove(&SlashReason::RuntimeEquivocation);
    });
    let c = committee(&mut net);
    let s = c.proposer_order(1)[0];
    let (va, vb) = (results(&mut net, b"a", &[]), results(&mut net, b"b", &[]));
    let a = commit(&net, &nodes, &s, &s, &va, vec![]);
    let b = commit(&net, &nodes, &s, &s, &vb, vec![]);
    let tx = evidence_tx(&net, 0, &a, &b);
    assert_eq!(err_of(&net.block(vec![tx])), Some(("roothash".into(), 12)));
    let mut st = net.store.clone();
    assert_eq!(RoothashState::new(&mut st).evidence_count(&RT).unwrap(), 0);
}

// ---- Declared failures and stragglers ----------------------------------------

/// What a round came to, and who lost stake.
#[derive(Debug, PartialEq)]
struct Outcome {
    header: Option<HeaderType>,
    discrepancy: bool,
    slashed: Vec<u8>,
}

fn outcome(net: &mut Net, nodes: &Nodes) -> Outcome {
    let rs = rt_state(net);
    let header = (rs.last_block.round == 1).then_some(rs.last_block.header_type);
    let slashed = (0..nodes.nodes.len() as u8)
        .filter(|i| escrow_of(net, *i) < STAKE)
        .collect();
    Outcome {
        header,
        discrepancy: rs.round.as_ref().is_some_and(|r| r.discrepancy),
        slashed,
    }
}

#[test]
fn declared_failures_are_stragglers_and_never_slashed() {
    // (case, allowed_stragglers, worker votes by rank: G good, B bad, F failure,
    //  - silent; then backup votes; expected header, discrepancy, slashed ranks)
    struct Case {
        name: &'static str,
        stragglers: u16,
        workers: &'static str,
        backups: &'static str,
        header: Option<HeaderType>,
        discrepancy: bool,
        slashed_ranks: &'static [usize],
    }
    let cases = [
        Case {
            name: "one failure within one straggler finalizes at once",
            stragglers: 1,
            workers: "GGF",
            backups: "",
            header: Some(HeaderType::Normal),
            discrepancy: false,
            slashed_ranks: &[],
        },
        Case {
            name: "one silent worker within one straggler finalizes",
            stragglers: 1,
            workers: "GG-",
            backups: "",
            header: Some(HeaderType::Normal),
            discrepancy: false,
            slashed_ranks: &[],
        },
        Case {
            name: "two failures beyond one straggler is a discrepancy",
            stragglers: 1,
            workers: "GFF",
            backups: "",
            header: None,
            discrepancy: true,
            slashed_ranks: &[],
        },
        Case {
            name: "a failure with no stragglers allowed: backups decide, nobody slashed",
            stragglers: 0,
            workers: "GGF",
            backups: "GG",
            header: Some(HeaderType::Normal),
            discrepancy: false,
            slashed_ranks: &[],
        },
        Case {
            name: "a failure and a wrong result: only the wrong result is slashed",
            stragglers: 0,
            workers: "GBF",
            backups: "GG",
            header: Some(HeaderType::Normal),
            discrepancy: false,
            slashed_ranks: &[1],
        },
        Case {
            name: "backups that fail too: the round fails, nobody slashed",
            stragglers: 0,
            workers: "GGF",
            backups: "FF",
            header: Some(HeaderType::RoundFailed),
            discrepancy: false,
            slashed_ranks: &[],
        },
    ];
    for case in cases {
        let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
            g.registry.runtimes[0].executor.allowed_stragglers = case.stragglers;
        });
        let c = committee(&mut net);
        let order = c.proposer_order(1);
        let s = order[0];
        let (good, bad, fail) = (
            results(&mut net, b"good", &[]),
            results(&mut net, b"bad", &[]),
            failure(&mut net),
        );
        let pick = |ch: char| match ch {
            'G' => Some(&good),
            'B' => Some(&bad),
            'F' => Some(&fail),
            _ => None,
        };
        let commits: Vec<ExecutorCommitment> = order
            .iter()
            .zip(case.workers.chars())
            .filter_map(|(n, ch)| pick(ch).map(|v| commit(&net, &nodes, n, &s, v, vec![])))
            .collect();
        let r = submit(&mut net, 0, commits);
        assert_eq!(err_of(&r), None, "{}", case.name);
        if !case.backups.is_empty() {
            assert!(
                rt_state(&mut net).round.unwrap().discrepancy,
                "{}",
                case.name
            );
            let backups: Vec<PublicKey> = c.backups().copied().collect();
            let commits = backups
                .iter()
                .zip(case.backups.chars())
                .filter_map(|(n, ch)| pick(ch).map(|v| commit(&net, &nodes, n, &s, v, vec![])))
                .collect();
            let r = submit(&mut net, 1, commits);
            assert_eq!(err_of(&r), None, "{}", case.name);
        }
        let slashed: Vec<u8> = case
            .slashed_ranks
            .iter()
            .map(|r| index_of(&nodes, &order[*r]))
            .collect();
        assert_eq!(
            outcome(&mut net, &nodes),
            Outcome {
                header: case.header,
                discrepancy: case.discrepancy,
                slashed,
            },
            "{}",
            case.name
        );
        assert_eq!(net.total_tokens(), net.total_supply(), "{}", case.name);
    }
}

#[test]
fn a_scheduler_may_not_commit_a_failure_for_its_own_batch() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let s = c.proposer_order(1)[0];
    let f = failure(&mut net);
    let own_failure = commit(&net, &nodes, &s, &s, &f, vec![]);
    let r = submit(&mut net, 0, vec![own_failure]);
    assert_eq!(err_of(&r), Some(("roothash".into(), 14)));
    assert_eq!(rt_state(&mut net).round, None, "nothing was recorded");
}

#[test]
fn a_round_without_a_scheduler_commitment_fails_at_its_timeout() {
    let (mut net, nodes) = network(6, AdmissionPolicy::AnyNode {});
    let c = committee(&mut net);
    let order = c.proposer_order(1);
    // Two workers vote on the scheduler's batch; the scheduler never commits.
    let good = results(&mut net, b"good", &[]);
    let commits = order[1..]
        .iter()
        .map(|w| commit(&net, &nodes, w, &order[0], &good, vec![]))
        .collect();
    assert_eq!(err_of(&submit(&mut net, 0, commits)), None);
    let mut closed = None;
    for i in 0..8 {
        net.block(vec![]);
        let rs = rt_state(&mut net);
        if rs.last_block.round == 1 {
            closed = Some((i, rs.last_block.header_type));
            break;
        }
        assert!(
            !rs.round.unwrap().discrepancy,
            "no backups for a missing scheduler"
        );
    }
    let (_, kind) = closed.expect("the round closed at its timeout");
    assert_eq!(kind, HeaderType::RoundFailed);
    assert!(
        (0..6).all(|i| escrow_of(&mut net, i) == STAKE),
        "nobody slashed"
    );
}

// ---- max_messages ----------------------------------------------------------

#[test]
fn commitments_over_max_messages_are_refused() {
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.registry.runtimes[0].executor.max_messages = 2;
    });
    let c = committee(&mut net);
    let s = c.proposer_order(1)[0];
    let msg = |n| {
        Message::Transfer(Transfer {
            to: addr(&key(0)),
            amount: Quantity(n),
        })
    };
    let three = vec![msg(1), msg(2), msg(3)];
    let vote = results(&mut net, b"three", &three);
    let commits = all_workers_commit(&net, &nodes, &c, &s, &vote, &three);
    let before = net.balance(0);
    let r = submit(&mut net, 0, commits);
    assert_eq!(err_of(&r), Some(("roothash".into(), 13)));
    assert_eq!(rt_state(&mut net).round, None, "nothing was recorded");
    assert_eq!(net.balance(0), before, "no message ran");

    let two = vec![msg(1), msg(2)];
    let vote = results(&mut net, b"two", &two);
    let commits = all_workers_commit(&net, &nodes, &c, &s, &vote, &two);
    let r = submit(&mut net, 1, commits);
    assert_eq!(err_of(&r), None);
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.header_type, HeaderType::Normal);
    assert_eq!(net.balance(0), before + 3);
}

/// A VRF network of six compute nodes at the first block where proofs are
/// accepted.
fn vrf_network() -> (Net, Nodes) {
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.debug = false;
        g.beacon.backend = beacon::Backend::Vrf;
        g.beacon.vrf = beacon::VrfParameters {
            proof_delay: 3,
            alpha_hq_threshold: 3,
            gas_vrf_prove: 1000,
        };
    });
    while net.height < 4 {
        net.block(vec![]);
    }
    (net, nodes)
}

/// The committee of epoch 1 after `provers` proved in epoch 0, in that order.
fn elected_after(provers: &[u8]) -> Committee {
    let (mut net, nodes) = vrf_network();
    for i in provers {
        assert_eq!(prove(&mut net, &nodes, *i, 0), None, "node {i}");
    }
    net.advance_to_epoch(1);
    committee(&mut net)
}

#[test]
fn vrf_committees_do_not_depend_on_proof_order_and_exclusion_only_removes() {
    let all = elected_after(&[0, 1, 2, 3, 4, 5]);
    assert_eq!(all.members.len(), 5);
    // The same proofs in another order (each in its own block): the same
    // committee, members, roles and proposer order alike.
    let reversed = elected_after(&[5, 4, 3, 2, 1, 0]);
    assert_eq!(reversed, all);
    // Leaving out the proof of the one node outside the committee changes
    // nothing: the others' places follow from their own betas.
    let outsider = (0..6u8)
        .find(|i| {
            let pk = node_key(*i).public_key();
            !all.members.iter().any(|m| m.node_id == pk)
        })
        .expect("six nodes, five seats");
    let without: Vec<u8> = (0..6u8).filter(|i| *i != outsider).collect();
    let c = elected_after(&without);
    assert_eq!((&c.members, c.entropy), (&all.members, all.entropy));
    // Leaving out a worker's proof removes that worker; the remaining
    // workers keep their relative order, and the proposer order of a
    // committee is not something a node outside it can move.
    let first = all.workers().next().copied().expect("a worker");
    let first_i = (0..6u8)
        .find(|i| node_key(*i).public_key() == first)
        .expect("a known node");
    let without: Vec<u8> = (0..6u8).filter(|i| *i != first_i).collect();
    let c = elected_after(&without);
    assert!(!c.members.iter().any(|m| m.node_id == first));
    let kept: Vec<PublicKey> = all.workers().copied().filter(|w| *w != first).collect();
    let now: Vec<PublicKey> = c.workers().copied().collect();
    assert_eq!(&now[..kept.len()], &kept[..], "the others keep their order");
}

#[test]
fn a_lapsed_node_stays_slashable_for_the_debonding_interval() {
    const DEBONDING: u64 = 3;
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.staking.parameters.debonding_interval = DEBONDING;
        for n in &mut g.registry.nodes {
            n.expiration = 1;
        }
    });
    let c = committee(&mut net);
    let scheduler = c.proposer_order(1)[0];
    let (vote_a, vote_b) = (results(&mut net, b"a", &[]), results(&mut net, b"b", &[]));
    let a = commit(&net, &nodes, &scheduler, &scheduler, &vote_a, vec![]);
    let b = commit(&net, &nodes, &scheduler, &scheduler, &vote_b, vec![]);
    // Epoch 2: every registration lapsed (expiration 1), its stake claim
    // released; nobody is elected.
    net.advance_to_epoch(2);
    let entity = addr(&entity_key(index_of(&nodes, &scheduler)));
    assert!(
        !net.account(&entity)
            .escrow
            .stake_accumulator
            .claims
            .keys()
            .any(|k| k.starts_with("registry.node.")),
        "the lapsed node's claim is released"
    );
    assert!(
        SchedulerState::new(&mut net.store)
            .committee(&RT)
            .unwrap()
            .is_none()
    );
    // Evidence of what it did while registered still slashes its entity.
    let before = escrow_of(&mut net, index_of(&nodes, &scheduler));
    let ev = Evidence {
        id: RT,
        commit_a: a.clone(),
        commit_b: b.clone(),
    };
    let r = net.block(vec![net.tx(0, 0, roothash::methods::EVIDENCE, &ev, 0, GAS)]);
    assert!(
        r.tx_results[0].error.is_none(),
        "{:?}",
        r.tx_results[0].error
    );
    assert_eq!(
        escrow_of(&mut net, index_of(&nodes, &scheduler)),
        before - 2 * SLASH
    );
    // Past the debonding interval the descriptor is gone: no more evidence.
    net.advance_to_epoch(2 + DEBONDING);
    let other = nodes
        .nodes
        .iter()
        .map(SigningKey::public_key)
        .find(|n| *n != scheduler && c.has(n, Role::Worker))
        .expect("another worker");
    let a = commit(&net, &nodes, &other, &scheduler, &vote_a, vec![]);
    let b = commit(&net, &nodes, &other, &scheduler, &vote_b, vec![]);
    let ev = Evidence {
        id: RT,
        commit_a: a,
        commit_b: b,
    };
    let r = net.block(vec![net.tx(0, 1, roothash::methods::EVIDENCE, &ev, 0, GAS)]);
    assert!(r.tx_results[0].error.is_some(), "the node is gone");
}

#[test]
fn a_silent_worker_fails_liveness_at_the_epoch_end_and_is_frozen_and_slashed() {
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        let ex = &mut g.registry.runtimes[0].executor;
        ex.allowed_stragglers = 1;
        ex.min_live_rounds_percent = 50;
        ex.min_live_rounds_eval = 3;
        ex.max_liveness_fails = 1;
        g.staking.parameters.slashing.insert(
            SlashReason::RuntimeLiveness,
            Slash {
                amount: Quantity(SLASH / 2),
                freeze_interval: 0,
            },
        );
    });
    let c = committee(&mut net);
    let workers: Vec<PublicKey> = c.workers().copied().collect();
    let silent = workers[2];
    let silent_stake = escrow_of(&mut net, index_of(&nodes, &silent));
    for nonce in 0..3u64 {
        let round = rt_state(&mut net).last_block.round + 1;
        let scheduler = c
            .proposer_order(round)
            .into_iter()
            .find(|w| w != &silent)
            .unwrap();
        let vote = results(&mut net, format!("state {round}").as_bytes(), &[]);
        let commits: Vec<_> = workers
            .iter()
            .filter(|w| *w != &silent)
            .map(|w| commit(&net, &nodes, w, &scheduler, &vote, vec![]))
            .collect();
        let r = submit(&mut net, nonce, commits);
        assert!(
            r.tx_results[0].error.is_none(),
            "{:?}",
            r.tx_results[0].error
        );
        assert_eq!(rt_state(&mut net).last_block.round, round, "finalized");
        let rr = RoothashState::new(&mut net.store)
            .round_results(&RT)
            .unwrap()
            .unwrap();
        assert_eq!(rr.round, round);
        assert_eq!(rr.good_compute_nodes.len(), 2);
        assert!(!rr.good_compute_nodes.contains(&silent));
        assert_eq!(rr.good_compute_entities.len(), 2);
    }
    let stats = RoothashState::new(&mut net.store).liveness(&RT).unwrap();
    assert_eq!(stats.total_rounds, 3);
    assert_eq!(stats.nodes[&silent].rounds, 3);
    assert_eq!(stats.nodes[&silent].live_rounds, 0);
    assert_eq!(stats.nodes[&workers[0]].live_rounds, 3);

    // Run to the epoch change: the statistics are judged and reset.
    let mut failures = Vec::new();
    while net.genesis.epoch_at(net.height + 1).0 < 1 {
        net.block(vec![]);
    }
    let r = net.block(vec![]);
    for e in &r.events {
        if let atoll_consensus::event::Event::Roothash(roothash::Event::LivenessFailure {
            node,
            faults,
            frozen_until,
            slashed,
            ..
        }) = e
        {
            failures.push((*node, *faults, *frozen_until, *slashed));
        }
    }
    assert_eq!(failures, vec![(silent, 1, 2, true)]);
    assert_eq!(
        escrow_of(&mut net, index_of(&nodes, &silent)),
        silent_stake - SLASH / 2
    );
    assert_eq!(
        RoothashState::new(&mut net.store)
            .faults(&RT, &silent)
            .unwrap(),
        1
    );
    assert_eq!(
        RoothashState::new(&mut net.store).liveness(&RT).unwrap(),
        Default::default()
    );
    // Operators see it through the queries.
    use atoll_consensus::query::query;
    let status = query(
        &mut net.store,
        "registry.NodeStatus",
        &serde_json::json!({ "id": silent.to_string() }),
    )
    .unwrap();
    assert_eq!(status["registered"], serde_json::json!(true));
    assert_eq!(status["frozen"], serde_json::json!(true));
    assert_eq!(status["freeze_end"], serde_json::json!(2));
    assert_eq!(status["liveness_faults"][0]["faults"], serde_json::json!(1));
    let epoch = query(&mut net.store, "beacon.Epoch", &serde_json::Value::Null).unwrap();
    assert_eq!(epoch, serde_json::json!({ "epoch": 1, "height": 51 }));
    let rr = query(
        &mut net.store,
        "roothash.RoundResults",
        &serde_json::json!({ "runtime": RT.to_string() }),
    )
    .unwrap();
    assert_eq!(rr["round"], serde_json::json!(3));
    assert_eq!(rr["good_compute_nodes"].as_array().unwrap().len(), 2);
    // The new committee is drawn without the frozen node.
    let next = committee(&mut net);
    assert_eq!(next.epoch.0, 1);
    assert!(!next.members.iter().any(|m| m.node_id == silent));
    assert_eq!(net.total_tokens(), net.total_supply());
}

#[test]
fn escrow_messages_report_their_shares_and_debonding_to_the_runtime() {
    use atoll_consensus_types::roothash::MessageOutcome;
    use atoll_consensus_types::staking::{Escrow, ReclaimEscrow};
    let (mut net, nodes) = network_with(6, AdmissionPolicy::AnyNode {}, |g| {
        g.staking.parameters.allow_escrow_messages = true;
    });
    let c = committee(&mut net);
    // Round 1: the runtime delegates 1,000 to entity 0's escrow (1,000
    // tokens in 1,000 shares already: one share per token).
    let escrow = Address::from_ed25519(&entity_key(0).public_key());
    let msgs = vec![Message::AddEscrow(Escrow {
        account: escrow,
        amount: Quantity(1_000),
    })];
    let scheduler = c.proposer_order(1)[0];
    let vote = results(&mut net, b"s1", &msgs);
    let commits = all_workers_commit(&net, &nodes, &c, &scheduler, &vote, &msgs);
    submit(&mut net, 0, commits);
    let rs = rt_state(&mut net);
    assert_eq!(rs.last_block.round, 1);
    assert_eq!(
        rs.last_message_results[0].result,
        Some(MessageOutcome::AddEscrow {
            new_shares: Quantity(1_000)
        })
    );
    let rr = RoothashState::new(&mut net.store)
        .round_results(&RT)
        .unwrap()
        .unwrap();
    assert_eq!(rr.messages, rs.last_message_results);
    // Round 2: it reclaims 400 shares; they debond until epoch 0 + 2.
    let msgs = vec![Message::ReclaimEscrow(ReclaimEscrow {
        account: escrow,
        shares: Quantity(400),
    })];
    let scheduler = c.proposer_order(2)[0];
    let vote = results(&mut net, b"s2", &msgs);
    let commits = all_workers_commit(&net, &nodes, &c, &scheduler, &vote, &msgs);
    submit(&mut net, 1, commits);
    let rs = rt_state(&mut net);
    assert_eq!(
        rs.last_message_results[0].result,
        Some(MessageOutcome::ReclaimEscrow {
            amount: Quantity(400),
            debonding_shares: Quantity(400),
            debond_end: atoll_types::Epoch(2),
        })
    );
    assert_eq!(net.total_tokens(), net.total_supply());
}

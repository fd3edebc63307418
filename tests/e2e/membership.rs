//! Who takes part, after genesis: `atoll node` processes on 127.0.0.1.
//!
//! - `validator_joins_and_leaves`: three genesis validators and a fourth
//!   node (`full-0`, configured as a validator but not in the genesis
//!   set). Its operator's entity is funded, escrows as much as each genesis
//!   validator, registers itself and the node as a validator: from the
//!   next epoch the node is in the validator set and proposes blocks that
//!   finalize. It is stopped before the epoch change and restarted after
//!   it, so it syncs across the change; its registration worker renews its
//!   registration meanwhile. Then its operator stops it: nothing renews the
//!   registration, the node lapses, leaves the set at the following epoch,
//!   the entity reclaims its whole escrow, and blocks keep finalizing
//!   without it.
//!
//! - `paratime_registered_after_genesis`: one validator and two compute
//!   nodes whose `node.toml` names a plain ParaTime that consensus does not
//!   know yet (compute-1 starts only after it is registered). compute-0's
//!   entity registers it mid-run with a committee of one; both entities
//!   register their nodes for it; at the next epoch a committee is elected,
//!   the waiting workers have started, and a transfer runs on it. The owner
//!   then updates the descriptor to a committee of two: the epoch it was
//!   sent in keeps one worker, the next has two, and a transfer runs again.
//!   compute-1 is then stopped and re-registered without the runtime: with
//!   too few eligible nodes it has no committee (suspended) until compute-1
//!   starts again and its registration worker registers it for the runtime,
//!   and then rounds resume.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{atoll, call};
use crate::runtimes;
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::registry::{
    self, AdmissionPolicy, ExecutorParameters, KeyAddresses, MultiSigned, Node, NodeRuntime, Roles,
    Runtime, RuntimeGenesis, RuntimeKind, StorageParameters, TeeHardware, TxnSchedulerParameters,
    Version,
};
use atoll_consensus_types::scheduler::Committee;
use atoll_consensus_types::staking::{Escrow, ReclaimEscrow, Transfer, methods as staking};
use atoll_crypto::Address;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_localnet::NODE_STAKE;
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_node::Identity;
use atoll_node::Role;
use atoll_node::config::RuntimeSection;
use atoll_types::Namespace;
use atoll_types::signed::{SignatureBundle, Signed};
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);
const FUNDS: u128 = 1_000_000_000;
/// Blocks per epoch: long enough to register within one, short enough for
/// a few epochs in a test.
const EPOCH: u64 = 20;

fn user() -> SigningKey {
    SigningKey::from_seed(&[210; 32])
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

/// A consensus transaction from `key`, zero fee.
fn consensus_tx(
    genesis: &Genesis,
    key: &SigningKey,
    nonce: u64,
    method: &str,
    body: &impl serde::Serialize,
) -> String {
    let app = atoll_consensus::app::App::new(genesis).unwrap();
    let tx = Transaction::call(nonce, Fee::new(Quantity(0), 200_000), method, body).unwrap();
    let signed = Signed::sign(key, app.tx_context(), &tx).unwrap();
    format!("0x{}", hex::encode(cbor::to_vec(&signed).unwrap()))
}

/// Submits `tx` through `rpc` and waits for its block: the inclusion height.
fn submit(rpc: SocketAddr, tx: String) -> u64 {
    let r = call(rpc, "consensus_submitTx", json!([tx, true])).unwrap_or_else(|e| panic!("{e}"));
    assert!(r["result"]["error"].is_null(), "transaction failed: {r}");
    r["height"].as_u64().expect("inclusion height")
}

fn height(rpc: SocketAddr) -> Option<u64> {
    call(rpc, "node_status", json!([]))
        .ok()?
        .get("latest_height")?
        .as_u64()
}

/// The node ids of the validator set in the state after `at` (the latest
/// when `None`).
fn validators(rpc: SocketAddr, at: Option<u64>) -> Vec<Value> {
    let v = call(
        rpc,
        "consensus_query",
        json!(["scheduler.Validators", null, at]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    v.as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|v| v["node_id"].clone())
        .collect()
}

/// A quantity as the API writes it (a decimal string or a number).
fn amount(v: &Value) -> u128 {
    v.as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| v.as_u64().map(u128::from))
        .unwrap_or_else(|| panic!("not an amount: {v}"))
}

fn block(rpc: SocketAddr, at: u64) -> Value {
    call(rpc, "consensus_getBlock", json!([at])).unwrap_or_else(|e| panic!("{e}"))
}

/// The node's validator descriptor, signed by its three keys.
fn validator_descriptor(id: &Identity, entity: PublicKey, expiration: u64) -> MultiSigned {
    node_descriptor(id, entity, expiration, Roles::VALIDATOR, vec![])
}

/// A node descriptor with `roles` serving `runtimes`, signed by the node's
/// three keys.
fn node_descriptor(
    id: &Identity,
    entity: PublicKey,
    expiration: u64,
    roles: Roles,
    runtimes: Vec<Namespace>,
) -> MultiSigned {
    let public = id.public();
    let desc = Node {
        v: 1,
        id: public.node,
        entity_id: entity,
        expiration,
        p2p: KeyAddresses {
            id: public.p2p,
            addresses: vec![],
        },
        consensus: KeyAddresses {
            id: public.consensus,
            addresses: vec![],
        },
        vrf: Some(public.vrf),
        runtimes: runtimes
            .into_iter()
            .map(|id| NodeRuntime {
                id,
                version: Version::default(),
                tee: None,
            })
            .collect(),
        roles,
        software_version: "e2e".into(),
    };
    let raw = cbor::to_vec(&desc).unwrap();
    let ctx = Context::new(registry::NODE_SIGNATURE_CONTEXT).unwrap();
    MultiSigned {
        signatures: [&id.node, &id.consensus, &id.p2p]
            .iter()
            .map(|k| SignatureBundle {
                public_key: k.public_key(),
                signature: k.sign(&ctx, &raw),
            })
            .collect(),
        untrusted_raw_value: raw,
    }
}

#[test]
fn validator_joins_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Network::builder(atoll())
        .validators(3)
        .full_nodes(1)
        .fast_blocks()
        .epoch_interval(EPOCH)
        .funded(Address::from_ed25519(&user().public_key()), FUNDS)
        .configure("full-0", |c| c.role = Role::Validator)
        .start(dir.path())
        .unwrap();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| joins_and_leaves(&mut net)));
    net.finish(outcome, 60, || dir.keep());
}

fn joins_and_leaves(net: &mut Network) {
    let genesis = net.layout.genesis.clone();
    let v0 = net.rpc("validator-0").unwrap();
    let newcomer = net.rpc("full-0").unwrap();
    let id = Identity::load(&net.node("full-0").unwrap().dir.join("identity")).unwrap();
    let entity_key = id
        .entity
        .clone()
        .expect("the node's directory holds its entity key");
    let entity = entity_key.public_key();
    let entity_addr = Address::from_ed25519(&entity);
    let node_id = serde_json::to_value(id.node.public_key()).unwrap();
    wait_for("the first blocks", || height(v0).filter(|h| *h >= 2));
    wait_for("the newcomer following the chain", || {
        height(newcomer).filter(|h| *h >= 2)
    });
    assert!(!validators(v0, None).contains(&node_id));

    // The operator's entity gets tokens, escrows what each genesis
    // validator has, and registers itself and its validator node, whose
    // registration lasts until the end of the next epoch.
    let funding = Transfer {
        to: entity_addr,
        amount: Quantity(10 * NODE_STAKE),
    };
    submit(
        v0,
        consensus_tx(&genesis, &user(), 0, staking::TRANSFER, &funding),
    );
    let escrow = Escrow {
        account: entity_addr,
        amount: Quantity(NODE_STAKE),
    };
    submit(
        v0,
        consensus_tx(&genesis, &entity_key, 0, staking::ADD_ESCROW, &escrow),
    );
    let descriptor = registry::Entity {
        v: 1,
        id: entity,
        nodes: vec![id.node.public_key()],
    };
    let signed_entity = Signed::sign(
        &entity_key,
        &Context::new(registry::ENTITY_SIGNATURE_CONTEXT).unwrap(),
        &descriptor,
    )
    .unwrap();
    submit(
        v0,
        consensus_tx(
            &genesis,
            &entity_key,
            1,
            registry::methods::REGISTER_ENTITY,
            &signed_entity,
        ),
    );
    let now = height(v0).unwrap();
    let registered_in = genesis.epoch_at(now + 1).0;
    let expiration = registered_in + 1;
    let at = submit(
        v0,
        consensus_tx(
            &genesis,
            &entity_key,
            2,
            registry::methods::REGISTER_NODE,
            &validator_descriptor(&id, entity, expiration),
        ),
    );
    assert_eq!(
        genesis.epoch_at(at).0,
        registered_in,
        "registered in a later epoch than planned; the test's epochs are too short for this machine"
    );
    // Not a validator before the next epoch.
    assert!(!validators(v0, Some(at)).contains(&node_id));

    // The newcomer is down while the set changes, and syncs across it.
    let newcomer_proc = net
        .procs
        .iter()
        .position(|p| p.files.name == "full-0")
        .unwrap();
    net.procs[newcomer_proc].stop(Duration::from_secs(10));
    let first = wait_for("the next epoch's first block", || {
        height(v0).filter(|h| genesis.epoch_at(*h).0 > registered_in)
    });
    let join_height = (at..=first)
        .find(|h| genesis.epoch_at(*h).0 == registered_in + 1)
        .unwrap();
    assert!(
        validators(v0, Some(join_height)).contains(&node_id),
        "elected at the first block of epoch {}",
        registered_in + 1
    );
    assert!(!validators(v0, Some(join_height - 1)).contains(&node_id));
    net.restart(newcomer_proc).unwrap();

    // It proposes a block that the network finalizes: the block's proposer
    // is its entity, and the newcomer's chain holds the same block.
    let (proposed, hash) = wait_for("a block proposed by the new validator", || {
        let top = height(v0)?;
        (join_height + 1..=top).find_map(|h| {
            let b = block(v0, h);
            (b["proposer"] == serde_json::to_value(entity_addr).unwrap())
                .then(|| (h, b["hash"].clone()))
        })
    });
    wait_for("the newcomer at that height", || {
        height(newcomer).filter(|h| *h >= proposed)
    });
    assert_eq!(block(newcomer, proposed)["hash"], hash);

    // The operator stops the node. While it ran, its registration worker
    // renewed its registration by itself; stopped, nothing renews it: it
    // lapses after the expiration it last registered and is not elected for
    // the epoch after. The other three validators hold 3/4 of the power and
    // keep finalizing.
    net.procs[newcomer_proc].stop(Duration::from_secs(10));
    let descriptor = call(
        v0,
        "consensus_query",
        json!(["registry.Node", {"id": node_id}]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let renewed = descriptor["expiration"]
        .as_u64()
        .unwrap_or_else(|| panic!("{descriptor}"));
    assert!(renewed >= expiration, "{descriptor}");
    let leave_epoch = renewed + 1;
    let left = wait_for("the epoch after the node lapses", || {
        height(v0).filter(|h| genesis.epoch_at(*h).0 >= leave_epoch)
    });
    let leave_height = (join_height..=left)
        .find(|h| genesis.epoch_at(*h).0 == leave_epoch)
        .unwrap();
    assert!(validators(v0, Some(leave_height - 1)).contains(&node_id));
    assert!(!validators(v0, Some(leave_height)).contains(&node_id));

    // The entity takes its stake back.
    let account = call(v0, "consensus_getAccount", json!([entity_addr.to_string()])).unwrap();
    let shares = amount(&account["escrow"]["active"]["total_shares"]);
    assert!(shares > 0, "{account}");
    let reclaim = ReclaimEscrow {
        account: entity_addr,
        shares: Quantity(shares),
    };
    let reclaimed_at = submit(
        v0,
        consensus_tx(&genesis, &entity_key, 3, staking::RECLAIM_ESCROW, &reclaim),
    );

    // Blocks keep finalizing, and none after its last validator height
    // (counting the one block a set change lags) is proposed by it.
    let until = reclaimed_at + 2 * EPOCH;
    wait_for("blocks after it left", || {
        height(v0).filter(|h| *h >= until)
    });
    for h in leave_height + 1..=until {
        assert_ne!(
            block(v0, h)["proposer"],
            serde_json::to_value(entity_addr).unwrap(),
            "block {h} proposed by a node that left the set"
        );
    }
    let account = call(v0, "consensus_getAccount", json!([entity_addr.to_string()])).unwrap();
    let active = &account["escrow"]["active"]["balance"];
    assert!(active.is_null() || amount(active) == 0, "{account}");
    // Debonding or already back (rewards earned as a validator included).
    let debonding = &account["escrow"]["debonding"]["balance"];
    let back = amount(&account["general"]["balance"])
        + if debonding.is_null() {
            0
        } else {
            amount(debonding)
        };
    assert!(back >= 10 * NODE_STAKE, "{account}");
}

/// The id of the ParaTime registered mid-run.
fn late_runtime() -> Namespace {
    atoll_localnet::runtime_id("late")
}

/// A `[[runtime]]` section running the plain ParaTime as `id`, with the
/// genesis file `genesis`.
fn runtime_section(id: Namespace, genesis: std::path::PathBuf) -> RuntimeSection {
    RuntimeSection {
        id: id.to_string(),
        binary: "atoll".into(),
        args: vec!["runtime-plain".into()],
        genesis: Some(genesis),
        max_pool_txs: 10_000,
        debug_fault: None,
        idle_round_ms: None,
        web3: None,
        web3_max_log_rounds: 100_000,
        web3_cors: Vec::new(),
        rpc_gas_cap: atoll_node::config::DEFAULT_RPC_GAS_CAP,
        rpc_evm_timeout_ms: atoll_node::config::DEFAULT_RPC_EVM_TIMEOUT_MS,
        rpc_batch_request_limit: atoll_node::config::DEFAULT_RPC_BATCH_REQUEST_LIMIT,
        rpc_batch_response_max_size: atoll_node::config::DEFAULT_RPC_BATCH_RESPONSE_MAX_SIZE,
        allow_unprotected_txs: false,
    }
}

/// The late runtime's descriptor, owned by `owner`, with `workers` workers.
fn late_descriptor(owner: PublicKey, workers: u16) -> Runtime {
    let plan = RuntimePlan::plain("late", vec![]);
    Runtime {
        v: 3,
        id: late_runtime(),
        entity_id: owner,
        kind: RuntimeKind::Compute,
        tee_hardware: TeeHardware::None,
        key_manager: None,
        executor: ExecutorParameters {
            group_size: workers,
            group_backup_size: 0,
            ..plan.executor
        },
        txn_scheduler: TxnSchedulerParameters {
            ..plan.txn_scheduler
        },
        storage: StorageParameters { ..plan.storage },
        admission_policy: AdmissionPolicy::AnyNode {},
        genesis: RuntimeGenesis {
            state_root: atoll_crypto::Hash::empty(),
            round: 0,
        },
    }
}

/// `who`'s next consensus nonce.
fn nonce(rpc: SocketAddr, who: Address) -> u64 {
    let a = call(rpc, "consensus_getAccount", json!([who.to_string()])).unwrap();
    a["general"]["nonce"].as_u64().unwrap_or(0)
}

/// The committee of `runtime` in the latest state, if any.
fn committee(rpc: SocketAddr, runtime: Namespace) -> Option<Committee> {
    committee_at(rpc, runtime, None)
}

/// The committee of `runtime` in the state after `at` (the latest when
/// `None`), if any.
fn committee_at(rpc: SocketAddr, runtime: Namespace, at: Option<u64>) -> Option<Committee> {
    let v = call(
        rpc,
        "consensus_query",
        json!(["scheduler.Committee", {"runtime": runtime.to_string()}, at]),
    )
    .ok()?;
    serde_json::from_value(v).ok()
}

/// Registers `id`'s node (entity key in its identity) as a compute node
/// serving `runtimes`: the inclusion height.
fn register_compute_node(net: &Network, id: &Identity, runtimes: Vec<Namespace>) -> u64 {
    let v0 = net.rpc("validator-0").unwrap();
    let genesis = &net.layout.genesis;
    let entity = id.entity.clone().unwrap();
    let who = Address::from_ed25519(&entity.public_key());
    let epoch = genesis.epoch_at(height(v0).unwrap()).0;
    let descriptor = node_descriptor(
        id,
        entity.public_key(),
        epoch + 500,
        Roles::COMPUTE,
        runtimes,
    );
    submit(
        v0,
        consensus_tx(
            genesis,
            &entity,
            nonce(v0, who),
            registry::methods::REGISTER_NODE,
            &descriptor,
        ),
    )
}

/// Registers (or updates) the late runtime as `owner`: the inclusion height.
fn register_late_runtime(net: &Network, owner: &SigningKey, workers: u16) -> u64 {
    let v0 = net.rpc("validator-0").unwrap();
    let signed = Signed::sign(
        owner,
        &Context::new(registry::RUNTIME_SIGNATURE_CONTEXT).unwrap(),
        &late_descriptor(owner.public_key(), workers),
    )
    .unwrap();
    let who = Address::from_ed25519(&owner.public_key());
    submit(
        v0,
        consensus_tx(
            &net.layout.genesis,
            owner,
            nonce(v0, who),
            registry::methods::REGISTER_RUNTIME,
            &signed,
        ),
    )
}

/// A transfer of one base unit from alice on the late runtime, sent to
/// `node`, waited for; then bob's balance is checked on every compute node.
fn late_transfer(net: &Network, node: &str, alice_nonce: u64) {
    let runtime = late_runtime();
    let alice = runtimes::signer(31);
    let bob = runtimes::signer(32).address();
    let raw = runtimes::transfer_tx(&net.chain, &runtime, &alice, bob, alice_nonce);
    let rpc = net.rpc(node).unwrap();
    let r = call(
        rpc,
        "runtime_submitTx",
        json!([runtime.to_string(), runtimes::b64(&raw), true]),
    )
    .unwrap_or_else(|e| panic!("transfer on the late runtime through {node}: {e}"));
    assert!(r["round"].as_u64().is_some_and(|r| r >= 1), "{r}");
    for n in ["compute-0", "compute-1"] {
        let rpc = net.rpc(n).unwrap();
        wait_for(&format!("bob's balance on {n}"), || {
            runtimes::balance(rpc, &runtime, bob)
                .ok()
                .filter(|b| *b == u128::from(alice_nonce) + 1)
        });
    }
}

#[test]
fn paratime_registered_after_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let genesis_file = dir.path().join("late-runtime.cbor");
    std::fs::write(
        &genesis_file,
        runtimes::funded_genesis(runtimes::signer(31).address(), FUNDS),
    )
    .unwrap();
    let (g0, g1) = (genesis_file.clone(), genesis_file);
    let mut net = Network::builder(atoll())
        .one_validator(2)
        .epoch_interval(EPOCH)
        // Registrations in this test outlast it.
        .genesis(|g| g.registry.parameters.max_node_expiration = 1_000)
        .configure("compute-0", move |c| {
            c.runtimes.push(runtime_section(late_runtime(), g0));
        })
        .configure("compute-1", move |c| {
            c.runtimes.push(runtime_section(late_runtime(), g1));
        })
        .hold_back("compute-1")
        .start(dir.path())
        .unwrap();
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| late_paratime(&mut net)));
    net.finish(outcome, 60, || dir.keep());
}

fn late_paratime(net: &mut Network) {
    let genesis = net.layout.genesis.clone();
    let v0 = net.rpc("validator-0").unwrap();
    let runtime = late_runtime();
    let identity =
        |name: &str| Identity::load(&net.node(name).unwrap().dir.join("identity")).unwrap();
    let (id0, id1) = (identity("compute-0"), identity("compute-1"));
    let owner = id0.entity.clone().unwrap();
    wait_for("the first blocks", || height(v0).filter(|h| *h >= 2));
    // compute-0 runs, waiting for a runtime consensus does not know.
    let c0 = net.rpc("compute-0").unwrap();
    wait_for("compute-0 up", || height(c0));
    let e = call(c0, "runtime_getBlock", json!([runtime.to_string(), null])).unwrap_err();
    assert!(e.to_string().contains("not registered"), "{e}");

    // Registered mid-run by compute-0's entity; compute-1 starts after.
    let registered_at = register_late_runtime(net, &owner, 1);
    net.start_node("compute-1").unwrap();
    let epoch = genesis.epoch_at(registered_at).0;
    register_compute_node(net, &id0, vec![runtime]);
    register_compute_node(net, &id1, vec![runtime]);

    // Elected at the next epoch (or the one after, if the registrations
    // crossed an epoch boundary): a committee of one.
    let first = wait_for("the late runtime's first committee", || {
        committee(v0, runtime)
    });
    assert!(first.epoch.0 > epoch, "{first:?}");
    assert_eq!(first.workers().count(), 1, "{first:?}");
    // The elected worker runs the genesis round by itself (after the
    // epoch-transition block); transactions are checked against the state
    // it makes, which holds alice's funds.
    let alice = runtimes::signer(31).address();
    wait_for("the late runtime's genesis state on compute-0", || {
        (runtimes::balance(c0, &runtime, alice).ok()? == FUNDS).then_some(())
    });
    late_transfer(net, "compute-0", 0);
    late_transfer(net, "compute-1", 1);

    // The owner asks for two workers: the current epoch keeps its
    // committee, the next one has two.
    let updated_at = register_late_runtime(net, &owner, 2);
    let update_epoch = genesis.epoch_at(updated_at).0;
    let c = committee_at(v0, runtime, Some(updated_at)).unwrap();
    assert_eq!(c.workers().count(), 1, "{c:?}");
    let next = wait_for("the committee after the update", || {
        committee(v0, runtime).filter(|c| c.epoch.0 > update_epoch)
    });
    assert_eq!(next.workers().count(), 2, "{next:?}");
    let mut members: Vec<PublicKey> = next.workers().copied().collect();
    members.sort();
    let mut ours = vec![id0.node.public_key(), id1.node.public_key()];
    ours.sort();
    assert_eq!(members, ours);
    late_transfer(net, "compute-1", 2);

    // compute-1 stops serving it: its operator stops the node and registers
    // it for no runtime (a running node would register itself for its
    // `[[runtime]]`s again). With two workers required and one eligible
    // node, the runtime has no committee from the next epoch on
    // (suspended); when compute-1 starts again, its registration worker
    // registers it for the runtime, the epoch after has a committee of two
    // again and rounds resume.
    let compute1 = net
        .procs
        .iter()
        .position(|p| p.files.name == "compute-1")
        .unwrap();
    net.procs[compute1].stop(Duration::from_secs(10));
    let left_at = register_compute_node(net, &id1, vec![]);
    let left_epoch = genesis.epoch_at(left_at).0;
    let suspended = wait_for("an epoch after compute-1 left", || {
        height(v0).filter(|h| genesis.epoch_at(*h).0 > left_epoch)
    });
    assert_eq!(committee_at(v0, runtime, Some(suspended)), None);
    net.restart(compute1).unwrap();
    let back_at = height(v0).unwrap();
    let back_epoch = genesis.epoch_at(back_at).0;
    let resumed = wait_for("the committee after compute-1 returned", || {
        committee(v0, runtime).filter(|c| c.epoch.0 > back_epoch)
    });
    assert_eq!(resumed.workers().count(), 2, "{resumed:?}");
    late_transfer(net, "compute-0", 3);
}

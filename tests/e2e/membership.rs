//! Who takes part, after genesis: `atoll node` processes on 127.0.0.1.
//!
//! - `validator_joins_and_leaves`: three genesis validators and a fourth
//!   node (`full-0`, configured as a validator but not in the genesis
//!   set). Its operator's entity is funded, escrows as much as each genesis
//!   validator, registers itself and the node as a validator: from the
//!   next epoch the node is in the validator set and proposes blocks that
//!   finalize. It is stopped before the epoch change and restarted after
//!   it, so it syncs across the change. Its registration is not renewed:
//!   the node lapses, leaves the set at the following epoch, the entity
//!   reclaims its whole escrow, and blocks keep finalizing without it.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{atoll, call};
use crate::runtimes;
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::registry::{self, KeyAddresses, MultiSigned, Node, Roles};
use atoll_consensus_types::staking::{Escrow, ReclaimEscrow, Transfer, methods as staking};
use atoll_crypto::Address;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_localnet::NODE_STAKE;
use atoll_localnet::harness::Network;
use atoll_node::Identity;
use atoll_node::Role;
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
        runtimes: vec![],
        roles: Roles::VALIDATOR,
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

    // Its registration is not renewed: it lapses after `expiration` and is
    // not elected for the epoch after.
    let leave_epoch = expiration + 1;
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

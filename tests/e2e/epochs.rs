//! A network without debug conveniences lives through its epochs by
//! itself: the VRF beacon (every node proves each epoch), registrations that
//! expire after two epochs (every node renews its own), a gas price (every
//! node pays for its own proofs, registrations and commitments) and a
//! non-debug genesis. Over at least eight epochs every epoch has validators
//! and a ParaTime committee, the ParaTime keeps finalizing rounds, the
//! nodes' expirations move forward, and a compute node stopped for longer
//! than its registration lasts lapses (it leaves the committee) and comes
//! back after a restart.

use std::net::SocketAddr;
use std::time::Duration;

use atoll_consensus_types::registry::Node;
use atoll_consensus_types::scheduler::{Committee, Validator};
use atoll_crypto::ed25519::PublicKey;
use atoll_localnet::harness::{Network, STOP_GRACE};
use atoll_localnet::{Layout, RuntimePlan};
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_types::Namespace;
use serde_json::{Value, json};

use crate::common::{atoll, call};
use crate::runtimes::{self, b64};

/// Blocks per epoch (fast blocks: a few seconds).
const INTERVAL: u64 = 30;
/// Epochs a registration lasts.
const EXPIRATION: u64 = 2;
/// The epochs the network must live through.
const EPOCHS: u64 = 8;
const WAIT: Duration = Duration::from_secs(300);

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

fn alice() -> TxSigner {
    runtimes::signer(21)
}

fn bob() -> TxSigner {
    runtimes::signer(22)
}

struct Net(Network);

runtimes::net_derefs_to_network!(Net, 0);

impl Net {
    fn rpc(&self, name: &str) -> SocketAddr {
        self.0.rpc(name).unwrap()
    }

    fn height(&self) -> Option<u64> {
        call(self.rpc("validator-0"), "node_status", json!([]))
            .ok()?
            .get("latest_height")?
            .as_u64()
    }

    fn epoch(&self) -> Option<u64> {
        Some(epoch_of(self.height()?))
    }

    fn query(&self, method: &str, args: Value, height: Option<u64>) -> Option<Value> {
        call(
            self.rpc("validator-0"),
            "consensus_query",
            json!([method, args, height]),
        )
        .ok()
    }

    fn committee(&self, runtime: &Namespace, height: Option<u64>) -> Option<Committee> {
        let v = self.query(
            "scheduler.Committee",
            json!({ "runtime": runtime.to_string() }),
            height,
        )?;
        serde_json::from_value(v).ok()
    }

    fn node(&self, id: &PublicKey) -> Option<Node> {
        let v = self.query("registry.Node", json!({ "id": id.to_string() }), None)?;
        serde_json::from_value(v).ok()
    }

    fn wait_epoch(&self, epoch: u64) {
        wait_for(&format!("epoch {epoch}"), || {
            (self.epoch()? >= epoch).then_some(())
        });
    }

    fn transfer(&self, runtime: &Namespace, nonce: u64) -> u64 {
        let raw = runtimes::transfer_tx(&self.chain, runtime, &alice(), bob().address(), nonce);
        let r = call(
            self.rpc("compute-0"),
            "runtime_submitTx",
            json!([runtime.to_string(), b64(&raw), true]),
        )
        .unwrap_or_else(|e| panic!("transfer {nonce}: {e}"));
        r["round"].as_u64().unwrap_or_else(|| panic!("{r}"))
    }
}

fn epoch_of(height: u64) -> u64 {
    atoll_consensus_types::epoch_at(1, INTERVAL, height).0
}

fn node_id(layout: &Layout, name: &str) -> PublicKey {
    let dir = &layout.nodes.iter().find(|n| n.name == name).unwrap().dir;
    atoll_node::identity::load_public(&dir.join("identity"))
        .unwrap()
        .node
}

fn start() -> (tempfile::TempDir, Net, Namespace) {
    let dir = tempfile::tempdir().unwrap();
    let mut rt = RuntimePlan::plain("plain", vec![0, 1, 2]);
    rt.genesis = Some(runtimes::funded_genesis(alice().address(), 1_000_000));
    // Two workers and a backup: two nodes are enough for a committee.
    rt.executor.group_size = 2;
    rt.executor.group_backup_size = 1;
    let id = rt.id;
    let net = Network::builder(atoll())
        .one_validator(3)
        .epoch_interval(INTERVAL)
        .plan(|p| {
            p.insecure_beacon = false;
            p.node_expiration = EXPIRATION;
            p.min_gas_price = 1;
            p.debug = false;
        })
        .runtime(rt)
        .start(dir.path())
        .unwrap();
    (dir, Net(net), id)
}

#[test]
fn a_network_lives_through_its_epochs() {
    let (dir, mut net, rt) = start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&mut net, rt);
    }));
    net.finish(outcome, 40, || dir.keep());
}

fn scenario(net: &mut Net, rt: Namespace) {
    let genesis = net.layout.genesis.clone();
    assert!(
        !genesis.debug && genesis.check().is_empty(),
        "a real genesis"
    );
    assert_eq!(
        genesis.beacon.backend,
        atoll_consensus::services::beacon::Backend::Vrf
    );
    assert!(genesis.consensus.min_gas_price.0 > 0);
    let c0 = node_id(&net.layout, "compute-0");
    let c2 = node_id(&net.layout, "compute-2");
    let v0 = node_id(&net.layout, "validator-0");

    // The ParaTime runs, and the nodes' VRF proofs redraw its committee.
    wait_for("the ParaTime's genesis round on compute-0", || {
        runtimes::balance(net.rpc("compute-0"), &rt, alice().address()).ok()
    });
    let mut nonce = 0;
    let first_round = net.transfer(&rt, nonce);
    nonce += 1;
    net.wait_epoch(2);
    wait_for("VRF proofs recorded", || {
        let s = net.query("beacon.VrfState", json!(null), None)?;
        (s["betas"].as_object()?.len() >= 2).then_some(())
    });

    // --- compute-2 stops for longer than its registration lasts.
    let i2 = net
        .procs
        .iter()
        .position(|p| p.files.name == "compute-2")
        .unwrap();
    net.procs[i2].stop(STOP_GRACE);
    let stopped_at = net.epoch().unwrap();
    let lapsed_at = wait_for("compute-2 to lapse", || {
        let n = net.node(&c2)?;
        let e = net.epoch()?;
        (n.expiration < e).then_some(e)
    });
    assert!(lapsed_at <= stopped_at + EXPIRATION + 2);
    // One more epoch: the committee drawn now has no place for it, and the
    // ParaTime goes on without it.
    net.wait_epoch(lapsed_at + 1);
    let c = wait_for("a committee without compute-2", || {
        let c = net.committee(&rt, None)?;
        (c.epoch.0 > lapsed_at).then_some(c)
    });
    assert!(!c.members.iter().any(|m| m.node_id == c2), "{c:?}");
    let round = net.transfer(&rt, nonce);
    nonce += 1;
    assert!(round > first_round);

    // --- It comes back: re-registers by itself and is elected again.
    net.restart(i2).unwrap();
    let back_at = wait_for("compute-2 to re-register", || {
        let n = net.node(&c2)?;
        let e = net.epoch()?;
        (n.expiration > e).then_some(e)
    });
    wait_for("compute-2 back in the committee", || {
        let c = net.committee(&rt, None)?;
        (c.epoch.0 > back_at && c.members.iter().any(|m| m.node_id == c2)).then_some(())
    });

    // --- At least eight epochs in all.
    let end = EPOCHS.max(net.epoch().unwrap() + 1);
    net.wait_epoch(end);
    let last_round = net.transfer(&rt, nonce);
    assert!(last_round > round);

    // Every epoch had validators and a committee (read at each epoch's
    // second block), and the descriptors' expirations moved on.
    for epoch in 0..=end {
        let h = epoch * INTERVAL + 2;
        let validators: Vec<Validator> = serde_json::from_value(
            net.query("scheduler.Validators", json!(null), Some(h))
                .unwrap(),
        )
        .unwrap();
        assert!(!validators.is_empty(), "epoch {epoch}: no validators");
        assert!(validators.iter().any(|v| v.node_id == v0));
        let c = net
            .committee(&rt, Some(h))
            .unwrap_or_else(|| panic!("epoch {epoch}: no committee"));
        assert_eq!(c.epoch.0, epoch, "epoch {epoch}");
        assert!(c.workers().count() == 2, "epoch {epoch}: {c:?}");
    }
    for id in [v0, c0, c2] {
        let n = net.node(&id).unwrap();
        assert!(
            n.expiration > EXPIRATION && n.expiration >= end,
            "{id}: expiration {} at epoch {end}",
            n.expiration
        );
    }
}

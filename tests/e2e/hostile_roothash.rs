//! Evidence and failures end to end: a validator and three compute nodes,
//! each an `atoll node` process on 127.0.0.1, serving one plain ParaTime
//! with all three as workers and `allowed_stragglers = 1`.
//!
//! - **A runtime that hangs, then crashes, mid-round.** compute-2's runtime
//!   process is stopped (SIGSTOP) while transfers flow, so its calls hang
//!   in the middle of rounds, then killed (SIGKILL) under the call in
//!   flight. The other two workers' votes finalize every round (one
//!   straggler allowed), compute-2's runtime host restarts the runtime,
//!   compute-2 catches up and serves again, and nobody is slashed.
//! - **Replayed and old evidence.** Two different commitments signed with
//!   compute-1's node key for one round and batch are submitted as
//!   `roothash.Evidence`: compute-1's entity is slashed once. The same
//!   evidence again, and the pair swapped, are refused as duplicates
//!   (roothash error 10) and slash nothing; evidence about a round more than
//!   `max_evidence_age` rounds old is refused as expired (roothash error
//!   11). No other entity loses stake.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::common::{atoll, call};
use crate::runtimes::{self, b64};
use atoll_consensus_types::roothash::{
    self, CommitmentHeader, ComputeResults, Evidence, ExecutorCommitment, Vote,
};
use atoll_consensus_types::scheduler::Committee;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_localnet::harness::Network;
use atoll_localnet::{NODE_STAKE, NodeProcess, RuntimePlan, SLASH_AMOUNT};
use atoll_node::identity::Identity;
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction as ConsensusTx};
use atoll_types::{Namespace, Quantity, cbor};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);
const FUNDS: u128 = 1_000_000_000;
/// Small, so that a test can outlive it.
const MAX_EVIDENCE_AGE: u64 = 3;

fn alice() -> TxSigner {
    runtimes::signer(21)
}

fn bob() -> TxSigner {
    runtimes::signer(22)
}

/// A consensus account that submits the evidence.
fn carol() -> SigningKey {
    SigningKey::from_seed(&[23; 32])
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

struct Net {
    net: Network,
    runtime: Namespace,
    /// alice's next runtime nonce.
    nonce: std::cell::Cell<u64>,
}

runtimes::net_derefs_to_network!(Net, net);

impl Net {
    fn rpc(&self, name: &str) -> SocketAddr {
        self.net.rpc(name).unwrap()
    }

    fn identity(&self, name: &str) -> Identity {
        let n = self.layout.nodes.iter().find(|n| n.name == name).unwrap();
        Identity::load(&n.dir.join("identity")).unwrap()
    }

    fn consensus(&self, method: &str, args: Value) -> Value {
        call(
            self.rpc("validator-0"),
            "consensus_query",
            json!([method, args]),
        )
        .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn account(&self, who: Address) -> Value {
        call(
            self.rpc("validator-0"),
            "consensus_getAccount",
            json!([who.to_string()]),
        )
        .unwrap()
    }

    /// The active escrow of the entity of node `name`.
    fn escrow_of(&self, name: &str) -> u128 {
        let entity = self.identity(name).public().entity.unwrap();
        let a = self.account(Address::from_ed25519(&entity));
        let v = &a["escrow"]["active"]["balance"];
        v.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v.as_u64().map(u128::from))
            .unwrap_or(0)
    }

    /// The latest round consensus finalized for the runtime.
    fn consensus_round(&self) -> u64 {
        self.consensus(
            "roothash.LatestBlock",
            json!({ "runtime": self.runtime.to_string() }),
        )["round"]
            .as_u64()
            .unwrap()
    }

    /// A transfer from alice through `node`, waited for: the round it
    /// finalized in.
    fn transfer(&self, node: &str) -> u64 {
        let nonce = self.nonce.get();
        let tx =
            runtimes::transfer_tx(&self.chain, &self.runtime, &alice(), bob().address(), nonce);
        let r = call(
            self.rpc(node),
            "runtime_submitTx",
            json!([self.runtime.to_string(), b64(&tx), true]),
        )
        .unwrap_or_else(|e| panic!("transfer {nonce} through {node}: {e}"));
        assert!(r["result"]["result"].get("ok").is_some(), "{r}");
        self.nonce.set(nonce + 1);
        r["round"].as_u64().unwrap()
    }

    /// Submits a consensus transaction from carol and waits for its block:
    /// the transaction's error `(module, code)`, if any.
    fn consensus_tx(&self, method: &str, body: &impl serde::Serialize) -> Option<(String, u64)> {
        let who = Address::from_ed25519(&carol().public_key());
        let tx = ConsensusTx {
            nonce: self.account(who)["general"]["nonce"].as_u64().unwrap_or(0),
            fee: Some(Fee {
                amount: Quantity(0),
                gas: 100_000,
            }),
            method: method.into(),
            body: Some(cbor::to_value(body).unwrap()),
        };
        let ctx =
            Context::for_chain(atoll_consensus::app::TX_SIGNATURE_CONTEXT, &self.chain).unwrap();
        let raw = cbor::to_vec(&Signed::sign(&carol(), &ctx, &tx).unwrap()).unwrap();
        let r = call(
            self.rpc("validator-0"),
            "consensus_submitTx",
            json!([b64(&raw), true]),
        )
        .unwrap_or_else(|e| panic!("{method}: {e}"));
        let e = &r["result"]["error"];
        (!e.is_null()).then(|| {
            (
                e["module"].as_str().unwrap_or_default().to_string(),
                e["code"].as_u64().unwrap_or_default(),
            )
        })
    }
}

fn runtime_genesis() -> Vec<u8> {
    runtimes::funded_genesis(alice().address(), FUNDS)
}

fn start() -> (tempfile::TempDir, Net) {
    let dir = tempfile::tempdir().unwrap();
    let mut rt = RuntimePlan::plain("plain-h", vec![0, 1, 2]);
    rt.genesis = Some(runtime_genesis());
    rt.executor.allowed_stragglers = 1;
    let runtime = rt.id;
    let net = Network::builder(atoll())
        .one_validator(3)
        // No election during the test: the committee stays as it is.
        .epoch_interval(100_000)
        .funded(Address::from_ed25519(&carol().public_key()), FUNDS)
        .runtime(rt)
        // An operator's choice of evidence age, small enough to outlive here.
        .genesis(|g| g.roothash.max_evidence_age = MAX_EVIDENCE_AGE)
        .start(dir.path())
        .unwrap();
    (
        dir,
        Net {
            net,
            runtime,
            nonce: std::cell::Cell::new(0),
        },
    )
}

#[test]
fn hostile_roothash_end_to_end() {
    let (dir, mut net) = start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime_crash(&net);
        replayed_evidence(&net);
    }));
    net.finish(outcome, 25, || dir.keep());
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

const COMPUTE: [&str; 3] = ["compute-0", "compute-1", "compute-2"];

/// compute-2's runtime hangs, then crashes under a call: rounds go on with
/// the other two workers, compute-2 recovers, nobody is slashed.
fn runtime_crash(net: &Net) {
    wait_for("the genesis round on every compute node", || {
        COMPUTE
            .iter()
            .all(|n| runtimes::latest_round(net.rpc(n), &net.runtime).is_some_and(|r| r >= 1))
            .then_some(())
    });
    net.transfer("compute-0");
    let node_pid = net
        .procs
        .iter()
        .find(|p| p.files.name == "compute-2")
        .and_then(NodeProcess::pid)
        .unwrap();
    let old = wait_for("compute-2's runtime process", || {
        runtimes::runtime_pid(node_pid, &net.runtime, "runtime-plain")
    });

    // Hung: every call compute-2 makes to its runtime now blocks, in the
    // middle of whatever round it is in.
    signal(old, "-STOP");
    let before = net.consensus_round();
    for _ in 0..3 {
        net.transfer("compute-0");
    }
    let during = net.consensus_round();
    assert!(
        during >= before + 3,
        "rounds finalized without compute-2 ({before} -> {during})"
    );
    // Crashed under the call in flight.
    signal(old, "-KILL");
    for _ in 0..3 {
        net.transfer("compute-1");
    }

    // compute-2 recovers: a new runtime process, the latest rounds applied,
    // and it takes transactions again.
    let new = wait_for("compute-2 to restart its runtime", || {
        runtimes::runtime_pid(node_pid, &net.runtime, "runtime-plain").filter(|p| *p != old)
    });
    assert_ne!(new, old);
    let round = net.transfer("compute-2");
    wait_for("compute-2 to apply the latest round", || {
        (runtimes::latest_round(net.rpc("compute-2"), &net.runtime)? >= round).then_some(())
    });
    assert_eq!(
        runtimes::balance(net.rpc("compute-2"), &net.runtime, bob().address()).unwrap(),
        runtimes::balance(net.rpc("compute-0"), &net.runtime, bob().address()).unwrap(),
    );
    for n in COMPUTE {
        assert_eq!(net.escrow_of(n), NODE_STAKE, "{n} was slashed");
    }
}

/// Two commitments signed with `key` for `round` and `scheduler`'s batch,
/// with different state roots.
fn equivocation(
    net: &Net,
    key: &SigningKey,
    round: u64,
    scheduler: atoll_crypto::ed25519::PublicKey,
) -> (ExecutorCommitment, ExecutorCommitment) {
    let ctx = roothash::commitment_context(&net.chain).unwrap();
    let sign = |root: &[u8]| {
        let header = CommitmentHeader {
            runtime: net.runtime,
            scheduler_id: scheduler,
            vote: Vote::Results(ComputeResults {
                round,
                previous_hash: Hash::digest(b"the block before"),
                io_root: Hash::empty(),
                state_root: Hash::digest(root),
                messages_hash: Hash::empty(),
            }),
        };
        let bytes = roothash::commitment_signing_bytes(&header).unwrap();
        ExecutorCommitment {
            node_id: key.public_key(),
            signature: key.sign(&ctx, &bytes),
            header,
            messages: vec![],
        }
    };
    (sign(b"one root"), sign(b"another root"))
}

fn evidence(net: &Net, a: &ExecutorCommitment, b: &ExecutorCommitment) -> Option<(String, u64)> {
    let ev = Evidence {
        id: net.runtime,
        commit_a: a.clone(),
        commit_b: b.clone(),
    };
    net.consensus_tx(roothash::methods::EVIDENCE, &ev)
}

/// Evidence against compute-1 slashes it once; replays and old evidence are
/// refused; nobody else loses stake.
fn replayed_evidence(net: &Net) {
    let committee: Committee = serde_json::from_value(net.consensus(
        "scheduler.Committee",
        json!({ "runtime": net.runtime.to_string() }),
    ))
    .unwrap();
    let round = net.consensus_round() + 1;
    let scheduler = committee.proposer_order(round)[0];
    let c1 = net.identity("compute-1").node;
    let (a, b) = equivocation(net, &c1, round, scheduler);
    let stake = |n: &str| net.escrow_of(n);
    assert_eq!(stake("compute-1"), NODE_STAKE);

    assert_eq!(evidence(net, &a, &b), None, "the evidence is taken");
    assert_eq!(stake("compute-1"), NODE_STAKE - SLASH_AMOUNT);
    for (x, y) in [(&a, &b), (&b, &a)] {
        assert_eq!(
            evidence(net, x, y),
            Some(("roothash".into(), 10)),
            "a replay is refused as a duplicate"
        );
        assert_eq!(
            stake("compute-1"),
            NODE_STAKE - SLASH_AMOUNT,
            "slashed once"
        );
    }

    // Rounds go on past the evidence age.
    let mut last = net.consensus_round();
    for _ in 0..(2 * MAX_EVIDENCE_AGE + 2) {
        if last > round + MAX_EVIDENCE_AGE {
            break;
        }
        last = net.transfer("compute-0").max(net.consensus_round());
    }
    assert!(last > round + MAX_EVIDENCE_AGE, "round {last}");
    // Old evidence, against another node, is refused as expired.
    let c0 = net.identity("compute-0").node;
    let (a0, b0) = equivocation(net, &c0, round, scheduler);
    assert_eq!(evidence(net, &a0, &b0), Some(("roothash".into(), 11)));

    for n in ["compute-0", "compute-2"] {
        assert_eq!(stake(n), NODE_STAKE, "{n} is honest and kept its stake");
    }
    assert_eq!(stake("compute-1"), NODE_STAKE - SLASH_AMOUNT);
}

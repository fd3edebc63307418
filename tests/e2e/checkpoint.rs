//! Storage checkpoints end to end: a validator and three compute nodes,
//! each an `atoll node` process on 127.0.0.1. A plain ParaTime checkpoints
//! its state every 5 rounds in small chunks. compute-0 and compute-1 run it
//! from genesis; compute-2 (registered, never elected: the runtime is
//! permissioned to the other two) is started only once the runtime is many
//! rounds in. It restores the newest checkpoint from its storage peers
//! (checked against the past root consensus recorded), replays only the
//! rounds after it, reaches the same state root as the others, and answers
//! balance queries; it has no record of the rounds before the checkpoint.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{atoll, call};
use crate::runtimes::{self, b64};
use atoll_consensus_types::registry::StorageParameters;
use atoll_crypto::Hash;
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_runtime_sdk::modules::accounts::Transfer;
use atoll_runtime_sdk::types::BaseUnits;
use atoll_types::{Namespace, cbor};
use base64::Engine as _;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(120);
const FUNDS: u128 = 1_000_000_000;
const INTERVAL: u64 = 5;
const LATE: &str = "compute-2";

fn alice() -> TxSigner {
    runtimes::signer(21)
}

fn bob() -> TxSigner {
    runtimes::signer(22)
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

/// The network and the checkpointing runtime's id.
struct Net {
    net: Network,
    id: Namespace,
}

runtimes::net_derefs_to_network!(Net, net);

impl Net {
    fn files(&self, name: &str) -> &atoll_localnet::NodeFiles {
        self.net.node(name).unwrap()
    }

    fn rpc(&self, name: &str) -> SocketAddr {
        self.files(name).rpc
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.files(name).dir.join("node.log")).unwrap_or_default()
    }

    fn call(&self, node: &str, method: &str, params: Value) -> Result<Value, Value> {
        call(self.rpc(node), method, params)
    }

    fn transfer(&self, nonce: u64, amount: u128) -> Vec<u8> {
        let body = cbor::to_value(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(amount),
        })
        .unwrap();
        runtimes::runtime_tx(
            &self.chain,
            &self.id,
            &alice(),
            nonce,
            "accounts.Transfer",
            body,
            0,
            100_000,
        )
    }

    fn balance(&self, node: &str, who: &TxSigner) -> Option<u128> {
        runtimes::balance(self.rpc(node), &self.id, who.address()).ok()
    }

    fn block(&self, node: &str, round: Option<u64>) -> Result<Value, Value> {
        let params = match round {
            Some(r) => json!([self.id.to_string(), r]),
            None => json!([self.id.to_string()]),
        };
        self.call(node, "runtime_getBlock", params)
    }

    fn latest_round(&self, node: &str) -> Option<u64> {
        runtimes::latest_round(self.rpc(node), &self.id)
    }

    fn checkpoints(&self, node: &str) -> Vec<Value> {
        self.call(node, "runtime_getCheckpoints", json!([self.id.to_string()]))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }
}

fn start() -> (tempfile::TempDir, Net) {
    let dir = tempfile::tempdir().unwrap();
    let mut rt = RuntimePlan::plain("plain-ckpt", vec![0, 1, 2]);
    rt.genesis = Some(runtimes::funded_genesis(alice().address(), FUNDS));
    // compute-2 serves the runtime but is never elected: the committee does
    // not wait for it while it is down.
    rt.whitelist = Some(vec![0, 1]);
    rt.executor.group_size = 2;
    rt.executor.group_backup_size = 2;
    // Rounds at a steady pace without transactions.
    rt.idle_round_ms = Some(200);
    rt.storage = StorageParameters {
        checkpoint_interval: INTERVAL,
        checkpoint_num_kept: 2,
        // Small chunks: a checkpoint of this state has several.
        checkpoint_chunk_size: 128,
    };
    let id = rt.id;
    let net = Network::builder(atoll())
        .one_validator(3)
        .epoch_interval(600)
        .runtime(rt)
        .hold_back(LATE)
        .start(dir.path())
        .unwrap();
    (dir, Net { net, id })
}

#[test]
fn a_late_node_restores_a_checkpoint_and_catches_up() {
    let (dir, mut net) = start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&mut net)));
    net.finish(outcome, 30, || dir.keep());
}

fn scenario(net: &mut Net) {
    let t0 = Instant::now();
    let id = net.id.to_string();
    wait_for("the runtime's genesis round", || {
        (net.balance("compute-0", &alice())? == FUNDS).then_some(())
    });
    // Transfers spread over several checkpoint intervals.
    let mut sent = 0u128;
    for nonce in 0..4u64 {
        let amount = 1_000 + u128::from(nonce);
        let r = net
            .call(
                "compute-0",
                "runtime_submitTx",
                json!([id, b64(&net.transfer(nonce, amount)), true]),
            )
            .unwrap_or_else(|e| panic!("transfer {nonce}: {e}"));
        assert!(r["result"]["result"].get("ok").is_some(), "{r}");
        sent += amount;
        let round = r["round"].as_u64().unwrap();
        wait_for("rounds to pass", || {
            (net.latest_round("compute-0")? >= round + 2).then_some(())
        });
    }
    // Enough rounds that a newcomer is more than an interval behind, and
    // two checkpoints kept on each running node.
    let newest = wait_for("two checkpoints on compute-0 and compute-1", || {
        let a = net.checkpoints("compute-0");
        let b = net.checkpoints("compute-1");
        let newest = a.last()?["round"].as_u64()?;
        (a.len() == 2 && b.len() == 2 && newest >= 3 * INTERVAL).then_some(newest)
    });
    let list = net.checkpoints("compute-0");
    for c in &list {
        let round = c["round"].as_u64().unwrap();
        assert_eq!(round % INTERVAL, 0, "{c}");
        let digests = c["chunks"].as_array().unwrap();
        assert!(digests.len() >= 3, "several chunks expected: {c}");
        // The root is the one consensus recorded for the round.
        let past = net
            .call(
                "validator-0",
                "consensus_query",
                json!(["roothash.PastRoot", { "runtime": id, "round": round }]),
            )
            .unwrap_or_else(|e| panic!("past root: {e}"));
        assert_eq!(past["state_root"], c["root"], "{past} vs {c}");
        // A served chunk has its listed digest.
        let chunk = net
            .call(
                "compute-0",
                "runtime_getCheckpointChunk",
                json!([id, round, 1]),
            )
            .unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(chunk["chunk"].as_str().unwrap())
            .unwrap();
        assert_eq!(json!(Hash::digest(&bytes)), digests[1]);
    }
    let e = net
        .call("compute-0", "runtime_getCheckpointChunk", json!([id, 3, 0]))
        .unwrap_err();
    assert_eq!(e["code"], -32004, "{e}");

    eprintln!(
        "{:?}: checkpoints up to round {newest}; starting {LATE}",
        t0.elapsed()
    );
    // --- compute-2 joins now.
    let then = net.latest_round("compute-0").unwrap();
    net.start_node(LATE).unwrap();
    let restored = wait_for("compute-2 to restore a checkpoint", || {
        let log = net.log(LATE);
        let line = log
            .lines()
            .find(|l| l.contains("storage restored from a checkpoint"))?;
        let round = line.split("round=").nth(1)?.split_whitespace().next()?;
        eprintln!("{LATE}: {line}");
        round.parse::<u64>().ok()
    });
    eprintln!("{:?}: {LATE} restored round {restored}", t0.elapsed());
    // A checkpoint at most an interval older than the newest when it
    // started (its own consensus may still have been a little behind), and
    // not round 1: it did not replay from genesis.
    assert!(
        restored >= INTERVAL && restored + INTERVAL >= newest && restored % INTERVAL == 0,
        "restored round {restored}, newest checkpoint was {newest}"
    );
    assert!(
        !net.log(LATE).contains("no usable checkpoint"),
        "{}",
        net.log(LATE)
    );
    // It catches up: same header (so same state root) as the others.
    let (round, header) = wait_for("compute-2 to catch up", || {
        let r = net.latest_round(LATE)?;
        let theirs = net.block("compute-0", Some(r)).ok()?;
        let mine = net.block(LATE, Some(r)).ok()?;
        (r >= then && mine["hash"] == theirs["hash"]).then(|| (r, mine["header"].clone()))
    });
    assert_eq!(
        header["state_root"],
        net.block("compute-1", Some(round)).unwrap()["header"]["state_root"]
    );
    // It replayed nothing before the checkpoint: those rounds are not here.
    let e = net.block(LATE, Some(1)).unwrap_err();
    assert_eq!(e["code"], -32004, "{e}");
    let e = net
        .call(LATE, "runtime_getRound", json!([id, restored]))
        .unwrap_err();
    assert_eq!(e["code"], -32004, "{e}");
    assert!(net.block(LATE, Some(restored + 1)).is_ok());
    eprintln!("{:?}: {LATE} caught up at round {round}", t0.elapsed());
    // Balances on the newcomer.
    assert_eq!(net.balance(LATE, &bob()), Some(sent));
    assert_eq!(net.balance(LATE, &alice()), Some(FUNDS - sent));

    // A transfer after it joined reaches it too.
    let r = net
        .call(
            "compute-1",
            "runtime_submitTx",
            json!([id, b64(&net.transfer(4, 7)), true]),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let round = r["round"].as_u64().unwrap();
    wait_for("compute-2 to apply the new transfer", || {
        (net.latest_round(LATE)? >= round).then_some(())
    });
    assert_eq!(net.balance(LATE, &bob()), Some(sent + 7));
}

//! ParaTimes end to end: a validator and three compute nodes, each an
//! `atoll node` process on 127.0.0.1, each compute node running the plain
//! ParaTime binaries (`atoll runtime-plain`) under its runtime host.
//!
//! - Runtime A is served by all three compute nodes, all of them workers;
//!   compute-2 runs it with the test-only fault flag and commits wrong state
//!   roots for batches it did not propose. Consensus sees the discrepancy,
//!   the backups resolve it, the round finalizes with the honest result and
//!   compute-2's entity is slashed.
//! - Runtime B is permissioned: only compute-0 and compute-1 are
//!   whitelisted. compute-2 also runs it, is never elected, and follows its
//!   rounds through storage sync. Transfers, a deposit from consensus and a
//!   withdrawal back run on B, with balances checked on both layers; bad
//!   transactions get typed errors; a runtime process killed with SIGKILL
//!   is restarted and rounds go on.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::{atoll, call};
use crate::runtimes::{self, b64};
use atoll_compute::executor::Fault;
use atoll_consensus_types::scheduler::Committee;
use atoll_consensus_types::staking::{Allow, methods};
use atoll_crypto::Address;
use atoll_crypto::ed25519::SigningKey;
use atoll_localnet::harness::Network;
use atoll_localnet::{NODE_STAKE, RuntimePlan};
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_runtime_sdk::modules::accounts::{BalancesQuery, NonceQuery, Transfer};
use atoll_runtime_sdk::modules::consensus_accounts::{Deposit, Withdraw};
use atoll_runtime_sdk::types::BaseUnits;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction as ConsensusTx};
use atoll_types::{Namespace, Quantity, cbor};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);
const RUNTIME_FUNDS: u128 = 1_000_000_000;
const CONSENSUS_FUNDS: u128 = 1_000_000_000;

fn alice() -> TxSigner {
    runtimes::signer(11)
}

fn bob() -> TxSigner {
    runtimes::signer(12)
}

/// Has consensus tokens only.
fn carol_key() -> SigningKey {
    SigningKey::from_seed(&[13; 32])
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

/// The network, and the test's shorthands on it.
struct Net(Network);

runtimes::net_derefs_to_network!(Net, 0);

impl Net {
    fn rpc(&self, name: &str) -> SocketAddr {
        self.0.rpc(name).unwrap()
    }

    fn node_key(&self, name: &str) -> atoll_crypto::ed25519::PublicKey {
        let dir = &self
            .layout
            .nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap()
            .dir;
        atoll_node::identity::load_public(&dir.join("identity"))
            .unwrap()
            .node
    }

    fn runtime_tx(
        &self,
        runtime: &Namespace,
        signer: &TxSigner,
        nonce: u64,
        method: &str,
        body: atoll_types::cbor::Value,
        messages: u32,
        gas: u64,
    ) -> Vec<u8> {
        runtimes::runtime_tx(
            &self.chain,
            runtime,
            signer,
            nonce,
            method,
            body,
            messages,
            gas,
        )
    }

    fn submit(
        &self,
        node: &str,
        runtime: &Namespace,
        raw: &[u8],
        wait: bool,
    ) -> Result<Value, Value> {
        call(
            self.rpc(node),
            "runtime_submitTx",
            json!([runtime.to_string(), b64(raw), wait]),
        )
    }

    fn balance(&self, node: &str, runtime: &Namespace, who: Address) -> u128 {
        runtimes::balance(self.rpc(node), runtime, who)
            .unwrap_or_else(|e| panic!("balances on {node}: {e}"))
    }

    fn latest_round(&self, node: &str, runtime: &Namespace) -> Option<u64> {
        runtimes::latest_round(self.rpc(node), runtime)
    }

    fn consensus(&self, method: &str, args: Value) -> Value {
        call(
            self.rpc("validator-0"),
            "consensus_query",
            json!([method, args]),
        )
        .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    fn consensus_balance(&self, who: Address) -> u128 {
        let a = call(
            self.rpc("validator-0"),
            "consensus_getAccount",
            json!([who.to_string()]),
        )
        .unwrap();
        a["general"]["balance"]
            .as_str()
            .map(|s| s.parse().unwrap())
            .or_else(|| a["general"]["balance"].as_u64().map(u128::from))
            .unwrap_or(0)
    }

    fn consensus_nonce(&self, who: Address) -> u64 {
        let a = call(
            self.rpc("validator-0"),
            "consensus_getAccount",
            json!([who.to_string()]),
        )
        .unwrap();
        a["general"]["nonce"].as_u64().unwrap_or(0)
    }
}

fn body<T: serde::Serialize>(v: &T) -> atoll_types::cbor::Value {
    cbor::to_value(v).unwrap()
}

fn runtime_genesis() -> Vec<u8> {
    runtimes::funded_genesis(alice().address(), RUNTIME_FUNDS)
}

fn start() -> (tempfile::TempDir, Net, [Namespace; 3]) {
    let dir = tempfile::tempdir().unwrap();
    let mut a = RuntimePlan::plain("plain-a", vec![0, 1, 2]);
    a.genesis = Some(runtime_genesis());
    a.faulty = vec![(2, Fault::WrongResults)];
    let mut b = RuntimePlan::plain("plain-b", vec![0, 1, 2]);
    b.genesis = Some(runtime_genesis());
    b.whitelist = Some(vec![0, 1]);
    b.executor.group_size = 2;
    b.executor.group_backup_size = 2;
    // C: compute-0 never proposes; compute-1 must take over its rounds.
    let mut c = RuntimePlan::plain("plain-c", vec![0, 1]);
    c.genesis = Some(runtime_genesis());
    c.faulty = vec![(0, Fault::SilentProposer)];
    c.txn_scheduler.propose_batch_timeout_ms = 300;
    let (ida, idb, idc) = (a.id, b.id, c.id);
    let net = Network::builder(atoll())
        .one_validator(3)
        .epoch_interval(60)
        .funded(
            Address::from_ed25519(&carol_key().public_key()),
            CONSENSUS_FUNDS,
        )
        .runtime(a)
        .runtime(b)
        .runtime(c)
        .start(dir.path())
        .unwrap();
    (dir, Net(net), [ida, idb, idc])
}

fn consensus_tx(net: &Net, key: &SigningKey, method: &str, body: &impl serde::Serialize) -> Value {
    let who = Address::from_ed25519(&key.public_key());
    let tx = ConsensusTx {
        nonce: net.consensus_nonce(who),
        fee: Some(Fee {
            amount: Quantity(0),
            gas: 10_000,
        }),
        method: method.into(),
        body: Some(cbor::to_value(body).unwrap()),
    };
    let ctx = atoll_crypto::context::Context::for_chain(
        atoll_consensus::app::TX_SIGNATURE_CONTEXT,
        &net.chain,
    )
    .unwrap();
    let raw = cbor::to_vec(&Signed::sign(key, &ctx, &tx).unwrap()).unwrap();
    call(
        net.rpc("validator-0"),
        "consensus_submitTx",
        json!([b64(&raw), true]),
    )
    .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// The pid of the runtime process `node` runs for `runtime`.
fn runtime_pid(node_pid: u32, runtime: &Namespace) -> Option<u32> {
    runtimes::runtime_pid(node_pid, runtime, "runtime-plain")
}

#[test]
fn paratimes_end_to_end() {
    let (dir, mut net, [ida, idb, idc]) = start();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&net, ida, idb);
        takeover(&net, idc);
        restarts(&mut net, idb);
    }));
    // Keeps the nodes' directories (logs, data) for a post-mortem.
    net.finish(outcome, 25, || dir.keep());
}

fn scenario(net: &Net, ida: Namespace, idb: Namespace) {
    // Both runtimes run their genesis round: alice's funds are there on
    // every node that serves them.
    for id in [ida, idb] {
        for node in ["compute-0", "compute-1", "compute-2"] {
            wait_for("the runtime's genesis round", || {
                let args = cbor::to_vec(&BalancesQuery {
                    address: alice().address(),
                })
                .unwrap();
                let r = call(
                    net.rpc(node),
                    "runtime_query",
                    json!([id.to_string(), "accounts.Balances", b64(&args)]),
                )
                .ok()?;
                (r["result"]["balances"].as_object()?.len() == 1).then_some(())
            });
        }
    }
    let listed = call(net.rpc("compute-2"), "runtime_list", json!([])).unwrap();
    let mut expected = vec![ida.to_string(), idb.to_string()];
    expected.sort();
    assert_eq!(listed, json!(expected));

    // --- Permissioned B: compute-2 is not whitelisted, never elected.
    let committee = net.consensus("scheduler.Committee", json!({ "runtime": idb.to_string() }));
    let members: Vec<String> = committee["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["node_id"].as_str().unwrap().to_string())
        .collect();
    let node_of = |name: &str| {
        let dir = net
            .layout
            .nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap()
            .dir
            .clone();
        atoll_node::identity::load_public(&dir.join("identity")).unwrap()
    };
    let c2 = node_of("compute-2");
    assert!(
        !members.iter().any(|m| *m == c2.node.to_string()),
        "{committee}"
    );
    assert!(
        members
            .iter()
            .any(|m| *m == node_of("compute-0").node.to_string())
    );

    // --- Transfers inside B.
    let t1 = net.runtime_tx(
        &idb,
        &alice(),
        0,
        "accounts.Transfer",
        body(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(1_000),
        }),
        0,
        100_000,
    );
    let r = net
        .submit("compute-0", &idb, &t1, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r["round"].as_u64().unwrap() >= 1, "{r}");
    assert!(r["result"].get("result").is_some(), "{r}");
    assert_eq!(net.balance("compute-0", &idb, bob().address()), 1_000);
    wait_for("compute-1 to apply the round", || {
        (net.balance("compute-1", &idb, bob().address()) == 1_000).then_some(())
    });
    // compute-2 is not in B's committee: it has B's state from storage sync.
    wait_for("compute-2 to sync runtime B", || {
        (net.latest_round("compute-2", &idb)? >= r["round"].as_u64()?).then_some(())
    });
    assert_eq!(net.balance("compute-2", &idb, bob().address()), 1_000);
    // Runtimes have separate states.
    assert_eq!(net.balance("compute-0", &ida, bob().address()), 0);

    // --- Bad input: typed errors, nothing changes.
    let before = net.balance("compute-0", &idb, alice().address());
    let garbage = net
        .submit("compute-0", &idb, b"not a transaction", false)
        .unwrap_err();
    assert_eq!(garbage["code"], -32000, "{garbage}");
    // The same bytes again: refused (its nonce is used), not run twice.
    let e = net.submit("compute-0", &idb, &t1, false).unwrap_err();
    assert_eq!(
        (&e["data"]["module"], &e["data"]["code"]),
        (&json!("core"), &json!(4)),
        "{e}"
    );
    let stale = net.runtime_tx(
        &idb,
        &alice(),
        0,
        "accounts.Transfer",
        body(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(5),
        }),
        0,
        100_000,
    );
    let e = net.submit("compute-0", &idb, &stale, false).unwrap_err();
    assert_eq!(
        (&e["data"]["module"], &e["data"]["code"]),
        (&json!("core"), &json!(4)),
        "{e}"
    );
    let unknown = net.runtime_tx(&idb, &alice(), 1, "accounts.Mint", body(&()), 0, 100_000);
    let e = net.submit("compute-0", &idb, &unknown, false).unwrap_err();
    assert_eq!(e["data"]["module"], "core", "{e}");
    let starved = net.runtime_tx(
        &idb,
        &alice(),
        1,
        "accounts.Transfer",
        body(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(5),
        }),
        0,
        1,
    );
    let e = net.submit("compute-0", &idb, &starved, false).unwrap_err();
    assert_eq!(e["data"]["module"], "core", "{e}");
    let mut forged = t1.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(net.submit("compute-0", &idb, &forged, false).is_err());
    let e = call(
        net.rpc("compute-0"),
        "runtime_submitTx",
        json!(["00", b64(&t1)]),
    )
    .unwrap_err();
    assert_eq!(e["code"], -32602, "{e}");
    let e = call(
        net.rpc("validator-0"),
        "runtime_submitTx",
        json!([idb.to_string(), b64(&t1)]),
    )
    .unwrap_err();
    assert_eq!(e["code"], -32004, "a validator serves no runtime: {e}");
    assert_eq!(net.balance("compute-0", &idb, alice().address()), before);
    // A call that fails in execution: included, only fee and nonce change.
    let too_much = net.runtime_tx(
        &idb,
        &alice(),
        1,
        "accounts.Transfer",
        body(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(RUNTIME_FUNDS * 2),
        }),
        0,
        100_000,
    );
    let r = net
        .submit("compute-0", &idb, &too_much, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r["result"]["result"]["fail"]["module"], "accounts", "{r}");
    assert_eq!(net.balance("compute-0", &idb, alice().address()), before);
    assert_eq!(net.balance("compute-0", &idb, bob().address()), 1_000);

    // --- Deposit from consensus into B, and withdraw back.
    let carol = TxSigner::Ed25519(carol_key());
    let carol_addr = carol.address();
    assert_eq!(carol_addr, Address::from_ed25519(&carol_key().public_key()));
    let runtime_account = Address::from_runtime_id(idb.as_bytes());
    let r = consensus_tx(
        net,
        &carol_key(),
        methods::ALLOW,
        &Allow {
            beneficiary: runtime_account,
            negative: false,
            amount_change: Quantity(50_000),
        },
    );
    assert!(r["result"]["error"].is_null(), "{r}");
    let consensus_before = net.consensus_balance(carol_addr);
    let deposit = net.runtime_tx(
        &idb,
        &carol,
        0,
        "consensus.Deposit",
        body(&Deposit {
            to: None,
            amount: BaseUnits::native(30_000),
        }),
        1,
        100_000,
    );
    let r = net
        .submit("compute-1", &idb, &deposit, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    wait_for("the deposit to be minted in B", || {
        (net.balance("compute-0", &idb, carol_addr) == 30_000).then_some(())
    });
    assert_eq!(net.consensus_balance(carol_addr), consensus_before - 30_000);
    assert_eq!(net.consensus_balance(runtime_account), 30_000);

    let withdraw = net.runtime_tx(
        &idb,
        &carol,
        1,
        "consensus.Withdraw",
        body(&Withdraw {
            to: None,
            amount: BaseUnits::native(10_000),
        }),
        1,
        100_000,
    );
    let r = net
        .submit("compute-0", &idb, &withdraw, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    wait_for("the withdrawal to reach consensus", || {
        (net.consensus_balance(carol_addr) == consensus_before - 20_000).then_some(())
    });
    assert_eq!(net.consensus_balance(runtime_account), 20_000);
    wait_for("B to settle the withdrawal", || {
        (net.balance("compute-0", &idb, carol_addr) == 20_000).then_some(())
    });

    // --- SIGKILL B's runtime on compute-0: restarted, rounds go on.
    let c0 = net
        .procs
        .iter()
        .find(|p| p.files.name == "compute-0")
        .unwrap();
    let node_pid = c0.pid().unwrap();
    let pid = runtime_pid(node_pid, &idb).expect("runtime B's process on compute-0");
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let t2 = net.runtime_tx(
        &idb,
        &alice(),
        2,
        "accounts.Transfer",
        body(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(500),
        }),
        0,
        100_000,
    );
    let r = wait_for("a transfer after the runtime was killed", || {
        net.submit("compute-1", &idb, &t2, true).ok()
    });
    assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    wait_for("compute-0 to apply the round", || {
        (net.balance("compute-0", &idb, bob().address()) == 1_500).then_some(())
    });
    let new_pid = runtime_pid(node_pid, &idb).expect("runtime B restarted");
    assert_ne!(new_pid, pid);

    // Bulk submission: each transaction gets its own outcome.
    let bulk: Vec<String> = (3..5)
        .map(|nonce| {
            b64(&net.runtime_tx(
                &idb,
                &alice(),
                nonce,
                "accounts.Transfer",
                body(&Transfer {
                    to: bob().address(),
                    amount: BaseUnits::native(100),
                }),
                0,
                100_000,
            ))
        })
        .chain(["not base64!".to_string(), b64(b"not cbor")])
        .collect();
    let out = call(
        net.rpc("compute-0"),
        "runtime_submitTxs",
        json!([idb.to_string(), bulk]),
    )
    .unwrap();
    let out = out.as_array().unwrap();
    assert!(
        out[0].get("hash").is_some() && out[1].get("hash").is_some(),
        "{out:?}"
    );
    assert_eq!(out[2]["error"]["code"], -32602, "{out:?}");
    assert_eq!(out[3]["error"]["code"], -32000, "{out:?}");
    wait_for("the bulk transfers", || {
        (net.balance("compute-0", &idb, bob().address()) == 1_700).then_some(())
    });

    // --- Faulty compute-2 on A: discrepancy, backups, honest result, slash.
    let entity = Address::from_ed25519(&c2.entity.unwrap());
    let escrow = || {
        let a = call(
            net.rpc("validator-0"),
            "consensus_getAccount",
            json!([entity.to_string()]),
        )
        .unwrap();
        let active = &a["escrow"]["active"]["balance"];
        active
            .as_str()
            .and_then(|s| s.parse::<u128>().ok())
            .or_else(|| active.as_u64().map(u128::from))
            .unwrap()
    };
    // compute-2 lies only about batches it did not propose: send A
    // transactions until a round where another node proposed (each has
    // two chances in three).
    let mut nonce = 0;
    let mut slashed = escrow() < NODE_STAKE;
    while !slashed && nonce < 30 {
        let t = net.runtime_tx(
            &ida,
            &alice(),
            nonce,
            "accounts.Transfer",
            body(&Transfer {
                to: bob().address(),
                amount: BaseUnits::native(42),
            }),
            0,
            100_000,
        );
        let r = net
            .submit("compute-0", &ida, &t, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r["result"]["result"].get("ok").is_some(), "{r}");
        nonce += 1;
        slashed = escrow() < NODE_STAKE;
    }
    assert!(
        slashed,
        "compute-2 was not slashed after {nonce} rounds of A"
    );
    assert_eq!(
        net.balance("compute-0", &ida, bob().address()),
        42 * u128::from(nonce)
    );
    // A's finalized state is the honest nodes' state.
    let latest = net.consensus(
        "roothash.LatestBlock",
        json!({ "runtime": ida.to_string() }),
    );
    let round = latest["round"].as_u64().unwrap();
    for node in ["compute-0", "compute-1"] {
        wait_for("honest nodes to apply A's latest round", || {
            (net.latest_round(node, &ida)? >= round).then_some(())
        });
        let b = call(
            net.rpc(node),
            "runtime_getBlock",
            json!([ida.to_string(), round]),
        )
        .unwrap();
        assert_eq!(
            b["header"]["state_root"], latest["state_root"],
            "{node}: {b} vs {latest}"
        );
    }
    // Both runtimes progressed, with different committees.
    assert!(net.latest_round("compute-0", &ida).unwrap() >= 1);
    assert!(net.latest_round("compute-0", &idb).unwrap() >= 4);
}

/// Runtime C: compute-0 never proposes. Rounds for which it is the rank-0
/// scheduler are proposed by compute-1 once `propose_batch_timeout_ms` has
/// passed, and finalize.
fn takeover(net: &Net, idc: Namespace) {
    let silent = net.node_key("compute-0");
    let mut nonce = 0;
    let mut took_over = 0;
    // Go on until a round in which compute-0 ranked first finalized twice
    // (bounded).
    for _ in 0..40 {
        let t = net.runtime_tx(
            &idc,
            &alice(),
            nonce,
            "accounts.Transfer",
            body(&Transfer {
                to: bob().address(),
                amount: BaseUnits::native(1),
            }),
            0,
            100_000,
        );
        let r = net
            .submit("compute-1", &idc, &t, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r["result"]["result"].get("ok").is_some(), "{r}");
        nonce += 1;
        let round = r["round"].as_u64().unwrap();
        let committee: Committee = serde_json::from_value(
            net.consensus("scheduler.Committee", json!({ "runtime": idc.to_string() })),
        )
        .unwrap();
        if committee.proposer_order(round)[0] == silent {
            took_over += 1;
            if took_over == 2 {
                break;
            }
        }
    }
    assert_eq!(took_over, 2, "compute-0 seldom ranked first in 40 rounds");
    assert_eq!(
        net.balance("compute-1", &idc, bob().address()),
        u128::from(nonce)
    );
}

/// A committee member killed with SIGKILL restarts with every finalized
/// round; a compute node whose data is wiped joins again and catches up
/// through storage sync.
fn restarts(net: &mut Net, idb: Namespace) {
    let round_before = net.latest_round("compute-1", &idb).unwrap();
    let hash_before = call(
        net.rpc("compute-1"),
        "runtime_getBlock",
        json!([idb.to_string(), round_before]),
    )
    .unwrap()["hash"]
        .clone();
    let i1 = net
        .procs
        .iter()
        .position(|p| p.files.name == "compute-1")
        .unwrap();
    net.procs[i1].kill();
    let i2 = net
        .procs
        .iter()
        .position(|p| p.files.name == "compute-2")
        .unwrap();
    net.procs[i2].stop(Duration::from_secs(10));
    std::fs::remove_dir_all(net.procs[i2].files.dir.join("data")).unwrap();
    net.restart(i1).unwrap();
    net.restart(i2).unwrap();

    // compute-1 kept its rounds.
    let again = wait_for("compute-1 to serve again", || {
        call(
            net.rpc("compute-1"),
            "runtime_getBlock",
            json!([idb.to_string(), round_before]),
        )
        .ok()
    });
    assert_eq!(again["hash"], hash_before);
    // B goes on with compute-1 back in its committee.
    let args = cbor::to_vec(&NonceQuery {
        address: alice().address(),
    })
    .unwrap();
    let r = call(
        net.rpc("compute-0"),
        "runtime_query",
        json!([idb.to_string(), "accounts.Nonce", b64(&args)]),
    )
    .unwrap();
    let nonce = r["result"].as_u64().unwrap();
    let t = net.runtime_tx(
        &idb,
        &alice(),
        nonce,
        "accounts.Transfer",
        body(&Transfer {
            to: bob().address(),
            amount: BaseUnits::native(7),
        }),
        0,
        100_000,
    );
    // compute-1 may still be catching up: retry until it takes it.
    let hash = wait_for(
        "compute-1 to take a transfer after its restart",
        || match net.submit("compute-1", &idb, &t, false) {
            Ok(r) => Some(r["hash"].clone()),
            Err(_) => None,
        },
    );
    let r = wait_for("the transfer to be in a round", || {
        call(
            net.rpc("compute-1"),
            "runtime_getTransaction",
            json!([idb.to_string(), hash.as_str().unwrap()]),
        )
        .ok()
    });
    assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    let round = r["round"].as_u64().unwrap();
    assert!(round > round_before);
    // compute-2 started from nothing and caught up.
    wait_for("compute-2 to catch up with B", || {
        (net.latest_round("compute-2", &idb)? >= round).then_some(())
    });
    let b0 = call(
        net.rpc("compute-0"),
        "runtime_getBlock",
        json!([idb.to_string(), round]),
    )
    .unwrap();
    let b2 = call(
        net.rpc("compute-2"),
        "runtime_getBlock",
        json!([idb.to_string(), round]),
    )
    .unwrap();
    assert_eq!(b0["hash"], b2["hash"]);
    assert_eq!(
        net.balance("compute-2", &idb, bob().address()),
        net.balance("compute-0", &idb, bob().address())
    );
}

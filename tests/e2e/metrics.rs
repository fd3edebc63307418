//! `GET /metrics` of a compute node, end to end: a validator and one
//! compute node running the plain ParaTime (`atoll runtime-plain`). After
//! a few transfers (and one transaction the runtime refuses), the compute
//! node's scrape carries the compute worker's and the runtime host's
//! series for the runtime with counts that match what was sent, beside
//! the node's own metrics and Malachite's. Then one of the runtime's
//! processes is killed with SIGKILL: the host starts it again and the
//! restart counter says so.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::call;
use crate::runtimes;
use crate::runtimes::b64;
use atoll_localnet::RuntimePlan;
use atoll_localnet::harness::Network;
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_types::Namespace;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(240);
const FUNDS: u128 = 1_000_000;
/// Transfers the scenario gets included.
const TRANSFERS: u64 = 3;

fn alice() -> TxSigner {
    runtimes::signer(21)
}

fn bob() -> TxSigner {
    runtimes::signer(22)
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

/// The text `GET /metrics` answers on `rpc`.
fn scrape(rpc: SocketAddr) -> String {
    let mut s = TcpStream::connect(rpc).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

/// The value of the sample `name{…}` whose labels include every one of
/// `labels` (`key="value"`), if the scrape has one.
fn sample(text: &str, name: &str, labels: &[String]) -> Option<f64> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{'))
        })
        .find(|l| labels.iter().all(|want| l.contains(want.as_str())))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The scenario's view of one compute node's scrape of one runtime.
struct Scrape {
    text: String,
    runtime: String,
}

impl Scrape {
    fn take(rpc: SocketAddr, runtime: &Namespace) -> Self {
        Self {
            text: scrape(rpc),
            runtime: format!("runtime=\"{}\"", runtime.to_hex()),
        }
    }

    /// A series of the runtime (and of call `kind`, if given); missing
    /// series fail the test.
    fn get(&self, name: &str, kind: Option<&str>) -> f64 {
        let mut labels = vec![self.runtime.clone()];
        labels.extend(kind.map(|k| format!("kind=\"{k}\"")));
        sample(&self.text, name, &labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", self.text))
    }
}

#[test]
fn a_compute_node_exports_its_runtime_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = RuntimePlan::plain("plain-m", vec![0]);
    plan.genesis = Some(runtimes::funded_genesis(alice().address(), FUNDS));
    let id = plan.id;
    let mut net = Network::builder(crate::common::atoll())
        .one_validator(1)
        .runtime(plan)
        .start(dir.path())
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&net, id);
    }));
    // Keeps the nodes' directories (logs, data) for a post-mortem.
    net.finish(outcome, 25, || dir.keep());
}

fn submit(rpc: SocketAddr, runtime: &Namespace, raw: &[u8]) -> Result<Value, Value> {
    call(
        rpc,
        "runtime_submitTx",
        json!([runtime.to_string(), b64(raw), true]),
    )
}

fn scenario(net: &Network, id: Namespace) {
    let rpc = net.rpc("compute-0").unwrap();
    wait_for("the runtime's genesis round", || {
        (runtimes::balance(rpc, &id, alice().address()).ok() == Some(FUNDS)).then_some(())
    });

    // Before any transaction: every series of the runtime is there, the
    // transaction counts at zero, and the runtime process never restarted.
    let before = Scrape::take(rpc, &id);
    assert_eq!(
        before.get("atoll_compute_admitted_transactions_total", None),
        0.0
    );
    assert_eq!(before.get("atoll_runtime_host_restarts_total", None), 0.0);

    for nonce in 0..TRANSFERS {
        let tx = runtimes::transfer_tx(&net.chain, &id, &alice(), bob().address(), nonce);
        let r = submit(rpc, &id, &tx).unwrap_or_else(|e| panic!("transfer {nonce}: {e}"));
        assert!(r["result"]["result"].get("ok").is_some(), "{r}");
    }
    // A nonce already used (in another transaction): the runtime's check
    // refuses it.
    let carol = runtimes::signer(23).address();
    let replay = runtimes::transfer_tx(&net.chain, &id, &alice(), carol, 0);
    assert!(submit(rpc, &id, &replay).is_err());
    assert_eq!(
        runtimes::balance(rpc, &id, bob().address()).unwrap(),
        u128::from(TRANSFERS)
    );

    // A client's wait may end as soon as the round is stored, a moment
    // before the worker counts it and clears the pool.
    let m = wait_for("the last round to be counted", || {
        let m = Scrape::take(rpc, &id);
        let settled = m.get("atoll_compute_pool_size", None) == 0.0
            && m.get("atoll_compute_rounds_committed_total", None) >= 2.0;
        settled.then_some(m)
    });
    // The node's own metrics and the consensus engine's are still served.
    assert!(m.text.contains("atoll_height{"), "{}", m.text);
    assert!(m.text.contains("atoll_transactions_total{"), "{}", m.text);
    assert!(m.text.contains("malachitebft_"), "{}", m.text);
    assert!(m.text.ends_with("# EOF\n"), "{}", m.text);

    // The compute worker: every transfer checked and admitted, the replay
    // refused, the transfers executed in finalized rounds and gone from
    // the pool; one worker, so no discrepancy, backup or takeover.
    let transfers = f64::from(u32::try_from(TRANSFERS).unwrap());
    assert_eq!(
        m.get("atoll_compute_admitted_transactions_total", None),
        transfers
    );
    assert_eq!(
        m.get("atoll_compute_rejected_transactions_total", None),
        1.0
    );
    // Every finalized round was counted once at most: the runtime's
    // latest round bounds the count (round 0 is the genesis header).
    let latest = runtimes::latest_round(rpc, &id).expect("the latest round");
    let latest = f64::from(u32::try_from(latest).unwrap());
    assert!(
        m.get("atoll_compute_rounds_committed_total", None) <= latest,
        "latest round {latest}: {}",
        m.text
    );
    let executed = m.get("atoll_compute_rounds_executed_total", None);
    assert!(executed >= 1.0, "{}", m.text);
    assert_eq!(m.get("atoll_compute_batch_size_count", None), executed);
    // A batch executed in a round that then failed would be executed
    // again, so at least the transfers.
    assert!(
        m.get("atoll_compute_batch_size_sum", None) >= transfers,
        "{}",
        m.text
    );
    assert_eq!(m.get("atoll_compute_discrepancies_total", None), 0.0);
    assert_eq!(m.get("atoll_compute_backup_rounds_total", None), 0.0);
    assert_eq!(m.get("atoll_compute_takeover_rounds_total", None), 0.0);

    // The runtime host: the checks, executions and queries made, each
    // with its duration recorded.
    assert!(
        m.get("atoll_runtime_host_calls_total", Some("check")) >= transfers + 1.0,
        "{}",
        m.text
    );
    for kind in ["execute", "query"] {
        assert!(
            m.get("atoll_runtime_host_calls_total", Some(kind)) >= 1.0,
            "{kind}: {}",
            m.text
        );
    }
    for kind in ["execute", "check", "query"] {
        assert!(
            m.get("atoll_runtime_host_call_duration_seconds_count", Some(kind)) >= 1.0,
            "{kind}: {}",
            m.text
        );
    }
    assert_eq!(m.get("atoll_runtime_host_restarts_total", None), 0.0);

    // SIGKILL one of the runtime's processes (the batch or the query one):
    // the host starts it again at its next call, and counts the restart.
    let node_pid = net
        .procs
        .iter()
        .find(|p| p.files.name == "compute-0")
        .and_then(|p| p.pid())
        .unwrap();
    let pid = runtimes::runtime_pid(node_pid, &id, "runtime-plain")
        .expect("the runtime's process on compute-0");
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    let tx = runtimes::transfer_tx(&net.chain, &id, &alice(), bob().address(), TRANSFERS);
    wait_for("a transfer after the kill", || submit(rpc, &id, &tx).ok());
    wait_for("a query after the kill", || {
        runtimes::balance(rpc, &id, bob().address()).ok()
    });
    let restarts = wait_for("the restart to be counted", || {
        let r = Scrape::take(rpc, &id).get("atoll_runtime_host_restarts_total", None);
        (r >= 1.0).then_some(r)
    });
    assert!(restarts >= 1.0);
}

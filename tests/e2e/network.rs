//! Four validators and a full node as separate `atoll node` processes on
//! 127.0.0.1, driven through their JSON-RPC APIs: blocks finalize, a
//! transfer is visible everywhere with one state root, a validator killed
//! with SIGKILL restarts from its data directory and catches up, two of four
//! down stop the chain without a fork and one returning resumes it, a full
//! node started late syncs from genesis, bad API input gets JSON-RPC errors,
//! and SIGTERM stops a node cleanly.
//!
//! Every wait is bounded; no assertion depends on how fast this machine is.

use crate::common::{atoll, call, raw_call};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atoll_consensus::genesis::{Genesis, StakedNode};
use atoll_consensus_types::registry::Roles;
use atoll_consensus_types::staking::{Transfer, methods};
use atoll_crypto::Address;
use atoll_crypto::ed25519::SigningKey;
use atoll_node::identity::load_public;
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use serde_json::{Value, json};

const FUNDS: u128 = 1_000_000_000;
const WAIT: Duration = Duration::from_secs(180);

fn free_port() -> u16 {
    atoll_localnet::free_port().unwrap()
}

fn user() -> SigningKey {
    SigningKey::from_seed(&[200; 32])
}

struct Node {
    dir: PathBuf,
    rpc: SocketAddr,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self) {
        assert!(self.child.is_none());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("node.log"))
            .unwrap();
        let child = Command::new(atoll())
            .args(["node", "--config"])
            .arg(self.dir.join("node.toml"))
            .env("RUST_LOG", "info,libp2p=warn,arc_malachitebft=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        atoll_localnet::process::terminate(&mut c, Duration::from_secs(30))
            .unwrap_or_else(|| panic!("node did not stop within 30 s of SIGTERM"))
    }

    fn height(&self) -> Option<u64> {
        call(self.rpc, "node_status", json!([]))
            .ok()
            .and_then(|s| s["latest_height"].as_u64())
    }

    fn block(&self, h: u64) -> Value {
        call(self.rpc, "consensus_getBlock", json!([h])).unwrap()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("node.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Net {
    _tmp: tempfile::TempDir,
    nodes: Vec<Node>,
    genesis: Genesis,
}

fn addrs(ports: &[u16]) -> String {
    ports
        .iter()
        .map(|p| format!("\"/ip4/127.0.0.1/tcp/{p}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Ports {
    consensus: u16,
    consensus_peers: Vec<u16>,
    gossip: u16,
    gossip_peers: Vec<u16>,
    rpc: u16,
}

fn write_config(dir: &Path, role: &str, p: &Ports) {
    let text = format!(
        r#"data_dir = "data"
genesis = "../genesis.json"
identity = "identity"
role = "{role}"
moniker = "{name}"

[consensus]
listen = "/ip4/127.0.0.1/tcp/{consensus}"
peers = [{peers}]
timeout_propose_ms = 1000
timeout_prevote_ms = 500
timeout_precommit_ms = 500

[gossip]
listen = "/ip4/127.0.0.1/tcp/{gossip}"
peers = [{gossip_peers}]

[rpc]
listen = "127.0.0.1:{rpc}"
"#,
        name = dir.file_name().unwrap().to_string_lossy(),
        consensus = p.consensus,
        peers = addrs(&p.consensus_peers),
        gossip = p.gossip,
        gossip_peers = addrs(&p.gossip_peers),
        rpc = p.rpc,
    );
    std::fs::write(dir.join("node.toml"), text).unwrap();
}

/// Four validators with equal stake (two down is half the power: no quorum)
/// and a full node, configured but not started.
fn network() -> Net {
    let tmp = tempfile::tempdir().unwrap();
    let mut genesis = Genesis {
        chain_id: "atoll-e2e".into(),
        initial_height: 1,
        debug: true,
        ..Genesis::default()
    };
    genesis.beacon.interval = 20;
    let names = ["v0", "v1", "v2", "v3", "full"];
    let consensus: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let rpc: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let gossip: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new(atoll())
            .args(["identity", "init", "--entity"])
            .arg(dir.join("identity"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let public = load_public(&dir.join("identity")).unwrap();
        if i < 4 {
            genesis.add_staked_node(StakedNode {
                entity: public.entity.unwrap(),
                stake: Quantity(1_000_000),
                node: public.node,
                consensus: public.consensus,
                p2p: public.p2p,
                vrf: Some(public.vrf),
                roles: Roles::VALIDATOR,
                runtimes: vec![],
                expiration: 1_000_000,
            });
        }
        let others: Vec<usize> = (0..4).filter(|j| *j != i).collect();
        write_config(
            &dir,
            if i < 4 { "validator" } else { "full" },
            &Ports {
                consensus: consensus[i],
                consensus_peers: others.iter().map(|j| consensus[*j]).collect(),
                gossip: gossip[i],
                gossip_peers: others.iter().map(|j| gossip[*j]).collect(),
                rpc: rpc[i],
            },
        );
        nodes.push(Node {
            dir,
            rpc: SocketAddr::from(([127, 0, 0, 1], rpc[i])),
            child: None,
        });
    }
    genesis.fund(Address::from_ed25519(&user().public_key()), Quantity(FUNDS));
    assert!(genesis.check().is_empty(), "{:?}", genesis.check());
    std::fs::write(tmp.path().join("genesis.json"), genesis.to_json().unwrap()).unwrap();
    // The CLI agrees that it is valid.
    let out = Command::new(atoll())
        .args(["genesis", "check"])
        .arg(tmp.path().join("genesis.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    Net {
        _tmp: tmp,
        nodes,
        genesis,
    }
}

impl Net {
    fn wait_height(&self, who: &[usize], height: u64) {
        let deadline = Instant::now() + WAIT;
        loop {
            let heights: Vec<Option<u64>> = who.iter().map(|i| self.nodes[*i].height()).collect();
            if heights.iter().all(|h| h.is_some_and(|h| h >= height)) {
                return;
            }
            if Instant::now() > deadline {
                for i in who {
                    eprintln!("--- {} ---\n{}", i, self.nodes[*i].log_tail());
                }
                panic!("nodes {who:?} did not reach height {height}: {heights:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn max_height(&self, who: &[usize]) -> u64 {
        who.iter()
            .filter_map(|i| self.nodes[*i].height())
            .max()
            .unwrap_or(0)
    }

    /// The same block hash and state root at every height in `range` on
    /// every node in `who`.
    fn assert_same_chain(&self, who: &[usize], range: std::ops::RangeInclusive<u64>) {
        for h in range {
            let reference = self.nodes[who[0]].block(h);
            for i in &who[1..] {
                let b = self.nodes[*i].block(h);
                assert_eq!(b["hash"], reference["hash"], "node {i} forked at {h}");
                assert_eq!(
                    b["state_root"], reference["state_root"],
                    "node {i} state at {h}"
                );
            }
        }
    }
}

fn transfer(genesis: &Genesis, nonce: u64, to: Address, amount: u128) -> String {
    let app = atoll_consensus::app::App::new(genesis).unwrap();
    let tx = Transaction::call(
        nonce,
        Fee::new(Quantity(0), 10_000),
        methods::TRANSFER,
        &Transfer {
            to,
            amount: Quantity(amount),
        },
    )
    .unwrap();
    let signed = Signed::sign(&user(), app.tx_context(), &tx).unwrap();
    format!("0x{}", hex::encode(cbor::to_vec(&signed).unwrap()))
}

fn balance(node: &Node, who: &Address, height: Option<u64>) -> u128 {
    let account = call(
        node.rpc,
        "consensus_getAccount",
        json!([who.to_string(), height]),
    )
    .unwrap();
    account["general"]["balance"]
        .as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| account["general"]["balance"].as_u64().map(u128::from))
        .unwrap_or(0)
}

#[test]
fn validators_as_processes_finalize_survive_crashes_and_never_fork() {
    let mut net = network();
    for i in 0..4 {
        net.nodes[i].start();
    }
    net.wait_height(&[0, 1, 2, 3], 3);

    // A transfer sent to one node is finalized and visible on all, with the
    // same state root.
    let to = Address::from_ed25519(&SigningKey::from_seed(&[201; 32]).public_key());
    let tx = transfer(&net.genesis, 0, to, 12_345);
    let included = call(net.nodes[0].rpc, "consensus_submitTx", json!([tx, true]))
        .unwrap_or_else(|e| panic!("{e}\n{}", net.nodes[0].log_tail()));
    let at = included["height"].as_u64().expect("inclusion height");
    net.wait_height(&[0, 1, 2, 3], at);
    for node in &net.nodes[..4] {
        assert_eq!(balance(node, &to, Some(at)), 12_345);
    }
    net.assert_same_chain(&[0, 1, 2, 3], 1..=at);
    let found = call(
        net.nodes[2].rpc,
        "consensus_getTransaction",
        json!([included["hash"]]),
    )
    .unwrap();
    assert_eq!(found["height"].as_u64(), Some(at));

    // Bad input over the API gets JSON-RPC errors and the node stays up.
    let rpc = net.nodes[1].rpc;
    let e = raw_call(rpc, "{\"jsonrpc\":\"2.0\",\"method\":").unwrap_err();
    assert_eq!(e["code"], -32700);
    let e = call(rpc, "consensus_getBlock", json!(["not a height"])).unwrap_err();
    assert_eq!(e["code"], -32602);
    let e = call(rpc, "no_such_method", json!([])).unwrap_err();
    assert_eq!(e["code"], -32601);
    let e = call(rpc, "consensus_submitTx", json!(["0xdeadbeef"])).unwrap_err();
    assert_eq!(e["code"], -32000, "{e}");
    assert!(e["data"]["module"].is_string(), "{e}");
    // The same transfer again: its nonce is used.
    let e = call(rpc, "consensus_submitTx", json!([tx])).unwrap_err();
    assert_eq!(e["code"], -32000, "{e}");
    assert!(net.nodes[1].height().is_some(), "node 1 went down");

    // One validator killed with SIGKILL: the others (3/4) go on.
    net.nodes[3].kill();
    let h = net.max_height(&[0, 1, 2]);
    net.wait_height(&[0, 1, 2], h + 3);
    // Restarted from its data directory, it catches up to the same chain.
    net.nodes[3].start();
    let h = net.max_height(&[0, 1, 2]);
    net.wait_height(&[0, 1, 2, 3], h + 1);
    net.assert_same_chain(&[0, 3], h.saturating_sub(3).max(1)..=h + 1);

    // Two of four down: no quorum, the chain stops.
    net.nodes[2].kill();
    net.nodes[3].kill();
    std::thread::sleep(Duration::from_secs(3));
    let stalled = net.max_height(&[0, 1]);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        net.max_height(&[0, 1]),
        stalled,
        "blocks were finalized without a quorum"
    );
    // One returns: three of four again, and the chain resumes.
    net.nodes[2].start();
    net.wait_height(&[0, 1, 2], stalled + 2);
    net.assert_same_chain(&[0, 1, 2], 1..=stalled + 2);

    // A full node started now syncs from genesis to the same chain.
    net.nodes[3].start();
    net.nodes[4].start();
    let h = net.max_height(&[0, 1, 2]);
    net.wait_height(&[0, 3, 4], h);
    net.assert_same_chain(&[0, 4], 1..=h);
    assert_eq!(balance(&net.nodes[4], &to, Some(at)), 12_345);
    let status = call(net.nodes[4].rpc, "node_status", json!([])).unwrap();
    assert_eq!(status["chain_id"], "atoll-e2e");

    // A transfer sent to the full node, which never proposes, reaches the
    // validators by gossip and is finalized.
    let tx2 = transfer(&net.genesis, 1, to, 1);
    let included = call(net.nodes[4].rpc, "consensus_submitTx", json!([tx2, true]))
        .unwrap_or_else(|e| panic!("{e}\n{}", net.nodes[4].log_tail()));
    let at2 = included["height"].as_u64().expect("inclusion height");
    net.wait_height(&[0], at2);
    assert_eq!(balance(&net.nodes[0], &to, Some(at2)), 12_346);

    // Metrics are served beside the API.
    let metrics = {
        let mut s = TcpStream::connect(net.nodes[0].rpc).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(metrics.contains("atoll_height"), "{metrics}");
    assert!(metrics.contains("atoll_transactions_total"), "{metrics}");

    // SIGTERM stops a node cleanly; it restarts where it was.
    let before = net.nodes[1].height().unwrap();
    let status = net.nodes[1].terminate();
    assert!(status.success(), "exit status {status:?}");
    net.nodes[1].start();
    // Both compared nodes must have the block (one may apply it a moment
    // after the other).
    net.wait_height(&[0, 1], before + 1);
    net.assert_same_chain(&[0, 1], 1..=before + 1);
}

//! Hostile peers against real nodes: `atoll node` processes on 127.0.0.1,
//! configured as an operator would, attacked over their gossip sockets.
//!
//! - **Compute gossip flood.** A validator and three compute nodes serve the
//!   plain ParaTime. Three libp2p peers with no stake and no registration
//!   join the compute gossip topic and publish, in a bounded loop,
//!   undecodable messages, batches of junk transactions, oversized batches,
//!   batches for a runtime nobody serves, proposals signed by outsiders and
//!   proposals with a committee member's name on someone else's signature.
//!   Meanwhile transfers go through the ParaTime. The rounds go on
//!   finalizing, every transfer is included, the compute nodes' memory
//!   stays within a bound, and a spy peer connected only to the compute
//!   nodes never receives one of the attackers' messages: nothing was
//!   forwarded before it was checked.
//!
//! - **Byzantine proposer.** Four validators; one is configured (with the
//!   test-only `[consensus] debug_byzantine_proposer`, which a node refuses
//!   unless the genesis is a debug one) to date its blocks ten years ahead
//!   and to stream eight other signed blocks besides each proposal. The
//!   chain goes on finalizing, none of its blocks is decided, and every
//!   block's time stays within the drift bound of the wall clock.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::runtimes::{self, b64};
use atoll_compute::executor::ComputeMessage;
use atoll_compute::proposal::{PROPOSAL_SIGNATURE_CONTEXT, Proposal};
use atoll_crypto::Hash;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::SigningKey;
use atoll_localnet::harness::Network;
use atoll_localnet::{Layout, RuntimePlan};
use atoll_node::config::NodeConfig;
use atoll_p2p::{Gossip, GossipConfig, Multiaddr, Verdict};
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_types::signed::{SignatureBundle, Signed};
use atoll_types::{Namespace, cbor};
use serde_bytes::ByteBuf;
use serde_json::json;

use crate::common::{self, atoll};

const WAIT: Duration = Duration::from_secs(240);
const FUNDS: u128 = 1_000_000_000;
/// Marks every byte string the attackers send.
const MARK: &[u8] = b"ATTACK!";
/// Messages each attacker publishes.
const FLOOD: u32 = 1_500;
/// Most a compute node's resident memory may grow during the flood.
const RSS_GROWTH_BOUND: u64 = 256 << 20;

fn alice() -> TxSigner {
    runtimes::signer(11)
}

fn bob() -> TxSigner {
    runtimes::signer(12)
}

fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    runtimes::wait_for(what, WAIT, f)
}

fn runtime_genesis() -> Vec<u8> {
    runtimes::funded_genesis(alice().address(), FUNDS)
}

/// Resident memory of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// The network and its ParaTime's id.
struct Net {
    net: Network,
    runtime: Namespace,
}

runtimes::net_derefs_to_network!(Net, net);

impl Net {
    fn start(dir: &Path) -> Self {
        let mut r = RuntimePlan::plain("plain", vec![0, 1, 2]);
        r.genesis = Some(runtime_genesis());
        // Empty rounds when idle: "rounds go on" is visible without work.
        r.idle_round_ms = Some(300);
        let runtime = r.id;
        let net = Network::builder(atoll())
            .one_validator(3)
            .epoch_interval(60)
            .runtime(r)
            .start(dir)
            .unwrap();
        Self { net, runtime }
    }

    fn compute(&self) -> Vec<usize> {
        self.compute_nodes()
    }

    /// The compute gossip addresses of the compute nodes, from their
    /// `node.toml`.
    fn compute_gossip_addrs(&self) -> Vec<Multiaddr> {
        self.compute()
            .into_iter()
            .map(|i| {
                let c = NodeConfig::load(&self.layout.nodes[i].config).unwrap();
                c.compute.unwrap().listen.parse().unwrap()
            })
            .collect()
    }

    fn rpc(&self, i: usize) -> std::net::SocketAddr {
        self.layout.nodes[i].rpc
    }

    fn round(&self, i: usize) -> Option<u64> {
        runtimes::latest_round(self.rpc(i), &self.runtime)
    }

    /// A transfer of 1 from alice to bob, included (the node waits for it).
    fn transfer(&self, node: usize, nonce: u64) -> u64 {
        let raw =
            runtimes::transfer_tx(&self.chain, &self.runtime, &alice(), bob().address(), nonce);
        let r = common::call(
            self.rpc(node),
            "runtime_submitTx",
            json!([self.runtime.to_string(), b64(&raw), true]),
        )
        .unwrap_or_else(|e| panic!("transfer {nonce} through node {node}: {e}"));
        r["round"].as_u64().unwrap()
    }
}

/// A gossip peer on the compute topic. `record`: keep what arrives (it
/// ignores everything either way, so it forwards nothing).
async fn peer(
    seed: u8,
    topic: &str,
    peers: Vec<Multiaddr>,
    record: Option<Arc<Mutex<Vec<Vec<u8>>>>>,
) -> Gossip {
    let validate: atoll_p2p::Validator = Arc::new(move |data: &[u8]| {
        if let Some(r) = &record {
            r.lock().unwrap().push(data.to_vec());
        }
        Verdict::Ignore
    });
    atoll_p2p::start(
        GossipConfig {
            listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            peers,
            key_seed: [seed; 32],
            topic: topic.to_string(),
            max_tx_bytes: atoll_node::compute::MAX_COMPUTE_MESSAGE,
        },
        validate,
    )
    .await
    .unwrap()
}

fn marked(i: u32, len: usize) -> Vec<u8> {
    let mut v = MARK.to_vec();
    v.extend_from_slice(&i.to_be_bytes());
    v.resize(len.max(v.len()), 0x5a);
    v
}

/// The `i`-th hostile message.
fn hostile(i: u32, net: &Net, worker: &atoll_crypto::ed25519::PublicKey, round: u64) -> Vec<u8> {
    let ctx = Context::for_chain(PROPOSAL_SIGNATURE_CONTEXT, &net.chain).unwrap();
    let junk = |n: u32| -> Vec<ByteBuf> {
        (0..n)
            .map(|j| ByteBuf::from(marked(i.wrapping_mul(4096).wrapping_add(j), 96)))
            .collect()
    };
    let proposal = Proposal {
        runtime: net.runtime,
        round,
        previous_hash: Hash::digest(&i.to_be_bytes()),
        txs: junk(64),
    };
    let msg = match i % 7 {
        // Not a message at all; now and then a big one.
        0 => return marked(i, if i.is_multiple_of(70) { 4 << 20 } else { 4096 }),
        // Junk transactions: the runtime refuses each as malformed.
        1 => ComputeMessage::Txs {
            runtime: net.runtime,
            txs: junk(256),
        },
        // More transactions than a batch may hold.
        2 => ComputeMessage::Txs {
            runtime: net.runtime,
            txs: junk(1_100),
        },
        // A runtime nobody serves.
        3 => ComputeMessage::Txs {
            runtime: Namespace([0xee; 32]),
            txs: junk(16),
        },
        // A proposal signed by an outsider (a fresh key each time).
        4 | 5 => {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            seed[4] = 0xa7;
            ComputeMessage::Proposal {
                signed: Signed::sign(&SigningKey::from_seed(&seed), &ctx, &proposal).unwrap(),
                attempt: i,
            }
        }
        // A committee worker's name on an outsider's signature.
        _ => {
            let forged =
                Signed::sign(&SigningKey::from_seed(&[0xa8; 32]), &ctx, &proposal).unwrap();
            ComputeMessage::Proposal {
                signed: Signed::from_parts(
                    forged.untrusted_raw_value.clone(),
                    SignatureBundle {
                        public_key: *worker,
                        signature: forged.signature.signature,
                    },
                ),
                attempt: i,
            }
        }
    };
    cbor::to_vec(&msg).unwrap()
}

fn flood(net: &Net) {
    let computes = net.compute();
    // Rounds are being made and a transfer goes through before the attack.
    wait_for("the ParaTime's first rounds", || {
        net.round(computes[0]).filter(|r| *r >= 2)
    });
    let mut nonce = 0;
    net.transfer(computes[1], nonce);
    nonce += 1;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let topic = format!("atoll/compute/v1/{}", net.chain.as_str());
    let addrs = net.compute_gossip_addrs();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let spy = rt.block_on(peer(0x51, &topic, addrs.clone(), Some(seen.clone())));
    let attackers: Vec<Gossip> = (0..3u8)
        .map(|i| rt.block_on(peer(0xa0 + i, &topic, addrs.clone(), None)))
        .collect();
    for g in attackers.iter().chain([&spy]) {
        wait_for(
            "a gossip peer on the compute topic with every compute node",
            || (rt.block_on(g.topic_peers()) >= addrs.len()).then_some(()),
        );
    }
    let worker =
        atoll_node::identity::load_public(&net.layout.nodes[computes[0]].dir.join("identity"))
            .unwrap()
            .node;
    let pids: Vec<u32> = computes
        .iter()
        .map(|i| net.procs[*i].pid().unwrap())
        .collect();
    let before: Vec<u64> = pids.iter().map(|p| rss(*p)).collect();
    let first_round = net.round(computes[0]).unwrap();

    let mut published = 0u64;
    for i in 0..FLOOD {
        let round = net.round(computes[0]).unwrap_or(first_round) + 1;
        for (k, g) in attackers.iter().enumerate() {
            let msg = hostile(
                i.wrapping_mul(3).wrapping_add(k as u32),
                net,
                &worker,
                round,
            );
            // The attacker's own queue is bounded: wait for room, briefly.
            for _ in 0..200 {
                match g.publish(msg.clone()) {
                    Err(atoll_p2p::P2pError::QueueFull) => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("attacker publish: {e}"),
                    Ok(()) => {
                        published += 1;
                        break;
                    }
                }
            }
        }
        // Honest work in the middle of the flood, through each node.
        if i % 250 == 125 {
            let node = computes[(i as usize / 250) % computes.len()];
            net.transfer(node, nonce);
            nonce += 1;
        }
    }
    assert!(
        published >= u64::from(FLOOD) * 2,
        "only {published} hostile messages left"
    );

    // The network goes on: more rounds, and one more transfer from each node.
    for node in &computes {
        net.transfer(*node, nonce);
        nonce += 1;
    }
    // The last transfer was included by another node: computes[0] may apply
    // that round a moment later.
    let balance = wait_for("computes[0] applying every transfer", || {
        runtimes::balance(net.rpc(computes[0]), &net.runtime, bob().address())
            .ok()
            .filter(|b| *b >= u128::from(nonce))
    });
    assert_eq!(
        balance,
        u128::from(nonce),
        "every transfer included exactly once"
    );
    let last_round = net.round(computes[0]).unwrap();
    assert!(
        last_round > first_round + 3,
        "rounds {first_round} -> {last_round} during the flood"
    );
    for (i, pid) in pids.iter().enumerate() {
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "compute node {i} died"
        );
        let after = rss(*pid);
        eprintln!(
            "compute-{i}: RSS {} MiB before the flood, {} MiB after",
            before[i] >> 20,
            after >> 20
        );
        assert!(
            after <= before[i] + RSS_GROWTH_BOUND,
            "compute-{i} grew from {} to {} bytes",
            before[i],
            after
        );
    }
    // The spy, linked to the compute nodes only, heard the honest traffic
    // (transactions, proposals) and nothing of the attackers'.
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the spy heard no honest gossip at all");
    let leaked = seen
        .iter()
        .filter(|m| m.windows(MARK.len()).any(|w| w == MARK))
        .count();
    assert_eq!(leaked, 0, "{leaked} hostile messages were forwarded");
    rt.block_on(async {
        for g in attackers {
            g.shutdown().await;
        }
        spy.shutdown().await;
    });
}

#[test]
fn a_compute_gossip_flood_from_a_peer_without_stake_halts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Net::start(dir.path());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| flood(&net)));
    net.finish(outcome, 30, || dir.keep());
}

/// Heights the byzantine test waits for.
const BYZANTINE_HEIGHTS: u64 = 40;

fn height(rpc: std::net::SocketAddr) -> Option<u64> {
    common::call(rpc, "node_status", json!([]))
        .ok()
        .and_then(|s| s["latest_height"].as_u64())
}

fn byzantine(layout: &Layout) {
    let rpc = layout.nodes[0].rpc;
    let bad = &layout.nodes[3];
    let bad_entity = atoll_node::identity::load_public(&bad.dir.join("identity"))
        .unwrap()
        .entity
        .expect("the localnet keeps entity keys with the nodes");
    let bad_account = json!(atoll_crypto::Address::from_ed25519(&bad_entity));
    let target = wait_for("the chain to pass the byzantine proposer's rounds", || {
        height(rpc).filter(|h| *h >= BYZANTINE_HEIGHTS)
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let drift = atoll_bft::host::DEFAULT_MAX_TIME_DRIFT.as_secs();
    let mut last_time = 0;
    for h in 1..=target {
        let b = common::call(rpc, "consensus_getBlock", json!([h])).unwrap();
        let time = b["time"].as_u64().unwrap();
        assert!(time <= now + drift, "block {h} dated {time}, now is {now}");
        assert!(time >= last_time, "block {h} goes back in time");
        last_time = time;
        assert_ne!(
            b["proposer"], bad_account,
            "block {h} is the byzantine proposer's"
        );
    }
    // The attack was mounted and seen: the byzantine node streamed extra
    // blocks, and the honest ones voted against its far-future blocks and
    // dropped its second proposals.
    let log = |i: usize| std::fs::read_to_string(layout.nodes[i].dir.join("node.log")).unwrap();
    assert!(log(3).contains("test fault: streaming other blocks"));
    let honest: String = (0..3).map(log).collect();
    assert!(honest.contains("ahead of this validator's clock"));
    assert!(honest.contains("second proposal from one proposer for one round dropped"));
}

#[test]
fn a_byzantine_proposer_neither_halts_the_chain_nor_moves_its_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut net = Network::builder(atoll())
        .validators(4)
        .epoch_interval(1_000)
        .fast_blocks()
        .configure("validator-3", |config| {
            config.consensus.debug_byzantine_proposer =
                Some(atoll_node::config::ByzantineSection {
                    future_s: 10 * 365 * 24 * 3600,
                    extra_proposals: 8,
                });
        })
        .start(dir.path())
        .unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| byzantine(&net.layout)));
    net.finish(outcome, 30, || dir.keep());
}

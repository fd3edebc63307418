//! Four validators, each a full Malachite engine with its own libp2p network
//! on 127.0.0.1, in one test process: they finalize blocks holding real
//! signed `staking.Transfer` transactions and end with identical state.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "test harness: a failed setup step should abort the test loudly"
)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atoll_bft::chain::Chain;
use atoll_bft::context::AtollContext;
use atoll_bft::host::{Committed, Host, HostConfig, MemQueue};
use atoll_bft::node::{self, EngineConfig};
use atoll_bft::signing::AtollSigner;
use atoll_consensus::app::App;
use atoll_consensus::genesis::{Genesis, StakedNode};
use atoll_consensus_types::registry::Roles;
use atoll_consensus_types::staking::{Transfer, methods};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use malachitebft_app_channel::app::types::core::LinearTimeouts;

const STAKE: u128 = 1_000;
const FUNDS: u128 = 1_000_000;
const N: u8 = 4;

fn entity_key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[10 + i; 32])
}
fn node_key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[30 + i; 32])
}
fn consensus_key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[50 + i; 32])
}
fn p2p_seed(i: u8) -> [u8; 32] {
    [70 + i; 32]
}
fn user_key(i: u8) -> SigningKey {
    SigningKey::from_seed(&[90 + i; 32])
}

/// Four staked entities with one validator node each, and two funded users.
fn genesis() -> Genesis {
    let mut g = Genesis {
        chain_id: "atoll-bft-test".into(),
        initial_height: 1,
        debug: true,
        ..Genesis::default()
    };
    // Epochs of 4 blocks, so the validator set is re-elected while the test runs.
    g.beacon.interval = 4;
    for i in 0..N {
        g.add_staked_node(StakedNode {
            entity: entity_key(i).public_key(),
            // Unequal stake: voting powers differ.
            stake: Quantity(STAKE * u128::from(i + 1)),
            node: node_key(i).public_key(),
            consensus: consensus_key(i).public_key(),
            p2p: SigningKey::from_seed(&p2p_seed(i)).public_key(),
            vrf: None,
            roles: Roles::VALIDATOR,
            runtimes: vec![],
            expiration: 1_000,
        });
    }
    for u in 0..2 {
        g.fund(
            Address::from_ed25519(&user_key(u).public_key()),
            Quantity(FUNDS),
        );
    }
    g
}

fn transfer(app: &App, from: u8, nonce: u64, to: Address, amount: u128) -> Vec<u8> {
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
    let signed = Signed::sign(&user_key(from), app.tx_context(), &tx).unwrap();
    cbor::to_vec(&signed).unwrap()
}

/// A free port below the kernel's ephemeral range (32768-60999), so that
/// outgoing connections of tests running beside this one cannot take it
/// before the engine listens on it.
fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919);
    (0..12_000u32)
        .map(|_| {
            let step = NEXT.fetch_add(1, Ordering::Relaxed);
            u16::try_from(20_000 + start.wrapping_add(step.wrapping_mul(101)) % 12_000).unwrap()
        })
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port")
}

/// State root after each height, per validator.
type Roots = Arc<Mutex<BTreeMap<(u8, u64), Hash>>>;

struct Validator {
    engine: malachitebft_app_channel::EngineHandle,
    app_task: tokio::task::JoinHandle<()>,
    chain: Chain,
}

struct Network {
    validators: Vec<Option<Validator>>,
    queues: Vec<MemQueue>,
    roots: Roots,
    app: App,
    setup: Setup,
    dir: tempfile::TempDir,
}

struct Setup {
    genesis: Genesis,
    ports: Vec<u16>,
}

async fn spawn_validator(
    setup: &Setup,
    app: &App,
    i: u8,
    queue: MemQueue,
    roots: Roots,
    dir: &std::path::Path,
) -> Validator {
    let addr = |p: u16| format!("/ip4/127.0.0.1/tcp/{p}").parse().unwrap();
    // A real on-disk chain: a restarted validator resumes from it.
    let chain = Chain::open(&dir.join("chain"), app, &setup.genesis).unwrap();
    let ctx = AtollContext::new(app.chain_context()).unwrap();
    let signer = AtollSigner::new(&ctx, consensus_key(i));
    let config = HostConfig {
        timeouts: LinearTimeouts {
            propose: Duration::from_secs(2),
            propose_delta: Duration::from_millis(500),
            prevote: Duration::from_secs(1),
            prevote_delta: Duration::from_millis(500),
            precommit: Duration::from_secs(1),
            precommit_delta: Duration::from_millis(500),
            rebroadcast: Duration::from_secs(4),
            max_timeout: Duration::from_secs(10),
        },
        ..HostConfig::default()
    };
    let mut host = Host::new(&setup.genesis, chain.clone(), signer.clone(), queue, config).unwrap();
    host.on_commit(Box::new(move |c: &Committed<'_>| {
        roots
            .lock()
            .unwrap()
            .insert((i, c.block.block.block.height), c.state_root);
    }));
    let peers = (0..N)
        .filter(|j| *j != i)
        .map(|j| addr(setup.ports[usize::from(j)]))
        .collect();
    let engine_config =
        EngineConfig::new(format!("v{i}"), addr(setup.ports[usize::from(i)]), peers);
    let (mut channels, engine) = node::start(
        host.context().clone(),
        engine_config,
        signer,
        p2p_seed(i),
        dir.join("wal"),
    )
    .await
    .unwrap();
    let app_task = tokio::spawn(async move {
        let res = host.run(&mut channels).await;
        tracing::info!(validator = i, ?res, "host stopped");
    });
    Validator {
        engine,
        app_task,
        chain,
    }
}

/// Starts every validator except those in `later`.
async fn start_network(later: &[u8]) -> Network {
    let genesis = genesis();
    let app = App::new(&genesis).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..N).map(|_| free_port()).collect();
    let setup = Setup { genesis, ports };
    let queues: Vec<MemQueue> = (0..N).map(|_| MemQueue::new()).collect();
    let mut net = Network {
        validators: (0..N).map(|_| None).collect(),
        queues,
        roots: Arc::default(),
        app,
        setup,
        dir,
    };
    for i in (0..N).filter(|i| !later.contains(i)) {
        net.start(i).await;
    }
    net
}

impl Network {
    async fn start(&mut self, i: u8) {
        let v = spawn_validator(
            &self.setup,
            &self.app,
            i,
            self.queues[usize::from(i)].clone(),
            self.roots.clone(),
            &self.dir.path().join(format!("v{i}")),
        )
        .await;
        self.validators[usize::from(i)] = Some(v);
    }

    fn height_of(&self, v: u8) -> u64 {
        self.roots
            .lock()
            .unwrap()
            .keys()
            .filter(|(i, _)| *i == v)
            .map(|(_, h)| *h)
            .max()
            .unwrap_or(0)
    }

    /// Waits (bounded) until every listed validator has applied `height`.
    async fn wait_for(&self, who: &[u8], height: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
        loop {
            if who.iter().all(|v| self.height_of(*v) >= height) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                let heights: Vec<u64> = who.iter().map(|v| self.height_of(*v)).collect();
                panic!("validators {who:?} did not reach height {height}: at {heights:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn root(&self, v: u8, height: u64) -> Hash {
        *self
            .roots
            .lock()
            .unwrap()
            .get(&(v, height))
            .expect("a root")
    }

    fn chain(&self, v: u8) -> &Chain {
        &self.validators[usize::from(v)]
            .as_ref()
            .expect("running")
            .chain
    }

    /// Stops a validator abruptly and waits until its chain is closed.
    async fn kill(&mut self, v: u8) {
        if let Some(val) = self.validators[usize::from(v)].take() {
            val.app_task.abort();
            val.engine.actor.stop_children(None);
            val.engine.actor.kill();
            val.engine.handle.abort();
            let _ = val.app_task.await;
            let _ = val.engine.handle.await;
        }
    }

    async fn stop(&mut self) {
        for v in 0..N {
            self.kill(v).await;
        }
    }
}

fn balance(chain: &Chain, height: u64, who: &Address) -> u128 {
    let mut s = chain.view(height).unwrap();
    atoll_consensus::services::staking::state::StakingState::new(&mut s)
        .account(who)
        .unwrap()
        .general
        .balance
        .0
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_finalize_transfers_with_identical_state() {
    init_tracing();
    let mut net = start_network(&[]).await;
    let to = Address::from_ed25519(&user_key(1).public_key());
    const TXS: u64 = 12;
    // Every validator hears of every transaction, as gossip would arrange.
    for nonce in 0..TXS {
        let raw = transfer(&net.app, 0, nonce, to, 10);
        for q in &net.queues {
            q.push(raw.clone());
        }
    }
    // Blocks keep coming while transactions are included; stop at the first
    // height whose state has them all, then let everyone reach one past it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let done_at = loop {
        let h = net.height_of(0);
        if h > 0 && balance(net.chain(0), h, &to) == FUNDS + u128::from(TXS) * 10 {
            break h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "transfers not all applied by height {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // At least two epoch changes (interval 4) exercise the set hand-over.
    let target = (done_at + 1).max(9);
    net.wait_for(&[0, 1, 2, 3], target).await;
    let reference = net.root(0, target);
    for v in 1..N {
        assert_eq!(
            net.root(v, target),
            reference,
            "validator {v} diverged at height {target}"
        );
        // Every block is stored with its certificate and results.
        let b = net.chain(v).block(target).unwrap().expect("stored block");
        assert_eq!(b.commit.height.0, target);
        assert!(net.chain(v).results(target).unwrap().is_some());
        // The next block names the state root everyone agreed on.
        if let Some(next) = net.chain(v).block(target + 1).unwrap() {
            assert_eq!(next.block.state_root, reference);
        }
    }
    assert_eq!(
        balance(net.chain(2), target, &to),
        FUNDS + u128::from(TXS) * 10
    );
    // Every transfer is indexed.
    let raw = transfer(&net.app, 0, 0, to, 10);
    let (h, _) = net
        .chain(3)
        .tx_location(&Hash::digest(&raw))
        .unwrap()
        .expect("indexed");
    assert!(h <= done_at);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_of_four_validators_go_on_without_the_fourth() {
    init_tracing();
    let mut net = start_network(&[]).await;
    net.wait_for(&[0, 1, 2, 3], 2).await;
    // The smallest validator (entity 0: 1/10 of the power) stops; the rest
    // hold 9/10, above the two-thirds quorum.
    net.kill(0).await;
    let h = (1..N).map(|v| net.height_of(v)).max().unwrap_or(0);
    net.wait_for(&[1, 2, 3], h + 4).await;
    let target = h + 4;
    let reference = net.root(1, target);
    for v in 2..N {
        assert_eq!(net.root(v, target), reference);
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_validator_started_late_catches_up_by_sync() {
    init_tracing();
    // Validators 1-3 hold 9/10 of the power and decide blocks alone.
    let mut net = start_network(&[0]).await;
    let to = Address::from_ed25519(&user_key(1).public_key());
    for nonce in 0..4 {
        let raw = transfer(&net.app, 0, nonce, to, 7);
        for q in &net.queues {
            q.push(raw.clone());
        }
    }
    net.wait_for(&[1, 2, 3], 6).await;
    // Validator 0 joins at genesis state and must fetch the decided blocks.
    net.start(0).await;
    let h = (1..N).map(|v| net.height_of(v)).max().unwrap_or(0) + 2;
    net.wait_for(&[0, 1, 2, 3], h).await;
    let reference = net.root(1, h);
    for v in [0, 2, 3] {
        assert_eq!(
            net.root(v, h),
            reference,
            "validator {v} diverged at height {h}"
        );
    }
    assert_eq!(balance(net.chain(0), h, &to), FUNDS + 4 * 7);
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_validator_restarts_from_disk_and_catches_up() {
    init_tracing();
    let mut net = start_network(&[]).await;
    net.wait_for(&[0, 1, 2, 3], 3).await;
    net.kill(0).await;
    let stopped_at = net.height_of(0);
    // Give its sockets time to close before it listens again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let h = (1..N).map(|v| net.height_of(v)).max().unwrap_or(0) + 3;
    net.wait_for(&[1, 2, 3], h).await;
    // It comes back with its chain and its WAL, resumes after its last
    // applied block and fetches what it missed.
    net.roots.lock().unwrap().retain(|(v, _), _| *v != 0);
    net.start(0).await;
    let resumed = net
        .chain(0)
        .last_height()
        .unwrap()
        .expect("kept its blocks");
    assert!(resumed >= stopped_at, "{resumed} < {stopped_at}");
    let target = h + 2;
    net.wait_for(&[0, 1, 2, 3], target).await;
    assert_eq!(net.root(0, target), net.root(1, target));
    // It did not re-apply what it had before the restart.
    assert!(!net.roots.lock().unwrap().contains_key(&(0, stopped_at)));
    net.stop().await;
}

//! Gossip over real TCP sockets on 127.0.0.1: three nodes in a line A - B - C (A and C dial B).
//! Every wait is bounded; negative checks ("X never arrived") are made after a later message on
//! the same path has arrived, never after a sleep.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libp2p::multiaddr::Protocol;

use atoll_p2p::{
    DeferredValidator, Gossip, GossipConfig, Multiaddr, P2pError, Pending, Validator, Verdict,
    start, start_deferred,
};

const TOPIC: &str = "atoll/txs/test-chain";
const MAX_TX: usize = 1024;
const WAIT: Duration = Duration::from_secs(30);

type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

struct Node {
    gossip: Gossip,
    seen: Seen,
}

impl Node {
    fn count(&self, data: &[u8]) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|d| *d == data)
            .count()
    }

    fn saw_prefix(&self, prefix: &[u8]) -> bool {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .any(|d| d.starts_with(prefix))
    }

    fn largest_seen(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    }
}

fn accept_all(_: &[u8]) -> Verdict {
    Verdict::Accept
}

fn reject_bad(data: &[u8]) -> Verdict {
    if data.starts_with(b"bad") {
        Verdict::Reject
    } else {
        Verdict::Accept
    }
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

async fn spawn(
    seed: u8,
    listen: Multiaddr,
    peers: Vec<Multiaddr>,
    max_tx_bytes: usize,
    rule: fn(&[u8]) -> Verdict,
) -> Node {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let validate: Validator = Arc::new(move |data: &[u8]| {
        record.lock().unwrap().push(data.to_vec());
        rule(data)
    });
    let config = GossipConfig {
        listen,
        peers,
        key_seed: [seed; 32],
        topic: TOPIC.to_owned(),
        max_tx_bytes,
    };
    let gossip = start(config, validate).await.expect("start");
    Node { gossip, seen }
}

/// A node whose check answers later, from another task (as a runtime's check does):
/// `bad*` is rejected, `drop*` is dropped unanswered (which ignores it), the rest accepted.
async fn spawn_deferred(seed: u8, peers: Vec<Multiaddr>) -> Node {
    let seen: Seen = Arc::default();
    let record = Arc::clone(&seen);
    let validate: DeferredValidator = Arc::new(move |data: &[u8], pending: Pending| {
        record.lock().unwrap().push(data.to_vec());
        let data = data.to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if data.starts_with(b"drop") {
                drop(pending);
            } else if data.starts_with(b"bad") {
                pending.report(Verdict::Reject);
            } else {
                pending.report(Verdict::Accept);
            }
        });
    });
    let config = GossipConfig {
        listen: loopback(),
        peers,
        key_seed: [seed; 32],
        topic: TOPIC.to_owned(),
        max_tx_bytes: MAX_TX,
    };
    let gossip = start_deferred(config, validate).await.expect("start");
    Node { gossip, seen }
}

async fn addr_of(node: &Node) -> Multiaddr {
    let addrs = node.gossip.listen_addrs().await;
    assert!(!addrs.is_empty(), "no listen address");
    addrs[0].clone()
}

/// Polls `cond` until it holds; panics after [`WAIT`].
async fn wait_for<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let poll = async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    };
    if tokio::time::timeout(WAIT, poll).await.is_err() {
        panic!("timed out waiting for {what}");
    }
}

/// Publishes fresh messages `<prefix>-<i>` at `from` until `to` has seen one of them. Proves
/// the whole path works (connections, subscriptions, mesh) without guessing how long it takes.
async fn deliver(from: &Node, to: &Node, prefix: &str) {
    let mut i = 0u32;
    let poll = async {
        loop {
            from.gossip
                .publish(format!("{prefix}-{i}").into_bytes())
                .unwrap();
            i += 1;
            for _ in 0..8 {
                if to.saw_prefix(prefix.as_bytes()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    };
    if tokio::time::timeout(WAIT, poll).await.is_err() {
        panic!("timed out delivering {prefix}");
    }
}

/// A - B - C with the given rule at B (A and C accept everything). A dials B by address with its
/// peer id, C by bare address.
async fn line(max_a: usize, rule_b: fn(&[u8]) -> Verdict) -> (Node, Node, Node) {
    let b = spawn(2, loopback(), vec![], MAX_TX, rule_b).await;
    let b_addr = addr_of(&b).await;
    let b_addr_with_id = b_addr.clone().with(Protocol::P2p(b.gossip.peer_id()));
    let a = spawn(1, loopback(), vec![b_addr_with_id], max_a, accept_all).await;
    let c = spawn(3, loopback(), vec![b_addr], MAX_TX, accept_all).await;
    wait_until_linked(&a, &b, &c).await;
    (a, b, c)
}

async fn wait_until_linked(a: &Node, b: &Node, c: &Node) {
    wait_for("B to see A and C on the topic", || async {
        b.gossip.topic_peers().await == 2
    })
    .await;
    wait_for("A and C to see B on the topic", || async {
        a.gossip.topic_peers().await == 1 && c.gossip.topic_peers().await == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_published_at_a_reaches_c_through_b() {
    let (a, b, c) = line(MAX_TX, accept_all).await;
    assert_eq!(a.gossip.connected_peers().await, 1);
    assert_eq!(b.gossip.connected_peers().await, 2);
    assert_eq!(c.gossip.connected_peers().await, 1);
    assert_ne!(a.gossip.peer_id(), c.gossip.peer_id());

    deliver(&a, &c, "tx").await;
    assert!(b.saw_prefix(b"tx"), "B validated what it forwarded");
    assert!(!a.saw_prefix(b"tx"), "own messages are not validated");
    // And the other way round.
    deliver(&c, &a, "back").await;

    assert!(a.gossip.stats().published >= 1);
    assert!(b.gossip.stats().accepted >= 2);
    assert_eq!(b.gossip.stats().rejected, 0);
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_rejected_at_b_is_not_forwarded_to_c() {
    let (a, b, c) = line(MAX_TX, reject_bad).await;
    deliver(&a, &c, "warm").await;

    a.gossip.publish(b"bad-tx".to_vec()).unwrap();
    // Sent after the bad one on the same A -> B path: once C has a "good" message, B has
    // already decided on the bad one.
    deliver(&a, &c, "good").await;

    assert_eq!(b.count(b"bad-tx"), 1, "B's validator saw the bad message");
    assert_eq!(c.count(b"bad-tx"), 0, "the rejected message reached C");
    assert_eq!(b.gossip.stats().rejected, 1);
    assert_eq!(c.gossip.stats().rejected, 0);
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_rejections_penalise_the_sender_until_it_decays() {
    let (a, b, c) = line(MAX_TX, reject_bad).await;
    deliver(&a, &c, "warm").await;

    for i in 0..5 {
        a.gossip.publish(format!("bad-{i}").into_bytes()).unwrap();
    }
    // The first "penalty" message follows the bad ones on the same A -> B path, so when it
    // arrives A's score is already below the graylist threshold and B drops it unseen. The
    // penalty decays, and later messages get through again.
    deliver(&a, &c, "penalty").await;

    // Three invalid messages put A below the graylist threshold: the last two bad ones were
    // dropped without reaching B's validator.
    assert_eq!(b.gossip.stats().rejected, 3);
    assert_eq!(b.count(b"bad-3") + b.count(b"bad-4"), 0);
    assert_eq!(
        b.count(b"penalty-0"),
        0,
        "B validated a message from a graylisted peer"
    );
    assert!(b.saw_prefix(b"penalty"));
    assert!(!c.saw_prefix(b"bad"));
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_is_not_delivered() {
    // A allows far larger messages than B and C, so it does send them.
    let (a, b, c) = line(256 * 1024, accept_all).await;
    deliver(&a, &c, "warm").await;

    // Refused locally by B's own limit.
    match b.gossip.publish(vec![7; MAX_TX + 1]) {
        Err(P2pError::TooLarge { len, max }) => assert_eq!((len, max), (MAX_TX + 1, MAX_TX)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // Too large for B but within gossipsub's frame limit: rejected by B before validation, and
    // the A -> B path keeps working.
    a.gossip.publish(vec![1; 2 * MAX_TX]).unwrap();
    deliver(&a, &c, "after").await;
    assert!(
        b.largest_seen() <= MAX_TX,
        "B's validator got an oversized message"
    );
    assert!(
        c.largest_seen() <= MAX_TX,
        "C's validator got an oversized message"
    );
    assert_eq!(
        b.gossip.stats().rejected,
        1,
        "the 2 KiB message was rejected"
    );

    // Beyond gossipsub's frame limit: dropped by B's decoder. That also kills A's stream to B
    // (see the crate docs), so there is no later message on this path to wait for; check after
    // a pause that B's validator never saw it and that B still answers.
    a.gossip.publish(vec![2; 200 * 1024]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        b.largest_seen() <= MAX_TX,
        "B's validator got an oversized frame"
    );
    assert_eq!(b.gossip.connected_peers().await, 2);
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_is_delivered_once() {
    let (a, b, c) = line(MAX_TX, accept_all).await;
    deliver(&a, &c, "warm-ac").await;
    deliver(&c, &a, "warm-ca").await;

    let tx = b"the-same-tx".to_vec();
    a.gossip.publish(tx.clone()).unwrap();
    a.gossip.publish(tx.clone()).unwrap();
    c.gossip.publish(tx.clone()).unwrap();
    // Later messages from both ends: once B has one from each, it has handled all three copies.
    deliver(&a, &b, "after-a").await;
    deliver(&c, &b, "after-c").await;

    assert_eq!(b.count(&tx), 1, "B validated the duplicate more than once");
    assert!(a.count(&tx) <= 1);
    assert!(c.count(&tx) <= 1);
    assert!(
        a.gossip.stats().publish_dropped >= 1,
        "A's second publish was a duplicate"
    );
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections() {
    let (a, b, c) = line(MAX_TX, accept_all).await;
    deliver(&a, &c, "warm").await;

    tokio::time::timeout(WAIT, b.gossip.shutdown())
        .await
        .expect("shutdown in time");
    wait_for("A and C to notice B is gone", || async {
        a.gossip.connected_peers().await == 0 && c.gossip.connected_peers().await == 0
    })
    .await;
    // Publishing with nobody to send to is not an error for the caller.
    a.gossip.publish(b"into-the-void".to_vec()).unwrap();
    wait_for("the unsent message to be counted", || async {
        a.gossip.stats().publish_dropped >= 1
    })
    .await;

    // Dropping a handle stops its node too.
    drop(a);
    tokio::time::timeout(WAIT, c.gossip.shutdown())
        .await
        .expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_is_redialled() {
    let (a, b, c) = line(MAX_TX, accept_all).await;
    deliver(&a, &c, "before").await;

    let b_addr = addr_of(&b).await;
    let b_id = b.gossip.peer_id();
    b.gossip.shutdown().await;
    wait_for("A and C to notice B is gone", || async {
        a.gossip.connected_peers().await == 0 && c.gossip.connected_peers().await == 0
    })
    .await;

    // Same key, same address: A and C must come back on their own.
    let b = spawn(2, b_addr.clone(), vec![], MAX_TX, accept_all).await;
    assert_eq!(b.gossip.peer_id(), b_id);
    assert_eq!(addr_of(&b).await, b_addr);
    wait_until_linked(&a, &b, &c).await;
    deliver(&a, &c, "after").await;
    assert!(b.saw_prefix(b"after"));
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_refused() {
    let validate: Validator = Arc::new(accept_all);
    let config = GossipConfig {
        listen: loopback(),
        peers: vec![],
        key_seed: [9; 32],
        topic: TOPIC.to_owned(),
        max_tx_bytes: 0,
    };
    assert!(matches!(
        start(config.clone(), Arc::clone(&validate)).await,
        Err(P2pError::Config(_))
    ));
    let config = GossipConfig {
        max_tx_bytes: MAX_TX,
        topic: String::new(),
        ..config
    };
    assert!(matches!(
        start(config.clone(), Arc::clone(&validate)).await,
        Err(P2pError::Config(_))
    ));
    // Only TCP is supported.
    let config = GossipConfig {
        topic: TOPIC.to_owned(),
        listen: "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap(),
        ..config
    };
    assert!(matches!(
        start(config, validate).await,
        Err(P2pError::Listen { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_verdicts_hold_forwarding_and_penalise_the_sender() {
    let b = spawn_deferred(2, vec![]).await;
    let b_addr = addr_of(&b).await;
    let a = spawn(1, loopback(), vec![b_addr.clone()], MAX_TX, accept_all).await;
    let c = spawn(3, loopback(), vec![b_addr], MAX_TX, accept_all).await;
    wait_until_linked(&a, &b, &c).await;
    deliver(&a, &c, "warm").await;

    // Dropped unanswered: ignored, not forwarded, no penalty.
    a.gossip.publish(b"drop-me".to_vec()).unwrap();
    deliver(&a, &c, "after-drop").await;
    assert_eq!(b.count(b"drop-me"), 1);
    assert_eq!(c.count(b"drop-me"), 0);
    assert_eq!(b.gossip.stats().rejected, 0);
    assert!(b.gossip.stats().ignored >= 1);

    // Rejected later: not forwarded, and the sender ends up graylisted.
    for i in 0..5 {
        a.gossip.publish(format!("bad-{i}").into_bytes()).unwrap();
    }
    wait_for("B to reject three", || async {
        b.gossip.stats().rejected >= 3
    })
    .await;
    deliver(&a, &c, "penalty").await;
    assert!(!c.saw_prefix(b"bad"), "a rejected message was forwarded");
    assert!(b.gossip.stats().rejected >= 3);
    for node in [a, b, c] {
        node.gossip.shutdown().await;
    }
}

//! Transaction gossip between atoll nodes, over libp2p gossipsub.
//!
//! # Design
//!
//! A node calls [`start`] with a [`GossipConfig`] and a [`Validator`] closure and gets back a
//! [`Gossip`] handle. Behind the handle a single tokio task owns a libp2p swarm made of:
//!
//! * **gossipsub** on one chain-bound topic (e.g. `atoll/txs/<chain context>`), so nodes of
//!   different chains never exchange transactions. Remote subscriptions to any other topic are
//!   filtered out, so a peer cannot make us track arbitrary topics.
//! * **ping**, so a silently dead connection is noticed and closed (which triggers a redial).
//! * **connection limits**, so the number of connections is bounded.
//!
//! The transport is TCP, authenticated with noise under the node's ed25519 p2p key (derived from
//! [`GossipConfig::key_seed`]) and multiplexed with yamux.
//!
//! ## Validation
//!
//! Gossipsub runs in explicit-validation mode: a received message is neither delivered nor
//! forwarded until the application reports a verdict. The swarm task calls the [`Validator`] for
//! every new message (inline, so it should be quick: a mempool check-and-insert is the intended
//! use) and reports its [`Verdict`]:
//!
//! * [`Verdict::Accept`]: the message is forwarded to the other peers in the mesh.
//! * [`Verdict::Ignore`]: dropped without penalty (a duplicate the mempool already has, a
//!   transaction that is not acceptable *now*, a full pool, ...).
//! * [`Verdict::Reject`]: dropped and the peer that sent it is penalised through gossipsub peer
//!   scoring (invalid-message counter P₄). A few rejected messages in quick succession push the
//!   peer below the graylist threshold, after which its messages are ignored until the penalty
//!   decays.
//!
//! A check that needs another process (a ParaTime's runtime checks compute-gossip transactions)
//! uses [`start_deferred`]: the [`DeferredValidator`] gets a [`Pending`] and reports the verdict
//! later from any task; until then the message is neither delivered nor forwarded, so nothing is
//! passed on before it was checked. A [`Pending`] dropped unreported counts as
//! [`Verdict::Ignore`]. Bounding the work in flight (per [`Pending::source`] and in all) is the
//! application's part.
//!
//! Messages are identified by a hash of their data ([`atoll_crypto::Hash::digest`]), not by
//! author and sequence number, so the same transaction published by two nodes is one message: a
//! duplicate is dropped by gossipsub's seen-cache before it reaches the validator again.
//! Messages are still signed by their publisher (strict validation), so every message on the
//! wire is attributable.
//!
//! ## Bounds
//!
//! * Messages whose data exceed [`GossipConfig::max_tx_bytes`] are refused by [`Gossip::publish`]
//!   and rejected on receipt before the validator sees them. Gossipsub's own frame limit is
//!   twice that plus some overhead (at least 64 KiB), so grossly oversized frames are dropped
//!   by the decoder without being buffered. Caveat (libp2p behaviour): such a frame also kills
//!   the inbound stream it arrived on without the sender noticing, so that sender's later
//!   messages to us are lost until its connection is re-established. Only a peer configured
//!   with a much larger limit than ours, or a hostile one, can trigger it, and it only cuts off
//!   that peer.
//! * Publishing goes through a bounded queue ([`PUBLISH_QUEUE`]); [`Gossip::publish`] never
//!   waits and fails with [`P2pError::QueueFull`] when the swarm task is behind.
//! * Connections are capped ([`MAX_CONNECTIONS`], [`MAX_CONNECTIONS_PER_PEER`]) and gossipsub's
//!   per-connection send queues, seen-cache and IHAVE lengths are bounded by its configuration.
//!
//! ## Peers
//!
//! The addresses in [`GossipConfig::peers`] are dialled at start. Whenever the connection to one
//! of them fails or closes, it is redialled after a backoff that doubles from
//! [`REDIAL_BACKOFF_MIN`] up to [`REDIAL_BACKOFF_MAX`] (and resets once a connection has stayed
//! up for a while), so a restarted peer is reconnected without operator action. Peers that dial
//! us are accepted as well (within the connection limits) but not redialled by us.
//!
//! Publishing while no peer is subscribed to the topic is not an error for the caller: the
//! message is dropped and counted in [`GossipStats::publish_dropped`]. Re-broadcasting pending
//! transactions later is the node's business.

mod driver;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Capacity of the queue between [`Gossip::publish`] and the swarm task.
pub const PUBLISH_QUEUE: usize = 1024;
/// Maximum number of established connections (incoming and outgoing together).
pub const MAX_CONNECTIONS: u32 = 128;
/// Maximum number of established connections to a single peer.
pub const MAX_CONNECTIONS_PER_PEER: u32 = 2;
/// First delay before redialling a configured peer whose connection failed or closed.
pub const REDIAL_BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Largest delay between two dial attempts to a configured peer.
pub const REDIAL_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long [`start`] waits for the listener to report its bound address.
pub const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Configuration of the gossip service.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    /// Address to listen on, e.g. `/ip4/127.0.0.1/tcp/0` (port 0 picks a free port, see
    /// [`Gossip::listen_addrs`]).
    pub listen: Multiaddr,
    /// Peers dialled at start and redialled (with bounded backoff) whenever disconnected. May
    /// carry a `/p2p/<peer id>` suffix, in which case the remote identity is checked.
    pub peers: Vec<Multiaddr>,
    /// Seed of the node's ed25519 libp2p identity.
    pub key_seed: [u8; 32],
    /// Gossipsub topic; should be bound to the chain, e.g. `format!("atoll/txs/{chain_context}")`.
    pub topic: String,
    /// Largest message data accepted or published, in bytes.
    pub max_tx_bytes: usize,
}

/// What the application decided about a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Valid: deliver and forward to other peers.
    Accept,
    /// Not forwarded, sender not penalised (duplicate, not acceptable now, pool full, ...).
    Ignore,
    /// Invalid: not forwarded and the sending peer is penalised.
    Reject,
}

/// The application's check on every received message. It runs on the swarm task, so it should
/// not block for long. It is where the node inserts the transaction into its mempool.
pub type Validator = Arc<dyn Fn(&[u8]) -> Verdict + Send + Sync>;

/// A check whose verdict takes time (it asks another process): called on the swarm task with
/// the message and a [`Pending`] to report the verdict through later, from any task. Until it
/// is reported the message is neither delivered nor forwarded. The check itself must return at
/// once (spawn the work) and should bound how much it has in flight, per peer
/// ([`Pending::source`]) and in all: answering [`Verdict::Ignore`] at once to what is over
/// quota.
pub type DeferredValidator = Arc<dyn Fn(&[u8], Pending) + Send + Sync>;

/// The verdict still owed on one received message ([`DeferredValidator`]). Dropping it without
/// a report reports [`Verdict::Ignore`], so a message is never left waiting.
#[derive(Debug)]
pub struct Pending {
    id: libp2p::gossipsub::MessageId,
    source: PeerId,
    reports: mpsc::UnboundedSender<(libp2p::gossipsub::MessageId, PeerId, Verdict)>,
    done: bool,
}

impl Pending {
    /// The peer the message came from (the one a `Reject` penalises; not necessarily its
    /// author).
    pub fn source(&self) -> PeerId {
        self.source
    }

    /// Reports the verdict.
    pub fn report(mut self, verdict: Verdict) {
        self.send(verdict);
    }

    fn send(&mut self, verdict: Verdict) {
        if !self.done {
            self.done = true;
            // The swarm task may be gone (shut down): nothing to report to then.
            let _ = self.reports.send((self.id.clone(), self.source, verdict));
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.send(Verdict::Ignore);
    }
}

/// How received messages are checked.
#[derive(Clone)]
pub(crate) enum Check {
    Now(Validator),
    Later(DeferredValidator),
}

/// Errors of the gossip service.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The configuration is unusable.
    #[error("invalid gossip configuration: {0}")]
    Config(String),
    /// The swarm (transport or behaviour) could not be built.
    #[error("cannot build the libp2p swarm: {0}")]
    Swarm(String),
    /// Listening on the configured address failed.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The configured listen address.
        addr: Multiaddr,
        /// Why it failed.
        reason: String,
    },
    /// The message is larger than [`GossipConfig::max_tx_bytes`].
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the refused message.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The publish queue is full: the swarm task is not keeping up.
    #[error("the gossip publish queue is full")]
    QueueFull,
    /// The swarm task has stopped.
    #[error("the gossip service has stopped")]
    Stopped,
}

/// Counters of the gossip service, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Received messages the validator accepted.
    pub accepted: u64,
    /// Received messages rejected (by the validator, or for being too large).
    pub rejected: u64,
    /// Received messages the validator ignored.
    pub ignored: u64,
    /// Messages handed to gossipsub for sending by [`Gossip::publish`].
    pub published: u64,
    /// Messages queued by [`Gossip::publish`] that gossipsub did not send: no subscribed peer,
    /// a duplicate of a recently published message, or all peer queues full.
    pub publish_dropped: u64,
}

/// Shared atomic counters behind [`GossipStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) publish_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> GossipStats {
        GossipStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            ignored: self.ignored.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            publish_dropped: self.publish_dropped.load(Ordering::Relaxed),
        }
    }
}

/// Requests from the handle to the swarm task.
pub(crate) enum Control {
    ListenAddrs(oneshot::Sender<Vec<Multiaddr>>),
    ConnectedPeers(oneshot::Sender<usize>),
    TopicPeers(oneshot::Sender<usize>),
    Shutdown,
}

/// Handle on a running gossip service. Dropping it stops the service too, but without waiting
/// for the task to finish; prefer [`Gossip::shutdown`].
#[derive(Debug)]
pub struct Gossip {
    peer_id: PeerId,
    max_tx_bytes: usize,
    publish_tx: mpsc::Sender<Vec<u8>>,
    control_tx: mpsc::Sender<Control>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

/// Starts the gossip service: builds the swarm, starts listening, dials the configured peers and
/// returns once the listen address is bound.
///
/// Must be called within a tokio runtime.
pub async fn start(config: GossipConfig, validate: Validator) -> Result<Gossip, P2pError> {
    start_with(config, Check::Now(validate)).await
}

/// Like [`start`], for a check that answers later ([`DeferredValidator`]).
pub async fn start_deferred(
    config: GossipConfig,
    validate: DeferredValidator,
) -> Result<Gossip, P2pError> {
    start_with(config, Check::Later(validate)).await
}

async fn start_with(config: GossipConfig, validate: Check) -> Result<Gossip, P2pError> {
    if config.max_tx_bytes == 0 {
        return Err(P2pError::Config("max_tx_bytes must be positive".into()));
    }
    if config.topic.is_empty() {
        return Err(P2pError::Config("the topic must not be empty".into()));
    }
    let counters = Arc::new(Counters::default());
    let (publish_tx, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
    let (control_tx, control_rx) = mpsc::channel(16);
    let (ready_tx, ready_rx) = oneshot::channel();
    let max_tx_bytes = config.max_tx_bytes;
    let listen = config.listen.clone();

    let driver = driver::Driver::new(config, validate, Arc::clone(&counters))?;
    let peer_id = driver.peer_id();
    let task = tokio::spawn(driver.run(publish_rx, control_rx, ready_tx));

    let ready = match tokio::time::timeout(LISTEN_TIMEOUT, ready_rx).await {
        Ok(Ok(ready)) => ready,
        Ok(Err(_)) => Err(P2pError::Stopped),
        Err(_) => Err(P2pError::Listen {
            addr: listen,
            reason: "no listen address reported in time".into(),
        }),
    };
    if let Err(err) = ready {
        task.abort();
        return Err(err);
    }
    Ok(Gossip {
        peer_id,
        max_tx_bytes,
        publish_tx,
        control_tx,
        counters,
        task,
    })
}

impl Gossip {
    /// This node's libp2p peer id (derived from [`GossipConfig::key_seed`]).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses actually listened on (port 0 resolved). Empty if the service has stopped.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.query(Control::ListenAddrs).await.unwrap_or_default()
    }

    /// Queues `raw` for publication to the topic. Never waits.
    ///
    /// Fails if the message is too large, the queue is full or the service stopped. Having no
    /// peer to send to is not reported here (see [`GossipStats::publish_dropped`]).
    pub fn publish(&self, raw: Vec<u8>) -> Result<(), P2pError> {
        if raw.len() > self.max_tx_bytes {
            return Err(P2pError::TooLarge {
                len: raw.len(),
                max: self.max_tx_bytes,
            });
        }
        self.publish_tx.try_send(raw).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => P2pError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => P2pError::Stopped,
        })
    }

    /// Number of peers with at least one established connection. 0 if the service has stopped.
    pub async fn connected_peers(&self) -> usize {
        self.query(Control::ConnectedPeers).await.unwrap_or(0)
    }

    /// Number of connected peers known to be subscribed to the topic, i.e. peers a published
    /// message can go to. 0 if the service has stopped.
    pub async fn topic_peers(&self) -> usize {
        self.query(Control::TopicPeers).await.unwrap_or(0)
    }

    /// Current counters.
    pub fn stats(&self) -> GossipStats {
        self.counters.snapshot()
    }

    /// Stops the swarm task, closing all connections and the listener, and waits for it to end.
    pub async fn shutdown(self) {
        // If the task is already gone the send fails, which is fine: there is nothing to stop.
        let _ = self.control_tx.send(Control::Shutdown).await;
        if let Err(err) = self.task.await {
            tracing::warn!(%err, "gossip task ended abnormally");
        }
    }

    async fn query<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Control) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.control_tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }
}

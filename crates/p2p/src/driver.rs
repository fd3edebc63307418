//! The swarm task: owns the libp2p swarm, validates incoming messages, publishes queued ones and
//! keeps the configured peers connected.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use atoll_crypto::Hash;
use futures::StreamExt as _;
use libp2p::connection_limits::{self, ConnectionLimits};
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, PeerScoreParams,
    PeerScoreThresholds, TopicHash, TopicScoreParams, ValidationMode, WhitelistSubscriptionFilter,
};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, identity, noise, ping, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::{
    Check, Control, Counters, GossipConfig, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PEER, P2pError,
    Pending, REDIAL_BACKOFF_MAX, REDIAL_BACKOFF_MIN, Verdict,
};

type Report = (MessageId, PeerId, Verdict);

/// Gossipsub heartbeat: short, the network is a handful of validators.
const HEARTBEAT: Duration = Duration::from_millis(200);
/// How long message ids are remembered to drop duplicates.
const SEEN_TTL: Duration = Duration::from_secs(120);
/// Room for the signature, author, sequence number, topic and protobuf framing around the data.
const FRAME_OVERHEAD: usize = 1024;
/// Gossipsub's frame limit never goes below this, so IHAVE/IWANT lists always fit.
const MIN_FRAME: usize = 64 * 1024;
/// Most message ids in one IHAVE / IWANT (keeps control frames small).
const MAX_IHAVE_IDS: usize = 128;
/// A connection to a configured peer that stayed up this long resets its redial backoff.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);
/// How often the redial schedule is checked.
const REDIAL_TICK: Duration = Duration::from_millis(100);
/// A connection idle (no protocol keeping it alive) for this long is closed.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(300);
/// Ping interval and timeout; a failed ping closes the connection (and so triggers a redial).
const PING_INTERVAL: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The combined network behaviour.
#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour<gossipsub::IdentityTransform, WhitelistSubscriptionFilter>,
    ping: ping::Behaviour,
}

/// Where a configured peer stands.
#[derive(Debug, Clone, Copy)]
enum SlotState {
    /// Not connected; dial at the given time.
    Waiting { at: Instant },
    /// A dial is in flight.
    Dialing(ConnectionId),
    /// Connected through this connection since the given time.
    Connected { id: ConnectionId, since: Instant },
}

/// A configured peer that we keep connected.
#[derive(Debug)]
struct Slot {
    addr: Multiaddr,
    state: SlotState,
    backoff: Duration,
}

impl Slot {
    /// Schedules the next dial after the current backoff, then doubles the backoff.
    fn schedule(&mut self, now: Instant) {
        self.state = SlotState::Waiting {
            at: now + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(REDIAL_BACKOFF_MAX);
    }
}

pub(crate) struct Driver {
    swarm: Swarm<Behaviour>,
    listen: Multiaddr,
    topic: TopicHash,
    max_tx_bytes: usize,
    validate: Check,
    counters: Arc<Counters>,
    slots: Vec<Slot>,
    listen_addrs: Vec<Multiaddr>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports_rx: Option<mpsc::UnboundedReceiver<Report>>,
}

fn gossipsub_config(max_tx_bytes: usize, topic: &str) -> Result<gossipsub::Config, P2pError> {
    // Twice the message limit: a frame beyond gossipsub's limit is dropped by the decoder, which
    // also closes the inbound stream it came on, and the sender does not notice, so its later
    // messages are lost until the connection is re-established. Keeping the frame limit well
    // above the message limit means a peer configured with a somewhat larger limit only gets
    // its oversized messages rejected (and penalised) at the application check instead.
    let frame = max_tx_bytes
        .saturating_mul(2)
        .saturating_add(FRAME_OVERHEAD)
        .saturating_add(topic.len())
        .max(MIN_FRAME);
    gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(|message: &gossipsub::Message| {
            MessageId::new(Hash::digest(&message.data).as_ref())
        })
        .max_transmit_size(frame)
        .heartbeat_interval(HEARTBEAT)
        .heartbeat_initial_delay(HEARTBEAT / 4)
        .mesh_n(4)
        .mesh_n_low(2)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .flood_publish(true)
        .duplicate_cache_time(SEEN_TTL)
        .published_message_ids_cache_time(SEEN_TTL)
        .max_ihave_length(MAX_IHAVE_IDS)
        .max_ihave_messages(10)
        .max_messages_per_rpc(Some(64))
        .connection_handler_queue_len(1024)
        .build()
        .map_err(|err| P2pError::Config(format!("gossipsub: {err}")))
}

/// Peer scoring only used to punish invalid messages (P₄) and protocol misbehaviour (P₇); the
/// mesh-delivery terms are off because transaction traffic is sparse and bursty.
fn peer_score(topic: &TopicHash) -> (PeerScoreParams, PeerScoreThresholds) {
    let topic_params = TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // One invalid message costs 10, the counter is squared: three in quick succession
        // reach the graylist threshold. Decays by 10% per second.
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: 0.9,
        ..TopicScoreParams::default()
    };
    let mut params = PeerScoreParams {
        // Validators may well share an address (loopback, one host, NAT).
        ip_colocation_factor_weight: 0.0,
        behaviour_penalty_weight: -1.0,
        behaviour_penalty_threshold: 6.0,
        ..PeerScoreParams::default()
    };
    params.topics.insert(topic.clone(), topic_params);
    let thresholds = PeerScoreThresholds {
        gossip_threshold: -20.0,
        publish_threshold: -40.0,
        graylist_threshold: -80.0,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 5.0,
    };
    (params, thresholds)
}

impl Driver {
    pub(crate) fn new(
        config: GossipConfig,
        validate: Check,
        counters: Arc<Counters>,
    ) -> Result<Self, P2pError> {
        let mut seed = config.key_seed;
        let keypair = identity::Keypair::ed25519_from_bytes(&mut seed)
            .map_err(|err| P2pError::Config(format!("key seed: {err}")))?;
        let topic = IdentTopic::new(config.topic.clone());
        let topic_hash = topic.hash();

        let gossipsub_config = gossipsub_config(config.max_tx_bytes, &config.topic)?;
        let mut gossipsub = gossipsub::Behaviour::new_with_subscription_filter(
            MessageAuthenticity::Signed(keypair.clone()),
            gossipsub_config,
            WhitelistSubscriptionFilter(HashSet::from([topic_hash.clone()])),
        )
        .map_err(|err| P2pError::Config(format!("gossipsub: {err}")))?;
        let (params, thresholds) = peer_score(&topic_hash);
        gossipsub
            .with_peer_score(params, thresholds)
            .map_err(|err| P2pError::Config(format!("peer scoring: {err}")))?;
        gossipsub
            .subscribe(&topic)
            .map_err(|err| P2pError::Config(format!("subscribe: {err}")))?;

        let limits = connection_limits::Behaviour::new(
            ConnectionLimits::default()
                .with_max_established(Some(MAX_CONNECTIONS))
                .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
                .with_max_pending_incoming(Some(MAX_CONNECTIONS / 4))
                .with_max_pending_outgoing(Some(MAX_CONNECTIONS / 4)),
        );
        let ping = ping::Behaviour::new(
            ping::Config::new()
                .with_interval(PING_INTERVAL)
                .with_timeout(PING_TIMEOUT),
        );
        let behaviour = Behaviour {
            limits,
            gossipsub,
            ping,
        };

        let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|err| P2pError::Swarm(err.to_string()))?
            .with_behaviour(|_| behaviour)
            .map_err(|err| P2pError::Swarm(err.to_string()))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
            .build();

        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let slots = config
            .peers
            .into_iter()
            .map(|addr| Slot {
                addr,
                state: SlotState::Waiting { at: now },
                backoff: REDIAL_BACKOFF_MIN,
            })
            .collect();
        Ok(Self {
            swarm,
            listen: config.listen,
            topic: topic_hash,
            max_tx_bytes: config.max_tx_bytes,
            validate,
            counters,
            slots,
            listen_addrs: Vec::new(),
            reports_tx,
            reports_rx: Some(reports_rx),
        })
    }

    pub(crate) fn peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Runs until shut down (or until the handle is dropped).
    pub(crate) async fn run(
        mut self,
        mut publish_rx: mpsc::Receiver<Vec<u8>>,
        mut control_rx: mpsc::Receiver<Control>,
        ready: oneshot::Sender<Result<(), P2pError>>,
    ) {
        let mut ready = Some(ready);
        if let Err(err) = self.swarm.listen_on(self.listen.clone()) {
            if let Some(ready) = ready.take() {
                let _ = ready.send(Err(P2pError::Listen {
                    addr: self.listen.clone(),
                    reason: err.to_string(),
                }));
            }
            return;
        }
        self.redial();
        let mut tick = tokio::time::interval(REDIAL_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let Some(mut reports) = self.reports_rx.take() else {
            return;
        };

        loop {
            tokio::select! {
                control = control_rx.recv() => match control {
                    None | Some(Control::Shutdown) => break,
                    Some(control) => self.on_control(control),
                },
                Some((id, source, verdict)) = reports.recv() => self.report(&id, &source, verdict),
                event = self.swarm.select_next_some() => self.on_event(event, &mut ready),
                Some(raw) = publish_rx.recv() => self.publish(raw),
                _ = tick.tick() => self.redial(),
            }
        }
        tracing::debug!("gossip task stopped");
    }

    fn on_control(&mut self, control: Control) {
        // A requester that went away is not our problem: ignore failed replies.
        match control {
            Control::ListenAddrs(reply) => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Control::ConnectedPeers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().count());
            }
            Control::TopicPeers(reply) => {
                let topic = &self.topic;
                let count = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&topic))
                    .count();
                let _ = reply.send(count);
            }
            Control::Shutdown => {}
        }
    }

    fn publish(&mut self, raw: Vec<u8>) {
        let topic = self.topic.clone();
        match self.swarm.behaviour_mut().gossipsub.publish(topic, raw) {
            Ok(id) => {
                tracing::trace!(%id, "published");
                Counters::bump(&self.counters.published);
            }
            Err(err) => {
                tracing::debug!(%err, "message not published");
                Counters::bump(&self.counters.publish_dropped);
            }
        }
    }

    /// Dials every configured peer whose backoff has elapsed.
    fn redial(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            let SlotState::Waiting { at } = slot.state else {
                continue;
            };
            if at > now {
                continue;
            }
            let opts = DialOpts::unknown_peer_id()
                .address(slot.addr.clone())
                .build();
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => slot.state = SlotState::Dialing(id),
                Err(err) => {
                    tracing::debug!(addr = %slot.addr, %err, "dial failed");
                    slot.schedule(now);
                }
            }
        }
    }

    fn on_event(
        &mut self,
        event: SwarmEvent<BehaviourEvent>,
        ready: &mut Option<oneshot::Sender<Result<(), P2pError>>>,
    ) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::debug!(%address, "listening");
                if !self.listen_addrs.contains(&address) {
                    self.listen_addrs.push(address);
                }
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Ok(()));
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                tracing::warn!(?reason, "listener closed");
                if let Some(ready) = ready.take() {
                    let reason = match reason {
                        Ok(()) => "listener closed".to_owned(),
                        Err(err) => err.to_string(),
                    };
                    let _ = ready.send(Err(P2pError::Listen {
                        addr: self.listen.clone(),
                        reason,
                    }));
                }
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(%error, "listener error");
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                tracing::debug!(%peer_id, addr = %endpoint.get_remote_address(), "connected");
                let now = Instant::now();
                for slot in &mut self.slots {
                    if matches!(slot.state, SlotState::Dialing(id) if id == connection_id) {
                        slot.state = SlotState::Connected {
                            id: connection_id,
                            since: now,
                        };
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                ..
            } => {
                tracing::debug!(%peer_id, ?cause, "connection closed");
                let now = Instant::now();
                for slot in &mut self.slots {
                    if let SlotState::Connected { id, since } = slot.state
                        && id == connection_id
                    {
                        if now.duration_since(since) >= STABLE_CONNECTION {
                            slot.backoff = REDIAL_BACKOFF_MIN;
                        }
                        slot.schedule(now);
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                for slot in &mut self.slots {
                    if matches!(slot.state, SlotState::Dialing(id) if id == connection_id) {
                        tracing::debug!(addr = %slot.addr, %error, "dial failed");
                        slot.schedule(Instant::now());
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossipsub(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(failure),
            })) => {
                tracing::debug!(%peer, %failure, "ping failed, closing connection");
                self.swarm.close_connection(connection);
            }
            _ => {}
        }
    }

    fn report(&mut self, id: &MessageId, source: &PeerId, verdict: Verdict) {
        let (acceptance, counter) = match verdict {
            Verdict::Accept => (MessageAcceptance::Accept, &self.counters.accepted),
            Verdict::Ignore => (MessageAcceptance::Ignore, &self.counters.ignored),
            Verdict::Reject => (MessageAcceptance::Reject, &self.counters.rejected),
        };
        Counters::bump(counter);
        // False only if the message already left the cache; nothing to do then.
        let _ = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, source, acceptance);
    }

    fn on_gossipsub(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let verdict = if message.data.len() > self.max_tx_bytes {
                    tracing::debug!(
                        peer = %propagation_source,
                        len = message.data.len(),
                        "oversized message"
                    );
                    Verdict::Reject
                } else if message.topic != self.topic {
                    Verdict::Reject
                } else {
                    match &self.validate {
                        Check::Now(validate) => validate(&message.data),
                        Check::Later(validate) => {
                            let pending = Pending {
                                id: message_id,
                                source: propagation_source,
                                reports: self.reports_tx.clone(),
                                done: false,
                            };
                            validate(&message.data, pending);
                            return;
                        }
                    }
                };
                self.report(&message_id, &propagation_source, verdict);
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                tracing::debug!(%peer_id, %topic, "peer subscribed");
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                tracing::debug!(%peer_id, %topic, "peer unsubscribed");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::debug!(%peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer { peer_id, .. } => {
                tracing::debug!(%peer_id, "slow peer");
            }
        }
    }
}

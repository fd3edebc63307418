//! What a node does by itself each epoch, besides consensus and compute:
//!
//! - [`vrf`]: submit `beacon.VRFProve` once per epoch, as soon as proofs are
//!   accepted (the pure decision [`vrf::decide`]);
//! - [`registration`]: re-register the node's descriptor on start-up, when
//!   its roles or runtimes change, and before it expires (the pure decision
//!   [`registration::decide`] and the fresh [`registration::descriptor`]);
//! - [`own_txs`]: the one signer of the node's own transactions (these and
//!   the compute workers' commitments), with one nonce sequence, paid from
//!   the node's account at the network's minimum gas price.
//!
//! [`EpochWorkers`] is the loop around the two decisions: after each new
//! block it reads the node's own latest state, decides, and submits through
//! the node's own mempool (which gossips). It stops with the node.

pub mod own_txs;
pub mod registration;
pub mod vrf;

use std::sync::Arc;
use std::time::Duration;

use atoll_consensus::genesis::Genesis;
use atoll_consensus::services::beacon::{self, VrfProve};
use atoll_consensus::services::registry::state::RegistryState;
use atoll_consensus_types::registry::{self, MultiSigned, NODE_SIGNATURE_CONTEXT, Roles};
use atoll_crypto::Hash;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::vrf::VrfSigningKey;
use atoll_types::Namespace;
use atoll_types::cbor;
use atoll_types::signed::SignatureBundle;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::{NodeConfig, Role};
use crate::identity::Identity;
use crate::service::NodeService;

pub use own_txs::OwnTxs;

/// How often the loop looks for a new block.
const POLL: Duration = Duration::from_millis(200);

/// The node's epoch workers (VRF proofs and registrations), running until
/// [`EpochWorkers::stop`].
pub struct EpochWorkers {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What the loop needs, fixed at start.
struct Setup {
    service: Arc<NodeService>,
    own: Arc<OwnTxs>,
    node: PublicKey,
    consensus: atoll_crypto::ed25519::SigningKey,
    p2p: atoll_crypto::ed25519::SigningKey,
    node_key: atoll_crypto::ed25519::SigningKey,
    entity: Option<PublicKey>,
    vrf: VrfSigningKey,
    roles: Roles,
    runtimes: Vec<Namespace>,
    initial_height: u64,
    interval: u64,
}

/// What the loop remembers between blocks.
#[derive(Default)]
struct Memory {
    height: Option<u64>,
    proof: Option<(vrf::Attempt, Hash)>,
    registration: Option<(registration::Attempt, Hash)>,
    registered_since_start: bool,
    last_wait: Option<&'static str>,
}

impl EpochWorkers {
    /// Starts the workers of the node `config` describes.
    pub fn start(
        config: &NodeConfig,
        genesis: &Genesis,
        identity: &Identity,
        service: &Arc<NodeService>,
        own: &Arc<OwnTxs>,
    ) -> Self {
        let mut roles = 0;
        if config.role == Role::Validator {
            roles |= Roles::VALIDATOR.0;
        }
        if !config.runtimes.is_empty() {
            roles |= Roles::COMPUTE.0;
        }
        let setup = Setup {
            service: service.clone(),
            own: own.clone(),
            node: identity.node.public_key(),
            consensus: identity.consensus.clone(),
            p2p: identity.p2p.clone(),
            node_key: identity.node.clone(),
            entity: identity.entity.as_ref().map(|k| k.public_key()),
            vrf: VrfSigningKey::from_seed(&identity.vrf_seed),
            roles: Roles(roles),
            runtimes: config
                .runtimes
                .iter()
                .filter_map(|r| r.id.parse().ok())
                .collect(),
            initial_height: genesis.initial_height,
            interval: genesis.beacon.interval,
        };
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut memory = Memory::default();
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => return,
                }
                setup.step(&mut memory);
            }
        });
        Self { stop, task }
    }

    /// Stops the workers (a submission already made stays in the mempool).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Setup {
    /// One look at the latest block: decide and act, once per new height.
    fn step(&self, m: &mut Memory) {
        let chain = self.service.chain();
        let Ok(Some(height)) = chain.last_height() else {
            return;
        };
        if m.height == Some(height) {
            return;
        }
        m.height = Some(height);
        let Ok(mut view) = chain.latest_view() else {
            return;
        };
        let next_epoch =
            atoll_consensus_types::epoch_at(self.initial_height, self.interval, height + 1);
        let (on_chain, frozen_until, params, known_runtimes) = {
            let st = RegistryState::new(&mut view);
            let on_chain = st.node(&self.node).ok().flatten();
            let frozen_until = st
                .node_status(&self.node)
                .ok()
                .flatten()
                .map_or(0, |s| s.freeze_end);
            let params = st.parameters().ok();
            let entity = on_chain.as_ref().map(|n| n.entity_id).or(self.entity);
            let known: Vec<Namespace> = self
                .runtimes
                .iter()
                .filter(|id| {
                    st.runtime(id)
                        .ok()
                        .flatten()
                        .is_some_and(|rt| registration::admits(&rt, entity.as_ref()))
                })
                .copied()
                .collect();
            (on_chain, frozen_until, params, known)
        };
        let vrf_state = beacon::vrf_state(&view).ok().flatten();
        // A proof may land a block late: none in an epoch's last two blocks
        // (one landing in the next epoch would be refused, its fee paid).
        let landing_epoch =
            atoll_consensus_types::epoch_at(self.initial_height, self.interval, height + 2);
        self.prove(
            m,
            height,
            landing_epoch,
            vrf_state,
            on_chain.as_ref(),
            frozen_until,
        );
        if let Some(params) = params {
            self.register(
                m,
                height,
                next_epoch,
                params.max_node_expiration,
                on_chain,
                frozen_until,
                known_runtimes,
            );
        }
    }

    fn prove(
        &self,
        m: &mut Memory,
        height: u64,
        next_epoch: atoll_types::Epoch,
        state: Option<beacon::VrfState>,
        on_chain: Option<&registry::Node>,
        frozen_until: u64,
    ) {
        let my_vrf = self.vrf.public_key();
        let eligible = |epoch: u64| {
            on_chain.is_some_and(|n| n.vrf == Some(my_vrf) && n.expiration >= epoch)
                && frozen_until <= epoch
        };
        let situation = vrf::ProveSituation {
            height,
            next_epoch,
            vrf: state.as_ref().map(|s| (s.epoch, s.submit_from)),
            proved: state
                .as_ref()
                .is_some_and(|s| s.betas.contains_key(&self.node)),
            eligible: state.as_ref().is_some_and(|s| eligible(s.epoch.0)),
            last: m.proof.map(|(a, hash)| vrf::Attempt {
                pending: self.own.in_mempool(&hash),
                ..a
            }),
        };
        match vrf::decide(&situation) {
            vrf::ProveAction::Wait(why) => self.note(m, why),
            vrf::ProveAction::Prove(epoch) => {
                let Some(state) = state else { return };
                let (proof, _) = self.vrf.prove(beacon::VRF_CONTEXT, state.alpha.as_bytes());
                let body = match cbor::to_value(&VrfProve { epoch, proof }) {
                    Ok(b) => b,
                    Err(e) => return warn!(error = %e, "cannot encode a VRF proof"),
                };
                match self.own.submit_tx(beacon::methods::VRF_PROVE, body) {
                    Ok(hash) => {
                        info!(epoch = epoch.0, height, "submitted the VRF proof");
                        m.proof = Some((
                            vrf::Attempt {
                                epoch,
                                height,
                                pending: true,
                            },
                            hash,
                        ));
                    }
                    Err(e) => warn!(epoch = epoch.0, error = %e, "the VRF proof was refused"),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &self,
        m: &mut Memory,
        height: u64,
        epoch: atoll_types::Epoch,
        max_node_expiration: u64,
        on_chain: Option<registry::Node>,
        frozen_until: u64,
        runtimes: Vec<Namespace>,
    ) {
        let wanted = registration::Wanted {
            roles: self.roles,
            runtimes,
            vrf: self.vrf.public_key(),
        };
        let entity = on_chain.as_ref().map(|n| n.entity_id).or(self.entity);
        let last = m.registration.map(|(a, hash)| registration::Attempt {
            pending: self.own.in_mempool(&hash),
            ..a
        });
        // The descriptor on chain has the expiration last asked for: it took.
        if let (Some(a), Some(n)) = (last, &on_chain)
            && n.expiration == a.expiration
        {
            m.registered_since_start = true;
        }
        let situation = registration::RegisterSituation {
            height,
            epoch,
            max_node_expiration,
            on_chain: on_chain.clone(),
            frozen: frozen_until > epoch.0,
            entity_known: entity.is_some(),
            wanted: wanted.clone(),
            registered_since_start: m.registered_since_start,
            last,
        };
        let (expiration, reason) = match registration::decide(&situation) {
            registration::RegisterAction::Wait(why) => return self.note(m, why),
            registration::RegisterAction::Register { expiration, reason } => (expiration, reason),
        };
        let Some(entity) = entity else { return };
        let node = registration::descriptor(
            on_chain.as_ref(),
            self.node,
            entity,
            self.consensus.public_key(),
            self.p2p.public_key(),
            &wanted,
            expiration,
        );
        let signed = match self.sign_descriptor(&node) {
            Ok(s) => s,
            Err(e) => return warn!(error = %e, "cannot sign the node descriptor"),
        };
        let body = match cbor::to_value(&signed) {
            Ok(b) => b,
            Err(e) => return warn!(error = %e, "cannot encode the node descriptor"),
        };
        let failures = match last {
            Some(a)
                if on_chain
                    .as_ref()
                    .is_none_or(|n| n.expiration != a.expiration) =>
            {
                a.failures.saturating_add(1)
            }
            _ => 0,
        };
        match self.own.submit_tx(registry::methods::REGISTER_NODE, body) {
            Ok(hash) => {
                info!(
                    ?reason,
                    expiration,
                    epoch = epoch.0,
                    "re-registering the node"
                );
                m.registration = Some((
                    registration::Attempt {
                        expiration,
                        height,
                        pending: true,
                        failures,
                    },
                    hash,
                ));
            }
            Err(e) => warn!(?reason, error = %e, "the node registration was refused"),
        }
    }

    fn sign_descriptor(&self, node: &registry::Node) -> Result<MultiSigned, String> {
        let ctx = Context::new(NODE_SIGNATURE_CONTEXT).map_err(|e| e.to_string())?;
        let raw = cbor::to_vec(node).map_err(|e| e.to_string())?;
        let signatures = [&self.node_key, &self.consensus, &self.p2p]
            .iter()
            .map(|k| SignatureBundle {
                public_key: k.public_key(),
                signature: k.sign(&ctx, &raw),
            })
            .collect();
        Ok(MultiSigned {
            untrusted_raw_value: raw,
            signatures,
        })
    }

    /// Logs why a worker waits, once per reason in a row.
    fn note(&self, m: &mut Memory, why: &'static str) {
        if m.last_wait != Some(why) {
            debug!(why, "epoch worker waits");
            m.last_wait = Some(why);
        }
    }
}

//! The registry service: entities, nodes and runtimes.
//!
//! - An entity registers with a descriptor signed by its key; it needs the
//!   `entity` stake threshold escrowed on its own account.
//! - A node registers with a descriptor signed by every key it names
//!   (identity, consensus, P2P), proving it holds them. Its entity must list
//!   it, its expiration must lie within `max_node_expiration` epochs, each
//!   runtime it serves must admit it (any staked node, or an entity
//!   whitelist with per-role caps), and its entity's escrow must cover the
//!   thresholds of every role. Registrations lapse when they expire: the
//!   stake claim is released and the node is no longer eligible, but the
//!   descriptor stays for `debonding_interval` epochs more, so evidence of
//!   its misbehaviour still slashes its entity while the stake that backed
//!   it cannot have left escrow; then it is removed. Nodes re-register
//!   before they expire (the node's registration worker).
//! - A runtime registers with a descriptor signed by its owning entity and
//!   needs the runtime stake threshold. This is how anyone can launch a
//!   permissionless ParaTime, or a permissioned one by choosing its policy.

pub mod state;

use atoll_consensus_types::registry::*;

use atoll_crypto::Address;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::PublicKey;
use atoll_types::Epoch;
use atoll_types::signed::Signed;

use self::state::RegistryState;
use crate::services::staking::{Staking, check_claims};
use atoll_consensus_types::staking::{self, StakeThreshold, ThresholdKind};
use atoll_state::{Failure, ModuleError, Store};

/// Registry errors, with stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// A malformed or inconsistent descriptor.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A descriptor signature is missing or does not verify.
    #[error("invalid signature: {0}")]
    InvalidSignature(&'static str),
    /// The transaction signer may not register this descriptor.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such entity.
    #[error("entity not registered")]
    NoSuchEntity,
    /// No such node.
    #[error("node not registered")]
    NoSuchNode,
    /// No such runtime.
    #[error("runtime {0} not registered")]
    NoSuchRuntime(String),
    /// The entity still has nodes.
    #[error("entity still has registered nodes")]
    EntityHasNodes,
    /// A runtime's admission policy refuses the node.
    #[error("runtime {0} does not admit this node: {1}")]
    NotAdmitted(String, String),
    /// The node is frozen.
    #[error("node is frozen until epoch {0}")]
    NodeFrozen(u64),
}

impl ModuleError for RegistryError {
    const MODULE: &'static str = MODULE;

    fn code(&self) -> u32 {
        match self {
            Self::InvalidArgument(_) => 1,
            Self::InvalidSignature(_) => 2,
            Self::Forbidden(_) => 3,
            Self::NoSuchEntity => 4,
            Self::NoSuchNode => 5,
            Self::NoSuchRuntime(_) => 6,
            Self::EntityHasNodes => 7,
            Self::NotAdmitted(..) => 8,
            Self::NodeFrozen(_) => 9,
        }
    }
}

impl From<RegistryError> for Failure {
    fn from(e: RegistryError) -> Self {
        Failure::Tx(e.to_tx_error())
    }
}

fn invalid(msg: impl Into<String>) -> Failure {
    RegistryError::InvalidArgument(msg.into()).into()
}

/// The stake claim a registration holds on its entity's escrow.
pub fn entity_claim() -> String {
    "registry.entity".into()
}

/// The claim of a node registration.
pub fn node_claim(node: &PublicKey) -> String {
    format!("registry.node.{}", node.to_base64())
}

/// The claim of a runtime registration.
pub fn runtime_claim(runtime: &atoll_types::Namespace) -> String {
    format!("registry.runtime.{runtime}")
}

/// The registry on one store.
pub struct Registry<'a> {
    store: &'a mut dyn Store,
}

impl<'a> Registry<'a> {
    /// The registry on `store`.
    pub fn new(store: &'a mut dyn Store) -> Self {
        Self { store }
    }

    /// Typed state access.
    pub fn state(&mut self) -> RegistryState<'_> {
        RegistryState::new(&mut *self.store)
    }

    /// `registry.RegisterEntity`.
    pub fn register_entity(
        &mut self,
        signer: &PublicKey,
        signed: &Signed<Entity>,
    ) -> Result<Event, Failure> {
        let ctx = Context::new(ENTITY_SIGNATURE_CONTEXT).map_err(|e| invalid(e.to_string()))?;
        let entity = signed
            .open(&ctx)
            .map_err(|_| RegistryError::InvalidSignature("entity descriptor"))?;
        if signed.signature.public_key != entity.id || &entity.id != signer {
            return Err(RegistryError::Forbidden("an entity registers itself".into()).into());
        }
        let mut nodes = entity.nodes.clone();
        nodes.sort();
        nodes.dedup();
        if nodes.len() != entity.nodes.len() {
            return Err(invalid("entity lists a node twice"));
        }
        let account = Address::from_ed25519(&entity.id);
        Staking::new(&mut *self.store).add_claim(
            &account,
            &entity_claim(),
            vec![StakeThreshold::Global(ThresholdKind::Entity)],
        )?;
        self.state().set_entity(&entity)?;
        Ok(Event::Entity {
            id: entity.id,
            registered: true,
        })
    }

    /// `registry.DeregisterEntity`.
    pub fn deregister_entity(&mut self, signer: &PublicKey) -> Result<Event, Failure> {
        if self.state().entity(signer)?.is_none() {
            return Err(RegistryError::NoSuchEntity.into());
        }
        if self.state().nodes()?.iter().any(|n| &n.entity_id == signer) {
            return Err(RegistryError::EntityHasNodes.into());
        }
        self.state().remove_entity(signer)?;
        Staking::new(&mut *self.store)
            .remove_claim(&Address::from_ed25519(signer), &entity_claim())?;
        Ok(Event::Entity {
            id: *signer,
            registered: false,
        })
    }

    /// `registry.RegisterNode`.
    pub fn register_node(
        &mut self,
        signer: &PublicKey,
        signed: &MultiSigned,
        epoch: Epoch,
        debug: bool,
    ) -> Result<Event, Failure> {
        let node: Node = atoll_types::cbor::from_slice_canonical(&signed.untrusted_raw_value)
            .map_err(|e| invalid(format!("node descriptor: {e}")))?;
        verify_multi(signed, &[node.id, node.consensus.id, node.p2p.id])?;
        if signer != &node.id && signer != &node.entity_id {
            return Err(RegistryError::Forbidden(
                "a node registration is submitted by the node or its entity".into(),
            )
            .into());
        }
        let entity = self
            .state()
            .entity(&node.entity_id)?
            .ok_or(RegistryError::NoSuchEntity)?;
        if !entity.nodes.contains(&node.id) {
            return Err(
                RegistryError::Forbidden("the entity does not list this node".into()).into(),
            );
        }
        let params = self.state().parameters()?;
        if node.expiration <= epoch.0
            || node.expiration > epoch.0.saturating_add(params.max_node_expiration)
        {
            return Err(invalid(format!(
                "expiration {} must lie in epochs {}..={}",
                node.expiration,
                epoch.0.saturating_add(1),
                epoch.0.saturating_add(params.max_node_expiration)
            )));
        }
        if !node.roles.is_valid() {
            return Err(invalid("roles must be a non-empty set of known roles"));
        }
        if let Some(status) = self.state().node_status(&node.id)?
            && status.freeze_end > epoch.0
        {
            return Err(RegistryError::NodeFrozen(status.freeze_end).into());
        }
        // Another node must not already use these consensus or P2P keys.
        for other in self.state().nodes()? {
            if other.id != node.id
                && (other.consensus.id == node.consensus.id || other.p2p.id == node.p2p.id)
            {
                return Err(invalid("consensus or P2P key already used by another node"));
            }
        }
        let mut thresholds = role_thresholds(node.roles);
        for rt in &node.runtimes {
            let runtime = self
                .state()
                .runtime(&rt.id)?
                .ok_or_else(|| RegistryError::NoSuchRuntime(rt.id.to_string()))?;
            self.check_admission(&runtime, &node, epoch)?;
            if let Some(tee) = &rt.tee {
                if tee.hardware != runtime.tee_hardware {
                    return Err(invalid(format!(
                        "runtime {} needs TEE {:?}",
                        rt.id, runtime.tee_hardware
                    )));
                }
                if tee.hardware == TeeHardware::Development && !debug {
                    return Err(invalid(
                        "the development TEE is accepted only on debug networks",
                    ));
                }
            } else if runtime.tee_hardware != TeeHardware::None {
                return Err(invalid(format!("runtime {} needs a TEE capability", rt.id)));
            }
            if runtime.kind == RuntimeKind::Compute && !node.roles.contains(Roles::COMPUTE) {
                return Err(invalid("serving a compute runtime needs the compute role"));
            }
        }
        thresholds.sort();
        Staking::new(&mut *self.store).add_claim(
            &Address::from_ed25519(&node.entity_id),
            &node_claim(&node.id),
            thresholds,
        )?;
        self.state().set_node(&node)?;
        Ok(Event::NodeRegistered {
            id: node.id,
            entity_id: node.entity_id,
            roles: node.roles,
        })
    }

    fn check_admission(
        &mut self,
        runtime: &Runtime,
        node: &Node,
        epoch: Epoch,
    ) -> Result<(), Failure> {
        match &runtime.admission_policy {
            AdmissionPolicy::AnyNode {} => Ok(()),
            AdmissionPolicy::EntityWhitelist { entities } => {
                let Some(limits) = entities.get(&node.entity_id) else {
                    return Err(RegistryError::NotAdmitted(
                        runtime.id.to_string(),
                        "its entity is not on the whitelist".into(),
                    )
                    .into());
                };
                for (role, max) in limits {
                    if !node.roles.contains(*role) {
                        continue;
                    }
                    let others = self
                        .state()
                        .nodes()?
                        .into_iter()
                        .filter(|n| {
                            n.id != node.id
                                && n.expiration >= epoch.0
                                && n.entity_id == node.entity_id
                                && n.roles.contains(*role)
                                && n.runtimes.iter().any(|r| r.id == runtime.id)
                        })
                        .count();
                    if others >= usize::from(*max) {
                        return Err(RegistryError::NotAdmitted(
                            runtime.id.to_string(),
                            format!("its entity already has {others} such nodes (at most {max})"),
                        )
                        .into());
                    }
                }
                Ok(())
            }
        }
    }

    /// `registry.UnfreezeNode`: the entity thaws its node once the freeze ended.
    pub fn unfreeze_node(
        &mut self,
        signer: &PublicKey,
        body: &UnfreezeNode,
        epoch: Epoch,
    ) -> Result<Event, Failure> {
        let node = self
            .state()
            .node(&body.node_id)?
            .ok_or(RegistryError::NoSuchNode)?;
        if &node.entity_id != signer {
            return Err(
                RegistryError::Forbidden("only the node's entity may unfreeze it".into()).into(),
            );
        }
        let mut status = self.state().node_status(&node.id)?.unwrap_or_default();
        if status.freeze_end > epoch.0 {
            return Err(RegistryError::NodeFrozen(status.freeze_end).into());
        }
        status.freeze_end = 0;
        self.state().set_node_status(&node.id, &status)?;
        Ok(Event::NodeUnfrozen { id: node.id })
    }

    /// `registry.RegisterRuntime`.
    pub fn register_runtime(
        &mut self,
        signer: &PublicKey,
        signed: &Signed<Runtime>,
        debug: bool,
    ) -> Result<Event, Failure> {
        let params = self.state().parameters()?;
        if params.disable_runtime_registration {
            return Err(RegistryError::Forbidden("runtime registration is disabled".into()).into());
        }
        let ctx = Context::new(RUNTIME_SIGNATURE_CONTEXT).map_err(|e| invalid(e.to_string()))?;
        let runtime = signed
            .open(&ctx)
            .map_err(|_| RegistryError::InvalidSignature("runtime descriptor"))?;
        if &runtime.entity_id != signer || signed.signature.public_key != *signer {
            return Err(RegistryError::Forbidden(
                "a runtime is registered by its owning entity".into(),
            )
            .into());
        }
        if self.state().entity(signer)?.is_none() {
            return Err(RegistryError::NoSuchEntity.into());
        }
        validate_runtime(&runtime, debug)?;
        if let Some(existing) = self.state().runtime(&runtime.id)? {
            if existing.entity_id != runtime.entity_id {
                return Err(RegistryError::Forbidden(
                    "the runtime belongs to another entity".into(),
                )
                .into());
            }
            if existing.kind != runtime.kind || existing.genesis != runtime.genesis {
                return Err(invalid("a runtime's kind and genesis cannot change"));
            }
        }
        let kind = match runtime.kind {
            RuntimeKind::Compute => ThresholdKind::RuntimeCompute,
            RuntimeKind::Keymanager => ThresholdKind::RuntimeKeymanager,
        };
        Staking::new(&mut *self.store).add_claim(
            &Address::from_ed25519(signer),
            &runtime_claim(&runtime.id),
            vec![StakeThreshold::Global(kind)],
        )?;
        self.state().set_runtime(&runtime)?;
        Ok(Event::Runtime { id: runtime.id })
    }

    /// Lapses every node whose registration expired before `epoch`: releases
    /// its stake claim (once, with a `NodeExpired` event) and keeps the
    /// descriptor, so that the node stays slashable, until
    /// `debonding_interval` epochs after its expiration. Called at each
    /// epoch change.
    pub fn expire_nodes(&mut self, epoch: Epoch) -> Result<Vec<Event>, Failure> {
        let debonding = Staking::new(&mut *self.store)
            .state()
            .parameters()?
            .debonding_interval;
        let mut events = Vec::new();
        for node in self.state().nodes()? {
            match lapse(node.expiration, debonding, epoch) {
                Lapse::Live => continue,
                Lapse::Slashable => {}
                Lapse::Gone => self.state().remove_node(&node.id)?,
            }
            let entity = Address::from_ed25519(&node.entity_id);
            let claim = node_claim(&node.id);
            let claimed = Staking::new(&mut *self.store)
                .state()
                .account(&entity)?
                .escrow
                .stake_accumulator
                .claims
                .contains_key(&claim);
            if claimed {
                Staking::new(&mut *self.store).remove_claim(&entity, &claim)?;
                events.push(Event::NodeExpired { id: node.id });
            }
        }
        Ok(events)
    }

    /// Freezes a node until `until` (after slashing).
    pub fn freeze_node(&mut self, node: &PublicKey, until: Epoch) -> Result<(), Failure> {
        let mut status = self.state().node_status(node)?.unwrap_or_default();
        status.freeze_end = status.freeze_end.max(until.0);
        self.state().set_node_status(node, &status)
    }
}

/// Where a registration stands at an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    /// Registered and unexpired.
    Live,
    /// Expired less than the debonding interval ago: not eligible, still
    /// slashable.
    Slashable,
    /// Expired longer ago: removed.
    Gone,
}

/// Where a registration expiring at `expiration` stands at `epoch`, with a
/// debonding interval of `debonding` epochs.
pub fn lapse(expiration: u64, debonding: u64, epoch: Epoch) -> Lapse {
    if expiration >= epoch.0 {
        Lapse::Live
    } else if expiration.saturating_add(debonding) >= epoch.0 {
        Lapse::Slashable
    } else {
        Lapse::Gone
    }
}

/// The thresholds a node with `roles` needs.
pub fn role_thresholds(roles: Roles) -> Vec<StakeThreshold> {
    [
        (Roles::VALIDATOR, ThresholdKind::NodeValidator),
        (Roles::COMPUTE, ThresholdKind::NodeCompute),
        (Roles::KEY_MANAGER, ThresholdKind::NodeKeymanager),
        (Roles::OBSERVER, ThresholdKind::NodeObserver),
    ]
    .into_iter()
    .filter(|(r, _)| roles.contains(*r))
    .map(|(_, k)| StakeThreshold::Global(k))
    .collect()
}

fn verify_multi(signed: &MultiSigned, required: &[PublicKey]) -> Result<(), Failure> {
    let ctx = Context::new(NODE_SIGNATURE_CONTEXT).map_err(|e| invalid(e.to_string()))?;
    for key in required {
        let sig = signed
            .signatures
            .iter()
            .find(|s| &s.public_key == key)
            .ok_or(RegistryError::InvalidSignature(
                "a key of the node did not sign its descriptor",
            ))?;
        key.verify(&ctx, &signed.untrusted_raw_value, &sig.signature)
            .map_err(|_| RegistryError::InvalidSignature("node descriptor"))?;
    }
    if signed.signatures.len() > required.len() {
        return Err(RegistryError::InvalidSignature("unexpected extra signatures").into());
    }
    Ok(())
}

/// Checks a runtime descriptor's parameters for consistency.
pub fn validate_runtime(rt: &Runtime, debug: bool) -> Result<(), Failure> {
    let e = &rt.executor;
    if e.group_size == 0 {
        return Err(invalid("executor.group_size must be at least 1"));
    }
    if e.allowed_stragglers >= e.group_size {
        return Err(invalid(
            "executor.allowed_stragglers must be below executor.group_size",
        ));
    }
    if e.round_timeout == 0 {
        return Err(invalid("executor.round_timeout must be at least 1 block"));
    }
    let t = &rt.txn_scheduler;
    if t.max_batch_size == 0 || t.max_batch_size_bytes == 0 {
        return Err(invalid("txn_scheduler batch limits must be positive"));
    }
    if rt.storage.checkpoint_interval > 0 && rt.storage.checkpoint_chunk_size == 0 {
        return Err(invalid(
            "storage.checkpoint_chunk_size must be positive when checkpoints are on",
        ));
    }
    if rt.tee_hardware == TeeHardware::Development && !debug {
        return Err(invalid(
            "the development TEE is accepted only on debug networks",
        ));
    }
    if rt.kind == RuntimeKind::Keymanager && rt.key_manager.is_some() {
        return Err(invalid("a key manager runtime has no key manager"));
    }
    if let AdmissionPolicy::EntityWhitelist { entities } = &rt.admission_policy
        && entities.is_empty()
    {
        return Err(invalid("an entity whitelist must list at least one entity"));
    }
    Ok(())
}

/// Re-exported for the scheduler: whether a node's entity still covers its claims.
pub fn entity_covers_claims(
    staking_params: &staking::Parameters,
    account: &staking::Account,
) -> bool {
    check_claims(staking_params, account).is_ok()
}

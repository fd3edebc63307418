//! The scheduler: at each epoch, the validator set and every runtime's
//! executor committee, drawn from eligible staked nodes with the epoch's
//! entropy; and, within a committee, the rank order that says who proposes
//! each round.
//!
//! Every draw is a pure function of committed state and the beacon's
//! output ([`Sortition`]): with the VRF beacon, nodes are ordered by a hash
//! of each node's own beta ([`beacon::sortition`]), so a proposer that
//! leaves proofs out can only exclude nodes, not reorder the rest; with the
//! insecure beacon (and at genesis), by
//! `SHA-512/256(domain ‖ entropy ‖ runtime ‖ node id)`. Every validator
//! computes the same committees.

pub mod state;
pub mod validators;

use atoll_consensus_types::scheduler::*;

use std::collections::BTreeMap;

use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::{Address, Hash};
use atoll_types::Epoch;

use crate::services::beacon;
use crate::services::registry::{Registry, entity_covers_claims};
use crate::services::staking::Staking;
use atoll_consensus_types::registry::{AdmissionPolicy, Node, Roles, Runtime, TeeHardware};
use atoll_consensus_types::staking;
use atoll_state::{Failure, FatalError, Store};

fn draw_key(domain: &[u8], entropy: &Hash, scope: &[u8], node: &PublicKey) -> Hash {
    Hash::digest_parts(&[domain, entropy.as_bytes(), scope, node.as_bytes()])
}

/// How the nodes of a draw are ordered.
#[derive(Debug, Clone, Copy)]
pub enum Sortition<'a> {
    /// By the epoch's entropy (genesis, the insecure beacon).
    Entropy(&'a Hash),
    /// By each node's own VRF beta; nodes without one are not drawn.
    Betas {
        /// The epoch being elected.
        epoch: Epoch,
        /// The betas proved in the finished epoch.
        betas: &'a BTreeMap<PublicKey, Hash>,
    },
}

impl Sortition<'_> {
    /// `node`'s key in a draw of `domain` within `scope`, or `None` when the
    /// node may not be drawn.
    pub fn key(&self, domain: &[u8], scope: &[u8], node: &PublicKey) -> Option<Hash> {
        match self {
            Self::Entropy(entropy) => Some(draw_key(domain, entropy, scope, node)),
            Self::Betas { epoch, betas } => betas
                .get(node)
                .map(|beta| beacon::sortition(domain, *epoch, scope, beta)),
        }
    }

    /// The entropy a committee records (it orders proposers per round): the
    /// epoch's entropy, or with betas a hash of the members' own betas in
    /// member order, which nodes outside the committee cannot change.
    fn committee_entropy(&self, runtime: &Runtime, members: &[Member]) -> Hash {
        match self {
            Self::Entropy(entropy) => **entropy,
            Self::Betas { epoch, betas } => {
                let mut parts: Vec<&[u8]> = vec![b"atoll/scheduler: committee entropy"];
                let epoch_bytes = epoch.0.to_be_bytes();
                parts.push(&epoch_bytes);
                parts.push(runtime.id.as_bytes());
                for m in members {
                    if let Some(beta) = betas.get(&m.node_id) {
                        parts.push(m.node_id.as_bytes());
                        parts.push(beta.as_bytes());
                    }
                }
                Hash::digest_parts(&parts)
            }
        }
    }
}

/// Elects the validator set from registered validator nodes whose entities'
/// escrow covers their claims (gathered here from state; the choice itself
/// is [`validators::choose_validators`]).
pub fn elect_validators(
    store: &mut dyn Store,
    params: &Parameters,
    epoch: Epoch,
    entropy: &Hash,
) -> Result<Vec<Validator>, FatalError> {
    let staking_params = Staking::new(&mut *store).state().parameters()?;
    let nodes = eligible_nodes(store, epoch, &staking_params)?;
    // entity -> its validator nodes, keyed by their draw order.
    let mut by_entity: BTreeMap<PublicKey, Vec<(Hash, Node)>> = BTreeMap::new();
    for node in nodes
        .into_iter()
        .filter(|n| n.roles.contains(Roles::VALIDATOR))
    {
        let key = draw_key(b"atoll/scheduler: validator", entropy, &[], &node.id);
        by_entity
            .entry(node.entity_id)
            .or_default()
            .push((key, node));
    }
    let mut candidates = Vec::with_capacity(by_entity.len());
    for (entity, mut nodes) in by_entity {
        nodes.sort_by_key(|a| a.0);
        let stake = Staking::new(&mut *store)
            .state()
            .account(&Address::from_ed25519(&entity))?
            .escrow
            .active
            .balance;
        candidates.push(validators::Candidate {
            entity,
            stake,
            tie: draw_key(b"atoll/scheduler: entity", entropy, &[], &entity),
            nodes: nodes
                .into_iter()
                .map(|(_, n)| (n.id, n.consensus.id))
                .collect(),
        });
    }
    Ok(validators::choose_validators(params, candidates))
}

/// Nodes that may be elected in `epoch`: registered, not expired, not
/// frozen, and backed by enough stake.
fn eligible_nodes(
    store: &mut dyn Store,
    epoch: Epoch,
    staking_params: &staking::Parameters,
) -> Result<Vec<Node>, FatalError> {
    let nodes = Registry::new(&mut *store).state().nodes()?;
    let mut out = Vec::new();
    for node in nodes {
        if node.expiration < epoch.0 {
            continue;
        }
        let frozen = Registry::new(&mut *store)
            .state()
            .node_status(&node.id)?
            .is_some_and(|s| s.freeze_end > epoch.0);
        if frozen {
            continue;
        }
        let acct = Staking::new(&mut *store)
            .state()
            .account(&Address::from_ed25519(&node.entity_id))?;
        if !entity_covers_claims(staking_params, &acct) {
            continue;
        }
        out.push(node);
    }
    Ok(out)
}

/// Draws `runtime`'s executor committee for `epoch`, or `None` when too few
/// eligible nodes serve it (the runtime then skips the epoch). With
/// [`Sortition::Betas`], only nodes that proved are candidates.
pub fn elect_committee(
    store: &mut dyn Store,
    runtime: &Runtime,
    epoch: Epoch,
    order: Sortition<'_>,
) -> Result<Option<Committee>, FatalError> {
    let staking_params = Staking::new(&mut *store).state().parameters()?;
    let candidates: Vec<Node> = eligible_nodes(store, epoch, &staking_params)?
        .into_iter()
        .filter(|n| n.roles.contains(Roles::COMPUTE))
        .filter(|n| {
            n.runtimes.iter().any(|r| {
                r.id == runtime.id
                    && (runtime.tee_hardware == TeeHardware::None
                        || r.tee
                            .as_ref()
                            .is_some_and(|t| t.hardware == runtime.tee_hardware))
            })
        })
        .filter(|n| match &runtime.admission_policy {
            AdmissionPolicy::AnyNode {} => true,
            AdmissionPolicy::EntityWhitelist { entities } => entities.contains_key(&n.entity_id),
        })
        .collect();

    let e = &runtime.executor;
    let per_entity = if e.max_nodes_per_entity == 0 {
        usize::MAX
    } else {
        usize::from(e.max_nodes_per_entity)
    };
    let workers = draw(
        b"atoll/scheduler: worker",
        &order,
        runtime,
        &candidates,
        per_entity,
        &[],
    );
    if workers.len() < usize::from(e.group_size) {
        return Ok(None);
    }
    let workers: Vec<PublicKey> = workers
        .into_iter()
        .take(usize::from(e.group_size))
        .collect();
    // Backups come from nodes that are not workers when there are enough;
    // otherwise a worker may also be a backup, as in Oasis.
    let mut backups = draw(
        b"atoll/scheduler: backup",
        &order,
        runtime,
        &candidates,
        per_entity,
        &workers,
    );
    if backups.len() < usize::from(e.group_backup_size) {
        backups = draw(
            b"atoll/scheduler: backup",
            &order,
            runtime,
            &candidates,
            per_entity,
            &[],
        );
    }
    if backups.len() < usize::from(e.group_backup_size) {
        return Ok(None);
    }
    let mut members: Vec<Member> = workers
        .into_iter()
        .map(|node_id| Member {
            node_id,
            role: Role::Worker,
        })
        .collect();
    members.extend(
        backups
            .into_iter()
            .take(usize::from(e.group_backup_size))
            .map(|node_id| Member {
                node_id,
                role: Role::BackupWorker,
            }),
    );
    let entropy = order.committee_entropy(runtime, &members);
    Ok(Some(Committee {
        runtime: runtime.id,
        epoch,
        members,
        entropy,
    }))
}

/// Candidates (minus `exclude`) in draw order, at most `per_entity` per entity.
fn draw(
    domain: &[u8],
    order: &Sortition<'_>,
    runtime: &Runtime,
    candidates: &[Node],
    per_entity: usize,
    exclude: &[PublicKey],
) -> Vec<PublicKey> {
    let mut keyed: Vec<(Hash, &Node)> = candidates
        .iter()
        .filter(|n| !exclude.contains(&n.id))
        .filter_map(|n| Some((order.key(domain, runtime.id.as_bytes(), &n.id)?, n)))
        .collect();
    keyed.sort_by_key(|a| a.0);
    let mut taken: BTreeMap<PublicKey, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (_, n) in keyed {
        let count = taken.entry(n.entity_id).or_insert(0);
        if *count < per_entity {
            *count += 1;
            out.push(n.id);
        }
    }
    out
}

/// Runs the elections for `epoch` and stores the results: the validator set
/// (which the engine applies from the next height, tie-broken by `entropy`)
/// and each runtime's committee, drawn in `order`.
pub fn on_epoch(
    store: &mut dyn Store,
    epoch: Epoch,
    entropy: &Hash,
    order: Sortition<'_>,
) -> Result<(), Failure> {
    let params = state::SchedulerState::new(&mut *store).parameters()?;
    let validators = elect_validators(store, &params, epoch, entropy)?;
    if !validators.is_empty() {
        state::SchedulerState::new(&mut *store).set_validators(&validators)?;
    }
    let runtimes = Registry::new(&mut *store).state().runtimes()?;
    for runtime in runtimes {
        let committee = elect_committee(store, &runtime, epoch, order)?;
        let mut st = state::SchedulerState::new(&mut *store);
        match committee {
            Some(c) => st.set_committee(&c)?,
            None => st.remove_committee(&runtime.id)?,
        }
    }
    Ok(())
}

/// An epoch whose entropy is not trusted (too few VRF proofs): nothing is
/// elected. The validator set stays as it is, and every runtime keeps its
/// committee (same members, same order) for `epoch` too, so ParaTimes keep
/// running; a runtime that had no committee still has none. Members that
/// lapsed or were frozen meanwhile stay in the kept committee until the next
/// strong epoch (their commitments are still checked against their keys, and
/// a lapsed node stays slashable).
pub fn keep_epoch(store: &mut dyn Store, epoch: Epoch) -> Result<(), Failure> {
    let runtimes = Registry::new(&mut *store).state().runtimes()?;
    let mut st = state::SchedulerState::new(&mut *store);
    for runtime in runtimes {
        if let Some(mut c) = st.committee(&runtime.id)? {
            c.epoch = epoch;
            st.set_committee(&c)?;
        }
    }
    Ok(())
}

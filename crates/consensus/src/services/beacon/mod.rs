//! Epoch time and randomness.
//!
//! An epoch is `interval` blocks. Each epoch's entropy seeds the elections.
//! Two backends:
//!
//! - **`vrf`** (real networks): each epoch has a public `alpha`. From
//!   `proof_delay` blocks into the epoch, every registered, unexpired,
//!   unfrozen node with a VRF key may submit `beacon.VRFProve`, a VRF proof
//!   over `alpha` (the node's own worker does it: `atoll_node::workers`);
//!   consensus checks it and records the node's `beta`. At the epoch's end
//!   ([`finish_vrf_epoch`]) the next alpha is chained from all betas, and if
//!   at least `alpha_hq_threshold` nodes proved, the committees of the next
//!   epoch are drawn by [`sortition`]: each node's place follows from its
//!   *own* beta only, so a proposer that leaves proofs out of its blocks can
//!   exclude those nodes but cannot reorder the others. Nodes that did not
//!   prove are not eligible for the next epoch's committees. With too few
//!   proofs the previous committees and validator set are kept for one more
//!   epoch (see `scheduler::keep_epoch`).
//! - **`insecure`** (debug networks only): entropy from the previous block's
//!   hash, which a proposer can bias. `genesis check` refuses it elsewhere.

use std::collections::BTreeMap;

use atoll_crypto::Hash;
use atoll_crypto::context::ChainContext;
use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::vrf::VrfProof;
use atoll_types::Epoch;
use serde::{Deserialize, Serialize};

use crate::services::registry::Registry;
use atoll_state::{Failure, FatalError, ModuleError, Store, StoreExt};

/// The module name.
pub const MODULE: &str = "beacon";

/// The VRF context of beacon proofs.
pub const VRF_CONTEXT: &[u8] = b"atoll/beacon: vrf proof";

/// Method names.
pub mod methods {
    /// `beacon.VRFProve`
    pub const VRF_PROVE: &str = "beacon.VRFProve";
}

const VRF_STATE: u8 = 0x40;

/// Which randomness backend a network uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Entropy from block hashes: biasable by proposers, debug networks only.
    #[default]
    Insecure,
    /// Entropy from nodes' VRF proofs.
    Vrf,
}

/// Parameters of the VRF backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfParameters {
    /// Blocks into an epoch before proofs are accepted (lets every node see `alpha`).
    pub proof_delay: u64,
    /// Fewest proofs for the entropy to count.
    pub alpha_hq_threshold: u64,
    /// Gas of `beacon.VRFProve`.
    pub gas_vrf_prove: u64,
}

impl Default for VrfParameters {
    fn default() -> Self {
        Self {
            proof_delay: 5,
            alpha_hq_threshold: 3,
            gas_vrf_prove: 1000,
        }
    }
}

/// Body of `beacon.VRFProve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfProve {
    /// The epoch proved for (must be the current one).
    pub epoch: Epoch,
    /// The proof over the epoch's alpha.
    pub proof: VrfProof,
}

/// The VRF backend's state for the current epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfState {
    /// The epoch.
    pub epoch: Epoch,
    /// Its public input.
    pub alpha: Hash,
    /// First height at which proofs are accepted.
    pub submit_from: u64,
    /// Betas proved so far, by node.
    #[serde(default)]
    pub betas: BTreeMap<PublicKey, Hash>,
}

/// Beacon errors, with stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    /// The network does not use the VRF backend.
    #[error("this network's beacon does not take VRF proofs")]
    NotVrf,
    /// The proof is for another epoch, or too early in this one.
    #[error("proof not accepted now: {0}")]
    WrongTime(&'static str),
    /// The signer is not a registered node with a VRF key.
    #[error("signer is not a registered node with a VRF key")]
    NotANode,
    /// The node already proved this epoch.
    #[error("node already proved this epoch")]
    AlreadyProved,
    /// The proof does not verify.
    #[error("VRF proof does not verify")]
    BadProof,
    /// The node is frozen.
    #[error("the node is frozen")]
    Frozen,
}

impl ModuleError for BeaconError {
    const MODULE: &'static str = MODULE;

    fn code(&self) -> u32 {
        match self {
            Self::NotVrf => 1,
            Self::WrongTime(_) => 2,
            Self::NotANode => 3,
            Self::AlreadyProved => 4,
            Self::BadProof => 5,
            Self::Frozen => 6,
        }
    }
}

impl From<BeaconError> for Failure {
    fn from(e: BeaconError) -> Self {
        Failure::Tx(e.to_tx_error())
    }
}

/// The entropy of the first epoch, before any block exists.
pub fn genesis_entropy(chain: &ChainContext) -> Hash {
    Hash::digest_parts(&[b"atoll/beacon: genesis", chain.as_str().as_bytes()])
}

/// The insecure backend's entropy for `epoch`, from the hash of the block
/// before the epoch's first block.
pub fn insecure_entropy(chain: &ChainContext, epoch: Epoch, prev_block_hash: &Hash) -> Hash {
    Hash::digest_parts(&[
        b"atoll/beacon: insecure",
        chain.as_str().as_bytes(),
        &epoch.0.to_be_bytes(),
        prev_block_hash.as_bytes(),
    ])
}

/// The public VRF input of `epoch`, chained from the entropy in force.
pub fn alpha(chain: &ChainContext, epoch: Epoch, entropy: &Hash) -> Hash {
    Hash::digest_parts(&[
        b"atoll/beacon: vrf alpha",
        chain.as_str().as_bytes(),
        &epoch.0.to_be_bytes(),
        entropy.as_bytes(),
    ])
}

/// Reads the VRF state.
pub fn vrf_state(store: &dyn Store) -> Result<Option<VrfState>, FatalError> {
    store.get_typed(&[VRF_STATE])
}

/// Starts epoch `epoch` of the VRF backend at `height`.
pub fn start_vrf_epoch(
    store: &mut dyn Store,
    chain: &ChainContext,
    epoch: Epoch,
    entropy: &Hash,
    height: u64,
    params: &VrfParameters,
) -> Result<(), FatalError> {
    store.put_typed(
        &[VRF_STATE],
        &VrfState {
            epoch,
            alpha: alpha(chain, epoch, entropy),
            submit_from: height.saturating_add(params.proof_delay),
            betas: BTreeMap::new(),
        },
    )
}

/// What a finished VRF epoch yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrfOutcome {
    /// The input of the next epoch's alpha: a hash over the finished
    /// alpha and every `(node, beta)` pair in key order (as Oasis chains
    /// its alpha). Also the validator election's tie-break entropy.
    pub entropy: Hash,
    /// Each proving node's beta: the committees' sortition input.
    pub betas: BTreeMap<PublicKey, Hash>,
    /// Whether at least `alpha_hq_threshold` nodes proved: only then are
    /// committees elected from the betas.
    pub strong: bool,
}

/// The outcome of the finished VRF epoch (`None` when the network has no
/// VRF state).
pub fn finish_vrf_epoch(
    store: &dyn Store,
    params: &VrfParameters,
) -> Result<Option<VrfOutcome>, FatalError> {
    Ok(vrf_state(store)?.map(|state| outcome(&state, params)))
}

/// The pure part of [`finish_vrf_epoch`].
pub fn outcome(state: &VrfState, params: &VrfParameters) -> VrfOutcome {
    let mut parts: Vec<&[u8]> = vec![b"atoll/beacon: vrf entropy", state.alpha.as_bytes()];
    for (node, beta) in &state.betas {
        parts.push(node.as_bytes());
        parts.push(beta.as_bytes());
    }
    VrfOutcome {
        entropy: Hash::digest_parts(&parts),
        betas: state.betas.clone(),
        strong: state.betas.len() as u64 >= params.alpha_hq_threshold.max(1),
    }
}

/// A node's sortition string for one draw: `domain` names the committee
/// kind and role, `scope` the runtime. It depends on the node's own beta
/// and on nothing another node or a proposer chooses, so leaving other
/// proofs out of the chain cannot change this node's place relative to the
/// nodes that remain.
pub fn sortition(domain: &[u8], epoch: Epoch, scope: &[u8], beta: &Hash) -> Hash {
    Hash::digest_parts(&[
        b"atoll/beacon: vrf sortition",
        domain,
        &epoch.0.to_be_bytes(),
        scope,
        beta.as_bytes(),
    ])
}

/// `beacon.VRFProve`.
pub fn vrf_prove(
    store: &mut dyn Store,
    signer: &PublicKey,
    body: &VrfProve,
    height: u64,
) -> Result<(), Failure> {
    let Some(mut state) = vrf_state(store)? else {
        return Err(BeaconError::NotVrf.into());
    };
    if body.epoch != state.epoch {
        return Err(BeaconError::WrongTime("proof for another epoch").into());
    }
    if height < state.submit_from {
        return Err(BeaconError::WrongTime("proofs open proof_delay blocks into the epoch").into());
    }
    let node = Registry::new(&mut *store)
        .state()
        .node(signer)?
        .ok_or(BeaconError::NotANode)?;
    let vrf_key = node.vrf.ok_or(BeaconError::NotANode)?;
    // A lapsed registration (kept only so that it stays slashable) or a
    // frozen node takes no part in the next elections.
    if node.expiration < state.epoch.0 {
        return Err(BeaconError::NotANode.into());
    }
    let frozen = Registry::new(&mut *store)
        .state()
        .node_status(signer)?
        .is_some_and(|s| s.freeze_end > state.epoch.0);
    if frozen {
        return Err(BeaconError::Frozen.into());
    }
    if state.betas.contains_key(signer) {
        return Err(BeaconError::AlreadyProved.into());
    }
    let beta = vrf_key
        .verify(VRF_CONTEXT, state.alpha.as_bytes(), &body.proof)
        .map_err(|_| BeaconError::BadProof)?;
    state.betas.insert(*signer, Hash(beta));
    Ok(store.put_typed(&[VRF_STATE], &state)?)
}

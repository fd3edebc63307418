//! Registry descriptors: entities, nodes and runtimes.

use std::collections::BTreeMap;

use atoll_crypto::{Hash, ed25519::PublicKey, x25519};
use atoll_types::Namespace;
use serde::{Deserialize, Serialize};

/// An entity: the staking identity that owns nodes and runtimes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Descriptor version.
    pub v: u16,
    /// The entity's public key (its account is the address of this key).
    pub id: PublicKey,
    /// Nodes the entity vouches for; a node can only register if listed here.
    #[serde(default)]
    pub nodes: Vec<PublicKey>,
}

/// Node roles, a bitmask as in Oasis.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Roles(pub u32);

impl Roles {
    /// Runs runtime batches in executor committees.
    pub const COMPUTE: Roles = Roles(1 << 0);
    /// Follows the chain without taking part.
    pub const OBSERVER: Roles = Roles(1 << 1);
    /// Serves a key manager runtime.
    pub const KEY_MANAGER: Roles = Roles(1 << 2);
    /// Takes part in consensus.
    pub const VALIDATOR: Roles = Roles(1 << 3);
    /// All defined roles.
    pub const ALL: Roles = Roles(0b1111);

    /// Whether every role in `other` is set.
    pub const fn contains(self, other: Roles) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no role, or an undefined role, is set.
    pub const fn is_valid(self) -> bool {
        self.0 != 0 && self.0 & !Self::ALL.0 == 0
    }
}

/// A semantic version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    /// Major.
    #[serde(default)]
    pub major: u16,
    /// Minor.
    #[serde(default)]
    pub minor: u16,
    /// Patch.
    #[serde(default)]
    pub patch: u16,
}

/// Trusted execution hardware.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeeHardware {
    /// No TEE.
    #[default]
    None,
    /// Intel SGX.
    IntelSgx,
    /// Intel TDX.
    IntelTdx,
    /// The development backend: a plain process attesting with a self-signed
    /// report. Accepted only on debug networks; gives no confidentiality
    /// against the node operator.
    Development,
}

/// A node's TEE capability for one runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityTee {
    /// The hardware.
    pub hardware: TeeHardware,
    /// Runtime attestation key (signs results inside the TEE).
    pub rak: PublicKey,
    /// Runtime encryption key (receives key manager secrets).
    pub rek: x25519::PublicKey,
    /// The attestation (quote or report) binding RAK and REK to the enclave.
    #[serde(with = "serde_bytes")]
    pub attestation: Vec<u8>,
}

/// A runtime a node serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRuntime {
    /// Runtime id.
    pub id: Namespace,
    /// Version the node runs.
    #[serde(default)]
    pub version: Version,
    /// TEE capability, if the runtime runs in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tee: Option<CapabilityTee>,
}

/// Where a key of the node is reachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAddresses {
    /// The key.
    pub id: PublicKey,
    /// Network addresses (`host:port`).
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// A node descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Descriptor version.
    pub v: u16,
    /// The node's identity key.
    pub id: PublicKey,
    /// The entity that owns it.
    pub entity_id: PublicKey,
    /// The epoch after which the registration lapses (nodes re-register).
    pub expiration: u64,
    /// The node's P2P key and addresses.
    pub p2p: KeyAddresses,
    /// The node's consensus key and addresses.
    pub consensus: KeyAddresses,
    /// The node's VRF key (for the beacon and committee elections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrf: Option<atoll_crypto::vrf::VrfPublicKey>,
    /// Runtimes it serves.
    #[serde(default)]
    pub runtimes: Vec<NodeRuntime>,
    /// Roles.
    pub roles: Roles,
    /// Software version string, for operators.
    #[serde(default)]
    pub software_version: String,
}

/// A descriptor signed by several keys (a node proves it holds each of its keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiSigned {
    /// The canonical CBOR of the descriptor.
    #[serde(with = "serde_bytes")]
    pub untrusted_raw_value: Vec<u8>,
    /// One signature per key.
    pub signatures: Vec<atoll_types::signed::SignatureBundle>,
}

/// Runtime kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeKind {
    /// Runs transactions (a ParaTime).
    #[default]
    Compute,
    /// Serves keys to confidential runtimes.
    Keymanager,
}

/// How a runtime's executor committee works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutorParameters {
    /// Primary workers.
    pub group_size: u16,
    /// Backup workers (resolve discrepancies).
    pub group_backup_size: u16,
    /// Workers that may miss a round without a discrepancy.
    pub allowed_stragglers: u16,
    /// Blocks a round may take before it times out.
    pub round_timeout: u64,
    /// Messages a round may emit.
    #[serde(default = "default_max_messages")]
    pub max_messages: u32,
    /// Most nodes of one entity in the committee (0: no limit).
    #[serde(default)]
    pub max_nodes_per_entity: u16,
    /// A worker whose commitments made it into fewer than this percentage
    /// of the epoch's rounds fails liveness (0: not checked).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub min_live_rounds_percent: u8,
    /// A worker that missed more than this percentage of the rounds it was
    /// to propose fails liveness (0: not checked).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub max_missed_proposals_percent: u8,
    /// Liveness is judged only in epochs with at least this many rounds.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub min_live_rounds_eval: u64,
    /// After this many liveness failures (net of live epochs) the node is
    /// also slashed for `runtime-liveness` (0: never slashed).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub max_liveness_fails: u8,
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn default_max_messages() -> u32 {
    128
}

/// How batches are formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnSchedulerParameters {
    /// Most transactions in a batch.
    pub max_batch_size: u64,
    /// Most bytes in a batch.
    pub max_batch_size_bytes: u64,
    /// Milliseconds a proposer waits to fill a batch before proposing it.
    pub batch_flush_timeout_ms: u64,
    /// Milliseconds a backup proposer waits for the primary.
    pub propose_batch_timeout_ms: u64,
}

/// Storage parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageParameters {
    /// Rounds between state checkpoints (0: none).
    pub checkpoint_interval: u64,
    /// Checkpoints kept.
    pub checkpoint_num_kept: u64,
    /// Bytes per checkpoint chunk.
    pub checkpoint_chunk_size: u64,
}

/// Who may serve a runtime: anyone staked (permissionless), or listed
/// entities with a cap on nodes per role (permissioned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionPolicy {
    /// Any node with enough stake.
    AnyNode {},
    /// Only these entities, each with a most number of nodes per role.
    EntityWhitelist {
        /// Entity to its limits (role bitmask to most nodes).
        entities: BTreeMap<PublicKey, BTreeMap<Roles, u16>>,
    },
}

/// A runtime's genesis state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeGenesis {
    /// State root at round `round`.
    pub state_root: Hash,
    /// First round.
    #[serde(default)]
    pub round: u64,
}

/// A runtime descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runtime {
    /// Descriptor version.
    pub v: u16,
    /// Runtime id.
    pub id: Namespace,
    /// The entity that registered it and pays its stake.
    pub entity_id: PublicKey,
    /// Kind.
    pub kind: RuntimeKind,
    /// TEE the runtime requires.
    #[serde(default)]
    pub tee_hardware: TeeHardware,
    /// Key manager runtime, for confidential runtimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<Namespace>,
    /// Executor committee.
    pub executor: ExecutorParameters,
    /// Batching.
    pub txn_scheduler: TxnSchedulerParameters,
    /// Storage.
    pub storage: StorageParameters,
    /// Who may serve it.
    pub admission_policy: AdmissionPolicy,
    /// Initial state.
    #[serde(default)]
    pub genesis: RuntimeGenesis,
}

/// Registry parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// Most epochs ahead a node registration may expire.
    pub max_node_expiration: u64,
    /// Whether new runtimes may be registered by transaction.
    #[serde(default)]
    pub disable_runtime_registration: bool,
    /// Gas costs.
    #[serde(default)]
    pub gas_costs: GasCosts,
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            max_node_expiration: 5,
            disable_runtime_registration: false,
            gas_costs: GasCosts::default(),
        }
    }
}

/// Gas per registry method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasCosts {
    /// `registry.RegisterEntity`.
    pub register_entity: u64,
    /// `registry.DeregisterEntity`.
    pub deregister_entity: u64,
    /// `registry.RegisterNode`.
    pub register_node: u64,
    /// `registry.UnfreezeNode`.
    pub unfreeze_node: u64,
    /// `registry.RegisterRuntime`.
    pub register_runtime: u64,
}

impl Default for GasCosts {
    fn default() -> Self {
        Self {
            register_entity: 1000,
            deregister_entity: 1000,
            register_node: 1000,
            unfreeze_node: 1000,
            register_runtime: 1000,
        }
    }
}

/// A node's standing beyond its descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Frozen (cannot be elected) until this epoch; 0 when not frozen.
    #[serde(default)]
    pub freeze_end: u64,
}

/// Body of `registry.UnfreezeNode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnfreezeNode {
    /// The node to unfreeze.
    pub node_id: PublicKey,
}

/// Events the registry emits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// An entity registered or deregistered.
    Entity {
        /// The entity.
        id: PublicKey,
        /// Registered (true) or deregistered.
        registered: bool,
    },
    /// A node registered (or updated its registration).
    NodeRegistered {
        /// The node.
        id: PublicKey,
        /// Its entity.
        entity_id: PublicKey,
        /// Its roles.
        roles: Roles,
    },
    /// A node's registration lapsed.
    NodeExpired {
        /// The node.
        id: PublicKey,
    },
    /// A node was unfrozen.
    NodeUnfrozen {
        /// The node.
        id: PublicKey,
    },
    /// A runtime registered (or updated its descriptor).
    Runtime {
        /// The runtime.
        id: Namespace,
    },
}

//! A network of nodes on one machine: keys, a debug genesis and one
//! configuration per node on free loopback ports ([`Layout`], from a
//! [`Plan`]); the processes are [`crate::process::NodeProcess`].
//!
//! Layout of a localnet directory:
//! - `genesis.json`;
//! - `<node>/node.toml`, `<node>/identity/`, `<node>/data/`, `<node>/node.log`
//!   for each node (`validator-0`, ..., `full-0`, ..., `compute-0`, ...);
//! - `runtimes/<name>.cbor`: the genesis of each ParaTime.
//!
//! Compute nodes follow consensus as full nodes, are registered at genesis
//! (role compute, with their own staked entity) for the runtimes they serve,
//! and run those runtimes' binaries.
//!
//! Used by `atoll localnet`, the end-to-end tests and the benchmarks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use atoll_consensus::genesis::{Genesis, StakedNode};
use atoll_consensus::services::beacon::{Backend, VrfParameters};
use atoll_consensus_types::registry::{
    self, AdmissionPolicy, ExecutorParameters, Roles, RuntimeKind, StorageParameters, TeeHardware,
    TxnSchedulerParameters,
};
use atoll_consensus_types::staking::{Slash, SlashReason};
use atoll_crypto::{Address, Hash};
use atoll_types::{Namespace, Quantity};

use atoll_node::config::{
    ComputeSection, ConsensusSection, ExplorerSection, GossipSection, GrpcSection, MempoolSection,
    NodeConfig, Role, RpcSection, RuntimeSection,
};
use atoll_node::identity::Identity;

/// Why a localnet could not be made or started.
#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    /// A file or process operation failed.
    #[error("{0}")]
    Io(String),
    /// Keys could not be made.
    #[error(transparent)]
    Identity(#[from] atoll_node::identity::IdentityError),
}

pub(crate) fn io(e: impl std::fmt::Display) -> LocalnetError {
    LocalnetError::Io(e.to_string())
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The chain id.
    pub chain_id: String,
    /// Validators (equal stake).
    pub validators: usize,
    /// Full nodes.
    pub full_nodes: usize,
    /// Accounts funded at genesis.
    pub funded: Vec<(Address, Quantity)>,
    /// Blocks per epoch.
    pub epoch_interval: u64,
    /// Consensus propose timeout (ms).
    pub timeout_propose_ms: u64,
    /// Consensus vote timeouts (ms).
    pub timeout_vote_ms: u64,
    /// How long a proposer with nothing to propose waits for transactions
    /// (ms): an idle network's block interval.
    pub block_time_ms: u64,
    /// Least time between heights (ms).
    pub min_block_time_ms: u64,
    /// Mempool bounds of every node.
    pub mempool: MempoolSection,
    /// Compute nodes.
    pub compute_nodes: usize,
    /// ParaTimes registered at genesis.
    pub runtimes: Vec<RuntimePlan>,
    /// Use the insecure (block-hash) beacon instead of the VRF beacon: a
    /// debug convenience (`atoll localnet --insecure-beacon`).
    pub insecure_beacon: bool,
    /// Epochs a node registration lasts: the registry's
    /// `max_node_expiration`, and the expiration of genesis registrations,
    /// which nodes renew by themselves before it comes.
    pub node_expiration: u64,
    /// The network's minimum gas price (base units per gas); when not zero,
    /// every node's own account is funded with [`NODE_FUNDS`] to pay for
    /// its proofs, registrations and commitments.
    pub min_gas_price: u128,
    /// Whether the genesis is a debug one (development TEEs, test faults,
    /// the insecure beacon). A plan with `debug: false` gets a genesis
    /// `atoll genesis check` accepts for a real network.
    pub debug: bool,
}

/// What each node's own account holds at genesis on a network with a gas
/// price: it pays the fees of the node's own transactions.
pub const NODE_FUNDS: u128 = 1_000_000_000_000;

/// Stake a compute node loses for wrong or equivocating results.
pub const SLASH_AMOUNT: u128 = 100_000;

/// Stake of every localnet node's entity.
pub const NODE_STAKE: u128 = 1_000_000;

/// A ParaTime of a localnet.
#[derive(Debug, Clone)]
pub struct RuntimePlan {
    /// A short name (file names, logs).
    pub name: String,
    /// Its id.
    pub id: Namespace,
    /// The binary compute nodes run (a bare name is looked up next to the
    /// `atoll` binary).
    pub binary: PathBuf,
    /// Arguments before the runtime's own.
    pub args: Vec<String>,
    /// Its genesis (CBOR), handed to the binary.
    pub genesis: Option<Vec<u8>>,
    /// Committee parameters.
    pub executor: ExecutorParameters,
    /// Batch parameters.
    pub txn_scheduler: TxnSchedulerParameters,
    /// Compute nodes (indices) that serve it.
    pub nodes: Vec<usize>,
    /// When set, only the entities of these compute nodes may serve it.
    pub whitelist: Option<Vec<usize>>,
    /// Compute nodes (indices) that run it with a test-only fault.
    pub faulty: Vec<(usize, atoll_compute::executor::Fault)>,
    /// Whether every node serving it also serves its Ethereum JSON-RPC
    /// (`web3`, on a free loopback port; EVM runtimes).
    pub web3: bool,
    /// Empty rounds when idle, this often (ms); see
    /// [`RuntimeSection::idle_round_ms`].
    pub idle_round_ms: Option<u64>,
    /// State checkpoints (default: every 100 rounds, 2 kept, 1 MiB chunks).
    pub storage: StorageParameters,
}

impl RuntimePlan {
    /// The built-in plain ParaTime (`atoll runtime-plain`) served by
    /// `nodes`, every one of them a worker (and a backup), with batches of
    /// up to 10,000 transactions.
    pub fn plain(name: &str, nodes: Vec<usize>) -> Self {
        let mut r = Self::new(name, runtime_id(name), "atoll", nodes);
        r.args = vec!["runtime-plain".into()];
        r
    }

    /// The built-in measurement ParaTime (`atoll runtime-measure`: the
    /// plain ParaTime's modules and `measurement`) served by `nodes`.
    pub fn measure(name: &str, nodes: Vec<usize>) -> Self {
        let mut r = Self::new(name, runtime_id(name), "atoll", nodes);
        r.args = vec!["runtime-measure".into()];
        r
    }

    /// The built-in EVM ParaTime (`atoll runtime-evm`) served by `nodes`,
    /// each of them also serving its Ethereum JSON-RPC.
    pub fn evm(name: &str, nodes: Vec<usize>) -> Self {
        let mut r = Self::new(name, runtime_id(name), "atoll", nodes);
        r.args = vec!["runtime-evm".into()];
        r.web3 = true;
        // Ethereum tools wait for new blocks: make one a second when idle.
        r.idle_round_ms = Some(1_000);
        r
    }

    /// A runtime served by `nodes`, every one of them a worker, with
    /// batches of up to 10,000 transactions.
    pub fn new(name: &str, id: Namespace, binary: &str, nodes: Vec<usize>) -> Self {
        let n = u16::try_from(nodes.len()).unwrap_or(u16::MAX).max(1);
        Self {
            name: name.into(),
            id,
            binary: binary.into(),
            args: Vec::new(),
            genesis: None,
            executor: ExecutorParameters {
                group_size: n,
                group_backup_size: n,
                allowed_stragglers: 0,
                round_timeout: 20,
                max_messages: 128,
                max_nodes_per_entity: 0,
                min_live_rounds_percent: 0,
                max_missed_proposals_percent: 0,
                min_live_rounds_eval: 0,
                max_liveness_fails: 0,
            },
            txn_scheduler: TxnSchedulerParameters {
                max_batch_size: 10_000,
                max_batch_size_bytes: 16 << 20,
                batch_flush_timeout_ms: 100,
                propose_batch_timeout_ms: 1_000,
            },
            nodes,
            whitelist: None,
            faulty: Vec::new(),
            web3: false,
            idle_round_ms: None,
            storage: StorageParameters {
                checkpoint_interval: 100,
                checkpoint_num_kept: 2,
                checkpoint_chunk_size: 1 << 20,
            },
        }
    }
}

/// A runtime id for a localnet: SHA-512/256 of the name, with the first
/// eight bytes zero (the form of Oasis test runtime ids, whose high bytes
/// are flags and zero for a plain compute runtime).
pub fn runtime_id(name: &str) -> Namespace {
    let mut id = Hash::digest_parts(&[b"atoll/localnet: runtime", name.as_bytes()]).0;
    id[..8].fill(0);
    Namespace(id)
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            chain_id: "atoll-localnet".into(),
            validators: 4,
            full_nodes: 0,
            funded: Vec::new(),
            epoch_interval: 100,
            timeout_propose_ms: 1_000,
            timeout_vote_ms: 500,
            block_time_ms: 200,
            min_block_time_ms: 50,
            mempool: MempoolSection::default(),
            compute_nodes: 0,
            runtimes: Vec::new(),
            insecure_beacon: false,
            node_expiration: 4,
            min_gas_price: 0,
            debug: true,
        }
    }
}

/// The VRF beacon's parameters for a localnet of `provers` registered
/// nodes and `interval`-block epochs: proofs open a fifth into the epoch,
/// and a majority of the nodes must prove for committees to be redrawn.
pub fn vrf_parameters(interval: u64, provers: usize) -> VrfParameters {
    VrfParameters {
        proof_delay: (interval / 5).max(1),
        alpha_hq_threshold: (provers as u64).div_ceil(2).max(1),
        ..VrfParameters::default()
    }
}

/// One node of a localnet.
#[derive(Debug, Clone)]
pub struct NodeFiles {
    /// Its name (`validator-0`, `full-0`, ...).
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// Where its API listens.
    pub rpc: SocketAddr,
    /// Where Oasis's gRPC node API (and gRPC-web) listens, when it does.
    pub grpc: Option<SocketAddr>,
}

/// A generated localnet.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The localnet directory.
    pub dir: PathBuf,
    /// Its genesis document.
    pub genesis: Genesis,
    /// Its nodes, validators first.
    pub nodes: Vec<NodeFiles>,
}

/// A loopback TCP port nothing listens on now, taken from 20000-32767:
/// below Linux's ephemeral range (32768-60999), so that the ports the
/// kernel hands out for outgoing connections and `bind(0)` never race a
/// localnet's nodes for it between this check and their start. The starting
/// point differs per process and per call, so localnets started side by side
/// (tests) seldom try the same ports.
pub fn free_port() -> Result<u16, LocalnetError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 20_000;
    const SPAN: u32 = 12_768;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let start = std::process::id()
        .wrapping_mul(7_919)
        .wrapping_add(nanos / 1_000);
    for _ in 0..SPAN {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let Ok(port) = u16::try_from(LOW + start.wrapping_add(step.wrapping_mul(101)) % SPAN)
        else {
            continue;
        };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(LocalnetError::Io(
        "no free loopback port in 20000-32767".into(),
    ))
}

fn multiaddr(port: u16) -> String {
    format!("/ip4/127.0.0.1/tcp/{port}")
}

impl Layout {
    /// Generates keys, genesis and configurations in `dir` (which must not
    /// hold a localnet yet).
    pub fn create(dir: &Path, plan: &Plan) -> Result<Self, LocalnetError> {
        if dir.join("genesis.json").exists() {
            return Err(LocalnetError::Io(format!(
                "{} already holds a localnet",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut genesis = Genesis {
            chain_id: plan.chain_id.clone(),
            initial_height: 1,
            debug: plan.debug,
            ..Genesis::default()
        };
        genesis.beacon.interval = plan.epoch_interval;
        let provers = plan.validators + plan.compute_nodes;
        if plan.insecure_beacon {
            genesis.beacon.backend = Backend::Insecure;
        } else {
            genesis.beacon.backend = Backend::Vrf;
            genesis.beacon.vrf = vrf_parameters(plan.epoch_interval, provers);
        }
        let node_expiration = plan.node_expiration.max(1);
        genesis.registry.parameters.max_node_expiration = node_expiration;
        genesis.consensus.min_gas_price = Quantity(plan.min_gas_price);
        // Compute nodes that lie lose stake and sit out an epoch.
        for reason in [
            SlashReason::RuntimeIncorrectResults,
            SlashReason::RuntimeEquivocation,
        ] {
            genesis.staking.parameters.slashing.insert(
                reason,
                Slash {
                    amount: Quantity(SLASH_AMOUNT),
                    freeze_interval: 1,
                },
            );
        }
        let total = plan.validators + plan.full_nodes + plan.compute_nodes;
        let mut ports = Vec::new();
        for _ in 0..total {
            ports.push((free_port()?, free_port()?, free_port()?, free_port()?));
        }
        let first_compute = plan.validators + plan.full_nodes;
        let runtimes_dir = dir.join("runtimes");
        if !plan.runtimes.is_empty() {
            std::fs::create_dir_all(&runtimes_dir).map_err(io)?;
        }
        let mut compute_entities = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..total {
            let validator = i < plan.validators;
            let compute = i >= first_compute;
            let name = if validator {
                format!("validator-{i}")
            } else if compute {
                format!("compute-{}", i - first_compute)
            } else {
                format!("full-{}", i - plan.validators)
            };
            let node_dir = dir.join(&name);
            std::fs::create_dir_all(&node_dir).map_err(io)?;
            let id = Identity::init(&node_dir.join("identity"), true)?;
            let public = id.public();
            if validator && let Some(entity) = public.entity {
                genesis.add_staked_node(StakedNode {
                    entity,
                    stake: Quantity(NODE_STAKE),
                    node: public.node,
                    consensus: public.consensus,
                    p2p: public.p2p,
                    vrf: Some(public.vrf),
                    roles: Roles::VALIDATOR,
                    runtimes: vec![],
                    expiration: node_expiration,
                });
            }
            let served: Vec<&RuntimePlan> = plan
                .runtimes
                .iter()
                .filter(|r| compute && r.nodes.contains(&(i - first_compute)))
                .collect();
            if compute && let Some(entity) = public.entity {
                compute_entities.push(entity);
                genesis.add_staked_node(StakedNode {
                    entity,
                    stake: Quantity(NODE_STAKE),
                    node: public.node,
                    consensus: public.consensus,
                    p2p: public.p2p,
                    vrf: Some(public.vrf),
                    roles: Roles::COMPUTE,
                    runtimes: served.iter().map(|r| r.id).collect(),
                    expiration: node_expiration,
                });
            }
            if (validator || compute) && plan.min_gas_price > 0 {
                let acct = genesis
                    .staking
                    .ledger
                    .entry(Address::from_ed25519(&public.node))
                    .or_default();
                acct.general.balance.0 = acct.general.balance.0.saturating_add(NODE_FUNDS);
                genesis.staking.total_supply.0 =
                    genesis.staking.total_supply.0.saturating_add(NODE_FUNDS);
            }
            let compute_peers: Vec<usize> = (first_compute..total).filter(|j| *j != i).collect();
            let (_, _, _, compute_port) = ports[i];
            let compute_section = compute.then(|| ComputeSection {
                listen: multiaddr(compute_port),
                peers: compute_peers
                    .iter()
                    .map(|j| multiaddr(ports[*j].3))
                    .collect(),
                storage_peers: compute_peers
                    .iter()
                    .map(|j| format!("http://127.0.0.1:{}", ports[*j].2))
                    .collect(),
            });
            let runtime_sections = served
                .iter()
                .map(|r| -> Result<RuntimeSection, LocalnetError> {
                    Ok(RuntimeSection {
                        id: r.id.to_string(),
                        binary: r.binary.clone(),
                        args: r.args.clone(),
                        genesis: r
                            .genesis
                            .as_ref()
                            .map(|_| PathBuf::from(format!("../runtimes/{}.cbor", r.name))),
                        max_pool_txs: 100_000,
                        debug_fault: r
                            .faulty
                            .iter()
                            .find(|(n, _)| *n == i - first_compute)
                            .map(|(_, f)| *f),
                        web3: r
                            .web3
                            .then(free_port)
                            .transpose()?
                            .map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
                        // A development network: logs of any range, and
                        // browser dApps from any origin.
                        web3_max_log_rounds: 100_000,
                        web3_cors: if r.web3 { vec!["*".into()] } else { Vec::new() },
                        rpc_gas_cap: atoll_node::config::DEFAULT_RPC_GAS_CAP,
                        rpc_evm_timeout_ms: atoll_node::config::DEFAULT_RPC_EVM_TIMEOUT_MS,
                        rpc_batch_request_limit:
                            atoll_node::config::DEFAULT_RPC_BATCH_REQUEST_LIMIT,
                        rpc_batch_response_max_size:
                            atoll_node::config::DEFAULT_RPC_BATCH_RESPONSE_MAX_SIZE,
                        allow_unprotected_txs: false,
                        idle_round_ms: r.idle_round_ms,
                    })
                })
                .collect::<Result<Vec<_>, LocalnetError>>()?;
            let others: Vec<usize> = (0..plan.validators.max(1)).filter(|j| *j != i).collect();
            let (consensus, gossip, rpc, _) = ports[i];
            let grpc = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            let config = NodeConfig {
                data_dir: "data".into(),
                genesis: "../genesis.json".into(),
                identity: "identity".into(),
                role: if validator {
                    Role::Validator
                } else {
                    Role::Full
                },
                moniker: name.clone(),
                log: "info,libp2p=warn,arc_malachitebft=warn".into(),
                consensus: ConsensusSection {
                    listen: multiaddr(consensus),
                    peers: others.iter().map(|j| multiaddr(ports[*j].0)).collect(),
                    timeout_propose_ms: plan.timeout_propose_ms,
                    timeout_prevote_ms: plan.timeout_vote_ms,
                    timeout_precommit_ms: plan.timeout_vote_ms,
                    block_time_ms: plan.block_time_ms,
                    min_block_time_ms: plan.min_block_time_ms,
                    persistent_peers_only: false,
                    max_time_drift_s: atoll_bft::host::DEFAULT_MAX_TIME_DRIFT.as_secs(),
                    debug_byzantine_proposer: None,
                },
                gossip: Some(GossipSection {
                    listen: multiaddr(gossip),
                    peers: others.iter().map(|j| multiaddr(ports[*j].1)).collect(),
                }),
                rpc: Some(RpcSection {
                    listen: SocketAddr::from(([127, 0, 0, 1], rpc)),
                    max_request_bytes: 16 << 20,
                }),
                mempool: plan.mempool.clone(),
                // Oasis's gRPC node API (and gRPC-web) on a port of its own.
                grpc: Some(GrpcSection { listen: grpc }),
                compute: compute_section,
                runtimes: runtime_sections,
                // A development network shows its explorer on every node.
                explorer: Some(ExplorerSection { enabled: true }),
            };
            let config_path = node_dir.join("node.toml");
            std::fs::write(&config_path, config.to_toml().map_err(io)?).map_err(io)?;
            nodes.push(NodeFiles {
                name,
                dir: node_dir,
                config: config_path,
                rpc: SocketAddr::from(([127, 0, 0, 1], rpc)),
                grpc: Some(grpc),
            });
        }
        for (who, amount) in &plan.funded {
            genesis.fund(*who, *amount);
        }
        let owner = genesis
            .registry
            .entities
            .first()
            .map(|e| e.id)
            .ok_or_else(|| LocalnetError::Io("a localnet needs a validator".into()))?;
        // Each EVM ParaTime needs a chain id of its own (replay).
        let duplicates = atoll_web3::duplicate_evm_chain_ids(
            plan.runtimes
                .iter()
                .filter_map(|r| Some((r.name.clone(), r.genesis.as_deref()?))),
        );
        if !duplicates.is_empty() {
            return Err(LocalnetError::Io(duplicates.join("; ")));
        }
        for r in &plan.runtimes {
            if let Some(g) = &r.genesis {
                std::fs::write(runtimes_dir.join(format!("{}.cbor", r.name)), g).map_err(io)?;
            }
            let admission_policy = match &r.whitelist {
                None => AdmissionPolicy::AnyNode {},
                Some(list) => AdmissionPolicy::EntityWhitelist {
                    entities: list
                        .iter()
                        .filter_map(|i| compute_entities.get(*i))
                        // Each compute entity runs one node: the registry
                        // admits at most that many when the node re-registers.
                        .map(|e| {
                            (
                                *e,
                                std::collections::BTreeMap::from([(Roles::COMPUTE, 1u16)]),
                            )
                        })
                        .collect(),
                },
            };
            genesis.registry.runtimes.push(registry::Runtime {
                v: 3,
                id: r.id,
                entity_id: owner,
                kind: RuntimeKind::Compute,
                tee_hardware: TeeHardware::None,
                key_manager: None,
                executor: r.executor.clone(),
                txn_scheduler: r.txn_scheduler.clone(),
                storage: r.storage.clone(),
                admission_policy,
                genesis: registry::RuntimeGenesis {
                    state_root: Hash::empty(),
                    round: 0,
                },
            });
        }
        let problems = genesis.check();
        if !problems.is_empty() {
            return Err(LocalnetError::Io(format!(
                "generated genesis: {problems:?}"
            )));
        }
        std::fs::write(dir.join("genesis.json"), genesis.to_json().map_err(io)?).map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            genesis,
            nodes,
        })
    }

    /// Reads a localnet generated earlier.
    pub fn load(dir: &Path) -> Result<Self, LocalnetError> {
        let genesis = atoll_node::load_genesis(&dir.join("genesis.json")).map_err(io)?;
        let mut nodes = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("node.toml").exists())
            .collect();
        // Validators first, then full nodes, then compute nodes, each by index.
        entries.sort_by_key(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (kind, index) = name.rsplit_once('-').unwrap_or((&name, "0"));
            let rank = match kind {
                "validator" => 0,
                "full" => 1,
                _ => 2,
            };
            (rank, index.parse::<usize>().unwrap_or(0))
        });
        for node_dir in entries {
            let config_path = node_dir.join("node.toml");
            let config = NodeConfig::load(&config_path).map_err(io)?;
            let rpc = config.rpc.as_ref().map(|r| r.listen).ok_or_else(|| {
                LocalnetError::Io(format!("{} has no [rpc]", config_path.display()))
            })?;
            nodes.push(NodeFiles {
                name: config.moniker.clone(),
                dir: node_dir,
                grpc: config.grpc.as_ref().map(|g| g.listen),
                config: config_path,
                rpc,
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            genesis,
            nodes,
        })
    }
}

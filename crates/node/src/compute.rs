//! The compute node: the ParaTimes a node serves (`[[runtime]]` in
//! `node.toml`), each in its own process under a runtime host, with its
//! storage, transaction pool and executor worker ([`atoll_compute`]).
//!
//! - **Gossip.** One libp2p gossip swarm (`[compute] listen`/`peers`), topic
//!   `atoll/compute/v1/<chain context>`, carries every runtime's
//!   transactions and batch proposals ([`ComputeMessage`]).
//! - **Storage sync.** A round this node did not compute (a backup outside
//!   a discrepancy, a node that was down or joined later) is fetched from
//!   `[compute] storage_peers` with `runtime_getRound` and checked against
//!   the header consensus finalized. A node more than `checkpoint_interval`
//!   rounds behind first restores a checkpoint from the same peers
//!   (`runtime_getCheckpoints`, `runtime_getCheckpointChunk`), checked
//!   against the past root consensus recorded for its round.
//! - **Commitments** are consensus transactions signed by the node key
//!   (`roothash.ExecutorCommit`), admitted to this node's mempool and
//!   gossiped like any other.
//! - **Runtime context.** Every call's `BatchContext::extra` is the runtime
//!   ABI's `RuntimeContext` (`{"consensus_chain_context": <chain
//!   context>}`): what the runtime needs to check transaction signatures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use atoll_compute::checkpoint::{CheckpointInfo, CheckpointPolicy};
use atoll_compute::client::{QueryError, QueryLimits};
use atoll_compute::executor::{ComputeMessage, Worker, WorkerConfig, first_header};
use atoll_compute::ports::{BoxFuture as PeerFuture, PeerPort};
use atoll_compute::storage::{RoundRecord, RuntimeStorage, StateAtError};
use atoll_compute::txpool::PoolLimits;
use atoll_consensus::genesis::Genesis;
use atoll_consensus::services::registry::Registry;
use atoll_crypto::Hash;
use atoll_rpc::runtime::BoxFuture;
use atoll_rpc::{
    ApiError, CheckpointSummary, RuntimeApi, RuntimeBlock, RuntimeRpcClient as _, RuntimeTx,
    SubmitResult, Submitted, TxLocation,
};
use atoll_runtime_host::host::{HostError, RuntimeConfig, RuntimeHost};
use atoll_types::Namespace;
use atoll_types::cbor::{self, Value as Cbor};
use base64::Engine as _;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::{NodeConfig, RuntimeSection};
use crate::identity::Identity;
use crate::service::NodeService;
use crate::workers::OwnTxs;
use crate::{NodeError, multiaddr_p2p};

/// Largest compute gossip message (a proposal carries a whole batch).
pub const MAX_COMPUTE_MESSAGE: usize = 16 << 20;

/// Gossiped messages being checked (or waiting to be) from one peer at
/// most; beyond, the peer's messages are ignored until some are done.
pub const GOSSIP_CHECKS_PER_PEER: usize = 64;
/// ... and their bytes.
pub const GOSSIP_BYTES_PER_PEER: usize = 2 * MAX_COMPUTE_MESSAGE;
/// Gossiped messages being checked or waiting, from all peers together.
pub const GOSSIP_CHECKS: usize = 256;
/// ... and their bytes.
pub const GOSSIP_BYTES: usize = 8 * MAX_COMPUTE_MESSAGE;
/// Runtime checks of gossiped transactions run at once (the others wait).
const GOSSIP_CHECKS_RUNNING: usize = 4;

/// The runtimes this node serves.
pub struct Compute {
    /// Every runtime of `node.toml`: running, or waiting for consensus to
    /// register it.
    workers: RwLock<BTreeMap<Namespace, Served>>,
    starter: Arc<Starter>,
    link: Arc<PeerLink>,
    quota: Arc<Mutex<GossipQuota>>,
    running: Arc<tokio::sync::Semaphore>,
    /// Runtimes whose clients may send pre-EIP-155 Ethereum transactions
    /// (`allow_unprotected_txs`).
    unprotected_ok: std::collections::BTreeSet<Namespace>,
}

/// What peers have in the gossip check queue.
#[derive(Default)]
struct GossipQuota {
    total: (usize, usize),
    per_peer: BTreeMap<atoll_p2p::PeerId, (usize, usize)>,
}

/// A message's place in the check queue, given back when it is judged.
struct QuotaSlot {
    quota: Arc<Mutex<GossipQuota>>,
    peer: atoll_p2p::PeerId,
    bytes: usize,
}

impl GossipQuota {
    fn take(
        quota: &Arc<Mutex<GossipQuota>>,
        peer: atoll_p2p::PeerId,
        bytes: usize,
    ) -> Option<QuotaSlot> {
        let mut q = quota.lock();
        let mine = q.per_peer.get(&peer).copied().unwrap_or_default();
        if mine.0 >= GOSSIP_CHECKS_PER_PEER
            || mine.1.saturating_add(bytes) > GOSSIP_BYTES_PER_PEER
            || q.total.0 >= GOSSIP_CHECKS
            || q.total.1.saturating_add(bytes) > GOSSIP_BYTES
        {
            return None;
        }
        q.per_peer.insert(peer, (mine.0 + 1, mine.1 + bytes));
        q.total = (q.total.0 + 1, q.total.1 + bytes);
        Some(QuotaSlot {
            quota: quota.clone(),
            peer,
            bytes,
        })
    }
}

impl Drop for QuotaSlot {
    fn drop(&mut self) {
        let mut q = self.quota.lock();
        q.total = (
            q.total.0.saturating_sub(1),
            q.total.1.saturating_sub(self.bytes),
        );
        if let Some(mine) = q.per_peer.get_mut(&self.peer) {
            *mine = (mine.0.saturating_sub(1), mine.1.saturating_sub(self.bytes));
            if mine.0 == 0 {
                q.per_peer.remove(&self.peer);
            }
        }
    }
}

struct PeerLink {
    gossip: Mutex<Option<atoll_p2p::Gossip>>,
    storage_peers: Vec<jsonrpsee::http_client::HttpClient>,
}

impl PeerPort for PeerLink {
    fn publish(&self, message: Vec<u8>) {
        if let Some(g) = self.gossip.lock().as_ref()
            && let Err(e) = g.publish(message)
        {
            warn!(error = %e, "compute gossip: cannot publish");
        }
    }

    fn fetch_round(&self, runtime: Namespace, round: u64) -> BoxFutureOpt<'_> {
        Box::pin(async move {
            for peer in &self.storage_peers {
                let Ok(answer) = peer.get_round(runtime.to_string(), round).await else {
                    continue;
                };
                let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(answer.record)
                else {
                    continue;
                };
                if let Ok(record) = cbor::from_slice::<RoundRecord>(&bytes) {
                    return Some(record);
                }
            }
            None
        })
    }

    fn fetch_checkpoints(
        &self,
        runtime: Namespace,
    ) -> PeerFuture<'_, Vec<(usize, CheckpointInfo)>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for (i, peer) in self.storage_peers.iter().enumerate() {
                match peer.get_checkpoints(runtime.to_string()).await {
                    // The newest few are all a node restores from.
                    Ok(list) => out.extend(
                        list.into_iter()
                            .rev()
                            .take(MAX_CHECKPOINTS_PER_PEER)
                            .map(|c| {
                                (
                                    i,
                                    CheckpointInfo {
                                        round: c.round,
                                        root: c.root,
                                        header: c.header,
                                        chunks: c.chunks,
                                    },
                                )
                            }),
                    ),
                    Err(e) => debug!(peer = i, error = %e, "storage peer: no checkpoint list"),
                }
            }
            out
        })
    }

    fn fetch_checkpoint_chunk(
        &self,
        runtime: Namespace,
        peer: usize,
        round: u64,
        index: u32,
    ) -> PeerFuture<'_, Option<Vec<u8>>> {
        Box::pin(async move {
            let client = self.storage_peers.get(peer)?;
            let answer = client
                .get_checkpoint_chunk(runtime.to_string(), round, index)
                .await
                .ok()?;
            base64::engine::general_purpose::STANDARD
                .decode(answer.chunk)
                .ok()
        })
    }
}

/// Checkpoints considered per storage peer (its newest).
const MAX_CHECKPOINTS_PER_PEER: usize = 16;

type BoxFutureOpt<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<RoundRecord>> + Send + 'a>>;

fn resolve_binary(r: &RuntimeSection) -> Result<PathBuf, NodeError> {
    let bad = |why: String| NodeError::Compute(format!("runtime {}: {why}", r.id));
    let path = if r.binary.components().count() == 1 && !r.binary.is_absolute() {
        let exe = std::env::current_exe().map_err(|e| bad(e.to_string()))?;
        exe.parent()
            .map(|d| d.join(&r.binary))
            .ok_or_else(|| bad("no directory for the atoll binary".into()))?
    } else {
        r.binary.clone()
    };
    if !path.is_file() {
        return Err(bad(format!("binary {} not found", path.display())));
    }
    Ok(path)
}

fn runtime_extra(genesis: &Genesis) -> Result<Cbor, NodeError> {
    let chain = genesis
        .chain_context()
        .map_err(|e| NodeError::Compute(e.to_string()))?;
    Ok(atoll_runtime_host::abi::RuntimeContext::new(&chain).to_value())
}

/// What starting a runtime's worker needs, kept so that a runtime that
/// consensus registers after this node started can be started then.
struct Starter {
    data_dir: PathBuf,
    chain_context: atoll_crypto::context::ChainContext,
    epoch_schedule: (u64, u64),
    debug: bool,
    node_key: atoll_crypto::ed25519::SigningKey,
    service: Arc<NodeService>,
    port: Arc<OwnTxs>,
    link: Arc<PeerLink>,
    extra: Cbor,
    /// Where runtimes registered later are started.
    spawner: tokio::runtime::Handle,
}

/// Where a `[[runtime]]` of `node.toml` stands.
enum Served {
    /// Its worker runs.
    Running(Arc<Worker>),
    /// Consensus has not registered it yet: started at the first block
    /// whose state has it.
    Waiting(Box<RuntimeSection>),
    /// Registered; its processes are being started.
    Starting,
}

impl Starter {
    /// Starts the runtime `r` (id `id`), whose chain begins with `header`
    /// recorded at consensus height `first_height`.
    async fn start_worker(
        &self,
        r: &RuntimeSection,
        id: Namespace,
        header: atoll_consensus_types::roothash::BlockHeader,
        first_height: u64,
    ) -> Result<Arc<Worker>, NodeError> {
        let chain = self.service.chain().clone();
        let dir = self.data_dir.join("runtimes").join(id.to_string());
        let storage = RuntimeStorage::open(&dir, header, Some(chain.state().clone()))
            .map_err(|e| NodeError::Compute(format!("runtime {id}: {e}")))?;
        // Checkpoints as the runtime's descriptor asks (read at start).
        let descriptor = chain
            .latest_view()
            .ok()
            .and_then(|mut view| Registry::new(&mut view).state().runtime(&id).ok().flatten());
        if let Some(d) = &descriptor {
            storage.set_checkpoint_policy(CheckpointPolicy::from_descriptor(&d.storage, true));
        }
        let binary = resolve_binary(r)?;
        let mut rc = RuntimeConfig::new(&binary, id);
        rc.metrics = self.service.metrics_registry().runtime_host(&id);
        rc.args = r.args.iter().map(Into::into).collect();
        rc.args.push("--runtime-id".into());
        rc.args.push(id.to_string().into());
        if let Some(g) = &r.genesis {
            rc.args.push("--genesis".into());
            rc.args.push(g.clone().into_os_string());
        }
        // Queries run in a process of their own, at a lower CPU
        // priority, each within the configured time: rounds never wait
        // for them (see `atoll_compute::client`).
        let mut qc = rc.clone();
        qc.query_time_limit = std::time::Duration::from_millis(r.rpc_evm_timeout_ms);
        qc.base_nice = qc.bulk_nice;
        let host = RuntimeHost::spawn(rc, Arc::new(storage.clone()))
            .await
            .map_err(|e| NodeError::Compute(format!("runtime {id}: {e}")))?;
        info!(runtime = %id, binary = %binary.display(), pid = ?host.pid(), "runtime started");
        let query_host = RuntimeHost::spawn(qc, Arc::new(storage.clone()))
            .await
            .map_err(|e| NodeError::Compute(format!("runtime {id} (queries): {e}")))?;
        info!(runtime = %id, pid = ?query_host.pid(), "runtime query process started");
        let worker = Worker::start(
            WorkerConfig {
                runtime: id,
                node_key: self.node_key.clone(),
                chain: self.chain_context.clone(),
                consensus: chain.state().clone(),
                // Heights before the runtime's chain began hold nothing for
                // it: the worker follows consensus from the one before.
                genesis_height: first_height.saturating_sub(1).max(chain.genesis_version()),
                epoch_schedule: self.epoch_schedule,
                extra: self.extra.clone(),
                pool: PoolLimits {
                    max_txs: r.max_pool_txs,
                    ..PoolLimits::default()
                },
                fault: r.debug_fault,
                idle_round: r.idle_round_ms.map(std::time::Duration::from_millis),
                query_host: Some(query_host),
                query_limits: QueryLimits::default(),
                metrics: self.service.metrics_registry().worker(&id),
            },
            host,
            storage,
            self.port.clone(),
            self.link.clone(),
        )
        .map_err(|e| NodeError::Compute(e.to_string()))?;
        Ok(Arc::new(worker))
    }

    /// Whether `height` is the first block of an epoch.
    fn epoch_begins_at(&self, height: u64) -> bool {
        let (initial, interval) = self.epoch_schedule;
        height > initial
            && atoll_consensus_types::epoch_at(initial, interval, height)
                != atoll_consensus_types::epoch_at(initial, interval, height - 1)
    }

    /// Applies what the worker does not read per round from the runtime's
    /// descriptor in the state after `height` (its checkpoint policy), so
    /// that a descriptor update applies from the next epoch without a
    /// restart.
    fn reread_descriptor(&self, w: &Worker, height: u64) {
        let descriptor = self.service.chain().view(height).ok().and_then(|mut view| {
            Registry::new(&mut view)
                .state()
                .runtime(&w.runtime())
                .ok()
                .flatten()
        });
        if let Some(d) = descriptor {
            let policy = CheckpointPolicy::from_descriptor(&d.storage, true);
            if policy != w.storage().checkpoint_policy() {
                info!(runtime = %w.runtime(), ?policy, "checkpoint policy changed by a descriptor update");
                w.storage().set_checkpoint_policy(policy);
            }
        }
    }

    /// The first header of runtime `id` and its height, if the state after
    /// `latest` has the runtime.
    fn first_header(
        &self,
        id: &Namespace,
        latest: u64,
    ) -> Result<Option<(u64, atoll_consensus_types::roothash::BlockHeader)>, NodeError> {
        let chain = self.service.chain();
        first_header(chain.state(), chain.genesis_version(), latest, id)
            .map_err(|e| NodeError::Compute(format!("runtime {id}: {e}")))
    }
}

impl Compute {
    /// Starts the runtimes `config` lists (`None` when it lists none). A
    /// runtime consensus has not registered yet is started at the first
    /// block whose state has it ([`Compute::on_consensus_block`]).
    pub async fn start(
        config: &NodeConfig,
        genesis: &Genesis,
        identity: &Identity,
        service: &Arc<NodeService>,
        port: &Arc<OwnTxs>,
    ) -> Result<Option<Arc<Self>>, NodeError> {
        let Some(section) = &config.compute else {
            return Ok(None);
        };
        if config.runtimes.is_empty() {
            return Ok(None);
        }
        let chain = service.chain().clone();
        let storage_peers = section
            .storage_peers
            .iter()
            .map(|u| {
                jsonrpsee::http_client::HttpClientBuilder::default()
                    .request_timeout(std::time::Duration::from_secs(10))
                    .build(u)
                    .map_err(|e| NodeError::Compute(format!("storage peer {u}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let link = Arc::new(PeerLink {
            gossip: Mutex::new(None),
            storage_peers,
        });
        let starter = Arc::new(Starter {
            data_dir: config.data_dir.clone(),
            chain_context: genesis
                .chain_context()
                .map_err(|e| NodeError::Compute(e.to_string()))?,
            epoch_schedule: (genesis.initial_height, genesis.beacon.interval),
            debug: genesis.debug,
            node_key: identity.node.clone(),
            service: service.clone(),
            port: port.clone(),
            link: link.clone(),
            extra: runtime_extra(genesis)?,
            spawner: tokio::runtime::Handle::current(),
        });
        let latest = chain
            .last_height()
            .ok()
            .flatten()
            .unwrap_or(chain.genesis_version());
        let mut workers = BTreeMap::new();
        for r in &config.runtimes {
            let id: Namespace =
                r.id.parse()
                    .map_err(|e| NodeError::Compute(format!("runtime id {}: {e}", r.id)))?;
            if r.debug_fault.is_some() && !starter.debug {
                return Err(NodeError::Compute(format!(
                    "runtime {id}: debug_fault is refused on a network whose genesis is not a debug one"
                )));
            }
            let served = match starter.first_header(&id, latest)? {
                Some((first_height, header)) => {
                    Served::Running(starter.start_worker(r, id, header, first_height).await?)
                }
                None => {
                    info!(runtime = %id, "runtime not registered yet: started once consensus registers it");
                    Served::Waiting(Box::new(r.clone()))
                }
            };
            workers.insert(id, served);
        }
        let unprotected_ok = config
            .runtimes
            .iter()
            .filter(|r| r.allow_unprotected_txs)
            .filter_map(|r| r.id.parse().ok())
            .collect();
        let compute = Arc::new(Self {
            workers: RwLock::new(workers),
            starter,
            link,
            quota: Arc::default(),
            running: Arc::new(tokio::sync::Semaphore::new(GOSSIP_CHECKS_RUNNING)),
            unprotected_ok,
        });

        let peers = section
            .peers
            .iter()
            .map(|p| multiaddr_p2p(p))
            .collect::<Result<Vec<_>, _>>()?;
        let judge = compute.clone();
        let validate: atoll_p2p::DeferredValidator =
            Arc::new(move |message: &[u8], pending| judge.judge(message, pending));
        let gossip = atoll_p2p::start_deferred(
            atoll_p2p::GossipConfig {
                listen: multiaddr_p2p(&section.listen)?,
                peers,
                key_seed: Hash::digest_parts(&[
                    b"atoll/node: compute gossip key",
                    &identity.p2p.seed(),
                ])
                .0,
                topic: format!(
                    "atoll/compute/v1/{}",
                    genesis
                        .chain_context()
                        .map_err(|e| NodeError::Compute(e.to_string()))?
                        .as_str()
                ),
                max_tx_bytes: MAX_COMPUTE_MESSAGE,
            },
            validate,
        )
        .await?;
        info!(peer_id = %gossip.peer_id(), "compute gossip started");
        *compute.link.gossip.lock() = Some(gossip);
        // Catch up with what consensus already finalized.
        if let Ok(Some(h)) = chain.last_height() {
            compute.on_consensus_block(h);
        }
        Ok(Some(compute))
    }

    /// Judges a gossiped message before it is forwarded: undecodable ones
    /// are rejected at once, those for runtimes this node does not serve are
    /// dropped, and the rest are checked by their worker in a task, within
    /// the sending peer's quota (over it: ignored).
    fn judge(&self, message: &[u8], pending: atoll_p2p::Pending) {
        use atoll_compute::executor::GossipVerdict;
        let Ok(msg) = cbor::from_slice::<ComputeMessage>(message) else {
            return pending.report(atoll_p2p::Verdict::Reject);
        };
        let Some(id) = msg.runtime() else {
            return pending.report(atoll_p2p::Verdict::Reject);
        };
        // A runtime this node does not serve: it cannot judge the message,
        // so it does not pass it on either.
        let Some(worker) = self.running(&id) else {
            return pending.report(atoll_p2p::Verdict::Ignore);
        };
        let verdict = |v| match v {
            GossipVerdict::Accept => atoll_p2p::Verdict::Accept,
            GossipVerdict::Ignore => atoll_p2p::Verdict::Ignore,
            GossipVerdict::Reject => atoll_p2p::Verdict::Reject,
        };
        // A proposal is judged at once (signature, committee, round): it
        // never waits behind transaction checks.
        if let ComputeMessage::Proposal { signed, .. } = &msg {
            return pending.report(verdict(worker.on_proposal_message(signed)));
        }
        let Some(slot) = GossipQuota::take(&self.quota, pending.source(), message.len()) else {
            debug!(peer = %pending.source(), "compute gossip: peer over its check quota");
            return pending.report(atoll_p2p::Verdict::Ignore);
        };
        let running = self.running.clone();
        tokio::spawn(async move {
            let Ok(_permit) = running.acquire_owned().await else {
                return;
            };
            let v = verdict(worker.on_message(msg).await);
            drop(slot);
            pending.report(v);
        });
    }

    /// Consensus applied block `height`: every running worker hears of it,
    /// and a runtime waiting for its registration is started if the state
    /// after `height` has it (in a task; it hears of later blocks once it
    /// runs, and catches up from its chain's first block).
    pub fn on_consensus_block(self: &Arc<Self>, height: u64) {
        let mut registered = Vec::new();
        let epoch_began = self.starter.epoch_begins_at(height);
        {
            let mut workers = self.workers.write();
            for (id, served) in workers.iter_mut() {
                match served {
                    Served::Running(w) => {
                        if epoch_began {
                            self.starter.reread_descriptor(w, height);
                        }
                        w.on_consensus_block(height);
                    }
                    Served::Starting => {}
                    Served::Waiting(_) => match self.starter.first_header(id, height) {
                        Ok(None) => {}
                        Ok(Some(first)) => {
                            if let Served::Waiting(r) = std::mem::replace(served, Served::Starting)
                            {
                                registered.push((*id, r, first));
                            }
                        }
                        Err(e) => {
                            warn!(runtime = %id, error = %e, "cannot read the runtime's registration")
                        }
                    },
                }
            }
        }
        for (id, r, (first_height, header)) in registered {
            info!(runtime = %id, first_height, "runtime registered in consensus: starting it");
            let me = self.clone();
            self.starter.spawner.spawn(async move {
                let outcome = me.starter.start_worker(&r, id, header, first_height).await;
                let mut workers = me.workers.write();
                match outcome {
                    Ok(w) => {
                        w.on_consensus_block(height);
                        workers.insert(id, Served::Running(w));
                    }
                    Err(e) => {
                        // Tried again at the next block.
                        warn!(runtime = %id, error = %e, "cannot start the runtime");
                        workers.insert(id, Served::Waiting(r));
                    }
                }
            });
        }
    }

    /// The worker of a runtime, once it runs.
    pub fn worker(&self, id: &Namespace) -> Option<Arc<Worker>> {
        self.running(id)
    }

    fn running(&self, id: &Namespace) -> Option<Arc<Worker>> {
        match self.workers.read().get(id) {
            Some(Served::Running(w)) => Some(w.clone()),
            _ => None,
        }
    }

    /// The running workers.
    fn all_running(&self) -> Vec<Arc<Worker>> {
        self.workers
            .read()
            .values()
            .filter_map(|s| match s {
                Served::Running(w) => Some(w.clone()),
                _ => None,
            })
            .collect()
    }

    /// Stops gossip and every runtime process.
    pub async fn shutdown(&self) {
        let gossip = self.link.gossip.lock().take();
        if let Some(g) = gossip {
            g.shutdown().await;
        }
        for w in self.all_running() {
            w.host().shutdown().await;
            w.query_host().shutdown().await;
        }
    }

    /// Refuses a pre-EIP-155 Ethereum transaction for a runtime that does
    /// not allow them, in geth's words.
    fn replay_protected(&self, id: Namespace, raw: &[u8]) -> Result<(), ApiError> {
        if !self.unprotected_ok.contains(&id)
            && atoll_web3::backend::is_unprotected_ethereum_tx(raw)
        {
            return Err(ApiError::Tx(atoll_state::TxError {
                module: "compute".into(),
                code: CODE_UNPROTECTED_TX,
                message: atoll_web3::error::UNPROTECTED_TX.into(),
            }));
        }
        Ok(())
    }

    fn get(&self, id: Namespace) -> Result<Arc<Worker>, ApiError> {
        match self.workers.read().get(&id) {
            Some(Served::Running(w)) => Ok(w.clone()),
            Some(_) => Err(ApiError::NotFound(format!(
                "runtime {id} (not registered in consensus yet: this node starts it once it is)"
            ))),
            None => Err(ApiError::NotFound(format!(
                "runtime {id} (not served by this node)"
            ))),
        }
    }
}

/// `compute` error code of a query that ran past `rpc_evm_timeout_ms`.
pub const CODE_QUERY_TIMEOUT: u32 = 3;
/// `compute` error code of a query refused because too many wait.
pub const CODE_QUERY_BUSY: u32 = 4;
/// `compute` error code of a pre-EIP-155 transaction refused.
pub const CODE_UNPROTECTED_TX: u32 = 5;

/// A duration as Go prints it (`5s`, `250ms`, `1.5s`), for geth's wording.
fn go_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        let s = format!("{}.{:03}", ms / 1000, ms % 1000);
        format!("{}s", s.trim_end_matches('0'))
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn submit_error(e: atoll_compute::executor::SubmitError) -> ApiError {
    let (module, code) = e.code();
    let message = match e {
        atoll_compute::executor::SubmitError::Invalid { message, .. } => message,
        other => other.to_string(),
    };
    ApiError::Tx(atoll_state::TxError {
        module,
        code,
        message,
    })
}

fn block_view(r: &RoundRecord) -> RuntimeBlock {
    RuntimeBlock {
        header: r.header.clone(),
        consensus_height: r.consensus_height,
        transactions: r.txs.iter().map(|t| Hash::digest(t)).collect(),
        messages: r.messages.clone(),
    }
}

fn location(hash: Hash, inc: atoll_compute::client::Included) -> TxLocation {
    TxLocation {
        hash,
        round: inc.round,
        index: inc.index,
        result: inc.result,
    }
}

impl RuntimeApi for Compute {
    fn runtimes(&self) -> Vec<Namespace> {
        // Those waiting for their registration too: their calls are
        // answered "not registered in consensus yet" (`Compute::get`).
        self.workers.read().keys().copied().collect()
    }

    fn submit(
        &self,
        runtime: Namespace,
        raw: Vec<u8>,
        wait: bool,
    ) -> BoxFuture<'_, Result<SubmitResult, ApiError>> {
        Box::pin(async move {
            let w = self.get(runtime)?;
            self.replay_protected(runtime, &raw)?;
            let hash = Hash::digest(&raw);
            // Registered before the submission, so that an inclusion in
            // between is not missed; dropped (and so unregistered) on every
            // way out: a refusal, the caller's timeout, a gone client.
            let waiter = if wait {
                Some(w.wait_tx(hash).map_err(submit_error)?)
            } else {
                None
            };
            w.submit_tx(raw).await.map_err(submit_error)?;
            let Some(waiter) = waiter else {
                return Ok(SubmitResult {
                    hash,
                    included: None,
                });
            };
            let inc = waiter.await.map_err(internal)?;
            Ok(SubmitResult {
                hash,
                included: Some(location(hash, inc)),
            })
        })
    }

    fn submit_many(
        &self,
        runtime: Namespace,
        raws: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Vec<Result<Submitted, ApiError>>> {
        Box::pin(async move {
            let n = raws.len();
            let w = match self.get(runtime) {
                Ok(w) => w,
                Err(e) => return vec![Err(e); n],
            };
            // Unprotected transactions are answered here; the rest go to
            // the runtime together, and the answers are put back in order.
            let verdicts: Vec<Result<(), ApiError>> = raws
                .iter()
                .map(|raw| self.replay_protected(runtime, raw))
                .collect();
            let raws: Vec<Vec<u8>> = raws
                .into_iter()
                .zip(&verdicts)
                .filter(|(_, v)| v.is_ok())
                .map(|(raw, _)| raw)
                .collect();
            let checked = n - verdicts.iter().filter(|v| v.is_err()).count();
            let mut answers: Vec<Result<Submitted, ApiError>> = if raws.is_empty() {
                Vec::new()
            } else {
                match w.submit_txs(raws).await {
                    Ok(out) => out
                        .into_iter()
                        .map(|r| {
                            r.map(|a| Submitted {
                                hash: a.hash,
                                extra: a.extra.map(|e| e.into_vec()),
                            })
                            .map_err(submit_error)
                        })
                        .collect(),
                    Err(e) => vec![Err(submit_error(e)); checked],
                }
            }
            .into_iter()
            .rev()
            .collect();
            verdicts
                .into_iter()
                .map(|v| match v {
                    Err(e) => Err(e),
                    Ok(()) => answers.pop().unwrap_or_else(|| {
                        Err(ApiError::Internal("the runtime gave no answer".into()))
                    }),
                })
                .collect()
        })
    }

    fn take_check_extra(&self, runtime: Namespace, hash: Hash) -> Option<Vec<u8>> {
        self.get(runtime)
            .ok()?
            .take_check_extra(&hash)
            .map(|e| e.into_vec())
    }

    fn query(
        &self,
        runtime: Namespace,
        round: Option<u64>,
        method: String,
        args: Cbor,
    ) -> BoxFuture<'_, Result<Cbor, ApiError>> {
        Box::pin(async move {
            let w = self.get(runtime)?;
            w.query(round, &method, args).await.map_err(|e| match e {
                QueryError::Host(HostError::Runtime(r)) => ApiError::Tx(atoll_state::TxError {
                    module: r.module,
                    code: r.code,
                    message: r.message,
                }),
                QueryError::State(StateAtError::Storage(why)) => ApiError::Internal(why),
                QueryError::State(why) => ApiError::NotFound(why.to_string()),
                QueryError::Host(HostError::Timeout { limit }) => {
                    ApiError::Tx(atoll_state::TxError {
                        module: "compute".into(),
                        code: CODE_QUERY_TIMEOUT,
                        message: format!("execution aborted (timeout = {})", go_duration(limit)),
                    })
                }
                QueryError::Busy(why) => ApiError::Tx(atoll_state::TxError {
                    module: "compute".into(),
                    code: CODE_QUERY_BUSY,
                    message: why,
                }),
                QueryError::Host(other) => ApiError::Internal(other.to_string()),
            })
        })
    }

    fn block(
        &self,
        runtime: Namespace,
        round: Option<u64>,
    ) -> Result<Option<RuntimeBlock>, ApiError> {
        let w = self.get(runtime)?;
        let round = round.unwrap_or_else(|| w.storage().last_header().round);
        Ok(w.storage()
            .round(round)
            .map_err(internal)?
            .map(|r| block_view(&r)))
    }

    fn transactions(
        &self,
        runtime: Namespace,
        round: u64,
    ) -> Result<Option<Vec<RuntimeTx>>, ApiError> {
        let w = self.get(runtime)?;
        Ok(w.storage().round(round).map_err(internal)?.map(|r| {
            r.txs
                .iter()
                .zip(&r.results)
                .zip(0u32..)
                .map(|((tx, res), index)| RuntimeTx {
                    hash: Hash::digest(tx),
                    index,
                    tx: tx.to_vec(),
                    result: res.clone(),
                })
                .collect()
        }))
    }

    fn transaction(&self, runtime: Namespace, hash: Hash) -> Result<Option<TxLocation>, ApiError> {
        let w = self.get(runtime)?;
        Ok(w.find_tx(&hash)
            .map_err(internal)?
            .map(|inc| location(hash, inc)))
    }

    fn events(&self, runtime: Namespace, round: u64) -> Result<Option<Vec<Cbor>>, ApiError> {
        let w = self.get(runtime)?;
        Ok(w.storage()
            .round(round)
            .map_err(internal)?
            .map(|r| r.events))
    }

    fn round_record(&self, runtime: Namespace, round: u64) -> Result<Option<Vec<u8>>, ApiError> {
        let w = self.get(runtime)?;
        match w.storage().round(round).map_err(internal)? {
            Some(r) => Ok(Some(cbor::to_vec(&r).map_err(internal)?)),
            None => Ok(None),
        }
    }

    fn checkpoints(&self, runtime: Namespace) -> Result<Vec<CheckpointSummary>, ApiError> {
        let w = self.get(runtime)?;
        let list = w.storage().checkpoints().map_err(internal)?;
        Ok(list
            .into_iter()
            .map(|c| CheckpointSummary {
                round: c.round,
                root: c.root,
                header: c.header,
                chunks: c.chunks,
            })
            .collect())
    }

    fn checkpoint_chunk(
        &self,
        runtime: Namespace,
        round: u64,
        index: u32,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        let w = self.get(runtime)?;
        w.storage().checkpoint_chunk(round, index).map_err(internal)
    }

    fn subscribe(&self, runtime: Namespace) -> Result<mpsc::Receiver<RuntimeBlock>, ApiError> {
        let w = self.get(runtime)?;
        let mut rounds = w.subscribe();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                match rounds.recv().await {
                    Ok(r) => {
                        if tx.send(block_view(&r)).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(rx)
    }
}

/// Where a runtime's data lives under a node's data directory.
pub fn runtime_dir(data_dir: &Path, id: &Namespace) -> PathBuf {
    data_dir.join("runtimes").join(id.to_string())
}

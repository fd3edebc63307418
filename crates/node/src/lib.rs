//! An atoll node, assembled from its parts and configured by `node.toml`
//! (`atoll node --config node.toml`).
//!
//! - [`identity`]: the node's keys on disk (`atoll identity init`).
//! - [`config`]: the configuration file.
//! - [`service`]: what the API sees: blocks, transactions, state queries,
//!   the mempool.
//! - [`metrics`]: the node's registry of metrics (`GET /metrics`).
//! - [`start`]: opens the chain in the data directory (resuming after the
//!   last applied block), starts the Malachite engine (consensus, WAL,
//!   sync), the host that builds, checks and applies blocks, transaction
//!   gossip and the API; [`RunningNode::shutdown`] stops them in order.
//! - [`workers`]: what the node does by itself each epoch: its VRF proof
//!   and its re-registration, signed and paid by the node.
//! - [`web3`]: the Ethereum JSON-RPC of the EVM runtimes that set
//!   `web3 = "host:port"` in their `[[runtime]]` section.
//! - [`run`]: [`start`], then wait for SIGTERM or Ctrl-C (or a fatal error)
//!   and shut down cleanly.

pub mod compute;
pub mod config;
pub mod gossip;
pub mod identity;
pub mod metrics;
pub mod service;
pub mod web3;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use atoll_bft::BftError;
use atoll_bft::chain::Chain;
use atoll_bft::context::{AtollContext, ValidatorAddress};
use atoll_bft::engine::EngineHandle;
use atoll_bft::engine::app::types::core::LinearTimeouts;
use atoll_bft::host::{Host, HostConfig};
use atoll_bft::node::EngineConfig;
use atoll_bft::signing::AtollSigner;
use atoll_consensus::app::App;
use atoll_consensus::genesis::Genesis;
use atoll_mempool::{Limits, Mempool};
use atoll_rpc::{RpcConfig, RpcServer};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

pub use config::{NodeConfig, Role};
pub use identity::Identity;
pub use service::NodeService;

/// Why a node could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The keys are missing or unusable.
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    /// The genesis document is unreadable or invalid.
    #[error("genesis {path}: {why}")]
    Genesis {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// A listen or peer address is not a valid multiaddr.
    #[error("address {0:?}: {1}")]
    Address(String, String),
    /// Consensus or the chain store failed.
    #[error(transparent)]
    Bft(#[from] BftError),
    /// Transaction gossip could not start.
    #[error(transparent)]
    Gossip(#[from] atoll_p2p::P2pError),
    /// The API server could not start.
    #[error(transparent)]
    Rpc(#[from] atoll_rpc::ServeError),
    /// Oasis's gRPC API could not start.
    #[error(transparent)]
    Grpc(#[from] atoll_grpc::ServeError),
    /// A runtime could not be served.
    #[error("compute: {0}")]
    Compute(String),
    /// A runtime's Ethereum JSON-RPC could not start.
    #[error(transparent)]
    Web3(#[from] atoll_web3::ServeError),
}

/// Parses a libp2p address of the gossip swarms.
pub(crate) fn multiaddr_p2p(s: &str) -> Result<atoll_p2p::Multiaddr, NodeError> {
    s.parse::<atoll_p2p::Multiaddr>()
        .map_err(|e| NodeError::Address(s.to_string(), e.to_string()))
}

/// A started node.
pub struct RunningNode {
    service: Arc<NodeService>,
    rpc: Option<RpcServer>,
    grpc: Option<atoll_grpc::GrpcServer>,
    engine: EngineHandle,
    host: Option<JoinHandle<Result<(), BftError>>>,
    chain: Chain,
    gossip: Option<Arc<gossip::Batcher>>,
    compute: Option<Arc<compute::Compute>>,
    web3: Vec<(atoll_types::Namespace, atoll_web3::Web3Server)>,
    workers: Option<workers::EpochWorkers>,
}

fn multiaddr(s: &str) -> Result<atoll_bft::engine::app::net::Multiaddr, NodeError> {
    s.parse().map_err(
        |e: <atoll_bft::engine::app::net::Multiaddr as std::str::FromStr>::Err| {
            NodeError::Address(s.to_string(), e.to_string())
        },
    )
}

/// Reads and checks a genesis document.
pub fn load_genesis(path: &std::path::Path) -> Result<Genesis, NodeError> {
    let bad = |why: String| NodeError::Genesis {
        path: path.to_path_buf(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let genesis = Genesis::from_json(&text).map_err(|e| bad(e.to_string()))?;
    let problems = genesis.check();
    if !problems.is_empty() {
        return Err(bad(problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")));
    }
    Ok(genesis)
}

/// Starts a node as `config` describes.
pub async fn start(config: &NodeConfig) -> Result<RunningNode, NodeError> {
    let genesis = load_genesis(&config.genesis)?;
    let identity = Identity::load(&config.identity)?;
    let app = App::new(&genesis).map_err(BftError::from)?;
    let chain = Chain::open(&config.data_dir.join("chain"), &app, &genesis)?;
    info!(
        chain_id = %genesis.chain_id,
        last_height = ?chain.last_height()?,
        data_dir = %config.data_dir.display(),
        role = ?config.role,
        "opening the node"
    );
    let limits = Limits {
        max_txs: config.mempool.max_txs,
        max_bytes: config.mempool.max_bytes,
        max_per_sender: config.mempool.max_per_sender,
    };
    let service = NodeService::new(
        app.clone(),
        genesis.chain_id.clone(),
        chain.clone(),
        Mempool::new(limits),
        &config.moniker,
    );
    let ctx = AtollContext::new(app.chain_context())?;
    let signer = AtollSigner::new(&ctx, identity.consensus.clone());
    let c = &config.consensus;
    if c.debug_byzantine_proposer.is_some() && !genesis.debug {
        return Err(NodeError::Bft(BftError::Engine(
            "debug_byzantine_proposer is refused on a network whose genesis is not a debug one"
                .into(),
        )));
    }
    let host_config = HostConfig {
        timeouts: LinearTimeouts {
            propose: Duration::from_millis(c.timeout_propose_ms),
            propose_delta: Duration::from_millis(c.timeout_propose_ms / 2),
            prevote: Duration::from_millis(c.timeout_prevote_ms),
            prevote_delta: Duration::from_millis(c.timeout_prevote_ms / 2),
            precommit: Duration::from_millis(c.timeout_precommit_ms),
            precommit_delta: Duration::from_millis(c.timeout_precommit_ms / 2),
            rebroadcast: Duration::from_millis(c.timeout_propose_ms * 4),
            max_timeout: Duration::from_millis(c.timeout_propose_ms * 10),
        },
        block_time: (c.block_time_ms > 0).then(|| Duration::from_millis(c.block_time_ms)),
        min_block_time: {
            let min = c.min_block_time_ms.min(c.block_time_ms);
            (min > 0).then(|| Duration::from_millis(min))
        },
        max_time_drift: Duration::from_secs(c.max_time_drift_s),
        byzantine: c
            .debug_byzantine_proposer
            .map(|b| atoll_bft::host::ByzantineProposer {
                future_s: b.future_s,
                extra_proposals: b.extra_proposals,
            }),
        ..HostConfig::default()
    };
    let source = service.tx_source(
        genesis.consensus.max_block_size,
        genesis.consensus.max_block_gas,
    );
    let mut host = Host::with_app(
        app.clone(),
        &genesis,
        chain.clone(),
        signer.clone(),
        source,
        host_config,
    )?;
    let own_txs = workers::OwnTxs::start(
        service.clone(),
        identity.node.clone(),
        genesis.consensus.min_gas_price,
        genesis.consensus.gas_per_tx_byte,
    );
    let compute = compute::Compute::start(config, &genesis, &identity, &service, &own_txs).await?;
    if let Some(c) = &compute {
        service.set_runtimes(c.clone());
    }
    let hook_service = service.clone();
    let hook_compute = compute.clone();
    host.on_commit(Box::new(move |c| {
        hook_service.on_commit(c);
        if let Some(compute) = &hook_compute {
            compute.on_consensus_block(c.block.block.block.height);
        }
    }));

    let peers = c
        .peers
        .iter()
        .map(|p| multiaddr(p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut engine_config = EngineConfig::new(config.moniker.clone(), multiaddr(&c.listen)?, peers);
    engine_config.consensus.p2p.persistent_peers_only = c.persistent_peers_only;
    let wal = config.data_dir.join("wal");
    let p2p_seed = identity.p2p.seed();
    let (mut channels, engine) = match config.role {
        Role::Validator => {
            atoll_bft::node::start(ctx.clone(), engine_config, signer, p2p_seed, wal).await?
        }
        Role::Full => {
            let address = ValidatorAddress::from_key(&identity.consensus.public_key());
            atoll_bft::node::start_full(ctx.clone(), engine_config, address, p2p_seed, wal).await?
        }
    };
    let host = tokio::spawn(async move { host.run(&mut channels).await });

    let gossip = match &config.gossip {
        Some(g) => {
            let peers = g
                .peers
                .iter()
                .map(|p| {
                    p.parse::<atoll_p2p::Multiaddr>()
                        .map_err(|e| NodeError::Address(p.clone(), e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let listen = g
                .listen
                .parse::<atoll_p2p::Multiaddr>()
                .map_err(|e| NodeError::Address(g.listen.clone(), e.to_string()))?;
            let admit = service.clone();
            let validate: atoll_p2p::Validator =
                Arc::new(move |message: &[u8]| gossip::judge_batch(&admit, message));
            let gossip = atoll_p2p::start(
                atoll_p2p::GossipConfig {
                    listen,
                    peers,
                    // A key of its own, derived from the p2p key, so that the
                    // two libp2p swarms have distinct peer ids.
                    key_seed: atoll_crypto::Hash::digest_parts(&[
                        b"atoll/node: gossip key",
                        &identity.p2p.seed(),
                    ])
                    .0,
                    topic: format!("atoll/txs/v1/{}", app.chain_context().as_str()),
                    max_tx_bytes: gossip::max_message_bytes(),
                },
                validate,
            )
            .await?;
            info!(peer_id = %gossip.peer_id(), "transaction gossip started");
            let gossip = gossip::Batcher::start(gossip);
            service.set_broadcast(gossip.clone());
            Some(gossip)
        }
        None => None,
    };

    let web3 = web3::start(config, compute.as_ref()).await?;

    let rpc = match &config.rpc {
        Some(r) => {
            let rpc_config = RpcConfig {
                max_request_bytes: r.max_request_bytes,
                pages: config.explorer_enabled().then(|| explorer_pages(&web3)),
                ..RpcConfig::default()
            };
            let server = atoll_rpc::serve(service.clone(), r.listen, rpc_config).await?;
            info!(addr = %server.local_addr(), "API listening");
            if config.explorer_enabled() {
                info!(url = %format!("http://{}/explorer", server.local_addr()), "explorer served");
            }
            Some(server)
        }
        None => None,
    };
    let workers = Some(workers::EpochWorkers::start(
        config, &genesis, &identity, &service, &own_txs,
    ));
    let grpc = match &config.grpc {
        Some(g) => {
            let api: Arc<dyn atoll_rpc::NodeApi> = service.clone();
            let server = atoll_grpc::serve(g.listen, api).await?;
            info!(addr = %server.local_addr(), "Oasis gRPC API listening");
            Some(server)
        }
        None => None,
    };
    Ok(RunningNode {
        service,
        rpc,
        grpc,
        engine,
        host: Some(host),
        chain,
        gossip,
        compute,
        web3,
        workers,
    })
}

impl RunningNode {
    /// Where the API listens.
    pub fn rpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.rpc.as_ref().map(RpcServer::local_addr)
    }

    /// Where Oasis's gRPC node API listens.
    pub fn grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.grpc.as_ref().map(atoll_grpc::GrpcServer::local_addr)
    }

    /// Where the Ethereum JSON-RPC of each runtime that has one listens.
    pub fn web3_addrs(&self) -> Vec<(atoll_types::Namespace, std::net::SocketAddr)> {
        self.web3
            .iter()
            .map(|(id, s)| (*id, s.local_addr()))
            .collect()
    }

    /// The API's view of the node.
    pub fn service(&self) -> &Arc<NodeService> {
        &self.service
    }

    /// The chain store.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Stops the API, the engine and the host, in that order, and closes the
    /// chain. Every applied block is already durable.
    pub async fn shutdown(self) {
        if let Some(w) = self.workers {
            w.stop().await;
        }
        if let Some(rpc) = self.rpc {
            rpc.stop().await;
        }
        if let Some(grpc) = self.grpc {
            grpc.stop().await;
        }
        for (_, w) in self.web3 {
            w.stop().await;
        }
        if let Some(g) = &self.gossip {
            g.close().await;
        }
        if let Some(c) = &self.compute {
            c.shutdown().await;
        }
        self.engine.actor.stop(None);
        if tokio::time::timeout(Duration::from_secs(10), self.engine.handle)
            .await
            .is_err()
        {
            warn!("the consensus engine did not stop within 10 s");
        }
        if let Some(host) = self.host {
            host.abort();
            let _ = host.await;
        }
        info!("node stopped");
    }

    /// Waits until consensus stops by itself: always an error (a node runs
    /// until it is shut down).
    pub async fn stopped(&mut self) -> BftError {
        let Some(host) = self.host.as_mut() else {
            return std::future::pending().await;
        };
        let res = host.await;
        self.host = None;
        match res {
            Ok(Ok(())) => BftError::ChannelClosed,
            Ok(Err(e)) => e,
            Err(e) => BftError::Engine(format!("host task: {e}")),
        }
    }
}

/// When set to the pid of the process that started the node, the node
/// arranges to receive SIGTERM (a clean shutdown) when that process dies, and
/// refuses to start if it is already gone (Linux).
pub const ENV_PARENT_PID: &str = "ATOLL_PARENT_PID";

fn die_with_parent() -> Result<(), NodeError> {
    let Ok(parent) = std::env::var(ENV_PARENT_PID) else {
        return Ok(());
    };
    let bad = |why: String| NodeError::Bft(BftError::Engine(why));
    let parent: i32 = parent
        .parse()
        .map_err(|_| bad(format!("{ENV_PARENT_PID}={parent:?} is not a process id")))?;
    #[cfg(target_os = "linux")]
    {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
            .map_err(|e| bad(format!("cannot arm the parent-death signal: {e}")))?;
        if nix::unistd::getppid().as_raw() != parent {
            return Err(bad("the process that started this node is gone".into()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
    Ok(())
}

/// Runs a node until SIGTERM or Ctrl-C (a clean shutdown, `Ok`) or a fatal
/// error (`Err`).
pub async fn run(config: &NodeConfig) -> Result<(), NodeError> {
    die_with_parent()?;
    let mut node = start(config).await?;
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| NodeError::Bft(BftError::Engine(format!("SIGTERM handler: {e}"))))?;
    #[cfg(unix)]
    let terminated = term.recv();
    #[cfg(not(unix))]
    let terminated = std::future::pending::<Option<()>>();
    let outcome = tokio::select! {
        _ = terminated => {
            info!("SIGTERM: shutting down");
            Ok(())
        }
        _ = tokio::signal::ctrl_c() => {
            info!("interrupted: shutting down");
            Ok(())
        }
        err = node.stopped() => {
            error!(error = %err, "consensus stopped");
            Err(NodeError::Bft(err))
        }
    };
    node.shutdown().await;
    outcome
}

/// The explorer's pages for a node whose EVM ParaTimes serve their
/// Ethereum JSON-RPC through `web3`.
fn explorer_pages(web3: &[(atoll_types::Namespace, atoll_web3::Web3Server)]) -> atoll_rpc::Pages {
    let endpoints = web3
        .iter()
        .map(|(id, s)| atoll_explorer::Web3Endpoint {
            runtime: id.to_string(),
            port: s.local_addr().port(),
        })
        .collect();
    let explorer = atoll_explorer::Explorer::new(endpoints);
    atoll_rpc::Pages::new(move |method, path, headers| explorer.respond(method, path, headers))
}

//! `node.toml`: what a node is and where it listens.
//!
//! ```toml
//! # Paths are relative to this file's directory.
//! data_dir = "data"              # chain state, blocks, consensus WAL
//! genesis = "genesis.json"
//! identity = "identity"          # from `atoll identity init`
//! role = "validator"             # or "full"
//! moniker = "node-0"
//! log = "info"                   # tracing filter (RUST_LOG overrides)
//!
//! [consensus]
//! listen = "/ip4/127.0.0.1/tcp/26656"
//! peers = ["/ip4/127.0.0.1/tcp/26666"]
//! timeout_propose_ms = 1000      # optional, shown with defaults
//! timeout_prevote_ms = 500
//! timeout_precommit_ms = 500
//! block_time_ms = 200           # an idle network's block interval (0: no wait)
//! min_block_time_ms = 50        # least time between heights (0: none)
//! persistent_peers_only = false # true: connect only with `peers`
//! max_time_drift_s = 10         # vote nil on blocks dated further ahead
//!
//! [gossip]                        # transaction gossip
//! listen = "/ip4/127.0.0.1/tcp/26657"
//! peers = ["/ip4/127.0.0.1/tcp/26667"]
//!
//! [rpc]                           # JSON-RPC, WebSocket, /health, /metrics
//! listen = "127.0.0.1:26658"
//!
//! [explorer]                    # the explorer page at http://<rpc listen>/explorer
//! enabled = false                # off by default; `atoll localnet` turns it on
//! [grpc]                          # Oasis's gRPC node API and gRPC-web
//! listen = "127.0.0.1:26660"
//!
//! [mempool]
//! max_txs = 50000
//! max_bytes = 67108864
//! max_per_sender = 1024
//!
//! [compute]                       # compute nodes only
//! listen = "/ip4/127.0.0.1/tcp/26659"
//!
//! [[runtime]]                     # one per ParaTime served
//! id = "8000000000000000000000000000000000000000000000000000000000000000"
//! binary = "atoll-runtime-evm"
//! genesis = "runtime-genesis.cbor"
//! web3 = "127.0.0.1:8545"         # optional: the runtime's Ethereum JSON-RPC
//! web3_max_log_rounds = 100       # optional: most blocks per eth_getLogs
//! web3_cors = ["*"]               # optional: origins browsers may call from
//! rpc_gas_cap = 50000000          # optional, shown with defaults (geth's rpc.gascap)
//! rpc_evm_timeout_ms = 5000       # geth's rpc.evmtimeout: longest query or simulation
//! rpc_batch_request_limit = 1000  # geth's BatchRequestLimit: most calls per batch
//! rpc_batch_response_max_size = 25000000  # geth's BatchResponseMaxSize, bytes
//! allow_unprotected_txs = false   # geth's rpc.allow-unprotected-txs
//! ```
//!
//! `web3` (EVM runtimes only) serves the Ethereum JSON-RPC of that runtime
//! over HTTP and WebSocket on one address (see `atoll_web3`), with its
//! index in `<data_dir>/runtimes/<id>/web3`. `web3_cors` lists the origins
//! whose pages may call it from a browser (`"*"`: any; entries such as
//! `"https://app.example"` or `"http://localhost:3000"`); by default none,
//! as geth, so browsers refuse cross-origin calls.
//!
//! Queries of every runtime (`runtime_query`, and the Ethereum JSON-RPC's
//! `eth_call`, `eth_estimateGas` and state reads) run in a runtime process
//! of their own, beside the one that executes rounds, one at a time and
//! each within `rpc_evm_timeout_ms` (geth's `rpc.evmtimeout`, 5 s): an
//! overrun is aborted with geth's `execution aborted (timeout = 5s)`, and
//! rounds never wait for queries. `rpc_gas_cap` (geth's `rpc.gascap`,
//! 50 000 000) is the most gas an `eth_call` or an `eth_estimateGas` runs
//! with (the runtime's `max_batch_gas` caps it too). The Ethereum JSON-RPC
//! answers a batch of more than `rpc_batch_request_limit` calls (geth's
//! `BatchRequestLimit`, 1000) with geth's `batch too large` (-32600), and
//! replaces the answers past `rpc_batch_response_max_size` bytes of a
//! batch (geth's `BatchResponseMaxSize`, 25 MB) with `response too large`
//! (-32003). `allow_unprotected_txs` (geth's `rpc.allow-unprotected-txs`,
//! off) lets `eth_sendRawTransaction` and `runtime_submitTx` take
//! pre-EIP-155 transactions, which carry no chain id and so can be
//! replayed from any other chain; by default they are refused with geth's
//! `only replay-protected (EIP-155) transactions allowed over RPC`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid configuration.
    #[error("{path}: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// What the node does in consensus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Votes and proposes (when its consensus key is in the validator set).
    #[default]
    Validator,
    /// Follows the chain and serves the API; never signs.
    Full,
}

/// The consensus engine's network and timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSection {
    /// libp2p listen address (multiaddr).
    pub listen: String,
    /// Persistent peers (multiaddrs).
    #[serde(default)]
    pub peers: Vec<String>,
    /// Propose timeout of round 0, in milliseconds.
    #[serde(default = "default_propose")]
    pub timeout_propose_ms: u64,
    /// Prevote timeout.
    #[serde(default = "default_vote")]
    pub timeout_prevote_ms: u64,
    /// Precommit timeout.
    #[serde(default = "default_vote")]
    pub timeout_precommit_ms: u64,
    /// How long a proposer with nothing to propose waits for a transaction
    /// before it proposes an empty block, in milliseconds, from the start of
    /// the height (0: it proposes at once). An idle network makes a block
    /// about this often; a transaction reaching it is proposed as soon as it
    /// arrives. At most half the propose timeout is used.
    #[serde(default = "default_block_time")]
    pub block_time_ms: u64,
    /// Shortest time from the start of one height to the start of the next,
    /// in milliseconds (0: none), so a busy network's heights are at least
    /// this long (timeouts counted in heights, such as a runtime round's,
    /// keep a floor in time). Capped at `block_time_ms`. A decided block is
    /// applied and visible at once either way.
    #[serde(default = "default_min_block_time")]
    pub min_block_time_ms: u64,
    /// Accept consensus connections only from and to `peers` (Malachite's
    /// `persistent_peers_only`): a validator behind sentries, or a closed
    /// validator network, refuses every other node. Off by default, since
    /// full nodes (compute nodes) connect to validators.
    #[serde(default)]
    pub persistent_peers_only: bool,
    /// How many seconds ahead of this validator's clock a proposed block's
    /// time may be for it to vote for the block (default 10): no proposer
    /// can push block time, and the EVM `block.timestamp` taken from it,
    /// further into the future. Keep the node's clock synchronised (NTP).
    #[serde(default = "default_max_time_drift")]
    pub max_time_drift_s: u64,
    /// Test only: this validator misbehaves as a proposer, to test the
    /// others' defences. Refused unless the genesis is a debug one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_byzantine_proposer: Option<ByzantineSection>,
}

/// `[consensus.debug_byzantine_proposer]`: see
/// [`atoll_bft::host::ByzantineProposer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByzantineSection {
    /// Date proposed blocks this many seconds ahead.
    #[serde(default)]
    pub future_s: u64,
    /// Stream this many other blocks per round proposed.
    #[serde(default)]
    pub extra_proposals: u32,
}

fn default_max_time_drift() -> u64 {
    atoll_bft::host::DEFAULT_MAX_TIME_DRIFT.as_secs()
}

fn default_block_time() -> u64 {
    200
}

fn default_min_block_time() -> u64 {
    50
}

fn default_propose() -> u64 {
    1_000
}
fn default_vote() -> u64 {
    500
}

/// Transaction gossip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GossipSection {
    /// libp2p listen address (multiaddr).
    pub listen: String,
    /// Peers to keep connections to (multiaddrs).
    #[serde(default)]
    pub peers: Vec<String>,
}

/// The API server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcSection {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body, in bytes.
    #[serde(default = "default_request_bytes")]
    pub max_request_bytes: u32,
}

fn default_request_bytes() -> u32 {
    1 << 20
}

/// Oasis's gRPC node API (CBOR codec, and gRPC-web on the same port), for
/// the Oasis CLI, SDKs and wallets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcSection {
    /// Address to listen on.
    pub listen: SocketAddr,
}

/// Mempool bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolSection {
    /// Most transactions.
    #[serde(default = "default_max_txs")]
    pub max_txs: usize,
    /// Most bytes.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Most transactions of one sender.
    #[serde(default = "default_per_sender")]
    pub max_per_sender: usize,
}

fn default_max_txs() -> usize {
    50_000
}
fn default_max_bytes() -> usize {
    64 << 20
}
fn default_per_sender() -> usize {
    1_024
}

impl Default for MempoolSection {
    fn default() -> Self {
        Self {
            max_txs: default_max_txs(),
            max_bytes: default_max_bytes(),
            max_per_sender: default_per_sender(),
        }
    }
}

/// A node's configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the chain and the WAL live.
    pub data_dir: PathBuf,
    /// The genesis document.
    pub genesis: PathBuf,
    /// The identity directory.
    pub identity: PathBuf,
    /// Validator or full node.
    #[serde(default)]
    pub role: Role,
    /// A name for logs and metrics.
    #[serde(default = "default_moniker")]
    pub moniker: String,
    /// Log filter.
    #[serde(default = "default_log")]
    pub log: String,
    /// Consensus network.
    pub consensus: ConsensusSection,
    /// Transaction gossip (none: transactions reach only this node's
    /// mempool).
    #[serde(default)]
    pub gossip: Option<GossipSection>,
    /// API server (none: no API).
    #[serde(default)]
    pub rpc: Option<RpcSection>,
    /// Mempool bounds.
    #[serde(default)]
    pub mempool: MempoolSection,
    /// Oasis's gRPC node API (none: not served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcSection>,
    /// Compute node: gossip among compute nodes and storage sync (required
    /// when `runtime` lists any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<ComputeSection>,
    /// ParaTimes this node serves as a compute node.
    #[serde(default, rename = "runtime", skip_serializing_if = "Vec::is_empty")]
    pub runtimes: Vec<RuntimeSection>,
    /// The explorer page on the API's port (absent: off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explorer: Option<ExplorerSection>,
}

/// `[explorer]`: the web page the node serves at `/explorer` on its API
/// port (see `atoll_explorer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplorerSection {
    /// Serve it (off by default: a validator's API need not serve pages).
    #[serde(default)]
    pub enabled: bool,
}

impl NodeConfig {
    /// Whether the explorer is served (`[explorer] enabled`, and an API to
    /// serve it on).
    pub fn explorer_enabled(&self) -> bool {
        self.rpc.is_some() && self.explorer.as_ref().is_some_and(|e| e.enabled)
    }
}

/// The compute node's networking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeSection {
    /// libp2p listen address of the compute gossip (proposals, runtime
    /// transactions).
    pub listen: String,
    /// Other compute nodes' gossip addresses (multiaddrs).
    #[serde(default)]
    pub peers: Vec<String>,
    /// Other compute nodes' API URLs (`http://host:port`), asked for the
    /// records of finalized rounds this node lacks (storage sync).
    #[serde(default)]
    pub storage_peers: Vec<String>,
}

/// A ParaTime this node runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSection {
    /// The runtime id (64 hex digits), as registered in consensus.
    pub id: String,
    /// The runtime binary (absolute, or relative to this file; a bare name
    /// is looked up next to the `atoll` binary).
    pub binary: PathBuf,
    /// Arguments before the runtime's own (`--runtime-id`, `--genesis`),
    /// e.g. `["runtime-plain"]` when `binary` is `atoll`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The runtime's genesis (canonical CBOR), given to the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<PathBuf>,
    /// Most transactions in this node's pool for the runtime.
    #[serde(default = "default_runtime_pool")]
    pub max_pool_txs: usize,
    /// Test-only misbehaviour (`"wrong-results"`, `"silent-proposer"`);
    /// refused unless the genesis is a debug one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_fault: Option<atoll_compute::executor::Fault>,
    /// When set, this node, as the round's proposer, proposes an empty batch
    /// once a round has stayed open this many milliseconds with no work:
    /// the runtime then makes blocks at a steady pace even when idle, as
    /// Ethereum tooling expects (a wallet waiting for confirmations).
    /// Unset: rounds only when there is work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_round_ms: Option<u64>,
    /// Where to serve the runtime's Ethereum JSON-RPC (HTTP and WebSocket;
    /// none: not served). For EVM runtimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web3: Option<SocketAddr>,
    /// Most blocks one `eth_getLogs` may span.
    #[serde(default = "default_web3_log_rounds")]
    pub web3_max_log_rounds: u64,
    /// Origins allowed to call the Ethereum JSON-RPC from a browser (CORS):
    /// `"*"` for any, or `http(s)://host[:port]`. Empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub web3_cors: Vec<String>,
    /// Most gas an `eth_call` or `eth_estimateGas` runs with (geth's
    /// `rpc.gascap`).
    #[serde(default = "default_rpc_gas_cap")]
    pub rpc_gas_cap: u64,
    /// Longest a query or a simulation of this runtime may run, in
    /// milliseconds (geth's `rpc.evmtimeout`).
    #[serde(default = "default_rpc_evm_timeout_ms")]
    pub rpc_evm_timeout_ms: u64,
    /// Most calls in one batch of the Ethereum JSON-RPC (geth's
    /// `BatchRequestLimit`).
    #[serde(default = "default_rpc_batch_request_limit")]
    pub rpc_batch_request_limit: u32,
    /// Most bytes of a batch's answers on the Ethereum JSON-RPC (geth's
    /// `BatchResponseMaxSize`); also the largest single answer.
    #[serde(default = "default_rpc_batch_response_max_size")]
    pub rpc_batch_response_max_size: u32,
    /// Whether pre-EIP-155 Ethereum transactions (no chain id: replayable
    /// from any chain) are accepted from clients (geth's
    /// `rpc.allow-unprotected-txs`).
    #[serde(default)]
    pub allow_unprotected_txs: bool,
}

fn default_web3_log_rounds() -> u64 {
    100
}

/// geth's `rpc.gascap`.
pub const DEFAULT_RPC_GAS_CAP: u64 = 50_000_000;
/// geth's `rpc.evmtimeout`, in milliseconds.
pub const DEFAULT_RPC_EVM_TIMEOUT_MS: u64 = 5_000;
/// geth's `BatchRequestLimit`.
pub const DEFAULT_RPC_BATCH_REQUEST_LIMIT: u32 = 1_000;
/// geth's `BatchResponseMaxSize`.
pub const DEFAULT_RPC_BATCH_RESPONSE_MAX_SIZE: u32 = 25_000_000;

fn default_rpc_gas_cap() -> u64 {
    DEFAULT_RPC_GAS_CAP
}
fn default_rpc_evm_timeout_ms() -> u64 {
    DEFAULT_RPC_EVM_TIMEOUT_MS
}
fn default_rpc_batch_request_limit() -> u32 {
    DEFAULT_RPC_BATCH_REQUEST_LIMIT
}
fn default_rpc_batch_response_max_size() -> u32 {
    DEFAULT_RPC_BATCH_RESPONSE_MAX_SIZE
}

fn default_runtime_pool() -> usize {
    100_000
}

fn default_moniker() -> String {
    "atoll-node".into()
}
fn default_log() -> String {
    "info".into()
}

impl NodeConfig {
    /// Reads a configuration file; relative paths in it are taken from the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|why| ConfigError::Invalid {
            path: path.to_path_buf(),
            why,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut config.data_dir,
            &mut config.genesis,
            &mut config.identity,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for r in &mut config.runtimes {
            if r.binary.components().count() > 1 && r.binary.is_relative() {
                r.binary = base.join(&r.binary);
            }
            if let Some(g) = &mut r.genesis
                && g.is_relative()
            {
                *g = base.join(&*g);
            }
        }
        Ok(config)
    }

    /// Parses configuration text (paths as written).
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.check()?;
        Ok(config)
    }

    /// The configuration as TOML.
    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string_pretty(self).map_err(|e| e.to_string())
    }

    fn check(&self) -> Result<(), String> {
        if self.consensus.timeout_propose_ms == 0
            || self.consensus.timeout_prevote_ms == 0
            || self.consensus.timeout_precommit_ms == 0
        {
            return Err("consensus timeouts must be positive".into());
        }
        if self.mempool.max_txs == 0 || self.mempool.max_bytes == 0 {
            return Err("mempool bounds must be positive".into());
        }
        if !self.runtimes.is_empty() && self.compute.is_none() {
            return Err("a node that serves runtimes needs a [compute] section".into());
        }
        let mut ids = std::collections::BTreeSet::new();
        for r in &self.runtimes {
            let id: atoll_types::Namespace =
                r.id.parse()
                    .map_err(|e| format!("runtime id {:?}: {e}", r.id))?;
            if !ids.insert(id) {
                return Err(format!("runtime {} is listed twice", r.id));
            }
            if r.web3_max_log_rounds == 0 {
                return Err(format!(
                    "runtime {}: web3_max_log_rounds must be positive",
                    r.id
                ));
            }
            for (key, zero) in [
                ("rpc_gas_cap", r.rpc_gas_cap == 0),
                ("rpc_evm_timeout_ms", r.rpc_evm_timeout_ms == 0),
                ("rpc_batch_request_limit", r.rpc_batch_request_limit == 0),
                (
                    "rpc_batch_response_max_size",
                    r.rpc_batch_response_max_size == 0,
                ),
            ] {
                if zero {
                    return Err(format!("runtime {}: {key} must be positive", r.id));
                }
            }
            for origin in &r.web3_cors {
                atoll_web3::check_cors_origin(origin)
                    .map_err(|e| format!("runtime {}: web3_cors: {e}", r.id))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    const EXAMPLE: &str = r#"
data_dir = "data"
genesis = "genesis.json"
identity = "identity"
role = "full"
moniker = "n0"

[consensus]
listen = "/ip4/127.0.0.1/tcp/26656"
peers = ["/ip4/127.0.0.1/tcp/26666"]

[rpc]
listen = "127.0.0.1:26658"
"#;

    #[test]
    fn parses_resolves_paths_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let c = NodeConfig::load(&path).unwrap();
        assert_eq!(c.role, Role::Full);
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.consensus.timeout_propose_ms, 1_000);
        assert!(c.gossip.is_none());
        assert_eq!(c.mempool, MempoolSection::default());
        let again = NodeConfig::parse(&c.to_toml().unwrap()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn the_explorer_is_off_unless_enabled() {
        let c = NodeConfig::parse(EXAMPLE).unwrap();
        assert_eq!(c.explorer, None);
        assert!(!c.explorer_enabled());
        let on = NodeConfig::parse(&format!("{EXAMPLE}\n[explorer]\nenabled = true\n")).unwrap();
        assert!(on.explorer_enabled());
        assert_eq!(NodeConfig::parse(&on.to_toml().unwrap()).unwrap(), on);
        let off = NodeConfig::parse(&format!("{EXAMPLE}\n[explorer]\n")).unwrap();
        assert!(!off.explorer_enabled());
        assert!(NodeConfig::parse(&format!("{EXAMPLE}\n[explorer]\nlisten = \"x\"\n")).is_err());
        // No API, no explorer.
        let mut no_api = on.clone();
        no_api.rpc = None;
        assert!(!no_api.explorer_enabled());
    }

    #[test]
    fn runtimes_may_serve_web3() {
        let text = format!(
            r#"{EXAMPLE}
[compute]
listen = "/ip4/127.0.0.1/tcp/26659"

[[runtime]]
id = "8000000000000000000000000000000000000000000000000000000000000001"
binary = "atoll-runtime-evm"
web3 = "127.0.0.1:8545"

[[runtime]]
id = "8000000000000000000000000000000000000000000000000000000000000002"
binary = "atoll-runtime-evm"
web3 = "127.0.0.1:8546"
web3_max_log_rounds = 500
web3_cors = ["https://app.example", "http://localhost:3000"]
"#
        );
        let c = NodeConfig::parse(&text).unwrap();
        assert_eq!(c.runtimes[0].web3, Some("127.0.0.1:8545".parse().unwrap()));
        assert_eq!(c.runtimes[0].web3_max_log_rounds, 100);
        assert_eq!(c.runtimes[1].web3_max_log_rounds, 500);
        assert!(c.runtimes[0].web3_cors.is_empty());
        assert_eq!(
            c.runtimes[1].web3_cors,
            vec!["https://app.example", "http://localhost:3000"]
        );
        assert_eq!(NodeConfig::parse(&c.to_toml().unwrap()).unwrap(), c);
        assert!(NodeConfig::parse(&text.replace("= 500", "= 0")).is_err());
        assert!(NodeConfig::parse(&text.replace("127.0.0.1:8546", "nowhere")).is_err());
        assert!(NodeConfig::parse(&text.replace("https://app.example", "*")).is_ok());
        let bad = NodeConfig::parse(&text.replace("https://app.example", "app.example"));
        assert!(bad.unwrap_err().to_string().contains("web3_cors"));
        // The RPC limits, with geth's defaults.
        let r = &c.runtimes[0];
        assert_eq!(r.rpc_gas_cap, 50_000_000);
        assert_eq!(r.rpc_evm_timeout_ms, 5_000);
        assert_eq!(r.rpc_batch_request_limit, 1_000);
        assert_eq!(r.rpc_batch_response_max_size, 25_000_000);
        assert!(!r.allow_unprotected_txs);
        let set = text.replace(
            "web3_max_log_rounds = 500",
            "web3_max_log_rounds = 500\nrpc_gas_cap = 1000000\nrpc_evm_timeout_ms = 250\n\
             rpc_batch_request_limit = 10\nrpc_batch_response_max_size = 4096\n\
             allow_unprotected_txs = true",
        );
        let c = NodeConfig::parse(&set).unwrap();
        let r = &c.runtimes[1];
        assert_eq!(
            (
                r.rpc_gas_cap,
                r.rpc_evm_timeout_ms,
                r.rpc_batch_request_limit
            ),
            (1_000_000, 250, 10)
        );
        assert_eq!(r.rpc_batch_response_max_size, 4096);
        assert!(r.allow_unprotected_txs);
        assert_eq!(NodeConfig::parse(&c.to_toml().unwrap()).unwrap(), c);
        for zero in [
            "rpc_gas_cap = 0",
            "rpc_evm_timeout_ms = 0",
            "rpc_batch_request_limit = 0",
            "rpc_batch_response_max_size = 0",
        ] {
            let key = zero.split(' ').next().unwrap();
            let bad = text.replace(
                "web3_max_log_rounds = 500",
                &format!("web3_max_log_rounds = 500\n{zero}"),
            );
            let err = NodeConfig::parse(&bad).unwrap_err();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_explained() {
        let err = NodeConfig::parse(&format!("{EXAMPLE}\nbogus = 1\n")).unwrap_err();
        assert!(err.contains("bogus"), "{err}");
        let err = NodeConfig::parse(&EXAMPLE.replace("\"full\"", "\"king\"")).unwrap_err();
        assert!(err.contains("king") || err.contains("variant"), "{err}");
        let err = NodeConfig::parse(&EXAMPLE.replace("127.0.0.1:26658", "nowhere")).unwrap_err();
        assert!(err.contains("listen") || err.contains("address"), "{err}");
        let zero = EXAMPLE.replace("[rpc]", "[mempool]\nmax_txs = 0\n\n[rpc]");
        assert!(NodeConfig::parse(&zero).is_err());
    }
}

//! `atoll localnet`: a whole consensus network on this machine, one process
//! per node, with funded development accounts.
//!
//! - A directory without `genesis.json` gets a new network
//!   ([`atoll_node::localnet::Layout::create`]): a debug genesis, validators
//!   with equal stake, optional full nodes, and [`DEV_ACCOUNTS`] accounts
//!   derived from the well-known [`DEV_MNEMONIC`] and funded at genesis.
//! - A directory with one is restarted where it stopped
//!   ([`atoll_node::localnet::Layout::load`]).
//!
//! The command waits until every node has finalized a new block, prints a
//! summary (also written to `<dir>/localnet.json`), then runs until Ctrl-C
//! or SIGTERM (all nodes are stopped cleanly, exit 0) or until a node exits
//! on its own (the others are stopped, exit 1).
//!
//! Development accounts are **not** BIP-39/SLIP-10 wallets: account `i`'s
//! ed25519 seed is `SHA-512/256("atoll/dev-account" || mnemonic ||
//! u32_be(i))`. Anyone can recompute them; they are for local testing only.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_node::localnet::{Layout, NodeProcess, Plan};
use atoll_types::Quantity;
use serde_json::{Value, json};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The well-known BIP-39 test mnemonic the development accounts come from.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many development accounts are derived and funded.
pub const DEV_ACCOUNTS: u32 = 5;

/// What each development account holds at genesis (base units).
pub const DEV_FUNDS: u128 = 1_000_000_000_000_000_000;

/// The domain separator of atoll's development-account derivation.
const DERIVATION_CONTEXT: &[u8] = b"atoll/dev-account";

/// How the development accounts are derived, as printed and recorded.
const DERIVATION: &str = "atoll dev derivation (not BIP-39/SLIP-10): \
     ed25519 seed = SHA-512/256(\"atoll/dev-account\" || mnemonic || u32_be(index))";

/// How long the nodes get to finalize their first block.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How long each node gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The options of `atoll localnet`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The localnet directory.
    pub data_dir: PathBuf,
    /// Validators to create (`None`: 4, or whatever the directory holds).
    pub validators: Option<usize>,
    /// One validator with short timeouts.
    pub single: bool,
    /// Full nodes to create (`None`: 0, or whatever the directory holds).
    pub full_nodes: Option<usize>,
}

/// A development account.
#[derive(Debug, Clone)]
pub struct DevAccount {
    /// Its index in the derivation.
    pub index: u32,
    /// Its key.
    pub key: SigningKey,
    /// Its address.
    pub address: Address,
}

/// The development account `index` of `mnemonic` (atoll's own derivation,
/// see the module documentation).
pub fn dev_account(mnemonic: &str, index: u32) -> DevAccount {
    let seed = Hash::digest_parts(&[
        DERIVATION_CONTEXT,
        mnemonic.as_bytes(),
        &index.to_be_bytes(),
    ]);
    let key = SigningKey::from_seed(seed.as_bytes());
    let address = Address::from_ed25519(&key.public_key());
    DevAccount {
        index,
        key,
        address,
    }
}

/// All development accounts of [`DEV_MNEMONIC`].
pub fn dev_accounts() -> Vec<DevAccount> {
    (0..DEV_ACCOUNTS)
        .map(|i| dev_account(DEV_MNEMONIC, i))
        .collect()
}

/// Runs `atoll localnet`.
pub fn run(options: &Options) -> anyhow::Result<ExitCode> {
    if options.validators == Some(0) {
        bail!("--validators must be at least 1 (a network needs a validator to finalize blocks)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(options))
}

struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    /// Which signal arrived (waits until one does).
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "Ctrl-C",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }

    /// The signal that arrives within `within`, if any.
    async fn within(&mut self, within: Duration) -> Option<&'static str> {
        tokio::select! {
            biased;
            s = self.recv() => Some(s),
            () = tokio::time::sleep(within) => None,
        }
    }
}

/// The network's counts, by role, as its configurations say.
fn counts(layout: &Layout) -> anyhow::Result<(usize, usize)> {
    let mut validators = 0;
    let mut full = 0;
    for node in &layout.nodes {
        let config = atoll_node::NodeConfig::load(&node.config)
            .with_context(|| format!("cannot read {}", node.config.display()))?;
        match config.role {
            atoll_node::Role::Validator => validators += 1,
            atoll_node::Role::Full => full += 1,
        }
    }
    Ok((validators, full))
}

fn role_of(node: &atoll_node::localnet::NodeFiles) -> &'static str {
    match atoll_node::NodeConfig::load(&node.config).map(|c| c.role) {
        Ok(atoll_node::Role::Full) => "full",
        _ => "validator",
    }
}

/// Opens the localnet in `options.data_dir`, creating it when needed.
/// Returns it and whether it is new.
fn open(options: &Options) -> anyhow::Result<(Layout, bool)> {
    let dir = &options.data_dir;
    if dir.join("genesis.json").exists() {
        let layout = Layout::load(dir)
            .with_context(|| format!("cannot load the localnet in {}", dir.display()))?;
        if layout.nodes.is_empty() {
            bail!(
                "{} has a genesis.json but no node directories (<node>/node.toml); \
                 remove it to create a new localnet",
                dir.display()
            );
        }
        let (validators, full) = counts(&layout)?;
        let wanted_validators = if options.single {
            Some(1)
        } else {
            options.validators
        };
        let flag = if options.single {
            "--single".to_string()
        } else {
            format!("--validators {}", options.validators.unwrap_or(0))
        };
        if let Some(n) = wanted_validators
            && n != validators
        {
            bail!(
                "{} already holds a localnet with {validators} validator(s); {flag} conflicts \
                 with it. Omit the flag to restart that network, or choose another --data-dir \
                 (or remove this one) to create a new network.",
                dir.display()
            );
        }
        if let Some(n) = options.full_nodes
            && n != full
        {
            bail!(
                "{} already holds a localnet with {full} full node(s); --full-nodes {n} \
                 conflicts with it. Omit the flag to restart that network, or choose another \
                 --data-dir (or remove this one) to create a new network.",
                dir.display()
            );
        }
        return Ok((layout, false));
    }
    let mut plan = Plan {
        validators: options.validators.unwrap_or(4),
        full_nodes: options.full_nodes.unwrap_or(0),
        funded: dev_accounts()
            .iter()
            .map(|a| (a.address, Quantity(DEV_FUNDS)))
            .collect(),
        ..Plan::default()
    };
    if options.single {
        plan.validators = 1;
        plan.timeout_propose_ms = 300;
        plan.timeout_vote_ms = 150;
        plan.block_time_ms = 100;
    }
    let layout = Layout::create(dir, &plan)
        .with_context(|| format!("cannot create a localnet in {}", dir.display()))?;
    Ok((layout, true))
}

/// One JSON-RPC call over a fresh HTTP connection (short timeouts: the
/// nodes are local).
fn rpc_call(addr: SocketAddr, method: &str, params: &Value) -> Result<Value, String> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    let start = out.find("\r\n\r\n").map_or(0, |i| i + 4);
    let v: Value = serde_json::from_str(out.get(start..).unwrap_or_default())
        .map_err(|e| format!("parse: {e}"))?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// A node's latest height, if its API answers.
fn height(addr: SocketAddr) -> Option<u64> {
    rpc_call(addr, "node_status", &json!([]))
        .ok()
        .map(|s| s.get("latest_height").and_then(Value::as_u64).unwrap_or(0))
}

/// The last lines of a node's log.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all.get(all.len().saturating_sub(lines)..)
        .unwrap_or_default()
        .join("\n")
}

fn log_path(node: &NodeProcess) -> PathBuf {
    node.files.dir.join("node.log")
}

/// Stops every node still running (SIGTERM, then SIGKILL after
/// [`STOP_GRACE`]), in parallel.
fn stop_all(nodes: &mut [NodeProcess]) {
    std::thread::scope(|scope| {
        for node in nodes.iter_mut() {
            if node.running() {
                scope.spawn(move || node.stop(STOP_GRACE));
            }
        }
    });
}

/// Reports a node that exited on its own and stops the others.
fn node_died(nodes: &mut [NodeProcess], index: usize) -> ExitCode {
    eprintln!();
    if let Some(node) = nodes.get(index) {
        let log = log_path(node);
        eprintln!(
            "error: node {} exited unexpectedly; last lines of {}:",
            node.files.name,
            log.display()
        );
        eprintln!("{}", log_tail(&log, 30));
    }
    eprintln!("stopping the other nodes...");
    stop_all(nodes);
    ExitCode::FAILURE
}

fn first_dead(nodes: &mut [NodeProcess]) -> Option<usize> {
    nodes.iter_mut().position(|n| !n.running())
}

/// What ended a wait.
enum Ended {
    Signal(&'static str),
    NodeExited(usize),
}

/// Checks for a node that exited; gives a signal that may have caused it
/// (a Ctrl-C in a terminal reaches the nodes too) a moment to arrive first.
async fn check_nodes(nodes: &mut [NodeProcess], signals: &mut Signals) -> Option<Ended> {
    let dead = first_dead(nodes)?;
    Some(match signals.within(Duration::from_secs(1)).await {
        Some(s) => Ended::Signal(s),
        None => Ended::NodeExited(dead),
    })
}

async fn run_async(options: &Options) -> anyhow::Result<ExitCode> {
    // Handle signals from the start, so that a Ctrl-C never orphans nodes.
    let mut signals = Signals::new()?;
    let (layout, created) = open(options)?;
    let dir = &layout.dir;
    let summary_path = dir.join("localnet.json");
    // A summary left by an earlier run would describe a network that is not
    // up yet.
    if summary_path.exists() {
        std::fs::remove_file(&summary_path)
            .with_context(|| format!("cannot remove {}", summary_path.display()))?;
    }
    let chain_context = layout
        .genesis
        .chain_context()
        .context("the genesis document does not encode")?;
    if created {
        eprintln!(
            "created a localnet of {} node(s) in {}",
            layout.nodes.len(),
            dir.display()
        );
    } else {
        eprintln!(
            "restarting the localnet of {} node(s) in {}",
            layout.nodes.len(),
            dir.display()
        );
    }

    let exe = std::env::current_exe().context("cannot find the atoll executable")?;
    let started = Instant::now();
    let mut nodes = Vec::with_capacity(layout.nodes.len());
    for files in &layout.nodes {
        match NodeProcess::spawn(&exe, files) {
            Ok(p) => nodes.push(p),
            Err(e) => {
                stop_all(&mut nodes);
                return Err(e).with_context(|| format!("cannot start node {}", files.name));
            }
        }
    }

    // Wait until every node has finalized a block it did not have when it
    // started (height >= 1 for a new network).
    let mut first_seen: Vec<Option<u64>> = vec![None; nodes.len()];
    let mut heights: Vec<Option<u64>> = vec![None; nodes.len()];
    let ended = loop {
        for (i, node) in nodes.iter().enumerate() {
            let h = height(node.files.rpc);
            if let (Some(h), Some(seen)) = (h, first_seen.get_mut(i))
                && seen.is_none()
            {
                *seen = Some(h);
            }
            if let Some(slot) = heights.get_mut(i) {
                *slot = h;
            }
        }
        let targets: Vec<u64> = first_seen
            .iter()
            .map(|s| {
                if created {
                    1
                } else {
                    s.map_or(1, |h| h + 1).max(1)
                }
            })
            .collect();
        let ready = heights
            .iter()
            .zip(&targets)
            .filter(|(h, t)| h.is_some_and(|h| h >= **t))
            .count();
        let elapsed = started.elapsed();
        eprint!(
            "\rwaiting for the first block: {ready}/{} node(s) ready, heights {} ({} s)   ",
            nodes.len(),
            heights
                .iter()
                .map(|h| h.map_or_else(|| "-".to_string(), |h| h.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
            elapsed.as_secs()
        );
        if ready == nodes.len() {
            eprintln!();
            break None;
        }
        if let Some(ended) = check_nodes(&mut nodes, &mut signals).await {
            break Some(ended);
        }
        if elapsed > START_TIMEOUT {
            eprintln!();
            eprintln!(
                "error: the nodes did not all finalize a block within {} s",
                START_TIMEOUT.as_secs()
            );
            for (node, h) in nodes.iter().zip(&heights) {
                if h.is_none_or(|h| h < 1) {
                    let log = log_path(node);
                    eprintln!(
                        "--- {} (height {h:?}), last lines of {} ---",
                        node.files.name,
                        log.display()
                    );
                    eprintln!("{}", log_tail(&log, 20));
                }
            }
            stop_all(&mut nodes);
            return Ok(ExitCode::FAILURE);
        }
        if let Some(s) = signals.within(Duration::from_millis(250)).await {
            break Some(Ended::Signal(s));
        }
    };
    match ended {
        Some(Ended::Signal(s)) => {
            eprintln!();
            eprintln!("{s}: stopping {} node(s)...", nodes.len());
            stop_all(&mut nodes);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Ended::NodeExited(i)) => return Ok(node_died(&mut nodes, i)),
        None => {}
    }
    let time_to_first_block = started.elapsed();

    // The summary.
    let accounts = dev_accounts();
    let node_entries: Vec<Value> = nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.files.name,
                "role": role_of(&n.files),
                "rpc_url": format!("http://{}", n.files.rpc),
                "ws_url": format!("ws://{}", n.files.rpc),
                "log": log_path(n).display().to_string(),
            })
        })
        .collect();
    let account_entries: Vec<Value> = accounts
        .iter()
        .map(|a| {
            let balance = layout
                .genesis
                .staking
                .ledger
                .get(&a.address)
                .map_or(0, |acct| acct.general.balance.0);
            json!({
                "index": a.index,
                "address": a.address.to_string(),
                "public_key": a.key.public_key().to_string(),
                "private_key": hex::encode(a.key.seed()),
                "genesis_balance": balance.to_string(),
            })
        })
        .collect();
    let summary = json!({
        "chain_id": layout.genesis.chain_id,
        "chain_context": chain_context.as_str(),
        "nodes": node_entries,
        "mnemonic": DEV_MNEMONIC,
        "account_derivation": DERIVATION,
        "accounts": account_entries,
        "ethereum_accounts": [],
        "time_to_first_block_ms": u64::try_from(time_to_first_block.as_millis()).unwrap_or(u64::MAX),
        "resumed": !created,
    });
    let text = serde_json::to_string_pretty(&summary)?;
    // Written whole, then renamed: readers never see half a file.
    let tmp = dir.join(".localnet.json.tmp");
    let written =
        std::fs::write(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, &summary_path));
    if let Err(e) = written {
        stop_all(&mut nodes);
        return Err(e).with_context(|| format!("cannot write {}", summary_path.display()));
    }
    print_summary(
        &layout,
        chain_context.as_str(),
        &nodes,
        &accounts,
        time_to_first_block,
        created,
        &summary_path,
    );

    // Run until a signal or a node's death.
    let ended = loop {
        if let Some(s) = signals.within(Duration::from_millis(500)).await {
            break Ended::Signal(s);
        }
        if let Some(ended) = check_nodes(&mut nodes, &mut signals).await {
            break ended;
        }
    };
    match ended {
        Ended::Signal(s) => {
            eprintln!("{s}: stopping {} node(s)...", nodes.len());
            stop_all(&mut nodes);
            eprintln!("localnet stopped; restart it with the same --data-dir");
            Ok(ExitCode::SUCCESS)
        }
        Ended::NodeExited(i) => Ok(node_died(&mut nodes, i)),
    }
}

fn print_summary(
    layout: &Layout,
    chain_context: &str,
    nodes: &[NodeProcess],
    accounts: &[DevAccount],
    time_to_first_block: Duration,
    created: bool,
    summary_path: &Path,
) {
    println!();
    println!("atoll localnet is running (consensus layer only)");
    println!("  DEBUG NETWORK: insecure conveniences are enabled; never use it for value");
    println!("  chain id:      {}", layout.genesis.chain_id);
    println!("  chain context: {chain_context}");
    println!(
        "  {}: {:.1} s",
        if created {
            "time from start to the first finalized block"
        } else {
            "time from restart to the first new finalized block"
        },
        time_to_first_block.as_secs_f64()
    );
    println!();
    println!("nodes:");
    for n in nodes {
        println!(
            "  {:<14} {:<9} http://{rpc}  ws://{rpc}",
            n.files.name,
            role_of(&n.files),
            rpc = n.files.rpc
        );
        println!("  {:<14} log: {}", "", log_path(n).display());
    }
    println!();
    println!("development mnemonic (well known; for local testing only):");
    println!("  {DEV_MNEMONIC}");
    println!("accounts ({DERIVATION}):");
    for a in accounts {
        let balance = layout
            .genesis
            .staking
            .ledger
            .get(&a.address)
            .map_or(0, |acct| acct.general.balance.0);
        println!("  #{} {}", a.index, a.address);
        println!(
            "     private key (ed25519 seed, hex): {}",
            hex::encode(a.key.seed())
        );
        println!("     genesis balance: {balance}");
    }
    println!("Ethereum accounts: none yet (they come with the EVM ParaTime).");
    println!();
    println!("summary written to {}", summary_path.display());
    println!("press Ctrl-C to stop all nodes");
}

//! `atoll localnet`: a whole network on this machine, one process per
//! node, with funded development accounts.
//!
//! - A directory without `genesis.json` gets a new network
//!   ([`crate::Layout::create`]): a debug genesis, validators
//!   with equal stake, optional full nodes, compute nodes (each with its own
//!   staked entity) and the chosen ParaTimes, every one served by every
//!   compute node. Defaults: 4 validators, 3 compute nodes, the built-in
//!   `plain` and `evm` ParaTimes (the EVM one with an Ethereum JSON-RPC on
//!   every compute node, chain id [`EVM_CHAIN_ID`]); `--single`: 1
//!   validator with fast blocks and 1 compute node. The VRF beacon (every
//!   node proves each epoch; `--insecure-beacon` for the block-hash one),
//!   node registrations that last 4 epochs and that the nodes renew.
//! - A directory with one is restarted where it stopped
//!   ([`crate::Layout::load`]).
//!
//! Development accounts, funded at genesis, come from the well-known
//! [`DEV_MNEMONIC`]:
//!
//! - [`DEV_ACCOUNTS`](crate::dev::DEV_ACCOUNTS) ed25519 accounts, funded on the consensus layer and in
//!   every ParaTime. They are **not** BIP-39/SLIP-10 wallets: account `i`'s
//!   seed is `SHA-512/256("atoll/dev-account" || mnemonic || u32_be(i))`.
//! - [`DEV_ACCOUNTS`](crate::dev::DEV_ACCOUNTS) Ethereum (secp256k1) accounts, funded in every
//!   ParaTime: BIP-39 seed (empty passphrase), BIP-32 path
//!   `m/44'/60'/0'/0/i`, the accounts Hardhat and Foundry print for this
//!   mnemonic (account 0: `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266`).
//!
//! Anyone can recompute these keys; they are for local testing only. Each
//! ParaTime's account on the consensus layer holds, from genesis, what the
//! ParaTime's genesis balances add up to, so withdrawals of those tokens
//! succeed.
//!
//! The command waits until every node has finalized a new block and every
//! ParaTime its first round (on a restart: serves its latest round again;
//! ParaTimes make rounds only when they have work) and answers queries on
//! every node that serves it, prints a summary with the time this took (also
//! written to `<dir>/localnet.json`), then runs until Ctrl-C or SIGTERM
//! (all nodes are stopped cleanly, exit 0) or until a node exits on its own
//! (the others are stopped, exit 1).
//!
//! `localnet.json` lists: the chain, every node (role, RPC URLs, log, the
//! ParaTimes it serves), every ParaTime (name, id, its consensus account,
//! the RPC URLs of the compute nodes serving it, its `kind`, and `evm`:
//! `null` for a plain ParaTime, else its chain id and Ethereum JSON-RPC
//! URLs), and the development accounts with their keys and what each
//! holds in each ParaTime.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command: the summary goes to stdout, progress and failures to stderr"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::dev::{
    BUILT_IN_PARATIMES, DERIVATION, DEV_EVM_FUNDS, DEV_FUNDS, DEV_MNEMONIC, DEV_RUNTIME_FUNDS,
    DevAccount, ETH_DERIVATION, EVM_CHAIN_ID, EthDevAccount, EthKeyDerivation, dev_accounts,
    eth_dev_accounts, paratime_genesis,
};
use crate::layout::{Layout, NodeFiles, Plan, RuntimePlan};
use crate::probe;
use crate::process::NodeProcess;
use anyhow::{Context as _, bail};
use atoll_crypto::Address;
use atoll_types::{Namespace, Quantity};
use serde_json::{Value, json};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// How long the nodes get to finalize their first block and the ParaTimes
/// their first round.
const START_TIMEOUT: Duration = Duration::from_secs(180);

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
    /// Compute nodes to create (`None`: 3, 1 with `single`, or whatever the
    /// directory holds).
    pub compute_nodes: Option<usize>,
    /// ParaTimes to create (`None`: `plain` and `evm`; `["none"]`: none;
    /// `measure` is built in too).
    pub paratimes: Option<Vec<String>>,
    /// Print the summary as JSON (what `localnet.json` holds) instead of text.
    pub json: bool,
    /// A new network uses the insecure (block-hash) beacon instead of the
    /// VRF beacon (a debug convenience).
    pub insecure_beacon: bool,
}

/// The ParaTime names of `--paratimes`, checked.
fn paratime_names(options: &Options) -> anyhow::Result<Vec<String>> {
    let Some(list) = &options.paratimes else {
        return Ok(crate::dev::DEFAULT_PARATIMES
            .iter()
            .map(|s| (*s).to_owned())
            .collect());
    };
    let list: Vec<String> = list
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if list.len() == 1 && list.first().is_some_and(|s| s == "none") {
        return Ok(Vec::new());
    }
    let mut out: Vec<String> = Vec::new();
    for name in list {
        if !BUILT_IN_PARATIMES.contains(&name.as_str()) {
            bail!(
                "unknown ParaTime {name:?} in --paratimes: the built-in ParaTimes are {} (or \
                 `none`)",
                BUILT_IN_PARATIMES.join(", ")
            );
        }
        if out.contains(&name) {
            bail!("ParaTime {name:?} is listed twice in --paratimes");
        }
        out.push(name);
    }
    Ok(out)
}

/// Runs `atoll localnet`.
pub fn run(options: &Options, derive: EthKeyDerivation) -> anyhow::Result<ExitCode> {
    if options.validators == Some(0) {
        bail!("--validators must be at least 1 (a network needs a validator to finalize blocks)");
    }
    let names = paratime_names(options)?;
    if options.compute_nodes == Some(0) && options.paratimes.is_some() && !names.is_empty() {
        bail!(
            "--paratimes needs compute nodes to run them: drop --compute-nodes 0, or pass \
             --paratimes none"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(options, derive))
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
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    validators: usize,
    full: usize,
    compute: usize,
}

fn counts(layout: &Layout) -> anyhow::Result<Counts> {
    let mut c = Counts::default();
    for node in &layout.nodes {
        let config = atoll_node::NodeConfig::load(&node.config)
            .with_context(|| format!("cannot read {}", node.config.display()))?;
        match (config.role, config.compute.is_some()) {
            (atoll_node::Role::Validator, _) => c.validators += 1,
            (atoll_node::Role::Full, true) => c.compute += 1,
            (atoll_node::Role::Full, false) => c.full += 1,
        }
    }
    Ok(c)
}

fn role_of(node: &NodeFiles) -> &'static str {
    match atoll_node::NodeConfig::load(&node.config) {
        Ok(c) if c.role == atoll_node::Role::Full && c.compute.is_some() => "compute",
        Ok(c) if c.role == atoll_node::Role::Full => "full",
        _ => "validator",
    }
}

/// A ParaTime of the localnet and the nodes (indices into the layout's
/// nodes) that serve it.
#[derive(Debug, Clone)]
struct LocalParaTime {
    name: String,
    id: Namespace,
    nodes: Vec<usize>,
    /// Where each serving node answers the Ethereum JSON-RPC (EVM
    /// ParaTimes: every serving node), in `nodes` order.
    web3: Vec<SocketAddr>,
}

impl LocalParaTime {
    fn consensus_address(&self) -> Address {
        Address::from_runtime_id(self.id.as_bytes())
    }

    fn is_evm(&self) -> bool {
        !self.web3.is_empty()
    }

    /// What each development account held in it at genesis.
    fn dev_funds(&self) -> u128 {
        if self.is_evm() {
            DEV_EVM_FUNDS
        } else {
            DEV_RUNTIME_FUNDS
        }
    }

    fn kind(&self) -> &'static str {
        if self.is_evm() {
            "evm"
        } else if self.name == "measure" {
            "measure"
        } else {
            "plain"
        }
    }
}

/// The ParaTimes the nodes' configurations run, in order of appearance;
/// named after their genesis files (`runtimes/<name>.cbor`).
fn paratimes_of(layout: &Layout) -> anyhow::Result<Vec<LocalParaTime>> {
    let mut out: Vec<LocalParaTime> = Vec::new();
    for (i, node) in layout.nodes.iter().enumerate() {
        let config = atoll_node::NodeConfig::load(&node.config)
            .with_context(|| format!("cannot read {}", node.config.display()))?;
        for r in &config.runtimes {
            let id: Namespace = r.id.parse().map_err(|e| {
                anyhow::anyhow!("{}: runtime id {}: {e}", node.config.display(), r.id)
            })?;
            if let Some(p) = out.iter_mut().find(|p| p.id == id) {
                p.nodes.push(i);
                p.web3.extend(r.web3);
                continue;
            }
            let name = r
                .genesis
                .as_ref()
                .and_then(|g| g.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("runtime-{}", r.id.get(56..).unwrap_or(&r.id)));
            out.push(LocalParaTime {
                name,
                id,
                nodes: vec![i],
                web3: r.web3.into_iter().collect(),
            });
        }
    }
    Ok(out)
}

fn conflict(dir: &Path, holds: String, flag: String) -> anyhow::Error {
    anyhow::anyhow!(
        "{} already holds a localnet with {holds}; {flag} conflicts with it. Omit the flag to \
         restart that network, or choose another --data-dir (or remove this one) to create a \
         new network.",
        dir.display()
    )
}

/// Opens the localnet in `options.data_dir`, creating it when needed.
/// Returns it and whether it is new.
fn open(options: &Options, derive: EthKeyDerivation) -> anyhow::Result<(Layout, bool)> {
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
        let c = counts(&layout)?;
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
            && n != c.validators
        {
            return Err(conflict(
                dir,
                format!("{} validator(s)", c.validators),
                flag,
            ));
        }
        if let Some(n) = options.full_nodes
            && n != c.full
        {
            return Err(conflict(
                dir,
                format!("{} full node(s)", c.full),
                format!("--full-nodes {n}"),
            ));
        }
        if let Some(n) = options.compute_nodes
            && n != c.compute
        {
            return Err(conflict(
                dir,
                format!("{} compute node(s)", c.compute),
                format!("--compute-nodes {n}"),
            ));
        }
        if options.paratimes.is_some() {
            let mut wanted = paratime_names(options)?;
            let mut have: Vec<String> =
                paratimes_of(&layout)?.into_iter().map(|p| p.name).collect();
            wanted.sort();
            have.sort();
            if wanted != have {
                return Err(conflict(
                    dir,
                    format!("ParaTimes [{}]", have.join(", ")),
                    format!("--paratimes {}", wanted.join(",")),
                ));
            }
        }
        return Ok((layout, false));
    }
    let names = paratime_names(options)?;
    let default_compute = match (names.is_empty(), options.single) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 3,
    };
    let compute_nodes = options.compute_nodes.unwrap_or(default_compute);
    let names = if compute_nodes == 0 {
        Vec::new()
    } else {
        names
    };
    let eth = eth_dev_accounts(derive)?;
    let mut funded: Vec<(Address, Quantity)> = dev_accounts()
        .iter()
        .map(|a| (a.address, Quantity(DEV_FUNDS)))
        .collect();
    let mut runtimes = Vec::new();
    for name in &names {
        let evm = name == "evm";
        let nodes = (0..compute_nodes).collect();
        let mut r = if evm {
            RuntimePlan::evm(name, nodes)
        } else if name == "measure" {
            RuntimePlan::measure(name, nodes)
        } else {
            RuntimePlan::plain(name, nodes)
        };
        let each = if evm {
            DEV_EVM_FUNDS
        } else {
            DEV_RUNTIME_FUNDS
        };
        let (genesis, supply) = paratime_genesis(&eth, each, evm)?;
        r.genesis = Some(genesis);
        // The ParaTime's consensus account backs what its genesis minted.
        funded.push((Address::from_runtime_id(r.id.as_bytes()), Quantity(supply)));
        runtimes.push(r);
    }
    let mut plan = Plan {
        validators: options.validators.unwrap_or(4),
        full_nodes: options.full_nodes.unwrap_or(0),
        compute_nodes,
        funded,
        runtimes,
        insecure_beacon: options.insecure_beacon,
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

/// How far the network got while starting.
struct StartState {
    /// Per node: the height first seen, and the latest.
    first_height: Vec<Option<u64>>,
    height: Vec<Option<u64>>,
    /// Per ParaTime: the latest round.
    round: Vec<Option<u64>>,
    /// Per ParaTime: whether every node serving it answers queries (its
    /// state has the genesis applied).
    queryable: Vec<bool>,
    /// When every node had a new block, and every ParaTime a new round.
    blocks_at: Option<Duration>,
    rounds_at: Option<Duration>,
}

impl StartState {
    fn new(nodes: usize, paratimes: usize) -> Self {
        Self {
            first_height: vec![None; nodes],
            height: vec![None; nodes],
            round: vec![None; paratimes],
            queryable: vec![false; paratimes],
            blocks_at: None,
            rounds_at: None,
        }
    }

    /// What a value must reach: 1 on a new network, one past the first
    /// value seen on a restarted one.
    fn target(created: bool, first: Option<u64>) -> u64 {
        if created {
            1
        } else {
            first.map_or(1, |v| v + 1).max(1)
        }
    }

    async fn poll(&mut self, nodes: &[NodeProcess], paratimes: &[LocalParaTime]) {
        for (i, node) in nodes.iter().enumerate() {
            let h = probe::height(node.files.rpc).await;
            if let (Some(h), Some(seen)) = (h, self.first_height.get_mut(i))
                && seen.is_none()
            {
                *seen = Some(h);
            }
            if let Some(slot) = self.height.get_mut(i) {
                *slot = h;
            }
        }
        for (i, p) in paratimes.iter().enumerate() {
            let serving: Vec<&NodeProcess> = p.nodes.iter().filter_map(|n| nodes.get(*n)).collect();
            // Any serving node will do; the first that answers.
            let mut r = None;
            for n in &serving {
                r = probe::latest_round(n.files.rpc, &p.id).await;
                if r.is_some() {
                    break;
                }
            }
            if let Some(slot) = self.round.get_mut(i) {
                *slot = r;
            }
            let mut answers = true;
            for n in &serving {
                answers = answers && probe::answers_queries(n.files.rpc, &p.id).await;
            }
            for addr in &p.web3 {
                answers = answers && probe::eth_answers(*addr).await;
            }
            if let Some(slot) = self.queryable.get_mut(i) {
                *slot = answers;
            }
        }
    }

    fn count_ready(created: bool, first: &[Option<u64>], now: &[Option<u64>]) -> usize {
        first
            .iter()
            .zip(now)
            .filter(|(f, n)| n.is_some_and(|n| n >= Self::target(created, **f)))
            .count()
    }
}

fn show(v: &[Option<u64>]) -> String {
    v.iter()
        .map(|h| h.map_or_else(|| "-".to_string(), |h| h.to_string()))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run_async(options: &Options, derive: EthKeyDerivation) -> anyhow::Result<ExitCode> {
    // Handle signals from the start, so that a Ctrl-C never orphans nodes.
    let mut signals = Signals::new()?;
    let (layout, created) = open(options, derive)?;
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
    let paratimes = paratimes_of(&layout)?;
    let c = counts(&layout)?;
    eprintln!(
        "{} a localnet of {} validator(s), {} full node(s), {} compute node(s) and {} \
         ParaTime(s) in {}",
        if created { "created" } else { "restarting" },
        c.validators,
        c.full,
        c.compute,
        paratimes.len(),
        dir.display()
    );

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
    // started (height >= 1 for a new network), and every ParaTime a round
    // (round >= 1 for a new network).
    let mut state = StartState::new(nodes.len(), paratimes.len());
    let ended = loop {
        state.poll(&nodes, &paratimes).await;
        let elapsed = started.elapsed();
        let blocks_ready = StartState::count_ready(created, &state.first_height, &state.height);
        // A ParaTime is live when it has finalized a round (a restarted one
        // makes rounds only when it has work: serving its latest round
        // again is enough) and every node serving it answers queries.
        let rounds_ready = state
            .round
            .iter()
            .zip(&state.queryable)
            .filter(|(now, queryable)| **queryable && now.is_some_and(|r| !created || r >= 1))
            .count();
        if blocks_ready == nodes.len() && state.blocks_at.is_none() {
            state.blocks_at = Some(elapsed);
        }
        if rounds_ready == paratimes.len() && state.rounds_at.is_none() {
            state.rounds_at = Some(elapsed);
        }
        let rounds_text = if paratimes.is_empty() {
            String::new()
        } else {
            format!(", ParaTime rounds {}", show(&state.round))
        };
        eprint!(
            "\rwaiting for the network: {blocks_ready}/{} node(s) at a new block, heights {}{} \
             ({} s)   ",
            nodes.len(),
            show(&state.height),
            rounds_text,
            elapsed.as_secs()
        );
        if state.blocks_at.is_some() && state.rounds_at.is_some() {
            eprintln!();
            break None;
        }
        if let Some(ended) = check_nodes(&mut nodes, &mut signals).await {
            break Some(ended);
        }
        if elapsed > START_TIMEOUT {
            eprintln!();
            eprintln!(
                "error: the network did not start within {} s (every node a new block, every \
                 ParaTime a new round)",
                START_TIMEOUT.as_secs()
            );
            for (node, h) in nodes.iter().zip(&state.height) {
                let log = log_path(node);
                eprintln!(
                    "--- {} (height {h:?}), last lines of {} ---",
                    node.files.name,
                    log.display()
                );
                eprintln!("{}", log_tail(&log, 15));
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
    let time_to_first_block = state.blocks_at.unwrap_or_else(|| started.elapsed());
    let time_to_first_round =
        (!paratimes.is_empty()).then(|| state.rounds_at.unwrap_or_else(|| started.elapsed()));

    let summary = Summary {
        layout: &layout,
        chain_context: chain_context.as_str(),
        nodes: &nodes,
        paratimes: &paratimes,
        accounts: dev_accounts(),
        eth_accounts: eth_dev_accounts(derive)?,
        time_to_first_block,
        time_to_first_round,
        created,
    };
    let document = summary.to_json();
    let text = serde_json::to_string_pretty(&document)?;
    // Written whole, then renamed: readers never see half a file.
    let tmp = dir.join(".localnet.json.tmp");
    let written =
        std::fs::write(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, &summary_path));
    if let Err(e) = written {
        stop_all(&mut nodes);
        return Err(e).with_context(|| format!("cannot write {}", summary_path.display()));
    }
    if options.json {
        println!("{text}");
    } else {
        summary.print(&summary_path);
    }

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

/// What `localnet.json` and the printed summary say.
struct Summary<'a> {
    layout: &'a Layout,
    chain_context: &'a str,
    nodes: &'a [NodeProcess],
    paratimes: &'a [LocalParaTime],
    accounts: Vec<DevAccount>,
    eth_accounts: Vec<EthDevAccount>,
    time_to_first_block: Duration,
    time_to_first_round: Option<Duration>,
    created: bool,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Summary<'_> {
    fn consensus_balance(&self, address: &Address) -> u128 {
        self.layout
            .genesis
            .staking
            .ledger
            .get(address)
            .map_or(0, |acct| acct.general.balance.0)
    }

    /// `, in <name>: <amount>, ...`: what each development account holds
    /// in each ParaTime (empty without ParaTimes).
    fn paratime_funds(&self) -> String {
        self.paratimes
            .iter()
            .map(|p| format!(", in {}: {}", p.name, p.dev_funds()))
            .collect()
    }

    /// The explorer's URL on the node serving the most ParaTimes (it sees
    /// their rounds and Ethereum JSON-RPC), the first node when none does.
    fn explorer_url(&self) -> Option<String> {
        let best =
            (0..self.nodes.len()).max_by_key(|i| (self.served_by(*i).len(), usize::MAX - i))?;
        Some(format!("http://{}/explorer", self.nodes[best].files.rpc))
    }

    fn served_by(&self, node: usize) -> Vec<&str> {
        self.paratimes
            .iter()
            .filter(|p| p.nodes.contains(&node))
            .map(|p| p.name.as_str())
            .collect()
    }

    fn to_json(&self) -> Value {
        let node_entries: Vec<Value> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({
                    "name": n.files.name,
                    "role": role_of(&n.files),
                    "rpc_url": format!("http://{}", n.files.rpc),
                    "ws_url": format!("ws://{}", n.files.rpc),
                    "grpc_url": n.files.grpc.map(|g| format!("http://{g}")),
                    "log": log_path(n).display().to_string(),
                    "paratimes": self.served_by(i),
                })
            })
            .collect();
        let paratime_entries: Vec<Value> = self
            .paratimes
            .iter()
            .map(|p| {
                let served: Vec<&NodeProcess> =
                    p.nodes.iter().filter_map(|i| self.nodes.get(*i)).collect();
                json!({
                    "name": p.name,
                    "id": p.id.to_string(),
                    "kind": p.kind(),
                    "consensus_address": p.consensus_address().to_string(),
                    "nodes": served.iter().map(|n| n.files.name.clone()).collect::<Vec<_>>(),
                    "rpc_urls": served
                        .iter()
                        .map(|n| format!("http://{}", n.files.rpc))
                        .collect::<Vec<_>>(),
                    "evm": p.web3.first().map(|first| json!({
                        "chain_id": EVM_CHAIN_ID,
                        "eth_rpc_url": format!("http://{first}"),
                        "eth_ws_url": format!("ws://{first}"),
                        "eth_rpc_urls": p.web3.iter().map(|a| format!("http://{a}")).collect::<Vec<_>>(),
                    })),
                })
            })
            .collect();
        // What each development account holds in each ParaTime.
        let runtime_funds: serde_json::Map<String, Value> = self
            .paratimes
            .iter()
            .map(|p| (p.name.clone(), Value::String(p.dev_funds().to_string())))
            .collect();
        let account_entries: Vec<Value> = self
            .accounts
            .iter()
            .map(|a| {
                json!({
                    "index": a.index,
                    "address": a.address.to_string(),
                    "public_key": a.key.public_key().to_string(),
                    "private_key": hex::encode(a.key.seed()),
                    "genesis_balance": self.consensus_balance(&a.address).to_string(),
                    "paratime_genesis_balances": runtime_funds,
                })
            })
            .collect();
        let eth_entries: Vec<Value> = self
            .eth_accounts
            .iter()
            .map(|a| {
                json!({
                    "index": a.index,
                    "address": a.key.public_key().to_eth_address().to_checksum(),
                    "oasis_address": a.address.to_string(),
                    "public_key": a.key.public_key().to_hex(),
                    "private_key": format!("0x{}", hex::encode(a.key.to_bytes())),
                    "paratime_genesis_balances": runtime_funds,
                })
            })
            .collect();
        json!({
            "chain_id": self.layout.genesis.chain_id,
            "chain_context": self.chain_context,
            "nodes": node_entries,
            "paratimes": paratime_entries,
            "mnemonic": DEV_MNEMONIC,
            "account_derivation": DERIVATION,
            "accounts": account_entries,
            "ethereum_derivation": ETH_DERIVATION,
            "ethereum_accounts": eth_entries,
            "explorer": self.explorer_url(),
            "time_to_first_block_ms": millis(self.time_to_first_block),
            "time_to_first_round_ms": self.time_to_first_round.map(millis),
            "resumed": !self.created,
        })
    }

    fn print(&self, summary_path: &Path) {
        let what = if self.created {
            "from start"
        } else {
            "from restart"
        };
        println!();
        println!("atoll localnet is running");
        println!("  DEBUG NETWORK: insecure conveniences are enabled; never use it for value");
        println!("  chain id:      {}", self.layout.genesis.chain_id);
        println!("  chain context: {}", self.chain_context);
        println!(
            "  time {what} to a finalized block on every node: {:.1} s",
            self.time_to_first_block.as_secs_f64()
        );
        if let Some(t) = self.time_to_first_round {
            if self.created {
                println!(
                    "  time from start to the first finalized ParaTime round: {:.1} s",
                    t.as_secs_f64()
                );
            } else {
                println!(
                    "  time from restart to every ParaTime serving its latest round: {:.1} s",
                    t.as_secs_f64()
                );
            }
        }
        println!();
        println!("nodes:");
        for (i, n) in self.nodes.iter().enumerate() {
            let served = self.served_by(i);
            println!(
                "  {:<14} {:<9} http://{rpc}  ws://{rpc}{}",
                n.files.name,
                role_of(&n.files),
                if served.is_empty() {
                    String::new()
                } else {
                    format!("  serves {}", served.join(", "))
                },
                rpc = n.files.rpc
            );
            if let Some(g) = n.files.grpc {
                println!("  {:<14} Oasis gRPC and gRPC-web: http://{g}", "");
            }
            println!("  {:<14} log: {}", "", log_path(n).display());
        }
        println!();
        if let Some(url) = self.explorer_url() {
            println!("explorer (open in a browser): {url}");
            println!();
        }
        if self.paratimes.is_empty() {
            println!("ParaTimes: none");
        } else {
            println!("ParaTimes:");
            for p in self.paratimes {
                println!("  {}  id {}", p.name, p.id);
                println!(
                    "  {:<width$}  consensus account {}",
                    "",
                    p.consensus_address(),
                    width = p.name.len()
                );
            }
        }
        let evm: Vec<&LocalParaTime> = self.paratimes.iter().filter(|p| p.is_evm()).collect();
        if evm.is_empty() {
            println!("Ethereum JSON-RPC: none (no EVM ParaTime in this network)");
        }
        for p in evm {
            println!(
                "Ethereum JSON-RPC of {} (chain id {EVM_CHAIN_ID}, {EVM_CHAIN_ID:#x}):",
                p.name
            );
            for a in &p.web3 {
                println!("  http://{a}  ws://{a}");
            }
        }
        println!();
        println!("development mnemonic (well known; for local testing only):");
        println!("  {DEV_MNEMONIC}");
        println!("ed25519 accounts ({DERIVATION}):");
        for a in &self.accounts {
            println!("  #{} {}", a.index, a.address);
            println!(
                "     private key (ed25519 seed, hex): {}",
                hex::encode(a.key.seed())
            );
            println!(
                "     consensus balance: {}{}",
                self.consensus_balance(&a.address),
                self.paratime_funds()
            );
        }
        if self.paratimes.is_empty() {
            println!("Ethereum accounts: funded only in ParaTimes, and this network has none.");
        } else {
            println!(
                "Ethereum accounts ({ETH_DERIVATION}), funded in each ParaTime{}:",
                self.paratime_funds()
            );
            for a in &self.eth_accounts {
                println!(
                    "  #{} {}  ({})",
                    a.index,
                    a.key.public_key().to_eth_address().to_checksum(),
                    a.address
                );
                println!("     private key: 0x{}", hex::encode(a.key.to_bytes()));
            }
        }
        println!();
        println!("summary written to {}", summary_path.display());
        println!("press Ctrl-C to stop all nodes");
    }
}

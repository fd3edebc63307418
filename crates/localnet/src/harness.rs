//! The network the end-to-end tests and the benchmarks start: one builder
//! for every shape they use, and a handle to the running processes.
//!
//! ```no_run
//! # fn demo(atoll: &std::path::Path, dir: &std::path::Path) -> Result<(), atoll_localnet::LocalnetError> {
//! use atoll_localnet::RuntimePlan;
//! use atoll_localnet::harness::Network;
//!
//! let net = Network::builder(atoll)
//!     .validators(1)
//!     .compute(3)
//!     .fast_blocks()
//!     .runtime(RuntimePlan::plain("plain", vec![0, 1, 2]))
//!     .start(dir)?;
//! let rpc = net.rpc("compute-0")?;
//! # let _ = rpc;
//! # Ok(())
//! # }
//! ```
//!
//! Waiting is bounded ([`wait_for`]) and every failure is a typed error;
//! the tests turn them into assertions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atoll_consensus::genesis::Genesis;
use atoll_crypto::Address;
use atoll_crypto::context::ChainContext;
use atoll_node::NodeConfig;
use atoll_types::Quantity;

use crate::layout::{Layout, LocalnetError, NodeFiles, Plan, RuntimePlan, io};
use crate::process::NodeProcess;

/// How long each node gets to stop after SIGTERM in [`Network::stop_all`].
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A change to a node's `node.toml` before it first starts.
type ConfigEdit = Box<dyn FnOnce(&mut NodeConfig)>;

/// A change to the generated genesis document before any node starts.
type GenesisEdit = Box<dyn FnOnce(&mut Genesis)>;

/// Describes a network to start: a [`Plan`] (by default
/// [`Plan::default`]: four validators, no compute node, no ParaTime), the
/// nodes to hold back and the edits to the generated genesis and
/// configurations.
pub struct Builder {
    exe: PathBuf,
    plan: Plan,
    held_back: Vec<String>,
    genesis_edit: Option<GenesisEdit>,
    config_edits: Vec<(String, ConfigEdit)>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("exe", &self.exe)
            .field("plan", &self.plan)
            .field("held_back", &self.held_back)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// One validator with [`Builder::fast_blocks`] and `compute` compute
    /// nodes: the shape of the ParaTime tests and benchmarks.
    #[must_use]
    pub fn one_validator(self, compute: usize) -> Self {
        self.validators(1).compute(compute).fast_blocks()
    }

    /// Validators (default 4).
    #[must_use]
    pub fn validators(mut self, n: usize) -> Self {
        self.plan.validators = n;
        self
    }

    /// Compute nodes (default 0).
    #[must_use]
    pub fn compute(mut self, n: usize) -> Self {
        self.plan.compute_nodes = n;
        self
    }

    /// Full nodes (default 0).
    #[must_use]
    pub fn full_nodes(mut self, n: usize) -> Self {
        self.plan.full_nodes = n;
        self
    }

    /// Blocks per epoch.
    #[must_use]
    pub fn epoch_interval(mut self, blocks: u64) -> Self {
        self.plan.epoch_interval = blocks;
        self
    }

    /// Short consensus timeouts for one machine: 300 ms to propose, 150 ms
    /// to vote, a block every 100 ms (what `atoll localnet --single` uses).
    #[must_use]
    pub fn fast_blocks(mut self) -> Self {
        self.plan.timeout_propose_ms = 300;
        self.plan.timeout_vote_ms = 150;
        self.plan.block_time_ms = 100;
        self
    }

    /// A ParaTime to register at genesis.
    #[must_use]
    pub fn runtime(mut self, runtime: RuntimePlan) -> Self {
        self.plan.runtimes.push(runtime);
        self
    }

    /// A consensus account funded at genesis with `amount` base units.
    #[must_use]
    pub fn funded(mut self, who: Address, amount: u128) -> Self {
        self.plan.funded.push((who, Quantity(amount)));
        self
    }

    /// Any other part of the plan (chain id, mempool, block pace...).
    #[must_use]
    pub fn plan(mut self, edit: impl FnOnce(&mut Plan)) -> Self {
        edit(&mut self.plan);
        self
    }

    /// The node `name` is created but not started ([`Network::start_node`]
    /// starts it later).
    #[must_use]
    pub fn hold_back(mut self, name: &str) -> Self {
        self.held_back.push(name.to_owned());
        self
    }

    /// Edits the generated genesis document before any node starts (it is
    /// written back to `genesis.json`).
    #[must_use]
    pub fn genesis(mut self, edit: impl FnOnce(&mut Genesis) + 'static) -> Self {
        self.genesis_edit = Some(Box::new(edit));
        self
    }

    /// Edits node `name`'s generated `node.toml` before it starts.
    #[must_use]
    pub fn configure(mut self, name: &str, edit: impl FnOnce(&mut NodeConfig) + 'static) -> Self {
        self.config_edits.push((name.to_owned(), Box::new(edit)));
        self
    }

    /// Writes the network into `dir` (keys, genesis, configurations, with
    /// the edits applied) without starting anything.
    pub fn create(self, dir: &Path) -> Result<Network, LocalnetError> {
        let mut layout = Layout::create(dir, &self.plan)?;
        if let Some(edit) = self.genesis_edit {
            edit(&mut layout.genesis);
            let json = layout.genesis.to_json().map_err(io)?;
            std::fs::write(dir.join("genesis.json"), json).map_err(io)?;
        }
        for (name, edit) in self.config_edits {
            let files = find(&layout, &name)?;
            let mut config = NodeConfig::load(&files.config).map_err(io)?;
            edit(&mut config);
            let toml = config.to_toml().map_err(io)?;
            std::fs::write(&files.config, toml).map_err(io)?;
        }
        let chain = layout.genesis.chain_context().map_err(io)?;
        Ok(Network {
            exe: self.exe,
            layout,
            procs: Vec::new(),
            chain,
            held_back: self.held_back,
        })
    }

    /// Writes the network into `dir` and starts every node not held back,
    /// in layout order (validators first).
    pub fn start(self, dir: &Path) -> Result<Network, LocalnetError> {
        let mut net = self.create(dir)?;
        net.start_all()?;
        Ok(net)
    }
}

/// A network of node processes made by a [`Builder`].
#[derive(Debug)]
pub struct Network {
    exe: PathBuf,
    /// Its files: genesis, and each node's directory, config and API address.
    pub layout: Layout,
    /// The node processes started, in the order they were started.
    pub procs: Vec<NodeProcess>,
    /// The chain's signature context.
    pub chain: ChainContext,
    held_back: Vec<String>,
}

impl Network {
    /// A builder for a network whose nodes run the `atoll` binary `exe`.
    pub fn builder(exe: impl Into<PathBuf>) -> Builder {
        Builder {
            exe: exe.into(),
            plan: Plan::default(),
            held_back: Vec::new(),
            genesis_edit: None,
            config_edits: Vec::new(),
        }
    }

    fn start_all(&mut self) -> Result<(), LocalnetError> {
        for files in &self.layout.nodes {
            if !self.held_back.contains(&files.name) {
                self.procs.push(NodeProcess::spawn(&self.exe, files)?);
            }
        }
        Ok(())
    }

    /// The files of node `name`.
    pub fn node(&self, name: &str) -> Result<&NodeFiles, LocalnetError> {
        find(&self.layout, name)
    }

    /// Node `name`'s JSON-RPC address.
    pub fn rpc(&self, name: &str) -> Result<SocketAddr, LocalnetError> {
        Ok(self.node(name)?.rpc)
    }

    /// The indices (into [`Layout::nodes`]) of the compute nodes.
    pub fn compute_nodes(&self) -> Vec<usize> {
        (0..self.layout.nodes.len())
            .filter(|i| {
                self.layout
                    .nodes
                    .get(*i)
                    .is_some_and(|n| n.name.starts_with("compute-"))
            })
            .collect()
    }

    /// Starts node `name` (one held back, or one stopped and removed from
    /// [`Network::procs`]); returns its index in `procs`.
    pub fn start_node(&mut self, name: &str) -> Result<usize, LocalnetError> {
        let files = self.node(name)?.clone();
        self.procs.push(NodeProcess::spawn(&self.exe, &files)?);
        Ok(self.procs.len() - 1)
    }

    /// Starts the process `procs[i]` again (after a kill or a stop).
    pub fn restart(&mut self, i: usize) -> Result<(), LocalnetError> {
        let files = self
            .procs
            .get(i)
            .map(|p| p.files.clone())
            .ok_or_else(|| LocalnetError::Io(format!("no node process {i}")))?;
        let fresh = NodeProcess::spawn(&self.exe, &files)?;
        if let Some(slot) = self.procs.get_mut(i) {
            *slot = fresh;
        }
        Ok(())
    }

    /// Stops every node (SIGTERM, then SIGKILL after [`STOP_GRACE`]).
    pub fn stop_all(&mut self) {
        for p in &mut self.procs {
            p.stop(STOP_GRACE);
        }
    }

    /// The last `lines` lines of every node's log, for a failure message.
    pub fn logs(&self, lines: usize) -> String {
        logs(&self.layout, lines)
    }

    /// Ends a test's scenario (its `outcome`, from `catch_unwind`): stops
    /// every node whatever happened, and if the scenario panicked, prints
    /// the last `log_lines` lines of every node's log and where `keep`
    /// kept the network's directory for a post-mortem, then lets the
    /// panic go on.
    #[allow(
        clippy::print_stderr,
        reason = "a failed test reports the nodes' logs on its stderr"
    )]
    pub fn finish<R>(
        &mut self,
        outcome: std::thread::Result<R>,
        log_lines: usize,
        keep: impl FnOnce() -> PathBuf,
    ) -> R {
        if outcome.is_err() {
            eprintln!("{}", self.logs(log_lines));
        }
        self.stop_all();
        match outcome {
            Ok(r) => r,
            Err(e) => {
                eprintln!("network kept in {}", keep().display());
                std::panic::resume_unwind(e)
            }
        }
    }
}

fn find<'a>(layout: &'a Layout, name: &str) -> Result<&'a NodeFiles, LocalnetError> {
    layout
        .nodes
        .iter()
        .find(|n| n.name == name)
        .ok_or_else(|| LocalnetError::Io(format!("no node {name} in {}", layout.dir.display())))
}

/// The last `lines` lines of every node's log in `layout`.
pub fn logs(layout: &Layout, lines: usize) -> String {
    let mut out = String::new();
    for n in &layout.nodes {
        let text = std::fs::read_to_string(n.dir.join("node.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        out.push_str(&format!("== {} ==\n", n.name));
        out.push_str(
            &all.get(all.len().saturating_sub(lines)..)
                .unwrap_or_default()
                .join("\n"),
        );
        out.push('\n');
    }
    out
}

/// The file name the built-in ParaTimes are run by ([`RuntimePlan::plain`],
/// [`RuntimePlan::evm`]): a bare name, which a node looks up next to its
/// own executable.
pub const ATOLL_FILE_NAME: &str = "atoll";

/// Gives the executable `exe` the file name [`ATOLL_FILE_NAME`] in `dir`
/// (a hard link, or a copy where the file system refuses one) and returns
/// that path.
///
/// The end-to-end tests and the benchmarks live in packages of their own,
/// which cannot declare a second binary named `atoll`, so their copy of the
/// command has another name. Nodes started from it would look for `atoll`
/// next to it to run their built-in ParaTimes, and find none or a stale
/// one. Nodes started from the returned path run `exe` for themselves and
/// for their ParaTimes. Several processes may call this at once: each
/// links under its own temporary name and renames into place, which
/// replaces the file atomically.
pub fn install_as_atoll(exe: &Path, dir: &Path) -> Result<PathBuf, LocalnetError> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let target = dir.join(ATOLL_FILE_NAME);
    let staging = dir.join(format!(".{ATOLL_FILE_NAME}.{}", std::process::id()));
    let _ = std::fs::remove_file(&staging);
    if std::fs::hard_link(exe, &staging).is_err() {
        std::fs::copy(exe, &staging).map_err(|e| {
            LocalnetError::Io(format!(
                "cannot copy {} to {}: {e}",
                exe.display(),
                staging.display()
            ))
        })?;
    }
    std::fs::rename(&staging, &target).map_err(io)?;
    // When both names were already links to the same file, the rename did
    // nothing and left the staging name behind.
    let _ = std::fs::remove_file(&staging);
    Ok(target)
}

/// A bounded wait that ran out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {within:?} waiting for {what}")]
pub struct TimedOut {
    /// What was awaited.
    pub what: String,
    /// How long.
    pub within: Duration,
}

/// Polls `f` every 200 ms until it answers, for at most `within`.
pub fn wait_for<T>(
    what: &str,
    within: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, TimedOut> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(TimedOut {
                what: what.to_owned(),
                within,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pid of the runtime process (`atoll <binary> ...` for `runtime`)
/// that the node process `node_pid` runs, from `/proc`.
pub fn runtime_pid(node_pid: u32, runtime: &atoll_types::Namespace, binary: &str) -> Option<u32> {
    let id = runtime.to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if !cmd.contains(binary) || !cmd.contains(&id) {
            continue;
        }
        if parent_pid(&entry.path()) == Some(node_pid) {
            return Some(pid);
        }
    }
    None
}

/// The parent pid in `/proc/<pid>/stat` (the field after the state, which
/// follows the parenthesized command name).
fn parent_pid(proc_dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    stat.rsplit(')')
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse::<u32>()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_writes_the_plan_and_its_edits_and_holds_nodes_back() {
        let dir = tempfile::tempdir().unwrap();
        let net = Network::builder("/nonexistent/atoll")
            .validators(2)
            .full_nodes(1)
            .fast_blocks()
            .epoch_interval(77)
            .genesis(|g| g.roothash.max_evidence_age = 5)
            .configure("full-0", |c| c.mempool.max_txs = 123)
            .hold_back("full-0")
            .create(dir.path())
            .unwrap();
        let names: Vec<&str> = net.layout.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["validator-0", "validator-1", "full-0"]);
        assert!(net.procs.is_empty());
        let genesis = atoll_node::load_genesis(&dir.path().join("genesis.json")).unwrap();
        assert_eq!(genesis.roothash.max_evidence_age, 5);
        assert_eq!(genesis.beacon.interval, 77);
        let full = NodeConfig::load(&net.node("full-0").unwrap().config).unwrap();
        assert_eq!(full.mempool.max_txs, 123);
        assert!(net.rpc("compute-0").is_err());
        assert!(net.compute_nodes().is_empty());
    }

    #[test]
    fn the_executable_is_installed_as_atoll_again_and_again() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("atoll-under-test");
        std::fs::write(&exe, b"first build").unwrap();
        let bin = dir.path().join("bin");
        let atoll = install_as_atoll(&exe, &bin).unwrap();
        assert_eq!(atoll, bin.join("atoll"));
        assert_eq!(std::fs::read(&atoll).unwrap(), b"first build");
        assert_eq!(install_as_atoll(&exe, &bin).unwrap(), atoll);
        // A rebuilt executable replaces the installed one.
        std::fs::remove_file(&exe).unwrap();
        std::fs::write(&exe, b"second build").unwrap();
        assert_eq!(install_as_atoll(&exe, &bin).unwrap(), atoll);
        assert_eq!(std::fs::read(&atoll).unwrap(), b"second build");
        let names: Vec<_> = std::fs::read_dir(&bin)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["atoll"], "no staging file is left behind");
        assert!(install_as_atoll(&dir.path().join("missing"), &bin).is_err());
    }

    #[test]
    fn a_wait_answers_or_times_out() {
        assert_eq!(wait_for("now", Duration::ZERO, || Some(7)), Ok(7));
        let mut polls = 0;
        let err = wait_for("never", Duration::ZERO, || {
            polls += 1;
            None::<()>
        })
        .unwrap_err();
        assert_eq!(polls, 1);
        assert_eq!(err.what, "never");
    }
}

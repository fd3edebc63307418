//! `atoll`: the command-line tool of the atoll network, as a library whose
//! one entry point is [`main`] (the `atoll` binary is `src/main.rs`, a call
//! to it; the end-to-end tests and the benchmarks declare their own binary
//! the same way, so that they can run it).
//!
//! - `atoll node --config node.toml`: run a node until SIGTERM.
//! - `atoll identity init DIR [--entity]`, `atoll identity show DIR`: a
//!   node's keys (files readable by their owner only).
//! - `atoll genesis check FILE`: validate a genesis document and explain
//!   every problem in it.
//! - `atoll localnet [--data-dir DIR] [--validators N | --single]
//!   [--full-nodes M] [--compute-nodes C] [--paratimes plain,evm|none]`: a
//!   whole network on this machine (validators, compute nodes, ParaTimes),
//!   one process per node, with funded development accounts (see
//!   `atoll_localnet::command`).
//! - `atoll runtime-plain --runtime-id HEX [--genesis FILE]`: the built-in
//!   plain ParaTime, as a compute node runs it.
//! - `atoll runtime-evm --runtime-id HEX [--genesis FILE]`: the built-in
//!   EVM ParaTime, as a compute node runs it.
//! - Client commands on a node's API: `wallet`, `account`, `paratime`,
//!   `registry`, `network` (see `docs/USAGE.md`).
//!
//! This file parses the command line and dispatches; each command family
//! lives in its own module under `cmd/` (clap definitions and handlers). Global
//!   options: `--node URL`, `--localnet DIR`, `--json`, `--wallet-dir DIR`,
//!   `--passphrase-file PATH`, `--decimals N`, `--fee AMOUNT`, `--gas N`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool talks to its user on stdout and stderr"
)]
#![allow(
    rustdoc::invalid_html_tags,
    reason = "doc comments are clap's help text, whose <placeholders> are meant literally"
)]

/// `println!` that ignores a closed stdout (`atoll … | head`) instead of
/// panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod amount;
mod client;
mod cmd;
mod keys;
mod localnet;
mod rpc;
mod ui;
mod wallet;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "atoll",
    version,
    about = "The atoll network: node, local network and tools."
)]
struct Cli {
    #[command(flatten)]
    global: cmd::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (validator or full node) until SIGTERM or Ctrl-C.
    Node(cmd::node::Args),
    /// A node's keys.
    Identity {
        #[command(subcommand)]
        command: cmd::identity::Command,
    },
    /// Work with genesis documents.
    Genesis {
        #[command(subcommand)]
        command: cmd::genesis::Command,
    },
    /// Run a local network: validators, compute nodes and ParaTimes.
    ///
    /// One process per node. Creates the network in DATA_DIR on first use
    /// (debug genesis, funded development accounts on consensus and in
    /// every ParaTime), restarts it from there afterwards; runs until
    /// Ctrl-C or SIGTERM.
    Localnet {
        /// The network's directory.
        #[arg(long, default_value = "./localnet")]
        data_dir: PathBuf,
        /// Validators of a new network [default: 4].
        #[arg(long, conflicts_with = "single")]
        validators: Option<usize>,
        /// One validator with fast blocks, and one compute node (unless
        /// --compute-nodes says otherwise).
        #[arg(long)]
        single: bool,
        /// Full nodes of a new network [default: 0].
        #[arg(long)]
        full_nodes: Option<usize>,
        /// Compute nodes of a new network [default: 3; 1 with --single].
        #[arg(long)]
        compute_nodes: Option<usize>,
        /// ParaTimes of a new network, comma-separated (built in: plain,
        /// evm, measure), or `none` [default: plain,evm].
        #[arg(long, value_delimiter = ',')]
        paratimes: Option<Vec<String>>,
        /// A new network takes its entropy from block hashes instead of the
        /// nodes' VRF proofs (debug only: proposers can bias it).
        #[arg(long)]
        insecure_beacon: bool,
    },
    /// Keys, kept encrypted in wallet files.
    Wallet {
        #[command(subcommand)]
        command: cmd::wallet::Command,
    },
    /// Consensus-layer accounts: balances, transfers, allowances, staking.
    Account {
        #[command(subcommand)]
        command: cmd::account::Command,
    },
    /// ParaTimes: deposits, withdrawals, transfers, balances, rounds.
    Paratime {
        #[command(subcommand)]
        command: cmd::paratime::Command,
    },
    /// Private-measurement tasks on the measurement ParaTime.
    Measure {
        #[command(subcommand)]
        command: cmd::measure::Command,
    },
    /// Register entities, nodes and runtimes from descriptor files.
    Registry {
        #[command(subcommand)]
        command: cmd::registry::Command,
    },
    /// The network as a node sees it.
    Network {
        #[command(subcommand)]
        command: cmd::network::Command,
    },
    /// Run the built-in plain ParaTime (started by compute nodes).
    ///
    /// Core, accounts and consensus_accounts, on the runtime host socket a
    /// node gives it; a node starts it itself (`binary = "atoll"`, `args =
    /// ["runtime-plain"]`).
    RuntimePlain(cmd::runtime::Args),
    /// Run the built-in EVM ParaTime (started by compute nodes).
    ///
    /// Core, accounts, consensus_accounts and evm (revm), on the runtime
    /// host socket a node gives it; a node starts it itself (`binary =
    /// "atoll"`, `args = ["runtime-evm"]`).
    RuntimeEvm(cmd::runtime::Args),
    /// Run the built-in measurement ParaTime (started by compute nodes).
    ///
    /// The plain ParaTime's modules and measurement (private-measurement
    /// tasks), on the runtime host socket a node gives it (`binary =
    /// "atoll"`, `args = ["runtime-measure"]`).
    RuntimeMeasure(cmd::runtime::Args),
}

/// The `atoll` command: parses the process's command line, runs the
/// command, and reports an error on stderr (exit code 1). Usage errors and
/// `--help` end the process through clap, with its exit codes.
pub fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = cli.global;
    match cli.command {
        Command::Node(args) => cmd::node::run(&args),
        Command::Identity { command } => cmd::identity::run(command),
        Command::Genesis { command } => cmd::genesis::run(command, g.json),
        Command::RuntimePlain(args) => Ok(cmd::runtime::plain(args)),
        Command::RuntimeEvm(args) => Ok(cmd::runtime::evm(args)),
        Command::RuntimeMeasure(args) => Ok(cmd::runtime::measure(args)),
        Command::Localnet {
            data_dir,
            validators,
            single,
            full_nodes,
            compute_nodes,
            paratimes,
            insecure_beacon,
        } => localnet::run(&localnet::Options {
            data_dir,
            validators,
            single,
            full_nodes,
            compute_nodes,
            paratimes,
            json: g.json,
            insecure_beacon,
        }),
        Command::Wallet { command } => cmd::client(g, |c| cmd::wallet::run(c, command)),
        Command::Account { command } => cmd::client(g, |c| cmd::account::run(c, command)),
        Command::Paratime { command } => cmd::client(g, |c| cmd::paratime::run(c, command)),
        Command::Measure { command } => cmd::client(g, |c| cmd::measure::run(c, command)),
        Command::Registry { command } => cmd::client(g, |c| cmd::registry::run(c, command)),
        Command::Network { command } => cmd::client(g, |c| cmd::network::run(c, command)),
    }
}

//! `atoll`: the command-line tool of the atoll network.
//!
//! - `atoll node --config node.toml`: run a node until SIGTERM.
//! - `atoll identity init DIR [--entity]`, `atoll identity show DIR`: a
//!   node's keys (files readable by their owner only).
//! - `atoll genesis check FILE`: validate a genesis document and explain
//!   every problem in it.
//! - `atoll localnet [--data-dir DIR] [--validators N | --single]
//!   [--full-nodes M]`: a whole network on this machine, one process per
//!   node, with funded development accounts (see [`localnet`]).
//! - `atoll runtime-plain --runtime-id HEX [--genesis FILE]`: the built-in
//!   plain ParaTime, as a compute node runs it.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool talks to its user on stdout and stderr"
)]

mod localnet;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use atoll_consensus::genesis::Genesis;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "atoll",
    version,
    about = "The atoll network: node, local network and tools."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node (validator or full node) until SIGTERM or Ctrl-C.
    Node {
        /// The node's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// A node's keys.
    Identity {
        #[command(subcommand)]
        command: IdentityCommand,
    },
    /// Work with genesis documents.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Run a local network (consensus layer): creates it in DATA_DIR on
    /// first use (debug genesis, funded development accounts), restarts it
    /// from there afterwards; runs until Ctrl-C or SIGTERM.
    Localnet {
        /// The network's directory.
        #[arg(long, default_value = "./localnet")]
        data_dir: PathBuf,
        /// Validators of a new network [default: 4].
        #[arg(long, conflicts_with = "single")]
        validators: Option<usize>,
        /// One validator with short consensus timeouts (fast blocks).
        #[arg(long)]
        single: bool,
        /// Full nodes of a new network [default: 0].
        #[arg(long)]
        full_nodes: Option<usize>,
    },
    /// Run the built-in plain ParaTime (core, accounts,
    /// consensus_accounts) on the runtime host socket a node gives it; a
    /// node starts it itself (`binary = "atoll"`, `args = ["runtime-plain"]`).
    RuntimePlain {
        /// `--runtime-id HEX [--genesis PATH]`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(Subcommand)]
enum GenesisCommand {
    /// Validate a genesis document and explain what is wrong with it.
    Check {
        /// The genesis document (JSON).
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum IdentityCommand {
    /// Create a node's keys in DIR (node, consensus, p2p and VRF; with
    /// `--entity` also an entity key) and print their public halves.
    Init {
        /// The directory (created with mode 0700; never overwritten).
        dir: PathBuf,
        /// Also create an entity key (the operator's account).
        #[arg(long)]
        entity: bool,
    },
    /// Print the public halves of the keys in DIR.
    Show {
        /// The directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Genesis {
            command: GenesisCommand::Check { file, json },
        } => genesis_check(&file, json),
        Command::Node { config } => node(&config),
        Command::RuntimePlain { args } => Ok(atoll_runtime_plain::cli::run(args)),
        Command::Localnet {
            data_dir,
            validators,
            single,
            full_nodes,
        } => localnet::run(&localnet::Options {
            data_dir,
            validators,
            single,
            full_nodes,
        }),
        Command::Identity {
            command: IdentityCommand::Init { dir, entity },
        } => {
            let id = atoll_node::Identity::init(&dir, entity)?;
            println!("{}", serde_json::to_string_pretty(&id.public())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Identity {
            command: IdentityCommand::Show { dir },
        } => {
            let id = atoll_node::Identity::load(&dir)?;
            println!("{}", serde_json::to_string_pretty(&id.public())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn node(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let config = atoll_node::NodeConfig::load(path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log))
        .context("bad log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: `atoll localnet` sends logs to files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(atoll_node::run(&config))?;
    Ok(ExitCode::SUCCESS)
}

fn genesis_check(file: &PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let genesis = Genesis::from_json(&text).with_context(|| {
        format!(
            "{} is not a genesis document (JSON with at least \"chain_id\")",
            file.display()
        )
    })?;
    let problems = genesis.check();
    let chain_context = genesis
        .chain_context()
        .context("the document does not encode")?;
    if json {
        let report = serde_json::json!({
            "valid": problems.is_empty(),
            "chain_id": genesis.chain_id,
            "chain_context": chain_context.as_str(),
            "debug": genesis.debug,
            "problems": problems
                .iter()
                .map(|p| serde_json::json!({ "field": p.field, "problem": p.problem }))
                .collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if problems.is_empty() {
        println!("{}: valid genesis document", file.display());
        println!("  chain id:      {}", genesis.chain_id);
        println!("  chain context: {}", chain_context.as_str());
        if genesis.debug {
            println!("  DEBUG NETWORK: insecure conveniences are enabled; never use it for value");
        }
    } else {
        println!("{}: {} problem(s)", file.display(), problems.len());
        for p in &problems {
            println!("  - {}: {}", p.field, p.problem);
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

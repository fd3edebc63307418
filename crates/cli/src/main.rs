//! `atoll`: the command-line tool of the atoll network.
//!
//! Today: `atoll genesis check FILE`, which validates a genesis document and
//! explains every problem in it. Node, localnet, wallet and account commands
//! join it as the node and CLI work lands.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool talks to its user on stdout and stderr"
)]

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
    /// Work with genesis documents.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
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
    }
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

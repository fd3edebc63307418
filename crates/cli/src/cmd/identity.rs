//! `atoll identity`: a node's keys (see [`atoll_node::Identity`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

/// `atoll identity`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
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

/// Runs `atoll identity …`: prints the public halves of the keys.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let id = match command {
        Command::Init { dir, entity } => atoll_node::Identity::init(&dir, entity)?,
        Command::Show { dir } => atoll_node::Identity::load(&dir)?,
    };
    println!("{}", serde_json::to_string_pretty(&id.public())?);
    Ok(ExitCode::SUCCESS)
}

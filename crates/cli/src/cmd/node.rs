//! `atoll node`: run a node until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// `atoll node`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// The node's configuration file.
    #[arg(long, short)]
    config: PathBuf,
}

/// Runs a node with the configuration `args` names.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let path = &args.config;
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

//! `atoll genesis`: validate a genesis document and explain every problem
//! in it (and in the ParaTime geneses beside it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use atoll_consensus::genesis::Genesis;
use clap::Subcommand;

/// `atoll genesis`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Validate a genesis document and explain what is wrong with it.
    Check {
        /// The genesis document (JSON).
        file: PathBuf,
    },
}

/// Runs `atoll genesis …`; `json` is `--json`.
pub fn run(command: Command, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { file } => check(&file, json),
    }
}

/// Problems of the ParaTime geneses beside a genesis document, if there
/// are any (`runtimes/*.cbor` next to it, as `atoll localnet` lays them
/// out): EVM chain ids set by more than one ParaTime.
fn runtime_genesis_problems(
    genesis_file: &std::path::Path,
) -> Vec<atoll_consensus::genesis::GenesisProblem> {
    let dir = genesis_file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("runtimes");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cbor"))
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
        .collect();
    files.sort();
    atoll_web3::duplicate_evm_chain_ids(files.iter().map(|(n, g)| (n.clone(), g.as_slice())))
        .into_iter()
        .map(|why| atoll_consensus::genesis::GenesisProblem {
            field: "runtimes".into(),
            problem: why,
        })
        .collect()
}

fn check(file: &PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let genesis = Genesis::from_json(&text).with_context(|| {
        format!(
            "{} is not a genesis document (JSON with at least \"chain_id\")",
            file.display()
        )
    })?;
    let mut problems = genesis.check();
    problems.extend(runtime_genesis_problems(file));
    let warnings = genesis.warnings();
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
            "warnings": warnings
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
    if !json && !warnings.is_empty() {
        println!(
            "  {} warning(s), valid but unsafe for a real network:",
            warnings.len()
        );
        for w in &warnings {
            println!("  - warning: {}: {}", w.field, w.problem);
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

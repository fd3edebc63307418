//! `atoll`: the command-line tool of the atoll network.
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
//!   [`localnet`]).
//! - `atoll runtime-plain --runtime-id HEX [--genesis FILE]`: the built-in
//!   plain ParaTime, as a compute node runs it.
//! - `atoll runtime-evm --runtime-id HEX [--genesis FILE]`: the built-in
//!   EVM ParaTime, as a compute node runs it.
//! - Client commands on a node's API: `wallet`, `account`, `paratime`,
//!   `registry`, `network` (see [`commands`] and `docs/USAGE.md`). Global
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
mod commands;
mod keys;
mod localnet;
mod rpc;
mod ui;
mod wallet;

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
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options of every command (they may come before or after it).
#[derive(clap::Args)]
struct Global {
    /// Print results as JSON (one document on stdout).
    #[arg(long, global = true)]
    json: bool,
    /// The node's API [default: $ATOLL_NODE, else from <localnet>/localnet.json, else
    /// http://127.0.0.1:26658].
    #[arg(long, global = true, value_name = "URL")]
    node: Option<String>,
    /// Where `atoll localnet` keeps its network (its localnet.json names the nodes).
    #[arg(long, global = true, value_name = "DIR", default_value = "./localnet")]
    localnet: PathBuf,
    /// Where wallets are kept [default: $ATOLL_HOME/wallets, else
    /// ~/.config/atoll/wallets].
    #[arg(long, global = true, value_name = "DIR")]
    wallet_dir: Option<PathBuf>,
    /// Read the wallet passphrase from this file's first line (else
    /// $ATOLL_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
    /// Decimals of the token: lets amounts be written as decimals of whole
    /// tokens (1.5) and shows balances as tokens too.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=38))]
    decimals: Option<u32>,
    /// Transaction fee in base units [default: 0 on consensus; gas x the
    /// ParaTime's minimum gas price].
    #[arg(long, global = true, value_name = "AMOUNT")]
    fee: Option<String>,
    /// Gas limit of transactions [default: enough for the method].
    #[arg(long, global = true, value_name = "N")]
    gas: Option<u64>,
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
        /// evm), or `none` [default: plain,evm].
        #[arg(long, value_delimiter = ',')]
        paratimes: Option<Vec<String>>,
    },
    /// Keys, kept encrypted in wallet files.
    Wallet {
        #[command(subcommand)]
        command: WalletCommand,
    },
    /// Consensus-layer accounts: balances, transfers, allowances, staking.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// ParaTimes: deposits, withdrawals, transfers, balances, rounds.
    Paratime {
        #[command(subcommand)]
        command: ParatimeCommand,
    },
    /// Register entities, nodes and runtimes from descriptor files.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// The network as a node sees it.
    Network {
        #[command(subcommand)]
        command: NetworkCommand,
    },
    /// Run the built-in plain ParaTime (started by compute nodes).
    ///
    /// Core, accounts and consensus_accounts, on the runtime host socket a
    /// node gives it; a node starts it itself (`binary = "atoll"`, `args =
    /// ["runtime-plain"]`).
    RuntimePlain {
        /// `--runtime-id HEX [--genesis PATH]`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Run the built-in EVM ParaTime (started by compute nodes).
    ///
    /// Core, accounts, consensus_accounts and evm (revm), on the runtime
    /// host socket a node gives it; a node starts it itself (`binary =
    /// "atoll"`, `args = ["runtime-evm"]`).
    RuntimeEvm {
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
    },
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Create a wallet with a new random key.
    Create {
        /// Its name (letters, digits, '_', '-').
        name: String,
        /// The key's scheme: ed25519 (consensus and ParaTimes) or secp256k1
        /// (an Ethereum account, ParaTimes only).
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: wallet::Algorithm,
    },
    /// Import a key: a 32-byte secret as 64 hex digits (an ed25519 seed or
    /// a secp256k1 private key), from a file, standard input, or a
    /// development account.
    Import {
        /// Its name.
        name: String,
        /// The key's scheme.
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: wallet::Algorithm,
        /// Read the hex secret from this file (else from standard input).
        #[arg(long, value_name = "PATH", conflicts_with = "dev")]
        secret_file: Option<PathBuf>,
        /// Import development account N of the localnet's well-known
        /// mnemonic (ed25519: atoll's derivation; secp256k1: m/44'/60'/0'/0/N).
        #[arg(long, value_name = "N")]
        dev: Option<u32>,
    },
    /// List the wallets.
    List,
    /// Show a wallet's address and public key.
    Show {
        /// Its name.
        name: String,
        /// Also print the secret key (asks for the passphrase).
        #[arg(long)]
        show_secret: bool,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Balance, nonce, allowances, escrow and delegations of an account.
    Show {
        /// A wallet name, oasis1… or 0x… address.
        account: String,
    },
    /// Send tokens to another consensus account.
    Transfer {
        /// Amount in base units (or decimal with --decimals).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Recipient: wallet name, oasis1… or 0x… address.
        to: String,
        /// The paying wallet.
        #[arg(long)]
        from: String,
    },
    /// Let BENEFICIARY withdraw up to AMOUNT more from this account (a
    /// ParaTime needs this before a deposit: BENEFICIARY paratime:NAME).
    Allow {
        /// Wallet name, address, or paratime:NAME (the ParaTime's account).
        beneficiary: String,
        /// The change of the allowance.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The owning wallet.
        #[arg(long)]
        from: String,
        /// Lower the allowance by AMOUNT instead.
        #[arg(long)]
        decrease: bool,
    },
    /// Delegate tokens to an escrow account (stake).
    Escrow {
        /// Amount in base units (or decimal with --decimals).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The escrow account (an entity, e.g. a validator's).
        to: String,
        /// The delegating wallet.
        #[arg(long)]
        from: String,
    },
    /// Start reclaiming delegated stake (it returns after debonding).
    Reclaim {
        /// Shares of the escrow to reclaim (`account show` lists them).
        #[arg(allow_hyphen_values = true)]
        shares: String,
        /// The escrow account.
        escrow: String,
        /// The delegating wallet.
        #[arg(long)]
        from: String,
    },
}

#[derive(Subcommand)]
enum ParatimeCommand {
    /// The ParaTimes registered on the network.
    List,
    /// Move tokens from your consensus account into a ParaTime (needs an
    /// allowance: see --allow).
    Deposit {
        /// Amount in base units (or decimal with --decimals).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Credit this ParaTime account instead of the sender's.
        #[arg(long)]
        to: Option<String>,
        /// The depositing wallet (ed25519).
        #[arg(long)]
        from: String,
        /// The ParaTime (name from localnet.json, or id; default: the
        /// localnet's first, `plain`).
        #[arg(long)]
        paratime: Option<String>,
        /// Raise the ParaTime's allowance first if it is too small.
        #[arg(long)]
        allow: bool,
    },
    /// Move tokens from a ParaTime back to a consensus account.
    Withdraw {
        /// Amount in base units (or decimal with --decimals).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The consensus account to credit (default: the sender's own).
        #[arg(long)]
        to: Option<String>,
        /// The withdrawing wallet.
        #[arg(long)]
        from: String,
        /// The ParaTime (name from localnet.json, or id; default: the
        /// localnet's first, `plain`).
        #[arg(long)]
        paratime: Option<String>,
    },
    /// Send tokens to another account inside a ParaTime.
    Transfer {
        /// Amount in base units (or decimal with --decimals).
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// Recipient: wallet name, oasis1… or 0x… address.
        to: String,
        /// The paying wallet.
        #[arg(long)]
        from: String,
        /// The ParaTime (name from localnet.json, or id; default: the
        /// localnet's first, `plain`).
        #[arg(long)]
        paratime: Option<String>,
    },
    /// Show a balance or a round.
    Show {
        #[command(subcommand)]
        what: ParatimeShow,
    },
}

#[derive(Subcommand)]
enum ParatimeShow {
    /// An account's balance and nonce in the ParaTime.
    Balance {
        /// Wallet name, oasis1… or 0x… address.
        account: String,
        /// The ParaTime (name from localnet.json, or id; default: the
        /// localnet's first, `plain`).
        #[arg(long)]
        paratime: Option<String>,
    },
    /// A finalized round: header, transactions with results, events.
    Round {
        /// The round [default: the latest].
        round: Option<u64>,
        /// The ParaTime (name from localnet.json, or id; default: the
        /// localnet's first, `plain`).
        #[arg(long)]
        paratime: Option<String>,
    },
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Register (or update) an entity, a node or a ParaTime.
    Register {
        #[command(subcommand)]
        what: RegisterWhat,
    },
    /// List the registered entities, nodes or runtimes.
    Show {
        /// What to list.
        #[arg(value_enum)]
        what: commands::RegistryList,
    },
}

#[derive(Subcommand)]
enum RegisterWhat {
    /// The wallet's entity; FILE is an entity descriptor (JSON:
    /// {"nodes": [...]}); without it, an entity with no nodes.
    Entity {
        /// The descriptor (missing "v" and "id" are filled in).
        file: Option<PathBuf>,
        /// The entity's wallet (ed25519).
        #[arg(long)]
        from: String,
    },
    /// A node, from a descriptor signed with the node's keys.
    Node {
        /// The node descriptor (JSON; missing keys come from --identity).
        file: PathBuf,
        /// The node's identity directory (`atoll identity init`).
        #[arg(long, value_name = "DIR")]
        identity: PathBuf,
        /// The wallet of the node's entity.
        #[arg(long)]
        from: String,
    },
    /// A ParaTime, from a runtime descriptor (permissionless: any
    /// registered entity with the required stake may).
    Runtime {
        /// The runtime descriptor (JSON).
        file: PathBuf,
        /// The owning entity's wallet.
        #[arg(long)]
        from: String,
    },
}

#[derive(Subcommand)]
enum NetworkCommand {
    /// Chain, height, epoch, validators and ParaTimes.
    Status,
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

fn client_ctx(g: Global) -> anyhow::Result<client::Ctx> {
    let fee = g
        .fee
        .as_deref()
        .map(|f| amount::parse(f, g.decimals))
        .transpose()
        .map_err(|e| e.context("--fee"))?;
    let dir = match g.wallet_dir {
        Some(d) => d,
        None => wallet::default_dir()?,
    };
    Ok(client::Ctx {
        out: ui::Output { json: g.json },
        node: g.node,
        localnet_dir: g.localnet,
        wallets: wallet::Store::new(dir),
        passphrase: wallet::PassphraseSource {
            file: g.passphrase_file,
        },
        decimals: g.decimals,
        fee,
        gas: g.gas,
    })
}

fn client_command(g: Global, command: Command) -> anyhow::Result<()> {
    let ctx = client_ctx(g)?;
    let c = &ctx;
    match command {
        Command::Wallet { command } => match command {
            WalletCommand::Create { name, algorithm } => {
                commands::wallet_create(c, &name, algorithm)
            }
            WalletCommand::Import {
                name,
                algorithm,
                secret_file,
                dev,
            } => {
                let source = match (&secret_file, dev) {
                    (Some(p), _) => commands::ImportSource::File(p),
                    (None, Some(i)) => commands::ImportSource::Dev(i),
                    (None, None) => commands::ImportSource::Stdin,
                };
                commands::wallet_import(c, &name, algorithm, source)
            }
            WalletCommand::List => commands::wallet_list(c),
            WalletCommand::Show { name, show_secret } => {
                commands::wallet_show(c, &name, show_secret)
            }
        },
        Command::Account { command } => match command {
            AccountCommand::Show { account } => commands::account_show(c, &account),
            AccountCommand::Transfer { amount, to, from } => {
                commands::account_transfer(c, &amount, &to, &from)
            }
            AccountCommand::Allow {
                beneficiary,
                amount,
                from,
                decrease,
            } => commands::account_allow(c, &beneficiary, &amount, &from, decrease),
            AccountCommand::Escrow { amount, to, from } => {
                commands::account_escrow(c, &amount, &to, &from)
            }
            AccountCommand::Reclaim {
                shares,
                escrow,
                from,
            } => commands::account_reclaim(c, &shares, &escrow, &from),
        },
        Command::Paratime { command } => match command {
            ParatimeCommand::List => commands::paratime_list(c),
            ParatimeCommand::Deposit {
                amount,
                to,
                from,
                paratime,
                allow,
            } => commands::paratime_deposit(
                c,
                &amount,
                to.as_deref(),
                &from,
                paratime.as_deref(),
                allow,
            ),
            ParatimeCommand::Withdraw {
                amount,
                to,
                from,
                paratime,
            } => commands::paratime_withdraw(c, &amount, to.as_deref(), &from, paratime.as_deref()),
            ParatimeCommand::Transfer {
                amount,
                to,
                from,
                paratime,
            } => commands::paratime_transfer(c, &amount, &to, &from, paratime.as_deref()),
            ParatimeCommand::Show { what } => match what {
                ParatimeShow::Balance { account, paratime } => {
                    commands::paratime_balance(c, &account, paratime.as_deref())
                }
                ParatimeShow::Round { round, paratime } => {
                    commands::paratime_round(c, round, paratime.as_deref())
                }
            },
        },
        Command::Registry { command } => match command {
            RegistryCommand::Register { what } => match what {
                RegisterWhat::Entity { file, from } => {
                    commands::register_entity(c, file.as_deref(), &from)
                }
                RegisterWhat::Node {
                    file,
                    identity,
                    from,
                } => commands::register_node(c, &file, &identity, &from),
                RegisterWhat::Runtime { file, from } => commands::register_runtime(c, &file, &from),
            },
            RegistryCommand::Show { what } => commands::registry_show(c, what),
        },
        Command::Network {
            command: NetworkCommand::Status,
        } => commands::network_status(c),
        _ => anyhow::bail!("not a client command"),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Genesis {
            command: GenesisCommand::Check { file },
        } => genesis_check(&file, cli.global.json),
        Command::Node { config } => node(&config),
        Command::RuntimePlain { args } => Ok(atoll_runtime_plain::cli::run(args)),
        Command::RuntimeEvm { args } => Ok(atoll_runtime_evm::cli::run(args)),
        Command::Localnet {
            data_dir,
            validators,
            single,
            full_nodes,
            compute_nodes,
            paratimes,
        } => localnet::run(&localnet::Options {
            data_dir,
            validators,
            single,
            full_nodes,
            compute_nodes,
            paratimes,
            json: cli.global.json,
        }),
        command @ (Command::Wallet { .. }
        | Command::Account { .. }
        | Command::Paratime { .. }
        | Command::Registry { .. }
        | Command::Network { .. }) => {
            let json = cli.global.json;
            match client_command(cli.global, command) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    if json {
                        println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
                    }
                    Err(e)
                }
            }
        }
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

fn genesis_check(file: &PathBuf, json: bool) -> anyhow::Result<ExitCode> {
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

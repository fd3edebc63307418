//! The commands of `atoll`, one module per command family (named as the
//! subcommand): each holds its clap definitions and its handlers.
//!
//! - [`node`], [`identity`], [`genesis`], [`runtime`]: a node, its keys, its
//!   genesis document and the built-in ParaTimes it starts.
//! - [`wallet`], [`account`], [`paratime`], [`registry`], [`network`]: the
//!   client commands, on a node's API through [`crate::client::Ctx`]. Every
//!   one checks all of its input (amounts, addresses, wallets, the node)
//!   before it sends anything, and says what to do when something is wrong.
//!
//! What several families share is here: the global options ([`Global`]),
//! running a client command ([`client`]), and the helpers below.

pub mod account;
pub mod genesis;
pub mod identity;
pub mod measure;
pub mod network;
pub mod node;
pub mod paratime;
pub mod registry;
pub mod runtime;
pub mod wallet;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use atoll_crypto::Address;
use serde_json::Value;

use crate::client::{Ctx, json_amount};
use crate::{amount, ui};

/// Options of every command (they may come before or after it).
#[derive(clap::Args)]
pub struct Global {
    /// Print results as JSON (one document on stdout).
    #[arg(long, global = true)]
    pub json: bool,
    /// The node's API [default: $ATOLL_NODE, else from <localnet>/localnet.json, else
    /// http://127.0.0.1:26658].
    #[arg(long, global = true, value_name = "URL")]
    pub node: Option<String>,
    /// Where `atoll localnet` keeps its network (its localnet.json names the nodes).
    #[arg(long, global = true, value_name = "DIR", default_value = "./localnet")]
    pub localnet: PathBuf,
    /// Where wallets are kept [default: $ATOLL_HOME/wallets, else
    /// ~/.config/atoll/wallets].
    #[arg(long, global = true, value_name = "DIR")]
    pub wallet_dir: Option<PathBuf>,
    /// Read the wallet passphrase from this file's first line (else
    /// $ATOLL_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
    /// Decimals of the token: lets amounts be written as decimals of whole
    /// tokens (1.5) and shows balances as tokens too.
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=38))]
    pub decimals: Option<u32>,
    /// Transaction fee in base units [default: 0 on consensus; gas x the
    /// ParaTime's minimum gas price].
    #[arg(long, global = true, value_name = "AMOUNT")]
    pub fee: Option<String>,
    /// Gas limit of transactions [default: enough for the method].
    #[arg(long, global = true, value_name = "N")]
    pub gas: Option<u64>,
}

/// The amount of a command that moves tokens.
#[derive(clap::Args)]
pub struct AmountArg {
    /// Amount in base units (or decimal with --decimals).
    #[arg(allow_hyphen_values = true)]
    amount: String,
}

/// Runs a client command: builds its [`Ctx`] from the global options, and
/// with `--json` also prints a failure as `{"error": …}` on stdout.
pub fn client(
    g: Global,
    command: impl FnOnce(&Ctx) -> anyhow::Result<()>,
) -> anyhow::Result<ExitCode> {
    let json = g.json;
    match client_ctx(g).and_then(|ctx| command(&ctx)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            }
            Err(e)
        }
    }
}

fn client_ctx(g: Global) -> anyhow::Result<Ctx> {
    let fee = g
        .fee
        .as_deref()
        .map(|f| amount::parse(f, g.decimals))
        .transpose()
        .map_err(|e| e.context("--fee"))?;
    let dir = match g.wallet_dir {
        Some(d) => d,
        None => crate::wallet::default_dir()?,
    };
    Ok(Ctx {
        out: ui::Output { json: g.json },
        node: g.node,
        localnet_dir: g.localnet,
        wallets: crate::wallet::Store::new(dir),
        passphrase: crate::wallet::PassphraseSource {
            file: g.passphrase_file,
        },
        decimals: g.decimals,
        fee,
        gas: g.gas,
    })
}

/// How an account the user named is shown: `bob (oasis1…)`, or the
/// address alone when that is what the user wrote.
fn named(input: &str, address: &Address) -> String {
    let a = address.to_string();
    if input.trim() == a {
        a
    } else {
        format!("{} ({a})", input.trim())
    }
}

fn check_funds(have: u128, need: u128, who: &str, what: &str, ctx: &Ctx) -> anyhow::Result<()> {
    if have < need {
        bail!(
            "insufficient balance: {who} has {}, {what} needs {}; nothing was sent",
            ctx.show_amount(have),
            ctx.show_amount(need)
        );
    }
    Ok(())
}

fn allowance_of(account: &Value, beneficiary: &Address) -> u128 {
    json_amount(&account["general"]["allowances"][beneficiary.to_string()])
}

//! `atoll wallet`: create, import, list and show wallets (keys encrypted
//! at rest, see [`crate::wallet`]).

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use atoll_runtime_sdk::crypto::TxSigner;
use clap::Subcommand;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::client::Ctx;
use crate::wallet::{self, Algorithm};

/// `atoll wallet`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Create a wallet with a new random key.
    Create {
        /// Its name (letters, digits, '_', '-').
        name: String,
        /// The key's scheme: ed25519 (consensus and ParaTimes) or secp256k1
        /// (an Ethereum account, ParaTimes only).
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: Algorithm,
    },
    /// Import a key: a 32-byte secret as 64 hex digits (an ed25519 seed or
    /// a secp256k1 private key), from a file, standard input, or a
    /// development account.
    Import {
        /// Its name.
        name: String,
        /// The key's scheme.
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: Algorithm,
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

/// Runs `atoll wallet …`.
pub fn run(c: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Create { name, algorithm } => create(c, &name, algorithm),
        Command::Import {
            name,
            algorithm,
            secret_file,
            dev,
        } => {
            let source = match (&secret_file, dev) {
                (Some(p), _) => ImportSource::File(p),
                (None, Some(i)) => ImportSource::Dev(i),
                (None, None) => ImportSource::Stdin,
            };
            import(c, &name, algorithm, source)
        }
        Command::List => list(c),
        Command::Show { name, show_secret } => show(c, &name, show_secret),
    }
}

/// `wallet create`.
fn create(ctx: &Ctx, name: &str, algorithm: Algorithm) -> anyhow::Result<()> {
    wallet::check_name(name)?;
    if ctx.wallets.exists(name) {
        bail!("a wallet named {name} already exists; choose another name");
    }
    let signer = match algorithm {
        Algorithm::Ed25519 => TxSigner::Ed25519(atoll_crypto::ed25519::SigningKey::generate()),
        Algorithm::Secp256k1 => {
            TxSigner::Secp256k1(atoll_crypto::secp256k1::SigningKey::generate())
        }
    };
    let pass = ctx.passphrase.get(name, true)?;
    let file = ctx
        .wallets
        .save(name, &signer, &pass, wallet::KDF_ITERATIONS)?;
    show_wallet(ctx, &file, None, "created");
    Ok(())
}

/// Where an imported key comes from.
enum ImportSource<'a> {
    /// A file holding the hex secret.
    File(&'a Path),
    /// Development account `i` of the well-known mnemonic.
    Dev(u32),
    /// Standard input (a prompt on a terminal).
    Stdin,
}

/// `wallet import`.
fn import(
    ctx: &Ctx,
    name: &str,
    algorithm: Algorithm,
    source: ImportSource<'_>,
) -> anyhow::Result<()> {
    wallet::check_name(name)?;
    if ctx.wallets.exists(name) {
        bail!("a wallet named {name} already exists; choose another name");
    }
    let signer = match source {
        ImportSource::Dev(i) => match algorithm {
            Algorithm::Ed25519 => TxSigner::Ed25519(
                crate::localnet::dev_account(crate::localnet::DEV_MNEMONIC, i).key,
            ),
            Algorithm::Secp256k1 => {
                TxSigner::Secp256k1(crate::keys::eth_dev_key(crate::localnet::DEV_MNEMONIC, i)?)
            }
        },
        ImportSource::File(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            wallet::signer_from_secret(algorithm, &*wallet::parse_secret(&text)?)?
        }
        ImportSource::Stdin => {
            let text = if std::io::stdin().is_terminal() {
                wallet::prompt("secret key (64 hex digits): ")?
            } else {
                let mut line = Zeroizing::new(String::new());
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the secret from standard input")?;
                line
            };
            wallet::signer_from_secret(algorithm, &*wallet::parse_secret(&text)?)?
        }
    };
    let pass = ctx.passphrase.get(name, true)?;
    let file = ctx
        .wallets
        .save(name, &signer, &pass, wallet::KDF_ITERATIONS)?;
    show_wallet(ctx, &file, None, "imported");
    Ok(())
}

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Ed25519 => "ed25519",
        Algorithm::Secp256k1 => "secp256k1",
    }
}

fn wallet_json(file: &wallet::WalletFile) -> Value {
    json!({
        "name": file.name,
        "algorithm": file.algorithm,
        "address": file.address.to_string(),
        "eth_address": file.eth_address,
        "public_key": file.public_key,
    })
}

fn show_wallet(ctx: &Ctx, file: &wallet::WalletFile, secret: Option<&str>, verb: &str) {
    let mut v = wallet_json(file);
    if !verb.is_empty() {
        v["path"] = json!(ctx.wallets.dir().join(format!("{}.json", file.name)));
    }
    if let Some(s) = secret {
        v["secret_key"] = json!(s);
    }
    ctx.out.show(&v, || {
        if !verb.is_empty() {
            say!(
                "{verb} wallet {} in {}",
                file.name,
                ctx.wallets.dir().display()
            );
        }
        say!("name:         {}", file.name);
        say!("algorithm:    {}", algorithm_name(file.algorithm));
        say!("address:      {}", file.address);
        if let Some(eth) = &file.eth_address {
            say!("eth address:  {eth}");
        }
        say!("public key:   {}", file.public_key);
        if let Some(s) = secret {
            say!("secret key:   {s}   (keep it secret)");
        }
    });
}

/// `wallet list`.
fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let list = ctx.wallets.list()?;
    let v = Value::Array(list.iter().map(wallet_json).collect());
    ctx.out.show(&v, || {
        if list.is_empty() {
            say!(
                "no wallets in {}; create one with `atoll wallet create NAME`",
                ctx.wallets.dir().display()
            );
        }
        for w in &list {
            say!(
                "{:<16} {:<10} {}{}",
                w.name,
                algorithm_name(w.algorithm),
                w.address,
                w.eth_address
                    .as_ref()
                    .map(|e| format!("  {e}"))
                    .unwrap_or_default()
            );
        }
    });
    Ok(())
}

/// `wallet show`.
fn show(ctx: &Ctx, name: &str, show_secret: bool) -> anyhow::Result<()> {
    let file = ctx.wallets.load(name)?;
    if show_secret {
        let unlocked = ctx.unlock(name)?;
        let secret = unlocked.secret_hex();
        show_wallet(ctx, &unlocked.file, Some(&secret), "");
    } else {
        show_wallet(ctx, &file, None, "");
    }
    Ok(())
}

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
    /// a secp256k1 private key) or, for ed25519, the base64 private key the
    /// Oasis CLI shows (`ed25519-raw`: 64 bytes, seed then public key, or
    /// the 32-byte seed); or an Oasis mnemonic (`--mnemonic`, ADR 0008:
    /// `m/44'/474'/N'`, the Oasis CLI's `ed25519-adr8`); from a file,
    /// standard input, or a development account.
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
        /// The input is a BIP-39 mnemonic (from `--secret-file` or standard
        /// input); the key is its ADR 0008 account `--account` (ed25519).
        #[arg(long, conflicts_with = "dev")]
        mnemonic: bool,
        /// The ADR 0008 account index of `--mnemonic` (`m/44'/474'/N'`).
        #[arg(long, value_name = "N", default_value_t = 0, requires = "mnemonic")]
        account: u32,
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
            mnemonic,
            account,
        } => {
            let source = match (&secret_file, dev) {
                (Some(p), _) => ImportSource::File(p),
                (None, Some(i)) => ImportSource::Dev(i),
                (None, None) => ImportSource::Stdin,
            };
            let form = if mnemonic {
                if algorithm != Algorithm::Ed25519 {
                    bail!("--mnemonic derives ed25519 keys (ADR 0008); drop --algorithm secp256k1");
                }
                SecretForm::Mnemonic(account)
            } else {
                SecretForm::Key
            };
            import(c, &name, algorithm, source, form)
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

/// What the imported text is.
#[derive(Clone, Copy)]
enum SecretForm {
    /// A raw key (hex, or the Oasis CLI's base64 ed25519 private key).
    Key,
    /// A BIP-39 mnemonic and the ADR 0008 account index to derive.
    Mnemonic(u32),
}

/// The signer a text holds, read as `form` says.
fn signer_from_text(
    algorithm: Algorithm,
    form: SecretForm,
    text: &str,
) -> anyhow::Result<TxSigner> {
    match form {
        SecretForm::Mnemonic(i) => {
            let words: Vec<&str> = text.split_whitespace().collect();
            if ![12, 15, 18, 21, 24].contains(&words.len()) {
                bail!(
                    "a mnemonic has 12, 15, 18, 21 or 24 words; this one has {}",
                    words.len()
                );
            }
            let phrase = Zeroizing::new(words.join(" "));
            Ok(TxSigner::Ed25519(crate::keys::adr0008_key(&phrase, i)?))
        }
        SecretForm::Key => match oasis_base64_seed(algorithm, text)? {
            Some(seed) => wallet::signer_from_secret(algorithm, &seed),
            None => wallet::signer_from_secret(algorithm, &*wallet::parse_secret(text)?),
        },
    }
}

/// The ed25519 seed in the Oasis CLI's base64 private key form: 64 bytes
/// (seed, then the public key, which must match) or the 32-byte seed.
/// `None` when the text is not base64 of either length (then it is read as
/// hex).
fn oasis_base64_seed(
    algorithm: Algorithm,
    text: &str,
) -> anyhow::Result<Option<Zeroizing<[u8; 32]>>> {
    use base64::Engine as _;
    if algorithm != Algorithm::Ed25519 {
        return Ok(None);
    }
    let t = text.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(t) else {
        return Ok(None);
    };
    let bytes = Zeroizing::new(bytes);
    let mut seed = Zeroizing::new([0u8; 32]);
    match bytes.len() {
        32 => seed.copy_from_slice(&bytes),
        64 => {
            seed.copy_from_slice(&bytes[..32]);
            let public = atoll_crypto::ed25519::SigningKey::from_seed(&seed).public_key();
            if public.as_ref() != &bytes[32..] {
                bail!("the private key's second half is not the public key of its first half");
            }
        }
        _ => return Ok(None),
    }
    Ok(Some(seed))
}

/// `wallet import`.
fn import(
    ctx: &Ctx,
    name: &str,
    algorithm: Algorithm,
    source: ImportSource<'_>,
    form: SecretForm,
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
            signer_from_text(algorithm, form, &text)?
        }
        ImportSource::Stdin => {
            let text = if std::io::stdin().is_terminal() {
                wallet::prompt(match form {
                    SecretForm::Key => "secret key (64 hex digits, or base64): ",
                    SecretForm::Mnemonic(_) => "mnemonic: ",
                })?
            } else {
                let mut line = Zeroizing::new(String::new());
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the secret from standard input")?;
                line
            };
            signer_from_text(algorithm, form, &text)?
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use base64::Engine as _;

    use super::*;

    /// ADR 0008's second test mnemonic, account 0 (oasisprotocol/adrs,
    /// `0008-standard-account-key-generation.md`).
    const MNEMONIC: &str = "equip will roof matter pink blind book anxiety banner elbow sun young";
    const ADDRESS_0: &str = "oasis1qqjkrr643qv7yzem6g4m8rrtceh42n46usfscpcf";

    fn address(s: &TxSigner) -> String {
        s.address().to_string()
    }

    #[test]
    fn mnemonic_imports_by_adr0008() {
        let s = signer_from_text(Algorithm::Ed25519, SecretForm::Mnemonic(0), MNEMONIC).unwrap();
        assert_eq!(address(&s), ADDRESS_0);
        // Extra whitespace and a trailing newline do not matter.
        let messy = format!("  {}\n", MNEMONIC.replace(' ', "   "));
        let s = signer_from_text(Algorithm::Ed25519, SecretForm::Mnemonic(0), &messy).unwrap();
        assert_eq!(address(&s), ADDRESS_0);
        let s = signer_from_text(Algorithm::Ed25519, SecretForm::Mnemonic(1), MNEMONIC).unwrap();
        assert_eq!(
            address(&s),
            "oasis1qp42qp8d5k8pgekvzz0ld47k8ewvppjtmqg7t5kz"
        );
        assert!(signer_from_text(Algorithm::Ed25519, SecretForm::Mnemonic(0), "one two").is_err());
    }

    #[test]
    fn raw_keys_import_as_the_oasis_cli_shows_them() {
        // ADR 0008's account 0 private key, as the Oasis CLI exports an
        // ed25519 key: base64 of seed || public key.
        let private = hex::decode(
            "4e9ca1a4c2ed90c90da93ea181557ef9f465f444c0b7de35daeb218f9390d985\
             45601f761af17dba50243529e629732f1c58d08ffddaa8491238540475729d85",
        )
        .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&private);
        let s = signer_from_text(Algorithm::Ed25519, SecretForm::Key, &b64).unwrap();
        assert_eq!(address(&s), ADDRESS_0);
        // The seed alone, in base64 and in hex.
        let seed_b64 = base64::engine::general_purpose::STANDARD.encode(&private[..32]);
        let s = signer_from_text(Algorithm::Ed25519, SecretForm::Key, &seed_b64).unwrap();
        assert_eq!(address(&s), ADDRESS_0);
        let s = signer_from_text(
            Algorithm::Ed25519,
            SecretForm::Key,
            &hex::encode(&private[..32]),
        )
        .unwrap();
        assert_eq!(address(&s), ADDRESS_0);
        // A 64-byte key whose halves do not match is refused.
        let mut bad = private.clone();
        bad[40] ^= 1;
        let bad = base64::engine::general_purpose::STANDARD.encode(&bad);
        assert!(signer_from_text(Algorithm::Ed25519, SecretForm::Key, &bad).is_err());
        assert!(signer_from_text(Algorithm::Ed25519, SecretForm::Key, "garbage!").is_err());
    }
}

//! Wallets: named keys, encrypted at rest with a passphrase.
//!
//! # Where
//!
//! One file per wallet, `<dir>/<name>.json`, where `<dir>` is the first of:
//! `--wallet-dir DIR`; `$ATOLL_HOME/wallets`; `$XDG_CONFIG_HOME/atoll/wallets`;
//! `$HOME/.config/atoll/wallets`. The directory is created with mode 0700,
//! files with mode 0600; an existing wallet is never overwritten.
//!
//! # Format (version 1)
//!
//! ```json
//! {
//!   "version": 1,
//!   "name": "alice",
//!   "algorithm": "ed25519",
//!   "public_key": "<base64 (ed25519) or hex of the compressed point (secp256k1)>",
//!   "address": "oasis1…",
//!   "eth_address": "0x…",
//!   "kdf": { "function": "pbkdf2-hmac-sha512", "iterations": 210000, "salt": "<hex, 16 bytes>" },
//!   "cipher": { "function": "deoxysii-256-128", "nonce": "<hex, 15 bytes>", "ciphertext": "<hex>" }
//! }
//! ```
//!
//! - `eth_address` only for secp256k1 keys.
//! - The key: `PBKDF2-HMAC-SHA512(passphrase, salt, iterations)`, 32 bytes.
//! - The ciphertext: Deoxys-II-256-128 of the 32-byte secret (the ed25519
//!   seed, or the secp256k1 scalar, big-endian), authenticated together with
//!   the associated data `"atoll-wallet/v1" || algorithm || 0x00 || address
//!   (21 bytes)`, so that a file whose algorithm or address was edited no
//!   longer opens. A wrong passphrase fails the same authentication.
//!
//! # Passphrases
//!
//! From `--passphrase-file PATH` (its first line), else the environment
//! variable `ATOLL_PASSPHRASE`, else a prompt on the terminal (read without
//! echo by `rpassword`). Without a terminal and without either source, commands
//! that need a passphrase fail and say how to give one. Empty passphrases
//! are refused.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use atoll_crypto::{Address, ed25519, mrae, secp256k1};
use atoll_runtime_sdk::crypto::TxSigner;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

/// The environment variable a passphrase may come from.
pub const ENV_PASSPHRASE: &str = "ATOLL_PASSPHRASE";

/// PBKDF2 iterations of new wallets (OWASP's 2023 figure for
/// PBKDF2-HMAC-SHA512).
pub const KDF_ITERATIONS: u32 = 210_000;

/// Fewest iterations a wallet file may ask for (a file asking for fewer was
/// not written by atoll, or was tampered with).
const MIN_KDF_ITERATIONS: u32 = 10_000;

const KDF_FUNCTION: &str = "pbkdf2-hmac-sha512";
const CIPHER_FUNCTION: &str = "deoxysii-256-128";
const AD_PREFIX: &[u8] = b"atoll-wallet/v1";

/// The signature scheme of a wallet's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Ed25519: consensus accounts and ParaTime accounts.
    Ed25519,
    /// secp256k1: Ethereum-style ParaTime accounts (no consensus transactions).
    Secp256k1,
}

impl Algorithm {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Secp256k1 => "secp256k1",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Kdf {
    function: String,
    iterations: u32,
    salt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cipher {
    function: String,
    nonce: String,
    ciphertext: String,
}

/// A wallet file (public part readable without the passphrase).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WalletFile {
    version: u32,
    /// Its name.
    pub name: String,
    /// The key's scheme.
    pub algorithm: Algorithm,
    /// The public key (base64 for ed25519, hex for secp256k1).
    pub public_key: String,
    /// The account address.
    pub address: Address,
    /// The Ethereum address (secp256k1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eth_address: Option<String>,
    kdf: Kdf,
    cipher: Cipher,
}

/// An unlocked wallet.
pub struct Unlocked {
    /// Its public part.
    pub file: WalletFile,
    /// Its key.
    pub signer: TxSigner,
}

impl Unlocked {
    /// The ed25519 key, or an error saying that `what` needs one.
    pub fn ed25519(&self, what: &str) -> anyhow::Result<&ed25519::SigningKey> {
        match &self.signer {
            TxSigner::Ed25519(k) => Ok(k),
            TxSigner::Secp256k1(_) => bail!(
                "wallet {} holds a secp256k1 (Ethereum) key; {what} must be signed by an \
                 ed25519 key (the consensus layer knows only ed25519 signers). Use an ed25519 \
                 wallet (`atoll wallet create NAME`)",
                self.file.name
            ),
        }
    }

    /// The 32-byte secret, hex.
    pub fn secret_hex(&self) -> Zeroizing<String> {
        let mut secret = self.secret();
        let out = Zeroizing::new(hex::encode(*secret));
        secret.zeroize();
        out
    }

    fn secret(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(match &self.signer {
            TxSigner::Ed25519(k) => k.seed(),
            TxSigner::Secp256k1(k) => k.to_bytes(),
        })
    }
}

/// Where wallets live (see the module documentation).
pub fn default_dir() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("ATOLL_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home).join("wallets"));
    }
    if let Some(xdg) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("atoll").join("wallets"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home)
            .join(".config")
            .join("atoll")
            .join("wallets"));
    }
    bail!("cannot find a place for wallets: pass --wallet-dir DIR or set ATOLL_HOME")
}

/// Checks a wallet name: 1 to 64 of `A-Z a-z 0-9 _ -`, and not something
/// that reads as an address.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if name.is_empty() || name.len() > 64 || !ok_chars {
        bail!("invalid wallet name {name:?}: use 1 to 64 letters, digits, '_' or '-' (e.g. alice)");
    }
    if name.starts_with("oasis1") || name.starts_with("0x") || name.starts_with("0X") {
        bail!("invalid wallet name {name:?}: it would read as an address");
    }
    Ok(())
}

/// The wallets of one directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn associated_data(algorithm: Algorithm, address: &Address) -> Vec<u8> {
    let mut ad = AD_PREFIX.to_vec();
    ad.extend_from_slice(algorithm.as_str().as_bytes());
    ad.push(0);
    ad.extend_from_slice(address.as_bytes());
    ad
}

fn derive_key(passphrase: &str, salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    crate::keys::pbkdf2_hmac_sha512(passphrase.as_bytes(), salt, iterations, key.as_mut());
    key
}

/// The signer of a 32-byte secret.
pub fn signer_from_secret(algorithm: Algorithm, secret: &[u8; 32]) -> anyhow::Result<TxSigner> {
    Ok(match algorithm {
        Algorithm::Ed25519 => TxSigner::Ed25519(ed25519::SigningKey::from_seed(secret)),
        Algorithm::Secp256k1 => {
            TxSigner::Secp256k1(secp256k1::SigningKey::from_bytes(secret).context(
                "not a valid secp256k1 private key (zero, or not below the group order)",
            )?)
        }
    })
}

/// Parses a hex secret (64 hex digits, `0x` optional, surrounding
/// whitespace ignored).
pub fn parse_secret(text: &str) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let bytes = Zeroizing::new(hex::decode(t).map_err(|_| {
        anyhow::anyhow!(
            "the secret is not hex: give the 32-byte ed25519 seed or secp256k1 private key as \
             64 hex digits"
        )
    })?);
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        bail!(
            "the secret has {} bytes; an ed25519 seed or secp256k1 private key has 32 \
             (64 hex digits)",
            bytes.len()
        );
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

impl Store {
    /// The wallets in `dir` (which need not exist yet).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Whether a wallet of this name exists.
    pub fn exists(&self, name: &str) -> bool {
        check_name(name).is_ok() && self.path(name).exists()
    }

    /// Reads a wallet's public part.
    pub fn load(&self, name: &str) -> anyhow::Result<WalletFile> {
        check_name(name)?;
        let path = self.path(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "unknown account {name:?}: no wallet of that name in {} (see `atoll wallet \
                 list`), and it is not an address (oasis1… or 0x…)",
                self.dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let file: WalletFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an atoll wallet file", path.display()))?;
        if file.version != 1 {
            bail!(
                "{} is a version {} wallet; this atoll reads version 1",
                path.display(),
                file.version
            );
        }
        Ok(file)
    }

    /// Every wallet, by name.
    pub fn list(&self) -> anyhow::Result<Vec<WalletFile>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.dir.display()));
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".json").map(str::to_owned)
            })
            .filter(|n| check_name(n).is_ok())
            .collect();
        names.sort();
        names.iter().map(|n| self.load(n)).collect()
    }

    /// Encrypts and writes a new wallet; refuses to replace one.
    pub fn save(
        &self,
        name: &str,
        signer: &TxSigner,
        passphrase: &str,
        iterations: u32,
    ) -> anyhow::Result<WalletFile> {
        check_name(name)?;
        let path = self.path(name);
        if path.exists() {
            bail!(
                "a wallet named {name} already exists ({}); choose another name",
                path.display()
            );
        }
        let (algorithm, public_key, eth_address, mut secret) = match signer {
            TxSigner::Ed25519(k) => (
                Algorithm::Ed25519,
                k.public_key().to_base64(),
                None,
                k.seed(),
            ),
            TxSigner::Secp256k1(k) => (
                Algorithm::Secp256k1,
                k.public_key().to_hex(),
                Some(k.public_key().to_eth_address().to_checksum()),
                k.to_bytes(),
            ),
        };
        let address = signer.address();
        let mut salt = [0u8; 16];
        atoll_crypto::fill_random(&mut salt);
        let mut nonce = [0u8; mrae::NONCE_SIZE];
        atoll_crypto::fill_random(&mut nonce);
        let key = derive_key(passphrase, &salt, iterations);
        let ciphertext = mrae::seal(&key, &nonce, &secret, &associated_data(algorithm, &address));
        secret.zeroize();
        let file = WalletFile {
            version: 1,
            name: name.to_owned(),
            algorithm,
            public_key,
            address,
            eth_address,
            kdf: Kdf {
                function: KDF_FUNCTION.into(),
                iterations,
                salt: hex::encode(salt),
            },
            cipher: Cipher {
                function: CIPHER_FUNCTION.into(),
                nonce: hex::encode(nonce),
                ciphertext: hex::encode(ciphertext),
            },
        };
        let text = serde_json::to_string_pretty(&file)?;
        create_private_dir(&self.dir)?;
        // Written whole under a temporary name, then renamed: never half a file.
        let tmp = self.dir.join(format!(".{name}.json.tmp"));
        write_private(&tmp, text.as_bytes())?;
        if path.exists() {
            let _ = std::fs::remove_file(&tmp);
            bail!("a wallet named {name} already exists; choose another name");
        }
        std::fs::rename(&tmp, &path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(file)
    }

    /// Decrypts a wallet.
    pub fn unlock(&self, file: WalletFile, passphrase: &str) -> anyhow::Result<Unlocked> {
        if file.kdf.function != KDF_FUNCTION || file.cipher.function != CIPHER_FUNCTION {
            bail!(
                "wallet {} uses {} / {}, which this atoll does not know",
                file.name,
                file.kdf.function,
                file.cipher.function
            );
        }
        if file.kdf.iterations < MIN_KDF_ITERATIONS {
            bail!(
                "wallet {} asks for only {} KDF iterations; refusing to trust it",
                file.name,
                file.kdf.iterations
            );
        }
        let corrupt = || anyhow::anyhow!("wallet file of {} is corrupt", file.name);
        let salt = hex::decode(&file.kdf.salt).map_err(|_| corrupt())?;
        let nonce: [u8; mrae::NONCE_SIZE] = hex::decode(&file.cipher.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(corrupt)?;
        let ciphertext = hex::decode(&file.cipher.ciphertext).map_err(|_| corrupt())?;
        let key = derive_key(passphrase, &salt, file.kdf.iterations);
        let plain = Zeroizing::new(
            mrae::open(
                &key,
                &nonce,
                &ciphertext,
                &associated_data(file.algorithm, &file.address),
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "wrong passphrase for wallet {} (or its file was modified); nothing was done",
                    file.name
                )
            })?,
        );
        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
            plain
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("wallet {} holds a malformed key", file.name))?,
        );
        let signer = signer_from_secret(file.algorithm, &secret)?;
        if signer.address() != file.address {
            bail!(
                "wallet {}: its key does not match its address; the file is corrupt",
                file.name
            );
        }
        Ok(Unlocked { file, signer })
    }
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Where passphrases come from.
#[derive(Debug, Clone, Default)]
pub struct PassphraseSource {
    /// `--passphrase-file`.
    pub file: Option<PathBuf>,
}

impl PassphraseSource {
    /// The passphrase of wallet `name`. With `confirm` (a new wallet), an
    /// interactive prompt asks twice.
    pub fn get(&self, name: &str, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
        let pass = if let Some(path) = &self.file {
            let text =
                Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the passphrase file {}", path.display())
                })?);
            Zeroizing::new(text.lines().next().unwrap_or_default().to_owned())
        } else if let Some(p) = std::env::var_os(ENV_PASSPHRASE) {
            Zeroizing::new(p.to_string_lossy().into_owned())
        } else if std::io::stdin().is_terminal() {
            let p = prompt(&format!("passphrase for wallet {name}: "))?;
            if confirm {
                let again = prompt("repeat it: ")?;
                if *again != *p {
                    bail!("the passphrases differ; nothing was done");
                }
            }
            p
        } else {
            bail!(
                "wallet {name} needs a passphrase: pass --passphrase-file PATH, set \
                 {ENV_PASSPHRASE}, or run the command in a terminal"
            );
        };
        if pass.is_empty() {
            bail!("empty passphrase: a wallet's key must be protected by a passphrase");
        }
        Ok(pass)
    }
}

/// Reads a line from the terminal without echo: `text` goes to standard
/// error, the answer is read from the terminal by `rpassword`.
pub fn prompt(text: &str) -> anyhow::Result<Zeroizing<String>> {
    eprint!("{text}");
    let _ = std::io::stderr().flush();
    let line = Zeroizing::new(rpassword::read_password().context("cannot read from the terminal")?);
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("w"));
        for (name, algorithm) in [("a", Algorithm::Ed25519), ("b", Algorithm::Secp256k1)] {
            let signer = signer_from_secret(algorithm, &[7; 32]).unwrap();
            let saved = store.save(name, &signer, "pw", MIN_KDF_ITERATIONS).unwrap();
            assert_eq!(saved.address, signer.address());
            assert!(store.save(name, &signer, "pw", MIN_KDF_ITERATIONS).is_err());
            let file = store.load(name).unwrap();
            let unlocked = store.unlock(file.clone(), "pw").unwrap();
            assert_eq!(unlocked.signer.address(), signer.address());
            assert_eq!(*unlocked.secret_hex(), hex::encode([7; 32]));
            let e = store.unlock(file, "wrong").err().unwrap().to_string();
            assert!(e.contains("wrong passphrase"), "{e}");
        }
        assert_eq!(store.list().unwrap().len(), 2);
        // An edited address no longer opens.
        let path = store.path("a");
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let other = signer_from_secret(Algorithm::Ed25519, &[8; 32]).unwrap();
        v["address"] = other.address().to_string().into();
        std::fs::write(&path, v.to_string()).unwrap();
        assert!(store.unlock(store.load("a").unwrap(), "pw").is_err());
        let e = store.load("nobody").unwrap_err().to_string();
        assert!(e.contains("unknown account"), "{e}");
    }

    #[test]
    fn names_and_secrets() {
        assert!(check_name("alice_1-x").is_ok());
        for bad in ["", "a b", "../x", "oasis1abc", "0xabc", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(parse_secret(&"ab".repeat(32)).is_ok());
        assert!(parse_secret(&format!("0x{}\n", "ab".repeat(32))).is_ok());
        assert!(parse_secret("abcd").is_err());
        assert!(parse_secret(&"zz".repeat(32)).is_err());
        assert!(signer_from_secret(Algorithm::Secp256k1, &[0; 32]).is_err());
    }

    /// Wallet files written by the first release (its own PBKDF2 over
    /// SHA-512's compression function), passphrase `correct horse`: they
    /// must keep opening, whatever computes PBKDF2 now.
    const OLD_WALLETS: [(&str, &str, &str); 2] = [
        (
            "old-ed",
            r#"{
  "version": 1,
  "name": "old-ed",
  "algorithm": "ed25519",
  "public_key": "0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=",
  "address": "oasis1qz5jhmsuuu9hle82k9qtzea8avqmqtv0r55ruuxr",
  "kdf": {
    "function": "pbkdf2-hmac-sha512",
    "iterations": 10000,
    "salt": "ed6d80d822b060444b682cb9e9e3fe55"
  },
  "cipher": {
    "function": "deoxysii-256-128",
    "nonce": "5a4f04851d3014c951f7f20dd436db",
    "ciphertext": "eb67f2143cbeeb3f97099c1a3a5e5e4a03fca9c38373482e44cc710ae3dcf1e2a3c95c4c3b84732749364fd7dd93b93f"
  }
}"#,
            "11",
        ),
        (
            "old-k1",
            r#"{
  "version": 1,
  "name": "old-k1",
  "algorithm": "secp256k1",
  "public_key": "02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27",
  "address": "oasis1qq2t2rmpa2k4qps2m6esut88fkjncfrnes7z0vzz",
  "eth_address": "0x1563915e194D8CfBA1943570603F7606A3115508",
  "kdf": {
    "function": "pbkdf2-hmac-sha512",
    "iterations": 10000,
    "salt": "a2b0892a9576876c30270b9b1f1483fa"
  },
  "cipher": {
    "function": "deoxysii-256-128",
    "nonce": "0344af54e14680b62854eed3ab34f2",
    "ciphertext": "2b35344f3474f5a29bd3be43d455084516354a899bb62b9c139b54dc9b9174103fffd0ffe2d097d0b588bdb6db0867ce"
  }
}"#,
            "22",
        ),
    ];

    #[test]
    fn opens_wallets_written_by_the_first_release() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        for (name, text, byte) in OLD_WALLETS {
            std::fs::write(store.path(name), text).unwrap();
            let file = store.load(name).unwrap();
            let unlocked = store.unlock(file.clone(), "correct horse").unwrap();
            assert_eq!(*unlocked.secret_hex(), byte.repeat(32), "{name}");
            assert_eq!(unlocked.signer.address(), file.address, "{name}");
            let e = store
                .unlock(file, "correct horsE")
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains("wrong passphrase"), "{e}");
        }
    }
}

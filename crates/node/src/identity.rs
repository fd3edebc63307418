//! A node's keys on disk, created by `atoll identity init`.
//!
//! A directory holds one PEM file per key and `identity.json` with the public
//! halves (what an operator puts in the registry or a genesis document):
//!
//! | file            | key                    | used for                          |
//! |-----------------|------------------------|-----------------------------------|
//! | `node.pem`      | Ed25519                | the node's identity (registry)    |
//! | `consensus.pem` | Ed25519                | votes and proposals               |
//! | `p2p.pem`       | Ed25519                | libp2p transport identity         |
//! | `vrf.pem`       | sr25519 seed           | beacon VRF proofs                 |
//! | `entity.pem`    | Ed25519 (optional)     | the operator's entity             |
//!
//! An Ed25519 PEM body is the base64 of the 32-byte seed followed by the
//! 32-byte public key, so a damaged file is detected on load. Key files are
//! created readable by their owner only (mode 0600, directory 0700) and a key
//! file that others can read is refused, as ssh does.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_crypto::vrf::{VrfPublicKey, VrfSigningKey};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

const ED25519_LABEL: &str = "ED25519 PRIVATE KEY";
const VRF_LABEL: &str = "SR25519 VRF SEED";

/// Why keys could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key file is not a PEM key of the expected kind.
    #[error("{path}: {why}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A key file can be read by others.
    #[error("{path}: readable by others (mode {mode:o}); run chmod 600 on it")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// `init` would overwrite existing keys.
    #[error("{0}: keys already exist; refusing to overwrite them")]
    Exists(PathBuf),
}

/// The public half of an identity, as `identity.json` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicIdentity {
    /// The operator's entity (when its key lives here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<PublicKey>,
    /// The node.
    pub node: PublicKey,
    /// Its consensus key.
    pub consensus: PublicKey,
    /// Its libp2p key.
    pub p2p: PublicKey,
    /// Its VRF key.
    pub vrf: VrfPublicKey,
}

/// A node's private keys.
pub struct Identity {
    /// The operator's entity key, if it lives with the node.
    pub entity: Option<SigningKey>,
    /// The node's identity key.
    pub node: SigningKey,
    /// The consensus key.
    pub consensus: SigningKey,
    /// The libp2p key.
    pub p2p: SigningKey,
    /// The VRF seed.
    pub vrf_seed: [u8; 32],
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Identity {
    /// Fresh keys from the operating system's randomness.
    pub fn generate(with_entity: bool) -> Self {
        let mut vrf_seed = [0u8; 32];
        vrf_seed.copy_from_slice(&SigningKey::generate().seed());
        Self {
            entity: with_entity.then(SigningKey::generate),
            node: SigningKey::generate(),
            consensus: SigningKey::generate(),
            p2p: SigningKey::generate(),
            vrf_seed,
        }
    }

    /// The public halves.
    pub fn public(&self) -> PublicIdentity {
        PublicIdentity {
            entity: self.entity.as_ref().map(SigningKey::public_key),
            node: self.node.public_key(),
            consensus: self.consensus.public_key(),
            p2p: self.p2p.public_key(),
            vrf: VrfSigningKey::from_seed(&self.vrf_seed).public_key(),
        }
    }

    /// Creates `dir` with fresh keys; refuses to overwrite existing ones.
    pub fn init(dir: &Path, with_entity: bool) -> Result<Self, IdentityError> {
        let id = Self::generate(with_entity);
        id.save(dir)?;
        Ok(id)
    }

    /// Writes the keys into `dir` (created with mode 0700 if missing).
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        if dir.join("node.pem").exists() {
            return Err(IdentityError::Exists(dir.to_path_buf()));
        }
        create_private_dir(dir)?;
        let mut files = vec![
            ("node.pem", ed25519_pem(&self.node)),
            ("consensus.pem", ed25519_pem(&self.consensus)),
            ("p2p.pem", ed25519_pem(&self.p2p)),
            ("vrf.pem", pem(VRF_LABEL, &self.vrf_seed)),
        ];
        if let Some(e) = &self.entity {
            files.push(("entity.pem", ed25519_pem(e)));
        }
        for (name, text) in files {
            write_private(&dir.join(name), text.as_bytes())?;
        }
        let public =
            serde_json::to_string_pretty(&self.public()).map_err(|e| IdentityError::Malformed {
                path: dir.join("identity.json"),
                why: e.to_string(),
            })?;
        let path = dir.join("identity.json");
        fs::write(&path, format!("{public}\n")).map_err(io(&path))
    }

    /// Loads the keys in `dir`.
    pub fn load(dir: &Path) -> Result<Self, IdentityError> {
        let entity_path = dir.join("entity.pem");
        let entity = if entity_path.exists() {
            Some(load_ed25519(&entity_path)?)
        } else {
            None
        };
        let vrf_path = dir.join("vrf.pem");
        let vrf = read_pem(&vrf_path, VRF_LABEL)?;
        let vrf_seed: [u8; 32] = vrf
            .try_into()
            .map_err(|v: Vec<u8>| IdentityError::Malformed {
                path: vrf_path.clone(),
                why: format!("a VRF seed has 32 bytes, not {}", v.len()),
            })?;
        Ok(Self {
            entity,
            node: load_ed25519(&dir.join("node.pem"))?,
            consensus: load_ed25519(&dir.join("consensus.pem"))?,
            p2p: load_ed25519(&dir.join("p2p.pem"))?,
            vrf_seed,
        })
    }
}

/// Reads `identity.json` from an identity directory.
pub fn load_public(dir: &Path) -> Result<PublicIdentity, IdentityError> {
    let path = dir.join("identity.json");
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text).map_err(|e| IdentityError::Malformed {
        path,
        why: e.to_string(),
    })
}

fn pem(label: &str, bytes: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

fn ed25519_pem(key: &SigningKey) -> String {
    let mut bytes = key.seed().to_vec();
    bytes.extend_from_slice(key.public_key().as_ref());
    pem(ED25519_LABEL, &bytes)
}

fn create_private_dir(dir: &Path) -> Result<(), IdentityError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        if !dir.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io(dir))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir).map_err(io(dir))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), IdentityError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>, IdentityError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(IdentityError::Permissions {
                path: path.to_path_buf(),
                mode: mode & 0o777,
            });
        }
    }
    let text = fs::read_to_string(path).map_err(io(path))?;
    let bad = |why: &str| IdentityError::Malformed {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| bad(&format!("no \"{begin}\" line")))?;
    let rest = &text[start + begin.len()..];
    let stop = rest
        .find(&end)
        .ok_or_else(|| bad(&format!("no \"{end}\" line")))?;
    let body: String = rest[..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| bad(&format!("bad base64: {e}")))
}

fn load_ed25519(path: &Path) -> Result<SigningKey, IdentityError> {
    let bytes = read_pem(path, ED25519_LABEL)?;
    if bytes.len() != 64 {
        return Err(IdentityError::Malformed {
            path: path.to_path_buf(),
            why: format!(
                "an Ed25519 key has 64 bytes (seed and public key), not {}",
                bytes.len()
            ),
        });
    }
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&bytes[..32]);
    let key = SigningKey::from_seed(&seed);
    if key.public_key().as_ref() != &bytes[32..] {
        return Err(IdentityError::Malformed {
            path: path.to_path_buf(),
            why: "the public key does not match the seed (damaged file)".into(),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

    use super::*;

    #[test]
    fn init_then_load_round_trips_with_owner_only_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let id = Identity::init(&path, true).unwrap();
        let loaded = Identity::load(&path).unwrap();
        assert_eq!(loaded.public(), id.public());
        assert_eq!(load_public(&path).unwrap(), id.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for f in [
                "node.pem",
                "consensus.pem",
                "p2p.pem",
                "vrf.pem",
                "entity.pem",
            ] {
                let mode = fs::metadata(path.join(f)).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{f}");
            }
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        // Never overwritten.
        assert!(matches!(
            Identity::init(&path, false),
            Err(IdentityError::Exists(_))
        ));
    }

    #[test]
    fn damaged_or_exposed_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        Identity::init(&path, false).unwrap();
        let node = path.join("node.pem");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&node, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Identity::load(&path),
                Err(IdentityError::Permissions { .. })
            ));
            fs::set_permissions(&node, fs::Permissions::from_mode(0o600)).unwrap();
        }
        // Flip a byte of the public half: detected.
        let text = fs::read_to_string(&node).unwrap();
        let body: String = text.lines().nth(1).unwrap().to_string();
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&body)
            .unwrap();
        bytes[40] ^= 1;
        let damaged = pem(ED25519_LABEL, &bytes);
        fs::write(&node, damaged).unwrap();
        let err = Identity::load(&path).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        fs::write(&node, "garbage").unwrap();
        assert!(matches!(
            Identity::load(&path),
            Err(IdentityError::Malformed { .. })
        ));
    }
}

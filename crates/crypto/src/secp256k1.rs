//! secp256k1 keys, recoverable signatures and Ethereum addresses.
//!
//! Ethereum transactions carry no public key: the sender is recovered from a
//! 65-byte `r || s || v` signature over a Keccak-256 prehash. Recovery here
//! enforces low `s` (EIP-2), so a signature has exactly one valid encoding.
//!
//! ```
//! use atoll_crypto::{keccak256, secp256k1::SigningKey};
//!
//! let key = SigningKey::from_bytes(&[0x11; 32])?;
//! let digest = keccak256(b"transaction bytes");
//! let sig = key.sign_prehash(&digest);
//! let signer = atoll_crypto::secp256k1::recover(&digest, &sig)?;
//! assert_eq!(signer.to_eth_address(), key.public_key().to_eth_address());
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use k256::ecdsa::{RecoveryId, Signature as K256Signature, VerifyingKey};
use zeroize::Zeroize;

use crate::error::CryptoError;
use crate::hash::keccak256;

/// Size of a compressed SEC1 public key.
pub const PUBLIC_KEY_SIZE: usize = 33;
/// Size of an uncompressed SEC1 public key.
pub const UNCOMPRESSED_PUBLIC_KEY_SIZE: usize = 65;
/// Size of a recoverable signature: `r || s || recovery id`.
pub const RECOVERABLE_SIGNATURE_SIZE: usize = 65;
/// Size of an Ethereum address.
pub const ETH_ADDRESS_SIZE: usize = 20;

const SCHEME: &str = "secp256k1";

/// How many keys [`eth_addresses`] remembers before it starts over.
const ETH_ADDRESS_CACHE: usize = 1 << 16;

/// The Ethereum addresses of keys seen recently, by compressed key. An
/// address needs the uncompressed point, and decompressing one costs a field
/// square root (tens of microseconds), while a ParaTime derives the same
/// sender's address several times per transaction. Only keys that were
/// valid points get in, so a hit also proves the bytes are a valid key. The
/// cache changes no result, only the work.
fn eth_addresses() -> &'static Mutex<HashMap<[u8; PUBLIC_KEY_SIZE], [u8; ETH_ADDRESS_SIZE]>> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; PUBLIC_KEY_SIZE], [u8; ETH_ADDRESS_SIZE]>>> =
        OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cached_eth_address(key: &[u8; PUBLIC_KEY_SIZE]) -> Option<EthAddress> {
    eth_addresses()
        .lock()
        .ok()?
        .get(key)
        .copied()
        .map(EthAddress)
}

fn remember_eth_address(key: [u8; PUBLIC_KEY_SIZE], address: EthAddress) {
    if let Ok(mut cache) = eth_addresses().lock() {
        if cache.len() >= ETH_ADDRESS_CACHE {
            cache.clear();
        }
        cache.insert(key, address.0);
    }
}

/// The Ethereum address of an uncompressed SEC1 point.
fn eth_address_of(uncompressed: &[u8]) -> EthAddress {
    let digest = keccak256(uncompressed.get(1..).unwrap_or_default());
    let mut out = [0u8; ETH_ADDRESS_SIZE];
    out.copy_from_slice(digest.get(12..).unwrap_or_default());
    EthAddress(out)
}

/// A secp256k1 public key, kept in compressed SEC1 form (33 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; PUBLIC_KEY_SIZE]);

impl PublicKey {
    /// Parses a SEC1 public key, compressed (33 bytes) or uncompressed (65
    /// bytes); the point must be on the curve.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != PUBLIC_KEY_SIZE && bytes.len() != UNCOMPRESSED_PUBLIC_KEY_SIZE {
            return Err(CryptoError::InvalidLength {
                what: "secp256k1 public key",
                expected: PUBLIC_KEY_SIZE,
                got: bytes.len(),
            });
        }
        if let Ok(compressed) = <[u8; PUBLIC_KEY_SIZE]>::try_from(bytes)
            && cached_eth_address(&compressed).is_some()
        {
            return Ok(Self(compressed));
        }
        let vk = VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| CryptoError::MalformedPublicKey { scheme: SCHEME })?;
        Ok(Self::from_verifying_key(&vk))
    }

    fn from_verifying_key(vk: &VerifyingKey) -> Self {
        let mut out = [0u8; PUBLIC_KEY_SIZE];
        out.copy_from_slice(vk.to_sec1_point(true).as_bytes());
        Self(out)
    }

    fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        VerifyingKey::from_sec1_bytes(&self.0)
            .map_err(|_| CryptoError::MalformedPublicKey { scheme: SCHEME })
    }

    /// The compressed 33 bytes.
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.0
    }

    /// The uncompressed 65-byte form (`0x04 || x || y`).
    pub fn to_uncompressed(&self) -> [u8; UNCOMPRESSED_PUBLIC_KEY_SIZE] {
        let mut out = [0u8; UNCOMPRESSED_PUBLIC_KEY_SIZE];
        // The key was validated when it was built, so decoding cannot fail;
        // the fallback keeps this function total without a panic path.
        if let Ok(vk) = self.verifying_key() {
            out.copy_from_slice(vk.to_sec1_point(false).as_bytes());
        }
        out
    }

    /// The Ethereum address: the last 20 bytes of Keccak-256 over the 64-byte
    /// uncompressed point (without its `0x04` prefix).
    pub fn to_eth_address(&self) -> EthAddress {
        if let Some(address) = cached_eth_address(&self.0) {
            return address;
        }
        let address = eth_address_of(&self.to_uncompressed());
        remember_eth_address(self.0, address);
        address
    }

    /// Verifies a non-recoverable (64-byte `r || s`) ECDSA signature over a
    /// 32-byte prehash. High-`s` signatures are refused.
    pub fn verify_prehash(&self, prehash: &[u8; 32], sig: &[u8]) -> Result<(), CryptoError> {
        use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let sig = parse_rs(sig)?;
        self.verifying_key()?
            .verify_prehash(prehash, &sig)
            .map_err(|_| CryptoError::VerificationFailed { scheme: SCHEME })
    }

    /// Lowercase hex of the compressed form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses hex (with or without `0x`) of either SEC1 form.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|_| CryptoError::InvalidHex {
            what: "secp256k1 public key",
        })?;
        Self::from_slice(&bytes)
    }
}

impl AsRef<[u8]> for PublicKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secp256k1::PublicKey({})", self.to_hex())
    }
}

serde_bytes_impl!(
    PublicKey,
    "secp256k1 public key",
    PublicKey::from_slice,
    PublicKey::to_hex,
    PublicKey::from_hex
);

fn parse_rs(sig: &[u8]) -> Result<K256Signature, CryptoError> {
    let rs = sig
        .get(..64)
        .filter(|_| sig.len() == 64)
        .ok_or(CryptoError::InvalidLength {
            what: "secp256k1 signature",
            expected: 64,
            got: sig.len(),
        })?;
    let sig = K256Signature::from_slice(rs)
        .map_err(|_| CryptoError::MalformedSignature { scheme: SCHEME })?;
    if sig.normalize_s() != sig {
        return Err(CryptoError::HighS);
    }
    Ok(sig)
}

/// A recoverable ECDSA signature: `r (32) || s (32) || recovery id (1)`,
/// with the recovery id 0 or 1 (the parity of the nonce point's y).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecoverableSignature([u8; RECOVERABLE_SIGNATURE_SIZE]);

impl RecoverableSignature {
    /// Builds a signature from `r`, `s` and a recovery id (0 or 1; Ethereum's
    /// `v` values 27/28 and EIP-155 values are the EVM layer's to normalise).
    pub fn from_parts(r: &[u8; 32], s: &[u8; 32], recovery_id: u8) -> Result<Self, CryptoError> {
        if recovery_id > 1 {
            return Err(CryptoError::MalformedSignature { scheme: SCHEME });
        }
        let mut out = [0u8; RECOVERABLE_SIGNATURE_SIZE];
        out[..32].copy_from_slice(r);
        out[32..64].copy_from_slice(s);
        out[64] = recovery_id;
        Ok(Self(out))
    }

    /// Parses the 65-byte form.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; RECOVERABLE_SIGNATURE_SIZE] =
            crate::error::fixed(bytes, "secp256k1 recoverable signature")?;
        if arr[64] > 1 {
            return Err(CryptoError::MalformedSignature { scheme: SCHEME });
        }
        Ok(Self(arr))
    }

    /// The 65 bytes.
    pub const fn as_bytes(&self) -> &[u8; RECOVERABLE_SIGNATURE_SIZE] {
        &self.0
    }

    /// `r`, the first 32 bytes.
    pub fn r(&self) -> [u8; 32] {
        let mut r = [0u8; 32];
        r.copy_from_slice(&self.0[..32]);
        r
    }

    /// `s`, the second 32 bytes.
    pub fn s(&self) -> [u8; 32] {
        let mut s = [0u8; 32];
        s.copy_from_slice(&self.0[32..64]);
        s
    }

    /// The recovery id, 0 or 1.
    pub const fn recovery_id(&self) -> u8 {
        self.0[64]
    }
}

impl fmt::Debug for RecoverableSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "secp256k1::RecoverableSignature({})",
            hex::encode(self.0)
        )
    }
}

/// Recovers the public key that made `sig` over the 32-byte `prehash`.
/// Refuses high-`s` signatures (EIP-2) and recovery ids other than 0 and 1.
pub fn recover(prehash: &[u8; 32], sig: &RecoverableSignature) -> Result<PublicKey, CryptoError> {
    let rs = parse_rs(&sig.0[..64])?;
    let recid = RecoveryId::from_byte(sig.recovery_id())
        .ok_or(CryptoError::MalformedSignature { scheme: SCHEME })?;
    let vk = VerifyingKey::recover_from_prehash(prehash, &rs, recid)
        .map_err(|_| CryptoError::RecoveryFailed)?;
    let key = PublicKey::from_verifying_key(&vk);
    // The recovered point is at hand: remember its address now, which
    // spares the decompression when the sender's address is needed.
    remember_eth_address(key.0, eth_address_of(vk.to_sec1_point(false).as_bytes()));
    Ok(key)
}

/// A secp256k1 signing key. Its secret is wiped from memory when dropped.
#[derive(Clone)]
pub struct SigningKey {
    inner: k256::ecdsa::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// The key with secret scalar `bytes` (big-endian); zero and values not
    /// below the group order are refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, CryptoError> {
        let inner = k256::ecdsa::SigningKey::from_slice(bytes)
            .map_err(|_| CryptoError::MalformedSecretKey { scheme: SCHEME })?;
        let public = PublicKey::from_verifying_key(inner.verifying_key());
        Ok(Self { inner, public })
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Self {
        loop {
            let mut secret = [0u8; 32];
            crate::fill_random(&mut secret);
            let key = Self::from_bytes(&secret);
            secret.zeroize();
            if let Ok(key) = key {
                return key;
            }
        }
    }

    /// The secret scalar, big-endian (for storing the key; handle with care).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(&self.inner.to_bytes());
        out
    }

    /// The matching public key.
    pub const fn public_key(&self) -> PublicKey {
        self.public
    }

    /// Signs a 32-byte prehash (RFC 6979 deterministic nonce), returning a
    /// low-`s` recoverable signature.
    pub fn sign_prehash(&self, prehash: &[u8; 32]) -> RecoverableSignature {
        let (sig, recid) = self.inner.sign_prehash_recoverable(prehash);
        // k256 already normalises s for secp256k1; normalising again keeps the
        // invariant local. Flipping s flips the parity of the recovery id.
        let (sig, recid) = match sig.normalize_s() {
            n if n == sig => (sig, recid),
            n => (n, RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced())),
        };
        let mut out = [0u8; RECOVERABLE_SIGNATURE_SIZE];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = recid.to_byte() & 1;
        RecoverableSignature(out)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secp256k1::SigningKey(public: {})", self.public.to_hex())
    }
}

/// A 20-byte Ethereum address, printed with its EIP-55 checksum.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EthAddress(pub [u8; ETH_ADDRESS_SIZE]);

impl EthAddress {
    /// Parses 20 raw bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; ETH_ADDRESS_SIZE] = crate::error::fixed(bytes, "ethereum address")?;
        Ok(Self(arr))
    }

    /// The raw 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; ETH_ADDRESS_SIZE] {
        &self.0
    }

    /// `0x`-prefixed hex with the EIP-55 mixed-case checksum.
    pub fn to_checksum(&self) -> String {
        let lower = hex::encode(self.0);
        let digest = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = digest
                .get(i / 2)
                .map_or(0, |b| if i % 2 == 0 { b >> 4 } else { b & 0x0f });
            if c.is_ascii_alphabetic() && nibble >= 8 {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Parses `0x`-prefixed (or bare) hex. All-lowercase and all-uppercase
    /// forms are accepted as they are; a mixed-case form must carry a valid
    /// EIP-55 checksum, since a mistyped address is then caught.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        let body = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let bytes = hex::decode(body).map_err(|_| CryptoError::InvalidHex {
            what: "ethereum address",
        })?;
        let addr = Self::from_slice(&bytes)?;
        let mixed = body.chars().any(|c| c.is_ascii_lowercase())
            && body.chars().any(|c| c.is_ascii_uppercase());
        if mixed && addr.to_checksum().get(2..) != Some(body) {
            return Err(CryptoError::InvalidHex {
                what: "ethereum address (bad EIP-55 checksum)",
            });
        }
        Ok(addr)
    }
}

impl AsRef<[u8]> for EthAddress {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for EthAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksum())
    }
}

impl fmt::Debug for EthAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EthAddress({})", self.to_checksum())
    }
}

impl FromStr for EthAddress {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

serde_bytes_impl!(
    EthAddress,
    "ethereum address",
    EthAddress::from_slice,
    EthAddress::to_checksum,
    EthAddress::from_hex
);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex_secret: &str) -> SigningKey {
        let b: [u8; 32] = hex::decode(hex_secret).unwrap().try_into().unwrap();
        SigningKey::from_bytes(&b).unwrap()
    }

    #[test]
    fn known_ethereum_addresses() {
        // Private key 1: the generator point.
        let mut one = [0u8; 32];
        one[31] = 1;
        let k = SigningKey::from_bytes(&one).unwrap();
        assert_eq!(
            k.public_key().to_eth_address().to_checksum(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        // The key from the web3.js accounts documentation.
        let k = key("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        assert_eq!(
            k.public_key().to_eth_address().to_checksum(),
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
        );
        // Hardhat's first default account.
        let k = key("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
        assert_eq!(
            k.public_key().to_eth_address().to_checksum(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn eip55_parsing() {
        let a: EthAddress = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
            .parse()
            .unwrap();
        assert_eq!(
            a,
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
                .parse()
                .unwrap()
        );
        assert_eq!(
            a,
            "F39FD6E51AAD88F6F4CE6AB8827279CFFFB92266".parse().unwrap()
        );
        // One letter's case flipped: the checksum catches it.
        assert!(
            "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<EthAddress>()
                .is_err()
        );
        assert!("0x1234".parse::<EthAddress>().is_err());
        assert!("0xzz".parse::<EthAddress>().is_err());
    }

    #[test]
    fn remembered_addresses_match_derived_ones() {
        let signing = key("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        let digest = keccak256(b"cache");
        let sig = signing.sign_prehash(&digest);
        let recovered = recover(&digest, &sig).unwrap();
        // Derived by hand from the uncompressed point, bypassing the cache.
        let derived = eth_address_of(&recovered.to_uncompressed());
        assert_eq!(cached_eth_address(recovered.as_bytes()), Some(derived));
        assert_eq!(recovered.to_eth_address(), derived);
        assert_eq!(
            derived.to_checksum(),
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
        );
        // A remembered key parses without decompression and stays equal.
        assert_eq!(
            PublicKey::from_slice(recovered.as_bytes()).unwrap(),
            recovered
        );
        // Bytes that are not a point are still refused.
        let mut bad = [0xffu8; PUBLIC_KEY_SIZE];
        bad[0] = 0x02;
        assert!(PublicKey::from_slice(&bad).is_err());
    }

    #[test]
    fn sign_recover_round_trip() {
        for i in 1..20u8 {
            let k = SigningKey::from_bytes(&[i; 32]).unwrap();
            let digest = keccak256(&[i]);
            let sig = k.sign_prehash(&digest);
            assert_eq!(recover(&digest, &sig).unwrap(), k.public_key());
            // Another digest recovers another key.
            let other = keccak256(&[i, i]);
            assert_ne!(recover(&other, &sig).ok(), Some(k.public_key()));
        }
    }

    #[test]
    fn high_s_and_bad_recovery_ids_are_refused() {
        let k = SigningKey::from_bytes(&[9; 32]).unwrap();
        let digest = keccak256(b"x");
        let sig = k.sign_prehash(&digest);
        // s' = n - s is the malleated twin; recovery must refuse it.
        let n = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
            .unwrap();
        let s = sig.s();
        let mut high = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            high[i] = u8::try_from(d.rem_euclid(256)).unwrap();
        }
        let twin =
            RecoverableSignature::from_parts(&sig.r(), &high, sig.recovery_id() ^ 1).unwrap();
        assert_eq!(recover(&digest, &twin), Err(CryptoError::HighS));
        assert!(RecoverableSignature::from_parts(&sig.r(), &sig.s(), 2).is_err());
        assert!(RecoverableSignature::from_slice(&[0u8; 64]).is_err());
        // r = 0 is not a signature.
        let zero_r = RecoverableSignature::from_parts(&[0; 32], &sig.s(), 0).unwrap();
        assert!(recover(&digest, &zero_r).is_err());
    }

    #[test]
    fn non_recoverable_verify() {
        let k = SigningKey::from_bytes(&[5; 32]).unwrap();
        let digest = keccak256(b"y");
        let sig = k.sign_prehash(&digest);
        k.public_key()
            .verify_prehash(&digest, &sig.as_bytes()[..64])
            .unwrap();
        assert!(
            k.public_key()
                .verify_prehash(&keccak256(b"z"), &sig.as_bytes()[..64])
                .is_err()
        );
        assert!(
            k.public_key()
                .verify_prehash(&digest, &sig.as_bytes()[..63])
                .is_err()
        );
    }

    #[test]
    fn malformed_keys() {
        assert!(SigningKey::from_bytes(&[0; 32]).is_err());
        assert!(SigningKey::from_bytes(&[0xff; 32]).is_err());
        let mut bad = [0u8; 33];
        bad[0] = 5;
        assert_eq!(
            PublicKey::from_slice(&bad),
            Err(CryptoError::MalformedPublicKey {
                scheme: "secp256k1"
            })
        );
        assert!(matches!(
            PublicKey::from_slice(&[2; 32]),
            Err(CryptoError::InvalidLength { .. })
        ));
        let k = SigningKey::from_bytes(&[7; 32]).unwrap();
        let pk = k.public_key();
        assert_eq!(PublicKey::from_slice(&pk.to_uncompressed()).unwrap(), pk);
        assert_eq!(
            SigningKey::from_bytes(&k.to_bytes()).unwrap().public_key(),
            pk
        );
    }
}

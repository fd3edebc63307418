//! Key derivation: PBKDF2-HMAC-SHA512, BIP-39 seeds and BIP-32 derivation
//! of secp256k1 (Ethereum) keys, on RustCrypto's `pbkdf2` and `bip32`.
//!
//! - [`pbkdf2_hmac_sha512`]: RFC 8018 PBKDF2 with HMAC-SHA512. The wallet
//!   uses it to turn a passphrase into an encryption key, BIP-39 to turn a
//!   mnemonic into a seed.
//! - [`bip39_seed`]: the 64-byte seed of a mnemonic (PBKDF2-HMAC-SHA512,
//!   2048 iterations, salt `"mnemonic" || passphrase`). The mnemonic is
//!   used as given: ASCII words separated by single spaces (the NFKD
//!   normalisation BIP-39 asks for changes nothing then). Its checksum is
//!   not checked: any phrase gives a seed.
//! - [`eth_dev_key`]: the secp256k1 key at `m/44'/60'/0'/0/index` (BIP-32,
//!   BIP-44 coin type 60), as Ethereum wallets, Hardhat and Foundry derive
//!   their accounts; for the development mnemonic, account 0 is
//!   `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266`.

use anyhow::{Context as _, anyhow};
use atoll_crypto::secp256k1;
use bip32::{ChildNumber, XPrv};
use zeroize::Zeroize as _;

/// PBKDF2-HMAC-SHA512 (RFC 8018) of `password` and `salt`, filling `out`.
pub fn pbkdf2_hmac_sha512(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, iterations, out);
}

/// The BIP-39 seed of `mnemonic` with an empty passphrase.
pub fn bip39_seed(mnemonic: &str) -> [u8; 64] {
    let mut seed = [0u8; 64];
    pbkdf2_hmac_sha512(mnemonic.as_bytes(), b"mnemonic", 2048, &mut seed);
    seed
}

/// The secp256k1 key at BIP-32 `path` from `seed`. A seed or index that
/// gives an invalid key (probability below 2^-127) is an error, as BIP-32
/// says: the caller uses another seed or the next index.
fn derive_path(seed: &[u8], path: &[ChildNumber]) -> anyhow::Result<secp256k1::SigningKey> {
    let mut key = XPrv::new(seed)
        .map_err(|e| anyhow!("the seed gives no BIP-32 master key ({e}); use another seed"))?;
    for child in path {
        key = key
            .derive_child(*child)
            .map_err(|e| anyhow!("BIP-32 child {child} is invalid ({e}); use the next index"))?;
    }
    let mut secret: [u8; 32] = key.private_key().to_bytes().into();
    let signer =
        secp256k1::SigningKey::from_bytes(&secret).context("derived an invalid secp256k1 key");
    secret.zeroize();
    signer
}

/// The Ethereum account `index` of `mnemonic`: BIP-39 seed (empty
/// passphrase), BIP-32 path `m/44'/60'/0'/0/index`.
pub fn eth_dev_key(mnemonic: &str, index: u32) -> anyhow::Result<secp256k1::SigningKey> {
    let hardened = |i: u32| ChildNumber::new(i, true);
    let path = [
        hardened(44)?,
        hardened(60)?,
        hardened(0)?,
        ChildNumber::new(0, false)?,
        ChildNumber::new(index, false)
            .map_err(|e| anyhow!("account index {index} is out of range ({e})"))?,
    ];
    let mut seed = bip39_seed(mnemonic);
    let key = derive_path(&seed, &path);
    seed.zeroize();
    key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use hmac::{KeyInit as _, Mac as _};

    use super::*;

    const MNEMONIC: &str = "test test test test test test test test test test test junk";

    fn hmac_sha512(key: &[u8], data: &[u8]) -> [u8; 64] {
        let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Plain PBKDF2 over the `hmac` crate (RFC 8018, one block), to check
    /// the library against.
    fn slow_pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 64] {
        let mut first = salt.to_vec();
        first.extend_from_slice(&1u32.to_be_bytes());
        let mut u = hmac_sha512(password, &first);
        let mut t = u;
        for _ in 1..iterations {
            u = hmac_sha512(password, &u);
            for (a, b) in t.iter_mut().zip(u.iter()) {
                *a ^= b;
            }
        }
        t
    }

    #[test]
    fn pbkdf2_known_answer_and_fast_path() {
        let mut out = [0u8; 64];
        pbkdf2_hmac_sha512(b"password", b"salt", 1, &mut out);
        assert_eq!(
            hex::encode(out),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
             c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"
        );
        for (password, iterations) in [
            (&b"password"[..], 2),
            (&b"a much longer passphrase than one block of SHA-512 holds, padded out: 0123456789012345678901234567890123456789"[..], 7),
            (&b""[..], 3),
        ] {
            pbkdf2_hmac_sha512(password, b"salt", iterations, &mut out);
            assert_eq!(out, slow_pbkdf2(password, b"salt", iterations));
        }
        // Output longer than one block: the second block uses index 2.
        let mut long = [0u8; 80];
        pbkdf2_hmac_sha512(b"pw", b"s", 3, &mut long);
        let mut first = [0u8; 64];
        pbkdf2_hmac_sha512(b"pw", b"s", 3, &mut first);
        assert_eq!(long[..64], first);
    }

    #[test]
    fn hardhat_accounts() {
        let expected = [
            (
                "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
                "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            ),
            (
                "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
                "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            ),
            (
                "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
                "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            ),
        ];
        for (i, (secret, address)) in expected.iter().enumerate() {
            let key = eth_dev_key(MNEMONIC, u32::try_from(i).unwrap()).unwrap();
            assert_eq!(hex::encode(key.to_bytes()), *secret, "account {i}");
            assert_eq!(
                key.public_key().to_eth_address().to_checksum(),
                *address,
                "account {i}"
            );
        }
    }
}

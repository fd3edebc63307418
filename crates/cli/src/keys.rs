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
//! - [`adr0008_key`]: the ed25519 key at `m/44'/474'/index'` by Oasis's
//!   ADR 0008 (BIP-39 seed, SLIP-10 ed25519: only hardened children), as
//!   the Oasis CLI (`ed25519-adr8`), the Oasis wallets and the Ledger app
//!   derive their accounts.

use anyhow::{Context as _, anyhow};
use atoll_crypto::{ed25519, secp256k1};
use bip32::{ChildNumber, XPrv};
use hmac::{KeyInit as _, Mac as _};
use zeroize::Zeroize as _;

/// BIP-44 coin type of Oasis (SLIP-44 474).
pub const OASIS_COIN_TYPE: u32 = 474;

/// HMAC-SHA512 of `parts` under `key`, split into (key, chain code).
fn hmac_halves(key: &[u8], parts: &[&[u8]]) -> anyhow::Result<([u8; 32], [u8; 32])> {
    let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(key)
        .map_err(|_| anyhow!("HMAC refused its key"))?;
    for p in parts {
        mac.update(p);
    }
    let mut out: [u8; 64] = mac.finalize().into_bytes().into();
    let mut k = [0u8; 32];
    let mut c = [0u8; 32];
    k.copy_from_slice(&out[..32]);
    c.copy_from_slice(&out[32..]);
    out.zeroize();
    Ok((k, c))
}

/// The SLIP-10 ed25519 secret at the hardened `path` (indices below 2^31,
/// each taken as hardened) from `seed`: master = HMAC-SHA512("ed25519
/// seed", seed), child = HMAC-SHA512(chain code, 0x00 || key || ser32(i +
/// 2^31)); the left half is the key, the right half the chain code.
pub fn slip10_ed25519(seed: &[u8], path: &[u32]) -> anyhow::Result<[u8; 32]> {
    let (mut key, mut chain) = hmac_halves(b"ed25519 seed", &[seed])?;
    for i in path {
        if *i >= 1 << 31 {
            return Err(anyhow!(
                "index {i} is not below 2^31 (SLIP-10 ed25519 hardens every index)"
            ));
        }
        let index = (*i | 1 << 31).to_be_bytes();
        let (k, c) = hmac_halves(&chain, &[&[0u8], &key, &index])?;
        key.zeroize();
        key = k;
        chain = c;
    }
    chain.zeroize();
    Ok(key)
}

/// The ed25519 account `index` of an Oasis `mnemonic` by ADR 0008: BIP-39
/// seed (empty passphrase), SLIP-10 path `m/44'/474'/index'`.
pub fn adr0008_key(mnemonic: &str, index: u32) -> anyhow::Result<ed25519::SigningKey> {
    let mut seed = bip39_seed(mnemonic);
    let secret = slip10_ed25519(&seed, &[44, OASIS_COIN_TYPE, index]);
    seed.zeroize();
    let mut secret = secret?;
    let key = ed25519::SigningKey::from_seed(&secret);
    secret.zeroize();
    Ok(key)
}

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

    /// ADR 0008's test vectors (oasisprotocol/adrs,
    /// `0008-standard-account-key-generation.md`, "Test Vectors": the
    /// second mnemonic; private keys there are seed || public key).
    #[test]
    fn adr0008_test_vectors() {
        let mnemonic = "equip will roof matter pink blind book anxiety banner elbow sun young";
        assert_eq!(
            hex::encode(bip39_seed(mnemonic)),
            "ed2f664e65b5ef0dd907ae15a2788cfc98e41970bc9fcb46f5900f6919862075\
             e721f37212304a56505dab99b001cc8907ef093b7c5016a46b50c01cc3ec1cac"
        );
        let vectors = [
            (
                0,
                "4e9ca1a4c2ed90c90da93ea181557ef9f465f444c0b7de35daeb218f9390d985",
                "45601f761af17dba50243529e629732f1c58d08ffddaa8491238540475729d85",
                "oasis1qqjkrr643qv7yzem6g4m8rrtceh42n46usfscpcf",
            ),
            (
                1,
                "2d0d2e75a13fd9dc423a2db8dfc1db6ebacd53f22c8a7eeb269086ec3b443eb6",
                "27ed04a3c0dcec6591c001e4ea307d65cbd712cb90d85ab7703c35eee07a77dd",
                "oasis1qp42qp8d5k8pgekvzz0ld47k8ewvppjtmqg7t5kz",
            ),
            (
                9,
                "5257b10a5fcfd008824e2216be17be6e47b9db74018f63bb55de4d747cae6d7b",
                "ba734348f3ec7af939269f62828416091c0d89e14c813ebf5e64e24d6d37e7ab",
                "oasis1qp9t7zerat3lh2f7xzc58ahqzta5kj4u3gupgxfk",
            ),
            (
                2_147_483_647,
                "e7152f1b69ad6edfc05dccf67dad5305edb224669025c809d89de7e56b2cabe5",
                "8c348f412819da57361cdbd7dfbe695a05dba7f24b8e7328ff991ffadab6c4d2",
                "oasis1qzajez400yvnzcv8x8gtcxt4z5mkfchuh5ca05hq",
            ),
        ];
        for (i, secret, public, address) in vectors {
            let seed = slip10_ed25519(&bip39_seed(mnemonic), &[44, 474, i]).unwrap();
            assert_eq!(hex::encode(seed), secret, "account {i}");
            let key = adr0008_key(mnemonic, i).unwrap();
            assert_eq!(hex::encode(key.public_key()), public, "account {i}");
            assert_eq!(
                atoll_crypto::Address::from_ed25519(&key.public_key()).to_string(),
                address,
                "account {i}"
            );
        }
        // 2^31 cannot be hardened again.
        assert!(adr0008_key(mnemonic, 1 << 31).is_err());
    }
}

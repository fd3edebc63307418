//! Key derivation: PBKDF2-HMAC-SHA512, BIP-39 seeds and BIP-32 derivation
//! of secp256k1 (Ethereum) keys.
//!
//! - [`pbkdf2_hmac_sha512`]: RFC 8018 PBKDF2 with HMAC-SHA512. The wallet
//!   uses it to turn a passphrase into an encryption key, BIP-39 to turn a
//!   mnemonic into a seed. The iterations after the first run on SHA-512's
//!   compression function directly, with the key's inner and outer pads
//!   hashed once, so that many iterations stay affordable.
//! - [`bip39_seed`]: the 64-byte seed of a mnemonic (PBKDF2-HMAC-SHA512,
//!   2048 iterations, salt `"mnemonic" || passphrase`). The mnemonic is
//!   used as given: ASCII words separated by single spaces (the NFKD
//!   normalisation BIP-39 asks for changes nothing then). Its checksum is
//!   not checked: any phrase gives a seed.
//! - [`eth_dev_key`]: the secp256k1 key at `m/44'/60'/0'/0/index` (BIP-32,
//!   BIP-44 coin type 60), as Ethereum wallets, Hardhat and Foundry derive
//!   their accounts; for the development mnemonic, account 0 is
//!   `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266`.

use anyhow::{Context as _, bail};
use atoll_crypto::secp256k1;
use hmac::{KeyInit as _, Mac as _};
use zeroize::Zeroize as _;

type HmacSha512 = hmac::Hmac<sha2::Sha512>;

/// SHA-512's initial state (FIPS 180-4, 5.3.5).
const SHA512_IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

const BLOCK: usize = 128;

/// HMAC-SHA512 of `data` under `key`.
pub fn hmac_sha512(key: &[u8], data: &[u8]) -> [u8; 64] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = HmacSha512::new_from_slice(key) else {
        return [0; 64];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// SHA-512 states after the key's inner and outer pad blocks.
struct PadStates {
    inner: [u64; 8],
    outer: [u64; 8],
}

impl PadStates {
    fn new(key: &[u8]) -> Self {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            let digest = atoll_crypto::sha512(key);
            k[..64].copy_from_slice(&digest);
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let mut ipad = [0u8; BLOCK];
        let mut opad = [0u8; BLOCK];
        for i in 0..BLOCK {
            ipad[i] = k[i] ^ 0x36;
            opad[i] = k[i] ^ 0x5c;
        }
        let mut inner = SHA512_IV;
        let mut outer = SHA512_IV;
        sha2::block_api::compress512(&mut inner, &[ipad]);
        sha2::block_api::compress512(&mut outer, &[opad]);
        k.zeroize();
        ipad.zeroize();
        opad.zeroize();
        Self { inner, outer }
    }

    /// HMAC of a 64-byte message: one block for the inner hash, one for the
    /// outer (both messages follow a 128-byte pad block).
    fn mac64(&self, msg: &[u8; 64], out: &mut [u8; 64]) {
        let mut block = [0u8; BLOCK];
        block[..64].copy_from_slice(msg);
        block[64] = 0x80;
        // Length in bits of pad block + message: (128 + 64) * 8 = 1536.
        block[126] = 0x06;
        block[127] = 0x00;
        let mut state = self.inner;
        sha2::block_api::compress512(&mut state, &[block]);
        for (i, word) in state.iter().enumerate() {
            block[i * 8..i * 8 + 8].copy_from_slice(&word.to_be_bytes());
        }
        let mut state = self.outer;
        sha2::block_api::compress512(&mut state, &[block]);
        for (i, word) in state.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&word.to_be_bytes());
        }
        block.zeroize();
    }
}

impl Drop for PadStates {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// PBKDF2-HMAC-SHA512 (RFC 8018) of `password` and `salt`, filling `out`.
pub fn pbkdf2_hmac_sha512(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let pads = PadStates::new(password);
    for (block_index, chunk) in out.chunks_mut(64).enumerate() {
        let index = u32::try_from(block_index + 1).unwrap_or(u32::MAX);
        let mut first = Vec::with_capacity(salt.len() + 4);
        first.extend_from_slice(salt);
        first.extend_from_slice(&index.to_be_bytes());
        let mut u = hmac_sha512(password, &first);
        let mut t = u;
        let mut next = [0u8; 64];
        for _ in 1..iterations {
            pads.mac64(&u, &mut next);
            u = next;
            for (a, b) in t.iter_mut().zip(u.iter()) {
                *a ^= b;
            }
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
        u.zeroize();
        t.zeroize();
        next.zeroize();
    }
}

/// The BIP-39 seed of `mnemonic` with an empty passphrase.
pub fn bip39_seed(mnemonic: &str) -> [u8; 64] {
    let mut seed = [0u8; 64];
    pbkdf2_hmac_sha512(mnemonic.as_bytes(), b"mnemonic", 2048, &mut seed);
    seed
}

/// secp256k1's group order, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// `(a + b) mod n` for `a, b < n` (big-endian 32-byte numbers).
fn add_mod_order(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut sum = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        sum[i] = (s & 0xff) as u8;
        carry = s >> 8;
    }
    // a + b < 2n: subtract n once if the sum overflowed or is >= n.
    if carry == 1 || sum >= ORDER {
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(sum[i]) - i16::from(ORDER[i]) - borrow;
            borrow = i16::from(d < 0);
            sum[i] = (d.rem_euclid(256) & 0xff) as u8;
        }
    }
    sum
}

/// A BIP-32 extended private key.
struct ExtendedKey {
    key: [u8; 32],
    chain_code: [u8; 32],
}

impl Drop for ExtendedKey {
    fn drop(&mut self) {
        self.key.zeroize();
        self.chain_code.zeroize();
    }
}

const HARDENED: u32 = 1 << 31;

fn split(i: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut left = [0u8; 32];
    let mut right = [0u8; 32];
    left.copy_from_slice(&i[..32]);
    right.copy_from_slice(&i[32..]);
    (left, right)
}

impl ExtendedKey {
    fn master(seed: &[u8]) -> anyhow::Result<Self> {
        let (key, chain_code) = split(&hmac_sha512(b"Bitcoin seed", seed));
        if key == [0; 32] || key >= ORDER {
            bail!("the seed gives an invalid master key (BIP-32: use another seed)");
        }
        Ok(Self { key, chain_code })
    }

    fn child(&self, index: u32) -> anyhow::Result<Self> {
        let mut data = Vec::with_capacity(37);
        if index >= HARDENED {
            data.push(0);
            data.extend_from_slice(&self.key);
        } else {
            let parent = secp256k1::SigningKey::from_bytes(&self.key)
                .context("invalid BIP-32 parent key")?;
            data.extend_from_slice(parent.public_key().as_bytes());
        }
        data.extend_from_slice(&index.to_be_bytes());
        let (tweak, chain_code) = split(&hmac_sha512(&self.chain_code, &data));
        data.zeroize();
        if tweak >= ORDER {
            bail!("BIP-32 child {index} is invalid; use the next index");
        }
        let key = add_mod_order(&tweak, &self.key);
        if key == [0; 32] {
            bail!("BIP-32 child {index} is invalid; use the next index");
        }
        Ok(Self { key, chain_code })
    }
}

/// The secp256k1 key at BIP-32 `path` (indices, hardened ones with
/// [`HARDENED`] set) from `seed`.
fn derive_path(seed: &[u8], path: &[u32]) -> anyhow::Result<secp256k1::SigningKey> {
    let mut key = ExtendedKey::master(seed)?;
    for index in path {
        key = key.child(*index)?;
    }
    secp256k1::SigningKey::from_bytes(&key.key).context("derived an invalid secp256k1 key")
}

/// The Ethereum account `index` of `mnemonic`: BIP-39 seed (empty
/// passphrase), BIP-32 path `m/44'/60'/0'/0/index`.
pub fn eth_dev_key(mnemonic: &str, index: u32) -> anyhow::Result<secp256k1::SigningKey> {
    let mut seed = bip39_seed(mnemonic);
    let key = derive_path(&seed, &[44 | HARDENED, 60 | HARDENED, HARDENED, 0, index]);
    seed.zeroize();
    key
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    const MNEMONIC: &str = "test test test test test test test test test test test junk";

    /// Plain PBKDF2 over the `hmac` crate, to check the fast path against.
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

    #[test]
    fn modular_addition() {
        let mut n_minus_one = ORDER;
        n_minus_one[31] -= 1;
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(add_mod_order(&n_minus_one, &one), [0; 32]);
        let mut two = [0u8; 32];
        two[31] = 2;
        assert_eq!(add_mod_order(&n_minus_one, &two), one);
        assert_eq!(add_mod_order(&one, &one), two);
        // Both near n: the sum overflows 256 bits.
        let expected = {
            let mut e = ORDER;
            e[31] -= 2;
            e
        };
        assert_eq!(add_mod_order(&n_minus_one, &n_minus_one), expected);
    }
}

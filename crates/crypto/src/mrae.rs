//! Deoxys-II-256-128 MRAE, and the X25519 "box" built on it.
//!
//! This is the authenticated encryption Oasis uses for confidential
//! ParaTimes (the `X25519DeoxysII` call format) and for key-manager secrets.
//! Deoxys-II is nonce-misuse resistant: reusing a nonce leaks only whether
//! two messages were equal. The box derives its symmetric key as
//! `HMAC-SHA512/256(key = "MRAE_Box_Deoxys-II-256-128", X25519(sk, peer_pk))`,
//! byte-compatible with Oasis's runtime and the Sapphire clients.
//!
//! ```
//! use atoll_crypto::{mrae, x25519};
//!
//! let client = x25519::PrivateKey::from_bytes([1; 32]);
//! let runtime = x25519::PrivateKey::from_bytes([2; 32]);
//! let nonce = [0u8; mrae::NONCE_SIZE];
//! let sealed = mrae::box_seal(&nonce, b"secret call", b"", &runtime.public_key(), &client)?;
//! let opened = mrae::box_open(&nonce, &sealed, b"", &client.public_key(), &runtime)?;
//! assert_eq!(opened, b"secret call");
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

use hmac::{KeyInit as _, Mac as _};

use crate::error::CryptoError;
use crate::x25519;

/// Size of a Deoxys-II-256-128 key.
pub const KEY_SIZE: usize = deoxysii::KEY_SIZE;
/// Size of a nonce.
pub const NONCE_SIZE: usize = deoxysii::NONCE_SIZE;
/// Size of the authentication tag appended to every ciphertext.
pub const TAG_SIZE: usize = deoxysii::TAG_SIZE;

/// The HMAC key that turns an X25519 shared secret into a box key.
pub const BOX_KDF_CONTEXT: &[u8] = b"MRAE_Box_Deoxys-II-256-128";

/// Encrypts `plaintext` and authenticates it together with `additional_data`.
/// The result is the ciphertext followed by a 16-byte tag.
pub fn seal(
    key: &[u8; KEY_SIZE],
    nonce: &[u8; NONCE_SIZE],
    plaintext: &[u8],
    additional_data: &[u8],
) -> Vec<u8> {
    deoxysii::DeoxysII::new(key).seal(nonce, plaintext, additional_data)
}

/// Decrypts and authenticates; any change to the ciphertext, tag, nonce, key
/// or additional data gives [`CryptoError::DecryptionFailed`].
pub fn open(
    key: &[u8; KEY_SIZE],
    nonce: &[u8; NONCE_SIZE],
    ciphertext: &[u8],
    additional_data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    deoxysii::DeoxysII::new(key)
        .open(nonce, ciphertext.to_vec(), additional_data)
        .map_err(|_| CryptoError::DecryptionFailed)
}

/// The box key shared by `private` and the holder of `peer`.
pub fn derive_symmetric_key(
    peer: &x25519::PublicKey,
    private: &x25519::PrivateKey,
) -> Result<[u8; KEY_SIZE], CryptoError> {
    let mut shared = private.diffie_hellman(peer)?;
    let key = kdf(&shared);
    zeroize::Zeroize::zeroize(&mut shared);
    Ok(key)
}

fn kdf(shared: &[u8; 32]) -> [u8; KEY_SIZE] {
    #[allow(clippy::expect_used, reason = "HMAC accepts keys of any length")]
    let mut mac = hmac::Hmac::<sha2::Sha512_256>::new_from_slice(BOX_KDF_CONTEXT)
        .expect("HMAC accepts keys of any length");
    mac.update(shared);
    mac.finalize().into_bytes().into()
}

/// Seals for the holder of `peer`, from `private`.
pub fn box_seal(
    nonce: &[u8; NONCE_SIZE],
    plaintext: &[u8],
    additional_data: &[u8],
    peer: &x25519::PublicKey,
    private: &x25519::PrivateKey,
) -> Result<Vec<u8>, CryptoError> {
    let mut key = derive_symmetric_key(peer, private)?;
    let sealed = seal(&key, nonce, plaintext, additional_data);
    zeroize::Zeroize::zeroize(&mut key);
    Ok(sealed)
}

/// Opens a box sealed by the holder of `peer` for `private`.
pub fn box_open(
    nonce: &[u8; NONCE_SIZE],
    ciphertext: &[u8],
    additional_data: &[u8],
    peer: &x25519::PublicKey,
    private: &x25519::PrivateKey,
) -> Result<Vec<u8>, CryptoError> {
    let mut key = derive_symmetric_key(peer, private)?;
    let opened = open(&key, nonce, ciphertext, additional_data);
    zeroize::Zeroize::zeroize(&mut key);
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    const KEY: &str = "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f";
    const NONCE: &str = "202122232425262728292a2b2c2d2e";

    /// Test vectors of the Deoxys v1.43 specification (Deoxys-II-256-128),
    /// as (associated data, message, ciphertext || tag).
    const OFFICIAL: &[(&str, &str, &str)] = &[
        ("", "", "2b97bd77712f0cde975309959dfe1d7c"),
        (
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "",
            "54708ae5565a71f147bdb94d7ba3aed7",
        ),
        (
            "f495c9c03d29989695d98ff5d430650125805c1e0576d06f26cbda42b1f82238b8",
            "",
            "3277689dc4208cc1ff59d15434a1baf1",
        ),
        (
            "",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "9da20db1c2781f6669257d87e2a4d9be1970f7581bef2c995e1149331e5e8cc1 92ce3aec3a4b72ff9eab71c2a93492fa",
        ),
        (
            "",
            "15cd77732f9d0c4c6e581ef400876ad9188c5b8850ebd38224da95d7cdc99f7acc",
            "e5ffd2abc5b459a73667756eda6443ede86c0883fc51dd75d22bb14992c684618c 5fa78d57308f19d0252072ee39df5ecc",
        ),
        (
            "000102030405060708090a0b0c0d0e0f",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "109f8a168b36dfade02628a9e129d5257f03cc7912aefa79729b67b186a2b08f 6549f9bf10acba0a451dbb2484a60d90",
        ),
        (
            "000102030405060708090a0b0c0d0e0f10",
            "422857fb165af0a35c03199fb895604dca9cea6d788954962c419e0d5c225c0327",
            "7d772203fa38be296d8d20d805163130c69aba8cb16ed845c2296c61a8f34b394e 0b3f10e3933c78190b24b33008bf80e9",
        ),
    ];

    #[test]
    fn official_vectors() {
        let key: [u8; 32] = h(KEY).try_into().unwrap();
        let nonce: [u8; 15] = h(NONCE).try_into().unwrap();
        for (ad, msg, sealed) in OFFICIAL {
            let (ad, msg, sealed) = (h(ad), h(msg), h(sealed));
            assert_eq!(seal(&key, &nonce, &msg, &ad), sealed);
            assert_eq!(open(&key, &nonce, &sealed, &ad).unwrap(), msg);
        }
    }

    #[test]
    fn tampering_is_detected() {
        let key: [u8; 32] = h(KEY).try_into().unwrap();
        let nonce: [u8; 15] = h(NONCE).try_into().unwrap();
        let sealed = seal(&key, &nonce, b"attack at dawn", b"header");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                open(&key, &nonce, &bad, b"header"),
                Err(CryptoError::DecryptionFailed)
            );
        }
        assert!(open(&key, &nonce, &sealed, b"Header").is_err());
        let mut other_nonce = nonce;
        other_nonce[0] ^= 1;
        assert!(open(&key, &other_nonce, &sealed, b"header").is_err());
        assert!(open(&key, &nonce, &sealed[..TAG_SIZE - 1], b"").is_err());
        assert!(open(&key, &nonce, &[], b"").is_err());
    }

    #[test]
    fn box_key_derivation_known_answer() {
        // RFC 7748 section 6.1 keys; the expected key was computed independently
        // as HMAC-SHA512/256("MRAE_Box_Deoxys-II-256-128", shared secret).
        let alice = x25519::PrivateKey::from_bytes(
            h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .try_into()
                .unwrap(),
        );
        let bob = x25519::PrivateKey::from_bytes(
            h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
                .try_into()
                .unwrap(),
        );
        let expected = "3b14f131ff64374a00f001cebbc65c784229bd88570731e1772216d8c5bcf7b8";
        assert_eq!(
            hex::encode(derive_symmetric_key(&bob.public_key(), &alice).unwrap()),
            expected
        );
        assert_eq!(
            hex::encode(derive_symmetric_key(&alice.public_key(), &bob).unwrap()),
            expected
        );
    }

    #[test]
    fn box_round_trip_and_wrong_keys() {
        let a = x25519::PrivateKey::from_bytes([3; 32]);
        let b = x25519::PrivateKey::from_bytes([4; 32]);
        let c = x25519::PrivateKey::from_bytes([5; 32]);
        let nonce = [7u8; NONCE_SIZE];
        let sealed = box_seal(&nonce, b"payload", b"ad", &b.public_key(), &a).unwrap();
        assert_eq!(
            box_open(&nonce, &sealed, b"ad", &a.public_key(), &b).unwrap(),
            b"payload"
        );
        assert!(box_open(&nonce, &sealed, b"ad", &a.public_key(), &c).is_err());
        assert!(box_seal(&nonce, b"x", b"", &x25519::PublicKey([0; 32]), &a).is_err());
    }
}

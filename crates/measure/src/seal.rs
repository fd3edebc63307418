//! Sealing a report's input shares to their facilitators with HPKE
//! (RFC 9180, base mode): DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
//! ChaCha20-Poly1305.
//!
//! Each share is sealed to one facilitator's public key with an `info` naming
//! the task and the facilitator's index, and an associated data binding the
//! report id and the public share, so a sealed share opens only for its own
//! facilitator, in its own task, inside its own report.

use hpke::{
    Deserializable, Kem as _, OpModeR, OpModeS, Serializable, aead::ChaCha20Poly1305,
    kdf::HkdfSha256, kem::X25519HkdfSha256,
};
use serde::{Deserialize, Serialize};

use crate::MeasureError;

type Kem = X25519HkdfSha256;

/// The length of a public key, a secret key and an encapsulated key.
pub const KEY_LEN: usize = 32;

/// A facilitator's HPKE key pair. The secret never leaves the facilitator.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyPair {
    #[serde(with = "serde_bytes")]
    secret: [u8; KEY_LEN],
    /// The public key clients seal shares to (published in the task on chain).
    #[serde(with = "serde_bytes")]
    pub public: [u8; KEY_LEN],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &hex_short(&self.public))
            .finish_non_exhaustive()
    }
}

fn hex_short(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

impl KeyPair {
    /// A key pair derived from `seed` (RFC 9180 `DeriveKeyPair`): the same seed, the same keys.
    pub fn from_seed(seed: &[u8; KEY_LEN]) -> Self {
        let (sk, pk) = Kem::derive_keypair(seed);
        let mut secret = [0u8; KEY_LEN];
        secret.copy_from_slice(&sk.to_bytes());
        let mut public = [0u8; KEY_LEN];
        public.copy_from_slice(&pk.to_bytes());
        KeyPair { secret, public }
    }

    /// A fresh key pair from the operating system's randomness.
    pub fn generate() -> Self {
        let seed: [u8; KEY_LEN] = rand::random();
        Self::from_seed(&seed)
    }

    /// Opens a share sealed to this key pair.
    pub fn open(
        &self,
        sealed: &crate::SealedShare,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, MeasureError> {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(&self.secret)
            .map_err(|_| MeasureError::Unseal)?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
            .map_err(|_| MeasureError::Unseal)?;
        hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &OpModeR::Base,
            &sk,
            &enc,
            info,
            &sealed.ciphertext,
            aad,
        )
        .map_err(|_| MeasureError::Unseal)
    }
}

/// Seals `plaintext` to `public_key`.
pub fn seal(
    public_key: &[u8; KEY_LEN],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<crate::SealedShare, MeasureError> {
    let pk =
        <Kem as hpke::Kem>::PublicKey::from_bytes(public_key).map_err(|_| MeasureError::Seal)?;
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        &mut rand::rng(),
    )
    .map_err(|_| MeasureError::Seal)?;
    let mut enc_bytes = [0u8; KEY_LEN];
    enc_bytes.copy_from_slice(&enc.to_bytes());
    Ok(crate::SealedShare {
        enc: enc_bytes,
        ciphertext,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_its_key_info_and_aad() {
        let a = KeyPair::from_seed(&[1; 32]);
        let b = KeyPair::from_seed(&[2; 32]);
        let sealed = seal(&a.public, b"info", b"aad", b"share").unwrap();
        assert_eq!(a.open(&sealed, b"info", b"aad").unwrap(), b"share");
        assert_eq!(b.open(&sealed, b"info", b"aad"), Err(MeasureError::Unseal));
        assert_eq!(a.open(&sealed, b"other", b"aad"), Err(MeasureError::Unseal));
        assert_eq!(
            a.open(&sealed, b"info", b"other"),
            Err(MeasureError::Unseal)
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert_eq!(
            a.open(&tampered, b"info", b"aad"),
            Err(MeasureError::Unseal)
        );
    }

    #[test]
    fn seeds_are_deterministic() {
        assert_eq!(
            KeyPair::from_seed(&[7; 32]).public,
            KeyPair::from_seed(&[7; 32]).public
        );
        assert_ne!(
            KeyPair::from_seed(&[7; 32]).public,
            KeyPair::from_seed(&[8; 32]).public
        );
    }
}

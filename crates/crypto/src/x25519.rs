//! X25519 key exchange (RFC 7748), used to agree on MRAE box keys.

use std::fmt;

use crate::error::CryptoError;

/// Size of keys and shared secrets.
pub const KEY_SIZE: usize = 32;

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey(pub [u8; KEY_SIZE]);

impl PublicKey {
    /// Parses 32 bytes (every 32-byte string is a valid X25519 public key;
    /// weak points are caught when a shared secret comes out all zero).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; KEY_SIZE] = crate::error::fixed(bytes, "x25519 public key")?;
        Ok(Self(arr))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; KEY_SIZE] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses hex (with or without `0x`).
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        Ok(Self(crate::error::fixed_hex(s, "x25519 public key")?))
    }
}

impl AsRef<[u8]> for PublicKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "x25519::PublicKey({})", self.to_hex())
    }
}

serde_bytes_impl!(
    PublicKey,
    "x25519 public key",
    PublicKey::from_slice,
    PublicKey::to_hex,
    PublicKey::from_hex
);

/// An X25519 private key; wiped from memory when dropped, never printed.
#[derive(Clone)]
pub struct PrivateKey(x25519_dalek::StaticSecret);

impl PrivateKey {
    /// The key with these 32 secret bytes (clamped as RFC 7748 requires).
    pub fn from_bytes(bytes: [u8; KEY_SIZE]) -> Self {
        Self(x25519_dalek::StaticSecret::from(bytes))
    }

    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_SIZE];
        crate::fill_random(&mut bytes);
        let key = Self::from_bytes(bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        key
    }

    /// The secret bytes (for storing the key; handle with care).
    pub fn to_bytes(&self) -> [u8; KEY_SIZE] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// The Diffie-Hellman shared secret with `peer`. A peer key of low order
    /// yields an all-zero secret, which is refused: it would make the agreed
    /// key known to anyone.
    pub fn diffie_hellman(&self, peer: &PublicKey) -> Result<[u8; KEY_SIZE], CryptoError> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer.0));
        if !shared.was_contributory() {
            return Err(CryptoError::MalformedPublicKey { scheme: "x25519" });
        }
        Ok(shared.to_bytes())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "x25519::PrivateKey(public: {})",
            self.public_key().to_hex()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(h: &str) -> [u8; 32] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc7748_section_6_1() {
        let alice = PrivateKey::from_bytes(arr(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let bob = PrivateKey::from_bytes(arr(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ));
        assert_eq!(
            alice.public_key().to_hex(),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
        assert_eq!(
            bob.public_key().to_hex(),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
        );
        let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
        assert_eq!(
            hex::encode(alice.diffie_hellman(&bob.public_key()).unwrap()),
            shared
        );
        assert_eq!(
            hex::encode(bob.diffie_hellman(&alice.public_key()).unwrap()),
            shared
        );
    }

    #[test]
    fn low_order_peer_is_refused() {
        let k = PrivateKey::from_bytes([9; 32]);
        assert!(k.diffie_hellman(&PublicKey([0; 32])).is_err());
        assert!(PublicKey::from_slice(&[0; 31]).is_err());
    }
}

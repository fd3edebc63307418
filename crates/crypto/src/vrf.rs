//! A verifiable random function (schnorrkel's sr25519 VRF), for the beacon.
//!
//! A node proves `VRF(sk, alpha)` for the epoch's public `alpha`; anyone
//! checks the proof against the node's VRF public key and learns the same
//! 32-byte `beta`, which nobody could have predicted without the secret key
//! and which the node cannot choose.
//!
//! ```
//! use atoll_crypto::vrf::VrfSigningKey;
//!
//! let key = VrfSigningKey::from_seed(&[5; 32]);
//! let (proof, beta) = key.prove(b"atoll/beacon: vrf", b"alpha for epoch 7");
//! let checked = key.public_key().verify(b"atoll/beacon: vrf", b"alpha for epoch 7", &proof)?;
//! assert_eq!(beta, checked);
//! assert!(key.public_key().verify(b"atoll/beacon: vrf", b"another alpha", &proof).is_err());
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

use std::fmt;

use schnorrkel::vrf::{VRFPreOut, VRFProof};
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, signing_context};

use crate::error::CryptoError;

/// Size of a VRF public key.
pub const PUBLIC_KEY_SIZE: usize = 32;
/// Size of a proof: the 32-byte pre-output followed by the 64-byte DLEQ proof.
pub const PROOF_SIZE: usize = 96;

const SCHEME: &str = "sr25519 vrf";
const BETA_CONTEXT: &[u8] = b"atoll/vrf: beta";

/// A VRF public key (sr25519).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VrfPublicKey([u8; PUBLIC_KEY_SIZE]);

impl VrfPublicKey {
    /// Parses 32 bytes that encode a valid ristretto point.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; PUBLIC_KEY_SIZE] = crate::error::fixed(bytes, "vrf public key")?;
        schnorrkel::PublicKey::from_bytes(&arr)
            .map_err(|_| CryptoError::MalformedPublicKey { scheme: SCHEME })?;
        Ok(Self(arr))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; PUBLIC_KEY_SIZE] {
        &self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses hex.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        Self::from_slice(&crate::error::fixed_hex::<PUBLIC_KEY_SIZE>(
            s,
            "vrf public key",
        )?)
    }

    /// Checks `proof` for input `alpha` under `context`, returning `beta`.
    pub fn verify(
        &self,
        context: &[u8],
        alpha: &[u8],
        proof: &VrfProof,
    ) -> Result<[u8; 32], CryptoError> {
        let pk = schnorrkel::PublicKey::from_bytes(&self.0)
            .map_err(|_| CryptoError::MalformedPublicKey { scheme: SCHEME })?;
        let (out, dleq) = proof.0.split_at(32);
        let out = VRFPreOut::from_bytes(out)
            .map_err(|_| CryptoError::MalformedSignature { scheme: SCHEME })?;
        let dleq = VRFProof::from_bytes(dleq)
            .map_err(|_| CryptoError::MalformedSignature { scheme: SCHEME })?;
        let (inout, _) = pk
            .vrf_verify(signing_context(context).bytes(alpha), &out, &dleq)
            .map_err(|_| CryptoError::VerificationFailed { scheme: SCHEME })?;
        Ok(inout.make_bytes::<[u8; 32]>(BETA_CONTEXT))
    }
}

impl AsRef<[u8]> for VrfPublicKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for VrfPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfPublicKey({})", self.to_hex())
    }
}

serde_bytes_impl!(
    VrfPublicKey,
    "vrf public key",
    VrfPublicKey::from_slice,
    VrfPublicKey::to_hex,
    VrfPublicKey::from_hex
);

/// A VRF proof (pre-output and DLEQ proof).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VrfProof([u8; PROOF_SIZE]);

impl VrfProof {
    /// Parses 96 bytes (their validity is checked by [`VrfPublicKey::verify`]).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; PROOF_SIZE] = crate::error::fixed(bytes, "vrf proof")?;
        Ok(Self(arr))
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses hex.
    pub fn from_hex(s: &str) -> Result<Self, CryptoError> {
        Ok(Self(crate::error::fixed_hex(s, "vrf proof")?))
    }
}

impl AsRef<[u8]> for VrfProof {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for VrfProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfProof({})", self.to_hex())
    }
}

serde_bytes_impl!(
    VrfProof,
    "vrf proof",
    VrfProof::from_slice,
    VrfProof::to_hex,
    VrfProof::from_hex
);

/// A VRF signing key; never printed.
pub struct VrfSigningKey(Keypair);

impl VrfSigningKey {
    /// The key expanded from a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        #[allow(
            clippy::expect_used,
            reason = "every 32-byte string is a valid mini secret key"
        )]
        let mini = MiniSecretKey::from_bytes(seed).expect("32 bytes are a valid mini secret key");
        Self(mini.expand_to_keypair(ExpansionMode::Ed25519))
    }

    /// The public key.
    pub fn public_key(&self) -> VrfPublicKey {
        VrfPublicKey(self.0.public.to_bytes())
    }

    /// Proves `VRF(alpha)` under `context`: the proof and `beta`.
    pub fn prove(&self, context: &[u8], alpha: &[u8]) -> (VrfProof, [u8; 32]) {
        let (inout, proof, _) = self.0.vrf_sign(signing_context(context).bytes(alpha));
        let mut bytes = [0u8; PROOF_SIZE];
        bytes[..32].copy_from_slice(&inout.to_preout().to_bytes());
        bytes[32..].copy_from_slice(&proof.to_bytes());
        (VrfProof(bytes), inout.make_bytes::<[u8; 32]>(BETA_CONTEXT))
    }
}

impl fmt::Debug for VrfSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VrfSigningKey(public: {})", self.public_key().to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_are_deterministic_in_beta_and_bound_to_input_and_key() {
        let k = VrfSigningKey::from_seed(&[1; 32]);
        let (p1, b1) = k.prove(b"ctx", b"alpha");
        let (p2, b2) = k.prove(b"ctx", b"alpha");
        assert_eq!(b1, b2, "beta depends only on key and input");
        assert_eq!(k.public_key().verify(b"ctx", b"alpha", &p2).unwrap(), b1);
        assert!(k.public_key().verify(b"ctx", b"alphb", &p1).is_err());
        assert!(k.public_key().verify(b"ctX", b"alpha", &p1).is_err());
        let other = VrfSigningKey::from_seed(&[2; 32]);
        assert!(other.public_key().verify(b"ctx", b"alpha", &p1).is_err());
        let mut bad = p1;
        bad.0[40] ^= 1;
        assert!(k.public_key().verify(b"ctx", b"alpha", &bad).is_err());
        let mut bad_out = p1;
        bad_out.0[3] ^= 1;
        assert!(k.public_key().verify(b"ctx", b"alpha", &bad_out).is_err());
    }

    #[test]
    fn malformed_inputs() {
        assert!(VrfPublicKey::from_slice(&[0xff; 32]).is_err());
        assert!(VrfPublicKey::from_slice(&[0; 31]).is_err());
        assert!(VrfProof::from_slice(&[0; 95]).is_err());
    }
}

//! Malachite's view of atoll's Ed25519 keys and signatures: the signing
//! scheme the consensus context names ([`crate::context::AtollContext`]),
//! apart from the signing provider ([`crate::signing`]) that signs and
//! verifies the context's messages, so that neither module needs the other.

use atoll_crypto::CryptoError;
use atoll_crypto::ed25519::{PublicKey, Signature, SigningKey};
use malachitebft_app_channel::app::types::core::SigningScheme;

/// Malachite's view of atoll's Ed25519 keys and signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ed25519Scheme;

impl SigningScheme for Ed25519Scheme {
    type DecodingError = CryptoError;
    type Signature = Signature;
    type PublicKey = PublicKey;
    type PrivateKey = SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, CryptoError> {
        Signature::from_slice(bytes)
    }

    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.as_ref().to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, CryptoError> {
        PublicKey::from_slice(bytes)
    }

    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.as_ref().to_vec()
    }
}

//! Signed envelopes: a canonical CBOR body and a signature over its bytes.

use std::marker::PhantomData;

use atoll_crypto::context::Context;
use atoll_crypto::ed25519::{PublicKey, Signature, SigningKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cbor::{self, DecodeError, EncodeError};

/// A public key and its signature (Oasis's `signature.Signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBundle {
    /// The signer.
    pub public_key: PublicKey,
    /// The signature.
    pub signature: Signature,
}

/// Why a signed envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    /// The signature does not verify for this key, context and body.
    #[error("signature does not verify (wrong key, tampered body, or another context or network)")]
    BadSignature,
    /// The body is not canonical CBOR of the expected type.
    #[error("malformed body: {0}")]
    MalformedBody(#[from] DecodeError),
    /// The body could not be encoded (when signing).
    #[error("body does not encode: {0}")]
    Encode(#[from] EncodeError),
}

/// A body of type `T` signed by one key: `{untrusted_raw_value, signature}`.
///
/// The body stays as raw bytes until [`Signed::open`] has checked the
/// signature over exactly those bytes; only then are they decoded, strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Signed<T> {
    /// The canonical CBOR of the body, not to be trusted before [`Signed::open`].
    #[serde(with = "serde_bytes")]
    pub untrusted_raw_value: Vec<u8>,
    /// The signer and signature.
    pub signature: SignatureBundle,
    #[serde(skip)]
    _body: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> Signed<T> {
    /// Encodes `body` canonically and signs it in `ctx`.
    pub fn sign(key: &SigningKey, ctx: &Context, body: &T) -> Result<Self, SignedError> {
        let raw = cbor::to_vec(body)?;
        let signature = key.sign(ctx, &raw);
        Ok(Self::from_parts(
            raw,
            SignatureBundle {
                public_key: key.public_key(),
                signature,
            },
        ))
    }

    /// Verifies the signature in `ctx`, then decodes the body; refuses a
    /// body that is not the canonical encoding of its value.
    pub fn open(&self, ctx: &Context) -> Result<T, SignedError> {
        self.verify(ctx)?;
        Ok(cbor::from_slice_canonical(&self.untrusted_raw_value)?)
    }
}

impl<T> Signed<T> {
    /// An envelope from raw parts (for relaying without decoding).
    pub fn from_parts(untrusted_raw_value: Vec<u8>, signature: SignatureBundle) -> Self {
        Self {
            untrusted_raw_value,
            signature,
            _body: PhantomData,
        }
    }

    /// Checks only the signature.
    pub fn verify(&self, ctx: &Context) -> Result<(), SignedError> {
        self.signature
            .public_key
            .verify(ctx, &self.untrusted_raw_value, &self.signature.signature)
            .map_err(|_| SignedError::BadSignature)
    }
}

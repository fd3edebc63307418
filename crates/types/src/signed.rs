//! Signed envelopes: [`Signed`] and [`SignatureBundle`].
//!
//! This is Oasis's `signature.Signed`: the signer encodes a body as canonical
//! CBOR, signs those bytes under a [`Context`], and ships them as
//! `{ "untrusted_raw_value": bytes, "signature": { "public_key", "signature" } }`.
//! The receiver checks the signature over the raw bytes before it decodes
//! anything, then decodes them with
//! [`from_slice_canonical`](crate::cbor::from_slice_canonical), so one
//! signature stands for exactly one encoding of one value.
//!
//! The envelope itself refuses unknown fields: the whole envelope is what a
//! transaction hash covers, so it must not carry unsigned extras either.
//!
//! ```
//! use atoll_crypto::{Hash, context::{ChainContext, Context}, ed25519::SigningKey};
//! use atoll_types::{cbor, signed::Signed};
//!
//! let chain = ChainContext::from_hash(&Hash::digest(b"genesis"));
//! let ctx = Context::for_chain("atoll/example: greeting", &chain)?;
//! let key = SigningKey::from_seed(&[7; 32]);
//!
//! let signed = Signed::sign(&key, &ctx, &"hello".to_string())?;
//! let wire = cbor::to_vec(&signed)?;
//! let received: Signed<String> = cbor::from_slice(&wire)?;
//! assert_eq!(received.open(&ctx)?, "hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::marker::PhantomData;

use atoll_crypto::CryptoError;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::{PublicKey, Signature, SigningKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cbor::{self, DecodeError, EncodeError};

/// An Ed25519 signature together with the key that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureBundle {
    /// The signer's public key.
    pub public_key: PublicKey,
    /// The signature over `SHA-512/256(context || message)`.
    pub signature: Signature,
}

impl SignatureBundle {
    /// Checks the signature over `message` under `ctx`.
    pub fn verify(&self, ctx: &Context, message: &[u8]) -> Result<(), CryptoError> {
        self.public_key.verify(ctx, message, &self.signature)
    }
}

/// Why a [`Signed`] envelope could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedError {
    /// The signature does not verify over the raw bytes under the context
    /// (wrong key, wrong context or chain, or tampered bytes).
    #[error("bad signature: {0}")]
    BadSignature(#[source] CryptoError),
    /// The signed bytes are not a valid canonical CBOR encoding of the body type.
    #[error("malformed signed body: {0}")]
    MalformedBody(#[source] DecodeError),
    /// The signed bytes decode, but are not the canonical encoding of the
    /// decoded body (absent default fields, unknown fields, ...).
    #[error("signed body is not canonical (first difference at offset {offset})")]
    NonCanonicalBody {
        /// The first offset at which the bytes and the re-encoding differ.
        offset: usize,
    },
}

/// A value of type `T`, encoded as canonical CBOR and signed.
///
/// The bytes are kept as received (`untrusted_raw_value`); nothing in them is
/// trusted until [`Signed::open`] has checked the signature. `T` appears only
/// in a `PhantomData`, so `Signed<T>` is `Send`, `Sync`, `Clone`, `Eq` and
/// serializable whatever `T` is.
#[derive(Serialize, Deserialize)]
#[serde(bound = "", deny_unknown_fields)]
pub struct Signed<T> {
    /// The canonical CBOR encoding of the body, exactly as signed.
    #[serde(with = "serde_bytes")]
    pub untrusted_raw_value: Vec<u8>,
    /// The signature over `untrusted_raw_value`.
    pub signature: SignatureBundle,
    #[serde(skip)]
    _body: PhantomData<fn() -> T>,
}

impl<T> Signed<T> {
    /// Assembles an envelope from its parts (nothing is checked).
    pub fn from_parts(untrusted_raw_value: Vec<u8>, signature: SignatureBundle) -> Self {
        Self {
            untrusted_raw_value,
            signature,
            _body: PhantomData,
        }
    }

    /// The signer's public key (not yet verified).
    pub fn public_key(&self) -> &PublicKey {
        &self.signature.public_key
    }

    /// Checks the signature over the raw bytes, without decoding them.
    pub fn verify(&self, ctx: &Context) -> Result<(), SignedError> {
        self.signature
            .verify(ctx, &self.untrusted_raw_value)
            .map_err(SignedError::BadSignature)
    }
}

impl<T: Serialize> Signed<T> {
    /// Encodes `body` as canonical CBOR and signs the bytes under `ctx`.
    pub fn sign(key: &SigningKey, ctx: &Context, body: &T) -> Result<Self, EncodeError> {
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
}

impl<T: Serialize + DeserializeOwned> Signed<T> {
    /// Verifies the signature under `ctx`, then decodes the body, refusing
    /// bytes that are not the canonical encoding of the decoded value.
    pub fn open(&self, ctx: &Context) -> Result<T, SignedError> {
        self.verify(ctx)?;
        cbor::from_slice_canonical(&self.untrusted_raw_value).map_err(|e| match e {
            DecodeError::NonCanonical { offset } => SignedError::NonCanonicalBody { offset },
            other => SignedError::MalformedBody(other),
        })
    }
}

impl<T> Clone for Signed<T> {
    fn clone(&self) -> Self {
        Self::from_parts(self.untrusted_raw_value.clone(), self.signature)
    }
}

impl<T> PartialEq for Signed<T> {
    fn eq(&self, other: &Self) -> bool {
        self.untrusted_raw_value == other.untrusted_raw_value && self.signature == other.signature
    }
}

impl<T> Eq for Signed<T> {}

impl<T> fmt::Debug for Signed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field(
                "untrusted_raw_value",
                &hex::encode(&self.untrusted_raw_value),
            )
            .field("signature", &self.signature)
            .finish()
    }
}

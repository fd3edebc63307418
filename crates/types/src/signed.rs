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

    /// Decodes an envelope from `bytes`, refusing anything but its canonical
    /// encoding: the same answer as
    /// [`from_slice_canonical`](crate::cbor::from_slice_canonical), without
    /// the value tree and the re-encoding when `bytes` are laid out exactly
    /// as the encoder writes an envelope (the case of every transaction a
    /// node receives); anything else goes the general way, which also words
    /// the error.
    pub fn from_canonical_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
        match exact_envelope(bytes) {
            Some((raw, signature)) => Ok(Self::from_parts(raw, signature)),
            None => cbor::from_slice_canonical(bytes),
        }
    }

    /// Decodes an envelope from `bytes` under oasis-core's rules for what a
    /// client sends ([`from_slice_relaxed`](crate::cbor::from_slice_relaxed):
    /// longer-than-needed heads and any key order accepted, duplicate keys
    /// refused), as oasis-node decodes a submitted transaction. The canonical
    /// layout takes the same fast path as
    /// [`from_canonical_slice`](Self::from_canonical_slice). The signature
    /// covers `untrusted_raw_value` as received, whatever the envelope's
    /// encoding.
    pub fn from_relaxed_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
        match exact_envelope(bytes) {
            Some((raw, signature)) => Ok(Self::from_parts(raw, signature)),
            None => cbor::from_slice_relaxed(bytes),
        }
    }
}

/// The canonical encoding of an envelope, byte for byte: a map of two
/// entries in canonical key order (shorter key first), `signature` (itself
/// `{signature: bytes(64), public_key: bytes(32)}`) then
/// `untrusted_raw_value` (a byte string with its shortest length header),
/// and nothing after it. `None` for anything else.
fn exact_envelope(bytes: &[u8]) -> Option<(Vec<u8>, SignatureBundle)> {
    const SIGNATURE: &[u8] = b"\xa2\x69signature\xa2\x69signature\x58\x40";
    const PUBLIC_KEY: &[u8] = b"\x6apublic_key\x58\x20";
    const RAW: &[u8] = b"\x73untrusted_raw_value";
    let rest = bytes.strip_prefix(SIGNATURE)?;
    let (signature, rest) = rest.split_first_chunk::<64>()?;
    let rest = rest.strip_prefix(PUBLIC_KEY)?;
    let (public_key, rest) = rest.split_first_chunk::<32>()?;
    let rest = rest.strip_prefix(RAW)?;
    let (&initial, rest) = rest.split_first()?;
    // Major type 2 (byte string), shortest length form only.
    let (len, raw) = match initial {
        0x40..=0x57 => (u64::from(initial - 0x40), rest),
        0x58 => {
            let (&n, rest) = rest.split_first()?;
            (n >= 24).then_some((u64::from(n), rest))?
        }
        0x59 => {
            let (n, rest) = rest.split_first_chunk::<2>()?;
            let n = u16::from_be_bytes(*n);
            (n > 0xff).then_some((u64::from(n), rest))?
        }
        0x5a => {
            let (n, rest) = rest.split_first_chunk::<4>()?;
            let n = u32::from_be_bytes(*n);
            (n > 0xffff).then_some((u64::from(n), rest))?
        }
        _ => return None,
    };
    if u64::try_from(raw.len()).ok()? != len {
        return None;
    }
    let signature = SignatureBundle {
        public_key: PublicKey::from_slice(public_key).ok()?,
        signature: Signature::from_slice(signature).ok()?,
    };
    Some((raw.to_vec(), signature))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use atoll_crypto::Hash;
    use atoll_crypto::context::ChainContext;

    fn envelope(body_len: usize) -> (Signed<Vec<u8>>, Vec<u8>) {
        let chain = ChainContext::from_hash(&Hash::digest(b"genesis"));
        let ctx = Context::for_chain("atoll/test: envelope", &chain).unwrap();
        let key = SigningKey::from_seed(&[3; 32]);
        let body: Vec<u8> = (0..body_len).map(|i| i as u8).collect();
        let signed = Signed::sign(&key, &ctx, &serde_bytes::ByteBuf::from(body)).unwrap();
        let signed = Signed::from_parts(signed.untrusted_raw_value, signed.signature);
        let wire = cbor::to_vec(&signed).unwrap();
        (signed, wire)
    }

    #[test]
    fn the_exact_layout_is_what_the_encoder_writes_and_decodes_alike() {
        // Raw values across every length header: 1-byte, 2-byte, 3-byte, 5-byte.
        for len in [0, 1, 20, 21, 22, 23, 200, 253, 254, 300, 65_530, 65_540] {
            let (signed, wire) = envelope(len);
            assert!(exact_envelope(&wire).is_some(), "len {len}");
            let fast = Signed::<Vec<u8>>::from_canonical_slice(&wire).unwrap();
            let general: Signed<Vec<u8>> = cbor::from_slice_canonical(&wire).unwrap();
            assert_eq!(fast, general);
            assert_eq!(fast, signed);
        }
    }

    #[test]
    fn altered_bytes_get_the_general_answer() {
        for len in [5, 30, 300] {
            let (_, wire) = envelope(len);
            let mut cases: Vec<Vec<u8>> = Vec::new();
            for i in 0..wire.len() {
                for flip in [0x01u8, 0x20, 0x80] {
                    let mut w = wire.clone();
                    w[i] ^= flip;
                    cases.push(w);
                }
                cases.push(wire[..i].to_vec());
            }
            let mut longer = wire.clone();
            longer.push(0);
            cases.push(longer);
            for w in cases {
                let fast = Signed::<Vec<u8>>::from_canonical_slice(&w);
                let general = cbor::from_slice_canonical::<Signed<Vec<u8>>>(&w);
                match (&fast, &general) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(_), Err(_)) => {}
                    _ => panic!("fast {fast:?} but general {general:?} for {w:02x?}"),
                }
                // The fast path never accepts what the general one refuses.
                if exact_envelope(&w).is_some() {
                    assert!(general.is_ok());
                }
            }
        }
    }
}

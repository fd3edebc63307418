//! Transaction signatures: the chain-bound signature context, signing and
//! verification for the two signer schemes, and DER for secp256k1.
//!
//! - The context is `"oasis-runtime-sdk/tx: v0 for chain " ||
//!   hex(SHA-512/256(runtime_id || consensus_chain_context))`, as the SDK's
//!   `set_chain_context` builds it, so a transaction for one runtime (or one
//!   network) never verifies on another.
//! - Ed25519 (scheme `Ed25519_Oasis`) signs `SHA-512/256(context || body)`
//!   through `atoll-crypto`, as every Oasis signature does.
//! - secp256k1 (scheme `Secp256k1_Oasis`) signs the same 32-byte digest with
//!   ECDSA; the signature travels DER-encoded and the public key (33 bytes,
//!   compressed) is in the signer's address spec. Nothing is recovered: the
//!   key is given, as the SDK does for `secp256k1eth` signers. High-`s`
//!   signatures are refused.

use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::{Hash, ed25519, secp256k1};
use atoll_types::Namespace;

use crate::types::{
    AddressSpec, AuthProof, RawSignature, Secp256k1Key, SignatureAddressSpec, SignerInfo,
    Transaction, UnverifiedTransaction,
};

/// The base of the transaction signature context.
pub const SIGNATURE_CONTEXT_BASE: &str = "oasis-runtime-sdk/tx: v0";

/// The runtime's chain context: hex of `SHA-512/256(runtime_id ||
/// consensus_chain_context)`.
pub fn runtime_chain_context(runtime_id: &Namespace, consensus: &ChainContext) -> ChainContext {
    ChainContext::from_hash(&Hash::digest_parts(&[
        runtime_id.as_bytes(),
        consensus.as_str().as_bytes(),
    ]))
}

/// The context transactions of `runtime_id` on the network with the given
/// consensus chain context are signed under.
pub fn tx_signature_context(
    runtime_id: &Namespace,
    consensus: &ChainContext,
) -> Result<Context, atoll_crypto::CryptoError> {
    Context::for_chain(
        SIGNATURE_CONTEXT_BASE,
        &runtime_chain_context(runtime_id, consensus),
    )
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The proof is not a signature (for example a module scheme).
    #[error("signer {0}: proof is not a signature")]
    NotASignature(usize),
    /// The signature bytes do not parse.
    #[error("signer {0}: malformed signature")]
    Malformed(usize),
    /// The signature does not verify.
    #[error("signer {0}: signature verification failed")]
    Invalid(usize),
    /// An Ed25519 batch failed.
    #[error("signature verification failed")]
    BatchInvalid,
}

/// Verifies every signer's proof over `body`. Ed25519 signatures are checked
/// together with one batch verification (ZIP-215, so batch and single
/// verification agree); secp256k1 ones one by one.
pub fn verify_signatures(
    ctx: &Context,
    body: &[u8],
    signers: &[SignerInfo],
    proofs: &[AuthProof],
) -> Result<(), SignatureError> {
    let mut batch = ed25519::BatchVerifier::with_capacity(signers.len());
    let digest = ctx.digest(body);
    for (i, (si, proof)) in signers.iter().zip(proofs).enumerate() {
        let AuthProof::Signature(sig) = proof else {
            return Err(SignatureError::NotASignature(i));
        };
        match &si.address_spec {
            AddressSpec::Signature(SignatureAddressSpec::Ed25519(pk)) => {
                let sig = ed25519::Signature::from_slice(&sig.0)
                    .map_err(|_| SignatureError::Malformed(i))?;
                batch.queue(pk, ctx, body, &sig);
            }
            AddressSpec::Signature(SignatureAddressSpec::Secp256k1Eth(pk)) => {
                let rs = der_to_rs(&sig.0).ok_or(SignatureError::Malformed(i))?;
                pk.0.verify_prehash(&digest, &rs)
                    .map_err(|_| SignatureError::Invalid(i))?;
            }
        }
    }
    if batch.is_empty() {
        return Ok(());
    }
    batch.verify().map_err(|_| SignatureError::BatchInvalid)
}

/// A key that signs runtime transactions (for clients and tests).
#[derive(Clone, Debug)]
pub enum TxSigner {
    /// An Ed25519 key.
    Ed25519(ed25519::SigningKey),
    /// A secp256k1 key (an Ethereum account).
    Secp256k1(secp256k1::SigningKey),
}

impl TxSigner {
    /// The address spec that names this key in [`SignerInfo`].
    pub fn address_spec(&self) -> AddressSpec {
        AddressSpec::Signature(match self {
            Self::Ed25519(k) => SignatureAddressSpec::Ed25519(k.public_key()),
            Self::Secp256k1(k) => SignatureAddressSpec::Secp256k1Eth(Secp256k1Key(k.public_key())),
        })
    }

    /// The key's account address.
    pub fn address(&self) -> atoll_crypto::Address {
        self.address_spec().address()
    }

    /// Signs `body` under `ctx`.
    pub fn sign(&self, ctx: &Context, body: &[u8]) -> RawSignature {
        match self {
            Self::Ed25519(k) => RawSignature(k.sign(ctx, body).as_ref().to_vec()),
            Self::Secp256k1(k) => {
                let sig = k.sign_prehash(&ctx.digest(body));
                RawSignature(rs_to_der(&sig.r(), &sig.s()))
            }
        }
    }
}

/// Encodes `tx` and signs it with `signers`, in the order of its signer
/// infos (the caller must have listed one signer info per key, in order).
pub fn sign_transaction(
    ctx: &Context,
    tx: &Transaction,
    signers: &[&TxSigner],
) -> Result<UnverifiedTransaction, atoll_types::cbor::EncodeError> {
    let body = atoll_types::cbor::to_vec(tx)?;
    let proofs = signers
        .iter()
        .map(|s| AuthProof::Signature(s.sign(ctx, &body)))
        .collect();
    Ok(UnverifiedTransaction(body, proofs))
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of a signature's two scalars.
pub fn rs_to_der(r: &[u8; 32], s: &[u8; 32]) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, v: &[u8; 32]) {
        let start = v.iter().position(|&b| b != 0).unwrap_or(31);
        let digits = v.get(start..).unwrap_or_default();
        let pad = digits.first().is_some_and(|&b| b & 0x80 != 0);
        out.push(0x02);
        out.push(u8::try_from(digits.len() + usize::from(pad)).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(digits);
    }
    let mut body = Vec::with_capacity(70);
    int(&mut body, r);
    int(&mut body, s);
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    out.push(u8::try_from(body.len()).unwrap_or(0));
    out.extend_from_slice(&body);
    out
}

/// Parses a strict DER ECDSA signature into 64 bytes `r || s`: short-form
/// lengths, minimal positive integers of at most 32 significant bytes, no
/// trailing bytes. Anything else is `None`.
pub fn der_to_rs(der: &[u8]) -> Option<[u8; 64]> {
    fn int(input: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if tag != 0x02 || len == 0 || len >= 0x80 {
            return None;
        }
        let len = usize::from(len);
        let digits = rest.get(..len)?;
        let rest = rest.get(len..)?;
        let first = *digits.first()?;
        if first & 0x80 != 0 {
            return None; // negative
        }
        let digits = if first == 0 {
            // A leading zero is only allowed before a byte with its top bit set.
            let next = *digits.get(1)?;
            if next & 0x80 == 0 {
                return None;
            }
            digits.get(1..)?
        } else {
            digits
        };
        if digits.len() > 32 {
            return None;
        }
        Some((digits, rest))
    }
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != body.len() {
        return None;
    }
    let (r, rest) = int(body)?;
    let (s, rest) = int(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; 64];
    out.get_mut(32 - r.len()..32)?.copy_from_slice(r);
    out.get_mut(64 - s.len()..64)?.copy_from_slice(s);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "tests"
    )]

    use super::*;

    #[test]
    fn chain_context_matches_the_sdk() {
        // The SDK's own test vector (runtime-sdk crypto/signature/context.rs).
        let mut id = [0u8; 32];
        id[0] = 0x80;
        let consensus =
            ChainContext::new("643fb06848be7e970af3b5b2d772eb8cfb30499c8162bc18ac03df2f5e22520e")
                .unwrap();
        let ctx = tx_signature_context(&Namespace(id), &consensus).unwrap();
        assert_eq!(
            ctx.as_bytes(),
            b"oasis-runtime-sdk/tx: v0 for chain ca4842870b97a6d5c0d025adce0b6a0dec94d2ba192ede70f96349cfbe3628b9"
        );
    }

    #[test]
    fn der_round_trip_and_strictness() {
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r[0] = 0x80;
        r[31] = 1;
        s[5] = 0x12;
        let der = rs_to_der(&r, &s);
        let rs = der_to_rs(&der).unwrap();
        assert_eq!(&rs[..32], &r);
        assert_eq!(&rs[32..], &s);
        // r needs a zero pad byte, s drops its five leading zeros.
        assert_eq!(der.len(), 2 + (2 + 33) + (2 + 27));
        // Trailing bytes, non-minimal integers and wrong lengths are refused.
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(der_to_rs(&trailing).is_none());
        assert!(der_to_rs(&[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]).is_some());
        assert!(der_to_rs(&[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]).is_none());
        assert!(der_to_rs(&[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01]).is_none());
        assert!(der_to_rs(&[0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x01]).is_none());
        assert!(der_to_rs(&[]).is_none());
    }
}

//! Ed25519 signing of consensus messages with `atoll_crypto`.
//!
//! Every message is signed as `SHA-512/256(context ‖ canonical CBOR)` with a
//! chain-bound context ([`crate::context::Contexts`]), so a vote for one
//! network never counts on another. Verification follows ZIP-215, as
//! everywhere in atoll.

use async_trait::async_trait;
use atoll_crypto::context::Context as SigContext;
use atoll_crypto::ed25519::{PublicKey, Signature, SigningKey};
use malachitebft_app_channel::app::types::core::{
    SignedMessage, ValidatorProof, VoteExtensionScope,
};
use malachitebft_app_channel::{Signer, Verifier};
use serde::Serialize;

use crate::context::{AtollContext, BlockHash, Contexts, Height, Proposal, ValidatorAddress, Vote};

type SigningError = malachitebft_signing::Error;

/// The signed bytes of a vote extension: its scope and its contents.
#[derive(Serialize)]
struct ExtensionBody<'a> {
    height: Height,
    round: i64,
    value: &'a BlockHash,
    validator: &'a ValidatorAddress,
    #[serde(with = "serde_bytes")]
    extension: &'a [u8],
}

fn extension_bytes(
    scope: &VoteExtensionScope<AtollContext>,
    extension: &[u8],
) -> Result<Vec<u8>, SigningError> {
    cbor(&ExtensionBody {
        height: scope.height,
        round: scope.round.as_i64(),
        value: &scope.value_id,
        validator: &scope.validator_address,
        extension,
    })
}

fn cbor<T: Serialize>(value: &T) -> Result<Vec<u8>, SigningError> {
    atoll_types::cbor::to_vec(value).map_err(SigningError::from_source)
}

fn vote_bytes(vote: &Vote) -> Result<Vec<u8>, SigningError> {
    vote.sign_bytes().map_err(SigningError::from_source)
}

/// Verifies consensus signatures of one chain.
#[derive(Clone, Debug)]
pub struct AtollVerifier {
    contexts: Contexts,
}

impl AtollVerifier {
    /// A verifier for the chain of `ctx`.
    pub fn new(ctx: &AtollContext) -> Self {
        Self {
            contexts: ctx.contexts().clone(),
        }
    }
}

fn verdict(
    key: &PublicKey,
    ctx: &SigContext,
    message: &[u8],
    sig: &Signature,
) -> malachitebft_signing::VerificationResult {
    malachitebft_signing::VerificationResult::from_bool(key.verify(ctx, message, sig).is_ok())
}

#[async_trait]
impl Verifier<AtollContext> for AtollVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<malachitebft_signing::VerificationResult, SigningError> {
        let bytes = vote_bytes(vote)?;
        Ok(verdict(public_key, &self.contexts.vote, &bytes, signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<malachitebft_signing::VerificationResult, SigningError> {
        let bytes = cbor(proposal)?;
        Ok(verdict(
            public_key,
            &self.contexts.proposal,
            &bytes,
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<AtollContext>,
        extension: &Vec<u8>,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<malachitebft_signing::VerificationResult, SigningError> {
        let bytes = extension_bytes(scope, extension)?;
        Ok(verdict(
            public_key,
            &self.contexts.extension,
            &bytes,
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<AtollContext>,
    ) -> Result<malachitebft_signing::VerificationResult, SigningError> {
        let Ok(key) = PublicKey::from_slice(&proof.public_key) else {
            return Ok(malachitebft_signing::VerificationResult::Invalid);
        };
        Ok(verdict(
            &key,
            &self.contexts.validator_proof,
            &proof.preimage(),
            &proof.signature,
        ))
    }
}

/// Signs consensus messages with a validator's consensus key.
#[derive(Clone)]
pub struct AtollSigner {
    key: SigningKey,
    contexts: Contexts,
}

impl std::fmt::Debug for AtollSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtollSigner")
            .field("public_key", &self.key.public_key())
            .finish_non_exhaustive()
    }
}

impl AtollSigner {
    /// A signer with `key` for the chain of `ctx`.
    pub fn new(ctx: &AtollContext, key: SigningKey) -> Self {
        Self {
            key,
            contexts: ctx.contexts().clone(),
        }
    }

    /// The consensus public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The validator address of the key.
    pub fn address(&self) -> ValidatorAddress {
        ValidatorAddress::from_key(&self.key.public_key())
    }

    /// Signs `message` in `ctx` (used for streamed blocks).
    pub fn sign(&self, ctx: &SigContext, message: &[u8]) -> Signature {
        self.key.sign(ctx, message)
    }
}

#[async_trait]
impl Signer<AtollContext> for AtollSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<AtollContext, Vote>, SigningError> {
        let signature = self.key.sign(&self.contexts.vote, &vote_bytes(&vote)?);
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<AtollContext, Proposal>, SigningError> {
        let signature = self.key.sign(&self.contexts.proposal, &cbor(&proposal)?);
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<AtollContext>,
        extension: Vec<u8>,
    ) -> Result<SignedMessage<AtollContext, Vec<u8>>, SigningError> {
        let signature = self.key.sign(
            &self.contexts.extension,
            &extension_bytes(&scope, &extension)?,
        );
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<AtollContext>, SigningError> {
        let bytes = ValidatorProof::<AtollContext>::signing_bytes(&public_key, &peer_id);
        let signature = self.key.sign(&self.contexts.validator_proof, &bytes);
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

//! atoll's types for Malachite's [`Context`](mc::Context): heights, validator addresses and
//! sets, the value (a block hash), proposals, proposal parts and votes.
//!
//! Every type here that goes on the wire or is signed serializes as
//! canonical CBOR (`atoll_types::cbor`). Rounds travel as `i64` (`-1` is
//! nil), as Malachite's `Round::as_i64` gives them.

use std::fmt;

use atoll_consensus_types::scheduler;
use atoll_crypto::context::{ChainContext, Context as SigContext};
use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::{Address, Hash};
use malachitebft_app_channel::app::types::core::{
    self as mc, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower,
};
use serde::{Deserialize, Serialize};

use crate::error::BftError;
use crate::scheme::Ed25519Scheme;

/// Signature context of prevotes and precommits (bound to the chain).
pub const VOTE_CONTEXT: &str = "atoll/bft: vote";
/// Signature context of proposal messages (bound to the chain).
pub const PROPOSAL_CONTEXT: &str = "atoll/bft: proposal";
/// Signature context of the proposer's signature over a streamed block.
pub const BLOCK_CONTEXT: &str = "atoll/bft: block";
/// Signature context of vote extensions (unused while extensions are off).
pub const EXTENSION_CONTEXT: &str = "atoll/bft: vote extension";
/// Signature context of the proof tying a libp2p peer id to a validator key.
pub const VALIDATOR_PROOF_CONTEXT: &str = "atoll/bft: validator proof";

/// A block height.
#[derive(
    Clone, Copy, Default, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's consensus address: the staking-style address of its
/// ed25519 consensus key (`Address::from_ed25519`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidatorAddress(pub Address);

impl ValidatorAddress {
    /// The address of a consensus key.
    pub fn from_key(key: &PublicKey) -> Self {
        Self(Address::from_ed25519(key))
    }
}

impl fmt::Display for ValidatorAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Address for ValidatorAddress {}

/// One validator of a height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    /// Derived from `consensus_key`.
    pub address: ValidatorAddress,
    /// The key its votes are signed with.
    pub consensus_key: PublicKey,
    /// The node's identity key.
    pub node_id: PublicKey,
    /// The entity account its fees go to.
    pub entity: Address,
    /// Voting power (never zero).
    pub voting_power: u64,
}

impl mc::Validator<AtollContext> for Validator {
    fn address(&self) -> &ValidatorAddress {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.consensus_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of one height, sorted by voting power (descending), then
/// address, as Malachite requires. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
    total: u64,
}

impl ValidatorSet {
    /// The set from the scheduler's elected validators. Zero-power entries and
    /// repeated consensus keys (the first is kept) are dropped; an empty
    /// result is an error, since consensus cannot run without validators.
    pub fn from_scheduler(validators: &[scheduler::Validator]) -> Result<Self, BftError> {
        let mut out: Vec<Validator> = Vec::with_capacity(validators.len());
        for v in validators.iter().filter(|v| v.voting_power > 0) {
            let address = ValidatorAddress::from_key(&v.consensus_key);
            if out.iter().any(|o| o.address == address) {
                continue;
            }
            out.push(Validator {
                address,
                consensus_key: v.consensus_key,
                node_id: v.node_id,
                entity: v.entity,
                voting_power: v.voting_power,
            });
        }
        Self::new(out)
    }

    /// A set of `validators` (sorted here).
    pub fn new(mut validators: Vec<Validator>) -> Result<Self, BftError> {
        validators.sort_by(|a, b| {
            b.voting_power
                .cmp(&a.voting_power)
                .then(a.address.cmp(&b.address))
        });
        validators.dedup_by(|a, b| a.address == b.address);
        if validators.is_empty() {
            return Err(BftError::EmptyValidatorSet);
        }
        let total = validators
            .iter()
            .fold(0u64, |acc, v| acc.saturating_add(v.voting_power));
        Ok(Self { validators, total })
    }

    /// The validators, in Malachite's order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The validator with this address.
    pub fn get(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }
}

impl mc::ValidatorSet<AtollContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.total
    }

    fn get_by_address(&self, address: &ValidatorAddress) -> Option<&Validator> {
        self.get(address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// What consensus agrees on: the SHA-512/256 of a block's canonical CBOR.
/// The block itself is streamed as proposal parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlockHash(pub Hash);

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mc::Value for BlockHash {
    type Id = BlockHash;

    fn id(&self) -> BlockHash {
        *self
    }
}

/// A proposal: the proposer's signed claim that `value` is its block for
/// `(height, round)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Height.
    pub height: Height,
    /// Round (`i64`, never nil for a proposal).
    pub round: i64,
    /// The block hash.
    pub value: BlockHash,
    /// Proof-of-lock round (`-1` when none).
    pub pol_round: i64,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

impl mc::Proposal<AtollContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        Round::from(self.round)
    }

    fn value(&self) -> &BlockHash {
        &self.value
    }

    fn take_value(self) -> BlockHash {
        self.value
    }

    fn pol_round(&self) -> Round {
        Round::from(self.pol_round)
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.proposer
    }
}

/// The first part of a streamed block: what it is for and who made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInit {
    /// Height.
    pub height: Height,
    /// Round the block was first proposed in.
    pub round: i64,
    /// Proof-of-lock round (`-1` when none).
    pub pol_round: i64,
    /// The proposer.
    pub proposer: ValidatorAddress,
}

/// One part of a streamed block: `Init`, then the block's bytes in chunks,
/// then `Fin` with the proposer's signature over [`BlockCommitment`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalPart {
    /// What follows.
    Init(PartInit),
    /// A chunk of the block's canonical CBOR.
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The proposer's signature, in [`BLOCK_CONTEXT`], over the
    /// [`BlockCommitment`] of the init and the block's hash.
    Fin(atoll_crypto::ed25519::Signature),
}

/// What the proposer signs at the end of a streamed block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockCommitment {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: i64,
    /// The proposer.
    pub proposer: ValidatorAddress,
    /// Hash of the block's bytes.
    pub block: BlockHash,
}

impl mc::ProposalPart<AtollContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, Self::Init(_))
    }

    fn is_last(&self) -> bool {
        matches!(self, Self::Fin(_))
    }
}

/// A prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockHash>,
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The voter.
    pub validator: ValidatorAddress,
    /// A vote extension (always `None` while extensions are disabled).
    pub extension: Option<SignedExtension<AtollContext>>,
}

/// The signed bytes of a vote: everything but the extension.
#[derive(Serialize)]
struct VoteBody<'a> {
    height: Height,
    round: i64,
    value: Option<&'a BlockHash>,
    precommit: bool,
    validator: &'a ValidatorAddress,
}

impl Vote {
    /// The canonical bytes a validator signs for this vote.
    pub fn sign_bytes(&self) -> Result<Vec<u8>, BftError> {
        let value = match &self.value {
            NilOrVal::Nil => None,
            NilOrVal::Val(v) => Some(v),
        };
        Ok(atoll_types::cbor::to_vec(&VoteBody {
            height: self.height,
            round: self.round.as_i64(),
            value,
            precommit: self.vote_type == VoteType::Precommit,
            validator: &self.validator,
        })?)
    }
}

impl mc::Vote<AtollContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockHash> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockHash> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &ValidatorAddress {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<AtollContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<AtollContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<AtollContext>) -> Self {
        Self {
            extension: Some(extension),
            ..self
        }
    }
}

/// The signature contexts of one chain, shared by signer and verifier.
#[derive(Clone, Debug)]
pub struct Contexts {
    /// Votes.
    pub vote: SigContext,
    /// Proposals.
    pub proposal: SigContext,
    /// Streamed blocks.
    pub block: SigContext,
    /// Vote extensions.
    pub extension: SigContext,
    /// Validator proofs.
    pub validator_proof: SigContext,
}

impl Contexts {
    /// The contexts of the chain `chain`.
    pub fn for_chain(chain: &ChainContext) -> Result<Self, BftError> {
        Ok(Self {
            vote: SigContext::for_chain(VOTE_CONTEXT, chain)?,
            proposal: SigContext::for_chain(PROPOSAL_CONTEXT, chain)?,
            block: SigContext::for_chain(BLOCK_CONTEXT, chain)?,
            extension: SigContext::for_chain(EXTENSION_CONTEXT, chain)?,
            validator_proof: SigContext::for_chain(VALIDATOR_PROOF_CONTEXT, chain)?,
        })
    }
}

/// atoll's Malachite context.
///
/// **Proposer selection** is stake-weighted and deterministic: for round 0
/// of height `h`, a point is drawn uniformly in `[0, total power)` from
/// `SHA-512/256("atoll/bft: proposer" ‖ h)` and the validator whose
/// cumulative power interval (in set order) contains it proposes, so over
/// many heights each validator proposes in proportion to its stake. Round
/// `r` moves `r` places on from round 0's proposer (round-robin), so
/// consecutive rounds of one height always try different validators and a
/// silent proposer costs a single round.
#[derive(Clone, Debug)]
pub struct AtollContext {
    contexts: std::sync::Arc<Contexts>,
}

impl AtollContext {
    /// The context of the chain `chain`.
    pub fn new(chain: &ChainContext) -> Result<Self, BftError> {
        Ok(Self {
            contexts: std::sync::Arc::new(Contexts::for_chain(chain)?),
        })
    }

    /// The chain's signature contexts.
    pub fn contexts(&self) -> &Contexts {
        &self.contexts
    }

    /// The index in `set` of the proposer of `(height, round)`.
    pub fn proposer_index(set: &ValidatorSet, height: Height, round: Round) -> usize {
        let n = set.validators.len().max(1);
        let draw = Hash::digest_parts(&[b"atoll/bft: proposer", &height.0.to_be_bytes()]);
        let mut head = [0u8; 8];
        head.copy_from_slice(&draw.0[..8]);
        let point = u64::from_be_bytes(head) % set.total.max(1);
        let mut acc = 0u64;
        let mut first = 0;
        for (i, v) in set.validators.iter().enumerate() {
            acc = acc.saturating_add(v.voting_power);
            if point < acc {
                first = i;
                break;
            }
        }
        let r = usize::try_from(round.as_u32().unwrap_or(0)).unwrap_or(0);
        (first + r % n) % n
    }
}

impl mc::Context for AtollContext {
    type Address = ValidatorAddress;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockHash;
    type Vote = Vote;
    type Extension = Vec<u8>;
    type SigningScheme = Ed25519Scheme;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        // A `ValidatorSet` is never empty (see `ValidatorSet::new`).
        #[allow(clippy::indexing_slicing, reason = "the set is never empty")]
        &validator_set.validators[Self::proposer_index(validator_set, height, round)]
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockHash,
        pol_round: Round,
        address: ValidatorAddress,
    ) -> Proposal {
        Proposal {
            height,
            round: round.as_i64(),
            value,
            pol_round: pol_round.as_i64(),
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            height,
            round,
            value: value_id,
            vote_type: VoteType::Prevote,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockHash>,
        address: ValidatorAddress,
    ) -> Vote {
        Vote {
            height,
            round,
            value: value_id,
            vote_type: VoteType::Precommit,
            validator: address,
            extension: None,
        }
    }
}

//! The block consensus agrees on, and the checks every validator makes on a
//! proposed block before voting for it.
//!
//! A [`BftBlock`] wraps the state machine's [`Block`] with the commit
//! certificate of the previous block (`last_commit`), so that the fee
//! recipients in `Block::signers` are not the proposer's word but follow from
//! signatures everyone can check. Its identity is the SHA-512/256 of its
//! canonical CBOR; only canonical bytes are accepted.

use std::collections::BTreeMap;

use atoll_consensus::app::{App, Block, NonceCheck};
use atoll_crypto::{Address, Hash};
use atoll_state::Store;
use atoll_types::cbor;
use malachitebft_app_channel::app::types::core::{NilOrVal, Round};
use serde::{Deserialize, Serialize};

use crate::codec::WireCommit;
use crate::context::{AtollContext, BlockHash, Contexts, Height, ValidatorSet};
use malachitebft_app_channel::app::types::core::Context as _;

/// A block as consensus orders it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BftBlock {
    /// What the state machine applies.
    pub block: Block,
    /// The state root after the parent block (the genesis state's root in
    /// the first block): validators that disagree on it do not vote for the
    /// block, so a diverged node stops instead of forking.
    pub state_root: Hash,
    /// The certificate that decided the previous block (absent in the first
    /// block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<WireCommit>,
    /// Proof that validators signed two different votes of one kind in one
    /// round of the previous height: the nodes in `block.equivocators`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<DoubleSign>,
    /// Proof that proposers signed two different proposals for one round of
    /// the previous height (also in `block.equivocators`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub double_proposals: Vec<DoubleProposal>,
}

/// Two signed proposals by one validator for one height and round, with
/// different blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoubleProposal {
    /// One proposal.
    pub first: crate::context::Proposal,
    /// Its signature.
    pub first_signature: atoll_crypto::ed25519::Signature,
    /// The other.
    pub second: crate::context::Proposal,
    /// Its signature.
    pub second_signature: atoll_crypto::ed25519::Signature,
}

impl DoubleProposal {
    /// Checks the evidence against the validators of its height and returns
    /// the node to slash.
    pub fn verify(
        &self,
        contexts: &Contexts,
        set: &ValidatorSet,
    ) -> Result<atoll_crypto::ed25519::PublicKey, InvalidBlock> {
        let bad = |s: &str| InvalidBlock::Evidence(s.to_string());
        let (a, b) = (&self.first, &self.second);
        if a.height != b.height || a.round != b.round || a.proposer != b.proposer {
            return Err(bad("proposals for different slots"));
        }
        if a.value == b.value {
            return Err(bad("proposals do not conflict"));
        }
        let v = set.get(&a.proposer).ok_or_else(|| bad("not a validator"))?;
        for (p, sig) in [(a, &self.first_signature), (b, &self.second_signature)] {
            let bytes = cbor::to_vec(p).map_err(|e| bad(&e.to_string()))?;
            if v.consensus_key
                .verify(&contexts.proposal, &bytes, sig)
                .is_err()
            {
                return Err(bad("invalid signature"));
            }
        }
        Ok(v.node_id)
    }
}

/// One signed vote, as evidence carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceVote {
    /// The block voted for (`None`: nil).
    pub value: Option<BlockHash>,
    /// The signature.
    pub signature: atoll_crypto::ed25519::Signature,
}

/// Two conflicting votes by one validator for one height, round and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoubleSign {
    /// Height.
    pub height: Height,
    /// Round.
    pub round: i64,
    /// Precommits (otherwise prevotes).
    pub precommit: bool,
    /// The validator.
    pub validator: crate::context::ValidatorAddress,
    /// One vote.
    pub first: EvidenceVote,
    /// The other, for a different value.
    pub second: EvidenceVote,
}

impl DoubleSign {
    fn vote(&self, v: &EvidenceVote) -> crate::context::Vote {
        crate::context::Vote {
            height: self.height,
            round: Round::from(self.round),
            value: v.value.map_or(NilOrVal::Nil, NilOrVal::Val),
            vote_type: if self.precommit {
                malachitebft_app_channel::app::types::core::VoteType::Precommit
            } else {
                malachitebft_app_channel::app::types::core::VoteType::Prevote
            },
            validator: self.validator,
            extension: None,
        }
    }

    /// Checks the evidence against the validators of its height and returns
    /// the node to slash.
    pub fn verify(
        &self,
        contexts: &Contexts,
        set: &ValidatorSet,
    ) -> Result<atoll_crypto::ed25519::PublicKey, InvalidBlock> {
        let bad = |s: &str| InvalidBlock::Evidence(s.to_string());
        if self.round < 0 || self.round > i64::from(u32::MAX) {
            return Err(bad("bad round"));
        }
        if self.first.value == self.second.value {
            return Err(bad("votes do not conflict"));
        }
        let v = set
            .get(&self.validator)
            .ok_or_else(|| bad("not a validator"))?;
        for ev in [&self.first, &self.second] {
            let bytes = self
                .vote(ev)
                .sign_bytes()
                .map_err(|e| bad(&e.to_string()))?;
            if v.consensus_key
                .verify(&contexts.vote, &bytes, &ev.signature)
                .is_err()
            {
                return Err(bad("invalid signature"));
            }
        }
        Ok(v.node_id)
    }
}

/// The nodes a block's evidence slashes, each once, in evidence order; all
/// evidence must be for the `parent` height and verify against `set`.
pub fn equivocators(
    contexts: &Contexts,
    evidence: &[DoubleSign],
    proposals: &[DoubleProposal],
    parent: Option<&Parent>,
    set: Option<&ValidatorSet>,
) -> Result<Vec<atoll_crypto::ed25519::PublicKey>, InvalidBlock> {
    let mut out = Vec::new();
    if evidence.is_empty() && proposals.is_empty() {
        return Ok(out);
    }
    let (Some(parent), Some(set)) = (parent, set) else {
        return Err(InvalidBlock::Evidence("no previous height".into()));
    };
    for ev in evidence {
        if ev.height != Height(parent.height) {
            return Err(InvalidBlock::Evidence("not for the previous height".into()));
        }
        let node = ev.verify(contexts, set)?;
        if !out.contains(&node) {
            out.push(node);
        }
    }
    for ev in proposals {
        if ev.first.height != Height(parent.height) {
            return Err(InvalidBlock::Evidence("not for the previous height".into()));
        }
        let node = ev.verify(contexts, set)?;
        if !out.contains(&node) {
            out.push(node);
        }
    }
    Ok(out)
}

impl BftBlock {
    /// Canonical CBOR.
    pub fn to_bytes(&self) -> Result<Vec<u8>, cbor::EncodeError> {
        cbor::to_vec(self)
    }

    /// Decodes canonical bytes (anything else is refused).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, cbor::DecodeError> {
        cbor::from_slice_canonical(bytes)
    }
}

/// The hash of a block's bytes: its identity in consensus.
pub fn block_hash(bytes: &[u8]) -> BlockHash {
    BlockHash(Hash::digest(bytes))
}

/// What the previous block left for the next one to build on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: BlockHash,
    /// Its time.
    pub time: u64,
}

/// Why a proposed block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBlock {
    /// Not canonical CBOR of a block.
    #[error("malformed block: {0}")]
    Malformed(String),
    /// Larger than `max_block_size`.
    #[error("block of {size} bytes exceeds {max}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Wrong height.
    #[error("block height {got}, expected {expected}")]
    Height {
        /// Expected.
        expected: u64,
        /// Got.
        got: u64,
    },
    /// Builds on a state root other than ours.
    #[error("block builds on state root {got}, ours is {ours}")]
    StateRoot {
        /// Ours.
        ours: Hash,
        /// The block's.
        got: Hash,
    },
    /// Does not extend our last block.
    #[error("block does not extend the last block")]
    Parent,
    /// Time goes backwards.
    #[error("block time {got} is before the previous block's {prev}")]
    Time {
        /// The parent's time.
        prev: u64,
        /// The block's.
        got: u64,
    },
    /// Time further ahead of the judging validator's clock than it allows
    /// (checked when voting only).
    #[error("block time {got} is more than {max_drift} s ahead of this validator's clock ({now})")]
    FutureTime {
        /// The block's.
        got: u64,
        /// The validator's clock.
        now: u64,
        /// The drift allowed, in seconds.
        max_drift: u64,
    },
    /// The fee recipient is not the proposer's entity.
    #[error("block proposer account is not the proposing validator's entity")]
    Proposer,
    /// The previous block's certificate is missing, wrong or too weak.
    #[error("last commit: {0}")]
    LastCommit(String),
    /// `signers` does not follow from the last commit.
    #[error("block signers do not match the last commit")]
    Signers,
    /// Double-sign evidence is invalid.
    #[error("evidence: {0}")]
    Evidence(String),
    /// `equivocators` does not follow from the evidence.
    #[error("block equivocators do not match its evidence")]
    Equivocators,
    /// A transaction fails its checks.
    #[error("transaction {index}: {reason}")]
    Tx {
        /// Its index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// More gas than the block may use.
    #[error("block gas {gas} exceeds {max}")]
    Gas {
        /// Gas of all transactions.
        gas: u64,
        /// The limit.
        max: u64,
    },
}

/// Checks a block certificate for `parent` against the validators that
/// decided it, and returns the fee recipients (`Block::signers`) it implies:
/// each signing validator's entity and voting power, in set order.
pub fn verify_commit(
    contexts: &Contexts,
    commit: &WireCommit,
    parent: &Parent,
    set: &ValidatorSet,
) -> Result<Vec<(Address, u64)>, InvalidBlock> {
    let bad = |s: &str| InvalidBlock::LastCommit(s.to_string());
    if commit.height != Height(parent.height) || commit.value != parent.hash {
        return Err(bad("not for the previous block"));
    }
    if commit.round < 0 || commit.round > i64::from(u32::MAX) {
        return Err(bad("bad round"));
    }
    let ctx_round = Round::from(commit.round);
    let mut signed: BTreeMap<crate::context::ValidatorAddress, ()> = BTreeMap::new();
    let mut power = 0u128;
    for (address, signature) in &commit.signatures {
        let Some(v) = set.get(address) else {
            return Err(bad("signature from a non-validator"));
        };
        if signed.insert(*address, ()).is_some() {
            return Err(bad("duplicate signature"));
        }
        let vote = crate::context::Vote {
            height: commit.height,
            round: ctx_round,
            value: NilOrVal::Val(commit.value),
            vote_type: malachitebft_app_channel::app::types::core::VoteType::Precommit,
            validator: *address,
            extension: None,
        };
        let bytes = vote.sign_bytes().map_err(|e| bad(&e.to_string()))?;
        if v.consensus_key
            .verify(&contexts.vote, &bytes, signature)
            .is_err()
        {
            return Err(bad("invalid signature"));
        }
        power += u128::from(v.voting_power);
    }
    let total: u128 = set
        .validators()
        .iter()
        .map(|v| u128::from(v.voting_power))
        .sum();
    if power * 3 <= total * 2 {
        return Err(bad("less than two thirds of the voting power"));
    }
    Ok(set
        .validators()
        .iter()
        .filter(|v| signed.contains_key(&v.address))
        .map(|v| (v.entity, v.voting_power))
        .collect())
}

/// The limits a block is built and checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in a block's encoding.
    pub max_block_size: u64,
    /// Most gas (0: unlimited).
    pub max_block_gas: u64,
}

/// Tracks the per-signer nonces and the gas of transactions taken in order,
/// applying the same rules to the proposer's selection and to a validator's
/// check: each transaction passes `check_tx`, a signer's first transaction
/// has exactly its account's next nonce and each later one the nonce after.
pub struct TxRules<'a> {
    app: &'a App,
    limits: Limits,
    next_nonce: BTreeMap<Address, u64>,
    gas: u64,
    params: Option<atoll_consensus::app::TxParams>,
}

impl<'a> TxRules<'a> {
    /// Fresh rules for a block.
    pub fn new(app: &'a App, limits: Limits) -> Self {
        Self {
            app,
            limits,
            next_nonce: BTreeMap::new(),
            gas: 0,
            params: None,
        }
    }

    /// Admits `raw` if it may follow the transactions admitted so far.
    /// Every call must pass the same `store` (the parent's state).
    pub fn admit(&mut self, store: &dyn Store, raw: &[u8]) -> Result<(), String> {
        let params = match self.params.take() {
            Some(p) => p,
            None => self
                .app
                .tx_params(store)
                .map_err(|e| format!("{}: {}", e.module, e.message))?,
        };
        let checked = self
            .app
            .check_tx_with(store, raw, NonceCheck::AtLeast, &params);
        self.params = Some(params);
        let checked = checked.map_err(|e| format!("{}: {}", e.module, e.message))?;
        // First for this signer: the exact account nonce. Later: the next one.
        let want = self
            .next_nonce
            .get(&checked.signer)
            .copied()
            .unwrap_or(checked.account_nonce);
        if checked.nonce != want {
            return Err(format!(
                "nonce {} out of sequence (want {want})",
                checked.nonce
            ));
        }
        let gas = self.gas.saturating_add(checked.gas);
        if self.limits.max_block_gas > 0 && gas > self.limits.max_block_gas {
            return Err("block gas limit".into());
        }
        self.gas = gas;
        self.next_nonce
            .insert(checked.signer, checked.nonce.saturating_add(1));
        Ok(())
    }
}

/// Everything a validator needs to judge a proposed block.
pub struct Judge<'a> {
    /// The state machine.
    pub app: &'a App,
    /// The chain's signature contexts.
    pub contexts: &'a Contexts,
    /// Block limits.
    pub limits: Limits,
    /// The height being decided.
    pub height: u64,
    /// The last applied block (`None` before the first).
    pub parent: Option<&'a Parent>,
    /// The validators that decided the parent.
    pub parent_set: Option<&'a ValidatorSet>,
    /// The validators of `height`.
    pub set: &'a ValidatorSet,
    /// The state root after the parent.
    pub state_root: Hash,
}

impl Judge<'_> {
    /// Checks a block proposed for `(height, round)` by `proposer` (whose
    /// signature over the stream has already been checked), against the
    /// committed state in `store`.
    pub fn check(
        &self,
        store: &dyn Store,
        bytes: &[u8],
        proposer: &crate::context::ValidatorAddress,
    ) -> Result<BftBlock, InvalidBlock> {
        let size = bytes.len() as u64;
        if size > self.limits.max_block_size {
            return Err(InvalidBlock::TooLarge {
                size,
                max: self.limits.max_block_size,
            });
        }
        let b = BftBlock::from_bytes(bytes).map_err(|e| InvalidBlock::Malformed(e.to_string()))?;
        if b.block.height != self.height {
            return Err(InvalidBlock::Height {
                expected: self.height,
                got: b.block.height,
            });
        }
        if b.state_root != self.state_root {
            return Err(InvalidBlock::StateRoot {
                ours: self.state_root,
                got: b.state_root,
            });
        }
        let entity = self.set.get(proposer).map(|v| v.entity);
        if entity.is_none() || b.block.proposer != entity {
            return Err(InvalidBlock::Proposer);
        }
        match (self.parent, self.parent_set, &b.last_commit) {
            (None, _, None) => {
                if b.block.prev_hash != Hash::default() || !b.block.signers.is_empty() {
                    return Err(InvalidBlock::Parent);
                }
            }
            (Some(parent), Some(set), Some(commit)) => {
                if b.block.prev_hash != parent.hash.0 {
                    return Err(InvalidBlock::Parent);
                }
                if b.block.time < parent.time {
                    return Err(InvalidBlock::Time {
                        prev: parent.time,
                        got: b.block.time,
                    });
                }
                let signers = verify_commit(self.contexts, commit, parent, set)?;
                if signers != b.block.signers {
                    return Err(InvalidBlock::Signers);
                }
            }
            _ => return Err(InvalidBlock::LastCommit("missing or unexpected".into())),
        }
        let slashed = equivocators(
            self.contexts,
            &b.evidence,
            &b.double_proposals,
            self.parent,
            self.parent_set,
        )?;
        if slashed != b.block.equivocators {
            return Err(InvalidBlock::Equivocators);
        }
        // Transactions this node has not admitted yet (gossip still on its
        // way) are verified in one batch here rather than one by one in the
        // checks below; only successes are remembered, so outcomes are the
        // same either way.
        if let Ok(params) = self.app.tx_params(store) {
            let raws: Vec<&[u8]> = b.block.txs.iter().map(|t| t.as_slice()).collect();
            self.app.preverify(&raws, &params);
        }
        let mut rules = TxRules::new(self.app, self.limits);
        for (index, raw) in b.block.txs.iter().enumerate() {
            rules
                .admit(store, raw)
                .map_err(|reason| InvalidBlock::Tx { index, reason })?;
        }
        Ok(b)
    }
}

/// The vote-time bound on a block's time: at most `max_drift` seconds ahead
/// of `now`, the judging validator's clock. Not part of [`Judge::check`],
/// which is deterministic: honest validators whose clocks differ may judge
/// one block differently here, and that only decides how they vote.
pub fn not_too_far_ahead(time: u64, now: u64, max_drift: u64) -> Result<(), InvalidBlock> {
    if time > now.saturating_add(max_drift) {
        return Err(InvalidBlock::FutureTime {
            got: time,
            now,
            max_drift,
        });
    }
    Ok(())
}

/// The proposer of `(height, round)` in `set`.
pub fn proposer_of(
    ctx: &AtollContext,
    set: &ValidatorSet,
    height: u64,
    round: Round,
) -> crate::context::ValidatorAddress {
    ctx.select_proposer(set, Height(height), round).address
}

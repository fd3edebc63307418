//! What a compute node signs for an open round, made durable before it is
//! sent: its executor commitments (one per scheduler whose batch it
//! executed) and its own batch proposal.
//!
//! Two different commitments signed by one node for the same round and
//! batch are equivocation, which consensus slashes (`roothash.Evidence`). A
//! node that restarts in the middle of a round must therefore never compute
//! and sign again: it may get another answer (its runtime failed this time,
//! or a proposer offers it a batch in another order). So a commitment is
//! written to the runtime's storage ([`RuntimeStorage::set_signed`], a
//! durable redb write) before it leaves the node, and after a restart the
//! recorded one is sent again, byte for byte. A proposer likewise keeps the
//! batch it proposed, so that it proposes the same one again. The records of
//! a round go when the round is applied.

use atoll_consensus_types::roothash::{
    CommitmentHeader, ExecutorCommitment, Message, Vote, commitment_signing_bytes,
};
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::{PublicKey, SigningKey};
use atoll_types::cbor;
use serde::{Deserialize, Serialize};

use crate::proposal::Proposal;
use crate::storage::{RuntimeStorage, StorageError};

/// What this node signed for one round (the stored CBOR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SignedRound {
    /// Commitments, at most one per scheduler.
    #[serde(default)]
    commitments: Vec<ExecutorCommitment>,
    /// The batch this node proposed for the round, if it did.
    #[serde(default)]
    proposal: Option<Proposal>,
}

/// Signs commitments and records proposals for one runtime, durably.
pub struct RoundSigner {
    key: SigningKey,
    ctx: Context,
    storage: RuntimeStorage,
}

impl RoundSigner {
    /// Signs with `key` in the commitment context `ctx`, recording in
    /// `storage`.
    pub fn new(key: SigningKey, ctx: Context, storage: RuntimeStorage) -> Self {
        Self { key, ctx, storage }
    }

    fn load(&self, round: u64) -> Result<SignedRound, StorageError> {
        match self.storage.signed(round)? {
            Some(bytes) => cbor::from_slice(&bytes)
                .map_err(|e| StorageError::Db(format!("signed round {round}: {e}"))),
            None => Ok(SignedRound::default()),
        }
    }

    fn store(&self, round: u64, signed: &SignedRound) -> Result<(), StorageError> {
        let bytes = cbor::to_vec(signed).map_err(|e| StorageError::Db(e.to_string()))?;
        self.storage.set_signed(round, &bytes)
    }

    /// The commitment this node already signed for `round` and
    /// `scheduler`'s batch, if any.
    pub fn signed(
        &self,
        round: u64,
        scheduler: &PublicKey,
    ) -> Result<Option<ExecutorCommitment>, StorageError> {
        Ok(self
            .load(round)?
            .commitments
            .into_iter()
            .find(|c| &c.header.scheduler_id == scheduler))
    }

    /// The commitment to send for `round` and `scheduler`'s batch: the one
    /// signed before, if there is one (then `vote` and `messages` are not
    /// used), else one of `vote` (with `messages`), signed now and recorded
    /// durably before it is returned.
    pub fn commit(
        &self,
        runtime: atoll_types::Namespace,
        round: u64,
        scheduler: PublicKey,
        vote: Vote,
        messages: Vec<Message>,
    ) -> Result<ExecutorCommitment, StorageError> {
        let mut signed = self.load(round)?;
        if let Some(c) = signed
            .commitments
            .iter()
            .find(|c| c.header.scheduler_id == scheduler)
        {
            return Ok(c.clone());
        }
        let header = CommitmentHeader {
            runtime,
            scheduler_id: scheduler,
            vote,
        };
        let bytes =
            commitment_signing_bytes(&header).map_err(|e| StorageError::Db(format!("{e:?}")))?;
        let commitment = ExecutorCommitment {
            node_id: self.key.public_key(),
            signature: self.key.sign(&self.ctx, &bytes),
            header,
            messages,
        };
        signed.commitments.push(commitment.clone());
        self.store(round, &signed)?;
        Ok(commitment)
    }

    /// The batch this node proposed for `round`, if it did.
    pub fn proposal(&self, round: u64) -> Result<Option<Proposal>, StorageError> {
        Ok(self.load(round)?.proposal)
    }

    /// Records the batch this node proposes for `round`, before it is sent;
    /// returns the one recorded before instead, if there is one.
    pub fn propose(&self, round: u64, proposal: Proposal) -> Result<Proposal, StorageError> {
        let mut signed = self.load(round)?;
        if let Some(p) = &signed.proposal {
            return Ok(p.clone());
        }
        signed.proposal = Some(proposal.clone());
        self.store(round, &signed)?;
        Ok(proposal)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use atoll_consensus_types::roothash::{BlockHeader, ComputeResults, HeaderType};
    use atoll_crypto::Hash;
    use atoll_types::Namespace;
    use serde_bytes::ByteBuf;

    use super::*;
    use crate::storage::RoundRecord;

    const RT: Namespace = Namespace([9; 32]);

    fn genesis() -> BlockHeader {
        BlockHeader {
            namespace: RT,
            round: 0,
            timestamp: 0,
            header_type: HeaderType::Normal,
            previous_hash: Hash::empty(),
            io_root: Hash::empty(),
            state_root: Hash::empty(),
            messages_hash: Hash::empty(),
        }
    }

    fn results(root: &[u8]) -> Vote {
        Vote::Results(ComputeResults {
            round: 1,
            previous_hash: genesis().hash(),
            io_root: Hash::empty(),
            state_root: Hash::digest(root),
            messages_hash: Hash::empty(),
        })
    }

    fn signer(dir: &std::path::Path) -> RoundSigner {
        let storage = RuntimeStorage::open(dir, genesis(), None).unwrap();
        let ctx = Context::new("atoll/test: commitments").unwrap();
        RoundSigner::new(SigningKey::from_seed(&[3; 32]), ctx, storage)
    }

    #[test]
    fn a_restart_sends_the_same_commitment_and_proposal_again() {
        let dir = tempfile::tempdir().unwrap();
        let scheduler = SigningKey::from_seed(&[4; 32]).public_key();
        let other = SigningKey::from_seed(&[5; 32]).public_key();
        let proposal = Proposal {
            runtime: RT,
            round: 1,
            previous_hash: genesis().hash(),
            txs: vec![ByteBuf::from(b"tx".to_vec())],
        };
        let (first, first_bytes) = {
            let s = signer(dir.path());
            assert_eq!(s.signed(1, &scheduler).unwrap(), None);
            assert_eq!(s.propose(1, proposal.clone()).unwrap(), proposal);
            let c = s
                .commit(RT, 1, scheduler, results(b"first"), vec![])
                .unwrap();
            (c.clone(), cbor::to_vec(&c).unwrap())
        };
        // The node restarts (its storage reopened); this time its runtime
        // would answer differently (or fail), and a proposer would offer
        // another batch.
        let s = signer(dir.path());
        assert_eq!(s.signed(1, &scheduler).unwrap(), Some(first.clone()));
        let again = s
            .commit(RT, 1, scheduler, Vote::Failure { round: 1 }, vec![])
            .unwrap();
        assert_eq!(cbor::to_vec(&again).unwrap(), first_bytes, "same bytes");
        let other_batch = Proposal {
            txs: vec![],
            ..proposal.clone()
        };
        assert_eq!(s.propose(1, other_batch).unwrap(), proposal);
        assert_eq!(s.proposal(1).unwrap(), Some(proposal));
        // Another scheduler's batch in the same round gets its own
        // commitment (not equivocation), kept beside the first.
        let b = s
            .commit(RT, 1, other, results(b"other batch"), vec![])
            .unwrap();
        assert_eq!(b.header.scheduler_id, other);
        assert_eq!(s.signed(1, &scheduler).unwrap(), Some(first));
    }

    #[test]
    fn records_go_when_their_round_is_applied_and_closed_rounds_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = signer(dir.path());
        let scheduler = SigningKey::from_seed(&[4; 32]).public_key();
        s.commit(RT, 1, scheduler, results(b"r1"), vec![]).unwrap();
        let mut r2 = results(b"r2");
        if let Vote::Results(r) = &mut r2 {
            r.round = 2;
        }
        s.commit(RT, 2, scheduler, r2, vec![]).unwrap();
        // Round 1 closes (failed): its record goes, round 2's stays.
        let failed = BlockHeader {
            round: 1,
            header_type: HeaderType::RoundFailed,
            previous_hash: genesis().hash(),
            ..genesis()
        };
        s.storage.apply_round(&RoundRecord::empty(failed)).unwrap();
        assert_eq!(s.signed(1, &scheduler).unwrap(), None);
        assert!(s.signed(2, &scheduler).unwrap().is_some());
        assert!(matches!(
            s.commit(RT, 1, scheduler, results(b"late"), vec![]),
            Err(StorageError::OutOfOrder { .. })
        ));
    }
}

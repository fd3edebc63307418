//! Misbehaviour evidence Malachite reports for a decided height, turned
//! into the double signs and double proposals the next block carries.

use malachitebft_app_channel::app::types::core::CommitCertificate;

use crate::block::{DoubleProposal, DoubleSign, EvidenceVote};
use crate::context::AtollContext;
use malachitebft_app_channel::app::types::MisbehaviorEvidence;
use malachitebft_app_channel::app::types::core::{NilOrVal, SignedVote, VoteType};

use super::{Host, TxSource};

impl<T: TxSource> Host<T> {
    /// The double votes in Malachite's evidence for the decided height.
    pub(super) fn double_signs(
        &self,
        cert: &CommitCertificate<AtollContext>,
        evidence: &MisbehaviorEvidence<AtollContext>,
    ) -> Vec<DoubleSign> {
        let Some(set) = self.sets.get(&cert.height.0) else {
            return Vec::new();
        };
        let as_evidence = |v: &SignedVote<AtollContext>| EvidenceVote {
            value: match &v.message.value {
                NilOrVal::Nil => None,
                NilOrVal::Val(h) => Some(*h),
            },
            signature: v.signature,
        };
        let mut out = Vec::new();
        for validator in set.validators() {
            for (a, b) in evidence.votes.get(&validator.address).into_iter().flatten() {
                if a.message.height != cert.height {
                    continue;
                }
                out.push(DoubleSign {
                    height: a.message.height,
                    round: a.message.round.as_i64(),
                    precommit: a.message.vote_type == VoteType::Precommit,
                    validator: validator.address,
                    first: as_evidence(a),
                    second: as_evidence(b),
                });
            }
        }
        out
    }

    /// The double proposals in Malachite's evidence for the decided height.
    pub(super) fn double_proposals_in(
        &self,
        cert: &CommitCertificate<AtollContext>,
        evidence: &MisbehaviorEvidence<AtollContext>,
    ) -> Vec<DoubleProposal> {
        let Some(set) = self.sets.get(&cert.height.0) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for validator in set.validators() {
            for (a, b) in evidence
                .proposals
                .get(&validator.address)
                .into_iter()
                .flatten()
            {
                if a.message.height != cert.height {
                    continue;
                }
                out.push(DoubleProposal {
                    first: a.message.clone(),
                    first_signature: a.signature,
                    second: b.message.clone(),
                    second_signature: b.signature,
                });
            }
        }
        out
    }
}

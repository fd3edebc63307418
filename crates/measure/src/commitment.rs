//! The digests facilitators and input parties publish on chain.
//!
//! An input party commits to the report ids it submitted; a facilitator to
//! the report ids it aggregated and to its aggregate share. When the shares
//! are revealed anyone recomputes the digests and the result.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::{AggregateShare, ReportId, TaskId};

/// The digest of a batch: its report ids in order (a set, so no id twice).
pub fn batch_digest(task: &TaskId, ids: &BTreeSet<ReportId>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"atoll-measure/v1 batch");
    h.update(task.0);
    h.update((ids.len() as u64).to_be_bytes());
    for id in ids {
        h.update(id.0);
    }
    h.finalize().into()
}

/// Facilitator `index`'s commitment to its aggregate share of `task`.
pub fn share_commitment(task: &TaskId, index: u8, share: &AggregateShare) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"atoll-measure/v1 aggregate share");
    h.update(task.0);
    h.update([index]);
    h.update(share.report_count.to_be_bytes());
    h.update((share.bytes.len() as u64).to_be_bytes());
    h.update(&share.bytes);
    h.finalize().into()
}

/// The digest of a result, the message every facilitator signs.
pub fn result_digest(task: &TaskId, report_count: u64, result: &[u128]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"atoll-measure/v1 result");
    h.update(task.0);
    h.update(report_count.to_be_bytes());
    h.update((result.len() as u64).to_be_bytes());
    for x in result {
        h.update(x.to_be_bytes());
    }
    h.finalize().into()
}

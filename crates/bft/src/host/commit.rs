//! Applying a decided block: storing it with its certificate, running it
//! through the state machine, moving to the next validator set, and
//! telling the [`CommitHook`].

use atoll_consensus::app::BlockResult;
use atoll_crypto::Hash;
use malachitebft_app_channel::app::types::core::CommitCertificate;
use tracing::info;

use crate::block::{BftBlock, Parent};
use crate::chain::{Chain, StoredBlock};
use crate::codec::WireCommit;
use crate::context::AtollContext;
use crate::error::BftError;

use super::{Host, TxSource};

/// What [`Host::on_commit`] hooks see of each applied block.
#[derive(Debug)]
pub struct Committed<'a> {
    /// The block, with its hash and certificate.
    pub block: &'a StoredBlock,
    /// Its results.
    pub result: &'a BlockResult,
    /// The state root after it.
    pub state_root: Hash,
    /// The chain (state and block store).
    pub chain: &'a Chain,
    /// Whether the block came by sync (the node is catching up) rather than
    /// from a proposal it saw.
    pub synced: bool,
}

/// Called after each applied block.
pub type CommitHook = Box<dyn FnMut(&Committed<'_>) + Send>;

impl<T: TxSource> Host<T> {
    /// Applies the decided block.
    pub(super) fn commit(
        &mut self,
        cert: &CommitCertificate<AtollContext>,
    ) -> Result<(), BftError> {
        let started = std::time::Instant::now();
        let height = cert.height.0;
        let expected = self
            .parent
            .as_ref()
            .map_or(self.initial_height, |p| p.height.saturating_add(1));
        if height != expected {
            return Err(BftError::OutOfStep(format!(
                "decided height {height}, expected {expected}"
            )));
        }
        let candidate = self
            .candidates
            .get(&(height, cert.value_id))
            .ok_or_else(|| BftError::UnknownDecidedBlock(cert.value_id.to_string(), height))?;
        let bytes = candidate.bytes.clone();
        let synced = candidate.parts.is_empty();
        let block = BftBlock::from_bytes(&bytes)
            .map_err(|e| BftError::OutOfStep(format!("decided block does not decode: {e}")))?;
        // More than two thirds of the voting power certified that this block
        // builds on `block.state_root`, the root after the parent. Ours
        // differing means this node's state diverged (a synced block applied
        // differently here, a bug, a corrupt store): going on would fork.
        if block.state_root != self.state_root {
            return Err(BftError::StateDiverged {
                height: expected.saturating_sub(1),
                ours: self.state_root.to_string(),
                certified: block.state_root.to_string(),
            });
        }
        let commit = WireCommit::from_certificate(cert);
        self.chain.save_decided(height, &bytes, &commit)?;
        let stored = StoredBlock {
            bytes,
            block,
            hash: cert.value_id,
            commit: commit.clone(),
        };
        let (stored, result, root) = self.chain.apply_stored(&self.app, height, stored)?;
        let hashes: Vec<Hash> = result.tx_results.iter().map(|r| r.hash).collect();
        self.txs.remove(&hashes);
        info!(
            height,
            txs = hashes.len(),
            hash = %cert.value_id,
            state_root = %root,
            ms = started.elapsed().as_millis(),
            "applied block"
        );
        self.parent = Some(Parent {
            height,
            hash: cert.value_id,
            time: stored.block.block.time,
        });
        self.state_root = root;
        let next_set = self.chain.validator_set(height.saturating_add(1))?;
        self.sets.insert(height.saturating_add(1), next_set);
        // Keep the sets the next block needs: its own and its parent's.
        self.sets = self.sets.split_off(&height);
        self.last_commit = Some(commit);
        self.evidence.retain(|e| e.height.0 >= height);
        self.double_proposals.retain(|e| e.first.height.0 >= height);
        self.built.retain(|(h, _), _| *h > height);
        self.candidates.retain(|(h, _), _| *h > height);
        self.undecided.retain(|(h, _), _| *h > height);
        if let Some(hook) = self.on_commit.as_mut() {
            hook(&Committed {
                block: &stored,
                result: &result,
                state_root: root,
                chain: &self.chain,
                synced,
            });
        }
        Ok(())
    }
}

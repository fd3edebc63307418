//! The loop that answers each of Malachite's application messages
//! ([`AppMsg`]) by calling the proposer, stream, evidence and commit
//! parts.

use bytes::Bytes;
use malachitebft_app_channel::app::consensus::VoteExtensionError;
use malachitebft_app_channel::app::engine::host::{Next, SyncedValueOutcome};
use malachitebft_app_channel::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, Round, Validity,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{AppMsg, Channels};
use tracing::{debug, info, warn};

use crate::block::{BftBlock, block_hash};
use crate::chain::StoredBlock;
use crate::codec::WireCommit;
use crate::context::{AtollContext, Height};
use crate::error::BftError;

use super::stream::{MAX_SYNCED_PER_HEIGHT, height_window, parts_height};
use super::{Candidate, Host, TxSource};

impl<T: TxSource> Host<T> {
    /// Answers consensus until its channel closes (an error) or a fatal
    /// error occurs.
    pub async fn run(&mut self, channels: &mut Channels<AtollContext>) -> Result<(), BftError> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, channels).await?;
        }
        Err(BftError::ChannelClosed)
    }

    pub(super) async fn handle(
        &mut self,
        msg: AppMsg<AtollContext>,
        channels: &mut Channels<AtollContext>,
    ) -> Result<(), BftError> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let params = self.params(self.height)?;
                info!(height = self.height, "consensus ready");
                let _ = reply.send((Height(self.height), params));
            }
            AppMsg::StartedRound {
                height,
                round,
                proposer,
                role,
                reply_value,
            } => {
                debug!(%height, %round, %proposer, ?role, "started round");
                self.height = height.0;
                self.round = round;
                self.round_started = tokio::time::Instant::now();
                let pending = std::mem::take(&mut self.pending);
                for (peer, parts) in pending {
                    match parts_height(&parts) {
                        Some(h) if h == height.0 => {
                            let _ = self.accept_stream(parts);
                        }
                        Some(h) if h > height.0 => self.pending.push((peer, parts)),
                        _ => {}
                    }
                }
                let values = self
                    .undecided
                    .get(&(height.0, round.as_i64()))
                    .cloned()
                    .unwrap_or_default();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let hash = match self.built.get(&(height.0, round.as_i64())) {
                    Some(h) => *h,
                    None => self.propose(height.0, round, timeout).await?,
                };
                let _ = reply.send(LocallyProposedValue::new(height, round, hash));
                if let Some(c) = self.candidates.get(&(height.0, hash)) {
                    let parts = c.parts.clone();
                    self.publish(channels, height.0, round, parts).await?;
                }
                self.equivocate(channels, height.0, round, hash).await?;
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // Extensions are disabled (`VoteExtensionPolicy::Disabled`):
                // none is acceptable.
                let verdicts = extensions
                    .into_iter()
                    .map(|(address, _)| (address, Err(VoteExtensionError::InvalidVoteExtension)))
                    .collect();
                let _ = reply.send(verdicts);
            }
            AppMsg::RestreamProposal {
                height,
                round,
                value_id,
                ..
            } => {
                if let Some(c) = self.candidates.get(&(height.0, value_id)) {
                    let parts = c.parts.clone();
                    self.publish(channels, height.0, round, parts).await?;
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let min = self
                    .chain
                    .block_range()?
                    .map_or(self.initial_height, |(first, _)| first);
                let _ = reply.send(Height(min));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let value =
                    crate::blocking(|| self.receive_part(published_by.unwrap_or(from), part));
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate,
                extensions: _,
                reply,
            } => {
                crate::blocking(|| self.commit(&certificate))?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                extensions: _,
                evidence,
                reply,
            } => {
                if !evidence.is_empty() {
                    warn!(height = %certificate.height, ?evidence, "misbehaviour observed");
                    self.evidence = self.double_signs(&certificate, &evidence);
                    self.double_proposals = self.double_proposals_in(&certificate, &evidence);
                }
                if self.last_height() != Some(certificate.height.0) {
                    return Err(BftError::OutOfStep(format!(
                        "finalized {} but last applied is {:?}",
                        certificate.height,
                        self.last_height()
                    )));
                }
                let commit = WireCommit::from_certificate(&certificate);
                if self.last_commit.as_ref() != Some(&commit) {
                    self.chain.update_commit(certificate.height.0, &commit)?;
                }
                self.last_commit = Some(commit);
                let next = certificate.height.0.saturating_add(1);
                let params = self.params(next)?;
                let _ = reply.send(Next::Start(Height(next), params));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let (start, end) = (range.start().0, range.end().0);
                let mut values = Vec::new();
                for h in start..=end.max(start) {
                    match self.chain.block(h)? {
                        Some(b) => values.push(raw_decided(&b)?),
                        None => break,
                    }
                }
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                // Consensus checked the certificate before asking, but not yet
                // that these bytes are the certified value (it compares our
                // answer's hash next): kept in memory only (never stored),
                // for heights in the window, a few per height.
                let h = height.0;
                let in_window = height_window(h, self.height).kept();
                let outcome = match BftBlock::from_bytes(&value_bytes) {
                    Ok(b) if b.block.height == h && in_window => {
                        info!(%height, %round, "synced block received");
                        let hash = block_hash(&value_bytes);
                        if !self.candidates.contains_key(&(h, hash)) {
                            let synced = self
                                .candidates
                                .iter()
                                .filter(|((ch, _), c)| *ch == h && c.parts.is_empty())
                                .map(|(k, _)| *k)
                                .collect::<Vec<_>>();
                            if synced.len() >= MAX_SYNCED_PER_HEIGHT
                                && let Some(old) = synced.first()
                            {
                                self.candidates.remove(old);
                            }
                            self.candidates.insert(
                                (h, hash),
                                Candidate {
                                    bytes: value_bytes.to_vec(),
                                    parts: Vec::new(),
                                },
                            );
                        }
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value: hash,
                            validity: Validity::Valid,
                        })
                    }
                    _ => SyncedValueOutcome::PeerFault,
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }
}
pub(super) fn raw_decided(d: &StoredBlock) -> Result<RawDecidedValue<AtollContext>, BftError> {
    let cert = d.commit.to_certificate()?;
    Ok(RawDecidedValue::new(
        Bytes::from(d.bytes.clone()),
        ExtendedCommitCertificate {
            height: cert.height,
            round: cert.round,
            value_id: cert.value_id,
            commit_signatures: cert
                .commit_signatures
                .into_iter()
                .map(|s| ExtendedCommitSignature::new(s.address, s.signature, None))
                .collect(),
        },
    ))
}

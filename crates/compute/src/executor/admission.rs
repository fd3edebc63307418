//! Admission of transactions: the runtime checks them, the pool takes
//! those it accepts, and the node gossips them on. Also the per-runtime
//! extras the runtime's checks reported, and the verdict a gossiped batch
//! deserves from those checks ([`batch_verdict`]).

use std::collections::BTreeMap;

use atoll_crypto::Hash;
use atoll_runtime_host::abi::CheckOutcome;
use atoll_runtime_host::protocol::CheckBatchRequest;
use atoll_types::cbor;
use serde_bytes::ByteBuf;

use super::messages::{ComputeMessage, GossipVerdict, gossip_batches};
use super::worker::Inner;
use crate::txpool::PoolTx;

/// A transaction the runtime accepted (pooled now, or already pooled or
/// included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// Its hash.
    pub hash: Hash,
    /// The runtime's own data about it, as its check reported it (opaque
    /// here; for the EVM runtime the 20-byte Ethereum sender). See
    /// [`atoll_runtime_host::abi::CheckOutcome`].
    pub extra: Option<ByteBuf>,
}

/// Why a transaction was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The runtime refused it (bad signature, nonce, fee, unknown method…).
    #[error("{module} error {code}: {message}")]
    Invalid {
        /// Error module.
        module: String,
        /// Error code.
        code: u32,
        /// Message.
        message: String,
    },
    /// The pool refused it.
    #[error("txpool: {0}")]
    Pool(#[from] crate::txpool::PoolError),
    /// The runtime could not be asked (not started yet, crashed).
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
    /// Too many clients wait for transactions on this runtime.
    #[error(transparent)]
    TooManyWaiters(#[from] crate::client::TooManyWaiters),
}

impl SubmitError {
    /// (module, code) of the error, for APIs.
    pub fn code(&self) -> (String, u32) {
        match self {
            Self::Invalid { module, code, .. } => (module.clone(), *code),
            Self::Pool(e) => ("txpool".into(), e.code()),
            Self::Unavailable(_) => ("compute".into(), 1),
            Self::TooManyWaiters(_) => ("compute".into(), 2),
        }
    }
}

/// Most check extras remembered (each at most
/// [`atoll_runtime_host::abi::MAX_CHECK_EXTRA_LEN`] bytes).
const CHECK_EXTRAS: usize = 65_536;

/// The per-runtime extras reported by checks, oldest forgotten first.
#[derive(Default)]
pub(super) struct CheckExtras {
    pub(super) by_hash: BTreeMap<Hash, ByteBuf>,
    pub(super) order: std::collections::VecDeque<Hash>,
}

impl CheckExtras {
    pub(super) fn insert(&mut self, hash: Hash, extra: ByteBuf) {
        if self.by_hash.insert(hash, extra).is_none() {
            self.order.push_back(hash);
            while self.order.len() > CHECK_EXTRAS {
                if let Some(old) = self.order.pop_front() {
                    self.by_hash.remove(&old);
                }
            }
        }
    }
}

impl Inner {
    pub(super) async fn check(&self, raws: &[Vec<u8>]) -> Result<Vec<CheckOutcome>, SubmitError> {
        let out = self
            .host
            .check_batch(CheckBatchRequest {
                ctx: self.context_latest(),
                txs: raws.to_vec(),
            })
            .await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        if out.results.len() != raws.len() {
            return Err(SubmitError::Unavailable(format!(
                "the runtime checked {} of {} transactions",
                out.results.len(),
                raws.len()
            )));
        }
        out.results
            .into_iter()
            .map(|v| {
                CheckOutcome::from_value(v)
                    .map_err(|e| SubmitError::Unavailable(format!("bad check result: {e}")))
            })
            .collect()
    }

    pub(super) async fn admit(
        &self,
        raws: Vec<Vec<u8>>,
        gossip: bool,
    ) -> Result<Vec<Result<Admitted, SubmitError>>, SubmitError> {
        let verdicts = self.check(&raws).await?;
        let refused = verdicts
            .iter()
            .filter(|v| matches!(v, CheckOutcome::Failed { .. }))
            .count();
        self.cfg
            .metrics
            .checked(verdicts.len().saturating_sub(refused), refused);
        let mut out = Vec::with_capacity(raws.len());
        let mut admitted = Vec::new();
        {
            let mut pool = self.pool.lock();
            for (raw, v) in raws.into_iter().zip(verdicts) {
                match v {
                    CheckOutcome::Ok {
                        hash,
                        signer,
                        nonce,
                        priority,
                        gas,
                        extra,
                        ..
                    } => {
                        if let Some(e) = &extra {
                            self.check_extras.lock().insert(hash, e.clone());
                        }
                        let ok = Admitted { hash, extra };
                        if self.storage.tx_location(&hash).ok().flatten().is_some() {
                            out.push(Ok(ok));
                            continue;
                        }
                        let tx = PoolTx {
                            hash,
                            raw: raw.clone(),
                            sender: signer,
                            nonce,
                            priority,
                            gas,
                        };
                        match pool.insert(tx, 0) {
                            Ok(()) => {
                                admitted.push(ByteBuf::from(raw));
                                out.push(Ok(ok));
                            }
                            Err(crate::txpool::PoolError::Duplicate) => out.push(Ok(ok)),
                            Err(e) => out.push(Err(e.into())),
                        }
                    }
                    CheckOutcome::Failed {
                        module,
                        code,
                        message,
                    } => out.push(Err(SubmitError::Invalid {
                        module,
                        code,
                        message,
                    })),
                }
            }
            self.cfg.metrics.pool(pool.len());
        }
        if gossip {
            for txs in gossip_batches(admitted) {
                let msg = ComputeMessage::Txs {
                    runtime: self.cfg.runtime,
                    txs,
                };
                if let Ok(bytes) = cbor::to_vec(&msg) {
                    self.peers.publish(bytes);
                }
            }
        }
        Ok(out)
    }
}

/// `core` error codes of a transaction that no state can make valid
/// (undecodable, non-canonical, bad signature, unknown method, too many
/// signers, bad call format, oversized): whoever gossips one is at fault.
const PERMANENT_TX_ERRORS: [u32; 6] = [1, 2, 3, 15, 18, 23];

/// The verdict on a gossiped batch from the runtime's check of each
/// transaction: a transaction invalid whatever the state rejects the batch;
/// otherwise one the runtime accepted forwards it; otherwise (stale nonces,
/// fees, a full pool) it is ignored.
pub fn batch_verdict(outcomes: &[Result<Admitted, SubmitError>]) -> GossipVerdict {
    let permanent = outcomes.iter().any(|o| {
        matches!(o, Err(SubmitError::Invalid { module, code, .. })
            if module == "core" && PERMANENT_TX_ERRORS.contains(code))
    });
    if permanent {
        GossipVerdict::Reject
    } else if outcomes.iter().any(Result::is_ok) {
        GossipVerdict::Accept
    } else {
        GossipVerdict::Ignore
    }
}

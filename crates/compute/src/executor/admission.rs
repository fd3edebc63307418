//! Admission of transactions: the runtime checks them, the pool takes
//! those it accepts, and the node gossips them on. Also the Ethereum
//! senders the runtime's checks reported.

use std::collections::BTreeMap;

use atoll_crypto::secp256k1::EthAddress;
use atoll_crypto::{Address, Hash};
use atoll_runtime_host::protocol::CheckBatchRequest;
use atoll_types::cbor::{self};
use serde::Deserialize;
use serde_bytes::ByteBuf;

use super::messages::{ComputeMessage, gossip_batches};
use super::worker::Inner;
use crate::txpool::PoolTx;

/// A transaction the runtime accepted (pooled now, or already pooled or
/// included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// Its hash.
    pub hash: Hash,
    /// The caller's Ethereum address, as the runtime's check found it (for
    /// a caller signing with a `secp256k1eth` key).
    pub eth_address: Option<EthAddress>,
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

/// The runtime's answer to a check, as far as the pool cares. The runtime
/// answers one CBOR `{"ok": {hash, signer, nonce, priority, ..}}` or
/// `{"fail": {module, code, message}}` per transaction.
#[derive(Debug, Deserialize)]
pub(super) enum CheckVerdict {
    #[serde(rename = "ok")]
    Ok {
        hash: Hash,
        signer: Address,
        nonce: u64,
        priority: u64,
        #[serde(default)]
        gas: u64,
        #[serde(default)]
        eth_address: Option<EthAddress>,
    },
    #[serde(rename = "fail")]
    Failed {
        module: String,
        code: u32,
        message: String,
    },
}

/// Most Ethereum senders remembered from checks.
const ETH_SENDERS: usize = 65_536;

/// Ethereum senders reported by checks, oldest forgotten first.
#[derive(Default)]
pub(super) struct EthSenders {
    pub(super) by_hash: BTreeMap<Hash, EthAddress>,
    pub(super) order: std::collections::VecDeque<Hash>,
}

impl EthSenders {
    pub(super) fn insert(&mut self, hash: Hash, sender: EthAddress) {
        if self.by_hash.insert(hash, sender).is_none() {
            self.order.push_back(hash);
            while self.order.len() > ETH_SENDERS {
                if let Some(old) = self.order.pop_front() {
                    self.by_hash.remove(&old);
                }
            }
        }
    }
}

impl Inner {
    pub(super) async fn check(&self, raws: &[Vec<u8>]) -> Result<Vec<CheckVerdict>, SubmitError> {
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
                cbor::from_value::<CheckVerdict>(v)
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
        let mut out = Vec::with_capacity(raws.len());
        let mut admitted = Vec::new();
        {
            let mut pool = self.pool.lock();
            for (raw, v) in raws.into_iter().zip(verdicts) {
                match v {
                    CheckVerdict::Ok {
                        hash,
                        signer,
                        nonce,
                        priority,
                        gas,
                        eth_address,
                    } => {
                        let ok = Admitted { hash, eth_address };
                        if let Some(a) = eth_address {
                            self.eth_senders.lock().insert(hash, a);
                        }
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
                    CheckVerdict::Failed {
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

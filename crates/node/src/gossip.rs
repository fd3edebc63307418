//! Transaction gossip for the node: admitted transactions leave in batches.
//!
//! One gossip message is the canonical CBOR of an array of raw signed
//! transactions (`[bstr, ...]`), at most [`MAX_BATCH_BYTES`]. Transactions the
//! node admits (from its API or, re-published, nowhere: peers' batches are
//! forwarded by gossipsub itself) wait at most [`FLUSH_EVERY`] or until
//! [`FLUSH_AT`] of them are queued, then go out as one message: one gossipsub
//! message, id and validation per batch instead of per transaction.
//!
//! A peer's batch is judged whole: if any transaction in it is invalid
//! whatever the state, the batch is `Reject`ed (and not forwarded); if at
//! least one was new and admitted, `Accept` (forwarded); otherwise `Ignore`.

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use atoll_types::cbor;
use serde_bytes::ByteBuf;
use tokio::sync::Notify;

use crate::service::{Broadcast, NodeService, PeerTx};

/// Most bytes of transactions in one gossip message.
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// A batch leaves when this many transactions are queued...
pub const FLUSH_AT: usize = 512;
/// ...or this long after the first was queued.
pub const FLUSH_EVERY: Duration = Duration::from_millis(5);
/// Transactions queued for gossip at most (beyond, the oldest are dropped:
/// the mempool still holds them).
const MAX_QUEUED: usize = 100_000;

/// The largest gossip message a node accepts: one full batch and its framing.
pub fn max_message_bytes() -> usize {
    MAX_BATCH_BYTES + 64 * 1024
}

/// Decodes a peer's batch and admits each transaction through `service`.
pub fn judge_batch(service: &NodeService, message: &[u8]) -> atoll_p2p::Verdict {
    let Ok(txs) = cbor::from_slice::<Vec<ByteBuf>>(message) else {
        return atoll_p2p::Verdict::Reject;
    };
    if txs.is_empty() {
        return atoll_p2p::Verdict::Reject;
    }
    let mut admitted = false;
    for verdict in service.admit_from_peer(&txs) {
        match verdict {
            PeerTx::Admitted => admitted = true,
            PeerTx::Invalid => return atoll_p2p::Verdict::Reject,
            PeerTx::NotNow => {}
        }
    }
    if admitted {
        atoll_p2p::Verdict::Accept
    } else {
        atoll_p2p::Verdict::Ignore
    }
}

/// Queues admitted transactions and publishes them in batches.
pub struct Batcher {
    queue: Mutex<Vec<Vec<u8>>>,
    notify: Notify,
    gossip: tokio::sync::Mutex<Option<atoll_p2p::Gossip>>,
}

impl Batcher {
    /// A batcher publishing on `gossip`, with its flush task started.
    pub fn start(gossip: atoll_p2p::Gossip) -> Arc<Self> {
        let me = Arc::new(Self {
            queue: Mutex::new(Vec::new()),
            notify: Notify::new(),
            gossip: tokio::sync::Mutex::new(Some(gossip)),
        });
        let worker = Arc::downgrade(&me);
        tokio::spawn(async move {
            loop {
                let Some(me) = worker.upgrade() else {
                    return;
                };
                tokio::select! {
                    () = me.notify.notified() => {}
                    () = tokio::time::sleep(FLUSH_EVERY) => {}
                }
                if !me.flush().await {
                    return;
                }
            }
        });
        me
    }

    /// Publishes what is queued; `false` once the gossip is closed.
    async fn flush(&self) -> bool {
        let txs = std::mem::take(&mut *self.queue.lock());
        if txs.is_empty() {
            return true;
        }
        let gossip = self.gossip.lock().await;
        let Some(g) = gossip.as_ref() else {
            return false;
        };
        let mut batch: Vec<ByteBuf> = Vec::new();
        let mut bytes = 0;
        let mut batches = Vec::new();
        for raw in txs {
            if bytes + raw.len() > MAX_BATCH_BYTES && !batch.is_empty() {
                batches.push(std::mem::take(&mut batch));
                bytes = 0;
            }
            bytes += raw.len();
            batch.push(ByteBuf::from(raw));
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        for batch in batches {
            let Ok(message) = cbor::to_vec(&batch) else {
                continue;
            };
            // The swarm's queue is bounded: wait for room briefly rather
            // than drop a batch.
            let mut attempts = 0;
            loop {
                match g.publish(message.clone()) {
                    Err(atoll_p2p::P2pError::QueueFull) if attempts < 200 => {
                        attempts += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, txs = batch.len(), "batch not gossiped");
                        break;
                    }
                    Ok(()) => break,
                }
            }
        }
        true
    }

    /// Stops publishing and shuts the gossip down.
    pub async fn close(&self) {
        let gossip = self.gossip.lock().await.take();
        if let Some(g) = gossip {
            g.shutdown().await;
        }
    }
}

impl Broadcast for Batcher {
    fn publish(&self, raw: Vec<u8>) {
        let mut q = self.queue.lock();
        if q.len() >= MAX_QUEUED {
            q.remove(0);
        }
        q.push(raw);
        if q.len() >= FLUSH_AT {
            self.notify.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use atoll_bft::chain::Chain;
    use atoll_consensus::app::App;
    use atoll_consensus::genesis::Genesis;
    use atoll_consensus_types::staking::{Transfer, methods};
    use atoll_crypto::Address;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_mempool::{Limits, Mempool};
    use atoll_p2p::Verdict;
    use atoll_types::Quantity;
    use atoll_types::signed::Signed;
    use atoll_types::transaction::{Fee, Transaction};

    fn key(i: u8) -> SigningKey {
        SigningKey::from_seed(&[i; 32])
    }

    fn service(dir: &std::path::Path) -> Arc<NodeService> {
        let mut g = Genesis {
            chain_id: "atoll-node-gossip".into(),
            initial_height: 1,
            debug: true,
            ..Genesis::default()
        };
        g.fund(Address::from_ed25519(&key(9).public_key()), Quantity(1_000));
        let app = App::new(&g).unwrap();
        let chain = Chain::open(dir, &app, &g).unwrap();
        NodeService::new(
            app,
            g.chain_id.clone(),
            chain,
            Mempool::new(Limits::default()),
            "gossip-test",
        )
    }

    fn transfer(service: &NodeService, signer: &SigningKey, nonce: u64) -> Vec<u8> {
        let tx = Transaction::call(
            nonce,
            Fee::new(Quantity(0), 10_000),
            methods::TRANSFER,
            &Transfer {
                to: Address::from_ed25519(&key(1).public_key()),
                amount: Quantity(1),
            },
        )
        .unwrap();
        cbor::to_vec(&Signed::sign(signer, service.app().tx_context(), &tx).unwrap()).unwrap()
    }

    fn batch(txs: &[Vec<u8>]) -> Vec<u8> {
        let txs: Vec<ByteBuf> = txs.iter().cloned().map(ByteBuf::from).collect();
        cbor::to_vec(&txs).unwrap()
    }

    /// What a peer sends decides whether it is penalised: the gossip layer
    /// turns `Reject` into a peer-score penalty (atoll-p2p's tests show the
    /// sender graylisted after a few).
    #[test]
    fn peers_sending_invalid_transactions_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let service = service(dir.path());
        // Not a batch at all, or an empty one.
        assert_eq!(judge_batch(&service, b"garbage"), Verdict::Reject);
        assert_eq!(judge_batch(&service, &batch(&[])), Verdict::Reject);
        // Undecodable transactions.
        assert_eq!(
            judge_batch(&service, &batch(&[b"not a tx".to_vec()])),
            Verdict::Reject
        );
        // A forged signature: the body changed after signing.
        let mut forged = transfer(&service, &key(9), 0);
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(
            judge_batch(&service, &batch(std::slice::from_ref(&forged))),
            Verdict::Reject
        );
        // Valid: admitted and forwarded; the same again is news to no one.
        let good = transfer(&service, &key(9), 0);
        assert_eq!(
            judge_batch(&service, &batch(std::slice::from_ref(&good))),
            Verdict::Accept
        );
        assert_eq!(
            judge_batch(&service, &batch(std::slice::from_ref(&good))),
            Verdict::Ignore
        );
        // One bad transaction spoils a batch of good ones.
        assert_eq!(
            judge_batch(&service, &batch(&[good, forged])),
            Verdict::Reject
        );
        // An unfunded sender is not the peer's fault (it may know more).
        let poor = transfer(&service, &key(8), 0);
        assert_ne!(judge_batch(&service, &batch(&[poor])), Verdict::Reject);
    }
}

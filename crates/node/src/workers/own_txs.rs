//! The node's own consensus transactions: executor commitments, VRF proofs
//! and registrations, all signed by the node's identity key and paid from
//! the node's own account (as in Oasis: an operator keeps its nodes'
//! accounts funded). One sequence of nonces for all of them, so the
//! compute workers and the epoch workers never collide.

use std::sync::Arc;

use parking_lot::Mutex;

use atoll_compute::ports::ConsensusPort;
use atoll_consensus::app::GasTable;
use atoll_consensus::services::staking::state::StakingState;
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::{Address, Hash};
use atoll_rpc::NodeApi as _;
use atoll_types::cbor::{self, Value as Cbor};
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, signed::Signed};

use crate::service::NodeService;

/// Room for the transaction's envelope (nonce, fee, method name, signature)
/// around its body, in bytes, when pricing the bytes it takes.
const ENVELOPE_BYTES: u64 = 512;

/// Gas when the gas table cannot be read (the state is being replaced).
const FALLBACK_METHOD_GAS: u64 = 20_000;

/// Signs and submits the node's own consensus transactions, keeping track
/// of its nonce across transactions still in the mempool.
pub struct OwnTxs {
    service: Arc<NodeService>,
    key: SigningKey,
    min_gas_price: Quantity,
    gas_per_byte: u64,
    state: Mutex<NonceState>,
}

#[derive(Default)]
struct NonceState {
    next: u64,
    /// Own transactions still in the mempool: hash and bytes.
    pending: Vec<(Hash, Vec<u8>)>,
    /// The account nonce last seen, and since when.
    seen: Option<(u64, std::time::Instant)>,
}

/// How long the node's own pending transactions may make no progress
/// before they are gossiped again.
const REBROADCAST_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

impl OwnTxs {
    /// The submitter of `key`'s transactions through `service`'s mempool,
    /// priced at `min_gas_price` per gas and `gas_per_byte` gas per byte.
    /// It gossips stuck transactions again until the returned handle and
    /// every clone of it are dropped.
    pub fn start(
        service: Arc<NodeService>,
        key: SigningKey,
        min_gas_price: Quantity,
        gas_per_byte: u64,
    ) -> Arc<Self> {
        let port = Arc::new(Self {
            service,
            key,
            min_gas_price,
            gas_per_byte,
            state: Mutex::new(NonceState::default()),
        });
        Self::keep_rebroadcasting(&port);
        port
    }

    fn account_nonce(&self) -> u64 {
        let Ok(mut view) = self.service.chain().latest_view() else {
            return 0;
        };
        StakingState::new(&mut view)
            .account(&Address::from_ed25519(&self.key.public_key()))
            .map(|a| a.general.nonce)
            .unwrap_or(0)
    }

    /// Whether one of this node's transactions is still in the mempool.
    pub fn in_mempool(&self, hash: &Hash) -> bool {
        self.service.in_mempool(hash)
    }

    /// Own transactions reach validators only by gossip: if the chain's
    /// nonce has not moved for [`REBROADCAST_AFTER`] while some of ours wait
    /// in the mempool, gossips them again (their first gossip may have found
    /// no peer, as when the node has just started). Returns the chain's
    /// nonce.
    fn rebroadcast_stale(&self, st: &mut NonceState) -> u64 {
        let on_chain = self.account_nonce();
        st.pending.retain(|(h, _)| self.service.in_mempool(h));
        match st.seen {
            Some((n, since)) if n == on_chain => {
                if !st.pending.is_empty() && since.elapsed() >= REBROADCAST_AFTER {
                    for (_, raw) in &st.pending {
                        self.service.rebroadcast(raw.clone());
                    }
                    st.seen = Some((on_chain, std::time::Instant::now()));
                }
            }
            _ => st.seen = Some((on_chain, std::time::Instant::now())),
        }
        on_chain
    }

    /// Runs [`OwnTxs::rebroadcast_stale`] every half [`REBROADCAST_AFTER`],
    /// not only when the node submits again: a worker whose commitment was
    /// lost submits nothing more until its round ends, which it would not
    /// without the commitment.
    fn keep_rebroadcasting(port: &Arc<Self>) {
        let port = Arc::downgrade(port);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REBROADCAST_AFTER / 2);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(port) = port.upgrade() else { return };
                port.rebroadcast_stale(&mut port.state.lock());
            }
        });
    }

    /// The gas a transaction with a body of `body_len` bytes is given: the
    /// method's price in the current gas table plus the bytes it takes.
    fn gas(&self, method: &str, body_len: u64) -> u64 {
        let method_gas = self
            .service
            .chain()
            .latest_view()
            .ok()
            .and_then(|mut view| GasTable::load(&mut view).ok())
            .and_then(|t| t.method_gas(method))
            .unwrap_or(FALLBACK_METHOD_GAS);
        method_gas.saturating_add(
            body_len
                .saturating_add(ENVELOPE_BYTES)
                .saturating_mul(self.gas_per_byte),
        )
    }

    fn sign(&self, nonce: u64, method: &str, body: &Cbor) -> Result<Vec<u8>, String> {
        let len = cbor::to_vec(body).map_err(|e| e.to_string())?.len() as u64;
        let gas = self.gas(method, len);
        let tx = Transaction {
            nonce,
            fee: Some(Fee {
                amount: Quantity(self.min_gas_price.0.saturating_mul(u128::from(gas))),
                gas,
            }),
            method: method.to_string(),
            body: Some(body.clone()),
        };
        let signed = Signed::sign(&self.key, self.service.app().tx_context(), &tx)
            .map_err(|e| e.to_string())?;
        cbor::to_vec(&signed).map_err(|e| e.to_string())
    }

    /// Signs `method(body)` with the next nonce and admits it to the
    /// mempool (which gossips it). Returns its hash; an error is the
    /// mempool's refusal (e.g. the node's account cannot pay the fee).
    pub fn submit_tx(&self, method: &str, body: Cbor) -> Result<Hash, String> {
        let mut st = self.state.lock();
        let on_chain = self.rebroadcast_stale(&mut st);
        // Nothing of ours waits in the pool: the chain's nonce is the truth
        // (a transaction may have been dropped).
        if st.pending.is_empty() || st.next < on_chain {
            st.next = on_chain;
        }
        let mut last_err = String::new();
        for attempt in 0..2 {
            let raw = self.sign(st.next, method, &body)?;
            match self.service.submit_tx(raw.clone()) {
                Ok(hash) => {
                    st.pending.push((hash, raw));
                    st.next += 1;
                    return Ok(hash);
                }
                Err(e) => {
                    last_err = e.to_string();
                    if attempt == 0 {
                        st.next = on_chain;
                        st.pending.clear();
                    }
                }
            }
        }
        Err(last_err)
    }
}

impl ConsensusPort for OwnTxs {
    fn submit(&self, method: &str, body: Cbor) -> Result<(), String> {
        self.submit_tx(method, body).map(|_| ())
    }
}

//! Ethereum transactions as the gateway sees them: decoded from their raw
//! bytes (by `atoll_evm::tx`, the runtime's own decoder), with the sender
//! recovered.

use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeMap, VecDeque};

use crate::types::{AccessListItem, H160, H256, U256};

/// Transactions the gateway decoded on submission, by hash, so that the
/// indexer need not recover their senders again when they come back in a
/// block. At most `cap`: past that the oldest are forgotten (and decoded
/// again if they come). A decoded transaction is a function of its bytes
/// alone, named by their Keccak-256, so what this holds changes no answer.
#[derive(Debug)]
pub struct RecentTxs {
    inner: Mutex<(BTreeMap<H256, DecodedTx>, VecDeque<H256>)>,
    cap: usize,
}

impl RecentTxs {
    /// An empty cache holding at most `cap` transactions.
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Mutex::new((BTreeMap::new(), VecDeque::new())),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, (BTreeMap<H256, DecodedTx>, VecDeque<H256>)> {
        self.inner.lock()
    }

    /// Remembers `tx` (decoded from the bytes whose Keccak-256 is
    /// `tx.hash`).
    pub fn insert(&self, tx: DecodedTx) {
        let mut g = self.lock();
        let (map, order) = &mut *g;
        let hash = tx.hash;
        if map.insert(hash, tx).is_none() {
            order.push_back(hash);
            while order.len() > self.cap {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    /// The transaction decoded from `raw`: the remembered one (forgotten
    /// then), or `decode(raw)`.
    pub fn decode(
        &self,
        raw: &[u8],
        decode: impl Fn(&[u8]) -> Result<DecodedTx, String>,
    ) -> Result<DecodedTx, String> {
        let hash = H256::new(atoll_crypto::keccak256(raw));
        let found = self.lock().0.remove(&hash);
        found.map_or_else(|| decode(raw), Ok)
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.lock().0.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoded, signature-checked Ethereum transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedTx {
    /// Keccak-256 of the raw bytes.
    pub hash: H256,
    /// 0 legacy, 1 EIP-2930, 2 EIP-1559.
    pub tx_type: u8,
    /// The chain id it signs (`None`: pre-EIP-155).
    pub chain_id: Option<u64>,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas: u64,
    /// Legacy and EIP-2930 gas price.
    pub gas_price: Option<u128>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<u128>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<u128>,
    /// Callee (`None`: creation).
    pub to: Option<H160>,
    /// Value.
    pub value: U256,
    /// Data.
    pub input: Vec<u8>,
    /// Access list.
    pub access_list: Vec<AccessListItem>,
    /// Signature `v` as it appears in the JSON (legacy: 27/28 or EIP-155;
    /// typed: the y parity).
    pub v: u64,
    /// Signature `r`.
    pub r: U256,
    /// Signature `s`.
    pub s: U256,
    /// The recovered sender.
    pub from: H160,
}

impl DecodedTx {
    /// The most it may pay per gas.
    pub fn fee_cap(&self) -> u128 {
        self.max_fee_per_gas.or(self.gas_price).unwrap_or(0)
    }

    /// What it pays per gas at `base_fee`: the gas price, or for EIP-1559
    /// `min(maxFee, baseFee + maxPriorityFee)`.
    pub fn effective_gas_price(&self, base_fee: u128) -> u128 {
        match self.max_fee_per_gas {
            Some(cap) => {
                cap.min(base_fee.saturating_add(self.max_priority_fee_per_gas.unwrap_or(0)))
            }
            None => self.gas_price.unwrap_or(0),
        }
    }
}

/// The address a creation by `sender` at `nonce` deploys to (the
/// runtime's rule, [`atoll_evm::tx::create_address`]).
pub fn create_address(sender: &H160, nonce: u64) -> H160 {
    let deployed = atoll_evm::tx::create_address(
        &atoll_crypto::secp256k1::EthAddress(sender.0.into_array()),
        nonce,
    );
    H160::new(deployed.0)
}

/// `v` saturated to `u128` (fees and prices).
pub(crate) fn small(v: &atoll_evm::tx::U256) -> u128 {
    u128::try_from(*v).unwrap_or(u128::MAX)
}

/// Why a raw transaction is refused, in geth's words.
pub fn decode_error(e: &atoll_evm::tx::TxError) -> String {
    use atoll_evm::tx::TxError as E;
    match e {
        E::InvalidV(_) | E::InvalidSignature | E::HighS | E::RecoveryFailed => {
            format!("invalid sender: {e}")
        }
        E::BlobTxUnsupported | E::SetCodeTxUnsupported | E::UnknownType(_) => {
            format!("transaction type not supported: {e}")
        }
        E::TipAboveFeeCap => "max priority fee per gas higher than max fee per gas".into(),
        other => format!("invalid transaction: {other}"),
    }
}

/// Decodes a raw Ethereum transaction and recovers its sender (with the
/// runtime's own decoder, `atoll_evm::tx`).
pub fn decode(raw: &[u8]) -> Result<DecodedTx, String> {
    let tx = decode_unrecovered(raw)?;
    let from = recover_sender(&tx)?;
    Ok(with_sender(tx, from))
}

/// Decodes a raw Ethereum transaction and checks its signature values
/// without recovering the sender (the runtime's check recovers it).
pub fn decode_unrecovered(raw: &[u8]) -> Result<atoll_evm::tx::Unrecovered, String> {
    atoll_evm::tx::decode_unrecovered(raw).map_err(|e| decode_error(&e))
}

/// Recovers the sender of `tx`.
pub fn recover_sender(tx: &atoll_evm::tx::Unrecovered) -> Result<H160, String> {
    let key = tx.recover_key().map_err(|e| decode_error(&e))?;
    Ok(H160::new(key.to_eth_address().0))
}

/// `tx` as the gateway shows it, sent by `from` (recovered from it).
pub fn with_sender(tx: atoll_evm::tx::Unrecovered, from: H160) -> DecodedTx {
    let tx = tx.into_fields();
    DecodedTx {
        hash: H256::new(tx.hash),
        tx_type: tx.tx_type,
        chain_id: tx.chain_id,
        nonce: tx.nonce,
        gas: tx.gas_limit,
        gas_price: tx.gas_price.as_ref().map(small),
        max_fee_per_gas: tx.max_fee_per_gas.as_ref().map(small),
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas.as_ref().map(small),
        to: tx.to.map(|a| H160::new(a.0)),
        value: U256(tx.value),
        input: tx.input,
        access_list: tx
            .access_list
            .iter()
            .map(|i| AccessListItem {
                address: H160::new(i.address.0),
                storage_keys: i.storage_keys.iter().map(|k| H256::new(*k)).collect(),
            })
            .collect(),
        v: tx.v,
        r: U256(tx.r),
        s: U256(tx.s),
        from,
    }
}

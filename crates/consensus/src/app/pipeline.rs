//! The transaction pipeline: strict decoding (cached by the exact bytes),
//! signature checks (batched, cached once verified), the checks that need
//! no state (known method, gas, fee price), then nonce and fee against the
//! signer's account, and the method's run in an overlay.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use atoll_crypto::ed25519::BatchVerifier;
use atoll_crypto::{Address, Hash};
use atoll_types::Quantity;
use atoll_types::cbor;
use atoll_types::transaction::{SignedTransaction, Transaction};

use super::methods::{Call, GasTable, dispatch};
use super::{
    App, Block, CONSENSUS_PARAMETERS, CheckedTx, ConsensusError, NonceCheck, TxParams, TxResult,
    fatal_as_tx, into_fatal,
};
use crate::genesis::ConsensusParameters;
use crate::services::roothash::BlockInfo;
use crate::services::staking::{self, Staking};
use atoll_state::{Failure, FatalError, ModuleError, Overlay, Store, StoreExt, TxError};

/// A transaction decoded strictly, with what every check derives from its
/// bytes: computed once per node however often it is checked.
#[derive(Debug)]
pub(super) struct DecodedTx {
    /// Hash of the exact bytes.
    hash: Hash,
    /// The signer's account.
    signer: Address,
    signed: SignedTransaction,
    tx: Transaction,
}

/// A transaction decoded strictly, or why it could not be.
pub(super) type Decoded = Result<Arc<DecodedTx>, ConsensusError>;

/// Transactions recently decoded, keyed by their exact bytes, oldest evicted
/// first: a transaction is decoded on admission, again when a proposal
/// holding it is checked, when its block is applied and when the pool
/// rechecks it. Decoding is a pure function of the bytes, so a hit gives
/// what decoding would; keying by the bytes (under the map's own keyed
/// hasher) finds a hit without computing the transaction's SHA-512/256 hash,
/// which the entry carries. Nothing iterates the map, so its order never
/// reaches an output.
#[derive(Debug, Default)]
pub(super) struct DecodedCache {
    map: HashMap<Arc<[u8]>, Arc<DecodedTx>>,
    order: VecDeque<Arc<[u8]>>,
}

/// Most decoded transactions remembered.
const DECODED_CACHE: usize = 65_536;

/// What every transaction of one block shares.
pub(super) struct BlockEnv<'a> {
    pub(super) params: &'a ConsensusParameters,
    pub(super) gas_table: &'a GasTable,
    pub(super) info: BlockInfo,
    pub(super) debug: bool,
    /// Gas the block has left, when it has a limit.
    pub(super) gas_left: Option<u64>,
}

/// The checks that need no account state: known method, enough gas, fee
/// price. Returns the fee and the gas charged.
fn admission(
    params: &ConsensusParameters,
    gas: &GasTable,
    tx: &Transaction,
    size: u64,
) -> Result<(Quantity, u64), ConsensusError> {
    let method_cost = gas
        .method_gas(&tx.method)
        .ok_or_else(|| ConsensusError::UnknownMethod(tx.method.clone()))?;
    let needed = params
        .gas_per_tx_byte
        .saturating_mul(size)
        .saturating_add(method_cost);
    let (offered_gas, fee) = tx
        .fee
        .as_ref()
        .map_or((0, Quantity(0)), |f| (f.gas, f.amount));
    if offered_gas < needed {
        return Err(ConsensusError::OutOfGas {
            needed,
            offered: offered_gas,
        });
    }
    let minimum = params
        .min_gas_price
        .0
        .checked_mul(u128::from(offered_gas))
        .map(Quantity)
        .ok_or(ConsensusError::FeeTooLow {
            offered: fee,
            minimum: Quantity(u128::MAX),
        })?;
    if fee < minimum {
        return Err(ConsensusError::FeeTooLow {
            offered: fee,
            minimum,
        });
    }
    Ok((fee, needed))
}

/// A read-only view used where staking's accessors want a mutable store
/// but only read (mempool checks). Writes are refused as an invariant break.
pub(super) struct ReadOnly<'a>(&'a dyn Store);

impl Store for ReadOnly<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, FatalError> {
        self.0.get(key)
    }

    fn insert(&mut self, _key: &[u8], _value: Vec<u8>) -> Result<(), FatalError> {
        Err(FatalError::Invariant("write to a read-only view".into()))
    }

    fn remove(&mut self, _key: &[u8]) -> Result<(), FatalError> {
        Err(FatalError::Invariant("write to a read-only view".into()))
    }

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<atoll_state::Entries, FatalError> {
        self.0.range(start, end)
    }
}

impl App {
    /// Checks a transaction against the current state without changing it:
    /// what a mempool does before admitting it, and what a proposer does
    /// before including it.
    pub fn check_tx(
        &self,
        store: &dyn Store,
        raw: &[u8],
        nonce_check: NonceCheck,
    ) -> Result<CheckedTx, TxError> {
        let params = self.tx_params(store)?;
        self.check_tx_with(store, raw, nonce_check, &params)
    }

    /// The parameters [`App::check_tx_with`] needs, read from `store`.
    pub fn tx_params(&self, store: &dyn Store) -> Result<TxParams, TxError> {
        let params: ConsensusParameters = store
            .get_typed(&[CONSENSUS_PARAMETERS])
            .map_err(fatal_as_tx)?
            .ok_or_else(|| {
                fatal_as_tx(FatalError::Invariant("consensus parameters missing".into()))
            })?;
        let gas_table = GasTable::load(&mut ReadOnly(store)).map_err(fatal_as_tx)?;
        Ok(TxParams { params, gas_table })
    }

    /// [`App::check_tx`] with the parameters already read from the same
    /// `store` (a proposer or a mempool checking many transactions).
    pub fn check_tx_with(
        &self,
        store: &dyn Store,
        raw: &[u8],
        nonce_check: NonceCheck,
        tx_params: &TxParams,
    ) -> Result<CheckedTx, TxError> {
        let params = &tx_params.params;
        let d = self.decode(raw, params).map_err(|e| e.to_tx_error())?;
        let (hash, signer, signed, tx) = (d.hash, d.signer, &d.signed, &d.tx);
        if !self.was_verified(&hash) {
            signed
                .signature
                .public_key
                .verify(
                    &self.tx_context,
                    &signed.untrusted_raw_value,
                    &signed.signature.signature,
                )
                .map_err(|_| ConsensusError::InvalidSignature.to_tx_error())?;
            self.mark_verified(&[hash]);
        }
        let (fee, gas) = admission(params, &tx_params.gas_table, tx, raw.len() as u64)
            .map_err(|e| e.to_tx_error())?;
        let acct = staking::state::StakingState::new(&mut ReadOnly(store))
            .account(&signer)
            .map_err(fatal_as_tx)?;
        let nonce_ok = match nonce_check {
            NonceCheck::Exact => tx.nonce == acct.general.nonce,
            NonceCheck::AtLeast => tx.nonce >= acct.general.nonce,
        };
        if !nonce_ok {
            return Err(ConsensusError::InvalidNonce {
                expected: acct.general.nonce,
                got: tx.nonce,
            }
            .to_tx_error());
        }
        if acct.general.balance < fee {
            return Err(ConsensusError::InsufficientFeeBalance(fee).to_tx_error());
        }
        Ok(CheckedTx {
            hash,
            signer,
            nonce: tx.nonce,
            fee,
            gas,
            size: raw.len() as u64,
            account_nonce: acct.general.nonce,
        })
    }

    /// The nonce and general balance of `who`'s account in `store`: what
    /// decides, once a transaction is otherwise valid, whether it can still
    /// run (a pool rechecking a sender's queue after a block).
    pub fn account_nonce_and_balance(
        &self,
        store: &dyn Store,
        who: &Address,
    ) -> Result<(u64, Quantity), TxError> {
        let acct = staking::state::StakingState::new(&mut ReadOnly(store))
            .account(who)
            .map_err(fatal_as_tx)?;
        Ok((acct.general.nonce, acct.general.balance))
    }

    /// Verifies the signatures of many transactions in one Ed25519 batch
    /// and remembers them as verified when the whole batch holds (see
    /// [`App`]); otherwise nothing is remembered and each is verified alone
    /// when checked. Saves time only: outcomes are the same either way.
    pub fn preverify(&self, txs: &[&[u8]], tx_params: &TxParams) {
        let mut batch = BatchVerifier::with_capacity(txs.len());
        let mut fresh = Vec::with_capacity(txs.len());
        for raw in txs {
            let Ok(d) = self.decode(raw, &tx_params.params) else {
                continue;
            };
            if self.was_verified(&d.hash) {
                continue;
            }
            batch.queue(
                &d.signed.signature.public_key,
                &self.tx_context,
                &d.signed.untrusted_raw_value,
                &d.signed.signature.signature,
            );
            fresh.push(d.hash);
        }
        if !fresh.is_empty() && batch.verify().is_ok() {
            self.mark_verified(&fresh);
        }
    }

    fn was_verified(&self, hash: &Hash) -> bool {
        self.verified.lock().contains(hash)
    }

    fn mark_verified(&self, hashes: &[Hash]) {
        let mut c = self.verified.lock();
        for h in hashes {
            c.insert(*h);
        }
    }

    fn decode(&self, raw: &[u8], params: &ConsensusParameters) -> Decoded {
        let size = raw.len() as u64;
        if size > params.max_tx_size {
            return Err(ConsensusError::Oversized {
                size,
                max: params.max_tx_size,
            });
        }
        if let Some(hit) = self.decoded.lock().map.get(raw) {
            return Ok(hit.clone());
        }
        // oasis-core's rules for what clients send, no stricter: the
        // signature covers the body's bytes as received, so any encoding
        // oasis-node reads (fields at their default present or absent,
        // unknown fields ignored, longer heads, any key order) is read here
        // with the same meaning; duplicate keys, indefinite lengths, tags and
        // trailing bytes are refused as there.
        let signed = SignedTransaction::from_relaxed_slice(raw)
            .map_err(|e| ConsensusError::MalformedTransaction(e.to_string()))?;
        let tx: Transaction = cbor::from_slice_relaxed(&signed.untrusted_raw_value)
            .map_err(|e| ConsensusError::MalformedTransaction(e.to_string()))?;
        let decoded = Arc::new(DecodedTx {
            hash: Hash::digest(raw),
            signer: Address::from_ed25519(&signed.signature.public_key),
            signed,
            tx,
        });
        let mut cache = self.decoded.lock();
        let key: Arc<[u8]> = Arc::from(raw);
        if cache.map.insert(key.clone(), decoded.clone()).is_none() {
            cache.order.push_back(key);
            while cache.order.len() > DECODED_CACHE {
                if let Some(old) = cache.order.pop_front() {
                    cache.map.remove(&old);
                }
            }
        }
        Ok(decoded)
    }

    /// The hash of a transaction's bytes (taken from the decoding cache when
    /// the node has seen the transaction, computed otherwise).
    pub fn tx_hash(&self, raw: &[u8]) -> Hash {
        if let Some(hit) = self.decoded.lock().map.get(raw) {
            return hit.hash;
        }
        Hash::digest(raw)
    }

    /// Whether each transaction's signature verifies: those not already
    /// verified (see [`App`]) in one batch for the block, and single checks
    /// only if the batch fails.
    pub(super) fn verify_signatures(
        &self,
        block: &Block,
        params: &ConsensusParameters,
    ) -> Vec<(Decoded, bool)> {
        let decoded: Vec<Decoded> = block
            .txs
            .iter()
            .map(|raw| self.decode(raw, params))
            .collect();
        let known: Vec<bool> = decoded
            .iter()
            .map(|d| d.as_ref().is_ok_and(|d| self.was_verified(&d.hash)))
            .collect();
        let mut batch = BatchVerifier::with_capacity(decoded.len());
        let mut fresh = Vec::new();
        for (d, k) in decoded.iter().zip(&known) {
            if let (Ok(d), false) = (d, k) {
                let s = &d.signed;
                batch.queue(
                    &s.signature.public_key,
                    &self.tx_context,
                    &s.untrusted_raw_value,
                    &s.signature.signature,
                );
                fresh.push(d.hash);
            }
        }
        if fresh.is_empty() || batch.verify().is_ok() {
            self.mark_verified(&fresh);
            return decoded
                .into_iter()
                .map(|d| {
                    let ok = d.is_ok();
                    (d, ok)
                })
                .collect();
        }
        decoded
            .into_iter()
            .zip(known)
            .map(|(d, known)| {
                let ok = d.as_ref().is_ok_and(|d| {
                    let s = &d.signed;
                    known
                        || s.signature
                            .public_key
                            .verify(
                                &self.tx_context,
                                &s.untrusted_raw_value,
                                &s.signature.signature,
                            )
                            .is_ok()
                });
                if ok
                    && !known
                    && let Ok(d) = &d
                {
                    self.mark_verified(&[d.hash]);
                }
                (d, ok)
            })
            .collect()
    }

    /// Runs one transaction whose signature check came out `sig_ok`.
    pub(super) fn deliver_tx(
        &self,
        store: &mut dyn Store,
        raw: &[u8],
        decoded: Decoded,
        sig_ok: bool,
        env: &mut BlockEnv<'_>,
    ) -> Result<TxResult, FatalError> {
        let BlockEnv {
            params,
            gas_table,
            info,
            debug,
            gas_left,
        } = env;
        let (info, debug) = (*info, *debug);
        let hash = match &decoded {
            Ok(d) => d.hash,
            Err(_) => Hash::digest(raw),
        };
        let refused = |e: ConsensusError| TxResult {
            hash,
            error: Some(e.to_tx_error()),
            gas_used: 0,
            events: Vec::new(),
        };
        let d = match decoded {
            Ok(d) => d,
            Err(e) => return Ok(refused(e)),
        };
        if !sig_ok {
            return Ok(refused(ConsensusError::InvalidSignature));
        }
        let (signer, signed, tx) = (d.signer, &d.signed, &d.tx);
        let (fee, gas) = match admission(params, gas_table, tx, raw.len() as u64) {
            Ok(fg) => fg,
            Err(e) => return Ok(refused(e)),
        };
        if let Some(left) = gas_left.as_mut() {
            match left.checked_sub(gas) {
                Some(rest) => *left = rest,
                None => return Ok(refused(ConsensusError::BlockGasExhausted)),
            }
        }

        // Authenticate and pay: nonce and fee, outside the method's overlay.
        let mut staking = Staking::new(store);
        let mut acct = staking.state().account(&signer)?;
        if tx.nonce != acct.general.nonce {
            return Ok(refused(ConsensusError::InvalidNonce {
                expected: acct.general.nonce,
                got: tx.nonce,
            }));
        }
        if acct.general.balance < fee {
            return Ok(refused(ConsensusError::InsufficientFeeBalance(fee)));
        }
        acct.general.nonce = acct
            .general
            .nonce
            .checked_add(1)
            .ok_or_else(|| FatalError::Invariant("nonce overflow".into()))?;
        // Nonce and fee in one write of the account.
        staking
            .charge_fee_from(&mut acct, fee)
            .map_err(into_fatal)?;
        staking
            .state()
            .set_account(&signer, &acct)
            .map_err(into_fatal)?;

        // Run the method; keep its writes only if it succeeds.
        let mut overlay = Overlay::new(store);
        let call = Call {
            tx,
            signer_key: &signed.signature.public_key,
            signer,
            info,
            debug,
            commit_ctx: &self.commit_context,
        };
        let result = dispatch(&mut overlay, &call).and_then(|events| {
            match overlay.unstorable_write() {
                // Refused here, not when the block's state is committed.
                Some(e) => Err(Failure::from(ConsensusError::from(e))),
                None => Ok(events),
            }
        });
        match result {
            Ok(events) => {
                overlay.commit()?;
                Ok(TxResult {
                    hash,
                    error: None,
                    gas_used: gas,
                    events,
                })
            }
            Err(Failure::Tx(e)) => Ok(TxResult {
                hash,
                error: Some(e),
                gas_used: gas,
                events: Vec::new(),
            }),
            Err(Failure::Fatal(e)) => Err(e),
        }
    }
}

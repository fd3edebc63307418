//! The dispatcher: the runtime's entry points.
//!
//! See the crate documentation for the order of checks and the gas policy.

use std::collections::{BTreeMap, BTreeSet};

use atoll_consensus_types::roothash::{Message, MessageResult};
use atoll_crypto::{Address, Hash};
use atoll_types::cbor::{self, DecodeLimits, Value};

use crate::context::{
    BatchContext, Context, Event, GasMeter, MessageHook, Mode, QueryContext, TxEnv,
};
use crate::crypto::verify_signatures;
use crate::error::{Error, FatalError, ModuleError, TxError};
use crate::module::{DecodeContext, MethodKind, encode_result};
use crate::modules::accounts::{self, TransferEvent};
use crate::modules::core::{
    self, CallerAddress, CoreError, EstimateGasForCallerQuery, EstimateGasQuery, GasUsedEvent,
    Parameters,
};
use crate::runtime::Runtime;
use crate::state::{Overlay, ReadOverlay, Store, StoreExt, module_key};
use crate::types::{
    AddressSpec, AuthProof, BaseUnits, CallFormat, CallResult, Fee, LATEST_TRANSACTION_VERSION,
    RawSignature, SignatureAddressSpec, Transaction, UnverifiedTransaction,
};

/// The outcome of one transaction of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct TxResult {
    /// Hash (SHA-512/256) of the raw transaction.
    pub hash: Hash,
    /// The call's result.
    pub result: CallResult,
    /// Gas used (0 when the transaction was refused before paying).
    pub gas_used: u64,
    /// Its events: the call's (only if it succeeded), then the fee transfer
    /// and `core.GasUsed` (always, once the fee was paid).
    pub events: Vec<Event>,
}

/// The outcome of a batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResult {
    /// One result per transaction, in batch order.
    pub results: Vec<TxResult>,
    /// Events of the block hooks.
    pub block_events: Vec<Event>,
    /// Messages to the consensus layer, in order; their index here is the
    /// index their results will carry.
    pub messages: Vec<Message>,
    /// Gas used by the whole batch.
    pub gas_used: u64,
}

/// A transaction that passed `check_tx`: what a pool needs to order it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedTx {
    /// Hash of the raw transaction.
    pub hash: Hash,
    /// The caller (first signer), who pays the fee.
    pub signer: Address,
    /// The caller's nonce in this transaction.
    pub nonce: u64,
    /// The fee offered.
    pub fee: Fee,
    /// The gas limit.
    pub gas: u64,
    /// The priority: the gas price, saturated to `u64`.
    pub priority: u64,
    /// Raw size in bytes.
    pub size: usize,
    /// The caller's Ethereum address when it signs with a `secp256k1eth`
    /// key (as every Ethereum transaction does): a gateway that relays the
    /// transaction learns its sender here instead of recovering it again.
    pub eth_address: Option<atoll_crypto::secp256k1::EthAddress>,
}

/// Fetches state keys ahead of the reads that need them (see
/// [`Runtime::check_batch`]).
pub type Prefetch<'a> = dyn FnMut(&[Vec<u8>]) -> Result<(), FatalError> + 'a;

/// A decoded transaction, with the scheme and body it arrived as when a
/// module decoded it.
struct Decoded {
    tx: Transaction,
    module_body: Option<(String, Vec<u8>)>,
}

/// Per-batch running totals.
struct BatchState {
    gas_used: u64,
    messages: Vec<Message>,
}

fn tx_fail(e: impl ModuleError) -> Error {
    Error::Tx(e.to_tx_error())
}

fn failed(e: &TxError) -> CallResult {
    CallResult::Failed {
        module: e.module.clone(),
        code: e.code,
        message: e.message.clone(),
    }
}

fn fatal_from_hook(what: &str, e: Error) -> FatalError {
    match e {
        Error::Fatal(f) => f,
        Error::Tx(t) => FatalError::Invariant(format!("{what} failed: {t}")),
    }
}

/// An Ed25519 signer's key and signature, queued for batch verification.
type Ed25519Proof = (
    atoll_crypto::ed25519::PublicKey,
    atoll_crypto::ed25519::Signature,
);

impl Runtime {
    /// Decodes and authenticates the signatures of a raw transaction:
    /// size, CBOR (bounded; the runtime SDK's rules, see [`crate::types`]), version, signer count, call format,
    /// signatures.
    fn decode_tx(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        params: &Parameters,
        raw: &[u8],
    ) -> Result<Transaction, Error> {
        self.decode_parts(ctx, store, params, raw).map(|d| d.tx)
    }

    /// [`Runtime::decode_tx`], keeping the scheme and body of a
    /// module-decoded transaction.
    fn decode_parts(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        params: &Parameters,
        raw: &[u8],
    ) -> Result<Decoded, Error> {
        if raw.len() > params.max_tx_size as usize {
            return Err(tx_fail(CoreError::OversizedTransaction));
        }
        let limits = DecodeLimits {
            max_input_len: params.max_tx_size as usize,
            ..DecodeLimits::DEFAULT
        };
        let utx: UnverifiedTransaction = cbor::from_slice_with_limits(raw, &limits)
            .map_err(|e| tx_fail(CoreError::MalformedTransaction(e.to_string())))?;
        if let [AuthProof::Module(scheme)] = utx.1.as_slice() {
            let dctx = DecodeContext {
                batch: ctx,
                store,
                params,
                signers: &self.signers,
            };
            let tx = self
                .modules
                .iter()
                .find_map(|m| m.decode_tx(&dctx, scheme, &utx.0))
                .unwrap_or_else(|| {
                    Err(tx_fail(CoreError::MalformedTransaction(format!(
                        "no module decodes transactions of scheme `{scheme}`"
                    ))))
                })?;
            validate_basic(&tx, params)?;
            let scheme = scheme.clone();
            return Ok(Decoded {
                tx,
                module_body: Some((scheme, utx.0)),
            });
        }
        let tx: Transaction = cbor::from_slice_with_limits(&utx.0, &limits)
            .map_err(|e| tx_fail(CoreError::MalformedTransaction(e.to_string())))?;
        validate_basic(&tx, params)?;
        if utx.1.len() != tx.auth_info.signer_info.len() {
            return Err(tx_fail(CoreError::MalformedTransaction(format!(
                "expected {} auth proofs, got {}",
                tx.auth_info.signer_info.len(),
                utx.1.len()
            ))));
        }
        let key = atoll_crypto::Hash::digest_parts(&[ctx.signature_context().as_bytes(), raw]);
        let known = self
            .verified
            .lock()
            .map(|c| c.contains(&key))
            .unwrap_or(false);
        if !known {
            verify_signatures(
                ctx.signature_context(),
                &utx.0,
                &tx.auth_info.signer_info,
                &utx.1,
            )
            .map_err(|e| tx_fail(CoreError::MalformedTransaction(e.to_string())))?;
            if let Ok(mut c) = self.verified.lock() {
                c.insert(key);
            }
        }
        Ok(Decoded {
            tx,
            module_body: None,
        })
    }

    /// Checks that need no state beyond the parameters. Failing them costs
    /// nothing: they run before the fee is taken.
    fn static_checks(
        &self,
        ctx: &BatchContext,
        params: &Parameters,
        tx: &Transaction,
    ) -> Result<(), Error> {
        if tx.call.format != CallFormat::Plain {
            return Err(tx_fail(CoreError::InvalidCallFormat(
                "encrypted calls are not supported".into(),
            )));
        }
        let ai = &tx.auth_info;
        if ai.not_before.is_some_and(|r| ctx.round < r)
            || ai.not_after.is_some_and(|r| ctx.round > r)
        {
            return Err(tx_fail(CoreError::ExpiredTransaction));
        }
        if ai.fee.gas > params.max_batch_gas {
            return Err(tx_fail(CoreError::GasOverflow));
        }
        if ai.fee.consensus_messages > params.max_messages {
            return Err(tx_fail(CoreError::OutOfMessageSlots));
        }
        match params.min_gas_price.get(ai.fee.amount.denomination()) {
            Some(min) if ai.fee.gas_price() >= min.0 => Ok(()),
            _ => Err(tx_fail(CoreError::GasPriceTooLow)),
        }
    }

    /// Nonces and the fee. In `Execute` mode the fee is taken from the
    /// caller and every signer's nonce goes up; `Check` only checks;
    /// `Simulate` skips the nonce check and the fee is zero.
    fn authenticate(
        &self,
        store: &mut dyn Store,
        tx: &Transaction,
        mode: Mode,
    ) -> Result<(), Error> {
        for si in &tx.auth_info.signer_info {
            let addr = si.address_spec.address();
            let current = accounts::nonce(store, &addr)?;
            let ok = match mode {
                Mode::Execute => si.nonce == current,
                Mode::Check => {
                    si.nonce >= current
                        && si.nonce - current <= self.config.max_check_nonce_future_delta
                }
                Mode::Simulate => true,
            };
            if !ok {
                return Err(tx_fail(CoreError::InvalidNonce));
            }
            let next = current
                .checked_add(1)
                .ok_or_else(|| tx_fail(CoreError::InvalidNonce))?;
            accounts::set_nonce(store, &addr, next)?;
        }
        let fee = &tx.auth_info.fee.amount;
        if fee.amount() > 0 {
            let payer = tx
                .caller()
                .ok_or_else(|| tx_fail(CoreError::InvalidTransaction("no signers".into())))?;
            accounts::sub_amount(store, &payer, fee)
                .map_err(|_| tx_fail(CoreError::InsufficientFeeBalance))?;
        }
        Ok(())
    }

    /// Charges the intrinsic gas (size and signatures), then runs the call.
    fn run_call(
        &self,
        ctx: &mut Context<'_>,
        params: &Parameters,
        tx: &Transaction,
        size: usize,
    ) -> Result<Value, Error> {
        ctx.use_gas(intrinsic_gas(params, tx, size)?)?;
        let method = tx.call.method.as_str();
        let module = self
            .route(MethodKind::Call, method)
            .ok_or_else(|| tx_fail(CoreError::InvalidMethod(method.to_owned())))?;
        module.dispatch_call(ctx, method, tx.call.body.clone())
    }

    /// Executes one transaction on `store`, which it changes only through
    /// one overlay committed at the end (or dropped when the transaction is
    /// refused before paying).
    ///
    /// `Ok(None)`: the transaction's gas limit does not fit in what is left
    /// of the batch's gas; it ends the batch and is left out of it.
    fn execute_tx(
        &self,
        ctx: &BatchContext,
        store: &mut dyn Store,
        raw: &[u8],
        batch: &mut BatchState,
    ) -> Result<Option<TxResult>, FatalError> {
        let hash = Hash::digest(raw);
        let refused = |e: Error| -> Result<Option<TxResult>, FatalError> {
            match e {
                Error::Tx(e) => Ok(Some(TxResult {
                    hash,
                    result: failed(&e),
                    gas_used: 0,
                    events: Vec::new(),
                })),
                Error::Fatal(f) => Err(f),
            }
        };
        let params = core::params(store)?;
        let tx = match self
            .decode_tx(ctx, store, &params, raw)
            .and_then(|tx| self.static_checks(ctx, &params, &tx).map(|()| tx))
        {
            Ok(tx) => tx,
            Err(e) => return refused(e),
        };
        let fee = tx.auth_info.fee.clone();
        if batch.gas_used.saturating_add(fee.gas) > params.max_batch_gas {
            return Ok(None);
        }
        let msg_slots =
            params.max_messages as usize - batch.messages.len().min(params.max_messages as usize);
        if fee.consensus_messages as usize > msg_slots {
            return refused(tx_fail(CoreError::OutOfMessageSlots));
        }

        let mut tx_store = Overlay::new(store);
        if let Err(e) = self.authenticate(&mut tx_store, &tx, Mode::Execute) {
            return refused(e);
        }
        let caller = tx.caller().unwrap_or_default();
        let env = TxEnv {
            hash,
            auth_info: tx.auth_info.clone(),
            caller,
            caller_eth: eth_caller(&tx),
            size: raw.len(),
        };

        let (result, out) = {
            let mut call_store = Overlay::new(&mut tx_store);
            let mut cctx = Context::for_tx(
                ctx,
                &mut call_store,
                Mode::Execute,
                &env,
                GasMeter {
                    limit: fee.gas,
                    used: 0,
                },
            );
            let result = self.run_call(&mut cctx, &params, &tx, raw.len());
            let out = cctx.finish();
            let result = match result {
                Ok(_) if tx.call.read_only && !call_store.is_empty() => {
                    Err(tx_fail(CoreError::ReadOnlyTransaction))
                }
                // A write the compute nodes' MKVS would refuse fails the
                // call here, so the round's root can always be computed.
                Ok(v) => match call_store.unstorable_write() {
                    Some(e) => Err(tx_fail(CoreError::UnstorableWrite(e.to_string()))),
                    None => Ok(v),
                },
                r => r,
            };
            if result.is_ok() {
                call_store.commit()?;
            }
            (result, out)
        };

        let (result, mut events, messages) = match result {
            Ok(v) => (CallResult::Ok(v), out.events, out.messages),
            Err(Error::Tx(e)) => (failed(&e), Vec::new(), Vec::new()),
            Err(Error::Fatal(f)) => return Err(f),
        };

        // Settle the fee: it was taken in full; give back the unused part if
        // the call asked for it, and credit the rest to the fee accumulator.
        let gas_used = out.gas.used;
        let refund = if out.refund_unused_fee {
            fee.gas_price()
                .saturating_mul(u128::from(fee.gas.saturating_sub(gas_used)))
                .min(fee.amount.amount())
        } else {
            0
        };
        let denom = fee.amount.denomination().clone();
        let paid = BaseUnits::new(fee.amount.amount() - refund, denom.clone());
        let settle = |s: &mut dyn Store| -> Result<(), Error> {
            if refund > 0 {
                accounts::add_amount(s, &caller, &BaseUnits::new(refund, denom.clone()))?;
            }
            if paid.amount() > 0 {
                accounts::add_amount(s, &accounts::fee_accumulator(), &paid)?;
            }
            Ok(())
        };
        settle(&mut tx_store).map_err(|e| fatal_from_hook("fee settlement", e))?;
        if paid.amount() > 0 {
            events.push(event(
                accounts::MODULE_NAME,
                accounts::events::TRANSFER,
                &TransferEvent {
                    from: caller,
                    to: accounts::fee_accumulator(),
                    amount: paid,
                },
            )?);
        }
        events.push(event(
            core::MODULE_NAME,
            core::events::GAS_USED,
            &GasUsedEvent { amount: gas_used },
        )?);

        for (message, hook) in messages {
            let index = u32::try_from(batch.messages.len())
                .map_err(|_| FatalError::Invariant("too many messages".into()))?;
            tx_store.put_typed(&core::hook_key(index), &hook)?;
            batch.messages.push(message);
        }
        tx_store.commit()?;
        batch.gas_used = batch.gas_used.saturating_add(gas_used);
        Ok(Some(TxResult {
            hash,
            result,
            gas_used,
            events,
        }))
    }

    fn run_block_hooks(
        &self,
        ctx: &BatchContext,
        store: &mut dyn Store,
        begin: bool,
    ) -> Result<Vec<Event>, FatalError> {
        let mut events = Vec::new();
        for m in &self.modules {
            let mut bctx = Context::for_block(ctx, store, Mode::Execute, 0);
            let r = if begin {
                m.begin_block(&mut bctx)
            } else {
                m.end_block(&mut bctx)
            };
            let out = bctx.finish();
            r.map_err(|e| fatal_from_hook(m.name(), e))?;
            events.extend(out.events);
        }
        Ok(events)
    }

    /// Executes a batch: every module's `begin_block`, the transactions in
    /// order, every module's `end_block`. Invalid transactions get a failed
    /// result and change nothing; the rest change `store`. The first
    /// transaction whose gas limit does not fit in the batch's remaining gas
    /// (the limit minus the gas used so far) ends the batch: it and those
    /// after it get no result and are not part of the block, so
    /// `results.len()` may be less than `txs.len()` and the block is the
    /// prefix of `txs` that has results. An `Err` means the node cannot
    /// compute the batch: nothing in `store` may be used.
    ///
    /// The results of the previous round's messages must have been given to
    /// [`Runtime::process_message_results`] first.
    pub fn execute_batch(
        &self,
        ctx: &BatchContext,
        store: &mut dyn Store,
        txs: &[Vec<u8>],
    ) -> Result<BatchResult, FatalError> {
        self.ensure_genesis(store)?;
        if !store
            .scan_prefix(&module_key(core::MODULE_NAME, core::MESSAGE_HOOKS, &[]))?
            .is_empty()
        {
            return Err(FatalError::Invariant(
                "the results of the previous round's messages were not processed".into(),
            ));
        }
        let mut block_events = self.run_block_hooks(ctx, store, true)?;
        let mut batch = BatchState {
            gas_used: 0,
            messages: Vec::new(),
        };
        self.preverify(ctx, txs);
        let mut results = Vec::with_capacity(txs.len());
        for raw in txs {
            match self.execute_tx(ctx, store, raw, &mut batch)? {
                Some(result) => results.push(result),
                None => break,
            }
        }
        block_events.extend(self.run_block_hooks(ctx, store, false)?);
        Ok(BatchResult {
            results,
            block_events,
            messages: batch.messages,
            gas_used: batch.gas_used,
        })
    }

    /// Verifies the Ed25519 signatures of many transactions with one batch
    /// verification and remembers them as verified when the whole batch
    /// holds; otherwise nothing is remembered (each is verified alone when
    /// it runs). Transactions that do not decode, or carry other signature
    /// schemes, are left to their own checks. Calling this never changes an
    /// outcome, only how much work the signatures take.
    pub fn preverify(&self, ctx: &BatchContext, txs: &[Vec<u8>]) {
        let sig_ctx = ctx.signature_context();
        let limits = DecodeLimits::DEFAULT;
        let mut batch = atoll_crypto::ed25519::BatchVerifier::with_capacity(txs.len());
        let mut keys = Vec::with_capacity(txs.len());
        let cache = match self.verified.lock() {
            Ok(c) => c,
            Err(_) => return,
        };
        let mut bodies: Vec<(Vec<u8>, Vec<Ed25519Proof>)> = Vec::with_capacity(txs.len());
        let mut module_txs: Vec<(String, Vec<u8>)> = Vec::new();
        for raw in txs {
            let key = atoll_crypto::Hash::digest_parts(&[sig_ctx.as_bytes(), raw]);
            if cache.contains(&key) {
                continue;
            }
            let Ok(utx) = cbor::from_slice_with_limits::<UnverifiedTransaction>(raw, &limits)
            else {
                continue;
            };
            if let [AuthProof::Module(scheme)] = utx.1.as_slice() {
                module_txs.push((scheme.clone(), utx.0));
                continue;
            }
            let Ok(tx) = cbor::from_slice_with_limits::<Transaction>(&utx.0, &limits) else {
                continue;
            };
            if tx.auth_info.signer_info.len() != utx.1.len() {
                continue;
            }
            let mut sigs = Vec::with_capacity(utx.1.len());
            let mut ok = true;
            for (si, proof) in tx.auth_info.signer_info.iter().zip(&utx.1) {
                match (&si.address_spec, proof) {
                    (
                        AddressSpec::Signature(SignatureAddressSpec::Ed25519(pk)),
                        AuthProof::Signature(sig),
                    ) => match atoll_crypto::ed25519::Signature::from_slice(&sig.0) {
                        Ok(sig) => sigs.push((*pk, sig)),
                        Err(_) => ok = false,
                    },
                    _ => ok = false,
                }
            }
            if ok && !sigs.is_empty() {
                keys.push(key);
                bodies.push((utx.0, sigs));
            }
        }
        drop(cache);
        self.preverify_module_txs(&module_txs);
        if keys.is_empty() {
            return;
        }
        for (body, sigs) in &bodies {
            for (pk, sig) in sigs {
                batch.queue(pk, sig_ctx, body, sig);
            }
        }
        if batch.verify().is_ok()
            && let Ok(mut c) = self.verified.lock()
        {
            for k in keys {
                c.insert(k);
            }
        }
    }

    /// Lets the owning modules recover the signers of module-decoded
    /// transactions ahead of the batch, on up to as many threads as the
    /// machine has (only the work is split; results go to the signer cache).
    fn preverify_module_txs(&self, txs: &[(String, Vec<u8>)]) {
        let preverify_one = |(scheme, body): &(String, Vec<u8>)| {
            for m in &self.modules {
                if m.preverify_tx(scheme, body, &self.signers) {
                    break;
                }
            }
        };
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        if threads < 2 || txs.len() < 2 * PREVERIFY_CHUNK_MIN {
            txs.iter().for_each(preverify_one);
            return;
        }
        let chunk = txs.len().div_ceil(threads).max(PREVERIFY_CHUNK_MIN);
        std::thread::scope(|s| {
            for part in txs.chunks(chunk) {
                s.spawn(move || part.iter().for_each(preverify_one));
            }
        });
    }

    /// Checks a transaction for the pool without changing anything:
    /// decoding, signatures, limits, known method, intrinsic gas, nonce
    /// (up to [`RuntimeConfig::max_check_nonce_future_delta`](crate::RuntimeConfig)
    /// ahead) and the caller's balance for the fee. The call itself is not run.
    pub fn check_tx(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        raw: &[u8],
    ) -> Result<CheckedTx, Error> {
        self.ensure_genesis(store)?;
        let params = core::params(store)?;
        let decoded = self.decode_parts(ctx, store, &params, raw)?;
        self.check_decoded(ctx, store, &params, raw, &decoded)
    }

    /// Checks many transactions for the pool, each exactly as
    /// [`Runtime::check_tx`] would (each alone against `store`, not one
    /// after another), sharing the work: signers are recovered ahead on
    /// several threads ([`Runtime::preverify`]), each transaction is
    /// decoded once, and the state keys the checks go on to read (each
    /// signer's nonce, the caller's balance of the fee's denomination) are
    /// handed to `prefetch` together, sorted and without repeats, before
    /// any check reads them, so a store that reads over a socket can fetch
    /// them in one request. The outcomes are in order; only a fatal error
    /// (the store's) fails the whole call.
    pub fn check_batch(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        raws: &[Vec<u8>],
        prefetch: &mut Prefetch<'_>,
    ) -> Result<Vec<Result<CheckedTx, TxError>>, FatalError> {
        self.ensure_genesis(store)?;
        let params = core::params(store)?;
        self.preverify(ctx, raws);
        let mut keys = BTreeSet::new();
        let decoded: Vec<Result<Decoded, Error>> = raws
            .iter()
            .map(|raw| {
                let d = self.decode_parts(ctx, store, &params, raw);
                if let Ok(d) = &d {
                    let ai = &d.tx.auth_info;
                    for si in &ai.signer_info {
                        keys.insert(accounts::nonce_key(&si.address_spec.address()));
                    }
                    if let Some(caller) = d.tx.caller() {
                        keys.insert(accounts::balance_key(&caller, ai.fee.amount.denomination()));
                    }
                }
                d
            })
            .collect();
        let keys: Vec<Vec<u8>> = keys.into_iter().collect();
        if !keys.is_empty() {
            prefetch(&keys)?;
        }
        raws.iter()
            .zip(decoded)
            .map(|(raw, d)| {
                match d.and_then(|d| self.check_decoded(ctx, store, &params, raw, &d)) {
                    Ok(c) => Ok(Ok(c)),
                    Err(Error::Tx(e)) => Ok(Err(e)),
                    Err(Error::Fatal(f)) => Err(f),
                }
            })
            .collect()
    }

    /// The checks of [`Runtime::check_tx`] after decoding.
    fn check_decoded(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        params: &Parameters,
        raw: &[u8],
        decoded: &Decoded,
    ) -> Result<CheckedTx, Error> {
        let tx = &decoded.tx;
        self.static_checks(ctx, params, tx)?;
        if self.route(MethodKind::Call, &tx.call.method).is_none() {
            return Err(tx_fail(CoreError::InvalidMethod(tx.call.method.clone())));
        }
        let fee = tx.auth_info.fee.clone();
        let intrinsic = intrinsic_gas(params, tx, raw.len())?;
        if intrinsic > fee.gas {
            return Err(tx_fail(CoreError::OutOfGas {
                limit: fee.gas,
                wanted: intrinsic,
            }));
        }
        let mut scratch = ReadOverlay::new(store);
        self.authenticate(&mut scratch, tx, Mode::Check)?;
        if let Some((scheme, body)) = &decoded.module_body {
            for m in &self.modules {
                m.check_decoded_tx(store, scheme, body, tx)?;
            }
        }
        let first = tx
            .auth_info
            .signer_info
            .first()
            .ok_or_else(|| tx_fail(CoreError::InvalidTransaction("no signers".into())))?;
        Ok(CheckedTx {
            hash: Hash::digest(raw),
            signer: first.address_spec.address(),
            nonce: first.nonce,
            priority: u64::try_from(fee.gas_price()).unwrap_or(u64::MAX),
            gas: fee.gas,
            fee,
            size: raw.len(),
            eth_address: match &first.address_spec {
                AddressSpec::Signature(SignatureAddressSpec::Secp256k1Eth(pk)) => {
                    Some(pk.0.to_eth_address())
                }
                AddressSpec::Signature(SignatureAddressSpec::Ed25519(_)) => None,
            },
        })
    }

    /// Estimates the gas `query.tx` needs by running it on a scratch copy of
    /// the state with no fee, the callers' current nonces and no signature
    /// check (see [`Runtime::estimate_gas_for_caller`] for how the estimate
    /// is made sufficient). The size charge assumes the largest signature
    /// of each signer's scheme and the gas field at its current
    /// (batch-limit) value, so the estimate is an upper bound for it.
    pub fn estimate_gas(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        query: &EstimateGasQuery,
    ) -> Result<u64, Error> {
        self.ensure_genesis(store)?;
        let params = core::params(store)?;
        let mut tx = query.tx.clone();
        validate_basic(&tx, &params)?;
        let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
        let mut bump = Vec::new();
        for si in &mut tx.auth_info.signer_info {
            let addr = si.address_spec.address();
            let n = match nonces.get(&addr) {
                Some(n) => *n,
                None => accounts::nonce(store, &addr)?,
            };
            si.nonce = n;
            nonces.insert(addr, n.saturating_add(1));
            bump.push(addr);
        }
        let caller = tx.caller().unwrap_or_default();
        let caller_eth = eth_caller(&tx);
        self.estimate(
            ctx,
            store,
            &params,
            tx,
            (caller, caller_eth),
            &bump,
            query.propagate_failures,
            None,
        )
    }

    /// Estimates the gas `query.tx` needs when `query.caller` sends it (the
    /// SDK's `core.EstimateGasForCaller`; for `eth_estimateGas`, which knows
    /// only the sender's Ethereum address). The transaction's signers are
    /// replaced by one placeholder signer of the caller's kind with the
    /// caller's current nonce; the call sees `query.caller` as its caller.
    ///
    /// The estimate is the gas the call used with the batch gas limit,
    /// checked by running it again with exactly that limit; when that
    /// fails (gas refunds, or the 63/64 rule of EVM calls, make the peak
    /// need larger than the use), the smallest sufficient limit is found
    /// by binary search. A failing call answers its error when
    /// `propagate_failures` is set (for example an EVM revert with its
    /// reason), otherwise the gas used up to the failure. A non-zero
    /// `fee.gas` in `query.tx` is the most gas the estimate tries (an RPC
    /// gas cap), so the search never runs past it.
    pub fn estimate_gas_for_caller(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        query: &EstimateGasForCallerQuery,
    ) -> Result<u64, Error> {
        self.ensure_genesis(store)?;
        let params = core::params(store)?;
        let mut tx = query.tx.clone();
        let cap = Some(tx.auth_info.fee.gas).filter(|g| *g > 0);
        let caller = query.caller.address();
        let nonce = accounts::nonce(store, &caller)?;
        let (spec, caller_eth) = match &query.caller {
            CallerAddress::EthAddress(eth) => (placeholder_secp256k1()?, Some(*eth)),
            CallerAddress::Address(_) => (placeholder_ed25519(), None),
        };
        tx.auth_info.signer_info = vec![crate::types::SignerInfo {
            address_spec: AddressSpec::Signature(spec),
            nonce,
        }];
        validate_basic(&tx, &params)?;
        self.estimate(
            ctx,
            store,
            &params,
            tx,
            (caller, caller_eth),
            &[caller],
            query.propagate_failures,
            cap,
        )
    }

    #[allow(clippy::too_many_arguments, reason = "internal plumbing")]
    fn estimate(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        params: &Parameters,
        mut tx: Transaction,
        (caller, caller_eth): (Address, Option<atoll_crypto::secp256k1::EthAddress>),
        bump: &[Address],
        propagate_failures: bool,
        cap: Option<u64>,
    ) -> Result<u64, Error> {
        if tx.call.format != CallFormat::Plain {
            return Err(tx_fail(CoreError::InvalidCallFormat(
                "encrypted calls are not supported".into(),
            )));
        }
        tx.auth_info.fee.gas = params.max_batch_gas;
        tx.auth_info.fee.consensus_messages = params.max_messages;
        let denom = tx.auth_info.fee.amount.denomination().clone();
        tx.auth_info.fee.amount = BaseUnits::new(0, denom);
        let size = simulated_size(&tx)?;
        let env = TxEnv {
            hash: Hash::empty(),
            auth_info: tx.auth_info.clone(),
            caller,
            caller_eth,
            size,
        };
        let sim = Simulation {
            tx,
            env,
            size,
            bump,
        };
        // At most log2(max) + 2 simulations, each within `max` gas.
        let max = cap.map_or(params.max_batch_gas, |c| c.min(params.max_batch_gas));
        let (result, used) = self.simulate(ctx, store, params, &sim, max)?;
        match result {
            Ok(()) => {}
            Err(Error::Tx(e)) if propagate_failures => return Err(Error::Tx(e)),
            Err(Error::Tx(_)) => return Ok(used),
            Err(f) => return Err(f),
        }
        // Is what it used enough as a limit? If not, search for the least
        // limit that is: `lo` fails, `hi` succeeds.
        if used >= max || self.simulate(ctx, store, params, &sim, used)?.0.is_ok() {
            return Ok(used);
        }
        let (mut lo, mut hi) = (used, max);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match self.simulate(ctx, store, params, &sim, mid)?.0 {
                Ok(()) => hi = mid,
                Err(Error::Tx(_)) => lo = mid,
                Err(f) => return Err(f),
            }
        }
        Ok(hi)
    }

    /// Runs a simulation with gas limit `limit` on a scratch copy of the
    /// state: the call's outcome and the gas it used.
    fn simulate(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        params: &Parameters,
        sim: &Simulation<'_>,
        limit: u64,
    ) -> Result<(Result<(), Error>, u64), Error> {
        let mut scratch = ReadOverlay::new(store);
        for addr in sim.bump {
            let n = accounts::nonce(&scratch, addr)?;
            accounts::set_nonce(&mut scratch, addr, n.saturating_add(1))?;
        }
        let mut tx = sim.tx.clone();
        tx.auth_info.fee.gas = limit;
        let mut env = sim.env.clone();
        env.auth_info.fee.gas = limit;
        let mut call_store = Overlay::new(&mut scratch);
        let mut cctx = Context::for_tx(
            ctx,
            &mut call_store,
            Mode::Simulate,
            &env,
            GasMeter { limit, used: 0 },
        );
        let result = self.run_call(&mut cctx, params, &tx, sim.size);
        let used = cctx.gas().used;
        match result {
            Err(Error::Fatal(f)) => Err(Error::Fatal(f)),
            r => Ok((r.map(|_| ()), used)),
        }
    }

    /// Answers a query with CBOR `args` (empty means `null`) and a CBOR
    /// result. `core.EstimateGas` is served here; everything else by the
    /// module that declared it.
    pub fn query(
        &self,
        ctx: &BatchContext,
        store: &dyn Store,
        method: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, Error> {
        // A state without genesis answers nothing: module defaults would
        // pass for the runtime's parameters.
        self.ensure_genesis(store)?;
        let args = if args.is_empty() {
            Value::Null
        } else {
            cbor::decode_value(args).map_err(crate::error::invalid_argument)?
        };
        let value = if method == "core.EstimateGas" {
            // Oasis's `core.EstimateGas` takes an optional `caller`: with one
            // it is `core.EstimateGasForCaller`.
            match with_caller(args) {
                (args, true) => {
                    let q: EstimateGasForCallerQuery = crate::module::decode_body(args)?;
                    encode_result(&self.estimate_gas_for_caller(ctx, store, &q)?)?
                }
                (args, false) => {
                    let q: EstimateGasQuery = crate::module::decode_body(args)?;
                    encode_result(&self.estimate_gas(ctx, store, &q)?)?
                }
            }
        } else if method == "core.EstimateGasForCaller" {
            let q: EstimateGasForCallerQuery = crate::module::decode_body(args)?;
            encode_result(&self.estimate_gas_for_caller(ctx, store, &q)?)?
        } else {
            let module = self
                .route(MethodKind::Query, method)
                .ok_or_else(|| tx_fail(CoreError::InvalidMethod(method.to_owned())))?;
            module.dispatch_query(&QueryContext { batch: ctx, store }, method, args)?
        };
        cbor::encode_value(&value)
            .map_err(|e| Error::Fatal(FatalError::Invariant(format!("query result: {e}"))))
    }

    /// Finishes the operations whose consensus messages (emitted by the
    /// previous round's batch) now have results: each result goes to the
    /// handler its message registered, and the handler's events are
    /// returned. Every pending message must get exactly one result; anything
    /// else means the host and the runtime disagree, which is fatal.
    pub fn process_message_results(
        &self,
        ctx: &BatchContext,
        store: &mut dyn Store,
        results: &[MessageResult],
    ) -> Result<Vec<Event>, FatalError> {
        self.ensure_genesis(store)?;
        let prefix = module_key(core::MODULE_NAME, core::MESSAGE_HOOKS, &[]);
        let mut pending: BTreeMap<Vec<u8>, MessageHook> =
            store.scan_typed(&prefix)?.into_iter().collect();
        let mut events = Vec::new();
        for result in results {
            let key = core::hook_key(result.index);
            let hook = pending.remove(&key).ok_or_else(|| {
                FatalError::Invariant(format!(
                    "result for message {} which is not pending",
                    result.index
                ))
            })?;
            store.remove(&key)?;
            let module = self
                .route(MethodKind::MessageResult, &hook.handler)
                .ok_or_else(|| FatalError::Invariant(format!("no handler `{}`", hook.handler)))?;
            let mut hctx = Context::for_block(ctx, store, Mode::Execute, 0);
            let r = module.dispatch_message_result(&mut hctx, &hook.handler, result, hook.payload);
            let out = hctx.finish();
            r.map_err(|e| fatal_from_hook(&hook.handler, e))?;
            events.extend(out.events);
        }
        if !pending.is_empty() {
            return Err(FatalError::Invariant(format!(
                "{} pending messages got no result",
                pending.len()
            )));
        }
        Ok(events)
    }
}

/// Fewest module-decoded transactions per preverification thread.
const PREVERIFY_CHUNK_MIN: usize = 16;

/// A transaction prepared for gas estimation.
struct Simulation<'a> {
    tx: Transaction,
    env: TxEnv,
    size: usize,
    /// Accounts whose nonces go up before the call (as authentication does).
    bump: &'a [Address],
}

/// The caller's Ethereum address, when the first signer is `secp256k1eth`.
fn eth_caller(tx: &Transaction) -> Option<atoll_crypto::secp256k1::EthAddress> {
    match &tx.auth_info.signer_info.first()?.address_spec {
        AddressSpec::Signature(SignatureAddressSpec::Secp256k1Eth(pk)) => {
            Some(pk.0.to_eth_address())
        }
        AddressSpec::Signature(SignatureAddressSpec::Ed25519(_)) => None,
    }
}

/// A fixed, valid secp256k1 key (the generator point) standing in for an
/// Ethereum caller whose key is unknown.
fn placeholder_secp256k1() -> Result<SignatureAddressSpec, Error> {
    const GENERATOR: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    atoll_crypto::secp256k1::PublicKey::from_hex(GENERATOR)
        .map(|pk| SignatureAddressSpec::Secp256k1Eth(crate::types::Secp256k1Key(pk)))
        .map_err(|e| Error::Fatal(FatalError::Invariant(e.to_string())))
}

/// A fixed Ed25519 key standing in for a caller whose key is unknown.
fn placeholder_ed25519() -> SignatureAddressSpec {
    SignatureAddressSpec::Ed25519(
        atoll_crypto::ed25519::SigningKey::from_seed(&[0; 32]).public_key(),
    )
}

fn validate_basic(tx: &Transaction, params: &Parameters) -> Result<(), Error> {
    if tx.v != LATEST_TRANSACTION_VERSION {
        return Err(tx_fail(CoreError::InvalidTransaction(format!(
            "unsupported version {}",
            tx.v
        ))));
    }
    let n = tx.auth_info.signer_info.len();
    if n == 0 {
        return Err(tx_fail(CoreError::InvalidTransaction(
            "transaction has no signers".into(),
        )));
    }
    if n > params.max_tx_signers as usize {
        return Err(tx_fail(CoreError::TooManyAuth));
    }
    Ok(())
}

fn intrinsic_gas(params: &Parameters, tx: &Transaction, size: usize) -> Result<u64, Error> {
    let size = u64::try_from(size).unwrap_or(u64::MAX);
    let sigs = u64::try_from(tx.auth_info.signer_info.len()).unwrap_or(u64::MAX);
    params
        .gas_costs
        .tx_byte
        .checked_mul(size)
        .and_then(|a| {
            params
                .gas_costs
                .auth_signature
                .checked_mul(sigs)
                .and_then(|b| a.checked_add(b))
        })
        .ok_or_else(|| tx_fail(CoreError::GasOverflow))
}

/// The size of `tx` signed with the largest signature of each signer's scheme.
fn simulated_size(tx: &Transaction) -> Result<usize, Error> {
    let body = cbor::to_vec(tx).map_err(|e| FatalError::Invariant(e.to_string()))?;
    let proofs = tx
        .auth_info
        .signer_info
        .iter()
        .map(|si| {
            let len = match si.address_spec {
                AddressSpec::Signature(SignatureAddressSpec::Ed25519(_)) => 64,
                AddressSpec::Signature(SignatureAddressSpec::Secp256k1Eth(_)) => 72,
            };
            AuthProof::Signature(RawSignature(vec![0xff; len]))
        })
        .collect();
    let raw = cbor::to_vec(&UnverifiedTransaction(body, proofs))
        .map_err(|e| FatalError::Invariant(e.to_string()))?;
    Ok(raw.len())
}

fn event<T: serde::Serialize>(module: &str, code: u32, value: &T) -> Result<Event, FatalError> {
    Ok(Event {
        module: module.to_owned(),
        code,
        value: cbor::to_value(value).map_err(|e| FatalError::Invariant(e.to_string()))?,
    })
}

/// Splits the optional `caller` out of `core.EstimateGas` arguments: a map
/// with a non-null `caller` is a simulation as that caller (`true`); a
/// `null` caller is dropped, as the SDK reads an absent one.
fn with_caller(args: Value) -> (Value, bool) {
    let caller = Value::Text("caller".into());
    match args {
        Value::Map(entries) => match entries.iter().find(|(k, _)| *k == caller) {
            Some((_, Value::Null)) => (
                Value::Map(entries.into_iter().filter(|(k, _)| *k != caller).collect()),
                false,
            ),
            Some(_) => (Value::Map(entries), true),
            None => (Value::Map(entries), false),
        },
        other => (other, false),
    }
}

//! The block processor.
//!
//! For each block, in order:
//! 1. If the block starts a new epoch: epoch transition (debonding matures).
//! 2. Every transaction's signature is checked, all of them in one batch
//!    (falling back to one by one only to find the bad ones).
//! 3. Each transaction runs through `App::deliver_tx`:
//!    - refused with no state change if it is malformed, mis-signed, too
//!      large, for an unknown method, has the wrong nonce, offers too little
//!      gas or too low a gas price, or its signer cannot pay the fee;
//!    - otherwise the fee is charged and the nonce advances, then the method
//!      runs in an [`Overlay`]: on success its writes are kept, on failure they
//!      are discarded and only the fee and nonce change remains. A write the
//!      state store could never hold (over its key or value limit) fails the
//!      transaction here, so committing the block's state cannot fail on
//!      anything a transaction chose.
//! 4. The block's fees go to its proposer and to the validators that signed.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::BatchVerifier;
use atoll_crypto::{Address, Hash};
use atoll_types::cbor::{self, Value};
use atoll_types::transaction::{SignedTransaction, Transaction};
use atoll_types::{Epoch, Quantity};
use serde::{Deserialize, Serialize};

use crate::error::{Failure, FatalError, ModuleError, TxError};
use crate::event::Event;
use crate::genesis::{self, BeaconParameters, ConsensusParameters, Genesis};
use crate::services::registry::{self, Registry};
use crate::services::roothash::{self, BlockInfo, Roothash};
use crate::services::staking::{self, Staking, methods};
use crate::services::{beacon, scheduler};
use crate::state::{Overlay, Store, StoreExt};

/// The module name of errors raised by the transaction pipeline itself.
pub const MODULE: &str = "consensus";

/// The signature context of consensus transactions (bound to the chain).
pub const TX_SIGNATURE_CONTEXT: &str = "oasis-core/consensus: tx";

const CONSENSUS_PARAMETERS: u8 = 0x01;
const BEACON_PARAMETERS: u8 = 0x02;
const LAST_BLOCK: u8 = 0x03;
const DEBUG_NETWORK: u8 = 0x04;

/// Errors of the transaction pipeline, with stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// The bytes are not a canonical signed transaction.
    #[error("malformed transaction: {0}")]
    MalformedTransaction(String),
    /// The signature does not verify for this network.
    #[error("invalid signature (wrong key, tampered body, or signed for another network)")]
    InvalidSignature,
    /// The nonce is not the signer's next nonce.
    #[error("invalid nonce: expected {expected}, got {got}")]
    InvalidNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The signer cannot pay the fee.
    #[error("insufficient balance to pay the fee of {0}")]
    InsufficientFeeBalance(Quantity),
    /// The transaction offers less gas than it needs.
    #[error("out of gas: needs {needed}, offers {offered}")]
    OutOfGas {
        /// Gas needed.
        needed: u64,
        /// Gas offered.
        offered: u64,
    },
    /// The fee is below `gas * min_gas_price`.
    #[error("fee {offered} is below the minimum {minimum} for the gas requested")]
    FeeTooLow {
        /// The fee offered.
        offered: Quantity,
        /// The minimum fee.
        minimum: Quantity,
    },
    /// No service has this method.
    #[error("unknown method `{0}`")]
    UnknownMethod(String),
    /// The transaction exceeds `max_tx_size`.
    #[error("transaction of {size} bytes exceeds the maximum of {max}")]
    Oversized {
        /// Its size.
        size: u64,
        /// The maximum.
        max: u64,
    },
    /// The block has no gas left for this transaction.
    #[error("block gas limit reached")]
    BlockGasExhausted,
    /// The method body does not decode.
    #[error("malformed body for {method}: {reason}")]
    MalformedBody {
        /// The method.
        method: String,
        /// What failed.
        reason: String,
    },
    /// The method would write something the state store cannot hold (a
    /// key or value over its limits): the transaction fails alone, its fee
    /// is charged and nothing else changes.
    #[error("state write refused: {0}")]
    UnstorableWrite(#[from] crate::state::Unstorable),
}

impl ModuleError for ConsensusError {
    const MODULE: &'static str = MODULE;

    fn code(&self) -> u32 {
        match self {
            Self::MalformedTransaction(_) => 1,
            Self::InvalidSignature => 2,
            Self::InvalidNonce { .. } => 3,
            Self::InsufficientFeeBalance(_) => 4,
            Self::OutOfGas { .. } => 5,
            Self::FeeTooLow { .. } => 6,
            Self::UnknownMethod(_) => 7,
            Self::Oversized { .. } => 8,
            Self::BlockGasExhausted => 9,
            Self::MalformedBody { .. } => 10,
            Self::UnstorableWrite(_) => 11,
        }
    }
}

impl From<ConsensusError> for Failure {
    fn from(e: ConsensusError) -> Self {
        Failure::Tx(e.to_tx_error())
    }
}

/// A block as the engine decided it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Height.
    pub height: u64,
    /// Time the proposer gave the block (seconds since the Unix epoch);
    /// data agreed by consensus, never the local clock.
    pub time: u64,
    /// The account paid the proposer's share of the fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposer: Option<Address>,
    /// Accounts of the validators whose signatures certified the previous
    /// block, with their voting power: paid the voters' share of the fees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<(Address, u64)>,
    /// Hash of the previous block (zero for the first), feeding the
    /// insecure beacon.
    #[serde(default)]
    pub prev_hash: Hash,
    /// Raw signed transactions, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub txs: Vec<serde_bytes::ByteBuf>,
    /// Validator nodes proven (by the BFT layer, from double-sign evidence
    /// every validator checked) to have signed two different blocks at one
    /// height: each is slashed for `consensus-equivocation` and frozen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equivocators: Vec<atoll_crypto::ed25519::PublicKey>,
}

/// The outcome of one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxResult {
    /// SHA-512/256 of the raw signed transaction.
    pub hash: Hash,
    /// The error, when it failed (or was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TxError>,
    /// Gas charged (zero when refused before charging).
    pub gas_used: u64,
    /// Events it emitted (none when it failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

/// The outcome of a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResult {
    /// Height.
    pub height: u64,
    /// Epoch of the block.
    pub epoch: Epoch,
    /// Per transaction, in block order.
    pub tx_results: Vec<TxResult>,
    /// Events not tied to a transaction (epoch transition, fee payout).
    pub events: Vec<Event>,
}

/// What a mempool learns from checking a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTx {
    /// Transaction hash.
    pub hash: Hash,
    /// Signer's account.
    pub signer: Address,
    /// The transaction's nonce.
    pub nonce: u64,
    /// Fee offered.
    pub fee: Quantity,
    /// Gas offered.
    pub gas: u64,
    /// Raw size.
    pub size: u64,
    /// The signer's account nonce in the state checked against.
    pub account_nonce: u64,
}

/// The parameters every transaction check reads, loaded once for many
/// checks against the same state ([`App::check_tx_with`]).
pub struct TxParams {
    params: ConsensusParameters,
    gas_table: GasTable,
}

/// Which nonces [`App::check_tx`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Exactly the account's next nonce (block execution).
    Exact,
    /// The next nonce or later (a mempool holding a sender's queue).
    AtLeast,
}

/// A transaction decoded strictly, with what every check derives from its
/// bytes: computed once per node however often it is checked.
#[derive(Debug)]
struct DecodedTx {
    /// Hash of the exact bytes.
    hash: Hash,
    /// The signer's account.
    signer: Address,
    signed: SignedTransaction,
    tx: Transaction,
}

/// A transaction decoded strictly, or why it could not be.
type Decoded = Result<Arc<DecodedTx>, ConsensusError>;

/// What every transaction of one block shares.
struct BlockEnv<'a> {
    params: &'a ConsensusParameters,
    gas_table: &'a GasTable,
    info: BlockInfo,
    debug: bool,
    /// Gas the block has left, when it has a limit.
    gas_left: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LastBlock {
    height: u64,
    epoch: Epoch,
}

/// The consensus state machine of one network.
///
/// Clones share one cache of transactions whose signature has verified, so
/// a transaction checked on admission to the mempool is not verified again
/// when a proposal holding it is judged or when its block is applied. The
/// cache is keyed by the hash of the transaction's exact bytes (body,
/// public key and signature) and only ever records a verification that
/// succeeded under this network's context, so a hit gives the same answer a
/// verification would: outcomes stay deterministic whatever a node's cache
/// holds.
#[derive(Debug, Clone)]
pub struct App {
    chain_context: ChainContext,
    tx_context: Context,
    commit_context: Context,
    initial_height: u64,
    verified: Arc<Mutex<crate::recent::RecentHashes>>,
    decoded: Arc<Mutex<DecodedCache>>,
}

/// Transactions recently decoded, keyed by their exact bytes, oldest evicted
/// first: a transaction is decoded on admission, again when a proposal
/// holding it is checked, when its block is applied and when the pool
/// rechecks it. Decoding is a pure function of the bytes, so a hit gives
/// what decoding would; keying by the bytes (under the map's own keyed
/// hasher) finds a hit without computing the transaction's SHA-512/256 hash,
/// which the entry carries. Nothing iterates the map, so its order never
/// reaches an output.
#[derive(Debug, Default)]
struct DecodedCache {
    map: HashMap<Arc<[u8]>, Arc<DecodedTx>>,
    order: VecDeque<Arc<[u8]>>,
}

/// Most decoded transactions remembered.
const DECODED_CACHE: usize = 65_536;

/// Most transactions remembered as verified.
const VERIFIED_CACHE: usize = 262_144;

/// Why an [`App`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The genesis document has problems.
    #[error("invalid genesis document: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidGenesis(Vec<genesis::GenesisProblem>),
    /// The genesis document could not be hashed.
    #[error("genesis document does not encode: {0}")]
    Encode(#[from] cbor::EncodeError),
    /// A signature context could not be built.
    #[error(transparent)]
    Crypto(#[from] atoll_crypto::CryptoError),
}

impl App {
    /// The state machine of the network `genesis` starts.
    pub fn new(genesis: &Genesis) -> Result<Self, AppError> {
        let problems = genesis.check();
        if !problems.is_empty() {
            return Err(AppError::InvalidGenesis(problems));
        }
        let chain_context = genesis.chain_context()?;
        let tx_context = Context::for_chain(TX_SIGNATURE_CONTEXT, &chain_context)?;
        let commit_context = roothash::commitment_context(&chain_context)?;
        Ok(Self {
            chain_context,
            tx_context,
            commit_context,
            initial_height: genesis.initial_height,
            verified: Arc::new(Mutex::new(crate::recent::RecentHashes::new(VERIFIED_CACHE))),
            decoded: Arc::default(),
        })
    }

    /// The network's chain context.
    pub fn chain_context(&self) -> &ChainContext {
        &self.chain_context
    }

    /// The context transactions are signed in.
    pub fn tx_context(&self) -> &Context {
        &self.tx_context
    }

    /// The context executor commitments are signed in.
    pub fn commitment_context(&self) -> &Context {
        &self.commit_context
    }

    /// Writes the genesis state into an empty store.
    pub fn init_chain(&self, store: &mut dyn Store, genesis: &Genesis) -> Result<(), FatalError> {
        store.put_typed(&[CONSENSUS_PARAMETERS], &genesis.consensus)?;
        store.put_typed(&[BEACON_PARAMETERS], &genesis.beacon)?;
        let mut staking = Staking::new(store);
        let st = staking.state();
        let g = &genesis.staking;
        fatal(st.set_parameters(&g.parameters))?;
        fatal(st.set_total_supply(g.total_supply))?;
        fatal(st.set_common_pool(g.common_pool))?;
        for (addr, acct) in &g.ledger {
            fatal(st.set_account(addr, acct))?;
        }
        for (escrow, ds) in &g.delegations {
            for (delegator, d) in ds {
                fatal(st.set_delegation(escrow, delegator, d))?;
            }
        }
        store.put_typed(&[DEBUG_NETWORK], &genesis.debug)?;
        let r = &genesis.registry;
        let mut reg = Registry::new(store);
        fatal(reg.state().set_parameters(&r.parameters))?;
        for e in &r.entities {
            fatal(reg.state().set_entity(e))?;
        }
        for rt in &r.runtimes {
            fatal(reg.state().set_runtime(rt))?;
        }
        for n in &r.nodes {
            fatal(reg.state().set_node(n))?;
        }
        fatal(scheduler::state::SchedulerState::new(store).set_parameters(&genesis.scheduler))?;
        fatal(roothash::state::RoothashState::new(store).set_parameters(&genesis.roothash))?;
        let genesis_block = BlockInfo {
            height: genesis.initial_height.saturating_sub(1),
            time: 0,
            epoch: genesis.epoch_at(genesis.initial_height),
        };
        for rt in &r.runtimes {
            fatal(Roothash::new(store, &self.commit_context).init_runtime(rt, genesis_block))?;
        }
        let entropy = beacon::genesis_entropy(&self.chain_context);
        let epoch = genesis.epoch_at(genesis.initial_height);
        fatal(scheduler::on_epoch(store, epoch, &entropy, None))?;
        if genesis.beacon.backend == beacon::Backend::Vrf {
            beacon::start_vrf_epoch(
                store,
                &self.chain_context,
                epoch,
                &entropy,
                genesis.initial_height,
                &genesis.beacon.vrf,
            )?;
        }
        Ok(())
    }

    /// The height of the last applied block (`None` before the first).
    pub fn last_height(&self, store: &dyn Store) -> Result<Option<u64>, FatalError> {
        Ok(store
            .get_typed::<LastBlock>(&[LAST_BLOCK])?
            .map(|b| b.height))
    }

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
        self.verified.lock().is_ok_and(|c| c.contains(hash))
    }

    fn mark_verified(&self, hashes: &[Hash]) {
        if let Ok(mut c) = self.verified.lock() {
            for h in hashes {
                c.insert(*h);
            }
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
        if let Ok(cache) = self.decoded.lock()
            && let Some(hit) = cache.map.get(raw)
        {
            return Ok(hit.clone());
        }
        let signed = SignedTransaction::from_canonical_slice(raw)
            .map_err(|e| ConsensusError::MalformedTransaction(e.to_string()))?;
        let tx: Transaction = cbor::from_slice_canonical(&signed.untrusted_raw_value)
            .map_err(|e| ConsensusError::MalformedTransaction(e.to_string()))?;
        let decoded = Arc::new(DecodedTx {
            hash: Hash::digest(raw),
            signer: Address::from_ed25519(&signed.signature.public_key),
            signed,
            tx,
        });
        if let Ok(mut cache) = self.decoded.lock() {
            let key: Arc<[u8]> = Arc::from(raw);
            if cache.map.insert(key.clone(), decoded.clone()).is_none() {
                cache.order.push_back(key);
                while cache.order.len() > DECODED_CACHE {
                    if let Some(old) = cache.order.pop_front() {
                        cache.map.remove(&old);
                    }
                }
            }
        }
        Ok(decoded)
    }

    /// The hash of a transaction's bytes (taken from the decoding cache when
    /// the node has seen the transaction, computed otherwise).
    pub fn tx_hash(&self, raw: &[u8]) -> Hash {
        if let Ok(cache) = self.decoded.lock()
            && let Some(hit) = cache.map.get(raw)
        {
            return hit.hash;
        }
        Hash::digest(raw)
    }

    /// Applies one block. Returns per-transaction results; a [`FatalError`]
    /// means the block could not be applied and the store must be discarded.
    pub fn apply_block(
        &self,
        store: &mut dyn Store,
        block: &Block,
    ) -> Result<BlockResult, FatalError> {
        let last: Option<LastBlock> = store.get_typed(&[LAST_BLOCK])?;
        let expected = last
            .as_ref()
            .map_or(Some(self.initial_height), |l| l.height.checked_add(1));
        if Some(block.height) != expected {
            return Err(FatalError::Invariant(format!(
                "block {} applied out of order (expected {expected:?})",
                block.height
            )));
        }
        let params: ConsensusParameters = store
            .get_typed(&[CONSENSUS_PARAMETERS])?
            .ok_or_else(|| FatalError::Invariant("consensus parameters missing".into()))?;
        let beacon: BeaconParameters = store
            .get_typed(&[BEACON_PARAMETERS])?
            .ok_or_else(|| FatalError::Invariant("beacon parameters missing".into()))?;
        let epoch = genesis::epoch_at(self.initial_height, beacon.interval, block.height);
        let info = BlockInfo {
            height: block.height,
            time: block.time,
            epoch,
        };
        let mut block_events = Vec::new();

        // The block's signers certified the previous block: count them
        // toward the epoch that block belonged to, before any transition.
        if last.is_some() {
            Staking::new(store)
                .record_signing(&block.signers)
                .map_err(into_fatal)?;
        }
        if let Some(prev) = last.as_ref().filter(|l| l.epoch != epoch) {
            let events = Staking::new(store)
                .reward_epoch(prev.epoch)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            let events = Staking::new(store)
                .process_debonding(epoch)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            let events = Registry::new(store)
                .expire_nodes(epoch)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
            self.elect(store, &beacon, epoch, block)?;
            let events = Roothash::new(store, &self.commit_context)
                .on_epoch(info)
                .map_err(into_fatal)?;
            block_events.extend(events.into_iter().map(Event::from));
        }
        for node in &block.equivocators {
            Roothash::new(store, &self.commit_context)
                .slash_node(node, staking::SlashReason::ConsensusEquivocation, info)
                .map_err(into_fatal)?;
        }
        let debug = store.get_typed::<bool>(&[DEBUG_NETWORK])?.unwrap_or(false);

        let checked = self.verify_signatures(block, &params);
        // Gas prices change only between blocks (by governance), so they are
        // read once per block.
        let gas_table = GasTable::load(store)?;
        let mut env = BlockEnv {
            params: &params,
            gas_table: &gas_table,
            info,
            debug,
            gas_left: (params.max_block_gas > 0).then_some(params.max_block_gas),
        };
        let mut tx_results = Vec::with_capacity(block.txs.len());
        for (raw, (decoded, sig_ok)) in block.txs.iter().zip(checked) {
            tx_results.push(self.deliver_tx(store, raw, decoded, sig_ok, &mut env)?);
        }

        let events = Roothash::new(store, &self.commit_context)
            .end_block(info)
            .map_err(into_fatal)?;
        block_events.extend(events.into_iter().map(Event::from));
        Staking::new(store)
            .distribute_fees(block.proposer.as_ref(), &block.signers)
            .map_err(into_fatal)?;
        store.put_typed(
            &[LAST_BLOCK],
            &LastBlock {
                height: block.height,
                epoch,
            },
        )?;
        Ok(BlockResult {
            height: block.height,
            epoch,
            tx_results,
            events: block_events,
        })
    }

    /// Runs the epoch's elections from the beacon's entropy.
    fn elect(
        &self,
        store: &mut dyn Store,
        beacon_params: &BeaconParameters,
        epoch: Epoch,
        block: &Block,
    ) -> Result<(), FatalError> {
        match beacon_params.backend {
            beacon::Backend::Insecure => {
                let entropy =
                    beacon::insecure_entropy(&self.chain_context, epoch, &block.prev_hash);
                scheduler::on_epoch(store, epoch, &entropy, None).map_err(into_fatal)
            }
            beacon::Backend::Vrf => {
                let finished = beacon::finish_vrf_epoch(store, &beacon_params.vrf)?;
                let next_input = match &finished {
                    Some((entropy, proved)) => {
                        scheduler::on_epoch(store, epoch, entropy, Some(proved))
                            .map_err(into_fatal)?;
                        *entropy
                    }
                    None => {
                        scheduler::skip_epoch(store).map_err(into_fatal)?;
                        beacon::vrf_state(store)?
                            .map(|s| s.alpha)
                            .unwrap_or_default()
                    }
                };
                beacon::start_vrf_epoch(
                    store,
                    &self.chain_context,
                    epoch,
                    &next_input,
                    block.height,
                    &beacon_params.vrf,
                )
            }
        }
    }

    /// Whether each transaction's signature verifies: those not already
    /// verified (see [`App`]) in one batch for the block, and single checks
    /// only if the batch fails.
    fn verify_signatures(
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
    fn deliver_tx(
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
        let env = DispatchEnv {
            info,
            debug,
            commit_ctx: &self.commit_context,
        };
        let result =
            dispatch(&mut overlay, tx, &signed.signature.public_key, &env).and_then(|events| {
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

/// Every service's gas parameters, to price any method.
pub struct GasTable {
    beacon: BeaconParameters,
    staking: staking::Parameters,
    registry: registry::Parameters,
    roothash: roothash::Parameters,
}

impl GasTable {
    /// Loads the current gas parameters.
    pub fn load(store: &mut dyn Store) -> Result<Self, FatalError> {
        Ok(Self {
            beacon: store
                .get_typed(&[BEACON_PARAMETERS])?
                .ok_or_else(|| FatalError::Invariant("beacon parameters missing".into()))?,
            staking: Staking::new(&mut *store).state().parameters()?,
            registry: Registry::new(&mut *store).state().parameters()?,
            roothash: roothash::state::RoothashState::new(store).parameters()?,
        })
    }

    /// Gas a method needs, or `None` for an unknown method.
    pub fn method_gas(&self, method: &str) -> Option<u64> {
        let g = &self.staking.gas_costs;
        Some(match method {
            methods::TRANSFER => g.transfer,
            methods::BURN => g.burn,
            methods::ADD_ESCROW => g.add_escrow,
            methods::RECLAIM_ESCROW => g.reclaim_escrow,
            methods::ALLOW => g.allow,
            methods::WITHDRAW => g.withdraw,
            methods::AMEND_COMMISSION_SCHEDULE => g.amend_commission_schedule,
            beacon::methods::VRF_PROVE => self.beacon.vrf.gas_vrf_prove,
            other => {
                return registry::method_gas(&self.registry, other)
                    .or_else(|| roothash::method_gas(&self.roothash, other));
            }
        })
    }
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

fn body<T: serde::de::DeserializeOwned>(tx: &Transaction) -> Result<T, Failure> {
    let value = tx.body.clone().unwrap_or(Value::Null);
    cbor::from_value(value).map_err(|e| {
        ConsensusError::MalformedBody {
            method: tx.method.clone(),
            reason: e.to_string(),
        }
        .into()
    })
}

/// What a dispatched method may need besides its body and signer.
struct DispatchEnv<'a> {
    info: BlockInfo,
    debug: bool,
    commit_ctx: &'a Context,
}

fn dispatch(
    store: &mut dyn Store,
    tx: &Transaction,
    signer_key: &atoll_crypto::ed25519::PublicKey,
    env: &DispatchEnv<'_>,
) -> Result<Vec<Event>, Failure> {
    let signer = &Address::from_ed25519(signer_key);
    let epoch = env.info.epoch;
    let events: Vec<Event> = match tx.method.as_str() {
        methods::TRANSFER => vec![Staking::new(store).transfer(signer, &body(tx)?)?.into()],
        methods::BURN => vec![Staking::new(store).burn(signer, &body(tx)?)?.into()],
        methods::ADD_ESCROW => vec![Staking::new(store).add_escrow(signer, &body(tx)?)?.into()],
        methods::RECLAIM_ESCROW => {
            vec![
                Staking::new(store)
                    .reclaim_escrow(signer, &body(tx)?, epoch)?
                    .into(),
            ]
        }
        methods::ALLOW => vec![Staking::new(store).allow(signer, &body(tx)?)?.into()],
        methods::AMEND_COMMISSION_SCHEDULE => vec![
            Staking::new(store)
                .amend_commission_schedule(signer, &body(tx)?, epoch)?
                .into(),
        ],
        methods::WITHDRAW => Staking::new(store)
            .withdraw(signer, &body(tx)?)?
            .into_iter()
            .map(Event::from)
            .collect(),
        registry::methods::REGISTER_ENTITY => {
            vec![
                Registry::new(store)
                    .register_entity(signer_key, &body(tx)?)?
                    .into(),
            ]
        }
        registry::methods::DEREGISTER_ENTITY => {
            vec![Registry::new(store).deregister_entity(signer_key)?.into()]
        }
        registry::methods::REGISTER_NODE => vec![
            Registry::new(store)
                .register_node(signer_key, &body(tx)?, epoch, env.debug)?
                .into(),
        ],
        registry::methods::UNFREEZE_NODE => {
            vec![
                Registry::new(store)
                    .unfreeze_node(signer_key, &body(tx)?, epoch)?
                    .into(),
            ]
        }
        registry::methods::REGISTER_RUNTIME => {
            let event =
                Registry::new(&mut *store).register_runtime(signer_key, &body(tx)?, env.debug)?;
            if let registry::Event::Runtime { id } = &event {
                let runtime = Registry::new(&mut *store)
                    .state()
                    .runtime(id)?
                    .ok_or_else(|| FatalError::Invariant("registered runtime missing".into()))?;
                Roothash::new(store, env.commit_ctx).init_runtime(&runtime, env.info)?;
            }
            vec![event.into()]
        }
        roothash::methods::EXECUTOR_COMMIT => Roothash::new(store, env.commit_ctx)
            .executor_commit(&body(tx)?, env.info)?
            .into_iter()
            .map(Event::from)
            .collect(),
        beacon::methods::VRF_PROVE => {
            beacon::vrf_prove(store, signer_key, &body(tx)?, env.info.height)?;
            Vec::new()
        }
        roothash::methods::EVIDENCE => {
            Roothash::new(store, env.commit_ctx).evidence(&body(tx)?, env.info)?;
            Vec::new()
        }
        other => return Err(ConsensusError::UnknownMethod(other.to_owned()).into()),
    };
    Ok(events)
}

fn fatal(r: Result<(), Failure>) -> Result<(), FatalError> {
    r.map_err(into_fatal)
}

/// A failure where only a fatal one is possible (system operations): a
/// client-facing error there means an invariant broke.
fn into_fatal(f: Failure) -> FatalError {
    match f {
        Failure::Fatal(e) => e,
        Failure::Tx(e) => FatalError::Invariant(format!("system operation failed: {e}")),
    }
}

fn fatal_as_tx(e: FatalError) -> TxError {
    TxError::new(MODULE, 0, format!("node error: {e}"))
}

/// A read-only view used where staking's accessors want a mutable store
/// but only read (mempool checks). Writes are refused as an invariant break.
struct ReadOnly<'a>(&'a dyn Store);

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

    fn range(&self, start: &[u8], end: Option<&[u8]>) -> Result<crate::state::Entries, FatalError> {
        self.0.range(start, end)
    }
}

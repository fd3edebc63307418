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
//!      runs in an [`atoll_state::Overlay`]: on success its writes are kept, on failure they
//!      are discarded and only the fee and nonce change remains. A write the
//!      state store could never hold (over its key or value limit) fails the
//!      transaction here, so committing the block's state cannot fail on
//!      anything a transaction chose.
//! 4. The block's fees go to its proposer and to the validators that signed.

mod block;
mod methods;
mod pipeline;

pub use self::block::{EpochStart, epoch_start};
pub use self::methods::GasTable;
use self::pipeline::DecodedCache;

use std::sync::Arc;

use parking_lot::Mutex;

use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::{Address, Hash};
use atoll_types::cbor;
use atoll_types::{Epoch, Quantity};
use serde::{Deserialize, Serialize};

use crate::event::Event;
use crate::genesis::{self, ConsensusParameters, Genesis};
use atoll_consensus_types::roothash;
use atoll_state::{Failure, FatalError, ModuleError, TxError};

/// The module name of errors raised by the transaction pipeline itself.
pub const MODULE: &str = "consensus";

/// The signature context of consensus transactions (bound to the chain).
pub const TX_SIGNATURE_CONTEXT: &str = "oasis-core/consensus: tx";

const CONSENSUS_PARAMETERS: u8 = 0x01;
const BEACON_PARAMETERS: u8 = 0x02;
const LAST_BLOCK: u8 = 0x03;
const DEBUG_NETWORK: u8 = 0x04;
/// The current epoch and the height of its first block (`EpochStart`).
const EPOCH_START: u8 = 0x05;

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
    UnstorableWrite(#[from] atoll_state::Unstorable),
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
    verified: Arc<Mutex<atoll_state::RecentHashes>>,
    decoded: Arc<Mutex<DecodedCache>>,
}

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
            verified: Arc::new(Mutex::new(atoll_state::RecentHashes::new(VERIFIED_CACHE))),
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

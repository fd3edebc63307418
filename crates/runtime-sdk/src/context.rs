//! What a module sees while it runs: the batch's deterministic inputs, the
//! state, the gas meter, and the events and messages it emits.

use atoll_consensus_types::roothash::{Message, RoundResults};
use atoll_crypto::context::{ChainContext, Context as SigContext};
use atoll_crypto::secp256k1::EthAddress;
use atoll_crypto::{Address, CryptoError, Hash};
use atoll_types::Namespace;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::modules::core::CoreError;
use crate::state::Store;
use crate::types::AuthInfo;

/// The deterministic inputs of one runtime round, given by the host. The
/// SDK reads nothing else from its surroundings: no clock, no randomness.
#[derive(Clone, Debug)]
pub struct BatchContext {
    /// The runtime's id.
    pub runtime_id: Namespace,
    /// The consensus layer's chain context (hex of its genesis hash).
    pub consensus_chain_context: ChainContext,
    /// The runtime round being executed.
    pub round: u64,
    /// The consensus height the round builds on.
    pub consensus_height: u64,
    /// The consensus epoch at that height.
    pub epoch: u64,
    /// The runtime's own account on the consensus layer.
    pub runtime_address: Address,
    /// The consensus block timestamp the round builds on (seconds since the
    /// Unix epoch; 0 unless set with [`BatchContext::with_timestamp`]).
    pub timestamp: u64,
    /// The hash of the previous runtime block header (round - 1, as the
    /// consensus layer finalized it); all zeros unless set with
    /// [`BatchContext::with_previous_hash`].
    pub previous_hash: Hash,
    /// What consensus recorded of the runtime's last normal round (the
    /// round whose state this batch builds on): which entities' nodes
    /// committed its results. The host adapter reads it from the consensus
    /// state at `consensus_height` for executed batches; `None` in checks
    /// and queries, and before the first normal round. Fees and rewards
    /// are paid from it.
    pub round_results: Option<RoundResults>,
    signature_context: SigContext,
}

impl BatchContext {
    /// The context of `round` of `runtime_id`; the runtime's consensus
    /// address is derived from its id, as the consensus layer does.
    pub fn new(
        runtime_id: Namespace,
        consensus_chain_context: ChainContext,
        round: u64,
        consensus_height: u64,
        epoch: u64,
    ) -> Result<Self, CryptoError> {
        let signature_context =
            crate::crypto::tx_signature_context(&runtime_id, &consensus_chain_context)?;
        Ok(Self {
            runtime_address: Address::from_runtime_id(runtime_id.as_bytes()),
            runtime_id,
            consensus_chain_context,
            round,
            consensus_height,
            epoch,
            timestamp: 0,
            previous_hash: Hash::default(),
            round_results: None,
            signature_context,
        })
    }

    /// The same context with the consensus block timestamp (seconds).
    pub fn with_timestamp(mut self, timestamp: u64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same context with the hash of the previous runtime block header.
    pub fn with_previous_hash(mut self, previous_hash: Hash) -> Self {
        self.previous_hash = previous_hash;
        self
    }

    /// The same context with the results of the last normal round.
    pub fn with_round_results(mut self, round_results: Option<RoundResults>) -> Self {
        self.round_results = round_results;
        self
    }

    /// The same context for another round (and consensus height and epoch);
    /// the timestamp and previous hash are kept (set them again with the
    /// builders when they change), the round results are dropped.
    pub fn at_round(&self, round: u64, consensus_height: u64, epoch: u64) -> Self {
        Self {
            round,
            consensus_height,
            epoch,
            round_results: None,
            ..self.clone()
        }
    }

    /// The context transactions are signed under.
    pub fn signature_context(&self) -> &SigContext {
        &self.signature_context
    }
}

/// An event (module, code, CBOR value): defined by the runtime ABI.
pub use atoll_runtime_host::abi::Event;

/// Why the dispatcher is running a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Executing a batch: state changes are kept.
    Execute,
    /// Checking a transaction for the pool: nothing is kept.
    Check,
    /// Simulating (gas estimation, queries): nothing is kept.
    Simulate,
}

/// The transaction a call belongs to.
#[derive(Clone, Debug)]
pub struct TxEnv {
    /// Hash of the raw transaction.
    pub hash: Hash,
    /// Its signers and fee.
    pub auth_info: AuthInfo,
    /// The first signer's address.
    pub caller: Address,
    /// The caller's Ethereum address, when it is a `secp256k1eth` signer
    /// (or an Ethereum address given to `core.EstimateGasForCaller`);
    /// `None` for Ed25519 signers.
    pub caller_eth: Option<EthAddress>,
    /// The raw transaction's size in bytes.
    pub size: usize,
}

/// A continuation: which message-result handler runs when the result of a
/// consensus message comes back, and the payload it gets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageHook {
    /// The handler's name, for example `consensus.WithdrawIntoRuntime`.
    pub handler: String,
    /// What the handler needs to finish the operation.
    pub payload: Value,
}

/// Gas accounting of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GasMeter {
    /// The most gas the call may use.
    pub limit: u64,
    /// Gas used so far.
    pub used: u64,
}

impl GasMeter {
    /// Charges `amount`. Going over the limit uses the whole limit and fails
    /// with `core.OutOfGas`.
    pub fn use_gas(&mut self, amount: u64) -> Result<(), Error> {
        let wanted = self
            .used
            .checked_add(amount)
            .ok_or(CoreError::GasOverflow)?;
        if wanted > self.limit {
            self.used = self.limit;
            return Err(CoreError::OutOfGas {
                limit: self.limit,
                wanted,
            }
            .into());
        }
        self.used = wanted;
        Ok(())
    }

    /// Gas left.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }
}

/// The context of a call, a message-result handler or a block hook.
pub struct Context<'a> {
    batch: &'a BatchContext,
    store: &'a mut dyn Store,
    mode: Mode,
    tx: Option<&'a TxEnv>,
    gas: GasMeter,
    events: Vec<Event>,
    messages: Vec<(Message, MessageHook)>,
    message_limit: u32,
    refund_unused_fee: bool,
}

/// What a finished context leaves behind.
pub(crate) struct ContextOutput {
    pub events: Vec<Event>,
    pub messages: Vec<(Message, MessageHook)>,
    pub gas: GasMeter,
    pub refund_unused_fee: bool,
}

impl<'a> Context<'a> {
    /// A context outside any transaction (block hooks, message results):
    /// no gas limit, no caller, up to `message_limit` messages.
    pub(crate) fn for_block(
        batch: &'a BatchContext,
        store: &'a mut dyn Store,
        mode: Mode,
        message_limit: u32,
    ) -> Self {
        Self {
            batch,
            store,
            mode,
            tx: None,
            gas: GasMeter {
                limit: u64::MAX,
                used: 0,
            },
            events: Vec::new(),
            messages: Vec::new(),
            message_limit,
            refund_unused_fee: false,
        }
    }

    /// A context for a transaction's call.
    pub(crate) fn for_tx(
        batch: &'a BatchContext,
        store: &'a mut dyn Store,
        mode: Mode,
        tx: &'a TxEnv,
        gas: GasMeter,
    ) -> Self {
        Self {
            batch,
            store,
            mode,
            message_limit: tx.auth_info.fee.consensus_messages,
            tx: Some(tx),
            gas,
            events: Vec::new(),
            messages: Vec::new(),
            refund_unused_fee: false,
        }
    }

    pub(crate) fn finish(self) -> ContextOutput {
        ContextOutput {
            events: self.events,
            messages: self.messages,
            gas: self.gas,
            refund_unused_fee: self.refund_unused_fee,
        }
    }

    /// The batch's inputs.
    pub fn batch(&self) -> &BatchContext {
        self.batch
    }

    /// The state, for writing.
    pub fn store(&mut self) -> &mut dyn Store {
        self.store
    }

    /// The state, for reading.
    pub fn store_ref(&self) -> &dyn Store {
        self.store
    }

    /// Why this call runs.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether this is a pool check (whose effects are thrown away).
    pub fn is_check_only(&self) -> bool {
        self.mode == Mode::Check
    }

    /// The transaction, in a call.
    pub fn tx(&self) -> Option<&TxEnv> {
        self.tx
    }

    /// The caller (first signer), in a call; otherwise `core.InvalidArgument`.
    pub fn caller(&self) -> Result<Address, Error> {
        self.tx
            .map(|t| t.caller)
            .ok_or_else(|| crate::error::invalid_argument("no caller outside a transaction"))
    }

    /// Charges gas to the call.
    pub fn use_gas(&mut self, amount: u64) -> Result<(), Error> {
        self.gas.use_gas(amount)
    }

    /// The call's gas meter.
    pub fn gas(&self) -> GasMeter {
        self.gas
    }

    /// Asks for the unused part of the fee to be refunded after this call
    /// (the SDK's `set_refund_unused_tx_fee`). Calls that do not ask pay
    /// their whole fee.
    pub fn set_refund_unused_fee(&mut self) {
        self.refund_unused_fee = true;
    }

    /// Emits an event; it is kept only if the call succeeds.
    pub fn emit_event<T: Serialize>(
        &mut self,
        module: &str,
        code: u32,
        value: &T,
    ) -> Result<(), Error> {
        let value = atoll_types::cbor::to_value(value)
            .map_err(|e| crate::error::FatalError::Invariant(format!("event encoding: {e}")))?;
        self.events.push(Event {
            module: module.to_owned(),
            code,
            value,
        });
        Ok(())
    }

    /// Emits a message to the consensus layer, to be executed when this
    /// round finalizes; `hook` runs when its result comes back. A call may
    /// emit at most `fee.consensus_messages` messages
    /// (`core.OutOfMessageSlots`).
    pub fn emit_message(&mut self, message: Message, hook: MessageHook) -> Result<(), Error> {
        if self.messages.len() >= self.message_limit as usize {
            return Err(CoreError::OutOfMessageSlots.into());
        }
        self.messages.push((message, hook));
        Ok(())
    }
}

/// The context of a query: read-only state at the latest round.
pub struct QueryContext<'a> {
    /// The inputs of the round the query reads.
    pub batch: &'a BatchContext,
    /// The state.
    pub store: &'a dyn Store,
}

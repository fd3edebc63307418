//! The runtime SDK of atoll: what a ParaTime is made of.
//!
//! A runtime is a list of [`Module`]s driven by a dispatcher. The runtime
//! host (another crate) calls the entry points on [`Runtime`] with a
//! [`BatchContext`] (runtime id, consensus chain context, round, consensus
//! height and epoch: every input is deterministic) and a [`Store`]. Its
//! [`host`] module serves a runtime over the runtime host protocol (the
//! runtime side only: the node spawns and supervises the process); the
//! rest knows nothing of processes, sockets or the BFT engine.
//!
//! # Entry points
//!
//! - [`Runtime::init_genesis`]: each module's parameters and initial state.
//! - [`Runtime::process_message_results`]: finishes the operations whose
//!   consensus messages (emitted by the previous round) have results. Call
//!   it before each batch, with an empty list when there were none.
//! - [`Runtime::execute_batch`]: runs a batch; returns per-transaction
//!   results (a CBOR value or module + code + message, gas used, events),
//!   block events, and the consensus messages to put in the commitment.
//! - [`Runtime::check_tx`]: admission for the transaction pool;
//!   [`Runtime::check_batch`] checks many at once, fetching the state they
//!   read together.
//! - [`Runtime::query`] and [`Runtime::estimate_gas`]: read-only.
//!
//! ```
//! use std::collections::BTreeMap;
//! use atoll_crypto::{Hash, context::ChainContext, ed25519::SigningKey};
//! use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction};
//! use atoll_runtime_sdk::modules::accounts::{self, Transfer};
//! use atoll_runtime_sdk::state::MemStore;
//! use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
//! use atoll_runtime_sdk::{BatchContext, Runtime, RuntimeGenesis};
//! use atoll_types::{Namespace, Quantity, cbor};
//!
//! let rt = Runtime::standard()?;
//! let alice = TxSigner::Ed25519(SigningKey::from_seed(&[1; 32]));
//! let bob = TxSigner::Ed25519(SigningKey::from_seed(&[2; 32]));
//! let funds = BTreeMap::from([(Denomination::NATIVE, Quantity(1_000_000))]);
//! let genesis = RuntimeGenesis::default().with("accounts", &accounts::Genesis {
//!     balances: BTreeMap::from([(alice.address(), funds.clone())]),
//!     total_supplies: funds,
//!     ..Default::default()
//! })?;
//! let mut store = MemStore::new();
//! rt.init_genesis(&mut store, &genesis)?;
//!
//! let ctx = BatchContext::new(
//!     Namespace([0; 32]),
//!     ChainContext::from_hash(&Hash::digest(b"consensus genesis")),
//!     1, 10, 0,
//! )?;
//! let body = Transfer { to: bob.address(), amount: BaseUnits::native(500) };
//! let mut tx = Transaction::new("accounts.Transfer", cbor::to_value(&body)?);
//! tx.auth_info.signer_info.push(SignerInfo { address_spec: alice.address_spec(), nonce: 0 });
//! tx.auth_info.fee.gas = 5_000;
//! let raw = cbor::to_vec(&sign_transaction(ctx.signature_context(), &tx, &[&alice])?)?;
//!
//! rt.check_tx(&ctx, &store, &raw)?;
//! rt.process_message_results(&ctx, &mut store, &[])?;
//! let result = rt.execute_batch(&ctx, &mut store, &[raw])?;
//! assert!(result.results[0].result.is_success());
//! assert_eq!(accounts::balance(&store, &bob.address(), &Denomination::NATIVE)?, 500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Transaction format
//!
//! The Oasis SDK's, byte for byte (see [`types`]): an
//! `UnverifiedTransaction(body, [AuthProof])` whose body is the canonical
//! CBOR of `Transaction { v: 1, call: { format, method, body }, ai: { si:
//! [{ address_spec, nonce }], fee: { amount: BaseUnits, gas,
//! consensus_messages } } }`. Signers are Ed25519 or secp256k1
//! (`secp256k1eth`: compressed key in the spec, DER signature, address from
//! the Ethereum address). Signatures are over the body under the context
//! `"oasis-runtime-sdk/tx: v0 for chain " || hex(H(runtime_id ||
//! consensus_chain_context))` (see [`crypto`]). Multisig, sr25519, fee
//! proxies and encrypted calls are not supported yet; such transactions
//! are refused as malformed or with `core.InvalidCallFormat`.
//!
//! # Dispatch order (execution)
//!
//! 1. Size: above `max_tx_size` is `core.OversizedTransaction` (23).
//! 2. Decoding: bounded, canonical CBOR, decoded and re-encoded to the same
//!    bytes (both the envelope and the body), version 1, at least one and
//!    at most `max_tx_signers` signers, one proof per signer, then all
//!    signatures (Ed25519 in one batch). Failures are
//!    `core.MalformedTransaction` (1), `core.InvalidTransaction` (2) or
//!    `core.TooManyAuth` (15).
//! 3. Static checks: plain call format, `not_before`/`not_after` against
//!    the round, gas limit at most `max_batch_gas`, consensus messages at
//!    most `max_messages`, the fee's gas price (`amount / gas`) at least the
//!    minimum of its denomination, the batch's remaining gas and message
//!    slots.
//! 4. Authentication, in a transaction overlay: every signer's nonce must
//!    equal its account nonce (`core.InvalidNonce`, 4) and is incremented;
//!    the whole fee is taken from the first signer
//!    (`core.InsufficientFeeBalance`, 5).
//!
//!    Anything refused up to here changes no state at all and uses no gas.
//!    (The SDK does the step 3 checks after taking the fee; atoll does them
//!    first, so a refused transaction never costs its sender.)
//! 5. The call, in a nested overlay: intrinsic gas (`tx_byte` × size +
//!    `auth_signature` × signers), then the module's handler (unknown
//!    method: `core.InvalidMethod`, 3). A read-only call that wrote fails
//!    with `core.ReadOnlyTransaction`. On failure the call's writes, events
//!    and messages are dropped, while the fee and the nonces stay.
//! 6. Settlement: the fee goes to the `core.fee-accumulator` account, an
//!    `accounts.Transfer` event records it, and `core.GasUsed` is emitted;
//!    emitted messages get their batch index and their result hooks are
//!    stored.
//!
//! # Gas policy
//!
//! As the SDK: the fee is `gas × price` paid up front for the whole gas
//! limit, and it is kept in full unless the called method asks for a
//! refund of the unused part ([`Context::set_refund_unused_fee`], which the
//! SDK's EVM uses; none of the standard modules does). Running out of gas
//! (`core.OutOfGas`, 12) uses the whole limit. The batch's gas is the sum
//! of the gas its transactions used; the first transaction whose limit does
//! not fit in what is left ends the batch, and it and those after it are
//! left out of the block (they stay in the pool for the next round). So a
//! proposer may offer more than the declared limits allow, and the batch is
//! packed by the gas actually used, as the SDK's scheduler packs it. Fees are not yet disbursed to
//! the round's good compute nodes: they accumulate in the fee accumulator.
//!
//! # State
//!
//! Keys are `module_name || sub-prefix || fields` (see [`state`]); values
//! are canonical CBOR. Nested rollback uses the consensus crate's
//! [`Overlay`](state::Overlay); queries and simulations run on a
//! [`ReadOverlay`](state::ReadOverlay) that is never written back.
//!
//! # Module-decoded transactions
//!
//! An `UnverifiedTransaction(body, [{"module": scheme}])` is handed to the
//! modules' [`Module::decode_tx`] hook: the module that owns `scheme` (the
//! EVM module owns `"evm.ethereum.v0"`, whose body is a raw Ethereum
//! transaction) authenticates it and returns the SDK [`types::Transaction`]
//! it stands for; then it goes through the same static checks,
//! authentication (nonce, fee) and dispatch as any other transaction. A
//! scheme no module owns is `core.MalformedTransaction`. Recovered signers
//! are cached ([`SignerCache`]), and [`Runtime::preverify`] lets the modules
//! recover them ahead of the batch on several threads
//! ([`Module::preverify_tx`]).
//!
//! # Gas estimation
//!
//! `core.EstimateGas` and `core.EstimateGasForCaller` (for a caller known
//! only by its address, such as `eth_estimateGas`'s `from`) run the
//! transaction through the dispatcher's own call path on a scratch state,
//! then make sure the estimate suffices as a gas limit (see
//! [`Runtime::estimate_gas_for_caller`]).
//!
//! # Not yet
//!
//! Multisig and sr25519 transactions; encrypted
//! calls; fee proxies; the dynamic minimum gas price; storage-byte and
//! per-message gas floors; fee disbursement to compute nodes; delegation
//! (`consensus.Delegate`/`Undelegate`); `check_tx` does not run the call
//! (the SDK runs it in check mode); block hooks and message-result handlers
//! cannot emit messages.

pub mod context;
pub mod crypto;
mod dispatcher;
pub mod error;
pub mod host;
pub mod module;
pub mod modules;
pub mod runtime;
pub mod signers;
pub mod state;
pub mod types;

pub use atoll_consensus_types::roothash::{Message, MessageResult};
pub use context::{BatchContext, Context, Event, GasMeter, MessageHook, Mode, QueryContext, TxEnv};
pub use dispatcher::{BatchResult, CheckedTx, Prefetch, TxResult};
pub use error::{Error, FatalError, ModuleError, TxError};
pub use module::{DecodeContext, MethodInfo, MethodKind, Module};
pub use runtime::{BuildError, Runtime, RuntimeBuilder, RuntimeConfig, RuntimeGenesis};
pub use signers::SignerCache;
pub use state::Store;

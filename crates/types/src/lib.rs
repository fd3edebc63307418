//! Canonical CBOR and the common types of atoll.
//!
//! - [`cbor`]: the strict canonical CBOR codec (serde-based) that everything
//!   signed, hashed or stored goes through.
//! - [`Quantity`]: token amounts (u128 base units, Oasis's big-integer encoding).
//! - [`Epoch`], [`Height`], [`Round`]: consensus time.
//! - [`Namespace`]: runtime identifiers.
//! - [`signed`]: `Signed<T>`, a body signed in a domain-separated context.
//! - [`transaction`]: the consensus transaction envelope.
//! - Re-exported from `atoll-crypto`: [`Hash`](struct@Hash), [`Address`], [`PublicKey`], [`Signature`].
//!
//! ```
//! use atoll_crypto::context::{ChainContext, Context};
//! use atoll_crypto::ed25519::SigningKey;
//! use atoll_types::transaction::{Fee, SignedTransaction, Transaction};
//! use atoll_types::{Quantity, cbor};
//!
//! let chain = ChainContext::from_hash(&atoll_types::Hash::digest(b"genesis"));
//! let ctx = Context::for_chain("oasis-core/consensus: tx", &chain)?;
//! let tx = Transaction {
//!     nonce: 0,
//!     fee: Some(Fee { amount: Quantity(100), gas: 1000 }),
//!     method: "staking.Transfer".into(),
//!     body: None,
//! };
//! let signed = SignedTransaction::sign(&SigningKey::from_seed(&[1; 32]), &ctx, &tx)?;
//! let wire = cbor::to_vec(&signed)?;
//! let received: SignedTransaction = cbor::from_slice(&wire)?;
//! assert_eq!(received.open(&ctx)?, tx);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cbor;
pub mod namespace;
pub mod quantity;
pub mod signed;
mod time;
pub mod transaction;

pub use atoll_crypto::ed25519::{PublicKey, Signature};
pub use atoll_crypto::{Address, Hash};
pub use namespace::Namespace;
pub use quantity::Quantity;
pub use time::{Epoch, Height, Round};

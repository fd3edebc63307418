//! Canonical CBOR and the common types of atoll.
//!
//! Every later crate encodes through this one: consensus transactions,
//! runtime calls, node RPC. It holds:
//!
//! - [`cbor`]: a strict canonical CBOR codec with serde support, byte
//!   compatible with Oasis's encoding. The decoder accepts only the canonical
//!   form, is bounded by [`cbor::DecodeLimits`], and never panics.
//! - [`signed`]: Oasis's signed envelope, [`Signed<T>`](signed::Signed), and
//!   its [`SignatureBundle`].
//! - [`transaction`]: the consensus transaction and its signed envelope,
//!   [`SignedTransaction`](transaction::SignedTransaction).
//! - The common types: [`Quantity`] (token amounts), [`Epoch`], [`Height`],
//!   [`Round`] and [`Namespace`], plus re-exports of [`Hash`](struct@Hash), [`Address`],
//!   [`PublicKey`] and [`Signature`] from `atoll-crypto`.
//!
//! ```
//! use atoll_types::{Epoch, Quantity, cbor};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Escrow {
//!     amount: Quantity,
//!     #[serde(default, skip_serializing_if = "Option::is_none")]
//!     until: Option<Epoch>,
//! }
//!
//! let e = Escrow { amount: Quantity::from(256u64), until: None };
//! let bytes = cbor::to_vec(&e)?;
//! // {"amount": h'0100'}
//! assert_eq!(bytes, [0xa1, 0x66, b'a', b'm', b'o', b'u', b'n', b't', 0x42, 0x01, 0x00]);
//! assert_eq!(cbor::from_slice::<Escrow>(&bytes)?, e);
//!
//! // Non-canonical input is refused: here the key order is wrong.
//! let unsorted = [0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02];
//! assert!(matches!(
//!     cbor::decode_value(&unsorted),
//!     Err(cbor::DecodeError::OutOfOrderKey { offset: 4 })
//! ));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Signing and opening a consensus transaction:
//!
//! ```
//! use atoll_crypto::context::{ChainContext, Context};
//! use atoll_crypto::ed25519::SigningKey;
//! use atoll_types::transaction::{Fee, SignedTransaction, Transaction};
//! use atoll_types::{Hash, Quantity, cbor};
//!
//! let chain = ChainContext::from_hash(&Hash::digest(b"genesis"));
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

#[macro_use]
mod counter;

pub mod cbor;
pub mod epoch;
pub mod height;
pub mod namespace;
pub mod quantity;
pub mod round;
pub mod signed;
pub mod transaction;

pub use atoll_crypto::Address;
pub use atoll_crypto::Hash;
pub use atoll_crypto::ed25519::{PublicKey, Signature};
pub use epoch::Epoch;
pub use height::Height;
pub use namespace::Namespace;
pub use quantity::Quantity;
pub use round::Round;
pub use signed::{SignatureBundle, Signed, SignedError};

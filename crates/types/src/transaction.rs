//! The consensus transaction envelope (Oasis's format).
//!
//! `SignedTransaction { untrusted_raw_value: cbor(Transaction), signature }`,
//! signed in the context `oasis-core/consensus: tx for chain <chain context>`.

use serde::{Deserialize, Serialize};

use crate::cbor::Value;
use crate::quantity::Quantity;
use crate::signed::Signed;

/// What a transaction pays: `amount` for up to `gas` units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    /// Tokens paid, whatever the gas used.
    #[serde(default)]
    pub amount: Quantity,
    /// Most gas the transaction may use.
    #[serde(default)]
    pub gas: u64,
}

/// An unsigned consensus transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The signer's next nonce.
    pub nonce: u64,
    /// The fee (absent means no fee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Fee>,
    /// `"service.Method"`.
    pub method: String,
    /// The method's argument (absent for methods without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A signed consensus transaction.
pub type SignedTransaction = Signed<Transaction>;

//! The consensus transaction envelope (Oasis's format).
//!
//! `SignedTransaction { untrusted_raw_value: cbor(Transaction), signature }`,
//! signed in the context `oasis-core/consensus: tx for chain <chain context>`.

use serde::{Deserialize, Serialize};

use crate::cbor::{self, EncodeError, Value};
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

impl Fee {
    /// A fee of `amount` for up to `gas` units.
    pub const fn new(amount: Quantity, gas: u64) -> Self {
        Self { amount, gas }
    }
}

impl Transaction {
    /// A transaction calling `method` with `body` (stored as its CBOR value),
    /// with the signer's `nonce` and what it pays.
    pub fn call<B: Serialize + ?Sized>(
        nonce: u64,
        fee: Fee,
        method: &str,
        body: &B,
    ) -> Result<Self, EncodeError> {
        Ok(Self {
            nonce,
            fee: Some(fee),
            method: method.to_owned(),
            body: Some(cbor::to_value(body)?),
        })
    }
}

/// A signed consensus transaction.
pub type SignedTransaction = Signed<Transaction>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_holds_the_body_as_its_cbor_value() {
        let tx = Transaction::call(7, Fee::new(Quantity(3), 1_000), "x.Y", &(1u8, "z")).unwrap();
        assert_eq!(tx.nonce, 7);
        assert_eq!(
            tx.fee,
            Some(Fee {
                amount: Quantity(3),
                gas: 1_000
            })
        );
        assert_eq!(tx.method, "x.Y");
        assert_eq!(tx.body, Some(cbor::to_value(&(1u8, "z")).unwrap()));
    }
}

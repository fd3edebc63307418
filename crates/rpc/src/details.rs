//! `consensus_getBlockDetails`: a committed block's transactions decoded
//! (signer, nonce, fee, method, body) beside their results, and the
//! validators whose signatures certified the previous block. What the
//! explorer shows; the decoding is a pure function of the stored bytes.

use atoll_consensus::app::TxResult;
use atoll_crypto::{Address, Hash};
use atoll_types::cbor;
use atoll_types::transaction::{Fee, SignedTransaction, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::cbor_to_json;

/// A block's body as the node keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockBody {
    /// Raw signed transactions, in block order.
    pub txs: Vec<Vec<u8>>,
    /// The validators' accounts that certified the previous block, with
    /// their voting power.
    pub signers: Vec<(Address, u64)>,
}

/// A validator that signed, with its voting power.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSigner {
    /// Its entity's account.
    pub address: Address,
    /// Its voting power.
    pub power: u64,
}

/// A committed transaction, decoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedTx {
    /// Its hash.
    pub hash: Hash,
    /// The signer's account (none when the envelope does not decode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<Address>,
    /// The signer's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<u64>,
    /// What it offered to pay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Fee>,
    /// `"service.Method"` (empty when the body does not decode).
    pub method: String,
    /// The method's argument as JSON (byte strings as `0x` hex).
    pub body: Value,
    /// Its outcome: gas, error, events.
    pub result: TxResult,
}

/// What `consensus_getBlockDetails` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockDetails {
    /// The block's height.
    pub height: u64,
    /// Who certified the previous block.
    pub signers: Vec<BlockSigner>,
    /// Its transactions, decoded, in order.
    pub transactions: Vec<DecodedTx>,
}

/// Decodes `body`'s transactions beside their `results` (same order; a
/// transaction without a result is left out).
pub fn details(height: u64, body: &BlockBody, results: &[TxResult]) -> BlockDetails {
    BlockDetails {
        height,
        signers: body
            .signers
            .iter()
            .map(|(address, power)| BlockSigner {
                address: *address,
                power: *power,
            })
            .collect(),
        transactions: body
            .txs
            .iter()
            .zip(results)
            .map(|(raw, result)| decode(raw, result.clone()))
            .collect(),
    }
}

fn decode(raw: &[u8], result: TxResult) -> DecodedTx {
    let mut out = DecodedTx {
        hash: result.hash,
        signer: None,
        nonce: None,
        fee: None,
        method: String::new(),
        body: Value::Null,
        result,
    };
    let Ok(signed) = cbor::from_slice::<SignedTransaction>(raw) else {
        return out;
    };
    out.signer = Some(Address::from_ed25519(&signed.signature.public_key));
    if let Ok(tx) = cbor::from_slice::<Transaction>(&signed.untrusted_raw_value) {
        out.nonce = Some(tx.nonce);
        out.fee = tx.fee;
        out.method = tx.method;
        out.body = tx.body.as_ref().map(cbor_to_json).unwrap_or(Value::Null);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_types::Quantity;

    fn result(hash: Hash) -> TxResult {
        TxResult {
            hash,
            error: None,
            gas_used: 7,
            events: Vec::new(),
        }
    }

    #[test]
    fn a_transfer_is_decoded() {
        let key = SigningKey::from_seed(&[3; 32]);
        let to = Address::from_ed25519(&SigningKey::from_seed(&[4; 32]).public_key());
        let tx = Transaction::call(
            9,
            Fee::new(Quantity(2), 1_000),
            "staking.Transfer",
            &("<script>alert(1)</script>", 5u64),
        )
        .unwrap();
        let ctx = atoll_crypto::context::Context::new("atoll/test: details").unwrap();
        let signed = SignedTransaction::sign(&key, &ctx, &tx).unwrap();
        let raw = cbor::to_vec(&signed).unwrap();
        let h = Hash::digest(&raw);
        let body = BlockBody {
            txs: vec![raw],
            signers: vec![(to, 10)],
        };
        let d = details(4, &body, &[result(h)]);
        assert_eq!(d.height, 4);
        assert_eq!(
            d.signers,
            vec![BlockSigner {
                address: to,
                power: 10
            }]
        );
        let t = &d.transactions[0];
        assert_eq!(t.hash, h);
        assert_eq!(t.signer, Some(Address::from_ed25519(&key.public_key())));
        assert_eq!(t.nonce, Some(9));
        assert_eq!(t.method, "staking.Transfer");
        assert_eq!(t.body, serde_json::json!(["<script>alert(1)</script>", 5]));
        assert_eq!(t.result.gas_used, 7);
    }

    #[test]
    fn garbage_is_shown_undecoded() {
        let body = BlockBody {
            txs: vec![vec![0xff, 0x00, 0x13]],
            signers: Vec::new(),
        };
        let h = Hash::digest(b"x");
        let d = details(1, &body, &[result(h)]);
        assert_eq!(d.transactions.len(), 1);
        assert_eq!(d.transactions[0].signer, None);
        assert_eq!(d.transactions[0].method, "");
        assert_eq!(d.transactions[0].body, Value::Null);
    }
}

//! The runtime ABI: what the opaque CBOR payloads of the [`protocol`]
//! mean, defined once for both ends.
//!
//! The protocol itself carries check results, transaction results, events
//! and the runtime's context as CBOR values it does not look into. The
//! runtime side (the SDK's host adapter) encodes them with the types here;
//! the node (the compute worker, storage, the Ethereum gateway) decodes them
//! with the same types. Their CBOR is part of the wire format between a node
//! and its runtime processes, and of the round records nodes store and
//! exchange, so it never changes shape:
//!
//! | payload | type | CBOR |
//! |---|---|---|
//! | [`CheckedBatch::results`] entry | [`CheckOutcome`] | `{"ok": {hash, signer, nonce, fee, gas, priority, size, eth_address?}}` or `{"fail": {module, code, message}}` |
//! | [`ExecutedBatch::results`] entry, round record `results` | [`TxOutcome`] | `{hash, result, gas_used, events}` |
//! | a transaction's result | [`CallResult`] | `{"ok": any}` or `{"fail": {module, code, message?}}` |
//! | [`ExecutedBatch::events`] entry, round record `events` | [`Event`] | `{module, code, value}` |
//! | [`BatchContext::extra`] | [`RuntimeContext`] | `{"consensus_chain_context": text}` |
//!
//! A check outcome's `extra` is per runtime and opaque to the node: the
//! node keeps it beside the transaction's hash for whoever serves that
//! runtime's clients (the EVM runtime puts the 20-byte Ethereum sender
//! there, which the Ethereum gateway reads back). It is at most
//! [`MAX_CHECK_EXTRA_LEN`] bytes.
//!
//! [`protocol`]: crate::protocol
//! [`CheckedBatch::results`]: crate::protocol::CheckedBatch::results
//! [`ExecutedBatch::results`]: crate::protocol::ExecutedBatch::results
//! [`ExecutedBatch::events`]: crate::protocol::ExecutedBatch::events
//! [`BatchContext::extra`]: crate::protocol::BatchContext::extra

use atoll_crypto::{Address, Hash};
use atoll_types::cbor::{self, DecodeError, Value};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Largest per-runtime `extra` of a check outcome, in bytes (an outcome
/// carrying more is not a valid check result).
pub const MAX_CHECK_EXTRA_LEN: usize = 64;

/// The check result of one transaction (one entry of
/// [`CheckedBatch::results`](crate::protocol::CheckedBatch::results)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckOutcome {
    /// Admissible; what a pool needs to order it.
    #[serde(rename = "ok")]
    Ok {
        /// SHA-512/256 of the raw transaction.
        hash: Hash,
        /// The caller (first signer), who pays the fee.
        signer: Address,
        /// The caller's nonce in this transaction.
        nonce: u64,
        /// The fee offered, in the runtime's own encoding (the SDK's
        /// `Fee`); the node does not read it.
        #[serde(default = "null")]
        fee: Value,
        /// The gas limit.
        #[serde(default)]
        gas: u64,
        /// The priority (for SDK runtimes: the gas price, saturated to
        /// `u64`).
        priority: u64,
        /// Raw size in bytes.
        #[serde(default)]
        size: u64,
        /// Per-runtime data the node keeps for the runtime's clients,
        /// opaque to it (the EVM runtime: the caller's 20-byte Ethereum
        /// address); absent when the runtime has none. Its CBOR key is
        /// `eth_address`, the name protocol 1.0 gave it.
        #[serde(
            rename = "eth_address",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        extra: Option<ByteBuf>,
    },
    /// Refused, with the runtime's client error.
    #[serde(rename = "fail")]
    Failed {
        /// The module that refused it.
        module: String,
        /// The module's error code.
        code: u32,
        /// A human-readable reason.
        message: String,
    },
}

impl CheckOutcome {
    /// Whether the transaction is admissible.
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok { .. })
    }

    /// Decodes one check result, refusing an `extra` longer than
    /// [`MAX_CHECK_EXTRA_LEN`].
    pub fn from_value(v: Value) -> Result<Self, DecodeError> {
        let outcome: Self = cbor::from_value(v)?;
        if let Self::Ok {
            extra: Some(extra), ..
        } = &outcome
            && extra.len() > MAX_CHECK_EXTRA_LEN
        {
            return Err(DecodeError::Custom(format!(
                "check extra of {} bytes (at most {MAX_CHECK_EXTRA_LEN})",
                extra.len()
            )));
        }
        Ok(outcome)
    }
}

fn null() -> Value {
    Value::Null
}

/// The outcome of a call, as the SDK encodes it: `{"ok": value}` or
/// `{"fail": {"module", "code", "message"?}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CallResult {
    /// The call succeeded with this value.
    #[serde(rename = "ok")]
    Ok(Value),
    /// The call failed.
    #[serde(rename = "fail")]
    Failed {
        /// The module that failed it.
        module: String,
        /// The module's error code.
        code: u32,
        /// A human-readable reason.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        message: String,
    },
}

impl CallResult {
    /// Whether the call succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Ok(_))
    }
}

/// An event: the module that emitted it, a code within the module, and a
/// CBOR value. Its key, as stored in transaction tags, is
/// `module || u32_be(code)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The emitting module.
    pub module: String,
    /// The event's code within the module.
    pub code: u32,
    /// The event's value.
    pub value: Value,
}

impl Event {
    /// The tag key: `module || u32_be(code)`.
    pub fn key(&self) -> Vec<u8> {
        let mut k = self.module.as_bytes().to_vec();
        k.extend_from_slice(&self.code.to_be_bytes());
        k
    }

    /// Decodes the value as a `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, DecodeError> {
        cbor::from_value(self.value.clone())
    }
}

/// The result of one transaction of a batch (one entry of
/// [`ExecutedBatch::results`](crate::protocol::ExecutedBatch::results), and
/// of a round record's results).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxOutcome {
    /// SHA-512/256 of the raw transaction.
    pub hash: Hash,
    /// The call's result, or the module, code and message it failed with.
    pub result: CallResult,
    /// Gas used (0 when the transaction was refused before paying).
    pub gas_used: u64,
    /// Its events: the call's (if it succeeded), the fee transfer and
    /// `core.GasUsed` (once the fee was paid).
    pub events: Vec<Event>,
}

/// What the node puts in
/// [`BatchContext::extra`](crate::protocol::BatchContext::extra) for every
/// call to an SDK runtime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeContext {
    /// The consensus chain context (hex of the consensus genesis document's
    /// hash), part of the context transactions are signed under.
    pub consensus_chain_context: String,
}

impl RuntimeContext {
    /// The context for a consensus chain.
    pub fn new(chain: &atoll_crypto::context::ChainContext) -> Self {
        Self {
            consensus_chain_context: chain.as_str().to_owned(),
        }
    }

    /// As the CBOR value to put in `BatchContext::extra`.
    pub fn to_value(&self) -> Value {
        Value::Map(vec![(
            Value::Text("consensus_chain_context".to_owned()),
            Value::Text(self.consensus_chain_context.clone()),
        )])
    }

    /// Reads it from `BatchContext::extra`.
    pub fn from_value(v: Value) -> Result<Self, DecodeError> {
        cbor::from_value(v)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
    }

    /// Encodes `v`, checks the CBOR against `expected_hex`, decodes it back.
    fn known_answer<T>(v: &T, expected: &Value, expected_hex: &str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let expected = expected.clone().canonicalize().unwrap();
        assert_eq!(cbor::to_value(v).unwrap(), expected);
        let bytes = cbor::to_vec(v).unwrap();
        assert_eq!(hex::encode(&bytes), expected_hex);
        assert_eq!(&cbor::from_slice::<T>(&bytes).unwrap(), v);
    }

    fn checked(extra: Option<Vec<u8>>) -> CheckOutcome {
        CheckOutcome::Ok {
            hash: Hash([1; 32]),
            signer: Address::from_slice(&[2; 21]).unwrap(),
            nonce: 3,
            fee: map(vec![("gas", Value::Unsigned(4))]),
            gas: 4,
            priority: 5,
            size: 6,
            extra: extra.map(ByteBuf::from),
        }
    }

    fn checked_value(extra: Option<Vec<u8>>) -> Value {
        let mut fields = vec![
            ("hash", Value::Bytes(vec![1; 32])),
            ("signer", Value::Bytes(vec![2; 21])),
            ("nonce", Value::Unsigned(3)),
            ("fee", map(vec![("gas", Value::Unsigned(4))])),
            ("gas", Value::Unsigned(4)),
            ("priority", Value::Unsigned(5)),
            ("size", Value::Unsigned(6)),
        ];
        if let Some(e) = extra {
            fields.push(("eth_address", Value::Bytes(e)));
        }
        map(vec![("ok", map(fields))])
    }

    #[test]
    fn check_outcome_known_answers() {
        known_answer(
            &checked(None),
            &checked_value(None),
            "a1626f6ba763666565a1636761730463676173046468617368582001010101010101010101010101010101010101010101010101010101010101016473697a6506656e6f6e636503667369676e657255020202020202020202020202020202020202020202687072696f7269747905",
        );
        known_answer(
            &checked(Some(vec![7; 20])),
            &checked_value(Some(vec![7; 20])),
            "a1626f6ba863666565a1636761730463676173046468617368582001010101010101010101010101010101010101010101010101010101010101016473697a6506656e6f6e636503667369676e657255020202020202020202020202020202020202020202687072696f72697479056b6574685f61646472657373540707070707070707070707070707070707070707",
        );
        let fail = CheckOutcome::Failed {
            module: "core".into(),
            code: 3,
            message: "no".into(),
        };
        known_answer(
            &fail,
            &map(vec![(
                "fail",
                map(vec![
                    ("module", text("core")),
                    ("code", Value::Unsigned(3)),
                    ("message", text("no")),
                ]),
            )]),
            "a1646661696ca364636f646503666d6f64756c6564636f7265676d657373616765626e6f",
        );
        assert!(checked(None).is_ok() && !fail.is_ok());
    }

    #[test]
    fn check_outcome_decoding_keeps_its_bounds() {
        // As the pool always read them: gas, fee and size may be absent.
        let lean = map(vec![(
            "ok",
            map(vec![
                ("hash", Value::Bytes(vec![1; 32])),
                ("signer", Value::Bytes(vec![2; 21])),
                ("nonce", Value::Unsigned(3)),
                ("priority", Value::Unsigned(5)),
            ]),
        )]);
        let CheckOutcome::Ok {
            gas,
            size,
            fee,
            extra,
            ..
        } = CheckOutcome::from_value(lean).unwrap()
        else {
            panic!("not ok");
        };
        assert_eq!((gas, size, fee, extra), (0, 0, Value::Null, None));
        let at_most = checked_value(Some(vec![7; MAX_CHECK_EXTRA_LEN]));
        assert!(CheckOutcome::from_value(at_most).is_ok());
        let over = checked_value(Some(vec![7; MAX_CHECK_EXTRA_LEN + 1]));
        assert!(CheckOutcome::from_value(over).is_err());
        // A malformed hash is refused, as before.
        let short_hash = map(vec![(
            "ok",
            map(vec![
                ("hash", Value::Bytes(vec![1; 31])),
                ("signer", Value::Bytes(vec![2; 21])),
                ("nonce", Value::Unsigned(3)),
                ("priority", Value::Unsigned(5)),
            ]),
        )]);
        assert!(CheckOutcome::from_value(short_hash).is_err());
    }

    fn event() -> Event {
        Event {
            module: "evm".into(),
            code: 1,
            value: map(vec![("data", Value::Bytes(vec![1]))]),
        }
    }

    #[test]
    fn event_known_answer() {
        let e = event();
        known_answer(
            &e,
            &map(vec![
                ("module", text("evm")),
                ("code", Value::Unsigned(1)),
                ("value", map(vec![("data", Value::Bytes(vec![1]))])),
            ]),
            "a364636f6465016576616c7565a164646174614101666d6f64756c656365766d",
        );
        assert_eq!(e.key(), b"evm\x00\x00\x00\x01");
    }

    #[test]
    fn tx_outcome_known_answers() {
        let ok = TxOutcome {
            hash: Hash([9; 32]),
            result: CallResult::Ok(Value::Bytes(vec![1, 2])),
            gas_used: 21_000,
            events: vec![event()],
        };
        known_answer(
            &ok,
            &map(vec![
                ("hash", Value::Bytes(vec![9; 32])),
                ("result", map(vec![("ok", Value::Bytes(vec![1, 2]))])),
                ("gas_used", Value::Unsigned(21_000)),
                (
                    "events",
                    Value::Array(vec![cbor::to_value(&event()).unwrap()]),
                ),
            ]),
            "a4646861736858200909090909090909090909090909090909090909090909090909090909090909666576656e747381a364636f6465016576616c7565a164646174614101666d6f64756c656365766d66726573756c74a1626f6b420102686761735f75736564195208",
        );
        // A failure with no message leaves the message out.
        let failed = TxOutcome {
            hash: Hash([9; 32]),
            result: CallResult::Failed {
                module: "evm".into(),
                code: 2,
                message: String::new(),
            },
            gas_used: 0,
            events: Vec::new(),
        };
        known_answer(
            &failed,
            &map(vec![
                ("hash", Value::Bytes(vec![9; 32])),
                (
                    "result",
                    map(vec![(
                        "fail",
                        map(vec![("module", text("evm")), ("code", Value::Unsigned(2))]),
                    )]),
                ),
                ("gas_used", Value::Unsigned(0)),
                ("events", Value::Array(Vec::new())),
            ]),
            "a4646861736858200909090909090909090909090909090909090909090909090909090909090909666576656e74738066726573756c74a1646661696ca264636f646502666d6f64756c656365766d686761735f7573656400",
        );
        assert!(ok.result.is_success() && !failed.result.is_success());
    }

    #[test]
    fn runtime_context_known_answer() {
        let chain = "ab".repeat(32);
        let ctx = RuntimeContext {
            consensus_chain_context: chain.clone(),
        };
        let expected = map(vec![("consensus_chain_context", text(&chain))]);
        assert_eq!(
            ctx.to_value().canonicalize().unwrap(),
            expected.clone().canonicalize().unwrap()
        );
        known_answer(
            &ctx,
            &expected,
            "a177636f6e73656e7375735f636861696e5f636f6e74657874784061626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162",
        );
        assert_eq!(RuntimeContext::from_value(expected).unwrap(), ctx);
        assert!(RuntimeContext::from_value(Value::Null).is_err());
    }
}

//! The wire types of runtime transactions, byte-compatible with the Oasis SDK.
//!
//! Everything here is canonical CBOR through `atoll_types::cbor`. Field names,
//! optional fields and enum tags follow `oasis-runtime-sdk`'s
//! `types::{transaction, token}`, and so do the decoding rules (those of
//! `oasis-cbor`): the bytes must be canonical CBOR (shortest heads, keys in
//! canonical order, no duplicates, nothing after the item), a struct field
//! unknown to the type is refused, and a field holding its default may be
//! present (as `@oasisprotocol/client-rt` writes `consensus_messages: 0`) or
//! absent (as atoll's encoder leaves it out). Amounts may carry leading zero
//! bytes. A transaction is identified and signed by its bytes as sent, so the
//! same value in two encodings is two transactions, as in Oasis.
//!
//! ```text
//! UnverifiedTransaction = [ body: bytes (CBOR of Transaction), proofs: [AuthProof] ]
//! AuthProof   = {"signature": bytes} | {"module": text}
//! Transaction = {"v": 1, "call": Call, "ai": AuthInfo}
//! Call        = {"format"?: uint (0 plain), "method"?: text, "body": any, "ro"?: bool}
//! AuthInfo    = {"si": [SignerInfo], "fee": Fee, "not_before"?: uint, "not_after"?: uint}
//! SignerInfo  = {"address_spec": {"signature": {"ed25519": bytes} | {"secp256k1eth": bytes}},
//!                "nonce": uint}
//! Fee         = {"amount": BaseUnits, "gas"?: uint, "consensus_messages"?: uint}
//! BaseUnits   = [ amount: bytes (big-endian, no leading zeros), denomination: bytes ]
//! ```

use std::fmt;

use atoll_crypto::{Address, ed25519, secp256k1};
use atoll_types::Quantity;
use atoll_types::cbor::Value;
use serde::{Deserialize, Serialize};

/// The transaction format version this SDK accepts.
pub const LATEST_TRANSACTION_VERSION: u16 = 1;

/// Most bytes a [`Denomination`] may have.
pub const DENOMINATION_MAX_LENGTH: usize = 32;

/// The name of a token; the empty name is the runtime's native token.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Denomination(Vec<u8>);

/// A denomination longer than [`DENOMINATION_MAX_LENGTH`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("denomination of {0} bytes is longer than 32 bytes")]
pub struct DenominationTooLong(pub usize);

impl Denomination {
    /// The native token.
    pub const NATIVE: Self = Self(Vec::new());

    /// A denomination from its name.
    pub fn new(name: &[u8]) -> Result<Self, DenominationTooLong> {
        if name.len() > DENOMINATION_MAX_LENGTH {
            return Err(DenominationTooLong(name.len()));
        }
        Ok(Self(name.to_vec()))
    }

    /// Whether this is the native token.
    pub fn is_native(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Denomination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_native() {
            f.write_str("<native>")
        } else {
            f.write_str(&String::from_utf8_lossy(&self.0))
        }
    }
}

impl fmt::Debug for Denomination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Denomination({self})")
    }
}

impl Serialize for Denomination {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Denomination {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        Self::new(&bytes).map_err(serde::de::Error::custom)
    }
}

/// An amount of one token in base units: `[amount, denomination]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BaseUnits(pub Quantity, pub Denomination);

impl BaseUnits {
    /// `amount` of `denomination`.
    pub fn new(amount: u128, denomination: Denomination) -> Self {
        Self(Quantity(amount), denomination)
    }

    /// `amount` of the native token.
    pub fn native(amount: u128) -> Self {
        Self(Quantity(amount), Denomination::NATIVE)
    }

    /// The amount.
    pub fn amount(&self) -> u128 {
        self.0.0
    }

    /// The denomination.
    pub fn denomination(&self) -> &Denomination {
        &self.1
    }
}

impl fmt::Display for BaseUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.1)
    }
}

/// How a call's body (and result) is encoded. Only [`CallFormat::Plain`] is
/// executed by this SDK; encrypted calls are refused with
/// `core.InvalidCallFormat` until confidential runtimes land.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CallFormat {
    /// The body is plain CBOR.
    #[default]
    Plain,
    /// X25519 + Deoxys-II sealed body (`EncryptedX25519DeoxysII`).
    EncryptedX25519DeoxysII,
}

impl CallFormat {
    fn is_plain(&self) -> bool {
        *self == Self::Plain
    }
}

impl Serialize for CallFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Self::Plain => 0,
            Self::EncryptedX25519DeoxysII => 1,
        })
    }
}

impl<'de> Deserialize<'de> for CallFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            0 => Ok(Self::Plain),
            1 => Ok(Self::EncryptedX25519DeoxysII),
            n => Err(serde::de::Error::custom(format!("unknown call format {n}"))),
        }
    }
}

/// A method call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// The body's encoding.
    #[serde(default, skip_serializing_if = "CallFormat::is_plain")]
    pub format: CallFormat,
    /// The method, `"module.Method"`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The method's argument (`null` when absent, as the SDK reads it).
    #[serde(default = "null_body")]
    pub body: Value,
    /// Whether the call promises not to change state.
    #[serde(default, rename = "ro", skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

fn null_body() -> Value {
    Value::Null
}

/// How a signer is identified and authenticated by a single signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureAddressSpec {
    /// An Ed25519 key; the address is the consensus layer's for that key.
    #[serde(rename = "ed25519")]
    Ed25519(ed25519::PublicKey),
    /// A compressed secp256k1 key; the address derives from its Ethereum address.
    #[serde(rename = "secp256k1eth")]
    Secp256k1Eth(Secp256k1Key),
}

/// A secp256k1 public key as the SDK writes it: 33 compressed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secp256k1Key(pub secp256k1::PublicKey);

impl Serialize for Secp256k1Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0.as_bytes())
    }
}

impl<'de> Deserialize<'de> for Secp256k1Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(d)?;
        // The SDK only accepts the compressed form in transactions.
        if bytes.len() != secp256k1::PUBLIC_KEY_SIZE {
            return Err(serde::de::Error::custom(
                "secp256k1 public key must be 33 compressed bytes",
            ));
        }
        secp256k1::PublicKey::from_slice(&bytes)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

impl SignatureAddressSpec {
    /// The signer's account address.
    pub fn address(&self) -> Address {
        match self {
            Self::Ed25519(pk) => Address::from_ed25519(pk),
            Self::Secp256k1Eth(pk) => Address::from_secp256k1(&pk.0),
        }
    }
}

/// How a signer is identified. Multisig configurations are not supported
/// yet: a transaction that uses one fails to decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddressSpec {
    /// One key, one signature.
    #[serde(rename = "signature")]
    Signature(SignatureAddressSpec),
}

impl AddressSpec {
    /// The signer's account address.
    pub fn address(&self) -> Address {
        match self {
            Self::Signature(spec) => spec.address(),
        }
    }
}

/// One signer of a transaction and the nonce it signs with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerInfo {
    /// Who signs.
    pub address_spec: AddressSpec,
    /// The signer's account nonce this transaction consumes.
    pub nonce: u64,
}

/// The fee a transaction offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// What the first signer pays.
    pub amount: BaseUnits,
    /// The gas limit.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub gas: u64,
    /// How many consensus messages the call may emit.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub consensus_messages: u32,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

impl Fee {
    /// `amount / gas`, rounded down; zero when `gas` is zero (as the SDK).
    pub fn gas_price(&self) -> u128 {
        self.amount
            .amount()
            .checked_div(u128::from(self.gas))
            .unwrap_or_default()
    }
}

/// Who signs, what they pay, and when the transaction is valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthInfo {
    /// The signers; the first is the caller and pays the fee.
    #[serde(rename = "si")]
    pub signer_info: Vec<SignerInfo>,
    /// The fee.
    pub fee: Fee,
    /// First round the transaction may execute in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// Last round the transaction may execute in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
}

/// A runtime transaction (the signed body).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    /// The format version, [`LATEST_TRANSACTION_VERSION`].
    pub v: u16,
    /// The call.
    pub call: Call,
    /// The signers and the fee.
    #[serde(rename = "ai")]
    pub auth_info: AuthInfo,
}

impl Transaction {
    /// A version-1 transaction calling `method` with `body`, no signers yet
    /// and a zero fee.
    pub fn new(method: &str, body: Value) -> Self {
        Self {
            v: LATEST_TRANSACTION_VERSION,
            call: Call {
                format: CallFormat::Plain,
                method: method.to_owned(),
                body,
                read_only: false,
            },
            auth_info: AuthInfo {
                signer_info: Vec::new(),
                fee: Fee::default(),
                not_before: None,
                not_after: None,
            },
        }
    }

    /// The caller: the first signer's address.
    pub fn caller(&self) -> Option<Address> {
        self.auth_info
            .signer_info
            .first()
            .map(|si| si.address_spec.address())
    }
}

/// A raw signature inside an [`AuthProof`] (Ed25519: 64 bytes; secp256k1:
/// a DER-encoded `(r, s)`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawSignature(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl fmt::Debug for RawSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawSignature({})", hex::encode(&self.0))
    }
}

/// What authenticates one signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthProof {
    /// A signature by the signer's key.
    #[serde(rename = "signature")]
    Signature(RawSignature),
    /// Module-controlled decoding (for example Ethereum transactions); the
    /// text names the scheme. No module handles one yet.
    #[serde(rename = "module")]
    Module(String),
}

/// A transaction as it arrives: the CBOR body and one proof per signer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnverifiedTransaction(
    #[serde(with = "serde_bytes")] pub Vec<u8>,
    pub Vec<AuthProof>,
);

/// The outcome of a call (`{"ok": value}` or `{"fail": {..}}`): defined by
/// the runtime ABI.
pub use atoll_runtime_host::abi::CallResult;

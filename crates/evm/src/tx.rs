//! Ethereum transactions: strict decoding, sender recovery and signing.
//!
//! Accepted: legacy transactions (with or without an EIP-155 chain id),
//! EIP-2930 (type 1) and EIP-1559 (type 2). Refused with a typed error:
//! EIP-4844 blob transactions (type 3), EIP-7702 set-code transactions (type
//! 4), unknown types, non-canonical RLP, trailing bytes, high-`s`
//! signatures (EIP-2) and signatures that recover no key.
//!
//! ```
//! use atoll_evm::tx::{self, DynamicFeeTx, U256};
//!
//! let secret = [0x11; 32];
//! let raw = tx::sign_eip1559(
//!     &DynamicFeeTx {
//!         chain_id: 42,
//!         nonce: 0,
//!         max_priority_fee_per_gas: U256::from(1u64),
//!         max_fee_per_gas: U256::from(2_000_000_000u64),
//!         gas_limit: 21_000,
//!         to: Some(atoll_crypto::secp256k1::EthAddress([0x22; 20])),
//!         value: U256::from(5u64),
//!         input: Vec::new(),
//!         access_list: Vec::new(),
//!     },
//!     &secret,
//! )?;
//! let decoded = tx::decode(&raw)?;
//! assert_eq!(decoded.tx_type, tx::TYPE_DYNAMIC_FEE);
//! assert_eq!(decoded.chain_id, Some(42));
//! assert_eq!(decoded.hash, atoll_crypto::keccak256(&raw));
//! # Ok::<(), tx::TxError>(())
//! ```

use atoll_crypto::CryptoError;
use atoll_crypto::keccak256;
use atoll_crypto::secp256k1::{self, EthAddress, PublicKey, RecoverableSignature, SigningKey};

use crate::rlp::{self, ListReader};

pub use alloy_primitives::U256;

/// Legacy transaction type (no type byte on the wire).
pub const TYPE_LEGACY: u8 = 0;
/// EIP-2930 access-list transaction type.
pub const TYPE_ACCESS_LIST: u8 = 1;
/// EIP-1559 dynamic-fee transaction type.
pub const TYPE_DYNAMIC_FEE: u8 = 2;
/// EIP-4844 blob transaction type (refused).
pub const TYPE_BLOB: u8 = 3;
/// EIP-7702 set-code transaction type (refused).
pub const TYPE_SET_CODE: u8 = 4;

/// Half the secp256k1 group order: the largest `s` EIP-2 allows.
const HALF_ORDER: U256 = U256::from_be_bytes([
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

/// Why raw bytes are not an acceptable Ethereum transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// No bytes at all.
    #[error("empty transaction")]
    Empty,
    /// RLP that is malformed or not in canonical form.
    #[error("malformed RLP: {0}")]
    MalformedRlp(&'static str),
    /// Bytes after the transaction's RLP list.
    #[error("trailing bytes after the transaction")]
    TrailingBytes,
    /// An integer field longer than its type allows (8 bytes for nonce,
    /// gas limit and chain id, 32 for amounts and signature values).
    #[error("integer field too large")]
    IntegerTooLarge,
    /// The transaction list has the wrong number of fields.
    #[error("wrong number of transaction fields: expected {expected}")]
    FieldCount {
        /// The number required by the transaction type.
        expected: usize,
    },
    /// An address that is not 20 bytes (or, for `to`, empty).
    #[error("invalid address length {0}")]
    InvalidAddress(usize),
    /// A storage key in an access list that is not 32 bytes.
    #[error("invalid storage key length {0}")]
    InvalidStorageKey(usize),
    /// An EIP-4844 blob transaction.
    #[error("EIP-4844 blob transactions are not supported")]
    BlobTxUnsupported,
    /// An EIP-7702 set-code transaction.
    #[error("EIP-7702 set-code transactions are not supported")]
    SetCodeTxUnsupported,
    /// A type byte that names no known transaction type.
    #[error("unknown transaction type {0:#04x}")]
    UnknownType(u8),
    /// A legacy `v` other than 27, 28 or `35 + 2 * chain_id + {0, 1}`, or a
    /// typed transaction's y-parity other than 0 or 1.
    #[error("invalid signature v value {0}")]
    InvalidV(u64),
    /// `r` or `s` is zero or not below the group order.
    #[error("invalid signature: r or s out of range")]
    InvalidSignature,
    /// `s` in the upper half of the group order (EIP-2).
    #[error("signature s value is not low (EIP-2)")]
    HighS,
    /// No public key recovers from the signature.
    #[error("sender recovery failed")]
    RecoveryFailed,
    /// An EIP-1559 transaction whose priority fee exceeds its fee cap.
    #[error("max priority fee per gas exceeds max fee per gas")]
    TipAboveFeeCap,
    /// A secret key that is not a valid secp256k1 scalar (signing helpers).
    #[error("invalid secp256k1 secret key")]
    InvalidSecretKey,
}

/// One access-list entry (EIP-2930).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessListItem {
    /// The account.
    pub address: EthAddress,
    /// Its storage slots.
    pub storage_keys: Vec<[u8; 32]>,
}

/// A decoded, sender-recovered Ethereum transaction: its fields (reached
/// through `Deref`, as `tx.nonce`) and its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthTx {
    /// Everything but the sender.
    pub fields: TxFields,
    /// The recovered sender.
    pub from: EthAddress,
    /// The sender's public key (compressed).
    pub public_key: PublicKey,
}

impl std::ops::Deref for EthTx {
    type Target = TxFields;

    fn deref(&self) -> &TxFields {
        &self.fields
    }
}

impl EthTx {
    /// The most the sender pays per gas: the gas price, or the EIP-1559 fee
    /// cap.
    pub fn fee_cap(&self) -> U256 {
        self.gas_price
            .or(self.max_fee_per_gas)
            .unwrap_or(U256::ZERO)
    }

    /// The price per gas paid at `base_fee`: the gas price for legacy and
    /// EIP-2930 transactions; `min(max_fee, base_fee + max_priority_fee)`
    /// for EIP-1559. `None` when the fee cap is below `base_fee`.
    pub fn effective_gas_price(&self, base_fee: U256) -> Option<U256> {
        if let Some(price) = self.gas_price {
            return (price >= base_fee).then_some(price);
        }
        let cap = self.max_fee_per_gas.unwrap_or(U256::ZERO);
        let tip = self.max_priority_fee_per_gas.unwrap_or(U256::ZERO);
        if cap < base_fee {
            return None;
        }
        Some(cap.min(base_fee.saturating_add(tip)))
    }

    /// Whether the transaction creates a contract.
    pub const fn is_create(&self) -> bool {
        self.fields.to.is_none()
    }
}

/// Everything in a transaction but its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxFields {
    /// The Ethereum transaction hash: Keccak-256 of the raw bytes.
    pub hash: [u8; 32],
    /// [`TYPE_LEGACY`], [`TYPE_ACCESS_LIST`] or [`TYPE_DYNAMIC_FEE`].
    pub tx_type: u8,
    /// The chain id; `None` only for pre-EIP-155 legacy transactions.
    pub chain_id: Option<u64>,
    /// The sender's nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas_limit: u64,
    /// The gas price (legacy and EIP-2930 only).
    pub gas_price: Option<U256>,
    /// The fee cap (EIP-1559 only).
    pub max_fee_per_gas: Option<U256>,
    /// The priority fee cap (EIP-1559 only).
    pub max_priority_fee_per_gas: Option<U256>,
    /// The recipient; `None` creates a contract.
    pub to: Option<EthAddress>,
    /// The value transferred, in wei.
    pub value: U256,
    /// The call data or init code.
    pub input: Vec<u8>,
    /// The access list (empty for legacy transactions).
    pub access_list: Vec<AccessListItem>,
    /// The signature's `v` as encoded.
    pub v: u64,
    /// The signature's `r`.
    pub r: U256,
    /// The signature's `s` (at most half the group order).
    pub s: U256,
    /// The parity of the signature point's y coordinate.
    pub y_parity: bool,
}

/// A decoded transaction whose sender is not recovered yet (recovery is the
/// expensive part; callers that cache senders by [`Unrecovered::hash`] can
/// skip it with [`Unrecovered::with_sender`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecovered {
    fields: TxFields,
    signing_hash: [u8; 32],
    signature: RecoverableSignature,
}

impl Unrecovered {
    /// The Ethereum transaction hash (Keccak-256 of the raw bytes).
    pub const fn hash(&self) -> [u8; 32] {
        self.fields.hash
    }

    /// The digest the sender signed.
    pub const fn signing_hash(&self) -> [u8; 32] {
        self.signing_hash
    }

    /// The chain id (`None` for pre-EIP-155 legacy transactions).
    pub const fn chain_id(&self) -> Option<u64> {
        self.fields.chain_id
    }

    /// The most the transaction can take from its sender: gas limit × fee
    /// cap (the gas price, or the EIP-1559 max fee) + value, what a geth
    /// pool requires the sender's balance to cover; `None` past 2^256.
    pub fn max_cost(&self) -> Option<U256> {
        let f = &self.fields;
        let cap = f.gas_price.or(f.max_fee_per_gas).unwrap_or(U256::ZERO);
        cap.checked_mul(U256::from(f.gas_limit))?
            .checked_add(f.value)
    }

    /// Every field but the sender.
    pub const fn fields(&self) -> &TxFields {
        &self.fields
    }

    /// Every field but the sender, without the signature's digest.
    pub fn into_fields(self) -> TxFields {
        self.fields
    }

    /// Recovers the sender's public key (the expensive part of decoding).
    pub fn recover_key(&self) -> Result<PublicKey, TxError> {
        secp256k1::recover(&self.signing_hash, &self.signature).map_err(|e| match e {
            CryptoError::HighS => TxError::HighS,
            CryptoError::MalformedSignature { .. } => TxError::InvalidSignature,
            _ => TxError::RecoveryFailed,
        })
    }

    /// Recovers the sender.
    pub fn recover(self) -> Result<EthTx, TxError> {
        let public_key = self.recover_key()?;
        Ok(self.with_sender(public_key))
    }

    /// Completes the transaction with a sender recovered earlier from these
    /// same bytes (for example from a cache keyed by [`Unrecovered::hash`]).
    pub fn with_sender(self, public_key: PublicKey) -> EthTx {
        EthTx {
            fields: self.fields,
            from: public_key.to_eth_address(),
            public_key,
        }
    }
}

/// Decodes a raw transaction (legacy RLP or EIP-2718 typed) and recovers its
/// sender.
pub fn decode(raw: &[u8]) -> Result<EthTx, TxError> {
    decode_unrecovered(raw)?.recover()
}

/// Decodes a raw transaction and checks its signature values, without
/// recovering the sender.
pub fn decode_unrecovered(raw: &[u8]) -> Result<Unrecovered, TxError> {
    let first = *raw.first().ok_or(TxError::Empty)?;
    match first {
        0xc0..=0xff => decode_legacy(raw),
        TYPE_ACCESS_LIST | TYPE_DYNAMIC_FEE => decode_typed(first, raw),
        TYPE_BLOB => Err(TxError::BlobTxUnsupported),
        TYPE_SET_CODE => Err(TxError::SetCodeTxUnsupported),
        other => Err(TxError::UnknownType(other)),
    }
}

fn u256(reader: &mut ListReader<'_>) -> Result<U256, TxError> {
    Ok(U256::from_be_slice(reader.uint_bytes(32)?))
}

fn to_field(reader: &mut ListReader<'_>) -> Result<Option<EthAddress>, TxError> {
    let b = reader.bytes()?;
    if b.is_empty() {
        return Ok(None);
    }
    Ok(Some(address(b)?))
}

fn address(b: &[u8]) -> Result<EthAddress, TxError> {
    let arr: [u8; 20] = b.try_into().map_err(|_| TxError::InvalidAddress(b.len()))?;
    Ok(EthAddress(arr))
}

fn access_list(payload: &[u8]) -> Result<Vec<AccessListItem>, TxError> {
    let mut reader = ListReader::new(payload);
    let mut out = Vec::new();
    while !reader.is_empty() {
        let mut entry = ListReader::new(reader.list()?);
        let addr = address(entry.bytes()?)?;
        let mut keys_reader = ListReader::new(entry.list()?);
        if !entry.is_empty() {
            return Err(TxError::MalformedRlp("access list entry has extra fields"));
        }
        let mut storage_keys = Vec::new();
        while !keys_reader.is_empty() {
            let k = keys_reader.bytes()?;
            let key: [u8; 32] = k
                .try_into()
                .map_err(|_| TxError::InvalidStorageKey(k.len()))?;
            storage_keys.push(key);
        }
        out.push(AccessListItem {
            address: addr,
            storage_keys,
        });
    }
    Ok(out)
}

/// Checks `r`, `s` and the parity and builds the recoverable signature.
fn signature(r: U256, s: U256, y_parity: bool) -> Result<RecoverableSignature, TxError> {
    if r.is_zero() || s.is_zero() {
        return Err(TxError::InvalidSignature);
    }
    if s > HALF_ORDER {
        return Err(TxError::HighS);
    }
    RecoverableSignature::from_parts(&r.to_be_bytes(), &s.to_be_bytes(), u8::from(y_parity))
        .map_err(|_| TxError::InvalidSignature)
}

/// Reads the next `n` items, returning their concatenated raw encodings.
fn raw_items(reader: &mut ListReader<'_>, n: usize) -> Result<Vec<u8>, TxError> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.extend_from_slice(reader.next_raw()?.1);
    }
    Ok(out)
}

fn count_items(payload: &[u8]) -> Result<usize, TxError> {
    let mut reader = ListReader::new(payload);
    let mut n = 0;
    while !reader.is_empty() {
        reader.next()?;
        n += 1;
    }
    Ok(n)
}

fn decode_legacy(raw: &[u8]) -> Result<Unrecovered, TxError> {
    let payload = rlp::single_list(raw)?;
    if count_items(payload)? != 9 {
        return Err(TxError::FieldCount { expected: 9 });
    }
    let unsigned = raw_items(&mut ListReader::new(payload), 6)?;
    let mut reader = ListReader::new(payload);
    let nonce = reader.u64()?;
    let gas_price = u256(&mut reader)?;
    let gas_limit = reader.u64()?;
    let to = to_field(&mut reader)?;
    let value = u256(&mut reader)?;
    let input = reader.bytes()?.to_vec();
    let v = reader.u64()?;
    let r = u256(&mut reader)?;
    let s = u256(&mut reader)?;

    let (chain_id, y_parity) = match v {
        27 | 28 => (None, v == 28),
        35.. => (Some((v - 35) / 2), (v - 35) % 2 == 1),
        _ => return Err(TxError::InvalidV(v)),
    };
    let signature = signature(r, s, y_parity)?;
    let mut preimage = unsigned;
    if let Some(id) = chain_id {
        rlp::put_u64(&mut preimage, id);
        preimage.extend_from_slice(&[0x80, 0x80]);
    }
    let signing_hash = keccak256(&rlp::list(&preimage));
    Ok(Unrecovered {
        fields: TxFields {
            hash: keccak256(raw),
            tx_type: TYPE_LEGACY,
            chain_id,
            nonce,
            gas_limit,
            gas_price: Some(gas_price),
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
            to,
            value,
            input,
            access_list: Vec::new(),
            v,
            r,
            s,
            y_parity,
        },
        signing_hash,
        signature,
    })
}

fn decode_typed(tx_type: u8, raw: &[u8]) -> Result<Unrecovered, TxError> {
    let payload = rlp::single_list(raw.get(1..).unwrap_or_default())?;
    let fields = if tx_type == TYPE_DYNAMIC_FEE { 12 } else { 11 };
    if count_items(payload)? != fields {
        return Err(TxError::FieldCount { expected: fields });
    }
    let unsigned = raw_items(&mut ListReader::new(payload), fields - 3)?;
    let mut reader = ListReader::new(payload);
    let chain_id = reader.u64()?;
    let nonce = reader.u64()?;
    let (gas_price, max_priority, max_fee) = if tx_type == TYPE_DYNAMIC_FEE {
        let tip = u256(&mut reader)?;
        let cap = u256(&mut reader)?;
        if tip > cap {
            return Err(TxError::TipAboveFeeCap);
        }
        (None, Some(tip), Some(cap))
    } else {
        (Some(u256(&mut reader)?), None, None)
    };
    let gas_limit = reader.u64()?;
    let to = to_field(&mut reader)?;
    let value = u256(&mut reader)?;
    let input = reader.bytes()?.to_vec();
    let access_list = access_list(reader.list()?)?;
    let v = reader.u64()?;
    let r = u256(&mut reader)?;
    let s = u256(&mut reader)?;
    let y_parity = match v {
        0 => false,
        1 => true,
        _ => return Err(TxError::InvalidV(v)),
    };
    let signature = signature(r, s, y_parity)?;
    let mut preimage = vec![tx_type];
    preimage.extend_from_slice(&rlp::list(&unsigned));
    Ok(Unrecovered {
        fields: TxFields {
            hash: keccak256(raw),
            tx_type,
            chain_id: Some(chain_id),
            nonce,
            gas_limit,
            gas_price,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: max_priority,
            to,
            value,
            input,
            access_list,
            v,
            r,
            s,
            y_parity,
        },
        signing_hash: keccak256(&preimage),
        signature,
    })
}

// ---------------------------------------------------------------------------
// Signing (tests, benchmarks, tools).

/// An unsigned legacy transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyTx {
    /// EIP-155 chain id; `None` signs a pre-EIP-155 transaction (`v` 27/28).
    pub chain_id: Option<u64>,
    /// The sender's nonce.
    pub nonce: u64,
    /// The gas price.
    pub gas_price: U256,
    /// The gas limit.
    pub gas_limit: u64,
    /// The recipient; `None` creates a contract.
    pub to: Option<EthAddress>,
    /// The value, in wei.
    pub value: U256,
    /// Call data or init code.
    pub input: Vec<u8>,
}

/// An unsigned EIP-2930 transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessListTx {
    /// The chain id.
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// The gas price.
    pub gas_price: U256,
    /// The gas limit.
    pub gas_limit: u64,
    /// The recipient; `None` creates a contract.
    pub to: Option<EthAddress>,
    /// The value, in wei.
    pub value: U256,
    /// Call data or init code.
    pub input: Vec<u8>,
    /// The access list.
    pub access_list: Vec<AccessListItem>,
}

/// An unsigned EIP-1559 transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicFeeTx {
    /// The chain id.
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// The priority fee cap.
    pub max_priority_fee_per_gas: U256,
    /// The fee cap.
    pub max_fee_per_gas: U256,
    /// The gas limit.
    pub gas_limit: u64,
    /// The recipient; `None` creates a contract.
    pub to: Option<EthAddress>,
    /// The value, in wei.
    pub value: U256,
    /// Call data or init code.
    pub input: Vec<u8>,
    /// The access list.
    pub access_list: Vec<AccessListItem>,
}

fn put_u256(out: &mut Vec<u8>, v: &U256) {
    rlp::put_uint_be(out, &v.to_be_bytes::<32>());
}

fn put_to(out: &mut Vec<u8>, to: &Option<EthAddress>) {
    match to {
        Some(a) => rlp::put_bytes(out, a.as_bytes()),
        None => rlp::put_bytes(out, &[]),
    }
}

fn put_access_list(out: &mut Vec<u8>, list: &[AccessListItem]) {
    let mut entries = Vec::new();
    for item in list {
        let mut entry = Vec::new();
        rlp::put_bytes(&mut entry, item.address.as_bytes());
        let mut keys = Vec::new();
        for k in &item.storage_keys {
            rlp::put_bytes(&mut keys, k);
        }
        entry.extend_from_slice(&rlp::list(&keys));
        entries.extend_from_slice(&rlp::list(&entry));
    }
    out.extend_from_slice(&rlp::list(&entries));
}

fn put_signature(out: &mut Vec<u8>, v: u64, sig: &RecoverableSignature) {
    rlp::put_u64(out, v);
    rlp::put_uint_be(out, &sig.r());
    rlp::put_uint_be(out, &sig.s());
}

impl LegacyTx {
    fn unsigned_fields(&self) -> Vec<u8> {
        let mut out = Vec::new();
        rlp::put_u64(&mut out, self.nonce);
        put_u256(&mut out, &self.gas_price);
        rlp::put_u64(&mut out, self.gas_limit);
        put_to(&mut out, &self.to);
        put_u256(&mut out, &self.value);
        rlp::put_bytes(&mut out, &self.input);
        out
    }

    /// The digest to sign.
    pub fn signing_hash(&self) -> [u8; 32] {
        let mut preimage = self.unsigned_fields();
        if let Some(id) = self.chain_id {
            rlp::put_u64(&mut preimage, id);
            preimage.extend_from_slice(&[0x80, 0x80]);
        }
        keccak256(&rlp::list(&preimage))
    }

    /// Signs with `key`, returning the raw transaction.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        let sig = key.sign_prehash(&self.signing_hash());
        let parity = u64::from(sig.recovery_id());
        let v = match self.chain_id {
            Some(id) => id.saturating_mul(2).saturating_add(35 + parity),
            None => 27 + parity,
        };
        let mut payload = self.unsigned_fields();
        put_signature(&mut payload, v, &sig);
        rlp::list(&payload)
    }
}

impl AccessListTx {
    fn unsigned_fields(&self) -> Vec<u8> {
        let mut out = Vec::new();
        rlp::put_u64(&mut out, self.chain_id);
        rlp::put_u64(&mut out, self.nonce);
        put_u256(&mut out, &self.gas_price);
        rlp::put_u64(&mut out, self.gas_limit);
        put_to(&mut out, &self.to);
        put_u256(&mut out, &self.value);
        rlp::put_bytes(&mut out, &self.input);
        put_access_list(&mut out, &self.access_list);
        out
    }

    /// The digest to sign.
    pub fn signing_hash(&self) -> [u8; 32] {
        typed_hash(TYPE_ACCESS_LIST, &self.unsigned_fields())
    }

    /// Signs with `key`, returning the raw (type-prefixed) transaction.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        typed_sign(TYPE_ACCESS_LIST, self.unsigned_fields(), key)
    }
}

impl DynamicFeeTx {
    fn unsigned_fields(&self) -> Vec<u8> {
        let mut out = Vec::new();
        rlp::put_u64(&mut out, self.chain_id);
        rlp::put_u64(&mut out, self.nonce);
        put_u256(&mut out, &self.max_priority_fee_per_gas);
        put_u256(&mut out, &self.max_fee_per_gas);
        rlp::put_u64(&mut out, self.gas_limit);
        put_to(&mut out, &self.to);
        put_u256(&mut out, &self.value);
        rlp::put_bytes(&mut out, &self.input);
        put_access_list(&mut out, &self.access_list);
        out
    }

    /// The digest to sign.
    pub fn signing_hash(&self) -> [u8; 32] {
        typed_hash(TYPE_DYNAMIC_FEE, &self.unsigned_fields())
    }

    /// Signs with `key`, returning the raw (type-prefixed) transaction.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        typed_sign(TYPE_DYNAMIC_FEE, self.unsigned_fields(), key)
    }
}

fn typed_hash(tx_type: u8, unsigned: &[u8]) -> [u8; 32] {
    let mut preimage = vec![tx_type];
    preimage.extend_from_slice(&rlp::list(unsigned));
    keccak256(&preimage)
}

fn typed_sign(tx_type: u8, unsigned: Vec<u8>, key: &SigningKey) -> Vec<u8> {
    let sig = key.sign_prehash(&typed_hash(tx_type, &unsigned));
    let mut payload = unsigned;
    put_signature(&mut payload, u64::from(sig.recovery_id()), &sig);
    let mut out = vec![tx_type];
    out.extend_from_slice(&rlp::list(&payload));
    out
}

fn key(secret: &[u8; 32]) -> Result<SigningKey, TxError> {
    SigningKey::from_bytes(secret).map_err(|_| TxError::InvalidSecretKey)
}

/// Signs a legacy transaction with a 32-byte secret key.
pub fn sign_legacy(tx: &LegacyTx, secret: &[u8; 32]) -> Result<Vec<u8>, TxError> {
    Ok(tx.sign(&key(secret)?))
}

/// Signs an EIP-2930 transaction with a 32-byte secret key.
pub fn sign_eip2930(tx: &AccessListTx, secret: &[u8; 32]) -> Result<Vec<u8>, TxError> {
    Ok(tx.sign(&key(secret)?))
}

/// Signs an EIP-1559 transaction with a 32-byte secret key.
pub fn sign_eip1559(tx: &DynamicFeeTx, secret: &[u8; 32]) -> Result<Vec<u8>, TxError> {
    Ok(tx.sign(&key(secret)?))
}

/// The Ethereum address controlled by a 32-byte secret key.
pub fn address_of(secret: &[u8; 32]) -> Result<EthAddress, TxError> {
    Ok(key(secret)?.public_key().to_eth_address())
}

/// The address of a contract created by `sender` with account nonce `nonce`
/// (`keccak256(rlp([sender, nonce]))[12..]`).
pub fn create_address(sender: &EthAddress, nonce: u64) -> EthAddress {
    let mut payload = Vec::new();
    rlp::put_bytes(&mut payload, sender.as_bytes());
    rlp::put_u64(&mut payload, nonce);
    let digest = keccak256(&rlp::list(&payload));
    let mut out = [0u8; 20];
    out.copy_from_slice(digest.get(12..).unwrap_or_default());
    EthAddress(out)
}

//! Ethereum JSON-RPC value types: quantities as minimal `0x` hex, data as
//! `0x` hex, addresses and hashes as fixed-size `0x` hex (lowercase out,
//! any case in), and block identifiers (tags, numbers, EIP-1898 objects).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `0x` followed by the hex of `bytes`.
pub fn data_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// A quantity: `0x` followed by its minimal hex (`0x0` for zero).
pub fn qty(v: u128) -> String {
    format!("{v:#x}")
}

/// A big-endian unsigned integer of any width as a quantity.
pub fn qty_be(bytes: &[u8]) -> String {
    let digits = hex::encode(bytes);
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0x0".to_owned()
    } else {
        format!("0x{trimmed}")
    }
}

fn strip_0x(s: &str) -> Option<&str> {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))
}

/// Parses a quantity (`0x` hex, at most 128 bits).
pub fn parse_qty(s: &str) -> Result<u128, String> {
    let h = strip_0x(s).ok_or_else(|| format!("hex string without 0x prefix: {s:?}"))?;
    if h.is_empty() {
        return Err("hex string \"0x\" is not a quantity".into());
    }
    if h.len() > 32 {
        return Err(format!("quantity {s:?} is larger than 128 bits"));
    }
    u128::from_str_radix(h, 16).map_err(|_| format!("invalid hex quantity {s:?}"))
}

/// Parses `0x` hex data (an even number of digits).
pub fn parse_data(s: &str) -> Result<Vec<u8>, String> {
    let h = strip_0x(s).ok_or_else(|| format!("hex string without 0x prefix: {s:?}"))?;
    hex::decode(h).map_err(|_| format!("invalid hex data {s:?}"))
}

fn parse_fixed<const N: usize>(s: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = parse_data(s)?;
    bytes
        .try_into()
        .map_err(|_| format!("{what} must be {N} bytes: {s:?}"))
}

macro_rules! fixed_bytes {
    ($name:ident, $inner:ty, $n:expr, $what:expr, $doc:expr) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl $name {
            /// From its bytes.
            pub const fn new(bytes: [u8; $n]) -> Self {
                Self(<$inner>::new(bytes))
            }

            /// From a slice of exactly the right length.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                b.try_into().ok().map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                parse_fixed::<$n>(s, $what).map(Self::new)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(de::Error::custom)
            }
        }
    };
}

fixed_bytes!(
    H160,
    alloy_primitives::Address,
    20,
    "an address",
    "A 20-byte address: alloy's `Address` under web3's JSON rules (`0x` and \
     exactly 40 digits in, any case; lowercase out, never checksummed). \
     alloy's own serde would also take hex without `0x` and byte arrays."
);
fixed_bytes!(
    H256,
    alloy_primitives::B256,
    32,
    "a hash",
    "A 32-byte hash or word: alloy's `B256` under web3's JSON rules (`0x` \
     and exactly 64 digits in, any case; lowercase out)."
);

/// Arbitrary bytes: alloy's `Bytes` under web3's JSON rules (`0x` and an
/// even number of digits in, any case; lowercase out). alloy's own serde
/// would also take hex without `0x` and byte arrays.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub alloy_primitives::Bytes);

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v.into())
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&data_hex(&self.0))
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&data_hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_data(&s).map(Self::from).map_err(de::Error::custom)
    }
}

/// A quantity up to 128 bits: `0x` hex out; `0x` hex or a JSON number in.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub u128);

impl fmt::Debug for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&qty(self.0))
    }
}

impl Serialize for Qty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&qty(self.0))
    }
}

impl<'de> Deserialize<'de> for Qty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Qty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 0x-prefixed hex quantity")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Qty, E> {
                Ok(Qty(u128::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Qty, E> {
                u128::try_from(v)
                    .map(Qty)
                    .map_err(|_| E::custom("negative quantity"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Qty, E> {
                parse_qty(v).map(Qty).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Qty {
    /// As a `u64`, or an error naming `what`.
    pub fn to_u64(self, what: &str) -> Result<u64, String> {
        u64::try_from(self.0).map_err(|_| format!("{what} does not fit in 64 bits"))
    }
}

/// A 256-bit unsigned integer: alloy's `U256` under web3's JSON rules
/// (minimal `0x` hex out; in, `0x` hex of 1 to 64 digits or a JSON number).
/// alloy's own serde would also take hex without `0x`, decimal strings and
/// digit separators, which geth refuses.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct U256(pub alloy_primitives::U256);

impl U256 {
    /// From a `u128`.
    pub fn from_u128(v: u128) -> Self {
        Self(alloy_primitives::U256::from(v))
    }

    /// From big-endian bytes (at most 32 significant; leading zeros
    /// allowed).
    pub fn from_be_slice(bytes: &[u8]) -> Option<Self> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        alloy_primitives::U256::try_from_be_slice(bytes.get(start..)?).map(Self)
    }

    /// The value if it fits in 128 bits.
    pub fn to_u128(&self) -> Option<u128> {
        u128::try_from(self.0).ok()
    }

    /// The 32 big-endian bytes.
    pub fn to_be_bytes(&self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    /// The minimal big-endian bytes (empty for zero).
    pub fn minimal_be(&self) -> Vec<u8> {
        self.0.to_be_bytes_trimmed_vec()
    }

    /// Whether it is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Serialize for U256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:#x}", self.0))
    }
}

/// Parses a 256-bit quantity (`0x` hex).
pub fn parse_u256(s: &str) -> Result<U256, String> {
    let h = strip_0x(s).ok_or_else(|| format!("hex string without 0x prefix: {s:?}"))?;
    if h.is_empty() || h.len() > 64 {
        return Err(format!("invalid 256-bit quantity {s:?}"));
    }
    // Decoded as exactly 32 bytes (hex digits only: alloy's own parser
    // would skip separators).
    let mut be = [0u8; 32];
    hex::decode_to_slice(format!("{h:0>64}"), &mut be)
        .map_err(|_| format!("invalid hex quantity {s:?}"))?;
    Ok(U256(alloy_primitives::U256::from_be_bytes(be)))
}

impl<'de> Deserialize<'de> for U256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U256;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 0x-prefixed hex quantity")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
                Ok(U256::from_u128(u128::from(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<U256, E> {
                parse_u256(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A named block, as clients write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTag {
    /// The newest indexed block.
    Latest,
    /// Treated as `latest` (no pending block is built).
    Pending,
    /// Treated as `latest` (rounds are final once indexed).
    Safe,
    /// Treated as `latest` (rounds are final once indexed).
    Finalized,
    /// The oldest indexed block.
    Earliest,
}

/// A block number or tag (`"latest"`, `"0x10"`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockNumber {
    /// A tag.
    Tag(BlockTag),
    /// A number.
    Number(u64),
}

impl Default for BlockNumber {
    fn default() -> Self {
        Self::Tag(BlockTag::Latest)
    }
}

/// Parses a block number or tag.
pub fn parse_block_number(s: &str) -> Result<BlockNumber, String> {
    Ok(match s {
        "latest" => BlockNumber::Tag(BlockTag::Latest),
        "pending" => BlockNumber::Tag(BlockTag::Pending),
        "safe" => BlockNumber::Tag(BlockTag::Safe),
        "finalized" => BlockNumber::Tag(BlockTag::Finalized),
        "earliest" => BlockNumber::Tag(BlockTag::Earliest),
        other => {
            let n =
                parse_qty(other).map_err(|_| format!("invalid block number or tag {other:?}"))?;
            BlockNumber::Number(
                u64::try_from(n).map_err(|_| format!("block number {other:?} too large"))?,
            )
        }
    })
}

impl<'de> Deserialize<'de> for BlockNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BlockNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a block number or tag")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BlockNumber, E> {
                Ok(BlockNumber::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BlockNumber, E> {
                parse_block_number(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A block by number, tag or hash (EIP-1898: `{"blockNumber": ..}` or
/// `{"blockHash": .., "requireCanonical": ..}` are accepted too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockId {
    /// By number or tag.
    Number(BlockNumber),
    /// By hash (every indexed block is canonical: rounds are final).
    Hash(H256),
}

impl Default for BlockId {
    fn default() -> Self {
        Self::Number(BlockNumber::default())
    }
}

impl<'de> Deserialize<'de> for BlockId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "camelCase")]
        struct Obj {
            block_number: Option<BlockNumber>,
            block_hash: Option<H256>,
            #[allow(dead_code, reason = "accepted; every indexed block is canonical")]
            require_canonical: Option<bool>,
        }
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => {
                // A 32-byte hash given as a plain string is a hash (EIP-1898
                // clients send objects, some older ones strings).
                if s.len() == 66 {
                    return s.parse().map(BlockId::Hash).map_err(de::Error::custom);
                }
                parse_block_number(&s)
                    .map(BlockId::Number)
                    .map_err(de::Error::custom)
            }
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(|n| BlockId::Number(BlockNumber::Number(n)))
                .ok_or_else(|| de::Error::custom("invalid block number")),
            serde_json::Value::Object(_) => {
                let o: Obj = serde_json::from_value(v).map_err(de::Error::custom)?;
                match (o.block_number, o.block_hash) {
                    (Some(n), None) => Ok(BlockId::Number(n)),
                    (None, Some(h)) => Ok(BlockId::Hash(h)),
                    _ => Err(de::Error::custom(
                        "exactly one of blockNumber and blockHash is required",
                    )),
                }
            }
            _ => Err(de::Error::custom("invalid block identifier")),
        }
    }
}

/// One entry of an EIP-2930 access list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessListItem {
    /// The account.
    pub address: H160,
    /// Its storage slots.
    pub storage_keys: Vec<H256>,
}

/// The transaction object of `eth_call` and `eth_estimateGas`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRequest {
    /// The caller (zero address when absent).
    pub from: Option<H160>,
    /// The callee (a contract creation when absent).
    pub to: Option<H160>,
    /// The gas limit.
    pub gas: Option<Qty>,
    /// A legacy gas price.
    pub gas_price: Option<Qty>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: Option<Qty>,
    /// EIP-1559 tip cap.
    pub max_priority_fee_per_gas: Option<Qty>,
    /// Value sent.
    pub value: Option<U256>,
    /// Call data (`data` is the older name of `input`).
    pub data: Option<Bytes>,
    /// Call data.
    pub input: Option<Bytes>,
    /// Ignored (the runtime checks no nonce in simulations).
    pub nonce: Option<Qty>,
    /// The EIP-2930 access list, given to the EVM (charged and pre-warmed
    /// as in a transaction).
    pub access_list: Option<Vec<AccessListItem>>,
    /// Ignored.
    #[serde(rename = "type")]
    pub tx_type: Option<Qty>,
    /// Checked against the runtime's chain id when present.
    pub chain_id: Option<Qty>,
}

impl CallRequest {
    /// The call data (`input` wins over `data`, as geth does).
    pub fn call_data(&self) -> Vec<u8> {
        self.input
            .as_ref()
            .or(self.data.as_ref())
            .map(|b| b.0.to_vec())
            .unwrap_or_default()
    }
}

/// One or many values (`address` and topic positions of a log filter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Either::deserialize(d)? {
            Either::Many(v) => Self(v),
            Either::One(v) => Self(vec![v]),
        })
    }
}

/// The filter of `eth_getLogs`, `eth_newFilter` and `logs` subscriptions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterRequest {
    /// First block (default `latest`).
    pub from_block: Option<BlockNumber>,
    /// Last block (default `latest`).
    pub to_block: Option<BlockNumber>,
    /// One block by hash (excludes `fromBlock`/`toBlock`).
    pub block_hash: Option<H256>,
    /// Emitting contracts (any of them).
    pub address: Option<OneOrMany<H160>>,
    /// Per position: `null` (anything), a topic, or any of several.
    pub topics: Option<Vec<Option<OneOrMany<H256>>>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    fn out<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap()
    }

    /// What a client may send as a 256-bit quantity, and what it is told
    /// otherwise (alloy's own serde would take hex without `0x`, decimal
    /// strings and byte arrays, in other words).
    #[test]
    fn u256_in_and_out() {
        let u = |v| from::<U256>(v);
        assert_eq!(u(json!("0x00ff")), Ok(U256::from_u128(255)));
        assert_eq!(u(json!("0X0F")), Ok(U256::from_u128(15)));
        assert_eq!(u(json!("0xAb")), Ok(U256::from_u128(0xab)));
        assert_eq!(u(json!(255)), Ok(U256::from_u128(255)));
        let max = u(json!(format!("0x{}", "f".repeat(64)))).unwrap();
        assert_eq!(max.to_u128(), None);
        assert_eq!(
            u(json!("ff")),
            Err(r#"hex string without 0x prefix: "ff""#.into())
        );
        assert_eq!(
            u(json!("255")),
            Err(r#"hex string without 0x prefix: "255""#.into())
        );
        assert_eq!(
            u(json!("0x")),
            Err(r#"invalid 256-bit quantity "0x""#.into())
        );
        let wide = format!("0x1{}", "0".repeat(64));
        assert_eq!(
            u(json!(wide)),
            Err(format!("invalid 256-bit quantity {wide:?}"))
        );
        assert_eq!(
            u(json!("0xzz")),
            Err(r#"invalid hex quantity "0xzz""#.into())
        );
        assert_eq!(
            u(json!([1, 2])),
            Err("invalid type: sequence, expected a 0x-prefixed hex quantity".into())
        );
        assert_eq!(
            u(json!(-1)),
            Err("invalid type: integer `-1`, expected a 0x-prefixed hex quantity".into())
        );
        assert_eq!(
            u(json!(1.5)),
            Err("invalid type: floating point `1.5`, expected a 0x-prefixed hex quantity".into())
        );
        // Out: minimal hex.
        assert_eq!(out(&U256::default()), r#""0x0""#);
        assert_eq!(out(&U256::from_u128(255)), r#""0xff""#);
        assert_eq!(out(&max), format!("\"0x{}\"", "f".repeat(64)));
        assert_eq!(format!("{:?}", U256::from_u128(0x0100)), "0x100");
        // Bytes in and out.
        assert_eq!(U256::from_u128(0x0102).minimal_be(), [1, 2]);
        assert!(U256::default().minimal_be().is_empty());
        assert_eq!(
            U256::from_be_slice(&[0u8; 40]).map(|u| u.is_zero()),
            Some(true)
        );
        let mut wide = [0u8; 33];
        wide[0] = 1;
        assert_eq!(U256::from_be_slice(&wide), None);
        wide[0] = 0;
        wide[32] = 7;
        assert_eq!(U256::from_be_slice(&wide), Some(U256::from_u128(7)));
        assert_eq!(U256::from_u128(u128::MAX).to_u128(), Some(u128::MAX));
    }

    /// Addresses and hashes: `0x` and exactly their length in, lowercase
    /// out.
    #[test]
    fn fixed_words_in_and_out() {
        let a = "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
        let lower = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
        let h: H160 = from(json!(a)).unwrap();
        assert_eq!(out(&h), format!("\"{lower}\""));
        assert_eq!(h.to_string(), lower);
        assert_eq!(format!("{h:?}"), lower);
        assert_eq!(a.parse::<H160>(), Ok(h));
        assert_eq!(from::<H160>(json!(format!("0X{}", &lower[2..]))), Ok(h));
        assert_eq!(
            from::<H160>(json!(&lower[2..])),
            Err(format!("hex string without 0x prefix: {:?}", &lower[2..]))
        );
        assert_eq!(
            from::<H160>(json!("0x1234")),
            Err(r#"an address must be 20 bytes: "0x1234""#.into())
        );
        assert_eq!(
            from::<H160>(json!("0x123")),
            Err(r#"invalid hex data "0x123""#.into())
        );
        assert_eq!(
            from::<H160>(json!(vec![0u8; 20])),
            Err("invalid type: sequence, expected a string".into())
        );
        assert_eq!(
            from::<H160>(json!(format!("0x{}", "00".repeat(32)))),
            Err(format!(
                "an address must be 20 bytes: \"0x{}\"",
                "00".repeat(32)
            ))
        );
        assert_eq!(
            H160::from_slice(&[1; 20]).map(|h| h.to_string()),
            Some(format!("0x{}", "01".repeat(20)))
        );
        assert_eq!(H160::from_slice(&[1; 21]), None);

        let s = format!("0x{}", "Ab".repeat(32));
        let h: H256 = from(json!(s)).unwrap();
        assert_eq!(out(&h), format!("\"0x{}\"", "ab".repeat(32)));
        assert_eq!(out(&H256::default()), format!("\"0x{}\"", "00".repeat(32)));
        assert_eq!(
            from::<H256>(json!("0x12")),
            Err(r#"a hash must be 32 bytes: "0x12""#.into())
        );
        assert_eq!(
            from::<H256>(json!("ab".repeat(32))),
            Err(format!(
                "hex string without 0x prefix: {:?}",
                "ab".repeat(32)
            ))
        );
        assert_eq!(
            from::<H256>(json!(7)),
            Err("invalid type: integer `7`, expected a string".into())
        );
        assert_eq!(
            H256::from_slice(&[2; 32]).map(|h| h.to_string()),
            Some(format!("0x{}", "02".repeat(32)))
        );
        assert_eq!(H256::from_slice(&[2; 31]), None);
        assert!(H160::default() < h160_of(1));
    }

    fn h160_of(last: u8) -> H160 {
        let mut b = [0u8; 20];
        b[19] = last;
        H160::from_slice(&b).unwrap()
    }

    /// Data: `0x` and an even number of digits in, lowercase out.
    #[test]
    fn bytes_in_and_out() {
        let b = |v| from::<Bytes>(v);
        let ab: Bytes = b(json!("0XAbCd")).unwrap();
        assert_eq!(out(&ab), r#""0xabcd""#);
        assert_eq!(format!("{ab:?}"), "0xabcd");
        let empty = b(json!("0x")).unwrap();
        assert_eq!(empty, Bytes::default());
        assert_eq!(out(&empty), r#""0x""#);
        assert_eq!(
            b(json!("abcd")),
            Err(r#"hex string without 0x prefix: "abcd""#.into())
        );
        assert_eq!(b(json!("0xabc")), Err(r#"invalid hex data "0xabc""#.into()));
        assert_eq!(
            b(json!([1, 2])),
            Err("invalid type: sequence, expected a string".into())
        );
        assert_eq!(
            b(json!(null)),
            Err("invalid type: null, expected a string".into())
        );
    }
}

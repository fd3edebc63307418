//! Hash functions and the 32-byte [`Hash`](struct@Hash) type.
//!
//! atoll hashes with SHA-512/256 wherever Oasis does (addresses, signature
//! prehashes, MKVS nodes, the chain context), Keccak-256 where Ethereum
//! semantics require it, and SHA-256/SHA-512 where a foreign format needs them.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use crate::error::CryptoError;

/// Size of a [`Hash`](struct@Hash) in bytes.
pub const HASH_SIZE: usize = 32;

/// A 32-byte SHA-512/256 digest.
///
/// Ordered bytewise, printed as lowercase hex, encoded as a byte string in
/// binary formats and as a hex string in human-readable ones.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// The hash of the empty input, SHA-512/256("").
    pub const fn empty() -> Self {
        Self([
            0xc6, 0x72, 0xb8, 0xd1, 0xef, 0x56, 0xed, 0x28, 0xab, 0x87, 0xc3, 0x62, 0x2c, 0x51,
            0x14, 0x06, 0x9b, 0xdd, 0x3a, 0xd7, 0xb8, 0xf9, 0x73, 0x74, 0x98, 0xd0, 0xc0, 0x1e,
            0xce, 0xf0, 0x96, 0x7a,
        ])
    }

    /// SHA-512/256 of `data`.
    pub fn digest(data: &[u8]) -> Self {
        Self(sha512_256(data))
    }

    /// SHA-512/256 of the concatenation of `parts`, without building it.
    pub fn digest_parts(parts: &[&[u8]]) -> Self {
        let mut h = sha2::Sha512_256::new();
        for p in parts {
            h.update(p);
        }
        Self(h.finalize().into())
    }

    /// Builds a hash from a slice, which must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; HASH_SIZE] = crate::error::fixed(bytes, "hash")?;
        Ok(Self(arr))
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// The first `n` bytes (all 32 when `n` is larger).
    pub fn truncated(&self, n: usize) -> &[u8] {
        &self.0[..n.min(HASH_SIZE)]
    }

    /// Lowercase hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<[u8; HASH_SIZE]> for Hash {
    fn from(b: [u8; HASH_SIZE]) -> Self {
        Self(b)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|_| CryptoError::InvalidHex { what: "hash" })?;
        Self::from_slice(&bytes)
    }
}

serde_bytes_impl!(Hash, "hash", Hash::from_slice, Hash::to_hex, Hash::from_str);

/// SHA-512/256 (FIPS 180-4) of `data`.
pub fn sha512_256(data: &[u8]) -> [u8; 32] {
    sha2::Sha512_256::digest(data).into()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    sha2::Sha512::digest(data).into()
}

/// Keccak-256 (the pre-standard SHA-3 Ethereum uses) of `data`.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    sha3::Keccak256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 180-4 / Keccak reference values for "abc" and "".
        assert_eq!(
            hex::encode(sha512_256(b"abc")),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha512(b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert_eq!(
            hex::encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(Hash::digest(b""), Hash::empty());
    }

    #[test]
    fn digest_parts_equals_concatenation() {
        assert_eq!(
            Hash::digest_parts(&[b"ab", b"", b"c"]),
            Hash::digest(b"abc")
        );
    }

    #[test]
    fn hex_round_trip_and_bad_input() {
        let h = Hash::digest(b"atoll");
        assert_eq!(h.to_string().parse::<Hash>().unwrap(), h);
        assert!(matches!(
            "zz".parse::<Hash>(),
            Err(CryptoError::InvalidHex { .. })
        ));
        assert!(matches!(
            "abcd".parse::<Hash>(),
            Err(CryptoError::InvalidLength {
                expected: 32,
                got: 2,
                ..
            })
        ));
    }
}

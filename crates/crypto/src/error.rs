//! The crate's error type.

/// Everything that can go wrong in `atoll-crypto`. Every parser and verifier
/// returns one of these for bad input; none of them panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A fixed-size value had the wrong number of bytes.
    #[error("invalid {what} length: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// What was being parsed.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A hex string did not decode.
    #[error("invalid hex in {what}")]
    InvalidHex {
        /// What was being parsed.
        what: &'static str,
    },
    /// A base64 string did not decode.
    #[error("invalid base64 in {what}")]
    InvalidBase64 {
        /// What was being parsed.
        what: &'static str,
    },
    /// Bytes of the right length that are not a valid public key.
    #[error("malformed {scheme} public key")]
    MalformedPublicKey {
        /// The signature scheme.
        scheme: &'static str,
    },
    /// Bytes of the right length that are not a valid signature encoding.
    #[error("malformed {scheme} signature")]
    MalformedSignature {
        /// The signature scheme.
        scheme: &'static str,
    },
    /// A signature that does not verify for the given key, context and message.
    #[error("{scheme} signature verification failed")]
    VerificationFailed {
        /// The signature scheme.
        scheme: &'static str,
    },
    /// A batch contained at least one signature that does not verify.
    #[error("batch verification failed")]
    BatchVerificationFailed,
    /// A secp256k1 signature whose `s` is in the upper half of the group order.
    #[error("secp256k1 signature is not low-s normalized")]
    HighS,
    /// Public key recovery failed (bad recovery id or no such point).
    #[error("secp256k1 public key recovery failed")]
    RecoveryFailed,
    /// A signature context that is empty, too long, or contains the chain separator.
    #[error("malformed signature context: {0}")]
    MalformedContext(&'static str),
    /// A Bech32 string that does not decode.
    #[error("malformed bech32 address: {0}")]
    Bech32(String),
    /// A Bech32 string with a human-readable part other than `oasis`.
    #[error("wrong bech32 prefix: expected `{expected}`, got `{got}`")]
    WrongHrp {
        /// The required prefix.
        expected: &'static str,
        /// The prefix given.
        got: String,
    },
    /// An MRAE ciphertext that failed authentication.
    #[error("MRAE decryption failed: ciphertext or additional data was tampered with")]
    DecryptionFailed,
    /// A secret key that is out of range for its scheme.
    #[error("malformed {scheme} secret key")]
    MalformedSecretKey {
        /// The signature scheme.
        scheme: &'static str,
    },
}

/// `bytes` as an array of exactly `N` bytes, or [`CryptoError::InvalidLength`]
/// naming `what` was being parsed.
pub(crate) fn fixed<const N: usize>(
    bytes: &[u8],
    what: &'static str,
) -> Result<[u8; N], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::InvalidLength {
        what,
        expected: N,
        got: bytes.len(),
    })
}

/// Hex (optionally `0x`-prefixed) decoded to exactly `N` bytes.
pub(crate) fn fixed_hex<const N: usize>(
    s: &str,
    what: &'static str,
) -> Result<[u8; N], CryptoError> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(s).map_err(|_| CryptoError::InvalidHex { what })?;
    fixed(&bytes, what)
}

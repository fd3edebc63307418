//! Account addresses: 21 bytes, shown in Bech32 with the `oasis` prefix.
//!
//! An address is a version byte followed by the first 20 bytes of
//! `SHA-512/256(context || version || data)`, where the context says what
//! kind of thing owns the account. These are Oasis's derivations, so the
//! same key has the same address in atoll, in Oasis tools and in wallets.
//!
//! ```
//! use atoll_crypto::address::Address;
//!
//! let a: Address = "oasis1qryqqccycvckcxp453tflalujvlf78xymcdqw4vz".parse()?;
//! assert_eq!(a.to_string(), "oasis1qryqqccycvckcxp453tflalujvlf78xymcdqw4vz");
//! # Ok::<(), atoll_crypto::CryptoError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32, Hrp};

use crate::error::CryptoError;
use crate::hash::Hash;
use crate::secp256k1::EthAddress;
use crate::{ed25519, secp256k1};

/// Size of an address in bytes.
pub const ADDRESS_SIZE: usize = 21;
/// The only address version so far.
pub const ADDRESS_V0: u8 = 0;
/// The Bech32 human-readable prefix.
pub const BECH32_HRP: &str = "oasis";

/// Context for accounts of Ed25519 keys (shared by consensus and ParaTimes).
pub const CONTEXT_ED25519: &[u8] = b"oasis-core/address: staking";
/// Context for accounts of secp256k1 keys, derived from the Ethereum address.
pub const CONTEXT_SECP256K1ETH: &[u8] = b"oasis-runtime-sdk/address: secp256k1eth";
/// Context for a runtime's own account on the consensus layer.
pub const CONTEXT_RUNTIME: &[u8] = b"oasis-core/address: runtime";
/// Context for accounts owned by a runtime module (fee accumulator, pools).
pub const CONTEXT_MODULE: &[u8] = b"oasis-runtime-sdk/address: module";

/// An account address.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address([u8; ADDRESS_SIZE]);

impl Address {
    /// Derives an address: `version || SHA-512/256(context || version || data)[..20]`.
    pub fn derive(context: &[u8], version: u8, data: &[u8]) -> Self {
        let h = Hash::digest_parts(&[context, &[version], data]);
        let mut out = [0u8; ADDRESS_SIZE];
        out[0] = version;
        out[1..].copy_from_slice(h.truncated(ADDRESS_SIZE - 1));
        Self(out)
    }

    /// The account of an Ed25519 key.
    pub fn from_ed25519(pk: &ed25519::PublicKey) -> Self {
        Self::derive(CONTEXT_ED25519, ADDRESS_V0, pk.as_bytes())
    }

    /// The account of an Ethereum address (what a secp256k1 key controls in
    /// a ParaTime).
    pub fn from_eth(eth: &EthAddress) -> Self {
        Self::derive(CONTEXT_SECP256K1ETH, ADDRESS_V0, eth.as_bytes())
    }

    /// The account of a secp256k1 key: that of its Ethereum address.
    pub fn from_secp256k1(pk: &secp256k1::PublicKey) -> Self {
        Self::from_eth(&pk.to_eth_address())
    }

    /// A runtime's account on the consensus layer (where its deposits sit).
    pub fn from_runtime_id(runtime_id: &[u8; 32]) -> Self {
        Self::derive(CONTEXT_RUNTIME, ADDRESS_V0, runtime_id)
    }

    /// The account owned by a runtime module, e.g. `("accounts", "fee-accumulator")`.
    pub fn from_module(module: &str, kind: &[u8]) -> Self {
        let mut data = Vec::with_capacity(module.len() + 1 + kind.len());
        data.extend_from_slice(module.as_bytes());
        data.push(b'.');
        data.extend_from_slice(kind);
        Self::derive(CONTEXT_MODULE, ADDRESS_V0, &data)
    }

    /// Parses 21 raw bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; ADDRESS_SIZE] = crate::error::fixed(bytes, "address")?;
        Ok(Self(arr))
    }

    /// The raw 21 bytes.
    pub const fn as_bytes(&self) -> &[u8; ADDRESS_SIZE] {
        &self.0
    }

    /// The version byte.
    pub const fn version(&self) -> u8 {
        self.0[0]
    }

    /// The Bech32 form, `oasis1…`.
    pub fn to_bech32(&self) -> String {
        // Encoding 21 bytes under a valid, fixed prefix cannot fail (the
        // result is far below Bech32's length limit).
        bech32::encode::<Bech32>(Hrp::parse_unchecked(BECH32_HRP), &self.0).unwrap_or_default()
    }

    /// Parses the Bech32 form. The prefix must be `oasis`; both Bech32 and
    /// Bech32m checksums are accepted, as Oasis does.
    pub fn from_bech32(s: &str) -> Result<Self, CryptoError> {
        let (hrp, data) = bech32::decode(s).map_err(|e| CryptoError::Bech32(e.to_string()))?;
        if hrp.as_str() != BECH32_HRP {
            return Err(CryptoError::WrongHrp {
                expected: BECH32_HRP,
                got: hrp.to_string(),
            });
        }
        Self::from_slice(&data)
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bech32())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_bech32())
    }
}

impl FromStr for Address {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bech32(s)
    }
}

serde_bytes_impl!(
    Address,
    "address",
    Address::from_slice,
    Address::to_bech32,
    Address::from_bech32
);

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    use super::*;

    // Known answers from the Oasis SDK's and oasis-core's address tests.

    #[test]
    fn ed25519_address() {
        let pk = ed25519::PublicKey::from_base64("utrdHlX///////////////////////////////////8=")
            .unwrap();
        assert_eq!(
            Address::from_ed25519(&pk).to_bech32(),
            "oasis1qryqqccycvckcxp453tflalujvlf78xymcdqw4vz"
        );
    }

    #[test]
    fn secp256k1eth_address() {
        let pk = secp256k1::PublicKey::from_slice(
            &B64.decode("Arra3R5V////////////////////////////////////")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            Address::from_secp256k1(&pk).to_bech32(),
            "oasis1qzd7akz24n6fxfhdhtk977s5857h3c6gf5583mcg"
        );
    }

    #[test]
    fn eth_address() {
        let eth = EthAddress::from_hex("dce075e1c39b1ae0b75d554558b6451a226ffe00").unwrap();
        assert_eq!(
            Address::from_eth(&eth).to_bech32(),
            "oasis1qrk58a6j2qn065m6p06jgjyt032f7qucy5wqeqpt"
        );
    }

    #[test]
    fn runtime_address() {
        let id: [u8; 32] =
            hex::decode("80000000000000002aff7f6dfb62720cfd735f2b037b81572fad1b7937d826b3")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(
            Address::from_runtime_id(&id).to_bech32(),
            "oasis1qpllh99nhwzrd56px4txvl26atzgg4f3a58jzzad"
        );
    }

    #[test]
    fn module_address() {
        assert_eq!(
            Address::from_module("contracts", &42u64.to_be_bytes()).to_bech32(),
            "oasis1qq398yyk4wt2zxhtt8c66raynelgt6ngh5yq87xg"
        );
    }

    #[test]
    fn bech32_bad_input() {
        let good = "oasis1qryqqccycvckcxp453tflalujvlf78xymcdqw4vz";
        // A valid Bech32 string under another prefix.
        let other = bech32::encode::<Bech32>(Hrp::parse_unchecked("cosmos"), &[1u8; 21]).unwrap();
        assert_eq!(
            Address::from_bech32(&other),
            Err(CryptoError::WrongHrp {
                expected: "oasis",
                got: "cosmos".into()
            })
        );
        // The prefix is covered by the checksum: editing it is a checksum error.
        assert!(matches!(
            Address::from_bech32("sisoa1qpcprk8jxpsjxw9fadxvzrv9ln7td69yus8rmtux"),
            Err(CryptoError::Bech32(_))
        ));
        // A changed character breaks the checksum.
        let typo = good.replace("w4vz", "w4va");
        assert!(matches!(
            Address::from_bech32(&typo),
            Err(CryptoError::Bech32(_))
        ));
        assert!(Address::from_bech32("").is_err());
        assert!(Address::from_bech32("oasis1").is_err());
        // Right prefix and checksum, wrong payload length.
        let short = bech32::encode::<Bech32>(Hrp::parse_unchecked("oasis"), &[0u8; 20]).unwrap();
        assert!(matches!(
            Address::from_bech32(&short),
            Err(CryptoError::InvalidLength {
                expected: 21,
                got: 20,
                ..
            })
        ));
        // Bech32m is accepted too, as in Oasis.
        let m =
            bech32::encode::<bech32::Bech32m>(Hrp::parse_unchecked("oasis"), &[42u8; 21]).unwrap();
        assert_eq!(Address::from_bech32(&m).unwrap().as_bytes(), &[42u8; 21]);
    }

    #[test]
    fn domain_separation_between_kinds() {
        let id = [7u8; 32];
        let pk_bytes = ed25519::SigningKey::from_seed(&[1; 32]).public_key();
        assert_ne!(
            Address::from_runtime_id(&id),
            Address::derive(CONTEXT_ED25519, 0, &id)
        );
        assert_ne!(
            Address::from_ed25519(&pk_bytes),
            Address::derive(CONTEXT_RUNTIME, 0, pk_bytes.as_bytes())
        );
    }

    #[test]
    fn serde_forms() {
        let a = Address::from_module("accounts", b"common-pool");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, format!("\"{a}\""));
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Address>("\"oasis1xyz\"").is_err());
    }
}

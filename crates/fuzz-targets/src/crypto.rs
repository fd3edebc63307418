//! Addresses and keys as users type or paste them.

use atoll_crypto::address::Address;
use atoll_crypto::secp256k1::EthAddress;

/// Every text an address, key or signature parser can be handed: never a
/// panic, and whatever parses prints back to the same value.
pub fn address_parse(data: &[u8]) {
    let _ = atoll_crypto::ed25519::PublicKey::from_slice(data);
    let _ = atoll_crypto::secp256k1::PublicKey::from_slice(data);
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = s.parse::<Address>() {
        assert_eq!(a.to_bech32().parse::<Address>().ok(), Some(a));
    }
    if let Ok(e) = s.parse::<EthAddress>() {
        assert_eq!(e.to_checksum().parse::<EthAddress>().ok(), Some(e));
    }
    let _ = atoll_crypto::ed25519::PublicKey::from_base64(s);
}

/// An address of each kind and a key.
pub fn seeds() -> Vec<Vec<u8>> {
    let key = atoll_crypto::ed25519::SigningKey::from_seed(&[1; 32]);
    vec![
        Address::from_ed25519(&key.public_key())
            .to_bech32()
            .into_bytes(),
        EthAddress([0xab; 20]).to_checksum().into_bytes(),
        key.public_key().to_base64().into_bytes(),
        key.public_key().as_bytes().to_vec(),
    ]
}

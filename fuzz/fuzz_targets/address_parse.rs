//! Every text an address, key or signature parser can be handed: never a
//! panic, and whatever parses prints back to the same value.
#![no_main]

use atoll_crypto::address::Address;
use atoll_crypto::secp256k1::EthAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(a) = s.parse::<Address>() {
        assert_eq!(a.to_bech32().parse::<Address>().ok(), Some(a));
    }
    if let Ok(e) = s.parse::<EthAddress>() {
        assert_eq!(e.to_checksum().parse::<EthAddress>().ok(), Some(e));
    }
    let _ = atoll_crypto::ed25519::PublicKey::from_base64(s);
    let _ = atoll_crypto::ed25519::PublicKey::from_slice(data);
    let _ = atoll_crypto::secp256k1::PublicKey::from_slice(data);
});

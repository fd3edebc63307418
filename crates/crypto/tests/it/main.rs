//! Property tests of `atoll-crypto`: round trips hold for every input, and a
//! signature never verifies for a different context, chain, message or key.

use atoll_crypto::address::Address;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::{self, BatchVerifier, SigningKey};
use atoll_crypto::secp256k1::{self, EthAddress};
use atoll_crypto::{Hash, keccak256, mrae, x25519};
use proptest::prelude::*;

fn chain(tag: u8) -> ChainContext {
    ChainContext::from_hash(&Hash::digest(&[tag]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ed25519_signatures_bind_context_chain_and_message(
        seed in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..256),
        other in proptest::collection::vec(any::<u8>(), 0..256),
        base in "[a-z/: -]{1,40}",
    ) {
        prop_assume!(!base.contains(" for chain "));
        let key = SigningKey::from_seed(&seed);
        let ctx = Context::for_chain(&base, &chain(1)).unwrap();
        let sig = key.sign(&ctx, &msg);
        let pk = key.public_key();
        prop_assert!(pk.verify(&ctx, &msg, &sig).is_ok());
        let other_chain = Context::for_chain(&base, &chain(2)).unwrap();
        prop_assert!(pk.verify(&other_chain, &msg, &sig).is_err());
        let unbound = Context::new(&base).unwrap();
        prop_assert!(pk.verify(&unbound, &msg, &sig).is_err());
        if other != msg {
            prop_assert!(pk.verify(&ctx, &other, &sig).is_err());
        }
        let stranger = SigningKey::from_seed(&Hash::digest(&seed).0).public_key();
        prop_assert!(stranger.verify(&ctx, &msg, &sig).is_err());
    }

    #[test]
    fn batch_verification_matches_single(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..12),
        corrupt in proptest::option::of(0usize..12),
    ) {
        let ctx = Context::for_chain("atoll/test: batch", &chain(3)).unwrap();
        let mut batch = BatchVerifier::new();
        let mut all_valid = true;
        for (i, seed) in seeds.iter().enumerate() {
            let key = SigningKey::from_seed(seed);
            let msg = seed.to_vec();
            let mut sig = key.sign(&ctx, &msg).as_bytes().to_vec();
            if corrupt == Some(i) {
                sig[10] ^= 0x40;
                all_valid = false;
            }
            let sig = ed25519::Signature::from_slice(&sig).unwrap();
            prop_assert_eq!(key.public_key().verify(&ctx, &msg, &sig).is_ok(), corrupt != Some(i));
            batch.queue(&key.public_key(), &ctx, &msg, &sig);
        }
        prop_assert_eq!(batch.verify().is_ok(), all_valid);
    }

    #[test]
    fn secp256k1_recovery_finds_the_signer(secret in any::<[u8; 32]>(), msg in any::<Vec<u8>>()) {
        let Ok(key) = secp256k1::SigningKey::from_bytes(&secret) else {
            return Ok(()); // zero or above the group order: refused, as tested elsewhere
        };
        let digest = keccak256(&msg);
        let sig = key.sign_prehash(&digest);
        prop_assert_eq!(secp256k1::recover(&digest, &sig).unwrap(), key.public_key());
        let eth = key.public_key().to_eth_address();
        prop_assert_eq!(eth.to_checksum().parse::<EthAddress>().unwrap(), eth);
        prop_assert_eq!(Address::from_secp256k1(&key.public_key()), Address::from_eth(&eth));
    }

    #[test]
    fn address_bech32_round_trip(bytes in any::<[u8; 21]>()) {
        let a = Address::from_slice(&bytes).unwrap();
        prop_assert_eq!(a.to_bech32().parse::<Address>().unwrap(), a);
    }

    #[test]
    fn bech32_parser_never_panics(s in "\\PC{0,100}") {
        let _ = s.parse::<Address>();
        let _ = s.parse::<EthAddress>();
        let _ = ed25519::PublicKey::from_base64(&s);
    }

    #[test]
    fn box_round_trip(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(),
                      nonce in any::<[u8; 15]>(), pt in any::<Vec<u8>>(), ad in any::<Vec<u8>>()) {
        let (a, b) = (x25519::PrivateKey::from_bytes(a), x25519::PrivateKey::from_bytes(b));
        let sealed = mrae::box_seal(&nonce, &pt, &ad, &b.public_key(), &a).unwrap();
        prop_assert_eq!(sealed.len(), pt.len() + mrae::TAG_SIZE);
        prop_assert_eq!(mrae::box_open(&nonce, &sealed, &ad, &a.public_key(), &b).unwrap(), pt);
    }
}

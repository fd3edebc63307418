//! Arbitrary bytes as a consensus `SignedTransaction`: the strict decoder
//! must never panic, whatever it accepts must be canonical (re-encode to the
//! same bytes), and opening must either verify and decode or fail cleanly.
#![no_main]

use std::sync::OnceLock;

use atoll_crypto::Hash;
use atoll_crypto::context::{ChainContext, Context};
use atoll_types::cbor;
use atoll_types::transaction::SignedTransaction;
use libfuzzer_sys::fuzz_target;

fn ctx() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(|| {
        let chain = ChainContext::from_hash(&Hash::digest(b"fuzz genesis"));
        Context::for_chain("oasis-core/consensus: tx", &chain).expect("valid context")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = cbor::decode_value(data) {
        let again = cbor::encode_value(&value).expect("a decoded value encodes");
        assert_eq!(again, data, "the decoder accepted a non-canonical encoding");
    }
    if let Ok(signed) = cbor::from_slice_canonical::<SignedTransaction>(data) {
        let _ = signed.open(ctx());
    }
});

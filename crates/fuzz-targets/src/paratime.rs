//! What reaches a compute node: Ethereum transactions from clients,
//! runtime host frames from a (possibly compromised) runtime process, and
//! compute gossip from peers.

use atoll_compute::executor::ComputeMessage;
use atoll_compute::proposal::Proposal;
use atoll_crypto::Hash;
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::secp256k1::EthAddress;
use atoll_evm::tx::{self, AccessListItem, AccessListTx, DynamicFeeTx, LegacyTx, U256};
use atoll_runtime_host::protocol::frame::{decode_frame, encode_frame};
use atoll_runtime_host::protocol::{Body, Message, Request, Response, RuntimeError};
use atoll_types::Namespace;
use atoll_types::cbor;
use atoll_types::signed::Signed;
use serde_bytes::ByteBuf;

/// Frames larger than this are refused (the host's own limit is larger;
/// a smaller one keeps the fuzzer's inputs short).
const MAX_FRAME: usize = 1 << 20;

/// A raw Ethereum transaction: decoding never panics and is a function of
/// the bytes (the same twice); an accepted transaction's hash is the
/// Keccak-256 of exactly the bytes given; recovery answers cleanly, and the
/// fee arithmetic of a recovered transaction never overflows into a panic.
pub fn eth_transaction(data: &[u8]) {
    let Ok(unrecovered) = tx::decode_unrecovered(data) else {
        return;
    };
    let again = tx::decode_unrecovered(data).expect("decoding is a function of the bytes");
    let _ = unrecovered.max_cost();
    let fields = unrecovered.clone().into_fields();
    assert_eq!(fields, again.into_fields());
    assert_eq!(
        fields.hash,
        atoll_crypto::keccak256(data),
        "an accepted transaction's hash is not the hash of its bytes"
    );
    if let Ok(eth) = unrecovered.recover() {
        let _ = eth.fee_cap();
        let _ = eth.effective_gas_price(U256::from(1u64));
        let _ = eth.effective_gas_price(U256::MAX);
    }
}

/// Signed transactions of every supported kind.
pub fn eth_seeds() -> Vec<Vec<u8>> {
    let secret = [0x42; 32];
    let to = Some(EthAddress([0x11; 20]));
    let list = vec![AccessListItem {
        address: EthAddress([0x22; 20]),
        storage_keys: vec![[0x33; 32], [0; 32]],
    }];
    let legacy = |chain_id| LegacyTx {
        chain_id,
        nonce: 3,
        gas_price: U256::from(1_000_000_000u64),
        gas_limit: 21_000,
        to,
        value: U256::from(5u64),
        input: vec![],
    };
    vec![
        tx::sign_legacy(&legacy(Some(42_764)), &secret).expect("signs"),
        tx::sign_legacy(&legacy(None), &secret).expect("signs"),
        tx::sign_eip2930(
            &AccessListTx {
                chain_id: 42_764,
                nonce: 0,
                gas_price: U256::from(7u64),
                gas_limit: 50_000,
                to: None,
                value: U256::ZERO,
                input: vec![0x60, 0x00, 0x60, 0x00, 0xf3],
                access_list: list.clone(),
            },
            &secret,
        )
        .expect("signs"),
        tx::sign_eip1559(
            &DynamicFeeTx {
                chain_id: 42_764,
                nonce: u64::MAX,
                max_priority_fee_per_gas: U256::from(1u64),
                max_fee_per_gas: U256::from(2_000_000_000u64),
                gas_limit: 30_000_000,
                to,
                value: U256::MAX,
                input: vec![0xa9, 0x05, 0x9c, 0xbb],
                access_list: list,
            },
            &secret,
        )
        .expect("signs"),
    ]
}

/// A host protocol frame: decoding never panics nor reads past the limit;
/// a decoded message encodes within the limit and decodes back to itself.
pub fn host_frame(data: &[u8]) {
    if let Ok(Some((msg, used))) = decode_frame(data, MAX_FRAME) {
        assert!(used <= data.len(), "the decoder consumed more than it had");
        let frame = encode_frame(&msg, MAX_FRAME).expect("a decoded message encodes");
        let (back, n) = decode_frame(&frame, MAX_FRAME)
            .expect("an encoded frame decodes")
            .expect("an encoded frame is whole");
        assert_eq!(n, frame.len());
        assert_eq!(back, msg);
        let _ = msg.body.clone();
    }
}

/// Frames of a few requests and responses.
pub fn frame_seeds() -> Vec<Vec<u8>> {
    let bodies = vec![
        Body::Request(Request::Ping),
        Body::Request(Request::Abort),
        Body::Request(Request::Shutdown),
        Body::Response(Response::Empty),
        Body::Response(Response::Error(RuntimeError::new("core", 7, "bad nonce"))),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(id, body)| {
            let msg = Message {
                id: u64::try_from(id).unwrap_or(0),
                body,
            };
            encode_frame(&msg, MAX_FRAME).expect("a message encodes")
        })
        .collect()
}

/// A compute gossip message: decoding never panics; whatever decodes
/// names its runtime without panicking, and survives a round trip.
pub fn compute_gossip(data: &[u8]) {
    let Ok(msg) = cbor::from_slice::<ComputeMessage>(data) else {
        return;
    };
    let _ = msg.runtime();
    let again = cbor::to_vec(&msg).expect("a decoded message encodes");
    let back: ComputeMessage = cbor::from_slice(&again).expect("an encoded message decodes");
    assert_eq!(back, msg);
}

/// A transaction batch and a signed proposal.
pub fn gossip_seeds() -> Vec<Vec<u8>> {
    let runtime = Namespace([0x80; 32]);
    let key = SigningKey::from_seed(&[9; 32]);
    let ctx = atoll_crypto::context::Context::new("atoll/fuzz: proposal").expect("a context");
    let proposal = Proposal {
        runtime,
        round: 12,
        previous_hash: Hash::digest(b"previous"),
        txs: vec![ByteBuf::from(vec![1, 2, 3]), ByteBuf::from(vec![])],
    };
    let signed = Signed::sign(&key, &ctx, &proposal).expect("a proposal signs");
    vec![
        cbor::to_vec(&ComputeMessage::Txs {
            runtime,
            txs: vec![ByteBuf::from(vec![0xa1, 0x00, 0x00])],
        })
        .expect("encodes"),
        cbor::to_vec(&ComputeMessage::Proposal { signed, attempt: 2 }).expect("encodes"),
    ]
}

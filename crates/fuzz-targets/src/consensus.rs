//! Consensus transactions: the envelope decoders and the state machine.

use std::sync::OnceLock;

use atoll_consensus::app::{App, Block, NonceCheck};
use atoll_consensus::genesis::Genesis;
use atoll_consensus_types::staking::{self, Account};
use atoll_crypto::Address;
use atoll_crypto::ed25519::SigningKey;
use atoll_state::MemStore;
use atoll_types::Quantity;
use atoll_types::cbor::{self, Value};
use atoll_types::signed::{SignatureBundle, Signed};
use atoll_types::transaction::{Fee, SignedTransaction, Transaction};
use serde_bytes::ByteBuf;

/// A one-account network after genesis, shared by every run.
struct Net {
    app: App,
    store: MemStore,
    key: SigningKey,
}

const FUNDS: u128 = 1_000_000_000_000;

fn net() -> &'static Net {
    static NET: OnceLock<Net> = OnceLock::new();
    NET.get_or_init(|| {
        let key = SigningKey::from_seed(&[7; 32]);
        let mut genesis = Genesis {
            chain_id: "atoll-fuzz".into(),
            debug: true,
            ..Genesis::default()
        };
        genesis.beacon.interval = 10;
        let mut account = Account::default();
        account.general.balance = Quantity(FUNDS);
        genesis
            .staking
            .ledger
            .insert(Address::from_ed25519(&key.public_key()), account);
        genesis.staking.total_supply = Quantity(FUNDS);
        let app = App::new(&genesis).expect("the fuzz genesis is valid");
        let mut store = MemStore::new();
        app.init_chain(&mut store, &genesis)
            .expect("the fuzz genesis initialises");
        Net { app, store, key }
    })
}

/// The envelope fast path (`Signed::from_canonical_slice`, which every
/// transaction a node receives goes through) and the general canonical
/// decoder must accept exactly the same inputs, as the same value; and the
/// value-tree decoder accepts only canonical encodings.
pub fn cbor_envelope(data: &[u8]) {
    let fast = Signed::<Transaction>::from_canonical_slice(data);
    let general = cbor::from_slice_canonical::<SignedTransaction>(data);
    match (fast, general) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the two decoders read different envelopes"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("the fast path says {a:?}, the general decoder {b:?}"),
    }
    if let Ok(value) = cbor::decode_value(data) {
        let again = cbor::encode_value(&value).expect("a decoded value encodes");
        assert_eq!(again, data, "the decoder accepted a non-canonical encoding");
    }
    // The node's decoding (oasis-core's rules for client input) reads every
    // canonical envelope as the same value, and whatever it accepts is
    // normalized: the re-encoding is canonical and reads back the same.
    let relaxed = Signed::<Transaction>::from_relaxed_slice(data);
    if let Ok(strict) = cbor::from_slice_canonical::<SignedTransaction>(data) {
        assert_eq!(relaxed.as_ref().ok(), Some(&strict), "relaxed differs");
    }
    if let Ok(value) = cbor::decode_value_relaxed_with_limits(data, &cbor::DecodeLimits::DEFAULT) {
        let canon = cbor::encode_value(&value).expect("a decoded value encodes");
        assert_eq!(
            cbor::decode_value(&canon).ok().as_ref(),
            Some(&value),
            "a relaxed value did not normalize"
        );
    }
}

/// The strict decoder with a `SignedTransaction`, then opening it: whatever
/// is accepted re-encodes to the same bytes, and opening either verifies
/// and decodes or fails cleanly.
pub fn signed_transaction(data: &[u8]) {
    if let Ok(signed) = cbor::from_slice_canonical::<SignedTransaction>(data) {
        let again = cbor::to_vec(&signed).expect("a decoded envelope encodes");
        assert_eq!(again, data, "a canonical envelope re-encodes differently");
        let _ = signed.open(net().app.tx_context());
    }
}

/// `data` as the body bytes of a transaction that a funded account really
/// signed, so the fuzzer reaches past the signature check into every
/// method's decoding and logic: the mempool's check must answer, and a
/// block carrying it (and `data` itself as a second, unsigned transaction)
/// must apply — a hostile transaction fails alone, it never makes the
/// decided block impossible to apply.
pub fn consensus_tx(data: &[u8]) {
    let net = net();
    let signature = SignatureBundle {
        public_key: net.key.public_key(),
        signature: net.key.sign(net.app.tx_context(), data),
    };
    let signed: SignedTransaction = Signed::from_parts(data.to_vec(), signature);
    let raw = cbor::to_vec(&signed).expect("an envelope encodes");
    let _ = net.app.check_tx(&net.store, &raw, NonceCheck::AtLeast);
    let block = Block {
        height: 1,
        time: 1_700_000_000,
        txs: vec![ByteBuf::from(raw), ByteBuf::from(data.to_vec())],
        ..Block::default()
    };
    let mut store = net.store.clone();
    if let Err(e) = net.app.apply_block(&mut store, &block) {
        panic!("a block of hostile transactions could not be applied: {e}");
    }
}

/// Canonical envelopes of real signed transactions.
pub fn envelope_seeds() -> Vec<Vec<u8>> {
    let net = net();
    tx_body_seeds()
        .into_iter()
        .map(|body| {
            let signature = SignatureBundle {
                public_key: net.key.public_key(),
                signature: net.key.sign(net.app.tx_context(), &body),
            };
            let signed: SignedTransaction = Signed::from_parts(body, signature);
            cbor::to_vec(&signed).expect("an envelope encodes")
        })
        .collect()
}

/// Transaction bodies for every kind of method, valid and nearly so.
pub fn tx_body_seeds() -> Vec<Vec<u8>> {
    let key = SigningKey::from_seed(&[7; 32]);
    let me = Address::from_ed25519(&key.public_key());
    let other = Address::from_ed25519(&SigningKey::from_seed(&[8; 32]).public_key());
    let q = Quantity;
    let bodies: Vec<(&str, Option<Value>)> = vec![
        (
            "staking.Transfer",
            Some(value(&staking::Transfer {
                to: other,
                amount: q(10),
            })),
        ),
        ("staking.Burn", Some(value(&staking::Burn { amount: q(1) }))),
        (
            "staking.AddEscrow",
            Some(value(&staking::Escrow {
                account: me,
                amount: q(1_000),
            })),
        ),
        (
            "staking.ReclaimEscrow",
            Some(value(&staking::ReclaimEscrow {
                account: me,
                shares: q(1),
            })),
        ),
        (
            "staking.Withdraw",
            Some(value(&staking::Withdraw {
                from: other,
                amount: q(1),
            })),
        ),
        ("registry.RegisterEntity", Some(Value::Map(Vec::new()))),
        ("registry.RegisterNode", Some(Value::Map(Vec::new()))),
        ("registry.RegisterRuntime", Some(Value::Map(Vec::new()))),
        ("registry.DeregisterEntity", None),
        ("roothash.ExecutorCommit", Some(Value::Array(Vec::new()))),
        ("roothash.Evidence", Some(Value::Map(Vec::new()))),
        ("beacon.VRFProve", Some(Value::Map(Vec::new()))),
        ("nosuch.Method", Some(Value::Unsigned(1))),
    ];
    bodies
        .into_iter()
        .enumerate()
        .map(|(nonce, (method, body))| {
            let tx = Transaction {
                nonce: u64::try_from(nonce % 2).unwrap_or(0),
                fee: Some(Fee {
                    amount: q(0),
                    gas: 100_000,
                }),
                method: method.into(),
                body,
            };
            cbor::to_vec(&tx).expect("a transaction encodes")
        })
        .collect()
}

fn value<T: serde::Serialize>(v: &T) -> Value {
    cbor::to_value(v).expect("a body encodes")
}

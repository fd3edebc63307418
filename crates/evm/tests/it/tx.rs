//! Ethereum transaction decoding and signing.

use atoll_crypto::keccak256;
use atoll_crypto::secp256k1::EthAddress;
use atoll_evm::tx::{self, AccessListItem, AccessListTx, DynamicFeeTx, LegacyTx, TxError, U256};

/// The signed transaction of EIP-155's example (key 0x4646…46, chain id 1).
const EIP155_RAW: &str = "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
/// The signing hash EIP-155 gives for it.
const EIP155_SIGNING_HASH: &str =
    "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53";

fn eip155_unsigned() -> LegacyTx {
    LegacyTx {
        chain_id: Some(1),
        nonce: 9,
        gas_price: U256::from(20_000_000_000u64),
        gas_limit: 21_000,
        to: Some(EthAddress([0x35; 20])),
        value: U256::from(1_000_000_000_000_000_000u128),
        input: Vec::new(),
    }
}

#[test]
fn eip155_example_decodes() {
    let raw = hex::decode(EIP155_RAW).unwrap();
    let unrecovered = tx::decode_unrecovered(&raw).unwrap();
    assert_eq!(hex::encode(unrecovered.signing_hash()), EIP155_SIGNING_HASH);
    let t = tx::decode(&raw).unwrap();
    assert_eq!(t.hash, keccak256(&raw));
    assert_eq!(t.tx_type, tx::TYPE_LEGACY);
    assert_eq!(t.chain_id, Some(1));
    assert_eq!(t.nonce, 9);
    assert_eq!(t.gas_limit, 21_000);
    assert_eq!(t.gas_price, Some(U256::from(20_000_000_000u64)));
    assert_eq!(t.to, Some(EthAddress([0x35; 20])));
    assert_eq!(t.value, U256::from(1_000_000_000_000_000_000u128));
    assert!(t.input.is_empty());
    assert_eq!(t.v, 37);
    assert!(!t.y_parity);
    assert_eq!(t.from, tx::address_of(&[0x46; 32]).unwrap());
    assert_eq!(t.public_key.to_eth_address(), t.from);
    assert_eq!(
        t.from.to_checksum(),
        "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
    );
    // Signing the same fields with the same key gives the same bytes
    // (RFC 6979 nonces).
    assert_eq!(
        eip155_unsigned().signing_hash().to_vec(),
        hex::decode(EIP155_SIGNING_HASH).unwrap()
    );
    assert_eq!(
        tx::sign_legacy(&eip155_unsigned(), &[0x46; 32]).unwrap(),
        raw
    );
}

#[test]
fn round_trips_of_every_supported_type() {
    let secret = [0x07; 32];
    let from = tx::address_of(&secret).unwrap();
    let access_list = vec![AccessListItem {
        address: EthAddress([0xaa; 20]),
        storage_keys: vec![[0x01; 32], [0x02; 32]],
    }];

    let legacy = LegacyTx {
        chain_id: None,
        nonce: 0,
        gas_price: U256::from(1u64),
        gas_limit: 100_000,
        to: None,
        value: U256::ZERO,
        input: vec![0x60, 0x00, 0x60, 0x00, 0xf3],
    };
    let raw = tx::sign_legacy(&legacy, &secret).unwrap();
    let t = tx::decode(&raw).unwrap();
    assert_eq!((t.chain_id, t.to, t.from), (None, None, from));
    assert!(t.v == 27 || t.v == 28);
    assert!(t.is_create());
    assert_eq!(t.input, legacy.input);

    let a = AccessListTx {
        chain_id: 0x5afd,
        nonce: u64::MAX,
        gas_price: U256::MAX,
        gas_limit: 30_000_000,
        to: Some(EthAddress([0x01; 20])),
        value: U256::from(u128::MAX),
        input: vec![0xab; 300],
        access_list: access_list.clone(),
    };
    let raw = tx::sign_eip2930(&a, &secret).unwrap();
    assert_eq!(raw[0], 1);
    let t = tx::decode(&raw).unwrap();
    assert_eq!(t.tx_type, tx::TYPE_ACCESS_LIST);
    assert_eq!(t.chain_id, Some(0x5afd));
    assert_eq!(t.nonce, u64::MAX);
    assert_eq!(t.gas_price, Some(U256::MAX));
    assert_eq!(t.access_list, access_list);
    assert_eq!(t.input, a.input);
    assert_eq!(t.from, from);

    let d = DynamicFeeTx {
        chain_id: 1,
        nonce: 3,
        max_priority_fee_per_gas: U256::from(2u64),
        max_fee_per_gas: U256::from(100u64),
        gas_limit: 21_000,
        to: Some(EthAddress([0x02; 20])),
        value: U256::from(7u64),
        input: Vec::new(),
        access_list,
    };
    let raw = tx::sign_eip1559(&d, &secret).unwrap();
    let t = tx::decode(&raw).unwrap();
    assert_eq!(t.tx_type, tx::TYPE_DYNAMIC_FEE);
    assert_eq!(t.gas_price, None);
    assert_eq!(t.max_fee_per_gas, Some(U256::from(100u64)));
    assert_eq!(t.max_priority_fee_per_gas, Some(U256::from(2u64)));
    assert_eq!(t.from, from);
    assert_eq!(t.hash, keccak256(&raw));
    assert!(t.v <= 1);
    // Effective price: min(cap, base + tip); refused below the base fee.
    assert_eq!(
        t.effective_gas_price(U256::from(10u64)),
        Some(U256::from(12u64))
    );
    assert_eq!(
        t.effective_gas_price(U256::from(99u64)),
        Some(U256::from(100u64))
    );
    assert_eq!(t.effective_gas_price(U256::from(101u64)), None);
    assert_eq!(t.fee_cap(), U256::from(100u64));
}

#[test]
fn create_address_matches_ethereum() {
    let sender = EthAddress::from_hex("0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0").unwrap();
    assert_eq!(
        hex::encode(tx::create_address(&sender, 0).0),
        "cd234a471b72ba2f1ccf0a70fcaba648a5eecd8d"
    );
    assert_eq!(
        hex::encode(tx::create_address(&sender, 1).0),
        "343c43a37d37dff08ae8c4a11544c718abb4fcf8"
    );
}

/// Re-encodes the EIP-155 example with its `s` replaced by `n - s` and the
/// parity flipped: the same signer, but a high-`s` signature.
#[test]
fn high_s_is_refused() {
    let raw = hex::decode(EIP155_RAW).unwrap();
    let t = tx::decode(&raw).unwrap();
    let n = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let high_s = n - t.s;
    // Body: the 6 unsigned fields are the same bytes; rebuild the tail.
    // raw = f8 6c || six fields || v (1 byte) || a0 r || a0 s.
    let mut body = raw[2..raw.len() - (1 + 33 + 33)].to_vec();
    body.push(38); // v: flipped parity
    body.push(0xa0);
    body.extend_from_slice(&t.r.to_be_bytes::<32>());
    body.push(0xa0);
    body.extend_from_slice(&high_s.to_be_bytes::<32>());
    let mut bad = vec![0xf8, u8::try_from(body.len()).unwrap()];
    bad.extend_from_slice(&body);
    assert_eq!(tx::decode(&bad), Err(TxError::HighS));
}

#[test]
fn malformed_inputs_get_typed_errors() {
    let raw = hex::decode(EIP155_RAW).unwrap();
    assert_eq!(tx::decode(&[]), Err(TxError::Empty));
    // Trailing bytes.
    let mut trailing = raw.clone();
    trailing.push(0);
    assert_eq!(tx::decode(&trailing), Err(TxError::TrailingBytes));
    // Truncated.
    assert!(matches!(
        tx::decode(&raw[..raw.len() - 1]),
        Err(TxError::MalformedRlp(_))
    ));
    // Blob, set-code and unknown types.
    assert_eq!(tx::decode(&[3, 0xc0]), Err(TxError::BlobTxUnsupported));
    assert_eq!(tx::decode(&[4, 0xc0]), Err(TxError::SetCodeTxUnsupported));
    assert_eq!(tx::decode(&[0x05, 0xc0]), Err(TxError::UnknownType(5)));
    assert_eq!(tx::decode(&[0x7f]), Err(TxError::UnknownType(0x7f)));
    // A typed transaction with trailing bytes after its list.
    let d = DynamicFeeTx {
        chain_id: 1,
        nonce: 0,
        max_priority_fee_per_gas: U256::ZERO,
        max_fee_per_gas: U256::from(1u64),
        gas_limit: 21_000,
        to: None,
        value: U256::ZERO,
        input: Vec::new(),
        access_list: Vec::new(),
    };
    let mut typed = tx::sign_eip1559(&d, &[1; 32]).unwrap();
    typed.push(0x80);
    assert_eq!(tx::decode(&typed), Err(TxError::TrailingBytes));
    // Tip above the fee cap.
    let tip_high = DynamicFeeTx {
        max_priority_fee_per_gas: U256::from(2u64),
        ..d.clone()
    };
    assert_eq!(
        tx::decode(&tx::sign_eip1559(&tip_high, &[1; 32]).unwrap()),
        Err(TxError::TipAboveFeeCap)
    );
    // Wrong field count: an empty list.
    assert_eq!(
        tx::decode(&[0xc0]),
        Err(TxError::FieldCount { expected: 9 })
    );
    // A legacy v that is neither 27/28 nor EIP-155.
    let mut bad_v = raw.clone();
    let v_pos = raw.len() - (1 + 32 + 1 + 32 + 1);
    assert_eq!(bad_v[v_pos], 37);
    bad_v[v_pos] = 30;
    assert_eq!(tx::decode(&bad_v), Err(TxError::InvalidV(30)));
    // Zero r.
    let mut zero_r = raw.clone();
    zero_r[v_pos + 2..v_pos + 34].fill(0);
    assert!(matches!(tx::decode(&zero_r), Err(TxError::MalformedRlp(_))));
    // A tampered field: decodes, but recovers another sender.
    let mut tampered = raw.clone();
    tampered[2] = 10; // nonce 9 -> 10
    let t = tx::decode(&tampered).unwrap();
    assert_ne!(t.from, tx::address_of(&[0x46; 32]).unwrap());
}

//! The parts on their own: encodings, block identifiers, bloom, filters,
//! error mapping, block building and the index.

use atoll_web3::bloom::{self, Bloom};
use atoll_web3::error::{
    NonceOrder, RefusalContext, Web3Error, decode_error_string, parse_revert, refusal,
};
use atoll_web3::eth::create_address;
use atoll_web3::filter::LogFilter;
use atoll_web3::index::{Index, IndexError};
use atoll_web3::indexer::build_block;
use atoll_web3::types::{
    BlockId, BlockNumber, BlockTag, CallRequest, FilterRequest, H160, H256, Qty, U256, qty, qty_be,
};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

use crate::fixture::{self, Chain};

#[test]
fn quantities_and_data_encode_like_geth() {
    assert_eq!(qty(0), "0x0");
    assert_eq!(qty(255), "0xff");
    assert_eq!(qty_be(&[0, 0, 1, 0]), "0x100");
    assert_eq!(qty_be(&[]), "0x0");
    assert_eq!(json!(Qty(4096)), json!("0x1000"));
    assert_eq!(json!(U256::from_u128(1)), json!("0x1"));
    assert_eq!(json!(U256::default()), json!("0x0"));
    let h: H160 = "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        .parse()
        .unwrap();
    assert_eq!(
        json!(h),
        json!("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    );
    // Quantities in: hex strings or numbers; leading zeros tolerated.
    let q: Qty = serde_json::from_value(json!("0x01")).unwrap();
    assert_eq!(q, Qty(1));
    let q: Qty = serde_json::from_value(json!(10)).unwrap();
    assert_eq!(q, Qty(10));
    assert!(serde_json::from_value::<Qty>(json!("12")).is_err());
    assert!(serde_json::from_value::<Qty>(json!("0x")).is_err());
    assert!(serde_json::from_value::<Qty>(json!("0xzz")).is_err());
    let u: U256 = serde_json::from_value(json!(format!("0x{}", "f".repeat(64)))).unwrap();
    assert_eq!(u.to_be_bytes(), [0xff; 32]);
    assert!(serde_json::from_value::<U256>(json!(format!("0x1{}", "0".repeat(64)))).is_err());
    assert!(serde_json::from_value::<H160>(json!("0x1234")).is_err());
    assert!(serde_json::from_value::<H256>(json!("0x12")).is_err());
}

#[test]
fn block_identifiers_parse() {
    let n = |v| serde_json::from_value::<BlockNumber>(v).unwrap();
    assert_eq!(n(json!("latest")), BlockNumber::Tag(BlockTag::Latest));
    assert_eq!(n(json!("pending")), BlockNumber::Tag(BlockTag::Pending));
    assert_eq!(n(json!("safe")), BlockNumber::Tag(BlockTag::Safe));
    assert_eq!(n(json!("finalized")), BlockNumber::Tag(BlockTag::Finalized));
    assert_eq!(n(json!("earliest")), BlockNumber::Tag(BlockTag::Earliest));
    assert_eq!(n(json!("0x10")), BlockNumber::Number(16));
    assert!(serde_json::from_value::<BlockNumber>(json!("newest")).is_err());
    assert!(serde_json::from_value::<BlockNumber>(json!("0x1ffffffffffffffff")).is_err());

    let id = |v| serde_json::from_value::<BlockId>(v).unwrap();
    let hash = format!("0x{}", "ab".repeat(32));
    assert_eq!(id(json!("0x2")), BlockId::Number(BlockNumber::Number(2)));
    assert_eq!(id(json!(hash)), BlockId::Hash(H256::new([0xab; 32])));
    assert_eq!(
        id(json!({ "blockNumber": "latest" })),
        BlockId::Number(BlockNumber::Tag(BlockTag::Latest))
    );
    assert_eq!(
        id(json!({ "blockHash": hash, "requireCanonical": true })),
        BlockId::Hash(H256::new([0xab; 32]))
    );
    assert!(serde_json::from_value::<BlockId>(json!({})).is_err());
    assert!(
        serde_json::from_value::<BlockId>(json!({ "blockNumber": "0x1", "blockHash": hash }))
            .is_err()
    );
}

#[test]
fn call_requests_take_input_or_data() {
    let r: CallRequest =
        serde_json::from_value(json!({ "to": format!("0x{}", "11".repeat(20)), "data": "0x01" }))
            .unwrap();
    assert_eq!(r.call_data(), vec![1]);
    let r: CallRequest =
        serde_json::from_value(json!({ "input": "0x02", "data": "0x01", "gas": "0x5208" }))
            .unwrap();
    assert_eq!(r.call_data(), vec![2]);
    assert_eq!(r.gas, Some(Qty(21_000)));
}

#[test]
fn bloom_matches_the_ethereum_definition() {
    use revm::primitives::alloy_primitives::{Bloom as Reference, BloomInput};
    let address = H160::new([0x5a; 20]);
    let topics = [H256::new([1; 32]), H256::new([2; 32])];
    let mut ours = Bloom::default();
    bloom::accrue_log(&mut ours, &address, &topics);
    let mut reference = Reference::default();
    reference.accrue(BloomInput::Raw(address.0.as_slice()));
    for t in &topics {
        reference.accrue(BloomInput::Raw(t.0.as_slice()));
    }
    assert_eq!(ours.0.as_slice(), reference.as_slice());
    assert!(bloom::may_contain(&ours, address.0.as_slice()));
    assert!(bloom::may_contain(&ours, topics[1].0.as_slice()));
    assert!(!bloom::may_contain(&ours, &[0x77; 20]));
    // Three bits per item at most.
    let mut one = Bloom::default();
    one.accrue(BloomInput::Raw(b"x"));
    let bits: u32 = one.0.iter().map(|b| b.count_ones()).sum();
    assert!((1..=3).contains(&bits));
    // JSON round trip.
    let back: Bloom = serde_json::from_value(json!(ours)).unwrap();
    assert_eq!(back, ours);
}

#[test]
fn log_filters_match_addresses_and_topics() {
    let a = H160::new([1; 20]);
    let b = H160::new([2; 20]);
    let t1 = H256::new([0x11; 32]);
    let t2 = H256::new([0x22; 32]);
    let t3 = H256::new([0x33; 32]);
    let f = |v| LogFilter::from_request(&serde_json::from_value::<FilterRequest>(v).unwrap());
    // Nothing constrained.
    assert!(f(json!({})).unwrap().matches(&a, &[]));
    // One address or several.
    assert!(f(json!({ "address": a })).unwrap().matches(&a, &[t1]));
    assert!(!f(json!({ "address": a })).unwrap().matches(&b, &[t1]));
    assert!(f(json!({ "address": [a, b] })).unwrap().matches(&b, &[t1]));
    // Topics: null is a wildcard, a list is an OR, positions are ANDed.
    let any_then_t2 = f(json!({ "topics": [null, t2] })).unwrap();
    assert!(any_then_t2.matches(&a, &[t1, t2]));
    assert!(any_then_t2.matches(&a, &[t3, t2, t1]));
    assert!(!any_then_t2.matches(&a, &[t1, t3]));
    assert!(!any_then_t2.matches(&a, &[t1]));
    let either = f(json!({ "topics": [[t1, t3]] })).unwrap();
    assert!(either.matches(&a, &[t3]));
    assert!(!either.matches(&a, &[t2]));
    assert!(!either.matches(&a, &[]));
    // Trailing wildcards are ignored.
    assert!(
        f(json!({ "topics": [t1, null, null] }))
            .unwrap()
            .matches(&a, &[t1])
    );
    // More than four positions is refused.
    assert!(f(json!({ "topics": [t1, t1, t1, t1, t1] })).is_err());
    // The bloom prefilter never rejects a match.
    let mut bloom = Bloom::default();
    atoll_web3::bloom::accrue_log(&mut bloom, &a, &[t1, t2]);
    assert!(any_then_t2.may_match(&bloom));
    assert!(!f(json!({ "address": b })).unwrap().may_match(&bloom));
}

#[test]
fn reverts_are_parsed_from_runtime_messages() {
    let data = fixture::error_string("nope");
    let msg = format!("execution reverted: nope (data 0x{})", hex::encode(&data));
    assert_eq!(
        parse_revert(&msg),
        Some(Web3Error::Reverted {
            reason: Some("nope".into()),
            data: Some(data.clone()),
        })
    );
    assert_eq!(decode_error_string(&data).as_deref(), Some("nope"));
    // No reason: decoded from Error(string) data.
    let msg = format!("execution reverted (data 0x{})", hex::encode(&data));
    let e = parse_revert(&msg).unwrap();
    let obj = ErrorObjectOwned::from(e);
    assert_eq!(obj.code(), 3);
    assert_eq!(obj.message(), "execution reverted: nope");
    assert_eq!(
        obj.data().unwrap().get(),
        format!("\"0x{}\"", hex::encode(&data))
    );
    // Neither.
    let obj = ErrorObjectOwned::from(parse_revert("execution reverted").unwrap());
    assert_eq!(obj.message(), "execution reverted");
    assert!(obj.data().is_none());
    // Custom error data without a reason.
    let msg = "execution reverted (data 0xdeadbeef)";
    let obj = ErrorObjectOwned::from(parse_revert(msg).unwrap());
    assert_eq!(obj.message(), "execution reverted");
    assert_eq!(obj.data().unwrap().get(), "\"0xdeadbeef\"");
    assert!(parse_revert("out of gas").is_none());
}

#[test]
fn refusals_use_geth_words() {
    let ctx = |nonce| RefusalContext {
        nonce,
        fee_cap_below_base: false,
    };
    let msg = |e: Web3Error| {
        let o = ErrorObjectOwned::from(e);
        assert_eq!(o.code(), -32000);
        o.message().to_owned()
    };
    assert_eq!(
        msg(refusal("core", 4, "invalid nonce", ctx(NonceOrder::Low))),
        "nonce too low"
    );
    assert_eq!(
        msg(refusal("core", 4, "invalid nonce", ctx(NonceOrder::High))),
        "nonce too high"
    );
    assert_eq!(
        msg(refusal(
            "core",
            5,
            "insufficient balance to pay fees",
            ctx(NonceOrder::Unknown)
        )),
        "insufficient funds for gas * price + value"
    );
    assert_eq!(
        msg(refusal(
            "core",
            7,
            "batch gas limit reached",
            ctx(NonceOrder::Unknown)
        )),
        "exceeds block gas limit"
    );
    assert_eq!(
        msg(refusal("core", 12, "out of gas", ctx(NonceOrder::Unknown))),
        "intrinsic gas too low"
    );
    assert_eq!(
        msg(refusal(
            "core",
            20,
            "gas price too low",
            RefusalContext {
                nonce: NonceOrder::Unknown,
                fee_cap_below_base: true
            }
        )),
        "max fee per gas less than block base fee"
    );
    assert_eq!(
        msg(refusal(
            "txpool",
            1,
            "transaction already pooled",
            ctx(NonceOrder::Unknown)
        )),
        "already known"
    );
    assert_eq!(
        msg(refusal(
            "evm",
            99,
            "invalid chain id 5",
            ctx(NonceOrder::Unknown)
        )),
        "invalid chain id"
    );
    // The runtime's own error rides along.
    let o = ErrorObjectOwned::from(refusal("core", 4, "invalid nonce", ctx(NonceOrder::Low)));
    let data: serde_json::Value = serde_json::from_str(o.data().unwrap().get()).unwrap();
    assert_eq!(
        data,
        json!({ "module": "core", "code": 4, "message": "invalid nonce" })
    );
}

#[test]
fn contract_addresses_follow_sender_and_nonce() {
    // The well-known example: 0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0.
    let sender: H160 = "0x6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0"
        .parse()
        .unwrap();
    let want = [
        "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d",
        "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8",
        "0xf778b86fa74e846c4f0a1fbd1335fe81c00a0c91",
        "0xfffd933a0bc612844eaf0c6fe3e5b8e9b6c1d19c",
    ];
    for (nonce, w) in want.iter().enumerate() {
        assert_eq!(
            create_address(&sender, nonce as u64),
            w.parse::<H160>().unwrap()
        );
    }
    // Longer nonces, against alloy's implementation.
    for nonce in [0x7f_u64, 0x80, 0xff, 0x100, 0x1234_5678, u64::MAX] {
        let reference = sender.0.create(nonce);
        assert_eq!(
            create_address(&sender, nonce).0,
            reference.0.0,
            "nonce {nonce}"
        );
    }
}

/// A round with a native transaction, a call with two logs, a failed call
/// and a creation.
fn sample_chain() -> Chain {
    let mut chain = Chain::new();
    let contract = [0xcc; 20];
    let topic = [0x01; 32];
    chain.push(fixture::sample_round(contract, topic));
    chain.push(Vec::new());
    chain
}

#[test]
fn rounds_become_blocks() {
    let chain = sample_chain();
    let r1 = &chain.records[0];
    let (block, txs) = build_block(
        r1,
        fixture::MAX_BATCH_GAS,
        fixture::MIN_GAS_PRICE,
        |_, raw| atoll_web3::eth::decode(raw),
    );
    assert_eq!(block.number, 1);
    assert_eq!(block.hash.0, r1.header.hash().0);
    assert_eq!(block.parent_hash.0, r1.header.previous_hash.0);
    // The native transaction is left out; indices count Ethereum ones.
    assert_eq!(txs.len(), 3);
    assert_eq!(block.transactions.len(), 3);
    assert_eq!(
        txs.iter().map(|t| t.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(
        txs.iter().map(|t| t.batch_index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(block.gas_used, 105_000);
    assert_eq!(
        txs.iter()
            .map(|t| t.cumulative_gas_used)
            .collect::<Vec<_>>(),
        vec![30_000, 55_000, 105_000]
    );
    // EIP-1559: min(maxFee 1000, base 100 + tip 7).
    assert_eq!(txs[0].effective_gas_price, Qty(107));
    assert_eq!(txs[1].effective_gas_price, Qty(150));
    assert!(txs[0].status);
    assert!(!txs[1].status);
    assert_eq!(txs[0].logs.len(), 2);
    assert_eq!(txs[0].first_log_index, 0);
    assert_eq!(txs[2].first_log_index, 2);
    assert_eq!(txs[2].contract_address, Some(H160::new([0xee; 20])));
    assert_eq!(txs[0].from.0, fixture::sender());
    assert!(bloom::may_contain(&block.logs_bloom, &[0xcc; 20]));
    assert_eq!(
        txs[0].hash.0,
        atoll_crypto::keccak256(&fixture::eip1559(3, Some([0xcc; 20]), fixture::CHAIN_ID))
    );

    // JSON forms.
    let t = txs[0].to_json();
    assert_eq!(t["type"], "0x2");
    assert_eq!(t["chainId"], "0x2a");
    assert_eq!(t["nonce"], "0x3");
    assert_eq!(t["gas"], "0x186a0");
    assert_eq!(t["gasPrice"], "0x6b");
    assert_eq!(t["maxFeePerGas"], "0x3e8");
    assert_eq!(t["maxPriorityFeePerGas"], "0x7");
    assert_eq!(t["value"], "0x5");
    assert_eq!(t["input"], "0xabcd");
    assert_eq!(t["accessList"], json!([]));
    assert_eq!(t["transactionIndex"], "0x0");
    assert_eq!(t["blockNumber"], "0x1");
    assert!(t["yParity"] == "0x0" || t["yParity"] == "0x1");
    assert_eq!(t["v"], t["yParity"]);
    let legacy = txs[1].to_json();
    assert_eq!(legacy["type"], "0x0");
    assert!(legacy.get("accessList").is_none());
    assert!(legacy.get("yParity").is_none());
    assert!(legacy.get("maxFeePerGas").is_none());
    let v =
        u64::from_str_radix(legacy["v"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    assert!(v == 35 + 2 * 42 || v == 36 + 2 * 42);

    let r = txs[0].receipt_json();
    assert_eq!(r["status"], "0x1");
    assert_eq!(r["gasUsed"], "0x7530");
    assert_eq!(r["cumulativeGasUsed"], "0x7530");
    assert_eq!(r["effectiveGasPrice"], "0x6b");
    assert_eq!(r["contractAddress"], json!(null));
    assert_eq!(r["logs"][1]["logIndex"], "0x1");
    assert_eq!(r["logs"][1]["transactionIndex"], "0x0");
    assert_eq!(r["logs"][1]["removed"], false);
    assert_eq!(r["logs"][1]["data"], format!("0x{}", hex::encode(b"two")));
    assert_eq!(r["logsBloom"].as_str().unwrap().len(), 2 + 512);
    let failed = txs[1].receipt_json();
    assert_eq!(failed["status"], "0x0");
    assert_eq!(failed["logs"], json!([]));
    let created = txs[2].receipt_json();
    assert_eq!(created["to"], json!(null));
    assert_eq!(
        created["contractAddress"],
        json!(format!("0x{}", "ee".repeat(20)))
    );
    assert_eq!(created["logs"], json!([]));

    let b = block.to_json(None);
    assert_eq!(b["number"], "0x1");
    assert_eq!(b["gasLimit"], "0x989680");
    assert_eq!(b["gasUsed"], "0x19a28");
    assert_eq!(b["baseFeePerGas"], "0x64");
    assert_eq!(b["miner"], format!("0x{}", "00".repeat(20)));
    assert_eq!(b["timestamp"], format!("{:#x}", r1.header.timestamp));
    assert_eq!(b["transactions"].as_array().unwrap().len(), 3);
    assert!(b["transactions"][0].is_string());
    let full = block.to_json(Some(&txs));
    assert_eq!(full["transactions"][2]["hash"], json!(txs[2].hash));

    // An empty round is an empty block.
    let (empty, none) = build_block(&chain.records[1], 1, 0, |_, raw| {
        atoll_web3::eth::decode(raw)
    });
    assert!(none.is_empty());
    assert_eq!(empty.parent_hash, block.hash);
    assert_eq!(empty.gas_used, 0);
    assert_eq!(empty.logs_bloom, Bloom::default());
}

#[test]
fn the_index_persists_and_continues_after_reopening() {
    let chain = sample_chain();
    let dir = tempfile::tempdir().unwrap();
    let built: Vec<_> = chain
        .records
        .iter()
        .map(|r| build_block(r, 1_000, 1, |_, raw| atoll_web3::eth::decode(raw)))
        .collect();
    {
        let index = Index::open(dir.path()).unwrap();
        assert_eq!(index.last().unwrap(), None);
        index.put_block(&built[0].0, &built[0].1).unwrap();
        // Gaps and repeats are refused.
        let mut later = built[1].0.clone();
        later.number = 5;
        assert!(matches!(
            index.put_block(&later, &[]),
            Err(IndexError::OutOfOrder { last: 1, got: 5 })
        ));
        assert!(index.put_block(&built[0].0, &built[0].1).is_err());
    }
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.first().unwrap(), Some(1));
    assert_eq!(index.last().unwrap(), Some(1));
    assert_eq!(index.block(1).unwrap().unwrap(), built[0].0);
    assert_eq!(index.block_number(&built[0].0.hash).unwrap(), Some(1));
    assert_eq!(index.block_txs(1).unwrap(), built[0].1);
    let t = &built[0].1[2];
    assert_eq!(index.tx(&t.hash).unwrap().as_ref(), Some(t));
    assert_eq!(index.tx_at(1, 2).unwrap().as_ref(), Some(t));
    assert_eq!(index.tx_at(1, 3).unwrap(), None);
    index.put_block(&built[1].0, &built[1].1).unwrap();
    assert_eq!(index.last().unwrap(), Some(2));
    assert_eq!(index.block_txs(2).unwrap(), Vec::new());
    assert_eq!(index.block(3).unwrap(), None);
    assert_eq!(index.tx(&H256::new([9; 32])).unwrap(), None);
}

#[test]
fn gas_estimates_simulate_evm_calls_and_creations() {
    use atoll_types::cbor::Value as Cbor;
    use atoll_web3::backend::{Backend, SimulateCall};
    let field = |v: &Cbor, name: &str| -> Cbor {
        match v {
            Cbor::Map(m) => m
                .iter()
                .find(|(k, _)| *k == Cbor::Text(name.into()))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("no {name}")),
            _ => panic!("not a map"),
        }
    };
    let mut call = SimulateCall {
        caller: H160::new([1; 20]),
        address: Some(H160::new([2; 20])),
        value: U256::from_u128(256),
        data: vec![9],
        ..SimulateCall::default()
    };
    let args = Backend::estimate_args(&call).unwrap();
    assert_eq!(
        field(&field(&args, "caller"), "eth_address"),
        Cbor::Bytes(vec![1; 20])
    );
    assert_eq!(field(&args, "propagate_failures"), Cbor::Bool(true));
    let tx: atoll_runtime_sdk::types::Transaction =
        atoll_types::cbor::from_value(field(&args, "tx")).unwrap();
    assert_eq!(tx.call.method, "evm.Call");
    // The body is what the evm module decodes.
    let body: atoll_evm::types::Call = atoll_types::cbor::from_value(tx.call.body).unwrap();
    assert_eq!(body.address.0, [2; 20]);
    assert_eq!(body.value, atoll_evm::tx::U256::from(256u64));
    assert_eq!(body.data, vec![9]);
    // The call's gas (the gas cap at most) is the estimate's ceiling.
    assert_eq!(tx.auth_info.fee.gas, 0);
    call.gas_limit = 1_234_567;
    let tx: atoll_runtime_sdk::types::Transaction =
        atoll_types::cbor::from_value(field(&Backend::estimate_args(&call).unwrap(), "tx"))
            .unwrap();
    assert_eq!(tx.auth_info.fee.gas, 1_234_567);
    call.address = None;
    let args = Backend::estimate_args(&call).unwrap();
    let tx: atoll_runtime_sdk::types::Transaction =
        atoll_types::cbor::from_value(field(&args, "tx")).unwrap();
    assert_eq!(tx.call.method, "evm.Create");
    let body: atoll_evm::types::Create = atoll_types::cbor::from_value(tx.call.body).unwrap();
    assert_eq!(body.init_code, vec![9]);
    // So is a simulated call's.
    call.address = Some(H160::new([2; 20]));
    let q: atoll_evm::types::SimulateCallQuery =
        atoll_types::cbor::from_value(Backend::simulate_args(&call).unwrap()).unwrap();
    assert_eq!(q.value, atoll_evm::tx::U256::from(256u64));
    assert_eq!(q.caller.0, [1; 20]);
    assert!(q.access_list.is_empty());
    // An `accessList` reaches the module in both, in the module's shape.
    call.access_list = vec![atoll_web3::types::AccessListItem {
        address: H160::new([3; 20]),
        storage_keys: vec![H256::new([4; 32]), H256::new([5; 32])],
    }];
    let want = vec![atoll_evm::types::AccessTuple {
        address: atoll_crypto::secp256k1::EthAddress([3; 20]),
        storage_keys: vec![
            atoll_evm::types::B256::new([4; 32]),
            atoll_evm::types::B256::new([5; 32]),
        ],
    }];
    let q: atoll_evm::types::SimulateCallQuery =
        atoll_types::cbor::from_value(Backend::simulate_args(&call).unwrap()).unwrap();
    assert_eq!(q.access_list, want);
    let args = Backend::estimate_args(&call).unwrap();
    let tx: atoll_runtime_sdk::types::Transaction =
        atoll_types::cbor::from_value(field(&args, "tx")).unwrap();
    let body: atoll_evm::types::Call = atoll_types::cbor::from_value(tx.call.body).unwrap();
    assert_eq!(body.access_list, want);
    call.address = None;
    let args = Backend::estimate_args(&call).unwrap();
    let tx: atoll_runtime_sdk::types::Transaction =
        atoll_types::cbor::from_value(field(&args, "tx")).unwrap();
    let body: atoll_evm::types::Create = atoll_types::cbor::from_value(tx.call.body).unwrap();
    assert_eq!(body.access_list, want);
}

//! User-chosen state keys shaped as a crit-bit chain, end to end on
//! `atoll localnet --single --paratimes evm` (a validator and a compute node
//! as separate processes), as issue 17 found them:
//!
//! - the storage-slot chain: a contract writes the 256 storage slots
//!   `1 << (255 - i)` of its own storage, each a bit-level extension of the
//!   previous, in four transactions. Before, every compute node failed to
//!   compute the round's root and the EVM ParaTime finalized nothing more.
//!   Now the slots are stored under hashed keys (as oasis-sdk stores public
//!   EVM storage) and MKVS takes any chain anyway: the transactions succeed,
//!   every slot reads back through `eth_getStorageAt`, rounds go on, and a
//!   later transfer lands.
//! - the runtime-id chain: one entity registers 256 runtimes whose ids form
//!   the same chain. Before, the consensus state refused an insert inside an
//!   already decided block and the chain stopped. Now every registration
//!   succeeds, blocks go on, and a later transfer lands.
//!
//! Every wait is bounded; no assertion depends on this machine's speed.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::call;
use crate::process::Localnet;
use crate::runtimes::{b64, wait_for};
use atoll_consensus_types::registry::{
    self, ENTITY_SIGNATURE_CONTEXT, Entity, RUNTIME_SIGNATURE_CONTEXT,
};
use atoll_consensus_types::staking::{self, Transfer};
use atoll_crypto::Address;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::secp256k1::EthAddress;
use atoll_evm::asm::{Asm, deployer, op};
use atoll_evm::tx::{self, LegacyTx, U256};
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction};
use atoll_types::{Quantity, cbor};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(180);

/// Slot (or runtime id) `i` of the chain: only bit `i` set, counting from
/// the most significant, i.e. the 256-bit number `1 << (255 - i)`.
fn chain_word(i: usize) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[i / 8] = 0x80 >> (i % 8);
    w
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The EVM ParaTime's entry of the summary.
fn evm_entry(summary: &Value) -> Value {
    summary["paratimes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "evm")
        .unwrap_or_else(|| panic!("no EVM ParaTime in {summary}"))
        .clone()
}

/// A contract that sets every 32-byte word of its call data, taken as a
/// storage slot, to 1:
///
/// ```text
/// off = 0
/// loop: if !(calldatasize > off) goto end
///       sstore(calldataload(off), 1); off += 32; goto loop
/// end:  stop
/// ```
fn slot_writer() -> Vec<u8> {
    Asm::new()
        .push_u(0)
        .label("loop")
        .op(op::DUP1)
        .op(op::CALLDATASIZE)
        .op(op::GT)
        .op(op::ISZERO)
        .push_label("end")
        .op(op::JUMPI)
        .push_u(1)
        .op(op::DUP2)
        .op(op::CALLDATALOAD)
        .op(op::SSTORE)
        .push_u(32)
        .op(op::ADD)
        .push_label("loop")
        .op(op::JUMP)
        .label("end")
        .op(op::STOP)
        .build()
}

/// An Ethereum account of the localnet, sending legacy EIP-155
/// transactions to the EVM ParaTime's JSON-RPC.
struct EthSender {
    web3: SocketAddr,
    secret: [u8; 32],
    chain_id: u64,
    gas_price: U256,
    nonce: u64,
}

impl EthSender {
    /// Sends a transaction and waits for its receipt.
    fn send(&mut self, to: Option<EthAddress>, value: u64, input: Vec<u8>, gas: u64) -> Value {
        let raw = tx::sign_legacy(
            &LegacyTx {
                chain_id: Some(self.chain_id),
                nonce: self.nonce,
                gas_price: self.gas_price,
                gas_limit: gas,
                to,
                value: U256::from(value),
                input,
            },
            &self.secret,
        )
        .unwrap();
        let hash = call(self.web3, "eth_sendRawTransaction", json!([hex0x(&raw)]))
            .unwrap_or_else(|e| panic!("eth_sendRawTransaction: {e}"));
        self.nonce += 1;
        wait_for("a receipt", WAIT, || {
            call(self.web3, "eth_getTransactionReceipt", json!([hash]))
                .ok()
                .filter(|r| !r.is_null())
        })
    }
}

fn storage_slot_chain(summary: &Value) {
    let evm = evm_entry(summary);
    let url = evm["evm"]["eth_rpc_url"].as_str().unwrap();
    let web3: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let key = summary["ethereum_accounts"][0]["private_key"]
        .as_str()
        .unwrap();
    let secret: [u8; 32] = hex::decode(key.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    let me = tx::address_of(&secret).unwrap();
    let gas_price = U256::from(quantity(&call(web3, "eth_gasPrice", json!([])).unwrap()));
    let mut sender = EthSender {
        web3,
        secret,
        chain_id: evm["evm"]["chain_id"].as_u64().unwrap(),
        gas_price,
        nonce: quantity(
            &call(
                web3,
                "eth_getTransactionCount",
                json!([me.to_checksum(), "latest"]),
            )
            .unwrap(),
        ),
    };

    let receipt = sender.send(None, 0, deployer(&slot_writer()), 1_000_000);
    assert_eq!(receipt["status"], "0x1", "deploy: {receipt}");
    let contract: EthAddress = receipt["contractAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // The 256 slots of the chain, 64 per transaction.
    for part in 0..4 {
        let data: Vec<u8> = (part * 64..(part + 1) * 64).flat_map(chain_word).collect();
        let receipt = sender.send(Some(contract), 0, data, 3_000_000);
        assert_eq!(receipt["status"], "0x1", "slots part {part}: {receipt}");
    }
    let written = quantity(&call(web3, "eth_blockNumber", json!([])).unwrap());

    // Every slot reads back through the same hashing.
    for i in 0..256 {
        let v = call(
            web3,
            "eth_getStorageAt",
            json!([contract.to_checksum(), hex0x(&chain_word(i)), "latest"]),
        )
        .unwrap();
        assert_eq!(
            v.as_str().unwrap(),
            format!("0x{:064x}", 1),
            "slot {i} of the chain"
        );
    }
    // A slot never written reads as zero.
    let v = call(
        web3,
        "eth_getStorageAt",
        json!([contract.to_checksum(), hex0x(&[0x11; 32]), "latest"]),
    )
    .unwrap();
    assert_eq!(v.as_str().unwrap(), format!("0x{:064x}", 0));

    // The ParaTime goes on: rounds finalize and a later transfer lands.
    wait_for("three more EVM rounds", WAIT, || {
        let now = quantity(&call(web3, "eth_blockNumber", json!([])).ok()?);
        (now >= written + 3).then_some(())
    });
    let to = EthAddress([0x42; 20]);
    let receipt = sender.send(Some(to), 12_345, Vec::new(), 21_000);
    assert_eq!(receipt["status"], "0x1", "transfer: {receipt}");
    let balance = call(web3, "eth_getBalance", json!([to.to_checksum(), "latest"])).unwrap();
    assert_eq!(quantity(&balance), 12_345);
}

/// A consensus account of the localnet submitting signed transactions.
struct ConsensusSender {
    rpc: SocketAddr,
    key: SigningKey,
    tx_ctx: Context,
    nonce: u64,
}

impl ConsensusSender {
    /// Submits `method(body)`, waits for its block, and returns the outcome
    /// (`{hash, height, result: {error, gas_used}}`).
    fn submit(&mut self, method: &str, body: &impl serde::Serialize) -> Value {
        let tx = Transaction {
            nonce: self.nonce,
            fee: Some(Fee {
                amount: Quantity(0),
                gas: 100_000,
            }),
            method: method.into(),
            body: Some(cbor::to_value(body).unwrap()),
        };
        let raw = cbor::to_vec(&Signed::sign(&self.key, &self.tx_ctx, &tx).unwrap()).unwrap();
        let r = call(self.rpc, "consensus_submitTx", json!([b64(&raw), true]))
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        self.nonce += 1;
        r
    }
}

fn height(rpc: SocketAddr) -> Option<u64> {
    call(rpc, "node_status", json!([]))
        .ok()
        .and_then(|s| s["latest_height"].as_u64())
}

fn consensus_balance(rpc: SocketAddr, who: &Address) -> u128 {
    let a = call(rpc, "consensus_getAccount", json!([who.to_string()])).unwrap();
    let b = &a["general"]["balance"];
    b.as_str()
        .map(|s| s.parse().unwrap())
        .or_else(|| b.as_u64().map(u128::from))
        .unwrap_or(0)
}

fn runtime_id_chain(summary: &Value) {
    let node = summary["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["role"] == "validator")
        .unwrap_or_else(|| panic!("no validator in {summary}"));
    let rpc: SocketAddr = node["rpc_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let chain = ChainContext::new(summary["chain_context"].as_str().unwrap()).unwrap();
    let tx_ctx = Context::for_chain(atoll_consensus::app::TX_SIGNATURE_CONTEXT, &chain).unwrap();
    let seed = |i: usize| -> [u8; 32] {
        hex::decode(summary["accounts"][i]["private_key"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let entity_key = SigningKey::from_seed(&seed(1));
    let entity = entity_key.public_key();
    let account = |rpc: SocketAddr, who: &Address| -> u64 {
        call(rpc, "consensus_getAccount", json!([who.to_string()])).unwrap()["general"]["nonce"]
            .as_u64()
            .unwrap_or(0)
    };
    let entity_address = Address::from_ed25519(&entity);
    let mut sender = ConsensusSender {
        rpc,
        nonce: account(rpc, &entity_address),
        key: entity_key.clone(),
        tx_ctx: tx_ctx.clone(),
    };
    let signed_entity = Signed::sign(
        &entity_key,
        &Context::new(ENTITY_SIGNATURE_CONTEXT).unwrap(),
        &Entity {
            v: 1,
            id: entity,
            nodes: Vec::new(),
        },
    )
    .unwrap();
    let r = sender.submit(registry::methods::REGISTER_ENTITY, &signed_entity);
    assert!(r["result"]["error"].is_null(), "entity: {r}");

    let runtime_ctx = Context::new(RUNTIME_SIGNATURE_CONTEXT).unwrap();
    for i in 0..256 {
        let descriptor: registry::Runtime = serde_json::from_value(json!({
            "v": 3,
            "id": hex::encode(chain_word(i)),
            "entity_id": entity.to_base64(),
            "kind": "compute",
            "executor": { "group_size": 1, "group_backup_size": 1, "allowed_stragglers": 0, "round_timeout": 10 },
            "txn_scheduler": { "max_batch_size": 1000, "max_batch_size_bytes": 1048576, "batch_flush_timeout_ms": 100, "propose_batch_timeout_ms": 1000 },
            "storage": { "checkpoint_interval": 0, "checkpoint_num_kept": 0, "checkpoint_chunk_size": 0 },
            "admission_policy": { "any_node": {} }
        }))
        .unwrap();
        let signed = Signed::sign(&entity_key, &runtime_ctx, &descriptor).unwrap();
        let r = sender.submit(registry::methods::REGISTER_RUNTIME, &signed);
        assert!(r["result"]["error"].is_null(), "runtime {i}: {r}");
    }
    let runtimes = call(rpc, "consensus_query", json!(["registry.Runtimes", null]))
        .unwrap_or_else(|e| panic!("registry.Runtimes: {e}"));
    let ours = runtimes
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["entity_id"] == entity.to_base64().as_str())
        .count();
    assert_eq!(ours, 256, "{runtimes}");

    // Consensus goes on: blocks finalize and a later transfer lands.
    let registered = height(rpc).unwrap();
    wait_for("three more blocks", WAIT, || {
        (height(rpc)? >= registered + 3).then_some(())
    });
    let to = Address::from_ed25519(&SigningKey::from_seed(&[0x42; 32]).public_key());
    let before = consensus_balance(rpc, &to);
    let r = sender.submit(
        staking::methods::TRANSFER,
        &Transfer {
            to,
            amount: Quantity(7_777),
        },
    );
    assert!(r["result"]["error"].is_null(), "transfer: {r}");
    assert_eq!(consensus_balance(rpc, &to), before + 7_777);
}

#[test]
fn crit_bit_chains_of_user_keys_halt_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let mut net = Localnet::start(&dir, &["--single", "--paratimes", "evm"]);
    let summary = net.summary();
    let outcome = std::panic::catch_unwind(|| {
        storage_slot_chain(&summary);
        runtime_id_chain(&summary);
    });
    if let Err(e) = outcome {
        eprintln!("{}", net.stderr());
        for node in ["validator-0", "compute-0"] {
            let log = std::fs::read_to_string(dir.join(node).join("node.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "== {node} ==\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        std::panic::resume_unwind(e);
    }
    assert!(net.terminate().success());
}

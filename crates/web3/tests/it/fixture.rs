//! An in-process runtime API: real round records (headers chained by hash,
//! CBOR `UnverifiedTransaction`s and plain `TxOutcome`s), canned query
//! answers, and a record of submitted transactions.
//!
//! Queries at a past round answer from a per-round "state" that differs
//! from the latest one (see [`past_balance`] and the others), and every
//! query's round is recorded, so tests see which round the gateway asked
//! for. Rounds before [`FakeRuntime::state_from`] answer "not available",
//! as a node that restored a checkpoint does.

use std::sync::{Arc, Mutex};

use atoll_compute::storage::RoundRecord;
use atoll_consensus_types::roothash::{BlockHeader, HeaderType};
use atoll_crypto::Hash;
use atoll_evm::tx::{self as etx, DynamicFeeTx, LegacyTx};
use atoll_rpc::runtime::BoxFuture;
use atoll_rpc::{
    ApiError, RuntimeApi, RuntimeBlock, RuntimeTx, SubmitResult, Submitted, TxLocation,
};
use atoll_runtime_host::abi::TxOutcome;
use atoll_runtime_sdk::Event;
use atoll_runtime_sdk::types::{AuthProof, CallResult, RawSignature, UnverifiedTransaction};
use atoll_state::TxError;
use atoll_types::Namespace;
use atoll_types::cbor::{self, Value as Cbor};
use tokio::sync::mpsc;

pub const CHAIN_ID: u64 = 42;
pub const MIN_GAS_PRICE: u128 = 100;
pub const MAX_BATCH_GAS: u64 = 10_000_000;
pub const STATE_NONCE: u64 = 3;
pub const SECRET: [u8; 32] = [0x11; 32];

pub fn runtime_id() -> Namespace {
    "8000000000000000000000000000000000000000000000000000000000000001"
        .parse()
        .unwrap()
}

pub fn sender() -> [u8; 20] {
    atoll_crypto::secp256k1::SigningKey::from_bytes(&SECRET)
        .unwrap()
        .public_key()
        .to_eth_address()
        .0
}

/// ABI `Error(string)` revert data.
pub fn error_string(reason: &str) -> Vec<u8> {
    let mut d = vec![0x08, 0xc3, 0x79, 0xa0];
    let mut w = [0u8; 32];
    w[31] = 0x20;
    d.extend_from_slice(&w);
    let mut l = [0u8; 32];
    l[31] = reason.len() as u8;
    d.extend_from_slice(&l);
    let mut body = reason.as_bytes().to_vec();
    body.resize(reason.len().div_ceil(32) * 32, 0);
    d.extend_from_slice(&body);
    d
}

pub fn eip1559(nonce: u64, to: Option<[u8; 20]>, chain_id: u64) -> Vec<u8> {
    etx::sign_eip1559(
        &DynamicFeeTx {
            chain_id,
            nonce,
            max_priority_fee_per_gas: etx::U256::from(7u64),
            max_fee_per_gas: etx::U256::from(1_000u64),
            gas_limit: 100_000,
            to: to.map(atoll_crypto::secp256k1::EthAddress),
            value: etx::U256::from(5u64),
            input: vec![0xab, 0xcd],
            access_list: Vec::new(),
        },
        &SECRET,
    )
    .unwrap()
}

pub fn legacy(nonce: u64, to: Option<[u8; 20]>) -> Vec<u8> {
    etx::sign_legacy(
        &LegacyTx {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: etx::U256::from(150u64),
            gas_limit: 60_000,
            to: to.map(atoll_crypto::secp256k1::EthAddress),
            value: etx::U256::ZERO,
            input: vec![0x60, 0x00],
        },
        &SECRET,
    )
    .unwrap()
}

pub fn wrap_eth(raw: &[u8]) -> Vec<u8> {
    cbor::to_vec(&UnverifiedTransaction(
        raw.to_vec(),
        vec![AuthProof::Module("evm.ethereum.v0".into())],
    ))
    .unwrap()
}

pub fn native_tx(tag: u8) -> Vec<u8> {
    cbor::to_vec(&UnverifiedTransaction(
        vec![tag; 8],
        vec![AuthProof::Signature(RawSignature(vec![0; 64]))],
    ))
    .unwrap()
}

pub fn log_event(address: [u8; 20], topics: &[[u8; 32]], data: &[u8]) -> Event {
    Event {
        module: "evm".into(),
        code: 1,
        value: Cbor::Map(vec![
            (Cbor::Text("address".into()), Cbor::Bytes(address.to_vec())),
            (
                Cbor::Text("topics".into()),
                Cbor::Array(topics.iter().map(|t| Cbor::Bytes(t.to_vec())).collect()),
            ),
            (Cbor::Text("data".into()), Cbor::Bytes(data.to_vec())),
        ]),
    }
}

/// One batch entry with its outcome.
pub struct Entry {
    pub tx: Vec<u8>,
    pub result: CallResult,
    pub gas_used: u64,
    pub events: Vec<Event>,
}

impl Entry {
    pub fn ok(tx: Vec<u8>, result: Cbor, gas_used: u64, events: Vec<Event>) -> Self {
        Self {
            tx,
            result: CallResult::Ok(result),
            gas_used,
            events,
        }
    }
}

/// Builds chained round records.
pub struct Chain {
    pub records: Vec<RoundRecord>,
    last: BlockHeader,
}

impl Chain {
    /// A chain whose genesis is round 0 (which has no record).
    pub fn new() -> Self {
        Self {
            records: Vec::new(),
            last: BlockHeader {
                namespace: runtime_id(),
                round: 0,
                timestamp: 1_700_000_000,
                header_type: HeaderType::Normal,
                previous_hash: Hash::empty(),
                io_root: Hash::empty(),
                state_root: Hash::digest(b"genesis"),
                messages_hash: Hash::empty(),
            },
        }
    }

    pub fn push(&mut self, entries: Vec<Entry>) -> RoundRecord {
        let txs: Vec<serde_bytes::ByteBuf> = entries
            .iter()
            .map(|e| serde_bytes::ByteBuf::from(e.tx.clone()))
            .collect();
        let results: Vec<Cbor> = entries
            .into_iter()
            .map(|e| {
                cbor::to_value(&TxOutcome {
                    hash: Hash::digest(&e.tx),
                    result: e.result,
                    gas_used: e.gas_used,
                    events: e.events,
                })
                .unwrap()
            })
            .collect();
        let round = self.last.round + 1;
        let header = BlockHeader {
            namespace: runtime_id(),
            round,
            timestamp: self.last.timestamp + 6,
            header_type: HeaderType::Normal,
            previous_hash: self.last.hash(),
            io_root: atoll_compute::storage::io_root(&txs, &results),
            state_root: Hash::digest(&round.to_be_bytes()),
            messages_hash: Hash::empty(),
        };
        let record = RoundRecord {
            txs,
            results,
            ..RoundRecord::empty(header.clone())
        };
        self.last = header;
        self.records.push(record.clone());
        record
    }
}

#[derive(Default)]
struct State {
    records: Vec<RoundRecord>,
    subscribers: Vec<mpsc::Sender<RuntimeBlock>>,
    submitted: Vec<Vec<u8>>,
    refuse_next: Option<TxError>,
    /// The sender the check reports for every transaction (none: the
    /// gateway recovers it itself).
    report_sender: Option<[u8; 20]>,
    /// Senders "found by checks" of transactions gossiped to this node,
    /// by runtime transaction hash (`take_eth_sender`).
    checked: std::collections::BTreeMap<Hash, [u8; 20]>,
    /// The earliest round whose state is held.
    state_from: u64,
    /// The round of every query, in order (`None`: the latest).
    query_rounds: Vec<Option<u64>>,
}

/// The balance every account has at past round `r`.
pub fn past_balance(r: u64) -> u128 {
    u128::from(r) * 1_000
}

/// The nonce every account has at past round `r`.
pub fn past_nonce(r: u64) -> u64 {
    r
}

/// Storage slot `i` at past round `r`: `i`'s low byte, then `r`.
pub fn past_slot(index: &[u8], r: u64) -> Vec<u8> {
    let mut w = [0u8; 32];
    w[30] = index.last().copied().unwrap_or(0);
    w[31] = r as u8;
    w.to_vec()
}

/// A round record as the runtime API shows its block.
fn block_of(r: &RoundRecord) -> RuntimeBlock {
    RuntimeBlock {
        header: r.header.clone(),
        consensus_height: r.consensus_height,
        transactions: r.txs.iter().map(|t| Hash::digest(t)).collect(),
        messages: r.messages.clone(),
    }
}

/// The in-process runtime API.
#[derive(Clone, Default)]
pub struct FakeRuntime {
    state: Arc<Mutex<State>>,
}

impl FakeRuntime {
    /// Publishes a finalized round.
    pub fn finalize(&self, record: RoundRecord) {
        let mut st = self.state.lock().unwrap();
        let block = block_of(&record);
        st.records.push(record);
        st.subscribers
            .retain(|s| s.try_send(block.clone()).is_ok() || !s.is_closed());
    }

    pub fn submitted(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().submitted.clone()
    }

    pub fn refuse_next(&self, e: TxError) {
        self.state.lock().unwrap().refuse_next = Some(e);
    }

    /// Says that this node's check of runtime transaction `entry` found
    /// `sender` (as for a transaction gossiped from another node).
    pub fn checked_sender(&self, entry: &[u8], sender: [u8; 20]) {
        self.state
            .lock()
            .unwrap()
            .checked
            .insert(Hash::digest(entry), sender);
    }

    /// Rounds before `round` have no state here.
    pub fn state_from(&self, round: u64) {
        self.state.lock().unwrap().state_from = round;
    }

    /// The rounds queries asked for so far (and forgets them).
    pub fn take_query_rounds(&self) -> Vec<Option<u64>> {
        std::mem::take(&mut self.state.lock().unwrap().query_rounds)
    }

    /// From now on the check reports `sender` as every transaction's
    /// Ethereum sender (as the EVM runtime's check reports the one it
    /// recovered).
    pub fn report_sender(&self, sender: [u8; 20]) {
        self.state.lock().unwrap().report_sender = Some(sender);
    }
}

fn get<'a>(args: &'a Cbor, name: &str) -> Option<&'a Cbor> {
    match args {
        Cbor::Map(m) => m
            .iter()
            .find(|(k, _)| matches!(k, Cbor::Text(t) if t == name))
            .map(|(_, v)| v),
        _ => None,
    }
}

impl RuntimeApi for FakeRuntime {
    fn runtimes(&self) -> Vec<Namespace> {
        vec![runtime_id()]
    }

    fn submit(
        &self,
        _runtime: Namespace,
        raw: Vec<u8>,
        _wait: bool,
    ) -> BoxFuture<'_, Result<SubmitResult, ApiError>> {
        Box::pin(async move {
            let mut st = self.state.lock().unwrap();
            if let Some(e) = st.refuse_next.take() {
                return Err(ApiError::Tx(e));
            }
            st.submitted.push(raw.clone());
            Ok(SubmitResult {
                hash: Hash::digest(&raw),
                included: None,
            })
        })
    }

    fn submit_many(
        &self,
        _runtime: Namespace,
        raws: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, Vec<Result<Submitted, ApiError>>> {
        Box::pin(async move {
            let mut st = self.state.lock().unwrap();
            // A refusal set with `refuse_next` goes to the first one.
            let mut refusal = st.refuse_next.take();
            let mut out = Vec::with_capacity(raws.len());
            for raw in raws {
                if let Some(e) = refusal.take() {
                    out.push(Err(ApiError::Tx(e)));
                    continue;
                }
                out.push(Ok(Submitted {
                    hash: Hash::digest(&raw),
                    extra: st.report_sender.map(|a| a.to_vec()),
                }));
                st.submitted.push(raw);
            }
            out
        })
    }

    fn take_check_extra(&self, _runtime: Namespace, hash: Hash) -> Option<Vec<u8>> {
        self.state
            .lock()
            .unwrap()
            .checked
            .remove(&hash)
            .map(|a| a.to_vec())
    }

    fn query(
        &self,
        _runtime: Namespace,
        round: Option<u64>,
        method: String,
        args: Cbor,
    ) -> BoxFuture<'_, Result<Cbor, ApiError>> {
        Box::pin(async move {
            let text = |s: &str| Cbor::Text(s.into());
            let round = {
                let mut st = self.state.lock().unwrap();
                st.query_rounds.push(round);
                let latest = st.records.last().map_or(0, |r| r.header.round);
                match round {
                    Some(r) if r > latest => {
                        return Err(ApiError::NotFound(format!(
                            "round {r} is beyond the latest round {latest}"
                        )));
                    }
                    Some(r) if r < st.state_from => {
                        return Err(ApiError::NotFound(format!(
                            "the state of round {r} is not available on this node (its state starts at round {})",
                            st.state_from
                        )));
                    }
                    _ => {}
                }
                // The latest round's state is the latest state (as on a
                // node).
                round.filter(|r| *r != latest)
            };
            let bytes_arg = |name: &str| match get(&args, name) {
                Some(Cbor::Bytes(b)) => Some(b.clone()),
                _ => None,
            };
            if let Some(r) = round {
                match method.as_str() {
                    "accounts.Nonce" => return Ok(Cbor::Unsigned(past_nonce(r))),
                    "evm.Balance" => {
                        return Ok(Cbor::Bytes(past_balance(r).to_be_bytes().to_vec()));
                    }
                    "evm.Code" => return Ok(Cbor::Bytes(Vec::new())),
                    "evm.Storage" => {
                        return Ok(Cbor::Bytes(past_slot(
                            &bytes_arg("index").unwrap_or_default(),
                            r,
                        )));
                    }
                    "evm.SimulateCall" => {
                        let mut out = bytes_arg("data").unwrap_or_default();
                        out.push(r as u8);
                        return Ok(Cbor::Bytes(out));
                    }
                    "core.EstimateGasForCaller" => return Ok(Cbor::Unsigned(21_000 + r)),
                    _ => {}
                }
            }
            match method.as_str() {
                "evm.Parameters" => Ok(Cbor::Map(vec![(
                    text("chain_id"),
                    Cbor::Unsigned(CHAIN_ID),
                )])),
                "core.Parameters" => Ok(Cbor::Map(vec![(
                    text("max_batch_gas"),
                    Cbor::Unsigned(MAX_BATCH_GAS),
                )])),
                "core.MinGasPrice" => Ok(Cbor::Map(vec![(
                    Cbor::Bytes(Vec::new()),
                    Cbor::Bytes(MIN_GAS_PRICE.to_be_bytes()[15..].to_vec()),
                )])),
                "accounts.Nonce" => Ok(Cbor::Unsigned(STATE_NONCE)),
                "evm.Balance" => Ok(Cbor::Bytes(vec![
                    0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x64, 0x00, 0x00,
                ])),
                "evm.Code" => Ok(Cbor::Bytes(vec![0x60, 0x80])),
                "evm.Storage" => Ok(Cbor::Bytes(
                    get(&args, "index")
                        .and_then(|v| match v {
                            Cbor::Bytes(b) => Some(b.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                )),
                "evm.SimulateCall" => match get(&args, "data") {
                    Some(Cbor::Bytes(d)) if d.as_slice() == [0xde, 0xad] => {
                        Err(ApiError::Tx(TxError::new(
                            "evm",
                            8,
                            format!(
                                "execution reverted: nope (data 0x{})",
                                hex::encode(error_string("nope"))
                            ),
                        )))
                    }
                    Some(Cbor::Bytes(d)) => Ok(Cbor::Bytes(d.clone())),
                    _ => Err(ApiError::Tx(TxError::new("core", 10, "invalid argument"))),
                },
                "core.EstimateGasForCaller" => match get(&args, "caller")
                    .and_then(|c| get(c, "eth_address"))
                    .and(get(&args, "tx"))
                    .and_then(|t| get(t, "call"))
                    .filter(|c| get(c, "method") == Some(&Cbor::Text("evm.Call".into())))
                    .and_then(|c| get(c, "body"))
                    .and_then(|b| get(b, "data"))
                {
                    Some(Cbor::Bytes(d)) if d.as_slice() == [0xde, 0xad] => {
                        Err(ApiError::Tx(TxError::new("evm", 8, "execution reverted")))
                    }
                    Some(_) => Ok(Cbor::Unsigned(21_000)),
                    None => Err(ApiError::Tx(TxError::new("core", 10, "invalid argument"))),
                },
                other => Err(ApiError::Tx(TxError::new(
                    "core",
                    3,
                    format!("invalid method: {other}"),
                ))),
            }
        })
    }

    fn block(
        &self,
        _runtime: Namespace,
        round: Option<u64>,
    ) -> Result<Option<RuntimeBlock>, ApiError> {
        let st = self.state.lock().unwrap();
        let r = match round {
            None => st.records.last(),
            Some(n) => st.records.iter().find(|r| r.header.round == n),
        };
        Ok(r.map(block_of))
    }

    fn transactions(
        &self,
        _runtime: Namespace,
        _round: u64,
    ) -> Result<Option<Vec<RuntimeTx>>, ApiError> {
        Ok(None)
    }

    fn transaction(
        &self,
        _runtime: Namespace,
        _hash: Hash,
    ) -> Result<Option<TxLocation>, ApiError> {
        Ok(None)
    }

    fn events(&self, _runtime: Namespace, _round: u64) -> Result<Option<Vec<Cbor>>, ApiError> {
        Ok(None)
    }

    fn round_record(&self, _runtime: Namespace, round: u64) -> Result<Option<Vec<u8>>, ApiError> {
        let st = self.state.lock().unwrap();
        Ok(st
            .records
            .iter()
            .find(|r| r.header.round == round)
            .map(|r| cbor::to_vec(r).unwrap()))
    }

    fn subscribe(&self, _runtime: Namespace) -> Result<mpsc::Receiver<RuntimeBlock>, ApiError> {
        let (tx, rx) = mpsc::channel(64);
        self.state.lock().unwrap().subscribers.push(tx);
        Ok(rx)
    }
}

/// One round with a native transaction, a call by `contract` with two logs
/// (`topic`, then `topic` and `[0x02; 32]`), a failed call and a creation.
pub fn sample_round(contract: [u8; 20], topic: [u8; 32]) -> Vec<Entry> {
    vec![
        Entry::ok(
            native_tx(1),
            atoll_types::cbor::Value::Null,
            5_000,
            Vec::new(),
        ),
        Entry::ok(
            wrap_eth(&eip1559(3, Some(contract), CHAIN_ID)),
            atoll_types::cbor::Value::Bytes(vec![0x42]),
            30_000,
            vec![
                log_event(contract, &[topic], b"one"),
                log_event(contract, &[topic, [0x02; 32]], b"two"),
            ],
        ),
        Entry {
            tx: wrap_eth(&legacy(4, Some(contract))),
            result: atoll_runtime_sdk::types::CallResult::Failed {
                module: "evm".into(),
                code: 8,
                message: "execution reverted".into(),
            },
            gas_used: 25_000,
            events: Vec::new(),
        },
        Entry::ok(
            wrap_eth(&legacy(5, None)),
            atoll_types::cbor::Value::Bytes(vec![0xee; 20]),
            50_000,
            Vec::new(),
        ),
    ]
}

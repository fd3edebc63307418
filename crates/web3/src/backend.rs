//! Everything the gateway asks of the runtime, in one place: the query
//! names and argument shapes, transaction submission, and the finalized
//! rounds the indexer reads. State queries take the round whose state they
//! read (`None`: the latest finalized state); parameters are always read
//! at the latest.
//!
//! | what | query | arguments (CBOR) | answer |
//! |---|---|---|---|
//! | chain id | `evm.Parameters` | — | `{chain_id, ..}` |
//! | gas limit | `core.Parameters` | — | `{max_batch_gas, ..}` |
//! | base fee | `core.MinGasPrice` | — | `{denomination: amount}` (the native one) |
//! | nonce | `accounts.Nonce` | `{address}` (the atoll address of the H160) | `u64` |
//! | balance | `evm.Balance` | `{address: 20 bytes}` | big-endian bytes (or an integer) |
//! | code | `evm.Code` | `{address}` | bytes |
//! | storage | `evm.Storage` | `{address, index: 32 bytes}` | 32 bytes |
//! | `eth_call` | `evm.SimulateCall` | `{gas_price, gas_limit, caller, address?, value, data, access_list?}` | output bytes |
//! | `eth_estimateGas` | `core.EstimateGasForCaller` | `{caller: {eth_address}, tx: evm.Call {address, value, data, access_list?} / evm.Create {value, init_code, access_list?}, propagate_failures: true}` | `u64` |
//!
//! 256-bit amounts (`value`, `gas_price`) are sent as 32 big-endian bytes
//! (the `evm` module's `U256`); addresses as 20-byte strings.

use std::sync::{Arc, OnceLock};

use atoll_crypto::Address;
use atoll_crypto::secp256k1::EthAddress;
use atoll_rpc::{ApiError, RuntimeApi};
use atoll_runtime_sdk::modules::core::{CallerAddress, EstimateGasForCallerQuery};
use atoll_runtime_sdk::types::{AuthProof, Transaction, UnverifiedTransaction};
use atoll_types::Namespace;
use atoll_types::cbor::{self, Value as Cbor};
use tokio::sync::{mpsc, oneshot};

use atoll_evm::types::{
    AccessTuple, BalanceQuery, Call, CodeQuery, Create, SimulateCallQuery, StorageQuery,
};

use crate::error::{Web3Error, parse_revert};
use crate::types::{AccessListItem, H160, H256, U256};

/// The auth proof naming an Ethereum-signed transaction.
pub const ETHEREUM_PROOF: &str = "evm.ethereum.v0";

/// Whether `raw`, a runtime transaction (CBOR `UnverifiedTransaction`),
/// wraps a pre-EIP-155 Ethereum transaction: one without a chain id, which
/// any chain accepts, so that it can be replayed from any other. Anything
/// that does not decode as such is not one (the runtime's check judges
/// it).
pub fn is_unprotected_ethereum_tx(raw: &[u8]) -> bool {
    let Ok(UnverifiedTransaction(body, proofs)) = cbor::from_slice::<UnverifiedTransaction>(raw)
    else {
        return false;
    };
    if !matches!(proofs.as_slice(), [AuthProof::Module(m)] if m == ETHEREUM_PROOF) {
        return false;
    }
    atoll_evm::tx::decode_unrecovered(&body).is_ok_and(|t| t.chain_id().is_none())
}

/// Chain id and other EVM parameters.
pub const EVM_PARAMETERS: &str = "evm.Parameters";
/// Core parameters (gas limit).
pub const CORE_PARAMETERS: &str = "core.Parameters";
/// Minimum gas prices per denomination.
pub const CORE_MIN_GAS_PRICE: &str = "core.MinGasPrice";
/// An account's nonce.
pub const ACCOUNTS_NONCE: &str = "accounts.Nonce";
/// An account's EVM balance.
pub const EVM_BALANCE: &str = "evm.Balance";
/// A contract's code.
pub const EVM_CODE: &str = "evm.Code";
/// A contract's storage slot.
pub const EVM_STORAGE: &str = "evm.Storage";
/// A simulated call.
pub const EVM_SIMULATE_CALL: &str = "evm.SimulateCall";
/// Gas estimation for an Ethereum caller.
pub const ESTIMATE_GAS: &str = "core.EstimateGasForCaller";
/// The EVM call a gas estimate simulates.
pub const EVM_CALL: &str = "evm.Call";
/// The EVM creation a gas estimate simulates.
pub const EVM_CREATE: &str = "evm.Create";

fn field<'a>(v: &'a Cbor, name: &str) -> Option<&'a Cbor> {
    match v {
        Cbor::Map(m) => m
            .iter()
            .find(|(k, _)| matches!(k, Cbor::Text(t) if t == name))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn as_u128(v: &Cbor) -> Option<u128> {
    match v {
        Cbor::Unsigned(u) => Some(u128::from(*u)),
        Cbor::Bytes(b) => U256::from_be_slice(b).and_then(|u| u.to_u128()),
        _ => None,
    }
}

fn as_u256(v: &Cbor) -> Option<U256> {
    match v {
        Cbor::Unsigned(u) => Some(U256::from_u128(u128::from(*u))),
        Cbor::Bytes(b) => U256::from_be_slice(b),
        _ => None,
    }
}

/// The Ethereum sender in a check outcome's `extra`: the EVM runtime puts
/// the caller's 20-byte address there (anything else is no sender).
fn eth_sender(extra: Option<&[u8]>) -> Option<EthAddress> {
    extra.and_then(|b| EthAddress::from_slice(b).ok())
}

/// Checks queued submissions in batches until every sender is gone.
async fn submit_loop(
    api: Arc<dyn RuntimeApi>,
    runtime: Namespace,
    mut rx: mpsc::Receiver<Submission>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_SUBMIT_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (raws, replies): (Vec<Vec<u8>>, Vec<_>) = batch.into_iter().unzip();
        // A lone transaction too: only `submit_many` tells the sender the
        // runtime's check found.
        let outcomes: Vec<_> = api
            .submit_many(runtime, raws)
            .await
            .into_iter()
            .map(|r| r.map(|s| eth_sender(s.extra.as_deref())))
            .collect();
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            // The caller may have gone away; nothing to tell then.
            let _ = reply.send(outcome);
        }
    }
}

/// The atoll account of an Ethereum address.
pub fn account_of(address: &H160) -> Address {
    Address::from_eth(&eth_address(address))
}

/// A runtime error as the gateway reports it: a revert as a revert, the
/// rest as server errors carrying the runtime's error.
pub fn query_error(e: ApiError) -> Web3Error {
    match e {
        ApiError::Tx(t) => parse_revert(&t.message).unwrap_or(Web3Error::Server {
            message: t.message.clone(),
            runtime: Some((t.module, t.code, t.message)),
        }),
        ApiError::InvalidParams(why) => Web3Error::InvalidParams(why),
        ApiError::NotFound(what) => Web3Error::server(format!("not found: {what}")),
        ApiError::Internal(why) => Web3Error::Internal(why),
    }
}

/// The arguments of a simulated call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimulateCall {
    /// Gas price the call sees.
    pub gas_price: U256,
    /// Gas limit.
    pub gas_limit: u64,
    /// The caller.
    pub caller: H160,
    /// The callee (`None`: a creation).
    pub address: Option<H160>,
    /// Value sent.
    pub value: U256,
    /// Call data (init code for a creation).
    pub data: Vec<u8>,
    /// The EIP-2930 access list (`accessList`), given to the EVM.
    pub access_list: Vec<AccessListItem>,
}

/// An access list in the `evm` module's own shape ([`AccessTuple`]; left
/// out of the encoding when empty, as the module encodes it).
fn access_tuples(list: &[AccessListItem]) -> Vec<AccessTuple> {
    list.iter()
        .map(|item| AccessTuple {
            address: eth_address(&item.address),
            storage_keys: item.storage_keys.iter().map(|k| k.0).collect(),
        })
        .collect()
}

/// The `evm` module's form of an address.
const fn eth_address(a: &H160) -> EthAddress {
    EthAddress(a.0.into_array())
}

/// A query argument or transaction body in canonical CBOR.
fn encode<T: serde::Serialize>(v: &T) -> Result<Cbor, Web3Error> {
    cbor::to_value(v).map_err(|e| Web3Error::Internal(e.to_string()))
}

/// The runtime, as the gateway uses it.
#[derive(Clone)]
pub struct Backend {
    api: Arc<dyn RuntimeApi>,
    runtime: Namespace,
    chain_id: Arc<OnceLock<u64>>,
    /// The submission queue (started on first use), see [`Backend::submit`].
    submitter: Arc<OnceLock<mpsc::Sender<Submission>>>,
}

/// A transaction waiting to be checked, and where its outcome goes.
type Submission = (
    Vec<u8>,
    oneshot::Sender<Result<Option<EthAddress>, ApiError>>,
);

/// Most transactions checked in one call to the runtime.
const MAX_SUBMIT_BATCH: usize = 1_000;

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// The runtime `runtime` behind `api`.
    pub fn new(api: Arc<dyn RuntimeApi>, runtime: Namespace) -> Self {
        Self {
            api,
            runtime,
            chain_id: Arc::new(OnceLock::new()),
            submitter: Arc::new(OnceLock::new()),
        }
    }

    /// The runtime's id.
    pub fn runtime(&self) -> Namespace {
        self.runtime
    }

    async fn query(&self, method: &str, args: Cbor) -> Result<Cbor, Web3Error> {
        self.query_at(None, method, args).await
    }

    /// A query on the state of round `at` (the latest when `None`). A round
    /// whose state the node does not hold is refused with "historical state
    /// is not available" and the node's reason.
    async fn query_at(&self, at: Option<u64>, method: &str, args: Cbor) -> Result<Cbor, Web3Error> {
        let out = self
            .api
            .query(self.runtime, at, method.to_owned(), args)
            .await;
        match (out, at) {
            (Ok(v), _) => Ok(v),
            (Err(ApiError::NotFound(why)), Some(n)) => Err(Web3Error::server(format!(
                "historical state is not available for block {n}: {why}"
            ))),
            (Err(e), _) => Err(query_error(e)),
        }
    }

    fn unexpected(method: &str) -> Web3Error {
        Web3Error::Internal(format!("unexpected answer to {method}"))
    }

    /// The EIP-155 chain id (asked once).
    pub async fn chain_id(&self) -> Result<u64, Web3Error> {
        if let Some(id) = self.chain_id.get() {
            return Ok(*id);
        }
        let p = self.query(EVM_PARAMETERS, Cbor::Null).await?;
        let id = field(&p, "chain_id")
            .and_then(as_u128)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Self::unexpected(EVM_PARAMETERS))?;
        Ok(*self.chain_id.get_or_init(|| id))
    }

    /// The block gas limit: core `max_batch_gas`.
    pub async fn gas_limit(&self) -> Result<u64, Web3Error> {
        let p = self.query(CORE_PARAMETERS, Cbor::Null).await?;
        field(&p, "max_batch_gas")
            .and_then(as_u128)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Self::unexpected(CORE_PARAMETERS))
    }

    /// The base fee: the minimum gas price of the native denomination (0
    /// when it has none).
    pub async fn min_gas_price(&self) -> Result<u128, Web3Error> {
        let p = self.query(CORE_MIN_GAS_PRICE, Cbor::Null).await?;
        match &p {
            Cbor::Map(m) => Ok(m
                .iter()
                .find(|(k, _)| matches!(k, Cbor::Bytes(b) if b.is_empty()))
                .and_then(|(_, v)| as_u128(v))
                .unwrap_or(0)),
            _ => Err(Self::unexpected(CORE_MIN_GAS_PRICE)),
        }
    }

    /// An account's nonce at round `at` (the latest when `None`).
    pub async fn nonce(&self, address: &H160, at: Option<u64>) -> Result<u64, Web3Error> {
        let args = cbor::to_value(&atoll_runtime_sdk::modules::accounts::NonceQuery {
            address: account_of(address),
        })
        .map_err(|e| Web3Error::Internal(e.to_string()))?;
        let v = self.query_at(at, ACCOUNTS_NONCE, args).await?;
        as_u128(&v)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Self::unexpected(ACCOUNTS_NONCE))
    }

    /// An account's balance at round `at` (the latest when `None`).
    pub async fn balance(&self, address: &H160, at: Option<u64>) -> Result<U256, Web3Error> {
        let args = encode(&BalanceQuery {
            address: eth_address(address),
        })?;
        let v = self.query_at(at, EVM_BALANCE, args).await?;
        as_u256(&v).ok_or_else(|| Self::unexpected(EVM_BALANCE))
    }

    /// A contract's code at round `at` (empty for none).
    pub async fn code(&self, address: &H160, at: Option<u64>) -> Result<Vec<u8>, Web3Error> {
        let args = encode(&CodeQuery {
            address: eth_address(address),
        })?;
        let v = self.query_at(at, EVM_CODE, args).await?;
        match v {
            Cbor::Bytes(b) => Ok(b),
            Cbor::Null => Ok(Vec::new()),
            _ => Err(Self::unexpected(EVM_CODE)),
        }
    }

    /// A storage slot at round `at`.
    pub async fn storage(
        &self,
        address: &H160,
        index: &H256,
        at: Option<u64>,
    ) -> Result<H256, Web3Error> {
        let args = encode(&StorageQuery {
            address: eth_address(address),
            index: index.0,
        })?;
        let v = self.query_at(at, EVM_STORAGE, args).await?;
        match v {
            Cbor::Bytes(b) => U256::from_be_slice(&b)
                .map(|u| H256(u.0.into()))
                .ok_or_else(|| Self::unexpected(EVM_STORAGE)),
            Cbor::Null => Ok(H256::default()),
            _ => Err(Self::unexpected(EVM_STORAGE)),
        }
    }

    /// The `evm.SimulateCall` arguments for a call: the module's own
    /// [`SimulateCallQuery`].
    pub fn simulate_args(call: &SimulateCall) -> Result<Cbor, Web3Error> {
        encode(&SimulateCallQuery {
            gas_price: call.gas_price.0,
            gas_limit: call.gas_limit,
            caller: eth_address(&call.caller),
            address: call.address.as_ref().map(eth_address),
            value: call.value.0,
            data: call.data.clone(),
            access_list: access_tuples(&call.access_list),
        })
    }

    /// Simulates a call on the state of round `at` (the latest when
    /// `None`): its output.
    pub async fn simulate_call(
        &self,
        call: &SimulateCall,
        at: Option<u64>,
    ) -> Result<Vec<u8>, Web3Error> {
        let v = self
            .query_at(at, EVM_SIMULATE_CALL, Self::simulate_args(call)?)
            .await?;
        match v {
            Cbor::Bytes(b) => Ok(b),
            Cbor::Null => Ok(Vec::new()),
            _ => Err(Self::unexpected(EVM_SIMULATE_CALL)),
        }
    }

    /// The `core.EstimateGasForCaller` arguments for a call:
    /// `{caller: {eth_address}, tx, propagate_failures: true}` where `tx`
    /// calls `evm.Call {address, value, data}` or `evm.Create {value,
    /// init_code}`, its `fee.gas` the call's gas limit (the most the
    /// estimate tries; signers and the fee amount are the runtime's
    /// business).
    pub fn estimate_args(call: &SimulateCall) -> Result<Cbor, Web3Error> {
        let (method, body) = match call.address {
            Some(a) => (
                EVM_CALL,
                encode(&Call {
                    address: eth_address(&a),
                    value: call.value.0,
                    data: call.data.clone(),
                    access_list: access_tuples(&call.access_list),
                })?,
            ),
            None => (
                EVM_CREATE,
                encode(&Create {
                    value: call.value.0,
                    init_code: call.data.clone(),
                    access_list: access_tuples(&call.access_list),
                })?,
            ),
        };
        let mut tx = Transaction::new(method, body);
        // The most gas the estimate tries: the gas cap (or the call's gas).
        tx.auth_info.fee.gas = call.gas_limit;
        encode(&EstimateGasForCallerQuery {
            caller: CallerAddress::EthAddress(eth_address(&call.caller)),
            tx,
            propagate_failures: true,
        })
    }

    /// Estimates the gas of a call on the state of round `at` (a revert is
    /// reported as one).
    pub async fn estimate_gas(
        &self,
        call: &SimulateCall,
        at: Option<u64>,
    ) -> Result<u64, Web3Error> {
        let v = self
            .query_at(at, ESTIMATE_GAS, Self::estimate_args(call)?)
            .await?;
        as_u128(&v)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| Self::unexpected(ESTIMATE_GAS))
    }

    /// Submits a raw Ethereum transaction (checked and pooled; no wait):
    /// the sender the runtime's check recovered, when it says.
    ///
    /// Submissions go through one queue: a task takes whatever has arrived
    /// (at most `MAX_SUBMIT_BATCH`) and has the runtime check it in one
    /// call, so a lone transaction waits for nothing, and under load the
    /// runtime checks many per call instead of one per round trip.
    pub async fn submit(&self, raw: &[u8]) -> Result<Option<EthAddress>, ApiError> {
        let utx = UnverifiedTransaction(
            raw.to_vec(),
            vec![AuthProof::Module(ETHEREUM_PROOF.to_owned())],
        );
        let bytes = cbor::to_vec(&utx).map_err(|e| ApiError::Internal(e.to_string()))?;
        let queue = self.submitter.get_or_init(|| {
            let (tx, rx) = mpsc::channel(MAX_SUBMIT_BATCH * 4);
            tokio::spawn(submit_loop(self.api.clone(), self.runtime, rx));
            tx
        });
        let (reply, outcome) = oneshot::channel();
        queue
            .send((bytes, reply))
            .await
            .map_err(|_| ApiError::Internal("the submission queue stopped".into()))?;
        outcome
            .await
            .map_err(|_| ApiError::Internal("the submission queue dropped a transaction".into()))?
    }

    /// The latest finalized round (`None` before the first).
    pub fn latest_round(&self) -> Result<Option<u64>, Web3Error> {
        let b = self
            .api
            .block(self.runtime, None)
            .map_err(|e| Web3Error::Internal(e.to_string()))?;
        Ok(b.map(|b| b.round()))
    }

    /// The Ethereum sender this node's runtime check found for runtime
    /// transaction `hash`, if it still remembers it (forgotten once taken).
    pub fn take_eth_sender(&self, hash: atoll_crypto::Hash) -> Option<EthAddress> {
        eth_sender(self.api.take_check_extra(self.runtime, hash).as_deref())
    }

    /// A finalized round's record (CBOR).
    pub fn round_record(&self, round: u64) -> Result<Option<Vec<u8>>, Web3Error> {
        self.api
            .round_record(self.runtime, round)
            .map_err(|e| Web3Error::Internal(e.to_string()))
    }

    /// Wake-ups, one per finalized round.
    pub fn subscribe(&self) -> Option<mpsc::Receiver<atoll_rpc::RuntimeBlock>> {
        self.api.subscribe(self.runtime).ok()
    }
}

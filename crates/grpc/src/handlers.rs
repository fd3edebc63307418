//! What each method does, over the node's [`NodeApi`] port: the same
//! queries, submissions and views the JSON-RPC API serves, in Oasis's
//! request and response shapes (CBOR).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use atoll_consensus_types::staking::Account;
use atoll_crypto::{Address, Hash};
use atoll_rpc::{BlockView, NodeApi};
use atoll_types::{Quantity, cbor};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast::error::RecvError;

use crate::request::{self, OwnerQuery, SignerNonceQuery};
use crate::status::MethodError;
use crate::table::Method;

/// How long `SubmitTx` waits for its transaction to be in a block.
pub const SUBMIT_WAIT: Duration = Duration::from_secs(60);

/// Runs `method` on the request `body`, answering with the response's CBOR.
pub async fn call(
    node: &Arc<dyn NodeApi>,
    method: Method,
    body: &[u8],
) -> Result<Bytes, MethodError> {
    match method {
        Method::GetChainContext => out(&node.status().chain_context),
        Method::GetStatus => status(node.as_ref()),
        Method::GetBlock => {
            let h = request::height_request(body)?;
            let b = node
                .block(h)?
                .ok_or_else(|| MethodError::NotFound("consensus: block not found".into()))?;
            out(&OasisBlock::from(&b))
        }
        Method::SubmitTx => submit(node.as_ref(), body, true).await,
        Method::SubmitTxNoWait => submit(node.as_ref(), body, false).await,
        Method::GetSignerNonce => {
            let q: SignerNonceQuery = request::decode(body)?;
            let a = account(
                node.as_ref(),
                &q.account_address,
                request::height(q.height)?,
            )?;
            out(&a.general.nonce)
        }
        Method::StakingAccount => {
            let q: OwnerQuery = request::decode(body)?;
            out(&account(
                node.as_ref(),
                &q.owner,
                request::height(q.height)?,
            )?)
        }
        Method::StakingDelegationsTo => {
            let q: OwnerQuery = request::decode(body)?;
            let list: Vec<DelegationRow> = query(
                node.as_ref(),
                "staking.Delegations",
                serde_json::json!({ "address": q.owner }),
                request::height(q.height)?,
            )?;
            let map: BTreeMap<Address, Delegation> = list
                .into_iter()
                .map(|r| (r.delegator, Delegation { shares: r.shares }))
                .collect();
            out(&map)
        }
        Method::StakingTotalSupply => {
            let h = request::height_request(body)?;
            let q: Quantity = query(
                node.as_ref(),
                "staking.TotalSupply",
                serde_json::Value::Null,
                h,
            )?;
            out(&q)
        }
        Method::StakingCommonPool => {
            let h = request::height_request(body)?;
            let q: Quantity = query(
                node.as_ref(),
                "staking.CommonPool",
                serde_json::Value::Null,
                h,
            )?;
            out(&q)
        }
        Method::RuntimeSubmitTx | Method::RuntimeSubmitTxNoWait => {
            let q: request::RuntimeSubmit = request::decode(body)?;
            let rt = runtimes(node.as_ref())?;
            let wait = method == Method::RuntimeSubmitTx;
            let r = rt.submit(q.runtime_id, q.data, wait).await?;
            if !wait {
                return out(&());
            }
            let loc = r.included.ok_or_else(|| {
                MethodError::Internal(format!("transaction {} not in a round yet", r.hash))
            })?;
            // The node keeps the transaction's whole outcome ({hash, result,
            // events, gas_used}); Oasis answers the call result alone.
            let call_result = loc.result.get("result").unwrap_or(&loc.result);
            let result = cbor::encode_value(call_result)
                .map_err(|e| MethodError::Internal(e.to_string()))?;
            out(&serde_bytes::ByteBuf::from(result))
        }
        Method::RuntimeQuery => {
            let q: request::RuntimeQuery = request::decode(body)?;
            let rt = runtimes(node.as_ref())?;
            // The arguments are read by the runtime SDK's rules (canonical).
            let args = if q.args.is_empty() {
                cbor::Value::Null
            } else {
                cbor::decode_value(&q.args).map_err(|e| MethodError::BadRequest(e.to_string()))?
            };
            let round = (q.round != request::ROUND_LATEST).then_some(q.round);
            let v = rt.query(q.runtime_id, round, q.method, args).await?;
            let data = cbor::encode_value(&v).map_err(|e| MethodError::Internal(e.to_string()))?;
            out(&QueryResponse {
                data: serde_bytes::ByteBuf::from(data),
            })
        }
        Method::BeaconGetEpoch => {
            let h = match request::height_request(body)? {
                Some(h) => h,
                None => node
                    .status()
                    .latest_height
                    .ok_or_else(|| MethodError::NotFound("no block yet".into()))?,
            };
            let r = node
                .block_results(h)?
                .ok_or_else(|| MethodError::NotFound(format!("height {h}")))?;
            out(&r.epoch)
        }
    }
}

/// `runtime/client.QueryResponse`.
#[derive(Serialize)]
struct QueryResponse {
    data: serde_bytes::ByteBuf,
}

/// The node's runtime client API, when it is a compute node (as oasis-node
/// answers a client node without the runtime).
fn runtimes(node: &dyn NodeApi) -> Result<Arc<dyn atoll_rpc::RuntimeApi>, MethodError> {
    node.runtimes().ok_or_else(|| MethodError::Coded {
        module: "runtime/client".into(),
        // runtime/client's ErrNoHostedRuntime.
        code: 6,
        message: "client: no hosted runtime".into(),
    })
}

fn out<T: Serialize + ?Sized>(v: &T) -> Result<Bytes, MethodError> {
    cbor::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| MethodError::Internal(e.to_string()))
}

/// A consensus query through the node's port, read back into its type (the
/// port answers in JSON; the types read their human-readable forms).
fn query<T: DeserializeOwned>(
    node: &dyn NodeApi,
    method: &str,
    args: serde_json::Value,
    height: Option<u64>,
) -> Result<T, MethodError> {
    let v = node.query(method, &args, height)?;
    serde_json::from_value(v).map_err(|e| MethodError::Internal(e.to_string()))
}

fn account(node: &dyn NodeApi, a: &Address, h: Option<u64>) -> Result<Account, MethodError> {
    query(
        node,
        "staking.Account",
        serde_json::json!({ "address": a }),
        h,
    )
}

#[derive(serde::Deserialize)]
struct DelegationRow {
    delegator: Address,
    shares: Quantity,
}

/// `staking.Delegation`.
#[derive(Serialize)]
struct Delegation {
    shares: Quantity,
}

/// `mkvs.Root` of the consensus state.
#[derive(Serialize)]
struct Root {
    #[serde(with = "serde_bytes")]
    ns: [u8; 32],
    version: u64,
    root_type: u8,
    hash: Hash,
}

/// `consensus.Block`, as `@oasisprotocol/client` reads it.
#[derive(Serialize)]
struct OasisBlock {
    height: u64,
    hash: Hash,
    time: u64,
    state_root: Root,
    meta: Option<()>,
}

impl From<&BlockView> for OasisBlock {
    fn from(b: &BlockView) -> Self {
        Self {
            height: b.height,
            hash: b.hash,
            time: b.time,
            state_root: Root {
                ns: [0; 32],
                version: b.height,
                // mkvs.RootTypeState.
                root_type: 1,
                hash: b.state_root,
            },
            meta: None,
        }
    }
}

/// `consensus.Status`: the fields atoll knows.
#[derive(Serialize)]
struct Status {
    version: Version,
    backend: &'static str,
    latest_height: u64,
    latest_hash: Hash,
    latest_time: u64,
    latest_epoch: u64,
    latest_state_root: Root,
    chain_context: String,
    is_validator: bool,
}

#[derive(Serialize)]
struct Version {
    major: u16,
    minor: u16,
    patch: u16,
}

fn status(node: &dyn NodeApi) -> Result<Bytes, MethodError> {
    let s = node.status();
    let block = node.block(None)?;
    let epoch = match s.latest_height {
        Some(h) => node.block_results(h)?.map(|r| r.epoch.0).unwrap_or(0),
        None => 0,
    };
    let (height, hash, time, root) = match &block {
        Some(b) => (b.height, b.hash, b.time, OasisBlock::from(b).state_root),
        None => (
            0,
            Hash::default(),
            0,
            Root {
                ns: [0; 32],
                version: 0,
                root_type: 1,
                hash: Hash::default(),
            },
        ),
    };
    let mut parts = s.version.split('.').map(|p| p.parse::<u16>().unwrap_or(0));
    out(&Status {
        version: Version {
            major: parts.next().unwrap_or(0),
            minor: parts.next().unwrap_or(0),
            patch: parts.next().unwrap_or(0),
        },
        backend: "atoll",
        latest_height: height,
        latest_hash: hash,
        latest_time: time,
        latest_epoch: epoch,
        latest_state_root: root,
        chain_context: s.chain_context,
        is_validator: false,
    })
}

/// Submits the request's bytes, unchanged, as the signed transaction (the
/// signature covers them as sent); with `wait`, answers once the transaction
/// is in a block, with its error if it failed there.
async fn submit(node: &dyn NodeApi, body: &[u8], wait: bool) -> Result<Bytes, MethodError> {
    let mut blocks = node.subscribe();
    let hash = node.submit_tx(body.to_vec())?;
    if wait {
        let found = tokio::time::timeout(SUBMIT_WAIT, async {
            loop {
                match blocks.recv().await {
                    Ok(n) => {
                        if let Some(i) = n.block.transactions.iter().position(|t| *t == hash) {
                            return Ok(n.results.tx_results.get(i).and_then(|r| r.error.clone()));
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        if let Some(t) = node.transaction(&hash)? {
                            return Ok(t.result.error);
                        }
                    }
                    Err(RecvError::Closed) => {
                        return Err(MethodError::Internal("the node is stopping".into()));
                    }
                }
            }
        })
        .await
        .map_err(|_| MethodError::Internal(format!("transaction {hash} not in a block yet")))??;
        if let Some(e) = found {
            return Err(MethodError::Coded {
                module: e.module,
                code: e.code,
                message: e.message,
            });
        }
    }
    out(&())
}

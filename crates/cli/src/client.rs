//! What the client commands share: which node to talk to, accounts and
//! wallets, building, signing and submitting transactions on both layers,
//! and turning the network's refusals into advice.
//!
//! # Which node
//!
//! 1. `--node URL`, else the environment variable `ATOLL_NODE`;
//! 2. else `<localnet dir>/localnet.json` (`--localnet DIR`, default
//!    `./localnet`, where `atoll localnet` writes it): its first node for
//!    consensus commands, and for ParaTime commands a compute node that
//!    serves the ParaTime;
//! 3. else `http://127.0.0.1:26658`.
//!
//! ParaTime commands need a compute node (validators serve no ParaTime):
//! when `--node` names one that does not serve the ParaTime, the command
//! says so before anything is sent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use atoll_crypto::Address;
use atoll_crypto::context::{ChainContext, Context};
use atoll_crypto::ed25519::SigningKey;
use atoll_crypto::secp256k1::EthAddress;
use atoll_rpc::{ConsensusRpcClient, RuntimeRpcClient, SystemRpcClient as _};
use atoll_runtime_sdk::crypto::{TxSigner, sign_transaction, tx_signature_context};
use atoll_runtime_sdk::modules::accounts::{AccountBalances, BalancesQuery, NonceQuery};
use atoll_runtime_sdk::types::{BaseUnits, Denomination, SignerInfo, Transaction};
use atoll_types::signed::Signed;
use atoll_types::transaction::{Fee, Transaction as ConsensusTx};
use atoll_types::{Namespace, Quantity, cbor};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::rpc::{self, Client};
use crate::ui::Output;
use crate::wallet::{self, PassphraseSource, Unlocked};

/// The node used when nothing else names one.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:26658";

/// The environment variable that may name the node.
pub const ENV_NODE: &str = "ATOLL_NODE";

/// Gas of a ParaTime transaction unless `--gas` says otherwise.
pub const RUNTIME_GAS: u64 = 100_000;

/// How long a wait for a transaction's effects may take.
pub const WAIT: Duration = Duration::from_secs(120);

/// The options every client command shares.
pub struct Ctx {
    /// Output mode.
    pub out: Output,
    /// `--node`.
    pub node: Option<String>,
    /// `--localnet`.
    pub localnet_dir: PathBuf,
    /// The wallets.
    pub wallets: wallet::Store,
    /// Where passphrases come from.
    pub passphrase: PassphraseSource,
    /// `--decimals`.
    pub decimals: Option<u32>,
    /// `--fee`: fee in base units (consensus; ParaTime: overrides gas price x gas).
    pub fee: Option<u128>,
    /// `--gas`.
    pub gas: Option<u64>,
}

/// A ParaTime and a compute node that serves it.
pub struct ParaTime {
    /// Its name, when known (from `localnet.json`).
    pub name: Option<String>,
    /// Its id.
    pub id: Namespace,
    /// A node serving it.
    pub client: Client,
}

impl ParaTime {
    /// Its name, or its id.
    pub fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.id.to_string())
    }

    /// Its account on the consensus layer (what deposits are allowed to).
    pub fn consensus_address(&self) -> Address {
        Address::from_runtime_id(self.id.as_bytes())
    }
}

/// A JSON amount (decimal string or number) as a `u128`.
pub fn json_amount(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64().map(u128::from))
        .unwrap_or(0)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A ParaTime's name or id as given by the user.
fn parse_namespace(s: &str) -> Option<Namespace> {
    s.strip_prefix("0x").unwrap_or(s).parse().ok()
}

impl Ctx {
    /// `<localnet>/localnet.json`, when it exists.
    pub fn localnet_summary(&self) -> Option<Value> {
        let path = self.localnet_dir.join("localnet.json");
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn explicit_node(&self) -> Option<String> {
        self.node.clone().or_else(|| {
            std::env::var(ENV_NODE)
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
    }

    /// The node for consensus commands.
    pub fn consensus_node(&self) -> anyhow::Result<Client> {
        if let Some(url) = self.explicit_node() {
            return Client::new(&url);
        }
        if let Some(summary) = self.localnet_summary()
            && let Some(url) = summary["nodes"]
                .as_array()
                .and_then(|n| n.first())
                .and_then(|n| n["rpc_url"].as_str())
        {
            return Client::new(url);
        }
        Client::new(DEFAULT_NODE)
    }

    /// The ParaTime `wanted` (a name from `localnet.json`, or an id), or
    /// else the localnet's first one (or the only one the node serves),
    /// with a node that serves it.
    pub fn paratime(&self, wanted: Option<&str>) -> anyhow::Result<ParaTime> {
        let known: Vec<(String, Namespace, Vec<String>)> = self
            .localnet_summary()
            .and_then(|s| s["paratimes"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                Some((
                    p["name"].as_str()?.to_owned(),
                    parse_namespace(p["id"].as_str()?)?,
                    p["rpc_urls"]
                        .as_array()
                        .map(|u| {
                            u.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                ))
            })
            .collect();
        let explicit = self.explicit_node();
        // Which ParaTime.
        let (name, id) = match wanted {
            Some(w) => {
                if let Some((n, id, _)) = known.iter().find(|(n, _, _)| n == w) {
                    (Some(n.clone()), *id)
                } else if let Some(id) = parse_namespace(w) {
                    let name = known.iter().find(|(_, i, _)| *i == id).map(|k| k.0.clone());
                    (name, id)
                } else {
                    let names: Vec<&str> = known.iter().map(|k| k.0.as_str()).collect();
                    bail!(
                        "unknown ParaTime {w:?}: give its id (64 hex digits){}",
                        if names.is_empty() {
                            String::new()
                        } else {
                            format!(" or one of the localnet's names: {}", names.join(", "))
                        }
                    );
                }
            }
            // A localnet's ParaTimes: its first (`plain` by default), or
            // the only one.
            None if !known.is_empty() && explicit.is_none() => {
                let (n, id, _) = &known[0];
                (Some(n.clone()), *id)
            }
            None => {
                let node = match &explicit {
                    Some(url) => Client::new(url)?,
                    None => Client::new(DEFAULT_NODE)?,
                };
                let list = node.run(|c| c.list())?;
                let ids: Vec<Namespace> = list.iter().filter_map(|v| parse_namespace(v)).collect();
                match ids.as_slice() {
                    [one] => {
                        let name = known.iter().find(|k| k.1 == *one).map(|k| k.0.clone());
                        (name, *one)
                    }
                    [] => bail!(
                        "the node at {} serves no ParaTime; name a compute node with --node URL",
                        node.url()
                    ),
                    more => bail!(
                        "the node at {} serves several ParaTimes ({}); choose one with \
                         --paratime ID",
                        node.url(),
                        more.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
        };
        // Which node.
        let serves = |client: &Client| -> anyhow::Result<bool> {
            let list = client.run(|c| c.list())?;
            Ok(list.iter().any(|v| parse_namespace(v) == Some(id)))
        };
        let label = name.clone().unwrap_or_else(|| id.to_string());
        if let Some(url) = explicit {
            let client = Client::new(&url)?;
            if !serves(&client)? {
                bail!(
                    "the node at {url} does not serve ParaTime {label}; name a compute node \
                     that does with --node URL (a localnet lists them in localnet.json)"
                );
            }
            return Ok(ParaTime { name, id, client });
        }
        let urls = known
            .iter()
            .find(|k| k.1 == id)
            .map(|k| k.2.clone())
            .unwrap_or_default();
        let mut last_err = None;
        for url in urls.iter().map(String::as_str).chain([DEFAULT_NODE]) {
            let client = Client::new(url)?;
            match serves(&client) {
                Ok(true) => return Ok(ParaTime { name, id, client }),
                Ok(false) => {}
                Err(e) => last_err = Some(e),
            }
        }
        match last_err {
            Some(e) => Err(e.context(format!("no reachable node serves ParaTime {label}"))),
            None => bail!(
                "no known node serves ParaTime {label}; name a compute node that does with \
                 --node URL"
            ),
        }
    }

    /// An account as the user wrote it: `oasis1…`, `0x…` (an Ethereum
    /// address, as ParaTimes map it), `paratime:NAME` (a ParaTime's
    /// consensus account), or a wallet name.
    pub fn account(&self, text: &str) -> anyhow::Result<Address> {
        let t = text.trim();
        if t.starts_with("oasis") {
            return Address::from_bech32(t).map_err(|e| {
                anyhow::anyhow!("malformed address {text:?}: {e} (expected oasis1…, 46 characters)")
            });
        }
        if t.starts_with("0x") || t.starts_with("0X") {
            let eth = EthAddress::from_hex(t).map_err(|e| {
                anyhow::anyhow!(
                    "malformed Ethereum address {text:?}: {e} (expected 0x and 40 hex digits)"
                )
            })?;
            return Ok(Address::from_eth(&eth));
        }
        if let Some(p) = t.strip_prefix("paratime:") {
            return Ok(self.paratime(Some(p))?.consensus_address());
        }
        if wallet::check_name(t).is_err() {
            bail!(
                "unknown account {text:?}: not an address (oasis1…, 0x…), not paratime:NAME, \
                 and not a wallet name"
            );
        }
        Ok(self.wallets.load(t)?.address)
    }

    /// Unlocks wallet `name` (asks for its passphrase).
    pub fn unlock(&self, name: &str) -> anyhow::Result<Unlocked> {
        let file = self.wallets.load(name)?;
        let pass = self.passphrase.get(name, false)?;
        self.wallets.unlock(file, &pass)
    }

    /// Parses an amount (see [`crate::amount`]).
    pub fn amount(&self, text: &str, what: &str) -> anyhow::Result<u128> {
        crate::amount::parse_positive(text, self.decimals, what)
    }

    /// An amount for people: base units, and tokens when `--decimals` is set.
    pub fn show_amount(&self, base: u128) -> String {
        match self.decimals {
            Some(d) => format!(
                "{} ({base} base units)",
                crate::amount::format(base, Some(d))
            ),
            None => format!("{base} base units"),
        }
    }
}

/// The chain context a node's network signs under.
pub fn chain_context(client: &Client) -> anyhow::Result<ChainContext> {
    let status = client.run(|c| c.status())?;
    ChainContext::new(&status.chain_context)
        .map_err(|e| anyhow::anyhow!("the node reported a bad chain context: {e}"))
}

/// A consensus account as the node shows it.
pub fn consensus_account(client: &Client, address: &Address) -> anyhow::Result<Value> {
    client.run(|c| c.get_account(address.to_string(), None))
}

/// A consensus state query (see `atoll_consensus::query`) at the latest
/// height.
pub fn consensus_query(
    client: &Client,
    method: &str,
    args: Option<Value>,
) -> anyhow::Result<Value> {
    client.run(|c| ConsensusRpcClient::query(c, method.to_owned(), args, None))
}

/// A consensus account's spendable balance.
pub fn consensus_balance(client: &Client, address: &Address) -> anyhow::Result<u128> {
    Ok(json_amount(
        &consensus_account(client, address)?["general"]["balance"],
    ))
}

/// What a staking, registry or consensus error means, and what to do.
fn consensus_advice(module: &str, code: u64) -> &'static str {
    match (module, code) {
        ("staking", 2) => " Not enough spendable balance: check it with `atoll account show`.",
        ("staking", 3) => " The escrow does not cover the stake this needs: escrow more first.",
        ("staking", 6) | ("staking", 7) => " The amount is below the network's minimum.",
        ("staking", 8) => " The delegation holds fewer shares: see `atoll account show`.",
        ("staking", 10) => " The allowance is too small: raise it with `atoll account allow`.",
        ("registry", 4) => " Register the entity first: `atoll registry register entity`.",
        _ => "",
    }
}

/// Turns a refusal into a message that says what happened and what to do.
fn explain_submit_error(e: anyhow::Error, layer: &str) -> anyhow::Error {
    let Some(r) = rpc::rpc_error(&e) else {
        return e;
    };
    match r.code {
        rpc::CODE_TX_REFUSED => {
            let advice = r.module_code().map_or("", |(m, c)| consensus_advice(m, c));
            anyhow::anyhow!(
                "the {layer} refused the transaction: {}; nothing was done.{advice}",
                r.data["message"].as_str().unwrap_or(&r.message)
            )
        }
        rpc::CODE_TIMEOUT => anyhow::anyhow!(
            "the transaction {} was accepted but not included in time; it may still be: check \
             the balances before sending it again",
            r.data["hash"].as_str().unwrap_or("?")
        ),
        _ => e,
    }
}

/// Signs `method(body)` with `key`, submits it to consensus and waits for
/// its block. Returns `{hash, height, gas_used}`; an error when refused or
/// failed (saying why and what to do).
pub fn submit_consensus(
    ctx: &Ctx,
    client: &Client,
    key: &SigningKey,
    method: &str,
    body: &impl serde::Serialize,
) -> anyhow::Result<Value> {
    let chain = chain_context(client)?;
    let from = Address::from_ed25519(&key.public_key());
    let nonce = consensus_account(client, &from)?["general"]["nonce"]
        .as_u64()
        .unwrap_or(0);
    let body = cbor::to_value(body).context("cannot encode the transaction body")?;
    let body_len = cbor::to_vec(&body).map(|b| b.len()).unwrap_or(0);
    let gas = ctx
        .gas
        .unwrap_or(10_000 + 2 * u64::try_from(body_len).unwrap_or(0));
    let tx = ConsensusTx {
        nonce,
        fee: Some(Fee {
            amount: Quantity(ctx.fee.unwrap_or(0)),
            gas,
        }),
        method: method.into(),
        body: Some(body),
    };
    let sig_ctx = Context::for_chain(atoll_consensus::app::TX_SIGNATURE_CONTEXT, &chain)
        .map_err(|e| anyhow::anyhow!("signature context: {e}"))?;
    let raw = cbor::to_vec(&Signed::sign(key, &sig_ctx, &tx).context("cannot sign")?)
        .context("cannot encode the transaction")?;
    let answer = {
        let _p = ctx
            .out
            .progress("waiting for the transaction to be included in a block");
        client
            .run_timeout(WAIT, |c| {
                ConsensusRpcClient::submit_tx(c, b64(&raw), Some(true))
            })
            .map_err(|e| explain_submit_error(e, "network"))?
    };
    let outcome = answer.result.as_ref();
    if let Some(err) = outcome.and_then(|o| o.error.as_ref()) {
        let code = u64::from(err.code);
        bail!(
            "the transaction {} failed in block {}: {} ({} error {code}); only its fee \
             was charged.{}",
            answer.hash,
            json!(answer.height),
            err.message,
            err.module,
            consensus_advice(&err.module, code)
        );
    }
    Ok(json!({
        "hash": answer.hash,
        "height": answer.height,
        "gas_used": outcome.map(|o| o.gas_used),
    }))
}

/// Runs a ParaTime query; returns its CBOR answer.
pub fn runtime_query<T: serde::Serialize>(
    pt: &ParaTime,
    method: &str,
    args: &T,
) -> anyhow::Result<cbor::Value> {
    let args = cbor::to_vec(args).context("cannot encode the query")?;
    let answer = pt.client.run(|c| {
        RuntimeRpcClient::query(
            c,
            pt.id.to_string(),
            method.to_owned(),
            Some(b64(&args)),
            None,
        )
    })?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(answer.cbor)
        .context("the node answered the query with bad base64")?;
    cbor::from_slice(&raw).context("the node answered the query with bad CBOR")
}

/// An account's native balance in a ParaTime.
pub fn runtime_balance(pt: &ParaTime, address: &Address) -> anyhow::Result<u128> {
    let v = runtime_query(
        pt,
        "accounts.Balances",
        &BalancesQuery { address: *address },
    )?;
    let b: AccountBalances = cbor::from_value(v).context("unexpected accounts.Balances answer")?;
    Ok(b.balances.get(&Denomination::NATIVE).map_or(0, |q| q.0))
}

/// An account's next nonce in a ParaTime.
pub fn runtime_nonce(pt: &ParaTime, address: &Address) -> anyhow::Result<u64> {
    let v = runtime_query(pt, "accounts.Nonce", &NonceQuery { address: *address })?;
    cbor::from_value(v).context("unexpected accounts.Nonce answer")
}

fn runtime_advice(module: &str, code: u64) -> &'static str {
    match (module, code) {
        ("accounts", 2) | ("consensus_accounts", 3) | ("core", 5) => {
            " Not enough balance in the ParaTime: see `atoll paratime show balance`."
        }
        ("consensus_accounts", 6) => {
            " Deposits and withdrawals to yourself need an ed25519 wallet; an Ethereum account \
             can withdraw with --to oasis1…"
        }
        _ => "",
    }
}

/// A ParaTime transaction that was included.
pub struct Included {
    /// Its hash.
    pub hash: Value,
    /// The round that holds it.
    pub round: u64,
    /// Its signer's nonce.
    pub nonce: u64,
    /// Its signer.
    pub signer: Address,
}

/// Signs `method(body)` with `signer`, submits it to the ParaTime and waits
/// for the round that includes it. An error when refused or failed.
pub fn submit_runtime(
    ctx: &Ctx,
    pt: &ParaTime,
    signer: &TxSigner,
    method: &str,
    body: &impl serde::Serialize,
    consensus_messages: u32,
) -> anyhow::Result<Included> {
    let chain = chain_context(&pt.client)?;
    let nonce = runtime_nonce(pt, &signer.address())?;
    let gas = ctx.gas.unwrap_or(RUNTIME_GAS);
    let fee = match ctx.fee {
        Some(f) => f,
        None => {
            let prices = runtime_query(pt, "core.MinGasPrice", &())?;
            let prices: std::collections::BTreeMap<Denomination, Quantity> =
                cbor::from_value(prices).unwrap_or_default();
            prices
                .get(&Denomination::NATIVE)
                .map_or(0, |p| p.0)
                .saturating_mul(u128::from(gas))
        }
    };
    let mut tx = Transaction::new(
        method,
        cbor::to_value(body).context("cannot encode the transaction body")?,
    );
    tx.auth_info.signer_info.push(SignerInfo {
        address_spec: signer.address_spec(),
        nonce,
    });
    tx.auth_info.fee.gas = gas;
    tx.auth_info.fee.amount = BaseUnits::native(fee);
    tx.auth_info.fee.consensus_messages = consensus_messages;
    let sig_ctx = tx_signature_context(&pt.id, &chain)
        .map_err(|e| anyhow::anyhow!("signature context: {e}"))?;
    let raw = cbor::to_vec(&sign_transaction(&sig_ctx, &tx, &[signer]).context("cannot sign")?)
        .context("cannot encode the transaction")?;
    let r = {
        let _p = ctx.out.progress(&format!(
            "waiting for a round of {} to include the transaction",
            pt.label()
        ));
        pt.client
            .run_timeout(WAIT, |c| {
                RuntimeRpcClient::submit_tx(c, pt.id.to_string(), b64(&raw), Some(true))
            })
            .map_err(|e| explain_submit_error(e, "ParaTime"))?
    };
    let round = r["round"].as_u64().unwrap_or(0);
    let result = &r["result"]["result"];
    if let Some(fail) = result.get("fail") {
        let module = fail["module"].as_str().unwrap_or("");
        let code = fail["code"].as_u64().unwrap_or(0);
        bail!(
            "the transaction {} failed in round {round}: {} ({module} error {code}); only its \
             fee was charged.{}",
            r["hash"].as_str().unwrap_or("?"),
            fail["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .unwrap_or("no reason given"),
            runtime_advice(module, code)
        );
    }
    Ok(Included {
        hash: r["hash"].clone(),
        round,
        nonce,
        signer: signer.address(),
    })
}

/// Waits for the `consensus_accounts` event `code` (1: deposit, 2:
/// withdrawal) of the operation `(from, nonce)`, from `round` on. Returns
/// the event's value (JSON).
pub fn wait_operation(
    ctx: &Ctx,
    pt: &ParaTime,
    code: u64,
    from: &Address,
    nonce: u64,
    round: u64,
    what: &str,
) -> anyhow::Result<Value> {
    let from_hex = format!("0x{}", hex::encode(from.as_bytes()));
    let _p = ctx.out.progress(what);
    let deadline = Instant::now() + WAIT;
    let mut next = round;
    loop {
        let latest = pt
            .client
            .run(|c| RuntimeRpcClient::get_block(c, pt.id.to_string(), None))?["round"]
            .as_u64()
            .unwrap_or(0);
        while next <= latest {
            let events = pt.client.run(|c| c.get_events(pt.id.to_string(), next))?;
            for e in events.as_array().into_iter().flatten() {
                let v = &e["value"];
                if e["module"] == "consensus_accounts"
                    && e["code"].as_u64() == Some(code)
                    && v["from"].as_str() == Some(from_hex.as_str())
                    && v["nonce"].as_u64() == Some(nonce)
                {
                    let mut found = v.clone();
                    found["round"] = json!(next);
                    return Ok(found);
                }
            }
            next += 1;
        }
        if Instant::now() > deadline {
            bail!(
                "the operation was included in round {round}, but its result did not arrive \
                 within {} s; check the balances before trying again",
                WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

//! The client commands: `wallet`, `account`, `paratime`, `registry` and
//! `network`. Every command checks all of its input (amounts, addresses,
//! wallets, the node) before it sends anything, and says what to do when
//! something is wrong.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use atoll_consensus::services::registry::{
    self, ENTITY_SIGNATURE_CONTEXT, NODE_SIGNATURE_CONTEXT, RUNTIME_SIGNATURE_CONTEXT,
};
use atoll_consensus::services::staking::{
    Allow, Escrow, ReclaimEscrow, Transfer as StakingTransfer, methods,
};
use atoll_crypto::Address;
use atoll_crypto::context::Context;
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_runtime_sdk::modules::accounts::Transfer;
use atoll_runtime_sdk::modules::consensus_accounts::{Deposit, Withdraw};
use atoll_runtime_sdk::types::BaseUnits;
use atoll_types::signed::{SignatureBundle, Signed};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::client::{
    self, Ctx, ParaTime, consensus_account, consensus_balance, json_amount, runtime_balance,
    submit_consensus, submit_runtime, wait_operation,
};
use crate::wallet::{self, Algorithm};

// ---------------------------------------------------------------- wallet

/// `wallet create`.
pub fn wallet_create(ctx: &Ctx, name: &str, algorithm: Algorithm) -> anyhow::Result<()> {
    wallet::check_name(name)?;
    if ctx.wallets.exists(name) {
        bail!("a wallet named {name} already exists; choose another name");
    }
    let signer = match algorithm {
        Algorithm::Ed25519 => TxSigner::Ed25519(atoll_crypto::ed25519::SigningKey::generate()),
        Algorithm::Secp256k1 => {
            TxSigner::Secp256k1(atoll_crypto::secp256k1::SigningKey::generate())
        }
    };
    let pass = ctx.passphrase.get(name, true)?;
    let file = ctx
        .wallets
        .save(name, &signer, &pass, wallet::KDF_ITERATIONS)?;
    show_wallet(ctx, &file, None, "created");
    Ok(())
}

/// Where an imported key comes from.
pub enum ImportSource<'a> {
    /// A file holding the hex secret.
    File(&'a Path),
    /// Development account `i` of the well-known mnemonic.
    Dev(u32),
    /// Standard input (a prompt on a terminal).
    Stdin,
}

/// `wallet import`.
pub fn wallet_import(
    ctx: &Ctx,
    name: &str,
    algorithm: Algorithm,
    source: ImportSource<'_>,
) -> anyhow::Result<()> {
    wallet::check_name(name)?;
    if ctx.wallets.exists(name) {
        bail!("a wallet named {name} already exists; choose another name");
    }
    let signer = match source {
        ImportSource::Dev(i) => match algorithm {
            Algorithm::Ed25519 => TxSigner::Ed25519(
                crate::localnet::dev_account(crate::localnet::DEV_MNEMONIC, i).key,
            ),
            Algorithm::Secp256k1 => {
                TxSigner::Secp256k1(crate::keys::eth_dev_key(crate::localnet::DEV_MNEMONIC, i)?)
            }
        },
        ImportSource::File(path) => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            wallet::signer_from_secret(algorithm, &*wallet::parse_secret(&text)?)?
        }
        ImportSource::Stdin => {
            let text = if std::io::stdin().is_terminal() {
                wallet::prompt("secret key (64 hex digits): ")?
            } else {
                let mut line = Zeroizing::new(String::new());
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("cannot read the secret from standard input")?;
                line
            };
            wallet::signer_from_secret(algorithm, &*wallet::parse_secret(&text)?)?
        }
    };
    let pass = ctx.passphrase.get(name, true)?;
    let file = ctx
        .wallets
        .save(name, &signer, &pass, wallet::KDF_ITERATIONS)?;
    show_wallet(ctx, &file, None, "imported");
    Ok(())
}

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Ed25519 => "ed25519",
        Algorithm::Secp256k1 => "secp256k1",
    }
}

fn wallet_json(file: &wallet::WalletFile) -> Value {
    json!({
        "name": file.name,
        "algorithm": file.algorithm,
        "address": file.address.to_string(),
        "eth_address": file.eth_address,
        "public_key": file.public_key,
    })
}

fn show_wallet(ctx: &Ctx, file: &wallet::WalletFile, secret: Option<&str>, verb: &str) {
    let mut v = wallet_json(file);
    if !verb.is_empty() {
        v["path"] = json!(ctx.wallets.dir().join(format!("{}.json", file.name)));
    }
    if let Some(s) = secret {
        v["secret_key"] = json!(s);
    }
    ctx.out.show(&v, || {
        if !verb.is_empty() {
            say!(
                "{verb} wallet {} in {}",
                file.name,
                ctx.wallets.dir().display()
            );
        }
        say!("name:         {}", file.name);
        say!("algorithm:    {}", algorithm_name(file.algorithm));
        say!("address:      {}", file.address);
        if let Some(eth) = &file.eth_address {
            say!("eth address:  {eth}");
        }
        say!("public key:   {}", file.public_key);
        if let Some(s) = secret {
            say!("secret key:   {s}   (keep it secret)");
        }
    });
}

/// `wallet list`.
pub fn wallet_list(ctx: &Ctx) -> anyhow::Result<()> {
    let list = ctx.wallets.list()?;
    let v = Value::Array(list.iter().map(wallet_json).collect());
    ctx.out.show(&v, || {
        if list.is_empty() {
            say!(
                "no wallets in {}; create one with `atoll wallet create NAME`",
                ctx.wallets.dir().display()
            );
        }
        for w in &list {
            say!(
                "{:<16} {:<10} {}{}",
                w.name,
                algorithm_name(w.algorithm),
                w.address,
                w.eth_address
                    .as_ref()
                    .map(|e| format!("  {e}"))
                    .unwrap_or_default()
            );
        }
    });
    Ok(())
}

/// `wallet show`.
pub fn wallet_show(ctx: &Ctx, name: &str, show_secret: bool) -> anyhow::Result<()> {
    let file = ctx.wallets.load(name)?;
    if show_secret {
        let unlocked = ctx.unlock(name)?;
        let secret = unlocked.secret_hex();
        show_wallet(ctx, &unlocked.file, Some(&secret), "");
    } else {
        show_wallet(ctx, &file, None, "");
    }
    Ok(())
}

// ---------------------------------------------------------------- account

fn delegations_of(client: &crate::rpc::Client, who: &Address) -> anyhow::Result<Vec<Value>> {
    let entities = client.call("consensus_query", json!(["registry.Entities"]))?;
    let me = who.to_string();
    let mut out = Vec::new();
    for e in entities.as_array().into_iter().flatten() {
        let Some(id) = e["id"].as_str() else { continue };
        let Ok(pk) = atoll_crypto::ed25519::PublicKey::from_base64(id) else {
            continue;
        };
        let escrow = Address::from_ed25519(&pk);
        let list = client.call(
            "consensus_query",
            json!(["staking.Delegations", { "address": escrow.to_string() }]),
        )?;
        let account = consensus_account(client, &escrow)?;
        let pool = &account["escrow"]["active"];
        let (balance, total) = (
            json_amount(&pool["balance"]),
            json_amount(&pool["total_shares"]),
        );
        for d in list.as_array().into_iter().flatten() {
            if d["delegator"].as_str() == Some(me.as_str()) {
                let shares = json_amount(&d["shares"]);
                let value = shares
                    .saturating_mul(balance)
                    .checked_div(total)
                    .unwrap_or(0);
                out.push(json!({
                    "escrow": escrow.to_string(),
                    "shares": shares.to_string(),
                    "value": value.to_string(),
                }));
            }
        }
        let debonding = client.call(
            "consensus_query",
            json!(["staking.DebondingDelegations", { "escrow": escrow.to_string(), "delegator": me }]),
        );
        if let Ok(list) = debonding {
            for d in list.as_array().into_iter().flatten() {
                out.push(json!({
                    "escrow": escrow.to_string(),
                    "debonding_shares": d["shares"],
                    "debond_end": d["debond_end"],
                }));
            }
        }
    }
    Ok(out)
}

/// `account show`.
pub fn account_show(ctx: &Ctx, who: &str) -> anyhow::Result<()> {
    let address = ctx.account(who)?;
    let client = ctx.consensus_node()?;
    let a = consensus_account(&client, &address)?;
    let balance = json_amount(&a["general"]["balance"]);
    let nonce = a["general"]["nonce"].as_u64().unwrap_or(0);
    let allowances: Vec<Value> = a["general"]["allowances"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({ "beneficiary": k, "amount": json_amount(v).to_string() }))
                .collect()
        })
        .unwrap_or_default();
    let delegations = delegations_of(&client, &address)?;
    let escrow = &a["escrow"];
    let v = json!({
        "address": address.to_string(),
        "balance": balance.to_string(),
        "nonce": nonce,
        "allowances": allowances,
        "escrow": {
            "active": {
                "balance": json_amount(&escrow["active"]["balance"]).to_string(),
                "total_shares": json_amount(&escrow["active"]["total_shares"]).to_string(),
            },
            "debonding": {
                "balance": json_amount(&escrow["debonding"]["balance"]).to_string(),
                "total_shares": json_amount(&escrow["debonding"]["total_shares"]).to_string(),
            },
        },
        "delegations": delegations,
        "node": client.url(),
    });
    ctx.out.show(&v, || {
        say!("account  {address}  (consensus layer, {})", client.url());
        say!("  balance:   {}", ctx.show_amount(balance));
        say!("  nonce:     {nonce}");
        if !allowances.is_empty() {
            say!("  allowances:");
            for al in &allowances {
                say!(
                    "    {}  {}",
                    al["beneficiary"].as_str().unwrap_or("?"),
                    ctx.show_amount(json_amount(&al["amount"]))
                );
            }
        }
        let active = json_amount(&escrow["active"]["balance"]);
        if active > 0 {
            say!(
                "  stake escrowed with this account: {}",
                ctx.show_amount(active)
            );
        }
        if !delegations.is_empty() {
            say!("  delegations:");
            for d in &delegations {
                if d.get("debond_end").is_some() {
                    say!(
                        "    {}  {} shares debonding until epoch {}",
                        d["escrow"].as_str().unwrap_or("?"),
                        json_amount(&d["debonding_shares"]),
                        d["debond_end"]
                    );
                } else {
                    say!(
                        "    {}  {} shares worth {}",
                        d["escrow"].as_str().unwrap_or("?"),
                        d["shares"].as_str().unwrap_or("?"),
                        ctx.show_amount(json_amount(&d["value"]))
                    );
                }
            }
        }
    });
    Ok(())
}

/// How an account the user named is shown: `bob (oasis1…)`, or the
/// address alone when that is what the user wrote.
fn named(input: &str, address: &Address) -> String {
    let a = address.to_string();
    if input.trim() == a {
        a
    } else {
        format!("{} ({a})", input.trim())
    }
}

fn check_funds(have: u128, need: u128, who: &str, what: &str, ctx: &Ctx) -> anyhow::Result<()> {
    if have < need {
        bail!(
            "insufficient balance: {who} has {}, {what} needs {}; nothing was sent",
            ctx.show_amount(have),
            ctx.show_amount(need)
        );
    }
    Ok(())
}

/// `account transfer`.
/// Sends a consensus call from wallet `from` that spends `amount` (plus the
/// fee): unlocks the key (`purpose.0` says why it must be ed25519), refuses
/// before sending when the balance cannot cover it (`purpose.1` names the
/// operation), and answers the inclusion result, the sender's address and
/// its balance afterwards.
fn spend_on_consensus<B: serde::Serialize>(
    ctx: &Ctx,
    from: &str,
    amount: u128,
    purpose: (&str, &str),
    method: &str,
    body: &B,
) -> anyhow::Result<(Value, Address, u128)> {
    let w = ctx.unlock(from)?;
    let key = w.ed25519(purpose.0)?;
    let client = ctx.consensus_node()?;
    let me = w.signer.address();
    let have = consensus_balance(&client, &me)?;
    check_funds(
        have,
        amount.saturating_add(ctx.fee.unwrap_or(0)),
        from,
        purpose.1,
        ctx,
    )?;
    let r = submit_consensus(ctx, &client, key, method, body)?;
    let after = consensus_balance(&client, &me)?;
    Ok((r, me, after))
}

pub fn account_transfer(ctx: &Ctx, amount: &str, to: &str, from: &str) -> anyhow::Result<()> {
    let amount = ctx.amount(amount, "the amount")?;
    let to_text = to;
    let to = ctx.account(to)?;
    let (r, me, after) = spend_on_consensus(
        ctx,
        from,
        amount,
        ("a consensus transfer", "the transfer"),
        methods::TRANSFER,
        &StakingTransfer {
            to,
            amount: amount.into(),
        },
    )?;
    let v = json!({
        "hash": r["hash"], "height": r["height"],
        "from": me.to_string(), "to": to.to_string(),
        "amount": amount.to_string(), "balance": after.to_string(),
    });
    ctx.out.show(&v, || {
        say!(
            "transferred {} from {from} to {} in block {}",
            ctx.show_amount(amount),
            named(to_text, &to),
            r["height"]
        );
        say!("  transaction {}", r["hash"].as_str().unwrap_or("?"));
        say!("  {from}'s balance is now {}", ctx.show_amount(after));
    });
    Ok(())
}

fn allowance_of(account: &Value, beneficiary: &Address) -> u128 {
    json_amount(&account["general"]["allowances"][beneficiary.to_string()])
}

/// `account allow`.
pub fn account_allow(
    ctx: &Ctx,
    beneficiary: &str,
    amount: &str,
    from: &str,
    decrease: bool,
) -> anyhow::Result<()> {
    let change = ctx.amount(amount, "the allowance change")?;
    let beneficiary_text = beneficiary;
    let beneficiary = ctx.account(beneficiary)?;
    let w = ctx.unlock(from)?;
    let key = w.ed25519("an allowance")?;
    let client = ctx.consensus_node()?;
    let me = w.signer.address();
    if me == beneficiary {
        bail!("an account cannot give itself an allowance; nothing was sent");
    }
    let r = submit_consensus(
        ctx,
        &client,
        key,
        methods::ALLOW,
        &Allow {
            beneficiary,
            negative: decrease,
            amount_change: change.into(),
        },
    )?;
    let now = allowance_of(&consensus_account(&client, &me)?, &beneficiary);
    let v = json!({
        "hash": r["hash"], "height": r["height"],
        "owner": me.to_string(), "beneficiary": beneficiary.to_string(),
        "allowance": now.to_string(),
    });
    ctx.out.show(&v, || {
        say!(
            "{} may now withdraw up to {} from {}",
            named(beneficiary_text, &beneficiary),
            ctx.show_amount(now),
            named(from, &me)
        );
        say!(
            "  transaction {} in block {}",
            r["hash"].as_str().unwrap_or("?"),
            r["height"]
        );
    });
    Ok(())
}

/// `account escrow`.
pub fn account_escrow(ctx: &Ctx, amount: &str, to: &str, from: &str) -> anyhow::Result<()> {
    let amount = ctx.amount(amount, "the amount to escrow")?;
    let escrow = ctx.account(to)?;
    let escrow_text = named(to, &escrow);
    let (r, me, after) = spend_on_consensus(
        ctx,
        from,
        amount,
        ("escrowing stake", "the escrow"),
        methods::ADD_ESCROW,
        &Escrow {
            account: escrow,
            amount: amount.into(),
        },
    )?;
    let v = json!({
        "hash": r["hash"], "height": r["height"],
        "from": me.to_string(), "escrow": escrow.to_string(),
        "amount": amount.to_string(), "balance": after.to_string(),
    });
    ctx.out.show(&v, || {
        say!(
            "escrowed {} from {from} with {escrow_text} in block {}",
            ctx.show_amount(amount),
            r["height"]
        );
        say!(
            "  {from}'s spendable balance is now {}",
            ctx.show_amount(after)
        );
        say!("  see the shares with `atoll account show {from}`");
    });
    Ok(())
}

/// `account reclaim`.
pub fn account_reclaim(
    ctx: &Ctx,
    shares: &str,
    from_escrow: &str,
    from: &str,
) -> anyhow::Result<()> {
    let shares = crate::amount::parse_positive(shares, None, "the number of shares")?;
    let escrow = ctx.account(from_escrow)?;
    let w = ctx.unlock(from)?;
    let key = w.ed25519("reclaiming stake")?;
    let client = ctx.consensus_node()?;
    let me = w.signer.address();
    let list = client.call(
        "consensus_query",
        json!(["staking.Delegations", { "address": escrow.to_string() }]),
    )?;
    let held = list
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["delegator"].as_str() == Some(me.to_string().as_str()))
        .map_or(0, |d| json_amount(&d["shares"]));
    if held < shares {
        bail!(
            "{from} holds {held} shares of {escrow}'s escrow, fewer than the {shares} to \
             reclaim; nothing was sent (see `atoll account show {from}`)"
        );
    }
    let r = submit_consensus(
        ctx,
        &client,
        key,
        methods::RECLAIM_ESCROW,
        &ReclaimEscrow {
            account: escrow,
            shares: shares.into(),
        },
    )?;
    let v = json!({
        "hash": r["hash"], "height": r["height"],
        "owner": me.to_string(), "escrow": escrow.to_string(),
        "shares": shares.to_string(),
    });
    ctx.out.show(&v, || {
        say!(
            "started reclaiming {shares} shares from {escrow} in block {}; the stake returns \
             to {from} when debonding ends (see `atoll account show {from}`)",
            r["height"]
        );
    });
    Ok(())
}

// ---------------------------------------------------------------- paratime

/// `paratime list`.
pub fn paratime_list(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let runtimes = client.call("consensus_query", json!(["registry.Runtimes"]))?;
    let names: Vec<(String, String)> = ctx
        .localnet_summary()
        .and_then(|s| s["paratimes"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["name"].as_str()?.to_owned())))
        .collect();
    let mut list = Vec::new();
    for r in runtimes.as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or_default().to_owned();
        let latest = client
            .call(
                "consensus_query",
                json!(["roothash.LatestBlock", { "runtime": id }]),
            )
            .ok();
        list.push(json!({
            "id": id,
            "name": names.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone()),
            "entity": r["entity_id"],
            "latest_round": latest.as_ref().and_then(|b| b["round"].as_u64()),
            "consensus_address": atoll_types::Namespace::from_slice(
                &hex::decode(&id).unwrap_or_default()
            ).map(|ns| Address::from_runtime_id(ns.as_bytes()).to_string()).ok(),
        }));
    }
    let v = Value::Array(list);
    ctx.out.show(&v, || {
        if v.as_array().is_none_or(Vec::is_empty) {
            say!("no ParaTime is registered on this network");
        }
        for p in v.as_array().into_iter().flatten() {
            say!(
                "{}  {}  latest round {}",
                p["id"].as_str().unwrap_or("?"),
                p["name"].as_str().unwrap_or("-"),
                p["latest_round"]
                    .as_u64()
                    .map_or_else(|| "-".to_owned(), |r| r.to_string())
            );
        }
    });
    Ok(())
}

fn ask_yes(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
}

/// `paratime deposit`.
pub fn paratime_deposit(
    ctx: &Ctx,
    amount: &str,
    to: Option<&str>,
    from: &str,
    paratime: Option<&str>,
    allow: bool,
) -> anyhow::Result<()> {
    let amount = ctx.amount(amount, "the deposit")?;
    let to = to.map(|t| ctx.account(t).map(|a| (t, a))).transpose()?;
    let pt = ctx.paratime(paratime)?;
    let w = ctx.unlock(from)?;
    let key = w.ed25519("a deposit (it spends consensus tokens)")?;
    let me = w.signer.address();
    let runtime_account = pt.consensus_address();
    // Consensus reads and writes go to the consensus node (a compute node
    // may be a block or two behind it).
    let consensus = ctx.consensus_node()?;
    let account = consensus_account(&consensus, &me)?;
    let have = json_amount(&account["general"]["balance"]);
    check_funds(have, amount, from, "the deposit", ctx)?;
    let allowance = allowance_of(&account, &runtime_account);
    if allowance < amount {
        let missing = amount - allowance;
        let command = format!(
            "atoll account allow paratime:{} {missing} --from {from}",
            pt.label()
        );
        let go = allow
            || (!ctx.out.json
                && ask_yes(&format!(
                    "ParaTime {} may take only {} from {from}'s consensus account, the deposit \
                     needs {}. Raise the allowance by {missing} now?",
                    pt.label(),
                    ctx.show_amount(allowance),
                    ctx.show_amount(amount)
                )));
        if !go {
            bail!(
                "ParaTime {} may take only {} from {from}'s consensus account, and the deposit \
                 needs {}: a deposit is the ParaTime withdrawing from your account, which needs \
                 your allowance first. Nothing was sent. Give it with:\n    {command}\nor run \
                 the deposit again with --allow to do both.",
                pt.label(),
                ctx.show_amount(allowance),
                ctx.show_amount(amount)
            );
        }
        let r = submit_consensus(
            ctx,
            &consensus,
            key,
            methods::ALLOW,
            &Allow {
                beneficiary: runtime_account,
                negative: false,
                amount_change: missing.into(),
            },
        )?;
        if !ctx.out.json {
            eprintln!(
                "allowance of ParaTime {} raised by {missing} (block {})",
                pt.label(),
                r["height"]
            );
        }
    }
    let raised = allowance < amount;
    let inc = submit_runtime(
        ctx,
        &pt,
        &w.signer,
        "consensus.Deposit",
        &Deposit {
            to: to.map(|(_, a)| a),
            amount: BaseUnits::native(amount),
        },
        1,
    )
    .map_err(|e| {
        if raised {
            e.context(format!(
                "the allowance of ParaTime {} was raised, but the deposit did not go through",
                pt.label()
            ))
        } else {
            e
        }
    })?;
    let event = wait_operation(
        ctx,
        &pt,
        1,
        &me,
        inc.nonce,
        inc.round,
        "waiting for the consensus layer to move the tokens",
    )?;
    finish_operation(
        ctx,
        &pt,
        &event,
        &inc,
        &Operation {
            what: "deposit",
            amount,
            from: named(from, &me),
            to: to.map_or_else(|| named(from, &me), |(text, a)| named(text, &a)),
            recipient: to.map_or(me, |(_, a)| a),
        },
    )
}

/// A deposit or a withdrawal, for its report.
struct Operation {
    what: &'static str,
    amount: u128,
    /// The sender, as shown.
    from: String,
    /// The recipient, as shown.
    to: String,
    recipient: Address,
}

fn finish_operation(
    ctx: &Ctx,
    pt: &ParaTime,
    event: &Value,
    inc: &client::Included,
    op: &Operation,
) -> anyhow::Result<()> {
    let what = op.what;
    if let Some(err) = event.get("error").filter(|e| !e.is_null()) {
        let module = err["module"].as_str().unwrap_or("");
        let code = err["code"].as_u64().unwrap_or(0);
        let why = match (module, code) {
            ("staking", 10) => "the allowance was too small",
            ("staking", 2) => "the balance was too small",
            _ => "the consensus layer refused it",
        };
        bail!(
            "the {what} was included in round {} but failed on the consensus layer: {why} \
             ({module} error {code}); no tokens moved, only the fee was charged",
            inc.round
        );
    }
    let deposit = what == "deposit";
    let balance = if deposit {
        runtime_balance(pt, &op.recipient)?
    } else {
        consensus_balance(&ctx.consensus_node()?, &op.recipient)?
    };
    let v = json!({
        "paratime": pt.label(), "paratime_id": pt.id.to_string(),
        "hash": inc.hash, "round": inc.round, "result_round": event["round"],
        "from": inc.signer.to_string(), "to": op.recipient.to_string(),
        "amount": op.amount.to_string(), "recipient_balance": balance.to_string(),
    });
    ctx.out.show(&v, || {
        let (src, dst) = if deposit {
            ("consensus".to_owned(), format!("ParaTime {}", pt.label()))
        } else {
            (format!("ParaTime {}", pt.label()), "consensus".to_owned())
        };
        say!("{what} of {}: done", ctx.show_amount(op.amount));
        say!("  from {} on {src}", op.from);
        say!("  to   {} on {dst}", op.to);
        say!(
            "  transaction {} in round {}, settled in round {}",
            inc.hash.as_str().unwrap_or("?"),
            inc.round,
            event["round"]
        );
        say!(
            "  the recipient now holds {} on {dst}",
            ctx.show_amount(balance)
        );
    });
    Ok(())
}

/// `paratime withdraw`.
pub fn paratime_withdraw(
    ctx: &Ctx,
    amount: &str,
    to: Option<&str>,
    from: &str,
    paratime: Option<&str>,
) -> anyhow::Result<()> {
    let amount = ctx.amount(amount, "the withdrawal")?;
    let to = to.map(|t| ctx.account(t).map(|a| (t, a))).transpose()?;
    let pt = ctx.paratime(paratime)?;
    let w = ctx.unlock(from)?;
    if matches!(w.signer, TxSigner::Secp256k1(_)) && to.is_none() {
        bail!(
            "wallet {from} is an Ethereum (secp256k1) account, which has no consensus account \
             of its own: name the consensus account to credit with --to oasis1…; nothing was sent"
        );
    }
    let me = w.signer.address();
    let have = runtime_balance(&pt, &me)?;
    check_funds(have, amount, from, "the withdrawal", ctx)?;
    let inc = submit_runtime(
        ctx,
        &pt,
        &w.signer,
        "consensus.Withdraw",
        &Withdraw {
            to: to.map(|(_, a)| a),
            amount: BaseUnits::native(amount),
        },
        1,
    )?;
    let event = wait_operation(
        ctx,
        &pt,
        2,
        &me,
        inc.nonce,
        inc.round,
        "waiting for the consensus layer to credit the tokens",
    )?;
    finish_operation(
        ctx,
        &pt,
        &event,
        &inc,
        &Operation {
            what: "withdrawal",
            amount,
            from: named(from, &me),
            to: to.map_or_else(|| named(from, &me), |(text, a)| named(text, &a)),
            recipient: to.map_or(me, |(_, a)| a),
        },
    )
}

/// `paratime transfer`.
pub fn paratime_transfer(
    ctx: &Ctx,
    amount: &str,
    to: &str,
    from: &str,
    paratime: Option<&str>,
) -> anyhow::Result<()> {
    let amount = ctx.amount(amount, "the amount")?;
    let to_text = to;
    let to = ctx.account(to)?;
    let pt = ctx.paratime(paratime)?;
    let w = ctx.unlock(from)?;
    let me = w.signer.address();
    let have = runtime_balance(&pt, &me)?;
    check_funds(have, amount, from, "the transfer", ctx)?;
    let inc = submit_runtime(
        ctx,
        &pt,
        &w.signer,
        "accounts.Transfer",
        &Transfer {
            to,
            amount: BaseUnits::native(amount),
        },
        0,
    )?;
    let after = runtime_balance(&pt, &me)?;
    let v = json!({
        "paratime": pt.label(), "paratime_id": pt.id.to_string(),
        "hash": inc.hash, "round": inc.round,
        "from": me.to_string(), "to": to.to_string(),
        "amount": amount.to_string(), "balance": after.to_string(),
    });
    ctx.out.show(&v, || {
        say!(
            "transferred {} from {from} to {} in ParaTime {}, round {}",
            ctx.show_amount(amount),
            named(to_text, &to),
            pt.label(),
            inc.round
        );
        say!("  transaction {}", inc.hash.as_str().unwrap_or("?"));
        say!("  {from}'s balance there is now {}", ctx.show_amount(after));
    });
    Ok(())
}

/// `paratime show balance`.
pub fn paratime_balance(ctx: &Ctx, who: &str, paratime: Option<&str>) -> anyhow::Result<()> {
    let address = ctx.account(who)?;
    let pt = ctx.paratime(paratime)?;
    let balance = runtime_balance(&pt, &address)?;
    let nonce = client::runtime_nonce(&pt, &address)?;
    let v = json!({
        "paratime": pt.label(), "paratime_id": pt.id.to_string(),
        "address": address.to_string(), "balance": balance.to_string(), "nonce": nonce,
        "node": pt.client.url(),
    });
    ctx.out.show(&v, || {
        say!("account  {address}  in ParaTime {}", pt.label());
        say!("  balance:  {}", ctx.show_amount(balance));
        say!("  nonce:    {nonce}");
    });
    Ok(())
}

/// `paratime show round`.
pub fn paratime_round(ctx: &Ctx, round: Option<u64>, paratime: Option<&str>) -> anyhow::Result<()> {
    let pt = ctx.paratime(paratime)?;
    let id = pt.id.to_string();
    let params = match round {
        Some(r) => json!([id, r]),
        None => json!([id]),
    };
    let block =
        pt.client.call("runtime_getBlock", params).map_err(|e| {
            match crate::rpc::rpc_error(&e) {
                Some(r) if r.code == crate::rpc::CODE_NOT_FOUND => anyhow::anyhow!(
                    "ParaTime {} has no round {}: see the latest with `atoll paratime show round`",
                    pt.label(),
                    round.map_or_else(|| "yet".to_owned(), |r| r.to_string())
                ),
                _ => e,
            }
        })?;
    let r = block["round"].as_u64().unwrap_or(0);
    let txs = pt.client.call("runtime_getTransactions", json!([id, r]))?;
    let events = pt.client.call("runtime_getEvents", json!([id, r]))?;
    let tx_list: Vec<Value> = txs
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let res = &t["result"]["result"];
            json!({
                "hash": t["hash"],
                "index": t["index"],
                "ok": res.get("ok").is_some(),
                "error": res.get("fail"),
            })
        })
        .collect();
    let v = json!({
        "paratime": pt.label(), "paratime_id": id,
        "round": r,
        "hash": block["hash"],
        "consensus_height": block["consensus_height"],
        "state_root": block["header"]["state_root"],
        "header": block["header"],
        "transactions": tx_list,
        "events": events,
        "messages": block["messages"],
    });
    ctx.out.show(&v, || {
        say!("ParaTime {} round {r}", pt.label());
        say!(
            "  hash:             {}",
            block["hash"].as_str().unwrap_or("?")
        );
        say!(
            "  state root:       {}",
            block["header"]["state_root"].as_str().unwrap_or("?")
        );
        say!("  consensus height: {}", block["consensus_height"]);
        say!("  transactions:     {}", tx_list.len());
        for t in &tx_list {
            say!(
                "    #{} {} {}",
                t["index"],
                t["hash"].as_str().unwrap_or("?"),
                if t["ok"].as_bool() == Some(true) {
                    "ok".to_owned()
                } else {
                    format!("failed: {}", t["error"])
                }
            );
        }
        say!(
            "  events:           {}",
            events.as_array().map_or(0, Vec::len)
        );
        say!(
            "  messages:         {}",
            block["messages"].as_array().map_or(0, Vec::len)
        );
    });
    Ok(())
}

// ---------------------------------------------------------------- registry

fn read_descriptor(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    if !v.is_object() {
        bail!("{} must hold a JSON object (a descriptor)", path.display());
    }
    Ok(v)
}

fn typed<T: serde::de::DeserializeOwned>(
    v: Value,
    what: &str,
    path: Option<&Path>,
) -> anyhow::Result<T> {
    serde_json::from_value(v).map_err(|e| {
        anyhow::anyhow!(
            "{} is not a valid {what} descriptor: {e}",
            path.map_or_else(|| "the descriptor".to_owned(), |p| p.display().to_string())
        )
    })
}

fn report_registration(ctx: &Ctx, what: &str, r: &Value, extra: Value) {
    let mut v = json!({ "hash": r["hash"], "height": r["height"] });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    ctx.out.show(&v, || {
        say!("registered the {what} in block {}", r["height"]);
        for (k, val) in extra.as_object().into_iter().flatten() {
            say!(
                "  {k}: {}",
                val.as_str().map_or_else(|| val.to_string(), str::to_owned)
            );
        }
        say!("  transaction {}", r["hash"].as_str().unwrap_or("?"));
    });
}

/// `registry register entity`.
pub fn register_entity(ctx: &Ctx, file: Option<&Path>, from: &str) -> anyhow::Result<()> {
    let mut v = match file {
        Some(p) => read_descriptor(p)?,
        None => json!({}),
    };
    let w = ctx.unlock(from)?;
    let key = w.ed25519("an entity registration")?;
    let pk = key.public_key();
    if v.get("v").is_none() {
        v["v"] = json!(1);
    }
    if v.get("id").is_none() {
        v["id"] = json!(pk.to_base64());
    }
    let entity: registry::Entity = typed(v, "entity", file)?;
    if entity.id != pk {
        bail!(
            "the descriptor's id is {}, but wallet {from} holds {}: an entity registers itself; \
             nothing was sent",
            entity.id,
            pk.to_base64()
        );
    }
    let ctx_sig = Context::new(ENTITY_SIGNATURE_CONTEXT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let signed = Signed::sign(key, &ctx_sig, &entity).context("cannot sign the descriptor")?;
    let client = ctx.consensus_node()?;
    let r = submit_consensus(
        ctx,
        &client,
        key,
        registry::methods::REGISTER_ENTITY,
        &signed,
    )?;
    report_registration(
        ctx,
        "entity",
        &r,
        json!({
            "entity": pk.to_base64(),
            "address": Address::from_ed25519(&pk).to_string(),
            "nodes": entity.nodes.iter().map(|n| n.to_base64()).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

/// `registry register node`.
pub fn register_node(ctx: &Ctx, file: &Path, identity: &Path, from: &str) -> anyhow::Result<()> {
    let mut v = read_descriptor(file)?;
    let id = atoll_node::Identity::load(identity)
        .with_context(|| format!("cannot load the node's keys from {}", identity.display()))?;
    let public = id.public();
    let w = ctx.unlock(from)?;
    let key = w.ed25519("a node registration")?;
    if v.get("v").is_none() {
        v["v"] = json!(1);
    }
    if v.get("id").is_none() {
        v["id"] = json!(public.node.to_base64());
    }
    if v.get("entity_id").is_none() {
        v["entity_id"] = json!(key.public_key().to_base64());
    }
    for (field, pk) in [("p2p", public.p2p), ("consensus", public.consensus)] {
        if v.get(field).is_none() {
            v[field] = json!({ "id": pk.to_base64(), "addresses": [] });
        } else if v[field].get("id").is_none() {
            v[field]["id"] = json!(pk.to_base64());
        }
    }
    if v.get("vrf").is_none() {
        v["vrf"] = serde_json::to_value(public.vrf).context("cannot encode the VRF key")?;
    }
    let node: registry::Node = typed(v, "node", Some(file))?;
    for (what, want, have) in [
        ("id", node.id, public.node),
        ("consensus.id", node.consensus.id, public.consensus),
        ("p2p.id", node.p2p.id, public.p2p),
    ] {
        if want != have {
            bail!(
                "the descriptor's {what} is {want}, but the keys in {} hold {have}; nothing \
                 was sent",
                identity.display()
            );
        }
    }
    let ctx_sig = Context::new(NODE_SIGNATURE_CONTEXT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let raw = atoll_types::cbor::to_vec(&node).context("cannot encode the descriptor")?;
    let signatures = [&id.node, &id.consensus, &id.p2p]
        .iter()
        .map(|k| SignatureBundle {
            public_key: k.public_key(),
            signature: k.sign(&ctx_sig, &raw),
        })
        .collect();
    let signed = registry::MultiSigned {
        untrusted_raw_value: raw,
        signatures,
    };
    let client = ctx.consensus_node()?;
    let r = submit_consensus(ctx, &client, key, registry::methods::REGISTER_NODE, &signed)?;
    report_registration(
        ctx,
        "node",
        &r,
        json!({
            "node": node.id.to_base64(),
            "entity": node.entity_id.to_base64(),
            "expiration": node.expiration,
            "roles": node.roles.0,
        }),
    );
    Ok(())
}

/// `registry register runtime`.
pub fn register_runtime(ctx: &Ctx, file: &Path, from: &str) -> anyhow::Result<()> {
    let mut v = read_descriptor(file)?;
    let w = ctx.unlock(from)?;
    let key = w.ed25519("a runtime registration")?;
    let pk = key.public_key();
    if v.get("v").is_none() {
        v["v"] = json!(3);
    }
    if v.get("entity_id").is_none() {
        v["entity_id"] = json!(pk.to_base64());
    }
    if v.get("id").is_none() {
        bail!(
            "{} has no \"id\": a runtime descriptor names its runtime id (64 hex digits)",
            file.display()
        );
    }
    let runtime: registry::Runtime = typed(v, "runtime", Some(file))?;
    if runtime.entity_id != pk {
        bail!(
            "the descriptor's entity_id is {}, but wallet {from} holds {}: a runtime is \
             registered by its owning entity; nothing was sent",
            runtime.entity_id,
            pk.to_base64()
        );
    }
    let ctx_sig = Context::new(RUNTIME_SIGNATURE_CONTEXT).map_err(|e| anyhow::anyhow!("{e}"))?;
    let signed = Signed::sign(key, &ctx_sig, &runtime).context("cannot sign the descriptor")?;
    let client = ctx.consensus_node()?;
    let r = submit_consensus(
        ctx,
        &client,
        key,
        registry::methods::REGISTER_RUNTIME,
        &signed,
    )?;
    report_registration(
        ctx,
        "runtime",
        &r,
        json!({
            "runtime": runtime.id.to_string(),
            "entity": pk.to_base64(),
            "consensus_address": Address::from_runtime_id(runtime.id.as_bytes()).to_string(),
        }),
    );
    Ok(())
}

/// What `registry show` lists.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RegistryList {
    /// Entities.
    Entities,
    /// Nodes.
    Nodes,
    /// Runtimes (ParaTimes).
    Runtimes,
}

/// `registry show`.
pub fn registry_show(ctx: &Ctx, what: RegistryList) -> anyhow::Result<()> {
    let method = match what {
        RegistryList::Entities => "registry.Entities",
        RegistryList::Nodes => "registry.Nodes",
        RegistryList::Runtimes => "registry.Runtimes",
    };
    let client = ctx.consensus_node()?;
    let list = client.call("consensus_query", json!([method]))?;
    ctx.out.show(&list, || {
        let items = list.as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            say!("none registered");
        }
        for item in &items {
            match what {
                RegistryList::Entities => {
                    let id = item["id"].as_str().unwrap_or("?");
                    let address = atoll_crypto::ed25519::PublicKey::from_base64(id)
                        .map(|pk| Address::from_ed25519(&pk).to_string())
                        .unwrap_or_default();
                    say!(
                        "{id}  {address}  {} node(s)",
                        item["nodes"].as_array().map_or(0, Vec::len)
                    );
                }
                RegistryList::Nodes => say!(
                    "{}  entity {}  roles {}  expires at epoch {}",
                    item["id"].as_str().unwrap_or("?"),
                    item["entity_id"].as_str().unwrap_or("?"),
                    item["roles"],
                    item["expiration"]
                ),
                RegistryList::Runtimes => say!(
                    "{}  entity {}  {}",
                    item["id"].as_str().unwrap_or("?"),
                    item["entity_id"].as_str().unwrap_or("?"),
                    item["kind"].as_str().unwrap_or("?")
                ),
            }
        }
    });
    Ok(())
}

// ---------------------------------------------------------------- network

/// `network status`.
pub fn network_status(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let status = client.call("node_status", json!([]))?;
    let height = status["latest_height"].as_u64();
    let epoch = height
        .and_then(|h| client.call("consensus_getBlockResults", json!([h])).ok())
        .and_then(|r| r["epoch"].as_u64());
    let validators = client
        .call("consensus_getValidators", json!([]))
        .unwrap_or(Value::Null);
    let served = client
        .call("runtime_list", json!([]))
        .unwrap_or_else(|_| json!([]));
    let runtimes = client
        .call("consensus_query", json!(["registry.Runtimes"]))
        .unwrap_or_else(|_| json!([]));
    let mut paratimes = Vec::new();
    for r in runtimes.as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or_default();
        let latest = client
            .call(
                "consensus_query",
                json!(["roothash.LatestBlock", { "runtime": id }]),
            )
            .ok();
        paratimes.push(json!({
            "id": id,
            "latest_round": latest.as_ref().and_then(|b| b["round"].as_u64()),
            "served_by_this_node": served.as_array().is_some_and(|s| s.iter().any(|x| x == id)),
        }));
    }
    let v = json!({
        "node": client.url(),
        "version": status["version"],
        "chain_id": status["chain_id"],
        "chain_context": status["chain_context"],
        "latest_height": height,
        "latest_time": status["latest_time"],
        "epoch": epoch,
        "syncing": status["syncing"],
        "mempool_size": status["mempool_size"],
        "validators": validators,
        "paratimes": paratimes,
    });
    ctx.out.show(&v, || {
        say!(
            "node {} (atoll {})",
            client.url(),
            status["version"].as_str().unwrap_or("?")
        );
        say!(
            "  chain id:       {}",
            status["chain_id"].as_str().unwrap_or("?")
        );
        say!(
            "  chain context:  {}",
            status["chain_context"].as_str().unwrap_or("?")
        );
        say!(
            "  latest block:   {}{}",
            height.map_or_else(|| "none yet".to_owned(), |h| h.to_string()),
            if status["syncing"].as_bool() == Some(true) {
                " (catching up)"
            } else {
                ""
            }
        );
        if let Some(e) = epoch {
            say!("  epoch:          {e}");
        }
        say!(
            "  validators:     {}",
            validators.as_array().map_or(0, Vec::len)
        );
        for v in validators.as_array().into_iter().flatten() {
            say!(
                "    entity {}  voting power {}",
                v["entity"].as_str().unwrap_or("?"),
                v["voting_power"]
            );
        }
        say!(
            "  mempool:        {} transaction(s)",
            status["mempool_size"]
        );
        say!("  ParaTimes:      {}", paratimes.len());
        for p in &paratimes {
            say!(
                "    {}  round {}{}",
                p["id"].as_str().unwrap_or("?"),
                p["latest_round"]
                    .as_u64()
                    .map_or_else(|| "-".to_owned(), |r| r.to_string()),
                if p["served_by_this_node"].as_bool() == Some(true) {
                    "  (served here)"
                } else {
                    ""
                }
            );
        }
    });
    Ok(())
}

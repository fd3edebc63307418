//! `atoll paratime`: deposits, withdrawals, transfers, balances and rounds
//! of ParaTimes.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::bail;
use atoll_consensus_types::staking::{Allow, methods};
use atoll_crypto::Address;
use atoll_rpc::RuntimeRpcClient as _;
use atoll_runtime_sdk::crypto::TxSigner;
use atoll_runtime_sdk::modules::accounts::Transfer;
use atoll_runtime_sdk::modules::consensus_accounts::{Deposit, Withdraw};
use atoll_runtime_sdk::types::BaseUnits;
use clap::Subcommand;
use serde_json::{Value, json};

use super::{AmountArg, allowance_of, check_funds, named};
use crate::client::{
    self, Ctx, ParaTime, consensus_account, consensus_balance, consensus_query, json_amount,
    runtime_balance, submit_consensus, submit_runtime, wait_operation,
};

/// `--paratime NAME|ID`, of every command on one ParaTime.
#[derive(clap::Args)]
pub struct ParatimeArg {
    /// The ParaTime (name from localnet.json, or id; default: the
    /// localnet's first, `plain`).
    #[arg(long)]
    paratime: Option<String>,
}

/// `atoll paratime`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// The ParaTimes registered on the network.
    List,
    /// Move tokens from your consensus account into a ParaTime (needs an
    /// allowance: see --allow).
    Deposit {
        #[command(flatten)]
        amount: AmountArg,
        /// Credit this ParaTime account instead of the sender's.
        #[arg(long)]
        to: Option<String>,
        /// The depositing wallet (ed25519).
        #[arg(long)]
        from: String,
        #[command(flatten)]
        paratime: ParatimeArg,
        /// Raise the ParaTime's allowance first if it is too small.
        #[arg(long)]
        allow: bool,
    },
    /// Move tokens from a ParaTime back to a consensus account.
    Withdraw {
        #[command(flatten)]
        amount: AmountArg,
        /// The consensus account to credit (default: the sender's own).
        #[arg(long)]
        to: Option<String>,
        /// The withdrawing wallet.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        paratime: ParatimeArg,
    },
    /// Send tokens to another account inside a ParaTime.
    Transfer {
        #[command(flatten)]
        amount: AmountArg,
        /// Recipient: wallet name, oasis1… or 0x… address.
        to: String,
        /// The paying wallet.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        paratime: ParatimeArg,
    },
    /// Show a balance or a round.
    Show {
        #[command(subcommand)]
        what: Show,
    },
}

/// `atoll paratime show`'s subcommands.
#[derive(Subcommand)]
pub enum Show {
    /// An account's balance and nonce in the ParaTime.
    Balance {
        /// Wallet name, oasis1… or 0x… address.
        account: String,
        #[command(flatten)]
        paratime: ParatimeArg,
    },
    /// A finalized round: header, transactions with results, events.
    Round {
        /// The round [default: the latest].
        round: Option<u64>,
        #[command(flatten)]
        paratime: ParatimeArg,
    },
}

/// Runs `atoll paratime …`.
pub fn run(c: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::List => list(c),
        Command::Deposit {
            amount,
            to,
            from,
            paratime,
            allow,
        } => deposit(
            c,
            &amount.amount,
            to.as_deref(),
            &from,
            paratime.paratime.as_deref(),
            allow,
        ),
        Command::Withdraw {
            amount,
            to,
            from,
            paratime,
        } => withdraw(
            c,
            &amount.amount,
            to.as_deref(),
            &from,
            paratime.paratime.as_deref(),
        ),
        Command::Transfer {
            amount,
            to,
            from,
            paratime,
        } => transfer(c, &amount.amount, &to, &from, paratime.paratime.as_deref()),
        Command::Show { what } => match what {
            Show::Balance { account, paratime } => {
                balance(c, &account, paratime.paratime.as_deref())
            }
            Show::Round { round, paratime } => show_round(c, round, paratime.paratime.as_deref()),
        },
    }
}

/// `paratime list`.
fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let runtimes = consensus_query(&client, "registry.Runtimes", None)?;
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
        let latest = consensus_query(
            &client,
            "roothash.LatestBlock",
            Some(json!({ "runtime": id })),
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
fn deposit(
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
    settle(
        ctx,
        &pt,
        &inc,
        &me,
        1,
        "waiting for the consensus layer to move the tokens",
        &Operation::new("deposit", amount, from, me, to),
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

impl Operation {
    /// The operation of `amount` by wallet `from` (address `me`) to `to`
    /// (as the user wrote it, and its address), or to `me` itself.
    fn new(
        what: &'static str,
        amount: u128,
        from: &str,
        me: Address,
        to: Option<(&str, Address)>,
    ) -> Self {
        Self {
            what,
            amount,
            from: named(from, &me),
            to: to.map_or_else(|| named(from, &me), |(text, a)| named(text, &a)),
            recipient: to.map_or(me, |(_, a)| a),
        }
    }
}

/// Waits (saying `waiting`) for the consensus result of a deposit or
/// withdrawal `inc` by `me` (event `code` of consensus_accounts), then
/// reports it: an error when the consensus layer refused it, else where
/// the tokens went and the recipient's balance.
fn settle(
    ctx: &Ctx,
    pt: &ParaTime,
    inc: &client::Included,
    me: &Address,
    code: u64,
    waiting: &str,
    op: &Operation,
) -> anyhow::Result<()> {
    let event = wait_operation(ctx, pt, code, me, inc.nonce, inc.round, waiting)?;
    let event = &event;
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
fn withdraw(
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
    settle(
        ctx,
        &pt,
        &inc,
        &me,
        2,
        "waiting for the consensus layer to credit the tokens",
        &Operation::new("withdrawal", amount, from, me, to),
    )
}

/// `paratime transfer`.
fn transfer(
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
fn balance(ctx: &Ctx, who: &str, paratime: Option<&str>) -> anyhow::Result<()> {
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
fn show_round(ctx: &Ctx, round: Option<u64>, paratime: Option<&str>) -> anyhow::Result<()> {
    let pt = ctx.paratime(paratime)?;
    let id = pt.id.to_string();
    let block = pt
        .client
        .run(|c| c.get_block(id.clone(), round))
        .map_err(|e| match crate::rpc::rpc_error(&e) {
            Some(r) if r.code == crate::rpc::CODE_NOT_FOUND => anyhow::anyhow!(
                "ParaTime {} has no round {}: see the latest with `atoll paratime show round`",
                pt.label(),
                round.map_or_else(|| "yet".to_owned(), |r| r.to_string())
            ),
            _ => e,
        })?;
    let r = block["round"].as_u64().unwrap_or(0);
    let txs = pt.client.run(|c| c.get_transactions(id.clone(), r))?;
    let events = pt.client.run(|c| c.get_events(id.clone(), r))?;
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

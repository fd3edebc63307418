//! `atoll account`: consensus-layer accounts: balances, transfers,
//! allowances, escrow and reclaiming it.

use anyhow::bail;
use atoll_consensus_types::staking::{
    Allow, Escrow, ReclaimEscrow, Transfer as StakingTransfer, methods,
};
use atoll_crypto::Address;
use clap::Subcommand;
use serde_json::{Value, json};

use super::{AmountArg, allowance_of, check_funds, named};
use crate::client::{
    Ctx, consensus_account, consensus_balance, consensus_query, json_amount, submit_consensus,
};

/// `atoll account`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Balance, nonce, allowances, escrow and delegations of an account.
    Show {
        /// A wallet name, oasis1… or 0x… address.
        account: String,
    },
    /// Send tokens to another consensus account.
    Transfer {
        #[command(flatten)]
        amount: AmountArg,
        /// Recipient: wallet name, oasis1… or 0x… address.
        to: String,
        /// The paying wallet.
        #[arg(long)]
        from: String,
    },
    /// Let BENEFICIARY withdraw up to AMOUNT more from this account (a
    /// ParaTime needs this before a deposit: BENEFICIARY paratime:NAME).
    Allow {
        /// Wallet name, address, or paratime:NAME (the ParaTime's account).
        beneficiary: String,
        /// The change of the allowance.
        #[arg(allow_hyphen_values = true)]
        amount: String,
        /// The owning wallet.
        #[arg(long)]
        from: String,
        /// Lower the allowance by AMOUNT instead.
        #[arg(long)]
        decrease: bool,
    },
    /// Delegate tokens to an escrow account (stake).
    Escrow {
        #[command(flatten)]
        amount: AmountArg,
        /// The escrow account (an entity, e.g. a validator's).
        to: String,
        /// The delegating wallet.
        #[arg(long)]
        from: String,
    },
    /// Start reclaiming delegated stake (it returns after debonding).
    Reclaim {
        /// Shares of the escrow to reclaim (`account show` lists them).
        #[arg(allow_hyphen_values = true)]
        shares: String,
        /// The escrow account.
        escrow: String,
        /// The delegating wallet.
        #[arg(long)]
        from: String,
    },
}

/// Runs `atoll account …`.
pub fn run(c: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Show { account } => show(c, &account),
        Command::Transfer { amount, to, from } => transfer(c, &amount.amount, &to, &from),
        Command::Allow {
            beneficiary,
            amount,
            from,
            decrease,
        } => allow(c, &beneficiary, &amount, &from, decrease),
        Command::Escrow { amount, to, from } => escrow(c, &amount.amount, &to, &from),
        Command::Reclaim {
            shares,
            escrow,
            from,
        } => reclaim(c, &shares, &escrow, &from),
    }
}

fn delegations_of(client: &crate::rpc::Client, who: &Address) -> anyhow::Result<Vec<Value>> {
    let entities = consensus_query(client, "registry.Entities", None)?;
    let me = who.to_string();
    let mut out = Vec::new();
    for e in entities.as_array().into_iter().flatten() {
        let Some(id) = e["id"].as_str() else { continue };
        let Ok(pk) = atoll_crypto::ed25519::PublicKey::from_base64(id) else {
            continue;
        };
        let escrow = Address::from_ed25519(&pk);
        let list = consensus_query(
            client,
            "staking.Delegations",
            Some(json!({ "address": escrow.to_string() })),
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
        let debonding = consensus_query(
            client,
            "staking.DebondingDelegations",
            Some(json!({ "escrow": escrow.to_string(), "delegator": me })),
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
fn show(ctx: &Ctx, who: &str) -> anyhow::Result<()> {
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

fn transfer(ctx: &Ctx, amount: &str, to: &str, from: &str) -> anyhow::Result<()> {
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
    let v = spent_json(&r, &me, ("to", &to), amount, after);
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
/// The JSON answer of a consensus call by `me` that spent `amount` and
/// left `after`; `target` is the receiving account and its key.
fn spent_json(
    r: &Value,
    me: &Address,
    target: (&str, &Address),
    amount: u128,
    after: u128,
) -> Value {
    let mut v = json!({ "hash": r["hash"], "height": r["height"], "from": me.to_string() });
    v[target.0] = json!(target.1.to_string());
    v["amount"] = json!(amount.to_string());
    v["balance"] = json!(after.to_string());
    v
}

/// `account allow`.
fn allow(
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
fn escrow(ctx: &Ctx, amount: &str, to: &str, from: &str) -> anyhow::Result<()> {
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
    let v = spent_json(&r, &me, ("escrow", &escrow), amount, after);
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
fn reclaim(ctx: &Ctx, shares: &str, from_escrow: &str, from: &str) -> anyhow::Result<()> {
    let shares = crate::amount::parse_positive(shares, None, "the number of shares")?;
    let escrow = ctx.account(from_escrow)?;
    let w = ctx.unlock(from)?;
    let key = w.ed25519("reclaiming stake")?;
    let client = ctx.consensus_node()?;
    let me = w.signer.address();
    let list = consensus_query(
        &client,
        "staking.Delegations",
        Some(json!({ "address": escrow.to_string() })),
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

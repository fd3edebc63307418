//! `atoll network`: the network as a node sees it.

use clap::Subcommand;
use serde_json::{Value, json};

use atoll_rpc::{ConsensusRpcClient as _, RuntimeRpcClient as _, SystemRpcClient as _};

use crate::client::{Ctx, consensus_query};

/// `atoll network`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Chain, height, epoch, validators (power) and each ParaTime's committee.
    Status,
    /// The current epoch and the height of its first block.
    Epoch,
    /// A node's registration, expiry, roles, runtimes, freeze and liveness faults.
    NodeStatus {
        /// The node's identity public key (base64).
        node_id: String,
    },
    /// The escrows an account delegates to, and its debonding delegations.
    Delegations {
        /// The delegator's address (`oasis1…`).
        address: String,
    },
    /// A ParaTime's last normal round: good and bad compute nodes and
    /// entities, message results; and the epoch's liveness statistics.
    RoundResults {
        /// The ParaTime's id (64 hex digits).
        runtime: String,
    },
}

/// Runs `atoll network …`.
pub fn run(c: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status => status(c),
        Command::Epoch => epoch(c),
        Command::NodeStatus { node_id } => node_status(c, &node_id),
        Command::Delegations { address } => delegations(c, &address),
        Command::RoundResults { runtime } => round_results(c, &runtime),
    }
}

/// `network epoch`.
fn epoch(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let v = consensus_query(&client, "beacon.Epoch", None)?;
    ctx.out.show(&v, || {
        say!("epoch {} (began at height {})", v["epoch"], v["height"]);
    });
    Ok(())
}

/// `network node-status`.
fn node_status(ctx: &Ctx, node_id: &str) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let v = consensus_query(
        &client,
        "registry.NodeStatus",
        Some(json!({ "id": node_id })),
    )?;
    ctx.out.show(&v, || {
        say!("node {node_id}");
        if v["registered"].as_bool() == Some(true) {
            say!("  entity:      {}", v["entity_id"].as_str().unwrap_or("?"));
            say!(
                "  expiration:  epoch {}{}",
                v["expiration"],
                if v["expired"].as_bool() == Some(true) {
                    " (expired)"
                } else {
                    ""
                }
            );
            say!("  roles:       {}", v["roles"]);
            say!("  runtimes:    {}", v["runtimes"]);
        } else {
            say!("  not registered");
        }
        if v["frozen"].as_bool() == Some(true) {
            say!("  frozen until epoch {}", v["freeze_end"]);
        } else {
            say!("  not frozen");
        }
        for f in v["liveness_faults"].as_array().into_iter().flatten() {
            say!(
                "  liveness faults in {}: {}",
                f["runtime"].as_str().unwrap_or("?"),
                f["faults"]
            );
        }
    });
    Ok(())
}

/// `network delegations`.
fn delegations(ctx: &Ctx, address: &str) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let args = Some(json!({ "address": address }));
    let active = consensus_query(&client, "staking.DelegationsFor", args.clone())?;
    let debonding = consensus_query(&client, "staking.DebondingDelegationsFor", args)?;
    let v = json!({ "delegator": address, "delegations": active, "debonding": debonding });
    ctx.out.show(&v, || {
        say!("delegations of {address}");
        for d in active.as_array().into_iter().flatten() {
            say!(
                "  to {}  {} shares  worth {}",
                d["escrow"].as_str().unwrap_or("?"),
                d["shares"].as_str().unwrap_or("?"),
                d["amount"].as_str().unwrap_or("?")
            );
        }
        for d in debonding.as_array().into_iter().flatten() {
            say!(
                "  debonding from {}  {} shares  worth {}  until epoch {}",
                d["escrow"].as_str().unwrap_or("?"),
                d["shares"].as_str().unwrap_or("?"),
                d["amount"].as_str().unwrap_or("?"),
                d["debond_end"]
            );
        }
    });
    Ok(())
}

/// `network round-results`.
fn round_results(ctx: &Ctx, runtime: &str) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let args = Some(json!({ "runtime": runtime }));
    let results = consensus_query(&client, "roothash.RoundResults", args.clone())?;
    let liveness = consensus_query(&client, "roothash.LivenessStatistics", args)?;
    let v = json!({ "runtime": runtime, "round_results": results, "liveness": liveness });
    ctx.out.show(&v, || {
        say!("ParaTime {runtime}, last normal round {}", results["round"]);
        for (what, key) in [
            ("good compute node", "good_compute_nodes"),
            ("bad compute node", "bad_compute_nodes"),
            ("good entity", "good_compute_entities"),
            ("bad entity", "bad_compute_entities"),
        ] {
            for n in results[key].as_array().into_iter().flatten() {
                say!("  {what}: {}", n.as_str().unwrap_or("?"));
            }
        }
        for m in results["messages"].as_array().into_iter().flatten() {
            say!(
                "  message {}: module {:?} code {}",
                m["index"],
                m["module"],
                m["code"]
            );
        }
        say!(
            "  this epoch: {} round(s) decided",
            liveness["total_rounds"]
        );
        if let Some(nodes) = liveness["nodes"].as_object() {
            for (node, n) in nodes {
                say!(
                    "    {node}: {} of {} rounds live, {} proposed, {} missed",
                    n["live_rounds"],
                    n["rounds"],
                    n["finalized_proposals"],
                    n["missed_proposals"]
                );
            }
        }
    });
    Ok(())
}

/// `network status`.
fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.consensus_node()?;
    let status = client.run(|c| c.status())?;
    let height = status.latest_height;
    let epoch = height
        .and_then(|h| client.run(|c| c.get_block_results(h)).ok())
        .map(|r| r.epoch.value());
    let validators = client
        .run(|c| c.get_validators(None))
        .unwrap_or(Value::Null);
    let served = client.run(|c| c.list()).unwrap_or_default();
    let runtimes =
        consensus_query(&client, "registry.Runtimes", None).unwrap_or_else(|_| json!([]));
    let mut paratimes = Vec::new();
    for r in runtimes.as_array().into_iter().flatten() {
        let id = r["id"].as_str().unwrap_or_default();
        let latest = consensus_query(
            &client,
            "roothash.LatestBlock",
            Some(json!({ "runtime": id })),
        )
        .ok();
        let committee = consensus_query(
            &client,
            "scheduler.Committee",
            Some(json!({ "runtime": id })),
        )
        .ok();
        paratimes.push(json!({
            "id": id,
            "latest_round": latest.as_ref().and_then(|b| b["round"].as_u64()),
            "served_by_this_node": served.iter().any(|x| x == id),
            "committee": committee,
        }));
    }
    let v = json!({
        "node": client.url(),
        "version": status.version,
        "chain_id": status.chain_id,
        "chain_context": status.chain_context,
        "latest_height": height,
        "latest_time": status.latest_time,
        "epoch": epoch,
        "syncing": status.syncing,
        "mempool_size": status.mempool_size,
        "validators": validators,
        "paratimes": paratimes,
    });
    ctx.out.show(&v, || {
        say!("node {} (atoll {})", client.url(), status.version);
        say!("  chain id:       {}", status.chain_id);
        say!("  chain context:  {}", status.chain_context);
        say!(
            "  latest block:   {}{}",
            height.map_or_else(|| "none yet".to_owned(), |h| h.to_string()),
            if status.syncing { " (catching up)" } else { "" }
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
        say!("  mempool:        {} transaction(s)", status.mempool_size);
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
            match p["committee"]["members"].as_array() {
                Some(members) => {
                    for m in members {
                        say!(
                            "      {} {}",
                            m["role"].as_str().unwrap_or("?"),
                            m["node_id"].as_str().unwrap_or("?")
                        );
                    }
                }
                None => say!("      no committee this epoch"),
            }
        }
    });
    Ok(())
}

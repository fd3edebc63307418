//! `atoll network`: the network as a node sees it.

use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::Ctx;

/// `atoll network`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Chain, height, epoch, validators and ParaTimes.
    Status,
}

/// Runs `atoll network …`.
pub fn run(c: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status => status(c),
    }
}

/// `network status`.
fn status(ctx: &Ctx) -> anyhow::Result<()> {
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

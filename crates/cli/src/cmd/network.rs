//! `atoll network`: the network as a node sees it.

use clap::Subcommand;
use serde_json::{Value, json};

use atoll_rpc::{ConsensusRpcClient as _, RuntimeRpcClient as _, SystemRpcClient as _};

use crate::client::{Ctx, consensus_query};

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
        paratimes.push(json!({
            "id": id,
            "latest_round": latest.as_ref().and_then(|b| b["round"].as_u64()),
            "served_by_this_node": served.iter().any(|x| x == id),
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
        }
    });
    Ok(())
}

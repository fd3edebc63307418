//! `atoll measure`: private-measurement tasks on the measurement ParaTime
//! (the `measurement` module; see `docs/USAGE.md`, "Private measurement").

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use atoll_measure::{Metric, TaskId};
use atoll_rpc::RuntimeRpcClient as _;
use atoll_runtime_measure::types::{CreateTask, Facilitator, Status, Task, TaskRef};
use clap::Subcommand;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Ctx, runtime_query, submit_runtime};

/// The largest task file read.
const MAX_TASK_FILE: u64 = 1 << 20;

/// `--paratime NAME|ID` of the measurement commands.
#[derive(clap::Args)]
pub struct MeasureParatime {
    /// The ParaTime running `measurement` (name from localnet.json, or id).
    #[arg(long, default_value = "measure")]
    paratime: String,
}

/// `atoll measure`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Measurement tasks.
    Task {
        #[command(subcommand)]
        command: TaskCommand,
    },
}

/// `atoll measure task`'s subcommands.
#[derive(Subcommand)]
pub enum TaskCommand {
    /// Register a task described by a JSON file.
    Create {
        /// The task file: label, metric, facilitators (address, hpke_key in
        /// hex, endpoint), input_parties, min_group_size,
        /// deadline_in_rounds, grace_rounds.
        file: PathBuf,
        /// The registering wallet.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        paratime: MeasureParatime,
    },
    /// Close a task whose grace period ended without a result: the
    /// facilitators that withheld are named on chain.
    Close {
        /// The task id (64 hex digits).
        task: String,
        /// The sending wallet (anyone may close).
        #[arg(long)]
        from: String,
        #[command(flatten)]
        paratime: MeasureParatime,
    },
    /// A task's record: parties, batches, commitments and status.
    Status {
        /// The task id (64 hex digits).
        task: String,
        #[command(flatten)]
        paratime: MeasureParatime,
    },
    /// A task's published result (an error while it is open, or why it failed).
    Result {
        /// The task id (64 hex digits).
        task: String,
        #[command(flatten)]
        paratime: MeasureParatime,
    },
}

/// A facilitator in a task file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FacilitatorFile {
    address: String,
    hpke_key: String,
    endpoint: String,
}

/// A task file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    label: String,
    metric: Metric,
    facilitators: Vec<FacilitatorFile>,
    input_parties: Vec<String>,
    #[serde(default)]
    min_group_size: u64,
    deadline_in_rounds: u64,
    grace_rounds: u64,
}

/// Runs `atoll measure …`.
pub fn run(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Task { command } => match command {
            TaskCommand::Create {
                file,
                from,
                paratime,
            } => create(ctx, &file, &from, &paratime.paratime),
            TaskCommand::Close {
                task,
                from,
                paratime,
            } => close(ctx, &task, &from, &paratime.paratime),
            TaskCommand::Status { task, paratime } => status(ctx, &task, &paratime.paratime),
            TaskCommand::Result { task, paratime } => result(ctx, &task, &paratime.paratime),
        },
    }
}

fn parse_task(text: &str) -> anyhow::Result<TaskId> {
    let hex_part = text.strip_prefix("0x").unwrap_or(text);
    let bytes = hex::decode(hex_part).ok().filter(|b| b.len() == 32);
    let Some(bytes) = bytes else {
        bail!("task id {text:?} is not 64 hex digits");
    };
    let mut id = [0u8; 32];
    id.copy_from_slice(&bytes);
    Ok(TaskId(id))
}

fn read_task_file(ctx: &Ctx, path: &Path, latest_round: u64) -> anyhow::Result<CreateTask> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    f.take(MAX_TASK_FILE + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if text.len() as u64 > MAX_TASK_FILE {
        bail!("{} is larger than 1 MiB", path.display());
    }
    let t: TaskFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a task file", path.display()))?;
    let mut facilitators = Vec::with_capacity(t.facilitators.len());
    for f in t.facilitators {
        let key = hex::decode(f.hpke_key.strip_prefix("0x").unwrap_or(&f.hpke_key))
            .ok()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .with_context(|| {
                format!("facilitator {}: hpke_key is not 32 bytes of hex", f.address)
            })?;
        facilitators.push(Facilitator {
            address: ctx.account(&f.address)?,
            hpke_key: key,
            endpoint: f.endpoint,
        });
    }
    let input_parties = t
        .input_parties
        .iter()
        .map(|p| ctx.account(p))
        .collect::<anyhow::Result<_>>()?;
    Ok(CreateTask {
        label: t.label,
        metric: t.metric,
        facilitators,
        input_parties,
        min_group_size: t.min_group_size,
        noise: None,
        deadline_round: latest_round.saturating_add(t.deadline_in_rounds),
        grace_rounds: t.grace_rounds,
    })
}

fn create(ctx: &Ctx, file: &Path, from: &str, paratime: &str) -> anyhow::Result<()> {
    let pt = ctx.paratime(Some(paratime))?;
    let id = pt.id.to_string();
    let latest = pt.client.run(|c| c.get_block(id.clone(), None))?["round"]
        .as_u64()
        .unwrap_or(0);
    let spec = read_task_file(ctx, file, latest)?;
    let w = ctx.unlock(from)?;
    let counter_before = w.signer.address();
    let inc = submit_runtime(ctx, &pt, &w.signer, "measurement.CreateTask", &spec, 0)?;
    // The task id is the call's answer; read it from the round's transactions.
    let txs = pt
        .client
        .run(|c| c.get_transactions(id.clone(), inc.round))?;
    let answer = txs
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["hash"] == inc.hash)
        .and_then(|t| t["result"]["result"]["ok"].as_str().map(str::to_owned))
        .context("the round does not show the task id")?;
    let task = answer.trim_start_matches("0x").to_owned();
    let v = json!({
        "paratime": pt.label(), "task": task, "round": inc.round, "hash": inc.hash,
        "creator": counter_before.to_string(), "deadline_round": spec.deadline_round,
        "grace_rounds": spec.grace_rounds,
    });
    ctx.out.show(&v, || {
        say!(
            "task {task} registered in ParaTime {}, round {}",
            pt.label(),
            inc.round
        );
        say!(
            "  batches until round {}, shares until round {}",
            spec.deadline_round,
            spec.deadline_round.saturating_add(spec.grace_rounds)
        );
    });
    Ok(())
}

fn close(ctx: &Ctx, task: &str, from: &str, paratime: &str) -> anyhow::Result<()> {
    let id = parse_task(task)?;
    let pt = ctx.paratime(Some(paratime))?;
    let w = ctx.unlock(from)?;
    let inc = submit_runtime(
        ctx,
        &pt,
        &w.signer,
        "measurement.Close",
        &TaskRef { task: id },
        0,
    )?;
    let (_, t) = load(ctx, task, paratime)?;
    let v = json!({"task": hex::encode(id.0), "round": inc.round, "hash": inc.hash, "status": status_json(&t)["status"]});
    ctx.out.show(&v, || {
        say!("task {} closed in round {}", hex::encode(id.0), inc.round);
        if let Status::Failed { culprits, .. } = &t.status {
            for c in culprits {
                say!("  named: {c}");
            }
        }
    });
    Ok(())
}

fn load(ctx: &Ctx, task: &str, paratime: &str) -> anyhow::Result<(String, Task)> {
    let pt = ctx.paratime(Some(paratime))?;
    let id = parse_task(task)?;
    let v = runtime_query(&pt, "measurement.Task", &TaskRef { task: id })?;
    let t: Task = atoll_types::cbor::from_value(v).context("unexpected measurement.Task answer")?;
    Ok((pt.label(), t))
}

fn status_json(t: &Task) -> Value {
    let status = match &t.status {
        Status::Open => json!({"open": null}),
        Status::Published {
            result,
            suppressed,
            report_count,
            digest,
            round,
        } => json!({"published": {
            "result": result.iter().map(|q| q.0.to_string()).collect::<Vec<_>>(),
            "suppressed": suppressed, "report_count": report_count,
            "digest": hex::encode(digest), "round": round,
        }}),
        Status::Failed {
            reason,
            culprits,
            round,
        } => json!({"failed": {
            "reason": reason, "culprits": culprits.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "round": round,
        }}),
    };
    json!({
        "task": hex::encode(t.id.0),
        "label": t.spec.label,
        "creator": t.creator.to_string(),
        "created_round": t.created_round,
        "metric": serde_json::to_value(t.spec.metric).unwrap_or(Value::Null),
        "facilitators": t.spec.facilitators.iter().zip(&t.commitments).map(|(f, c)| json!({
            "address": f.address.to_string(), "hpke_key": hex::encode(f.hpke_key), "endpoint": f.endpoint,
            "commitment": c.as_ref().map(|c| json!({
                "batch_digest": hex::encode(c.batch_digest), "report_count": c.report_count,
                "commitment": hex::encode(c.commitment), "round": c.round, "revealed": c.revealed,
            })),
        })).collect::<Vec<_>>(),
        "input_parties": t.spec.input_parties.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "batches": t.batches.iter().map(|b| json!({
            "party": b.party.to_string(), "digest": hex::encode(b.digest),
            "report_count": b.report_count, "round": b.round,
        })).collect::<Vec<_>>(),
        "min_group_size": t.spec.min_group_size,
        "deadline_round": t.spec.deadline_round,
        "grace_rounds": t.spec.grace_rounds,
        "status": status,
    })
}

fn status(ctx: &Ctx, task: &str, paratime: &str) -> anyhow::Result<()> {
    let (label, t) = load(ctx, task, paratime)?;
    let v = status_json(&t);
    ctx.out.show(&v, || {
        say!(
            "task {} ({}) in ParaTime {label}",
            hex::encode(t.id.0),
            t.spec.label
        );
        let committed = t.commitments.iter().filter(|c| c.is_some()).count();
        let revealed = t
            .commitments
            .iter()
            .flatten()
            .filter(|c| c.revealed)
            .count();
        say!(
            "  facilitators: {} ({committed} committed, {revealed} revealed)",
            t.commitments.len()
        );
        say!("  batches: {}", t.batches.len());
        match &t.status {
            Status::Open => say!(
                "  status: open (batches until round {})",
                t.spec.deadline_round
            ),
            Status::Published { round, .. } => say!("  status: published in round {round}"),
            Status::Failed {
                reason, culprits, ..
            } => {
                say!("  status: failed: {reason}");
                for c in culprits {
                    say!("    named: {c}");
                }
            }
        }
    });
    Ok(())
}

fn result(ctx: &Ctx, task: &str, paratime: &str) -> anyhow::Result<()> {
    let (_, t) = load(ctx, task, paratime)?;
    match &t.status {
        Status::Open => bail!(
            "task {} has no result yet (it is open)",
            hex::encode(t.id.0)
        ),
        Status::Failed {
            reason, culprits, ..
        } => bail!(
            "task {} failed: {reason}; named: {}",
            hex::encode(t.id.0),
            culprits
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Status::Published {
            result,
            suppressed,
            report_count,
            ..
        } => {
            let v = status_json(&t)["status"]["published"].clone();
            ctx.out.show(&v, || {
                say!("{report_count} reports");
                for (i, q) in result.iter().enumerate() {
                    let mark = if suppressed.contains(&(i as u32)) {
                        " (suppressed)"
                    } else {
                        ""
                    };
                    say!("  [{i}] {}{mark}", q.0);
                }
            });
            Ok(())
        }
    }
}

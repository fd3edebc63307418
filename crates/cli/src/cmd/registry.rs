//! `atoll registry`: register entities, nodes and ParaTimes from
//! descriptor files, and list what is registered.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use atoll_consensus_types::registry::{
    self, ENTITY_SIGNATURE_CONTEXT, NODE_SIGNATURE_CONTEXT, RUNTIME_SIGNATURE_CONTEXT,
};
use atoll_crypto::Address;
use atoll_crypto::context::Context;
use atoll_types::signed::{SignatureBundle, Signed};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::{Ctx, consensus_query, submit_consensus};

/// `atoll registry`'s subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Register (or update) an entity, a node or a ParaTime.
    Register {
        #[command(subcommand)]
        what: RegisterWhat,
    },
    /// List the registered entities, nodes or runtimes.
    Show {
        /// What to list.
        #[arg(value_enum)]
        what: RegistryList,
    },
}

/// What `atoll registry register` registers.
#[derive(Subcommand)]
pub enum RegisterWhat {
    /// The wallet's entity; FILE is an entity descriptor (JSON:
    /// {"nodes": [...]}); without it, an entity with no nodes.
    Entity {
        /// The descriptor (missing "v" and "id" are filled in).
        file: Option<PathBuf>,
        /// The entity's wallet (ed25519).
        #[arg(long)]
        from: String,
    },
    /// A node, from a descriptor signed with the node's keys.
    Node {
        /// The node descriptor (JSON; missing keys come from --identity).
        file: PathBuf,
        /// The node's identity directory (`atoll identity init`).
        #[arg(long, value_name = "DIR")]
        identity: PathBuf,
        /// The wallet of the node's entity.
        #[arg(long)]
        from: String,
    },
    /// A ParaTime, from a runtime descriptor (permissionless: any
    /// registered entity with the required stake may).
    Runtime {
        /// The runtime descriptor (JSON).
        file: PathBuf,
        /// The owning entity's wallet.
        #[arg(long)]
        from: String,
    },
}

/// Runs `atoll registry …`.
pub fn run(c: &Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Register { what } => match what {
            RegisterWhat::Entity { file, from } => register_entity(c, file.as_deref(), &from),
            RegisterWhat::Node {
                file,
                identity,
                from,
            } => register_node(c, &file, &identity, &from),
            RegisterWhat::Runtime { file, from } => register_runtime(c, &file, &from),
        },
        Command::Show { what } => show(c, what),
    }
}

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

/// Signs `descriptor` with the wallet's `key` under `context` and submits
/// it as `method`; the inclusion result.
fn sign_and_submit<T: serde::Serialize>(
    ctx: &Ctx,
    key: &atoll_crypto::ed25519::SigningKey,
    context: &str,
    method: &str,
    descriptor: &T,
) -> anyhow::Result<Value> {
    let context = Context::new(context).map_err(|e| anyhow::anyhow!("{e}"))?;
    let signed = Signed::sign(key, &context, descriptor).context("cannot sign the descriptor")?;
    let client = ctx.consensus_node()?;
    submit_consensus(ctx, &client, key, method, &signed)
}

/// `registry register entity`.
fn register_entity(ctx: &Ctx, file: Option<&Path>, from: &str) -> anyhow::Result<()> {
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
    let r = sign_and_submit(
        ctx,
        key,
        ENTITY_SIGNATURE_CONTEXT,
        registry::methods::REGISTER_ENTITY,
        &entity,
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
fn register_node(ctx: &Ctx, file: &Path, identity: &Path, from: &str) -> anyhow::Result<()> {
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
fn register_runtime(ctx: &Ctx, file: &Path, from: &str) -> anyhow::Result<()> {
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
    let r = sign_and_submit(
        ctx,
        key,
        RUNTIME_SIGNATURE_CONTEXT,
        registry::methods::REGISTER_RUNTIME,
        &runtime,
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
fn show(ctx: &Ctx, what: RegistryList) -> anyhow::Result<()> {
    let method = match what {
        RegistryList::Entities => "registry.Entities",
        RegistryList::Nodes => "registry.Nodes",
        RegistryList::Runtimes => "registry.Runtimes",
    };
    let client = ctx.consensus_node()?;
    let list = consensus_query(&client, method, None)?;
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

//! When a node re-registers its descriptor (as Oasis's registration
//! worker does): on start-up, whenever the roles or runtimes it serves
//! change, when it is not registered (or lapsed), and some epochs before its
//! registration expires; each time with a fresh descriptor that expires
//! `max_node_expiration` epochs ahead.

use atoll_consensus_types::registry::{
    AdmissionPolicy, Node, NodeRuntime, Roles, Runtime, Version,
};
use atoll_crypto::ed25519::PublicKey;
use atoll_crypto::vrf::VrfPublicKey;
use atoll_types::{Epoch, Namespace};

/// Blocks to wait after a registration left the mempool without taking
/// effect before trying again; doubled after each such failure (a refused
/// registration still costs its fee), up to [`MAX_BACKOFF_BLOCKS`].
pub const RETRY_AFTER_BLOCKS: u64 = 2;

/// The longest wait between two failed registrations.
pub const MAX_BACKOFF_BLOCKS: u64 = 256;

/// What the node wants to be registered as, from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Its roles (none: a node that needs no registration).
    pub roles: Roles,
    /// The runtimes it serves and that the registry knows, in order.
    pub runtimes: Vec<Namespace>,
    /// Its VRF key.
    pub vrf: VrfPublicKey,
}

/// What the node knows when it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSituation {
    /// The latest committed height.
    pub height: u64,
    /// The epoch of height `height + 1`, where a registration lands.
    pub epoch: Epoch,
    /// The registry's `max_node_expiration`.
    pub max_node_expiration: u64,
    /// The node's descriptor in the registry (possibly lapsed).
    pub on_chain: Option<Node>,
    /// Whether the node is frozen (its registration would be refused).
    pub frozen: bool,
    /// Whether the node's entity is known (on chain or from its keys).
    pub entity_known: bool,
    /// What it wants.
    pub wanted: Wanted,
    /// Whether it registered since it started.
    pub registered_since_start: bool,
    /// Its last registration, if any.
    pub last: Option<Attempt>,
}

/// A registration the node submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The expiration it asked for.
    pub expiration: u64,
    /// The height the node had seen when it submitted.
    pub height: u64,
    /// Whether it still waits in the mempool.
    pub pending: bool,
    /// Registrations in a row that took no effect before this one.
    pub failures: u32,
}

/// Why the node registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It is not registered, or its registration lapsed.
    NotRegistered,
    /// It just started (a fresh descriptor).
    Startup,
    /// Its roles, runtimes or VRF key changed.
    Changed,
    /// Its registration expires soon.
    Renew,
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterAction {
    /// Nothing now, and why.
    Wait(&'static str),
    /// Register with this expiration.
    Register {
        /// The new expiration epoch.
        expiration: u64,
        /// Why.
        reason: Reason,
    },
}

/// How many epochs before its expiration a node renews: half its
/// registration's lifetime, at least one epoch.
pub fn renew_before(max_node_expiration: u64) -> u64 {
    (max_node_expiration / 2).max(1)
}

/// The decision.
pub fn decide(s: &RegisterSituation) -> RegisterAction {
    if s.wanted.roles.0 == 0 && s.on_chain.is_none() {
        return RegisterAction::Wait("no role needs a registration");
    }
    if s.frozen {
        return RegisterAction::Wait("the node is frozen");
    }
    if !s.entity_known {
        return RegisterAction::Wait("no entity: register the node once with its entity's key");
    }
    if let Some(last) = s.last {
        if last.pending {
            return RegisterAction::Wait("a registration waits in the mempool");
        }
        let landed = s
            .on_chain
            .as_ref()
            .is_some_and(|n| n.expiration == last.expiration);
        let wait = RETRY_AFTER_BLOCKS
            .saturating_mul(1u64 << last.failures.min(16))
            .min(MAX_BACKOFF_BLOCKS);
        if !landed && s.height < last.height.saturating_add(wait) {
            return RegisterAction::Wait("a registration may be landing");
        }
    }
    let reason = match &s.on_chain {
        None => Reason::NotRegistered,
        Some(n) if n.expiration < s.epoch.0 => Reason::NotRegistered,
        Some(_) if !s.registered_since_start => Reason::Startup,
        Some(n) if changed(n, &s.wanted) => Reason::Changed,
        Some(n)
            if n.expiration
                <= s.epoch
                    .0
                    .saturating_add(renew_before(s.max_node_expiration)) =>
        {
            Reason::Renew
        }
        Some(_) => return RegisterAction::Wait("registered"),
    };
    RegisterAction::Register {
        expiration: s.epoch.0.saturating_add(s.max_node_expiration.max(1)),
        reason,
    }
}

/// Whether the descriptor on chain differs from what the node wants.
fn changed(n: &Node, w: &Wanted) -> bool {
    let roles = effective_roles(n, w);
    let runtimes: Vec<Namespace> = n.runtimes.iter().map(|r| r.id).collect();
    n.roles != roles || runtimes != w.runtimes || n.vrf != Some(w.vrf)
}

/// The roles to register: the configured ones, or those on chain when the
/// configuration implies none (an observer registered by hand).
fn effective_roles(on_chain: &Node, w: &Wanted) -> Roles {
    if w.roles.0 == 0 {
        on_chain.roles
    } else {
        w.roles
    }
}

/// Whether `runtime` admits a node of `entity` at all: a node registers only
/// the configured runtimes that do (a runtime that refuses it would make
/// the whole registration fail, and the node lapse).
pub fn admits(runtime: &Runtime, entity: Option<&PublicKey>) -> bool {
    match &runtime.admission_policy {
        AdmissionPolicy::AnyNode {} => true,
        AdmissionPolicy::EntityWhitelist { entities } => entity.is_some_and(|e| {
            entities
                .get(e)
                .is_some_and(|limits| limits.get(&Roles::COMPUTE).is_none_or(|max| *max > 0))
        }),
    }
}

/// The fresh descriptor: the one on chain (addresses, versions, TEE
/// capabilities) or a new one for `entity`, with the wanted roles,
/// runtimes and VRF key and the new expiration.
pub fn descriptor(
    on_chain: Option<&Node>,
    node: PublicKey,
    entity: PublicKey,
    consensus: PublicKey,
    p2p: PublicKey,
    wanted: &Wanted,
    expiration: u64,
) -> Node {
    let mut d = on_chain.cloned().unwrap_or_else(|| Node {
        v: 1,
        id: node,
        entity_id: entity,
        expiration,
        p2p: atoll_consensus_types::registry::KeyAddresses {
            id: p2p,
            addresses: vec![],
        },
        consensus: atoll_consensus_types::registry::KeyAddresses {
            id: consensus,
            addresses: vec![],
        },
        vrf: None,
        runtimes: vec![],
        roles: wanted.roles,
        software_version: String::new(),
    });
    d.roles = effective_roles(&d, wanted);
    d.runtimes = wanted
        .runtimes
        .iter()
        .map(|id| {
            d.runtimes
                .iter()
                .find(|r| &r.id == id)
                .cloned()
                .unwrap_or(NodeRuntime {
                    id: *id,
                    version: Version::default(),
                    tee: None,
                })
        })
        .collect();
    d.id = node;
    d.consensus.id = consensus;
    d.p2p.id = p2p;
    d.vrf = Some(wanted.vrf);
    d.expiration = expiration;
    d.software_version = concat!("atoll ", env!("CARGO_PKG_VERSION")).to_string();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use atoll_crypto::ed25519::SigningKey;
    use atoll_crypto::vrf::VrfSigningKey;

    const RT: Namespace = Namespace([7; 32]);

    fn key(i: u8) -> PublicKey {
        SigningKey::from_seed(&[i; 32]).public_key()
    }

    fn wanted() -> Wanted {
        Wanted {
            roles: Roles::COMPUTE,
            runtimes: vec![RT],
            vrf: VrfSigningKey::from_seed(&[9; 32]).public_key(),
        }
    }

    fn node(expiration: u64) -> Node {
        descriptor(None, key(1), key(2), key(3), key(4), &wanted(), expiration)
    }

    fn base() -> RegisterSituation {
        RegisterSituation {
            height: 100,
            epoch: Epoch(10),
            max_node_expiration: 4,
            on_chain: Some(node(14)),
            frozen: false,
            entity_known: true,
            wanted: wanted(),
            registered_since_start: true,
            last: None,
        }
    }

    fn register(reason: Reason) -> RegisterAction {
        RegisterAction::Register {
            expiration: 14,
            reason,
        }
    }

    #[test]
    fn decisions() {
        let attempt = |expiration, height, pending, failures| {
            Some(Attempt {
                expiration,
                height,
                pending,
                failures,
            })
        };
        let table: Vec<(&str, RegisterSituation, RegisterAction)> = vec![
            ("fresh: wait", base(), RegisterAction::Wait("registered")),
            (
                "two epochs left of four: renew",
                RegisterSituation {
                    on_chain: Some(node(12)),
                    ..base()
                },
                register(Reason::Renew),
            ),
            (
                "three epochs left of four: not yet",
                RegisterSituation {
                    on_chain: Some(node(13)),
                    ..base()
                },
                RegisterAction::Wait("registered"),
            ),
            (
                "lapsed",
                RegisterSituation {
                    on_chain: Some(node(9)),
                    ..base()
                },
                register(Reason::NotRegistered),
            ),
            (
                "never registered",
                RegisterSituation {
                    on_chain: None,
                    ..base()
                },
                register(Reason::NotRegistered),
            ),
            (
                "just started",
                RegisterSituation {
                    registered_since_start: false,
                    ..base()
                },
                register(Reason::Startup),
            ),
            (
                "a runtime more",
                RegisterSituation {
                    wanted: Wanted {
                        runtimes: vec![RT, Namespace([8; 32])],
                        ..wanted()
                    },
                    ..base()
                },
                register(Reason::Changed),
            ),
            (
                "a validator now",
                RegisterSituation {
                    wanted: Wanted {
                        roles: Roles(Roles::COMPUTE.0 | Roles::VALIDATOR.0),
                        ..wanted()
                    },
                    ..base()
                },
                register(Reason::Changed),
            ),
            (
                "frozen: a registration would be refused",
                RegisterSituation {
                    frozen: true,
                    on_chain: Some(node(9)),
                    ..base()
                },
                RegisterAction::Wait("the node is frozen"),
            ),
            (
                "unknown entity",
                RegisterSituation {
                    on_chain: None,
                    entity_known: false,
                    ..base()
                },
                RegisterAction::Wait("no entity: register the node once with its entity's key"),
            ),
            (
                "nothing to register as",
                RegisterSituation {
                    on_chain: None,
                    wanted: Wanted {
                        roles: Roles(0),
                        ..wanted()
                    },
                    ..base()
                },
                RegisterAction::Wait("no role needs a registration"),
            ),
            (
                "pending: no second registration",
                RegisterSituation {
                    on_chain: Some(node(9)),
                    last: attempt(14, 90, true, 0),
                    ..base()
                },
                RegisterAction::Wait("a registration waits in the mempool"),
            ),
            (
                "left the mempool just now",
                RegisterSituation {
                    on_chain: Some(node(9)),
                    last: attempt(14, 99, false, 0),
                    ..base()
                },
                RegisterAction::Wait("a registration may be landing"),
            ),
            (
                "failed: retry after the wait",
                RegisterSituation {
                    on_chain: Some(node(9)),
                    last: attempt(14, 98, false, 0),
                    ..base()
                },
                register(Reason::NotRegistered),
            ),
            (
                "failed three times: back off 16 blocks",
                RegisterSituation {
                    on_chain: Some(node(9)),
                    last: attempt(14, 90, false, 3),
                    ..base()
                },
                RegisterAction::Wait("a registration may be landing"),
            ),
        ];
        for (name, s, want) in table {
            assert_eq!(decide(&s), want, "{name}");
        }
    }

    #[test]
    fn only_runtimes_that_admit_the_entity_are_registered() {
        let mut rt: Runtime = serde_json::from_value(serde_json::json!({
            "v": 3,
            "id": Namespace([1; 32]).to_string(),
            "entity_id": key(5).to_string(),
            "kind": "compute",
            "executor": { "group_size": 1, "group_backup_size": 1,
                          "allowed_stragglers": 0, "round_timeout": 10 },
            "txn_scheduler": { "max_batch_size": 1, "max_batch_size_bytes": 1,
                               "batch_flush_timeout_ms": 1, "propose_batch_timeout_ms": 1 },
            "storage": { "checkpoint_interval": 0, "checkpoint_num_kept": 0,
                         "checkpoint_chunk_size": 0 },
            "admission_policy": { "any_node": {} }
        }))
        .unwrap();
        assert!(admits(&rt, None));
        assert!(admits(&rt, Some(&key(2))));
        let list = |max: u16| AdmissionPolicy::EntityWhitelist {
            entities: std::collections::BTreeMap::from([(
                key(2),
                std::collections::BTreeMap::from([(Roles::COMPUTE, max)]),
            )]),
        };
        rt.admission_policy = list(1);
        assert!(admits(&rt, Some(&key(2))));
        assert!(!admits(&rt, Some(&key(3))), "not on the list");
        assert!(!admits(&rt, None));
        rt.admission_policy = list(0);
        assert!(
            !admits(&rt, Some(&key(2))),
            "on the list with no compute node"
        );
    }

    #[test]
    fn a_fresh_descriptor_keeps_what_the_chain_knows() {
        let mut old = node(12);
        old.consensus.addresses = vec!["127.0.0.1:1".into()];
        old.runtimes[0].version = Version {
            major: 1,
            minor: 2,
            patch: 3,
        };
        let w = Wanted {
            runtimes: vec![RT, Namespace([8; 32])],
            ..wanted()
        };
        let d = descriptor(Some(&old), key(1), key(2), key(3), key(4), &w, 15);
        assert_eq!(d.expiration, 15);
        assert_eq!(d.consensus.addresses, old.consensus.addresses);
        assert_eq!(d.runtimes[0], old.runtimes[0]);
        assert_eq!(d.runtimes[1].id, Namespace([8; 32]));
        assert_eq!(d.vrf, Some(w.vrf));
        assert!(d.roles.is_valid());
    }
}

//! The genesis document: everything a network starts from.
//!
//! It is a JSON file. Its hash (SHA-512/256 of its canonical CBOR encoding)
//! is the network's chain context, which every signature binds to: a change
//! of one byte makes a different network. [`Genesis::check`] lists every
//! problem in a document, in words an operator can act on.

use std::collections::BTreeMap;

use atoll_crypto::context::ChainContext;
use atoll_crypto::{Address, Hash};
use atoll_types::{Epoch, Quantity};
use serde::{Deserialize, Serialize};

use atoll_consensus_types::{registry, roothash, scheduler, staking};

use crate::services::beacon;
use crate::services::registry::validate_runtime;

/// Parameters of the consensus layer itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusParameters {
    /// Largest transaction, in bytes.
    pub max_tx_size: u64,
    /// Largest block (sum of its transactions), in bytes.
    pub max_block_size: u64,
    /// Most gas one block may use (0: unlimited).
    #[serde(default)]
    pub max_block_gas: u64,
    /// Smallest fee per unit of gas a transaction must offer.
    #[serde(default)]
    pub min_gas_price: Quantity,
    /// Gas charged per transaction byte, on top of the method's own cost.
    #[serde(default)]
    pub gas_per_tx_byte: u64,
}

impl Default for ConsensusParameters {
    fn default() -> Self {
        Self {
            max_tx_size: 32 * 1024,
            max_block_size: 4 * 1024 * 1024,
            max_block_gas: 0,
            min_gas_price: Quantity(0),
            gas_per_tx_byte: 1,
        }
    }
}

/// Parameters of epoch time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconParameters {
    /// Blocks per epoch.
    pub interval: u64,
    /// Randomness backend.
    #[serde(default)]
    pub backend: beacon::Backend,
    /// Parameters of the VRF backend.
    #[serde(default)]
    pub vrf: beacon::VrfParameters,
}

impl Default for BeaconParameters {
    fn default() -> Self {
        Self {
            interval: 100,
            backend: beacon::Backend::Insecure,
            vrf: beacon::VrfParameters::default(),
        }
    }
}

/// Staking's part of the genesis document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakingGenesis {
    /// Parameters.
    #[serde(default)]
    pub parameters: staking::Parameters,
    /// Total supply; must equal everything held in the ledger and pools.
    pub total_supply: Quantity,
    /// Common pool balance.
    #[serde(default)]
    pub common_pool: Quantity,
    /// Initial accounts.
    #[serde(default)]
    pub ledger: BTreeMap<Address, staking::Account>,
    /// Initial delegations: escrow to delegator to shares.
    #[serde(default)]
    pub delegations: BTreeMap<Address, BTreeMap<Address, staking::Delegation>>,
}

/// The registry's part of the genesis document: descriptors registered
/// from the start (the genesis document is trusted as a whole, so they carry
/// no signatures of their own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryGenesis {
    /// Parameters.
    #[serde(default)]
    pub parameters: registry::Parameters,
    /// Entities.
    #[serde(default)]
    pub entities: Vec<registry::Entity>,
    /// Runtimes.
    #[serde(default)]
    pub runtimes: Vec<registry::Runtime>,
    /// Nodes.
    #[serde(default)]
    pub nodes: Vec<registry::Node>,
}

/// The whole genesis document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// A human-readable network name (part of the hash, so it separates
    /// networks that would otherwise start identical).
    pub chain_id: String,
    /// Height of the first block.
    #[serde(default = "one")]
    pub initial_height: u64,
    /// Whether this is a debug network (enables insecure conveniences, which
    /// every tool then announces).
    #[serde(default)]
    pub debug: bool,
    /// Consensus parameters.
    #[serde(default)]
    pub consensus: ConsensusParameters,
    /// Epoch time.
    #[serde(default)]
    pub beacon: BeaconParameters,
    /// Staking.
    #[serde(default)]
    pub staking: StakingGenesis,
    /// Registry.
    #[serde(default)]
    pub registry: RegistryGenesis,
    /// Scheduler.
    #[serde(default)]
    pub scheduler: scheduler::Parameters,
    /// Roothash.
    #[serde(default)]
    pub roothash: roothash::Parameters,
}

fn one() -> u64 {
    1
}

impl Default for Genesis {
    /// An empty document with the same defaults as parsing `{}` would give
    /// (first block at height 1).
    fn default() -> Self {
        Self {
            chain_id: String::new(),
            initial_height: one(),
            debug: false,
            consensus: ConsensusParameters::default(),
            beacon: BeaconParameters::default(),
            staking: StakingGenesis::default(),
            registry: RegistryGenesis::default(),
            scheduler: scheduler::Parameters::default(),
            roothash: roothash::Parameters::default(),
        }
    }
}

/// A problem found by [`Genesis::check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct GenesisProblem {
    /// Where in the document.
    pub field: String,
    /// What is wrong and what to do about it.
    pub problem: String,
}

fn problem(field: impl Into<String>, problem: impl Into<String>) -> GenesisProblem {
    GenesisProblem {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A node, and the entity that runs it with self-delegated stake, for
/// [`Genesis::add_staked_node`].
#[derive(Debug, Clone)]
pub struct StakedNode {
    /// The entity's key (its account holds the stake).
    pub entity: atoll_crypto::ed25519::PublicKey,
    /// Stake the entity escrows with itself.
    pub stake: Quantity,
    /// The node's identity key.
    pub node: atoll_crypto::ed25519::PublicKey,
    /// The node's consensus key.
    pub consensus: atoll_crypto::ed25519::PublicKey,
    /// The node's P2P key.
    pub p2p: atoll_crypto::ed25519::PublicKey,
    /// The node's VRF key.
    pub vrf: Option<atoll_crypto::vrf::VrfPublicKey>,
    /// Roles.
    pub roles: registry::Roles,
    /// Runtimes it serves (no TEE).
    pub runtimes: Vec<atoll_types::Namespace>,
    /// Epoch its registration lapses after.
    pub expiration: u64,
}

/// The smallest fee per gas a network that is not a debug network charges
/// when its genesis document does not say (one base unit per gas: a
/// transfer then costs about 1,250 base units, enough that spam is paid for).
pub const DEFAULT_MIN_GAS_PRICE: u128 = 1;

/// The most gas one block of a network that is not a debug network may use
/// when its genesis document does not say: room for a block of the largest
/// size full of transfers (about 16,000 of them at 1,250 gas), with a bound
/// on what heavier methods can pile into one block.
pub const DEFAULT_MAX_BLOCK_GAS: u64 = 25_000_000;

impl Genesis {
    /// Parses a genesis document from JSON.
    ///
    /// A document that is not a debug network and leaves out
    /// `consensus.min_gas_price` or `consensus.max_block_gas` gets
    /// [`DEFAULT_MIN_GAS_PRICE`] and [`DEFAULT_MAX_BLOCK_GAS`]: a network
    /// an operator writes charges for its blocks and bounds them unless the
    /// document says otherwise (and [`Genesis::warnings`] then says so). A
    /// debug network's omitted values stay 0 (free, unbounded).
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let mut doc: serde_json::Value = serde_json::from_str(json)?;
        let debug = doc.get("debug").and_then(serde_json::Value::as_bool) == Some(true);
        if !debug && let Some(top) = doc.as_object_mut() {
            if !top.contains_key("consensus") {
                // The defaults, less the two that differ for real networks.
                let mut defaults = serde_json::to_value(ConsensusParameters::default())?;
                if let Some(d) = defaults.as_object_mut() {
                    d.remove("min_gas_price");
                    d.remove("max_block_gas");
                }
                top.insert("consensus".into(), defaults);
            }
            if let Some(c) = top.get_mut("consensus").and_then(|c| c.as_object_mut()) {
                c.entry("min_gas_price")
                    .or_insert_with(|| DEFAULT_MIN_GAS_PRICE.to_string().into());
                c.entry("max_block_gas")
                    .or_insert_with(|| DEFAULT_MAX_BLOCK_GAS.into());
            }
        }
        serde_json::from_value(doc)
    }

    /// What is valid but unsafe in a document for a network that is not a
    /// debug network: transactions that cost nothing (anyone can fill every
    /// block for free) and blocks without a gas limit (one block can carry
    /// any amount of work). Empty for debug networks.
    pub fn warnings(&self) -> Vec<GenesisProblem> {
        let mut out = Vec::new();
        if self.debug {
            return out;
        }
        if self.consensus.min_gas_price.0 == 0 {
            out.push(problem(
                "consensus.min_gas_price",
                format!("is 0, so transactions are free and anyone can fill every block at no cost; the default is {DEFAULT_MIN_GAS_PRICE}"),
            ));
        }
        if self.consensus.max_block_gas == 0 {
            out.push(problem(
                "consensus.max_block_gas",
                format!("is 0 (unlimited), so one block can carry any amount of work; the default is {DEFAULT_MAX_BLOCK_GAS}"),
            ));
        }
        out
    }

    /// The document as pretty JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The document's hash: SHA-512/256 of its canonical CBOR encoding.
    pub fn hash(&self) -> Result<Hash, atoll_types::cbor::EncodeError> {
        Ok(Hash::digest(&atoll_types::cbor::to_vec(self)?))
    }

    /// The chain context every signature on this network binds to.
    pub fn chain_context(&self) -> Result<ChainContext, atoll_types::cbor::EncodeError> {
        Ok(ChainContext::from_hash(&self.hash()?))
    }

    /// The epoch of block `height`.
    pub fn epoch_at(&self, height: u64) -> Epoch {
        atoll_consensus_types::epoch_at(self.initial_height, self.beacon.interval, height)
    }

    /// Credits `amount` to `address`'s general balance and to the total supply.
    pub fn fund(&mut self, address: Address, amount: Quantity) {
        let acct = self.staking.ledger.entry(address).or_default();
        acct.general.balance.0 = acct.general.balance.0.saturating_add(amount.0);
        self.staking.total_supply.0 = self.staking.total_supply.0.saturating_add(amount.0);
    }

    /// Adds an entity that escrows `n.stake` with itself (a self-delegation,
    /// counted in the total supply) and registers one node for it.
    pub fn add_staked_node(&mut self, n: StakedNode) {
        let account = Address::from_ed25519(&n.entity);
        let acct = self.staking.ledger.entry(account).or_default();
        acct.escrow.active.balance.0 = acct.escrow.active.balance.0.saturating_add(n.stake.0);
        acct.escrow.active.total_shares.0 =
            acct.escrow.active.total_shares.0.saturating_add(n.stake.0);
        let d = self
            .staking
            .delegations
            .entry(account)
            .or_default()
            .entry(account)
            .or_default();
        d.shares.0 = d.shares.0.saturating_add(n.stake.0);
        self.staking.total_supply.0 = self.staking.total_supply.0.saturating_add(n.stake.0);
        match self.registry.entities.iter_mut().find(|e| e.id == n.entity) {
            Some(e) => e.nodes.push(n.node),
            None => self.registry.entities.push(registry::Entity {
                v: 1,
                id: n.entity,
                nodes: vec![n.node],
            }),
        }
        let key = |id| registry::KeyAddresses {
            id,
            addresses: vec![],
        };
        self.registry.nodes.push(registry::Node {
            v: 1,
            id: n.node,
            entity_id: n.entity,
            expiration: n.expiration,
            p2p: key(n.p2p),
            consensus: key(n.consensus),
            vrf: n.vrf,
            runtimes: n
                .runtimes
                .into_iter()
                .map(|id| registry::NodeRuntime {
                    id,
                    version: registry::Version::default(),
                    tee: None,
                })
                .collect(),
            roles: n.roles,
            software_version: String::new(),
        });
    }

    /// Every problem in the document; empty when it is valid.
    pub fn check(&self) -> Vec<GenesisProblem> {
        let mut out = Vec::new();
        if self.chain_id.trim().is_empty() {
            out.push(problem("chain_id", "must not be empty: name the network"));
        }
        if self.initial_height == 0 {
            out.push(problem("initial_height", "must be at least 1"));
        }
        if self.beacon.interval == 0 {
            out.push(problem(
                "beacon.interval",
                "must be at least 1 block per epoch",
            ));
        }
        if self.beacon.backend == beacon::Backend::Insecure && !self.debug {
            out.push(problem(
                "beacon.backend",
                "the insecure beacon lets proposers bias elections: it is allowed only with \"debug\": true",
            ));
        }
        if self.beacon.backend == beacon::Backend::Vrf {
            let v = &self.beacon.vrf;
            if v.alpha_hq_threshold == 0 {
                out.push(problem(
                    "beacon.vrf.alpha_hq_threshold",
                    "must be at least 1 proof",
                ));
            }
            if v.proof_delay >= self.beacon.interval {
                out.push(problem(
                    "beacon.vrf.proof_delay",
                    format!("must be shorter than the epoch ({} blocks), or no proof could be submitted", self.beacon.interval),
                ));
            }
        }
        if self.scheduler.max_validators == 0 {
            out.push(problem("scheduler.max_validators", "must be at least 1"));
        }
        let c = &self.consensus;
        if c.max_tx_size == 0 || c.max_tx_size > c.max_block_size {
            out.push(problem(
                "consensus.max_tx_size",
                format!(
                    "must be positive and at most consensus.max_block_size ({})",
                    c.max_block_size
                ),
            ));
        }
        let s = &self.staking;
        if s.parameters.debonding_interval == 0 {
            out.push(problem(
                "staking.parameters.debonding_interval",
                "must be at least 1 epoch, or stake could leave before misbehaviour is punished",
            ));
        }
        if s.parameters.fee_split_weight_propose == 0 && s.parameters.fee_split_weight_vote == 0 {
            out.push(problem(
                "staking.parameters.fee_split_weight_*",
                "at least one fee split weight must be positive, or fees would all go to the common pool",
            ));
        }
        self.check_supply(&mut out);
        self.check_delegations(&mut out);
        self.check_registry(&mut out);
        out
    }

    fn check_registry(&self, out: &mut Vec<GenesisProblem>) {
        let r = &self.registry;
        for rt in &r.runtimes {
            if let Err(e) = validate_runtime(rt, self.debug) {
                out.push(problem(
                    format!("registry.runtimes.{}", rt.id),
                    e.to_string(),
                ));
            }
            if !r.entities.iter().any(|e| e.id == rt.entity_id) {
                out.push(problem(
                    format!("registry.runtimes.{}.entity_id", rt.id),
                    "names an entity that is not in registry.entities",
                ));
            }
        }
        for n in &r.nodes {
            let listed = r
                .entities
                .iter()
                .any(|e| e.id == n.entity_id && e.nodes.contains(&n.id));
            if !listed {
                out.push(problem(
                    format!("registry.nodes.{}", n.id),
                    "its entity is not in registry.entities or does not list the node",
                ));
            }
            if !n.roles.is_valid() {
                out.push(problem(
                    format!("registry.nodes.{}.roles", n.id),
                    "no valid role set",
                ));
            }
            for rt in &n.runtimes {
                if !r.runtimes.iter().any(|x| x.id == rt.id) {
                    out.push(problem(
                        format!("registry.nodes.{}.runtimes", n.id),
                        format!("serves runtime {} which is not in registry.runtimes", rt.id),
                    ));
                }
            }
        }
    }

    fn check_supply(&self, out: &mut Vec<GenesisProblem>) {
        let s = &self.staking;
        let mut sum: Option<u128> = Some(s.common_pool.0);
        for acct in s.ledger.values() {
            for part in [
                acct.general.balance,
                acct.escrow.active.balance,
                acct.escrow.debonding.balance,
            ] {
                sum = sum.and_then(|x| x.checked_add(part.0));
            }
        }
        match sum {
            None => out.push(problem(
                "staking.ledger",
                "balances overflow a 128-bit amount",
            )),
            Some(total) if total != s.total_supply.0 => out.push(problem(
                "staking.total_supply",
                format!(
                    "is {} but the ledger and the common pool hold {total}: set total_supply to {total}",
                    s.total_supply
                ),
            )),
            Some(_) => {}
        }
    }

    fn check_delegations(&self, out: &mut Vec<GenesisProblem>) {
        let s = &self.staking;
        for (escrow, acct) in &s.ledger {
            let issued: Option<u128> = s
                .delegations
                .get(escrow)
                .map(|ds| {
                    ds.values()
                        .try_fold(0u128, |a, d| a.checked_add(d.shares.0))
                })
                .unwrap_or(Some(0));
            if issued != Some(acct.escrow.active.total_shares.0) {
                out.push(problem(
                    format!("staking.ledger.{escrow}.escrow.active.total_shares"),
                    format!(
                        "is {} but the delegations to this escrow hold {} shares",
                        acct.escrow.active.total_shares,
                        issued.map_or_else(|| "overflowing".to_owned(), |v| v.to_string())
                    ),
                ));
            }
            if acct.escrow.debonding.total_shares.0 != 0 {
                out.push(problem(
                    format!("staking.ledger.{escrow}.escrow.debonding"),
                    "genesis cannot start with debonding stake: move it to the general balance",
                ));
            }
        }
        for escrow in s.delegations.keys() {
            if !s.ledger.contains_key(escrow) {
                out.push(problem(
                    format!("staking.delegations.{escrow}"),
                    "delegates to an escrow account that is not in staking.ledger",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_an_empty_json_document() {
        let from_json: Genesis = serde_json::from_str(r#"{"chain_id": ""}"#).unwrap();
        assert_eq!(from_json, Genesis::default());
    }

    #[test]
    fn a_real_network_that_omits_fees_gets_them_and_a_debug_one_does_not() {
        let real = Genesis::from_json(r#"{"chain_id": "main"}"#).unwrap();
        assert_eq!(
            real.consensus.min_gas_price,
            Quantity(DEFAULT_MIN_GAS_PRICE)
        );
        assert_eq!(real.consensus.max_block_gas, DEFAULT_MAX_BLOCK_GAS);
        assert!(real.warnings().is_empty());
        // Other consensus parameters keep their defaults.
        assert_eq!(
            real.consensus.max_tx_size,
            ConsensusParameters::default().max_tx_size
        );

        let partial = Genesis::from_json(
            r#"{"chain_id": "main", "consensus": {"max_tx_size": 1000, "max_block_size": 5000}}"#,
        )
        .unwrap();
        assert_eq!(partial.consensus.max_tx_size, 1000);
        assert_eq!(partial.consensus.max_block_gas, DEFAULT_MAX_BLOCK_GAS);

        let explicit = Genesis::from_json(
            r#"{"chain_id": "main", "consensus": {"max_tx_size": 1000, "max_block_size": 5000, "min_gas_price": "0", "max_block_gas": 0}}"#,
        )
        .unwrap();
        let fields: Vec<String> = explicit.warnings().into_iter().map(|w| w.field).collect();
        assert_eq!(
            fields,
            ["consensus.min_gas_price", "consensus.max_block_gas"]
        );

        let debug = Genesis::from_json(r#"{"chain_id": "dev", "debug": true}"#).unwrap();
        assert_eq!(debug.consensus, ConsensusParameters::default());
        let mut free = debug.clone();
        free.consensus.min_gas_price = Quantity(0);
        assert!(free.warnings().is_empty());

        // What a document says survives printing and parsing again.
        let again = Genesis::from_json(&explicit.to_json().unwrap()).unwrap();
        assert_eq!(again, explicit);
    }

    #[test]
    fn check_explains_problems() {
        let mut g = Genesis {
            chain_id: "x".into(),
            ..Genesis::default()
        };
        g.staking.total_supply = Quantity(5);
        let problems = g.check();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(
            fields.contains(&"beacon.backend"),
            "insecure beacon on a non-debug network"
        );
        assert!(fields.contains(&"staking.total_supply"));
        let supply = problems
            .iter()
            .find(|p| p.field == "staking.total_supply")
            .unwrap();
        assert!(
            supply.problem.contains("set total_supply to 0"),
            "{}",
            supply.problem
        );
        g.debug = true;
        g.staking.total_supply = Quantity(0);
        assert_eq!(g.check(), vec![]);
    }

    #[test]
    fn staked_nodes_and_funds_keep_the_document_consistent() {
        use atoll_crypto::ed25519::SigningKey;
        let k = |i: u8| SigningKey::from_seed(&[i; 32]).public_key();
        let mut g = Genesis {
            chain_id: "x".into(),
            debug: true,
            ..Genesis::default()
        };
        for (node, stake) in [(10u8, 500u128), (11, 250)] {
            // Two nodes of one entity: one entity, summed self-delegation.
            g.add_staked_node(StakedNode {
                entity: k(1),
                stake: Quantity(stake),
                node: k(node),
                consensus: k(node + 20),
                p2p: k(node + 40),
                vrf: None,
                roles: registry::Roles::VALIDATOR,
                runtimes: vec![],
                expiration: 10,
            });
        }
        g.fund(Address::from_ed25519(&k(2)), Quantity(1_000));
        assert_eq!(g.check(), vec![]);
        assert_eq!(g.staking.total_supply, Quantity(1_750));
        assert_eq!(g.registry.entities.len(), 1);
        assert_eq!(g.registry.entities[0].nodes.len(), 2);
        assert_eq!(g.registry.nodes.len(), 2);
    }

    #[test]
    fn hash_changes_with_any_field() {
        let a = Genesis {
            chain_id: "a".into(),
            ..Genesis::default()
        };
        let b = Genesis {
            chain_id: "b".into(),
            ..Genesis::default()
        };
        assert_ne!(a.hash().unwrap(), b.hash().unwrap());
        assert_eq!(a.hash().unwrap(), a.clone().hash().unwrap());
        assert_eq!(a.chain_context().unwrap().as_str().len(), 64);
    }
}

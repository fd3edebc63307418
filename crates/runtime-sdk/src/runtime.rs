//! A runtime: an ordered set of modules, its method routes, and genesis.

use std::collections::BTreeMap;

use atoll_types::cbor::{EncodeError, Value};
use serde::{Deserialize, Serialize};

use crate::error::{Error, FatalError};
use crate::module::{MethodKind, Module};
use crate::modules::{accounts::Accounts, consensus_accounts::ConsensusAccounts, core::Core};
use crate::state::Store;

/// Settings of a runtime that are not state (they are the same on every
/// node because they are compiled in, like the SDK's `Runtime` constants).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// How far ahead of an account's nonce `check_tx` accepts a
    /// transaction (the SDK's `MAX_CHECK_NONCE_FUTURE_DELTA`; 0 by default).
    /// Execution always requires the exact nonce.
    pub max_check_nonce_future_delta: u64,
}

/// Why a set of modules does not make a runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Two modules have the same name.
    #[error("duplicate module `{0}`")]
    DuplicateModule(String),
    /// Two modules declare the same method.
    #[error("method `{0}` is declared twice")]
    DuplicateMethod(String),
}

/// Builds a [`Runtime`]. `core` and `accounts` are always its first two
/// modules: the dispatcher needs their parameters and balances.
pub struct RuntimeBuilder {
    modules: Vec<Box<dyn Module>>,
    config: RuntimeConfig,
}

impl RuntimeBuilder {
    /// Adds a module (after those already added).
    pub fn module(mut self, module: impl Module + 'static) -> Self {
        self.modules.push(Box::new(module));
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// The runtime, or why the modules clash.
    pub fn build(self) -> Result<Runtime, BuildError> {
        let mut names = BTreeMap::new();
        let mut routes = BTreeMap::new();
        for (i, m) in self.modules.iter().enumerate() {
            if names.insert(m.name(), i).is_some() {
                return Err(BuildError::DuplicateModule(m.name().to_owned()));
            }
            for info in m.methods() {
                if routes
                    .insert((info.kind, info.name.to_owned()), i)
                    .is_some()
                {
                    return Err(BuildError::DuplicateMethod(info.name.to_owned()));
                }
            }
        }
        Ok(Runtime {
            modules: self.modules,
            routes,
            config: self.config,
            verified: std::sync::Mutex::new(atoll_state::RecentHashes::new(VERIFIED_CACHE)),
            signers: crate::signers::SignerCache::new(VERIFIED_CACHE),
        })
    }
}

/// The genesis of a runtime: each module's genesis value by module name. A
/// module without an entry starts from its defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimeGenesis {
    /// Genesis values by module name.
    pub modules: BTreeMap<String, Value>,
}

impl RuntimeGenesis {
    /// Sets `module`'s genesis.
    pub fn with<T: Serialize>(mut self, module: &str, genesis: &T) -> Result<Self, EncodeError> {
        self.modules
            .insert(module.to_owned(), atoll_types::cbor::to_value(genesis)?);
        Ok(self)
    }
}

/// A runtime: modules and the dispatcher that drives them (see the crate
/// documentation for the entry points).
pub struct Runtime {
    pub(crate) modules: Vec<Box<dyn Module>>,
    routes: BTreeMap<(MethodKind, String), usize>,
    pub(crate) config: RuntimeConfig,
    /// Digests of (signature context, transaction bytes) whose signatures
    /// verified: a transaction checked on submission is not verified again
    /// when its batch runs. Only successes are remembered, so no outcome
    /// depends on what it holds.
    pub(crate) verified: std::sync::Mutex<atoll_state::RecentHashes>,
    /// Signers that modules recovered from transactions of their own
    /// schemes (Ethereum transactions), by digest of the recovered bytes.
    pub(crate) signers: crate::signers::SignerCache,
}

/// Most transactions a runtime remembers as verified.
const VERIFIED_CACHE: usize = 262_144;

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field(
                "modules",
                &self.modules.iter().map(|m| m.name()).collect::<Vec<_>>(),
            )
            .field("config", &self.config)
            .finish()
    }
}

impl Runtime {
    /// A builder holding `core` and `accounts`.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            modules: vec![Box::new(Core), Box::new(Accounts)],
            config: RuntimeConfig::default(),
        }
    }

    /// The standard runtime: `core`, `accounts` and `consensus_accounts`.
    pub fn standard() -> Result<Self, BuildError> {
        Self::builder().module(ConsensusAccounts).build()
    }

    /// The modules' names, in order.
    pub fn module_names(&self) -> Vec<&'static str> {
        self.modules.iter().map(|m| m.name()).collect()
    }

    /// The configuration.
    pub fn config(&self) -> RuntimeConfig {
        self.config
    }

    /// The module serving `name` as a `kind`.
    pub(crate) fn route(&self, kind: MethodKind, name: &str) -> Option<&dyn Module> {
        self.routes
            .get(&(kind, name.to_owned()))
            .and_then(|&i| self.modules.get(i))
            .map(|m| m.as_ref())
    }

    /// Writes every module's genesis state, in module order. Refused when
    /// the store already holds a genesis, or when `genesis` names a module
    /// this runtime does not have.
    pub fn init_genesis(
        &self,
        store: &mut dyn Store,
        genesis: &RuntimeGenesis,
    ) -> Result<(), Error> {
        if crate::modules::core::genesis_done(store)? {
            return Err(crate::error::invalid_argument(
                "genesis already initialised",
            ));
        }
        for name in genesis.modules.keys() {
            if !self.modules.iter().any(|m| m.name() == name) {
                return Err(crate::error::invalid_argument(format!(
                    "genesis for unknown module `{name}`"
                )));
            }
        }
        for m in &self.modules {
            m.init_genesis(store, genesis.modules.get(m.name()))?;
        }
        crate::modules::core::mark_genesis_done(store)?;
        Ok(())
    }

    pub(crate) fn ensure_genesis(&self, store: &dyn Store) -> Result<(), FatalError> {
        if crate::modules::core::genesis_done(store)? {
            Ok(())
        } else {
            Err(FatalError::Invariant(
                "runtime state has no genesis".to_owned(),
            ))
        }
    }
}

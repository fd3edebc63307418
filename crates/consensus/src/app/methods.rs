//! Every service's methods, each declared once: its name, the gas it costs
//! (read from its service's parameters) and its handler. Pricing
//! ([`GasTable::method_gas`]) and dispatch ([`dispatch`]) both read these
//! tables, so a method cannot be priced and not run, or run and not priced.

use atoll_crypto::Address;
use atoll_crypto::context::Context;
use atoll_crypto::ed25519::PublicKey;
use atoll_types::cbor::{self, Value};
use atoll_types::transaction::Transaction;

use super::{BEACON_PARAMETERS, ConsensusError};
use crate::event::Event;
use crate::genesis::BeaconParameters;
use crate::services::beacon;
use crate::services::registry::Registry;
use crate::services::roothash::state::RoothashState;
use crate::services::roothash::{BlockInfo, Roothash};
use crate::services::staking::Staking;
use atoll_consensus_types::{registry, roothash, staking};
use atoll_state::{Failure, FatalError, Store, StoreExt};

/// What a method's handler gets besides the store it writes to.
pub(crate) struct Call<'a> {
    /// The transaction.
    pub(crate) tx: &'a Transaction,
    /// Its signer's key.
    pub(crate) signer_key: &'a PublicKey,
    /// Its signer's account.
    pub(crate) signer: Address,
    /// The block it runs in.
    pub(crate) info: BlockInfo,
    /// Whether the network is a debug network.
    pub(crate) debug: bool,
    /// The context executor commitments are signed in.
    pub(crate) commit_ctx: &'a Context,
}

impl Call<'_> {
    /// The transaction's body, decoded as the method's argument.
    fn body<T: serde::de::DeserializeOwned>(&self) -> Result<T, Failure> {
        let value = self.tx.body.clone().unwrap_or(Value::Null);
        cbor::from_value(value).map_err(|e| {
            ConsensusError::MalformedBody {
                method: self.tx.method.clone(),
                reason: e.to_string(),
            }
            .into()
        })
    }
}

/// Runs a method on a store: its events, or why it failed.
pub(crate) type Handler = fn(&mut dyn Store, &Call<'_>) -> Result<Vec<Event>, Failure>;

/// One method of a service whose gas costs are a `P`.
pub(crate) struct Method<P> {
    /// The method name (`service.Method`).
    pub(crate) name: &'static str,
    /// The gas it costs.
    pub(crate) gas: fn(&P) -> u64,
    /// What it does.
    pub(crate) handler: Handler,
}

/// One event.
fn one(e: impl Into<Event>) -> Vec<Event> {
    vec![e.into()]
}

/// Staking's methods.
pub(crate) const STAKING: &[Method<staking::GasCosts>] = {
    use staking::methods as m;
    &[
        Method {
            name: m::TRANSFER,
            gas: |g| g.transfer,
            handler: |s, c| Ok(one(Staking::new(s).transfer(&c.signer, &c.body()?)?)),
        },
        Method {
            name: m::BURN,
            gas: |g| g.burn,
            handler: |s, c| Ok(one(Staking::new(s).burn(&c.signer, &c.body()?)?)),
        },
        Method {
            name: m::ADD_ESCROW,
            gas: |g| g.add_escrow,
            handler: |s, c| Ok(one(Staking::new(s).add_escrow(&c.signer, &c.body()?)?)),
        },
        Method {
            name: m::RECLAIM_ESCROW,
            gas: |g| g.reclaim_escrow,
            handler: |s, c| {
                Ok(one(Staking::new(s).reclaim_escrow(
                    &c.signer,
                    &c.body()?,
                    c.info.epoch,
                )?))
            },
        },
        Method {
            name: m::ALLOW,
            gas: |g| g.allow,
            handler: |s, c| Ok(one(Staking::new(s).allow(&c.signer, &c.body()?)?)),
        },
        Method {
            name: m::WITHDRAW,
            gas: |g| g.withdraw,
            handler: |s, c| {
                Ok(Staking::new(s)
                    .withdraw(&c.signer, &c.body()?)?
                    .into_iter()
                    .map(Event::from)
                    .collect())
            },
        },
        Method {
            name: m::AMEND_COMMISSION_SCHEDULE,
            gas: |g| g.amend_commission_schedule,
            handler: |s, c| {
                Ok(one(Staking::new(s).amend_commission_schedule(
                    &c.signer,
                    &c.body()?,
                    c.info.epoch,
                )?))
            },
        },
    ]
};

/// The registry's methods.
pub(crate) const REGISTRY: &[Method<registry::GasCosts>] = {
    use registry::methods as m;
    &[
        Method {
            name: m::REGISTER_ENTITY,
            gas: |g| g.register_entity,
            handler: |s, c| {
                Ok(one(
                    Registry::new(s).register_entity(c.signer_key, &c.body()?)?
                ))
            },
        },
        Method {
            name: m::DEREGISTER_ENTITY,
            gas: |g| g.deregister_entity,
            handler: |s, c| Ok(one(Registry::new(s).deregister_entity(c.signer_key)?)),
        },
        Method {
            name: m::REGISTER_NODE,
            gas: |g| g.register_node,
            handler: |s, c| {
                Ok(one(Registry::new(s).register_node(
                    c.signer_key,
                    &c.body()?,
                    c.info.epoch,
                    c.debug,
                )?))
            },
        },
        Method {
            name: m::UNFREEZE_NODE,
            gas: |g| g.unfreeze_node,
            handler: |s, c| {
                Ok(one(Registry::new(s).unfreeze_node(
                    c.signer_key,
                    &c.body()?,
                    c.info.epoch,
                )?))
            },
        },
        Method {
            name: m::REGISTER_RUNTIME,
            gas: |g| g.register_runtime,
            handler: register_runtime,
        },
    ]
};

/// `registry.RegisterRuntime`: registers the runtime, then starts its chain
/// in the roothash.
fn register_runtime(store: &mut dyn Store, c: &Call<'_>) -> Result<Vec<Event>, Failure> {
    let event = Registry::new(&mut *store).register_runtime(c.signer_key, &c.body()?, c.debug)?;
    if let registry::Event::Runtime { id } = &event {
        let runtime = Registry::new(&mut *store)
            .state()
            .runtime(id)?
            .ok_or_else(|| FatalError::Invariant("registered runtime missing".into()))?;
        Roothash::new(store, c.commit_ctx).init_runtime(&runtime, c.info)?;
    }
    Ok(one(event))
}

/// The roothash's methods.
pub(crate) const ROOTHASH: &[Method<roothash::Parameters>] = {
    use roothash::methods as m;
    &[
        Method {
            name: m::EXECUTOR_COMMIT,
            gas: |p| p.gas_per_commitment,
            handler: |s, c| {
                Ok(Roothash::new(s, c.commit_ctx)
                    .executor_commit(&c.body()?, c.info)?
                    .into_iter()
                    .map(Event::from)
                    .collect())
            },
        },
        Method {
            name: m::EVIDENCE,
            gas: |p| p.gas_evidence,
            handler: |s, c| {
                Roothash::new(s, c.commit_ctx).evidence(&c.body()?, c.info)?;
                Ok(Vec::new())
            },
        },
    ]
};

/// The beacon's methods.
pub(crate) const BEACON: &[Method<beacon::VrfParameters>] = &[Method {
    name: beacon::methods::VRF_PROVE,
    gas: |p| p.gas_vrf_prove,
    handler: |s, c| {
        beacon::vrf_prove(s, c.signer_key, &c.body()?, c.info.height)?;
        Ok(Vec::new())
    },
}];

/// The method `name` of `table`, if it declares one.
fn find<'t, P>(table: &'t [Method<P>], name: &str) -> Option<&'t Method<P>> {
    table.iter().find(|m| m.name == name)
}

/// Every service's gas parameters, to price any method.
pub struct GasTable {
    beacon: BeaconParameters,
    staking: staking::Parameters,
    registry: registry::Parameters,
    roothash: roothash::Parameters,
}

impl GasTable {
    /// Loads the current gas parameters.
    pub fn load(store: &mut dyn Store) -> Result<Self, FatalError> {
        Ok(Self {
            beacon: store
                .get_typed(&[BEACON_PARAMETERS])?
                .ok_or_else(|| FatalError::Invariant("beacon parameters missing".into()))?,
            staking: Staking::new(&mut *store).state().parameters()?,
            registry: Registry::new(&mut *store).state().parameters()?,
            roothash: RoothashState::new(store).parameters()?,
        })
    }

    /// Gas a method needs, or `None` for an unknown method.
    pub fn method_gas(&self, method: &str) -> Option<u64> {
        find(STAKING, method)
            .map(|m| (m.gas)(&self.staking.gas_costs))
            .or_else(|| find(REGISTRY, method).map(|m| (m.gas)(&self.registry.gas_costs)))
            .or_else(|| find(ROOTHASH, method).map(|m| (m.gas)(&self.roothash)))
            .or_else(|| find(BEACON, method).map(|m| (m.gas)(&self.beacon.vrf)))
    }
}

/// The handler of method `name`, whichever service declares it.
fn handler(name: &str) -> Option<Handler> {
    find(STAKING, name)
        .map(|m| m.handler)
        .or_else(|| find(REGISTRY, name).map(|m| m.handler))
        .or_else(|| find(ROOTHASH, name).map(|m| m.handler))
        .or_else(|| find(BEACON, name).map(|m| m.handler))
}

/// Runs the transaction's method on `store`; an undeclared method is
/// [`ConsensusError::UnknownMethod`].
pub(crate) fn dispatch(store: &mut dyn Store, call: &Call<'_>) -> Result<Vec<Event>, Failure> {
    let run = handler(&call.tx.method)
        .ok_or_else(|| ConsensusError::UnknownMethod(call.tx.method.clone()))?;
    run(store, call)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use atoll_types::Epoch;

    use super::*;
    use atoll_state::{MemStore, ModuleError};

    /// Every declared name, service by service.
    fn names() -> Vec<&'static str> {
        let mut n: Vec<&str> = STAKING.iter().map(|m| m.name).collect();
        n.extend(REGISTRY.iter().map(|m| m.name));
        n.extend(ROOTHASH.iter().map(|m| m.name));
        n.extend(BEACON.iter().map(|m| m.name));
        n
    }

    fn gas_table() -> GasTable {
        GasTable {
            beacon: BeaconParameters {
                interval: 10,
                backend: Default::default(),
                vrf: Default::default(),
            },
            staking: Default::default(),
            registry: Default::default(),
            roothash: Default::default(),
        }
    }

    fn run(method: &str) -> Result<Vec<Event>, Failure> {
        let tx = Transaction {
            nonce: 0,
            fee: None,
            method: method.to_owned(),
            body: None,
        };
        let key = atoll_crypto::ed25519::SigningKey::from_seed(&[7; 32]).public_key();
        let ctx = Context::new("atoll/test: methods").unwrap();
        let call = Call {
            tx: &tx,
            signer_key: &key,
            signer: Address::from_ed25519(&key),
            info: BlockInfo {
                height: 1,
                epoch: Epoch(0),
                time: 0,
            },
            debug: true,
            commit_ctx: &ctx,
        };
        dispatch(&mut MemStore::new(), &call)
    }

    fn unknown(r: &Result<Vec<Event>, Failure>) -> bool {
        matches!(r, Err(Failure::Tx(e))
            if e.module == super::super::MODULE && e.code == ConsensusError::UnknownMethod(String::new()).code())
    }

    #[test]
    fn every_method_name_is_declared_once() {
        let n = names();
        let unique: BTreeSet<_> = n.iter().collect();
        assert_eq!(unique.len(), n.len(), "a method is declared twice: {n:?}");
        assert_eq!(n.len(), 15);
    }

    #[test]
    fn every_declared_method_is_priced_and_dispatches() {
        let gas = gas_table();
        for name in names() {
            assert!(gas.method_gas(name).is_some(), "{name} has no price");
            assert!(!unknown(&run(name)), "{name} does not dispatch");
        }
    }

    #[test]
    fn an_unknown_method_is_refused_as_before() {
        assert_eq!(gas_table().method_gas("staking.Mint"), None);
        let r = run("staking.Mint");
        assert!(unknown(&r));
        let Err(Failure::Tx(e)) = r else {
            unreachable!("checked above")
        };
        assert_eq!(
            e,
            ConsensusError::UnknownMethod("staking.Mint".into()).to_tx_error()
        );
    }
}

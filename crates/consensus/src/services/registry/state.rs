//! Where the registry keeps its state.
//!
//! | key | value |
//! |---|---|
//! | `0x10 ‖ entity id` | [`Entity`] |
//! | `0x11 ‖ node id` | [`Node`] |
//! | `0x12 ‖ node id` | [`NodeStatus`] |
//! | `0x13 ‖ runtime id` | [`Runtime`] |
//! | `0x14` | [`Parameters`] |

use atoll_crypto::ed25519::PublicKey;
use atoll_types::Namespace;

use atoll_consensus_types::registry::{Entity, Node, NodeStatus, Parameters, Runtime};
use atoll_state::{Failure, FatalError, StoreExt, key};

const ENTITIES: u8 = 0x10;
const NODES: u8 = 0x11;
const NODE_STATUS: u8 = 0x12;
const RUNTIMES: u8 = 0x13;
const PARAMETERS: u8 = 0x14;

crate::services::service_state!(
    /// Typed access to the registry's state.
    RegistryState,
    PARAMETERS,
    Parameters,
    "registry"
);

impl RegistryState<'_> {
    /// An entity.
    pub fn entity(&self, id: &PublicKey) -> Result<Option<Entity>, FatalError> {
        self.store.get_typed(&key(ENTITIES, &[id.as_bytes()]))
    }

    /// Every entity, by id.
    pub fn entities(&self) -> Result<Vec<Entity>, FatalError> {
        self.store.scan_values(&[ENTITIES])
    }

    /// Stores an entity.
    pub fn set_entity(&mut self, e: &Entity) -> Result<(), Failure> {
        Ok(self
            .store
            .put_typed(&key(ENTITIES, &[e.id.as_bytes()]), e)?)
    }

    /// Removes an entity.
    pub fn remove_entity(&mut self, id: &PublicKey) -> Result<(), Failure> {
        Ok(self.store.remove(&key(ENTITIES, &[id.as_bytes()]))?)
    }

    /// A node.
    pub fn node(&self, id: &PublicKey) -> Result<Option<Node>, FatalError> {
        self.store.get_typed(&key(NODES, &[id.as_bytes()]))
    }

    /// Every registered node, by id.
    pub fn nodes(&self) -> Result<Vec<Node>, FatalError> {
        self.store.scan_values(&[NODES])
    }

    /// Stores a node.
    pub fn set_node(&mut self, n: &Node) -> Result<(), Failure> {
        Ok(self.store.put_typed(&key(NODES, &[n.id.as_bytes()]), n)?)
    }

    /// Removes a node (its status, such as a freeze, is kept).
    pub fn remove_node(&mut self, id: &PublicKey) -> Result<(), Failure> {
        Ok(self.store.remove(&key(NODES, &[id.as_bytes()]))?)
    }

    /// A node's status.
    pub fn node_status(&self, id: &PublicKey) -> Result<Option<NodeStatus>, FatalError> {
        self.store.get_typed(&key(NODE_STATUS, &[id.as_bytes()]))
    }

    /// Stores a node's status; the default status deletes the entry.
    pub fn set_node_status(&mut self, id: &PublicKey, s: &NodeStatus) -> Result<(), Failure> {
        let k = key(NODE_STATUS, &[id.as_bytes()]);
        if *s == NodeStatus::default() {
            self.store.remove(&k)?;
        } else {
            self.store.put_typed(&k, s)?;
        }
        Ok(())
    }

    /// A runtime.
    pub fn runtime(&self, id: &Namespace) -> Result<Option<Runtime>, FatalError> {
        self.store.get_typed(&key(RUNTIMES, &[id.as_bytes()]))
    }

    /// Every runtime, by id.
    pub fn runtimes(&self) -> Result<Vec<Runtime>, FatalError> {
        self.store.scan_values(&[RUNTIMES])
    }

    /// Stores a runtime.
    pub fn set_runtime(&mut self, r: &Runtime) -> Result<(), Failure> {
        Ok(self
            .store
            .put_typed(&key(RUNTIMES, &[r.id.as_bytes()]), r)?)
    }
}

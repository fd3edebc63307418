//! The registry: entity, node and runtime descriptors, their signature
//! contexts, parameters, events and method names.

pub mod types;

pub use self::types::*;

/// The module name.
pub const MODULE: &str = "registry";

/// Signature context of entity descriptors.
pub const ENTITY_SIGNATURE_CONTEXT: &str = "oasis-core/registry: register entity";
/// Signature context of node descriptors.
pub const NODE_SIGNATURE_CONTEXT: &str = "oasis-core/registry: register node";
/// Signature context of runtime descriptors.
pub const RUNTIME_SIGNATURE_CONTEXT: &str = "oasis-core/registry: register runtime";

/// Method names.
pub mod methods {
    /// `registry.RegisterEntity`
    pub const REGISTER_ENTITY: &str = "registry.RegisterEntity";
    /// `registry.DeregisterEntity`
    pub const DEREGISTER_ENTITY: &str = "registry.DeregisterEntity";
    /// `registry.RegisterNode`
    pub const REGISTER_NODE: &str = "registry.RegisterNode";
    /// `registry.UnfreezeNode`
    pub const UNFREEZE_NODE: &str = "registry.UnfreezeNode";
    /// `registry.RegisterRuntime`
    pub const REGISTER_RUNTIME: &str = "registry.RegisterRuntime";
}

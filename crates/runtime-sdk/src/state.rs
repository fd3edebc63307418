//! Runtime state: the consensus crate's [`Store`] trait, nested overlays,
//! and the key layout of modules.
//!
//! A module's keys are its name followed by a one-byte sub-prefix (and then
//! fixed-width fields), as the SDK's `PrefixStore(NAME)` lays them out. Its
//! parameters live at `name || 0x00`. Sub-prefixes are below `0x20`, so a
//! module whose name extends another's (`consensus` and
//! `consensus_accounts`) never shares keys with it: the byte after the
//! shorter name is a sub-prefix in one and a letter or `_` in the other.

pub use atoll_state::store::{
    Entries, MAX_KEY_LEN, MAX_VALUE_LEN, MemStore, Overlay, Store, StoreExt, Unstorable,
    check_storable,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::FatalError;

/// The sub-prefix of a module's parameters.
pub const PARAMETERS: u8 = 0x00;

/// A module state key: `module || sub || parts...`.
pub fn module_key(module: &str, sub: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = module.len() + 1 + parts.iter().map(|p| p.len()).sum::<usize>();
    let mut k = Vec::with_capacity(len);
    k.extend_from_slice(module.as_bytes());
    k.push(sub);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// A module's parameters, or their default before genesis set them.
pub fn get_params<P: DeserializeOwned + Default>(
    store: &dyn Store,
    module: &str,
) -> Result<P, FatalError> {
    Ok(store
        .get_typed(&module_key(module, PARAMETERS, &[]))?
        .unwrap_or_default())
}

/// Stores a module's parameters.
pub fn set_params<P: Serialize>(
    store: &mut dyn Store,
    module: &str,
    params: &P,
) -> Result<(), FatalError> {
    store.put_typed(&module_key(module, PARAMETERS, &[]), params)
}

/// Pending writes over a store that is only read: what queries and gas
/// estimation run on (the consensus layer's type, shared).
pub use atoll_state::store::ReadOverlay;
